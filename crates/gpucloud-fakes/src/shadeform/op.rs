//! Shadeform's operations, to aim faults at some requests only.

use http::Method;

use crate::kit::OperationClass;

/// A class of Shadeform API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Every request, including ones to unknown paths.
    Any,
    /// `GET /instances`.
    ListInstances,
    /// `GET /instances/types`.
    InstanceTypes,
    /// `POST /instances/create`.
    CreateInstance,
    /// `GET /instances/{id}/info`.
    InstanceInfo,
    /// `POST /instances/{id}/update`.
    UpdateInstance,
    /// `POST /instances/{id}/delete`.
    DeleteInstance,
    /// `POST /instances/{id}/restart`.
    RestartInstance,
    /// `GET /sshkeys`.
    ListSshKeys,
    /// `POST /sshkeys/add`.
    AddSshKey,
    /// `GET /sshkeys/{id}/info`.
    SshKeyInfo,
    /// `POST /sshkeys/{id}/delete`.
    DeleteSshKey,
    /// `POST /sshkeys/{id}/setdefault`.
    SetDefaultSshKey,
}

impl OperationClass for Operation {
    const ANY: Self = Operation::Any;
}

impl Operation {
    /// Classifies a request by method and path `/v1/...` (no query string). `None` for
    /// anything else.
    pub fn classify(method: &Method, path: &str) -> Option<Operation> {
        let rest = path.strip_prefix("/v1/")?.trim_end_matches('/');
        let segments: Vec<&str> = rest.split('/').collect();
        let op = match (method.as_str(), segments.as_slice()) {
            ("GET", ["instances"]) => Operation::ListInstances,
            ("GET", ["instances", "types"]) => Operation::InstanceTypes,
            ("POST", ["instances", "create"]) => Operation::CreateInstance,
            ("GET", ["instances", _, "info"]) => Operation::InstanceInfo,
            ("POST", ["instances", _, "update"]) => Operation::UpdateInstance,
            ("POST", ["instances", _, "delete"]) => Operation::DeleteInstance,
            ("POST", ["instances", _, "restart"]) => Operation::RestartInstance,
            ("GET", ["sshkeys"]) => Operation::ListSshKeys,
            ("POST", ["sshkeys", "add"]) => Operation::AddSshKey,
            ("GET", ["sshkeys", _, "info"]) => Operation::SshKeyInfo,
            ("POST", ["sshkeys", _, "delete"]) => Operation::DeleteSshKey,
            ("POST", ["sshkeys", _, "setdefault"]) => Operation::SetDefaultSshKey,
            _ => return None,
        };
        Some(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_reads_the_v1_paths() {
        let c = Operation::classify;
        assert_eq!(
            c(&Method::POST, "/v1/instances/create"),
            Some(Operation::CreateInstance)
        );
        assert_eq!(
            c(&Method::GET, "/v1/instances/types/"),
            Some(Operation::InstanceTypes)
        );
        assert_eq!(
            c(&Method::POST, "/v1/instances/abc/delete"),
            Some(Operation::DeleteInstance)
        );
        assert_eq!(
            c(&Method::POST, "/v1/sshkeys/abc/setdefault"),
            Some(Operation::SetDefaultSshKey)
        );
        assert_eq!(c(&Method::GET, "/instances"), None);
        assert_eq!(c(&Method::DELETE, "/v1/instances/abc"), None);
    }
}
