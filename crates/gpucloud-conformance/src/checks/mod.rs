//! The checks. Each one collects every mismatch it finds instead of stopping at the first.

pub(crate) mod capabilities;
pub(crate) mod catalog;
pub(crate) mod lifecycle;
pub(crate) mod remote;
pub(crate) mod rules;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use gpucloud_core::CloudClientExt;

use crate::ctx::Ctx;
pub(crate) use crate::ctx::describe;
use crate::target::Timeouts;

/// What a check found.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub(crate) mismatches: Vec<String>,
    pub(crate) notes: Vec<String>,
}

impl Findings {
    /// Records a broken expectation.
    pub(crate) fn fail(&mut self, message: impl Into<String>) {
        self.mismatches.push(message.into());
    }

    /// Records a broken expectation and ends the check.
    pub(crate) fn fail_done(&mut self, message: impl Into<String>) -> Verdict {
        self.fail(message);
        self.done()
    }

    /// Records an observation.
    pub(crate) fn note(&mut self, message: impl Into<String>) {
        self.notes.push(message.into());
    }

    /// Records `message` unless `holds`.
    pub(crate) fn expect(&mut self, holds: bool, message: impl FnOnce() -> String) {
        if !holds {
            self.mismatches.push(message());
        }
    }

    /// Ends the check with what was found.
    pub(crate) fn done(&mut self) -> Verdict {
        Verdict::Done(std::mem::take(self))
    }
}

/// How a check ended.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// It ran; passed when nothing was recorded as a mismatch.
    Done(Findings),
    /// It did not apply.
    Skip(String),
}

/// What of the test instance a check needs before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    /// Nothing: it uses only the client.
    Nothing,
    /// Nothing, but it makes the test instance the others use.
    Creates,
    /// The `create` check has run.
    Instance,
    /// The `create` and `running` checks have run.
    Running,
}

impl Needs {
    /// The checks that must have run, in order, before a check with these needs.
    pub(crate) fn prerequisites(self) -> &'static [&'static str] {
        match self {
            Self::Nothing | Self::Creates => &[],
            Self::Instance => &["create"],
            Self::Running => &["create", "running"],
        }
    }
}

/// A check: its name, what it needs, when it does not apply, its deadline and its body.
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    pub(crate) needs: Needs,
    /// Why the check does not apply to this client and target, decided without any call, so
    /// that a harness can report it as skipped before running anything.
    pub(crate) not_applicable: fn(&Ctx) -> Option<String>,
    pub(crate) timeout: fn(&Timeouts) -> Duration,
    pub(crate) run: fn(Arc<Ctx>) -> BoxFuture<'static, Verdict>,
}

/// The reason of the checks that need SSH access to the instance.
pub(crate) const NOT_REACHABLE: &str =
    "Target::reachable is false: instances are not SSH-reachable from this machine";

fn applies(_: &Ctx) -> Option<String> {
    None
}

fn unless_reachable(ctx: &Ctx) -> Option<String> {
    (!ctx.reachable).then(|| NOT_REACHABLE.to_owned())
}

fn unless_egress(ctx: &Ctx) -> Option<String> {
    unless_reachable(ctx).or_else(|| {
        (!ctx.options.check_egress).then(|| "SuiteOptions::check_egress is false".to_owned())
    })
}

fn unless_stable_ids(ctx: &Ctx) -> Option<String> {
    ctx.stable_ids
        .is_empty()
        .then(|| "no stable instance type IDs configured (Target::stable_ids)".to_owned())
}

fn unless_idempotent(ctx: &Ctx) -> Option<String> {
    (!ctx.client.create_features().idempotent).then(|| {
        "create_features().idempotent is false (capability create-instance-idempotent not declared)"
            .to_owned()
    })
}

fn unless_unhonoured(ctx: &Ctx) -> Option<String> {
    capabilities::unhonoured(ctx.client.create_features())
        .is_empty()
        .then(|| "the client honours every create parameter".to_owned())
}

fn unless_tags(ctx: &Ctx) -> Option<String> {
    ctx.client
        .tags()
        .err()
        .map(|_| "capability tags not declared".to_owned())
}

fn unless_reboot(ctx: &Ctx) -> Option<String> {
    ctx.client
        .reboot()
        .err()
        .map(|_| "capability reboot-instance not declared".to_owned())
}

fn unless_stop_start(ctx: &Ctx) -> Option<String> {
    ctx.client
        .stop_start()
        .err()
        .map(|_| "capability stop-start-instance not declared".to_owned())
}

fn unless_modify_firewall(ctx: &Ctx) -> Option<String> {
    ctx.client
        .modify_firewall()
        .err()
        .map(|_| "capability modify-firewall not declared".to_owned())
}

fn unless_egress_filtering(ctx: &Ctx) -> Option<String> {
    ctx.client.create_features().egress_filtering.then(|| {
        "the provider declares egress filtering; firewall_egress checks outbound traffic".to_owned()
    })
}

/// Names of the checks, in the order they run.
pub const ALL_CHECKS: &[&str] = &[
    "make_client",
    "locations",
    "instance_types",
    "instance_type_filters",
    "instance_types_by_location",
    "stable_ids",
    "merge_for_update",
    "capabilities",
    "create_features",
    "create",
    "list",
    "idempotent_create",
    "running",
    "hostname",
    "ssh",
    "firewall_ingress",
    "firewall_egress",
    "modify_firewall",
    "duplicate_rule",
    "egress_rules",
    "tags",
    "reboot",
    "stop_start",
    "terminate",
    "cleanup",
];

/// Builds the spec list from rows of `module::check, needs, not_applicable, deadline`; a check's
/// name is its function's name, so the two cannot drift apart.
macro_rules! specs {
    ($($module:ident::$check:ident, $needs:ident, $not_applicable:ident, $timeout:expr;)*) => {
        vec![$(Spec {
            name: stringify!($check),
            needs: Needs::$needs,
            not_applicable: $not_applicable,
            timeout: $timeout,
            run: |c| Box::pin($module::$check(c)),
        }),*]
    };
}

/// The checks run as tasks, in order (`make_client` and `cleanup` are run by the suite itself).
pub(crate) fn specs() -> Vec<Spec> {
    specs![
        catalog::locations, Nothing, applies, |t| t.api_call * 2;
        catalog::instance_types, Nothing, applies, |t| t.api_call * 2;
        catalog::instance_type_filters, Nothing, applies, |t| t.api_call * 4;
        catalog::instance_types_by_location, Nothing, applies, |t| t.api_call * 3;
        catalog::stable_ids, Nothing, unless_stable_ids, |t| t.api_call;
        capabilities::merge_for_update, Nothing, applies, |t| t.api_call;
        capabilities::capabilities, Nothing, applies, |t| t.api_call * 3;
        capabilities::create_features, Nothing, unless_unhonoured, |t| t.api_call + t.create_call * 14;
        lifecycle::create, Creates, applies, |t| t.api_call + t.create_call;
        lifecycle::list, Instance, applies, |t| t.api_call * 4;
        lifecycle::idempotent_create, Instance, unless_idempotent, |t| t.api_call * 2 + t.create_call;
        lifecycle::running, Instance, applies, |t| t.api_call + t.pending_to_running;
        rules::hostname, Running, applies, |t| t.api_call * 2;
        remote::ssh, Running, unless_reachable, |t| t.api_call * 3 + t.running_ssh * 2;
        remote::firewall_ingress, Running, unless_reachable, |t| t.api_call * 3 + t.running_ssh + t.port_probe * 8;
        remote::firewall_egress, Running, unless_egress, |t| t.api_call * 3 + t.running_ssh;
        remote::modify_firewall, Running, unless_modify_firewall, |t| t.api_call * 6 + t.running_ssh + t.firewall_change * 2 + t.port_probe * 4;
        rules::duplicate_rule, Running, unless_modify_firewall, |t| t.api_call * 8;
        rules::egress_rules, Instance, unless_egress_filtering, |t| t.api_call * 2;
        lifecycle::tags, Instance, unless_tags, |t| t.api_call * 5;
        lifecycle::reboot, Running, unless_reboot, |t| t.api_call * 2 + t.pending_to_running + t.running_ssh;
        lifecycle::stop_start, Running, unless_stop_start, |t| t.api_call * 3 + t.running_to_stopped + t.stopped_to_running + t.running_ssh;
        lifecycle::terminate, Running, applies, |t| t.api_call * 3 + t.running_to_terminated * 2;
    ]
}
