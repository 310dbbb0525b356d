//! LaunchPad's operations, to aim faults at some requests only.

use http::Method;

use crate::kit::OperationClass;

/// A class of LaunchPad API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Every request, including ones to unknown paths.
    Any,
    /// `GET /v1/catalog/instance-types/`.
    InstanceTypes,
    /// `GET /v1/catalog/deployments/`.
    ListDeployments,
    /// `GET /v1/catalog/deployments/{id}/`.
    GetDeployment,
    /// `POST /v1/catalog/deployments/`.
    CreateDeployment,
    /// `DELETE /v1/catalog/deployments/{id}/`.
    DeleteDeployment,
    /// `GET /v1/inventory/clusters/` and `GET /v1/inventory/clusters/{id}/`.
    Clusters,
}

impl OperationClass for Operation {
    const ANY: Self = Operation::Any;
}

impl Operation {
    /// Classifies a request by method and path `/v1/...` (no query string; the trailing
    /// slash the API uses is optional). `None` for anything else.
    pub fn classify(method: &Method, path: &str) -> Option<Operation> {
        let rest = path.strip_prefix("/v1/")?.trim_end_matches('/');
        let segments: Vec<&str> = rest.split('/').collect();
        let op = match (method.as_str(), segments.as_slice()) {
            ("GET", ["catalog", "instance-types"]) => Operation::InstanceTypes,
            ("GET", ["catalog", "deployments"]) => Operation::ListDeployments,
            ("POST", ["catalog", "deployments"]) => Operation::CreateDeployment,
            ("GET", ["catalog", "deployments", _]) => Operation::GetDeployment,
            ("DELETE", ["catalog", "deployments", _]) => Operation::DeleteDeployment,
            ("GET", ["inventory", "clusters"] | ["inventory", "clusters", _]) => {
                Operation::Clusters
            }
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
            c(&Method::POST, "/v1/catalog/deployments/"),
            Some(Operation::CreateDeployment)
        );
        assert_eq!(
            c(&Method::DELETE, "/v1/catalog/deployments/abc/"),
            Some(Operation::DeleteDeployment)
        );
        assert_eq!(
            c(&Method::GET, "/v1/catalog/instance-types"),
            Some(Operation::InstanceTypes)
        );
        assert_eq!(
            c(&Method::GET, "/v1/inventory/clusters/x/"),
            Some(Operation::Clusters)
        );
        assert_eq!(c(&Method::GET, "/catalog/deployments/"), None);
        assert_eq!(c(&Method::PATCH, "/v1/catalog/deployments/x/"), None);
    }
}
