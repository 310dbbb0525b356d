#![doc = include_str!("../README.md")]

mod client;
mod config;
mod convert;
mod error;
mod wire;

pub use client::{LambdaClient, LambdaCredential, PROVIDER_ID};
pub use config::{
    API_KEY_ENV, API_URL_ENV, DEFAULT_BASE_URL, DEFAULT_LAUNCH_INTERVAL,
    DEFAULT_ORPHAN_RULESET_GRACE, DEFAULT_REQUEST_TIMEOUT, DEFAULT_REQUESTS_PER_SECOND,
    LambdaConfig,
};
