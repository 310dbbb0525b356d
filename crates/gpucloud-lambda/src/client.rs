//! The credential and the client: `CloudCredential`, `CloudClient` and the capability traits
//! over Lambda's REST API.

use std::collections::HashSet;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use gpucloud_core::validate::validate_create;
use gpucloud_core::{
    AddFirewallRulesToInstanceArgs, ApiType, CapabilityTable, CloudClient, CloudCredential,
    CloudError, CreateFeatures, CreateInstanceAttrs, ErrorKind, GetImageArgs, GetInstanceTypeArgs,
    GetLocationsArgs, Identity, Image, Instance, InstanceId, InstanceType, LifecycleStatus,
    ListInstancesArgs, Location, MachineImage, ModifyFirewall, RebootInstance, Result, Retry,
    RevokeSecurityGroupRuleArgs, tenant_id_from_secret,
};
use gpucloud_http::{
    ApiKey, Auth, Classification, HeaderMap, HttpClient, HttpConfig, RateLimit, Request,
    RetryPolicy, StatusCode, parse_base_url,
};
use jiff::Timestamp;
use tokio::sync::Mutex;

use crate::config::LambdaConfig;
use crate::convert::{self, PROVIDER, TAG_CRED_REF_ID, TAG_REF_ID};
use crate::error::{Subject, classify};
use crate::wire::{self, Data, EachData};

/// The provider id.
pub const PROVIDER_ID: &str = PROVIDER;

/// State shared by a credential and every client it makes: one HTTP client (so one pair of
/// rate limiters per account, as Lambda's limits are per account) and one create lock.
struct Shared {
    http: HttpClient,
    /// The credential reference stamped on every instance and ruleset created.
    ref_id: String,
    identity: Identity,
    /// Serializes creates in this process, so a RefID lookup and the launch it guards cannot
    /// interleave with another create (Lambda allows one launch per 12 s anyway). The orphan
    /// sweep holds it too, so it never sees a ruleset a create here has made but not launched.
    create_lock: Mutex<()>,
    /// Minimum age of an unreferenced ruleset before the sweep deletes it.
    orphan_grace: Duration,
}

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

fn classifier(status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> Classification {
    let error = serde_json::from_slice::<wire::ErrorBody>(body)
        .ok()
        .and_then(|b| b.error)
        .unwrap_or_default();
    let (kind, retry) = classify(
        status.as_u16(),
        error.code.as_deref(),
        Subject::Resource,
        None,
    );
    let mut class = Classification::new(kind).with_retry(retry);
    if let Some(code) = error.code {
        class = class.with_code(code);
    }
    let message = match (error.message, error.suggestion) {
        (Some(m), Some(s)) => Some(format!("{m} ({s})")),
        (m, s) => m.or(s),
    };
    if let Some(message) = message {
        class = class.with_message(message);
    }
    class
}

impl LambdaCredential {
    /// A credential from a configuration. Fails when the key is empty, a number is out of
    /// range, or the base URL is not `https` (plain `http` only to loopback).
    pub fn new(config: LambdaConfig) -> Result<Self> {
        config.validate()?;
        let base = parse_base_url(&format!("{}/api/v1/", config.effective_base_url()))?;
        let rps = config.effective_requests_per_second();
        let burst = NonZeroU32::new(rps.floor().clamp(1.0, f64::from(u32::MAX)) as u32)
            .unwrap_or(NonZeroU32::MIN);
        let general =
            RateLimit::every(Duration::from_secs_f64((1.0 / rps).min(86_400.0))).with_burst(burst);
        let launch = config.effective_launch_interval();
        let retry = RetryPolicy::default().with_backoff(
            Duration::from_millis(config.retry_backoff_ms.unwrap_or(500)),
            Duration::from_secs(20),
        );
        let http_config = HttpConfig::default()
            .with_base_url(base)
            .with_request_timeout(config.effective_request_timeout())
            .with_retry(retry)
            .with_rate_limit(general)
            .with_create_rate_limit((!launch.is_zero()).then(|| RateLimit::every(launch)));
        let http = HttpClient::new(
            PROVIDER,
            http_config,
            Auth::Bearer(ApiKey::new(config.key())),
            classifier,
        )?;
        let shared = Arc::new(Shared {
            http,
            ref_id: config.ref_id.clone(),
            identity: Identity::new(
                PROVIDER,
                ApiType::Global,
                config.ref_id.clone(),
                tenant_id_from_secret("lambda", config.key().as_bytes()),
            ),
            create_lock: Mutex::new(()),
            orphan_grace: config.effective_orphan_ruleset_grace(),
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

/// Rewrites a not-found of an instance operation as `InstanceNotFound`.
fn for_instance(error: CloudError) -> CloudError {
    match error {
        CloudError::Provider {
            provider,
            operation,
            kind: ErrorKind::ResourceNotFound,
            retry,
            message,
            source,
        } => {
            let (kind, _) = classify(404, None, Subject::Instance, None);
            CloudError::Provider {
                provider,
                operation,
                kind,
                retry,
                message,
                source,
            }
        }
        other => other,
    }
}

/// True when a failed request may have taken effect: no answer (reset, timeout after sending)
/// or a 5xx.
fn outcome_unknown(error: &CloudError) -> bool {
    match error {
        CloudError::Provider { .. } => match error.provider_details().and_then(|d| d.status) {
            Some(status) => status >= 500,
            None => matches!(error.kind(), ErrorKind::Timeout | ErrorKind::Unavailable),
        },
        _ => false,
    }
}

fn decode_user_data(b64: &str) -> Result<Option<String>> {
    if b64.trim().is_empty() {
        return Ok(None);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| CloudError::invalid("user_data_base64", "is not valid base64"))?;
    String::from_utf8(bytes).map(Some).map_err(|_| {
        CloudError::invalid(
            "user_data_base64",
            "Lambda takes plain-text cloud-init user data; this decodes to non-UTF-8 bytes",
        )
    })
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
        self.ruleset_ids.extend(convert::ruleset_ids(w));
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
}

impl LambdaClient {
    fn http(&self) -> &HttpClient {
        &self.shared.http
    }

    /// `GET path` and the `data` of the answer, decoded straight from the body.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        path: impl Into<String>,
    ) -> Result<T> {
        let data: Data<T> = self.http().send_json(Request::get(operation, path)).await?;
        Ok(data.data)
    }

    /// `GET /instances`, handing each instance to `each` as it is parsed (no vector of wire
    /// instances is built).
    async fn each_instance(
        &self,
        operation: &'static str,
        each: impl FnMut(wire::Instance) + Send,
    ) -> Result<()> {
        self.http()
            .send_json_seed(Request::get(operation, "instances"), EachData::new(each))
            .await
    }

    async fn raw_instance(
        &self,
        operation: &'static str,
        id: &InstanceId,
    ) -> Result<wire::Instance> {
        self.get(operation, ["instances/", id.as_str()].concat())
            .await
            .map_err(for_instance)
    }

    fn owned_by_me(&self, w: &wire::Instance) -> bool {
        convert::tag_value(w, TAG_CRED_REF_ID).unwrap_or("") == self.shared.ref_id
    }

    /// The live instance of this credential with this RefID, if any.
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
        let mut found = None;
        let mut inventory = Inventory::default();
        self.each_instance(operation, |w| {
            inventory.add(&w);
            if let Some(ref_id) = ref_id
                && found.is_none()
                && self.owned_by_me(&w)
                && convert::tag_value(&w, TAG_REF_ID) == Some(ref_id)
                && !convert::status(w.status.as_deref())
                    .lifecycle_status
                    .is_terminal()
            {
                found = Some(w);
            }
        })
        .await?;
        Ok((found, inventory))
    }

    /// Deletes this credential's orphaned rulesets among `rulesets`: named by
    /// [`convert::ruleset_name`] for this credential, referenced by no instance in
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
                && convert::is_credential_ruleset(&r.name, &self.shared.ref_id)
                && !inventory.referenced(r)
                && old_enough(r)
        }) {
            let request = Request::delete(operation, format!("firewall-rulesets/{}", ruleset.id))
                .idempotent(true);
            match self.http().send(request).await {
                Ok(_) => {
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
            None => match self.get(operation, "firewall-rulesets").await {
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
        let rulesets: Vec<wire::FirewallRuleset> = self.get(OP, "firewall-rulesets").await?;
        Ok(self.sweep(OP, &rulesets, &inventory).await)
    }

    /// The name of an account key holding `public_key`, adding one when none does.
    async fn ensure_ssh_key(
        &self,
        attrs: &CreateInstanceAttrs,
        added: &mut Added,
    ) -> Result<String> {
        const OP: &str = "create_instance";
        let keys: Vec<wire::SshKey> = self.get(OP, "ssh-keys").await?;
        if let Some(existing) = keys
            .iter()
            .find(|k| convert::same_key(&k.public_key, &attrs.public_key))
        {
            return Ok(existing.name.clone());
        }
        let base = attrs.key_pair_name.as_deref().unwrap_or(&attrs.ref_id);
        let taken: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        let name = convert::unique_key_name(base, &attrs.public_key, &taken);
        let body = wire::AddSshKey {
            name: name.clone(),
            public_key: attrs.public_key.clone(),
        };
        match self
            .http()
            .send_json::<Data<wire::SshKey>>(Request::post(OP, "ssh-keys").json(&body)?)
            .await
        {
            Ok(key) => {
                added.ssh_key_id = Some(key.data.id);
                Ok(if key.data.name.is_empty() {
                    name
                } else {
                    key.data.name
                })
            }
            Err(error) if outcome_unknown(&error) || error.kind() == ErrorKind::Conflict => {
                // The key may exist now (our lost answer, or a concurrent create): look again.
                let keys: Vec<wire::SshKey> = self.get(OP, "ssh-keys").await?;
                match keys
                    .into_iter()
                    .find(|k| convert::same_key(&k.public_key, &attrs.public_key))
                {
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
        attrs: &CreateInstanceAttrs,
        region: &str,
        added: &mut Added,
    ) -> Result<wire::FirewallRuleset> {
        const OP: &str = "create_instance";
        let rules = convert::wire_rules(&attrs.firewall_rules)?;
        let name = convert::ruleset_name(&self.shared.ref_id, &attrs.ref_id);
        let body = wire::CreateRuleset {
            name: name.clone(),
            region: region.to_owned(),
            rules,
        };
        match self
            .http()
            .send_json::<Data<wire::FirewallRuleset>>(
                Request::post(OP, "firewall-rulesets").json(&body)?,
            )
            .await
        {
            Ok(ruleset) => {
                added.ruleset_id = Some(ruleset.data.id.clone());
                Ok(ruleset.data)
            }
            Err(error) if outcome_unknown(&error) => {
                let rulesets: Vec<wire::FirewallRuleset> =
                    self.get(OP, "firewall-rulesets").await?;
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

    /// Removes what a failed create added; best effort, logged.
    async fn roll_back(&self, added: Added) {
        if let Some(id) = added.ruleset_id {
            let request = Request::delete("create_instance", format!("firewall-rulesets/{id}"))
                .idempotent(true);
            if let Err(e) = self.http().send(request).await
                && !e.is_not_found()
            {
                tracing::warn!(ruleset = %id, error = %e, "could not delete the firewall ruleset of a failed create");
            }
        }
        if let Some(id) = added.ssh_key_id {
            let request =
                Request::delete("create_instance", format!("ssh-keys/{id}")).idempotent(true);
            if let Err(e) = self.http().send(request).await
                && !e.is_not_found()
            {
                tracing::warn!(ssh_key = %id, error = %e, "could not delete the SSH key of a failed create");
            }
        }
    }

    async fn launch(
        &self,
        attrs: &CreateInstanceAttrs,
        region: &str,
        added: &mut Added,
    ) -> Result<Instance> {
        const OP: &str = "create_instance";
        let user_data = decode_user_data(&attrs.user_data_base64)?;
        let key_name = self.ensure_ssh_key(attrs, added).await?;
        // Every instance gets a ruleset of its own (SSH only when no rules were asked for),
        // so its rules can be changed later: Lambda attaches rulesets only at launch.
        let ruleset = self.create_ruleset(attrs, region, added).await?;
        let firewall_rules = convert::model_rules(&ruleset.rules);
        let firewall_rulesets = vec![wire::RulesetRef { id: ruleset.id }];
        let created_at = Timestamp::now().round(jiff::Unit::Second).ok();
        let body = wire::LaunchRequest {
            region_name: region.to_owned(),
            instance_type_name: attrs.instance_type.clone(),
            ssh_key_names: vec![key_name],
            name: Some(convert::instance_name(&attrs.name, &attrs.ref_id)),
            hostname: convert::hostname(&attrs.name),
            image: (!attrs.image_id.is_empty()).then(|| wire::ImageSpec {
                id: attrs.image_id.clone(),
            }),
            user_data,
            tags: convert::wire_tags(&attrs.tags, &attrs.ref_id, &self.shared.ref_id, created_at),
            firewall_rulesets,
        };
        let request = Request::post(OP, "instance-operations/launch")
            .json(&body)?
            .create();
        let id = match self
            .http()
            .send_json::<Data<wire::LaunchResponse>>(request)
            .await
        {
            Ok(response) => {
                let mut ids = response.data.instance_ids.into_iter();
                match (ids.next(), ids.next()) {
                    (Some(id), None) => id,
                    (first, second) => {
                        // Lambda launched an unexpected number: terminate them, report.
                        let ids: Vec<String> = first.into_iter().chain(second).chain(ids).collect();
                        if !ids.is_empty() {
                            let _ = self.terminate_ids(OP, ids.clone()).await;
                        }
                        return Err(CloudError::provider(
                            PROVIDER,
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
            Err(error) if outcome_unknown(&error) => {
                // The launch may have happened: look it up by RefID, never launch again blindly.
                tracing::info!(ref_id = %attrs.ref_id, error = %error, "launch outcome unknown; looking the instance up");
                match self.find_by_ref_id(OP, &attrs.ref_id).await {
                    Ok(Some(found)) => found.id,
                    Ok(None) => return Err(error),
                    Err(lookup) => {
                        // Neither launched nor known not to be: keep what the instance may use.
                        added.ruleset_id = None;
                        added.ssh_key_id = None;
                        return Err(CloudError::provider(
                            PROVIDER,
                            OP,
                            error.kind(),
                            format!(
                                "launch outcome unknown ({error}) and the lookup by RefID failed ({lookup}); \
                                 create again with the same RefID to resolve it"
                            ),
                        )
                        .with_retry(Retry::Transient));
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
                ..convert::instance(w)
            }),
            Err(error) => {
                tracing::warn!(instance = %id, error = %error, "launched, but reading the instance failed; returning what is known");
                Ok(Instance {
                    name: convert::instance_name(&attrs.name, &attrs.ref_id),
                    ref_id: attrs.ref_id.clone(),
                    cloud_cred_ref_id: self.shared.ref_id.clone(),
                    created_at,
                    cloud_id: InstanceId::new(id),
                    instance_type: attrs.instance_type.clone(),
                    ssh_user: convert::SSH_USER.to_owned(),
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

    async fn terminate_ids(&self, operation: &'static str, ids: Vec<String>) -> Result<()> {
        // Terminating twice is harmless, so transport failures may be retried.
        let request = Request::post(operation, "instance-operations/terminate")
            .json(&wire::InstanceIds { instance_ids: ids })?
            .idempotent(true);
        self.http()
            .send(request)
            .await
            .map(|_| ())
            .map_err(for_instance)
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
        let mut rulesets: Vec<wire::FirewallRuleset> =
            match self.get(operation, "firewall-rulesets").await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "could not list firewall rulesets to clean up");
                    return None;
                }
            };
        let mut deleted = Vec::new();
        for ruleset in rulesets
            .iter()
            .filter(|r| ruleset_ids.contains(&r.id) && r.name.starts_with(convert::RULESET_PREFIX))
        {
            let request = Request::delete(operation, format!("firewall-rulesets/{}", ruleset.id))
                .idempotent(true);
            match self.http().send(request).await {
                Ok(_) => deleted.push(ruleset.id.clone()),
                Err(e) if e.is_not_found() => deleted.push(ruleset.id.clone()),
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
    /// (see [`convert::own_ruleset_names`]). `None` when it references none of that name, or that
    /// ruleset no longer exists (a 404 is not an error here). Other failures are returned.
    async fn find_own_ruleset(
        &self,
        operation: &'static str,
        w: &wire::Instance,
    ) -> Result<Option<wire::FirewallRuleset>> {
        let Some(expected) = convert::own_ruleset_names(w) else {
            return Ok(None);
        };
        for reference in w.firewall_rulesets.iter().flatten() {
            if reference.id.is_empty() {
                continue;
            }
            let path = ["firewall-rulesets/", reference.id.as_str()].concat();
            match self.get::<wire::FirewallRuleset>(operation, path).await {
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
            .map(|ruleset| convert::model_rules(&ruleset.rules))
            .unwrap_or_default();
        Ok(Instance {
            firewall_rules,
            ..convert::instance(w)
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

    async fn patch_rules(
        &self,
        operation: &'static str,
        ruleset_id: &str,
        rules: Vec<wire::FirewallRule>,
    ) -> Result<()> {
        let request = Request::patch(operation, format!("firewall-rulesets/{ruleset_id}"))
            .json(&wire::PatchRuleset { rules })?
            .idempotent(true);
        self.http().send(request).await.map(|_| ())
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

    fn max_create_requests_per_minute(&self) -> u32 {
        5
    }

    async fn locations(&self, _args: GetLocationsArgs) -> Result<Vec<Location>> {
        let regions: Vec<wire::Region> = self.get("locations", "regions").await?;
        // Every region Lambda lists accepts launches; capacity is per type (see instance types).
        Ok(regions
            .into_iter()
            .filter(|r| !r.name.is_empty())
            .map(|r| convert::location(r, true))
            .collect())
    }

    async fn instance_types(&self, args: &GetInstanceTypeArgs) -> Result<Vec<InstanceType>> {
        let (types, regions) = tokio::try_join!(
            self.get::<wire::InstanceTypes>("instance_types", "instance-types"),
            self.get::<Vec<wire::Region>>("instance_types", "regions"),
        )?;
        Ok(args.apply(convert::instance_types(&types, &regions)))
    }

    async fn create_instance(&self, attrs: CreateInstanceAttrs) -> Result<Instance> {
        const OP: &str = "create_instance";
        let attrs = validate_create(&attrs, &self.create_features())?;
        convert::check_user_tags(&attrs.tags)?;
        convert::wire_rules(&attrs.firewall_rules)?;
        decode_user_data(&attrs.user_data_base64)?;
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
        let result = self.launch(&attrs, &region, &mut added).await;
        self.roll_back(added).await;
        result
    }

    /// The instance, with the rules of its own ruleset (the ids
    /// [`ModifyFirewall::revoke_firewall_rules`] takes) in `firewall_rules`: one more request
    /// when it has one.
    async fn get_instance(&self, id: &InstanceId) -> Result<Instance> {
        const OP: &str = "get_instance";
        let w = self.raw_instance(OP, id).await?;
        self.instance_with_rules(OP, w).await
    }

    /// This credential's instances, each with the rules of its own ruleset in `firewall_rules`
    /// (one more request, for all rulesets at once, when any of them has one).
    async fn list_instances(&self, args: &ListInstancesArgs) -> Result<Vec<Instance>> {
        const OP: &str = "list_instances";
        let mut instances = Vec::new();
        // Per kept instance with a ruleset of its own: (index, expected names, referenced ids).
        let mut wanted = Vec::new();
        let mut type_ids = convert::TypeIds::default();
        self.each_instance(OP, |mut w| {
            if !self.owned_by_me(&w) {
                return;
            }
            let own = convert::own_ruleset_names(&w)
                .map(|names| (names, w.firewall_rulesets.take().unwrap_or_default()));
            let instance = convert::instance_with(w, &mut type_ids);
            if !args.matches(&instance) {
                return;
            }
            if let Some((name, refs)) = own {
                wanted.push((instances.len(), name, refs));
            }
            instances.push(instance);
        })
        .await?;
        if wanted.is_empty() {
            return Ok(instances);
        }
        let rulesets: Vec<wire::FirewallRuleset> = match self.get(OP, "firewall-rulesets").await {
            Ok(rulesets) => rulesets,
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(e),
        };
        for (index, names, refs) in wanted {
            let own = rulesets.iter().find(|r| {
                names.contains(&r.name) && refs.iter().any(|reference| reference.id == r.id)
            });
            if let (Some(ruleset), Some(instance)) = (own, instances.get_mut(index)) {
                instance.firewall_rules = convert::model_rules(&ruleset.rules);
            }
        }
        Ok(instances)
    }

    async fn terminate_instance(&self, id: &InstanceId) -> Result<()> {
        const OP: &str = "terminate_instance";
        let rulesets = match self.raw_instance(OP, id).await {
            Ok(w) => convert::ruleset_ids(&w),
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        match self.terminate_ids(OP, vec![id.as_str().to_owned()]).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                // A lost answer or a refusal: the instance's state decides.
                match self.raw_instance(OP, id).await {
                    Err(again) if again.is_not_found() => {}
                    Ok(w)
                        if matches!(
                            convert::status(w.status.as_deref()).lifecycle_status,
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
        let request = Request::post("reboot_instance", "instance-operations/restart").json(
            &wire::InstanceIds {
                instance_ids: vec![id.as_str().to_owned()],
            },
        )?;
        self.http()
            .send(request)
            .await
            .map(|_| ())
            .map_err(for_instance)
    }
}

#[async_trait]
impl MachineImage for LambdaClient {
    async fn images(&self, args: &GetImageArgs) -> Result<Vec<Image>> {
        let images: Vec<wire::Image> = self.get("images", "images").await?;
        let owners_ok =
            args.owners.is_empty() || args.owners.iter().any(|o| o == "lambda" || o == "*");
        if !owners_ok {
            return Ok(Vec::new());
        }
        let name_ok = |w: &wire::Image| {
            args.name_filters.is_empty()
                || args.name_filters.iter().any(|p| {
                    convert::wildcard_match(p, w.name.as_deref().unwrap_or(""))
                        || convert::wildcard_match(p, convert::image_family(w))
                })
        };
        Ok(images
            .into_iter()
            .filter(|w| self.location.is_empty() || convert::image_region(w) == self.location)
            .filter(|w| args.image_ids.is_empty() || args.image_ids.contains(&w.id))
            .filter(|w| {
                args.architectures.is_empty()
                    || args
                        .architectures
                        .iter()
                        .any(|a| Some(a.as_str()) == w.architecture.as_deref())
            })
            .filter(name_ok)
            .map(convert::image)
            .collect())
    }
}

#[async_trait]
impl ModifyFirewall for LambdaClient {
    async fn add_firewall_rules(&self, args: &AddFirewallRulesToInstanceArgs) -> Result<()> {
        const OP: &str = "add_firewall_rules";
        for (i, rule) in args.firewall_rules.ingress_rules.iter().enumerate() {
            gpucloud_core::validate::check_firewall_rule(
                &format!("firewall_rules.ingress_rules[{i}]"),
                rule,
            )?;
        }
        let new_rules = convert::wire_rules(&args.firewall_rules)?;
        let ruleset = self.own_ruleset(OP, &args.instance_id).await?;
        let mut rules = ruleset.rules.clone();
        // `wire_rules` adds SSH when the new rules lack it; the ruleset already keeps SSH open.
        for rule in new_rules.into_iter().filter(|r| {
            !args.firewall_rules.ingress_rules.is_empty() || r.port_range != Some(vec![22, 22])
        }) {
            if !rules
                .iter()
                .any(|r| convert::rule_id(r) == convert::rule_id(&rule))
            {
                rules.push(rule);
            }
        }
        if rules == ruleset.rules {
            return Ok(());
        }
        self.patch_rules(OP, &ruleset.id, rules).await
    }

    async fn revoke_firewall_rules(&self, args: &RevokeSecurityGroupRuleArgs) -> Result<()> {
        const OP: &str = "revoke_firewall_rules";
        let ruleset = self.own_ruleset(OP, &args.instance_id).await?;
        let rules: Vec<wire::FirewallRule> = ruleset
            .rules
            .iter()
            .filter(|r| !args.security_group_rule_ids.contains(&convert::rule_id(r)))
            .cloned()
            .collect();
        if rules.len() == ruleset.rules.len() {
            return Ok(());
        }
        self.patch_rules(OP, &ruleset.id, rules).await
    }
}
