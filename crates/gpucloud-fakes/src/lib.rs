#![doc = include_str!("../README.md")]

pub mod lambda;
pub mod proxy;
