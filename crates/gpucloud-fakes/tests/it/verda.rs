//! The Verda fake over real HTTP: the OAuth2 token endpoint and expiring tokens, the catalog
//! and availability per usage class, the instance lifecycle through the action endpoint, OS
//! volumes, SSH keys, startup scripts, error bodies and a fault.

use std::time::Duration;

use gpucloud_fakes::kit::Fault;
use gpucloud_fakes::verda::{
    FakeStatus, FakeVerda, FakeVerdaOptions, INVALID_REQUEST, NOT_FOUND, Operation,
    UNAUTHORIZED_REQUEST,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T me";

async fn start() -> FakeVerda {
    start_with(Duration::from_millis(30)).await
}

/// A fake whose every lifecycle step takes `step`.
async fn start_with(step: Duration) -> FakeVerda {
    FakeVerda::start(FakeVerdaOptions {
        ordered_delay: step,
        provisioning_delay: step,
        shutdown_delay: step,
        start_delay: step,
        deleting_delay: step,
        ..FakeVerdaOptions::default()
    })
    .await
    .unwrap()
}

/// A raw response: status and body text.
async fn raw(
    fake: &FakeVerda,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, String) {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", fake.base_url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn token(fake: &FakeVerda) -> String {
    let (status, body) = raw(
        fake,
        None,
        Method::POST,
        "/oauth2/token",
        Some(json!({"grant_type": "client_credentials", "client_id": fake.client_id(), "client_secret": fake.client_secret()})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    body["access_token"].as_str().unwrap().to_owned()
}

async fn call(
    fake: &FakeVerda,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, text) = raw(fake, Some(token), method, path, body).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn tokens_are_required_issued_for_the_client_credentials_and_expire() {
    let fake = start().await;
    let (status, body) = raw(&fake, None, Method::GET, "/instances", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], UNAUTHORIZED_REQUEST);

    let (status, body) = raw(
        &fake,
        None,
        Method::POST,
        "/oauth2/token",
        Some(json!({"grant_type": "client_credentials", "client_id": fake.client_id(), "client_secret": "wrong"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let token = token(&fake).await;
    assert_eq!(
        call(&fake, &token, Method::GET, "/instances", None).await.0,
        StatusCode::OK
    );
    fake.state().expire_tokens();
    assert_eq!(
        call(&fake, &token, Method::GET, "/instances", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(fake.state().tokens_issued(), 1);
}

#[tokio::test]
async fn the_catalog_has_prices_per_usage_class_and_availability_a_test_sets() {
    let fake = start().await;
    let token = token(&fake).await;
    let (_, types) = call(
        &fake,
        &token,
        Method::GET,
        "/instance-types?currency=usd",
        None,
    )
    .await;
    let h100 = types
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["instance_type"] == "8H100.80S.176V")
        .unwrap();
    assert_eq!(h100["gpu"]["number_of_gpus"], 8);
    assert_eq!(
        h100["gpu_memory"]["size_in_gigabytes"], 640,
        "the whole instance's"
    );
    assert_eq!(h100["price_per_hour"], "18.320");
    assert_eq!(h100["spot_price"], "7.330");

    fake.state()
        .set_capacity("FIN-01", "1H100.80S.30V", true, 0);
    let (_, spot) = call(
        &fake,
        &token,
        Method::GET,
        "/instance-availability?is_spot=true&location_code=FIN-01",
        None,
    )
    .await;
    let listed = &spot[0]["availabilities"];
    assert!(!listed.as_array().unwrap().contains(&json!("1H100.80S.30V")));
    let (_, on_demand) = call(
        &fake,
        &token,
        Method::GET,
        "/instance-availability?location_code=FIN-01",
        None,
    )
    .await;
    assert!(
        on_demand[0]["availabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("1H100.80S.30V"))
    );
    let (_, one) = call(
        &fake,
        &token,
        Method::GET,
        "/instance-availability/1H100.80S.30V?isSpot=true&location_code=FIN-01",
        None,
    )
    .await;
    assert_eq!(one, json!(false));

    let (_, locations) = call(&fake, &token, Method::GET, "/locations", None).await;
    assert_eq!(
        locations[3],
        json!({"code": "ICE-01", "name": "Iceland 1", "country_code": "IS"})
    );
    let (_, images) = call(
        &fake,
        &token,
        Method::GET,
        "/images?instance_type=1A100.22V",
        None,
    )
    .await;
    assert_eq!(
        images
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["is_default"] == true)
            .count(),
        1
    );
}

fn create_body(script: Option<&str>, key: &str) -> Value {
    json!({"instance_type": "1A100.22V", "image": "ubuntu-24.04", "hostname": "box",
           "description": "ref-1_cred", "ssh_key_ids": [key], "location_code": "FIN-01",
           "startup_script_id": script, "is_spot": true,
           "os_volume": {"name": "os", "size": 100, "on_spot_discontinue": "delete_permanently"}})
}

#[tokio::test]
async fn instances_go_through_their_states_and_take_their_volumes_with_them() {
    // Steps long enough to see `ordered` on a loaded machine.
    let fake = start_with(Duration::from_millis(300)).await;
    let token = token(&fake).await;
    let (status, key) = call(
        &fake,
        &token,
        Method::POST,
        "/ssh-keys",
        Some(json!({"name": "k", "key": KEY})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let key = key.as_str().unwrap().to_owned();
    let (_, script) = call(
        &fake,
        &token,
        Method::POST,
        "/scripts",
        Some(json!({"name": "s", "script": "#!/bin/sh\ntrue\n"})),
    )
    .await;
    let script = script.as_str().unwrap().to_owned();

    let (status, id) = call(
        &fake,
        &token,
        Method::POST,
        "/instances",
        Some(create_body(Some(&script), &key)),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{id}");
    let id = id.as_str().unwrap().to_owned();
    assert_eq!(fake.state().capacity("FIN-01", "1A100.22V", true), 7);
    let (_, instance) = call(
        &fake,
        &token,
        Method::GET,
        &format!("/instances/{id}"),
        None,
    )
    .await;
    assert_eq!(instance["status"], "ordered");
    assert!(instance["ip"].is_null());
    assert_eq!(instance["is_spot"], true);
    let volume = instance["os_volume_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (_, instance) = call(
        &fake,
        &token,
        Method::GET,
        &format!("/instances/{id}"),
        None,
    )
    .await;
    assert_eq!(instance["status"], "running");
    assert!(instance["ip"].is_string());

    // A start of a running instance fails; a shutdown works.
    let start = json!({"action": "start", "id": [id]});
    let (status, body) = call(
        &fake,
        &token,
        Method::PUT,
        "/instances",
        Some(start.clone()),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some(INVALID_REQUEST))
    );
    let (status, _) = call(
        &fake,
        &token,
        Method::PUT,
        "/instances",
        Some(json!({"action": "shutdown", "id": [id]})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        fake.state().instance(&id).unwrap().status,
        FakeStatus::Offline
    );
    // With two ids, one unknown: 207, each result.
    let (status, results) = call(
        &fake,
        &token,
        Method::PUT,
        "/instances",
        Some(json!({"action": "start", "id": [id, "nope"]})),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(results[0]["status"], "success");
    assert_eq!(
        (
            results[1]["status"].as_str(),
            results[1]["statusCode"].as_u64()
        ),
        (Some("error"), Some(404))
    );

    let delete =
        json!({"action": "delete", "id": [id], "volume_ids": [volume], "delete_permanently": true});
    let (status, _) = call(&fake, &token, Method::PUT, "/instances", Some(delete)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(fake.state().volumes().is_empty() && fake.state().trashed_volumes().is_empty());
    assert_eq!(fake.state().capacity("FIN-01", "1A100.22V", true), 8);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, body) = call(
        &fake,
        &token,
        Method::GET,
        &format!("/instances/{id}"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some(NOT_FOUND))
    );

    for path in [format!("/ssh-keys/{key}"), format!("/scripts/{script}")] {
        assert_eq!(
            call(&fake, &token, Method::DELETE, &path, None).await.0,
            StatusCode::OK
        );
        assert_eq!(
            call(&fake, &token, Method::DELETE, &path, None).await.0,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn a_delete_without_the_volume_leaves_it_detached_and_no_capacity_is_refused() {
    let fake = start().await;
    let token = token(&fake).await;
    let (_, key) = call(
        &fake,
        &token,
        Method::POST,
        "/sshkeys",
        Some(json!({"name": "k", "key": KEY})),
    )
    .await;
    let key = key.as_str().unwrap().to_owned();
    let (_, id) = call(
        &fake,
        &token,
        Method::POST,
        "/instances",
        Some(create_body(None, &key)),
    )
    .await;
    let id = id.as_str().unwrap().to_owned();
    let (status, _) = call(
        &fake,
        &token,
        Method::PUT,
        "/instances",
        Some(json!({"action": "delete", "id": [id]})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let volumes = fake.state().volumes();
    assert_eq!(volumes.len(), 1);
    assert_eq!(volumes[0].instance_id, None, "left behind, detached");

    fake.state().set_capacity("FIN-01", "1A100.22V", true, 0);
    let (status, body) = call(
        &fake,
        &token,
        Method::POST,
        "/instances",
        Some(create_body(None, &key)),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some(INVALID_REQUEST))
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Not enough resources")
    );
    let mut bad = create_body(None, &key);
    bad["os_volume"]["size"] = json!(10);
    let (_, body) = call(&fake, &token, Method::POST, "/instances", Some(bad)).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("os_volume.size")
    );
}

#[tokio::test]
async fn a_committed_create_whose_answer_is_dropped_still_exists() {
    let fake = start().await;
    let token = token(&fake).await;
    let (_, key) = call(
        &fake,
        &token,
        Method::POST,
        "/ssh-keys",
        Some(json!({"name": "k", "key": KEY})),
    )
    .await;
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::CreateInstance,
        times: 1,
    });
    let sent = reqwest::Client::new()
        .post(format!("{}/instances", fake.base_url()))
        .bearer_auth(&token)
        .json(&create_body(None, key.as_str().unwrap()))
        .send()
        .await;
    assert!(sent.is_err(), "the connection closed without an answer");
    assert_eq!(fake.state().instances().len(), 1);
}
