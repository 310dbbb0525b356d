#![doc = include_str!("../README.md")]

mod api;
mod client;
mod config;
mod convert;
mod error;
mod region;
mod wire;

use gpucloud_core::{Activation, Build, ProviderDescriptor, ProviderSettings, Result};

pub use client::{LaunchpadClient, LaunchpadCredential, PROVIDER_ID};
pub use config::{
    API_TOKEN_ENV, API_URL_ENV, DEFAULT_BASE_URL, DEFAULT_ORG_NAME, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_REQUESTER_NAME, DEFAULT_RETRY_BACKOFF, EXPERIENCE_ID_ENV, LaunchpadConfig,
    REQUESTER_EMAIL_ENV, SETTINGS, STAGING_BASE_URL,
};
pub use convert::{EXPERIENCE_DEFAULT, EXPERIENCE_DMZ_GH200, EXPERIENCE_NEBIUS, experience_for};

/// NVIDIA LaunchPad, for registries: its names, [`SETTINGS`] and credential constructor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor {
    id: PROVIDER_ID,
    name: "launchpad",
    display_name: "NVIDIA LaunchPad",
    description: "NVIDIA LaunchPad (a broker: several upstream clouds and NVIDIA's DMZ)",
    settings: SETTINGS,
    activation: Activation::Setting("api_token"),
    ssh_reachable: false,
    build,
};

fn build(settings: &ProviderSettings) -> Result<Build> {
    let config = LaunchpadConfig::from_settings(settings)?;
    Build::from_key_setting(settings, "api_token", config, LaunchpadCredential::new)
}
