//! Configuration: the default region and the regions to use, how credentials are found (the
//! SDK's standard chain, or a key pair from the settings, optionally a role to assume), the
//! endpoints (moto in tests), what the catalog lists, and timings.

use std::fmt;
use std::time::Duration;

use gpucloud_core::{CloudError, ProviderSettings, Result, SettingKind, SettingSpec};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Environment variable naming the default region (the provider's activation setting).
pub const REGION_ENV: &str = "AWS_REGION";
/// Environment variable holding a static access key id (else the SDK's standard chain).
pub const ACCESS_KEY_ID_ENV: &str = "AWS_ACCESS_KEY_ID";
/// Environment variable holding the secret access key that goes with the access key id.
pub const SECRET_ACCESS_KEY_ENV: &str = "AWS_SECRET_ACCESS_KEY";
/// Environment variable holding a session token that goes with a temporary key pair.
pub const SESSION_TOKEN_ENV: &str = "AWS_SESSION_TOKEN";
/// Environment variable overriding every service's endpoint (moto in tests), as the SDK reads it.
pub const ENDPOINT_URL_ENV: &str = "AWS_ENDPOINT_URL";
/// Environment variable overriding the Price List endpoint (the pricing stub in tests).
pub const PRICING_ENDPOINT_URL_ENV: &str = "AWS_ENDPOINT_URL_PRICING";

/// Environment variable overriding the Service Quotas endpoint (the stub in tests).
pub const QUOTAS_ENDPOINT_URL_ENV: &str = "AWS_ENDPOINT_URL_SERVICE_QUOTAS";

/// The region the Price List Query API is asked in (it is served from a few regions only).
pub const PRICING_REGION: &str = "us-east-1";
/// Default time limit of one request attempt.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default first retry backoff.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// Default root volume of a create that names no size, in GiB.
pub const DEFAULT_ROOT_VOLUME_GIB: u32 = 200;
/// The user the default images (Deep Learning AMI, Ubuntu) log in as.
pub const DEFAULT_SSH_USER: &str = "ubuntu";
/// Default grace before the sweep deletes an unused security group this credential made.
pub const DEFAULT_SWEEP_GRACE: Duration = Duration::from_secs(15 * 60);

const KEY_REGION: &str = "region";
const KEY_REGIONS: &str = "regions";
const KEY_ACCESS_KEY_ID: &str = "access_key_id";
const KEY_SECRET_ACCESS_KEY: &str = "secret_access_key";
const KEY_SESSION_TOKEN: &str = "session_token";
const KEY_PROFILE: &str = "profile";
const KEY_ROLE_ARN: &str = "role_arn";
const KEY_ENDPOINT_URL: &str = "endpoint_url";
const KEY_PRICING_ENDPOINT_URL: &str = "pricing_endpoint_url";
const KEY_QUOTAS_ENDPOINT_URL: &str = "quotas_endpoint_url";
const KEY_ALL_TYPES: &str = "all_instance_types";
const KEY_SSH_USER: &str = "ssh_user";
const KEY_DEFAULT_IMAGE: &str = "default_image";
const KEY_REQUEST_TIMEOUT_MS: &str = "request_timeout_ms";
const KEY_RETRY_BACKOFF_MS: &str = "retry_backoff_ms";
const KEY_SWEEP_GRACE_S: &str = "sweep_grace_s";

/// Every setting of [`AwsConfig`], one row per field: the environment variables, the
/// config-file keys and the CLI's hints are all derived from this table. Credentials not set
/// here come from the SDK's standard chain (environment, `~/.aws` profiles, SSO, web
/// identity, the instance's role).
pub const SETTINGS: &[SettingSpec] = &[
    SettingSpec::plain(
        KEY_REGION,
        REGION_ENV,
        SettingKind::Text,
        None,
        "the default region, e.g. us-east-1 (where regions are listed and creates go without one)",
    ),
    SettingSpec::plain(
        KEY_REGIONS,
        "GPUCLOUD_AWS_REGIONS",
        SettingKind::Text,
        None,
        "comma-separated regions to use; default every region enabled for the account",
    ),
    SettingSpec::plain(
        KEY_ACCESS_KEY_ID,
        ACCESS_KEY_ID_ENV,
        SettingKind::Text,
        None,
        "access key id; unset: the SDK's standard credential chain",
    ),
    SettingSpec {
        key: KEY_SECRET_ACCESS_KEY,
        env: SECRET_ACCESS_KEY_ENV,
        kind: SettingKind::Text,
        default: None,
        secret: true,
        description: "secret access key belonging to the access key id",
    },
    SettingSpec {
        key: KEY_SESSION_TOKEN,
        env: SESSION_TOKEN_ENV,
        kind: SettingKind::Text,
        default: None,
        secret: true,
        description: "session token of temporary credentials",
    },
    SettingSpec::plain(
        KEY_PROFILE,
        "AWS_PROFILE",
        SettingKind::Text,
        None,
        "the ~/.aws profile the standard chain reads",
    ),
    SettingSpec::plain(
        KEY_ROLE_ARN,
        "GPUCLOUD_AWS_ROLE_ARN",
        SettingKind::Text,
        None,
        "a role to assume with the credentials found (sts:AssumeRole)",
    ),
    SettingSpec::plain(
        KEY_ENDPOINT_URL,
        ENDPOINT_URL_ENV,
        SettingKind::Url,
        None,
        "every service's endpoint (moto_server in tests); plain http only for loopback",
    ),
    SettingSpec::plain(
        KEY_PRICING_ENDPOINT_URL,
        PRICING_ENDPOINT_URL_ENV,
        SettingKind::Url,
        None,
        "the Price List endpoint (gpucloud fake aws-pricing in tests); plain http only for loopback",
    ),
    SettingSpec::plain(
        KEY_QUOTAS_ENDPOINT_URL,
        QUOTAS_ENDPOINT_URL_ENV,
        SettingKind::Url,
        None,
        "the Service Quotas endpoint (gpucloud fake aws-pricing in tests); plain http only for loopback",
    ),
    SettingSpec::plain(
        KEY_ALL_TYPES,
        "GPUCLOUD_AWS_ALL_INSTANCE_TYPES",
        SettingKind::Text,
        Some("false"),
        "true: list every instance type, not only accelerated ones (GPU, Trainium, Inferentia)",
    ),
    SettingSpec::plain(
        KEY_DEFAULT_IMAGE,
        "GPUCLOUD_AWS_DEFAULT_IMAGE",
        SettingKind::Text,
        None,
        "image of a create that names none: an AMI id, or a name pattern (newest match); \
         default the newest Deep Learning Base OSS Nvidia AMI, else Ubuntu 22.04",
    ),
    SettingSpec::plain(
        KEY_SSH_USER,
        "GPUCLOUD_AWS_SSH_USER",
        SettingKind::Text,
        Some(DEFAULT_SSH_USER),
        "the user the image logs in as (the default images: ubuntu)",
    ),
    SettingSpec::plain(
        KEY_REQUEST_TIMEOUT_MS,
        "GPUCLOUD_AWS_REQUEST_TIMEOUT_MS",
        SettingKind::Integer,
        Some("30000"),
        "time limit of one request attempt in milliseconds",
    ),
    SettingSpec::plain(
        KEY_RETRY_BACKOFF_MS,
        "GPUCLOUD_AWS_RETRY_BACKOFF_MS",
        SettingKind::Integer,
        Some("500"),
        "first retry backoff in milliseconds (doubling per retry)",
    ),
    SettingSpec::plain(
        KEY_SWEEP_GRACE_S,
        "GPUCLOUD_AWS_SWEEP_GRACE_S",
        SettingKind::Integer,
        Some("900"),
        "age in seconds after which an unused security group of this credential is swept",
    ),
    SettingSpec::ref_id("GPUCLOUD_AWS_REF_ID"),
];

/// How to reach one AWS account.
///
/// Serialized with the secret under `secret_access_key` (the persisted credential format);
/// `Debug` never shows it or the session token. `ref_id` is the control plane's id of the
/// credential and is not serialized.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct AwsConfig {
    /// The default region.
    pub region: String,
    /// The regions to use; empty: every region enabled for the account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// A static access key id; `None`: the SDK's standard chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// The secret access key of `access_key_id`.
    #[serde(
        default,
        with = "optional_secret",
        skip_serializing_if = "Option::is_none"
    )]
    pub secret_access_key: Option<SecretString>,
    /// The session token of temporary credentials.
    #[serde(
        default,
        with = "optional_secret",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_token: Option<SecretString>,
    /// The `~/.aws` profile the standard chain reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// A role to assume with the credentials found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Every service's endpoint (moto in tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// The Price List endpoint; `None` uses `endpoint_url`, else AWS's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing_endpoint_url: Option<String>,
    /// The Service Quotas endpoint; `None` uses `endpoint_url`, else AWS's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quotas_endpoint_url: Option<String>,
    /// List every instance type, not only accelerated ones.
    #[serde(default)]
    pub all_instance_types: bool,
    /// The image of a create that names none: an AMI id or a name pattern; `None` uses the
    /// documented lookup (Deep Learning Base AMI, else Ubuntu 22.04).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_image: Option<String>,
    /// The user the image logs in as; `None` uses [`DEFAULT_SSH_USER`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_user: Option<String>,
    /// The control plane's reference id of this credential; stored on every instance it
    /// creates.
    #[serde(skip)]
    pub ref_id: String,
    /// Time limit of one request attempt in milliseconds; `None` uses
    /// [`DEFAULT_REQUEST_TIMEOUT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    /// First retry backoff in milliseconds; `None` uses [`DEFAULT_RETRY_BACKOFF`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_backoff_ms: Option<u64>,
    /// Age in seconds after which the sweep deletes an unused security group of this
    /// credential; `None` uses [`DEFAULT_SWEEP_GRACE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep_grace_s: Option<u64>,
}

/// Serde for an optional secret, as plain text (the persisted credential format).
mod optional_secret {
    use secrecy::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)] // serde's `with` passes the field by reference.
    pub(super) fn serialize<S: Serializer>(
        value: &Option<SecretString>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(secret) => serializer.serialize_some(secret.expose_secret()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SecretString>, D::Error> {
        Ok(Option::<String>::deserialize(deserializer)?.map(SecretString::from))
    }
}

impl fmt::Debug for AwsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |s: &Option<SecretString>| s.as_ref().map(|_| "[redacted]");
        f.debug_struct("AwsConfig")
            .field("region", &self.region)
            .field("regions", &self.regions)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &redacted(&self.secret_access_key))
            .field("session_token", &redacted(&self.session_token))
            .field("profile", &self.profile)
            .field("role_arn", &self.role_arn)
            .field("endpoint_url", &self.endpoint_url)
            .field("pricing_endpoint_url", &self.pricing_endpoint_url)
            .field("quotas_endpoint_url", &self.quotas_endpoint_url)
            .field("all_instance_types", &self.all_instance_types)
            .field("default_image", &self.default_image)
            .field("ssh_user", &self.ssh_user)
            .field("ref_id", &self.ref_id)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("retry_backoff_ms", &self.retry_backoff_ms)
            .field("sweep_grace_s", &self.sweep_grace_s)
            .finish()
    }
}

impl AwsConfig {
    /// A configuration for `region` with the standard credential chain and every default.
    pub fn new(region: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            ..Self::default()
        }
    }

    /// The configuration from the `AWS_*` and `GPUCLOUD_AWS_*` variables; `None` when
    /// `AWS_REGION` is unset.
    pub fn from_env() -> Result<Option<Self>> {
        Self::from_settings(&ProviderSettings::from_env(SETTINGS))
    }

    /// The configuration from a provider settings table ([`SETTINGS`]: environment, config
    /// file); `None` when no region is set. A value that does not parse, or half a key pair,
    /// is an `InvalidArgument` naming the setting and where its value came from.
    pub fn from_settings(settings: &ProviderSettings) -> Result<Option<Self>> {
        let Some(region) = settings.text(KEY_REGION) else {
            return Ok(None);
        };
        let text = |key: &str| {
            settings
                .text(key)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let mut config = Self::new(region.trim());
        config.regions = text(KEY_REGIONS)
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        config.access_key_id = text(KEY_ACCESS_KEY_ID);
        config.secret_access_key = text(KEY_SECRET_ACCESS_KEY).map(SecretString::from);
        config.session_token = text(KEY_SESSION_TOKEN).map(SecretString::from);
        config.profile = text(KEY_PROFILE);
        config.role_arn = text(KEY_ROLE_ARN);
        config.endpoint_url = text(KEY_ENDPOINT_URL);
        config.pricing_endpoint_url = text(KEY_PRICING_ENDPOINT_URL);
        config.quotas_endpoint_url = text(KEY_QUOTAS_ENDPOINT_URL);
        config.all_instance_types = settings.parse(KEY_ALL_TYPES)?.unwrap_or(false);
        config.default_image = text(KEY_DEFAULT_IMAGE);
        config.ssh_user = text(KEY_SSH_USER);
        config.ref_id = settings.ref_id();
        config.request_timeout_ms = settings.parse(KEY_REQUEST_TIMEOUT_MS)?;
        config.retry_backoff_ms = settings.parse(KEY_RETRY_BACKOFF_MS)?;
        config.sweep_grace_s = settings.parse(KEY_SWEEP_GRACE_S)?;
        config.validate().map_err(|e| match e {
            CloudError::InvalidArgument { field, problem } => {
                let suffix = settings
                    .get(&field)
                    .map(|s| format!(" (from {})", s.source()))
                    .unwrap_or_default();
                CloudError::invalid(field, format!("{problem}{suffix}"))
            }
            other => other,
        })?;
        Ok(Some(config))
    }

    /// Sets a static key pair (instead of the standard chain).
    pub fn with_static_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.access_key_id = Some(access_key_id.into());
        self.secret_access_key = Some(SecretString::from(secret_access_key.into()));
        self
    }

    /// Sets the regions to use.
    pub fn with_regions<I, S>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.regions = regions.into_iter().map(Into::into).collect();
        self
    }

    /// Sets every service's endpoint (moto in tests).
    pub fn with_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Sets the Price List endpoint.
    pub fn with_pricing_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.pricing_endpoint_url = Some(url.into());
        self
    }

    /// Sets the Service Quotas endpoint.
    pub fn with_quotas_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.quotas_endpoint_url = Some(url.into());
        self
    }

    /// Lists every instance type, not only accelerated ones.
    pub fn with_all_instance_types(mut self, all: bool) -> Self {
        self.all_instance_types = all;
        self
    }

    /// Sets the image of a create that names none (an AMI id or a name pattern).
    pub fn with_default_image(mut self, image: impl Into<String>) -> Self {
        self.default_image = Some(image.into());
        self
    }

    /// Sets the credential's reference id.
    pub fn with_ref_id(mut self, ref_id: impl Into<String>) -> Self {
        self.ref_id = ref_id.into();
        self
    }

    /// Sets the time limit of one request attempt.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout_ms = Some(millis(timeout));
        self
    }

    /// Sets the first retry backoff.
    pub fn with_retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff_ms = Some(millis(backoff));
        self
    }

    /// Sets the sweep's grace.
    pub fn with_sweep_grace(mut self, grace: Duration) -> Self {
        self.sweep_grace_s = Some(grace.as_secs());
        self
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

    /// The sweep's grace in use.
    pub fn effective_sweep_grace(&self) -> Duration {
        self.sweep_grace_s
            .map_or(DEFAULT_SWEEP_GRACE, Duration::from_secs)
    }

    /// The Price List endpoint in use, when it is not AWS's.
    pub fn effective_pricing_endpoint_url(&self) -> Option<&str> {
        self.pricing_endpoint_url
            .as_deref()
            .or(self.endpoint_url.as_deref())
    }

    /// The Service Quotas endpoint in use, when it is not AWS's.
    pub fn effective_quotas_endpoint_url(&self) -> Option<&str> {
        self.quotas_endpoint_url
            .as_deref()
            .or(self.endpoint_url.as_deref())
    }

    /// Checks every field; the error names the first wrong one.
    pub fn validate(&self) -> Result<()> {
        for (key, region) in std::iter::once((KEY_REGION, &self.region))
            .chain(self.regions.iter().map(|r| (KEY_REGIONS, r)))
        {
            if !is_region_name(region) {
                return Err(CloudError::invalid(
                    key,
                    format!("{region:?} is not a region name such as us-east-1"),
                ));
            }
        }
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(id), Some(secret))
                if !id.trim().is_empty() && !secret.expose_secret().trim().is_empty() => {}
            (None, None) => {
                if self.session_token.is_some() {
                    return Err(CloudError::invalid(
                        KEY_SESSION_TOKEN,
                        "needs the access key id and secret access key it belongs to",
                    ));
                }
            }
            (Some(_), _) => {
                return Err(CloudError::invalid(
                    KEY_SECRET_ACCESS_KEY,
                    format!("must be set ({SECRET_ACCESS_KEY_ENV}) with the access key id"),
                ));
            }
            (None, Some(_)) => {
                return Err(CloudError::invalid(
                    KEY_ACCESS_KEY_ID,
                    format!("must be set ({ACCESS_KEY_ID_ENV}) with the secret access key"),
                ));
            }
        }
        if let Some(role) = &self.role_arn
            && !role.starts_with("arn:")
        {
            return Err(CloudError::invalid(
                KEY_ROLE_ARN,
                format!("{role:?} is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)"),
            ));
        }
        for (key, url) in [
            (KEY_ENDPOINT_URL, &self.endpoint_url),
            (KEY_PRICING_ENDPOINT_URL, &self.pricing_endpoint_url),
            (KEY_QUOTAS_ENDPOINT_URL, &self.quotas_endpoint_url),
        ] {
            if let Some(url) = url {
                gpucloud_http::parse_base_url(url)
                    .map_err(|e| CloudError::invalid(key, format!("{url:?}: {e}")))?;
            }
        }
        if self.request_timeout_ms == Some(0) {
            return Err(CloudError::invalid(
                KEY_REQUEST_TIMEOUT_MS,
                "must be at least 1",
            ));
        }
        gpucloud_core::validate::check_posix_user(KEY_SSH_USER, self.effective_ssh_user())?;
        Ok(())
    }

    /// What identifies the account without a secret: the access key id, else the profile,
    /// role and endpoint the chain is read with.
    pub(crate) fn account_hint(&self) -> String {
        match &self.access_key_id {
            Some(id) => id.clone(),
            None => format!(
                "chain|profile={}|role={}|endpoint={}",
                self.profile.as_deref().unwrap_or_default(),
                self.role_arn.as_deref().unwrap_or_default(),
                self.endpoint_url.as_deref().unwrap_or_default()
            ),
        }
    }
}

/// Whether `name` looks like a region (`us-east-1`, `ap-southeast-4`, `us-gov-west-1`):
/// lower-case letters, digits and dashes, ending in a number.
pub(crate) fn is_region_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.contains('-')
        && name.ends_with(|c: char| c.is_ascii_digit())
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
    fn debug_redacts_the_secrets_and_serde_keeps_them() {
        let mut config = AwsConfig::new("us-east-1")
            .with_static_credentials("AKIAEXAMPLE", "wJalr-secret")
            .with_ref_id("r");
        config.session_token = Some(SecretString::from("session-tok".to_owned()));
        let text = format!("{config:?}");
        assert!(
            !text.contains("wJalr") && !text.contains("session-tok") && text.contains("AKIA"),
            "{text}"
        );
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["secret_access_key"], "wJalr-secret");
        assert!(json.get("ref_id").is_none());
        let back: AwsConfig = serde_json::from_value(json).unwrap();
        assert_eq!(
            back.secret_access_key.unwrap().expose_secret(),
            "wJalr-secret"
        );
    }

    #[test]
    fn settings_name_what_is_wrong_and_never_show_the_secret() {
        assert!(AwsConfig::from_settings(&settings(&[])).unwrap().is_none());
        let half = AwsConfig::from_settings(&settings(&[
            (REGION_ENV, "us-east-1"),
            (ACCESS_KEY_ID_ENV, "AKIA"),
        ]))
        .unwrap_err();
        assert_eq!(half.kind(), ErrorKind::InvalidArgument);
        assert!(half.to_string().contains("secret_access_key"), "{half}");
        let bad_region = AwsConfig::from_settings(&settings(&[(REGION_ENV, "Virginia")]))
            .unwrap_err()
            .to_string();
        assert!(
            bad_region.contains("region") && bad_region.contains("AWS_REGION"),
            "{bad_region}"
        );
        let bad_list = AwsConfig::from_settings(&settings(&[
            (REGION_ENV, "us-east-1"),
            ("GPUCLOUD_AWS_REGIONS", "us-west-2, eu west"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(bad_list.contains("GPUCLOUD_AWS_REGIONS"), "{bad_list}");
        let timeout = AwsConfig::from_settings(&settings(&[
            (REGION_ENV, "us-east-1"),
            (ACCESS_KEY_ID_ENV, "AKIA"),
            (SECRET_ACCESS_KEY_ENV, "s3cret-value"),
            ("GPUCLOUD_AWS_REQUEST_TIMEOUT_MS", "soon"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            timeout.contains("GPUCLOUD_AWS_REQUEST_TIMEOUT_MS") && !timeout.contains("s3cret"),
            "{timeout}"
        );
        let plain_http = AwsConfig::from_settings(&settings(&[
            (REGION_ENV, "us-east-1"),
            (ENDPOINT_URL_ENV, "http://ec2.example.com"),
        ]));
        assert!(plain_http.is_err(), "plain http only to loopback");
        let role = AwsConfig::from_settings(&settings(&[
            (REGION_ENV, "us-east-1"),
            ("GPUCLOUD_AWS_ROLE_ARN", "admin"),
        ]));
        assert!(role.is_err());
        let good = AwsConfig::from_settings(&settings(&[
            (REGION_ENV, " us-east-1 "),
            ("GPUCLOUD_AWS_REGIONS", "us-east-1,us-west-2"),
            (ENDPOINT_URL_ENV, "http://127.0.0.1:5000"),
            ("GPUCLOUD_AWS_ALL_INSTANCE_TYPES", "true"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(good.region, "us-east-1");
        assert_eq!(good.regions, ["us-east-1", "us-west-2"]);
        assert!(good.all_instance_types && good.access_key_id.is_none());
        assert_eq!(
            good.effective_pricing_endpoint_url(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(good.ref_id, "gpucloud-default");
        assert_eq!(good.effective_ssh_user(), "ubuntu");
    }

    #[test]
    fn region_names() {
        for good in [
            "us-east-1",
            "ap-southeast-4",
            "us-gov-west-1",
            "eu-central-2",
        ] {
            assert!(is_region_name(good), "{good}");
        }
        for bad in ["", "us-east", "US-EAST-1", "us_east_1", "use1"] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }
}
