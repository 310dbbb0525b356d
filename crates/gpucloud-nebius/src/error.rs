//! The one classifier: a gRPC status (of a call, or of a finished operation) → [`CloudError`],
//! from core's gRPC table, changed only where Nebius's structured `ServiceError` detail says
//! more. Never by message text.

use gpucloud_core::status::{GrpcCode, StatusClass, grpc_call_status, grpc_status};
use gpucloud_core::{CloudError, ErrorKind, ProviderDetails, Retry};
use gpucloud_nebius_proto::common::v1::ServiceError;
use gpucloud_nebius_proto::common::v1::service_error::{Details, RetryType};
use gpucloud_nebius_proto::google::rpc;
use prost::Message;

use crate::PROVIDER_ID;

/// The `type_url` suffix of Nebius's error detail.
const SERVICE_ERROR_TYPE: &str = "nebius.common.v1.ServiceError";

/// Nebius's structured error details packed in a `google.rpc.Status`.
fn service_errors(details: &[prost_types::Any]) -> Vec<ServiceError> {
    details
        .iter()
        .filter(|any| any.type_url.ends_with(SERVICE_ERROR_TYPE))
        .filter_map(|any| ServiceError::decode(any.value.as_slice()).ok())
        .collect()
}

/// What the detail says, when it says more than the code: kind, retry class, a message.
fn from_detail(error: &ServiceError) -> Option<(ErrorKind, Retry, String)> {
    let detail = match error.details.as_ref()? {
        Details::QuotaFailure(q) => {
            let what: Vec<String> = q
                .violations
                .iter()
                .map(|v| format!("{} (limit {}, requested {})", v.quota, v.limit, v.requested))
                .collect();
            (
                ErrorKind::QuotaExceeded,
                Retry::Never,
                format!("quota exceeded: {}", what.join(", ")),
            )
        }
        Details::NotEnoughResources(n) => {
            let what: Vec<&str> = n
                .violations
                .iter()
                .map(|v| v.resource_type.as_str())
                .collect();
            (
                ErrorKind::InsufficientCapacity,
                Retry::Never,
                format!("not enough capacity: {}", what.join(", ")),
            )
        }
        Details::TooManyRequests(t) => (
            ErrorKind::RateLimited,
            Retry::Throttled { after: None },
            format!("too many requests: {}", t.violation),
        ),
        Details::BadRequest(b) => {
            let what: Vec<String> = b
                .violations
                .iter()
                .map(|v| format!("{}: {}", v.field, v.message))
                .collect();
            (
                ErrorKind::InvalidArgument,
                Retry::Never,
                format!("bad request: {}", what.join("; ")),
            )
        }
        Details::ResourceNotFound(r) => (
            ErrorKind::ResourceNotFound,
            Retry::Never,
            format!("{} not found", r.resource_id),
        ),
        Details::ResourceAlreadyExists(r) => (
            ErrorKind::Conflict,
            Retry::Never,
            format!("{} already exists", r.resource_id),
        ),
        Details::PermissionDenied(p) => (
            ErrorKind::PermissionDenied,
            Retry::Never,
            format!("permission denied on {}", p.resource_id),
        ),
        Details::BadResourceState(b) => (
            ErrorKind::Conflict,
            Retry::Never,
            format!("{}: {}", b.resource_id, b.message),
        ),
        Details::ResourceConflict(c) => (
            ErrorKind::Conflict,
            Retry::Never,
            format!("{}: {}", c.resource_id, c.message),
        ),
        // Another operation on the resource got in the way: doing it again resolves it.
        Details::OperationAborted(o) => (
            ErrorKind::Conflict,
            Retry::Transient,
            format!("aborted by operation {}", o.aborted_by_operation_id),
        ),
        Details::OperationConflict(o) => (
            ErrorKind::Conflict,
            Retry::Transient,
            format!("conflicts with operation {}", o.conflicting_operation_id),
        ),
        Details::OutOfRange(o) => (
            ErrorKind::InvalidArgument,
            Retry::Never,
            format!("out of range: requested {}, limit {}", o.requested, o.limit),
        ),
        Details::InternalError(_) => return None,
    };
    Some(detail)
}

/// The error of a failed call or operation: `code` (classed by `table`), `message` and the
/// packed `details` of a gRPC status.
pub(crate) fn classify(
    operation: &'static str,
    table: fn(GrpcCode) -> StatusClass,
    code: i32,
    message: &str,
    details: &[prost_types::Any],
) -> CloudError {
    let grpc = GrpcCode::from_i32(code).unwrap_or(GrpcCode::Unknown);
    let class = table(grpc);
    let errors = service_errors(details);
    let mut kind = class.kind;
    let mut retry = class.retry;
    let mut text = if message.is_empty() {
        format!("{grpc:?}")
    } else {
        ProviderDetails::truncate_body(message)
    };
    let mut request_id = None;
    let mut detail_code = None;
    if let Some(first) = errors.first() {
        if !first.code.is_empty() {
            detail_code = Some(format!("{}/{}", first.service, first.code));
        }
        if let Some(Details::InternalError(i)) = &first.details
            && !i.request_id.is_empty()
        {
            request_id = Some(i.request_id.clone());
        }
        if let Some((k, r, said)) = from_detail(first) {
            kind = k;
            retry = r;
            if message.is_empty() {
                text = said;
            } else {
                text = format!("{text} ({said})");
            }
        }
        if first.retry_type() == RetryType::Nothing {
            retry = Retry::Never;
        }
    }
    let provider_details = ProviderDetails {
        grpc_code: Some(code),
        code: detail_code,
        message: (!message.is_empty()).then(|| ProviderDetails::truncate_body(message)),
        request_id,
        ..ProviderDetails::default()
    };
    CloudError::provider(PROVIDER_ID, operation, kind, text)
        .with_retry(retry)
        .with_delivery(class.delivery)
        .with_source(provider_details)
}

/// The error of a failed call; its `CANCELLED` is the transport's (core's
/// [`grpc_call_status`]: this client never cancels a call it awaits, and tonic answers
/// `CANCELLED` for a call whose HTTP/2 connection closed under it).
pub(crate) fn from_status(operation: &'static str, status: &tonic::Status) -> CloudError {
    let details = if status.details().is_empty() {
        Vec::new()
    } else {
        rpc::Status::decode(status.details())
            .map(|s| s.details)
            .unwrap_or_default()
    };
    classify(
        operation,
        grpc_call_status,
        status.code() as i32,
        status.message(),
        &details,
    )
}

/// The error of an operation that finished with a status other than OK.
pub(crate) fn from_operation(operation: &'static str, status: &rpc::Status) -> CloudError {
    classify(
        operation,
        grpc_status,
        status.code,
        &status.message,
        &status.details,
    )
}

/// A well-formed answer that cannot be used (a field missing or out of range): `Decode`,
/// naming the field.
pub(crate) fn decode(operation: &'static str, what: impl Into<String>) -> CloudError {
    CloudError::provider(PROVIDER_ID, operation, ErrorKind::Decode, what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpucloud_core::Delivery;
    use gpucloud_nebius_proto::common::v1 as common;
    use tonic::Code;

    fn packed(details: Details) -> Vec<prost_types::Any> {
        let error = ServiceError {
            service: "compute".into(),
            code: "ERR".into(),
            details: Some(details),
            retry_type: 0,
        };
        vec![prost_types::Any {
            type_url: format!("type.googleapis.com/{SERVICE_ERROR_TYPE}"),
            value: error.encode_to_vec(),
        }]
    }

    fn status(code: Code, details: Vec<prost_types::Any>) -> tonic::Status {
        let packed = rpc::Status {
            code: code as i32,
            message: "m".into(),
            details,
        };
        tonic::Status::with_details(code, "m", packed.encode_to_vec().into())
    }

    #[test]
    fn codes_and_details_classify() {
        let quota = packed(Details::QuotaFailure(common::QuotaFailure {
            violations: vec![common::quota_failure::Violation {
                quota: "compute.instance.gpu.h100".into(),
                message: String::new(),
                limit: "8".into(),
                requested: "16".into(),
            }],
        }));
        let capacity = packed(Details::NotEnoughResources(common::NotEnoughResources {
            violations: vec![common::not_enough_resources::Violation {
                resource_type: "gpu-h100-sxm".into(),
                message: String::new(),
                requested: "8".into(),
            }],
        }));
        let not_found = packed(Details::ResourceNotFound(common::ResourceNotFound {
            resource_id: "computeinstance-x".into(),
        }));
        let throttled = Retry::Throttled { after: None };
        let cases: Vec<(Code, Vec<prost_types::Any>, ErrorKind, Retry)> = vec![
            (
                Code::ResourceExhausted,
                quota,
                ErrorKind::QuotaExceeded,
                Retry::Never,
            ),
            (
                Code::ResourceExhausted,
                capacity,
                ErrorKind::InsufficientCapacity,
                Retry::Never,
            ),
            (
                Code::ResourceExhausted,
                vec![],
                ErrorKind::RateLimited,
                throttled,
            ),
            (
                Code::NotFound,
                not_found,
                ErrorKind::ResourceNotFound,
                Retry::Never,
            ),
            (
                Code::NotFound,
                vec![],
                ErrorKind::ResourceNotFound,
                Retry::Never,
            ),
            (
                Code::AlreadyExists,
                vec![],
                ErrorKind::Conflict,
                Retry::Never,
            ),
            (
                Code::PermissionDenied,
                vec![],
                ErrorKind::PermissionDenied,
                Retry::Never,
            ),
            (
                Code::Unauthenticated,
                vec![],
                ErrorKind::Unauthenticated,
                Retry::Never,
            ),
            (
                Code::Unavailable,
                vec![],
                ErrorKind::Unavailable,
                Retry::Transient,
            ),
            (
                Code::DeadlineExceeded,
                vec![],
                ErrorKind::Timeout,
                Retry::Transient,
            ),
            (
                Code::InvalidArgument,
                vec![],
                ErrorKind::InvalidArgument,
                Retry::Never,
            ),
            (
                Code::Internal,
                vec![],
                ErrorKind::Internal,
                Retry::Transient,
            ),
        ];
        for (code, details, kind, retry) in cases {
            let e = from_status("op", &status(code, details));
            assert_eq!((e.kind(), e.retry()), (kind, retry), "{code:?}: {e}");
            assert_eq!(e.provider_details().unwrap().grpc_code, Some(code as i32));
        }
    }

    #[test]
    fn a_call_cancelled_under_us_is_a_transport_failure_that_may_have_happened() {
        let e = from_status(
            "delete_disk",
            &tonic::Status::cancelled("operation was canceled"),
        );
        assert_eq!(
            (e.kind(), e.retry(), e.delivery()),
            (ErrorKind::Unavailable, Retry::Transient, Delivery::Unknown),
            "{e}"
        );
        assert_eq!(
            e.provider_details().unwrap().grpc_code,
            Some(Code::Cancelled as i32)
        );
        // An operation that finished cancelled is the service's word, classified as such.
        let op = from_operation(
            "delete_disk",
            &rpc::Status {
                code: Code::Cancelled as i32,
                message: "cancelled by the user".into(),
                details: Vec::new(),
            },
        );
        assert_eq!(op.kind(), ErrorKind::Cancelled);
    }

    #[test]
    fn delivery_comes_from_the_code() {
        assert_eq!(
            from_status("op", &status(Code::Unavailable, vec![])).delivery(),
            Delivery::Answered
        );
        assert!(from_status("op", &status(Code::DeadlineExceeded, vec![])).outcome_unknown());
        assert!(from_status("op", &status(Code::Internal, vec![])).outcome_unknown());
    }

    #[test]
    fn the_message_text_never_decides() {
        let e = from_status(
            "op",
            &tonic::Status::new(Code::Internal, "quota exceeded: not enough resources"),
        );
        assert_eq!(e.kind(), ErrorKind::Internal);
    }

    #[test]
    fn unreadable_details_keep_the_code_row() {
        let junk = vec![prost_types::Any {
            type_url: format!("type.googleapis.com/{SERVICE_ERROR_TYPE}"),
            value: vec![0xff, 0xff, 0xff],
        }];
        let e = from_status("op", &status(Code::ResourceExhausted, junk));
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        let e = from_status(
            "op",
            &tonic::Status::with_details(Code::NotFound, "gone", vec![1, 2, 3].into()),
        );
        assert_eq!(e.kind(), ErrorKind::ResourceNotFound);
    }

    #[test]
    fn a_failed_operation_carries_its_status() {
        let e = from_operation(
            "create_instance",
            &rpc::Status {
                code: Code::ResourceExhausted as i32,
                message: "no gpus".into(),
                details: packed(Details::NotEnoughResources(common::NotEnoughResources {
                    violations: vec![],
                })),
            },
        );
        assert_eq!(e.kind(), ErrorKind::InsufficientCapacity);
        assert!(e.to_string().contains("no gpus"), "{e}");
        let details = e.provider_details().unwrap();
        assert_eq!(details.code.as_deref(), Some("compute/ERR"));
    }

    #[test]
    fn retry_nothing_is_never_retried_and_conflicts_of_operations_are() {
        let mut error = ServiceError {
            service: "compute".into(),
            code: "busy".into(),
            details: Some(Details::OperationConflict(common::OperationConflict {
                conflicting_operation_id: "op-1".into(),
                resource_id: "r".into(),
            })),
            retry_type: 0,
        };
        let any = |e: &ServiceError| {
            vec![prost_types::Any {
                type_url: format!("type.googleapis.com/{SERVICE_ERROR_TYPE}"),
                value: e.encode_to_vec(),
            }]
        };
        let e = from_status("op", &status(Code::Aborted, any(&error)));
        assert_eq!(
            (e.kind(), e.retry()),
            (ErrorKind::Conflict, Retry::Transient)
        );
        error.retry_type = RetryType::Nothing as i32;
        let e = from_status("op", &status(Code::Unavailable, any(&error)));
        assert_eq!(e.retry(), Retry::Never);
    }
}
