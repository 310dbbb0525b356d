//! The conformance suite against this provider, one trial per check: `conformance::<check>`
//! against the Nebius fake, always; `conformance_live::<check>` against the real API when
//! `NEBIUS_CREDENTIALS_FILE` (or `NEBIUS_IAM_TOKEN`) is set, reported as ignored otherwise.
//!
//! A `harness = false` binary of its own (why: the gpucloud-conformance README): libtest cannot
//! make one test per check at run time. Reachability checks are skipped against the fake (its
//! instances have no machine behind them).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use gpucloud_conformance::{Suite, Target, Timeouts};
use gpucloud_fakes::nebius::{FakeNebius, FakeNebiusOptions};
use gpucloud_nebius::{CREDENTIALS_FILE_ENV, NebiusConfig, NebiusCredential};

/// A catalog entry the fake serves in the target's location, on every sync.
const STABLE_IDS: [&str; 1] = ["eu-north1-noSub-gpu-l40s-a.1gpu-8vcpu-32gb"];

/// The suite against the fake: every check but those needing SSH to the instance.
fn fake_suite() -> Suite {
    Suite::new("conformance", || async {
        let fake =
            FakeNebius::start(FakeNebiusOptions::default().with_delays(Duration::from_millis(50)))
                .await
                .expect("the Nebius fake starts");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("credentials.json");
        fake.write_credentials_file(&path)
            .expect("the credentials file");
        let config = NebiusConfig::from_credentials_file(&path)
            .expect("the fake's credentials")
            .with_tenant(fake.tenant_id())
            .with_api_endpoint(fake.endpoint())
            .with_operation_wait(Duration::from_secs(30), Duration::from_millis(20))
            .with_retry_backoff(Duration::from_millis(10))
            .with_ref_id("conformance-nebius-fake");
        let credential = NebiusCredential::new(config).expect("a valid configuration");
        let target = Target::new(Arc::new(credential))
            .with_location("eu-north1")
            .with_stable_ids(STABLE_IDS)
            .with_timeouts(Timeouts::fast());
        (target, (fake, dir))
    })
}

/// The live configuration, or why the live trials do not run.
fn live_config() -> Result<NebiusConfig, Suite> {
    match NebiusConfig::from_env() {
        Ok(Some(config)) => Ok(config),
        Ok(None) => Err(Suite::skipped(
            "conformance_live",
            format!("{CREDENTIALS_FILE_ENV} is not set"),
        )),
        Err(e) => Err(Suite::broken(
            "conformance_live",
            format!("the NEBIUS_* variables are invalid: {e}"),
        )),
    }
}

/// The suite against the real API, with the location and type from the environment.
fn live_suite(config: NebiusConfig) -> Suite {
    Suite::new("conformance_live", || async move {
        let credential = NebiusCredential::new(config.with_ref_id("gpucloud-conformance-live"))
            .expect("a valid configuration");
        let location = std::env::var("NEBIUS_LOCATION").unwrap_or_else(|_| "eu-north1".to_owned());
        let mut target = Target::new(Arc::new(credential))
            .with_location(location)
            // Instances are reachable only when this machine has a route to them.
            .with_reachable(std::env::var_os("CONFORMANCE_REACHABLE").is_some());
        if let Ok(name) = std::env::var("NEBIUS_INSTANCE_TYPE") {
            target = target.with_instance_type(name);
        }
        target
    })
}

fn main() -> ExitCode {
    let live = match live_config() {
        Ok(config) => live_suite(config),
        Err(skipped) => skipped,
    };
    gpucloud_conformance::test_main(&[fake_suite(), live], Vec::new())
}
