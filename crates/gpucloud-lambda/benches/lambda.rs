//! Benchmarks against the fake, printing figures (run with `cargo bench -p gpucloud-lambda`):
//!
//! (a) `get_instance` / `list_instances` through the provider vs a raw `reqwest` GET of the same
//!     URL on the same fake (ratio; target ≤ 1.10);
//! (b) `list_instances` of 1,000 and 10,000 instances: wall time, time beyond the raw transfer,
//!     and peak heap (counting global allocator);
//! (c) instance types for all regions.

use std::time::{Duration, Instant};

use gpucloud_core::{CloudClient, GetInstanceTypeArgs, InstanceId, ListInstancesArgs};
use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions};
use gpucloud_lambda::{LambdaConfig, LambdaCredential};
use peak_alloc::PeakAlloc;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

fn config(fake: &FakeLambda) -> LambdaConfig {
    // The fake's seeded instances carry no credential tag: an empty reference id matches them.
    LambdaConfig::new(fake.api_key())
        .with_base_url(fake.base_url())
        .with_rate_limits(1e9, Duration::ZERO)
}

async fn raw_get(http: &reqwest::Client, url: &str, key: &str) -> usize {
    let body = http
        .get(url)
        .bearer_auth(key)
        .send()
        .await
        .expect("send")
        .bytes()
        .await
        .expect("body");
    body.len()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

async fn time<F, Fut>(iterations: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        f().await;
        samples.push(started.elapsed());
    }
    median(samples)
}

async fn overhead(rounds: usize) {
    let fake = FakeLambda::start(FakeLambdaOptions::default())
        .await
        .expect("fake");
    let ids = fake
        .state()
        .seed_instances(20, "us-west-1", "gpu_1x_a10")
        .expect("seed");
    let client = LambdaCredential::new(config(&fake))
        .expect("credential")
        .client("");
    let http = reqwest::Client::new();
    let id = InstanceId::new(ids[0].clone());
    let key = fake.api_key().to_owned();
    let get_url = format!("{}/api/v1/instances/{}", fake.base_url(), ids[0]);
    let list_url = format!("{}/api/v1/instances", fake.base_url());
    // Warm up both connection pools.
    for _ in 0..20 {
        client.get_instance(&id).await.expect("get");
        raw_get(&http, &get_url, &key).await;
    }
    let provider_get = time(rounds, || async {
        drop(client.get_instance(&id).await.expect("get"))
    })
    .await;
    let raw_get_t = time(rounds, || async {
        std::hint::black_box(raw_get(&http, &get_url, &key).await);
    })
    .await;
    let args = ListInstancesArgs::default();
    let provider_list = time(rounds, || async {
        drop(client.list_instances(&args).await.expect("list"))
    })
    .await;
    let raw_list = time(rounds, || async {
        std::hint::black_box(raw_get(&http, &list_url, &key).await);
    })
    .await;
    println!("(a) overhead vs raw reqwest GET on the same fake (median of {rounds}):");
    println!(
        "    get_instance:   provider {:>8.1} µs   raw {:>8.1} µs   ratio {:.3}",
        micros(provider_get),
        micros(raw_get_t),
        ratio(provider_get, raw_get_t)
    );
    println!(
        "    list_instances: provider {:>8.1} µs   raw {:>8.1} µs   ratio {:.3}  (20 instances)",
        micros(provider_list),
        micros(raw_list),
        ratio(provider_list, raw_list)
    );
    fake.shutdown().await;
}

async fn big_lists() {
    println!("(b) list_instances of many instances (median of 5; peak heap of one call):");
    for n in [1_000usize, 10_000] {
        let fake = FakeLambda::start(FakeLambdaOptions::default())
            .await
            .expect("fake");
        fake.state()
            .seed_instances(n, "us-west-1", "gpu_8x_h100_sxm5")
            .expect("seed");
        let client = LambdaCredential::new(config(&fake))
            .expect("credential")
            .client("");
        let http = reqwest::Client::new();
        let url = format!("{}/api/v1/instances", fake.base_url());
        let key = fake.api_key().to_owned();
        let bytes = raw_get(&http, &url, &key).await;
        let args = ListInstancesArgs::default();
        let count = client.list_instances(&args).await.expect("list").len();
        assert_eq!(count, n);
        let provider = time(5, || async {
            drop(client.list_instances(&args).await.expect("list"))
        })
        .await;
        let raw = time(5, || async {
            std::hint::black_box(raw_get(&http, &url, &key).await);
        })
        .await;
        let before = ALLOC.current_usage();
        ALLOC.reset_peak_usage();
        let listed = client.list_instances(&args).await.expect("list");
        let peak = ALLOC.peak_usage().saturating_sub(before);
        drop(listed);
        println!(
            "    {n:>6} instances ({:.1} MB JSON): provider {:>7.1} ms, raw transfer {:>7.1} ms, beyond transfer {:>6.1} ms, peak heap {:.1} MB",
            bytes as f64 / 1e6,
            millis(provider),
            millis(raw),
            millis(provider.saturating_sub(raw)),
            peak as f64 / 1e6
        );
        fake.shutdown().await;
    }
}

async fn catalog() {
    let fake = FakeLambda::start(FakeLambdaOptions::default())
        .await
        .expect("fake");
    let client = LambdaCredential::new(config(&fake))
        .expect("credential")
        .client("");
    let args = GetInstanceTypeArgs::default();
    let entries = client.instance_types(&args).await.expect("types").len();
    let t = time(20, || async {
        drop(client.instance_types(&args).await.expect("types"))
    })
    .await;
    println!(
        "(c) instance_types, all regions: {entries} entries in {:.2} ms (median of 20)",
        millis(t)
    );
    fake.shutdown().await;
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        overhead(500).await;
        big_lists().await;
        catalog().await;
    });
}
