//! Managed Kubernetes value types (v1 §6.15).

use serde::{Deserialize, Serialize};

use super::instance::Tags;
use crate::bytes::Bytes;
use crate::enums::{ClusterStatus, NodeGroupStatus};
use crate::ids::ResourceId;

/// A managed Kubernetes cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// Provider id.
    pub id: ResourceId,
    /// Name.
    pub name: String,
    /// Control-plane id.
    pub ref_id: String,
    /// Integration.
    pub provider: String,
    /// Host.
    #[serde(default)]
    pub cloud: String,
    /// Region.
    pub location: String,
    /// The VPC.
    pub vpc_id: ResourceId,
    /// Subnets.
    #[serde(default)]
    pub subnet_ids: Vec<ResourceId>,
    /// Kubernetes version.
    pub kubernetes_version: String,
    /// State.
    pub status: ClusterStatus,
    /// API server URL.
    #[serde(default)]
    pub api_endpoint: String,
    /// CA certificate, base64.
    #[serde(default)]
    pub cluster_ca_certificate_base64: String,
    /// Node groups.
    #[serde(default)]
    pub node_groups: Vec<NodeGroup>,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

/// A group of worker nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeGroup {
    /// Name.
    pub name: String,
    /// Control-plane id.
    pub ref_id: String,
    /// Provider id.
    pub id: ResourceId,
    /// Minimum nodes.
    pub min_node_count: u32,
    /// Maximum nodes.
    pub max_node_count: u32,
    /// Instance type of the nodes.
    pub instance_type: String,
    /// Disk per node.
    pub disk_size: Bytes,
    /// State.
    pub status: NodeGroupStatus,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

/// Credentials of a cluster user.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterUser {
    /// Cluster name.
    pub cluster_name: String,
    /// CA data, base64.
    pub cluster_certificate_authority_data_base64: String,
    /// API server URL.
    pub cluster_server_url: String,
    /// User name.
    pub username: String,
    /// Client certificate, base64.
    pub user_client_certificate_data_base64: String,
    /// Client key, base64 (secret).
    pub user_client_key_data_base64: String,
    /// A complete kubeconfig, base64 (secret).
    pub kubeconfig_base64: String,
}

impl std::fmt::Debug for ClusterUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterUser")
            .field("cluster_name", &self.cluster_name)
            .field("cluster_server_url", &self.cluster_server_url)
            .field("username", &self.username)
            .field("user_client_key_data_base64", &"<redacted>")
            .field("kubeconfig_base64", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Create a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateClusterArgs {
    /// Name.
    pub name: String,
    /// Control-plane id.
    pub ref_id: String,
    /// The VPC.
    pub vpc_id: ResourceId,
    /// Subnets.
    pub subnet_ids: Vec<ResourceId>,
    /// Kubernetes version.
    pub kubernetes_version: String,
    /// Tags.
    pub tags: Tags,
}

/// Create or refresh a client-certificate user.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SetClusterUserArgs {
    /// The cluster.
    pub cluster_id: ResourceId,
    /// User name.
    pub username: String,
    /// RSA private key, PEM, base64 (secret).
    pub rsa_pem_base64: String,
    /// Cluster role to bind.
    pub role: String,
}

impl std::fmt::Debug for SetClusterUserArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetClusterUserArgs")
            .field("cluster_id", &self.cluster_id)
            .field("username", &self.username)
            .field("rsa_pem_base64", &"<redacted>")
            .field("role", &self.role)
            .finish()
    }
}

/// Create a node group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateNodeGroupArgs {
    /// The cluster.
    pub cluster_id: ResourceId,
    /// Name.
    pub name: String,
    /// Control-plane id.
    pub ref_id: String,
    /// Minimum nodes.
    pub min_node_count: u32,
    /// Maximum nodes.
    pub max_node_count: u32,
    /// Instance type of the nodes.
    pub instance_type: String,
    /// Disk per node.
    pub disk_size: Bytes,
    /// Tags.
    pub tags: Tags,
}

/// Change a node group's size limits.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ModifyNodeGroupArgs {
    /// The cluster.
    pub cluster_id: ResourceId,
    /// The node group.
    pub id: ResourceId,
    /// Minimum nodes.
    pub min_node_count: u32,
    /// Maximum nodes.
    pub max_node_count: u32,
}
