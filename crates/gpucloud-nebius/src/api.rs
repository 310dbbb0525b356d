//! The typed API calls: one function per RPC, protobuf messages in and out, nothing of the
//! model. Every call goes through core's [`RetryDriver`] with the access token of the shared
//! cache; every mutation carries one idempotency key for all its attempts; mutations wait on
//! the operation they return.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gpucloud_core::retry::{Call, RetryDriver, RetryPolicy};
use gpucloud_core::token_file::TokenFile;
use gpucloud_core::{CloudError, Delivery, ErrorKind, Result, Retry};
use gpucloud_nebius_proto::billing::v1 as billing;
use gpucloud_nebius_proto::common::v1 as common;
use gpucloud_nebius_proto::compute::v1 as compute;
use gpucloud_nebius_proto::iam::v1 as iam;
use gpucloud_nebius_proto::iam::v2 as iam2;
use gpucloud_nebius_proto::quotas::v1 as quotas;
use gpucloud_nebius_proto::vpc::v1 as vpc;
use prost::Message;
use secrecy::{ExposeSecret, SecretString};
use tonic::Code;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

use crate::auth::{Exchange, IssuedToken, TokenSource};
use crate::config::{NebiusAuth, NebiusConfig};
use crate::endpoints::{Channels, Endpoints, Service};
use crate::{PROVIDER_ID, error};

/// The header Nebius reads the idempotency key of a mutation from.
pub(crate) const IDEMPOTENCY_KEY: &str = "x-idempotency-key";
/// Page size of list calls.
const PAGE_SIZE: i64 = 1000;
/// The `grant_type` of a token exchange (RFC 8693).
const GRANT_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// A self-signed JWT as subject token.
const TOKEN_TYPE_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
/// The token asked for.
const TOKEN_TYPE_ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The access token's lifetime when the exchange does not say (Nebius issues 12-hour tokens).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Every item of a paged list. `page` is asked for the page at each token, starting from the
/// empty one, until Nebius answers no next token (or the same token again, which would never end).
async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<T>>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String)>>,
{
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let (items, next) = page(token.clone()).await?;
        out.extend(items);
        if next.is_empty() || next == token {
            return Ok(out);
        }
        token = next;
    }
}

/// How a call is made: its name for errors and logs, whether it may be sent again after an
/// answer was lost, and whether it is a mutation (idempotency key).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rpc {
    pub(crate) operation: &'static str,
    pub(crate) service: Service,
    idempotent: bool,
    mutation: bool,
    create: bool,
}

impl Rpc {
    /// A read.
    pub(crate) const fn read(operation: &'static str, service: Service) -> Self {
        Self {
            operation,
            service,
            idempotent: true,
            mutation: false,
            create: false,
        }
    }

    /// A mutation that is safe to repeat (a delete, a stop, an update to a fixed state).
    pub(crate) const fn repeatable(operation: &'static str, service: Service) -> Self {
        Self {
            operation,
            service,
            idempotent: true,
            mutation: true,
            create: false,
        }
    }

    /// A create. Its idempotency key makes a repeat answer the first call's operation instead
    /// of creating twice, so a create whose answer was lost is sent again; when the attempts
    /// run out, the caller resolves the outcome by looking the resource up.
    pub(crate) const fn create(operation: &'static str, service: Service) -> Self {
        Self {
            operation,
            service,
            idempotent: true,
            mutation: true,
            create: true,
        }
    }

    fn call(&self) -> Call {
        let call = Call::new(self.operation, self.idempotent);
        if self.create { call.create() } else { call }
    }
}

/// A create that failed, and the resource it made anyway (an operation that ended with an
/// error still names its resource), so the caller can delete it.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) error: CloudError,
    pub(crate) made: Option<String>,
}

impl From<CloudError> for Failed {
    fn from(error: CloudError) -> Self {
        Self { error, made: None }
    }
}

/// What a create answers: the new resource's id, or why not and what it left.
pub(crate) type Created = std::result::Result<String, Failed>;

/// The token exchange over gRPC: unauthenticated, retried like any read (an exchange creates
/// nothing).
struct GrpcExchange {
    channel: Channel,
    driver: Arc<RetryDriver>,
    timeout: Duration,
}

#[async_trait]
impl Exchange for GrpcExchange {
    async fn exchange(&self, subject_token: SecretString) -> Result<IssuedToken> {
        const OP: &str = "token_exchange";
        let request = iam::ExchangeTokenRequest {
            grant_type: GRANT_TOKEN_EXCHANGE.to_owned(),
            requested_token_type: TOKEN_TYPE_ACCESS.to_owned(),
            subject_token: subject_token.expose_secret().to_owned(),
            subject_token_type: TOKEN_TYPE_JWT.to_owned(),
            ..iam::ExchangeTokenRequest::default()
        };
        let answer = self
            .driver
            .run(&Call::new(OP, true), |_| {
                let request = tonic::Request::new(request.clone());
                let channel = self.channel.clone();
                let timeout = self.timeout;
                async move {
                    let mut client =
                        iam::token_exchange_service_client::TokenExchangeServiceClient::new(
                            channel,
                        );
                    finish(OP, timeout, client.exchange(request)).await
                }
            })
            .await?;
        if answer.access_token.is_empty() {
            return Err(error::decode(
                OP,
                "the token exchange returned no access_token",
            ));
        }
        let expires_in = u64::try_from(answer.expires_in)
            .ok()
            .filter(|s| *s > 0)
            .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs);
        Ok(IssuedToken {
            access_token: SecretString::from(answer.access_token),
            expires_in,
        })
    }
}

/// A call's answer within `timeout`, its failure classified.
async fn finish<T>(
    operation: &'static str,
    timeout: Duration,
    call: impl Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(error::from_status(operation, &status)),
        Err(_) => Err(CloudError::provider(
            PROVIDER_ID,
            operation,
            ErrorKind::Timeout,
            format!("no answer within {timeout:?}"),
        )
        .with_retry(Retry::Transient)
        .with_delivery(Delivery::Unknown)),
    }
}

/// The API of one credential: channels to every service, the shared token, the retry driver.
pub(crate) struct Api {
    channels: Channels,
    tokens: TokenSource,
    driver: Arc<RetryDriver>,
    timeout: Duration,
    operation_timeout: Duration,
    poll_interval: Duration,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("tokens", &self.tokens)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// Channels and the token source for `config`. Runs inside a tokio runtime.
    pub(crate) fn new(config: &NebiusConfig) -> Result<Self> {
        let endpoints = match &config.api_endpoint {
            Some(address) => Endpoints::single(address)?,
            None => Endpoints::published(),
        };
        let channels = endpoints.connect(config.request_timeout)?;
        let driver = Arc::new(RetryDriver::new(
            RetryPolicy::default().with_backoff(config.retry_backoff, Duration::from_secs(20)),
        ));
        let tokens = match &config.auth {
            NebiusAuth::Token(token) => TokenSource::fixed(token)?,
            NebiusAuth::ServiceAccount(key) => TokenSource::exchanged(
                key.clone(),
                Box::new(GrpcExchange {
                    channel: channels.get(Service::Tokens),
                    driver: Arc::clone(&driver),
                    timeout: config.request_timeout,
                }),
                config.token_cache_dir.as_deref().map(|dir| {
                    // Who asks, and where: a token is only ever reused by the same key
                    // against the same endpoint.
                    let endpoint = config.api_endpoint.as_deref().unwrap_or("published");
                    TokenFile::new(dir, &[endpoint, key.service_account_id(), key.key_id()])
                }),
            ),
        };
        Ok(Self {
            channels,
            tokens,
            driver,
            timeout: config.request_timeout,
            operation_timeout: config.operation_timeout,
            poll_interval: config.poll_interval,
        })
    }

    /// How many token exchanges were made.
    pub(crate) fn token_exchanges(&self) -> u64 {
        self.tokens.exchanges()
    }

    /// The channel to `service`, for callers that measure the raw RPC next to this API.
    pub(crate) fn channel(&self, service: Service) -> Channel {
        self.channels.get(service)
    }

    /// The `authorization` header value to send now.
    pub(crate) async fn authorization(&self) -> Result<AsciiMetadataValue> {
        self.tokens.header().await
    }

    /// Makes `rpc` with `message`: the token, the idempotency key of a mutation (one for every
    /// attempt), a deadline, and the retries the driver allows. A call refused as
    /// UNAUTHENTICATED with an exchanged token (expired early, revoked, or saved by an earlier
    /// process against another server) is sent once more with a new one: a refused call was
    /// not carried out, so sending it again is safe for a mutation too.
    async fn unary<Req, Resp, F, Fut>(&self, rpc: Rpc, message: &Req, send: F) -> Result<Resp>
    where
        Req: Clone + Send + Sync,
        F: Fn(Channel, tonic::Request<Req>) -> Fut + Send + Sync,
        Fut: Future<Output = std::result::Result<tonic::Response<Resp>, tonic::Status>> + Send,
    {
        let key: Option<AsciiMetadataValue> = rpc.mutation.then(|| {
            uuid::Uuid::new_v4()
                .to_string()
                .parse()
                .unwrap_or_else(|_| AsciiMetadataValue::from_static("invalid"))
        });
        let rejected = std::sync::Mutex::new(None);
        let first = self
            .attempts(&rpc, message, &send, key.as_ref(), &rejected)
            .await;
        let refused = rejected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        match (first, refused) {
            (Err(error), Some(token))
                if error.kind() == ErrorKind::Unauthenticated && self.tokens.invalidate(&token) =>
            {
                self.attempts(&rpc, message, &send, key.as_ref(), &rejected)
                    .await
                    .inspect_err(|e| {
                        if e.kind() == ErrorKind::Unauthenticated
                            && let Some(token) = rejected
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .take()
                        {
                            self.tokens.invalidate(&token);
                        }
                    })
            }
            (answer, _) => answer,
        }
    }

    /// One run of the retry driver for [`Self::unary`]; a token the server refused as
    /// UNAUTHENTICATED is left in `rejected`.
    async fn attempts<Req, Resp, F, Fut>(
        &self,
        rpc: &Rpc,
        message: &Req,
        send: &F,
        key: Option<&AsciiMetadataValue>,
        rejected: &std::sync::Mutex<Option<AsciiMetadataValue>>,
    ) -> Result<Resp>
    where
        Req: Clone + Send + Sync,
        F: Fn(Channel, tonic::Request<Req>) -> Fut + Send + Sync,
        Fut: Future<Output = std::result::Result<tonic::Response<Resp>, tonic::Status>> + Send,
    {
        self.driver
            .run(&rpc.call(), |_| async move {
                // Nothing was sent when there is no token to send with.
                let auth = self
                    .tokens
                    .header()
                    .await
                    .map_err(|e| e.with_delivery(Delivery::NotSent))?;
                // The deadline is kept here rather than sent as `grpc-timeout`: a server that
                // gives up first answers CANCELLED, which would hide that the call timed out.
                let mut request = tonic::Request::new(message.clone());
                request.metadata_mut().insert("authorization", auth.clone());
                if let Some(key) = key {
                    request.metadata_mut().insert(IDEMPOTENCY_KEY, key.clone());
                }
                let answer = tokio::time::timeout(
                    self.timeout,
                    send(self.channels.get(rpc.service), request),
                )
                .await;
                match answer {
                    Ok(Ok(response)) => Ok(response.into_inner()),
                    Ok(Err(status)) => {
                        if status.code() == Code::Unauthenticated {
                            *rejected
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(auth);
                        }
                        Err(error::from_status(rpc.operation, &status))
                    }
                    Err(_) => Err(CloudError::provider(
                        PROVIDER_ID,
                        rpc.operation,
                        ErrorKind::Timeout,
                        format!("no answer within {:?}", self.timeout),
                    )
                    .with_retry(Retry::Transient)
                    .with_delivery(Delivery::Unknown)),
                }
            })
            .await
    }

    /// Waits until `op` (served by `service`) finishes; an operation that ends with an error
    /// status fails with that status, classified.
    pub(crate) async fn wait(
        &self,
        operation: &'static str,
        service: Service,
        mut op: common::Operation,
    ) -> Result<common::Operation> {
        let deadline = tokio::time::Instant::now() + self.operation_timeout;
        loop {
            if op.finished_at.is_some() {
                return match &op.status {
                    Some(status) if status.code != 0 => {
                        Err(error::from_operation(operation, status))
                    }
                    _ => Ok(op),
                };
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(CloudError::provider(
                    PROVIDER_ID,
                    operation,
                    ErrorKind::Timeout,
                    format!(
                        "operation {} did not finish within {:?}",
                        op.id, self.operation_timeout
                    ),
                )
                .with_delivery(Delivery::Unknown));
            }
            tokio::time::sleep(self.poll_interval).await;
            op = self.get_operation(operation, service, &op.id).await?;
        }
    }

    /// Makes a create and waits for its operation; the failure keeps the resource id the
    /// operation named.
    async fn create<Req, F, Fut>(&self, rpc: Rpc, message: &Req, send: F) -> Created
    where
        Req: Clone + Send + Sync,
        F: Fn(Channel, tonic::Request<Req>) -> Fut + Send + Sync,
        Fut: Future<Output = std::result::Result<tonic::Response<common::Operation>, tonic::Status>>
            + Send,
    {
        let op = self.unary(rpc, message, send).await?;
        let made = (!op.resource_id.is_empty()).then(|| op.resource_id.clone());
        match self.wait(rpc.operation, rpc.service, op).await {
            Ok(op) if !op.resource_id.is_empty() => Ok(op.resource_id),
            Ok(_) => made.ok_or_else(|| {
                Failed::from(error::decode(
                    rpc.operation,
                    "the operation names no resource",
                ))
            }),
            Err(error) => Err(Failed { error, made }),
        }
    }

    /// Makes a mutation and waits for its operation.
    async fn mutate<Req, F, Fut>(
        &self,
        rpc: Rpc,
        message: &Req,
        send: F,
    ) -> Result<common::Operation>
    where
        Req: Clone + Send + Sync,
        F: Fn(Channel, tonic::Request<Req>) -> Fut + Send + Sync,
        Fut: Future<Output = std::result::Result<tonic::Response<common::Operation>, tonic::Status>>
            + Send,
    {
        let op = self.unary(rpc, message, send).await?;
        self.wait(rpc.operation, rpc.service, op).await
    }

    // --- common.v1.OperationService ---

    async fn get_operation(
        &self,
        operation: &'static str,
        service: Service,
        id: &str,
    ) -> Result<common::Operation> {
        let request = common::GetOperationRequest { id: id.to_owned() };
        self.unary(
            Rpc::read(operation, service),
            &request,
            |ch, r| async move {
                common::operation_service_client::OperationServiceClient::new(ch)
                    .get(r)
                    .await
            },
        )
        .await
    }

    // --- iam.v2.ProjectService and TenantService (v1's end on 2026-12-16) ---

    /// Every project of the tenant.
    pub(crate) async fn list_projects(&self, tenant: &str) -> Result<Vec<iam2::Project>> {
        all_pages(|page_token| async move {
            let request = iam2::ListProjectsRequest {
                parent_id: tenant.to_owned(),
                page_size: PAGE_SIZE,
                page_token,
                ..iam2::ListProjectsRequest::default()
            };
            let page = self
                .unary(
                    Rpc::read("list_projects", Service::Iam),
                    &request,
                    |ch, r| async move {
                        iam2::project_service_client::ProjectServiceClient::new(ch)
                            .list(r)
                            .await
                    },
                )
                .await?;
            Ok((page.items, page.next_page_token))
        })
        .await
    }

    /// Every tenant the credential sees.
    pub(crate) async fn list_tenants(&self) -> Result<Vec<iam2::Tenant>> {
        all_pages(|page_token| async move {
            let request = iam2::ListTenantsRequest {
                page_size: PAGE_SIZE,
                page_token,
                ..iam2::ListTenantsRequest::default()
            };
            let page = self
                .unary(
                    Rpc::read("list_tenants", Service::Iam),
                    &request,
                    |ch, r| async move {
                        iam2::tenant_service_client::TenantServiceClient::new(ch)
                            .list(r)
                            .await
                    },
                )
                .await?;
            Ok((page.items, page.next_page_token))
        })
        .await
    }

    // --- vpc.v1.SubnetService ---

    /// The subnets of a project (first page: projects have a handful).
    pub(crate) async fn list_subnets(&self, project: &str) -> Result<Vec<vpc::Subnet>> {
        let request = vpc::ListSubnetsRequest {
            parent_id: project.to_owned(),
            page_size: PAGE_SIZE,
            page_token: String::new(),
        };
        let page = self
            .unary(
                Rpc::read("list_subnets", Service::Vpc),
                &request,
                |ch, r| async move {
                    vpc::subnet_service_client::SubnetServiceClient::new(ch)
                        .list(r)
                        .await
                },
            )
            .await?;
        Ok(page.items)
    }

    // --- compute.v1.PlatformService ---

    /// The platforms of a project's region, every page.
    pub(crate) async fn list_platforms(&self, project: &str) -> Result<Vec<compute::Platform>> {
        all_pages(|page_token| async move {
            let request = compute::ListPlatformsRequest {
                page_size: PAGE_SIZE,
                page_token,
                parent_id: project.to_owned(),
            };
            let page = self
                .unary(
                    Rpc::read("list_platforms", Service::Compute),
                    &request,
                    |ch, r| async move {
                        compute::platform_service_client::PlatformServiceClient::new(ch)
                            .list(r)
                            .await
                    },
                )
                .await?;
            Ok((page.items, page.next_page_token))
        })
        .await
    }

    // --- quotas.v1.QuotaAllowanceService ---

    /// The quota allowances of a tenant or project, every page.
    pub(crate) async fn list_quota_allowances(
        &self,
        parent: &str,
    ) -> Result<Vec<quotas::QuotaAllowance>> {
        all_pages(|page_token| async move {
            let request = quotas::ListQuotaAllowancesRequest {
                parent_id: parent.to_owned(),
                page_size: PAGE_SIZE,
                page_token,
            };
            let page = self
                .unary(
                    Rpc::read("list_quota_allowances", Service::Quotas),
                    &request,
                    |ch, r| async move {
                        quotas::quota_allowance_service_client::QuotaAllowanceServiceClient::new(ch)
                            .list(r)
                            .await
                    },
                )
                .await?;
            Ok((page.items, page.next_page_token))
        })
        .await
    }

    // --- billing.v1.CalculatorService ---

    /// Hourly estimates of instances of each preset in `project` (preemptible ones as
    /// preemptible specs), in the order asked.
    pub(crate) async fn estimate_instances(
        &self,
        project: &str,
        presets: &[crate::pricing::Preset],
    ) -> Result<billing::EstimateBatchResponse> {
        let resource_specs = presets
            .iter()
            .map(|priced| {
                let spec = compute::CreateInstanceRequest {
                    metadata: Some(common::ResourceMetadata {
                        parent_id: project.to_owned(),
                        name: priced.key(),
                        ..common::ResourceMetadata::default()
                    }),
                    spec: Some(compute::InstanceSpec {
                        resources: Some(compute::ResourcesSpec {
                            platform: priced.platform.clone(),
                            size: Some(compute::resources_spec::Size::Preset(priced.name.clone())),
                        }),
                        preemptible: priced.spot.then(crate::convert::preemptible),
                        ..compute::InstanceSpec::default()
                    }),
                };
                billing::ResourceSpec {
                    spec: Some(prost_types::Any {
                        type_url: "type.googleapis.com/nebius.compute.v1.CreateInstanceRequest"
                            .to_owned(),
                        value: spec.encode_to_vec(),
                    }),
                }
            })
            .collect();
        let request = billing::EstimateBatchRequest {
            resource_specs,
            filter_aggregation_unit: Some(billing::FilterAggregationUnit {
                filter_aggregation_unit_values: vec![
                    billing::filter_aggregation_unit::FilterAggregationUnitValue::FilterAggregationUnitHour
                        as i32,
                ],
            }),
            ..billing::EstimateBatchRequest::default()
        };
        self.unary(
            Rpc::read("estimate_prices", Service::Calculator),
            &request,
            |ch, r| async move {
                billing::calculator_service_client::CalculatorServiceClient::new(ch)
                    .estimate_batch(r)
                    .await
            },
        )
        .await
    }

    // --- compute.v1.ImageService ---

    /// The latest image of a family among the public images of `project`'s region.
    pub(crate) async fn latest_image(&self, family: &str, project: &str) -> Result<compute::Image> {
        let request = compute::GetImageLatestByFamilyRequest {
            image_family: family.to_owned(),
            parent_id: project.to_owned(),
        };
        self.unary(
            Rpc::read("get_image", Service::Compute),
            &request,
            |ch, r| async move {
                compute::image_service_client::ImageServiceClient::new(ch)
                    .get_latest_by_family(r)
                    .await
            },
        )
        .await
    }

    /// One image.
    pub(crate) async fn get_image(&self, id: &str) -> Result<compute::Image> {
        let request = compute::GetImageRequest { id: id.to_owned() };
        self.unary(
            Rpc::read("get_image", Service::Compute),
            &request,
            |ch, r| async move {
                compute::image_service_client::ImageServiceClient::new(ch)
                    .get(r)
                    .await
            },
        )
        .await
    }

    /// The public images of a region, every page.
    pub(crate) async fn list_public_images(&self, region: &str) -> Result<Vec<compute::Image>> {
        all_pages(|page_token| async move {
            let request = compute::ListPublicRequest {
                region: region.to_owned(),
                page_size: PAGE_SIZE,
                page_token,
            };
            let page = self
                .unary(
                    Rpc::read("images", Service::Compute),
                    &request,
                    |ch, r| async move {
                        compute::image_service_client::ImageServiceClient::new(ch)
                            .list_public(r)
                            .await
                    },
                )
                .await?;
            Ok((page.items, page.next_page_token))
        })
        .await
    }

    // --- compute.v1.DiskService ---

    /// Every disk of a project, for the sweep of disks no instance uses.
    pub(crate) async fn list_disks(&self, project: &str) -> Result<Vec<compute::Disk>> {
        all_pages(|page_token| async move {
            let request = compute::ListDisksRequest {
                parent_id: project.to_owned(),
                page_size: PAGE_SIZE,
                page_token,
                ..compute::ListDisksRequest::default()
            };
            let page = self
                .unary(
                    Rpc::read("list_disks", Service::Compute),
                    &request,
                    |ch, r| async move {
                        compute::disk_service_client::DiskServiceClient::new(ch)
                            .list(r)
                            .await
                    },
                )
                .await?;
            Ok((page.items, page.next_page_token))
        })
        .await
    }

    /// Deletes a disk and waits; one already gone counts as deleted.
    pub(crate) async fn delete_disk(&self, id: &str) -> Result<()> {
        let request = compute::DeleteDiskRequest { id: id.to_owned() };
        let result = self
            .mutate(
                Rpc::repeatable("delete_disk", Service::Compute),
                &request,
                |ch, r| async move {
                    compute::disk_service_client::DiskServiceClient::new(ch)
                        .delete(r)
                        .await
                },
            )
            .await;
        gone_is_done(result)
    }

    // --- compute.v1.InstanceService ---

    /// Creates an instance and waits for the operation; the answer is its id.
    pub(crate) async fn create_instance(
        &self,
        request: &compute::CreateInstanceRequest,
    ) -> Created {
        self.create(
            Rpc::create("create_instance", Service::Compute),
            request,
            |ch, r| async move {
                compute::instance_service_client::InstanceServiceClient::new(ch)
                    .create(r)
                    .await
            },
        )
        .await
    }

    /// One instance; a missing one is `InstanceNotFound`.
    pub(crate) async fn get_instance(
        &self,
        operation: &'static str,
        id: &str,
    ) -> Result<compute::Instance> {
        let request = compute::GetInstanceRequest { id: id.to_owned() };
        self.unary(
            Rpc::read(operation, Service::Compute),
            &request,
            |ch, r| async move {
                compute::instance_service_client::InstanceServiceClient::new(ch)
                    .get(r)
                    .await
            },
        )
        .await
        .map_err(|e| about_instance(e, operation, id))
    }

    /// One page of a project's instances.
    pub(crate) async fn list_instances_page(
        &self,
        operation: &'static str,
        project: &str,
        page_token: &str,
    ) -> Result<compute::ListInstancesResponse> {
        let request = compute::ListInstancesRequest {
            parent_id: project.to_owned(),
            page_size: PAGE_SIZE,
            page_token: page_token.to_owned(),
        };
        self.unary(
            Rpc::read(operation, Service::Compute),
            &request,
            |ch, r| async move {
                compute::instance_service_client::InstanceServiceClient::new(ch)
                    .list(r)
                    .await
            },
        )
        .await
    }

    /// Every instance of a project, page by page, each page handed to `each` as it arrives
    /// (so a large listing is never held twice).
    pub(crate) async fn for_each_instance(
        &self,
        operation: &'static str,
        project: &str,
        mut each: impl FnMut(compute::Instance),
    ) -> Result<()> {
        let mut token = String::new();
        loop {
            let page = self.list_instances_page(operation, project, &token).await?;
            page.items.into_iter().for_each(&mut each);
            if page.next_page_token.is_empty() || page.next_page_token == token {
                return Ok(());
            }
            token = page.next_page_token;
        }
    }

    /// Replaces an instance's metadata (labels) and waits.
    pub(crate) async fn update_instance(
        &self,
        request: &compute::UpdateInstanceRequest,
    ) -> Result<()> {
        let id = request
            .metadata
            .as_ref()
            .map_or("", |m| m.id.as_str())
            .to_owned();
        self.mutate(
            Rpc::repeatable("update_instance_tags", Service::Compute),
            request,
            |ch, r| async move {
                compute::instance_service_client::InstanceServiceClient::new(ch)
                    .update(r)
                    .await
            },
        )
        .await
        .map(drop)
        .map_err(|e| about_instance(e, "update_instance_tags", &id))
    }

    /// Deletes an instance and waits for the operation; one already gone counts as deleted.
    pub(crate) async fn delete_instance(&self, id: &str) -> Result<()> {
        let request = compute::DeleteInstanceRequest { id: id.to_owned() };
        let result = self
            .mutate(
                Rpc::repeatable("terminate_instance", Service::Compute),
                &request,
                |ch, r| async move {
                    compute::instance_service_client::InstanceServiceClient::new(ch)
                        .delete(r)
                        .await
                },
            )
            .await;
        gone_is_done(result)
    }

    /// Stops an instance and waits.
    pub(crate) async fn stop_instance(&self, id: &str) -> Result<()> {
        let request = compute::StopInstanceRequest { id: id.to_owned() };
        self.mutate(
            Rpc::repeatable("stop_instance", Service::Compute),
            &request,
            |ch, r| async move {
                compute::instance_service_client::InstanceServiceClient::new(ch)
                    .stop(r)
                    .await
            },
        )
        .await
        .map(drop)
        .map_err(|e| about_instance(e, "stop_instance", id))
    }

    /// Starts an instance and waits.
    pub(crate) async fn start_instance(&self, id: &str) -> Result<()> {
        let request = compute::StartInstanceRequest { id: id.to_owned() };
        self.mutate(
            Rpc::repeatable("start_instance", Service::Compute),
            &request,
            |ch, r| async move {
                compute::instance_service_client::InstanceServiceClient::new(ch)
                    .start(r)
                    .await
            },
        )
        .await
        .map(drop)
        .map_err(|e| about_instance(e, "start_instance", id))
    }

    // --- vpc.v1.SecurityGroupService and SecurityRuleService ---

    /// Creates a security group and waits; the answer is its id.
    pub(crate) async fn create_security_group(
        &self,
        request: &vpc::CreateSecurityGroupRequest,
    ) -> Created {
        self.create(
            Rpc::create("create_security_group", Service::Vpc),
            request,
            |ch, r| async move {
                vpc::security_group_service_client::SecurityGroupServiceClient::new(ch)
                    .create(r)
                    .await
            },
        )
        .await
    }

    /// The id of `project`'s security group named `name`, `None` when there is none: how a
    /// create whose answers were all lost finds what it made.
    pub(crate) async fn security_group_id_by_name(
        &self,
        project: &str,
        name: &str,
    ) -> Result<Option<String>> {
        let request = vpc::GetSecurityGroupByNameRequest {
            parent_id: project.to_owned(),
            name: name.to_owned(),
        };
        let found = self
            .unary(
                Rpc::read("get_security_group", Service::Vpc),
                &request,
                |ch, r| async move {
                    vpc::security_group_service_client::SecurityGroupServiceClient::new(ch)
                        .get_by_name(r)
                        .await
                },
            )
            .await;
        id_if_found(found.map(|g| g.metadata))
    }

    /// Every security group of a project, for the sweep of groups no instance uses.
    pub(crate) async fn list_security_groups(
        &self,
        project: &str,
    ) -> Result<Vec<vpc::SecurityGroup>> {
        all_pages(|page_token| async move {
            let request = vpc::ListSecurityGroupsRequest {
                parent_id: project.to_owned(),
                page_size: PAGE_SIZE,
                page_token,
            };
            let page = self
                .unary(
                    Rpc::read("list_security_groups", Service::Vpc),
                    &request,
                    |ch, r| async move {
                        vpc::security_group_service_client::SecurityGroupServiceClient::new(ch)
                            .list(r)
                            .await
                    },
                )
                .await?;
            Ok((page.items, page.next_page_token))
        })
        .await
    }

    /// Deletes a security group and waits; one already gone counts as deleted.
    pub(crate) async fn delete_security_group(&self, id: &str) -> Result<()> {
        let request = vpc::DeleteSecurityGroupRequest { id: id.to_owned() };
        let result = self
            .mutate(
                Rpc::repeatable("delete_security_group", Service::Vpc),
                &request,
                |ch, r| async move {
                    vpc::security_group_service_client::SecurityGroupServiceClient::new(ch)
                        .delete(r)
                        .await
                },
            )
            .await;
        gone_is_done(result)
    }

    /// Creates a rule in a security group and waits; the answer is its id.
    pub(crate) async fn create_security_rule(
        &self,
        request: &vpc::CreateSecurityRuleRequest,
    ) -> Created {
        self.create(
            Rpc::create("create_security_rule", Service::Vpc),
            request,
            |ch, r| async move {
                vpc::security_rule_service_client::SecurityRuleServiceClient::new(ch)
                    .create(r)
                    .await
            },
        )
        .await
    }

    /// The rules of a security group, every page.
    pub(crate) async fn list_security_rules(&self, group: &str) -> Result<Vec<vpc::SecurityRule>> {
        all_pages(|page_token| async move {
            let request = vpc::ListSecurityRulesRequest {
                parent_id: group.to_owned(),
                page_size: PAGE_SIZE,
                page_token,
            };
            let page = self
                .unary(
                    Rpc::read("list_security_rules", Service::Vpc),
                    &request,
                    |ch, r| async move {
                        vpc::security_rule_service_client::SecurityRuleServiceClient::new(ch)
                            .list(r)
                            .await
                    },
                )
                .await?;
            Ok((page.items, page.next_page_token))
        })
        .await
    }

    /// Deletes a rule and waits; one already gone counts as deleted.
    pub(crate) async fn delete_security_rule(&self, id: &str) -> Result<()> {
        let request = vpc::DeleteSecurityRuleRequest { id: id.to_owned() };
        let result = self
            .mutate(
                Rpc::repeatable("revoke_firewall_rules", Service::Vpc),
                &request,
                |ch, r| async move {
                    vpc::security_rule_service_client::SecurityRuleServiceClient::new(ch)
                        .delete(r)
                        .await
                },
            )
            .await;
        gone_is_done(result)
    }
}

/// A not-found of a call about one instance is `InstanceNotFound`.
fn about_instance(error: CloudError, operation: &'static str, id: &str) -> CloudError {
    if error.kind() == ErrorKind::ResourceNotFound {
        CloudError::instance_not_found(PROVIDER_ID, operation, id).with_source(error)
    } else {
        error
    }
}

/// A delete of something already gone did what was asked.
fn gone_is_done(result: Result<common::Operation>) -> Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.kind().is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// The id of a resource looked up by name: `None` when there is none (not found), an error
/// when the lookup failed otherwise or the answer names no id.
fn id_if_found(found: Result<Option<common::ResourceMetadata>>) -> Result<Option<String>> {
    match found {
        Ok(metadata) => metadata
            .map(|m| m.id)
            .filter(|id| !id.is_empty())
            .map(Some)
            .ok_or_else(|| error::decode("get_by_name", "the answer names no resource id")),
        Err(e) if e.kind().is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}
