#![doc = include_str!("../README.md")]

pub mod config;
pub mod launch;
pub mod offers;
pub mod registry;

#[doc = include_str!("../../../docs/ADDING_A_PROVIDER.md")]
pub mod adding_a_provider {}

pub use gpucloud_core::*;

pub use config::{Config, LoadOptions};
pub use registry::{
    ProviderEntry, ProviderSetup, configured_provider, configured_providers, how_to_configure,
    lookup, provider_setups,
};

/// Registers provider crates: each line `"feature" => crate as alias` re-exports the crate as
/// `gpucloud::alias` and puts its `DESCRIPTOR` in the registry, both behind the cargo feature.
macro_rules! register {
    ($($feature:literal => $krate:ident as $alias:ident),* $(,)?) => {
        $(
            #[cfg(feature = $feature)]
            #[doc = concat!("The `", $feature, "` provider crate.")]
            pub use $krate as $alias;
        )*

        /// Every provider compiled into this build, in registration order.
        static PROVIDERS: &[ProviderDescriptor] = &[$(
            #[cfg(feature = $feature)]
            $krate::DESCRIPTOR,
        )*];
    };
}

// Adding a provider: one line here and its feature (plus optional dependency) in Cargo.toml.
register! {
    "lambda" => gpucloud_lambda as lambda,
    "fluidstack" => gpucloud_fluidstack as fluidstack,
    "shadeform" => gpucloud_shadeform as shadeform,
    "nebius" => gpucloud_nebius as nebius,
    "verda" => gpucloud_verda as verda,
    "launchpad" => gpucloud_launchpad as launchpad,
    "aws" => gpucloud_aws as aws,
    "local" => gpucloud_local as local,
}

/// Every provider compiled into this build (one cargo feature each), in registration order.
pub fn providers() -> &'static [ProviderDescriptor] {
    PROVIDERS
}

/// The provider with this id or short name (ASCII case-insensitive), if compiled in.
pub fn find_provider(name: &str) -> Option<&'static ProviderDescriptor> {
    PROVIDERS.iter().find(|d| d.is_named(name))
}
