//! Prints the per-request cost of `HttpClient::send_json` against a raw `reqwest` floor (GET, read
//! the body, `serde_json::from_slice` into the same type), both talking to the same axum server on
//! 127.0.0.1. Run with `cargo bench -p gpucloud-http`.
//!
//! The two are sampled alternately (so background load hits both alike) and the medians are
//! compared, once on a single-threaded runtime (client and server on one thread: the CPU work per
//! request, stable) and once on a 2-worker runtime (latency including thread wake-ups, which
//! dominate and vary on a small machine).

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use gpucloud_http::{Auth, HttpClient, HttpConfig, Request};
use serde_json::{Value, json};

const WARMUP: u32 = 200;
const SAMPLES: usize = 4000;

fn main() {
    println!(
        "gpucloud-http overhead: GETs of a 20-item JSON list on 127.0.0.1, median of {SAMPLES} alternating samples"
    );
    println!("  floor = raw reqwest GET + read body + serde_json::from_slice into the same type");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(run("single-threaded runtime (CPU work per request)"));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(run("2-worker runtime (latency incl. wake-ups, noisy)"));
}

async fn run(label: &str) {
    let body = json!({"data": (0..20).map(|i| json!({"id": format!("i-{i}"), "status": "active"})).collect::<Vec<_>>()});
    let router = Router::new().route(
        "/api/v1/instances",
        get(move || async move { axum::Json(body.clone()) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, router).await.expect("server") });
    let base = format!("http://{addr}/api/v1/");

    let raw = reqwest::Client::new();
    let raw_url = format!("{base}instances");
    let client = HttpClient::new(
        "bench",
        HttpConfig::new(&base).expect("base"),
        Auth::Bearer(gpucloud_http::ApiKey::new("bench-key")),
        |status, _: &gpucloud_http::HeaderMap, _: &[u8]| {
            gpucloud_http::Classification::from_status(status)
        },
    )
    .expect("client");
    // The same client without the whole-request timeout: the difference is what arming and
    // cancelling its timer costs per request.
    let untimed = HttpClient::new(
        "bench",
        HttpConfig::new(&base)
            .expect("base")
            .with_request_timeout(None),
        Auth::Bearer(gpucloud_http::ApiKey::new("bench-key")),
        |status, _: &gpucloud_http::HeaderMap, _: &[u8]| {
            gpucloud_http::Classification::from_status(status)
        },
    )
    .expect("client");

    for _ in 0..WARMUP {
        raw_get(&raw, &raw_url).await;
        let _: Value = client
            .send_json(Request::get("list_instances", "instances"))
            .await
            .expect("get");
    }
    let mut raw_samples = Vec::with_capacity(SAMPLES);
    let mut client_samples = Vec::with_capacity(SAMPLES);
    let mut untimed_samples = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        // Rotating order, so that neither variant always follows the same one.
        for turn in 0..3 {
            let started = Instant::now();
            match (turn + i) % 3 {
                0 => {
                    raw_get(&raw, &raw_url).await;
                    raw_samples.push(started.elapsed());
                }
                1 => {
                    let value: Value = client
                        .send_json(Request::get("list_instances", "instances"))
                        .await
                        .expect("get");
                    std::hint::black_box(value);
                    client_samples.push(started.elapsed());
                }
                _ => {
                    let value: Value = untimed
                        .send_json(Request::get("list_instances", "instances"))
                        .await
                        .expect("get");
                    std::hint::black_box(value);
                    untimed_samples.push(started.elapsed());
                }
            }
        }
    }
    server.abort();
    let (raw_median, client_median) = (median(raw_samples), median(client_samples));
    let untimed_median = median(untimed_samples);
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!("  {label}:");
    println!(
        "    raw reqwest + serde_json : {:8.1} µs/request",
        micros(raw_median)
    );
    println!(
        "    HttpClient::send_json    : {:8.1} µs/request",
        micros(client_median)
    );
    println!(
        "    ratio                    : {:8.3}x",
        client_median.as_secs_f64() / raw_median.as_secs_f64()
    );
    println!(
        "    without request timeout  : {:8.1} µs/request (ratio {:.3}x)",
        micros(untimed_median),
        untimed_median.as_secs_f64() / raw_median.as_secs_f64()
    );
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

async fn raw_get(client: &reqwest::Client, url: &str) {
    let bytes = client
        .get(url)
        .bearer_auth("bench-key")
        .send()
        .await
        .expect("send")
        .bytes()
        .await
        .expect("body");
    let value: Value = serde_json::from_slice(&bytes).expect("json");
    std::hint::black_box(value);
}
