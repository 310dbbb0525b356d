//! What goes out (headers, query) and what comes back (bodies in many chunks) byte for byte.

use axum::Router;
use axum::body::Body;
use axum::http::HeaderMap as AxumHeaders;
use axum::response::Response;
use axum::routing::get;
use gpucloud_http::{Auth, HeaderName, HeaderValue, HttpClient, HttpConfig, Request};
use serde_json::{Value, json};

use crate::support::{serve, status_only};

/// 300 chunks of 1 kB: a JSON array of strings, so the whole body must arrive intact to parse.
fn chunks() -> Vec<String> {
    (0..300)
        .map(|i| {
            let item = format!(
                "\"{}\"",
                char::from(b'a' + (i % 26) as u8).to_string().repeat(1000)
            );
            match i {
                0 => format!("[{item}"),
                299 => format!(",{item}]"),
                _ => format!(",{item}"),
            }
        })
        .collect()
}

fn streamed(announce_length: bool) -> Response {
    let parts = chunks();
    let length: usize = parts.iter().map(String::len).sum();
    let stream = futures::stream::iter(parts.into_iter().map(Ok::<_, std::io::Error>));
    let mut response = Response::new(Body::from_stream(stream));
    if announce_length {
        response
            .headers_mut()
            .insert("content-length", length.to_string().parse().unwrap());
    }
    response
}

#[tokio::test]
async fn bodies_in_many_chunks_arrive_whole_with_or_without_a_length() {
    let router = Router::new()
        .route("/api/v1/sized", get(|| async { streamed(true) }))
        .route("/api/v1/chunked", get(|| async { streamed(false) }));
    let base = serve(router).await;
    let client = HttpClient::new(
        "test",
        HttpConfig::new(&base).unwrap(),
        Auth::None,
        status_only,
    )
    .unwrap();
    let expected: Value = serde_json::from_str(&chunks().concat()).unwrap();
    for path in ["sized", "chunked"] {
        let raw = client.send(Request::get("read", path)).await.unwrap();
        assert_eq!(raw.body, chunks().concat().as_bytes(), "{path}");
        let parsed: Value = client.send_json(Request::get("read", path)).await.unwrap();
        assert_eq!(parsed, expected, "{path}");
    }
}

#[tokio::test]
async fn request_headers_replace_defaults_and_the_query_is_encoded() {
    let router = Router::new().route(
        "/api/v1/echo",
        get(|headers: AxumHeaders, uri: axum::http::Uri| async move {
            let all = |name: &str| -> Vec<String> {
                headers
                    .get_all(name)
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect()
            };
            axum::Json(json!({
                "accept": all("accept"),
                "authorization": all("authorization"),
                "x-project-id": all("x-project-id"),
                "x-multi": all("x-multi"),
                "query": uri.query(),
            }))
        }),
    );
    let base = serve(router).await;
    let client = HttpClient::new(
        "test",
        HttpConfig::new(&base).unwrap(),
        Auth::Bearer(gpucloud_http::ApiKey::new("k-1")),
        status_only,
    )
    .unwrap();
    let multi = HeaderName::from_static("x-multi");
    let request = Request::get("echo", "echo")
        .query("name", "a b&c")
        .query("name", "é")
        .header(
            HeaderName::from_static("x-project-id"),
            HeaderValue::from_static("p-1"),
        )
        .header(
            gpucloud_http::HeaderName::from_static("accept"),
            HeaderValue::from_static("application/vnd.x+json"),
        )
        .header(multi.clone(), HeaderValue::from_static("1"))
        .header(multi, HeaderValue::from_static("2"));
    let seen: Value = client.send_json(request).await.unwrap();
    assert_eq!(seen["accept"], json!(["application/vnd.x+json"]), "{seen}");
    assert_eq!(seen["authorization"], json!(["Bearer k-1"]));
    assert_eq!(seen["x-project-id"], json!(["p-1"]));
    assert_eq!(seen["x-multi"], json!(["1", "2"]));
    assert_eq!(seen["query"], "name=a+b%26c&name=%C3%A9");
    let plain: Value = client
        .send_json(Request::get("echo", "echo"))
        .await
        .unwrap();
    assert_eq!(plain["accept"], json!(["application/json"]));
    assert_eq!(plain["query"], Value::Null);
}

/// Headers and a first chunk at once, the rest of the body never.
fn stalled() -> Response {
    let first = futures::stream::iter([Ok::<_, std::io::Error>("[1,".to_owned())]);
    Response::new(Body::from_stream(futures::StreamExt::chain(
        first,
        futures::stream::pending(),
    )))
}

/// A configuration of `base` with a 150 ms request timeout and no retry.
fn timed_once(base: &str) -> HttpConfig {
    HttpConfig::new(base)
        .unwrap()
        .with_request_timeout(std::time::Duration::from_millis(150))
        .with_retry(gpucloud_http::RetryPolicy::default().with_max_attempts(1))
}

/// Sends `request`, which must end in a timeout whose message names `limit` and whose outcome
/// is unknown; returns how long it took.
async fn times_out(client: &HttpClient, request: Request, limit: &str) -> std::time::Duration {
    let started = std::time::Instant::now();
    let err = client.send(request).await.expect_err("the body never ends");
    assert_eq!(err.kind(), gpucloud_core::ErrorKind::Timeout, "{err}");
    assert!(err.outcome_unknown(), "{err}");
    assert!(err.to_string().contains(limit), "{err}");
    started.elapsed()
}

#[tokio::test]
async fn the_timeout_covers_the_body_and_a_request_may_set_its_own() {
    let router = Router::new().route("/api/v1/stalled", get(|| async { stalled() }));
    let base = serve(router).await;
    let timed = timed_once(&base);
    let client = HttpClient::new("test", timed.clone(), Auth::None, status_only).unwrap();
    let took = times_out(&client, Request::get("read", "stalled"), "150 ms").await;
    assert!(took < std::time::Duration::from_secs(5));
    // No client timeout: the request's own applies.
    let untimed = HttpClient::new(
        "test",
        timed.with_request_timeout(None),
        Auth::None,
        status_only,
    )
    .unwrap();
    let stalled = Request::get("read", "stalled").timeout(std::time::Duration::from_millis(100));
    times_out(&untimed, stalled, "100 ms").await;
}

/// An attempt takes the timer the attempt before it left armed (see `timed_attempt`): taken
/// again, it still ends a stalled request at its own deadline; and a client that outlives its
/// runtime takes a fresh timer on the next one, never the old runtime's.
#[test]
fn a_timer_kept_between_attempts_still_times_out_and_stays_with_its_runtime() {
    let server = tokio::runtime::Runtime::new().unwrap();
    let router = Router::new()
        .route("/api/v1/quick", get(|| async { "[]" }))
        .route("/api/v1/stalled", get(|| async { stalled() }));
    let base = server.block_on(serve(router));
    let config = timed_once(&base);
    let client = HttpClient::new("test", config, Auth::None, status_only).unwrap();
    for _ in 0..2 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            client.send(Request::get("read", "quick")).await.unwrap();
            let took = times_out(&client, Request::get("read", "stalled"), "150 ms").await;
            assert!(took >= std::time::Duration::from_millis(150));
            assert!(took < std::time::Duration::from_secs(5));
            client.send(Request::get("read", "quick")).await.unwrap();
        });
    }
}
