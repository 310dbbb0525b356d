//! The configuration of the local provider.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The state directory used when none is configured.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/gpucloud/local";

/// The instance subnet used when none is configured.
///
/// A private range that home, office and cloud networks rarely use. It is checked against every
/// route and address of this machine when a client is created; on overlap the client is refused
/// with an error naming the route, and another subnet must be configured.
pub const DEFAULT_SUBNET: &str = "10.213.0.0/24";

/// Environment variable that sets [`LocalConfig::state_dir`].
pub const ENV_STATE_DIR: &str = "GPUCLOUD_LOCAL_STATE";

/// Environment variable that sets [`LocalConfig::subnet`].
pub const ENV_SUBNET: &str = "GPUCLOUD_LOCAL_SUBNET";

/// Where the local provider keeps its instances and which addresses it gives them.
///
/// There is no secret: the "account" is this machine and the state directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LocalConfig {
    /// One directory and JSON record per instance, plus the lock file. Every process that uses
    /// the same directory sees the same instances. Default [`DEFAULT_STATE_DIR`], or
    /// `GPUCLOUD_LOCAL_STATE`.
    pub state_dir: PathBuf,
    /// The IPv4 subnet (CIDR) instances get addresses from; the host's side of the bridge takes
    /// the first address. It must be a private range (RFC 1918, RFC 6598 or RFC 2544) that
    /// overlaps no route or address of this machine. Default [`DEFAULT_SUBNET`], or
    /// `GPUCLOUD_LOCAL_SUBNET`.
    pub subnet: String,
    /// The control plane's id of the credential; persisted on every instance created.
    #[serde(skip)]
    pub ref_id: String,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            subnet: DEFAULT_SUBNET.to_owned(),
            ref_id: String::new(),
        }
    }
}

impl LocalConfig {
    /// The defaults, overridden by `GPUCLOUD_LOCAL_STATE` and `GPUCLOUD_LOCAL_SUBNET` when they
    /// are set and not empty.
    pub fn from_env() -> Self {
        let mut config = Self::default();
        if let Some(dir) = std::env::var_os(ENV_STATE_DIR).filter(|v| !v.is_empty()) {
            config.state_dir = PathBuf::from(dir);
        }
        if let Ok(subnet) = std::env::var(ENV_SUBNET) {
            let subnet = subnet.trim();
            if !subnet.is_empty() {
                subnet.clone_into(&mut config.subnet);
            }
        }
        config
    }

    /// Sets the state directory.
    pub fn with_state_dir(mut self, state_dir: impl AsRef<Path>) -> Self {
        self.state_dir = state_dir.as_ref().to_path_buf();
        self
    }

    /// Sets the instance subnet (CIDR, e.g. `10.213.0.0/24`).
    pub fn with_subnet(mut self, subnet: impl Into<String>) -> Self {
        self.subnet = subnet.into();
        self
    }

    /// Sets the credential reference id.
    pub fn with_ref_id(mut self, ref_id: impl Into<String>) -> Self {
        self.ref_id = ref_id.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_and_defaults() {
        let config = LocalConfig::default()
            .with_state_dir("/tmp/x")
            .with_subnet("10.1.2.0/24")
            .with_ref_id("cred-1");
        assert_eq!(config.state_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.subnet, "10.1.2.0/24");
        assert_eq!(config.ref_id, "cred-1");
        assert_eq!(LocalConfig::default().subnet, DEFAULT_SUBNET);
    }

    #[test]
    fn ref_id_is_not_serialized_and_missing_fields_default() {
        let config = LocalConfig::default().with_ref_id("secret-ish");
        let json = serde_json::to_string(&config).unwrap();
        assert!(!json.contains("secret-ish"));
        let back: LocalConfig =
            serde_json::from_str(r#"{"subnet":"10.9.0.0/24","extra":1}"#).unwrap();
        assert_eq!(back.subnet, "10.9.0.0/24");
        assert_eq!(back.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
    }
}
