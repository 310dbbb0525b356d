//! The run: make the client, run each check as its own task under its own deadline, then clean
//! up everything the run created, whatever happened.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gpucloud_core::{
    CloudClient, CloudClientExt, CloudCredential, InstanceId, InstanceType, LifecycleStatus,
    ListInstancesArgs,
};

use crate::checks::{self, Findings, Needs, Verdict, describe};
use crate::ctx::{Ctx, RUN_TAG, new_run_id};
use crate::report::{CheckResult, Outcome, Report};
use crate::target::{SuiteOptions, Target};

fn selected(options: &SuiteOptions, name: &str) -> bool {
    (options.only.is_empty() || options.only.iter().any(|n| n == name))
        && !options.skip.iter().any(|n| n == name)
}

pub(crate) fn result(name: &'static str, started: Instant, verdict: Verdict) -> CheckResult {
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

/// Runs one check as its own task: a panic or a blown deadline fails that check only. A check
/// that does not apply is skipped without running.
pub(crate) async fn run_spec(ctx: &Arc<Ctx>, spec: &checks::Spec) -> CheckResult {
    let started = Instant::now();
    if let Some(reason) = (spec.not_applicable)(ctx) {
        return result(spec.name, started, Verdict::Skip(reason));
    }
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

/// True when a run with `options` creates instances: some check it runs needs one.
pub fn creates_instances(options: &SuiteOptions) -> bool {
    checks::specs()
        .iter()
        .any(|s| selected(options, s.name) && s.needs != Needs::Nothing)
}

/// The instance type a run against `target` creates its test instance with (the suite may
/// create more than one instance of it), read from the provider's catalog: for a caller that
/// says what a run will cost before it starts. Pin it with [`Target::with_instance_type`] and
/// [`Target::with_location`] so that the run uses exactly this one.
pub async fn test_instance_type(target: &Target) -> std::result::Result<InstanceType, String> {
    let client = target
        .credential
        .make_client(&target.location)
        .await
        .map_err(|e| format!("cannot make a client: {}", describe(&e)))?;
    crate::ctx::choose_type(
        client.as_ref(),
        &target.location,
        target.instance_type.as_deref(),
    )
    .await
}

/// Runs the suite against `target` and reports every check. Never panics; whatever the run
/// created is terminated before it returns, and anything that could not be removed is listed
/// in [`Report::leftovers`].
pub async fn run(target: Target) -> Report {
    let started = Instant::now();
    let run_id = new_run_id();
    let provider = target
        .credential
        .identity()
        .provider_id()
        .as_str()
        .to_owned();
    let mut report = Report {
        provider,
        location: target.location.clone(),
        run_id: run_id.clone(),
        capabilities: Vec::new(),
        checks: Vec::new(),
        leftovers: Vec::new(),
        duration: Duration::ZERO,
    };

    let (made, client) = connect(&target).await;
    report.checks.push(made);
    let Some(client) = client else {
        report.duration = started.elapsed();
        return report;
    };
    report.capabilities = client.capabilities().0;
    let ctx = Arc::new(Ctx::new(target, client, run_id));

    let specs = checks::specs();
    let chosen: Vec<&checks::Spec> = specs
        .iter()
        .filter(|s| selected(&ctx.options, s.name))
        .collect();
    let wants_instance = creates_instances(&ctx.options);
    let prerequisites: BTreeSet<&str> = chosen
        .iter()
        .flat_map(|s| s.needs.prerequisites().iter().copied())
        .collect();
    for spec in &specs {
        let run_it = selected(&ctx.options, spec.name)
            || prerequisites.contains(spec.name)
            || (spec.name == "terminate" && wants_instance);
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

/// Makes the target's client under the API-call deadline, and checks that it agrees with its
/// credential: the `make_client` check, and the client when there is one.
pub(crate) async fn connect(target: &Target) -> (CheckResult, Option<Arc<dyn CloudClient>>) {
    let started = Instant::now();
    let made = tokio::time::timeout(
        target.timeouts.api_call,
        target.credential.make_client(&target.location),
    )
    .await;
    let mismatch = match made {
        Ok(Ok(client)) => {
            let verdict = check_client(target.credential.as_ref(), client.as_ref());
            return (result("make_client", started, verdict), Some(client));
        }
        Ok(Err(e)) => format!("make_client({:?}): {}", target.location, describe(&e)),
        Err(_) => format!(
            "make_client did not return within {:?}",
            target.timeouts.api_call
        ),
    };
    let failed = CheckResult {
        name: "make_client",
        outcome: Outcome::Failed {
            mismatches: vec![mismatch],
        },
        duration: started.elapsed(),
        notes: Vec::new(),
    };
    (failed, None)
}

/// The client agrees with its credential.
fn check_client(credential: &dyn CloudCredential, client: &dyn CloudClient) -> Verdict {
    let mut f = Findings::default();
    f.expect(client.identity() == credential.identity(), || {
        format!(
            "client identity {:?} differs from the credential's {:?}",
            client.identity(),
            credential.identity()
        )
    });
    f.done()
}

/// Terminates everything this run created (registered, or found by RefID prefix or run tag)
/// and reports what is still there.
pub(crate) async fn cleanup(ctx: &Arc<Ctx>) -> (CheckResult, Vec<InstanceId>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_checks_that_need_an_instance_create_one() {
        let mut options = SuiteOptions::default();
        assert!(creates_instances(&options));
        options.only = vec!["locations".into(), "instance_types".into()];
        assert!(!creates_instances(&options));
        options.only.push("create".into());
        assert!(creates_instances(&options));
        options.skip = vec!["create".into()];
        assert!(!creates_instances(&options));
    }
}
