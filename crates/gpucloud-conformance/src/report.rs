//! The result of a run: one entry per check, the leftovers, and a human rendering.

use std::fmt;
use std::time::Duration;

use gpucloud_core::{Capability, InstanceId};
use serde::{Serialize, Serializer};

fn seconds<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

/// How one check ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Everything checked held.
    Passed,
    /// At least one expectation did not hold; every one that did not is listed.
    Failed {
        /// One line per broken expectation.
        mismatches: Vec<String>,
    },
    /// The check did not apply (capability not declared, target not reachable, ...).
    Skipped {
        /// Why it did not run.
        reason: String,
    },
}

/// One check of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// The check's name (one of [`crate::ALL_CHECKS`]).
    pub name: &'static str,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it took, in seconds when serialized.
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
    /// Observations that are not failures (e.g. the OS found, or a part that did not apply).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl CheckResult {
    /// True when the check passed.
    pub fn is_passed(&self) -> bool {
        matches!(self.outcome, Outcome::Passed)
    }

    /// True when the check failed.
    pub fn is_failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed { .. })
    }

    /// True when the check was skipped.
    pub fn is_skipped(&self) -> bool {
        matches!(self.outcome, Outcome::Skipped { .. })
    }

    /// The mismatches of a failed check (empty otherwise).
    pub fn mismatches(&self) -> &[String] {
        match &self.outcome {
            Outcome::Failed { mismatches } => mismatches,
            _ => &[],
        }
    }
}

/// The result of [`crate::run`].
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The provider id.
    pub provider: String,
    /// The location the client was bound to (empty: the provider's default).
    pub location: String,
    /// The id of this run; it is in the name, RefID and tag of everything the run created.
    pub run_id: String,
    /// The capabilities the client declared.
    pub capabilities: Vec<Capability>,
    /// Every check, in the order run.
    pub checks: Vec<CheckResult>,
    /// Instances the run created that were still there at the end. Any fails the run.
    pub leftovers: Vec<InstanceId>,
    /// Wall time of the whole run, in seconds when serialized.
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
}

impl Report {
    /// Number of checks that passed.
    pub fn passed(&self) -> usize {
        self.checks.iter().filter(|c| c.is_passed()).count()
    }

    /// Number of checks that failed.
    pub fn failed(&self) -> usize {
        self.checks.iter().filter(|c| c.is_failed()).count()
    }

    /// Number of checks that were skipped.
    pub fn skipped(&self) -> usize {
        self.checks.iter().filter(|c| c.is_skipped()).count()
    }

    /// True when no check failed and nothing was left behind.
    pub fn is_success(&self) -> bool {
        self.failed() == 0 && self.leftovers.is_empty()
    }

    /// The result of the check called `name`, if it is in the report.
    pub fn check(&self, name: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.name == name)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = if self.location.is_empty() {
            "(default)"
        } else {
            &self.location
        };
        writeln!(
            f,
            "conformance of {} in {location} (run {})",
            self.provider, self.run_id
        )?;
        let capabilities: Vec<&str> = self.capabilities.iter().map(|c| c.as_str()).collect();
        writeln!(f, "capabilities: {}", capabilities.join(", "))?;
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for check in &self.checks {
            let label = match check.outcome {
                Outcome::Passed => "PASS",
                Outcome::Failed { .. } => "FAIL",
                Outcome::Skipped { .. } => "SKIP",
            };
            write!(
                f,
                "{label} {:width$} {:>8.2}s",
                check.name,
                check.duration.as_secs_f64()
            )?;
            match &check.outcome {
                Outcome::Skipped { reason } => writeln!(f, "  skipped: {reason}")?,
                _ => writeln!(f)?,
            }
            for mismatch in check.mismatches() {
                writeln!(f, "       - {mismatch}")?;
            }
            for note in &check.notes {
                writeln!(f, "       note: {note}")?;
            }
        }
        if !self.leftovers.is_empty() {
            let ids: Vec<&str> = self.leftovers.iter().map(InstanceId::as_str).collect();
            writeln!(f, "left behind: {}", ids.join(", "))?;
        }
        write!(
            f,
            "{} passed, {} failed, {} skipped in {:.1}s",
            self.passed(),
            self.failed(),
            self.skipped(),
            self.duration.as_secs_f64()
        )?;
        if !self.leftovers.is_empty() {
            write!(f, ", {} instance(s) left behind", self.leftovers.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &'static str, outcome: Outcome) -> CheckResult {
        CheckResult {
            name,
            outcome,
            duration: Duration::from_millis(1500),
            notes: vec!["seen".into()],
        }
    }

    #[test]
    fn counts_success_and_rendering() {
        let mut report = Report {
            provider: "p".into(),
            location: String::new(),
            run_id: "r1".into(),
            capabilities: vec![Capability::CreateInstance],
            checks: vec![
                check("a", Outcome::Passed),
                check(
                    "b",
                    Outcome::Failed {
                        mismatches: vec!["x differs".into(), "y missing".into()],
                    },
                ),
                check(
                    "c",
                    Outcome::Skipped {
                        reason: "not declared".into(),
                    },
                ),
            ],
            leftovers: Vec::new(),
            duration: Duration::from_secs(2),
        };
        assert_eq!(
            (report.passed(), report.failed(), report.skipped()),
            (1, 1, 1)
        );
        assert!(!report.is_success());
        let text = report.to_string();
        assert!(text.contains("FAIL b"), "{text}");
        assert!(
            text.contains("- x differs") && text.contains("- y missing"),
            "{text}"
        );
        assert!(text.contains("skipped: not declared"), "{text}");
        assert!(text.contains("1.50s"), "{text}");
        assert!(text.contains("1 passed, 1 failed, 1 skipped"), "{text}");

        report.checks.remove(1);
        assert!(report.is_success());
        report.leftovers.push(InstanceId::new("i-1"));
        assert!(!report.is_success(), "a leftover fails the run");
        assert!(report.to_string().contains("left behind: i-1"));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["checks"][1]["outcome"],
            serde_json::json!({"status": "skipped", "reason": "not declared"})
        );
        assert_eq!(json["leftovers"][0], "i-1");
    }
}
