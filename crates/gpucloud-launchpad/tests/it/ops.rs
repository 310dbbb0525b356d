//! Every operation against the LaunchPad fake: the catalog of several upstream clouds,
//! locations, create (idempotent by RefID and by LaunchPad's request id), get, list (all pages,
//! every scope), terminate (idempotent), the deployment states, and nothing left afterwards.

use gpucloud_core::validate::{validate_and_create, validate_create};
use gpucloud_core::{
    Architecture, CloudClient, ErrorKind, FirewallRule, GetInstanceTypeArgs, GetLocationsArgs,
    InstanceId, InstanceScope, LifecycleStatus, ListInstancesArgs, LocationsFilter, Price,
};
use gpucloud_fakes::launchpad::{FakeState, LaunchOutcome};

use crate::common::*;

#[tokio::test]
async fn the_catalog_names_each_upstream_cloud_and_the_dmz_gh200_on_arm64() {
    let fake = fake().await;
    let client = client(&fake);
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    let clouds: std::collections::BTreeSet<&str> = types.iter().map(|t| t.cloud.as_str()).collect();
    assert!(clouds.len() >= 3, "{clouds:?}");
    assert!(types.iter().all(|t| t.provider == "launchpad"));
    let gh200 = types
        .iter()
        .find(|t| t.id.as_str() == "dmz_gh200x1_pdx")
        .unwrap();
    assert_eq!(
        gh200.supported_architectures.as_slice(),
        [Architecture::Arm64]
    );
    assert_eq!(gh200.supported_gpus[0].name, "GH200");
    assert_eq!(gh200.base_price, Some(Price::parse("2.8", "USD").unwrap()));
    assert_eq!(
        (gh200.location.as_str(), gh200.sub_location.as_str()),
        ("us-west", "pdx")
    );
    assert!(gh200.is_available);
    let ids: std::collections::BTreeSet<_> = types.iter().map(|t| t.id.clone()).collect();
    assert_eq!(ids.len(), types.len(), "ids are unique");
    // The workshop's type keeps its workshop.
    let workshop = types
        .iter()
        .find(|t| !t.reserved_instance_pool_id.is_empty())
        .unwrap();
    assert_eq!(workshop.type_name, "oci_a10x1.lp-training");

    fake.state().set_capacity("pdx", "dmz", "GH200", 1, 0);
    let filtered = client
        .instance_types(&GetInstanceTypeArgs {
            locations: LocationsFilter::only(["us-west"]),
            ..GetInstanceTypeArgs::default()
        })
        .await
        .unwrap();
    assert!(filtered.iter().all(|t| t.location == "us-west"));
    assert!(
        !filtered
            .iter()
            .find(|t| t.type_name == GH200)
            .unwrap()
            .is_available
    );

    let locations = client
        .locations(GetLocationsArgs {
            include_unavailable: true,
        })
        .await
        .unwrap();
    let names: Vec<&str> = locations.iter().map(|l| l.name.as_str()).collect();
    assert!(
        names.contains(&"us-west") && names.contains(&"us-south") && names.contains(&"eu-north"),
        "{names:?}"
    );
}

#[tokio::test]
async fn a_deployment_is_created_once_runs_and_is_terminated() {
    let fake = fake().await;
    let client = client(&fake);
    let mut attrs = attrs("life-1");
    attrs.name = "Train Job #1".into();
    attrs.tags = [("team".to_owned(), "ml".to_owned())].into();
    let created = validate_and_create(&client, &attrs).await.unwrap();
    assert_eq!(created.ref_id, "life-1");
    assert_eq!(created.cloud_cred_ref_id, CRED);
    assert!(!created.pub_key_fingerprint.is_empty());
    // Again with the same RefID: the same deployment, no second one.
    let again = validate_and_create(&client, &attrs).await.unwrap();
    assert_eq!(again.cloud_id, created.cloud_id);
    assert_eq!(fake.state().deployments().len(), 1);
    let sent = &fake.state().deployments()[0];
    assert_eq!(sent.request_id, "life-1");
    assert_eq!(
        (
            sent.provider_name.as_str(),
            sent.region.as_str(),
            sent.gpu_model.as_str()
        ),
        ("dmz", "pdx", "gh200")
    );
    assert_eq!(
        sent.experience.to_string(),
        gpucloud_launchpad::EXPERIENCE_DMZ_GH200
    );
    assert_eq!(
        sent.public_key.split_whitespace().nth(1),
        PUBLIC_KEY.split_whitespace().nth(1)
    );

    wait_for(&client, &created.cloud_id, LifecycleStatus::Running).await;
    let running = client.get_instance(&created.cloud_id).await.unwrap();
    assert!(running.public_ip.starts_with("203.0.113."));
    assert_eq!(
        (running.ssh_user.as_str(), running.ssh_port),
        ("ubuntu", 2222)
    );
    assert_eq!(running.hostname, "train-job-1");
    assert_eq!(running.name, "Train Job #1");
    assert_eq!(running.tags.get("team").map(String::as_str), Some("ml"));
    assert_eq!(running.instance_type_id.as_str(), "dmz_gh200x1_pdx");

    let listed = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].public_ip, running.public_ip);
    let by_id = client
        .list_instances(&ListInstancesArgs {
            instance_ids: vec![created.cloud_id.clone()],
            ..ListInstancesArgs::default()
        })
        .await
        .unwrap();
    assert_eq!(by_id.len(), 1);
    assert!(
        fake.state()
            .request_count("GET", "/v1/catalog/deployments/")
            > 0
    );

    client.terminate_instance(&created.cloud_id).await.unwrap();
    // Again while destroying, and once destroyed: already what was asked for.
    client.terminate_instance(&created.cloud_id).await.unwrap();
    assert_nothing_left(&fake).await;
    client.terminate_instance(&created.cloud_id).await.unwrap();
    client
        .terminate_instance(&InstanceId::new("5330c898-f3e7-4972-bfd0-1d438e3774d7"))
        .await
        .unwrap();
    assert!(
        client
            .list_instances(&ListInstancesArgs::default())
            .await
            .unwrap()
            .is_empty()
    );
    let gone = client
        .get_instance(&InstanceId::new("not-a-uuid"))
        .await
        .unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::InstanceNotFound);
}

#[tokio::test]
async fn failed_is_pending_until_retried_and_error_is_failed() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state()
        .set_launch_outcome(Some(LaunchOutcome::Retried));
    let created = validate_and_create(&client, &attrs("retried"))
        .await
        .unwrap();
    let id = uuid_of(&created.cloud_id);
    // Pinned in `failed`: pending, with the state's message, never Failed.
    fake.state().set_deployment_state(id, FakeState::Failed);
    let failed = client.get_instance(&created.cloud_id).await.unwrap();
    assert_eq!(failed.lifecycle(), LifecycleStatus::Pending);
    assert!(failed.status.messages[0].contains("may be retried"));
    fake.state().set_deployment_state(id, FakeState::Retrying);
    assert!(
        client
            .get_instance(&created.cloud_id)
            .await
            .unwrap()
            .status
            .messages[0]
            .contains("retrying")
    );
    fake.state().set_deployment_state(id, FakeState::Ready);
    wait_for(&client, &created.cloud_id, LifecycleStatus::Running).await;

    fake.state().set_launch_outcome(Some(LaunchOutcome::Error));
    let broken = validate_and_create(&client, &attrs("fatal")).await.unwrap();
    wait_for(&client, &broken.cloud_id, LifecycleStatus::Failed).await;
    // A failed deployment is not the live instance of its RefID, and LaunchPad keeps its
    // request id: a create with that RefID is a conflict naming it.
    let again = validate_and_create(&client, &attrs("fatal"))
        .await
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Conflict);
    assert!(
        again.to_string().contains(broken.cloud_id.as_str()),
        "{again}"
    );
    clean_up(&fake, &client).await;
}

fn uuid_of(id: &InstanceId) -> uuid::Uuid {
    id.as_str().parse().unwrap()
}

#[tokio::test]
async fn lists_read_every_page_and_keep_to_this_credential_unless_asked() {
    let fake = fake().await;
    let client = client(&fake);
    let mine = serde_json::Map::from_iter([
        (
            "gpucloud-cred-ref-id".to_owned(),
            serde_json::Value::from(CRED),
        ),
        (
            "gpucloud-ref-id".to_owned(),
            serde_json::Value::from("seeded"),
        ),
    ]);
    fake.state()
        .seed_deployments(1100, "oci", "A100", 8, "us-tx-1", &mine)
        .unwrap();
    let theirs = serde_json::Map::from_iter([("team".to_owned(), serde_json::Value::from("ml"))]);
    fake.state()
        .seed_deployments(1, "dmz", "H100", 1, "sjc", &theirs)
        .unwrap();
    fake.state().reset_request_counts();
    let listed = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1100);
    assert!(listed.iter().all(|i| !i.public_ip.is_empty()));
    assert_eq!(
        fake.state().request_count("GET", "/v1/catalog/deployments"),
        3,
        "three pages of 500"
    );
    let all = client
        .list_instances(&ListInstancesArgs {
            scope: InstanceScope::Account,
            ..ListInstancesArgs::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 1101);
    let foreign = all.iter().find(|i| i.location == "us-west").unwrap();
    assert!(foreign.ref_id.is_empty() && foreign.cloud_cred_ref_id.is_empty());
    let filtered = client
        .list_instances(&ListInstancesArgs {
            scope: InstanceScope::Account,
            locations: LocationsFilter::only(["us-west"]),
            ..ListInstancesArgs::default()
        })
        .await
        .unwrap();
    assert_eq!(filtered.len(), 1);
}

#[tokio::test]
async fn refusals_leave_nothing_and_say_why() {
    let fake = fake().await;
    let client = client(&fake);
    let mut unknown = attrs("nope");
    unknown.instance_type = "dmz_b300x8".into();
    let e = validate_and_create(&client, &unknown).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("instance_type"));
    let mut elsewhere = attrs("nope");
    elsewhere.location = "eu-north".into();
    let e = validate_and_create(&client, &elsewhere).await.unwrap_err();
    assert!(e.to_string().contains("pdx"), "{e}");
    // What LaunchPad cannot express is refused before any call.
    let mut ported = attrs("nope");
    ported
        .firewall_rules
        .ingress_rules
        .push(FirewallRule::port(8888));
    assert_eq!(
        validate_create(&ported, &client.create_features())
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    // No capacity: the API's answer, as its kind.
    fake.state().set_capacity("pdx", "dmz", "GH200", 1, 0);
    let e = validate_and_create(&client, &attrs("full"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InsufficientCapacity, "{e}");
    assert_eq!(
        fake.state()
            .request_count("POST", "/v1/catalog/deployments"),
        1
    );
    assert!(fake.state().deployments().is_empty());
}
