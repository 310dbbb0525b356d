#![doc = include_str!("../README.md")]

pub mod fluidstack;
pub mod kit;
pub mod lambda;
pub mod prism;
pub mod proxy;
pub mod shadeform;
