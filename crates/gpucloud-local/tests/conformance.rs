//! The conformance suite against the local provider (network namespaces, sshd, nftables), one
//! trial per check: `conformance::<check>`. Every check applies, SSH and firewall included.
//! Needs root and the tools: without them every trial is ignored, except under CI, where every
//! trial fails with the reason.
//!
//! A `harness = false` binary of its own (why: the gpucloud-conformance README): libtest cannot
//! make one test per check at run time, and the `it` binary keeps its ordinary `#[test]`s.

use std::process::ExitCode;
use std::sync::Arc;

use gpucloud_conformance::{Suite, Target, Timeouts};
use gpucloud_local::{LocalConfig, LocalCredential};

const PREFIX: &str = "conformance";

/// A subnet of 10.215.0.0/16 no route of this machine overlaps (the crate's `it` tests use
/// 10.214.0.0/16).
fn free_subnet(base: u32, attempt: u32) -> String {
    format!("10.215.{}.0/24", (base + attempt) % 250 + 1)
}

fn suite() -> Suite {
    if let Err(e) = gpucloud_local::preflight() {
        let reason = format!("the local provider cannot run here: {e}");
        return if std::env::var_os("CI").is_some() {
            Suite::broken(PREFIX, format!("CI is set but {reason}"))
        } else {
            Suite::skipped(PREFIX, reason)
        };
    }
    Suite::new(PREFIX, || async {
        let state = tempfile::Builder::new()
            .prefix("gpucloud-conformance-local")
            .tempdir()
            .expect("a temporary state directory");
        let base = std::process::id() % 250;
        let mut attempt = 0;
        let credential = loop {
            let config = LocalConfig::from_env()
                .expect("the local settings in the environment are valid")
                .with_state_dir(state.path())
                .with_subnet(free_subnet(base, attempt))
                .with_ref_id("conformance-local");
            let credential = LocalCredential::new(config);
            match gpucloud_core::CloudCredential::make_client(&credential, "").await {
                Ok(_) => break credential,
                Err(e) if e.to_string().contains("overlaps") && attempt < 20 => attempt += 1,
                Err(e) => panic!("the local provider refused its configuration: {e}"),
            }
        };
        let target = Target::new(Arc::new(credential))
            .with_location(gpucloud_local::LOCATION)
            .with_reachable(true)
            .with_stable_ids(["local-noSub-cpu.small", "local-noSub-cpu.medium"])
            .with_timeouts(Timeouts::fast());
        // The state directory lives as long as the suite.
        (target, state)
    })
}

fn main() -> ExitCode {
    gpucloud_conformance::test_main(&[suite()], Vec::new())
}
