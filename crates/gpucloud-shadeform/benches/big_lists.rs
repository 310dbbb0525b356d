//! `list_instances` of 1,000 and 10,000 instances against the fake (`cargo bench -p
//! gpucloud-shadeform`): the time beyond the raw transfer of the same answer (a plain
//! `reqwest` GET reading the whole body) and the peak heap of one call. Measured the way
//! Fluidstack's benchmark measures: medians of nine interleaved samples on a single-threaded
//! runtime, and the peak of the whole process during the call (the fake building its answer
//! included, so the raw transfer's own peak is printed next to it). Targets for 10,000:
//! < 50 ms beyond transfer, < 50 MB peak. The hand-written client of the ratio benchmark
//! (the same GET decoded into plain structs) is timed beside it, to show what decoding that
//! much JSON costs at all on the machine at that moment.
//!
//! The instances are seeded through the fake's state API, as gpucloud would have made them:
//! this credential's bookkeeping tags, a user tag, and the launch script kept by the fake
//! (which the list does not show).

use std::time::Duration;

use base64::Engine as _;
use gpucloud_core::{Bookkeeping, CloudClient, ListInstancesArgs};
use gpucloud_fakes::bench::{Task, interleaved, millis};
use gpucloud_fakes::shadeform::{FakeShadeform, FakeShadeformOptions};
use gpucloud_shadeform::{ShadeformConfig, ShadeformCredential};
use peak_alloc::PeakAlloc;

/// What a hand-written client decodes (shared with the ratio benchmark).
#[allow(dead_code)]
#[path = "common/floors.rs"]
mod floors;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const REF_ID: &str = "bench-cred";
/// Samples per figure (each a whole list, up to a tenth of a second).
const SAMPLES: usize = 9;
const OFFER: &str = "hyperstack_A4000";
const REGION: &str = "canada-1";
const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T bench";

/// The tags gpucloud stores on an instance it made, as Shadeform keeps them.
fn tags() -> Vec<String> {
    Bookkeeping {
        ref_id: "env-1".into(),
        cred_ref_id: REF_ID.into(),
        created_at: "2026-12-01T18:00:00Z".parse().ok(),
    }
    .encode_with(&std::collections::BTreeMap::from([(
        "team".into(),
        "ml".into(),
    )]))
    .into_iter()
    .map(|(k, v)| format!("{k}={v}"))
    .collect()
}

/// A launch script of the size gpucloud sends (the bootstrap's firewall and key set-up).
fn launch_script() -> String {
    let rendered = gpucloud_bootstrap::Bootstrap::new("shadeform", KEY)
        .expect("key")
        .render();
    base64::engine::general_purpose::STANDARD.encode(rendered)
}

async fn one_size(n: usize, tags: &[String], script: &str) {
    let fake = FakeShadeform::start(FakeShadeformOptions::default())
        .await
        .expect("the fake starts");
    fake.state()
        .seed_instances(n, REGION, OFFER, tags, Some(script))
        .expect("seed");
    let client = ShadeformCredential::new(
        ShadeformConfig::new(fake.api_key())
            .with_base_url(fake.base_url())
            .with_ref_id(REF_ID),
    )
    .expect("a valid configuration")
    .client("");
    let http = reqwest::Client::new();
    let url = format!("{}/instances", fake.base_url());
    let key = fake.api_key().to_owned();
    let transfer = || async {
        http.get(&url)
            .header("X-API-KEY", &key)
            .send()
            .await
            .expect("send")
            .bytes()
            .await
            .expect("body")
    };
    let bytes = transfer().await.len();
    let args = ListInstancesArgs::default();
    assert_eq!(client.list_instances(&args).await.expect("list").len(), n);
    let mut tasks: Vec<Task<'_>> = vec![
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(client.list_instances(&args).await.expect("list"));
            })
        }),
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(transfer().await);
            })
        }),
        Box::new(|| {
            Box::pin(async {
                let body = transfer().await;
                let list: floors::Instances = serde_json::from_slice(&body).expect("decode");
                std::hint::black_box(list);
            })
        }),
    ];
    let t = interleaved(SAMPLES, &mut tasks).await;
    drop(tasks);
    let (provider, raw, minimal): (Duration, Duration, Duration) = (t[0], t[1], t[2]);
    let before = ALLOC.current_usage();
    ALLOC.reset_peak_usage();
    let listed = client.list_instances(&args).await.expect("list");
    let peak = ALLOC.peak_usage().saturating_sub(before);
    drop(listed);
    let before = ALLOC.current_usage();
    ALLOC.reset_peak_usage();
    let body = transfer().await;
    let raw_peak = ALLOC.peak_usage().saturating_sub(before);
    drop(body);
    #[allow(clippy::cast_precision_loss)] // Sizes far below 2^52 bytes.
    let mb = |b: usize| b as f64 / 1e6;
    println!(
        "  {n:>6} instances ({:>5.1} MB JSON): provider {:>7.1} ms, raw transfer {:>7.1} ms, beyond transfer {:>6.1} ms (hand-written client: {:>6.1} ms); peak heap {:>5.1} MB (raw transfer alone: {:.1} MB)",
        mb(bytes),
        millis(provider),
        millis(raw),
        millis(provider.saturating_sub(raw)),
        millis(minimal.saturating_sub(raw)),
        mb(peak),
        mb(raw_peak),
    );
    fake.shutdown().await;
}

async fn run() {
    println!(
        "shadeform list_instances of many instances (median of {SAMPLES} interleaved, single-threaded runtime; peak heap of one call); target for 10,000: < 50 ms beyond transfer, < 50 MB peak:"
    );
    let (tags, script) = (tags(), launch_script());
    for n in [1_000, 10_000] {
        one_size(n, &tags, &script).await;
    }
}

fn main() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(run());
}
