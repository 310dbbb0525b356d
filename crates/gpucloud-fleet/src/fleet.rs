//! [`Fleet`]: the engine's in-process API, and the scheduler that runs its loops.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use gpucloud::offers::{Offer, OfferQuery};
use serde::Serialize;
use tokio::sync::{Semaphore, broadcast};
use tokio_util::task::TaskTracker;

use crate::config::FleetConfig;
use crate::credentials::{Watched, inventory_key, partition_location, status_key};
use crate::error::{FleetError, Result};
use crate::metrics::{LoopKind, Metrics, MetricsSnapshot};
use crate::model::{
    CredentialInfo, Event, InstanceFilter, InstanceRecord, MAX_PAGE, Page, PageRequest,
};
use crate::store::{Fence, Store, now_ms};

/// Units of work held back after their pass failed on the database: failures in a row, and
/// when the unit may run again.
type HeldBack = Arc<Mutex<HashMap<String, (u32, Instant)>>>;

/// An offer served from the store, with the credential that can launch it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetOffer {
    /// The fleet's name of the credential whose catalog holds it.
    pub credential: String,
    /// The offer (its `provider` is the provider's short name).
    #[serde(flatten)]
    pub offer: Offer,
}

/// What one [`Fleet::run_once`] pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PassReport {
    /// Credentials whose catalog was read.
    pub inventories_read: usize,
    /// Credentials whose catalog read failed.
    pub inventories_failed: usize,
    /// Status partitions listed.
    pub partitions_listed: usize,
    /// Status partitions whose list failed (their instances are marked stale).
    pub partitions_failed: usize,
    /// Instances the reconcile step acted on (create, terminate).
    pub instances_reconciled: usize,
    /// Events written.
    pub events: usize,
}

impl PassReport {
    fn add(&mut self, other: PassReport) {
        self.inventories_read += other.inventories_read;
        self.inventories_failed += other.inventories_failed;
        self.partitions_listed += other.partitions_listed;
        self.partitions_failed += other.partitions_failed;
        self.instances_reconciled += other.instances_reconciled;
        self.events += other.events;
    }
}

/// The control-plane engine: open it on a database and credentials, run its loops, and ask it
/// about instances, offers and events. Cheap to clone; clones share one engine.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub(crate) inner: Arc<Inner>,
}

/// The shared engine.
#[derive(Debug)]
pub(crate) struct Inner {
    pub store: Store,
    pub config: FleetConfig,
    /// Watched credentials by name.
    pub watched: BTreeMap<String, Arc<Watched>>,
    pub events: broadcast::Sender<Event>,
    pub metrics: Arc<Metrics>,
    /// This process's lease-holder id.
    pub owner: String,
    /// Leases held, by partition key.
    fences: Mutex<HashMap<String, Fence>>,
    /// RefIDs whose create this process is sending now: a list that shows one is not a lost
    /// outcome to resolve, the create will record it.
    pub creating: Mutex<HashSet<String>>,
    /// When the last successful list of each status partition in this process was asked for
    /// (milliseconds), the ready barrier for resolving creates whose outcome was lost: only a
    /// list asked after a create's outcome was lost can prove it made nothing.
    pub listed_at: Mutex<HashMap<String, i64>>,
    /// Bounds the partitions polled at once.
    pub permits: Arc<Semaphore>,
    /// Set once shutdown starts: no new requests are taken.
    shutting_down: std::sync::atomic::AtomicBool,
}

impl Fleet {
    /// Opens the fleet: checks the configuration, opens (or creates) and upgrades the database,
    /// records the credentials (without secrets) and takes the leases of their partitions.
    /// Nothing is asked of any provider yet.
    pub async fn open(config: FleetConfig) -> Result<Self> {
        config.validate()?;
        let store = Store::open(&config.database, config.database_busy_timeout).await?;
        store.sync_credentials(&config.credentials).await?;
        let owner = format!("fleet-{}", uuid::Uuid::new_v4().simple());
        // One process uses an SQLite database: it holds every partition (see DESIGN.md).
        store.take_over_all(&owner).await?;
        let metrics = Arc::new(Metrics::default());
        let watched = config
            .credentials
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    Arc::new(Watched::new(c.clone(), metrics.clone())),
                )
            })
            .collect();
        let (events, _) = broadcast::channel(config.event_buffer);
        let permits = Arc::new(Semaphore::new(config.partitions_in_flight));
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                watched,
                events,
                metrics,
                owner,
                fences: Mutex::new(HashMap::new()),
                creating: Mutex::new(HashSet::new()),
                listed_at: Mutex::new(HashMap::new()),
                permits,
                shutting_down: std::sync::atomic::AtomicBool::new(false),
                config,
            }),
        })
    }

    /// Runs the loops until `shutdown` completes: inventory per credential at its interval,
    /// status per partition every `status_interval` (a failing one backs off alone), and
    /// reconcile of due instances. Then stops taking work, lets every pass in flight finish
    /// its writes, releases the leases and returns.
    pub async fn run_until(&self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let tracker = TaskTracker::new();
        let running: Arc<Mutex<HashSet<String>>> = Arc::default();
        let tick = self
            .inner
            .config
            .status_interval
            .min(Duration::from_secs(1));
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // While the database is down every pass fails on its first write: rather than ask the
        // providers again and again for answers that cannot be kept, a unit whose pass failed
        // on the database waits, doubling, before it runs again (the others go on), and the
        // scheduler itself pauses after each scheduling that failed.
        let held_back: HeldBack = Arc::default();
        let mut schedule_failures: u32 = 0;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticker.tick() => {}
            }
            if schedule_failures > 0 {
                let pause =
                    Inner::backoff(tick, schedule_failures - 1, self.inner.config.max_backoff);
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(pause) => {}
                }
            }
            match self.schedule(&tracker, &running, &held_back, tick).await {
                Ok(()) => schedule_failures = 0,
                Err(error) => {
                    // The database may be down: nothing is lost, a later tick tries again.
                    tracing::warn!(%error, "scheduling failed; retrying after a pause");
                    schedule_failures = schedule_failures.saturating_add(1);
                }
            }
        }
        self.inner
            .shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        tracker.close();
        tracker.wait().await;
        self.inner
            .store
            .release_partitions(&self.inner.owner)
            .await?;
        Ok(())
    }

    /// Starts every due unit of work that is not already running.
    async fn schedule(
        &self,
        tracker: &TaskTracker,
        running: &Arc<Mutex<HashSet<String>>>,
        held_back: &HeldBack,
        tick: Duration,
    ) -> Result<()> {
        let now = now_ms();
        let inventory_due: HashMap<String, i64> = self
            .inner
            .store
            .partitions("inventory")
            .await?
            .into_iter()
            .map(|p| (p.key, p.next_run_at))
            .collect();
        let status_due: HashMap<String, i64> = self
            .inner
            .store
            .partitions("status")
            .await?
            .into_iter()
            .map(|p| (p.key, p.next_run_at))
            .collect();
        let mut work: Vec<(String, Work)> = Vec::new();
        for (name, watched) in &self.inner.watched {
            let key = inventory_key(name);
            if inventory_due.get(&key).is_none_or(|at| *at <= now) {
                work.push((key, Work::Inventory(watched.clone())));
            }
            for location in self.inner.status_locations(watched).await? {
                let key = status_key(name, &location);
                if status_due.get(&key).is_none_or(|at| *at <= now) {
                    work.push((key, Work::Status(watched.clone(), location)));
                }
            }
        }
        work.push(("reconcile".to_owned(), Work::Reconcile));
        for (key, unit) in work {
            let waiting = held_back
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&key)
                .is_some_and(|(_, until)| *until > Instant::now());
            if waiting {
                continue;
            }
            {
                let mut running = running
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if !running.insert(key.clone()) {
                    continue;
                }
            }
            let inner = self.inner.clone();
            let running = running.clone();
            let held_back = held_back.clone();
            let max_backoff = self.inner.config.max_backoff;
            tracker.spawn(async move {
                let result = Inner::run_unit(inner, unit).await;
                let mut held_back = held_back
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match result {
                    Ok(_) => {
                        held_back.remove(&key);
                    }
                    Err(error) => {
                        tracing::warn!(work = %key, %error, "pass failed");
                        if matches!(error, FleetError::Database(_)) {
                            let failures = held_back.get(&key).map_or(0, |(failures, _)| *failures);
                            let pause = Inner::backoff(tick, failures, max_backoff);
                            held_back.insert(
                                key.clone(),
                                (failures.saturating_add(1), Instant::now() + pause),
                            );
                        }
                    }
                }
                drop(held_back);
                running
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&key);
            });
        }
        Ok(())
    }

    /// One inventory pass of every credential, one status pass of every partition, then one
    /// reconcile pass, each waited for: for `--once` runs and tests. Due times are ignored.
    pub async fn run_once(&self) -> Result<PassReport> {
        let mut report = PassReport::default();
        let mut units = Vec::new();
        for watched in self.inner.watched.values() {
            units.push(Work::Inventory(watched.clone()));
        }
        report.add(self.run_all(units).await?);
        let mut units = Vec::new();
        for watched in self.inner.watched.values() {
            for location in self.inner.status_locations(watched).await? {
                units.push(Work::Status(watched.clone(), location));
            }
        }
        report.add(self.run_all(units).await?);
        report.add(Inner::run_unit(self.inner.clone(), Work::Reconcile).await?);
        Ok(report)
    }

    /// Runs units concurrently (bounded by the partition permits) and adds up their reports;
    /// the first error is returned once all have finished.
    async fn run_all(&self, units: Vec<Work>) -> Result<PassReport> {
        let mut running: FuturesUnordered<_> = units
            .into_iter()
            .map(|unit| Inner::run_unit(self.inner.clone(), unit))
            .collect();
        let mut report = PassReport::default();
        let mut first_error = None;
        while let Some(result) = running.next().await {
            match result {
                Ok(one) => report.add(one),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(report), Err)
    }

    /// The instance with this RefID.
    pub async fn instance(&self, ref_id: &str) -> Result<InstanceRecord> {
        self.inner
            .store
            .instance(ref_id)
            .await?
            .map(|row| row.to_record())
            .ok_or_else(|| FleetError::NotFound {
                what: "instance",
                id: ref_id.to_owned(),
            })
    }

    /// One page of the instances passing `filter`, oldest first.
    pub async fn instances(
        &self,
        filter: &InstanceFilter,
        page: &PageRequest,
    ) -> Result<Page<InstanceRecord>> {
        if page.limit == 0 || page.limit > MAX_PAGE {
            return Err(FleetError::invalid(
                "limit",
                format!("{} is not in 1..={MAX_PAGE}", page.limit),
            ));
        }
        self.inner.store.instances(filter, page).await
    }

    /// The offers of every watched credential's catalog as last read by the inventory loop,
    /// filtered and sorted by `query` (no provider is asked).
    pub async fn offers(&self, query: &OfferQuery) -> Result<Vec<FleetOffer>> {
        let catalog = self.inner.store.catalog().await?;
        let mut offers: Vec<FleetOffer> = catalog
            .iter()
            .filter_map(|(credential, entry)| {
                let provider = &self.inner.watched.get(credential)?.config.provider;
                let offer = Offer::from_instance_type(provider, entry);
                query.filter.matches(&offer).then(|| FleetOffer {
                    credential: credential.clone(),
                    offer,
                })
            })
            .collect();
        offers.sort_by(|a, b| {
            query
                .sort
                .compare(&a.offer, &b.offer)
                .then_with(|| a.credential.cmp(&b.credential))
        });
        Ok(offers)
    }

    /// Up to `limit` (1..=1000) events with an id above `after`, oldest first: the poll form,
    /// and how a subscriber catches up (see [`Fleet::subscribe`]).
    pub async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<Event>> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(FleetError::invalid(
                "limit",
                format!("{limit} is not in 1..={MAX_PAGE}"),
            ));
        }
        self.inner.store.events_after(after, limit).await
    }

    /// Live events, each sent once it is committed. A receiver that falls more than
    /// `event_buffer` behind gets `Lagged` and resumes with [`Fleet::events_after`]. To follow
    /// from an id without a gap: subscribe first, read `events_after(id)`, then take live
    /// events with an id above the last one read.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// The watched credentials, without secrets.
    pub async fn credentials(&self) -> Result<Vec<CredentialInfo>> {
        let names: Vec<String> = self.inner.watched.keys().cloned().collect();
        self.inner.store.credentials(&names).await
    }

    /// The counters, with the instance counts read from the store.
    pub async fn metrics(&self) -> Result<MetricsSnapshot> {
        let mut snapshot = self.inner.metrics.snapshot();
        for (phase, status, n) in self.inner.store.instance_counts().await? {
            snapshot.instances.insert((phase, status), n);
        }
        Ok(snapshot)
    }

    /// Closes the database after the writes in flight. Call after [`Fleet::run_until`]
    /// returned; other clones stop working.
    pub async fn close(&self) {
        self.inner
            .shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Err(error) = self.inner.store.release_partitions(&self.inner.owner).await {
            tracing::warn!(%error, "leases not released; they run out on their own");
        }
        self.inner.store.close().await;
    }

    pub(crate) fn refuse_when_shutting_down(&self) -> Result<()> {
        if self
            .inner
            .shutting_down
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            Err(FleetError::ShuttingDown)
        } else {
            Ok(())
        }
    }
}

/// One unit of scheduled work.
pub(crate) enum Work {
    Inventory(Arc<Watched>),
    Status(Arc<Watched>, String),
    Reconcile,
}

impl Inner {
    /// Runs one unit under a partition permit and times it.
    async fn run_unit(self: Arc<Self>, unit: Work) -> Result<PassReport> {
        let started = Instant::now();
        let (kind, result) = match unit {
            Work::Inventory(watched) => {
                let _permit = self.permits.acquire().await;
                (LoopKind::Inventory, self.inventory_pass(&watched).await)
            }
            Work::Status(watched, location) => {
                let _permit = self.permits.acquire().await;
                (
                    LoopKind::Status,
                    self.status_pass(&watched, &location).await,
                )
            }
            Work::Reconcile => (LoopKind::Reconcile, self.reconcile_pass().await),
        };
        self.metrics.pass(kind, started.elapsed());
        result
    }

    /// The status partitions of a credential: one for a global provider, else one per location
    /// its catalog or its live instances have.
    pub async fn status_locations(&self, watched: &Watched) -> Result<Vec<String>> {
        Ok(match watched.api_type() {
            gpucloud::ApiType::Global => vec![String::new()],
            gpucloud::ApiType::Locational => self.store.watched_locations(watched.name()).await?,
        })
    }

    /// The status partition an instance of `credential` at `location` belongs to.
    pub fn partition_of(&self, credential: &str, location: &str) -> Option<String> {
        let watched = self.watched.get(credential)?;
        Some(status_key(
            credential,
            partition_location(watched.api_type(), location),
        ))
    }

    /// The lease on a partition, taken when this process does not hold it yet.
    pub async fn fence(
        &self,
        key: &str,
        kind: &str,
        credential: &str,
        location: &str,
    ) -> Result<Option<Fence>> {
        if let Some(fence) = self.lock_fences().get(key) {
            return Ok(Some(fence.clone()));
        }
        let fence = self
            .store
            .claim_partition(
                key,
                kind,
                credential,
                location,
                &self.owner,
                self.config.lease,
            )
            .await?;
        if let Some(fence) = &fence {
            self.lock_fences().insert(key.to_owned(), fence.clone());
        }
        Ok(fence)
    }

    /// Forgets a lease the store says is lost.
    pub fn lost(&self, key: &str) {
        self.lock_fences().remove(key);
    }

    fn lock_fences(&self) -> std::sync::MutexGuard<'_, HashMap<String, Fence>> {
        self.fences
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends committed events to subscribers and counts them.
    pub fn publish(&self, events: Vec<Event>) -> usize {
        let n = events.len();
        self.metrics.events(n as u64);
        for event in events {
            // No subscriber is not an error: the events are in the store.
            let _ = self.events.send(event);
        }
        n
    }

    /// The backoff after `failures` failures in a row, from `base`, capped at `max`.
    pub fn backoff(base: Duration, failures: u32, max: Duration) -> Duration {
        let factor = 1u32 << failures.min(16);
        base.saturating_mul(factor).min(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let base = Duration::from_secs(5);
        let max = Duration::from_secs(60);
        assert_eq!(Inner::backoff(base, 0, max), base);
        assert_eq!(Inner::backoff(base, 1, max), Duration::from_secs(10));
        assert_eq!(Inner::backoff(base, 3, max), Duration::from_secs(40));
        assert_eq!(Inner::backoff(base, 4, max), max);
        assert_eq!(Inner::backoff(base, u32::MAX, max), max);
    }
}
