//! The shared conformance suite against the provider pointed at the stub API (reachability
//! checks skipped: stub instances have no machine behind them). The suite requires a price on
//! every catalog entry, and Fluidstack publishes none, so the test configures a price table.

use std::sync::Arc;
use std::time::Duration;

use gpucloud_conformance::{Outcome, Target, Timeouts, run};
use gpucloud_fluidstack::{FluidstackConfig, FluidstackCredential};

use crate::stub::{API_KEY, H100, L40S, PROJECT_ID, Stub};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_passes_against_the_stub() {
    let stub = Stub::start(Duration::from_millis(100)).await;
    let config = FluidstackConfig::new(API_KEY, PROJECT_ID)
        .with_regions(["us-west-1", "eu-north-1"])
        .with_base_url(stub.template())
        .with_ref_id("conformance-fluidstack")
        .with_retry_backoff(Duration::from_millis(10))
        .with_capacity_wait(Duration::from_secs(5), Duration::from_millis(20))
        .with_price(H100, "23.92")
        .with_price(L40S, "1.10")
        .with_price("cpu-16.1", "0.40");
    let credential = FluidstackCredential::new(config).expect("valid config");
    let target = Target::new(Arc::new(credential))
        .with_location("us-west-1")
        .with_stable_ids(["us-west-1-noSub-h100-hgx-80gb.8x"])
        .with_timeouts(Timeouts::fast());
    let report = run(target).await;
    println!("--- fluidstack (stub) ---\n{report}\n");
    assert!(report.is_success(), "{report}");
    for name in ["ssh", "firewall_ingress", "firewall_egress"] {
        match &report.check(name).expect("reported").outcome {
            Outcome::Skipped { reason } => {
                assert!(reason.contains("reachable"), "{name}: {reason}");
            }
            other => panic!("{name} should be skipped, got {other:?}"),
        }
    }
    assert!(stub.instances().is_empty(), "the suite left instances");
}
