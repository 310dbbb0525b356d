//! Every operation against the stub API: create with the bootstrap, idempotency, lost
//! responses, out-of-stock, get/list filters, terminate, stop/start, catalog, locations, errors.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use gpucloud_core::{
    CloudClient, CloudClientExt, CreateInstanceAttrs, ErrorKind, FirewallRule, FirewallRules,
    GetInstanceTypeArgs, GetLocationsArgs, InstanceId, LifecycleStatus, ListInstancesArgs,
    LocationsFilter,
};
use gpucloud_fluidstack::{FluidstackClient, FluidstackConfig, FluidstackCredential};

use crate::stub::{API_KEY, H100, L40S, PROJECT_ID, PROJECT_NAME, Stub};

const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T noname";
const CRED: &str = "cred-test";

fn config(stub: &Stub, project: &str) -> FluidstackConfig {
    FluidstackConfig::new(API_KEY, project)
        .with_regions(["us-west-1", "eu-north-1"])
        .with_base_url(stub.template())
        .with_ref_id(CRED)
        .with_retry_backoff(Duration::from_millis(5))
        .with_capacity_wait(Duration::from_secs(5), Duration::from_millis(20))
        .with_price(H100, "23.92")
}

fn client(stub: &Stub) -> FluidstackClient {
    FluidstackCredential::new(config(stub, PROJECT_ID))
        .unwrap()
        .client("")
        .unwrap()
}

fn attrs(ref_id: &str) -> CreateInstanceAttrs {
    CreateInstanceAttrs {
        location: "us-west-1".into(),
        ref_id: ref_id.into(),
        name: format!("box-{ref_id}"),
        public_key: PUBLIC_KEY.into(),
        instance_type: H100.into(),
        ..CreateInstanceAttrs::default()
    }
}

#[tokio::test]
async fn create_sends_the_bootstrap_and_bookkeeping_and_runs() {
    let stub = Stub::start(Duration::from_millis(50)).await;
    let client = client(&stub);
    let mut a = attrs("ref-1");
    a.tags = BTreeMap::from([("team".into(), "ml".into())]);
    a.use_spot = true;
    a.user_data_base64 = base64::engine::general_purpose::STANDARD.encode("#!/bin/sh\necho mine\n");
    a.firewall_rules = FirewallRules {
        ingress_rules: vec![FirewallRule::port(8080)],
        egress_rules: vec![],
    };
    let created = client.create_instance(a).await.unwrap();
    assert_eq!(
        created.lifecycle(),
        LifecycleStatus::Running,
        "waited out `creating`"
    );
    assert_eq!(created.ref_id, "ref-1");
    assert_eq!(created.cloud_cred_ref_id, CRED);
    assert_eq!(created.location, "us-west-1");
    assert_eq!(
        (created.ssh_user.as_str(), created.ssh_port),
        ("ubuntu", 22)
    );
    assert_eq!(created.public_ip, "10.0.0.7");
    assert!(created.pub_key_fingerprint.starts_with("SHA256:"));
    assert_eq!(created.tags, BTreeMap::from([("team".into(), "ml".into())]));
    assert!(created.spot);

    let stored = &stub.instances()[0];
    assert_eq!(stored.tags["gpucloud-ref-id"], "ref-1");
    assert_eq!(stored.tags["gpucloud-cred-ref-id"], CRED);
    assert!(stored.preemptible);
    let user_data = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&stored.user_data)
            .unwrap(),
    )
    .unwrap();
    assert!(
        user_data.starts_with("Content-Type: multipart/mixed"),
        "{user_data}"
    );
    // The parts are base64: look for the encoded user script and the bootstrap's rule.
    let decoded_parts: String = user_data
        .split("\r\n\r\n")
        .filter_map(|p| {
            let body: String = p.split("--").next()?.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
        })
        .collect();
    assert!(
        decoded_parts.contains("echo mine"),
        "the user's script is kept"
    );
    assert!(
        decoded_parts.contains("th dport 8080 accept"),
        "the rule is in the firewall"
    );
    assert!(
        decoded_parts
            .contains("AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T")
    );

    for seen in stub.seen() {
        let scoped = !matches!(seen.path.as_str(), "projects" | "instance-types");
        if scoped {
            assert_eq!(seen.project.as_deref(), Some(PROJECT_ID), "{seen:?}");
        }
    }
}

#[tokio::test]
async fn a_project_name_is_resolved_once_per_region() {
    let stub = Stub::start(Duration::ZERO).await;
    let client = FluidstackCredential::new(config(&stub, PROJECT_NAME))
        .unwrap()
        .client("us-west-1")
        .unwrap();
    client.create_instance(attrs("ref-n")).await.unwrap();
    client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    let seen = stub.seen();
    assert_eq!(seen.iter().filter(|s| s.path == "projects").count(), 1);
    assert!(
        seen.iter()
            .filter(|s| s.path != "projects")
            .all(|s| s.project.as_deref() == Some(PROJECT_ID))
    );

    let unknown = FluidstackCredential::new(config(&stub, "nope"))
        .unwrap()
        .client("")
        .unwrap();
    let err = unknown
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("FLUIDSTACK_PROJECT"), "{err}");
    let deleting = FluidstackCredential::new(config(&stub, "old"))
        .unwrap()
        .client("")
        .unwrap();
    assert!(
        deleting
            .list_instances(&ListInstancesArgs::default())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn create_is_idempotent_by_ref_id() {
    let stub = Stub::start(Duration::ZERO).await;
    let client = client(&stub);
    let first = client.create_instance(attrs("ref-i")).await.unwrap();
    let second = client.create_instance(attrs("ref-i")).await.unwrap();
    assert_eq!(first.cloud_id, second.cloud_id);
    assert_eq!(stub.instances().len(), 1);
}

#[tokio::test]
async fn a_lost_create_response_is_resolved_by_ref_id() {
    let stub = Stub::start(Duration::ZERO).await;
    let client = client(&stub);
    stub.inner.lock().unwrap().fail_after_commit = true;
    let created = client.create_instance(attrs("ref-lost")).await.unwrap();
    let stored = stub.instances();
    assert_eq!(stored.len(), 1, "created once, not twice");
    assert_eq!(created.cloud_id.as_str(), stored[0].id);
}

#[tokio::test]
async fn out_of_stock_fails_with_insufficient_capacity_and_leaves_nothing() {
    let stub = Stub::start(Duration::from_millis(30)).await;
    let client = client(&stub);
    let mut a = attrs("ref-oos");
    a.instance_type = L40S.into();
    let err = client.create_instance(a).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientCapacity, "{err}");
    assert!(
        stub.instances().is_empty(),
        "the out-of-stock instance was deleted"
    );
}

#[tokio::test]
async fn get_and_list_honour_every_filter_and_only_show_this_credential() {
    let stub = Stub::start(Duration::ZERO).await;
    let client = client(&stub);
    let mut west = attrs("ref-w");
    west.tags = BTreeMap::from([("team".into(), "a".into())]);
    let west = client.create_instance(west).await.unwrap();
    let mut north = attrs("ref-n");
    north.location = "eu-north-1".into();
    north.tags = BTreeMap::from([("team".into(), "b".into())]);
    let north = client.create_instance(north).await.unwrap();
    stub.add_foreign("us-west-1", &[("gpucloud-cred-ref-id", "someone-else")]);
    stub.add_foreign("us-west-1", &[]);

    let all = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    let by_location = client
        .list_instances(&ListInstancesArgs {
            locations: LocationsFilter::only(["eu-north-1"]),
            ..ListInstancesArgs::default()
        })
        .await
        .unwrap();
    assert_eq!(by_location.len(), 1);
    assert_eq!(by_location[0].cloud_id, north.cloud_id);
    let by_tag = client
        .list_instances(&ListInstancesArgs {
            tag_filters: BTreeMap::from([("team".into(), vec!["a".into()])]),
            ..ListInstancesArgs::default()
        })
        .await
        .unwrap();
    assert_eq!(by_tag.len(), 1);
    assert_eq!(by_tag[0].cloud_id, west.cloud_id);
    let by_id = client
        .list_instances(&ListInstancesArgs {
            instance_ids: vec![north.cloud_id.clone()],
            ..ListInstancesArgs::default()
        })
        .await
        .unwrap();
    assert_eq!(by_id.len(), 1);

    let got = client.get_instance(&north.cloud_id).await.unwrap();
    assert_eq!(got.location, "eu-north-1");
    assert_eq!(got.ref_id, "ref-n");
    let bound = FluidstackCredential::new(config(&stub, PROJECT_ID))
        .unwrap()
        .client("us-west-1")
        .unwrap();
    let err = bound.get_instance(&north.cloud_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InstanceNotFound);
    let err = client
        .get_instance(&InstanceId::new("not-a-uuid"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InstanceNotFound);
}

#[tokio::test]
async fn terminate_is_idempotent() {
    let stub = Stub::start(Duration::ZERO).await;
    let client = client(&stub);
    let created = client.create_instance(attrs("ref-t")).await.unwrap();
    client.terminate_instance(&created.cloud_id).await.unwrap();
    client.terminate_instance(&created.cloud_id).await.unwrap();
    client
        .terminate_instance(&InstanceId::new("garbage"))
        .await
        .unwrap();
    assert!(stub.instances().is_empty());
    let err = client.get_instance(&created.cloud_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InstanceNotFound);
}

#[tokio::test]
async fn stop_and_start_report_conflicts_with_the_state() {
    let stub = Stub::start(Duration::ZERO).await;
    let client = client(&stub);
    let created = client.create_instance(attrs("ref-s")).await.unwrap();
    let ss = client.stop_start().unwrap();
    ss.stop_instance(&created.cloud_id).await.unwrap();
    assert_eq!(
        client
            .get_instance(&created.cloud_id)
            .await
            .unwrap()
            .lifecycle(),
        LifecycleStatus::Stopped
    );
    let err = ss.stop_instance(&created.cloud_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.to_string().contains("stopped"), "{err}");
    ss.start_instance(&created.cloud_id).await.unwrap();
    let err = ss.start_instance(&created.cloud_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.to_string().contains("running"), "{err}");
    let err = ss
        .stop_instance(&InstanceId::new(uuid::Uuid::new_v4().to_string()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InstanceNotFound);
}

#[tokio::test]
async fn the_catalog_covers_each_region_with_capacity_and_configured_prices() {
    let stub = Stub::start(Duration::ZERO).await;
    stub.set_capacity("eu-north-1", H100, 0);
    let client = client(&stub);
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    assert_eq!(types.len(), 6, "3 types × 2 regions");
    let find = |region: &str, name: &str| {
        types
            .iter()
            .find(|t| t.location == region && t.type_name == name)
            .unwrap()
    };
    assert!(find("us-west-1", H100).is_available);
    assert!(!find("eu-north-1", H100).is_available);
    assert!(!find("us-west-1", L40S).is_available);
    assert_eq!(
        find("us-west-1", H100)
            .base_price
            .as_ref()
            .unwrap()
            .amount
            .to_string(),
        "23.92"
    );
    assert_eq!(
        find("us-west-1", L40S).base_price,
        None,
        "no invented price"
    );
    assert_eq!(find("us-west-1", H100).supported_gpus[0].name, "H100");
    assert!(find("us-west-1", "cpu-16.1").supported_gpus.is_empty());
    let west = client
        .instance_types(&GetInstanceTypeArgs {
            locations: LocationsFilter::only(["us-west-1"]),
            instance_types: vec![H100.into()],
            ..GetInstanceTypeArgs::default()
        })
        .await
        .unwrap();
    assert_eq!(west.len(), 1);
}

#[tokio::test]
async fn locations_are_the_configured_regions() {
    let stub = Stub::start(Duration::ZERO).await;
    stub.set_capacity("eu-north-1", H100, 0);
    let client = client(&stub);
    let usable = client.locations(GetLocationsArgs::default()).await.unwrap();
    assert_eq!(
        usable.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["us-west-1"]
    );
    let all = client
        .locations(GetLocationsArgs {
            include_unavailable: true,
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(!all[1].available);
}

#[tokio::test]
async fn a_wrong_key_is_unauthenticated_and_never_shown() {
    let stub = Stub::start(Duration::ZERO).await;
    let mut config = config(&stub, PROJECT_ID);
    config.api_key = "wrong-secret-key".to_owned().into();
    let client = FluidstackCredential::new(config)
        .unwrap()
        .client("")
        .unwrap();
    let err = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(!format!("{err} {err:?}").contains("wrong-secret-key"));
}

#[tokio::test]
async fn an_instance_that_goes_out_of_stock_later_is_reported_failed_and_deleted() {
    let stub = Stub::start(Duration::from_millis(50)).await;
    let config =
        config(&stub, PROJECT_ID).with_capacity_wait(Duration::ZERO, Duration::from_millis(10));
    let client = FluidstackCredential::new(config)
        .unwrap()
        .client("")
        .unwrap();
    let mut a = attrs("ref-late");
    a.instance_type = L40S.into();
    let created = client.create_instance(a).await.unwrap();
    assert_eq!(
        created.lifecycle(),
        LifecycleStatus::Pending,
        "returned while `creating`"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let listed = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].lifecycle(), LifecycleStatus::Failed);
    assert!(listed[0].status.messages[0].contains("out-of-stock"));
    assert!(stub.instances().is_empty(), "deleted when seen");
}
