//! One error type for every provider: where it failed (variant), what it means
//! ([`ErrorKind`]), whether to try again ([`Retry`]) and whether the request may have been
//! carried out ([`Delivery`]).

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use crate::enums::{Capability, LifecycleStatus};
use crate::model::instance::Instance;

/// A boxed error that can cross threads.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What an error means, independent of the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An instance does not exist (v1 `ErrInstanceNotFound`).
    InstanceNotFound,
    /// A VPC, cluster, SSH key or other resource does not exist (v1 `ErrResourceNotFound`).
    ResourceNotFound,
    /// An image does not exist (v1 `ErrImageNotFound`).
    ImageNotFound,
    /// No capacity for the request (v1 `ErrInsufficientResources`).
    InsufficientCapacity,
    /// An account limit was hit (v1 `ErrOutOfQuota`).
    QuotaExceeded,
    /// Too many requests.
    RateLimited,
    /// The credential was missing, malformed or rejected.
    Unauthenticated,
    /// The credential is valid but may not do this.
    PermissionDenied,
    /// The request was malformed or named something invalid.
    InvalidArgument,
    /// The operation is not implemented by this provider (v1 `ErrNotImplemented`).
    NotImplemented,
    /// The request conflicts with the current state (duplicate name, wrong state).
    Conflict,
    /// The same firewall rule already exists (v1 `ErrDuplicateFirewallRule`).
    DuplicateFirewallRule,
    /// The provider is down or overloaded (v1 `ErrServiceUnavailable`).
    Unavailable,
    /// The request or a wait ran out of time.
    Timeout,
    /// The caller cancelled.
    Cancelled,
    /// The provider's answer could not be understood.
    Decode,
    /// Local configuration is missing or wrong.
    Configuration,
    /// The provider failed internally.
    Internal,
    /// The instance reached a state it cannot leave toward the one asked for (`failed`,
    /// or `terminated` while waiting for `running`).
    InstanceFailed,
}

impl ErrorKind {
    /// The v1 sentinel text of this kind (kept for log compatibility), or a short description.
    pub fn sentinel(self) -> &'static str {
        match self {
            Self::InstanceNotFound => "instance not found",
            Self::ResourceNotFound => "resource not found",
            Self::ImageNotFound => "image not found",
            Self::InsufficientCapacity => {
                "zone has insufficient resources to fulfill the request, InsufficientCapacity"
            }
            Self::QuotaExceeded => {
                "out of quota in the region fulfill the request, InsufficientQuota"
            }
            Self::RateLimited => "rate limited",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission denied",
            Self::InvalidArgument => "invalid argument",
            Self::NotImplemented => "not implemented",
            Self::Conflict => "conflict",
            Self::DuplicateFirewallRule => "duplicate firewall rule",
            Self::Unavailable => "api is temporarily unavailable",
            Self::Timeout => "timed out",
            Self::Cancelled => "cancelled",
            Self::Decode => "unreadable provider response",
            Self::Configuration => "configuration error",
            Self::Internal => "provider internal error",
            Self::InstanceFailed => "instance failed",
        }
    }

    /// True for both not-found kinds of instances and resources (and images).
    pub fn is_not_found(self) -> bool {
        matches!(
            self,
            Self::InstanceNotFound | Self::ResourceNotFound | Self::ImageNotFound
        )
    }

    /// True for a failure of the provider or the transport that a later attempt may not meet:
    /// a 5xx, a reset, a timeout, throttling, an unreadable answer. Cleanup steps that nothing
    /// else would redo (deleting what a create made) are made again on these, also once a
    /// driver's own attempts are used up; a refusal (not found, in use, denied) is final.
    pub fn is_transient_failure(self) -> bool {
        matches!(
            self,
            Self::Internal | Self::Unavailable | Self::Timeout | Self::Decode | Self::RateLimited
        )
    }

    /// The retry class a kind has when nothing more specific is known.
    pub fn default_retry(self) -> Retry {
        match self {
            Self::RateLimited => Retry::Throttled { after: None },
            Self::Unavailable | Self::Timeout | Self::Internal => Retry::Transient,
            _ => Retry::Never,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sentinel())
    }
}

/// Whether and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Retry {
    /// Trying again will fail the same way.
    Never,
    /// A later attempt may succeed (5xx, reset, timeout).
    Transient,
    /// The provider asked to slow down; wait at least `after` when given.
    Throttled {
        /// The provider's Retry-After, if it sent one.
        after: Option<Duration>,
    },
    /// Retries were made and all failed.
    Exhausted,
}

impl Retry {
    /// True when a caller may try again.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Transient | Self::Throttled { .. })
    }
}

/// Whether a failed request reached the provider, and so whether it may have been carried out.
///
/// Transports set it on every [`CloudError::Provider`] they return; a caller that must know
/// whether a create happened asks [`CloudError::outcome_unknown`] instead of guessing from the
/// kind. The status tables in [`crate::status`] say which answers are `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// The request provably never reached the provider (connection refused, name resolution,
    /// TLS failure): nothing was done.
    NotSent,
    /// The request was sent and no usable answer came back (reset after sending, timeout, a 2xx
    /// whose body could not be read or decoded), or the answer does not say whether the work
    /// was done (a 500 or a gateway error): it may have been carried out.
    Unknown,
    /// The provider answered with a status that says what happened: a refusal (4xx, 429, 503)
    /// was not carried out.
    Answered,
}

/// What a provider said when it failed: HTTP status or gRPC code, structured code, message,
/// request id, `Retry-After` and a truncated, redacted body. Attached to [`CloudError::Provider`]
/// as its `source()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderDetails {
    /// HTTP status, when the transport is HTTP.
    pub status: Option<u16>,
    /// gRPC status code (see [`crate::status::GrpcCode`]), when the transport is gRPC.
    pub grpc_code: Option<i32>,
    /// The wait the provider asked for (`Retry-After`), honoured by
    /// [`crate::retry::RetryDriver`] for transient failures as well as throttling.
    pub retry_after: Option<Duration>,
    /// The provider's structured error code, e.g. `global/invalid-api-key`.
    pub code: Option<String>,
    /// The provider's message.
    pub message: Option<String>,
    /// The provider's request id, for support tickets.
    pub request_id: Option<String>,
    /// The start of the response body, secrets redacted.
    pub body: Option<String>,
}

impl ProviderDetails {
    /// The longest body kept, in bytes.
    pub const MAX_BODY: usize = 2048;

    /// Keeps at most [`Self::MAX_BODY`] bytes of `body`, cut at a character boundary.
    pub fn truncate_body(body: &str) -> String {
        if body.len() <= Self::MAX_BODY {
            return body.to_owned();
        }
        let mut end = Self::MAX_BODY;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... (truncated)", &body[..end])
    }
}

impl fmt::Display for ProviderDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(status) = self.status {
            parts.push(format!("status {status}"));
        }
        if let Some(code) = self.grpc_code {
            parts.push(format!("grpc code {code}"));
        }
        if let Some(code) = &self.code {
            parts.push(format!("code {code}"));
        }
        if let Some(message) = &self.message {
            parts.push(format!("message {message:?}"));
        }
        if let Some(id) = &self.request_id {
            parts.push(format!("request id {id}"));
        }
        if parts.is_empty() {
            f.write_str("provider gave no details")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

impl StdError for ProviderDetails {}

/// The error of every gpucloud operation.
#[derive(Debug)]
#[non_exhaustive]
pub enum CloudError {
    /// Input rejected before any call; nothing was created.
    InvalidArgument {
        /// The offending field, e.g. `firewall_rules.ingress_rules[0].ip_ranges[1]`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The client does not implement a capability.
    NotImplemented {
        /// The provider.
        provider: String,
        /// The capability asked for.
        capability: Capability,
    },
    /// The provider (or the local system acting as one) failed an operation.
    Provider {
        /// The provider id.
        provider: String,
        /// The operation, e.g. `create_instance`.
        operation: &'static str,
        /// What it means.
        kind: ErrorKind,
        /// Whether to try again.
        retry: Retry,
        /// Whether the request reached the provider.
        delivery: Delivery,
        /// One line for people.
        message: String,
        /// The provider's details ([`ProviderDetails`]) or the underlying error.
        source: Option<BoxError>,
    },
    /// A wait ended without reaching the desired status.
    Wait {
        /// Why it ended: `Timeout`, or `InstanceFailed` when the instance can no longer get there.
        kind: ErrorKind,
        /// The status waited for.
        desired: LifecycleStatus,
        /// The last instance seen.
        last: Box<Instance>,
        /// The last read error, if the final polls failed.
        last_error: Option<Box<CloudError>>,
    },
    /// The caller cancelled the operation.
    Cancelled,
    /// Local configuration is missing or wrong (credentials, files, tools).
    Configuration {
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl CloudError {
    /// An input error naming the field.
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// A provider error with the kind's default retry class, delivered
    /// ([`Delivery::Answered`]): an error a provider builds from an answer it understood.
    /// Transports set the delivery they observed with [`CloudError::with_delivery`].
    pub fn provider(
        provider: impl Into<String>,
        operation: &'static str,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> Self {
        Self::Provider {
            provider: provider.into(),
            operation,
            kind,
            retry: kind.default_retry(),
            delivery: Delivery::Answered,
            message: message.into(),
            source: None,
        }
    }

    /// An instance-not-found error.
    pub fn instance_not_found(
        provider: impl Into<String>,
        operation: &'static str,
        id: &str,
    ) -> Self {
        Self::provider(
            provider,
            operation,
            ErrorKind::InstanceNotFound,
            format!("no instance {id}"),
        )
    }

    /// A configuration error.
    pub fn configuration(message: impl Into<String>) -> Self {
        Self::Configuration {
            message: message.into(),
        }
    }

    /// Attaches an underlying error (kept as `source()`).
    pub fn with_source(mut self, error: impl Into<BoxError>) -> Self {
        if let Self::Provider { source, .. } = &mut self {
            *source = Some(error.into());
        }
        self
    }

    /// Overrides the retry class.
    pub fn with_retry(mut self, new_retry: Retry) -> Self {
        if let Self::Provider { retry, .. } = &mut self {
            *retry = new_retry;
        }
        self
    }

    /// Sets whether the request reached the provider.
    pub fn with_delivery(mut self, new_delivery: Delivery) -> Self {
        if let Self::Provider { delivery, .. } = &mut self {
            *delivery = new_delivery;
        }
        self
    }

    /// Overrides the kind (e.g. a not-found answer to a request about an instance is
    /// [`ErrorKind::InstanceNotFound`]).
    pub fn with_kind(mut self, new_kind: ErrorKind) -> Self {
        if let Self::Provider { kind, .. } | Self::Wait { kind, .. } = &mut self {
            *kind = new_kind;
        }
        self
    }

    /// Whether the failed request reached the provider. Errors raised before any call (input,
    /// configuration, not implemented) were never sent; a finished wait was answered; a
    /// cancellation may have interrupted a request in flight.
    pub fn delivery(&self) -> Delivery {
        match self {
            Self::Provider { delivery, .. } => *delivery,
            Self::InvalidArgument { .. }
            | Self::NotImplemented { .. }
            | Self::Configuration { .. } => Delivery::NotSent,
            Self::Wait { .. } => Delivery::Answered,
            Self::Cancelled => Delivery::Unknown,
        }
    }

    /// True when the failed request may have been carried out (a create may have created),
    /// so the caller must look before it concludes anything: [`Delivery::Unknown`].
    pub fn outcome_unknown(&self) -> bool {
        self.delivery() == Delivery::Unknown
    }

    /// What the error means.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Self::NotImplemented { .. } => ErrorKind::NotImplemented,
            Self::Provider { kind, .. } | Self::Wait { kind, .. } => *kind,
            Self::Cancelled => ErrorKind::Cancelled,
            Self::Configuration { .. } => ErrorKind::Configuration,
        }
    }

    /// Whether to try again.
    pub fn retry(&self) -> Retry {
        match self {
            Self::Provider { retry, .. } => *retry,
            _ => Retry::Never,
        }
    }

    /// True when a caller may try again.
    pub fn is_retryable(&self) -> bool {
        self.retry().is_retryable()
    }

    /// True for not-found errors of instances and resources.
    pub fn is_not_found(&self) -> bool {
        self.kind().is_not_found()
    }

    /// The provider's details, when the provider answered.
    pub fn provider_details(&self) -> Option<&ProviderDetails> {
        match self {
            Self::Provider {
                source: Some(source),
                ..
            } => source.downcast_ref::<ProviderDetails>(),
            _ => None,
        }
    }
}

impl fmt::Display for CloudError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidArgument { field, problem } => {
                write!(f, "invalid argument: {field}: {problem}")
            }
            Self::NotImplemented {
                provider,
                capability,
            } => {
                write!(
                    f,
                    "not implemented: provider {provider} does not support {capability}"
                )
            }
            Self::Provider {
                provider,
                operation,
                kind,
                message,
                ..
            } => {
                write!(f, "{}: {provider} {operation}", kind.sentinel())?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            Self::Wait {
                kind,
                desired,
                last,
                last_error,
            } => {
                let what = if *kind == ErrorKind::Timeout {
                    "timeout waiting for"
                } else {
                    "gave up waiting for"
                };
                write!(
                    f,
                    "{what} instance {} to reach status {desired}, last known status: {}",
                    last.cloud_id, last.status.lifecycle_status
                )?;
                if let Some(e) = last_error {
                    write!(f, ", last error: {e}")?;
                }
                Ok(())
            }
            Self::Cancelled => f.write_str("cancelled"),
            Self::Configuration { message } => write!(f, "configuration error: {message}"),
        }
    }
}

impl StdError for CloudError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Provider {
                source: Some(source),
                ..
            } => Some(source.as_ref()),
            Self::Wait {
                last_error: Some(e),
                ..
            } => Some(e.as_ref()),
            _ => None,
        }
    }
}

/// Shorthand for results of gpucloud operations.
pub type Result<T, E = CloudError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_keeps_v1_sentinels() {
        let e = CloudError::provider(
            "lambda-labs",
            "create_instance",
            ErrorKind::InsufficientCapacity,
            "no gpu_1x_a10 in us-east-1",
        );
        assert!(e.to_string().starts_with(
            "zone has insufficient resources to fulfill the request, InsufficientCapacity"
        ));
        let e = CloudError::provider("x", "create_instance", ErrorKind::QuotaExceeded, "");
        assert!(
            e.to_string()
                .starts_with("out of quota in the region fulfill the request, InsufficientQuota")
        );
        let e = CloudError::instance_not_found("x", "get_instance", "i-1");
        assert!(e.to_string().starts_with("instance not found"));
        assert!(e.is_not_found());
        let e = CloudError::NotImplemented {
            provider: "x".into(),
            capability: Capability::Tags,
        };
        assert!(e.to_string().starts_with("not implemented"));
        assert_eq!(
            ErrorKind::Unavailable.sentinel(),
            "api is temporarily unavailable"
        );
    }

    #[test]
    fn retry_classes_follow_the_kind_unless_overridden() {
        let throttled = CloudError::provider("x", "list_instances", ErrorKind::RateLimited, "")
            .with_retry(Retry::Throttled {
                after: Some(Duration::from_secs(3)),
            });
        assert_eq!(
            throttled.retry(),
            Retry::Throttled {
                after: Some(Duration::from_secs(3))
            }
        );
        assert!(throttled.is_retryable());
        assert!(CloudError::provider("x", "o", ErrorKind::Unavailable, "").is_retryable());
        assert!(!CloudError::provider("x", "o", ErrorKind::InvalidArgument, "").is_retryable());
        assert!(!CloudError::invalid("ref_id", "must not be empty").is_retryable());
        assert!(!Retry::Exhausted.is_retryable());
    }

    #[test]
    fn transient_failures_are_the_providers_and_the_transports_never_a_refusal() {
        for kind in [
            ErrorKind::Internal,
            ErrorKind::Unavailable,
            ErrorKind::Timeout,
            ErrorKind::Decode,
            ErrorKind::RateLimited,
        ] {
            assert!(kind.is_transient_failure(), "{kind:?}");
        }
        for kind in [
            ErrorKind::InstanceNotFound,
            ErrorKind::Conflict,
            ErrorKind::PermissionDenied,
            ErrorKind::InvalidArgument,
            ErrorKind::Cancelled,
        ] {
            assert!(!kind.is_transient_failure(), "{kind:?}");
        }
    }

    #[test]
    fn outcome_is_unknown_only_for_unknown_delivery() {
        let e = CloudError::provider("x", "create_instance", ErrorKind::Decode, "cut body");
        assert_eq!(e.delivery(), Delivery::Answered);
        assert!(!e.outcome_unknown());
        let e = e.with_delivery(Delivery::Unknown);
        assert!(e.outcome_unknown());
        let e = e.with_delivery(Delivery::NotSent);
        assert!(!e.outcome_unknown());
        assert_eq!(
            CloudError::invalid("name", "empty").delivery(),
            Delivery::NotSent
        );
        assert_eq!(
            CloudError::configuration("no key").delivery(),
            Delivery::NotSent
        );
        assert!(CloudError::Cancelled.outcome_unknown());
        let e = CloudError::provider("x", "get_instance", ErrorKind::ResourceNotFound, "")
            .with_kind(ErrorKind::InstanceNotFound);
        assert_eq!(e.kind(), ErrorKind::InstanceNotFound);
    }

    #[test]
    fn details_are_the_source() {
        let details = ProviderDetails {
            status: Some(404),
            grpc_code: None,
            retry_after: None,
            code: Some("global/object-does-not-exist".into()),
            message: Some("Instance not found".into()),
            request_id: Some("req-1".into()),
            body: None,
        };
        let e = CloudError::provider(
            "lambda-labs",
            "get_instance",
            ErrorKind::InstanceNotFound,
            "no instance i-1",
        )
        .with_source(details.clone());
        assert_eq!(e.provider_details(), Some(&details));
        let source = StdError::source(&e).unwrap().to_string();
        assert!(source.contains("status 404") && source.contains("global/object-does-not-exist"));
        let grpc = ProviderDetails {
            grpc_code: Some(14),
            ..ProviderDetails::default()
        };
        assert_eq!(grpc.to_string(), "grpc code 14");
    }

    #[test]
    fn body_truncation_respects_char_boundaries() {
        let body = "é".repeat(ProviderDetails::MAX_BODY);
        let cut = ProviderDetails::truncate_body(&body);
        assert!(cut.ends_with("(truncated)"));
        assert!(cut.len() < body.len());
    }
}
