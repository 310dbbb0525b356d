//! The accept loop and the per-request gate: request counting, latency, injected faults,
//! authentication and rate limits, then the router; and "commit, then drop" afterwards.
//!
//! Connections are served with hyper directly (not `axum::serve`) so that a request can
//! close its own connection without a response.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse as _, Response};
use base64::Engine as _;
use http::{HeaderMap, Request, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::fault::{Injected, Operation};
use super::state::FakeLambdaState;
use super::wire;

/// What every connection of one server shares.
pub(crate) struct Shared {
    pub(crate) state: FakeLambdaState,
    pub(crate) router: Router,
    pub(crate) api_key: String,
    pub(crate) latency: Duration,
    pub(crate) enforce_rate_limits: bool,
}

/// Accepts connections until `shutdown` is cancelled; then closes every open connection.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "fake lambda: accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // Cancelling `kill` drops the connection without a response; shutdown cancels it too.
        let kill = shutdown.child_token();
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let conn_kill = kill.clone();
            let service = hyper::service::service_fn(move |request| {
                handle(Arc::clone(&shared), conn_kill.clone(), request)
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = connection => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "fake lambda: connection ended with an error");
                    }
                }
                () = kill.cancelled() => {}
            }
        });
    }
}

/// Closes the request's connection without a response.
async fn drop_connection(kill: &CancellationToken) -> Result<Response, Infallible> {
    kill.cancel();
    // The connection task drops this future as soon as it sees the cancellation.
    std::future::pending().await
}

async fn handle(
    shared: Arc<Shared>,
    kill: CancellationToken,
    request: Request<Incoming>,
) -> Result<Response, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let operation = Operation::classify(&method, &path);
    let (latency, injected) = {
        let mut inner = shared.state.lock();
        inner.record_request(method.as_str(), &path);
        (
            inner.faults.latency(operation),
            inner.faults.take_injected(operation),
        )
    };
    let delay = shared.latency + latency;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    tracing::debug!(%method, %path, ?injected, "fake lambda: request");
    match injected {
        Some(Injected::ConnectionReset) => return drop_connection(&kill).await,
        Some(Injected::RateLimited { retry_after_secs }) => {
            return Ok(wire::rate_limited(retry_after_secs));
        }
        Some(Injected::ServerError { status }) => return Ok(wire::server_error(status)),
        Some(Injected::MalformedJson) => return Ok(wire::malformed()),
        None => {}
    }
    if !authorized(request.headers(), &shared.api_key) {
        return Ok(wire::unauthorized().into_response());
    }
    if shared.enforce_rate_limits {
        let limited = shared
            .state
            .lock()
            .check_rate_limit(operation == Some(Operation::Launch), Instant::now());
        if let Err(retry_after_secs) = limited {
            return Ok(wire::rate_limited(retry_after_secs));
        }
    }
    let response = match shared.router.clone().oneshot(request.map(Body::new)).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if shared.state.lock().faults.take_commit_then_drop(operation) {
        return drop_connection(&kill).await;
    }
    Ok(response)
}

/// Accepts `Bearer <key>`, `Basic base64(<key>:)`, `Basic base64(<key>)` and `Basic <key>`.
fn authorized(headers: &HeaderMap, api_key: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, credential)) = value.trim().split_once(' ') else {
        return false;
    };
    let credential = credential.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return credential == api_key;
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    if credential == api_key {
        return true;
    }
    base64::engine::general_purpose::STANDARD
        .decode(credential)
        .is_ok_and(|decoded| {
            let key = api_key.as_bytes();
            decoded == key || decoded.strip_suffix(b":") == Some(key)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with_auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn accepts_both_schemes_and_rejects_others() {
        let key = "secret";
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert!(authorized(&with_auth("Bearer secret"), key));
        assert!(authorized(
            &with_auth(&format!("Basic {}", b64("secret:"))),
            key
        ));
        assert!(authorized(
            &with_auth(&format!("Basic {}", b64("secret"))),
            key
        ));
        assert!(authorized(&with_auth("Basic secret"), key));
        assert!(!authorized(&with_auth("Bearer wrong"), key));
        assert!(!authorized(
            &with_auth(&format!("Basic {}", b64("secret:pw"))),
            key
        ));
        assert!(!authorized(&with_auth("Token secret"), key));
        assert!(!authorized(&with_auth("Bearer"), key));
        assert!(!authorized(&HeaderMap::new(), key));
    }
}
