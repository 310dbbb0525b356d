//! Fluidstack's side of the shared gate: classification, bearer auth, the optional rate
//! limit and the `{"message"}` error shape for injected faults.

use std::time::Duration;

use axum::response::{IntoResponse as _, Response};
use http::{HeaderMap, Method, StatusCode};
use tokio::time::Instant;

use super::api::error;
use super::op::Operation;
use super::state::FakeFluidstackState;
use crate::kit::{Auth, Faults, RequestLog, RestApi};

/// What the gate needs of one Fluidstack fake.
pub(crate) struct FluidstackApi {
    pub(crate) state: FakeFluidstackState,
    pub(crate) auth: Auth,
    pub(crate) latency: Duration,
}

impl RestApi for FluidstackApi {
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
            error(StatusCode::UNAUTHORIZED, "missing or invalid bearer token").into_response()
        })
    }

    fn rate_limit(&self, _op: Option<Operation>) -> Result<(), u64> {
        match self.state.lock().bucket.as_mut() {
            Some(bucket) => bucket.take(Instant::now()),
            None => Ok(()),
        }
    }

    fn rate_limited(&self, _retry_after_secs: u64) -> Response {
        error(StatusCode::TOO_MANY_REQUESTS, "too many requests").into_response()
    }

    fn server_error(&self, status: StatusCode) -> Response {
        error(status, "internal server error").into_response()
    }

    fn malformed(&self) -> Response {
        (
            StatusCode::OK,
            [(http::header::CONTENT_TYPE, "application/json")],
            r#"[{"id": "550e8400-e29b-41d4-a716-4466554400"#,
        )
            .into_response()
    }
}
