//! Lambda failures → [`ErrorKind`] and [`Retry`]: the core status table
//! ([`gpucloud_core::status::http_status`]), changed only where Lambda's structured
//! `error.code` says more, never by message text.

use gpucloud_core::status::http_status;
use gpucloud_core::{ErrorKind, Retry};
use gpucloud_http::{Classification, HeaderMap, StatusCode};

use crate::wire;

/// Every error code Lambda's API description (1.10.0) documents, plus the `provider/` prefix it
/// describes for upstream failures.
pub(crate) mod codes {
    pub const INVALID_API_KEY: &str = "global/invalid-api-key";
    pub const ACCOUNT_INACTIVE: &str = "global/account-inactive";
    pub const FORBIDDEN: &str = "global/forbidden";
    pub const INVALID_ADDRESS: &str = "global/invalid-address";
    pub const INVALID_PARAMETERS: &str = "global/invalid-parameters";
    pub const OBJECT_DOES_NOT_EXIST: &str = "global/object-does-not-exist";
    pub const NOT_FOUND: &str = "global/not-found";
    pub const QUOTA_EXCEEDED: &str = "global/quota-exceeded";
    pub const DUPLICATE: &str = "global/duplicate";
    pub const CONFLICT: &str = "global/conflict";
    pub const INTERNAL_ERROR: &str = "global/internal-error";
    pub const INSUFFICIENT_CAPACITY: &str = "instance-operations/launch/insufficient-capacity";
    pub const FILE_SYSTEM_IN_WRONG_REGION: &str =
        "instance-operations/launch/file-system-in-wrong-region";
    pub const SSH_KEY_IN_USE: &str = "ssh-keys/key-in-use";
    pub const FILESYSTEM_IN_USE: &str = "filesystems/filesystem-in-use";
    pub const RULESET_IN_USE: &str = "firewall-rulesets/firewall-ruleset-in-use";
    pub const PROVIDER_PREFIX: &str = "provider/";
}

/// The meaning and retry class of a failed response.
///
/// A 429 is always throttling, whatever the code. A known code decides the kind; the retry
/// class stays the status's, except that a code naming a transient failure (Lambda's internal
/// error, an upstream `provider/` failure) is transient on any status. A not-found code is
/// `ResourceNotFound`; requests about one instance are marked so that the HTTP client makes it
/// `InstanceNotFound`. An unknown or absent code keeps the status's row.
pub(crate) fn classify(status: u16, code: Option<&str>) -> (ErrorKind, Retry) {
    let row = http_status(status);
    if status == 429 {
        return (row.kind, row.retry);
    }
    let by_code = code.and_then(|code| {
        Some(match code {
            codes::INVALID_API_KEY => ErrorKind::Unauthenticated,
            codes::ACCOUNT_INACTIVE | codes::FORBIDDEN | codes::INVALID_ADDRESS => {
                ErrorKind::PermissionDenied
            }
            codes::INVALID_PARAMETERS | codes::FILE_SYSTEM_IN_WRONG_REGION => {
                ErrorKind::InvalidArgument
            }
            codes::OBJECT_DOES_NOT_EXIST | codes::NOT_FOUND => ErrorKind::ResourceNotFound,
            codes::QUOTA_EXCEEDED => ErrorKind::QuotaExceeded,
            codes::INSUFFICIENT_CAPACITY => ErrorKind::InsufficientCapacity,
            codes::DUPLICATE
            | codes::CONFLICT
            | codes::SSH_KEY_IN_USE
            | codes::FILESYSTEM_IN_USE
            | codes::RULESET_IN_USE => ErrorKind::Conflict,
            codes::INTERNAL_ERROR => ErrorKind::Internal,
            c if c.starts_with(codes::PROVIDER_PREFIX) => ErrorKind::Unavailable,
            _ => return None,
        })
    });
    match by_code {
        Some(kind) if kind.default_retry().is_retryable() => (kind, kind.default_retry()),
        Some(kind) => (kind, row.retry),
        None => (row.kind, row.retry),
    }
}

/// The HTTP client's classifier: Lambda's error body (`error.code`, `message`, `suggestion`)
/// through [`classify`], the message and suggestion kept for the error text.
pub(crate) fn classifier(status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> Classification {
    let error = serde_json::from_slice::<wire::ErrorBody>(body)
        .ok()
        .and_then(|b| b.error)
        .unwrap_or_default();
    let (kind, retry) = classify(status.as_u16(), error.code.as_deref());
    let mut class = Classification::from_status(status)
        .with_kind(kind)
        .with_retry(retry);
    if let Some(code) = error.code {
        class = class.with_code(code);
    }
    let message = match (error.message, error.suggestion) {
        (Some(m), Some(s)) => Some(format!("{m} ({s})")),
        (m, s) => m.or(s),
    };
    if let Some(message) = message {
        class = class.with_message(message);
    }
    class
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorKind as K;

    #[test]
    fn table() {
        let throttled = Retry::Throttled { after: None };
        let never = Retry::Never;
        let transient = Retry::Transient;
        let cases: &[(u16, Option<&str>, K, Retry)] = &[
            (401, Some(codes::INVALID_API_KEY), K::Unauthenticated, never),
            (
                403,
                Some(codes::ACCOUNT_INACTIVE),
                K::PermissionDenied,
                never,
            ),
            (403, Some(codes::FORBIDDEN), K::PermissionDenied, never),
            (
                403,
                Some(codes::INVALID_ADDRESS),
                K::PermissionDenied,
                never,
            ),
            (
                400,
                Some(codes::INVALID_PARAMETERS),
                K::InvalidArgument,
                never,
            ),
            (
                400,
                Some(codes::FILE_SYSTEM_IN_WRONG_REGION),
                K::InvalidArgument,
                never,
            ),
            (
                404,
                Some(codes::OBJECT_DOES_NOT_EXIST),
                K::ResourceNotFound,
                never,
            ),
            (404, Some(codes::NOT_FOUND), K::ResourceNotFound, never),
            (400, Some(codes::QUOTA_EXCEEDED), K::QuotaExceeded, never),
            (
                400,
                Some(codes::INSUFFICIENT_CAPACITY),
                K::InsufficientCapacity,
                never,
            ),
            // A capacity answer with a 5xx status keeps the status's retry class.
            (
                503,
                Some(codes::INSUFFICIENT_CAPACITY),
                K::InsufficientCapacity,
                transient,
            ),
            (400, Some(codes::DUPLICATE), K::Conflict, never),
            (409, Some(codes::CONFLICT), K::Conflict, never),
            (400, Some(codes::SSH_KEY_IN_USE), K::Conflict, never),
            (409, Some(codes::RULESET_IN_USE), K::Conflict, never),
            (400, Some(codes::FILESYSTEM_IN_USE), K::Conflict, never),
            (500, Some(codes::INTERNAL_ERROR), K::Internal, transient),
            (409, Some(codes::INTERNAL_ERROR), K::Internal, transient),
            (
                503,
                Some("provider/internal-unavailable"),
                K::Unavailable,
                transient,
            ),
            (400, Some("provider/quota"), K::Unavailable, transient),
            (
                500,
                Some(codes::INVALID_PARAMETERS),
                K::InvalidArgument,
                transient,
            ),
            // 429 is throttling whatever the code.
            (429, Some("global/rate-limited"), K::RateLimited, throttled),
            (429, None, K::RateLimited, throttled),
            (
                429,
                Some(codes::INVALID_PARAMETERS),
                K::RateLimited,
                throttled,
            ),
        ];
        for (status, code, kind, retry) in cases {
            assert_eq!(
                classify(*status, *code),
                (*kind, *retry),
                "status {status} code {code:?}"
            );
        }
    }

    #[test]
    fn unknown_or_absent_codes_keep_the_core_row() {
        for status in [
            400, 401, 403, 404, 408, 409, 418, 422, 500, 501, 502, 503, 504, 599,
        ] {
            let row = http_status(status);
            for code in [None, Some("global/unknown"), Some("something/new")] {
                assert_eq!(
                    classify(status, code),
                    (row.kind, row.retry),
                    "status {status} code {code:?}"
                );
            }
        }
    }
}
