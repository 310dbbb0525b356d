//! The suite as test trials: one libtest-mimic trial per check, so that a provider crate runs
//! the suite from its own integration tests and a test filter picks one check.
//!
//! The trials of one [`Suite`] share one client and one test instance. A check that needs the
//! instance runs the checks it depends on first (`create`, then `running`) unless they already
//! ran in this process, and reports their failure as its own; the checks that use the instance
//! take turns; `terminate` waits for the other instance checks selected in this process and
//! `cleanup` for every other check of the suite. Whatever a filtered run created is terminated
//! and swept by [`Suite::finish`], which [`run_trials`] calls after the trials.
//!
//! A check that cannot apply to the client and target (a capability not declared, instances not
//! reachable, no stable IDs given) is an *ignored* trial, decided before anything runs, so both
//! libtest and nextest show it as skipped. Nothing is left to decide at run time: the test
//! instance's type is chosen to support what the client declares (a stoppable type when
//! stop-start is declared), and a declared capability the instance then cannot use fails its
//! check. A check that still finds at run time that it does not apply fails, because nextest,
//! which sees only the exit status of a one-trial process, would count it as passed.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use libtest_mimic::{Arguments, Conclusion, Failed, Trial};
use tokio::runtime::Runtime;
use tokio::sync::{Mutex as AsyncMutex, watch};

use crate::checks::{self, ALL_CHECKS, Needs, Spec};
use crate::ctx::{Ctx, new_run_id};
use crate::report::{CheckResult, Outcome};
use crate::suite::{cleanup, connect, run_spec};
use crate::target::Target;

/// The conformance suite against one target, as trials named `<prefix>::<check>`.
///
/// [`Suite::new`] makes the target and its client at once (it needs the client to know which
/// checks apply), on a runtime the suite owns; no provider call is made before a trial runs.
/// A suite is one run: each check runs at most once, so run its trials once.
pub struct Suite {
    prefix: String,
    kind: Kind,
}

enum Kind {
    /// The suite cannot run here: every trial is ignored, and fails with this reason if run
    /// anyway (`--ignored`), so that it is never counted as passed.
    Skipped(String),
    /// The suite should run but cannot: every trial fails with this reason.
    Broken(String),
    /// The suite runs.
    Ready(Arc<Session>),
}

impl std::fmt::Debug for Suite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.kind {
            Kind::Skipped(reason) => format!("skipped: {reason}"),
            Kind::Broken(reason) => format!("broken: {reason}"),
            Kind::Ready(_) => "ready".to_owned(),
        };
        f.debug_struct("Suite")
            .field("prefix", &self.prefix)
            .field("state", &state)
            .finish()
    }
}

impl Suite {
    /// The suite against the target `make_target` returns. `make_target` runs once, now, inside
    /// the suite's Tokio runtime, so it may start servers (a fake) that live as long as the
    /// suite.
    pub fn new<F, Fut>(prefix: impl Into<String>, make_target: F) -> Self
    where
        F: FnOnce() -> Fut,
        Fut: Future,
        Fut::Output: SuiteTarget,
    {
        let prefix = prefix.into();
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                return Self::broken(prefix, format!("cannot start the suite's runtime: {e}"));
            }
        };
        let (made, ctx, fixture) = runtime.block_on(async {
            let (target, fixture) = make_target().await.split();
            let (made, client) = connect(&target).await;
            let ctx = client.map(|client| Arc::new(Ctx::new(target, client, new_run_id())));
            (made, ctx, fixture)
        });
        let (done, _) = watch::channel(BTreeSet::new());
        let session = Session {
            runtime,
            _fixture: Mutex::new(fixture),
            made,
            ctx,
            specs: checks::specs(),
            ran: AsyncMutex::new(BTreeMap::new()),
            instance: AsyncMutex::new(()),
            selected: Mutex::new(BTreeSet::new()),
            done,
            cleaned: AsyncMutex::new(None),
        };
        Self {
            prefix,
            kind: Kind::Ready(Arc::new(session)),
        }
    }

    /// A suite that cannot run here (e.g. its credential variable is not set): every trial is
    /// reported as ignored with `reason`.
    pub fn skipped(prefix: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            kind: Kind::Skipped(reason.into()),
        }
    }

    /// A suite that must run but cannot (e.g. CI without the tools the provider needs): every
    /// trial fails with `reason`.
    pub fn broken(prefix: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            kind: Kind::Broken(reason.into()),
        }
    }

    /// The live suite of a provider from its configuration as `from_env` read it: `make`'s suite
    /// when there is one, [`Suite::skipped`] naming `credential_env` when it is not set, and
    /// [`Suite::broken`] when a setting is invalid (a typo in CI's secrets must not pass as
    /// "not configured").
    pub fn live<C, E: std::fmt::Display>(
        prefix: impl Into<String>,
        credential_env: &str,
        config: Result<Option<C>, E>,
        make: impl FnOnce(String, C) -> Self,
    ) -> Self {
        let prefix = prefix.into();
        match config {
            Ok(Some(config)) => make(prefix, config),
            Ok(None) => Self::skipped(prefix, format!("{credential_env} is not set")),
            Err(e) => Self::broken(prefix, format!("the provider's settings are invalid: {e}")),
        }
    }

    /// The prefix of this suite's trial names.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Why the suite does not run here, when it is [`Suite::skipped`].
    pub fn skip_reason(&self) -> Option<&str> {
        match &self.kind {
            Kind::Skipped(reason) => Some(reason),
            _ => None,
        }
    }

    /// One trial per check of [`ALL_CHECKS`], in the suite's order, named `<prefix>::<check>`.
    pub fn trials(&self) -> Vec<Trial> {
        ALL_CHECKS
            .iter()
            .map(|&name| {
                let full = format!("{}::{name}", self.prefix);
                match &self.kind {
                    Kind::Skipped(reason) => {
                        let message = format!("{name} cannot run here: {reason}");
                        Trial::test(full, move || Err(message.into())).with_ignored_flag(true)
                    }
                    Kind::Broken(reason) => {
                        let message = format!("{name} cannot run: {reason}");
                        Trial::test(full, move || Err(message.into()))
                    }
                    Kind::Ready(session) => {
                        let ignored = session.not_applicable(name).is_some();
                        let session = Arc::clone(session);
                        Trial::test(full, move || session.trial(name)).with_ignored_flag(ignored)
                    }
                }
            })
            .collect()
    }

    /// Tells the suite which of its trials `args` will run, so that `terminate` and `cleanup`
    /// wait for the others. [`run_trials`] calls it; call it yourself before
    /// [`libtest_mimic::run`] only when you run the trials another way.
    pub fn select(&self, args: &Arguments) {
        let Kind::Ready(session) = &self.kind else {
            return;
        };
        let selected: BTreeSet<&'static str> = self
            .trials()
            .iter()
            .zip(ALL_CHECKS)
            .filter(|(trial, _)| !args.is_filtered_out(trial) && !args.is_ignored(trial))
            .map(|(_, name)| *name)
            .collect();
        *session
            .selected
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = selected;
    }

    /// Terminates whatever the trials created and sweeps by RefID prefix and run tag, unless
    /// the `cleanup` trial already did. `Err` lists what was left behind or could not be
    /// checked.
    pub fn finish(&self) -> Result<(), String> {
        let Kind::Ready(session) = &self.kind else {
            return Ok(());
        };
        let Some(ctx) = &session.ctx else {
            return Ok(());
        };
        let cleaned = session.runtime.block_on(session.cleanup(ctx));
        match cleaned.outcome {
            Outcome::Failed { mismatches } => Err(format!(
                "{}: cleanup after the trials failed:\n  {}",
                self.prefix,
                mismatches.join("\n  ")
            )),
            Outcome::Passed | Outcome::Skipped { .. } => Ok(()),
        }
    }
}

/// What [`run_trials`] found: the trials' conclusion and the cleanup failures of each suite.
#[derive(Debug)]
pub struct TrialsOutcome {
    /// The counts of passed, failed, ignored and filtered-out trials.
    pub conclusion: Conclusion,
    /// One message per suite whose final cleanup left something behind.
    pub cleanup_failures: Vec<String>,
}

impl TrialsOutcome {
    /// True when no trial failed and every cleanup succeeded.
    pub fn is_success(&self) -> bool {
        !self.conclusion.has_failed() && self.cleanup_failures.is_empty()
    }

    /// The exit status of a test binary with this outcome.
    pub fn exit_code(&self) -> ExitCode {
        if self.is_success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(101)
        }
    }
}

/// Runs the trials of `suites` and the `extra` trials under `args`, then [`Suite::finish`]es
/// every suite whose trials ran. Trials run one at a time unless `args` asks for more threads,
/// so a suite's checks run in the suite's order.
pub fn run_trials(args: &Arguments, suites: &[Suite], extra: Vec<Trial>) -> TrialsOutcome {
    let mut args = args.clone();
    args.test_threads.get_or_insert(1);
    let mut trials = Vec::new();
    for suite in suites {
        suite.select(&args);
        trials.extend(suite.trials());
    }
    trials.extend(extra);
    let conclusion = libtest_mimic::run(&args, trials);
    let mut cleanup_failures = Vec::new();
    if !args.list {
        for suite in suites {
            if suite.ran_any()
                && let Err(failure) = suite.finish()
            {
                cleanup_failures.push(failure);
            }
        }
    }
    TrialsOutcome {
        conclusion,
        cleanup_failures,
    }
}

/// The `main` of a `harness = false` conformance test binary: parses the libtest arguments,
/// runs [`run_trials`], prints why skipped suites did not run and what cleanup left behind,
/// and returns the exit status.
pub fn test_main(suites: &[Suite], extra: Vec<Trial>) -> ExitCode {
    let args = Arguments::from_args();
    if !args.list {
        for suite in suites {
            if let Some(reason) = suite.skip_reason() {
                eprintln!("{}: every check skipped: {reason}", suite.prefix());
            }
        }
    }
    let outcome = run_trials(&args, suites, extra);
    for failure in &outcome.cleanup_failures {
        eprintln!("{failure}");
    }
    outcome.exit_code()
}

impl Suite {
    /// True when at least one of this suite's trials was selected to run.
    fn ran_any(&self) -> bool {
        match &self.kind {
            Kind::Ready(session) => !session
                .selected
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty(),
            Kind::Skipped(_) | Kind::Broken(_) => false,
        }
    }
}

/// What a suite's `make_target` returns: the [`Target`], or the target and a fixture that must
/// live as long as the suite (e.g. the fake server the target points at).
pub trait SuiteTarget {
    /// The target, and what to keep alive with it.
    fn split(self) -> (Target, Box<dyn Any + Send>);
}

impl SuiteTarget for Target {
    fn split(self) -> (Target, Box<dyn Any + Send>) {
        (self, Box::new(()))
    }
}

impl<F: Send + 'static> SuiteTarget for (Target, F) {
    fn split(self) -> (Target, Box<dyn Any + Send>) {
        (self.0, Box::new(self.1))
    }
}

/// What the trials of one suite share in one process.
struct Session {
    runtime: Runtime,
    /// Kept, never read: dropping it would stop what the target points at.
    _fixture: Mutex<Box<dyn Any + Send>>,
    /// The `make_client` check, made with the suite.
    made: CheckResult,
    /// `None` when `make_client` failed.
    ctx: Option<Arc<Ctx>>,
    specs: Vec<Spec>,
    /// Checks that already ran, as a trial or as another check's prerequisite: each runs once.
    ran: AsyncMutex<BTreeMap<&'static str, CheckResult>>,
    /// Held while a check uses the test instance, so that those checks take turns.
    instance: AsyncMutex<()>,
    /// The checks whose trials run in this process (empty: unknown, nobody waits).
    selected: Mutex<BTreeSet<&'static str>>,
    /// The checks whose trials have ended.
    done: watch::Sender<BTreeSet<&'static str>>,
    /// The result of the final cleanup, once it ran.
    cleaned: AsyncMutex<Option<CheckResult>>,
}

/// Marks a trial as ended when dropped, whatever happened to it.
struct Ended<'a> {
    session: &'a Session,
    name: &'static str,
}

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        self.session.done.send_modify(|done| {
            done.insert(self.name);
        });
    }
}

impl Session {
    fn spec(&self, name: &str) -> Option<&Spec> {
        self.specs.iter().find(|spec| spec.name == name)
    }

    /// Why the check `name` cannot apply, known before it runs.
    fn not_applicable(&self, name: &str) -> Option<String> {
        let ctx = self.ctx.as_ref()?;
        let spec = self.spec(name)?;
        (spec.not_applicable)(ctx)
    }

    /// Runs the trial of check `name` to its libtest outcome.
    fn trial(&self, name: &'static str) -> Result<(), Failed> {
        let _ended = Ended {
            session: self,
            name,
        };
        let result = self.runtime.block_on(self.check(name));
        match result.outcome {
            Outcome::Passed => Ok(()),
            // Whether a check applies is decided when the trials are listed; a one-trial process
            // (nextest) could only report a later skip as passed, so it is a failure instead.
            Outcome::Skipped { reason } => Err(format!(
                "check {name} found at run time that it does not apply: {reason} (a check that \
                 cannot apply must be ignored when the trials are listed)"
            )
            .into()),
            Outcome::Failed { mismatches } => {
                let mut message = format!("check {name} failed:");
                for mismatch in &mismatches {
                    message.push_str("\n  - ");
                    message.push_str(mismatch);
                }
                for note in &result.notes {
                    message.push_str("\n  note: ");
                    message.push_str(note);
                }
                Err(message.into())
            }
        }
    }

    /// Waits until the trials of every selected check in `names` have ended.
    async fn wait_for(&self, names: impl Fn(&str) -> bool) {
        let awaited: BTreeSet<&'static str> = self
            .selected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .filter(|name| names(name))
            .collect();
        let mut done = self.done.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = done
            .wait_for(|done| awaited.iter().all(|name| done.contains(name)))
            .await;
    }

    async fn check(&self, name: &'static str) -> CheckResult {
        if name == "make_client" {
            return self.made.clone();
        }
        let Some(ctx) = &self.ctx else {
            return failed(
                name,
                format!(
                    "not run: make_client failed: {}",
                    self.made.mismatches().join("; ")
                ),
            );
        };
        if name == "cleanup" {
            self.wait_for(|other| other != "cleanup").await;
            return self.cleanup(ctx).await;
        }
        let Some(spec) = self.spec(name) else {
            return failed(name, "the suite has no such check".to_owned());
        };
        if spec.needs == Needs::Nothing {
            return self.once(ctx, spec).await;
        }
        if name == "terminate" {
            let specs = &self.specs;
            self.wait_for(|other| {
                other != "terminate"
                    && specs
                        .iter()
                        .any(|s| s.name == other && s.needs != Needs::Nothing)
            })
            .await;
        }
        let _turn = self.instance.lock().await;
        if (spec.not_applicable)(ctx).is_none() {
            for &prerequisite in spec.needs.prerequisites() {
                let Some(before) = self.spec(prerequisite) else {
                    continue;
                };
                let earlier = self.once(ctx, before).await;
                if !earlier.is_passed() {
                    let why = match &earlier.outcome {
                        Outcome::Failed { mismatches } => mismatches.join("; "),
                        Outcome::Skipped { reason } => reason.clone(),
                        Outcome::Passed => String::new(),
                    };
                    return failed(
                        name,
                        format!("not run: the check {prerequisite} it needs did not pass: {why}"),
                    );
                }
            }
        }
        self.once(ctx, spec).await
    }

    /// The result of `spec`, run now unless it already ran in this process.
    async fn once(&self, ctx: &Arc<Ctx>, spec: &Spec) -> CheckResult {
        if let Some(earlier) = self.ran.lock().await.get(spec.name) {
            return earlier.clone();
        }
        let result = run_spec(ctx, spec).await;
        self.ran.lock().await.insert(spec.name, result.clone());
        result
    }

    /// The suite's cleanup, run once.
    async fn cleanup(&self, ctx: &Arc<Ctx>) -> CheckResult {
        let mut cleaned = self.cleaned.lock().await;
        if let Some(earlier) = &*cleaned {
            return earlier.clone();
        }
        let (result, _) = cleanup(ctx).await;
        *cleaned = Some(result.clone());
        result
    }
}

fn failed(name: &'static str, mismatch: String) -> CheckResult {
    CheckResult {
        name,
        outcome: Outcome::Failed {
            mismatches: vec![mismatch],
        },
        duration: std::time::Duration::ZERO,
        notes: Vec::new(),
    }
}
