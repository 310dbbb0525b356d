//! Fakes and sources for the offer and launch tests.

use std::sync::Arc;
use std::time::Duration;

use gpucloud::fluidstack::{FluidstackConfig, FluidstackCredential};
use gpucloud::lambda::{LambdaConfig, LambdaCredential};
use gpucloud::offers::OfferSource;
use gpucloud_fakes::fluidstack::{FakeFluidstack, FakeFluidstackOptions};
use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions};

/// An Ed25519 public key.
pub const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T noname";

/// A Lambda fake with short lifecycle delays.
pub async fn lambda_fake() -> FakeLambda {
    FakeLambda::start(FakeLambdaOptions {
        boot_delay: Duration::from_millis(50),
        terminate_delay: Duration::from_millis(50),
        gone_after: Duration::from_millis(200),
        ..FakeLambdaOptions::default()
    })
    .await
    .expect("the Lambda fake starts")
}

/// A source named `name` for the Lambda API at `base_url`, without client-side waits.
pub fn lambda_source(name: &str, base_url: &str) -> OfferSource {
    let config = LambdaConfig::new(gpucloud_fakes::lambda::DEFAULT_API_KEY)
        .with_base_url(base_url)
        .with_ref_id(format!("cred-{name}"))
        .with_rate_limits(100_000.0, Duration::ZERO)
        .with_retry_backoff(Duration::from_millis(5))
        .with_request_timeout(Duration::from_secs(5));
    OfferSource::new(
        name,
        Arc::new(LambdaCredential::new(config).expect("a valid config")),
    )
}

/// Instances on the fake that are not on their way out.
pub fn live(fake: &FakeLambda) -> Vec<gpucloud_fakes::lambda::FakeInstance> {
    fake.state()
        .instances()
        .into_iter()
        .filter(|i| matches!(i.status.as_str(), "booting" | "active" | "unhealthy"))
        .collect()
}

/// A Fluidstack fake (two regions) with short lifecycle delays.
pub async fn fluidstack_fake() -> FakeFluidstack {
    FakeFluidstack::start(FakeFluidstackOptions {
        create_delay: Duration::from_millis(50),
        start_delay: Duration::from_millis(20),
        stop_delay: Duration::from_millis(20),
        delete_delay: Duration::from_millis(20),
        ..FakeFluidstackOptions::default()
    })
    .await
    .expect("the Fluidstack fake starts")
}

/// A source named `name` for the Fluidstack fake, every region, without client-side waits.
pub fn fluidstack_source(name: &str, fake: &FakeFluidstack) -> OfferSource {
    let config = FluidstackConfig::new(fake.api_key(), fake.project_id().to_string())
        .with_regions(fake.regions().iter().cloned())
        .with_base_url(fake.url_template())
        .with_ref_id(format!("cred-{name}"))
        .with_retry_backoff(Duration::from_millis(5))
        .with_capacity_wait(Duration::from_secs(5), Duration::from_millis(20));
    OfferSource::new(
        name,
        Arc::new(FluidstackCredential::new(config).expect("a valid config")),
    )
}
