//! Verda's operations, to aim faults at some requests only.

use http::Method;

use crate::kit::OperationClass;

/// A class of Verda API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Every request, including ones to unknown paths.
    Any,
    /// `POST /oauth2/token`.
    Token,
    /// `GET /locations`.
    Locations,
    /// `GET /instance-types`.
    InstanceTypes,
    /// `GET /instance-availability` and `GET /instance-availability/{type}`.
    Availability,
    /// `GET /images`.
    Images,
    /// `GET /instances`.
    ListInstances,
    /// `GET /instances/{id}`.
    GetInstance,
    /// `POST /instances`.
    CreateInstance,
    /// `PUT /instances`: start, shutdown, delete and the other actions.
    InstanceAction,
    /// `GET /ssh-keys` and `GET /ssh-keys/{id}`.
    ListSshKeys,
    /// `POST /ssh-keys`.
    AddSshKey,
    /// `DELETE /ssh-keys/{id}` and `DELETE /ssh-keys`.
    DeleteSshKey,
    /// `GET /scripts` and `GET /scripts/{id}`.
    ListScripts,
    /// `POST /scripts`.
    AddScript,
    /// `DELETE /scripts/{id}` and `DELETE /scripts`.
    DeleteScript,
    /// `GET /volumes` and `GET /volumes/{id}`.
    Volumes,
}

impl OperationClass for Operation {
    const ANY: Self = Operation::Any;
}

impl Operation {
    /// Classifies a request by method and path `/v1/...` (no query string). `None` for
    /// anything else. The Python SDK's `/sshkeys` spelling is the same operation as the Go
    /// SDK's `/ssh-keys`.
    pub fn classify(method: &Method, path: &str) -> Option<Operation> {
        let rest = path.strip_prefix("/v1/")?.trim_end_matches('/');
        let segments: Vec<&str> = rest.split('/').collect();
        let keys = |s: &str| s == "ssh-keys" || s == "sshkeys";
        let op = match (method.as_str(), segments.as_slice()) {
            ("POST", ["oauth2", "token"]) => Operation::Token,
            ("GET", ["locations"]) => Operation::Locations,
            ("GET", ["instance-types"]) => Operation::InstanceTypes,
            ("GET", ["instance-availability"] | ["instance-availability", _]) => {
                Operation::Availability
            }
            ("GET", ["images"]) => Operation::Images,
            ("GET", ["instances"]) => Operation::ListInstances,
            ("GET", ["instances", _]) => Operation::GetInstance,
            ("POST", ["instances"]) => Operation::CreateInstance,
            ("PUT", ["instances"]) => Operation::InstanceAction,
            ("GET", [k] | [k, _]) if keys(k) => Operation::ListSshKeys,
            ("POST", [k]) if keys(k) => Operation::AddSshKey,
            ("DELETE", [k] | [k, _]) if keys(k) => Operation::DeleteSshKey,
            ("GET", ["scripts"] | ["scripts", _]) => Operation::ListScripts,
            ("POST", ["scripts"]) => Operation::AddScript,
            ("DELETE", ["scripts"] | ["scripts", _]) => Operation::DeleteScript,
            ("GET", ["volumes"] | ["volumes", _]) => Operation::Volumes,
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
        assert_eq!(c(&Method::POST, "/v1/oauth2/token"), Some(Operation::Token));
        assert_eq!(
            c(&Method::PUT, "/v1/instances"),
            Some(Operation::InstanceAction)
        );
        assert_eq!(
            c(&Method::GET, "/v1/instances/abc"),
            Some(Operation::GetInstance)
        );
        assert_eq!(
            c(&Method::POST, "/v1/instances/"),
            Some(Operation::CreateInstance)
        );
        assert_eq!(
            c(&Method::DELETE, "/v1/sshkeys/k"),
            Some(Operation::DeleteSshKey)
        );
        assert_eq!(
            c(&Method::DELETE, "/v1/ssh-keys"),
            Some(Operation::DeleteSshKey)
        );
        assert_eq!(
            c(&Method::GET, "/v1/instance-availability/1H100.80S.30V"),
            Some(Operation::Availability)
        );
        assert_eq!(c(&Method::GET, "/instances"), None);
        assert_eq!(c(&Method::PATCH, "/v1/instances"), None);
    }
}
