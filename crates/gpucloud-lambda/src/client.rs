//! The credential and the client: `CloudCredential`, `CloudClient` and the capability traits
//! over Lambda's REST API.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gpucloud_core::bookkeeping::{self, CRED_REF_ID_TAG, REF_ID_TAG};
use gpucloud_core::outcome::{ResolveBudget, Resolved, UnknownCreate, resolve_unknown_create};
use gpucloud_core::sshkey::PublicKey;
use gpucloud_core::{
    ApiType, Bookkeeping, CapabilityTable, CloudClient, CloudCredential, CloudError,
    CreateFeatures, Delivery, ErrorKind, GetImageArgs, GetInstanceTypeArgs, GetLocationsArgs,
    Identity, Image, Instance, InstanceId, InstanceType, LifecycleStatus, ListInstancesArgs,
    Location, MachineImage, ModifyFirewall, RebootInstance, Result, Retry, ValidCreate,
    ValidFirewallAdd, ValidFirewallRevoke, missing_rules, tenant_id_from_secret,
};
use gpucloud_http::{ApiKey, Auth, HttpClient, HttpConfig, RateLimit, RetryPolicy, parse_base_url};
use jiff::Timestamp;
use tokio::sync::Mutex;

use crate::api;
use crate::config::LambdaConfig;
use crate::error::classifier;
use crate::wire;
use crate::{PROVIDER_ID, TENANT_PREFIX};
use crate::{from_wire, to_wire};

/// State shared by a credential and every client it makes: one HTTP client (so one pair of
/// rate limiters per account, as Lambda's limits are per account) and one create lock.
struct Shared {
    http: HttpClient,
    /// The first wait between two attempts of a cleanup step (the HTTP retry backoff).
    cleanup_backoff: Duration,
    /// The credential reference stamped on every instance and ruleset created.
    ref_id: String,
    identity: Identity,
    /// Serializes creates in this process, so a RefID lookup and the launch it guards cannot
    /// interleave with another create (Lambda allows one launch per 12 s anyway). The orphan
    /// sweep holds it too, so it never sees a ruleset a create here has made but not launched.
    create_lock: Mutex<()>,
    /// Minimum age of an unreferenced ruleset before the sweep deletes it.
    orphan_grace: Duration,
    /// The launches per minute the create rate limit lets through (what
    /// `max_create_requests_per_minute` reports).
    creates_per_minute: u32,
}

/// The burst of the general rate limit. Lambda documents "generally one request per second",
/// not one request every second: a command's few requests (`types` makes two) go out at once,
/// and the limit only spaces longer runs.
const GENERAL_BURST: u32 = 5;

/// A Lambda credential: the API key and the control plane's reference id.
///
/// API type global; tenant id `lambda-<hex SHA-256 of the key>`; `Debug` never shows the key.
#[derive(Clone)]
pub struct LambdaCredential {
    config: LambdaConfig,
    shared: Arc<Shared>,
}

impl fmt::Debug for LambdaCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LambdaCredential")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LambdaCredential {
    /// A credential from a configuration. Fails when the key is empty, a number is out of
    /// range, or the base URL is not `https` (plain `http` only to loopback).
    pub fn new(config: LambdaConfig) -> Result<Self> {
        config.validate()?;
        let base = parse_base_url(&format!(
            "{}{}",
            config.effective_base_url(),
            api::BASE_PATH
        ))?;
        let rps = config.effective_requests_per_second();
        let burst =
            NonZeroU32::new((rps.ceil().clamp(1.0, f64::from(u32::MAX)) as u32).max(GENERAL_BURST))
                .unwrap_or(NonZeroU32::MIN);
        let general =
            RateLimit::every(Duration::from_secs_f64((1.0 / rps).min(86_400.0))).with_burst(burst);
        // Launches: "one per 12 seconds, or five per minute", so no burst at the default.
        let launch = config.effective_launch_interval();
        let launch_limit = (!launch.is_zero()).then(|| RateLimit::every(launch));
        let creates_per_minute = launch_limit.map_or(u32::MAX, |l| l.per_minute_figure());
        let retry = RetryPolicy::default().with_backoff(
            Duration::from_millis(config.retry_backoff_ms.unwrap_or(500)),
            Duration::from_secs(20),
        );
        let http_config = HttpConfig::default()
            .with_base_url(base)
            .with_request_timeout(config.effective_request_timeout())
            .with_retry(retry)
            .with_rate_limit(general)
            .with_create_rate_limit(launch_limit);
        let http = HttpClient::new(
            PROVIDER_ID,
            http_config,
            Auth::Bearer(ApiKey::new(config.key())),
            classifier,
        )?;
        let shared = Arc::new(Shared {
            http,
            cleanup_backoff: retry.initial_backoff,
            ref_id: config.ref_id.clone(),
            identity: Identity::new(
                PROVIDER_ID,
                ApiType::Global,
                config.ref_id.clone(),
                tenant_id_from_secret(TENANT_PREFIX, config.key().as_bytes()),
            ),
            create_lock: Mutex::new(()),
            orphan_grace: config.effective_orphan_ruleset_grace(),
            creates_per_minute,
        });
        Ok(Self { config, shared })
    }

    /// The configuration this credential was made from.
    pub fn config(&self) -> &LambdaConfig {
        &self.config
    }

    /// A client bound to `location` (empty: none), sharing this credential's HTTP client.
    pub fn client(&self, location: &str) -> LambdaClient {
        LambdaClient {
            shared: Arc::clone(&self.shared),
            location: location.to_owned(),
        }
    }
}

#[async_trait]
impl CloudCredential for LambdaCredential {
    fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    async fn make_client(&self, location: &str) -> Result<Arc<dyn CloudClient>> {
        Ok(Arc::new(self.client(location)))
    }
}

/// A client of one Lambda account, optionally bound to a region.
///
/// Implements [`CloudClient`], [`RebootInstance`], [`MachineImage`] and [`ModifyFirewall`] (for
/// instances it created, through their own firewall ruleset), all declared in its capability
/// table. Tags are set at launch only: Lambda's API (1.10.0) cannot update an instance's tags
/// afterwards (`POST /instances/{id}` takes only `name`), so the tags capability is not
/// supported and `CloudClientExt::tags` answers `NotImplemented`.
#[derive(Clone)]
pub struct LambdaClient {
    shared: Arc<Shared>,
    location: String,
}

impl fmt::Debug for LambdaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LambdaClient")
            .field("ref_id", &self.shared.ref_id)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// What one pass of `list_instances` keeps.
#[derive(Default)]
struct Listed {
    instances: Vec<Instance>,
    /// Per kept instance with a ruleset of its own: (index, expected names, referenced ids).
    wanted: Vec<(usize, [String; 2], Vec<wire::RulesetRef>)>,
    type_ids: from_wire::TypeIds,
}

/// What the listed instances reference: ruleset ids and instance ids.
#[derive(Default)]
struct Inventory {
    ruleset_ids: HashSet<String>,
    instance_ids: HashSet<String>,
}

impl Inventory {
    fn add(&mut self, w: &wire::Instance) {
        self.instance_ids.insert(w.id.clone());
        self.ruleset_ids.extend(from_wire::ruleset_ids(w));
    }

    /// True when a listed instance references the ruleset or the ruleset names one.
    fn referenced(&self, ruleset: &wire::FirewallRuleset) -> bool {
        self.ruleset_ids.contains(&ruleset.id)
            || ruleset
                .instance_ids
                .iter()
                .any(|id| self.instance_ids.contains(id))
    }
}

/// What a create added before the launch, removed again when the create fails.
#[derive(Default)]
struct Added {
    ssh_key_id: Option<String>,
    ruleset_id: Option<String>,
    /// A key this create asked Lambda to add whose answer was lost, and that the lookup after
    /// it could not find or rule out (that lookup failed too): its name and key. The key may
    /// exist, and nothing else would ever delete it, so the rollback looks for it again.
    unconfirmed_key: Option<(String, PublicKey)>,
}

/// The credential mark a Lambda instance carries (its [`CRED_REF_ID_TAG`]); empty when none.
fn credential_mark(w: &wire::Instance) -> &str {
    from_wire::tag_value(w, CRED_REF_ID_TAG).unwrap_or("")
}

/// True when an instance in `status` still answers a create with its RefID. One that is
/// terminating, terminated or failed does not: returning it would hand the caller an instance
/// that is going away, so the create launches a new one instead.
fn still_wanted(status: LifecycleStatus) -> bool {
    !status.is_terminal() && status != LifecycleStatus::Terminating
}

/// True when a cleanup request that failed this way may succeed if sent again: a failure of
/// the provider or the transport (a 5xx, reset, timeout, throttling, an unreadable answer),
/// unless the HTTP client has already used up its own attempts. A refusal (in use, not
/// allowed) is not retried: the sweep deals with what stays in use.
fn cleanup_may_retry(error: &CloudError) -> bool {
    error.retry() != Retry::Exhausted && error.kind().is_transient_failure()
}

impl LambdaClient {
    fn http(&self) -> &HttpClient {
        &self.shared.http
    }

    /// `GET /instances/{id}`.
    async fn raw_instance(
        &self,
        operation: &'static str,
        id: &InstanceId,
    ) -> Result<wire::Instance> {
        api::get_instance(self.http(), operation, id.as_str()).await
    }

    fn owned_by_me(&self, w: &wire::Instance) -> bool {
        bookkeeping::is_marked_by(credential_mark(w), &self.shared.ref_id)
    }

    /// The live instance of this credential with this RefID, if any: one on its way out is
    /// not the instance a create with that RefID asks for (see [`still_wanted`]).
    async fn find_by_ref_id(
        &self,
        operation: &'static str,
        ref_id: &str,
    ) -> Result<Option<wire::Instance>> {
        Ok(self.scan_instances(operation, Some(ref_id)).await?.0)
    }

    /// One list of the account's instances: the live instance of this credential with
    /// `ref_id` (when given) and what every listed instance references, for the sweep.
    async fn scan_instances(
        &self,
        operation: &'static str,
        ref_id: Option<&str>,
    ) -> Result<(Option<wire::Instance>, Inventory)> {
        api::list_instances(
            self.http(),
            operation,
            |(found, inventory): &mut (Option<wire::Instance>, Inventory), w| {
                inventory.add(&w);
                if let Some(ref_id) = ref_id
                    && found.is_none()
                    && self.owned_by_me(&w)
                    && from_wire::tag_value(&w, REF_ID_TAG) == Some(ref_id)
                    && still_wanted(from_wire::status(w.status.as_deref()).lifecycle_status)
                {
                    *found = Some(w);
                }
            },
        )
        .await
    }

    /// Deletes this credential's orphaned rulesets among `rulesets`: named by
    /// [`to_wire::ruleset_name`] for this credential, referenced by no instance in
    /// `inventory`, naming no listed instance in their `instance_ids`, and older than the
    /// grace. Failures are logged (a ruleset still in use is expected); returns how many were
    /// deleted. The caller holds the create lock.
    async fn sweep(
        &self,
        operation: &'static str,
        rulesets: &[wire::FirewallRuleset],
        inventory: &Inventory,
    ) -> usize {
        let now = Timestamp::now();
        let grace = self.shared.orphan_grace;
        let old_enough = |r: &wire::FirewallRuleset| {
            grace.is_zero()
                || r.created.is_some_and(|created| {
                    now.duration_since(created)
                        .try_into()
                        .is_ok_and(|age: Duration| age >= grace)
                })
        };
        let mut deleted = 0;
        for ruleset in rulesets.iter().filter(|r| {
            !r.id.is_empty()
                && to_wire::is_credential_ruleset(&r.name, &self.shared.ref_id)
                && !inventory.referenced(r)
                && old_enough(r)
        }) {
            match api::delete_firewall_ruleset(self.http(), operation, &ruleset.id).await {
                Ok(()) => {
                    tracing::info!(ruleset = %ruleset.id, name = %ruleset.name, "deleted an orphaned firewall ruleset");
                    deleted += 1;
                }
                Err(e) if e.is_not_found() => {}
                Err(e) if e.kind() == ErrorKind::Conflict => {
                    tracing::debug!(ruleset = %ruleset.id, error = %e, "orphaned firewall ruleset still in use; left for a later sweep");
                }
                Err(e) => {
                    tracing::warn!(ruleset = %ruleset.id, error = %e, "could not delete an orphaned firewall ruleset");
                }
            }
        }
        deleted
    }

    /// Lists the rulesets (unless `rulesets` already holds them) and sweeps them; best
    /// effort: failures are logged, never returned.
    async fn sweep_best_effort(
        &self,
        operation: &'static str,
        rulesets: Option<Vec<wire::FirewallRuleset>>,
        inventory: &Inventory,
    ) {
        let rulesets = match rulesets {
            Some(r) => r,
            None => match api::list_firewall_rulesets(self.http(), operation).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "could not list firewall rulesets to sweep orphans");
                    return;
                }
            },
        };
        self.sweep(operation, &rulesets, inventory).await;
    }

    /// Deletes the firewall rulesets this credential created that no instance uses any more,
    /// e.g. the ruleset of an instance Lambda still held while it terminated. Returns how
    /// many were deleted.
    ///
    /// Only rulesets whose name carries this credential's mark (see the crate's
    /// `SECURITY.md`) are candidates: never those of other credentials, of older SDK versions
    /// or made by hand. A candidate is deleted when no listed instance references it and it
    /// is older than [`LambdaConfig::effective_orphan_ruleset_grace`]. Costs one list of
    /// instances, one list of rulesets and one delete per orphan. Waits for a create in
    /// progress in this process. `create_instance` and `terminate_instance` run the same
    /// sweep, best effort.
    ///
    /// # Errors
    ///
    /// When listing the instances or the rulesets fails. A ruleset that cannot be deleted
    /// (still in use, or any other failure) is logged and skipped.
    pub async fn sweep_orphaned_rulesets(&self) -> Result<usize> {
        const OP: &str = "sweep_orphaned_rulesets";
        let _guard = self.shared.create_lock.lock().await;
        let (_, inventory) = self.scan_instances(OP, None).await?;
        let rulesets = api::list_firewall_rulesets(self.http(), OP).await?;
        Ok(self.sweep(OP, &rulesets, &inventory).await)
    }

    /// The name of an account key holding `public_key`, adding one when none does.
    async fn ensure_ssh_key(&self, create: &ValidCreate, added: &mut Added) -> Result<String> {
        const OP: &str = "create_instance";
        let attrs = create.attrs();
        let key = create.public_key();
        let keys = api::list_ssh_keys(self.http(), OP).await?;
        if let Some(existing) = keys.iter().find(|k| key.same_key_text(&k.public_key)) {
            return Ok(existing.name.clone());
        }
        let base = attrs.key_pair_name.as_deref().unwrap_or(&attrs.ref_id);
        let taken: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        let name = to_wire::unique_key_name(base, key, &taken);
        let body = wire::AddSshKey {
            name: name.clone(),
            public_key: attrs.public_key.clone(),
        };
        match api::add_ssh_key(self.http(), OP, &body).await {
            Ok(key) => {
                added.ssh_key_id = Some(key.id);
                Ok(if key.name.is_empty() { name } else { key.name })
            }
            Err(error) if error.outcome_unknown() || error.kind() == ErrorKind::Conflict => {
                // The key may exist now (our lost answer, or a concurrent create): look again.
                let keys = match self
                    .cleanup_step(|| api::list_ssh_keys(self.http(), OP))
                    .await
                {
                    Ok(keys) => keys,
                    Err(lookup) => {
                        if error.outcome_unknown() {
                            added.unconfirmed_key = Some((name.clone(), key.clone()));
                        }
                        return Err(CloudError::provider(
                            PROVIDER_ID,
                            OP,
                            lookup.kind(),
                            format!(
                                "adding the SSH key {name:?} failed ({error}) and looking it up \
                                 failed too ({lookup})"
                            ),
                        )
                        .with_retry(lookup.retry())
                        .with_source(lookup));
                    }
                };
                match keys.into_iter().find(|k| key.same_key_text(&k.public_key)) {
                    Some(key) => {
                        if key.name == name {
                            added.ssh_key_id = Some(key.id);
                        }
                        Ok(key.name)
                    }
                    None => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Creates the instance's own ruleset in `region`.
    async fn create_ruleset(
        &self,
        create: &ValidCreate,
        region: &str,
        added: &mut Added,
    ) -> Result<wire::FirewallRuleset> {
        const OP: &str = "create_instance";
        let rules = to_wire::with_ssh(to_wire::wire_rules(create.ingress_rules())?);
        let name = to_wire::ruleset_name(&self.shared.ref_id, &create.attrs().ref_id);
        let body = wire::CreateRuleset {
            name: name.clone(),
            region: region.to_owned(),
            rules,
        };
        match api::create_firewall_ruleset(self.http(), OP, &body).await {
            Ok(ruleset) => {
                added.ruleset_id = Some(ruleset.id.clone());
                Ok(ruleset)
            }
            Err(error) if error.outcome_unknown() => {
                let rulesets = api::list_firewall_rulesets(self.http(), OP).await?;
                let found = rulesets
                    .into_iter()
                    .find(|r| {
                        r.name == name
                            && r.region.as_ref().is_some_and(|g| g.name == region)
                            && r.instance_ids.is_empty()
                    })
                    .ok_or(error)?;
                added.ruleset_id = Some(found.id.clone());
                Ok(found)
            }
            Err(error) => Err(error),
        }
    }

    /// Removes what a failed create added; best effort, logged. Returns false when a key the
    /// create may have added could be neither found nor ruled out: it may still exist, and
    /// only a create of the same RefID (which reuses a key of the same text) settles it.
    async fn roll_back(&self, added: Added) -> bool {
        const OP: &str = "create_instance";
        let mut settled = true;
        if let Some(id) = added.ruleset_id
            && let Err(e) = self
                .delete_resource(|| api::delete_firewall_ruleset(self.http(), OP, &id))
                .await
        {
            tracing::warn!(ruleset = %id, error = %e, "could not delete the firewall ruleset of a failed create");
        }
        if let Some(id) = added.ssh_key_id
            && let Err(e) = self
                .delete_resource(|| api::delete_ssh_key(self.http(), OP, &id))
                .await
        {
            tracing::warn!(ssh_key = %id, error = %e, "could not delete the SSH key of a failed create");
            settled = false;
        }
        if let Some((name, key)) = added.unconfirmed_key {
            let found = self
                .cleanup_step(|| api::list_ssh_keys(self.http(), OP))
                .await
                .map(|keys| {
                    keys.into_iter()
                        .find(|k| k.name == name && key.same_key_text(&k.public_key))
                });
            let deleted = match found {
                Ok(None) => Ok(()),
                Ok(Some(k)) => {
                    self.delete_resource(|| api::delete_ssh_key(self.http(), OP, &k.id))
                        .await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = deleted {
                tracing::warn!(ssh_key = %name, error = %e, "could not find or delete the SSH key a failed create may have added");
                settled = false;
            }
        }
        settled
    }

    /// A delete as a cleanup step (see [`Self::cleanup_step`]); a 404 means it is already
    /// gone, which is what was wanted.
    async fn delete_resource<F, Fut>(&self, delete: F) -> Result<()>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<()>> + Send,
    {
        match self.cleanup_step(delete).await {
            Err(e) if !e.is_not_found() => Err(e),
            _ => Ok(()),
        }
    }

    /// Runs one idempotent cleanup request (a delete, or the list it needs), sending it again
    /// after a failure that another attempt may not meet: what cleanup leaves is otherwise
    /// left until a sweep (rulesets, after a grace) or forever (SSH keys). At most
    /// core's [`CLEANUP_ATTEMPTS`](gpucloud_core::retry::CLEANUP_ATTEMPTS), waiting the
    /// configured retry backoff, doubled each time.
    async fn cleanup_step<T, F, Fut>(&self, step: F) -> Result<T>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
        T: Send,
    {
        gpucloud_core::retry::cleanup_step(self.shared.cleanup_backoff, cleanup_may_retry, step)
            .await
    }

    async fn launch(
        &self,
        create: &ValidCreate,
        region: &str,
        added: &mut Added,
    ) -> Result<Instance> {
        const OP: &str = "create_instance";
        let attrs = create.attrs();
        let user_data = to_wire::user_data_text(create.user_data())?;
        let key_name = self.ensure_ssh_key(create, added).await?;
        // Every instance gets a ruleset of its own (SSH only when no rules were asked for),
        // so its rules can be changed later: Lambda attaches rulesets only at launch.
        let ruleset = self.create_ruleset(create, region, added).await?;
        let firewall_rules = from_wire::model_rules(&ruleset.rules);
        let firewall_rulesets = vec![wire::RulesetRef { id: ruleset.id }];
        let created_at = Timestamp::now().round(jiff::Unit::Second).ok();
        let body = wire::LaunchRequest {
            region_name: region.to_owned(),
            instance_type_name: attrs.instance_type.clone(),
            ssh_key_names: vec![key_name],
            name: Some(to_wire::instance_name(&attrs.name, &attrs.ref_id)),
            hostname: Some(create.hostname().to_owned()),
            image: (!attrs.image_id.is_empty()).then(|| wire::ImageSpec {
                id: attrs.image_id.clone(),
            }),
            user_data,
            tags: to_wire::wire_tags(
                &attrs.tags,
                &Bookkeeping {
                    ref_id: attrs.ref_id.clone(),
                    cred_ref_id: self.shared.ref_id.clone(),
                    created_at,
                },
            ),
            firewall_rulesets,
        };
        let id = match api::launch_instance(self.http(), OP, &body).await {
            Ok(response) => {
                let mut ids = response.instance_ids.into_iter();
                match (ids.next(), ids.next()) {
                    (Some(id), None) => id,
                    (first, second) => {
                        // Lambda launched an unexpected number: terminate them, report.
                        let ids: Vec<String> = first.into_iter().chain(second).chain(ids).collect();
                        if !ids.is_empty() {
                            let _ = api::terminate_instances(self.http(), OP, ids.clone()).await;
                        }
                        return Err(CloudError::provider(
                            PROVIDER_ID,
                            OP,
                            ErrorKind::Internal,
                            format!(
                                "launch returned {} instance ids; expected exactly one",
                                ids.len()
                            ),
                        ));
                    }
                }
            }
            Err(error) if error.outcome_unknown() => {
                // The launch may have happened: look it up by RefID (core's one rule), never
                // launch again blindly.
                tracing::info!(ref_id = %attrs.ref_id, error = %error, "launch outcome unknown; looking the instance up");
                let budget =
                    ResolveBudget::with_initial_backoff(self.http().config().retry.initial_backoff);
                let unknown = UnknownCreate {
                    provider: PROVIDER_ID,
                    operation: OP,
                    ref_id: &attrs.ref_id,
                    error,
                };
                let resolved = resolve_unknown_create(&budget, unknown, || {
                    self.find_by_ref_id(OP, &attrs.ref_id)
                })
                .await;
                match resolved {
                    Ok(Resolved::Found(found)) => found.id,
                    Ok(Resolved::Absent(error)) => return Err(error),
                    Err(unresolved) => {
                        // Neither launched nor known not to be: keep what the instance may use.
                        added.ruleset_id = None;
                        added.ssh_key_id = None;
                        return Err(unresolved);
                    }
                }
            }
            Err(error) => return Err(error),
        };
        // The instance exists: from here on the create succeeds.
        added.ruleset_id = None;
        added.ssh_key_id = None;
        match self.raw_instance(OP, &InstanceId::new(id.clone())).await {
            // The ruleset was made by this create: its rules are known without asking again.
            Ok(w) => Ok(Instance {
                firewall_rules,
                ..from_wire::instance(w)
            }),
            Err(error) => {
                tracing::warn!(instance = %id, error = %error, "launched, but reading the instance failed; returning what is known");
                Ok(Instance {
                    name: to_wire::instance_name(&attrs.name, &attrs.ref_id),
                    ref_id: attrs.ref_id.clone(),
                    cloud_cred_ref_id: self.shared.ref_id.clone(),
                    created_at,
                    cloud_id: InstanceId::new(id),
                    instance_type: attrs.instance_type.clone(),
                    ssh_user: from_wire::SSH_USER.to_owned(),
                    ssh_port: 22,
                    location: region.to_owned(),
                    tags: attrs.tags.clone(),
                    firewall_rules,
                    instance_type_id: gpucloud_core::InstanceTypeId::generic(
                        region,
                        None,
                        &attrs.instance_type,
                    ),
                    ..Instance::default()
                })
            }
        }
    }

    /// Deletes the instance's SDK-made rulesets; one still attached (Lambda may keep a
    /// terminating instance's association) is left for a later sweep. Returns the listed
    /// rulesets that remain, for that sweep (`None` when none were listed).
    async fn delete_own_rulesets(
        &self,
        operation: &'static str,
        ruleset_ids: &[String],
    ) -> Option<Vec<wire::FirewallRuleset>> {
        if ruleset_ids.is_empty() {
            return None;
        }
        let listed = self
            .cleanup_step(|| api::list_firewall_rulesets(self.http(), operation))
            .await;
        let mut rulesets = match listed {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "could not list firewall rulesets to clean up; a later sweep deletes them");
                return None;
            }
        };
        let mut deleted = Vec::new();
        for ruleset in rulesets
            .iter()
            .filter(|r| ruleset_ids.contains(&r.id) && r.name.starts_with(to_wire::RULESET_PREFIX))
        {
            match self
                .delete_resource(|| {
                    api::delete_firewall_ruleset(self.http(), operation, &ruleset.id)
                })
                .await
            {
                Ok(()) => deleted.push(ruleset.id.clone()),
                Err(e) => {
                    tracing::info!(ruleset = %ruleset.id, error = %e, "firewall ruleset not deleted yet; a later sweep deletes it");
                }
            }
        }
        rulesets.retain(|r| !deleted.contains(&r.id));
        Some(rulesets)
    }

    /// The sweep at the end of a terminate, reusing the rulesets it listed. Skipped while a
    /// create holds the lock in this process (that create sweeps before its launch).
    async fn sweep_after_terminate(
        &self,
        operation: &'static str,
        rulesets: Option<Vec<wire::FirewallRuleset>>,
    ) {
        let Ok(_guard) = self.shared.create_lock.try_lock() else {
            tracing::debug!("a create is in progress; it sweeps orphaned rulesets itself");
            return;
        };
        match self.scan_instances(operation, None).await {
            Ok((_, inventory)) => {
                self.sweep_best_effort(operation, rulesets, &inventory)
                    .await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not list instances to sweep orphaned rulesets");
            }
        }
    }

    /// The instance's own ruleset: the one it references whose name derives from its RefID
    /// (see [`from_wire::own_ruleset_names`]). `None` when it references none of that name, or that
    /// ruleset no longer exists (a 404 is not an error here). Other failures are returned.
    async fn find_own_ruleset(
        &self,
        operation: &'static str,
        w: &wire::Instance,
    ) -> Result<Option<wire::FirewallRuleset>> {
        let Some(expected) = from_wire::own_ruleset_names(w) else {
            return Ok(None);
        };
        for reference in w.firewall_rulesets.iter().flatten() {
            if reference.id.is_empty() {
                continue;
            }
            match api::get_firewall_ruleset(self.http(), operation, &reference.id).await {
                Ok(ruleset) if expected.contains(&ruleset.name) => return Ok(Some(ruleset)),
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// A wire instance → [`Instance`] with the rules of its own ruleset in `firewall_rules`
    /// (empty when it has none).
    async fn instance_with_rules(
        &self,
        operation: &'static str,
        w: wire::Instance,
    ) -> Result<Instance> {
        let firewall_rules = self
            .find_own_ruleset(operation, &w)
            .await?
            .map(|ruleset| from_wire::model_rules(&ruleset.rules))
            .unwrap_or_default();
        Ok(Instance {
            firewall_rules,
            ..from_wire::instance(w)
        })
    }

    /// The instance's own ruleset (the SDK-made one), for firewall changes.
    async fn own_ruleset(
        &self,
        operation: &'static str,
        id: &InstanceId,
    ) -> Result<wire::FirewallRuleset> {
        let w = self.raw_instance(operation, id).await?;
        if let Some(ruleset) = self.find_own_ruleset(operation, &w).await? {
            return Ok(ruleset);
        }
        Err(CloudError::invalid(
            "instance_id",
            format!(
                "instance {id} has no firewall ruleset of its own: Lambda attaches rulesets only at launch, so only \
                 instances created by gpucloud can change them"
            ),
        ))
    }
}

#[async_trait]
impl CloudClient for LambdaClient {
    fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn capability_table(&self) -> CapabilityTable<'_> {
        CapabilityTable {
            reboot: Some(self),
            machine_image: Some(self),
            modify_firewall: Some(self),
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
            ..CreateFeatures::default()
        }
    }

    /// What the launch rate limit lets through: 5 at the default 12 s interval, from
    /// `LAMBDA_LAUNCH_INTERVAL_MS` when set (unlimited when that is 0).
    fn max_create_requests_per_minute(&self) -> u32 {
        self.shared.creates_per_minute
    }

    async fn locations(&self, _args: GetLocationsArgs) -> Result<Vec<Location>> {
        let regions = api::list_regions(self.http(), "locations").await?;
        // Every region Lambda lists accepts launches; capacity is per type (see instance types).
        Ok(regions
            .into_iter()
            .filter(|r| !r.name.is_empty())
            .map(|r| from_wire::location(r, true))
            .collect())
    }

    async fn instance_types(&self, args: &GetInstanceTypeArgs) -> Result<Vec<InstanceType>> {
        let (types, regions) = tokio::try_join!(
            api::list_instance_types(self.http(), "instance_types"),
            api::list_regions(self.http(), "instance_types"),
        )?;
        Ok(args.apply(from_wire::instance_types(&types, &regions)))
    }

    async fn create_instance(&self, create: ValidCreate) -> Result<Instance> {
        const OP: &str = "create_instance";
        let attrs = create.attrs();
        // Lambda's own limits, on top of what validation checked, before any request.
        to_wire::check_user_tags(create.tags())?;
        to_wire::wire_rules(create.ingress_rules())?;
        to_wire::user_data_text(create.user_data())?;
        let region = if attrs.location.is_empty() {
            self.location.clone()
        } else {
            attrs.location.clone()
        };
        if region.is_empty() {
            return Err(CloudError::invalid(
                "location",
                "Lambda launches into a named region; set location",
            ));
        }
        let _guard = self.shared.create_lock.lock().await;
        let (existing, inventory) = self.scan_instances(OP, Some(&attrs.ref_id)).await?;
        if let Some(existing) = existing {
            tracing::info!(ref_id = %attrs.ref_id, instance = %existing.id, "create: RefID exists, returning it");
            return self.instance_with_rules(OP, existing).await;
        }
        // Rulesets left by earlier terminates (Lambda may hold them while the instance
        // terminates): reuses the instance list above; never fails the create.
        self.sweep_best_effort(OP, None, &inventory).await;
        let mut added = Added::default();
        let result = self.launch(&create, &region, &mut added).await;
        if self.roll_back(added).await {
            return result;
        }
        // A key of this create may be left: the caller resolves it by creating again with the
        // same RefID, which finds the key by its text and launches with it.
        result.map_err(|error| {
            CloudError::provider(
                PROVIDER_ID,
                OP,
                error.kind(),
                format!(
                    "create failed ({error}) and the SSH key it may have added could not be \
                     cleaned up; create again with the same RefID to resolve it"
                ),
            )
            .with_retry(Retry::Transient)
            .with_delivery(Delivery::Unknown)
            .with_source(error)
        })
    }

    /// The instance, with the rules of its own ruleset (the ids
    /// [`ModifyFirewall::revoke_firewall_rules`] takes) in `firewall_rules`: one more request
    /// when it has one.
    async fn get_instance(&self, id: &InstanceId) -> Result<Instance> {
        const OP: &str = "get_instance";
        let w = self.raw_instance(OP, id).await?;
        self.instance_with_rules(OP, w).await
    }

    /// This credential's instances (or the account's, by `args.scope`), each with the rules of
    /// its own ruleset in `firewall_rules` (one more request, for all rulesets at once, when
    /// any of them has one).
    async fn list_instances(&self, args: &ListInstancesArgs) -> Result<Vec<Instance>> {
        const OP: &str = "list_instances";
        // The rulesets are asked for while the instances are listed, so a list costs one
        // round trip, not two; they are read only when a listed instance has its own.
        let listing = api::list_instances(self.http(), OP, |listed: &mut Listed, mut w| {
            if !args.keeps_mark(credential_mark(&w), &self.shared.ref_id) {
                return;
            }
            let own = from_wire::own_ruleset_names(&w)
                .map(|names| (names, w.firewall_rulesets.take().unwrap_or_default()));
            let instance = from_wire::instance_with(w, &mut listed.type_ids);
            if !args.matches(&instance) {
                return;
            }
            if let Some((name, refs)) = own {
                listed.wanted.push((listed.instances.len(), name, refs));
            }
            listed.instances.push(instance);
        });
        let (listed, rulesets) =
            tokio::join!(listing, api::list_firewall_rulesets(self.http(), OP));
        let Listed {
            mut instances,
            wanted,
            ..
        } = listed?;
        if wanted.is_empty() {
            return Ok(instances);
        }
        let rulesets = match rulesets {
            Ok(rulesets) => rulesets,
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(e),
        };
        for (index, names, refs) in wanted {
            let own = rulesets.iter().find(|r| {
                names.contains(&r.name) && refs.iter().any(|reference| reference.id == r.id)
            });
            if let (Some(ruleset), Some(instance)) = (own, instances.get_mut(index)) {
                instance.firewall_rules = from_wire::model_rules(&ruleset.rules);
            }
        }
        Ok(instances)
    }

    async fn terminate_instance(&self, id: &InstanceId) -> Result<()> {
        const OP: &str = "terminate_instance";
        let rulesets = match self.raw_instance(OP, id).await {
            Ok(w) => from_wire::ruleset_ids(&w),
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        match api::terminate_instances(self.http(), OP, vec![id.as_str().to_owned()]).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                // A lost answer or a refusal: the instance's state decides.
                match self.raw_instance(OP, id).await {
                    Err(again) if again.is_not_found() => {}
                    Ok(w)
                        if matches!(
                            from_wire::status(w.status.as_deref()).lifecycle_status,
                            LifecycleStatus::Terminating | LifecycleStatus::Terminated
                        ) => {}
                    _ => return Err(e),
                }
            }
        }
        let remaining = self.delete_own_rulesets(OP, &rulesets).await;
        self.sweep_after_terminate(OP, remaining).await;
        Ok(())
    }
}

#[async_trait]
impl RebootInstance for LambdaClient {
    async fn reboot_instance(&self, id: &InstanceId) -> Result<()> {
        api::restart_instances(self.http(), "reboot_instance", vec![id.as_str().to_owned()]).await
    }
}

#[async_trait]
impl MachineImage for LambdaClient {
    async fn images(&self, args: &GetImageArgs) -> Result<Vec<Image>> {
        let images = api::list_images(self.http(), "images").await?;
        Ok(images
            .into_iter()
            .filter(|w| self.location.is_empty() || from_wire::image_region(w) == self.location)
            .map(from_wire::image)
            .filter(|image| args.matches(image))
            .collect())
    }
}

#[async_trait]
impl ModifyFirewall for LambdaClient {
    /// Adds the rules not already in place: Lambda rules are (protocol, ports, source)
    /// triples, so a rule is left out when each of its Lambda rules is in the ruleset.
    async fn add_firewall_rules(&self, args: &ValidFirewallAdd) -> Result<()> {
        const OP: &str = "add_firewall_rules";
        let new_rules = to_wire::wire_rules(args.ingress_rules())?;
        let ruleset = self.own_ruleset(OP, args.instance_id()).await?;
        let in_place = from_wire::model_rules(&ruleset.rules).ingress_rules;
        if missing_rules(&in_place, args.ingress_rules()).is_empty() {
            return Ok(());
        }
        let mut rules = ruleset.rules.clone();
        for rule in new_rules {
            if !rules
                .iter()
                .any(|r| from_wire::rule_id(r) == from_wire::rule_id(&rule))
            {
                rules.push(rule);
            }
        }
        if rules == ruleset.rules {
            return Ok(());
        }
        api::patch_firewall_ruleset(self.http(), OP, &ruleset.id, rules).await
    }

    async fn revoke_firewall_rules(&self, args: &ValidFirewallRevoke) -> Result<()> {
        const OP: &str = "revoke_firewall_rules";
        let ruleset = self.own_ruleset(OP, args.instance_id()).await?;
        let rules: Vec<wire::FirewallRule> = ruleset
            .rules
            .iter()
            .filter(|r| {
                !args
                    .rule_ids()
                    .iter()
                    .any(|id| *id == from_wire::rule_id(r))
            })
            .cloned()
            .collect();
        if rules.len() == ruleset.rules.len() {
            return Ok(());
        }
        api::patch_firewall_ruleset(self.http(), OP, &ruleset.id, rules).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use gpucloud_core::{CreateInstanceAttrs, validate_and_create};
    use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions, Fault, Operation};

    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T noname";

    async fn fake() -> FakeLambda {
        FakeLambda::start(FakeLambdaOptions {
            boot_delay: Duration::from_millis(20),
            terminate_delay: Duration::from_millis(20),
            ..FakeLambdaOptions::default()
        })
        .await
        .expect("the fake starts")
    }

    fn client(fake: &FakeLambda) -> LambdaClient {
        let config = LambdaConfig::new(fake.api_key())
            .with_base_url(fake.base_url())
            .with_ref_id("cred-test")
            .with_rate_limits(100_000.0, Duration::ZERO)
            .with_retry_backoff(Duration::from_millis(2))
            .with_request_timeout(Duration::from_secs(10));
        LambdaCredential::new(config)
            .expect("credential")
            .client("")
    }

    fn attrs(ref_id: &str) -> CreateInstanceAttrs {
        CreateInstanceAttrs {
            location: "us-west-1".into(),
            ref_id: ref_id.into(),
            public_key: KEY.into(),
            instance_type: "gpu_1x_a10".into(),
            ..CreateInstanceAttrs::default()
        }
    }

    /// Keys of the fake that no instance was launched with.
    fn unused_keys(fake: &FakeLambda) -> Vec<String> {
        let used: HashSet<String> = fake
            .state()
            .instances()
            .into_iter()
            .flat_map(|i| i.ssh_key_names)
            .collect();
        fake.state()
            .ssh_keys()
            .into_iter()
            .filter(|k| !used.contains(&k.name))
            .map(|k| k.name)
            .collect()
    }

    /// A create whose `POST /ssh-keys` is carried out but its answer lost, after which the
    /// next `lookups` key lists are throttled (a definite answer: the list did not happen,
    /// which says nothing about the key; a 5xx or an unreadable answer would already make the
    /// create's outcome unknown). The add is held in the fake for a
    /// moment, so the lookups' faults are set after the create's first key list (which must
    /// succeed) and before the lookup that follows the lost add.
    async fn create_losing_the_key(fake: &FakeLambda, lookups: u32) -> Result<Instance> {
        let state = fake.state();
        state.set_fault_for(
            Operation::AddSshKey,
            Fault::Latency(Duration::from_millis(300)),
        );
        state.set_fault(Fault::CommitThenDropResponse {
            operation: Operation::AddSshKey,
            times: 1,
        });
        let client = client(fake);
        let create =
            tokio::spawn(async move { validate_and_create(&client, &attrs("lost-key")).await });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while state.request_count("POST", "/api/v1/ssh-keys") == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the key was never added"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        state.set_fault_for(
            Operation::ListSshKeys,
            Fault::RateLimited {
                retry_after_secs: 0,
                times: lookups,
            },
        );
        let result = create.await.expect("the create does not panic");
        state.clear_faults();
        result
    }

    /// Issue 14 (the campaign's one leaked key): a key added but never confirmed must not be
    /// left behind by a create that fails definitely. When the rollback can find it, it goes;
    /// when not even the rollback can tell, the create's outcome is unknown, and creating
    /// again with the same RefID launches with that key.
    #[tokio::test]
    async fn a_key_whose_add_and_lookup_both_failed_is_never_left_unknown_to_the_caller() {
        // 4: one lookup's attempts used up, the rollback's list then answers. 1000: every
        // list fails until the faults are cleared.
        for lookups in [4, 1000] {
            let fake = fake().await;
            let err = create_losing_the_key(&fake, lookups)
                .await
                .expect_err("the create fails");
            assert!(fake.state().instances().is_empty(), "nothing was launched");
            if err.outcome_unknown() {
                let again = validate_and_create(&client(&fake), &attrs("lost-key"))
                    .await
                    .expect("creating again with the same RefID resolves it");
                assert_eq!(again.ref_id, "lost-key");
                assert_eq!(fake.state().instances().len(), 1);
            } else {
                assert_eq!(
                    lookups, 4,
                    "a definite failure while the key is unknown: {err}"
                );
            }
            assert_eq!(
                unused_keys(&fake),
                Vec::<String>::new(),
                "lookups {lookups}: {err}"
            );
        }
    }

    /// A create that fails definitely (no capacity) must delete the key it added; when that
    /// delete keeps failing, the key may stay, so the outcome is unknown and a create again
    /// with the same RefID launches with it instead of adding another.
    #[tokio::test]
    async fn a_failed_create_whose_key_cannot_be_deleted_is_of_unknown_outcome() {
        let fake = fake().await;
        let state = fake.state();
        state.set_capacity("us-west-1", "gpu_1x_a10", 0);
        state.set_fault_for(
            Operation::DeleteSshKey,
            Fault::RateLimited {
                retry_after_secs: 0,
                times: 1000,
            },
        );
        let err = validate_and_create(&client(&fake), &attrs("undeletable"))
            .await
            .expect_err("no capacity");
        assert!(err.outcome_unknown(), "{err}");
        assert_eq!(state.ssh_keys().len(), 1, "the key could not be deleted");
        state.clear_faults();
        state.set_capacity("us-west-1", "gpu_1x_a10", 1);
        validate_and_create(&client(&fake), &attrs("undeletable"))
            .await
            .expect("creating again with the same RefID resolves it");
        assert_eq!(state.instances().len(), 1);
        assert_eq!(unused_keys(&fake), Vec::<String>::new());
        assert_eq!(
            state.ssh_keys().len(),
            1,
            "the key was reused, not added again"
        );
    }
}
