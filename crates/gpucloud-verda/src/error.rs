//! Verda failures → [`gpucloud_core::ErrorKind`] and [`gpucloud_core::Retry`].
//!
//! The core status table ([`gpucloud_core::status::http_status`]) decides, changed only where
//! the body's structured `code` says more (the codes both SDKs list); the `message` is kept
//! for people and never inspected. Verda has no code for "no capacity": a create refused with
//! `invalid_request` is checked against `/instance-availability` by the client, which turns
//! it into `InsufficientCapacity` when the type is not orderable there (see
//! [`crate::client`]), so that neither a code nor a message text is guessed.

use gpucloud_core::ErrorKind;
use gpucloud_http::{Classification, HeaderMap, StatusCode};

use crate::wire;

/// What a structured code means, where it says more than the status.
fn kind_of(code: &str) -> Option<ErrorKind> {
    match code {
        "unauthorized_request" => Some(ErrorKind::Unauthenticated),
        "forbidden_action" => Some(ErrorKind::PermissionDenied),
        "not_found" => Some(ErrorKind::ResourceNotFound),
        // The balance does not cover the order: an account limit, not the request's fault.
        "insufficient_funds" | "quota_reached" => Some(ErrorKind::QuotaExceeded),
        "invalid_request" => Some(ErrorKind::InvalidArgument),
        _ => None,
    }
}

/// The HTTP client's hook: the status table's row, with `code` applied and the body's
/// `message` attached.
pub(crate) fn classifier(status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> Classification {
    let by_status = Classification::from_status(status);
    let Ok(error) = serde_json::from_slice::<wire::ErrorBody>(body) else {
        return by_status;
    };
    let mut class = match kind_of(&error.code) {
        // A 429 stays throttling, a 5xx a server failure and a 404 a missing resource (the
        // client makes it `InstanceNotFound` where the request was about one), whatever the
        // code says.
        Some(kind)
            if status.is_client_error()
                && status != StatusCode::TOO_MANY_REQUESTS
                && status != StatusCode::NOT_FOUND =>
        {
            by_status.with_kind(kind).with_retry(kind.default_retry())
        }
        _ => by_status,
    };
    if !error.code.is_empty() {
        class = class.with_code(error.code);
    }
    if !error.message.is_empty() {
        class = class.with_message(error.message);
    }
    class
}

#[cfg(test)]
mod tests {
    use gpucloud_core::status::http_status;
    use gpucloud_core::{Delivery, ErrorKind as K, Retry};

    use super::*;

    fn body(code: &str) -> Vec<u8> {
        format!(r#"{{"code": "{code}", "message": "not enough resources, quota"}}"#).into_bytes()
    }

    #[test]
    fn codes_change_only_what_they_say() {
        let cases: &[(u16, Vec<u8>, K, Retry)] = &[
            (
                400,
                body("insufficient_funds"),
                K::QuotaExceeded,
                Retry::Never,
            ),
            (
                402,
                body("insufficient_funds"),
                K::QuotaExceeded,
                Retry::Never,
            ),
            (400, body("quota_reached"), K::QuotaExceeded, Retry::Never),
            (
                400,
                body("forbidden_action"),
                K::PermissionDenied,
                Retry::Never,
            ),
            (
                400,
                body("invalid_request"),
                K::InvalidArgument,
                Retry::Never,
            ),
            (
                401,
                body("unauthorized_request"),
                K::Unauthenticated,
                Retry::Never,
            ),
            (404, body("not_found"), K::ResourceNotFound, Retry::Never),
            (
                429,
                body("insufficient_funds"),
                K::RateLimited,
                Retry::Throttled { after: None },
            ),
            (500, body("server_error"), K::Internal, Retry::Transient),
            (
                503,
                body("service_unavailable"),
                K::Unavailable,
                Retry::Transient,
            ),
            (
                502,
                b"<html>bad gateway</html>".to_vec(),
                K::Unavailable,
                Retry::Transient,
            ),
        ];
        for (status, body, kind, retry) in cases {
            let code = StatusCode::from_u16(*status).unwrap();
            let c = classifier(code, &HeaderMap::new(), body);
            assert_eq!((c.kind, c.retry), (*kind, *retry), "{status}");
        }
    }

    #[test]
    fn every_status_without_a_code_follows_the_core_table() {
        for status in [400, 401, 403, 404, 409, 422, 429, 500, 501, 502, 503, 504] {
            let code = StatusCode::from_u16(status).unwrap();
            let c = classifier(code, &HeaderMap::new(), br#"{"message":"m"}"#);
            let row = http_status(status);
            assert_eq!(
                (c.kind, c.retry, c.delivery),
                (row.kind, row.retry, row.delivery)
            );
        }
        let lost = classifier(StatusCode::INTERNAL_SERVER_ERROR, &HeaderMap::new(), b"");
        assert_eq!(lost.delivery, Delivery::Unknown);
    }

    #[test]
    fn the_message_is_kept_but_never_decides() {
        let c = classifier(StatusCode::BAD_REQUEST, &HeaderMap::new(), &body(""));
        assert_eq!(c.kind, K::InvalidArgument);
        assert_eq!(c.message.as_deref(), Some("not enough resources, quota"));
        for junk in [&b"[1]"[..], b"", b"{\"code\": 5}", b"\xff"] {
            let c = classifier(StatusCode::CONFLICT, &HeaderMap::new(), junk);
            assert_eq!((c.kind, c.message), (K::Conflict, None));
        }
    }
}
