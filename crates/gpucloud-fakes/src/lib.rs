//! Stateful fakes of GPU cloud provider APIs, for tests, benchmarks and the CLI.
//!
//! Each fake is an HTTP server on 127.0.0.1 that simulates one provider's documented API:
//! status codes, error bodies, lifecycle timing and rate limits, with switchable fault
//! injection (latency, throttling, server errors, connection resets, malformed bodies, and
//! "commit, then drop the response"). Point a provider client at a fake through its base-URL
//! option.
//!
//! - [`lambda`]: Lambda Cloud API 1.10.0.

pub mod lambda;
