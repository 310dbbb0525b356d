//! What the CLI tells the user when a fault meets a create or a terminate (issue 14).

use std::time::Duration;

use gpucloud_fakes::lambda::{FakeLambdaState, Fault, Operation};

use crate::common::{Harness, json, run_ok, stderr, stdout};

const REGION: &str = "us-west-1";
const TYPE: &str = "gpu_1x_a10";

/// Sets `fault` on `operation` once the fake has seen a `method` request to `path`, from a
/// background thread (the request is slowed down by the caller, so this lands in time).
fn once_seen(
    state: &FakeLambdaState,
    method: &'static str,
    path: &'static str,
    operation: Operation,
    fault: Fault,
) -> std::thread::JoinHandle<bool> {
    let state = state.clone();
    std::thread::spawn(move || {
        for _ in 0..60_000 {
            if state.request_count(method, path) > 0 {
                state.set_fault_for(operation, fault);
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    })
}

#[test]
fn a_create_of_unknown_outcome_prints_its_ref_id_and_the_command_that_resolves_it() {
    let h = Harness::new();
    h.user_key();
    h.state().set_capacity(REGION, TYPE, 5);
    // The launch is carried out but its answer is lost, and the lookup by RefID that
    // follows keeps failing: nobody can tell whether the instance exists.
    h.state().set_fault_for(
        Operation::Launch,
        Fault::Latency(Duration::from_millis(300)),
    );
    h.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::Launch,
        times: 1,
    });
    let lookups_fail = once_seen(
        h.state(),
        "POST",
        "/api/v1/instance-operations/launch",
        Operation::ListInstances,
        Fault::ServerError {
            status: 500,
            times: 1000,
        },
    );
    let out = h
        .create_cmd(TYPE)
        .args(["--location", REGION])
        .output()
        .unwrap();
    assert!(lookups_fail.join().unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let ref_id = err
        .split("its RefID is ")
        .nth(1)
        .and_then(|rest| rest.split_once(". "))
        .map_or_else(|| panic!("no RefID in:\n{err}"), |(id, _)| id.to_owned());
    let instances = h.state().instances();
    assert_eq!(instances.len(), 1, "{instances:?}");
    assert!(
        instances[0]
            .tags
            .iter()
            .any(|t| t.key == "gpucloud-ref-id" && t.value == ref_id),
        "the printed RefID is the instance's: {instances:?}"
    );
    let command = err
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("gpucloud instances create "))
        .unwrap_or_else(|| panic!("no command in:\n{err}"));
    assert!(command.contains(&format!("--ref-id {ref_id}")), "{command}");

    // Running the printed command returns that instance and makes no other.
    h.state().clear_faults();
    let words: Vec<&str> = command.split_whitespace().skip(1).collect();
    let out = run_ok(h.cmd().args(&words).args(["-o", "json"]));
    assert_eq!(
        json(&out)["cloud_id"],
        instances[0].id.as_str(),
        "{}",
        stdout(&out)
    );
    assert_eq!(h.instance_count(), 1);
}

#[test]
fn a_terminate_that_worked_succeeds_though_the_read_back_fails() {
    let h = Harness::new();
    h.user_key();
    h.state().set_capacity(REGION, TYPE, 5);
    let out = run_ok(
        h.create_cmd(TYPE)
            .args(["--location", REGION, "-o", "json"]),
    );
    let id = json(&out)["cloud_id"].as_str().unwrap().to_owned();
    // The terminate's cleanup is slowed down, so every read of the instance after the
    // terminate request fails.
    h.state().set_fault_for(
        Operation::Firewall,
        Fault::Latency(Duration::from_millis(300)),
    );
    let reads_fail = once_seen(
        h.state(),
        "POST",
        "/api/v1/instance-operations/terminate",
        Operation::GetInstance,
        Fault::ServerError {
            status: 500,
            times: 1000,
        },
    );
    let out = h
        .cmd()
        .args(["instances", "terminate", "-p", "lambda", &id])
        .output()
        .unwrap();
    assert!(reads_fail.join().unwrap());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("reading it back failed"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("terminating"), "{}", stdout(&out));
    let status = h.state().instance(&id).unwrap().status;
    assert!(
        matches!(status.as_str(), "terminating" | "terminated"),
        "{status:?}"
    );
}

#[test]
fn one_malformed_answer_to_a_list_does_not_fail_the_command() {
    let h = Harness::new();
    h.user_key();
    h.state().set_capacity(REGION, TYPE, 5);
    let out = run_ok(
        h.create_cmd(TYPE)
            .args(["--location", REGION, "-o", "json"]),
    );
    let id = json(&out)["cloud_id"].as_str().unwrap().to_owned();
    let before = h.state().request_count("GET", "/api/v1/instances");
    // Lambda's list decodes the answer as it streams in; a cut one must be read again.
    h.state()
        .set_fault_for(Operation::ListInstances, Fault::MalformedJson { times: 1 });
    let out = run_ok(
        h.cmd()
            .args(["instances", "list", "-p", "lambda", "-o", "json"]),
    );
    let listed = &json(&out)["instances"];
    assert_eq!(listed.as_array().unwrap().len(), 1, "{}", stdout(&out));
    assert_eq!(listed[0]["cloud_id"], id.as_str());
    assert!(
        h.state().request_count("GET", "/api/v1/instances") - before >= 2,
        "the malformed answer and the retry"
    );
}
