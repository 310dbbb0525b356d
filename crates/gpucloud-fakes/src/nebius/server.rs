//! Serving the fake: HTTP/2 connections served with hyper directly (so that a call can
//! close its own connection, as "commit, then drop" and connection resets need), and in
//! front of tonic's router the gate every call passes: request log, latency and faults,
//! then the bearer-token check, then the service, then commit-then-drop.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::body::Body;
use tonic::service::Routes;
use tower::ServiceExt as _;

use super::api::{self, IDEMPOTENCY_HEADER};
use super::error::ApiError;
use super::op::Operation;
use super::state::FakeNebiusState;
use crate::kit::Injection;

/// Accepts connections until `stop` is cancelled; then closes every open connection.
pub(crate) async fn serve(
    listener: TcpListener,
    state: FakeNebiusState,
    latency: Duration,
    iam_v1: bool,
    stop: CancellationToken,
) {
    let routes = api::routes(&state, iam_v1);
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "fake nebius: accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // Cancelling `kill` drops the connection with every call on it; shutdown does too.
        let kill = stop.child_token();
        let gate = Gate {
            routes: routes.clone(),
            state: state.clone(),
            latency,
            kill: kill.clone(),
        };
        tokio::spawn(async move {
            let service = tower::service_fn(move |request| gate.clone().handle(request));
            let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            tokio::select! {
                result = connection => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "fake nebius: connection ended with an error");
                    }
                }
                () = kill.cancelled() => {}
            }
        });
    }
}

#[derive(Clone)]
struct Gate {
    routes: Routes,
    state: FakeNebiusState,
    latency: Duration,
    kill: CancellationToken,
}

/// A gRPC error as a trailers-only response.
fn status_response(status: tonic::Status) -> Response<Body> {
    status.into_http()
}

/// A call to a method the fake does not serve (an unknown service, or a method its generated
/// server answers with the default stub) answers `UNIMPLEMENTED` naming the full method, as
/// real gRPC servers do, instead of tonic's empty or generic message.
fn unimplemented_names_method(response: Response<Body>, path: &str) -> Response<Body> {
    let unimplemented = response
        .headers()
        .get("grpc-status")
        .is_some_and(|code| code.as_bytes() == b"12");
    if !unimplemented {
        return response;
    }
    status_response(
        ApiError::new(
            Code::Unimplemented,
            "gateway",
            format!("method {path} is not implemented"),
        )
        .into(),
    )
}

/// A `200` gRPC response whose one message does not decode as protobuf.
fn malformed() -> Response<Body> {
    // One uncompressed frame of three bytes: a field with the invalid wire type 7.
    let frame = Bytes::from_static(&[0, 0, 0, 0, 3, 0xff, 0xff, 0xff]);
    let mut response = Response::new(Body::new(http_body_util::Full::new(frame)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    response
}

impl Gate {
    /// Closes the call's connection without an answer.
    async fn drop_connection(&self) -> Result<Response<Body>, Infallible> {
        self.kill.cancel();
        // The connection task drops this future as soon as it sees the cancellation.
        std::future::pending().await
    }

    async fn handle(self, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
        let path = request.uri().path().to_owned();
        let operation = Operation::classify(&path);
        self.state.requests().record("POST", &path);
        if operation.is_some_and(Operation::is_mutation)
            && !request.headers().contains_key(IDEMPOTENCY_HEADER)
        {
            self.state.note_missing_idempotency_key();
        }
        let decision = self.state.faults().take(operation);
        let delay = self.latency + decision.delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        tracing::debug!(%path, ?decision, "fake nebius: call");
        match decision.injection {
            Some(Injection::ConnectionReset) => return self.drop_connection().await,
            Some(Injection::RateLimited { .. }) => {
                return Ok(status_response(ApiError::too_many_requests().into()));
            }
            Some(Injection::ServerError { status }) => {
                let code = match status {
                    502 | 503 => Code::Unavailable,
                    504 => Code::DeadlineExceeded,
                    429 => Code::ResourceExhausted,
                    _ => Code::Internal,
                };
                let error = if code == Code::ResourceExhausted {
                    ApiError::too_many_requests()
                } else {
                    ApiError::new(code, "gateway", format!("injected fault ({status})"))
                };
                return Ok(status_response(error.into()));
            }
            Some(Injection::MalformedBody) => return Ok(malformed()),
            Some(Injection::CommitThenDrop) | None => {}
        }
        if operation != Some(Operation::ExchangeToken) && !self.state.authorized(request.headers())
        {
            return Ok(status_response(
                ApiError::new(
                    Code::Unauthenticated,
                    "iam",
                    "missing, unknown or expired bearer token",
                )
                .into(),
            ));
        }
        let response = match self.routes.clone().oneshot(request).await {
            Ok(response) => unimplemented_names_method(response, &path),
            Err(never) => match never {},
        };
        if decision.injection == Some(Injection::CommitThenDrop) {
            return self.drop_connection().await;
        }
        Ok(response)
    }
}
