//! The sweep of orphaned rulesets, against a fake that keeps a ruleset in use until its
//! instance is gone (as real Lambda may).

use std::time::Duration;

use gpucloud_core::{CloudClient, InstanceId};
use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions, Fault, Operation};
use gpucloud_lambda::{LambdaClient, LambdaCredential};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{self, attrs};

/// A fast fake whose rulesets stay in use until their instances are gone.
async fn holding_fake() -> FakeLambda {
    FakeLambda::start(FakeLambdaOptions {
        boot_delay: Duration::from_millis(100),
        terminate_delay: Duration::from_millis(100),
        gone_after: Duration::from_millis(300),
        rulesets_in_use_until_gone: true,
        ..FakeLambdaOptions::default()
    })
    .await
    .expect("fake starts")
}

/// A client of credential `cred_ref` that sweeps orphans of any age.
fn client_of(fake: &FakeLambda, cred_ref: &str) -> LambdaClient {
    let config = support::config(&fake.base_url(), fake.api_key())
        .with_ref_id(cred_ref)
        .with_orphan_ruleset_grace(Duration::ZERO);
    LambdaCredential::new(config)
        .expect("credential")
        .client("")
}

fn client(fake: &FakeLambda) -> LambdaClient {
    client_of(fake, support::CRED_REF)
}

/// Waits until the fake no longer lists the instance.
async fn wait_gone(fake: &FakeLambda, id: &InstanceId) {
    for _ in 0..100 {
        if fake.state().instance(id.as_str()).is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("instance {id} is still listed");
}

/// The ids of the fake's rulesets, sorted.
fn ruleset_ids(fake: &FakeLambda) -> Vec<String> {
    let mut ids: Vec<String> = fake
        .state()
        .firewall_rulesets()
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort();
    ids
}

/// The rulesets referenced by the fake's listed instances, sorted.
fn referenced_ids(fake: &FakeLambda) -> Vec<String> {
    let mut ids: Vec<String> = fake
        .state()
        .instances()
        .into_iter()
        .flat_map(|i| i.firewall_rulesets)
        .collect();
    ids.sort();
    ids
}

/// Creates an instance with `ref_id`, terminates it and waits until it is gone; returns the
/// id of its ruleset, which the terminate could not delete.
async fn orphan(fake: &FakeLambda, client: &LambdaClient, ref_id: &str) -> String {
    let created = gpucloud_core::validate_and_create(client, &attrs(ref_id))
        .await
        .unwrap();
    let ruleset = fake
        .state()
        .instance(created.cloud_id.as_str())
        .unwrap()
        .firewall_rulesets;
    assert_eq!(ruleset.len(), 1);
    client.terminate_instance(&created.cloud_id).await.unwrap();
    assert!(
        ruleset_ids(fake).contains(&ruleset[0]),
        "the terminate could not delete a ruleset still in use"
    );
    wait_gone(fake, &created.cloud_id).await;
    ruleset[0].clone()
}

/// Creates a ruleset through the API, as a person or another tool would.
async fn foreign_ruleset(fake: &FakeLambda, name: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/firewall-rulesets", fake.base_url()))
        .bearer_auth(fake.api_key())
        .json(&json!({"name": name, "region": "us-west-1", "rules": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    body["data"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn next_create_sweeps_the_ruleset_a_terminate_left() {
    let fake = holding_fake().await;
    let client = client(&fake);
    let left = orphan(&fake, &client, "sweep-a").await;
    assert_eq!(ruleset_ids(&fake), vec![left.clone()]);

    let b = gpucloud_core::validate_and_create(&client, &attrs("sweep-b"))
        .await
        .unwrap();
    let rulesets = ruleset_ids(&fake);
    assert!(!rulesets.contains(&left), "the orphan was swept");
    assert_eq!(
        rulesets,
        referenced_ids(&fake),
        "one ruleset per live instance"
    );
    assert_eq!(rulesets.len(), 1);
    assert_eq!(
        fake.state()
            .instance(b.cloud_id.as_str())
            .unwrap()
            .firewall_rulesets,
        rulesets
    );
}

#[tokio::test]
async fn explicit_sweep_deletes_orphans_once_their_instances_are_gone() {
    let fake = holding_fake().await;
    let client = client(&fake);
    let keep = gpucloud_core::validate_and_create(&client, &attrs("sweep-keep"))
        .await
        .unwrap();
    let gone = gpucloud_core::validate_and_create(&client, &attrs("sweep-gone"))
        .await
        .unwrap();
    client.terminate_instance(&gone.cloud_id).await.unwrap();
    assert_eq!(ruleset_ids(&fake).len(), 2);
    // Terminating: still referenced, so not an orphan yet.
    assert_eq!(client.sweep_orphaned_rulesets().await.unwrap(), 0);
    assert_eq!(ruleset_ids(&fake).len(), 2);

    wait_gone(&fake, &gone.cloud_id).await;
    assert_eq!(client.sweep_orphaned_rulesets().await.unwrap(), 1);
    assert_eq!(client.sweep_orphaned_rulesets().await.unwrap(), 0);
    assert_eq!(ruleset_ids(&fake), referenced_ids(&fake));
    assert_eq!(
        ruleset_ids(&fake),
        fake.state()
            .instance(keep.cloud_id.as_str())
            .unwrap()
            .firewall_rulesets
    );
}

#[tokio::test]
async fn terminate_sweeps_orphans_of_earlier_terminates() {
    let fake = holding_fake().await;
    let client = client(&fake);
    let left = orphan(&fake, &client, "sweep-first").await;
    let second = gpucloud_core::validate_and_create(&client, &attrs("sweep-second"))
        .await
        .unwrap();
    // The create swept `left` already; make another orphan without a create in between.
    assert!(!ruleset_ids(&fake).contains(&left));
    let third = gpucloud_core::validate_and_create(&client, &attrs("sweep-third"))
        .await
        .unwrap();
    client.terminate_instance(&second.cloud_id).await.unwrap();
    wait_gone(&fake, &second.cloud_id).await;
    assert_eq!(ruleset_ids(&fake).len(), 2);
    client.terminate_instance(&third.cloud_id).await.unwrap();
    // The second's ruleset is swept; the third's is held by its terminating instance.
    assert_eq!(ruleset_ids(&fake), referenced_ids(&fake));
    assert_eq!(ruleset_ids(&fake).len(), 1);
}

#[tokio::test]
async fn sweeps_never_touch_other_credentials_or_hand_made_rulesets() {
    let fake = holding_fake().await;
    let mine = client(&fake);
    let other = client_of(&fake, "cred-other");
    let others_orphan = orphan(&fake, &other, "shared-ref").await;
    let hand_made = foreign_ruleset(&fake, "web servers").await;
    let prefixed = foreign_ruleset(&fake, "gpucloud-shared-ref-0123456789ab").await;
    let lookalike = foreign_ruleset(&fake, "gpucloud-shared-ref-01234567-0123456789ab").await;
    let my_orphan = orphan(&fake, &mine, "shared-ref").await;

    assert_eq!(mine.sweep_orphaned_rulesets().await.unwrap(), 1);
    let left = ruleset_ids(&fake);
    assert!(!left.contains(&my_orphan));
    for id in [&others_orphan, &hand_made, &prefixed, &lookalike] {
        assert!(left.contains(id), "{id} was deleted");
    }
    gpucloud_core::validate_and_create(&mine, &attrs("after"))
        .await
        .unwrap();
    assert_eq!(
        ruleset_ids(&fake).len(),
        5,
        "a create sweeps nothing foreign"
    );

    // The other credential's own sweep recognizes its ruleset.
    assert_eq!(other.sweep_orphaned_rulesets().await.unwrap(), 1);
    assert!(!ruleset_ids(&fake).contains(&others_orphan));
    assert_eq!(ruleset_ids(&fake).len(), 4);
}

#[tokio::test]
async fn sweep_failures_do_not_fail_create() {
    let fake = holding_fake().await;
    let client = client(&fake);
    let left = orphan(&fake, &client, "sweep-fail-a").await;
    // Every attempt to list rulesets fails (four attempts with retries): the sweep gives up.
    fake.state().set_fault_for(
        Operation::Firewall,
        Fault::ServerError {
            status: 503,
            times: 4,
        },
    );
    let b = gpucloud_core::validate_and_create(&client, &attrs("sweep-fail-b"))
        .await
        .unwrap();
    assert!(fake.state().instance(b.cloud_id.as_str()).is_some());
    assert!(
        ruleset_ids(&fake).contains(&left),
        "the sweep could not run"
    );
    assert_eq!(ruleset_ids(&fake).len(), 2);

    // An explicit sweep reports a failed list, then deletes the orphan once it works.
    fake.state().set_fault_for(
        Operation::Firewall,
        Fault::ServerError {
            status: 503,
            times: 4,
        },
    );
    assert!(client.sweep_orphaned_rulesets().await.is_err());
    assert_eq!(client.sweep_orphaned_rulesets().await.unwrap(), 1);
    assert_eq!(ruleset_ids(&fake), referenced_ids(&fake));
}

#[tokio::test]
async fn young_orphans_wait_for_the_grace() {
    let fake = holding_fake().await;
    let config = support::config(&fake.base_url(), fake.api_key());
    assert_eq!(
        config.effective_orphan_ruleset_grace(),
        gpucloud_lambda::DEFAULT_ORPHAN_RULESET_GRACE
    );
    let client = LambdaCredential::new(config).unwrap().client("");
    let left = orphan(&fake, &client, "sweep-young").await;
    // Seconds old: it may belong to a create of another process on its way to the launch.
    assert_eq!(client.sweep_orphaned_rulesets().await.unwrap(), 0);
    assert_eq!(ruleset_ids(&fake), vec![left]);
}
