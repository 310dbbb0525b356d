//! Quota marks on offers, through a provider stub whose quota capability is scripted: an
//! offer that fits, one over, a quota that cannot be read, a provider without the capability.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use gpucloud::offers::{CatalogCache, Offer, OfferOptions, OfferQuery, OfferSource, find_offers};
use gpucloud::{
    ApiType, CapabilityTable, CloudClient, CloudCredential, CloudError, CreateFeatures, ErrorKind,
    GetInstanceTypeArgs, GetInstanceTypeQuotasArgs, GetLocationsArgs, Gpu, Identity, Instance,
    InstanceId, InstanceType, InstanceTypeQuotas, ListInstancesArgs, Location, Quota, Result,
    ValidCreate,
};

/// The quota reads a stub saw, as (location, type asked about).
type Reads = Arc<Mutex<Vec<(String, String)>>>;

/// A provider with a fixed catalog; with `quotas`, the quota capability answers each group
/// (the type's first letter) from the map, and a group absent from it fails.
#[derive(Debug)]
struct Stub {
    identity: Identity,
    location: String,
    quotas: Option<HashMap<String, Quota>>,
    /// Quota reads, as (location, type asked about).
    asked: Reads,
}

impl Stub {
    fn source(name: &str, quotas: Option<HashMap<String, Quota>>) -> (OfferSource, Reads) {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stub = Self {
            identity: Identity::new(name, ApiType::Locational, "ref", ""),
            location: String::new(),
            quotas,
            asked: Arc::clone(&asked),
        };
        (OfferSource::new(name, Arc::new(stub)), asked)
    }

    fn unsupported(&self) -> CloudError {
        CloudError::provider(
            self.identity.provider_id().as_str(),
            "stub",
            ErrorKind::NotImplemented,
            "not in this stub",
        )
    }
}

fn entry(location: &str, name: &str, vcpu: u32, spot: bool) -> InstanceType {
    let mut t = InstanceType {
        location: location.into(),
        type_name: name.into(),
        supported_gpus: gpucloud::smallvec![Gpu {
            count: 8,
            name: "H100".into(),
            ..Gpu::default()
        }],
        vcpu,
        is_available: true,
        preemptible: spot,
        provider: "stub".into(),
        ..InstanceType::default()
    };
    t.id = t.generic_id();
    t
}

#[async_trait]
impl CloudCredential for Stub {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    async fn make_client(&self, location: &str) -> Result<Arc<dyn CloudClient>> {
        Ok(Arc::new(Self {
            identity: self.identity.clone(),
            location: location.to_owned(),
            quotas: self.quotas.clone(),
            asked: Arc::clone(&self.asked),
        }))
    }
}

#[async_trait]
impl CloudClient for Stub {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn capability_table(&self) -> CapabilityTable<'_> {
        CapabilityTable {
            quota: self
                .quotas
                .as_ref()
                .map(|_| self as &dyn InstanceTypeQuotas),
            ..CapabilityTable::NONE
        }
    }

    fn create_features(&self) -> CreateFeatures {
        CreateFeatures::default()
    }

    async fn locations(&self, _: GetLocationsArgs) -> Result<Vec<Location>> {
        Err(self.unsupported())
    }

    async fn instance_types(&self, _: &GetInstanceTypeArgs) -> Result<Vec<InstanceType>> {
        Ok(vec![
            entry("east", "p5.48xlarge", 192, false),
            entry("east", "p4d.24xlarge", 96, false),
            entry("west", "p5.48xlarge", 192, false),
            entry("east", "p5.48xlarge", 192, true),
            entry("east", "g6.48xlarge", 192, false),
            entry("east", "x1.big", 64, false),
        ])
    }

    async fn create_instance(&self, _: ValidCreate) -> Result<Instance> {
        Err(self.unsupported())
    }

    async fn get_instance(&self, _: &InstanceId) -> Result<Instance> {
        Err(self.unsupported())
    }

    async fn list_instances(&self, _: &ListInstancesArgs) -> Result<Vec<Instance>> {
        Err(self.unsupported())
    }

    async fn terminate_instance(&self, _: &InstanceId) -> Result<()> {
        Err(self.unsupported())
    }
}

#[async_trait]
impl InstanceTypeQuotas for Stub {
    async fn instance_type_quota(&self, args: &GetInstanceTypeQuotasArgs) -> Result<Quota> {
        self.asked
            .lock()
            .expect("not poisoned")
            .push((self.location.clone(), args.instance_type.clone()));
        let group = self.quota_group(&args.instance_type).unwrap_or_default();
        self.quotas
            .as_ref()
            .and_then(|q| q.get(&format!("{}/{group}", self.location)))
            .cloned()
            .ok_or_else(|| {
                CloudError::provider(
                    "stub",
                    "quota",
                    ErrorKind::Timeout,
                    "Service Quotas did not answer",
                )
            })
    }

    fn quota_group(&self, instance_type: &str) -> Option<String> {
        instance_type
            .chars()
            .next()
            .filter(|c| matches!(c, 'p' | 'g'))
            .map(String::from)
    }
}

fn vcpu_quota(maximum: i64, current: i64) -> Quota {
    Quota {
        id: "L-P".into(),
        name: "On-Demand P".into(),
        maximum,
        current,
        unit: "vCPU".into(),
    }
}

#[tokio::test]
async fn offers_are_marked_with_their_quota_read_once_per_group_and_location() {
    // East has room for 100 more vCPUs (p4d fits, p5 does not); west for 192 (p5 fits); the G
    // quota cannot be read; x1 has no quota.
    let quotas = HashMap::from([
        ("east/p".to_owned(), vcpu_quota(200, 100)),
        ("west/p".to_owned(), vcpu_quota(192, 0)),
    ]);
    let (source, asked) = Stub::source("stub", Some(quotas));
    let report = find_offers(&[source], &OfferQuery::default(), &OfferOptions::default()).await;
    assert!(
        report.failures.is_empty(),
        "a failing quota fails nothing: {:?}",
        report.failures
    );
    let mark = |location: &str, name: &str, spot: bool| {
        report
            .offers
            .iter()
            .find(|o| o.location == location && o.instance_type == name && o.spot == spot)
            .unwrap_or_else(|| panic!("{location} {name}"))
            .quota
            .clone()
    };
    let p5 = mark("east", "p5.48xlarge", false).expect("marked");
    assert_eq!(
        (p5.limit, p5.current, p5.needed, p5.fits),
        (200, 100, 192, false)
    );
    let p4d = mark("east", "p4d.24xlarge", false).expect("marked");
    assert_eq!((p4d.needed, p4d.fits), (96, true));
    assert!(
        mark("west", "p5.48xlarge", false).expect("marked").fits,
        "192 of 192 fits"
    );
    assert_eq!(
        mark("east", "g6.48xlarge", false),
        None,
        "an unread quota is no mark, never fits"
    );
    assert_eq!(
        mark("east", "x1.big", false),
        None,
        "a type without a quota group is not asked"
    );
    assert_eq!(
        mark("east", "p5.48xlarge", true),
        None,
        "spot offers are not on-demand quota"
    );
    let over: Vec<_> = report.offers.iter().filter(|o| o.over_quota()).collect();
    assert_eq!(over.len(), 1, "{over:?}");
    let mut asked = asked.lock().expect("not poisoned").clone();
    asked.sort();
    assert_eq!(
        asked,
        [
            ("east".to_owned(), "g6.48xlarge".to_owned()),
            ("east".to_owned(), "p4d.24xlarge".to_owned()),
            ("west".to_owned(), "p5.48xlarge".to_owned()),
        ],
        "one read per group and location, never one per offer"
    );
}

#[tokio::test]
async fn a_provider_without_quotas_is_untouched() {
    let (source, asked) = Stub::source("plain", None);
    let report = find_offers(&[source], &OfferQuery::default(), &OfferOptions::default()).await;
    assert!(!report.offers.is_empty());
    assert!(report.offers.iter().all(|o| o.quota.is_none()));
    assert!(asked.lock().expect("not poisoned").is_empty());
}

#[tokio::test]
async fn cached_offers_carry_no_quota_and_read_none() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let options = OfferOptions {
        cache: Some(CatalogCache::new(dir.path())),
        deadline: Duration::from_secs(5),
        ..OfferOptions::default()
    };
    let quotas = HashMap::from([("east/p".to_owned(), vcpu_quota(0, 0))]);
    let (source, asked) = Stub::source("stub", Some(quotas));
    let cold = find_offers(
        std::slice::from_ref(&source),
        &OfferQuery::default(),
        &options,
    )
    .await;
    assert!(
        cold.offers.iter().any(Offer::over_quota),
        "the cold answer is marked"
    );
    let reads = asked.lock().expect("not poisoned").len();
    let warm = find_offers(&[source], &OfferQuery::default(), &options).await;
    assert_eq!(warm.offers.len(), cold.offers.len());
    assert!(
        warm.offers.iter().all(|o| o.quota.is_none()),
        "quotas are never cached"
    );
    assert_eq!(
        asked.lock().expect("not poisoned").len(),
        reads,
        "the warm answer reads no quota"
    );
}
