//! A create whose answer is lost goes through core's one rule (issue 29): the look-up by RefID
//! outlasts more failures than one request retries, and when it cannot tell, the error stays of
//! unknown outcome and names the RefID and the command that finds the instance.

use std::time::Duration;

use gpucloud_core::validate::validate_and_create;
use gpucloud_fakes::kit::Fault;
use gpucloud_fakes::shadeform::{FakeShadeform, Operation};

use crate::common::*;

const CREATE: &str = "/v1/instances/create";
const LISTS: &str = "/v1/instances";

/// Loses the create's answer (slowed down so the look-ups can be made to fail from the moment
/// it arrives), then sets `faults` on the instance list; returns how many list requests there
/// were before them.
async fn lose_the_create_then(fake: &FakeShadeform, faults: Vec<Fault<Operation>>) -> usize {
    while fake.state().request_count("POST", CREATE) == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let before = fake.state().request_count("GET", LISTS);
    for fault in faults {
        fake.state().set_fault_for(Operation::ListInstances, fault);
    }
    before
}

fn lose_the_next_create(fake: &FakeShadeform) {
    fake.state().set_fault_for(
        Operation::CreateInstance,
        Fault::Latency(Duration::from_millis(200)),
    );
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::CreateInstance,
        times: 1,
    });
}

#[tokio::test]
async fn a_lost_create_is_looked_up_through_more_failures_than_one_request_retries() {
    let fake = fake().await;
    let client = client(&fake);
    lose_the_next_create(&fake);
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
    assert_eq!(live_instances(&fake), 1, "created once, never twice");
    assert_eq!(
        fake.state().instances()[0].id.to_string(),
        created.cloud_id.as_str()
    );
    assert_eq!(fake.state().request_count("POST", CREATE), 1);
    assert!(
        fake.state().request_count("GET", LISTS) - before >= 8,
        "the look-up outlasted the failures"
    );
    clean_up(&fake, &client).await;
}

/// Before issue 29 this error said nothing of the outcome (`Delivery::Answered`): a caller
/// would have concluded that nothing was made, and the instance would have been left.
#[tokio::test]
async fn a_lost_create_whose_look_up_is_refused_stays_unknown_and_keeps_the_key() {
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
        "`gpucloud instances list -p shadeform --ref-id refused`",
    ] {
        assert!(
            err.to_string().contains(part),
            "{part:?} missing from {err}"
        );
    }
    assert_eq!(live_instances(&fake), 1, "the create did happen");
    assert_eq!(added_keys(&fake).len(), 1, "the instance's key is kept");
    // A create with the same RefID settles it, without a second instance.
    let resolved = validate_and_create(&client, &attrs("refused"))
        .await
        .expect("resolved by RefID");
    assert_eq!(live_instances(&fake), 1);
    assert_eq!(
        fake.state().instances()[0].id.to_string(),
        resolved.cloud_id.as_str()
    );
    clean_up(&fake, &client).await;
}
