//! Contract check: every operation the fake serves, through `prism proxy --errors` with the
//! cleaned description (`openapi/fluidstack-v1alpha1.yaml`, made by
//! `scripts/clean-fluidstack-openapi.sh`). Prism turns any response that breaks the
//! description into a 500 and lists violations in `sl-violations`.

use std::path::PathBuf;
use std::time::Duration;

use gpucloud_fakes::fluidstack::{FakeFluidstack, FakeFluidstackOptions};
use reqwest::{Method as M, StatusCode as S};
use serde_json::{Value, json};

use crate::prism::find_up;

fn spec_path() -> Option<PathBuf> {
    std::env::var_os("GPUCLOUD_FLUIDSTACK_SPEC")
        .map(PathBuf::from)
        .or_else(|| find_up("openapi/fluidstack-v1alpha1.yaml"))
}

async fn expect(
    prism: &crate::prism::Prism,
    fake: &FakeFluidstack,
    method: M,
    path: &str,
    body: Option<Value>,
    want: S,
) -> Value {
    let mut request = super::client()
        .request(method.clone(), format!("{}{path}", prism.base))
        .bearer_auth(fake.api_key())
        .header("X-PROJECT-ID", fake.project_id().to_string());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("prism answers");
    let status = response.status();
    let violations = response
        .headers()
        .get("sl-violations")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let text = response.text().await.unwrap_or_default();
    assert_ne!(
        status,
        S::INTERNAL_SERVER_ERROR,
        "{method} {path}: prism reports a violation: {text}"
    );
    assert!(
        violations.is_none(),
        "{method} {path}: violations {violations:?}"
    );
    assert_eq!(status, want, "{method} {path}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[tokio::test]
async fn every_operation_validates_against_the_description() {
    let fake = FakeFluidstack::start(FakeFluidstackOptions {
        create_delay: Duration::from_millis(300),
        start_delay: Duration::from_millis(300),
        stop_delay: Duration::from_millis(300),
        delete_delay: Duration::from_millis(300),
        ..FakeFluidstackOptions::default()
    })
    .await
    .unwrap();
    let region = super::region(&fake);
    let Some(prism) = crate::prism::start(spec_path(), &fake.base_url(&region)).await else {
        return;
    };
    let go = |method, path: &str, body, want| {
        let path = path.to_owned();
        let (prism, fake) = (&prism, &fake);
        async move { expect(prism, fake, method, &path, body, want).await }
    };

    go(M::GET, "/instance-types", None, S::OK).await;
    go(M::GET, "/capacity", None, S::OK).await;
    go(M::GET, "/capabilities", None, S::OK).await;
    go(M::GET, "/projects", None, S::OK).await;
    let project = go(
        M::POST,
        "/projects",
        Some(json!({"name": "p2", "tags": {"team": "ml"}})),
        S::CREATED,
    )
    .await;
    let project_id = project["id"].as_str().unwrap().to_owned();
    go(M::GET, &format!("/projects/{project_id}"), None, S::OK).await;
    go(
        M::DELETE,
        &format!("/projects/{project_id}"),
        None,
        S::NO_CONTENT,
    )
    .await;
    go(
        M::GET,
        &format!("/projects/{project_id}"),
        None,
        S::NOT_FOUND,
    )
    .await;

    go(M::GET, "/instances", None, S::OK).await;
    let created = go(
        M::POST,
        "/instances",
        Some(
            json!({"name": "c1", "type": "h100-hgx-80gb.8x", "userData": "I2Nsb3VkLWNvbmZpZwo=",
                    "tags": {"gpucloud.ref-id": "x"}, "preemptible": false}),
        ),
        S::CREATED,
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    go(M::GET, &format!("/instances/{id}"), None, S::OK).await;
    go(
        M::POST,
        &format!("/instances/{id}/actions/start"),
        None,
        S::CONFLICT,
    )
    .await;
    super::wait_state(&super::Call::to(&fake, &region), &id, "running").await;
    go(M::GET, "/instances", None, S::OK).await;
    go(
        M::POST,
        &format!("/instances/{id}/actions/stop"),
        None,
        S::ACCEPTED,
    )
    .await;
    super::wait_state(&super::Call::to(&fake, &region), &id, "stopped").await;
    go(
        M::POST,
        &format!("/instances/{id}/actions/start"),
        None,
        S::ACCEPTED,
    )
    .await;
    go(
        M::POST,
        "/instances",
        Some(json!({"name": "c2", "type": "no-such-type"})),
        S::BAD_REQUEST,
    )
    .await;
    go(M::DELETE, &format!("/instances/{id}"), None, S::NO_CONTENT).await;
    super::wait_gone(&super::Call::to(&fake, &region), &id).await;
    go(M::GET, &format!("/instances/{id}"), None, S::NOT_FOUND).await;
    go(M::DELETE, &format!("/instances/{id}"), None, S::NOT_FOUND).await;

    // Out of stock.
    fake.state().clear_capacity();
    let out = go(
        M::POST,
        "/instances",
        Some(json!({"name": "c3", "type": "cpu.32x"})),
        S::CREATED,
    )
    .await;
    let out_id = out["id"].as_str().unwrap().to_owned();
    super::wait_state(&super::Call::to(&fake, &region), &out_id, "out-of-stock").await;
    go(M::GET, &format!("/instances/{out_id}"), None, S::OK).await;

    // An unknown project reaches the fake (Prism only checks the header's format).
    let response = super::client()
        .get(format!("{}/instances", prism.base))
        .bearer_auth(fake.api_key())
        .header("X-PROJECT-ID", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), S::FORBIDDEN);
}
