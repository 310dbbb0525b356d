//! Fluidstack failures → [`gpucloud_core::ErrorKind`] and [`gpucloud_core::Retry`].
//!
//! Fluidstack's error body (`Error`) carries only a human-readable `message`, no code, so the
//! core status table ([`gpucloud_core::status::http_status`]) decides alone; requests about one
//! instance are marked (`Request::about_instance`) so the HTTP client turns their 404 into
//! `InstanceNotFound`. The message is kept in the error for people and never inspected.

use gpucloud_http::{Classification, HeaderMap, StatusCode};

use crate::wire;

/// The HTTP client's hook: the status table's row, with the body's `message` attached.
pub(crate) fn classifier(status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> Classification {
    let mut class = Classification::from_status(status);
    if let Ok(error) = serde_json::from_slice::<wire::ErrorBody>(body)
        && !error.message.is_empty()
    {
        class = class.with_message(error.message);
    }
    class
}

#[cfg(test)]
mod tests {
    use gpucloud_core::status::http_status;
    use gpucloud_core::{Delivery, ErrorKind as K};

    use super::*;

    #[test]
    fn every_documented_status_follows_the_core_table() {
        for status in [400, 401, 403, 404, 409, 422, 429, 500, 501, 502, 503, 504] {
            let code = StatusCode::from_u16(status).expect("valid status");
            let class = classifier(code, &HeaderMap::new(), br#"{"message":"m"}"#);
            let row = http_status(status);
            assert_eq!(
                (class.kind, class.retry, class.delivery),
                (row.kind, row.retry, row.delivery),
                "{status}"
            );
        }
        let lost = classifier(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"");
        assert_eq!(lost.delivery, Delivery::Unknown);
        let refused = classifier(StatusCode::CONFLICT, &HeaderMap::new(), b"");
        assert_eq!(
            (refused.kind, refused.delivery),
            (K::Conflict, Delivery::Answered)
        );
    }

    #[test]
    fn the_message_is_kept_but_never_decides() {
        let body = br#"{"message":"instance not found"}"#;
        for status in [StatusCode::BAD_REQUEST, StatusCode::CONFLICT] {
            let class = classifier(status, &HeaderMap::new(), body);
            assert_eq!(class.kind, http_status(status.as_u16()).kind);
            assert_eq!(class.message.as_deref(), Some("instance not found"));
        }
        for junk in [
            &b"<html>502</html>"[..],
            b"",
            b"{\"message\":null}",
            b"[1,2]",
        ] {
            let class = classifier(StatusCode::BAD_GATEWAY, &HeaderMap::new(), junk);
            assert_eq!(class.kind, K::Unavailable);
            assert_eq!(class.message, None);
        }
    }
}
