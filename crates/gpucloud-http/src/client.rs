//! The HTTP client: one request, retried and rate-limited by the core retry driver, with
//! classified errors.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::Poll;
use std::time::SystemTime;

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde::de::{DeserializeOwned, DeserializeSeed};
use tokio::time::Sleep;
use tracing::{Instrument, field};
use url::Url;

use gpucloud_core::retry::{Call, RetryDriver};
use gpucloud_core::{CloudError, Delivery, ErrorKind, ProviderDetails, Result, Retry};

use crate::classify::{Classify, request_id};
use crate::config::HttpConfig;
use crate::key::Auth;
use crate::request::{HttpResponse, Request};
use crate::retry_after::retry_after;

/// The longest provider message kept in an error's one-line message, in characters.
const MAX_MESSAGE_CHARS: usize = 500;

/// An HTTP client for one provider's REST API. Cheap to clone (an `Arc` inside); clones share the
/// connection pool and the rate limiters.
///
/// # Retries
///
/// Every call goes through a [`RetryDriver`] (rate limits, backoff with jitter, `Retry-After`
/// up to [`gpucloud_core::retry::RetryPolicy::max_retry_after`], attempts): a throttled answer
/// (429) is retried whatever the method; a transient failure (a 5xx but 501, 408, a timeout, a
/// reset, an unreadable 2xx body) only when the request is idempotent (see
/// [`Request::idempotent`]), or when the connection could not be made at all. So a
/// non-idempotent `POST` that times out or gets a 500 is not sent again: its error says
/// [`CloudError::outcome_unknown`] and only the provider can tell (look it up).
///
/// # Errors
///
/// Every failure is a [`CloudError::Provider`] whose [`CloudError::delivery`] says whether the
/// request reached the server: [`Delivery::NotSent`] when the connection could not be made,
/// [`Delivery::Unknown`] when it was sent and no usable answer came back (reset, timeout, a 2xx
/// whose body cannot be read or decoded) or the status leaves the outcome open (500, 502, 504,
/// see [`gpucloud_core::status::http_status`]), [`Delivery::Answered`] otherwise. For an HTTP
/// error answer the one-line message has the status, the provider's code, message and request
/// id, and `source()` is a [`ProviderDetails`] with those and the start of the body, the API key
/// scrubbed from all of them. Transport failures keep the `reqwest` error (without the URL) as
/// the source.
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
    /// Built on the first request, not with the client: a command answered without the network
    /// (offers from the catalog cache) then never loads the system's root certificates, which
    /// was two fifths of a warm `gpucloud offers` (callgrind, crates/gpucloud README).
    http: OnceLock<reqwest::Client>,
    auth: Auth,
    /// The authentication header and its value, built once (marked sensitive, so never logged).
    authorization: Option<(HeaderName, HeaderValue)>,
    classifier: Box<dyn Classify>,
    driver: RetryDriver,
    config: HttpConfig,
    /// The last path's URL: a call repeats the path of the one before it more often than not
    /// (a waiter polling one instance, a list refreshed), and joining a path to the base URL
    /// re-parses the whole path.
    last_url: Mutex<Option<(String, Url)>>,
    /// The timer of the last attempt that finished, still armed, with the runtime it belongs
    /// to: see [`HttpClient::timed_attempt`].
    spare_timer: Mutex<Option<(tokio::runtime::Id, Pin<Box<Sleep>>)>>,
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

impl HttpClient {
    /// A client for `provider_id` (used in errors and logs). Fails with
    /// [`CloudError::Configuration`] when the base URL is missing or not acceptable (see
    /// [`crate::check_base_url`]). The connection pool and TLS stack are set up by the first
    /// request, which fails with [`CloudError::Configuration`] when they cannot be.
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
        let authorization = authorization(&auth).map_err(|problem| {
            CloudError::configuration(format!(
                "the API key for {provider_id} cannot be sent in an HTTP header: {problem}"
            ))
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                provider: provider_id.to_owned(),
                base_url,
                http: OnceLock::new(),
                auth,
                authorization,
                classifier: Box::new(classifier),
                driver: RetryDriver::new(config.retry)
                    .with_rate_limit(config.rate_limit)
                    .with_create_rate_limit(config.create_rate_limit)
                    .with_observer(config.observer.clone()),
                config,
                last_url: Mutex::new(None),
                spare_timer: Mutex::new(None),
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

    /// Sends `request` and decodes the JSON answer as `T`. An empty body decodes as JSON `null`
    /// (so `()` and `Option<_>` accept a `204 No Content`). A 2xx body that is not a `T` is an
    /// [`ErrorKind::Decode`] error with [`Delivery::Unknown`] (the request may have been carried
    /// out), naming the serde error; decoding is part of the attempt, so an idempotent request
    /// whose answer arrives cut or garbled is retried like any other transient failure.
    pub async fn send_json<T: DeserializeOwned>(&self, request: Request) -> Result<T> {
        let operation = request.operation;
        self.run(&request, |response| {
            self.decode(operation, &response, std::marker::PhantomData::<T>)
        })
        .await
    }

    /// Like [`HttpClient::send_json`], but decodes the body with a [`DeserializeSeed`]: the
    /// provider can process each element of a large answer as it is parsed (filter, convert)
    /// instead of building an intermediate collection first. Same empty-body, error and retry
    /// rules, and the body is parsed once.
    ///
    /// `make_seed` makes a fresh seed for every attempt, and a seed returns what it builds as
    /// its value rather than acting outside: an idempotent request whose answer arrives cut or
    /// garbled is retried like in [`HttpClient::send_json`], and what the seed built from the
    /// spoiled answer is dropped with it.
    pub async fn send_json_seed<S, T>(
        &self,
        request: Request,
        make_seed: impl Fn() -> S,
    ) -> Result<T>
    where
        S: for<'de> DeserializeSeed<'de, Value = T>,
    {
        let operation = request.operation;
        self.run(&request, |response| {
            self.decode(operation, &response, make_seed())
        })
        .await
    }

    /// Sends `request` with retries and rate limits and returns the 2xx response. Any other
    /// status is an error classified by the provider's [`Classify`] hook.
    pub async fn send(&self, request: Request) -> Result<HttpResponse> {
        self.run(&request, Ok).await
    }

    /// Runs `request` through the retry driver; `accept` turns a 2xx answer into the result
    /// (its failure counts as a failed attempt).
    async fn run<T>(
        &self,
        request: &Request,
        accept: impl Fn(HttpResponse) -> Result<T>,
    ) -> Result<T> {
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
        let url = self.url_for(&request.path);
        let mut call = Call::new(request.operation, request.idempotent);
        if request.create {
            call = call.create();
        }
        let accept = &accept;
        let url = &url;
        let attempt_span = span.clone();
        self.inner
            .driver
            .run(&call, move |attempt| {
                let span = attempt_span.clone();
                async move {
                    span.record("attempt", attempt);
                    let started = tokio::time::Instant::now();
                    let outcome = self.timed_attempt(request, url).await;
                    let latency_ms =
                        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    span.record("latency_ms", latency_ms);
                    if let Some(status) = outcome.as_ref().map_or_else(
                        |e| e.provider_details().and_then(|d| d.status),
                        |r| Some(r.status.as_u16()),
                    ) {
                        span.record("status", status);
                    }
                    let response = outcome?;
                    tracing::debug!(
                        attempt,
                        status = response.status.as_u16(),
                        latency_ms,
                        "request answered"
                    );
                    accept(response)
                }
            })
            .instrument(span)
            .await
    }

    /// The base URL with `path` appended (built once per call, not per attempt; the last
    /// path's URL is kept and handed out again for the same path).
    fn url_for(&self, path: &str) -> Url {
        let last = |guard: &Option<(String, Url)>| {
            guard
                .as_ref()
                .filter(|(seen, _)| seen == path)
                .map(|(_, url)| url.clone())
        };
        if let Some(url) = last(
            &self
                .inner
                .last_url
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        ) {
            return url;
        }
        let url = join(&self.inner.base_url, path);
        *self
            .inner
            .last_url
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((path.to_owned(), url.clone()));
        url
    }

    /// One attempt within the request's timeout (its own, else the client's), from connecting
    /// to the last body byte. Timed here, once around the attempt, rather than by reqwest,
    /// whose timer on the response and again on every read of the body costs more per call
    /// than the rest of this client (see `benches/overhead.rs`).
    ///
    /// The timer is the last attempt's, moved to the new deadline, when that attempt ran on this
    /// runtime: arming a fresh timer while the runtime has none pending wakes its driver (a
    /// write to its wake-up descriptor and one more turn of its loop, 3–4 µs of a loopback
    /// call), while moving an armed one later changes nothing the driver waits on. An attempt
    /// running beside another takes a fresh timer.
    async fn timed_attempt(&self, request: &Request, url: &Url) -> Result<HttpResponse> {
        let Some(limit) = request.timeout.or(self.inner.config.request_timeout) else {
            return self.attempt(request, url).await;
        };
        let deadline = tokio::time::Instant::now() + limit;
        let runtime = tokio::runtime::Handle::current().id();
        let spare = self
            .inner
            .spare_timer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .filter(|(id, _)| *id == runtime);
        let mut timer = match spare {
            Some((_, mut timer)) => {
                timer.as_mut().reset(deadline);
                timer
            }
            None => Box::pin(tokio::time::sleep_until(deadline)),
        };
        let attempt = self.attempt(request, url);
        tokio::pin!(attempt);
        let outcome = std::future::poll_fn(|cx| {
            if let Poll::Ready(outcome) = attempt.as_mut().poll(cx) {
                return Poll::Ready(Some(outcome));
            }
            timer.as_mut().poll(cx).map(|()| None)
        })
        .await;
        let Some(outcome) = outcome else {
            // Sent or not, an answer may be on its way: the outcome is unknown.
            return Err(CloudError::provider(
                self.inner.provider.clone(),
                request.operation,
                ErrorKind::Timeout,
                format!("request timed out after {} ms", limit.as_millis()),
            )
            .with_retry(Retry::Transient)
            .with_delivery(Delivery::Unknown));
        };
        *self
            .inner
            .spare_timer
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((runtime, timer));
        outcome
    }

    /// The reqwest client, built by the first request (see [`Inner::http`]); a TLS stack that
    /// cannot be set up fails that request before anything is sent.
    fn transport(&self) -> Result<&reqwest::Client> {
        if let Some(http) = self.inner.http.get() {
            return Ok(http);
        }
        let config = &self.inner.config;
        let mut builder = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .https_only(self.inner.base_url.scheme() == "https");
        if let Some(timeout) = config.connect_timeout {
            builder = builder.connect_timeout(timeout);
        }
        let failed = |problem: String| {
            CloudError::configuration(format!(
                "cannot build the HTTP client for {}: {problem}",
                self.inner.provider
            ))
            .with_delivery(Delivery::NotSent)
        };
        // Built on a thread of its own, outside the caller's runtime, as `new` used to be
        // called: an `HttpClient` may outlive the runtime of its first request, and a reqwest
        // client built inside that runtime then hangs on the next one (tests/it/bodies.rs, a
        // timer kept between attempts, fails when it is built in place).
        let http = std::thread::scope(|scope| scope.spawn(|| builder.build()).join())
            .map_err(|_| failed("the TLS set-up panicked".to_owned()))?
            .map_err(|e| failed(error_chain(&e)))?;
        // Two first requests at once may both build one; either serves.
        Ok(self.inner.http.get_or_init(|| http))
    }

    async fn attempt(&self, request: &Request, url: &Url) -> Result<HttpResponse> {
        // Built in place rather than through reqwest's builder: no intermediate map of headers
        // and no fallible steps, on every attempt of every call.
        let mut url = url.clone();
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        let mut outgoing = reqwest::Request::new(request.method.clone(), url);
        let headers = outgoing.headers_mut();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        if let Some((name, value)) = &self.inner.authorization {
            headers.insert(name.clone(), value.clone());
        }
        if let Some(body) = &request.body {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            *outgoing.body_mut() = Some(body.clone().into());
        }
        // The request's own headers replace the defaults of the same name: cloning a name or
        // a value shares its bytes.
        let headers = outgoing.headers_mut();
        for name in request.headers.keys() {
            let mut values = request.headers.get_all(name).iter();
            if let Some(first) = values.next() {
                headers.insert(name.clone(), first.clone());
            }
            for value in values {
                headers.append(name.clone(), value.clone());
            }
        }
        let mut response = self
            .transport()?
            .execute(outgoing)
            .await
            .map_err(|e| self.transport_failure(request.operation, e))?;
        let status = response.status();
        // Taken, not cloned: the body is read next and the response is then gone.
        let headers = std::mem::take(response.headers_mut());
        let body = read_body(&mut response).await.map_err(|e| {
            // The status arrived, the body did not: whatever the status said, the answer is lost.
            self.transport_failure(request.operation, e)
                .with_delivery(Delivery::Unknown)
        })?;
        if status.is_success() {
            return Ok(HttpResponse {
                status,
                headers,
                body,
            });
        }
        Err(self.http_failure(request, status, &headers, &body))
    }

    /// A failure without a usable answer. Only a failed connection proves the request never
    /// left; anything later (reset, timeout while waiting) may have reached the server.
    fn transport_failure(&self, operation: &'static str, error: reqwest::Error) -> CloudError {
        let error = error.without_url();
        let timed_out = error.is_timeout();
        let connect = error.is_connect();
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
        let delivery = if connect {
            Delivery::NotSent
        } else {
            Delivery::Unknown
        };
        CloudError::provider(self.inner.provider.clone(), operation, kind, message)
            .with_retry(Retry::Transient)
            .with_delivery(delivery)
            .with_source(error)
    }

    fn http_failure(
        &self,
        request: &Request,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> CloudError {
        let class = self.inner.classifier.classify(status, headers, body);
        let after = retry_after(headers, SystemTime::now());
        let retry = match class.retry {
            Retry::Throttled { after: None } => Retry::Throttled { after },
            other => other,
        };
        let kind = if request.about_instance && class.kind == ErrorKind::ResourceNotFound {
            ErrorKind::InstanceNotFound
        } else {
            class.kind
        };
        let details = ProviderDetails {
            status: Some(status.as_u16()),
            grpc_code: None,
            retry_after: after,
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
        if let Some(id) = &details.request_id {
            message.push_str(" (request id ");
            message.push_str(&truncate_chars(id, MAX_MESSAGE_CHARS));
            message.push(')');
        }
        CloudError::provider(
            self.inner.provider.clone(),
            request.operation,
            kind,
            message,
        )
        .with_retry(retry)
        .with_delivery(class.delivery)
        .with_source(details)
    }

    fn body_excerpt(&self, body: &[u8]) -> Option<String> {
        if body.is_empty() {
            return None;
        }
        Some(ProviderDetails::truncate_body(
            &self.redact(&String::from_utf8_lossy(body)),
        ))
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
            let details = ProviderDetails {
                status: Some(response.status.as_u16()),
                message: Some(self.redact(&e.to_string())),
                request_id: request_id(&response.headers).map(|id| self.redact(&id)),
                body: self.body_excerpt(body),
                ..ProviderDetails::default()
            };
            let mut message = format!("unreadable HTTP {} answer: {e}", response.status.as_u16());
            if let Some(id) = &details.request_id {
                message.push_str(" (request id ");
                message.push_str(&truncate_chars(id, MAX_MESSAGE_CHARS));
                message.push(')');
            }
            // A 2xx that cannot be read may still mean the request was carried out; a cut
            // body is worth another try when the request is safe to repeat.
            CloudError::provider(
                self.inner.provider.clone(),
                operation,
                ErrorKind::Decode,
                message,
            )
            .with_retry(Retry::Transient)
            .with_delivery(Delivery::Unknown)
            .with_source(details)
        })
    }
}

/// `base` with `path` appended.
fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
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

/// The most a body's announced length reserves before any of it has arrived: the length is
/// the server's word, and a larger body still grows the buffer as it comes.
const MAX_BODY_RESERVE: usize = 256 * 1024 * 1024;

/// The whole body, in one buffer sized from its announced length. `Response::bytes` keeps every
/// chunk until the end and then copies them into one buffer, which holds a large answer (a list
/// of thousands of instances) twice at its peak; this holds it once and a chunk. A body of one
/// chunk is handed over as it came, without a copy.
async fn read_body(response: &mut reqwest::Response) -> reqwest::Result<bytes::Bytes> {
    let announced = response.content_length();
    let Some(first) = response.chunk().await? else {
        return Ok(bytes::Bytes::new());
    };
    let Some(second) = response.chunk().await? else {
        return Ok(first);
    };
    let announced = announced.map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let mut body = bytes::BytesMut::with_capacity(
        announced
            .min(MAX_BODY_RESERVE)
            .max(first.len() + second.len()),
    );
    body.extend_from_slice(&first);
    body.extend_from_slice(&second);
    drop((first, second));
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
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

/// The authentication header of a scheme and its value, marked sensitive; `Err` names what is
/// wrong with the key (never the key).
fn authorization(
    auth: &Auth,
) -> std::result::Result<Option<(HeaderName, HeaderValue)>, &'static str> {
    let (name, text) = match auth {
        Auth::None => return Ok(None),
        Auth::Bearer(key) => (header::AUTHORIZATION, format!("Bearer {}", key.expose())),
        Auth::Header(name, key) => (name.clone(), key.expose().to_owned()),
    };
    let mut value = HeaderValue::from_str(&text)
        .map_err(|_| "it contains characters that are not allowed in a header (control characters or non-ASCII)")?;
    value.set_sensitive(true);
    Ok(Some((name, value)))
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
    fn each_path_gets_its_own_url_also_after_the_last_one_is_kept() {
        let client = HttpClient::new(
            "t",
            HttpConfig::new("http://127.0.0.1:9/api/v1/").unwrap(),
            Auth::None,
            |status, _: &HeaderMap, _: &[u8]| crate::Classification::from_status(status),
        )
        .unwrap();
        for (path, url) in [
            ("instances", "http://127.0.0.1:9/api/v1/instances"),
            ("instances", "http://127.0.0.1:9/api/v1/instances"),
            (
                "/instances/a b",
                "http://127.0.0.1:9/api/v1/instances/a%20b",
            ),
            ("instances", "http://127.0.0.1:9/api/v1/instances"),
            ("", "http://127.0.0.1:9/api/v1/"),
            ("x/%41", "http://127.0.0.1:9/api/v1/x/%41"),
        ] {
            assert_eq!(client.url_for(path).as_str(), url, "{path:?}");
            assert_eq!(
                client.url_for(path),
                join(client.base_url(), path),
                "{path:?}"
            );
        }
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate_chars("abc", 5), "abc");
        assert_eq!(truncate_chars("ééé", 2), "éé...");
    }
}
