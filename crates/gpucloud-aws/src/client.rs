//! The credential and the client: `CloudCredential`, `CloudClient` and the capability traits
//! over EC2 (with the Price List and Service Quotas), built from one typed call per operation
//! and the conversions.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, HttpTokensState, InstanceMarketOptionsRequest,
    InstanceMetadataEndpointState, InstanceMetadataOptionsRequest, MarketType, Placement,
    ResourceType, SpotInstanceType, SpotMarketOptions, VolumeModificationState, VolumeType,
};
use base64::Engine as _;
use gpucloud_core::bookkeeping::{CRED_REF_ID_TAG, REF_ID_TAG, is_marked_by};
use gpucloud_core::outcome::{ResolveBudget, Resolved, UnknownCreate, resolve_unknown_create};
use gpucloud_core::validate::{ValidCreate, ValidFirewallAdd, ValidFirewallRevoke, ValidTagUpdate};
use gpucloud_core::{
    ApiType, Bookkeeping, CapabilityTable, ChangeInstanceType, CloudClient, CloudCredential,
    CloudError, CreateFeatures, ErrorKind, FirewallRule, GetImageArgs, GetInstanceTypeArgs,
    GetInstanceTypeQuotasArgs, GetLocationsArgs, Identity, Image, Instance, InstanceId,
    InstanceTags, InstanceType, InstanceTypeQuotas, LifecycleStatus, ListInstancesArgs, Location,
    LocationsFilter, MachineImage, ModifyFirewall, Price, Quota, RebootInstance,
    ResizeInstanceVolume, ResizeInstanceVolumeArgs, Result, Retry, StopStartInstance,
    missing_rules, tenant_id_from_secret,
};
use tokio::sync::{Mutex, OnceCell};

use crate::api::{Api, filter};
use crate::config::AwsConfig;
use crate::convert::{self, PROVIDER};

/// The provider id.
pub const PROVIDER_ID: &str = PROVIDER;

/// How often a volume modification is looked at while a resize waits for it.
const VOLUME_POLL_INTERVAL: Duration = Duration::from_secs(5);
/// How long on-demand prices of a region are kept (the Price List changes rarely).
const PRICE_TTL: Duration = Duration::from_secs(6 * 60 * 60);
/// The states of an instance that is neither terminated nor on its way there.
const LIVE_STATES: [&str; 4] = ["pending", "running", "stopping", "stopped"];

/// The default images, tried in order: the owner and the name pattern per architecture
/// (`{arch}`: `x86_64` → the first name, `arm64` → the second). The newest match is used.
const DEFAULT_IMAGES: &[(&str, &str, &str)] = &[
    (
        "amazon",
        "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *",
        "Deep Learning ARM64 Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *",
    ),
    (
        "099720109477",
        "ubuntu/images/hvm-ssd*/ubuntu-jammy-22.04-amd64-server-*",
        "ubuntu/images/hvm-ssd*/ubuntu-jammy-22.04-arm64-server-*",
    ),
];

/// The family name and the Service Quotas code of the on-demand vCPU limit of a type's
/// family letter.
fn quota_codes(instance_type: &str) -> Option<(&'static str, &'static str)> {
    match instance_type.chars().next() {
        Some('p') => Some(("P", "L-417A185B")),
        Some('g') => Some(("G and VT", "L-DB2E81BA")),
        _ => None,
    }
}

/// One region's on-demand prices and when they were read.
type CachedPrices = (Instant, Arc<HashMap<String, Price>>);

/// State shared by a credential and every client it makes.
struct Shared {
    api: Api,
    config: AwsConfig,
    identity: Identity,
    /// The account's enabled regions, looked up once (unless configured).
    regions: OnceCell<Vec<String>>,
    /// On-demand prices per region, with when they were read.
    prices: std::sync::Mutex<HashMap<String, CachedPrices>>,
    /// Serializes creates and the sweep in this process, so a RefID's lookup and the create it
    /// guards cannot interleave with another create of it, and a sweep never takes a group a
    /// create is about to use.
    create_lock: Mutex<()>,
}

/// An AWS credential: how to find the account's credentials, the regions, and the control
/// plane's reference id.
///
/// API type locational (EC2 answers per region); tenant id `aws-<hex SHA-256 of the access
/// key id>` (or of the profile, role and endpoint the standard chain is read with); `Debug`
/// never shows a secret.
#[derive(Clone)]
pub struct AwsCredential {
    shared: Arc<Shared>,
}

impl fmt::Debug for AwsCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredential")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl AwsCredential {
    /// A credential from a configuration. Fails when a field is invalid (the error names it).
    /// Nothing is loaded or sent until the first call.
    pub fn new(config: AwsConfig) -> Result<Self> {
        config.validate()?;
        let identity = Identity::new(
            PROVIDER,
            ApiType::Locational,
            config.ref_id.clone(),
            tenant_id_from_secret(PROVIDER, config.account_hint().as_bytes()),
        );
        Ok(Self {
            shared: Arc::new(Shared {
                api: Api::new(config.clone()),
                config,
                identity,
                regions: OnceCell::new(),
                prices: std::sync::Mutex::new(HashMap::new()),
                create_lock: Mutex::new(()),
            }),
        })
    }

    /// The configuration this credential was made from.
    pub fn config(&self) -> &AwsConfig {
        &self.shared.config
    }

    /// A client bound to `region` (empty: every region, creates going to the default one).
    pub fn client(&self, region: &str) -> AwsClient {
        AwsClient {
            shared: Arc::clone(&self.shared),
            location: region.to_owned(),
        }
    }
}

#[async_trait]
impl CloudCredential for AwsCredential {
    fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    async fn make_client(&self, location: &str) -> Result<Arc<dyn CloudClient>> {
        Ok(Arc::new(self.client(location)))
    }
}

/// A client of one AWS account, bound to a region or to all of them.
///
/// Implements [`CloudClient`], [`StopStartInstance`], [`RebootInstance`], [`ModifyFirewall`]
/// (the instance's own security group), [`InstanceTags`], [`MachineImage`],
/// [`InstanceTypeQuotas`] (the vCPU quotas of the P and G families), [`ResizeInstanceVolume`]
/// (the EBS root volume) and [`ChangeInstanceType`] (of a stopped instance).
#[derive(Clone)]
pub struct AwsClient {
    shared: Arc<Shared>,
    location: String,
}

impl fmt::Debug for AwsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsClient")
            .field("ref_id", &self.shared.config.ref_id)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// What a create made on the way, removed again when it fails.
#[derive(Debug, Default)]
struct Made {
    /// The key pair, when this create imported it.
    key: Option<String>,
    /// The security group (made or adopted: it is this RefID's).
    group: Option<String>,
}

/// How far the clocks of this machine (which writes a claim's time) and EC2 (which records a
/// launch time) may differ: a claim within this of a launch counts as made before it.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// When EC2 says a key pair was made.
fn created_at(info: &aws_sdk_ec2::types::KeyPairInfo) -> Option<jiff::Timestamp> {
    info.create_time()
        .and_then(|t| jiff::Timestamp::from_second(t.secs()).ok())
}

/// Whether a key pair last claimed at `claim` was claimed by a create after the instance
/// launched at `launched` (by more than [`CLOCK_SKEW`]), so that create may still be launching
/// with it. An unknown launch time cannot rule that out.
fn claimed_after(claim: Option<jiff::Timestamp>, launched: Option<jiff::Timestamp>) -> bool {
    match (claim, launched) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(claim), Some(launched)) => {
            claim > launched && claim.duration_since(launched).unsigned_abs() > CLOCK_SKEW
        }
    }
}

/// Whether a failed cleanup step may succeed when made again.
fn cleanup_may_retry(error: &CloudError) -> bool {
    error.retry() != Retry::Exhausted && error.kind().is_transient_failure()
}

/// `error` as an input error naming `field` when it is the provider saying the value does not
/// exist.
fn not_found_as_invalid(error: CloudError, field: &str, what: String) -> CloudError {
    if error.is_not_found() || error.kind() == ErrorKind::InvalidArgument {
        CloudError::invalid(field, what).with_source(error)
    } else {
        error
    }
}

impl AwsClient {
    fn api(&self) -> &Api {
        &self.shared.api
    }

    fn me(&self) -> &str {
        &self.shared.config.ref_id
    }

    fn ssh_user(&self) -> &str {
        self.shared.config.effective_ssh_user()
    }

    /// Runs one idempotent cleanup request through core's
    /// [`cleanup_step`](gpucloud_core::retry::cleanup_step).
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

    /// Every region of the account this credential uses: the configured ones, else those
    /// enabled for the account (looked up once).
    async fn all_regions(&self) -> Result<Vec<String>> {
        if !self.shared.config.regions.is_empty() {
            return Ok(self.shared.config.regions.clone());
        }
        self.shared
            .regions
            .get_or_try_init(|| self.api().regions("locations"))
            .await
            .cloned()
    }

    /// The regions a call covers: the client's, else every region `filter` keeps.
    async fn regions(&self, filter: &LocationsFilter) -> Result<Vec<String>> {
        if !self.location.is_empty() {
            return Ok(filter
                .matches(&self.location)
                .then(|| self.location.clone())
                .into_iter()
                .collect());
        }
        Ok(self
            .all_regions()
            .await?
            .into_iter()
            .filter(|r| filter.matches(r))
            .collect())
    }

    /// The region a create goes to.
    fn create_region<'a>(&'a self, asked: &'a str) -> &'a str {
        if !asked.is_empty() {
            asked
        } else if !self.location.is_empty() {
            &self.location
        } else {
            &self.shared.config.region
        }
    }

    /// On-demand prices of `region`, cached; a Price List that cannot be read leaves every
    /// price unknown (logged), never zero.
    async fn on_demand_prices(&self, region: &str) -> Arc<HashMap<String, Price>> {
        let cached = self
            .shared
            .prices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(region)
            .filter(|(at, _)| at.elapsed() < PRICE_TTL)
            .map(|(_, prices)| Arc::clone(prices));
        if let Some(prices) = cached {
            return prices;
        }
        match self.api().products("instance_types", region).await {
            Ok(products) => {
                let prices = Arc::new(convert::on_demand_prices(
                    region,
                    products.iter().map(String::as_str),
                ));
                self.shared
                    .prices
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(region.to_owned(), (Instant::now(), Arc::clone(&prices)));
                prices
            }
            Err(error) => {
                tracing::warn!(region, %error, "the Price List could not be read; on-demand prices are unknown");
                Arc::new(HashMap::new())
            }
        }
    }

    /// One region's catalog: the types, where each is offered, and the prices, asked at once
    /// once the types are known.
    async fn region_catalog(&self, region: &str) -> Result<Vec<InstanceType>> {
        const OP: &str = "instance_types";
        let all = self.shared.config.all_instance_types;
        let patterns = (!all).then_some(convert::ACCELERATED_PATTERNS);
        let (types, on_demand) = tokio::join!(
            self.api().instance_types(OP, region, patterns),
            self.on_demand_prices(region)
        );
        let types: Vec<_> = types?
            .into_iter()
            .filter(|t| all || convert::is_accelerated(t))
            .collect();
        let names: Vec<String> = types
            .iter()
            .filter_map(|t| t.instance_type().map(|n| n.as_str().to_owned()))
            .collect();
        let (zones, spot) = tokio::join!(
            self.api().offerings(OP, region, &names),
            self.api().spot_prices(OP, region, &names)
        );
        let spot = match spot {
            Ok(history) => convert::spot_prices(&history),
            Err(error) => {
                tracing::warn!(region, %error, "spot prices could not be read; spot offers are left out");
                HashMap::new()
            }
        };
        Ok(convert::RegionCatalog {
            region,
            types: &types,
            zones: &zones?,
            on_demand: &on_demand,
            spot: &spot,
        }
        .entries())
    }

    /// This credential's live instance (not terminated or on its way) with `ref_id` in
    /// `region`.
    async fn find_live(
        &self,
        op: &'static str,
        region: &str,
        ref_id: &str,
    ) -> Result<Option<aws_sdk_ec2::types::Instance>> {
        let found = self
            .api()
            .instances(
                op,
                region,
                &[],
                vec![
                    filter(&format!("tag:{REF_ID_TAG}"), [ref_id]),
                    filter("instance-state-name", LIVE_STATES),
                ],
            )
            .await?;
        Ok(found.into_iter().find(|w| {
            let mark = convert::tag(w.tags(), CRED_REF_ID_TAG).unwrap_or_default();
            let live = !matches!(
                convert::lifecycle(w.state().and_then(|s| s.name())),
                LifecycleStatus::Terminated | LifecycleStatus::Terminating
            );
            live && convert::tag(w.tags(), REF_ID_TAG) == Some(ref_id)
                && is_marked_by(mark, self.me())
        }))
    }

    /// The instance `id` and its region: the client's region, else every region of the
    /// credential. A terminated instance is gone.
    async fn locate(
        &self,
        op: &'static str,
        id: &InstanceId,
    ) -> Result<(String, aws_sdk_ec2::types::Instance)> {
        let valid = id.as_str().starts_with("i-")
            && id.as_str().len() <= 32
            && id.as_str()[2..].chars().all(|c| c.is_ascii_alphanumeric());
        if !valid {
            return Err(CloudError::instance_not_found(PROVIDER, op, id.as_str()));
        }
        let regions = self.regions(&LocationsFilter::all()).await?;
        let ids = [id.as_str().to_owned()];
        let ids = &ids;
        let lookups = regions.iter().map(|region| async move {
            match self.api().instances(op, region, ids, Vec::new()).await {
                Ok(found) => Ok(found.into_iter().next().map(|w| (region.clone(), w))),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        });
        for found in futures::future::try_join_all(lookups).await? {
            if let Some((region, w)) = found
                && convert::lifecycle(w.state().and_then(|s| s.name()))
                    != LifecycleStatus::Terminated
            {
                return Ok((region, w));
            }
        }
        Err(CloudError::instance_not_found(PROVIDER, op, id.as_str()))
    }

    /// The ingress rules of the instance's own security group, if it has one.
    async fn rules_of(
        &self,
        op: &'static str,
        region: &str,
        w: &aws_sdk_ec2::types::Instance,
    ) -> Result<Option<Vec<FirewallRule>>> {
        let Some(group) = convert::managed_group(w) else {
            return Ok(None);
        };
        let groups = self.api().groups(op, region, &[group], Vec::new()).await?;
        Ok(groups
            .first()
            .map(|g| convert::ingress_rules(g.ip_permissions())))
    }

    /// The image of a create and its root device: the one asked for, else the newest default
    /// image for the type's architecture.
    async fn image(
        &self,
        op: &'static str,
        region: &str,
        asked: &str,
        arch: &str,
    ) -> Result<(String, String)> {
        let root = |i: &aws_sdk_ec2::types::Image| {
            (
                i.image_id().unwrap_or_default().to_owned(),
                i.root_device_name().unwrap_or("/dev/sda1").to_owned(),
            )
        };
        if !asked.is_empty() {
            let images = self
                .api()
                .images(op, region, &[], &[asked.to_owned()], Vec::new())
                .await
                .map_err(|e| {
                    not_found_as_invalid(e, "image_id", format!("no AMI {asked:?} in {region}"))
                })?;
            return images.first().map(root).ok_or_else(|| {
                CloudError::invalid("image_id", format!("no AMI {asked:?} in {region}"))
            });
        }
        let arm = arch == "arm64";
        let mut candidates: Vec<(String, String)> = DEFAULT_IMAGES
            .iter()
            .map(|(owner, x86, arm64)| {
                (
                    (*owner).to_owned(),
                    (*if arm { arm64 } else { x86 }).to_owned(),
                )
            })
            .collect();
        if let Some(pattern) = &self.shared.config.default_image {
            if pattern.starts_with("ami-") {
                return Box::pin(self.image(op, region, pattern, arch)).await;
            }
            candidates.insert(0, (String::new(), pattern.clone()));
        }
        for (owner, name) in &candidates {
            let owners: Vec<String> = (!owner.is_empty())
                .then(|| owner.clone())
                .into_iter()
                .collect();
            let mut images = self
                .api()
                .images(
                    op,
                    region,
                    &owners,
                    &[],
                    vec![
                        filter("name", [name.as_str()]),
                        filter("architecture", [arch]),
                        filter("state", ["available"]),
                    ],
                )
                .await?;
            images.sort_by(|a, b| b.creation_date().cmp(&a.creation_date()));
            if let Some(newest) = images.first() {
                return Ok(root(newest));
            }
        }
        Err(CloudError::invalid(
            "image_id",
            format!(
                "no default image for {arch} in {region} (Deep Learning Base AMI or Ubuntu 22.04); \
                 name one, or set GPUCLOUD_AWS_DEFAULT_IMAGE"
            ),
        ))
    }

    /// Records on a key pair or security group (`id`) that a create is about to launch with
    /// it ([`convert::USED_AT_TAG`]), so that a sweep in another process leaves it alone within
    /// its grace.
    async fn claim(&self, op: &'static str, region: &str, id: &str) -> Result<()> {
        let now = jiff::Timestamp::now().to_string();
        let tags = convert::to_tags([(convert::USED_AT_TAG.to_owned(), now)]);
        self.api().create_tags(op, region, id, tags).await
    }

    /// Claims an existing key pair for this create (see [`Self::claim`]).
    async fn claim_key(
        &self,
        op: &'static str,
        region: &str,
        info: &aws_sdk_ec2::types::KeyPairInfo,
    ) -> Result<()> {
        if let Some(id) = info.key_pair_id() {
            self.claim(op, region, id).await
        } else {
            tracing::debug!(key_pair = ?info.key_name(), "key pair without an id: not claimed");
            Ok(())
        }
    }

    /// The account's key pair for the create's key: the one named after it (claimed for this
    /// create), else imported now (then it is this create's to remove on failure, and its
    /// `created-at` tag is the claim).
    async fn ensure_key(
        &self,
        op: &'static str,
        region: &str,
        create: &ValidCreate,
        tags: &[aws_sdk_ec2::types::Tag],
        made: &mut Made,
    ) -> Result<String> {
        let name = convert::key_pair_name(create.public_key());
        if let Some(info) = self.api().key_pair(op, region, &name).await? {
            self.claim_key(op, region, &info).await?;
            return Ok(name);
        }
        let openssh = create.public_key().to_openssh();
        match self
            .api()
            .import_key_pair(op, region, &name, &openssh, tags)
            .await
        {
            Ok(()) => {
                made.key = Some(name.clone());
                Ok(name)
            }
            // Imported meanwhile by another create of the same key: claim it and use it.
            Err(e) if e.kind() == ErrorKind::Conflict => {
                if let Some(info) = self.api().key_pair(op, region, &name).await? {
                    self.claim_key(op, region, &info).await?;
                }
                Ok(name)
            }
            Err(error) if error.outcome_unknown() => {
                match self
                    .cleanup_step(|| self.api().key_pair(op, region, &name))
                    .await
                {
                    Ok(Some(_)) => {
                        made.key = Some(name.clone());
                        Ok(name)
                    }
                    _ => Err(error),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The security group of a create, with SSH and `create`'s ingress rules: made now, or
    /// one this credential made for the RefID before (a create whose outcome stayed unknown)
    /// with its rules reset. Either way it is this create's to remove on failure.
    async fn ensure_group(
        &self,
        op: &'static str,
        region: &str,
        create: &ValidCreate,
        tags: &[aws_sdk_ec2::types::Tag],
        made: &mut Made,
    ) -> Result<(String, Vec<FirewallRule>)> {
        let name = convert::group_name(self.me(), &create.attrs().ref_id);
        let by_name = || {
            self.api()
                .groups(op, region, &[], vec![filter("group-name", [name.as_str()])])
        };
        let existing = by_name().await?;
        let group = if let Some(g) = existing.into_iter().find(|g| {
            is_marked_by(
                convert::tag(g.tags(), CRED_REF_ID_TAG).unwrap_or_default(),
                self.me(),
            )
        }) {
            let id = g.group_id().unwrap_or_default().to_owned();
            made.group = Some(id.clone());
            self.claim(op, region, &id).await?;
            self.clear_ingress(op, region, &id, g.ip_permissions().to_vec())
                .await?;
            id
        } else {
            match self.api().create_group(op, region, &name, tags).await {
                Ok(id) => {
                    made.group = Some(id.clone());
                    id
                }
                Err(error) if error.outcome_unknown() => {
                    let found = self.cleanup_step(by_name).await.ok().and_then(|groups| {
                        groups.first().and_then(|g| g.group_id()).map(str::to_owned)
                    });
                    match found {
                        Some(id) => {
                            made.group = Some(id.clone());
                            id
                        }
                        None => return Err(error),
                    }
                }
                Err(e) => return Err(e),
            }
        };
        let ssh = convert::ingress_rules(&[convert::ssh_permission()]);
        let extra: Vec<_> = missing_rules(&ssh, create.ingress_rules())
            .into_iter()
            .collect();
        let mut permissions = vec![convert::ssh_permission()];
        permissions.extend(convert::permissions(extra));
        let rules = convert::ingress_rules(&permissions);
        match self.api().authorize(op, region, &group, permissions).await {
            // An earlier attempt of this call was carried out and its answer lost (the group
            // is this create's, its rules cleared above): add what is missing, one at a time.
            Err(e) if e.kind() == ErrorKind::DuplicateFirewallRule => {
                for rule in &rules {
                    let Some(permission) = convert::parse_rule_id(&rule.id) else {
                        continue;
                    };
                    match self
                        .api()
                        .authorize(op, region, &group, vec![permission])
                        .await
                    {
                        Err(e) if e.kind() == ErrorKind::DuplicateFirewallRule => {}
                        other => other?,
                    }
                }
            }
            other => other?,
        }
        Ok((group, rules))
    }

    /// Removes every ingress permission of `group` (`current`: those it was read with). A
    /// retried revoke whose first attempt was carried out meets `InvalidPermission.NotFound`;
    /// then the group is read again and what is still there is revoked.
    async fn clear_ingress(
        &self,
        op: &'static str,
        region: &str,
        group: &str,
        current: Vec<aws_sdk_ec2::types::IpPermission>,
    ) -> Result<()> {
        if current.is_empty() {
            return Ok(());
        }
        match self.api().revoke(op, region, group, current).await {
            Err(e) if e.is_not_found() => {
                let ids = [group.to_owned()];
                let left: Vec<_> = self
                    .api()
                    .groups(op, region, &ids, Vec::new())
                    .await?
                    .first()
                    .map(|g| g.ip_permissions().to_vec())
                    .unwrap_or_default();
                if left.is_empty() {
                    Ok(())
                } else {
                    self.api().revoke(op, region, group, left).await
                }
            }
            other => other,
        }
    }

    /// Removes what a failed create made: the security group, then the key pair. Best
    /// effort; each failure is logged, the create's own error is the one to report.
    async fn roll_back(&self, op: &'static str, region: &str, made: Made) {
        if let Some(group) = made.group
            && let Err(e) = self
                .cleanup_step(|| self.delete_group(op, region, &group))
                .await
        {
            tracing::warn!(group = %group, error = %e, "could not delete the security group of a failed create; the sweep will");
        }
        if let Some(key) = made.key
            && let Err(e) = self
                .cleanup_step(|| self.api().delete_key_pair(op, region, &key))
                .await
        {
            tracing::warn!(key_pair = %key, error = %e, "could not delete the key pair of a failed create");
        }
    }

    /// Deletes a group; already gone is fine.
    async fn delete_group(&self, op: &'static str, region: &str, group: &str) -> Result<()> {
        match self.api().delete_group(op, region, group).await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }

    /// Deletes the security groups of this credential in `region` that no instance uses
    /// and that are older than the sweep's grace (a create in another process may be about
    /// to use a younger one), and the key pairs this credential imported that no instance
    /// uses. Returns how many resources it deleted. Runs at the end of every terminate (best
    /// effort); the campaign and operators call it directly.
    pub async fn sweep_orphaned_resources(&self, region: &str) -> Result<usize> {
        // Boxed: the SDK's futures make this one large for its callers' stacks.
        Box::pin(self.sweep(region)).await
    }

    async fn sweep(&self, region: &str) -> Result<usize> {
        const OP: &str = "sweep";
        let _guard = self.shared.create_lock.lock().await;
        // Marked by this credential, read from the tags of every group and key pair.
        let (groups, instances) = tokio::try_join!(
            self.api().groups(OP, region, &[], Vec::new()),
            self.api().instances(
                OP,
                region,
                &[],
                vec![filter(
                    "instance-state-name",
                    LIVE_STATES.iter().copied().chain(["shutting-down"])
                )]
            ),
        )?;
        let used_groups: Vec<&str> = instances
            .iter()
            .flat_map(|i| i.security_groups().iter().filter_map(|g| g.group_id()))
            .collect();
        let used_keys: Vec<&str> = instances.iter().filter_map(|i| i.key_name()).collect();
        let grace = self.shared.config.effective_sweep_grace();
        let now = jiff::Timestamp::now();
        let mut deleted = 0;
        let marked = |tags: &[aws_sdk_ec2::types::Tag]| {
            is_marked_by(
                convert::tag(tags, CRED_REF_ID_TAG).unwrap_or_default(),
                self.me(),
            )
        };
        for g in groups.iter().filter(|g| marked(g.tags())) {
            let Some(id) = g.group_id() else { continue };
            let old = convert::last_claim(g.tags(), None)
                .is_none_or(|at| now.duration_since(at).unsigned_abs() >= grace);
            if used_groups.contains(&id)
                || !old
                || !g
                    .group_name()
                    .is_some_and(|n| n.starts_with(convert::MANAGED_PREFIX))
            {
                continue;
            }
            match self.delete_group(OP, region, id).await {
                Ok(()) => deleted += 1,
                Err(e) => tracing::info!(group = id, error = %e, "sweep: group not deleted"),
            }
        }
        let keys = self.api().key_pairs(OP, region).await?;
        for info in keys.iter().filter(|k| marked(k.tags())) {
            let Some(key) = info.key_name().map(str::to_owned) else {
                continue;
            };
            let old = convert::last_claim(info.tags(), created_at(info))
                .is_none_or(|at| now.duration_since(at).unsigned_abs() >= grace);
            if used_keys.contains(&key.as_str())
                || !old
                || !key.starts_with(convert::MANAGED_PREFIX)
            {
                continue;
            }
            match self.api().delete_key_pair(OP, region, &key).await {
                Ok(()) => deleted += 1,
                Err(e) => {
                    tracing::info!(key_pair = %key, error = %e, "sweep: key pair not deleted");
                }
            }
        }
        Ok(deleted)
    }

    /// Runs a state action; an instance in the wrong state is a `Conflict` naming its state.
    async fn state_action(
        &self,
        op: &'static str,
        id: &InstanceId,
        action: &'static str,
    ) -> Result<()> {
        let (region, w) = self.locate(op, id).await?;
        let result = match action {
            "stop" => self.api().stop(op, &region, id.as_str()).await,
            "start" => self.api().start(op, &region, id.as_str()).await,
            _ => self.api().reboot(op, &region, id.as_str()).await,
        };
        result.map_err(|e| {
            if e.kind() == ErrorKind::Conflict {
                let state = w
                    .state()
                    .and_then(|s| s.name())
                    .map_or("in another state", |s| s.as_str());
                CloudError::provider(
                    PROVIDER,
                    op,
                    ErrorKind::Conflict,
                    format!("instance {id} is {state}: EC2 cannot {action} it now"),
                )
                .with_source(e)
            } else {
                e
            }
        })
    }

    /// The group of an instance gpucloud made, for a firewall change.
    async fn group_for_firewall(
        &self,
        op: &'static str,
        id: &InstanceId,
    ) -> Result<(String, String, Vec<FirewallRule>)> {
        let (region, w) = self.locate(op, id).await?;
        let Some(group) = convert::managed_group(&w) else {
            return Err(CloudError::provider(
                PROVIDER,
                op,
                ErrorKind::Conflict,
                format!(
                    "instance {id} has no security group gpucloud made; change its own groups in EC2"
                ),
            ));
        };
        let groups = self
            .api()
            .groups(op, &region, std::slice::from_ref(&group), Vec::new())
            .await?;
        let rules = groups
            .first()
            .map(|g| convert::ingress_rules(g.ip_permissions()))
            .unwrap_or_default();
        Ok((region, group, rules))
    }
}

#[async_trait]
impl CloudClient for AwsClient {
    fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn capability_table(&self) -> CapabilityTable<'_> {
        CapabilityTable {
            stop_start: Some(self),
            reboot: Some(self),
            machine_image: Some(self),
            modify_firewall: Some(self),
            tags: Some(self),
            quota: Some(self),
            resize_volume: Some(self),
            change_instance_type: Some(self),
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
            disk_size: true,
            spot: true,
            ..CreateFeatures::default()
        }
    }

    /// The credential's regions (the configured ones, else those enabled for the account).
    async fn locations(&self, _args: GetLocationsArgs) -> Result<Vec<Location>> {
        Ok(self
            .regions(&LocationsFilter::all())
            .await?
            .into_iter()
            .map(|name| Location {
                description: format!("AWS {name}"),
                name,
                available: true,
                ..Location::default()
            })
            .collect())
    }

    /// Every (accelerated) type of every region, on demand and spot, the regions asked at
    /// once.
    async fn instance_types(&self, args: &GetInstanceTypeArgs) -> Result<Vec<InstanceType>> {
        let regions = self.regions(&args.locations).await?;
        let catalogs =
            futures::future::try_join_all(regions.iter().map(|r| self.region_catalog(r))).await?;
        Ok(args.apply(catalogs.into_iter().flatten().collect()))
    }

    async fn create_instance(&self, create: ValidCreate) -> Result<Instance> {
        const OP: &str = "create_instance";
        let attrs = create.attrs();
        let region = self.create_region(&attrs.location).to_owned();
        if !crate::config::is_region_name(&region) {
            return Err(CloudError::invalid(
                "location",
                format!("{region:?} is not an AWS region such as us-east-1"),
            ));
        }
        if !attrs.sub_location.is_empty() && !attrs.sub_location.starts_with(region.as_str()) {
            return Err(CloudError::invalid(
                "sub_location",
                format!(
                    "{:?} is not an availability zone of {region}",
                    attrs.sub_location
                ),
            ));
        }
        let root_gib = convert::root_volume_gib(attrs.disk_size_bytes)?;
        let hostname = create.hostname().to_owned();
        let name = if attrs.name.trim().is_empty() {
            hostname.clone()
        } else {
            attrs.name.clone()
        };
        let mark = Bookkeeping {
            ref_id: attrs.ref_id.clone(),
            cred_ref_id: self.me().to_owned(),
            created_at: Some(jiff::Timestamp::now()),
        };
        let mark_tags = convert::to_tags(mark.encode());
        let mut instance_tags = mark.encode_with(create.tags());
        instance_tags.push((convert::NAME_TAG.to_owned(), name));
        instance_tags.push((convert::HOSTNAME_TAG.to_owned(), hostname));
        let instance_tags = convert::to_tags(instance_tags);

        // The type must exist here: its architecture picks the image.
        let types = self
            .api()
            .instance_types(OP, &region, Some(&[attrs.instance_type.as_str()]))
            .await
            .map_err(|e| {
                not_found_as_invalid(
                    e,
                    "instance_type",
                    format!("{:?} is not an EC2 type in {region}", attrs.instance_type),
                )
            })?;
        let Some(info) = types.first() else {
            return Err(CloudError::invalid(
                "instance_type",
                format!("{:?} is not an EC2 type in {region}", attrs.instance_type),
            ));
        };
        let arch = info
            .processor_info()
            .and_then(|p| p.supported_architectures().first())
            .map_or("x86_64", |a| a.as_str())
            .to_owned();
        let (image_id, root_device) = self.image(OP, &region, &attrs.image_id, &arch).await?;

        let _guard = self.shared.create_lock.lock().await;
        if let Some(existing) = self.find_live(OP, &region, &attrs.ref_id).await? {
            let rules = self.rules_of(OP, &region, &existing).await.ok().flatten();
            let mut instance = convert::instance(&existing, &region, self.ssh_user(), rules);
            instance.pub_key_fingerprint = create.public_key().fingerprint_sha256();
            return Ok(instance);
        }
        let mut made = Made::default();
        let prepared = async {
            let key = self
                .ensure_key(OP, &region, &create, &mark_tags, &mut made)
                .await?;
            let (group, rules) = self
                .ensure_group(OP, &region, &create, &mark_tags, &mut made)
                .await?;
            Ok::<_, CloudError>((key, group, rules))
        }
        .await;
        let (key, group, rules) = match prepared {
            Ok(p) => p,
            Err(e) => {
                self.roll_back(OP, &region, made).await;
                return Err(e);
            }
        };
        let mut request = self
            .api()
            .run_instances_request(&region)
            .await
            .image_id(image_id)
            .instance_type(attrs.instance_type.as_str().into())
            .min_count(1)
            .max_count(1)
            .key_name(key)
            .security_group_ids(group.clone())
            .client_token(convert::client_token(self.me(), &attrs.ref_id, &group))
            .block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name(root_device)
                    .ebs(
                        EbsBlockDevice::builder()
                            .volume_size(root_gib)
                            .volume_type(VolumeType::Gp3)
                            .delete_on_termination(true)
                            .build(),
                    )
                    .build(),
            )
            .metadata_options(
                InstanceMetadataOptionsRequest::builder()
                    .http_tokens(HttpTokensState::Required)
                    .http_endpoint(InstanceMetadataEndpointState::Enabled)
                    .build(),
            )
            .tag_specifications(crate::api::tag_spec(ResourceType::Instance, &instance_tags))
            .tag_specifications(crate::api::tag_spec(ResourceType::Volume, &mark_tags));
        if let Some(data) = create.user_data() {
            request = request.user_data(base64::engine::general_purpose::STANDARD.encode(data));
        }
        if !attrs.sub_location.is_empty() {
            request = request.placement(
                Placement::builder()
                    .availability_zone(attrs.sub_location.clone())
                    .build(),
            );
        }
        if attrs.use_spot {
            request = request.instance_market_options(
                InstanceMarketOptionsRequest::builder()
                    .market_type(MarketType::Spot)
                    .spot_options(
                        SpotMarketOptions::builder()
                            .spot_instance_type(SpotInstanceType::OneTime)
                            .build(),
                    )
                    .build(),
            );
        }
        let launched = match Box::pin(self.api().run_instance(OP, request)).await {
            Ok(w) => w,
            Err(error) if error.outcome_unknown() => {
                tracing::info!(ref_id = %attrs.ref_id, %error, "create outcome unknown; looking the instance up");
                let budget = ResolveBudget::with_initial_backoff(
                    self.shared.config.effective_retry_backoff(),
                );
                let unknown = UnknownCreate {
                    provider: "aws",
                    operation: OP,
                    ref_id: &attrs.ref_id,
                    error,
                };
                // Still unknown (`?`): the group and key may be in use by an instance we
                // cannot see, so they stay; a create with this RefID resolves it (the same
                // group gives the same ClientToken).
                match resolve_unknown_create(&budget, unknown, || {
                    self.find_live(OP, &region, &attrs.ref_id)
                })
                .await?
                {
                    Resolved::Found(found) => found,
                    Resolved::Absent(error) => {
                        self.roll_back(OP, &region, made).await;
                        return Err(error);
                    }
                }
            }
            Err(error) => {
                self.roll_back(OP, &region, made).await;
                return Err(error);
            }
        };
        let mut instance = convert::instance(&launched, &region, self.ssh_user(), Some(rules));
        instance.pub_key_fingerprint = create.public_key().fingerprint_sha256();
        Ok(instance)
    }

    async fn get_instance(&self, id: &InstanceId) -> Result<Instance> {
        const OP: &str = "get_instance";
        let (region, w) = self.locate(OP, id).await?;
        let rules = self.rules_of(OP, &region, &w).await?;
        Ok(convert::instance(&w, &region, self.ssh_user(), rules))
    }

    /// This credential's instances (or the account's, by `args.scope`) that are not
    /// terminated; firewall rules are reported by `get_instance` only (one more call per
    /// instance).
    async fn list_instances(&self, args: &ListInstancesArgs) -> Result<Vec<Instance>> {
        const OP: &str = "list_instances";
        let regions = self.regions(&args.locations).await?;
        let ids: Vec<String> = Vec::new();
        let states = filter(
            "instance-state-name",
            LIVE_STATES.iter().copied().chain(["shutting-down"]),
        );
        let per_region = futures::future::try_join_all(regions.iter().map(|region| {
            let filters = vec![states.clone()];
            let ids = &ids;
            async move {
                let found = self.api().instances(OP, region, ids, filters).await?;
                Ok::<_, CloudError>((region, found))
            }
        }))
        .await?;
        let mut out = Vec::new();
        for (region, found) in per_region {
            for w in &found {
                let mark = convert::tag(w.tags(), CRED_REF_ID_TAG).unwrap_or_default();
                if !args.keeps_mark(mark, self.me()) {
                    continue;
                }
                let instance = convert::instance(w, region, self.ssh_user(), None);
                if args.matches(&instance) {
                    out.push(instance);
                }
            }
        }
        Ok(out)
    }

    /// Terminates the instance, then deletes its security group once it is gone (at once
    /// where termination is instant; otherwise a later terminate's sweep does), and sweeps
    /// what this credential left unused in the region.
    async fn terminate_instance(&self, id: &InstanceId) -> Result<()> {
        const OP: &str = "terminate_instance";
        let (region, w) = match self.locate(OP, id).await {
            Ok(found) => found,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        match self.api().terminate(OP, &region, id.as_str()).await {
            Err(e) if e.is_not_found() => return Ok(()),
            other => other?,
        }
        let mark = convert::tag(w.tags(), CRED_REF_ID_TAG).unwrap_or_default();
        if is_marked_by(mark, self.me()) {
            self.remove_own_resources(OP, &region, &w).await;
        }
        if let Err(e) = self.sweep_orphaned_resources(&region).await {
            tracing::info!(error = %e, "sweep after terminate failed");
        }
        Ok(())
    }
}

impl AwsClient {
    /// After a terminate: the instance's own security group once the instance is gone, and
    /// its key pair when this credential imported it and no other instance uses it. What
    /// cannot go yet is left to a later sweep.
    async fn remove_own_resources(
        &self,
        op: &'static str,
        region: &str,
        w: &aws_sdk_ec2::types::Instance,
    ) {
        let id = w.instance_id().unwrap_or_default().to_owned();
        let _guard = self.shared.create_lock.lock().await;
        let others = match self
            .api()
            .instances(
                op,
                region,
                &[],
                vec![filter(
                    "instance-state-name",
                    LIVE_STATES.iter().copied().chain(["shutting-down"]),
                )],
            )
            .await
        {
            Ok(found) => found,
            Err(e) => {
                tracing::info!(error = %e, "cannot tell what still uses the terminated instance's resources; the sweep will");
                return;
            }
        };
        let gone = !others.iter().any(|i| i.instance_id() == Some(id.as_str()));
        if let Some(group) = convert::managed_group(w)
            && gone
            && let Err(e) = self.delete_group(op, region, &group).await
        {
            tracing::info!(group, error = %e, "security group not deleted yet; the sweep will");
        }
        if let Some(key) = w
            .key_name()
            .filter(|k| k.starts_with(convert::MANAGED_PREFIX))
        {
            let used = others
                .iter()
                .any(|i| i.instance_id() != Some(id.as_str()) && i.key_name() == Some(key));
            // Ours, and claimed by no create since this instance was launched (one still
            // launching elsewhere may need it; the sweep takes it after its grace).
            let launched = w
                .launch_time()
                .and_then(|t| jiff::Timestamp::from_second(t.secs()).ok());
            let ours = match self.api().key_pair(op, region, key).await {
                Ok(Some(info)) => {
                    let claim = convert::last_claim(info.tags(), created_at(&info));
                    is_marked_by(
                        convert::tag(info.tags(), CRED_REF_ID_TAG).unwrap_or_default(),
                        self.me(),
                    ) && !claimed_after(claim, launched)
                }
                _ => false,
            };
            if ours
                && !used
                && let Err(e) = self.api().delete_key_pair(op, region, key).await
            {
                tracing::info!(key_pair = key, error = %e, "key pair not deleted; the sweep will");
            }
        }
    }
}

#[async_trait]
impl StopStartInstance for AwsClient {
    /// `StopInstances`: accepted while the instance runs (not for spot instances).
    async fn stop_instance(&self, id: &InstanceId) -> Result<()> {
        self.state_action("stop_instance", id, "stop").await
    }

    /// `StartInstances`: accepted while the instance is stopped.
    async fn start_instance(&self, id: &InstanceId) -> Result<()> {
        self.state_action("start_instance", id, "start").await
    }
}

#[async_trait]
impl RebootInstance for AwsClient {
    /// `RebootInstances`.
    async fn reboot_instance(&self, id: &InstanceId) -> Result<()> {
        self.state_action("reboot_instance", id, "reboot").await
    }
}

#[async_trait]
impl ModifyFirewall for AwsClient {
    async fn add_firewall_rules(&self, args: &ValidFirewallAdd) -> Result<()> {
        const OP: &str = "add_firewall_rules";
        let (region, group, existing) = self.group_for_firewall(OP, args.instance_id()).await?;
        let missing = missing_rules(&existing, args.ingress_rules());
        if missing.is_empty() {
            return Ok(());
        }
        match self
            .api()
            .authorize(OP, &region, &group, convert::permissions(missing))
            .await
        {
            // One of them was added meanwhile: add them one at a time, skipping those present.
            Err(e) if e.kind() == ErrorKind::DuplicateFirewallRule => {
                let (_, _, now) = self.group_for_firewall(OP, args.instance_id()).await?;
                for rule in missing_rules(&now, args.ingress_rules()) {
                    match self
                        .api()
                        .authorize(OP, &region, &group, convert::permissions([rule]))
                        .await
                    {
                        Err(e) if e.kind() == ErrorKind::DuplicateFirewallRule => {}
                        other => other?,
                    }
                }
                Ok(())
            }
            other => other,
        }
    }

    async fn revoke_firewall_rules(&self, args: &ValidFirewallRevoke) -> Result<()> {
        const OP: &str = "revoke_firewall_rules";
        let (region, group, existing) = self.group_for_firewall(OP, args.instance_id()).await?;
        let mut permissions = Vec::new();
        for id in args.rule_ids() {
            if !existing.iter().any(|r| &r.id == id) {
                return Err(CloudError::provider(
                    PROVIDER,
                    OP,
                    ErrorKind::ResourceNotFound,
                    format!(
                        "instance {} has no firewall rule {id:?}",
                        args.instance_id()
                    ),
                ));
            }
            if let Some(p) = convert::parse_rule_id(id) {
                permissions.push(p);
            }
        }
        if permissions.is_empty() {
            return Ok(());
        }
        self.api().revoke(OP, &region, &group, permissions).await
    }
}

#[async_trait]
impl InstanceTags for AwsClient {
    /// Replaces the user tags; the bookkeeping tags and the name stay.
    async fn update_instance_tags(&self, args: &ValidTagUpdate) -> Result<()> {
        const OP: &str = "update_instance_tags";
        let (region, w) = self.locate(OP, args.instance_id()).await?;
        let (_, current) = convert::bookkeeping_of(w.tags());
        let gone: Vec<String> = current
            .keys()
            .filter(|k| !args.tags().contains_key(*k))
            .cloned()
            .collect();
        if !gone.is_empty() {
            self.api()
                .delete_tags(OP, &region, args.instance_id().as_str(), gone)
                .await?;
        }
        if convert::sorted(&current) != convert::sorted(args.tags()) && !args.tags().is_empty() {
            let tags = convert::to_tags(args.tags().iter().map(|(k, v)| (k.clone(), v.clone())));
            self.api()
                .create_tags(OP, &region, args.instance_id().as_str(), tags)
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl MachineImage for AwsClient {
    /// `DescribeImages` in the client's region (the default region when it has none): by id,
    /// owner, architecture and name pattern; with no owner and no id, the images this account
    /// owns and Amazon's.
    async fn images(&self, args: &GetImageArgs) -> Result<Vec<Image>> {
        const OP: &str = "images";
        let region = self.create_region("").to_owned();
        let owners = if args.owners.is_empty() && args.image_ids.is_empty() {
            vec!["self".to_owned(), "amazon".to_owned()]
        } else {
            args.owners.clone()
        };
        let mut filters = vec![filter("state", ["available"])];
        if !args.architectures.is_empty() {
            filters.push(filter("architecture", args.architectures.iter().cloned()));
        }
        if !args.name_filters.is_empty() {
            filters.push(filter("name", args.name_filters.iter().cloned()));
        }
        let images = self
            .api()
            .images(OP, &region, &owners, &args.image_ids, filters)
            .await?;
        Ok(images
            .iter()
            .map(|i| Image {
                id: i.image_id().unwrap_or_default().to_owned(),
                architecture: i
                    .architecture()
                    .map(|a| a.as_str().to_owned())
                    .unwrap_or_default(),
                description: i.description().unwrap_or_default().to_owned(),
                name: i.name().unwrap_or_default().to_owned(),
                created_at: i.creation_date().and_then(|d| d.parse().ok()),
                owner: i.owner_id().unwrap_or_default().to_owned(),
                ..Image::default()
            })
            .filter(|i| args.matches(i))
            .collect())
    }
}

#[async_trait]
impl ResizeInstanceVolume for AwsClient {
    /// Grows the instance's EBS root volume (`ModifyVolume`) to `size_bytes` rounded up to
    /// whole GiB, running or stopped. A size the volume already has changes nothing; a smaller
    /// one is refused before any change (EBS volumes only grow). With `wait_for_optimizing`,
    /// returns once EBS reports the modification completed, which can take hours for a large
    /// volume (dropping the future stops the waiting, not the modification).
    async fn resize_instance_volume(&self, args: &ResizeInstanceVolumeArgs) -> Result<()> {
        const OP: &str = "resize_instance_volume";
        let gib = convert::resized_root_gib(args.size_bytes)?;
        let id = &args.instance_id;
        let (region, w) = self.locate(OP, id).await?;
        let Some(volume_id) = convert::root_volume_id(&w).map(str::to_owned) else {
            return Err(CloudError::provider(
                PROVIDER,
                OP,
                ErrorKind::Conflict,
                format!("instance {id} has no EBS root volume to resize"),
            ));
        };
        let volume = self.api().volume(OP, &region, &volume_id).await?;
        let current = volume
            .as_ref()
            .and_then(aws_sdk_ec2::types::Volume::size)
            .ok_or_else(|| {
                CloudError::provider(
                    PROVIDER,
                    OP,
                    ErrorKind::ResourceNotFound,
                    format!("the root volume {volume_id} of instance {id} was not found"),
                )
            })?;
        if gib < current {
            return Err(CloudError::invalid(
                "size_bytes",
                format!(
                    "the root volume of {id} is {current} GiB and EBS volumes only grow; {gib} GiB asked"
                ),
            ));
        }
        if gib > current {
            match self.api().modify_volume(OP, &region, &volume_id, gib).await {
                Ok(_) => {}
                // The answer was lost: the volume's latest modification says whether it
                // was made.
                Err(error) if error.outcome_unknown() => {
                    let made = self
                        .api()
                        .volume_modification(OP, &region, &volume_id)
                        .await?
                        .is_some_and(|m| m.target_size() == Some(gib));
                    if !made {
                        return Err(error);
                    }
                }
                Err(error) => return Err(error),
            }
        }
        if args.wait_for_optimizing {
            self.wait_modified(OP, &region, &volume_id).await?;
        }
        Ok(())
    }
}

impl AwsClient {
    /// Waits until the latest modification of volume `volume_id` is completed; a failed one is
    /// an error with EBS's reason.
    async fn wait_modified(&self, op: &'static str, region: &str, volume_id: &str) -> Result<()> {
        loop {
            let modification = self
                .api()
                .volume_modification(op, region, volume_id)
                .await?;
            match modification.as_ref().and_then(|m| m.modification_state()) {
                None | Some(VolumeModificationState::Completed) => return Ok(()),
                Some(VolumeModificationState::Failed) => {
                    return Err(CloudError::provider(
                        PROVIDER,
                        op,
                        ErrorKind::Internal,
                        format!(
                            "EBS failed to modify volume {volume_id}: {}",
                            modification
                                .as_ref()
                                .and_then(|m| m.status_message())
                                .unwrap_or("no reason given")
                        ),
                    ));
                }
                Some(_) => tokio::time::sleep(VOLUME_POLL_INTERVAL).await,
            }
        }
    }
}

#[async_trait]
impl ChangeInstanceType for AwsClient {
    /// Changes the type of a stopped instance (`ModifyInstanceAttribute`). Refused before any
    /// change: an instance that is not stopped (`Conflict`), a type the instance's region does
    /// not have, or one of another architecture than the instance's image (`InvalidArgument`,
    /// naming `instance_type`). The type it already has changes nothing.
    async fn change_instance_type(&self, id: &InstanceId, instance_type: &str) -> Result<()> {
        const OP: &str = "change_instance_type";
        if instance_type.trim().is_empty() {
            return Err(CloudError::invalid("instance_type", "is empty"));
        }
        let (region, w) = self.locate(OP, id).await?;
        let state = convert::lifecycle(w.state().and_then(|s| s.name()));
        if state != LifecycleStatus::Stopped {
            return Err(CloudError::provider(
                PROVIDER,
                OP,
                ErrorKind::Conflict,
                format!(
                    "instance {id} is {}: EC2 changes the type of a stopped instance only; stop it first",
                    state.as_str()
                ),
            ));
        }
        if w.instance_type()
            .map(aws_sdk_ec2::types::InstanceType::as_str)
            == Some(instance_type)
        {
            return Ok(());
        }
        let known = self
            .api()
            .instance_types(OP, &region, Some(&[instance_type]))
            .await?;
        let Some(info) = known.iter().find(|t| {
            t.instance_type()
                .map(aws_sdk_ec2::types::InstanceType::as_str)
                == Some(instance_type)
        }) else {
            return Err(CloudError::invalid(
                "instance_type",
                format!("{instance_type:?} is not an EC2 instance type in {region}"),
            ));
        };
        if let Some(arch) = w.architecture() {
            let supported = info
                .processor_info()
                .map(aws_sdk_ec2::types::ProcessorInfo::supported_architectures)
                .unwrap_or_default();
            if !supported.is_empty() && !supported.iter().any(|a| a.as_str() == arch.as_str()) {
                return Err(CloudError::invalid(
                    "instance_type",
                    format!(
                        "{instance_type} does not run {} images, which instance {id} boots",
                        arch.as_str()
                    ),
                ));
            }
        }
        self.api()
            .modify_instance_type(OP, &region, id.as_str(), instance_type)
            .await
    }
}

#[async_trait]
impl InstanceTypeQuotas for AwsClient {
    /// The on-demand vCPU quota (Service Quotas) of the type's family in the client's region
    /// (the default region when it has none), with the vCPUs the account's pending and
    /// running on-demand instances of the family use there now.
    async fn instance_type_quota(&self, args: &GetInstanceTypeQuotasArgs) -> Result<Quota> {
        const OP: &str = "instance_type_quota";
        let region = self.create_region("").to_owned();
        let Some((family, code)) = quota_codes(&args.instance_type) else {
            return Err(CloudError::provider(
                PROVIDER,
                OP,
                ErrorKind::ResourceNotFound,
                format!(
                    "no vCPU quota is known for the family of {:?} (P and G are)",
                    args.instance_type
                ),
            ));
        };
        let letter = &args.instance_type[..1];
        let (maximum, running) = tokio::try_join!(
            self.api().quota(OP, &region, code),
            self.api().instances(
                OP,
                &region,
                &[],
                vec![filter("instance-state-name", ["pending", "running"])],
            ),
        )?;
        let Some(maximum) = maximum else {
            return Err(CloudError::provider(
                PROVIDER,
                OP,
                ErrorKind::ResourceNotFound,
                format!("Service Quotas has no {family} vCPU quota ({code}) in {region}"),
            ));
        };
        let ours: Vec<_> = running
            .iter()
            .filter(|i| {
                i.instance_type()
                    .is_some_and(|t| t.as_str().starts_with(letter))
                    && i.instance_lifecycle().is_none_or(|l| l.as_str() != "spot")
            })
            .collect();
        // vCPUs per type from the catalog: an instance's CPU options are not always reported.
        let mut names: Vec<&str> = ours
            .iter()
            .filter_map(|i| {
                i.instance_type()
                    .map(aws_sdk_ec2::types::InstanceType::as_str)
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        let vcpus: std::collections::HashMap<String, i64> = if names.is_empty() {
            std::collections::HashMap::new()
        } else {
            self.api()
                .instance_types(OP, &region, Some(&names))
                .await?
                .iter()
                .filter_map(|t| {
                    Some((
                        t.instance_type()?.as_str().to_owned(),
                        i64::from(t.v_cpu_info()?.default_v_cpus()?),
                    ))
                })
                .collect()
        };
        let current = ours
            .iter()
            .filter_map(|i| vcpus.get(i.instance_type()?.as_str()))
            .sum();
        Ok(Quota {
            id: code.to_owned(),
            name: format!("Running On-Demand {family} instances"),
            maximum: maximum as i64,
            current,
            unit: "vCPU".to_owned(),
        })
    }

    /// The family's quota code: every P type shares one quota, every G type another; other
    /// families have none known.
    fn quota_group(&self, instance_type: &str) -> Option<String> {
        quota_codes(instance_type).map(|(_, code)| code.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use gpucloud_core::{Capability, CloudClientExt};

    use super::*;

    fn credential() -> AwsCredential {
        AwsCredential::new(
            AwsConfig::new("us-east-1")
                .with_static_credentials("AKIAEXAMPLE", "very-secret")
                .with_endpoint_url("http://127.0.0.1:9")
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
            Capability::CreateIdempotentInstance,
            Capability::InstanceUserData,
            Capability::StopStartInstance,
            Capability::RebootInstance,
            Capability::ModifyFirewall,
            Capability::Tags,
            Capability::MachineImage,
            Capability::Quota,
            Capability::ResizeInstanceVolume,
            Capability::ChangeInstanceType,
        ] {
            assert!(caps.contains(expected), "{expected:?}");
        }
        assert!(client.vpc().is_err());
        assert!(client.kubernetes().is_err());
        let f = client.create_features();
        assert!(
            f.firewall_rules
                && f.user_data
                && f.spot
                && f.disk_size
                && f.image
                && f.tags
                && f.sub_location
        );
        assert!(!f.vpc && !f.egress_filtering && !f.additional_disks);
    }

    #[test]
    fn the_tenant_comes_from_the_key_id_and_nothing_shows_the_secret() {
        let cred = credential();
        let rotated = AwsCredential::new(
            AwsConfig::new("us-east-1").with_static_credentials("AKIAEXAMPLE", "rotated"),
        )
        .unwrap();
        assert_eq!(cred.identity().tenant_id(), rotated.identity().tenant_id());
        assert!(cred.identity().tenant_id().starts_with("aws-"));
        assert!(!format!("{cred:?}").contains("very-secret"));
        assert!(!format!("{:?}", cred.client("us-east-1")).contains("very-secret"));
        assert_eq!(cred.identity().api_type(), ApiType::Locational);
    }

    #[test]
    fn a_key_claimed_after_the_launch_may_still_be_needed() {
        let at = |t: &str| Some(t.parse::<jiff::Timestamp>().unwrap());
        let launched = at("2026-12-08T10:00:00Z");
        assert!(!claimed_after(None, launched));
        assert!(
            !claimed_after(at("2026-12-08T09:00:00Z"), launched),
            "before"
        );
        assert!(
            !claimed_after(at("2026-12-08T10:00:30Z"), launched),
            "within the clocks' skew: this instance's own create"
        );
        assert!(
            claimed_after(at("2026-12-08T10:05:00Z"), launched),
            "a later create"
        );
        assert!(
            claimed_after(at("2026-12-08T09:00:00Z"), None),
            "cannot tell"
        );
    }

    #[test]
    fn quota_codes_cover_the_gpu_families() {
        assert_eq!(quota_codes("p5.48xlarge").map(|c| c.1), Some("L-417A185B"));
        assert_eq!(quota_codes("g6.xlarge").map(|c| c.1), Some("L-DB2E81BA"));
        assert!(quota_codes("trn1.32xlarge").is_none());
    }
}
