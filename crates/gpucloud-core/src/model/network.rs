//! VPCs and subnets (v1 §6.14).

use serde::{Deserialize, Serialize};

use super::instance::Tags;
use crate::enums::{SubnetType, VpcStatus};
use crate::ids::ResourceId;

/// A virtual private network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vpc {
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
    /// Address block.
    pub cidr_block: String,
    /// State.
    pub status: VpcStatus,
    /// Subnets.
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

/// A subnet of a VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    /// Provider id.
    pub id: ResourceId,
    /// Name.
    pub name: String,
    /// Control-plane id.
    pub ref_id: String,
    /// The VPC.
    pub vpc_id: ResourceId,
    /// Region.
    #[serde(default)]
    pub location: String,
    /// Address block.
    pub cidr_block: String,
    /// Public or private.
    #[serde(rename = "type")]
    pub subnet_type: SubnetType,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

/// Create a VPC in the client's location.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateVpcArgs {
    /// Name.
    pub name: String,
    /// Control-plane id.
    pub ref_id: String,
    /// Address block.
    pub cidr_block: String,
    /// Subnets to create.
    pub subnets: Vec<CreateSubnetArgs>,
    /// Tags.
    pub tags: Tags,
}

/// A subnet to create with a VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSubnetArgs {
    /// Control-plane id.
    pub ref_id: String,
    /// Address block.
    pub cidr_block: String,
    /// Public or private.
    #[serde(rename = "type")]
    pub subnet_type: SubnetType,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}
