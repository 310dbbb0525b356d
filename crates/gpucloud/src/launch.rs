//! Launch with failover: try offers cheapest first until one comes up, with the reason for
//! every offer tried, and never two instances or a leaked one.
//!
//! - Availability is read fresh from the providers (never from the catalog cache), and so are
//!   quotas: an offer whose quota has no room for it is skipped without a create
//!   ([`LaunchEvent::SkippedOverQuota`]).
//! - On `InsufficientCapacity`, `QuotaExceeded`, throttling, a provider error or an instance
//!   that fails while booting (terminated at once), the next offer is tried (after a quota
//!   error, the next offer of another provider: a quota holds for the whole account); on bad input,
//!   authentication or permission errors the launch stops: another offer would fail the same way.
//! - One RefID serves the whole launch. A create that failed with its outcome unknown (its
//!   provider could not tell, within core's budget, whether it made the instance) is settled
//!   before the next offer is tried, with core's rule ([`resolve_unknown_create`]): an instance
//!   found by the RefID is terminated (its create reported failure, so what it made alongside
//!   the instance is not known to be whole), one proven absent needs nothing; then the next offer
//!   is tried. When it still cannot tell, or the terminate fails, the launch stops with
//!   [`LaunchError::OutcomeUnknown`] naming the RefID and the command that finds the instance.
//! - Cancelling (the token) stops after the current attempt has been cleaned up: an instance it
//!   made is terminated.
//!
//! A control plane that wants eight H100s wherever they are cheapest:
//!
//! ```no_run
//! # async fn example(sources: Vec<gpucloud::offers::OfferSource>, public_key: String) -> Result<(), Box<dyn std::error::Error>> {
//! use gpucloud::CreateInstanceAttrs;
//! use gpucloud::launch::{launch, LaunchEvent, LaunchRequest};
//! use gpucloud::offers::OfferOptions;
//! use tokio_util::sync::CancellationToken;
//!
//! let mut request = LaunchRequest::new(CreateInstanceAttrs {
//!     ref_id: "env-42".into(),
//!     name: "train-42".into(),
//!     public_key,
//!     ..CreateInstanceAttrs::default()
//! });
//! request.query.filter.gpu = Some("H100:8".parse()?);
//! request.query.filter.max_price_per_gpu_hour = Some("3.50".parse()?);
//! let launched = launch(&sources, &request, &OfferOptions::default(), CancellationToken::new(), |event| {
//!     if let LaunchEvent::Trying { offer, .. } = event {
//!         tracing::info!(provider = %offer.provider, location = %offer.location, "trying");
//!     }
//! })
//! .await?;
//! println!("{} on {}: {}", launched.instance.cloud_id, launched.offer.provider, launched.instance.public_ip);
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use gpucloud_core::outcome::{
    ResolveBudget, Resolved, UnknownCreate, find_command, resolve_unknown_create,
};
use gpucloud_core::wait::WaitOptions;
use gpucloud_core::{
    CloudClient, CloudError, CreateFeatures, CreateInstanceAttrs, Delivery, ErrorKind, Instance,
    LifecycleStatus, ListInstancesArgs, validate_create, wait_for_status,
};
use tokio_util::sync::CancellationToken;

use crate::offers::{
    Offer, OfferOptions, OfferQuery, OfferReport, OfferSource, ProviderFailure, find_offers,
};

/// Offers tried per round when the request does not say.
pub const DEFAULT_MAX_OFFERS: usize = 5;

/// What to launch and how hard to try.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    /// Which offers qualify and in which order they are tried (`available_only` is implied).
    pub query: OfferQuery,
    /// The create: name, RefID, key, firewall rules, user data, tags. `location`,
    /// `sub_location`, `instance_type` and `use_spot` are set from each offer. An empty `ref_id`
    /// gets a generated one, the same for every attempt.
    pub template: CreateInstanceAttrs,
    /// Offers tried per round, cheapest first.
    pub max_offers: usize,
    /// Wait until the instance is running, at most this long; an instance that fails or does not
    /// come up in time is terminated and the next offer tried. `None` returns once created.
    pub wait_running: Option<Duration>,
    /// Poll interval while waiting; `None` uses the provider's.
    pub poll_interval: Option<Duration>,
    /// Run the offer list again when every offer failed, until this is exhausted.
    pub retry_until_up: Option<RetryUntilUp>,
}

impl LaunchRequest {
    /// A launch of `template` on the cheapest available offer, trying at most
    /// [`DEFAULT_MAX_OFFERS`], waiting up to 20 minutes for it to run.
    pub fn new(template: CreateInstanceAttrs) -> Self {
        Self {
            query: OfferQuery::default(),
            template,
            max_offers: DEFAULT_MAX_OFFERS,
            wait_running: Some(gpucloud_core::wait::PENDING_TO_RUNNING_TIMEOUT),
            poll_interval: None,
            retry_until_up: None,
        }
    }
}

/// Re-run the offer list with backoff after a round in which every offer failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryUntilUp {
    /// The pause after the first failed round; it doubles each round up to 8× this.
    pub interval: Duration,
    /// Stop starting rounds after this long (measured from the start of the launch).
    pub deadline: Option<Duration>,
}

/// Progress, reported as it happens.
#[derive(Debug)]
#[non_exhaustive]
pub enum LaunchEvent<'a> {
    /// A round found these offers to try.
    Round {
        /// 1 for the first round.
        round: u32,
        /// How many offers will be tried.
        offers: usize,
    },
    /// Creating on an offer.
    Trying {
        /// The offer.
        offer: &'a Offer,
        /// 1-based position in this round.
        index: usize,
        /// Offers in this round.
        of: usize,
    },
    /// Created: from here until the launch returns it or reports it terminated, this instance
    /// is the launch's to clean up (a caller that is stopped hard can say what is left).
    Created {
        /// The offer.
        offer: &'a Offer,
        /// The instance.
        instance: &'a Instance,
    },
    /// Created; waiting for it to run.
    Waiting {
        /// The offer.
        offer: &'a Offer,
        /// The instance.
        instance: &'a Instance,
    },
    /// The offer is skipped without a create: its quota, read with the offers, has no room
    /// for it. It is recorded among the attempts with a `QuotaExceeded` error naming the quota.
    SkippedOverQuota {
        /// The offer.
        offer: &'a Offer,
    },
    /// The offer failed; the next one follows.
    Failed {
        /// The offer.
        offer: &'a Offer,
        /// Why.
        error: &'a CloudError,
    },
    /// Every offer of a round failed; the next round starts after this pause.
    Backoff {
        /// The pause.
        pause: Duration,
    },
}

/// One offer tried and why it did not work.
#[derive(Debug)]
pub struct Attempt {
    /// The offer.
    pub offer: Offer,
    /// Why it failed.
    pub error: CloudError,
}

/// A launch that came up.
#[derive(Debug)]
pub struct Launched {
    /// The offer it runs on (its `provider` names the provider).
    pub offer: Offer,
    /// The instance, running when the request waited.
    pub instance: Instance,
    /// The offers tried or skipped over quota before it, with their reasons.
    pub attempts: Vec<Attempt>,
    /// Providers that did not answer the offer query of the round that came up (a cheaper
    /// offer may have been there).
    pub failures: Vec<ProviderFailure>,
}

/// The offers a launch would try first, without creating anything: see [`plan`].
#[derive(Debug)]
pub struct Plan {
    /// The offers of the first round, in the order they would be tried, without those known to
    /// be over quota (an offer of a provider that answers `QuotaExceeded` is then skipped for
    /// the next offer of another provider).
    pub offers: Vec<Offer>,
    /// The offers a launch would skip because their quota, read with the offers, has no room
    /// for them (at most as many as the launch would try), in order.
    pub over_quota: Vec<Offer>,
    /// Providers that did not answer the offer query.
    pub failures: Vec<ProviderFailure>,
}

/// A launch that did not come up. Whatever the variant, no instance of this launch is left
/// running, except under [`LaunchError::OutcomeUnknown`], where one may exist with the RefID.
#[derive(Debug)]
#[non_exhaustive]
pub enum LaunchError {
    /// The launch request itself is wrong (nothing was created).
    Invalid(CloudError),
    /// No offer matched; the providers that failed to answer are listed.
    NoOffers {
        /// Providers that did not answer.
        failures: Vec<ProviderFailure>,
    },
    /// Every offer tried failed.
    AllFailed {
        /// Each offer tried or skipped over quota, with its reason, in order (the last
        /// round's).
        attempts: Vec<Attempt>,
        /// Providers that did not answer the offer query.
        failures: Vec<ProviderFailure>,
    },
    /// An error that another offer would meet too (bad input, authentication, permission).
    Stopped {
        /// The offer on which it happened.
        offer: Box<Offer>,
        /// The error.
        error: CloudError,
        /// The offers tried before it.
        attempts: Vec<Attempt>,
    },
    /// A create's outcome could not be resolved, or the instance it made could not be removed:
    /// an instance with `ref_id` may exist on this offer's provider ([`find_command`] finds it).
    /// Nothing else was tried after it.
    OutcomeUnknown {
        /// The offer.
        offer: Box<Offer>,
        /// The RefID to look the instance up by.
        ref_id: String,
        /// The create's error.
        error: CloudError,
        /// The offers tried before it.
        attempts: Vec<Attempt>,
    },
    /// Cancelled; what the current attempt made was terminated.
    Cancelled {
        /// The offers tried before.
        attempts: Vec<Attempt>,
    },
}

impl LaunchError {
    /// The offers tried, with their reasons.
    pub fn attempts(&self) -> &[Attempt] {
        match self {
            Self::AllFailed { attempts, .. }
            | Self::Stopped { attempts, .. }
            | Self::OutcomeUnknown { attempts, .. }
            | Self::Cancelled { attempts } => attempts,
            Self::Invalid(_) | Self::NoOffers { .. } => &[],
        }
    }
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(error) => write!(f, "{error}"),
            Self::NoOffers { failures } if failures.is_empty() => {
                f.write_str("no offer matches the request")
            }
            Self::NoOffers { failures } => write!(
                f,
                "no offer matches the request ({} provider(s) did not answer)",
                failures.len()
            ),
            Self::AllFailed { attempts, .. }
                if !attempts.is_empty() && attempts.iter().all(|a| a.offer.over_quota()) =>
            {
                write!(
                    f,
                    "all {} offer(s) are over the account's quota",
                    attempts.len()
                )
            }
            Self::AllFailed { attempts, .. } => {
                write!(f, "all {} offer(s) tried failed", attempts.len())
            }
            Self::Stopped { offer, error, .. } => {
                write!(
                    f,
                    "stopped at {} {}: {error}",
                    offer.provider, offer.instance_type
                )
            }
            Self::OutcomeUnknown {
                offer,
                ref_id,
                error,
                ..
            } => write!(
                f,
                "the create on {provider} may have made an instance with RefID {ref_id} that could \
                 not be found or removed (`{}` finds it): {error}",
                find_command(&offer.provider, ref_id),
                provider = offer.provider,
            ),
            Self::Cancelled { .. } => f.write_str("launch cancelled"),
        }
    }
}

impl std::error::Error for LaunchError {}

/// What one attempt came to.
enum AttemptResult {
    Up(Box<Instance>),
    /// Nothing of this attempt is left; try the next offer.
    Next(CloudError),
    Stop(LaunchError),
}

/// The request's template with its RefID (generated when empty), refused when no provider
/// could accept it.
fn checked_template(request: &LaunchRequest) -> Result<CreateInstanceAttrs, CloudError> {
    let mut template = request.template.clone();
    if template.ref_id.is_empty() {
        template.ref_id = format!("launch-{}", uuid::Uuid::new_v4().simple());
    }
    validate_create(
        &CreateInstanceAttrs {
            location: "any".into(),
            instance_type: "any".into(),
            ..template.clone()
        },
        &CreateFeatures::ALL,
    )?;
    Ok(template)
}

/// The offers a round of the launch tries, in order: available ones only, with availability
/// read fresh from the providers (never from the catalog cache).
async fn candidates(
    sources: &[OfferSource],
    request: &LaunchRequest,
    options: &OfferOptions,
) -> OfferReport {
    let mut query = request.query.clone();
    query.filter.available_only = true;
    let fresh = OfferOptions {
        refresh: true,
        ..options.clone()
    };
    find_offers(sources, &query, &fresh).await
}

/// What [`launch`] would try first, creating nothing: the request is checked as a launch checks
/// it, and the offers of its first round are listed in the order they would be tried.
pub async fn plan(
    sources: &[OfferSource],
    request: &LaunchRequest,
    options: &OfferOptions,
) -> Result<Plan, LaunchError> {
    checked_template(request).map_err(LaunchError::Invalid)?;
    let OfferReport { offers, failures } = candidates(sources, request, options).await;
    let limit = request.max_offers.max(1);
    let (mut over_quota, mut offers): (Vec<Offer>, Vec<Offer>) =
        offers.into_iter().partition(Offer::over_quota);
    over_quota.truncate(limit);
    offers.truncate(limit);
    Ok(Plan {
        offers,
        over_quota,
        failures,
    })
}

/// Launches on the cheapest offer that comes up; see the module docs.
pub async fn launch(
    sources: &[OfferSource],
    request: &LaunchRequest,
    options: &OfferOptions,
    cancel: CancellationToken,
    mut on_event: impl FnMut(&LaunchEvent<'_>),
) -> Result<Launched, LaunchError> {
    // Refuse what no provider could accept before anything is asked or created.
    let template = checked_template(request).map_err(LaunchError::Invalid)?;
    let started = tokio::time::Instant::now();
    let mut pause = request.retry_until_up.map(|r| r.interval);
    let mut round = 0;
    loop {
        round += 1;
        let report = candidates(sources, request, options).await;
        let offers = report.offers;
        // An offer whose quota has no room for it is skipped without a create; it is recorded
        // with the quota as its reason. When every offer is over quota, the first `limit` of
        // them are recorded, so that the failure says why.
        let limit = request.max_offers.max(1);
        let of = offers.iter().filter(|o| !o.over_quota()).count().min(limit);
        let mut attempts = Vec::new();
        let (mut tried, mut skipped) = (0, 0);
        // A quota is the account's (or a region's) and every offer of that provider would meet
        // it: the rest of the round goes to the other providers.
        let mut over_quota: Vec<&str> = Vec::new();
        if of > 0 {
            on_event(&LaunchEvent::Round { round, offers: of });
        }
        for offer in &offers {
            if tried == of && (of > 0 || skipped == limit) {
                break;
            }
            if over_quota.contains(&offer.provider.as_str()) {
                continue;
            }
            if let Some(error) = over_quota_error(offer) {
                on_event(&LaunchEvent::SkippedOverQuota { offer });
                attempts.push(Attempt {
                    offer: offer.clone(),
                    error,
                });
                skipped += 1;
                continue;
            }
            if cancel.is_cancelled() {
                return Err(LaunchError::Cancelled { attempts });
            }
            tried += 1;
            on_event(&LaunchEvent::Trying {
                offer,
                index: tried,
                of,
            });
            let Some(source) = sources.iter().find(|s| s.name == offer.provider) else {
                continue;
            };
            match attempt(source, offer, &template, request, &cancel, &mut on_event).await {
                AttemptResult::Up(instance) => {
                    return Ok(Launched {
                        offer: offer.clone(),
                        instance: *instance,
                        attempts,
                        failures: report.failures,
                    });
                }
                AttemptResult::Next(error) => {
                    on_event(&LaunchEvent::Failed {
                        offer,
                        error: &error,
                    });
                    if error.kind() == ErrorKind::QuotaExceeded {
                        over_quota.push(&offer.provider);
                    }
                    attempts.push(Attempt {
                        offer: offer.clone(),
                        error,
                    });
                }
                AttemptResult::Stop(LaunchError::Stopped { offer, error, .. }) => {
                    return Err(LaunchError::Stopped {
                        offer,
                        error,
                        attempts,
                    });
                }
                AttemptResult::Stop(LaunchError::OutcomeUnknown {
                    offer,
                    ref_id,
                    error,
                    ..
                }) => {
                    return Err(LaunchError::OutcomeUnknown {
                        offer,
                        ref_id,
                        error,
                        attempts,
                    });
                }
                AttemptResult::Stop(_) => return Err(LaunchError::Cancelled { attempts }),
            }
        }
        let failed = if offers.is_empty() {
            LaunchError::NoOffers {
                failures: report.failures,
            }
        } else {
            LaunchError::AllFailed {
                attempts,
                failures: report.failures,
            }
        };
        let (Some(retry), Some(wait)) = (request.retry_until_up, pause) else {
            return Err(failed);
        };
        if retry
            .deadline
            .is_some_and(|deadline| started.elapsed() + wait >= deadline)
        {
            return Err(failed);
        }
        on_event(&LaunchEvent::Backoff { pause: wait });
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = cancel.cancelled() => return Err(LaunchError::Cancelled { attempts: failed_attempts(failed) }),
        }
        pause = Some((wait * 2).min(retry.interval * 8));
    }
}

/// The reason an offer marked over quota is skipped: a `QuotaExceeded` that was never sent,
/// naming the quota and what is left of it; `None` for an offer not known to be over quota.
fn over_quota_error(offer: &Offer) -> Option<CloudError> {
    let quota = offer.quota.as_ref().filter(|q| !q.fits)?;
    Some(
        CloudError::provider(
            offer.provider.as_str(),
            "launch",
            ErrorKind::QuotaExceeded,
            format!("skipped without a create: over quota, {quota}"),
        )
        .with_delivery(Delivery::NotSent),
    )
}

fn failed_attempts(error: LaunchError) -> Vec<Attempt> {
    match error {
        LaunchError::AllFailed { attempts, .. } => attempts,
        _ => Vec::new(),
    }
}

/// Errors that another offer would meet the same way.
fn stops_the_launch(error: &CloudError) -> bool {
    matches!(
        error.kind(),
        ErrorKind::InvalidArgument
            | ErrorKind::Unauthenticated
            | ErrorKind::PermissionDenied
            | ErrorKind::Configuration
            | ErrorKind::Cancelled
    )
}

/// True when a failed create may nevertheless have made an instance.
fn may_have_created(error: &CloudError) -> bool {
    error.outcome_unknown()
}

/// Settles a create that failed with its outcome unknown before the launch moves on: the
/// instance with the launch's RefID is looked up with core's rule and, when found, terminated.
/// `Next` once nothing of the attempt is left, `Stop` with [`LaunchError::OutcomeUnknown`] when
/// that cannot be made sure of.
async fn remove_unknown(
    client: &dyn CloudClient,
    offer: &Offer,
    ref_id: &str,
    error: CloudError,
) -> AttemptResult {
    let provider = offer.provider.as_str();
    let (kind, reason) = (error.kind(), error.to_string());
    let unknown = UnknownCreate {
        provider,
        operation: "launch",
        ref_id,
        error,
    };
    let outcome = |error: CloudError| {
        AttemptResult::Stop(LaunchError::OutcomeUnknown {
            offer: Box::new(offer.clone()),
            ref_id: ref_id.to_owned(),
            error,
            attempts: Vec::new(),
        })
    };
    let resolved = resolve_unknown_create(&ResolveBudget::default(), unknown, || {
        find_by_ref_id(client, ref_id)
    })
    .await;
    match resolved {
        Ok(Resolved::Absent(error)) => AttemptResult::Next(error),
        Ok(Resolved::Found(instance)) => {
            tracing::info!(%ref_id, instance = %instance.cloud_id, "a create of unknown outcome made its instance; terminating it before the next offer");
            match client.terminate_instance(&instance.cloud_id).await {
                Ok(()) => AttemptResult::Next(
                    CloudError::provider(
                        provider,
                        "launch",
                        kind,
                        format!(
                            "{reason}; the create had made instance {}, which was terminated",
                            instance.cloud_id
                        ),
                    )
                    .with_retry(gpucloud_core::Retry::Transient),
                ),
                Err(terminate) => outcome(
                    CloudError::provider(
                        provider,
                        "launch",
                        terminate.kind(),
                        format!(
                            "{reason}; the create had made instance {id}, and terminating it \
                             failed ({terminate}); terminate it with `gpucloud instances \
                             terminate -p {provider} {id}`",
                            id = instance.cloud_id
                        ),
                    )
                    .with_retry(terminate.retry())
                    .with_source(terminate),
                ),
            }
        }
        Err(unresolved) => outcome(unresolved),
    }
}

async fn attempt(
    source: &OfferSource,
    offer: &Offer,
    template: &CreateInstanceAttrs,
    request: &LaunchRequest,
    cancel: &CancellationToken,
    on_event: &mut impl FnMut(&LaunchEvent<'_>),
) -> AttemptResult {
    let stop = |error: CloudError| {
        AttemptResult::Stop(LaunchError::Stopped {
            offer: Box::new(offer.clone()),
            error,
            attempts: Vec::new(),
        })
    };
    let client: Arc<dyn CloudClient> = match source.credential.make_client(&offer.location).await {
        Ok(client) => client,
        Err(error) if stops_the_launch(&error) => return stop(error),
        Err(error) => return AttemptResult::Next(error),
    };
    let attrs = CreateInstanceAttrs {
        location: offer.location.clone(),
        sub_location: offer.sub_location.clone(),
        instance_type: offer.instance_type.clone(),
        use_spot: offer.spot,
        ..template.clone()
    };
    // A parameter this provider cannot honour rules out its offers, not the launch.
    let create = match validate_create(&attrs, &client.create_features()) {
        Ok(create) => create,
        Err(error) => return AttemptResult::Next(error),
    };
    // The create is never abandoned half-way, even when cancelled: what it makes must be known
    // to be cleaned up.
    let created = match client.create_instance(create).await {
        Ok(instance) => instance,
        Err(error) if may_have_created(&error) => {
            return remove_unknown(&*client, offer, &template.ref_id, error).await;
        }
        Err(error) if stops_the_launch(&error) => return stop(error),
        Err(error) => return AttemptResult::Next(error),
    };
    on_event(&LaunchEvent::Created {
        offer,
        instance: &created,
    });
    if cancel.is_cancelled() {
        return abandon(&*client, &created, None, offer).await;
    }
    let Some(timeout) = request.wait_running else {
        return AttemptResult::Up(Box::new(created));
    };
    on_event(&LaunchEvent::Waiting {
        offer,
        instance: &created,
    });
    let mut wait = WaitOptions::new(timeout).with_cancel(cancel.clone());
    if let Some(interval) = request.poll_interval {
        wait = wait.with_poll_interval(interval);
    }
    match wait_for_status(&*client, &created.cloud_id, LifecycleStatus::Running, wait).await {
        Ok(running) => AttemptResult::Up(Box::new(running)),
        Err(error) => abandon(&*client, &created, Some(error), offer).await,
    }
}

/// Terminates an instance this attempt made and will not use. When the terminate fails the
/// launch stops (trying another offer could leave two instances).
async fn abandon(
    client: &dyn CloudClient,
    instance: &Instance,
    why: Option<CloudError>,
    offer: &Offer,
) -> AttemptResult {
    if let Err(error) = client.terminate_instance(&instance.cloud_id).await {
        return AttemptResult::Stop(LaunchError::Stopped {
            offer: Box::new(offer.clone()),
            error: CloudError::provider(
                client.identity().provider_id().as_str(),
                "launch",
                error.kind(),
                format!(
                    "instance {} did not come up and terminating it failed ({error}); terminate it by hand",
                    instance.cloud_id
                ),
            ),
            attempts: Vec::new(),
        });
    }
    match why {
        Some(error) if error.kind() != ErrorKind::Cancelled => AttemptResult::Next(error),
        _ => AttemptResult::Stop(LaunchError::Cancelled {
            attempts: Vec::new(),
        }),
    }
}

/// The live instance carrying `ref_id`, if any. One that is shutting down is not it.
async fn find_by_ref_id(
    client: &dyn CloudClient,
    ref_id: &str,
) -> Result<Option<Instance>, CloudError> {
    let instances = client.list_instances(&ListInstancesArgs::default()).await?;
    Ok(instances.into_iter().find(|i| {
        i.ref_id == ref_id
            && !matches!(
                i.status.lifecycle_status,
                LifecycleStatus::Terminating
                    | LifecycleStatus::Terminated
                    | LifecycleStatus::Failed
            )
    }))
}
