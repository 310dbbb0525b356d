//! Benchmarks against the fake, printing figures (run with `cargo bench -p gpucloud-launchpad`):
//! `list_instances` (50 deployments) and `instance_types` (the whole catalog) through the
//! provider, next to two floors on the same fake with a plain `reqwest::Client`:
//! - the *raw GET* of the same URLs: send and read the whole bodies, no decoding;
//! - the *hand-written client*: the raw GETs plus `serde_json::from_slice` into plain structs
//!   of the fields the provider reads, and the answer's own shape: for the list the join of
//!   deployments with their clusters' addresses, for the catalog one offer per type × region
//!   (the regions of `capacity` and `regions`, available where `capacity` says so) — the same
//!   information, with no leniency and no model. The target (≤ 1.10) is the provider's ratio
//!   to this floor; the ratio to the raw GET is printed next to it.
//!
//! A list is two requests made at once (the deployments and the clusters' addresses); both
//! floors make the same two, at once too.
//!
//! A third row times gpucloud-http alone (the catalog's GET, no decoding) against the raw GET,
//! to show where the provider's time beyond the floors goes.
//!
//! Samples are interleaved (provider, raw, provider, ...), so background load on the shared
//! machine hits both alike, and each figure is a median. The runtime is single-threaded
//! (client and fake on one thread): the figures are the CPU work per call.

use std::collections::HashMap;
use std::time::Duration;

use gpucloud_core::validate::validate_and_create;
use gpucloud_core::{CloudClient, CreateInstanceAttrs, GetInstanceTypeArgs, ListInstancesArgs};
use gpucloud_fakes::bench::{Task, interleaved};
use gpucloud_fakes::launchpad::{FakeLaunchpad, FakeLaunchpadOptions};
use gpucloud_launchpad::{LaunchpadConfig, LaunchpadCredential};
use serde::Deserialize;

const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T bench";
const INSTANCES: usize = 50;
const SAMPLES: usize = 400;
const LIMIT: f64 = 1.10;

const DEPLOYMENTS: &str = "v1/catalog/deployments/?page=1&page_size=500&state_not=destroyed";
const CLUSTERS: &str = "v1/inventory/clusters/?page=1&page_size=500&has_deployment=true";
const TYPES: &str = "v1/catalog/instance-types/?page=1&page_size=500";

/// The fields of a page a hand-written client reads.
#[derive(Deserialize)]
struct Page<T> {
    #[allow(dead_code)]
    next: Option<String>,
    results: Vec<T>,
}

/// The fields of a deployment the provider reads.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Deployment {
    id: String,
    cluster: Option<String>,
    created: String,
    gpu_count: u32,
    gpu_model: String,
    provider_name: String,
    region: String,
    request_id: String,
    ssh_port: u16,
    ssh_user: String,
    state: String,
    tags: HashMap<String, String>,
    workshop_id: Option<String>,
}

/// The fields of a cluster the provider reads.
#[derive(Deserialize)]
struct Cluster {
    id: String,
    public_address: Option<String>,
}

/// The fields of a catalog entry the provider reads.
#[derive(Deserialize)]
#[allow(dead_code)]
struct InstanceType {
    capacity: HashMap<String, u64>,
    cloud: String,
    cpu: u32,
    gpu: Gpu,
    memory_gb: u64,
    price: Price,
    regions: Vec<String>,
    storage: Vec<Storage>,
    system_arch: String,
    workshop_id: String,
}

/// One offer as a hand-written client lists it: a type in one of its regions.
struct Offer<'a> {
    #[allow(dead_code)]
    instance_type: &'a InstanceType,
    #[allow(dead_code)]
    region: &'a str,
    #[allow(dead_code)]
    available: bool,
}

/// The offers of a catalog page: each type in every region its `capacity` or `regions` names.
fn offers(page: &Page<InstanceType>) -> Vec<Offer<'_>> {
    let mut offers = Vec::with_capacity(page.results.len() * 2);
    for t in &page.results {
        let mut regions: Vec<&str> = t.capacity.keys().map(String::as_str).collect();
        for region in &t.regions {
            if !regions.contains(&region.as_str()) {
                regions.push(region);
            }
        }
        offers.extend(regions.into_iter().map(|region| Offer {
            instance_type: t,
            region,
            available: t.capacity.get(region).is_some_and(|n| *n > 0),
        }));
    }
    offers
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Gpu {
    count: u32,
    family: String,
    interconnection_type: String,
    manufacturer: String,
    memory_gb: u64,
    model: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Price {
    currency: String,
    on_demand_per_hour: f64,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Storage {
    size_gb: u64,
    #[serde(rename = "type")]
    kind: String,
}

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
    let fake = FakeLaunchpad::start(FakeLaunchpadOptions {
        waiting_delay: Duration::ZERO,
        ..FakeLaunchpadOptions::default()
    })
    .await
    .expect("the fake starts");
    fake.state()
        .set_capacity("us-tx-1", "oci", "A100", 8, INSTANCES as u32);
    let client = LaunchpadCredential::new(
        LaunchpadConfig::new(fake.token())
            .with_base_url(fake.base_url())
            .with_ref_id("bench")
            .with_requester("bench", "bench@example.com"),
    )
    .expect("a valid configuration")
    .client("");
    for i in 0..INSTANCES {
        let attrs = CreateInstanceAttrs {
            location: "us-south".into(),
            ref_id: format!("bench-{i}"),
            name: format!("bench {i}"),
            public_key: PUBLIC_KEY.into(),
            instance_type: "oci_a100x8".into(),
            ..CreateInstanceAttrs::default()
        };
        validate_and_create(&client, &attrs).await.expect("create");
    }
    let http = reqwest::Client::new();
    let base = fake.base_url();
    let auth = format!("Token {}", fake.token());
    let get = |path: &'static str| {
        let (http, url, auth) = (http.clone(), format!("{base}/{path}"), auth.clone());
        async move {
            http.get(url)
                .header("Authorization", auth)
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
                std::hint::black_box(tokio::join!(get(DEPLOYMENTS), get(CLUSTERS)));
            })
        }),
        Box::new(|| {
            Box::pin(async {
                let (deployments, clusters) = tokio::join!(get(DEPLOYMENTS), get(CLUSTERS));
                let d: Page<Deployment> = serde_json::from_slice(&deployments).expect("decode");
                let c: Page<Cluster> = serde_json::from_slice(&clusters).expect("decode");
                let addresses: HashMap<&str, &str> = c
                    .results
                    .iter()
                    .filter_map(|c| Some((c.id.as_str(), c.public_address.as_deref()?)))
                    .collect();
                let joined: Vec<(&Deployment, Option<&str>)> = d
                    .results
                    .iter()
                    .map(|d| {
                        let address = d
                            .cluster
                            .as_deref()
                            .and_then(|id| addresses.get(id).copied());
                        (d, address)
                    })
                    .collect();
                assert_eq!(joined.len(), INSTANCES);
                std::hint::black_box(joined);
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
                std::hint::black_box(get(TYPES).await);
            })
        }),
        Box::new(|| {
            Box::pin(async {
                let body = get(TYPES).await;
                let t: Page<InstanceType> = serde_json::from_slice(&body).expect("decode");
                std::hint::black_box(offers(&t));
            })
        }),
    ];
    let catalog = compare(catalog).await;
    let layer = gpucloud_http::HttpClient::new(
        "launchpad",
        gpucloud_http::HttpConfig::default()
            .with_base_url(gpucloud_http::parse_base_url(&format!("{base}/")).expect("url")),
        gpucloud_http::Auth::Header(
            gpucloud_http::HeaderName::from_static("authorization"),
            gpucloud_http::ApiKey::new(auth.clone()),
        ),
        |status, _: &gpucloud_http::HeaderMap, _: &[u8]| {
            gpucloud_http::Classification::from_status(status)
        },
    )
    .expect("client");
    let http_only: Vec<Task<'_>> = vec![
        Box::new(|| {
            Box::pin(async {
                let request = gpucloud_http::Request::get("t", "v1/catalog/instance-types/")
                    .query("page", "1")
                    .query("page_size", "500");
                std::hint::black_box(layer.send(request).await.expect("send"));
            })
        }),
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(get(TYPES).await);
            })
        }),
    ];
    let http_only = compare(http_only).await;

    let mut ok = true;
    println!("launchpad bench (median of {SAMPLES}, single-threaded runtime, same fake):");
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
        "  gpucloud-http alone (GET the catalog, no decoding) {:>7.1} µs | raw GET {:>7.1} µs: ratio {:.2}",
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
