//! Every fault of the kit against the LaunchPad provider: each create either made exactly one
//! deployment the caller learned about, or left none.

use gpucloud_core::validate::validate_and_create;
use gpucloud_core::{CloudClient, ErrorKind, GetInstanceTypeArgs, ListInstancesArgs};
use gpucloud_fakes::kit::Fault;
use gpucloud_fakes::launchpad::Operation;
use gpucloud_launchpad::{LaunchpadConfig, LaunchpadCredential};

use crate::common::*;

#[tokio::test]
async fn a_lost_create_response_is_resolved_by_the_request_id() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::CreateDeployment,
        times: 1,
    });
    let created = validate_and_create(&client, &attrs("lost")).await.unwrap();
    let deployments = fake.state().deployments();
    assert_eq!(deployments.len(), 1, "created once, never twice");
    assert_eq!(deployments[0].id.to_string(), created.cloud_id.as_str());
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn transient_failures_and_throttling_of_reads_are_retried() {
    let fake = fake().await;
    let client = client(&fake);
    for fault in [
        Fault::ServerError {
            status: 503,
            times: 2,
        },
        Fault::RateLimited {
            retry_after_secs: 0,
            times: 2,
        },
        Fault::ConnectionReset { times: 1 },
    ] {
        fake.state().set_fault(fault);
        assert!(
            !client
                .instance_types(&GetInstanceTypeArgs::default())
                .await
                .unwrap()
                .is_empty()
        );
        client
            .list_instances(&ListInstancesArgs::default())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_unreadable_answer_is_a_decode_error_and_a_bad_token_unauthenticated() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state().set_fault(Fault::MalformedJson { times: 10 });
    let e = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
    fake.state().clear_faults();
    let wrong = LaunchpadCredential::new(
        LaunchpadConfig::new("wrong-token").with_base_url(fake.base_url()),
    )
    .unwrap()
    .client("");
    let e = wrong
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert!(!e.to_string().contains("wrong-token"));
}

#[tokio::test]
async fn a_create_refused_by_a_server_failure_leaves_nothing() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state().set_fault_for(
        Operation::CreateDeployment,
        Fault::ServerError {
            status: 400,
            times: 1,
        },
    );
    let e = validate_and_create(&client, &attrs("refused"))
        .await
        .unwrap_err();
    assert!(!e.outcome_unknown());
    assert!(fake.state().deployments().is_empty());
}
