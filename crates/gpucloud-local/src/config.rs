//! The configuration of the local provider.

use std::path::{Path, PathBuf};

use gpucloud_core::{CloudError, ProviderSettings, Result, SettingKind, SettingSpec};
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

/// Environment variable that sets [`LocalConfig::ref_id`].
pub const ENV_REF_ID: &str = "GPUCLOUD_LOCAL_REF_ID";

const KEY_STATE_DIR: &str = "state_dir";
const KEY_SUBNET: &str = "subnet";

/// Every setting of [`LocalConfig`], one row per field: the environment variables, the
/// config-file keys and the CLI's hints are all derived from this table.
pub const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        key: KEY_STATE_DIR,
        env: ENV_STATE_DIR,
        kind: SettingKind::Path,
        default: Some(DEFAULT_STATE_DIR),
        secret: false,
        description: "directory of instance records",
    },
    SettingSpec {
        key: KEY_SUBNET,
        env: ENV_SUBNET,
        kind: SettingKind::Cidr,
        default: Some(DEFAULT_SUBNET),
        secret: false,
        description: "private IPv4 subnet instances get addresses from",
    },
    SettingSpec::ref_id(ENV_REF_ID),
];

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
    /// The defaults, overridden by every variable of [`SETTINGS`] that is set and not empty;
    /// an error names the setting whose value is malformed (e.g. a subnet that is no CIDR).
    pub fn from_env() -> Result<Self> {
        Self::from_settings(&ProviderSettings::from_env(SETTINGS))
    }

    /// The configuration from settings read against [`SETTINGS`] (by `from_env`, or by the
    /// facade from the environment and the config file). The subnet's form is checked here;
    /// whether it overlaps this machine's routes is checked when a client is made.
    pub fn from_settings(settings: &ProviderSettings) -> Result<Self> {
        let mut config = Self::default().with_ref_id(settings.ref_id());
        if let Some(dir) = settings.text(KEY_STATE_DIR) {
            config.state_dir = PathBuf::from(dir);
        }
        if let Some(subnet) = settings.get(KEY_SUBNET) {
            crate::net::Ipv4Net::parse_subnet(subnet.value()).map_err(|problem| {
                CloudError::invalid(KEY_SUBNET, format!("{problem} (from {})", subnet.source()))
            })?;
            subnet.value().clone_into(&mut config.subnet);
        }
        Ok(config)
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
    use gpucloud_core::SettingSource;

    use super::*;

    #[test]
    fn every_field_is_read_from_the_settings_and_a_bad_subnet_is_named() {
        let mut settings = ProviderSettings::new("default");
        for (spec, value) in SETTINGS.iter().zip(["/tmp/s", "10.9.8.0/24", "cred-3"]) {
            settings.set(spec, value.to_owned(), SettingSource::Env(spec.env));
        }
        let config = LocalConfig::from_settings(&settings).unwrap();
        assert_eq!(config.state_dir, PathBuf::from("/tmp/s"));
        assert_eq!(config.subnet, "10.9.8.0/24");
        assert_eq!(config.ref_id, "cred-3");

        settings.set(
            &SETTINGS[1],
            "10.9.8.0".into(),
            SettingSource::Env(ENV_SUBNET),
        );
        let error = LocalConfig::from_settings(&settings).unwrap_err();
        assert!(
            matches!(&error, CloudError::InvalidArgument { field, problem }
                if field == "subnet" && problem.contains(ENV_SUBNET)),
            "{error}"
        );
        let defaults = LocalConfig::from_settings(&ProviderSettings::new("x")).unwrap();
        assert_eq!(defaults.subnet, DEFAULT_SUBNET);
        assert_eq!(defaults.ref_id, "gpucloud-x");
    }

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
