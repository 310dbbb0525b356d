//! Contract check: every operation of the provider through `prism proxy --errors` in front of
//! the fake, with LaunchPad's description (`openapi/launchpad-2.40.9.yaml`, cleaned by
//! `scripts/clean-launchpad-openapi.sh`). A request or a response that breaks the description
//! becomes an error, so the operations succeeding proves both the client and the fake
//! conform.

use std::time::Duration;

use gpucloud_core::validate::validate_and_create;
use gpucloud_core::{
    CloudClient, GetInstanceTypeArgs, GetLocationsArgs, LifecycleStatus, ListInstancesArgs,
};
use gpucloud_fakes::prism::{find_up, start};
use gpucloud_launchpad::{LaunchpadConfig, LaunchpadCredential};

use crate::common::{attrs, fake};

#[tokio::test]
async fn every_operation_validates_against_the_description() {
    let fake = fake().await;
    let spec = std::env::var_os("GPUCLOUD_LAUNCHPAD_SPEC")
        .map(std::path::PathBuf::from)
        .or_else(|| find_up("openapi/launchpad-2.40.9.yaml"));
    let Some(prism) = start(spec, &fake.base_url()).await else {
        return;
    };
    let client = LaunchpadCredential::new(
        LaunchpadConfig::new(fake.token())
            .with_base_url(prism.base.clone())
            .with_ref_id("prism")
            .with_requester("prism", "prism@example.com")
            .with_retry_backoff(Duration::from_millis(5)),
    )
    .unwrap()
    .client("");
    assert!(
        !client
            .instance_types(&GetInstanceTypeArgs::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !client
            .locations(GetLocationsArgs::default())
            .await
            .unwrap()
            .is_empty()
    );
    let created = validate_and_create(&client, &attrs("prism-1"))
        .await
        .unwrap();
    let mut state = client.get_instance(&created.cloud_id).await.unwrap();
    for _ in 0..300 {
        if state.lifecycle() == LifecycleStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        state = client.get_instance(&created.cloud_id).await.unwrap();
    }
    assert_eq!(state.lifecycle(), LifecycleStatus::Running);
    assert!(!state.public_ip.is_empty());
    assert_eq!(
        client
            .list_instances(&ListInstancesArgs::default())
            .await
            .unwrap()
            .len(),
        1
    );
    client.terminate_instance(&created.cloud_id).await.unwrap();
    client.terminate_instance(&created.cloud_id).await.unwrap();
}
