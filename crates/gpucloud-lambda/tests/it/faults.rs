//! Every injected fault, each checking what is left on the fake: no stray instances, no extra
//! SSH keys, no stray rulesets.

use std::time::Duration;

use gpucloud_core::{CloudClient, ErrorKind, InstanceId, Retry};
use gpucloud_fakes::lambda::{FakeLambda, Fault, Operation};

use crate::support::{all, attrs, client, fake, live_instances};

fn assert_clean(fake: &FakeLambda, instances: usize) {
    assert_eq!(
        live_instances(fake),
        instances,
        "instances: {:?}",
        fake.state().instances()
    );
    assert!(
        fake.state().ssh_keys().len() <= 1,
        "keys: {:?}",
        fake.state().ssh_keys()
    );
    assert_eq!(
        fake.state().firewall_rulesets().len(),
        instances,
        "one ruleset per live instance"
    );
}

#[tokio::test]
async fn latency_is_tolerated() {
    let fake = fake().await;
    fake.state()
        .set_fault(Fault::Latency(Duration::from_millis(50)));
    let client = client(&fake);
    let created = gpucloud_core::validate_and_create(&client, &attrs("slow"))
        .await
        .unwrap();
    assert_eq!(
        client.get_instance(&created.cloud_id).await.unwrap().ref_id,
        "slow"
    );
    assert_clean(&fake, 1);
}

#[tokio::test]
async fn throttling_is_retried_after_retry_after() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state().set_fault_for(
        Operation::ListInstances,
        Fault::RateLimited {
            retry_after_secs: 1,
            times: 1,
        },
    );
    let started = tokio::time::Instant::now();
    client.list_instances(&all()).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After honoured"
    );
    assert_eq!(fake.state().request_count("GET", "/api/v1/instances"), 2);
    // A throttled launch is safe to repeat: the server did not run it.
    fake.state().set_fault_for(
        Operation::Launch,
        Fault::RateLimited {
            retry_after_secs: 1,
            times: 1,
        },
    );
    gpucloud_core::validate_and_create(&client, &attrs("throttled"))
        .await
        .unwrap();
    assert_eq!(
        fake.state()
            .request_count("POST", "/api/v1/instance-operations/launch"),
        2
    );
    assert_clean(&fake, 1);
}

#[tokio::test]
async fn throttling_that_does_not_stop_is_reported() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state().set_fault(Fault::RateLimited {
        retry_after_secs: 0,
        times: 100,
    });
    let err = client.list_instances(&all()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry(), Retry::Exhausted);
}

#[tokio::test]
async fn unavailable_is_retried_for_reads() {
    let fake = fake().await;
    let client = client(&fake);
    let created = gpucloud_core::validate_and_create(&client, &attrs("r"))
        .await
        .unwrap();
    fake.state().set_fault(Fault::ServerError {
        status: 503,
        times: 2,
    });
    assert_eq!(
        client.get_instance(&created.cloud_id).await.unwrap().ref_id,
        "r"
    );
    assert_clean(&fake, 1);
}

#[tokio::test]
async fn internal_errors_on_reads_are_retried_then_reported_with_their_code() {
    let fake = fake().await;
    let client = client(&fake);
    // One 500: the read is safe to repeat, so the second attempt answers.
    fake.state().set_fault(Fault::ServerError {
        status: 500,
        times: 1,
    });
    client.list_instances(&all()).await.unwrap();
    assert_eq!(fake.state().request_count("GET", "/api/v1/instances"), 2);
    // More 500s than attempts: the error keeps the kind and Lambda's code.
    fake.state().set_fault(Fault::ServerError {
        status: 500,
        times: 10,
    });
    let err = client.list_instances(&all()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert_eq!(err.retry(), Retry::Exhausted);
    assert_eq!(
        err.provider_details().and_then(|d| d.code.as_deref()),
        Some("global/internal-error")
    );
    assert!(err.to_string().contains("global/internal-error"), "{err}");
    fake.state().clear_faults();
    client.list_instances(&all()).await.unwrap();
}

#[tokio::test]
async fn resets_are_retried_for_reads() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state().set_fault(Fault::ConnectionReset { times: 2 });
    client.list_instances(&all()).await.unwrap();
}

#[tokio::test]
async fn malformed_json_is_retried_then_a_decode_error() {
    let fake = fake().await;
    let client = client(&fake);
    // One unreadable answer to a read is retried (issue 14): the list succeeds.
    fake.state().set_fault(Fault::MalformedJson { times: 1 });
    client.list_instances(&all()).await.unwrap();
    // An answer that stays unreadable is reported as such once the retries are used up.
    fake.state().set_fault(Fault::MalformedJson { times: 100 });
    let err = client.list_instances(&all()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    fake.state().clear_faults();
    client.list_instances(&all()).await.unwrap();
}

#[tokio::test]
async fn lost_launch_response_is_resolved_by_ref_id() {
    let fake = fake().await;
    let client = client(&fake);
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::Launch,
        times: 1,
    });
    let created = gpucloud_core::validate_and_create(&client, &attrs("dropped"))
        .await
        .unwrap();
    assert_eq!(created.ref_id, "dropped");
    assert_eq!(
        fake.state()
            .request_count("POST", "/api/v1/instance-operations/launch"),
        1,
        "never launched again"
    );
    assert_clean(&fake, 1);
    let again = gpucloud_core::validate_and_create(&client, &attrs("dropped"))
        .await
        .unwrap();
    assert_eq!(again.cloud_id, created.cloud_id);
    assert_clean(&fake, 1);
}

/// Issue 29: the look-up after a lost launch has a budget of its own (core's
/// `resolve_unknown_create`), beyond the HTTP client's attempts of one request.
#[tokio::test]
async fn a_lost_launch_is_looked_up_through_more_failures_than_one_request_retries() {
    let fake = fake().await;
    let client = client(&fake);
    // The launch runs, then its answer is lost; it is slowed down so that the look-ups can be
    // made to fail from the moment it arrives (the create lists instances before it, too).
    fake.state().set_fault_for(
        Operation::Launch,
        Fault::Latency(Duration::from_millis(200)),
    );
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::Launch,
        times: 1,
    });
    let launch = "/api/v1/instance-operations/launch";
    let attrs = attrs("looked-up");
    let create = gpucloud_core::validate_and_create(&client, &attrs);
    let fail_lookups = async {
        while fake.state().request_count("POST", launch) == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let lists = fake.state().request_count("GET", "/api/v1/instances");
        // A truncated body, a reset and 503s: more than one request's attempts (4).
        fake.state()
            .set_fault_for(Operation::ListInstances, Fault::MalformedJson { times: 1 });
        fake.state().set_fault_for(
            Operation::ListInstances,
            Fault::ConnectionReset { times: 1 },
        );
        fake.state().set_fault_for(
            Operation::ListInstances,
            Fault::ServerError {
                status: 503,
                times: 5,
            },
        );
        lists
    };
    let (created, lists_before) = tokio::join!(create, fail_lookups);
    let created = created.expect("the lost launch is found by its RefID");
    assert_eq!(created.ref_id, "looked-up");
    assert_eq!(
        fake.state().request_count("POST", launch),
        1,
        "never launched again"
    );
    assert!(
        fake.state().request_count("GET", "/api/v1/instances") - lists_before >= 8,
        "the look-up outlasted the failures"
    );
    assert_clean(&fake, 1);
}

#[tokio::test]
async fn launch_failures_of_unknown_outcome_leave_nothing() {
    for fault in [
        Fault::ServerError {
            status: 500,
            times: 1,
        },
        Fault::ServerError {
            status: 503,
            times: 1,
        },
        Fault::ConnectionReset { times: 1 },
        Fault::MalformedJson { times: 1 },
    ] {
        let fake = fake().await;
        let client = client(&fake);
        fake.state().set_fault_for(Operation::Launch, fault.clone());
        let result = gpucloud_core::validate_and_create(&client, &attrs("unknown")).await;
        assert!(result.is_err(), "{fault:?}");
        assert_eq!(
            fake.state()
                .request_count("POST", "/api/v1/instance-operations/launch"),
            1,
            "{fault:?}"
        );
        assert_eq!(live_instances(&fake), 0, "{fault:?}");
        assert!(fake.state().ssh_keys().is_empty(), "{fault:?}");
        assert!(fake.state().firewall_rulesets().is_empty(), "{fault:?}");
        // A retry by the caller works and creates exactly one.
        gpucloud_core::validate_and_create(&client, &attrs("unknown"))
            .await
            .unwrap();
        assert_clean(&fake, 1);
    }
}

#[tokio::test]
async fn faults_before_the_launch_leave_nothing() {
    for (operation, fault) in [
        (
            Operation::AddSshKey,
            Fault::ServerError {
                status: 500,
                times: 1,
            },
        ),
        (
            Operation::AddSshKey,
            Fault::CommitThenDropResponse {
                operation: Operation::AddSshKey,
                times: 1,
            },
        ),
        (
            Operation::Firewall,
            Fault::ServerError {
                status: 400,
                times: 1,
            },
        ),
        (Operation::Firewall, Fault::ConnectionReset { times: 1 }),
        (
            Operation::ListSshKeys,
            Fault::ServerError {
                status: 500,
                times: 1,
            },
        ),
    ] {
        let fake = fake().await;
        let client = client(&fake);
        fake.state().set_fault_for(operation, fault.clone());
        if gpucloud_core::validate_and_create(&client, &attrs("early"))
            .await
            .is_ok()
        {
            assert_clean(&fake, 1);
        } else {
            assert_eq!(live_instances(&fake), 0, "{fault:?}");
            assert!(
                fake.state().ssh_keys().is_empty(),
                "{fault:?}: {:?}",
                fake.state().ssh_keys()
            );
            assert!(fake.state().firewall_rulesets().is_empty(), "{fault:?}");
        }
    }
}

#[tokio::test]
async fn lost_terminate_response_is_still_a_success() {
    let fake = fake().await;
    let client = client(&fake);
    let created = gpucloud_core::validate_and_create(&client, &attrs("t"))
        .await
        .unwrap();
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::Terminate,
        times: 1,
    });
    client.terminate_instance(&created.cloud_id).await.unwrap();
    assert_eq!(live_instances(&fake), 0);
    assert!(fake.state().firewall_rulesets().is_empty());
    client
        .terminate_instance(&InstanceId::new("0123456789abcdef0123456789abcdef"))
        .await
        .unwrap();
}

#[tokio::test]
async fn hundred_creates_one_key() {
    let fake = fake().await;
    let client = client(&fake);
    for i in 0..100 {
        let ref_id = if i % 2 == 0 {
            "shared".to_owned()
        } else {
            format!("own-{i}")
        };
        let mut a = attrs(&ref_id);
        a.location = ["us-west-1", "us-west-2", "us-east-1"][i % 3].into();
        gpucloud_core::validate_and_create(&client, &a)
            .await
            .unwrap();
    }
    assert_eq!(fake.state().ssh_keys().len(), 1);
    assert_clean(&fake, 51);
}
