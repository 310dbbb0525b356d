//! The local provider (needs root): `gpucloud up`, ssh into the instance, terminate.

use predicates::prelude::*;

use crate::common::{Harness, json, run_ok, stderr, stdout};

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Panics unless this process is root: the test fails rather than passing. `scripts/test.sh`
/// leaves these tests out (listed as skipped) without root.
fn require_root(test: &str) {
    assert!(
        is_root(),
        "{test}: the local provider needs root (run as root, or filter this test out)"
    );
}

/// A state directory outside /tmp (instances get a private /tmp, so the provider's files must
/// live elsewhere), removed at the end.
fn state_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("gpucloud-cli-it-")
        .tempdir_in("/var/lib")
        .unwrap()
}

/// Terminates the instance when dropped, so a failed assertion leaves nothing running.
struct Terminate<F: Fn() -> assert_cmd::Command> {
    cmd: F,
    id: Option<String>,
}

impl<F: Fn() -> assert_cmd::Command> Drop for Terminate<F> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let _ = (self.cmd)()
                .args(["instances", "terminate", "-p", "local", &id, "--wait"])
                .output();
        }
    }
}

#[test]
fn up_then_ssh_then_terminate() {
    require_root("up_then_ssh_then_terminate");
    let h = Harness::new();
    let state = state_dir();
    let cmd = || {
        let mut cmd = h.bare_cmd();
        cmd.env("GPUCLOUD_LOCAL_SUBNET", "10.219.41.0/24")
            .env("GPUCLOUD_LOCAL_STATE", state.path());
        cmd
    };
    let out = cmd().arg("up").output().unwrap();
    let text = stdout(&out);
    let id = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("gpucloud ssh -p local "))
        .map(str::to_owned);
    let mut guard = Terminate {
        cmd,
        id: id.clone(),
    };
    assert!(
        out.status.success(),
        "stdout: {text}\nstderr: {}",
        stderr(&out)
    );
    assert!(
        text.contains("ssh -i ") && text.contains("gpucloud ssh -p local "),
        "{text}"
    );
    let id = id.expect("the gpucloud ssh line");
    let cmd = &guard.cmd;
    assert!(
        stderr(&out).contains("generated a new key pair"),
        "{}",
        stderr(&out)
    );

    let out = cmd().args(["providers", "-o", "json"]).output().unwrap();
    let providers = json(&out);
    let local = providers["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "local")
        .unwrap();
    assert_eq!(local["configured"], true, "{local:#}");
    cmd()
        .args(["instances", "list", "-p", "local"])
        .assert()
        .success()
        .stdout(predicate::str::contains(id.as_str()));

    // The printed ssh line works, through `gpucloud ssh` with the recorded key.
    let out = run_ok(cmd().args(["ssh", "-p", "local", &id, "--", "echo", "hello-from-local"]));
    assert!(
        stdout(&out).contains("hello-from-local"),
        "{}",
        stdout(&out)
    );

    let out = run_ok(cmd().args([
        "instances",
        "terminate",
        "-p",
        "local",
        &id,
        "--wait",
        "-o",
        "json",
    ]));
    assert_eq!(json(&out)["status"]["lifecycle_status"], "terminated");
    guard.id = None;
}

#[test]
fn local_types_and_locations() {
    require_root("local_types_and_locations");
    let h = Harness::new();
    let state = state_dir();
    let mut cmd = h.bare_cmd();
    cmd.env("GPUCLOUD_LOCAL_STATE", state.path());
    cmd.env("GPUCLOUD_LOCAL_SUBNET", "10.219.42.0/24")
        .args(["types", "-p", "local", "-o", "json"]);
    let out = run_ok(&mut cmd);
    assert!(!json(&out)["types"].as_array().unwrap().is_empty());
    let mut cmd = h.bare_cmd();
    cmd.env("GPUCLOUD_LOCAL_STATE", state.path());
    cmd.env("GPUCLOUD_LOCAL_SUBNET", "10.219.42.0/24")
        .args(["locations", "-p", "local"]);
    cmd.assert().success();
}

/// SIGTERM while `up` brings the instance up: it is terminated, not left behind (issue 21).
#[test]
fn sigterm_during_up_terminates_the_instance() {
    require_root("sigterm_during_up_terminates_the_instance");
    let h = Harness::new();
    let state = state_dir();
    let child = h
        .process_cmd()
        .env("GPUCLOUD_LOCAL_SUBNET", "10.219.43.0/24")
        .env("GPUCLOUD_LOCAL_STATE", state.path())
        .arg("up")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let instances = state.path().join("instances");
    let started = std::time::Instant::now();
    while std::fs::read_dir(&instances).map_or(true, |mut d| d.next().is_none()) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "up made no instance"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(err.contains("was terminated"), "{err}");
    let mut cmd = h.bare_cmd();
    cmd.env("GPUCLOUD_LOCAL_SUBNET", "10.219.43.0/24")
        .env("GPUCLOUD_LOCAL_STATE", state.path())
        .args(["instances", "list", "-p", "local", "-o", "json"]);
    let listed = json(&run_ok(&mut cmd));
    let live: Vec<&serde_json::Value> = listed["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| {
            !matches!(
                i["status"]["lifecycle_status"].as_str(),
                Some("terminating" | "terminated")
            )
        })
        .collect();
    for instance in &live {
        // Never leave a namespace behind, even when the test fails.
        let mut cmd = h.bare_cmd();
        cmd.env("GPUCLOUD_LOCAL_STATE", state.path()).args([
            "instances",
            "terminate",
            "-p",
            "local",
            instance["cloud_id"].as_str().unwrap_or_default(),
            "--wait",
        ]);
        let _ = cmd.output();
    }
    assert!(live.is_empty(), "left running: {live:?}");
}
