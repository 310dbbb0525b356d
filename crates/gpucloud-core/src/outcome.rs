//! The one rule for a create whose outcome is unknown: look the instance up by its RefID until
//! the provider answers, never create again blindly.
//!
//! A create whose answer was lost (a reset after sending, a timeout, a 5xx, an unreadable body)
//! may have made its instance. Every provider then calls [`resolve_unknown_create`] with its
//! look-up by RefID. The look-up has a budget of its own, beyond the transport's attempts of
//! each call: it is made again after every transient failure (waiting the backoff, or the
//! provider's `Retry-After` when that is longer) until [`ResolveBudget::deadline`], and stops at
//! once on an authoritative answer: the instance ([`Resolved::Found`]), or a listing that does
//! not hold it ([`Resolved::Absent`]). A refusal (authentication, permission) ends it too: no
//! later attempt would be answered differently.
//!
//! When it still cannot tell, the error says so: its outcome stays unknown
//! ([`CloudError::outcome_unknown`]), and its message names the RefID and the commands that find
//! the instance and remove it ([`find_command`]), so that whoever owns the RefID can settle it.
//!
//! ```
//! use std::time::Duration;
//! use gpucloud_core::outcome::{ResolveBudget, Resolved, UnknownCreate, resolve_unknown_create};
//! use gpucloud_core::{CloudError, Delivery, ErrorKind};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! let lost = CloudError::provider("acme", "create_instance", ErrorKind::Timeout, "no answer")
//!     .with_delivery(Delivery::Unknown);
//! let resolved = resolve_unknown_create(
//!     &ResolveBudget::default(),
//!     UnknownCreate { provider: "acme", operation: "create_instance", ref_id: "env-42", error: lost },
//!     || async { Ok::<_, CloudError>(Some("i-1")) }, // the provider's look-up by RefID
//! )
//! .await
//! .unwrap();
//! assert!(matches!(resolved, Resolved::Found("i-1")));
//! # });
//! ```

use std::future::Future;
use std::time::Duration;

use crate::error::{CloudError, Delivery, Result, Retry};

/// How long a create whose outcome is unknown is looked up before [`resolve_unknown_create`]
/// gives up: long enough to outlast a provider's short outage or a throttling window, short
/// enough for a person waiting at a terminal.
pub const RESOLVE_DEADLINE: Duration = Duration::from_secs(30);

/// The longest wait between two look-ups, before `Retry-After`.
pub const RESOLVE_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The budget of one resolution: look-ups are made until `deadline` has passed since the
/// first, waiting `initial_backoff` after the first failure, doubled each time up to
/// `max_backoff`, or the provider's `Retry-After` when that is longer (never past the deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolveBudget {
    /// No look-up starts after this long from the first.
    pub deadline: Duration,
    /// The wait after the first failed look-up.
    pub initial_backoff: Duration,
    /// The longest wait, unless the provider asks for longer with `Retry-After`.
    pub max_backoff: Duration,
}

impl Default for ResolveBudget {
    /// [`RESOLVE_DEADLINE`], 500 ms doubling up to [`RESOLVE_MAX_BACKOFF`].
    fn default() -> Self {
        Self {
            deadline: RESOLVE_DEADLINE,
            initial_backoff: Duration::from_millis(500),
            max_backoff: RESOLVE_MAX_BACKOFF,
        }
    }
}

impl ResolveBudget {
    /// The default budget, starting from a provider's configured first retry backoff (the
    /// longest wait is raised to it when it is longer).
    pub fn with_initial_backoff(initial: Duration) -> Self {
        Self {
            initial_backoff: initial,
            max_backoff: RESOLVE_MAX_BACKOFF.max(initial),
            ..Self::default()
        }
    }

    /// Sets the deadline.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }
}

/// A create whose outcome is unknown: what [`resolve_unknown_create`] needs to say so when the
/// look-up cannot tell.
#[derive(Debug)]
pub struct UnknownCreate<'a> {
    /// The provider's name, as `gpucloud -p` takes it.
    pub provider: &'a str,
    /// The operation, e.g. `create_instance`.
    pub operation: &'static str,
    /// The create's RefID (validated: letters, digits and `- _ . : @`, so it needs no quoting
    /// in a shell command).
    pub ref_id: &'a str,
    /// The create's error, of unknown outcome.
    pub error: CloudError,
}

/// What the look-up by RefID settled.
#[derive(Debug)]
pub enum Resolved<T> {
    /// The create happened: the instance the look-up found.
    Found(T),
    /// The provider answered, and no live instance has the RefID: the create did not happen.
    /// Carries the create's error, to return once what the create made on the way is removed;
    /// its outcome is now known ([`Delivery::Answered`]), so a caller does not look again.
    Absent(CloudError),
}

/// The command that lists the instance of `provider` with `ref_id`, if there is one.
pub fn find_command(provider: &str, ref_id: &str) -> String {
    format!("gpucloud instances list -p {provider} --ref-id {ref_id}")
}

/// Whether a failed look-up may be answered differently if made again: a failure of the
/// service or the transport, or throttling, also once the transport's own attempts are used up.
fn may_look_again(error: &CloudError) -> bool {
    error.retry() != Retry::Never && error.kind().is_transient_failure()
}

/// The provider's `Retry-After` on a failed look-up, if it sent one.
fn retry_after(error: &CloudError) -> Option<Duration> {
    match error.retry() {
        Retry::Throttled { after: Some(after) } => Some(after),
        _ => error.provider_details().and_then(|d| d.retry_after),
    }
}

/// Settles a create whose outcome is unknown by looking its instance up with `lookup` (by
/// RefID: `Ok(Some(_))` found, `Ok(None)` the provider answered and holds none), within
/// `budget`; see the module documentation.
///
/// # Errors
///
/// When the look-up cannot tell (its failures stayed transient until the deadline, or it was
/// refused): an error of the create's kind whose outcome is still unknown, retryable
/// ([`Retry::Transient`]: a create with the same RefID settles it), naming the RefID and
/// [`find_command`], with the last look-up's error as its source.
pub async fn resolve_unknown_create<T, F, Fut>(
    budget: &ResolveBudget,
    create: UnknownCreate<'_>,
    mut lookup: F,
) -> Result<Resolved<T>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let started = tokio::time::Instant::now();
    let mut backoff = budget.initial_backoff;
    let mut attempts = 0u32;
    let last = loop {
        attempts += 1;
        let failure = match lookup().await {
            Ok(Some(found)) => {
                tracing::info!(
                    ref_id = create.ref_id,
                    attempts,
                    "unknown create resolved: the instance exists"
                );
                return Ok(Resolved::Found(found));
            }
            Ok(None) => {
                tracing::info!(
                    ref_id = create.ref_id,
                    attempts,
                    "unknown create resolved: no instance has the RefID"
                );
                return Ok(Resolved::Absent(
                    create.error.with_delivery(Delivery::Answered),
                ));
            }
            Err(failure) => failure,
        };
        if !may_look_again(&failure) {
            break failure;
        }
        let wait = retry_after(&failure).map_or(backoff, |after| after.max(backoff));
        if started.elapsed() + wait >= budget.deadline {
            break failure;
        }
        tracing::debug!(
            ref_id = create.ref_id,
            attempts,
            error = %failure,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "looking up a create of unknown outcome failed; looking again"
        );
        tokio::time::sleep(wait).await;
        backoff = backoff.saturating_mul(2).min(budget.max_backoff);
    };
    tracing::warn!(ref_id = create.ref_id, attempts, error = %last, "a create of unknown outcome could not be looked up");
    let UnknownCreate {
        provider,
        operation,
        ref_id,
        error,
    } = create;
    let unresolved = CloudError::provider(
        provider,
        operation,
        error.kind(),
        format!(
            "the create's outcome is unknown ({error}) and looking it up by RefID failed \
             {attempts} time(s) in {:.0?} (last: {last}): an instance with RefID {ref_id} may \
             exist. `{}` finds it and `gpucloud instances terminate -p {provider} ID` removes \
             it; a create with the same RefID returns it instead of making another",
            started.elapsed(),
            find_command(provider, ref_id),
        ),
    )
    .with_retry(Retry::Transient)
    .with_delivery(Delivery::Unknown);
    // The create's own status and request id matter most (a support ticket names them); the
    // look-up's failure is in the message either way.
    Err(match error.provider_details() {
        Some(details) => unresolved.with_source(details.clone()),
        None => unresolved.with_source(last),
    })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::error::{ErrorKind, ProviderDetails};

    fn lost_create() -> UnknownCreate<'static> {
        UnknownCreate {
            provider: "acme",
            operation: "create_instance",
            ref_id: "env-42",
            error: CloudError::provider("acme", "create_instance", ErrorKind::Timeout, "no answer")
                .with_retry(Retry::Transient)
                .with_delivery(Delivery::Unknown),
        }
    }

    fn unavailable() -> CloudError {
        CloudError::provider("acme", "list_instances", ErrorKind::Unavailable, "503")
            .with_retry(Retry::Exhausted)
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_looked_up_again_until_the_answer_comes() {
        let calls = Cell::new(0);
        let started = tokio::time::Instant::now();
        let resolved = resolve_unknown_create(&ResolveBudget::default(), lost_create(), || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                match n {
                    1 | 2 => Err(unavailable()),
                    3 => Err(CloudError::provider(
                        "acme",
                        "list_instances",
                        ErrorKind::RateLimited,
                        "429",
                    )
                    .with_retry(Retry::Throttled {
                        after: Some(Duration::from_secs(7)),
                    })),
                    _ => Ok(Some("i-1")),
                }
            }
        })
        .await
        .unwrap();
        assert!(matches!(resolved, Resolved::Found("i-1")), "{resolved:?}");
        assert_eq!(calls.get(), 4);
        // 500 ms, 1 s, then the 7 s the provider asked for instead of 2 s.
        assert_eq!(started.elapsed(), Duration::from_millis(8_500));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_in_the_details_is_honoured() {
        let calls = Cell::new(0);
        let started = tokio::time::Instant::now();
        let details = ProviderDetails {
            status: Some(503),
            retry_after: Some(Duration::from_secs(3)),
            ..ProviderDetails::default()
        };
        let resolved = resolve_unknown_create(&ResolveBudget::default(), lost_create(), || {
            calls.set(calls.get() + 1);
            let first = calls.get() == 1;
            let details = details.clone();
            async move {
                if first {
                    Err(unavailable().with_source(details))
                } else {
                    Ok(None::<&str>)
                }
            }
        })
        .await
        .unwrap();
        assert!(matches!(resolved, Resolved::Absent(_)), "{resolved:?}");
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn an_authoritative_not_found_stops_at_once_and_returns_the_create_error() {
        let calls = Cell::new(0);
        let started = tokio::time::Instant::now();
        let resolved = resolve_unknown_create(&ResolveBudget::default(), lost_create(), || {
            calls.set(calls.get() + 1);
            async { Ok(None::<&str>) }
        })
        .await
        .unwrap();
        let Resolved::Absent(error) = resolved else {
            panic!("{resolved:?}");
        };
        assert_eq!(calls.get(), 1);
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(error.kind(), ErrorKind::Timeout);
        assert!(error.to_string().contains("no answer"), "{error}");
        assert!(!error.outcome_unknown(), "settled: nothing was made");
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_ends_the_look_ups_with_an_error_naming_the_ref_id_and_command() {
        let calls = Cell::new(0);
        let started = tokio::time::Instant::now();
        let budget = ResolveBudget::with_initial_backoff(Duration::from_secs(1))
            .with_deadline(Duration::from_secs(20));
        let error = resolve_unknown_create(&budget, lost_create(), || {
            calls.set(calls.get() + 1);
            async { Err::<Option<&str>, _>(unavailable()) }
        })
        .await
        .unwrap_err();
        // Waits of 1, 2, 4, 5, 5 s (capped) end at 17 s; the next would pass 20 s.
        assert_eq!(calls.get(), 6);
        assert_eq!(started.elapsed(), Duration::from_secs(17));
        assert!(error.outcome_unknown(), "{error}");
        assert_eq!(error.retry(), Retry::Transient);
        assert_eq!(error.kind(), ErrorKind::Timeout, "the create's kind");
        let message = error.to_string();
        for part in [
            "env-42",
            "`gpucloud instances list -p acme --ref-id env-42`",
            "gpucloud instances terminate -p acme ID",
            "6 time(s)",
        ] {
            assert!(message.contains(part), "{part:?} missing from {message}");
        }
        assert!(std::error::Error::source(&error).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_look_up_stops_at_once() {
        let calls = Cell::new(0);
        let error = resolve_unknown_create(&ResolveBudget::default(), lost_create(), || {
            calls.set(calls.get() + 1);
            async {
                Err::<Option<&str>, _>(CloudError::provider(
                    "acme",
                    "list_instances",
                    ErrorKind::Unauthenticated,
                    "401",
                ))
            }
        })
        .await
        .unwrap_err();
        assert_eq!(calls.get(), 1);
        assert!(error.outcome_unknown());
        assert!(error.to_string().contains("env-42"), "{error}");
    }
}
