//! The fake's account state: OAuth2 tokens, instances, SSH keys, startup scripts, volumes,
//! capacity, faults and request counts. Instance status follows a [`Timeline`] computed from
//! timestamps.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use super::catalog::{self, DEFAULT_CAPACITY};
use super::op::Operation;
use crate::kit::{Capacity, Faults, RequestLog, Timeline, TokenBucket};

/// An instance's status, as Verda's API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FakeStatus {
    /// Just accepted (only set by a test).
    New,
    /// Ordered: the create was accepted, no machine yet.
    Ordered,
    /// A machine is being set up (also on the way back from `offline`).
    Provisioning,
    /// Checked before it runs (only set by a test).
    Validating,
    /// Running, with an address.
    Running,
    /// Shut down; its volumes kept.
    Offline,
    /// A spot instance reclaimed by Verda (only set by a test).
    Discontinued,
    /// Being deleted.
    Deleting,
    /// Failed.
    Error,
    /// Accepted, but no machine was free for it.
    NoCapacity,
}

impl FakeStatus {
    /// The API's name, e.g. `no_capacity`.
    pub fn as_str(self) -> &'static str {
        match self {
            FakeStatus::New => "new",
            FakeStatus::Ordered => "ordered",
            FakeStatus::Provisioning => "provisioning",
            FakeStatus::Validating => "validating",
            FakeStatus::Running => "running",
            FakeStatus::Offline => "offline",
            FakeStatus::Discontinued => "discontinued",
            FakeStatus::Deleting => "deleting",
            FakeStatus::Error => "error",
            FakeStatus::NoCapacity => "no_capacity",
        }
    }
}

/// A snapshot of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeInstance {
    /// Instance id.
    pub id: Uuid,
    /// Instance type, e.g. `1H100.80S.30V`.
    pub instance_type: String,
    /// Location code.
    pub location: String,
    /// Host name.
    pub hostname: String,
    /// Description, as sent.
    pub description: String,
    /// Status now.
    pub status: FakeStatus,
    /// Public address, once running.
    pub ip: Option<String>,
    /// The image it booted.
    pub image: String,
    /// SSH keys it was created with.
    pub ssh_key_ids: Vec<String>,
    /// The startup script it was created with.
    pub startup_script_id: Option<String>,
    /// Its OS volume.
    pub os_volume_id: Option<String>,
    /// A spot instance.
    pub is_spot: bool,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// An SSH key of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSshKey {
    /// Key id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// The public key as added.
    pub key: String,
}

/// A startup script of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeScript {
    /// Script id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// The script text.
    pub script: String,
}

/// A volume of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeVolume {
    /// Volume id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Size in GB.
    pub size_gb: u32,
    /// Location code.
    pub location: String,
    /// The instance it is attached to.
    pub instance_id: Option<Uuid>,
    /// An instance's OS volume.
    pub is_os_volume: bool,
    /// What happens to it when its spot instance is discontinued.
    pub on_spot_discontinue: Option<String>,
}

/// Lifecycle and token timings, fixed when the fake starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) ordered: Duration,
    pub(crate) provisioning: Duration,
    pub(crate) shutdown: Duration,
    pub(crate) start: Duration,
    pub(crate) deleting: Duration,
    pub(crate) token_lifetime: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct InstanceRecord {
    pub(crate) snapshot: FakeInstance,
    pub(crate) timeline: Timeline<FakeStatus>,
    /// Whether it holds one unit of capacity, given back on delete.
    pub(crate) holds_capacity: bool,
}

impl InstanceRecord {
    /// The instance at `now`; `None` once gone.
    pub(crate) fn at(&self, now: Instant) -> Option<FakeInstance> {
        let status = self.timeline.at(now)?;
        let mut instance = self.snapshot.clone();
        instance.status = status;
        if !shows_address(status) {
            instance.ip = None;
        }
        Some(instance)
    }
}

/// Whether an instance in `status` has its public address.
pub(crate) fn shows_address(status: FakeStatus) -> bool {
    matches!(
        status,
        FakeStatus::Running | FakeStatus::Offline | FakeStatus::Provisioning | FakeStatus::Deleting
    )
}

/// One OAuth2 token the fake issued.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IssuedToken {
    pub(crate) expires_at: Instant,
    pub(crate) refresh: bool,
}

#[derive(Debug)]
pub(crate) struct Inner {
    /// Instances in creation order.
    pub(crate) instances: Vec<InstanceRecord>,
    pub(crate) keys: Vec<FakeSshKey>,
    pub(crate) scripts: Vec<FakeScript>,
    pub(crate) volumes: Vec<FakeVolume>,
    /// Volumes deleted without `delete_permanently`: gone from `/volumes`, still billed.
    pub(crate) trash: Vec<FakeVolume>,
    /// On-demand capacity per (location, type).
    pub(crate) capacity: Capacity,
    /// Spot capacity per (location, type).
    pub(crate) spot_capacity: Capacity,
    /// Access and refresh tokens by their text.
    pub(crate) tokens: HashMap<String, IssuedToken>,
    pub(crate) tokens_issued: usize,
    /// The status new instances are pinned at instead of their lifecycle (a test's knob).
    pub(crate) launch_outcome: Option<FakeStatus>,
    pub(crate) bucket: Option<TokenBucket>,
    next_address: u32,
}

impl Inner {
    /// Drops instances that are gone.
    pub(crate) fn purge(&mut self, now: Instant) {
        self.instances.retain(|r| r.timeline.at(now).is_some());
    }

    /// The record with this id and the instance now, unless absent or gone.
    pub(crate) fn find(
        &mut self,
        id: &str,
        now: Instant,
    ) -> Option<(&mut InstanceRecord, FakeInstance)> {
        let id = Uuid::parse_str(id).ok()?;
        self.purge(now);
        let record = self.instances.iter_mut().find(|r| r.snapshot.id == id)?;
        let instance = record.at(now)?;
        Some((record, instance))
    }

    /// The capacity of a usage class.
    pub(crate) fn capacity_of(&mut self, spot: bool) -> &mut Capacity {
        if spot {
            &mut self.spot_capacity
        } else {
            &mut self.capacity
        }
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

    /// Issues an access token and a refresh token valid for `lifetime`.
    pub(crate) fn issue_tokens(&mut self, now: Instant, lifetime: Duration) -> (String, String) {
        let access = format!("fake-verda-access-{}", Uuid::new_v4().simple());
        let refresh = format!("fake-verda-refresh-{}", Uuid::new_v4().simple());
        self.tokens.insert(
            access.clone(),
            IssuedToken {
                expires_at: now + lifetime,
                refresh: false,
            },
        );
        // A refresh token outlives its access token, as OAuth2 servers do.
        self.tokens.insert(
            refresh.clone(),
            IssuedToken {
                expires_at: now + lifetime * 4,
                refresh: true,
            },
        );
        self.tokens_issued += 1;
        self.tokens.retain(|_, t| t.expires_at > now);
        (access, refresh)
    }

    /// Whether `token` is an access token that has not expired.
    pub(crate) fn access_token_valid(&self, token: &str, now: Instant) -> bool {
        self.tokens
            .get(token)
            .is_some_and(|t| !t.refresh && t.expires_at > now)
    }

    /// Uses up a refresh token; true when it was valid.
    pub(crate) fn redeem_refresh_token(&mut self, token: &str, now: Instant) -> bool {
        match self.tokens.get(token) {
            Some(t) if t.refresh && t.expires_at > now => {
                self.tokens.remove(token);
                true
            }
            _ => false,
        }
    }
}

/// Inspection and control of a running fake's state. Cheap to clone; all clones share the
/// same state.
#[derive(Debug, Clone)]
pub struct FakeVerdaState {
    inner: Arc<Mutex<Inner>>,
    pub(crate) timing: Timing,
    /// The only client credentials the token endpoint accepts.
    pub(crate) client_id: Arc<str>,
    pub(crate) client_secret: Arc<str>,
    faults: Faults<Operation>,
    requests: RequestLog,
}

impl FakeVerdaState {
    pub(crate) fn new(timing: Timing, client: (&str, &str), bucket: Option<TokenBucket>) -> Self {
        let mut capacity = Capacity::new();
        let mut spot_capacity = Capacity::new();
        for t in catalog::TYPES {
            for location in t.locations {
                capacity.set(location, t.instance_type, DEFAULT_CAPACITY);
                if t.spot_milli_usd > 0 {
                    spot_capacity.set(location, t.instance_type, DEFAULT_CAPACITY);
                }
            }
        }
        let inner = Inner {
            instances: Vec::new(),
            keys: Vec::new(),
            scripts: Vec::new(),
            volumes: Vec::new(),
            trash: Vec::new(),
            capacity,
            spot_capacity,
            tokens: HashMap::new(),
            tokens_issued: 0,
            launch_outcome: None,
            bucket,
            next_address: 0,
        };
        Self {
            inner: Arc::new(Mutex::new(inner)),
            timing,
            client_id: client.0.into(),
            client_secret: client.1.into(),
            faults: Faults::new(),
            requests: RequestLog::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every instance not yet gone, in creation order (`deleting` ones included).
    pub fn instances(&self) -> Vec<FakeInstance> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.purge(now);
        inner.instances.iter().filter_map(|r| r.at(now)).collect()
    }

    /// One instance, unless absent or gone.
    pub fn instance(&self, id: &str) -> Option<FakeInstance> {
        self.lock().find(id, Instant::now()).map(|(_, i)| i)
    }

    /// Every SSH key of the account.
    pub fn ssh_keys(&self) -> Vec<FakeSshKey> {
        self.lock().keys.clone()
    }

    /// Adds a key as if through the console; returns its id.
    pub fn add_ssh_key(&self, name: &str, key: &str) -> Uuid {
        let id = Uuid::new_v4();
        self.lock().keys.push(FakeSshKey {
            id,
            name: name.to_owned(),
            key: key.to_owned(),
        });
        id
    }

    /// Deletes SSH key `id`, as a user does; true when it was held.
    pub fn remove_ssh_key(&self, id: Uuid) -> bool {
        let mut inner = self.lock();
        let before = inner.keys.len();
        inner.keys.retain(|k| k.id != id);
        inner.keys.len() != before
    }

    /// Every startup script of the account.
    pub fn scripts(&self) -> Vec<FakeScript> {
        self.lock().scripts.clone()
    }

    /// Deletes startup script `id`, as a user does; true when it was held.
    pub fn remove_script(&self, id: Uuid) -> bool {
        let mut inner = self.lock();
        let before = inner.scripts.len();
        inner.scripts.retain(|s| s.id != id);
        inner.scripts.len() != before
    }

    /// Every volume of the account (attached and detached).
    pub fn volumes(&self) -> Vec<FakeVolume> {
        self.lock().volumes.clone()
    }

    /// Volumes deleted with their instance but not permanently: in Verda's trash.
    pub fn trashed_volumes(&self) -> Vec<FakeVolume> {
        self.lock().trash.clone()
    }

    /// Deletes volume `id`, as a user does; true when it was held.
    pub fn remove_volume(&self, id: Uuid) -> bool {
        let mut inner = self.lock();
        let before = inner.volumes.len();
        inner.volumes.retain(|v| v.id != id);
        inner.volumes.len() != before
    }

    /// Pins an instance's status (e.g. `Error`, `NoCapacity`, `Discontinued`) until an
    /// action changes it. False if the instance is absent or gone.
    pub fn set_instance_status(&self, id: &str, status: FakeStatus) -> bool {
        let mut inner = self.lock();
        match inner.find(id, Instant::now()) {
            Some((record, _)) => {
                record.timeline = Timeline::fixed(status);
                true
            }
            None => false,
        }
    }

    /// Makes every instance created from now on sit in `status` (e.g. `NoCapacity`, `Error`)
    /// from the start, as an order Verda accepted but could not fulfil; `None` restores the
    /// normal lifecycle.
    pub fn set_launch_outcome(&self, status: Option<FakeStatus>) {
        self.lock().launch_outcome = status;
    }

    /// Forgets instance `id` at once (as Verda does once a delete has finished); true when it
    /// was held.
    pub fn remove_instance(&self, id: &str) -> bool {
        let mut inner = self.lock();
        let before = inner.instances.len();
        inner.instances.retain(|r| r.snapshot.id.to_string() != id);
        inner.instances.len() != before
    }

    /// Adds `n` running instances of `instance_type` in `location` at once, as if created
    /// long ago with `description` — for tests and benchmarks that need many instances
    /// without as many creates. They hold no capacity and have no OS volume, key or script.
    /// Host names `seed-<i>`; `None` when the type is not offered there.
    pub fn seed_instances(
        &self,
        n: usize,
        location: &str,
        instance_type: &str,
        description: &str,
    ) -> Option<Vec<Uuid>> {
        let offered = catalog::type_of(instance_type)?;
        if !offered.locations.contains(&location) {
            return None;
        }
        let created_at = jiff::Timestamp::now().to_string();
        let mut inner = self.lock();
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let id = Uuid::new_v4();
            let ip = inner.allocate_address();
            inner.instances.push(InstanceRecord {
                snapshot: FakeInstance {
                    id,
                    instance_type: instance_type.to_owned(),
                    location: location.to_owned(),
                    hostname: format!("seed-{i}"),
                    description: description.to_owned(),
                    status: FakeStatus::Running,
                    ip: Some(ip),
                    image: catalog::IMAGES[0].image_type.to_owned(),
                    ssh_key_ids: Vec::new(),
                    startup_script_id: None,
                    os_volume_id: None,
                    is_spot: false,
                    created_at: created_at.clone(),
                },
                timeline: Timeline::fixed(FakeStatus::Running),
                holds_capacity: false,
            });
            ids.push(id);
        }
        Some(ids)
    }

    /// Sets how many more instances of `instance_type` can be launched in `location`, on
    /// demand or as spot (availability follows). At start every type has
    /// [`DEFAULT_CAPACITY`] of each class it is sold as in each of its locations; a create
    /// takes one, a delete gives it back.
    pub fn set_capacity(&self, location: &str, instance_type: &str, spot: bool, count: u32) {
        self.lock()
            .capacity_of(spot)
            .set(location, instance_type, count);
    }

    /// Remaining capacity of `instance_type` in `location`, on demand or as spot.
    pub fn capacity(&self, location: &str, instance_type: &str, spot: bool) -> u32 {
        self.lock().capacity_of(spot).get(location, instance_type)
    }

    /// No capacity anywhere, of either class.
    pub fn clear_capacity(&self) {
        let mut inner = self.lock();
        inner.capacity.clear();
        inner.spot_capacity.clear();
    }

    /// Makes every token issued so far expire now: the next request with one is `401`.
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for token in self.lock().tokens.values_mut() {
            token.expires_at = now;
        }
    }

    /// How many token pairs the token endpoint has issued.
    pub fn tokens_issued(&self) -> usize {
        self.lock().tokens_issued
    }

    crate::kit::fault_and_request_controls!(Operation, "/v1/instances");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> FakeVerdaState {
        let ms = Duration::from_millis;
        FakeVerdaState::new(
            Timing {
                ordered: ms(10),
                provisioning: ms(10),
                shutdown: ms(10),
                start: ms(10),
                deleting: ms(10),
                token_lifetime: Duration::from_secs(60),
            },
            ("id", "secret"),
            None,
        )
    }

    #[test]
    fn capacity_is_per_usage_class_and_only_where_a_type_is_sold() {
        let state = state();
        assert_eq!(
            state.capacity("FIN-01", "1H100.80S.30V", false),
            DEFAULT_CAPACITY
        );
        assert_eq!(
            state.capacity("FIN-01", "1H100.80S.30V", true),
            DEFAULT_CAPACITY
        );
        assert_eq!(
            state.capacity("FIN-03", "4GB300.144V", true),
            0,
            "not sold as spot"
        );
        assert_eq!(
            state.capacity("ICE-01", "8B200.240V", false),
            0,
            "not sold there"
        );
        state.set_capacity("FIN-01", "1H100.80S.30V", true, 0);
        assert_eq!(
            state.capacity("FIN-01", "1H100.80S.30V", false),
            DEFAULT_CAPACITY
        );
    }

    #[test]
    fn tokens_expire_and_refresh_tokens_are_used_once() {
        let state = state();
        let now = Instant::now();
        let mut inner = state.lock();
        let (access, refresh) = inner.issue_tokens(now, Duration::from_secs(60));
        assert!(inner.access_token_valid(&access, now));
        assert!(
            !inner.access_token_valid(&refresh, now),
            "a refresh token is no access token"
        );
        assert!(!inner.access_token_valid(&access, now + Duration::from_secs(61)));
        assert!(inner.redeem_refresh_token(&refresh, now));
        assert!(!inner.redeem_refresh_token(&refresh, now));
        drop(inner);
        assert_eq!(state.tokens_issued(), 1);
        let (access, _) = state
            .lock()
            .issue_tokens(Instant::now(), Duration::from_secs(60));
        state.expire_tokens();
        assert!(!state.lock().access_token_valid(&access, Instant::now()));
    }

    #[test]
    fn seeded_instances_run_in_offered_locations_only() {
        let state = state();
        let ids = state
            .seed_instances(3, "FIN-01", "1A100.22V", "r_c")
            .unwrap();
        assert_eq!(ids.len(), 3);
        let seen = state.instances();
        assert!(
            seen.iter()
                .all(|i| i.status == FakeStatus::Running && i.ip.is_some())
        );
        assert!(
            state
                .seed_instances(1, "ICE-01", "8B200.240V", "")
                .is_none()
        );
        assert!(state.seed_instances(1, "FIN-01", "nope", "").is_none());
    }
}
