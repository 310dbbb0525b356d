//! Benchmarks against the fake, printing figures (run with `cargo bench -p gpucloud-shadeform`):
//! `list_instances` (50 instances) and `instance_types` (the whole catalog) through the
//! provider, next to two floors on the same fake with a plain `reqwest::Client`:
//! - the *raw GET* of the same URL: send and read the whole body, no decoding;
//! - the *hand-written client*: the raw GET plus `serde_json::from_slice` into plain structs
//!   of the fields the provider reads (the same information, with no leniency and no model:
//!   Lambda's benchmark calls it the same-fields floor). The target (≤ 1.10) is the provider's
//!   ratio to this floor; the ratio to the raw GET is printed next to it.
//!
//! A third row times gpucloud-http alone (the same GET, no decoding) against the raw GET, to
//! show where the provider's time beyond the floors goes.
//!
//! Samples are interleaved (provider, raw, provider, ...), so background load on the shared
//! machine hits both alike, and each figure is a median. The runtime is single-threaded
//! (client and fake on one thread): the figures are the CPU work per call, without
//! cross-thread wake-ups, which vary from run to run on a shared 2-core machine.

use std::time::Duration;

use gpucloud_core::validate::validate_and_create;
use gpucloud_core::{CloudClient, CreateInstanceAttrs, GetInstanceTypeArgs, ListInstancesArgs};
use gpucloud_fakes::bench::{Task, interleaved};
use gpucloud_fakes::shadeform::{FakeShadeform, FakeShadeformOptions};
use gpucloud_shadeform::{ShadeformConfig, ShadeformCredential};

const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T bench";
const INSTANCES: usize = 50;
const SAMPLES: usize = 400;
const LIMIT: f64 = 1.10;

/// What a hand-written client decodes (shared with the big-list benchmark).
#[allow(dead_code)]
#[path = "common/floors.rs"]
mod floors;

/// Interleaved medians of each call, in rotating order, after warming up every client's
/// connection pool.
async fn compare(mut calls: Vec<Task<'_>>) -> Vec<Duration> {
    for _ in 0..20 {
        for call in &mut calls {
            call().await;
        }
    }
    interleaved(SAMPLES, &mut calls).await
}

async fn run() -> bool {
    let fake = FakeShadeform::start(FakeShadeformOptions {
        creating_delay: Duration::ZERO,
        pending_provider_delay: Duration::ZERO,
        ..FakeShadeformOptions::default()
    })
    .await
    .expect("the fake starts");
    // Capacity for every create below.
    fake.state()
        .set_capacity("canada-1", "hyperstack_A4000", INSTANCES as u32);
    let client = ShadeformCredential::new(
        ShadeformConfig::new(fake.api_key())
            .with_base_url(fake.base_url())
            .with_ref_id("bench"),
    )
    .expect("a valid configuration")
    .client("");
    for i in 0..INSTANCES {
        let attrs = CreateInstanceAttrs {
            location: "ca-central".into(),
            ref_id: format!("bench-{i}"),
            name: format!("bench {i}"),
            public_key: PUBLIC_KEY.into(),
            instance_type: "hyperstack_A4000".into(),
            ..CreateInstanceAttrs::default()
        };
        validate_and_create(&client, &attrs).await.expect("create");
    }
    let http = reqwest::Client::new();
    let base = fake.base_url();
    let key = fake.api_key().to_owned();
    let get = |path: &'static str| {
        let (http, url, key) = (http.clone(), format!("{base}/{path}"), key.clone());
        async move {
            http.get(url)
                .header("X-API-KEY", key)
                .send()
                .await
                .expect("send")
                .bytes()
                .await
                .expect("body")
        }
    };
    let list: Vec<Task<'_>> = vec![
        Box::new(|| {
            Box::pin(async {
                let l = client
                    .list_instances(&ListInstancesArgs::default())
                    .await
                    .expect("list");
                assert_eq!(l.len(), INSTANCES);
                std::hint::black_box(l);
            })
        }),
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(get("instances").await);
            })
        }),
        Box::new(|| {
            Box::pin(async {
                let body = get("instances").await;
                let l: floors::Instances = serde_json::from_slice(&body).expect("decode");
                std::hint::black_box(l);
            })
        }),
    ];
    let list = compare(list).await;
    let catalog: Vec<Task<'_>> = vec![
        Box::new(|| {
            Box::pin(async {
                let t = client
                    .instance_types(&GetInstanceTypeArgs::default())
                    .await
                    .expect("types");
                std::hint::black_box(t);
            })
        }),
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(get("instances/types").await);
            })
        }),
        Box::new(|| {
            Box::pin(async {
                let body = get("instances/types").await;
                let t: floors::Types = serde_json::from_slice(&body).expect("decode");
                std::hint::black_box(t);
            })
        }),
    ];
    let catalog = compare(catalog).await;
    let layer = gpucloud_http::HttpClient::new(
        "shadeform",
        gpucloud_http::HttpConfig::default()
            .with_base_url(gpucloud_http::parse_base_url(&format!("{base}/")).expect("url")),
        gpucloud_http::Auth::Header(
            gpucloud_http::HeaderName::from_static("x-api-key"),
            gpucloud_http::ApiKey::new(key.clone()),
        ),
        |status, _: &gpucloud_http::HeaderMap, _: &[u8]| {
            gpucloud_http::Classification::from_status(status)
        },
    )
    .expect("client");
    let http_only: Vec<Task<'_>> = vec![
        Box::new(|| {
            Box::pin(async {
                let r = layer
                    .send(gpucloud_http::Request::get("t", "instances/types"))
                    .await
                    .expect("send");
                std::hint::black_box(r);
            })
        }),
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(get("instances/types").await);
            })
        }),
    ];
    let http_only = compare(http_only).await;

    let mut ok = true;
    println!("shadeform bench (median of {SAMPLES}, single-threaded runtime, same fake):");
    for (what, figures) in [
        (format!("list_instances ({INSTANCES})"), list),
        ("instance_types (catalog)".to_owned(), catalog),
    ] {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let (provider, raw, minimal) = (figures[0], figures[1], figures[2]);
        let ratio = provider.as_secs_f64() / minimal.as_secs_f64();
        println!(
            "  {what:<26} provider {:>7.1} µs | hand-written client {:>7.1} µs: ratio {ratio:.2} (target ≤ {LIMIT:.2}) | raw GET {:>7.1} µs: ratio {:.2}",
            us(provider),
            us(minimal),
            us(raw),
            provider.as_secs_f64() / raw.as_secs_f64(),
        );
        ok &= ratio <= LIMIT;
    }
    println!(
        "  gpucloud-http alone (GET instances/types, no decoding) {:>7.1} µs | raw GET {:>7.1} µs: ratio {:.2}",
        http_only[0].as_secs_f64() * 1e6,
        http_only[1].as_secs_f64() * 1e6,
        http_only[0].as_secs_f64() / http_only[1].as_secs_f64(),
    );
    fake.shutdown().await;
    ok
}

fn main() {
    let ok = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(run());
    if !ok {
        println!("  above the target ratio");
    }
}
