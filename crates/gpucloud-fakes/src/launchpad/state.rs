//! The fake's account state: deployments, their clusters, capacity, faults and request
//! counts. A deployment's state follows a [`Timeline`] computed from timestamps.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use super::catalog::{self, DEFAULT_CAPACITY};
use super::op::Operation;
use crate::kit::{Capacity, Faults, RequestLog, Timeline, TokenBucket};

/// A deployment's state, as the description's `DeploymentState` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FakeState {
    /// Waiting for the deployment to be ready.
    Waiting,
    /// Ready: every instance is running.
    Ready,
    /// Failed, but LaunchPad may retry it.
    Failed,
    /// Being retried after a failure.
    Retrying,
    /// Paused; may be retried later.
    Paused,
    /// Instances starting.
    Starting,
    /// Instances stopping.
    Stopping,
    /// Instances stopped.
    Stopped,
    /// Being destroyed.
    Destroying,
    /// Fully destroyed (still listed, as the API keeps it).
    Destroyed,
    /// A fatal error; it will not be retried.
    Error,
}

impl FakeState {
    /// The API's name, e.g. `destroying`.
    pub fn as_str(self) -> &'static str {
        match self {
            FakeState::Waiting => "waiting",
            FakeState::Ready => "ready",
            FakeState::Failed => "failed",
            FakeState::Retrying => "retrying",
            FakeState::Paused => "paused",
            FakeState::Starting => "starting",
            FakeState::Stopping => "stopping",
            FakeState::Stopped => "stopped",
            FakeState::Destroying => "destroying",
            FakeState::Destroyed => "destroyed",
            FakeState::Error => "error",
        }
    }

    /// Whether the deployment's machine is up (it has an address) in this state.
    fn has_machine(self) -> bool {
        matches!(
            self,
            FakeState::Ready | FakeState::Starting | FakeState::Stopping | FakeState::Stopped
        )
    }
}

/// How new deployments go: set by a test ([`FakeLaunchpadState::set_launch_outcome`]) or
/// drawn by the random fault mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LaunchOutcome {
    /// `waiting` → `ready`.
    AsScheduled,
    /// `waiting` → `failed` → `retrying` → `ready`: a failure LaunchPad retries.
    Retried,
    /// `waiting` → `error`: a fatal error, never retried.
    Error,
}

impl LaunchOutcome {
    /// The outcome the random fault mode draws (as scheduled without one).
    fn draw(faults: &Faults<Operation>) -> Self {
        match faults.draw_outcome(2) {
            None => LaunchOutcome::AsScheduled,
            Some(0) => LaunchOutcome::Retried,
            Some(_) => LaunchOutcome::Error,
        }
    }

    /// The schedule of a deployment made at `now`.
    fn schedule(self, now: Instant, timing: Timing) -> Timeline<FakeState> {
        let waiting = Timeline::starting(now, FakeState::Waiting);
        match self {
            LaunchOutcome::AsScheduled => waiting.then(timing.waiting, FakeState::Ready),
            LaunchOutcome::Retried => waiting
                .then(timing.waiting, FakeState::Failed)
                .then(timing.retry, FakeState::Retrying)
                .then(timing.retry, FakeState::Ready),
            LaunchOutcome::Error => waiting.then(timing.waiting, FakeState::Error),
        }
    }
}

/// A snapshot of one deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeDeployment {
    /// Deployment id.
    pub id: Uuid,
    /// The cluster it runs on.
    pub cluster: Uuid,
    /// The caller's `request_id` (unique).
    pub request_id: String,
    /// The experience it was made of.
    pub experience: Uuid,
    /// Upstream cloud (`provider_name`).
    pub provider_name: String,
    /// Region.
    pub region: String,
    /// GPU model, as sent.
    pub gpu_model: String,
    /// GPU count.
    pub gpu_count: u32,
    /// The public key it was made with.
    pub public_key: String,
    /// Addresses allowed to reach it.
    pub ip_allowlist: Vec<String>,
    /// User-defined tags.
    pub tags: serde_json::Map<String, serde_json::Value>,
    /// Organization.
    pub org_name: String,
    /// Requester's e-mail.
    pub requester_email: String,
    /// Requester's name.
    pub requester_name: String,
    /// Workshop id, if any.
    pub workshop_id: Option<String>,
    /// State now.
    pub state: FakeState,
    /// How often LaunchPad retried it.
    pub retry_count: u32,
    /// When it was created (RFC 3339).
    pub created: String,
    /// The cluster's public address, while the machine is up.
    pub public_address: Option<String>,
    /// SSH user.
    pub ssh_user: String,
    /// SSH port.
    pub ssh_port: u16,
}

/// Lifecycle delays, fixed when the fake starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) waiting: Duration,
    pub(crate) retry: Duration,
    pub(crate) destroying: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) snapshot: FakeDeployment,
    pub(crate) timeline: Timeline<FakeState>,
    /// Whether it holds one unit of its type's capacity, given back when it is destroyed.
    pub(crate) holds_capacity: bool,
}

impl Record {
    /// The state at `now` (a timeline never ends: destroyed deployments stay).
    pub(crate) fn state_at(&self, now: Instant) -> FakeState {
        self.timeline.at(now).unwrap_or(FakeState::Destroyed)
    }

    /// The deployment at `now`.
    pub(crate) fn at(&self, now: Instant) -> FakeDeployment {
        let mut deployment = self.snapshot.clone();
        deployment.state = self.state_at(now);
        if !deployment.state.has_machine() {
            deployment.public_address = None;
        }
        let retried = self
            .timeline
            .when(|s| *s == FakeState::Retrying)
            .is_some_and(|at| at <= now);
        deployment.retry_count = u32::from(retried);
        deployment
    }

    /// Starts destroying at `now`: `destroying`, then `destroyed` for good.
    pub(crate) fn destroy(&mut self, now: Instant, timing: Timing) {
        self.timeline = Timeline::starting(now, FakeState::Destroying)
            .then(timing.destroying, FakeState::Destroyed);
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    /// Deployments in creation order, destroyed ones included.
    pub(crate) deployments: Vec<Record>,
    pub(crate) capacity: Capacity,
    pub(crate) bucket: Option<TokenBucket>,
    pub(crate) outcome: Option<LaunchOutcome>,
    next_address: u32,
}

impl Inner {
    /// A public address for a new deployment, in 203.0.113.0/24 (TEST-NET-3).
    pub(crate) fn allocate_address(&mut self) -> String {
        self.next_address = self.next_address.wrapping_add(1);
        let host = self.next_address % 254 + 1;
        Ipv4Addr::from(u32::from(Ipv4Addr::new(203, 0, 113, 0)) + host).to_string()
    }

    /// The outcome of the next deployment: the one a test set, else the random mode's draw.
    pub(crate) fn outcome(&self, faults: &Faults<Operation>) -> LaunchOutcome {
        self.outcome.unwrap_or_else(|| LaunchOutcome::draw(faults))
    }

    /// Appends a deployment made at `now` with `outcome`.
    pub(crate) fn push(
        &mut self,
        mut snapshot: FakeDeployment,
        now: Instant,
        timing: Timing,
        outcome: LaunchOutcome,
        holds_capacity: bool,
    ) {
        snapshot.public_address = Some(self.allocate_address());
        self.deployments.push(Record {
            snapshot,
            timeline: outcome.schedule(now, timing),
            holds_capacity,
        });
    }
}

/// Inspection and control of a running fake's state. Cheap to clone; all clones share the
/// same state.
#[derive(Debug, Clone)]
pub struct FakeLaunchpadState {
    inner: Arc<Mutex<Inner>>,
    pub(crate) timing: Timing,
    faults: Faults<Operation>,
    requests: RequestLog,
}

impl FakeLaunchpadState {
    pub(crate) fn new(timing: Timing, bucket: Option<TokenBucket>) -> Self {
        let mut capacity = Capacity::new();
        for t in catalog::TYPES {
            for region in t.regions {
                capacity.set(region, &t.key(), DEFAULT_CAPACITY);
            }
        }
        let inner = Inner {
            deployments: Vec::new(),
            capacity,
            bucket,
            outcome: None,
            next_address: 0,
        };
        Self {
            inner: Arc::new(Mutex::new(inner)),
            timing,
            faults: Faults::new(),
            requests: RequestLog::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every deployment, destroyed ones included, in creation order.
    pub fn deployments(&self) -> Vec<FakeDeployment> {
        let now = Instant::now();
        self.lock().deployments.iter().map(|r| r.at(now)).collect()
    }

    /// The deployments not destroyed (nor being destroyed): what a test that must leave
    /// nothing behind checks is empty.
    pub fn live_deployments(&self) -> Vec<FakeDeployment> {
        self.deployments()
            .into_iter()
            .filter(|d| !matches!(d.state, FakeState::Destroying | FakeState::Destroyed))
            .collect()
    }

    /// One deployment.
    pub fn deployment(&self, id: Uuid) -> Option<FakeDeployment> {
        let now = Instant::now();
        self.lock()
            .deployments
            .iter()
            .find(|r| r.snapshot.id == id)
            .map(|r| r.at(now))
    }

    /// Adds `n` ready deployments of `cloud`'s `gpu_model` (a GPU family) × `gpu_count` in `region` at once,
    /// as if made an hour ago with `tags` (for tests and benchmarks that need many without as
    /// many creates, and for deployments made outside gpucloud). They hold no capacity; their
    /// request ids are `seed-<uuid>`. `None` when the catalog has no such type there.
    pub fn seed_deployments(
        &self,
        n: usize,
        cloud: &str,
        gpu_model: &str,
        gpu_count: u32,
        region: &str,
        tags: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<Vec<Uuid>> {
        let t = catalog::type_of(cloud, gpu_model, gpu_count)?;
        if !t.regions.contains(&region) {
            return None;
        }
        let created = jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_hours(1))
            .unwrap_or_else(|_| jiff::Timestamp::now())
            .to_string();
        let mut inner = self.lock();
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            let id = Uuid::new_v4();
            let mut snapshot = new_deployment(id, t, region);
            snapshot.request_id = format!("seed-{id}");
            snapshot.tags.clone_from(tags);
            snapshot.created.clone_from(&created);
            snapshot.public_address = Some(inner.allocate_address());
            inner.deployments.push(Record {
                snapshot,
                timeline: Timeline::fixed(FakeState::Ready),
                holds_capacity: false,
            });
            ids.push(id);
        }
        Some(ids)
    }

    /// Pins a deployment's state until a delete changes it. False if there is no such
    /// deployment.
    pub fn set_deployment_state(&self, id: Uuid, state: FakeState) -> bool {
        let mut inner = self.lock();
        match inner.deployments.iter_mut().find(|r| r.snapshot.id == id) {
            Some(record) => {
                record.timeline = Timeline::fixed(state);
                true
            }
            None => false,
        }
    }

    /// Makes every new deployment go this way (`None`: as scheduled, or as the random fault
    /// mode draws).
    pub fn set_launch_outcome(&self, outcome: Option<LaunchOutcome>) {
        self.lock().outcome = outcome;
    }

    /// Sets how many more machines of `cloud`'s `gpu_model` (a GPU family, e.g. `GH200`) ×
    /// `gpu_count` `region` has (its
    /// `capacity` in the catalog follows). At start every type has [`DEFAULT_CAPACITY`] in
    /// each of its regions; a deployment takes one, destroying it gives it back.
    pub fn set_capacity(&self, region: &str, cloud: &str, gpu_model: &str, gpu_count: u32, n: u32) {
        self.lock().capacity.set(
            region,
            &catalog::capacity_key(cloud, gpu_model, gpu_count),
            n,
        );
    }

    /// Remaining capacity of `cloud`'s `gpu_model` × `gpu_count` in `region`.
    pub fn capacity(&self, region: &str, cloud: &str, gpu_model: &str, gpu_count: u32) -> u32 {
        self.lock()
            .capacity
            .get(region, &catalog::capacity_key(cloud, gpu_model, gpu_count))
    }

    crate::kit::fault_and_request_controls!(Operation, "/v1/catalog/deployments/");
}

/// A deployment of type `t` in `region` with every field at its default: waiting, no tags.
pub(crate) fn new_deployment(id: Uuid, t: &catalog::CatalogType, region: &str) -> FakeDeployment {
    FakeDeployment {
        id,
        cluster: Uuid::new_v4(),
        request_id: String::new(),
        experience: Uuid::parse_str(catalog::EXPERIENCES[0]).unwrap_or_default(),
        provider_name: t.cloud.to_owned(),
        region: region.to_owned(),
        gpu_model: t.family.to_ascii_lowercase(),
        gpu_count: t.gpu_count,
        public_key: String::new(),
        ip_allowlist: Vec::new(),
        tags: serde_json::Map::new(),
        org_name: "gpucloud".to_owned(),
        requester_email: "gpucloud@example.com".to_owned(),
        requester_name: "gpucloud".to_owned(),
        workshop_id: None,
        state: FakeState::Waiting,
        retry_count: 0,
        created: jiff::Timestamp::now().to_string(),
        public_address: None,
        ssh_user: super::api::SSH_USER.to_owned(),
        ssh_port: super::api::SSH_PORT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        let ms = Duration::from_millis;
        Timing {
            waiting: ms(100),
            retry: ms(100),
            destroying: ms(100),
        }
    }

    #[test]
    fn outcomes_follow_their_schedules() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let at = |o: LaunchOutcome, after: u64| o.schedule(t0, timing()).at(t0 + ms(after));
        assert_eq!(at(LaunchOutcome::AsScheduled, 50), Some(FakeState::Waiting));
        assert_eq!(at(LaunchOutcome::AsScheduled, 150), Some(FakeState::Ready));
        assert_eq!(at(LaunchOutcome::Retried, 150), Some(FakeState::Failed));
        assert_eq!(at(LaunchOutcome::Retried, 250), Some(FakeState::Retrying));
        assert_eq!(at(LaunchOutcome::Retried, 350), Some(FakeState::Ready));
        assert_eq!(at(LaunchOutcome::Error, 60_000), Some(FakeState::Error));
        let faults = Faults::<Operation>::new();
        assert_eq!(LaunchOutcome::draw(&faults), LaunchOutcome::AsScheduled);
    }

    #[test]
    fn seeded_deployments_are_ready_with_an_address_and_retries_are_counted() {
        let state = FakeLaunchpadState::new(timing(), None);
        let tags: serde_json::Map<_, _> = [("team".to_owned(), serde_json::Value::from("ml"))]
            .into_iter()
            .collect();
        let ids = state
            .seed_deployments(2, "dmz", "GH200", 1, "pdx", &tags)
            .unwrap();
        assert_eq!(ids.len(), 2);
        let d = state.deployment(ids[0]).unwrap();
        assert_eq!(d.state, FakeState::Ready);
        assert!(d.public_address.is_some() && d.tags == tags);
        assert!(
            state
                .seed_deployments(1, "dmz", "GH200", 1, "mars", &tags)
                .is_none()
        );
        assert_eq!(state.capacity("pdx", "dmz", "gh200", 1), DEFAULT_CAPACITY);

        let now = Instant::now();
        let mut record = state.lock().deployments[0].clone();
        record.timeline = LaunchOutcome::Retried.schedule(now, timing());
        assert_eq!(record.at(now).retry_count, 0);
        assert_eq!(
            record.at(now).public_address,
            None,
            "no machine while waiting"
        );
        let later = record.at(now + Duration::from_millis(350));
        assert_eq!((later.state, later.retry_count), (FakeState::Ready, 1));
        record.destroy(now, timing());
        assert_eq!(
            record.state_at(now + Duration::from_secs(60)),
            FakeState::Destroyed
        );
    }
}
