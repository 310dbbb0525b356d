//! A fault-injecting reverse proxy for any REST fake: put it between a client and a fake and a
//! seeded share of the requests meet a fault, whichever provider the fake plays.
//!
//! Each request draws from one seeded RNG: with probability [`FaultProxyOptions::fault_rate`]
//! it meets one of the enabled [`ProxyFault`]s (chosen uniformly), otherwise it is forwarded
//! untouched. Faults that hit before forwarding ([`ProxyFault::ServerError`],
//! [`ProxyFault::RateLimited`], [`ProxyFault::ResetBeforeForwarding`]) leave the fake
//! unchanged; the others ([`ProxyFault::LostAfterCommit`], [`ProxyFault::TruncatedBody`])
//! let the fake carry the request out and spoil only its answer, so the client cannot know
//! whether it took effect. [`FaultProxy::counts`] says how many of each were injected.
//!
//! A test that needs one particular request to fail scripts it instead:
//! [`FaultProxy::script`] makes requests whose body contains a text (an EC2
//! `Action=CreateSecurityGroup`, say) meet a given fault, whatever the rate, even with random
//! faults off.
//!
//! The proxy listens on loopback only and forwards to one upstream base URL.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions};
//! use gpucloud_fakes::proxy::{FaultProxy, FaultProxyOptions};
//! let fake = FakeLambda::start(FakeLambdaOptions::default()).await?;
//! let proxy = FaultProxy::start(FaultProxyOptions::new(fake.base_url(), 7)).await?;
//! // point a client at proxy.base_url(); later, with faults off, inspect the fake
//! proxy.set_enabled(false);
//! println!("{} faults injected", proxy.counts().total());
//! # Ok(())
//! # }
//! ```

use std::convert::Infallible;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};
use hyper::body::Incoming;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::kit::server::{drop_connection, serve_connections};

/// The largest request or response body the proxy carries.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A fault the proxy can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyFault {
    /// Answer `500`, `502` or `503` (drawn from the RNG) without forwarding.
    ServerError,
    /// Answer `429 Too Many Requests` with [`FaultProxyOptions::retry_after_secs`] in
    /// `Retry-After`, without forwarding.
    RateLimited,
    /// Close the connection without an answer, without forwarding.
    ResetBeforeForwarding,
    /// Forward (the fake carries the request out), then close the connection without an
    /// answer.
    LostAfterCommit,
    /// Forward, and when the fake answers `2xx` with a body, send only the first half of it.
    /// Other answers pass through and count as no fault.
    TruncatedBody,
}

impl ProxyFault {
    /// Every fault kind.
    pub const ALL: [ProxyFault; 5] = [
        ProxyFault::ServerError,
        ProxyFault::RateLimited,
        ProxyFault::ResetBeforeForwarding,
        ProxyFault::LostAfterCommit,
        ProxyFault::TruncatedBody,
    ];
}

/// How many faults of each kind a proxy injected, and how many requests it saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Requests received.
    pub requests: u64,
    /// [`ProxyFault::ServerError`] answers.
    pub server_errors: u64,
    /// [`ProxyFault::RateLimited`] answers.
    pub rate_limited: u64,
    /// [`ProxyFault::ResetBeforeForwarding`] connections closed.
    pub resets: u64,
    /// [`ProxyFault::LostAfterCommit`] answers dropped.
    pub lost_after_commit: u64,
    /// [`ProxyFault::TruncatedBody`] answers cut.
    pub truncated: u64,
}

impl FaultCounts {
    /// Every fault injected, of all kinds.
    pub fn total(&self) -> u64 {
        self.server_errors
            + self.rate_limited
            + self.resets
            + self.lost_after_commit
            + self.truncated
    }

    fn record(&mut self, fault: ProxyFault) {
        let count = match fault {
            ProxyFault::ServerError => &mut self.server_errors,
            ProxyFault::RateLimited => &mut self.rate_limited,
            ProxyFault::ResetBeforeForwarding => &mut self.resets,
            ProxyFault::LostAfterCommit => &mut self.lost_after_commit,
            ProxyFault::TruncatedBody => &mut self.truncated,
        };
        *count += 1;
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} requests (5xx {}, 429 {}, reset {}, lost after commit {}, truncated {})",
            self.total(),
            self.requests,
            self.server_errors,
            self.rate_limited,
            self.resets,
            self.lost_after_commit,
            self.truncated
        )
    }
}

/// How a [`FaultProxy`] behaves.
#[derive(Debug, Clone)]
pub struct FaultProxyOptions {
    /// The fake's base URL, e.g. `http://127.0.0.1:41234`; request paths are appended.
    pub upstream: String,
    /// Seed of the RNG that decides which requests meet which fault.
    pub seed: u64,
    /// Share of requests that meet a fault, `0.0..=1.0`. Default 0.2.
    pub fault_rate: f64,
    /// The faults to draw from. Default: all of them.
    pub faults: Vec<ProxyFault>,
    /// `Retry-After` of injected 429s, in seconds. Default 1.
    pub retry_after_secs: u64,
    /// Longest wait for the upstream's answer; past it the proxy answers 504. Default 30 s.
    pub upstream_timeout: Duration,
}

impl FaultProxyOptions {
    /// Every fault at 20 % in front of `upstream`.
    pub fn new(upstream: impl Into<String>, seed: u64) -> Self {
        Self {
            upstream: upstream.into(),
            seed,
            fault_rate: 0.2,
            faults: ProxyFault::ALL.to_vec(),
            retry_after_secs: 1,
            upstream_timeout: Duration::from_secs(30),
        }
    }
}

/// What every connection of one proxy shares.
struct Shared {
    upstream: String,
    client: reqwest::Client,
    rng: Mutex<StdRng>,
    counts: Mutex<FaultCounts>,
    enabled: AtomicBool,
    fault_rate: f64,
    faults: Vec<ProxyFault>,
    retry_after_secs: u64,
    /// Scripted faults, tried in the order they were added.
    script: Mutex<Vec<Scripted>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave counts or an RNG half-updated in a way that matters.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Counts the request and draws its fault, if any.
    fn draw(&self) -> Option<ProxyFault> {
        let enabled = self.enabled.load(Ordering::Relaxed);
        let fault = {
            let mut rng = lock(&self.rng);
            // Drawn even when disabled, so turning faults off and on keeps one sequence.
            let hit = rng.random_bool(self.fault_rate.clamp(0.0, 1.0));
            let pick = rng.random_range(0..self.faults.len().max(1));
            (enabled && hit)
                .then(|| self.faults.get(pick).copied())
                .flatten()
        };
        lock(&self.counts).requests += 1;
        fault
    }

    fn record(&self, fault: ProxyFault) {
        lock(&self.counts).record(fault);
    }

    /// The scripted fault the request with `body` meets, if any (counted against the
    /// script's skips, then its uses).
    fn scripted(&self, body: &[u8]) -> Option<ProxyFault> {
        let mut script = lock(&self.script);
        let mut hit = None;
        for (index, s) in script.iter_mut().enumerate() {
            if s.needle.is_empty() || !body.windows(s.needle.len()).any(|w| w == s.needle) {
                continue;
            }
            if s.skip > 0 {
                s.skip -= 1;
                return None;
            }
            s.left -= 1;
            hit = Some((index, s.fault, s.left == 0));
            break;
        }
        let (index, fault, used_up) = hit?;
        if used_up {
            script.remove(index);
        }
        Some(fault)
    }
}

/// A fault scripted for requests whose body contains `needle`.
#[derive(Debug)]
struct Scripted {
    needle: Vec<u8>,
    /// Matching requests still to let through before the fault applies.
    skip: u32,
    fault: ProxyFault,
    /// Matching requests it still applies to.
    left: u32,
}

/// A running fault-injecting proxy. Dropping it stops the proxy (as does
/// [`FaultProxy::shutdown`], which also waits for it).
pub struct FaultProxy {
    base_url: String,
    shared: Arc<Shared>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("base_url", &self.base_url)
            .field("upstream", &self.shared.upstream)
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Binds a free loopback port and serves in a background task of the current Tokio
    /// runtime. Fails when the port cannot be bound or the HTTP client cannot be built.
    pub async fn start(options: FaultProxyOptions) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(options.upstream_timeout)
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            upstream: options.upstream.trim_end_matches('/').to_owned(),
            client,
            rng: Mutex::new(StdRng::seed_from_u64(options.seed)),
            counts: Mutex::new(FaultCounts::default()),
            enabled: AtomicBool::new(true),
            fault_rate: options.fault_rate,
            faults: options.faults,
            retry_after_secs: options.retry_after_secs,
            script: Mutex::new(Vec::new()),
        });
        let stop = CancellationToken::new();
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared), stop.clone()));
        tracing::debug!(%base_url, upstream = %shared.upstream, "fault proxy: listening");
        Ok(FaultProxy {
            base_url,
            shared,
            stop,
            task: Some(task),
        })
    }

    /// The proxy's root, e.g. `http://127.0.0.1:41235`: use it in place of the fake's.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Turns fault injection on or off (on at start). Off, every request is forwarded.
    pub fn set_enabled(&self, enabled: bool) {
        self.shared.enabled.store(enabled, Ordering::Relaxed);
    }

    /// Scripts a fault: of the requests whose body contains `needle`, the first `skip` pass,
    /// then the next `times` meet `fault`, whether random faults are on or off (they still draw
    /// from the RNG, so the seeded sequence of the other requests does not change). A request
    /// matching several scripts is counted by the first one added. An empty `needle` matches
    /// nothing.
    pub fn script(&self, needle: impl AsRef<[u8]>, skip: u32, fault: ProxyFault, times: u32) {
        if times == 0 {
            return;
        }
        lock(&self.shared.script).push(Scripted {
            needle: needle.as_ref().to_vec(),
            skip,
            fault,
            left: times,
        });
    }

    /// The faults injected so far.
    pub fn counts(&self) -> FaultCounts {
        *lock(&self.shared.counts)
    }

    /// Stops accepting, closes every open connection and waits for the proxy task.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    serve_connections(listener, shutdown, "fault proxy", move |kill, request| {
        handle(Arc::clone(&shared), kill, request)
    })
    .await;
}

fn plain(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn handle(
    shared: Arc<Shared>,
    kill: CancellationToken,
    request: Request<Incoming>,
) -> Result<Response, Infallible> {
    let drawn = shared.draw();
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(Body::new(body), MAX_BODY).await {
        Ok(body) => body,
        Err(e) => {
            tracing::debug!(error = %e, "fault proxy: request body unreadable");
            return Ok(plain(
                StatusCode::BAD_REQUEST,
                "proxy/request",
                "request body unreadable",
            ));
        }
    };
    let fault = shared.scripted(&body).or(drawn);
    match fault {
        Some(ProxyFault::ServerError) => {
            shared.record(ProxyFault::ServerError);
            let status = [500, 502, 503][lock(&shared.rng).random_range(0..3)];
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Ok(plain(
                status,
                "proxy/injected-error",
                "injected server error",
            ));
        }
        Some(ProxyFault::RateLimited) => {
            shared.record(ProxyFault::RateLimited);
            let mut response = plain(
                StatusCode::TOO_MANY_REQUESTS,
                "proxy/injected-rate-limit",
                "injected rate limit",
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(shared.retry_after_secs),
            );
            return Ok(response);
        }
        Some(ProxyFault::ResetBeforeForwarding) => {
            shared.record(ProxyFault::ResetBeforeForwarding);
            return drop_connection(&kill).await;
        }
        _ => {}
    }
    let (status, headers, body) = match forward(&shared, parts, body).await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::debug!(error = %e, "fault proxy: upstream failed");
            return Ok(plain(
                StatusCode::GATEWAY_TIMEOUT,
                "proxy/upstream",
                "upstream failed",
            ));
        }
    };
    let body = match fault {
        Some(ProxyFault::LostAfterCommit) => {
            shared.record(ProxyFault::LostAfterCommit);
            return drop_connection(&kill).await;
        }
        Some(ProxyFault::TruncatedBody) if status.is_success() && body.len() > 1 => {
            shared.record(ProxyFault::TruncatedBody);
            body.slice(..body.len() / 2)
        }
        _ => body,
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    for (name, value) in &headers {
        // The body is re-framed here, so its old length and encoding do not apply.
        if name != header::CONTENT_LENGTH
            && name != header::TRANSFER_ENCODING
            && name != header::CONNECTION
        {
            response.headers_mut().append(name, value.clone());
        }
    }
    Ok(response)
}

/// Sends the request to the upstream and reads its whole answer.
async fn forward(
    shared: &Shared,
    parts: http::request::Parts,
    body: Bytes,
) -> Result<(StatusCode, http::HeaderMap, Bytes), Box<dyn std::error::Error + Send + Sync>> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = shared
        .client
        .request(parts.method, format!("{}{path}", shared.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        if name != header::HOST && name != header::CONTENT_LENGTH && name != header::CONNECTION {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = outgoing.send().await?;
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.bytes().await?;
    Ok((status, headers, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::{FakeLambda, FakeLambdaOptions};

    /// A fake and a proxy in front of it injecting only `fault`, at `rate`.
    async fn proxied(fault: ProxyFault, rate: f64) -> (FakeLambda, FaultProxy) {
        let fake = FakeLambda::start(FakeLambdaOptions::default())
            .await
            .unwrap();
        let proxy = FaultProxy::start(FaultProxyOptions {
            fault_rate: rate,
            faults: vec![fault],
            ..FaultProxyOptions::new(fake.base_url(), 1)
        })
        .await
        .unwrap();
        (fake, proxy)
    }

    fn add_key(fake: &FakeLambda, proxy: &FaultProxy) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .post(format!("{}/api/v1/ssh-keys", proxy.base_url()))
            .bearer_auth(fake.api_key())
            .json(&serde_json::json!({ "name": "k", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T k" }))
    }

    #[tokio::test]
    async fn at_rate_zero_every_request_passes_through() {
        let (fake, proxy) = proxied(ProxyFault::ResetBeforeForwarding, 0.0).await;
        let answer = add_key(&fake, &proxy).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["data"]["name"], "k");
        assert_eq!(proxy.counts().total(), 0);
        assert_eq!(proxy.counts().requests, 1);
    }

    #[tokio::test]
    async fn a_truncated_answer_is_half_of_a_committed_one() {
        let (fake, proxy) = proxied(ProxyFault::TruncatedBody, 1.0).await;
        let answer = add_key(&fake, &proxy).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let body = answer.bytes().await.unwrap();
        assert!(
            serde_json::from_slice::<serde_json::Value>(&body).is_err(),
            "{body:?}"
        );
        assert_eq!(fake.state().ssh_keys().len(), 1, "the fake carried it out");
        assert_eq!(proxy.counts().truncated, 1);
    }

    #[tokio::test]
    async fn a_lost_answer_is_lost_after_the_fake_carried_it_out() {
        let (fake, proxy) = proxied(ProxyFault::LostAfterCommit, 1.0).await;
        assert!(add_key(&fake, &proxy).send().await.is_err());
        assert_eq!(fake.state().ssh_keys().len(), 1);
        assert_eq!(proxy.counts().lost_after_commit, 1);
    }

    #[tokio::test]
    async fn faults_before_forwarding_leave_the_fake_alone() {
        for (fault, status) in [
            (ProxyFault::RateLimited, Some(StatusCode::TOO_MANY_REQUESTS)),
            (ProxyFault::ResetBeforeForwarding, None),
        ] {
            let (fake, proxy) = proxied(fault, 1.0).await;
            let answer = add_key(&fake, &proxy).send().await;
            match status {
                Some(status) => {
                    let answer = answer.unwrap();
                    assert_eq!(answer.status(), status);
                    assert_eq!(answer.headers()[header::RETRY_AFTER], "1");
                }
                None => assert!(answer.is_err()),
            }
            assert!(fake.state().ssh_keys().is_empty(), "{fault:?}");
            assert_eq!(proxy.counts().total(), 1, "{fault:?}");
        }
        let (fake, proxy) = proxied(ProxyFault::ServerError, 1.0).await;
        let answer = add_key(&fake, &proxy).send().await.unwrap();
        assert!(answer.status().is_server_error(), "{}", answer.status());
        assert!(fake.state().ssh_keys().is_empty());
    }

    #[tokio::test]
    async fn one_seed_one_sequence_of_faults() {
        let mut seen = Vec::new();
        for _ in 0..2 {
            let (fake, proxy) = proxied(ProxyFault::ServerError, 0.5).await;
            let mut statuses = Vec::new();
            for _ in 0..20 {
                let answer = add_key(&fake, &proxy).send().await.unwrap();
                statuses.push(answer.status().is_success());
            }
            assert!(
                statuses.contains(&true) && statuses.contains(&false),
                "{statuses:?}"
            );
            seen.push(statuses);
        }
        assert_eq!(seen[0], seen[1]);
    }

    #[tokio::test]
    async fn a_scripted_fault_hits_only_the_requests_it_names_and_as_often_as_asked() {
        let (fake, proxy) = proxied(ProxyFault::ServerError, 0.0).await;
        proxy.set_enabled(false);
        proxy.script("no such body", 0, ProxyFault::LostAfterCommit, 1);
        proxy.script("ssh-ed25519", 1, ProxyFault::ResetBeforeForwarding, 2);
        let first = add_key(&fake, &proxy).send().await.unwrap();
        assert_eq!(first.status(), StatusCode::OK, "the first is let through");
        for _ in 0..2 {
            assert!(add_key(&fake, &proxy).send().await.is_err());
        }
        assert_eq!(
            fake.state().ssh_keys().len(),
            1,
            "the reset ones were not forwarded"
        );
        let answer = add_key(&fake, &proxy).send().await.unwrap();
        assert!(
            answer.status().is_client_error(),
            "the script is used up: the fake answers (the name is taken): {}",
            answer.status()
        );
        assert_eq!(proxy.counts().resets, 2);
        assert_eq!(proxy.counts().total(), 2, "{}", proxy.counts());
    }

    #[test]
    fn counts_add_up_by_kind() {
        let mut counts = FaultCounts::default();
        for fault in ProxyFault::ALL {
            counts.record(fault);
        }
        counts.record(ProxyFault::TruncatedBody);
        assert_eq!(counts.total(), 6);
        assert_eq!(counts.truncated, 2);
        assert!(counts.to_string().contains("truncated 2"), "{counts}");
    }
}
