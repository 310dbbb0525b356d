//! The LaunchPad fake over real HTTP: token auth, catalog pages with capacity per region,
//! deployments through their states (the failed → retrying → ready path included),
//! `request_id` uniqueness, list filters and pages, clusters, error bodies and faults.

use std::time::Duration;

use gpucloud_fakes::kit::Fault;
use gpucloud_fakes::launchpad::{
    ALREADY_DESTROYED, FakeLaunchpad, FakeLaunchpadOptions, FakeState, LaunchOutcome, NO_CAPACITY,
    Operation,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T me";
const EXPERIENCE: &str = "43123766-35ec-4eb4-a5ba-3f2945228445";

async fn start() -> FakeLaunchpad {
    start_with(Duration::from_millis(60)).await
}

/// A fake whose every lifecycle step takes `step`.
async fn start_with(step: Duration) -> FakeLaunchpad {
    FakeLaunchpad::start(FakeLaunchpadOptions {
        waiting_delay: step,
        retry_delay: step,
        destroying_delay: step,
        ..FakeLaunchpadOptions::default()
    })
    .await
    .unwrap()
}

/// A raw response: status and body (`Value::Null` when it is not JSON).
async fn call(
    fake: &FakeLaunchpad,
    auth: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", fake.base_url()));
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn api(
    fake: &FakeLaunchpad,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let auth = format!("Token {}", fake.token());
    call(fake, Some(&auth), method, path, body).await
}

fn create_body(request_id: &str) -> Value {
    json!({
        "experience_id": EXPERIENCE,
        "org_name": "gpucloud",
        "request_id": request_id,
        "requester_email": "ops@example.com",
        "requester_name": "ops",
        "provider_name": "dmz",
        "gpu_model": "gh200",
        "gpu_count": 1,
        "region": "pdx",
        "public_key": KEY,
        "ip_allowlist": ["192.0.2.1"],
        "tags": {"gpucloud-ref-id": request_id},
    })
}

async fn state_of(fake: &FakeLaunchpad, id: &str) -> String {
    let (status, body) = api(
        fake,
        Method::GET,
        &format!("/v1/catalog/deployments/{id}/"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["state"].as_str().unwrap().to_owned()
}

async fn wait_for(fake: &FakeLaunchpad, id: &str, state: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..200 {
        let now = state_of(fake, id).await;
        if seen.last() != Some(&now) {
            seen.push(now.clone());
        }
        if now == state {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{id} never reached {state}: {seen:?}");
}

#[tokio::test]
async fn only_the_token_scheme_with_the_right_token_is_let_in() {
    let fake = start().await;
    let path = "/v1/catalog/instance-types/";
    let (status, body) = call(&fake, None, Method::GET, path, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["detail"].is_string(), "{body}");
    let bearer = format!("Bearer {}", fake.token());
    assert_eq!(
        call(&fake, Some(&bearer), Method::GET, path, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&fake, Some("Token nope"), Method::GET, path, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(api(&fake, Method::GET, path, None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_catalog_pages_and_follows_capacity() {
    let fake = start().await;
    let (status, first) = api(
        &fake,
        Method::GET,
        "/v1/catalog/instance-types/?page_size=2",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let count = first["count"].as_u64().unwrap();
    assert!(count >= 5);
    assert_eq!(first["results"].as_array().unwrap().len(), 2);
    assert!(first["next"].as_str().unwrap().contains("page=2"));
    assert!(first["previous"].is_null());
    let mut all = Vec::new();
    for page in 1.. {
        let (status, body) = api(
            &fake,
            Method::GET,
            &format!("/v1/catalog/instance-types/?page_size=2&page={page}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        all.extend(body["results"].as_array().unwrap().clone());
        if body["next"].is_null() {
            break;
        }
    }
    assert_eq!(all.len() as u64, count);
    let (status, body) = api(
        &fake,
        Method::GET,
        "/v1/catalog/instance-types/?page=99",
        None,
    )
    .await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("Invalid page."))
    );
    let clouds: std::collections::BTreeSet<&str> =
        all.iter().filter_map(|t| t["cloud"].as_str()).collect();
    assert!(clouds.len() >= 3, "{clouds:?}");
    let gh200 = all.iter().find(|t| t["gpu"]["family"] == "GH200").unwrap();
    assert_eq!(
        (gh200["cloud"].as_str(), gh200["system_arch"].as_str()),
        (Some("dmz"), Some("arm64"))
    );
    assert_eq!(gh200["capacity"]["pdx"], 3);
    assert_eq!(gh200["price"]["currency"], "USD");

    fake.state().set_capacity("pdx", "dmz", "GH200", 1, 0);
    let (_, body) = api(
        &fake,
        Method::GET,
        "/v1/catalog/instance-types/?page_size=500",
        None,
    )
    .await;
    let gh200 = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["gpu"]["family"] == "GH200")
        .unwrap()
        .clone();
    assert_eq!(gh200["capacity"]["pdx"], 0);
    assert_eq!(gh200["regions"], json!([]));
}

#[tokio::test]
async fn a_deployment_goes_ready_is_destroyed_and_keeps_its_request_id() {
    let fake = start().await;
    let (status, created) = api(
        &fake,
        Method::POST,
        "/v1/catalog/deployments/",
        Some(create_body("req-1")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["state"], "waiting");
    assert_eq!(
        (
            created["provider_name"].as_str(),
            created["region"].as_str()
        ),
        (Some("dmz"), Some("pdx"))
    );
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(fake.state().capacity("pdx", "dmz", "GH200", 1), 2);

    // A second create with the same request_id is refused on that field.
    let (status, body) = api(
        &fake,
        Method::POST,
        "/v1/catalog/deployments/",
        Some(create_body("req-1")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["request_id"].is_array(), "{body}");

    wait_for(&fake, &id, "ready").await;
    let cluster = api(
        &fake,
        Method::GET,
        &format!("/v1/catalog/deployments/{id}/"),
        None,
    )
    .await
    .1["cluster"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, c) = api(
        &fake,
        Method::GET,
        &format!("/v1/inventory/clusters/{cluster}/"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        c["public_address"]
            .as_str()
            .unwrap()
            .starts_with("203.0.113.")
    );
    let (_, listed) = api(
        &fake,
        Method::GET,
        &format!("/v1/inventory/clusters/?deployment={id}"),
        None,
    )
    .await;
    assert_eq!(listed["count"], 1);

    // By request_id, with the state filters.
    let (_, found) = api(
        &fake,
        Method::GET,
        "/v1/catalog/deployments/?request_id=req-1&state_not=destroyed",
        None,
    )
    .await;
    assert_eq!(found["count"], 1);
    let (status, _) = api(
        &fake,
        Method::GET,
        "/v1/catalog/deployments/?state=sleeping",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, body) = api(
        &fake,
        Method::DELETE,
        &format!("/v1/catalog/deployments/{id}/"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::OK, Some("destroying"))
    );
    let (status, body) = api(
        &fake,
        Method::DELETE,
        &format!("/v1/catalog/deployments/{id}/"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (StatusCode::BAD_REQUEST, Some(ALREADY_DESTROYED))
    );
    wait_for(&fake, &id, "destroyed").await;
    assert_eq!(fake.state().capacity("pdx", "dmz", "GH200", 1), 3);
    assert!(fake.state().live_deployments().is_empty());
    assert_eq!(
        fake.state().deployments().len(),
        1,
        "destroyed deployments stay listed"
    );
    let (status, _) = api(
        &fake,
        Method::GET,
        &format!("/v1/inventory/clusters/{cluster}/"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api(
        &fake,
        Method::POST,
        "/v1/catalog/deployments/",
        Some(create_body("req-1")),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the request_id stays taken"
    );
    let (status, body) = api(
        &fake,
        Method::GET,
        "/v1/catalog/deployments/5330c898-f3e7-4972-bfd0-1d438e3774d7/",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["detail"].is_string());
}

#[tokio::test]
async fn failures_are_retried_or_fatal_as_the_outcome_says() {
    // Steps long enough for a poll on a loaded machine to see each of them.
    let fake = start_with(Duration::from_millis(400)).await;
    fake.state()
        .set_launch_outcome(Some(LaunchOutcome::Retried));
    let (_, created) = api(
        &fake,
        Method::POST,
        "/v1/catalog/deployments/",
        Some(create_body("retry")),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let seen = wait_for(&fake, &id, "ready").await;
    assert_eq!(seen, ["waiting", "failed", "retrying", "ready"]);
    assert_eq!(
        api(
            &fake,
            Method::GET,
            &format!("/v1/catalog/deployments/{id}/"),
            None
        )
        .await
        .1["retry_count"],
        1
    );

    fake.state().set_launch_outcome(Some(LaunchOutcome::Error));
    let (_, created) = api(
        &fake,
        Method::POST,
        "/v1/catalog/deployments/",
        Some(create_body("fatal")),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(wait_for(&fake, &id, "error").await, ["waiting", "error"]);
    let uuid = id.parse().unwrap();
    assert!(fake.state().set_deployment_state(uuid, FakeState::Paused));
    assert_eq!(state_of(&fake, &id).await, "paused");
}

#[tokio::test]
async fn bad_requests_name_their_field_and_no_capacity_says_so() {
    let fake = start().await;
    let post = |body: Value| {
        let fake = &fake;
        async move { api(fake, Method::POST, "/v1/catalog/deployments/", Some(body)).await }
    };
    for field in [
        "org_name",
        "request_id",
        "requester_email",
        "requester_name",
        "experience_id",
    ] {
        let mut body = create_body("r");
        body.as_object_mut().unwrap().remove(field);
        let (status, answer) = post(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}");
        assert!(answer[field].is_array(), "{field}: {answer}");
    }
    let mut body = create_body("r");
    body["experience_id"] = json!("00000000-0000-0000-0000-000000000000");
    assert!(post(body).await.1["experience_id"].is_array());
    let mut body = create_body("r");
    body["gpu_model"] = json!("b300");
    assert!(post(body).await.1["gpu_model"].is_array());
    let mut body = create_body("r");
    body["public_key"] = json!("not a key");
    assert!(post(body).await.1["public_key"].is_array());

    fake.state().set_capacity("pdx", "dmz", "GH200", 1, 0);
    let (status, body) = post(create_body("r")).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (StatusCode::BAD_REQUEST, Some(NO_CAPACITY))
    );
    assert!(fake.state().deployments().is_empty(), "nothing made");
}

#[tokio::test]
async fn lists_page_and_faults_are_applied() {
    let fake = start().await;
    let tags = serde_json::Map::new();
    fake.state()
        .seed_deployments(7, "oci", "A100", 8, "us-tx-1", &tags)
        .unwrap();
    let (_, first) = api(
        &fake,
        Method::GET,
        "/v1/catalog/deployments/?page_size=3&page=3",
        None,
    )
    .await;
    assert_eq!(first["count"], 7);
    assert_eq!(first["results"].as_array().unwrap().len(), 1);
    assert!(first["next"].is_null() && first["previous"].is_string());
    let (_, filtered) = api(
        &fake,
        Method::GET,
        "/v1/catalog/deployments/?provider_name=dmz",
        None,
    )
    .await;
    assert_eq!(filtered["count"], 0);

    fake.state().set_fault(Fault::ServerError {
        status: 503,
        times: 1,
    });
    let (status, body) = api(&fake, Method::GET, "/v1/catalog/deployments/", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body["detail"].is_string());
    fake.state().set_fault(Fault::RateLimited {
        retry_after_secs: 2,
        times: 1,
    });
    assert_eq!(
        api(&fake, Method::GET, "/v1/catalog/deployments/", None)
            .await
            .0,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Commit, then drop: the deployment exists though its answer never came.
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::CreateDeployment,
        times: 1,
    });
    let auth = format!("Token {}", fake.token());
    let lost = reqwest::Client::new()
        .post(format!("{}/v1/catalog/deployments/", fake.base_url()))
        .header("Authorization", auth)
        .json(&create_body("lost"))
        .send()
        .await;
    assert!(lost.is_err());
    let (_, found) = api(
        &fake,
        Method::GET,
        "/v1/catalog/deployments/?request_id=lost",
        None,
    )
    .await;
    assert_eq!(found["count"], 1);
    assert_eq!(
        fake.state()
            .request_count("POST", "/v1/catalog/deployments"),
        1
    );
}
