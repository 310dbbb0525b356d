//! Integration tests of the Fluidstack provider: every operation and every fault against the
//! stateful fake (`gpucloud_fakes::fluidstack`), and the OpenAPI contract through Prism. The
//! conformance suite has its own binary (`tests/conformance.rs`).

mod ops;
mod prism;
