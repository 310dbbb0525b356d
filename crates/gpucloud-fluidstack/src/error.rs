//! Fluidstack failures → [`ErrorKind`] and [`Retry`].
//!
//! Fluidstack's error body (`Error`) carries only a human-readable `message`, no code, so the
//! HTTP status decides, refined by what the request was about (an instance's 404 is
//! `InstanceNotFound`). The message is kept in the error for people and never inspected.

use gpucloud_core::{CloudError, ErrorKind, Retry};
use gpucloud_http::{Classification, HeaderMap, StatusCode};

use crate::wire;

/// What a request was about, so a "not found" can say what is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    /// One instance (`/instances/{id}…`).
    Instance,
    /// Anything else: projects, the catalog, capacity, the instance list.
    Resource,
}

/// The meaning and retry class of a failed response with `status`.
///
/// 5xx answers may be retried (`Transient`) except 501, which says the operation does not
/// exist on this server. 429 is throttling; the HTTP client adds the server's `Retry-After`.
pub(crate) fn classify(status: u16, subject: Subject) -> (ErrorKind, Retry) {
    let kind = match status {
        400 | 422 => ErrorKind::InvalidArgument,
        401 => ErrorKind::Unauthenticated,
        403 => ErrorKind::PermissionDenied,
        404 => match subject {
            Subject::Instance => ErrorKind::InstanceNotFound,
            Subject::Resource => ErrorKind::ResourceNotFound,
        },
        409 => ErrorKind::Conflict,
        429 => ErrorKind::RateLimited,
        408 | 504 => ErrorKind::Timeout,
        501 => ErrorKind::NotImplemented,
        502 | 503 => ErrorKind::Unavailable,
        s if s >= 500 => ErrorKind::Internal,
        _ => ErrorKind::Decode,
    };
    let retry = match status {
        429 => Retry::Throttled { after: None },
        501 => Retry::Never,
        s if s >= 500 => Retry::Transient,
        _ => kind.default_retry(),
    };
    (kind, retry)
}

/// The HTTP client's hook: status first, the body's `message` attached.
pub(crate) fn classifier(status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> Classification {
    let (kind, retry) = classify(status.as_u16(), Subject::Resource);
    let mut class = Classification::from_status(status)
        .with_kind(kind)
        .with_retry(retry);
    if let Ok(error) = serde_json::from_slice::<wire::ErrorBody>(body)
        && !error.message.is_empty()
    {
        class = class.with_message(error.message);
    }
    class
}

/// Rewrites the not-found of an instance request as `InstanceNotFound`.
pub(crate) fn for_instance(error: CloudError) -> CloudError {
    match error {
        CloudError::Provider {
            provider,
            operation,
            kind: ErrorKind::ResourceNotFound,
            retry,
            delivery,
            message,
            source,
        } => CloudError::Provider {
            provider,
            operation,
            kind: classify(404, Subject::Instance).0,
            retry,
            delivery,
            message,
            source,
        },
        other => other,
    }
}

/// True when a failed request may have taken effect: it reached the server, and no readable
/// answer came back.
pub(crate) fn outcome_unknown(error: &CloudError) -> bool {
    error.outcome_unknown()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorKind as K;
    use Subject::{Instance as I, Resource as R};

    #[test]
    fn every_documented_status_is_classified() {
        let transient = Retry::Transient;
        let never = Retry::Never;
        let cases = [
            (400, R, K::InvalidArgument, never),
            (401, R, K::Unauthenticated, never),
            (403, R, K::PermissionDenied, never),
            (403, I, K::PermissionDenied, never),
            (404, I, K::InstanceNotFound, never),
            (404, R, K::ResourceNotFound, never),
            (409, I, K::Conflict, never),
            (422, R, K::InvalidArgument, never),
            (429, R, K::RateLimited, Retry::Throttled { after: None }),
            (500, R, K::Internal, transient),
            (501, R, K::NotImplemented, never),
            (502, R, K::Unavailable, transient),
            (503, I, K::Unavailable, transient),
            (504, R, K::Timeout, transient),
            (408, R, K::Timeout, K::Timeout.default_retry()),
            (418, R, K::Decode, K::Decode.default_retry()),
        ];
        for (status, subject, kind, retry) in cases {
            assert_eq!(
                classify(status, subject),
                (kind, retry),
                "{status} {subject:?}"
            );
        }
    }

    #[test]
    fn the_message_is_kept_but_never_decides() {
        let body = br#"{"message":"instance not found"}"#;
        for status in [StatusCode::BAD_REQUEST, StatusCode::CONFLICT] {
            let class = classifier(status, &HeaderMap::new(), body);
            assert_eq!(class.kind, classify(status.as_u16(), R).0);
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

    #[test]
    fn instance_not_found_is_remapped_and_nothing_else() {
        let not_found =
            CloudError::provider("fluidstack", "get_instance", K::ResourceNotFound, "x");
        assert_eq!(for_instance(not_found).kind(), K::InstanceNotFound);
        let conflict = CloudError::provider("fluidstack", "stop_instance", K::Conflict, "x");
        assert_eq!(for_instance(conflict).kind(), K::Conflict);
    }

    #[test]
    fn unknown_outcomes_are_recognised() {
        let timeout = CloudError::provider("fluidstack", "create_instance", K::Timeout, "x");
        assert!(outcome_unknown(&timeout));
        let invalid =
            CloudError::provider("fluidstack", "create_instance", K::InvalidArgument, "x");
        assert!(!outcome_unknown(&invalid));
        assert!(!outcome_unknown(&CloudError::invalid("name", "bad")));
    }
}
