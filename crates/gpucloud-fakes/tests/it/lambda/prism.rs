//! Contract check: every response the fake sends must validate against the Lambda Cloud API
//! 1.10.0 description. Prism (`node_modules/.bin/prism proxy --errors`) sits between the
//! client and the fake and turns any response that breaks the description into a 500.
//!
//! Prism is found as [`crate::prism`] says; the description at `$GPUCLOUD_LAMBDA_SPEC`,
//! else `shared/openapi/` or `openapi/` in this crate's directory or any parent.

use std::path::PathBuf;
use std::time::Duration;

use gpucloud_fakes::lambda::{FakeInstanceStatus, FakeLambda};
use reqwest::{Method, Method as M, StatusCode, StatusCode as S};
use serde_json::{Value, json};

use crate::prism::{Prism, find_up};

const SPEC: &str = "openapi/lambda-cloud-1.10.0.json";

fn spec_path() -> Option<PathBuf> {
    std::env::var_os("GPUCLOUD_LAMBDA_SPEC")
        .map(PathBuf::from)
        .or_else(|| find_up(&format!("shared/{SPEC}")))
        .or_else(|| find_up(SPEC))
        .or_else(|| Some(PathBuf::from("/work/shared").join(SPEC)).filter(|p| p.exists()))
}

/// Polls the fake's state (not through Prism) until the instance has `status`.
async fn wait_status(fake: &FakeLambda, id: &str, status: FakeInstanceStatus) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while fake.state().instance(id).map(|i| i.status) != Some(status) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "instance {id} never reached {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn start_prism(upstream: &str) -> Option<Prism> {
    crate::prism::start(spec_path(), upstream).await
}

struct Via<'a> {
    prism: &'a Prism,
    key: String,
}

impl Via<'_> {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = super::client()
            .request(method.clone(), format!("{}{path}", self.prism.base))
            .bearer_auth(&self.key);
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
            StatusCode::INTERNAL_SERVER_ERROR,
            "{method} {path}: prism reports a contract violation: {text}"
        );
        assert!(
            violations.is_none(),
            "{method} {path}: violations {violations:?}"
        );
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        want: StatusCode,
    ) -> Value {
        let (status, body) = self.send(method.clone(), path, body).await;
        assert_eq!(status, want, "{method} {path}: {body}");
        body
    }
}

#[tokio::test]
async fn every_endpoint_validates_against_the_description() {
    // Phases long enough that a loaded machine sees booting and terminated through Prism.
    let fake =
        gpucloud_fakes::lambda::FakeLambda::start(gpucloud_fakes::lambda::FakeLambdaOptions {
            boot_delay: Duration::from_secs(1),
            terminate_delay: Duration::from_secs(1),
            gone_after: Duration::from_secs(5),
            ..super::fast()
        })
        .await
        .expect("fake starts");
    let Some(prism) = start_prism(&fake.base_url()).await else {
        return;
    };
    let via = Via {
        prism: &prism,
        key: fake.api_key().to_owned(),
    };

    via.expect(M::GET, "/api/v1/instance-types", None, S::OK)
        .await;
    via.expect(M::GET, "/api/v1/regions", None, S::OK).await;
    via.expect(M::GET, "/api/v1/images", None, S::OK).await;
    via.expect(M::GET, "/api/v1/file-systems", None, S::OK)
        .await;

    // SSH keys.
    via.expect(
        M::POST,
        "/api/v1/ssh-keys",
        Some(json!({"name": "k", "public_key": super::PUBLIC_KEY})),
        S::OK,
    )
    .await;
    via.expect(
        M::POST,
        "/api/v1/ssh-keys",
        Some(json!({"name": "k", "public_key": super::PUBLIC_KEY})),
        S::BAD_REQUEST,
    )
    .await;
    let generated = via
        .expect(
            M::POST,
            "/api/v1/ssh-keys",
            Some(json!({"name": "gen"})),
            S::OK,
        )
        .await;
    let generated_id = generated["data"]["id"].as_str().unwrap().to_owned();
    via.expect(M::GET, "/api/v1/ssh-keys", None, S::OK).await;
    via.expect(
        M::DELETE,
        &format!("/api/v1/ssh-keys/{generated_id}"),
        None,
        S::OK,
    )
    .await;
    via.expect(
        M::DELETE,
        "/api/v1/ssh-keys/ffffffffffffffffffffffffffffffff",
        None,
        S::NOT_FOUND,
    )
    .await;

    // Firewall.
    let rule = json!({"protocol": "tcp", "port_range": [22, 22], "source_network": "0.0.0.0/0", "description": "ssh"});
    via.expect(M::GET, "/api/v1/firewall-rules", None, S::OK)
        .await;
    via.expect(
        M::PUT,
        "/api/v1/firewall-rules",
        Some(json!({"data": [rule]})),
        S::OK,
    )
    .await;
    via.expect(M::GET, "/api/v1/firewall-rulesets/global", None, S::OK)
        .await;
    via.expect(
        M::PATCH,
        "/api/v1/firewall-rulesets/global",
        Some(json!({"rules": [rule]})),
        S::OK,
    )
    .await;
    let ruleset = via
        .expect(
            M::POST,
            "/api/v1/firewall-rulesets",
            Some(json!({"name": "web", "region": "us-west-1", "rules": [rule]})),
            S::OK,
        )
        .await;
    let ruleset_id = ruleset["data"]["id"].as_str().unwrap().to_owned();
    via.expect(M::GET, "/api/v1/firewall-rulesets", None, S::OK)
        .await;
    via.expect(
        M::GET,
        &format!("/api/v1/firewall-rulesets/{ruleset_id}"),
        None,
        S::OK,
    )
    .await;
    via.expect(
        M::PATCH,
        &format!("/api/v1/firewall-rulesets/{ruleset_id}"),
        Some(json!({"name": "web2"})),
        S::OK,
    )
    .await;
    via.expect(
        M::GET,
        "/api/v1/firewall-rulesets/ffffffffffffffffffffffffffffffff",
        None,
        S::NOT_FOUND,
    )
    .await;

    // Launch: success and each documented failure.
    let launch = json!({"region_name": "us-west-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["k"],
        "name": "contract", "hostname": "node1", "tags": [{"key": "team", "value": "ml"}],
        "firewall_rulesets": [{"id": ruleset_id}], "image": {"family": "lambda-stack-22-04"}, "user_data": "#cloud-config\n"});
    let launched = via
        .expect(
            M::POST,
            "/api/v1/instance-operations/launch",
            Some(launch.clone()),
            S::OK,
        )
        .await;
    let id = launched["data"]["instance_ids"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let mut unknown_type = launch.clone();
    unknown_type["instance_type_name"] = json!("gpu_99x");
    via.expect(
        M::POST,
        "/api/v1/instance-operations/launch",
        Some(unknown_type),
        S::BAD_REQUEST,
    )
    .await;
    let mut unknown_key = launch.clone();
    unknown_key["ssh_key_names"] = json!(["missing"]);
    via.expect(
        M::POST,
        "/api/v1/instance-operations/launch",
        Some(unknown_key),
        S::NOT_FOUND,
    )
    .await;
    // Booting, then active.
    via.expect(M::GET, &format!("/api/v1/instances/{id}"), None, S::OK)
        .await;
    via.expect(M::GET, "/api/v1/instances", None, S::OK).await;
    wait_status(&fake, &id, FakeInstanceStatus::Active).await;
    via.expect(M::GET, &format!("/api/v1/instances/{id}"), None, S::OK)
        .await;
    via.expect(
        M::POST,
        &format!("/api/v1/instances/{id}"),
        Some(json!({"name": "renamed"})),
        S::OK,
    )
    .await;
    via.expect(M::GET, "/api/v1/instances?cluster_id=abc", None, S::OK)
        .await;
    via.expect(
        M::GET,
        "/api/v1/instances/ffffffffffffffffffffffffffffffff",
        None,
        S::NOT_FOUND,
    )
    .await;
    via.expect(
        M::DELETE,
        &format!("/api/v1/firewall-rulesets/{ruleset_id}"),
        None,
        S::BAD_REQUEST,
    )
    .await;
    via.expect(
        M::POST,
        "/api/v1/instance-operations/restart",
        Some(json!({"instance_ids": [id]})),
        S::OK,
    )
    .await;
    via.expect(
        M::POST,
        "/api/v1/instance-operations/restart",
        Some(json!({"instance_ids": [id]})),
        S::CONFLICT,
    )
    .await;
    via.expect(
        M::POST,
        "/api/v1/instance-operations/terminate",
        Some(json!({"instance_ids": [id]})),
        S::OK,
    )
    .await;
    via.expect(
        M::POST,
        "/api/v1/instance-operations/terminate",
        Some(json!({"instance_ids": ["ffffffffffffffffffffffffffffffff"]})),
        S::NOT_FOUND,
    )
    .await;
    wait_status(&fake, &id, FakeInstanceStatus::Terminated).await;
    via.expect(M::GET, &format!("/api/v1/instances/{id}"), None, S::OK)
        .await;
    via.expect(
        M::DELETE,
        &format!("/api/v1/firewall-rulesets/{ruleset_id}"),
        None,
        S::OK,
    )
    .await;

    // Capacity error.
    fake.state().clear_capacity();
    via.expect(
        M::POST,
        "/api/v1/instance-operations/launch",
        Some(json!({"region_name": "us-west-1",
        "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["k"]})),
        S::BAD_REQUEST,
    )
    .await;

    // Many instances in one list.
    fake.state()
        .seed_instances(50, "us-east-1", "gpu_8x_h100_sxm5")
        .unwrap();
    via.expect(M::GET, "/api/v1/instances", None, S::OK).await;

    // Authentication failure (prism itself answers 401 for a missing header; a wrong key
    // reaches the fake).
    let wrong = Via {
        prism: &prism,
        key: "wrong".to_owned(),
    };
    wrong
        .expect(M::GET, "/api/v1/instances", None, S::UNAUTHORIZED)
        .await;
}
