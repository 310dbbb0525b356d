//! Shadeform failures → [`gpucloud_core::ErrorKind`] and [`gpucloud_core::Retry`].
//!
//! The core status table ([`gpucloud_core::status::http_status`]) decides, changed only where
//! the body's structured `error_code` says more; the `error` text is kept for people and never
//! inspected. Requests about one instance are marked (`Request::about_instance`) so the HTTP
//! client turns their 404 into `InstanceNotFound`.

use gpucloud_core::ErrorKind;
use gpucloud_http::{Classification, HeaderMap, StatusCode};

use crate::wire;

/// The code Shadeform answers a launch with when the offer has no capacity (HTTP 409), and
/// also for a region the offer does not have.
pub(crate) const OUT_OF_STOCK: &str = "OUT_OF_STOCK";

/// What a structured code means, where it says more than the status.
fn kind_of(code: &str) -> Option<ErrorKind> {
    match code {
        OUT_OF_STOCK => Some(ErrorKind::InsufficientCapacity),
        _ => None,
    }
}

/// The HTTP client's hook: the status table's row, with `error_code` applied and the body's
/// `error` attached.
pub(crate) fn classifier(status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> Classification {
    let by_status = Classification::from_status(status);
    let Ok(error) = serde_json::from_slice::<wire::ErrorBody>(body) else {
        return by_status;
    };
    let mut class = match kind_of(&error.error_code) {
        // A 429 stays throttling, and a 5xx a server failure, whatever the code says.
        Some(kind) if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS => {
            by_status.with_kind(kind).with_retry(kind.default_retry())
        }
        _ => by_status,
    };
    if !error.error_code.is_empty() {
        class = class.with_code(error.error_code);
    }
    if !error.error.is_empty() {
        class = class.with_message(error.error);
    }
    class
}

#[cfg(test)]
mod tests {
    use gpucloud_core::status::http_status;
    use gpucloud_core::{Delivery, ErrorKind as K, Retry};

    use super::*;

    fn body(code: &str) -> Vec<u8> {
        format!(r#"{{"error_code": "{code}", "error": "out of stock, try again"}}"#).into_bytes()
    }

    #[test]
    fn codes_change_only_what_they_say() {
        let cases: &[(u16, Vec<u8>, K, Retry)] = &[
            (
                409,
                body("OUT_OF_STOCK"),
                K::InsufficientCapacity,
                Retry::Never,
            ),
            (
                400,
                body("OUT_OF_STOCK"),
                K::InsufficientCapacity,
                Retry::Never,
            ),
            (409, body("NAME_TAKEN"), K::Conflict, Retry::Never),
            (
                429,
                body("OUT_OF_STOCK"),
                K::RateLimited,
                Retry::Throttled { after: None },
            ),
            (500, body("OUT_OF_STOCK"), K::Internal, Retry::Transient),
            (
                502,
                b"<html>bad gateway</html>".to_vec(),
                K::Unavailable,
                Retry::Transient,
            ),
            (401, b"".to_vec(), K::Unauthenticated, Retry::Never),
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
            let c = classifier(code, &HeaderMap::new(), br#"{"error":"m"}"#);
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
        let c = classifier(
            StatusCode::CONFLICT,
            &HeaderMap::new(),
            br#"{"error_code": "", "error": "OUT_OF_STOCK: no capacity"}"#,
        );
        assert_eq!(c.kind, K::Conflict);
        assert_eq!(c.message.as_deref(), Some("OUT_OF_STOCK: no capacity"));
        for junk in [&b"[1]"[..], b"", b"{\"error\": 5}", b"\xff"] {
            let c = classifier(StatusCode::CONFLICT, &HeaderMap::new(), junk);
            assert_eq!((c.kind, c.message), (K::Conflict, None));
        }
    }
}
