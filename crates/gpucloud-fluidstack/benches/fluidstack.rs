//! Benchmarks against the Fluidstack fake, printing figures (`cargo bench -p
//! gpucloud-fluidstack`). Measured the way the Lambda benchmark measures (see its header):
//!
//! (a) `get_instance` / `list_instances` (20 instances) through the provider next to floors
//!     on the same fake with a plain `reqwest::Client`: the *minimal client* (GET with the
//!     project header, read the body, `serde_json::from_slice` into a struct of id, name, type,
//!     ip, state, tags: the target, ratio ≤ 1.10, is to this floor) and the *pure transfer*
//!     (GET, read the body). Instances are what gpucloud makes: bookkeeping tags and the
//!     bootstrap's user data (which the provider reads the firewall rules back from). Samples
//!     interleaved in rotating order, medians; once on a single-threaded runtime (CPU work per
//!     call, stable: the strict figure) and once on a 2-worker runtime (latency with thread
//!     wake-ups, noisy on a shared machine).
//! (b) `list_instances` of 1,000 and 10,000 instances, without and with the bootstrap's user
//!     data: time beyond the raw transfer and peak heap. The fake's lists are frozen first
//!     (serialized once, before anything is measured), so the peak is the client's own: the
//!     body as reqwest collects it plus what the provider builds; the raw transfer's own peak
//!     is printed next to it. Targets for 10,000: < 50 ms beyond transfer, < 50 MB peak.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use gpucloud_core::{Bookkeeping, CloudClient, FirewallRule, InstanceId, ListInstancesArgs};
use gpucloud_fakes::bench::{Task, interleaved, micros, millis, ratio};
use gpucloud_fakes::fluidstack::{FakeFluidstack, FakeFluidstackOptions, PROJECT_HEADER};
use gpucloud_fluidstack::{FluidstackClient, FluidstackConfig, FluidstackCredential};
use peak_alloc::PeakAlloc;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const REF_ID: &str = "bench-cred";
const TYPE: &str = "h100-hgx-80gb.8x";
const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T bench";

/// What a hand-written client decodes. The fields are only handed to `black_box`: decoding
/// them is the work being measured, so they are never read.
#[allow(dead_code)]
mod floors {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    /// The least a hand-written client decodes of an instance to be useful.
    #[derive(Deserialize)]
    pub(crate) struct MinimalInstance {
        pub(crate) id: String,
        pub(crate) name: String,
        #[serde(rename = "type")]
        pub(crate) instance_type: String,
        pub(crate) ip: Option<String>,
        pub(crate) state: String,
        #[serde(default)]
        pub(crate) tags: BTreeMap<String, String>,
    }
}

use floors::MinimalInstance;

/// The tags gpucloud stores on an instance it made.
fn bookkeeping_tags() -> BTreeMap<String, String> {
    Bookkeeping {
        ref_id: "env-1".into(),
        cred_ref_id: REF_ID.into(),
        created_at: "2026-12-01T18:00:00Z".parse().ok(),
    }
    .encode_with(&BTreeMap::from([("team".into(), "ml".into())]))
    .into_iter()
    .collect()
}

/// The user data gpucloud sends: the bootstrap with one extra rule, base64.
fn bootstrap_user_data() -> String {
    let rendered = gpucloud_bootstrap::Bootstrap::new("ubuntu", KEY)
        .expect("key")
        .with_ingress_rules(&[FirewallRule::port(8080)])
        .expect("rules")
        .render();
    base64::engine::general_purpose::STANDARD.encode(rendered)
}

async fn start_fake(n: usize, user_data: Option<&str>) -> (FakeFluidstack, Vec<uuid::Uuid>) {
    let fake = FakeFluidstack::start(FakeFluidstackOptions::default())
        .await
        .expect("fake");
    let region = fake.regions()[0].clone();
    let ids = fake
        .state()
        .seed_instances(n, &region, TYPE, &bookkeeping_tags(), user_data)
        .expect("seed");
    (fake, ids)
}

/// A client of the fake's first region only, so a get or a list is one request.
fn client(fake: &FakeFluidstack) -> FluidstackClient {
    let region = fake.regions()[0].clone();
    let config = FluidstackConfig::new(fake.api_key(), fake.project_id().to_string())
        .with_regions([region.clone()])
        .with_base_url(fake.url_template())
        .with_ref_id(REF_ID);
    FluidstackCredential::new(config)
        .expect("credential")
        .client(&region)
        .expect("client")
}

/// What every raw request needs: the client, the key and the project header.
struct Raw {
    http: reqwest::Client,
    key: String,
    project: String,
}

impl Raw {
    fn new(fake: &FakeFluidstack) -> Self {
        Self {
            http: reqwest::Client::new(),
            key: fake.api_key().to_owned(),
            project: fake.project_id().to_string(),
        }
    }

    /// The raw floor: one GET, the whole body.
    async fn transfer(&self, url: &str) -> bytes::Bytes {
        self.http
            .get(url)
            .bearer_auth(&self.key)
            .header(PROJECT_HEADER, &self.project)
            .send()
            .await
            .expect("send")
            .bytes()
            .await
            .expect("body")
    }

    /// A hand-written client: one GET, the whole body, decoded into `T`.
    async fn decoded<T: serde::de::DeserializeOwned>(&self, url: &str) -> T {
        serde_json::from_slice(&self.transfer(url).await).expect("json")
    }
}

fn line(label: &str, t: &[Duration]) {
    let (provider, minimal, transfer) = (t[0], t[1], t[2]);
    println!(
        "    {label:<28} provider {:>7.1} µs | minimal {:>7.1} µs | transfer {:>7.1} µs | ratio {:.3} (vs transfer {:.3})",
        micros(provider),
        micros(minimal),
        micros(transfer),
        ratio(provider, minimal),
        ratio(provider, transfer),
    );
}

async fn overhead(rounds: usize, runtime: &str) {
    let user_data = bootstrap_user_data();
    let (fake, ids) = start_fake(20, Some(&user_data)).await;
    let client = client(&fake);
    let raw = Raw::new(&fake);
    let id = InstanceId::new(ids[0].to_string());
    let base = fake.base_url(&fake.regions()[0]);
    let get_url = format!("{base}/instances/{}", ids[0]);
    let list_url = format!("{base}/instances");
    // Warm up both connection pools (and the provider's project header).
    for _ in 0..50 {
        client.get_instance(&id).await.expect("get");
        raw.transfer(&get_url).await;
    }
    let got = client.get_instance(&id).await.expect("get");
    assert_eq!(
        got.firewall_rules.ingress_rules.len(),
        2,
        "SSH and 8080 read back"
    );
    println!(
        "(a) per-call cost on the same fake, {runtime}; median of {rounds} interleaved samples; target: ratio to the minimal client ≤ 1.10"
    );
    let mut get: Vec<Task<'_>> = vec![
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(client.get_instance(&id).await.expect("get"));
            })
        }),
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(raw.decoded::<MinimalInstance>(&get_url).await);
            })
        }),
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(raw.transfer(&get_url).await);
            })
        }),
    ];
    line("get_instance", &interleaved(rounds, &mut get).await);
    drop(get);
    let args = ListInstancesArgs::default();
    let mut list: Vec<Task<'_>> = vec![
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(client.list_instances(&args).await.expect("list"));
            })
        }),
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(raw.decoded::<Vec<MinimalInstance>>(&list_url).await);
            })
        }),
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(raw.transfer(&list_url).await);
            })
        }),
    ];
    line("list_instances (20)", &interleaved(rounds, &mut list).await);
    drop(list);
    fake.shutdown().await;
}

async fn big_lists() {
    println!(
        "(b) list_instances of many instances (median of 5 interleaved; peak heap of one call, the fake's answer serialized beforehand); target for 10,000: < 50 ms beyond transfer, < 50 MB peak:"
    );
    let bootstrap = bootstrap_user_data();
    for (label, user_data) in [
        ("no user data", None),
        ("bootstrap user data", Some(&bootstrap)),
    ] {
        for n in [1_000usize, 10_000] {
            let (fake, _) = start_fake(n, user_data.map(String::as_str)).await;
            fake.state().freeze_instance_lists();
            let client = client(&fake);
            let raw = Raw::new(&fake);
            let url = format!("{}/instances", fake.base_url(&fake.regions()[0]));
            let bytes = raw.transfer(&url).await.len();
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
                        std::hint::black_box(raw.transfer(&url).await);
                    })
                }),
            ];
            let t = interleaved(5, &mut tasks).await;
            drop(tasks);
            let (provider, transfer) = (t[0], t[1]);
            let before = ALLOC.current_usage();
            ALLOC.reset_peak_usage();
            let listed = client.list_instances(&args).await.expect("list");
            let peak = ALLOC.peak_usage().saturating_sub(before);
            drop(listed);
            let before = ALLOC.current_usage();
            ALLOC.reset_peak_usage();
            let body = raw.transfer(&url).await;
            let raw_peak = ALLOC.peak_usage().saturating_sub(before);
            drop(body);
            println!(
                "    {n:>6} instances, {label:<19} ({:>5.1} MB JSON): provider {:>7.1} ms, raw transfer {:>7.1} ms, beyond transfer {:>6.1} ms; peak heap {:>5.1} MB (raw transfer alone: {:.1} MB)",
                bytes as f64 / 1e6,
                millis(provider),
                millis(transfer),
                millis(provider.saturating_sub(transfer)),
                peak as f64 / 1e6,
                raw_peak as f64 / 1e6
            );
            fake.shutdown().await;
        }
    }
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
            3000,
            "single-threaded runtime (CPU work per call, no wake-ups: strict, stable)",
        ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        overhead(
            1000,
            "2-worker runtime (latency incl. thread wake-ups: realistic, noisy)",
        )
        .await;
        big_lists().await;
    });
}
