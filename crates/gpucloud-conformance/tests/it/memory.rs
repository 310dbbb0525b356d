//! A small in-memory provider: correct by default, with switches that each break one behaviour
//! the suite must catch.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use gpucloud_core::{
    ApiType, Architecture, Bytes, BytesUnit, Capability, CapabilityTable, CloudClient,
    CloudCredential, CloudError, CreateFeatures, ErrorKind, FirewallRule, FirewallRules,
    GetInstanceTypeArgs, GetLocationsArgs, Gpu, Identity, Instance, InstanceId, InstanceTags,
    InstanceType, InstanceTypeId, LifecycleStatus, ListInstancesArgs, Location, Manufacturer,
    ModifyFirewall, Price, RebootInstance, Result, Status, StopStartInstance, ValidCreate,
    ValidFirewallAdd, ValidFirewallRevoke, ValidTagUpdate, missing_rules,
};
use tokio::time::Instant;

const PROVIDER: &str = "memory";
const STEP: Duration = Duration::from_millis(40);

/// One deliberate defect each.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Instances echo a RefID other than the one asked for.
    pub wrong_ref_id: bool,
    /// Stop/start is in the capability table, but `stop_instance` says not implemented.
    pub stop_not_implemented: bool,
    /// `terminate_instance` succeeds and does nothing.
    pub leak: bool,
    /// `locations()` panics.
    pub panic_in_locations: bool,
    /// Host names keep one `-` per character that is not a letter or digit
    /// (`train-job--1`), instead of the core rule.
    pub raw_hostname: bool,
    /// Adding a rule already in place adds it again.
    pub stack_duplicate_rules: bool,
    /// Instances report an egress rule although egress filtering is not declared.
    pub reports_egress: bool,
    /// Reboot is missing from the capability table while the catalog says every type reboots.
    pub undeclared_reboot: bool,
}

struct Record {
    instance: Instance,
    next: Option<(LifecycleStatus, Instant)>,
}

#[derive(Default)]
struct Store {
    instances: BTreeMap<InstanceId, Record>,
    next_id: u32,
    next_rule: u32,
}

impl Store {
    /// Applies due transitions; terminated instances disappear.
    fn settle(&mut self) {
        let now = Instant::now();
        for record in self.instances.values_mut() {
            if let Some((status, at)) = record.next
                && at <= now
            {
                record.instance.status = Status::new(status);
                record.next = None;
            }
        }
        self.instances
            .retain(|_, r| r.instance.lifecycle() != LifecycleStatus::Terminated);
    }
}

struct Shared {
    faults: Faults,
    identity: Identity,
    store: Mutex<Store>,
}

/// The credential of the in-memory provider.
#[derive(Clone)]
pub struct MemoryCredential {
    shared: Arc<Shared>,
}

impl fmt::Debug for MemoryCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCredential")
            .field("faults", &self.shared.faults)
            .finish_non_exhaustive()
    }
}

impl MemoryCredential {
    pub fn new(faults: Faults) -> Self {
        Self {
            shared: Arc::new(Shared {
                faults,
                identity: Identity::new(
                    PROVIDER,
                    ApiType::Global,
                    "cred-ref-memory",
                    "memory-tenant",
                ),
                store: Mutex::new(Store::default()),
            }),
        }
    }

    /// Instances the provider still holds, terminated ones excluded.
    pub fn live_instances(&self) -> Vec<Instance> {
        let mut store = self
            .shared
            .store
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        store.settle();
        store
            .instances
            .values()
            .map(|r| r.instance.clone())
            .collect()
    }
}

#[async_trait]
impl CloudCredential for MemoryCredential {
    fn identity(&self) -> &Identity {
        &self.shared.identity
    }
    async fn make_client(&self, location: &str) -> Result<Arc<dyn CloudClient>> {
        Ok(Arc::new(MemoryClient {
            shared: Arc::clone(&self.shared),
            location: location.to_owned(),
        }))
    }
}

struct MemoryClient {
    shared: Arc<Shared>,
    location: String,
}

impl fmt::Debug for MemoryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryClient")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

fn catalog() -> Vec<InstanceType> {
    let mut types = Vec::new();
    for location in ["mem-east", "mem-west"] {
        let specs: [(&str, &str, Vec<Gpu>, Architecture); 3] = [
            ("cpu.small", "0.10", vec![], Architecture::X86_64),
            (
                "gpu.a10",
                "0.75",
                vec![Gpu {
                    count: 1,
                    memory_bytes: Bytes::new(24, BytesUnit::GB),
                    manufacturer: Manufacturer::Nvidia,
                    name: "A10".into(),
                    network_details: "PCIe".into(),
                    ..Gpu::default()
                }],
                Architecture::X86_64,
            ),
            ("arm.small", "0.05", vec![], Architecture::Arm64),
        ];
        for (name, price, gpus, arch) in specs {
            let mut it = InstanceType {
                location: location.into(),
                type_name: name.into(),
                supported_gpus: gpus.into(),
                supported_architectures: [arch].into(),
                memory_bytes: Bytes::new(8, BytesUnit::GiB),
                vcpu: 2,
                stoppable: true,
                rebootable: true,
                is_available: true,
                base_price: Price::parse(price, "USD").ok(),
                provider: PROVIDER.into(),
                cloud: PROVIDER.into(),
                ..InstanceType::default()
            };
            it.id = it.generic_id();
            types.push(it);
        }
    }
    types
}

impl MemoryClient {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        let mut store = self
            .shared
            .store
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        store.settle();
        store
    }

    fn features() -> CreateFeatures {
        CreateFeatures {
            tags: true,
            idempotent: true,
            firewall_rules: true,
            ..CreateFeatures::default()
        }
    }

    fn not_found(operation: &'static str, id: &InstanceId) -> CloudError {
        CloudError::instance_not_found(PROVIDER, operation, id.as_str())
    }

    fn transition(
        &self,
        operation: &'static str,
        id: &InstanceId,
        from: &[LifecycleStatus],
        now: LifecycleStatus,
        then: LifecycleStatus,
    ) -> Result<()> {
        let mut store = self.store();
        let record = store
            .instances
            .get_mut(id)
            .ok_or_else(|| Self::not_found(operation, id))?;
        if !from.contains(&record.instance.lifecycle()) {
            return Err(CloudError::provider(
                PROVIDER,
                operation,
                ErrorKind::Conflict,
                format!("instance {id} is {}", record.instance.lifecycle()),
            ));
        }
        record.instance.status = Status::new(now);
        record.next = Some((then, Instant::now() + STEP));
        Ok(())
    }
}

#[async_trait]
impl CloudClient for MemoryClient {
    fn identity(&self) -> &Identity {
        &self.shared.identity
    }
    fn location(&self) -> &str {
        &self.location
    }
    fn capability_table(&self) -> CapabilityTable<'_> {
        CapabilityTable {
            stop_start: Some(self),
            reboot: (!self.shared.faults.undeclared_reboot).then_some(self as _),
            tags: Some(self),
            modify_firewall: Some(self),
            ..CapabilityTable::NONE
        }
    }
    fn create_features(&self) -> CreateFeatures {
        Self::features()
    }
    fn instance_poll_time(&self) -> Duration {
        Duration::from_millis(20)
    }

    async fn locations(&self, args: GetLocationsArgs) -> Result<Vec<Location>> {
        assert!(
            !self.shared.faults.panic_in_locations,
            "memory provider: deliberate panic in locations()"
        );
        let mut all = vec![
            Location {
                name: "mem-east".into(),
                available: true,
                country: "USA".into(),
                ..Location::default()
            },
            Location {
                name: "mem-west".into(),
                available: true,
                country: "USA".into(),
                ..Location::default()
            },
            Location {
                name: "mem-closed".into(),
                available: false,
                country: "USA".into(),
                ..Location::default()
            },
        ];
        if !args.include_unavailable {
            all.retain(|l| l.available);
        }
        Ok(all)
    }

    async fn instance_types(&self, args: &GetInstanceTypeArgs) -> Result<Vec<InstanceType>> {
        Ok(args.apply(catalog()))
    }

    async fn create_instance(&self, create: ValidCreate) -> Result<Instance> {
        let attrs = create.attrs();
        let location = if attrs.location.is_empty() {
            self.location.clone()
        } else {
            attrs.location.clone()
        };
        let Some(it) = catalog()
            .into_iter()
            .find(|it| it.location == location && it.type_name == attrs.instance_type)
        else {
            return Err(CloudError::invalid(
                "instance_type",
                format!("{} is not offered in {location}", attrs.instance_type),
            ));
        };
        let mut store = self.store();
        if let Some(existing) = store
            .instances
            .values()
            .find(|r| r.instance.ref_id == attrs.ref_id)
        {
            return Ok(existing.instance.clone());
        }
        store.next_id += 1;
        let n = store.next_id;
        let mut ingress_rules = Vec::new();
        for rule in missing_rules(&[], create.ingress_rules()) {
            store.next_rule += 1;
            ingress_rules.push(rule.to_rule(format!("mem-fw-{}", store.next_rule)));
        }
        let egress_rules = if self.shared.faults.reports_egress {
            vec![FirewallRule::port(443)]
        } else {
            Vec::new()
        };
        let hostname = if self.shared.faults.raw_hostname {
            raw_hostname(&attrs.name)
        } else {
            create.hostname().to_owned()
        };
        let ref_id = if self.shared.faults.wrong_ref_id {
            format!("{}-wrong", attrs.ref_id)
        } else {
            attrs.ref_id.clone()
        };
        let instance = Instance {
            name: attrs.name.clone(),
            ref_id,
            cloud_cred_ref_id: self.shared.identity.reference_id().to_owned(),
            created_at: Some(jiff::Timestamp::now()),
            cloud_id: InstanceId::new(format!("mem-{n}")),
            public_ip: format!("192.0.2.{}", n % 250 + 1),
            instance_type: it.type_name.as_str().to_owned(),
            instance_type_id: InstanceTypeId::generic(&location, None, &it.type_name),
            ssh_user: "ubuntu".into(),
            ssh_port: 22,
            status: Status::new(LifecycleStatus::Pending),
            location,
            tags: attrs.tags.clone(),
            hostname,
            firewall_rules: FirewallRules {
                ingress_rules,
                egress_rules,
            },
            stoppable: true,
            rebootable: true,
            ..Instance::default()
        };
        store.instances.insert(
            instance.cloud_id.clone(),
            Record {
                instance: instance.clone(),
                next: Some((LifecycleStatus::Running, Instant::now() + STEP)),
            },
        );
        Ok(instance)
    }

    async fn get_instance(&self, id: &InstanceId) -> Result<Instance> {
        let store = self.store();
        store
            .instances
            .get(id)
            .map(|r| r.instance.clone())
            .ok_or_else(|| Self::not_found("get_instance", id))
    }

    async fn list_instances(&self, args: &ListInstancesArgs) -> Result<Vec<Instance>> {
        let store = self.store();
        Ok(args.apply(
            store
                .instances
                .values()
                .map(|r| r.instance.clone())
                .collect(),
        ))
    }

    async fn terminate_instance(&self, id: &InstanceId) -> Result<()> {
        if self.shared.faults.leak {
            return Ok(());
        }
        let mut store = self.store();
        if let Some(record) = store.instances.get_mut(id) {
            record.instance.status = Status::new(LifecycleStatus::Terminating);
            record.next = Some((LifecycleStatus::Terminated, Instant::now() + STEP));
        }
        Ok(())
    }
}

#[async_trait]
impl StopStartInstance for MemoryClient {
    async fn stop_instance(&self, id: &InstanceId) -> Result<()> {
        if self.shared.faults.stop_not_implemented {
            return Err(CloudError::NotImplemented {
                provider: PROVIDER.into(),
                capability: Capability::StopStartInstance,
            });
        }
        self.transition(
            "stop_instance",
            id,
            &[LifecycleStatus::Running],
            LifecycleStatus::Stopping,
            LifecycleStatus::Stopped,
        )
    }

    async fn start_instance(&self, id: &InstanceId) -> Result<()> {
        self.transition(
            "start_instance",
            id,
            &[LifecycleStatus::Stopped],
            LifecycleStatus::Pending,
            LifecycleStatus::Running,
        )
    }
}

#[async_trait]
impl RebootInstance for MemoryClient {
    async fn reboot_instance(&self, id: &InstanceId) -> Result<()> {
        self.transition(
            "reboot_instance",
            id,
            &[LifecycleStatus::Running],
            LifecycleStatus::Pending,
            LifecycleStatus::Running,
        )
    }
}

#[async_trait]
impl InstanceTags for MemoryClient {
    async fn update_instance_tags(&self, args: &ValidTagUpdate) -> Result<()> {
        let mut store = self.store();
        let record = store
            .instances
            .get_mut(args.instance_id())
            .ok_or_else(|| Self::not_found("update_instance_tags", args.instance_id()))?;
        record.instance.tags = args.tags().clone();
        Ok(())
    }
}

/// The local provider's old host-name rule, which the core rule replaced.
fn raw_hostname(name: &str) -> String {
    let host: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    host.trim_matches('-').to_owned()
}

#[async_trait]
impl ModifyFirewall for MemoryClient {
    async fn add_firewall_rules(&self, args: &ValidFirewallAdd) -> Result<()> {
        let stack = self.shared.faults.stack_duplicate_rules;
        let mut store = self.store();
        let Store {
            instances,
            next_rule,
            ..
        } = &mut *store;
        let record = instances
            .get_mut(args.instance_id())
            .ok_or_else(|| Self::not_found("add_firewall_rules", args.instance_id()))?;
        let rules = &mut record.instance.firewall_rules.ingress_rules;
        let wanted: Vec<_> = if stack {
            args.ingress_rules().iter().collect()
        } else {
            missing_rules(rules, args.ingress_rules())
        };
        for rule in wanted {
            *next_rule += 1;
            rules.push(rule.to_rule(format!("mem-fw-{next_rule}")));
        }
        Ok(())
    }

    async fn revoke_firewall_rules(&self, args: &ValidFirewallRevoke) -> Result<()> {
        let mut store = self.store();
        let record = store
            .instances
            .get_mut(args.instance_id())
            .ok_or_else(|| Self::not_found("revoke_firewall_rules", args.instance_id()))?;
        record
            .instance
            .firewall_rules
            .ingress_rules
            .retain(|r| !args.rule_ids().contains(&r.id));
        Ok(())
    }
}
