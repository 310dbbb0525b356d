//! Integration tests of the Fluidstack provider: every operation against a stub of the API,
//! the shared conformance suite, and the OpenAPI contract through Prism.

mod conformance;
mod ops;
mod prism;
mod stub;
