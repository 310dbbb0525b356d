//! A few seeds of the fault campaign against every fake: zero leaked or duplicated instances,
//! keys and attachments, no panics, no hangs.

use std::time::Duration;

use gpucloud_campaign::{CampaignOptions, run, targets};

/// Seeds run in CI; `cargo run --release -p gpucloud-campaign --example campaign` runs more.
const SEEDS: [u64; 3] = [1, 2, 3];
/// Operations per seed.
const OPS: u64 = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fake_keeps_the_promise_under_faults() {
    let mut failures = Vec::new();
    for target in targets() {
        for seed in SEEDS {
            let options = CampaignOptions {
                max_duration: Duration::from_secs(20),
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
