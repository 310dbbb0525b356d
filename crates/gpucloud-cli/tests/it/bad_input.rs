//! Bad input: each case exits 2 (or 1 when the provider refuses) with a message naming the
//! problem, and creates nothing on the fake.

use std::os::unix::fs::PermissionsExt;

use crate::common::{CREATE_LAMBDA, Harness, stderr};

/// A type the fake has capacity for.
const A10: &str = "gpu_1x_a10";

/// Runs `gpucloud instances create -p lambda --type <available type> <extra...>` and checks
/// the exit code, that stderr names the problem, and that the fake holds no instance.
fn refuses(h: &Harness, extra: &[&str], code: i32, needle: &str) {
    let mut cmd = h.create_cmd(A10);
    cmd.args(extra);
    check(h, cmd, code, needle);
}

fn check(h: &Harness, mut cmd: assert_cmd::Command, code: i32, needle: &str) {
    let out = cmd.output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(
        err.to_lowercase().contains(&needle.to_lowercase()),
        "expected {needle:?} in: {err}"
    );
    let told: Vec<&str> = err
        .lines()
        .filter(|l| {
            !l.trim().is_empty()
                && !l.starts_with("Usage:")
                && !l.starts_with("For more information")
        })
        .collect();
    assert!(
        told.len() <= 2 || err.contains("required arguments"),
        "an error is one or two lines: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(h.instance_count(), 0, "nothing was created");
    assert_eq!(
        h.state()
            .request_count("POST", "/api/v1/instance-operations/launch"),
        0,
        "no launch request was sent"
    );
}

/// `instances create` flags refused before any request, each with what stderr must name.
const REFUSED_FLAGS: &[(&[&str], &str)] = &[
    (
        &["--ssh-key", "/nonexistent/id.pub"],
        "--ssh-key /nonexistent/id.pub: cannot read",
    ),
    (&["--open-port", "0"], "port 0"),
    (&["--open-port", "70000"], "port 70000 is out of range"),
    (&["--open-port", "9000-8000"], "reversed"),
    (&["--open-port", "443@10.0.0.0/33"], "--open-port"),
    (
        &["--open-port", "443@192.168.1.7/24"],
        "did you mean 192.168.1.0/24",
    ),
    (&["--open-port", "53/icmp"], "unknown protocol `icmp`"),
    (&["--tag", "team"], "expected KEY=VALUE"),
    (&["--tag", "=ml"], "empty key"),
    (
        &["--user-data", "/nonexistent/cloud-init.yaml"],
        "--user-data",
    ),
    (&["--ref-id", " "], "--ref-id"),
];

#[test]
fn bad_create_flags_exit_2_naming_the_problem() {
    let h = Harness::new();
    for (flags, needle) in REFUSED_FLAGS {
        refuses(&h, flags, 2, needle);
    }
}

#[test]
fn malformed_key_file() {
    let h = Harness::new();
    let bad = h.file("bad.pub", "ssh-ed25519 not-base64!!! me@host\n");
    refuses(
        &h,
        &["--ssh-key", bad.to_str().unwrap()],
        2,
        "not a usable SSH public key",
    );
}

#[test]
fn private_key_instead_of_public() {
    let h = Harness::new();
    let public = h.user_key();
    let private = public.with_extension("");
    refuses(
        &h,
        &["--ssh-key", private.to_str().unwrap()],
        2,
        "private key",
    );
}

#[test]
fn binary_key_file() {
    let h = Harness::new();
    let path = h.home().join("bin.pub");
    std::fs::write(&path, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    refuses(
        &h,
        &["--ssh-key", path.to_str().unwrap()],
        2,
        "not a text file",
    );
}

#[test]
fn unknown_provider() {
    let h = Harness::new();
    let mut cmd = h.cmd();
    cmd.args(["instances", "create", "-p", "nimbus", "--type", "x"]);
    check(&h, cmd, 2, "unknown provider `nimbus`");
}

#[test]
fn unknown_type() {
    let h = Harness::new();
    h.user_key();
    let cmd = h.create_cmd("gpu_9x_imaginary");
    check(&h, cmd, 2, "no instance type `gpu_9x_imaginary`");
}

#[test]
fn unknown_location() {
    let h = Harness::new();
    h.user_key();
    refuses(
        &h,
        &["--location", "mars-north-1"],
        2,
        "no location `mars-north-1`",
    );
}

#[test]
fn missing_credentials() {
    let h = Harness::new();
    let mut cmd = h.bare_cmd();
    cmd.args(CREATE_LAMBDA).arg(A10);
    check(&h, cmd, 2, "LAMBDA_API_KEY");
}

#[test]
fn rate_limit_settings_must_be_numbers() {
    let h = Harness::new();
    h.user_key();
    let mut cmd = h.cmd();
    cmd.env("LAMBDA_REQUESTS_PER_SECOND", "fast")
        .args(CREATE_LAMBDA)
        .arg(A10);
    check(&h, cmd, 2, "requests_per_second");
    let mut cmd = h.cmd();
    cmd.env("LAMBDA_REQUESTS_PER_SECOND", "0")
        .args(CREATE_LAMBDA)
        .arg(A10);
    check(&h, cmd, 2, "must be a positive number");
}

#[test]
fn wrong_api_key_is_refused_by_the_provider() {
    let h = Harness::new();
    h.user_key();
    let mut cmd = h.cmd();
    cmd.env("LAMBDA_API_KEY", "not-the-key")
        .args(CREATE_LAMBDA)
        .arg(A10);
    check(&h, cmd, 1, "unauthenticated");
}

#[test]
fn config_readable_by_others_is_refused_with_the_fix() {
    let h = Harness::new();
    let config = h.file(
        "config.toml",
        "[profiles.default.lambda]\napi_key = \"abc\"\n",
    );
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut cmd = h.bare_cmd();
    cmd.env("GPUCLOUD_CONFIG", &config)
        .args(CREATE_LAMBDA)
        .arg(A10);
    check(&h, cmd, 2, &format!("chmod 600 {}", config.display()));
}

#[test]
fn config_that_is_not_toml() {
    let h = Harness::new();
    let config = h.file("config.toml", "[profiles.default.lambda\napi_key = ");
    let mut cmd = h.cmd();
    cmd.env("GPUCLOUD_CONFIG", &config)
        .args(["types", "-p", "lambda"]);
    check(&h, cmd, 2, "not valid TOML");
}

#[test]
fn config_with_a_misspelt_setting() {
    let h = Harness::new();
    let config = h.file(
        "config.toml",
        "[profiles.default.lambda]\napi_url = \"http://127.0.0.1:1\"\napikey = \"x\"\n",
    );
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut cmd = h.cmd();
    cmd.env("GPUCLOUD_CONFIG", &config)
        .args(["types", "-p", "lambda"]);
    check(&h, cmd, 2, "unknown setting `apikey`");
}

#[test]
fn unknown_profile() {
    let h = Harness::new();
    let config = h.file("config.toml", "[profiles.default.lambda]\n");
    let mut cmd = h.cmd();
    cmd.env("GPUCLOUD_CONFIG", &config)
        .args(["--profile", "staging", "providers"]);
    check(&h, cmd, 2, "profile `staging` is not in");
}

#[test]
fn missing_explicit_config_file() {
    let h = Harness::new();
    let mut cmd = h.cmd();
    cmd.env("GPUCLOUD_CONFIG", "/nonexistent/gpucloud.toml")
        .arg("providers");
    check(&h, cmd, 2, "GPUCLOUD_CONFIG");
}

#[test]
fn bad_max_price_and_gpu_count() {
    let h = Harness::new();
    let mut cmd = h.cmd();
    cmd.args(["types", "-p", "lambda", "--max-price", "cheap"]);
    check(&h, cmd, 2, "--max-price");
    let mut cmd = h.cmd();
    cmd.args(["types", "-p", "lambda", "--gpus", "0"]);
    check(&h, cmd, 2, "--gpus");
}

#[test]
fn unknown_instance_id() {
    let h = Harness::new();
    let mut cmd = h.cmd();
    cmd.args(["instances", "get", "-p", "lambda", "0000deadbeef"]);
    check(&h, cmd, 1, "not found");
    let mut cmd = h.cmd();
    cmd.args(["ssh", "-p", "lambda", "0000deadbeef"]);
    check(&h, cmd, 1, "not found");
}

#[test]
fn usage_errors_exit_2() {
    let h = Harness::new();
    let mut cmd = h.cmd();
    cmd.args(["instances", "create", "-p", "lambda"]);
    check(&h, cmd, 2, "--type");
    let mut cmd = h.cmd();
    cmd.args(["types", "--sort", "vibes"]);
    check(&h, cmd, 2, "--sort");
}

#[test]
fn unknown_conformance_check() {
    let h = Harness::new();
    let mut cmd = h.cmd();
    cmd.args(["validate", "-p", "lambda", "--only", "everything"]);
    check(&h, cmd, 2, "unknown check `everything`");
}
