//! `GET /v1/instances?limit=100` latency while the engine's loops run: the last figure of the
//! fleet benchmark (issue 26), which needs the HTTP service and so lives here.
//!
//! Makes `SERVER_BENCH_INSTANCES` instances (default 1,000) over `SERVER_BENCH_CREDENTIALS`
//! credentials (default 8; one fake each, dealt round-robin to Lambda, Fluidstack, Shadeform
//! and Nebius, each credential held to its provider's documented request limit: the accounts
//! of gpucloud-fleet's `status_pass`), records them with one pass, then serves the API on
//! loopback with the loops running (status every `SERVER_BENCH_STATUS_MS`, default 1,000 ms)
//! and, for `SERVER_BENCH_SECONDS` (default 20), sends the request one after another. Prints
//! their p50, p99 and slowest latency, the passes the loops ran meanwhile, the time of an
//! offers query over every credential's stored catalog (taken just before; issue 26: warm,
//! ≤ 10 ms), per
//! provider the requests each credential made in that time against the provider's documented
//! limit (goal: never above), and the process's peak memory. The fakes run in the same
//! process.
//!
//! `cargo bench -p gpucloud-server --bench api_latency`
//! (`SERVER_BENCH_INSTANCES=10000 SERVER_BENCH_CREDENTIALS=50` for the size).

use std::time::{Duration, Instant};

use gpucloud::offers::OfferQuery;
use gpucloud_fleet::{Database, Fleet, FleetConfig, LoopKind, MetricsSnapshot};
use gpucloud_server::{Server, ServerConfig};

#[path = "../../gpucloud-fleet/benches/common/accounts.rs"]
mod accounts;

use accounts::{accounts, env_number, peak_memory, print_request_rates};

/// Offer queries timed after the latency window.
const OFFER_QUERIES: usize = 50;

/// The `q` quantile (0..=1) of sorted `samples`, nearest rank.
fn quantile(samples: &[Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// Passes of `kind` in `snapshot`.
fn passes(snapshot: &MetricsSnapshot, kind: LoopKind) -> u64 {
    snapshot.loops.get(&kind).map_or(0, |times| times.passes)
}

#[tokio::main]
async fn main() {
    let instances = env_number("SERVER_BENCH_INSTANCES", 1_000);
    let credentials = env_number("SERVER_BENCH_CREDENTIALS", 8);
    let status_interval = Duration::from_millis(
        u64::try_from(env_number("SERVER_BENCH_STATUS_MS", 1_000)).unwrap_or(1_000),
    );
    let window =
        Duration::from_secs(u64::try_from(env_number("SERVER_BENCH_SECONDS", 20)).unwrap_or(20));
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
    config.status_interval = status_interval;
    config.partitions_in_flight = 16;
    let fleet = Fleet::open(config).await.expect("the fleet opens");
    let first = fleet.run_once().await.expect("the first pass");
    println!("first pass recorded the instances: {} events", first.events);

    let server = Server::bind(&ServerConfig::new(
        "127.0.0.1:0".parse().expect("an address"),
    ))
    .await
    .expect("binds");
    let url = format!("http://{}/v1/instances?limit=100", server.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(fleet.clone(), async {
        let _ = stopped.await;
    }));

    let http = reqwest::Client::new();
    // One request first, so that the connection is made before the clock starts.
    http.get(&url).send().await.expect("the service answers");
    // Offers over every credential's stored catalog, warm, in the engine, while the loops run.
    let mut offer_times = Vec::new();
    let mut offers = 0;
    for _ in 0..OFFER_QUERIES {
        let sent = Instant::now();
        offers = fleet
            .offers(&OfferQuery::default())
            .await
            .expect("offers")
            .len();
        offer_times.push(sent.elapsed());
    }
    offer_times.sort();
    for account in &accounts {
        account.reset_requests();
    }
    let before = fleet.metrics().await.expect("metrics");
    let mut latencies = Vec::new();
    let measuring = Instant::now();
    while measuring.elapsed() < window {
        let sent = Instant::now();
        let response = http.get(&url).send().await.expect("the service answers");
        assert!(response.status().is_success(), "{}", response.status());
        let body = response.bytes().await.expect("a body");
        latencies.push(sent.elapsed());
        assert!(!body.is_empty());
    }
    let seconds = measuring.elapsed().as_secs_f64();
    let after = fleet.metrics().await.expect("metrics");
    latencies.sort();

    println!(
        "GET /v1/instances?limit=100 while the loops run ({} instances, {credentials} \
         credentials, status every {} ms):",
        per_credential * credentials,
        status_interval.as_millis()
    );
    println!(
        "  {} requests in {seconds:.1} s: p50 {:.2} ms, p99 {:.2} ms, slowest {:.2} ms",
        latencies.len(),
        quantile(&latencies, 0.50).as_secs_f64() * 1e3,
        quantile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    println!(
        "  loop passes meanwhile: status {}, inventory {}, reconcile {}",
        passes(&after, LoopKind::Status) - passes(&before, LoopKind::Status),
        passes(&after, LoopKind::Inventory) - passes(&before, LoopKind::Inventory),
        passes(&after, LoopKind::Reconcile) - passes(&before, LoopKind::Reconcile),
    );
    println!(
        "  offers from the store, every credential ({offers} offers, {OFFER_QUERIES} queries): \
         p50 {:.2} ms, slowest {:.2} ms",
        quantile(&offer_times, 0.50).as_secs_f64() * 1e3,
        offer_times
            .last()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3,
    );
    println!("  requests to the providers meanwhile:");
    print_request_rates(&accounts, seconds);
    println!(
        "  peak memory (service + fakes) {}",
        peak_memory().unwrap_or_else(|| "unavailable".to_owned())
    );

    let _ = stop.send(());
    serving
        .await
        .expect("the service task did not panic")
        .expect("the service stops cleanly");
    drop(accounts);
}
