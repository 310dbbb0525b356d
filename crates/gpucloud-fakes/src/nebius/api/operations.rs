//! The operation service: every mutation's operation, done once its delay has passed.

use gpucloud_nebius_proto::common::v1 as common;
use gpucloud_nebius_proto::common::v1::operation_service_server::OperationService;
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use super::{Api, Page, reply, required};
use crate::nebius::error::ApiError;

const SERVICE: &str = "operations";

#[tonic::async_trait]
impl OperationService for Api {
    async fn get(
        &self,
        request: Request<common::GetOperationRequest>,
    ) -> Result<Response<common::Operation>, Status> {
        let inner = self.state.lock();
        let id = &request.get_ref().id;
        reply(required(SERVICE, "id", id).and_then(|id| {
            inner
                .operations
                .get(id)
                .map(|o| o.to_proto(Instant::now()))
                .ok_or_else(|| ApiError::not_found(SERVICE, id))
        }))
    }

    async fn list(
        &self,
        request: Request<common::ListOperationsRequest>,
    ) -> Result<Response<common::ListOperationsResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            let resource = required(SERVICE, "resource_id", &request.resource_id)?;
            let page = Page::new(SERVICE, request.page_size, &request.page_token)?;
            let now = Instant::now();
            // Newest first, as Nebius lists them.
            let mut all: Vec<_> = inner
                .operations
                .values()
                .filter(|o| o.resource_id == resource)
                .collect();
            all.sort_by_key(|o| std::cmp::Reverse(o.seq));
            let (operations, next_page_token) = page.apply(
                all.into_iter()
                    .map(|o| (format!("{:020}", u64::MAX - o.seq), o.to_proto(now))),
            );
            Ok(common::ListOperationsResponse {
                operations,
                next_page_token,
            })
        })())
    }
}
