//! The conformance suite against this provider, one trial per check: `conformance::<check>`
//! against the Verda fake, always; `conformance_live::<check>` against the real API when
//! `VERDA_CLIENT_ID` is set, reported as ignored otherwise.
//!
//! A `harness = false` binary of its own (why: the gpucloud-conformance README): libtest cannot
//! make one test per check at run time. Reachability checks are skipped against the fake (its
//! instances have no machine behind them).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use gpucloud_conformance::{Suite, Target, Timeouts};
use gpucloud_fakes::verda::{FakeVerda, FakeVerdaOptions};
use gpucloud_verda::{CLIENT_ID_ENV, VerdaConfig, VerdaCredential};

/// The suite against the fake: every check but those needing SSH to the instance.
fn fake_suite() -> Suite {
    Suite::new("conformance", || async {
        let fake = FakeVerda::start(FakeVerdaOptions {
            ordered_delay: Duration::from_millis(50),
            provisioning_delay: Duration::from_millis(100),
            shutdown_delay: Duration::from_millis(50),
            start_delay: Duration::from_millis(100),
            deleting_delay: Duration::from_millis(50),
            ..FakeVerdaOptions::default()
        })
        .await
        .expect("the Verda fake starts");
        let config = VerdaConfig::new(fake.client_id(), fake.client_secret())
            .with_base_url(fake.base_url())
            .with_ref_id("conformance-verda-fake")
            .with_retry_backoff(Duration::from_millis(10));
        let credential = VerdaCredential::new(config).expect("a valid configuration");
        let target = Target::new(Arc::new(credential))
            .with_location("FIN-01")
            .with_timeouts(Timeouts::fast());
        (target, fake)
    })
}

/// The suite against the real API, with the location and type from the environment.
fn live_suite(prefix: String, config: VerdaConfig) -> Suite {
    Suite::new(prefix, || async move {
        let credential = VerdaCredential::new(config.with_ref_id("gpucloud-conformance-live"))
            .expect("a valid configuration");
        let mut target = Target::new(Arc::new(credential))
            // Instances are reachable only when this machine has a route to them.
            .with_reachable(std::env::var_os("CONFORMANCE_REACHABLE").is_some());
        if let Ok(location) = std::env::var("VERDA_LOCATION") {
            target = target.with_location(location);
        }
        if let Ok(name) = std::env::var("VERDA_INSTANCE_TYPE") {
            target = target.with_instance_type(name);
        }
        target
    })
}

fn main() -> ExitCode {
    let live = Suite::live(
        "conformance_live",
        CLIENT_ID_ENV,
        VerdaConfig::from_env(),
        live_suite,
    );
    gpucloud_conformance::test_main(&[fake_suite(), live], Vec::new())
}
