//! Every command against the in-process Lambda fake, in both output formats.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use predicates::prelude::*;

use crate::common::{Harness, json, run_ok, stderr, stdout};

#[test]
fn providers_lists_lambda_from_env_in_table_and_json() {
    let h = Harness::new();
    h.cmd().arg("providers").assert().success().stdout(
        predicate::str::contains("lambda-labs").and(predicate::str::contains("env LAMBDA_API_KEY")),
    );
    let out = run_ok(h.cmd().args(["providers", "-o", "json"]));
    let rows = json(&out);
    let lambda = rows["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "lambda-labs")
        .expect("lambda row");
    assert_eq!(lambda["configured"], true);
    assert_eq!(lambda["name"], "lambda");
    let caps: Vec<&str> = lambda["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(caps.contains(&"create-instance"), "{caps:?}");
}

#[test]
fn providers_without_credentials_says_what_to_set() {
    let h = Harness::new();
    let out = run_ok(h.bare_cmd().args(["providers", "-o", "json"]));
    let rows = json(&out);
    let lambda = rows["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "lambda-labs")
        .unwrap();
    assert_eq!(lambda["configured"], false);
    assert!(
        lambda["problem"]
            .as_str()
            .unwrap()
            .contains("LAMBDA_API_KEY")
    );
}

#[test]
fn locations_in_table_and_json() {
    let h = Harness::new();
    h.cmd()
        .args(["locations", "-p", "lambda"])
        .assert()
        .success()
        .stdout(predicate::str::contains("us-east-1"));
    let out = run_ok(
        h.cmd()
            .args(["locations", "-p", "lambda-labs", "-o", "json"]),
    );
    let names: Vec<String> = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.iter().any(|n| n == "us-east-1"), "{names:?}");
}

#[test]
fn types_filters_and_sorts() {
    let h = Harness::new();
    h.cmd()
        .args(["types", "-p", "lambda"])
        .assert()
        .success()
        .stdout(predicate::str::contains("$/GPU-HOUR"));

    let out = run_ok(h.cmd().args([
        "types",
        "-p",
        "lambda",
        "-o",
        "json",
        "--sort",
        "price-per-gpu",
    ]));
    let all = json(&out);
    assert_eq!(all["failures"], serde_json::json!([]));
    let all = all["types"].as_array().unwrap();
    assert!(!all.is_empty());
    let per_gpu: Vec<f64> = all
        .iter()
        .filter_map(|t| {
            let price: f64 = t["base_price"]["amount"].as_str()?.parse().ok()?;
            let gpus: f64 = t["supported_gpus"]
                .as_array()?
                .iter()
                .map(|g| g["count"].as_f64().unwrap_or(0.0))
                .sum();
            (gpus > 0.0).then_some(price / gpus)
        })
        .collect();
    assert!(
        per_gpu.windows(2).all(|w| w[0] <= w[1] + 1e-9),
        "not sorted by price per GPU: {per_gpu:?}"
    );

    let out = run_ok(h.cmd().args([
        "types",
        "-p",
        "lambda",
        "--gpu",
        "h100",
        "--gpus",
        "8",
        "--available",
        "--max-price",
        "1000",
        "-o",
        "json",
    ]));
    let filtered = json(&out);
    let filtered = filtered["types"].as_array().unwrap();
    assert!(!filtered.is_empty(), "the fake offers 8x H100");
    for t in filtered {
        assert_eq!(t["is_available"], true);
        let gpus = t["supported_gpus"].as_array().unwrap();
        assert_eq!(
            gpus.iter()
                .map(|g| g["count"].as_u64().unwrap())
                .sum::<u64>(),
            8
        );
        assert!(gpus.iter().all(|g| g["name"] == "H100"));
    }

    let out = h
        .cmd()
        .args(["types", "-p", "lambda", "--max-price", "0.01", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(json(&out)["types"].as_array().unwrap().len(), 0);
}

/// A type and region the fake has capacity for.
fn cheapest_available(h: &Harness) -> (String, String) {
    let out = h
        .cmd()
        .args(["types", "-p", "lambda", "--available", "-o", "json"])
        .output()
        .unwrap();
    let types = json(&out);
    let first = &types["types"].as_array().unwrap()[0];
    (
        first["type"].as_str().unwrap().to_owned(),
        first["location"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn instance_lifecycle_create_list_get_reboot_terminate() {
    let h = Harness::new();
    let key = h.user_key();
    let (instance_type, location) = cheapest_available(&h);

    let out = run_ok(
        h.create_cmd(&instance_type)
            .args(["--location", &location])
            .args([
                "--name",
                "it-1",
                "--tag",
                "team=ml",
                "--open-port",
                "8080/tcp",
                "--wait",
                "-o",
                "json",
            ])
            .arg("--ssh-key")
            .arg(&key),
    );
    let created = json(&out);
    assert_eq!(created["status"]["lifecycle_status"], "running");
    assert_eq!(created["tags"]["team"], "ml");
    let id = created["cloud_id"].as_str().unwrap().to_owned();
    assert_eq!(h.instance_count(), 1);
    assert!(
        stderr(&out).contains("ssh -i"),
        "prints how to ssh in: {}",
        stderr(&out)
    );

    // The key file is remembered for `gpucloud ssh`.
    let records =
        std::fs::read_to_string(h.home().join(".config/gpucloud/instances.json")).unwrap();
    assert!(
        records.contains(&id) && records.contains("id_ed25519"),
        "{records}"
    );

    // list: table, JSON, tag filters.
    h.cmd()
        .args(["instances", "list", "-p", "lambda"])
        .assert()
        .success()
        .stdout(predicate::str::contains(id.as_str()));
    let out = h
        .cmd()
        .args([
            "instances",
            "list",
            "-p",
            "lambda",
            "--tag",
            "team=ml",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    let listed = json(&out);
    assert_eq!(listed["failures"], serde_json::json!([]));
    let listed = &listed["instances"];
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["provider"], "lambda");
    assert_eq!(listed[0]["cloud_id"], id.as_str());
    let out = h
        .cmd()
        .args([
            "instances",
            "list",
            "-p",
            "lambda",
            "--tag",
            "team=web",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(json(&out)["instances"].as_array().unwrap().len(), 0);
    // By RefID, as a create of unknown outcome's error says to find it.
    let ref_id = created["ref_id"].as_str().unwrap();
    for (wanted, count) in [(ref_id, 1), ("some-other-ref", 0)] {
        let out = h
            .cmd()
            .args([
                "instances",
                "list",
                "-p",
                "lambda",
                "--ref-id",
                wanted,
                "-o",
                "json",
            ])
            .output()
            .unwrap();
        let listed = json(&out);
        assert_eq!(
            listed["instances"].as_array().unwrap().len(),
            count,
            "{wanted}: {listed}"
        );
    }

    // get: table and JSON.
    h.cmd()
        .args(["instances", "get", "-p", "lambda", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("running"));
    let out = h
        .cmd()
        .args(["instances", "get", "-p", "lambda", &id, "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(json(&out)["cloud_id"], id.as_str());

    // reboot is supported by Lambda; stop/start is not.
    h.cmd()
        .args(["instances", "reboot", "-p", "lambda", &id, "--wait"])
        .assert()
        .success();
    h.cmd()
        .args(["instances", "stop", "-p", "lambda", &id])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "does not support stop-start-instance",
        ));
    h.cmd()
        .args(["instances", "start", "-p", "lambda", &id])
        .assert()
        .code(2);

    let out = run_ok(h.cmd().args([
        "instances",
        "terminate",
        "-p",
        "lambda",
        &id,
        "--wait",
        "-o",
        "json",
    ]));
    assert_eq!(json(&out)["status"]["lifecycle_status"], "terminated");
    let records =
        std::fs::read_to_string(h.home().join(".config/gpucloud/instances.json")).unwrap();
    assert!(!records.contains(&id), "record dropped after terminate");
}

#[test]
fn create_without_a_key_generates_one_and_says_so() {
    let h = Harness::new();
    let (instance_type, location) = cheapest_available(&h);
    let out = run_ok(h.create_cmd(&instance_type).args(["--location", &location]));
    assert!(
        stderr(&out).contains("generated a new key pair"),
        "{}",
        stderr(&out)
    );
    let private = h.home().join(".config/gpucloud/keys/id_ed25519");
    assert!(private.is_file());
    assert_eq!(
        std::fs::metadata(&private).unwrap().permissions().mode() & 0o077,
        0
    );
    assert!(
        stdout(&out).contains("lambda"),
        "table output: {}",
        stdout(&out)
    );
    assert_eq!(h.instance_count(), 1);
}

#[test]
fn create_without_location_picks_an_available_one() {
    let h = Harness::new();
    let key = h.user_key();
    let (instance_type, _) = cheapest_available(&h);
    let out = run_ok(
        h.create_cmd(&instance_type)
            .args(["-o", "json", "--ref-id", "fixed-ref"])
            .arg("--ssh-key")
            .arg(&key),
    );
    assert!(stderr(&out).contains("Using location"), "{}", stderr(&out));
    assert_eq!(json(&out)["ref_id"], "fixed-ref");
}

#[test]
fn ssh_runs_ssh_with_user_address_port_and_key() {
    let h = Harness::new();
    let key = h.user_key();
    let (instance_type, location) = cheapest_available(&h);
    let out = run_ok(
        h.create_cmd(&instance_type)
            .args(["--location", &location, "--wait", "-o", "json"])
            .arg("--ssh-key")
            .arg(&key),
    );
    let instance = json(&out);
    let id = instance["cloud_id"].as_str().unwrap();
    let ip = instance["public_ip"].as_str().unwrap();

    // A stand-in `ssh` that records its arguments.
    let bin = h.home().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = h.home().join("ssh-args");
    let script = bin.join("ssh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    h.cmd()
        .env("PATH", &path)
        .args(["ssh", "-p", "lambda", id, "--", "uname", "-a"])
        .assert()
        .success();
    let args: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let private = key.with_extension("");
    assert!(
        args.windows(2)
            .any(|w| w[0] == "-i" && w[1] == private.display().to_string()),
        "{args:?}"
    );
    assert!(
        args.windows(2).any(|w| w[0] == "-p" && w[1] == "22"),
        "{args:?}"
    );
    assert!(
        args.windows(2)
            .any(|w| w[0] == "-o" && w[1] == "ConnectTimeout=10"),
        "the default connect timeout: {args:?}"
    );
    assert!(
        args.iter().any(|a| a == &format!("ubuntu@{ip}")),
        "{args:?}"
    );
    assert_eq!(&args[args.len() - 3..], ["--", "uname", "-a"]);
}

#[test]
fn validate_reports_in_both_formats_and_exits_by_the_result() {
    let h = Harness::new();
    let out = h
        .cmd()
        .args(["validate", "-p", "lambda", "-o", "json"])
        .output()
        .unwrap();
    let report = json(&out);
    assert_eq!(report["provider"], "lambda-labs");
    let checks = report["checks"].as_array().unwrap();
    assert!(checks.len() > 3, "{report:#}");
    let failed = checks
        .iter()
        .filter(|c| c["outcome"]["status"] == "failed")
        .count();
    let leftovers = report["leftovers"].as_array().unwrap().len();
    // Exit 0 exactly when the suite succeeded; 1 otherwise, with the count on stderr.
    assert_eq!(
        out.status.code(),
        Some(i32::from(failed > 0 || leftovers > 0)),
        "{}",
        stderr(&out)
    );
    if failed > 0 {
        assert!(
            stderr(&out).contains(&format!("{failed} of {} checks failed", checks.len())),
            "{}",
            stderr(&out)
        );
    }
    // What the CLI is responsible for: the credential carries a reference id, and the checks
    // that depend on it pass.
    for name in ["locations", "instance_types", "create", "list", "terminate"] {
        let check = checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {report:#}"));
        assert_eq!(check["outcome"]["status"], "passed", "{name}: {check:#}");
    }
    assert_eq!(
        h.state()
            .instances()
            .iter()
            .filter(|i| i.status.as_str() != "terminated")
            .count(),
        0,
        "nothing left running"
    );

    let out = run_ok(
        h.cmd()
            .args(["validate", "-p", "lambda", "--only", "locations"]),
    );
    assert!(stdout(&out).contains("PASS locations"), "{}", stdout(&out));
}

#[test]
fn fake_lambda_serves_until_killed_and_prints_the_url_first() {
    let h = Harness::new();
    let bin = assert_cmd::cargo::cargo_bin("gpucloud");
    let mut child = std::process::Command::new(bin)
        .args(["fake", "lambda", "--boot-ms", "100", "--latency-ms", "1"])
        .env_clear()
        .env("HOME", h.home())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let out = h
        .bare_cmd()
        .env("LAMBDA_API_URL", &url)
        .env("LAMBDA_API_KEY", gpucloud_fakes::lambda::DEFAULT_API_KEY)
        .args(["locations", "-p", "lambda", "-o", "json"])
        .output()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!json(&out).as_array().unwrap().is_empty());
}

#[test]
fn fake_lambda_refuses_a_non_loopback_address() {
    let h = Harness::new();
    h.bare_cmd()
        .args(["fake", "lambda", "--addr", "0.0.0.0:0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("loopback"));
}

#[test]
fn config_file_profiles_configure_lambda() {
    let h = Harness::new();
    let config = h.file(
        "config.toml",
        &format!(
            "[profiles.default.lambda]\napi_key = \"wrong\"\napi_url = \"{url}\"\n\n[profiles.work.lambda]\napi_key = \"{key}\"\napi_url = \"{url}\"\n",
            url = h.fake.base_url(),
            key = h.fake.api_key()
        ),
    );
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The default profile's key is wrong: the provider refuses it (exit 1).
    h.bare_cmd()
        .env("GPUCLOUD_CONFIG", &config)
        .args(["locations", "-p", "lambda"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unauthenticated"));
    h.bare_cmd()
        .env("GPUCLOUD_CONFIG", &config)
        .args(["--profile", "work", "locations", "-p", "lambda"])
        .assert()
        .success();
    h.bare_cmd()
        .env("GPUCLOUD_CONFIG", &config)
        .env("GPUCLOUD_PROFILE", "work")
        .args(["providers"])
        .assert()
        .success()
        .stdout(predicate::str::contains("[profile work]"));
}

#[test]
fn providers_json_shows_each_descriptor_with_its_settings_table() {
    let h = Harness::new();
    let out = run_ok(h.bare_cmd().args(["providers", "-o", "json"]));
    let rows = json(&out);
    let lambda = rows["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "lambda-labs")
        .expect("lambda row");
    assert_eq!(lambda["display_name"], "Lambda Cloud");
    assert_eq!(lambda["ssh_reachable"], false);
    let settings = lambda["settings"].as_array().unwrap();
    let env: Vec<&str> = settings.iter().filter_map(|s| s["env"].as_str()).collect();
    for var in [
        "LAMBDA_API_KEY",
        "LAMBDA_API_URL",
        "LAMBDA_REQUEST_TIMEOUT_MS",
        "LAMBDA_RETRY_BACKOFF_MS",
        "LAMBDA_REF_ID",
    ] {
        assert!(env.contains(&var), "{var} missing from {env:?}");
    }
    let key = settings.iter().find(|s| s["key"] == "api_key").unwrap();
    assert_eq!(key["secret"], true);
    let timeout = settings
        .iter()
        .find(|s| s["key"] == "request_timeout_ms")
        .unwrap();
    assert_eq!(timeout["type"], "integer");
    assert_eq!(timeout["default"], "60000");
    // Not configured: the hint names the variable and the file table, from the descriptor.
    let problem = lambda["problem"].as_str().unwrap();
    assert!(
        problem.contains("set LAMBDA_API_KEY") && problem.contains("[profiles.default.lambda]"),
        "{problem}"
    );
}

#[test]
fn a_malformed_setting_is_refused_naming_it_and_its_variable() {
    let h = Harness::new();
    let out = h
        .cmd()
        .env("LAMBDA_RETRY_BACKOFF_MS", "soon")
        .args(["types", "-p", "lambda"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("retry_backoff_ms") && err.contains("LAMBDA_RETRY_BACKOFF_MS"),
        "{err}"
    );
}

/// `instances list` hides an instance made outside gpucloud (in Lambda's console); `--all`
/// lists it, `no` in the MANAGED column and `managed: false` in JSON, with no RefID or
/// credential mark.
#[test]
fn list_all_shows_and_marks_instances_gpucloud_does_not_manage() {
    let h = Harness::new();
    let key = h.user_key();
    let created = json(&run_ok(
        h.create_cmd("gpu_1x_a10")
            .args(["--location", "us-west-1", "-o", "json", "--ssh-key"])
            .arg(&key),
    ));
    let ours = created["cloud_id"].as_str().unwrap().to_owned();
    let theirs = h
        .state()
        .seed_instances(1, "us-west-1", "gpu_1x_a10")
        .unwrap()
        .remove(0);
    let list = |extra: &[&str]| {
        let mut cmd = h.cmd();
        cmd.args(["instances", "list", "-p", "lambda", "--wide"])
            .args(extra);
        run_ok(&mut cmd)
    };
    let row = |listed: &serde_json::Value, id: &str| {
        listed["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["cloud_id"] == id)
            .cloned()
    };

    let mine = json(&list(&["-o", "json"]));
    assert_eq!(mine["instances"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(row(&mine, &ours).expect("ours")["managed"], true);
    let table = stdout(&list(&[]));
    assert!(
        !table.contains(&theirs) && !table.contains("MANAGED"),
        "{table}"
    );

    let every = json(&list(&["--all", "-o", "json"]));
    assert_eq!(every["instances"].as_array().unwrap().len(), 2, "{every}");
    let foreign = row(&every, &theirs).expect("the unmanaged instance is listed");
    assert_eq!(foreign["managed"], false);
    assert_eq!(foreign["ref_id"], "");
    assert_eq!(foreign["cloud_cred_ref_id"], "");
    assert_eq!(row(&every, &ours).expect("ours")["managed"], true);
    let table = stdout(&list(&["--all"]));
    assert!(table.contains("MANAGED"), "{table}");
    let line = |id: &str| {
        table
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("no row for {id}:\n{table}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert!(line(&theirs).iter().any(|cell| cell == "no"), "{table}");
    assert!(line(&ours).iter().any(|cell| cell == "yes"), "{table}");

    run_ok(
        h.cmd()
            .args(["instances", "terminate", "-p", "lambda"])
            .args([&ours, &theirs]),
    );
}
