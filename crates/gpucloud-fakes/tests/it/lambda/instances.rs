//! Launch, lifecycle, terminate, restart, rename and request validation.

use std::time::Duration;

use gpucloud_fakes::lambda::{FakeInstanceStatus, FakeLambda, FakeTag};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{add_key, call, code, get, launch, post, start};

const LAUNCH: &str = "/api/v1/instance-operations/launch";
const TERMINATE: &str = "/api/v1/instance-operations/terminate";
const RESTART: &str = "/api/v1/instance-operations/restart";

#[tokio::test]
async fn launch_boots_then_becomes_active_with_network_details() {
    let fake = start().await;
    add_key(&fake, "my-key").await;
    let before = fake.state().capacity("us-west-1", "gpu_1x_a10");
    let (status, body) = post(
        &fake,
        LAUNCH,
        json!({
            "region_name": "us-west-1",
            "instance_type_name": "gpu_1x_a10",
            "ssh_key_names": ["my-key"],
            "name": "trainer",
            "hostname": "headnode1",
            "user_data": "#cloud-config\n",
            "tags": [{"key": "team", "value": "ml"}],
            "image": {"family": "lambda-stack-22-04"},
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["data"]["instance_ids"][0].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(fake.state().capacity("us-west-1", "gpu_1x_a10"), before - 1);

    let (status, body) = get(&fake, &format!("/api/v1/instances/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let instance = &body["data"];
    assert_eq!(instance["status"], "booting");
    assert!(instance.get("ip").is_none());
    assert_eq!(instance["name"], "trainer");
    assert_eq!(instance["region"]["name"], "us-west-1");
    assert_eq!(instance["instance_type"]["name"], "gpu_1x_a10");
    assert_eq!(instance["ssh_key_names"], json!(["my-key"]));
    assert_eq!(instance["tags"], json!([{"key": "team", "value": "ml"}]));
    assert_eq!(instance["actions"]["terminate"]["available"], true);

    tokio::time::sleep(Duration::from_millis(250)).await;
    let (_, body) = get(&fake, &format!("/api/v1/instances/{id}")).await;
    let instance = &body["data"];
    assert_eq!(instance["status"], "active");
    assert!(instance["ip"].as_str().unwrap().starts_with("198.1"));
    assert!(instance["private_ip"].as_str().unwrap().starts_with("10."));
    assert_eq!(instance["hostname"], "headnode1");
    assert!(instance["jupyter_token"].is_string());
    assert!(instance["jupyter_url"].is_string());
    assert_eq!(instance["actions"]["restart"]["available"], true);

    let seen = fake.state().instance(&id).unwrap();
    assert_eq!(seen.status, FakeInstanceStatus::Active);
    assert_eq!(seen.user_data.as_deref(), Some("#cloud-config\n"));
    assert_eq!(seen.hostname.as_deref(), Some("headnode1"));
    assert_eq!(
        seen.tags,
        vec![FakeTag {
            key: "team".to_owned(),
            value: "ml".to_owned()
        }]
    );
    let (_, body) = get(&fake, "/api/v1/instances").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn unknown_region_or_type_is_invalid_parameters() {
    let fake = start().await;
    add_key(&fake, "k").await;
    for (region, instance_type) in [("mars-1", "gpu_1x_a10"), ("us-west-1", "gpu_99x_z")] {
        let (status, body) = post(
            &fake,
            LAUNCH,
            json!({"region_name": region, "instance_type_name": instance_type, "ssh_key_names": ["k"]}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(code(&body), "global/invalid-parameters");
    }
    assert!(fake.state().instances().is_empty());
}

#[tokio::test]
async fn no_capacity_is_insufficient_capacity() {
    let fake = start().await;
    add_key(&fake, "k").await;
    fake.state()
        .set_capacity("us-east-1", "gpu_8x_h100_sxm5", 1);
    let body = json!({"region_name": "us-east-1", "instance_type_name": "gpu_8x_h100_sxm5", "ssh_key_names": ["k"]});
    let (status, _) = post(&fake, LAUNCH, body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, response) = post(&fake, LAUNCH, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        code(&response),
        "instance-operations/launch/insufficient-capacity"
    );
    // Regions outside the default set have no capacity.
    let (status, response) = post(
        &fake,
        LAUNCH,
        json!({"region_name": "me-west-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["k"]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        code(&response),
        "instance-operations/launch/insufficient-capacity"
    );
    assert_eq!(fake.state().instances().len(), 1);
}

#[tokio::test]
async fn launch_validates_keys_and_fields() {
    let fake = start().await;
    add_key(&fake, "k").await;
    let base = json!({"region_name": "us-west-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["k"]});
    let with = |field: &str, value: serde_json::Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    let (status, body) = post(&fake, LAUNCH, with("ssh_key_names", json!(["missing"]))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&body), "global/object-does-not-exist");
    assert!(body["error"]["suggestion"].is_string());
    for (field, value) in [
        ("ssh_key_names", json!([])),
        ("ssh_key_names", json!(["k", "k"])),
        ("ssh_key_names", json!("k")),
        ("name", json!("x".repeat(65))),
        ("hostname", json!("Bad_Host")),
        ("tags", json!([{"key": "Upper", "value": "v"}])),
        ("image", json!({"id": "a", "family": "b"})),
        ("region_name", json!(7)),
    ] {
        let (status, body) = post(&fake, LAUNCH, with(field, value.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}={value}: {body}");
        assert_eq!(code(&body), "global/invalid-parameters");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{body}"
        );
    }
    let (status, body) = post(
        &fake,
        LAUNCH,
        with("image", json!({"family": "windows-95"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = post(&fake, LAUNCH, with("file_system_names", json!(["fs"]))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = post(
        &fake,
        LAUNCH,
        with("firewall_rulesets", json!([{"id": "nope"}])),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // arm64 image on an x86_64 type.
    let (status, body) = post(
        &fake,
        LAUNCH,
        with("image", json!({"family": "lambda-stack-22-04-arm64"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(fake.state().instances().is_empty());
}

#[tokio::test]
async fn malformed_bodies_never_panic() {
    let fake = start().await;
    for path in [
        LAUNCH,
        TERMINATE,
        RESTART,
        "/api/v1/ssh-keys",
        "/api/v1/firewall-rulesets",
    ] {
        for raw in [
            "",
            "{",
            "null",
            "[]",
            "\"x\"",
            "{\"instance_ids\": [1]}",
            "\u{0}",
        ] {
            let response = super::client()
                .post(format!("{}{path}", fake.base_url()))
                .bearer_auth(fake.api_key())
                .header("content-type", "application/json")
                .body(raw)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path} {raw:?}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(code(&body), "global/invalid-parameters");
        }
    }
}

#[tokio::test]
async fn bad_path_parameters_and_huge_bodies_get_lambda_errors() {
    let fake = start().await;
    let (status, body) = get(&fake, "/api/v1/instances/%FF").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "global/invalid-parameters");
    let huge = format!(
        "{{\"instance_ids\": [\"{}\"]}}",
        "a".repeat(3 * 1024 * 1024)
    );
    let response = super::client()
        .post(format!("{}{TERMINATE}", fake.base_url()))
        .bearer_auth(fake.api_key())
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(code(&body), "global/invalid-parameters");
}

#[tokio::test]
async fn terminate_goes_terminating_terminated_then_gone() {
    let fake = FakeLambda::start(super::slow_ending())
        .await
        .expect("fake starts");
    let id = launch(&fake, "us-west-1", "gpu_1x_a10").await;
    let capacity = fake.state().capacity("us-west-1", "gpu_1x_a10");
    let (status, body) = post(&fake, TERMINATE, json!({"instance_ids": [id]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["terminated_instances"][0]["id"], id.as_str());
    assert_eq!(
        body["data"]["terminated_instances"][0]["status"],
        "terminating"
    );
    assert_eq!(
        fake.state().capacity("us-west-1", "gpu_1x_a10"),
        capacity + 1
    );

    // Terminating again while terminating is accepted and changes nothing.
    let (status, _) = post(&fake, TERMINATE, json!({"instance_ids": [id]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        fake.state().capacity("us-west-1", "gpu_1x_a10"),
        capacity + 1
    );

    super::wait_status(&fake, &id, Some("terminated")).await;
    let (status, body) = post(&fake, TERMINATE, json!({"instance_ids": [id]})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&body), "global/object-does-not-exist");

    super::wait_status(&fake, &id, None).await;
    let (status, body) = get(&fake, &format!("/api/v1/instances/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&body), "global/object-does-not-exist");
    let (_, body) = get(&fake, "/api/v1/instances").await;
    assert_eq!(body["data"], json!([]));
    assert!(fake.state().instances().is_empty());
}

#[tokio::test]
async fn terminate_unknown_id_is_404_and_changes_nothing() {
    let fake = start().await;
    let id = launch(&fake, "us-west-1", "gpu_1x_a10").await;
    let (status, body) = post(
        &fake,
        TERMINATE,
        json!({"instance_ids": [id, "0123456789abcdef0123456789abcdef"]}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&body), "global/object-does-not-exist");
    assert_eq!(
        fake.state().instance(&id).unwrap().status,
        FakeInstanceStatus::Booting
    );
    let (status, body) = post(&fake, TERMINATE, json!({"instance_ids": []})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "global/invalid-parameters");
}

#[tokio::test]
async fn restart_respects_states() {
    let fake = start().await;
    let id = launch(&fake, "us-west-1", "gpu_1x_a10").await;
    let (status, body) = post(&fake, RESTART, json!({"instance_ids": [id]})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "booting instances cannot restart"
    );
    assert_eq!(code(&body), "global/conflict");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (status, body) = post(&fake, RESTART, json!({"instance_ids": [id]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["restarted_instances"][0]["status"], "booting");
    // The address stays while rebooting.
    assert!(body["data"]["restarted_instances"][0]["ip"].is_string());
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        fake.state().instance(&id).unwrap().status,
        FakeInstanceStatus::Active
    );
    let (status, _) = post(
        &fake,
        RESTART,
        json!({"instance_ids": ["ffffffffffffffffffffffffffffffff"]}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rename_updates_the_name_only() {
    let fake = start().await;
    let id = launch(&fake, "us-west-1", "gpu_1x_a10").await;
    let (status, body) = post(
        &fake,
        &format!("/api/v1/instances/{id}"),
        json!({"name": "renamed"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["name"], "renamed");
    assert_eq!(
        fake.state().instance(&id).unwrap().name.as_deref(),
        Some("renamed")
    );
    let (status, _) = post(&fake, "/api/v1/instances/nope", json!({"name": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post(
        &fake,
        &format!("/api/v1/instances/{id}"),
        json!({"name": 5}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn seeded_instances_list_and_cluster_filter() {
    let fake = start().await;
    let ids = fake
        .state()
        .seed_instances(1000, "us-east-1", "gpu_8x_h100_sxm5")
        .unwrap();
    assert_eq!(ids.len(), 1000);
    let (status, body) = get(&fake, "/api/v1/instances").await;
    assert_eq!(status, StatusCode::OK);
    let list = body["data"].as_array().unwrap();
    assert_eq!(list.len(), 1000);
    assert!(list.iter().all(|i| i["status"] == "active"));
    let unique_ips: std::collections::HashSet<_> =
        list.iter().map(|i| i["ip"].as_str().unwrap()).collect();
    assert_eq!(unique_ips.len(), 1000);
    let (_, body) = call(&fake, Method::GET, "/api/v1/instances?cluster_id=abc", None).await;
    assert_eq!(body["data"], json!([]));
    assert!(
        fake.state()
            .seed_instances(1, "nowhere", "gpu_1x_a10")
            .is_none()
    );
}

#[tokio::test]
async fn test_controls_pin_status_and_remove() {
    let fake = start().await;
    let ids = fake
        .state()
        .seed_instances(2, "us-west-1", "gpu_1x_a10")
        .unwrap();
    assert!(
        fake.state()
            .set_instance_status(&ids[0], FakeInstanceStatus::Unhealthy)
    );
    let (_, body) = get(&fake, &format!("/api/v1/instances/{}", ids[0])).await;
    assert_eq!(body["data"]["status"], "unhealthy");
    assert!(fake.state().remove_instance(&ids[1]));
    assert!(!fake.state().remove_instance(&ids[1]));
    let (status, _) = get(&fake, &format!("/api/v1/instances/{}", ids[1])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
