//! Lambda failures → [`ErrorKind`] and [`Retry`], decided by the HTTP status and Lambda's
//! structured `error.code`, never by message text.

use std::time::Duration;

use gpucloud_core::{ErrorKind, Retry};

/// What a request was about, so a "does not exist" can say what is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    /// An instance (get, terminate, restart, update).
    Instance,
    /// Anything else: keys, rulesets, regions, types, images, launch resources.
    Resource,
}

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
/// A 429 is always throttling (with the server's Retry-After when given), whatever the code.
/// A known code decides the kind; an unknown or absent code falls back to the status.
pub(crate) fn classify(
    status: u16,
    code: Option<&str>,
    subject: Subject,
    retry_after: Option<Duration>,
) -> (ErrorKind, Retry) {
    if status == 429 {
        return (
            ErrorKind::RateLimited,
            Retry::Throttled { after: retry_after },
        );
    }
    let not_found = match subject {
        Subject::Instance => ErrorKind::InstanceNotFound,
        Subject::Resource => ErrorKind::ResourceNotFound,
    };
    let by_code = code.and_then(|code| {
        Some(match code {
            codes::INVALID_API_KEY => ErrorKind::Unauthenticated,
            codes::ACCOUNT_INACTIVE | codes::FORBIDDEN | codes::INVALID_ADDRESS => {
                ErrorKind::PermissionDenied
            }
            codes::INVALID_PARAMETERS | codes::FILE_SYSTEM_IN_WRONG_REGION => {
                ErrorKind::InvalidArgument
            }
            codes::OBJECT_DOES_NOT_EXIST | codes::NOT_FOUND => not_found,
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
    let kind = by_code.unwrap_or(match status {
        400 | 422 => ErrorKind::InvalidArgument,
        401 => ErrorKind::Unauthenticated,
        403 => ErrorKind::PermissionDenied,
        404 => not_found,
        409 => ErrorKind::Conflict,
        408 | 504 => ErrorKind::Timeout,
        502 | 503 => ErrorKind::Unavailable,
        s if s >= 500 => ErrorKind::Internal,
        _ => ErrorKind::Decode,
    });
    // A 5xx is worth another try even when its code names a permanent-looking kind.
    let retry = if status >= 500 && !kind.default_retry().is_retryable() {
        Retry::Transient
    } else {
        kind.default_retry()
    };
    (kind, retry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorKind as K;
    use Subject::{Instance as I, Resource as R};

    #[test]
    fn table() {
        type Case = (
            u16,
            Option<&'static str>,
            Subject,
            Option<Duration>,
            K,
            Retry,
        );
        let throttled = |after| Retry::Throttled { after };
        let secs = Some(Duration::from_secs(7));
        let cases: &[Case] = &[
            (
                401,
                Some(codes::INVALID_API_KEY),
                R,
                None,
                K::Unauthenticated,
                Retry::Never,
            ),
            (
                403,
                Some(codes::ACCOUNT_INACTIVE),
                R,
                None,
                K::PermissionDenied,
                Retry::Never,
            ),
            (
                403,
                Some(codes::FORBIDDEN),
                I,
                None,
                K::PermissionDenied,
                Retry::Never,
            ),
            (
                403,
                Some(codes::INVALID_ADDRESS),
                R,
                None,
                K::PermissionDenied,
                Retry::Never,
            ),
            (
                400,
                Some(codes::INVALID_PARAMETERS),
                R,
                None,
                K::InvalidArgument,
                Retry::Never,
            ),
            (
                400,
                Some(codes::FILE_SYSTEM_IN_WRONG_REGION),
                R,
                None,
                K::InvalidArgument,
                Retry::Never,
            ),
            (
                404,
                Some(codes::OBJECT_DOES_NOT_EXIST),
                I,
                None,
                K::InstanceNotFound,
                Retry::Never,
            ),
            (
                404,
                Some(codes::OBJECT_DOES_NOT_EXIST),
                R,
                None,
                K::ResourceNotFound,
                Retry::Never,
            ),
            (
                404,
                Some(codes::NOT_FOUND),
                I,
                None,
                K::InstanceNotFound,
                Retry::Never,
            ),
            (
                404,
                Some(codes::NOT_FOUND),
                R,
                None,
                K::ResourceNotFound,
                Retry::Never,
            ),
            (
                400,
                Some(codes::QUOTA_EXCEEDED),
                R,
                None,
                K::QuotaExceeded,
                Retry::Never,
            ),
            (
                400,
                Some(codes::INSUFFICIENT_CAPACITY),
                R,
                None,
                K::InsufficientCapacity,
                Retry::Never,
            ),
            (
                400,
                Some(codes::DUPLICATE),
                R,
                None,
                K::Conflict,
                Retry::Never,
            ),
            (
                409,
                Some(codes::CONFLICT),
                I,
                None,
                K::Conflict,
                Retry::Never,
            ),
            (
                400,
                Some(codes::SSH_KEY_IN_USE),
                R,
                None,
                K::Conflict,
                Retry::Never,
            ),
            (
                409,
                Some(codes::RULESET_IN_USE),
                R,
                None,
                K::Conflict,
                Retry::Never,
            ),
            (
                400,
                Some(codes::FILESYSTEM_IN_USE),
                R,
                None,
                K::Conflict,
                Retry::Never,
            ),
            (
                500,
                Some(codes::INTERNAL_ERROR),
                R,
                None,
                K::Internal,
                Retry::Transient,
            ),
            (
                409,
                Some(codes::INTERNAL_ERROR),
                R,
                None,
                K::Internal,
                Retry::Transient,
            ),
            (
                503,
                Some("provider/internal-unavailable"),
                R,
                None,
                K::Unavailable,
                Retry::Transient,
            ),
            (
                400,
                Some("provider/quota"),
                R,
                None,
                K::Unavailable,
                Retry::Transient,
            ),
            // 429 is throttling whatever the code, with Retry-After when sent.
            (
                429,
                Some("global/rate-limited"),
                R,
                secs,
                K::RateLimited,
                throttled(secs),
            ),
            (429, None, I, None, K::RateLimited, throttled(None)),
            (
                429,
                Some(codes::INVALID_PARAMETERS),
                R,
                secs,
                K::RateLimited,
                throttled(secs),
            ),
            // Unknown or absent codes fall back to the status.
            (400, None, R, None, K::InvalidArgument, Retry::Never),
            (
                401,
                Some("global/unknown"),
                R,
                None,
                K::Unauthenticated,
                Retry::Never,
            ),
            (403, None, R, None, K::PermissionDenied, Retry::Never),
            (404, None, I, None, K::InstanceNotFound, Retry::Never),
            (
                404,
                Some("something/new"),
                R,
                None,
                K::ResourceNotFound,
                Retry::Never,
            ),
            (409, None, R, None, K::Conflict, Retry::Never),
            (422, None, R, None, K::InvalidArgument, Retry::Never),
            (500, None, R, None, K::Internal, Retry::Transient),
            (
                500,
                Some("global/unknown"),
                R,
                None,
                K::Internal,
                Retry::Transient,
            ),
            (502, None, R, None, K::Unavailable, Retry::Transient),
            (503, None, I, None, K::Unavailable, Retry::Transient),
            (504, None, R, None, K::Timeout, Retry::Transient),
            (
                500,
                Some(codes::INVALID_PARAMETERS),
                R,
                None,
                K::InvalidArgument,
                Retry::Transient,
            ),
            (418, None, R, None, K::Decode, Retry::Never),
        ];
        for (status, code, subject, after, kind, retry) in cases {
            assert_eq!(
                classify(*status, *code, *subject, *after),
                (*kind, *retry),
                "status {status} code {code:?} subject {subject:?}"
            );
        }
    }
}
