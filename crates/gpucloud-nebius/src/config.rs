//! Configuration: how the credential authenticates (a service-account credentials file or a
//! static IAM token, both secrets), the tenant or its projects per region, the endpoints, the
//! boot image and disk, and timings.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gpucloud_core::{CloudError, ProviderSettings, Result, SettingKind, SettingSpec};
use secrecy::SecretString;

use crate::auth::ServiceAccountKey;

/// Environment variable naming the service-account credentials file (Nebius's
/// `subject-credentials` JSON: RS256 private key, key id, service-account id).
pub const CREDENTIALS_FILE_ENV: &str = "NEBIUS_CREDENTIALS_FILE";
/// Environment variable holding a static IAM token, used instead of a credentials file.
pub const IAM_TOKEN_ENV: &str = "NEBIUS_IAM_TOKEN";
/// Environment variable naming the tenant whose projects are used (unset: the one tenant the
/// credential sees).
pub const TENANT_ENV: &str = "NEBIUS_TENANT_ID";
/// Environment variable giving the project per region: `region=project-id,…`.
pub const PROJECTS_ENV: &str = "NEBIUS_PROJECTS";
/// Environment variable restricting the regions used: `eu-north1,us-central1`.
pub const REGIONS_ENV: &str = "NEBIUS_REGIONS";
/// Environment variable pointing every service at one address (a fake, a proxy).
pub const API_ENDPOINT_ENV: &str = "NEBIUS_API_ENDPOINT";
/// Environment variable overriding the SSH user of the images.
pub const SSH_USER_ENV: &str = "NEBIUS_SSH_USER";
/// Environment variable overriding the image family of boot disks.
pub const IMAGE_FAMILY_ENV: &str = "NEBIUS_IMAGE_FAMILY";
/// Environment variable overriding the default boot disk size in GiB.
pub const BOOT_DISK_GIB_ENV: &str = "NEBIUS_BOOT_DISK_GIB";

/// The user of Nebius's Ubuntu images.
pub const DEFAULT_SSH_USER: &str = "ubuntu";
/// The boot image family: Ubuntu with the NVIDIA driver and CUDA, which also boots CPU presets.
pub const DEFAULT_IMAGE_FAMILY: &str = "ubuntu22.04-cuda12";
/// The boot disk size when the create gives none.
pub const DEFAULT_BOOT_DISK_GIB: u32 = 200;
/// Default time limit of one RPC.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time a mutation waits for its operation (and a create for its instance to run).
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(600);
/// Default interval between reads of an operation or an instance being waited on.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Default first retry backoff (doubling per retry).
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// Default age below which a boot disk or security group of this credential that no instance
/// uses is not swept: it may belong to a create still on its way (in another process).
pub const DEFAULT_ORPHAN_GRACE: Duration = Duration::from_secs(15 * 60);

const KEY_CREDENTIALS_FILE: &str = "credentials_file";
const KEY_IAM_TOKEN: &str = "iam_token";
const KEY_TENANT: &str = "tenant_id";
const KEY_PROJECTS: &str = "projects";
const KEY_REGIONS: &str = "regions";
const KEY_API_ENDPOINT: &str = "api_endpoint";
const KEY_SSH_USER: &str = "ssh_user";
const KEY_IMAGE_FAMILY: &str = "image_family";
const KEY_BOOT_DISK_GIB: &str = "boot_disk_gib";
const KEY_REQUEST_TIMEOUT_MS: &str = "request_timeout_ms";
const KEY_OPERATION_TIMEOUT_MS: &str = "operation_timeout_ms";
const KEY_POLL_INTERVAL_MS: &str = "poll_interval_ms";
const KEY_RETRY_BACKOFF_MS: &str = "retry_backoff_ms";
const KEY_ORPHAN_GRACE_SECS: &str = "orphan_grace_secs";

/// Every setting of [`NebiusConfig`], one row per field: the environment variables, the
/// config-file keys and the CLI's hints are all derived from this table.
pub const SETTINGS: &[SettingSpec] = &[
    SettingSpec::plain(
        KEY_CREDENTIALS_FILE,
        CREDENTIALS_FILE_ENV,
        SettingKind::Path,
        None,
        "service-account credentials file (subject-credentials JSON with an RS256 key)",
    ),
    SettingSpec {
        key: KEY_IAM_TOKEN,
        env: IAM_TOKEN_ENV,
        kind: SettingKind::Text,
        default: None,
        secret: true,
        description: "static IAM token, instead of a credentials file",
    },
    SettingSpec::plain(
        KEY_TENANT,
        TENANT_ENV,
        SettingKind::Text,
        None,
        "tenant id: its projects (one per region) are found through IAM (default: the one tenant the credential sees)",
    ),
    SettingSpec::plain(
        KEY_PROJECTS,
        PROJECTS_ENV,
        SettingKind::Text,
        None,
        "project per region, instead of the tenant: region=project-id,region=project-id",
    ),
    SettingSpec::plain(
        KEY_REGIONS,
        REGIONS_ENV,
        SettingKind::Text,
        None,
        "comma-separated regions to use (default: every region with a project)",
    ),
    SettingSpec::plain(
        KEY_API_ENDPOINT,
        API_ENDPOINT_ENV,
        SettingKind::Url,
        None,
        "one address for every service (a fake); plain http only to loopback",
    ),
    SettingSpec::plain(
        KEY_SSH_USER,
        SSH_USER_ENV,
        SettingKind::Text,
        Some(DEFAULT_SSH_USER),
        "SSH user of the images",
    ),
    SettingSpec::plain(
        KEY_IMAGE_FAMILY,
        IMAGE_FAMILY_ENV,
        SettingKind::Text,
        Some(DEFAULT_IMAGE_FAMILY),
        "image family of boot disks (the latest image of it is used)",
    ),
    SettingSpec::plain(
        KEY_BOOT_DISK_GIB,
        BOOT_DISK_GIB_ENV,
        SettingKind::Integer,
        Some("200"),
        "boot disk size in GiB when a create gives none",
    ),
    SettingSpec::plain(
        KEY_REQUEST_TIMEOUT_MS,
        "NEBIUS_REQUEST_TIMEOUT_MS",
        SettingKind::Integer,
        Some("60000"),
        "time limit of one RPC in milliseconds",
    ),
    SettingSpec::plain(
        KEY_OPERATION_TIMEOUT_MS,
        "NEBIUS_OPERATION_TIMEOUT_MS",
        SettingKind::Integer,
        Some("600000"),
        "milliseconds a mutation waits for its operation",
    ),
    SettingSpec::plain(
        KEY_POLL_INTERVAL_MS,
        "NEBIUS_POLL_INTERVAL_MS",
        SettingKind::Integer,
        Some("2000"),
        "milliseconds between reads of an operation being waited on",
    ),
    SettingSpec::plain(
        KEY_RETRY_BACKOFF_MS,
        "NEBIUS_RETRY_BACKOFF_MS",
        SettingKind::Integer,
        Some("500"),
        "first retry backoff in milliseconds (doubling per retry)",
    ),
    SettingSpec::plain(
        KEY_ORPHAN_GRACE_SECS,
        "NEBIUS_ORPHAN_GRACE_SECS",
        SettingKind::Integer,
        Some("900"),
        "age in seconds before a gpucloud boot disk or security group no instance uses is swept",
    ),
    SettingSpec::ref_id("NEBIUS_REF_ID"),
];

/// How the credential authenticates.
#[derive(Clone)]
pub enum NebiusAuth {
    /// A service account's key: a self-signed JWT is exchanged for short-lived access tokens.
    ServiceAccount(ServiceAccountKey),
    /// A static IAM token, sent as is until it expires.
    Token(SecretString),
}

impl fmt::Debug for NebiusAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ServiceAccount(key) => f.debug_tuple("ServiceAccount").field(key).finish(),
            Self::Token(_) => f.write_str("Token([redacted])"),
        }
    }
}

/// How to reach one Nebius tenant. `Debug` never shows the private key or the token.
#[derive(Debug, Clone)]
pub struct NebiusConfig {
    /// How the credential authenticates.
    pub auth: NebiusAuth,
    /// The tenant whose projects are used (through IAM's project service). Empty: the one
    /// tenant the credential sees (IAM's tenant list), or none needed when [`Self::projects`]
    /// names every project.
    pub tenant_id: String,
    /// The project of each region, taking precedence over the tenant's projects.
    pub projects: BTreeMap<String, String>,
    /// The regions to use; empty: every region that has a project.
    pub regions: Vec<String>,
    /// One address for every service (`http://127.0.0.1:PORT` for a fake); `None` uses the
    /// addresses Nebius publishes per service, over TLS.
    pub api_endpoint: Option<String>,
    /// The SSH user of the images.
    pub ssh_user: String,
    /// The image family of boot disks.
    pub image_family: String,
    /// The boot disk size in GiB when a create gives none.
    pub boot_disk_gib: u32,
    /// Time limit of one RPC.
    pub request_timeout: Duration,
    /// How long a mutation waits for its operation.
    pub operation_timeout: Duration,
    /// Interval between reads while waiting.
    pub poll_interval: Duration,
    /// First retry backoff (doubling per retry).
    pub retry_backoff: Duration,
    /// Age below which a boot disk or security group of this credential that no instance
    /// uses is left by the sweep ([`crate::NebiusClient::sweep_orphaned_resources`]).
    pub orphan_grace: Duration,
    /// The control plane's reference id of this credential; stored on every instance it creates.
    pub ref_id: String,
    /// Where exchanged access tokens are kept between processes (a file per credential, mode
    /// 0600); `None` keeps them in memory only. [`Self::from_settings`] uses the per-user
    /// state directory ([`crate::default_token_dir`]).
    pub token_cache_dir: Option<PathBuf>,
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
                    CloudError::invalid(setting, format!("{item:?} is not of the form region=id"))
                })
        })
        .collect()
}

fn parse_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

impl NebiusConfig {
    /// A configuration authenticating with `auth`, with every default and no tenant or
    /// projects yet ([`Self::with_tenant`], [`Self::with_project`]).
    pub fn new(auth: NebiusAuth) -> Self {
        Self {
            auth,
            tenant_id: String::new(),
            projects: BTreeMap::new(),
            regions: Vec::new(),
            api_endpoint: None,
            ssh_user: DEFAULT_SSH_USER.to_owned(),
            image_family: DEFAULT_IMAGE_FAMILY.to_owned(),
            boot_disk_gib: DEFAULT_BOOT_DISK_GIB,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            poll_interval: DEFAULT_POLL_INTERVAL,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            orphan_grace: DEFAULT_ORPHAN_GRACE,
            ref_id: String::new(),
            token_cache_dir: None,
        }
    }

    /// A configuration from a service-account credentials file.
    pub fn from_credentials_file(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::new(NebiusAuth::ServiceAccount(
            ServiceAccountKey::from_file(path.as_ref())?,
        )))
    }

    /// The configuration from the `NEBIUS_*` variables; `None` when neither
    /// `NEBIUS_CREDENTIALS_FILE` nor `NEBIUS_IAM_TOKEN` is set.
    pub fn from_env() -> Result<Option<Self>> {
        Self::from_settings(&ProviderSettings::from_env(SETTINGS))
    }

    /// The configuration from settings read against [`SETTINGS`] (environment, config file);
    /// `None` when no credential is set. Errors name the setting and where its value came from.
    pub fn from_settings(settings: &ProviderSettings) -> Result<Option<Self>> {
        let auth = if let Some(file) = settings.get(KEY_CREDENTIALS_FILE) {
            let key = ServiceAccountKey::from_file(Path::new(file.value())).map_err(|e| {
                CloudError::invalid(
                    KEY_CREDENTIALS_FILE,
                    format!("{e} (from {})", file.source()),
                )
            })?;
            NebiusAuth::ServiceAccount(key)
        } else if let Some(token) = settings.text(KEY_IAM_TOKEN) {
            NebiusAuth::Token(SecretString::from(token.to_owned()))
        } else {
            return Ok(None);
        };
        let mut config = Self::new(auth);
        settings
            .text(KEY_TENANT)
            .unwrap_or_default()
            .clone_into(&mut config.tenant_id);
        if let Some(projects) = settings.text(KEY_PROJECTS) {
            config.projects = parse_pairs(KEY_PROJECTS, projects)?;
        }
        if let Some(regions) = settings.text(KEY_REGIONS) {
            config.regions = parse_list(regions);
        }
        config.api_endpoint = settings.text(KEY_API_ENDPOINT).map(str::to_owned);
        if let Some(user) = settings.text(KEY_SSH_USER) {
            user.clone_into(&mut config.ssh_user);
        }
        if let Some(family) = settings.text(KEY_IMAGE_FAMILY) {
            family.clone_into(&mut config.image_family);
        }
        if let Some(gib) = settings.parse::<u32>(KEY_BOOT_DISK_GIB)? {
            config.boot_disk_gib = gib;
        }
        let millis = |key| {
            settings
                .parse::<u64>(key)
                .map(|v| v.map(Duration::from_millis))
        };
        if let Some(d) = millis(KEY_REQUEST_TIMEOUT_MS)? {
            config.request_timeout = d;
        }
        if let Some(d) = millis(KEY_OPERATION_TIMEOUT_MS)? {
            config.operation_timeout = d;
        }
        if let Some(d) = millis(KEY_POLL_INTERVAL_MS)? {
            config.poll_interval = d;
        }
        if let Some(d) = millis(KEY_RETRY_BACKOFF_MS)? {
            config.retry_backoff = d;
        }
        if let Some(secs) = settings.parse::<u64>(KEY_ORPHAN_GRACE_SECS)? {
            config.orphan_grace = Duration::from_secs(secs);
        }
        config.ref_id = settings.ref_id();
        config.token_cache_dir = crate::default_token_dir();
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

    /// Sets the tenant.
    pub fn with_tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = tenant_id.into();
        self
    }

    /// Sets the project of a region.
    pub fn with_project(mut self, region: impl Into<String>, project: impl Into<String>) -> Self {
        self.projects.insert(region.into(), project.into());
        self
    }

    /// Restricts the regions used.
    pub fn with_regions<I, S>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.regions = regions.into_iter().map(Into::into).collect();
        self
    }

    /// Points every service at one address, e.g. a fake's `http://127.0.0.1:PORT`.
    pub fn with_api_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.api_endpoint = Some(endpoint.into());
        self
    }

    /// Sets the image family of boot disks.
    pub fn with_image_family(mut self, family: impl Into<String>) -> Self {
        self.image_family = family.into();
        self
    }

    /// Sets how long mutations wait for their operations and how often they look.
    pub fn with_operation_wait(mut self, timeout: Duration, poll_interval: Duration) -> Self {
        self.operation_timeout = timeout;
        self.poll_interval = poll_interval;
        self
    }

    /// Sets the time limit of one RPC.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the first retry backoff.
    pub fn with_retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff = backoff;
        self
    }

    /// Sets the age below which the sweep leaves a boot disk or security group no instance
    /// uses (zero: every such one is swept, for a process that knows no other create runs).
    pub fn with_orphan_grace(mut self, grace: Duration) -> Self {
        self.orphan_grace = grace;
        self
    }

    /// Keeps exchanged access tokens in `dir` between processes.
    pub fn with_token_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.token_cache_dir = Some(dir.into());
        self
    }

    /// Sets the control plane's reference id of this credential.
    pub fn with_ref_id(mut self, ref_id: impl Into<String>) -> Self {
        self.ref_id = ref_id.into();
        self
    }

    /// Checks the fields; the error names the first wrong one.
    pub fn validate(&self) -> Result<()> {
        if self.ssh_user.trim().is_empty() {
            return Err(CloudError::invalid(KEY_SSH_USER, "must not be empty"));
        }
        if self.image_family.trim().is_empty() {
            return Err(CloudError::invalid(KEY_IMAGE_FAMILY, "must not be empty"));
        }
        if self.boot_disk_gib == 0 {
            return Err(CloudError::invalid(KEY_BOOT_DISK_GIB, "must be at least 1"));
        }
        for (key, value) in [
            (KEY_REQUEST_TIMEOUT_MS, self.request_timeout),
            (KEY_OPERATION_TIMEOUT_MS, self.operation_timeout),
            (KEY_POLL_INTERVAL_MS, self.poll_interval),
        ] {
            if value.is_zero() {
                return Err(CloudError::invalid(key, "must be at least 1"));
            }
        }
        if let Some(endpoint) = &self.api_endpoint {
            crate::endpoints::Endpoints::single(endpoint)
                .map_err(|e| CloudError::invalid(KEY_API_ENDPOINT, e.to_string()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::tests::{credentials_json, test_key_pem};
    use gpucloud_core::ErrorKind;

    fn settings(pairs: Vec<(&'static str, String)>) -> ProviderSettings {
        ProviderSettings::from_lookup(SETTINGS, move |var| {
            pairs
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn nothing_set_is_not_configured() {
        assert!(
            NebiusConfig::from_settings(&settings(vec![]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_token_config_reads_every_setting_and_hides_the_token() {
        let config = NebiusConfig::from_settings(&settings(vec![
            (IAM_TOKEN_ENV, "t0ken-secret".into()),
            (
                PROJECTS_ENV,
                "eu-north1=project-e00a, us-central1 = project-u00b".into(),
            ),
            (REGIONS_ENV, "eu-north1".into()),
            (API_ENDPOINT_ENV, "http://127.0.0.1:7001".into()),
            (SSH_USER_ENV, "admin".into()),
            (IMAGE_FAMILY_ENV, "ubuntu24.04-cuda12".into()),
            (BOOT_DISK_GIB_ENV, "64".into()),
            ("NEBIUS_REQUEST_TIMEOUT_MS", "1500".into()),
            ("NEBIUS_OPERATION_TIMEOUT_MS", "9000".into()),
            ("NEBIUS_POLL_INTERVAL_MS", "20".into()),
            ("NEBIUS_RETRY_BACKOFF_MS", "7".into()),
            ("NEBIUS_ORPHAN_GRACE_SECS", "30".into()),
            ("NEBIUS_REF_ID", "cred-9".into()),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(config.projects.len(), 2);
        assert_eq!(config.projects["us-central1"], "project-u00b");
        assert_eq!(config.regions, ["eu-north1"]);
        assert_eq!(
            config.api_endpoint.as_deref(),
            Some("http://127.0.0.1:7001")
        );
        assert_eq!(config.ssh_user, "admin");
        assert_eq!(config.image_family, "ubuntu24.04-cuda12");
        assert_eq!(config.boot_disk_gib, 64);
        assert_eq!(config.request_timeout, Duration::from_millis(1500));
        assert_eq!(config.operation_timeout, Duration::from_secs(9));
        assert_eq!(config.poll_interval, Duration::from_millis(20));
        assert_eq!(config.retry_backoff, Duration::from_millis(7));
        assert_eq!(config.orphan_grace, Duration::from_secs(30));
        assert_eq!(config.ref_id, "cred-9");
        assert!(!format!("{config:?}").contains("t0ken-secret"));
    }

    #[test]
    fn a_credentials_file_is_read_and_its_key_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.json");
        std::fs::write(
            &path,
            credentials_json(&test_key_pem(), "publickey-1", "serviceaccount-1"),
        )
        .unwrap();
        let config = NebiusConfig::from_settings(&settings(vec![
            (CREDENTIALS_FILE_ENV, path.display().to_string()),
            (TENANT_ENV, "tenant-e00x".into()),
        ]))
        .unwrap()
        .unwrap();
        let NebiusAuth::ServiceAccount(key) = &config.auth else {
            panic!("a service account");
        };
        assert_eq!(key.service_account_id(), "serviceaccount-1");
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("PRIVATE KEY") && !shown.contains("MII"),
            "{shown}"
        );
        assert_eq!(config.ref_id, "gpucloud-default");
    }

    #[test]
    fn bad_values_name_the_setting_and_its_source() {
        let cases: Vec<(Vec<(&'static str, String)>, &str)> = vec![
            (
                vec![
                    (IAM_TOKEN_ENV, "t".into()),
                    (PROJECTS_ENV, "eu-north1".into()),
                ],
                "projects",
            ),
            (
                vec![
                    (IAM_TOKEN_ENV, "t".into()),
                    (TENANT_ENV, "x".into()),
                    (BOOT_DISK_GIB_ENV, "big".into()),
                ],
                "boot_disk_gib",
            ),
            (
                vec![
                    (IAM_TOKEN_ENV, "t".into()),
                    (TENANT_ENV, "x".into()),
                    (API_ENDPOINT_ENV, "http://203.0.113.9:80".into()),
                ],
                "api_endpoint",
            ),
            (
                vec![
                    (IAM_TOKEN_ENV, "t".into()),
                    (TENANT_ENV, "x".into()),
                    ("NEBIUS_POLL_INTERVAL_MS", "0".into()),
                ],
                "poll_interval_ms",
            ),
            (
                vec![(CREDENTIALS_FILE_ENV, "/nonexistent/creds.json".into())],
                "credentials_file",
            ),
        ];
        for (vars, field) in cases {
            let error = NebiusConfig::from_settings(&settings(vars)).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
            assert!(
                matches!(&error, CloudError::InvalidArgument { field: f, .. } if f == field),
                "{field}: {error}"
            );
        }
    }

    #[test]
    fn the_endpoint_error_says_where_it_came_from() {
        let error = NebiusConfig::from_settings(&settings(vec![
            (IAM_TOKEN_ENV, "t".into()),
            (TENANT_ENV, "x".into()),
            (API_ENDPOINT_ENV, "http://example.com".into()),
        ]))
        .unwrap_err();
        assert!(error.to_string().contains(API_ENDPOINT_ENV), "{error}");
    }
}
