//! Creates and terminates through the fault proxy in front of moto: every create either made
//! one instance the caller learned about, or (outcome unknown) at most one findable by its
//! RefID, or nothing; after cleanup with faults off nothing is left. Then each way a create
//! can lose an answer, scripted one at a time (a lost `CreateSecurityGroup`, `RunInstances`
//! or `ImportKeyPair` answer, with and without the lookup that follows), and what the sweep
//! removes of it; and the claim that keeps a sweep from taking a key pair a create is using.

use std::collections::HashMap;

use gpucloud_core::{CloudClient, InstanceScope, ListInstancesArgs};
use gpucloud_fakes::proxy::{FaultProxy, FaultProxyOptions, ProxyFault};

use crate::common::*;

#[tokio::test]
async fn faulty_creates_never_duplicate_or_leak() {
    let aws = aws().await;
    let mut options = FaultProxyOptions::new(aws.moto.endpoint(), 11);
    options.fault_rate = 0.25;
    options.retry_after_secs = 0;
    let proxy = FaultProxy::start(options).await.unwrap();
    let client = gpucloud_aws::AwsCredential::new(config_at(&aws, &proxy.base_url(), CRED))
        .unwrap()
        .client(REGION);
    let mut learned = HashMap::new();
    for n in 0..6 {
        let ref_id = format!("fault-{n}");
        if let Ok(instance) = client
            .create_instance(valid(&client, &attrs(&ref_id)))
            .await
        {
            learned.insert(ref_id, instance.cloud_id);
        }
    }
    assert!(proxy.counts().total() > 0, "{}", proxy.counts());
    proxy.set_enabled(false);
    let all = client
        .list_instances(&ListInstancesArgs {
            scope: InstanceScope::Account,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut per_ref: HashMap<&str, usize> = HashMap::new();
    for i in &all {
        *per_ref.entry(i.ref_id.as_str()).or_default() += 1;
    }
    assert!(per_ref.values().all(|n| *n == 1), "duplicates: {per_ref:?}");
    for (ref_id, id) in &learned {
        assert!(
            all.iter().any(|i| &i.cloud_id == id && &i.ref_id == ref_id),
            "{ref_id} ({id}) lost: {:?}",
            all.iter()
                .map(|i| (i.cloud_id.as_str(), i.ref_id.as_str(), i.lifecycle()))
                .collect::<Vec<_>>()
        );
    }
    for i in &all {
        client.terminate_instance(&i.cloud_id).await.unwrap();
    }
    client.sweep_orphaned_resources(REGION).await.unwrap();
    assert_nothing_left(&aws).await;
}

/// A proxy in front of moto that injects only the faults a test scripts, and a client of the
/// test credential through it (the sweep grace zero, as in every test here).
async fn scripted(aws: &Aws) -> (FaultProxy, gpucloud_aws::AwsClient) {
    let mut options = FaultProxyOptions::new(aws.moto.endpoint(), 1);
    options.fault_rate = 0.0;
    options.retry_after_secs = 0;
    let proxy = FaultProxy::start(options).await.unwrap();
    let client = gpucloud_aws::AwsCredential::new(config_at(aws, &proxy.base_url(), CRED))
        .unwrap()
        .client(REGION);
    (proxy, client)
}

/// The security groups gpucloud made in moto, by name.
async fn managed_groups(aws: &Aws) -> Vec<String> {
    let ec2 = raw_ec2(aws, REGION);
    let out = ec2.describe_security_groups().send().await.unwrap();
    out.security_groups()
        .iter()
        .filter_map(|g| g.group_name())
        .filter(|n| n.starts_with("gpucloud-"))
        .map(str::to_owned)
        .collect()
}

/// The key pairs in moto, by name.
async fn key_pairs(aws: &Aws) -> Vec<String> {
    let ec2 = raw_ec2(aws, REGION);
    let out = ec2.describe_key_pairs().send().await.unwrap();
    out.key_pairs()
        .iter()
        .filter_map(|k| k.key_name().map(str::to_owned))
        .collect()
}

/// Every lookup after the first of `action` fails (5xx), however often it is made again.
fn fail_lookups_after_the_first(proxy: &FaultProxy, action: &str) {
    proxy.script(
        format!("Action={action}&"),
        1,
        ProxyFault::ServerError,
        10_000,
    );
}

#[tokio::test]
async fn a_lost_group_answer_is_found_by_name_and_used() {
    let aws = aws().await;
    let (proxy, client) = scripted(&aws).await;
    proxy.script(
        "Action=CreateSecurityGroup&",
        0,
        ProxyFault::LostAfterCommit,
        1,
    );
    let created = client
        .create_instance(valid(&client, &attrs("lost-group-1")))
        .await
        .unwrap();
    assert_eq!(proxy.counts().lost_after_commit, 1, "{}", proxy.counts());
    assert_eq!(
        managed_groups(&aws).await.len(),
        1,
        "one group, no second one"
    );
    client.terminate_instance(&created.cloud_id).await.unwrap();
    assert_nothing_left(&aws).await;
}

#[tokio::test]
async fn a_lost_group_answer_that_cannot_be_looked_up_leaves_a_group_the_sweep_removes() {
    let aws = aws().await;
    let (proxy, client) = scripted(&aws).await;
    proxy.script(
        "Action=CreateSecurityGroup&",
        0,
        ProxyFault::LostAfterCommit,
        1,
    );
    fail_lookups_after_the_first(&proxy, "DescribeSecurityGroups");
    let e = client
        .create_instance(valid(&client, &attrs("lost-group-2")))
        .await
        .unwrap_err();
    assert!(e.outcome_unknown(), "{e}");
    // The group exists and this create never learned its id; the key pair it imported is
    // removed with the failure.
    assert_eq!(managed_groups(&aws).await.len(), 1);
    assert!(key_pairs(&aws).await.is_empty());
    let direct = client_as(&aws, CRED);
    assert_eq!(direct.sweep_orphaned_resources(REGION).await.unwrap(), 1);
    assert_nothing_left(&aws).await;
}

#[tokio::test]
async fn a_lost_answer_to_the_groups_rules_does_not_fail_the_create() {
    let aws = aws().await;
    let (proxy, client) = scripted(&aws).await;
    // Carried out, answer lost: the retry meets `InvalidPermission.Duplicate`.
    proxy.script(
        "Action=AuthorizeSecurityGroupIngress&",
        0,
        ProxyFault::LostAfterCommit,
        1,
    );
    let mut a = attrs("lost-rules");
    a.firewall_rules.ingress_rules = vec![gpucloud_core::FirewallRule::port(8888)];
    let created = client.create_instance(valid(&client, &a)).await.unwrap();
    assert_eq!(proxy.counts().lost_after_commit, 1, "{}", proxy.counts());
    let rules = client
        .get_instance(&created.cloud_id)
        .await
        .unwrap()
        .firewall_rules
        .ingress_rules;
    assert!(rules.iter().any(|r| r.from_port == 22), "{rules:?}");
    assert!(rules.iter().any(|r| r.from_port == 8888), "{rules:?}");
    client.terminate_instance(&created.cloud_id).await.unwrap();
    assert_nothing_left(&aws).await;
}

#[tokio::test]
async fn a_lost_launch_that_made_nothing_removes_the_key_pair_and_group() {
    let aws = aws().await;
    let (proxy, client) = scripted(&aws).await;
    // Every attempt of the launch is cut off before moto sees it.
    proxy.script(
        "Action=RunInstances&",
        0,
        ProxyFault::ResetBeforeForwarding,
        4,
    );
    let e = client
        .create_instance(valid(&client, &attrs("lost-launch")))
        .await
        .unwrap_err();
    assert!(proxy.counts().resets >= 1, "{}", proxy.counts());
    assert!(
        !e.outcome_unknown(),
        "the lookup by RefID found no instance: {e}"
    );
    let direct = client_as(&aws, CRED);
    assert_eq!(direct.sweep_orphaned_resources(REGION).await.unwrap(), 0);
    assert_nothing_left(&aws).await;
}

#[tokio::test]
async fn a_lost_key_pair_answer_is_found_and_used_or_left_for_the_sweep() {
    let aws = aws().await;
    let (proxy, client) = scripted(&aws).await;
    // Found by name: the create goes on with it.
    proxy.script("Action=ImportKeyPair&", 0, ProxyFault::LostAfterCommit, 1);
    let created = client
        .create_instance(valid(&client, &attrs("lost-key-1")))
        .await
        .unwrap();
    assert_eq!(key_pairs(&aws).await.len(), 1);
    client.terminate_instance(&created.cloud_id).await.unwrap();
    assert_nothing_left(&aws).await;

    // Not found (every lookup after the import fails): the create's outcome is unknown and the
    // key pair stays, tagged, for the create with the same RefID or the sweep.
    proxy.script("Action=ImportKeyPair&", 0, ProxyFault::LostAfterCommit, 1);
    fail_lookups_after_the_first(&proxy, "DescribeKeyPairs");
    let e = client
        .create_instance(valid(&client, &attrs("lost-key-2")))
        .await
        .unwrap_err();
    assert!(e.outcome_unknown(), "{e}");
    assert_eq!(key_pairs(&aws).await.len(), 1);
    assert!(
        managed_groups(&aws).await.is_empty(),
        "no group was made yet"
    );
    let direct = client_as(&aws, CRED);
    assert_eq!(direct.sweep_orphaned_resources(REGION).await.unwrap(), 1);
    assert_nothing_left(&aws).await;
}

#[tokio::test]
async fn a_key_pair_a_create_claimed_within_the_grace_is_not_swept() {
    let aws = aws().await;
    let client = client(&aws);
    let raw = raw_ec2(&aws, REGION);
    // A key pair gpucloud imported long ago that no instance uses: its instance and group
    // removed behind the provider's back, its import dated 2020.
    let created = client
        .create_instance(valid(&client, &attrs("claim-1")))
        .await
        .unwrap();
    raw.terminate_instances()
        .instance_ids(created.cloud_id.as_str())
        .send()
        .await
        .unwrap();
    for g in managed_groups(&aws).await {
        raw.delete_security_group()
            .group_name(g)
            .send()
            .await
            .unwrap();
    }
    let keys = raw.describe_key_pairs().send().await.unwrap();
    let [key] = keys.key_pairs() else {
        panic!("one key pair: {keys:?}");
    };
    let (name, id) = (key.key_name().unwrap(), key.key_pair_id().unwrap());
    raw.create_tags()
        .resources(id)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("gpucloud-created-at")
                .value("2020-01-01T00:00:00Z")
                .build(),
        )
        .send()
        .await
        .unwrap();
    // A create claims it, then is refused (a zone the region lacks, at RunInstances): the key
    // pair is not this create's to remove.
    let mut refused = attrs("claim-2");
    refused.sub_location = "us-east-1z".into();
    assert!(
        client
            .create_instance(valid(&client, &refused))
            .await
            .is_err()
    );
    assert_eq!(key_pairs(&aws).await, [name]);
    // A sweep with a grace (another process's) leaves it: a create claimed it within the grace
    // and may still be launching with it. Unclaimed, its 2020 import would have let it go.
    let patient = gpucloud_aws::AwsCredential::new(
        config(&aws, CRED).with_sweep_grace(std::time::Duration::from_secs(600)),
    )
    .unwrap()
    .client(REGION);
    assert_eq!(patient.sweep_orphaned_resources(REGION).await.unwrap(), 0);
    assert_eq!(key_pairs(&aws).await, [name]);
    // Past the grace (zero for this client) it goes.
    assert_eq!(client.sweep_orphaned_resources(REGION).await.unwrap(), 1);
    assert_nothing_left(&aws).await;
}
