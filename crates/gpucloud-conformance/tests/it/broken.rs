//! The suite against the in-memory provider: the correct one passes, each broken one fails the
//! matching check with a clear message.

use std::sync::Arc;
use std::time::Duration;

use gpucloud_conformance::{ALL_CHECKS, Outcome, Report, SuiteOptions, Target, Timeouts, run};

use crate::memory::{Faults, MemoryCredential};

fn target(credential: &MemoryCredential) -> Target {
    Target::new(Arc::new(credential.clone()))
        .with_location("mem-east")
        .with_stable_ids(["mem-east-noSub-cpu.small", "mem-west-noSub-gpu.a10"])
        .with_timeouts(Timeouts::fast().map(|d| d.min(Duration::from_secs(3))))
}

async fn run_printed(target: Target, label: &str) -> Report {
    let report = run(target).await;
    println!("--- {label} ---\n{report}\n");
    report
}

fn mismatches(report: &Report, check: &str) -> Vec<String> {
    report
        .check(check)
        .map(|c| c.mismatches().to_vec())
        .unwrap_or_default()
}

#[tokio::test]
async fn correct_memory_provider_passes_with_reachability_skipped() {
    let credential = MemoryCredential::new(Faults::default());
    let report = run_printed(target(&credential), "memory (correct)").await;
    assert!(report.is_success(), "{report}");
    assert!(report.leftovers.is_empty());
    let names: Vec<&str> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(names, ALL_CHECKS, "every check is reported, in order");
    for name in [
        "create",
        "list",
        "idempotent_create",
        "running",
        "tags",
        "reboot",
        "stop_start",
        "terminate",
        "cleanup",
    ] {
        assert!(
            report
                .check(name)
                .is_some_and(gpucloud_conformance::CheckResult::is_passed),
            "{name} should pass:\n{report}"
        );
    }
    for name in ["ssh", "firewall_ingress", "firewall_egress"] {
        match &report.check(name).expect("reported").outcome {
            Outcome::Skipped { reason } => {
                assert!(reason.contains("reachable"), "{name}: {reason}");
            }
            other => panic!("{name} should be skipped, got {other:?}"),
        }
    }
    for name in [
        "modify_firewall",
        "hostname",
        "duplicate_rule",
        "egress_rules",
    ] {
        assert!(
            report
                .check(name)
                .is_some_and(gpucloud_conformance::CheckResult::is_passed),
            "{name} should pass:\n{report}"
        );
    }
    assert!(
        credential.live_instances().is_empty(),
        "nothing left at the provider"
    );
    let text = report.to_string();
    assert!(
        text.contains(&format!(
            "{} passed, 0 failed, {} skipped",
            report.passed(),
            report.skipped()
        )),
        "{text}"
    );
}

#[tokio::test]
async fn wrong_ref_id_fails_create_and_list() {
    let credential = MemoryCredential::new(Faults {
        wrong_ref_id: true,
        ..Faults::default()
    });
    let report = run_printed(target(&credential), "memory (wrong RefID)").await;
    assert!(!report.is_success());
    let create = mismatches(&report, "create");
    assert!(
        create
            .iter()
            .any(|m| m.starts_with("ref_id mismatch") && m.contains("-wrong")),
        "{create:?}"
    );
    let list = mismatches(&report, "list");
    assert!(
        list.iter().any(|m| m.contains("list by location: ref_id")),
        "{list:?}"
    );
    assert!(
        list.iter().any(|m| m.contains("list by id: ref_id")),
        "{list:?}"
    );
    assert!(
        list.iter().any(|m| m.contains("get_instance: ref_id")),
        "{list:?}"
    );
    assert!(
        report.leftovers.is_empty(),
        "cleanup still removes the instance"
    );
    assert!(credential.live_instances().is_empty());
}

#[tokio::test]
async fn declared_stop_start_that_is_not_implemented_fails() {
    let credential = MemoryCredential::new(Faults {
        stop_not_implemented: true,
        ..Faults::default()
    });
    let report = run_printed(target(&credential), "memory (stop not implemented)").await;
    assert!(!report.is_success());
    let stop = mismatches(&report, "stop_start");
    assert_eq!(stop.len(), 1, "{stop:?}");
    assert!(
        stop[0].contains("stop_instance although the capability is declared"),
        "{stop:?}"
    );
    assert!(stop[0].contains("not implemented"), "{stop:?}");
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.is_failed())
        .map(|c| c.name)
        .collect();
    assert_eq!(
        failed,
        ["capabilities", "stop_start"],
        "the capability check catches it too, nothing else fails:\n{report}"
    );
}

#[tokio::test]
async fn leaking_terminate_fails_terminate_and_cleanup() {
    let credential = MemoryCredential::new(Faults {
        leak: true,
        ..Faults::default()
    });
    let mut target = target(&credential);
    target.timeouts.running_to_terminated = Duration::from_millis(500);
    let report = run_printed(target, "memory (terminate leaks)").await;
    assert!(!report.is_success());
    let terminate = mismatches(&report, "terminate");
    assert!(
        terminate
            .iter()
            .any(|m| m.contains("waiting for terminated")),
        "{terminate:?}"
    );
    let cleanup = mismatches(&report, "cleanup");
    assert!(
        cleanup.iter().any(|m| m.contains("was left behind")),
        "{cleanup:?}"
    );
    let live: Vec<_> = credential
        .live_instances()
        .into_iter()
        .map(|i| i.cloud_id)
        .collect();
    assert!(!live.is_empty());
    assert_eq!(
        report.leftovers, live,
        "every instance still at the provider is reported"
    );
    assert!(report.to_string().contains("left behind"));
}

#[tokio::test]
async fn a_panicking_check_fails_alone_and_the_run_goes_on() {
    let credential = MemoryCredential::new(Faults {
        panic_in_locations: true,
        ..Faults::default()
    });
    let report = run_printed(target(&credential), "memory (panic in locations)").await;
    let locations = mismatches(&report, "locations");
    assert!(
        locations
            .iter()
            .any(|m| m.contains("panicked") && m.contains("deliberate panic")),
        "{locations:?}"
    );
    assert_eq!(report.failed(), 1, "{report}");
    assert!(
        report
            .check("terminate")
            .is_some_and(gpucloud_conformance::CheckResult::is_passed)
    );
    assert!(credential.live_instances().is_empty());
}

/// Runs the suite against a memory provider with `faults` and returns the mismatches of
/// `check`, after asserting that it failed and nothing was left behind.
async fn failing(faults: Faults, label: &str, check: &str) -> Vec<String> {
    let credential = MemoryCredential::new(faults);
    let report = run_printed(target(&credential), label).await;
    let found = mismatches(&report, check);
    assert!(
        report
            .check(check)
            .is_some_and(|c| !c.is_passed() && !found.is_empty()),
        "{check} should fail:\n{report}"
    );
    assert!(report.leftovers.is_empty(), "{report}");
    assert!(credential.live_instances().is_empty());
    found
}

#[tokio::test]
async fn a_hostname_off_the_core_rule_fails_hostname() {
    let faults = Faults {
        raw_hostname: true,
        ..Faults::default()
    };
    let found = failing(faults, "memory (raw hostname)", "hostname").await;
    assert!(
        found
            .iter()
            .any(|m| m.contains("hostname is \"gpucloud-conformance--") && m.contains("core rule")),
        "{found:?}"
    );
}

#[tokio::test]
async fn stacking_duplicate_rules_fails_duplicate_rule() {
    let faults = Faults {
        stack_duplicate_rules: true,
        ..Faults::default()
    };
    let found = failing(faults, "memory (stacks duplicate rules)", "duplicate_rule").await;
    assert!(
        found
            .iter()
            .any(|m| m.contains("already in place") && m.contains("changed the rules")),
        "{found:?}"
    );
}

#[tokio::test]
async fn reporting_egress_rules_without_egress_filtering_fails_egress_rules() {
    let faults = Faults {
        reports_egress: true,
        ..Faults::default()
    };
    let found = failing(faults, "memory (reports egress)", "egress_rules").await;
    assert!(
        found
            .iter()
            .any(|m| m.contains("reports egress rules") && m.contains("allow-all")),
        "{found:?}"
    );
}

#[tokio::test]
async fn only_selected_checks_run_and_the_report_serializes() {
    let credential = MemoryCredential::new(Faults::default());
    let options = SuiteOptions {
        only: vec!["locations".into(), "tags".into()],
        ..SuiteOptions::default()
    };
    let report = run_printed(
        target(&credential).with_options(options),
        "memory (only locations, tags)",
    )
    .await;
    let names: Vec<&str> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "make_client",
            "locations",
            "create",
            "tags",
            "terminate",
            "cleanup"
        ]
    );
    assert!(report.is_success(), "{report}");
    let json = serde_json::to_value(&report).expect("report serializes");
    assert_eq!(json["provider"], "memory");
    assert_eq!(json["checks"][1]["name"], "locations");
    assert_eq!(json["checks"][1]["outcome"]["status"], "passed");
    assert!(json["checks"][1]["duration"].is_f64());
}
