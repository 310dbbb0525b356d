//! Every fault of the kit against the Shadeform provider: each create either made exactly one
//! instance the caller learned about, or left no instance and no SSH key on the fake.

use std::time::{Duration, Instant};

use gpucloud_core::validate::validate_and_create;
use gpucloud_core::{CloudClient, ErrorKind, GetInstanceTypeArgs, ListInstancesArgs};
use gpucloud_fakes::kit::Fault;
use gpucloud_fakes::shadeform::Operation;

use crate::common::*;

#[tokio::test]
async fn a_lost_create_response_is_resolved_by_ref_id() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::CreateInstance,
        times: 1,
    });
    let created = validate_and_create(&client, &attrs("lost")).await.unwrap();
    assert_eq!(live_instances(&fake), 1, "created once, never twice");
    assert_eq!(
        fake.state().instances()[0].id.to_string(),
        created.cloud_id.as_str()
    );
    assert_eq!(
        fake.state().request_count("POST", "/v1/instances/create"),
        1
    );
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn a_lost_key_response_is_resolved_by_public_key() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::AddSshKey,
        times: 1,
    });
    validate_and_create(&client, &attrs("key-lost"))
        .await
        .unwrap();
    assert_eq!(added_keys(&fake).len(), 1, "the key added once and used");
    assert_eq!(fake.state().instances()[0].ssh_key_id, {
        let keys = fake.state().ssh_keys();
        keys.iter()
            .find(|k| k.id != fake.state().default_key_id())
            .unwrap()
            .id
            .to_string()
    });
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn a_failed_create_removes_the_key_it_added() {
    for fault in [
        Fault::ServerError {
            status: 500,
            times: 1,
        },
        Fault::ServerError {
            status: 503,
            times: 5,
        },
        Fault::ConnectionReset { times: 1 },
        Fault::MalformedJson { times: 1 },
    ] {
        let fake = fake().await;
        let client = client(&fake);
        fake.state()
            .set_fault_for(Operation::CreateInstance, fault.clone());
        let result = validate_and_create(&client, &attrs("faulty")).await;
        let left = live_instances(&fake);
        match result {
            // A malformed 2xx: the create happened and is found by RefID.
            Ok(instance) => {
                assert_eq!(left, 1, "{fault:?}");
                assert_eq!(
                    fake.state().instances()[0].id.to_string(),
                    instance.cloud_id.as_str()
                );
                clean_up(&fake, &client).await;
            }
            Err(e) => {
                assert_eq!(left, 0, "{fault:?}: {e}");
                assert_nothing_left(&fake).await;
            }
        }
    }
}

#[tokio::test]
async fn a_refused_create_leaves_nothing() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state().set_fault_for(
        Operation::CreateInstance,
        Fault::ServerError {
            status: 400,
            times: 1,
        },
    );
    let err = validate_and_create(&client, &attrs("refused"))
        .await
        .unwrap_err();
    assert!(!err.outcome_unknown(), "{err}");
    assert_nothing_left(&fake).await;
}

#[tokio::test]
async fn a_failed_key_add_launches_nothing() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state().set_fault_for(
        Operation::AddSshKey,
        Fault::ServerError {
            status: 500,
            times: 10,
        },
    );
    assert!(
        validate_and_create(&client, &attrs("no-key"))
            .await
            .is_err()
    );
    assert_eq!(
        fake.state().request_count("POST", "/v1/instances/create"),
        0
    );
    assert_nothing_left(&fake).await;
}

#[tokio::test]
async fn throttled_creates_wait_and_launch_once() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state().set_fault_for(
        Operation::CreateInstance,
        Fault::RateLimited {
            retry_after_secs: 1,
            times: 1,
        },
    );
    let started = Instant::now();
    validate_and_create(&client, &attrs("throttled"))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After honoured"
    );
    assert_eq!(live_instances(&fake), 1);
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn reads_are_retried_through_transient_faults() {
    let fake = fake().await;
    let client = client(&fake);
    validate_and_create(&client, &attrs("reads")).await.unwrap();
    for fault in [
        Fault::ServerError {
            status: 502,
            times: 2,
        },
        Fault::ConnectionReset { times: 1 },
        Fault::RateLimited {
            retry_after_secs: 0,
            times: 1,
        },
        Fault::Latency(Duration::from_millis(50)),
    ] {
        fake.state()
            .set_fault_for(Operation::ListInstances, fault.clone());
        let listed = client.list_instances(&ListInstancesArgs::default()).await;
        assert_eq!(listed.map(|l| l.len()).ok(), Some(1), "{fault:?}");
        fake.state().clear_faults();
    }
    fake.state()
        .set_fault_for(Operation::InstanceTypes, Fault::MalformedJson { times: 5 });
    let err = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn a_lost_terminate_is_safe_to_repeat() {
    let fake = fake().await;
    let client = client(&fake);
    let created = validate_and_create(&client, &attrs("term")).await.unwrap();
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::DeleteInstance,
        times: 1,
    });
    // Idempotent: retried after the lost answer, and the retry succeeds.
    client.terminate_instance(&created.cloud_id).await.unwrap();
    assert_no_instances(&fake).await;
}
