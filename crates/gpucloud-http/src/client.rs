//! The HTTP client: one request, retried and rate-limited, with classified errors.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::de::{DeserializeOwned, DeserializeSeed};
use tracing::{Instrument, field};
use url::Url;

use gpucloud_core::{BoxError, CloudError, ErrorKind, ProviderDetails, Result, Retry};

use crate::classify::{Classify, request_id};
use crate::config::{HttpConfig, HttpEvent, Observer, RateLimitEvent, RetryEvent, RetryPolicy};
use crate::key::Auth;
use crate::limit::Limiter;
use crate::request::{HttpResponse, Request};
use crate::retry_after::retry_after;

/// The statuses that may be retried (when the classifier agrees and the request is safe to
/// repeat).
pub const RETRY_STATUSES: [u16; 4] = [429, 502, 503, 504];

/// The longest provider message kept in an error's one-line message, in characters.
const MAX_MESSAGE_CHARS: usize = 500;

/// The number of body characters quoted in a decode error's message.
const DECODE_SNIPPET_CHARS: usize = 200;

/// An HTTP client for one provider's REST API. Cheap to clone (an `Arc` inside); clones share the
/// connection pool and the rate limiters.
///
/// # Retries
///
/// An attempt is retried, with [`RetryPolicy`] backoff and jitter, when the classifier says the
/// failure is retryable and:
///
/// - the server answered 429, 502, 503 or 504 and the request is idempotent, or
/// - the server answered 429 (explicit throttling), whatever the method, or
/// - the transport failed (timeout, reset) and the request is idempotent, or
/// - the connection could not be established (the request provably never reached the server).
///
/// So a non-idempotent `POST` that times out or gets a 503 is not sent again: its fate is unknown
/// and only the provider can tell (look it up). `Retry-After` (seconds or HTTP-date) on 429 and
/// 503 is honoured up to [`RetryPolicy::max_retry_after`]. When the attempts run out the error's
/// retry class is [`Retry::Exhausted`] and its kind is kept.
///
/// # Errors
///
/// Every failure is a [`CloudError::Provider`]. For an HTTP error answer its `source()` is a
/// [`ProviderDetails`] with the status, the provider's code and message, the request id and the
/// start of the body, the API key scrubbed from all of them. Transport failures keep the
/// `reqwest` error (without the URL) as the source.
///
/// # Logs
///
/// One `http_request` span per call, with `provider`, `operation`, `method`, `path` (never the
/// query), `attempt`, `status` and `latency_ms`. Headers, bodies and keys are never logged.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    provider: String,
    base_url: Url,
    http: reqwest::Client,
    auth: Auth,
    /// The `Authorization` header value, built once (marked sensitive, so never logged).
    authorization: Option<HeaderValue>,
    classifier: Box<dyn Classify>,
    retry: RetryPolicy,
    limiter: Option<Limiter>,
    create_limiter: Option<Limiter>,
    observer: Option<Observer>,
    config: HttpConfig,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("provider", &self.inner.provider)
            .field("auth", &self.inner.auth)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Why one attempt failed.
struct Failure {
    kind: ErrorKind,
    retry: Retry,
    message: String,
    source: Option<BoxError>,
    status: Option<StatusCode>,
    reached_server: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    /// Whether this failure may be retried for a request of this idempotency.
    fn may_retry(&self, idempotent: bool) -> bool {
        if !self.retry.is_retryable() {
            return false;
        }
        match self.status {
            Some(status) => {
                RETRY_STATUSES.contains(&status.as_u16())
                    && (idempotent || status == StatusCode::TOO_MANY_REQUESTS)
            }
            None => idempotent || !self.reached_server,
        }
    }
}

impl HttpClient {
    /// A client for `provider_id` (used in errors and logs). Fails with
    /// [`CloudError::Configuration`] when the base URL is missing or not acceptable (see
    /// [`crate::check_base_url`]) or the TLS stack cannot be set up.
    pub fn new(
        provider_id: &str,
        config: HttpConfig,
        auth: Auth,
        classifier: impl Classify + 'static,
    ) -> Result<Self> {
        config.validate()?;
        let Some(base_url) = config.base_url.clone() else {
            return Err(CloudError::configuration(
                "no base URL is set for the HTTP client",
            ));
        };
        let mut builder = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .https_only(base_url.scheme() == "https");
        if let Some(timeout) = config.connect_timeout {
            builder = builder.connect_timeout(timeout);
        }
        if let Some(timeout) = config.request_timeout {
            builder = builder.timeout(timeout);
        }
        let authorization = authorization(&auth).map_err(|problem| {
            CloudError::configuration(format!(
                "the API key for {provider_id} cannot be sent in an HTTP header: {problem}"
            ))
        })?;
        let http = builder.build().map_err(|e| {
            CloudError::configuration(format!(
                "cannot build the HTTP client for {provider_id}: {}",
                error_chain(&e)
            ))
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                provider: provider_id.to_owned(),
                base_url,
                http,
                auth,
                authorization,
                classifier: Box::new(classifier),
                retry: config.retry,
                limiter: config.rate_limit.map(Limiter::new),
                create_limiter: config.create_rate_limit.map(Limiter::new),
                observer: config.observer.clone(),
                config,
            }),
        })
    }

    /// The provider id given to [`HttpClient::new`].
    pub fn provider(&self) -> &str {
        &self.inner.provider
    }

    /// The settings the client was made with.
    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// Replaces every occurrence of the API key in `text` with `<redacted>`, for providers that
    /// build their own error text from response data.
    pub fn redact(&self, text: &str) -> String {
        self.inner.auth.redact(text)
    }

    /// `GET path?query` and decode the JSON answer as `T`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T> {
        self.send_json(with_query(Request::get(operation, path), query))
            .await
    }

    /// `GET path?query` and return the raw body.
    pub async fn get_bytes(
        &self,
        operation: &'static str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Bytes> {
        Ok(self
            .send(with_query(Request::get(operation, path), query))
            .await?
            .body)
    }

    /// Sends `request` and decodes the JSON answer as `T`. An empty body decodes as JSON `null`
    /// (so `()` and `Option<_>` accept a `204 No Content`). A body that is not a `T` is an
    /// [`ErrorKind::Decode`] error naming the serde error and quoting the start of the body.
    pub async fn send_json<T: DeserializeOwned>(&self, request: Request) -> Result<T> {
        self.send_json_seed(request, std::marker::PhantomData::<T>)
            .await
    }

    /// Like [`HttpClient::send_json`], but decodes the body with a [`DeserializeSeed`]: the
    /// provider can process each element of a large answer as it is parsed (filter, convert)
    /// instead of building an intermediate collection first. Same empty-body and error rules.
    pub async fn send_json_seed<S, T>(&self, request: Request, seed: S) -> Result<T>
    where
        S: for<'de> DeserializeSeed<'de, Value = T>,
    {
        let operation = request.operation;
        let response = self.send(request).await?;
        self.decode(operation, &response, seed)
    }

    /// Sends `request` with retries and rate limits and returns the 2xx response. Any other
    /// status is an error classified by the provider's [`Classify`] hook.
    pub async fn send(&self, request: Request) -> Result<HttpResponse> {
        let span = tracing::info_span!(
            "http_request",
            provider = %self.inner.provider,
            operation = request.operation,
            method = %request.method,
            path = %request.path,
            attempt = field::Empty,
            status = field::Empty,
            latency_ms = field::Empty,
        );
        self.send_with_retries(&request, &span)
            .instrument(span.clone())
            .await
    }

    async fn send_with_retries(
        &self,
        request: &Request,
        span: &tracing::Span,
    ) -> Result<HttpResponse> {
        let url = self.url_for(&request.path);
        let policy = self.inner.retry;
        let max_attempts = policy.attempts();
        let mut attempt = 0;
        loop {
            attempt += 1;
            span.record("attempt", attempt);
            self.wait_for_rate_limits(request).await;
            let started = tokio::time::Instant::now();
            let outcome = self.attempt(request, &url).await;
            let latency_ms = started.elapsed().as_millis() as u64;
            span.record("latency_ms", latency_ms);
            let failure = match outcome {
                Ok(response) => {
                    span.record("status", response.status.as_u16());
                    tracing::debug!(
                        attempt,
                        status = response.status.as_u16(),
                        latency_ms,
                        "request succeeded"
                    );
                    return Ok(response);
                }
                Err(failure) => failure,
            };
            if let Some(status) = failure.status {
                span.record("status", status.as_u16());
            }
            let status = failure.status.map(|s| s.as_u16());
            if !failure.may_retry(request.idempotent) {
                tracing::debug!(attempt, status, latency_ms, kind = ?failure.kind, "request failed");
                return Err(self.error_from(request.operation, failure));
            }
            if attempt >= max_attempts {
                tracing::debug!(attempt, status, latency_ms, kind = ?failure.kind, "request failed, attempts exhausted");
                let retry = if max_attempts > 1 {
                    Retry::Exhausted
                } else {
                    failure.retry
                };
                return Err(self
                    .error_from(request.operation, failure)
                    .with_retry(retry));
            }
            let wait = policy.wait(attempt, rand::random::<f64>(), failure.retry_after);
            tracing::info!(
                attempt,
                status,
                latency_ms,
                kind = ?failure.kind,
                wait_ms = wait.as_millis() as u64,
                "request failed, retrying"
            );
            self.notify(&HttpEvent::Retry(RetryEvent {
                operation: request.operation,
                attempt,
                wait,
                kind: failure.kind,
                status,
                retry_after: failure.retry_after,
            }));
            tokio::time::sleep(wait).await;
        }
    }

    async fn wait_for_rate_limits(&self, request: &Request) {
        if request.create
            && let Some(limiter) = &self.inner.create_limiter
        {
            self.acquire(limiter, true, request.operation).await;
        }
        if let Some(limiter) = &self.inner.limiter {
            self.acquire(limiter, false, request.operation).await;
        }
    }

    async fn acquire(&self, limiter: &Limiter, create: bool, operation: &'static str) {
        while let Err(wait) = limiter.try_acquire() {
            tracing::debug!(
                create,
                wait_ms = wait.as_millis() as u64,
                "rate limited locally"
            );
            self.notify(&HttpEvent::RateLimited(RateLimitEvent {
                operation,
                create,
                wait,
            }));
            tokio::time::sleep(wait).await;
        }
    }

    fn notify(&self, event: &HttpEvent) {
        if let Some(observer) = &self.inner.observer {
            observer(event);
        }
    }

    /// The base URL with `path` appended (built once per call, not per attempt).
    fn url_for(&self, path: &str) -> Url {
        let mut url = self.inner.base_url.clone();
        let relative = path.trim_start_matches('/');
        if !relative.is_empty() {
            let base = url.path().trim_end_matches('/');
            let mut joined = String::with_capacity(base.len() + 1 + relative.len());
            joined.push_str(base);
            joined.push('/');
            joined.push_str(relative);
            url.set_path(&joined);
        }
        url
    }

    async fn attempt(&self, request: &Request, url: &Url) -> Result<HttpResponse, Failure> {
        let mut builder = self
            .inner
            .http
            .request(request.method.clone(), url.clone())
            .header(header::ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(value) = &self.inner.authorization {
            builder = builder.header(header::AUTHORIZATION, value.clone());
        }
        if !request.headers.is_empty() {
            builder = builder.headers(request.headers.clone());
        }
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(body) = &request.body {
            builder = builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        if let Some(timeout) = request.timeout {
            builder = builder.timeout(timeout);
        }
        let mut response = builder
            .send()
            .await
            .map_err(|e| self.transport_failure(e, false))?;
        let status = response.status();
        // Taken, not cloned: the body is read next and the response is then gone.
        let headers = std::mem::take(response.headers_mut());
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_failure(e, true))?;
        if status.is_success() {
            return Ok(HttpResponse {
                status,
                headers,
                body,
            });
        }
        Err(self.http_failure(status, &headers, &body))
    }

    fn transport_failure(&self, error: reqwest::Error, answered: bool) -> Failure {
        let error = error.without_url();
        let timed_out = error.is_timeout();
        let connect = error.is_connect() && !answered;
        let chain = self.redact(&error_chain(&error));
        let (kind, message) = match (timed_out, connect) {
            (true, true) => (ErrorKind::Timeout, format!("timed out connecting: {chain}")),
            (true, false) => (ErrorKind::Timeout, format!("request timed out: {chain}")),
            (false, true) => (ErrorKind::Unavailable, format!("cannot connect: {chain}")),
            (false, false) => (
                ErrorKind::Unavailable,
                format!("connection failed: {chain}"),
            ),
        };
        Failure {
            kind,
            retry: Retry::Transient,
            message,
            source: Some(Box::new(error)),
            status: None,
            reached_server: !connect,
            retry_after: None,
        }
    }

    fn http_failure(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Failure {
        let class = self.inner.classifier.classify(status, headers, body);
        let throttled = matches!(status.as_u16(), 429 | 503);
        let after = if throttled {
            retry_after(headers, SystemTime::now())
        } else {
            None
        };
        let retry = match class.retry {
            Retry::Throttled { after: None } => Retry::Throttled { after },
            other => other,
        };
        let details = ProviderDetails {
            status: Some(status.as_u16()),
            code: class.code.map(|code| self.redact(&code)),
            message: class.message.map(|message| self.redact(&message)),
            request_id: class
                .request_id
                .or_else(|| request_id(headers))
                .map(|id| self.redact(&id)),
            body: self.body_excerpt(body),
        };
        let mut message = format!("HTTP {}", status.as_u16());
        if let Some(code) = &details.code {
            message.push(' ');
            message.push_str(&truncate_chars(code, MAX_MESSAGE_CHARS));
        }
        match &details.message {
            Some(text) => {
                message.push_str(": ");
                message.push_str(&truncate_chars(text, MAX_MESSAGE_CHARS));
            }
            None => {
                if let Some(reason) = status.canonical_reason() {
                    message.push(' ');
                    message.push_str(reason);
                }
            }
        }
        Failure {
            kind: class.kind,
            retry,
            message,
            source: Some(Box::new(details)),
            status: Some(status),
            reached_server: true,
            retry_after: after,
        }
    }

    fn body_excerpt(&self, body: &[u8]) -> Option<String> {
        if body.is_empty() {
            return None;
        }
        Some(ProviderDetails::truncate_body(
            &self.redact(&String::from_utf8_lossy(body)),
        ))
    }

    fn error_from(&self, operation: &'static str, failure: Failure) -> CloudError {
        let error = CloudError::provider(
            self.inner.provider.clone(),
            operation,
            failure.kind,
            failure.message,
        )
        .with_retry(failure.retry);
        match failure.source {
            Some(source) => error.with_source(source),
            None => error,
        }
    }

    /// Decodes the body once, straight from the bytes; the error text is built only on failure.
    fn decode<S, T>(&self, operation: &'static str, response: &HttpResponse, seed: S) -> Result<T>
    where
        S: for<'de> DeserializeSeed<'de, Value = T>,
    {
        let body: &[u8] = &response.body;
        let json: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            body
        };
        // One UTF-8 check of the whole body (word at a time) is cheaper than serde_json's check of
        // every string on its own; a body that is not UTF-8 is left to the byte parser, which
        // reports where it breaks.
        let parsed = match std::str::from_utf8(json) {
            Ok(text) => decode_with(serde_json::Deserializer::from_str(text), seed),
            Err(_) => decode_with(serde_json::Deserializer::from_slice(json), seed),
        };
        parsed.map_err(|e| {
            let text = self.redact(&String::from_utf8_lossy(body));
            let snippet = truncate_chars(&text, DECODE_SNIPPET_CHARS);
            let details = ProviderDetails {
                status: Some(response.status.as_u16()),
                code: None,
                message: Some(e.to_string()),
                request_id: request_id(&response.headers).map(|id| self.redact(&id)),
                body: self.body_excerpt(body),
            };
            CloudError::provider(
                self.inner.provider.clone(),
                operation,
                ErrorKind::Decode,
                format!("unexpected response body: {e}; body starts with {snippet:?}"),
            )
            .with_retry(Retry::Never)
            .with_source(details)
        })
    }
}

/// Runs `seed` on the whole input and checks that nothing but whitespace follows.
fn decode_with<'de, R, S>(
    mut deserializer: serde_json::Deserializer<R>,
    seed: S,
) -> serde_json::Result<S::Value>
where
    R: serde_json::de::Read<'de>,
    S: DeserializeSeed<'de>,
{
    let value = seed.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// The `Authorization` header value of a scheme, marked sensitive; `Err` names what is wrong with
/// the key (never the key).
fn authorization(auth: &Auth) -> std::result::Result<Option<HeaderValue>, &'static str> {
    let text = match auth {
        Auth::None => return Ok(None),
        Auth::Bearer(key) => format!("Bearer {}", key.expose()),
        Auth::Basic(key) => {
            use base64::Engine as _;
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{}:", key.expose()));
            format!("Basic {encoded}")
        }
    };
    let mut value = HeaderValue::from_str(&text)
        .map_err(|_| "it contains characters that are not allowed in a header (control characters or non-ASCII)")?;
    value.set_sensitive(true);
    Ok(Some(value))
}

fn with_query(mut request: Request, query: &[(&str, &str)]) -> Request {
    for (name, value) in query {
        request = request.query(*name, *value);
    }
    request
}

/// `error: source: source ...`, each distinct message once.
fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate_chars("abc", 5), "abc");
        assert_eq!(truncate_chars("ééé", 2), "éé...");
    }
}
