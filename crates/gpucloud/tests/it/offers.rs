//! Offers across providers: normalization, a failing or hanging provider, the cache.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gpucloud::ErrorKind;
use gpucloud::offers::{
    CatalogCache, GpuRequest, OfferOptions, OfferQuery, OfferSort, find_offers,
};
use gpucloud_fakes::lambda::Fault;

use crate::support::{lambda_fake, lambda_source};

fn h100_query() -> OfferQuery {
    let mut query = OfferQuery::default();
    query.filter.gpu = Some("H100:8".parse::<GpuRequest>().expect("a GPU request"));
    query.sort = OfferSort::PricePerGpuHour;
    query
}

#[tokio::test]
async fn offers_are_normalized_filtered_and_sorted() {
    let fake = lambda_fake().await;
    let sources = [lambda_source("lambda", &fake.base_url())];
    let report = find_offers(&sources, &h100_query(), &OfferOptions::default()).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(!report.offers.is_empty());
    for offer in &report.offers {
        let gpu = offer.gpu.as_ref().expect("GPUs");
        assert_eq!((gpu.model.as_str(), gpu.count), ("H100", 8), "{offer:?}");
        assert_eq!(offer.provider, "lambda");
        assert!(
            offer.price_per_gpu_hour.is_some(),
            "Lambda prices every type"
        );
    }
    let prices: Vec<_> = report
        .offers
        .iter()
        .map(|o| o.price_per_gpu_hour.clone().expect("priced").amount)
        .collect();
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
    // Lambda's catalog is one request for every region.
    assert_eq!(
        fake.state().request_count("GET", "/api/v1/instance-types"),
        1
    );
}

#[tokio::test]
async fn a_provider_that_is_down_leaves_the_others_offers() {
    let fake = lambda_fake().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("an address")
    };
    let sources = [
        lambda_source("lambda", &fake.base_url()),
        lambda_source("down", &format!("http://{closed}")),
    ];
    let report = find_offers(&sources, &h100_query(), &OfferOptions::default()).await;
    assert!(!report.offers.is_empty());
    assert!(report.offers.iter().all(|o| o.provider == "lambda"));
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(report.failures[0].provider, "down");
}

#[tokio::test]
async fn a_hanging_provider_is_cut_at_its_deadline() {
    let fast = lambda_fake().await;
    let hanging = lambda_fake().await;
    hanging
        .state()
        .set_fault(Fault::Latency(Duration::from_secs(30)));
    let sources = [
        lambda_source("lambda", &fast.base_url()),
        lambda_source("hanging", &hanging.base_url()),
    ];
    let options = OfferOptions {
        deadline: Duration::from_millis(300),
        ..OfferOptions::default()
    };
    let started = Instant::now();
    let report = find_offers(&sources, &h100_query(), &options).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(!report.offers.is_empty());
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].provider, "hanging");
    assert_eq!(report.failures[0].error.kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn the_cache_answers_until_refreshed() {
    let fake = lambda_fake().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let sources = [lambda_source("lambda", &fake.base_url())];
    let options = OfferOptions {
        cache: Some(CatalogCache::new(dir.path())),
        ..OfferOptions::default()
    };
    let count = || fake.state().request_count("GET", "/api/v1/instance-types");
    let cache = CatalogCache::new(dir.path());
    assert_eq!(cache.age(&sources[0]).await, None, "nothing cached yet");
    let cold = find_offers(&sources, &h100_query(), &options).await;
    assert_eq!(count(), 1);
    let age = cache
        .age(&sources[0])
        .await
        .expect("the catalog was cached");
    assert!(age < Duration::from_secs(5), "{age:?}");
    // Whatever second it was written in, it was not fetched before the epoch, and it was
    // fetched before a moment ten seconds from now.
    assert_eq!(cache.fetched_before(&sources[0], UNIX_EPOCH).await, None);
    let later = SystemTime::now() + Duration::from_secs(10);
    let before = cache.fetched_before(&sources[0], later).await;
    assert!(
        before.is_some_and(|a| a < Duration::from_secs(5)),
        "{before:?}"
    );
    let warm = find_offers(&sources, &h100_query(), &options).await;
    assert_eq!(count(), 1, "a fresh cache answers without a request");
    assert_eq!(cold.offers, warm.offers);
    // The warm answer is read from the offers kept beside the catalog; when they cannot be
    // read, the catalog answers the same.
    let offers_file = std::fs::read_dir(dir.path())
        .expect("the cache directory")
        .map(|e| e.expect("an entry").path())
        .find(|p| p.to_string_lossy().ends_with(".offers.json"))
        .expect("the offers are kept beside the catalog");
    std::fs::write(&offers_file, b"{\"fetched_at\": 1, \"offers\": [").expect("corrupted");
    let from_catalog = find_offers(&sources, &h100_query(), &options).await;
    assert_eq!(count(), 1, "still no request");
    assert_eq!(from_catalog.offers, cold.offers);
    let refreshed = OfferOptions {
        refresh: true,
        ..options.clone()
    };
    find_offers(&sources, &h100_query(), &refreshed).await;
    assert_eq!(count(), 2, "--refresh asks again");
    let expired = OfferOptions {
        cache: Some(CatalogCache::new(dir.path()).with_ttl("lambda", Duration::ZERO)),
        ..options
    };
    find_offers(&sources, &h100_query(), &expired).await;
    assert_eq!(count(), 3, "a stale cache asks again");
}

/// A Nebius source with a static token and only the tenant configured, so its projects are
/// looked up: a new one per call, as each `gpucloud offers` is a new process.
fn nebius_source(fake: &gpucloud_fakes::nebius::FakeNebius) -> gpucloud::offers::OfferSource {
    use gpucloud::nebius::{NebiusAuth, NebiusConfig, NebiusCredential};
    let token = fake.iam_token().expect("the fake's IAM token").to_owned();
    let config = NebiusConfig::new(NebiusAuth::Token(token.into()))
        .with_tenant(fake.tenant_id())
        .with_api_endpoint(fake.endpoint())
        .with_retry_backoff(Duration::from_millis(5))
        .with_ref_id("cred-nebius");
    gpucloud::offers::OfferSource::new(
        "nebius",
        std::sync::Arc::new(NebiusCredential::new(config).expect("a valid config")),
    )
}

#[tokio::test]
async fn a_later_process_starts_from_the_saved_discovery_refreshing_or_not_until_it_is_wrong() {
    let fake = gpucloud_fakes::nebius::FakeNebius::start(
        gpucloud_fakes::nebius::FakeNebiusOptions::default(),
    )
    .await
    .expect("the Nebius fake starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    // The catalog always expired: only the discovery can save a round trip.
    let cache = CatalogCache::new(dir.path()).with_ttl("nebius", Duration::ZERO);
    let options = OfferOptions {
        cache: Some(cache.clone()),
        ..OfferOptions::default()
    };
    let lookups = || {
        fake.state()
            .requests()
            .count("POST", "/nebius.iam.v2.ProjectService/List")
    };
    let query = OfferQuery::default();
    let first = find_offers(&[nebius_source(&fake)], &query, &options).await;
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    assert_eq!(lookups(), 1);
    let source = nebius_source(&fake);
    let saved = std::fs::read_to_string(cache.discovery_path(&source)).expect("saved");
    assert!(
        !saved.contains(fake.iam_token().unwrap()),
        "no secret saved"
    );

    let second = find_offers(&[source], &query, &options).await;
    assert!(second.failures.is_empty(), "{:?}", second.failures);
    assert_eq!(lookups(), 1, "the saved projects were used");
    assert_eq!(first.offers, second.offers);

    let refreshed = OfferOptions {
        refresh: true,
        ..options.clone()
    };
    let fresh = find_offers(&[nebius_source(&fake)], &query, &refreshed).await;
    assert!(fresh.failures.is_empty(), "{:?}", fresh.failures);
    assert_eq!(
        lookups(),
        1,
        "--refresh asks for prices and availability, not for the projects again"
    );

    // A saved project that no longer serves: that query fails, the discovery is dropped,
    // and the next process looks the projects up again.
    let source = nebius_source(&fake);
    let path = cache.discovery_path(&source);
    let text = std::fs::read_to_string(&path).expect("saved");
    let project = fake.project_id("eu-north1").expect("a project");
    std::fs::write(&path, text.replace(&project, "project-e00gone")).expect("rewritten");
    let wrong = find_offers(&[source], &query, &options).await;
    assert_eq!(wrong.failures.len(), 1, "{:?}", wrong.offers.len());
    assert!(!path.exists(), "a discovery that failed is forgotten");
    let again = find_offers(&[nebius_source(&fake)], &query, &options).await;
    assert!(again.failures.is_empty(), "{:?}", again.failures);
    assert_eq!(lookups(), 2);
}
