//! A fault campaign: the promise that a create either makes one instance the caller learns
//! about or leaves nothing, and that a terminate that worked says so, checked by brute force.
//!
//! [`run`] starts a provider's fake, puts a [`FaultProxy`] in front of it (every fault kind at
//! [`CampaignOptions::fault_rate`]) and drives random creates (sometimes repeating a RefID),
//! terminates, lists and gets through the public SDK, seeded and bounded by an operation count
//! and a wall-clock budget. Every [`CampaignOptions::reconcile_every`] operations and at the
//! end it reconciles: with faults off, it resolves every create whose outcome was unknown the
//! documented way (create again with the same RefID), compares what the fake holds with what
//! the caller was told, lets the fake forget terminated instances and runs the provider's
//! documented sweeps. The
//! [`Report`] prints as one line and [`Report::is_clean`] says whether the promise held.
//!
//! Each provider is one [`Target`]: a fake starter, a credential builder and a fake-state
//! inspector ([`lambda::LambdaTarget`] for Lambda). A fake the HTTP/1 proxy cannot carry
//! injects the same kinds of fault itself, seeded the same way ([`OwnFaults`]; Nebius's gRPC
//! fake, [`nebius::NebiusTarget`]). [`targets`] lists them all; the test runs every one of
//! them. A provider's target is registered by one line of `register_targets!` below.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use gpucloud::{
    CloudClient, CloudCredential, CloudError, CreateInstanceAttrs, Instance, InstanceId,
    LifecycleStatus, ListInstancesArgs,
};
use gpucloud_fakes::proxy::{FaultCounts, FaultProxy, FaultProxyOptions, ProxyFault};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tokio::time::Instant;

/// One provider in the campaign: how to start its fake.
#[async_trait]
pub trait Target: Send + Sync {
    /// The provider's name, for the report.
    fn name(&self) -> &'static str;

    /// Starts a fresh fake, with lifecycle delays short enough for a campaign and terminated
    /// instances kept (so the inspector sees which keys they used).
    async fn start(&self) -> std::io::Result<Box<dyn RunningFake>>;
}

/// A running fake of one provider.
#[async_trait]
pub trait RunningFake: Send + Sync {
    /// The fake's base URL (the proxy forwards to it).
    fn base_url(&self) -> String;

    /// A credential of the fake's account whose API base URL is `base_url` (the proxy's).
    /// Client-side rate limits off and backoff short: the campaign waits for nothing the
    /// fake does not ask for.
    fn credential(&self, base_url: &str) -> gpucloud::Result<Arc<dyn CloudCredential>>;

    /// The create request for `ref_id`, authorizing `public_key`.
    fn create_attrs(&self, ref_id: &str, public_key: &str) -> CreateInstanceAttrs;

    /// What the fake holds, read from its own state (never through the API).
    fn inspect(&self) -> FakeState;

    /// Lets time pass for instances on their way out: the fake forgets terminated ones, as
    /// the provider eventually does (sweeps wait for that), and the account's SSH keys that
    /// only they used are deleted, as a user cleans up after terminating. Without the second
    /// half, every create of a long run adds a key that stays, and the provider's per-create
    /// key lookup grows with the run.
    fn forget_terminated(&self);

    /// Runs the provider's documented sweeps of strays, with the campaign's credential
    /// (Lambda: `LambdaClient::sweep_orphaned_rulesets`; Nebius:
    /// `NebiusClient::sweep_orphaned_resources`); returns how many strays they deleted.
    /// Default: the provider has none.
    async fn sweep(&self) -> gpucloud::Result<usize> {
        Ok(0)
    }

    /// The fake's own fault injection, for a fake the HTTP/1 [`FaultProxy`] cannot stand in
    /// front of (Nebius speaks gRPC over HTTP/2). `None` (the default): the campaign puts the
    /// proxy in front and the client talks to the proxy.
    fn own_faults(&self) -> Option<&dyn OwnFaults> {
        None
    }
}

/// Faults a fake injects into its own requests, driven like the proxy's: seeded, at a rate,
/// drawn from the campaign's kinds.
pub trait OwnFaults: Send + Sync {
    /// From now on every request meets a fault with probability `rate`, of a kind drawn
    /// from `kinds` (each mapped to what the fake has closest to it), from an RNG seeded with
    /// `seed`. Injected 429s (or the protocol's throttling) say `retry_after_secs`.
    fn enable(&self, seed: u64, rate: f64, kinds: &[ProxyFault], retry_after_secs: u64);

    /// No fault from now on.
    fn disable(&self);

    /// The faults injected so far, in the proxy's kinds.
    fn counts(&self) -> FaultCounts;
}

/// An instance as the fake holds it.
#[derive(Debug, Clone)]
pub struct FakeInstanceView {
    /// The provider's id (what `Instance::cloud_id` carries).
    pub id: String,
    /// The RefID the SDK stored on it, if any.
    pub ref_id: Option<String>,
    /// False once it is terminating or terminated.
    pub live: bool,
    /// The names of the SSH keys it was launched with.
    pub key_names: Vec<String>,
    /// The ids of the other resources it uses (rulesets, disks, security groups).
    pub uses: Vec<String>,
}

/// A resource other than an instance, as the fake holds it.
#[derive(Debug, Clone)]
pub struct FakeResource {
    /// Its id.
    pub id: String,
    /// Its name (what instances name SSH keys by).
    pub name: String,
}

/// What a fake holds.
#[derive(Debug, Clone, Default)]
pub struct FakeState {
    /// Every instance, terminated ones included.
    pub instances: Vec<FakeInstanceView>,
    /// The account's SSH keys.
    pub keys: Vec<FakeResource>,
    /// Other resources a create makes for an instance, by kind in the report's words
    /// (`rulesets`, `disks`, `security groups`). Every kind the provider has is present,
    /// empty or not, so the report shows it.
    pub attachments: BTreeMap<&'static str, Vec<FakeResource>>,
}

/// How a campaign runs.
#[derive(Debug, Clone)]
pub struct CampaignOptions {
    /// Seed of the operation sequence and of the proxy's faults.
    pub seed: u64,
    /// Operations to run.
    pub ops: u64,
    /// Wall-clock budget for the operations; the campaign stops early when it is spent.
    pub max_duration: Duration,
    /// Share of requests that meet a fault. Default 0.2.
    pub fault_rate: f64,
    /// The faults to draw from. Default: every kind the proxy has.
    pub faults: Vec<ProxyFault>,
    /// `Retry-After` of injected 429s, in seconds. Default 0 (still a 429 with the header).
    pub retry_after_secs: u64,
    /// Longest one operation may take before it counts as a hang. Default 60 s.
    pub op_timeout: Duration,
    /// Operations between two reconciles (faults off, unknown creates resolved, the fake
    /// compared with the model, terminated instances forgotten, sweeps run); 0: only at the
    /// end. Terminated instances pile up in the fake otherwise and every list slows down
    /// with them, so a long run would spend its time listing the dead. Default 250.
    pub reconcile_every: u64,
    /// Most instances alive at once: at the cap, a create draws a terminate instead. Every
    /// list, and every create's RefID lookup, reads every live instance, so an uncapped live
    /// set (creates outnumber terminates) makes a long run quadratic. Default 50.
    pub max_live: usize,
}

impl CampaignOptions {
    /// `ops` operations of seed `seed`, every fault at 20 %, at most 10 minutes.
    pub fn new(seed: u64, ops: u64) -> Self {
        Self {
            seed,
            ops,
            max_duration: Duration::from_secs(600),
            fault_rate: 0.2,
            faults: ProxyFault::ALL.to_vec(),
            retry_after_secs: 0,
            op_timeout: Duration::from_secs(60),
            reconcile_every: 250,
            max_live: 50,
        }
    }

    /// The stress profile: [`Self::new`] at twice the usual fault rate, [`STRESS_FAULT_RATE`],
    /// with the same fault kinds. Four requests in ten meet a fault, so a request's attempts
    /// are used up often, and a create whose outcome is unknown meets failures on its look-up
    /// too: what issue 29 made a rule of core (`gpucloud::outcome`).
    pub fn stress(seed: u64, ops: u64) -> Self {
        Self {
            fault_rate: STRESS_FAULT_RATE,
            ..Self::new(seed, ops)
        }
    }
}

/// The fault rate of [`CampaignOptions::stress`].
pub const STRESS_FAULT_RATE: f64 = 0.4;

/// What a campaign found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The provider.
    pub provider: &'static str,
    /// The seed.
    pub seed: u64,
    /// Operations run.
    pub ops: u64,
    /// Faults the proxy injected.
    pub faults: FaultCounts,
    /// Live instances the caller does not know about, or was told were terminated.
    pub leaked_instances: usize,
    /// Live instances beyond the first for one RefID, and creates that returned an instance
    /// other than the live one the RefID already named.
    pub duplicates: usize,
    /// SSH keys no instance was launched with.
    pub leaked_keys: usize,
    /// Per kind of attachment: the ones no live instance uses, after the sweeps.
    pub strays: BTreeMap<&'static str, usize>,
    /// Strays the provider's documented sweep deleted at the end (printed, not failed on:
    /// the sweep is the documented way they go).
    pub swept: usize,
    /// Creates that failed with their outcome unknown (printed, not failed on: the reconcile
    /// resolves them the documented way). Most made nothing: a step before the launch failed
    /// in a way that leaves it open (a read's 5xx, a key whose add was lost).
    pub unknown_outcomes: usize,
    /// RefIDs whose create failed with its outcome unknown although it had made its instance,
    /// seen by the reconcile before it resolves them: what issue 29 was about (the create gave
    /// up on its look-up while the instance ran). Printed, not failed on.
    pub unknown_but_made: usize,
    /// Operations that panicked.
    pub panics: usize,
    /// Operations that took longer than [`CampaignOptions::op_timeout`].
    pub hangs: usize,
    /// Creates that returned an instance on its way out (terminating or terminated).
    pub stale_answers: usize,
    /// What went wrong, one line each, for the failure message.
    pub findings: Vec<String>,
}

impl Report {
    /// True when every count that breaks the promise is zero.
    pub fn is_clean(&self) -> bool {
        self.leaked_instances == 0
            && self.duplicates == 0
            && self.leaked_keys == 0
            && self.strays.values().all(|n| *n == 0)
            && self.panics == 0
            && self.hangs == 0
            && self.stale_answers == 0
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} seed {}: ops {}, faults {}, leaked instances {}, duplicates {}, leaked keys {}",
            self.provider,
            self.seed,
            self.ops,
            self.faults.total(),
            self.leaked_instances,
            self.duplicates,
            self.leaked_keys
        )?;
        for (kind, n) in &self.strays {
            write!(f, ", stray {kind} {n}")?;
        }
        write!(
            f,
            ", panics {}, hangs {}, stale answers {}, swept at the end {}, creates of unknown \
             outcome {} ({} had made their instance)",
            self.panics,
            self.hangs,
            self.stale_answers,
            self.swept,
            self.unknown_outcomes,
            self.unknown_but_made
        )
    }
}

/// The create every target's campaign makes: one instance of `instance_type` in `location`,
/// named after its RefID.
fn create_attrs(
    location: &str,
    instance_type: &str,
    ref_id: &str,
    public_key: &str,
) -> CreateInstanceAttrs {
    CreateInstanceAttrs {
        location: location.to_owned(),
        instance_type: instance_type.to_owned(),
        ref_id: ref_id.to_owned(),
        name: format!("campaign-{ref_id}"),
        public_key: public_key.to_owned(),
        ..CreateInstanceAttrs::default()
    }
}

/// Registers campaign targets: each line `module => Target` declares the provider's module
/// (`src/module.rs`) and lists its unit-struct target in [`targets`], so a provider is one line.
macro_rules! register_targets {
    ($($module:ident => $target:ident),* $(,)?) => {
        $(
            pub mod $module;
        )*

        /// Every provider the campaign knows, in registration order.
        pub fn targets() -> Vec<Box<dyn Target>> {
            vec![$(Box::new($module::$target)),*]
        }
    };
}

// Adding a provider: one line here and its `src/<cloud>.rs`.
register_targets! {
    lambda => LambdaTarget,
    fluidstack => FluidstackTarget,
    shadeform => ShadeformTarget,
    nebius => NebiusTarget,
    verda => VerdaTarget,
    launchpad => LaunchpadTarget,
    aws => AwsTarget,
}

/// What the caller knows about one RefID.
struct RefRecord {
    public_key: String,
    /// The instance the last successful create returned.
    told: Option<InstanceId>,
    /// A create of this RefID failed and may have made an instance, and no create since
    /// returned it: a later create that fails definitely (say, refused before it was sent)
    /// says nothing of what the earlier one made.
    unknown: bool,
}

/// What the caller was told, over the whole campaign.
#[derive(Default)]
struct Model {
    refs: HashMap<String, RefRecord>,
    order: Vec<String>,
    /// Every instance a create returned, with its RefID.
    told: HashMap<InstanceId, String>,
    /// Instances whose terminate returned success.
    terminated: HashSet<InstanceId>,
    /// `told` without `terminated`, by id, kept as both change: every operation draws from
    /// it, and `told` grows with the run.
    alive: BTreeMap<String, InstanceId>,
    /// Instances already counted as duplicates.
    flagged: HashSet<String>,
    /// Ids of instances, keys and attachments already counted as leaked or stray, so a
    /// reconcile does not count again what an earlier one found.
    counted: HashSet<String>,
}

impl Model {
    /// The instances a create returned and no terminate has ended, in a stable order (so a
    /// seed picks the same ones every run).
    fn alive(&self) -> Vec<InstanceId> {
        self.alive.values().cloned().collect()
    }
}

/// A well-formed ed25519 public key from the RNG: each RefID gets its own, so a key left by a
/// failed create is seen as one no instance uses.
fn public_key(rng: &mut StdRng) -> String {
    let mut blob = Vec::with_capacity(51);
    for part in [&b"ssh-ed25519"[..], &rng.random::<[u8; 32]>()[..]] {
        blob.extend_from_slice(&(part.len() as u32).to_be_bytes());
        blob.extend_from_slice(part);
    }
    format!(
        "ssh-ed25519 {} campaign",
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

enum Outcome<T> {
    Done(T),
    Panicked,
    Hung,
}

/// Runs `op` in its own task, so a panic is counted rather than ending the campaign.
async fn guarded<T: Send + 'static>(
    timeout: Duration,
    op: impl Future<Output = T> + Send + 'static,
) -> Outcome<T> {
    match tokio::time::timeout(timeout, tokio::spawn(op)).await {
        Ok(Ok(value)) => Outcome::Done(value),
        Ok(Err(join)) if join.is_panic() => Outcome::Panicked,
        Ok(Err(_)) => Outcome::Panicked,
        Err(_) => Outcome::Hung,
    }
}

struct Run {
    client: Arc<dyn CloudClient>,
    fake: Box<dyn RunningFake>,
    model: Model,
    report: Report,
    timeout: Duration,
    max_live: usize,
}

impl Run {
    fn note(&mut self, finding: String) {
        tracing::warn!(%finding, "campaign finding");
        if self.report.findings.len() < 50 {
            self.report.findings.push(finding);
        }
    }

    fn count_outcome<T>(&mut self, what: &str, outcome: Outcome<T>) -> Option<T> {
        match outcome {
            Outcome::Done(value) => Some(value),
            Outcome::Panicked => {
                self.report.panics += 1;
                self.note(format!("{what} panicked"));
                None
            }
            Outcome::Hung => {
                self.report.hangs += 1;
                self.note(format!("{what} took longer than {:?}", self.timeout));
                None
            }
        }
    }

    async fn create(&mut self, ref_id: &str) {
        let Some(record) = self.model.refs.get(ref_id) else {
            return;
        };
        let attrs = self.fake.create_attrs(ref_id, &record.public_key);
        let client = Arc::clone(&self.client);
        let outcome = guarded(self.timeout, async move {
            gpucloud::validate_and_create(&*client, &attrs).await
        })
        .await;
        let Some(result) = self.count_outcome(&format!("create {ref_id}"), outcome) else {
            // Nothing known about it: as unknown as a lost answer.
            if let Some(record) = self.model.refs.get_mut(ref_id) {
                record.unknown = true;
            }
            return;
        };
        match result {
            Ok(instance) => self.told(ref_id, &instance),
            Err(e) => {
                let unknown = e.outcome_unknown();
                tracing::debug!(ref_id, error = %e, unknown, "campaign: create failed");
                if unknown {
                    self.report.unknown_outcomes += 1;
                }
                if let Some(record) = self.model.refs.get_mut(ref_id) {
                    record.unknown |= unknown;
                }
            }
        }
    }

    /// Records a successful create and checks it against the fake at once (a later terminate
    /// would hide a duplicate).
    fn told(&mut self, ref_id: &str, instance: &Instance) {
        let id = instance.cloud_id.clone();
        if matches!(
            instance.lifecycle(),
            LifecycleStatus::Terminating | LifecycleStatus::Terminated
        ) {
            self.report.stale_answers += 1;
            self.note(format!(
                "create {ref_id} returned {id}, which is {}",
                instance.lifecycle()
            ));
        }
        let previous = self.model.refs.get(ref_id).and_then(|r| r.told.clone());
        let state = self.fake.inspect();
        let live_with_ref: Vec<&FakeInstanceView> = state
            .instances
            .iter()
            .filter(|i| i.live && i.ref_id.as_deref() == Some(ref_id))
            .collect();
        if let Some(previous) = previous
            && previous != id
            && live_with_ref.iter().any(|i| i.id == previous.as_str())
            && self.model.flagged.insert(id.as_str().to_owned())
        {
            self.report.duplicates += 1;
            self.note(format!(
                "create {ref_id} returned {id} while {previous} was live with the same RefID"
            ));
        }
        for extra in live_with_ref.iter().skip(1) {
            if self.model.flagged.insert(extra.id.clone()) {
                self.report.duplicates += 1;
                self.note(format!(
                    "{} is a second live instance of RefID {ref_id}",
                    extra.id
                ));
            }
        }
        if let Some(record) = self.model.refs.get_mut(ref_id) {
            record.told = Some(id.clone());
            record.unknown = false;
        }
        if !self.model.terminated.contains(&id) {
            self.model.alive.insert(id.as_str().to_owned(), id.clone());
        }
        self.model.told.insert(id, ref_id.to_owned());
    }

    async fn terminate(&mut self, id: InstanceId) {
        let client = Arc::clone(&self.client);
        let target = id.clone();
        let outcome = guarded(self.timeout, async move {
            client.terminate_instance(&target).await
        })
        .await;
        match self.count_outcome(&format!("terminate {id}"), outcome) {
            Some(Ok(())) => {
                self.model.alive.remove(id.as_str());
                self.model.terminated.insert(id);
            }
            Some(Err(e)) => tracing::debug!(%id, error = %e, "campaign: terminate failed"),
            None => {}
        }
    }

    async fn get(&mut self, id: InstanceId) {
        let client = Arc::clone(&self.client);
        let target = id.clone();
        let outcome = guarded(
            self.timeout,
            async move { client.get_instance(&target).await },
        )
        .await;
        if let Some(Ok(instance)) = self.count_outcome(&format!("get {id}"), outcome)
            && instance.cloud_id != id
        {
            self.note(format!("get {id} returned {}", instance.cloud_id));
        }
    }

    async fn list(&mut self) {
        let client = Arc::clone(&self.client);
        let outcome = guarded(self.timeout, async move {
            client.list_instances(&ListInstancesArgs::default()).await
        })
        .await;
        self.count_outcome("list", outcome);
    }

    /// One random operation.
    async fn step(&mut self, rng: &mut StdRng) {
        let roll = rng.random_range(0..100u32);
        let alive = self.model.alive();
        let capped = alive.len() >= self.max_live;
        match roll {
            0..40 if capped => {
                let id = alive[rng.random_range(0..alive.len())].clone();
                self.terminate(id).await;
            }
            0..40 => {
                let ref_id = format!("c{}-{}", self.report.seed, self.model.order.len());
                let key = public_key(rng);
                self.model.refs.insert(
                    ref_id.clone(),
                    RefRecord {
                        public_key: key,
                        told: None,
                        unknown: false,
                    },
                );
                self.model.order.push(ref_id.clone());
                self.create(&ref_id).await;
            }
            40..55 if !self.model.order.is_empty() => {
                let pick = rng.random_range(0..self.model.order.len());
                let ref_id = self.model.order[pick].clone();
                self.create(&ref_id).await;
            }
            55..80 if !alive.is_empty() => {
                let id = alive[rng.random_range(0..alive.len())].clone();
                self.terminate(id).await;
            }
            80..90 if !alive.is_empty() => {
                let id = alive[rng.random_range(0..alive.len())].clone();
                self.get(id).await;
            }
            _ => self.list().await,
        }
    }

    /// With faults off: every create of unknown outcome resolved by creating again with its
    /// RefID, as the error tells the caller to.
    async fn resolve_unknown(&mut self) {
        let unknown: Vec<String> = self
            .model
            .order
            .iter()
            .filter(|r| self.model.refs.get(*r).is_some_and(|r| r.unknown))
            .cloned()
            .collect();
        let state = self.fake.inspect();
        self.report.unknown_but_made += unknown
            .iter()
            .filter(|r| {
                state.instances.iter().any(|i| {
                    i.live
                        && i.ref_id.as_deref() == Some(r.as_str())
                        && !self.model.told.contains_key(&InstanceId::new(i.id.clone()))
                })
            })
            .count();
        for ref_id in unknown {
            self.create(&ref_id).await;
            if self.model.refs.get(&ref_id).is_some_and(|r| r.unknown) {
                self.note(format!("create {ref_id} still fails with faults off"));
            }
        }
    }

    /// With faults off: resolves the unknown creates, compares the fake with the model and
    /// counts the strays the sweeps leave.
    async fn reconcile(&mut self) {
        self.resolve_unknown().await;
        self.compare();
        self.count_strays().await;
    }

    fn compare(&mut self) {
        let state = self.fake.inspect();
        for instance in state.instances.iter().filter(|i| i.live) {
            let id = InstanceId::new(instance.id.clone());
            if self.model.counted.contains(&instance.id) {
                continue;
            }
            if !self.model.told.contains_key(&id) {
                self.model.counted.insert(instance.id.clone());
                self.report.leaked_instances += 1;
                self.note(format!(
                    "{} (RefID {:?}) is live and no create returned it",
                    instance.id, instance.ref_id
                ));
            } else if self.model.terminated.contains(&id) {
                self.model.counted.insert(instance.id.clone());
                self.report.leaked_instances += 1;
                self.note(format!(
                    "{} is live though its terminate succeeded",
                    instance.id
                ));
            }
        }
        let used: HashSet<&str> = state
            .instances
            .iter()
            .flat_map(|i| i.key_names.iter().map(String::as_str))
            .collect();
        let leaked: Vec<&FakeResource> = state
            .keys
            .iter()
            .filter(|k| !used.contains(k.name.as_str()))
            .collect();
        for key in leaked {
            if !self.model.counted.insert(key.id.clone()) {
                continue;
            }
            self.report.leaked_keys += 1;
            self.note(format!(
                "SSH key {} ({}) is used by no instance",
                key.name, key.id
            ));
        }
    }

    async fn count_strays(&mut self) {
        self.fake.forget_terminated();
        match self.fake.sweep().await {
            Ok(swept) => self.report.swept += swept,
            Err(e) => self.note(format!("the sweep failed with faults off: {e}")),
        }
        let state = self.fake.inspect();
        let used: HashSet<&str> = state
            .instances
            .iter()
            .filter(|i| i.live)
            .flat_map(|i| i.uses.iter().map(String::as_str))
            .collect();
        let mut findings = Vec::new();
        for (kind, resources) in &state.attachments {
            let strays: Vec<&FakeResource> = resources
                .iter()
                .filter(|r| !used.contains(r.id.as_str()))
                .filter(|r| self.model.counted.insert(r.id.clone()))
                .collect();
            findings.extend(
                strays
                    .iter()
                    .map(|r| format!("{kind}: {} ({}) is used by no live instance", r.id, r.name)),
            );
            *self.report.strays.entry(kind).or_default() += strays.len();
        }
        for finding in findings {
            self.note(finding);
        }
    }
}

/// Where the faults come from: the proxy in front of the fake, or the fake itself.
struct FaultSwitch {
    proxy: Option<FaultProxy>,
    seed: u64,
    rate: f64,
    kinds: Vec<ProxyFault>,
    retry_after_secs: u64,
    /// Times the fake's own faults were turned on: each segment between two reconciles gets
    /// its own seed derived from the campaign's (the proxy keeps one RNG for the whole run;
    /// turning a fake's random mode on again restarts its RNG).
    segments: u64,
}

impl FaultSwitch {
    fn on(&mut self, fake: &dyn RunningFake) {
        if let Some(proxy) = &self.proxy {
            proxy.set_enabled(true);
        } else if let Some(own) = fake.own_faults() {
            let seed = self
                .seed
                .wrapping_add(self.segments.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            self.segments += 1;
            own.enable(seed, self.rate, &self.kinds, self.retry_after_secs);
        }
    }

    fn off(&self, fake: &dyn RunningFake) {
        if let Some(proxy) = &self.proxy {
            proxy.set_enabled(false);
        } else if let Some(own) = fake.own_faults() {
            own.disable();
        }
    }

    fn counts(&self, fake: &dyn RunningFake) -> FaultCounts {
        match (&self.proxy, fake.own_faults()) {
            (Some(proxy), _) => proxy.counts(),
            (None, Some(own)) => own.counts(),
            (None, None) => FaultCounts::default(),
        }
    }
}

/// Runs one campaign against `target`'s fake.
///
/// # Errors
///
/// When the fake or the proxy cannot start, or the credential cannot be built; what the
/// campaign finds is in the [`Report`], not an error.
pub async fn run(target: &dyn Target, options: &CampaignOptions) -> gpucloud::Result<Report> {
    let io = |e: std::io::Error| CloudError::configuration(format!("campaign setup: {e}"));
    let fake = target.start().await.map_err(io)?;
    let proxy = if fake.own_faults().is_some() {
        None
    } else {
        Some(
            FaultProxy::start(FaultProxyOptions {
                fault_rate: options.fault_rate,
                faults: options.faults.clone(),
                retry_after_secs: options.retry_after_secs,
                ..FaultProxyOptions::new(fake.base_url(), options.seed)
            })
            .await
            .map_err(io)?,
        )
    };
    let base_url = proxy
        .as_ref()
        .map_or_else(|| fake.base_url(), FaultProxy::base_url);
    let mut faults = FaultSwitch {
        proxy,
        seed: options.seed,
        rate: options.fault_rate,
        kinds: options.faults.clone(),
        retry_after_secs: options.retry_after_secs,
        segments: 0,
    };
    faults.on(fake.as_ref());
    let credential = fake.credential(&base_url)?;
    let client = credential.make_client("").await?;
    let mut run = Run {
        client,
        fake,
        model: Model::default(),
        report: Report {
            provider: target.name(),
            seed: options.seed,
            ..Report::default()
        },
        timeout: options.op_timeout,
        max_live: options.max_live.max(1),
    };
    let mut rng = StdRng::seed_from_u64(options.seed ^ 0x5eed_ca3b_a16e);
    let started = Instant::now();
    let mut segment = Instant::now();
    while run.report.ops < options.ops && started.elapsed() < options.max_duration {
        run.step(&mut rng).await;
        run.report.ops += 1;
        if options.reconcile_every > 0
            && run.report.ops.is_multiple_of(options.reconcile_every)
            && run.report.ops < options.ops
        {
            faults.off(run.fake.as_ref());
            run.reconcile().await;
            run.progress(started, segment);
            segment = Instant::now();
            faults.on(run.fake.as_ref());
        }
    }
    faults.off(run.fake.as_ref());
    run.report.faults = faults.counts(run.fake.as_ref());
    run.reconcile().await;
    run.progress(started, segment);
    if let Some(proxy) = faults.proxy {
        proxy.shutdown().await;
    }
    Ok(run.report)
}

impl Run {
    /// Logs the time since the last reconcile and what the fake holds after this one: a run
    /// that slows down shows here whether something piles up.
    fn progress(&self, started: Instant, segment: Instant) {
        let state = self.fake.inspect();
        let attachments: usize = state.attachments.values().map(Vec::len).sum();
        tracing::info!(
            provider = self.report.provider,
            ops = self.report.ops,
            elapsed_s = started.elapsed().as_secs_f64(),
            segment_s = segment.elapsed().as_secs_f64(),
            instances = state.instances.len(),
            keys = state.keys.len(),
            attachments,
            alive = self.model.alive.len(),
            "campaign: reconciled"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use gpucloud::lambda::{LambdaConfig, LambdaCredential};

    use super::*;

    /// The registration covers every cloud the facade registers: a provider configured by a
    /// credential (not `local`) has a campaign target, and every target names a provider.
    #[test]
    fn every_registered_cloud_has_a_campaign_target() {
        let names: Vec<&str> = targets().iter().map(|t| t.name()).collect();
        for name in &names {
            assert!(
                gpucloud::find_provider(name).is_some(),
                "campaign target {name} names no provider the facade registers"
            );
        }
        for provider in gpucloud::providers() {
            if matches!(provider.activation, gpucloud::Activation::Setting(_)) {
                assert!(
                    names.contains(&provider.name),
                    "provider {} has no campaign target",
                    provider.name
                );
            }
        }
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            names.len(),
            "a target is registered twice: {names:?}"
        );
    }

    /// A fake whose state the test writes; forgetting drops ended instances and the keys only
    /// they used, as the real targets do.
    struct Stub(Arc<Mutex<FakeState>>);

    #[async_trait]
    impl RunningFake for Stub {
        fn base_url(&self) -> String {
            "http://127.0.0.1:9".to_owned()
        }

        fn credential(&self, _: &str) -> gpucloud::Result<Arc<dyn CloudCredential>> {
            Err(CloudError::configuration("the stub has no API"))
        }

        fn create_attrs(&self, ref_id: &str, public_key: &str) -> CreateInstanceAttrs {
            CreateInstanceAttrs {
                ref_id: ref_id.to_owned(),
                public_key: public_key.to_owned(),
                ..CreateInstanceAttrs::default()
            }
        }

        fn inspect(&self) -> FakeState {
            self.0.lock().unwrap().clone()
        }

        fn forget_terminated(&self) {
            let mut state = self.0.lock().unwrap();
            state.instances.retain(|i| i.live);
            let used: HashSet<String> = state
                .instances
                .iter()
                .flat_map(|i| i.key_names.clone())
                .collect();
            state
                .keys
                .retain(|k| used.contains(&k.name) || k.name.starts_with("stray"));
        }
    }

    fn instance(id: &str, live: bool, key: &str) -> FakeInstanceView {
        FakeInstanceView {
            id: id.to_owned(),
            ref_id: None,
            live,
            key_names: vec![key.to_owned()],
            uses: Vec::new(),
        }
    }

    fn key(name: &str) -> FakeResource {
        FakeResource {
            id: format!("id-{name}"),
            name: name.to_owned(),
        }
    }

    fn run_over(state: &Arc<Mutex<FakeState>>) -> Run {
        let client =
            LambdaCredential::new(LambdaConfig::new("k").with_base_url("http://127.0.0.1:9"))
                .unwrap()
                .client("");
        Run {
            client: Arc::new(client),
            fake: Box::new(Stub(Arc::clone(state))),
            model: Model::default(),
            report: Report::default(),
            timeout: Duration::from_secs(1),
            max_live: 50,
        }
    }

    #[tokio::test]
    async fn a_key_no_instance_uses_is_a_leak_also_after_forgetting() {
        let state = Arc::new(Mutex::new(FakeState {
            instances: vec![instance("a", true, "ka"), instance("b", false, "kb")],
            keys: vec![key("ka"), key("kb"), key("stray-1")],
            attachments: BTreeMap::new(),
        }));
        let mut run = run_over(&state);
        for id in ["a", "b"] {
            run.model.told.insert(InstanceId::new(id), "r".to_owned());
        }
        run.model.terminated.insert(InstanceId::new("b"));
        run.compare();
        assert_eq!(run.report.leaked_keys, 1, "{:?}", run.report.findings);
        run.count_strays().await;
        // `b` and its key are forgotten; the stray is still there and counted only once.
        assert_eq!(run.fake.inspect().keys.len(), 2);
        run.compare();
        assert_eq!(run.report.leaked_keys, 1, "{:?}", run.report.findings);
        // A key added again under a forgotten instance's name, by a create that then
        // failed, is used by nothing now: a leak, not hidden by the name's history.
        state.lock().unwrap().keys.push(FakeResource {
            id: "id-kb-2".to_owned(),
            name: "kb".to_owned(),
        });
        run.compare();
        assert_eq!(run.report.leaked_keys, 2, "{:?}", run.report.findings);
    }
}
