//! Offers across providers against the fakes, printing figures (`cargo bench -p gpucloud --bench offers`):
//!
//! (a) cold (no cache): the wall time of one offers query across every provider's fake, each
//!     request delayed by d (50 ms and 200 ms) — target ≤ 1.5·d, since the providers (and a
//!     per-region provider's regions) are asked at once; with Nebius's projects looked up from
//!     its tenant (one more dependent round trip), given per region, and looked up by an
//!     earlier query whose catalogs have expired since (the saved discovery is reused);
//! (b) warm (a fresh disk cache): target ≤ 10 ms;
//! (c) one provider hanging: wall time against its deadline, the others' offers kept;
//! (d) requests sent per provider in one query, next to the provider's rate limit.
//!
//! Each provider keeps its default client-side rate limits: the figures include any wait they
//! impose. Every figure is the median of several runs, each with fresh credentials (a new
//! `gpucloud offers` process), so that the runs do not share one rate limiter.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gpucloud::fluidstack::{FluidstackConfig, FluidstackCredential};
use gpucloud::lambda::{LambdaConfig, LambdaCredential};
use gpucloud::nebius::{NebiusAuth, NebiusConfig, NebiusCredential};
use gpucloud::offers::{CatalogCache, OfferOptions, OfferQuery, OfferSource, find_offers};
use gpucloud::shadeform::{ShadeformConfig, ShadeformCredential};
use gpucloud_fakes::fluidstack::{FakeFluidstack, FakeFluidstackOptions};
use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions, Fault};
use gpucloud_fakes::nebius::{FakeNebius, FakeNebiusOptions};
use gpucloud_fakes::shadeform::{FakeShadeform, FakeShadeformOptions};

const RUNS: usize = 7;

/// How the Nebius credential finds its projects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum NebiusTenancy {
    /// Only the tenant: its projects are looked up first (one round trip per process).
    Tenant,
    /// The projects given per region (`NEBIUS_PROJECTS`).
    Projects,
}

/// One fake per provider, every request delayed by the same latency.
struct Fakes {
    lambda: FakeLambda,
    fluidstack: FakeFluidstack,
    shadeform: FakeShadeform,
    nebius: FakeNebius,
}

impl Fakes {
    async fn with_latency(latency: Duration) -> Self {
        let fluidstack = FakeFluidstack::start(FakeFluidstackOptions {
            latency,
            ..FakeFluidstackOptions::default()
        })
        .await
        .expect("the Fluidstack fake starts");
        let shadeform = FakeShadeform::start(FakeShadeformOptions {
            latency,
            ..FakeShadeformOptions::default()
        })
        .await
        .expect("the Shadeform fake starts");
        let nebius = FakeNebius::start(FakeNebiusOptions {
            latency,
            ..FakeNebiusOptions::default()
        })
        .await
        .expect("the Nebius fake starts");
        Self {
            lambda: lambda_with_latency(latency).await,
            fluidstack,
            shadeform,
            nebius,
        }
    }

    /// Fresh credentials for every provider, as each `gpucloud offers` is a new process: the
    /// samples must not share one client-side rate limiter.
    fn sources(&self) -> Vec<OfferSource> {
        self.sources_with(NebiusTenancy::Tenant)
    }

    /// As [`Fakes::sources`], with Nebius's projects looked up or given.
    fn sources_with(&self, tenancy: NebiusTenancy) -> Vec<OfferSource> {
        let fluidstack = FluidstackConfig::new(
            self.fluidstack.api_key(),
            self.fluidstack.project_id().to_string(),
        )
        .with_regions(self.fluidstack.regions().iter().cloned())
        .with_base_url(self.fluidstack.url_template())
        .with_ref_id("bench");
        let shadeform = ShadeformConfig::new(self.shadeform.api_key())
            .with_base_url(self.shadeform.base_url())
            .with_ref_id("bench");
        // A static IAM token: a service-account credential would add its token exchange, one
        // round trip per process (and then one per token lifetime).
        let token = self
            .nebius
            .iam_token()
            .expect("the fake's IAM token")
            .to_owned();
        let mut nebius = NebiusConfig::new(NebiusAuth::Token(token.into()))
            .with_tenant(self.nebius.tenant_id())
            .with_api_endpoint(self.nebius.endpoint())
            .with_ref_id("bench");
        if tenancy == NebiusTenancy::Projects {
            for region in self.nebius.regions() {
                let project = self
                    .nebius
                    .project_id(&region)
                    .expect("a project per region");
                nebius = nebius.with_project(region, project);
            }
        }
        vec![
            lambda_source("lambda", &self.lambda),
            OfferSource::new(
                "fluidstack",
                Arc::new(FluidstackCredential::new(fluidstack).expect("a valid config")),
            ),
            OfferSource::new(
                "shadeform",
                Arc::new(ShadeformCredential::new(shadeform).expect("a valid config")),
            ),
            OfferSource::new(
                "nebius",
                Arc::new(NebiusCredential::new(nebius).expect("a valid config")),
            ),
        ]
    }
}

fn lambda_source(name: &str, fake: &FakeLambda) -> OfferSource {
    let config = LambdaConfig::new(fake.api_key())
        .with_base_url(fake.base_url())
        .with_ref_id("bench");
    OfferSource::new(
        name,
        Arc::new(LambdaCredential::new(config).expect("a valid config")),
    )
}

async fn lambda_with_latency(latency: Duration) -> FakeLambda {
    let fake = FakeLambda::start(FakeLambdaOptions::default())
        .await
        .expect("the Lambda fake starts");
    if !latency.is_zero() {
        fake.state().set_fault(Fault::Latency(latency));
    }
    fake
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn timed(sources: &[OfferSource], options: &OfferOptions) -> (Duration, usize, usize) {
    let started = Instant::now();
    let report = find_offers(sources, &OfferQuery::default(), options).await;
    (
        started.elapsed(),
        report.offers.len(),
        report.failures.len(),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("offers across the fakes (median of {RUNS} runs)");
    for d_ms in [50u64, 200] {
        let d = Duration::from_millis(d_ms);
        let fakes = Fakes::with_latency(d).await;
        let sources = fakes.sources();
        // Catalogs always expired, the discoveries an earlier process saved kept: the query
        // of a later `gpucloud offers` once its catalog cache is out of date.
        let discovery_dir = tempfile::tempdir().expect("a temp dir");
        let expired = OfferOptions {
            cache: Some(CatalogCache::new(discovery_dir.path()).with_default_ttl(Duration::ZERO)),
            ..OfferOptions::default()
        };
        timed(&fakes.sources(), &expired).await;
        for (tenancy, options, label) in [
            (
                NebiusTenancy::Tenant,
                OfferOptions::default(),
                "no cache, Nebius projects looked up",
            ),
            (
                NebiusTenancy::Projects,
                OfferOptions::default(),
                "no cache, Nebius projects given",
            ),
            (
                NebiusTenancy::Tenant,
                expired.clone(),
                "catalogs expired, Nebius projects saved by an earlier query",
            ),
        ] {
            let mut samples = Vec::new();
            let mut offers = 0;
            for _ in 0..RUNS {
                let (took, found, failures) = timed(&fakes.sources_with(tenancy), &options).await;
                assert_eq!(failures, 0, "every fake answers");
                offers = found;
                samples.push(took);
            }
            let cold = median(samples);
            println!(
                "(a) cold, d = {d_ms} ms, {} providers, {label}: {:.1} ms = {:.2}·d ({offers} offers; target ≤ 1.5·d)",
                sources.len(),
                cold.as_secs_f64() * 1e3,
                cold.as_secs_f64() / d.as_secs_f64()
            );
        }

        let dir = tempfile::tempdir().expect("a temp dir");
        let cached = OfferOptions {
            cache: Some(CatalogCache::new(dir.path())),
            ..OfferOptions::default()
        };
        timed(&sources, &cached).await;
        let mut samples = Vec::new();
        for _ in 0..RUNS {
            samples.push(timed(&sources, &cached).await.0);
        }
        let warm = median(samples);
        println!(
            "(b) warm, d = {d_ms} ms: {:.2} ms (target ≤ 10 ms)",
            warm.as_secs_f64() * 1e3
        );
    }

    let fast = Fakes::with_latency(Duration::from_millis(50)).await;
    let hanging = lambda_with_latency(Duration::from_secs(60)).await;
    let mut sources = fast.sources();
    sources.push(lambda_source("hanging", &hanging));
    for deadline_ms in [500u64, 2000] {
        let options = OfferOptions {
            deadline: Duration::from_millis(deadline_ms),
            ..OfferOptions::default()
        };
        let (took, offers, failures) = timed(&sources, &options).await;
        println!(
            "(c) one provider hanging, deadline {deadline_ms} ms: {:.1} ms = {:.2}× the deadline ({offers} offers kept, {failures} failure)",
            took.as_secs_f64() * 1e3,
            took.as_secs_f64() * 1e3 / deadline_ms as f64
        );
    }

    let fakes = Fakes::with_latency(Duration::ZERO).await;
    fakes.lambda.state().reset_request_counts();
    timed(&fakes.sources(), &OfferOptions::default()).await;
    println!(
        "(d) requests per query: lambda {} (its limit: about 1 request per second, with a burst \
         of 5, so one query never exceeds it); fluidstack {} over {} regions, shadeform {}, \
         nebius {} calls over {} regions (no published limits)",
        fakes.lambda.state().request_count("GET", "/api/v1/"),
        fakes.fluidstack.state().request_count("GET", "/"),
        fakes.fluidstack.regions().len(),
        fakes.shadeform.state().request_count("GET", "/"),
        fakes.nebius.state().requests().count("POST", "/"),
        fakes.nebius.regions().len()
    );
}
