//! The retry driver every transport uses: which failures are tried again, how long to wait
//! (exponential backoff with jitter, `Retry-After`) and the client-side rate limits.
//!
//! It knows nothing of HTTP or gRPC: a transport turns each attempt's failure into a
//! [`CloudError`] with its [`Retry`] class and [`Delivery`] (the tables of [`crate::status`]
//! help), and [`RetryDriver::run`] decides from those alone. The reqwest client of
//! `gpucloud-http` calls it; a tonic or AWS SDK client calls it the same way:
//!
//! ```
//! use gpucloud_core::retry::{Call, RetryDriver, RetryPolicy};
//! use gpucloud_core::status::{GrpcCode, grpc_status};
//! use gpucloud_core::{CloudError, ProviderDetails};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let driver = RetryDriver::new(RetryPolicy::default().with_backoff(
//!     std::time::Duration::from_millis(1),
//!     std::time::Duration::from_millis(1),
//! ));
//! let answer = driver
//!     .run(&Call::new("list_instances", true), |attempt| async move {
//!         if attempt == 1 {
//!             // What a gRPC client would build from `UNAVAILABLE`.
//!             let class = grpc_status(GrpcCode::Unavailable);
//!             let details = ProviderDetails { grpc_code: Some(14), ..ProviderDetails::default() };
//!             return Err(CloudError::provider("grpc-cloud", "list_instances", class.kind, "unavailable")
//!                 .with_retry(class.retry)
//!                 .with_delivery(class.delivery)
//!                 .with_source(details));
//!         }
//!         Ok(vec!["i-1"])
//!     })
//!     .await
//!     .unwrap();
//! assert_eq!(answer, ["i-1"]);
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::error::{CloudError, Delivery, ErrorKind, Result, Retry};

/// How failed calls are retried: exponential backoff (doubling) from `initial_backoff` up to
/// `max_backoff`, each wait lengthened by up to as much again of random jitter when `jitter` is
/// on, and a bounded number of attempts. Which failures are retried at all is
/// [`RetryDriver::should_retry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in total, the first included. `1` disables retries; `0` is treated as `1`.
    pub max_attempts: u32,
    /// The wait before the first retry, before jitter.
    pub initial_backoff: Duration,
    /// The longest backoff before jitter.
    pub max_backoff: Duration,
    /// Adds a random part (up to the backoff itself) to every wait, so that clients that
    /// failed together do not retry together.
    pub jitter: bool,
    /// The longest `Retry-After` honoured. A longer one waits this long instead.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Four attempts, 500 ms doubling up to 20 s, jitter on, `Retry-After` up to 60 s.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            jitter: true,
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the number of attempts, the first included.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets the initial and the maximum backoff.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// Turns jitter on or off.
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the longest `Retry-After` honoured.
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The attempts this policy allows (at least one).
    pub fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// The backoffs before each retry, in order (one fewer than [`Self::attempts`]).
    pub fn backoffs(&self) -> impl Iterator<Item = Duration> + use<> {
        let retries = usize::try_from(self.attempts() - 1).unwrap_or(usize::MAX);
        let builder = ExponentialBuilder::default()
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.max_backoff.max(self.initial_backoff))
            .with_factor(2.0)
            .with_max_times(retries);
        let builder = if self.jitter {
            builder.with_jitter()
        } else {
            builder
        };
        builder.build()
    }

    /// The wait before a retry: the backoff, or the provider's `Retry-After` (capped by
    /// `max_retry_after`) when that is longer.
    pub fn wait(&self, backoff: Duration, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(after) => backoff.max(after.min(self.max_retry_after)),
            None => backoff,
        }
    }
}

/// A rate: at most `burst` calls at once, refilled at one call per `period` (a GCRA quota).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    period: Duration,
    burst: NonZeroU32,
}

impl RateLimit {
    /// `n` calls per second, in bursts of up to `n`.
    pub fn per_second(n: NonZeroU32) -> Self {
        Self {
            period: Duration::from_secs(1) / n.get(),
            burst: n,
        }
    }

    /// `n` calls per minute, in bursts of up to `n`.
    pub fn per_minute(n: NonZeroU32) -> Self {
        Self {
            period: Duration::from_secs(60) / n.get(),
            burst: n,
        }
    }

    /// One call per `period`, no burst. A zero period is raised to one nanosecond.
    pub fn every(period: Duration) -> Self {
        Self {
            period: period.max(Duration::from_nanos(1)),
            burst: NonZeroU32::MIN,
        }
    }

    /// Allows bursts of up to `burst` calls.
    pub fn with_burst(mut self, burst: NonZeroU32) -> Self {
        self.burst = burst;
        self
    }

    /// The time between two refills.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The largest burst.
    pub fn burst(&self) -> NonZeroU32 {
        self.burst
    }

    /// The most calls this limit lets through in any minute once a burst is spent (at least
    /// one), for callers that advertise a per-minute figure.
    pub fn per_minute_figure(&self) -> u32 {
        let per_minute = Duration::from_secs(60).as_nanos() / self.period.as_nanos().max(1);
        u32::try_from(per_minute).unwrap_or(u32::MAX).max(1)
    }
}

/// One logical call, as the driver sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    operation: &'static str,
    idempotent: bool,
    create: bool,
}

impl Call {
    /// A call named `operation` (in logs and events). `idempotent`: sending it twice has the
    /// same effect as once (reads, deletes, anything carrying an idempotency key).
    pub fn new(operation: &'static str, idempotent: bool) -> Self {
        Self {
            operation,
            idempotent,
            create: false,
        }
    }

    /// Marks the call as a create, counted by the create rate limit too.
    pub fn create(mut self) -> Self {
        self.create = true;
        self
    }

    /// The operation name.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// Whether the call is safe to repeat.
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }

    /// Whether the call counts against the create rate limit.
    pub fn is_create(&self) -> bool {
        self.create
    }
}

/// Something the driver did that tests and metrics may want to see. Sent to the observer
/// before the driver sleeps.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CallEvent {
    /// An attempt failed and the call will be made again after `wait`.
    Retry(RetryEvent),
    /// A rate limit delays a call by `wait`.
    RateLimited(RateLimitEvent),
}

/// A planned retry.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryEvent {
    /// The operation, e.g. `list_instances`.
    pub operation: &'static str,
    /// The attempt that failed (1 for the first).
    pub attempt: u32,
    /// How long the driver sleeps before the next attempt.
    pub wait: Duration,
    /// What the failure meant.
    pub kind: ErrorKind,
    /// Whether the failed attempt reached the provider.
    pub delivery: Delivery,
    /// The HTTP status, when the provider answered over HTTP.
    pub status: Option<u16>,
    /// The provider's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
}

/// A rate-limit delay.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RateLimitEvent {
    /// The operation being delayed.
    pub operation: &'static str,
    /// True for the create limit, false for the limit on all calls.
    pub create: bool,
    /// How long the driver sleeps before checking the limit again.
    pub wait: Duration,
}

/// A callback that sees every [`CallEvent`].
pub type Observer = Arc<dyn Fn(&CallEvent) + Send + Sync>;

/// A governor clock that reads `tokio::time`, so that paused-clock tests see the waits.
#[derive(Debug, Clone, Copy)]
struct TokioClock {
    origin: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A direct (unkeyed) GCRA rate limiter on tokio's clock.
struct Limiter {
    clock: TokioClock,
    inner: RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>,
}

impl Limiter {
    fn new(limit: RateLimit) -> Self {
        let clock = TokioClock {
            origin: tokio::time::Instant::now(),
        };
        // `RateLimit` keeps its period above zero, so `with_period` always succeeds; the
        // fallback (no practical limit) is what a zero period would mean.
        let quota = Quota::with_period(limit.period())
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(limit.burst());
        Self {
            clock,
            inner: RateLimiter::direct_with_clock(quota, clock),
        }
    }

    /// Takes a cell, or says how long to wait before asking again.
    fn try_acquire(&self) -> std::result::Result<(), Duration> {
        self.inner.check().map_err(|not_until| {
            not_until
                .wait_time_from(self.clock.now())
                .max(Duration::from_millis(1))
        })
    }
}

/// Runs calls with retries and rate limits. Cheap to share behind an `Arc`; one per account, so
/// that its rate limits are the account's.
///
/// # Which failures are retried
///
/// [`RetryDriver::should_retry`]: a [`Retry::Throttled`] failure always (the provider refused
/// without acting, so even a create may be sent again after the wait); a [`Retry::Transient`]
/// one when the call is idempotent or the request was [`Delivery::NotSent`]; nothing else. So a
/// non-idempotent create that timed out, was reset after sending, got a 5xx or an unreadable
/// 2xx is never sent blindly again: its error says [`CloudError::outcome_unknown`] and the
/// caller looks it up.
///
/// When the attempts run out after at least one retry, the error's retry class is
/// [`Retry::Exhausted`] and its kind and delivery are kept.
pub struct RetryDriver {
    policy: RetryPolicy,
    limiter: Option<Limiter>,
    create_limiter: Option<Limiter>,
    observer: Option<Observer>,
}

impl fmt::Debug for RetryDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryDriver")
            .field("policy", &self.policy)
            .field("rate_limited", &self.limiter.is_some())
            .field("create_rate_limited", &self.create_limiter.is_some())
            .finish_non_exhaustive()
    }
}

impl RetryDriver {
    /// A driver with this policy and no rate limits.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            limiter: None,
            create_limiter: None,
            observer: None,
        }
    }

    /// Limits every call (`None`: no limit).
    pub fn with_rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.limiter = limit.map(Limiter::new);
        self
    }

    /// Limits the calls marked [`Call::create`] too (`None`: no separate limit).
    pub fn with_create_rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.create_limiter = limit.map(Limiter::new);
        self
    }

    /// Sets a callback that sees every retry and rate-limit delay before the driver sleeps.
    pub fn with_observer(mut self, observer: Option<Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Whether a call of this idempotency that failed with `error` may be made again (see the
    /// type's documentation).
    pub fn should_retry(error: &CloudError, idempotent: bool) -> bool {
        match error.retry() {
            Retry::Throttled { .. } => true,
            Retry::Transient => idempotent || error.delivery() == Delivery::NotSent,
            _ => false,
        }
    }

    /// Makes `call`: waits for the rate limits, runs `attempt` (given the attempt number, 1 for
    /// the first) and retries its failures as the policy and [`Self::should_retry`] allow.
    pub async fn run<T, F, Fut>(&self, call: &Call, mut attempt: F) -> Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let max_attempts = self.policy.attempts();
        let mut backoffs = self.policy.backoffs();
        let mut number = 0;
        // Whether an earlier attempt may have been carried out (its answer was lost).
        let mut may_have_happened = false;
        loop {
            number += 1;
            self.wait_for_rate_limits(call).await;
            let error = match attempt(number).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            // A later attempt's refusal (429, 503, a connection refused) speaks for itself
            // only: once an earlier attempt may have been carried out, so may the call.
            let error = if may_have_happened && !error.outcome_unknown() {
                error.with_delivery(Delivery::Unknown)
            } else {
                error
            };
            may_have_happened |= error.outcome_unknown();
            let details = error.provider_details();
            let status = details.and_then(|d| d.status);
            let retry_after = match error.retry() {
                Retry::Throttled { after: Some(after) } => Some(after),
                _ => details.and_then(|d| d.retry_after),
            };
            let kind = error.kind();
            if !Self::should_retry(&error, call.idempotent) {
                tracing::debug!(attempt = number, status, ?kind, "call failed");
                return Err(error);
            }
            let backoff = match backoffs.next() {
                Some(backoff) if number < max_attempts => backoff,
                _ => {
                    tracing::debug!(
                        attempt = number,
                        status,
                        ?kind,
                        "call failed, attempts exhausted"
                    );
                    return Err(if max_attempts > 1 {
                        error.with_retry(Retry::Exhausted)
                    } else {
                        error
                    });
                }
            };
            let wait = self.policy.wait(backoff, retry_after);
            tracing::info!(
                attempt = number,
                status,
                ?kind,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "call failed, retrying"
            );
            self.notify(&CallEvent::Retry(RetryEvent {
                operation: call.operation,
                attempt: number,
                wait,
                kind,
                delivery: error.delivery(),
                status,
                retry_after,
            }));
            tokio::time::sleep(wait).await;
        }
    }

    async fn wait_for_rate_limits(&self, call: &Call) {
        if call.create
            && let Some(limiter) = &self.create_limiter
        {
            self.acquire(limiter, true, call.operation).await;
        }
        if let Some(limiter) = &self.limiter {
            self.acquire(limiter, false, call.operation).await;
        }
    }

    async fn acquire(&self, limiter: &Limiter, create: bool, operation: &'static str) {
        while let Err(wait) = limiter.try_acquire() {
            tracing::debug!(
                create,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "rate limited locally"
            );
            self.notify(&CallEvent::RateLimited(RateLimitEvent {
                operation,
                create,
                wait,
            }));
            tokio::time::sleep(wait).await;
        }
    }

    fn notify(&self, event: &CallEvent) {
        if let Some(observer) = &self.observer {
            observer(event);
        }
    }
}

/// Attempts of one cleanup step in [`cleanup_step`].
pub const CLEANUP_ATTEMPTS: u32 = 3;

/// Runs one cleanup step (a delete of what a failed create made or a terminate leaves, or
/// the read it needs) up to [`CLEANUP_ATTEMPTS`] times, waiting `backoff`, doubled each time,
/// after a failure that `may_retry` says another attempt may not meet.
///
/// This is on top of the driver's own retries of each call: a step whose calls all met
/// transient failures is made again, because nothing else would remove what it leaves but a
/// sweep after its grace, or nothing at all.
pub async fn cleanup_step<T, F, Fut>(
    backoff: Duration,
    may_retry: impl Fn(&CloudError) -> bool,
    mut step: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut wait = backoff;
    let mut attempt = 1;
    loop {
        match step().await {
            Err(e) if attempt < CLEANUP_ATTEMPTS && may_retry(&e) => {
                tracing::debug!(attempt, error = %e, "cleanup step failed; trying again");
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_cleanup_step_is_made_again_only_after_a_failure_it_may_not_meet_again() {
        let transient = |e: &CloudError| e.kind().is_transient_failure();
        let calls = std::cell::Cell::new(0);
        let started = tokio::time::Instant::now();
        let always_down = cleanup_step(Duration::from_millis(10), transient, || {
            calls.set(calls.get() + 1);
            async {
                Err::<(), _>(CloudError::provider(
                    "x",
                    "delete",
                    ErrorKind::Unavailable,
                    "",
                ))
            }
        })
        .await;
        assert_eq!(always_down.unwrap_err().kind(), ErrorKind::Unavailable);
        assert_eq!(calls.get(), CLEANUP_ATTEMPTS);
        // 10 ms, then 20 ms: the backoff doubles.
        assert_eq!(started.elapsed(), Duration::from_millis(30));

        calls.set(0);
        let refused = cleanup_step(Duration::from_millis(10), transient, || {
            calls.set(calls.get() + 1);
            async {
                Err::<(), _>(CloudError::provider(
                    "x",
                    "delete",
                    ErrorKind::Conflict,
                    "in use",
                ))
            }
        })
        .await;
        assert_eq!(refused.unwrap_err().kind(), ErrorKind::Conflict);
        assert_eq!(calls.get(), 1);

        calls.set(0);
        let second_time = cleanup_step(Duration::from_millis(10), transient, || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n == 1 {
                    Err(CloudError::provider("x", "delete", ErrorKind::Timeout, ""))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(second_time.unwrap(), 2);
    }
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn failure(retry: Retry, delivery: Delivery) -> CloudError {
        CloudError::provider("x", "op", ErrorKind::Internal, "failed")
            .with_retry(retry)
            .with_delivery(delivery)
    }

    #[test]
    fn retry_decisions() {
        use Delivery::{Answered, NotSent, Unknown};
        let throttled = Retry::Throttled { after: None };
        let cases = [
            (Retry::Transient, NotSent, false, true),
            (Retry::Transient, Unknown, false, false),
            (Retry::Transient, Answered, false, false),
            (Retry::Transient, Unknown, true, true),
            (Retry::Transient, Answered, true, true),
            (throttled, Answered, false, true),
            (Retry::Never, NotSent, true, false),
            (Retry::Never, Answered, true, false),
            (Retry::Exhausted, Answered, true, false),
        ];
        for (retry, delivery, idempotent, expected) in cases {
            assert_eq!(
                RetryDriver::should_retry(&failure(retry, delivery), idempotent),
                expected,
                "{retry:?} {delivery:?} idempotent {idempotent}"
            );
        }
    }

    #[test]
    fn backoff_doubles_caps_and_jitters_within_bounds() {
        let policy = RetryPolicy::default()
            .with_max_attempts(6)
            .with_backoff(Duration::from_millis(100), Duration::from_millis(350))
            .with_jitter(false);
        let plain: Vec<Duration> = policy.backoffs().collect();
        // backon multiplies in f32: compare whole milliseconds.
        let millis: Vec<u128> = plain.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, [100, 200, 350, 350, 350]);
        let jittered: Vec<Duration> = policy.with_jitter(true).backoffs().collect();
        assert_eq!(jittered.len(), plain.len());
        for (j, p) in jittered.iter().zip(&plain) {
            assert!(*j >= *p && *j <= *p * 2, "{j:?} vs {p:?}");
        }
        assert_eq!(RetryPolicy::never().backoffs().count(), 0);
        assert_eq!(RetryPolicy::default().with_max_attempts(0).attempts(), 1);
    }

    #[test]
    fn retry_after_wins_when_longer_and_is_capped() {
        let policy = RetryPolicy::default().with_max_retry_after(Duration::from_secs(5));
        let backoff = Duration::from_millis(100);
        assert_eq!(
            policy.wait(backoff, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            policy.wait(backoff, Some(Duration::from_secs(50))),
            Duration::from_secs(5)
        );
        assert_eq!(policy.wait(backoff, Some(Duration::ZERO)), backoff);
        assert_eq!(policy.wait(backoff, None), backoff);
    }

    #[test]
    fn rate_limit_figures() {
        let five = NonZeroU32::new(5).unwrap();
        assert_eq!(
            RateLimit::per_minute(five).period(),
            Duration::from_secs(12)
        );
        assert_eq!(
            RateLimit::per_second(five).period(),
            Duration::from_millis(200)
        );
        assert_eq!(RateLimit::every(Duration::from_secs(12)).burst().get(), 1);
        assert_eq!(
            RateLimit::every(Duration::from_secs(12)).per_minute_figure(),
            5
        );
        assert_eq!(
            RateLimit::every(Duration::from_secs(3600)).per_minute_figure(),
            1
        );
        assert_eq!(
            RateLimit::every(Duration::ZERO).period(),
            Duration::from_nanos(1)
        );
        assert_eq!(
            RateLimit::every(Duration::ZERO).per_minute_figure(),
            u32::MAX
        );
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_refills_on_the_tokio_clock_and_bursts() {
        let limiter = Limiter::new(RateLimit::every(Duration::from_secs(12)));
        assert_eq!(limiter.try_acquire(), Ok(()));
        let wait = limiter.try_acquire().unwrap_err();
        assert!(
            wait > Duration::from_secs(11) && wait <= Duration::from_secs(12),
            "{wait:?}"
        );
        tokio::time::advance(Duration::from_secs(12)).await;
        assert_eq!(limiter.try_acquire(), Ok(()));
        let burst = Limiter::new(RateLimit::per_second(NonZeroU32::new(3).unwrap()));
        for _ in 0..3 {
            assert_eq!(burst.try_acquire(), Ok(()));
        }
        assert!(burst.try_acquire().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn transient_reads_are_retried_until_exhausted_and_honour_retry_after() {
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&events);
        let driver = RetryDriver::new(RetryPolicy::default().with_max_attempts(3)).with_observer(
            Some(Arc::new(move |e: &CallEvent| {
                seen.lock().unwrap().push(e.clone());
            })),
        );
        let calls = AtomicU32::new(0);
        let details = crate::ProviderDetails {
            status: Some(503),
            retry_after: Some(Duration::from_secs(30)),
            ..crate::ProviderDetails::default()
        };
        let err = driver
            .run(&Call::new("get_instance", true), |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                let details = details.clone();
                async move {
                    Err::<(), _>(failure(Retry::Transient, Delivery::Answered).with_source(details))
                }
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(err.retry(), Retry::Exhausted);
        assert_eq!(err.kind(), ErrorKind::Internal);
        let events = events.lock().unwrap();
        assert_eq!(events.len(), 2);
        for event in events.iter() {
            let CallEvent::Retry(retry) = event else {
                panic!("{event:?}");
            };
            assert_eq!(retry.wait, Duration::from_secs(30));
            assert_eq!(retry.status, Some(503));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_create_that_may_have_happened_is_made_once() {
        let driver = RetryDriver::new(RetryPolicy::default());
        let calls = AtomicU32::new(0);
        let err = driver
            .run(&Call::new("create_instance", false).create(), |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(failure(Retry::Transient, Delivery::Unknown)) }
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(err.outcome_unknown());
        assert_eq!(
            err.retry(),
            Retry::Transient,
            "not retried, so not exhausted"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeat_refused_after_a_lost_answer_leaves_the_outcome_unknown() {
        let driver = RetryDriver::new(RetryPolicy::default().with_max_attempts(3));
        let calls = AtomicU32::new(0);
        let err = driver
            .run(&Call::new("create_instance", true).create(), |n| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    let delivery = if n == 1 {
                        Delivery::Unknown
                    } else {
                        Delivery::Answered
                    };
                    Err::<(), _>(failure(Retry::Transient, delivery))
                }
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(
            err.outcome_unknown(),
            "the first attempt may have created: {err:?}"
        );
        assert_eq!(err.retry(), Retry::Exhausted);

        let refused = driver
            .run(&Call::new("create_instance", true).create(), |_| async {
                Err::<(), _>(failure(Retry::Transient, Delivery::Answered))
            })
            .await
            .unwrap_err();
        assert!(!refused.outcome_unknown(), "every attempt was refused");
    }

    #[tokio::test(start_paused = true)]
    async fn a_create_that_never_left_is_retried_and_limited() {
        let driver = RetryDriver::new(RetryPolicy::default())
            .with_create_rate_limit(Some(RateLimit::every(Duration::from_secs(12))));
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let answer = driver
            .run(&Call::new("create_instance", false).create(), |n| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 1 {
                        Err(failure(Retry::Transient, Delivery::NotSent))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(answer, 2);
        // The retry waited for the create limit's next cell, 12 s after the first.
        assert!(
            started.elapsed() >= Duration::from_secs(12),
            "{:?}",
            started.elapsed()
        );
    }
}
