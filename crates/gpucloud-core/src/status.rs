//! The one table from a transport's status (an HTTP status, a gRPC code) to what it means
//! ([`ErrorKind`]), whether to try again ([`Retry`]) and whether the request may have been
//! carried out ([`Delivery`]).
//!
//! Every provider starts from this table and only adds what its own structured error codes say
//! (a quota code on a 400, a capacity code on a 503), so two providers never disagree on what a
//! bare 500 means.
//!
//! # Decisions
//!
//! - A 500 is [`ErrorKind::Internal`] and [`Retry::Transient`]: one failing backend behind a load
//!   balancer is the common cause, so another try often works. It is retried only when the
//!   request is safe to repeat (see [`crate::retry::RetryDriver`]).
//! - 500, 502, 504 and the other 5xx except 501 and 503 are [`Delivery::Unknown`]: the server
//!   answered, but an internal or gateway failure does not say whether the work was done, so a
//!   create that gets one must be looked up before it is called a failure. A 503 (and a 501)
//!   says the service did not take the request: [`Delivery::Answered`].
//! - A 429 is [`Retry::Throttled`]: the server refused the request without acting on it, so
//!   even a create may be sent again after the wait.

use crate::error::{Delivery, ErrorKind, Retry};

/// What a transport status means: the row of the table for one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatusClass {
    /// What the failure means.
    pub kind: ErrorKind,
    /// Whether trying again may help.
    pub retry: Retry,
    /// Whether the request may have been carried out.
    pub delivery: Delivery,
}

impl StatusClass {
    fn new(kind: ErrorKind, retry: Retry, delivery: Delivery) -> Self {
        Self {
            kind,
            retry,
            delivery,
        }
    }
}

/// The meaning of a failed HTTP answer by its status alone:
///
/// | status | kind | retry | delivery |
/// |---|---|---|---|
/// | 400, 422, other 4xx | `InvalidArgument` | `Never` | `Answered` |
/// | 401 | `Unauthenticated` | `Never` | `Answered` |
/// | 403 | `PermissionDenied` | `Never` | `Answered` |
/// | 404 | `ResourceNotFound` | `Never` | `Answered` |
/// | 408 | `Timeout` | `Transient` | `Answered` |
/// | 409 | `Conflict` | `Never` | `Answered` |
/// | 429 | `RateLimited` | `Throttled` | `Answered` |
/// | 500, other 5xx | `Internal` | `Transient` | `Unknown` |
/// | 501 | `NotImplemented` | `Never` | `Answered` |
/// | 502 | `Unavailable` | `Transient` | `Unknown` |
/// | 503 | `Unavailable` | `Transient` | `Answered` |
/// | 504 | `Timeout` | `Transient` | `Unknown` |
/// | 1xx, 2xx, 3xx | `Decode` | `Never` | `Answered` |
///
/// A 2xx or 3xx only reaches this table when a transport calls it for an answer it could not
/// use (redirects are not followed), hence `Decode`.
pub fn http_status(status: u16) -> StatusClass {
    use Delivery::{Answered, Unknown};
    use ErrorKind as K;
    let transient = Retry::Transient;
    match status {
        401 => StatusClass::new(K::Unauthenticated, Retry::Never, Answered),
        403 => StatusClass::new(K::PermissionDenied, Retry::Never, Answered),
        404 => StatusClass::new(K::ResourceNotFound, Retry::Never, Answered),
        408 => StatusClass::new(K::Timeout, transient, Answered),
        409 => StatusClass::new(K::Conflict, Retry::Never, Answered),
        429 => StatusClass::new(K::RateLimited, Retry::Throttled { after: None }, Answered),
        400..=499 => StatusClass::new(K::InvalidArgument, Retry::Never, Answered),
        501 => StatusClass::new(K::NotImplemented, Retry::Never, Answered),
        502 => StatusClass::new(K::Unavailable, transient, Unknown),
        503 => StatusClass::new(K::Unavailable, transient, Answered),
        504 => StatusClass::new(K::Timeout, transient, Unknown),
        500..=599 => StatusClass::new(K::Internal, transient, Unknown),
        _ => StatusClass::new(K::Decode, Retry::Never, Answered),
    }
}

/// A gRPC status code, transport-neutral (no tonic dependency): the numbers are those of the
/// gRPC specification, so `GrpcCode::from_i32(status.code() as i32)` converts tonic's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrpcCode {
    /// 0: not an error.
    Ok,
    /// 1: the caller cancelled.
    Cancelled,
    /// 2: unknown error.
    Unknown,
    /// 3: the request was invalid whatever the state.
    InvalidArgument,
    /// 4: the deadline passed before the operation completed.
    DeadlineExceeded,
    /// 5: something requested was not found.
    NotFound,
    /// 6: what the request creates exists already.
    AlreadyExists,
    /// 7: the caller may not do this.
    PermissionDenied,
    /// 8: a quota or rate limit was exhausted.
    ResourceExhausted,
    /// 9: the system is not in the state the operation needs.
    FailedPrecondition,
    /// 10: the operation was aborted, typically by a concurrency conflict.
    Aborted,
    /// 11: the operation went past the valid range.
    OutOfRange,
    /// 12: the operation is not implemented.
    Unimplemented,
    /// 13: an internal invariant broke.
    Internal,
    /// 14: the service is unavailable.
    Unavailable,
    /// 15: unrecoverable data loss.
    DataLoss,
    /// 16: the request has no valid credentials.
    Unauthenticated,
}

impl GrpcCode {
    /// The code of a number, `None` for numbers the specification does not define.
    pub fn from_i32(code: i32) -> Option<Self> {
        const ALL: [GrpcCode; 17] = [
            GrpcCode::Ok,
            GrpcCode::Cancelled,
            GrpcCode::Unknown,
            GrpcCode::InvalidArgument,
            GrpcCode::DeadlineExceeded,
            GrpcCode::NotFound,
            GrpcCode::AlreadyExists,
            GrpcCode::PermissionDenied,
            GrpcCode::ResourceExhausted,
            GrpcCode::FailedPrecondition,
            GrpcCode::Aborted,
            GrpcCode::OutOfRange,
            GrpcCode::Unimplemented,
            GrpcCode::Internal,
            GrpcCode::Unavailable,
            GrpcCode::DataLoss,
            GrpcCode::Unauthenticated,
        ];
        usize::try_from(code).ok().and_then(|i| ALL.get(i).copied())
    }

    /// The code's number.
    pub fn as_i32(self) -> i32 {
        self as i32
    }
}

/// The meaning of a failed gRPC call by its code alone, in the same terms as [`http_status`]:
///
/// | code | kind | retry | delivery |
/// |---|---|---|---|
/// | `CANCELLED` | `Cancelled` | `Never` | `Unknown` |
/// | `UNKNOWN`, `INTERNAL` | `Internal` | `Transient` | `Unknown` |
/// | `INVALID_ARGUMENT`, `OUT_OF_RANGE` | `InvalidArgument` | `Never` | `Answered` |
/// | `DEADLINE_EXCEEDED` | `Timeout` | `Transient` | `Unknown` |
/// | `NOT_FOUND` | `ResourceNotFound` | `Never` | `Answered` |
/// | `ALREADY_EXISTS`, `FAILED_PRECONDITION` | `Conflict` | `Never` | `Answered` |
/// | `ABORTED` | `Conflict` | `Transient` | `Answered` |
/// | `PERMISSION_DENIED` | `PermissionDenied` | `Never` | `Answered` |
/// | `RESOURCE_EXHAUSTED` | `RateLimited` | `Throttled` | `Answered` |
/// | `UNIMPLEMENTED` | `NotImplemented` | `Never` | `Answered` |
/// | `UNAVAILABLE` | `Unavailable` | `Transient` | `Answered` |
/// | `DATA_LOSS` | `Internal` | `Never` | `Unknown` |
/// | `UNAUTHENTICATED` | `Unauthenticated` | `Never` | `Answered` |
/// | `OK` | `Decode` | `Never` | `Answered` |
///
/// `ABORTED` is the one transient conflict: gRPC defines it as a concurrency conflict that a
/// retry of the whole operation resolves. `OK` reaches the table only for an answer that could
/// not be used, hence `Decode`.
pub fn grpc_status(code: GrpcCode) -> StatusClass {
    use Delivery::{Answered, Unknown};
    use ErrorKind as K;
    let transient = Retry::Transient;
    match code {
        GrpcCode::Cancelled => StatusClass::new(K::Cancelled, Retry::Never, Unknown),
        GrpcCode::Unknown | GrpcCode::Internal => StatusClass::new(K::Internal, transient, Unknown),
        GrpcCode::InvalidArgument | GrpcCode::OutOfRange => {
            StatusClass::new(K::InvalidArgument, Retry::Never, Answered)
        }
        GrpcCode::DeadlineExceeded => StatusClass::new(K::Timeout, transient, Unknown),
        GrpcCode::NotFound => StatusClass::new(K::ResourceNotFound, Retry::Never, Answered),
        GrpcCode::AlreadyExists | GrpcCode::FailedPrecondition => {
            StatusClass::new(K::Conflict, Retry::Never, Answered)
        }
        GrpcCode::Aborted => StatusClass::new(K::Conflict, transient, Answered),
        GrpcCode::PermissionDenied => StatusClass::new(K::PermissionDenied, Retry::Never, Answered),
        GrpcCode::ResourceExhausted => {
            StatusClass::new(K::RateLimited, Retry::Throttled { after: None }, Answered)
        }
        GrpcCode::Unimplemented => StatusClass::new(K::NotImplemented, Retry::Never, Answered),
        GrpcCode::Unavailable => StatusClass::new(K::Unavailable, transient, Answered),
        GrpcCode::DataLoss => StatusClass::new(K::Internal, Retry::Never, Unknown),
        GrpcCode::Unauthenticated => StatusClass::new(K::Unauthenticated, Retry::Never, Answered),
        GrpcCode::Ok => StatusClass::new(K::Decode, Retry::Never, Answered),
    }
}

/// The class of a failed *call*'s status, as [`grpc_status`] but for `CANCELLED`, which is the
/// transport's: `Unavailable`, transient, delivery unknown. A client that never cancels a call
/// it awaits (a dropped call yields no status) and sends no `grpc-timeout` receives
/// `CANCELLED` only when the HTTP/2 connection closed under the call (tonic reports every call
/// in flight on a connection that closes so): the request may have been carried out, and it
/// may be sent again. The status an operation *finished* with stays [`grpc_status`]'s.
pub fn grpc_call_status(code: GrpcCode) -> StatusClass {
    match code {
        GrpcCode::Cancelled => {
            StatusClass::new(ErrorKind::Unavailable, Retry::Transient, Delivery::Unknown)
        }
        other => grpc_status(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calls_cancelled_is_the_transports_and_every_other_code_is_the_tables() {
        let cut = grpc_call_status(GrpcCode::Cancelled);
        assert_eq!(
            (cut.kind, cut.retry, cut.delivery),
            (ErrorKind::Unavailable, Retry::Transient, Delivery::Unknown)
        );
        assert_eq!(grpc_status(GrpcCode::Cancelled).kind, ErrorKind::Cancelled);
        for code in [
            GrpcCode::Internal,
            GrpcCode::NotFound,
            GrpcCode::Unavailable,
        ] {
            let (call, table) = (grpc_call_status(code), grpc_status(code));
            assert_eq!(
                (call.kind, call.retry, call.delivery),
                (table.kind, table.retry, table.delivery)
            );
        }
    }
    use Delivery::{Answered as A, Unknown as U};
    use ErrorKind as K;

    const T: Retry = Retry::Transient;
    const N: Retry = Retry::Never;
    const THROTTLED: Retry = Retry::Throttled { after: None };

    #[test]
    fn http_table() {
        let cases = [
            (400, K::InvalidArgument, N, A),
            (401, K::Unauthenticated, N, A),
            (403, K::PermissionDenied, N, A),
            (404, K::ResourceNotFound, N, A),
            (408, K::Timeout, T, A),
            (409, K::Conflict, N, A),
            (410, K::InvalidArgument, N, A),
            (418, K::InvalidArgument, N, A),
            (422, K::InvalidArgument, N, A),
            (429, K::RateLimited, THROTTLED, A),
            (500, K::Internal, T, U),
            (501, K::NotImplemented, N, A),
            (502, K::Unavailable, T, U),
            (503, K::Unavailable, T, A),
            (504, K::Timeout, T, U),
            (507, K::Internal, T, U),
            (599, K::Internal, T, U),
            (200, K::Decode, N, A),
            (302, K::Decode, N, A),
            (100, K::Decode, N, A),
            (0, K::Decode, N, A),
            (999, K::Decode, N, A),
        ];
        for (status, kind, retry, delivery) in cases {
            assert_eq!(
                http_status(status),
                StatusClass::new(kind, retry, delivery),
                "status {status}"
            );
        }
    }

    #[test]
    fn every_5xx_but_501_is_retried_and_only_503_says_nothing_was_done() {
        for status in 500..600 {
            let class = http_status(status);
            assert_eq!(class.retry.is_retryable(), status != 501, "{status}");
            let unknown = status != 501 && status != 503;
            assert_eq!(class.delivery == Delivery::Unknown, unknown, "{status}");
        }
    }

    #[test]
    fn grpc_table() {
        let cases = [
            (0, K::Decode, N, A),
            (1, K::Cancelled, N, U),
            (2, K::Internal, T, U),
            (3, K::InvalidArgument, N, A),
            (4, K::Timeout, T, U),
            (5, K::ResourceNotFound, N, A),
            (6, K::Conflict, N, A),
            (7, K::PermissionDenied, N, A),
            (8, K::RateLimited, THROTTLED, A),
            (9, K::Conflict, N, A),
            (10, K::Conflict, T, A),
            (11, K::InvalidArgument, N, A),
            (12, K::NotImplemented, N, A),
            (13, K::Internal, T, U),
            (14, K::Unavailable, T, A),
            (15, K::Internal, N, U),
            (16, K::Unauthenticated, N, A),
        ];
        for (number, kind, retry, delivery) in cases {
            let code = GrpcCode::from_i32(number).expect("defined");
            assert_eq!(code.as_i32(), number);
            assert_eq!(
                grpc_status(code),
                StatusClass::new(kind, retry, delivery),
                "grpc code {number}"
            );
        }
        assert_eq!(GrpcCode::from_i32(17), None);
        assert_eq!(GrpcCode::from_i32(-1), None);
    }
}
