//! The fake's account state: projects, instances per region, capacity, faults and request
//! counts. Instance state follows a [`Timeline`] computed from timestamps.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use super::catalog::{self, DEFAULT_CAPACITY};
use super::op::Operation;
use crate::kit::{Capacity, Faults, RequestLog, Timeline, TokenBucket};

/// An instance's state, as Fluidstack's `InstanceState` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FakeInstanceState {
    /// Being created; `running` (or `out-of-stock`) after the create delay.
    Creating,
    /// Starting after a start action.
    Starting,
    /// Running.
    Running,
    /// Stopping after a stop action.
    Stopping,
    /// Stopped.
    Stopped,
    /// Being deleted; gone after the delete delay.
    Deleting,
    /// Created while its type had no capacity in the region: it never runs.
    OutOfStock,
    /// Failed (only set by a test).
    Error,
}

impl FakeInstanceState {
    /// The API's name, e.g. `out-of-stock`.
    pub fn as_str(self) -> &'static str {
        match self {
            FakeInstanceState::Creating => "creating",
            FakeInstanceState::Starting => "starting",
            FakeInstanceState::Running => "running",
            FakeInstanceState::Stopping => "stopping",
            FakeInstanceState::Stopped => "stopped",
            FakeInstanceState::Deleting => "deleting",
            FakeInstanceState::OutOfStock => "out-of-stock",
            FakeInstanceState::Error => "error",
        }
    }
}

/// A project, as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeProject {
    /// Project id.
    pub id: Uuid,
    /// Project name.
    pub name: String,
    /// Project tags.
    pub tags: BTreeMap<String, String>,
}

/// A snapshot of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeInstance {
    /// Instance id.
    pub id: Uuid,
    /// The project it belongs to.
    pub project: Uuid,
    /// The region it runs in.
    pub region: String,
    /// Name.
    pub name: String,
    /// Instance type name.
    pub instance_type: String,
    /// State now.
    pub state: FakeInstanceState,
    /// Private IPv4 address, once it first ran.
    pub ip: Option<String>,
    /// Image, e.g. `image://ubuntu22.04`.
    pub image: String,
    /// Preemptible.
    pub preemptible: bool,
    /// Ephemeral.
    pub ephemeral: bool,
    /// User data as sent (base64).
    pub user_data: Option<String>,
    /// Attached filesystem ids.
    pub filesystems: Vec<Uuid>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// Lifecycle delays, fixed when the fake starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) create: Duration,
    pub(crate) start: Duration,
    pub(crate) stop: Duration,
    pub(crate) delete: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct InstanceRecord {
    pub(crate) snapshot: FakeInstance,
    pub(crate) timeline: Timeline<FakeInstanceState>,
    /// From when the address is reported (`None`: never, an out-of-stock instance).
    pub(crate) ip_from: Option<Instant>,
    /// Whether it holds one unit of its region's capacity, given back on delete.
    pub(crate) holds_capacity: bool,
}

impl InstanceRecord {
    /// The instance at `now`; `None` once gone.
    pub(crate) fn at(&self, now: Instant) -> Option<FakeInstance> {
        let state = self.timeline.at(now)?;
        let mut instance = self.snapshot.clone();
        instance.state = state;
        if self.ip_from.is_none_or(|from| from > now) {
            instance.ip = None;
        }
        Some(instance)
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) projects: Vec<FakeProject>,
    /// Instances in creation order.
    pub(crate) instances: Vec<InstanceRecord>,
    pub(crate) capacity: Capacity,
    pub(crate) bucket: Option<TokenBucket>,
    next_address: u32,
    /// The answers `GET /instances` gives while lists are frozen, by project and region
    /// ([`FakeFluidstackState::freeze_instance_lists`]).
    pub(crate) frozen_lists: Option<BTreeMap<(Uuid, String), bytes::Bytes>>,
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

    pub(crate) fn project(&self, id: Uuid) -> Option<&FakeProject> {
        self.projects.iter().find(|p| p.id == id)
    }

    /// A private address for a new instance, in 10.0.0.0/8.
    pub(crate) fn allocate_address(&mut self) -> String {
        self.next_address = self.next_address.wrapping_add(1);
        let n = self.next_address % (1 << 24);
        Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 1)) + n).to_string()
    }

    /// Removes instances matching `doomed` at once, giving their capacity back.
    pub(crate) fn remove_where(&mut self, doomed: impl Fn(&InstanceRecord) -> bool) -> usize {
        let mut removed = 0;
        let mut kept = Vec::with_capacity(self.instances.len());
        for record in std::mem::take(&mut self.instances) {
            if doomed(&record) {
                if record.holds_capacity {
                    self.capacity
                        .give_back(&record.snapshot.region, &record.snapshot.instance_type);
                }
                removed += 1;
            } else {
                kept.push(record);
            }
        }
        self.instances = kept;
        removed
    }
}

/// Inspection and control of a running fake's state. Cheap to clone; all clones share the
/// same state.
#[derive(Debug, Clone)]
pub struct FakeFluidstackState {
    inner: Arc<Mutex<Inner>>,
    pub(crate) timing: Timing,
    regions: Arc<Vec<String>>,
    default_project: Uuid,
    faults: Faults<Operation>,
    requests: RequestLog,
}

impl FakeFluidstackState {
    pub(crate) fn new(
        timing: Timing,
        regions: Vec<String>,
        project_name: &str,
        bucket: Option<TokenBucket>,
    ) -> Self {
        let default_project = Uuid::new_v4();
        let region_names: Vec<&str> = regions.iter().map(String::as_str).collect();
        let type_names: Vec<&str> = catalog::INSTANCE_TYPES.iter().map(|t| t.name).collect();
        let inner = Inner {
            projects: vec![FakeProject {
                id: default_project,
                name: project_name.to_owned(),
                tags: BTreeMap::new(),
            }],
            instances: Vec::new(),
            capacity: Capacity::uniform(&region_names, &type_names, DEFAULT_CAPACITY),
            bucket,
            next_address: 0,
            frozen_lists: None,
        };
        Self {
            inner: Arc::new(Mutex::new(inner)),
            timing,
            regions: Arc::new(regions),
            default_project,
            faults: Faults::new(),
            requests: RequestLog::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The regions the fake serves.
    pub fn regions(&self) -> &[String] {
        &self.regions
    }

    /// Whether the fake serves `region`.
    pub fn serves(&self, region: &str) -> bool {
        self.regions.iter().any(|r| r == region)
    }

    /// The project that exists from the start.
    pub fn project_id(&self) -> Uuid {
        self.default_project
    }

    /// Every project.
    pub fn projects(&self) -> Vec<FakeProject> {
        self.lock().projects.clone()
    }

    /// Adds a project and returns its id.
    pub fn add_project(&self, name: &str) -> Uuid {
        let id = Uuid::new_v4();
        self.lock().projects.push(FakeProject {
            id,
            name: name.to_owned(),
            tags: BTreeMap::new(),
        });
        id
    }

    /// Every instance not yet gone, in every project and region, in creation order.
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

    /// Pins an instance's state (e.g. `Error`) until an action changes it. False if the
    /// instance is absent or gone.
    pub fn set_instance_state(&self, id: Uuid, state: FakeInstanceState) -> bool {
        let mut inner = self.lock();
        match inner.find(id, Instant::now()) {
            Some((record, _)) => {
                record.timeline = Timeline::fixed(state);
                true
            }
            None => false,
        }
    }

    /// Adds `n` instances of `instance_type` in `region` to the default project, already
    /// `running` (no capacity taken), named `seed-<i>`, each with `tags` and `user_data`
    /// (base64, as the API stores it): large lists for benchmarks. Returns their ids in order;
    /// `None` when the fake does not serve `region` or the type is unknown.
    pub fn seed_instances(
        &self,
        n: usize,
        region: &str,
        instance_type: &str,
        tags: &BTreeMap<String, String>,
        user_data: Option<&str>,
    ) -> Option<Vec<Uuid>> {
        let instance_type = catalog::instance_type(instance_type)?;
        if !self.serves(region) {
            return None;
        }
        let project = self.default_project;
        let mut inner = self.lock();
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let id = Uuid::new_v4();
            let ip = inner.allocate_address();
            inner.instances.push(InstanceRecord {
                snapshot: FakeInstance {
                    id,
                    project,
                    region: region.to_owned(),
                    name: format!("seed-{i}"),
                    instance_type: instance_type.name.to_owned(),
                    state: FakeInstanceState::Running,
                    ip: Some(ip),
                    image: super::api::DEFAULT_IMAGE.to_owned(),
                    preemptible: false,
                    ephemeral: false,
                    user_data: user_data.map(str::to_owned),
                    filesystems: Vec::new(),
                    tags: tags.clone(),
                },
                timeline: Timeline::fixed(FakeInstanceState::Running),
                ip_from: Some(Instant::now()),
                holds_capacity: false,
            });
            ids.push(id);
        }
        Some(ids)
    }

    /// Freezes `GET /instances`: from now on every project's list in every region is the JSON
    /// it is at this moment, serialized once here, whatever changes, until
    /// [`Self::thaw_instance_lists`]. For benchmarks of a client's own cost: a list answer is
    /// then bytes the fake already holds, so neither its time nor its memory is the fake's.
    pub fn freeze_instance_lists(&self) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.purge(now);
        let mut frozen = BTreeMap::new();
        for project in inner.projects.iter().map(|p| p.id) {
            for region in self.regions.iter() {
                let instances: Vec<FakeInstance> = inner
                    .instances
                    .iter()
                    .filter(|rec| rec.snapshot.project == project && &rec.snapshot.region == region)
                    .filter_map(|rec| rec.at(now))
                    .collect();
                frozen.insert((project, region.clone()), super::api::list_body(&instances));
            }
        }
        inner.frozen_lists = Some(frozen);
    }

    /// Ends [`Self::freeze_instance_lists`]: lists show the state again.
    pub fn thaw_instance_lists(&self) {
        self.lock().frozen_lists = None;
    }

    /// Removes an instance at once, as if its deletion had completed. False if absent.
    pub fn remove_instance(&self, id: Uuid) -> bool {
        self.lock().remove_where(|r| r.snapshot.id == id) > 0
    }

    /// Sets how many more instances of `instance_type` can be created in `region`. At
    /// start every type has [`DEFAULT_CAPACITY`] in every served region. Creating
    /// takes one (with none left the instance ends `out-of-stock`); deleting gives it back.
    pub fn set_capacity(&self, region: &str, instance_type: &str, count: u32) {
        self.lock().capacity.set(region, instance_type, count);
    }

    /// Remaining capacity of `instance_type` in `region`.
    pub fn capacity(&self, region: &str, instance_type: &str) -> u32 {
        self.lock().capacity.get(region, instance_type)
    }

    /// No capacity of any type in any region.
    pub fn clear_capacity(&self) {
        self.lock().capacity.clear();
    }

    crate::kit::fault_and_request_controls!(Operation, "/us-east-1/api/v1alpha1/instances");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> FakeFluidstackState {
        let ms = Duration::from_millis;
        FakeFluidstackState::new(
            Timing {
                create: ms(10),
                start: ms(10),
                stop: ms(10),
                delete: ms(10),
            },
            vec!["r1".into(), "r2".into()],
            "default",
            None,
        )
    }

    #[test]
    fn seeded_instances_run_at_once_without_taking_capacity() {
        let state = state();
        let tags = BTreeMap::from([("k".to_owned(), "v".to_owned())]);
        let ids = state
            .seed_instances(3, "r1", "h100-hgx-80gb.8x", &tags, Some("dQ=="))
            .unwrap();
        assert_eq!(ids.len(), 3);
        let seen = state.instances();
        assert!(seen.iter().all(|i| i.state == FakeInstanceState::Running
            && i.ip.is_some()
            && i.tags == tags
            && i.user_data.as_deref() == Some("dQ==")));
        assert_eq!(state.capacity("r1", "h100-hgx-80gb.8x"), DEFAULT_CAPACITY);
        assert!(
            state
                .seed_instances(1, "r3", "h100-hgx-80gb.8x", &tags, None)
                .is_none()
        );
        assert!(state.seed_instances(1, "r1", "nope", &tags, None).is_none());
    }

    #[test]
    fn starts_with_one_project_and_capacity_in_every_region() {
        let state = state();
        assert_eq!(state.projects().len(), 1);
        assert_eq!(state.projects()[0].id, state.project_id());
        for region in ["r1", "r2"] {
            assert_eq!(state.capacity(region, "h100-hgx-80gb.8x"), DEFAULT_CAPACITY);
        }
        assert_eq!(state.capacity("r3", "h100-hgx-80gb.8x"), 0);
        assert!(state.serves("r2") && !state.serves("r3"));
    }

    #[test]
    fn addresses_are_private_and_distinct() {
        let state = state();
        let mut inner = state.lock();
        let a = inner.allocate_address();
        let b = inner.allocate_address();
        assert_ne!(a, b);
        assert!(a.starts_with("10."), "{a}");
    }
}
