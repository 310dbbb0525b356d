//! `gpucloud fake shadeform`: serves the fake until killed, and every command works with
//! `-p shadeform` against it; `types --gpu H100` shows Shadeform's upstream clouds next to
//! Lambda's offers.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use predicates::prelude::*;

use crate::common::{Harness, json, run_ok, stdout};

/// A `gpucloud fake shadeform` child, killed when dropped (also when a test fails).
struct FakeChild {
    child: std::process::Child,
    url: String,
}

impl FakeChild {
    fn start(h: &Harness) -> Self {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("gpucloud"))
            .args(["fake", "shadeform", "--boot-ms", "60"])
            .env_clear()
            .env("HOME", h.home())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut url = String::new();
        stdout.read_line(&mut url).unwrap();
        Self {
            child,
            url: url.trim().to_owned(),
        }
    }

    /// `gpucloud` pointed at both the Lambda fake and this Shadeform fake.
    fn cmd(&self, h: &Harness) -> assert_cmd::Command {
        let mut cmd = h.cmd();
        cmd.env("SHADEFORM_API_URL", &self.url).env(
            "SHADEFORM_API_KEY",
            gpucloud_fakes::shadeform::DEFAULT_API_KEY,
        );
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
fn fake_shadeform_prints_its_url_and_refuses_other_addresses() {
    let h = Harness::new();
    let fake = FakeChild::start(&h);
    assert!(fake.url.starts_with("http://127.0.0.1:"), "{}", fake.url);
    assert!(fake.url.ends_with("/v1"), "{}", fake.url);
    h.bare_cmd()
        .args(["fake", "shadeform", "--addr", "0.0.0.0:0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("loopback"));
}

#[test]
fn types_shows_the_upstream_clouds_beside_lambda() {
    let h = Harness::new();
    let fake = FakeChild::start(&h);
    let table = stdout(&run_ok(fake.cmd(&h).args(["types", "--gpu", "H100"])));
    let header = table.lines().next().unwrap_or_default();
    assert!(
        header.contains("PROVIDER") && header.contains("CLOUD"),
        "{table}"
    );
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert!(rows.iter().any(|r| r.contains("lambda")), "{table}");
    for cloud in ["hyperstack", "verda", "lambdalabs", "crusoe"] {
        assert!(
            rows.iter()
                .any(|r| r.contains("shadeform") && r.contains(cloud)),
            "{cloud} missing:\n{table}"
        );
    }
    let all = json(&run_ok(
        fake.cmd(&h).args(["types", "--gpu", "H100", "-o", "json"]),
    ));
    let shadeform: Vec<&serde_json::Value> = all["types"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["provider"] == "shadeform")
        .collect();
    assert!(shadeform.len() >= 4);
    assert!(
        shadeform
            .iter()
            .all(|t| t["cloud"] != "shadeform" || t["type"] == "excesssupply_A100_80G")
    );
    assert!(
        shadeform.iter().all(|t| !t["base_price"].is_null()),
        "cent prices"
    );
    let offers = stdout(&run_ok(fake.cmd(&h).args(["offers", "--gpu", "H100"])));
    assert!(
        offers.contains("CLOUD") && offers.contains("verda"),
        "{offers}"
    );
}

#[test]
fn every_command_works_with_p_shadeform() {
    let h = Harness::new();
    let key = h.user_key();
    let fake = FakeChild::start(&h);
    let locations = stdout(&run_ok(fake.cmd(&h).args(["locations", "-p", "shadeform"])));
    assert!(
        locations.contains("eu-north") && locations.contains("ca-central"),
        "{locations}"
    );
    let types = stdout(&run_ok(fake.cmd(&h).args(["types", "-p", "shadeform"])));
    assert!(types.contains("hyperstack_A6000"), "{types}");
    let created = json(&run_ok(
        fake.cmd(&h)
            .args(["instances", "create", "-p", "shadeform"])
            .args(["--type", "hyperstack_A6000", "--location", "ca-central"])
            .args([
                "--name",
                "sf-1",
                "--tag",
                "team=ml",
                "--open-port",
                "8080/tcp",
            ])
            .args(["--wait", "-o", "json", "--ssh-key"])
            .arg(&key),
    ));
    assert_eq!(created["status"]["lifecycle_status"], "running");
    assert_eq!(created["tags"]["team"], "ml");
    assert_eq!(created["location"], "ca-central");
    assert_eq!(created["sub_location"], "canada-1");
    assert_eq!(created["ssh_user"], "shadeform");
    let id = created["cloud_id"].as_str().unwrap().to_owned();
    let listed = json(&run_ok(fake.cmd(&h).args([
        "instances",
        "list",
        "-p",
        "shadeform",
        "--tag",
        "team=ml",
        "-o",
        "json",
    ])));
    assert_eq!(listed["instances"].as_array().unwrap().len(), 1);
    let got = json(&run_ok(fake.cmd(&h).args([
        "instances",
        "get",
        "-p",
        "shadeform",
        &id,
        "-o",
        "json",
    ])));
    assert_eq!(got["cloud_id"], id.as_str());
    assert_eq!(
        got["name"], listed["instances"][0]["name"],
        "names alike in get and list"
    );
    run_ok(
        fake.cmd(&h)
            .args(["instances", "reboot", "-p", "shadeform", &id]),
    );
    fake.cmd(&h)
        .args(["instances", "stop", "-p", "shadeform", &id])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("stop"));
    run_ok(
        fake.cmd(&h)
            .args(["instances", "terminate", "-p", "shadeform", &id, "--wait"]),
    );
    let after = json(&run_ok(fake.cmd(&h).args([
        "instances",
        "list",
        "-p",
        "shadeform",
        "-o",
        "json",
    ])));
    assert_eq!(
        after["instances"].as_array().unwrap().len(),
        0,
        "nothing left: {after}"
    );
}
