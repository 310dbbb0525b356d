#![doc = include_str!("../README.md")]

mod api;
mod client;
mod config;
mod convert;
mod error;
mod region;
mod wire;

use gpucloud_core::{Activation, Build, ProviderDescriptor, ProviderSettings, Result};

pub use client::{PROVIDER_ID, ShadeformClient, ShadeformCredential};
pub use config::{
    ALLOWED_TYPES_ENV, API_KEY_ENV, API_URL_ENV, DEFAULT_BASE_URL, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETRY_BACKOFF, DEFAULT_SSH_USER, SETTINGS, SSH_USER_ENV, ShadeformConfig,
};

/// Shadeform, for registries: its names, [`SETTINGS`] and credential constructor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor {
    id: PROVIDER_ID,
    name: "shadeform",
    display_name: "Shadeform",
    description: "Shadeform (GPU marketplace: many upstream clouds behind one API)",
    settings: SETTINGS,
    activation: Activation::Setting("api_key"),
    ssh_reachable: false,
    build,
};

fn build(settings: &ProviderSettings) -> Result<Build> {
    let config = ShadeformConfig::from_settings(settings)?;
    Build::from_key_setting(settings, "api_key", config, ShadeformCredential::new)
}
