//! Every operation against the stateful Shadeform fake: create (key reuse, launch script,
//! bookkeeping, region resolution, allow-list), idempotency, out-of-stock, get/list, status
//! mapping, terminate, reboot, tags, catalog filters and locations; each test ends with
//! nothing left on the fake.

use std::collections::BTreeMap;

use base64::Engine as _;
use gpucloud_core::validate::{validate_and_create, validate_tag_update};
use gpucloud_core::{
    Architecture, ArchitectureFilter, CloudClient, CloudClientExt, CloudFilter, ErrorKind,
    FirewallRule, FirewallRules, GetInstanceTypeArgs, GetLocationsArgs, GpuManufacturerFilter,
    InstanceId, InstanceScope, LifecycleStatus, ListInstancesArgs, LocationsFilter, Manufacturer,
    UpdateInstanceTagsArgs,
};
use gpucloud_fakes::shadeform::catalog::OFFERS;
use gpucloud_fakes::shadeform::{FakeStatus, Operation, SSH_USER};
use gpucloud_shadeform::ShadeformCredential;

use crate::common::*;

fn decode(b64: &str) -> String {
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

/// The parts the launch script writes from base64, decoded.
fn script_parts(script: &str) -> String {
    script
        .split('\'')
        .filter_map(|piece| base64::engine::general_purpose::STANDARD.decode(piece).ok())
        .filter_map(|b| String::from_utf8(b).ok())
        .collect()
}

#[tokio::test]
async fn create_adds_a_key_named_after_it_and_sends_the_launch_script_and_bookkeeping() {
    let fake = fake().await;
    let client = client(&fake);
    let mut a = attrs("ref-1");
    a.name = "Train Job #1".into();
    a.tags = BTreeMap::from([("team".into(), "ml".into())]);
    a.user_data_base64 = base64::engine::general_purpose::STANDARD.encode("#!/bin/sh\necho mine\n");
    a.firewall_rules = FirewallRules {
        ingress_rules: vec![FirewallRule::port(8080)],
        egress_rules: vec![],
    };
    let created = validate_and_create(&client, &a).await.unwrap();
    assert_eq!(created.lifecycle(), LifecycleStatus::Pending);
    assert_eq!(
        (created.ref_id.as_str(), created.cloud_cred_ref_id.as_str()),
        ("ref-1", CRED)
    );
    assert_eq!(
        (created.location.as_str(), created.sub_location.as_str()),
        ("ca-central", "canada-1")
    );
    assert_eq!(created.instance_type, A6000);
    assert_eq!(
        created.instance_type_id.as_str(),
        "hyperstack_A6000_canada-1"
    );
    assert_eq!(created.hostname, "train-job-1");
    assert_eq!(created.tags, BTreeMap::from([("team".into(), "ml".into())]));
    assert!(created.pub_key_fingerprint.starts_with("SHA256:"));

    let keys = added_keys(&fake);
    assert_eq!(keys.len(), 1, "one key added");
    assert!(keys[0].starts_with("gpucloud-"), "{keys:?}");
    let stored = &fake.state().instances()[0];
    let key = fake
        .state()
        .ssh_keys()
        .into_iter()
        .find(|k| k.name == keys[0])
        .unwrap();
    assert_eq!(
        stored.ssh_key_id,
        key.id.to_string(),
        "never the account's default key"
    );
    assert_eq!(
        (stored.cloud.as_str(), stored.region.as_str()),
        ("hyperstack", "canada-1")
    );
    assert_eq!(stored.name, "Train Job #1");
    assert!(stored.tags.contains(&"gpucloud-ref-id=ref-1".to_owned()));
    assert!(
        stored
            .tags
            .contains(&format!("gpucloud-cred-ref-id={CRED}"))
    );
    assert!(
        stored
            .tags
            .iter()
            .any(|t| t.starts_with("gpucloud-created-at="))
    );
    assert!(stored.tags.contains(&"team=ml".to_owned()));
    let script = decode(stored.launch_script.as_deref().expect("a launch script"));
    assert!(script.starts_with("#!/bin/sh\n"), "{script}");
    assert!(script.contains("hostname 'train-job-1'"));
    let parts = script_parts(&script);
    assert!(parts.contains("echo mine"), "the user's script is kept");
    assert!(
        parts.contains("dport 8080 accept"),
        "the rule is in the firewall: {parts}"
    );
    assert!(parts.contains("policy drop"), "default deny: {parts}");
    assert!(parts.contains("AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T"));

    wait_for(&client, &created.cloud_id, LifecycleStatus::Running).await;
    let got = client.get_instance(&created.cloud_id).await.unwrap();
    assert!(!got.public_ip.is_empty());
    assert_eq!((got.ssh_user.as_str(), got.ssh_port), (SSH_USER, 22));
    let listed = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, got.name, "get and list name alike");
    assert_eq!(listed[0].instance_type_id, got.instance_type_id);
    assert_eq!(listed[0].hostname, got.hostname);
    assert_eq!(listed[0].tags, got.tags);

    // A second create with the same key reuses the key.
    validate_and_create(&client, &attrs("ref-2")).await.unwrap();
    assert_eq!(
        added_keys(&fake).len(),
        1,
        "the key is found by its public key"
    );
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn a_key_the_account_holds_is_reused_whatever_its_name_or_comment() {
    let fake = fake().await;
    let client = client(&fake);
    let body = PUBLIC_KEY.rsplit_once(' ').unwrap().0;
    let mine = fake
        .state()
        .add_ssh_key("laptop", &format!("{body} someone@else"));
    validate_and_create(&client, &attrs("reuse")).await.unwrap();
    assert_eq!(fake.state().instances()[0].ssh_key_id, mine.to_string());
    assert_eq!(added_keys(&fake), ["laptop"], "nothing added");
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn a_derived_name_held_by_another_key_is_a_conflict_never_the_default_key() {
    // Learn the name derived from OTHER_KEY on one fake.
    let first = fake().await;
    let c = client(&first);
    let mut a = attrs("learn");
    a.public_key = OTHER_KEY.into();
    validate_and_create(&c, &a).await.unwrap();
    let derived = added_keys(&first).pop().unwrap();
    clean_up(&first, &c).await;

    // On another account that name holds a different key.
    let fake = fake().await;
    let client = client(&fake);
    fake.state().add_ssh_key(&derived, PUBLIC_KEY);
    let mut a = attrs("collide");
    a.public_key = OTHER_KEY.into();
    let err = validate_and_create(&client, &a).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains(&derived), "{err}");
    assert_eq!(
        live_instances(&fake),
        0,
        "nothing launched with the default key"
    );
    assert_eq!(
        fake.state().request_count("POST", "/v1/instances/create"),
        0
    );
}

#[tokio::test]
async fn create_is_idempotent_by_ref_id_and_a_terminated_one_is_not_returned() {
    let fake = fake().await;
    let client = client(&fake);
    let one = validate_and_create(&client, &attrs("same")).await.unwrap();
    let two = validate_and_create(&client, &attrs("same")).await.unwrap();
    assert_eq!(one.cloud_id, two.cloud_id);
    assert_eq!(fake.state().instances().len(), 1);
    // Another credential's RefID is not this one's.
    let other = client_as(&fake, "cred-other");
    let theirs = validate_and_create(&other, &attrs("same")).await.unwrap();
    assert_ne!(theirs.cloud_id, one.cloud_id);
    client.terminate_instance(&one.cloud_id).await.unwrap();
    let three = validate_and_create(&client, &attrs("same")).await.unwrap();
    assert_ne!(
        three.cloud_id, one.cloud_id,
        "a deleting instance is not the RefID's"
    );
    clean_up_all(&fake, &[&client, &other]).await;
}

#[tokio::test]
async fn out_of_stock_is_insufficient_capacity_and_leaves_nothing() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state().set_capacity("canada-1", A6000, 0);
    let err = validate_and_create(&client, &attrs("oos"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientCapacity, "{err}");
    assert!(!err.outcome_unknown());
    assert_nothing_left(&fake).await;
}

#[tokio::test]
async fn the_region_comes_from_the_sub_location_or_the_location() {
    let fake = fake().await;
    let client = client(&fake);
    let mut by_sub = attrs("sub");
    by_sub.location = String::new();
    by_sub.sub_location = "norway-1".into();
    let i = validate_and_create(&client, &by_sub).await.unwrap();
    assert_eq!(
        (i.location.as_str(), i.sub_location.as_str()),
        ("eu-north", "norway-1")
    );
    let mut by_region = attrs("region");
    by_region.location = "norway-1".into();
    assert_eq!(
        validate_and_create(&client, &by_region)
            .await
            .unwrap()
            .sub_location,
        "norway-1"
    );
    // A location with several regions prefers one with capacity.
    fake.state().set_capacity("canada-1", A6000, 0);
    let mut anywhere = attrs("any");
    anywhere.location = String::new();
    assert_eq!(
        validate_and_create(&client, &anywhere)
            .await
            .unwrap()
            .sub_location,
        "norway-1"
    );
    for (location, sub, field) in [
        ("us-west", "", "location"),
        ("ca-central", "norway-1", "sub_location"),
    ] {
        let mut bad = attrs("bad");
        bad.location = location.into();
        bad.sub_location = sub.into();
        let err = validate_and_create(&client, &bad).await.unwrap_err();
        assert!(
            matches!(&err, gpucloud_core::CloudError::InvalidArgument { field: f, .. } if f == field),
            "{err}"
        );
    }
    let mut unknown = attrs("nope");
    unknown.instance_type = "hyperstack_Z999".into();
    assert_eq!(
        validate_and_create(&client, &unknown)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    unknown.instance_type = "A6000".into();
    let err = validate_and_create(&client, &unknown).await.unwrap_err();
    assert!(err.to_string().contains("<cloud>_<shade type>"), "{err}");
    clean_up(&fake, &client).await;
    assert_eq!(added_keys(&fake).len(), 1, "failed creates added no key");
}

#[tokio::test]
async fn the_allow_list_limits_the_catalog_and_creates() {
    let fake = fake().await;
    let client = ShadeformCredential::new(config(&fake, CRED).with_allowed("hyperstack", "A4000"))
        .unwrap()
        .client("");
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    assert!(!types.is_empty());
    assert!(
        types.iter().all(|t| t.type_name == "hyperstack_A4000"),
        "{types:?}"
    );
    let err = validate_and_create(&client, &attrs("not-allowed"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("SHADEFORM_ALLOWED_TYPES"), "{err}");
    let mut allowed = attrs("allowed");
    allowed.instance_type = "hyperstack_A4000".into();
    validate_and_create(&client, &allowed).await.unwrap();
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn user_data_must_be_a_script_and_images_must_be_offered() {
    let fake = fake().await;
    let client = client(&fake);
    let mut cloud_config = attrs("cc");
    cloud_config.user_data_base64 =
        base64::engine::general_purpose::STANDARD.encode("#cloud-config\npackages: [htop]\n");
    let err = validate_and_create(&client, &cloud_config)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("user_data_base64"), "{err}");
    let mut image = attrs("img");
    image.image_id = "windows-95".into();
    let err = validate_and_create(&client, &image).await.unwrap_err();
    assert!(err.to_string().contains("image_id"), "{err}");
    assert_eq!(
        fake.state().request_count("POST", "/v1/"),
        0,
        "refused before any change"
    );
    image.image_id = "ubuntu20.04_cuda12.0_shade_os".into();
    let created = validate_and_create(&client, &image).await.unwrap();
    assert_eq!(created.image_id, "ubuntu20.04_cuda12.0_shade_os");
    let mut bad_tag = attrs("tag");
    bad_tag.tags = BTreeMap::from([("a=b".into(), "c".into())]);
    assert_eq!(
        validate_and_create(&client, &bad_tag)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn terminate_maps_deleting_and_is_idempotent() {
    let fake = fake().await;
    let client = client(&fake);
    let created = validate_and_create(&client, &attrs("bye")).await.unwrap();
    client.terminate_instance(&created.cloud_id).await.unwrap();
    let seen = client.get_instance(&created.cloud_id).await.unwrap();
    assert_eq!(
        seen.lifecycle(),
        LifecycleStatus::Terminating,
        "deleting is not pending"
    );
    client.terminate_instance(&created.cloud_id).await.unwrap();
    assert_no_instances(&fake).await;
    let err = client.get_instance(&created.cloud_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InstanceNotFound);
    client.terminate_instance(&created.cloud_id).await.unwrap();
    client
        .terminate_instance(&InstanceId::new("not-a-uuid"))
        .await
        .unwrap();
    let bogus = InstanceId::new("../sshkeys");
    assert_eq!(
        client.get_instance(&bogus).await.unwrap_err().kind(),
        ErrorKind::InstanceNotFound
    );
}

#[tokio::test]
async fn failed_instances_are_failed_and_deleted_ones_terminated() {
    let fake = fake().await;
    let client = client(&fake);
    let created = validate_and_create(&client, &attrs("fail")).await.unwrap();
    let id = uuid::Uuid::parse_str(created.cloud_id.as_str()).unwrap();
    fake.state().set_instance_status(id, FakeStatus::Error);
    let seen = client.get_instance(&created.cloud_id).await.unwrap();
    assert_eq!(seen.lifecycle(), LifecycleStatus::Failed);
    assert!(!seen.status.messages.is_empty());
    // A failed instance is not the RefID's: a new create launches.
    let again = validate_and_create(&client, &attrs("fail")).await.unwrap();
    assert_ne!(again.cloud_id, created.cloud_id);
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn reboot_restarts_active_instances_only() {
    let fake = fake().await;
    let client = client(&fake);
    let created = validate_and_create(&client, &attrs("boot")).await.unwrap();
    let reboot = client.reboot().unwrap();
    let err = reboot.reboot_instance(&created.cloud_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(
        err.to_string().contains("creating") || err.to_string().contains("pending"),
        "{err}"
    );
    wait_for(&client, &created.cloud_id, LifecycleStatus::Running).await;
    assert!(
        client
            .get_instance(&created.cloud_id)
            .await
            .unwrap()
            .rebootable
    );
    reboot.reboot_instance(&created.cloud_id).await.unwrap();
    let id = uuid::Uuid::parse_str(created.cloud_id.as_str()).unwrap();
    assert_eq!(fake.state().instance(id).unwrap().restarts, 1);
    assert_eq!(
        client
            .get_instance(&created.cloud_id)
            .await
            .unwrap()
            .lifecycle(),
        LifecycleStatus::Running
    );
    let gone = InstanceId::new(uuid::Uuid::new_v4().to_string());
    assert_eq!(
        reboot.reboot_instance(&gone).await.unwrap_err().kind(),
        ErrorKind::InstanceNotFound
    );
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn tag_updates_replace_user_tags_and_keep_the_bookkeeping() {
    let fake = fake().await;
    let client = client(&fake);
    let mut a = attrs("tags");
    a.tags = BTreeMap::from([("old".into(), "1".into())]);
    let created = validate_and_create(&client, &a).await.unwrap();
    let update = validate_tag_update(&UpdateInstanceTagsArgs {
        instance_id: created.cloud_id.clone(),
        tags: BTreeMap::from([("new".into(), "2".into())]),
    })
    .unwrap();
    client
        .tags()
        .unwrap()
        .update_instance_tags(&update)
        .await
        .unwrap();
    let seen = client.get_instance(&created.cloud_id).await.unwrap();
    assert_eq!(seen.tags, BTreeMap::from([("new".into(), "2".into())]));
    assert_eq!(
        (seen.ref_id.as_str(), seen.cloud_cred_ref_id.as_str()),
        ("tags", CRED)
    );
    assert_eq!(seen.created_at, created.created_at);
    // Still found by RefID: an idempotent create returns it.
    assert_eq!(
        validate_and_create(&client, &attrs("tags"))
            .await
            .unwrap()
            .cloud_id,
        created.cloud_id
    );
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn list_honours_every_filter_and_shows_only_this_credentials_instances() {
    let fake = fake().await;
    let client = client(&fake);
    let mut a = attrs("l1");
    a.tags = BTreeMap::from([("team".into(), "a".into())]);
    let one = validate_and_create(&client, &a).await.unwrap();
    let mut b = attrs("l2");
    b.location = "eu-north".into();
    let two = validate_and_create(&client, &b).await.unwrap();
    let other = client_as(&fake, "someone-else");
    validate_and_create(&other, &attrs("l3")).await.unwrap();
    let all = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let by_tag = client
        .list_instances(&ListInstancesArgs {
            tag_filters: BTreeMap::from([("team".into(), vec!["a".into()])]),
            ..ListInstancesArgs::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_tag.iter().map(|i| &i.cloud_id).collect::<Vec<_>>(),
        [&one.cloud_id]
    );
    let by_location = client
        .list_instances(&ListInstancesArgs {
            locations: LocationsFilter::only(["eu-north"]),
            ..ListInstancesArgs::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_location.iter().map(|i| &i.cloud_id).collect::<Vec<_>>(),
        [&two.cloud_id]
    );
    let by_id = client
        .list_instances(&ListInstancesArgs {
            instance_ids: vec![two.cloud_id.clone()],
            ..ListInstancesArgs::default()
        })
        .await
        .unwrap();
    assert_eq!(by_id.len(), 1);
    clean_up_all(&fake, &[&client, &other]).await;
}

#[tokio::test]
async fn the_catalog_is_one_entry_per_cloud_type_and_region_with_every_filter() {
    let fake = fake().await;
    let client = client(&fake);
    let all = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    let expected: usize = OFFERS.iter().map(|o| o.regions.len()).sum();
    assert_eq!(all.len(), expected);
    assert!(
        all.iter()
            .all(|t| t.provider == "shadeform" && t.base_price.is_some())
    );
    let clouds: std::collections::BTreeSet<&str> = all.iter().map(|t| t.cloud.as_str()).collect();
    assert!(clouds.len() >= 4 && clouds.contains("shadeform") && !clouds.contains("excesssupply"));
    for id in [
        "verda_B200_helsinki-finland-5",
        "massedcompute_L40_desmoines-usa-1",
    ] {
        assert!(all.iter().any(|t| t.id.as_str() == id), "{id}");
    }
    let h100 = all
        .iter()
        .filter(|t| t.supported_gpus.iter().any(|g| g.name == "H100"))
        .count();
    assert!(h100 >= 4, "H100 from several clouds");
    let ids: std::collections::BTreeSet<_> = all.iter().map(|t| &t.id).collect();
    assert_eq!(ids.len(), all.len(), "ids are unique");

    let run = |args: GetInstanceTypeArgs| {
        let client = client.clone();
        async move { client.instance_types(&args).await.unwrap() }
    };
    let verda = run(GetInstanceTypeArgs {
        cloud_filter: Some(CloudFilter::include(vec!["verda".into()])),
        ..GetInstanceTypeArgs::default()
    })
    .await;
    assert!(!verda.is_empty() && verda.iter().all(|t| t.cloud == "verda"));
    let own = run(GetInstanceTypeArgs {
        cloud_filter: Some(CloudFilter::include(vec!["shadeform".into()])),
        ..GetInstanceTypeArgs::default()
    })
    .await;
    assert_eq!(
        own.iter()
            .map(|t| t.type_name.as_str())
            .collect::<std::collections::BTreeSet<_>>(),
        ["excesssupply_A100_80G", "excesssupply_L40S"].into()
    );
    let named = run(GetInstanceTypeArgs {
        instance_types: vec!["lambdalabs_H100".into(), "verda_B200".into()],
        ..GetInstanceTypeArgs::default()
    })
    .await;
    assert_eq!(named.len(), 4);
    let one_name = run(GetInstanceTypeArgs {
        instance_types: vec!["verda_B200".into()],
        locations: LocationsFilter::only(["eu-north"]),
        ..GetInstanceTypeArgs::default()
    })
    .await;
    assert_eq!(one_name.len(), 2);
    let arm = run(GetInstanceTypeArgs {
        architecture_filter: Some(ArchitectureFilter::include(vec![Architecture::Arm64])),
        ..GetInstanceTypeArgs::default()
    })
    .await;
    assert!(!arm.is_empty() && arm.iter().all(|t| t.type_name == "lambdalabs_GH200"));
    let amd = run(GetInstanceTypeArgs {
        gpu_manufacturer_filter: Some(GpuManufacturerFilter::include(vec![Manufacturer::Amd])),
        ..GetInstanceTypeArgs::default()
    })
    .await;
    assert!(amd.is_empty());
    let us_central = run(GetInstanceTypeArgs {
        locations: LocationsFilter::only(["us-central"]),
        ..GetInstanceTypeArgs::default()
    })
    .await;
    assert!(us_central.iter().all(|t| t.location == "us-central"));
    let regions: std::collections::BTreeSet<&str> =
        us_central.iter().map(|t| t.sub_location.as_str()).collect();
    assert!(
        regions.len() >= 3,
        "several clouds' regions in one location: {regions:?}"
    );

    fake.state().set_capacity("canada-1", A6000, 0);
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    let entry = types
        .iter()
        .find(|t| t.id.as_str() == "hyperstack_A6000_canada-1")
        .unwrap();
    assert!(!entry.is_available, "availability follows capacity");
}

#[tokio::test]
async fn locations_group_regions_and_follow_availability() {
    let fake = fake().await;
    let client = client(&fake);
    let all = client
        .locations(GetLocationsArgs {
            include_unavailable: true,
        })
        .await
        .unwrap();
    let names: Vec<(&str, &str)> = all
        .iter()
        .map(|l| (l.name.as_str(), l.country.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("ap-northeast", "JPN"),
            ("ap-south", "IND"),
            ("ca-central", "CAN"),
            ("eu-central", "POL"),
            ("eu-north", ""),
            ("eu-west", "FRA"),
            ("us-central", "USA"),
            ("us-east", "USA"),
            ("us-south", "USA"),
            ("us-west", "USA"),
        ],
        "every region of the fake's ten clouds in a location by rule"
    );
    let regions: std::collections::BTreeSet<&str> = OFFERS
        .iter()
        .flat_map(|o| o.regions.iter().map(|r| r.region))
        .collect();
    assert!(
        all.iter().all(|l| !regions.contains(l.name.as_str())),
        "no region is a location of its own"
    );
    assert!(all.iter().all(|l| l.available));
    let north = &all[4];
    assert!(
        north.description.contains("helsinki-finland-5") && north.description.contains("norway-1"),
        "{north:?}"
    );
    // Every offer of every region in us-west out of stock: the location is unavailable.
    let west = client
        .instance_types(&GetInstanceTypeArgs {
            locations: LocationsFilter::only(["us-west"]),
            ..GetInstanceTypeArgs::default()
        })
        .await
        .unwrap();
    assert!(west.len() >= 4, "{west:?}");
    for entry in &west {
        fake.state()
            .set_capacity(&entry.sub_location, &entry.type_name, 0);
    }
    let available = client
        .locations(GetLocationsArgs {
            include_unavailable: false,
        })
        .await
        .unwrap();
    assert!(!available.iter().any(|l| l.name == "us-west"));
    let everything = client
        .locations(GetLocationsArgs {
            include_unavailable: true,
        })
        .await
        .unwrap();
    assert!(
        everything
            .iter()
            .any(|l| l.name == "us-west" && !l.available)
    );
}

#[tokio::test]
async fn a_wrong_key_is_unauthenticated_and_never_shown() {
    let fake = fake().await;
    let client = ShadeformCredential::new(
        gpucloud_shadeform::ShadeformConfig::new("wrong-secret-key").with_base_url(fake.base_url()),
    )
    .unwrap()
    .client("");
    let err = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(!format!("{err} {err:?}").contains("wrong-secret-key"));
}

#[tokio::test]
async fn live_region_names_and_suffixed_types_are_placed_launched_and_read() {
    let fake = fake().await;
    let client = client(&fake);
    let all = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    for entry in &all {
        for gpu in &entry.supported_gpus {
            assert!(
                gpu.name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ')
                    && !gpu.name.contains("SXM")
                    && !gpu.name.contains("PLUS"),
                "{}: GPU {:?}",
                entry.id,
                gpu.name
            );
        }
    }
    let entry = |id: &str| all.iter().find(|t| t.id.as_str() == id).unwrap();
    let denvr = entry("denvr_H100x8-2_houston-usa-2");
    assert_eq!(
        (
            denvr.location.as_str(),
            denvr.supported_gpus[0].name.as_str(),
            denvr.supported_gpus[0].count
        ),
        ("us-south", "H100", 8)
    );
    let crusoe = entry("crusoe_A100_80G_sxm4x8_calgary-canada-1");
    assert_eq!(
        (
            crusoe.location.as_str(),
            crusoe.supported_gpus[0].name.as_str()
        ),
        ("ca-central", "A100")
    );
    assert_eq!(
        entry("vultr_H100_sxm5x8-plus_tokyo-japan-5").location,
        "ap-northeast"
    );

    let mut big = attrs("suffixed");
    big.instance_type = "denvr_H100x8-2".into();
    big.location = "us-south".into();
    let created = validate_and_create(&client, &big).await.unwrap();
    assert_eq!(created.location, "us-south");
    assert!(
        created.sub_location.starts_with("houston-usa-"),
        "{}",
        created.sub_location
    );
    assert!(
        all.iter().any(|t| t.id == created.instance_type_id),
        "the instance finds its catalog entry: {}",
        created.instance_type_id
    );
    assert!(
        created
            .status
            .messages
            .iter()
            .any(|m| m == "shadeform expects it to boot in 600-1800 s"),
        "{:?}",
        created.status.messages
    );
    wait_for(&client, &created.cloud_id, LifecycleStatus::Running).await;
    let running = client.get_instance(&created.cloud_id).await.unwrap();
    assert_eq!(running.image_id, "ubuntu22.04_cuda12.8_shade_os");
    assert!(
        running.status.messages.len() == 2
            && running.status.messages[0].starts_with("active since ")
            && running.status.messages[1].starts_with("cost so far ")
            && running.status.messages[1].ends_with(" USD"),
        "{:?}",
        running.status.messages
    );
    let listed = client
        .list_instances(&ListInstancesArgs {
            locations: LocationsFilter::only(["us-south"]),
            ..ListInstancesArgs::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].sub_location, created.sub_location);
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn the_random_fault_modes_slow_boots_are_pending_and_its_failures_failed() {
    // Provisioning is quick; a slow boot is then `pending` for two seconds, long enough for
    // the polling below to see it however loaded the machine.
    let fake = gpucloud_fakes::shadeform::FakeShadeform::start(
        gpucloud_fakes::shadeform::FakeShadeformOptions {
            creating_delay: std::time::Duration::from_millis(10),
            pending_provider_delay: std::time::Duration::from_secs(2),
            deleting_delay: std::time::Duration::from_millis(10),
            deleted_delay: std::time::Duration::from_millis(10),
            ..gpucloud_fakes::shadeform::FakeShadeformOptions::default()
        },
    )
    .await
    .unwrap();
    let client = client(&fake);
    fake.state().set_capacity("canada-1", A6000, 100);
    // Every launch draws a fault of its own, one draw per launch: the first seed whose four
    // draws hold both kinds. No request is faulted.
    let seed = (0..1000)
        .find(|seed| {
            let faults = gpucloud_fakes::kit::Faults::<Operation>::random(*seed, 1.0, &[]);
            let drawn: Vec<_> = (0..4).map(|_| faults.draw_outcome(2)).collect();
            drawn.contains(&Some(0)) && drawn.contains(&Some(1))
        })
        .unwrap();
    fake.state().faults().set_random(seed, 1.0, &[]);
    let mut ids = Vec::new();
    for i in 0..4 {
        let created = validate_and_create(&client, &attrs(&format!("random-{i}")))
            .await
            .unwrap();
        assert_eq!(created.lifecycle(), LifecycleStatus::Pending);
        ids.push(created.cloud_id);
    }
    // What the provider reports of each until all settled: running or failed.
    let mut seen: BTreeMap<InstanceId, Vec<(LifecycleStatus, Vec<String>)>> = BTreeMap::new();
    for _ in 0..3000 {
        let mut settled = true;
        for id in &ids {
            let i = client.get_instance(id).await.unwrap();
            settled &= matches!(
                i.lifecycle(),
                LifecycleStatus::Running | LifecycleStatus::Failed
            );
            let history = seen.entry(id.clone()).or_default();
            let now = (i.lifecycle(), i.status.messages);
            if history.last() != Some(&now) {
                history.push(now);
            }
        }
        if settled {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let last = |history: &Vec<(LifecycleStatus, Vec<String>)>| history.last().unwrap().0;
    let failed: Vec<_> = seen
        .values()
        .filter(|h| last(h) == LifecycleStatus::Failed)
        .collect();
    let came_up: Vec<_> = seen
        .values()
        .filter(|h| last(h) == LifecycleStatus::Running)
        .collect();
    assert_eq!(failed.len() + came_up.len(), ids.len(), "all settled");
    assert!(!failed.is_empty() && !came_up.is_empty(), "{seen:?}");
    for history in &failed {
        let messages = &history.last().unwrap().1;
        assert_eq!(
            messages[..2],
            [
                "shadeform reports the instance in error".to_owned(),
                "the upstream cloud could not provision the instance".to_owned()
            ]
        );
        assert!(
            history.iter().all(|(s, _)| *s != LifecycleStatus::Running),
            "never running: {history:?}"
        );
    }
    // A slow boot is still pending while Shadeform says it is downloading.
    assert!(
        came_up
            .iter()
            .any(|h| h.iter().any(|(s, m)| *s == LifecycleStatus::Pending
                && m.first().is_some_and(|m| m == "downloading"))),
        "{came_up:?}"
    );
    clean_up(&fake, &client).await;
}

/// An instance made outside gpucloud (Shadeform's console or API) carries no mark: a list
/// hides it by default and the account scope reports it, with no RefID or credential.
#[tokio::test]
async fn the_account_scope_lists_instances_made_outside_gpucloud() {
    let fake = fake().await;
    let client = client(&fake);
    let ours = validate_and_create(&client, &attrs("ref-o")).await.unwrap();
    // Shadeform's own region of the offer: the instance's sub-location.
    let region = ours.sub_location.clone();
    let theirs = fake
        .state()
        .seed_instances(1, &region, A6000, &["team=web".to_owned()], None)
        .unwrap()
        .remove(0);

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
    assert_eq!(every.len(), 2, "{every:?}");
    let foreign = every
        .iter()
        .find(|i| i.cloud_id.as_str() == theirs.to_string())
        .expect("the unmarked instance is listed");
    assert_eq!(
        (foreign.ref_id.as_str(), foreign.cloud_cred_ref_id.as_str()),
        ("", "")
    );
    assert!(!foreign.is_managed_by(CRED));
    assert!(
        every
            .iter()
            .any(|i| i.cloud_id == ours.cloud_id && i.is_managed_by(CRED))
    );
    let mut by_tag = account.clone();
    by_tag.tag_filters.insert("team".into(), vec!["web".into()]);
    let tagged = client.list_instances(&by_tag).await.unwrap();
    assert_eq!(tagged.len(), 1, "filters still apply: {tagged:?}");

    for instance in every {
        client.terminate_instance(&instance.cloud_id).await.unwrap();
    }
    // The key stays registered for the next create (Shadeform reuses keys).
    assert_no_instances(&fake).await;
}
