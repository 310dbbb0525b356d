//! A few seeds of the fault campaign against every fake: zero leaked or duplicated instances,
//! keys and attachments (after each provider's documented sweep), no panics, no hangs.

use std::time::Duration;

use gpucloud_campaign::{CampaignOptions, run, targets};
use gpucloud_fakes::proxy::ProxyFault;

/// Seeds run in CI; `cargo run --release -p gpucloud-campaign --example campaign` runs more.
const SEEDS: [u64; 3] = [1, 2, 3];
/// Operations per seed.
const OPS: u64 = 150;

async fn campaign(faults: &[ProxyFault]) {
    let mut failures = Vec::new();
    for target in targets() {
        for seed in SEEDS {
            let options = CampaignOptions {
                max_duration: Duration::from_secs(20),
                // Twice in the run as well as at the end, as a long run does.
                reconcile_every: 50,
                faults: faults.to_vec(),
                ..CampaignOptions::new(seed, OPS)
            };
            let report = run(target.as_ref(), &options).await.expect("campaign runs");
            println!("{report}");
            assert!(report.ops > 0, "no operation ran: {report}");
            assert!(report.faults.total() > 0, "no fault was injected: {report}");
            if !report.is_clean() {
                failures.push(format!("{report}\n  {}", report.findings.join("\n  ")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fake_keeps_the_promise_under_every_fault() {
    campaign(&ProxyFault::ALL).await;
}

/// Every fault kind but truncated 2xx bodies: with the same seeds, more of the faults are
/// lost answers and resets, so more creates end with their outcome unknown and are resolved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fake_keeps_the_promise_under_faults_of_answered_or_lost_requests() {
    campaign(&[
        ProxyFault::ServerError,
        ProxyFault::RateLimited,
        ProxyFault::ResetBeforeForwarding,
        ProxyFault::LostAfterCommit,
    ])
    .await;
}
