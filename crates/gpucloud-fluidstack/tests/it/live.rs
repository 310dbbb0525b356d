//! Read-only checks against the real Fluidstack API, only when `FLUIDSTACK_API_KEY` is set.

use gpucloud_core::{CloudClient, GetInstanceTypeArgs, GetLocationsArgs, ListInstancesArgs};
use gpucloud_fluidstack::{API_KEY_ENV, FluidstackConfig, FluidstackCredential};

#[tokio::test]
async fn live_read_only() {
    let Some(config) = FluidstackConfig::from_env().expect("FLUIDSTACK_* variables are valid")
    else {
        eprintln!("SKIPPED: {API_KEY_ENV} is not set");
        return;
    };
    let client = FluidstackCredential::new(config.with_ref_id("gpucloud-live-test"))
        .expect("credential")
        .client("")
        .expect("client");
    let locations = client
        .locations(GetLocationsArgs {
            include_unavailable: true,
        })
        .await
        .unwrap();
    assert!(!locations.is_empty());
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    assert!(!types.is_empty());
    client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
}
