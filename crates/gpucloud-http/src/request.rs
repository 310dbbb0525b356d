//! One logical API call: method, path, query, body and how it may be retried.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::Serialize;

use gpucloud_core::{CloudError, Result};

/// A request to send with [`crate::HttpClient::send`] or [`crate::HttpClient::send_json`].
///
/// By default `GET`, `HEAD`, `PUT`, `DELETE`, `OPTIONS` and `TRACE` are idempotent and `POST` and
/// `PATCH` are not; override with [`Request::idempotent`] (for example a `POST` that only reads,
/// or one that carries an idempotency key). `Debug` shows no query values, headers or body.
#[derive(Clone)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) operation: &'static str,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
    pub(crate) idempotent: bool,
    pub(crate) create: bool,
    pub(crate) about_instance: bool,
    pub(crate) timeout: Option<Duration>,
}

impl Request {
    /// A request without query or body. `operation` names the call in errors and logs (e.g.
    /// `list_instances`); `path` is appended to the client's base URL (a leading `/` is
    /// optional) and must not contain a query string: use [`Request::query`].
    pub fn new(method: Method, operation: &'static str, path: impl Into<String>) -> Self {
        let idempotent = method.is_idempotent();
        Self {
            method,
            operation,
            path: path.into(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
            idempotent,
            create: false,
            about_instance: false,
            timeout: None,
        }
    }

    /// A `GET` request.
    pub fn get(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::GET, operation, path)
    }

    /// A `POST` request (not idempotent unless marked so).
    pub fn post(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::POST, operation, path)
    }

    /// A `PUT` request.
    pub fn put(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::PUT, operation, path)
    }

    /// A `PATCH` request (not idempotent unless marked so).
    pub fn patch(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::PATCH, operation, path)
    }

    /// A `DELETE` request.
    pub fn delete(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, operation, path)
    }

    /// Adds a query parameter (repeatable).
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Sets a JSON body (and `Content-Type: application/json`).
    pub fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            CloudError::invalid(
                "body",
                format!(
                    "the {} request body cannot be encoded as JSON: {e}",
                    self.operation
                ),
            )
        })?;
        self.body = Some(Bytes::from(bytes));
        Ok(self)
    }

    /// Adds a header, e.g. an idempotency key (then mark the request [`Request::idempotent`]).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Marks whether sending the request twice has the same effect as sending it once. Only
    /// idempotent requests are retried after 5xx answers, timeouts and dropped connections.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Marks the request as a create, counted by the create rate limiter.
    pub fn create(mut self) -> Self {
        self.create = true;
        self
    }

    /// Marks the request as being about one instance (get, terminate, restart it), so that a
    /// not-found answer is [`gpucloud_core::ErrorKind::InstanceNotFound`] rather than
    /// `ResourceNotFound`.
    pub fn about_instance(mut self) -> Self {
        self.about_instance = true;
        self
    }

    /// Overrides the client's whole-request timeout for this request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The operation name.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// The path, relative to the base URL.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the request may be retried after an ambiguous failure.
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }

    /// Whether the request counts against the create rate limiter.
    pub fn is_create(&self) -> bool {
        self.create
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let query: Vec<&str> = self.query.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("operation", &self.operation)
            .field("path", &self.path)
            .field("query_names", &query)
            .field("body_bytes", &self.body.as_ref().map(Bytes::len))
            .field("idempotent", &self.idempotent)
            .field("create", &self.create)
            .field("about_instance", &self.about_instance)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A successful (2xx) response.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}
