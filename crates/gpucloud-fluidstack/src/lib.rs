#![doc = include_str!("../README.md")]

mod client;
mod config;
mod convert;
mod error;
mod wire;

use gpucloud_core::{Activation, Build, ProviderDescriptor, ProviderSettings, Result};

pub use client::{FluidstackClient, FluidstackCredential, PROVIDER_ID};
pub use config::{
    API_KEY_ENV, API_URL_ENV, DEFAULT_CAPACITY_WAIT, DEFAULT_POLL_INTERVAL,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_SSH_USER, DEFAULT_URL_TEMPLATE, FluidstackConfig, PRICES_ENV,
    PROJECT_ENV, ProjectRef, REGION_URLS_ENV, REGIONS_ENV, SETTINGS, SSH_USER_ENV,
};

/// Fluidstack, for registries: its names, [`SETTINGS`] and credential constructor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor {
    id: PROVIDER_ID,
    name: "fluidstack",
    display_name: "Fluidstack",
    description: "Fluidstack (GPU VMs, per-region Infrastructure API)",
    settings: SETTINGS,
    activation: Activation::Setting("api_key"),
    ssh_reachable: false,
    build,
};

fn build(settings: &ProviderSettings) -> Result<Build> {
    let config = FluidstackConfig::from_settings(settings)?;
    Build::from_key_setting(settings, "api_key", config, FluidstackCredential::new)
}
