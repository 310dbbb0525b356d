//! The shared fault switches and the optional rate limit, through Fluidstack's shapes.

use std::time::{Duration, Instant};

use gpucloud_fakes::fluidstack::{FakeFluidstack, FakeFluidstackOptions, Operation};
use gpucloud_fakes::kit::{Fault, FaultKind, RateLimit};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{Call, message, region, start};

#[tokio::test]
async fn server_error_hits_its_count_then_requests_work() {
    let fake = start().await;
    let call = Call::to(&fake, &region(&fake));
    fake.state().set_fault(Fault::ServerError {
        status: 503,
        times: 2,
    });
    for _ in 0..2 {
        let (status, body) = call.get("/instance-types").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!message(&body).is_empty(), "{body}");
    }
    let (status, _) = call.get("/instance-types").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn rate_limited_answers_429_with_retry_after_and_runs_nothing() {
    let fake = start().await;
    let call = Call::to(&fake, &region(&fake));
    fake.state().set_fault_for(
        Operation::CreateInstance,
        Fault::RateLimited {
            retry_after_secs: 7,
            times: 1,
        },
    );
    let (status, _) = call.get("/instances").await;
    assert_eq!(status, StatusCode::OK, "aimed at create only");
    let (status, headers, body) = call
        .raw(
            Method::POST,
            "/instances",
            Some(json!({"name": "a", "type": "cpu.32x"})),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "7");
    assert!(!message(&body).is_empty(), "{body}");
    assert!(fake.state().instances().is_empty());
}

#[tokio::test]
async fn connection_reset_and_malformed_body() {
    let fake = start().await;
    let call = Call::to(&fake, &region(&fake));
    fake.state().set_fault(Fault::ConnectionReset { times: 1 });
    assert!(call.raw(Method::GET, "/instances", None).await.is_err());
    fake.state().set_fault(Fault::MalformedJson { times: 1 });
    let response = super::client()
        .get(format!("{}/instances", call.base))
        .bearer_auth(fake.api_key())
        .header("X-PROJECT-ID", fake.project_id().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_err(),
        "{text}"
    );
    let (status, _) = call.get("/instances").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn commit_then_drop_creates_the_instance_but_loses_the_answer() {
    let fake = start().await;
    let call = Call::to(&fake, &region(&fake));
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::CreateInstance,
        times: 1,
    });
    let (status, _) = call.get("/instances").await;
    assert_eq!(status, StatusCode::OK, "other operations are not hit");
    let lost = call
        .raw(
            Method::POST,
            "/instances",
            Some(json!({"name": "lost", "type": "cpu.32x"})),
        )
        .await;
    assert!(lost.is_err(), "{lost:?}");
    let instances = fake.state().instances();
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0].name, "lost");
    let id = instances[0].id;
    // A delete whose answer is lost still deletes.
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::DeleteInstance,
        times: 1,
    });
    assert!(
        call.raw(Method::DELETE, &format!("/instances/{id}"), None)
            .await
            .is_err()
    );
    let (_, body) = call.get(&format!("/instances/{id}")).await;
    assert_eq!(body["state"], "deleting");
}

#[tokio::test]
async fn latency_delays_matching_requests_until_cleared() {
    let fake = start().await;
    let call = Call::to(&fake, &region(&fake));
    fake.state().set_fault_for(
        Operation::ListInstanceTypes,
        Fault::Latency(Duration::from_millis(300)),
    );
    let started = Instant::now();
    call.get("/instance-types").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    fake.state().clear_faults();
    let started = Instant::now();
    call.get("/instance-types").await;
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn random_mode_hits_about_its_rate_with_the_drawn_kinds() {
    let fake = start().await;
    let call = Call::to(&fake, &region(&fake));
    fake.state().faults().set_random(
        42,
        0.5,
        &[
            FaultKind::ServerError { status: 502 },
            FaultKind::RateLimited {
                retry_after_secs: 1,
            },
        ],
    );
    let mut statuses = Vec::new();
    for _ in 0..60 {
        let (status, _) = call.get("/capabilities").await;
        statuses.push(status);
    }
    let faulted = statuses.iter().filter(|s| **s != StatusCode::OK).count();
    assert!(
        (15..=45).contains(&faulted),
        "{faulted} of 60 hit at rate 0.5"
    );
    assert!(statuses.contains(&StatusCode::BAD_GATEWAY));
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS));
    assert!(statuses.iter().all(|s| {
        [
            StatusCode::OK,
            StatusCode::BAD_GATEWAY,
            StatusCode::TOO_MANY_REQUESTS,
        ]
        .contains(s)
    }));
    assert_eq!(fake.state().faults().injected_count(), faulted as u64);
}

#[tokio::test]
async fn rate_limit_option_throttles_with_retry_after() {
    let fake = FakeFluidstack::start(FakeFluidstackOptions {
        rate_limit: Some(RateLimit {
            burst: 2.0,
            per_sec: 0.5,
        }),
        ..super::options()
    })
    .await
    .unwrap();
    let call = Call::to(&fake, &region(&fake));
    for _ in 0..2 {
        let (status, _) = call.get("/instance-types").await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, headers, body) = call
        .raw(Method::GET, "/instance-types", None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "2");
    assert!(!message(&body).is_empty(), "{body}");
}
