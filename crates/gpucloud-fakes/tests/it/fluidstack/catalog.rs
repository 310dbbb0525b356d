//! Instance types, capacity and capabilities.

use gpucloud_fakes::fluidstack::CAPABILITIES;
use gpucloud_fakes::fluidstack::catalog::INSTANCE_TYPES;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Call, create, region, start};

#[tokio::test]
async fn instance_types_have_the_description_shape() {
    let fake = start().await;
    let (status, body) = Call::to(&fake, &region(&fake)).get("/instance-types").await;
    assert_eq!(status, StatusCode::OK);
    let types = body.as_array().unwrap();
    assert_eq!(types.len(), INSTANCE_TYPES.len());
    let h100 = types
        .iter()
        .find(|t| t["name"] == "h100-hgx-80gb.8x")
        .expect("the description's example type");
    assert_eq!(
        *h100,
        json!({"name": "h100-hgx-80gb.8x", "cpu": 96, "memory": "960Gi",
               "gpuModel": "GH100_H100_SXM5_80GB", "gpuCount": 8})
    );
    let cpu_only = types
        .iter()
        .find(|t| t.get("gpuModel").is_none())
        .expect("a CPU type");
    assert!(cpu_only.get("gpuCount").is_none(), "{cpu_only}");
    for t in types {
        assert!(t["cpu"].as_u64().unwrap() > 0, "{t}");
        assert!(t["memory"].as_str().unwrap().ends_with("Gi"), "{t}");
    }
}

fn capacity_of(body: &Value, name: &str) -> u64 {
    body.as_array()
        .unwrap()
        .iter()
        .find(|row| row["name"] == name)
        .and_then(|row| row["capacity"].as_u64())
        .expect("a row per type")
}

#[tokio::test]
async fn capacity_is_per_region_set_by_tests_and_follows_create_and_delete() {
    let fake = start().await;
    let (r1, r2) = (fake.regions()[0].clone(), fake.regions()[1].clone());
    let one = Call::to(&fake, &r1);
    let two = Call::to(&fake, &r2);
    let t = "h200-hgx-141gb.8x";
    fake.state().set_capacity(&r1, t, 2);
    fake.state().set_capacity(&r2, t, 0);
    let (status, body) = one.get("/capacity").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().unwrap().len(), INSTANCE_TYPES.len());
    assert_eq!(capacity_of(&body, t), 2);
    let (_, body) = two.get("/capacity").await;
    assert_eq!(capacity_of(&body, t), 0);

    let id = create(&one, t).await;
    let (_, body) = one.get("/capacity").await;
    assert_eq!(capacity_of(&body, t), 1);
    let (status, _) = one
        .send(Method::DELETE, &format!("/instances/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = one.get("/capacity").await;
    assert_eq!(capacity_of(&body, t), 2);

    fake.state().clear_capacity();
    let (_, body) = one.get("/capacity").await;
    assert!(
        body.as_array()
            .unwrap()
            .iter()
            .all(|row| row["capacity"] == 0),
        "{body}"
    );
}

#[tokio::test]
async fn capabilities_name_what_the_fake_serves() {
    let fake = start().await;
    let (status, body) = Call::to(&fake, &region(&fake)).get("/capabilities").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!(CAPABILITIES));
    assert!(CAPABILITIES.contains(&"instances:stop"));
}

#[tokio::test]
async fn unserved_endpoints_are_501_and_unknown_paths_404() {
    let fake = start().await;
    let call = Call::to(&fake, &region(&fake));
    for path in ["/filesystems", "/kubernetes/clusters", "/slurm/clusters"] {
        let (status, body) = call.get(path).await;
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{path}");
        assert!(body["message"].is_string(), "{body}");
    }
    let (status, body) = call.get("/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["message"].is_string(), "{body}");
    let (status, _) = call.send(Method::PUT, "/instances", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}
