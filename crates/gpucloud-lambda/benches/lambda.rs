//! Benchmarks against the fake, printing figures (run with `cargo bench -p gpucloud-lambda`):
//!
//! (a) `get_instance` / `list_instances` through the provider next to two floors on the same
//!     fake, with the same `reqwest` version and a plain `reqwest::Client`:
//!     - the *minimal client*: what a hand-written client must do at the least: GET, read the
//!       body, `serde_json::from_slice` into a minimal struct (id, name, ip, status, region,
//!       type, tags). The target (≤ 1.10) is the provider's ratio to this floor;
//!     - the *pure transfer*: GET and read the body, no decoding.
//!
//!     Samples of the three are interleaved (rotating order), so that background load on the
//!     machine hits all of them alike; each figure is a median. Run twice: on a single-threaded
//!     runtime (client and fake on one thread: the figures are the CPU work per call, with no
//!     cross-thread wake-ups, stable to about 1%; the strict measure, since the floor is small)
//!     and on a 2-worker runtime (real latency, but most of it is thread wake-ups, which vary
//!     from run to run on a shared 2-core machine).
//! (b) `list_instances` of 1,000 and 10,000 instances: wall time, time beyond the raw transfer,
//!     and peak heap of the whole process (counting global allocator; it includes the fake
//!     building its answer, so the peak of a raw transfer is printed next to it). Targets for
//!     10,000: < 50 ms beyond transfer, < 50 MB peak.
//! (c) instance types for all regions.
//! (d) `instance_types` (what `gpucloud types -p lambda` does: two requests) with Lambda's
//!     default rate limits, against a fake with 50 ms of injected latency: the end-to-end time
//!     next to the fake's own latency, so the difference is what the client waited on its own.

use std::time::{Duration, Instant};

use gpucloud_core::{
    CloudClient, CreateInstanceAttrs, GetInstanceTypeArgs, InstanceId, ListInstancesArgs,
};
use gpucloud_fakes::bench::{Task, interleaved, median, micros, millis, ratio};
use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions};
use gpucloud_lambda::{LambdaConfig, LambdaCredential};
use peak_alloc::PeakAlloc;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// What hand-written clients decode. The fields are only handed to `black_box`: decoding them
/// is the work being measured, so they are never read.
#[allow(dead_code)]
mod floors {
    use serde::Deserialize;

    /// The success envelope, as a hand-written client would declare it.
    #[derive(Deserialize)]
    pub(crate) struct Envelope<T> {
        pub(crate) data: T,
    }

    #[derive(Deserialize)]
    pub(crate) struct Named {
        pub(crate) name: String,
    }

    #[derive(Deserialize)]
    pub(crate) struct MinimalTag {
        pub(crate) key: String,
        pub(crate) value: String,
    }

    /// The least a hand-written client decodes of an instance to be useful.
    #[derive(Deserialize)]
    pub(crate) struct MinimalInstance {
        pub(crate) id: String,
        pub(crate) name: Option<String>,
        pub(crate) ip: Option<String>,
        pub(crate) status: String,
        pub(crate) region: Named,
        pub(crate) instance_type: Named,
        #[serde(default)]
        pub(crate) tags: Vec<MinimalTag>,
    }

    #[derive(Deserialize)]
    pub(crate) struct Storage {
        pub(crate) storage_gib: Option<u64>,
    }

    #[derive(Deserialize)]
    pub(crate) struct TypeWithStorage {
        pub(crate) name: String,
        pub(crate) specs: Storage,
    }

    #[derive(Deserialize)]
    pub(crate) struct Availability {
        pub(crate) available: Option<bool>,
    }

    #[derive(Deserialize)]
    pub(crate) struct Actions {
        pub(crate) restart: Option<Availability>,
    }

    #[derive(Deserialize)]
    pub(crate) struct Id {
        pub(crate) id: String,
    }

    /// Every field of an instance the provider maps into the model, decoded by a hand-written
    /// client (no leniency, no model): the floor with the same information as the provider.
    #[derive(Deserialize)]
    pub(crate) struct SameFields {
        pub(crate) id: String,
        pub(crate) name: Option<String>,
        pub(crate) ip: Option<String>,
        pub(crate) private_ip: Option<String>,
        pub(crate) status: String,
        pub(crate) hostname: Option<String>,
        pub(crate) region: Named,
        pub(crate) instance_type: TypeWithStorage,
        pub(crate) actions: Option<Actions>,
        #[serde(default)]
        pub(crate) tags: Vec<MinimalTag>,
        #[serde(default)]
        pub(crate) firewall_rulesets: Vec<Id>,
    }

    #[derive(Deserialize)]
    pub(crate) struct Rule {
        pub(crate) protocol: String,
        #[serde(default)]
        pub(crate) port_range: Option<[u16; 2]>,
        pub(crate) source_network: String,
    }

    #[derive(Deserialize)]
    pub(crate) struct Ruleset {
        pub(crate) name: String,
        pub(crate) rules: Vec<Rule>,
    }
}

use floors::{Envelope, MinimalInstance, Ruleset, SameFields};

fn config(fake: &FakeLambda) -> LambdaConfig {
    // The fake's seeded instances carry no credential tag: an empty reference id matches them.
    LambdaConfig::new(fake.api_key())
        .with_base_url(fake.base_url())
        .with_rate_limits(1e9, Duration::ZERO)
}

/// The raw floor: one GET, the whole body.
async fn transfer(http: &reqwest::Client, url: &str, key: &str) -> bytes::Bytes {
    http.get(url)
        .bearer_auth(key)
        .send()
        .await
        .expect("send")
        .bytes()
        .await
        .expect("body")
}

/// A hand-written client: one GET, the whole body, decoded into `T`.
async fn decoded<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    key: &str,
) -> T {
    let body = transfer(http, url, key).await;
    serde_json::from_slice::<Envelope<T>>(&body)
        .expect("json")
        .data
}

/// Medians of one comparison: the provider, the two decoding floors and the pure transfer.
struct Row {
    provider: Duration,
    minimal: Duration,
    same_fields: Duration,
    transfer: Duration,
}

fn line(label: &str, row: &Row) {
    println!(
        "    {label:<34} provider {:>7.1} µs | minimal {:>7.1} µs | same-fields {:>7.1} µs | transfer {:>7.1} µs | ratio {:.3} (vs same-fields {:.3}, vs transfer {:.3})",
        micros(row.provider),
        micros(row.minimal),
        micros(row.same_fields),
        micros(row.transfer),
        ratio(row.provider, row.minimal),
        ratio(row.provider, row.same_fields),
        ratio(row.provider, row.transfer),
    );
}

/// Runs the four variants interleaved and returns their medians.
async fn compare(rounds: usize, tasks: Vec<Task<'_>>) -> Row {
    let mut tasks = tasks;
    let t = interleaved(rounds, &mut tasks).await;
    Row {
        provider: t[0],
        minimal: t[1],
        same_fields: t[2],
        transfer: t[3],
    }
}

async fn overhead(rounds: usize, runtime: &str) {
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
    for _ in 0..50 {
        client.get_instance(&id).await.expect("get");
        transfer(&http, &get_url, &key).await;
    }
    println!(
        "(a) per-call cost on the same fake, {runtime}; median of {rounds} interleaved samples; target: ratio to the minimal client ≤ 1.10"
    );
    let get = compare(
        rounds,
        vec![
            Box::new(|| {
                Box::pin(async {
                    std::hint::black_box(client.get_instance(&id).await.expect("get"));
                })
            }),
            Box::new(|| {
                Box::pin(async {
                    std::hint::black_box(decoded::<MinimalInstance>(&http, &get_url, &key).await);
                })
            }),
            Box::new(|| {
                Box::pin(async {
                    std::hint::black_box(decoded::<SameFields>(&http, &get_url, &key).await);
                })
            }),
            Box::new(|| {
                Box::pin(async {
                    std::hint::black_box(transfer(&http, &get_url, &key).await);
                })
            }),
        ],
    )
    .await;
    line("get_instance (no ruleset, 1 GET)", &get);
    let args = ListInstancesArgs::default();
    let list = compare(
        rounds,
        vec![
            Box::new(|| {
                Box::pin(async {
                    std::hint::black_box(client.list_instances(&args).await.expect("list"));
                })
            }),
            Box::new(|| {
                Box::pin(async {
                    std::hint::black_box(
                        decoded::<Vec<MinimalInstance>>(&http, &list_url, &key).await,
                    );
                })
            }),
            Box::new(|| {
                Box::pin(async {
                    std::hint::black_box(decoded::<Vec<SameFields>>(&http, &list_url, &key).await);
                })
            }),
            Box::new(|| {
                Box::pin(async {
                    std::hint::black_box(transfer(&http, &list_url, &key).await);
                })
            }),
        ],
    )
    .await;
    line("list_instances (20, no rulesets)", &list);

    // An instance gpucloud made has its own ruleset: get_instance reads it too (2 GETs); the
    // floors do the same two GETs.
    let created = gpucloud_core::validate_and_create(&client, &CreateInstanceAttrs {
            location: "us-west-1".into(),
            instance_type: "gpu_1x_a10".into(),
            ref_id: "bench-ruleset".into(),
            public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T bench".into(),
            ..CreateInstanceAttrs::default()
        })
        .await
        .expect("create");
    let ruleset_id = fake
        .state()
        .instance(created.cloud_id.as_str())
        .and_then(|i| i.firewall_rulesets.first().cloned())
        .expect("the created instance has a ruleset");
    let own_url = format!("{}/api/v1/instances/{}", fake.base_url(), created.cloud_id);
    let ruleset_url = format!("{}/api/v1/firewall-rulesets/{ruleset_id}", fake.base_url());
    let with_ruleset = compare(
        rounds,
        vec![
            Box::new(|| {
                Box::pin(async {
                    let got = client.get_instance(&created.cloud_id).await.expect("get");
                    assert!(!got.firewall_rules.ingress_rules.is_empty());
                    std::hint::black_box(got);
                })
            }),
            Box::new(|| {
                Box::pin(async {
                    std::hint::black_box(decoded::<MinimalInstance>(&http, &own_url, &key).await);
                    std::hint::black_box(decoded::<Ruleset>(&http, &ruleset_url, &key).await);
                })
            }),
            Box::new(|| {
                Box::pin(async {
                    std::hint::black_box(decoded::<SameFields>(&http, &own_url, &key).await);
                    std::hint::black_box(decoded::<Ruleset>(&http, &ruleset_url, &key).await);
                })
            }),
            Box::new(|| {
                Box::pin(async {
                    std::hint::black_box(transfer(&http, &own_url, &key).await);
                    std::hint::black_box(transfer(&http, &ruleset_url, &key).await);
                })
            }),
        ],
    )
    .await;
    line("get_instance (own ruleset, 2 GETs)", &with_ruleset);
    fake.shutdown().await;
}

async fn big_lists() {
    println!(
        "(b) list_instances of many instances (median of 5 interleaved; peak heap of one call); target for 10,000: < 50 ms beyond transfer, < 50 MB peak:"
    );
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
        let bytes = transfer(&http, &url, &key).await.len();
        let args = ListInstancesArgs::default();
        let count = client.list_instances(&args).await.expect("list").len();
        assert_eq!(count, n);
        let mut tasks: Vec<Task<'_>> = vec![
            Box::new(|| {
                Box::pin(async {
                    std::hint::black_box(client.list_instances(&args).await.expect("list"));
                })
            }),
            Box::new(|| {
                Box::pin(async {
                    std::hint::black_box(transfer(&http, &url, &key).await);
                })
            }),
        ];
        let t = interleaved(5, &mut tasks).await;
        drop(tasks);
        let (provider, raw) = (t[0], t[1]);
        let before = ALLOC.current_usage();
        ALLOC.reset_peak_usage();
        let listed = client.list_instances(&args).await.expect("list");
        let peak = ALLOC.peak_usage().saturating_sub(before);
        drop(listed);
        let before = ALLOC.current_usage();
        ALLOC.reset_peak_usage();
        let body = transfer(&http, &url, &key).await;
        let raw_peak = ALLOC.peak_usage().saturating_sub(before);
        drop(body);
        println!(
            "    {n:>6} instances ({:.1} MB JSON): provider {:>7.1} ms, raw transfer {:>7.1} ms, beyond transfer {:>6.1} ms; peak heap {:.1} MB (raw transfer alone: {:.1} MB)",
            bytes as f64 / 1e6,
            millis(provider),
            millis(raw),
            millis(provider.saturating_sub(raw)),
            peak as f64 / 1e6,
            raw_peak as f64 / 1e6
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
    let mut tasks: Vec<Task<'_>> = vec![Box::new(|| {
        Box::pin(async {
            std::hint::black_box(client.instance_types(&args).await.expect("types"));
        })
    })];
    let t = interleaved(20, &mut tasks).await;
    drop(tasks);
    println!(
        "(c) instance_types, all regions: {entries} entries in {:.2} ms (median of 20)",
        millis(t[0])
    );
    fake.shutdown().await;
}

async fn types_with_default_limits() {
    const LATENCY: Duration = Duration::from_millis(50);
    let fake = FakeLambda::start(FakeLambdaOptions {
        latency: LATENCY,
        ..FakeLambdaOptions::default()
    })
    .await
    .expect("fake");
    let mut samples = Vec::new();
    for _ in 0..5 {
        // A fresh credential each time, as each `gpucloud types` run is: full rate-limit cells.
        let client =
            LambdaCredential::new(LambdaConfig::new(fake.api_key()).with_base_url(fake.base_url()))
                .expect("credential")
                .client("");
        let started = Instant::now();
        std::hint::black_box(
            client
                .instance_types(&GetInstanceTypeArgs::default())
                .await
                .expect("types"),
        );
        samples.push(started.elapsed());
    }
    let t = median(samples);
    println!(
        "(d) instance_types with default rate limits (1 request/s, burst 5), fake latency {:.0} ms: \
         {:.1} ms end to end (median of 5, fresh client each: new connections), {:.1} ms beyond the \
         fake's latency (a client-side limiter wait would add 1000 ms)",
        millis(LATENCY),
        millis(t),
        millis(t.saturating_sub(LATENCY))
    );
    fake.shutdown().await;
}

fn main() {
    println!(
        "minimal client = GET + read body + serde_json::from_slice into a minimal struct; pure transfer = GET + read body"
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(overhead(
            5000,
            "single-threaded runtime (CPU work per call, no wake-ups: strict, stable)",
        ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        overhead(
            2000,
            "2-worker runtime (latency incl. thread wake-ups: realistic, noisy)",
        )
        .await;
        big_lists().await;
        catalog().await;
        types_with_default_limits().await;
    });
}
