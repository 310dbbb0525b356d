//! The conformance suite against this provider, one trial per check: `conformance::<check>`
//! against the Shadeform fake, always; `conformance_live::<check>` against the real API when
//! `SHADEFORM_API_KEY` is set, reported as ignored otherwise.
//!
//! A `harness = false` binary of its own (why: the gpucloud-conformance README): libtest cannot
//! make one test per check at run time. Reachability checks are skipped against the fake (its
//! instances have no machine behind them).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use gpucloud_conformance::{Suite, Target, Timeouts};
use gpucloud_fakes::shadeform::{FakeShadeform, FakeShadeformOptions};
use gpucloud_shadeform::{API_KEY_ENV, ShadeformConfig, ShadeformCredential};

/// Offers the fake serves, in the stable-id form validation uses.
const STABLE_IDS: [&str; 2] = [
    "verda_B200_helsinki-finland-5",
    "massedcompute_L40_desmoines-usa-1",
];

/// The suite against the fake: every check but those needing SSH to the instance.
fn fake_suite() -> Suite {
    Suite::new("conformance", || async {
        let fake = FakeShadeform::start(FakeShadeformOptions {
            creating_delay: Duration::from_millis(50),
            pending_provider_delay: Duration::from_millis(100),
            deleting_delay: Duration::from_millis(50),
            deleted_delay: Duration::from_millis(50),
            ..FakeShadeformOptions::default()
        })
        .await
        .expect("the Shadeform fake starts");
        let config = ShadeformConfig::new(fake.api_key())
            .with_base_url(fake.base_url())
            .with_ref_id("conformance-shadeform-fake")
            .with_retry_backoff(Duration::from_millis(10));
        let credential = ShadeformCredential::new(config).expect("a valid configuration");
        let target = Target::new(Arc::new(credential))
            .with_location("eu-north")
            .with_stable_ids(STABLE_IDS)
            .with_timeouts(Timeouts::fast());
        (target, fake)
    })
}

/// The suite against the real API, with the location and type from the environment.
fn live_suite(prefix: String, config: ShadeformConfig) -> Suite {
    Suite::new(prefix, || async move {
        let credential = ShadeformCredential::new(config.with_ref_id("gpucloud-conformance-live"))
            .expect("a valid configuration");
        let mut target = Target::new(Arc::new(credential))
            .with_stable_ids(STABLE_IDS)
            // Instances are reachable only when this machine has a route to them.
            .with_reachable(std::env::var_os("CONFORMANCE_REACHABLE").is_some());
        if let Ok(location) = std::env::var("SHADEFORM_LOCATION") {
            target = target.with_location(location);
        }
        if let Ok(name) = std::env::var("SHADEFORM_INSTANCE_TYPE") {
            target = target.with_instance_type(name);
        }
        target
    })
}

fn main() -> ExitCode {
    let live = Suite::live(
        "conformance_live",
        API_KEY_ENV,
        ShadeformConfig::from_env(),
        live_suite,
    );
    gpucloud_conformance::test_main(&[fake_suite(), live], Vec::new())
}
