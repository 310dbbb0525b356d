//! Tests of the fake Lambda Cloud API.

mod auth;
mod catalog;
mod faults;
mod firewall;
mod instances;
mod prism;
mod rate_limits;
mod server;
mod ssh_keys;

use std::time::Duration;

use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Options with short lifecycle delays.
pub fn fast() -> FakeLambdaOptions {
    FakeLambdaOptions {
        boot_delay: Duration::from_millis(200),
        terminate_delay: Duration::from_millis(150),
        gone_after: Duration::from_millis(200),
        ..FakeLambdaOptions::default()
    }
}

pub async fn start() -> FakeLambda {
    FakeLambda::start(fast()).await.expect("fake starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client builds")
}

/// Sends an authenticated (Bearer) request and returns the status, headers and JSON body
/// (`Value::Null` when the body is not JSON).
pub async fn call_raw(
    fake: &FakeLambda,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Result<(StatusCode, reqwest::header::HeaderMap, Value)> {
    let mut request = client()
        .request(method, format!("{}{path}", fake.base_url()))
        .bearer_auth(fake.api_key());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await?;
    Ok((
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    ))
}

pub async fn call(
    fake: &FakeLambda,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, _, body) = call_raw(fake, method, path, body)
        .await
        .expect("request completes");
    (status, body)
}

pub async fn get(fake: &FakeLambda, path: &str) -> (StatusCode, Value) {
    call(fake, Method::GET, path, None).await
}

pub async fn post(fake: &FakeLambda, path: &str, body: Value) -> (StatusCode, Value) {
    call(fake, Method::POST, path, Some(body)).await
}

/// The error code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no code>")
}

pub const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T test";

/// Adds an SSH key through the API and returns its name.
pub async fn add_key(fake: &FakeLambda, name: &str) -> String {
    let (status, body) = post(
        fake,
        "/api/v1/ssh-keys",
        serde_json::json!({"name": name, "public_key": PUBLIC_KEY}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    name.to_owned()
}

/// Launches one instance and returns its id.
pub async fn launch(fake: &FakeLambda, region: &str, instance_type: &str) -> String {
    let key = format!("key-{}", fake.state().ssh_keys().len());
    add_key(fake, &key).await;
    let (status, body) = post(
        fake,
        "/api/v1/instance-operations/launch",
        serde_json::json!({
            "region_name": region,
            "instance_type_name": instance_type,
            "ssh_key_names": [key],
            "name": "test-instance",
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["instance_ids"][0]
        .as_str()
        .expect("one instance id")
        .to_owned()
}

/// Options whose ending phases (terminating, terminated) each last a second, long enough to
/// observe on a loaded machine.
pub fn slow_ending() -> FakeLambdaOptions {
    FakeLambdaOptions {
        terminate_delay: Duration::from_secs(1),
        gone_after: Duration::from_secs(1),
        ..fast()
    }
}

/// Polls `GET /api/v1/instances/{id}` until its status is `status`, or until it is 404 when
/// `status` is `None` (panics after 10 s).
pub async fn wait_status(fake: &FakeLambda, id: &str, status: Option<&str>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = get(fake, &format!("/api/v1/instances/{id}")).await;
        let reached = match status {
            Some(want) => code == StatusCode::OK && body["data"]["status"] == want,
            None => code == StatusCode::NOT_FOUND,
        };
        if reached {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "instance {id} never reached {status:?}: {code} {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
