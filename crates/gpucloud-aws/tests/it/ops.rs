//! Every instance operation against moto, and the errors of each, with nothing left.

use gpucloud_core::validate::{
    validate_firewall_add, validate_firewall_revoke, validate_tag_update,
};
use gpucloud_core::{
    AddFirewallRulesToInstanceArgs, Bytes, BytesUnit, CloudClient, CloudClientExt, ErrorKind,
    FirewallRule, GetImageArgs, InstanceId, InstanceScope, LifecycleStatus, ListInstancesArgs,
    ResizeInstanceVolumeArgs, RevokeSecurityGroupRuleArgs, Tags, UpdateInstanceTagsArgs,
};

use crate::common::*;

#[tokio::test]
async fn create_get_list_terminate_and_nothing_is_left() {
    let aws = aws().await;
    let client = client(&aws);
    let mut a = attrs("ops-1");
    a.tags = Tags::from([("team".to_owned(), "ml".to_owned())]);
    a.firewall_rules.ingress_rules = vec![FirewallRule::range(
        8888,
        8888,
        vec!["203.0.113.0/24".into()],
    )];
    a.user_data_base64 = "IyEvYmluL3NoCmVjaG8gaGkK".into();
    let created = client.create_instance(valid(&client, &a)).await.unwrap();
    assert_eq!(created.ref_id, "ops-1");
    assert_eq!(created.cloud_cred_ref_id, CRED);
    assert_eq!(
        (created.location.as_str(), created.instance_type.as_str()),
        (REGION, G5)
    );
    assert_eq!(created.name, "box ops-1");
    assert_eq!(created.hostname, "box-ops-1");
    assert_eq!(created.tags, a.tags);
    let ids: Vec<&str> = created
        .firewall_rules
        .ingress_rules
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert!(
        ids.contains(&"tcp:22-22:0.0.0.0/0") && ids.contains(&"tcp:8888-8888:203.0.113.0/24"),
        "{ids:?}"
    );
    assert!(created.firewall_rules.egress_rules.is_empty());

    // What EC2 holds: IMDSv2 required, the user data passed through, the root volume asked.
    let raw = raw_ec2(&aws, REGION);
    let described = raw
        .describe_instances()
        .instance_ids(created.cloud_id.as_str())
        .send()
        .await
        .unwrap();
    let w = &described.reservations()[0].instances()[0];
    assert_eq!(
        w.metadata_options()
            .and_then(|m| m.http_tokens())
            .map(aws_sdk_ec2::types::HttpTokensState::as_str),
        Some("required")
    );
    let data = raw
        .describe_instance_attribute()
        .instance_id(created.cloud_id.as_str())
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
        .send()
        .await
        .unwrap();
    assert_eq!(
        data.user_data().and_then(|u| u.value()),
        Some("IyEvYmluL3NoCmVjaG8gaGkK")
    );

    let got = client.get_instance(&created.cloud_id).await.unwrap();
    assert_eq!(got.lifecycle(), LifecycleStatus::Running);
    assert_eq!(got.ref_id, "ops-1");
    assert_eq!(
        got.firewall_rules.ingress_rules.len(),
        created.firewall_rules.ingress_rules.len()
    );
    let listed = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    // An unbound client finds it in its region too.
    let anywhere = gpucloud_aws::AwsCredential::new(config(&aws, CRED))
        .unwrap()
        .client("");
    assert_eq!(
        anywhere
            .get_instance(&created.cloud_id)
            .await
            .unwrap()
            .location,
        REGION
    );

    // Idempotent: the same RefID is the same instance.
    let again = client.create_instance(valid(&client, &a)).await.unwrap();
    assert_eq!(again.cloud_id, created.cloud_id);

    client.terminate_instance(&created.cloud_id).await.unwrap();
    let gone = client.get_instance(&created.cloud_id).await.unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::InstanceNotFound);
    client.terminate_instance(&created.cloud_id).await.unwrap();
    assert_nothing_left(&aws).await;

    // A create of the RefID of a terminated instance launches a new one.
    let fresh = client.create_instance(valid(&client, &a)).await.unwrap();
    assert_ne!(fresh.cloud_id, created.cloud_id);
    clean_up(&aws, &client).await;
}

#[tokio::test]
async fn stop_start_reboot_and_a_wrong_state_is_a_conflict() {
    let aws = aws().await;
    let client = client(&aws);
    let created = client
        .create_instance(valid(&client, &attrs("ops-2")))
        .await
        .unwrap();
    let id = &created.cloud_id;
    client.reboot().unwrap().reboot_instance(id).await.unwrap();
    let stop_start = client.stop_start().unwrap();
    stop_start.stop_instance(id).await.unwrap();
    let stopped = client.get_instance(id).await.unwrap();
    assert!(matches!(
        stopped.lifecycle(),
        LifecycleStatus::Stopping | LifecycleStatus::Stopped
    ));
    stop_start.start_instance(id).await.unwrap();
    assert_eq!(
        client.get_instance(id).await.unwrap().lifecycle(),
        LifecycleStatus::Running
    );
    let missing = gpucloud_core::InstanceId::new("i-0123456789abcdef0");
    let e = stop_start.stop_instance(&missing).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InstanceNotFound);
    let e = client
        .get_instance(&gpucloud_core::InstanceId::new("not an id"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InstanceNotFound);
    clean_up(&aws, &client).await;
}

#[tokio::test]
async fn firewall_rules_are_added_once_and_revoked_by_id() {
    let aws = aws().await;
    let client = client(&aws);
    let created = client
        .create_instance(valid(&client, &attrs("ops-3")))
        .await
        .unwrap();
    let firewall = client.modify_firewall().unwrap();
    let mut add = AddFirewallRulesToInstanceArgs {
        instance_id: created.cloud_id.clone(),
        ..Default::default()
    };
    add.firewall_rules.ingress_rules = vec![FirewallRule::port(8080), FirewallRule::port(22)];
    let add = validate_firewall_add(&add, &client.create_features()).unwrap();
    firewall.add_firewall_rules(&add).await.unwrap();
    firewall.add_firewall_rules(&add).await.unwrap();
    let rules = client
        .get_instance(&created.cloud_id)
        .await
        .unwrap()
        .firewall_rules
        .ingress_rules;
    let on_8080: Vec<&str> = rules
        .iter()
        .filter(|r| r.from_port == 8080)
        .map(|r| r.id.as_str())
        .collect();
    // TCP and UDP, IPv4 and IPv6.
    assert_eq!(on_8080.len(), 4, "{rules:?}");
    let revoke = validate_firewall_revoke(&RevokeSecurityGroupRuleArgs {
        instance_id: created.cloud_id.clone(),
        security_group_rule_ids: on_8080.iter().map(|s| (*s).to_owned()).collect(),
    })
    .unwrap();
    firewall.revoke_firewall_rules(&revoke).await.unwrap();
    let rules = client
        .get_instance(&created.cloud_id)
        .await
        .unwrap()
        .firewall_rules
        .ingress_rules;
    assert!(rules.iter().all(|r| r.from_port != 8080), "{rules:?}");
    let unknown = validate_firewall_revoke(&RevokeSecurityGroupRuleArgs {
        instance_id: created.cloud_id.clone(),
        security_group_rule_ids: vec!["tcp:9-9:0.0.0.0/0".into()],
    })
    .unwrap();
    let e = firewall.revoke_firewall_rules(&unknown).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ResourceNotFound);
    clean_up(&aws, &client).await;
}

#[tokio::test]
async fn tags_are_replaced_and_bookkeeping_stays() {
    let aws = aws().await;
    let client = client(&aws);
    let mut a = attrs("ops-4");
    a.tags = Tags::from([
        ("a".to_owned(), "1".to_owned()),
        ("b".to_owned(), "2".to_owned()),
    ]);
    let created = client.create_instance(valid(&client, &a)).await.unwrap();
    let update = validate_tag_update(&UpdateInstanceTagsArgs {
        instance_id: created.cloud_id.clone(),
        tags: Tags::from([
            ("b".to_owned(), "3".to_owned()),
            ("c".to_owned(), "4".to_owned()),
        ]),
    })
    .unwrap();
    client
        .tags()
        .unwrap()
        .update_instance_tags(&update)
        .await
        .unwrap();
    let got = client.get_instance(&created.cloud_id).await.unwrap();
    assert_eq!(got.tags, *update.tags());
    assert_eq!(
        (got.ref_id.as_str(), got.name.as_str()),
        ("ops-4", "box ops-4")
    );
    let mut by_tag = ListInstancesArgs::default();
    by_tag.tag_filters.insert("c".into(), vec!["4".into()]);
    assert_eq!(client.list_instances(&by_tag).await.unwrap().len(), 1);
    by_tag.tag_filters.insert("c".into(), vec!["5".into()]);
    assert!(client.list_instances(&by_tag).await.unwrap().is_empty());
    clean_up(&aws, &client).await;
}

#[tokio::test]
async fn images_are_listed_by_name_and_owner() {
    let aws = aws().await;
    let client = client(&aws);
    let images = client
        .machine_image()
        .unwrap()
        .images(&GetImageArgs {
            owners: vec!["099720109477".into()],
            name_filters: vec![MOTO_IMAGE.into()],
            ..GetImageArgs::default()
        })
        .await
        .unwrap();
    assert!(!images.is_empty());
    assert!(
        images
            .iter()
            .all(|i| i.name.contains("ubuntu") && i.owner == "099720109477"),
        "{images:?}"
    );
}

#[tokio::test]
async fn refusals_name_the_field_and_leave_nothing() {
    let aws = aws().await;
    let client = client(&aws);
    let mut bad_type = attrs("ops-5");
    bad_type.instance_type = "p99.huge".into();
    let e = client
        .create_instance(valid(&client, &bad_type))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("instance_type"), "{e}");
    let mut bad_image = attrs("ops-6");
    bad_image.image_id = "ami-00000000".into();
    let e = client
        .create_instance(valid(&client, &bad_image))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("image_id"), "{e}");
    let mut bad_zone = attrs("ops-7");
    bad_zone.sub_location = "eu-west-1a".into();
    let e = client
        .create_instance(valid(&client, &bad_zone))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("sub_location"), "{e}");
    assert_nothing_left(&aws).await;
}

#[tokio::test]
async fn a_launch_refused_after_the_key_and_group_exist_removes_them() {
    let aws = aws().await;
    let client = client(&aws);
    // moto refuses a zone the region does not have, at RunInstances: after the key pair and
    // the security group were made.
    let mut a = attrs("ops-8");
    a.sub_location = "us-east-1z".into();
    let e = client
        .create_instance(valid(&client, &a))
        .await
        .unwrap_err();
    assert!(!e.outcome_unknown(), "{e}");
    assert_nothing_left(&aws).await;
}

#[tokio::test]
async fn a_default_list_skips_instances_gpucloud_did_not_make() {
    let aws = aws().await;
    let client = client(&aws);
    let raw = raw_ec2(&aws, REGION);
    let images = raw
        .describe_images()
        .owners("099720109477")
        .send()
        .await
        .unwrap();
    let image = images.images()[0].image_id().unwrap().to_owned();
    let seeded = raw
        .run_instances()
        .image_id(image)
        .instance_type(aws_sdk_ec2::types::InstanceType::G5Xlarge)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap();
    let seeded_id = seeded.instances()[0].instance_id().unwrap().to_owned();
    assert!(
        client
            .list_instances(&ListInstancesArgs::default())
            .await
            .unwrap()
            .is_empty()
    );
    let all = client
        .list_instances(&ListInstancesArgs {
            scope: InstanceScope::Account,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].cloud_id.as_str(), seeded_id);
    assert!(all[0].ref_id.is_empty() && all[0].cloud_cred_ref_id.is_empty());
    // Another credential's instances are not this one's either.
    let other = client_as(&aws, "someone-else");
    let theirs = other
        .create_instance(valid(&other, &attrs("ops-9")))
        .await
        .unwrap();
    assert!(
        client
            .list_instances(&ListInstancesArgs::default())
            .await
            .unwrap()
            .is_empty()
    );
    other.terminate_instance(&theirs.cloud_id).await.unwrap();
    raw.terminate_instances()
        .instance_ids(seeded_id)
        .send()
        .await
        .unwrap();
    assert_nothing_left(&aws).await;
}

/// The size in GiB of the volume attached to instance `id`, read from moto with the plain SDK.
async fn root_size(aws: &Aws, id: &InstanceId) -> i32 {
    let volumes = raw_ec2(aws, REGION)
        .describe_volumes()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("attachment.instance-id")
                .values(id.as_str())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let [volume] = volumes.volumes() else {
        panic!("one volume: {volumes:?}");
    };
    volume.size().expect("a size")
}

#[tokio::test]
async fn the_root_volume_grows_and_never_shrinks() {
    let aws = aws().await;
    let client = client(&aws);
    let created = client
        .create_instance(valid(&client, &attrs("ops-resize")))
        .await
        .unwrap();
    let id = &created.cloud_id;
    assert_eq!(root_size(&aws, id).await, 200, "the default root volume");
    let resize = client.resize_volume().unwrap();
    let to = |size_bytes: Bytes, instance_id: &InstanceId| ResizeInstanceVolumeArgs {
        instance_id: instance_id.clone(),
        size_bytes,
        wait_for_optimizing: true,
    };
    resize
        .resize_instance_volume(&to(Bytes::new(300, BytesUnit::GiB), id))
        .await
        .unwrap();
    assert_eq!(root_size(&aws, id).await, 300);
    // Rounded up to whole GiB; the size it has already changes nothing.
    resize
        .resize_instance_volume(&to(Bytes::new(322_122_000_000, BytesUnit::B), id))
        .await
        .unwrap();
    assert_eq!(root_size(&aws, id).await, 300);
    // Smaller is refused before any request (moto would shrink the volume; EBS refuses).
    let e = resize
        .resize_instance_volume(&to(Bytes::new(250, BytesUnit::GiB), id))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(
        e.to_string().contains("size_bytes") && e.to_string().contains("300 GiB"),
        "{e}"
    );
    assert_eq!(root_size(&aws, id).await, 300);
    let e = resize
        .resize_instance_volume(&to(Bytes::new(20, BytesUnit::TiB), id))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    // A stopped instance's volume grows too.
    client
        .stop_start()
        .unwrap()
        .stop_instance(id)
        .await
        .unwrap();
    resize
        .resize_instance_volume(&to(Bytes::new(1, BytesUnit::TiB), id))
        .await
        .unwrap();
    assert_eq!(root_size(&aws, id).await, 1024);
    let missing = InstanceId::new("i-0123456789abcdef0");
    let e = resize
        .resize_instance_volume(&to(Bytes::new(300, BytesUnit::GiB), &missing))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InstanceNotFound);
    clean_up(&aws, &client).await;
}

#[tokio::test]
async fn the_type_of_a_stopped_instance_changes_and_nothing_else_does() {
    let aws = aws().await;
    let client = client(&aws);
    let created = client
        .create_instance(valid(&client, &attrs("ops-type")))
        .await
        .unwrap();
    let id = &created.cloud_id;
    let change = client.change_instance_type().unwrap();
    let type_of = |id: InstanceId| {
        let client = &client;
        async move { client.get_instance(&id).await.unwrap().instance_type }
    };
    // Running: refused before any request (moto would change it; EC2 refuses).
    let e = change
        .change_instance_type(id, "g5.2xlarge")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    assert!(e.to_string().contains("stop it first"), "{e}");
    assert_eq!(type_of(id.clone()).await, G5);
    client
        .stop_start()
        .unwrap()
        .stop_instance(id)
        .await
        .unwrap();
    change.change_instance_type(id, "g5.2xlarge").await.unwrap();
    assert_eq!(type_of(id.clone()).await, "g5.2xlarge");
    change.change_instance_type(id, "g5.2xlarge").await.unwrap();
    // A type EC2 does not have, and an arm64 type for an x86_64 image, are refused by name
    // (moto would set any name).
    for wrong in ["nope.huge", "g5g.xlarge", " "] {
        let e = change.change_instance_type(id, wrong).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{wrong}: {e}");
        assert!(e.to_string().contains("instance_type"), "{wrong}: {e}");
    }
    assert_eq!(type_of(id.clone()).await, "g5.2xlarge");
    client
        .stop_start()
        .unwrap()
        .start_instance(id)
        .await
        .unwrap();
    let started = client.get_instance(id).await.unwrap();
    assert_eq!(
        (started.lifecycle(), started.instance_type.as_str()),
        (LifecycleStatus::Running, "g5.2xlarge")
    );
    let missing = InstanceId::new("i-0123456789abcdef0");
    let e = change
        .change_instance_type(&missing, "g5.2xlarge")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InstanceNotFound);
    clean_up(&aws, &client).await;
}
