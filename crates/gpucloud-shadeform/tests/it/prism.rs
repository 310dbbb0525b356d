//! Contract check: every operation of the provider through `prism proxy --errors` in front of
//! the fake, with Shadeform's description (`openapi/shadeform-1.0.0.yaml`). A request or a
//! response that breaks the description becomes an error, so the operations succeeding
//! proves both the client and the fake conform.

use std::time::Duration;

use gpucloud_core::validate::{validate_and_create, validate_tag_update};
use gpucloud_core::{
    CloudClient, CloudClientExt, GetInstanceTypeArgs, GetLocationsArgs, LifecycleStatus,
    ListInstancesArgs, UpdateInstanceTagsArgs,
};
use gpucloud_fakes::prism::{find_up, start};
use gpucloud_shadeform::{ShadeformConfig, ShadeformCredential};

use crate::common::{attrs, fake};

#[tokio::test]
async fn every_operation_validates_against_the_description() {
    let fake = fake().await;
    let spec = std::env::var_os("GPUCLOUD_SHADEFORM_SPEC")
        .map(std::path::PathBuf::from)
        .or_else(|| find_up("openapi/shadeform-1.0.0.yaml"));
    // Prism appends the request path to the upstream URL: the fake's root, since the
    // description's paths carry no /v1 (its server URL does).
    let Some(prism) = start(spec, &fake.base_url()).await else {
        return;
    };
    let client = ShadeformCredential::new(
        ShadeformConfig::new(fake.api_key())
            .with_base_url(prism.base.clone())
            .with_ref_id("prism")
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
    assert_eq!(
        client
            .list_instances(&ListInstancesArgs::default())
            .await
            .unwrap()
            .len(),
        1
    );
    client
        .reboot()
        .unwrap()
        .reboot_instance(&created.cloud_id)
        .await
        .unwrap();
    let update = validate_tag_update(&UpdateInstanceTagsArgs {
        instance_id: created.cloud_id.clone(),
        tags: [("team".to_owned(), "ml".to_owned())].into(),
    })
    .unwrap();
    client
        .tags()
        .unwrap()
        .update_instance_tags(&update)
        .await
        .unwrap();
    client.terminate_instance(&created.cloud_id).await.unwrap();
}
