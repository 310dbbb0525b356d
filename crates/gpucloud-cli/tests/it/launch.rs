//! `gpucloud offers` and `gpucloud launch` against the Lambda fake.

use std::time::{Duration, Instant};

use gpucloud_fakes::lambda::{FakeInstanceStatus, Fault, Operation};
use predicates::prelude::*;

use crate::common::{Harness, json, run_ok, stderr, stdout};

/// Ctrl-C while the launched instance boots: the launch terminates it and exits 1, leaving
/// nothing running.
#[test]
fn ctrl_c_during_a_launch_terminates_what_the_attempt_made() {
    let h = Harness::with_boot_delay(Duration::from_secs(60));
    h.user_key();
    let child = h
        .process_cmd()
        .args([
            "launch",
            "-p",
            "lambda",
            "--gpu",
            "A10",
            "--wait",
            "--timeout",
            "120",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let launched = Instant::now();
    while h.instance_count() == 0 {
        assert!(
            launched.elapsed() < Duration::from_secs(30),
            "the launch made no instance"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let out = child.wait_with_output().unwrap();
    let progress = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "128 + SIGINT: {progress}");
    assert!(progress.contains("SIGINT"), "{progress}");
    assert!(
        progress.contains("nothing of this launch is left running"),
        "{progress}"
    );
    let instances = h.state().instances();
    assert_eq!(instances.len(), 1, "one attempt, one instance");
    assert!(
        instances.iter().all(|i| matches!(
            i.status,
            FakeInstanceStatus::Terminating | FakeInstanceStatus::Terminated
        )),
        "left running: {:?}",
        instances.iter().map(|i| i.status).collect::<Vec<_>>()
    );
}

#[test]
fn offers_are_grouped_filtered_and_in_json_with_failures() {
    let h = Harness::new();
    let out = run_ok(
        h.cmd()
            .args(["offers", "-p", "lambda", "--gpu", "H100:8", "--no-cache"]),
    );
    let table = stdout(&out);
    assert!(table.contains("AVAILABLE IN"), "{table}");
    assert!(table.contains("8x H100"), "{table}");

    let out = run_ok(h.cmd().args([
        "offers",
        "-p",
        "lambda",
        "--gpu",
        "h100",
        "--min-gpus",
        "2",
        "--no-cache",
        "-o",
        "json",
    ]));
    let answer = json(&out);
    let offers = answer["offers"].as_array().expect("offers");
    assert!(!offers.is_empty());
    for offer in offers {
        assert_eq!(offer["provider"], "lambda");
        assert_eq!(offer["gpu"]["model"], "H100");
        assert!(offer["gpu"]["count"].as_u64().unwrap() >= 2, "{offer}");
    }
    assert_eq!(answer["failures"].as_array().expect("failures").len(), 0);

    let out = run_ok(h.cmd().args([
        "offers",
        "-p",
        "lambda",
        "--gpu",
        "A10",
        "--wide",
        "--no-cache",
    ]));
    let wide = stdout(&out);
    assert!(
        wide.contains("ZONE") && wide.contains("us-east-1"),
        "{wide}"
    );
}

#[test]
fn offers_use_the_cache_until_refreshed() {
    let h = Harness::new();
    let count = || h.state().request_count("GET", "/api/v1/instance-types");
    run_ok(h.cmd().args(["offers", "-p", "lambda", "--gpu", "A10"]));
    assert_eq!(count(), 1);
    run_ok(h.cmd().args(["offers", "-p", "lambda", "--gpu", "A10"]));
    assert_eq!(count(), 1, "the second query is answered from the cache");
    run_ok(
        h.cmd()
            .args(["offers", "-p", "lambda", "--gpu", "A10", "--refresh"]),
    );
    assert_eq!(count(), 2);
}

#[test]
fn launch_brings_up_the_cheapest_offer_and_says_where() {
    let h = Harness::new();
    h.user_key();
    let out = run_ok(h.cmd().args([
        "launch",
        "-p",
        "lambda",
        "--gpu",
        "A10",
        "--wait",
        "--timeout",
        "60",
        "-o",
        "json",
    ]));
    let launched = json(&out);
    assert_eq!(launched["provider"], "lambda");
    assert_eq!(
        launched["instance"]["status"]["lifecycle_status"],
        "running"
    );
    assert_eq!(launched["offer"]["instance_type"], "gpu_1x_a10");
    assert_eq!(h.instance_count(), 1);
    let progress = stderr(&out);
    assert!(progress.contains("[1/"), "{progress}");
}

#[test]
fn launch_reports_every_offer_tried_and_leaves_nothing_when_all_fail() {
    let h = Harness::new();
    h.user_key();
    h.state().set_fault_for(
        Operation::Launch,
        Fault::ServerError {
            status: 503,
            times: 100,
        },
    );
    let out = h
        .cmd()
        .args([
            "launch",
            "-p",
            "lambda",
            "--gpu",
            "H100",
            "--max-offers",
            "3",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.contains("REASON"), "{table}");
    assert_eq!(table.matches("Unavailable").count(), 3, "{table}");
    assert!(
        stderr(&out).contains("all 3 offer(s) tried failed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(h.instance_count(), 0);
    assert!(
        h.state().ssh_keys().is_empty(),
        "{:?}",
        h.state().ssh_keys()
    );
}

#[test]
fn launch_refuses_bad_requests_before_any_call() {
    let h = Harness::new();
    h.cmd()
        .args(["launch", "-p", "lambda"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--gpu"));
    h.cmd()
        .args(["launch", "-p", "lambda", "--gpu", "H100:eight"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--gpu"));
    h.cmd()
        .args(["offers", "-p", "lambda", "--min-vram", "lots"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--min-vram"));
    assert_eq!(h.state().request_count("POST", "/api/v1/"), 0);
}
