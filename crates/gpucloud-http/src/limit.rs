//! Rate limiting on tokio's clock, so that paused-clock tests see the waits.

use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::config::RateLimit;

/// A governor clock that reads `tokio::time`, as time since the limiter was made.
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

/// A direct (unkeyed) GCRA rate limiter.
pub(crate) struct Limiter {
    clock: TokioClock,
    inner: RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        let clock = TokioClock {
            origin: tokio::time::Instant::now(),
        };
        // `RateLimit` keeps its period above zero, so `with_period` always succeeds; the
        // fallback (one per nanosecond) is the same as no limit.
        let quota = Quota::with_period(limit.period())
            .unwrap_or_else(|| Quota::per_second(std::num::NonZeroU32::MAX))
            .allow_burst(limit.burst());
        Self {
            clock,
            inner: RateLimiter::direct_with_clock(quota, clock),
        }
    }

    /// Takes a cell, or says how long to wait before asking again.
    pub(crate) fn try_acquire(&self) -> Result<(), Duration> {
        self.inner.check().map_err(|not_until| {
            not_until
                .wait_time_from(self.clock.now())
                .max(Duration::from_millis(1))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    #[tokio::test(start_paused = true)]
    async fn refills_on_the_tokio_clock() {
        let limiter = Limiter::new(RateLimit::every(Duration::from_secs(12)));
        assert_eq!(limiter.try_acquire(), Ok(()));
        let wait = limiter.try_acquire().unwrap_err();
        assert!(
            wait > Duration::from_secs(11) && wait <= Duration::from_secs(12),
            "{wait:?}"
        );
        tokio::time::advance(Duration::from_secs(6)).await;
        let wait = limiter.try_acquire().unwrap_err();
        assert!(
            wait > Duration::from_secs(5) && wait <= Duration::from_secs(6),
            "{wait:?}"
        );
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(limiter.try_acquire(), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn bursts() {
        let limiter = Limiter::new(RateLimit::per_second(NonZeroU32::new(3).unwrap()));
        for _ in 0..3 {
            assert_eq!(limiter.try_acquire(), Ok(()));
        }
        assert!(limiter.try_acquire().is_err());
    }
}
