//! Machinery every fake shares, so that a fake is its API's state and shapes only.
//!
//! - [`Faults`]: fault switches (latency, `429` with `Retry-After`, 5xx, connection reset,
//!   malformed body, commit-then-drop), each aimed at an operation class with a count, and a
//!   seeded random mode for fault campaigns. Generic over the fake's own operation enum
//!   ([`OperationClass`]); [`Faults::take`] gives the [`Decision`] for one request, so a
//!   tonic service can apply it as well as the REST gate.
//! - [`Auth`]: bearer, HTTP Basic and API-key header checks.
//! - [`RateLimit`], [`TokenBucket`] and [`take_all`]: request rate limits.
//! - [`Timeline`]: lifecycle states that change after configured delays, computed from
//!   timestamps.
//! - [`Capacity`]: instances available per region and instance type.
//! - [`FakeServer`]: port-0 start, the base URL, shutdown on drop; [`RestApi`] plugs an axum
//!   router behind the shared gate; [`Exports`] is the environment to print.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::net::{Ipv4Addr, SocketAddr};
//! use gpucloud_fakes::kit::{Decision, Faults, FakeServer, Injection, OperationClass};
//!
//! #[derive(Debug, Clone, Copy, PartialEq, Eq)]
//! enum Op { Any, Create }
//! impl OperationClass for Op { const ANY: Self = Op::Any; }
//!
//! // In a gRPC handler: ask for the decision first.
//! let faults = Faults::<Op>::new();
//! let Decision { delay, injection } = faults.take(Some(Op::Create));
//! tokio::time::sleep(delay).await;
//! if let Some(Injection::ServerError { .. }) = injection { /* return Status::unavailable */ }
//!
//! // Serve anything on a free port of 127.0.0.1, stopped when the handle drops.
//! let server = FakeServer::spawn(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), |listener, stop| async move {
//!     let _ = listener;
//!     stop.cancelled().await;
//! })
//! .await?;
//! println!("{}", server.base_url());
//! # Ok(())
//! # }
//! ```

mod auth;
mod capacity;
mod controls;
mod fault;
mod lifecycle;
mod rate;
pub(crate) mod server;

pub use auth::Auth;
pub use capacity::Capacity;
pub(crate) use controls::fault_and_request_controls;
pub use fault::{Decision, Fault, FaultKind, Faults, InjectedCounts, Injection, OperationClass};
pub use lifecycle::Timeline;
pub use rate::{RateLimit, TokenBucket, take_all};
pub use server::{Exports, FakeServer, RequestLog, RestApi};
