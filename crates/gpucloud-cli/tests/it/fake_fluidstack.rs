//! `gpucloud fake fluidstack`: serves the fake until killed and prints what to export.

use std::io::{BufRead, BufReader, Write as _};
use std::process::Stdio;

use predicates::prelude::*;

use crate::common::{Harness, json, run_ok, stdout};

#[test]
fn fake_fluidstack_prints_the_url_template_and_project_then_serves_each_region() {
    let h = Harness::new();
    let bin = assert_cmd::cargo::cargo_bin("gpucloud");
    let mut child = std::process::Command::new(bin)
        .args([
            "fake",
            "fluidstack",
            "--region",
            "r-a",
            "--region",
            "r-b",
            "--boot-ms",
            "10",
        ])
        .env_clear()
        .env("HOME", h.home())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut template, mut project) = (String::new(), String::new());
    stdout.read_line(&mut template).unwrap();
    stdout.read_line(&mut project).unwrap();
    let template = template.trim().to_owned();
    let project = project.trim().to_owned();
    assert!(template.starts_with("http://127.0.0.1:"), "{template}");
    assert!(template.ends_with("/{region}/api/v1alpha1"), "{template}");
    assert!(uuid::Uuid::parse_str(&project).is_ok(), "{project}");

    let key = gpucloud_fakes::fluidstack::DEFAULT_API_KEY;
    let statuses: Vec<String> = ["r-a", "r-b", "r-c"]
        .iter()
        .map(|r| status_of(&template.replace("{region}", r), key, &project))
        .collect();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(statuses, ["200", "200", "404"]);
}

/// The status code of `GET <base>/instances`, over a plain HTTP/1.1 connection.
fn status_of(base: &str, key: &str, project: &str) -> String {
    let rest = base.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET /{path}/instances HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nX-PROJECT-ID: {project}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut status_line = String::new();
    BufReader::new(stream).read_line(&mut status_line).unwrap();
    status_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn fake_fluidstack_refuses_a_non_loopback_address_and_bad_regions() {
    let h = Harness::new();
    h.bare_cmd()
        .args(["fake", "fluidstack", "--addr", "0.0.0.0:0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("loopback"));
    h.bare_cmd()
        .args(["fake", "fluidstack", "--region", "a/b"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("regions"));
}

/// A `gpucloud fake fluidstack` child, killed when dropped (also when a test fails).
struct FakeChild {
    child: std::process::Child,
    template: String,
    project: String,
}

impl FakeChild {
    fn start(h: &Harness) -> Self {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("gpucloud"))
            .args([
                "fake",
                "fluidstack",
                "--region",
                "us-east-1",
                "--region",
                "eu-north-1",
            ])
            .args(["--boot-ms", "50"])
            .env_clear()
            .env("HOME", h.home())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (mut template, mut project) = (String::new(), String::new());
        stdout.read_line(&mut template).unwrap();
        stdout.read_line(&mut project).unwrap();
        Self {
            child,
            template: template.trim().to_owned(),
            project: project.trim().to_owned(),
        }
    }

    /// `gpucloud` pointed at both the Lambda fake and this Fluidstack fake.
    fn cmd(&self, h: &Harness) -> assert_cmd::Command {
        let mut cmd = h.cmd();
        cmd.env("FLUIDSTACK_API_URL", &self.template)
            .env(
                "FLUIDSTACK_API_KEY",
                gpucloud_fakes::fluidstack::DEFAULT_API_KEY,
            )
            .env("FLUIDSTACK_PROJECT_ID", &self.project)
            .env("FLUIDSTACK_REGIONS", "us-east-1,eu-north-1");
        cmd
    }
}

impl Drop for FakeChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn types_lists_lambda_and_fluidstack_side_by_side_with_unknown_prices_last() {
    let h = Harness::new();
    let fake = FakeChild::start(&h);
    let out = run_ok(fake.cmd(&h).args(["types", "--gpu", "H100"]));
    let table = stdout(&out);
    let rows: Vec<&str> = table.lines().skip(1).collect();
    let first_fluidstack = rows.iter().position(|r| r.contains("fluidstack"));
    let last_lambda = rows.iter().rposition(|r| r.contains("lambda"));
    let (Some(first_fluidstack), Some(last_lambda)) = (first_fluidstack, last_lambda) else {
        panic!("both providers should be listed:\n{table}");
    };
    assert!(
        last_lambda < first_fluidstack,
        "priced Lambda rows come before Fluidstack's unknown prices:\n{table}"
    );
    assert!(
        rows.iter()
            .filter(|r| r.contains("fluidstack"))
            .all(|r| r.contains("H100")),
        "{table}"
    );
    let out = run_ok(fake.cmd(&h).args(["types", "--gpu", "H100", "-o", "json"]));
    let fluidstack: Vec<serde_json::Value> = json(&out)["types"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            t["type"]
                .as_str()
                .is_some_and(|name| name.starts_with("h100-hgx"))
        })
        .cloned()
        .collect();
    assert!(!fluidstack.is_empty());
    assert!(
        fluidstack.iter().all(|t| t["base_price"].is_null()),
        "no invented price: {fluidstack:?}"
    );
}

#[test]
fn every_instances_command_works_with_p_fluidstack() {
    let h = Harness::new();
    let key = h.user_key();
    let fake = FakeChild::start(&h);
    let out = run_ok(
        fake.cmd(&h)
            .args(["instances", "create", "-p", "fluidstack"])
            .args(["--type", "h100-hgx-80gb.8x", "--location", "us-east-1"])
            .args([
                "--name",
                "fs-1",
                "--tag",
                "team=ml",
                "--open-port",
                "8080/tcp",
            ])
            .args(["--wait", "-o", "json", "--ssh-key"])
            .arg(&key),
    );
    let created = json(&out);
    assert_eq!(created["status"]["lifecycle_status"], "running");
    assert_eq!(created["tags"]["team"], "ml");
    assert_eq!(created["location"], "us-east-1");
    let id = created["cloud_id"].as_str().unwrap().to_owned();

    let listed = json(&run_ok(fake.cmd(&h).args([
        "instances",
        "list",
        "-p",
        "fluidstack",
        "--tag",
        "team=ml",
        "-o",
        "json",
    ])));
    assert_eq!(listed["instances"].as_array().unwrap().len(), 1);
    let none = json(&run_ok(fake.cmd(&h).args([
        "instances",
        "list",
        "-p",
        "fluidstack",
        "--tag",
        "team=web",
        "-o",
        "json",
    ])));
    assert_eq!(none["instances"].as_array().unwrap().len(), 0);
    let got = json(&run_ok(fake.cmd(&h).args([
        "instances",
        "get",
        "-p",
        "fluidstack",
        &id,
        "-o",
        "json",
    ])));
    assert_eq!(got["cloud_id"], id.as_str());

    run_ok(
        fake.cmd(&h)
            .args(["instances", "stop", "-p", "fluidstack", &id, "--wait"]),
    );
    let stopped = json(&run_ok(fake.cmd(&h).args([
        "instances",
        "get",
        "-p",
        "fluidstack",
        &id,
        "-o",
        "json",
    ])));
    assert_eq!(stopped["status"]["lifecycle_status"], "stopped");
    run_ok(
        fake.cmd(&h)
            .args(["instances", "start", "-p", "fluidstack", &id, "--wait"]),
    );
    fake.cmd(&h)
        .args(["instances", "reboot", "-p", "fluidstack", &id])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not support reboot"));
    run_ok(
        fake.cmd(&h)
            .args(["instances", "terminate", "-p", "fluidstack", &id, "--wait"]),
    );
    let after = json(&run_ok(fake.cmd(&h).args([
        "instances",
        "list",
        "-p",
        "fluidstack",
        "-o",
        "json",
    ])));
    assert_eq!(
        after["instances"].as_array().unwrap().len(),
        0,
        "nothing left: {after}"
    );
    let locations = stdout(&run_ok(fake.cmd(&h).args([
        "locations",
        "-p",
        "fluidstack",
    ])));
    assert!(
        locations.contains("us-east-1") && locations.contains("eu-north-1"),
        "{locations}"
    );
}
