#![doc = include_str!("../README.md")]

mod api;
mod client;
mod config;
mod error;
mod from_wire;
mod to_wire;
mod wire;

use gpucloud_core::{Activation, Build, ProviderDescriptor, ProviderSettings, Result};

pub use client::{LambdaClient, LambdaCredential};
pub use config::{
    API_KEY_ENV, API_URL_ENV, DEFAULT_BASE_URL, DEFAULT_LAUNCH_INTERVAL,
    DEFAULT_ORPHAN_RULESET_GRACE, DEFAULT_REQUEST_TIMEOUT, DEFAULT_REQUESTS_PER_SECOND,
    LambdaConfig, SETTINGS,
};

/// The provider id, defined once: the registry descriptor, errors and catalog entries use it.
pub const PROVIDER_ID: &str = "lambda-labs";

/// Prefix of the tenant id (`lambda-<hex SHA-256 of the key>`).
const TENANT_PREFIX: &str = "lambda";

/// Lambda Cloud, for registries: its names, [`SETTINGS`] and credential constructor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor {
    id: PROVIDER_ID,
    name: "lambda",
    display_name: "Lambda Cloud",
    description: "Lambda Cloud (GPU VMs, REST API)",
    settings: SETTINGS,
    activation: Activation::Setting("api_key"),
    ssh_reachable: false,
    build,
};

fn build(settings: &ProviderSettings) -> Result<Build> {
    let config = LambdaConfig::from_settings(settings)?;
    Build::from_key_setting(settings, "api_key", config, LambdaCredential::new)
}
