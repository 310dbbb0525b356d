//! The conformance suite against this provider, one trial per check: `conformance::<check>`
//! against the Fluidstack fake, always; `conformance_live::<check>` against the real API when
//! `FLUIDSTACK_API_KEY` is set, reported as ignored otherwise.
//!
//! A `harness = false` binary of its own (why: the gpucloud-conformance README): libtest cannot
//! make one test per check at run time. Reachability checks are skipped against the fake (its
//! instances have no machine behind them). Only one type has a configured price, so the
//! catalog check sees unknown prices (`None`) too, as a real Fluidstack account gives.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use gpucloud_conformance::{Suite, Target, Timeouts};
use gpucloud_fakes::fluidstack::{FakeFluidstack, FakeFluidstackOptions};
use gpucloud_fluidstack::{API_KEY_ENV, FluidstackConfig, FluidstackCredential};

/// A catalog entry the fake serves in the target's location.
const STABLE_IDS: [&str; 1] = ["us-east-1-noSub-h100-hgx-80gb.8x"];

/// The suite against the fake: every check but those needing SSH to the instance.
fn fake_suite() -> Suite {
    Suite::new("conformance", || async {
        let fake = FakeFluidstack::start(FakeFluidstackOptions {
            create_delay: Duration::from_millis(100),
            start_delay: Duration::from_millis(100),
            stop_delay: Duration::from_millis(100),
            delete_delay: Duration::from_millis(100),
            ..FakeFluidstackOptions::default()
        })
        .await
        .expect("the Fluidstack fake starts");
        let config = FluidstackConfig::new(fake.api_key(), fake.project_id().to_string())
            .with_regions(fake.regions().iter().cloned())
            .with_base_url(fake.url_template())
            .with_ref_id("conformance-fluidstack-fake")
            .with_retry_backoff(Duration::from_millis(10))
            .with_capacity_wait(Duration::from_secs(5), Duration::from_millis(20))
            .with_price("h100-hgx-80gb.8x", "23.92");
        let credential = FluidstackCredential::new(config).expect("a valid configuration");
        let target = Target::new(Arc::new(credential))
            .with_location("us-east-1")
            .with_stable_ids(STABLE_IDS)
            .with_timeouts(Timeouts::fast());
        (target, fake)
    })
}

/// The suite against the real API, with the location and type from the environment.
fn live_suite(prefix: String, config: FluidstackConfig) -> Suite {
    Suite::new(prefix, || async move {
        let credential = FluidstackCredential::new(config.with_ref_id("gpucloud-conformance-live"))
            .expect("a valid configuration");
        let location = std::env::var("FLUIDSTACK_LOCATION").unwrap_or_default();
        let mut target = Target::new(Arc::new(credential))
            // Instances are reachable only when this machine has a route to them.
            .with_reachable(std::env::var_os("CONFORMANCE_REACHABLE").is_some());
        if !location.is_empty() {
            target = target.with_location(location);
        }
        if let Ok(name) = std::env::var("FLUIDSTACK_INSTANCE_TYPE") {
            target = target.with_instance_type(name);
        }
        target
    })
}

fn main() -> ExitCode {
    let live = Suite::live(
        "conformance_live",
        API_KEY_ENV,
        FluidstackConfig::from_env(),
        live_suite,
    );
    gpucloud_conformance::test_main(&[fake_suite(), live], Vec::new())
}
