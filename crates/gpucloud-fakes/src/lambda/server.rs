//! Lambda's side of the shared gate: how it classifies, authenticates and limits requests,
//! and its error shapes for injected faults.

use std::time::Duration;

use axum::response::{IntoResponse as _, Response};
use http::{HeaderMap, Method, StatusCode};
use tokio::time::Instant;

use super::fault::Operation;
use super::state::FakeLambdaState;
use super::wire;
use crate::kit::{Auth, Faults, RequestLog, RestApi};

/// What the gate needs of one Lambda fake.
pub(crate) struct LambdaApi {
    pub(crate) state: FakeLambdaState,
    pub(crate) auth: Auth,
    pub(crate) latency: Duration,
    pub(crate) enforce_rate_limits: bool,
}

impl RestApi for LambdaApi {
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
        (!self.auth.check(headers)).then(|| wire::unauthorized().into_response())
    }

    fn rate_limit(&self, op: Option<Operation>) -> Result<(), u64> {
        if !self.enforce_rate_limits {
            return Ok(());
        }
        self.state
            .lock()
            .check_rate_limit(op == Some(Operation::Launch), Instant::now())
    }

    fn rate_limited(&self, retry_after_secs: u64) -> Response {
        wire::rate_limited(retry_after_secs)
    }

    fn server_error(&self, status: StatusCode) -> Response {
        wire::server_error(status.as_u16())
    }

    fn malformed(&self) -> Response {
        wire::malformed()
    }
}
