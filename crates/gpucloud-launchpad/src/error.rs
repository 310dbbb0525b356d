//! LaunchPad failures → [`gpucloud_core::ErrorKind`] and [`gpucloud_core::Retry`].
//!
//! The core status table ([`gpucloud_core::status::http_status`]) decides, changed only
//! where the body's structure says more. LaunchPad answers as the Django REST framework does
//! and publishes no error codes: a wrong field is named as a key of the body (`{"request_id":
//! [...]}`), which is structure; a `{"detail": "..."}` body has only text. Where the text is
//! the only signal, [`MESSAGES`] is the one table of phrases read, each with its test.
//! Requests about one deployment are marked (`Request::about_instance`) so the HTTP client
//! turns their 404 into `InstanceNotFound`.

use gpucloud_core::ErrorKind;
use gpucloud_http::{Classification, HeaderMap, StatusCode};

use crate::wire::ErrorBody;

/// The code of a create refused because its `request_id` names a deployment already made:
/// the field the API names in its body.
pub(crate) const DUPLICATE_REQUEST_ID: &str = "request_id";

/// The code given to an error read from [`MESSAGES`].
pub(crate) const NO_CAPACITY: &str = "no_capacity";

/// Phrases of a `detail` that mean more than their status, for answers without a structured
/// field: lower-case text contained in `detail`, the kind and the code it gets. Only 4xx
/// answers are read so.
pub(crate) const MESSAGES: &[(&str, ErrorKind, &str)] = &[(
    "no available capacity",
    ErrorKind::InsufficientCapacity,
    NO_CAPACITY,
)];

/// The HTTP client's hook: the status table's row, with what the body's structure (and, for
/// a bare `detail`, [`MESSAGES`]) says, and the body's text attached.
pub(crate) fn classifier(status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> Classification {
    let by_status = Classification::from_status(status);
    let Some(error) = ErrorBody::parse(body) else {
        return by_status;
    };
    // A 429 stays throttling, and a 5xx a server failure, whatever the body says.
    let refusal = status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS;
    let structured = if error.names_field(DUPLICATE_REQUEST_ID) {
        Some((ErrorKind::Conflict, DUPLICATE_REQUEST_ID))
    } else {
        error.detail.as_deref().and_then(|detail| {
            let detail = detail.to_ascii_lowercase();
            MESSAGES
                .iter()
                .find(|(phrase, _, _)| detail.contains(phrase))
                .map(|(_, kind, code)| (*kind, *code))
        })
    };
    let mut class = match structured {
        Some((kind, code)) if refusal => by_status
            .with_kind(kind)
            .with_retry(kind.default_retry())
            .with_code(code),
        _ => match error.fields.first() {
            Some((field, _)) => by_status.with_code(field.clone()),
            None => by_status,
        },
    };
    if let Some(message) = error.message() {
        class = class.with_message(message);
    }
    class
}

#[cfg(test)]
mod tests {
    use gpucloud_core::status::http_status;
    use gpucloud_core::{Delivery, ErrorKind as K, Retry};

    use super::*;

    fn classify(status: u16, body: &str) -> Classification {
        classifier(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    #[test]
    fn a_duplicate_request_id_is_a_conflict_by_its_field() {
        let c = classify(
            400,
            r#"{"request_id": ["deployment with this request id already exists."]}"#,
        );
        assert_eq!((c.kind, c.retry), (K::Conflict, Retry::Never));
        assert_eq!(c.code.as_deref(), Some(DUPLICATE_REQUEST_ID));
        // Another field is bad input, named by its code.
        let c = classify(400, r#"{"gpu_count": ["A valid integer is required."]}"#);
        assert_eq!(c.kind, K::InvalidArgument);
        assert_eq!(c.code.as_deref(), Some("gpu_count"));
        assert!(c.message.unwrap().starts_with("gpu_count: "));
    }

    #[test]
    fn every_message_of_the_table_is_read_from_detail_of_a_refusal_only() {
        let cases: &[(&str, K)] = &[(
            "There is no available capacity for the requested configuration.",
            K::InsufficientCapacity,
        )];
        assert_eq!(cases.len(), MESSAGES.len(), "a case per table entry");
        for (text, kind) in cases {
            let c = classify(400, &format!(r#"{{"detail": "{text}"}}"#));
            assert_eq!((c.kind, c.retry), (*kind, Retry::Never), "{text}");
            // In a field's message, or on a 5xx or 429, the text decides nothing.
            let c = classify(400, &format!(r#"{{"region": ["{text}"]}}"#));
            assert_eq!(c.kind, K::InvalidArgument);
            assert_eq!(
                classify(503, &format!(r#"{{"detail": "{text}"}}"#)).kind,
                K::Unavailable
            );
            assert_eq!(
                classify(429, &format!(r#"{{"detail": "{text}"}}"#)).kind,
                K::RateLimited
            );
        }
    }

    #[test]
    fn every_status_without_structure_follows_the_core_table() {
        for status in [400, 401, 403, 404, 409, 422, 429, 500, 501, 502, 503, 504] {
            let c = classify(status, r#"{"detail": "something"}"#);
            let row = http_status(status);
            assert_eq!(
                (c.kind, c.retry, c.delivery),
                (row.kind, row.retry, row.delivery)
            );
            assert_eq!(c.message.as_deref(), Some("something"));
        }
        let c = classify(502, "<html>bad gateway</html>");
        assert_eq!(
            (c.kind, c.retry, c.message),
            (K::Unavailable, Retry::Transient, None)
        );
        assert_eq!(classify(500, "").delivery, Delivery::Unknown);
        assert_eq!(
            classify(429, r#"{"request_id": ["x"]}"#).retry,
            Retry::Throttled { after: None }
        );
    }
}
