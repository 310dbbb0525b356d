//! Quota marks on offers, through a provider stub whose quota capability is scripted: an
//! offer that fits, one over, a quota that cannot be read or does not answer in time, a
//! provider without the capability; and a launch, which skips offers over quota and says why.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use gpucloud::launch::{LaunchError, LaunchEvent, LaunchRequest, launch, plan};
use gpucloud::offers::{CatalogCache, Offer, OfferOptions, OfferQuery, OfferSource, find_offers};
use gpucloud::{
    ApiType, CapabilityTable, CloudClient, CloudCredential, CloudError, CreateFeatures,
    CreateInstanceAttrs, Delivery, ErrorKind, GetInstanceTypeArgs, GetInstanceTypeQuotasArgs,
    GetLocationsArgs, Gpu, Identity, Instance, InstanceId, InstanceType, InstanceTypeQuotas,
    LifecycleStatus, ListInstancesArgs, Location, Price, Quota, Result, ValidCreate,
};
use tokio::sync::Barrier;
use tokio_util::sync::CancellationToken;

use crate::support::PUBLIC_KEY;

/// The quota reads a stub saw, as (location, type asked about); or its creates, as
/// (location, type).
type Reads = Arc<Mutex<Vec<(String, String)>>>;

/// How a stub's quota reads answer.
#[derive(Debug, Clone)]
enum Answer {
    /// At once.
    Now,
    /// Once this many reads are waiting together (reads made one after another never get
    /// there, and time out).
    Together(Arc<Barrier>),
    /// Never.
    Never,
}

/// A provider with a fixed catalog; with `quotas`, the quota capability answers each group
/// (the type's first letter) from the map, and a group absent from it fails.
#[derive(Debug)]
struct Stub {
    identity: Identity,
    location: String,
    quotas: Option<HashMap<String, Quota>>,
    /// How quota reads answer.
    answer: Answer,
    /// Quota reads, as (location, type asked about).
    asked: Reads,
    /// Creates, as (location, type).
    created: Reads,
}

impl Stub {
    fn source(name: &str, quotas: Option<HashMap<String, Quota>>) -> (OfferSource, Reads) {
        let (source, asked, _) = Self::answering(name, quotas, Answer::Now);
        (source, asked)
    }

    /// A stub whose quota reads answer as `answer` says, with its reads and its creates.
    fn answering(
        name: &str,
        quotas: Option<HashMap<String, Quota>>,
        answer: Answer,
    ) -> (OfferSource, Reads, Reads) {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let created = Arc::new(Mutex::new(Vec::new()));
        let stub = Self {
            identity: Identity::new(name, ApiType::Locational, "ref", ""),
            location: String::new(),
            quotas,
            answer,
            asked: Arc::clone(&asked),
            created: Arc::clone(&created),
        };
        (OfferSource::new(name, Arc::new(stub)), asked, created)
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

fn entry(location: &str, name: &str, vcpu: u32, spot: bool, usd: &str) -> InstanceType {
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
        base_price: Some(Price::parse(usd, "USD").expect("a price")),
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
            answer: self.answer.clone(),
            asked: Arc::clone(&self.asked),
            created: Arc::clone(&self.created),
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
            entry("east", "p5.48xlarge", 192, false, "30"),
            entry("east", "p4d.24xlarge", 96, false, "40"),
            entry("west", "p5.48xlarge", 192, false, "35"),
            entry("east", "p5.48xlarge", 192, true, "10"),
            entry("east", "g6.48xlarge", 192, false, "50"),
            entry("east", "x1.big", 64, false, "60"),
        ])
    }

    async fn create_instance(&self, create: ValidCreate) -> Result<Instance> {
        let attrs = create.attrs();
        self.created
            .lock()
            .expect("not poisoned")
            .push((attrs.location.clone(), attrs.instance_type.clone()));
        Ok(Instance {
            cloud_id: InstanceId::new(format!("i-{}", attrs.instance_type)),
            ref_id: attrs.ref_id.clone(),
            location: attrs.location.clone(),
            instance_type: attrs.instance_type.clone(),
            status: gpucloud::Status::new(LifecycleStatus::Pending),
            ..Instance::default()
        })
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
        match &self.answer {
            Answer::Now => {}
            Answer::Together(barrier) => {
                barrier.wait().await;
            }
            Answer::Never => std::future::pending::<()>().await,
        }
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

#[tokio::test]
async fn a_providers_quota_reads_run_together() {
    // Three groups and locations to read (east P, east G, west P): each read answers only once
    // all three wait at once, so reads made one after another run out of time unmarked.
    let quotas = HashMap::from([
        ("east/p".to_owned(), vcpu_quota(1000, 0)),
        ("east/g".to_owned(), vcpu_quota(1000, 0)),
        ("west/p".to_owned(), vcpu_quota(1000, 0)),
    ]);
    let (source, asked, _) = Stub::answering(
        "stub",
        Some(quotas),
        Answer::Together(Arc::new(Barrier::new(3))),
    );
    let options = OfferOptions {
        deadline: Duration::from_secs(10),
        ..OfferOptions::default()
    };
    let report = find_offers(&[source], &OfferQuery::default(), &options).await;
    assert_eq!(asked.lock().expect("not poisoned").len(), 3);
    let marked = report.offers.iter().filter(|o| o.quota.is_some()).count();
    assert_eq!(marked, 4, "p5, p4d and g6 in east, p5 in west: {report:?}");
}

#[tokio::test(start_paused = true)]
async fn a_quota_that_does_not_answer_leaves_offers_unmarked_within_the_deadline() {
    let quotas = HashMap::from([("east/p".to_owned(), vcpu_quota(0, 0))]);
    let (source, asked, _) = Stub::answering("stub", Some(quotas), Answer::Never);
    let options = OfferOptions {
        deadline: Duration::from_secs(5),
        ..OfferOptions::default()
    };
    let started = tokio::time::Instant::now();
    let report = find_offers(&[source], &OfferQuery::default(), &options).await;
    assert!(
        started.elapsed() <= options.deadline,
        "{:?}",
        started.elapsed()
    );
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.offers.len(), 6);
    assert!(report.offers.iter().all(|o| o.quota.is_none()));
    assert!(!asked.lock().expect("not poisoned").is_empty());
}

/// A launch of one on-demand H100 machine of the stub in `location`, returning once created.
fn launch_request(location: &str) -> LaunchRequest {
    let mut request = LaunchRequest::new(CreateInstanceAttrs {
        ref_id: "quota-launch".into(),
        public_key: PUBLIC_KEY.into(),
        ..CreateInstanceAttrs::default()
    });
    request.query.filter.spot = Some(false);
    request.query.filter.locations = vec![location.to_owned()];
    request.wait_running = None;
    request
}

#[tokio::test]
async fn launch_skips_an_offer_over_quota_and_says_why() {
    // East has 100 vCPUs left: the cheapest offer (p5, 192 vCPUs) is over; p4d (96) fits.
    let quotas = HashMap::from([("east/p".to_owned(), vcpu_quota(200, 100))]);
    let (source, _, created) = Stub::answering("stub", Some(quotas), Answer::Now);
    let sources = [source];
    let mut events = Vec::new();
    let launched = launch(
        &sources,
        &launch_request("east"),
        &OfferOptions::default(),
        CancellationToken::new(),
        |event| match event {
            LaunchEvent::SkippedOverQuota { offer } => {
                events.push(format!("skipped {}", offer.instance_type));
            }
            LaunchEvent::Trying { offer, index, of } => {
                events.push(format!("trying {} {index}/{of}", offer.instance_type));
            }
            _ => {}
        },
    )
    .await
    .expect("launched on the offer that fits");
    assert_eq!(launched.offer.instance_type, "p4d.24xlarge");
    // g6 (unmarked: its quota is unknown) would come next; one create is all it took.
    assert_eq!(
        events,
        ["skipped p5.48xlarge", "trying p4d.24xlarge 1/3"],
        "the skip is reported before the next offer is tried"
    );
    assert_eq!(
        *created.lock().expect("not poisoned"),
        [("east".to_owned(), "p4d.24xlarge".to_owned())],
        "nothing is created on the offer over quota"
    );
    let [skipped] = launched.attempts.as_slice() else {
        panic!("one attempt: {:?}", launched.attempts);
    };
    assert_eq!(skipped.offer.instance_type, "p5.48xlarge");
    assert_eq!(skipped.error.kind(), ErrorKind::QuotaExceeded);
    assert_eq!(skipped.error.delivery(), Delivery::NotSent);
    let why = skipped.error.to_string();
    assert!(
        why.contains("On-Demand P (L-P): 100 of 200 vCPU in use, one instance needs 192"),
        "{why}"
    );
}

#[tokio::test]
async fn a_launch_with_every_offer_over_quota_creates_nothing_and_names_the_quota() {
    let quotas = HashMap::from([("west/p".to_owned(), vcpu_quota(100, 0))]);
    let (source, _, created) = Stub::answering("stub", Some(quotas), Answer::Now);
    let sources = [source];
    let request = launch_request("west");
    let planned = plan(&sources, &request, &OfferOptions::default())
        .await
        .expect("a plan");
    assert!(planned.offers.is_empty(), "{:?}", planned.offers);
    assert_eq!(planned.over_quota.len(), 1);
    let mut skipped = 0;
    let error = launch(
        &sources,
        &request,
        &OfferOptions::default(),
        CancellationToken::new(),
        |event| {
            if matches!(event, LaunchEvent::SkippedOverQuota { .. }) {
                skipped += 1;
            }
        },
    )
    .await
    .expect_err("nothing fits");
    assert_eq!(skipped, 1);
    let LaunchError::AllFailed { attempts, .. } = &error else {
        panic!("every offer failed: {error:?}");
    };
    let [attempt] = attempts.as_slice() else {
        panic!("the offer over quota is the one reason: {attempts:?}");
    };
    assert_eq!(
        (attempt.offer.location.as_str(), attempt.error.kind()),
        ("west", ErrorKind::QuotaExceeded)
    );
    assert!(attempt.error.to_string().contains("0 of 100 vCPU in use"));
    assert_eq!(
        error.to_string(),
        "all 1 offer(s) are over the account's quota"
    );
    assert!(created.lock().expect("not poisoned").is_empty());
}
