//! Instance types, regions and images.

use reqwest::StatusCode;

use super::{get, start};

#[tokio::test]
async fn instance_types_have_the_description_shape_and_real_data() {
    let fake = start().await;
    let (status, body) = get(&fake, "/api/v1/instance-types").await;
    assert_eq!(status, StatusCode::OK);
    let data = body["data"].as_object().expect("data is a map");
    assert_eq!(data.len(), 27);
    let h100 = &data["gpu_8x_h100_sxm5"];
    let t = &h100["instance_type"];
    assert_eq!(t["name"], "gpu_8x_h100_sxm5");
    assert_eq!(t["description"], "8x H100 (80 GB SXM5)");
    assert_eq!(t["gpu_description"], "H100 (80 GB SXM5)");
    assert_eq!(t["price_cents_per_hour"], 3192);
    assert_eq!(t["specs"]["vcpus"], 208);
    assert_eq!(t["specs"]["memory_gib"], 1800);
    assert_eq!(t["specs"]["storage_gib"], 22528);
    assert_eq!(t["specs"]["gpus"], 8);
    let regions = h100["regions_with_capacity_available"].as_array().unwrap();
    assert!(regions.iter().any(|r| r["name"] == "us-west-1"));
    assert!(regions.iter().all(|r| r["description"].is_string()));
}

#[tokio::test]
async fn capacity_drives_regions_with_capacity_available() {
    let fake = start().await;
    let state = fake.state();
    state.set_capacity("us-west-1", "gpu_1x_a10", 0);
    state.set_capacity("me-west-1", "gpu_1x_a10", 3);
    let (_, body) = get(&fake, "/api/v1/instance-types").await;
    let names: Vec<&str> = body["data"]["gpu_1x_a10"]["regions_with_capacity_available"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(!names.contains(&"us-west-1"));
    assert!(names.contains(&"me-west-1"));
    assert_eq!(state.capacity("me-west-1", "gpu_1x_a10"), 3);

    state.clear_capacity();
    let (_, body) = get(&fake, "/api/v1/instance-types").await;
    for item in body["data"].as_object().unwrap().values() {
        assert_eq!(
            item["regions_with_capacity_available"],
            serde_json::json!([])
        );
    }
}

#[tokio::test]
async fn regions_images_and_file_systems() {
    let fake = start().await;
    let (status, body) = get(&fake, "/api/v1/regions").await;
    assert_eq!(status, StatusCode::OK);
    let regions = body["data"].as_array().unwrap();
    assert_eq!(regions.len(), 18);
    assert!(
        regions
            .iter()
            .any(|r| r["name"] == "us-west-1" && r["description"] == "California, USA")
    );

    let (status, body) = get(&fake, "/api/v1/images").await;
    assert_eq!(status, StatusCode::OK);
    let images = body["data"].as_array().unwrap();
    assert!(!images.is_empty());
    for image in images {
        for field in [
            "id",
            "created_time",
            "updated_time",
            "name",
            "description",
            "family",
            "version",
        ] {
            assert!(image[field].is_string(), "{field} in {image}");
        }
        assert!(image["architecture"] == "x86_64" || image["architecture"] == "arm64");
        assert!(image["region"]["name"].is_string());
    }

    let (status, body) = get(&fake, "/api/v1/file-systems").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"], serde_json::json!([]));
}

#[tokio::test]
async fn unknown_paths_are_404_not_found() {
    let fake = start().await;
    let (status, body) = get(&fake, "/api/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(super::code(&body), "global/not-found");
}
