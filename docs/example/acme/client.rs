mod client {
    use std::num::NonZeroU32;
    use std::sync::Arc;

    use async_trait::async_trait;
    use gpucloud::{
        ApiType, Bookkeeping, CapabilityTable, CloudClient, CloudCredential, CloudError,
        CreateFeatures, ErrorKind, GetInstanceTypeArgs, GetLocationsArgs, Identity, Instance,
        InstanceId, InstanceType, LifecycleStatus, ListInstancesArgs, Location, Result,
        StopStartInstance, ValidCreate, tenant_id_from_secret,
    };
    use gpucloud::outcome::{ResolveBudget, Resolved, UnknownCreate, resolve_unknown_create};
    use gpucloud_http::{ApiKey, Auth, HttpClient, HttpConfig, RateLimit, Request};

    use crate::config::AcmeConfig;
    use crate::convert::{self, PROVIDER_ID};
    use crate::{error, wire};

    /// Acme documents 10 requests per second with bursts of 20.
    const REQUESTS_PER_SECOND: NonZeroU32 = NonZeroU32::new(10).unwrap();
    const BURST: NonZeroU32 = NonZeroU32::new(20).unwrap();

    /// An Acme API key with its reference id. `Debug` shows no secret: the key lives only in
    /// the HTTP client, which redacts it.
    #[derive(Debug, Clone)]
    pub struct AcmeCredential {
        shared: Arc<Shared>,
    }

    /// What every client of one credential shares: one identity, one HTTP client (and so one
    /// rate limiter for the account).
    #[derive(Debug)]
    struct Shared {
        identity: Identity,
        http: HttpClient,
    }

    impl AcmeCredential {
        /// A credential from a checked configuration; a base URL that is not https (or
        /// loopback http, for the fake) is a `Configuration` error.
        pub fn new(config: &AcmeConfig) -> Result<Self> {
            let http_config = HttpConfig::new(&config.base_url)?
                .with_request_timeout(config.request_timeout)
                .with_rate_limit(RateLimit::per_second(REQUESTS_PER_SECOND).with_burst(BURST));
            let auth = Auth::Bearer(ApiKey::new(config.api_key.clone()));
            let http = HttpClient::new(PROVIDER_ID, http_config, auth, error::classify)?;
            // Computed once: the credential and all its clients return this same value.
            let identity = Identity::new(
                PROVIDER_ID,
                ApiType::Global,
                config.ref_id.clone(),
                tenant_id_from_secret(PROVIDER_ID, config.api_key.as_bytes()),
            );
            Ok(Self { shared: Arc::new(Shared { identity, http }) })
        }
    }

    #[async_trait]
    impl CloudCredential for AcmeCredential {
        fn identity(&self) -> &Identity {
            &self.shared.identity
        }

        async fn make_client(&self, location: &str) -> Result<Arc<dyn CloudClient>> {
            Ok(Arc::new(AcmeClient {
                shared: Arc::clone(&self.shared),
                location: location.to_owned(),
            }))
        }
    }

    /// A client of one Acme account, bound to a region.
    #[derive(Debug)]
    pub struct AcmeClient {
        shared: Arc<Shared>,
        location: String,
    }

    impl AcmeClient {
        /// Every instance of the account, converted.
        async fn all_instances(&self) -> Result<Vec<Instance>> {
            let list: wire::List<wire::Instance> =
                self.shared.http.send_json(Request::get("list_instances", "instances")).await?;
            Ok(list.data.into_iter().map(convert::instance).collect())
        }

        /// The live instance of this credential carrying `ref_id`. One on its way out is not
        /// it: a create with that RefID must launch a new one.
        async fn by_ref_id(&self, ref_id: &str) -> Result<Option<Instance>> {
            let me = self.identity().reference_id();
            Ok(self.all_instances().await?.into_iter().find(|i| {
                i.ref_id == ref_id
                    && i.is_managed_by(me)
                    && !i.lifecycle().is_terminal()
                    && i.lifecycle() != LifecycleStatus::Terminating
            }))
        }

        async fn action(&self, operation: &'static str, id: &InstanceId, verb: &str) -> Result<()> {
            let path = format!("instances/{}/{verb}", id.as_str());
            // Asking twice for the same stop or start is harmless, so a request whose answer
            // was lost may be sent again.
            let request = Request::post(operation, path).idempotent(true).about_instance();
            self.shared.http.send(request).await.map(drop)
        }
    }

    #[async_trait]
    impl CloudClient for AcmeClient {
        fn identity(&self) -> &Identity {
            &self.shared.identity
        }

        fn location(&self) -> &str {
            &self.location
        }

        fn capability_table(&self) -> CapabilityTable<'_> {
            // Only what the code below implements: the capability list is derived from this.
            CapabilityTable { stop_start: Some(self), ..CapabilityTable::NONE }
        }

        fn create_features(&self) -> CreateFeatures {
            // Acme has no firewall API and ignores disk sizes: a create asking for either is
            // refused by validation, before any request.
            CreateFeatures { user_data: true, idempotent: true, tags: true, ..CreateFeatures::default() }
        }

        async fn locations(&self, args: GetLocationsArgs) -> Result<Vec<Location>> {
            let list: wire::List<wire::Region> =
                self.shared.http.send_json(Request::get("locations", "regions")).await?;
            Ok(list
                .data
                .into_iter()
                .map(convert::location)
                .filter(|l| args.include_unavailable || l.available)
                .collect())
        }

        async fn instance_types(&self, args: &GetInstanceTypeArgs) -> Result<Vec<InstanceType>> {
            let list: wire::List<wire::InstanceType> = self
                .shared
                .http
                .send_json(Request::get("instance_types", "instance-types"))
                .await?;
            Ok(args.apply(list.data.into_iter().map(convert::instance_type).collect()))
        }

        async fn create_instance(&self, create: ValidCreate) -> Result<Instance> {
            let attrs = create.attrs();
            // Idempotent create: the RefID already names a live instance of ours.
            if let Some(existing) = self.by_ref_id(&attrs.ref_id).await? {
                return Ok(existing);
            }
            // Acme takes user data as text: its own limit, checked before anything is sent.
            let user_data = create
                .user_data()
                .map(std::str::from_utf8)
                .transpose()
                .map_err(|_| CloudError::invalid("user_data_base64", "Acme accepts UTF-8 text only"))?;
            let bookkeeping = Bookkeeping {
                ref_id: attrs.ref_id.clone(),
                cred_ref_id: self.identity().reference_id().to_owned(),
                // Acme stamps its own creation time; nothing to add.
                created_at: None,
            };
            let region = if attrs.location.is_empty() { &self.location } else { &attrs.location };
            let launch = wire::Launch {
                name: &attrs.name,
                instance_type: &attrs.instance_type,
                region,
                hostname: create.hostname(),
                ssh_key: create.public_key().to_openssh(),
                user_data,
                labels: bookkeeping.encode_with(create.tags()).into_iter().collect(),
            };
            let request = Request::post("create_instance", "instances").json(&launch)?.create();
            match self.shared.http.send_json::<wire::Instance>(request).await {
                Ok(created) => Ok(convert::instance(created)),
                // The launch may have happened: core's one rule looks it up by RefID, within
                // its own budget (§8). Never launch again here.
                Err(error) if error.outcome_unknown() => {
                    let budget = ResolveBudget::with_initial_backoff(
                        self.shared.http.config().retry.initial_backoff,
                    );
                    let unknown = UnknownCreate {
                        provider: PROVIDER_ID,
                        operation: "create_instance",
                        ref_id: &attrs.ref_id,
                        error,
                    };
                    // Still unknown (`?`): the error names the RefID and how to find it.
                    match resolve_unknown_create(&budget, unknown, || self.by_ref_id(&attrs.ref_id))
                        .await?
                    {
                        Resolved::Found(instance) => Ok(instance),
                        // Nothing was made: delete what the create made on the way, if anything.
                        Resolved::Absent(error) => Err(error),
                    }
                }
                Err(error) => Err(error),
            }
        }

        async fn get_instance(&self, id: &InstanceId) -> Result<Instance> {
            let path = format!("instances/{}", id.as_str());
            // `about_instance`: a 404 here is `InstanceNotFound`, not `ResourceNotFound`.
            let request = Request::get("get_instance", path).about_instance();
            Ok(convert::instance(self.shared.http.send_json(request).await?))
        }

        /// This credential's instances, or every instance of the account when `args.scope`
        /// says so: `keeps_mark` is core's one rule for that, `matches` the filters.
        async fn list_instances(&self, args: &ListInstancesArgs) -> Result<Vec<Instance>> {
            let me = self.identity().reference_id();
            let all = self.all_instances().await?.into_iter();
            Ok(all.filter(|i| args.keeps_mark(&i.cloud_cred_ref_id, me) && args.matches(i)).collect())
        }

        async fn terminate_instance(&self, id: &InstanceId) -> Result<()> {
            let path = format!("instances/{}", id.as_str());
            match self.shared.http.send(Request::delete("terminate_instance", path).about_instance()).await {
                Ok(_) => Ok(()),
                // Already gone is what was asked for.
                Err(e) if e.kind() == ErrorKind::InstanceNotFound => Ok(()),
                Err(e) => Err(e),
            }
        }
    }

    #[async_trait]
    impl StopStartInstance for AcmeClient {
        async fn stop_instance(&self, id: &InstanceId) -> Result<()> {
            self.action("stop_instance", id, "stop").await
        }

        async fn start_instance(&self, id: &InstanceId) -> Result<()> {
            self.action("start_instance", id, "start").await
        }
    }
}

use std::sync::Arc;

use gpucloud::{Activation, Build, ProviderDescriptor, ProviderSettings, Result};

/// Acme, for registries: what the facade and the CLI know about it.
pub const DESCRIPTOR: ProviderDescriptor = ProviderDescriptor {
    id: convert::PROVIDER_ID,
    name: "acme",
    display_name: "Acme Cloud",
    description: "Acme Cloud (GPU VMs, REST API)",
    settings: config::SETTINGS,
    activation: Activation::Setting("api_key"),
    ssh_reachable: false,
    build,
};

fn build(settings: &ProviderSettings) -> Result<Build> {
    // `Missing("api_key")` until the key is set; the credential is sourced where the key came from.
    let config = config::AcmeConfig::from_settings(settings)?;
    Build::from_key_setting(settings, "api_key", config, |config| client::AcmeCredential::new(&config))
}
