//! When requests are retried, how long the client waits, and when it gives up.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gpucloud_core::{Delivery, ErrorKind, Retry};
use gpucloud_http::{Auth, HttpClient, Request};

use crate::support::status_only;
use serde_json::{Value, json};

use crate::support::{Counter, config, serve_counted};

fn client(config: gpucloud_http::HttpConfig) -> HttpClient {
    HttpClient::new("test", config, Auth::None, status_only).expect("client")
}

#[tokio::test]
async fn throttled_twice_with_retry_after_then_succeeds_on_the_third_attempt() {
    let (base, counter) = serve_counted(
        "/api/v1/instances",
        get(|State(counter): State<Counter>| async move {
            if counter.hit() <= 2 {
                (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "{}").into_response()
            } else {
                axum::Json(json!({"data": [1, 2]})).into_response()
            }
        }),
    )
    .await;
    let (config, events) = config(&base, 4);
    let answer: Value = client(config)
        .send_json(Request::get("list_instances", "instances"))
        .await
        .expect("third attempt succeeds");
    assert_eq!(answer, json!({"data": [1, 2]}));
    assert_eq!(counter.get(), 3);
    let retries = events.retries();
    assert_eq!(retries.len(), 2, "{retries:?}");
    for (i, retry) in retries.iter().enumerate() {
        assert_eq!(retry.attempt, i as u32 + 1);
        assert_eq!(retry.status, Some(429));
        assert_eq!(retry.kind, ErrorKind::RateLimited);
        assert_eq!(retry.retry_after, Some(Duration::from_secs(1)));
        assert!(
            retry.wait >= Duration::from_secs(1),
            "wait {:?} is shorter than Retry-After",
            retry.wait
        );
    }
}

#[tokio::test]
async fn a_post_is_retried_after_an_explicit_429() {
    let (base, counter) = serve_counted(
        "/api/v1/launch",
        post(|State(counter): State<Counter>| async move {
            if counter.hit() == 1 {
                (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0")], "").into_response()
            } else {
                axum::Json(json!({"ok": true})).into_response()
            }
        }),
    )
    .await;
    let (config, events) = config(&base, 3);
    let request = Request::post("create_instance", "/launch")
        .json(&json!({"name": "a"}))
        .expect("body");
    let answer: Value = client(config)
        .send_json(request)
        .await
        .expect("second attempt succeeds");
    assert_eq!(answer, json!({"ok": true}));
    assert_eq!(counter.get(), 2);
    assert_eq!(events.retries().len(), 1);
}

async fn slow(State(counter): State<Counter>) -> Response {
    counter.hit();
    tokio::time::sleep(Duration::from_secs(3)).await;
    axum::Json(json!({"late": true})).into_response()
}

#[tokio::test]
async fn a_post_that_times_out_is_sent_once_and_reports_timeout() {
    let (base, counter) = serve_counted("/api/v1/launch", post(slow)).await;
    let (config, events) = config(&base, 4);
    let config = config.with_request_timeout(Duration::from_millis(200));
    let request = Request::post("create_instance", "launch")
        .json(&json!({}))
        .expect("body");
    let err = client(config)
        .send_json::<Value>(request)
        .await
        .expect_err("times out");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(
        err.retry(),
        Retry::Transient,
        "not retried, so not exhausted"
    );
    assert!(err.outcome_unknown(), "sent, and no answer came back");
    assert_eq!(counter.get(), 1, "exactly one request reached the server");
    assert!(events.retries().is_empty());
}

#[tokio::test]
async fn a_get_that_times_out_is_retried_until_attempts_run_out() {
    let (base, counter) = serve_counted("/api/v1/slow", get(slow)).await;
    let (config, events) = config(&base, 3);
    let config = config.with_request_timeout(Duration::from_millis(150));
    let err = client(config)
        .send(Request::get("get_instance", "slow"))
        .await
        .expect_err("times out");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.retry(), Retry::Exhausted);
    assert_eq!(counter.get(), 3);
    assert_eq!(events.retries().len(), 2);
}

#[tokio::test]
async fn an_idempotent_get_on_503_is_retried_up_to_max_attempts_then_exhausted() {
    let (base, counter) = serve_counted(
        "/api/v1/instances",
        get(|State(counter): State<Counter>| async move {
            counter.hit();
            (StatusCode::SERVICE_UNAVAILABLE, "down")
        }),
    )
    .await;
    let (config, events) = config(&base, 5);
    let err = client(config)
        .send_json::<Value>(Request::get("list_instances", "instances"))
        .await
        .expect_err("always 503");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.retry(), Retry::Exhausted);
    assert_eq!(counter.get(), 5, "the server saw every attempt");
    let retries = events.retries();
    assert_eq!(
        retries.iter().map(|r| r.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    // Exponential backoff without jitter: 1, 2, 4, then capped at 4 ms.
    assert_eq!(
        retries
            .iter()
            .map(|r| r.wait.as_millis())
            .collect::<Vec<_>>(),
        vec![1, 2, 4, 4]
    );
    let details = err.provider_details().expect("details");
    assert_eq!(details.status, Some(503));
    assert_eq!(details.body.as_deref(), Some("down"));
}

#[tokio::test]
async fn a_post_on_503_is_not_retried() {
    let (base, counter) = serve_counted(
        "/api/v1/launch",
        post(|State(counter): State<Counter>| async move {
            counter.hit();
            StatusCode::SERVICE_UNAVAILABLE
        }),
    )
    .await;
    let (config, events) = config(&base, 4);
    let err = client(config)
        .send(Request::post("create_instance", "launch"))
        .await
        .expect_err("503");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.retry(), Retry::Transient);
    assert_eq!(
        err.delivery(),
        Delivery::Answered,
        "a 503 says it was not done"
    );
    assert!(!err.outcome_unknown());
    assert_eq!(counter.get(), 1);
    assert!(events.retries().is_empty());
}

#[tokio::test]
async fn a_get_is_retried_on_500_and_a_post_is_not_and_its_outcome_is_unknown() {
    let (base, counter) = serve_counted(
        "/api/v1/thing",
        get(|State(counter): State<Counter>| async move {
            if counter.hit() == 1 {
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            } else {
                axum::Json(json!({"ok": true})).into_response()
            }
        })
        .post(|State(counter): State<Counter>| async move {
            counter.hit();
            StatusCode::INTERNAL_SERVER_ERROR
        }),
    )
    .await;
    let (config, events) = config(&base, 4);
    let client = client(config);
    let answer: Value = client
        .send_json(Request::get("get_thing", "thing"))
        .await
        .expect("the second GET succeeds");
    assert_eq!(answer, json!({"ok": true}));
    assert_eq!(counter.get(), 2);
    assert_eq!(events.retries().len(), 1);
    let err = client
        .send(Request::post("create_thing", "thing"))
        .await
        .expect_err("500");
    assert_eq!(counter.get(), 3, "the POST was sent once");
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert_eq!(err.retry(), Retry::Transient);
    assert!(
        err.outcome_unknown(),
        "a 500 does not say whether it was done"
    );
    assert_eq!(events.retries().len(), 1);
}

#[tokio::test]
async fn a_not_found_about_an_instance_is_instance_not_found() {
    let (base, _) = serve_counted(
        "/api/v1/instances/i-9",
        get(|State(counter): State<Counter>| async move {
            counter.hit();
            StatusCode::NOT_FOUND
        }),
    )
    .await;
    let (config, _) = config(&base, 2);
    let client = client(config);
    let err = client
        .send(Request::get("get_instance", "instances/i-9").about_instance())
        .await
        .expect_err("404");
    assert_eq!(err.kind(), ErrorKind::InstanceNotFound);
    let err = client
        .send(Request::get("get_key", "instances/i-9"))
        .await
        .expect_err("404");
    assert_eq!(err.kind(), ErrorKind::ResourceNotFound);
}

#[tokio::test]
async fn a_post_marked_idempotent_is_retried_on_503() {
    let (base, counter) = serve_counted(
        "/api/v1/launch",
        post(|State(counter): State<Counter>| async move {
            if counter.hit() == 1 {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::NO_CONTENT
            }
        }),
    )
    .await;
    let (config, _) = config(&base, 4);
    let request = Request::post("create_instance", "launch").idempotent(true);
    client(config)
        .send_json::<()>(request)
        .await
        .expect("retried, then 204 decodes as ()");
    assert_eq!(counter.get(), 2);
}

#[tokio::test]
async fn a_post_that_cannot_connect_is_retried_because_it_never_reached_the_server() {
    // A port that was just free: connecting is refused.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let (config, events) = config(&format!("http://{addr}/"), 3);
    let err = client(config)
        .send(Request::post("create_instance", "launch"))
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert_eq!(err.retry(), Retry::Exhausted);
    assert_eq!(err.delivery(), Delivery::NotSent);
    assert!(
        !err.outcome_unknown(),
        "a refused connection is a clean failure"
    );
    assert_eq!(events.retries().len(), 2);
    assert!(err.to_string().contains("cannot connect"), "{err}");
}

/// A seed that collects the numbers of `{"data": [...]}` one by one, as a provider's streaming
/// list converts instances, and counts how many seeds were made.
struct Collect<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'de> serde::de::DeserializeSeed<'de> for Collect<'_> {
    type Value = Vec<u64>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Vec<u64>, D::Error> {
        #[derive(serde::Deserialize)]
        struct Envelope {
            data: Vec<u64>,
        }
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let envelope = <Envelope as serde::Deserialize>::deserialize(deserializer)?;
        Ok(envelope.data)
    }
}

#[tokio::test]
async fn a_seeded_read_whose_answer_is_cut_is_retried_with_a_fresh_seed() {
    let (base, counter) = serve_counted(
        "/api/v1/instances",
        get(|State(counter): State<Counter>| async move {
            if counter.hit() == 1 {
                (StatusCode::OK, "{\"data\": [1, 2").into_response()
            } else {
                axum::Json(json!({"data": [1, 2, 3]})).into_response()
            }
        }),
    )
    .await;
    let (config, _) = config(&base, 3);
    let seeds = std::sync::atomic::AtomicUsize::new(0);
    let numbers = client(config)
        .send_json_seed(Request::get("list_instances", "instances"), || {
            Collect(&seeds)
        })
        .await
        .expect("the second, whole answer is read");
    assert_eq!(counter.get(), 2, "the cut answer was retried once");
    assert_eq!(seeds.into_inner(), 2, "a fresh seed per attempt");
    assert_eq!(numbers, [1, 2, 3], "nothing of the cut answer is kept");
}

#[tokio::test]
async fn a_seeded_read_of_well_formed_json_of_the_wrong_shape_is_retried_like_any_unreadable_answer()
 {
    let (base, counter) = serve_counted(
        "/api/v1/instances",
        get(|State(counter): State<Counter>| async move {
            counter.hit();
            axum::Json(json!({"data": ["one"]})).into_response()
        }),
    )
    .await;
    let (config, _) = config(&base, 3);
    let seeds = std::sync::atomic::AtomicUsize::new(0);
    let err = client(config)
        .send_json_seed(Request::get("list_instances", "instances"), || {
            Collect(&seeds)
        })
        .await
        .expect_err("not numbers");
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(
        counter.get() > 1,
        "an unreadable answer to a read is asked again"
    );
    assert_eq!(
        seeds.into_inner(),
        counter.get() as usize,
        "one seed per attempt"
    );
}
