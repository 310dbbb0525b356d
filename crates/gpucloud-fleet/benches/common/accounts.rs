//! The accounts the fleet benchmarks watch, shared by this crate's `status_pass` and
//! gpucloud-server's `api_latency`: one fake per credential on loopback, dealt round-robin to
//! Lambda, Fluidstack, Shadeform and Nebius, filled with instances carrying the credential's
//! mark, each fleet credential held to its provider's documented request limit; the requests
//! each credential made, against that limit; and the process's peak memory.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

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
use gpucloud_fleet::FleetCredential;

const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g bench";
/// The HTTP methods whose requests are counted.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The providers, in the order credentials are dealt to them.
pub const PROVIDERS: [&str; 4] = ["lambda", "fluidstack", "shadeform", "nebius"];

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

/// A positive number from the environment variable `name`, or `default`.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// The peak resident memory of this process, from `/proc/self/status` (Linux).
pub fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .map(|l| l["VmHWM:".len()..].trim().to_owned())
}

/// One credential's fake, running for the whole benchmark.
pub struct Account {
    /// The provider's name.
    pub provider: &'static str,
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

impl Account {
    /// Starts counting the fake's requests from zero.
    pub fn reset_requests(&self) {
        (self.reset)();
    }
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

/// Starts `credentials` fakes, dealt round-robin to [`PROVIDERS`], with `per_credential`
/// instances each; returns them with the fleet's credentials for them (named
/// `PROVIDER-N`), each held to its provider's documented limit.
pub async fn accounts(
    credentials: usize,
    per_credential: usize,
) -> (Vec<Account>, Vec<FleetCredential>) {
    let capacity = u32::try_from(per_credential).unwrap_or(u32::MAX);
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
    (accounts, fleet_credentials)
}

/// Prints, per provider, the requests each credential's fake received since the last reset,
/// over `seconds`, against the provider's documented limit (the goal: never above).
pub fn print_request_rates(accounts: &[Account], seconds: f64) {
    let seconds = seconds.max(f64::EPSILON);
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
}
