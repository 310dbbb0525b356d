//! The checks. Each one collects every mismatch it finds instead of stopping at the first.

pub(crate) mod capabilities;
pub(crate) mod catalog;
pub(crate) mod lifecycle;
pub(crate) mod remote;

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
    "ssh",
    "firewall_ingress",
    "firewall_egress",
    "modify_firewall",
    "tags",
    "reboot",
    "stop_start",
    "terminate",
    "cleanup",
];

/// The checks run as tasks, in order (`make_client` and `cleanup` are run by the suite itself).
pub(crate) fn specs() -> Vec<Spec> {
    vec![
        Spec {
            name: "locations",
            needs_instance: false,
            timeout: |t| t.api_call * 2,
            run: |c| Box::pin(catalog::locations(c)),
        },
        Spec {
            name: "instance_types",
            needs_instance: false,
            timeout: |t| t.api_call * 2,
            run: |c| Box::pin(catalog::instance_types(c)),
        },
        Spec {
            name: "instance_type_filters",
            needs_instance: false,
            timeout: |t| t.api_call * 4,
            run: |c| Box::pin(catalog::instance_type_filters(c)),
        },
        Spec {
            name: "instance_types_by_location",
            needs_instance: false,
            timeout: |t| t.api_call * 3,
            run: |c| Box::pin(catalog::instance_types_by_location(c)),
        },
        Spec {
            name: "stable_ids",
            needs_instance: false,
            timeout: |t| t.api_call,
            run: |c| Box::pin(catalog::stable_ids(c)),
        },
        Spec {
            name: "merge_for_update",
            needs_instance: false,
            timeout: |t| t.api_call,
            run: |c| Box::pin(async move { capabilities::merge_for_update(&c) }),
        },
        Spec {
            name: "capabilities",
            needs_instance: false,
            timeout: |t| t.api_call * 3,
            run: |c| Box::pin(capabilities::capabilities(c)),
        },
        Spec {
            name: "create_features",
            needs_instance: false,
            timeout: |t| t.api_call + t.create_call * 14,
            run: |c| Box::pin(capabilities::create_features(c)),
        },
        Spec {
            name: "create",
            needs_instance: true,
            timeout: |t| t.api_call + t.create_call,
            run: |c| Box::pin(lifecycle::create(c)),
        },
        Spec {
            name: "list",
            needs_instance: true,
            timeout: |t| t.api_call * 4,
            run: |c| Box::pin(lifecycle::list(c)),
        },
        Spec {
            name: "idempotent_create",
            needs_instance: true,
            timeout: |t| t.api_call * 2 + t.create_call,
            run: |c| Box::pin(lifecycle::idempotent_create(c)),
        },
        Spec {
            name: "running",
            needs_instance: true,
            timeout: |t| t.api_call + t.pending_to_running,
            run: |c| Box::pin(lifecycle::running(c)),
        },
        Spec {
            name: "ssh",
            needs_instance: true,
            timeout: |t| t.api_call * 3 + t.running_ssh * 2,
            run: |c| Box::pin(remote::ssh(c)),
        },
        Spec {
            name: "firewall_ingress",
            needs_instance: true,
            timeout: |t| t.api_call * 3 + t.running_ssh + t.port_probe * 8,
            run: |c| Box::pin(remote::firewall_ingress(c)),
        },
        Spec {
            name: "firewall_egress",
            needs_instance: true,
            timeout: |t| t.api_call * 3 + t.running_ssh,
            run: |c| Box::pin(remote::firewall_egress(c)),
        },
        Spec {
            name: "modify_firewall",
            needs_instance: true,
            timeout: |t| t.api_call * 6 + t.running_ssh + t.firewall_change * 2 + t.port_probe * 4,
            run: |c| Box::pin(remote::modify_firewall(c)),
        },
        Spec {
            name: "tags",
            needs_instance: true,
            timeout: |t| t.api_call * 5,
            run: |c| Box::pin(lifecycle::tags(c)),
        },
        Spec {
            name: "reboot",
            needs_instance: true,
            timeout: |t| t.api_call * 2 + t.pending_to_running + t.running_ssh,
            run: |c| Box::pin(lifecycle::reboot(c)),
        },
        Spec {
            name: "stop_start",
            needs_instance: true,
            timeout: |t| {
                t.api_call * 3 + t.running_to_stopped + t.stopped_to_running + t.running_ssh
            },
            run: |c| Box::pin(lifecycle::stop_start(c)),
        },
        Spec {
            name: "terminate",
            needs_instance: true,
            timeout: |t| t.api_call * 3 + t.running_to_terminated * 2,
            run: |c| Box::pin(lifecycle::terminate(c)),
        },
    ]
}
