#![doc = include_str!("../README.md")]

pub mod aws_pricing;
pub mod bench;
pub mod fluidstack;
pub mod kit;
pub mod lambda;
pub mod launchpad;
pub mod moto;
#[cfg(feature = "nebius")]
pub mod nebius;
pub mod prism;
pub mod proxy;
pub mod registry;
pub mod shadeform;
pub mod verda;
