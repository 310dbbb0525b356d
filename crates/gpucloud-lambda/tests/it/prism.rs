//! The OpenAPI contract: every operation through Prism's validating proxy in front of the fake.
//! A request or response that breaks Lambda's description becomes a 4xx/5xx, so the operations
//! succeeding proves both directions conform.

use std::time::Duration;

use gpucloud_core::{
    AddFirewallRulesToInstanceArgs, CloudClient, CloudClientExt, FirewallRule, FirewallRules,
    GetImageArgs, GetInstanceTypeArgs, GetLocationsArgs, RevokeSecurityGroupRuleArgs,
};
use gpucloud_fakes::prism;
use gpucloud_lambda::LambdaCredential;

use crate::support::{all, attrs, config, fake};

#[tokio::test]
async fn every_operation_conforms_to_the_openapi_description() {
    let fake = fake().await;
    let spec = prism::find_up("openapi/lambda-cloud-1.10.0.json");
    let Some(prism) = prism::start(spec, &fake.base_url()).await else {
        return;
    };
    let result = drive(&prism.base, fake.api_key(), &fake).await;
    drop(prism);
    result.unwrap();
}

async fn drive(
    url: &str,
    key: &str,
    fake: &gpucloud_fakes::lambda::FakeLambda,
) -> gpucloud_core::Result<()> {
    let client = LambdaCredential::new(config(url, key))?.client("us-west-1");
    assert!(
        !client
            .locations(GetLocationsArgs::default())
            .await?
            .is_empty()
    );
    assert!(
        !client
            .instance_types(&GetInstanceTypeArgs::default())
            .await?
            .is_empty()
    );
    assert!(
        !client
            .machine_image()?
            .images(&GetImageArgs::default())
            .await?
            .is_empty()
    );

    let mut a = attrs("prism");
    a.tags.insert("team".into(), "ml".into());
    a.user_data_base64 = "I2Nsb3VkLWNvbmZpZwo=".into();
    a.firewall_rules = FirewallRules {
        ingress_rules: vec![FirewallRule::port(8080)],
        ..Default::default()
    };
    let created = gpucloud_core::validate_and_create(&client, &a).await?;
    assert_eq!(
        gpucloud_core::validate_and_create(&client, &a)
            .await?
            .cloud_id,
        created.cloud_id
    );
    assert_eq!(
        client.get_instance(&created.cloud_id).await?.ref_id,
        "prism"
    );
    assert_eq!(client.list_instances(&all()).await?.len(), 1);

    let firewall = client.modify_firewall()?;
    let add = AddFirewallRulesToInstanceArgs {
        instance_id: created.cloud_id.clone(),
        firewall_rules: FirewallRules {
            ingress_rules: vec![FirewallRule::port(9000)],
            ..Default::default()
        },
    };
    firewall.add_firewall_rules(&valid_add(&add)).await?;
    let revoke = RevokeSecurityGroupRuleArgs {
        instance_id: created.cloud_id.clone(),
        security_group_rule_ids: vec!["udp:9000-9000:0.0.0.0/0".into()],
    };
    firewall
        .revoke_firewall_rules(&gpucloud_core::validate_firewall_revoke(&revoke).unwrap())
        .await?;
    let rules = client.get_instance(&created.cloud_id).await?.firewall_rules;
    assert!(
        rules
            .ingress_rules
            .iter()
            .any(|r| r.id == "tcp:9000-9000:0.0.0.0/0"),
        "{rules:?}"
    );
    let listed = client.list_instances(&all()).await?;
    assert_eq!(listed[0].firewall_rules, rules);

    for _ in 0..100 {
        if client
            .get_instance(&created.cloud_id)
            .await?
            .status
            .lifecycle_status
            == gpucloud_core::LifecycleStatus::Running
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client.reboot()?.reboot_instance(&created.cloud_id).await?;
    client.terminate_instance(&created.cloud_id).await?;
    assert!(fake.state().firewall_rulesets().is_empty());
    Ok(())
}

/// Firewall additions as validation hands them over (Lambda filters no egress).
fn valid_add(add: &AddFirewallRulesToInstanceArgs) -> gpucloud_core::ValidFirewallAdd {
    gpucloud_core::validate_firewall_add(add, &gpucloud_core::CreateFeatures::default()).unwrap()
}
