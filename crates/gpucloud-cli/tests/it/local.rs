//! The local provider (needs root): `gpucloud up`, ssh into the instance, terminate.

use predicates::prelude::*;

use crate::common::{Harness, json, stderr, stdout};

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// True when the test should run; panics in CI without root.
fn root_or_skip(test: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "{test}: CI must run as root for the local provider tests");
    eprintln!("skipping {test}: the local provider needs root");
    false
}

#[test]
fn up_then_ssh_then_terminate() {
    if !root_or_skip("up_then_ssh_then_terminate") {
        return;
    }
    let h = Harness::new();
    let cmd = || {
        let mut cmd = h.bare_cmd();
        cmd.env("GPUCLOUD_LOCAL_SUBNET", "10.219.41.0/24");
        cmd
    };
    let out = cmd().arg("up").output().unwrap();
    assert!(out.status.success(), "stdout: {}\nstderr: {}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("ssh -i ") && text.contains("gpucloud ssh -p local "), "{text}");
    let id = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("gpucloud ssh -p local "))
        .expect("the gpucloud ssh line")
        .to_owned();
    assert!(stderr(&out).contains("generated a new key pair"), "{}", stderr(&out));

    cmd().args(["providers"]).assert().success().stdout(predicate::str::contains("running as root"));
    cmd().args(["instances", "list", "-p", "local"]).assert().success().stdout(predicate::str::contains(id.as_str()));

    // The printed ssh line works, through `gpucloud ssh` with the recorded key.
    let out = cmd().args(["ssh", "-p", "local", &id, "--", "echo", "hello-from-local"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("hello-from-local"), "{}", stdout(&out));

    let out = cmd().args(["instances", "terminate", "-p", "local", &id, "--wait", "-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["status"]["lifecycle_status"], "terminated");
}

#[test]
fn local_types_and_locations() {
    if !root_or_skip("local_types_and_locations") {
        return;
    }
    let h = Harness::new();
    let mut cmd = h.bare_cmd();
    cmd.env("GPUCLOUD_LOCAL_SUBNET", "10.219.42.0/24").args(["types", "-p", "local", "-o", "json"]);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!json(&out).as_array().unwrap().is_empty());
    let mut cmd = h.bare_cmd();
    cmd.env("GPUCLOUD_LOCAL_SUBNET", "10.219.42.0/24").args(["locations", "-p", "local"]);
    cmd.assert().success();
}
