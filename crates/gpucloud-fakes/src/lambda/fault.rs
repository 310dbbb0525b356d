//! Fault injection for the fake Lambda API: what can go wrong, and which requests it hits.

use http::Method;

use crate::kit::{self, OperationClass};

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
        OperationClass::matches(self, request)
    }
}

/// A fault the fake injects into matching requests: the shared [`kit::Fault`] aimed at
/// Lambda's operations.
///
/// Faults are checked before authentication; one that replaces the request wins over
/// commit-then-drop, then the first one set that matches and is not used up wins (latency
/// always adds up).
pub type Fault = kit::Fault<Operation>;

impl OperationClass for Operation {
    const ANY: Self = Operation::Any;
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
    fn any_matches_everything_and_others_only_themselves() {
        assert!(Operation::Any.matches(None));
        assert!(Operation::Any.matches(Some(Operation::Launch)));
        assert!(Operation::Launch.matches(Some(Operation::Launch)));
        assert!(!Operation::Launch.matches(Some(Operation::Terminate)));
        assert!(!Operation::Launch.matches(None));
    }
}
