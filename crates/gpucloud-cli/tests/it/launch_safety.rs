//! What a launch or a create refuses before creating anything, and what a dry run and
//! `validate` on a real cloud say first (issue 21).

use predicates::prelude::*;

use crate::common::{Harness, json, run_ok, stderr, stdout};

/// No request that creates anything reached the fake.
fn nothing_created(h: &Harness) {
    assert_eq!(
        h.state()
            .request_count("POST", "/api/v1/instance-operations/launch"),
        0
    );
    assert_eq!(h.instance_count(), 0);
}

#[test]
fn durations_that_cannot_be_met_are_refused_before_anything_is_created() {
    let h = Harness::new();
    h.user_key();
    for args in [
        &[
            "instances",
            "create",
            "-p",
            "lambda",
            "--type",
            "gpu_1x_a10",
            "--wait",
            "--timeout",
            "0",
        ][..],
        &[
            "launch",
            "-p",
            "lambda",
            "--gpu",
            "A10",
            "--wait",
            "--timeout",
            "0",
        ][..],
        &[
            "launch",
            "-p",
            "lambda",
            "--gpu",
            "A10",
            "--wait",
            "--timeout",
            "18446744073709551615",
        ][..],
        &[
            "launch",
            "-p",
            "lambda",
            "--gpu",
            "A10",
            "--retry-until-up",
            "--retry-interval",
            "0",
        ][..],
        &[
            "instances",
            "get",
            "-p",
            "lambda",
            "some-id",
            "--wait",
            "--timeout",
            "0",
        ][..],
    ] {
        h.cmd()
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("seconds from 1 to"));
    }
    // A deadline no second round fits in, and a timeout with nothing to wait for.
    h.cmd()
        .args([
            "launch",
            "-p",
            "lambda",
            "--gpu",
            "A10",
            "--retry-until-up",
            "--retry-interval",
            "60",
            "--retry-deadline",
            "10",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--retry-deadline"));
    h.cmd()
        .args(["launch", "-p", "lambda", "--gpu", "A10", "--timeout", "60"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--timeout"));
    nothing_created(&h);
}

#[test]
fn retry_until_up_waits_until_the_instance_runs() {
    let h = Harness::new();
    h.user_key();
    let out = run_ok(h.cmd().args([
        "launch",
        "-p",
        "lambda",
        "--gpu",
        "A10",
        "--retry-until-up",
        "--retry-interval",
        "1",
        "-o",
        "json",
    ]));
    let launched = json(&out);
    assert_eq!(
        launched["instance"]["status"]["lifecycle_status"], "running",
        "never a pending instance as if up: {launched}"
    );
    assert_eq!(launched["failures"], serde_json::json!([]));
}

#[test]
fn a_dry_run_prints_the_offers_in_order_and_creates_nothing() {
    let h = Harness::new();
    let out = run_ok(h.cmd().args([
        "launch",
        "-p",
        "lambda",
        "--gpu",
        "H100",
        "--max-offers",
        "3",
        "--dry-run",
    ]));
    let table = stdout(&out);
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{table}");
    for (index, row) in rows.iter().enumerate() {
        assert!(
            row.trim_start().starts_with(&(index + 1).to_string()),
            "{table}"
        );
        assert!(row.contains("H100"), "{table}");
    }
    assert!(
        stderr(&out).contains("Nothing was created"),
        "{}",
        stderr(&out)
    );

    let out = run_ok(h.cmd().args([
        "launch",
        "-p",
        "lambda",
        "--gpu",
        "H100",
        "--max-offers",
        "3",
        "--dry-run",
        "-o",
        "json",
    ]));
    let plan = json(&out);
    let prices: Vec<f64> = plan["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            o["price_per_hour"]["amount"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(prices.len(), 3, "{plan}");
    assert!(
        prices.windows(2).all(|w| w[0] <= w[1]),
        "cheapest first: {prices:?}"
    );
    assert_eq!(plan["failures"], serde_json::json!([]));
    nothing_created(&h);
    assert!(
        !h.home().join(".config/gpucloud/keys").exists(),
        "a dry run generates no key either"
    );
}

#[test]
fn validate_on_a_real_cloud_needs_yes_without_a_terminal() {
    let h = Harness::new();
    // LAMBDA_API_URL unset: the real Lambda Cloud. Refused before any request is sent.
    let out = h
        .bare_cmd()
        .env("LAMBDA_API_KEY", "secret_key")
        .args(["validate", "-p", "lambda"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("billable"), "{err}");
    assert!(err.contains("--yes"), "{err}");
    // Checks that create no instance need no confirmation; the fake on this machine neither
    // (fake_lambda's validate test runs the whole suite against it without --yes).
}
