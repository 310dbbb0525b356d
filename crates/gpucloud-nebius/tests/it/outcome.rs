//! A create whose answer is lost goes through core's one rule (issue 29): the look-up by RefID
//! outlasts more failures than one call retries, and more than the three rounds of them it had
//! before.

use std::time::Duration;

use gpucloud_fakes::kit::Fault;
use gpucloud_fakes::nebius::Operation;

use crate::fixture::{self, attrs};

const CREATE: &str = "/nebius.compute.v1.InstanceService/Create";
const LIST: &str = "/nebius.compute.v1.InstanceService/List";

#[tokio::test]
async fn a_lost_create_is_looked_up_until_the_provider_answers() {
    let env = fixture::start().await;
    let state = env.fake.state();
    // Every attempt of the create runs and loses its answer (slowed down so that the look-ups
    // can be made to fail from the moment the first arrives: the create lists instances before
    // it, too).
    state.set_fault_for(
        Operation::CreateInstance,
        Fault::Latency(Duration::from_millis(100)),
    );
    state.set_fault(Fault::CommitThenDropResponse {
        operation: Operation::CreateInstance,
        times: 10,
    });
    let fail_lookups = async {
        while state.requests().count("POST", CREATE) == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let before = state.requests().count("POST", LIST);
        // More than three rounds of one call's attempts (3 x 4, what the look-up had before
        // core's rule): unavailable, throttled, internal.
        for fault in [
            Fault::ServerError {
                status: 503,
                times: 6,
            },
            Fault::RateLimited {
                retry_after_secs: 0,
                times: 2,
            },
            Fault::ServerError {
                status: 500,
                times: 6,
            },
        ] {
            state.set_fault_for(Operation::ListInstances, fault);
        }
        before
    };
    let attrs = attrs("budget");
    let (created, before) = tokio::join!(env.create(&attrs), fail_lookups);
    let created = created.expect("found by its RefID");
    let instances = state.instances();
    assert_eq!(instances.len(), 1, "{instances:?}");
    assert_eq!(instances[0].id, created.cloud_id.as_str());
    assert!(
        state.requests().count("POST", LIST) - before >= 15,
        "the look-up outlasted the failures"
    );
    env.client()
        .terminate_instance(&created.cloud_id)
        .await
        .unwrap();
    env.assert_nothing_left();
}
