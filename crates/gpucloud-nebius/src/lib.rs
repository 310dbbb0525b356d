#![doc = include_str!("../README.md")]

mod api;
mod auth;
mod client;
mod config;
mod convert;
mod endpoints;
mod error;
mod pricing;
mod sweep;

use std::sync::Arc;

use gpucloud_core::{Activation, Build, ProviderDescriptor, ProviderSettings, Result};

pub use auth::ServiceAccountKey;
pub use client::{NebiusClient, NebiusCredential};
pub use config::{
    API_ENDPOINT_ENV, BOOT_DISK_GIB_ENV, CREDENTIALS_FILE_ENV, DEFAULT_BOOT_DISK_GIB,
    DEFAULT_IMAGE_FAMILY, DEFAULT_OPERATION_TIMEOUT, DEFAULT_POLL_INTERVAL,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRY_BACKOFF, DEFAULT_SSH_USER, IAM_TOKEN_ENV,
    IMAGE_FAMILY_ENV, NebiusAuth, NebiusConfig, PROJECTS_ENV, REGIONS_ENV, SETTINGS, SSH_USER_ENV,
    TENANT_ENV,
};

/// The provider id: written here only, used by the client, the descriptor and the conversions.
pub const PROVIDER_ID: &str = "nebius";

/// The per-user state directory of Nebius tokens: `$XDG_STATE_HOME/gpucloud/nebius`, else
/// `$HOME/.local/state/gpucloud/nebius`; `None` when neither variable is set (core's
/// [`gpucloud_core::token_file`] keeps the files).
pub fn default_token_dir() -> Option<std::path::PathBuf> {
    gpucloud_core::token_file::default_dir(PROVIDER_ID)
}

/// Nebius AI Cloud, for registries: its names, [`SETTINGS`] and credential constructor.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor {
    id: PROVIDER_ID,
    name: "nebius",
    display_name: "Nebius AI Cloud",
    description: "Nebius AI Cloud (GPU VMs, gRPC API)",
    settings: SETTINGS,
    activation: Activation::Setting("credentials_file"),
    ssh_reachable: false,
    build,
};

fn build(settings: &ProviderSettings) -> Result<Build> {
    // A credentials file, else a static token: whichever is set says where the credential
    // came from.
    let Some(key) = settings
        .get("credentials_file")
        .or_else(|| settings.get("iam_token"))
    else {
        return Ok(Build::Missing("credentials_file"));
    };
    let Some(config) = NebiusConfig::from_settings(settings)? else {
        return Ok(Build::Missing("credentials_file"));
    };
    let source = key.source().clone().into();
    Ok(Build::Ready(
        Arc::new(NebiusCredential::new(config)?),
        source,
    ))
}
