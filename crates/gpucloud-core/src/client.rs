//! The traits a provider implements: a credential that makes clients, the client with the
//! required operations, and one small trait per optional capability.
//!
//! Capabilities are truthful by construction: a client hands out a [`CapabilityTable`] of the
//! capability traits it implements, and [`CloudClientExt::capabilities`] is derived from that
//! table, so the declared list cannot disagree with the code.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::enums::{ApiType, Capability};
use crate::error::{CloudError, Result};
use crate::filter::GetInstanceTypeArgs;
use crate::ids::{CloudProviderId, InstanceId, ResourceId};
use crate::location::{GetLocationsArgs, Location};
use crate::model::image::{GetImageArgs, Image};
use crate::model::instance::{Instance, ListInstancesArgs};
use crate::model::instance_type::{GetInstanceTypeQuotasArgs, InstanceType, Quota};
use crate::model::kubernetes::{
    Cluster, ClusterUser, CreateClusterArgs, CreateNodeGroupArgs, ModifyNodeGroupArgs, NodeGroup,
    SetClusterUserArgs,
};
use crate::model::network::{CreateVpcArgs, Vpc};
use crate::model::storage::ResizeInstanceVolumeArgs;
use crate::validate::{ValidCreate, ValidFirewallAdd, ValidFirewallRevoke, ValidTagUpdate};

/// The default suggested interval between instance polls.
pub const DEFAULT_INSTANCE_POLL_TIME: Duration = Duration::from_secs(5);
/// The default client-side limit on creates per minute.
pub const DEFAULT_MAX_CREATE_REQUESTS_PER_MINUTE: u32 = 10;

/// Who a credential is, shared by the credential and every client it makes: computed once
/// when the credential is built, so the two cannot disagree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    provider_id: CloudProviderId,
    api_type: ApiType,
    reference_id: String,
    tenant_id: String,
}

impl Identity {
    /// The identity of a credential of `provider_id` with the control plane's `reference_id`
    /// and a `tenant_id` derived without revealing the secret (may be empty; see
    /// [`crate::ids::tenant_id_from_secret`]).
    pub fn new(
        provider_id: impl Into<CloudProviderId>,
        api_type: ApiType,
        reference_id: impl Into<String>,
        tenant_id: impl Into<String>,
    ) -> Self {
        Self {
            provider_id: provider_id.into(),
            api_type,
            reference_id: reference_id.into(),
            tenant_id: tenant_id.into(),
        }
    }

    /// The provider id, e.g. `lambda-labs`.
    pub fn provider_id(&self) -> &CloudProviderId {
        &self.provider_id
    }

    /// Whether the catalog is queried per location or once.
    pub fn api_type(&self) -> ApiType {
        self.api_type
    }

    /// The control plane's id of the credential; persisted on every instance it creates.
    pub fn reference_id(&self) -> &str {
        &self.reference_id
    }

    /// A stable account id derived without revealing the secret (may be empty).
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }
}

/// A provider credential: the secret, the control plane's reference id, and a factory for
/// clients. Concrete credential types are serde-able and cheap to clone; their `Debug` never
/// shows the secret.
#[async_trait]
pub trait CloudCredential: Send + Sync + std::fmt::Debug {
    /// Who this credential is: provider, API type, reference id and tenant id.
    fn identity(&self) -> &Identity;

    /// A client bound to `location` (empty: the provider's default).
    async fn make_client(&self, location: &str) -> Result<Arc<dyn CloudClient>>;

    /// What this credential has looked up about its account that rarely changes and that a
    /// later process may start from to save round trips (as kubectl caches API discovery):
    /// an opaque text only the same provider reads back, through
    /// [`reuse_discovery`](Self::reuse_discovery). It never holds a secret. `None` (the
    /// default) when there is nothing to reuse: nothing looked up yet, or all of it configured.
    fn discovery(&self) -> Option<String> {
        None
    }

    /// Starts from a [`discovery`](Self::discovery) an earlier process saved instead of looking
    /// it up again. Ignored when `saved` is unreadable, belongs to another account, or this
    /// credential already looked it up or was configured with it. A caller that wants fresh
    /// answers (a `--refresh`) does not call it.
    fn reuse_discovery(&self, saved: &str) {
        let _ = saved;
    }
}

/// Which optional parameters of `create_instance` a client honours. A request that uses a
/// parameter the client cannot honour is refused before any call, never silently dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(clippy::struct_excessive_bools)]
pub struct CreateFeatures {
    /// `user_data_base64` is run at first boot.
    pub user_data: bool,
    /// A repeated create with the same RefID returns the existing instance.
    pub idempotent: bool,
    /// `tags` are stored at create.
    pub tags: bool,
    /// `firewall_rules` are applied at create.
    pub firewall_rules: bool,
    /// `image_id` is honoured.
    pub image: bool,
    /// `sub_location` is honoured.
    pub sub_location: bool,
    /// `disk_size_bytes` is honoured.
    pub disk_size: bool,
    /// `use_spot` is honoured.
    pub spot: bool,
    /// `vpc_id` / `subnet_id` are honoured.
    pub vpc: bool,
    /// `additional_disks` are attached.
    pub additional_disks: bool,
    /// `use_persistent_ip` is honoured.
    pub persistent_ip: bool,
    /// `use_multi_attach_volume` is honoured.
    pub multi_attach_volume: bool,
    /// `additional_env_vars` are set.
    pub env_vars: bool,
    /// `retire_timeout` is honoured.
    pub retire_timeout: bool,
    /// Egress rules other than allow-all are enforced. Without it, outbound traffic is
    /// allowed to everywhere and such rules are refused (see [`crate::model::firewall`]).
    pub egress_filtering: bool,
}

impl CreateFeatures {
    /// Every optional parameter honoured: for checking a request on its own, before the
    /// provider that will take it is known (whether a provider honours a parameter is then
    /// checked against its own features).
    pub const ALL: CreateFeatures = CreateFeatures {
        user_data: true,
        idempotent: true,
        tags: true,
        firewall_rules: true,
        image: true,
        sub_location: true,
        disk_size: true,
        spot: true,
        vpc: true,
        additional_disks: true,
        persistent_ip: true,
        multi_attach_volume: true,
        env_vars: true,
        retire_timeout: true,
        egress_filtering: true,
    };
}

/// The capability traits a client implements. Build it with struct update syntax from
/// [`CapabilityTable::NONE`].
#[derive(Clone, Copy, Default)]
pub struct CapabilityTable<'a> {
    /// Stop and start.
    pub stop_start: Option<&'a dyn StopStartInstance>,
    /// Reboot.
    pub reboot: Option<&'a dyn RebootInstance>,
    /// Grow volumes.
    pub resize_volume: Option<&'a dyn ResizeInstanceVolume>,
    /// List images.
    pub machine_image: Option<&'a dyn MachineImage>,
    /// Change an instance's type.
    pub change_instance_type: Option<&'a dyn ChangeInstanceType>,
    /// Change firewall rules after create.
    pub modify_firewall: Option<&'a dyn ModifyFirewall>,
    /// Update tags.
    pub tags: Option<&'a dyn InstanceTags>,
    /// Read quotas.
    pub quota: Option<&'a dyn InstanceTypeQuotas>,
    /// VPCs.
    pub vpc: Option<&'a dyn MaintainVpc>,
    /// Managed Kubernetes.
    pub kubernetes: Option<&'a dyn MaintainKubernetes>,
}

impl CapabilityTable<'_> {
    /// A table with no optional capability.
    pub const NONE: CapabilityTable<'static> = CapabilityTable {
        stop_start: None,
        reboot: None,
        resize_volume: None,
        machine_image: None,
        change_instance_type: None,
        modify_firewall: None,
        tags: None,
        quota: None,
        vpc: None,
        kubernetes: None,
    };
}

/// A client of one provider account, bound to a location: the operations every provider has.
#[async_trait]
pub trait CloudClient: Send + Sync + std::fmt::Debug {
    /// The identity of the credential that made this client (equal to its
    /// [`CloudCredential::identity`]).
    fn identity(&self) -> &Identity;

    /// The location this client is bound to (empty: none).
    fn location(&self) -> &str;

    /// The optional capability traits this client implements.
    fn capability_table(&self) -> CapabilityTable<'_>;

    /// The optional create parameters this client honours.
    fn create_features(&self) -> CreateFeatures;

    /// Regions; without `include_unavailable` only usable ones.
    async fn locations(&self, args: GetLocationsArgs) -> Result<Vec<Location>>;

    /// Catalog entries, one per (type, location[, zone]), every filter of `args` applied.
    async fn instance_types(&self, args: &GetInstanceTypeArgs) -> Result<Vec<InstanceType>>;

    /// Creates an instance from a request [`crate::validate::validate_create`] checked against
    /// this client's [`CreateFeatures`], or returns the live instance of this credential that
    /// already has its RefID (the RefID makes a create idempotent).
    ///
    /// # What a failed create leaves
    ///
    /// - When the provider refused or the create failed before anything could have been
    ///   carried out, it leaves **nothing**: no instance, and none of what the create added on
    ///   the way (SSH keys, firewall rulesets, security groups, disks) — they are removed before
    ///   the error is returned, their deletes retried like any idempotent request. What the
    ///   provider still would not delete after those retries is logged and removed by that
    ///   provider's documented sweep once it is older than the sweep's grace (Lambda's firewall
    ///   rulesets, Nebius's boot disks and security groups: see their READMEs).
    /// - When the outcome is unknown (the launch may have happened but its answer was lost or
    ///   unreadable, and looking it up with
    ///   [`resolve_unknown_create`](crate::outcome::resolve_unknown_create) could not tell
    ///   within its budget), it leaves **at most one instance, findable by its RefID**, plus
    ///   only what that instance uses; the error says so, naming the RefID and the command
    ///   that finds the instance. Calling
    ///   `create_instance` again with the same RefID resolves it: it returns that instance, or
    ///   creates the one asked for when there is none.
    ///
    /// An instance that is terminating, terminated or failed never answers a RefID: a create
    /// with the RefID of an instance on its way out launches a new instance rather than
    /// return one that is going away. A successful create never leaves a second live instance
    /// with the same RefID.
    async fn create_instance(&self, create: ValidCreate) -> Result<Instance>;

    /// The current state of an instance; `InstanceNotFound` when absent.
    async fn get_instance(&self, id: &InstanceId) -> Result<Instance>;

    /// Every instance of this credential that passes `args`: complete, or an error.
    async fn list_instances(&self, args: &ListInstancesArgs) -> Result<Vec<Instance>>;

    /// Starts deletion. Succeeds for an instance that is already gone.
    async fn terminate_instance(&self, id: &InstanceId) -> Result<()>;

    /// Suggested interval between instance polls.
    fn instance_poll_time(&self) -> Duration {
        DEFAULT_INSTANCE_POLL_TIME
    }

    /// Client-side limit on creates per minute.
    fn max_create_requests_per_minute(&self) -> u32 {
        DEFAULT_MAX_CREATE_REQUESTS_PER_MINUTE
    }

    /// Merges fresh provider data into a stored record (default: [`crate::merge::merge_instance`]).
    fn merge_instance_for_update(&self, current: &Instance, fresh: Instance) -> Instance {
        crate::merge::merge_instance(current, fresh)
    }

    /// Merges a fresh catalog entry into a stored one (default: [`crate::merge::merge_instance_type`]).
    fn merge_instance_type_for_update(
        &self,
        current: &InstanceType,
        fresh: InstanceType,
    ) -> InstanceType {
        crate::merge::merge_instance_type(current, fresh)
    }
}

/// Stop and start (capability `stop-start-instance`).
#[async_trait]
pub trait StopStartInstance: Send + Sync {
    /// Starts stopping; returns once accepted.
    async fn stop_instance(&self, id: &InstanceId) -> Result<()>;
    /// Starts starting; returns once accepted.
    async fn start_instance(&self, id: &InstanceId) -> Result<()>;
}

/// Reboot (capability `reboot-instance`).
#[async_trait]
pub trait RebootInstance: Send + Sync {
    /// Starts a reboot; returns once accepted.
    async fn reboot_instance(&self, id: &InstanceId) -> Result<()>;
}

/// Grow a volume (capability `resize-instance-volume`).
#[async_trait]
pub trait ResizeInstanceVolume: Send + Sync {
    /// Grows the instance's root volume.
    async fn resize_instance_volume(&self, args: &ResizeInstanceVolumeArgs) -> Result<()>;
}

/// List images (capability `machine-image`).
#[async_trait]
pub trait MachineImage: Send + Sync {
    /// Images passing `args`.
    async fn images(&self, args: &GetImageArgs) -> Result<Vec<Image>>;
}

/// Change an instance's type.
#[async_trait]
pub trait ChangeInstanceType: Send + Sync {
    /// Changes the type of a (stopped) instance.
    async fn change_instance_type(&self, id: &InstanceId, instance_type: &str) -> Result<()>;
}

/// Change firewall rules after create (capability `modify-firewall`).
#[async_trait]
pub trait ModifyFirewall: Send + Sync {
    /// Adds the rules not already in place ([`crate::model::firewall::missing_rules`]); they
    /// take effect on the running instance. Adding only rules already in place succeeds and
    /// changes nothing.
    async fn add_firewall_rules(&self, args: &ValidFirewallAdd) -> Result<()>;
    /// Removes rules by id.
    async fn revoke_firewall_rules(&self, args: &ValidFirewallRevoke) -> Result<()>;
}

/// Update tags (capability `tags`).
#[async_trait]
pub trait InstanceTags: Send + Sync {
    /// Replaces the instance's user tags.
    async fn update_instance_tags(&self, args: &ValidTagUpdate) -> Result<()>;
}

/// Read quotas.
#[async_trait]
pub trait InstanceTypeQuotas: Send + Sync {
    /// The on-demand quota of a type in the client's location, with its current use.
    async fn instance_type_quota(&self, args: &GetInstanceTypeQuotasArgs) -> Result<Quota>;

    /// The quota a type counts against: types with the same group share one quota, so
    /// `offers` asks once per group and location, never once per type. `None` when no quota
    /// is known for the type (it is not asked about). By default every type is its own group.
    fn quota_group(&self, instance_type: &str) -> Option<String> {
        Some(instance_type.to_owned())
    }
}

/// VPCs (capability `vpc`).
#[async_trait]
pub trait MaintainVpc: Send + Sync {
    /// Creates a VPC with its subnets in the client's location.
    async fn create_vpc(&self, args: &CreateVpcArgs) -> Result<Vpc>;
    /// A VPC; `ResourceNotFound` once deleted.
    async fn get_vpc(&self, id: &ResourceId) -> Result<Vpc>;
    /// Deletes a VPC and what depends on it.
    async fn delete_vpc(&self, id: &ResourceId) -> Result<()>;
}

/// Managed Kubernetes (capability `managed-kubernetes`).
#[async_trait]
pub trait MaintainKubernetes: Send + Sync {
    /// Creates a cluster.
    async fn create_cluster(&self, args: &CreateClusterArgs) -> Result<Cluster>;
    /// A cluster with its node groups; `ResourceNotFound` when absent.
    async fn get_cluster(&self, id: &ResourceId) -> Result<Cluster>;
    /// Creates or refreshes a client-certificate user.
    async fn set_cluster_user(&self, args: &SetClusterUserArgs) -> Result<ClusterUser>;
    /// Creates a node group.
    async fn create_node_group(&self, args: &CreateNodeGroupArgs) -> Result<NodeGroup>;
    /// A node group; `ResourceNotFound` when absent.
    async fn get_node_group(&self, cluster_id: &ResourceId, id: &ResourceId) -> Result<NodeGroup>;
    /// Changes a node group's limits.
    async fn modify_node_group(&self, args: &ModifyNodeGroupArgs) -> Result<()>;
    /// Deletes a node group.
    async fn delete_node_group(&self, cluster_id: &ResourceId, id: &ResourceId) -> Result<()>;
    /// Deletes a cluster.
    async fn delete_cluster(&self, id: &ResourceId) -> Result<()>;
}

/// A set of capabilities.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Capabilities(pub Vec<Capability>);

impl Capabilities {
    /// True when `capability` is in the set (v1 `IsCapable`).
    pub fn contains(&self, capability: Capability) -> bool {
        self.0.contains(&capability)
    }

    /// Iterates over the capabilities.
    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        self.0.iter().copied()
    }
}

fn present<T: ?Sized>(slot: Option<&T>) -> bool {
    slot.is_some()
}

/// An optional capability trait (`dyn StopStartInstance`, ...), found by type in a client's
/// [`CapabilityTable`]; see [`CloudClientExt::capability`].
pub trait OptionalCapability<'a> {
    /// The capability the trait implements.
    const CAPABILITY: Capability;
    /// The trait object in `table`, when the client implements it.
    fn find(table: CapabilityTable<'a>) -> Option<&'a Self>;
}

macro_rules! optional_capabilities {
    ($($name:ident => $slot:ident, $capability:ident;)*) => {$(
        impl<'a> OptionalCapability<'a> for dyn $name + 'a {
            const CAPABILITY: Capability = Capability::$capability;
            fn find(table: CapabilityTable<'a>) -> Option<&'a Self> {
                table.$slot
            }
        }
    )*};
}

optional_capabilities! {
    StopStartInstance => stop_start, StopStartInstance;
    RebootInstance => reboot, RebootInstance;
    ResizeInstanceVolume => resize_volume, ResizeInstanceVolume;
    MachineImage => machine_image, MachineImage;
    ChangeInstanceType => change_instance_type, ChangeInstanceType;
    ModifyFirewall => modify_firewall, ModifyFirewall;
    InstanceTags => tags, Tags;
    InstanceTypeQuotas => quota, Quota;
    MaintainVpc => vpc, Vpc;
    MaintainKubernetes => kubernetes, ManagedKubernetes;
}

/// Derived operations on every client: the capability list and typed access to capabilities.
pub trait CloudClientExt: CloudClient {
    /// The capabilities this client implements, derived from its table and create features.
    fn capabilities(&self) -> Capabilities {
        let table = self.capability_table();
        let features = self.create_features();
        let mut caps = vec![
            Capability::CreateInstance,
            Capability::TerminateInstance,
            Capability::CreateTerminateInstance,
        ];
        let optional = [
            (features.idempotent, Capability::CreateIdempotentInstance),
            (features.user_data, Capability::InstanceUserData),
            (present(table.tags), Capability::Tags),
            (present(table.reboot), Capability::RebootInstance),
            (
                present(table.resize_volume),
                Capability::ResizeInstanceVolume,
            ),
            (present(table.stop_start), Capability::StopStartInstance),
            (present(table.machine_image), Capability::MachineImage),
            (present(table.modify_firewall), Capability::ModifyFirewall),
            (present(table.vpc), Capability::Vpc),
            (present(table.kubernetes), Capability::ManagedKubernetes),
            (
                present(table.change_instance_type),
                Capability::ChangeInstanceType,
            ),
            (present(table.quota), Capability::Quota),
        ];
        caps.extend(optional.into_iter().filter(|(has, _)| *has).map(|(_, c)| c));
        Capabilities(caps)
    }

    /// The `NotImplemented` error for `capability` on this client.
    fn not_implemented(&self, capability: Capability) -> CloudError {
        CloudError::NotImplemented {
            provider: self.identity().provider_id().as_str().to_owned(),
            capability,
        }
    }

    /// The capability trait `C` (e.g. `dyn StopStartInstance`), or `NotImplemented`: one call
    /// for any capability, `client.capability::<dyn RebootInstance>()?.reboot_instance(id)`.
    fn capability<'a, C>(&'a self) -> Result<&'a C>
    where
        C: OptionalCapability<'a> + ?Sized,
    {
        C::find(self.capability_table()).ok_or_else(|| self.not_implemented(C::CAPABILITY))
    }

    /// Stop/start, or `NotImplemented`.
    fn stop_start(&self) -> Result<&dyn StopStartInstance> {
        self.capability()
    }

    /// Reboot, or `NotImplemented`.
    fn reboot(&self) -> Result<&dyn RebootInstance> {
        self.capability()
    }

    /// Volume resize, or `NotImplemented`.
    fn resize_volume(&self) -> Result<&dyn ResizeInstanceVolume> {
        self.capability()
    }

    /// Images, or `NotImplemented`.
    fn machine_image(&self) -> Result<&dyn MachineImage> {
        self.capability()
    }

    /// Type change, or `NotImplemented`.
    fn change_instance_type(&self) -> Result<&dyn ChangeInstanceType> {
        self.capability()
    }

    /// Firewall changes, or `NotImplemented`.
    fn modify_firewall(&self) -> Result<&dyn ModifyFirewall> {
        self.capability()
    }

    /// Tags, or `NotImplemented`.
    fn tags(&self) -> Result<&dyn InstanceTags> {
        self.capability()
    }

    /// Quotas, or `NotImplemented`.
    fn quota(&self) -> Result<&dyn InstanceTypeQuotas> {
        self.capability()
    }

    /// VPCs, or `NotImplemented`.
    fn vpc(&self) -> Result<&dyn MaintainVpc> {
        self.capability()
    }

    /// Kubernetes, or `NotImplemented`.
    fn kubernetes(&self) -> Result<&dyn MaintainKubernetes> {
        self.capability()
    }
}

impl<T: CloudClient + ?Sized> CloudClientExt for T {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::InstanceId;

    #[derive(Debug)]
    struct Rebooter {
        identity: Identity,
    }

    #[async_trait]
    impl RebootInstance for Rebooter {
        async fn reboot_instance(&self, _: &InstanceId) -> Result<()> {
            Ok(())
        }
    }

    #[async_trait]
    impl CloudClient for Rebooter {
        fn identity(&self) -> &Identity {
            &self.identity
        }
        fn location(&self) -> &str {
            ""
        }
        fn capability_table(&self) -> CapabilityTable<'_> {
            CapabilityTable {
                reboot: Some(self),
                ..CapabilityTable::NONE
            }
        }
        fn create_features(&self) -> CreateFeatures {
            CreateFeatures::default()
        }
        async fn locations(&self, _: GetLocationsArgs) -> Result<Vec<Location>> {
            Ok(vec![])
        }
        async fn instance_types(&self, _: &GetInstanceTypeArgs) -> Result<Vec<InstanceType>> {
            Ok(vec![])
        }
        async fn create_instance(&self, _: ValidCreate) -> Result<Instance> {
            Err(CloudError::invalid("attrs", "not in this test"))
        }
        async fn get_instance(&self, id: &InstanceId) -> Result<Instance> {
            Err(CloudError::instance_not_found(
                "test",
                "get_instance",
                id.as_str(),
            ))
        }
        async fn list_instances(&self, _: &ListInstancesArgs) -> Result<Vec<Instance>> {
            Ok(vec![])
        }
        async fn terminate_instance(&self, _: &InstanceId) -> Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn capabilities_are_found_by_type_or_refused_naming_them() {
        let client: Arc<dyn CloudClient> = Arc::new(Rebooter {
            identity: Identity::new("test", ApiType::Global, "ref", ""),
        });
        let id = InstanceId::new("i-1");
        client
            .capability::<dyn RebootInstance>()
            .unwrap()
            .reboot_instance(&id)
            .await
            .unwrap();
        let Err(error) = client.capability::<dyn StopStartInstance>() else {
            panic!("stop/start is not in the table");
        };
        assert!(
            matches!(&error, CloudError::NotImplemented { provider, capability }
                if provider == "test" && *capability == Capability::StopStartInstance),
            "{error}"
        );
        assert!(client.tags().is_err() && client.reboot().is_ok());
        assert_eq!(
            client.capabilities().iter().collect::<Vec<_>>()[3..],
            [Capability::RebootInstance]
        );
    }
}
