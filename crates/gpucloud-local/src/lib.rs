#![doc = include_str!("../README.md")]

mod catalog;
mod client;
mod cmd;
mod config;
mod host;
mod net;
mod nft;
mod state;

pub use catalog::LOCATION;
pub use client::{LocalClient, LocalCredential};
pub use config::{DEFAULT_STATE_DIR, DEFAULT_SUBNET, ENV_STATE_DIR, ENV_SUBNET, LocalConfig};

/// The provider id.
pub const PROVIDER_ID: &str = "local";

/// Checks that this process can run local instances: it is root, and `ip`, `nft`, `sshd`,
/// `ssh-keygen`, `unshare`, `mount`, `hostname` and `sh` are installed. The error is a
/// `Configuration` error that names the Debian packages to install (iproute2, nftables,
/// openssh-server, openssh-client, util-linux, ...).
pub fn preflight() -> Result<(), gpucloud_core::CloudError> {
    cmd::Tools::discover().map(drop)
}
