//! Integration tests of the Lambda provider: every operation and every injected fault against
//! the fake, the OpenAPI contract through Prism, and read-only live checks.

mod faults;
mod limits;
mod live;
mod ops;
mod prism;
mod support;
mod sweep;
mod truncated;
