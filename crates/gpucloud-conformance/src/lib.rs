//! The conformance suite every gpucloud provider passes.
//!
//! One set of checks, written once against a [`gpucloud_core::CloudCredential`] and the clients
//! it makes. Each provider crate runs it from its own tests as one trial per check ([`Suite`],
//! against its fake, and live when its credential is set; see the crate README), and the CLI's
//! `validate` command runs it as one report:
//!
//! ```no_run
//! # async fn example(credential: std::sync::Arc<dyn gpucloud_core::CloudCredential>) {
//! let target = gpucloud_conformance::Target::new(credential).with_location("us-east-1");
//! let report = gpucloud_conformance::run(target).await;
//! println!("{report}");
//! assert!(report.is_success());
//! # }
//! ```
//!
//! What it checks (v1's validation suite with its gaps fixed):
//! - **catalog**: locations; instance types identical across calls except price, quota and deploy
//!   time; unique IDs; filters by name, architecture and location applied; stable IDs present;
//!   every type priced; GPU names, VRAM and manufacturer normalized;
//! - **lifecycle**: create echoes RefID, credential reference id, location, zone, type and the
//!   catalog's type ID; list by location and by id finds it; idempotent create; running with an
//!   address; tags; reboot; stop and start (waiting for each state); terminate, twice, then
//!   not-found;
//! - **reachability** (when [`Target::reachable`]): SSH with a per-run ed25519 key, the
//!   architecture, OS, home directory and sudo; a port no rule opens is blocked, a port opened at
//!   create is reachable, egress works, and live firewall changes take effect;
//! - **truthful capabilities**: every operation of every declared capability is called with a
//!   harmless request (a missing instance or resource, or a read) and must not answer
//!   `NotImplemented`; undeclared ones answer `NotImplemented`; instance types that report
//!   themselves stoppable or rebootable need the capability declared; create parameters the
//!   client does not honour are refused;
//! - **merge for update** keeps the identity fields;
//! - **cleanup**: every check runs in its own task with its own deadline; every instance is
//!   registered the moment it exists and terminated at the end whatever happened; a final sweep
//!   by RefID prefix and run tag reports anything left behind, which fails the run.

mod checks;
mod ctx;
mod harness;
mod net;
mod report;
mod ssh;
mod suite;
mod target;

pub use checks::ALL_CHECKS;
pub use ctx::RUN_TAG;
pub use harness::{Suite, SuiteTarget, TrialsOutcome, run_trials, test_main};
/// The test harness the trials are made for, so that a provider's test binary needs no
/// dependency of its own on it.
pub use libtest_mimic;
pub use report::{CheckResult, Outcome, Report};
pub use suite::{creates_instances, run, test_instance_type};
pub use target::{SshKeySource, SuiteOptions, Target, Timeouts};
