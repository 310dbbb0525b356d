//! Prints the per-request cost of `HttpClient::get_json` against a raw `reqwest` floor, both
//! talking to the same axum server on 127.0.0.1. Run with `cargo bench -p gpucloud-http`.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use gpucloud_http::{Auth, HttpClient, HttpConfig, StatusClassifier};
use serde_json::{Value, json};

const WARMUP: u32 = 200;
const ROUNDS: u32 = 3;
const REQUESTS: u32 = 2000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let body = json!({"data": (0..20).map(|i| json!({"id": format!("i-{i}"), "status": "active"})).collect::<Vec<_>>()});
    let router = Router::new().route(
        "/api/v1/instances",
        get(move || async move { axum::Json(body.clone()) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("server") });
    let base = format!("http://{addr}/api/v1/");

    let raw = reqwest::Client::new();
    let raw_url = format!("{base}instances");
    let client = HttpClient::new(
        "bench",
        HttpConfig::new(&base).expect("base"),
        Auth::Bearer(gpucloud_http::ApiKey::new("bench-key")),
        StatusClassifier,
    )
    .expect("client");

    for _ in 0..WARMUP {
        raw_get(&raw, &raw_url).await;
        let _: Value = client
            .get_json("list_instances", "instances", &[])
            .await
            .expect("get");
    }
    println!(
        "gpucloud-http overhead: {REQUESTS} sequential GETs of a 20-item JSON list on 127.0.0.1, best of {ROUNDS}"
    );
    let mut best_raw = Duration::MAX;
    let mut best_client = Duration::MAX;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for _ in 0..REQUESTS {
            raw_get(&raw, &raw_url).await;
        }
        best_raw = best_raw.min(started.elapsed());
        let started = Instant::now();
        for _ in 0..REQUESTS {
            let _: Value = client
                .get_json("list_instances", "instances", &[])
                .await
                .expect("get");
        }
        best_client = best_client.min(started.elapsed());
    }
    let per = |total: Duration| total.as_secs_f64() * 1e6 / f64::from(REQUESTS);
    println!(
        "  raw reqwest + serde_json : {:8.1} µs/request",
        per(best_raw)
    );
    println!(
        "  HttpClient::get_json     : {:8.1} µs/request",
        per(best_client)
    );
    println!(
        "  ratio                    : {:8.2}x",
        best_client.as_secs_f64() / best_raw.as_secs_f64()
    );
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
    let _: Value = serde_json::from_slice(&bytes).expect("json");
}
