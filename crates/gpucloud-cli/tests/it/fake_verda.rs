//! `gpucloud fake verda`: serves the fake until killed; every command works with `-p verda`
//! against it; `offers --gpu H100` shows Verda's on-demand and spot offers beside Lambda's;
//! `validate -p verda` passes.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use predicates::prelude::*;

use crate::common::{Harness, json, run_ok, stdout};

/// A `gpucloud fake verda` child, killed when dropped (also when a test fails).
struct FakeChild {
    child: std::process::Child,
    url: String,
}

impl FakeChild {
    fn start(h: &Harness) -> Self {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("gpucloud"))
            .args(["fake", "verda", "--boot-ms", "60"])
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

    /// `gpucloud` pointed at both the Lambda fake and this Verda fake.
    fn cmd(&self, h: &Harness) -> assert_cmd::Command {
        let mut cmd = h.cmd();
        cmd.env("VERDA_API_URL", &self.url)
            .env("VERDA_CLIENT_ID", gpucloud_fakes::verda::DEFAULT_CLIENT_ID)
            .env(
                "VERDA_CLIENT_SECRET",
                gpucloud_fakes::verda::DEFAULT_CLIENT_SECRET,
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
fn fake_verda_prints_its_url_and_refuses_other_addresses() {
    let h = Harness::new();
    let fake = FakeChild::start(&h);
    assert!(fake.url.starts_with("http://127.0.0.1:"), "{}", fake.url);
    assert!(fake.url.ends_with("/v1"), "{}", fake.url);
    h.bare_cmd()
        .args(["fake", "verda", "--addr", "0.0.0.0:0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("loopback"));
}

#[test]
fn offers_show_verda_on_demand_and_spot_beside_lambda() {
    let h = Harness::new();
    let fake = FakeChild::start(&h);
    let answer = json(&run_ok(fake.cmd(&h).args([
        "offers",
        "--gpu",
        "H100",
        "--no-cache",
        "-o",
        "json",
    ])));
    let offers = answer["offers"].as_array().expect("offers");
    let text = answer.to_string();
    assert!(
        offers
            .iter()
            .any(|o| o["provider"] == "lambda-labs" || o["provider"] == "lambda"),
        "{text}"
    );
    let verda: Vec<&serde_json::Value> =
        offers.iter().filter(|o| o["provider"] == "verda").collect();
    assert!(
        verda.iter().any(|o| o["spot"] == true),
        "spot offers: {text}"
    );
    assert!(verda.iter().any(|o| o["spot"] == false), "{text}");
}

#[test]
fn every_command_works_with_p_verda() {
    let h = Harness::new();
    let key = h.user_key();
    let fake = FakeChild::start(&h);
    let providers = stdout(&run_ok(fake.cmd(&h).args(["providers"])));
    assert!(providers.contains("verda"), "{providers}");
    assert!(!providers.contains(gpucloud_fakes::verda::DEFAULT_CLIENT_SECRET));
    let locations = stdout(&run_ok(fake.cmd(&h).args(["locations", "-p", "verda"])));
    assert!(
        locations.contains("FIN-01") && locations.contains("ICE-01"),
        "{locations}"
    );
    let types = stdout(&run_ok(
        fake.cmd(&h).args(["types", "-p", "verda", "--gpu", "H100"]),
    ));
    assert!(types.contains("8H100.80S.176V"), "{types}");
    let created = json(&run_ok(
        fake.cmd(&h)
            .args(["instances", "create", "-p", "verda"])
            .args(["--type", "1A100.22V", "--location", "FIN-01"])
            .args(["--name", "vd-1", "--open-port", "8080/tcp"])
            .args(["--wait", "-o", "json", "--ssh-key"])
            .arg(&key),
    ));
    assert_eq!(created["status"]["lifecycle_status"], "running");
    assert_eq!(created["location"], "FIN-01");
    let id = created["cloud_id"].as_str().unwrap().to_owned();
    let listed = json(&run_ok(fake.cmd(&h).args([
        "instances",
        "list",
        "-p",
        "verda",
        "-o",
        "json",
    ])));
    assert_eq!(listed["instances"].as_array().unwrap().len(), 1);
    let got = json(&run_ok(fake.cmd(&h).args([
        "instances",
        "get",
        "-p",
        "verda",
        &id,
        "-o",
        "json",
    ])));
    assert_eq!(got["cloud_id"], id.as_str());
    run_ok(
        fake.cmd(&h)
            .args(["instances", "stop", "-p", "verda", &id, "--wait"]),
    );
    run_ok(
        fake.cmd(&h)
            .args(["instances", "start", "-p", "verda", &id, "--wait"]),
    );
    fake.cmd(&h)
        .args(["instances", "reboot", "-p", "verda", &id])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("reboot"));
    run_ok(
        fake.cmd(&h)
            .args(["instances", "terminate", "-p", "verda", &id, "--wait"]),
    );
    let after = json(&run_ok(fake.cmd(&h).args([
        "instances",
        "list",
        "-p",
        "verda",
        "-o",
        "json",
    ])));
    assert_eq!(
        after["instances"].as_array().unwrap().len(),
        0,
        "nothing left: {after}"
    );
    run_ok(fake.cmd(&h).args(["validate", "-p", "verda"]));
}
