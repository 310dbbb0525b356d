//! The providers compiled into this build, and the credentials built from a [`Config`].

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use gpucloud_core::{CloudCredential, CloudError, Result};

use crate::config::{Config, Setting, SettingSource, SettingSpec};

/// What a provider's constructor found.
pub enum Build {
    /// A credential, and where its settings came from.
    Ready(Arc<dyn CloudCredential>, CredentialSource),
    /// The provider is not configured; the text says what is missing.
    NotConfigured(String),
}

impl fmt::Debug for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready(credential, source) => f
                .debug_tuple("Ready")
                .field(credential)
                .field(source)
                .finish(),
            Self::NotConfigured(why) => f.debug_tuple("NotConfigured").field(why).finish(),
        }
    }
}

/// A provider compiled into this build: its names, settings and credential constructor.
pub struct ProviderDescriptor {
    /// The provider id, e.g. `lambda-labs`.
    pub id: &'static str,
    /// The short name used on the command line and in config tables, e.g. `lambda`.
    pub name: &'static str,
    /// One line for people.
    pub description: &'static str,
    /// The settings it reads.
    pub settings: &'static [SettingSpec],
    /// Builds the credential from the settings.
    pub build: fn(&ProviderSettings<'_>) -> Result<Build>,
}

impl fmt::Debug for ProviderDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderDescriptor")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ProviderDescriptor {
    /// True when `name` is this provider's id or short name (ASCII case-insensitive).
    pub fn is_named(&self, name: &str) -> bool {
        self.id.eq_ignore_ascii_case(name) || self.name.eq_ignore_ascii_case(name)
    }
}

/// The `ref_id` setting every provider reads; [`ProviderSettings::ref_id`] gives its default.
#[cfg(any(feature = "lambda", feature = "local"))]
pub(crate) const REF_ID_SETTING: SettingSpec = SettingSpec {
    key: "ref_id",
    env: "",
    secret: false,
    description: "reference id stored on every instance created (default gpucloud-<profile>)",
};

/// The settings of one provider, as its constructor sees them.
#[derive(Debug, Clone, Copy)]
pub struct ProviderSettings<'a> {
    /// The provider.
    pub descriptor: &'static ProviderDescriptor,
    /// The whole config.
    pub config: &'a Config,
}

impl ProviderSettings<'_> {
    /// A setting: the environment variable when set, else the config file's value.
    pub fn get(&self, key: &str) -> Option<Setting> {
        self.config.setting(self.descriptor, key)
    }

    /// The credential's reference id: the `ref_id` setting, else `gpucloud-<profile>` (letters,
    /// digits and `-` only), so every instance records which profile created it.
    pub fn ref_id(&self) -> String {
        if let Some(ref_id) = self.get("ref_id") {
            return ref_id.value().to_owned();
        }
        let profile: String = self
            .config
            .profile()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        format!("gpucloud-{profile}")
    }

    /// How to configure `key`: the variable to set or the file line to add.
    pub fn how_to_set(&self, key: &str) -> String {
        let table = format!(
            "[profiles.{}.{}]",
            self.config.profile(),
            self.descriptor.name
        );
        let file = format!(
            "add `{key} = \"...\"` under {table} in {}",
            self.config.suggested_path()
        );
        match self.descriptor.settings.iter().find(|s| s.key == key) {
            Some(spec) if !spec.env.is_empty() => format!("set {} or {file}", spec.env),
            _ => file,
        }
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

/// A configured provider: its descriptor, a credential, and where the settings came from.
#[derive(Debug, Clone)]
pub struct ProviderEntry {
    /// The provider.
    pub descriptor: &'static ProviderDescriptor,
    /// Its credential.
    pub credential: Arc<dyn CloudCredential>,
    /// Where its settings came from.
    pub source: CredentialSource,
}

static PROVIDERS: &[ProviderDescriptor] = &[
    #[cfg(feature = "lambda")]
    crate::providers::lambda::DESCRIPTOR,
    #[cfg(feature = "local")]
    crate::providers::local::DESCRIPTOR,
];

/// Every provider compiled into this build (one cargo feature each).
pub fn providers() -> &'static [ProviderDescriptor] {
    PROVIDERS
}

/// The provider with this id or short name, if compiled in.
pub fn find_provider(name: &str) -> Option<&'static ProviderDescriptor> {
    PROVIDERS.iter().find(|d| d.is_named(name))
}

fn known_names() -> String {
    if PROVIDERS.is_empty() {
        return "none (this build has no provider features)".to_owned();
    }
    PROVIDERS
        .iter()
        .map(|d| format!("{} ({})", d.name, d.id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The provider named `name`, or an `InvalidArgument` error on `provider` listing the known ones.
pub fn lookup(name: &str) -> Result<&'static ProviderDescriptor> {
    find_provider(name).ok_or_else(|| {
        CloudError::invalid(
            "provider",
            format!("unknown provider `{name}`; known: {}", known_names()),
        )
    })
}

/// Every provider that `config` configures, in registry order. A provider that is not
/// configured is skipped; one that is configured wrongly (e.g. a malformed URL) is an error.
pub fn configured_providers(config: &Config) -> Result<Vec<ProviderEntry>> {
    let mut entries = Vec::new();
    for descriptor in PROVIDERS {
        match (descriptor.build)(&ProviderSettings { descriptor, config })? {
            Build::Ready(credential, source) => entries.push(ProviderEntry {
                descriptor,
                credential,
                source,
            }),
            Build::NotConfigured(why) => {
                tracing::debug!(provider = descriptor.id, %why, "provider not configured");
            }
        }
    }
    Ok(entries)
}

/// The provider named `name`, configured from `config`: `InvalidArgument` when the name is
/// unknown, `Configuration` (saying what to set) when it is not configured.
pub fn configured_provider(config: &Config, name: &str) -> Result<ProviderEntry> {
    let descriptor = lookup(name)?;
    match (descriptor.build)(&ProviderSettings { descriptor, config })? {
        Build::Ready(credential, source) => Ok(ProviderEntry {
            descriptor,
            credential,
            source,
        }),
        Build::NotConfigured(why) => Err(CloudError::configuration(format!(
            "provider {} is not configured: {why}",
            descriptor.name
        ))),
    }
}
