//! Instances and the arguments that create, list and tag them (v1 §6.1–§6.5).

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::firewall::FirewallRules;
use super::storage::Disk;
use crate::bytes::Bytes;
use crate::enums::LifecycleStatus;
use crate::ids::{InstanceId, InstanceTypeId};
use crate::location::LocationsFilter;

/// Key/value metadata on an instance.
pub type Tags = BTreeMap<String, String>;

/// The lifecycle status of an instance with human diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Status {
    /// Where the instance is in its lifecycle.
    pub lifecycle_status: LifecycleStatus,
    /// Human-readable diagnostics, e.g. why provisioning failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
}

impl Default for Status {
    fn default() -> Self {
        Self {
            lifecycle_status: LifecycleStatus::Pending,
            messages: Vec::new(),
        }
    }
}

impl Status {
    /// A status without messages.
    pub fn new(lifecycle_status: LifecycleStatus) -> Self {
        Self {
            lifecycle_status,
            messages: Vec::new(),
        }
    }
}

/// A mapping from an instance port to a port on a bastion or proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PortMapping {
    /// The port on the instance.
    pub from_port: u16,
    /// The port it is reachable on from outside.
    pub to_port: u16,
}

/// An instance as the provider reports it (v1 `Instance`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Instance {
    /// Display name; providers may rewrite it.
    pub name: String,
    /// The control plane's id for this instance; echoes `CreateInstanceAttrs::ref_id`.
    pub ref_id: String,
    /// The reference id of the credential that created the instance.
    pub cloud_cred_ref_id: String,
    /// When the provider created it.
    pub created_at: Option<Timestamp>,
    /// The provider's id.
    pub cloud_id: InstanceId,
    /// Static or elastic IP allocation id.
    pub ip_allocation_id: Option<String>,
    /// Address reachable for SSH; may be empty until `running`.
    pub public_ip: String,
    /// Public DNS name.
    pub public_dns: String,
    /// Private address.
    pub private_ip: String,
    /// Host name.
    pub hostname: String,
    /// Image the instance booted from.
    pub image_id: String,
    /// Provider-native type name (same namespace as `InstanceType::type_name`).
    pub instance_type: String,
    /// Root (boot) volume size.
    pub disk_size_bytes: Bytes,
    /// Root volume type, e.g. `ssd`.
    pub volume_type: String,
    /// Fingerprint of the authorized public key.
    pub pub_key_fingerprint: String,
    /// User to log in as over SSH.
    pub ssh_user: String,
    /// SSH port.
    pub ssh_port: u16,
    /// Lifecycle status.
    pub status: Status,
    /// Instance metadata service enabled.
    pub meta_endpoint_enabled: bool,
    /// Tags exposed through the metadata service.
    pub meta_tags_enabled: bool,
    /// VPC the instance is placed in.
    pub vpc_id: String,
    /// Subnet the instance is placed in.
    pub subnet_id: String,
    /// Spot (preemptible) instance.
    pub spot: bool,
    /// Effective firewall rules, when known.
    pub firewall_rules: FirewallRules,
    /// When the instance was retired.
    pub retired_at: Option<Timestamp>,
    /// Retire after this long.
    #[serde(with = "crate::model::duration_secs")]
    pub retire_timeout: Option<Duration>,
    /// When the instance last entered `stopping` or `stopped`.
    pub last_stop_transition_time: Option<Timestamp>,
    /// Region; equals the `location` of its catalog type.
    pub location: String,
    /// Zone; equals the zone used in the type's ID.
    pub sub_location: String,
    /// User tags (provider bookkeeping tags stripped).
    pub tags: Tags,
    /// The instance can be stopped now.
    pub stoppable: bool,
    /// The instance can be rebooted now.
    pub rebootable: bool,
    /// Runs as a container rather than a VM.
    pub is_container: bool,
    /// Privilege escalation is disabled for the user.
    pub user_privilege_escalation_disabled: bool,
    /// The environment is unprivileged.
    pub not_privileged: bool,
    /// Equals the `id` of the catalog entry (built with `InstanceTypeId::generic`).
    pub instance_type_id: InstanceTypeId,
    /// Extra disks.
    pub additional_disks: Vec<Disk>,
    /// Port mappings through a bastion.
    pub internal_port_mappings: Vec<PortMapping>,
}

impl Instance {
    /// The instance's lifecycle status.
    pub fn lifecycle(&self) -> LifecycleStatus {
        self.status.lifecycle_status
    }

    /// True when gpucloud created this instance with the credential whose reference id is
    /// `credential` (see [`crate::bookkeeping::is_marked_by`]); false for an instance made
    /// outside gpucloud or by another credential.
    pub fn is_managed_by(&self, credential: &str) -> bool {
        crate::bookkeeping::is_marked_by(&self.cloud_cred_ref_id, credential)
    }
}

/// What to create (v1 `CreateInstanceAttrs`). Check it with [`crate::validate::validate_create`]
/// before any API call; every provider does.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateInstanceAttrs {
    /// Region. Some providers fall back to the client's location when empty.
    pub location: String,
    /// Zone; when set, the instance reports the same zone.
    pub sub_location: String,
    /// Display name.
    pub name: String,
    /// Control-plane id: required, persisted, returned, and the idempotency key.
    pub ref_id: String,
    /// VPC to place the instance in.
    pub vpc_id: String,
    /// Subnet to place the instance in.
    pub subnet_id: String,
    /// SSH public key for the default user: OpenSSH format, or a PEM RSA public key.
    pub public_key: String,
    /// Name to register the key under; defaults to the RefID.
    pub key_pair_name: Option<String>,
    /// Image; the provider's default when empty.
    pub image_id: String,
    /// Provider-native type name (`InstanceType::type_name`).
    pub instance_type: String,
    /// First-boot script, base64.
    pub user_data_base64: String,
    /// Root volume size.
    pub disk_size_bytes: Bytes,
    /// Extra metadata to store on the instance.
    pub tags: Tags,
    /// Inbound and outbound allows; SSH is always reachable.
    pub firewall_rules: FirewallRules,
    /// Ask for a spot instance.
    pub use_spot: bool,
    /// Ask for a persistent public address.
    pub use_persistent_ip: bool,
    /// Ask for a multi-attach volume.
    pub use_multi_attach_volume: bool,
    /// Retire after this long.
    #[serde(with = "crate::model::duration_secs")]
    pub retire_timeout: Option<Duration>,
    /// Extra environment variables for container providers.
    pub additional_env_vars: BTreeMap<String, String>,
    /// Extra disks.
    pub additional_disks: Vec<Disk>,
}

/// Which of the account's instances a list covers.
///
/// gpucloud marks every instance it creates with the reference id of the credential that
/// created it (the `gpucloud-cred-ref-id` bookkeeping tag or label, or the provider's own
/// record); that mark is the instance's `cloud_cred_ref_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceScope {
    /// Only the instances carrying this credential's mark: those gpucloud created with it.
    /// The default, and what v1 lists.
    #[default]
    Credential,
    /// Every instance the account has, whoever created it: also those made in the provider's
    /// console or API, and those of gpucloud's other credentials on the same account. Each is
    /// reported with the RefID and credential mark it carries, both empty when it carries
    /// none; [`Instance::is_managed_by`] tells this credential's own apart.
    Account,
}

/// Filters for listing instances (v1 `ListInstancesArgs`). An instance must be in `scope` and
/// pass all three filters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ListInstancesArgs {
    /// Whose instances: this credential's (the default) or the whole account's. Providers
    /// decide it per instance with [`ListInstancesArgs::keeps_mark`].
    pub scope: InstanceScope,
    /// When non-empty, only these ids.
    pub instance_ids: Vec<InstanceId>,
    /// Every key must be present; its value must be one of the listed values. An empty value
    /// list means only that the key must be present.
    pub tag_filters: BTreeMap<String, Vec<String>>,
    /// When non-empty (and not `all`/`*`), only these locations.
    pub locations: LocationsFilter,
}

/// Replace an instance's user tags (v1 `UpdateInstanceTagsArgs`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateInstanceTagsArgs {
    /// The instance.
    pub instance_id: InstanceId,
    /// The complete new set of user tags.
    pub tags: Tags,
}
