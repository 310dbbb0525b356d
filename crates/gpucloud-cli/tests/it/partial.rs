//! One provider's failure never hides the others', and is never silent (issue 21): a provider
//! configured wrongly or failing is reported once (on stderr, and in `failures` with `-o json`),
//! every other provider's answer is printed, and a partial answer exits 3.

use assert_cmd::Command;

use crate::common::{Harness, json, stderr, stdout};

const PARTIAL: i32 = 3;

/// The Lambda fake plus Fluidstack configured by half: key and regions, no project.
fn half_fluidstack(h: &Harness) -> Command {
    let mut cmd = h.cmd();
    cmd.env("FLUIDSTACK_API_KEY", "some-key")
        .env("FLUIDSTACK_REGIONS", "us-east-1");
    cmd
}

/// Runs `cmd`, asserting the partial status, one warning naming the missing setting and no
/// duplicate log line; returns stdout.
fn partial(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(PARTIAL), "{err}");
    assert_eq!(
        err.matches("FLUIDSTACK_PROJECT_ID").count(),
        1,
        "said once:\n{err}"
    );
    assert!(err.contains("warning: "), "{err}");
    assert!(
        !err.contains("WARN"),
        "no log line repeating the warning:\n{err}"
    );
    assert!(err.contains("partial answer"), "{err}");
    out
}

#[test]
fn a_half_configured_provider_is_reported_and_the_others_answer() {
    let h = Harness::new();

    let out = partial(half_fluidstack(&h).args(["offers", "--gpu", "A10", "--no-cache"]));
    assert!(stdout(&out).contains("lambda"), "{}", stdout(&out));

    let out = partial(half_fluidstack(&h).args(["types", "--gpu", "A10"]));
    assert!(stdout(&out).contains("gpu_1x_a10"), "{}", stdout(&out));

    let out = partial(half_fluidstack(&h).args(["instances", "list"]));
    assert!(stderr(&out).contains("No instances ("), "Lambda answered");

    let out = partial(half_fluidstack(&h).args(["gpus"]));
    assert!(stdout(&out).contains("lambda"), "{}", stdout(&out));

    let out = partial(half_fluidstack(&h).args(["providers"]));
    let table = stdout(&out);
    assert!(
        table.contains("lambda-labs") && table.contains("fluidstack"),
        "{table}"
    );
}

#[test]
fn every_json_output_that_spans_providers_carries_failures() {
    let h = Harness::new();
    for (args, list) in [
        (&["offers", "--gpu", "A10", "--no-cache"][..], "offers"),
        (&["types"][..], "types"),
        (&["instances", "list"][..], "instances"),
        (&["providers"][..], "providers"),
        (&["gpus"][..], "gpus"),
    ] {
        let out = partial(half_fluidstack(&h).args(args).args(["-o", "json"]));
        let answer = json(&out);
        assert!(answer[list].is_array(), "{args:?}: {answer}");
        let failures = answer["failures"].as_array().expect("failures");
        assert_eq!(failures.len(), 1, "{args:?}: {answer}");
        assert_eq!(failures[0]["provider"], "fluidstack");
        assert!(failures[0]["kind"].is_string(), "{answer}");
        assert!(
            failures[0]["message"]
                .as_str()
                .unwrap()
                .contains("FLUIDSTACK_PROJECT_ID")
        );
    }
    let answer = json(&partial(
        half_fluidstack(&h).args(["types", "--gpu", "A10", "-o", "json"]),
    ));
    assert!(
        answer["types"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["provider"] != "fluidstack"),
        "{answer}"
    );
}

#[test]
fn a_rejected_key_is_a_failure_never_an_empty_answer() {
    let h = Harness::new();
    // The only provider fails: not "no instances", not "no types".
    let out = h
        .cmd()
        .env("LAMBDA_API_KEY", "bad")
        .args(["instances", "list", "-p", "lambda", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let answer = json(&out);
    assert_eq!(answer["instances"], serde_json::json!([]));
    assert_eq!(answer["failures"][0]["provider"], "lambda");
    assert_eq!(answer["failures"][0]["kind"], "Unauthenticated");

    let out = h
        .cmd()
        .env("LAMBDA_API_KEY", "bad")
        .args(["types", "-p", "lambda"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        !stdout(&out).contains("No instance types match"),
        "{}",
        stdout(&out)
    );
    assert!(!err.contains("No instance types match"), "{err}");

    // Beside a provider configured wrongly, both are reported, once each. As root the local
    // provider is configured too and answers: then the answer is partial.
    let out = half_fluidstack(&h)
        .env("LAMBDA_API_KEY", "bad")
        .args(["types"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(err.matches("warning: ").count(), 2, "{err}");
    if is_root() {
        assert_eq!(out.status.code(), Some(PARTIAL), "{err}");
    } else {
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("no provider answered"), "{err}");
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
