//! The API key never appears in any output or log line, at any verbosity.

use std::os::unix::fs::PermissionsExt;

use crate::common::{Harness, json, stderr};

const CANARY: &str = "canary-7f3c9e1a5b2d4c6e8f0a1b3c5d7e9f2a";

#[test]
fn the_api_key_never_appears_in_output_or_logs() {
    let h = Harness::with_key(CANARY);
    let key = h.user_key();
    let key = key.to_str().unwrap();
    let mut outputs = Vec::new();
    let mut run = |args: &[&str], rust_log: Option<&str>| {
        let mut cmd = h.cmd();
        cmd.args(args);
        if let Some(filter) = rust_log {
            cmd.env("RUST_LOG", filter);
        }
        let out = cmd.output().unwrap();
        outputs.push((args.join(" "), out.clone()));
        out
    };

    let created = run(
        &[
            "-vvv",
            "instances",
            "create",
            "-p",
            "lambda",
            "--type",
            "gpu_1x_a10",
            "--location",
            "us-east-1",
            "--ssh-key",
            key,
            "--wait",
            "-o",
            "json",
        ],
        None,
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let id = json(&created)["cloud_id"].as_str().unwrap().to_owned();

    for verbose in [None, Some("trace")] {
        run(&["-vvv", "providers"], verbose);
        run(&["providers", "-o", "json"], verbose);
        run(&["-v", "locations", "-p", "lambda"], verbose);
        run(&["-vv", "types", "-p", "lambda", "-o", "json"], verbose);
        run(&["-vvv", "instances", "list", "-p", "lambda"], verbose);
        run(
            &[
                "-vvv",
                "instances",
                "get",
                "-p",
                "lambda",
                &id,
                "-o",
                "json",
            ],
            verbose,
        );
        run(
            &["-vvv", "instances", "reboot", "-p", "lambda", &id],
            verbose,
        );
        run(&["-vvv", "instances", "stop", "-p", "lambda", &id], verbose);
        run(
            &["-vvv", "instances", "get", "-p", "lambda", "no-such-id"],
            verbose,
        );
        run(&["-vvv", "ssh", "-p", "lambda", "no-such-id"], verbose);
        run(
            &[
                "-vvv",
                "instances",
                "create",
                "-p",
                "lambda",
                "--type",
                "nope",
                "--ssh-key",
                key,
            ],
            verbose,
        );
        run(
            &[
                "-vvv",
                "validate",
                "-p",
                "lambda",
                "--only",
                "locations",
                "--only",
                "instance_types",
            ],
            verbose,
        );
    }
    run(
        &[
            "-vvv",
            "instances",
            "terminate",
            "-p",
            "lambda",
            &id,
            "--wait",
        ],
        Some("trace"),
    );

    // A wrong key must not be echoed either.
    let mut cmd = h.cmd();
    cmd.env("LAMBDA_API_KEY", format!("{CANARY}-wrong"))
        .env("RUST_LOG", "trace")
        .args(["-vvv", "locations", "-p", "lambda"]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    outputs.push(("wrong key".to_owned(), out));

    // Nor a key read from the config file.
    let config = h.file(
        "config.toml",
        &format!(
            "[profiles.default.lambda]\napi_key = \"{CANARY}\"\napi_url = \"{}\"\n",
            h.fake.base_url()
        ),
    );
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut cmd = h.bare_cmd();
    cmd.env("GPUCLOUD_CONFIG", &config)
        .env("RUST_LOG", "trace")
        .args(["-vvv", "providers"]);
    outputs.push(("config file".to_owned(), cmd.output().unwrap()));
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut cmd = h.bare_cmd();
    cmd.env("GPUCLOUD_CONFIG", &config).args(["providers"]);
    outputs.push(("config file, bad mode".to_owned(), cmd.output().unwrap()));

    let mut logged = 0;
    for (what, out) in &outputs {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        logged += text.lines().count();
        assert!(
            !text.contains(CANARY),
            "`gpucloud {what}` printed the API key:\n{text}"
        );
        assert!(
            !text.contains("panicked"),
            "`gpucloud {what}` panicked:\n{text}"
        );
    }
    assert!(
        logged > 200,
        "the runs logged at trace level ({logged} lines)"
    );
}
