//! The checks. Each one collects every mismatch it finds instead of stopping at the first.

pub(crate) mod capabilities;
pub(crate) mod catalog;
pub(crate) mod lifecycle;
pub(crate) mod remote;
pub(crate) mod rules;

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use gpucloud_core::CloudError;

use crate::suite::Ctx;
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

/// An error in one line, with its kind and cause.
pub(crate) fn describe(error: &CloudError) -> String {
    match error.source() {
        Some(source) => format!("{error} [kind {:?}] (cause: {source})", error.kind()),
        None => format!("{error} [kind {:?}]", error.kind()),
    }
}

/// A check: its name, whether it needs the test instance, its deadline and its body.
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    pub(crate) needs_instance: bool,
    pub(crate) timeout: fn(&Timeouts) -> Duration,
    pub(crate) run: fn(Arc<Ctx>) -> BoxFuture<'static, Verdict>,
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

/// Builds the spec list from rows of `module::check, needs_instance, deadline`; a check's name is
/// its function's name, so the two cannot drift apart.
macro_rules! specs {
    ($($module:ident::$check:ident, $needs_instance:expr, $timeout:expr;)*) => {
        vec![$(Spec {
            name: stringify!($check),
            needs_instance: $needs_instance,
            timeout: $timeout,
            run: |c| Box::pin($module::$check(c)),
        }),*]
    };
}

/// The checks run as tasks, in order (`make_client` and `cleanup` are run by the suite itself).
pub(crate) fn specs() -> Vec<Spec> {
    specs![
        catalog::locations, false, |t| t.api_call * 2;
        catalog::instance_types, false, |t| t.api_call * 2;
        catalog::instance_type_filters, false, |t| t.api_call * 4;
        catalog::instance_types_by_location, false, |t| t.api_call * 3;
        catalog::stable_ids, false, |t| t.api_call;
        capabilities::merge_for_update, false, |t| t.api_call;
        capabilities::capabilities, false, |t| t.api_call * 3;
        capabilities::create_features, false, |t| t.api_call + t.create_call * 14;
        lifecycle::create, true, |t| t.api_call + t.create_call;
        lifecycle::list, true, |t| t.api_call * 4;
        lifecycle::idempotent_create, true, |t| t.api_call * 2 + t.create_call;
        lifecycle::running, true, |t| t.api_call + t.pending_to_running;
        rules::hostname, true, |t| t.api_call * 2 + t.pending_to_running;
        remote::ssh, true, |t| t.api_call * 3 + t.running_ssh * 2;
        remote::firewall_ingress, true, |t| t.api_call * 3 + t.running_ssh + t.port_probe * 8;
        remote::firewall_egress, true, |t| t.api_call * 3 + t.running_ssh;
        remote::modify_firewall, true, |t| t.api_call * 6 + t.running_ssh + t.firewall_change * 2 + t.port_probe * 4;
        rules::duplicate_rule, true, |t| t.api_call * 8 + t.pending_to_running;
        rules::egress_rules, true, |t| t.api_call * 2;
        lifecycle::tags, true, |t| t.api_call * 5;
        lifecycle::reboot, true, |t| t.api_call * 2 + t.pending_to_running + t.running_ssh;
        lifecycle::stop_start, true, |t| t.api_call * 3 + t.running_to_stopped + t.stopped_to_running + t.running_ssh;
        lifecycle::terminate, true, |t| t.api_call * 3 + t.running_to_terminated * 2;
    ]
}
