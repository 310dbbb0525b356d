//! AWS failures → [`gpucloud_core::ErrorKind`], [`gpucloud_core::Retry`] and
//! [`gpucloud_core::Delivery`].
//!
//! The core status table ([`gpucloud_core::status::http_status`]) decides from the HTTP status,
//! changed only where the answer's structured error code (EC2's `Code`, the JSON services'
//! `__type`) says more; the message is kept for people and never inspected. A failure before
//! an answer is classified by what the SDK says happened: never sent (a refused connection,
//! a request that could not be built), or sent without a usable answer (a timeout, a broken
//! connection, an answer that could not be read), which may have been carried out.

use std::error::Error as StdError;

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::operation::RequestId;
use gpucloud_core::status::http_status;
use gpucloud_core::{CloudError, Delivery, ErrorKind, ProviderDetails, Retry};

use crate::convert::PROVIDER;

/// What a structured error code means, where it says more than the status. EC2's codes are
/// listed in its API reference ("Error codes for the Amazon EC2 API"); Service Quotas' and the
/// Price List's are their documented exception names.
pub(crate) fn kind_of(code: &str) -> Option<ErrorKind> {
    let kind = match code {
        "InsufficientInstanceCapacity"
        | "InsufficientHostCapacity"
        | "InsufficientReservedInstanceCapacity"
        | "InsufficientCapacity"
        | "InsufficientAddressCapacity"
        | "InsufficientFreeAddressesInSubnet"
        | "InsufficientCapacityOnHost"
        | "SpotMaxPriceTooLow"
        | "UnfulfillableCapacity" => ErrorKind::InsufficientCapacity,
        "VcpuLimitExceeded"
        | "InstanceLimitExceeded"
        | "MaxSpotInstanceCountExceeded"
        | "ResourceLimitExceeded"
        | "SecurityGroupLimitExceeded"
        | "RulesPerSecurityGroupLimitExceeded"
        | "VolumeLimitExceeded"
        | "AddressLimitExceeded"
        | "MaxIOPSLimitExceeded"
        | "PendingVerification"
        | "ServiceQuotaExceededException" => ErrorKind::QuotaExceeded,
        "RequestLimitExceeded"
        | "Throttling"
        | "ThrottlingException"
        | "TooManyRequestsException"
        | "RequestThrottled"
        | "SlowDown" => ErrorKind::RateLimited,
        "AuthFailure"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "UnrecognizedClientException"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidAccessKeyId"
        | "MissingAuthenticationToken"
        | "IncompleteSignature" => ErrorKind::Unauthenticated,
        "UnauthorizedOperation"
        | "AccessDenied"
        | "AccessDeniedException"
        | "OptInRequired"
        | "Blocked"
        | "NoSuchOrganizationException"
        | "AWSServiceAccessNotEnabledException" => ErrorKind::PermissionDenied,
        "InvalidInstanceID.NotFound" | "InvalidInstanceID.Malformed" | "InvalidInstanceID" => {
            ErrorKind::InstanceNotFound
        }
        "InvalidAMIID.NotFound" | "InvalidAMIID.Malformed" | "InvalidAMIID.Unavailable" => {
            ErrorKind::ImageNotFound
        }
        "InvalidKeyPair.NotFound"
        | "InvalidGroup.NotFound"
        | "InvalidGroupId.Malformed"
        | "InvalidSecurityGroupID.NotFound"
        | "InvalidPermission.NotFound"
        | "InvalidVolume.NotFound"
        | "InvalidVpcID.NotFound"
        | "InvalidSubnetID.NotFound"
        | "NoSuchResourceException"
        | "NotFoundException" => ErrorKind::ResourceNotFound,
        "InvalidPermission.Duplicate" => ErrorKind::DuplicateFirewallRule,
        "InvalidKeyPair.Duplicate"
        | "InvalidGroup.Duplicate"
        | "DependencyViolation"
        | "IncorrectInstanceState"
        | "IncorrectState"
        | "IncorrectModificationState"
        | "InvalidState"
        | "IdempotentParameterMismatch"
        | "InvalidGroup.InUse"
        | "VolumeInUse" => ErrorKind::Conflict,
        "InvalidParameterValue"
        | "InvalidParameterCombination"
        | "InvalidParameter"
        | "InvalidParameterException"
        | "MissingParameter"
        | "InvalidKeyPair.Format"
        | "InvalidInstanceType"
        | "InvalidBlockDeviceMapping"
        | "InvalidUserData.Malformed"
        | "InvalidAvailabilityZone"
        | "InvalidSpotInstanceRequestConfig"
        | "Unsupported"
        | "UnsupportedOperation"
        | "UnsupportedInstanceAttribute"
        | "ValidationError"
        | "ValidationException"
        | "ExpiredNextTokenException"
        | "InvalidNextTokenException"
        | "IllegalArgumentException" => ErrorKind::InvalidArgument,
        "InternalError" | "InternalFailure" | "InternalErrorException" | "ServiceException" => {
            ErrorKind::Internal
        }
        "ServiceUnavailable" | "Unavailable" => ErrorKind::Unavailable,
        _ => return None,
    };
    Some(kind)
}

/// The error of an answer: the status table's row for `status`, changed where `code` says
/// more. A throttling code is throttling and a server code a server failure whatever the
/// status; a 5xx answer stays of unknown outcome.
pub(crate) fn answered(
    operation: &'static str,
    status: u16,
    details: ProviderDetails,
) -> CloudError {
    let row = http_status(status);
    let (kind, retry) = match details.code.as_deref().and_then(kind_of) {
        Some(kind) if kind == ErrorKind::RateLimited || kind.is_transient_failure() => {
            (kind, kind.default_retry())
        }
        Some(kind) if (400..500).contains(&status) && status != 429 => (kind, kind.default_retry()),
        _ => (row.kind, row.retry),
    };
    let message = match (&details.code, &details.message) {
        (Some(code), Some(message)) => format!("aws {operation} failed: {code}: {message}"),
        (Some(code), None) => format!("aws {operation} failed: {code}"),
        (None, Some(message)) => format!("aws {operation} failed: {message}"),
        (None, None) => format!("aws {operation} failed with status {status}"),
    };
    CloudError::provider(PROVIDER, operation, kind, message)
        .with_retry(retry)
        .with_delivery(row.delivery)
        .with_source(details)
}

/// Whether a connection failure proves the request was never sent (the connection was
/// refused, or no address was found).
fn never_sent(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
            )
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// A failed SDK call as a [`CloudError`] of `operation`.
pub(crate) fn classify<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> CloudError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let failure = |kind: ErrorKind, retry: Retry, delivery: Delivery, what: String| {
        CloudError::provider(PROVIDER, operation, kind, what)
            .with_retry(retry)
            .with_delivery(delivery)
    };
    match error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let err = service.err();
            let body = service
                .raw()
                .body()
                .bytes()
                .map(|b| ProviderDetails::truncate_body(&String::from_utf8_lossy(b)));
            let details = ProviderDetails {
                status: Some(status),
                code: err.code().map(str::to_owned),
                message: err.message().map(str::to_owned),
                request_id: err.meta().request_id().map(str::to_owned),
                body,
                ..ProviderDetails::default()
            };
            answered(operation, status, details)
        }
        SdkError::ConstructionFailure(e) => failure(
            ErrorKind::InvalidArgument,
            Retry::Never,
            Delivery::NotSent,
            format!("aws {operation}: the request could not be built: {e:?}"),
        ),
        SdkError::TimeoutError(_) => failure(
            ErrorKind::Timeout,
            Retry::Transient,
            Delivery::Unknown,
            format!("aws {operation} timed out"),
        ),
        SdkError::DispatchFailure(e) => {
            let sent = e
                .as_connector_error()
                .is_none_or(|c| !never_sent(c as &(dyn StdError + 'static)));
            let (kind, delivery) = if sent {
                (ErrorKind::Unavailable, Delivery::Unknown)
            } else {
                (ErrorKind::Unavailable, Delivery::NotSent)
            };
            let text = e
                .as_connector_error()
                .map(|c| source_text(c))
                .unwrap_or_default();
            failure(
                kind,
                Retry::Transient,
                delivery,
                format!("aws {operation}: no answer: {text}"),
            )
        }
        SdkError::ResponseError(e) => {
            let status = e.raw().status().as_u16();
            failure(
                ErrorKind::Decode,
                Retry::Transient,
                Delivery::Unknown,
                format!("aws {operation}: status {status} with an answer that could not be read"),
            )
        }
        other => failure(
            ErrorKind::Internal,
            Retry::Transient,
            Delivery::Unknown,
            format!("aws {operation} failed: {}", source_text(&other)),
        ),
    }
}

/// An error's text with its sources, one line.
fn source_text(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        text.push_str(": ");
        text.push_str(&e.to_string());
        next = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use gpucloud_core::ErrorKind as K;

    use super::*;

    fn details(code: Option<&str>) -> ProviderDetails {
        ProviderDetails {
            code: code.map(str::to_owned),
            message: Some("There is no capacity, quota, throttling".to_owned()),
            request_id: Some("req-1".to_owned()),
            ..ProviderDetails::default()
        }
    }

    #[test]
    fn codes_decide_where_they_say_more_than_the_status() {
        let cases: &[(u16, Option<&str>, K, Retry, Delivery)] = &[
            (
                500,
                Some("InsufficientInstanceCapacity"),
                K::Internal,
                Retry::Transient,
                Delivery::Unknown,
            ),
            (
                400,
                Some("InsufficientInstanceCapacity"),
                K::InsufficientCapacity,
                Retry::Never,
                Delivery::Answered,
            ),
            (
                400,
                Some("VcpuLimitExceeded"),
                K::QuotaExceeded,
                Retry::Never,
                Delivery::Answered,
            ),
            (
                400,
                Some("InstanceLimitExceeded"),
                K::QuotaExceeded,
                Retry::Never,
                Delivery::Answered,
            ),
            (
                503,
                Some("RequestLimitExceeded"),
                K::RateLimited,
                Retry::Throttled { after: None },
                Delivery::Answered,
            ),
            (
                400,
                Some("RequestLimitExceeded"),
                K::RateLimited,
                Retry::Throttled { after: None },
                Delivery::Answered,
            ),
            (
                403,
                Some("UnauthorizedOperation"),
                K::PermissionDenied,
                Retry::Never,
                Delivery::Answered,
            ),
            (
                401,
                Some("AuthFailure"),
                K::Unauthenticated,
                Retry::Never,
                Delivery::Answered,
            ),
            (
                400,
                Some("InvalidKeyPair.NotFound"),
                K::ResourceNotFound,
                Retry::Never,
                Delivery::Answered,
            ),
            (
                400,
                Some("InvalidKeyPair.Duplicate"),
                K::Conflict,
                Retry::Never,
                Delivery::Answered,
            ),
            (
                400,
                Some("InvalidKeyPair.Format"),
                K::InvalidArgument,
                Retry::Never,
                Delivery::Answered,
            ),
            (
                400,
                Some("InvalidInstanceID.NotFound"),
                K::InstanceNotFound,
                Retry::Never,
                Delivery::Answered,
            ),
            (
                400,
                Some("InvalidAMIID.NotFound"),
                K::ImageNotFound,
                Retry::Never,
                Delivery::Answered,
            ),
            (
                400,
                Some("InvalidPermission.Duplicate"),
                K::DuplicateFirewallRule,
                Retry::Never,
                Delivery::Answered,
            ),
            (
                400,
                Some("DependencyViolation"),
                K::Conflict,
                Retry::Never,
                Delivery::Answered,
            ),
            (
                400,
                Some("IncorrectInstanceState"),
                K::Conflict,
                Retry::Never,
                Delivery::Answered,
            ),
            (
                400,
                Some("InvalidParameterValue"),
                K::InvalidArgument,
                Retry::Never,
                Delivery::Answered,
            ),
            (
                500,
                Some("InternalError"),
                K::Internal,
                Retry::Transient,
                Delivery::Unknown,
            ),
            (
                503,
                Some("Unavailable"),
                K::Unavailable,
                Retry::Transient,
                Delivery::Answered,
            ),
            (
                400,
                Some("SomethingNew"),
                K::InvalidArgument,
                Retry::Never,
                Delivery::Answered,
            ),
            (500, None, K::Internal, Retry::Transient, Delivery::Unknown),
            (
                429,
                Some("InvalidParameterValue"),
                K::RateLimited,
                Retry::Throttled { after: None },
                Delivery::Answered,
            ),
        ];
        for (status, code, kind, retry, delivery) in cases {
            let e = answered("op", *status, details(*code));
            assert_eq!(
                (e.kind(), e.retry(), e.delivery()),
                (*kind, *retry, *delivery),
                "{status} {code:?}"
            );
            let d = e.provider_details().expect("details attached");
            assert_eq!(d.request_id.as_deref(), Some("req-1"));
        }
    }

    #[test]
    fn every_status_without_a_code_follows_the_core_table() {
        for status in [400, 401, 403, 404, 409, 429, 500, 502, 503, 504] {
            let e = answered("op", status, details(None));
            let row = http_status(status);
            assert_eq!(
                (e.kind(), e.retry(), e.delivery()),
                (row.kind, row.retry, row.delivery)
            );
        }
    }

    #[test]
    fn a_refused_connection_was_never_sent() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(never_sent(&refused));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(!never_sent(&reset));
    }
}
