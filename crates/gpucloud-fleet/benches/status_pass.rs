//! One status pass over many instances and credentials, against the REST and gRPC fakes on
//! loopback: Lambda, Fluidstack, Shadeform and Nebius, the credentials dealt round-robin.
//!
//! Prints, for `FLEET_BENCH_INSTANCES` instances (default 1,000) spread over
//! `FLEET_BENCH_CREDENTIALS` credentials (default 8; one fake each): the wall and CPU time of
//! a pass where nothing changed, the instance rows and events it wrote (goal: 0 and 0), per
//! provider the requests per credential per second against the provider's documented limit
//! (each credential is limited to it, so the goal is never above), and the process's peak
//! memory. The fakes run in the same process, so CPU time and memory include theirs.
//!
//! `cargo bench -p gpucloud-fleet --bench status_pass`
//! (`FLEET_BENCH_INSTANCES=10000 FLEET_BENCH_CREDENTIALS=50` for the size).
//!
//! Not measured here: `GET /v1/instances?limit=100` latency while the loops run, which needs
//! the HTTP service: `cargo bench -p gpucloud-server --bench api_latency`.

use std::time::{Duration, Instant};

use gpucloud_fleet::{Database, Fleet, FleetConfig, InstanceFilter, PageRequest, Phase};

#[path = "common/accounts.rs"]
mod accounts;

use accounts::{accounts, env_number, peak_memory, print_request_rates};

/// User plus system CPU time of this process, from `/proc/self/stat` (Linux).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // The kernel's USER_HZ is 100 on every Linux this runs on.
    Some(Duration::from_millis(ticks * 10))
}

#[tokio::main]
async fn main() {
    let instances = env_number("FLEET_BENCH_INSTANCES", 1_000);
    let credentials = env_number("FLEET_BENCH_CREDENTIALS", 8);
    let per_credential = instances.div_ceil(credentials);

    let started = Instant::now();
    let (accounts, fleet_credentials) = accounts(credentials, per_credential).await;
    println!(
        "made {} instances on {credentials} fakes in {:.1} s",
        per_credential * credentials,
        started.elapsed().as_secs_f64()
    );

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

    for account in &accounts {
        account.reset_requests();
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

    println!("unchanged pass over {tracked} instances, {credentials} credentials:");
    println!("  wall time             {:.3} s", wall.as_secs_f64());
    match cpu {
        Some(cpu) => println!("  CPU time (+ fakes)    {:.3} s", cpu.as_secs_f64()),
        None => println!("  CPU time              unavailable"),
    }
    println!("  instance rows written {rows_written}");
    println!("  events written        {events}");
    println!(
        "  partitions listed     {} (failed {})",
        report.partitions_listed, report.partitions_failed
    );
    print_request_rates(&accounts, wall.as_secs_f64());
    println!(
        "  peak memory (+ fakes)  {}",
        peak_memory().unwrap_or_else(|| "unavailable".to_owned())
    );
    fleet.close().await;
}
