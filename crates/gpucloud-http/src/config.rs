//! Client settings: base URL, timeouts, retry policy, rate limits, user agent, observer.

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use gpucloud_core::{CloudError, ErrorKind, Result};
use url::Url;

/// How failed requests are retried: exponential backoff with jitter, capped, and a bounded number
/// of attempts. Which failures are retried at all is decided per request (see
/// [`crate::HttpClient`]).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in total, the first included. `1` disables retries; `0` is treated as `1`.
    pub max_attempts: u32,
    /// The wait before the first retry, before jitter.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts computed by backoff.
    pub max_backoff: Duration,
    /// The fraction of each backoff that is randomised away, from `0.0` (none) to `1.0` (full
    /// jitter: anything between zero and the backoff). Values outside `0..=1` are clamped.
    pub jitter: f64,
    /// The longest `Retry-After` honoured. A longer one waits this long instead.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Four attempts, 500 ms doubling up to 20 s, half jitter, `Retry-After` up to 60 s.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            jitter: 0.5,
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

    /// Sets the jitter fraction (`0.0..=1.0`).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
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

    /// The backoff before retry number `retry` (1 for the first retry), without jitter:
    /// `initial_backoff * 2^(retry-1)`, at most `max_backoff`.
    pub fn base_backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(31);
        self.initial_backoff
            .checked_mul(1u32 << exponent)
            .unwrap_or(Duration::MAX)
            .min(self.max_backoff)
    }

    /// The backoff before retry number `retry` with jitter applied. `random` is a sample from
    /// `0.0..1.0` (out-of-range values are clamped); the result lies in
    /// `base * (1 - jitter) ..= base`.
    pub fn backoff(&self, retry: u32, random: f64) -> Duration {
        let base = self.base_backoff(retry);
        let jitter = if self.jitter.is_nan() {
            0.0
        } else {
            self.jitter.clamp(0.0, 1.0)
        };
        let random = if random.is_nan() {
            0.0
        } else {
            random.clamp(0.0, 1.0)
        };
        base.mul_f64(1.0 - jitter * random)
    }

    /// The wait before retry number `retry`: the jittered backoff, or the server's
    /// `Retry-After` (capped by `max_retry_after`) when that is longer.
    pub fn wait(&self, retry: u32, random: f64, retry_after: Option<Duration>) -> Duration {
        let backoff = self.backoff(retry, random);
        match retry_after {
            Some(after) => backoff.max(after.min(self.max_retry_after)),
            None => backoff,
        }
    }
}

/// A rate: at most `burst` requests at once, refilled at one request per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    period: Duration,
    burst: NonZeroU32,
}

impl RateLimit {
    /// `n` requests per second, in bursts of up to `n`.
    pub fn per_second(n: NonZeroU32) -> Self {
        Self {
            period: Duration::from_secs(1) / n.get(),
            burst: n,
        }
    }

    /// `n` requests per minute, in bursts of up to `n`.
    pub fn per_minute(n: NonZeroU32) -> Self {
        Self {
            period: Duration::from_secs(60) / n.get(),
            burst: n,
        }
    }

    /// One request per `period`, no burst (Lambda's launch limit is `every(12 s)`). A zero period
    /// is raised to one nanosecond.
    pub fn every(period: Duration) -> Self {
        Self {
            period: period.max(Duration::from_nanos(1)),
            burst: NonZeroU32::MIN,
        }
    }

    /// Allows bursts of up to `burst` requests.
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
}

/// Something the client did that tests and metrics may want to see. Sent to the observer set
/// with [`HttpConfig::with_observer`] before the client sleeps.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HttpEvent {
    /// An attempt failed and the request will be sent again after `wait`.
    Retry(RetryEvent),
    /// A rate limiter delays a request by `wait`.
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
    /// How long the client sleeps before the next attempt.
    pub wait: Duration,
    /// What the failure meant.
    pub kind: ErrorKind,
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
    /// The server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
}

/// A rate-limit delay.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RateLimitEvent {
    /// The operation being delayed.
    pub operation: &'static str,
    /// True for the create limiter, false for the requests-per-second limiter.
    pub create: bool,
    /// How long the client sleeps before checking the limiter again.
    pub wait: Duration,
}

/// A callback that sees every [`HttpEvent`].
pub type Observer = Arc<dyn Fn(&HttpEvent) + Send + Sync>;

/// Settings of an [`crate::HttpClient`]. Start from [`HttpConfig::new`] or `Default` and use the
/// `with_*` setters.
#[derive(Clone)]
#[non_exhaustive]
pub struct HttpConfig {
    /// The API's base URL; request paths are appended to it. Must be `https`, or `http` on a
    /// loopback host. Required: [`crate::HttpClient::new`] refuses a config without one.
    pub base_url: Option<Url>,
    /// The longest time to establish a connection (TCP and TLS). `None`: no limit.
    pub connect_timeout: Option<Duration>,
    /// The longest time for a whole attempt, from connecting to the last body byte. `None`: no
    /// limit. A request may override it.
    pub request_timeout: Option<Duration>,
    /// How failures are retried.
    pub retry: RetryPolicy,
    /// A limit on all requests of this client, `None` for none.
    pub rate_limit: Option<RateLimit>,
    /// A separate limit on requests marked as creates, `None` for none.
    pub create_rate_limit: Option<RateLimit>,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// A callback for retries and rate-limit delays.
    pub observer: Option<Observer>,
}

impl Default for HttpConfig {
    /// No base URL, connect timeout 10 s, request timeout 60 s, [`RetryPolicy::default`], no rate
    /// limits, user agent `gpucloud/<version>`.
    fn default() -> Self {
        Self {
            base_url: None,
            connect_timeout: Some(Duration::from_secs(10)),
            request_timeout: Some(Duration::from_secs(60)),
            retry: RetryPolicy::default(),
            rate_limit: None,
            create_rate_limit: None,
            user_agent: concat!("gpucloud/", env!("CARGO_PKG_VERSION")).to_owned(),
            observer: None,
        }
    }
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("base_url", &self.base_url.as_ref().map(Url::as_str))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .field("create_rate_limit", &self.create_rate_limit)
            .field("user_agent", &self.user_agent)
            .field("observer", &self.observer.as_ref().map(|_| "<fn>"))
            .finish()
    }
}

impl HttpConfig {
    /// Defaults with `base_url` parsed and checked (see [`check_base_url`]).
    pub fn new(base_url: &str) -> Result<Self> {
        Ok(Self::default().with_base_url(parse_base_url(base_url)?))
    }

    /// Sets the base URL. It is checked by [`crate::HttpClient::new`].
    pub fn with_base_url(mut self, url: Url) -> Self {
        self.base_url = Some(url);
        self
    }

    /// Sets the connect timeout (`None`: no limit).
    pub fn with_connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.connect_timeout = timeout.into();
        self
    }

    /// Sets the whole-request timeout (`None`: no limit).
    pub fn with_request_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.request_timeout = timeout.into();
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the limit on all requests.
    pub fn with_rate_limit(mut self, limit: impl Into<Option<RateLimit>>) -> Self {
        self.rate_limit = limit.into();
        self
    }

    /// Sets the separate limit on create requests.
    pub fn with_create_rate_limit(mut self, limit: impl Into<Option<RateLimit>>) -> Self {
        self.create_rate_limit = limit.into();
        self
    }

    /// Sets the `User-Agent` header.
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Sets a callback that sees every retry and rate-limit delay before the client sleeps.
    pub fn with_observer(mut self, observer: impl Fn(&HttpEvent) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Checks the settings: a base URL is set and acceptable.
    pub fn validate(&self) -> Result<()> {
        match &self.base_url {
            Some(url) => check_base_url(url),
            None => Err(CloudError::configuration(
                "no base URL is set for the HTTP client",
            )),
        }
    }
}

/// Parses a base URL and checks it with [`check_base_url`].
pub fn parse_base_url(text: &str) -> Result<Url> {
    let url = Url::parse(text.trim()).map_err(|e| {
        CloudError::configuration(format!("base URL {text:?} is not a valid URL: {e}"))
    })?;
    check_base_url(&url)?;
    Ok(url)
}

/// Accepts `https` URLs, and `http` URLs only on a loopback host (`localhost`, `127.0.0.0/8`,
/// `::1`), so that credentials never cross a network in clear text. URLs with user info, a query
/// or a fragment are refused too.
pub fn check_base_url(url: &Url) -> Result<()> {
    let shown = without_query(url);
    match url.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback(url) {
                return Err(CloudError::configuration(format!(
                    "base URL {shown} uses plain http to a non-loopback host; use https (plain http \
                     is only allowed to localhost, 127.0.0.0/8 and ::1)"
                )));
            }
        }
        other => {
            return Err(CloudError::configuration(format!(
                "base URL {shown} has scheme {other:?}; use https"
            )));
        }
    }
    if url.host().is_none() {
        return Err(CloudError::configuration(format!(
            "base URL {shown} has no host"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CloudError::configuration(
            "base URL must not contain a user name or password; pass the key as the credential",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(CloudError::configuration(format!(
            "base URL {shown} must not contain a query or fragment"
        )));
    }
    Ok(())
}

fn without_query(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => {
            domain.eq_ignore_ascii_case("localhost") || domain.eq_ignore_ascii_case("localhost.")
        }
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = RetryPolicy::default()
            .with_backoff(Duration::from_millis(100), Duration::from_millis(350))
            .with_jitter(0.0);
        assert_eq!(policy.base_backoff(1), Duration::from_millis(100));
        assert_eq!(policy.base_backoff(2), Duration::from_millis(200));
        assert_eq!(policy.base_backoff(3), Duration::from_millis(350));
        assert_eq!(policy.base_backoff(u32::MAX), Duration::from_millis(350));
        assert_eq!(policy.backoff(2, 0.99), Duration::from_millis(200));
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let policy = RetryPolicy::default()
            .with_backoff(Duration::from_secs(1), Duration::from_secs(10))
            .with_jitter(0.5);
        assert_eq!(policy.backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(policy.backoff(1, 1.0), Duration::from_millis(500));
        assert_eq!(policy.backoff(1, 7.0), Duration::from_millis(500));
        assert_eq!(policy.backoff(1, f64::NAN), Duration::from_secs(1));
        let full = policy.with_jitter(3.0);
        assert_eq!(full.backoff(1, 1.0), Duration::ZERO);
    }

    #[test]
    fn retry_after_wins_when_longer_and_is_capped() {
        let policy = RetryPolicy::default()
            .with_backoff(Duration::from_millis(100), Duration::from_secs(1))
            .with_jitter(0.0)
            .with_max_retry_after(Duration::from_secs(5));
        assert_eq!(
            policy.wait(1, 0.0, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            policy.wait(1, 0.0, Some(Duration::from_secs(50))),
            Duration::from_secs(5)
        );
        assert_eq!(
            policy.wait(1, 0.0, Some(Duration::ZERO)),
            Duration::from_millis(100)
        );
        assert_eq!(policy.wait(1, 0.0, None), Duration::from_millis(100));
    }

    #[test]
    fn zero_attempts_means_one() {
        assert_eq!(RetryPolicy::default().with_max_attempts(0).attempts(), 1);
        assert_eq!(RetryPolicy::never().attempts(), 1);
    }

    #[test]
    fn rate_limits() {
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
            RateLimit::every(Duration::ZERO).period(),
            Duration::from_nanos(1)
        );
    }

    #[test]
    fn base_urls() {
        for ok in [
            "https://cloud.lambda.ai/api/v1/",
            "http://127.0.0.1:8080/",
            "http://127.1.2.3/",
            "http://[::1]:9/api",
            "http://localhost:3000",
            "http://LOCALHOST/",
        ] {
            assert!(parse_base_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://cloud.lambda.ai/api/v1/",
            "http://10.0.0.1/",
            "http://localhost.example.com/",
            "ftp://127.0.0.1/",
            "https://user:pw@example.com/",
            "https://example.com/?key=1",
            "not a url",
        ] {
            let err = parse_base_url(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Configuration, "{bad}");
        }
        let err = parse_base_url("http://api.example.com/")
            .unwrap_err()
            .to_string();
        assert!(err.contains("plain http") && err.contains("https"), "{err}");
        assert!(HttpConfig::default().validate().is_err());
    }
}
