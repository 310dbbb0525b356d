//! `GET /v1/instances?limit=100` latency while the engine's loops run: the last figure of the
//! fleet benchmark (issue 26), which needs the HTTP service and so lives here.
//!
//! Makes `SERVER_BENCH_INSTANCES` instances (default 1,000) on `SERVER_BENCH_CREDENTIALS`
//! Lambda fakes (default 4; one credential each, at Lambda's documented request limit as the
//! SDK has it), records them with one pass, then serves the API on loopback with the status
//! loop running every second and sends `SERVER_BENCH_REQUESTS` requests (default 500), one
//! after another, printing their p50 and p99 latency. The fakes run in the same process.
//!
//! `cargo bench -p gpucloud-server --bench api_latency`
//! (`SERVER_BENCH_INSTANCES=10000 SERVER_BENCH_CREDENTIALS=50` for the size).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use gpucloud::lambda::{LambdaConfig, LambdaCredential};
use gpucloud::{CloudCredential, CreateInstanceAttrs, validate_and_create};
use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions};
use gpucloud_fleet::{Database, Fleet, FleetConfig, FleetCredential};
use gpucloud_server::{Server, ServerConfig};

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

/// A Lambda fake holding `count` instances with credential `n`'s mark, and the fleet's
/// credential for it.
async fn lambda_account(n: usize, count: usize) -> (FakeLambda, FleetCredential) {
    let fake = FakeLambda::start(FakeLambdaOptions {
        boot_delay: Duration::ZERO,
        ..FakeLambdaOptions::default()
    })
    .await
    .expect("a fake starts");
    fake.state().set_capacity(
        REGION,
        INSTANCE_TYPE,
        u32::try_from(count).unwrap_or(u32::MAX),
    );
    let config = LambdaConfig::new(fake.api_key())
        .with_base_url(fake.base_url())
        .with_ref_id(format!("bench-{n}"));
    // The instances are made without client-side limits, to be quick; the fleet's
    // credential keeps the SDK's default (documented) limits.
    let filler =
        LambdaCredential::new(config.clone().with_rate_limits(1_000_000.0, Duration::ZERO))
            .expect("a Lambda configuration");
    let client = filler.make_client("").await.expect("a client");
    stream::iter(0..count)
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
    let credential: Arc<dyn CloudCredential> =
        Arc::new(LambdaCredential::new(config).expect("a Lambda configuration"));
    (
        fake,
        FleetCredential::new(format!("lambda-{n}"), "lambda", credential),
    )
}

/// The `q` quantile (0..=1) of sorted `samples`, nearest rank.
fn quantile(samples: &[Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

#[tokio::main]
async fn main() {
    let instances = env_number("SERVER_BENCH_INSTANCES", 1_000);
    let credentials = env_number("SERVER_BENCH_CREDENTIALS", 4);
    let requests = env_number("SERVER_BENCH_REQUESTS", 500);
    let per_credential = instances.div_ceil(credentials);

    let started = Instant::now();
    let mut fakes = Vec::new();
    let mut fleet_credentials = Vec::new();
    for n in 0..credentials {
        let (fake, credential) = lambda_account(n, per_credential).await;
        fakes.push(fake);
        fleet_credentials.push(credential);
    }
    println!(
        "made {} instances on {credentials} Lambda fakes in {:.1} s",
        per_credential * credentials,
        started.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = FleetConfig::new(
        Database::Sqlite(dir.path().join("fleet.sqlite3")),
        fleet_credentials,
    );
    config.status_interval = Duration::from_secs(1);
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
    let serving = tokio::spawn(server.run(fleet, async {
        let _ = stopped.await;
    }));

    let http = reqwest::Client::new();
    let mut latencies = Vec::with_capacity(requests);
    for _ in 0..requests {
        let sent = Instant::now();
        let response = http.get(&url).send().await.expect("the service answers");
        assert!(response.status().is_success(), "{}", response.status());
        let body = response.bytes().await.expect("a body");
        latencies.push(sent.elapsed());
        assert!(!body.is_empty());
    }
    latencies.sort();
    println!(
        "GET /v1/instances?limit=100 while the loops run ({requests} requests, {} instances): \
         p50 {:.2} ms, p99 {:.2} ms",
        per_credential * credentials,
        quantile(&latencies, 0.50).as_secs_f64() * 1e3,
        quantile(&latencies, 0.99).as_secs_f64() * 1e3,
    );

    let _ = stop.send(());
    serving
        .await
        .expect("the service task did not panic")
        .expect("the service stops cleanly");
    drop(fakes);
}
