//! The credential and the client: `CloudCredential`, `CloudClient` and the optional
//! capabilities (stop/start, tags, images, firewall), built from [`crate::api`] and the
//! conversions.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use gpucloud_bootstrap::Bootstrap;
use gpucloud_core::bookkeeping::{self, CRED_REF_ID_TAG, REF_ID_TAG};
use gpucloud_core::outcome::{ResolveBudget, Resolved, UnknownCreate, resolve_unknown_create};
use gpucloud_core::{
    ApiType, Bookkeeping, CapabilityTable, CloudClient, CloudCredential, CloudError,
    CreateFeatures, ErrorKind, FirewallRule, FirewallRules, GetImageArgs, GetInstanceTypeArgs,
    GetLocationsArgs, Identity, Image, Instance, InstanceId, InstanceTags, InstanceType,
    ListInstancesArgs, Location, LocationsFilter, MachineImage, ModifyFirewall, Price, Result,
    Retry, StopStartInstance, ValidCreate, ValidFirewallAdd, ValidFirewallRevoke, ValidTagUpdate,
    missing_rules, tenant_id_from_secret,
};
use gpucloud_nebius_proto::common::v1 as common;
use gpucloud_nebius_proto::compute::v1 as compute;
use gpucloud_nebius_proto::iam::v2 as iam2;
use gpucloud_nebius_proto::vpc::v1 as vpc;
use secrecy::ExposeSecret as _;
use tokio::sync::{Mutex, OnceCell};

use crate::api::{Api, Failed};
use crate::config::{NebiusAuth, NebiusConfig, PROJECTS_ENV, REGIONS_ENV, TENANT_ENV};
use crate::convert::{self, Allowances};
use crate::endpoints::Service;
use crate::pricing::{self, Preset, PresetMemory};
use crate::{PROVIDER_ID, error, sweep};

/// One region the credential works in: its project and, once looked up, the subnet new
/// instances join.
#[derive(Debug)]
struct Region {
    name: String,
    project_id: String,
    subnet: OnceCell<vpc::Subnet>,
}

/// State shared by a credential and every client it makes: one API (channels, token cache,
/// retry driver), the regions, the create lock.
struct Shared {
    config: NebiusConfig,
    identity: Identity,
    api: OnceCell<Api>,
    /// The tenant found through IAM when none is configured.
    tenant: OnceCell<String>,
    regions: OnceCell<Vec<Region>>,
    /// What each region's platform listing named last, for the early price estimate.
    presets: PresetMemory,
    /// Serializes creates in this process, so the RefID lookup and the create it guards cannot
    /// interleave with another create of the same RefID.
    create_lock: Mutex<()>,
}

/// A Nebius credential: a service-account key (or a static IAM token), the tenant or its
/// projects, and the control plane's reference id.
///
/// API type locational (a project per region); tenant id `nebius-<hex SHA-256>` of the tenant
/// id (or the projects; with neither configured, of the service account or the static token,
/// since the tenant is only found later); `Debug` never shows the key or a token. Every client it makes shares
/// one token cache, so a token is exchanged once per lifetime, not once per client.
#[derive(Clone)]
pub struct NebiusCredential {
    shared: Arc<Shared>,
}

impl fmt::Debug for NebiusCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NebiusCredential")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl NebiusCredential {
    /// A credential from a checked configuration. Nothing is sent until a client is used.
    pub fn new(config: NebiusConfig) -> Result<Self> {
        config.validate()?;
        let tenant_basis = if !config.tenant_id.trim().is_empty() {
            config.tenant_id.trim().to_owned()
        } else if !config.projects.is_empty() {
            config
                .projects
                .values()
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        } else {
            // The tenant is found later; what stays the same until then is who calls.
            match &config.auth {
                NebiusAuth::ServiceAccount(key) => key.service_account_id().to_owned(),
                NebiusAuth::Token(token) => token.expose_secret().to_owned(),
            }
        };
        let identity = Identity::new(
            PROVIDER_ID,
            ApiType::Locational,
            config.ref_id.clone(),
            tenant_id_from_secret(PROVIDER_ID, tenant_basis.as_bytes()),
        );
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                identity,
                api: OnceCell::new(),
                tenant: OnceCell::new(),
                regions: OnceCell::new(),
                presets: PresetMemory::default(),
                create_lock: Mutex::new(()),
            }),
        })
    }

    /// The configuration this credential was made from.
    pub fn config(&self) -> &NebiusConfig {
        &self.shared.config
    }

    /// A client bound to `location` (a region), or to every region when `location` is empty.
    pub fn client(&self, location: &str) -> NebiusClient {
        NebiusClient {
            shared: Arc::clone(&self.shared),
            location: location.to_owned(),
        }
    }

    /// How many access tokens were exchanged so far by all clients of this credential (0
    /// with a static token): one per token lifetime, however many calls were made.
    pub fn token_exchanges(&self) -> u64 {
        self.shared.api.get().map_or(0, Api::token_exchanges)
    }

    /// A channel to the compute service and the `authorization` value of the shared token,
    /// so a benchmark can make the raw RPC next to the provider over the same connection.
    pub async fn raw_compute(
        &self,
    ) -> Result<(
        tonic::transport::Channel,
        tonic::metadata::AsciiMetadataValue,
    )> {
        let api = self.shared.api().await?;
        Ok((api.channel(Service::Compute), api.authorization().await?))
    }
}

impl Shared {
    async fn api(&self) -> Result<&Api> {
        self.api
            .get_or_try_init(|| async { Api::new(&self.config) })
            .await
    }

    /// Whether `region` is one the configuration works in (every region when none is named).
    fn wants(&self, region: &str) -> bool {
        self.config.regions.is_empty() || self.config.regions.iter().any(|r| r == region)
    }

    /// The tenant: the configured one, else the one the credential sees (IAM v2's tenant
    /// list, asked once).
    async fn tenant(&self) -> Result<&str> {
        let configured = self.config.tenant_id.trim();
        if !configured.is_empty() {
            return Ok(configured);
        }
        self.tenant
            .get_or_try_init(|| async {
                let tenants = self.api().await?.list_tenants().await?;
                let tenant = choose_tenant(&tenants)?;
                tracing::debug!(%tenant, "found the credential's tenant");
                Ok(tenant)
            })
            .await
            .map(String::as_str)
    }

    /// The tenant whose quota applies: the configured or found one, or none when every
    /// project is configured without a tenant (each project's own quota then applies).
    async fn quota_tenant(&self) -> Result<&str> {
        if self.config.projects.is_empty() {
            self.tenant().await
        } else {
            Ok(self.config.tenant_id.trim())
        }
    }

    /// The regions: the configured projects, else the tenant's projects, one per region.
    async fn regions(&self) -> Result<&[Region]> {
        self.regions
            .get_or_try_init(|| async {
                let pairs: Vec<(String, String)> = if self.config.projects.is_empty() {
                    let tenant = self.tenant().await?;
                    let projects = self.api().await?.list_projects(tenant).await?;
                    choose_projects(&projects)
                } else {
                    self.config
                        .projects
                        .iter()
                        .map(|(r, p)| (r.clone(), p.clone()))
                        .collect()
                };
                let regions: Vec<Region> = pairs
                    .into_iter()
                    .filter(|(region, _)| self.wants(region))
                    .map(|(name, project_id)| Region {
                        name,
                        project_id,
                        subnet: OnceCell::new(),
                    })
                    .collect();
                if regions.is_empty() {
                    return Err(CloudError::configuration(format!(
                        "no Nebius project to work in: the tenant ({TENANT_ENV}) has none in the \
                         regions asked for ({REGIONS_ENV}); or give {PROJECTS_ENV}"
                    )));
                }
                Ok(regions)
            })
            .await
            .map(Vec::as_slice)
    }
}

/// What a credential saves of its tenant's lookup: the tenant (configured or found) and the
/// project chosen in each region.
#[derive(serde::Serialize, serde::Deserialize)]
struct Discovery {
    tenant: String,
    projects: BTreeMap<String, String>,
}

/// The one tenant among those a credential sees; several or none is a configuration error
/// that names them, since only the user knows which one is meant.
fn choose_tenant(tenants: &[iam2::Tenant]) -> Result<String> {
    let seen: Vec<(&str, &str)> = tenants
        .iter()
        .filter_map(|t| t.metadata.as_ref())
        .filter(|m| !m.id.is_empty())
        .map(|m| (m.id.as_str(), m.name.as_str()))
        .collect();
    match seen.as_slice() {
        [(id, _)] => Ok((*id).to_owned()),
        [] => Err(CloudError::configuration(format!(
            "the Nebius credential sees no tenant: give the tenant ({TENANT_ENV}) or a project \
             per region ({PROJECTS_ENV})"
        ))),
        several => {
            let named: Vec<String> = several
                .iter()
                .map(|(id, name)| {
                    if name.is_empty() {
                        (*id).to_owned()
                    } else {
                        format!("{id} ({name})")
                    }
                })
                .collect();
            Err(CloudError::configuration(format!(
                "the Nebius credential sees {} tenants: {}; set {TENANT_ENV} to the one to use",
                several.len(),
                named.join(", ")
            )))
        }
    }
}

/// One project per region from a tenant's projects: by name `default-project-<region>`, then
/// `default-<region>`, then `default`, then the lowest id, so the choice is stable.
fn choose_projects(projects: &[iam2::Project]) -> Vec<(String, String)> {
    let mut by_region: BTreeMap<String, Vec<(&str, &str)>> = BTreeMap::new();
    for p in projects {
        let Some(metadata) = &p.metadata else {
            continue;
        };
        let region = p.spec.as_ref().map_or("", |s| s.region.as_str());
        if region.is_empty() || metadata.id.is_empty() {
            continue;
        }
        by_region
            .entry(region.to_owned())
            .or_default()
            .push((metadata.id.as_str(), metadata.name.as_str()));
    }
    by_region
        .into_iter()
        .filter_map(|(region, mut candidates)| {
            candidates.sort_unstable();
            let rank = |name: &str| {
                let name = name.to_ascii_lowercase();
                if name == format!("default-project-{region}") {
                    0
                } else if name == format!("default-{region}") {
                    1
                } else if name == "default" {
                    2
                } else {
                    3
                }
            };
            let best = candidates.iter().min_by_key(|(_, name)| rank(name))?;
            Some((region.clone(), best.0.to_owned()))
        })
        .collect()
}

#[async_trait]
impl CloudCredential for NebiusCredential {
    fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    async fn make_client(&self, location: &str) -> Result<Arc<dyn CloudClient>> {
        Ok(Arc::new(self.client(location)))
    }

    /// The project of each region, once looked up from the tenant (`None` when the projects
    /// are configured or not looked up yet).
    fn discovery(&self) -> Option<String> {
        let shared = &self.shared;
        if !shared.config.projects.is_empty() {
            return None;
        }
        let regions = shared.regions.get()?;
        let tenant = match shared.config.tenant_id.trim() {
            "" => shared.tenant.get()?.as_str(),
            configured => configured,
        };
        let saved = Discovery {
            tenant: tenant.to_owned(),
            projects: regions
                .iter()
                .map(|r| (r.name.clone(), r.project_id.clone()))
                .collect(),
        };
        serde_json::to_string(&saved).ok()
    }

    /// Starts from saved projects of the same tenant instead of listing them.
    fn reuse_discovery(&self, saved: &str) {
        let shared = &self.shared;
        let Ok(saved) = serde_json::from_str::<Discovery>(saved) else {
            return;
        };
        let configured = shared.config.tenant_id.trim();
        if !shared.config.projects.is_empty()
            || saved.tenant.is_empty()
            || (!configured.is_empty() && saved.tenant != configured)
        {
            return;
        }
        let regions: Vec<Region> = saved
            .projects
            .into_iter()
            .filter(|(region, project)| shared.wants(region) && !project.is_empty())
            .map(|(name, project_id)| Region {
                name,
                project_id,
                subnet: OnceCell::new(),
            })
            .collect();
        if regions.is_empty() {
            return;
        }
        if configured.is_empty() && shared.tenant.set(saved.tenant).is_err() {
            return;
        }
        if shared.regions.set(regions).is_ok() {
            tracing::debug!("starting from the tenant's saved projects");
        }
    }
}

/// A client of one Nebius tenant, bound to one region or to all of them.
///
/// Implements [`CloudClient`], [`StopStartInstance`], [`InstanceTags`], [`MachineImage`] and
/// [`ModifyFirewall`] (a security group per instance).
#[derive(Clone)]
pub struct NebiusClient {
    shared: Arc<Shared>,
    location: String,
}

impl fmt::Debug for NebiusClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NebiusClient")
            .field("ref_id", &self.shared.config.ref_id)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// Region descriptions and countries Nebius documents.
fn region_info(name: &str) -> (String, &'static str) {
    let (description, country) = match name {
        "eu-north1" => ("Europe North 1 (Finland)", "FIN"),
        "eu-west1" => ("Europe West 1 (Netherlands)", "NLD"),
        "eu-west2" => ("Europe West 2 (Belgium)", "BEL"),
        "eu-west3" => ("Europe West 3 (Germany)", "DEU"),
        "eu-west4" => ("Europe West 4 (France)", "FRA"),
        "us-central1" => ("US Central 1 (Iowa)", "USA"),
        "us-east1" => ("US East 1 (Virginia)", "USA"),
        "us-west1" => ("US West 1 (California)", "USA"),
        "asia-east1" => ("Asia East 1 (Taiwan)", "TWN"),
        _ => return (format!("Nebius region {name}"), ""),
    };
    (description.to_owned(), country)
}

/// True when a cleanup step that failed this way may succeed if made again: a failure of the
/// service or the transport (a call cut by a closed connection included: see
/// `error::from_status`), or throttling, also once the driver's own attempts are used up.
fn cleanup_may_retry(error: &CloudError) -> bool {
    error.retry() != Retry::Never && error.kind().is_transient_failure()
}

/// True when a create that failed this way may have made its resource: its outcome is
/// unknown, or it was sent more than once (its idempotency key makes every attempt the same
/// create) and an earlier attempt may have been carried out, whatever the last one answered.
fn may_have_made(error: &CloudError) -> bool {
    error.outcome_unknown() || error.retry() == Retry::Exhausted
}

/// The name of a resource made for one instance: `<prefix>-<host label>-<8 hex>`, within the
/// 2–255 characters security groups allow.
fn resource_name(prefix: &str, hostname: &str) -> String {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let host: String = hostname.chars().take(48).collect();
    format!("{prefix}-{host}-{}", &suffix[..8])
}

impl NebiusClient {
    /// Deletes the boot disks and security groups that creates of this credential made and
    /// that no instance uses, once they are older than [`NebiusConfig::orphan_grace`], in
    /// every region of this client; returns how many were deleted.
    ///
    /// They are what a create or a terminate cut short by a fault, a timeout or a crash left
    /// behind: the instance that named them is gone or never was, so nothing else finds them.
    /// Every terminate runs this sweep for its instance's project; call it to sweep without
    /// one. It holds this process's create lock, so it never sees what a create here has made
    /// but not attached yet; the grace covers creates in other processes. A delete that fails
    /// is logged and left for a later sweep; a listing that fails fails the sweep.
    pub async fn sweep_orphaned_resources(&self) -> Result<usize> {
        let _guard = self.shared.create_lock.lock().await;
        let mut deleted = 0;
        for region in self.regions(&LocationsFilter::all()).await? {
            deleted += self.sweep_project(&region.project_id).await?;
        }
        Ok(deleted)
    }

    /// The sweep at the end of a terminate, best effort; skipped while a create of this
    /// process is under way (the next terminate, or an explicit sweep, does it).
    async fn sweep_after_terminate(&self, project: &str) {
        let Ok(_guard) = self.shared.create_lock.try_lock() else {
            tracing::debug!("a create is under way; the sweep waits for a later terminate");
            return;
        };
        if let Err(e) = self.sweep_project(project).await {
            tracing::warn!(error = %e, "could not sweep unused boot disks and security groups");
        }
    }

    async fn api(&self) -> Result<&Api> {
        self.shared.api().await
    }

    fn me(&self) -> &str {
        &self.shared.config.ref_id
    }

    /// The regions this client works in that pass `filter`.
    async fn regions(&self, filter: &LocationsFilter) -> Result<Vec<&Region>> {
        let all = self.shared.regions().await?;
        Ok(all
            .iter()
            .filter(|r| {
                (self.location.is_empty() || r.name == self.location) && filter.matches(&r.name)
            })
            .collect())
    }

    /// The region a create goes to: the requested location, else the client's, else the only
    /// region.
    async fn create_region(&self, location: &str) -> Result<&Region> {
        let all = self.shared.regions().await?;
        let names = || {
            all.iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !location.is_empty() && !self.location.is_empty() && location != self.location {
            return Err(CloudError::invalid(
                "location",
                format!(
                    "{location:?} differs from this client's region {:?}",
                    self.location
                ),
            ));
        }
        let wanted = if location.is_empty() {
            self.location.as_str()
        } else {
            location
        };
        if wanted.is_empty() {
            return match all {
                [only] => Ok(only),
                _ => Err(CloudError::invalid(
                    "location",
                    format!("give the region to create in: one of {}", names()),
                )),
            };
        }
        all.iter().find(|r| r.name == wanted).ok_or_else(|| {
            CloudError::invalid(
                "location",
                format!(
                    "{wanted:?} is not a region of this credential ({})",
                    names()
                ),
            )
        })
    }

    /// The region of a project of this credential.
    async fn region_of_project(&self, project: &str) -> Result<Option<&Region>> {
        Ok(self
            .shared
            .regions()
            .await?
            .iter()
            .find(|r| r.project_id == project))
    }

    /// The subnet new instances of `region` join: the project's first, by id.
    async fn subnet<'a>(&self, region: &'a Region) -> Result<&'a vpc::Subnet> {
        region
            .subnet
            .get_or_try_init(|| async {
                let mut subnets = self.api().await?.list_subnets(&region.project_id).await?;
                subnets.sort_by(|a, b| {
                    let id = |s: &vpc::Subnet| s.metadata.as_ref().map(|m| m.id.clone());
                    id(a).cmp(&id(b))
                });
                subnets.into_iter().next().ok_or_else(|| {
                    CloudError::configuration(format!(
                        "project {} ({}) has no subnet for instances",
                        region.project_id, region.name
                    ))
                })
            })
            .await
    }

    fn convert(&self, w: compute::Instance, region: &str) -> Instance {
        convert::instance(w, region, &self.shared.config.ssh_user)
    }

    fn owned(&self, w: &compute::Instance) -> bool {
        bookkeeping::is_marked_by(Self::credential_mark(w), self.me())
    }

    /// The credential mark `w` carries; empty when none.
    fn credential_mark(w: &compute::Instance) -> &str {
        convert::labels(w)
            .get(CRED_REF_ID_TAG)
            .map_or("", String::as_str)
    }

    /// This credential's live instance with `ref_id` in `region`: one on its way out is not it.
    async fn find_by_ref_id(
        &self,
        region: &Region,
        ref_id: &str,
    ) -> Result<Option<compute::Instance>> {
        let mut found = None;
        self.api()
            .await?
            .for_each_instance("create_instance", &region.project_id, |w| {
                if found.is_none()
                    && self.owned(&w)
                    && convert::labels(&w).get(REF_ID_TAG).map(String::as_str) == Some(ref_id)
                {
                    let state = w.status.as_ref().map(compute::InstanceStatus::state);
                    if !matches!(
                        state,
                        Some(
                            compute::instance_status::InstanceState::Deleting
                                | compute::instance_status::InstanceState::Error
                        )
                    ) {
                        found = Some(w);
                    }
                }
            })
            .await?;
        Ok(found)
    }

    /// The ingress rules of a security group, as the model reports them.
    async fn rules_of(&self, group: &str) -> Result<Vec<FirewallRule>> {
        Ok(self
            .api()
            .await?
            .list_security_rules(group)
            .await?
            .iter()
            .filter_map(convert::ingress_rule)
            .collect())
    }

    /// The security group gpucloud made for an instance.
    fn group_of(w: &compute::Instance) -> Option<String> {
        convert::security_group_ids(w).into_iter().next()
    }

    /// Makes the security group of a new instance: default-deny inbound, SSH, all outbound,
    /// and `ingress` (checked rules, with the field they came from).
    async fn make_group(
        &self,
        region: &Region,
        hostname: &str,
        labels: &std::collections::HashMap<String, String>,
        network_id: &str,
        create: &ValidCreate,
    ) -> Result<String> {
        let api = self.api().await?;
        let name = resource_name("gpucloud", hostname);
        let group = match api
            .create_security_group(&vpc::CreateSecurityGroupRequest {
                metadata: Some(common::ResourceMetadata {
                    parent_id: region.project_id.clone(),
                    name: name.clone(),
                    labels: labels.clone(),
                    ..common::ResourceMetadata::default()
                }),
                spec: Some(vpc::SecurityGroupSpec {
                    network_id: network_id.to_owned(),
                }),
            })
            .await
        {
            Ok(group) => group,
            Err(Failed { error, made }) => {
                // The name is this create's alone, so whatever holds it was made here: looked
                // up whatever the failure said, as an attempt before the last may have been
                // carried out with a refusal answered after it.
                let made = match made {
                    Some(group) => Some(group),
                    None => {
                        self.lost_create("security group", &name, || {
                            api.security_group_id_by_name(&region.project_id, &name)
                        })
                        .await
                    }
                };
                if let Some(group) = made {
                    self.undo(&[Undo::Group(group)]).await;
                }
                return Err(error);
            }
        };
        let mut specs = vec![convert::ssh_spec(), convert::egress_spec()];
        for (i, rule) in create.ingress_rules().iter().enumerate() {
            specs.extend(convert::ingress_specs(
                &format!("firewall_rules.ingress_rules[{i}]"),
                rule,
            )?);
        }
        if let Err(e) = self.add_rules(&group, specs).await {
            self.undo(&[Undo::Group(group.clone())]).await;
            return Err(e);
        }
        Ok(group)
    }

    async fn add_rules(
        &self,
        group: &str,
        specs: Vec<vpc::SecurityRuleSpec>,
    ) -> Result<Vec<String>> {
        let api = self.api().await?;
        let mut ids = Vec::with_capacity(specs.len());
        for spec in specs {
            let id = api
                .create_security_rule(&vpc::CreateSecurityRuleRequest {
                    metadata: Some(common::ResourceMetadata {
                        parent_id: group.to_owned(),
                        name: resource_name("rule", "gpucloud"),
                        ..common::ResourceMetadata::default()
                    }),
                    spec: Some(spec),
                })
                .await
                .map_err(|f| f.error)?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// What a create whose every answer was lost made, looked up by the name it gave it (the
    /// id is only in the lost answers): the id to delete, or `None` when there is none or the
    /// lookup failed too (logged: it stays).
    async fn lost_create<F, Fut>(&self, what: &str, name: &str, lookup: F) -> Option<String>
    where
        F: FnMut() -> Fut + Send,
        Fut: std::future::Future<Output = Result<Option<String>>> + Send,
    {
        match self.cleanup_step(lookup).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(%name, error = %e, "a {what} a failed create may have made could not be looked up; it may be left");
                None
            }
        }
    }

    /// Runs one cleanup step (a delete and the wait for it, or the read that settles a
    /// create) through core's [`cleanup_step`](gpucloud_core::retry::cleanup_step): made
    /// again while it fails in a way another attempt may not. Without it, a terminate whose
    /// cleanup failed, called again, finds the instance gone and no longer knows its disk and
    /// security group, which only the sweep finds then (the fault campaign, issue 14).
    async fn cleanup_step<T, F, Fut>(&self, step: F) -> Result<T>
    where
        F: FnMut() -> Fut + Send,
        Fut: std::future::Future<Output = Result<T>> + Send,
        T: Send,
    {
        gpucloud_core::retry::cleanup_step(
            self.shared.config.retry_backoff,
            cleanup_may_retry,
            step,
        )
        .await
    }

    /// Deletes a disk as a cleanup step; one already gone is what was wanted.
    async fn delete_disk(&self, api: &Api, id: &str) -> Result<()> {
        match self.cleanup_step(|| api.delete_disk(id)).await {
            Err(e) if !e.kind().is_not_found() => Err(e),
            _ => Ok(()),
        }
    }

    /// Deletes a security group as a cleanup step; one already gone is what was wanted.
    async fn delete_group(&self, api: &Api, id: &str) -> Result<()> {
        match self.cleanup_step(|| api.delete_security_group(id)).await {
            Err(e) if !e.kind().is_not_found() => Err(e),
            _ => Ok(()),
        }
    }

    /// Deletes the unused resources [`sweep::orphans`] finds in `project`; returns how many
    /// were deleted. A delete that fails is logged and left for a later sweep.
    async fn sweep_project(&self, project: &str) -> Result<usize> {
        const OP: &str = "sweep_orphaned_resources";
        let api = self.api().await?;
        let instances = async {
            let mut all = Vec::new();
            api.for_each_instance(OP, project, |w| all.push(w))
                .await
                .map(|()| all)
        };
        let (instances, disks, groups) = tokio::try_join!(
            instances,
            api.list_disks(project),
            api.list_security_groups(project)
        )?;
        let found = sweep::orphans(
            self.me(),
            &instances,
            &disks,
            &groups,
            self.shared.config.orphan_grace,
            SystemTime::now(),
        );
        let mut deleted = 0;
        let disks = found.disks.iter().map(|id| (true, id));
        let groups = found.groups.iter().map(|id| (false, id));
        for (is_disk, id) in disks.chain(groups) {
            let (what, result) = if is_disk {
                ("boot disk", self.delete_disk(api, id).await)
            } else {
                ("security group", self.delete_group(api, id).await)
            };
            match result {
                Ok(()) => {
                    tracing::info!(%id, "deleted a {what} no instance uses");
                    deleted += 1;
                }
                Err(e) => {
                    tracing::warn!(%id, error = %e, "could not delete a {what} no instance uses; a later sweep tries again");
                }
            }
        }
        Ok(deleted)
    }

    /// Deletes what a failed create made, newest first; failures are logged, as the create's
    /// own error is what the caller needs.
    async fn undo(&self, made: &[Undo]) {
        let Ok(api) = self.api().await else { return };
        for step in made.iter().rev() {
            let result = match step {
                Undo::Instance(id) => self.delete_and_wait(id).await,
                Undo::Group(id) => self.delete_group(api, id).await,
            };
            if let Err(e) = result {
                tracing::warn!(?step, error = %e, "could not undo a step of a failed create");
            }
        }
    }

    /// Deletes an instance and waits until it is gone. The delete is repeatable, so it is
    /// made again after a failure that another attempt may not meet; a read of the instance
    /// that fails that way while it is being deleted does not end the wait.
    async fn delete_and_wait(&self, id: &str) -> Result<()> {
        const OP: &str = "terminate_instance";
        let api = self.api().await?;
        match self.cleanup_step(|| api.delete_instance(id)).await {
            Err(e) if e.kind().is_not_found() => return Ok(()),
            other => other?,
        }
        let deadline = tokio::time::Instant::now() + self.shared.config.operation_timeout;
        loop {
            match api.get_instance(OP, id).await {
                Err(e) if e.kind().is_not_found() => return Ok(()),
                Err(e) if cleanup_may_retry(&e) && tokio::time::Instant::now() < deadline => {
                    tracing::debug!(instance = %id, error = %e, "reading a deleted instance failed; waiting on");
                    tokio::time::sleep(self.shared.config.poll_interval).await;
                }
                Err(e) => return Err(e),
                Ok(_) if tokio::time::Instant::now() >= deadline => {
                    return Err(CloudError::provider(
                        PROVIDER_ID,
                        OP,
                        ErrorKind::Timeout,
                        format!(
                            "instance {id} is still there {:?} after its delete",
                            self.shared.config.operation_timeout
                        ),
                    ));
                }
                Ok(_) => tokio::time::sleep(self.shared.config.poll_interval).await,
            }
        }
    }

    /// The instance made by a create, read back; when it failed at once (no capacity after
    /// the operation), the create fails with that and everything is deleted.
    async fn settle(&self, region: &Region, id: &str, made: &[Undo]) -> Result<Instance> {
        const OP: &str = "create_instance";
        let api = self.api().await?;
        let w = match self.cleanup_step(|| api.get_instance(OP, id)).await {
            Ok(w) => w,
            Err(e) => {
                // The instance exists and is labelled with its RefID: a failure here is an
                // outcome the caller must resolve, never a definite one it would not look into.
                tracing::warn!(instance = %id, error = %e, "created, but reading it back failed");
                return Err(CloudError::provider(
                    PROVIDER_ID,
                    OP,
                    e.kind(),
                    format!(
                        "instance {id} was created, but reading it back failed ({e}); create \
                         again with the same RefID to get it"
                    ),
                )
                .with_retry(Retry::Transient)
                .with_delivery(gpucloud_core::Delivery::Unknown)
                .with_source(e));
            }
        };
        if w.status.as_ref().map(compute::InstanceStatus::state)
            == Some(compute::instance_status::InstanceState::Error)
        {
            self.undo(made).await;
            return Err(CloudError::provider(
                PROVIDER_ID,
                OP,
                ErrorKind::InstanceFailed,
                format!("instance {id} went into ERROR right after its create; it was deleted"),
            ));
        }
        Ok(self.convert(w, &region.name))
    }

    /// Stop or start; a refusal for the instance's state is `Conflict` naming the state.
    async fn action(&self, operation: &'static str, verb: &str, id: &InstanceId) -> Result<()> {
        let api = self.api().await?;
        let result = match verb {
            "stop" => api.stop_instance(id.as_str()).await,
            _ => api.start_instance(id.as_str()).await,
        };
        match result {
            Err(error) if error.kind() == ErrorKind::Conflict => {
                let state = match api.get_instance(operation, id.as_str()).await {
                    Ok(w) => {
                        let spec_stopped = w.spec.as_ref().is_some_and(|s| s.stopped);
                        let state = w.status.as_ref().map_or(
                            compute::instance_status::InstanceState::Unspecified,
                            compute::InstanceStatus::state,
                        );
                        convert::lifecycle(state, spec_stopped).to_string()
                    }
                    Err(_) => "in a state that does not allow it".to_owned(),
                };
                Err(CloudError::provider(
                    PROVIDER_ID,
                    operation,
                    ErrorKind::Conflict,
                    format!("instance {id} is {state}: nebius cannot {verb} it now"),
                )
                .with_source(error))
            }
            other => other,
        }
    }

    /// The calculator's hourly prices of `presets` in `region`, by type name (none asked:
    /// none sent).
    async fn estimate(
        &self,
        region: &Region,
        presets: &[Preset],
    ) -> Result<BTreeMap<String, Price>> {
        if presets.is_empty() {
            return Ok(BTreeMap::new());
        }
        let answer = self
            .api()
            .await?
            .estimate_instances(&region.project_id, presets)
            .await?;
        Ok(pricing::hourly_prices(presets, &answer))
    }

    /// Refuses a spot create on a platform that allows no preemptible instances (or is not
    /// offered in `region`) before anything is made.
    async fn check_spot(&self, api: &Api, region: &Region, platform: &str) -> Result<()> {
        let platforms = api.list_platforms(&region.project_id).await?;
        let listed = platforms
            .iter()
            .find(|p| p.metadata.as_ref().is_some_and(|m| m.name == platform));
        match listed {
            Some(p)
                if p.status
                    .as_ref()
                    .is_some_and(|s| s.allowed_for_preemptibles) =>
            {
                Ok(())
            }
            Some(_) => Err(CloudError::invalid(
                "use_spot",
                format!("Nebius platform {platform} does not allow preemptible (spot) instances"),
            )),
            None => Err(CloudError::invalid(
                "instance_type",
                format!("Nebius offers no platform {platform} in {}", region.name),
            )),
        }
    }

    /// A region's platforms, quota (without a tenant) and prices. The prices are asked for
    /// while the platforms are listed (see [`pricing`]); what that early estimate did not
    /// ask for is asked next, and a failed estimate leaves prices unknown (logged), never
    /// invented.
    async fn region_catalog(
        &self,
        region: &Region,
        tenant: &str,
    ) -> Result<(
        Vec<compute::Platform>,
        Option<Allowances>,
        BTreeMap<String, Price>,
    )> {
        let api = self.api().await?;
        let platforms = api.list_platforms(&region.project_id);
        let own_allowances = async {
            if tenant.is_empty() {
                let allowances = api.list_quota_allowances(&region.project_id).await?;
                Ok::<_, CloudError>(Some(Allowances::new(&allowances)))
            } else {
                Ok(None)
            }
        };
        let guessed = self.shared.presets.guess(&region.name);
        let early = self.estimate(region, &guessed);
        let (listing, early) =
            futures::join!(futures::future::try_join(platforms, own_allowances), early);
        let (platforms, own_allowances) = listing?;
        let listed = pricing::presets_of(&platforms);
        self.shared.presets.remember(&region.name, &listed);
        let (mut prices, asked) = match early {
            Ok(prices) => (prices, Some(guessed.as_slice())),
            Err(e) => {
                tracing::debug!(region = %region.name, error = %e, "early price estimate failed; asking for the listed presets");
                (BTreeMap::new(), None)
            }
        };
        let rest = pricing::not_asked(&listed, asked);
        match self.estimate(region, &rest).await {
            Ok(more) => prices.extend(more),
            Err(e) => {
                tracing::warn!(region = %region.name, error = %e, "price estimates failed; prices are unknown");
            }
        }
        Ok((platforms, own_allowances, prices))
    }
}

/// A step of a create, undone when a later one fails.
#[derive(Debug)]
enum Undo {
    Group(String),
    Instance(String),
}

#[async_trait]
impl CloudClient for NebiusClient {
    fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn capability_table(&self) -> CapabilityTable<'_> {
        CapabilityTable {
            stop_start: Some(self),
            machine_image: Some(self),
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
            image: true,
            disk_size: true,
            spot: true,
            ..CreateFeatures::default()
        }
    }

    /// The regions where the credential has a project.
    async fn locations(&self, _args: GetLocationsArgs) -> Result<Vec<Location>> {
        Ok(self
            .regions(&LocationsFilter::all())
            .await?
            .into_iter()
            .map(|r| {
                let (description, country) = region_info(&r.name);
                Location {
                    name: r.name.clone(),
                    description,
                    available: true,
                    country: country.to_owned(),
                    ..Location::default()
                }
            })
            .collect())
    }

    async fn instance_types(&self, args: &GetInstanceTypeArgs) -> Result<Vec<InstanceType>> {
        let api = self.api().await?;
        let parent = self.shared.quota_tenant().await?;
        // The tenant's quota while the regions are looked up and read, each region's platforms,
        // quota and prices at once (see `region_catalog`).
        let tenant_allowances = async {
            if parent.is_empty() {
                Ok(None)
            } else {
                let allowances = api.list_quota_allowances(parent).await?;
                Ok::<_, CloudError>(Some(Allowances::new(&allowances)))
            }
        };
        let per_region = async {
            let regions = self.regions(&args.locations).await?;
            futures::future::try_join_all(regions.into_iter().map(|region| async move {
                let (platforms, own_allowances, prices) =
                    self.region_catalog(region, parent).await?;
                Ok::<_, CloudError>((region, platforms, own_allowances, prices))
            }))
            .await
        };
        let (tenant_allowances, per_region) = futures::try_join!(tenant_allowances, per_region)?;
        let mut out = Vec::new();
        for (region, platforms, own_allowances, prices) in per_region {
            let allowances = own_allowances
                .or_else(|| tenant_allowances.clone())
                .unwrap_or_default();
            for platform in &platforms {
                out.extend(convert::instance_types(
                    &region.name,
                    platform,
                    &allowances,
                    |name, spot| prices.get(&pricing::price_key(name, spot)).cloned(),
                ));
            }
        }
        Ok(args.apply(out))
    }

    async fn create_instance(&self, create: ValidCreate) -> Result<Instance> {
        const OP: &str = "create_instance";
        let attrs = create.attrs();
        let region = self.create_region(&attrs.location).await?;
        let Some((platform, preset)) = convert::split_type_name(&attrs.instance_type) else {
            return Err(CloudError::invalid(
                "instance_type",
                format!(
                    "{:?} is not a Nebius type: <platform>.<preset>, as `gpucloud types` lists",
                    attrs.instance_type
                ),
            ));
        };
        let hostname = create.hostname().to_owned();
        let fingerprint = create.public_key().fingerprint_sha256();
        // The per-instance security group filters inbound traffic, and can change after
        // create; the host firewall of the bootstrap is opened fully so it never contradicts it.
        let open = FirewallRule::range(1, u16::MAX, Vec::new());
        let user_data = Bootstrap::new(&self.shared.config.ssh_user, &attrs.public_key)?
            .with_ingress_rules(std::slice::from_ref(&open))?
            .with_user_data(create.user_data().unwrap_or_default())?
            .render();
        let user_data = String::from_utf8(user_data).map_err(|_| {
            CloudError::invalid(
                "user_data_base64",
                "Nebius takes cloud-init user data as text",
            )
        })?;
        let labels: std::collections::HashMap<String, String> = Bookkeeping {
            ref_id: attrs.ref_id.clone(),
            cred_ref_id: self.me().to_owned(),
            created_at: None,
        }
        .encode_with(create.tags())
        .into_iter()
        .collect();
        let disk_gib = if attrs.disk_size_bytes.is_zero() {
            i64::from(self.shared.config.boot_disk_gib)
        } else {
            let bytes = attrs.disk_size_bytes.byte_count();
            i64::try_from((bytes + (1 << 30) - 1) / (1 << 30)).map_err(|_| {
                CloudError::invalid("disk_size_bytes", "too large for a Nebius disk")
            })?
        };

        let _guard = self.shared.create_lock.lock().await;
        if let Some(existing) = self.find_by_ref_id(region, &attrs.ref_id).await? {
            let mut instance = self.convert(existing, &region.name);
            instance.pub_key_fingerprint = fingerprint;
            return Ok(instance);
        }
        let api = self.api().await?;
        // Everything that can be refused without creating anything comes first.
        if attrs.use_spot {
            self.check_spot(api, region, platform).await?;
        }
        let image = if attrs.image_id.is_empty() {
            api.latest_image(&self.shared.config.image_family, &region.project_id)
                .await?
        } else {
            api.get_image(&attrs.image_id).await.map_err(|e| {
                if e.kind().is_not_found() {
                    CloudError::invalid("image_id", format!("no Nebius image {:?}", attrs.image_id))
                        .with_source(e)
                } else {
                    e
                }
            })?
        };
        let image_id = image
            .metadata
            .as_ref()
            .map(|m| m.id.clone())
            .unwrap_or_default();
        let subnet = self.subnet(region).await?;
        let subnet_id = subnet
            .metadata
            .as_ref()
            .map(|m| m.id.clone())
            .unwrap_or_default();
        let network_id = subnet
            .spec
            .as_ref()
            .map(|s| s.network_id.clone())
            .unwrap_or_default();

        let mut made = Vec::new();
        let group = self
            .make_group(region, &hostname, &labels, &network_id, &create)
            .await?;
        made.push(Undo::Group(group.clone()));
        // The boot disk is the instance's managed disk: made with it, deleted with it, so a
        // failed or lost create leaves no disk of its own to find and roll back (DESIGN.md).
        let boot_disk = compute::ManagedDisk {
            name: resource_name("boot", &hostname),
            labels: labels.clone(),
            spec: Some(compute::DiskSpec {
                size: Some(compute::disk_spec::Size::SizeGibibytes(disk_gib)),
                r#type: compute::disk_spec::DiskType::NetworkSsd as i32,
                source: Some(compute::disk_spec::Source::SourceImageId(image_id.clone())),
                ..compute::DiskSpec::default()
            }),
        };
        let request = compute::CreateInstanceRequest {
            metadata: Some(common::ResourceMetadata {
                parent_id: region.project_id.clone(),
                name: if attrs.name.trim().is_empty() {
                    attrs.ref_id.clone()
                } else {
                    attrs.name.clone()
                },
                labels,
                ..common::ResourceMetadata::default()
            }),
            spec: Some(compute::InstanceSpec {
                resources: Some(compute::ResourcesSpec {
                    platform: platform.to_owned(),
                    size: Some(compute::resources_spec::Size::Preset(preset.to_owned())),
                }),
                network_interfaces: vec![compute::NetworkInterfaceSpec {
                    subnet_id,
                    name: "eth0".to_owned(),
                    ip_address: Some(compute::IpAddress::default()),
                    public_ip_address: Some(compute::PublicIpAddress::default()),
                    security_groups: vec![compute::SecurityGroup { id: group.clone() }],
                    ..compute::NetworkInterfaceSpec::default()
                }],
                boot_disk: Some(compute::AttachedDiskSpec {
                    attach_mode: compute::attached_disk_spec::AttachMode::ReadWrite as i32,
                    r#type: Some(compute::attached_disk_spec::Type::ManagedDisk(boot_disk)),
                    device_id: "boot".to_owned(),
                }),
                cloud_init_user_data: user_data,
                hostname,
                preemptible: attrs.use_spot.then(convert::preemptible),
                ..compute::InstanceSpec::default()
            }),
        };
        let id = match api.create_instance(&request).await {
            Ok(id) => id,
            // The operation failed but names the instance: delete it with the rest.
            Err(Failed {
                error,
                made: Some(id),
            }) => {
                made.push(Undo::Instance(id));
                self.undo(&made).await;
                return Err(error);
            }
            Err(Failed { error, made: None }) if may_have_made(&error) => {
                // The create may have happened: the RefID says (core's one rule). Never create
                // again here.
                tracing::info!(ref_id = %attrs.ref_id, %error, "create outcome unknown; looking the instance up");
                let budget = ResolveBudget::with_initial_backoff(self.shared.config.retry_backoff);
                let unknown = UnknownCreate {
                    provider: PROVIDER_ID,
                    operation: OP,
                    ref_id: &attrs.ref_id,
                    error,
                };
                // Still unknown (`?`): what was made stays, findable by its RefID label; a
                // create with the same RefID resolves it.
                match resolve_unknown_create(&budget, unknown, || {
                    self.find_by_ref_id(region, &attrs.ref_id)
                })
                .await?
                {
                    Resolved::Found(found) => {
                        let id = found
                            .metadata
                            .as_ref()
                            .map(|m| m.id.clone())
                            .unwrap_or_default();
                        made.push(Undo::Instance(id.clone()));
                        let mut instance = self.settle(region, &id, &made).await?;
                        instance.pub_key_fingerprint = fingerprint;
                        return Ok(instance);
                    }
                    Resolved::Absent(error) => {
                        self.undo(&made).await;
                        return Err(error);
                    }
                }
            }
            Err(Failed { error, made: None }) => {
                self.undo(&made).await;
                return Err(error);
            }
        };
        made.push(Undo::Instance(id.clone()));
        let mut instance = self.settle(region, &id, &made).await?;
        instance.pub_key_fingerprint = fingerprint;
        instance.firewall_rules = FirewallRules {
            ingress_rules: self.rules_of(&group).await.unwrap_or_default(),
            egress_rules: Vec::new(),
        };
        Ok(instance)
    }

    async fn get_instance(&self, id: &InstanceId) -> Result<Instance> {
        const OP: &str = "get_instance";
        let api = self.api().await?;
        let w = api.get_instance(OP, id.as_str()).await?;
        let project = w.metadata.as_ref().map_or("", |m| m.parent_id.as_str());
        let Some(region) = self.region_of_project(project).await? else {
            return Err(CloudError::instance_not_found(PROVIDER_ID, OP, id.as_str()));
        };
        if !self.location.is_empty() && region.name != self.location {
            return Err(CloudError::instance_not_found(PROVIDER_ID, OP, id.as_str()));
        }
        let group = Self::group_of(&w);
        let mut instance = self.convert(w, &region.name);
        if let Some(group) = group {
            instance.firewall_rules.ingress_rules = self.rules_of(&group).await?;
        }
        Ok(instance)
    }

    /// This credential's instances (or the account's, by `args.scope`); firewall rules are reported by `get_instance` only (one
    /// more call per instance).
    async fn list_instances(&self, args: &ListInstancesArgs) -> Result<Vec<Instance>> {
        const OP: &str = "list_instances";
        let api = self.api().await?;
        let mut out = Vec::new();
        for region in self.regions(&args.locations).await? {
            api.for_each_instance(OP, &region.project_id, |w| {
                if args.keeps_mark(Self::credential_mark(&w), self.me()) {
                    let instance = self.convert(w, &region.name);
                    if args.matches(&instance) {
                        out.push(instance);
                    }
                }
            })
            .await?;
        }
        Ok(out)
    }

    async fn terminate_instance(&self, id: &InstanceId) -> Result<()> {
        const OP: &str = "terminate_instance";
        let api = self.api().await?;
        let w = match api.get_instance(OP, id.as_str()).await {
            Ok(w) => w,
            Err(e) if e.kind().is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        let disk = convert::boot_disk_id(&w).map(str::to_owned);
        let group = Self::group_of(&w);
        let project = w
            .metadata
            .as_ref()
            .map(|m| m.parent_id.clone())
            .unwrap_or_default();
        self.delete_and_wait(id.as_str()).await?;
        // The instance is gone: a terminate called again would not find these any more, so a
        // failure names what is left.
        let left = |what: &str, rid: &str, e: CloudError| {
            CloudError::provider(
                PROVIDER_ID,
                OP,
                e.kind(),
                format!("instance {id} is deleted, but its {what} {rid} is left: {e}"),
            )
            .with_retry(e.retry())
            .with_source(e)
        };
        // Both are tried whatever the other's fate: each left is one a later call cannot find.
        let disk = match disk {
            Some(disk) => self
                .delete_disk(api, &disk)
                .await
                .map_err(|e| left("boot disk", &disk, e)),
            None => Ok(()),
        };
        let group = match group {
            Some(group) => self
                .delete_group(api, &group)
                .await
                .map_err(|e| left("security group", &group, e)),
            None => Ok(()),
        };
        // What earlier terminates or creates of this credential left in the project goes too.
        self.sweep_after_terminate(&project).await;
        disk.and(group)
    }
}

#[async_trait]
impl StopStartInstance for NebiusClient {
    async fn stop_instance(&self, id: &InstanceId) -> Result<()> {
        self.action("stop_instance", "stop", id).await
    }

    async fn start_instance(&self, id: &InstanceId) -> Result<()> {
        self.action("start_instance", "start", id).await
    }
}

#[async_trait]
impl InstanceTags for NebiusClient {
    /// Replaces the user's labels, keeping gpucloud's bookkeeping labels.
    async fn update_instance_tags(&self, args: &ValidTagUpdate) -> Result<()> {
        const OP: &str = "update_instance_tags";
        let api = self.api().await?;
        let w = api.get_instance(OP, args.instance_id().as_str()).await?;
        let Some(mut metadata) = w.metadata.clone() else {
            return Err(error::decode(OP, "the instance has no metadata"));
        };
        let (bookkeeping, _) = Bookkeeping::decode(metadata.labels.clone());
        metadata.labels = bookkeeping.encode_with(args.tags()).into_iter().collect();
        api.update_instance(&compute::UpdateInstanceRequest {
            metadata: Some(metadata),
            spec: w.spec,
        })
        .await
    }
}

#[async_trait]
impl MachineImage for NebiusClient {
    /// The public images of the client's regions.
    async fn images(&self, args: &GetImageArgs) -> Result<Vec<Image>> {
        let api = self.api().await?;
        let mut out: Vec<Image> = Vec::new();
        for region in self.regions(&LocationsFilter::all()).await? {
            for w in api.list_public_images(&region.name).await? {
                let image = convert::image(&w, "nebius");
                if args.matches(&image) && !out.iter().any(|i| i.id == image.id) {
                    out.push(image);
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl ModifyFirewall for NebiusClient {
    /// Adds the rules not already in the instance's security group; none missing is success.
    async fn add_firewall_rules(&self, args: &ValidFirewallAdd) -> Result<()> {
        const OP: &str = "add_firewall_rules";
        let api = self.api().await?;
        let w = api.get_instance(OP, args.instance_id().as_str()).await?;
        let Some(group) = Self::group_of(&w) else {
            return Err(CloudError::provider(
                PROVIDER_ID,
                OP,
                ErrorKind::Conflict,
                format!(
                    "instance {} has no security group gpucloud can change",
                    args.instance_id()
                ),
            ));
        };
        let existing = self.rules_of(&group).await?;
        let mut specs = Vec::new();
        for (i, rule) in missing_rules(&existing, args.ingress_rules())
            .into_iter()
            .enumerate()
        {
            specs.extend(convert::ingress_specs(
                &format!("firewall_rules.ingress_rules[{i}]"),
                rule,
            )?);
        }
        self.add_rules(&group, specs).await.map(drop)
    }

    /// Removes rules of the instance's security group by id; ids not in it are ignored, so
    /// another instance's rule is never touched.
    async fn revoke_firewall_rules(&self, args: &ValidFirewallRevoke) -> Result<()> {
        const OP: &str = "revoke_firewall_rules";
        let api = self.api().await?;
        let w = api.get_instance(OP, args.instance_id().as_str()).await?;
        let Some(group) = Self::group_of(&w) else {
            return Ok(());
        };
        let present: Vec<String> = api
            .list_security_rules(&group)
            .await?
            .into_iter()
            .filter_map(|r| r.metadata.map(|m| m.id))
            .collect();
        for id in args.rule_ids() {
            if present.contains(id) {
                api.delete_security_rule(id).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpucloud_core::{Capability, CloudClientExt};
    use secrecy::SecretString;

    fn credential() -> NebiusCredential {
        NebiusCredential::new(
            NebiusConfig::new(crate::NebiusAuth::Token(SecretString::from(
                "iam-secret".to_owned(),
            )))
            .with_project("eu-north1", "project-e00a")
            .with_api_endpoint("http://127.0.0.1:9")
            .with_ref_id("cred-1"),
        )
        .unwrap()
    }

    #[test]
    fn capabilities_are_declared_exactly() {
        let client = credential().client("eu-north1");
        let caps = client.capabilities();
        for c in [
            Capability::CreateInstance,
            Capability::TerminateInstance,
            Capability::CreateIdempotentInstance,
            Capability::InstanceUserData,
            Capability::StopStartInstance,
            Capability::MachineImage,
            Capability::ModifyFirewall,
            Capability::Tags,
        ] {
            assert!(caps.contains(c), "{c:?}");
        }
        assert!(!caps.contains(Capability::RebootInstance));
        assert!(!caps.contains(Capability::ResizeInstanceVolume));
        assert!(client.reboot().is_err());
        let features = client.create_features();
        assert!(features.firewall_rules && features.disk_size && features.image);
        assert!(features.spot && !features.egress_filtering);
    }

    #[test]
    fn the_identity_hides_secrets_and_is_shared() {
        let cred = credential();
        assert!(cred.identity().tenant_id().starts_with("nebius-"));
        assert_eq!(cred.identity().api_type(), ApiType::Locational);
        assert_eq!(cred.identity().reference_id(), "cred-1");
        assert!(!format!("{cred:?}").contains("iam-secret"));
        assert!(!format!("{:?}", cred.client("")).contains("iam-secret"));
        assert_eq!(cred.client("x").identity(), cred.identity());
        assert_eq!(cred.token_exchanges(), 0);
    }

    fn project(id: &str, name: &str, region: &str) -> iam2::Project {
        iam2::Project {
            metadata: Some(common::ResourceMetadata {
                id: id.into(),
                name: name.into(),
                ..Default::default()
            }),
            spec: Some(iam2::ProjectSpec {
                region: region.into(),
            }),
            status: None,
        }
    }

    fn tenant(id: &str, name: &str) -> iam2::Tenant {
        iam2::Tenant {
            metadata: Some(common::ResourceMetadata {
                id: id.into(),
                name: name.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_one_tenant_seen_is_chosen_and_several_or_none_are_named() {
        assert_eq!(
            choose_tenant(&[tenant("tenant-e00a", "acme"), iam2::Tenant::default()]).unwrap(),
            "tenant-e00a"
        );
        let several =
            choose_tenant(&[tenant("tenant-e00a", "acme"), tenant("tenant-e00b", "")]).unwrap_err();
        assert_eq!(several.kind(), ErrorKind::Configuration, "{several}");
        let text = several.to_string();
        for part in ["2 tenants", "tenant-e00a (acme)", "tenant-e00b", TENANT_ENV] {
            assert!(text.contains(part), "{part}: {text}");
        }
        let none = choose_tenant(&[]).unwrap_err();
        assert!(none.to_string().contains(TENANT_ENV), "{none}");
    }

    #[test]
    fn a_found_tenant_is_saved_and_reused_by_a_credential_that_configures_none() {
        let unconfigured = || {
            NebiusCredential::new(
                NebiusConfig::new(crate::NebiusAuth::Token(SecretString::from(
                    "iam-secret".to_owned(),
                )))
                .with_api_endpoint("http://127.0.0.1:9"),
            )
            .unwrap()
        };
        let saved = r#"{"tenant":"tenant-a","projects":{"eu-north1":"project-e00a"}}"#;
        let found = unconfigured();
        assert_ne!(
            found.identity().tenant_id(),
            credential().identity().tenant_id()
        );
        assert!(!found.identity().tenant_id().contains("iam-secret"));
        found.reuse_discovery(saved);
        assert_eq!(found.discovery().as_deref(), Some(saved));
        assert_eq!(
            found.shared.tenant.get().map(String::as_str),
            Some("tenant-a")
        );
        let without_tenant = unconfigured();
        without_tenant.reuse_discovery(r#"{"tenant":"","projects":{"eu-north1":"project-e00a"}}"#);
        assert_eq!(without_tenant.discovery(), None);
    }

    #[test]
    fn projects_are_chosen_per_region_by_name_then_id() {
        let projects = [
            project("project-e00z", "default-project-eu-north1", "eu-north1"),
            project("project-e00a", "scratch", "eu-north1"),
            project("project-u00b", "b", "us-central1"),
            project("project-u00a", "a", "us-central1"),
            project("project-x", "no region", ""),
        ];
        assert_eq!(
            choose_projects(&projects),
            [
                ("eu-north1".to_owned(), "project-e00z".to_owned()),
                ("us-central1".to_owned(), "project-u00a".to_owned())
            ]
        );
    }

    #[test]
    fn saved_projects_are_reused_only_by_a_credential_of_the_same_tenant_that_looks_them_up() {
        let by_tenant = |tenant: &str| {
            NebiusCredential::new(
                NebiusConfig::new(crate::NebiusAuth::Token(SecretString::from(
                    "iam-secret".to_owned(),
                )))
                .with_tenant(tenant)
                .with_api_endpoint("http://127.0.0.1:9"),
            )
            .unwrap()
        };
        let saved = r#"{"tenant":"tenant-a","projects":{"eu-north1":"project-e00a"}}"#;
        let other = by_tenant("tenant-b");
        other.reuse_discovery(saved);
        assert_eq!(
            other.discovery(),
            None,
            "another tenant's projects are ignored"
        );
        let configured = credential();
        configured.reuse_discovery(saved);
        assert_eq!(
            configured.discovery(),
            None,
            "configured projects are not discovered"
        );
        let same = by_tenant("tenant-a");
        same.reuse_discovery("not json");
        assert_eq!(same.discovery(), None);
        same.reuse_discovery(saved);
        assert_eq!(same.discovery().as_deref(), Some(saved));
        assert!(!same.discovery().unwrap().contains("iam-secret"));
    }

    #[test]
    fn a_cleanup_step_cut_by_a_closed_connection_is_made_again() {
        // tonic's answer for a call whose HTTP/2 connection closed under it.
        let cut = error::from_status(
            "delete_disk",
            &tonic::Status::cancelled("operation was canceled"),
        );
        assert!(cleanup_may_retry(&cut), "{cut}");
        let refused = CloudError::provider(
            PROVIDER_ID,
            "delete_disk",
            ErrorKind::PermissionDenied,
            "denied",
        );
        assert!(!cleanup_may_retry(&refused));
    }

    #[test]
    fn resource_names_fit_nebius_rules() {
        let name = resource_name("gpucloud", &"x".repeat(63));
        assert!(name.len() <= 255 && name.starts_with("gpucloud-"));
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[tokio::test]
    async fn a_create_in_a_region_not_configured_is_refused_before_any_request() {
        let client = credential().client("");
        let err = client.create_region("us-central1").await.unwrap_err();
        assert!(
            matches!(err, CloudError::InvalidArgument { ref field, .. } if field == "location"),
            "{err}"
        );
        assert_eq!(client.create_region("").await.unwrap().name, "eu-north1");
        let bound = credential().client("eu-north1");
        assert!(bound.create_region("eu-west1").await.is_err());
    }
}

/// What the fault campaign (issue 14) found in the create and terminate paths, each against
/// the fake with the faults that met it.
#[cfg(test)]
mod campaign_findings {
    use std::time::Duration;

    use gpucloud_core::{CreateInstanceAttrs, validate_and_create};
    use gpucloud_fakes::kit::Fault;
    use gpucloud_fakes::nebius::{FakeNebius, FakeNebiusOptions, Operation};
    use secrecy::SecretString;

    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@host";

    async fn fake() -> FakeNebius {
        FakeNebius::start(FakeNebiusOptions {
            regions: vec!["eu-north1".to_owned()],
            ..FakeNebiusOptions::default().with_delays(Duration::from_millis(10))
        })
        .await
        .expect("the fake starts")
    }

    fn client(fake: &FakeNebius) -> NebiusClient {
        let token = SecretString::from(fake.iam_token().unwrap_or_default().to_owned());
        NebiusCredential::new(
            NebiusConfig::new(crate::NebiusAuth::Token(token))
                .with_tenant(fake.tenant_id())
                .with_api_endpoint(fake.endpoint())
                .with_operation_wait(Duration::from_secs(10), Duration::from_millis(5))
                .with_retry_backoff(Duration::from_millis(1))
                .with_request_timeout(Duration::from_secs(5))
                .with_ref_id("cred-faults"),
        )
        .expect("a valid configuration")
        .client("")
    }

    fn attrs(ref_id: &str) -> CreateInstanceAttrs {
        CreateInstanceAttrs {
            ref_id: ref_id.to_owned(),
            instance_type: "gpu-h100-sxm.1gpu-16vcpu-200gb".to_owned(),
            location: "eu-north1".to_owned(),
            public_key: KEY.to_owned(),
            ..CreateInstanceAttrs::default()
        }
    }

    /// Disks and security groups in the fake, not counting disks being deleted.
    fn leftovers(fake: &FakeNebius) -> (usize, usize) {
        let disks = fake
            .state()
            .disks()
            .iter()
            .filter(|d| d.state != gpucloud_fakes::nebius::DiskState::Deleting)
            .count();
        (disks, fake.state().security_groups().len())
    }

    /// Every attempt of one call fails (resets, the driver's 4 attempts), so the call fails
    /// with its attempts used up; a cleanup step is made again after that.
    fn fail_one_call(fake: &FakeNebius, operation: Operation) {
        fake.state()
            .set_fault_for(operation, Fault::ConnectionReset { times: 4 });
    }

    /// Every call of `operation` fails (503), however often it is made again.
    fn fail_every_call(fake: &FakeNebius, operation: Operation) {
        fake.state().set_fault_for(
            operation,
            Fault::ServerError {
                status: 503,
                times: 1000,
            },
        );
    }

    #[tokio::test]
    async fn a_terminate_whose_cleanup_meets_a_failed_call_still_deletes_the_group() {
        let fake = fake().await;
        let client = client(&fake);
        let created = validate_and_create(&client, &attrs("t1")).await.unwrap();
        assert_eq!(leftovers(&fake), (1, 1));
        fail_one_call(&fake, Operation::DeleteSecurityGroup);
        client.terminate_instance(&created.cloud_id).await.unwrap();
        assert_eq!(leftovers(&fake), (0, 0), "{:?}", fake.state().disks());
    }

    /// A terminate that could not delete the security group leaves it with nothing pointing at
    /// it (a terminate called again finds the instance gone): the sweep deletes it once it is
    /// past the grace, and every later terminate sweeps too.
    #[tokio::test]
    async fn what_a_terminate_left_is_swept_after_the_grace() {
        let fake = fake().await;
        let client = client(&fake);
        let first = validate_and_create(&client, &attrs("s1")).await.unwrap();
        let second = validate_and_create(&client, &attrs("s2")).await.unwrap();
        fail_every_call(&fake, Operation::DeleteSecurityGroup);
        let err = client
            .terminate_instance(&first.cloud_id)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("security group"), "{err}");
        fake.state().clear_faults();
        client.terminate_instance(&first.cloud_id).await.unwrap();
        assert_eq!(
            leftovers(&fake),
            (1, 2),
            "the first disk went with its instance, its group is left"
        );

        // Within the default grace (15 minutes) the group may be a create's still under way.
        assert_eq!(client.sweep_orphaned_resources().await.unwrap(), 0);
        assert_eq!(leftovers(&fake), (1, 2));

        let no_grace = NebiusCredential::new(
            client
                .shared
                .config
                .clone()
                .with_orphan_grace(Duration::ZERO),
        )
        .unwrap()
        .client("");
        no_grace.terminate_instance(&second.cloud_id).await.unwrap();
        assert_eq!(leftovers(&fake), (0, 0), "{:?}", fake.state().disks());
        assert_eq!(no_grace.sweep_orphaned_resources().await.unwrap(), 0);
    }

    /// A create of a security group whose every answer was lost, one of them after the fake
    /// made it: the failed create finds it by its name and deletes it.
    #[tokio::test]
    async fn what_a_create_made_while_every_answer_was_lost_is_found_by_name_and_deleted() {
        for operation in [Operation::CreateSecurityGroup] {
            let fake = fake().await;
            let state = fake.state();
            // Replacing faults come first: three resets, then the fourth attempt is carried
            // out and its answer lost.
            state.set_fault_for(operation, Fault::ConnectionReset { times: 3 });
            state.set_fault(Fault::CommitThenDropResponse {
                operation,
                times: 1,
            });
            let err = validate_and_create(&client(&fake), &attrs("lost"))
                .await
                .unwrap_err();
            assert!(err.outcome_unknown(), "{operation:?}: {err}");
            assert!(state.instances().is_empty());
            assert_eq!(leftovers(&fake), (0, 0), "{operation:?}: {err}");
        }
    }

    /// The first attempt of a create is carried out and its answer lost; the driver sends it
    /// again with the same idempotency key, and every later attempt is throttled, a definite
    /// answer of its own. The first attempt's resource exists all the same: a group is found
    /// by name and deleted, an instance (with its managed boot disk) by its RefID and returned.
    #[tokio::test]
    async fn a_create_sent_again_and_refused_may_still_have_made_its_resource() {
        for (operation, path) in [
            (
                Operation::CreateSecurityGroup,
                "/nebius.vpc.v1.SecurityGroupService/Create",
            ),
            (
                Operation::CreateInstance,
                "/nebius.compute.v1.InstanceService/Create",
            ),
        ] {
            let fake = fake().await;
            let state = fake.state().clone();
            // Held before it runs, so the throttling is set after the first attempt's fault
            // is decided (a throttle set first would win over commit-then-drop).
            state.set_fault_for(operation, Fault::Latency(Duration::from_millis(150)));
            state.set_fault(Fault::CommitThenDropResponse {
                operation,
                times: 1,
            });
            let client = client(&fake);
            let create =
                tokio::spawn(async move { validate_and_create(&client, &attrs("refused")).await });
            while state.requests().count("POST", path) == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            state.set_fault_for(
                operation,
                Fault::RateLimited {
                    retry_after_secs: 0,
                    times: 3,
                },
            );
            let result = create.await.expect("no panic");
            state.clear_faults();
            if operation == Operation::CreateInstance {
                let instance = result.expect("the instance made is found by its RefID");
                assert_eq!(instance.ref_id, "refused");
                assert_eq!(state.instances().len(), 1);
                assert_eq!(leftovers(&fake), (1, 1));
            } else {
                let err = result.expect_err("the create fails");
                assert!(state.instances().is_empty());
                assert_eq!(leftovers(&fake), (0, 0), "{operation:?}: {err}");
            }
        }
    }

    #[tokio::test]
    async fn a_created_instance_that_cannot_be_read_back_is_an_unknown_outcome() {
        let fake = fake().await;
        fake.state().set_fault_for(
            Operation::GetInstance,
            Fault::ServerError {
                status: 503,
                times: 1000,
            },
        );
        let err = validate_and_create(&client(&fake), &attrs("unread"))
            .await
            .unwrap_err();
        assert!(err.outcome_unknown(), "{err}");
        fake.state().clear_faults();
        let resolved = validate_and_create(&client(&fake), &attrs("unread"))
            .await
            .expect("creating again with the same RefID resolves it");
        assert_eq!(fake.state().instances().len(), 1);
        assert_eq!(resolved.ref_id, "unread");
        assert_eq!(leftovers(&fake), (1, 1));
    }
}
