//! Lambda's published limits, when enforced.

use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions, GENERAL_BURST, RATE_LIMITED_CODE};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{call_raw, code, fast};

async fn limited() -> FakeLambda {
    FakeLambda::start(FakeLambdaOptions {
        enforce_rate_limits: true,
        ..fast()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn general_limit_allows_a_burst_then_429_with_retry_after() {
    let fake = limited().await;
    let burst = GENERAL_BURST as usize;
    let started = std::time::Instant::now();
    let mut passed = 0;
    // The bucket refills at one request per second, so a slow machine may get one more
    // through per second it takes: count the passes until the first refusal.
    let (status, headers, body) = loop {
        let (status, headers, body) = call_raw(&fake, Method::GET, "/api/v1/instances", None)
            .await
            .unwrap();
        if status != StatusCode::OK || passed > burst + 20 {
            break (status, headers, body);
        }
        passed += 1;
    };
    let refills = started.elapsed().as_secs() as usize + 1;
    assert!(
        (burst..=burst + refills).contains(&passed),
        "{passed} requests passed before a refusal; burst {burst}, {refills} refills"
    );
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(code(&body), RATE_LIMITED_CODE);
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after));
}

#[tokio::test]
async fn launches_are_spaced_by_twelve_seconds() {
    let fake = limited().await;
    fake.state().add_ssh_key("k", super::PUBLIC_KEY);
    let body = json!({"region_name": "us-west-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["k"]});
    let (status, _, response) = call_raw(
        &fake,
        Method::POST,
        "/api/v1/instance-operations/launch",
        Some(body.clone()),
    )
    .await
    .unwrap();
    assert_eq!(status, StatusCode::OK, "{response}");
    let (status, headers, response) = call_raw(
        &fake,
        Method::POST,
        "/api/v1/instance-operations/launch",
        Some(body),
    )
    .await
    .unwrap();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{response}");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((11..=12).contains(&retry_after), "{retry_after}");
    assert_eq!(fake.state().instances().len(), 1);
}

#[tokio::test]
async fn limits_are_off_by_default() {
    let fake = super::start().await;
    for _ in 0..(GENERAL_BURST as usize * 3) {
        let (status, _, _) = call_raw(&fake, Method::GET, "/api/v1/regions", None)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK);
    }
}
