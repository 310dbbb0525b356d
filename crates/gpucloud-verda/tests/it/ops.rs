//! Every operation against the Verda fake: tokens, catalog, locations, create (keys reused,
//! scripts and volumes made and removed, idempotent by RefID, spot), get, list, stop, start
//! and terminate, and the errors of each.

use std::time::Duration;

use gpucloud_core::validate::validate_and_create;
use gpucloud_core::{
    Architecture, Bytes, BytesUnit, CloudClient, CloudClientExt, CloudCredential, ErrorKind,
    FirewallRule, GetInstanceTypeArgs, GetLocationsArgs, InstanceId, InstanceScope,
    LifecycleStatus, ListInstancesArgs, LocationsFilter,
};
use gpucloud_fakes::verda::{FakeStatus, FakeVerda, FakeVerdaOptions};
use gpucloud_verda::{VerdaConfig, VerdaCredential};

use crate::common::*;

#[tokio::test]
async fn one_token_serves_every_client_until_it_is_rejected() {
    let fake = fake().await;
    let credential = VerdaCredential::new(config(&fake, CRED)).unwrap();
    let a = credential.make_client("FIN-01").await.unwrap();
    let b = credential.make_client("ICE-01").await.unwrap();
    let args = ListInstancesArgs::default();
    let (x, y) = tokio::join!(a.list_instances(&args), b.list_instances(&args));
    x.unwrap();
    y.unwrap();
    assert_eq!(
        fake.state().tokens_issued(),
        1,
        "one token for both, fetched once"
    );
    fake.state().expire_tokens();
    a.list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert_eq!(
        fake.state().tokens_issued(),
        2,
        "a 401 fetches a new token once"
    );
    assert_eq!(fake.state().request_count("GET", "/v1/instances"), 4);
}

#[tokio::test]
async fn a_token_is_replaced_before_it_expires() {
    let fake = FakeVerda::start(FakeVerdaOptions {
        token_lifetime: Duration::from_secs(2),
        ..options()
    })
    .await
    .unwrap();
    let client = client(&fake);
    client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    // Half of a 2 s lifetime is the margin: after 1 s the token is replaced before use.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert_eq!(fake.state().tokens_issued(), 2);
    assert_eq!(
        fake.state().request_count("GET", "/v1/instances"),
        2,
        "no request went out with a stale token"
    );
}

#[tokio::test]
async fn wrong_client_credentials_are_unauthenticated_and_never_shown() {
    let fake = fake().await;
    let config =
        VerdaConfig::new(fake.client_id(), "not-the-secret").with_base_url(fake.base_url());
    let client = VerdaCredential::new(config).unwrap().client("");
    let error = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthenticated);
    let text = format!("{error} {error:?}");
    assert!(!text.contains("not-the-secret"), "{text}");
}

#[tokio::test]
async fn the_catalog_has_every_type_and_location_with_spot_offers() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state()
        .set_capacity("FIN-01", "8H100.80S.176V", true, 0);
    let all = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    let h100: Vec<_> = all
        .iter()
        .filter(|t| t.type_name == "8H100.80S.176V" && t.location == "FIN-01")
        .collect();
    assert_eq!(h100.len(), 2, "on demand and spot");
    let spot = h100.iter().find(|t| t.preemptible).unwrap();
    let on_demand = h100.iter().find(|t| !t.preemptible).unwrap();
    assert!(!spot.is_available && on_demand.is_available);
    assert!(
        spot.base_price.as_ref().unwrap().amount < on_demand.base_price.as_ref().unwrap().amount
    );
    assert_eq!(
        on_demand.supported_gpus[0].memory_bytes,
        Bytes::new(80, BytesUnit::GB)
    );
    let gb300 = all.iter().find(|t| t.type_name == "4GB300.144V").unwrap();
    assert_eq!(
        gb300.supported_architectures.as_slice(),
        [Architecture::Arm64]
    );
    assert!(
        !all.iter()
            .any(|t| t.type_name == "4GB300.144V" && t.preemptible),
        "no spot price"
    );
    let in_iceland = client
        .instance_types(&GetInstanceTypeArgs {
            locations: LocationsFilter::only(["ICE-01"]),
            ..GetInstanceTypeArgs::default()
        })
        .await
        .unwrap();
    assert!(!in_iceland.is_empty() && in_iceland.iter().all(|t| t.location == "ICE-01"));
    assert!(
        in_iceland
            .iter()
            .any(|t| t.type_name == "8B200.240V" && !t.is_available),
        "a type Verda does not sell there now is listed, unavailable"
    );
}

#[tokio::test]
async fn locations_are_available_when_something_is_orderable() {
    let fake = fake().await;
    let client = client(&fake);
    for t in gpucloud_fakes::verda::catalog::TYPES {
        fake.state()
            .set_capacity("ICE-01", t.instance_type, false, 0);
        fake.state()
            .set_capacity("ICE-01", t.instance_type, true, 0);
    }
    let available = client.locations(GetLocationsArgs::default()).await.unwrap();
    assert_eq!(
        available
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>(),
        ["FIN-01", "FIN-02", "FIN-03"]
    );
    let all = client
        .locations(GetLocationsArgs {
            include_unavailable: true,
        })
        .await
        .unwrap();
    let iceland = all.iter().find(|l| l.name == "ICE-01").unwrap();
    assert!(!iceland.available && iceland.country == "ISL");
}

#[tokio::test]
async fn a_create_makes_a_key_a_script_and_an_instance_and_terminate_removes_them_all() {
    let fake = fake().await;
    let client = client(&fake);
    let mut attrs = attrs("life-1");
    attrs
        .firewall_rules
        .ingress_rules
        .push(FirewallRule::port(8888));
    attrs.disk_size_bytes = Bytes::new(200, BytesUnit::GB);
    let created = validate_and_create(&client, &attrs).await.unwrap();
    assert_eq!(created.ref_id, "life-1");
    assert_eq!(created.cloud_cred_ref_id, CRED);
    assert_eq!(created.hostname, "box-life-1");
    assert_eq!(created.instance_type_id.as_str(), "FIN-01-noSub-1A100.22V");
    let keys = fake.state().ssh_keys();
    let scripts = fake.state().scripts();
    assert_eq!((keys.len(), scripts.len()), (1, 1));
    assert_eq!(keys[0].name, "gpucloud-life-1");
    assert!(
        scripts[0]
            .script
            .starts_with("#!/bin/sh\n# Written by gpucloud (verda)")
    );
    let on_fake = fake.state().instance(created.cloud_id.as_str()).unwrap();
    assert_eq!(
        on_fake.startup_script_id.as_deref(),
        Some(scripts[0].id.to_string().as_str())
    );
    assert_eq!(
        on_fake.image, "ubuntu-24.04-cuda-12.8-open-docker",
        "the default image"
    );
    assert_eq!(fake.state().volumes()[0].size_gb, 200);

    wait_for(&client, &created.cloud_id, LifecycleStatus::Running).await;
    let got = client.get_instance(&created.cloud_id).await.unwrap();
    assert!(!got.public_ip.is_empty() && got.stoppable && got.ssh_user == "root");
    let listed = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].instance_type_id, created.instance_type_id);

    client.terminate_instance(&created.cloud_id).await.unwrap();
    assert_nothing_left(&fake).await;
    // Terminating what is gone succeeds.
    client.terminate_instance(&created.cloud_id).await.unwrap();
    client
        .terminate_instance(&InstanceId::new("../nope"))
        .await
        .unwrap();
}

#[tokio::test]
async fn creates_are_idempotent_by_ref_id_and_keys_are_reused_by_public_key() {
    let fake = fake().await;
    let client = client(&fake);
    // The account holds the key already, in PEM under another name: it is reused.
    let pem = gpucloud_core::sshkey::parse_public_key(PUBLIC_KEY).unwrap();
    let pem_text = pem.to_openssh();
    let console_key = fake.state().add_ssh_key("laptop", &pem_text);
    let first = validate_and_create(&client, &attrs("same")).await.unwrap();
    let again = validate_and_create(&client, &attrs("same")).await.unwrap();
    assert_eq!(first.cloud_id, again.cloud_id);
    assert_eq!(live_instances(&fake), 1);
    assert_eq!(
        fake.state().ssh_keys().len(),
        1,
        "the account's key was used"
    );
    assert_eq!(
        fake.state()
            .instance(first.cloud_id.as_str())
            .unwrap()
            .ssh_key_ids,
        [console_key.to_string()]
    );
    // Another credential's RefID is not ours.
    let other = client_as(&fake, "other-cred");
    let theirs = validate_and_create(&other, &attrs("same")).await.unwrap();
    assert_ne!(theirs.cloud_id, first.cloud_id);
    assert!(
        other
            .list_instances(&ListInstancesArgs::default())
            .await
            .unwrap()
            .len()
            == 1
    );
    other.terminate_instance(&theirs.cloud_id).await.unwrap();
    client.terminate_instance(&first.cloud_id).await.unwrap();
    // The console's key stays: it is not this create's.
    assert!(fake.state().remove_ssh_key(console_key));
    assert_nothing_left(&fake).await;
}

#[tokio::test]
async fn a_spot_create_asks_for_spot_and_its_volume_goes_with_it() {
    let fake = fake().await;
    let client = client(&fake);
    let mut attrs = attrs("spot-1");
    attrs.use_spot = true;
    let created = validate_and_create(&client, &attrs).await.unwrap();
    assert!(created.spot && !created.stoppable);
    assert_eq!(
        created.instance_type_id.as_str(),
        "FIN-01-noSub-1A100.22V.spot"
    );
    assert_eq!(fake.state().capacity(LOCATION, A100, true), 7);
    let volume = &fake.state().volumes()[0];
    assert_eq!(
        volume.on_spot_discontinue.as_deref(),
        Some("delete_permanently")
    );
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    assert!(
        types.iter().any(|t| t.id == created.instance_type_id),
        "the catalog names it"
    );
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn stop_and_start_go_through_the_action_endpoint() {
    let fake = fake().await;
    let client = client(&fake);
    let created = validate_and_create(&client, &attrs("stop-1"))
        .await
        .unwrap();
    let stop_start = client.stop_start().unwrap();
    // Not running yet: a stop is a conflict naming the state.
    let early = stop_start
        .stop_instance(&created.cloud_id)
        .await
        .unwrap_err();
    assert_eq!(early.kind(), ErrorKind::Conflict, "{early}");
    wait_for(&client, &created.cloud_id, LifecycleStatus::Running).await;
    stop_start.stop_instance(&created.cloud_id).await.unwrap();
    wait_for(&client, &created.cloud_id, LifecycleStatus::Stopped).await;
    let again = stop_start
        .stop_instance(&created.cloud_id)
        .await
        .unwrap_err();
    assert!(
        again.kind() == ErrorKind::Conflict && again.to_string().contains("offline"),
        "{again}"
    );
    stop_start.start_instance(&created.cloud_id).await.unwrap();
    wait_for(&client, &created.cloud_id, LifecycleStatus::Running).await;
    let missing = stop_start
        .stop_instance(&InstanceId::new("6f1c2a3b-0000-4000-8000-000000000000"))
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::InstanceNotFound);
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn no_capacity_is_insufficient_capacity_and_leaves_nothing() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state().set_capacity(LOCATION, A100, false, 0);
    let error = validate_and_create(&client, &attrs("full"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InsufficientCapacity, "{error}");
    assert_nothing_left(&fake).await;
}

#[tokio::test]
async fn an_instance_that_ends_without_capacity_or_in_error_is_deleted() {
    for (status, kind) in [
        (FakeStatus::NoCapacity, ErrorKind::InsufficientCapacity),
        (FakeStatus::Error, ErrorKind::InstanceFailed),
    ] {
        let fake = fake().await;
        let client = client(&fake);
        fake.state().set_launch_outcome(Some(status));
        let error = validate_and_create(&client, &attrs("doomed"))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), kind, "{status:?}: {error}");
        assert_nothing_left(&fake).await;
    }
}

#[tokio::test]
async fn bad_input_is_refused_before_any_request() {
    let fake = fake().await;
    let client = VerdaCredential::new(config(&fake, CRED))
        .unwrap()
        .client("");
    let mut no_location = attrs("x");
    no_location.location.clear();
    let mut tiny_disk = attrs("x");
    tiny_disk.disk_size_bytes = Bytes::new(10, BytesUnit::GB);
    let mut cloud_config = attrs("x");
    cloud_config.user_data_base64 = base64_of("#cloud-config\npackages: [htop]\n");
    let mut long_ref = attrs(&"r".repeat(120));
    long_ref.name = "n".into();
    for (attrs, field) in [
        (no_location, "location"),
        (tiny_disk, "disk_size_bytes"),
        (cloud_config, "user_data_base64"),
        (long_ref, "ref_id"),
    ] {
        let error = validate_and_create(&client, &attrs).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{field}: {error}");
        assert!(error.to_string().contains(field), "{field}: {error}");
    }
    assert_eq!(fake.state().request_count("POST", "/v1/"), 0);
    assert_eq!(fake.state().request_count("GET", "/v1/"), 0);
}

#[tokio::test]
async fn a_script_user_data_is_carried_in_the_startup_script() {
    let fake = fake().await;
    let client = client(&fake);
    let mut attrs = attrs("ud");
    attrs.user_data_base64 = base64_of("#!/bin/sh\necho hello > /tmp/hello\n");
    validate_and_create(&client, &attrs).await.unwrap();
    let script = &fake.state().scripts()[0].script;
    assert!(script.contains(&base64_of("#!/bin/sh\necho hello > /tmp/hello\n")));
    clean_up(&fake, &client).await;
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn the_account_scope_lists_instances_made_outside_gpucloud() {
    let fake = fake().await;
    let client = client(&fake);
    let ours = validate_and_create(&client, &attrs("scope-1"))
        .await
        .unwrap();
    // One made in Verda's console (no description of ours) and one by another credential.
    let theirs = fake
        .state()
        .seed_instances(1, LOCATION, A100, "")
        .unwrap()
        .remove(0)
        .to_string();
    let other = validate_and_create(&client_as(&fake, "cred-other"), &attrs("scope-2"))
        .await
        .unwrap();

    let mine = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].cloud_id, ours.cloud_id);
    let account = ListInstancesArgs {
        scope: InstanceScope::Account,
        ..ListInstancesArgs::default()
    };
    let every = client.list_instances(&account).await.unwrap();
    assert_eq!(every.len(), 3, "{every:?}");
    let foreign = every
        .iter()
        .find(|i| i.cloud_id.as_str() == theirs)
        .expect("the unmarked instance is listed");
    assert_eq!(
        (foreign.ref_id.as_str(), foreign.cloud_cred_ref_id.as_str()),
        ("", "")
    );
    assert!(!foreign.is_managed_by(CRED));
    let others = every.iter().find(|i| i.cloud_id == other.cloud_id).unwrap();
    assert_eq!(others.cloud_cred_ref_id, "cred-other");
    assert!(!others.is_managed_by(CRED));
    assert!(
        every
            .iter()
            .any(|i| i.cloud_id == ours.cloud_id && i.is_managed_by(CRED))
    );
    let by_id = ListInstancesArgs {
        instance_ids: vec![InstanceId::new(&theirs)],
        ..account
    };
    assert_eq!(
        client.list_instances(&by_id).await.unwrap().len(),
        1,
        "filters still apply"
    );
    // Terminating someone else's instance by id still works, and touches only that instance.
    for instance in every {
        client.terminate_instance(&instance.cloud_id).await.unwrap();
    }
}
