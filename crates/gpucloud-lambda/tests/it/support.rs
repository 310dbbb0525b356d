//! Shared setup: a fast fake and a client pointed at it.

use std::time::Duration;

use gpucloud_core::{CreateInstanceAttrs, ListInstancesArgs};
use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions};
use gpucloud_lambda::{LambdaClient, LambdaConfig, LambdaCredential};

/// An Ed25519 public key (the OpenAPI description's example).
pub const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T noname";

/// The credential reference id used by tests.
pub const CRED_REF: &str = "cred-test";

/// A fake with short lifecycle delays.
pub async fn fake() -> FakeLambda {
    FakeLambda::start(FakeLambdaOptions {
        boot_delay: Duration::from_millis(100),
        terminate_delay: Duration::from_millis(100),
        gone_after: Duration::from_millis(300),
        ..FakeLambdaOptions::default()
    })
    .await
    .expect("fake starts")
}

/// A configuration for `base_url` with fast limits and backoff.
pub fn config(base_url: &str, api_key: &str) -> LambdaConfig {
    LambdaConfig::new(api_key)
        .with_base_url(base_url)
        .with_ref_id(CRED_REF)
        .with_rate_limits(100_000.0, Duration::ZERO)
        .with_retry_backoff(Duration::from_millis(5))
        .with_request_timeout(Duration::from_secs(10))
}

/// A client of the fake, bound to no region.
pub fn client(fake: &FakeLambda) -> LambdaClient {
    LambdaCredential::new(config(&fake.base_url(), fake.api_key()))
        .expect("credential")
        .client("")
}

/// Create attributes for `ref_id` in us-west-1.
pub fn attrs(ref_id: &str) -> CreateInstanceAttrs {
    CreateInstanceAttrs {
        location: "us-west-1".into(),
        ref_id: ref_id.into(),
        name: format!("box-{ref_id}"),
        public_key: PUBLIC_KEY.into(),
        instance_type: "gpu_1x_a10".into(),
        ..CreateInstanceAttrs::default()
    }
}

/// Instances on the fake that are not on their way out.
pub fn live_instances(fake: &FakeLambda) -> usize {
    fake.state()
        .instances()
        .iter()
        .filter(|i| matches!(i.status.as_str(), "booting" | "active" | "unhealthy"))
        .count()
}

/// Every instance of the test credential through the provider.
pub fn all() -> ListInstancesArgs {
    ListInstancesArgs::default()
}
