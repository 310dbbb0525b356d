//! The suite as trials: one per check, ignored when it cannot apply, one check runnable alone,
//! failures reported by the failing check, and everything cleaned up after a filtered run.

use std::sync::Arc;
use std::time::Duration;

use gpucloud_conformance::libtest_mimic::{Arguments, Trial};
use gpucloud_conformance::{ALL_CHECKS, Suite, Target, Timeouts, TrialsOutcome, run_trials};

use crate::memory::{Faults, MemoryCredential};

/// The checks the memory provider cannot take: its instances are not reachable.
const NOT_APPLICABLE: [&str; 3] = ["ssh", "firewall_ingress", "firewall_egress"];

fn suite(credential: &MemoryCredential) -> Suite {
    let credential = credential.clone();
    Suite::new("mem", move || async move {
        Target::new(Arc::new(credential))
            .with_location("mem-east")
            .with_stable_ids(["mem-east-noSub-cpu.small"])
            .with_timeouts(Timeouts::fast().map(|d| d.min(Duration::from_secs(3))))
    })
}

fn exactly(name: &str) -> Arguments {
    Arguments {
        filter: Some(name.to_owned()),
        exact: true,
        ..Arguments::default()
    }
}

fn run(suite: &Suite, args: &Arguments) -> TrialsOutcome {
    run_trials(args, std::slice::from_ref(suite), Vec::new())
}

#[test]
fn every_check_is_a_trial_named_after_it() {
    let credential = MemoryCredential::new(Faults::default());
    let trials = suite(&credential).trials();
    let names: Vec<&str> = trials.iter().map(Trial::name).collect();
    let expected: Vec<String> = ALL_CHECKS.iter().map(|c| format!("mem::{c}")).collect();
    assert_eq!(names, expected);
    let ignored: Vec<&str> = trials
        .iter()
        .filter(|t| t.has_ignored_flag())
        .map(|t| t.name().trim_start_matches("mem::"))
        .collect();
    assert_eq!(ignored, NOT_APPLICABLE, "decided before anything runs");
}

#[test]
fn the_correct_provider_passes_every_applicable_trial_and_ignores_the_rest() {
    let credential = MemoryCredential::new(Faults::default());
    let outcome = run(&suite(&credential), &Arguments::default());
    assert!(outcome.is_success(), "{outcome:?}");
    let c = &outcome.conclusion;
    assert_eq!(c.num_ignored, NOT_APPLICABLE.len() as u64, "{c:?}");
    assert_eq!(
        c.num_passed,
        (ALL_CHECKS.len() - NOT_APPLICABLE.len()) as u64,
        "{c:?}"
    );
    assert!(credential.live_instances().is_empty());
}

#[test]
fn one_check_runs_alone_with_what_it_needs_and_is_cleaned_up() {
    let credential = MemoryCredential::new(Faults::default());
    let outcome = run(&suite(&credential), &exactly("mem::stop_start"));
    assert!(outcome.is_success(), "{outcome:?}");
    let c = &outcome.conclusion;
    assert_eq!(
        (c.num_passed, c.num_failed, c.num_ignored),
        (1, 0, 0),
        "{c:?}"
    );
    assert_eq!(c.num_filtered_out, (ALL_CHECKS.len() - 1) as u64);
    assert!(
        credential.live_instances().is_empty(),
        "the instance stop_start created was terminated after the trials"
    );
}

#[test]
fn a_broken_provider_fails_the_trials_of_the_checks_it_breaks() {
    let credential = MemoryCredential::new(Faults {
        stop_not_implemented: true,
        ..Faults::default()
    });
    let all = run(&suite(&credential), &Arguments::default());
    assert_eq!(all.conclusion.num_failed, 2, "{all:?}");
    for check in ["mem::capabilities", "mem::stop_start"] {
        let alone = run(&suite(&credential), &exactly(check));
        assert_eq!(alone.conclusion.num_failed, 1, "{check}: {alone:?}");
        assert!(!alone.is_success());
    }
    let unaffected = run(&suite(&credential), &exactly("mem::tags"));
    assert!(unaffected.is_success(), "{unaffected:?}");
    assert!(credential.live_instances().is_empty());
}

#[test]
fn a_failed_prerequisite_fails_the_checks_that_need_it() {
    let credential = MemoryCredential::new(Faults {
        wrong_ref_id: true,
        ..Faults::default()
    });
    let outcome = run(&suite(&credential), &exactly("mem::tags"));
    assert_eq!(
        outcome.conclusion.num_failed, 1,
        "create failed, so tags cannot pass: {outcome:?}"
    );
    assert!(credential.live_instances().is_empty());
}

#[test]
fn what_a_filtered_run_leaves_behind_fails_it() {
    let credential = MemoryCredential::new(Faults {
        leak: true,
        ..Faults::default()
    });
    let credential_for_target = credential.clone();
    let suite = Suite::new("mem", move || async move {
        Target::new(Arc::new(credential_for_target))
            .with_location("mem-east")
            .with_timeouts(Timeouts::fast().map(|d| d.min(Duration::from_millis(500))))
    });
    let outcome = run(&suite, &exactly("mem::tags"));
    assert_eq!(outcome.conclusion.num_passed, 1, "{outcome:?}");
    assert_eq!(outcome.cleanup_failures.len(), 1, "{outcome:?}");
    assert!(
        outcome.cleanup_failures[0].contains("was left behind"),
        "{outcome:?}"
    );
    assert!(!outcome.is_success());
}

#[test]
fn a_skipped_suite_is_ignored_and_never_passes() {
    let suite = Suite::skipped("live", "LIVE_KEY is not set");
    let outcome = run(&suite, &Arguments::default());
    let c = &outcome.conclusion;
    assert_eq!(
        (c.num_passed, c.num_failed, c.num_ignored),
        (0, 0, ALL_CHECKS.len() as u64),
        "{c:?}"
    );
    let forced = run(
        &suite,
        &Arguments {
            include_ignored: true,
            ..Arguments::default()
        },
    );
    assert_eq!(forced.conclusion.num_passed, 0, "{forced:?}");
    assert_eq!(forced.conclusion.num_failed, ALL_CHECKS.len() as u64);
}
