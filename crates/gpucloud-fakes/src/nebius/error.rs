//! Nebius's errors: a gRPC status whose details (`grpc-status-details-bin`) are a
//! `google.rpc.Status` carrying one `nebius.common.v1.ServiceError`, so that a client can
//! classify them without reading messages. Operations that fail carry the same shape in
//! their `status`.

use gpucloud_nebius_proto::common::v1::service_error::Details;
use gpucloud_nebius_proto::common::v1::{
    BadRequest, BadResourceState, NotEnoughResources, QuotaFailure, ResourceAlreadyExists,
    ResourceNotFound, ServiceError, TooManyRequests, bad_request, not_enough_resources,
    quota_failure,
};
use gpucloud_nebius_proto::google::rpc;
use prost::Message as _;
use tonic::{Code, Status};

/// The type URL of a `ServiceError` inside `google.rpc.Status.details`.
pub const SERVICE_ERROR_TYPE_URL: &str = "type.googleapis.com/nebius.common.v1.ServiceError";

/// An API error before it becomes a call's status or an operation's.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) code: Code,
    pub(crate) message: String,
    pub(crate) service: &'static str,
    pub(crate) details: Option<Details>,
}

impl ApiError {
    pub(crate) fn new(code: Code, service: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            service,
            details: None,
        }
    }

    fn with(mut self, details: Details) -> Self {
        self.details = Some(details);
        self
    }

    /// `INVALID_ARGUMENT` naming the field.
    pub(crate) fn bad_request(service: &'static str, field: &str, message: &str) -> Self {
        Self::new(
            Code::InvalidArgument,
            service,
            format!("{field}: {message}"),
        )
        .with(Details::BadRequest(BadRequest {
            violations: vec![bad_request::Violation {
                field: field.to_owned(),
                message: message.to_owned(),
                related_fields: Vec::new(),
            }],
        }))
    }

    /// `NOT_FOUND` for a resource id.
    pub(crate) fn not_found(service: &'static str, id: &str) -> Self {
        Self::new(Code::NotFound, service, format!("resource {id} not found")).with(
            Details::ResourceNotFound(ResourceNotFound {
                resource_id: id.to_owned(),
            }),
        )
    }

    /// `ALREADY_EXISTS`: `id` already has the name.
    pub(crate) fn already_exists(service: &'static str, id: &str, name: &str) -> Self {
        Self::new(
            Code::AlreadyExists,
            service,
            format!("a resource named {name:?} already exists: {id}"),
        )
        .with(Details::ResourceAlreadyExists(ResourceAlreadyExists {
            resource_id: id.to_owned(),
        }))
    }

    /// `FAILED_PRECONDITION`: the resource is in the wrong state for this.
    pub(crate) fn bad_state(service: &'static str, id: &str, message: String) -> Self {
        Self::new(Code::FailedPrecondition, service, message.clone()).with(
            Details::BadResourceState(BadResourceState {
                resource_id: id.to_owned(),
                message,
            }),
        )
    }

    /// `RESOURCE_EXHAUSTED` with a quota violation.
    pub(crate) fn quota(quota: &str, limit: u64, requested: u64) -> Self {
        let message = format!("quota {quota} exceeded: limit {limit}, requested {requested}");
        Self::new(Code::ResourceExhausted, "quotas", message.clone()).with(Details::QuotaFailure(
            QuotaFailure {
                violations: vec![quota_failure::Violation {
                    quota: quota.to_owned(),
                    message,
                    limit: limit.to_string(),
                    requested: requested.to_string(),
                }],
            },
        ))
    }

    /// `RESOURCE_EXHAUSTED` because the region has no capacity for this resource.
    pub(crate) fn not_enough_resources(resource_type: &str) -> Self {
        let message = format!("not enough resources: {resource_type}");
        Self::new(Code::ResourceExhausted, "compute", message.clone()).with(
            Details::NotEnoughResources(NotEnoughResources {
                violations: vec![not_enough_resources::Violation {
                    resource_type: resource_type.to_owned(),
                    message,
                    requested: "1".to_owned(),
                }],
            }),
        )
    }

    /// `RESOURCE_EXHAUSTED` because of a rate limit.
    pub(crate) fn too_many_requests() -> Self {
        Self::new(Code::ResourceExhausted, "gateway", "too many requests").with(
            Details::TooManyRequests(TooManyRequests {
                violation: "requests per second".to_owned(),
            }),
        )
    }

    /// The `google.rpc.Status` for an operation or for the status details.
    pub(crate) fn to_rpc_status(&self) -> rpc::Status {
        let error = ServiceError {
            service: self.service.to_owned(),
            code: format!("{:?}", self.code),
            details: self.details.clone(),
            retry_type: 0,
        };
        rpc::Status {
            code: self.code as i32,
            message: self.message.clone(),
            details: vec![prost_types::Any {
                type_url: SERVICE_ERROR_TYPE_URL.to_owned(),
                value: error.encode_to_vec(),
            }],
        }
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        let details = error.to_rpc_status().encode_to_vec();
        Status::with_details(error.code, error.message, details.into())
    }
}

/// What a call answers: its message or an API error.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_details_carry_the_service_error() {
        let status = Status::from(ApiError::quota("compute.instance.gpu.h100", 8, 16));
        assert_eq!(status.code(), Code::ResourceExhausted);
        let rpc = rpc::Status::decode(status.details()).unwrap();
        assert_eq!(rpc.code, Code::ResourceExhausted as i32);
        assert_eq!(rpc.details[0].type_url, SERVICE_ERROR_TYPE_URL);
        let error = ServiceError::decode(rpc.details[0].value.as_slice()).unwrap();
        let Some(Details::QuotaFailure(failure)) = error.details else {
            panic!("{error:?}");
        };
        assert_eq!(failure.violations[0].quota, "compute.instance.gpu.h100");
        assert_eq!(failure.violations[0].limit, "8");
    }
}
