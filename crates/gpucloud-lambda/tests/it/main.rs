//! Integration tests of the Lambda provider: every operation and every injected fault against
//! the fake and the OpenAPI contract through Prism. The conformance suite and the live checks
//! are in the `conformance` test binary.

mod faults;
mod limits;
mod ops;
mod outcomes;
mod prism;
mod support;
mod sweep;
mod truncated;
