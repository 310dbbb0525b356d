//! Where provider settings come from: environment variables, then the config file.
//!
//! The file is TOML with named profiles, one table per provider:
//!
//! ```toml
//! [profiles.default.lambda]
//! api_key = "secret_..."
//!
//! [profiles.work.lambda]
//! api_key = "secret_..."
//! api_url = "http://127.0.0.1:8080"
//! ```
//!
//! A provider table may be named by the provider's short name (`lambda`) or its id
//! (`lambda-labs`). An environment variable wins over the file, setting by setting. A file that
//! holds a secret and is accessible by group or others is refused.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use gpucloud_core::{CloudError, ProviderDescriptor, ProviderSettings, Result, SettingSource};

pub use gpucloud_core::settings::DEFAULT_PROFILE;

/// Environment variable naming the config file (default `~/.config/gpucloud/config.toml`).
pub const CONFIG_ENV: &str = "GPUCLOUD_CONFIG";
/// Environment variable naming the profile (default [`DEFAULT_PROFILE`]).
pub const PROFILE_ENV: &str = "GPUCLOUD_PROFILE";

/// How to find the config file and profile. `None` falls back to the environment
/// ([`CONFIG_ENV`], [`PROFILE_ENV`]) and then to the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// The config file (e.g. from a `--config` flag).
    pub path: Option<PathBuf>,
    /// The profile (e.g. from a `--profile` flag).
    pub profile: Option<String>,
}

/// Provider settings from the environment and the config file, for one profile.
///
/// Build it with [`Config::load`] (process environment), [`Config::load_with`] (an injected
/// environment, for tests), or [`Config::empty`] plus [`Config::with_env`].
#[derive(Clone)]
pub struct Config {
    path: Option<PathBuf>,
    profile: String,
    /// Provider table name (as written) → key → value, for the selected profile.
    file: BTreeMap<String, BTreeMap<String, String>>,
    /// The provider environment variables that were set (non-empty).
    env: BTreeMap<String, String>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: Vec<&String> = self.env.keys().collect();
        let tables: Vec<&String> = self.file.keys().collect();
        f.debug_struct("Config")
            .field("path", &self.path)
            .field("profile", &self.profile)
            .field("file_tables", &tables)
            .field("env_vars_set", &env)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::empty()
    }
}

impl Config {
    /// No file and no environment: only implicit providers (e.g. `local` as root) are configured.
    pub fn empty() -> Self {
        Self {
            path: None,
            profile: DEFAULT_PROFILE.to_owned(),
            file: BTreeMap::new(),
            env: BTreeMap::new(),
        }
    }

    /// Sets an environment value as if the variable were set (an empty value unsets it).
    pub fn with_env(mut self, var: impl Into<String>, value: impl Into<String>) -> Self {
        let value = value.into();
        let var = var.into();
        if value.is_empty() {
            self.env.remove(&var);
        } else {
            self.env.insert(var, value);
        }
        self
    }

    /// Loads the config from the process environment and the config file.
    pub fn load(options: &LoadOptions) -> Result<Self> {
        Self::load_with(options, |var| std::env::var(var).ok())
    }

    /// Loads the config with `env` as the environment.
    pub fn load_with(options: &LoadOptions, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let non_empty = |var: &str| env(var).filter(|v| !v.is_empty());
        let (path, explicit) = file_path_with(options, &non_empty);
        let (profile, profile_from) = match (&options.profile, non_empty(PROFILE_ENV)) {
            (Some(p), _) => (p.clone(), Some("--profile")),
            (None, Some(p)) => (p, Some(PROFILE_ENV)),
            (None, None) => (DEFAULT_PROFILE.to_owned(), None),
        };

        let mut captured = BTreeMap::new();
        for spec in crate::providers().iter().flat_map(|d| d.settings) {
            if let Some(value) = non_empty(spec.env) {
                captured.insert(spec.env.to_owned(), value);
            }
        }

        let mut config = Self {
            path: None,
            profile: profile.clone(),
            file: BTreeMap::new(),
            env: captured,
        };
        let Some(path) = path else {
            if let Some(from) = profile_from.filter(|_| profile != DEFAULT_PROFILE) {
                return Err(CloudError::configuration(format!(
                    "profile `{profile}` (from {from}) was asked for, but no config file was found; \
                     set {CONFIG_ENV} or create ~/.config/gpucloud/config.toml"
                )));
            }
            return Ok(config);
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
                if let Some(from) = profile_from.filter(|_| profile != DEFAULT_PROFILE) {
                    return Err(CloudError::configuration(format!(
                        "profile `{profile}` (from {from}) was asked for, but there is no config file at {}",
                        path.display()
                    )));
                }
                return Ok(config);
            }
            Err(e) => {
                let from = explicit.map(|f| format!(" (from {f})")).unwrap_or_default();
                return Err(CloudError::configuration(format!(
                    "cannot read config file {}{from}: {e}",
                    path.display()
                )));
            }
        };
        let profiles = parse_file(&path, &text)?;
        check_permissions(&path, &profiles)?;
        match profiles.get(&profile) {
            Some(tables) => config.file.clone_from(tables),
            None if profile == DEFAULT_PROFILE => {}
            None => {
                let known: Vec<&str> = profiles.keys().map(String::as_str).collect();
                let known = if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                };
                return Err(CloudError::configuration(format!(
                    "profile `{profile}` is not in {} (profiles there: {known})",
                    path.display()
                )));
            }
        }
        config.path = Some(path);
        Ok(config)
    }

    /// The selected profile.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// A provider's settings for the selected profile: each one from its environment
    /// variable when set, else from the provider's table in the file (named by its short name
    /// or its id).
    pub fn settings(&self, provider: &ProviderDescriptor) -> ProviderSettings {
        let mut settings = ProviderSettings::new(self.profile.clone());
        for spec in provider.settings {
            let from_file = [provider.name, provider.id]
                .into_iter()
                .find_map(|table| self.file.get(table)?.get(spec.key));
            if let Some(value) = from_file {
                let source = SettingSource::File {
                    path: self.path.clone().unwrap_or_default(),
                    profile: self.profile.clone(),
                };
                settings.set(spec, value.clone(), source);
            }
            if let Some(value) = self.env.get(spec.env) {
                settings.set(spec, value.clone(), SettingSource::Env(spec.env));
            }
        }
        settings
    }

    /// The place a user should put settings: the file read, or the default location.
    pub fn suggested_path(&self) -> String {
        self.path.as_ref().map_or_else(
            || "~/.config/gpucloud/config.toml".to_owned(),
            |p| p.display().to_string(),
        )
    }
}

/// The config file [`Config::load`] reads for `options`: the given path, else [`CONFIG_ENV`],
/// else `$XDG_CONFIG_HOME/gpucloud/config.toml`, else `$HOME/.config/gpucloud/config.toml`;
/// `None` without any of them. The file need not exist (a command that writes one asks here).
pub fn config_file_path(options: &LoadOptions) -> Option<PathBuf> {
    let non_empty = |var: &str| std::env::var(var).ok().filter(|v| !v.is_empty());
    file_path_with(options, &non_empty).0
}

/// The config file for `options` with `env` as the (non-empty) environment, and what named
/// it explicitly (`--config` or [`CONFIG_ENV`]; `None` for the default location).
fn file_path_with(
    options: &LoadOptions,
    env: &impl Fn(&str) -> Option<String>,
) -> (Option<PathBuf>, Option<&'static str>) {
    match (&options.path, env(CONFIG_ENV)) {
        (Some(path), _) => (Some(path.clone()), Some("--config")),
        (None, Some(path)) => (Some(PathBuf::from(path)), Some(CONFIG_ENV)),
        (None, None) => (default_path(env), None),
    }
}

/// `$XDG_CONFIG_HOME/gpucloud/config.toml`, else `$HOME/.config/gpucloud/config.toml`.
fn default_path(env: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(xdg) = env("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(xdg).join("gpucloud").join("config.toml"));
    }
    env("HOME").map(|home| {
        PathBuf::from(home)
            .join(".config")
            .join("gpucloud")
            .join("config.toml")
    })
}

type Profiles = BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>;

/// Parses the file into profile → provider table → key → value, refusing unknown top-level
/// keys and unknown settings of known providers.
fn parse_file(path: &Path, text: &str) -> Result<Profiles> {
    let shown = path.display();
    let root: toml::Table = toml::from_str(text).map_err(|e| {
        let msg = e.message().trim().to_owned();
        CloudError::configuration(format!("config file {shown} is not valid TOML: {msg}"))
    })?;
    let mut profiles = Profiles::new();
    for (key, value) in root {
        if key != "profiles" {
            return Err(CloudError::configuration(format!(
                "config file {shown}: unknown top-level key `{key}`; expected [profiles.<name>.<provider>] tables"
            )));
        }
        let toml::Value::Table(by_name) = value else {
            return Err(CloudError::configuration(format!(
                "config file {shown}: `profiles` must be a table"
            )));
        };
        for (profile, tables) in by_name {
            let toml::Value::Table(tables) = tables else {
                return Err(CloudError::configuration(format!(
                    "config file {shown}: `profiles.{profile}` must be a table of provider tables"
                )));
            };
            let mut providers = BTreeMap::new();
            for (table, settings) in tables {
                let toml::Value::Table(settings) = settings else {
                    return Err(CloudError::configuration(format!(
                        "config file {shown}: `profiles.{profile}.{table}` must be a table of settings"
                    )));
                };
                let descriptor = crate::find_provider(&table);
                if descriptor.is_none() {
                    tracing::warn!(
                        path = %shown,
                        profile = %profile,
                        table = %table,
                        "config names a provider this build does not know; ignored"
                    );
                }
                let mut values = BTreeMap::new();
                for (key, value) in settings {
                    if let Some(d) = descriptor
                        && d.setting(&key).is_none()
                    {
                        let known: Vec<&str> = d.settings.iter().map(|s| s.key).collect();
                        return Err(CloudError::configuration(format!(
                            "config file {shown}: unknown setting `{key}` in [profiles.{profile}.{table}]; known: {}",
                            known.join(", ")
                        )));
                    }
                    let text = match value {
                        toml::Value::String(s) => s,
                        toml::Value::Integer(i) => i.to_string(),
                        toml::Value::Float(f) => f.to_string(),
                        toml::Value::Boolean(b) => b.to_string(),
                        _ => {
                            return Err(CloudError::configuration(format!(
                                "config file {shown}: `profiles.{profile}.{table}.{key}` must be a string, number or boolean"
                            )));
                        }
                    };
                    values.insert(key, text);
                }
                providers.insert(table, values);
            }
            profiles.insert(profile, providers);
        }
    }
    Ok(profiles)
}

/// True when any profile holds a value of a secret setting.
fn holds_secret(profiles: &Profiles) -> bool {
    profiles
        .values()
        .flat_map(BTreeMap::iter)
        .any(|(table, values)| {
            let secret_keys: Vec<&str> = match crate::find_provider(table) {
                Some(d) => d
                    .settings
                    .iter()
                    .filter(|s| s.secret)
                    .map(|s| s.key)
                    .collect(),
                None => Vec::new(),
            };
            values.keys().any(|k| {
                secret_keys.contains(&k.as_str())
                    || ["key", "secret", "token", "password"]
                        .iter()
                        .any(|w| k.ends_with(w))
            })
        })
}

#[cfg(unix)]
fn check_permissions(path: &Path, profiles: &Profiles) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;

    if !holds_secret(profiles) {
        return Ok(());
    }
    let meta = std::fs::metadata(path).map_err(|e| {
        CloudError::configuration(format!("cannot read config file {}: {e}", path.display()))
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CloudError::configuration(format!(
            "config file {} holds secrets but is accessible by group or others (mode {mode:03o}); \
             run `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _profiles: &Profiles) -> Result<()> {
    Ok(())
}

#[cfg(all(test, feature = "lambda"))]
mod tests {
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::find_provider;
    use crate::registry::configured_provider;

    fn write(dir: &Path, text: &str, mode: u32) -> PathBuf {
        let path = dir.join("config.toml");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn load(env: &[(&str, &str)], options: &LoadOptions) -> Result<Config> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::load_with(options, |var| env.get(var).cloned())
    }

    #[test]
    #[cfg(feature = "lambda")]
    fn numeric_lambda_settings_are_parsed_or_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "", 0o600);
        let options = LoadOptions {
            path: Some(path),
            profile: None,
        };
        let base = [
            ("LAMBDA_API_KEY", "k"),
            ("LAMBDA_API_URL", "http://127.0.0.1:9"),
        ];
        let ok = load(
            &[base[0], base[1], ("LAMBDA_ORPHAN_RULESET_GRACE_SECS", "60")],
            &options,
        )
        .unwrap();
        assert!(configured_provider(&ok, "lambda").is_ok());
        for (var, field) in [
            (
                "LAMBDA_ORPHAN_RULESET_GRACE_SECS",
                "orphan_ruleset_grace_secs",
            ),
            ("LAMBDA_REQUESTS_PER_SECOND", "requests_per_second"),
            ("LAMBDA_LAUNCH_INTERVAL_MS", "launch_interval_ms"),
        ] {
            let config = load(&[base[0], base[1], (var, "soon")], &options).unwrap();
            match configured_provider(&config, "lambda") {
                Err(CloudError::InvalidArgument { field: f, problem }) => {
                    assert_eq!(f, field);
                    assert!(
                        problem.contains("is not a valid") && problem.contains(var),
                        "{problem}"
                    );
                }
                Err(other) => panic!("{var}: unexpected {other}"),
                Ok(_) => panic!("{var}: accepted a non-number"),
            }
        }
    }

    #[test]
    fn env_wins_over_the_file_setting_by_setting() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "[profiles.default.lambda]\napi_key = \"from-file\"\napi_url = \"http://127.0.0.1:9\"\n",
            0o600,
        );
        let options = LoadOptions {
            path: Some(path.clone()),
            profile: None,
        };
        let lambda = find_provider("lambda").unwrap();

        let config = load(&[("LAMBDA_API_KEY", "from-env")], &options).unwrap();
        let key = config.settings(lambda).get("api_key").cloned().unwrap();
        assert_eq!(key.value(), "from-env");
        assert_eq!(key.source(), &SettingSource::Env("LAMBDA_API_KEY"));
        let url = config.settings(lambda).get("api_url").cloned().unwrap();
        assert_eq!(url.value(), "http://127.0.0.1:9");
        assert_eq!(
            url.source(),
            &SettingSource::File {
                path,
                profile: "default".into()
            }
        );

        // An empty variable counts as unset.
        let config = load(&[("LAMBDA_API_KEY", "")], &options).unwrap();
        assert_eq!(
            config
                .settings(lambda)
                .get("api_key")
                .cloned()
                .unwrap()
                .value(),
            "from-file"
        );
    }

    #[test]
    fn profiles_are_selected_by_option_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[profiles.default.lambda]\napi_key = \"a\"\n[profiles.work.lambda-labs]\napi_key = \"b\"\n";
        let path = write(dir.path(), text, 0o600);
        let lambda = find_provider("lambda").unwrap();
        let env = [
            ("GPUCLOUD_CONFIG", path.to_str().unwrap()),
            ("GPUCLOUD_PROFILE", "work"),
        ];
        let config = load(&env, &LoadOptions::default()).unwrap();
        assert_eq!(config.profile(), "work");
        assert_eq!(
            config
                .settings(lambda)
                .get("api_key")
                .cloned()
                .unwrap()
                .value(),
            "b",
            "tables may use the provider id"
        );
        let config = load(
            &env,
            &LoadOptions {
                path: None,
                profile: Some("default".into()),
            },
        )
        .unwrap();
        assert_eq!(
            config
                .settings(lambda)
                .get("api_key")
                .cloned()
                .unwrap()
                .value(),
            "a"
        );
        let error = load(
            &env,
            &LoadOptions {
                path: None,
                profile: Some("staging".into()),
            },
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("profile `staging` is not in"),
            "{error}"
        );
        assert!(error.to_string().contains("default, work"), "{error}");
    }

    #[test]
    fn a_secret_file_open_to_others_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "[profiles.default.lambda]\napi_key = \"k\"\n",
            0o640,
        );
        let error = load(
            &[],
            &LoadOptions {
                path: Some(path.clone()),
                profile: None,
            },
        )
        .unwrap_err();
        assert_eq!(error.kind(), gpucloud_core::ErrorKind::Configuration);
        assert!(
            error
                .to_string()
                .contains(&format!("chmod 600 {}", path.display())),
            "{error}"
        );
        // Without secrets the mode does not matter.
        let path = write(
            dir.path(),
            "[profiles.default.lambda]\napi_url = \"http://127.0.0.1:9\"\n",
            0o644,
        );
        load(
            &[],
            &LoadOptions {
                path: Some(path),
                profile: None,
            },
        )
        .unwrap();
    }

    #[test]
    fn bad_files_are_refused_with_the_place_named() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "[profiles.default.lambda]\napikey = \"k\"\n",
                "unknown setting `apikey`",
            ),
            ("[profiles.default.lambda\n", "not valid TOML"),
            ("region = \"x\"\n", "unknown top-level key `region`"),
            (
                "[profiles.default.lambda]\napi_url = [1]\n",
                "must be a string",
            ),
        ];
        for (text, needle) in cases {
            let path = write(dir.path(), text, 0o600);
            let error = load(
                &[],
                &LoadOptions {
                    path: Some(path),
                    profile: None,
                },
            )
            .unwrap_err();
            assert!(error.to_string().contains(needle), "{text:?}: {error}");
        }
        let error = load(
            &[("GPUCLOUD_CONFIG", "/nonexistent/x.toml")],
            &LoadOptions::default(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("GPUCLOUD_CONFIG"), "{error}");
    }

    #[test]
    fn the_file_path_is_the_flag_then_the_variable_then_the_default() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |var: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == var)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let flag = LoadOptions {
            path: Some(PathBuf::from("/flag.toml")),
            ..LoadOptions::default()
        };
        let both = env(&[(CONFIG_ENV, "/env.toml"), ("HOME", "/home/u")]);
        assert_eq!(
            file_path_with(&flag, &both),
            (Some(PathBuf::from("/flag.toml")), Some("--config"))
        );
        assert_eq!(
            file_path_with(&LoadOptions::default(), &both),
            (Some(PathBuf::from("/env.toml")), Some(CONFIG_ENV))
        );
        assert_eq!(
            file_path_with(&LoadOptions::default(), &env(&[("HOME", "/home/u")])).0,
            Some(PathBuf::from("/home/u/.config/gpucloud/config.toml"))
        );
        assert_eq!(
            file_path_with(&LoadOptions::default(), &env(&[])),
            (None, None)
        );
    }

    #[test]
    fn a_missing_default_file_is_fine_but_a_named_profile_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        let config = load(&[("HOME", home)], &LoadOptions::default()).unwrap();
        assert_eq!(config.suggested_path(), "~/.config/gpucloud/config.toml");
        let error = load(
            &[("HOME", home), ("GPUCLOUD_PROFILE", "work")],
            &LoadOptions::default(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("profile `work`"), "{error}");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let config = Config::empty().with_env("LAMBDA_API_KEY", "very-secret-key");
        assert!(!format!("{config:?}").contains("very-secret-key"));
        let lambda = find_provider("lambda").unwrap();
        let setting = config.settings(lambda).get("api_key").cloned().unwrap();
        assert!(!format!("{setting:?}").contains("very-secret-key"));
        let entry = configured_provider(&config, "lambda").unwrap();
        assert!(!format!("{entry:?}").contains("very-secret-key"));
        assert_eq!(entry.source.to_string(), "env LAMBDA_API_KEY");
    }

    #[test]
    fn unconfigured_and_unknown_providers_say_what_to_do() {
        let error = configured_provider(&Config::empty(), "lambda").unwrap_err();
        assert_eq!(error.kind(), gpucloud_core::ErrorKind::Configuration);
        assert!(error.to_string().contains("set LAMBDA_API_KEY"), "{error}");
        let error = configured_provider(&Config::empty(), "nimbus").unwrap_err();
        assert_eq!(error.kind(), gpucloud_core::ErrorKind::InvalidArgument);
        assert!(
            error.to_string().contains("known: lambda (lambda-labs)"),
            "{error}"
        );
        assert!(find_provider("LAMBDA-LABS").is_some());
    }
}
