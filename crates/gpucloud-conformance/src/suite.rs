//! The run: make the client, run each check as its own task under its own deadline, then clean
//! up everything the run created, whatever happened.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use gpucloud_core::wait::{WaitOptions, wait_for_status};
use gpucloud_core::{
    Architecture, CloudClient, CloudClientExt, CloudCredential, CreateInstanceAttrs, FirewallRule,
    GetInstanceTypeArgs, Instance, InstanceId, InstanceType, InstanceTypeId, LifecycleStatus,
    ListInstancesArgs, LocationsFilter, Result, Tags,
};
use tokio::sync::Mutex as AsyncMutex;

use crate::checks::{self, Findings, Verdict, describe};
use crate::report::{CheckResult, Outcome, Report};
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

    fn registered(&self) -> Vec<InstanceId> {
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
        let args = GetInstanceTypeArgs {
            locations: if self.location.is_empty() {
                LocationsFilter::default()
            } else {
                LocationsFilter::only([self.location.as_str()])
            },
            ..GetInstanceTypeArgs::default()
        };
        let types = self.client.instance_types(&args).await.map_err(|e| {
            format!(
                "cannot choose an instance type: instance_types(): {}",
                describe(&e)
            )
        })?;
        if let Some(name) = &self.instance_type {
            let mut named: Vec<InstanceType> = types
                .into_iter()
                .filter(|it| &it.type_name == name)
                .collect();
            named.sort_by_key(|it| !it.is_available);
            return named.into_iter().next().ok_or_else(|| {
                format!(
                    "instance type {name} is not in the catalog of location {:?}",
                    self.location
                )
            });
        }
        let mut candidates: Vec<InstanceType> = types
            .into_iter()
            .filter(|it| {
                it.is_available && it.supported_architectures.contains(&Architecture::X86_64)
            })
            .collect();
        candidates.sort_by(|a, b| {
            let price = |it: &InstanceType| it.base_price.as_ref().map(|p| p.amount);
            match (price(a), price(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then_with(|| a.id.cmp(&b.id))
        });
        candidates.into_iter().next().ok_or_else(|| {
            format!(
                "no available x86_64 instance type in location {:?} (set Target::instance_type)",
                self.location
            )
        })
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
            location: chosen.location.clone(),
            // A space and a `#`, so the hostname check sees the core DNS-label rule at work.
            name: format!("{} #{}", self.options.name_prefix, self.run_id),
            ref_id: self.new_ref_id(),
            public_key: key.public_openssh().to_owned(),
            instance_type: chosen.type_name.clone(),
            ..CreateInstanceAttrs::default()
        };
        if features.sub_location {
            let zone = if chosen.sub_location.is_empty() {
                chosen.available_azs.first().cloned().unwrap_or_default()
            } else {
                chosen.sub_location.clone()
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

fn selected(options: &SuiteOptions, name: &str) -> bool {
    (options.only.is_empty() || options.only.iter().any(|n| n == name))
        && !options.skip.iter().any(|n| n == name)
}

fn result(name: &'static str, started: Instant, verdict: Verdict) -> CheckResult {
    let (outcome, notes) = match verdict {
        Verdict::Skip(reason) => (Outcome::Skipped { reason }, Vec::new()),
        Verdict::Done(Findings { mismatches, notes }) if mismatches.is_empty() => {
            (Outcome::Passed, notes)
        }
        Verdict::Done(Findings { mismatches, notes }) => (Outcome::Failed { mismatches }, notes),
    };
    CheckResult {
        name,
        outcome,
        duration: started.elapsed(),
        notes,
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Runs one check as its own task: a panic or a blown deadline fails that check only.
async fn run_spec(ctx: &Arc<Ctx>, spec: &checks::Spec) -> CheckResult {
    let started = Instant::now();
    let timeout = (spec.timeout)(&ctx.timeouts);
    let task = tokio::spawn((spec.run)(Arc::clone(ctx)));
    let abort = task.abort_handle();
    let verdict = match tokio::time::timeout(timeout, task).await {
        Ok(Ok(verdict)) => verdict,
        Ok(Err(join)) if join.is_panic() => {
            let message = panic_message(&*join.into_panic());
            Verdict::Done(Findings {
                mismatches: vec![format!("the check panicked: {message}")],
                notes: Vec::new(),
            })
        }
        Ok(Err(join)) => Verdict::Done(Findings {
            mismatches: vec![format!("the check task ended: {join}")],
            notes: Vec::new(),
        }),
        Err(_) => {
            abort.abort();
            Verdict::Done(Findings {
                mismatches: vec![format!(
                    "the check did not finish within its deadline of {timeout:?}"
                )],
                notes: Vec::new(),
            })
        }
    };
    let checked = result(spec.name, started, verdict);
    tracing::info!(
        check = spec.name,
        passed = checked.is_passed(),
        skipped = checked.is_skipped(),
        "conformance check done"
    );
    checked
}

/// Runs the suite against `target` and reports every check. Never panics; whatever the run
/// created is terminated before it returns, and anything that could not be removed is listed
/// in [`Report::leftovers`].
pub async fn run(target: Target) -> Report {
    let started = Instant::now();
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let provider = target.credential.provider_id().into_inner();
    let mut report = Report {
        provider,
        location: target.location.clone(),
        run_id: run_id.clone(),
        capabilities: Vec::new(),
        checks: Vec::new(),
        leftovers: Vec::new(),
        duration: Duration::ZERO,
    };

    let client_started = Instant::now();
    let made = tokio::time::timeout(
        target.timeouts.api_call,
        target.credential.make_client(&target.location),
    )
    .await;
    let client = match made {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(format!(
            "make_client({:?}): {}",
            target.location,
            describe(&e)
        )),
        Err(_) => Err(format!(
            "make_client did not return within {:?}",
            target.timeouts.api_call
        )),
    };
    let client = match client {
        Ok(client) => client,
        Err(mismatch) => {
            report.checks.push(CheckResult {
                name: "make_client",
                outcome: Outcome::Failed {
                    mismatches: vec![mismatch],
                },
                duration: client_started.elapsed(),
                notes: Vec::new(),
            });
            report.duration = started.elapsed();
            return report;
        }
    };
    report.capabilities = client.capabilities().0;
    report.checks.push(result(
        "make_client",
        client_started,
        check_client(target.credential.as_ref(), client.as_ref()),
    ));

    let ctx = Arc::new(Ctx {
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
    });

    let specs = checks::specs();
    let wants_instance = specs
        .iter()
        .any(|s| s.needs_instance && selected(&ctx.options, s.name));
    for spec in &specs {
        let lifecycle_edge = matches!(spec.name, "create" | "terminate");
        let run_it = selected(&ctx.options, spec.name) || (lifecycle_edge && wants_instance);
        if run_it {
            report.checks.push(run_spec(&ctx, spec).await);
        }
    }

    let (cleanup, leftovers) = cleanup(&ctx).await;
    report.checks.push(cleanup);
    report.leftovers = leftovers;
    report.duration = started.elapsed();
    report
}

/// The client agrees with its credential.
fn check_client(credential: &dyn CloudCredential, client: &dyn CloudClient) -> Verdict {
    let mut f = Findings::default();
    f.expect(client.provider_id() == credential.provider_id(), || {
        format!(
            "client provider_id {} differs from the credential's {}",
            client.provider_id(),
            credential.provider_id()
        )
    });
    f.expect(client.reference_id() == credential.reference_id(), || {
        format!(
            "client reference_id {:?} differs from the credential's {:?}",
            client.reference_id(),
            credential.reference_id()
        )
    });
    f.expect(client.api_type() == credential.api_type(), || {
        format!(
            "client api_type {} differs from the credential's {}",
            client.api_type(),
            credential.api_type()
        )
    });
    if let (Ok(a), Ok(b)) = (client.tenant_id(), credential.tenant_id()) {
        f.expect(a == b, || {
            format!("client tenant_id {a:?} differs from the credential's {b:?}")
        });
    }
    f.done()
}

/// Terminates everything this run created (registered, or found by RefID prefix or run tag)
/// and reports what is still there.
async fn cleanup(ctx: &Arc<Ctx>) -> (CheckResult, Vec<InstanceId>) {
    let started = Instant::now();
    let mut f = Findings::default();
    let mut ids: BTreeSet<InstanceId> = ctx.registered().into_iter().collect();
    let prefix = ctx.ref_prefix();
    let listed = tokio::time::timeout(
        ctx.timeouts.api_call,
        ctx.client.list_instances(&ListInstancesArgs::default()),
    )
    .await;
    match listed {
        Ok(Ok(instances)) => {
            for instance in instances {
                let ours = instance.ref_id.starts_with(&prefix)
                    || instance.tags.get(RUN_TAG).is_some_and(|v| *v == ctx.run_id);
                if ours
                    && instance.lifecycle() != LifecycleStatus::Terminated
                    && ids.insert(instance.cloud_id.clone())
                {
                    f.note(format!(
                        "found instance {} (RefID {}) that no check registered; terminating it",
                        instance.cloud_id, instance.ref_id
                    ));
                }
            }
        }
        Ok(Err(e)) => f.note(format!(
            "list_instances() failed, only registered instances were cleaned up: {}",
            describe(&e)
        )),
        Err(_) => f.note(format!(
            "list_instances() did not return within {:?}",
            ctx.timeouts.api_call
        )),
    }

    let removals = ids.iter().map(|id| remove(ctx, id));
    let outcomes = futures::future::join_all(removals).await;
    let mut leftovers = Vec::new();
    for (id, outcome) in ids.iter().zip(outcomes) {
        if let Err(why) = outcome {
            f.fail(format!("instance {id} was left behind: {why}"));
            leftovers.push(id.clone());
        }
    }
    if leftovers.is_empty() {
        f.note(format!(
            "{} instance(s) created by this run, none left",
            ids.len()
        ));
    }
    (result("cleanup", started, f.done()), leftovers)
}

/// Makes sure `id` is gone or terminated.
async fn remove(ctx: &Ctx, id: &InstanceId) -> std::result::Result<(), String> {
    let budget = ctx.timeouts.api_call * 2 + ctx.timeouts.running_to_terminated;
    let work = async {
        match ctx.client.get_instance(id).await {
            Err(e) if e.is_not_found() => return Ok(()),
            Ok(instance) if instance.lifecycle() == LifecycleStatus::Terminated => return Ok(()),
            _ => {}
        }
        let mut last_error = None;
        if let Err(e) = ctx.client.terminate_instance(id).await {
            tracing::warn!(instance = %id, error = %e, "cleanup terminate failed");
            last_error = Some(describe(&e));
        }
        match ctx
            .wait(
                id,
                LifecycleStatus::Terminated,
                ctx.timeouts.running_to_terminated,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(match last_error {
                Some(t) => format!("terminate_instance failed ({t}); then {}", describe(&e)),
                None => describe(&e),
            }),
        }
    };
    match tokio::time::timeout(budget, work).await {
        Ok(result) => result,
        Err(_) => Err(format!("not terminated within {budget:?}")),
    }
}
