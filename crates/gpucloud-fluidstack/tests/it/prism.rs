//! The OpenAPI contract: every operation of the provider through Prism's validating proxy
//! (`prism proxy --errors`) with the cleaned description (`openapi/fluidstack-v1alpha1.yaml`).
//! A request that breaks the description is refused with a 4xx before reaching the API, and a
//! response that breaks it becomes a 500, so every operation succeeding proves the provider's
//! requests (paths, `X-PROJECT-ID`, bodies) conform.
//!
//! Prism is `$GPUCLOUD_PRISM`, else `node_modules/.bin/prism` in the repository; the
//! description `$GPUCLOUD_FLUIDSTACK_SPEC`, else `openapi/fluidstack-v1alpha1.yaml`. Without
//! either the test says it is skipped (and fails under `CI`).

use std::path::PathBuf;
use std::time::Duration;

use gpucloud_core::validate::validate_and_create;
use gpucloud_core::{
    CloudClient, CloudClientExt, FirewallRule, FirewallRules, GetInstanceTypeArgs,
    GetLocationsArgs, LifecycleStatus, ListInstancesArgs,
};
use gpucloud_fluidstack::{FluidstackConfig, FluidstackCredential};

use gpucloud_fakes::fluidstack::{FakeFluidstack, FakeFluidstackOptions};
use gpucloud_fakes::prism;

#[tokio::test]
async fn every_operation_conforms_to_the_openapi_description() {
    let fake = FakeFluidstack::start(FakeFluidstackOptions {
        regions: vec!["us-west-1".into()],
        create_delay: Duration::from_millis(50),
        start_delay: Duration::from_millis(20),
        stop_delay: Duration::from_millis(20),
        delete_delay: Duration::from_millis(20),
        ..FakeFluidstackOptions::default()
    })
    .await
    .expect("the fake starts");
    let upstream = fake.base_url("us-west-1");
    let spec = std::env::var_os("GPUCLOUD_FLUIDSTACK_SPEC")
        .map(PathBuf::from)
        .or_else(|| prism::find_up("openapi/fluidstack-v1alpha1.yaml"));
    let Some(prism) = prism::start(spec, &upstream).await else {
        return;
    };
    let config = FluidstackConfig::new(fake.api_key(), fake.project_id().to_string())
        .with_regions(["us-west-1"])
        .with_region_url("us-west-1", &prism.base)
        .with_ref_id("cred-prism")
        .with_retry_backoff(Duration::from_millis(5))
        .with_capacity_wait(Duration::from_secs(10), Duration::from_millis(50));
    let client = FluidstackCredential::new(config)
        .unwrap()
        .client("us-west-1")
        .unwrap();

    let locations = client
        .locations(GetLocationsArgs::default())
        .await
        .expect("locations");
    assert_eq!(locations.len(), 1);
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .expect("instance types");
    assert!(!types.is_empty());

    let mut attrs = gpucloud_core::CreateInstanceAttrs {
        ref_id: "prism".into(),
        name: "prism-1".into(),
        instance_type: "h100-hgx-80gb.8x".into(),
        public_key:
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T x"
                .into(),
        user_data_base64: "I2Nsb3VkLWNvbmZpZwpwYWNrYWdlczogW2h0b3BdCg==".into(),
        use_spot: true,
        ..Default::default()
    };
    attrs.tags.insert("team".into(), "ml".into());
    attrs.firewall_rules = FirewallRules {
        ingress_rules: vec![FirewallRule::port(8080)],
        egress_rules: vec![],
    };
    let created = validate_and_create(&client, &attrs).await.expect("create");
    assert_eq!(created.lifecycle(), LifecycleStatus::Running);
    let again = validate_and_create(&client, &attrs)
        .await
        .expect("repeat create");
    assert_eq!(again.cloud_id, created.cloud_id);
    assert_eq!(
        client
            .get_instance(&created.cloud_id)
            .await
            .expect("get")
            .ref_id,
        "prism"
    );
    assert_eq!(
        client
            .list_instances(&ListInstancesArgs::default())
            .await
            .expect("list")
            .len(),
        1
    );
    let ss = client.stop_start().unwrap();
    ss.stop_instance(&created.cloud_id).await.expect("stop");
    // The fake takes its stop delay to reach `stopped`, and only a stopped instance starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    ss.start_instance(&created.cloud_id).await.expect("start");
    client
        .terminate_instance(&created.cloud_id)
        .await
        .expect("terminate");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        fake.state().instances().is_empty(),
        "nothing left on the fake"
    );
}
