//! Fault injection for the fake Lambda API: what can go wrong, and which requests it hits.

use std::time::Duration;

use http::Method;

/// A class of Lambda API request, used to aim a [`Fault`] at some requests only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Every request, including ones to unknown paths.
    Any,
    /// `GET /api/v1/instances`.
    ListInstances,
    /// `GET /api/v1/instances/{id}`.
    GetInstance,
    /// `POST /api/v1/instances/{id}` (rename).
    UpdateInstance,
    /// `POST /api/v1/instance-operations/launch`.
    Launch,
    /// `POST /api/v1/instance-operations/terminate`.
    Terminate,
    /// `POST /api/v1/instance-operations/restart`.
    Restart,
    /// `GET /api/v1/instance-types`.
    ListInstanceTypes,
    /// `GET /api/v1/regions`.
    ListRegions,
    /// `GET /api/v1/ssh-keys`.
    ListSshKeys,
    /// `POST /api/v1/ssh-keys`.
    AddSshKey,
    /// `DELETE /api/v1/ssh-keys/{id}`.
    DeleteSshKey,
    /// `GET /api/v1/images`.
    ListImages,
    /// `GET /api/v1/file-systems`.
    ListFileSystems,
    /// Any request under `/api/v1/firewall-rules` or `/api/v1/firewall-rulesets`.
    Firewall,
}

impl Operation {
    /// Classifies a request by method and path (without the query string). `None` for a
    /// request that is not one of the operations above (an unknown path or method).
    pub fn classify(method: &Method, path: &str) -> Option<Operation> {
        let rest = path.strip_prefix("/api/v1/")?;
        let rest = rest.trim_end_matches('/');
        let segments: Vec<&str> = rest.split('/').collect();
        let op = match (method.as_str(), segments.as_slice()) {
            ("GET", ["instances"]) => Operation::ListInstances,
            ("GET", ["instances", _]) => Operation::GetInstance,
            ("POST", ["instances", _]) => Operation::UpdateInstance,
            ("POST", ["instance-operations", "launch"]) => Operation::Launch,
            ("POST", ["instance-operations", "terminate"]) => Operation::Terminate,
            ("POST", ["instance-operations", "restart"]) => Operation::Restart,
            ("GET", ["instance-types"]) => Operation::ListInstanceTypes,
            ("GET", ["regions"]) => Operation::ListRegions,
            ("GET", ["ssh-keys"]) => Operation::ListSshKeys,
            ("POST", ["ssh-keys"]) => Operation::AddSshKey,
            ("DELETE", ["ssh-keys", _]) => Operation::DeleteSshKey,
            ("GET", ["images"]) => Operation::ListImages,
            ("GET", ["file-systems"]) => Operation::ListFileSystems,
            (_, ["firewall-rules" | "firewall-rulesets", ..]) => Operation::Firewall,
            _ => return None,
        };
        Some(op)
    }

    /// Whether a fault aimed at `self` hits a request classified as `request`.
    pub fn matches(self, request: Option<Operation>) -> bool {
        self == Operation::Any || request == Some(self)
    }
}

/// A fault the fake injects into matching requests.
///
/// `times` is the number of matching requests the fault hits; after that it is used up.
/// [`Fault::Latency`] has no count: it stays until
/// [`FakeLambdaState::clear_faults`](super::FakeLambdaState::clear_faults).
///
/// Faults are checked before authentication, in the order they were set; the first one that
/// matches a request and is not used up wins (latency always adds up).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Delay every matching response by this much (on top of the server's base latency).
    Latency(Duration),
    /// Answer `429 Too Many Requests` with `Retry-After: retry_after_secs` and Lambda's error
    /// body, without running the request.
    RateLimited {
        /// Value of the `Retry-After` header, in seconds.
        retry_after_secs: u64,
        /// How many matching requests to throttle.
        times: u32,
    },
    /// Answer with this status (500, 502, 503, ...) and an error body, without running the
    /// request. 503 uses the code `provider/internal-unavailable`, anything else
    /// `global/internal-error`.
    ServerError {
        /// HTTP status; values outside 100..=999 are sent as 500.
        status: u16,
        /// How many matching requests to fail.
        times: u32,
    },
    /// Close the connection without sending any response, without running the request.
    ConnectionReset {
        /// How many matching requests to drop.
        times: u32,
    },
    /// Answer `200 OK` with a JSON content type and a truncated, unparseable body, without
    /// running the request.
    MalformedJson {
        /// How many matching requests to answer with broken JSON.
        times: u32,
    },
    /// Run the request (the state change happens), then close the connection without
    /// sending the response. Only requests of `operation` are hit.
    CommitThenDropResponse {
        /// Which requests to hit, e.g. [`Operation::Launch`] or [`Operation::Terminate`].
        operation: Operation,
        /// How many matching requests to hit.
        times: u32,
    },
}

impl Fault {
    /// The operation a fault set with
    /// [`FakeLambdaState::set_fault`](super::FakeLambdaState::set_fault) is aimed at.
    pub(crate) fn default_target(&self) -> Operation {
        match self {
            Fault::CommitThenDropResponse { operation, .. } => *operation,
            _ => Operation::Any,
        }
    }

    fn times(&self) -> Option<u32> {
        match self {
            Fault::Latency(_) => None,
            Fault::RateLimited { times, .. }
            | Fault::ServerError { times, .. }
            | Fault::ConnectionReset { times }
            | Fault::MalformedJson { times }
            | Fault::CommitThenDropResponse { times, .. } => Some(*times),
        }
    }
}

/// What the server does instead of running a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Injected {
    RateLimited { retry_after_secs: u64 },
    ServerError { status: u16 },
    ConnectionReset,
    MalformedJson,
}

#[derive(Debug)]
struct ActiveFault {
    target: Operation,
    fault: Fault,
    remaining: Option<u32>,
}

impl ActiveFault {
    fn hits(&self, op: Option<Operation>) -> bool {
        if !self.target.matches(op) {
            return false;
        }
        if let Fault::CommitThenDropResponse { operation, .. } = &self.fault
            && !operation.matches(op)
        {
            return false;
        }
        self.remaining != Some(0)
    }
}

/// The faults currently set on a fake.
#[derive(Debug, Default)]
pub(crate) struct FaultTable {
    faults: Vec<ActiveFault>,
}

impl FaultTable {
    pub(crate) fn add(&mut self, target: Operation, fault: Fault) {
        let remaining = fault.times();
        if remaining == Some(0) {
            return;
        }
        self.faults.push(ActiveFault {
            target,
            fault,
            remaining,
        });
    }

    pub(crate) fn clear(&mut self) {
        self.faults.clear();
    }

    /// Total injected latency for a request.
    pub(crate) fn latency(&self, op: Option<Operation>) -> Duration {
        self.faults
            .iter()
            .filter(|f| f.hits(op))
            .filter_map(|f| match f.fault {
                Fault::Latency(d) => Some(d),
                _ => None,
            })
            .sum()
    }

    /// Takes one use of the first fault that replaces the request, if any.
    pub(crate) fn take_injected(&mut self, op: Option<Operation>) -> Option<Injected> {
        let index = self.faults.iter().position(|f| {
            f.hits(op)
                && matches!(
                    f.fault,
                    Fault::RateLimited { .. }
                        | Fault::ServerError { .. }
                        | Fault::ConnectionReset { .. }
                        | Fault::MalformedJson { .. }
                )
        })?;
        let injected = match self.faults[index].fault {
            Fault::RateLimited {
                retry_after_secs, ..
            } => Injected::RateLimited { retry_after_secs },
            Fault::ServerError { status, .. } => Injected::ServerError { status },
            Fault::ConnectionReset { .. } => Injected::ConnectionReset,
            Fault::MalformedJson { .. } => Injected::MalformedJson,
            Fault::Latency(_) | Fault::CommitThenDropResponse { .. } => return None,
        };
        self.use_once(index);
        Some(injected)
    }

    /// Takes one use of a matching commit-then-drop fault; true if the response must be
    /// dropped.
    pub(crate) fn take_commit_then_drop(&mut self, op: Option<Operation>) -> bool {
        let Some(index) = self
            .faults
            .iter()
            .position(|f| f.hits(op) && matches!(f.fault, Fault::CommitThenDropResponse { .. }))
        else {
            return false;
        };
        self.use_once(index);
        true
    }

    fn use_once(&mut self, index: usize) {
        if let Some(remaining) = self.faults[index].remaining.as_mut() {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                self.faults.remove(index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_known_and_unknown_paths() {
        assert_eq!(
            Operation::classify(&Method::POST, "/api/v1/instance-operations/launch"),
            Some(Operation::Launch)
        );
        assert_eq!(
            Operation::classify(&Method::GET, "/api/v1/instances/abc"),
            Some(Operation::GetInstance)
        );
        assert_eq!(
            Operation::classify(&Method::PATCH, "/api/v1/firewall-rulesets/global"),
            Some(Operation::Firewall)
        );
        assert_eq!(Operation::classify(&Method::GET, "/nope"), None);
        assert_eq!(Operation::classify(&Method::PUT, "/api/v1/instances"), None);
    }

    #[test]
    fn faults_are_used_up_in_order() {
        let mut table = FaultTable::default();
        table.add(Operation::Launch, Fault::ConnectionReset { times: 1 });
        table.add(
            Operation::Any,
            Fault::ServerError {
                status: 503,
                times: 2,
            },
        );
        let launch = Some(Operation::Launch);
        let list = Some(Operation::ListInstances);
        assert_eq!(
            table.take_injected(list),
            Some(Injected::ServerError { status: 503 })
        );
        assert_eq!(table.take_injected(launch), Some(Injected::ConnectionReset));
        assert_eq!(
            table.take_injected(launch),
            Some(Injected::ServerError { status: 503 })
        );
        assert_eq!(table.take_injected(launch), None);
    }

    #[test]
    fn commit_then_drop_targets_its_operation_only() {
        let mut table = FaultTable::default();
        let fault = Fault::CommitThenDropResponse {
            operation: Operation::Terminate,
            times: 1,
        };
        table.add(fault.default_target(), fault);
        assert!(!table.take_commit_then_drop(Some(Operation::Launch)));
        assert!(table.take_injected(Some(Operation::Terminate)).is_none());
        assert!(table.take_commit_then_drop(Some(Operation::Terminate)));
        assert!(!table.take_commit_then_drop(Some(Operation::Terminate)));
    }

    #[test]
    fn latency_adds_up_and_stays() {
        let mut table = FaultTable::default();
        table.add(Operation::Any, Fault::Latency(Duration::from_millis(5)));
        table.add(Operation::Launch, Fault::Latency(Duration::from_millis(7)));
        assert_eq!(
            table.latency(Some(Operation::Launch)),
            Duration::from_millis(12)
        );
        assert_eq!(table.latency(None), Duration::from_millis(5));
        assert_eq!(table.latency(None), Duration::from_millis(5));
    }
}
