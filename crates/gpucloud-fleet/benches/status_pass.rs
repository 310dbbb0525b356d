//! One status pass over many instances and credentials, against Lambda fakes on loopback.
//!
//! Prints, for `FLEET_BENCH_INSTANCES` instances (default 1,000) spread over
//! `FLEET_BENCH_CREDENTIALS` credentials (default 10; one fake each): the wall and CPU time of
//! a pass where nothing changed, the instance rows and events it wrote (goal: 0 and 0), the
//! list requests per credential per second, and the process's peak memory. The fakes run in
//! the same process, so CPU time and memory include theirs.
//!
//! `cargo bench -p gpucloud-fleet --bench status_pass`
//! (`FLEET_BENCH_INSTANCES=10000 FLEET_BENCH_CREDENTIALS=50` for the size).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use gpucloud::lambda::{LambdaConfig, LambdaCredential};
use gpucloud::{CloudCredential, CreateInstanceAttrs, validate_and_create};
use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions};
use gpucloud_fleet::{
    Database, Fleet, FleetConfig, FleetCredential, InstanceFilter, PageRequest, Phase,
};

const REGION: &str = "us-west-1";
const INSTANCE_TYPE: &str = "gpu_1x_a10";
const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g bench";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// User plus system CPU time of this process, from `/proc/self/stat` (Linux).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // The kernel's USER_HZ is 100 on every Linux this runs on.
    Some(Duration::from_millis(ticks * 10))
}

/// The peak resident memory of this process, from `/proc/self/status`.
fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .map(|l| l["VmHWM:".len()..].trim().to_owned())
}

#[tokio::main]
async fn main() {
    let instances = env_number("FLEET_BENCH_INSTANCES", 1_000);
    let credentials = env_number("FLEET_BENCH_CREDENTIALS", 10);
    let per_credential = instances.div_ceil(credentials);

    let mut fakes = Vec::new();
    let mut fleet_credentials = Vec::new();
    for n in 0..credentials {
        let fake = FakeLambda::start(FakeLambdaOptions {
            boot_delay: Duration::ZERO,
            ..FakeLambdaOptions::default()
        })
        .await
        .expect("a fake starts");
        fake.state().set_capacity(
            REGION,
            INSTANCE_TYPE,
            u32::try_from(per_credential).unwrap_or(u32::MAX),
        );
        let credential: Arc<dyn CloudCredential> = Arc::new(
            LambdaCredential::new(
                LambdaConfig::new(fake.api_key())
                    .with_base_url(fake.base_url())
                    .with_ref_id(format!("bench-{n}"))
                    .with_rate_limits(1_000_000.0, Duration::ZERO),
            )
            .expect("a Lambda configuration"),
        );
        // The instances carry the credential's mark; the fleet finds them as orphans on its
        // first pass and tracks them like any other from then on.
        let client = credential.make_client("").await.expect("a client");
        stream::iter(0..per_credential)
            .for_each_concurrent(16, |i| {
                let client = client.clone();
                async move {
                    validate_and_create(
                        client.as_ref(),
                        &CreateInstanceAttrs {
                            location: REGION.into(),
                            instance_type: INSTANCE_TYPE.into(),
                            ref_id: format!("bench-{n}-{i}"),
                            name: format!("bench-{n}-{i}"),
                            public_key: PUBLIC_KEY.into(),
                            ..CreateInstanceAttrs::default()
                        },
                    )
                    .await
                    .expect("a create on the fake");
                }
            })
            .await;
        fleet_credentials.push(FleetCredential::new(
            format!("lambda-{n}"),
            "lambda",
            credential,
        ));
        fakes.push(fake);
    }

    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = FleetConfig::new(
        Database::Sqlite(dir.path().join("fleet.sqlite3")),
        fleet_credentials,
    );
    config.partitions_in_flight = 16;
    let fleet = Fleet::open(config).await.expect("the fleet opens");

    let started = Instant::now();
    let first = fleet.run_once().await.expect("the first pass");
    println!(
        "first pass (records {} instances): {:.3} s, {} events",
        instances,
        started.elapsed().as_secs_f64(),
        first.events
    );

    for fake in &fakes {
        fake.state().reset_request_counts();
    }
    let events_before = fleet.metrics().await.expect("metrics").events_written;
    let pass_start = jiff::Timestamp::now();
    let cpu_before = cpu_time();
    let started = Instant::now();
    let report = fleet.run_once().await.expect("an unchanged pass");
    let wall = started.elapsed();
    let cpu = cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    let events = fleet.metrics().await.expect("metrics").events_written - events_before;

    let mut rows_written = 0;
    let mut tracked = 0;
    let mut page = PageRequest {
        after: None,
        limit: 1000,
    };
    loop {
        let answer = fleet
            .instances(
                &InstanceFilter {
                    phases: vec![Phase::Orphan],
                    ..InstanceFilter::default()
                },
                &page,
            )
            .await
            .expect("a page");
        tracked += answer.items.len();
        rows_written += answer
            .items
            .iter()
            .filter(|r| r.updated_at >= pass_start)
            .count();
        match answer.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let lists: usize = fakes
        .iter()
        .map(|f| f.state().request_count("GET", "/api/v1/instances"))
        .sum();

    println!("unchanged pass over {tracked} instances, {credentials} credentials:");
    println!("  wall time            {:.3} s", wall.as_secs_f64());
    match cpu {
        Some(cpu) => println!("  CPU time (+ fakes)   {:.3} s", cpu.as_secs_f64()),
        None => println!("  CPU time             unavailable"),
    }
    println!("  instance rows written {rows_written}");
    println!("  events written        {events}");
    println!(
        "  list requests         {lists} ({} partitions listed)",
        report.partitions_listed
    );
    println!(
        "  requests/s per credential during the pass {:.1}",
        lists as f64 / credentials as f64 / wall.as_secs_f64().max(f64::EPSILON)
    );
    println!(
        "  peak memory (+ fakes) {}",
        peak_memory().unwrap_or_else(|| "unavailable".to_owned())
    );
    fleet.close().await;
}
