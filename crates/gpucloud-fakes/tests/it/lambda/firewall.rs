//! Global firewall rules and regional rulesets.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{call, code, get, post, start};

#[tokio::test]
async fn global_rules_are_shared_by_both_endpoints() {
    let fake = start().await;
    let (status, body) = get(&fake, "/api/v1/firewall-rules").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"][0]["port_range"], json!([22, 22]));

    let rules = json!([
        {"protocol": "tcp", "port_range": [22, 22], "source_network": "0.0.0.0/0", "description": "ssh"},
        {"protocol": "icmp", "source_network": "10.0.0.0/8", "description": "ping"}
    ]);
    let (status, body) = call(
        &fake,
        Method::PUT,
        "/api/v1/firewall-rules",
        Some(json!({"data": rules})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"], rules);
    let (_, body) = get(&fake, "/api/v1/firewall-rulesets/global").await;
    assert_eq!(body["data"]["id"], "global");
    assert_eq!(body["data"]["rules"], rules);

    let (status, body) = call(
        &fake,
        Method::PATCH,
        "/api/v1/firewall-rulesets/global",
        Some(json!({"rules": []})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(fake.state().global_firewall_rules().is_empty());
}

#[tokio::test]
async fn invalid_rules_are_refused() {
    let fake = start().await;
    for rule in [
        json!({"protocol": "tcp", "source_network": "0.0.0.0/0", "description": "no ports"}),
        json!({"protocol": "icmp", "port_range": [1, 2], "source_network": "0.0.0.0/0", "description": "x"}),
        json!({"protocol": "tcp", "port_range": [9, 1], "source_network": "0.0.0.0/0", "description": "x"}),
        json!({"protocol": "tcp", "port_range": [0, 1], "source_network": "0.0.0.0/0", "description": "x"}),
        json!({"protocol": "sctp", "port_range": [1, 1], "source_network": "0.0.0.0/0", "description": "x"}),
        json!({"protocol": "tcp", "port_range": [1, 1], "source_network": "::/0", "description": "x"}),
        json!({"protocol": "tcp", "port_range": [1, 1], "source_network": "0.0.0.0/0"}),
    ] {
        let (status, body) = call(
            &fake,
            Method::PUT,
            "/api/v1/firewall-rules",
            Some(json!({"data": [rule]})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{rule}");
        assert_eq!(code(&body), "global/invalid-parameters");
    }
    assert_eq!(fake.state().global_firewall_rules().len(), 1);
}

#[tokio::test]
async fn rulesets_crud_and_in_use() {
    let fake = start().await;
    let (status, body) = post(
        &fake,
        "/api/v1/firewall-rulesets",
        json!({"name": "web", "region": "us-west-1", "rules": [
            {"protocol": "tcp", "port_range": [443, 443], "source_network": "0.0.0.0/0", "description": "https"}
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["data"]["region"]["name"], "us-west-1");
    assert_eq!(body["data"]["instance_ids"], json!([]));
    assert!(body["data"]["created"].is_string());

    let (status, body) = call(
        &fake,
        Method::PATCH,
        &format!("/api/v1/firewall-rulesets/{id}"),
        Some(json!({"name": "web2"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["name"], "web2");
    assert_eq!(body["data"]["rules"].as_array().unwrap().len(), 1);

    // Launch with the ruleset: it is then in use.
    super::add_key(&fake, "k").await;
    let (status, body) = post(
        &fake,
        "/api/v1/instance-operations/launch",
        json!({"region_name": "us-west-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["k"],
               "firewall_rulesets": [{"id": id}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let instance_id = body["data"]["instance_ids"][0].as_str().unwrap().to_owned();
    assert_eq!(
        fake.state()
            .instance(&instance_id)
            .unwrap()
            .firewall_rulesets,
        vec![id.clone()]
    );
    let (_, body) = get(&fake, &format!("/api/v1/firewall-rulesets/{id}")).await;
    assert_eq!(body["data"]["instance_ids"], json!([instance_id]));
    let (status, body) = call(
        &fake,
        Method::DELETE,
        &format!("/api/v1/firewall-rulesets/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "firewall-rulesets/firewall-ruleset-in-use");

    // Wrong region.
    let (status, _) = post(
        &fake,
        "/api/v1/instance-operations/launch",
        json!({"region_name": "us-east-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["k"],
               "firewall_rulesets": [{"id": id}]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _) = post(
        &fake,
        "/api/v1/instance-operations/terminate",
        json!({"instance_ids": [instance_id]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(
        &fake,
        Method::DELETE,
        &format!("/api/v1/firewall-rulesets/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = get(&fake, &format!("/api/v1/firewall-rulesets/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&body), "global/object-does-not-exist");
    let (_, body) = get(&fake, "/api/v1/firewall-rulesets").await;
    assert_eq!(body["data"], json!([]));
}

#[tokio::test]
async fn rulesets_in_use_until_gone_holds_them_through_termination() {
    let fake =
        gpucloud_fakes::lambda::FakeLambda::start(gpucloud_fakes::lambda::FakeLambdaOptions {
            rulesets_in_use_until_gone: true,
            ..super::slow_ending()
        })
        .await
        .expect("fake starts");
    let (status, body) = post(
        &fake,
        "/api/v1/firewall-rulesets",
        json!({"name": "held", "region": "us-west-1", "rules": []}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    super::add_key(&fake, "k").await;
    let (status, body) = post(
        &fake,
        "/api/v1/instance-operations/launch",
        json!({"region_name": "us-west-1", "instance_type_name": "gpu_1x_a10", "ssh_key_names": ["k"],
               "firewall_rulesets": [{"id": id}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let instance_id = body["data"]["instance_ids"][0].as_str().unwrap().to_owned();
    let (status, _) = post(
        &fake,
        "/api/v1/instance-operations/terminate",
        json!({"instance_ids": [instance_id]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let path = format!("/api/v1/firewall-rulesets/{id}");
    let delete = || call(&fake, Method::DELETE, &path, None);

    // Terminating: still in use, and the ruleset still names the instance.
    let (status, body) = delete().await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code(&body), "firewall-rulesets/firewall-ruleset-in-use");
    let (_, body) = get(&fake, &path).await;
    assert_eq!(body["data"]["instance_ids"], json!([instance_id]));

    // Terminated but still listed: still in use.
    super::wait_status(&fake, &instance_id, Some("terminated")).await;
    let (status, body) = delete().await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code(&body), "firewall-rulesets/firewall-ruleset-in-use");

    // Gone: free.
    super::wait_status(&fake, &instance_id, None).await;
    assert!(fake.state().instance(&instance_id).is_none());
    let (_, body) = get(&fake, &path).await;
    assert_eq!(body["data"]["instance_ids"], json!([]));
    let (status, body) = delete().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(fake.state().firewall_rulesets().is_empty());
}
