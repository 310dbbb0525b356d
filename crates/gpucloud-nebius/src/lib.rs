#![doc = include_str!("../README.md")]

mod auth;
mod config;
mod endpoints;
mod convert;
mod error;

pub use auth::ServiceAccountKey;
pub use config::{NebiusAuth, NebiusConfig, SETTINGS};

/// The provider id: written here only, used by the client, the descriptor and the conversions.
pub const PROVIDER_ID: &str = "nebius";
