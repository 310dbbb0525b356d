mod config {
    use std::fmt;
    use std::time::Duration;

    use gpucloud::{CloudError, ProviderSettings, Result, SettingKind, SettingSpec};

    /// The variable that holds the API key: also the descriptor's credential variable.
    pub const API_KEY_ENV: &str = "ACME_API_KEY";
    /// Acme's production API.
    pub const DEFAULT_BASE_URL: &str = "https://api.acme.example/v1/";

    const KEY_API_KEY: &str = "api_key";
    const KEY_API_URL: &str = "api_url";
    const KEY_REQUEST_TIMEOUT_MS: &str = "request_timeout_ms";

    /// Every setting of [`AcmeConfig`], one row per field; the variables, the config-file keys
    /// and the CLI's hints are all derived from it.
    pub const SETTINGS: &[SettingSpec] = &[
        SettingSpec {
            key: KEY_API_KEY,
            env: API_KEY_ENV,
            kind: SettingKind::Text,
            default: None,
            secret: true,
            description: "API key from the Acme console",
        },
        SettingSpec {
            key: KEY_API_URL,
            env: "ACME_API_URL",
            kind: SettingKind::Url,
            default: Some(DEFAULT_BASE_URL),
            secret: false,
            description: "API root; plain http only for loopback (the fake)",
        },
        SettingSpec {
            key: KEY_REQUEST_TIMEOUT_MS,
            env: "ACME_REQUEST_TIMEOUT_MS",
            kind: SettingKind::Integer,
            default: Some("30000"),
            secret: false,
            description: "time limit of one HTTP request in milliseconds",
        },
        SettingSpec::ref_id("ACME_REF_ID"),
    ];

    /// How to reach one Acme account. `Debug` never shows the key.
    #[derive(Clone)]
    pub struct AcmeConfig {
        pub api_key: String,
        pub base_url: String,
        pub request_timeout: Duration,
        pub ref_id: String,
    }

    impl fmt::Debug for AcmeConfig {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("AcmeConfig")
                .field("api_key", &"[redacted]")
                .field("base_url", &self.base_url)
                .field("request_timeout", &self.request_timeout)
                .field("ref_id", &self.ref_id)
                .finish()
        }
    }

    impl AcmeConfig {
        /// The configuration from the process environment; `None` without a key.
        pub fn from_env() -> Result<Option<Self>> {
            Self::from_settings(&ProviderSettings::from_env(SETTINGS))
        }

        /// The configuration from settings read against [`SETTINGS`], by `from_env` or by the
        /// facade (environment, then the config file). A value that does not parse is an
        /// `InvalidArgument` naming the setting and where the value came from.
        pub fn from_settings(settings: &ProviderSettings) -> Result<Option<Self>> {
            let Some(api_key) = settings.text(KEY_API_KEY) else {
                return Ok(None);
            };
            let timeout_ms: u64 = settings.parse(KEY_REQUEST_TIMEOUT_MS)?.unwrap_or(30_000);
            if timeout_ms == 0 {
                return Err(CloudError::invalid(KEY_REQUEST_TIMEOUT_MS, "must be at least 1"));
            }
            Ok(Some(Self {
                api_key: api_key.to_owned(),
                base_url: settings.text(KEY_API_URL).unwrap_or(DEFAULT_BASE_URL).to_owned(),
                request_timeout: Duration::from_millis(timeout_ms),
                ref_id: settings.ref_id(),
            }))
        }
    }
}
