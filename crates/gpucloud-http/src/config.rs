//! Client settings: base URL, timeouts, retry policy, rate limits, user agent, observer.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use gpucloud_core::retry::{CallEvent, Observer, RateLimit, RetryPolicy};
use gpucloud_core::{CloudError, Result};
use url::Url;

/// Something the client did that tests and metrics may want to see: the retry driver's
/// [`CallEvent`], under the name this crate has always used.
pub type HttpEvent = CallEvent;

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
    /// How failures are retried (see [`gpucloud_core::retry::RetryDriver`]).
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
    use gpucloud_core::ErrorKind;

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
