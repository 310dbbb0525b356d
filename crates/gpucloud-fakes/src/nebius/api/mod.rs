//! The services: one [`Api`] implements every generated server trait the fake serves, over
//! the shared [`FakeNebiusState`]. Shared here: paging, idempotent mutations, and the
//! request-field checks every service makes.

mod billing;
mod compute;
mod iam;
mod operations;
mod pricing;
mod quotas;
mod vpc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gpucloud_nebius_proto::billing::v1::calculator_service_server::CalculatorServiceServer;
use gpucloud_nebius_proto::billing::v1::pricing_policy_service_server::PricingPolicyServiceServer;
use gpucloud_nebius_proto::billing::v1alpha1::calculator_service_server::CalculatorServiceServer as CalculatorServiceV1alpha1Server;
use gpucloud_nebius_proto::common::v1 as common;
use gpucloud_nebius_proto::common::v1::operation_service_server::OperationServiceServer;
use gpucloud_nebius_proto::compute::v1::disk_service_server::DiskServiceServer;
use gpucloud_nebius_proto::compute::v1::image_service_server::ImageServiceServer;
use gpucloud_nebius_proto::compute::v1::instance_service_server::InstanceServiceServer;
use gpucloud_nebius_proto::compute::v1::platform_service_server::PlatformServiceServer;
use gpucloud_nebius_proto::iam::v1::profile_service_server::ProfileServiceServer;
use gpucloud_nebius_proto::iam::v1::project_service_server::ProjectServiceServer;
use gpucloud_nebius_proto::iam::v1::tenant_service_server::TenantServiceServer;
use gpucloud_nebius_proto::iam::v1::token_exchange_service_server::TokenExchangeServiceServer;
use gpucloud_nebius_proto::iam::v2::project_service_server::ProjectServiceServer as ProjectServiceV2Server;
use gpucloud_nebius_proto::iam::v2::tenant_service_server::TenantServiceServer as TenantServiceV2Server;
use gpucloud_nebius_proto::quotas::v1::quota_allowance_service_server::QuotaAllowanceServiceServer;
use gpucloud_nebius_proto::vpc::v1::network_service_server::NetworkServiceServer;
use gpucloud_nebius_proto::vpc::v1::security_group_service_server::SecurityGroupServiceServer;
use gpucloud_nebius_proto::vpc::v1::security_rule_service_server::SecurityRuleServiceServer;
use gpucloud_nebius_proto::vpc::v1::subnet_service_server::SubnetServiceServer;
use tokio::time::Instant;
use tonic::metadata::MetadataMap;
use tonic::service::Routes;
use tonic::{Response, Status};

use super::error::{ApiError, ApiResult};
use super::state::{FakeNebiusState, Inner};

/// The header Nebius reads an idempotency key from.
pub const IDEMPOTENCY_HEADER: &str = "x-idempotency-key";

/// Page size when a list asks for none.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The largest page the fake returns.
pub const MAX_PAGE_SIZE: usize = 1000;

/// Every service of the fake, over one state.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    pub(crate) state: FakeNebiusState,
}

/// All services on one router; `iam_v1`: with the deprecated `iam.v1` project and tenant
/// services (Nebius ends them on 2026-12-16).
pub(crate) fn routes(state: &FakeNebiusState, iam_v1: bool) -> Routes {
    let api = Api {
        state: state.clone(),
    };
    let mut routes = Routes::new(TokenExchangeServiceServer::new(api.clone()))
        .add_service(ProfileServiceServer::new(api.clone()))
        .add_service(ProjectServiceV2Server::new(api.clone()))
        .add_service(TenantServiceV2Server::new(api.clone()));
    if iam_v1 {
        routes = routes
            .add_service(ProjectServiceServer::new(api.clone()))
            .add_service(TenantServiceServer::new(api.clone()));
    }
    routes
        .add_service(NetworkServiceServer::new(api.clone()))
        .add_service(SubnetServiceServer::new(api.clone()))
        .add_service(SecurityGroupServiceServer::new(api.clone()))
        .add_service(SecurityRuleServiceServer::new(api.clone()))
        .add_service(ImageServiceServer::new(api.clone()))
        .add_service(PlatformServiceServer::new(api.clone()))
        .add_service(DiskServiceServer::new(api.clone()))
        .add_service(InstanceServiceServer::new(api.clone()))
        .add_service(OperationServiceServer::new(api.clone()))
        .add_service(QuotaAllowanceServiceServer::new(api.clone()))
        .add_service(CalculatorServiceServer::new(api.clone()))
        .add_service(CalculatorServiceV1alpha1Server::new(api.clone()))
        .add_service(PricingPolicyServiceServer::new(api))
}

/// Where a list starts and how much it returns.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    size: usize,
    after: Option<String>,
}

impl Page {
    /// Reads `page_size` (0: [`DEFAULT_PAGE_SIZE`], capped at [`MAX_PAGE_SIZE`]) and
    /// `page_token` (empty, or a `next_page_token` the fake issued).
    pub(crate) fn new(service: &'static str, page_size: i64, page_token: &str) -> ApiResult<Page> {
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => {
                return Err(ApiError::bad_request(
                    service,
                    "page_size",
                    "must not be negative",
                ));
            }
            n => usize::try_from(n).map_or(MAX_PAGE_SIZE, |n| n.min(MAX_PAGE_SIZE)),
        };
        let after = if page_token.is_empty() {
            None
        } else {
            let decoded = URL_SAFE_NO_PAD
                .decode(page_token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.strip_prefix("after:").map(str::to_owned));
            Some(decoded.ok_or_else(|| {
                ApiError::bad_request(service, "page_token", "not a token this API issued")
            })?)
        };
        Ok(Page { size, after })
    }

    /// The key a page starts after (`None`: the first page), for a sorted map's `range`.
    pub(crate) fn after(&self) -> Option<&str> {
        self.after.as_deref()
    }

    /// One page of `items` (sorted by key), and the token of the next page (empty when this
    /// is the last). Items are converted only once they are on the page: `T` can be a
    /// closure's input that is cheap to skip.
    pub(crate) fn apply<K: AsRef<str>, T>(
        &self,
        items: impl IntoIterator<Item = (K, T)>,
    ) -> (Vec<T>, String) {
        let mut rest = items
            .into_iter()
            .filter(|(key, _)| {
                self.after
                    .as_deref()
                    .is_none_or(|after| key.as_ref() > after)
            })
            .peekable();
        let mut page = Vec::new();
        let mut last = None;
        while page.len() < self.size {
            let Some((key, item)) = rest.next() else {
                break;
            };
            page.push(item);
            last = Some(key);
        }
        let next = match (rest.peek(), last) {
            (Some(_), Some(last)) => URL_SAFE_NO_PAD.encode(format!("after:{}", last.as_ref())),
            _ => String::new(),
        };
        (page, next)
    }
}

/// Records of a sorted map from the key a page starts after.
pub(crate) fn from_page<'m, V>(
    map: &'m std::collections::BTreeMap<String, V>,
    page: &Page,
) -> impl Iterator<Item = (&'m str, &'m V)> {
    use std::ops::Bound;
    let start = page
        .after()
        .map_or(Bound::Unbounded, |after| Bound::Excluded(after.to_owned()));
    map.range((start, Bound::Unbounded))
        .map(|(k, v)| (k.as_str(), v))
}

/// `field` must not be empty.
pub(crate) fn required<'a>(
    service: &'static str,
    field: &str,
    value: &'a str,
) -> ApiResult<&'a str> {
    if value.is_empty() {
        Err(ApiError::bad_request(service, field, "is required"))
    } else {
        Ok(value)
    }
}

/// A message field that must be present.
pub(crate) fn present<'a, T>(
    service: &'static str,
    field: &str,
    value: Option<&'a T>,
) -> ApiResult<&'a T> {
    value.ok_or_else(|| ApiError::bad_request(service, field, "is required"))
}

/// The resource name rule of VPC resources: a letter or digit, then letters, digits and
/// `-_./`, 2 to 255 characters.
pub(crate) fn vpc_name(service: &'static str, name: &str) -> ApiResult<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if first_ok && rest_ok && (2..=255).contains(&name.len()) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            service,
            "metadata.name",
            "must start with a letter or digit, allow '-', '_', '.', '/', and have a length between 2 and 255 characters",
        ))
    }
}

impl Api {
    /// Runs a mutation under the state lock, once per idempotency key: a repeated key on
    /// the same method answers the operation the first call started (as it is now) without
    /// running again. `f` gets the state and the caller (for `created_by`).
    pub(crate) fn mutate(
        &self,
        metadata: &MetadataMap,
        method: &'static str,
        f: impl FnOnce(&mut Inner, &str) -> ApiResult<common::Operation>,
    ) -> Result<Response<common::Operation>, Status> {
        let key = metadata
            .get(IDEMPOTENCY_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|k| !k.is_empty())
            .map(|k| (method.to_owned(), k.to_owned()));
        let mut inner = self.state.lock();
        if let Some(key) = &key
            && let Some(existing) = inner
                .idempotency
                .get(key)
                .and_then(|id| inner.operations.get(id))
        {
            return Ok(Response::new(existing.to_proto(Instant::now())));
        }
        let caller = caller(&inner, metadata);
        let operation = f(&mut inner, &caller)?;
        if let Some(key) = key {
            inner.idempotency.insert(key, operation.id.clone());
        }
        Ok(Response::new(operation))
    }
}

/// Who made the call: the service account of its token, else the static token's user.
pub(crate) fn caller(inner: &Inner, metadata: &MetadataMap) -> String {
    service_account(inner, metadata).unwrap_or_else(|| STATIC_TOKEN_USER.to_owned())
}

/// The user the static token stands for.
pub(crate) const STATIC_TOKEN_USER: &str = "useraccount-fake";

/// The service account whose exchanged token made the call (`None`: the static token).
pub(crate) fn service_account(inner: &Inner, metadata: &MetadataMap) -> Option<String> {
    metadata
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .and_then(|(_, token)| inner.tokens.get(token.trim()))
        .map(|(_, sa)| sa.clone())
}

/// The API error as a call's status.
pub(crate) fn reply<T>(result: ApiResult<T>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_their_tokens_to_the_end() {
        let items: Vec<(String, u32)> = (0..5).map(|i| (format!("id-{i}"), i)).collect();
        let first = Page::new("t", 2, "").unwrap();
        let (page, next) = first.apply(items.clone());
        assert_eq!(page, vec![0, 1]);
        let (page, next) = Page::new("t", 2, &next).unwrap().apply(items.clone());
        assert_eq!(page, vec![2, 3]);
        let (page, next) = Page::new("t", 2, &next).unwrap().apply(items.clone());
        assert_eq!(page, vec![4]);
        assert!(next.is_empty());
        let (page, next) = Page::new("t", 0, "").unwrap().apply(items);
        assert_eq!(page.len(), 5);
        assert!(next.is_empty());
        assert!(Page::new("t", -1, "").is_err());
        let bad = Page::new("t", 1, "garbage").unwrap_err();
        assert!(bad.message.contains("page_token"), "{bad:?}");
    }

    #[test]
    fn vpc_names() {
        assert!(vpc_name("vpc", "sg-1.a/b_c").is_ok());
        assert!(vpc_name("vpc", "a").is_err());
        assert!(vpc_name("vpc", "-a").is_err());
        assert!(vpc_name("vpc", "a b").is_err());
    }
}
