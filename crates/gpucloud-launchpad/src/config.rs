//! Configuration: the API token (a secret), the API root, the experience rule's override,
//! who LaunchPad records as the requester, the IP allow-list and timings.

use std::fmt;
use std::time::Duration;

use gpucloud_core::{Cidr, CloudError, ProviderSettings, Result, SettingKind, SettingSpec};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Environment variable holding the API token (sent as `Authorization: Token <token>`).
pub const API_TOKEN_ENV: &str = "LAUNCHPAD_API_TOKEN";
/// Environment variable overriding the API root (staging, or the fake's URL in tests).
pub const API_URL_ENV: &str = "LAUNCHPAD_API_URL";
/// Environment variable naming the experience every deployment is made of, instead of the
/// rule ([`crate::experience_for`]).
pub const EXPERIENCE_ID_ENV: &str = "LAUNCHPAD_EXPERIENCE_ID";

/// LaunchPad's production API.
pub const DEFAULT_BASE_URL: &str = "https://launchpad.api.nvidia.com";
/// LaunchPad's staging API (set it as the API URL to use it).
pub const STAGING_BASE_URL: &str = "https://stage.launchpad.api.nvidia.com";
/// The organization deployments are requested for unless configured.
pub const DEFAULT_ORG_NAME: &str = "gpucloud";
/// The requester's name LaunchPad records unless configured.
pub const DEFAULT_REQUESTER_NAME: &str = "gpucloud";
/// Environment variable with the requester's e-mail LaunchPad records on every deployment
/// (required to create: there is no address to invent).
pub const REQUESTER_EMAIL_ENV: &str = "LAUNCHPAD_REQUESTER_EMAIL";
/// Default time limit of one HTTP request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default first retry backoff.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(500);

const KEY_API_TOKEN: &str = "api_token";
const KEY_API_URL: &str = "api_url";
const KEY_EXPERIENCE_ID: &str = "experience_id";
const KEY_ORG_NAME: &str = "org_name";
const KEY_REQUESTER_NAME: &str = "requester_name";
const KEY_REQUESTER_EMAIL: &str = "requester_email";
const KEY_IP_ALLOWLIST: &str = "ip_allowlist";
const KEY_REQUEST_TIMEOUT_MS: &str = "request_timeout_ms";
const KEY_RETRY_BACKOFF_MS: &str = "retry_backoff_ms";

/// Every setting of [`LaunchpadConfig`], one row per field: the environment variables, the
/// config-file keys and the CLI's hints are all derived from this table.
pub const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        key: KEY_API_TOKEN,
        env: API_TOKEN_ENV,
        kind: SettingKind::Text,
        default: None,
        secret: true,
        description: "API token from LaunchPad (sent as Authorization: Token ...)",
    },
    SettingSpec::plain(
        KEY_API_URL,
        API_URL_ENV,
        SettingKind::Url,
        Some(DEFAULT_BASE_URL),
        "API root (staging: https://stage.launchpad.api.nvidia.com); plain http only for loopback",
    ),
    SettingSpec::plain(
        KEY_EXPERIENCE_ID,
        EXPERIENCE_ID_ENV,
        SettingKind::Text,
        None,
        "experience (UUID) every deployment is made of (unset: chosen per offer by the README's rule)",
    ),
    SettingSpec::plain(
        KEY_ORG_NAME,
        "LAUNCHPAD_ORG_NAME",
        SettingKind::Text,
        Some(DEFAULT_ORG_NAME),
        "organization the deployments are requested for",
    ),
    SettingSpec::plain(
        KEY_REQUESTER_NAME,
        "LAUNCHPAD_REQUESTER_NAME",
        SettingKind::Text,
        Some(DEFAULT_REQUESTER_NAME),
        "requester's name LaunchPad records on each deployment",
    ),
    SettingSpec::plain(
        KEY_REQUESTER_EMAIL,
        REQUESTER_EMAIL_ENV,
        SettingKind::Text,
        None,
        "requester's e-mail LaunchPad records on each deployment (required to create)",
    ),
    SettingSpec::plain(
        KEY_IP_ALLOWLIST,
        "LAUNCHPAD_IP_ALLOWLIST",
        SettingKind::Text,
        None,
        "addresses or CIDRs allowed to reach every deployment, comma-separated (unset: LaunchPad's default)",
    ),
    SettingSpec::plain(
        KEY_REQUEST_TIMEOUT_MS,
        "LAUNCHPAD_REQUEST_TIMEOUT_MS",
        SettingKind::Integer,
        Some("60000"),
        "time limit of one HTTP request in milliseconds",
    ),
    SettingSpec::plain(
        KEY_RETRY_BACKOFF_MS,
        "LAUNCHPAD_RETRY_BACKOFF_MS",
        SettingKind::Integer,
        Some("500"),
        "first retry backoff in milliseconds (doubling per retry)",
    ),
    SettingSpec::ref_id("LAUNCHPAD_REF_ID"),
];

/// How to reach one LaunchPad account.
///
/// Serialized with the token under `api_token` (the persisted credential format); `Debug`
/// never shows it. `ref_id` is the control plane's id of the credential and is not serialized.
#[derive(Clone, Serialize, Deserialize)]
pub struct LaunchpadConfig {
    /// The API token.
    #[serde(with = "gpucloud_http::secret_string")]
    pub api_token: SecretString,
    /// The API root; `None` uses [`DEFAULT_BASE_URL`]. Plain `http` is refused except for
    /// loopback addresses (tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The experience every deployment is made of; `None` chooses per offer
    /// ([`crate::experience_for`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experience_id: Option<String>,
    /// The organization; `None` uses [`DEFAULT_ORG_NAME`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_name: Option<String>,
    /// The requester's name; `None` uses [`DEFAULT_REQUESTER_NAME`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester_name: Option<String>,
    /// The requester's e-mail; `None`: creates are refused (reads work without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester_email: Option<String>,
    /// Addresses allowed to reach every deployment (`ip_allowlist`); empty: LaunchPad's
    /// default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_allowlist: Vec<Cidr>,
    /// The control plane's reference id of this credential; stored on every deployment it
    /// creates.
    #[serde(skip)]
    pub ref_id: String,
    /// Time limit of one HTTP request in milliseconds; `None` uses [`DEFAULT_REQUEST_TIMEOUT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    /// First retry backoff in milliseconds; `None` uses [`DEFAULT_RETRY_BACKOFF`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_backoff_ms: Option<u64>,
}

impl fmt::Debug for LaunchpadConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LaunchpadConfig")
            .field("api_token", &"[redacted]")
            .field("base_url", &self.base_url)
            .field("experience_id", &self.experience_id)
            .field("org_name", &self.org_name)
            .field("requester_name", &self.requester_name)
            .field("requester_email", &self.requester_email)
            .field("ip_allowlist", &self.ip_allowlist)
            .field("ref_id", &self.ref_id)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("retry_backoff_ms", &self.retry_backoff_ms)
            .finish()
    }
}

/// Reads `a,b,c` into CIDRs (a bare address is a /32 or /128); the error names `setting`.
fn parse_allowlist(setting: &str, text: &str) -> Result<Vec<Cidr>> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<Cidr>().map_err(|e| {
                CloudError::invalid(setting, format!("{item:?} is not an address or CIDR: {e}"))
            })
        })
        .collect()
}

impl LaunchpadConfig {
    /// A configuration with this API token and every default.
    pub fn new(api_token: impl Into<String>) -> Self {
        Self {
            api_token: SecretString::from(api_token.into()),
            base_url: None,
            experience_id: None,
            org_name: None,
            requester_name: None,
            requester_email: None,
            ip_allowlist: Vec::new(),
            ref_id: String::new(),
            request_timeout_ms: None,
            retry_backoff_ms: None,
        }
    }

    /// The configuration from the `LAUNCHPAD_*` variables; `None` when `LAUNCHPAD_API_TOKEN`
    /// is unset.
    pub fn from_env() -> Result<Option<Self>> {
        Self::from_settings(&ProviderSettings::from_env(SETTINGS))
    }

    /// The configuration from a provider settings table ([`SETTINGS`]: environment, config
    /// file); `None` when no token is set. Errors name the setting and where its value came
    /// from.
    pub fn from_settings(settings: &ProviderSettings) -> Result<Option<Self>> {
        let Some(token) = settings.text(KEY_API_TOKEN) else {
            return Ok(None);
        };
        let from = |key: &str| {
            settings
                .get(key)
                .map(|s| format!(" (from {})", s.source()))
                .unwrap_or_default()
        };
        let with_source = |e: CloudError| match e {
            CloudError::InvalidArgument { field, problem } => {
                let suffix = from(&field);
                CloudError::invalid(field, format!("{problem}{suffix}"))
            }
            other => other,
        };
        let text = |key: &str| settings.text(key).map(|v| v.trim().to_owned());
        let mut config = Self::new(token.trim());
        config.base_url = text(KEY_API_URL);
        config.experience_id = text(KEY_EXPERIENCE_ID);
        config.org_name = text(KEY_ORG_NAME);
        config.requester_name = text(KEY_REQUESTER_NAME);
        config.requester_email = text(KEY_REQUESTER_EMAIL);
        if let Some(list) = settings.text(KEY_IP_ALLOWLIST) {
            config.ip_allowlist = parse_allowlist(KEY_IP_ALLOWLIST, list).map_err(with_source)?;
        }
        config.ref_id = settings.ref_id();
        config.request_timeout_ms = settings.parse(KEY_REQUEST_TIMEOUT_MS)?;
        config.retry_backoff_ms = settings.parse(KEY_RETRY_BACKOFF_MS)?;
        config.validate().map_err(with_source)?;
        Ok(Some(config))
    }

    /// Sets the API root, e.g. a fake's `http://127.0.0.1:PORT`.
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Sets the experience every deployment is made of.
    pub fn with_experience_id(mut self, id: impl Into<String>) -> Self {
        self.experience_id = Some(id.into());
        self
    }

    /// Sets the requester LaunchPad records: name and e-mail.
    pub fn with_requester(mut self, name: impl Into<String>, email: impl Into<String>) -> Self {
        self.requester_name = Some(name.into());
        self.requester_email = Some(email.into());
        self
    }

    /// Sets the addresses allowed to reach every deployment.
    pub fn with_ip_allowlist(mut self, allowlist: Vec<Cidr>) -> Self {
        self.ip_allowlist = allowlist;
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

    /// The organization in use.
    pub fn effective_org_name(&self) -> &str {
        self.org_name.as_deref().unwrap_or(DEFAULT_ORG_NAME)
    }

    /// The requester's name in use.
    pub fn effective_requester_name(&self) -> &str {
        self.requester_name
            .as_deref()
            .unwrap_or(DEFAULT_REQUESTER_NAME)
    }

    /// The requester's e-mail, or the error a create gets without one (before any call).
    pub fn requester_email_for_create(&self) -> Result<&str> {
        self.requester_email.as_deref().ok_or_else(|| {
            CloudError::configuration(format!(
                "LaunchPad records the requester of every deployment: set {REQUESTER_EMAIL_ENV} \
                 (or `{KEY_REQUESTER_EMAIL}` in the config file) to your e-mail address"
            ))
        })
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

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
        if self.api_token.expose_secret().trim().is_empty() {
            return Err(CloudError::invalid(KEY_API_TOKEN, "must not be empty"));
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
        if let Some(id) = &self.experience_id
            && uuid::Uuid::parse_str(id).is_err()
        {
            return Err(CloudError::invalid(
                KEY_EXPERIENCE_ID,
                format!("{id:?} is not an experience id (a UUID)"),
            ));
        }
        for (key, value, limit) in [
            (KEY_ORG_NAME, self.effective_org_name(), 255),
            (KEY_REQUESTER_NAME, self.effective_requester_name(), 255),
            (
                KEY_REQUESTER_EMAIL,
                self.requester_email.as_deref().unwrap_or("-"),
                254,
            ),
        ] {
            if value.trim().is_empty() || value.len() > limit {
                return Err(CloudError::invalid(
                    key,
                    format!("must be 1 to {limit} characters"),
                ));
            }
        }
        // The description's `format: email`: a user, `@` and a domain of dotted labels.
        if let Some(email) = &self.requester_email
            && !email.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty()
                    && domain.contains('.')
                    && domain.split('.').all(|l| {
                        !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    })
                    && !user.contains(char::is_whitespace)
            })
        {
            return Err(CloudError::invalid(
                KEY_REQUESTER_EMAIL,
                format!("{email:?} is not an e-mail address"),
            ));
        }
        Ok(())
    }

    /// The token, for the HTTP client and the tenant id only.
    pub(crate) fn token(&self) -> &str {
        self.api_token.expose_secret()
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
    fn nothing_set_is_not_configured() {
        assert!(
            LaunchpadConfig::from_settings(&settings(&[]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_create_without_a_requester_email_is_refused_naming_the_variable() {
        let config = LaunchpadConfig::from_settings(&settings(&[("LAUNCHPAD_API_TOKEN", "t")]))
            .unwrap()
            .unwrap();
        let error = config.requester_email_for_create().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Configuration);
        assert!(error.to_string().contains(REQUESTER_EMAIL_ENV));
    }

    #[test]
    fn every_setting_is_read_and_the_token_never_shown() {
        let config = LaunchpadConfig::from_settings(&settings(&[
            ("LAUNCHPAD_API_TOKEN", "tok-secret-1"),
            ("LAUNCHPAD_API_URL", STAGING_BASE_URL),
            (
                "LAUNCHPAD_EXPERIENCE_ID",
                "43123766-35ec-4eb4-a5ba-3f2945228445",
            ),
            ("LAUNCHPAD_REQUESTER_EMAIL", "me@example.com"),
            ("LAUNCHPAD_IP_ALLOWLIST", "192.0.2.1, 198.51.100.0/24"),
            ("LAUNCHPAD_REF_ID", "cred-7"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(config.effective_base_url(), STAGING_BASE_URL);
        assert_eq!(
            config.requester_email_for_create().unwrap(),
            "me@example.com"
        );
        assert_eq!(config.effective_org_name(), DEFAULT_ORG_NAME);
        assert_eq!(config.ip_allowlist.len(), 2);
        assert_eq!(config.ref_id, "cred-7");
        assert!(!format!("{config:?}").contains("tok-secret"));
    }

    #[test]
    fn bad_values_name_their_setting_and_source() {
        for (pairs, field) in [
            (
                &[
                    ("LAUNCHPAD_API_TOKEN", "t"),
                    ("LAUNCHPAD_EXPERIENCE_ID", "minimal"),
                ][..],
                "experience_id",
            ),
            (
                &[
                    ("LAUNCHPAD_API_TOKEN", "t"),
                    ("LAUNCHPAD_IP_ALLOWLIST", "192.0.2.1,home"),
                ][..],
                "ip_allowlist",
            ),
            (
                &[
                    ("LAUNCHPAD_API_TOKEN", "t"),
                    ("LAUNCHPAD_REQUESTER_EMAIL", "nobody@localhost"),
                ][..],
                "requester_email",
            ),
            (
                &[
                    ("LAUNCHPAD_API_TOKEN", "t"),
                    ("LAUNCHPAD_API_URL", "http://launchpad.example.com"),
                ][..],
                "api_url",
            ),
            (
                &[
                    ("LAUNCHPAD_API_TOKEN", "t"),
                    ("LAUNCHPAD_REQUEST_TIMEOUT_MS", "soon"),
                ][..],
                "request_timeout_ms",
            ),
        ] {
            let pairs: &'static [(&'static str, &'static str)] =
                Box::leak(pairs.to_vec().into_boxed_slice());
            let error = LaunchpadConfig::from_settings(&settings(pairs)).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{field}");
            let text = error.to_string();
            assert!(
                text.contains(field) && text.contains("LAUNCHPAD_"),
                "{field}: {text}"
            );
            assert!(!text.contains("Token t"));
        }
    }
}
