//! The fake's account state: instances, SSH keys, capacity, faults and request counts.
//! Instance status follows a [`Timeline`] computed from timestamps.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use super::catalog::{self, DEFAULT_CAPACITY};
use super::op::Operation;
use crate::kit::{Capacity, Faults, RequestLog, Timeline, TokenBucket};

/// An instance's status, as Shadeform's `Status` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FakeStatus {
    /// Accepted; Shadeform has not asked the upstream cloud yet.
    Creating,
    /// The upstream cloud is provisioning it.
    PendingProvider,
    /// Provisioned, booting: a slow boot the random fault mode drew, or set by a test.
    Pending,
    /// Running, with an address.
    Active,
    /// Failed upstream: drawn by the random fault mode, or set by a test.
    Error,
    /// Being deleted; billing has stopped.
    Deleting,
    /// Deleted; gone from every listing after the gone delay.
    Deleted,
}

impl FakeStatus {
    /// The API's name, e.g. `pending_provider`.
    pub fn as_str(self) -> &'static str {
        match self {
            FakeStatus::Creating => "creating",
            FakeStatus::PendingProvider => "pending_provider",
            FakeStatus::Pending => "pending",
            FakeStatus::Active => "active",
            FakeStatus::Error => "error",
            FakeStatus::Deleting => "deleting",
            FakeStatus::Deleted => "deleted",
        }
    }

    /// The API's `status_details` in this status: the context it gives while a machine is
    /// on its way, and why it failed; empty otherwise.
    pub fn details(self) -> &'static str {
        match self {
            FakeStatus::PendingProvider => "provisioning",
            FakeStatus::Pending => "downloading",
            FakeStatus::Error => "the upstream cloud could not provision the instance",
            FakeStatus::Creating
            | FakeStatus::Active
            | FakeStatus::Deleting
            | FakeStatus::Deleted => "",
        }
    }
}

/// How a launch goes: as scheduled, or with a fault of its own that the random fault mode
/// drew ([`crate::kit::Faults::draw_outcome`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Launch {
    /// `creating` → `pending_provider` → `active`.
    AsScheduled,
    /// A slow boot: `pending` for as long again before `active`.
    SlowBoot,
    /// The upstream fails it: `error` when it would have been `active`.
    UpstreamFailure,
}

impl Launch {
    /// The launch the random fault mode draws (as scheduled without one).
    pub(crate) fn draw(faults: &Faults<Operation>) -> Self {
        match faults.draw_outcome(2) {
            None => Launch::AsScheduled,
            Some(0) => Launch::SlowBoot,
            Some(_) => Launch::UpstreamFailure,
        }
    }

    /// The schedule of a launch at `now`, and when it becomes `active` (never, for a failure).
    pub(crate) fn schedule(
        self,
        now: Instant,
        timing: Timing,
    ) -> (Timeline<FakeStatus>, Option<Instant>) {
        let provisioning = Timeline::starting(now, FakeStatus::Creating)
            .then(timing.creating, FakeStatus::PendingProvider);
        let provisioned = now + timing.creating + timing.pending_provider;
        match self {
            Launch::AsScheduled => (
                provisioning.then(timing.pending_provider, FakeStatus::Active),
                Some(provisioned),
            ),
            Launch::SlowBoot => (
                provisioning
                    .then(timing.pending_provider, FakeStatus::Pending)
                    .then(timing.pending_provider, FakeStatus::Active),
                Some(provisioned + timing.pending_provider),
            ),
            Launch::UpstreamFailure => (
                provisioning.then(timing.pending_provider, FakeStatus::Error),
                None,
            ),
        }
    }
}

/// A snapshot of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeInstance {
    /// Instance id.
    pub id: Uuid,
    /// Upstream cloud.
    pub cloud: String,
    /// Upstream region.
    pub region: String,
    /// Shadeform type.
    pub shade_instance_type: String,
    /// The upstream cloud's id of the machine.
    pub cloud_assigned_id: String,
    /// Name.
    pub name: String,
    /// OS image.
    pub os: String,
    /// Status now.
    pub status: FakeStatus,
    /// Public address, once active.
    pub ip: Option<String>,
    /// SSH user.
    pub ssh_user: String,
    /// SSH port.
    pub ssh_port: u16,
    /// The SSH key it was launched with.
    pub ssh_key_id: String,
    /// The launch script as sent (base64), if any.
    pub launch_script: Option<String>,
    /// Tags, as strings.
    pub tags: Vec<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// How many restarts it was sent.
    pub restarts: u32,
    /// When it became active; `None` until then (and for good when it failed first).
    pub active_at: Option<jiff::Timestamp>,
    /// The API's `status_details` now ([`FakeStatus::details`]).
    pub status_details: String,
    /// What it has cost so far in USD (`"12.34"`): its offer's hourly price over the time
    /// from `active_at` to its deletion, or to now.
    pub cost_estimate: String,
}

/// An SSH key of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSshKey {
    /// Key id.
    pub id: Uuid,
    /// Unique name.
    pub name: String,
    /// The public key as added.
    pub public_key: String,
    /// Used when a launch names no key.
    pub is_default: bool,
}

/// Lifecycle delays, fixed when the fake starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) creating: Duration,
    pub(crate) pending_provider: Duration,
    pub(crate) deleting: Duration,
    pub(crate) deleted: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct InstanceRecord {
    pub(crate) snapshot: FakeInstance,
    pub(crate) timeline: Timeline<FakeStatus>,
    /// Whether it holds one unit of its offer's capacity, given back on delete.
    pub(crate) holds_capacity: bool,
    /// When it was created, on the fake's clock and on the wall clock: the one converts the
    /// other.
    born: (Instant, jiff::Timestamp),
    /// When it becomes (or became) active; `None` while it never will.
    pub(crate) active_from: Option<Instant>,
    /// When billing stopped: its deletion.
    pub(crate) billing_ended: Option<Instant>,
}

/// What an instance reports at one moment besides its status: the wall-clock times and the
/// cost so far (computed from the records, without copying the instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Accounts {
    pub(crate) active_at: Option<jiff::Timestamp>,
    pub(crate) deleted_at: Option<jiff::Timestamp>,
    /// Cents, rounded down.
    pub(crate) cost_cents: u64,
}

impl Accounts {
    /// The cost as the API writes it: dollars with two decimals.
    pub(crate) fn cost_estimate(&self) -> String {
        format!("{}.{:02}", self.cost_cents / 100, self.cost_cents % 100)
    }
}

impl InstanceRecord {
    /// A new record: created at `born` (and now on the wall clock), active from `active_from`.
    pub(crate) fn new(
        snapshot: FakeInstance,
        timeline: Timeline<FakeStatus>,
        holds_capacity: bool,
        born: (Instant, jiff::Timestamp),
        active_from: Option<Instant>,
    ) -> Self {
        Self {
            snapshot,
            timeline,
            holds_capacity,
            born,
            active_from,
            billing_ended: None,
        }
    }

    /// The instance at `now`; `None` once gone.
    pub(crate) fn at(&self, now: Instant) -> Option<FakeInstance> {
        let (status, ip) = self.status_at(now)?;
        let accounts = self.accounts(now);
        let mut instance = self.snapshot.clone();
        instance.status = status;
        if ip.is_none() {
            instance.ip = None;
        }
        instance.active_at = accounts.active_at;
        status.details().clone_into(&mut instance.status_details);
        instance.cost_estimate = accounts.cost_estimate();
        Some(instance)
    }

    /// `at` on the wall clock.
    fn wall(&self, at: Instant) -> Option<jiff::Timestamp> {
        let (born, born_at) = self.born;
        let moved = if at >= born {
            born_at.checked_add(at - born)
        } else {
            born_at.checked_sub(born - at)
        };
        moved.ok()
    }

    /// The times and the cost at `now`: billed at the offer's hourly price from `active` until
    /// the deletion.
    pub(crate) fn accounts(&self, now: Instant) -> Accounts {
        let active = self.active_from.filter(|at| *at <= now);
        let until = self.billing_ended.map_or(now, |ended| ended.min(now));
        let billed = active.map_or(Duration::ZERO, |from| until.saturating_duration_since(from));
        let hourly_cents =
            catalog::offer_of(&self.snapshot.cloud, &self.snapshot.shade_instance_type)
                .map_or(0, |o| u64::from(o.hourly_price));
        let cost_cents = u64::try_from(u128::from(hourly_cents) * billed.as_millis() / 3_600_000)
            .unwrap_or(u64::MAX);
        Accounts {
            active_at: active.and_then(|at| self.wall(at)),
            deleted_at: self.billing_ended.and_then(|at| self.wall(at)),
            cost_cents,
        }
    }

    /// Starts the deletion at `now`: `deleting`, then `deleted`, then gone; billing stops.
    pub(crate) fn delete(&mut self, now: Instant, timing: Timing) {
        self.timeline = Timeline::starting(now, FakeStatus::Deleting)
            .then(timing.deleting, FakeStatus::Deleted)
            .then_gone(timing.deleted);
        self.billing_ended.get_or_insert(now);
    }

    /// The status at `now` and the address shown then, without copying the instance (a list
    /// of many is served from the records themselves); `None` once gone.
    pub(crate) fn status_at(&self, now: Instant) -> Option<(FakeStatus, Option<&str>)> {
        let status = self.timeline.at(now)?;
        // The address exists once the upstream machine is up, until deletion.
        let reached_active = self
            .timeline
            .when(|s| *s == FakeStatus::Active)
            .is_some_and(|at| at <= now);
        let ip = if reached_active || status == FakeStatus::Active {
            self.snapshot.ip.as_deref()
        } else {
            None
        };
        Some((status, ip))
    }

    /// Whether the instance still holds its SSH key (keys in use cannot be deleted).
    pub(crate) fn uses_key(&self, id: &str, now: Instant) -> bool {
        self.snapshot.ssh_key_id == id
            && self
                .timeline
                .at(now)
                .is_some_and(|s| !matches!(s, FakeStatus::Deleting | FakeStatus::Deleted))
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    /// Instances in creation order.
    pub(crate) instances: Vec<InstanceRecord>,
    pub(crate) keys: Vec<FakeSshKey>,
    pub(crate) capacity: Capacity,
    pub(crate) bucket: Option<TokenBucket>,
    next_address: u32,
}

impl Inner {
    /// Drops instances that are gone.
    pub(crate) fn purge(&mut self, now: Instant) {
        self.instances.retain(|r| r.timeline.at(now).is_some());
    }

    /// The record with this id, and the instance now, unless absent or gone.
    pub(crate) fn find(
        &mut self,
        id: Uuid,
        now: Instant,
    ) -> Option<(&mut InstanceRecord, FakeInstance)> {
        self.purge(now);
        let record = self.instances.iter_mut().find(|r| r.snapshot.id == id)?;
        let instance = record.at(now)?;
        Some((record, instance))
    }

    /// A public address for a new instance, in 203.0.113.0/24 and 198.51.100.0/24 (TEST-NET).
    pub(crate) fn allocate_address(&mut self) -> String {
        self.next_address = self.next_address.wrapping_add(1);
        let n = self.next_address % 508;
        let (base, host) = if n < 254 {
            (Ipv4Addr::new(203, 0, 113, 0), n + 1)
        } else {
            (Ipv4Addr::new(198, 51, 100, 0), n - 253)
        };
        Ipv4Addr::from(u32::from(base) + host).to_string()
    }
}

/// Inspection and control of a running fake's state. Cheap to clone; all clones share the
/// same state.
#[derive(Debug, Clone)]
pub struct FakeShadeformState {
    inner: Arc<Mutex<Inner>>,
    pub(crate) timing: Timing,
    default_key: Uuid,
    faults: Faults<Operation>,
    requests: RequestLog,
}

impl FakeShadeformState {
    pub(crate) fn new(timing: Timing, bucket: Option<TokenBucket>) -> Self {
        let default_key = Uuid::new_v4();
        let mut capacity = Capacity::new();
        for offer in catalog::OFFERS {
            for region in offer.regions {
                capacity.set(
                    region.region,
                    &catalog::capacity_key(offer.cloud, offer.shade_instance_type),
                    DEFAULT_CAPACITY,
                );
            }
        }
        let inner = Inner {
            instances: Vec::new(),
            keys: vec![FakeSshKey {
                id: default_key,
                name: "Shadeform Managed Key".to_owned(),
                public_key: DEFAULT_PUBLIC_KEY.to_owned(),
                is_default: true,
            }],
            capacity,
            bucket,
            next_address: 0,
        };
        Self {
            inner: Arc::new(Mutex::new(inner)),
            timing,
            default_key,
            faults: Faults::new(),
            requests: RequestLog::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The id of the key the account holds from the start (Shadeform's managed key, the
    /// default).
    pub fn default_key_id(&self) -> Uuid {
        self.default_key
    }

    /// Every SSH key of the account.
    pub fn ssh_keys(&self) -> Vec<FakeSshKey> {
        self.lock().keys.clone()
    }

    /// Adds a key as if through the console; returns its id. Names are not checked here.
    pub fn add_ssh_key(&self, name: &str, public_key: &str) -> Uuid {
        let id = Uuid::new_v4();
        self.lock().keys.push(FakeSshKey {
            id,
            name: name.to_owned(),
            public_key: public_key.to_owned(),
            is_default: false,
        });
        id
    }

    /// Every instance not yet gone, in creation order (`deleting` and `deleted` included).
    pub fn instances(&self) -> Vec<FakeInstance> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.purge(now);
        inner.instances.iter().filter_map(|r| r.at(now)).collect()
    }

    /// One instance, unless absent or gone.
    pub fn instance(&self, id: Uuid) -> Option<FakeInstance> {
        self.lock().find(id, Instant::now()).map(|(_, i)| i)
    }

    /// Adds `n` active instances of the offer `<cloud>_<shade type>` in `region` at once, as
    /// if launched (and active) an hour ago with `tags` (Shadeform's `key=value` strings) and, when given,
    /// the launch script (base64) — for tests and benchmarks that need many instances
    /// without as many creates. They hold no capacity and use the account's default key.
    /// Their names are `seed-<i>`; `None` when the catalog has no such offer there.
    pub fn seed_instances(
        &self,
        n: usize,
        region: &str,
        offer: &str,
        tags: &[String],
        launch_script: Option<&str>,
    ) -> Option<Vec<Uuid>> {
        let (cloud, shade) = offer.split_once('_')?;
        let offer = catalog::offer_of(cloud, shade)?;
        if !offer.regions.iter().any(|r| r.region == region) {
            return None;
        }
        let now = Instant::now();
        let born = now.checked_sub(SEEDED_AGE).unwrap_or(now);
        let born_at = jiff::Timestamp::now()
            .checked_sub(now.duration_since(born))
            .unwrap_or_else(|_| jiff::Timestamp::now());
        let created_at = born_at.to_string();
        let mut inner = self.lock();
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let id = Uuid::new_v4();
            let ip = inner.allocate_address();
            inner.instances.push(InstanceRecord::new(
                FakeInstance {
                    id,
                    cloud: offer.cloud.to_owned(),
                    region: region.to_owned(),
                    shade_instance_type: offer.shade_instance_type.to_owned(),
                    cloud_assigned_id: Uuid::new_v4().to_string(),
                    name: format!("seed-{i}"),
                    os: catalog::OS_OPTIONS[0].to_owned(),
                    status: FakeStatus::Active,
                    ip: Some(ip),
                    ssh_user: super::api::SSH_USER.to_owned(),
                    ssh_port: 22,
                    ssh_key_id: self.default_key.to_string(),
                    launch_script: launch_script.map(str::to_owned),
                    tags: tags.to_vec(),
                    created_at: created_at.clone(),
                    restarts: 0,
                    active_at: None,
                    status_details: String::new(),
                    cost_estimate: String::new(),
                },
                Timeline::fixed(FakeStatus::Active),
                false,
                (born, born_at),
                Some(born),
            ));
            ids.push(id);
        }
        Some(ids)
    }

    /// Pins an instance's status (e.g. `Error`) until an action changes it. False if the
    /// instance is absent or gone. An instance pinned `active` is active from now unless it
    /// already was; one pinned otherwise before it became active never becomes so; one pinned
    /// `deleting` or `deleted` stops billing.
    pub fn set_instance_status(&self, id: Uuid, status: FakeStatus) -> bool {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.find(id, now) {
            Some((record, _)) => {
                record.timeline = Timeline::fixed(status);
                let was_active = record.active_from.is_some_and(|at| at <= now);
                if !was_active {
                    record.active_from = (status == FakeStatus::Active).then_some(now);
                }
                if matches!(status, FakeStatus::Deleting | FakeStatus::Deleted) {
                    record.billing_ended.get_or_insert(now);
                }
                true
            }
            None => false,
        }
    }

    /// Forgets instance `id` at once (as Shadeform does once `deleted` has passed); true when it
    /// was held.
    pub fn remove_instance(&self, id: Uuid) -> bool {
        let mut inner = self.lock();
        let before = inner.instances.len();
        inner.instances.retain(|r| r.snapshot.id != id);
        inner.instances.len() != before
    }

    /// Deletes the account's SSH key `id`, as a user does; true when it was held.
    pub fn remove_ssh_key(&self, id: Uuid) -> bool {
        let mut inner = self.lock();
        let before = inner.keys.len();
        inner.keys.retain(|k| k.id != id);
        inner.keys.len() != before
    }

    /// Sets how many more instances of the offer `<cloud>_<shade type>` can be launched in
    /// `region` (its availability follows). At start every offer has [`DEFAULT_CAPACITY`] in
    /// each of its regions; launching takes one, deleting gives it back.
    pub fn set_capacity(&self, region: &str, offer: &str, count: u32) {
        self.lock().capacity.set(region, offer, count);
    }

    /// Remaining capacity of the offer `<cloud>_<shade type>` in `region`.
    pub fn capacity(&self, region: &str, offer: &str) -> u32 {
        self.lock().capacity.get(region, offer)
    }

    /// No capacity anywhere.
    pub fn clear_capacity(&self) {
        self.lock().capacity.clear();
    }

    crate::kit::fault_and_request_controls!(Operation, "/v1/instances/create");
}

/// How long ago seeded instances were launched ([`FakeShadeformState::seed_instances`]).
const SEEDED_AGE: Duration = Duration::from_secs(3600);

/// The public half of the account's managed key: a well-formed ed25519 key (its 32 bytes are
/// a SHA-256 digest, not a curve point anyone holds the private half of).
pub const DEFAULT_PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOJS6kkV7UUs1GTRJnJoXmp9ot6wA4Kp+z/DTuRd+FPI shadeform-managed";

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> FakeShadeformState {
        let ms = Duration::from_millis;
        FakeShadeformState::new(
            Timing {
                creating: ms(10),
                pending_provider: ms(10),
                deleting: ms(10),
                deleted: ms(10),
            },
            None,
        )
    }

    #[test]
    fn starts_with_the_default_key_and_capacity_for_every_offer() {
        let state = state();
        let keys = state.ssh_keys();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].is_default && keys[0].id == state.default_key_id());
        for offer in catalog::OFFERS {
            let key = catalog::capacity_key(offer.cloud, offer.shade_instance_type);
            for region in offer.regions {
                assert_eq!(state.capacity(region.region, &key), DEFAULT_CAPACITY);
            }
        }
        assert_eq!(state.capacity("mars-1", "verda_B200"), 0);
    }

    #[test]
    fn seeded_instances_are_active_with_their_tags_and_take_no_capacity() {
        let state = state();
        let tags = vec!["gpucloud-ref-id=r".to_owned(), "team=ml".to_owned()];
        let ids = state
            .seed_instances(3, "canada-1", "hyperstack_A4000", &tags, Some("IyE="))
            .unwrap();
        assert_eq!(ids.len(), 3);
        let seen = state.instances();
        assert_eq!(seen.len(), 3);
        assert!(seen.iter().all(|i| i.status == FakeStatus::Active
            && i.ip.is_some()
            && i.tags == tags
            && i.launch_script.as_deref() == Some("IyE=")
            && i.ssh_key_id == state.default_key_id().to_string()));
        assert_eq!(seen[2].name, "seed-2");
        assert_eq!(
            state.capacity("canada-1", "hyperstack_A4000"),
            DEFAULT_CAPACITY
        );
        assert!(
            state
                .seed_instances(1, "mars-1", "hyperstack_A4000", &tags, None)
                .is_none()
        );
        assert!(
            state
                .seed_instances(1, "canada-1", "hyperstack_Z9", &tags, None)
                .is_none()
        );
        assert!(
            state
                .seed_instances(1, "canada-1", "A4000", &tags, None)
                .is_none()
        );
    }

    #[test]
    fn launches_follow_their_schedule_slow_boots_pending_and_failures_in_error() {
        let ms = Duration::from_millis;
        let timing = Timing {
            creating: ms(100),
            pending_provider: ms(200),
            deleting: ms(10),
            deleted: ms(10),
        };
        let t0 = Instant::now();
        let at = |launch: Launch, after: u64| launch.schedule(t0, timing).0.at(t0 + ms(after));
        let when = |launch: Launch| launch.schedule(t0, timing).1;
        for launch in [
            Launch::AsScheduled,
            Launch::SlowBoot,
            Launch::UpstreamFailure,
        ] {
            assert_eq!(at(launch, 0), Some(FakeStatus::Creating));
            assert_eq!(at(launch, 150), Some(FakeStatus::PendingProvider));
        }
        assert_eq!(at(Launch::AsScheduled, 300), Some(FakeStatus::Active));
        assert_eq!(when(Launch::AsScheduled), Some(t0 + ms(300)));
        assert_eq!(at(Launch::SlowBoot, 300), Some(FakeStatus::Pending));
        assert_eq!(at(Launch::SlowBoot, 499), Some(FakeStatus::Pending));
        assert_eq!(at(Launch::SlowBoot, 500), Some(FakeStatus::Active));
        assert_eq!(when(Launch::SlowBoot), Some(t0 + ms(500)));
        assert_eq!(at(Launch::UpstreamFailure, 300), Some(FakeStatus::Error));
        assert_eq!(at(Launch::UpstreamFailure, 60_000), Some(FakeStatus::Error));
        assert_eq!(when(Launch::UpstreamFailure), None);
        assert_eq!(FakeStatus::Pending.details(), "downloading");
        assert!(!FakeStatus::Error.details().is_empty());
        assert_eq!(FakeStatus::Active.details(), "");
        // Drawn only in the random mode.
        let faults = Faults::<Operation>::new();
        assert_eq!(Launch::draw(&faults), Launch::AsScheduled);
        faults.set_random(1, 1.0, &[]);
        let drawn: std::collections::BTreeSet<_> = (0..50)
            .map(|_| format!("{:?}", Launch::draw(&faults)))
            .collect();
        assert_eq!(
            drawn,
            ["SlowBoot".to_owned(), "UpstreamFailure".to_owned()].into()
        );
    }

    #[test]
    fn seeded_instances_cost_an_hour_and_deleting_stops_the_meter() {
        let state = state();
        let id = state
            .seed_instances(1, "canada-1", "hyperstack_H100", &[], None)
            .unwrap()[0];
        let seen = state.instance(id).unwrap();
        // 190 cents an hour, an hour ago.
        assert_eq!(seen.cost_estimate, "1.90");
        let created: jiff::Timestamp = seen.created_at.parse().unwrap();
        assert_eq!(seen.active_at, Some(created));
        let mut inner = state.lock();
        let now = Instant::now();
        let (record, _) = inner.find(id, now).unwrap();
        record.delete(now, state.timing);
        let later = record.accounts(now + Duration::from_secs(3600));
        assert_eq!(later.cost_estimate(), "1.90", "billing stopped");
        assert!(later.deleted_at.is_some());
    }

    #[test]
    fn addresses_are_documentation_addresses_and_distinct() {
        let state = state();
        let mut inner = state.lock();
        let all: Vec<String> = (0..600).map(|_| inner.allocate_address()).collect();
        assert!(
            all[..508]
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                == 508
        );
        assert!(
            all.iter()
                .all(|a| a.starts_with("203.0.113.") || a.starts_with("198.51.100."))
        );
    }
}
