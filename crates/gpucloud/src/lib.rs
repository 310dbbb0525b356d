#![doc = include_str!("../README.md")]

pub mod config;
pub mod launch;
pub mod offers;
mod providers;
pub mod registry;

pub use gpucloud_core::*;

pub use config::{Config, LoadOptions, Setting, SettingSource, SettingSpec};
pub use registry::{
    Build, CredentialSource, ProviderDescriptor, ProviderEntry, ProviderSettings,
    configured_provider, configured_providers, find_provider, lookup, providers,
};

/// The Lambda Cloud provider crate.
#[cfg(feature = "lambda")]
pub use gpucloud_lambda as lambda;
/// The local provider crate.
#[cfg(feature = "local")]
pub use gpucloud_local as local;
