//! Every fault of the fake, and what is left on it afterwards: a create that fails leaves no
//! instance, disk or security group; one whose answer was lost leaves exactly one instance,
//! the one returned.

use std::time::Duration;

use gpucloud_core::bookkeeping::REF_ID_TAG;
use gpucloud_core::{CloudClient, ErrorKind, ListInstancesArgs, Retry};
use gpucloud_fakes::kit::Fault;
use gpucloud_fakes::nebius::{Operation, OperationFailure};
use tonic::Code;

use crate::fixture::{self, REGION, attrs};

#[tokio::test]
async fn an_exhausted_gpu_quota_is_quota_exceeded_and_leaves_nothing() {
    let env = fixture::start().await;
    env.fake
        .state()
        .set_quota_limit(REGION, "compute.instance.gpu.h100", 0);
    let err = env.create(&attrs("quota")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuotaExceeded, "{err}");
    assert_eq!(err.retry(), Retry::Never);
    env.assert_nothing_left();
}

#[tokio::test]
async fn no_capacity_is_insufficient_capacity_and_leaves_nothing() {
    let env = fixture::start().await;
    env.fake
        .state()
        .set_capacity(REGION, "gpu-h100-sxm", "1gpu-16vcpu-200gb", 0);
    let err = env.create(&attrs("capacity")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientCapacity, "{err}");
    env.assert_nothing_left();
}

/// A create whose `operation` ends with `failure` fails with `kind` and leaves nothing.
async fn a_failed_operation_leaves_nothing(
    operation: Operation,
    failure: OperationFailure,
    ref_id: &str,
    kind: ErrorKind,
) {
    let env = fixture::start().await;
    env.fake.state().fail_next_operation(operation, failure);
    let err = env.create(&attrs(ref_id)).await.unwrap_err();
    assert_eq!(err.kind(), kind, "{err}");
    env.assert_nothing_left();
}

#[tokio::test]
async fn a_create_operation_that_fails_carries_its_status_and_leaves_nothing() {
    a_failed_operation_leaves_nothing(
        Operation::CreateInstance,
        OperationFailure::NotEnoughResources,
        "op-fails",
        ErrorKind::InsufficientCapacity,
    )
    .await;
}

#[tokio::test]
async fn a_failed_security_rule_rolls_back_its_group() {
    a_failed_operation_leaves_nothing(
        Operation::CreateSecurityRule,
        OperationFailure::Status(Code::PermissionDenied, "no".into()),
        "rule-fails",
        ErrorKind::PermissionDenied,
    )
    .await;
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_makes_one_instance_and_returns_it() {
    let env = fixture::start().await;
    env.fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::CreateInstance,
        times: 1,
    });
    let created = env.create(&attrs("lost-answer")).await.unwrap();
    let instances = env.fake.state().instances();
    assert_eq!(instances.len(), 1, "{instances:?}");
    assert_eq!(instances[0].id, created.cloud_id.as_str());
    assert_eq!(env.fake.state().disks().len(), 1);
    assert_eq!(env.fake.state().security_groups().len(), 1);
    env.client()
        .terminate_instance(&created.cloud_id)
        .await
        .unwrap();
    env.assert_nothing_left();
}

#[tokio::test]
async fn every_lost_create_answer_is_resolved_by_ref_id_without_a_second_instance() {
    let env = fixture::start().await;
    // More lost answers than the driver's attempts: the lookup by RefID decides.
    env.fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::CreateInstance,
        times: 10,
    });
    let created = env.create(&attrs("lost-all")).await.unwrap();
    assert_eq!(env.fake.state().instances().len(), 1);
    env.fake.state().clear_faults();
    // The same RefID again: the same instance.
    let again = env.create(&attrs("lost-all")).await.unwrap();
    assert_eq!(again.cloud_id, created.cloud_id);
    env.client()
        .terminate_instance(&created.cloud_id)
        .await
        .unwrap();
    env.assert_nothing_left();
}

#[tokio::test]
async fn a_terminate_whose_answer_is_lost_still_removes_everything() {
    let env = fixture::start().await;
    let created = env.create(&attrs("lost-delete")).await.unwrap();
    env.fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::DeleteInstance,
        times: 1,
    });
    env.client()
        .terminate_instance(&created.cloud_id)
        .await
        .unwrap();
    env.assert_nothing_left();
}

#[tokio::test]
async fn unavailable_and_deadline_exceeded_are_retried() {
    let env = fixture::start().await;
    let client = env.client();
    for status in [503, 504, 500] {
        env.fake.state().set_fault_for(
            Operation::ListInstances,
            Fault::ServerError { status, times: 2 },
        );
        client
            .list_instances(&ListInstancesArgs::default())
            .await
            .unwrap();
    }
    // More failures than attempts: the error says so.
    env.fake.state().set_fault_for(
        Operation::ListInstances,
        Fault::ServerError {
            status: 503,
            times: 50,
        },
    );
    let err = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert_eq!(err.retry(), Retry::Exhausted);
}

#[tokio::test]
async fn throttling_is_waited_out() {
    let env = fixture::start().await;
    env.fake.state().set_fault_for(
        Operation::ListPlatforms,
        Fault::RateLimited {
            retry_after_secs: 0,
            times: 2,
        },
    );
    let types = env
        .client()
        .instance_types(&gpucloud_core::GetInstanceTypeArgs::default())
        .await
        .unwrap();
    assert!(!types.is_empty());
}

#[tokio::test]
async fn faults_on_create_steps_are_retried_with_the_same_idempotency_key() {
    let env = fixture::start().await;
    for operation in [
        Operation::CreateSecurityGroup,
        Operation::CreateSecurityRule,
        Operation::CreateDisk,
        Operation::CreateInstance,
        Operation::GetOperation,
    ] {
        env.fake.state().set_fault_for(
            operation,
            Fault::ServerError {
                status: 503,
                times: 1,
            },
        );
        env.fake
            .state()
            .set_fault_for(operation, Fault::ConnectionReset { times: 1 });
    }
    let created = env.create(&attrs("flaky")).await.unwrap();
    assert_eq!(env.fake.state().instances().len(), 1);
    assert_eq!(env.fake.state().disks().len(), 1);
    assert_eq!(env.fake.state().security_groups().len(), 1);
    assert_eq!(env.fake.state().mutations_without_idempotency_key(), 0);
    env.client()
        .terminate_instance(&created.cloud_id)
        .await
        .unwrap();
    env.assert_nothing_left();
}

#[tokio::test]
async fn an_unreadable_answer_is_a_decode_error() {
    let env = fixture::start().await;
    env.fake
        .state()
        .set_fault_for(Operation::GetInstance, Fault::MalformedJson { times: 5 });
    let err = env
        .client()
        .get_instance(&gpucloud_core::InstanceId::new("computeinstance-e00x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Internal | ErrorKind::Decode),
        "{err}"
    );
}

#[tokio::test]
async fn latency_beyond_the_request_timeout_is_a_timeout() {
    let env = fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = fixture::config(&env.fake, &dir).with_request_timeout(Duration::from_millis(100));
    let client = gpucloud_nebius::NebiusCredential::new(config)
        .unwrap()
        .client("");
    // Warm up the token first, so the timeout hits the list itself.
    client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    env.fake.state().set_fault_for(
        Operation::ListInstances,
        Fault::Latency(Duration::from_millis(400)),
    );
    let err = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
}

#[tokio::test]
async fn faults_on_terminate_steps_are_retried_and_leave_nothing() {
    let env = fixture::start().await;
    let created = env.create(&attrs("flaky-terminate")).await.unwrap();
    for operation in [
        Operation::DeleteInstance,
        Operation::GetInstance,
        Operation::DeleteDisk,
        Operation::DeleteSecurityGroup,
    ] {
        env.fake.state().set_fault_for(
            operation,
            Fault::ServerError {
                status: 503,
                times: 1,
            },
        );
    }
    env.client()
        .terminate_instance(&created.cloud_id)
        .await
        .unwrap();
    env.assert_nothing_left();
}

/// The boot disk is the instance's managed disk: no disk call of its own is made, on create
/// or terminate, and it goes with the instance.
#[tokio::test]
async fn the_boot_disk_is_made_and_deleted_with_its_instance() {
    let env = fixture::start().await;
    let created = env.create(&attrs("managed-boot")).await.unwrap();
    let state = env.fake.state();
    let held = state.instance(created.cloud_id.as_str()).unwrap();
    let Some(gpucloud_nebius_proto::compute::v1::attached_disk_spec::Type::ManagedDisk(boot)) =
        held.spec.boot_disk.and_then(|b| b.r#type)
    else {
        panic!("the boot disk is not a managed disk");
    };
    assert!(boot.name.starts_with("boot-"), "{}", boot.name);
    assert_eq!(
        boot.labels.get(REF_ID_TAG).map(String::as_str),
        Some("managed-boot")
    );
    let disks = state.disks();
    assert_eq!(disks.len(), 1);
    assert_eq!(held.boot_disk_id.as_deref(), Some(disks[0].id.as_str()));
    // A disk delete that would fail is never asked for.
    state.fail_next_operation(
        Operation::DeleteDisk,
        OperationFailure::Status(Code::PermissionDenied, "locked".into()),
    );
    env.client()
        .terminate_instance(&created.cloud_id)
        .await
        .unwrap();
    env.assert_nothing_left();
    for method in ["Create", "Delete"] {
        let path = format!("/nebius.compute.v1.DiskService/{method}");
        assert_eq!(state.requests().count("POST", &path), 0, "{path}");
    }
}

/// Calculator calls the fake answered so far.
fn estimates(env: &fixture::Env) -> usize {
    env.fake
        .state()
        .requests()
        .count("POST", "/nebius.billing.v1.CalculatorService/EstimateBatch")
}

#[tokio::test]
async fn prices_are_asked_for_without_waiting_for_the_platform_listing() {
    let env = fixture::start().await;
    let one_region = gpucloud_core::GetInstanceTypeArgs {
        locations: gpucloud_core::LocationsFilter::only([REGION]),
        ..gpucloud_core::GetInstanceTypeArgs::default()
    };
    // The listing fails for good: had the estimate waited for it, it would never be sent.
    env.fake.state().set_fault_for(
        Operation::ListPlatforms,
        Fault::ServerError {
            status: 503,
            times: gpucloud_core::retry::RetryPolicy::default().max_attempts,
        },
    );
    let err = env.client().instance_types(&one_region).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert_eq!(
        estimates(&env),
        1,
        "the estimate went out beside the listing"
    );
    // A catalog read asks the calculator once per region when its guess covers the listing.
    let before = estimates(&env);
    let types = env.client().instance_types(&one_region).await.unwrap();
    assert!(types.iter().all(|t| t.base_price.is_some()));
    assert_eq!(estimates(&env) - before, 1);
}

#[tokio::test]
async fn a_failed_early_estimate_is_asked_again_for_the_listed_presets() {
    let env = fixture::start().await;
    let one_region = gpucloud_core::GetInstanceTypeArgs {
        locations: gpucloud_core::LocationsFilter::only([REGION]),
        ..gpucloud_core::GetInstanceTypeArgs::default()
    };
    env.fake.state().set_fault_for(
        Operation::EstimatePrices,
        Fault::ServerError {
            status: 503,
            times: gpucloud_core::retry::RetryPolicy::default().max_attempts,
        },
    );
    let types = env.client().instance_types(&one_region).await.unwrap();
    assert!(!types.is_empty());
    for t in &types {
        assert!(t.base_price.is_some(), "{} has a price", t.id);
    }
}
