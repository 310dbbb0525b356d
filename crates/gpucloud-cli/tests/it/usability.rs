//! Typos and names, output that fits, scripts and habits (issue 21), against the Lambda fake.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::common::{Harness, json, run_ok, stderr, stdout};

/// `offers -o json` for `--gpu <gpu>` on the Lambda fake: the offers.
fn offers_json(h: &Harness, gpu: &str) -> Vec<serde_json::Value> {
    let out = run_ok(h.cmd().args([
        "offers",
        "-p",
        "lambda",
        "--gpu",
        gpu,
        "--no-cache",
        "-o",
        "json",
    ]));
    json(&out)["offers"].as_array().unwrap().clone()
}

#[test]
fn gpu_forms_people_type_find_the_model() {
    let h = Harness::new();
    for typed in ["h-100", "H_100", "h100"] {
        let offers = offers_json(&h, typed);
        assert!(!offers.is_empty(), "{typed} found nothing");
        assert!(
            offers.iter().all(|o| o["gpu"]["model"] == "H100"),
            "{typed}"
        );
    }
    let eight = offers_json(&h, "8xH100");
    assert!(!eight.is_empty());
    assert!(eight.iter().all(|o| o["gpu"]["count"] == 8), "{eight:?}");
    assert_eq!(offers_json(&h, "8x H100").len(), eight.len());

    let big = offers_json(&h, "A100-80GB");
    assert!(!big.is_empty());
    for offer in &big {
        assert_eq!(offer["gpu"]["model"], "A100");
        assert_eq!(offer["gpu"]["vram"]["value"], 80, "{offer}");
    }
    let any_a100 = offers_json(&h, "A100");
    assert!(any_a100.len() > big.len(), "the 40 GB A100s are left out");

    // A known model nobody offers here: an empty answer, not an error.
    let out = run_ok(h.cmd().args(["offers", "-p", "lambda", "--gpu", "RTX4090"]));
    assert!(
        stderr(&out).contains("No offer matches."),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unknown_gpu_name_is_answered_with_the_nearest_models() {
    let h = Harness::new();
    for args in [
        &["offers", "-p", "lambda", "--gpu", "H10"][..],
        &["types", "-p", "lambda", "--gpu", "H10"][..],
        &["launch", "-p", "lambda", "--gpu", "H10:8"][..],
        &["launch", "-p", "lambda", "--gpu", "H10:8", "--dry-run"][..],
        &["offers", "-p", "lambda", "--gpu", "H10", "-o", "json"][..],
        &["types", "-p", "lambda", "--gpu", "H10", "-o", "json"][..],
    ] {
        let out = h.cmd().args(args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("`H10` is no GPU model"), "{err}");
        assert!(
            err.contains("did you mean") && err.contains("H100"),
            "{err}"
        );
        assert!(err.contains("gpucloud gpus"), "{err}");
        assert!(out.stdout.is_empty());
    }
    assert_eq!(h.instance_count(), 0, "the launch tried nothing");
}

#[test]
fn gpus_lists_every_model_with_counts_memory_prices_and_where() {
    let h = Harness::new();
    let out = run_ok(h.cmd().args(["gpus", "-p", "lambda"]));
    let table = stdout(&out);
    assert!(table.starts_with(" GPU "), "{table}");
    let h100 = table
        .lines()
        .find(|l| l.trim_start().starts_with("H100 "))
        .unwrap_or_else(|| panic!("no H100 row: {table}"));
    assert!(h100.contains("1,2,4,8"), "{h100}");
    assert!(h100.contains("80 GB") && h100.contains('$'), "{h100}");
    assert!(h100.contains("lambda"), "{h100}");

    let out = run_ok(h.cmd().args(["gpus", "-p", "lambda", "-o", "json"]));
    let answer = json(&out);
    assert_eq!(answer["failures"], serde_json::json!([]), "{answer}");
    let h100 = answer["gpus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "H100")
        .unwrap();
    assert_eq!(h100["counts"], serde_json::json!([1, 2, 4, 8]));
    assert_eq!(h100["providers"], serde_json::json!(["lambda"]));
    assert_eq!(h100["cheapest_per_hour"]["currency"], "USD");
}

#[test]
fn types_take_the_same_gpu_syntax_and_sort_as_offers() {
    let h = Harness::new();
    let out = run_ok(h.cmd().args([
        "types", "-p", "lambda", "--gpu", "H100:8", "--sort", "gpus", "-o", "json",
    ]));
    let answer = json(&out);
    let types = answer["types"].as_array().unwrap();
    assert!(!types.is_empty(), "types --gpu H100:8 is not empty");
    for t in types {
        assert_eq!(t["supported_gpus"][0]["count"], 8, "{t}");
    }
    for command in ["types", "offers", "launch"] {
        let out = run_ok(h.cmd().args([command, "--help"]));
        let help = stdout(&out);
        assert!(help.contains("--sort <SORT>"), "{command}: {help}");
        assert!(
            help.contains("price-per-gpu") && help.contains("gpus"),
            "{command}: {help}"
        );
        assert!(help.contains("--gpu <MODEL[:COUNT]>"), "{command}: {help}");
    }
}

#[test]
fn every_command_takes_and_prints_one_provider_name() {
    let h = Harness::new();
    for name in ["lambda", "lambda-labs"] {
        let out = run_ok(h.cmd().args(["types", "-p", name, "--gpu", "A10"]));
        let table = stdout(&out);
        assert!(
            table.lines().nth(1).unwrap().starts_with(" lambda "),
            "{table}"
        );
        assert!(!table.contains("lambda-labs"), "{table}");
        let out = run_ok(
            h.cmd()
                .args(["types", "-p", name, "--gpu", "A10", "-o", "json"]),
        );
        assert!(
            json(&out)["types"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["provider"] == "lambda"),
            "{name}"
        );
        let offers = run_ok(h.cmd().args([
            "offers",
            "-p",
            name,
            "--gpu",
            "A10",
            "--no-cache",
            "-o",
            "json",
        ]));
        let offers = json(&offers)["offers"].as_array().unwrap().clone();
        assert!(!offers.is_empty(), "offers -p {name} is not empty");
        assert!(offers.iter().all(|o| o["provider"] == "lambda"));
    }
}

#[test]
fn bad_flag_values_get_one_sentence_naming_flag_value_and_what_is_accepted() {
    let h = Harness::new();
    for (args, says) in [
        (
            &["offers", "--max-price", "-1"][..],
            "invalid value '-1' for '--max-price <USD>': `-1` is negative; expected an amount in US dollars of 0 or more",
        ),
        (
            &["types", "--gpus", "0"][..],
            "invalid value '0' for '--gpus <N>': 0 is out of range; expected a whole number of at least 1",
        ),
        (
            &["offers", "--min-gpus", "0"][..],
            "expected a whole number of at least 1",
        ),
        (
            &["launch", "--gpu", "H100", "--max-offers", "0"][..],
            "expected a whole number from 1 to 100",
        ),
        (&["offers", "--min-vram", "80Q"][..], "unknown unit `Q`"),
        (
            &["fake", "lambda", "--latency-ms", "-1"][..],
            "`-1` is not a whole number; expected a whole number of at least 0",
        ),
        (&["offers", "--gpu", "H100:0"][..], "--gpu"),
        // Durations are one family with the numbers above, whichever command takes them.
        (
            &["offers", "--deadline", "0"][..],
            "invalid value '0' for '--deadline <SECS>': 0 is out of range; expected whole seconds from 1 to 2592000 (30 days)",
        ),
        (
            &["ssh", "-p", "lambda", "some-id", "--connect-timeout", "1h"][..],
            "`1h` is not a whole number; expected whole seconds from 1 to 2592000 (30 days)",
        ),
        (
            &[
                "instances",
                "terminate",
                "-p",
                "lambda",
                "some-id",
                "--wait",
                "--timeout",
                "0",
            ][..],
            "'--timeout <SECS>': 0 is out of range; expected whole seconds from 1",
        ),
        (
            &["types", "--gpus", "99999999999"][..],
            "99999999999 is out of range; expected a whole number of at least 1",
        ),
    ] {
        let out = h.cmd().args(args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("unexpected argument"), "{err}");
        assert!(!err.contains("18446744073709551615") && !err.contains("4294967295"));
    }
    // The shortened units people write are sizes.
    let out = run_ok(h.cmd().args([
        "offers",
        "-p",
        "lambda",
        "--gpu",
        "A100",
        "--min-vram",
        "80G",
        "--no-cache",
        "-o",
        "json",
    ]));
    let offers = json(&out)["offers"].as_array().unwrap().clone();
    assert!(!offers.is_empty());
    assert!(offers.iter().all(|o| o["gpu"]["vram"]["value"] == 80));
}

/// The rows of a table on stdout (header included).
fn table_lines(out: &std::process::Output) -> Vec<String> {
    stdout(out).lines().map(str::to_owned).collect()
}

#[test]
fn tables_keep_ids_types_and_prices_whole_and_cut_only_free_text() {
    let h = Harness::new();
    // A narrow terminal, an unknown width (a pipe) and a pty that reports width 0.
    for columns in ["60", "0", ""] {
        let mut cmd = h.cmd();
        cmd.args(["offers", "-p", "lambda", "--gpu", "H100:8", "--no-cache"]);
        if !columns.is_empty() {
            cmd.env("COLUMNS", columns);
        }
        let out = run_ok(&mut cmd);
        let lines = table_lines(&out);
        let json_out = run_ok(h.cmd().args([
            "offers",
            "-p",
            "lambda",
            "--gpu",
            "H100:8",
            "--no-cache",
            "-o",
            "json",
        ]));
        let offers = json(&json_out)["offers"].as_array().unwrap().clone();
        for offer in &offers {
            let name = offer["instance_type"].as_str().unwrap();
            assert!(
                lines.iter().any(|l| l.contains(&format!(" {name} "))),
                "COLUMNS={columns}: {name} was cut or wrapped:\n{}",
                lines.join("\n")
            );
        }
        // One line per row: nothing wrapped, and a free-text column is cut with `…`.
        assert!(lines[0].contains("AVAILABLE IN"), "{}", lines.join("\n"));
        assert!(lines.iter().all(|l| l.len() > 20), "{}", lines.join("\n"));
        assert!(
            lines.iter().any(|l| l.ends_with('…')),
            "{}",
            lines.join("\n")
        );
    }
    // --wide shows everything.
    let out = run_ok(h.cmd().env("COLUMNS", "60").args([
        "offers",
        "-p",
        "lambda",
        "--gpu",
        "H100:8",
        "--no-cache",
        "--wide",
    ]));
    assert!(!stdout(&out).contains('…'), "{}", stdout(&out));
}

#[test]
fn memory_is_shown_in_one_unit_per_table() {
    let h = Harness::new();
    let out = run_ok(h.cmd().args(["types", "-p", "lambda", "--wide"]));
    let lines = table_lines(&out);
    let header = &lines[0];
    let at = header.find("MEMORY").unwrap();
    let units: std::collections::BTreeSet<&str> = lines[1..]
        .iter()
        .filter_map(|l| l.get(at..)?.split_whitespace().nth(1))
        .collect();
    assert_eq!(units.len(), 1, "{units:?}\n{}", lines.join("\n"));
}

#[test]
fn offers_say_how_old_a_cached_answer_is() {
    let h = Harness::new();
    let first = run_ok(h.cmd().args(["offers", "-p", "lambda", "--gpu", "A10"]));
    assert!(
        !stderr(&first).contains("catalog cache"),
        "{}",
        stderr(&first)
    );
    std::thread::sleep(Duration::from_millis(1100));
    let second = run_ok(h.cmd().args(["offers", "-p", "lambda", "--gpu", "A10"]));
    let note = stderr(&second);
    assert!(note.contains("From the catalog cache: lambda"), "{note}");
    assert!(
        note.contains("s old") && note.contains("--refresh"),
        "{note}"
    );
    let fresh = run_ok(
        h.cmd()
            .args(["offers", "-p", "lambda", "--gpu", "A10", "--refresh"]),
    );
    assert!(!stderr(&fresh).contains("catalog cache"));
}

#[test]
fn the_instance_table_shows_gpus_price_and_uptime_and_terminate_takes_several_ids() {
    let h = Harness::new();
    h.user_key();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let out = run_ok(h.create_cmd("gpu_1x_a10").args(["--wait", "-o", "json"]));
        ids.push(json(&out)["cloud_id"].as_str().unwrap().to_owned());
    }
    let out = run_ok(h.cmd().args(["instances", "list", "-p", "lambda"]));
    let lines = table_lines(&out);
    for column in ["GPUS", "$/HOUR", "UPTIME"] {
        assert!(lines[0].contains(column), "{}", lines.join("\n"));
    }
    for id in &ids {
        let row = lines.iter().find(|l| l.contains(id.as_str())).unwrap();
        assert!(row.contains("1x A10") && row.contains('$'), "{row}");
        assert!(row.contains('s') || row.contains('m'), "uptime: {row}");
    }
    let help = stdout(&run_ok(h.cmd().args(["instances", "list", "--help"])));
    assert!(help.contains("credential's mark"), "{help}");

    let out = run_ok(h.cmd().args([
        "instances",
        "terminate",
        "-p",
        "lambda",
        &ids[0],
        &ids[1],
        "-o",
        "json",
    ]));
    assert_eq!(json(&out).as_array().map(Vec::len), Some(2));
    let live = h
        .state()
        .instances()
        .iter()
        .filter(|i| {
            !matches!(
                i.status,
                gpucloud_fakes::lambda::FakeInstanceStatus::Terminating
                    | gpucloud_fakes::lambda::FakeInstanceStatus::Terminated
            )
        })
        .count();
    assert_eq!(live, 0, "both were terminated");
}

#[test]
fn ssh_gives_up_after_the_connect_timeout() {
    let h = Harness::new();
    h.user_key();
    let out = run_ok(h.create_cmd("gpu_1x_a10").args(["--wait", "-o", "json"]));
    let id = json(&out)["cloud_id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let out = h
        .cmd()
        .args(["ssh", "-p", "lambda", &id, "--connect-timeout", "1"])
        .output()
        .unwrap();
    let err = stderr(&out);
    // ssh's own status and message for a connection that timed out (the fake's addresses are
    // never routed), after this command said where it connects and for how long.
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(err.contains("giving up after 1 s"), "{err}");
    assert!(err.contains("timed out"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "it hung");
    let out = h
        .cmd()
        .args(["ssh", "-p", "lambda", &id, "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("prints no data"), "{}", stderr(&out));
}

#[test]
fn completions_for_each_shell() {
    let h = Harness::new();
    for (shell, marker) in [
        ("bash", "_gpucloud()"),
        ("zsh", "#compdef gpucloud"),
        ("fish", "complete -c gpucloud"),
    ] {
        let out = run_ok(h.bare_cmd().args(["completions", shell]));
        let script = stdout(&out);
        assert!(script.contains(marker), "{shell}");
        assert!(script.contains("offers"), "{shell}");
    }
    let out = h.bare_cmd().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn config_init_writes_a_private_commented_file_and_names_the_overrides() {
    let h = Harness::new();
    let out = run_ok(h.bare_cmd().args(["config", "init"]));
    let said = stdout(&out);
    let path = h.home().join(".config/gpucloud/config.toml");
    assert!(said.contains(path.to_str().unwrap()), "{said}");
    assert!(
        said.contains("LAMBDA_API_KEY") && said.contains("GPUCLOUD_PROFILE"),
        "{said}"
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("# [profiles.default.lambda]"), "{text}");
    assert!(text.contains("# api_key = \"\""), "{text}");
    // The file as written loads.
    run_ok(h.bare_cmd().arg("providers"));

    let again = h.bare_cmd().args(["config", "init"]).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("exists"), "{}", stderr(&again));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    run_ok(h.bare_cmd().args(["config", "init", "--force"]));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a replaced file is private again");
}

#[test]
fn help_lists_a_commands_own_options_before_the_global_ones() {
    let h = Harness::new();
    let help = stdout(&run_ok(h.bare_cmd().args(["offers", "--help"])));
    let own = help.find("--gpu <MODEL[:COUNT]>").unwrap();
    let global = help.find("Global options:").unwrap();
    assert!(own < global, "{help}");
    assert!(help[global..].contains("--output"), "{help}");
    let fake = h
        .bare_cmd()
        .args(["fake", "lambda", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(fake.status.code(), Some(2), "{}", stderr(&fake));
}
