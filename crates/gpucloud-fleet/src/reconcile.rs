//! The reconcile loop: brings each due instance toward what the fleet wants.
//!
//! - A create is recorded as `launching` *before* it is sent; from then on its outcome, if
//!   lost (an answer that never came, a restart), is resolved by its RefID: a list of its
//!   partition that started after the send either shows it (the status loop adopts it) or
//!   proves it was never made, and only then is it sent again (with the same RefID, which
//!   the provider's create also treats as idempotent).
//! - A terminate is sent, and sent again with backoff, until a list or get shows the instance
//!   gone; only that marks it terminated.
//! - A TTL that passed, or an orphan's grace, turns into a terminate.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use gpucloud::launch::{LaunchError, LaunchRequest, launch};
use gpucloud::offers::{OfferOptions, OfferSource};
use gpucloud::{CloudError, CreateInstanceAttrs, InstanceId, LifecycleStatus, validate_create};
use tokio_util::sync::CancellationToken;

use crate::credentials::{Watched, partition_location, status_key};
use crate::error::{FleetError, Result};
use crate::fleet::{Inner, PassReport};
use crate::model::{Cause, CreateTarget, Desired, Phase};
use crate::store::{Change, InstanceRow, NEVER, NewEvent, millis, now_ms};

/// How a create came out.
enum CreateOutcome {
    /// The provider made it.
    Made {
        watched: Arc<Watched>,
        instance: Box<gpucloud::Instance>,
        detail: Option<String>,
    },
    /// It may have been made: resolved by RefID.
    Unknown {
        watched: Option<Arc<Watched>>,
        location: Option<String>,
        error: String,
    },
    /// It was not made, for good.
    Failed(String),
}

/// What one instance's reconcile did.
enum Step {
    /// Nothing was due.
    Idle,
    /// A provider was called or the row moved on.
    Acted(usize),
}

impl Inner {
    /// One pass over every due instance, `partitions_in_flight` at a time. One instance's
    /// failure is logged and retried on its own schedule; it does not stop the others.
    pub(crate) async fn reconcile_pass(&self) -> Result<PassReport> {
        let now = now_ms();
        let mut rows = self.store.due_instances(now).await?.into_iter();
        let mut running = FuturesUnordered::new();
        let mut steps = Vec::new();
        loop {
            while running.len() < self.config.partitions_in_flight {
                let Some(row) = rows.next() else { break };
                running.push(self.reconcile_logged(row, now));
            }
            match running.next().await {
                Some(step) => steps.push(step),
                None => break,
            }
        }
        let mut report = PassReport::default();
        let mut database_error = None;
        for step in steps {
            match step {
                Ok(Step::Acted(events)) => {
                    report.instances_reconciled += 1;
                    report.events += events;
                }
                Err(error @ FleetError::Database(_)) => database_error = Some(error),
                Ok(Step::Idle) | Err(_) => {}
            }
        }
        // Nothing could be written and the database said why: the pass failed (the loops
        // back off) rather than look like a pass with nothing to do.
        match database_error {
            Some(error) if report.instances_reconciled == 0 => Err(error),
            _ => Ok(report),
        }
    }

    async fn reconcile_logged(&self, row: InstanceRow, now: i64) -> Result<Step> {
        let ref_id = row.ref_id.clone();
        let step = Box::pin(self.reconcile(row, now)).await;
        if let Err(error) = &step {
            tracing::warn!(%ref_id, %error, "reconcile failed; retried on the next pass");
        }
        step
    }

    async fn reconcile(&self, mut row: InstanceRow, now: i64) -> Result<Step> {
        // An instance of a partition another process holds is that process's to act on.
        if let Some(key) = &row.partition_key
            && self.partition_fence(key, &row.credential).await?.is_none()
        {
            return Ok(Step::Idle);
        }
        let mut why = None;
        if row.desired == Desired::Running && row.expires_at.is_some_and(|at| at <= now) {
            row.desired = Desired::Terminated;
            why = Some("its TTL passed");
        }
        if row.phase == Phase::Orphan && row.desired == Desired::Unmanaged {
            let grace_over = self.config.orphan_grace.is_some_and(|grace| {
                row.first_seen_at
                    .is_some_and(|seen| seen.saturating_add(millis(grace)) <= now)
            });
            if !grace_over {
                return Ok(Step::Idle);
            }
            row.desired = Desired::Terminated;
            why = Some("its orphan grace passed");
        }
        match (row.desired, row.phase) {
            (Desired::Running, Phase::Requested) => Box::pin(self.send_create(row)).await,
            (_, Phase::Launching) => Box::pin(self.resolve_launch(row, now)).await,
            (Desired::Terminated, Phase::Requested) => {
                let mut next = row.clone();
                next.phase = Phase::Terminated;
                next.next_run_at = NEVER;
                let event = new_event(
                    &row,
                    next.state(),
                    Cause::TerminateConfirmed,
                    Some("terminated before its create was sent".to_owned()),
                );
                self.record(&row, next, Some(event)).await
            }
            (Desired::Terminated, Phase::Active | Phase::Terminating | Phase::Orphan) => {
                self.send_terminate(row, why).await
            }
            _ => {
                // Due with nothing to do (e.g. a TTL removed): park it.
                if row.next_run_at != NEVER && row.expires_at.is_none() {
                    let mut next = row.clone();
                    next.next_run_at = NEVER;
                    self.record(&row, next, None).await?;
                }
                Ok(Step::Idle)
            }
        }
    }

    /// Writes one change (fenced by the instance's partition when it has one).
    async fn record(
        &self,
        before: &InstanceRow,
        after: InstanceRow,
        event: Option<NewEvent>,
    ) -> Result<Step> {
        let fence = match &before.partition_key {
            Some(key) => {
                let location = key.splitn(3, '/').nth(2).unwrap_or_default();
                self.fence(key, "status", &before.credential, location)
                    .await?
            }
            None => None,
        };
        let written = self
            .store
            .write(fence.as_ref(), &[Change { row: after, event }])
            .await?;
        if written.applied == 0 {
            // Another writer changed the row since it was read: the next pass starts afresh.
            return Ok(Step::Idle);
        }
        Ok(Step::Acted(self.publish(written.events)))
    }

    /// Records the create as launching, then sends it (explicit target or failover launch).
    async fn send_create(&self, row: InstanceRow) -> Result<Step> {
        let Some(request) = row.request.clone() else {
            return self
                .launch_failed(&row, "the stored create request is unreadable")
                .await;
        };
        // Check what the chosen provider honours before anything is sent.
        let explicit = match &request.target {
            CreateTarget::Explicit {
                credential,
                location,
                instance_type,
            } => {
                let Some(watched) = self.watched.get(credential).cloned() else {
                    return self
                        .launch_failed(
                            &row,
                            &format!("credential {credential} is no longer watched"),
                        )
                        .await;
                };
                let client = match watched.client(location).await {
                    Ok(client) => client,
                    Err(error) => return self.create_not_sent(row, &error).await,
                };
                let attrs = CreateInstanceAttrs {
                    location: location.clone(),
                    instance_type: instance_type.clone(),
                    ..request.attrs.clone()
                };
                match validate_create(&attrs, &client.create_features()) {
                    Ok(valid) => Some((watched, client, valid)),
                    Err(error) => return self.launch_failed(&row, &error.to_string()).await,
                }
            }
            CreateTarget::Offers { .. } => None,
        };
        let mut sending = row.clone();
        sending.phase = Phase::Launching;
        sending.sent_at = Some(now_ms());
        sending.next_run_at = now_ms().saturating_add(millis(self.config.status_interval));
        let event = (row.phase != Phase::Launching).then(|| {
            new_event(
                &row,
                Phase::Launching.as_str().to_owned(),
                Cause::CreateSent,
                None,
            )
        });
        let had_event = event.is_some();
        let Step::Acted(written) = self.record(&row, sending.clone(), event).await? else {
            return Ok(Step::Idle);
        };
        if had_event && written == 0 {
            // Another writer changed the row first: leave it to the next pass.
            return Ok(Step::Idle);
        }
        sending.version += 1;
        self.creating_guard(&row.ref_id, true);
        let outcome = match explicit {
            Some((watched, client, valid)) => {
                let answer = watched
                    .call(
                        &self.metrics,
                        "create_instance",
                        client.create_instance(valid),
                    )
                    .await;
                match answer {
                    Ok(instance) => CreateOutcome::Made {
                        watched,
                        instance: Box::new(instance),
                        detail: None,
                    },
                    Err(error) if error.outcome_unknown() => CreateOutcome::Unknown {
                        watched: Some(watched),
                        location: None,
                        error: error.to_string(),
                    },
                    Err(error) => CreateOutcome::Failed(error.to_string()),
                }
            }
            None => self.failover_launch(&sending).await,
        };
        self.creating_guard(&row.ref_id, false);
        match outcome {
            CreateOutcome::Made {
                watched,
                instance,
                detail,
            } => {
                let mut next = sending.clone();
                let location = if instance.location.is_empty() {
                    next.location.clone()
                } else {
                    instance.location.clone()
                };
                watched.name().clone_into(&mut next.credential);
                next.provider.clone_from(&watched.config.provider);
                next.partition_key = Some(status_key(
                    watched.name(),
                    partition_location(watched.api_type(), &location),
                ));
                next.location = location;
                next.cloud_id = Some(instance.cloud_id.as_str().to_owned());
                next.phase = Phase::Active;
                next.status = Some(instance.lifecycle());
                next.price = self
                    .store
                    .catalog_price(watched.name(), &next.location, &instance.instance_type)
                    .await?;
                next.tags.clone_from(&instance.tags);
                next.model = Some(*instance);
                next.attempts = 0;
                next.last_error = None;
                next.next_run_at = next.expires_at.unwrap_or(NEVER);
                let event = new_event(&sending, next.state(), Cause::Created, detail);
                self.record(&sending, next, Some(event)).await
            }
            CreateOutcome::Unknown {
                watched,
                location,
                error,
            } => {
                // Resolved by RefID from the lists that follow; never sent blind again.
                let mut next = sending.clone();
                if let Some(watched) = watched {
                    let location = location.unwrap_or_else(|| next.location.clone());
                    watched.name().clone_into(&mut next.credential);
                    next.provider.clone_from(&watched.config.provider);
                    next.partition_key = Some(status_key(
                        watched.name(),
                        partition_location(watched.api_type(), &location),
                    ));
                    next.location = location;
                }
                next.attempts = next.attempts.saturating_add(1);
                next.last_error = Some(error);
                // Only a list asked after this moment proves the create made nothing: one
                // asked while the create was on its way may have been answered before the
                // provider made the instance.
                next.sent_at = Some(now_ms());
                self.record(&sending, next, None).await
            }
            CreateOutcome::Failed(why) => self.launch_failed(&sending, &why).await,
        }
    }

    /// A failover launch over the request's credentials.
    async fn failover_launch(&self, row: &InstanceRow) -> CreateOutcome {
        let Some(request) = &row.request else {
            return CreateOutcome::Failed("the stored create request is unreadable".to_owned());
        };
        let CreateTarget::Offers {
            query,
            credentials,
            max_offers,
        } = &request.target
        else {
            return CreateOutcome::Failed("the stored request is not an offer query".to_owned());
        };
        let sources: Vec<OfferSource> = self
            .watched
            .values()
            .filter(|w| credentials.is_empty() || credentials.contains(&w.config.name))
            .map(|w| {
                OfferSource::new(
                    w.name(),
                    w.limited.clone() as Arc<dyn gpucloud::CloudCredential>,
                )
            })
            .collect();
        let mut launch_request = LaunchRequest::new(request.attrs.clone());
        launch_request.query = query.clone();
        if *max_offers > 0 {
            launch_request.max_offers = *max_offers;
        }
        // The status loop watches it come up; the launch returns once it is created.
        launch_request.wait_running = None;
        let launched = launch(
            &sources,
            &launch_request,
            &OfferOptions::default(),
            CancellationToken::new(),
            ignore_progress,
        )
        .await;
        match launched {
            Ok(launched) => match self.watched.get(&launched.offer.provider).cloned() {
                Some(watched) => {
                    self.metrics.call(&watched.config.provider, "launch", "ok");
                    let detail = format!(
                        "{} in {} with credential {}",
                        launched.offer.instance_type,
                        launched.offer.location,
                        launched.offer.provider
                    );
                    CreateOutcome::Made {
                        watched,
                        instance: Box::new(launched.instance),
                        detail: Some(detail),
                    }
                }
                None => CreateOutcome::Failed(format!(
                    "the launch chose credential {}, which is not watched",
                    launched.offer.provider
                )),
            },
            Err(failure) => match failure {
                LaunchError::OutcomeUnknown { offer, error, .. } => CreateOutcome::Unknown {
                    watched: self.watched.get(&offer.provider).cloned(),
                    location: Some(offer.location.clone()),
                    error: error.to_string(),
                },
                other => CreateOutcome::Failed(other.to_string()),
            },
        }
    }

    /// The client could not even be made: nothing was sent; try again later.
    async fn create_not_sent(&self, row: InstanceRow, error: &CloudError) -> Result<Step> {
        let mut next = row.clone();
        next.attempts = next.attempts.saturating_add(1);
        next.last_error = Some(error.to_string());
        next.next_run_at = now_ms().saturating_add(millis(Self::backoff(
            self.config.status_interval,
            next.attempts,
            self.config.max_backoff,
        )));
        self.record(&row, next, None).await
    }

    /// The launch failed for good; nothing of it is left.
    async fn launch_failed(&self, row: &InstanceRow, why: &str) -> Result<Step> {
        let mut next = row.clone();
        next.phase = Phase::LaunchFailed;
        next.last_error = Some(why.to_owned());
        next.next_run_at = NEVER;
        let event = new_event(row, next.state(), Cause::LaunchFailed, Some(why.to_owned()));
        self.record(row, next, Some(event)).await
    }

    /// A create whose outcome is not known: once a list that started after it was sent has
    /// come back without its RefID (the status loop adopts it when a list shows it), it was
    /// not made, and it is sent again with the same RefID (or, when no longer wanted, closed).
    async fn resolve_launch(&self, row: InstanceRow, now: i64) -> Result<Step> {
        if self
            .creating
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&row.ref_id)
        {
            return Ok(Step::Idle);
        }
        let sent_at = row.sent_at.unwrap_or(0);
        let partitions: Vec<String> = if let Some(key) = &row.partition_key {
            vec![key.clone()]
        } else {
            let allowed: Vec<String> = match row.request.as_ref().map(|r| &r.target) {
                Some(CreateTarget::Offers { credentials, .. }) if !credentials.is_empty() => {
                    credentials.clone()
                }
                _ => self.watched.keys().cloned().collect(),
            };
            let mut keys = Vec::new();
            for name in allowed {
                if let Some(watched) = self.watched.get(&name) {
                    for location in self.status_locations(watched).await? {
                        keys.push(status_key(&name, &location));
                    }
                }
            }
            keys
        };
        let proven_absent = !partitions.is_empty() && {
            let listed = self
                .listed_at
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            partitions
                .iter()
                .all(|key| listed.get(key).is_some_and(|at| *at > sent_at))
        };
        if !proven_absent {
            let mut next = row.clone();
            next.next_run_at = now.saturating_add(millis(self.config.status_interval));
            return self.record(&row, next, None).await;
        }
        if row.desired == Desired::Running {
            tracing::info!(ref_id = %row.ref_id, "no instance has the RefID of a create whose outcome was lost; sending it again");
            return Box::pin(self.send_create(row)).await;
        }
        let mut next = row.clone();
        next.phase = Phase::Terminated;
        next.next_run_at = NEVER;
        let event = new_event(
            &row,
            next.state(),
            Cause::TerminateConfirmed,
            Some("its create made no instance".to_owned()),
        );
        self.record(&row, next, Some(event)).await
    }

    /// Sends (or sends again) a terminate; the status loop confirms it.
    async fn send_terminate(&self, row: InstanceRow, why: Option<&str>) -> Result<Step> {
        let (Some(watched), Some(cloud_id)) = (
            self.watched.get(&row.credential).cloned(),
            row.cloud_id.clone(),
        ) else {
            return Ok(Step::Idle);
        };
        let location = partition_location(watched.api_type(), &row.location).to_owned();
        let answer = match watched.client(&location).await {
            Ok(client) => {
                watched
                    .call(
                        &self.metrics,
                        "terminate_instance",
                        client.terminate_instance(&InstanceId::new(cloud_id)),
                    )
                    .await
            }
            Err(error) => Err(error),
        };
        let mut next = row.clone();
        next.attempts = next.attempts.saturating_add(1);
        let pause = Self::backoff(
            self.config.status_interval.max(Duration::from_secs(1)),
            next.attempts,
            self.config.max_terminate_backoff,
        );
        next.next_run_at = now_ms().saturating_add(millis(pause));
        match answer {
            Ok(()) => {
                next.phase = Phase::Terminating;
                if !next.status.is_some_and(LifecycleStatus::is_terminal) {
                    next.status = Some(LifecycleStatus::Terminating);
                }
                next.last_error = None;
                let event = (next.state() != row.state()).then(|| {
                    new_event(
                        &row,
                        next.state(),
                        Cause::TerminateSent,
                        why.map(str::to_owned),
                    )
                });
                self.record(&row, next, event).await
            }
            Err(error) => {
                tracing::warn!(ref_id = %row.ref_id, %error, ?pause, "terminate failed; sent again after the pause");
                next.last_error = Some(error.to_string());
                self.record(&row, next, None).await
            }
        }
    }

    /// The lease on an instance's status partition.
    async fn partition_fence(
        &self,
        key: &str,
        credential: &str,
    ) -> Result<Option<crate::store::Fence>> {
        let location = key.splitn(3, '/').nth(2).unwrap_or_default();
        self.fence(key, "status", credential, location).await
    }

    fn creating_guard(&self, ref_id: &str, sending: bool) {
        let mut creating = self
            .creating
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if sending {
            creating.insert(ref_id.to_owned());
        } else {
            creating.remove(ref_id);
        }
    }
}

/// The fleet records a launch's outcome, not its progress.
fn ignore_progress(_: &gpucloud::launch::LaunchEvent<'_>) {}

fn new_event(row: &InstanceRow, to: String, cause: Cause, detail: Option<String>) -> NewEvent {
    NewEvent {
        ref_id: row.ref_id.clone(),
        from: Some(row.state()),
        to,
        cause,
        detail,
    }
}
