//! Configuration: the API key (a secret), the base URL, the reference id and rate limits, and
//! the settings table they are read from.

use std::time::Duration;

use gpucloud_core::{CloudError, ProviderSettings, Result, SettingKind, SettingSpec};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Environment variable holding the API key.
pub const API_KEY_ENV: &str = "LAMBDA_API_KEY";
/// Environment variable overriding the base URL (the server root, without `/api/v1`).
pub const API_URL_ENV: &str = "LAMBDA_API_URL";
/// Lambda's production server root.
pub const DEFAULT_BASE_URL: &str = "https://cloud.lambda.ai";
/// Lambda's documented general limit: one request per second.
pub const DEFAULT_REQUESTS_PER_SECOND: f64 = 1.0;
/// Lambda's documented launch limit: one launch per 12 seconds.
pub const DEFAULT_LAUNCH_INTERVAL: Duration = Duration::from_secs(12);
/// Default time limit of one HTTP request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default age below which an unreferenced ruleset of this credential is not swept: it may
/// belong to a create still on its way to the launch (in another process).
pub const DEFAULT_ORPHAN_RULESET_GRACE: Duration = Duration::from_secs(15 * 60);

const KEY_API_KEY: &str = "api_key";
const KEY_API_URL: &str = "api_url";
const KEY_REQUESTS_PER_SECOND: &str = "requests_per_second";
const KEY_LAUNCH_INTERVAL_MS: &str = "launch_interval_ms";
const KEY_REQUEST_TIMEOUT_MS: &str = "request_timeout_ms";
const KEY_RETRY_BACKOFF_MS: &str = "retry_backoff_ms";
const KEY_ORPHAN_RULESET_GRACE_SECS: &str = "orphan_ruleset_grace_secs";

/// Every setting of [`LambdaConfig`], one row per field: the environment variables, the
/// config-file keys and the CLI's hints are all derived from this table.
pub const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        key: KEY_API_KEY,
        env: API_KEY_ENV,
        kind: SettingKind::Text,
        default: None,
        secret: true,
        description: "API key from the Lambda Cloud dashboard",
    },
    SettingSpec {
        key: KEY_API_URL,
        env: API_URL_ENV,
        kind: SettingKind::Url,
        default: Some(DEFAULT_BASE_URL),
        secret: false,
        description: "API server root; plain http only for loopback (e.g. the fake)",
    },
    SettingSpec {
        key: KEY_REQUESTS_PER_SECOND,
        env: "LAMBDA_REQUESTS_PER_SECOND",
        kind: SettingKind::Number,
        default: Some("1"),
        secret: false,
        description: "client-side limit on API requests per second (Lambda's published limit)",
    },
    SettingSpec {
        key: KEY_LAUNCH_INTERVAL_MS,
        env: "LAMBDA_LAUNCH_INTERVAL_MS",
        kind: SettingKind::Integer,
        default: Some("12000"),
        secret: false,
        description: "minimum milliseconds between launches (Lambda's published limit)",
    },
    SettingSpec {
        key: KEY_REQUEST_TIMEOUT_MS,
        env: "LAMBDA_REQUEST_TIMEOUT_MS",
        kind: SettingKind::Integer,
        default: Some("60000"),
        secret: false,
        description: "time limit of one HTTP request in milliseconds",
    },
    SettingSpec {
        key: KEY_RETRY_BACKOFF_MS,
        env: "LAMBDA_RETRY_BACKOFF_MS",
        kind: SettingKind::Integer,
        default: Some("500"),
        secret: false,
        description: "first retry backoff in milliseconds (doubling per retry)",
    },
    SettingSpec {
        key: KEY_ORPHAN_RULESET_GRACE_SECS,
        env: "LAMBDA_ORPHAN_RULESET_GRACE_SECS",
        kind: SettingKind::Integer,
        default: Some("900"),
        secret: false,
        description: "age in seconds before an orphaned gpucloud firewall ruleset is swept",
    },
    SettingSpec::ref_id("LAMBDA_REF_ID"),
];

/// How to reach one Lambda Cloud account.
///
/// Serialized with the key under `api_key` (the persisted credential format); `Debug` never
/// shows the key. `ref_id` is the control plane's id of the credential and is not serialized.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LambdaConfig {
    /// The API key (sent as `Authorization: Bearer <key>`).
    #[serde(with = "gpucloud_http::secret_string")]
    pub api_key: SecretString,
    /// Server root, e.g. `https://cloud.lambda.ai`; `None` uses [`DEFAULT_BASE_URL`]. Plain
    /// `http` is refused except for loopback addresses (tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The control plane's reference id of this credential; stored on every instance it creates.
    #[serde(skip)]
    pub ref_id: String,
    /// General request budget per second; `None` uses [`DEFAULT_REQUESTS_PER_SECOND`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<f64>,
    /// Minimum interval between launches in milliseconds; `None` uses [`DEFAULT_LAUNCH_INTERVAL`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_interval_ms: Option<u64>,
    /// Time limit of one HTTP request in milliseconds; `None` uses [`DEFAULT_REQUEST_TIMEOUT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    /// First retry backoff in milliseconds (doubling per retry); `None` uses 500.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_backoff_ms: Option<u64>,
    /// Minimum age in seconds (by Lambda's `created`) of an unreferenced ruleset of this
    /// credential before the orphan sweep deletes it; `None` uses
    /// [`DEFAULT_ORPHAN_RULESET_GRACE`]. With a non-zero grace, rulesets without a readable
    /// `created` are never swept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphan_ruleset_grace_secs: Option<u64>,
}

impl LambdaConfig {
    /// A configuration with this API key and every default.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: SecretString::from(api_key.into()),
            base_url: None,
            ref_id: String::new(),
            requests_per_second: None,
            launch_interval_ms: None,
            request_timeout_ms: None,
            retry_backoff_ms: None,
            orphan_ruleset_grace_secs: None,
        }
    }

    /// The configuration from the environment (every row of [`SETTINGS`]); `None` when
    /// `LAMBDA_API_KEY` is unset or empty.
    pub fn from_env() -> Result<Option<Self>> {
        Self::from_settings(&ProviderSettings::from_env(SETTINGS))
    }

    /// [`Self::from_env`] over any variable lookup (for tests and embedding).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        Self::from_settings(&ProviderSettings::from_lookup(SETTINGS, lookup))
    }

    /// The configuration from settings read against [`SETTINGS`] (by `from_env`, or by the
    /// facade from the environment and the config file): `None` when `api_key` is not set; an
    /// error naming the setting and its source when a value does not parse or is out of range.
    pub fn from_settings(settings: &ProviderSettings) -> Result<Option<Self>> {
        let Some(key) = settings.text(KEY_API_KEY) else {
            return Ok(None);
        };
        let config = Self {
            api_key: SecretString::from(key.to_owned()),
            base_url: settings.text(KEY_API_URL).map(str::to_owned),
            ref_id: settings.ref_id(),
            requests_per_second: settings.parse(KEY_REQUESTS_PER_SECOND)?,
            launch_interval_ms: settings.parse(KEY_LAUNCH_INTERVAL_MS)?,
            request_timeout_ms: settings.parse(KEY_REQUEST_TIMEOUT_MS)?,
            retry_backoff_ms: settings.parse(KEY_RETRY_BACKOFF_MS)?,
            orphan_ruleset_grace_secs: settings.parse(KEY_ORPHAN_RULESET_GRACE_SECS)?,
        };
        config.validate().map_err(|e| match e {
            CloudError::InvalidArgument { field, problem } => {
                let from = settings
                    .get(&field)
                    .map(|s| format!(" (from {})", s.source()))
                    .unwrap_or_default();
                CloudError::invalid(field, format!("{problem}{from}"))
            }
            other => other,
        })?;
        Ok(Some(config))
    }

    /// Sets the server root (e.g. a fake's `http://127.0.0.1:PORT`).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// Sets the control plane's reference id of this credential.
    pub fn with_ref_id(mut self, ref_id: impl Into<String>) -> Self {
        self.ref_id = ref_id.into();
        self
    }

    /// Sets the general request rate and the minimum interval between launches.
    pub fn with_rate_limits(mut self, requests_per_second: f64, launch_interval: Duration) -> Self {
        self.requests_per_second = Some(requests_per_second);
        self.launch_interval_ms =
            Some(u64::try_from(launch_interval.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Sets the time limit of one HTTP request.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout_ms = Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Sets the first retry backoff (it doubles per retry).
    pub fn with_retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff_ms = Some(u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Sets the minimum age of an unreferenced ruleset before the orphan sweep deletes it
    /// (whole seconds; zero sweeps at once, for tests and single-process use).
    pub fn with_orphan_ruleset_grace(mut self, grace: Duration) -> Self {
        self.orphan_ruleset_grace_secs = Some(grace.as_secs());
        self
    }

    /// The orphan-ruleset grace in use.
    pub fn effective_orphan_ruleset_grace(&self) -> Duration {
        self.orphan_ruleset_grace_secs
            .map_or(DEFAULT_ORPHAN_RULESET_GRACE, Duration::from_secs)
    }

    /// The server root in use, without a trailing slash.
    pub fn effective_base_url(&self) -> &str {
        self.base_url
            .as_deref()
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/')
    }

    /// The general request rate in use.
    pub fn effective_requests_per_second(&self) -> f64 {
        self.requests_per_second
            .unwrap_or(DEFAULT_REQUESTS_PER_SECOND)
    }

    /// The launch interval in use.
    pub fn effective_launch_interval(&self) -> Duration {
        self.launch_interval_ms
            .map_or(DEFAULT_LAUNCH_INTERVAL, Duration::from_millis)
    }

    /// The request timeout in use.
    pub fn effective_request_timeout(&self) -> Duration {
        self.request_timeout_ms
            .map_or(DEFAULT_REQUEST_TIMEOUT, Duration::from_millis)
    }

    /// Checks the key and the numbers; the URL is checked when the HTTP client is built.
    pub fn validate(&self) -> Result<()> {
        if self.api_key.expose_secret().trim().is_empty() {
            return Err(CloudError::invalid("api_key", "must not be empty"));
        }
        if self.api_key.expose_secret().chars().any(char::is_control) {
            return Err(CloudError::invalid(
                "api_key",
                "must not contain control characters",
            ));
        }
        if let Some(rps) = self.requests_per_second
            && !(rps.is_finite() && rps > 0.0)
        {
            return Err(CloudError::invalid(
                "requests_per_second",
                format!("must be a positive number, got {rps}"),
            ));
        }
        if self.request_timeout_ms == Some(0) {
            return Err(CloudError::invalid(
                "request_timeout_ms",
                "must be positive",
            ));
        }
        Ok(())
    }

    /// The API key, for building the `Authorization` header.
    pub(crate) fn key(&self) -> &str {
        self.api_key.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_key() {
        let config = LambdaConfig::new("secret_abc123").with_ref_id("cred-1");
        let debug = format!("{config:?}");
        assert!(!debug.contains("secret_abc123"), "{debug}");
        assert!(debug.contains("REDACTED") && debug.contains("cred-1"));
    }

    #[test]
    fn serde_uses_api_key_and_skips_ref_id() {
        let config = LambdaConfig::new("k1")
            .with_base_url("http://127.0.0.1:9")
            .with_ref_id("r");
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["api_key"], "k1");
        assert_eq!(json["base_url"], "http://127.0.0.1:9");
        assert!(json.get("ref_id").is_none());
        let back: LambdaConfig =
            serde_json::from_value(serde_json::json!({"api_key": "k2", "unknown": 1})).unwrap();
        assert_eq!(back.key(), "k2");
        assert_eq!(back.base_url, None);
        assert_eq!(back.ref_id, "");
    }

    #[test]
    fn from_lookup_reads_key_and_url() {
        let none = LambdaConfig::from_lookup(|_| None).unwrap();
        assert!(none.is_none());
        let config = LambdaConfig::from_lookup(|name| match name {
            API_KEY_ENV => Some(" key ".into()),
            API_URL_ENV => Some("http://127.0.0.1:1/".into()),
            _ => None,
        })
        .unwrap()
        .unwrap();
        assert_eq!(config.key(), "key");
        assert_eq!(config.effective_base_url(), "http://127.0.0.1:1");
        assert_eq!(config.ref_id, "gpucloud-default");
        let empty =
            LambdaConfig::from_lookup(|name| (name == API_KEY_ENV).then(|| "  ".to_owned()));
        assert!(matches!(empty, Ok(None)), "a blank key counts as unset");
    }

    /// A value for every row of the table, distinct from the defaults.
    fn every_setting(name: &str) -> Option<String> {
        let spec = SETTINGS.iter().find(|s| s.env == name)?;
        Some(
            match spec.key {
                KEY_API_KEY => "k",
                KEY_API_URL => "http://127.0.0.1:7",
                KEY_REQUESTS_PER_SECOND => "2.5",
                KEY_LAUNCH_INTERVAL_MS => "11",
                KEY_REQUEST_TIMEOUT_MS => "12",
                KEY_RETRY_BACKOFF_MS => "13",
                KEY_ORPHAN_RULESET_GRACE_SECS => "14",
                "ref_id" => "cred-9",
                other => panic!("no test value for {other}"),
            }
            .to_owned(),
        )
    }

    #[test]
    fn every_field_is_read_from_the_environment() {
        let config = LambdaConfig::from_lookup(every_setting).unwrap().unwrap();
        assert_eq!(config.key(), "k");
        assert_eq!(config.base_url.as_deref(), Some("http://127.0.0.1:7"));
        assert_eq!(config.requests_per_second, Some(2.5));
        assert_eq!(config.launch_interval_ms, Some(11));
        assert_eq!(config.request_timeout_ms, Some(12));
        assert_eq!(config.retry_backoff_ms, Some(13));
        assert_eq!(config.orphan_ruleset_grace_secs, Some(14));
        assert_eq!(config.ref_id, "cred-9");
    }

    #[test]
    fn bad_values_are_refused_by_setting_and_variable() {
        for spec in SETTINGS
            .iter()
            .filter(|s| matches!(s.kind, SettingKind::Integer | SettingKind::Number))
        {
            for bad in ["soon", "-1"] {
                let error = LambdaConfig::from_lookup(|name| {
                    if name == spec.env {
                        Some(bad.to_owned())
                    } else {
                        every_setting(name)
                    }
                })
                .unwrap_err();
                assert!(
                    matches!(&error, CloudError::InvalidArgument { field, problem }
                        if field == spec.key && problem.contains(spec.env)),
                    "{}={bad}: {error}",
                    spec.env
                );
            }
        }
        let error = LambdaConfig::from_lookup(|name| match name {
            "LAMBDA_REQUEST_TIMEOUT_MS" => Some("0".into()),
            other => every_setting(other),
        })
        .unwrap_err();
        assert!(
            matches!(&error, CloudError::InvalidArgument { field, problem }
                if field == KEY_REQUEST_TIMEOUT_MS && problem.contains("LAMBDA_REQUEST_TIMEOUT_MS")),
            "{error}"
        );
    }

    #[test]
    fn defaults_follow_lambda_limits() {
        let config = LambdaConfig::new("k");
        assert_eq!(config.effective_base_url(), DEFAULT_BASE_URL);
        assert!((config.effective_requests_per_second() - 1.0).abs() < f64::EPSILON);
        assert_eq!(config.effective_launch_interval(), Duration::from_secs(12));
        let fast = config.with_rate_limits(1000.0, Duration::from_millis(5));
        assert_eq!(fast.effective_launch_interval(), Duration::from_millis(5));
    }

    #[test]
    fn validate_names_the_field() {
        let err = LambdaConfig::new(" ").validate().unwrap_err();
        assert!(matches!(err, CloudError::InvalidArgument { ref field, .. } if field == "api_key"));
        let mut config = LambdaConfig::new("k");
        config.requests_per_second = Some(0.0);
        let err = config.validate().unwrap_err();
        assert!(
            matches!(err, CloudError::InvalidArgument { ref field, .. } if field == "requests_per_second")
        );
    }
}
