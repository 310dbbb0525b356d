//! IAM: the token exchange (self-signed service-account JWT → access token) and the
//! tenant's projects, one per region.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gpucloud_nebius_proto::iam::v1 as iam;
use gpucloud_nebius_proto::iam::v1::project_service_server::ProjectService;
use gpucloud_nebius_proto::iam::v1::token_exchange_service_server::TokenExchangeService;
use rand::RngCore as _;
use tokio::time::Instant;
use tonic::{Code, Request, Response, Status};

use super::{Api, Page, reply, required};
use crate::nebius::auth::{
    GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT, verify_jwt,
};
use crate::nebius::error::{ApiError, ApiResult};
use crate::nebius::state::{Inner, Meta, Region};

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
        reply((|| {
            let parent = required(SERVICE, "parent_id", &request.parent_id)?;
            if parent != inner.tenant_id {
                return Err(ApiError::new(
                    Code::PermissionDenied,
                    SERVICE,
                    format!("no access to tenant {parent}"),
                ));
            }
            let page = Page::new(SERVICE, request.page_size, &request.page_token)?;
            let mut all: Vec<(String, iam::Container)> = inner
                .regions
                .iter()
                .map(|r| (r.project_id.clone(), project(r, &inner.tenant_id)))
                .collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            let (items, next_page_token) = page.apply(all);
            Ok(iam::ListProjectsResponse {
                items,
                next_page_token,
            })
        })())
    }
}
