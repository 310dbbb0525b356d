//! IAM: the token exchange (self-signed service-account JWT → access token), who the caller
//! is (`ProfileService`), the tenants it sees and the tenant's projects, one per region, in
//! `iam.v2` and in the deprecated `iam.v1` (served unless the fake is made v2-only).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gpucloud_nebius_proto::iam::v1 as iam;
use gpucloud_nebius_proto::iam::v1::profile_service_server::ProfileService;
use gpucloud_nebius_proto::iam::v1::project_service_server::ProjectService;
use gpucloud_nebius_proto::iam::v1::tenant_service_server::TenantService;
use gpucloud_nebius_proto::iam::v1::token_exchange_service_server::TokenExchangeService;
use gpucloud_nebius_proto::iam::v2 as iam2;
use rand::RngCore as _;
use tokio::time::Instant;
use tonic::{Code, Request, Response, Status};

use super::{Api, Page, STATIC_TOKEN_USER, reply, required, service_account};
use crate::nebius::auth::{
    GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT, verify_jwt,
};
use crate::nebius::error::{ApiError, ApiResult};
use crate::nebius::state::{Inner, Meta, Region, TenantRecord};

const SERVICE: &str = "iam";

fn project(region: &Region, tenant_id: &str) -> iam::Container {
    let mut meta = Meta::new(
        region.project_id.clone(),
        tenant_id,
        &region.project_name,
        std::collections::HashMap::new(),
    );
    meta.created_at = region.created_at;
    meta.updated_at = region.created_at;
    iam::Container {
        metadata: Some(meta.to_proto()),
        spec: Some(iam::ContainerSpec {
            region: region.info.name.to_owned(),
        }),
        status: Some(iam::ContainerStatus {
            suspension_state: iam::SuspensionState::None as i32,
            container_state: iam::State::Active as i32,
            region: region.info.name.to_owned(),
        }),
    }
}

fn exchange(
    inner: &mut Inner,
    request: &iam::ExchangeTokenRequest,
) -> ApiResult<iam::CreateTokenResponse> {
    if request.grant_type != GRANT_TYPE_TOKEN_EXCHANGE {
        return Err(ApiError::bad_request(
            SERVICE,
            "grant_type",
            &format!("must be {GRANT_TYPE_TOKEN_EXCHANGE}"),
        ));
    }
    if request.subject_token_type != TOKEN_TYPE_JWT {
        return Err(ApiError::bad_request(
            SERVICE,
            "subject_token_type",
            &format!("must be {TOKEN_TYPE_JWT}"),
        ));
    }
    if !request.requested_token_type.is_empty()
        && request.requested_token_type != TOKEN_TYPE_ACCESS_TOKEN
    {
        return Err(ApiError::bad_request(
            SERVICE,
            "requested_token_type",
            &format!("must be empty or {TOKEN_TYPE_ACCESS_TOKEN}"),
        ));
    }
    required(SERVICE, "subject_token", &request.subject_token)?;
    let service_account = verify_jwt(&request.subject_token, |kid| inner.keys.get(kid))
        .map_err(|why| ApiError::new(Code::Unauthenticated, SERVICE, why))?;
    let mut secret = [0_u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("v1.{}", URL_SAFE_NO_PAD.encode(secret));
    let lifetime = inner.timing.token_lifetime;
    inner
        .tokens
        .insert(token.clone(), (Instant::now() + lifetime, service_account));
    Ok(iam::CreateTokenResponse {
        access_token: token,
        issued_token_type: TOKEN_TYPE_ACCESS_TOKEN.to_owned(),
        token_type: "Bearer".to_owned(),
        expires_in: lifetime.as_secs() as i64,
        scopes: Vec::new(),
    })
}

#[tonic::async_trait]
impl TokenExchangeService for Api {
    async fn exchange(
        &self,
        request: Request<iam::ExchangeTokenRequest>,
    ) -> Result<Response<iam::CreateTokenResponse>, Status> {
        let result = exchange(&mut self.state.lock(), request.get_ref());
        if result.is_ok() {
            self.state.note_exchange();
        }
        reply(result)
    }
}

#[tonic::async_trait]
impl ProjectService for Api {
    async fn get(
        &self,
        request: Request<iam::GetProjectRequest>,
    ) -> Result<Response<iam::Container>, Status> {
        let inner = self.state.lock();
        let id = &request.get_ref().id;
        reply(
            required(SERVICE, "id", id)
                .and_then(|id| {
                    inner
                        .project(id)
                        .ok_or_else(|| ApiError::not_found(SERVICE, id))
                })
                .map(|r| project(r, &inner.tenant_id)),
        )
    }

    async fn list(
        &self,
        request: Request<iam::ListProjectsRequest>,
    ) -> Result<Response<iam::ListProjectsResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply(
            list_projects(
                &inner,
                &request.parent_id,
                request.page_size,
                &request.page_token,
                |r| project(r, &inner.tenant_id),
            )
            .map(|(items, next_page_token)| iam::ListProjectsResponse {
                items,
                next_page_token,
            }),
        )
    }
}

/// One page of the projects of `parent` (a tenant the caller sees: only the fake's own tenant
/// has projects), sorted by id, each made by `to`.
fn list_projects<T>(
    inner: &Inner,
    parent: &str,
    page_size: i64,
    page_token: &str,
    to: impl Fn(&Region) -> T,
) -> ApiResult<(Vec<T>, String)> {
    let parent = required(SERVICE, "parent_id", parent)?;
    if !inner.tenants.iter().any(|t| t.id == parent) {
        return Err(ApiError::new(
            Code::PermissionDenied,
            SERVICE,
            format!("no access to tenant {parent}"),
        ));
    }
    let page = Page::new(SERVICE, page_size, page_token)?;
    let mut all: Vec<(&str, &Region)> = if parent == inner.tenant_id {
        inner
            .regions
            .iter()
            .map(|r| (r.project_id.as_str(), r))
            .collect()
    } else {
        Vec::new()
    };
    all.sort_by(|a, b| a.0.cmp(b.0));
    let (regions, next) = page.apply(all);
    Ok((regions.into_iter().map(to).collect(), next))
}

/// One page of the tenants the caller sees, sorted by id, each made by `to`.
fn list_tenants<T>(
    inner: &Inner,
    page_size: i64,
    page_token: &str,
    to: impl Fn(&TenantRecord) -> T,
) -> ApiResult<(Vec<T>, String)> {
    let page = Page::new(SERVICE, page_size, page_token)?;
    let mut all: Vec<(&str, &TenantRecord)> =
        inner.tenants.iter().map(|t| (t.id.as_str(), t)).collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    let (tenants, next) = page.apply(all);
    Ok((tenants.into_iter().map(to).collect(), next))
}

/// The tenant with `id` among those the caller sees.
fn tenant<'i>(inner: &'i Inner, id: &str) -> ApiResult<&'i TenantRecord> {
    let id = required(SERVICE, "id", id)?;
    inner
        .tenants
        .iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::not_found(SERVICE, id))
}

fn tenant_meta(tenant: &TenantRecord) -> gpucloud_nebius_proto::common::v1::ResourceMetadata {
    let mut meta = Meta::new(
        tenant.id.clone(),
        "",
        &tenant.name,
        std::collections::HashMap::new(),
    );
    meta.created_at = tenant.created_at;
    meta.updated_at = tenant.created_at;
    meta.to_proto()
}

/// A tenant as `iam.v1` shows it: a container without a region.
fn tenant_v1(tenant: &TenantRecord) -> iam::Container {
    iam::Container {
        metadata: Some(tenant_meta(tenant)),
        spec: Some(iam::ContainerSpec::default()),
        status: Some(iam::ContainerStatus {
            suspension_state: iam::SuspensionState::None as i32,
            container_state: iam::State::Active as i32,
            region: String::new(),
        }),
    }
}

fn tenant_v2(tenant: &TenantRecord) -> iam2::Tenant {
    iam2::Tenant {
        metadata: Some(tenant_meta(tenant)),
        spec: Some(iam2::TenantSpec {}),
        status: Some(iam2::TenantStatus {
            tenant_state: iam2::tenant_status::TenantState::Active as i32,
        }),
    }
}

fn project_v2(region: &Region, tenant_id: &str) -> iam2::Project {
    let v1 = project(region, tenant_id);
    iam2::Project {
        metadata: v1.metadata,
        spec: Some(iam2::ProjectSpec {
            region: region.info.name.to_owned(),
        }),
        status: Some(iam2::ProjectStatus {
            project_state: iam2::project_status::ProjectState::Active as i32,
        }),
    }
}

/// `iam.v1.TenantService` (deprecated, like v1's projects): the tenants the caller sees.
#[tonic::async_trait]
impl TenantService for Api {
    async fn get(
        &self,
        request: Request<iam::GetTenantRequest>,
    ) -> Result<Response<iam::Container>, Status> {
        let inner = self.state.lock();
        reply(tenant(&inner, &request.get_ref().id).map(tenant_v1))
    }

    async fn list(
        &self,
        request: Request<iam::ListTenantsRequest>,
    ) -> Result<Response<iam::ListTenantsResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply(
            list_tenants(&inner, request.page_size, &request.page_token, tenant_v1).map(
                |(items, next_page_token)| iam::ListTenantsResponse {
                    items,
                    next_page_token,
                },
            ),
        )
    }
}

#[tonic::async_trait]
impl iam2::tenant_service_server::TenantService for Api {
    async fn get(
        &self,
        request: Request<iam2::GetTenantRequest>,
    ) -> Result<Response<iam2::Tenant>, Status> {
        let inner = self.state.lock();
        reply(tenant(&inner, &request.get_ref().id).map(tenant_v2))
    }

    async fn get_by_name(
        &self,
        request: Request<iam2::GetTenantByNameRequest>,
    ) -> Result<Response<iam2::Tenant>, Status> {
        let inner = self.state.lock();
        let name = &request.get_ref().name;
        reply(required(SERVICE, "name", name).and_then(|name| {
            inner
                .tenants
                .iter()
                .find(|t| t.name == name)
                .map(tenant_v2)
                .ok_or_else(|| ApiError::not_found(SERVICE, name))
        }))
    }

    async fn list(
        &self,
        request: Request<iam2::ListTenantsRequest>,
    ) -> Result<Response<iam2::ListTenantsResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply(
            list_tenants(&inner, request.page_size, &request.page_token, tenant_v2).map(
                |(items, next_page_token)| iam2::ListTenantsResponse {
                    items,
                    next_page_token,
                },
            ),
        )
    }
}

#[tonic::async_trait]
impl iam2::project_service_server::ProjectService for Api {
    async fn get(
        &self,
        request: Request<iam2::GetProjectRequest>,
    ) -> Result<Response<iam2::Project>, Status> {
        let inner = self.state.lock();
        let id = &request.get_ref().id;
        reply(
            required(SERVICE, "id", id)
                .and_then(|id| {
                    inner
                        .project(id)
                        .ok_or_else(|| ApiError::not_found(SERVICE, id))
                })
                .map(|r| project_v2(r, &inner.tenant_id)),
        )
    }

    async fn get_by_name(
        &self,
        request: Request<iam2::GetProjectByNameRequest>,
    ) -> Result<Response<iam2::Project>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            let parent = required(SERVICE, "parent_id", &request.parent_id)?;
            let name = required(SERVICE, "name", &request.name)?;
            inner
                .regions
                .iter()
                .find(|r| parent == inner.tenant_id && r.project_name == name)
                .map(|r| project_v2(r, &inner.tenant_id))
                .ok_or_else(|| ApiError::not_found(SERVICE, name))
        })())
    }

    async fn list(
        &self,
        request: Request<iam2::ListProjectsRequest>,
    ) -> Result<Response<iam2::ListProjectsResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply(
            list_projects(
                &inner,
                &request.parent_id,
                request.page_size,
                &request.page_token,
                |r| project_v2(r, &inner.tenant_id),
            )
            .map(|(items, next_page_token)| iam2::ListProjectsResponse {
                items,
                next_page_token,
            }),
        )
    }
}

/// "Who am I": a service account's token is that account (made in the first region's
/// project, as Nebius service accounts are made in a project); the static token is a user of
/// every tenant the fake has.
#[tonic::async_trait]
impl ProfileService for Api {
    async fn get(
        &self,
        request: Request<iam::GetProfileRequest>,
    ) -> Result<Response<iam::GetProfileResponse>, Status> {
        use iam::get_profile_response::Profile;
        let inner = self.state.lock();
        let profile = if let Some(who) = service_account(&inner, request.metadata()) {
            let parent = inner
                .regions
                .first()
                .map_or_else(String::new, |r| r.project_id.clone());
            let meta = Meta::new(
                who,
                &parent,
                "fake-service-account",
                std::collections::HashMap::new(),
            );
            Profile::ServiceAccountProfile(iam::ServiceAccountProfile {
                info: Some(iam::ServiceAccount {
                    metadata: Some(meta.to_proto()),
                    spec: Some(iam::ServiceAccountSpec {
                        description: "the fake's service account".to_owned(),
                    }),
                    status: Some(iam::ServiceAccountStatus { active: true }),
                }),
            })
        } else {
            Profile::UserProfile(iam::UserProfile {
                id: STATIC_TOKEN_USER.to_owned(),
                tenants: inner
                    .tenants
                    .iter()
                    .map(|t| iam::UserTenantInfo {
                        tenant_id: t.id.clone(),
                        tenant_user_account_id: format!(
                            "tenantuseraccount-{}",
                            t.id.strip_prefix("tenant-").unwrap_or(&t.id)
                        ),
                        tenant_user_account_state: iam::tenant_user_account_status::State::Active
                            as i32,
                    })
                    .collect(),
                user_account_state: iam::user_account_status::State::Active as i32,
                ..iam::UserProfile::default()
            })
        };
        Ok(Response::new(iam::GetProfileResponse {
            profile: Some(profile),
        }))
    }
}
