//! Serving a fake: port-0 start on 127.0.0.1, the [`FakeServer`] handle, and the per-request
//! gate every REST fake shares ([`RestApi`]): request log, latency, faults, authentication
//! and rate limits, then the fake's router, and "commit, then drop" afterwards.
//!
//! Connections are served with hyper directly (not `axum::serve`) so that a request can
//! close its own connection without a response.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse as _, Response};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::fault::{Faults, Injection, OperationClass};

/// A running fake server. Dropping it stops the server (as does [`FakeServer::shutdown`],
/// which also waits for it).
pub struct FakeServer {
    addr: SocketAddr,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeServer {
    /// Binds `addr` (port 0 for a free port) and runs `serve` with the listener and a
    /// token cancelled at shutdown, in a task of the current Tokio runtime. A gRPC fake
    /// passes its tonic server here.
    pub async fn spawn<F, Fut>(addr: SocketAddr, serve: F) -> std::io::Result<FakeServer>
    where
        F: FnOnce(TcpListener, CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(listener, stop.clone()));
        Ok(FakeServer {
            addr,
            stop,
            task: Some(task),
        })
    }

    /// Binds `addr` and serves `router` behind the shared gate of `api`.
    pub async fn serve_rest<A: RestApi>(
        addr: SocketAddr,
        api: Arc<A>,
        router: Router,
    ) -> std::io::Result<FakeServer> {
        let server = Self::spawn(addr, move |listener, stop| {
            accept_loop(listener, Arc::new(Gate { api, router }), stop)
        })
        .await?;
        tracing::debug!(base_url = %server.base_url(), "fake: listening");
        Ok(server)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server root, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, closes every open connection and waits for the server task.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The environment a user exports to point a client at a fake, in order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Exports {
    vars: Vec<(String, String)>,
}

impl fmt::Debug for Exports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values include the fake's API key.
        f.debug_list()
            .entries(self.vars.iter().map(|(name, _)| name))
            .finish()
    }
}

impl Exports {
    /// Nothing to export.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `name=value`.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars.push((name.to_owned(), value.into()));
        self
    }

    /// The variables, in order.
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }

    /// One `export` line for a POSIX shell, values single-quoted.
    pub fn shell_line(&self) -> String {
        let assignments: Vec<String> = self
            .vars
            .iter()
            .map(|(name, value)| format!("{name}='{}'", value.replace('\'', r"'\''")))
            .collect();
        format!("export {}", assignments.join(" "))
    }
}

/// Counts requests by method and path, including rejected, faulted and unauthenticated ones.
/// Cheap to clone; clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    counts: Arc<Mutex<HashMap<(String, String), usize>>>,
}

impl RequestLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one request.
    pub fn record(&self, method: &str, path: &str) {
        *self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((method.to_owned(), path.to_owned()))
            .or_insert(0) += 1;
    }

    /// Requests with this method (case-insensitive) whose path starts with `path_prefix`.
    pub fn count(&self, method: &str, path_prefix: &str) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|((m, p), _)| m.eq_ignore_ascii_case(method) && p.starts_with(path_prefix))
            .map(|(_, n)| n)
            .sum()
    }

    /// Forgets every count.
    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// What a REST fake tells the shared gate: how it classifies requests, its faults, how it
/// authenticates and limits, and its API's error shapes.
pub trait RestApi: Send + Sync + 'static {
    /// The fake's operation classes.
    type Op: OperationClass;

    /// Classifies a request by method and path (no query string).
    fn classify(&self, method: &Method, path: &str) -> Option<Self::Op>;

    /// The fake's fault switches.
    fn faults(&self) -> &Faults<Self::Op>;

    /// Where requests are counted.
    fn requests(&self) -> &RequestLog;

    /// Delay added to every response.
    fn base_latency(&self) -> Duration {
        Duration::ZERO
    }

    /// The API's refusal of a request that is not authenticated, `None` for one that is
    /// (checked after faults, before rate limits).
    fn refuse(&self, op: Option<Self::Op>, headers: &HeaderMap) -> Option<Response>;

    /// `Err(retry_after_secs)` when the request is over the fake's rate limit.
    fn rate_limit(&self, _op: Option<Self::Op>) -> Result<(), u64> {
        Ok(())
    }

    /// The API's `429` body for a throttled request; the gate adds `Retry-After`.
    fn rate_limited(&self, retry_after_secs: u64) -> Response;

    /// The API's error response for this (injected) status.
    fn server_error(&self, status: StatusCode) -> Response;

    /// A `200` whose JSON body is cut short.
    fn malformed(&self) -> Response {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"data\": [{\"id\": \"trunc",
        )
            .into_response()
    }
}

struct Gate<A> {
    api: Arc<A>,
    router: Router,
}

/// Accepts connections until `shutdown` is cancelled; then closes every open connection.
async fn accept_loop<A: RestApi>(
    listener: TcpListener,
    gate: Arc<Gate<A>>,
    shutdown: CancellationToken,
) {
    serve_connections(listener, shutdown, "fake", move |kill, request| {
        handle(Arc::clone(&gate), kill, request)
    })
    .await;
}

/// Serves HTTP/1 connections from `listener` with `handler` until `shutdown` is cancelled, then
/// closes every open connection. The handler gets a token of its own connection: cancelling it
/// closes that connection without a response (see [`drop_connection`]). `label` names the
/// server in its logs. Shared by the fakes and the fault proxy.
pub(crate) async fn serve_connections<H, F>(
    listener: TcpListener,
    shutdown: CancellationToken,
    label: &'static str,
    handler: H,
) where
    H: Fn(CancellationToken, Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response, Infallible>> + Send + 'static,
{
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "{label}: accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let kill = shutdown.child_token();
        let handler = handler.clone();
        tokio::spawn(async move {
            let conn_kill = kill.clone();
            let service =
                hyper::service::service_fn(move |request| handler(conn_kill.clone(), request));
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = connection => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "{label}: connection ended with an error");
                    }
                }
                () = kill.cancelled() => {}
            }
        });
    }
}

/// Closes the request's connection without a response.
pub(crate) async fn drop_connection(kill: &CancellationToken) -> Result<Response, Infallible> {
    kill.cancel();
    // The connection task drops this future as soon as it sees the cancellation.
    std::future::pending().await
}

/// `429` from the API's shape, with `Retry-After`.
fn throttled<A: RestApi>(api: &A, retry_after_secs: u64) -> Response {
    let mut response = api.rate_limited(retry_after_secs);
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

async fn handle<A: RestApi>(
    gate: Arc<Gate<A>>,
    kill: CancellationToken,
    request: Request<Incoming>,
) -> Result<Response, Infallible> {
    let api = &*gate.api;
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let operation = api.classify(&method, &path);
    api.requests().record(method.as_str(), &path);
    let decision = api.faults().take(operation);
    let delay = api.base_latency() + decision.delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    tracing::debug!(%method, %path, ?decision, "fake: request");
    match decision.injection {
        Some(Injection::ConnectionReset) => return drop_connection(&kill).await,
        Some(Injection::RateLimited { retry_after_secs }) => {
            return Ok(throttled(api, retry_after_secs));
        }
        Some(Injection::ServerError { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Ok(api.server_error(status));
        }
        Some(Injection::MalformedBody) => return Ok(api.malformed()),
        Some(Injection::CommitThenDrop) | None => {}
    }
    if let Some(refusal) = api.refuse(operation, request.headers()) {
        return Ok(refusal);
    }
    if let Err(retry_after_secs) = api.rate_limit(operation) {
        return Ok(throttled(api, retry_after_secs));
    }
    let response = match gate.router.clone().oneshot(request.map(Body::new)).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if decision.injection == Some(Injection::CommitThenDrop) {
        return drop_connection(&kill).await;
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_quote_for_the_shell_and_hide_values_in_debug() {
        let exports = Exports::new()
            .with("A_URL", "http://127.0.0.1:1")
            .with("A_KEY", "it's");
        assert_eq!(
            exports.shell_line(),
            r"export A_URL='http://127.0.0.1:1' A_KEY='it'\''s'"
        );
        assert_eq!(format!("{exports:?}"), r#"["A_URL", "A_KEY"]"#);
    }

    #[test]
    fn request_log_counts_by_method_and_prefix() {
        let log = RequestLog::new();
        log.record("GET", "/a/b");
        log.record("GET", "/a/c");
        log.record("POST", "/a/b");
        assert_eq!(log.count("get", "/a/"), 2);
        assert_eq!(log.count("POST", "/a"), 1);
        log.reset();
        assert_eq!(log.count("GET", "/"), 0);
    }
}
