//! The credentials built from a [`Config`] for the providers of this build.
//!
//! Nothing here knows a provider: each one's names, settings and constructor come from its
//! [`ProviderDescriptor`], registered in the crate root.

use std::sync::Arc;

use gpucloud_core::{
    Activation, Build, CloudCredential, CloudError, CredentialSource, ProviderDescriptor, Result,
};

use crate::config::Config;
use crate::{find_provider, providers};

/// A configured provider: its descriptor, a credential, and where the settings came from.
#[derive(Debug, Clone)]
pub struct ProviderEntry {
    /// The provider.
    pub descriptor: &'static ProviderDescriptor,
    /// Its credential.
    pub credential: Arc<dyn CloudCredential>,
    /// Where its settings came from.
    pub source: CredentialSource,
}

fn known_names() -> String {
    if providers().is_empty() {
        return "none (this build has no provider features)".to_owned();
    }
    providers()
        .iter()
        .map(|d| format!("{} ({})", d.name, d.id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The provider named `name`, or an `InvalidArgument` error on `provider` listing the known ones.
pub fn lookup(name: &str) -> Result<&'static ProviderDescriptor> {
    find_provider(name).ok_or_else(|| {
        CloudError::invalid(
            "provider",
            format!("unknown provider `{name}`; known: {}", known_names()),
        )
    })
}

/// How to set `key` of `provider`: the variable to set or the file line to add.
fn how_to_set(config: &Config, provider: &ProviderDescriptor, key: &str) -> String {
    let file = format!(
        "add `{key} = \"...\"` under [profiles.{}.{}] in {}",
        config.profile(),
        provider.name,
        config.suggested_path()
    );
    match provider.setting(key) {
        Some(spec) => format!("set {} or {file}", spec.env),
        None => file,
    }
}

/// What makes `provider` available, for people: the setting to set (variable or file line),
/// or the condition under which it needs no configuration.
pub fn how_to_configure(config: &Config, provider: &ProviderDescriptor) -> String {
    match provider.activation {
        Activation::Setting(key) => how_to_set(config, provider, key),
        Activation::Implicit(when) => format!("available when {when}"),
    }
}

/// Runs `provider`'s constructor: the entry, or why it is not configured.
fn build(
    config: &Config,
    provider: &'static ProviderDescriptor,
) -> Result<std::result::Result<ProviderEntry, String>> {
    Ok(match (provider.build)(&config.settings(provider))? {
        Build::Ready(credential, source) => Ok(ProviderEntry {
            descriptor: provider,
            credential,
            source,
        }),
        Build::Missing(key) => Err(how_to_set(config, provider, key)),
        Build::Unavailable(why) => Err(why),
    })
}

/// What a configuration makes of one provider of this build.
#[derive(Debug)]
pub enum ProviderSetup {
    /// Configured and ready to use.
    Ready(ProviderEntry),
    /// Not configured (nothing of it is set, or it cannot run here); nothing is wrong.
    NotConfigured {
        /// The provider.
        descriptor: &'static ProviderDescriptor,
        /// What would configure it, for people.
        how: String,
    },
    /// Configured wrongly: some of its settings are set but they do not make a credential (a
    /// setting missing beside the others, a malformed URL).
    Broken {
        /// The provider.
        descriptor: &'static ProviderDescriptor,
        /// What is wrong, naming the setting.
        error: CloudError,
    },
}

/// What `config` makes of every provider of this build, in registry order: a caller that spans
/// providers uses the ready ones and reports the broken ones, so one wrongly configured
/// provider never hides the others.
pub fn provider_setups(config: &Config) -> Vec<ProviderSetup> {
    providers()
        .iter()
        .map(|descriptor| match build(config, descriptor) {
            Ok(Ok(entry)) => ProviderSetup::Ready(entry),
            Ok(Err(how)) => ProviderSetup::NotConfigured { descriptor, how },
            Err(error) => ProviderSetup::Broken { descriptor, error },
        })
        .collect()
}

/// Every provider that `config` configures, in registry order. A provider that is not
/// configured is skipped; one that is configured wrongly (e.g. a malformed URL) is an error
/// ([`provider_setups`] reports it beside the others instead).
pub fn configured_providers(config: &Config) -> Result<Vec<ProviderEntry>> {
    let mut entries = Vec::new();
    for setup in provider_setups(config) {
        match setup {
            ProviderSetup::Ready(entry) => entries.push(entry),
            ProviderSetup::NotConfigured { descriptor, how } => {
                tracing::debug!(provider = descriptor.id, %how, "provider not configured");
            }
            ProviderSetup::Broken { error, .. } => return Err(error),
        }
    }
    Ok(entries)
}

/// The provider named `name`, configured from `config`: `InvalidArgument` when the name is
/// unknown, `Configuration` (saying what to set) when it is not configured.
pub fn configured_provider(config: &Config, name: &str) -> Result<ProviderEntry> {
    let provider = lookup(name)?;
    build(config, provider)?.map_err(|why| {
        CloudError::configuration(format!(
            "provider {} is not configured: {why}",
            provider.name
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};
    use std::fmt::Write as _;
    use std::os::unix::fs::PermissionsExt;

    use gpucloud_core::{ErrorKind, SettingKind, SettingSource, SettingSpec};

    use super::*;
    use crate::config::LoadOptions;

    /// With the default features, the registry holds exactly one descriptor per provider
    /// feature (a feature that enables a `gpucloud-*` crate, named like the provider), read
    /// from this crate's manifest: registering a provider needs nothing in the facade but its
    /// `register!` line and its feature, and forgetting either fails here.
    #[cfg(feature = "default")]
    #[test]
    fn the_registry_holds_one_descriptor_per_provider_feature() {
        let manifest: toml::Table = include_str!("../Cargo.toml").parse().expect("the manifest");
        let features = manifest["features"].as_table().expect("a [features] table");
        let enables_provider = |feature: &str| {
            features[feature].as_array().is_some_and(|deps| {
                deps.iter()
                    .any(|d| d.as_str().is_some_and(|d| d.starts_with("dep:gpucloud-")))
            })
        };
        let mut expected: Vec<&str> = features["default"]
            .as_array()
            .expect("default features")
            .iter()
            .filter_map(toml::Value::as_str)
            .filter(|feature| enables_provider(feature))
            .collect();
        let mut registered: Vec<&str> = providers().iter().map(|d| d.name).collect();
        expected.sort_unstable();
        registered.sort_unstable();
        assert_eq!(registered, expected);
    }

    /// What every descriptor must hold so that the generic config, hints and CLI work for it.
    #[test]
    fn every_descriptor_is_self_consistent() {
        let mut names = BTreeSet::new();
        let mut vars = BTreeSet::new();
        for d in providers() {
            // A provider may use its id as its short name, but no two providers share a name.
            assert!(names.insert(d.id), "{} clashes", d.id);
            assert!(d.name == d.id || names.insert(d.name), "{} clashes", d.name);
            assert!(find_provider(d.id).is_some_and(|f| f.id == d.id));
            assert!(!d.display_name.is_empty() && !d.description.is_empty());
            let mut keys = BTreeSet::new();
            for spec in d.settings {
                assert!(keys.insert(spec.key), "{}: {} twice", d.id, spec.key);
                assert!(
                    !spec.env.is_empty(),
                    "{}: {} has no variable",
                    d.id,
                    spec.key
                );
                assert!(vars.insert(spec.env), "{} is read twice", spec.env);
            }
            assert!(keys.contains("ref_id"), "{}: no ref_id setting", d.id);
            if let Activation::Setting(key) = d.activation {
                assert!(d.setting(key).is_some(), "{}: {key} not in its table", d.id);
                assert_eq!(d.credential_env(), d.setting(key).map(|s| s.env));
            }
        }
    }

    /// A value of the setting's kind that no default equals.
    fn sample(spec: &SettingSpec) -> &'static str {
        match spec.kind {
            SettingKind::Url => "http://127.0.0.1:7",
            SettingKind::Path => "/tmp/gpucloud-sample",
            SettingKind::Integer => "17",
            SettingKind::Number => "2.5",
            SettingKind::Cidr => "10.77.0.0/24",
            _ => "sample-value",
        }
    }

    fn config_file(dir: &std::path::Path, text: &str) -> LoadOptions {
        let path = dir.join("config.toml");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        LoadOptions {
            path: Some(path),
            profile: Some("work".into()),
        }
    }

    /// Every setting of every provider is read from its variable and from the file, and the
    /// variable wins: no provider needs facade code for its settings.
    #[test]
    fn every_setting_is_read_from_env_and_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for d in providers() {
            let mut text = format!("[profiles.work.{}]\n", d.name);
            for spec in d.settings {
                writeln!(text, "{} = {:?}", spec.key, sample(spec)).unwrap();
            }
            let options = config_file(dir.path(), &text);
            let from_file = Config::load_with(&options, |_| None).unwrap();
            let from_env = Config::load_with(&options, |var| {
                let spec = d.settings.iter().find(|s| s.env == var)?;
                Some(format!("{}-env", sample(spec)))
            })
            .unwrap();
            for spec in d.settings {
                let file = from_file.settings(d);
                let setting = file.get(spec.key).unwrap();
                assert_eq!(setting.value(), sample(spec), "{}.{}", d.name, spec.key);
                assert!(
                    matches!(setting.source(), SettingSource::File { profile, .. } if profile == "work")
                );
                let env = from_env.settings(d);
                let setting = env.get(spec.key).unwrap();
                assert_eq!(setting.value(), format!("{}-env", sample(spec)));
                assert_eq!(setting.source(), &SettingSource::Env(spec.env));
            }
        }
    }

    fn load(env: &[(&str, &str)], options: &LoadOptions) -> Config {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::load_with(options, |var| env.get(var).cloned()).unwrap()
    }

    /// A half-configured provider is reported beside the ready ones instead of failing them.
    #[cfg(all(feature = "lambda", feature = "fluidstack"))]
    #[test]
    fn a_broken_provider_is_reported_beside_the_ready_ones() {
        let env = [
            ("LAMBDA_API_KEY", "k"),
            ("FLUIDSTACK_API_KEY", "k"),
            ("FLUIDSTACK_REGIONS", "us-east-1"),
        ];
        let config = load(&env, &LoadOptions::default());
        let setups = provider_setups(&config);
        assert_eq!(setups.len(), providers().len());
        let state = |name: &str| {
            setups.iter().find_map(|setup| match setup {
                ProviderSetup::Ready(entry) if entry.descriptor.name == name => Some("ready"),
                ProviderSetup::NotConfigured { descriptor, .. } if descriptor.name == name => {
                    Some("not configured")
                }
                ProviderSetup::Broken { descriptor, error } if descriptor.name == name => {
                    assert!(error.to_string().contains("FLUIDSTACK_PROJECT"), "{error}");
                    Some("broken")
                }
                _ => None,
            })
        };
        assert_eq!(state("lambda"), Some("ready"));
        assert_eq!(state("fluidstack"), Some("broken"));
        assert_eq!(state("shadeform"), Some("not configured"));
        assert!(
            configured_providers(&config).is_err(),
            "the strict form still refuses"
        );
    }

    #[cfg(feature = "lambda")]
    #[test]
    fn every_lambda_field_is_configured_from_env_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[profiles.work.lambda]\napi_key = \"k\"\napi_url = \"http://127.0.0.1:9\"\n\
            requests_per_second = 4.5\nlaunch_interval_ms = 10\nrequest_timeout_ms = 2500\n\
            retry_backoff_ms = 7\norphan_ruleset_grace_secs = 30\nref_id = \"file-ref\"\n";
        let options = config_file(dir.path(), text);
        let read = |config: &Config| {
            let entry = configured_provider(config, "lambda").unwrap();
            let identity = entry.credential.identity().clone();
            let settings = config.settings(&gpucloud_lambda::DESCRIPTOR);
            let lambda = gpucloud_lambda::LambdaConfig::from_settings(&settings)
                .unwrap()
                .unwrap();
            (identity, lambda)
        };
        let (identity, config) = read(&load(&[], &options));
        assert_eq!(identity.reference_id(), "file-ref");
        assert_eq!(config.effective_base_url(), "http://127.0.0.1:9");
        assert_eq!(config.requests_per_second, Some(4.5));
        assert_eq!(config.launch_interval_ms, Some(10));
        assert_eq!(config.request_timeout_ms, Some(2500));
        assert_eq!(config.retry_backoff_ms, Some(7));
        assert_eq!(config.orphan_ruleset_grace_secs, Some(30));
        let env = [
            ("LAMBDA_REQUEST_TIMEOUT_MS", "3000"),
            ("LAMBDA_RETRY_BACKOFF_MS", "8"),
            ("LAMBDA_REF_ID", "env-ref"),
        ];
        let (identity, config) = read(&load(&env, &options));
        assert_eq!(identity.reference_id(), "env-ref");
        assert_eq!(config.request_timeout_ms, Some(3000));
        assert_eq!(config.retry_backoff_ms, Some(8));
        assert_eq!(
            config.launch_interval_ms,
            Some(10),
            "the file still fills the rest"
        );

        let bad = "[profiles.work.lambda]\napi_key = \"k\"\nretry_backoff_ms = \"soon\"\n";
        let options = config_file(dir.path(), bad);
        let error = configured_provider(&load(&[], &options), "lambda").unwrap_err();
        assert!(
            matches!(&error, CloudError::InvalidArgument { field, problem }
                if field == "retry_backoff_ms" && problem.contains("config.toml [profile work]")),
            "{error}"
        );
        let error = configured_provider(
            &load(&[("LAMBDA_REQUEST_TIMEOUT_MS", "-5")], &options),
            "lambda",
        )
        .unwrap_err();
        assert!(
            matches!(&error, CloudError::InvalidArgument { field, problem }
                if field == "request_timeout_ms" && problem.contains("env LAMBDA_REQUEST_TIMEOUT_MS")),
            "{error}"
        );
    }

    #[cfg(feature = "local")]
    #[test]
    fn every_local_field_is_read_and_a_bad_subnet_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[profiles.work.local]\nstate_dir = \"/tmp/l\"\nsubnet = \"10.5.0.0/24\"\nref_id = \"r\"\n";
        let options = config_file(dir.path(), text);
        let settings = load(&[], &options).settings(&gpucloud_local::DESCRIPTOR);
        let config = gpucloud_local::LocalConfig::from_settings(&settings).unwrap();
        assert_eq!(config.state_dir, std::path::PathBuf::from("/tmp/l"));
        assert_eq!(config.subnet, "10.5.0.0/24");
        assert_eq!(config.ref_id, "r");
        let settings = load(&[("GPUCLOUD_LOCAL_SUBNET", "10.5.0.0/99")], &options)
            .settings(&gpucloud_local::DESCRIPTOR);
        let error = gpucloud_local::LocalConfig::from_settings(&settings).unwrap_err();
        assert!(
            matches!(&error, CloudError::InvalidArgument { field, problem }
                if field == "subnet" && problem.contains("env GPUCLOUD_LOCAL_SUBNET")),
            "{error}"
        );
    }

    #[test]
    fn hints_come_from_the_descriptor() {
        let config = Config::empty();
        for d in providers() {
            let hint = how_to_configure(&config, d);
            match d.activation {
                Activation::Setting(_) => {
                    let var = d.credential_env().unwrap();
                    assert!(hint.contains(&format!("set {var}")), "{hint}");
                    assert!(
                        hint.contains(&format!("[profiles.default.{}]", d.name)),
                        "{hint}"
                    );
                }
                Activation::Implicit(when) => assert!(hint.contains(when), "{hint}"),
            }
            if let Err(e) = configured_provider(&config, d.name)
                && e.kind() == ErrorKind::Configuration
                && let Activation::Setting(_) = d.activation
            {
                assert!(e.to_string().contains(&hint), "{e}");
            }
        }
    }
}
