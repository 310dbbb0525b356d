#![doc = include_str!("../README.md")]

mod client;
mod config;
mod convert;
mod error;
mod wire;

pub use client::{FluidstackClient, FluidstackCredential, PROVIDER_ID};
pub use config::{
    API_KEY_ENV, API_URL_ENV, DEFAULT_CAPACITY_WAIT, DEFAULT_POLL_INTERVAL,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_SSH_USER, DEFAULT_URL_TEMPLATE, FluidstackConfig, PRICES_ENV,
    PROJECT_ENV, ProjectRef, REGION_URLS_ENV, REGIONS_ENV, SSH_USER_ENV,
};
