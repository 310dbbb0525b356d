//! Configuration: the OAuth2 client id and secret (the secret redacted everywhere), the API
//! root, the currency prices are asked in, the SSH user the startup script installs the key
//! for, and timings.

use std::fmt;
use std::time::Duration;

use gpucloud_core::{CloudError, ProviderSettings, Result, SettingKind, SettingSpec};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Environment variable holding the OAuth2 client id (the credential's activation setting).
pub const CLIENT_ID_ENV: &str = "VERDA_CLIENT_ID";
/// Environment variable holding the OAuth2 client secret.
pub const CLIENT_SECRET_ENV: &str = "VERDA_CLIENT_SECRET";
/// Environment variable overriding the API root (the fake's URL in tests).
pub const API_URL_ENV: &str = "VERDA_API_URL";

/// Verda's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.verda.com/v1";
/// The user Verda's images log in as.
pub const DEFAULT_SSH_USER: &str = "root";
/// Default time limit of one HTTP request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default first retry backoff.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(500);

const KEY_CLIENT_ID: &str = "client_id";
const KEY_CLIENT_SECRET: &str = "client_secret";
const KEY_API_URL: &str = "api_url";
const KEY_CURRENCY: &str = "currency";
const KEY_SSH_USER: &str = "ssh_user";
const KEY_REQUEST_TIMEOUT_MS: &str = "request_timeout_ms";
const KEY_RETRY_BACKOFF_MS: &str = "retry_backoff_ms";

/// Every setting of [`VerdaConfig`], one row per field: the environment variables, the
/// config-file keys and the CLI's hints are all derived from this table.
pub const SETTINGS: &[SettingSpec] = &[
    SettingSpec::plain(
        KEY_CLIENT_ID,
        CLIENT_ID_ENV,
        SettingKind::Text,
        None,
        "OAuth2 client id from the Verda console (Keys > Cloud API credentials)",
    ),
    SettingSpec {
        key: KEY_CLIENT_SECRET,
        env: CLIENT_SECRET_ENV,
        kind: SettingKind::Text,
        default: None,
        secret: true,
        description: "OAuth2 client secret belonging to the client id",
    },
    SettingSpec::plain(
        KEY_API_URL,
        API_URL_ENV,
        SettingKind::Url,
        Some(DEFAULT_BASE_URL),
        "API root; plain http only for loopback (the fake)",
    ),
    SettingSpec::plain(
        KEY_CURRENCY,
        "VERDA_CURRENCY",
        SettingKind::Text,
        Some("usd"),
        "currency prices are asked in: usd or eur (the account's)",
    ),
    SettingSpec::plain(
        KEY_SSH_USER,
        "VERDA_SSH_USER",
        SettingKind::Text,
        Some(DEFAULT_SSH_USER),
        "the user the startup script installs the SSH key for",
    ),
    SettingSpec::plain(
        KEY_REQUEST_TIMEOUT_MS,
        "VERDA_REQUEST_TIMEOUT_MS",
        SettingKind::Integer,
        Some("30000"),
        "time limit of one HTTP request in milliseconds",
    ),
    SettingSpec::plain(
        KEY_RETRY_BACKOFF_MS,
        "VERDA_RETRY_BACKOFF_MS",
        SettingKind::Integer,
        Some("500"),
        "first retry backoff in milliseconds (doubling per retry)",
    ),
    SettingSpec::ref_id("VERDA_REF_ID"),
];

/// How to reach one Verda account.
///
/// Serialized with the secret under `client_secret` (the persisted credential format);
/// `Debug` never shows it. `ref_id` is the control plane's id of the credential and is not
/// serialized.
#[derive(Clone, Serialize, Deserialize)]
pub struct VerdaConfig {
    /// The OAuth2 client id. Not a secret; the tenant id is derived from it.
    pub client_id: String,
    /// The OAuth2 client secret.
    #[serde(with = "gpucloud_http::secret_string")]
    pub client_secret: SecretString,
    /// The API root; `None` uses [`DEFAULT_BASE_URL`]. Plain `http` is refused except for
    /// loopback addresses (tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// `usd` or `eur`; `None` is `usd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The SSH user the startup script installs the key for; `None` uses
    /// [`DEFAULT_SSH_USER`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_user: Option<String>,
    /// The control plane's reference id of this credential; stored on every instance it
    /// creates.
    #[serde(skip)]
    pub ref_id: String,
    /// Time limit of one HTTP request in milliseconds; `None` uses
    /// [`DEFAULT_REQUEST_TIMEOUT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    /// First retry backoff in milliseconds; `None` uses [`DEFAULT_RETRY_BACKOFF`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_backoff_ms: Option<u64>,
}

impl fmt::Debug for VerdaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerdaConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("base_url", &self.base_url)
            .field("currency", &self.currency)
            .field("ssh_user", &self.ssh_user)
            .field("ref_id", &self.ref_id)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("retry_backoff_ms", &self.retry_backoff_ms)
            .finish()
    }
}

impl VerdaConfig {
    /// A configuration with this client id and secret and every default.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            base_url: None,
            currency: None,
            ssh_user: None,
            ref_id: String::new(),
            request_timeout_ms: None,
            retry_backoff_ms: None,
        }
    }

    /// The configuration from the `VERDA_*` variables; `None` when `VERDA_CLIENT_ID` is unset.
    pub fn from_env() -> Result<Option<Self>> {
        Self::from_settings(&ProviderSettings::from_env(SETTINGS))
    }

    /// The configuration from a provider settings table ([`SETTINGS`]: environment, config
    /// file); `None` when no client id is set. A client id without its secret, or a value that
    /// does not parse, is an `InvalidArgument` naming the setting and where its value came
    /// from.
    pub fn from_settings(settings: &ProviderSettings) -> Result<Option<Self>> {
        let Some(client_id) = settings.text(KEY_CLIENT_ID) else {
            return Ok(None);
        };
        let from = |key: &str| {
            settings
                .get(key)
                .map(|s| format!(" (from {})", s.source()))
                .unwrap_or_default()
        };
        let Some(secret) = settings.text(KEY_CLIENT_SECRET) else {
            return Err(CloudError::invalid(
                KEY_CLIENT_SECRET,
                format!(
                    "must be set ({CLIENT_SECRET_ENV}) with the client id{}",
                    from(KEY_CLIENT_ID)
                ),
            ));
        };
        let mut config = Self::new(client_id.trim(), secret.trim());
        config.base_url = settings.text(KEY_API_URL).map(|u| u.trim().to_owned());
        config.currency = settings
            .text(KEY_CURRENCY)
            .map(|c| c.trim().to_ascii_lowercase());
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

    /// Sets the API root.
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Sets the currency prices are asked in (`usd` or `eur`).
    pub fn with_currency(mut self, currency: impl Into<String>) -> Self {
        self.currency = Some(currency.into());
        self
    }

    /// Sets the SSH user the startup script installs the key for.
    pub fn with_ssh_user(mut self, user: impl Into<String>) -> Self {
        self.ssh_user = Some(user.into());
        self
    }

    /// Sets the credential's reference id.
    pub fn with_ref_id(mut self, ref_id: impl Into<String>) -> Self {
        self.ref_id = ref_id.into();
        self
    }

    /// Sets the time limit of one HTTP request.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout_ms = Some(millis(timeout));
        self
    }

    /// Sets the first retry backoff.
    pub fn with_retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff_ms = Some(millis(backoff));
        self
    }

    /// The API root in use.
    pub fn effective_base_url(&self) -> &str {
        self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL)
    }

    /// The currency in use.
    pub fn effective_currency(&self) -> &str {
        self.currency.as_deref().unwrap_or("usd")
    }

    /// The SSH user in use.
    pub fn effective_ssh_user(&self) -> &str {
        self.ssh_user.as_deref().unwrap_or(DEFAULT_SSH_USER)
    }

    /// The request time limit in use.
    pub fn effective_request_timeout(&self) -> Duration {
        self.request_timeout_ms
            .map_or(DEFAULT_REQUEST_TIMEOUT, Duration::from_millis)
    }

    /// The first retry backoff in use.
    pub fn effective_retry_backoff(&self) -> Duration {
        self.retry_backoff_ms
            .map_or(DEFAULT_RETRY_BACKOFF, Duration::from_millis)
    }

    /// Checks every field; the error names the first wrong one.
    pub fn validate(&self) -> Result<()> {
        if self.client_id.trim().is_empty() {
            return Err(CloudError::invalid(KEY_CLIENT_ID, "must not be empty"));
        }
        if self.client_secret.expose_secret().trim().is_empty() {
            return Err(CloudError::invalid(KEY_CLIENT_SECRET, "must not be empty"));
        }
        if self.request_timeout_ms == Some(0) {
            return Err(CloudError::invalid(
                KEY_REQUEST_TIMEOUT_MS,
                "must be at least 1",
            ));
        }
        if !["usd", "eur"].contains(&self.effective_currency()) {
            return Err(CloudError::invalid(
                KEY_CURRENCY,
                format!("{:?} is not one of: usd, eur", self.effective_currency()),
            ));
        }
        gpucloud_http::parse_base_url(self.effective_base_url()).map_err(|e| {
            CloudError::invalid(KEY_API_URL, format!("{:?}: {e}", self.effective_base_url()))
        })?;
        gpucloud_core::validate::check_posix_user(KEY_SSH_USER, self.effective_ssh_user())?;
        Ok(())
    }

    /// The secret, for the token request only.
    pub(crate) fn secret(&self) -> &str {
        self.client_secret.expose_secret()
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
    fn debug_redacts_the_secret_and_serde_keeps_it() {
        let config = VerdaConfig::new("cid", "vd-secret-123").with_ref_id("r");
        let text = format!("{config:?}");
        assert!(
            !text.contains("vd-secret") && text.contains("cid"),
            "{text}"
        );
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["client_secret"], "vd-secret-123");
        assert!(json.get("ref_id").is_none());
    }

    #[test]
    fn settings_need_both_halves_and_name_what_is_wrong() {
        assert!(
            VerdaConfig::from_settings(&settings(&[]))
                .unwrap()
                .is_none()
        );
        let missing = VerdaConfig::from_settings(&settings(&[(CLIENT_ID_ENV, "cid")])).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::InvalidArgument);
        assert!(missing.to_string().contains("client_secret"), "{missing}");
        let bad = VerdaConfig::from_settings(&settings(&[
            (CLIENT_ID_ENV, "cid"),
            (CLIENT_SECRET_ENV, "s3cret"),
            ("VERDA_REQUEST_TIMEOUT_MS", "soon"),
        ]))
        .unwrap_err();
        let text = bad.to_string();
        assert!(
            text.contains("VERDA_REQUEST_TIMEOUT_MS") && !text.contains("s3cret"),
            "{text}"
        );
        let currency = VerdaConfig::from_settings(&settings(&[
            (CLIENT_ID_ENV, "cid"),
            (CLIENT_SECRET_ENV, "s3cret"),
            ("VERDA_CURRENCY", "gbp"),
        ]))
        .unwrap_err();
        assert!(
            currency.to_string().contains("VERDA_CURRENCY"),
            "{currency}"
        );
        let plain_http = VerdaConfig::from_settings(&settings(&[
            (CLIENT_ID_ENV, "cid"),
            (CLIENT_SECRET_ENV, "s3cret"),
            (API_URL_ENV, "http://api.example.com/v1"),
        ]));
        assert!(plain_http.is_err(), "plain http only to loopback");
        let good = VerdaConfig::from_settings(&settings(&[
            (CLIENT_ID_ENV, " cid "),
            (CLIENT_SECRET_ENV, "s3cret"),
            ("VERDA_CURRENCY", "EUR"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            (good.client_id.as_str(), good.effective_currency()),
            ("cid", "eur")
        );
        assert_eq!(good.ref_id, "gpucloud-default");
        assert_eq!(good.effective_ssh_user(), "root");
    }
}
