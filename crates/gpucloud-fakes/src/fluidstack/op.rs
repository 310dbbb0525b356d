//! Fluidstack's operations, to aim faults at some requests only.

use http::Method;

use crate::kit::OperationClass;

/// A class of Fluidstack API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Every request, including ones to unknown paths.
    Any,
    /// `GET /projects`.
    ListProjects,
    /// `POST /projects`.
    CreateProject,
    /// `GET /projects/{id}`.
    GetProject,
    /// `DELETE /projects/{id}`.
    DeleteProject,
    /// `GET /instances`.
    ListInstances,
    /// `POST /instances`.
    CreateInstance,
    /// `GET /instances/{id}`.
    GetInstance,
    /// `DELETE /instances/{id}`.
    DeleteInstance,
    /// `POST /instances/{id}/actions/start`.
    StartInstance,
    /// `POST /instances/{id}/actions/stop`.
    StopInstance,
    /// `GET /instance-types`.
    ListInstanceTypes,
    /// `GET /capacity`.
    ListCapacity,
    /// `GET /capabilities`.
    ListCapabilities,
}

impl OperationClass for Operation {
    const ANY: Self = Operation::Any;
}

impl Operation {
    /// Classifies a request by method and path `/<region>/api/v1alpha1/...` (no query
    /// string). `None` for anything else.
    pub fn classify(method: &Method, path: &str) -> Option<Operation> {
        let (_region, rest) = path.strip_prefix('/')?.split_once('/')?;
        let rest = rest.strip_prefix(super::API_PREFIX)?.trim_end_matches('/');
        let segments: Vec<&str> = rest.split('/').collect();
        let op = match (method.as_str(), segments.as_slice()) {
            ("GET", ["projects"]) => Operation::ListProjects,
            ("POST", ["projects"]) => Operation::CreateProject,
            ("GET", ["projects", _]) => Operation::GetProject,
            ("DELETE", ["projects", _]) => Operation::DeleteProject,
            ("GET", ["instances"]) => Operation::ListInstances,
            ("POST", ["instances"]) => Operation::CreateInstance,
            ("GET", ["instances", _]) => Operation::GetInstance,
            ("DELETE", ["instances", _]) => Operation::DeleteInstance,
            ("POST", ["instances", _, "actions", "start"]) => Operation::StartInstance,
            ("POST", ["instances", _, "actions", "stop"]) => Operation::StopInstance,
            ("GET", ["instance-types"]) => Operation::ListInstanceTypes,
            ("GET", ["capacity"]) => Operation::ListCapacity,
            ("GET", ["capabilities"]) => Operation::ListCapabilities,
            _ => return None,
        };
        Some(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_strips_the_region_and_prefix() {
        let c = |m: &Method, p: &str| Operation::classify(m, p);
        assert_eq!(
            c(&Method::POST, "/r1/api/v1alpha1/instances"),
            Some(Operation::CreateInstance)
        );
        assert_eq!(
            c(&Method::POST, "/r2/api/v1alpha1/instances/abc/actions/stop"),
            Some(Operation::StopInstance)
        );
        assert_eq!(
            c(&Method::GET, "/r1/api/v1alpha1/capacity/"),
            Some(Operation::ListCapacity)
        );
        assert_eq!(c(&Method::GET, "/api/v1alpha1/instances"), None);
        assert_eq!(c(&Method::PUT, "/r1/api/v1alpha1/instances"), None);
        assert_eq!(c(&Method::GET, "/r1/api/v1/instances"), None);
    }
}
