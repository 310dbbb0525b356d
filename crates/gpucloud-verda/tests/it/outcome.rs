//! A create whose answer is lost goes through core's one rule (issue 29): the look-up by RefID
//! outlasts more failures than one request retries, and when it cannot tell, the error stays of
//! unknown outcome and names the RefID and the command that finds the instance. When the
//! provider answers that no instance has the RefID, the key and script the create made go; an
//! instance it finds failed goes with them.

use std::time::Duration;

use gpucloud_core::ErrorKind;
use gpucloud_core::validate::validate_and_create;
use gpucloud_fakes::kit::Fault;
use gpucloud_fakes::verda::{FakeStatus, FakeVerda, Operation};

use crate::common::*;

const INSTANCES: &str = "/v1/instances";

/// Loses the create's answer (slowed down so the look-ups can be made to fail from the moment
/// it arrives: the create lists instances before it, too).
fn lose_the_next_create(fake: &FakeVerda) {
    fake.state().set_fault_for(
        Operation::CreateInstance,
        Fault::Latency(Duration::from_millis(200)),
    );
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::CreateInstance,
        times: 1,
    });
}

/// Waits for the create to arrive, then sets `faults` on the instance list; returns how many
/// instance reads there were before them.
async fn lose_the_create_then(fake: &FakeVerda, faults: Vec<Fault<Operation>>) -> usize {
    while fake.state().request_count("POST", INSTANCES) == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let before = fake.state().request_count("GET", INSTANCES);
    for fault in faults {
        fake.state().set_fault_for(Operation::ListInstances, fault);
    }
    before
}

#[tokio::test]
async fn a_lost_create_is_looked_up_through_more_failures_than_one_request_retries() {
    let fake = fake().await;
    let client = client(&fake);
    lose_the_next_create(&fake);
    // A cut body, a reset, a throttle and 503s: seven failures where one request tries four
    // times, so a single look-up fails them by construction.
    let failures = vec![
        Fault::MalformedJson { times: 1 },
        Fault::ConnectionReset { times: 1 },
        Fault::RateLimited {
            retry_after_secs: 0,
            times: 1,
        },
        Fault::ServerError {
            status: 503,
            times: 4,
        },
    ];
    let attrs = attrs("budget");
    let (created, before) = tokio::join!(
        validate_and_create(&client, &attrs),
        lose_the_create_then(&fake, failures)
    );
    let created = created.expect("found by its RefID");
    assert_eq!(created.ref_id, "budget");
    assert_eq!(live_instances(&fake), 1, "created once, never twice");
    assert_eq!(
        fake.state().instances()[0].id.to_string(),
        created.cloud_id.as_str()
    );
    assert_eq!(
        fake.state().request_count("POST", INSTANCES),
        1,
        "never created again"
    );
    assert!(
        fake.state().request_count("GET", INSTANCES) - before >= 8,
        "the look-up outlasted the failures"
    );
    assert_eq!(
        fake.state().ssh_keys().len(),
        1,
        "the instance's key is kept"
    );
    assert_eq!(fake.state().scripts().len(), 1, "its script too");
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn a_lost_create_whose_look_up_is_refused_stays_unknown_and_keeps_the_key_and_script() {
    let fake = fake().await;
    let client = client(&fake);
    lose_the_next_create(&fake);
    let refused = vec![Fault::ServerError {
        status: 403,
        times: 1,
    }];
    let first = attrs("refused");
    let (result, _) = tokio::join!(
        validate_and_create(&client, &first),
        lose_the_create_then(&fake, refused)
    );
    let err = result.expect_err("the look-up was refused");
    assert!(err.outcome_unknown(), "{err}");
    for part in [
        "RefID refused",
        "`gpucloud instances list -p verda --ref-id refused`",
    ] {
        assert!(
            err.to_string().contains(part),
            "{part:?} missing from {err}"
        );
    }
    assert_eq!(live_instances(&fake), 1, "the create did happen");
    assert_eq!(
        fake.state().ssh_keys().len(),
        1,
        "the instance's key is kept"
    );
    assert_eq!(fake.state().scripts().len(), 1, "its script too");
    // A create with the same RefID settles it, without a second instance, key or script.
    let resolved = validate_and_create(&client, &attrs("refused"))
        .await
        .expect("resolved by RefID");
    assert_eq!(live_instances(&fake), 1);
    assert_eq!(
        fake.state().instances()[0].id.to_string(),
        resolved.cloud_id.as_str()
    );
    assert_eq!(fake.state().request_count("POST", INSTANCES), 1);
    assert_eq!(fake.state().ssh_keys().len(), 1);
    assert_eq!(fake.state().scripts().len(), 1);
    clean_up(&fake, &client).await;
}

#[tokio::test]
async fn a_create_of_unknown_outcome_that_made_nothing_removes_its_key_and_script() {
    let fake = fake().await;
    let client = client(&fake);
    // A 500 before the fake ran it: the outcome is unknown to the client, and the look-up
    // answers that no instance has the RefID.
    fake.state().set_fault_for(
        Operation::CreateInstance,
        Fault::ServerError {
            status: 500,
            times: 1,
        },
    );
    let err = validate_and_create(&client, &attrs("absent"))
        .await
        .expect_err("the create failed");
    assert!(!err.outcome_unknown(), "settled by the look-up: {err}");
    assert_eq!(fake.state().request_count("POST", INSTANCES), 1);
    assert_nothing_left(&fake).await;
}

#[tokio::test]
async fn a_lost_create_whose_order_failed_deletes_the_instance_and_what_it_made() {
    let fake = fake().await;
    let client = client(&fake);
    // Verda accepted the order and the answer was lost; the instance sits in `error`.
    fake.state().set_launch_outcome(Some(FakeStatus::Error));
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::CreateInstance,
        times: 1,
    });
    let err = validate_and_create(&client, &attrs("failed"))
        .await
        .expect_err("the order failed");
    assert_eq!(err.kind(), ErrorKind::InstanceFailed, "{err}");
    assert_eq!(fake.state().request_count("POST", INSTANCES), 1);
    // The failed instance (with its OS volume), the key and the script are all gone.
    assert_nothing_left(&fake).await;
}
