//! The commands, and the context they share.

pub mod config;
pub mod fake;
pub mod gpus;
pub mod instances;
pub mod launch;
pub mod offers;
pub mod providers;
pub mod remote;
pub mod serve;
pub mod ssh;
pub mod types;
pub mod up;
pub mod validate;
pub mod watch;

use std::sync::Arc;

use gpucloud::offers::{OfferSource, ProviderFailure};
use gpucloud::{CloudClient, Config, ProviderEntry, ProviderSetup, Result as CloudResult};

use crate::error::{CliError, CliResult};
use crate::keys::{Dirs, Store};
use crate::output::Out;

/// What every command needs: output, configuration, the user's directories.
#[derive(Debug)]
pub struct Ctx {
    /// Output.
    pub out: Out,
    /// Provider settings.
    pub config: Config,
    /// `~` and `~/.config/gpucloud`.
    pub dirs: Dirs,
    /// Instance records (key files).
    pub store: Store,
}

impl Ctx {
    /// The provider named `name`, configured.
    pub fn provider(&self, name: &str) -> CliResult<ProviderEntry> {
        gpucloud::configured_provider(&self.config, name).map_err(|e| match e {
            // An unknown name; any other bad argument is a setting, which the error names.
            gpucloud::CloudError::InvalidArgument { field, problem } if field == "provider" => {
                CliError::usage(problem)
                    .hint("`gpucloud providers` lists the providers of this build")
            }
            other => CliError::cloud(&format!("provider {name}"), &other),
        })
    }

    /// How to configure each provider of this build, from its descriptor.
    pub fn setup_hint(&self) -> String {
        let ways: Vec<String> = gpucloud::providers()
            .iter()
            .map(|d| {
                format!(
                    "{}: {}",
                    d.name,
                    gpucloud::how_to_configure(&self.config, d)
                )
            })
            .collect();
        if ways.is_empty() {
            return "this build has no provider features".to_owned();
        }
        ways.join("; ")
    }

    /// The providers named in `names` (each must be configured), or every configured provider
    /// when `names` is empty: then one configured wrongly is returned as a failure beside the
    /// others, for the command to report, instead of failing them all.
    pub fn providers(&self, names: &[String]) -> CliResult<Selection> {
        if names.is_empty() {
            let mut selection = Selection::default();
            for setup in gpucloud::provider_setups(&self.config) {
                match setup {
                    ProviderSetup::Ready(entry) => selection.entries.push(entry),
                    ProviderSetup::Broken { descriptor, error } => {
                        selection.failures.push(ProviderFailure {
                            provider: descriptor.name.to_owned(),
                            error,
                        });
                    }
                    ProviderSetup::NotConfigured { .. } => {}
                }
            }
            if selection.entries.is_empty() && selection.failures.is_empty() {
                return Err(CliError::usage("no provider is configured").hint(self.setup_hint()));
            }
            return Ok(selection);
        }
        let mut selection = Selection::default();
        for name in names {
            let entry = self.provider(name)?;
            if !selection
                .entries
                .iter()
                .any(|e| e.descriptor.id == entry.descriptor.id)
            {
                selection.entries.push(entry);
            }
        }
        Ok(selection)
    }
}

/// The providers a command spans.
#[derive(Debug, Default)]
pub struct Selection {
    /// The configured providers to ask.
    pub entries: Vec<ProviderEntry>,
    /// Providers configured wrongly, to report beside the others' answers.
    pub failures: Vec<ProviderFailure>,
}

/// A client of `entry` for `location` (empty: the provider's default), with the error in context.
pub async fn client(entry: &ProviderEntry, location: &str) -> CliResult<Arc<dyn CloudClient>> {
    make_client(entry, location)
        .await
        .map_err(|e| CliError::cloud(&format!("connect to {}", entry.descriptor.name), &e))
}

/// A client of `entry` for `location`.
pub async fn make_client(
    entry: &ProviderEntry,
    location: &str,
) -> CloudResult<Arc<dyn CloudClient>> {
    entry.credential.make_client(location).await
}

/// The configured providers as sources of offers, by their short names.
pub fn offer_sources(entries: &[ProviderEntry]) -> Vec<OfferSource> {
    entries
        .iter()
        .map(|e| OfferSource::new(e.descriptor.name, e.credential.clone()))
        .collect()
}
