//! The credential and the client: `CloudCredential`, `CloudClient`, `RebootInstance` and
//! `InstanceTags` over Shadeform's API, built from one typed call per endpoint and the
//! conversions.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use gpucloud_bootstrap::Bootstrap;
use gpucloud_core::bookkeeping::{self, CRED_REF_ID_TAG, REF_ID_TAG};
use gpucloud_core::outcome::{ResolveBudget, Resolved, UnknownCreate, resolve_unknown_create};
use gpucloud_core::sshkey::PublicKey;
use gpucloud_core::validate::{ValidCreate, ValidTagUpdate};
use gpucloud_core::{
    ApiType, Bookkeeping, CapabilityTable, CloudClient, CloudCredential, CloudError,
    CreateFeatures, ErrorKind, FirewallRule, GetInstanceTypeArgs, GetLocationsArgs, Identity,
    Instance, InstanceId, InstanceTags, InstanceType, ListInstancesArgs, Location, RebootInstance,
    Result, tenant_id_from_secret,
};
use gpucloud_http::{
    ApiKey, Auth, HeaderName, HttpClient, HttpConfig, RetryPolicy, parse_base_url,
};
use jiff::Timestamp;
use tokio::sync::Mutex;

use crate::api;
use crate::config::{ALLOWED_TYPES_ENV, ShadeformConfig};
use crate::convert::{self, PROVIDER};
use crate::error::classifier;
use crate::wire;

/// The provider id.
pub const PROVIDER_ID: &str = PROVIDER;

/// The header Shadeform reads the API key from.
const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

/// State shared by a credential and every client it makes.
struct Shared {
    http: HttpClient,
    config: ShadeformConfig,
    identity: Identity,
    /// How many instances the last list returned: the next one reserves room for as many at
    /// once, instead of moving a long list several times as it grows.
    listed: AtomicUsize,
    /// What the last catalog call left for the next (see [`convert::CatalogMemory`]).
    catalog_memory: std::sync::Mutex<convert::CatalogMemory>,
    /// Serializes creates in this process, so the RefID lookup and the create it guards cannot
    /// interleave with another create of the same RefID.
    create_lock: Mutex<()>,
}

/// A Shadeform credential: the API key, the allow-list and the control plane's reference id.
///
/// API type global (one catalog call answers for every upstream cloud and region); tenant id
/// `shadeform-<hex SHA-256 of the key>`; `Debug` never shows the key.
#[derive(Clone)]
pub struct ShadeformCredential {
    shared: Arc<Shared>,
}

impl fmt::Debug for ShadeformCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShadeformCredential")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl ShadeformCredential {
    /// A credential from a configuration. Fails when a field is invalid (the error names it)
    /// or the API root is not `https` (plain `http` only to loopback).
    pub fn new(config: ShadeformConfig) -> Result<Self> {
        config.validate()?;
        let root = format!("{}/", config.effective_base_url().trim_end_matches('/'));
        let http_config = HttpConfig::default()
            .with_base_url(parse_base_url(&root)?)
            .with_request_timeout(config.effective_request_timeout())
            .with_retry(
                RetryPolicy::default()
                    .with_backoff(config.effective_retry_backoff(), Duration::from_secs(20)),
            );
        let http = HttpClient::new(
            PROVIDER,
            http_config,
            Auth::Header(API_KEY_HEADER, ApiKey::new(config.key())),
            classifier,
        )?;
        let identity = Identity::new(
            PROVIDER,
            ApiType::Global,
            config.ref_id.clone(),
            tenant_id_from_secret(PROVIDER, config.key().as_bytes()),
        );
        Ok(Self {
            shared: Arc::new(Shared {
                http,
                config,
                identity,
                listed: AtomicUsize::new(0),
                catalog_memory: std::sync::Mutex::default(),
                create_lock: Mutex::new(()),
            }),
        })
    }

    /// The configuration this credential was made from.
    pub fn config(&self) -> &ShadeformConfig {
        &self.shared.config
    }

    /// A client whose creates default to `location` (a gpucloud location or an upstream
    /// region; empty: none). Shadeform's API is global, so every client sees every location.
    pub fn client(&self, location: &str) -> ShadeformClient {
        ShadeformClient {
            shared: Arc::clone(&self.shared),
            location: location.to_owned(),
        }
    }
}

#[async_trait]
impl CloudCredential for ShadeformCredential {
    fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    async fn make_client(&self, location: &str) -> Result<Arc<dyn CloudClient>> {
        Ok(Arc::new(self.client(location)))
    }
}

/// A client of one Shadeform account.
///
/// Implements [`CloudClient`], [`RebootInstance`] (Shadeform's restart) and [`InstanceTags`]
/// (Shadeform's update). Shadeform cannot stop an instance or change its firewall after
/// create: the firewall rules are enforced by the launch script, so `modify-firewall` and
/// `stop-start` are not declared.
#[derive(Clone)]
pub struct ShadeformClient {
    shared: Arc<Shared>,
    location: String,
}

impl fmt::Debug for ShadeformClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShadeformClient")
            .field("ref_id", &self.shared.config.ref_id)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// Instance ids are UUIDs; anything else cannot name an instance (and must not reach a path).
fn instance_uuid(id: &InstanceId) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(id.as_str()).ok()
}

/// The upstream offer a create launches: cloud, type and region.
#[derive(Debug)]
struct Offer {
    cloud: String,
    shade_type: String,
    region: String,
    os_options: Vec<String>,
}

/// An SSH key to launch with, and whether this create added it (and so must remove it on
/// failure).
#[derive(Debug)]
struct Key {
    id: String,
    added: bool,
}

impl ShadeformClient {
    fn http(&self) -> &HttpClient {
        &self.shared.http
    }
}

// What the trait implementations are built from.
impl ShadeformClient {
    fn allows(&self, cloud: &str, shade_type: &str) -> bool {
        self.shared.config.allows(cloud, shade_type)
    }

    /// What the last catalog call kept (a poisoned lock only means another call panicked
    /// while replacing it, and any state of it is usable).
    fn catalog_memory(&self) -> std::sync::MutexGuard<'_, convert::CatalogMemory> {
        self.shared
            .catalog_memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn owned(&self, w: &wire::Instance<'_>) -> bool {
        bookkeeping::is_marked_by(
            convert::tag(w, CRED_REF_ID_TAG).unwrap_or(""),
            &self.shared.config.ref_id,
        )
    }

    /// This credential's instance with `ref_id` that is not on its way out or failed.
    async fn find_by_ref_id(
        &self,
        op: &'static str,
        ref_id: &str,
    ) -> Result<Option<wire::Instance<'static>>> {
        api::instances(
            self.http(),
            op,
            || None,
            |found: &mut Option<wire::Instance<'static>>, w| {
                if found.is_none()
                    && self.owned(&w)
                    && convert::tag(&w, REF_ID_TAG) == Some(ref_id)
                    && !convert::is_gone_or_failed(&w.status)
                {
                    *found = Some(w.into_owned());
                }
            },
        )
        .await
    }

    /// The API's own query filters for `args`, where one value says exactly what is wanted;
    /// everything is filtered again locally, so a filter the API lacks is still honoured.
    fn type_query(args: &GetInstanceTypeArgs) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        let wanted_cloud = args
            .cloud_filter
            .as_ref()
            .and_then(|f| match f.include.as_deref() {
                Some([one]) => Some(if one == PROVIDER {
                    "excesssupply"
                } else {
                    one.as_str()
                }),
                _ => None,
            });
        let by_name = match args.instance_types.as_slice() {
            [one] => convert::split_type_name(one),
            _ => None,
        };
        match (wanted_cloud, by_name) {
            (Some(cloud), Some((name_cloud, shade)))
                if convert::cloud_name(name_cloud) == cloud || name_cloud == cloud =>
            {
                query.push(("cloud", name_cloud.to_owned()));
                query.push(("shade_instance_type", shade.to_owned()));
            }
            (None, Some((cloud, shade))) => {
                query.push(("cloud", cloud.to_owned()));
                query.push(("shade_instance_type", shade.to_owned()));
            }
            (Some(cloud), None) => query.push(("cloud", cloud.to_owned())),
            // A name of another cloud than the filter's: nothing can match; the local filter
            // says so without narrowing the request.
            (Some(_), Some(_)) | (None, None) => {}
        }
        // No `region`: a location is a group of regions that grows as Shadeform adds them, so
        // no one region says what a location filter wants.
        query
    }

    /// The offer `attrs` names: its cloud and type from the type name, its region from the
    /// sub-location, else from the location (a gpucloud location or an upstream region),
    /// preferring a region with capacity.
    async fn offer(&self, op: &'static str, create: &ValidCreate) -> Result<Offer> {
        let attrs = create.attrs();
        let (cloud, shade) = convert::split_type_name(&attrs.instance_type).ok_or_else(|| {
            CloudError::invalid(
                "instance_type",
                format!(
                    "{:?} is not a Shadeform offer: give <cloud>_<shade type> as `gpucloud types -p shadeform` lists it",
                    attrs.instance_type
                ),
            )
        })?;
        if !self.allows(cloud, shade) {
            return Err(CloudError::invalid(
                "instance_type",
                format!(
                    "{:?} is not in this credential's allow-list ({ALLOWED_TYPES_ENV})",
                    attrs.instance_type
                ),
            ));
        }
        let query = [
            ("cloud", cloud.to_owned()),
            ("shade_instance_type", shade.to_owned()),
        ];
        let found = api::types(
            self.http(),
            op,
            &query,
            || None,
            |found: &mut Option<wire::InstanceType<'static>>, t| {
                if found.is_none()
                    && t.cloud.as_str() == cloud
                    && t.shade_instance_type.as_str() == shade
                {
                    *found = Some(t.into_owned());
                }
            },
        )
        .await?;
        let Some(t) = found else {
            return Err(CloudError::invalid(
                "instance_type",
                format!("Shadeform has no offer {:?}", attrs.instance_type),
            ));
        };
        let location = if attrs.location.is_empty() {
            self.location.as_str()
        } else {
            attrs.location.as_str()
        };
        let fits = |region: &str| {
            (attrs.sub_location.is_empty() || attrs.sub_location == region)
                && (location.is_empty()
                    || location == region
                    || convert::location_of(region) == location)
        };
        let mut candidates: Vec<&wire::Availability> = t
            .availability
            .iter()
            .filter(|a| fits(a.region.as_str()))
            .collect();
        // Capacity first; an offer without any still launches, so the API's OUT_OF_STOCK
        // answer (not a guess here) is what the caller sees.
        candidates.sort_by_key(|a| !a.available);
        let Some(chosen) = candidates.first() else {
            let field = if attrs.sub_location.is_empty() {
                "location"
            } else {
                "sub_location"
            };
            let regions: Vec<String> = t
                .availability
                .iter()
                .map(|a| format!("{} ({})", a.region, convert::location_of(&a.region)))
                .collect();
            return Err(CloudError::invalid(
                field,
                format!(
                    "{:?} is not offered at {location:?}{}; its regions: {}",
                    attrs.instance_type,
                    if attrs.sub_location.is_empty() {
                        String::new()
                    } else {
                        format!(" / {:?}", attrs.sub_location)
                    },
                    regions.join(", ")
                ),
            ));
        };
        if !attrs.image_id.is_empty()
            && !t
                .configuration
                .os_options
                .iter()
                .any(|os| os.as_str() == attrs.image_id)
        {
            return Err(CloudError::invalid(
                "image_id",
                format!(
                    "{:?} is not an OS of this offer; choose one of: {}",
                    attrs.image_id,
                    t.configuration
                        .os_options
                        .iter()
                        .map(wire::Text::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(Offer {
            cloud: t.cloud.as_str().to_owned(),
            shade_type: t.shade_instance_type.as_str().to_owned(),
            region: chosen.region.as_str().to_owned(),
            os_options: t
                .configuration
                .os_options
                .iter()
                .map(|os| os.as_str().to_owned())
                .collect(),
        })
    }

    /// The account's key for `public_key`: the one it already holds (compared by key, never
    /// by name), else one added under a name derived from the key. Never the account's
    /// default key by accident: a name taken by a different key is a `Conflict`.
    async fn ensure_key(&self, op: &'static str, key: &PublicKey) -> Result<Key> {
        let keys = api::keys(self.http(), op).await?;
        if let Some(k) = keys.iter().find(|k| key.same_key_text(&k.public_key)) {
            return Ok(Key {
                id: k.id.clone(),
                added: false,
            });
        }
        let name = convert::key_name(key);
        if keys.iter().any(|k| k.name == name) {
            return Err(CloudError::provider(
                PROVIDER,
                op,
                ErrorKind::Conflict,
                format!(
                    "the account holds an SSH key named {name:?} with a different public key; \
                     rename or delete that key in Shadeform"
                ),
            ));
        }
        let body = wire::AddSshKey {
            name,
            public_key: key.to_openssh(),
        };
        match api::add_key(self.http(), op, &body).await {
            Ok(id) if api::path_safe(&id) => Ok(Key { id, added: true }),
            Ok(id) => Err(CloudError::provider(
                PROVIDER,
                op,
                ErrorKind::Decode,
                format!("adding the SSH key answered with an unusable key id {id:?}"),
            )),
            Err(error) if error.outcome_unknown() || error.kind() == ErrorKind::Conflict => {
                // Perhaps added (a lost answer) or added meanwhile by another create: look.
                let Ok(keys) = api::keys(self.http(), op).await else {
                    return Err(error);
                };
                match keys.into_iter().find(|k| key.same_key_text(&k.public_key)) {
                    Some(k) => Ok(Key {
                        id: k.id,
                        added: error.outcome_unknown(),
                    }),
                    None => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Removes a key this create added, after the create failed. A failure is logged: the
    /// create's own error is the one to report.
    async fn remove_key(&self, op: &'static str, key: &Key) {
        if !key.added {
            return;
        }
        if let Err(e) = api::delete_key(self.http(), op, &key.id).await {
            tracing::warn!(key = %key.id, error = %e, "could not remove the SSH key this failed create added");
        }
    }

    /// Deletes an instance this create made and its key, after the create failed.
    async fn roll_back(&self, op: &'static str, id: Option<&uuid::Uuid>, key: &Key) {
        if let Some(id) = id
            && let Err(e) = api::delete(self.http(), op, id).await
        {
            tracing::warn!(instance = %id, error = %e, "could not delete the instance of a failed create");
        }
        self.remove_key(op, key).await;
    }

    /// The model instance of a create's result, filling in what the create itself knows.
    fn created(w: wire::Instance<'_>, create: &ValidCreate) -> Instance {
        let mut instance = convert::instance(w);
        instance.pub_key_fingerprint = create.public_key().fingerprint_sha256();
        instance.firewall_rules = create.attrs().firewall_rules.clone();
        instance
    }

    /// Launches after the RefID lookup found nothing; `key` is removed again on failure.
    async fn launch(
        &self,
        op: &'static str,
        create: &ValidCreate,
        body: wire::CreateRequest,
        key: &Key,
    ) -> Result<Instance> {
        let attrs = create.attrs();
        let id = match api::create(self.http(), op, &body).await {
            Ok(response) => response.id,
            Err(error) if error.outcome_unknown() => {
                // The create may have happened: look it up by RefID (core's one rule), never
                // create again blindly.
                tracing::info!(ref_id = %attrs.ref_id, error = %error, "create outcome unknown; looking the instance up");
                let budget =
                    ResolveBudget::with_initial_backoff(self.http().config().retry.initial_backoff);
                let unknown = UnknownCreate {
                    provider: PROVIDER,
                    operation: op,
                    ref_id: &attrs.ref_id,
                    error,
                };
                // Still unknown (`?`): the key may be in use by an instance we cannot see, so
                // it stays.
                match resolve_unknown_create(&budget, unknown, || {
                    self.find_by_ref_id(op, &attrs.ref_id)
                })
                .await?
                {
                    Resolved::Found(found) => found.id,
                    Resolved::Absent(error) => {
                        self.remove_key(op, key).await;
                        return Err(error);
                    }
                }
            }
            Err(error) => {
                self.remove_key(op, key).await;
                return Err(error);
            }
        };
        let Ok(uuid) = uuid::Uuid::parse_str(&id) else {
            // An id that cannot be used cannot be deleted either: find the instance by RefID.
            let found = self.find_by_ref_id(op, &attrs.ref_id).await.ok().flatten();
            let found = found.and_then(|w| uuid::Uuid::parse_str(&w.id).ok());
            self.roll_back(op, found.as_ref(), key).await;
            return Err(CloudError::provider(
                PROVIDER,
                op,
                ErrorKind::Decode,
                format!("the create answered with an instance id {id:?} that is not a UUID"),
            ));
        };
        match api::info(self.http(), op, &uuid).await {
            Ok(w) if w.status.as_str() == "error" => {
                self.roll_back(op, Some(&uuid), key).await;
                Err(CloudError::provider(
                    PROVIDER,
                    op,
                    ErrorKind::InstanceFailed,
                    format!(
                        "shadeform accepted the launch but the instance failed ({}); it was deleted",
                        if w.status_details.is_empty() {
                            "no details"
                        } else {
                            w.status_details.as_str()
                        }
                    ),
                ))
            }
            Ok(w) => Ok(Self::created(w, create)),
            Err(e) => {
                // The instance exists and the caller must learn its id: answer with what the
                // create itself knows; a get later fills in the rest.
                tracing::warn!(instance = %uuid, error = %e, "created, but reading the instance failed; returning what is known");
                Ok(Self::created(
                    wire::Instance {
                        id: uuid.to_string(),
                        cloud: body.cloud.into(),
                        region: body.region,
                        shade_instance_type: body.shade_instance_type.into(),
                        name: body.name,
                        status: "creating".into(),
                        tags: body.tags.into_iter().map(wire::Text::from).collect(),
                        ..wire::Instance::default()
                    },
                    create,
                ))
            }
        }
    }
}

#[async_trait]
impl CloudClient for ShadeformClient {
    fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn capability_table(&self) -> CapabilityTable<'_> {
        CapabilityTable {
            reboot: Some(self),
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
            sub_location: true,
            ..CreateFeatures::default()
        }
    }

    /// The gpucloud locations of the catalog (each a group of upstream regions, placed by the
    /// rule the README describes), available when any offer there has capacity.
    async fn locations(&self, args: GetLocationsArgs) -> Result<Vec<Location>> {
        let locations = api::types(
            self.http(),
            "locations",
            &[],
            convert::Locations::default,
            |locations, t| {
                if self.allows(&t.cloud, &t.shade_instance_type) {
                    locations.add(&t);
                }
            },
        )
        .await?;
        Ok(locations
            .into_sorted()
            .into_iter()
            .filter(|l| l.available || args.include_unavailable)
            .collect())
    }

    async fn instance_types(&self, args: &GetInstanceTypeArgs) -> Result<Vec<InstanceType>> {
        let catalog = api::types(
            self.http(),
            "instance_types",
            &Self::type_query(args),
            // Each attempt starts from what was kept; a concurrent call that finds it taken
            // starts afresh.
            || convert::Catalog::resume(std::mem::take(&mut *self.catalog_memory())),
            |catalog, t| {
                catalog.add(
                    &t,
                    |c, s| self.allows(c, s),
                    |l| args.locations.matches(l),
                    |e| args.matches(e),
                );
            },
        )
        .await?;
        let (entries, memory) = catalog.into_parts();
        let mut kept = self.catalog_memory();
        if memory.gpu_names.len() >= kept.gpu_names.len() {
            *kept = memory;
        }
        Ok(entries)
    }

    async fn create_instance(&self, create: ValidCreate) -> Result<Instance> {
        const OP: &str = "create_instance";
        let attrs = create.attrs();
        convert::check_user_tags(create.tags())?;
        if let Some(data) = create.user_data() {
            convert::check_user_data(data)?;
        }
        let rules: Vec<FirewallRule> = create
            .ingress_rules()
            .iter()
            .enumerate()
            .map(|(i, rule)| rule.to_rule(i.to_string()))
            .collect();
        let script = convert::launch_script(
            Bootstrap::new(self.shared.config.effective_ssh_user(), &attrs.public_key)?
                .with_ingress_rules(&rules)?,
            create.hostname(),
            create.user_data(),
        )?;
        let offer = self.offer(OP, &create).await?;
        let created_at = Timestamp::now().round(jiff::Unit::Second).ok();

        let _guard = self.shared.create_lock.lock().await;
        if let Some(existing) = self.find_by_ref_id(OP, &attrs.ref_id).await? {
            return Ok(Self::created(existing, &create));
        }
        let key = self.ensure_key(OP, create.public_key()).await?;
        let body = wire::CreateRequest {
            cloud: offer.cloud,
            region: offer.region,
            shade_instance_type: offer.shade_type,
            shade_cloud: true,
            name: if attrs.name.trim().is_empty() {
                attrs.ref_id.clone()
            } else {
                attrs.name.trim().to_owned()
            },
            os: (!attrs.image_id.is_empty() && offer.os_options.contains(&attrs.image_id))
                .then(|| attrs.image_id.clone()),
            ssh_key_id: key.id.clone(),
            launch_configuration: wire::LaunchConfiguration {
                kind: "script",
                script_configuration: wire::ScriptConfiguration {
                    base64_script: base64::engine::general_purpose::STANDARD.encode(script),
                },
            },
            tags: convert::wire_tags(
                create.tags(),
                &Bookkeeping {
                    ref_id: attrs.ref_id.clone(),
                    cred_ref_id: self.shared.config.ref_id.clone(),
                    created_at,
                },
            ),
        };
        self.launch(OP, &create, body, &key).await
    }

    async fn get_instance(&self, id: &InstanceId) -> Result<Instance> {
        const OP: &str = "get_instance";
        let uuid = instance_uuid(id)
            .ok_or_else(|| CloudError::instance_not_found(PROVIDER, OP, id.as_str()))?;
        Ok(convert::instance(api::info(self.http(), OP, &uuid).await?))
    }

    async fn list_instances(&self, args: &ListInstancesArgs) -> Result<Vec<Instance>> {
        let hint = self.shared.listed.load(Ordering::Relaxed);
        let list = api::instances(
            self.http(),
            "list_instances",
            || Vec::with_capacity(hint),
            |list, w| {
                let mark = convert::tag(&w, CRED_REF_ID_TAG).unwrap_or("");
                if args.keeps_mark(mark, &self.shared.config.ref_id) {
                    let instance = convert::instance(w);
                    if args.matches(&instance) {
                        list.push(instance);
                    }
                }
            },
        )
        .await?;
        self.shared.listed.store(list.len(), Ordering::Relaxed);
        Ok(list)
    }

    async fn terminate_instance(&self, id: &InstanceId) -> Result<()> {
        // Not a UUID: no instance of Shadeform's can have this id, so it is gone.
        match instance_uuid(id) {
            Some(uuid) => api::delete(self.http(), "terminate_instance", &uuid).await,
            None => Ok(()),
        }
    }
}

#[async_trait]
impl RebootInstance for ShadeformClient {
    /// Shadeform's restart: accepted while the instance is `active`, and it stays `active`
    /// throughout (the machine is back a few minutes later).
    async fn reboot_instance(&self, id: &InstanceId) -> Result<()> {
        const OP: &str = "reboot_instance";
        let uuid = instance_uuid(id)
            .ok_or_else(|| CloudError::instance_not_found(PROVIDER, OP, id.as_str()))?;
        match api::restart(self.http(), OP, &uuid).await {
            Err(error) if error.kind() == ErrorKind::Conflict => {
                let state = api::info(self.http(), OP, &uuid).await.map_or_else(
                    |_| "not active".to_owned(),
                    |w| w.status.as_str().to_owned(),
                );
                Err(CloudError::provider(
                    PROVIDER,
                    OP,
                    ErrorKind::Conflict,
                    format!("instance {id} is {state}: shadeform restarts active instances only"),
                )
                .with_source(error))
            }
            other => other,
        }
    }
}

#[async_trait]
impl InstanceTags for ShadeformClient {
    /// Replaces the user tags through Shadeform's update, keeping the bookkeeping tags.
    async fn update_instance_tags(&self, args: &ValidTagUpdate) -> Result<()> {
        const OP: &str = "update_instance_tags";
        convert::check_user_tags(args.tags())?;
        let id = args.instance_id();
        let uuid = instance_uuid(id)
            .ok_or_else(|| CloudError::instance_not_found(PROVIDER, OP, id.as_str()))?;
        let current = api::info(self.http(), OP, &uuid).await?;
        let (bookkeeping, _) = Bookkeeping::decode(
            current
                .tags
                .iter()
                .map(|t| t.split_once('=').unwrap_or((t.as_str(), ""))),
        );
        api::update_tags(
            self.http(),
            OP,
            &uuid,
            convert::wire_tags(args.tags(), &bookkeeping),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use gpucloud_core::{
        ArchitectureFilter, Capability, CloudClientExt, CloudFilter, LocationsFilter,
    };

    use super::*;

    fn credential() -> ShadeformCredential {
        ShadeformCredential::new(
            ShadeformConfig::new("secret-key")
                .with_base_url("http://127.0.0.1:9/v1")
                .with_ref_id("cred-1"),
        )
        .unwrap()
    }

    #[test]
    fn capabilities_are_declared_exactly() {
        let client = credential().client("");
        let caps = client.capabilities();
        let expected = [
            Capability::CreateInstance,
            Capability::TerminateInstance,
            Capability::CreateTerminateInstance,
            Capability::CreateIdempotentInstance,
            Capability::InstanceUserData,
            Capability::Tags,
            Capability::RebootInstance,
        ];
        assert_eq!(caps.0, expected);
        assert!(client.stop_start().is_err(), "Shadeform cannot stop");
        assert!(
            client.modify_firewall().is_err(),
            "rules are set at create only"
        );
        let f = client.create_features();
        assert!(f.tags && f.firewall_rules && f.user_data && f.sub_location && f.image);
        assert!(!f.disk_size && !f.spot && !f.vpc && !f.egress_filtering);
    }

    #[test]
    fn the_tenant_id_hides_the_key() {
        let cred = credential();
        let tenant = cred.identity().tenant_id();
        assert!(tenant.starts_with("shadeform-") && !tenant.contains("secret-key"));
        assert!(!format!("{cred:?}").contains("secret-key"));
        assert!(!format!("{:?}", cred.client("x")).contains("secret-key"));
        assert_eq!(cred.identity().api_type(), ApiType::Global);
        assert_eq!(cred.identity().reference_id(), "cred-1");
    }

    #[test]
    fn filters_become_the_api_query_where_it_has_them() {
        let q = |args: &GetInstanceTypeArgs| ShadeformClient::type_query(args);
        assert!(q(&GetInstanceTypeArgs::default()).is_empty());
        let by_name = GetInstanceTypeArgs {
            instance_types: vec!["hyperstack_A100_80G".into()],
            locations: LocationsFilter::only(["ca-central"]),
            ..GetInstanceTypeArgs::default()
        };
        assert_eq!(
            q(&by_name),
            [
                ("cloud", "hyperstack".to_owned()),
                ("shade_instance_type", "A100_80G".to_owned()),
            ]
        );
        let by_cloud = GetInstanceTypeArgs {
            cloud_filter: Some(CloudFilter::include(vec!["shadeform".into()])),
            // A location is filtered here, never sent as one of its regions.
            locations: LocationsFilter::only(["us-central"]),
            architecture_filter: Some(ArchitectureFilter::include(vec![
                gpucloud_core::Architecture::Arm64,
            ])),
            ..GetInstanceTypeArgs::default()
        };
        assert_eq!(q(&by_cloud), [("cloud", "excesssupply".to_owned())]);
        let contradictory = GetInstanceTypeArgs {
            cloud_filter: Some(CloudFilter::include(vec!["verda".into()])),
            instance_types: vec!["hyperstack_A4000".into()],
            ..GetInstanceTypeArgs::default()
        };
        assert!(q(&contradictory).is_empty());
    }

    #[test]
    fn ids_that_are_not_uuids_never_reach_a_path() {
        for id in [
            "../sshkeys",
            "abc",
            "",
            "d290f1ee-6c54-4b01-90e6-d701748f085/x",
        ] {
            assert!(instance_uuid(&InstanceId::new(id)).is_none(), "{id}");
        }
        for bad in ["", "a/b", "../x", "a b", "k?x=1"] {
            assert!(!api::path_safe(bad), "{bad}");
        }
        assert!(api::path_safe("78a0dd5a-dbb1-4568-b55c-5e7e0a8b0c40"));
    }
}
