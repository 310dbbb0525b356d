//! Tests of the fake Fluidstack Infrastructure API.

mod catalog;
mod faults;
mod instances;
mod prism;
mod projects;

use std::time::Duration;

use gpucloud_fakes::fluidstack::{FakeFluidstack, FakeFluidstackOptions};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Transitions slow enough to see the intermediate state on a loaded machine.
pub fn options() -> FakeFluidstackOptions {
    let delay = Duration::from_secs(1);
    FakeFluidstackOptions {
        create_delay: delay,
        start_delay: delay,
        stop_delay: delay,
        delete_delay: delay,
        ..FakeFluidstackOptions::default()
    }
}

pub async fn start() -> FakeFluidstack {
    FakeFluidstack::start(options()).await.expect("fake starts")
}

/// The first region the fake serves.
pub fn region(fake: &FakeFluidstack) -> String {
    fake.regions()[0].clone()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client builds")
}

/// A request to `path` under `base` with the fake's bearer token and, if given, the
/// project header.
pub struct Call<'a> {
    pub base: String,
    pub key: &'a str,
    pub project: Option<String>,
}

impl<'a> Call<'a> {
    /// Calls region `region` of `fake` as its default project.
    pub fn to(fake: &'a FakeFluidstack, region: &str) -> Self {
        Call {
            base: fake.base_url(region),
            key: fake.api_key(),
            project: Some(fake.project_id().to_string()),
        }
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Result<(StatusCode, reqwest::header::HeaderMap, Value)> {
        let mut request = client()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.key);
        if let Some(project) = &self.project {
            request = request.header("X-PROJECT-ID", project);
        }
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

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, body) = self
            .raw(method, path, body)
            .await
            .expect("request completes");
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }
}

/// The error message of a `{"message"}` body.
pub fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or("<no message>")
}

/// Creates an instance of `instance_type` and returns its id.
pub async fn create(call: &Call<'_>, instance_type: &str) -> String {
    let (status, body) = call
        .post(
            "/instances",
            serde_json::json!({"name": "test-instance", "type": instance_type}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("an id").to_owned()
}

/// Polls the instance until it is in `state` (or panics after 10 s).
pub async fn wait_state(call: &Call<'_>, id: &str, state: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = call.get(&format!("/instances/{id}")).await;
        if status == StatusCode::OK && body["state"] == state {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "instance {id} never reached {state}: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls until the instance is gone (404).
pub async fn wait_gone(call: &Call<'_>, id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = call.get(&format!("/instances/{id}")).await;
        if status == StatusCode::NOT_FOUND {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "instance {id} never went away: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
