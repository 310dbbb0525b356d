//! Lifecycle timings of the local provider on this machine: create → running (sshd accepts
//! TCP) → first successful `ssh` command, median and max of 10 sequential creates; stop and
//! start; and 20 instances brought up at once. Needs root and the tools; otherwise it says why
//! and exits. Run with `cargo bench -p gpucloud-local`.

use std::time::{Duration, Instant};

use gpucloud_core::{
    CloudClient, CloudClientExt, CreateInstanceAttrs, InstanceId, LifecycleStatus, WaitOptions,
    wait_for_status,
};
use gpucloud_local::LocalClient;
use gpucloud_local::testing::{self, TestHost};

const SEQUENTIAL: usize = 10;
const AT_ONCE: usize = 20;

fn summary(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let median = samples[samples.len() / 2];
    let max = samples[samples.len() - 1];
    let min = samples[0];
    println!(
        "{label:<40} median {:>7.1} ms   min {:>7.1} ms   max {:>7.1} ms   (n={})",
        median.as_secs_f64() * 1e3,
        min.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
        samples.len()
    );
}

async fn wait(client: &LocalClient, id: &InstanceId, desired: LifecycleStatus) {
    let opts =
        WaitOptions::new(Duration::from_secs(60)).with_poll_interval(Duration::from_millis(5));
    if let Err(e) = wait_for_status(client, id, desired, opts).await {
        panic!("waiting for {id} to be {desired}: {e}");
    }
}

async fn ssh_true(key: &std::path::Path, ip: &str) -> bool {
    testing::ssh(key, ip, "true").await.status.success()
}

#[tokio::main]
async fn main() {
    if let Err(e) = gpucloud_local::preflight() {
        println!("local lifecycle bench skipped: {e}");
        return;
    }
    // Its own range, 10.216.0.0/16, away from the tests'.
    let host = TestHost::new("gpucloud-local-bench", 216, "cred-bench").await;
    let (client, key, public_key) = (&host.client, &host.key, host.public_key.clone());
    println!(
        "local provider on {} CPUs; limits {}",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        if client.limits_enforced() {
            "enforced by cgroups"
        } else {
            "nominal"
        }
    );
    let attrs = |i: usize| CreateInstanceAttrs {
        ref_id: format!("bench-{i}"),
        name: format!("bench-{i}"),
        instance_type: "cpu.small".into(),
        public_key: public_key.clone(),
        ..CreateInstanceAttrs::default()
    };

    let (mut create_call, mut to_running, mut to_ssh, mut ssh_floor) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut stop, mut start, mut terminate) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..SEQUENTIAL {
        let t0 = Instant::now();
        let instance = gpucloud_core::validate_and_create(client, &attrs(i))
            .await
            .expect("create");
        create_call.push(t0.elapsed());
        wait(client, &instance.cloud_id, LifecycleStatus::Running).await;
        to_running.push(t0.elapsed());
        while !ssh_true(key, &instance.public_ip).await {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        to_ssh.push(t0.elapsed());
        let t_ssh = Instant::now();
        assert!(
            ssh_true(key, &instance.public_ip).await,
            "ssh failed on a running instance"
        );
        ssh_floor.push(t_ssh.elapsed());
        let ops = client.stop_start().expect("stop/start");
        let t1 = Instant::now();
        ops.stop_instance(&instance.cloud_id).await.expect("stop");
        wait(client, &instance.cloud_id, LifecycleStatus::Stopped).await;
        stop.push(t1.elapsed());
        let t2 = Instant::now();
        ops.start_instance(&instance.cloud_id).await.expect("start");
        wait(client, &instance.cloud_id, LifecycleStatus::Running).await;
        start.push(t2.elapsed());
        let t3 = Instant::now();
        client
            .terminate_instance(&instance.cloud_id)
            .await
            .expect("terminate");
        terminate.push(t3.elapsed());
    }
    summary("create call returns", create_call);
    summary("create -> running (port 22 accepts)", to_running);
    summary("create -> first ssh command succeeds", to_ssh);
    summary("one ssh command on a running instance", ssh_floor);
    summary("stop -> stopped", stop);
    summary("start -> running", start);
    summary("terminate (everything removed)", terminate);

    let many: Vec<_> = (100..100 + AT_ONCE).map(attrs).collect();
    let t0 = Instant::now();
    let created = futures::future::join_all(
        many.iter()
            .map(|a| gpucloud_core::validate_and_create(client, a)),
    )
    .await;
    let created: Vec<_> = created.into_iter().map(|r| r.expect("create")).collect();
    let calls = t0.elapsed();
    futures::future::join_all(
        created
            .iter()
            .map(|i| wait(client, &i.cloud_id, LifecycleStatus::Running)),
    )
    .await;
    let all_running = t0.elapsed();
    let ssh_ok =
        futures::future::join_all(created.iter().map(|i| ssh_true(key, &i.public_ip))).await;
    assert!(ssh_ok.iter().all(|ok| *ok), "an instance refused ssh");
    let all_ssh = t0.elapsed();
    let t1 = Instant::now();
    let results = futures::future::join_all(
        created
            .iter()
            .map(|i| client.terminate_instance(&i.cloud_id)),
    )
    .await;
    results
        .into_iter()
        .collect::<Result<Vec<()>, _>>()
        .expect("terminate");
    let all_gone = t1.elapsed();
    println!(
        "{AT_ONCE} at once: all create calls returned  {:>7.1} ms",
        calls.as_secs_f64() * 1e3
    );
    println!(
        "{AT_ONCE} at once: all running                 {:>7.1} ms",
        all_running.as_secs_f64() * 1e3
    );
    println!(
        "{AT_ONCE} at once: all answered an ssh command {:>7.1} ms",
        all_ssh.as_secs_f64() * 1e3
    );
    println!(
        "{AT_ONCE} at once: all terminated              {:>7.1} ms",
        all_gone.as_secs_f64() * 1e3
    );
}
