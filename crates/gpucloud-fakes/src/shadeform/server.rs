//! Shadeform's side of the shared gate: classification, the `X-API-KEY` check, the optional
//! rate limit and the `{"error_code", "error"}` shape for injected faults.

use std::time::Duration;

use axum::response::{IntoResponse as _, Response};
use http::{HeaderMap, Method, StatusCode};
use tokio::time::Instant;

use super::api::error;
use super::op::Operation;
use super::state::FakeShadeformState;
use crate::kit::{Auth, Faults, RequestLog, RestApi};

/// What the gate needs of one Shadeform fake.
pub(crate) struct ShadeformApi {
    pub(crate) state: FakeShadeformState,
    pub(crate) auth: Auth,
    pub(crate) latency: Duration,
}

impl RestApi for ShadeformApi {
    type Op = Operation;

    fn classify(&self, method: &Method, path: &str) -> Option<Operation> {
        Operation::classify(method, path)
    }

    fn faults(&self) -> &Faults<Operation> {
        self.state.faults()
    }

    fn requests(&self) -> &RequestLog {
        self.state.requests()
    }

    fn base_latency(&self) -> Duration {
        self.latency
    }

    fn refuse(&self, _op: Option<Operation>, headers: &HeaderMap) -> Option<Response> {
        (!self.auth.check(headers)).then(|| {
            error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "missing or invalid X-API-KEY",
            )
            .into_response()
        })
    }

    fn rate_limit(&self, _op: Option<Operation>) -> Result<(), u64> {
        match self.state.lock().bucket.as_mut() {
            Some(bucket) => bucket.take(Instant::now()),
            None => Ok(()),
        }
    }

    fn rate_limited(&self, _retry_after_secs: u64) -> Response {
        error(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "too many requests",
        )
        .into_response()
    }

    fn server_error(&self, status: StatusCode) -> Response {
        error(status, "INTERNAL_ERROR", "internal server error").into_response()
    }

    fn malformed(&self) -> Response {
        (
            StatusCode::OK,
            [(http::header::CONTENT_TYPE, "application/json")],
            r#"{"instances": [{"id": "d290f1ee-6c54-4b01-90e6-d7017"#,
        )
            .into_response()
    }
}
