//! Verda's side of the shared gate: classification, the OAuth2 bearer-token check (the token
//! endpoint is open), the optional rate limit and the `{"code", "message"}` shape for injected
//! faults.

use std::time::Duration;

use axum::response::{IntoResponse as _, Response};
use http::{HeaderMap, Method, StatusCode, header};
use tokio::time::Instant;

use super::api::{UNAUTHORIZED_REQUEST, error};
use super::op::Operation;
use super::state::FakeVerdaState;
use crate::kit::{Faults, RequestLog, RestApi};

/// What the gate needs of one Verda fake.
pub(crate) struct VerdaApi {
    pub(crate) state: FakeVerdaState,
    pub(crate) latency: Duration,
}

/// The bearer token of `headers`, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl RestApi for VerdaApi {
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

    fn refuse(&self, op: Option<Operation>, headers: &HeaderMap) -> Option<Response> {
        if op == Some(Operation::Token) {
            return None;
        }
        let valid = bearer(headers)
            .is_some_and(|token| self.state.lock().access_token_valid(token, Instant::now()));
        (!valid).then(|| {
            error(
                StatusCode::UNAUTHORIZED,
                UNAUTHORIZED_REQUEST,
                "invalid or expired access token",
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
            "too_many_requests",
            "too many requests",
        )
        .into_response()
    }

    fn server_error(&self, status: StatusCode) -> Response {
        let code = if status == StatusCode::SERVICE_UNAVAILABLE {
            "service_unavailable"
        } else {
            "server_error"
        };
        error(status, code, "internal server error").into_response()
    }

    fn malformed(&self) -> Response {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"[{"id": "d290f1ee-6c54-4b01-90e6-d7017"#,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
