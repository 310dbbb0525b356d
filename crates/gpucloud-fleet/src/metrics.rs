//! Counters the loops keep, and a snapshot of them in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// The fleet's loops, as they appear in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoopKind {
    /// Catalog reads, per (provider, credential).
    Inventory,
    /// Instance lists, per (provider, credential, location).
    Status,
    /// Creates, terminates, TTLs and orphan graces.
    Reconcile,
}

impl LoopKind {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inventory => "inventory",
            Self::Status => "status",
            Self::Reconcile => "reconcile",
        }
    }
}

/// How long one loop's passes took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LoopTimes {
    /// Passes run.
    pub passes: u64,
    /// All of them together.
    pub total: Duration,
    /// The last one.
    pub last: Duration,
}

/// A provider call's outcome class, as a label: `ok`, or the error's kind (`rate_limited`,
/// `timeout`, ...).
pub type Outcome = String;

/// The counters at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// Per loop.
    pub loops: BTreeMap<LoopKind, LoopTimes>,
    /// Provider calls per (provider, operation, outcome).
    pub calls: BTreeMap<(String, String, Outcome), u64>,
    /// Instances per (phase, provider status) in the store; the status is `none` before the
    /// provider said one.
    pub instances: BTreeMap<(String, String), u64>,
    /// Events written since the fleet opened.
    pub events_written: u64,
    /// Calls that waited for the fleet's own rate limiter, per credential.
    pub rate_limit_waits: BTreeMap<String, u64>,
}

impl MetricsSnapshot {
    /// The snapshot in the Prometheus text exposition format (version 0.0.4).
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP gpucloud_fleet_loop_seconds_total Time spent in each loop's passes.\n\
             # TYPE gpucloud_fleet_loop_seconds_total counter\n",
        );
        for (kind, times) in &self.loops {
            let _ = writeln!(
                out,
                "gpucloud_fleet_loop_seconds_total{{loop=\"{}\"}} {}",
                kind.as_str(),
                times.total.as_secs_f64()
            );
        }
        out.push_str(
            "# HELP gpucloud_fleet_loop_passes_total Passes of each loop.\n\
             # TYPE gpucloud_fleet_loop_passes_total counter\n",
        );
        for (kind, times) in &self.loops {
            let _ = writeln!(
                out,
                "gpucloud_fleet_loop_passes_total{{loop=\"{}\"}} {}",
                kind.as_str(),
                times.passes
            );
        }
        out.push_str(
            "# HELP gpucloud_fleet_loop_last_seconds The duration of each loop's last pass.\n\
             # TYPE gpucloud_fleet_loop_last_seconds gauge\n",
        );
        for (kind, times) in &self.loops {
            let _ = writeln!(
                out,
                "gpucloud_fleet_loop_last_seconds{{loop=\"{}\"}} {}",
                kind.as_str(),
                times.last.as_secs_f64()
            );
        }
        out.push_str(
            "# HELP gpucloud_fleet_provider_calls_total Provider calls by provider, operation and outcome.\n\
             # TYPE gpucloud_fleet_provider_calls_total counter\n",
        );
        for ((provider, operation, outcome), n) in &self.calls {
            let _ = writeln!(
                out,
                "gpucloud_fleet_provider_calls_total{{provider=\"{}\",operation=\"{}\",outcome=\"{}\"}} {n}",
                label(provider),
                label(operation),
                label(outcome)
            );
        }
        out.push_str(
            "# HELP gpucloud_fleet_instances Instances in the store by phase and provider status.\n\
             # TYPE gpucloud_fleet_instances gauge\n",
        );
        for ((phase, status), n) in &self.instances {
            let _ = writeln!(
                out,
                "gpucloud_fleet_instances{{phase=\"{}\",status=\"{}\"}} {n}",
                label(phase),
                label(status)
            );
        }
        out.push_str(
            "# HELP gpucloud_fleet_events_written_total Events written since the fleet opened.\n\
             # TYPE gpucloud_fleet_events_written_total counter\n",
        );
        let _ = writeln!(
            out,
            "gpucloud_fleet_events_written_total {}",
            self.events_written
        );
        out.push_str(
            "# HELP gpucloud_fleet_rate_limit_waits_total Calls that waited for the credential's rate limiter.\n\
             # TYPE gpucloud_fleet_rate_limit_waits_total counter\n",
        );
        for (credential, n) in &self.rate_limit_waits {
            let _ = writeln!(
                out,
                "gpucloud_fleet_rate_limit_waits_total{{credential=\"{}\"}} {n}",
                label(credential)
            );
        }
        out
    }
}

/// A label value escaped as the text format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The live counters; the store's instance counts are added when a snapshot is taken.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    inner: Mutex<MetricsSnapshot>,
}

impl Metrics {
    pub(crate) fn pass(&self, kind: LoopKind, took: Duration) {
        let mut inner = self.lock();
        let times = inner.loops.entry(kind).or_default();
        times.passes += 1;
        times.total += took;
        times.last = took;
    }

    pub(crate) fn call(&self, provider: &str, operation: &str, outcome: &str) {
        *self
            .lock()
            .calls
            .entry((
                provider.to_owned(),
                operation.to_owned(),
                outcome.to_owned(),
            ))
            .or_default() += 1;
    }

    pub(crate) fn events(&self, n: u64) {
        self.lock().events_written += n;
    }

    pub(crate) fn rate_limit_wait(&self, credential: &str) {
        *self
            .lock()
            .rate_limit_waits
            .entry(credential.to_owned())
            .or_default() += 1;
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MetricsSnapshot> {
        // A panic while counting leaves counters that are still numbers: keep using them.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_escaped_labels() {
        let metrics = Metrics::default();
        metrics.pass(LoopKind::Status, Duration::from_millis(1500));
        metrics.call("lambda", "list_instances", "ok");
        metrics.call("lambda", "list_instances", "ok");
        metrics.events(3);
        metrics.rate_limit_wait("team\"b");
        let mut snapshot = metrics.snapshot();
        snapshot
            .instances
            .insert(("active".into(), "running".into()), 2);
        let text = snapshot.to_prometheus();
        assert!(text.contains("gpucloud_fleet_loop_seconds_total{loop=\"status\"} 1.5\n"));
        assert!(text.contains(
            "gpucloud_fleet_provider_calls_total{provider=\"lambda\",operation=\"list_instances\",outcome=\"ok\"} 2\n"
        ));
        assert!(text.contains("gpucloud_fleet_instances{phase=\"active\",status=\"running\"} 2\n"));
        assert!(text.contains("gpucloud_fleet_events_written_total 3\n"));
        assert!(
            text.contains("gpucloud_fleet_rate_limit_waits_total{credential=\"team\\\"b\"} 1\n")
        );
    }
}
