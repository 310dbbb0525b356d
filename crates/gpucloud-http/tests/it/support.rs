//! Test servers and client helpers.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::MethodRouter;
use gpucloud_http::{Classification, HeaderMap, HttpConfig, HttpEvent, RetryPolicy, StatusCode};

/// The classifier of a provider without structured error codes: the core status table alone.
pub fn status_only(status: StatusCode, _: &HeaderMap, _: &[u8]) -> Classification {
    Classification::from_status(status)
}

/// Serves `router` on 127.0.0.1 and returns the base URL (with an `/api/v1/` prefix, so that
/// path joining is exercised).
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("test server");
    });
    format!("http://{addr}/api/v1/")
}

/// Serves one route whose handler counts its requests through the returned [`Counter`].
pub async fn serve_counted(path: &str, route: MethodRouter<Counter>) -> (String, Counter) {
    let counter = Counter::default();
    let router = Router::new().route(path, route).with_state(counter.clone());
    (serve(router).await, counter)
}

/// A request counter shared with a handler.
#[derive(Clone, Default)]
pub struct Counter(Arc<AtomicU32>);

impl Counter {
    /// Counts one request and returns the count including it.
    pub fn hit(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The requests counted so far.
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The events seen by a client's observer.
#[derive(Clone, Default)]
pub struct Events(Arc<Mutex<Vec<HttpEvent>>>);

impl Events {
    /// Everything observed so far.
    pub fn all(&self) -> Vec<HttpEvent> {
        self.0.lock().expect("events lock").clone()
    }

    /// The retry events observed so far.
    pub fn retries(&self) -> Vec<gpucloud_http::RetryEvent> {
        self.all()
            .into_iter()
            .filter_map(|e| match e {
                HttpEvent::Retry(r) => Some(r),
                _ => None,
            })
            .collect()
    }
}

/// A config for `base` with fast, jitter-free backoff (1 ms doubling to 4 ms), `attempts`
/// attempts, and an observer recording into the returned [`Events`].
pub fn config(base: &str, attempts: u32) -> (HttpConfig, Events) {
    let events = Events::default();
    let sink = events.clone();
    let config = HttpConfig::new(base)
        .expect("loopback base URL is accepted")
        .with_retry(
            RetryPolicy::default()
                .with_max_attempts(attempts)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(4))
                .with_jitter(false),
        )
        .with_observer(move |event| sink.0.lock().expect("events lock").push(event.clone()));
    (config, events)
}
