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

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use gpucloud::fluidstack::{FluidstackConfig, FluidstackCredential};
use gpucloud::lambda::{LambdaConfig, LambdaCredential};
use gpucloud::nebius::{NebiusAuth, NebiusConfig, NebiusCredential};
use gpucloud::shadeform::{ShadeformConfig, ShadeformCredential};
use gpucloud::{CloudCredential, CreateInstanceAttrs, validate_and_create};
use gpucloud_fakes::fluidstack::{FakeFluidstack, FakeFluidstackOptions};
use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions};
use gpucloud_fakes::nebius::{DEFAULT_IAM_TOKEN, FakeNebius, FakeNebiusOptions};
use gpucloud_fakes::shadeform::{FakeShadeform, FakeShadeformOptions};
use gpucloud_fleet::{
    Database, Fleet, FleetConfig, FleetCredential, InstanceFilter, PageRequest, Phase,
};

const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g bench";
/// The HTTP methods whose requests are counted.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The providers, in the order credentials are dealt to them.
const PROVIDERS: [&str; 4] = ["lambda", "fluidstack", "shadeform", "nebius"];

/// A provider's documented general request limit per credential, where it publishes one: a
/// sustained rate per second and the burst it allows.
fn documented_limit(provider: &str) -> Option<(NonZeroU32, u32)> {
    match provider {
        // Lambda: "generally one request per second"; its API lets a short burst through
        // (five, as the SDK's limiter and the fake's enforcement have it).
        "lambda" => NonZeroU32::new(1).map(|rate| (rate, 5)),
        // Fluidstack, Shadeform and Nebius publish no general request rate.
        _ => None,
    }
}

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

/// One credential's fake, running for the whole benchmark.
struct Account {
    provider: &'static str,
    /// The fleet's credential, at the provider's documented limits.
    credential: Arc<dyn CloudCredential>,
    /// The same account without client-side limits, to make the instances quickly.
    filler: Arc<dyn CloudCredential>,
    /// Where its instances are made, and the client location that makes them.
    location: &'static str,
    client_location: &'static str,
    instance_type: &'static str,
    /// Requests the fake has received since the last reset.
    requests: Box<dyn Fn() -> usize>,
    reset: Box<dyn Fn()>,
    _fake: Box<dyn std::any::Any>,
}

async fn lambda(n: usize, capacity: u32) -> Account {
    const REGION: &str = "us-west-1";
    const TYPE: &str = "gpu_1x_a10";
    let fake = FakeLambda::start(FakeLambdaOptions {
        boot_delay: Duration::ZERO,
        ..FakeLambdaOptions::default()
    })
    .await
    .expect("a fake starts");
    fake.state().set_capacity(REGION, TYPE, capacity);
    let config = LambdaConfig::new(fake.api_key())
        .with_base_url(fake.base_url())
        .with_ref_id(format!("bench-{n}"));
    // The fleet's credential keeps the SDK's default limits (the documented ones).
    let credential = LambdaCredential::new(config.clone()).expect("a Lambda configuration");
    let filler = LambdaCredential::new(config.with_rate_limits(1_000_000.0, Duration::ZERO))
        .expect("a Lambda configuration");
    let (count, reset) = (fake.state().clone(), fake.state().clone());
    Account {
        provider: "lambda",
        credential: Arc::new(credential),
        filler: Arc::new(filler),
        location: REGION,
        client_location: "",
        instance_type: TYPE,
        requests: Box::new(move || METHODS.iter().map(|m| count.request_count(m, "/")).sum()),
        reset: Box::new(move || reset.reset_request_counts()),
        _fake: Box::new(fake),
    }
}

async fn fluidstack(n: usize, capacity: u32) -> Account {
    const REGION: &str = "us-east-1";
    const TYPE: &str = "h100-hgx-80gb.1x";
    let fake = FakeFluidstack::start(FakeFluidstackOptions {
        regions: vec![REGION.to_owned()],
        create_delay: Duration::ZERO,
        ..FakeFluidstackOptions::default()
    })
    .await
    .expect("a fake starts");
    fake.state().set_capacity(REGION, TYPE, capacity);
    let credential: Arc<dyn CloudCredential> = Arc::new(
        FluidstackCredential::new(
            FluidstackConfig::new(fake.api_key(), fake.project_id().to_string())
                .with_regions([REGION])
                .with_base_url(format!("{}/{{region}}/api/v1alpha1", fake.root_url()))
                .with_ref_id(format!("bench-{n}")),
        )
        .expect("a Fluidstack configuration"),
    );
    let (count, reset) = (fake.state().clone(), fake.state().clone());
    Account {
        provider: "fluidstack",
        credential: credential.clone(),
        filler: credential,
        location: REGION,
        client_location: REGION,
        instance_type: TYPE,
        requests: Box::new(move || METHODS.iter().map(|m| count.request_count(m, "/")).sum()),
        reset: Box::new(move || reset.reset_request_counts()),
        _fake: Box::new(fake),
    }
}

async fn shadeform(n: usize, capacity: u32) -> Account {
    let fake = FakeShadeform::start(FakeShadeformOptions {
        creating_delay: Duration::ZERO,
        pending_provider_delay: Duration::ZERO,
        ..FakeShadeformOptions::default()
    })
    .await
    .expect("a fake starts");
    // The fake's upstream region behind the SDK's `ca-central`.
    fake.state()
        .set_capacity("canada-1", "hyperstack_A6000", capacity);
    let credential: Arc<dyn CloudCredential> = Arc::new(
        ShadeformCredential::new(
            ShadeformConfig::new(fake.api_key())
                .with_base_url(fake.base_url())
                .with_ref_id(format!("bench-{n}")),
        )
        .expect("a Shadeform configuration"),
    );
    let (count, reset) = (fake.state().clone(), fake.state().clone());
    Account {
        provider: "shadeform",
        credential: credential.clone(),
        filler: credential,
        location: "ca-central",
        client_location: "",
        instance_type: "hyperstack_A6000",
        requests: Box::new(move || METHODS.iter().map(|m| count.request_count(m, "/")).sum()),
        reset: Box::new(move || reset.reset_request_counts()),
        _fake: Box::new(fake),
    }
}

async fn nebius(n: usize, capacity: u32) -> Account {
    const REGION: &str = "eu-north1";
    let fake = FakeNebius::start(FakeNebiusOptions {
        regions: vec![REGION.to_owned()],
        ..FakeNebiusOptions::default().with_delays(Duration::ZERO)
    })
    .await
    .expect("a fake starts");
    fake.state()
        .set_capacity(REGION, "gpu-h100-sxm", "1gpu-16vcpu-200gb", capacity);
    fake.state()
        .set_quota_limit(REGION, "compute.instance.gpu.h100", u64::from(capacity));
    let token = fake.iam_token().unwrap_or(DEFAULT_IAM_TOKEN).to_owned();
    let credential: Arc<dyn CloudCredential> = Arc::new(
        NebiusCredential::new(
            NebiusConfig::new(NebiusAuth::Token(token.into()))
                .with_tenant(fake.tenant_id())
                .with_regions([REGION])
                .with_api_endpoint(fake.endpoint())
                .with_operation_wait(Duration::from_secs(60), Duration::from_millis(5))
                .with_ref_id(format!("bench-{n}")),
        )
        .expect("a Nebius configuration"),
    );
    let (count, reset) = (fake.state().clone(), fake.state().clone());
    Account {
        provider: "nebius",
        credential: credential.clone(),
        filler: credential,
        location: REGION,
        client_location: REGION,
        instance_type: "gpu-h100-sxm.1gpu-16vcpu-200gb",
        requests: Box::new(move || METHODS.iter().map(|m| count.requests().count(m, "/")).sum()),
        reset: Box::new(move || reset.requests().reset()),
        _fake: Box::new(fake),
    }
}

/// Makes `count` instances on the account's fake, carrying its credential's mark.
async fn fill(account: &Account, n: usize, count: usize) {
    let client = account
        .filler
        .make_client(account.client_location)
        .await
        .expect("a client");
    stream::iter(0..count)
        .for_each_concurrent(16, |i| {
            let client = client.clone();
            async move {
                validate_and_create(
                    client.as_ref(),
                    &CreateInstanceAttrs {
                        location: account.location.into(),
                        instance_type: account.instance_type.into(),
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
}

#[tokio::main]
async fn main() {
    let instances = env_number("FLEET_BENCH_INSTANCES", 1_000);
    let credentials = env_number("FLEET_BENCH_CREDENTIALS", 8);
    let per_credential = instances.div_ceil(credentials);
    let capacity = u32::try_from(per_credential).unwrap_or(u32::MAX);

    let started = Instant::now();
    let mut accounts = Vec::new();
    let mut fleet_credentials = Vec::new();
    for n in 0..credentials {
        let account = match PROVIDERS[n % PROVIDERS.len()] {
            "lambda" => lambda(n, capacity).await,
            "fluidstack" => fluidstack(n, capacity).await,
            "shadeform" => shadeform(n, capacity).await,
            _ => nebius(n, capacity).await,
        };
        fill(&account, n, per_credential).await;
        let mut credential = FleetCredential::new(
            format!("{}-{n}", account.provider),
            account.provider,
            account.credential.clone(),
        );
        if let Some((rate, _)) = documented_limit(account.provider) {
            credential = credential.with_requests_per_second(rate);
        }
        fleet_credentials.push(credential);
        accounts.push(account);
    }
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
        (account.reset)();
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
    let seconds = wall.as_secs_f64().max(f64::EPSILON);
    for provider in PROVIDERS {
        let counts: Vec<usize> = accounts
            .iter()
            .filter(|a| a.provider == provider)
            .map(|a| (a.requests)())
            .collect();
        let Some(busiest) = counts.iter().max() else {
            continue;
        };
        // At a rate r with a burst b, no more than b + r·t requests fit in t seconds.
        let verdict = match documented_limit(provider) {
            Some((rate, burst)) => {
                let allowed = f64::from(burst) + f64::from(rate.get()) * seconds;
                let within = if *busiest as f64 <= allowed {
                    "within"
                } else {
                    "ABOVE"
                };
                format!("{within} the documented {rate}/s with a burst of {burst}")
            }
            None => "no documented limit".to_owned(),
        };
        println!(
            "  {provider:<10} requests per credential {:.1}, at most {busiest} in {seconds:.2} s \
             ({:.2}/s): {verdict}",
            counts.iter().sum::<usize>() as f64 / counts.len() as f64,
            *busiest as f64 / seconds,
        );
    }
    println!(
        "  peak memory (+ fakes)  {}",
        peak_memory().unwrap_or_else(|| "unavailable".to_owned())
    );
    fleet.close().await;
}
