//! What the checks share: the client, the target's settings, the run's identity, the
//! instances it created and the state of the test instance.
//!
//! It depends on nothing but the target and the SSH key, so the checks and the runners that
//! drive them both use it without depending on each other.

use std::error::Error as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gpucloud_core::wait::{WaitOptions, wait_for_status};
use gpucloud_core::{
    Architecture, CloudClient, CloudClientExt as _, CloudCredential, CloudError,
    CreateInstanceAttrs, FirewallRule, GetInstanceTypeArgs, Instance, InstanceId, InstanceType,
    InstanceTypeId, LifecycleStatus, LocationsFilter, Result, Tags,
};
use tokio::sync::Mutex as AsyncMutex;

use crate::ssh::SshKey;
use crate::target::{SuiteOptions, Target, Timeouts};

/// The tag key put on every instance the suite creates (when the provider stores tags at create).
/// Not `gpucloud-` prefixed: that prefix is reserved for providers' own bookkeeping.
pub const RUN_TAG: &str = "conformance-run";

/// What the checks share.
pub(crate) struct Ctx {
    pub(crate) credential: Arc<dyn CloudCredential>,
    pub(crate) client: Arc<dyn CloudClient>,
    pub(crate) location: String,
    pub(crate) reachable: bool,
    pub(crate) instance_type: Option<String>,
    pub(crate) stable_ids: Vec<InstanceTypeId>,
    pub(crate) timeouts: Timeouts,
    pub(crate) options: SuiteOptions,
    pub(crate) run_id: String,
    key: std::result::Result<SshKey, String>,
    created: Mutex<Vec<InstanceId>>,
    next_ref: AtomicU32,
    pub(crate) state: AsyncMutex<State>,
}

/// The test instance and what is known about it.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) chosen: Option<std::result::Result<InstanceType, String>>,
    pub(crate) attrs: Option<CreateInstanceAttrs>,
    pub(crate) instance: Option<Instance>,
    /// Why there is no usable instance, when there is none.
    pub(crate) unusable: Option<String>,
    pub(crate) running: bool,
    pub(crate) terminated: bool,
}

impl Ctx {
    /// The context of a run with id `run_id` against `target`, through `client`.
    pub(crate) fn new(target: Target, client: Arc<dyn CloudClient>, run_id: String) -> Self {
        Self {
            key: SshKey::load(&target.options.ssh_key),
            credential: target.credential,
            client,
            location: target.location,
            reachable: target.reachable,
            instance_type: target.instance_type,
            stable_ids: target.stable_ids,
            timeouts: target.timeouts,
            options: target.options,
            run_id,
            created: Mutex::new(Vec::new()),
            next_ref: AtomicU32::new(0),
            state: AsyncMutex::new(State::default()),
        }
    }

    /// The suite's key, or why it could not be loaded.
    pub(crate) fn key(&self) -> std::result::Result<&SshKey, String> {
        self.key.as_ref().map_err(Clone::clone)
    }

    /// The prefix of every RefID of this run.
    pub(crate) fn ref_prefix(&self) -> String {
        format!("{}-{}-", self.options.name_prefix, self.run_id)
    }

    /// A fresh RefID of this run.
    pub(crate) fn new_ref_id(&self) -> String {
        let n = self.next_ref.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{}{n}", self.ref_prefix())
    }

    /// Remembers an instance for cleanup. Call it before looking at anything else.
    pub(crate) fn register(&self, id: &InstanceId) {
        if id.is_empty() {
            return;
        }
        let mut created = self.created.lock().unwrap_or_else(PoisonError::into_inner);
        if !created.contains(id) {
            tracing::info!(instance = %id, "conformance run created an instance");
            created.push(id.clone());
        }
    }

    /// Every instance registered so far.
    pub(crate) fn registered(&self) -> Vec<InstanceId> {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits for `desired` with the suite's poll interval.
    pub(crate) async fn wait(
        &self,
        id: &InstanceId,
        desired: LifecycleStatus,
        timeout: Duration,
    ) -> Result<Instance> {
        let mut options = WaitOptions::new(timeout);
        options.poll_interval = self.timeouts.poll_interval;
        wait_for_status(self.client.as_ref(), id, desired, options).await
    }

    /// The instance type the test instance uses, chosen once.
    pub(crate) async fn chosen_type(&self) -> std::result::Result<InstanceType, String> {
        let mut state = self.state.lock().await;
        if let Some(chosen) = &state.chosen {
            return chosen.clone();
        }
        let chosen = self.choose_type().await;
        state.chosen = Some(chosen.clone());
        chosen
    }

    async fn choose_type(&self) -> std::result::Result<InstanceType, String> {
        choose_type(
            self.client.as_ref(),
            &self.location,
            self.instance_type.as_deref(),
        )
        .await
    }

    /// Create attributes for the test instance of `chosen`: this run's RefID and tag, the
    /// suite's key, and the open test port when the provider applies firewall rules at create.
    pub(crate) fn attrs_for(
        &self,
        chosen: &InstanceType,
    ) -> std::result::Result<CreateInstanceAttrs, String> {
        let key = self.key()?;
        let features = self.client.create_features();
        let mut attrs = CreateInstanceAttrs {
            location: chosen.location.as_str().to_owned(),
            // A space and a `#`, so the hostname check sees the core DNS-label rule at work.
            name: format!("{} #{}", self.options.name_prefix, self.run_id),
            ref_id: self.new_ref_id(),
            public_key: key.public_openssh().to_owned(),
            instance_type: chosen.type_name.as_str().to_owned(),
            ..CreateInstanceAttrs::default()
        };
        if features.sub_location {
            let zone = if chosen.sub_location.is_empty() {
                chosen.available_azs.first().cloned().unwrap_or_default()
            } else {
                chosen.sub_location.as_str().to_owned()
            };
            attrs.sub_location = zone;
        }
        if features.tags {
            attrs.tags = Tags::from([(RUN_TAG.to_owned(), self.run_id.clone())]);
        }
        if features.firewall_rules {
            attrs
                .firewall_rules
                .ingress_rules
                .push(FirewallRule::port(self.options.open_port));
        }
        Ok(attrs)
    }

    /// The test instance, or why the instance checks cannot run.
    pub(crate) async fn instance(
        &self,
        need_running: bool,
    ) -> std::result::Result<Instance, String> {
        let state = self.state.lock().await;
        if state.terminated {
            return Err("the test instance was already terminated".to_owned());
        }
        let Some(instance) = state.instance.clone() else {
            return Err(state
                .unusable
                .clone()
                .unwrap_or_else(|| "no test instance: create did not succeed".to_owned()));
        };
        if need_running && !state.running {
            return Err(state
                .unusable
                .clone()
                .unwrap_or_else(|| "the test instance never reached running".to_owned()));
        }
        Ok(instance)
    }

    /// Stores a fresher view of the test instance.
    pub(crate) async fn update_instance(&self, instance: Instance) {
        let mut state = self.state.lock().await;
        state.instance = Some(instance);
    }
}

/// A fresh id for a run: short, so that names and RefIDs built from it stay within provider
/// limits.
pub(crate) fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// An error in one line, with its kind and cause.
pub(crate) fn describe(error: &CloudError) -> String {
    match error.source() {
        Some(source) => format!("{error} [kind {:?}] (cause: {source})", error.kind()),
        None => format!("{error} [kind {:?}]", error.kind()),
    }
}

/// The instance type the suite creates its test instance with through `client`: the one named
/// `instance_type` (available first), else the cheapest available x86_64 type, one that can do
/// what the client declares (stop, reboot) first. In `location`, or any when it is empty.
pub(crate) async fn choose_type(
    client: &dyn CloudClient,
    location: &str,
    instance_type: Option<&str>,
) -> std::result::Result<InstanceType, String> {
    let args = GetInstanceTypeArgs {
        locations: if location.is_empty() {
            LocationsFilter::default()
        } else {
            LocationsFilter::only([location])
        },
        ..GetInstanceTypeArgs::default()
    };
    let types = client.instance_types(&args).await.map_err(|e| {
        format!(
            "cannot choose an instance type: instance_types(): {}",
            describe(&e)
        )
    })?;
    if let Some(name) = instance_type {
        let mut named: Vec<InstanceType> = types
            .into_iter()
            .filter(|it| it.type_name == *name)
            .collect();
        named.sort_by_key(|it| !it.is_available);
        return named.into_iter().next().ok_or_else(|| {
            format!("instance type {name} is not in the catalog of location {location:?}")
        });
    }
    let mut candidates: Vec<InstanceType> = types
        .into_iter()
        .filter(|it| it.is_available && it.supported_architectures.contains(&Architecture::X86_64))
        .collect();
    // A type that can do what the client declares comes first, so that the stop and
    // reboot checks test the capability rather than finding the instance cannot.
    let wants_stop = client.stop_start().is_ok();
    let wants_reboot = client.reboot().is_ok();
    let misses = |it: &InstanceType| {
        u8::from(wants_stop && !it.stoppable) + u8::from(wants_reboot && !it.rebootable)
    };
    candidates.sort_by(|a, b| {
        let price = |it: &InstanceType| it.base_price.as_ref().map(|p| p.amount);
        misses(a)
            .cmp(&misses(b))
            .then_with(|| match (price(a), price(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
            .then_with(|| a.id.cmp(&b.id))
    });
    candidates.into_iter().next().ok_or_else(|| {
        format!(
            "no available x86_64 instance type in location {location:?} (set Target::instance_type)"
        )
    })
}
