//! Instance lifecycle, actions, errors and defaults.

use base64::Engine as _;
use gpucloud_fakes::fluidstack::{DEFAULT_IMAGE, FakeInstanceState};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{Call, create, message, region, start, wait_gone, wait_state};

#[tokio::test]
async fn create_runs_after_the_delay_with_an_address_then_lists() {
    let fake = start().await;
    let call = Call::to(&fake, &region(&fake));
    let user_data = base64::engine::general_purpose::STANDARD.encode("#cloud-config\n");
    let (status, created) = call
        .post(
            "/instances",
            json!({"name": "train-1", "type": "h100-hgx-80gb.8x", "userData": user_data,
                   "preemptible": true, "tags": {"gpucloud.ref-id": "r1"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["state"], "creating");
    assert_eq!(created["ip"], json!(null));
    assert_eq!(created["name"], "train-1");
    assert_eq!(created["type"], "h100-hgx-80gb.8x");
    assert_eq!(created["image"], DEFAULT_IMAGE);
    assert_eq!(created["preemptible"], true);
    assert_eq!(created["ephemeral"], false);
    assert_eq!(created["userData"], user_data.as_str());
    assert_eq!(created["filesystems"], json!([]));
    assert_eq!(created["tags"], json!({"gpucloud.ref-id": "r1"}));
    let id = created["id"].as_str().unwrap().to_owned();

    let running = wait_state(&call, &id, "running").await;
    let ip: std::net::Ipv4Addr = running["ip"].as_str().unwrap().parse().unwrap();
    assert!(ip.is_private(), "{ip}");
    let (status, listed) = call.get("/instances").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed, json!([running]));
    assert_eq!(fake.state().instances().len(), 1);
}

#[tokio::test]
async fn stop_and_start_go_through_their_states_and_conflict_otherwise() {
    let fake = start().await;
    let call = Call::to(&fake, &region(&fake));
    let id = create(&call, "l40s-48gb.4x").await;
    let stop = format!("/instances/{id}/actions/stop");
    let start_path = format!("/instances/{id}/actions/start");

    // While creating, neither action applies.
    let (status, body) = call.post(&stop, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(message(&body).contains("creating"), "{body}");
    wait_state(&call, &id, "running").await;
    let (status, body) = call.post(&start_path, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message(&body).contains("running"), "{body}");

    let (status, _) = call.send(Method::POST, &stop, None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, body) = call.get(&format!("/instances/{id}")).await;
    assert_eq!(body["state"], "stopping");
    let (status, _) = call.send(Method::POST, &stop, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "stop while stopping");
    let stopped = wait_state(&call, &id, "stopped").await;
    assert!(
        stopped["ip"].is_string(),
        "a stopped instance keeps its address"
    );

    let (status, _) = call.send(Method::POST, &start_path, None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, body) = call.get(&format!("/instances/{id}")).await;
    assert_eq!(body["state"], "starting");
    wait_state(&call, &id, "running").await;

    let unknown = uuid::Uuid::new_v4();
    let (status, body) = call
        .send(
            Method::POST,
            &format!("/instances/{unknown}/actions/stop"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message(&body).contains(&unknown.to_string()), "{body}");
}

#[tokio::test]
async fn delete_goes_deleting_then_gone_and_returns_capacity() {
    let fake = start().await;
    let r = region(&fake);
    let call = Call::to(&fake, &r);
    let t = "a100-sxm-80gb.8x";
    let before = fake.state().capacity(&r, t);
    let id = create(&call, t).await;
    assert_eq!(fake.state().capacity(&r, t), before - 1);
    let path = format!("/instances/{id}");
    let (status, _) = call.send(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(fake.state().capacity(&r, t), before);
    let (_, body) = call.get(&path).await;
    assert_eq!(body["state"], "deleting");
    // Deleting again while deleting is accepted and gives nothing back twice.
    let (status, _) = call.send(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(fake.state().capacity(&r, t), before);
    let (status, _) = call.post(&format!("{path}/actions/stop"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    wait_gone(&call, &id).await;
    let (status, body) = call.send(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message(&body).contains(&id), "{body}");
    let (_, listed) = call.get("/instances").await;
    assert_eq!(listed, json!([]));
    assert!(fake.state().instances().is_empty(), "no stray instance");
    let (status, _) = call.get("/instances/not-a-uuid").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn no_capacity_ends_out_of_stock_without_an_address() {
    let fake = start().await;
    let r = region(&fake);
    let call = Call::to(&fake, &r);
    fake.state().set_capacity(&r, "h100-hgx-80gb.4x", 1);
    let first = create(&call, "h100-hgx-80gb.4x").await;
    let second = create(&call, "h100-hgx-80gb.4x").await;
    wait_state(&call, &first, "running").await;
    let out = wait_state(&call, &second, "out-of-stock").await;
    assert_eq!(out["ip"], json!(null));
    let (status, _) = call
        .post(&format!("/instances/{second}/actions/start"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = call
        .send(Method::DELETE, &format!("/instances/{second}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        fake.state().capacity(&r, "h100-hgx-80gb.4x"),
        0,
        "out-of-stock held none"
    );
    wait_gone(&call, &second).await;
}

#[tokio::test]
async fn bad_create_bodies_are_400_naming_the_field_and_create_nothing() {
    let fake = start().await;
    let call = Call::to(&fake, &region(&fake));
    for (body, field) in [
        (json!({"type": "h100-hgx-80gb.8x"}), "name"),
        (json!({"name": "a"}), "type"),
        (json!({"name": "", "type": "h100-hgx-80gb.8x"}), "name"),
        (json!({"name": "a", "type": "h100-hgx-80gb.16x"}), "type"),
        (
            json!({"name": "a", "type": "h100-hgx-80gb.8x", "userData": "not base64!"}),
            "userData",
        ),
        (
            json!({"name": "a", "type": "h100-hgx-80gb.8x", "tags": {"bad key": "v"}}),
            "tags",
        ),
        (
            json!({"name": "a", "type": "h100-hgx-80gb.8x", "tags": {"k": 1}}),
            "invalid type",
        ),
        (
            json!({"name": "a", "type": "h100-hgx-80gb.8x", "filesystems": ["x"]}),
            "UUID",
        ),
        (
            json!({"name": "a", "type": "h100-hgx-80gb.8x", "preemptible": "yes"}),
            "invalid type",
        ),
        (
            json!({"name": "a", "type": "h100-hgx-80gb.8x", "image": ""}),
            "image",
        ),
        (json!([1, 2]), "invalid type"),
    ] {
        let (status, reply) = call.post("/instances", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
        assert!(message(&reply).contains(field), "{body}: {reply}");
    }
    let response = super::client()
        .post(format!("{}/instances", call.base))
        .bearer_auth(fake.api_key())
        .header("X-PROJECT-ID", fake.project_id().to_string())
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(fake.state().instances().is_empty());
}

#[tokio::test]
async fn a_test_can_pin_a_state_and_remove_an_instance() {
    let fake = start().await;
    let call = Call::to(&fake, &region(&fake));
    let id = create(&call, "cpu.32x").await;
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    assert!(
        fake.state()
            .set_instance_state(uuid, FakeInstanceState::Error)
    );
    let (_, body) = call.get(&format!("/instances/{id}")).await;
    assert_eq!(body["state"], "error");
    assert_eq!(
        fake.state().instance(uuid).unwrap().state,
        FakeInstanceState::Error
    );
    assert!(fake.state().remove_instance(uuid));
    assert!(!fake.state().remove_instance(uuid));
    assert!(
        !fake
            .state()
            .set_instance_state(uuid, FakeInstanceState::Running)
    );
    let (status, _) = call.get(&format!("/instances/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn frozen_lists_answer_what_was_there_until_thawed() {
    let fake = start().await;
    let r = region(&fake);
    let call = Call::to(&fake, &r);
    let tags = std::collections::BTreeMap::new();
    let ids = |body: &serde_json::Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let seeded = fake
        .state()
        .seed_instances(2, &r, "cpu.32x", &tags, Some("dQ=="))
        .unwrap();
    let (_, before) = call.get("/instances").await;
    fake.state().freeze_instance_lists();
    fake.state()
        .seed_instances(1, &r, "cpu.32x", &tags, None)
        .unwrap();
    let (status, frozen) = call.get("/instances").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(frozen, before, "the same JSON as when frozen");
    assert_eq!(ids(&frozen).len(), seeded.len());
    fake.state().thaw_instance_lists();
    let (_, thawed) = call.get("/instances").await;
    assert_eq!(ids(&thawed).len(), 3);
}
