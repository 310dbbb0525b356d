//! Benchmarks against the fake, printing figures (run with `cargo bench -p gpucloud-verda`):
//! `list_instances` (50 instances), `get_instance` and `instance_types` (the catalog: four
//! calls at once) through the provider, next to a minimal hand-written client on the same
//! fake: a plain `reqwest::Client` with the token fetched once, the same requests (the
//! catalog's four at once too), decoded with `serde_json` into plain structs of the fields
//! the provider reads (no leniency, no model), and for the catalog the answer a catalog is:
//! one offer per type × location, on demand and (where the type has a spot price) spot, each
//! with its price and whether `/instance-availability` lists it there. The target is a ratio
//! of at most 1.10.
//!
//! Samples are interleaved (provider, hand-written, provider, ...), so background load on the
//! shared machine hits both alike, and each figure is a median. The runtime is
//! single-threaded (client and fake on one thread): the figures are the CPU work per call.

use std::time::Duration;

use gpucloud_core::validate::validate_and_create;
use gpucloud_core::{
    CloudClient, CreateInstanceAttrs, GetInstanceTypeArgs, InstanceId, ListInstancesArgs,
};
use gpucloud_fakes::bench::{Task, interleaved, micros, ratio};
use gpucloud_fakes::verda::{FakeVerda, FakeVerdaOptions};
use gpucloud_verda::{VerdaConfig, VerdaCredential};
use serde::Deserialize;

const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T bench";
const INSTANCES: usize = 50;
const SAMPLES: usize = 300;
const LIMIT: f64 = 1.10;

/// What the hand-written client decodes: the fields the provider reads. Only handed to
/// `black_box`: decoding them is the work measured.
#[allow(dead_code, clippy::struct_field_names)] // The API's names.
mod floors {
    use super::Deserialize;

    #[derive(Deserialize)]
    pub struct Described {
        pub number_of_cores: Option<u32>,
        pub number_of_gpus: Option<u32>,
        pub size_in_gigabytes: Option<u32>,
    }

    #[derive(Deserialize)]
    pub struct Instance {
        pub id: String,
        pub instance_type: String,
        pub hostname: String,
        pub description: String,
        pub status: String,
        pub created_at: String,
        pub ssh_key_ids: Vec<String>,
        pub ip: Option<String>,
        pub os_volume_id: Option<String>,
        pub location: String,
        pub image: String,
        pub startup_script_id: Option<String>,
        pub is_spot: bool,
    }

    #[derive(Deserialize)]
    pub struct Type {
        pub instance_type: String,
        pub model: String,
        pub name: String,
        pub cpu: Described,
        pub gpu: Described,
        pub memory: Described,
        pub gpu_memory: Described,
        pub price_per_hour: String,
        pub spot_price: String,
        pub currency: String,
        pub manufacturer: String,
        pub p2p: String,
    }

    #[derive(Deserialize)]
    pub struct Location {
        pub code: String,
        pub name: String,
        pub country_code: String,
    }

    #[derive(Deserialize)]
    pub struct Availability {
        pub location_code: String,
        pub availabilities: Vec<String>,
    }

    /// One offer as a hand-written client lists it.
    pub struct Offer<'a> {
        pub location: &'a str,
        pub instance_type: &'a Type,
        pub spot: bool,
        pub price: f64,
        pub available: bool,
    }

    /// The offers of the four answers: every type in every location, on demand and, where
    /// it has a spot price, spot.
    pub fn offers<'a>(
        locations: &'a [Location],
        types: &'a [Type],
        on_demand: &'a [Availability],
        spot: &'a [Availability],
    ) -> Vec<Offer<'a>> {
        use std::collections::{HashMap, HashSet};
        let orderable = |lists: &'a [Availability]| {
            let mut by_location: HashMap<&'a str, HashSet<&'a str>> = HashMap::new();
            for a in lists {
                by_location
                    .entry(a.location_code.as_str())
                    .or_default()
                    .extend(a.availabilities.iter().map(String::as_str));
            }
            by_location
        };
        let (on_demand, spot) = (orderable(on_demand), orderable(spot));
        let places: Vec<_> = locations
            .iter()
            .map(|l| {
                let code = l.code.as_str();
                (code, on_demand.get(code), spot.get(code))
            })
            .collect();
        let mut offers = Vec::with_capacity(locations.len() * types.len() * 2);
        for t in types {
            let name = t.instance_type.as_str();
            let price: f64 = t.price_per_hour.parse().unwrap_or(0.0);
            let spot_price: f64 = t.spot_price.parse().unwrap_or(0.0);
            for (location, on_demand, spot) in &places {
                offers.push(Offer {
                    location,
                    instance_type: t,
                    spot: false,
                    price,
                    available: on_demand.is_some_and(|s| s.contains(name)),
                });
                if spot_price > 0.0 {
                    offers.push(Offer {
                        location,
                        instance_type: t,
                        spot: true,
                        price: spot_price,
                        available: spot.is_some_and(|s| s.contains(name)),
                    });
                }
            }
        }
        offers
    }

    #[derive(Deserialize)]
    pub struct Token {
        pub access_token: String,
    }
}

async fn compare(mut calls: Vec<Task<'_>>) -> Vec<Duration> {
    for _ in 0..20 {
        for call in &mut calls {
            call().await;
        }
    }
    interleaved(SAMPLES, &mut calls).await
}

async fn run() -> bool {
    let fake = FakeVerda::start(FakeVerdaOptions {
        ordered_delay: Duration::ZERO,
        provisioning_delay: Duration::ZERO,
        ..FakeVerdaOptions::default()
    })
    .await
    .expect("the fake starts");
    fake.state()
        .set_capacity("FIN-01", "1A100.22V", false, INSTANCES as u32);
    let client = VerdaCredential::new(
        VerdaConfig::new(fake.client_id(), fake.client_secret())
            .with_base_url(fake.base_url())
            .with_ref_id("bench"),
    )
    .expect("a valid configuration")
    .client("FIN-01");
    for i in 0..INSTANCES {
        let attrs = CreateInstanceAttrs {
            location: "FIN-01".into(),
            ref_id: format!("bench-{i}"),
            name: format!("bench {i}"),
            public_key: PUBLIC_KEY.into(),
            instance_type: "1A100.22V".into(),
            ..CreateInstanceAttrs::default()
        };
        validate_and_create(&client, &attrs).await.expect("create");
    }
    let one = InstanceId::new(fake.state().instances()[0].id.to_string());
    let http = reqwest::Client::new();
    let base = fake.base_url();
    let token: floors::Token = http
        .post(format!("{base}/oauth2/token"))
        .json(&serde_json::json!({"grant_type": "client_credentials",
            "client_id": fake.client_id(), "client_secret": fake.client_secret()}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token body");
    let bearer = format!("Bearer {}", token.access_token);
    let get = |path: String| {
        let (http, url, bearer) = (http.clone(), format!("{base}/{path}"), bearer.clone());
        async move {
            http.get(url)
                .header("authorization", bearer)
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
                let body = get("instances".to_owned()).await;
                let l: Vec<floors::Instance> = serde_json::from_slice(&body).expect("decode");
                std::hint::black_box(l);
            })
        }),
    ];
    let list = compare(list).await;
    let get_one: Vec<Task<'_>> = vec![
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(client.get_instance(&one).await.expect("get"));
            })
        }),
        Box::new(|| {
            Box::pin(async {
                let body = get(format!("instances/{one}")).await;
                let i: floors::Instance = serde_json::from_slice(&body).expect("decode");
                std::hint::black_box(i);
            })
        }),
    ];
    let get_one = compare(get_one).await;
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
                let (l, t, a, s) = tokio::join!(
                    get("locations".to_owned()),
                    get("instance-types?currency=usd".to_owned()),
                    get("instance-availability?is_spot=false".to_owned()),
                    get("instance-availability?is_spot=true".to_owned()),
                );
                let l: Vec<floors::Location> = serde_json::from_slice(&l).expect("decode");
                let t: Vec<floors::Type> = serde_json::from_slice(&t).expect("decode");
                let a: Vec<floors::Availability> = serde_json::from_slice(&a).expect("decode");
                let s: Vec<floors::Availability> = serde_json::from_slice(&s).expect("decode");
                std::hint::black_box(floors::offers(&l, &t, &a, &s));
            })
        }),
    ];
    let catalog = compare(catalog).await;

    let mut ok = true;
    println!("verda bench (median of {SAMPLES}, single-threaded runtime, same fake):");
    for (what, figures) in [
        (format!("list_instances ({INSTANCES})"), list),
        ("get_instance".to_owned(), get_one),
        ("instance_types (catalog)".to_owned(), catalog),
    ] {
        let (provider, minimal) = (figures[0], figures[1]);
        let r = ratio(provider, minimal);
        println!(
            "  {what:<26} provider {:>7.1} µs | hand-written client {:>7.1} µs: ratio {r:.2} (target ≤ {LIMIT:.2})",
            micros(provider),
            micros(minimal),
        );
        ok &= r <= LIMIT;
    }
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
