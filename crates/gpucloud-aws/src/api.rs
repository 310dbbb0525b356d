//! The typed API calls: one function per AWS operation the provider makes, SDK shapes in and
//! out, nothing of the model. Every call goes through core's retry driver (the SDK's own
//! retries are off), so throttling, transient failures and idempotency follow the same rules as
//! every other provider's; the SDK is loaded on the first call (never when a credential is
//! made), with one EC2 client per region.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_ec2::config::{
    ConfigBag, Credentials, Intercept, RuntimeComponents, SharedCredentialsProvider,
};
use aws_sdk_ec2::error::BoxError;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{
    AttributeValue, Filter, Image, Instance, InstanceTypeInfo, IpPermission, KeyPairInfo,
    LocationType, ResourceType, SecurityGroup, SpotPrice, Tag, TagSpecification, Volume,
    VolumeModification,
};
use gpucloud_core::retry::{Call, RetryDriver, RetryPolicy};
use gpucloud_core::{CloudError, ErrorKind, Result};
use secrecy::ExposeSecret;
use tokio::sync::OnceCell;

use crate::config::{AwsConfig, PRICING_REGION};
use crate::convert::PROVIDER;
use crate::error::classify;

/// Instance types or filter values per request (EC2 takes up to 100 names per call).
const CHUNK: usize = 100;

/// Refuses an EC2 answer whose XML document is cut short. The SDK's XML reader stops at the
/// end of the bytes without an error, so a `2xx` cut in half reads as an answer with parts
/// missing (an instance without its id, a list without its last entries); this makes it an
/// unreadable answer, whose outcome is unknown, as core's rule wants.
#[derive(Debug)]
struct CompleteXml;

/// Whether `body` ends with the closing tag of its root element, as every complete EC2 answer
/// does (a cut at another closing tag is still cut short).
fn is_complete_xml(body: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    let mut rest = text.trim_start();
    // The declaration and comments before the root.
    while let Some(after) = rest.strip_prefix("<?").or_else(|| rest.strip_prefix("<!")) {
        match after.find('>') {
            Some(end) => rest = after[end + 1..].trim_start(),
            None => return false,
        }
    }
    let Some(root) = rest
        .strip_prefix('<')
        .and_then(|r| {
            r.split(|c: char| c == '>' || c == '/' || c.is_whitespace())
                .next()
        })
        .filter(|name| !name.is_empty())
    else {
        return false;
    };
    text.trim_end().ends_with(&format!("</{root}>"))
}

impl Intercept for CompleteXml {
    fn name(&self) -> &'static str {
        "CompleteXml"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        let response = context.response();
        if response.status().is_success()
            && let Some(body) = response.body().bytes()
            && !is_complete_xml(body)
        {
            return Err("the answer's XML document is cut short".into());
        }
        Ok(())
    }
}

/// The loaded SDK: the shared configuration and the clients made from it.
struct Sdk {
    base: SdkConfig,
    ec2: Mutex<HashMap<String, aws_sdk_ec2::Client>>,
    pricing: aws_sdk_pricing::Client,
    quotas: Mutex<HashMap<String, aws_sdk_servicequotas::Client>>,
}

/// Every AWS call the provider makes.
pub(crate) struct Api {
    config: AwsConfig,
    sdk: OnceCell<Sdk>,
    driver: RetryDriver,
}

/// A filter of one name and its values.
pub(crate) fn filter<I, S>(name: &str, values: I) -> Filter
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut builder = Filter::builder().name(name);
    for v in values {
        builder = builder.values(v);
    }
    builder.build()
}

/// A tag specification of `tags` for new resources of `kind`.
pub(crate) fn tag_spec(kind: ResourceType, tags: &[Tag]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(tags.to_vec()))
        .build()
}

impl Api {
    /// The API of a configuration; nothing is loaded or sent yet.
    pub(crate) fn new(config: AwsConfig) -> Self {
        let driver = RetryDriver::new(
            RetryPolicy::default()
                .with_backoff(config.effective_retry_backoff(), Duration::from_secs(20)),
        );
        Self {
            config,
            sdk: OnceCell::new(),
            driver,
        }
    }

    /// The SDK, loaded once: region, credentials (settings, else the standard chain; then the
    /// role, when one is set), no SDK retries (the driver retries), the attempt timeout.
    async fn sdk(&self) -> &Sdk {
        self.sdk
            .get_or_init(|| async {
                let c = &self.config;
                let timeout = c.effective_request_timeout();
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(c.region.clone()))
                    .retry_config(RetryConfig::disabled())
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(timeout.min(Duration::from_secs(10)))
                            .operation_attempt_timeout(timeout)
                            .build(),
                    );
                if let Some(profile) = &c.profile {
                    loader = loader.profile_name(profile);
                }
                if let (Some(id), Some(secret)) = (&c.access_key_id, &c.secret_access_key) {
                    loader = loader.credentials_provider(Credentials::new(
                        id.clone(),
                        secret.expose_secret().to_owned(),
                        c.session_token
                            .as_ref()
                            .map(|t| t.expose_secret().to_owned()),
                        None,
                        "gpucloud-settings",
                    ));
                }
                let mut base = loader.load().await;
                if let Some(role) = &c.role_arn {
                    let provider = AssumeRoleProvider::builder(role.clone())
                        .session_name("gpucloud")
                        .configure(&base)
                        .build()
                        .await;
                    base = base
                        .into_builder()
                        .credentials_provider(SharedCredentialsProvider::new(provider))
                        .build();
                }
                let mut pricing = aws_sdk_pricing::config::Builder::from(&base)
                    .region(Region::new(PRICING_REGION));
                if let Some(url) = c.effective_pricing_endpoint_url() {
                    pricing = pricing.endpoint_url(url);
                }
                Sdk {
                    pricing: aws_sdk_pricing::Client::from_conf(pricing.build()),
                    base,
                    ec2: Mutex::new(HashMap::new()),
                    quotas: Mutex::new(HashMap::new()),
                }
            })
            .await
    }

    /// The EC2 client of `region`.
    async fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        let sdk = self.sdk().await;
        let mut clients = sdk
            .ec2
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let mut builder = aws_sdk_ec2::config::Builder::from(&sdk.base)
                    .region(Region::new(region.to_owned()))
                    .interceptor(CompleteXml);
                if let Some(url) = &self.config.endpoint_url {
                    builder = builder.endpoint_url(url);
                }
                aws_sdk_ec2::Client::from_conf(builder.build())
            })
            .clone()
    }

    /// The Service Quotas client of `region`.
    async fn quotas(&self, region: &str) -> aws_sdk_servicequotas::Client {
        let sdk = self.sdk().await;
        let mut clients = sdk
            .quotas
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let mut builder = aws_sdk_servicequotas::config::Builder::from(&sdk.base)
                    .region(Region::new(region.to_owned()));
                if let Some(url) = self.config.effective_quotas_endpoint_url() {
                    builder = builder.endpoint_url(url);
                }
                aws_sdk_servicequotas::Client::from_conf(builder.build())
            })
            .clone()
    }

    /// Sends one request through the driver: `send` makes a fresh attempt each time.
    async fn call<T, E, F, Fut>(&self, op: &'static str, idempotent: bool, send: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.driver
            .run(&Call::new(op, idempotent), |_| {
                let attempt = send();
                async move { attempt.await.map_err(|e| classify(op, e)) }
            })
            .await
    }

    /// The regions enabled for the account.
    pub(crate) async fn regions(&self, op: &'static str) -> Result<Vec<String>> {
        let ec2 = self.ec2(&self.config.region).await;
        let out = self
            .call(op, true, || {
                ec2.describe_regions().all_regions(false).send()
            })
            .await?;
        let mut regions: Vec<String> = out
            .regions()
            .iter()
            .filter(|r| r.opt_in_status().is_none_or(|s| s != "not-opted-in"))
            .filter_map(|r| r.region_name().map(str::to_owned))
            .collect();
        regions.sort();
        Ok(regions)
    }

    /// The types of `region` whose names match `patterns` (every type when `None`).
    pub(crate) async fn instance_types(
        &self,
        op: &'static str,
        region: &str,
        patterns: Option<&[&str]>,
    ) -> Result<Vec<InstanceTypeInfo>> {
        let ec2 = self.ec2(region).await;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut request = ec2
                .describe_instance_types()
                .set_next_token(token.clone())
                .max_results(100);
            if let Some(patterns) = patterns {
                request = request.filters(filter("instance-type", patterns.iter().copied()));
            }
            let page = self.call(op, true, || request.clone().send()).await?;
            out.extend(page.instance_types().iter().cloned());
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// The zones of `region` that offer each of `types`.
    pub(crate) async fn offerings(
        &self,
        op: &'static str,
        region: &str,
        types: &[String],
    ) -> Result<HashMap<String, Vec<String>>> {
        let ec2 = self.ec2(region).await;
        let mut zones: HashMap<String, Vec<String>> = HashMap::new();
        for chunk in types.chunks(CHUNK) {
            let mut token: Option<String> = None;
            loop {
                let request = ec2
                    .describe_instance_type_offerings()
                    .location_type(LocationType::AvailabilityZone)
                    .filters(filter("instance-type", chunk.iter().cloned()))
                    .set_next_token(token.clone());
                let page = self.call(op, true, || request.clone().send()).await?;
                for o in page.instance_type_offerings() {
                    if let (Some(t), Some(zone)) = (o.instance_type(), o.location()) {
                        zones
                            .entry(t.as_str().to_owned())
                            .or_default()
                            .push(zone.to_owned());
                    }
                }
                token = page
                    .next_token()
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned);
                if token.is_none() {
                    break;
                }
            }
        }
        for list in zones.values_mut() {
            list.sort();
            list.dedup();
        }
        Ok(zones)
    }

    /// The current spot prices of `types` in `region` (Linux), per zone.
    pub(crate) async fn spot_prices(
        &self,
        op: &'static str,
        region: &str,
        types: &[String],
    ) -> Result<Vec<SpotPrice>> {
        let ec2 = self.ec2(region).await;
        let now = aws_sdk_ec2::primitives::DateTime::from(std::time::SystemTime::now());
        let mut out = Vec::new();
        for chunk in types.chunks(CHUNK) {
            let mut token: Option<String> = None;
            loop {
                let request = ec2
                    .describe_spot_price_history()
                    .set_instance_types(Some(chunk.iter().map(|t| t.as_str().into()).collect()))
                    .product_descriptions("Linux/UNIX")
                    .start_time(now)
                    .set_next_token(token.clone());
                let page = self.call(op, true, || request.clone().send()).await?;
                out.extend(page.spot_price_history().iter().cloned());
                token = page
                    .next_token()
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned);
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The Price List products of EC2 Linux on-demand capacity in `region` (JSON texts).
    pub(crate) async fn products(&self, op: &'static str, region: &str) -> Result<Vec<String>> {
        use aws_sdk_pricing::types::{Filter as PriceFilter, FilterType};
        let term = |field: &str, value: &str| {
            PriceFilter::builder()
                .r#type(FilterType::TermMatch)
                .field(field)
                .value(value)
                .build()
                .map_err(|e| CloudError::provider(PROVIDER, op, ErrorKind::Internal, e.to_string()))
        };
        let filters = vec![
            term("regionCode", region)?,
            term("operatingSystem", "Linux")?,
            term("tenancy", "Shared")?,
            term("capacitystatus", "Used")?,
            term("preInstalledSw", "NA")?,
        ];
        let pricing = self.sdk().await.pricing.clone();
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let request = pricing
                .get_products()
                .service_code("AmazonEC2")
                .format_version("aws_v1")
                .set_filters(Some(filters.clone()))
                .set_next_token(token.clone())
                .max_results(100);
            let page = self.call(op, true, || request.clone().send()).await?;
            out.extend(page.price_list().iter().cloned());
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// The value of the EC2 quota `code` in `region`; `None` when Service Quotas has none.
    pub(crate) async fn quota(
        &self,
        op: &'static str,
        region: &str,
        code: &str,
    ) -> Result<Option<f64>> {
        let quotas = self.quotas(region).await;
        let request = quotas
            .get_service_quota()
            .service_code("ec2")
            .quota_code(code);
        match self.call(op, true, || request.clone().send()).await {
            Ok(out) => Ok(out
                .quota()
                .and_then(aws_sdk_servicequotas::types::ServiceQuota::value)),
            Err(e) if e.kind() == ErrorKind::ResourceNotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The instances of `region` passing `filters` (and with `ids`, when given), every page.
    pub(crate) async fn instances(
        &self,
        op: &'static str,
        region: &str,
        ids: &[String],
        filters: Vec<Filter>,
    ) -> Result<Vec<Instance>> {
        let ec2 = self.ec2(region).await;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut request = ec2
                .describe_instances()
                .set_filters(Some(filters.clone()))
                .set_next_token(token.clone());
            if ids.is_empty() {
                request = request.max_results(1000);
            } else {
                request = request.set_instance_ids(Some(ids.to_vec()));
            }
            let page = self.call(op, true, || request.clone().send()).await?;
            out.extend(
                page.reservations()
                    .iter()
                    .flat_map(|r| r.instances().iter().cloned()),
            );
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Launches one instance. Not repeated by the driver after an unknown outcome even though
    /// it carries a `ClientToken`: the caller resolves that by RefID (core's one rule).
    pub(crate) async fn run_instance(
        &self,
        op: &'static str,
        request: aws_sdk_ec2::operation::run_instances::builders::RunInstancesFluentBuilder,
    ) -> Result<Instance> {
        // Boxed: the SDK's send future is large.
        let out = Box::pin(self.driver.run(&Call::new(op, false).create(), |_| {
            let attempt = request.clone().send();
            async move { attempt.await.map_err(|e| classify(op, e)) }
        }))
        .await?;
        out.instances()
            .first()
            .filter(|i| i.instance_id().is_some_and(|id| !id.is_empty()))
            .cloned()
            .ok_or_else(|| {
                CloudError::provider(
                    PROVIDER,
                    op,
                    ErrorKind::Decode,
                    "RunInstances answered without an instance id",
                )
                .with_delivery(gpucloud_core::Delivery::Unknown)
                .with_retry(gpucloud_core::Retry::Transient)
            })
    }

    /// A request builder of `RunInstances` in `region`.
    pub(crate) async fn run_instances_request(
        &self,
        region: &str,
    ) -> aws_sdk_ec2::operation::run_instances::builders::RunInstancesFluentBuilder {
        self.ec2(region).await.run_instances()
    }

    /// Terminates an instance.
    pub(crate) async fn terminate(&self, op: &'static str, region: &str, id: &str) -> Result<()> {
        let ec2 = self.ec2(region).await;
        self.call(op, true, || {
            ec2.terminate_instances().instance_ids(id).send()
        })
        .await
        .map(drop)
    }

    /// Stops an instance.
    pub(crate) async fn stop(&self, op: &'static str, region: &str, id: &str) -> Result<()> {
        let ec2 = self.ec2(region).await;
        self.call(op, true, || ec2.stop_instances().instance_ids(id).send())
            .await
            .map(drop)
    }

    /// Starts an instance.
    pub(crate) async fn start(&self, op: &'static str, region: &str, id: &str) -> Result<()> {
        let ec2 = self.ec2(region).await;
        self.call(op, true, || ec2.start_instances().instance_ids(id).send())
            .await
            .map(drop)
    }

    /// Reboots an instance.
    pub(crate) async fn reboot(&self, op: &'static str, region: &str, id: &str) -> Result<()> {
        let ec2 = self.ec2(region).await;
        self.call(op, true, || ec2.reboot_instances().instance_ids(id).send())
            .await
            .map(drop)
    }

    /// The volume `id`, if present.
    pub(crate) async fn volume(
        &self,
        op: &'static str,
        region: &str,
        id: &str,
    ) -> Result<Option<Volume>> {
        let ec2 = self.ec2(region).await;
        let request = ec2.describe_volumes().volume_ids(id);
        let out = self.call(op, true, || request.clone().send()).await?;
        Ok(out.volumes().first().cloned())
    }

    /// Asks EC2 to grow a volume to `size_gib`. Not repeated after an unknown outcome: a
    /// modification that took effect refuses a second one for hours, so the caller reads the
    /// volume again instead.
    pub(crate) async fn modify_volume(
        &self,
        op: &'static str,
        region: &str,
        id: &str,
        size_gib: i32,
    ) -> Result<Option<VolumeModification>> {
        let ec2 = self.ec2(region).await;
        let request = ec2.modify_volume().volume_id(id).size(size_gib);
        let out = self.call(op, false, || request.clone().send()).await?;
        Ok(out.volume_modification().cloned())
    }

    /// The latest modification of volume `id`, if any.
    pub(crate) async fn volume_modification(
        &self,
        op: &'static str,
        region: &str,
        id: &str,
    ) -> Result<Option<VolumeModification>> {
        let ec2 = self.ec2(region).await;
        let request = ec2.describe_volumes_modifications().volume_ids(id);
        let out = self.call(op, true, || request.clone().send()).await?;
        Ok(out
            .volumes_modifications()
            .iter()
            .max_by_key(|m| m.start_time().map(|t| (t.secs(), t.subsec_nanos())))
            .cloned())
    }

    /// Sets the type of a stopped instance (the same type again changes nothing).
    pub(crate) async fn modify_instance_type(
        &self,
        op: &'static str,
        region: &str,
        id: &str,
        instance_type: &str,
    ) -> Result<()> {
        let ec2 = self.ec2(region).await;
        let request = ec2
            .modify_instance_attribute()
            .instance_id(id)
            .instance_type(AttributeValue::builder().value(instance_type).build());
        self.call(op, true, || request.clone().send())
            .await
            .map(drop)
    }

    /// The key pair named `name`, if present.
    pub(crate) async fn key_pair(
        &self,
        op: &'static str,
        region: &str,
        name: &str,
    ) -> Result<Option<KeyPairInfo>> {
        let ec2 = self.ec2(region).await;
        let request = ec2.describe_key_pairs().filters(filter("key-name", [name]));
        let out = self.call(op, true, || request.clone().send()).await?;
        Ok(out.key_pairs().first().cloned())
    }

    /// Imports a public key as key pair `name` with `tags`.
    pub(crate) async fn import_key_pair(
        &self,
        op: &'static str,
        region: &str,
        name: &str,
        openssh: &str,
        tags: &[Tag],
    ) -> Result<()> {
        let ec2 = self.ec2(region).await;
        let request = ec2
            .import_key_pair()
            .key_name(name)
            .public_key_material(aws_sdk_ec2::primitives::Blob::new(openssh.as_bytes()))
            .tag_specifications(tag_spec(ResourceType::KeyPair, tags));
        self.call(op, false, || request.clone().send())
            .await
            .map(drop)
    }

    /// Every key pair of the region.
    pub(crate) async fn key_pairs(
        &self,
        op: &'static str,
        region: &str,
    ) -> Result<Vec<KeyPairInfo>> {
        let ec2 = self.ec2(region).await;
        let request = ec2.describe_key_pairs();
        let out = self.call(op, true, || request.clone().send()).await?;
        Ok(out.key_pairs().to_vec())
    }

    /// Deletes key pair `name` (already gone is fine).
    pub(crate) async fn delete_key_pair(
        &self,
        op: &'static str,
        region: &str,
        name: &str,
    ) -> Result<()> {
        let ec2 = self.ec2(region).await;
        self.call(op, true, || ec2.delete_key_pair().key_name(name).send())
            .await
            .map(drop)
    }

    /// Creates security group `name` (in the default VPC) with `tags`; its id.
    pub(crate) async fn create_group(
        &self,
        op: &'static str,
        region: &str,
        name: &str,
        tags: &[Tag],
    ) -> Result<String> {
        let ec2 = self.ec2(region).await;
        let request = ec2
            .create_security_group()
            .group_name(name)
            .description("gpucloud: one instance's firewall")
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, tags));
        let out = self.call(op, false, || request.clone().send()).await?;
        out.group_id().map(str::to_owned).ok_or_else(|| {
            CloudError::provider(
                PROVIDER,
                op,
                ErrorKind::Decode,
                "CreateSecurityGroup answered without a group id",
            )
            .with_delivery(gpucloud_core::Delivery::Unknown)
        })
    }

    /// The security groups passing `filters` (or with `ids`).
    pub(crate) async fn groups(
        &self,
        op: &'static str,
        region: &str,
        ids: &[String],
        filters: Vec<Filter>,
    ) -> Result<Vec<SecurityGroup>> {
        let ec2 = self.ec2(region).await;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let request = ec2
                .describe_security_groups()
                .set_group_ids((!ids.is_empty()).then(|| ids.to_vec()))
                .set_filters(Some(filters.clone()))
                .set_next_token(token.clone());
            let page = self.call(op, true, || request.clone().send()).await?;
            out.extend(page.security_groups().iter().cloned());
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Adds ingress permissions to a group.
    pub(crate) async fn authorize(
        &self,
        op: &'static str,
        region: &str,
        group: &str,
        permissions: Vec<IpPermission>,
    ) -> Result<()> {
        let ec2 = self.ec2(region).await;
        let request = ec2
            .authorize_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(Some(permissions));
        self.call(op, true, || request.clone().send())
            .await
            .map(drop)
    }

    /// Removes ingress permissions from a group.
    pub(crate) async fn revoke(
        &self,
        op: &'static str,
        region: &str,
        group: &str,
        permissions: Vec<IpPermission>,
    ) -> Result<()> {
        let ec2 = self.ec2(region).await;
        let request = ec2
            .revoke_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(Some(permissions));
        self.call(op, true, || request.clone().send())
            .await
            .map(drop)
    }

    /// Deletes a security group.
    pub(crate) async fn delete_group(
        &self,
        op: &'static str,
        region: &str,
        group: &str,
    ) -> Result<()> {
        let ec2 = self.ec2(region).await;
        self.call(op, true, || {
            ec2.delete_security_group().group_id(group).send()
        })
        .await
        .map(drop)
    }

    /// Sets tags on a resource.
    pub(crate) async fn create_tags(
        &self,
        op: &'static str,
        region: &str,
        resource: &str,
        tags: Vec<Tag>,
    ) -> Result<()> {
        let ec2 = self.ec2(region).await;
        let request = ec2.create_tags().resources(resource).set_tags(Some(tags));
        self.call(op, true, || request.clone().send())
            .await
            .map(drop)
    }

    /// Removes the tags with `keys` from a resource.
    pub(crate) async fn delete_tags(
        &self,
        op: &'static str,
        region: &str,
        resource: &str,
        keys: Vec<String>,
    ) -> Result<()> {
        let ec2 = self.ec2(region).await;
        let request = ec2.delete_tags().resources(resource).set_tags(Some(
            keys.into_iter()
                .map(|k| Tag::builder().key(k).build())
                .collect(),
        ));
        self.call(op, true, || request.clone().send())
            .await
            .map(drop)
    }

    /// The images passing `filters`, owned by `owners` (any when empty), or with `ids`.
    pub(crate) async fn images(
        &self,
        op: &'static str,
        region: &str,
        owners: &[String],
        ids: &[String],
        filters: Vec<Filter>,
    ) -> Result<Vec<Image>> {
        let ec2 = self.ec2(region).await;
        let request = ec2
            .describe_images()
            .set_owners((!owners.is_empty()).then(|| owners.to_vec()))
            .set_image_ids((!ids.is_empty()).then(|| ids.to_vec()))
            .set_filters(Some(filters));
        let out = self.call(op, true, || request.clone().send()).await?;
        Ok(out.images().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::is_complete_xml;

    #[test]
    fn an_answer_cut_short_is_not_complete() {
        let full = b"<RunInstancesResponse><requestId>r</requestId></RunInstancesResponse>\n";
        assert!(is_complete_xml(full));
        let declared = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<A xmlns=\"x\"><b/></A>";
        assert!(is_complete_xml(declared));
        // Cut right after an inner closing tag: still short.
        assert!(!is_complete_xml(
            b"<RunInstancesResponse><requestId>r</requestId>"
        ));
        for cut in [8, 20, 40, full.len() - 3] {
            assert!(!is_complete_xml(&full[..cut]), "{cut}");
        }
        assert!(!is_complete_xml(b""));
    }
}
