//! The credential, the client and its capabilities.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use gpucloud_core::{
    ApiType, CapabilityTable, CloudClient, CloudCredential, CloudError, CreateFeatures, ErrorKind,
    FirewallRules, GetInstanceTypeArgs, GetLocationsArgs, Identity, Instance, InstanceId,
    InstanceTags, InstanceType, InstanceTypeId, LifecycleStatus, ListInstancesArgs, Location,
    ModifyFirewall, RebootInstance, Result, Status, StopStartInstance, ValidCreate,
    ValidFirewallAdd, ValidFirewallRevoke, ValidTagUpdate, missing_rules,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::PROVIDER_ID;
use crate::catalog::{self, LOCATION, Machine, Shape};
use crate::cmd::{Tools, internal};
use crate::config::{ENV_SUBNET, LocalConfig};
use crate::host::{BootFiles, Cgroups, Host, alive};
use crate::net::{self, Ipv4Net};
use crate::state::{Entry, Lock, ProcRef, Record, Stage, Store, valid_id};

/// Version of the record format written by this crate.
const RECORD_VERSION: u32 = 1;
/// How long the SSH-port probe waits.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);
/// What instances report as their image: they run on the host's root file system.
const IMAGE: &str = "host-rootfs";

/// Short hash of the state directory: it names the bridge and prefixes namespaces and cgroups,
/// so that state directories never touch each other's resources.
fn state_tag(dir: &Path) -> String {
    // Lexical only, never the file system: the credential (no I/O, directory perhaps not made
    // yet) and its clients must derive the same tag, and so the same tenant id.
    let path = lexically_normal(&std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()));
    let digest = sha2::Sha256::digest(path.as_os_str().as_encoded_bytes());
    gpucloud_core::text::hex(&digest[..4])
}

/// `path` with `.` and `..` components resolved by name.
fn lexically_normal(path: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The state directory must be an absolute UTF-8 path without control characters (it is
/// written into the instances' launch scripts).
fn check_state_dir(dir: &Path) -> Result<()> {
    let text = dir.to_str().ok_or_else(|| {
        CloudError::configuration(format!(
            "state_dir {}: the path is not valid UTF-8",
            dir.display()
        ))
    })?;
    if !dir.is_absolute() {
        return Err(CloudError::configuration(format!(
            "state_dir {text:?}: must be an absolute path"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(CloudError::configuration(format!(
            "state_dir {text:?}: must not contain control characters"
        )));
    }
    Ok(())
}

fn conflict(operation: &'static str, message: impl Into<String>) -> CloudError {
    CloudError::provider(PROVIDER_ID, operation, ErrorKind::Conflict, message)
}

fn not_found(operation: &'static str, id: &str) -> CloudError {
    CloudError::instance_not_found(PROVIDER_ID, operation, id)
}

/// The identity of a credential (and its clients) for `config`: the tenant is the state
/// directory, by its lexical tag.
fn identity_for(config: &LocalConfig) -> Identity {
    Identity::new(
        PROVIDER_ID,
        ApiType::Global,
        config.ref_id.clone(),
        format!("local-{}", state_tag(&config.state_dir)),
    )
}

/// The credential of the local provider: no secret, just the configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "SerializedCredential")]
pub struct LocalCredential {
    config: LocalConfig,
    #[serde(skip)]
    identity: Identity,
}

/// What a credential persists; the identity is derived again when it is read.
#[derive(Deserialize)]
struct SerializedCredential {
    config: LocalConfig,
}

impl From<SerializedCredential> for LocalCredential {
    fn from(stored: SerializedCredential) -> Self {
        Self::new(stored.config)
    }
}

impl LocalCredential {
    /// A credential for `config`.
    pub fn new(config: LocalConfig) -> Self {
        let identity = identity_for(&config);
        Self { config, identity }
    }

    /// The configuration.
    pub fn config(&self) -> &LocalConfig {
        &self.config
    }
}

#[async_trait]
impl CloudCredential for LocalCredential {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    async fn make_client(&self, location: &str) -> Result<Arc<dyn CloudClient>> {
        if !location.is_empty() && location != LOCATION {
            return Err(CloudError::invalid(
                "location",
                format!("the local provider has one location, {LOCATION:?}; got {location:?}"),
            ));
        }
        Ok(Arc::new(LocalClient::new(self.config.clone()).await?))
    }
}

/// A client of the local provider: instances on this machine, under one state directory.
///
/// Creating one checks the machine (root, tools), the subnet (private, overlapping no route),
/// and reconciles the state directory with what exists (see the crate documentation).
pub struct LocalClient {
    config: LocalConfig,
    identity: Identity,
    store: Store,
    host: Host,
    machine: Machine,
    /// Launchers whose sshd has accepted a connection: no need to probe them again.
    ready: Mutex<HashSet<(String, i32, u64)>>,
}

impl std::fmt::Debug for LocalClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalClient")
            .field("state_dir", &self.store.root())
            .field("subnet", &self.host.subnet.to_string())
            .field("bridge", &self.host.bridge)
            .finish_non_exhaustive()
    }
}

impl LocalClient {
    /// Checks the machine and the configuration, reconciles the state directory, and returns a
    /// client. Fails with a `Configuration` error when not root, a tool is missing, the state
    /// directory is unusable, or the subnet is invalid, overlaps a route or address of this
    /// machine, or differs from the subnet of instances already in the state directory.
    pub async fn new(config: LocalConfig) -> Result<Self> {
        let tools = Tools::discover()?;
        check_state_dir(&config.state_dir)?;
        let subnet = Ipv4Net::parse_subnet(&config.subnet).map_err(|problem| {
            CloudError::configuration(format!(
                "subnet: {problem} (set {ENV_SUBNET} or LocalConfig::with_subnet)"
            ))
        })?;
        let store = Store::open(&config.state_dir)?;
        let tag = state_tag(store.root());
        let cgroups = crate::state::blocking("new_client", || Ok(Cgroups::detect())).await?;
        if let Cgroups::Unavailable { reason } = &cgroups {
            tracing::warn!(%reason, "instance CPU and memory limits are nominal: not enforced");
        }
        let host = Host {
            tools,
            bridge: format!("gb{tag}"),
            tag,
            subnet,
            cgroups,
        };
        let client = Self {
            identity: identity_for(&config),
            config,
            store,
            host,
            machine: Machine::detect(),
            ready: Mutex::new(HashSet::new()),
        };
        client.reconcile().await?;
        Ok(client)
    }

    /// The host's address on the instance bridge (the first address of the subnet). Instances
    /// accept SSH from it, and reach the host through it.
    pub fn host_address(&self) -> Ipv4Addr {
        self.host.subnet.host_address()
    }

    /// The instance subnet, e.g. `10.213.0.0/24`.
    pub fn subnet(&self) -> String {
        self.host.subnet.to_string()
    }

    /// The name of the host bridge instances are attached to.
    pub fn bridge_name(&self) -> &str {
        &self.host.bridge
    }

    /// The network namespace of an instance (for `ip netns exec`).
    pub fn namespace_name(&self, id: &InstanceId) -> String {
        self.host.namespace(id.as_str())
    }

    /// The host end of an instance's veth pair.
    pub fn host_veth_name(&self, id: &InstanceId) -> String {
        Host::veth(id.as_str())
    }

    /// The directory holding an instance's record, sshd configuration and logs.
    pub fn instance_dir(&self, id: &InstanceId) -> PathBuf {
        self.store.dir(id.as_str())
    }

    /// The instance's console log: its boot messages, sshd's log and user-data output.
    pub fn console_log(&self, id: &InstanceId) -> PathBuf {
        self.store.dir(id.as_str()).join("console.log")
    }

    /// True when instance CPU and memory limits are enforced by cgroups; false when they are
    /// nominal.
    pub fn limits_enforced(&self) -> bool {
        self.host.cgroups.enforced()
    }

    /// Brings the state directory and the machine into agreement. See the crate docs.
    async fn reconcile(&self) -> Result<()> {
        let op = "new_client";
        let _global = self.store.lock_global(op).await?;
        let entries = self.store.read_all(op).await?;
        let subnet = self.host.subnet.to_string();
        for (id, entry) in &entries {
            if let Entry::Record(rec) = entry
                && !rec.subnet.is_empty()
                && rec.subnet != subnet
            {
                return Err(CloudError::configuration(format!(
                    "the state directory {} holds instance {id} on subnet {}, but the configured subnet is {subnet}; \
                     configure that subnet, or terminate its instances first",
                    self.store.root().display(),
                    rec.subnet
                )));
            }
        }
        if entries.is_empty() {
            self.host.remove_bridge(op).await?;
        } else {
            let ids: Vec<&str> = entries.iter().map(|(id, _)| id.as_str()).collect();
            self.host.ensure_bridge(op, &ids).await?;
        }
        let claims = self.host.claims().await?;
        if let Some(claim) = net::first_overlap(self.host.subnet, &claims, &self.host.bridge) {
            return Err(CloudError::configuration(format!(
                "the instance subnet {subnet} overlaps the {} on this machine; choose a free private range \
                 with {ENV_SUBNET} or LocalConfig::with_subnet",
                claim.description
            )));
        }

        let known: HashSet<&str> = entries
            .iter()
            .filter(|(_, e)| !matches!(e, Entry::Empty))
            .map(|(id, _)| id.as_str())
            .collect();
        let mut orphans: Vec<String> = self.host.namespaced_ids();
        orphans.extend(self.host.cgroup_ids());
        orphans.sort();
        orphans.dedup();
        for id in orphans.iter().filter(|id| !known.contains(id.as_str())) {
            tracing::warn!(instance = %id, namespace = %self.host.namespace(id), "removing an instance that has no record");
            if let Err(error) = self.host.teardown(op, id, None).await {
                tracing::warn!(instance = %id, %error, "could not remove an instance that has no record");
            }
        }

        for (id, entry) in &entries {
            match entry {
                // A create died between making the directory and writing the record: nothing
                // else was made.
                Entry::Empty => self.store.remove(op, id).await?,
                // Shown as failed by list; terminate removes it.
                Entry::Unreadable(_) => {}
                Entry::Record(rec) => {
                    let Some(_lock) = self.store.try_lock_instance(id) else {
                        continue;
                    };
                    self.reconcile_record(rec).await?;
                }
            }
        }
        if self.store.read_all(op).await?.is_empty() {
            self.host.remove_bridge(op).await?;
        }
        Ok(())
    }

    /// Settles one record whose lock the caller holds.
    async fn reconcile_record(&self, rec: &Record) -> Result<()> {
        let op = "new_client";
        let mut rec = rec.clone();
        match rec.stage {
            Stage::Creating => {
                tracing::warn!(instance = %rec.id, "marking an interrupted create as failed");
                rec.stage = Stage::Failed;
                rec.messages.push(
                    "the create was interrupted before the instance was set up; terminate it"
                        .into(),
                );
                self.store.write(op, &rec).await
            }
            Stage::Terminating => {
                tracing::warn!(instance = %rec.id, "finishing an interrupted terminate");
                self.host.teardown(op, &rec.id, rec.launcher).await?;
                self.store.remove(op, &rec.id).await
            }
            Stage::Started | Stage::Rebooting | Stage::Stopping | Stage::Stopped
                if !self.host.namespace_exists(&rec.id) =>
            {
                tracing::warn!(instance = %rec.id, "marking an instance whose namespace is gone as failed");
                rec.stage = Stage::Failed;
                rec.launcher = None;
                rec.messages.push(format!(
                    "its network namespace {} no longer exists (was the machine rebooted?); terminate it",
                    self.host.namespace(&rec.id)
                ));
                self.store.write(op, &rec).await
            }
            _ => Ok(()),
        }
    }

    /// True when the instance's sshd accepts TCP connections.
    async fn ssh_ready(&self, rec: &Record, launcher: ProcRef) -> bool {
        let key = (rec.id.clone(), launcher.pid, launcher.start_time);
        if self.ready.lock().is_ok_and(|set| set.contains(&key)) {
            return true;
        }
        let Some(address) = rec.address else {
            return false;
        };
        let connect = tokio::net::TcpStream::connect((address, 22));
        let ok = matches!(
            tokio::time::timeout(PROBE_TIMEOUT, connect).await,
            Ok(Ok(_))
        );
        if ok && let Ok(mut set) = self.ready.lock() {
            set.insert(key);
        }
        ok
    }

    /// The lifecycle status of a record, from its stage and what is running.
    async fn observe(&self, rec: &Record) -> Status {
        let mut messages = rec.messages.clone();
        let live = rec.launcher.filter(|l| alive(*l));
        let lifecycle = match rec.stage {
            Stage::Creating => {
                if self.store.instance_busy(&rec.id) {
                    LifecycleStatus::Pending
                } else {
                    messages.push(
                        "the create was interrupted before the instance was set up; terminate it"
                            .into(),
                    );
                    LifecycleStatus::Failed
                }
            }
            Stage::Started => match live {
                Some(l) if self.ssh_ready(rec, l).await => LifecycleStatus::Running,
                Some(_) => LifecycleStatus::Pending,
                None => {
                    messages.push(format!(
                        "the instance's init process (sshd) exited; see {}; start it again or terminate it",
                        self.store.dir(&rec.id).join("console.log").display()
                    ));
                    LifecycleStatus::Stopped
                }
            },
            Stage::Rebooting => LifecycleStatus::Pending,
            Stage::Stopping if live.is_some() => LifecycleStatus::Stopping,
            Stage::Stopping | Stage::Stopped => LifecycleStatus::Stopped,
            Stage::Terminating => LifecycleStatus::Terminating,
            Stage::Failed | Stage::Unknown => LifecycleStatus::Failed,
        };
        Status {
            lifecycle_status: lifecycle,
            messages,
        }
    }

    fn to_instance(rec: &Record, status: Status) -> Instance {
        let lifecycle = status.lifecycle_status;
        let address = rec.address.map(|a| a.to_string()).unwrap_or_default();
        Instance {
            name: rec.name.clone(),
            ref_id: rec.ref_id.clone(),
            cloud_cred_ref_id: rec.cloud_cred_ref_id.clone(),
            created_at: rec.created_at,
            cloud_id: InstanceId::new(&rec.id),
            public_ip: address.clone(),
            private_ip: address,
            hostname: rec.hostname.clone(),
            image_id: IMAGE.to_owned(),
            instance_type: rec.instance_type.clone(),
            pub_key_fingerprint: rec.pub_key_fingerprint.clone(),
            ssh_user: "root".to_owned(),
            ssh_port: 22,
            status,
            firewall_rules: FirewallRules {
                ingress_rules: rec.ingress.clone(),
                // Outbound is open (see `nft`): no egress rules, meaning everything allowed.
                egress_rules: Vec::new(),
            },
            last_stop_transition_time: rec.last_stop_transition_time,
            location: LOCATION.to_owned(),
            tags: rec.tags.clone(),
            stoppable: matches!(
                lifecycle,
                LifecycleStatus::Running | LifecycleStatus::Pending
            ) && rec.stage != Stage::Creating,
            rebootable: lifecycle == LifecycleStatus::Running,
            is_container: true,
            instance_type_id: InstanceTypeId::generic(LOCATION, None, &rec.instance_type),
            ..Instance::default()
        }
    }

    async fn entry_to_instance(&self, id: &str, entry: Entry) -> Instance {
        match entry {
            Entry::Record(rec) => {
                let status = self.observe(&rec).await;
                Self::to_instance(&rec, status)
            }
            Entry::Empty | Entry::Unreadable(_) => {
                let message = match entry {
                    Entry::Unreadable(m) => m,
                    _ => "the instance has no record (its create was interrupted); terminate it"
                        .to_owned(),
                };
                Instance {
                    cloud_id: InstanceId::new(id),
                    location: LOCATION.to_owned(),
                    status: Status {
                        lifecycle_status: LifecycleStatus::Failed,
                        messages: vec![message],
                    },
                    ..Instance::default()
                }
            }
        }
    }

    /// Takes the instance lock and reads its record; `InstanceNotFound` when absent.
    async fn lock_record(
        &self,
        operation: &'static str,
        id: &InstanceId,
    ) -> Result<(Lock, Record)> {
        let id = id.as_str();
        if !valid_id(id) {
            return Err(not_found(operation, id));
        }
        let lock = self
            .store
            .lock_instance(operation, id)
            .await?
            .ok_or_else(|| not_found(operation, id))?;
        match self.store.read(operation, id).await? {
            Some(Entry::Record(rec)) => Ok((lock, *rec)),
            Some(Entry::Unreadable(message)) => Err(internal(operation, message)),
            Some(Entry::Empty) | None => Err(not_found(operation, id)),
        }
    }

    /// Creates the instance's files and resources and launches it.
    async fn provision(
        &self,
        rec: &Record,
        public_key: &str,
        user_data: Option<&[u8]>,
        shape: Shape,
    ) -> Result<ProcRef> {
        let op = "create_instance";
        let dir = self.store.dir(&rec.id);
        let address = rec
            .address
            .ok_or_else(|| internal(op, "the record has no address"))?;
        let files = BootFiles {
            dir: &dir,
            hostname: &rec.hostname,
            id: &rec.id,
            address,
            public_key,
            user_data,
        };
        let (files_done, network_done) = tokio::join!(
            self.host.write_boot_files(&files),
            self.host.create_network(
                &rec.id,
                address,
                shape.vcpu,
                shape.memory_bytes(),
                &rec.ingress
            ),
        );
        files_done?;
        network_done?;
        self.host.launch(op, &rec.id, &dir)
    }

    async fn remove_bridge_if_unused(&self, operation: &'static str) -> Result<()> {
        let _global = self.store.lock_global(operation).await?;
        if self.store.read_all(operation).await?.is_empty() {
            self.host.remove_bridge(operation).await?;
        }
        Ok(())
    }

    /// Relaunches the instance's processes (start and reboot), holding its lock.
    async fn relaunch(&self, operation: &'static str, rec: &mut Record) -> Result<()> {
        if let Ok(mut set) = self.ready.lock() {
            set.retain(|(id, _, _)| *id != rec.id);
        }
        self.host
            .stop_processes(operation, &rec.id, rec.launcher)
            .await?;
        let launcher = self
            .host
            .launch(operation, &rec.id, &self.store.dir(&rec.id))?;
        rec.launcher = Some(launcher);
        rec.stage = Stage::Started;
        self.store.write(operation, rec).await
    }
}

#[async_trait]
impl CloudClient for LocalClient {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn location(&self) -> &str {
        LOCATION
    }

    fn capability_table(&self) -> CapabilityTable<'_> {
        CapabilityTable {
            stop_start: Some(self),
            reboot: Some(self),
            modify_firewall: Some(self),
            tags: Some(self),
            ..CapabilityTable::NONE
        }
    }

    fn create_features(&self) -> CreateFeatures {
        CreateFeatures {
            user_data: true,
            idempotent: true,
            tags: true,
            firewall_rules: true,
            ..CreateFeatures::default()
        }
    }

    fn instance_poll_time(&self) -> Duration {
        Duration::from_millis(200)
    }

    fn max_create_requests_per_minute(&self) -> u32 {
        600
    }

    async fn locations(&self, _args: GetLocationsArgs) -> Result<Vec<Location>> {
        Ok(catalog::locations())
    }

    async fn instance_types(&self, args: &GetInstanceTypeArgs) -> Result<Vec<InstanceType>> {
        Ok(args.apply(catalog::instance_types(&self.machine)))
    }

    async fn create_instance(&self, create: ValidCreate) -> Result<Instance> {
        let op = "create_instance";
        let attrs = create.attrs();
        if !attrs.location.is_empty() && attrs.location != LOCATION {
            return Err(CloudError::invalid(
                "location",
                format!(
                    "the local provider has one location, {LOCATION:?}; got {:?}",
                    attrs.location
                ),
            ));
        }
        let shape = catalog::shape(&attrs.instance_type).ok_or_else(|| {
            let names: Vec<&str> = catalog::SHAPES.iter().map(|s| s.name).collect();
            CloudError::invalid(
                "instance_type",
                format!(
                    "{:?} is not a local instance type; use one of {}",
                    attrs.instance_type,
                    names.join(", ")
                ),
            )
        })?;
        if !self.machine.fits(&shape) {
            return Err(CloudError::provider(
                PROVIDER_ID,
                op,
                ErrorKind::InsufficientCapacity,
                format!(
                    "{} needs {} vCPUs and {} GiB of memory; this machine has {} CPUs and {} MiB",
                    shape.name,
                    shape.vcpu,
                    shape.memory_gib,
                    self.machine.cpus,
                    self.machine.memory_bytes >> 20
                ),
            ));
        }
        let user_data = create.user_data();
        let fingerprint = create.public_key().fingerprint_sha256();

        let global = self.store.lock_global(op).await?;
        let entries = self.store.read_all(op).await?;
        if let Some((id, _)) = entries
            .iter()
            .find(|(_, e)| matches!(e, Entry::Record(r) if r.ref_id == attrs.ref_id))
        {
            let id = InstanceId::new(id);
            drop(global);
            tracing::info!(instance = %id, ref_id = %attrs.ref_id, "create with a known RefID returns the existing instance");
            return self.get_instance(&id).await;
        }
        let used: Vec<Ipv4Addr> = entries
            .iter()
            .filter_map(|(_, e)| {
                if let Entry::Record(r) = e {
                    r.address
                } else {
                    None
                }
            })
            .collect();
        let address = net::allocate(self.host.subnet, &used).ok_or_else(|| {
            CloudError::provider(
                PROVIDER_ID,
                op,
                ErrorKind::InsufficientCapacity,
                format!("every address of the subnet {} is in use", self.host.subnet),
            )
        })?;
        let id = loop {
            let candidate = format!("local-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
            if !entries.iter().any(|(id, _)| *id == candidate)
                && !self.store.dir(&candidate).exists()
            {
                break candidate;
            }
        };
        self.host.ensure_bridge(op, &[]).await?;
        let mut rec = Record {
            version: RECORD_VERSION,
            hostname: create.hostname().to_owned(),
            id,
            name: attrs.name.clone(),
            ref_id: attrs.ref_id.clone(),
            cloud_cred_ref_id: self.config.ref_id.clone(),
            created_at: Some(Timestamp::now()),
            instance_type: shape.name.to_owned(),
            address: Some(address),
            subnet: self.host.subnet.to_string(),
            stage: Stage::Creating,
            tags: attrs.tags.clone(),
            pub_key_fingerprint: fingerprint,
            user_data: user_data.is_some(),
            limits_enforced: self.host.cgroups.enforced(),
            ..Record::default()
        };
        for rule in missing_rules(&[], create.ingress_rules()) {
            let id = rec.next_rule_id();
            rec.ingress.push(rule.to_rule(id));
        }
        let lock = self.store.create(&rec).await?;
        drop(global);
        tracing::info!(instance = %rec.id, %address, instance_type = shape.name, "creating");

        match self
            .provision(&rec, &attrs.public_key, user_data, shape)
            .await
        {
            Ok(launcher) => {
                rec.launcher = Some(launcher);
                rec.stage = Stage::Started;
                self.store.write(op, &rec).await?;
                drop(lock);
                let status = self.observe(&rec).await;
                Ok(Self::to_instance(&rec, status))
            }
            Err(error) => {
                tracing::warn!(instance = %rec.id, %error, "create failed; removing what was made");
                if let Err(e) = self.host.teardown(op, &rec.id, None).await {
                    tracing::warn!(instance = %rec.id, error = %e, "cleanup after a failed create failed");
                    rec.stage = Stage::Failed;
                    rec.messages.push(format!(
                        "create failed: {error}; cleanup failed: {e}; terminate it"
                    ));
                    self.store.write(op, &rec).await?;
                    return Err(error);
                }
                self.store.remove(op, &rec.id).await?;
                drop(lock);
                self.remove_bridge_if_unused(op).await?;
                Err(error)
            }
        }
    }

    async fn get_instance(&self, id: &InstanceId) -> Result<Instance> {
        let op = "get_instance";
        if !valid_id(id.as_str()) {
            return Err(not_found(op, id.as_str()));
        }
        match self.store.read(op, id.as_str()).await? {
            Some(entry) => Ok(self.entry_to_instance(id.as_str(), entry).await),
            None => Err(not_found(op, id.as_str())),
        }
    }

    async fn list_instances(&self, args: &ListInstancesArgs) -> Result<Vec<Instance>> {
        let entries = self.store.read_all("list_instances").await?;
        let instances = futures::future::join_all(
            entries
                .into_iter()
                .map(|(id, entry)| async move { self.entry_to_instance(&id, entry).await }),
        )
        .await;
        Ok(instances
            .into_iter()
            .filter(|i| {
                args.keeps_mark(&i.cloud_cred_ref_id, &self.config.ref_id) && args.matches(i)
            })
            .collect())
    }

    async fn terminate_instance(&self, id: &InstanceId) -> Result<()> {
        let op = "terminate_instance";
        let id = id.as_str();
        if !valid_id(id) {
            return Ok(());
        }
        let Some(lock) = self.store.lock_instance(op, id).await? else {
            return Ok(());
        };
        let launcher = match self.store.read(op, id).await? {
            None => return Ok(()),
            Some(Entry::Record(mut rec)) => {
                rec.stage = Stage::Terminating;
                self.store.write(op, &rec).await?;
                rec.launcher
            }
            Some(Entry::Empty | Entry::Unreadable(_)) => None,
        };
        tracing::info!(instance = id, "terminating");
        if let Ok(mut set) = self.ready.lock() {
            set.retain(|(i, _, _)| i != id);
        }
        self.host.teardown(op, id, launcher).await?;
        self.store.remove(op, id).await?;
        drop(lock);
        self.remove_bridge_if_unused(op).await
    }
}

#[async_trait]
impl StopStartInstance for LocalClient {
    async fn stop_instance(&self, id: &InstanceId) -> Result<()> {
        let op = "stop_instance";
        let (_lock, mut rec) = self.lock_record(op, id).await?;
        match rec.stage {
            Stage::Started | Stage::Rebooting | Stage::Stopping => {}
            Stage::Stopped => return Ok(()),
            stage => {
                return Err(conflict(
                    op,
                    format!("instance {id} cannot be stopped in stage {stage:?}"),
                ));
            }
        }
        rec.stage = Stage::Stopping;
        rec.last_stop_transition_time = Some(Timestamp::now());
        self.store.write(op, &rec).await?;
        tracing::info!(instance = %id, "stopping");
        self.host.stop_processes(op, &rec.id, rec.launcher).await?;
        rec.stage = Stage::Stopped;
        rec.launcher = None;
        rec.last_stop_transition_time = Some(Timestamp::now());
        self.store.write(op, &rec).await
    }

    async fn start_instance(&self, id: &InstanceId) -> Result<()> {
        let op = "start_instance";
        let (_lock, mut rec) = self.lock_record(op, id).await?;
        match rec.stage {
            Stage::Started if rec.launcher.is_some_and(alive) => return Ok(()),
            Stage::Started | Stage::Stopped | Stage::Stopping => {}
            stage => {
                return Err(conflict(
                    op,
                    format!("instance {id} cannot be started in stage {stage:?}"),
                ));
            }
        }
        if !self.host.namespace_exists(&rec.id) {
            return Err(conflict(
                op,
                format!("instance {id} has lost its network namespace; terminate it"),
            ));
        }
        tracing::info!(instance = %id, "starting");
        rec.messages.clear();
        self.relaunch(op, &mut rec).await
    }
}

#[async_trait]
impl RebootInstance for LocalClient {
    async fn reboot_instance(&self, id: &InstanceId) -> Result<()> {
        let op = "reboot_instance";
        let (_lock, mut rec) = self.lock_record(op, id).await?;
        match rec.stage {
            Stage::Started | Stage::Rebooting => {}
            Stage::Stopped | Stage::Stopping => {
                return Err(conflict(
                    op,
                    format!("instance {id} is stopped; start it instead"),
                ));
            }
            stage => {
                return Err(conflict(
                    op,
                    format!("instance {id} cannot be rebooted in stage {stage:?}"),
                ));
            }
        }
        tracing::info!(instance = %id, "rebooting");
        rec.stage = Stage::Rebooting;
        self.store.write(op, &rec).await?;
        self.relaunch(op, &mut rec).await
    }
}

#[async_trait]
impl InstanceTags for LocalClient {
    async fn update_instance_tags(&self, args: &ValidTagUpdate) -> Result<()> {
        let op = "update_instance_tags";
        let (_lock, mut rec) = self.lock_record(op, args.instance_id()).await?;
        if rec.stage == Stage::Terminating {
            return Err(conflict(
                op,
                format!("instance {} is terminating", args.instance_id()),
            ));
        }
        rec.tags.clone_from(args.tags());
        self.store.write(op, &rec).await
    }
}

#[async_trait]
impl ModifyFirewall for LocalClient {
    /// Adds the rules not already in place ([`missing_rules`]); adding only rules in place
    /// changes nothing, not even the nftables ruleset.
    async fn add_firewall_rules(&self, args: &ValidFirewallAdd) -> Result<()> {
        let op = "add_firewall_rules";
        let id = args.instance_id();
        let (_lock, mut rec) = self.lock_record(op, id).await?;
        if matches!(
            rec.stage,
            Stage::Creating | Stage::Terminating | Stage::Failed | Stage::Unknown
        ) {
            return Err(conflict(
                op,
                format!(
                    "instance {id} cannot change its firewall in stage {:?}",
                    rec.stage
                ),
            ));
        }
        let missing = missing_rules(&rec.ingress, args.ingress_rules());
        if missing.is_empty() {
            tracing::debug!(instance = %id, "every rule to add is already in place");
            return Ok(());
        }
        let mut updated = rec.clone();
        for rule in missing {
            let rule_id = updated.next_rule_id();
            updated.ingress.push(rule.to_rule(rule_id));
        }
        self.host
            .apply_firewall(op, &rec.id, &updated.ingress)
            .await?;
        rec = updated;
        self.store.write(op, &rec).await
    }

    async fn revoke_firewall_rules(&self, args: &ValidFirewallRevoke) -> Result<()> {
        let op = "revoke_firewall_rules";
        let (_lock, rec) = self.lock_record(op, args.instance_id()).await?;
        if matches!(
            rec.stage,
            Stage::Creating | Stage::Terminating | Stage::Failed | Stage::Unknown
        ) {
            return Err(conflict(
                op,
                format!(
                    "instance {} cannot change its firewall in stage {:?}",
                    args.instance_id(),
                    rec.stage
                ),
            ));
        }
        for (i, rule_id) in args.rule_ids().iter().enumerate() {
            if !rec.ingress.iter().any(|r| r.id == *rule_id) {
                return Err(CloudError::provider(
                    PROVIDER_ID,
                    op,
                    ErrorKind::ResourceNotFound,
                    format!(
                        "security_group_rule_ids[{i}]: instance {} has no firewall rule {rule_id:?}",
                        args.instance_id()
                    ),
                ));
            }
        }
        let mut updated = rec.clone();
        updated.ingress.retain(|r| !args.rule_ids().contains(&r.id));
        self.host
            .apply_firewall(op, &rec.id, &updated.ingress)
            .await?;
        self.store.write(op, &updated).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_tags_are_lexical_and_stable() {
        let tag = state_tag(Path::new("/var/lib/gpucloud/local"));
        assert_eq!(tag, state_tag(Path::new("/var/lib/gpucloud/./x/../local")));
        assert_ne!(tag, state_tag(Path::new("/var/lib/gpucloud/other")));
        assert_eq!(tag.len(), 8);
    }

    #[test]
    fn state_dirs_must_be_plain() {
        assert!(check_state_dir(Path::new("/var/lib/gpucloud/local")).is_ok());
        assert!(check_state_dir(Path::new("relative")).is_err());
        assert!(
            check_state_dir(Path::new("/tmp/a\nb"))
                .unwrap_err()
                .to_string()
                .contains("control characters")
        );
        assert!(check_state_dir(Path::new("/tmp/it's 100%")).is_ok());
    }

    #[test]
    fn tags_differ_per_directory() {
        let a = state_tag(Path::new("/nonexistent/a"));
        assert_eq!(a.len(), 8);
        assert_eq!(a, state_tag(Path::new("/nonexistent/a")));
        assert_ne!(a, state_tag(Path::new("/nonexistent/b")));
    }
}
