//! The fake's account state: instances, SSH keys, firewall rulesets, capacity, faults,
//! request counts and rate-limit buckets. Instance status is computed lazily from timestamps.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::catalog::{self, DEFAULT_CAPACITY, DEFAULT_CAPACITY_REGIONS};
use super::fault::Operation;
use crate::kit::{Capacity, Faults, RequestLog, Timeline, TokenBucket, take_all};

/// Sustained rate of the general limit when rate limits are enforced: requests per second.
pub const GENERAL_RATE_PER_SEC: f64 = 1.0;
/// Burst of the general limit when rate limits are enforced: requests allowed at once.
pub const GENERAL_BURST: f64 = 5.0;
/// Minimum interval between launches when rate limits are enforced (Lambda: one per 12 s).
pub const LAUNCH_INTERVAL: Duration = Duration::from_secs(12);

/// Lifecycle status of a fake instance, as Lambda reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FakeInstanceStatus {
    /// Launched or restarting, not yet reachable.
    Booting,
    /// Running.
    Active,
    /// Running but failing health checks.
    Unhealthy,
    /// Terminate requested.
    Terminating,
    /// Gone; still listed until `gone_after` passes.
    Terminated,
    /// Reclaimed by Lambda.
    Preempted,
}

impl FakeInstanceStatus {
    /// The API string, e.g. `booting`.
    pub fn as_str(self) -> &'static str {
        match self {
            FakeInstanceStatus::Booting => "booting",
            FakeInstanceStatus::Active => "active",
            FakeInstanceStatus::Unhealthy => "unhealthy",
            FakeInstanceStatus::Terminating => "terminating",
            FakeInstanceStatus::Terminated => "terminated",
            FakeInstanceStatus::Preempted => "preempted",
        }
    }

    fn is_ending(self) -> bool {
        matches!(
            self,
            FakeInstanceStatus::Terminating
                | FakeInstanceStatus::Terminated
                | FakeInstanceStatus::Preempted
        )
    }
}

/// A key/value tag on an instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FakeTag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// The image an instance was launched with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FakeImageSpec {
    /// `{"id": ...}`.
    Id(String),
    /// `{"family": ...}`.
    Family(String),
}

/// A snapshot of one instance, as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeInstance {
    /// 32 lowercase hex digits.
    pub id: String,
    /// User-provided name, if any.
    pub name: Option<String>,
    /// Region name, e.g. `us-west-1`.
    pub region: String,
    /// Instance type name, e.g. `gpu_1x_a10`.
    pub instance_type: String,
    /// Current status.
    pub status: FakeInstanceStatus,
    /// SSH key names given at launch.
    pub ssh_key_names: Vec<String>,
    /// File system names given at launch.
    pub file_system_names: Vec<String>,
    /// Tags given at launch.
    pub tags: Vec<FakeTag>,
    /// Hostname requested at launch (the API reports the IP address when none was given).
    pub hostname: Option<String>,
    /// Public IPv4 address (from 198.18.0.0/15, never routed).
    pub ip: String,
    /// Private IPv4 address (from 10.0.0.0/8).
    pub private_ip: String,
    /// Cloud-init user data given at launch.
    pub user_data: Option<String>,
    /// Firewall ruleset IDs given at launch.
    pub firewall_rulesets: Vec<String>,
    /// Image given at launch.
    pub image: Option<FakeImageSpec>,
}

/// An SSH key stored in the fake account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSshKey {
    /// 32 lowercase hex digits.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// OpenSSH public key line.
    pub public_key: String,
}

/// One inbound firewall rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeFirewallRule {
    /// `tcp`, `udp`, `icmp` or `all`.
    pub protocol: String,
    /// Inclusive port range; `None` for `icmp`.
    pub port_range: Option<(u16, u16)>,
    /// Source network in CIDR notation, as given.
    pub source_network: String,
    /// Human-readable description.
    pub description: String,
}

/// A firewall ruleset stored in the fake account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeFirewallRuleset {
    /// 32 lowercase hex digits.
    pub id: String,
    /// Name.
    pub name: String,
    /// Region name.
    pub region: String,
    /// Rules.
    pub rules: Vec<FakeFirewallRule>,
    /// Creation time.
    pub created: jiff::Timestamp,
}

#[derive(Debug, Clone)]
pub(crate) struct InstanceRecord {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) region: &'static catalog::CatalogRegion,
    pub(crate) instance_type: &'static catalog::CatalogInstanceType,
    pub(crate) ssh_key_names: Vec<String>,
    pub(crate) file_system_names: Vec<String>,
    pub(crate) tags: Vec<FakeTag>,
    pub(crate) hostname: Option<String>,
    pub(crate) ip: String,
    pub(crate) private_ip: String,
    pub(crate) jupyter_token: String,
    pub(crate) user_data: Option<String>,
    pub(crate) firewall_rulesets: Vec<String>,
    pub(crate) image: Option<FakeImageSpec>,
    /// When the first boot completes; network details are reported from then on.
    pub(crate) first_active_at: Instant,
    /// Whether launching used capacity (seeded instances do not), so terminating returns it.
    pub(crate) holds_capacity: bool,
    pub(crate) phase: Timeline<FakeInstanceStatus>,
}

/// Lifecycle delays, fixed when the fake starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) boot_delay: Duration,
    pub(crate) terminate_delay: Duration,
    pub(crate) gone_after: Duration,
}

impl Timing {
    /// Launch or restart at `now`: `booting`, then `active` after the boot delay.
    pub(crate) fn booting(self, now: Instant) -> Timeline<FakeInstanceStatus> {
        Timeline::starting(now, FakeInstanceStatus::Booting)
            .then(self.boot_delay, FakeInstanceStatus::Active)
    }

    /// Terminate at `now`: `terminating`, `terminated` after the terminate delay, then gone.
    pub(crate) fn ending(self, now: Instant) -> Timeline<FakeInstanceStatus> {
        Timeline::starting(now, FakeInstanceStatus::Terminating)
            .then(self.terminate_delay, FakeInstanceStatus::Terminated)
            .then_gone(self.gone_after)
    }
}

impl InstanceRecord {
    /// Status at `now`; `None` once the instance is gone.
    pub(crate) fn status(&self, now: Instant) -> Option<FakeInstanceStatus> {
        self.phase.at(now)
    }

    pub(crate) fn has_network(&self, now: Instant) -> bool {
        now >= self.first_active_at
    }

    fn snapshot(&self, status: FakeInstanceStatus) -> FakeInstance {
        FakeInstance {
            id: self.id.clone(),
            name: self.name.clone(),
            region: self.region.name.to_owned(),
            instance_type: self.instance_type.name.to_owned(),
            status,
            ssh_key_names: self.ssh_key_names.clone(),
            file_system_names: self.file_system_names.clone(),
            tags: self.tags.clone(),
            hostname: self.hostname.clone(),
            ip: self.ip.clone(),
            private_ip: self.private_ip.clone(),
            user_data: self.user_data.clone(),
            firewall_rulesets: self.firewall_rulesets.clone(),
            image: self.image.clone(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) instances: BTreeMap<u64, InstanceRecord>,
    pub(crate) by_id: HashMap<String, u64>,
    next_seq: u64,
    next_address: u32,
    pub(crate) ssh_keys: Vec<FakeSshKey>,
    pub(crate) capacity: Capacity,
    pub(crate) rulesets: Vec<FakeFirewallRuleset>,
    pub(crate) global_rules: Vec<FakeFirewallRule>,
    /// At most this many instances may hold capacity at once (the account's quota).
    pub(crate) instance_quota: Option<usize>,
    general: TokenBucket,
    launch: TokenBucket,
}

impl Inner {
    fn new(now: Instant) -> Self {
        let capacity = Capacity::uniform(
            DEFAULT_CAPACITY_REGIONS,
            &catalog::INSTANCE_TYPES
                .iter()
                .map(|t| t.name)
                .collect::<Vec<_>>(),
            DEFAULT_CAPACITY,
        );
        Self {
            instances: BTreeMap::new(),
            by_id: HashMap::new(),
            next_seq: 0,
            next_address: 0,
            ssh_keys: Vec::new(),
            capacity,
            rulesets: Vec::new(),
            instance_quota: None,
            global_rules: vec![FakeFirewallRule {
                protocol: "tcp".to_owned(),
                port_range: Some((22, 22)),
                source_network: "0.0.0.0/0".to_owned(),
                description: "Allow SSH from anywhere".to_owned(),
            }],
            general: TokenBucket::new(GENERAL_BURST, GENERAL_RATE_PER_SEC, now),
            launch: TokenBucket::new(1.0, 1.0 / LAUNCH_INTERVAL.as_secs_f64(), now),
        }
    }

    /// Drops instances that are gone.
    pub(crate) fn purge(&mut self, now: Instant) {
        let gone: Vec<u64> = self
            .instances
            .iter()
            .filter(|(_, r)| r.status(now).is_none())
            .map(|(seq, _)| *seq)
            .collect();
        for seq in gone {
            if let Some(record) = self.instances.remove(&seq) {
                self.by_id.remove(&record.id);
            }
        }
    }

    /// The record with this id and its status, unless absent or gone.
    pub(crate) fn find(
        &mut self,
        id: &str,
        now: Instant,
    ) -> Option<(&mut InstanceRecord, FakeInstanceStatus)> {
        let seq = *self.by_id.get(id)?;
        let status = self.instances.get(&seq)?.status(now);
        if let Some(status) = status {
            self.instances.get_mut(&seq).map(|r| (r, status))
        } else {
            self.instances.remove(&seq);
            self.by_id.remove(id);
            None
        }
    }

    /// Public and private addresses for a new instance.
    pub(crate) fn allocate_addresses(&mut self) -> (String, String) {
        self.next_address = self.next_address.wrapping_add(1);
        let n = self.next_address;
        // 198.18.0.0/15 (benchmarking range, never routed) and 10.0.0.0/8.
        let public = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + (n % (1 << 17)));
        let private = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 0)) + (n % (1 << 24)));
        (public.to_string(), private.to_string())
    }

    pub(crate) fn insert_instance(&mut self, record: InstanceRecord) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_id.insert(record.id.clone(), seq);
        self.instances.insert(seq, record);
    }

    /// Applies the published rate limits; `Err(retry_after_secs)` when over the limit.
    pub(crate) fn check_rate_limit(&mut self, is_launch: bool, now: Instant) -> Result<(), u64> {
        if is_launch {
            take_all(&mut [&mut self.general, &mut self.launch], now)
        } else {
            self.general.take(now)
        }
    }
}

/// New Lambda-style identifier: 32 lowercase hex digits.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Inspection and control of a running fake's state. Cheap to clone; all clones share the
/// same state.
#[derive(Debug, Clone)]
pub struct FakeLambdaState {
    inner: Arc<Mutex<Inner>>,
    pub(crate) timing: Timing,
    faults: Faults<Operation>,
    requests: RequestLog,
    /// See [`crate::lambda::FakeLambdaOptions::rulesets_in_use_until_gone`].
    rulesets_in_use_until_gone: bool,
}

impl FakeLambdaState {
    pub(crate) fn new(timing: Timing) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner::new(Instant::now()))),
            timing,
            faults: Faults::new(),
            requests: RequestLog::new(),
            rulesets_in_use_until_gone: false,
        }
    }

    /// Keeps rulesets in use while a terminating or terminated instance still references them.
    pub(crate) fn with_rulesets_in_use_until_gone(mut self, on: bool) -> Self {
        self.rulesets_in_use_until_gone = on;
        self
    }

    /// True when `instance` holds its rulesets: while it is not ending, or, with
    /// `rulesets_in_use_until_gone`, for as long as it is listed at all.
    pub(crate) fn holds_rulesets(&self, instance: &FakeInstance) -> bool {
        self.rulesets_in_use_until_gone || !ending(instance.status)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every instance the API still lists, including terminating and terminated ones that
    /// are not yet gone, in launch order.
    pub fn instances(&self) -> Vec<FakeInstance> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.purge(now);
        inner
            .instances
            .values()
            .filter_map(|r| r.status(now).map(|s| r.snapshot(s)))
            .collect()
    }

    /// One instance by id, unless absent or gone.
    pub fn instance(&self, id: &str) -> Option<FakeInstance> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner
            .find(id, now)
            .map(|(record, status)| record.snapshot(status))
    }

    /// Every SSH key in the account, in creation order.
    pub fn ssh_keys(&self) -> Vec<FakeSshKey> {
        self.lock().ssh_keys.clone()
    }

    /// Adds an SSH key directly (as if created in the console) and returns its id.
    /// A key with the same name is replaced.
    pub fn add_ssh_key(&self, name: &str, public_key: &str) -> String {
        let id = new_id();
        let mut inner = self.lock();
        inner.ssh_keys.retain(|k| k.name != name);
        inner.ssh_keys.push(FakeSshKey {
            id: id.clone(),
            name: name.to_owned(),
            public_key: public_key.to_owned(),
        });
        id
    }

    /// Deletes the SSH key named `name` directly (as if deleted in the console). Returns false
    /// if there was none.
    pub fn remove_ssh_key(&self, name: &str) -> bool {
        let mut inner = self.lock();
        let before = inner.ssh_keys.len();
        inner.ssh_keys.retain(|k| k.name != name);
        inner.ssh_keys.len() != before
    }

    /// Every firewall ruleset in the account, in creation order.
    pub fn firewall_rulesets(&self) -> Vec<FakeFirewallRuleset> {
        self.lock().rulesets.clone()
    }

    /// The rules of the global firewall ruleset (also served by `/api/v1/firewall-rules`).
    pub fn global_firewall_rules(&self) -> Vec<FakeFirewallRule> {
        self.lock().global_rules.clone()
    }

    /// Sets how many more instances of `instance_type` can launch in `region`. At start every
    /// type has [`DEFAULT_CAPACITY`] in each of [`DEFAULT_CAPACITY_REGIONS`] and none
    /// elsewhere. Launching uses one; terminating gives it back.
    pub fn set_capacity(&self, region: &str, instance_type: &str, count: u32) {
        self.lock().capacity.set(region, instance_type, count);
    }

    /// Remaining capacity of `instance_type` in `region`.
    pub fn capacity(&self, region: &str, instance_type: &str) -> u32 {
        self.lock().capacity.get(region, instance_type)
    }

    /// Limits how many launched instances the account may have at once (`None`: no limit); a
    /// launch past it is refused with Lambda's `global/quota-exceeded`.
    pub fn set_instance_quota(&self, quota: Option<u32>) {
        self.lock().instance_quota = quota.map(|q| q as usize);
    }

    /// Sets every region's capacity of every instance type to 0.
    pub fn clear_capacity(&self) {
        self.lock().capacity.clear();
    }

    crate::kit::fault_and_request_controls!(Operation, "/api/v1/instances");

    /// Adds `n` active instances of `instance_type` in `region` (without using capacity or
    /// SSH keys: each gets the key name `seed-key`) and returns their ids. For list
    /// benchmarks. Unknown region or type names are refused with `None`.
    pub fn seed_instances(
        &self,
        n: usize,
        region: &str,
        instance_type: &str,
    ) -> Option<Vec<String>> {
        let region = catalog::region(region)?;
        let instance_type = catalog::instance_type(instance_type)?;
        let now = Instant::now();
        let mut inner = self.lock();
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let id = new_id();
            let (ip, private_ip) = inner.allocate_addresses();
            inner.insert_instance(InstanceRecord {
                id: id.clone(),
                name: Some(format!("seed-{i}")),
                region,
                instance_type,
                ssh_key_names: vec!["seed-key".to_owned()],
                file_system_names: Vec::new(),
                tags: Vec::new(),
                hostname: None,
                ip,
                private_ip,
                jupyter_token: new_id(),
                user_data: None,
                firewall_rulesets: Vec::new(),
                image: None,
                first_active_at: now,
                holds_capacity: false,
                phase: Timeline::starting(now, FakeInstanceStatus::Active),
            });
            ids.push(id);
        }
        Some(ids)
    }

    /// Pins an instance's status (e.g. `Unhealthy` or `Preempted`) until it is restarted or
    /// terminated through the API. Returns false if the instance is absent or gone.
    pub fn set_instance_status(&self, id: &str, status: FakeInstanceStatus) -> bool {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.find(id, now) {
            Some((record, _)) => {
                record.phase = Timeline::fixed(status);
                true
            }
            None => false,
        }
    }

    /// Removes an instance at once, as if it had been gone for a while. Returns false if it
    /// was absent.
    pub fn remove_instance(&self, id: &str) -> bool {
        let mut inner = self.lock();
        match inner.by_id.remove(id) {
            Some(seq) => inner.instances.remove(&seq).is_some(),
            None => false,
        }
    }
}

/// Whether an instance in this status may be restarted.
pub(crate) fn restartable(status: FakeInstanceStatus) -> bool {
    matches!(
        status,
        FakeInstanceStatus::Active | FakeInstanceStatus::Unhealthy
    )
}

/// Whether an instance in this status is on its way out (terminate is a no-op or refused).
pub(crate) fn ending(status: FakeInstanceStatus) -> bool {
    status.is_ending()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing {
            boot_delay: Duration::from_secs(2),
            terminate_delay: Duration::from_secs(1),
            gone_after: Duration::from_secs(5),
        }
    }

    #[test]
    fn bucket_allows_burst_then_throttles() {
        let now = Instant::now();
        let mut inner = Inner::new(now);
        for _ in 0..GENERAL_BURST as usize {
            assert!(inner.check_rate_limit(false, now).is_ok());
        }
        assert_eq!(inner.check_rate_limit(false, now), Err(1));
        assert!(
            inner
                .check_rate_limit(false, now + Duration::from_secs(1))
                .is_ok()
        );
    }

    #[test]
    fn launch_bucket_spaces_launches() {
        let now = Instant::now();
        let mut inner = Inner::new(now);
        assert!(inner.check_rate_limit(true, now).is_ok());
        assert_eq!(inner.check_rate_limit(true, now), Err(12));
        assert!(inner.check_rate_limit(false, now).is_ok());
    }

    #[test]
    fn ending_phase_goes_terminating_terminated_gone() {
        let state = FakeLambdaState::new(timing());
        let ids = state.seed_instances(1, "us-west-1", "gpu_1x_a10").unwrap();
        let now = Instant::now();
        let mut inner = state.lock();
        let (record, status) = inner.find(&ids[0], now).unwrap();
        assert_eq!(status, FakeInstanceStatus::Active);
        record.phase = timing().ending(now);
        let record = record.clone();
        assert_eq!(record.status(now), Some(FakeInstanceStatus::Terminating));
        assert_eq!(
            record.status(now + Duration::from_secs(1)),
            Some(FakeInstanceStatus::Terminated)
        );
        assert_eq!(record.status(now + Duration::from_secs(6)), None);
    }

    #[test]
    fn seed_refuses_unknown_names() {
        let state = FakeLambdaState::new(timing());
        assert!(state.seed_instances(1, "mars-1", "gpu_1x_a10").is_none());
        assert!(state.seed_instances(1, "us-west-1", "gpu_99x").is_none());
        assert_eq!(
            state
                .seed_instances(3, "us-west-1", "gpu_1x_a10")
                .unwrap()
                .len(),
            3
        );
        assert_eq!(state.instances().len(), 3);
    }

    #[test]
    fn keys_are_removed_by_name_only() {
        let state = FakeLambdaState::new(timing());
        state.add_ssh_key("a", "ssh-ed25519 AAAA a");
        state.add_ssh_key("b", "ssh-ed25519 AAAA b");
        assert!(state.remove_ssh_key("a"));
        assert!(!state.remove_ssh_key("a"));
        let left: Vec<String> = state.ssh_keys().into_iter().map(|k| k.name).collect();
        assert_eq!(left, ["b"]);
    }
}
