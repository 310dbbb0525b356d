//! The credential and the client: `CloudCredential`, `CloudClient` and `StopStartInstance`
//! over Fluidstack's per-region Infrastructure API.

use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use gpucloud_bootstrap::Bootstrap;
use gpucloud_core::bookkeeping;
use gpucloud_core::outcome::{ResolveBudget, Resolved, UnknownCreate, resolve_unknown_create};
use gpucloud_core::validate::ValidCreate;
use gpucloud_core::{
    ApiType, Bookkeeping, CapabilityTable, CloudClient, CloudCredential, CloudError,
    CreateFeatures, ErrorKind, FirewallRule, GetInstanceTypeArgs, GetLocationsArgs, Identity,
    Instance, InstanceId, InstanceType, ListInstancesArgs, Location, LocationsFilter, Result,
    StopStartInstance, tenant_id_from_secret,
};
use gpucloud_http::{
    ApiKey, Auth, HeaderName, HeaderValue, HttpClient, HttpConfig, Request, RetryPolicy,
    parse_base_url,
};
use jiff::Timestamp;
use tokio::sync::{Mutex, OnceCell};

use crate::config::{FluidstackConfig, PROJECT_ENV, ProjectRef, REGIONS_ENV};
use crate::convert::{self, CREATING, OUT_OF_STOCK, PROVIDER};
use crate::error::classifier;
use crate::{firewall, wire};

/// The provider id.
pub const PROVIDER_ID: &str = PROVIDER;

/// The header naming the project on every project-scoped call.
const PROJECT_HEADER: HeaderName = HeaderName::from_static("x-project-id");

/// One region's API: its own HTTP client and, once known, the project id to send there.
struct Region {
    name: String,
    url: String,
    http: HttpClient,
    project_id: OnceCell<HeaderValue>,
}

/// State shared by a credential and every client it makes.
struct Shared {
    regions: Vec<Region>,
    config: FluidstackConfig,
    identity: Identity,
    /// Serializes creates in this process, so the RefID lookup and the create it guards cannot
    /// interleave with another create of the same RefID.
    create_lock: Mutex<()>,
}

/// A Fluidstack credential: the API key, the project, the regions and the control plane's
/// reference id.
///
/// API type locational; tenant id `fluidstack-<hex SHA-256 of the key>`; `Debug` never shows
/// the key.
#[derive(Clone)]
pub struct FluidstackCredential {
    shared: Arc<Shared>,
}

impl fmt::Debug for FluidstackCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FluidstackCredential")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl FluidstackCredential {
    /// A credential from a configuration: one HTTP client per configured region. Fails when a
    /// field is invalid (the error names it), no region is configured (the error names
    /// `FLUIDSTACK_REGIONS`), or a region's URL is not `https` (plain `http` only to loopback).
    pub fn new(config: FluidstackConfig) -> Result<Self> {
        config.validate()?;
        let retry = RetryPolicy::default().with_backoff(
            Duration::from_millis(config.retry_backoff_ms.unwrap_or(500)),
            Duration::from_secs(20),
        );
        let regions = config
            .regions
            .iter()
            .map(|name| {
                let url = config.region_url(name)?;
                let http_config = HttpConfig::default()
                    .with_base_url(parse_base_url(&url)?)
                    .with_request_timeout(config.effective_request_timeout())
                    .with_retry(retry);
                let http = HttpClient::new(
                    PROVIDER,
                    http_config,
                    Auth::Bearer(ApiKey::new(config.key())),
                    classifier,
                )?;
                Ok(Region {
                    name: name.clone(),
                    url,
                    http,
                    project_id: OnceCell::new(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let shared = Arc::new(Shared {
            regions,
            identity: Identity::new(
                PROVIDER,
                ApiType::Locational,
                config.ref_id.clone(),
                tenant_id_from_secret(PROVIDER, config.key().as_bytes()),
            ),
            config,
            create_lock: Mutex::new(()),
        });
        Ok(Self { shared })
    }

    /// The configuration this credential was made from.
    pub fn config(&self) -> &FluidstackConfig {
        &self.shared.config
    }

    /// A client bound to `location` (a configured region), or to every configured region when
    /// `location` is empty.
    pub fn client(&self, location: &str) -> Result<FluidstackClient> {
        if !location.is_empty() && !self.shared.config.regions.iter().any(|r| r == location) {
            return Err(CloudError::invalid(
                "location",
                format!(
                    "{location:?} is not a configured Fluidstack region ({}); add it to {REGIONS_ENV}",
                    self.shared.config.regions.join(", ")
                ),
            ));
        }
        Ok(FluidstackClient {
            shared: Arc::clone(&self.shared),
            location: location.to_owned(),
        })
    }
}

#[async_trait]
impl CloudCredential for FluidstackCredential {
    fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    async fn make_client(&self, location: &str) -> Result<Arc<dyn CloudClient>> {
        Ok(Arc::new(self.client(location)?))
    }
}

/// A client of one Fluidstack project, bound to one region or to all configured regions.
///
/// Implements [`CloudClient`] and [`StopStartInstance`]. Fluidstack's API has no SSH-key,
/// firewall or tag-update endpoint: the key and the firewall rules are installed at first boot
/// by the user data ([`gpucloud_bootstrap`]), and tags are set at create only, so neither
/// `tags` nor `modify-firewall` is declared.
#[derive(Clone)]
pub struct FluidstackClient {
    shared: Arc<Shared>,
    location: String,
}

impl fmt::Debug for FluidstackClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FluidstackClient")
            .field("ref_id", &self.shared.config.ref_id)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// Every location: the empty filter, which allows all (as `LocationsFilter::all()` does) and,
/// being empty, costs no allocation on every get and terminate.
static EVERY_REGION: LocationsFilter = LocationsFilter(Vec::new());

/// `instances/<id>`, the path of one instance.
fn instance_path(id: &uuid::Uuid) -> String {
    const PREFIX: &str = "instances/";
    let mut path = String::with_capacity(PREFIX.len() + uuid::fmt::Hyphenated::LENGTH);
    path.push_str(PREFIX);
    path.push_str(
        id.hyphenated()
            .encode_lower(&mut uuid::Uuid::encode_buffer()),
    );
    path
}

/// Instance ids are UUIDs; anything else cannot name an instance (and must not reach a path).
fn instance_uuid(id: &InstanceId) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(id.as_str()).ok()
}

impl FluidstackClient {
    /// The regions this client works in that pass `filter`.
    fn regions<'a>(&'a self, filter: &'a LocationsFilter) -> impl Iterator<Item = &'a Region> {
        let bound = self.location.as_str();
        self.shared
            .regions
            .iter()
            .filter(move |r| (bound.is_empty() || r.name == bound) && filter.matches(&r.name))
    }

    /// The region a create goes to: the requested location, else the client's, else the only
    /// configured region.
    fn create_region(&self, location: &str) -> Result<&Region> {
        let wanted = if location.is_empty() {
            self.location.as_str()
        } else {
            if !self.location.is_empty() && location != self.location {
                return Err(CloudError::invalid(
                    "location",
                    format!(
                        "{location:?} differs from this client's region {:?}",
                        self.location
                    ),
                ));
            }
            location
        };
        let names = || self.shared.config.regions.join(", ");
        if wanted.is_empty() {
            return match self.shared.regions.as_slice() {
                [only] => Ok(only),
                _ => Err(CloudError::invalid(
                    "location",
                    format!("give the region to create in: one of {}", names()),
                )),
            };
        }
        self.shared
            .regions
            .iter()
            .find(|r| r.name == wanted)
            .ok_or_else(|| {
                CloudError::invalid(
                    "location",
                    format!(
                        "{wanted:?} is not a configured Fluidstack region ({}); add it to {REGIONS_ENV}",
                        names()
                    ),
                )
            })
    }

    /// The project id to send in `region`, resolving a project name through `GET /projects`
    /// the first time.
    async fn project_id(&self, region: &Region, operation: &'static str) -> Result<HeaderValue> {
        region
            .project_id
            .get_or_try_init(|| async {
                let id = match self.shared.config.project_ref() {
                    ProjectRef::Id(id) => id.to_string(),
                    ProjectRef::Name(name) => {
                        let projects: Vec<wire::Project> = region
                            .http
                            .send_json(Request::get(operation, "projects"))
                            .await?;
                        let mut matching = projects
                            .into_iter()
                            .filter(|p| p.name == name && p.state != "deleting");
                        match (matching.next(), matching.next()) {
                            (Some(project), None) => project.id,
                            (None, _) => {
                                return Err(CloudError::configuration(format!(
                                    "no active Fluidstack project is named {name:?} in region {}; \
                                     set {PROJECT_ENV} to an existing project's id or name",
                                    region.name
                                )));
                            }
                            (Some(_), Some(_)) => {
                                return Err(CloudError::configuration(format!(
                                    "several Fluidstack projects are named {name:?} in region {}; \
                                     set {PROJECT_ENV} to the project's id",
                                    region.name
                                )));
                            }
                        }
                    }
                };
                HeaderValue::from_str(&id).map_err(|_| {
                    CloudError::provider(
                        PROVIDER,
                        operation,
                        ErrorKind::Decode,
                        "the project id from GET /projects cannot be sent as a header",
                    )
                })
            })
            .await
            .cloned()
    }

    /// `request` with the project header of `region`.
    async fn scoped(&self, region: &Region, request: Request) -> Result<Request> {
        let id = self.project_id(region, request.operation()).await?;
        Ok(request.header(PROJECT_HEADER, id))
    }

    async fn raw_instance(
        &self,
        region: &Region,
        operation: &'static str,
        id: &uuid::Uuid,
    ) -> Result<wire::Instance> {
        let request = self
            .scoped(
                region,
                Request::get(operation, instance_path(id)).about_instance(),
            )
            .await?;
        region.http.send_json(request).await
    }

    async fn raw_instances(
        &self,
        region: &Region,
        operation: &'static str,
    ) -> Result<Vec<wire::Instance>> {
        let request = self
            .scoped(region, Request::get(operation, "instances"))
            .await?;
        region.http.send_json(request).await
    }

    /// The region holding instance `id`, and the instance; `InstanceNotFound` when no region
    /// of this client has it.
    async fn locate(
        &self,
        operation: &'static str,
        id: &InstanceId,
    ) -> Result<(&Region, wire::Instance)> {
        let not_found = || CloudError::instance_not_found(PROVIDER, operation, id.as_str());
        let uuid = instance_uuid(id).ok_or_else(not_found)?;
        for region in self.regions(&EVERY_REGION) {
            match self.raw_instance(region, operation, &uuid).await {
                Ok(w) => return Ok((region, w)),
                Err(e) if e.kind() == ErrorKind::InstanceNotFound => {}
                Err(e) => return Err(e),
            }
        }
        Err(not_found())
    }

    fn owned(&self, w: &wire::Instance) -> bool {
        bookkeeping::is_marked_by(&w.tags.bookkeeping.cred_ref_id, &self.shared.config.ref_id)
    }

    /// This credential's instance with `ref_id` in `region` that is not on its way out.
    async fn find_by_ref_id(
        &self,
        region: &Region,
        operation: &'static str,
        ref_id: &str,
    ) -> Result<Option<wire::Instance>> {
        Ok(self
            .raw_instances(region, operation)
            .await?
            .into_iter()
            .find(|w| {
                self.owned(w)
                    && w.tags.bookkeeping.ref_id == ref_id
                    && !matches!(w.state.as_str(), "deleting" | "error" | OUT_OF_STOCK)
            }))
    }

    /// `DELETE /instances/{id}`; an instance already gone counts as deleted.
    async fn delete(&self, region: &Region, operation: &'static str, id: &str) -> Result<()> {
        let request = self
            .scoped(
                region,
                Request::delete(operation, format!("instances/{id}"))
                    .idempotent(true)
                    .about_instance(),
            )
            .await?;
        match region.http.send(request).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::InstanceNotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes an out-of-stock instance of this credential, so it is neither billed nor left;
    /// best effort (logged), as the caller is only reading.
    async fn clear_out_of_stock(
        &self,
        region: &Region,
        operation: &'static str,
        w: &wire::Instance,
    ) {
        if w.state == OUT_OF_STOCK
            && self.owned(w)
            && let Err(e) = self.delete(region, operation, &w.id).await
        {
            tracing::warn!(instance = %w.id, error = %e, "could not delete an out-of-stock instance");
        }
    }

    /// Waits (up to the configured capacity wait) for a new instance to leave `creating`. An
    /// instance that ends `out-of-stock` is deleted and the create fails with
    /// `InsufficientCapacity`.
    async fn settle(&self, region: &Region, mut w: wire::Instance) -> Result<wire::Instance> {
        const OP: &str = "create_instance";
        let deadline = tokio::time::Instant::now() + self.shared.config.effective_capacity_wait();
        let poll = self.shared.config.effective_poll_interval();
        loop {
            if w.state == OUT_OF_STOCK {
                let deleted = self.delete(region, OP, &w.id).await;
                let mut message = format!(
                    "fluidstack has no capacity for {} in {} (the instance went out-of-stock)",
                    w.instance_type, region.name
                );
                if let Err(e) = deleted {
                    tracing::warn!(instance = %w.id, error = %e, "could not delete an out-of-stock instance");
                    let _ = write!(
                        message,
                        "; deleting instance {} failed ({e}): terminate it",
                        w.id
                    );
                }
                return Err(CloudError::provider(
                    PROVIDER,
                    OP,
                    ErrorKind::InsufficientCapacity,
                    message,
                ));
            }
            if w.state != CREATING || tokio::time::Instant::now() >= deadline {
                return Ok(w);
            }
            tokio::time::sleep(poll).await;
            let Some(uuid) = uuid::Uuid::parse_str(&w.id).ok() else {
                return Ok(w);
            };
            match self.raw_instance(region, OP, &uuid).await {
                Ok(fresh) => w = fresh,
                Err(e) => {
                    tracing::warn!(instance = %w.id, error = %e, "created, but reading the instance failed; returning what is known");
                    return Ok(w);
                }
            }
        }
    }

    /// The model instance of a create's result, filling in what the create itself knows.
    fn created(
        &self,
        region: &Region,
        w: wire::Instance,
        create: &ValidCreate,
        fingerprint: String,
        created_at: Option<Timestamp>,
    ) -> Instance {
        let mut instance =
            convert::instance(w, &region.name, self.shared.config.effective_ssh_user());
        let attrs = create.attrs();
        if instance.ref_id.is_empty() {
            instance.ref_id.clone_from(&attrs.ref_id);
            instance
                .cloud_cred_ref_id
                .clone_from(&self.shared.config.ref_id);
            instance.created_at = instance.created_at.or(created_at);
        }
        instance.pub_key_fingerprint = fingerprint;
        instance
    }

    /// Stop or start through `/instances/{id}/actions/{action}`; a 409 becomes `Conflict`
    /// naming the instance's state.
    async fn action(&self, operation: &'static str, action: &str, id: &InstanceId) -> Result<()> {
        let (region, w) = self.locate(operation, id).await?;
        let request = self
            .scoped(
                region,
                Request::post(operation, format!("instances/{}/actions/{action}", w.id))
                    .about_instance(),
            )
            .await?;
        match region.http.send(request).await {
            Ok(_) => Ok(()),
            Err(error) if error.kind() == ErrorKind::Conflict => {
                let state = match instance_uuid(id) {
                    Some(uuid) => self
                        .raw_instance(region, operation, &uuid)
                        .await
                        .map_or(w.state, |fresh| fresh.state),
                    None => w.state,
                };
                Err(CloudError::provider(
                    PROVIDER,
                    operation,
                    ErrorKind::Conflict,
                    format!("instance {id} is {state}: fluidstack cannot {action} it now"),
                )
                .with_source(error))
            }
            Err(error) => Err(error),
        }
    }
}

#[async_trait]
impl CloudClient for FluidstackClient {
    fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn capability_table(&self) -> CapabilityTable<'_> {
        CapabilityTable {
            stop_start: Some(self),
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
            spot: true,
            ..CreateFeatures::default()
        }
    }

    /// The configured regions (Fluidstack publishes no list), available when `/capacity`
    /// reports room for any type there.
    async fn locations(&self, args: GetLocationsArgs) -> Result<Vec<Location>> {
        const OP: &str = "locations";
        let per_region = self.shared.regions.iter().map(|region| async move {
            let request = self.scoped(region, Request::get(OP, "capacity")).await?;
            let capacity: Vec<wire::Capacity> = region.http.send_json(request).await?;
            let available = capacity.iter().any(|c| c.capacity > 0);
            Ok::<_, CloudError>((available || args.include_unavailable).then(|| Location {
                name: region.name.clone(),
                description: format!("Fluidstack {}", region.name),
                available,
                endpoint: region.url.clone(),
                ..Location::default()
            }))
        });
        let out = futures::future::try_join_all(per_region).await?;
        Ok(out.into_iter().flatten().collect())
    }

    async fn instance_types(&self, args: &GetInstanceTypeArgs) -> Result<Vec<InstanceType>> {
        const OP: &str = "instance_types";
        // Every region at once, and in each the catalog and the capacity at once: one round
        // trip for the whole answer.
        let per_region = self.regions(&args.locations).map(|region| async move {
            let types = region
                .http
                .send_json::<Vec<wire::InstanceType>>(Request::get(OP, "instance-types"));
            let capacity = async {
                let request = self.scoped(region, Request::get(OP, "capacity")).await?;
                region.http.send_json::<Vec<wire::Capacity>>(request).await
            };
            let (types, capacity) = futures::try_join!(types, capacity)?;
            convert::instance_types(&region.name, &types, &capacity, |name| {
                self.shared.config.price(name)
            })
        });
        let out = futures::future::try_join_all(per_region).await?;
        Ok(args.apply(out.into_iter().flatten().collect()))
    }

    async fn create_instance(&self, create: ValidCreate) -> Result<Instance> {
        const OP: &str = "create_instance";
        let attrs = create.attrs();
        // Fluidstack's own limit on tag keys, on top of what validation checked.
        convert::check_user_tags(create.tags())?;
        let region = self.create_region(&attrs.location)?;
        let fingerprint = create.public_key().fingerprint_sha256();
        let rules: Vec<FirewallRule> = create
            .ingress_rules()
            .iter()
            .enumerate()
            .map(|(i, rule)| rule.to_rule(i.to_string()))
            .collect();
        let rendered = Bootstrap::new(self.shared.config.effective_ssh_user(), &attrs.public_key)?
            .with_ingress_rules(&rules)?
            .with_user_data(create.user_data().unwrap_or_default())?
            .with_hostname(create.hostname())?
            .render();
        let created_at = Timestamp::now().round(jiff::Unit::Second).ok();

        let guard = self.shared.create_lock.lock().await;
        if let Some(existing) = self.find_by_ref_id(region, OP, &attrs.ref_id).await? {
            drop(guard);
            let existing = self.settle(region, existing).await?;
            return Ok(self.created(region, existing, &create, fingerprint, created_at));
        }
        let body = wire::CreateInstance {
            name: if attrs.name.trim().is_empty() {
                attrs.ref_id.clone()
            } else {
                attrs.name.trim().to_owned()
            },
            instance_type: attrs.instance_type.clone(),
            image: (!attrs.image_id.is_empty()).then(|| attrs.image_id.clone()),
            preemptible: attrs.use_spot,
            user_data: base64::engine::general_purpose::STANDARD.encode(rendered),
            tags: convert::wire_tags(
                create.tags(),
                &Bookkeeping {
                    ref_id: attrs.ref_id.clone(),
                    cred_ref_id: self.shared.config.ref_id.clone(),
                    created_at,
                },
            ),
        };
        let request = self
            .scoped(region, Request::post(OP, "instances").json(&body)?.create())
            .await?;
        let w = match region.http.send_json::<wire::Instance>(request).await {
            Ok(w) => w,
            Err(error) if error.outcome_unknown() => {
                // The create may have happened: look it up by RefID (core's one rule), never
                // create again blindly.
                tracing::info!(ref_id = %attrs.ref_id, error = %error, "create outcome unknown; looking the instance up");
                let budget =
                    ResolveBudget::with_initial_backoff(region.http.config().retry.initial_backoff);
                let unknown = UnknownCreate {
                    provider: PROVIDER,
                    operation: OP,
                    ref_id: &attrs.ref_id,
                    error,
                };
                match resolve_unknown_create(&budget, unknown, || {
                    self.find_by_ref_id(region, OP, &attrs.ref_id)
                })
                .await?
                {
                    Resolved::Found(found) => found,
                    Resolved::Absent(error) => return Err(error),
                }
            }
            Err(error) => return Err(error),
        };
        drop(guard);
        if uuid::Uuid::parse_str(&w.id).is_err() {
            return Err(CloudError::provider(
                PROVIDER,
                OP,
                ErrorKind::Decode,
                format!(
                    "the create answered with an instance id {:?} that is not a UUID",
                    w.id
                ),
            ));
        }
        let mut w = self.settle(region, w).await?;
        if w.firewall_rules.is_none() {
            // An answer without the user data: the rules are still the ones just sent.
            w.firewall_rules = Some(firewall::rules_from_user_data(&body.user_data));
        }
        Ok(self.created(region, w, &create, fingerprint, created_at))
    }

    async fn get_instance(&self, id: &InstanceId) -> Result<Instance> {
        const OP: &str = "get_instance";
        let (region, w) = self.locate(OP, id).await?;
        self.clear_out_of_stock(region, OP, &w).await;
        Ok(convert::instance(
            w,
            &region.name,
            self.shared.config.effective_ssh_user(),
        ))
    }

    async fn list_instances(&self, args: &ListInstancesArgs) -> Result<Vec<Instance>> {
        const OP: &str = "list_instances";
        let per_region = self.regions(&args.locations).map(|region| async move {
            let listed = self.raw_instances(region, OP).await?;
            let mut out = Vec::with_capacity(listed.len());
            let mut convert =
                convert::Instances::new(&region.name, self.shared.config.effective_ssh_user());
            for w in listed {
                if !args.keeps_mark(&w.tags.bookkeeping.cred_ref_id, &self.shared.config.ref_id) {
                    continue;
                }
                self.clear_out_of_stock(region, OP, &w).await;
                let instance = convert.instance(w);
                if args.matches(&instance) {
                    out.push(instance);
                }
            }
            Ok::<_, CloudError>(out)
        });
        let mut per_region = futures::future::try_join_all(per_region).await?;
        // One region's list is the answer as it stands; several are joined into one buffer of
        // their total size, not grown instance by instance.
        if per_region.len() == 1 {
            return Ok(per_region.pop().unwrap_or_default());
        }
        let mut out = Vec::with_capacity(per_region.iter().map(Vec::len).sum());
        for instances in per_region {
            out.extend(instances);
        }
        Ok(out)
    }

    async fn terminate_instance(&self, id: &InstanceId) -> Result<()> {
        const OP: &str = "terminate_instance";
        let Some(uuid) = instance_uuid(id) else {
            // Not a UUID: no instance of Fluidstack's can have this id, so it is gone.
            return Ok(());
        };
        for region in self.regions(&EVERY_REGION) {
            let request = self
                .scoped(
                    region,
                    Request::delete(OP, instance_path(&uuid))
                        .idempotent(true)
                        .about_instance(),
                )
                .await?;
            match region.http.send(request).await {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::InstanceNotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl StopStartInstance for FluidstackClient {
    async fn stop_instance(&self, id: &InstanceId) -> Result<()> {
        self.action("stop_instance", "stop", id).await
    }

    async fn start_instance(&self, id: &InstanceId) -> Result<()> {
        self.action("start_instance", "start", id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpucloud_core::{Capability, CloudClientExt};

    fn credential(regions: &[&str]) -> FluidstackCredential {
        FluidstackCredential::new(
            FluidstackConfig::new("secret-key", "proj")
                .with_regions(regions.iter().copied())
                .with_base_url("http://127.0.0.1:9/{region}")
                .with_ref_id("cred-1"),
        )
        .unwrap()
    }

    #[test]
    fn capabilities_are_declared_exactly() {
        let client = credential(&["r1"]).client("r1").unwrap();
        let caps = client.capabilities();
        let expected = [
            Capability::CreateInstance,
            Capability::TerminateInstance,
            Capability::CreateTerminateInstance,
            Capability::CreateIdempotentInstance,
            Capability::InstanceUserData,
            Capability::StopStartInstance,
        ];
        assert_eq!(caps.0, expected);
        assert!(client.tags().is_err(), "tags are set at create only");
        assert!(
            client.modify_firewall().is_err(),
            "rules are set at create only"
        );
        let features = client.create_features();
        assert!(features.tags && features.firewall_rules && features.user_data);
        assert!(!features.disk_size && !features.vpc && !features.sub_location);
    }

    #[test]
    fn the_tenant_id_hides_the_key() {
        let cred = credential(&["r1"]);
        let tenant = cred.identity().tenant_id();
        assert!(tenant.starts_with("fluidstack-"));
        assert!(!tenant.contains("secret-key"));
        assert!(!format!("{cred:?}").contains("secret-key"));
        assert_eq!(cred.identity().api_type(), ApiType::Locational);
        assert_eq!(cred.identity().reference_id(), "cred-1");
        assert_eq!(cred.identity().provider_id().as_str(), PROVIDER);
    }

    #[test]
    fn clients_are_bound_to_configured_regions() {
        let cred = credential(&["r1", "r2"]);
        let err = cred.client("r3").unwrap_err();
        assert!(err.to_string().contains(REGIONS_ENV), "{err}");
        let all = cred.client("").unwrap();
        assert_eq!(all.regions(&LocationsFilter::all()).count(), 2);
        assert_eq!(
            all.regions(&LocationsFilter::only(["r2"]))
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>(),
            ["r2"]
        );
        let one = cred.client("r1").unwrap();
        assert_eq!(one.regions(&LocationsFilter::only(["r2"])).count(), 0);
    }

    #[test]
    fn the_create_region_is_explicit_unless_there_is_one() {
        let two = credential(&["r1", "r2"]);
        let all = two.client("").unwrap();
        assert!(
            matches!(all.create_region(""), Err(CloudError::InvalidArgument { ref field, .. }) if field == "location")
        );
        assert_eq!(all.create_region("r2").unwrap().name, "r2");
        assert!(all.create_region("r9").is_err());
        let bound = two.client("r1").unwrap();
        assert_eq!(bound.create_region("").unwrap().name, "r1");
        assert!(bound.create_region("r2").is_err());
        let one = credential(&["only"]).client("").unwrap();
        assert_eq!(one.create_region("").unwrap().name, "only");
    }

    #[test]
    fn a_missing_region_names_the_setting() {
        let err = FluidstackCredential::new(FluidstackConfig::new("k", "p")).unwrap_err();
        assert!(err.to_string().contains(REGIONS_ENV), "{err}");
    }

    fn all_regions_filter_allows(regions: &[&str]) -> Vec<String> {
        credential(regions)
            .client("")
            .unwrap()
            .regions(&EVERY_REGION)
            .map(|r| r.name.clone())
            .collect()
    }

    #[test]
    fn non_uuid_ids_never_reach_a_path() {
        for id in [
            "../projects",
            "abc",
            "",
            "550e8400-e29b-41d4-a716-44665544000/x",
        ] {
            assert!(instance_uuid(&InstanceId::new(id)).is_none(), "{id}");
        }
        let id = "550e8400-e29b-41d4-a716-446655440000";
        let uuid = instance_uuid(&InstanceId::new(id)).unwrap();
        assert_eq!(instance_path(&uuid), format!("instances/{id}"));
        let upper = instance_uuid(&InstanceId::new(id.to_uppercase())).unwrap();
        assert_eq!(
            instance_path(&upper),
            format!("instances/{id}"),
            "lower case"
        );
        assert_eq!(
            all_regions_filter_allows(&["r1", "r2"]),
            ["r1", "r2"],
            "the empty filter allows every region"
        );
    }
}
