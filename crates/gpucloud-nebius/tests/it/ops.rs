//! Every operation against the fake.

use std::time::Duration;

use gpucloud_core::{
    AddFirewallRulesToInstanceArgs, CloudClient, CloudClientExt, CloudCredential, ErrorKind,
    FirewallRule, FirewallRules, GetImageArgs, GetInstanceTypeArgs, GetLocationsArgs, InstanceId,
    InstanceScope, LifecycleStatus, ListInstancesArgs, LocationsFilter, Price, Protocol,
    RevokeSecurityGroupRuleArgs, UpdateInstanceTagsArgs, validate_firewall_add,
    validate_firewall_revoke, validate_tag_update,
};
use gpucloud_fakes::nebius::FakeNebiusOptions;
use gpucloud_nebius::{NebiusAuth, NebiusConfig, NebiusCredential};
use secrecy::SecretString;

use crate::fixture::{self, H100_1, REGION, attrs};

#[tokio::test]
async fn locations_are_the_tenants_regions() {
    let env = fixture::start().await;
    let locations = env
        .client()
        .locations(GetLocationsArgs::default())
        .await
        .unwrap();
    let names: Vec<&str> = locations.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["eu-north1", "us-central1"]);
    assert_eq!(locations[0].country, "FIN");
}

#[tokio::test]
async fn the_catalog_has_every_preset_with_calculator_prices_and_quota_availability() {
    let env = fixture::start().await;
    let client = env.client();
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    let h100 = types
        .iter()
        .find(|t| t.type_name == H100_1 && t.location == REGION)
        .expect("the H100 type in eu-north1");
    assert!(h100.is_available);
    assert_eq!(h100.supported_gpus[0].name, "H100");
    assert_eq!(h100.supported_gpus[0].count, 1);
    assert_eq!(h100.base_price, Some(Price::parse("2.95", "USD").unwrap()));
    assert!(
        types
            .iter()
            .any(|t| t.location == "us-central1" && t.type_name.starts_with("gpu-b200-sxm"))
    );
    // Every type of every region has a price from the calculator, none invented.
    for t in &types {
        let price = t
            .base_price
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no price", t.id));
        assert!(price.rounded() > rust_decimal::Decimal::ZERO, "{}", t.id);
    }
    // Quota used up: no longer available there, and nowhere else affected.
    env.fake
        .state()
        .set_quota_limit(REGION, "compute.instance.gpu.h100", 0);
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    for t in types
        .iter()
        .filter(|t| t.type_name.starts_with("gpu-h100-sxm"))
    {
        assert!(!t.is_available, "{}", t.id);
    }
    assert!(
        types
            .iter()
            .any(|t| t.type_name.starts_with("gpu-h200-sxm") && t.is_available)
    );
    // Filtering by location.
    let only = GetInstanceTypeArgs {
        locations: LocationsFilter::only(["us-central1"]),
        ..GetInstanceTypeArgs::default()
    };
    let types = client.instance_types(&only).await.unwrap();
    assert!(!types.is_empty() && types.iter().all(|t| t.location == "us-central1"));
}

#[tokio::test]
async fn a_full_lifecycle_leaves_nothing_behind() {
    let env = fixture::start().await;
    let client = env.client();
    let mut asked = attrs("life-1");
    asked.tags.insert("team".into(), "ml".into());
    asked.firewall_rules.ingress_rules.push(FirewallRule {
        protocol: Some(Protocol::Tcp),
        ..FirewallRule::port(8888)
    });
    asked.user_data_base64 = "I2Nsb3VkLWNvbmZpZwpwYWNrYWdlczogW2h0b3BdCg==".into();
    let created = env.create(&asked).await.unwrap();
    assert_eq!(created.ref_id, "life-1");
    assert_eq!(created.cloud_cred_ref_id, "it-cred");
    assert_eq!(created.location, REGION);
    assert_eq!(created.instance_type, H100_1);
    assert_eq!(created.hostname, "job-life-1");
    assert_eq!(created.tags.get("team").map(String::as_str), Some("ml"));
    assert!(created.created_at.is_some());
    let ports: Vec<u16> = created
        .firewall_rules
        .ingress_rules
        .iter()
        .map(|r| r.from_port)
        .collect();
    assert!(ports.contains(&22) && ports.contains(&8888), "{ports:?}");

    // What the fake holds: one instance with its boot disk, subnet, public IP and group.
    let fake = env
        .fake
        .state()
        .instance(created.cloud_id.as_str())
        .unwrap();
    assert!(fake.public_ip.is_some());
    assert_eq!(fake.security_group_ids.len(), 1);
    assert!(fake.boot_disk_id.is_some());
    let user_data = &fake.spec.cloud_init_user_data;
    // Two parts, each base64: the user's own cloud-config, and the bootstrap with the key.
    assert!(user_data.contains("multipart/mixed"), "{user_data}");
    assert!(
        user_data.contains("I2Nsb3VkLWNvbmZpZwpwYWNrYWdlczogW2h0b3BdCg"),
        "the user's user data is kept"
    );
    assert_eq!(env.fake.state().disks().len(), 1);
    assert_eq!(env.fake.state().mutations_without_idempotency_key(), 0);

    // Get and list see it, running once the fake says so.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let got = client.get_instance(&created.cloud_id).await.unwrap();
    assert_eq!(got.lifecycle(), LifecycleStatus::Running);
    assert_eq!(got.instance_type_id, created.instance_type_id);
    assert!(!got.public_ip.is_empty());
    let listed = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let by_tag = ListInstancesArgs {
        tag_filters: [("team".to_owned(), vec!["ml".to_owned()])].into(),
        ..ListInstancesArgs::default()
    };
    assert_eq!(client.list_instances(&by_tag).await.unwrap().len(), 1);
    let other_tag = ListInstancesArgs {
        tag_filters: [("team".to_owned(), vec!["web".to_owned()])].into(),
        ..ListInstancesArgs::default()
    };
    assert!(client.list_instances(&other_tag).await.unwrap().is_empty());
    let elsewhere = ListInstancesArgs {
        locations: LocationsFilter::only(["us-central1"]),
        ..ListInstancesArgs::default()
    };
    assert!(client.list_instances(&elsewhere).await.unwrap().is_empty());
    let by_id = ListInstancesArgs {
        instance_ids: vec![created.cloud_id.clone()],
        ..ListInstancesArgs::default()
    };
    assert_eq!(client.list_instances(&by_id).await.unwrap().len(), 1);

    // Stop, and a second stop is a conflict naming the state; start.
    let stop_start = client.stop_start().unwrap();
    stop_start.stop_instance(&created.cloud_id).await.unwrap();
    let stopped = client.get_instance(&created.cloud_id).await.unwrap();
    assert_eq!(stopped.lifecycle(), LifecycleStatus::Stopped);
    let again = stop_start
        .stop_instance(&created.cloud_id)
        .await
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Conflict, "{again}");
    assert!(again.to_string().contains("stopped"), "{again}");
    stop_start.start_instance(&created.cloud_id).await.unwrap();
    assert_eq!(
        client
            .get_instance(&created.cloud_id)
            .await
            .unwrap()
            .lifecycle(),
        LifecycleStatus::Running
    );

    // Tags are replaced; bookkeeping stays.
    let update = validate_tag_update(&UpdateInstanceTagsArgs {
        instance_id: created.cloud_id.clone(),
        tags: [("team".to_owned(), "web".to_owned())].into(),
    })
    .unwrap();
    client
        .tags()
        .unwrap()
        .update_instance_tags(&update)
        .await
        .unwrap();
    let tagged = client.get_instance(&created.cloud_id).await.unwrap();
    assert_eq!(tagged.tags.get("team").map(String::as_str), Some("web"));
    assert_eq!(tagged.ref_id, "life-1");

    // Firewall: add is idempotent, revoke removes by id.
    let features = client.create_features();
    let rule = FirewallRule {
        protocol: Some(Protocol::Tcp),
        ..FirewallRule::range(9000, 9000, vec!["198.51.100.0/24".into()])
    };
    let add = validate_firewall_add(
        &AddFirewallRulesToInstanceArgs {
            instance_id: created.cloud_id.clone(),
            firewall_rules: FirewallRules {
                ingress_rules: vec![rule.clone(), rule],
                egress_rules: Vec::new(),
            },
        },
        &features,
    )
    .unwrap();
    let firewall = client.modify_firewall().unwrap();
    firewall.add_firewall_rules(&add).await.unwrap();
    let after = client
        .get_instance(&created.cloud_id)
        .await
        .unwrap()
        .firewall_rules
        .ingress_rules;
    firewall.add_firewall_rules(&add).await.unwrap();
    let again = client
        .get_instance(&created.cloud_id)
        .await
        .unwrap()
        .firewall_rules
        .ingress_rules;
    assert_eq!(
        after, again,
        "adding rules already in place changes nothing"
    );
    let added = after
        .iter()
        .find(|r| r.from_port == 9000)
        .expect("the 9000 rule");
    let revoke = validate_firewall_revoke(&RevokeSecurityGroupRuleArgs {
        instance_id: created.cloud_id.clone(),
        security_group_rule_ids: vec![added.id.clone()],
    })
    .unwrap();
    firewall.revoke_firewall_rules(&revoke).await.unwrap();
    let left = client
        .get_instance(&created.cloud_id)
        .await
        .unwrap()
        .firewall_rules
        .ingress_rules;
    assert!(left.iter().all(|r| r.from_port != 9000), "{left:?}");

    // Terminate: gone, and its disk and security group with it; again is fine.
    client.terminate_instance(&created.cloud_id).await.unwrap();
    let gone = client.get_instance(&created.cloud_id).await.unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::InstanceNotFound, "{gone}");
    client.terminate_instance(&created.cloud_id).await.unwrap();
    env.assert_nothing_left();
    assert_eq!(env.fake.state().mutations_without_idempotency_key(), 0);
}

#[tokio::test]
async fn a_second_create_with_the_same_ref_id_returns_the_first_instance() {
    let env = fixture::start().await;
    let first = env.create(&attrs("same-ref")).await.unwrap();
    let second = env.create(&attrs("same-ref")).await.unwrap();
    assert_eq!(first.cloud_id, second.cloud_id);
    assert_eq!(env.fake.state().instances().len(), 1);
    assert_eq!(env.fake.state().disks().len(), 1);
    assert_eq!(env.fake.state().security_groups().len(), 1);
    env.client()
        .terminate_instance(&first.cloud_id)
        .await
        .unwrap();
    env.assert_nothing_left();
}

#[tokio::test]
async fn unknown_ids_are_not_found_and_terminate_of_them_succeeds() {
    let env = fixture::start().await;
    let client = env.client();
    let id = InstanceId::new("computeinstance-e00nosuchthing");
    assert_eq!(
        client.get_instance(&id).await.unwrap_err().kind(),
        ErrorKind::InstanceNotFound
    );
    client.terminate_instance(&id).await.unwrap();
    let stop = client
        .stop_start()
        .unwrap()
        .stop_instance(&id)
        .await
        .unwrap_err();
    assert_eq!(stop.kind(), ErrorKind::InstanceNotFound, "{stop}");
}

#[tokio::test]
async fn a_bad_type_is_refused_and_leaves_nothing() {
    let env = fixture::start().await;
    let mut asked = attrs("bad-type");
    asked.instance_type = "gpu-h100-sxm".into();
    let err = env.create(&asked).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    asked.instance_type = "gpu-h100-sxm.99gpu".into();
    let err = env.create(&asked).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    env.assert_nothing_left();
}

#[tokio::test]
async fn images_are_the_public_images_of_the_regions() {
    let env = fixture::start().await;
    let client = env.client();
    let images = client.machine_image().unwrap();
    let all = images.images(&GetImageArgs::default()).await.unwrap();
    assert!(
        all.iter().any(|i| i.family == "ubuntu22.04-cuda12"),
        "{all:?}"
    );
    let some = images
        .images(&GetImageArgs {
            name_filters: vec!["*driverless*".into()],
            ..GetImageArgs::default()
        })
        .await
        .unwrap();
    assert!(!some.is_empty() && some.len() < all.len());
}

#[tokio::test]
async fn one_token_exchange_serves_every_client_of_the_credential() {
    let env = fixture::start().await;
    let mut calls = Vec::new();
    for location in ["", REGION, "us-central1", ""] {
        let client = env.credential.make_client(location).await.unwrap();
        calls.push(tokio::spawn(async move {
            client
                .list_instances(&ListInstancesArgs::default())
                .await
                .map(drop)
        }));
    }
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(env.fake.state().exchanges(), 1);
    assert_eq!(env.credential.token_exchanges(), 1);
}

#[tokio::test]
async fn an_expired_token_is_exchanged_again() {
    let env = fixture::start().await;
    let client = env.client();
    client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    env.fake.state().expire_tokens();
    // The first call after expiry is refused; the token is dropped and the next exchanges.
    let first = client.list_instances(&ListInstancesArgs::default()).await;
    if let Err(e) = &first {
        assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    }
    client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert_eq!(env.fake.state().exchanges(), 2);
}

#[tokio::test]
async fn a_static_iam_token_works_and_a_wrong_one_is_unauthenticated() {
    let env = fixture::start().await;
    let with = |token: &str| {
        NebiusCredential::new(
            NebiusConfig::new(NebiusAuth::Token(SecretString::from(token.to_owned())))
                .with_tenant(env.fake.tenant_id())
                .with_api_endpoint(env.fake.endpoint()),
        )
        .unwrap()
    };
    let good = with(env.fake.iam_token().unwrap()).client("");
    good.list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    let bad = with("not-a-token").client("");
    let err = bad
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(!err.to_string().contains("not-a-token"), "{err}");
    assert_eq!(env.fake.state().exchanges(), 0);
}

#[tokio::test]
async fn a_key_the_tenant_does_not_know_is_unauthenticated() {
    let env = fixture::start().await;
    let other = fixture::start_with(FakeNebiusOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    // The other fake's key, pointed at the first fake.
    let config = fixture::config(&other.fake, &dir)
        .with_tenant(env.fake.tenant_id())
        .with_api_endpoint(env.fake.endpoint());
    let client = NebiusCredential::new(config).unwrap().client("");
    let err = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
}

#[tokio::test]
async fn configured_projects_replace_the_tenant_lookup() {
    let env = fixture::start().await;
    let project = env.fake.project_id("us-central1").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = fixture::config(&env.fake, &dir).with_project("us-central1", project);
    config.tenant_id.clear();
    let client = NebiusCredential::new(config).unwrap().client("");
    let locations = client.locations(GetLocationsArgs::default()).await.unwrap();
    assert_eq!(locations.len(), 1);
    assert_eq!(locations[0].name, "us-central1");
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    assert!(!types.is_empty() && types.iter().all(|t| t.location == "us-central1"));
}

#[tokio::test]
async fn the_descriptor_builds_from_the_fakes_settings() {
    let env = fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    env.fake.write_credentials_file(&path).unwrap();
    let vars = [
        ("NEBIUS_CREDENTIALS_FILE", path.display().to_string()),
        ("NEBIUS_TENANT_ID", env.fake.tenant_id()),
        ("NEBIUS_API_ENDPOINT", env.fake.endpoint()),
    ];
    let settings = gpucloud_core::ProviderSettings::from_lookup(gpucloud_nebius::SETTINGS, |var| {
        vars.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone())
    });
    let gpucloud_core::Build::Ready(credential, source) =
        (gpucloud_nebius::DESCRIPTOR.build)(&settings).unwrap()
    else {
        panic!("configured");
    };
    assert_eq!(source.to_string(), "env NEBIUS_CREDENTIALS_FILE");
    let client = credential.make_client("").await.unwrap();
    client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert!(!format!("{credential:?}").contains("PRIVATE KEY"));
}

/// An instance made outside gpucloud (the Nebius console, CLI or API) carries no credential
/// label: a list hides it by default and the account scope reports it, with no RefID or
/// credential.
#[tokio::test]
async fn the_account_scope_lists_instances_made_outside_gpucloud() {
    let env = fixture::start().await;
    let client = env.client();
    let ours = env.create(&attrs("ref-o")).await.unwrap();
    let (platform, preset) = H100_1.split_once('.').unwrap();
    let theirs = env
        .fake
        .state()
        .seed_running_instances(
            REGION,
            platform,
            preset,
            1,
            &std::collections::BTreeMap::new(),
        )
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
        .find(|i| i.cloud_id.as_str() == theirs)
        .expect("the unlabelled instance is listed");
    assert_eq!(
        (foreign.ref_id.as_str(), foreign.cloud_cred_ref_id.as_str()),
        ("", "")
    );
    assert!(!foreign.is_managed_by(&ours.cloud_cred_ref_id));
    assert!(
        every
            .iter()
            .any(|i| i.cloud_id == ours.cloud_id && i.is_managed_by(&ours.cloud_cred_ref_id))
    );

    for instance in every {
        client.terminate_instance(&instance.cloud_id).await.unwrap();
    }
    env.assert_nothing_left();
}
