//! Turning a failed HTTP response into an [`ErrorKind`] and a [`Retry`] class.

use http::{HeaderMap, StatusCode};

use gpucloud_core::status::http_status;
use gpucloud_core::{Delivery, ErrorKind, Retry};

/// What a provider's error response means. Produced by a [`Classify`] hook.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Classification {
    /// What the failure means.
    pub kind: ErrorKind,
    /// Whether trying again may help. The client retries only when this is retryable *and* the
    /// request is safe to repeat (see [`crate::HttpClient`]).
    pub retry: Retry,
    /// Whether the request may have been carried out (from the status table).
    pub delivery: Delivery,
    /// The provider's structured error code, e.g. `global/invalid-api-key`.
    pub code: Option<String>,
    /// The provider's message.
    pub message: Option<String>,
    /// The provider's request id, if the body carries one. When `None`, the client takes it from
    /// the common request-id headers (see [`request_id`]).
    pub request_id: Option<String>,
}

impl Classification {
    /// The classification by HTTP status alone: the row of
    /// [`gpucloud_core::status::http_status`] (500 is `Internal` and `Transient`, 429 is
    /// `Throttled`, see that table). A provider's [`Classify`] starts here and adds what its
    /// structured error codes say.
    pub fn from_status(status: StatusCode) -> Self {
        let class = http_status(status.as_u16());
        Self {
            kind: class.kind,
            retry: class.retry,
            delivery: class.delivery,
            code: None,
            message: None,
            request_id: None,
        }
    }

    /// Sets the kind, keeping the retry class and delivery of the status.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// Sets the retry class.
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the provider's error code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the provider's message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Sets the request id.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }
}

/// A provider's error classifier: turns a non-success response (status, headers, body bytes)
/// into a [`Classification`]. Each provider has exactly one, driven by its structured error code
/// (never by message text), starting from [`Classification::from_status`] and changing only
/// what a code it recognises says. It must not panic on any input.
///
/// Closures of the same shape implement it:
///
/// ```
/// use gpucloud_http::{Classification, Classify};
/// let classify = |status: http::StatusCode, _: &http::HeaderMap, _: &[u8]| {
///     Classification::from_status(status)
/// };
/// fn takes(_: impl Classify) {}
/// takes(classify);
/// ```
pub trait Classify: Send + Sync {
    /// Classifies one failed response.
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Classification;
}

impl<F> Classify for F
where
    F: Fn(StatusCode, &HeaderMap, &[u8]) -> Classification + Send + Sync,
{
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Classification {
        self(status, headers, body)
    }
}

/// The response headers that commonly carry a request id, in the order they are tried.
pub const REQUEST_ID_HEADERS: [&str; 6] = [
    "x-request-id",
    "request-id",
    "x-amzn-requestid",
    "x-amz-request-id",
    "x-correlation-id",
    "x-trace-id",
];

/// The first non-empty, printable request id among [`REQUEST_ID_HEADERS`].
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS.iter().find_map(|name| {
        let value = headers.get(*name)?.to_str().ok()?.trim();
        (!value.is_empty()).then(|| value.chars().take(200).collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn status_classes_come_from_the_core_table() {
        for status in [400, 404, 429, 500, 501, 502, 503, 504] {
            let c = Classification::from_status(StatusCode::from_u16(status).unwrap());
            let row = http_status(status);
            assert_eq!(
                (c.kind, c.retry, c.delivery),
                (row.kind, row.retry, row.delivery)
            );
        }
        let c = Classification::from_status(StatusCode::INTERNAL_SERVER_ERROR)
            .with_kind(ErrorKind::InsufficientCapacity);
        assert_eq!(c.kind, ErrorKind::InsufficientCapacity);
        assert_eq!(c.retry, Retry::Transient);
    }

    #[test]
    fn request_id_from_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(request_id(&headers), None);
        headers.insert("x-amz-request-id", HeaderValue::from_static("amz-1"));
        assert_eq!(request_id(&headers).as_deref(), Some("amz-1"));
        headers.insert("x-request-id", HeaderValue::from_static("  "));
        assert_eq!(request_id(&headers).as_deref(), Some("amz-1"));
        headers.insert("x-request-id", HeaderValue::from_static("req-9"));
        assert_eq!(request_id(&headers).as_deref(), Some("req-9"));
    }
}
