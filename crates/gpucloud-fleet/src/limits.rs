//! One rate limiter per credential, in front of every call made with it: the loops' own calls
//! and those of a failover launch alike, because both go through clients of the same limited
//! credential.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use gpucloud::{
    CapabilityTable, CloudClient, CloudCredential, CreateFeatures, GetInstanceTypeArgs,
    GetLocationsArgs, Identity, Instance, InstanceId, InstanceType, ListInstancesArgs, Location,
    Result, ValidCreate,
};

use crate::config::FleetCredential;
use crate::metrics::Metrics;

/// The credential's limiter, counting the calls that had to wait.
#[derive(Debug)]
struct Gate {
    credential: String,
    limiter: Option<DefaultDirectRateLimiter>,
    metrics: Arc<Metrics>,
}

impl Gate {
    async fn pass(&self) {
        if let Some(limiter) = &self.limiter
            && limiter.check().is_err()
        {
            self.metrics.rate_limit_wait(&self.credential);
            limiter.until_ready().await;
        }
    }
}

/// A credential whose clients wait for the credential's limiter before every call.
#[derive(Debug)]
pub(crate) struct LimitedCredential {
    inner: Arc<dyn CloudCredential>,
    gate: Arc<Gate>,
}

impl LimitedCredential {
    pub fn new(config: &FleetCredential, metrics: Arc<Metrics>) -> Self {
        Self {
            inner: config.credential.clone(),
            gate: Arc::new(Gate {
                credential: config.name.clone(),
                limiter: config
                    .requests_per_second
                    .map(|n| RateLimiter::direct(Quota::per_second(n))),
                metrics,
            }),
        }
    }
}

#[async_trait]
impl CloudCredential for LimitedCredential {
    fn identity(&self) -> &Identity {
        self.inner.identity()
    }

    async fn make_client(&self, location: &str) -> Result<Arc<dyn CloudClient>> {
        // Making a client may look the account up (a provider's discovery).
        self.gate.pass().await;
        Ok(Arc::new(LimitedClient {
            inner: self.inner.make_client(location).await?,
            gate: self.gate.clone(),
        }))
    }

    fn discovery(&self) -> Option<String> {
        self.inner.discovery()
    }

    fn reuse_discovery(&self, saved: &str) {
        self.inner.reuse_discovery(saved);
    }
}

/// A client that waits for its credential's limiter before every call.
#[derive(Debug)]
struct LimitedClient {
    inner: Arc<dyn CloudClient>,
    gate: Arc<Gate>,
}

#[async_trait]
impl CloudClient for LimitedClient {
    fn identity(&self) -> &Identity {
        self.inner.identity()
    }

    fn location(&self) -> &str {
        self.inner.location()
    }

    fn capability_table(&self) -> CapabilityTable<'_> {
        // The engine calls no optional capability; these go to the provider unlimited.
        self.inner.capability_table()
    }

    fn create_features(&self) -> CreateFeatures {
        self.inner.create_features()
    }

    async fn locations(&self, args: GetLocationsArgs) -> Result<Vec<Location>> {
        self.gate.pass().await;
        self.inner.locations(args).await
    }

    async fn instance_types(&self, args: &GetInstanceTypeArgs) -> Result<Vec<InstanceType>> {
        self.gate.pass().await;
        self.inner.instance_types(args).await
    }

    async fn create_instance(&self, create: ValidCreate) -> Result<Instance> {
        self.gate.pass().await;
        self.inner.create_instance(create).await
    }

    async fn get_instance(&self, id: &InstanceId) -> Result<Instance> {
        self.gate.pass().await;
        self.inner.get_instance(id).await
    }

    async fn list_instances(&self, args: &ListInstancesArgs) -> Result<Vec<Instance>> {
        self.gate.pass().await;
        self.inner.list_instances(args).await
    }

    async fn terminate_instance(&self, id: &InstanceId) -> Result<()> {
        self.gate.pass().await;
        self.inner.terminate_instance(id).await
    }

    fn instance_poll_time(&self) -> Duration {
        self.inner.instance_poll_time()
    }

    fn max_create_requests_per_minute(&self) -> u32 {
        self.inner.max_create_requests_per_minute()
    }

    fn merge_instance_for_update(&self, current: &Instance, fresh: Instance) -> Instance {
        self.inner.merge_instance_for_update(current, fresh)
    }

    fn merge_instance_type_for_update(
        &self,
        current: &InstanceType,
        fresh: InstanceType,
    ) -> InstanceType {
        self.inner.merge_instance_type_for_update(current, fresh)
    }
}
