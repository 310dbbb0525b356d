//! Provider settings: each provider crate declares one table of [`SettingSpec`]s, and every
//! way of configuring it (environment, config file, profile, CLI hints) is derived from that
//! table.
//!
//! A provider reads its settings through [`ProviderSettings`], whatever filled it: its own
//! `from_env` ([`ProviderSettings::from_lookup`]) or the facade's config loader (environment
//! first, then the profile's table in the config file). Values are parsed with
//! [`ProviderSettings::parse`], whose error names the setting and where the value came from.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::{CloudError, Result};

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";

/// The type of a setting's value, for parsing errors and for people reading hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SettingKind {
    /// Free text.
    Text,
    /// A URL.
    Url,
    /// A file system path.
    Path,
    /// A non-negative whole number.
    Integer,
    /// A number, possibly fractional.
    Number,
    /// An IPv4 network in CIDR notation.
    Cidr,
}

impl SettingKind {
    /// The name people see, e.g. `integer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Url => "URL",
            Self::Path => "path",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Cidr => "CIDR",
        }
    }
}

impl fmt::Display for SettingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One setting a provider reads: one row of the provider's settings table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingSpec {
    /// The key in the provider's config-file table, e.g. `api_key`.
    pub key: &'static str,
    /// The environment variable that sets it, e.g. `LAMBDA_API_KEY`.
    pub env: &'static str,
    /// The type of the value.
    pub kind: SettingKind,
    /// The value used when it is not set, as people should read it (`None`: no default).
    pub default: Option<&'static str>,
    /// The value is a secret: never shown, and a config file holding it must be private.
    pub secret: bool,
    /// One line for people.
    pub description: &'static str,
}

impl SettingSpec {
    /// A setting that is not secret: the row most of a provider's table is made of.
    pub const fn plain(
        key: &'static str,
        env: &'static str,
        kind: SettingKind,
        default: Option<&'static str>,
        description: &'static str,
    ) -> Self {
        Self {
            key,
            env,
            kind,
            default,
            secret: false,
            description,
        }
    }

    /// The `ref_id` setting every provider reads, with the provider's environment variable:
    /// the control plane's reference id of the credential, defaulting to `gpucloud-<profile>`
    /// (see [`ProviderSettings::ref_id`]).
    pub const fn ref_id(env: &'static str) -> Self {
        Self {
            key: "ref_id",
            env,
            kind: SettingKind::Text,
            default: Some("gpucloud-<profile>"),
            secret: false,
            description: "reference id stored on every instance this credential creates",
        }
    }
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingSource {
    /// An environment variable.
    Env(&'static str),
    /// The config file.
    File {
        /// The file.
        path: PathBuf,
        /// The profile the value was read from.
        profile: String,
    },
}

impl fmt::Display for SettingSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(var) => write!(f, "env {var}"),
            Self::File { path, profile } => write!(f, "{} [profile {profile}]", path.display()),
        }
    }
}

/// A setting's value and where it came from. `Debug` hides secret values.
#[derive(Clone)]
pub struct Setting {
    spec: &'static SettingSpec,
    value: String,
    source: SettingSource,
}

impl Setting {
    /// The value, trimmed. Secret values must go nowhere but the provider's config.
    pub fn value(&self) -> &str {
        self.value.trim()
    }

    /// Where the value came from.
    pub fn source(&self) -> &SettingSource {
        &self.source
    }

    /// The value parsed as `T`, or an `InvalidArgument` error on the setting's key that says
    /// where the value came from (and shows it unless it is a secret).
    pub fn parse<T: FromStr>(&self) -> Result<T> {
        self.value().parse().map_err(|_| {
            let shown = if self.spec.secret {
                "the value".to_owned()
            } else {
                format!("{:?}", self.value())
            };
            CloudError::invalid(
                self.spec.key,
                format!(
                    "{shown} (from {}) is not a valid {}",
                    self.source, self.spec.kind
                ),
            )
        })
    }
}

impl fmt::Debug for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.spec.secret {
            "[REDACTED]"
        } else {
            self.value()
        };
        f.debug_struct("Setting")
            .field("key", &self.spec.key)
            .field("value", &value)
            .field("source", &self.source)
            .finish()
    }
}

/// The settings of one provider as its constructor sees them: the values that were set, for
/// one profile. `Debug` hides secret values.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    profile: String,
    values: Vec<Setting>,
}

impl ProviderSettings {
    /// Nothing set yet, for `profile`.
    pub fn new(profile: impl Into<String>) -> Self {
        Self {
            profile: profile.into(),
            values: Vec::new(),
        }
    }

    /// The settings from environment variables looked up with `lookup`, for the default
    /// profile; an empty (or all-blank) variable counts as unset.
    pub fn from_lookup(
        specs: &'static [SettingSpec],
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let mut settings = Self::new(DEFAULT_PROFILE);
        for spec in specs {
            if let Some(value) = lookup(spec.env) {
                settings.set(spec, value, SettingSource::Env(spec.env));
            }
        }
        settings
    }

    /// The settings from the process environment, for the default profile.
    pub fn from_env(specs: &'static [SettingSpec]) -> Self {
        Self::from_lookup(specs, |var| std::env::var(var).ok())
    }

    /// Sets `spec` (a row of the provider's table) to `value`, replacing an earlier value; a blank value
    /// is ignored, so an empty variable never hides the file's value.
    pub fn set(&mut self, spec: &'static SettingSpec, value: String, source: SettingSource) {
        if value.trim().is_empty() {
            return;
        }
        self.values.retain(|s| s.spec.key != spec.key);
        self.values.push(Setting {
            spec,
            value,
            source,
        });
    }

    /// The setting `key`, when set.
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.values.iter().find(|s| s.spec.key == key)
    }

    /// The value of `key` (trimmed), when set.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.get(key).map(Setting::value)
    }

    /// The value of `key` parsed as `T`: `None` when unset, an error naming the setting and
    /// its source when it does not parse.
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>> {
        self.get(key).map(Setting::parse).transpose()
    }

    /// The credential's reference id: the `ref_id` setting, else `gpucloud-<profile>` (the
    /// profile in lowercase letters, digits and `-`), so every instance records which profile
    /// created it.
    pub fn ref_id(&self) -> String {
        if let Some(ref_id) = self.text("ref_id") {
            return ref_id.to_owned();
        }
        let profile: String = self
            .profile
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
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[SettingSpec] = &[
        SettingSpec {
            key: "token",
            env: "T_TOKEN",
            kind: SettingKind::Text,
            default: None,
            secret: true,
            description: "a secret",
        },
        SettingSpec {
            key: "limit",
            env: "T_LIMIT",
            kind: SettingKind::Integer,
            default: Some("3"),
            secret: false,
            description: "a number",
        },
        SettingSpec::ref_id("T_REF_ID"),
    ];

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> ProviderSettings {
        ProviderSettings::from_lookup(SPECS, |var| {
            vars.iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn values_are_read_trimmed_and_blank_ones_are_unset() {
        let settings = lookup(&[("T_TOKEN", " s3cret "), ("T_LIMIT", "  ")]);
        assert_eq!(settings.text("token"), Some("s3cret"));
        assert_eq!(
            settings.get("token").unwrap().source(),
            &SettingSource::Env("T_TOKEN")
        );
        assert!(settings.get("limit").is_none());
        assert_eq!(settings.parse::<u64>("limit").unwrap(), None);
    }

    #[test]
    fn a_bad_value_names_the_setting_and_its_source_but_never_a_secret() {
        let settings = lookup(&[("T_TOKEN", "hunter2"), ("T_LIMIT", "lots")]);
        let error = settings.parse::<u64>("limit").unwrap_err();
        assert!(
            matches!(&error, CloudError::InvalidArgument { field, problem }
                if field == "limit" && problem.contains("\"lots\"") && problem.contains("env T_LIMIT")
                    && problem.contains("integer")),
            "{error}"
        );
        let error = settings.parse::<u64>("token").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn ref_id_defaults_to_the_profile() {
        let mut settings = ProviderSettings::new("Work Laptop");
        assert_eq!(settings.ref_id(), "gpucloud-work-laptop");
        settings.set(&SPECS[2], "cred-7".into(), SettingSource::Env("T_REF_ID"));
        assert_eq!(settings.ref_id(), "cred-7");
        assert_eq!(lookup(&[]).ref_id(), "gpucloud-default");
    }
}
