//! SIGTERM and SIGHUP do what Ctrl-C does for the commands that create (issue 21): what the
//! command made and has not handed over is terminated, it says so on stderr and exits with
//! 128 + the signal's number; a second signal during the clean-up names what is left.

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use gpucloud_fakes::lambda::{FakeInstanceStatus, Fault, Operation};

use crate::common::{Harness, stderr};

const REGION: &str = "us-west-1";
const TYPE: &str = "gpu_1x_a10";

/// Sends `signal` (e.g. `TERM`) to the child.
fn send(child: &Child, signal: &str) {
    let sent = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits until `ready` holds, failing the test after 30 seconds.
fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < Duration::from_secs(30), "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Spawns `gpucloud ARGS` against the fake, with piped output.
fn spawn(h: &Harness, args: &[&str]) -> Child {
    h.process_cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Asserts that every instance the fake holds is terminating or terminated.
fn nothing_left_running(h: &Harness, out: &Output) {
    let instances = h.state().instances();
    assert_eq!(instances.len(), 1, "one instance was made: {instances:?}");
    assert!(
        instances.iter().all(|i| matches!(
            i.status,
            FakeInstanceStatus::Terminating | FakeInstanceStatus::Terminated
        )),
        "left running: {:?}\n{}",
        instances.iter().map(|i| i.status).collect::<Vec<_>>(),
        stderr(out)
    );
}

#[test]
fn sigterm_and_sighup_during_a_launch_terminate_what_it_made() {
    for (signal, name, code) in [("TERM", "SIGTERM", 143), ("HUP", "SIGHUP", 129)] {
        let h = Harness::with_boot_delay(Duration::from_secs(60));
        h.user_key();
        let child = spawn(
            &h,
            &[
                "launch",
                "-p",
                "lambda",
                "--gpu",
                "A10",
                "--wait",
                "--timeout",
                "120",
            ],
        );
        wait_until("the launch made no instance", || h.instance_count() > 0);
        send(&child, signal);
        let out = child.wait_with_output().unwrap();
        let progress = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{name}: {progress}");
        assert!(progress.contains(name), "{progress}");
        assert!(
            progress.contains("nothing of this launch is left running"),
            "{progress}"
        );
        nothing_left_running(&h, &out);
    }
}

#[test]
fn sigterm_during_create_wait_terminates_the_instance_and_says_so() {
    let (h, child) = create_wait_with_an_instance_booting();
    send(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(143), "{err}");
    let id = h.state().instances()[0].id.clone();
    assert!(
        err.contains(&format!(
            "instance {id}, which this command created, was terminated"
        )),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing was handed over");
    nothing_left_running(&h, &out);
}

#[test]
fn sigterm_while_the_create_is_in_flight_terminates_what_it_made() {
    let h = Harness::with_boot_delay(Duration::from_secs(60));
    h.user_key();
    h.state().set_capacity(REGION, TYPE, 5);
    // The signal lands while the launch request is being answered: the create is finished,
    // never abandoned, and what it made is then terminated.
    h.state()
        .set_fault_for(Operation::Launch, Fault::Latency(Duration::from_secs(2)));
    let child = spawn(
        &h,
        &[
            "instances",
            "create",
            "-p",
            "lambda",
            "--type",
            TYPE,
            "--location",
            REGION,
        ],
    );
    wait_until("no launch request", || {
        h.state()
            .request_count("POST", "/api/v1/instance-operations/launch")
            > 0
    });
    send(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
    nothing_left_running(&h, &out);
}

#[test]
fn a_second_signal_during_clean_up_names_what_is_left() {
    let (h, child) = create_wait_with_an_instance_booting();
    let id = h.state().instances()[0].id.clone();
    // The clean-up's terminate hangs, so the second signal comes during it.
    h.state().set_fault_for(
        Operation::Terminate,
        Fault::Latency(Duration::from_secs(30)),
    );
    send(&child, "TERM");
    wait_until("no terminate request", || {
        h.state()
            .request_count("POST", "/api/v1/instance-operations/terminate")
            > 0
    });
    let second = Instant::now();
    send(&child, "INT");
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(
        second.elapsed() < Duration::from_secs(10),
        "stopped at once: {err}"
    );
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("SIGINT again"), "{err}");
    assert!(
        err.contains(&format!("gpucloud instances terminate -p lambda {id}")),
        "{err}"
    );
}

/// `instances create --wait` running against a fake whose instances take a minute to boot,
/// once the create has made its instance (so a signal now finds one to clean up).
fn create_wait_with_an_instance_booting() -> (Harness, Child) {
    let h = Harness::with_boot_delay(Duration::from_secs(60));
    h.user_key();
    h.state().set_capacity(REGION, TYPE, 5);
    let child = spawn(
        &h,
        &[
            "instances",
            "create",
            "-p",
            "lambda",
            "--type",
            TYPE,
            "--location",
            REGION,
            "--wait",
        ],
    );
    wait_until("the create made no instance", || h.instance_count() > 0);
    (h, child)
}
