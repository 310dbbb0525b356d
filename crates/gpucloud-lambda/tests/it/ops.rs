//! Every operation against the fake, with what it leaves behind.

use std::time::Duration;

use base64::Engine as _;
use gpucloud_core::{
    AddFirewallRulesToInstanceArgs, ApiType, Architecture, CloudClient, CloudClientExt,
    CloudCredential, ErrorKind, FirewallRule, FirewallRules, GetImageArgs, GetInstanceTypeArgs,
    GetLocationsArgs, IncludeExclude, InstanceId, InstanceScope, InstanceTypeId, LifecycleStatus,
    ListInstancesArgs, LocationsFilter, RevokeSecurityGroupRuleArgs,
};
use gpucloud_lambda::{LambdaConfig, LambdaCredential, PROVIDER_ID};

use crate::support::{CRED_REF, PUBLIC_KEY, all, attrs, client, config, fake, live_instances};

#[tokio::test]
async fn credential_identity_and_secrecy() {
    let fake = fake().await;
    let credential = LambdaCredential::new(config(&fake.base_url(), fake.api_key())).unwrap();
    let identity = credential.identity();
    assert_eq!(identity.provider_id().as_str(), PROVIDER_ID);
    assert_eq!(identity.api_type(), ApiType::Global);
    assert_eq!(identity.reference_id(), CRED_REF);
    let tenant = identity.tenant_id();
    assert!(
        tenant.starts_with("lambda-") && tenant.len() == "lambda-".len() + 64,
        "{tenant}"
    );
    assert!(!tenant.contains(fake.api_key()));
    assert!(!format!("{credential:?}").contains(fake.api_key()));
    let client = credential.make_client("us-east-1").await.unwrap();
    assert_eq!(client.location(), "us-east-1");
    assert_eq!(client.identity(), identity);
    let caps = client.capabilities();
    assert!(
        !caps.iter().any(|c| c.as_str() == "tags"),
        "tag updates are not documented by Lambda"
    );
    for cap in [
        "reboot-instance",
        "machine-image",
        "modify-firewall",
        "create-instance-idempotent",
        "instance-userdata",
    ] {
        assert!(
            caps.iter().any(|c| c.as_str() == cap),
            "{cap} missing from {caps:?}"
        );
    }
    assert!(client.stop_start().is_err());
    let plain = LambdaCredential::new(LambdaConfig::new("k").with_base_url("http://example.com"));
    assert_eq!(plain.unwrap_err().kind(), ErrorKind::Configuration);
}

#[tokio::test]
async fn wrong_key_is_unauthenticated() {
    let fake = fake().await;
    let client = LambdaCredential::new(config(&fake.base_url(), "wrong"))
        .unwrap()
        .client("");
    let err = client.list_instances(&all()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(!err.is_retryable());
    assert!(
        !format!("{err:?}").contains("wrong\""),
        "key must not leak: {err:?}"
    );
}

#[tokio::test]
async fn locations_come_from_the_regions_endpoint() {
    let fake = fake().await;
    let locations = client(&fake)
        .locations(GetLocationsArgs::default())
        .await
        .unwrap();
    assert!(locations.len() >= 17, "{}", locations.len());
    let west = locations.iter().find(|l| l.name == "us-west-1").unwrap();
    assert_eq!(west.country, "USA");
    assert!(west.available && !west.description.is_empty());
}

#[tokio::test]
async fn instance_types_cover_every_region_and_apply_filters() {
    let fake = fake().await;
    fake.state().set_capacity("us-east-1", "gpu_1x_a10", 0);
    fake.state().set_capacity("asia-south-1", "gpu_1x_a10", 3);
    let client = client(&fake);
    let locations = client.locations(GetLocationsArgs::default()).await.unwrap();
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    let names: std::collections::BTreeSet<&str> =
        types.iter().map(|t| t.type_name.as_str()).collect();
    let catalog = gpucloud_fakes::lambda::catalog::INSTANCE_TYPES;
    assert_eq!(
        names,
        catalog.iter().map(|t| t.name).collect(),
        "every type the fake serves, and only those"
    );
    assert_eq!(
        types.len(),
        catalog.len() * locations.len(),
        "one entry per (type, region)"
    );
    let a10 = |r: &str| {
        types
            .iter()
            .find(|t| t.type_name == "gpu_1x_a10" && t.location == r)
            .unwrap()
    };
    assert!(!a10("us-east-1").is_available);
    assert!(a10("asia-south-1").is_available);
    assert!(a10("us-west-1").is_available);
    assert_eq!(
        a10("us-west-1").id,
        InstanceTypeId::generic("us-west-1", None, "gpu_1x_a10")
    );
    assert_eq!(a10("us-west-1").supported_gpus[0].name, "A10");
    let gh = types
        .iter()
        .find(|t| t.type_name == "gpu_1x_gh200")
        .unwrap();
    assert_eq!(gh.supported_architectures.as_slice(), [Architecture::Arm64]);

    let only = GetInstanceTypeArgs {
        locations: LocationsFilter::only(["us-west-1"]),
        instance_types: vec!["gpu_8x_h100_sxm5".into(), "gpu_1x_gh200".into()],
        ..GetInstanceTypeArgs::default()
    };
    let filtered = client.instance_types(&only).await.unwrap();
    assert_eq!(filtered.len(), 2);
    let arm = GetInstanceTypeArgs {
        architecture_filter: Some(IncludeExclude::include(vec![Architecture::Arm64])),
        ..GetInstanceTypeArgs::default()
    };
    assert!(
        client
            .instance_types(&arm)
            .await
            .unwrap()
            .iter()
            .all(|t| t.type_name.contains("gh200"))
    );
}

#[tokio::test]
async fn create_get_list_reboot_terminate() {
    let fake = fake().await;
    let client = client(&fake);
    let mut a = attrs("ref-1");
    a.tags.insert("team".into(), "ml".into());
    a.user_data_base64 = base64::engine::general_purpose::STANDARD.encode("#cloud-config\n");
    a.image_id = gpucloud_fakes::lambda::catalog::image_id("us-west-1", "lambda-stack-22-04");
    let before = time_now();
    let created = gpucloud_core::validate_and_create(&client, &a)
        .await
        .unwrap();
    assert_eq!(created.ref_id, "ref-1");
    assert_eq!(created.cloud_cred_ref_id, CRED_REF);
    assert_eq!(
        (created.ssh_user.as_str(), created.ssh_port),
        ("ubuntu", 22)
    );
    assert_eq!(created.location, "us-west-1");
    assert_eq!(
        created.instance_type_id,
        InstanceTypeId::generic("us-west-1", None, "gpu_1x_a10")
    );
    assert_eq!(created.tags.get("team").map(String::as_str), Some("ml"));
    assert!(created.tags.keys().all(|k| !k.starts_with("gpucloud-")));
    let at = created.created_at.expect("created_at");
    assert!(at.as_second() >= before - 1 && at.as_second() <= time_now() + 1);

    let on_fake = fake.state().instance(created.cloud_id.as_str()).unwrap();
    assert_eq!(on_fake.user_data.as_deref(), Some("#cloud-config\n"));
    assert!(on_fake.image.is_some());
    assert_eq!(on_fake.hostname.as_deref(), Some("box-ref-1"));
    assert_eq!(on_fake.firewall_rulesets.len(), 1);
    assert_eq!(fake.state().ssh_keys().len(), 1);

    let got = client.get_instance(&created.cloud_id).await.unwrap();
    assert_eq!(got.ref_id, "ref-1");
    let listed = client.list_instances(&all()).await.unwrap();
    assert_eq!(listed.len(), 1);
    let mut by_tag = ListInstancesArgs::default();
    by_tag.tag_filters.insert("team".into(), vec!["ml".into()]);
    assert_eq!(client.list_instances(&by_tag).await.unwrap().len(), 1);
    by_tag.tag_filters.insert("team".into(), vec!["web".into()]);
    assert!(client.list_instances(&by_tag).await.unwrap().is_empty());
    let by_location = ListInstancesArgs {
        locations: LocationsFilter::only(["us-east-1"]),
        ..Default::default()
    };
    assert!(
        client
            .list_instances(&by_location)
            .await
            .unwrap()
            .is_empty()
    );
    let by_id = ListInstancesArgs {
        instance_ids: vec![InstanceId::new("nope")],
        ..Default::default()
    };
    assert!(client.list_instances(&by_id).await.unwrap().is_empty());

    let running = wait_for(&client, &created.cloud_id, LifecycleStatus::Running).await;
    assert!(!running.public_ip.is_empty());
    client
        .reboot()
        .unwrap()
        .reboot_instance(&created.cloud_id)
        .await
        .unwrap();
    assert_eq!(
        fake.state()
            .instance(created.cloud_id.as_str())
            .unwrap()
            .status
            .as_str(),
        "booting"
    );

    client.terminate_instance(&created.cloud_id).await.unwrap();
    client.terminate_instance(&created.cloud_id).await.unwrap();
    assert_eq!(live_instances(&fake), 0);
    assert!(
        fake.state().firewall_rulesets().is_empty(),
        "the instance's ruleset is deleted"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    client.terminate_instance(&created.cloud_id).await.unwrap();
    let err = client.get_instance(&created.cloud_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InstanceNotFound);
    let err = client
        .reboot()
        .unwrap()
        .reboot_instance(&created.cloud_id)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InstanceNotFound);
    assert_eq!(
        fake.state().ssh_keys().len(),
        1,
        "the SDK's key is kept for reuse"
    );
}

fn time_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

async fn wait_for(
    client: &gpucloud_lambda::LambdaClient,
    id: &InstanceId,
    status: LifecycleStatus,
) -> gpucloud_core::Instance {
    for _ in 0..100 {
        let i = client.get_instance(id).await.unwrap();
        if i.status.lifecycle_status == status {
            return i;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("instance {id} never reached {status}");
}

#[tokio::test]
async fn same_ref_id_returns_the_same_instance_and_one_key_serves_many() {
    let fake = fake().await;
    let client = client(&fake);
    let first = gpucloud_core::validate_and_create(&client, &attrs("same"))
        .await
        .unwrap();
    for _ in 0..50 {
        let again = gpucloud_core::validate_and_create(&client, &attrs("same"))
            .await
            .unwrap();
        assert_eq!(again.cloud_id, first.cloud_id);
    }
    let types = [
        "gpu_1x_a10",
        "gpu_1x_a100",
        "gpu_1x_a6000",
        "gpu_1x_h100_pcie",
        "gpu_1x_rtx6000",
    ];
    for i in 0..50 {
        let mut a = attrs(&format!("many-{i}"));
        a.instance_type = types[i % types.len()].into();
        gpucloud_core::validate_and_create(&client, &a)
            .await
            .unwrap();
    }
    assert_eq!(live_instances(&fake), 51);
    assert_eq!(
        fake.state().ssh_keys().len(),
        1,
        "one public key, one account key"
    );
    assert_eq!(client.list_instances(&all()).await.unwrap().len(), 51);
}

#[tokio::test]
async fn existing_account_key_is_reused_and_names_are_unique() {
    let fake = fake().await;
    fake.state()
        .add_ssh_key("console-key", &format!("{PUBLIC_KEY}-other-comment"));
    fake.state().add_ssh_key(
        "taken",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyMaterialxxxxxxxxxxxxxxxxxxxxxxxxxx x",
    );
    let client = client(&fake);
    let created = gpucloud_core::validate_and_create(&client, &attrs("k1"))
        .await
        .unwrap();
    assert_eq!(
        fake.state()
            .instance(created.cloud_id.as_str())
            .unwrap()
            .ssh_key_names,
        vec!["console-key"]
    );

    let fresh = crate::support::fake().await;
    fresh.state().add_ssh_key(
        "taken",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyMaterialxxxxxxxxxxxxxxxxxxxxxxxxxx x",
    );
    let client = crate::support::client(&fresh);
    let mut a = attrs("k2");
    a.key_pair_name = Some("taken".into());
    gpucloud_core::validate_and_create(&client, &a)
        .await
        .unwrap();
    let keys = fresh.state().ssh_keys();
    assert_eq!(keys.len(), 2);
    assert!(keys[1].name.starts_with("taken-"), "{}", keys[1].name);
}

#[tokio::test]
async fn only_this_credentials_instances_are_listed() {
    let fake = fake().await;
    fake.state()
        .seed_instances(3, "us-west-1", "gpu_1x_a10")
        .unwrap();
    let other =
        LambdaCredential::new(config(&fake.base_url(), fake.api_key()).with_ref_id("cred-other"))
            .unwrap()
            .client("");
    gpucloud_core::validate_and_create(&other, &attrs("theirs"))
        .await
        .unwrap();
    let mine = client(&fake);
    let created = gpucloud_core::validate_and_create(&mine, &attrs("mine"))
        .await
        .unwrap();
    let listed = mine.list_instances(&all()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].cloud_id, created.cloud_id);
    assert_eq!(other.list_instances(&all()).await.unwrap().len(), 1);
    // The other credential's RefID does not make this one's create idempotent.
    let mine_theirs = gpucloud_core::validate_and_create(&mine, &attrs("theirs"))
        .await
        .unwrap();
    assert_eq!(mine_theirs.cloud_cred_ref_id, CRED_REF);
}

#[tokio::test]
async fn failed_create_leaves_nothing_behind() {
    let fake = fake().await;
    fake.state().set_capacity("us-west-1", "gpu_1x_a10", 0);
    let client = client(&fake);
    let mut a = attrs("no-capacity");
    a.firewall_rules = FirewallRules {
        ingress_rules: vec![FirewallRule::port(8080)],
        ..Default::default()
    };
    let err = gpucloud_core::validate_and_create(&client, &a)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientCapacity);
    assert_eq!(fake.state().instances().len(), 0);
    assert!(
        fake.state().ssh_keys().is_empty(),
        "the key the SDK added is removed"
    );
    assert!(
        fake.state().firewall_rulesets().is_empty(),
        "the ruleset the SDK added is removed"
    );

    let mut unknown = attrs("bad-type");
    unknown.instance_type = "gpu_9x_nothing".into();
    let err = gpucloud_core::validate_and_create(&client, &unknown)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(fake.state().ssh_keys().is_empty() && fake.state().firewall_rulesets().is_empty());
}

#[tokio::test]
async fn invalid_input_is_refused_before_any_request() {
    let fake = fake().await;
    let client = client(&fake);
    let mut bad_tag = attrs("t");
    bad_tag.tags.insert("Upper".into(), "v".into());
    let err = gpucloud_core::validate_and_create(&client, &bad_tag)
        .await
        .unwrap_err();
    assert!(
        matches!(err, gpucloud_core::CloudError::InvalidArgument { ref field, .. } if field.starts_with("tags")),
        "{err}"
    );
    let mut v6 = attrs("t");
    v6.firewall_rules = FirewallRules {
        ingress_rules: vec![FirewallRule::range(80, 80, vec!["::/0".into()])],
        ..Default::default()
    };
    assert_eq!(
        gpucloud_core::validate_and_create(&client, &v6)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    let mut disk = attrs("t");
    disk.use_spot = true;
    assert_eq!(
        gpucloud_core::validate_and_create(&client, &disk)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    let mut no_region = attrs("t");
    no_region.location.clear();
    assert_eq!(
        gpucloud_core::validate_and_create(&client, &no_region)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(fake.state().request_count("GET", "/api/v1/"), 0);
    assert_eq!(fake.state().request_count("POST", "/api/v1/"), 0);
}

#[tokio::test]
async fn tags_are_set_at_launch_and_cannot_be_updated() {
    let fake = fake().await;
    let client = client(&fake);
    let mut a = attrs("tagged");
    a.tags.insert("team".into(), "ml".into());
    let created = gpucloud_core::validate_and_create(&client, &a)
        .await
        .unwrap();
    let expected = gpucloud_core::Tags::from([("team".to_owned(), "ml".to_owned())]);
    assert_eq!(created.tags, expected);
    let got = client.get_instance(&created.cloud_id).await.unwrap();
    assert_eq!(got.tags, expected);
    assert_eq!(got.ref_id, "tagged");
    assert_eq!(got.cloud_cred_ref_id, CRED_REF);
    let stored = fake.state().instance(created.cloud_id.as_str()).unwrap();
    assert!(
        stored
            .tags
            .iter()
            .any(|t| t.key == "team" && t.value == "ml")
    );
    // Lambda cannot change tags after launch: the capability is not there to call.
    let err = client.tags().err().expect("tag updates are not supported");
    assert_eq!(err.kind(), ErrorKind::NotImplemented, "{err}");
    assert_eq!(fake.state().request_count("POST", "/api/v1/instances/"), 0);
}

#[tokio::test]
async fn images_are_listed_and_filtered() {
    let fake = fake().await;
    let client = client(&fake);
    let images = client
        .machine_image()
        .unwrap()
        .images(&GetImageArgs::default())
        .await
        .unwrap();
    assert!(!images.is_empty());
    let arm = GetImageArgs {
        architectures: vec!["arm64".into()],
        ..GetImageArgs::default()
    };
    let arm_images = client.machine_image().unwrap().images(&arm).await.unwrap();
    assert!(arm_images.iter().all(|i| i.architecture == "arm64"));
    let regional = LambdaCredential::new(config(&fake.base_url(), fake.api_key()))
        .unwrap()
        .client("us-west-1");
    let west = regional
        .machine_image()
        .unwrap()
        .images(&GetImageArgs::default())
        .await
        .unwrap();
    assert!(!west.is_empty() && west.len() < images.len());
    assert!(west.iter().all(|i| i.description.contains("(us-west-1)")));
    let named = GetImageArgs {
        name_filters: vec!["lambda-stack-24*".into()],
        ..GetImageArgs::default()
    };
    let named = regional
        .machine_image()
        .unwrap()
        .images(&named)
        .await
        .unwrap();
    assert_eq!(named.len(), 1, "{named:?}");
    let by_id = GetImageArgs {
        image_ids: vec![named[0].id.clone()],
        ..GetImageArgs::default()
    };
    assert_eq!(
        client
            .machine_image()
            .unwrap()
            .images(&by_id)
            .await
            .unwrap()
            .len(),
        1
    );
    let foreign = GetImageArgs {
        owners: vec!["self".into()],
        ..GetImageArgs::default()
    };
    assert!(
        client
            .machine_image()
            .unwrap()
            .images(&foreign)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn firewall_rules_are_per_instance_rulesets() {
    let fake = fake().await;
    let client = client(&fake);
    let mut a = attrs("fw");
    a.firewall_rules = FirewallRules {
        ingress_rules: vec![FirewallRule::range(
            8000,
            8001,
            vec!["203.0.113.0/24".into()],
        )],
        egress_rules: vec![FirewallRule::port(443)],
    };
    // Egress is allow-all everywhere: a filtering egress rule is refused, naming it, and an
    // allow-all one is accepted and changes nothing.
    let err = gpucloud_core::validate_and_create(&client, &a)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, gpucloud_core::CloudError::InvalidArgument { field, .. } if field == "firewall_rules.egress_rules[0]"),
        "{err}"
    );
    a.firewall_rules.egress_rules = vec![FirewallRule::range(1, 65535, vec![])];
    let created = gpucloud_core::validate_and_create(&client, &a)
        .await
        .unwrap();
    let rulesets = fake.state().firewall_rulesets();
    assert_eq!(rulesets.len(), 1);
    assert_eq!(rulesets[0].region, "us-west-1");
    assert_eq!(
        rulesets[0].rules.len(),
        3,
        "ssh + tcp + udp: {:?}",
        rulesets[0].rules
    );
    // create, get and list all report the instance's own rules, with the ids revoke takes.
    let ids = |rules: &FirewallRules| -> Vec<String> {
        let mut ids: Vec<String> = rules.ingress_rules.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        ids
    };
    let expected = vec![
        "tcp:22-22:0.0.0.0/0".to_owned(),
        "tcp:8000-8001:203.0.113.0/24".to_owned(),
        "udp:8000-8001:203.0.113.0/24".to_owned(),
    ];
    assert_eq!(ids(&created.firewall_rules), expected);
    let got = client.get_instance(&created.cloud_id).await.unwrap();
    assert_eq!(ids(&got.firewall_rules), expected);
    assert!(got.firewall_rules.egress_rules.is_empty());

    let firewall = client.modify_firewall().unwrap();
    let add = AddFirewallRulesToInstanceArgs {
        instance_id: created.cloud_id.clone(),
        firewall_rules: FirewallRules {
            ingress_rules: vec![FirewallRule::port(9000)],
            ..Default::default()
        },
    };
    firewall.add_firewall_rules(&valid_add(&add)).await.unwrap();
    firewall.add_firewall_rules(&valid_add(&add)).await.unwrap();
    assert_eq!(fake.state().firewall_rulesets()[0].rules.len(), 5);
    let got = client.get_instance(&created.cloud_id).await.unwrap();
    assert!(got.firewall_rules.ingress_rules.iter().any(|r| {
        r.id == "tcp:9000-9000:0.0.0.0/0"
            && r.covers(9000, gpucloud_core::Protocol::Tcp)
            && r.ip_ranges == ["0.0.0.0/0"]
    }));
    let revoke = RevokeSecurityGroupRuleArgs {
        instance_id: created.cloud_id.clone(),
        security_group_rule_ids: vec!["udp:9000-9000:0.0.0.0/0".into()],
    };
    firewall
        .revoke_firewall_rules(&gpucloud_core::validate_firewall_revoke(&revoke).unwrap())
        .await
        .unwrap();
    let rules = client
        .get_instance(&created.cloud_id)
        .await
        .unwrap()
        .firewall_rules;
    assert_eq!(rules.ingress_rules.len(), 4);
    assert!(
        !rules
            .ingress_rules
            .iter()
            .any(|r| r.id == "udp:9000-9000:0.0.0.0/0")
    );

    let seeded = fake
        .state()
        .seed_instances(1, "us-west-1", "gpu_1x_a10")
        .unwrap();
    let err = firewall
        .add_firewall_rules(&valid_add(&AddFirewallRulesToInstanceArgs {
            instance_id: InstanceId::new(seeded[0].clone()),
            ..add.clone()
        }))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");

    client.terminate_instance(&created.cloud_id).await.unwrap();
    assert!(fake.state().firewall_rulesets().is_empty());
}

#[tokio::test]
async fn list_reads_every_ruleset_in_one_request() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state()
        .seed_instances(3, "us-west-1", "gpu_1x_a10")
        .unwrap();
    let mut a = attrs("list-a");
    a.firewall_rules = FirewallRules {
        ingress_rules: vec![FirewallRule::port(8080)],
        ..FirewallRules::default()
    };
    gpucloud_core::validate_and_create(&client, &a)
        .await
        .unwrap();
    gpucloud_core::validate_and_create(&client, &attrs("list-b"))
        .await
        .unwrap();
    fake.state().reset_request_counts();
    let listed = client.list_instances(&all()).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        fake.state()
            .request_count("GET", "/api/v1/firewall-rulesets"),
        1
    );
    assert_eq!(fake.state().request_count("GET", "/api/v1/"), 2);
    let ids = |ref_id: &str| -> Vec<String> {
        let instance = listed.iter().find(|i| i.ref_id == ref_id).unwrap();
        let mut ids: Vec<String> = instance
            .firewall_rules
            .ingress_rules
            .iter()
            .map(|r| r.id.clone())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids("list-a"),
        [
            "tcp:22-22:0.0.0.0/0",
            "tcp:8080-8080:0.0.0.0/0",
            "udp:8080-8080:0.0.0.0/0"
        ]
    );
    assert_eq!(ids("list-b"), ["tcp:22-22:0.0.0.0/0"]);
    for instance in &listed {
        let got = client.get_instance(&instance.cloud_id).await.unwrap();
        assert_eq!(got.firewall_rules, instance.firewall_rules);
    }

    // Filtered down to instances without rulesets: the rulesets, asked for while the
    // instances were listed, are not needed, so even their failure does not fail the list.
    fake.state().reset_request_counts();
    fake.state().set_fault_for(
        gpucloud_fakes::lambda::Operation::Firewall,
        gpucloud_fakes::lambda::Fault::ServerError {
            status: 500,
            times: 10,
        },
    );
    let none = ListInstancesArgs {
        locations: LocationsFilter::only(["us-east-1"]),
        ..ListInstancesArgs::default()
    };
    assert!(client.list_instances(&none).await.unwrap().is_empty());
    assert!(
        fake.state()
            .request_count("GET", "/api/v1/firewall-rulesets")
            <= 4,
        "one ruleset request and its retries at most"
    );
    fake.state().clear_faults();
}

/// The instances and the rulesets are asked for at once (the rulesets do not wait for the
/// instances' answer), so a list costs one round trip's time, not two; a failure of either is
/// the list's failure when the list needs it.
#[tokio::test]
async fn list_asks_for_instances_and_rulesets_at_once_and_fails_with_either() {
    let fake = fake().await;
    let client = client(&fake);
    let made = gpucloud_core::validate_and_create(&client, &attrs("concurrent"))
        .await
        .unwrap();
    // The instance boots meanwhile: what the list must keep is who is listed, with which rules.
    let seen = |listed: Vec<gpucloud_core::Instance>| -> Vec<(InstanceId, FirewallRules)> {
        listed
            .into_iter()
            .map(|i| (i.cloud_id, i.firewall_rules))
            .collect()
    };
    let before = seen(client.list_instances(&all()).await.unwrap());
    assert_eq!(before.len(), 1);
    assert!(!before[0].1.ingress_rules.is_empty());

    assert_eq!(
        seen(client.list_instances(&all()).await.unwrap()),
        before,
        "the same answer again"
    );

    // The instances fail: the list fails with their error.
    fake.state().set_fault_for(
        gpucloud_fakes::lambda::Operation::ListInstances,
        gpucloud_fakes::lambda::Fault::ServerError {
            status: 500,
            times: 10,
        },
    );
    fake.state().reset_request_counts();
    let err = client.list_instances(&all()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
    assert_eq!(
        fake.state()
            .request_count("GET", "/api/v1/firewall-rulesets"),
        1,
        "the rulesets were asked for beside the instances, not after them"
    );
    fake.state().clear_faults();

    // The rulesets an instance needs fail: the list fails rather than show no rules.
    fake.state().set_fault_for(
        gpucloud_fakes::lambda::Operation::Firewall,
        gpucloud_fakes::lambda::Fault::ServerError {
            status: 500,
            times: 10,
        },
    );
    let err = client.list_instances(&all()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
    fake.state().clear_faults();
    assert_eq!(seen(client.list_instances(&all()).await.unwrap()), before);
    client.terminate_instance(&made.cloud_id).await.unwrap();
}

#[tokio::test]
async fn missing_rulesets_mean_no_rules_and_other_failures_are_reported() {
    let fake =
        gpucloud_fakes::lambda::FakeLambda::start(gpucloud_fakes::lambda::FakeLambdaOptions {
            boot_delay: Duration::from_millis(10),
            terminate_delay: Duration::from_secs(60),
            gone_after: Duration::from_secs(60),
            ..gpucloud_fakes::lambda::FakeLambdaOptions::default()
        })
        .await
        .unwrap();
    let client = client(&fake);

    // An instance without a ruleset (not made by gpucloud): empty rules, no ruleset request.
    let seeded = fake
        .state()
        .seed_instances(1, "us-west-1", "gpu_1x_a10")
        .unwrap();
    fake.state().reset_request_counts();
    let got = client
        .get_instance(&InstanceId::new(seeded[0].clone()))
        .await
        .unwrap();
    assert!(got.firewall_rules.ingress_rules.is_empty());
    assert_eq!(
        fake.state()
            .request_count("GET", "/api/v1/firewall-rulesets"),
        0
    );

    let created = gpucloud_core::validate_and_create(&client, &attrs("lenient"))
        .await
        .unwrap();
    assert!(!created.firewall_rules.ingress_rules.is_empty());

    // A failure to read the ruleset (more 500s than the read's attempts) is an error, not an
    // instance claiming no rules.
    fake.state().set_fault_for(
        gpucloud_fakes::lambda::Operation::Firewall,
        gpucloud_fakes::lambda::Fault::ServerError {
            status: 500,
            times: 10,
        },
    );
    let err = client.get_instance(&created.cloud_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
    fake.state().clear_faults();

    // Terminate deletes the ruleset while the instance is still terminating: the reference
    // dangles (404), which reads as no rules.
    client.terminate_instance(&created.cloud_id).await.unwrap();
    assert!(fake.state().firewall_rulesets().is_empty());
    let got = client.get_instance(&created.cloud_id).await.unwrap();
    assert_eq!(got.status.lifecycle_status, LifecycleStatus::Terminating);
    assert!(
        !fake
            .state()
            .instance(created.cloud_id.as_str())
            .unwrap()
            .firewall_rulesets
            .is_empty()
    );
    assert!(got.firewall_rules.ingress_rules.is_empty());
    let listed = client.list_instances(&all()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].firewall_rules.ingress_rules.is_empty());
}

/// Firewall additions as validation hands them over (Lambda filters no egress).
fn valid_add(add: &AddFirewallRulesToInstanceArgs) -> gpucloud_core::ValidFirewallAdd {
    gpucloud_core::validate_firewall_add(add, &gpucloud_core::CreateFeatures::default()).unwrap()
}

/// An instance made outside gpucloud (Lambda's console or API) carries no mark: a list hides
/// it by default and the account scope reports it, with no RefID or credential.
#[tokio::test]
async fn the_account_scope_lists_instances_made_outside_gpucloud() {
    let fake = fake().await;
    let client = client(&fake);
    let ours = gpucloud_core::validate_and_create(&client, &attrs("ref-1"))
        .await
        .unwrap();
    let theirs = fake
        .state()
        .seed_instances(1, "us-west-1", "gpu_1x_a10")
        .unwrap()
        .remove(0);

    let mine = client.list_instances(&all()).await.unwrap();
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
        .find(|i| i.cloud_id.as_str() == theirs)
        .expect("the unmarked instance is listed");
    assert_eq!(
        (foreign.ref_id.as_str(), foreign.cloud_cred_ref_id.as_str()),
        ("", "")
    );
    assert!(!foreign.is_managed_by(CRED_REF));
    let own = every.iter().find(|i| i.cloud_id == ours.cloud_id).unwrap();
    assert!(own.is_managed_by(CRED_REF));
    let by_id = ListInstancesArgs {
        instance_ids: vec![InstanceId::new(&theirs)],
        ..account
    };
    assert_eq!(
        client.list_instances(&by_id).await.unwrap().len(),
        1,
        "filters still apply"
    );

    for instance in every {
        client.terminate_instance(&instance.cloud_id).await.unwrap();
    }
}
