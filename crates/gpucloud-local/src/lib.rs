#![doc = include_str!("../README.md")]

mod catalog;
mod client;
mod cmd;
mod config;
mod host;
mod net;
mod nft;
mod state;
pub mod testing;

use std::sync::Arc;

use gpucloud_core::{Activation, Build, CredentialSource, ProviderDescriptor, ProviderSettings};

pub use catalog::LOCATION;
pub use client::{LocalClient, LocalCredential};
pub use config::{
    DEFAULT_STATE_DIR, DEFAULT_SUBNET, ENV_REF_ID, ENV_STATE_DIR, ENV_SUBNET, LocalConfig, SETTINGS,
};

/// The provider id.
pub const PROVIDER_ID: &str = "local";

/// When the local provider is available.
const AVAILABLE_WHEN: &str = "running as root";

/// The local provider, for registries: its names, [`SETTINGS`] and credential constructor.
/// Its instances are on this machine, so they are always reachable by SSH from it.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor {
    id: PROVIDER_ID,
    name: "local",
    display_name: "This machine",
    description: "this machine: network namespaces with sshd and nftables (needs root)",
    settings: SETTINGS,
    activation: Activation::Implicit(AVAILABLE_WHEN),
    ssh_reachable: true,
    build,
};

fn build(settings: &ProviderSettings) -> gpucloud_core::Result<Build> {
    if !rustix::process::geteuid().is_root() {
        return Ok(Build::Unavailable(
            "the local provider needs root".to_owned(),
        ));
    }
    let config = LocalConfig::from_settings(settings)?;
    let source = settings
        .get("state_dir")
        .map_or(CredentialSource::Implicit(AVAILABLE_WHEN), |s| {
            s.source().clone().into()
        });
    Ok(Build::Ready(Arc::new(LocalCredential::new(config)), source))
}

/// Checks that this process can run local instances: it is root, and `ip`, `nft`, `sshd`,
/// `ssh-keygen`, `unshare`, `mount`, `hostname` and `sh` are installed. The error is a
/// `Configuration` error that names the Debian packages to install (iproute2, nftables,
/// openssh-server, openssh-client, util-linux, ...).
pub fn preflight() -> Result<(), gpucloud_core::CloudError> {
    cmd::Tools::discover().map(drop)
}
