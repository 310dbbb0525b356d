#![doc = include_str!("../README.md")]

pub mod config;
mod credentials;
pub mod error;
mod fleet;
mod inventory;
mod limits;
pub mod metrics;
pub mod model;
mod reconcile;
mod requests;
mod status;
mod store;

pub use config::{Database, FleetConfig, FleetCredential};
pub use error::{FleetError, Result};
pub use fleet::{Fleet, FleetOffer, PassReport};
pub use metrics::{LoopKind, LoopTimes, MetricsSnapshot};
pub use model::{
    Cause, CreateRequest, CreateTarget, CredentialInfo, Desired, Event, InstanceFilter,
    InstanceRecord, Page, PageRequest, Phase,
};
