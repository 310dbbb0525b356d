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

/// Every provider that `config` configures, in registry order. A provider that is not
/// configured is skipped; one that is configured wrongly (e.g. a malformed URL) is an error.
pub fn configured_providers(config: &Config) -> Result<Vec<ProviderEntry>> {
    let mut entries = Vec::new();
    for provider in providers() {
        match build(config, provider)? {
            Ok(entry) => entries.push(entry),
            Err(why) => tracing::debug!(provider = provider.id, %why, "provider not configured"),
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
