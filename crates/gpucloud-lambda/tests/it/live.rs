//! Read-only checks against the real Lambda API, only when `LAMBDA_API_KEY` is set.

use gpucloud_core::{CloudClient, GetInstanceTypeArgs, GetLocationsArgs, ListInstancesArgs};
use gpucloud_lambda::{API_KEY_ENV, LambdaConfig, LambdaCredential};

#[tokio::test]
async fn live_read_only() {
    let Some(config) = LambdaConfig::from_env().expect("LAMBDA_* variables are valid") else {
        println!("skipped: {API_KEY_ENV} is not set");
        return;
    };
    let client = LambdaCredential::new(config.with_ref_id("gpucloud-live-test"))
        .unwrap()
        .client("");
    let locations = client.locations(GetLocationsArgs::default()).await.unwrap();
    assert!(!locations.is_empty());
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    assert!(!types.is_empty());
    assert!(types.iter().all(|t| t.base_price.is_some()));
    client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
}
