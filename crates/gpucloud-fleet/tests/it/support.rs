//! The fleet against the fakes: a credential, a wrapper that can lose a create's answer
//! or drop an instance from one list, and helpers to read events.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use gpucloud::lambda::{LambdaConfig, LambdaCredential};
use gpucloud::{
    CapabilityTable, CloudClient, CloudCredential, CloudError, CreateFeatures, CreateInstanceAttrs,
    Delivery, ErrorKind, GetInstanceTypeArgs, GetLocationsArgs, Identity, Instance, InstanceId,
    InstanceType, LifecycleStatus, ListInstancesArgs, Location, ValidCreate,
};
use gpucloud_fakes::lambda::{FakeInstanceStatus, FakeLambda, FakeLambdaOptions};
use gpucloud_fleet::{CreateRequest, CreateTarget, Database, Fleet, FleetConfig, FleetCredential};

pub const REGION: &str = "us-west-1";
pub const INSTANCE_TYPE: &str = "gpu_1x_a10";
pub const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g fleet-test";
/// The credential mark the fleet's Lambda credential puts on what it creates.
pub const MARK: &str = "fleet-it";

/// A Lambda fake whose instances boot and terminate in `phase` and stay listed as terminated
/// for a minute.
pub async fn lambda_fake(phase: Duration) -> FakeLambda {
    let fake = FakeLambda::start(FakeLambdaOptions {
        boot_delay: phase,
        terminate_delay: phase,
        gone_after: Duration::from_secs(60),
        ..FakeLambdaOptions::default()
    })
    .await
    .expect("the fake starts");
    fake.state().set_capacity(REGION, INSTANCE_TYPE, 100);
    fake
}

/// A Lambda credential for the fake, with client-side limits off and short backoffs.
pub fn lambda_credential(fake: &FakeLambda) -> Arc<dyn CloudCredential> {
    Arc::new(
        LambdaCredential::new(
            LambdaConfig::new(fake.api_key())
                .with_base_url(fake.base_url())
                .with_ref_id(MARK)
                .with_rate_limits(1_000_000.0, Duration::ZERO)
                .with_retry_backoff(Duration::from_millis(2))
                .with_request_timeout(Duration::from_secs(10)),
        )
        .expect("a valid Lambda configuration"),
    )
}

/// Opens a fleet on `db` watching `credential` as `lambda`.
pub async fn open(db: &Path, credential: Arc<dyn CloudCredential>) -> Fleet {
    Fleet::open(config(db, credential))
        .await
        .expect("the fleet opens")
}

/// The configuration tests use: a short status interval.
pub fn config(db: &Path, credential: Arc<dyn CloudCredential>) -> FleetConfig {
    let mut config = FleetConfig::new(
        Database::Sqlite(db.to_owned()),
        vec![FleetCredential::new("lambda", "lambda", credential)],
    );
    config.status_interval = Duration::from_millis(200);
    config.max_terminate_backoff = Duration::from_millis(500);
    config
}

/// An explicit create of the test type with `ref_id`.
pub fn create_request(ref_id: &str) -> CreateRequest {
    CreateRequest {
        target: CreateTarget::Explicit {
            credential: "lambda".into(),
            location: REGION.into(),
            instance_type: INSTANCE_TYPE.into(),
        },
        attrs: CreateInstanceAttrs {
            ref_id: ref_id.into(),
            name: format!("fleet-{ref_id}"),
            public_key: PUBLIC_KEY.into(),
            ..CreateInstanceAttrs::default()
        },
        ttl: None,
    }
}

/// `(from, to, cause)` of every event of `ref_id`, in order.
pub async fn events_of(fleet: &Fleet, ref_id: &str) -> Vec<(Option<String>, String, String)> {
    fleet
        .events_after(0, 1000)
        .await
        .expect("events read")
        .into_iter()
        .filter(|e| e.ref_id == ref_id)
        .map(|e| (e.from, e.to, e.cause.as_str().to_owned()))
        .collect()
}

/// One expected event.
pub fn ev(from: Option<&str>, to: &str, cause: &str) -> (Option<String>, String, String) {
    (from.map(str::to_owned), to.to_owned(), cause.to_owned())
}

/// Runs passes until `done` holds for the instance (at most 10 s).
pub async fn run_until(
    fleet: &Fleet,
    ref_id: &str,
    done: impl Fn(&gpucloud_fleet::InstanceRecord) -> bool,
) {
    for _ in 0..100 {
        fleet.run_once().await.expect("a pass");
        let record = fleet.instance(ref_id).await.expect("the instance");
        if done(&record) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{ref_id} never got there: {:?}",
        fleet.instance(ref_id).await.expect("the instance")
    );
}

/// The fake's live instances with `ref_id` (from its own state).
pub fn live_in_fake(fake: &FakeLambda, ref_id: &str) -> Vec<String> {
    fake.state()
        .instances()
        .into_iter()
        .filter(|i| {
            i.tags
                .iter()
                .any(|t| t.key == "gpucloud-ref-id" && t.value == ref_id)
        })
        .filter(|i| {
            !matches!(
                i.status,
                FakeInstanceStatus::Terminating | FakeInstanceStatus::Terminated
            )
        })
        .map(|i| i.id)
        .collect()
}

/// What the wrapper does to the next calls.
#[derive(Debug, Default)]
pub struct Mischief {
    /// Leave every instance out of the next list.
    pub drop_next_list: AtomicBool,
    /// Creates of these RefIDs are made, then their answer is lost.
    pub lose_answer_of: Mutex<HashSet<String>>,
    /// Creates of these RefIDs are lost before they reach the provider (outcome unknown).
    pub lose_request_of: Mutex<HashSet<String>>,
    /// Creates that reached the provider.
    pub creates_sent: AtomicUsize,
    /// Gets of one instance sent to the provider.
    pub gets_sent: AtomicUsize,
    /// Catalog reads never answer (a process that dies while it chooses an offer).
    pub hang_catalogs: AtomicBool,
    /// A create answers this long after the provider made the instance, with what a get
    /// says then (a create whose closing read waited on the rate limiter).
    pub late_create_answer: Mutex<Option<Duration>>,
    /// A list that shows an instance pending arrives this long after the provider answered
    /// it (a slow answer: by the time it is read, it describes an older state).
    pub hold_pending_lists: Mutex<Option<Duration>>,
    /// While set, a list that was asked for waits before it is sent (a list waiting on the
    /// limiter), for as long as the test needs.
    pub hold_lists: AtomicBool,
    /// Lists asked for (counted before any delay).
    pub lists_asked: AtomicUsize,
    /// The next this many terminates are refused (503, nothing done).
    pub refuse_terminates: AtomicUsize,
    /// Terminates asked for, refused ones included.
    pub terminates_asked: AtomicUsize,
}

/// A credential whose clients misbehave as [`Mischief`] says.
#[derive(Debug)]
pub struct Meddling {
    pub inner: Arc<dyn CloudCredential>,
    pub mischief: Arc<Mischief>,
}

#[async_trait]
impl CloudCredential for Meddling {
    fn identity(&self) -> &Identity {
        self.inner.identity()
    }

    async fn make_client(&self, location: &str) -> gpucloud::Result<Arc<dyn CloudClient>> {
        Ok(Arc::new(MeddlingClient {
            inner: self.inner.make_client(location).await?,
            mischief: self.mischief.clone(),
        }))
    }
}

#[derive(Debug)]
struct MeddlingClient {
    inner: Arc<dyn CloudClient>,
    mischief: Arc<Mischief>,
}

fn lost(operation: &'static str) -> CloudError {
    CloudError::provider(
        "lambda-labs",
        operation,
        ErrorKind::Timeout,
        "the answer was lost",
    )
    .with_delivery(Delivery::Unknown)
}

#[async_trait]
impl CloudClient for MeddlingClient {
    fn identity(&self) -> &Identity {
        self.inner.identity()
    }

    fn location(&self) -> &str {
        self.inner.location()
    }

    fn capability_table(&self) -> CapabilityTable<'_> {
        CapabilityTable::NONE
    }

    fn create_features(&self) -> CreateFeatures {
        self.inner.create_features()
    }

    async fn locations(&self, args: GetLocationsArgs) -> gpucloud::Result<Vec<Location>> {
        self.inner.locations(args).await
    }

    async fn instance_types(
        &self,
        args: &GetInstanceTypeArgs,
    ) -> gpucloud::Result<Vec<InstanceType>> {
        if self.mischief.hang_catalogs.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.inner.instance_types(args).await
    }

    async fn create_instance(&self, create: ValidCreate) -> gpucloud::Result<Instance> {
        let ref_id = create.attrs().ref_id.clone();
        if self
            .mischief
            .lose_request_of
            .lock()
            .unwrap()
            .remove(&ref_id)
        {
            return Err(lost("create_instance"));
        }
        self.mischief.creates_sent.fetch_add(1, Ordering::SeqCst);
        let made = self.inner.create_instance(create).await;
        if self.mischief.lose_answer_of.lock().unwrap().remove(&ref_id) {
            return Err(lost("create_instance"));
        }
        let late = *self.mischief.late_create_answer.lock().unwrap();
        match (made, late) {
            (Ok(instance), Some(delay)) => {
                tokio::time::sleep(delay).await;
                self.inner.get_instance(&instance.cloud_id).await
            }
            (made, _) => made,
        }
    }

    async fn get_instance(&self, id: &InstanceId) -> gpucloud::Result<Instance> {
        self.mischief.gets_sent.fetch_add(1, Ordering::SeqCst);
        self.inner.get_instance(id).await
    }

    async fn list_instances(&self, args: &ListInstancesArgs) -> gpucloud::Result<Vec<Instance>> {
        self.mischief.lists_asked.fetch_add(1, Ordering::SeqCst);
        while self.mischief.hold_lists.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let listed = self.inner.list_instances(args).await?;
        let hold = *self.mischief.hold_pending_lists.lock().unwrap();
        if let Some(delay) = hold
            && listed
                .iter()
                .any(|i| i.lifecycle() == LifecycleStatus::Pending)
        {
            tokio::time::sleep(delay).await;
        }
        if self.mischief.drop_next_list.swap(false, Ordering::SeqCst) {
            return Ok(Vec::new());
        }
        Ok(listed)
    }

    async fn terminate_instance(&self, id: &InstanceId) -> gpucloud::Result<()> {
        self.mischief
            .terminates_asked
            .fetch_add(1, Ordering::SeqCst);
        let refused = self
            .mischief
            .refuse_terminates
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refused {
            return Err(CloudError::provider(
                "lambda-labs",
                "terminate_instance",
                ErrorKind::Unavailable,
                "the service is unavailable",
            )
            .with_delivery(Delivery::Answered));
        }
        self.inner.terminate_instance(id).await
    }

    fn merge_instance_for_update(&self, current: &Instance, fresh: Instance) -> Instance {
        self.inner.merge_instance_for_update(current, fresh)
    }
}

impl Mischief {
    /// Loses the answer of `ref_id`'s next create (after the provider made it).
    pub fn lose_answer(&self, ref_id: &str) {
        self.lose_answer_of
            .lock()
            .unwrap()
            .insert(ref_id.to_owned());
    }

    /// Loses `ref_id`'s next create before it reaches the provider.
    pub fn lose_request(&self, ref_id: &str) {
        self.lose_request_of
            .lock()
            .unwrap()
            .insert(ref_id.to_owned());
    }
}
