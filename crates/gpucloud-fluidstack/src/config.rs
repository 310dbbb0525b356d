//! Configuration: the API key (a secret), the project, the regions and their URLs, the SSH
//! user, an optional price table, and timings.

use std::collections::BTreeMap;
use std::time::Duration;

use gpucloud_core::{CloudError, Price, ProviderSettings, Result, SettingKind, SettingSpec};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Environment variable holding the API key.
pub const API_KEY_ENV: &str = "FLUIDSTACK_API_KEY";
/// Environment variable naming the project: its id (a UUID, as the fake exports it) or its
/// name.
pub const PROJECT_ENV: &str = "FLUIDSTACK_PROJECT_ID";
/// Environment variable listing the regions, comma-separated (e.g. `us-west-1,eu-north-1`).
pub const REGIONS_ENV: &str = "FLUIDSTACK_REGIONS";
/// Environment variable overriding the URL template (`{region}` is replaced by the region).
pub const API_URL_ENV: &str = "FLUIDSTACK_API_URL";
/// Environment variable giving per-region URLs: `region=url,region=url`.
pub const REGION_URLS_ENV: &str = "FLUIDSTACK_REGION_URLS";
/// Environment variable overriding the SSH user of the images.
pub const SSH_USER_ENV: &str = "FLUIDSTACK_SSH_USER";
/// Environment variable giving hourly USD prices per type: `type=2.49,type=23.92`.
pub const PRICES_ENV: &str = "FLUIDSTACK_PRICES";

/// Fluidstack's production URL; `{region}` is replaced by the region name.
pub const DEFAULT_URL_TEMPLATE: &str = "https://{region}.atlas.fluidstack.io/api/v1alpha1";
/// The user of Fluidstack's default image (`image://ubuntu22.04`).
pub const DEFAULT_SSH_USER: &str = "ubuntu";
/// Default time limit of one HTTP request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time a create waits for a new instance to leave `creating`, so that `out-of-stock`
/// is reported as an error of the create rather than discovered later.
pub const DEFAULT_CAPACITY_WAIT: Duration = Duration::from_secs(30);
/// Default interval between reads while a create waits.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);

const KEY_API_KEY: &str = "api_key";
const KEY_PROJECT: &str = "project";
const KEY_REGIONS: &str = "regions";
const KEY_API_URL: &str = "api_url";
const KEY_REGION_URLS: &str = "region_urls";
const KEY_SSH_USER: &str = "ssh_user";
const KEY_PRICES: &str = "prices";
const KEY_REQUEST_TIMEOUT_MS: &str = "request_timeout_ms";
const KEY_RETRY_BACKOFF_MS: &str = "retry_backoff_ms";
const KEY_CAPACITY_WAIT_MS: &str = "capacity_wait_ms";
const KEY_POLL_INTERVAL_MS: &str = "poll_interval_ms";

/// Every setting of [`FluidstackConfig`], one row per field: the environment variables, the
/// config-file keys and the CLI's hints are all derived from this table.
pub const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        key: KEY_API_KEY,
        env: API_KEY_ENV,
        kind: SettingKind::Text,
        default: None,
        secret: true,
        description: "API key from the Fluidstack console",
    },
    SettingSpec::plain(
        KEY_PROJECT,
        PROJECT_ENV,
        SettingKind::Text,
        None,
        "the project: its id (a UUID) or its name",
    ),
    SettingSpec::plain(
        KEY_REGIONS,
        REGIONS_ENV,
        SettingKind::Text,
        None,
        "comma-separated regions (Fluidstack publishes no list)",
    ),
    SettingSpec::plain(
        KEY_API_URL,
        API_URL_ENV,
        SettingKind::Url,
        Some(DEFAULT_URL_TEMPLATE),
        "API URL template; {region} is replaced by the region",
    ),
    SettingSpec::plain(
        KEY_REGION_URLS,
        REGION_URLS_ENV,
        SettingKind::Text,
        None,
        "per-region API URLs: region=url,region=url",
    ),
    SettingSpec::plain(
        KEY_SSH_USER,
        SSH_USER_ENV,
        SettingKind::Text,
        Some(DEFAULT_SSH_USER),
        "SSH user of the images",
    ),
    SettingSpec::plain(
        KEY_PRICES,
        PRICES_ENV,
        SettingKind::Text,
        None,
        "hourly USD prices per type: type=2.49,type=23.92 (the API publishes none)",
    ),
    SettingSpec::plain(
        KEY_REQUEST_TIMEOUT_MS,
        "FLUIDSTACK_REQUEST_TIMEOUT_MS",
        SettingKind::Integer,
        Some("60000"),
        "time limit of one HTTP request in milliseconds",
    ),
    SettingSpec::plain(
        KEY_RETRY_BACKOFF_MS,
        "FLUIDSTACK_RETRY_BACKOFF_MS",
        SettingKind::Integer,
        Some("500"),
        "first retry backoff in milliseconds (doubling per retry)",
    ),
    SettingSpec::plain(
        KEY_CAPACITY_WAIT_MS,
        "FLUIDSTACK_CAPACITY_WAIT_MS",
        SettingKind::Integer,
        Some("30000"),
        "milliseconds a create waits for `creating` to end (out-of-stock is reported then)",
    ),
    SettingSpec::plain(
        KEY_POLL_INTERVAL_MS,
        "FLUIDSTACK_POLL_INTERVAL_MS",
        SettingKind::Integer,
        Some("2000"),
        "milliseconds between reads while a create waits",
    ),
    SettingSpec::ref_id("FLUIDSTACK_REF_ID"),
];

/// Which project the credential works in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectRef {
    /// By id, sent as `X-PROJECT-ID` as is.
    Id(uuid::Uuid),
    /// By name, resolved through `GET /projects` (once per region).
    Name(String),
}

impl ProjectRef {
    /// A UUID is an id; anything else a name.
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        match uuid::Uuid::parse_str(text) {
            Ok(id) => Self::Id(id),
            Err(_) => Self::Name(text.to_owned()),
        }
    }
}

/// How to reach one Fluidstack account.
///
/// Serialized with the key under `api_key` (the persisted credential format); `Debug` never
/// shows the key. `ref_id` is the control plane's id of the credential and is not serialized.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FluidstackConfig {
    /// The API key (sent as `Authorization: Bearer <key>`).
    #[serde(with = "gpucloud_http::secret_string")]
    pub api_key: SecretString,
    /// The project: its id (a UUID) or its name.
    pub project: String,
    /// The regions to use. Fluidstack publishes no list of regions, so none is assumed.
    #[serde(default)]
    pub regions: Vec<String>,
    /// URL template with `{region}`; `None` uses [`DEFAULT_URL_TEMPLATE`]. Plain `http` is
    /// refused except for loopback addresses (tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Per-region URLs, taking precedence over `base_url`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub region_urls: BTreeMap<String, String>,
    /// The SSH user of the images; `None` uses [`DEFAULT_SSH_USER`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_user: Option<String>,
    /// Hourly prices in USD per instance type (Fluidstack's API publishes none): a type absent
    /// here has an unknown price.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<String, String>,
    /// The control plane's reference id of this credential; stored on every instance it creates.
    #[serde(skip)]
    pub ref_id: String,
    /// Time limit of one HTTP request in milliseconds; `None` uses [`DEFAULT_REQUEST_TIMEOUT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    /// First retry backoff in milliseconds (doubling per retry); `None` uses 500.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_backoff_ms: Option<u64>,
    /// How long a create waits for `creating` to end, in milliseconds; `None` uses
    /// [`DEFAULT_CAPACITY_WAIT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_wait_ms: Option<u64>,
    /// Interval between reads while a create waits, in milliseconds; `None` uses
    /// [`DEFAULT_POLL_INTERVAL`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_ms: Option<u64>,
}

/// Splits `a=b,c=d` into pairs; the error names `setting`.
fn parse_pairs(setting: &str, text: &str) -> Result<BTreeMap<String, String>> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                .ok_or_else(|| {
                    CloudError::configuration(format!(
                        "{setting}: {item:?} is not of the form name=value"
                    ))
                })
        })
        .collect()
}

impl FluidstackConfig {
    /// A configuration with this API key and project (id or name) and every default. Regions
    /// must still be given ([`Self::with_regions`]).
    pub fn new(api_key: impl Into<String>, project: impl Into<String>) -> Self {
        Self {
            api_key: SecretString::from(api_key.into()),
            project: project.into(),
            regions: Vec::new(),
            base_url: None,
            region_urls: BTreeMap::new(),
            ssh_user: None,
            prices: BTreeMap::new(),
            ref_id: String::new(),
            request_timeout_ms: None,
            retry_backoff_ms: None,
            capacity_wait_ms: None,
            poll_interval_ms: None,
        }
    }

    /// The configuration from the `FLUIDSTACK_*` variables; `None` when `FLUIDSTACK_API_KEY`
    /// is unset.
    pub fn from_env() -> Result<Option<Self>> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Self::from_env`] over any variable lookup (for tests and embedding).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let Some(key) = lookup(API_KEY_ENV) else {
            return Ok(None);
        };
        if key.trim().is_empty() {
            return Err(CloudError::configuration(format!(
                "{API_KEY_ENV} is set but empty"
            )));
        }
        let project = set(PROJECT_ENV).ok_or_else(|| {
            CloudError::configuration(format!(
                "{PROJECT_ENV} is not set: give the Fluidstack project's id or name"
            ))
        })?;
        let mut config = Self::new(key.trim(), project.trim());
        if let Some(regions) = set(REGIONS_ENV) {
            config.regions = regions
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect();
        }
        config.base_url = set(API_URL_ENV).map(|u| u.trim().to_owned());
        if let Some(urls) = set(REGION_URLS_ENV) {
            config.region_urls = parse_pairs(REGION_URLS_ENV, &urls)?;
        }
        config.ssh_user = set(SSH_USER_ENV).map(|u| u.trim().to_owned());
        if let Some(prices) = set(PRICES_ENV) {
            config.prices = parse_pairs(PRICES_ENV, &prices)?;
        }
        Ok(Some(config))
    }

    /// The configuration from a provider settings table ([`SETTINGS`]: environment, config
    /// file); `None` when no API key is set. Errors name the field and where its value came from.
    pub fn from_settings(settings: &ProviderSettings) -> Result<Option<Self>> {
        let Some(key) = settings.text(KEY_API_KEY) else {
            return Ok(None);
        };
        let mut config = Self::new(key, settings.text(KEY_PROJECT).unwrap_or(""));
        if let Some(regions) = settings.text(KEY_REGIONS) {
            config.regions = regions
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect();
        }
        config.base_url = settings.text(KEY_API_URL).map(str::to_owned);
        if let Some(urls) = settings.text(KEY_REGION_URLS) {
            config.region_urls = parse_pairs(KEY_REGION_URLS, urls)?;
        }
        config.ssh_user = settings.text(KEY_SSH_USER).map(str::to_owned);
        if let Some(prices) = settings.text(KEY_PRICES) {
            config.prices = parse_pairs(KEY_PRICES, prices)?;
        }
        config.ref_id = settings.ref_id();
        config.request_timeout_ms = settings.parse(KEY_REQUEST_TIMEOUT_MS)?;
        config.retry_backoff_ms = settings.parse(KEY_RETRY_BACKOFF_MS)?;
        config.capacity_wait_ms = settings.parse(KEY_CAPACITY_WAIT_MS)?;
        config.poll_interval_ms = settings.parse(KEY_POLL_INTERVAL_MS)?;
        config.validate().map_err(|e| match e {
            CloudError::InvalidArgument { field, problem } => {
                let from = settings
                    .get(field.split('[').next().unwrap_or(&field))
                    .map(|s| format!(" (from {})", s.source()))
                    .unwrap_or_default();
                CloudError::invalid(field, format!("{problem}{from}"))
            }
            other => other,
        })?;
        Ok(Some(config))
    }

    /// Sets the regions.
    pub fn with_regions<I, S>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.regions = regions.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the URL template (`{region}` is replaced), e.g. a fake's
    /// `http://127.0.0.1:PORT/{region}/api/v1alpha1`.
    pub fn with_base_url(mut self, template: impl Into<String>) -> Self {
        self.base_url = Some(template.into());
        self
    }

    /// Sets the URL of one region, overriding the template for it.
    pub fn with_region_url(mut self, region: impl Into<String>, url: impl Into<String>) -> Self {
        self.region_urls.insert(region.into(), url.into());
        self
    }

    /// Sets the SSH user of the images.
    pub fn with_ssh_user(mut self, user: impl Into<String>) -> Self {
        self.ssh_user = Some(user.into());
        self
    }

    /// Sets the hourly USD price of a type.
    pub fn with_price(mut self, instance_type: impl Into<String>, usd: impl Into<String>) -> Self {
        self.prices.insert(instance_type.into(), usd.into());
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

    /// Sets how long a create waits for `creating` to end and how often it looks.
    pub fn with_capacity_wait(mut self, wait: Duration, poll_interval: Duration) -> Self {
        self.capacity_wait_ms = Some(millis(wait));
        self.poll_interval_ms = Some(millis(poll_interval));
        self
    }

    /// The project reference in use.
    pub fn project_ref(&self) -> ProjectRef {
        ProjectRef::parse(&self.project)
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

    /// The capacity wait in use.
    pub fn effective_capacity_wait(&self) -> Duration {
        self.capacity_wait_ms
            .map_or(DEFAULT_CAPACITY_WAIT, Duration::from_millis)
    }

    /// The poll interval in use.
    pub fn effective_poll_interval(&self) -> Duration {
        self.poll_interval_ms
            .map_or(DEFAULT_POLL_INTERVAL, Duration::from_millis)
    }

    /// The API URL of `region`, with a trailing slash: its entry in `region_urls`, else the
    /// template with `{region}` replaced. A template without `{region}` serves one region only.
    pub fn region_url(&self, region: &str) -> Result<String> {
        let url = if let Some(url) = self.region_urls.get(region) {
            url.clone()
        } else {
            let template = self.base_url.as_deref().unwrap_or(DEFAULT_URL_TEMPLATE);
            if !template.contains("{region}") && self.regions.len() > 1 {
                return Err(CloudError::configuration(format!(
                    "{API_URL_ENV} {template:?} has no {{region}} placeholder but {} regions are \
                     configured; add the placeholder or give each region's URL in {REGION_URLS_ENV}",
                    self.regions.len()
                )));
            }
            template.replace("{region}", region)
        };
        Ok(format!("{}/", url.trim().trim_end_matches('/')))
    }

    /// The configured price of `instance_type`, if any.
    pub(crate) fn price(&self, instance_type: &str) -> Option<Price> {
        self.prices
            .get(instance_type)
            .and_then(|usd| Price::parse(usd, "USD").ok())
    }

    /// Checks every field; each error names the field and, where it comes from the
    /// environment, the variable.
    pub fn validate(&self) -> Result<()> {
        let key = self.api_key.expose_secret();
        if key.trim().is_empty() {
            return Err(CloudError::invalid("api_key", "must not be empty"));
        }
        if key.chars().any(char::is_control) {
            return Err(CloudError::invalid(
                "api_key",
                "must not contain control characters",
            ));
        }
        if self.project.trim().is_empty() {
            return Err(CloudError::invalid(
                "project",
                format!("must name the project by id or name (set {PROJECT_ENV})"),
            ));
        }
        if self.regions.is_empty() {
            return Err(CloudError::configuration(format!(
                "no Fluidstack region is configured: set {REGIONS_ENV} (e.g. the region of your \
                 project's console URL) or the `regions` setting; Fluidstack's API serves each \
                 region separately and publishes no list of them"
            )));
        }
        for (i, region) in self.regions.iter().enumerate() {
            let valid = !region.is_empty()
                && region.len() <= 63
                && region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid {
                return Err(CloudError::invalid(
                    format!("regions[{i}]"),
                    format!("{region:?} is not a region name (a-z, 0-9 and -)"),
                ));
            }
            if self.regions[..i].contains(region) {
                return Err(CloudError::invalid(
                    format!("regions[{i}]"),
                    format!("{region:?} is listed twice"),
                ));
            }
        }
        if let Some(extra) = self.region_urls.keys().find(|r| !self.regions.contains(r)) {
            return Err(CloudError::invalid(
                format!("region_urls[{extra:?}]"),
                format!("is not one of the configured regions (set {REGIONS_ENV})"),
            ));
        }
        for (instance_type, usd) in &self.prices {
            let price = Price::parse(usd, "USD").map_err(|e| {
                CloudError::invalid(format!("prices[{instance_type:?}]"), e.to_string())
            })?;
            if price.amount.is_sign_negative() {
                return Err(CloudError::invalid(
                    format!("prices[{instance_type:?}]"),
                    "must not be negative",
                ));
            }
        }
        if self.request_timeout_ms == Some(0) {
            return Err(CloudError::invalid(
                "request_timeout_ms",
                "must be positive",
            ));
        }
        if self.poll_interval_ms == Some(0) {
            return Err(CloudError::invalid("poll_interval_ms", "must be positive"));
        }
        Ok(())
    }

    /// The API key, for building the `Authorization` header and the tenant id.
    pub(crate) fn key(&self) -> &str {
        self.api_key.expose_secret()
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> FluidstackConfig {
        FluidstackConfig::new("secret_key_1", "ml-team").with_regions(["us-west-1"])
    }

    #[test]
    fn debug_redacts_the_key() {
        let debug = format!("{:?}", valid().with_ref_id("cred-1"));
        assert!(!debug.contains("secret_key_1"), "{debug}");
        assert!(debug.contains("REDACTED") && debug.contains("cred-1"));
    }

    #[test]
    fn serde_uses_api_key_and_skips_ref_id() {
        let config = valid().with_ref_id("r").with_price("a.1x", "2.5");
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["api_key"], "secret_key_1");
        assert_eq!(json["project"], "ml-team");
        assert_eq!(json["regions"][0], "us-west-1");
        assert_eq!(json["prices"]["a.1x"], "2.5");
        assert!(json.get("ref_id").is_none());
        let back: FluidstackConfig =
            serde_json::from_value(serde_json::json!({"api_key": "k", "project": "p"})).unwrap();
        assert_eq!(back.key(), "k");
        assert!(back.regions.is_empty());
    }

    #[test]
    fn project_by_id_or_name() {
        let id = "123e4567-e89b-12d3-a456-426614174003";
        assert_eq!(
            ProjectRef::parse(id),
            ProjectRef::Id(uuid::Uuid::parse_str(id).unwrap())
        );
        assert_eq!(
            ProjectRef::parse(" ml-team "),
            ProjectRef::Name("ml-team".into())
        );
    }

    #[test]
    fn from_lookup_reads_every_variable() {
        assert!(FluidstackConfig::from_lookup(|_| None).unwrap().is_none());
        let config = FluidstackConfig::from_lookup(|name| {
            Some(
                match name {
                    API_KEY_ENV => " key ",
                    PROJECT_ENV => "proj",
                    REGIONS_ENV => "us-west-1, eu-north-1 ,",
                    API_URL_ENV => "http://127.0.0.1:9/{region}/api",
                    REGION_URLS_ENV => "eu-north-1=http://127.0.0.1:8/x",
                    SSH_USER_ENV => "root",
                    PRICES_ENV => "h100-hgx-80gb.8x=23.92, l40s.1x=1.10",
                    _ => return None,
                }
                .to_owned(),
            )
        })
        .unwrap()
        .unwrap();
        assert_eq!(config.key(), "key");
        assert_eq!(config.regions, ["us-west-1", "eu-north-1"]);
        assert_eq!(config.effective_ssh_user(), "root");
        assert_eq!(
            config.region_url("us-west-1").unwrap(),
            "http://127.0.0.1:9/us-west-1/api/"
        );
        assert_eq!(
            config.region_url("eu-north-1").unwrap(),
            "http://127.0.0.1:8/x/"
        );
        assert_eq!(
            config.price("h100-hgx-80gb.8x"),
            Some(Price::parse("23.92", "USD").unwrap())
        );
        assert_eq!(config.price("other"), None);
        config.validate().unwrap();
    }

    #[test]
    fn from_lookup_errors_name_the_variable() {
        let only_key = |name: &str| (name == API_KEY_ENV).then(|| "k".to_owned());
        let err = FluidstackConfig::from_lookup(only_key).unwrap_err();
        assert!(err.to_string().contains(PROJECT_ENV), "{err}");
        let bad_pairs = |name: &str| match name {
            API_KEY_ENV | PROJECT_ENV => Some("x".to_owned()),
            PRICES_ENV => Some("no-equals-sign".to_owned()),
            _ => None,
        };
        let err = FluidstackConfig::from_lookup(bad_pairs).unwrap_err();
        assert!(err.to_string().contains(PRICES_ENV), "{err}");
    }

    #[test]
    fn the_settings_table_covers_every_variable_and_builds_the_config() {
        let envs: Vec<&str> = SETTINGS.iter().map(|s| s.env).collect();
        for env in [
            API_KEY_ENV,
            PROJECT_ENV,
            REGIONS_ENV,
            API_URL_ENV,
            REGION_URLS_ENV,
            SSH_USER_ENV,
            PRICES_ENV,
        ] {
            assert!(envs.contains(&env), "{env} missing from SETTINGS");
        }
        assert!(
            SETTINGS
                .iter()
                .filter(|s| s.secret)
                .all(|s| s.key == "api_key")
        );
        let settings = ProviderSettings::from_lookup(SETTINGS, |var| {
            Some(
                match var {
                    API_KEY_ENV => "k",
                    PROJECT_ENV => "proj",
                    REGIONS_ENV => "us-west-1,eu-north-1",
                    PRICES_ENV => "h100-hgx-80gb.8x=23.92",
                    "FLUIDSTACK_CAPACITY_WAIT_MS" => "1000",
                    _ => return None,
                }
                .to_owned(),
            )
        });
        let config = FluidstackConfig::from_settings(&settings).unwrap().unwrap();
        assert_eq!(config.regions, ["us-west-1", "eu-north-1"]);
        assert_eq!(config.effective_capacity_wait(), Duration::from_secs(1));
        assert!(config.price("h100-hgx-80gb.8x").is_some());
        let none = ProviderSettings::from_lookup(SETTINGS, |_| None);
        assert!(FluidstackConfig::from_settings(&none).unwrap().is_none());
        let bad = ProviderSettings::from_lookup(SETTINGS, |var| match var {
            API_KEY_ENV | PROJECT_ENV => Some("x".to_owned()),
            REGIONS_ENV => Some("Bad Region".to_owned()),
            _ => None,
        });
        let err = FluidstackConfig::from_settings(&bad).unwrap_err();
        assert!(err.to_string().contains(REGIONS_ENV), "{err}");
    }

    #[test]
    fn no_region_names_the_setting() {
        let err = FluidstackConfig::new("k", "p").validate().unwrap_err();
        assert!(err.to_string().contains(REGIONS_ENV), "{err}");
    }

    #[test]
    fn default_urls_follow_the_region() {
        assert_eq!(
            valid().region_url("us-west-1").unwrap(),
            "https://us-west-1.atlas.fluidstack.io/api/v1alpha1/"
        );
        let one_url = valid()
            .with_regions(["a", "b"])
            .with_base_url("http://127.0.0.1:1/api");
        let err = one_url.region_url("a").unwrap_err();
        assert!(err.to_string().contains(REGION_URLS_ENV), "{err}");
    }

    #[test]
    fn validate_names_the_field() {
        let cases: Vec<(FluidstackConfig, &str)> = vec![
            (
                FluidstackConfig::new(" ", "p").with_regions(["r"]),
                "api_key",
            ),
            (
                FluidstackConfig::new("k", " ").with_regions(["r"]),
                "project",
            ),
            (valid().with_regions(["US West"]), "regions[0]"),
            (valid().with_regions(["a", "a"]), "regions[1]"),
            (
                valid().with_region_url("elsewhere", "http://127.0.0.1:1"),
                "region_urls",
            ),
            (valid().with_price("t", "cheap"), "prices[\"t\"]"),
            (valid().with_price("t", "-1"), "prices[\"t\"]"),
            (
                valid().with_request_timeout(Duration::ZERO),
                "request_timeout_ms",
            ),
            (
                valid().with_capacity_wait(Duration::ZERO, Duration::ZERO),
                "poll_interval_ms",
            ),
        ];
        for (config, field) in cases {
            let err = config.validate().unwrap_err();
            assert!(
                matches!(&err, CloudError::InvalidArgument { field: f, .. } if f.starts_with(field)),
                "{field}: {err:?}"
            );
        }
    }
}
