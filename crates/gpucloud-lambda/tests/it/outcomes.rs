//! What a create or a terminate leaves when a fault meets it (issue 14): a RefID names a live
//! instance only, and a terminate's cleanup survives one failed request.

use gpucloud_core::{CloudClient, LifecycleStatus};
use gpucloud_fakes::lambda::{FakeInstanceStatus, Fault, Operation};

use crate::support::{attrs, client, fake};

#[tokio::test]
async fn a_ref_id_of_a_terminating_instance_gets_a_new_instance() {
    let fake = fake().await;
    let client = client(&fake);
    let first = gpucloud_core::validate_and_create(&client, &attrs("again"))
        .await
        .unwrap();
    assert!(
        fake.state()
            .set_instance_status(first.cloud_id.as_str(), FakeInstanceStatus::Terminating)
    );
    let second = gpucloud_core::validate_and_create(&client, &attrs("again"))
        .await
        .unwrap();
    assert_ne!(
        second.cloud_id, first.cloud_id,
        "a terminating instance is not the one asked for"
    );
    assert!(
        !matches!(
            second.lifecycle(),
            LifecycleStatus::Terminating | LifecycleStatus::Terminated
        ),
        "{:?}",
        second.status
    );
    assert_eq!(second.ref_id, "again");
    // The live one answers the RefID from now on.
    let third = gpucloud_core::validate_and_create(&client, &attrs("again"))
        .await
        .unwrap();
    assert_eq!(third.cloud_id, second.cloud_id);
}

#[tokio::test]
async fn a_terminate_cleans_up_through_a_failed_list_of_rulesets() {
    let fake = fake().await;
    let client = client(&fake);
    let created = gpucloud_core::validate_and_create(&client, &attrs("tidy"))
        .await
        .unwrap();
    assert_eq!(fake.state().firewall_rulesets().len(), 1);
    // The first firewall request of the terminate is its list of rulesets to delete.
    fake.state().set_fault_for(
        Operation::Firewall,
        Fault::ServerError {
            status: 500,
            times: 1,
        },
    );
    client.terminate_instance(&created.cloud_id).await.unwrap();
    assert!(
        fake.state().firewall_rulesets().is_empty(),
        "left for the sweep: {:?}",
        fake.state().firewall_rulesets()
    );
}

#[tokio::test]
async fn a_terminate_cleans_up_through_a_failed_delete() {
    let fake = fake().await;
    let client = client(&fake);
    let created = gpucloud_core::validate_and_create(&client, &attrs("tidy-delete"))
        .await
        .unwrap();
    // Unreadable answers (not retried by the HTTP client) hit the list, then a 500 the delete.
    fake.state()
        .set_fault_for(Operation::Firewall, Fault::MalformedJson { times: 1 });
    fake.state().set_fault_for(
        Operation::Firewall,
        Fault::ServerError {
            status: 500,
            times: 1,
        },
    );
    client.terminate_instance(&created.cloud_id).await.unwrap();
    assert!(
        fake.state().firewall_rulesets().is_empty(),
        "left for the sweep: {:?}",
        fake.state().firewall_rulesets()
    );
}
