//! The fake's account: the tenant with one project per region (each with a network and a
//! subnet), public images, quota allowances, capacity, disks, instances, security groups and
//! rules, operations, IAM keys and tokens, faults and request counts. Lifecycles follow a
//! [`Timeline`] computed from timestamps; resources whose timeline has ended are swept on
//! the next access.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use gpucloud_nebius_proto::common::v1 as common;
use gpucloud_nebius_proto::compute::v1 as compute;
use gpucloud_nebius_proto::google::rpc;
use gpucloud_nebius_proto::vpc::v1 as vpc;
use http::HeaderMap;
use rand::Rng as _;
use tokio::time::Instant;
use tonic::Code;

use super::auth::{RegisteredKey, ServiceAccountKey};
use super::catalog::{self, PlatformInfo, PresetInfo, RegionInfo};
use super::error::ApiError;
use super::op::Operation;
use crate::kit::{Capacity, Fault, Faults, RequestLog, Timeline};

pub use compute::disk_status::State as DiskState;
pub use compute::instance_status::InstanceState;

/// How an operation a test makes fail ends ([`FakeNebiusState::fail_next_operation`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OperationFailure {
    /// `RESOURCE_EXHAUSTED` with a `NotEnoughResources` detail: no capacity after all.
    NotEnoughResources,
    /// `RESOURCE_EXHAUSTED` with a `QuotaFailure` detail.
    QuotaExceeded,
    /// `INTERNAL` with this message.
    Internal(String),
    /// Any other status code with this message (no detail).
    Status(Code, String),
}

/// Lifecycle delays, fixed when the fake starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) create: Duration,
    pub(crate) start: Duration,
    pub(crate) stop: Duration,
    pub(crate) delete: Duration,
    pub(crate) disk: Duration,
    pub(crate) token_lifetime: Duration,
}

/// One served region: its project, network, subnet and public images parent.
#[derive(Debug, Clone)]
pub(crate) struct Region {
    pub(crate) info: &'static RegionInfo,
    pub(crate) project_id: String,
    pub(crate) project_name: String,
    pub(crate) network_id: String,
    pub(crate) subnet_id: String,
    pub(crate) subnet_cidr: String,
    pub(crate) images_parent: String,
    pub(crate) created_at: SystemTime,
    /// Third octet base of the subnet: `10.<n>.0.0/16`.
    pub(crate) octet: u8,
}

#[derive(Debug, Clone)]
pub(crate) struct ImageRecord {
    pub(crate) id: String,
    pub(crate) region: &'static str,
    pub(crate) parent: String,
    pub(crate) family: &'static str,
    pub(crate) description: &'static str,
    pub(crate) version: &'static str,
    pub(crate) created_at: SystemTime,
}

/// Metadata every resource record carries.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub(crate) id: String,
    pub(crate) parent_id: String,
    pub(crate) name: String,
    pub(crate) labels: HashMap<String, String>,
    pub(crate) resource_version: i64,
    pub(crate) created_at: SystemTime,
    pub(crate) updated_at: SystemTime,
}

impl Meta {
    pub(crate) fn new(
        id: String,
        parent_id: &str,
        name: &str,
        labels: HashMap<String, String>,
    ) -> Self {
        let now = SystemTime::now();
        Self {
            id,
            parent_id: parent_id.to_owned(),
            name: name.to_owned(),
            labels,
            resource_version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    pub(crate) fn to_proto(&self) -> common::ResourceMetadata {
        common::ResourceMetadata {
            id: self.id.clone(),
            parent_id: self.parent_id.clone(),
            name: self.name.clone(),
            resource_version: self.resource_version,
            created_at: Some(self.created_at.into()),
            updated_at: Some(self.updated_at.into()),
            labels: self.labels.clone(),
        }
    }

    pub(crate) fn relabel(&mut self, labels: HashMap<String, String>) {
        self.labels = labels;
        self.resource_version += 1;
        self.updated_at = SystemTime::now();
    }
}

#[derive(Debug, Clone)]
pub(crate) struct InstanceRecord {
    pub(crate) meta: Meta,
    pub(crate) region: &'static str,
    pub(crate) spec: compute::InstanceSpec,
    pub(crate) platform: &'static PlatformInfo,
    pub(crate) preset: &'static PresetInfo,
    pub(crate) timeline: Timeline<InstanceState>,
    /// When the transition under way ends.
    pub(crate) settles_at: Instant,
    pub(crate) private_ip: String,
    pub(crate) public_ip: Option<String>,
    /// Whether it holds one unit of capacity, given back when it is gone.
    pub(crate) holds_capacity: bool,
    /// The boot disk made from `spec.boot_disk.managed_disk`, deleted with the instance.
    pub(crate) managed_boot_disk: Option<String>,
    /// `status.disk_attachments`, as of the create.
    pub(crate) disk_attachments: Vec<compute::DiskAttachmentStatus>,
}

impl InstanceRecord {
    pub(crate) fn boot_disk_id(&self) -> Option<&str> {
        attached_disk_id(self.spec.boot_disk.as_ref()).or(self.managed_boot_disk.as_deref())
    }

    fn disk_ids(&self) -> impl Iterator<Item = &str> {
        self.boot_disk_id().into_iter().chain(
            self.spec
                .secondary_disks
                .iter()
                .filter_map(|d| attached_disk_id(Some(d))),
        )
    }

    fn security_group_ids(&self) -> impl Iterator<Item = &str> {
        self.spec
            .network_interfaces
            .iter()
            .flat_map(|n| n.security_groups.iter().map(|g| g.id.as_str()))
    }

    pub(crate) fn to_proto(&self, now: Instant) -> Option<compute::Instance> {
        let state = self.timeline.at(now)?;
        let reported_public = self
            .public_ip
            .as_ref()
            .filter(|_| !matches!(state, InstanceState::Creating | InstanceState::Error));
        let network_interfaces = self
            .spec
            .network_interfaces
            .iter()
            .enumerate()
            .map(|(index, spec)| compute::NetworkInterfaceStatus {
                index: index as i32,
                name: spec.name.clone(),
                ip_address: (index == 0).then(|| compute::IpAddressStatus {
                    address: format!("{}/32", self.private_ip),
                    allocation_id: String::new(),
                }),
                public_ip_address: reported_public.filter(|_| index == 0).map(|ip| {
                    compute::PublicIpAddressStatus {
                        address: format!("{ip}/32"),
                        allocation_id: String::new(),
                        r#static: false,
                    }
                }),
                aliases: None,
                mac_address: format!("d0:0d:{:02x}:00:00:{index:02x}", self.private_ip.len()),
                fqdn: String::new(),
                security_groups: spec
                    .security_groups
                    .iter()
                    .map(|g| compute::SecurityGroupStatus { id: g.id.clone() })
                    .collect(),
            })
            .collect();
        let disk_attachments = self.disk_attachments.clone();
        Some(compute::Instance {
            metadata: Some(self.meta.to_proto()),
            spec: Some(self.spec.clone()),
            status: Some(compute::InstanceStatus {
                state: state as i32,
                network_interfaces,
                reconciling: matches!(
                    state,
                    InstanceState::Creating
                        | InstanceState::Starting
                        | InstanceState::Stopping
                        | InstanceState::Deleting
                ),
                maintenance_event_id: String::new(),
                gpu_cluster_topology: None,
                reservation_id: String::new(),
                disk_attachments,
            }),
        })
    }

    fn snapshot(&self, now: Instant) -> Option<FakeInstance> {
        let state = self.timeline.at(now)?;
        Some(FakeInstance {
            id: self.meta.id.clone(),
            project_id: self.meta.parent_id.clone(),
            region: self.region.to_owned(),
            name: self.meta.name.clone(),
            labels: self.meta.labels.clone().into_iter().collect(),
            platform: self.platform.name.to_owned(),
            preset: self.preset.name.to_owned(),
            state,
            private_ip: self.private_ip.clone(),
            public_ip: self.public_ip.clone(),
            boot_disk_id: self.boot_disk_id().map(str::to_owned),
            security_group_ids: self.security_group_ids().map(str::to_owned).collect(),
            spec: self.spec.clone(),
        })
    }
}

fn attached_disk_id(disk: Option<&compute::AttachedDiskSpec>) -> Option<&str> {
    match disk?.r#type.as_ref()? {
        compute::attached_disk_spec::Type::ExistingDisk(d) => Some(d.id.as_str()),
        compute::attached_disk_spec::Type::ManagedDisk(_) => None,
    }
}

#[derive(Debug, Clone)]
pub(crate) struct DiskRecord {
    pub(crate) meta: Meta,
    pub(crate) region: &'static str,
    pub(crate) spec: compute::DiskSpec,
    pub(crate) size_bytes: i64,
    pub(crate) source_image_id: String,
    pub(crate) timeline: Timeline<DiskState>,
    /// When the transition under way ends.
    pub(crate) settles_at: Instant,
    /// The instance whose `managed_disk` it is: deleted with it, changed only through it.
    pub(crate) managed_by: Option<String>,
}

impl DiskRecord {
    fn to_proto(&self, now: Instant, attached_to: Option<&str>) -> Option<compute::Disk> {
        let state = self.timeline.at(now)?;
        Some(compute::Disk {
            metadata: Some(self.meta.to_proto()),
            spec: Some(self.spec.clone()),
            status: Some(compute::DiskStatus {
                state: state as i32,
                state_description: String::new(),
                read_write_attachment: attached_to.unwrap_or_default().to_owned(),
                read_only_attachments: Vec::new(),
                source_image_id: self.source_image_id.clone(),
                size_bytes: self.size_bytes,
                reconciling: matches!(state, DiskState::Creating | DiskState::Deleting),
                block_size_bytes: 4096,
                source_image_cpu_architecture: 1,
                lock_state: None,
                managed_by: String::new(),
            }),
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SecurityGroupRecord {
    pub(crate) meta: Meta,
    pub(crate) network_id: String,
}

impl SecurityGroupRecord {
    pub(crate) fn to_proto(&self) -> vpc::SecurityGroup {
        vpc::SecurityGroup {
            metadata: Some(self.meta.to_proto()),
            spec: Some(vpc::SecurityGroupSpec {
                network_id: self.network_id.clone(),
            }),
            status: Some(vpc::SecurityGroupStatus {
                state: vpc::security_group_status::State::Ready as i32,
                default: false,
            }),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RuleRecord {
    pub(crate) meta: Meta,
    pub(crate) spec: vpc::SecurityRuleSpec,
}

impl RuleRecord {
    pub(crate) fn to_proto(&self) -> vpc::SecurityRule {
        let (direction, source, destination) = match &self.spec.r#match {
            Some(vpc::security_rule_spec::Match::Ingress(i)) => (
                vpc::RuleDirection::Ingress,
                vpc::RuleMatchStatus {
                    security_group_id: i.source_security_group_id.clone(),
                    cidrs: i.source_cidrs.clone(),
                    ports: Vec::new(),
                },
                vpc::RuleMatchStatus {
                    security_group_id: self.meta.parent_id.clone(),
                    cidrs: Vec::new(),
                    ports: i.destination_ports.clone(),
                },
            ),
            Some(vpc::security_rule_spec::Match::Egress(e)) => (
                vpc::RuleDirection::Egress,
                vpc::RuleMatchStatus {
                    security_group_id: self.meta.parent_id.clone(),
                    cidrs: Vec::new(),
                    ports: Vec::new(),
                },
                vpc::RuleMatchStatus {
                    security_group_id: e.destination_security_group_id.clone(),
                    cidrs: e.destination_cidrs.clone(),
                    ports: e.destination_ports.clone(),
                },
            ),
            None => (
                vpc::RuleDirection::DirectionUnspecified,
                vpc::RuleMatchStatus::default(),
                vpc::RuleMatchStatus::default(),
            ),
        };
        vpc::SecurityRule {
            metadata: Some(self.meta.to_proto()),
            spec: Some(self.spec.clone()),
            status: Some(vpc::SecurityRuleStatus {
                state: vpc::security_rule_status::State::Ready as i32,
                effective_priority: self.spec.priority,
                direction: direction as i32,
                source: Some(source),
                destination: Some(destination),
            }),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct OperationRecord {
    pub(crate) seq: u64,
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) created_by: String,
    pub(crate) created_at: SystemTime,
    pub(crate) done_at: Instant,
    pub(crate) duration: Duration,
    pub(crate) resource_id: String,
    pub(crate) parent_id: String,
    pub(crate) failure: Option<ApiError>,
}

impl OperationRecord {
    pub(crate) fn to_proto(&self, now: Instant) -> common::Operation {
        let done = now >= self.done_at;
        common::Operation {
            id: self.id.clone(),
            description: self.description.clone(),
            created_at: Some(self.created_at.into()),
            created_by: self.created_by.clone(),
            finished_at: done.then(|| (self.created_at + self.duration).into()),
            request: None,
            request_headers: HashMap::new(),
            resource_id: self.resource_id.clone(),
            status: done.then(|| match &self.failure {
                Some(failure) => failure.to_rpc_status(),
                None => rpc::Status::default(),
            }),
            progress_tracker: None,
            progress_data: None,
        }
    }
}

/// A snapshot of one instance, for assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeInstance {
    /// Instance id, `computeinstance-…`.
    pub id: String,
    /// Its project.
    pub project_id: String,
    /// The project's region.
    pub region: String,
    /// Name.
    pub name: String,
    /// Labels, sorted.
    pub labels: BTreeMap<String, String>,
    /// Platform, e.g. `gpu-h100-sxm`.
    pub platform: String,
    /// Preset, e.g. `8gpu-128vcpu-1600gb`.
    pub preset: String,
    /// State now.
    pub state: InstanceState,
    /// Private IPv4 address (without a prefix length).
    pub private_ip: String,
    /// Public IPv4 address, when one was asked for.
    pub public_ip: Option<String>,
    /// The boot disk, when it is an existing disk.
    pub boot_disk_id: Option<String>,
    /// Security groups of its network interfaces.
    pub security_group_ids: Vec<String>,
    /// The spec as created (cloud-init user data included).
    pub spec: compute::InstanceSpec,
}

/// A snapshot of one disk, for assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeDisk {
    /// Disk id, `computedisk-…`.
    pub id: String,
    /// Its project.
    pub project_id: String,
    /// Name.
    pub name: String,
    /// The project's region.
    pub region: String,
    /// Labels, sorted.
    pub labels: BTreeMap<String, String>,
    /// State now.
    pub state: DiskState,
    /// Size in bytes.
    pub size_bytes: i64,
    /// The image it was made from, if any.
    pub source_image_id: String,
    /// The instance it is attached to, if any.
    pub attached_to: Option<String>,
}

/// A snapshot of one security group and its rules, for assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeSecurityGroup {
    /// Security group id, `vpcsecuritygroup-…`.
    pub id: String,
    /// Its project.
    pub project_id: String,
    /// Name.
    pub name: String,
    /// Labels, sorted.
    pub labels: BTreeMap<String, String>,
    /// Its network.
    pub network_id: String,
    /// Its rules, as the API returns them.
    pub rules: Vec<vpc::SecurityRule>,
}

/// A tenant the credential sees besides its own ([`FakeNebiusState::add_tenant`]).
#[derive(Debug, Clone)]
pub(crate) struct TenantRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created_at: SystemTime,
}

/// A pricing policy: the most a tenant or project pays per GPU-hour of a platform's
/// preemptible instances.
#[derive(Debug, Clone)]
pub(crate) struct PricingPolicyRecord {
    pub(crate) meta: Meta,
    pub(crate) platform: String,
    /// As the caller wrote it.
    pub(crate) max_price: String,
    pub(crate) max_price_value: f64,
}

pub(crate) struct Inner {
    pub(crate) timing: Timing,
    pub(crate) tenant_id: String,
    /// Every tenant the credential sees, its own (whose projects the fake serves) first.
    pub(crate) tenants: Vec<TenantRecord>,
    pub(crate) regions: Vec<Region>,
    pub(crate) images: Vec<ImageRecord>,
    pub(crate) capacity: Capacity,
    pub(crate) quota_limits: BTreeMap<(String, String), u64>,
    pub(crate) quota_base_usage: BTreeMap<(String, String), u64>,
    pub(crate) instances: BTreeMap<String, InstanceRecord>,
    pub(crate) disks: BTreeMap<String, DiskRecord>,
    pub(crate) security_groups: BTreeMap<String, SecurityGroupRecord>,
    pub(crate) rules: BTreeMap<String, RuleRecord>,
    pub(crate) pricing_policies: BTreeMap<String, PricingPolicyRecord>,
    pub(crate) operations: HashMap<String, OperationRecord>,
    /// (gRPC path, idempotency key) → the operation the first call made.
    pub(crate) idempotency: HashMap<(String, String), String>,
    pub(crate) operation_failures: Vec<(Operation, OperationFailure)>,
    pub(crate) keys: HashMap<String, RegisteredKey>,
    pub(crate) tokens: HashMap<String, (Instant, String)>,
    pub(crate) static_token: Option<String>,
    pub(crate) next_host: u32,
    pub(crate) next_seq: u64,
    /// When the earliest deletion under way ends (`None`: none is).
    pub(crate) sweep_at: Option<Instant>,
}

/// The state of one fake Nebius: cheap to clone, clones share it.
#[derive(Clone)]
pub struct FakeNebiusState {
    shared: Arc<Shared>,
}

struct Shared {
    inner: Mutex<Inner>,
    faults: Faults<Operation>,
    requests: RequestLog,
    exchanges: AtomicU64,
    missing_idempotency_keys: AtomicU64,
}

impl std::fmt::Debug for FakeNebiusState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeNebiusState")
            .field("tenant_id", &self.lock().tenant_id)
            .finish_non_exhaustive()
    }
}

/// The name of the tenant whose projects the fake serves.
pub(crate) const TENANT_NAME: &str = "fake-tenant";

const ID_CHARS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A new id in Nebius's shape: `<kind>-<routing code><random>`.
pub(crate) fn new_id(kind: &str, code: &str) -> String {
    let mut rng = rand::rng();
    let tail: String = (0..17)
        .map(|_| char::from(ID_CHARS[rng.random_range(0..ID_CHARS.len())]))
        .collect();
    format!("{kind}-{code}{tail}")
}

impl FakeNebiusState {
    pub(crate) fn new(
        timing: Timing,
        regions: &[&'static RegionInfo],
        key: &ServiceAccountKey,
        static_token: Option<String>,
    ) -> Self {
        let first_code = regions.first().map_or("e00", |r| r.code);
        let tenant_id = new_id("tenant", first_code);
        let mut served = Vec::new();
        let mut images = Vec::new();
        let mut capacity = Capacity::new();
        let mut quota_limits = BTreeMap::new();
        for (i, info) in regions.iter().enumerate() {
            let images_parent = format!("project-{}public-images", info.code);
            let octet = 10 + i as u8;
            served.push(Region {
                info,
                project_id: new_id("project", info.code),
                project_name: format!("default-project-{}", info.name),
                network_id: new_id("vpcnetwork", info.code),
                subnet_id: new_id("vpcsubnet", info.code),
                subnet_cidr: format!("10.{octet}.0.0/16"),
                images_parent: images_parent.clone(),
                created_at: SystemTime::now(),
                octet,
            });
            for (family, description) in catalog::IMAGE_FAMILIES {
                for version in ["20250901", "20251101"] {
                    images.push(ImageRecord {
                        id: new_id("computeimage", info.code),
                        region: info.name,
                        parent: images_parent.clone(),
                        family,
                        description,
                        version,
                        created_at: SystemTime::now(),
                    });
                }
            }
            for platform in catalog::PLATFORMS.iter().filter(|p| p.in_region(info.name)) {
                for preset in platform.presets {
                    capacity.set(
                        info.name,
                        &capacity_key(platform, preset),
                        catalog::DEFAULT_CAPACITY,
                    );
                }
                let limit = if platform.gpu_memory_gb == 0 {
                    catalog::DEFAULT_QUOTA_LIMIT_VCPUS
                } else {
                    catalog::DEFAULT_QUOTA_LIMIT_GPUS
                };
                quota_limits.insert((platform.quota.to_owned(), info.name.to_owned()), limit);
            }
        }
        let mut keys = HashMap::new();
        keys.insert(
            key.key_id().to_owned(),
            RegisteredKey {
                service_account_id: key.service_account_id().to_owned(),
                public_key_der: key.public_key_der(),
            },
        );
        let tenants = vec![TenantRecord {
            id: tenant_id.clone(),
            name: TENANT_NAME.to_owned(),
            created_at: SystemTime::now(),
        }];
        let inner = Inner {
            timing,
            tenant_id,
            tenants,
            regions: served,
            images,
            capacity,
            quota_limits,
            quota_base_usage: BTreeMap::new(),
            instances: BTreeMap::new(),
            disks: BTreeMap::new(),
            security_groups: BTreeMap::new(),
            rules: BTreeMap::new(),
            pricing_policies: BTreeMap::new(),
            operations: HashMap::new(),
            idempotency: HashMap::new(),
            operation_failures: Vec::new(),
            keys,
            tokens: HashMap::new(),
            static_token,
            next_host: 4,
            next_seq: 0,
            sweep_at: None,
        };
        Self {
            shared: Arc::new(Shared {
                inner: Mutex::new(inner),
                faults: Faults::new(),
                requests: RequestLog::new(),
                exchanges: AtomicU64::new(0),
                missing_idempotency_keys: AtomicU64::new(0),
            }),
        }
    }

    /// The state, with resources whose lifecycle has ended swept away.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        let mut inner = self
            .shared
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        inner.sweep(Instant::now());
        inner
    }

    /// The tenant whose projects the fake serves.
    pub fn tenant_id(&self) -> String {
        self.lock().tenant_id.clone()
    }

    /// Lets the credential see one more tenant, named `name` and without projects (as when
    /// its user is invited to a second organisation); answers the new tenant's id. Tenant
    /// discovery then has more than one to choose from.
    pub fn add_tenant(&self, name: &str) -> String {
        let mut inner = self.lock();
        let code = inner.regions.first().map_or("e00", |r| r.info.code);
        let id = new_id("tenant", code);
        inner.tenants.push(TenantRecord {
            id: id.clone(),
            name: name.to_owned(),
            created_at: SystemTime::now(),
        });
        id
    }

    /// The regions served, in order.
    pub fn regions(&self) -> Vec<String> {
        self.lock()
            .regions
            .iter()
            .map(|r| r.info.name.to_owned())
            .collect()
    }

    /// The project of `region` (`project-<code>…`), if the fake serves it.
    pub fn project_id(&self, region: &str) -> Option<String> {
        self.lock().region(region).map(|r| r.project_id.clone())
    }

    /// The subnet of `region`'s project.
    pub fn subnet_id(&self, region: &str) -> Option<String> {
        self.lock().region(region).map(|r| r.subnet_id.clone())
    }

    /// The network of `region`'s project.
    pub fn network_id(&self, region: &str) -> Option<String> {
        self.lock().region(region).map(|r| r.network_id.clone())
    }

    /// The parent of `region`'s public images, `project-<code>public-images`.
    pub fn public_images_parent(&self, region: &str) -> Option<String> {
        self.lock().region(region).map(|r| r.images_parent.clone())
    }

    /// The fault switches.
    pub fn faults(&self) -> &Faults<Operation> {
        &self.shared.faults
    }

    /// Injects a fault (see [`Faults::set`]).
    pub fn set_fault(&self, fault: Fault<Operation>) {
        self.shared.faults.set(fault);
    }

    /// Injects a fault into calls of one class only (see [`Faults::set_for`]).
    pub fn set_fault_for(&self, operation: Operation, fault: Fault<Operation>) {
        self.shared.faults.set_for(operation, fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Calls received, counted as method `POST` and the gRPC path (e.g.
    /// `count("POST", "/nebius.compute.v1.InstanceService/")`), including refused and
    /// faulted ones.
    pub fn requests(&self) -> &RequestLog {
        &self.shared.requests
    }

    /// Successful token exchanges so far.
    pub fn exchanges(&self) -> u64 {
        self.shared.exchanges.load(Ordering::Relaxed)
    }

    /// Mutating calls that came without an `x-idempotency-key` header.
    pub fn mutations_without_idempotency_key(&self) -> u64 {
        self.shared.missing_idempotency_keys.load(Ordering::Relaxed)
    }

    pub(crate) fn note_missing_idempotency_key(&self) {
        self.shared
            .missing_idempotency_keys
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn note_exchange(&self) {
        self.shared.exchanges.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets the GPU (or vCPU) allowance of `quota` (e.g. `compute.instance.gpu.h100`) in
    /// `region`.
    pub fn set_quota_limit(&self, region: &str, quota: &str, limit: u64) {
        self.lock()
            .quota_limits
            .insert((quota.to_owned(), region.to_owned()), limit);
    }

    /// Sets usage of `quota` in `region` by resources outside the fake, added to what the
    /// fake's own instances use.
    pub fn set_quota_usage(&self, region: &str, quota: &str, usage: u64) {
        self.lock()
            .quota_base_usage
            .insert((quota.to_owned(), region.to_owned()), usage);
    }

    /// The allowance of `quota` in `region` (`None`: no allowance at all) and its usage now.
    pub fn quota(&self, region: &str, quota: &str) -> (Option<u64>, u64) {
        let inner = self.lock();
        (
            inner
                .quota_limits
                .get(&(quota.to_owned(), region.to_owned()))
                .copied(),
            inner.quota_usage(quota, region),
        )
    }

    /// Sets how many more instances of `platform`/`preset` `region` can start.
    pub fn set_capacity(&self, region: &str, platform: &str, preset: &str, count: u32) {
        self.lock()
            .capacity
            .set(region, &format!("{platform}/{preset}"), count);
    }

    /// How many more instances of `platform`/`preset` `region` can start.
    pub fn capacity(&self, region: &str, platform: &str, preset: &str) -> u32 {
        self.lock()
            .capacity
            .get(region, &format!("{platform}/{preset}"))
    }

    /// Makes the next operation started by a call of `operation` (or by any call, for
    /// [`Operation::Any`]) finish with `failure` instead of succeeding. A failed instance
    /// create leaves the instance in `ERROR` (it must still be deleted); a failed disk create
    /// leaves the disk in `ERROR`; any other failed operation changes nothing.
    pub fn fail_next_operation(&self, operation: Operation, failure: OperationFailure) {
        self.lock().operation_failures.push((operation, failure));
    }

    /// Registers another service-account public key (DER `RSAPublicKey`) under `key_id`.
    pub fn register_key(&self, key_id: &str, service_account_id: &str, public_key_der: Vec<u8>) {
        self.lock().keys.insert(
            key_id.to_owned(),
            RegisteredKey {
                service_account_id: service_account_id.to_owned(),
                public_key_der,
            },
        );
    }

    /// Makes every access token issued so far expire now (the static token stays valid).
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for (expiry, _) in self.lock().tokens.values_mut() {
            *expiry = now;
        }
    }

    /// Whether `headers` carry `authorization: Bearer <token>` with an unexpired issued
    /// token or the static token.
    pub(crate) fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
        else {
            return false;
        };
        let inner = self.lock();
        inner.static_token.as_deref() == Some(token)
            || inner
                .tokens
                .get(token)
                .is_some_and(|(expiry, _)| Instant::now() < *expiry)
    }

    /// Every instance that exists now (not yet gone), in id order.
    pub fn instances(&self) -> Vec<FakeInstance> {
        let now = Instant::now();
        self.lock()
            .instances
            .values()
            .filter_map(|i| i.snapshot(now))
            .collect()
    }

    /// One instance, if it exists now.
    pub fn instance(&self, id: &str) -> Option<FakeInstance> {
        self.lock()
            .instances
            .get(id)
            .and_then(|i| i.snapshot(Instant::now()))
    }

    /// Every disk that exists now, in id order.
    pub fn disks(&self) -> Vec<FakeDisk> {
        let now = Instant::now();
        let inner = self.lock();
        inner
            .disks
            .values()
            .filter_map(|d| {
                Some(FakeDisk {
                    id: d.meta.id.clone(),
                    project_id: d.meta.parent_id.clone(),
                    name: d.meta.name.clone(),
                    region: d.region.to_owned(),
                    labels: d.meta.labels.clone().into_iter().collect(),
                    state: d.timeline.at(now)?,
                    size_bytes: d.size_bytes,
                    source_image_id: d.source_image_id.clone(),
                    attached_to: inner.disk_attachment(&d.meta.id).map(str::to_owned),
                })
            })
            .collect()
    }

    /// Every security group, with its rules, in id order.
    pub fn security_groups(&self) -> Vec<FakeSecurityGroup> {
        let inner = self.lock();
        inner
            .security_groups
            .values()
            .map(|g| FakeSecurityGroup {
                id: g.meta.id.clone(),
                project_id: g.meta.parent_id.clone(),
                name: g.meta.name.clone(),
                labels: g.meta.labels.clone().into_iter().collect(),
                network_id: g.network_id.clone(),
                rules: inner
                    .rules
                    .values()
                    .filter(|r| r.meta.parent_id == g.meta.id)
                    .map(RuleRecord::to_proto)
                    .collect(),
            })
            .collect()
    }

    /// Every operation so far, oldest first.
    pub fn operations(&self) -> Vec<common::Operation> {
        let now = Instant::now();
        let inner = self.lock();
        let mut all: Vec<&OperationRecord> = inner.operations.values().collect();
        all.sort_by_key(|o| o.seq);
        all.into_iter().map(|o| o.to_proto(now)).collect()
    }

    /// Adds `count` instances of `platform`/`preset` in `region`, already running, with no
    /// disk, no operation, and neither capacity nor quota taken (for list benchmarks).
    /// Returns their ids; fails on an unknown region, platform or preset.
    pub fn seed_running_instances(
        &self,
        region: &str,
        platform: &str,
        preset: &str,
        count: usize,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, String> {
        let mut inner = self.lock();
        let served = inner
            .region(region)
            .cloned()
            .ok_or_else(|| format!("region {region:?} is not served"))?;
        let platform_info = catalog::platform(platform)
            .filter(|p| p.in_region(region))
            .ok_or_else(|| format!("platform {platform:?} is not offered in {region}"))?;
        let preset_info = platform_info
            .preset(preset)
            .ok_or_else(|| format!("preset {preset:?} is not a preset of {platform}"))?;
        let mut ids = Vec::with_capacity(count);
        for n in 0..count {
            let id = new_id("computeinstance", served.info.code);
            let private_ip = inner.next_private_ip(&served);
            let spec = compute::InstanceSpec {
                resources: Some(compute::ResourcesSpec {
                    platform: platform.to_owned(),
                    size: Some(compute::resources_spec::Size::Preset(preset.to_owned())),
                }),
                network_interfaces: vec![compute::NetworkInterfaceSpec {
                    subnet_id: served.subnet_id.clone(),
                    name: "eth0".to_owned(),
                    ip_address: Some(compute::IpAddress::default()),
                    ..compute::NetworkInterfaceSpec::default()
                }],
                ..compute::InstanceSpec::default()
            };
            inner.instances.insert(
                id.clone(),
                InstanceRecord {
                    meta: Meta::new(
                        id.clone(),
                        &served.project_id,
                        &format!("seeded-{n}"),
                        labels.clone().into_iter().collect(),
                    ),
                    region: served.info.name,
                    spec,
                    platform: platform_info,
                    preset: preset_info,
                    timeline: Timeline::fixed(InstanceState::Running),
                    settles_at: Instant::now(),
                    private_ip,
                    public_ip: None,
                    holds_capacity: false,
                    managed_boot_disk: None,
                    disk_attachments: Vec::new(),
                },
            );
            ids.push(id);
        }
        Ok(ids)
    }
}

/// The key of a preset in [`Capacity`].
pub(crate) fn capacity_key(platform: &PlatformInfo, preset: &PresetInfo) -> String {
    format!("{}/{}", platform.name, preset.name)
}

impl Inner {
    /// Drops what is gone at `now`, giving back the capacity gone instances held.
    fn sweep(&mut self, now: Instant) {
        self.tokens.retain(|_, (expiry, _)| *expiry > now);
        // Only deletions end in "gone": nothing to do before the first one ends.
        if self.sweep_at.is_none_or(|at| at > now) {
            return;
        }
        let gone: Vec<String> = self
            .instances
            .iter()
            .filter(|(_, i)| i.timeline.at(now).is_none())
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            let Some(instance) = self.instances.remove(&id) else {
                continue;
            };
            if instance.holds_capacity {
                self.capacity.give_back(
                    instance.region,
                    &capacity_key(instance.platform, instance.preset),
                );
            }
            // A managed disk is deleted with its instance.
            if let Some(disk) = &instance.managed_boot_disk {
                self.disks.remove(disk);
            }
        }
        self.disks.retain(|_, d| d.timeline.at(now).is_some());
        let instances = self
            .instances
            .values()
            .filter(|i| i.timeline.at(now) == Some(InstanceState::Deleting))
            .map(|i| i.settles_at);
        let disks = self
            .disks
            .values()
            .filter(|d| d.timeline.at(now) == Some(DiskState::Deleting))
            .map(|d| d.settles_at);
        self.sweep_at = instances.chain(disks).min();
    }

    /// Makes the next access after `at` sweep (a deletion ends then).
    pub(crate) fn sweep_after(&mut self, at: Instant) {
        self.sweep_at = Some(self.sweep_at.map_or(at, |current| current.min(at)));
    }

    pub(crate) fn region(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.info.name == name)
    }

    /// The region whose project this is.
    pub(crate) fn project(&self, project_id: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.project_id == project_id)
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    pub(crate) fn next_private_ip(&mut self, region: &Region) -> String {
        let host = self.next_host;
        self.next_host = self.next_host.wrapping_add(1);
        format!(
            "10.{}.{}.{}",
            region.octet,
            (host >> 8) & 0xff,
            (host & 0xff).max(1)
        )
    }

    pub(crate) fn next_public_ip(&mut self) -> String {
        let host = self.next_host;
        self.next_host = self.next_host.wrapping_add(1);
        format!("198.51.{}.{}", (host >> 8) & 0xff, (host & 0xff).max(1))
    }

    /// The instance a disk is attached to now.
    pub(crate) fn disk_attachment(&self, disk_id: &str) -> Option<&str> {
        self.instances
            .values()
            .find(|i| i.disk_ids().any(|d| d == disk_id))
            .map(|i| i.meta.id.as_str())
    }

    /// Whether an instance uses this security group now.
    pub(crate) fn security_group_user(&self, group_id: &str) -> Option<&str> {
        self.instances
            .values()
            .find(|i| i.security_group_ids().any(|g| g == group_id))
            .map(|i| i.meta.id.as_str())
    }

    /// Usage of `quota` in `region`: the base a test set plus the fake's instances.
    pub(crate) fn quota_usage(&self, quota: &str, region: &str) -> u64 {
        let base = self
            .quota_base_usage
            .get(&(quota.to_owned(), region.to_owned()))
            .copied()
            .unwrap_or(0);
        self.instances
            .values()
            .filter(|i| i.region == region && i.platform.quota == quota && i.holds_capacity)
            .map(|i| i.platform.quota_units(i.preset))
            .fold(base, u64::saturating_add)
    }

    pub(crate) fn disk_proto(&self, disk: &DiskRecord, now: Instant) -> Option<compute::Disk> {
        disk.to_proto(now, self.disk_attachment(&disk.meta.id))
    }

    /// The failure a test queued for the next operation of `class`, taken.
    pub(crate) fn take_operation_failure(&mut self, class: Operation) -> Option<ApiError> {
        let index = self
            .operation_failures
            .iter()
            .position(|(target, _)| *target == Operation::Any || *target == class)?;
        let (_, failure) = self.operation_failures.remove(index);
        Some(match failure {
            OperationFailure::NotEnoughResources => {
                ApiError::not_enough_resources("compute instance")
            }
            OperationFailure::QuotaExceeded => ApiError::quota("compute.instance.gpu", 0, 1),
            OperationFailure::Internal(message) => {
                ApiError::new(Code::Internal, "compute", message)
            }
            OperationFailure::Status(code, message) => ApiError::new(code, "compute", message),
        })
    }

    /// Records an operation that finishes `after` from now, and returns it as the API does.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn operation(
        &mut self,
        kind: &str,
        description: String,
        resource_id: &str,
        parent_id: &str,
        after: Duration,
        failure: Option<ApiError>,
        created_by: &str,
    ) -> common::Operation {
        let code = self
            .project(parent_id)
            .map_or("e00", |r| r.info.code)
            .to_owned();
        let record = OperationRecord {
            seq: self.next_seq(),
            id: new_id(kind, &code),
            description,
            created_by: created_by.to_owned(),
            created_at: SystemTime::now(),
            done_at: Instant::now() + after,
            duration: after,
            resource_id: resource_id.to_owned(),
            parent_id: parent_id.to_owned(),
            failure,
        };
        let proto = record.to_proto(Instant::now());
        self.operations.insert(record.id.clone(), record);
        proto
    }
}
