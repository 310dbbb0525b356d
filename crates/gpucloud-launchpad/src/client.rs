//! The credential and the client: `CloudCredential` and `CloudClient` over LaunchPad's API,
//! built from one typed call per endpoint and the conversions.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use gpucloud_core::bookkeeping;
use gpucloud_core::outcome::{ResolveBudget, Resolved, UnknownCreate, resolve_unknown_create};
use gpucloud_core::validate::ValidCreate;
use gpucloud_core::{
    ApiType, Bookkeeping, CapabilityTable, CloudClient, CloudCredential, CloudError,
    CreateFeatures, ErrorKind, GetInstanceTypeArgs, GetLocationsArgs, Identity, Instance,
    InstanceId, InstanceType, ListInstancesArgs, Location, Result, tenant_id_from_secret,
};
use gpucloud_http::{ApiKey, Auth, HttpClient, HttpConfig, RetryPolicy, parse_base_url};
use jiff::Timestamp;
use tokio::sync::Mutex;

use crate::api;
use crate::config::LaunchpadConfig;
use crate::convert::{self, PROVIDER};
use crate::error::{DUPLICATE_REQUEST_ID, classifier};
use crate::region::location_of;
use crate::wire;

/// The provider id.
pub const PROVIDER_ID: &str = PROVIDER;

/// State shared by a credential and every client it makes.
struct Shared {
    http: HttpClient,
    config: LaunchpadConfig,
    identity: Identity,
    /// Serializes creates in this process, so the RefID lookup and the create it guards cannot
    /// interleave with another create of the same RefID.
    create_lock: Mutex<()>,
    /// How many entries the last catalog had: the next one reserves as many at once rather
    /// than growing (and moving its entries) as it is read.
    catalog_len: AtomicUsize,
}

/// A LaunchPad credential: the API token, who LaunchPad records as the requester, and the
/// control plane's reference id.
///
/// API type global (one catalog answers for every upstream cloud and region); tenant id
/// `launchpad-<hex SHA-256 of the token>`; `Debug` never shows the token.
#[derive(Clone)]
pub struct LaunchpadCredential {
    shared: Arc<Shared>,
}

impl fmt::Debug for LaunchpadCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LaunchpadCredential")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl LaunchpadCredential {
    /// A credential from a configuration. Fails when a field is invalid (the error names it)
    /// or the API root is not `https` (plain `http` only to loopback).
    pub fn new(config: LaunchpadConfig) -> Result<Self> {
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
            Auth::Header(
                gpucloud_http::HeaderName::from_static("authorization"),
                ApiKey::new(format!("Token {}", config.token())),
            ),
            classifier,
        )?;
        let identity = Identity::new(
            PROVIDER,
            ApiType::Global,
            config.ref_id.clone(),
            tenant_id_from_secret(PROVIDER, config.token().as_bytes()),
        );
        Ok(Self {
            shared: Arc::new(Shared {
                http,
                config,
                identity,
                create_lock: Mutex::new(()),
                catalog_len: AtomicUsize::new(0),
            }),
        })
    }

    /// The configuration this credential was made from.
    pub fn config(&self) -> &LaunchpadConfig {
        &self.shared.config
    }

    /// A client whose creates default to `location` (a gpucloud location or a LaunchPad
    /// region; empty: none). The API is global, so every client sees every location.
    pub fn client(&self, location: &str) -> LaunchpadClient {
        LaunchpadClient {
            shared: Arc::clone(&self.shared),
            location: location.to_owned(),
        }
    }
}

#[async_trait]
impl CloudCredential for LaunchpadCredential {
    fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    async fn make_client(&self, location: &str) -> Result<Arc<dyn CloudClient>> {
        Ok(Arc::new(self.client(location)))
    }
}

/// A client of one LaunchPad account.
///
/// Implements [`CloudClient`] only: LaunchPad's API has no call that stops, starts or
/// reboots a deployment, and a deployment's tags and allow-list are set at create.
#[derive(Clone)]
pub struct LaunchpadClient {
    shared: Arc<Shared>,
    location: String,
}

impl fmt::Debug for LaunchpadClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LaunchpadClient")
            .field("ref_id", &self.shared.config.ref_id)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// Deployment ids are UUIDs; anything else cannot name one (and must not reach a path).
fn deployment_uuid(id: &InstanceId) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(id.as_str()).ok()
}

/// What a create deploys: the catalog entry and the region chosen.
#[derive(Debug)]
struct Offer {
    entry: wire::InstanceType<'static>,
    region: String,
}

/// The most entries a catalog reserves before it is read (a bound on what a strange answer
/// can make the next call allocate up front).
const MAX_RESERVED: usize = 100_000;

/// One page of the catalog, converted: the entries, and where each type's entries start.
#[derive(Default)]
struct CatalogPage {
    entries: Vec<InstanceType>,
    starts: Vec<usize>,
    /// The locations of the regions the page named.
    places: convert::RegionLocations,
}

impl LaunchpadClient {
    fn http(&self) -> &HttpClient {
        &self.shared.http
    }

    fn me(&self) -> &str {
        &self.shared.config.ref_id
    }

    /// The public address of a deployment's cluster; `None` when it has none (yet, or any
    /// more).
    async fn address(&self, op: &'static str, w: &wire::Deployment) -> Result<Option<String>> {
        let Some(cluster) = w.cluster_id().and_then(|c| uuid::Uuid::parse_str(c).ok()) else {
            return Ok(None);
        };
        match api::cluster(self.http(), op, &cluster).await {
            Ok(c) => Ok((!c.public_address.is_empty()).then_some(c.public_address)),
            // A destroyed deployment's cluster is released.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ResourceNotFound | ErrorKind::InstanceNotFound
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The instance of a deployment, with its cluster's address.
    async fn with_address(&self, op: &'static str, w: wire::Deployment) -> Result<Instance> {
        let address = self.address(op, &w).await?;
        Ok(convert::instance(w, address.as_deref()))
    }

    /// This credential's deployments with request id (and RefID) `ref_id`, newest state.
    async fn by_request_id(&self, op: &'static str, ref_id: &str) -> Result<Vec<wire::Deployment>> {
        let query = [("request_id", ref_id.to_owned())];
        Ok(api::deployments(self.http(), op, &query)
            .await?
            .into_iter()
            .filter(|d| {
                d.request_id == ref_id
                    && bookkeeping::is_marked_by(convert::mark(d), self.me())
                    && convert::ref_id(d) == ref_id
            })
            .collect())
    }

    /// This credential's live instance with `ref_id`: not on its way out or failed.
    async fn find_by_ref_id(&self, op: &'static str, ref_id: &str) -> Result<Option<Instance>> {
        let live = self
            .by_request_id(op, ref_id)
            .await?
            .into_iter()
            .find(|d| !convert::is_gone_or_failed(&d.state));
        match live {
            Some(d) => Ok(Some(self.with_address(op, d).await?)),
            None => Ok(None),
        }
    }

    /// Every entry of the catalog, each type converted as it is parsed; of two types with the
    /// same name, the first listed (see [`convert::first_of_each_name`]).
    async fn catalog(&self, op: &'static str) -> Result<Vec<InstanceType>> {
        let reserve = self
            .shared
            .catalog_len
            .load(Ordering::Relaxed)
            .min(MAX_RESERVED);
        let init = || CatalogPage {
            entries: Vec::with_capacity(reserve),
            starts: Vec::new(),
            places: convert::RegionLocations::default(),
        };
        let pages = api::instance_types(self.http(), op, init, |page, t| {
            page.starts.push(page.entries.len());
            convert::instance_types(&t, &mut page.places, &mut page.entries);
        })
        .await?;
        let mut pages = pages.into_iter();
        let mut all = pages.next().unwrap_or_default();
        for page in pages {
            let offset = all.entries.len();
            all.starts.extend(page.starts.iter().map(|s| s + offset));
            all.entries.extend(page.entries);
        }
        self.shared
            .catalog_len
            .store(all.entries.len(), Ordering::Relaxed);
        Ok(convert::first_of_each_name(all.entries, &all.starts))
    }

    /// The offer `create` names: the catalog entry of its type name, in the region of its
    /// sub-location, else of its location (a gpucloud location or a region), preferring a
    /// region with capacity.
    async fn offer(&self, op: &'static str, create: &ValidCreate) -> Result<Offer> {
        let attrs = create.attrs();
        let named: Vec<wire::InstanceType<'static>> =
            api::instance_types(self.http(), op, Vec::new, |named, t| {
                if convert::type_name(&t.cloud, &t.gpu.family, t.gpu.count, &t.workshop_id)
                    == attrs.instance_type
                {
                    named.push(t.into_owned());
                }
            })
            .await?
            .into_iter()
            .flatten()
            .collect();
        if named.is_empty() {
            return Err(CloudError::invalid(
                "instance_type",
                format!(
                    "{:?} is not a LaunchPad offer: give <cloud>_<gpu>x<count> as `gpucloud types -p launchpad` lists it",
                    attrs.instance_type
                ),
            ));
        }
        let location = if attrs.location.is_empty() {
            self.location.as_str()
        } else {
            attrs.location.as_str()
        };
        let fits = |region: &str| {
            (attrs.sub_location.is_empty() || attrs.sub_location == region)
                && (location.is_empty() || location == region || location_of(region) == location)
        };
        let mut candidates: Vec<(&wire::InstanceType<'static>, &str, u64)> = named
            .iter()
            .flat_map(|t| {
                t.all_regions()
                    .filter(|r| fits(r))
                    .map(move |r| (t, r, t.capacity_in(r)))
            })
            .collect();
        // Capacity first; an offer without any is still asked for, so the API's own answer
        // (not a guess here) is what the caller sees.
        candidates.sort_by_key(|(_, _, capacity)| std::cmp::Reverse(*capacity));
        let Some((entry, region, _)) = candidates.first() else {
            let regions: Vec<String> = named
                .iter()
                .flat_map(wire::InstanceType::all_regions)
                .map(|r| format!("{r} ({})", location_of(r)))
                .collect();
            let field = if attrs.sub_location.is_empty() {
                "location"
            } else {
                "sub_location"
            };
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
        Ok(Offer {
            entry: (*entry).clone(),
            region: (*region).to_owned(),
        })
    }

    /// The answer to a create refused because its request id exists: that deployment when it
    /// is this credential's and live; a `Conflict` naming it otherwise (LaunchPad keeps a
    /// request id for good, so a destroyed deployment's RefID cannot be used again).
    async fn existing(
        &self,
        op: &'static str,
        ref_id: &str,
        error: CloudError,
    ) -> Result<Instance> {
        let found = self.by_request_id(op, ref_id).await?;
        if let Some(live) = found.iter().find(|d| !convert::is_gone_or_failed(&d.state)) {
            return self.with_address(op, live.clone()).await;
        }
        match found.first() {
            Some(gone) => Err(CloudError::provider(
                PROVIDER,
                op,
                ErrorKind::Conflict,
                format!(
                    "RefID {ref_id:?} was used by deployment {} (now {}), and LaunchPad keeps \
                     request ids for good: create with a new RefID",
                    gone.id, gone.state
                ),
            )
            .with_source(error)),
            None => Err(error),
        }
    }
}

#[async_trait]
impl CloudClient for LaunchpadClient {
    fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn capability_table(&self) -> CapabilityTable<'_> {
        CapabilityTable::NONE
    }

    fn create_features(&self) -> CreateFeatures {
        CreateFeatures {
            idempotent: true,
            tags: true,
            sub_location: true,
            ..CreateFeatures::default()
        }
    }

    /// The gpucloud locations of the catalog (each a group of regions, placed by the rule the
    /// README describes), available when any offer there has capacity.
    async fn locations(&self, args: GetLocationsArgs) -> Result<Vec<Location>> {
        let entries = self.catalog("locations").await?;
        Ok(convert::locations(&entries)
            .into_iter()
            .filter(|l| l.available || args.include_unavailable)
            .collect())
    }

    async fn instance_types(&self, args: &GetInstanceTypeArgs) -> Result<Vec<InstanceType>> {
        let mut entries = self.catalog("instance_types").await?;
        entries.retain(|e| args.matches(e));
        Ok(entries)
    }

    async fn create_instance(&self, create: ValidCreate) -> Result<Instance> {
        const OP: &str = "create_instance";
        let attrs = create.attrs();
        let requester_email = self.shared.config.requester_email_for_create()?;
        let offer = self.offer(OP, &create).await?;
        let experience = self.shared.config.experience_id.clone().unwrap_or_else(|| {
            convert::experience_for(
                &offer.entry.cloud,
                &offer.entry.gpu.family,
                &offer.entry.gpu.interconnection_type,
            )
            .to_owned()
        });
        let created_at = Timestamp::now().round(jiff::Unit::Second).ok();
        let tags = convert::wire_tags(
            create.tags(),
            &Bookkeeping {
                ref_id: attrs.ref_id.clone(),
                cred_ref_id: self.me().to_owned(),
                created_at,
            },
            &attrs.name,
        );
        let config = &self.shared.config;
        let public_key = create.public_key().to_openssh();
        let gpu_model = offer.entry.gpu.family.trim().to_ascii_lowercase();
        let body = wire::CreateDeployment {
            experience_id: &experience,
            request_id: &attrs.ref_id,
            org_name: config.effective_org_name(),
            requester_name: config.effective_requester_name(),
            requester_email,
            provider_name: &offer.entry.cloud,
            region: &offer.region,
            gpu_model: &gpu_model,
            gpu_count: offer.entry.gpu.count,
            public_key: &public_key,
            ip_allowlist: config
                .ip_allowlist
                .iter()
                .map(|c| {
                    if c.prefix() == if c.is_ipv4() { 32 } else { 128 } {
                        c.address().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
            tags,
            workshop_id: (!offer.entry.workshop_id.trim().is_empty())
                .then_some(offer.entry.workshop_id.as_str()),
        };

        let _guard = self.shared.create_lock.lock().await;
        if let Some(existing) = self.find_by_ref_id(OP, &attrs.ref_id).await? {
            return Ok(existing);
        }
        let created = match api::create(self.http(), OP, &body).await {
            Ok(created) => created,
            // LaunchPad's idempotency key at work: the request id exists (a retried create
            // whose first answer was lost, or another process's create).
            Err(error)
                if error.kind() == ErrorKind::Conflict
                    && error.provider_details().and_then(|d| d.code.as_deref())
                        == Some(DUPLICATE_REQUEST_ID) =>
            {
                return self.existing(OP, &attrs.ref_id, error).await;
            }
            Err(error) if error.outcome_unknown() => {
                tracing::info!(ref_id = %attrs.ref_id, error = %error, "create outcome unknown; looking the deployment up by request id");
                let budget =
                    ResolveBudget::with_initial_backoff(self.http().config().retry.initial_backoff);
                let unknown = UnknownCreate {
                    provider: PROVIDER,
                    operation: OP,
                    ref_id: &attrs.ref_id,
                    error,
                };
                return match resolve_unknown_create(&budget, unknown, || {
                    self.find_by_ref_id(OP, &attrs.ref_id)
                })
                .await?
                {
                    Resolved::Found(instance) => Ok(instance),
                    Resolved::Absent(error) => Err(error),
                };
            }
            Err(error) => return Err(error),
        };
        let mut instance = convert::instance(created, None);
        instance.pub_key_fingerprint = create.public_key().fingerprint_sha256();
        Ok(instance)
    }

    async fn get_instance(&self, id: &InstanceId) -> Result<Instance> {
        const OP: &str = "get_instance";
        let uuid = deployment_uuid(id)
            .ok_or_else(|| CloudError::instance_not_found(PROVIDER, OP, id.as_str()))?;
        let w = api::deployment(self.http(), OP, &uuid).await?;
        // LaunchPad keeps a destroyed deployment as a record; the instance is gone.
        if w.state == "destroyed" {
            return Err(CloudError::instance_not_found(PROVIDER, OP, id.as_str()));
        }
        self.with_address(OP, w).await
    }

    async fn list_instances(&self, args: &ListInstancesArgs) -> Result<Vec<Instance>> {
        const OP: &str = "list_instances";
        // Destroyed deployments stay listed by LaunchPad for good: they are not instances.
        let mut query = vec![("state_not", "destroyed".to_owned())];
        if let [one] = args.instance_ids.as_slice() {
            query.push(("id", one.as_str().to_owned()));
        }
        // The deployments and the clusters' addresses, asked at once.
        let (deployments, clusters) = tokio::join!(
            api::deployments(self.http(), OP, &query),
            api::clusters(self.http(), OP)
        );
        let deployments = deployments?;
        let clusters = clusters?;
        let addresses: HashMap<&str, &str> = clusters
            .iter()
            .filter(|c| !c.public_address.is_empty())
            .map(|c| (c.id.as_str(), c.public_address.as_str()))
            .collect();
        let me = self.me();
        Ok(deployments
            .into_iter()
            .filter(|d| args.keeps_mark(convert::mark(d), me))
            .map(|d| {
                let address = d.cluster_id().and_then(|c| addresses.get(c).copied());
                convert::instance(d, address)
            })
            .filter(|i| args.matches(i))
            .collect())
    }

    async fn terminate_instance(&self, id: &InstanceId) -> Result<()> {
        const OP: &str = "terminate_instance";
        // Not a UUID: no deployment can have this id, so it is gone.
        let Some(uuid) = deployment_uuid(id) else {
            return Ok(());
        };
        match api::delete(self.http(), OP, &uuid).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::InstanceNotFound => Ok(()),
            // LaunchPad refuses a delete of a deployment already being destroyed: read its
            // state rather than its message.
            Err(e) if e.kind() == ErrorKind::InvalidArgument || e.kind() == ErrorKind::Conflict => {
                match api::deployment(self.http(), OP, &uuid).await {
                    Ok(d) if matches!(d.state.as_str(), "destroying" | "destroyed") => Ok(()),
                    Err(gone) if gone.kind() == ErrorKind::InstanceNotFound => Ok(()),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use gpucloud_core::{Capability, CloudClientExt};

    use super::*;

    fn credential() -> LaunchpadCredential {
        LaunchpadCredential::new(
            LaunchpadConfig::new("secret-token")
                .with_base_url("http://127.0.0.1:9")
                .with_ref_id("cred-1"),
        )
        .unwrap()
    }

    #[test]
    fn capabilities_are_declared_exactly() {
        let client = credential().client("");
        let caps = client.capabilities();
        assert_eq!(
            caps.0,
            [
                Capability::CreateInstance,
                Capability::TerminateInstance,
                Capability::CreateTerminateInstance,
                Capability::CreateIdempotentInstance,
            ]
        );
        assert!(client.stop_start().is_err() && client.reboot().is_err());
        assert!(client.modify_firewall().is_err() && client.tags().is_err());
        let f = client.create_features();
        assert!(f.idempotent && f.tags && f.sub_location);
        assert!(!f.firewall_rules && !f.user_data && !f.image && !f.disk_size && !f.spot);
    }

    #[test]
    fn the_tenant_id_hides_the_token() {
        let cred = credential();
        let tenant = cred.identity().tenant_id();
        assert!(tenant.starts_with("launchpad-") && !tenant.contains("secret-token"));
        assert!(!format!("{cred:?}").contains("secret-token"));
        assert!(!format!("{:?}", cred.client("x")).contains("secret-token"));
        assert_eq!(cred.identity().api_type(), ApiType::Global);
        assert_eq!(cred.identity().reference_id(), "cred-1");
    }

    #[test]
    fn ids_that_are_not_uuids_never_reach_a_path() {
        for id in [
            "../clusters",
            "abc",
            "",
            "5330c898-f3e7-4972-bfd0-1d438e3774d/x",
        ] {
            assert!(deployment_uuid(&InstanceId::new(id)).is_none(), "{id}");
        }
    }
}
