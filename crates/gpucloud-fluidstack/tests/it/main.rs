//! Integration tests of the Fluidstack provider: every operation against a stub of the API,
//! and the OpenAPI contract through Prism.

mod ops;
mod prism;
mod stub;
