//! Offers across every configured cloud: one query fanned out to every provider (and every
//! location of a locational one) concurrently, each provider bounded by its own deadline,
//! normalized into [`Offer`]s, filtered and sorted.
//!
//! A provider that fails or runs out of time yields a [`ProviderFailure`] beside the others'
//! offers; it never empties the answer.
//!
//! ```no_run
//! # async fn example(sources: Vec<gpucloud::offers::OfferSource>) {
//! use gpucloud::offers::{find_offers, GpuRequest, OfferOptions, OfferQuery, OfferSort};
//!
//! let mut query = OfferQuery::default();
//! query.filter.gpu = Some("H100:8".parse::<GpuRequest>().expect("a GPU request"));
//! query.filter.available_only = true;
//! query.sort = OfferSort::PricePerGpuHour;
//! let report = find_offers(&sources, &query, &OfferOptions::default()).await;
//! for offer in &report.offers {
//!     println!("{} {} {} {:?}", offer.provider, offer.location, offer.instance_type, offer.price_per_hour);
//! }
//! for failure in &report.failures {
//!     eprintln!("{}: {}", failure.provider, failure.error);
//! }
//! # }
//! ```

mod cache;
mod quota;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use gpucloud_core::{
    Architecture, Bytes, CloudCredential, CloudError, ErrorKind, GetInstanceTypeArgs, InstanceType,
    InstanceTypeId, LocationsFilter, Price, Result, normalize_gpu_name,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use cache::{CatalogCache, DEFAULT_CATALOG_TTL, DEFAULT_DISCOVERY_TTL};
pub use quota::OfferQuota;

/// A provider to ask: the name it is known by (`lambda`, `fluidstack`, ...) and its credential.
#[derive(Debug, Clone)]
pub struct OfferSource {
    /// The provider's short name, shown on every offer and failure.
    pub name: String,
    /// The credential to query with.
    pub credential: Arc<dyn CloudCredential>,
}

impl OfferSource {
    /// A source named `name`.
    pub fn new(name: impl Into<String>, credential: Arc<dyn CloudCredential>) -> Self {
        Self {
            name: name.into(),
            credential,
        }
    }
}

/// The GPUs of an offer, normalized across providers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferGpu {
    /// Base model, upper case: `H100`, `A100`, `L40S`.
    pub model: String,
    /// GPUs per instance.
    pub count: u32,
    /// Memory per GPU (zero when the provider does not say).
    pub vram: Bytes,
    /// Form factor or interconnect (`SXM5`, `PCIe`, ...), empty when unknown.
    pub interconnect: String,
}

/// One launchable configuration: an instance type in one location of one provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    /// The provider's short name (the broker for a marketplace).
    pub provider: String,
    /// The upstream cloud that runs the hardware when the provider is a broker or marketplace;
    /// empty for a cloud that runs its own.
    pub cloud: String,
    /// Region.
    pub location: String,
    /// Zone, empty when the provider has none.
    pub sub_location: String,
    /// The provider's type name, what a create takes.
    pub instance_type: String,
    /// The catalog entry's stable id.
    pub instance_type_id: InstanceTypeId,
    /// The GPUs, `None` for a CPU-only type.
    pub gpu: Option<OfferGpu>,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// RAM.
    pub memory: Bytes,
    /// CPU architectures.
    pub architectures: Vec<Architecture>,
    /// Price of the whole instance per hour; `None` when the provider does not publish one.
    pub price_per_hour: Option<Price>,
    /// Price per GPU-hour; `None` when unpriced or CPU-only.
    pub price_per_gpu_hour: Option<Price>,
    /// A spot (preemptible) offer.
    pub spot: bool,
    /// Launchable now, as far as the provider said when asked.
    pub available: bool,
    /// The account's quota this offer counts against, read when the offers were fetched;
    /// `None` when the provider has no quota capability, the quota could not be read, the
    /// offer is spot, or the offer came from the catalog cache (quotas change with every
    /// launch, so they are never cached).
    #[serde(default)]
    pub quota: Option<OfferQuota>,
}

impl Offer {
    /// The offer a catalog entry makes, as provider `provider`.
    pub fn from_instance_type(provider: &str, entry: &InstanceType) -> Self {
        let gpu = entry
            .supported_gpus
            .iter()
            .filter(|g| g.count > 0)
            .max_by_key(|g| g.count)
            .map(|g| OfferGpu {
                model: normalize_gpu_name(&g.name).into(),
                count: entry.gpu_count(),
                vram: g.memory_bytes,
                interconnect: g.network_details.as_str().to_owned(),
            });
        let cloud = if entry.cloud == entry.provider {
            String::new()
        } else {
            entry.cloud.as_str().to_owned()
        };
        Self {
            provider: provider.to_owned(),
            cloud,
            location: entry.location.as_str().to_owned(),
            sub_location: entry.sub_location.as_str().to_owned(),
            instance_type: entry.type_name.as_str().to_owned(),
            instance_type_id: entry.id.clone(),
            gpu,
            vcpus: entry.vcpu,
            memory: entry.memory_bytes,
            architectures: entry.supported_architectures.to_vec(),
            price_per_hour: entry.base_price.clone(),
            price_per_gpu_hour: entry.price_per_gpu(),
            spot: entry.preemptible,
            available: entry.is_available,
            quota: None,
        }
    }

    /// GPUs per instance (0 for a CPU-only type).
    pub fn gpu_count(&self) -> u32 {
        self.gpu.as_ref().map_or(0, |g| g.count)
    }

    /// True when the offer's quota was read and this offer does not fit in what is left of it
    /// (an offer whose quota is unknown is never known to be over).
    pub fn over_quota(&self) -> bool {
        self.quota.as_ref().is_some_and(|q| !q.fits)
    }
}

/// A GPU model with an optional count, as people write it: `H100`, `h100`, `H100:8`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GpuRequest {
    /// The normalized base model (`H100`).
    pub model: String,
    /// The exact number of GPUs per instance, when given.
    pub count: Option<u32>,
}

impl FromStr for GpuRequest {
    type Err = CloudError;

    fn from_str(s: &str) -> Result<Self> {
        let (model, count) = match s.split_once(':') {
            Some((model, count)) => {
                let count = count.trim().parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    CloudError::invalid(
                        "gpu",
                        format!("{s:?}: the count after `:` must be a whole number above 0, as in H100:8"),
                    )
                })?;
                (model, Some(count))
            }
            None => (s, None),
        };
        let model = normalize_gpu_name(model);
        if model.is_empty() {
            return Err(CloudError::invalid(
                "gpu",
                format!("{s:?}: name a GPU model, as in H100 or H100:8"),
            ));
        }
        Ok(Self {
            model: model.into(),
            count,
        })
    }
}

impl fmt::Display for GpuRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.count {
            Some(count) => write!(f, "{}:{count}", self.model),
            None => f.write_str(&self.model),
        }
    }
}

/// Which offers to keep. Every field left at its default keeps everything.
///
/// Price limits compare US-dollar prices only: an offer priced in another currency, or not
/// priced at all, does not pass a price limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OfferFilter {
    /// GPU model and, optionally, the exact count.
    pub gpu: Option<GpuRequest>,
    /// At least this many GPUs.
    pub min_gpu_count: Option<u32>,
    /// At least this much memory per GPU.
    pub min_vram: Option<Bytes>,
    /// At most this many dollars per hour for the instance.
    pub max_price_per_hour: Option<Decimal>,
    /// At most this many dollars per GPU-hour.
    pub max_price_per_gpu_hour: Option<Decimal>,
    /// Only these providers (short names or ids, case-insensitive); empty: all.
    pub providers: Vec<String>,
    /// Only these locations; empty: all.
    pub locations: Vec<String>,
    /// Only offers that run this architecture.
    pub architecture: Option<Architecture>,
    /// `Some(true)`: spot offers only; `Some(false)`: on-demand only.
    pub spot: Option<bool>,
    /// Only offers the provider says are launchable now.
    pub available_only: bool,
}

impl OfferFilter {
    /// True when `offer` passes every condition.
    pub fn matches(&self, offer: &Offer) -> bool {
        let gpu_ok = self.gpu.as_ref().is_none_or(|want| {
            offer.gpu.as_ref().is_some_and(|g| {
                g.model.eq_ignore_ascii_case(&want.model) && want.count.is_none_or(|n| g.count == n)
            })
        });
        gpu_ok
            && self.min_gpu_count.is_none_or(|n| offer.gpu_count() >= n)
            && self
                .min_vram
                .is_none_or(|min| offer.gpu.as_ref().is_some_and(|g| g.vram >= min))
            && self
                .max_price_per_hour
                .is_none_or(|max| usd(offer.price_per_hour.as_ref()).is_some_and(|p| p <= max))
            && self
                .max_price_per_gpu_hour
                .is_none_or(|max| usd(offer.price_per_gpu_hour.as_ref()).is_some_and(|p| p <= max))
            && (self.providers.is_empty()
                || self
                    .providers
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(&offer.provider)))
            && (self.locations.is_empty() || self.locations.contains(&offer.location))
            && self
                .architecture
                .is_none_or(|arch| offer.architectures.contains(&arch))
            && self.spot.is_none_or(|spot| offer.spot == spot)
            && (!self.available_only || offer.available)
    }

    /// True when a source named `name` may contribute offers.
    pub fn allows_provider(&self, name: &str) -> bool {
        self.providers.is_empty() || self.providers.iter().any(|p| p.eq_ignore_ascii_case(name))
    }
}

/// How offers are ordered. Unpriced offers always come last, never as free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OfferSort {
    /// Cheapest instance first.
    #[default]
    Price,
    /// Cheapest GPU-hour first.
    PricePerGpuHour,
    /// Most GPUs first, then cheapest.
    GpuCount,
}

impl OfferSort {
    /// Orders two offers.
    pub fn compare(self, a: &Offer, b: &Offer) -> Ordering {
        let by_price = |x: Option<&Price>, y: Option<&Price>| price_order(x, y);
        match self {
            Self::Price => by_price(a.price_per_hour.as_ref(), b.price_per_hour.as_ref()),
            Self::PricePerGpuHour => {
                by_price(a.price_per_gpu_hour.as_ref(), b.price_per_gpu_hour.as_ref())
            }
            Self::GpuCount => b
                .gpu_count()
                .cmp(&a.gpu_count())
                .then_with(|| by_price(a.price_per_hour.as_ref(), b.price_per_hour.as_ref())),
        }
        .then_with(|| b.available.cmp(&a.available))
        .then_with(|| a.provider.cmp(&b.provider))
        .then_with(|| a.instance_type.cmp(&b.instance_type))
        .then_with(|| a.location.cmp(&b.location))
        .then_with(|| a.sub_location.cmp(&b.sub_location))
    }
}

/// Priced before unpriced; dollars before other currencies; then by amount.
fn price_order(a: Option<&Price>, b: Option<&Price>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => (x.currency != "USD")
            .cmp(&(y.currency != "USD"))
            .then_with(|| x.currency.cmp(&y.currency))
            .then_with(|| x.amount.cmp(&y.amount)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn usd(price: Option<&Price>) -> Option<Decimal> {
    price.filter(|p| p.currency == "USD").map(|p| p.amount)
}

/// What to look for and in which order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OfferQuery {
    /// Which offers to keep.
    pub filter: OfferFilter,
    /// Their order.
    pub sort: OfferSort,
}

/// How to ask.
#[derive(Debug, Clone)]
pub struct OfferOptions {
    /// How long one provider may take, all its requests together; past it the provider is a
    /// [`ProviderFailure`] with kind `Timeout` and the others' offers are kept.
    pub deadline: Duration,
    /// Providers asked at once.
    pub providers_in_flight: usize,
    /// A catalog cache on disk; `None` asks every provider every time.
    pub cache: Option<CatalogCache>,
    /// Ask the providers even when the cache is fresh (and refresh it).
    pub refresh: bool,
}

impl Default for OfferOptions {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(20),
            providers_in_flight: 8,
            cache: None,
            refresh: false,
        }
    }
}

/// A provider that gave no offers because it failed.
#[derive(Debug)]
pub struct ProviderFailure {
    /// The provider's short name.
    pub provider: String,
    /// Why.
    pub error: CloudError,
}

/// The answer to an offers query.
#[derive(Debug, Default)]
pub struct OfferReport {
    /// The offers that passed the filter, in the query's order.
    pub offers: Vec<Offer>,
    /// The providers that failed or ran out of time.
    pub failures: Vec<ProviderFailure>,
}

/// One provider's catalog as it answered.
#[derive(Debug)]
pub struct Catalog {
    /// The provider's short name.
    pub provider: String,
    /// Its catalog entries (every location asked).
    pub instance_types: Vec<InstanceType>,
}

/// The catalogs of several providers.
#[derive(Debug, Default)]
pub struct CatalogReport {
    /// The providers that answered, in the order of the sources.
    pub catalogs: Vec<Catalog>,
    /// The providers that failed or ran out of time, by name.
    pub failures: Vec<ProviderFailure>,
}

/// The catalog of every source, asked concurrently: each provider once, for `locations` (or
/// all), within [`OfferOptions::deadline`]; from the cache when one is set and fresh.
pub async fn catalogs(
    sources: &[&OfferSource],
    locations: &[String],
    options: &OfferOptions,
) -> CatalogReport {
    // The futures are made before the stream, not by a closure of the stream: a closure taking
    // references, held across an await, fails the higher-ranked `Send` check and would make
    // every caller's future (a launch's included) impossible to spawn.
    let asks: Vec<_> = sources
        .iter()
        .copied()
        .enumerate()
        .map(|(index, source)| catalog_within_deadline(index, source, locations, options))
        .collect();
    let mut answers: Vec<(usize, &OfferSource, Result<Vec<InstanceType>>)> = stream::iter(asks)
        .buffer_unordered(options.providers_in_flight.max(1))
        .collect()
        .await;
    answers.sort_by_key(|(index, ..)| *index);
    let mut report = CatalogReport::default();
    for (_, source, answer) in answers {
        match answer {
            Ok(instance_types) => report.catalogs.push(Catalog {
                provider: source.name.clone(),
                instance_types,
            }),
            Err(error) => {
                // The failure is the caller's to report (it is in the answer): a warning here
                // would say the same thing twice.
                tracing::debug!(provider = %source.name, error = %error, "no catalog from this provider");
                report.failures.push(ProviderFailure {
                    provider: source.name.clone(),
                    error,
                });
            }
        }
    }
    report.failures.sort_by(|a, b| a.provider.cmp(&b.provider));
    report
}

/// Asks every source allowed by the query's provider filter, concurrently, and returns the
/// matching offers in order with one failure entry per provider that did not answer in time.
pub async fn find_offers(
    sources: &[OfferSource],
    query: &OfferQuery,
    options: &OfferOptions,
) -> OfferReport {
    let started = tokio::time::Instant::now();
    let mut offers: Vec<Offer> = Vec::new();
    let mut asked: Vec<&OfferSource> = Vec::new();
    for source in sources
        .iter()
        .filter(|s| query.filter.allows_provider(&s.name))
    {
        // A fresh cache answers with the offers themselves, a fraction of the catalog to read.
        let cached = match &options.cache {
            Some(cache) if !options.refresh => cache.load_offers(source).await,
            _ => None,
        };
        match cached {
            Some(cached) => offers.extend(cached.into_iter().filter(|o| query.filter.matches(o))),
            None => asked.push(source),
        }
    }
    let answer = catalogs(&asked, &query.filter.locations, options).await;
    let mut fetched: Vec<Offer> = answer
        .catalogs
        .iter()
        .flat_map(|catalog| {
            catalog
                .instance_types
                .iter()
                .map(|entry| Offer::from_instance_type(&catalog.provider, entry))
        })
        .filter(|offer| query.filter.matches(offer))
        .collect();
    // A provider's deadline covers all its requests, its quota reads included.
    let left = options.deadline.saturating_sub(started.elapsed());
    quota::mark(&asked, &mut fetched, left).await;
    offers.extend(fetched);
    offers.sort_by(|a, b| query.sort.compare(a, b));
    OfferReport {
        offers,
        failures: answer.failures,
    }
}

/// One provider's catalog within [`OfferOptions::deadline`], tagged with its place in the
/// sources; a provider that does not answer in time is a timeout failure.
async fn catalog_within_deadline<'a>(
    index: usize,
    source: &'a OfferSource,
    locations: &[String],
    options: &OfferOptions,
) -> (usize, &'a OfferSource, Result<Vec<InstanceType>>) {
    let answer = tokio::time::timeout(
        options.deadline,
        provider_catalog(source, locations, options),
    )
    .await
    .unwrap_or_else(|_| {
        Err(CloudError::provider(
            source.credential.identity().provider_id().as_str(),
            "list instance types",
            ErrorKind::Timeout,
            format!("no answer within {:?}", options.deadline),
        ))
    });
    (index, source, answer)
}

/// One provider's catalog, from the cache when it is fresh. A cached catalog is complete (every
/// location), so one file answers every query; without a cache only the asked-for locations are
/// queried. When the catalog is fetched, the credential starts from its saved discovery (also
/// when refreshing: a refresh asks again for prices and availability, not for the account's
/// layout, so it costs one round trip too) and what it discovered is saved for the next process.
async fn provider_catalog(
    source: &OfferSource,
    locations: &[String],
    options: &OfferOptions,
) -> Result<Vec<InstanceType>> {
    let Some(cache) = &options.cache else {
        return fetch_catalog(source, locations).await;
    };
    if !options.refresh
        && let Some(cached) = cache.load(source).await
    {
        return Ok(cached);
    }
    let saved = cache.load_discovery(source).await;
    if let Some(saved) = &saved {
        source.credential.reuse_discovery(saved);
    }
    let catalog = match fetch_catalog(source, &[]).await {
        Ok(catalog) => catalog,
        Err(error) => {
            // The saved discovery may be what failed (a project deleted since): the next
            // process looks it up afresh.
            if saved.is_some() {
                cache.forget_discovery(source).await;
            }
            return Err(error);
        }
    };
    cache.store(source, &catalog).await;
    if let Some(found) = source.credential.discovery()
        && saved.as_ref() != Some(&found)
    {
        cache.store_discovery(source, found).await;
    }
    Ok(catalog)
}

/// Asks the provider once, through a client bound to no location: such a client answers for
/// every location (a locational provider asks its locations concurrently itself, as the
/// provider guide requires), so no round trip is spent listing locations first.
async fn fetch_catalog(source: &OfferSource, locations: &[String]) -> Result<Vec<InstanceType>> {
    let args = GetInstanceTypeArgs {
        locations: if locations.is_empty() {
            LocationsFilter::default()
        } else {
            LocationsFilter::only(locations.iter().cloned())
        },
        ..GetInstanceTypeArgs::default()
    };
    let client = source.credential.make_client("").await?;
    client.instance_types(&args).await
}

#[cfg(test)]
mod tests {
    use gpucloud_core::{Gpu, Manufacturer};

    use super::*;

    fn entry(
        provider: &str,
        location: &str,
        name: &str,
        gpus: u32,
        usd: Option<&str>,
    ) -> InstanceType {
        let mut t = InstanceType {
            location: location.into(),
            type_name: name.into(),
            supported_gpus: gpucloud_core::smallvec![Gpu {
                count: gpus,
                memory_bytes: Bytes::new(80, gpucloud_core::BytesUnit::GB),
                network_details: "SXM5".into(),
                manufacturer: Manufacturer::Nvidia,
                name: "H100".into(),
                ..Gpu::default()
            }],
            vcpu: 26 * gpus,
            supported_architectures: [Architecture::X86_64].into(),
            is_available: true,
            base_price: usd.map(|p| Price::parse(p, "USD").expect("a price")),
            provider: provider.into(),
            ..InstanceType::default()
        };
        t.id = t.generic_id();
        t
    }

    #[test]
    fn gpu_requests_parse_model_and_count() {
        let g: GpuRequest = "h100:8".parse().expect("parses");
        assert_eq!(
            g,
            GpuRequest {
                model: "H100".into(),
                count: Some(8)
            }
        );
        assert_eq!(g.to_string(), "H100:8");
        let g: GpuRequest = "NVIDIA A100 80GB".parse().expect("parses");
        assert_eq!(
            g,
            GpuRequest {
                model: "A100".into(),
                count: None
            }
        );
        for bad in ["", ":8", "H100:", "H100:0", "H100:eight", "H100:-1"] {
            let e = bad.parse::<GpuRequest>().expect_err(bad);
            assert!(e.to_string().contains("gpu"), "{bad}: {e}");
        }
    }

    #[test]
    fn offers_normalize_catalog_entries() {
        let offer = Offer::from_instance_type(
            "lambda",
            &entry(
                "lambda-labs",
                "us-east-1",
                "gpu_8x_h100_sxm5",
                8,
                Some("23.92"),
            ),
        );
        assert_eq!(offer.provider, "lambda");
        assert_eq!(offer.cloud, "", "a direct cloud has no upstream");
        let brokered = Offer::from_instance_type(
            "shadeform",
            &InstanceType {
                provider: "shadeform".into(),
                cloud: "hyperstack".into(),
                ..InstanceType::default()
            },
        );
        assert_eq!(brokered.cloud, "hyperstack");
        let gpu = offer.gpu.as_ref().expect("gpus");
        assert_eq!(
            (gpu.model.as_str(), gpu.count, gpu.interconnect.as_str()),
            ("H100", 8, "SXM5")
        );
        assert_eq!(
            offer.price_per_gpu_hour.expect("priced").amount.to_string(),
            "2.99"
        );
        let cpu = Offer::from_instance_type(
            "local",
            &InstanceType {
                vcpu: 2,
                ..InstanceType::default()
            },
        );
        assert_eq!((cpu.gpu, cpu.price_per_gpu_hour), (None, None));
    }

    #[test]
    fn filters_apply_every_condition() {
        let offer = Offer::from_instance_type(
            "lambda",
            &entry(
                "lambda-labs",
                "us-east-1",
                "gpu_8x_h100_sxm5",
                8,
                Some("23.92"),
            ),
        );
        let pass = |f: OfferFilter| f.matches(&offer);
        assert!(pass(OfferFilter::default()));
        assert!(pass(OfferFilter {
            gpu: Some("h100".parse().unwrap()),
            ..OfferFilter::default()
        }));
        assert!(pass(OfferFilter {
            gpu: Some("H100:8".parse().unwrap()),
            ..OfferFilter::default()
        }));
        assert!(!pass(OfferFilter {
            gpu: Some("H100:4".parse().unwrap()),
            ..OfferFilter::default()
        }));
        assert!(!pass(OfferFilter {
            gpu: Some("A100".parse().unwrap()),
            ..OfferFilter::default()
        }));
        assert!(pass(OfferFilter {
            min_gpu_count: Some(8),
            ..OfferFilter::default()
        }));
        assert!(!pass(OfferFilter {
            min_gpu_count: Some(9),
            ..OfferFilter::default()
        }));
        assert!(pass(OfferFilter {
            min_vram: Some("80GB".parse().unwrap()),
            ..OfferFilter::default()
        }));
        assert!(!pass(OfferFilter {
            min_vram: Some("81GB".parse().unwrap()),
            ..OfferFilter::default()
        }));
        assert!(pass(OfferFilter {
            max_price_per_hour: Some(Decimal::new(2392, 2)),
            ..OfferFilter::default()
        }));
        assert!(!pass(OfferFilter {
            max_price_per_hour: Some(Decimal::new(2391, 2)),
            ..OfferFilter::default()
        }));
        assert!(pass(OfferFilter {
            max_price_per_gpu_hour: Some(Decimal::new(3, 0)),
            ..OfferFilter::default()
        }));
        assert!(!pass(OfferFilter {
            max_price_per_gpu_hour: Some(Decimal::new(2, 0)),
            ..OfferFilter::default()
        }));
        assert!(pass(OfferFilter {
            providers: vec!["LAMBDA".into()],
            ..OfferFilter::default()
        }));
        assert!(!pass(OfferFilter {
            providers: vec!["fluidstack".into()],
            ..OfferFilter::default()
        }));
        assert!(pass(OfferFilter {
            locations: vec!["us-east-1".into()],
            ..OfferFilter::default()
        }));
        assert!(!pass(OfferFilter {
            locations: vec!["us-west-1".into()],
            ..OfferFilter::default()
        }));
        assert!(pass(OfferFilter {
            architecture: Some(Architecture::X86_64),
            ..OfferFilter::default()
        }));
        assert!(!pass(OfferFilter {
            architecture: Some(Architecture::Arm64),
            ..OfferFilter::default()
        }));
        assert!(pass(OfferFilter {
            spot: Some(false),
            ..OfferFilter::default()
        }));
        assert!(!pass(OfferFilter {
            spot: Some(true),
            ..OfferFilter::default()
        }));
        let unpriced =
            Offer::from_instance_type("fluidstack", &entry("fluidstack", "eu", "h100", 8, None));
        assert!(
            !OfferFilter {
                max_price_per_hour: Some(Decimal::new(1000, 0)),
                ..OfferFilter::default()
            }
            .matches(&unpriced)
        );
        let busy = Offer {
            available: false,
            ..offer.clone()
        };
        assert!(
            !OfferFilter {
                available_only: true,
                ..OfferFilter::default()
            }
            .matches(&busy)
        );
    }

    #[test]
    fn unpriced_offers_sort_last_and_counts_sort_first() {
        let cheap = Offer::from_instance_type("a", &entry("a", "l", "one", 1, Some("2.49")));
        let dear = Offer::from_instance_type("a", &entry("a", "l", "eight", 8, Some("23.92")));
        let unknown = Offer::from_instance_type("b", &entry("b", "l", "eight-unpriced", 8, None));
        let mut offers = vec![unknown.clone(), dear.clone(), cheap.clone()];
        offers.sort_by(|a, b| OfferSort::Price.compare(a, b));
        assert_eq!(offers, vec![cheap.clone(), dear.clone(), unknown.clone()]);
        offers.sort_by(|a, b| OfferSort::PricePerGpuHour.compare(a, b));
        assert_eq!(offers, vec![cheap.clone(), dear.clone(), unknown.clone()]);
        offers.sort_by(|a, b| OfferSort::GpuCount.compare(a, b));
        assert_eq!(offers, vec![dear, unknown, cheap]);
    }
}
