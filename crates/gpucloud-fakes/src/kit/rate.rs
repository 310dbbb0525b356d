//! Request rate limits: token buckets a fake checks before running a request.

use tokio::time::Instant;

/// A rate limit a fake can be told to enforce: `burst` requests at once, then `per_sec`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests allowed at once.
    pub burst: f64,
    /// Sustained requests per second.
    pub per_sec: f64,
}

impl RateLimit {
    /// A full bucket enforcing this limit.
    pub fn bucket(self, now: Instant) -> TokenBucket {
        TokenBucket::new(self.burst, self.per_sec, now)
    }
}

/// A token bucket: `burst` requests at once, refilled at `per_sec`.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    burst: f64,
    per_sec: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket. A `per_sec` of zero or less never refills.
    pub fn new(burst: f64, per_sec: f64, now: Instant) -> Self {
        Self {
            burst,
            per_sec,
            tokens: burst,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        if self.per_sec > 0.0 {
            self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        }
        self.last = now;
    }

    /// Seconds until one token is available (0 when one is).
    fn wait_secs(&self) -> f64 {
        if self.tokens >= 1.0 {
            0.0
        } else if self.per_sec > 0.0 {
            (1.0 - self.tokens) / self.per_sec
        } else {
            f64::from(u32::MAX)
        }
    }

    /// Takes one token, or says how many whole seconds to wait (at least 1), for a
    /// `Retry-After` header.
    pub fn take(&mut self, now: Instant) -> Result<(), u64> {
        take_all(&mut [self], now)
    }
}

/// Takes one token from every bucket, or from none: a request that counts against several
/// limits (e.g. a general one and a launch one) passes only when all allow it. On refusal,
/// the whole seconds until all do (at least 1).
pub fn take_all(buckets: &mut [&mut TokenBucket], now: Instant) -> Result<(), u64> {
    let mut wait: f64 = 0.0;
    for bucket in buckets.iter_mut() {
        bucket.refill(now);
        wait = wait.max(bucket.wait_secs());
    }
    if wait > 0.0 {
        // Saturating float-to-int cast: a never-refilling bucket gives a huge wait, not UB.
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "wait is positive and the cast saturates"
        )]
        return Err((wait.ceil() as u64).max(1));
    }
    for bucket in buckets.iter_mut() {
        bucket.tokens -= 1.0;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_throttle_then_refill() {
        let now = Instant::now();
        let mut bucket = TokenBucket::new(3.0, 1.0, now);
        for _ in 0..3 {
            assert!(bucket.take(now).is_ok());
        }
        assert_eq!(bucket.take(now), Err(1));
        assert!(bucket.take(now + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn all_or_nothing() {
        let now = Instant::now();
        let mut general = TokenBucket::new(5.0, 1.0, now);
        let mut launch = TokenBucket::new(1.0, 1.0 / 12.0, now);
        assert!(take_all(&mut [&mut general, &mut launch], now).is_ok());
        assert_eq!(take_all(&mut [&mut general, &mut launch], now), Err(12));
        // The refused launch took no general token: four remain.
        for _ in 0..4 {
            assert!(general.take(now).is_ok());
        }
        assert_eq!(general.take(now), Err(1));
    }
}
