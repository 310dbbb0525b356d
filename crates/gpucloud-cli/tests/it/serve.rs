//! `gpucloud serve` over the Lambda fake, and the CLI talking to it: `--server` instances and
//! offers, `watch` across a server restart, `serve --once`.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Harness, json, run_ok, stderr};

const REGION: &str = "us-west-1";
const TYPE: &str = "gpu_1x_a10";

/// A running `gpucloud serve` and its first stdout line (the URL).
struct Served {
    child: Child,
    url: String,
}

impl Served {
    fn start(h: &Harness, db: &std::path::Path, addr: &str) -> Self {
        let mut child = h
            .process_cmd()
            .args([
                "serve",
                "--status-interval",
                "1",
                "--addr",
                addr,
                "--database",
            ])
            .arg(db)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("gpucloud serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");
        Self { child, url }
    }

    /// SIGTERM, then the exit status (at most 20 s).
    fn terminate(mut self) -> std::process::ExitStatus {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `gpucloud --server URL ...` with the user's key in place.
fn remote(h: &Harness, url: &str) -> assert_cmd::Command {
    let mut cmd = h.bare_cmd();
    cmd.env("GPUCLOUD_SERVER", url);
    cmd
}

/// Polls `instances list` until the record of `ref_id` passes `done`.
fn wait_for(h: &Harness, url: &str, ref_id: &str, done: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out =
            run_ok(remote(h, url).args(["instances", "list", "--ref-id", ref_id, "-o", "json"]));
        let record = json(&out)["instances"][0].clone();
        if done(&record) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{ref_id} never got there: {record}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Reads JSON lines from `watch -o json`.
fn next_event(lines: &mut std::io::Lines<BufReader<ChildStdout>>) -> serde_json::Value {
    let line = lines.next().expect("an event line").unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

#[test]
fn the_cli_drives_a_server_and_watch_resumes_across_a_restart() {
    let h = Harness::new();
    h.state().set_capacity(REGION, TYPE, 10);
    let key = h.user_key();
    let db = h.home().join("fleet.sqlite3");
    let served = Served::start(&h, &db, "127.0.0.1:0");
    let url = served.url.clone();

    let out = run_ok(
        remote(&h, &url)
            .args([
                "instances",
                "create",
                "-p",
                "lambda",
                "--type",
                TYPE,
                "--location",
                REGION,
            ])
            .args(["--ref-id", "cli-1", "--ssh-key"])
            .arg(&key)
            .args(["-o", "json"]),
    );
    assert_eq!(json(&out)["phase"], "requested");
    wait_for(&h, &url, "cli-1", |r| r["status"] == "running");

    let mut watch = h
        .process_cmd()
        .env("GPUCLOUD_SERVER", &url)
        .args(["watch", "--after", "0", "--count", "6", "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let before: Vec<serde_json::Value> = (0..4).map(|_| next_event(&mut lines)).collect();

    // The server stops (SIGTERM: a clean exit) and comes back on the same address and database.
    assert!(served.terminate().success());
    let port = url.rsplit(':').next().unwrap();
    let served = Served::start(&h, &db, &format!("127.0.0.1:{port}"));

    let out = run_ok(remote(&h, &url).args([
        "instances",
        "terminate",
        "-p",
        "lambda",
        "cli-1",
        "--wait",
        "-o",
        "json",
    ]));
    assert_eq!(json(&out)["phase"], "terminated");
    let after: Vec<serde_json::Value> = (0..2).map(|_| next_event(&mut lines)).collect();
    let status = watch.wait().unwrap();
    assert!(status.success());

    let events: Vec<&serde_json::Value> = before.iter().chain(&after).collect();
    let causes: Vec<&str> = events
        .iter()
        .map(|e| e["cause"].as_str().unwrap())
        .collect();
    assert_eq!(
        causes,
        [
            "create_requested",
            "create_sent",
            "created",
            "observed",
            "terminate_sent",
            "terminate_confirmed"
        ]
    );
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[1] > w[0]), "{ids:?}");

    // Offers come from the server's stored catalog; the list shows the instance.
    let out = run_ok(remote(&h, &url).args(["offers", "--gpu", "A10", "-o", "json"]));
    let offers = json(&out)["offers"].as_array().unwrap().clone();
    assert!(!offers.is_empty());
    assert!(offers.iter().all(|o| o["credential"] == "lambda"));
    let out = run_ok(remote(&h, &url).args(["instances", "list", "-o", "json"]));
    assert_eq!(json(&out)["instances"][0]["ref_id"], "cli-1");
    let out = run_ok(remote(&h, &url).args(["instances", "list"]));
    assert!(crate::common::stdout(&out).contains("cli-1"));
    drop(served);
}

#[test]
fn serve_once_runs_one_pass_and_bad_flags_are_refused_first() {
    let h = Harness::new();
    let db = h.home().join("state").join("fleet.sqlite3");
    let out = run_ok(
        h.cmd()
            .args(["serve", "--once", "-o", "json", "--database"])
            .arg(&db),
    );
    let report = json(&out);
    assert_eq!(report["inventories_failed"], 0, "{report}");
    assert!(
        report["inventories_read"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert!(
        report["partitions_listed"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert!(db.exists());

    let out = h
        .cmd()
        .args(["serve", "--addr", "0.0.0.0:0", "--database"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bearer token"), "{}", stderr(&out));

    let out = h
        .cmd()
        .args(["serve", "--database", "postgres://db/fleet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--database"), "{}", stderr(&out));

    let out = h.cmd().args(["watch"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--server"), "{}", stderr(&out));
}

#[test]
fn a_server_with_a_token_refuses_a_cli_without_it() {
    let h = Harness::new();
    let db = h.home().join("fleet.sqlite3");
    let mut served = {
        let mut child = h
            .process_cmd()
            .env("GPUCLOUD_SERVER_TOKEN", "t0ken")
            .args(["serve", "--addr", "127.0.0.1:0", "--database"])
            .arg(&db)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Served {
            child,
            url: line.trim().to_owned(),
        }
    };
    let out = remote(&h, &served.url)
        .args(["instances", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("401") && stderr(&out).contains("GPUCLOUD_SERVER_TOKEN"),
        "{}",
        stderr(&out)
    );
    let out = run_ok(
        remote(&h, &served.url)
            .env("GPUCLOUD_SERVER_TOKEN", "t0ken")
            .args(["instances", "list", "-o", "json"]),
    );
    assert_eq!(json(&out)["instances"], serde_json::json!([]));
    let _ = served.child.kill();
}
