#![doc = include_str!("../README.md")]

mod api;
mod client;
mod config;
mod convert;
mod error;
mod token;
mod wire;

use gpucloud_core::{Activation, Build, ProviderDescriptor, ProviderSettings, Result};

pub use client::{PROVIDER_ID, VerdaClient, VerdaCredential};
pub use config::{
    API_URL_ENV, CLIENT_ID_ENV, CLIENT_SECRET_ENV, DEFAULT_BASE_URL, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETRY_BACKOFF, DEFAULT_SSH_USER, SETTINGS, VerdaConfig,
};

/// Verda, for registries: its names, [`SETTINGS`] and credential constructor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor {
    id: PROVIDER_ID,
    name: "verda",
    display_name: "Verda",
    description: "Verda, formerly DataCrunch (GPU VMs in Finland and Iceland, on demand and spot)",
    settings: SETTINGS,
    activation: Activation::Setting("client_id"),
    ssh_reachable: false,
    build,
};

/// The per-user state directory of Verda tokens: `$XDG_STATE_HOME/gpucloud/verda`, else
/// `$HOME/.local/state/gpucloud/verda`; `None` when neither variable is set (core's
/// [`gpucloud_core::token_file`] keeps the files).
pub fn default_token_dir() -> Option<std::path::PathBuf> {
    gpucloud_core::token_file::default_dir(PROVIDER_ID)
}

fn build(settings: &ProviderSettings) -> Result<Build> {
    let config = VerdaConfig::from_settings(settings)?;
    Build::from_key_setting(settings, "client_id", config, VerdaCredential::new)
}
