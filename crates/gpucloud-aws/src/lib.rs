#![doc = include_str!("../README.md")]

mod api;
mod client;
mod config;
mod convert;
mod error;
mod wire;

use gpucloud_core::{Activation, Build, ProviderDescriptor, ProviderSettings, Result};

pub use client::{AwsClient, AwsCredential, PROVIDER_ID};
pub use config::{
    ACCESS_KEY_ID_ENV, AwsConfig, DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRY_BACKOFF,
    DEFAULT_ROOT_VOLUME_GIB, DEFAULT_SSH_USER, DEFAULT_SWEEP_GRACE, ENDPOINT_URL_ENV,
    PRICING_ENDPOINT_URL_ENV, PRICING_REGION, QUOTAS_ENDPOINT_URL_ENV, REGION_ENV,
    SECRET_ACCESS_KEY_ENV, SESSION_TOKEN_ENV, SETTINGS,
};

/// AWS, for registries: its names, [`SETTINGS`] and credential constructor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor {
    id: PROVIDER_ID,
    name: "aws",
    display_name: "AWS EC2",
    description: "Amazon Web Services EC2 (GPU instances in every enabled region, on demand and spot)",
    settings: SETTINGS,
    activation: Activation::Setting("region"),
    ssh_reachable: false,
    build,
};

fn build(settings: &ProviderSettings) -> Result<Build> {
    let config = AwsConfig::from_settings(settings)?;
    Build::from_key_setting(settings, "region", config, AwsCredential::new)
}
