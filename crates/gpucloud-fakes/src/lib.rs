#![doc = include_str!("../README.md")]

pub mod kit;
pub mod lambda;
