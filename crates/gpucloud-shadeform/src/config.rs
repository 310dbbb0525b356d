//! Configuration: the API key (a secret), the API root, the allow-list of (upstream cloud,
//! Shadeform type) pairs, the SSH user the launch script installs the key for, and timings.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use gpucloud_core::{CloudError, ProviderSettings, Result, SettingKind, SettingSpec};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Environment variable holding the API key (sent as `X-API-KEY`).
pub const API_KEY_ENV: &str = "SHADEFORM_API_KEY";
/// Environment variable overriding the API root (the fake's URL in tests).
pub const API_URL_ENV: &str = "SHADEFORM_API_URL";
/// Environment variable with the allow-list: `cloud=type,cloud=type`.
pub const ALLOWED_TYPES_ENV: &str = "SHADEFORM_ALLOWED_TYPES";
/// Environment variable overriding the SSH user the launch script installs the key for.
pub const SSH_USER_ENV: &str = "SHADEFORM_SSH_USER";

/// Shadeform's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.shadeform.ai/v1";
/// The user of Shadeform's images (`shade_os`); the API reports the real one per instance.
pub const DEFAULT_SSH_USER: &str = "shadeform";
/// Default time limit of one HTTP request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default first retry backoff.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(500);

const KEY_API_KEY: &str = "api_key";
const KEY_API_URL: &str = "api_url";
const KEY_ALLOWED_TYPES: &str = "allowed_types";
const KEY_SSH_USER: &str = "ssh_user";
const KEY_REQUEST_TIMEOUT_MS: &str = "request_timeout_ms";
const KEY_RETRY_BACKOFF_MS: &str = "retry_backoff_ms";

/// Every setting of [`ShadeformConfig`], one row per field: the environment variables, the
/// config-file keys and the CLI's hints are all derived from this table.
pub const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        key: KEY_API_KEY,
        env: API_KEY_ENV,
        kind: SettingKind::Text,
        default: None,
        secret: true,
        description: "API key from the Shadeform console (sent as X-API-KEY)",
    },
    SettingSpec::plain(
        KEY_API_URL,
        API_URL_ENV,
        SettingKind::Url,
        Some(DEFAULT_BASE_URL),
        "API root; plain http only for loopback (the fake)",
    ),
    SettingSpec::plain(
        KEY_ALLOWED_TYPES,
        ALLOWED_TYPES_ENV,
        SettingKind::Text,
        None,
        "allow-list of offers: cloud=shade_type,cloud=shade_type (unset: every offer)",
    ),
    SettingSpec::plain(
        KEY_SSH_USER,
        SSH_USER_ENV,
        SettingKind::Text,
        Some(DEFAULT_SSH_USER),
        "the user the launch script installs the SSH key for",
    ),
    SettingSpec::plain(
        KEY_REQUEST_TIMEOUT_MS,
        "SHADEFORM_REQUEST_TIMEOUT_MS",
        SettingKind::Integer,
        Some("60000"),
        "time limit of one HTTP request in milliseconds",
    ),
    SettingSpec::plain(
        KEY_RETRY_BACKOFF_MS,
        "SHADEFORM_RETRY_BACKOFF_MS",
        SettingKind::Integer,
        Some("500"),
        "first retry backoff in milliseconds (doubling per retry)",
    ),
    SettingSpec::ref_id("SHADEFORM_REF_ID"),
];

/// How to reach one Shadeform account.
///
/// Serialized with the key under `api_key` (the persisted credential format) and the
/// allow-list under `allowed_instance_types` (`{cloud: [shade_type, ...]}`); `Debug` never
/// shows the key. `ref_id` is the control plane's id of the credential and is not serialized.
#[derive(Clone, Serialize, Deserialize)]
pub struct ShadeformConfig {
    /// The API key.
    #[serde(with = "gpucloud_http::secret_string")]
    pub api_key: SecretString,
    /// The API root; `None` uses [`DEFAULT_BASE_URL`]. Plain `http` is refused except for
    /// loopback addresses (tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Offers this credential may see and launch, by upstream cloud and Shadeform type
    /// (`shade_instance_type`). `None`: every offer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_instance_types: Option<BTreeMap<String, BTreeSet<String>>>,
    /// The SSH user the launch script installs the key for; `None` uses [`DEFAULT_SSH_USER`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_user: Option<String>,
    /// The control plane's reference id of this credential; stored on every instance it creates.
    #[serde(skip)]
    pub ref_id: String,
    /// Time limit of one HTTP request in milliseconds; `None` uses [`DEFAULT_REQUEST_TIMEOUT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    /// First retry backoff in milliseconds; `None` uses [`DEFAULT_RETRY_BACKOFF`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_backoff_ms: Option<u64>,
}

impl fmt::Debug for ShadeformConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShadeformConfig")
            .field("api_key", &"[redacted]")
            .field("base_url", &self.base_url)
            .field("allowed_instance_types", &self.allowed_instance_types)
            .field("ssh_user", &self.ssh_user)
            .field("ref_id", &self.ref_id)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("retry_backoff_ms", &self.retry_backoff_ms)
            .finish()
    }
}

/// Reads `cloud=type,cloud=type` into an allow-list; the error names `setting`.
fn parse_allow_list(setting: &str, text: &str) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut allowed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (cloud, shade_type) = item
            .split_once('=')
            .map(|(c, t)| (c.trim(), t.trim()))
            .filter(|(c, t)| !c.is_empty() && !t.is_empty())
            .ok_or_else(|| {
                CloudError::invalid(
                    setting,
                    format!("{item:?} is not of the form cloud=shade_type"),
                )
            })?;
        allowed
            .entry(cloud.to_owned())
            .or_default()
            .insert(shade_type.to_owned());
    }
    Ok(allowed)
}

impl ShadeformConfig {
    /// A configuration with this API key and every default.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: SecretString::from(api_key.into()),
            base_url: None,
            allowed_instance_types: None,
            ssh_user: None,
            ref_id: String::new(),
            request_timeout_ms: None,
            retry_backoff_ms: None,
        }
    }

    /// The configuration from the `SHADEFORM_*` variables; `None` when `SHADEFORM_API_KEY`
    /// is unset.
    pub fn from_env() -> Result<Option<Self>> {
        Self::from_settings(&ProviderSettings::from_env(SETTINGS))
    }

    /// The configuration from a provider settings table ([`SETTINGS`]: environment, config
    /// file); `None` when no API key is set. Errors name the setting and where its value came
    /// from.
    pub fn from_settings(settings: &ProviderSettings) -> Result<Option<Self>> {
        let Some(key) = settings.text(KEY_API_KEY) else {
            return Ok(None);
        };
        let from = |key: &str| {
            settings
                .get(key)
                .map(|s| format!(" (from {})", s.source()))
                .unwrap_or_default()
        };
        let mut config = Self::new(key.trim());
        config.base_url = settings.text(KEY_API_URL).map(|u| u.trim().to_owned());
        if let Some(list) = settings.text(KEY_ALLOWED_TYPES) {
            config.allowed_instance_types = Some(
                parse_allow_list(KEY_ALLOWED_TYPES, list).map_err(|e| match e {
                    CloudError::InvalidArgument { field, problem } => {
                        CloudError::invalid(field, format!("{problem}{}", from(KEY_ALLOWED_TYPES)))
                    }
                    other => other,
                })?,
            );
        }
        config.ssh_user = settings.text(KEY_SSH_USER).map(|u| u.trim().to_owned());
        config.ref_id = settings.ref_id();
        config.request_timeout_ms = settings.parse(KEY_REQUEST_TIMEOUT_MS)?;
        config.retry_backoff_ms = settings.parse(KEY_RETRY_BACKOFF_MS)?;
        config.validate().map_err(|e| match e {
            CloudError::InvalidArgument { field, problem } => {
                let suffix = from(&field);
                CloudError::invalid(field, format!("{problem}{suffix}"))
            }
            other => other,
        })?;
        Ok(Some(config))
    }

    /// Sets the API root, e.g. a fake's `http://127.0.0.1:PORT/v1`.
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Allows the offer of `shade_type` on `cloud` (the first call turns the allow-list on).
    pub fn with_allowed(mut self, cloud: impl Into<String>, shade_type: impl Into<String>) -> Self {
        self.allowed_instance_types
            .get_or_insert_with(BTreeMap::new)
            .entry(cloud.into())
            .or_default()
            .insert(shade_type.into());
        self
    }

    /// Sets the SSH user the launch script installs the key for.
    pub fn with_ssh_user(mut self, user: impl Into<String>) -> Self {
        self.ssh_user = Some(user.into());
        self
    }

    /// Sets the control plane's reference id of this credential.
    pub fn with_ref_id(mut self, ref_id: impl Into<String>) -> Self {
        self.ref_id = ref_id.into();
        self
    }

    /// Sets the time limit of one HTTP request.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout_ms = Some(millis(timeout));
        self
    }

    /// Sets the first retry backoff (it doubles per retry).
    pub fn with_retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff_ms = Some(millis(backoff));
        self
    }

    /// The API root in use.
    pub fn effective_base_url(&self) -> &str {
        self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL)
    }

    /// The SSH user in use.
    pub fn effective_ssh_user(&self) -> &str {
        self.ssh_user.as_deref().unwrap_or(DEFAULT_SSH_USER)
    }

    /// The request timeout in use.
    pub fn effective_request_timeout(&self) -> Duration {
        self.request_timeout_ms
            .map_or(DEFAULT_REQUEST_TIMEOUT, Duration::from_millis)
    }

    /// The first retry backoff in use.
    pub fn effective_retry_backoff(&self) -> Duration {
        self.retry_backoff_ms
            .map_or(DEFAULT_RETRY_BACKOFF, Duration::from_millis)
    }

    /// True when the allow-list lets this credential see and launch `shade_type` on `cloud`.
    pub fn allows(&self, cloud: &str, shade_type: &str) -> bool {
        self.allowed_instance_types
            .as_ref()
            .is_none_or(|allowed| allowed.get(cloud).is_some_and(|t| t.contains(shade_type)))
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
        if self.api_key.expose_secret().trim().is_empty() {
            return Err(CloudError::invalid(KEY_API_KEY, "must not be empty"));
        }
        if self.request_timeout_ms == Some(0) {
            return Err(CloudError::invalid(
                KEY_REQUEST_TIMEOUT_MS,
                "must be at least 1",
            ));
        }
        gpucloud_http::parse_base_url(self.effective_base_url()).map_err(|e| {
            CloudError::invalid(KEY_API_URL, format!("{:?}: {e}", self.effective_base_url()))
        })?;
        if let Some(allowed) = &self.allowed_instance_types
            && let Some((cloud, _)) = allowed.iter().find(|(c, t)| c.is_empty() || t.is_empty())
        {
            return Err(CloudError::invalid(
                KEY_ALLOWED_TYPES,
                format!("cloud {cloud:?} has no allowed type"),
            ));
        }
        gpucloud_core::validate::check_posix_user(KEY_SSH_USER, self.effective_ssh_user())?;
        Ok(())
    }

    /// The key, for the HTTP client and the tenant id only.
    pub(crate) fn key(&self) -> &str {
        self.api_key.expose_secret()
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use gpucloud_core::ErrorKind;

    use super::*;

    fn settings(pairs: &'static [(&'static str, &'static str)]) -> ProviderSettings {
        ProviderSettings::from_lookup(SETTINGS, move |var| {
            pairs
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn debug_redacts_the_key() {
        let config = ShadeformConfig::new("sf-secret-123").with_ref_id("r");
        let text = format!("{config:?}");
        assert!(!text.contains("sf-secret"), "{text}");
        assert!(text.contains("[redacted]"));
    }

    #[test]
    fn serde_keeps_the_key_and_skips_the_ref_id() {
        let config = ShadeformConfig::new("k1")
            .with_ref_id("r")
            .with_allowed("hyperstack", "A4000");
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["api_key"], "k1");
        assert_eq!(
            json["allowed_instance_types"],
            serde_json::json!({"hyperstack": ["A4000"]})
        );
        assert!(json.get("ref_id").is_none());
        let back: ShadeformConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back.key(), "k1");
        assert!(back.allows("hyperstack", "A4000"));
    }

    #[test]
    fn nothing_set_is_not_configured() {
        assert!(
            ShadeformConfig::from_settings(&settings(&[]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn every_setting_is_read() {
        let config = ShadeformConfig::from_settings(&settings(&[
            ("SHADEFORM_API_KEY", "k"),
            ("SHADEFORM_API_URL", "http://127.0.0.1:9/v1"),
            (
                "SHADEFORM_ALLOWED_TYPES",
                "hyperstack=A4000, hyperstack=H100,datacrunch=H200x8",
            ),
            ("SHADEFORM_SSH_USER", "ubuntu"),
            ("SHADEFORM_REQUEST_TIMEOUT_MS", "1500"),
            ("SHADEFORM_RETRY_BACKOFF_MS", "20"),
            ("SHADEFORM_REF_ID", "team-a"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(config.effective_base_url(), "http://127.0.0.1:9/v1");
        assert!(config.allows("hyperstack", "A4000") && config.allows("hyperstack", "H100"));
        assert!(config.allows("datacrunch", "H200x8"));
        assert!(!config.allows("datacrunch", "A4000") && !config.allows("verda", "H100"));
        assert_eq!(config.effective_ssh_user(), "ubuntu");
        assert_eq!(
            config.effective_request_timeout(),
            Duration::from_millis(1500)
        );
        assert_eq!(config.effective_retry_backoff(), Duration::from_millis(20));
        assert_eq!(config.ref_id, "team-a");
        let defaults = ShadeformConfig::from_settings(&settings(&[("SHADEFORM_API_KEY", "k")]))
            .unwrap()
            .unwrap();
        assert_eq!(defaults.effective_base_url(), DEFAULT_BASE_URL);
        assert_eq!(defaults.ref_id, "gpucloud-default");
        assert!(defaults.allows("anything", "at-all"), "no list: everything");
    }

    #[test]
    fn bad_values_name_the_setting_and_its_source() {
        let cases: [(&'static [(&'static str, &'static str)], &str); 4] = [
            (
                &[
                    ("SHADEFORM_API_KEY", "k"),
                    ("SHADEFORM_REQUEST_TIMEOUT_MS", "soon"),
                ],
                "request_timeout_ms",
            ),
            (
                &[
                    ("SHADEFORM_API_KEY", "k"),
                    ("SHADEFORM_ALLOWED_TYPES", "hyperstack"),
                ],
                "SHADEFORM_ALLOWED_TYPES",
            ),
            (
                &[
                    ("SHADEFORM_API_KEY", "k"),
                    ("SHADEFORM_API_URL", "http://example.com"),
                ],
                "SHADEFORM_API_URL",
            ),
            (
                &[
                    ("SHADEFORM_API_KEY", "k"),
                    ("SHADEFORM_SSH_USER", "Root User"),
                ],
                "SHADEFORM_SSH_USER",
            ),
        ];
        for (pairs, named) in cases {
            let err = ShadeformConfig::from_settings(&settings(pairs)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
            assert!(err.to_string().contains(named), "{named}: {err}");
            assert!(!err.to_string().contains("=k"), "{err}");
        }
    }
}
