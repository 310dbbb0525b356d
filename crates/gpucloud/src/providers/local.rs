//! The local provider: instances on this machine, available when running as root.

use std::sync::Arc;

use gpucloud_core::Result;
use gpucloud_local::{ENV_STATE_DIR, ENV_SUBNET, LocalConfig, LocalCredential, PROVIDER_ID};

use crate::config::SettingSpec;
use crate::registry::{
    Build, CredentialSource, ProviderDescriptor, ProviderSettings, REF_ID_SETTING,
};

const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        key: "state_dir",
        env: ENV_STATE_DIR,
        secret: false,
        description: "directory of instance records (default /var/lib/gpucloud/local)",
    },
    SettingSpec {
        key: "subnet",
        env: ENV_SUBNET,
        secret: false,
        description: "private IPv4 subnet for instance addresses (default 10.213.0.0/24)",
    },
    REF_ID_SETTING,
];

/// The local provider.
pub(crate) const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor {
    id: PROVIDER_ID,
    name: "local",
    description: "this machine: network namespaces with sshd and nftables (needs root)",
    settings: SETTINGS,
    build,
};

/// True when this process runs as root (the owner of `/proc/self` is the effective user).
pub(crate) fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

// The registry's constructor signature is fallible; this provider's construction is not.
#[allow(clippy::unnecessary_wraps)]
fn build(settings: &ProviderSettings<'_>) -> Result<Build> {
    if !is_root() {
        return Ok(Build::NotConfigured(
            "the local provider needs root".to_owned(),
        ));
    }
    let mut config = LocalConfig::default();
    let mut source = CredentialSource::Implicit("running as root");
    if let Some(dir) = settings.get("state_dir") {
        source = dir.source().clone().into();
        config = config.with_state_dir(dir.value());
    }
    if let Some(subnet) = settings.get("subnet") {
        config = config.with_subnet(subnet.value().trim());
    }
    config = config.with_ref_id(settings.ref_id());
    let credential = LocalCredential::new(config);
    Ok(Build::Ready(Arc::new(credential), source))
}
