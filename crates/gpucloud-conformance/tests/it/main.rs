//! Integration tests of the conformance suite: deliberately broken in-memory providers, through
//! the report of `run` and through the trials of the harness. The providers' own crates run the
//! suite against them (see the crate README).

mod broken;
mod capabilities;
mod memory;
mod trials;
