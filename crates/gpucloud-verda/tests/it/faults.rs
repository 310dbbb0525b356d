//! Every fault of the kit against the Verda provider: each create either made exactly one
//! instance the caller learned about, or left no instance, key, script or volume on the fake;
//! terminate finishes what it started when called again.

use std::time::Duration;

use gpucloud_core::validate::validate_and_create;
use gpucloud_core::{CloudClient, ErrorKind, GetInstanceTypeArgs, ListInstancesArgs};
use gpucloud_fakes::kit::Fault;
use gpucloud_fakes::verda::Operation;

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
    assert_eq!(fake.state().request_count("POST", "/v1/instances"), 1);
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn lost_key_and_script_responses_are_resolved_without_duplicates() {
    for operation in [Operation::AddSshKey, Operation::AddScript] {
        let fake = fake().await;
        let client = client(&fake);
        fake.state().set_fault(Fault::CommitThenDropResponse {
            operation,
            times: 1,
        });
        validate_and_create(&client, &attrs("lost-part"))
            .await
            .unwrap();
        assert_eq!(fake.state().ssh_keys().len(), 1, "{operation:?}");
        assert_eq!(fake.state().scripts().len(), 1, "{operation:?}");
        clean_up(&fake, &client).await;
    }
}

#[tokio::test]
async fn a_failed_create_leaves_nothing_or_exactly_the_instance_it_reports() {
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
        match result {
            Ok(instance) => {
                assert_eq!(live_instances(&fake), 1, "{fault:?}");
                assert_eq!(
                    fake.state().instances()[0].id.to_string(),
                    instance.cloud_id.as_str()
                );
                clean_up(&fake, &client).await;
            }
            Err(error) => {
                assert!(
                    error.kind() != ErrorKind::InvalidArgument,
                    "{fault:?}: {error}"
                );
                assert_nothing_left(&fake).await;
            }
        }
    }
}

#[tokio::test]
async fn a_create_that_fails_after_the_key_or_script_removes_them() {
    for operation in [
        Operation::AddScript,
        Operation::CreateInstance,
        Operation::AddSshKey,
    ] {
        let fake = fake().await;
        let client = client(&fake);
        // A refusal that says the request did nothing.
        fake.state().set_fault_for(
            operation,
            Fault::ServerError {
                status: 501,
                times: 1,
            },
        );
        let error = validate_and_create(&client, &attrs("refused"))
            .await
            .unwrap_err();
        assert!(!error.outcome_unknown(), "{operation:?}: {error}");
        assert_nothing_left(&fake).await;
    }
}

#[tokio::test]
async fn throttling_is_retried_after_retry_after() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state().set_fault(Fault::RateLimited {
        retry_after_secs: 1,
        times: 1,
    });
    let started = tokio::time::Instant::now();
    client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn the_token_endpoint_failing_is_retried_and_its_refusal_reported() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state().set_fault_for(
        Operation::Token,
        Fault::ServerError {
            status: 503,
            times: 1,
        },
    );
    client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert_eq!(fake.state().tokens_issued(), 1);
}

#[tokio::test]
async fn a_terminate_cut_short_finishes_when_called_again() {
    for operation in [
        Operation::InstanceAction,
        Operation::DeleteScript,
        Operation::DeleteSshKey,
        Operation::ListScripts,
    ] {
        let fake = fake().await;
        let client = client(&fake);
        let created = validate_and_create(&client, &attrs("cut")).await.unwrap();
        fake.state().set_fault_for(
            operation,
            Fault::ServerError {
                status: 500,
                times: 20,
            },
        );
        let first = client.terminate_instance(&created.cloud_id).await;
        assert!(first.is_err(), "{operation:?}: every attempt failed");
        fake.state().clear_faults();
        client.terminate_instance(&created.cloud_id).await.unwrap();
        assert_nothing_left(&fake).await;
    }
}

#[tokio::test]
async fn an_unreadable_answer_of_a_read_is_retried() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state()
        .set_fault_for(Operation::ListInstances, Fault::MalformedJson { times: 1 });
    let listed = client.list_instances(&ListInstancesArgs::default()).await;
    assert!(listed.is_ok(), "{listed:?}");
}
