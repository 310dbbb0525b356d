#![doc = include_str!("../README.md")]

pub mod bookkeeping;
pub mod bytes;
pub mod cidr;
pub mod client;
pub mod enums;
pub mod error;
pub mod filter;
pub mod hostname;
pub mod ids;
pub mod location;
pub mod merge;
pub mod model;
pub mod outcome;
pub mod price;
pub mod provider;
pub mod retry;
pub mod settings;
pub mod sshkey;
pub mod status;
pub mod text;
pub mod token_file;
pub mod validate;
pub mod wait;

pub use bookkeeping::Bookkeeping;
pub use bytes::{Bytes, BytesError, BytesUnit};
pub use cidr::Cidr;
pub use client::{
    Capabilities, CapabilityTable, ChangeInstanceType, CloudClient, CloudClientExt,
    CloudCredential, CreateFeatures, Identity, InstanceTags, InstanceTypeQuotas, MachineImage,
    MaintainKubernetes, MaintainVpc, ModifyFirewall, OptionalCapability, RebootInstance,
    ResizeInstanceVolume, StopStartInstance,
};
/// The string type of the catalog's short, repeated values (locations, type names, providers,
/// GPU models, currencies): a `String` that keeps up to 24 bytes inline, so a catalog of
/// thousands of entries does not allocate once per field; it derefs to `str` and converts
/// from and to `String`.
pub use compact_str::CompactString;
pub use enums::{
    ApiType, Architecture, Capability, ClusterStatus, LifecycleStatus, Manufacturer,
    NodeGroupStatus, Protocol, SubnetType, VpcStatus,
};
pub use error::{BoxError, CloudError, Delivery, ErrorKind, ProviderDetails, Result, Retry};
pub use filter::{
    ArchitectureFilter, CloudFilter, GetInstanceTypeArgs, GpuManufacturerFilter, IncludeExclude,
};
pub use ids::{
    CloudProviderId, InstanceId, InstanceTypeId, NO_SUB_LOCATION, ResourceId, tenant_id_from_secret,
};
pub use location::{GetLocationsArgs, Location, LocationsFilter};
pub use model::firewall::{
    AddFirewallRulesToInstanceArgs, CheckedRule, FirewallRule, FirewallRules,
    RevokeSecurityGroupRuleArgs, RuleTriple, missing_rules,
};
pub use model::image::{GetImageArgs, Image};
pub use model::instance::{
    CreateInstanceAttrs, Instance, InstanceScope, ListInstancesArgs, PortMapping, Status, Tags,
    UpdateInstanceTagsArgs,
};
pub use model::instance_type::{
    GetInstanceTypeQuotasArgs, Gpu, InstanceType, InstanceTypeQuota, Quota, normalize_gpu_name,
};
pub use model::kubernetes::{
    Cluster, ClusterUser, CreateClusterArgs, CreateNodeGroupArgs, ModifyNodeGroupArgs, NodeGroup,
    SetClusterUserArgs,
};
pub use model::network::{CreateSubnetArgs, CreateVpcArgs, Subnet, Vpc};
pub use model::storage::{Disk, ResizeInstanceVolumeArgs, Storage};
pub use price::{Price, PriceError};
pub use provider::{Activation, Build, CredentialSource, ProviderDescriptor};
pub use settings::{ProviderSettings, Setting, SettingKind, SettingSource, SettingSpec};
/// The list type of a catalog entry's GPUs, storage, usage classes and architectures: nearly
/// always one element, kept inline so an entry does not allocate for each list.
pub use smallvec::{SmallVec, smallvec};
pub use validate::{
    ValidCreate, ValidFirewallAdd, ValidFirewallRevoke, ValidTagUpdate, validate_and_create,
    validate_create, validate_firewall_add, validate_firewall_revoke, validate_tag_update,
};
pub use wait::{WaitOptions, wait_for_status};
