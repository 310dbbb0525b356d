//! Client-side rate limits, on tokio's clock.

use std::num::NonZeroU32;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use gpucloud_http::{Auth, HttpClient, HttpEvent, RateLimit, Request};

use crate::support::status_only;
use serde_json::{Value, json};

use crate::support::{Counter, config, serve};

/// Lets spawned tasks run without letting the paused clock move.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn with_one_create_per_minute_the_second_create_waits_a_minute() {
    let creates = Counter::default();
    let reads = Counter::default();
    let router = Router::new()
        .route(
            "/api/v1/launch",
            post(
                |State((creates, _)): State<(Counter, Counter)>| async move {
                    creates.hit();
                    axum::Json(json!({"ok": true}))
                },
            ),
        )
        .route(
            "/api/v1/instances",
            get(|State((_, reads)): State<(Counter, Counter)>| async move {
                reads.hit();
                axum::Json(json!({"data": []}))
            }),
        )
        .with_state((creates.clone(), reads.clone()));
    let base = serve(router).await;
    let (config, events) = config(&base, 1);
    let config = config.with_create_rate_limit(RateLimit::per_minute(NonZeroU32::MIN));
    let client = HttpClient::new("test", config, Auth::None, status_only).expect("client");
    let create = || Request::post("create_instance", "launch").create();

    let _: Value = client
        .send_json(create())
        .await
        .expect("first create goes at once");
    assert_eq!(creates.get(), 1);
    // Other requests are not held back by the create limiter.
    let _: Value = client
        .send_json(Request::get("list_instances", "instances"))
        .await
        .expect("list");
    assert_eq!(reads.get(), 1);
    assert!(
        events.all().is_empty(),
        "nothing waited so far: {:?}",
        events.all()
    );

    tokio::time::pause();
    let second = tokio::spawn({
        let client = client.clone();
        async move { client.send_json::<Value>(create()).await }
    });
    settle().await;
    let waits: Vec<_> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            HttpEvent::RateLimited(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(waits[0].create);
    assert_eq!(waits[0].operation, "create_instance");
    assert!(
        waits[0].wait > Duration::from_secs(59) && waits[0].wait <= Duration::from_secs(60),
        "{:?}",
        waits[0].wait
    );

    tokio::time::advance(Duration::from_secs(58)).await;
    settle().await;
    assert_eq!(
        creates.get(),
        1,
        "the second create is still held back after 58 s"
    );

    tokio::time::advance(Duration::from_secs(3)).await;
    settle().await;
    tokio::time::resume();
    second
        .await
        .expect("task")
        .expect("second create goes after a minute");
    assert_eq!(creates.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_request_limiter_spaces_out_requests_beyond_the_burst() {
    // No server is needed: the limiter runs before any connection, and the waits are observed.
    // A port that was just free refuses connections at once.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let (config, events) = config(&format!("http://{addr}/"), 1);
    let config = config
        .with_rate_limit(RateLimit::per_second(NonZeroU32::new(2).expect("2")))
        .with_connect_timeout(None)
        .with_request_timeout(None);
    let client = HttpClient::new("test", config, Auth::None, status_only).expect("client");
    let started = tokio::time::Instant::now();
    for _ in 0..4 {
        let _ = client.send(Request::get("probe", "x")).await;
    }
    let limited: Vec<_> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            HttpEvent::RateLimited(r) => Some(r.wait),
            _ => None,
        })
        .collect();
    assert_eq!(
        limited.len(),
        2,
        "the first two fit in the burst: {limited:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}
