//! The credential and the client: `CloudCredential`, `CloudClient` and `StopStartInstance`
//! over Verda's API, built from one typed call per endpoint and the conversions.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gpucloud_bootstrap::Bootstrap;
use gpucloud_core::bookkeeping::is_marked_by;
use gpucloud_core::outcome::{ResolveBudget, Resolved, UnknownCreate, resolve_unknown_create};
use gpucloud_core::sshkey::PublicKey;
use gpucloud_core::validate::ValidCreate;
use gpucloud_core::{
    ApiType, Bookkeeping, CapabilityTable, CloudClient, CloudCredential, CloudError, CompactString,
    CreateFeatures, ErrorKind, FirewallRule, GetInstanceTypeArgs, GetLocationsArgs, Identity,
    Instance, InstanceId, InstanceType, LifecycleStatus, ListInstancesArgs, Location, Result,
    Retry, StopStartInstance, tenant_id_from_secret,
};
use gpucloud_http::{Auth, HttpClient, HttpConfig, RetryPolicy, parse_base_url};
use tokio::sync::Mutex;

use crate::api::Api;
use crate::config::VerdaConfig;
use crate::convert::{self, PROVIDER};
use crate::error::classifier;
use crate::token::Tokens;
use crate::wire;

/// The provider id.
pub const PROVIDER_ID: &str = PROVIDER;

/// State shared by a credential and every client it makes: one HTTP client (and rate
/// limiter) and one access token for the account.
struct Shared {
    api: Api,
    config: VerdaConfig,
    identity: Identity,
    /// Serializes creates in this process, so the RefID lookup and the create it guards cannot
    /// interleave with another create of the same RefID.
    create_lock: Mutex<()>,
}

/// A Verda credential: the OAuth2 client id and secret and the control plane's reference id.
///
/// API type global (one catalog call answers for every location); tenant id `verda-<hex
/// SHA-256 of the client id>` (stable across secret rotation); `Debug` never shows the secret
/// or the token.
#[derive(Clone)]
pub struct VerdaCredential {
    shared: Arc<Shared>,
}

impl fmt::Debug for VerdaCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerdaCredential")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl VerdaCredential {
    /// A credential from a configuration. Fails when a field is invalid (the error names it)
    /// or the API root is not `https` (plain `http` only to loopback). No request is made
    /// until the first call.
    pub fn new(config: VerdaConfig) -> Result<Self> {
        config.validate()?;
        let root = format!("{}/", config.effective_base_url().trim_end_matches('/'));
        let http_config = HttpConfig::default()
            .with_base_url(parse_base_url(&root)?)
            .with_request_timeout(config.effective_request_timeout())
            .with_retry(
                RetryPolicy::default()
                    .with_backoff(config.effective_retry_backoff(), Duration::from_secs(20)),
            );
        // The token goes on each request (see `api`); the client itself sends none.
        let http = HttpClient::new(PROVIDER, http_config, Auth::None, classifier)?;
        let identity = Identity::new(
            PROVIDER,
            ApiType::Global,
            config.ref_id.clone(),
            tenant_id_from_secret(PROVIDER, config.client_id.as_bytes()),
        );
        let tokens = Tokens::new(
            &root,
            &config.client_id,
            config.secret(),
            config.token_cache_dir.as_deref(),
        );
        Ok(Self {
            shared: Arc::new(Shared {
                api: Api { http, tokens },
                config,
                identity,
                create_lock: Mutex::new(()),
            }),
        })
    }

    /// The configuration this credential was made from.
    pub fn config(&self) -> &VerdaConfig {
        &self.shared.config
    }

    /// A client whose creates default to `location` (a location code such as `FIN-01`;
    /// empty: none). Verda's API is global, so every client sees every location.
    pub fn client(&self, location: &str) -> VerdaClient {
        VerdaClient {
            shared: Arc::clone(&self.shared),
            location: location.to_owned(),
        }
    }
}

#[async_trait]
impl CloudCredential for VerdaCredential {
    fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    async fn make_client(&self, location: &str) -> Result<Arc<dyn CloudClient>> {
        Ok(Arc::new(self.client(location)))
    }
}

/// A client of one Verda account.
///
/// Implements [`CloudClient`] and [`StopStartInstance`] (Verda's `shutdown` and `start`
/// actions). Verda has no firewall API: the rules are enforced by the startup script, so
/// `modify-firewall` is not declared; it has no reboot action either.
#[derive(Clone)]
pub struct VerdaClient {
    shared: Arc<Shared>,
    location: String,
}

impl fmt::Debug for VerdaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerdaClient")
            .field("ref_id", &self.shared.config.ref_id)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// What a create made on the way, removed again when it fails.
#[derive(Debug, Default)]
struct Made {
    /// The SSH key, when this create added it.
    key_id: Option<String>,
    /// The startup script.
    script_id: Option<String>,
}

/// Whether a failed cleanup step may succeed when made again.
fn cleanup_may_retry(error: &CloudError) -> bool {
    error.retry() != Retry::Exhausted && error.kind().is_transient_failure()
}

impl VerdaClient {
    fn api(&self) -> &Api {
        &self.shared.api
    }

    fn ssh_user(&self) -> &str {
        self.shared.config.effective_ssh_user()
    }

    fn convert(&self, w: wire::Instance) -> Instance {
        convert::instance(w, self.ssh_user())
    }

    /// Runs one idempotent cleanup request (a delete, or the read it needs) through core's
    /// [`cleanup_step`](gpucloud_core::retry::cleanup_step): what cleanup leaves is otherwise
    /// left for good.
    async fn cleanup_step<T, F, Fut>(&self, step: F) -> Result<T>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
        T: Send,
    {
        gpucloud_core::retry::cleanup_step(
            self.shared.config.effective_retry_backoff(),
            cleanup_may_retry,
            step,
        )
        .await
    }

    /// This credential's instance with `ref_id` in `instances` that is not on its way out or
    /// failed.
    fn live_with_ref_id(
        &self,
        instances: &[wire::Instance],
        ref_id: &str,
    ) -> Option<wire::Instance> {
        let me = self.shared.config.ref_id.as_str();
        instances
            .iter()
            .find(|w| {
                let (r, c) = convert::bookkeeping_of(&w.description);
                let lifecycle = convert::lifecycle(&w.status);
                r == ref_id
                    && is_marked_by(&c, me)
                    && !lifecycle.is_terminal()
                    && lifecycle != LifecycleStatus::Terminating
            })
            .cloned()
    }

    /// What a create of unknown outcome made: this credential's instance with `ref_id` that is
    /// not on its way out or failed, else one that failed (an order Verda accepted but could
    /// not fulfil). A failed one counts: it holds its OS volume until deleted, and the create
    /// deletes and reports it as it does when the answer arrives.
    async fn made_by_unknown_create(
        &self,
        op: &'static str,
        ref_id: &str,
    ) -> Result<Option<wire::Instance>> {
        let instances = self.api().instances(op).await?;
        if let Some(live) = self.live_with_ref_id(&instances, ref_id) {
            return Ok(Some(live));
        }
        let me = self.shared.config.ref_id.as_str();
        Ok(instances.into_iter().find(|w| {
            let (r, c) = convert::bookkeeping_of(&w.description);
            r == ref_id
                && is_marked_by(&c, me)
                && convert::lifecycle(&w.status) == LifecycleStatus::Failed
        }))
    }

    /// The image of a create: the one asked for, else the type's default non-cluster image
    /// (else its first non-cluster one).
    async fn image(&self, op: &'static str, create: &ValidCreate) -> Result<String> {
        let attrs = create.attrs();
        if !attrs.image_id.is_empty() {
            return Ok(attrs.image_id.clone());
        }
        let images = self.api().images(op, &attrs.instance_type).await?;
        let single: Vec<&wire::Image> = images.iter().filter(|i| !i.is_cluster).collect();
        single
            .iter()
            .find(|i| i.is_default)
            .or_else(|| single.first())
            .map(|i| i.image_type.clone())
            .ok_or_else(|| {
                CloudError::invalid(
                    "image_id",
                    format!(
                        "Verda lists no image for {:?}; name one",
                        attrs.instance_type
                    ),
                )
            })
    }

    /// The account's key for `key`: one it already holds (compared by key, in any encoding,
    /// never by name), else one added under `name`. A key named `name` (this RefID's) is this
    /// create's to remove on failure; one of another key text that no instance uses was left
    /// by an earlier create of this RefID and is deleted first.
    async fn ensure_key(
        &self,
        op: &'static str,
        key: &PublicKey,
        name: &str,
        instances: &[wire::Instance],
        made: &mut Made,
    ) -> Result<String> {
        let keys = self.api().ssh_keys(op).await?;
        if let Some(k) = keys.iter().find(|k| key.same_key_text(&k.key)) {
            if k.name == name {
                made.key_id = Some(k.id.clone());
            }
            return Ok(k.id.clone());
        }
        let used = |id: &str| {
            instances
                .iter()
                .any(|i| i.ssh_key_ids.iter().any(|k| k == id))
        };
        for stale in keys.iter().filter(|k| k.name == name && !used(&k.id)) {
            self.cleanup_step(|| self.api().delete_ssh_key(op, &stale.id))
                .await?;
        }
        let openssh = key.to_openssh();
        let body = wire::AddSshKey {
            name,
            key: &openssh,
        };
        match self.api().add_ssh_key(op, &body).await {
            Ok(id) => {
                made.key_id = Some(id.clone());
                Ok(id)
            }
            Err(error) if error.outcome_unknown() => {
                // Perhaps added: look, and own it if it is there under our name.
                let Ok(keys) = self.cleanup_step(|| self.api().ssh_keys(op)).await else {
                    return Err(error);
                };
                match keys.into_iter().find(|k| key.same_key_text(&k.key)) {
                    Some(k) => {
                        if k.name == name {
                            made.key_id = Some(k.id.clone());
                        }
                        Ok(k.id)
                    }
                    None => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Adds the startup script under `name`. A script of that name (this RefID's) that no
    /// instance uses was left by an earlier create of this RefID and is deleted first.
    async fn add_script(
        &self,
        op: &'static str,
        name: &str,
        script: &str,
        instances: &[wire::Instance],
        made: &mut Made,
    ) -> Result<String> {
        let used = |id: &str| instances.iter().any(|i| i.startup_script_id == id);
        let scripts = self.api().scripts(op).await?;
        for stale in scripts.iter().filter(|s| s.name == name && !used(&s.id)) {
            self.cleanup_step(|| self.api().delete_script(op, &stale.id))
                .await?;
        }
        let body = wire::AddScript { name, script };
        match self.api().add_script(op, &body).await {
            Ok(id) => {
                made.script_id = Some(id.clone());
                Ok(id)
            }
            Err(error) if error.outcome_unknown() => {
                // Perhaps added: the stale ones are gone, so a script of this name is ours.
                let Ok(scripts) = self.cleanup_step(|| self.api().scripts(op)).await else {
                    return Err(error);
                };
                match scripts.into_iter().find(|s| s.name == name && !used(&s.id)) {
                    Some(s) => {
                        made.script_id = Some(s.id.clone());
                        Ok(s.id)
                    }
                    None => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Removes what a failed create made: the instance (with its OS volume), the script and
    /// the key. Best effort; each failure is logged, the create's own error is the one to
    /// report.
    async fn roll_back(&self, op: &'static str, instance: Option<&wire::Instance>, made: Made) {
        if let Some(w) = instance
            && let Err(e) = self.delete_instance(op, w).await
        {
            tracing::warn!(instance = %w.id, error = %e, "could not delete the instance of a failed create");
        }
        if let Some(id) = made.script_id
            && let Err(e) = self
                .cleanup_step(|| self.api().delete_script(op, &id))
                .await
        {
            tracing::warn!(script = %id, error = %e, "could not delete the startup script of a failed create");
        }
        if let Some(id) = made.key_id
            && let Err(e) = self
                .cleanup_step(|| self.api().delete_ssh_key(op, &id))
                .await
        {
            tracing::warn!(ssh_key = %id, error = %e, "could not delete the SSH key of a failed create");
        }
    }

    /// The delete action for `w` with its OS volume (the only volume an instance owns: one it
    /// was created with), permanently.
    async fn delete_instance(&self, op: &'static str, w: &wire::Instance) -> Result<()> {
        let volumes: Vec<&str> = Some(w.os_volume_id.as_str())
            .filter(|v| !v.is_empty())
            .into_iter()
            .collect();
        let body = wire::Action {
            action: "delete",
            id: [w.id.as_str()],
            volume_ids: (!volumes.is_empty()).then_some(volumes),
            delete_permanently: true,
        };
        match self.cleanup_step(|| self.api().action(op, &body)).await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }

    /// A create refused with `invalid_request`: when the type is not orderable in the
    /// location for its class now, the refusal is Verda's "no capacity", which has no code of
    /// its own.
    async fn capacity_or(
        &self,
        op: &'static str,
        error: CloudError,
        instance_type: &str,
        spot: bool,
        location: &str,
    ) -> CloudError {
        if error.kind() != ErrorKind::InvalidArgument {
            return error;
        }
        match self
            .api()
            .type_available(op, instance_type, spot, location)
            .await
        {
            Ok(false) => CloudError::provider(
                PROVIDER,
                op,
                ErrorKind::InsufficientCapacity,
                format!(
                    "{instance_type}{} is not available in {location} now",
                    if spot { " (spot)" } else { "" }
                ),
            )
            .with_source(error),
            _ => error,
        }
    }

    /// Launches after the RefID lookup found nothing; what `made` holds is removed again when
    /// the create fails.
    async fn launch(
        &self,
        create: &ValidCreate,
        body: wire::CreateInstance<'_>,
        mut made: Made,
    ) -> Result<Instance> {
        const OP: &str = "create_instance";
        let attrs = create.attrs();
        let created = match self.api().create_instance(OP, &body).await {
            Ok(id) => match self.api().instance(OP, &id).await {
                Ok(w) => w,
                Err(e) => {
                    // The instance exists and the caller must learn its id: answer with what
                    // the create itself knows; a get later fills in the rest.
                    tracing::warn!(instance = %id, error = %e, "created, but reading the instance failed; returning what is known");
                    wire::Instance {
                        id,
                        instance_type: body.instance_type.to_owned(),
                        hostname: body.hostname.to_owned(),
                        description: body.description.to_owned(),
                        status: "ordered".to_owned(),
                        location: body.location_code.to_owned(),
                        image: body.image.to_owned(),
                        is_spot: body.is_spot,
                        startup_script_id: body.startup_script_id.to_owned(),
                        ..wire::Instance::default()
                    }
                }
            },
            Err(error) if error.outcome_unknown() => {
                // The create may have happened: look it up by RefID (core's one rule), never
                // create again blindly.
                tracing::info!(ref_id = %attrs.ref_id, error = %error, "create outcome unknown; looking the instance up");
                let budget = ResolveBudget::with_initial_backoff(
                    self.shared.config.effective_retry_backoff(),
                );
                let unknown = UnknownCreate {
                    provider: PROVIDER,
                    operation: OP,
                    ref_id: &attrs.ref_id,
                    error,
                };
                // Still unknown (`?`): the key and script may be in use by an instance we
                // cannot see, so they stay; a create with this RefID resolves it, and deletes
                // them if it finds no instance.
                match resolve_unknown_create(&budget, unknown, || {
                    self.made_by_unknown_create(OP, &attrs.ref_id)
                })
                .await?
                {
                    Resolved::Found(found) => found,
                    Resolved::Absent(error) => {
                        self.roll_back(OP, None, made).await;
                        return Err(error);
                    }
                }
            }
            Err(error) => {
                let error = self
                    .capacity_or(
                        OP,
                        error,
                        body.instance_type,
                        body.is_spot,
                        body.location_code,
                    )
                    .await;
                self.roll_back(OP, None, made).await;
                return Err(error);
            }
        };
        match created.status.as_str() {
            failed @ ("no_capacity" | "error") => {
                let kind = if failed == "no_capacity" {
                    ErrorKind::InsufficientCapacity
                } else {
                    ErrorKind::InstanceFailed
                };
                self.roll_back(OP, Some(&created), std::mem::take(&mut made))
                    .await;
                Err(CloudError::provider(
                    PROVIDER,
                    OP,
                    kind,
                    format!(
                        "verda accepted the order but the instance went {failed}; it was deleted"
                    ),
                ))
            }
            _ => Ok(self.created(created, create)),
        }
    }

    /// The model instance of a create's result, filling in what the create itself knows.
    fn created(&self, w: wire::Instance, create: &ValidCreate) -> Instance {
        let mut instance = self.convert(w);
        instance.pub_key_fingerprint = create.public_key().fingerprint_sha256();
        instance.firewall_rules = create.attrs().firewall_rules.clone();
        instance
    }

    /// Runs a stop or start; a refusal for the instance's state is a `Conflict` naming it.
    async fn state_action(
        &self,
        op: &'static str,
        action: &'static str,
        id: &InstanceId,
    ) -> Result<()> {
        if !crate::api::path_safe(id.as_str()) {
            return Err(CloudError::instance_not_found(PROVIDER, op, id.as_str()));
        }
        let body = wire::Action {
            action,
            id: [id.as_str()],
            volume_ids: None,
            delete_permanently: false,
        };
        match self.api().action(op, &body).await {
            Err(error) if error.kind() == ErrorKind::InvalidArgument => {
                let state = self
                    .api()
                    .instance(op, id.as_str())
                    .await
                    .map_or_else(|_| "in another state".to_owned(), |w| w.status);
                Err(CloudError::provider(
                    PROVIDER,
                    op,
                    ErrorKind::Conflict,
                    format!("instance {id} is {state}: verda cannot {action} it now"),
                )
                .with_source(error))
            }
            other => other,
        }
    }
}

#[async_trait]
impl CloudClient for VerdaClient {
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
            firewall_rules: true,
            image: true,
            disk_size: true,
            spot: true,
            ..CreateFeatures::default()
        }
    }

    /// Every location, available when some type is orderable there (on demand or spot).
    async fn locations(&self, args: GetLocationsArgs) -> Result<Vec<Location>> {
        const OP: &str = "locations";
        let (mut all, on_demand, spot) = tokio::try_join!(
            self.api()
                .locations(OP, Vec::new, |all: &mut Vec<Location>, w| {
                    all.push(convert::location(&w, false));
                }),
            self.api().availability(OP, false),
            self.api().availability(OP, true),
        )?;
        for l in &mut all {
            l.available = !on_demand.at(&l.name).is_empty() || !spot.at(&l.name).is_empty();
        }
        all.retain(|l| l.available || args.include_unavailable);
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// Every type in every location, on demand and spot, asked in four calls at once.
    async fn instance_types(&self, args: &GetInstanceTypeArgs) -> Result<Vec<InstanceType>> {
        const OP: &str = "instance_types";
        let currency = self.shared.config.effective_currency();
        let (locations, types, on_demand, spot) = tokio::try_join!(
            self.api()
                .locations(OP, Vec::new, |codes: &mut Vec<CompactString>, l| {
                    if args.locations.matches(&l.code) {
                        codes.push(CompactString::from(l.code.as_str()));
                    }
                }),
            self.api()
                .instance_types(OP, currency, Vec::new, |types: &mut Vec<_>, t| {
                    types.push(convert::type_offer(&t, currency));
                }),
            self.api().availability(OP, false),
            self.api().availability(OP, true),
        )?;
        let catalog = convert::Catalog {
            types: &types,
            locations: &locations,
            on_demand: &on_demand,
            spot: &spot,
        };
        Ok(catalog.entries(|entry| args.matches(entry)))
    }

    async fn create_instance(&self, create: ValidCreate) -> Result<Instance> {
        const OP: &str = "create_instance";
        let attrs = create.attrs();
        let location = if attrs.location.is_empty() {
            self.location.as_str()
        } else {
            attrs.location.as_str()
        };
        if location.is_empty() {
            return Err(CloudError::invalid(
                "location",
                "Verda needs a location code (e.g. FIN-01): give one, or make the client for one",
            ));
        }
        let bookkeeping = Bookkeeping {
            ref_id: attrs.ref_id.clone(),
            cred_ref_id: self.shared.config.ref_id.clone(),
            created_at: None,
        };
        let description = convert::description(&bookkeeping).ok_or_else(|| {
            CloudError::invalid(
                "ref_id",
                format!(
                    "the RefID and the credential's reference together must fit Verda's \
                     {}-character description",
                    convert::DESCRIPTION_MAX_CHARS
                ),
            )
        })?;
        let os_volume_gb = convert::os_volume_gb(attrs.disk_size_bytes)?;
        let rules: Vec<FirewallRule> = create
            .ingress_rules()
            .iter()
            .enumerate()
            .map(|(i, rule)| rule.to_rule(i.to_string()))
            .collect();
        let mut bootstrap = Bootstrap::new(self.ssh_user(), &attrs.public_key)?
            .with_ingress_rules(&rules)?
            .with_hostname(create.hostname())?;
        if let Some(data) = create.user_data() {
            bootstrap = bootstrap.with_user_data(data)?;
        }
        let script = bootstrap.startup_script(PROVIDER)?;
        let image = self.image(OP, &create).await?;
        let name = convert::managed_name(&attrs.ref_id);

        let _guard = self.shared.create_lock.lock().await;
        let instances = self.api().instances(OP).await?;
        if let Some(existing) = self.live_with_ref_id(&instances, &attrs.ref_id) {
            return Ok(self.created(existing, &create));
        }
        let mut made = Made::default();
        let key_id = match self
            .ensure_key(OP, create.public_key(), &name, &instances, &mut made)
            .await
        {
            Ok(id) => id,
            Err(e) => {
                self.roll_back(OP, None, made).await;
                return Err(e);
            }
        };
        let script_id = match self
            .add_script(OP, &name, &script, &instances, &mut made)
            .await
        {
            Ok(id) => id,
            Err(e) => {
                self.roll_back(OP, None, made).await;
                return Err(e);
            }
        };
        let body = wire::CreateInstance {
            instance_type: &attrs.instance_type,
            image: &image,
            hostname: create.hostname(),
            description: &description,
            ssh_key_ids: vec![&key_id],
            location_code: location,
            startup_script_id: &script_id,
            is_spot: attrs.use_spot,
            os_volume: wire::OsVolume {
                name: &name,
                size: os_volume_gb,
                on_spot_discontinue: attrs.use_spot.then_some("delete_permanently"),
            },
        };
        self.launch(&create, body, made).await
    }

    async fn get_instance(&self, id: &InstanceId) -> Result<Instance> {
        Ok(self.convert(self.api().instance("get_instance", id.as_str()).await?))
    }

    async fn list_instances(&self, args: &ListInstancesArgs) -> Result<Vec<Instance>> {
        let me = self.shared.config.ref_id.as_str();
        Ok(self
            .api()
            .instances("list_instances")
            .await?
            .into_iter()
            .filter(|w| args.keeps_mark(&convert::bookkeeping_of(&w.description).1, me))
            .map(|w| self.convert(w))
            .filter(|i| args.matches(i))
            .collect())
    }

    /// Deletes the startup script and the SSH key the instance's create made (named after
    /// its RefID), then the instance with its OS volume. An instance already gone is
    /// terminated.
    ///
    /// The script and key go first: the instance is the only pointer to them, so while they
    /// exist it must too, and a terminate that fails half-way finds them again when called
    /// again. The machine does not need them once booted (the key is in its
    /// `authorized_keys`, the script has run).
    async fn terminate_instance(&self, id: &InstanceId) -> Result<()> {
        const OP: &str = "terminate_instance";
        let w = match self.api().instance(OP, id.as_str()).await {
            Ok(w) => w,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        let (ref_id, cred) = convert::bookkeeping_of(&w.description);
        if !ref_id.is_empty() && is_marked_by(&cred, &self.shared.config.ref_id) {
            let name = convert::managed_name(&ref_id);
            let (scripts, keys) = tokio::try_join!(
                self.cleanup_step(|| self.api().scripts(OP)),
                self.cleanup_step(|| self.api().ssh_keys(OP)),
            )?;
            for script in scripts
                .iter()
                .filter(|s| s.id == w.startup_script_id && s.name == name)
            {
                self.cleanup_step(|| self.api().delete_script(OP, &script.id))
                    .await?;
            }
            for key in keys
                .iter()
                .filter(|k| w.ssh_key_ids.contains(&k.id) && k.name == name)
            {
                self.cleanup_step(|| self.api().delete_ssh_key(OP, &key.id))
                    .await?;
            }
        }
        self.delete_instance(OP, &w).await
    }
}

#[async_trait]
impl StopStartInstance for VerdaClient {
    /// Verda's `shutdown` action: accepted while the instance runs; it goes `offline`,
    /// keeping its volumes (and their billing).
    async fn stop_instance(&self, id: &InstanceId) -> Result<()> {
        self.state_action("stop_instance", "shutdown", id).await
    }

    /// Verda's `start` action: accepted while the instance is `offline`.
    async fn start_instance(&self, id: &InstanceId) -> Result<()> {
        self.state_action("start_instance", "start", id).await
    }
}

#[cfg(test)]
mod tests {
    use gpucloud_core::{Capability, CloudClientExt};

    use super::*;

    fn credential() -> VerdaCredential {
        VerdaCredential::new(
            VerdaConfig::new("client-1", "very-secret")
                .with_base_url("http://127.0.0.1:9/v1")
                .with_ref_id("cred-1"),
        )
        .unwrap()
    }

    #[test]
    fn capabilities_are_declared_exactly() {
        let client = credential().client("");
        let caps = client.capabilities();
        for expected in [
            Capability::CreateInstance,
            Capability::TerminateInstance,
            Capability::CreateTerminateInstance,
            Capability::CreateIdempotentInstance,
            Capability::InstanceUserData,
            Capability::StopStartInstance,
        ] {
            assert!(caps.contains(expected), "{expected:?}");
        }
        assert!(client.reboot().is_err(), "Verda has no reboot action");
        assert!(
            client.modify_firewall().is_err(),
            "rules are set at create only"
        );
        let f = client.create_features();
        assert!(f.firewall_rules && f.user_data && f.spot && f.disk_size && f.image);
        assert!(!f.tags && !f.vpc && !f.egress_filtering && !f.sub_location);
    }

    #[test]
    fn the_tenant_comes_from_the_client_id_and_nothing_shows_the_secret() {
        let cred = credential();
        let rotated = VerdaCredential::new(
            VerdaConfig::new("client-1", "rotated").with_base_url("http://127.0.0.1:9/v1"),
        )
        .unwrap();
        assert_eq!(cred.identity().tenant_id(), rotated.identity().tenant_id());
        assert!(cred.identity().tenant_id().starts_with("verda-"));
        assert!(!format!("{cred:?}").contains("very-secret"));
        assert!(!format!("{:?}", cred.client("FIN-01")).contains("very-secret"));
        assert_eq!(cred.identity().api_type(), ApiType::Global);
    }
}
