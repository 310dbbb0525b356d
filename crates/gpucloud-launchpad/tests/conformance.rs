//! The conformance suite against this provider, one trial per check: `conformance::<check>`
//! against the LaunchPad fake, always; `conformance_live::<check>` against the real API when
//! `LAUNCHPAD_API_TOKEN` is set, reported as ignored otherwise.
//!
//! A `harness = false` binary of its own (why: the gpucloud-conformance README): libtest cannot
//! make one test per check at run time. Reachability checks are skipped against the fake (its
//! deployments have no machine behind them).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use gpucloud_conformance::{Suite, Target, Timeouts};
use gpucloud_fakes::launchpad::{FakeLaunchpad, FakeLaunchpadOptions};
use gpucloud_launchpad::{API_TOKEN_ENV, LaunchpadConfig, LaunchpadCredential};

/// Offers the fake serves, in the stable-id form validation uses.
const STABLE_IDS: [&str; 2] = ["dmz_gh200x1_pdx", "oci_a100x8_us-tx-1"];

/// The suite against the fake: every check but those needing SSH to the instance.
fn fake_suite() -> Suite {
    Suite::new("conformance", || async {
        let fake = FakeLaunchpad::start(FakeLaunchpadOptions {
            waiting_delay: Duration::from_millis(100),
            retry_delay: Duration::from_millis(50),
            destroying_delay: Duration::from_millis(50),
            ..FakeLaunchpadOptions::default()
        })
        .await
        .expect("the LaunchPad fake starts");
        let config = LaunchpadConfig::new(fake.token())
            .with_base_url(fake.base_url())
            .with_ref_id("conformance-launchpad-fake")
            .with_requester("conformance", "conformance@example.com")
            .with_retry_backoff(Duration::from_millis(10));
        let credential = LaunchpadCredential::new(config).expect("a valid configuration");
        let target = Target::new(Arc::new(credential))
            .with_location("us-west")
            .with_stable_ids(STABLE_IDS)
            .with_timeouts(Timeouts::fast());
        (target, fake)
    })
}

/// The suite against the real API, with the location and type from the environment.
fn live_suite(prefix: String, config: LaunchpadConfig) -> Suite {
    Suite::new(prefix, || async move {
        let credential = LaunchpadCredential::new(config.with_ref_id("gpucloud-conformance-live"))
            .expect("a valid configuration");
        let mut target = Target::new(Arc::new(credential))
            // Deployments are reachable only when this machine has a route to them.
            .with_reachable(std::env::var_os("CONFORMANCE_REACHABLE").is_some());
        if let Ok(location) = std::env::var("LAUNCHPAD_LOCATION") {
            target = target.with_location(location);
        }
        if let Ok(name) = std::env::var("LAUNCHPAD_INSTANCE_TYPE") {
            target = target.with_instance_type(name);
        }
        target
    })
}

fn main() -> ExitCode {
    let live = Suite::live(
        "conformance_live",
        API_TOKEN_ENV,
        LaunchpadConfig::from_env(),
        live_suite,
    );
    gpucloud_conformance::test_main(&[fake_suite(), live], Vec::new())
}
