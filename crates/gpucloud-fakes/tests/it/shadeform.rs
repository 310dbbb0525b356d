//! The Shadeform fake over real HTTP: auth, the catalog and its query filters, the instance
//! lifecycle, out-of-stock, SSH keys, restart, update, error bodies and a fault.

use std::time::Duration;

use gpucloud_fakes::kit::Fault;
use gpucloud_fakes::shadeform::{
    FakeShadeform, FakeShadeformOptions, FakeStatus, OUT_OF_STOCK, Operation,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T me";

async fn start() -> FakeShadeform {
    start_with(Duration::from_millis(30)).await
}

/// A fake whose every lifecycle step takes `step`.
async fn start_with(step: Duration) -> FakeShadeform {
    FakeShadeform::start(FakeShadeformOptions {
        creating_delay: step,
        pending_provider_delay: step,
        deleting_delay: step,
        deleted_delay: step,
        ..FakeShadeformOptions::default()
    })
    .await
    .unwrap()
}

async fn call(
    fake: &FakeShadeform,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", fake.base_url()))
        .header("X-API-KEY", fake.api_key());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn create_body(region: &str) -> Value {
    json!({"cloud": "hyperstack", "region": region, "shade_instance_type": "A6000",
           "shade_cloud": true, "name": "box", "tags": ["a=b"],
           "launch_configuration": {"type": "script", "script_configuration": {"base64_script": "ZWNobwo="}}})
}

async fn status_of(fake: &FakeShadeform, id: &str) -> (StatusCode, String) {
    let (code, body) = call(
        fake,
        reqwest::Method::GET,
        &format!("/instances/{id}/info"),
        None,
    )
    .await;
    (code, body["status"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn the_key_is_checked_and_errors_have_the_api_shape() {
    let fake = start().await;
    let response = reqwest::Client::new()
        .get(format!("{}/instances", fake.base_url()))
        .header("X-API-KEY", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error_code"].is_string() && body["error"].is_string(),
        "{body}"
    );
    let (code, body) = call(
        &fake,
        reqwest::Method::POST,
        "/instances/create",
        Some(json!({"cloud": 1})),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_code"], "INVALID_REQUEST");
    let (code, _) = call(&fake, reqwest::Method::GET, "/volumes", None).await;
    assert_eq!(code, StatusCode::NOT_IMPLEMENTED);
}

#[tokio::test]
async fn the_catalog_honours_every_query_filter() {
    let fake = start().await;
    let types = |q: &'static str| {
        let fake = &fake;
        async move {
            let (code, body) = call(
                fake,
                reqwest::Method::GET,
                &format!("/instances/types{q}"),
                None,
            )
            .await;
            assert_eq!(code, StatusCode::OK, "{q}");
            body["instance_types"].as_array().unwrap().clone()
        }
    };
    let all = types("").await;
    let clouds: std::collections::BTreeSet<&str> =
        all.iter().map(|t| t["cloud"].as_str().unwrap()).collect();
    assert!(clouds.len() >= 4, "{clouds:?}");
    assert!(
        types("?cloud=verda")
            .await
            .iter()
            .all(|t| t["cloud"] == "verda")
    );
    assert!(
        types("?num_gpus=8")
            .await
            .iter()
            .all(|t| t["configuration"]["num_gpus"] == 8)
    );
    assert!(
        types("?gpu_type=H100")
            .await
            .iter()
            .all(|t| t["configuration"]["gpu_type"] == "H100")
    );
    let one = types("?cloud=hyperstack&shade_instance_type=A6000&region=norway-1").await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["availability"].as_array().unwrap().len(), 1);
    let sorted = types("?sort=price").await;
    let prices: Vec<u64> = sorted
        .iter()
        .map(|t| t["hourly_price"].as_u64().unwrap())
        .collect();
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
    fake.state().set_capacity("canada-1", "hyperstack_A6000", 0);
    let unavailable = types("?available=false").await;
    assert!(
        unavailable
            .iter()
            .any(|t| t["shade_instance_type"] == "A6000")
    );
    let (code, _) = call(
        &fake,
        reqwest::Method::GET,
        "/instances/types?available=maybe",
        None,
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn instances_go_through_their_lifecycle_and_give_capacity_back() {
    // Steps long enough that a loaded machine still sees each state.
    let fake = start_with(Duration::from_millis(600)).await;
    let before = fake.state().capacity("canada-1", "hyperstack_A6000");
    let (code, body) = call(
        &fake,
        reqwest::Method::POST,
        "/instances/create",
        Some(create_body("canada-1")),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        fake.state().capacity("canada-1", "hyperstack_A6000"),
        before - 1
    );
    assert_eq!(status_of(&fake, &id).await.1, "creating");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(status_of(&fake, &id).await.1, "pending_provider");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, info) = call(
        &fake,
        reqwest::Method::GET,
        &format!("/instances/{id}/info"),
        None,
    )
    .await;
    assert_eq!(info["status"], "active");
    assert!(!info["ip"].as_str().unwrap().is_empty());
    assert_eq!(
        (info["ssh_user"].clone(), info["ssh_port"].clone()),
        (json!("shadeform"), json!(22))
    );
    assert_eq!(
        info["ssh_key_id"],
        fake.state().default_key_id().to_string(),
        "no key named: the default"
    );
    assert_eq!(info["tags"], json!(["a=b"]));

    let (code, _) = call(
        &fake,
        reqwest::Method::POST,
        &format!("/instances/{id}/restart"),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        status_of(&fake, &id).await.1,
        "active",
        "stays active while restarting"
    );
    let (code, _) = call(
        &fake,
        reqwest::Method::POST,
        &format!("/instances/{id}/update"),
        Some(json!({"name": "renamed", "tags": ["x=y"]})),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    let (_, info) = call(
        &fake,
        reqwest::Method::GET,
        &format!("/instances/{id}/info"),
        None,
    )
    .await;
    assert_eq!(
        (info["name"].clone(), info["tags"].clone()),
        (json!("renamed"), json!(["x=y"]))
    );
    call(
        &fake,
        reqwest::Method::POST,
        &format!("/instances/{id}/update"),
        Some(json!({"tags": null})),
    )
    .await;
    assert_eq!(
        call(
            &fake,
            reqwest::Method::GET,
            &format!("/instances/{id}/info"),
            None
        )
        .await
        .1["tags"],
        json!([])
    );

    let (code, _) = call(
        &fake,
        reqwest::Method::POST,
        &format!("/instances/{id}/delete"),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(status_of(&fake, &id).await.1, "deleting");
    assert_eq!(
        fake.state().capacity("canada-1", "hyperstack_A6000"),
        before
    );
    let (code, _) = call(
        &fake,
        reqwest::Method::POST,
        &format!("/instances/{id}/restart"),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::CONFLICT, "restart needs active");
    let (code, _) = call(
        &fake,
        reqwest::Method::POST,
        &format!("/instances/{id}/delete"),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::OK, "deleting again is accepted");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        status_of(&fake, &id).await.0,
        StatusCode::NOT_FOUND,
        "deleted: not in info"
    );
    let (_, list) = call(&fake, reqwest::Method::GET, "/instances", None).await;
    assert_eq!(list["instances"], json!([]), "nor in the list");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(fake.state().instances().is_empty(), "then gone");
}

#[tokio::test]
async fn out_of_stock_and_unknown_regions_answer_409() {
    let fake = start().await;
    fake.state().set_capacity("canada-1", "hyperstack_A6000", 0);
    for region in ["canada-1", "mars-1"] {
        let (code, body) = call(
            &fake,
            reqwest::Method::POST,
            "/instances/create",
            Some(create_body(region)),
        )
        .await;
        assert_eq!(
            (code, body["error_code"].clone()),
            (StatusCode::CONFLICT, json!(OUT_OF_STOCK)),
            "{region}"
        );
    }
    assert!(fake.state().instances().is_empty());
}

#[tokio::test]
async fn ssh_keys_have_unique_names_and_protected_defaults() {
    let fake = start().await;
    let add = json!({"name": "mine", "public_key": KEY});
    let (code, body) = call(
        &fake,
        reqwest::Method::POST,
        "/sshkeys/add",
        Some(add.clone()),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    let id = body["id"].as_str().unwrap().to_owned();
    let (code, _) = call(&fake, reqwest::Method::POST, "/sshkeys/add", Some(add)).await;
    assert_eq!(code, StatusCode::CONFLICT, "names are unique");
    let (code, _) = call(
        &fake,
        reqwest::Method::POST,
        "/sshkeys/add",
        Some(json!({"name": "x", "public_key": "hello"})),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let default = fake.state().default_key_id().to_string();
    let (code, _) = call(
        &fake,
        reqwest::Method::POST,
        &format!("/sshkeys/{default}/delete"),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::CONFLICT, "the default key stays");
    let mut body = create_body("canada-1");
    body["ssh_key_id"] = json!(id);
    let (_, created) = call(
        &fake,
        reqwest::Method::POST,
        "/instances/create",
        Some(body),
    )
    .await;
    let (code, _) = call(
        &fake,
        reqwest::Method::POST,
        &format!("/sshkeys/{id}/delete"),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::CONFLICT, "in use");
    call(
        &fake,
        reqwest::Method::POST,
        &format!("/instances/{}/delete", created["id"].as_str().unwrap()),
        None,
    )
    .await;
    let (code, _) = call(
        &fake,
        reqwest::Method::POST,
        &format!("/sshkeys/{id}/delete"),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::OK, "free once its instance is deleting");
    let (_, keys) = call(&fake, reqwest::Method::GET, "/sshkeys", None).await;
    assert_eq!(keys["ssh_keys"].as_array().unwrap().len(), 1);
    let (code, _) = call(
        &fake,
        reqwest::Method::GET,
        &format!("/sshkeys/{id}/info"),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_commit_then_drop_fault_creates_and_drops_the_answer() {
    let fake = start().await;
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::CreateInstance,
        times: 1,
    });
    let sent = reqwest::Client::new()
        .post(format!("{}/instances/create", fake.base_url()))
        .header("X-API-KEY", fake.api_key())
        .json(&create_body("canada-1"))
        .send()
        .await;
    assert!(sent.is_err(), "the answer is dropped");
    assert_eq!(fake.state().instances().len(), 1, "but the create happened");
}

#[tokio::test]
async fn a_launch_without_shade_cloud_is_a_shade_cloud_launch() {
    let fake = start().await;
    // What clients in use send: no `shade_cloud`, no launch configuration, no tags.
    let key = fake.state().default_key_id().to_string();
    let (code, body) = call(
        &fake,
        reqwest::Method::POST,
        "/instances/create",
        Some(json!({"cloud": "hyperstack", "region": "canada-1",
                    "shade_instance_type": "A6000", "name": "minimal", "ssh_key_id": key})),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let (_, info) = call(
        &fake,
        reqwest::Method::GET,
        &format!("/instances/{id}/info"),
        None,
    )
    .await;
    assert_eq!(info["shade_cloud"], true, "the live default");
    assert_eq!(
        info["configuration"]["os"], "ubuntu22.04_cuda12.8_shade_os",
        "today's default image"
    );
    let mut linked = create_body("canada-1");
    linked["shade_cloud"] = json!(false);
    let (code, body) = call(
        &fake,
        reqwest::Method::POST,
        "/instances/create",
        Some(linked),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(fake.state().instances().len(), 1);
}

#[tokio::test]
async fn instances_carry_their_times_details_boot_time_and_cost() {
    let fake = start_with(Duration::from_millis(400)).await;
    let (_, body) = call(
        &fake,
        reqwest::Method::POST,
        "/instances/create",
        Some(create_body("canada-1")),
    )
    .await;
    let id = body["id"].as_str().unwrap().to_owned();
    let info = |fake: &FakeShadeform| {
        let path = format!("/instances/{id}/info");
        let fake = fake.base_url();
        async move {
            let response = reqwest::Client::new()
                .get(format!("{fake}{path}"))
                .header("X-API-KEY", gpucloud_fakes::shadeform::DEFAULT_API_KEY)
                .send()
                .await
                .unwrap();
            response.json::<Value>().await.unwrap()
        }
    };
    let creating = info(&fake).await;
    assert_eq!(creating["status"], "creating");
    assert_eq!(
        creating["active_at"], "0001-01-01T00:00:00Z",
        "not active yet: Go's zero time"
    );
    assert_eq!(creating["cost_estimate"], "0.00");
    assert_eq!(
        (
            creating["boot_time"]["min_boot_in_sec"].clone(),
            creating["boot_time"]["max_boot_in_sec"].clone()
        ),
        (json!(120), json!(300)),
        "the offer's boot time"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let provisioning = info(&fake).await;
    assert_eq!(
        (
            provisioning["status"].clone(),
            provisioning["status_details"].clone()
        ),
        (json!("pending_provider"), json!("provisioning"))
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    let active = info(&fake).await;
    assert_eq!(active["status"], "active");
    let active_at: jiff::Timestamp = active["active_at"].as_str().unwrap().parse().unwrap();
    let created_at: jiff::Timestamp = active["created_at"].as_str().unwrap().parse().unwrap();
    assert!(active_at > created_at, "{active_at} after {created_at}");

    // An hour of an A4000 at 15 cents an hour costs 15 cents; the deletion stops the meter.
    let seeded = fake
        .state()
        .seed_instances(1, "canada-1", "hyperstack_A4000", &[], None)
        .unwrap()[0];
    let (_, list) = call(&fake, reqwest::Method::GET, "/instances", None).await;
    let listed = list["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == seeded.to_string())
        .unwrap()
        .clone();
    assert_eq!(listed["cost_estimate"], "0.15", "{listed}");
    assert_eq!(listed["deleted_at"], "0001-01-01T00:00:00Z");
    call(
        &fake,
        reqwest::Method::POST,
        &format!("/instances/{seeded}/delete"),
        None,
    )
    .await;
    let (_, deleting) = call(
        &fake,
        reqwest::Method::GET,
        &format!("/instances/{seeded}/info"),
        None,
    )
    .await;
    assert_eq!(deleting["status"], "deleting");
    assert_eq!(deleting["cost_estimate"], "0.15");
    assert_ne!(deleting["deleted_at"], "0001-01-01T00:00:00Z");
    let snapshot = fake.state().instance(seeded).unwrap();
    assert_eq!(snapshot.cost_estimate, "0.15");
    assert!(snapshot.active_at.is_some());
}

#[tokio::test]
async fn the_random_fault_mode_makes_slow_boots_and_upstream_failures() {
    let fake = start_with(Duration::from_millis(300)).await;
    fake.state()
        .set_capacity("canada-1", "hyperstack_A6000", 100);
    // Every launch draws a fault of its own; no request is faulted (no request kinds).
    fake.state().faults().set_random(20, 1.0, &[]);
    for _ in 0..12 {
        let (code, body) = call(
            &fake,
            reqwest::Method::POST,
            "/instances/create",
            Some(create_body("canada-1")),
        )
        .await;
        assert_eq!(code, StatusCode::OK, "{body}");
    }
    // Settled: every launch either came up or failed upstream.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let settled = loop {
        let instances = fake.state().instances();
        if instances
            .iter()
            .all(|i| matches!(i.status, FakeStatus::Active | FakeStatus::Error))
        {
            break instances;
        }
        assert!(tokio::time::Instant::now() < deadline, "{instances:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (up, failed): (Vec<_>, Vec<_>) =
        settled.iter().partition(|i| i.status == FakeStatus::Active);
    assert!(!up.is_empty() && !failed.is_empty(), "{settled:?}");
    // What came up came up late: it was `pending` for a step more than a launch as scheduled
    // (two steps), whenever this test looked.
    for i in &up {
        let created: jiff::Timestamp = i.created_at.parse().unwrap();
        let active = i.active_at.unwrap();
        assert_eq!(
            active.duration_since(created),
            jiff::SignedDuration::from_millis(900),
            "{i:?}"
        );
    }
    for i in &failed {
        assert!(i.active_at.is_none() && i.ip.is_none(), "{i:?}");
    }
    let failed = fake
        .state()
        .instances()
        .into_iter()
        .find(|i| i.status == FakeStatus::Error)
        .unwrap();
    let (_, info) = call(
        &fake,
        reqwest::Method::GET,
        &format!("/instances/{}/info", failed.id),
        None,
    )
    .await;
    assert_eq!(info["status"], "error");
    assert!(
        !info["status_details"].as_str().unwrap().is_empty(),
        "{info}"
    );
    assert_eq!(info["ip"], "", "never came up");
    assert_eq!(info["active_at"], "0001-01-01T00:00:00Z");
    assert_eq!(info["cost_estimate"], "0.00");

    // Without the random mode, every launch goes as scheduled.
    fake.state().clear_faults();
    let (_, body) = call(
        &fake,
        reqwest::Method::POST,
        "/instances/create",
        Some(create_body("canada-1")),
    )
    .await;
    let id: uuid::Uuid = body["id"].as_str().unwrap().parse().unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        fake.state().instance(id).unwrap().status,
        FakeStatus::Active
    );
}

#[tokio::test]
async fn the_catalog_serves_live_region_names_and_type_suffixes() {
    let fake = start().await;
    let (_, body) = call(
        &fake,
        reqwest::Method::GET,
        "/instances/types?region=dallas-usa-3",
        None,
    )
    .await;
    let types = body["instance_types"].as_array().unwrap();
    assert!(!types.is_empty() && types.iter().all(|t| t["cloud"] == "vultr"));
    let (_, body) = call(
        &fake,
        reqwest::Method::GET,
        "/instances/types?cloud=denvr&shade_instance_type=H100x8-2",
        None,
    )
    .await;
    let one = &body["instance_types"][0];
    assert_eq!(one["configuration"]["gpu_type"], "H100_sxm5");
    assert!(
        one["configuration"]["os_options"]
            .as_array()
            .unwrap()
            .contains(&json!("ubuntu22.04_cuda12.8_shade_os"))
    );
    let (code, body) = call(
        &fake,
        reqwest::Method::POST,
        "/instances/create",
        Some(json!({"cloud": "denvr", "region": "houston-usa-2",
                    "shade_instance_type": "H100x8-2", "name": "big"})),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
}
