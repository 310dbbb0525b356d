//! The suite against the local provider (network namespaces, sshd, nftables): every check
//! runs, SSH and firewall included. Needs root and the tools; skipped otherwise, except under
//! CI, where that is a failure.

use std::sync::Arc;

use gpucloud_conformance::{Target, Timeouts, run};
use gpucloud_local::{LocalConfig, LocalCredential};

/// A subnet of 10.215.0.0/16 no route of this machine overlaps (the local crate's own tests use
/// 10.214.0.0/16).
fn free_subnet(base: u32, attempt: u32) -> String {
    format!("10.215.{}.0/24", (base + attempt) % 250 + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_provider_passes_every_check() {
    if let Err(e) = gpucloud_local::preflight() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but the local provider cannot run here: {e}"
        );
        println!("local conformance skipped: {e}");
        return;
    }
    let state = tempfile::Builder::new()
        .prefix("gpucloud-conformance-local")
        .tempdir()
        .expect("temp dir");
    let base = std::process::id() % 250;
    let mut attempt = 0;
    let credential = loop {
        let config = LocalConfig::from_env()
            .expect("GPUCLOUD_LOCAL_* variables are valid")
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
    let report = run(target).await;
    println!("--- local ---\n{report}\n");
    assert!(report.is_success(), "{report}");
    assert_eq!(
        report.skipped(),
        0,
        "every check runs against the local provider:\n{report}"
    );
}
