//! Turning a failed HTTP response into an [`ErrorKind`] and a [`Retry`] class.

use http::{HeaderMap, StatusCode};

use gpucloud_core::{ErrorKind, Retry};

/// What a provider's error response means. Produced by a [`Classify`] hook.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Classification {
    /// What the failure means.
    pub kind: ErrorKind,
    /// Whether trying again may help. The client retries only when this is retryable *and* the
    /// request is safe to repeat (see [`crate::HttpClient`]).
    pub retry: Retry,
    /// The provider's structured error code, e.g. `global/invalid-api-key`.
    pub code: Option<String>,
    /// The provider's message.
    pub message: Option<String>,
    /// The provider's request id, if the body carries one. When `None`, the client takes it from
    /// the common request-id headers (see [`request_id`]).
    pub request_id: Option<String>,
}

impl Classification {
    /// A classification with the kind's default retry class and no details.
    pub fn new(kind: ErrorKind) -> Self {
        Self {
            kind,
            retry: kind.default_retry(),
            code: None,
            message: None,
            request_id: None,
        }
    }

    /// The classification by HTTP status alone:
    ///
    /// | status | kind | retry |
    /// |---|---|---|
    /// | 400, 422 | `InvalidArgument` | `Never` |
    /// | 401 | `Unauthenticated` | `Never` |
    /// | 403 | `PermissionDenied` | `Never` |
    /// | 404 | `ResourceNotFound` | `Never` |
    /// | 409 | `Conflict` | `Never` |
    /// | 408 | `Timeout` | `Transient` |
    /// | 429 | `RateLimited` | `Throttled` |
    /// | 502, 503, 504 | `Unavailable` | `Transient` |
    /// | other 5xx | `Internal` | `Never` |
    /// | anything else | `Internal` | `Never` |
    pub fn from_status(status: StatusCode) -> Self {
        let kind = match status.as_u16() {
            400 | 422 => ErrorKind::InvalidArgument,
            401 => ErrorKind::Unauthenticated,
            403 => ErrorKind::PermissionDenied,
            404 => ErrorKind::ResourceNotFound,
            409 => ErrorKind::Conflict,
            408 => ErrorKind::Timeout,
            429 => ErrorKind::RateLimited,
            502..=504 => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        };
        let retry = match status.as_u16() {
            429 => Retry::Throttled { after: None },
            408 | 502..=504 => Retry::Transient,
            _ => Retry::Never,
        };
        Self {
            kind,
            retry,
            code: None,
            message: None,
            request_id: None,
        }
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
/// (never by message text), falling back to [`Classification::from_status`] for bodies it does
/// not recognise. It must not panic on any input.
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

/// The classifier by status alone ([`Classification::from_status`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct StatusClassifier;

impl Classify for StatusClassifier {
    fn classify(&self, status: StatusCode, _headers: &HeaderMap, _body: &[u8]) -> Classification {
        Classification::from_status(status)
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
    fn status_table() {
        let cases = [
            (400, ErrorKind::InvalidArgument, Retry::Never),
            (401, ErrorKind::Unauthenticated, Retry::Never),
            (403, ErrorKind::PermissionDenied, Retry::Never),
            (404, ErrorKind::ResourceNotFound, Retry::Never),
            (408, ErrorKind::Timeout, Retry::Transient),
            (409, ErrorKind::Conflict, Retry::Never),
            (422, ErrorKind::InvalidArgument, Retry::Never),
            (
                429,
                ErrorKind::RateLimited,
                Retry::Throttled { after: None },
            ),
            (500, ErrorKind::Internal, Retry::Never),
            (501, ErrorKind::Internal, Retry::Never),
            (502, ErrorKind::Unavailable, Retry::Transient),
            (503, ErrorKind::Unavailable, Retry::Transient),
            (504, ErrorKind::Unavailable, Retry::Transient),
            (418, ErrorKind::Internal, Retry::Never),
        ];
        for (status, kind, retry) in cases {
            let c = StatusClassifier.classify(
                StatusCode::from_u16(status).unwrap(),
                &HeaderMap::new(),
                b"",
            );
            assert_eq!((c.kind, c.retry), (kind, retry), "status {status}");
        }
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
