//! The capability check calls what is declared: a declared capability whose operation answers
//! `NotImplemented` fails it, naming the capability and the operation; a catalog that promises
//! what the client does not declare fails it too.

use std::sync::Arc;
use std::time::Duration;

use gpucloud_conformance::{SuiteOptions, Target, Timeouts, run};

use crate::memory::{Faults, MemoryCredential};

fn capabilities_only(credential: &MemoryCredential) -> Target {
    Target::new(Arc::new(credential.clone()))
        .with_location("mem-east")
        .with_timeouts(Timeouts::fast().map(|d| d.min(Duration::from_secs(3))))
        .with_options(SuiteOptions {
            only: vec!["capabilities".into()],
            ..SuiteOptions::default()
        })
}

#[tokio::test]
async fn declared_capabilities_that_answer_pass() {
    let credential = MemoryCredential::new(Faults::default());
    let report = run(capabilities_only(&credential)).await;
    let check = report.check("capabilities").expect("reported");
    assert!(check.is_passed(), "{report}");
    assert!(
        check
            .notes
            .iter()
            .any(|n| n.contains("stop_instance on a missing resource")),
        "the declared stop/start was called: {:?}",
        check.notes
    );
}

#[tokio::test]
async fn a_declared_capability_answering_not_implemented_fails() {
    let credential = MemoryCredential::new(Faults {
        stop_not_implemented: true,
        ..Faults::default()
    });
    let report = run(capabilities_only(&credential)).await;
    let check = report.check("capabilities").expect("reported");
    assert!(check.is_failed(), "{report}");
    let mismatches = check.mismatches();
    assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    assert!(
        mismatches[0]
            .contains("stop-start-instance is declared but stop_instance answers not implemented"),
        "{mismatches:?}"
    );
    assert!(report.leftovers.is_empty());
}

#[tokio::test]
async fn a_catalog_promising_an_undeclared_capability_fails() {
    let credential = MemoryCredential::new(Faults {
        undeclared_reboot: true,
        ..Faults::default()
    });
    let report = run(capabilities_only(&credential)).await;
    let check = report.check("capabilities").expect("reported");
    let mismatches = check.mismatches();
    assert_eq!(mismatches.len(), 1, "{report}");
    assert!(
        mismatches[0]
            .contains("report rebootable = true but the client does not declare reboot-instance"),
        "{mismatches:?}"
    );
}
