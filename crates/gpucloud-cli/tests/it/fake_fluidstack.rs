//! `gpucloud fake fluidstack`: serves the fake until killed and prints what to export.

use std::io::{BufRead, BufReader, Write as _};
use std::process::Stdio;

use predicates::prelude::*;

use crate::common::Harness;

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
