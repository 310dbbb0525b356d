//! LaunchPad's side of the shared gate: classification, the `Authorization: Token <token>`
//! check, the optional rate limit and the `{"detail": "..."}` shape for injected faults.

use std::time::Duration;

use axum::response::{IntoResponse as _, Response};
use http::{HeaderMap, Method, StatusCode, header};
use tokio::time::Instant;

use super::api::detail;
use super::op::Operation;
use super::state::FakeLaunchpadState;
use crate::kit::{Faults, RequestLog, RestApi};

/// What the gate needs of one LaunchPad fake.
pub(crate) struct LaunchpadApi {
    pub(crate) state: FakeLaunchpadState,
    pub(crate) token: String,
    pub(crate) latency: Duration,
}

/// The token of `Authorization: Token <token>`, if any (the scheme is case-insensitive).
fn token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("token").then(|| token.trim())
}

impl RestApi for LaunchpadApi {
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
        match token(headers) {
            Some(t) if t == self.token => None,
            Some(_) => Some(detail(StatusCode::UNAUTHORIZED, "Invalid token.").into_response()),
            None => Some(
                detail(
                    StatusCode::UNAUTHORIZED,
                    "Authentication credentials were not provided.",
                )
                .into_response(),
            ),
        }
    }

    fn rate_limit(&self, _op: Option<Operation>) -> Result<(), u64> {
        match self.state.lock().bucket.as_mut() {
            Some(bucket) => bucket.take(Instant::now()),
            None => Ok(()),
        }
    }

    fn rate_limited(&self, retry_after_secs: u64) -> Response {
        detail(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Request was throttled. Expected available in {retry_after_secs} seconds."),
        )
        .into_response()
    }

    fn server_error(&self, status: StatusCode) -> Response {
        detail(status, "A server error occurred.").into_response()
    }

    fn malformed(&self) -> Response {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"count": 1, "results": [{"id": "5330c898-f3e7-4972"#,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_with_their_scheme() {
        let mut headers = HeaderMap::new();
        assert_eq!(token(&headers), None);
        headers.insert(header::AUTHORIZATION, "token abc".parse().unwrap());
        assert_eq!(token(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(token(&headers), None);
    }
}
