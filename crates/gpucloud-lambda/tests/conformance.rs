//! The conformance suite against this provider, one trial per check: `conformance::<check>`
//! against the Lambda fake, always; `conformance_live::<check>` and the read-only
//! `live::read_only` against the real API when `LAMBDA_API_KEY` is set, reported as ignored
//! otherwise.
//!
//! A `harness = false` binary of its own (why: the gpucloud-conformance README): libtest cannot
//! make one test per check at run time, and the `it` binary keeps its ordinary `#[test]`s.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use gpucloud_conformance::libtest_mimic::{Failed, Trial};
use gpucloud_conformance::{Suite, Target, Timeouts};
use gpucloud_core::{CloudClient, GetInstanceTypeArgs, GetLocationsArgs, ListInstancesArgs};
use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions};
use gpucloud_lambda::{API_KEY_ENV, LambdaConfig, LambdaCredential};

/// Catalog entries that must exist in every account (v1's stable IDs).
const STABLE_IDS: [&str; 2] = [
    "us-west-1-noSub-gpu_8x_a100_80gb_sxm4",
    "us-east-1-noSub-gpu_8x_a100_80gb_sxm4",
];

/// The suite against the fake: every check but those needing SSH to the instance.
fn fake_suite() -> Suite {
    Suite::new("conformance", || async {
        let fake = FakeLambda::start(FakeLambdaOptions {
            boot_delay: Duration::from_millis(200),
            terminate_delay: Duration::from_millis(100),
            gone_after: Duration::from_millis(200),
            ..FakeLambdaOptions::default()
        })
        .await
        .expect("the Lambda fake starts");
        let config = LambdaConfig::new(fake.api_key())
            .with_base_url(fake.base_url())
            .with_ref_id("conformance-lambda-fake")
            .with_rate_limits(1000.0, Duration::ZERO)
            .with_retry_backoff(Duration::from_millis(10));
        let credential = LambdaCredential::new(config).expect("a valid configuration");
        let target = Target::new(Arc::new(credential))
            .with_location("us-east-1")
            .with_stable_ids(STABLE_IDS)
            .with_timeouts(Timeouts::fast());
        (target, fake)
    })
}

/// The suite against the real API, with the location, type and reachability from the
/// environment.
fn live_suite(prefix: String, config: LambdaConfig) -> Suite {
    Suite::new(prefix, || async move {
        let location = std::env::var("LAMBDA_LOCATION").unwrap_or_else(|_| "us-east-1".to_owned());
        let credential = LambdaCredential::new(config.with_ref_id("gpucloud-conformance-live"))
            .expect("a valid configuration");
        let mut target = Target::new(Arc::new(credential))
            .with_location(location)
            .with_stable_ids(STABLE_IDS)
            // Instances are reachable only when this machine has a route to them.
            .with_reachable(std::env::var_os("CONFORMANCE_REACHABLE").is_some());
        if let Ok(name) = std::env::var("LAMBDA_INSTANCE_TYPE") {
            target = target.with_instance_type(name);
        }
        target
    })
}

/// Read-only calls against the real API: locations, a priced catalog, the instance list.
fn read_only(config: Option<LambdaConfig>) -> Trial {
    let ignored = config.is_none();
    Trial::test("live::read_only", move || {
        let config = config.ok_or_else(|| Failed::from(format!("{API_KEY_ENV} is not set")))?;
        let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("runtime: {e}"))?;
        runtime.block_on(async {
            let client = LambdaCredential::new(config.with_ref_id("gpucloud-live-test"))
                .map_err(|e| format!("credential: {e}"))?
                .client("");
            let locations = client
                .locations(GetLocationsArgs::default())
                .await
                .map_err(|e| format!("locations: {e}"))?;
            if locations.is_empty() {
                return Err("locations() returned none".into());
            }
            let types = client
                .instance_types(&GetInstanceTypeArgs::default())
                .await
                .map_err(|e| format!("instance_types: {e}"))?;
            if types.is_empty() {
                return Err("instance_types() returned none".into());
            }
            if let Some(unpriced) = types.iter().find(|t| t.base_price.is_none()) {
                return Err(format!("instance type {} has no price", unpriced.id).into());
            }
            client
                .list_instances(&ListInstancesArgs::default())
                .await
                .map_err(|e| format!("list_instances: {e}"))?;
            Ok(())
        })
    })
    .with_ignored_flag(ignored)
}

fn main() -> ExitCode {
    let config = LambdaConfig::from_env();
    let read_only_config = config.as_ref().ok().cloned().flatten();
    let live = Suite::live("conformance_live", API_KEY_ENV, config, live_suite);
    gpucloud_conformance::test_main(&[fake_suite(), live], vec![read_only(read_only_config)])
}
