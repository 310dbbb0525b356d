//! What a provider crate exports so that registries (the facade, the CLI) can list, configure
//! and build it without code of their own: one [`ProviderDescriptor`].

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::client::CloudCredential;
use crate::error::Result;
use crate::settings::{ProviderSettings, SettingSource, SettingSpec};

/// What makes a provider available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// The setting with this key (a row of the provider's table) holds the credential; the
    /// provider is configured when it is set.
    Setting(&'static str),
    /// Nothing to configure; the text says when the provider is available, e.g.
    /// `the process runs as root`.
    Implicit(&'static str),
}

/// One provider: its names, its settings table, how it is activated and its credential
/// constructor. Each provider crate exports one as `DESCRIPTOR`.
#[derive(Debug)]
pub struct ProviderDescriptor {
    /// The provider id, e.g. `lambda-labs`.
    pub id: &'static str,
    /// The short name used on the command line and in config tables, e.g. `lambda`.
    pub name: &'static str,
    /// The name people know, e.g. `Lambda Cloud`.
    pub display_name: &'static str,
    /// One line for people.
    pub description: &'static str,
    /// Every setting it reads: one row per field of its config.
    pub settings: &'static [SettingSpec],
    /// What makes it available.
    pub activation: Activation,
    /// Its instances can be reached by SSH from the machine that created them (e.g. local
    /// instances); for a remote cloud that depends on the network, so the user must say so.
    pub ssh_reachable: bool,
    /// Builds the credential from the settings.
    pub build: fn(&ProviderSettings) -> Result<Build>,
}

impl ProviderDescriptor {
    /// True when `name` is this provider's id or short name (ASCII case-insensitive).
    pub fn is_named(&self, name: &str) -> bool {
        self.id.eq_ignore_ascii_case(name) || self.name.eq_ignore_ascii_case(name)
    }

    /// The row of the settings table with this key.
    pub fn setting(&self, key: &str) -> Option<&'static SettingSpec> {
        self.settings.iter().find(|s| s.key == key)
    }

    /// The environment variable that holds the credential, when there is one.
    pub fn credential_env(&self) -> Option<&'static str> {
        match self.activation {
            Activation::Setting(key) => self.setting(key).map(|s| s.env),
            Activation::Implicit(_) => None,
        }
    }
}

/// What a provider's constructor found.
#[derive(Debug)]
pub enum Build {
    /// A credential, and where its settings came from.
    Ready(Arc<dyn CloudCredential>, CredentialSource),
    /// The setting with this key is needed and not set.
    Missing(&'static str),
    /// The provider cannot be used here; the text says why.
    Unavailable(String),
}

impl Build {
    /// The build of a provider activated by the setting `key` (its API key): `Missing(key)`
    /// while that setting or the configuration is absent, otherwise the credential `make` builds
    /// from `config`, sourced where the key came from.
    pub fn from_key_setting<Cfg, C>(
        settings: &ProviderSettings,
        key: &'static str,
        config: Option<Cfg>,
        make: impl FnOnce(Cfg) -> Result<C>,
    ) -> Result<Self>
    where
        C: CloudCredential + 'static,
    {
        let (Some(value), Some(config)) = (settings.get(key), config) else {
            return Ok(Self::Missing(key));
        };
        let source = value.source().clone().into();
        Ok(Self::Ready(Arc::new(make(config)?), source))
    }
}

/// Where a credential's settings came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// An environment variable.
    Env(&'static str),
    /// The config file.
    File {
        /// The file.
        path: PathBuf,
        /// The profile.
        profile: String,
    },
    /// Nothing to configure; the text says why it is available (e.g. `running as root`).
    Implicit(&'static str),
}

impl From<SettingSource> for CredentialSource {
    fn from(source: SettingSource) -> Self {
        match source {
            SettingSource::Env(var) => Self::Env(var),
            SettingSource::File { path, profile } => Self::File { path, profile },
        }
    }
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(var) => write!(f, "env {var}"),
            Self::File { path, profile } => write!(f, "{} [profile {profile}]", path.display()),
            Self::Implicit(why) => f.write_str(why),
        }
    }
}
