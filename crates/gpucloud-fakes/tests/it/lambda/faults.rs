//! Each fault switch, its targeting and its count.

use std::time::{Duration, Instant};

use gpucloud_fakes::lambda::{FakeInstanceStatus, Fault, Operation, RATE_LIMITED_CODE};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{add_key, call_raw, code, get, launch, start};

#[tokio::test]
async fn latency_delays_responses_until_cleared() {
    let fake = start().await;
    fake.state()
        .set_fault(Fault::Latency(Duration::from_millis(300)));
    let started = Instant::now();
    let (status, _) = get(&fake, "/api/v1/regions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
    fake.state().clear_faults();
    let started = Instant::now();
    get(&fake, "/api/v1/regions").await;
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn rate_limited_sends_429_with_retry_after_then_recovers() {
    let fake = start().await;
    fake.state().set_fault(Fault::RateLimited {
        retry_after_secs: 7,
        times: 2,
    });
    for _ in 0..2 {
        let (status, headers, body) = call_raw(&fake, Method::GET, "/api/v1/instances", None)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers["retry-after"], "7");
        assert_eq!(code(&body), RATE_LIMITED_CODE);
    }
    let (status, _) = get(&fake, "/api/v1/instances").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fake.state().request_count("GET", "/api/v1/instances"), 3);
}

#[tokio::test]
async fn server_errors_use_the_given_status() {
    let fake = start().await;
    fake.state().set_fault(Fault::ServerError {
        status: 500,
        times: 1,
    });
    fake.state().set_fault(Fault::ServerError {
        status: 503,
        times: 1,
    });
    let (status, body) = get(&fake, "/api/v1/instance-types").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(code(&body), "global/internal-error");
    let (status, body) = get(&fake, "/api/v1/instance-types").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(code(&body), "provider/internal-unavailable");
    let (status, _) = get(&fake, "/api/v1/instance-types").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn connection_reset_gives_no_response_and_runs_nothing() {
    let fake = start().await;
    add_key(&fake, "k").await;
    fake.state()
        .set_fault_for(Operation::Launch, Fault::ConnectionReset { times: 1 });
    // Other operations are unaffected.
    let (status, _) = get(&fake, "/api/v1/instances").await;
    assert_eq!(status, StatusCode::OK);
    let result = call_raw(
        &fake,
        Method::POST,
        "/api/v1/instance-operations/launch",
        Some(json!({"region_name": "us-west-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["k"]})),
    )
    .await;
    assert!(
        result.is_err(),
        "expected a transport error, got {result:?}"
    );
    assert!(fake.state().instances().is_empty());
    assert_eq!(
        fake.state()
            .request_count("POST", "/api/v1/instance-operations/launch"),
        1
    );
    // Used up: the next launch works.
    launch(&fake, "us-west-1", "gpu_1x_a10").await;
}

#[tokio::test]
async fn malformed_json_is_a_200_with_a_broken_body() {
    let fake = start().await;
    fake.state().set_fault(Fault::MalformedJson { times: 1 });
    let response = super::client()
        .get(format!("{}/api/v1/instances", fake.base_url()))
        .bearer_auth(fake.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
    let (status, body) = get(&fake, "/api/v1/instances").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["data"].is_array());
}

#[tokio::test]
async fn commit_then_drop_launch_creates_the_instance_but_no_response() {
    let fake = start().await;
    add_key(&fake, "k").await;
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::Launch,
        times: 1,
    });
    // Not aimed at other operations.
    let (status, _) = get(&fake, "/api/v1/instances").await;
    assert_eq!(status, StatusCode::OK);
    let result = call_raw(
        &fake,
        Method::POST,
        "/api/v1/instance-operations/launch",
        Some(
            json!({"region_name": "us-west-1", "instance_type_name": "gpu_1x_a10",
                    "ssh_key_names": ["k"], "name": "ref-123"}),
        ),
    )
    .await;
    assert!(
        result.is_err(),
        "expected a transport error, got {result:?}"
    );
    let instances = fake.state().instances();
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0].name.as_deref(), Some("ref-123"));
    // The client can find it by listing.
    let (_, body) = get(&fake, "/api/v1/instances").await;
    assert_eq!(body["data"][0]["name"], "ref-123");
}

#[tokio::test]
async fn commit_then_drop_terminate_terminates() {
    let fake = start().await;
    let id = launch(&fake, "us-west-1", "gpu_1x_a10").await;
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::Terminate,
        times: 1,
    });
    let result = call_raw(
        &fake,
        Method::POST,
        "/api/v1/instance-operations/terminate",
        Some(json!({"instance_ids": [id]})),
    )
    .await;
    assert!(result.is_err());
    assert_eq!(
        fake.state().instance(&id).unwrap().status,
        FakeInstanceStatus::Terminating
    );
}

#[tokio::test]
async fn faults_hit_in_order_and_clear() {
    let fake = start().await;
    fake.state().set_fault_for(
        Operation::ListRegions,
        Fault::ServerError {
            status: 502,
            times: 5,
        },
    );
    let (status, _) = get(&fake, "/api/v1/regions").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let (status, _) = get(&fake, "/api/v1/instances").await;
    assert_eq!(status, StatusCode::OK);
    fake.state().clear_faults();
    let (status, _) = get(&fake, "/api/v1/regions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fake.state().request_count("get", "/api/v1/regions"), 2);
    assert_eq!(fake.state().request_count("GET", "/api/v1/"), 3);
    fake.state().reset_request_counts();
    assert_eq!(fake.state().request_count("GET", "/"), 0);
}
