//! Quota allowances: one per quota and region, with the usage of the fake's instances.

use gpucloud_nebius_proto::common::v1 as common;
use gpucloud_nebius_proto::quotas::v1 as quotas;
use gpucloud_nebius_proto::quotas::v1::quota_allowance_service_server::QuotaAllowanceService;
use tonic::{Code, Request, Response, Status};

use super::{Api, Page, reply, required};
use crate::nebius::catalog;
use crate::nebius::error::{ApiError, ApiResult};
use crate::nebius::state::Inner;

const SERVICE: &str = "quotas";

/// A stable id for an allowance: the quota and region are its identity.
fn allowance_id(code: &str, quota: &str) -> String {
    format!("quotaallowance-{code}{}", quota.replace('.', "-"))
}

impl Inner {
    fn allowances(&self, parent_id: &str) -> ApiResult<Vec<(String, quotas::QuotaAllowance)>> {
        let regions: Vec<&str> = if parent_id == self.tenant_id {
            self.regions.iter().map(|r| r.info.name).collect()
        } else if let Some(region) = self.project(parent_id) {
            vec![region.info.name]
        } else {
            return Err(ApiError::new(
                Code::PermissionDenied,
                SERVICE,
                format!("no access to {parent_id}"),
            ));
        };
        let mut all = Vec::new();
        for ((quota, region), limit) in &self.quota_limits {
            if !regions.contains(&region.as_str()) {
                continue;
            }
            let Some(info) = catalog::region(region) else {
                continue;
            };
            let usage = self.quota_usage(quota, region);
            let unit = if quota.contains(".gpu.") {
                "gpu"
            } else {
                "vcpu"
            };
            let percentage = if *limit == 0 {
                "0".to_owned()
            } else {
                format!("{:.2}", usage as f64 * 100.0 / *limit as f64)
            };
            let id = allowance_id(info.code, quota);
            all.push((
                id.clone(),
                quotas::QuotaAllowance {
                    metadata: Some(common::ResourceMetadata {
                        id,
                        parent_id: self.tenant_id.clone(),
                        name: quota.clone(),
                        resource_version: 1,
                        ..common::ResourceMetadata::default()
                    }),
                    spec: Some(quotas::QuotaAllowanceSpec {
                        limit: Some(*limit),
                        region: region.clone(),
                    }),
                    status: Some(quotas::QuotaAllowanceStatus {
                        state: quotas::quota_allowance_status::State::Active as i32,
                        usage,
                        service: "compute".to_owned(),
                        description: format!("{quota} in {region}"),
                        service_description: "Compute".to_owned(),
                        unit: unit.to_owned(),
                        usage_percentage: percentage,
                        usage_state: if usage > 0 {
                            quotas::quota_allowance_status::UsageState::Used
                        } else {
                            quotas::quota_allowance_status::UsageState::NotUsed
                        } as i32,
                    }),
                },
            ));
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(all)
    }
}

#[tonic::async_trait]
impl QuotaAllowanceService for Api {
    async fn list(
        &self,
        request: Request<quotas::ListQuotaAllowancesRequest>,
    ) -> Result<Response<quotas::ListQuotaAllowancesResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            let parent = required(SERVICE, "parent_id", &request.parent_id)?;
            let page = Page::new(SERVICE, request.page_size, &request.page_token)?;
            let (items, next_page_token) = page.apply(inner.allowances(parent)?);
            Ok(quotas::ListQuotaAllowancesResponse {
                items,
                next_page_token,
            })
        })())
    }

    async fn get(
        &self,
        request: Request<quotas::GetQuotaAllowanceRequest>,
    ) -> Result<Response<quotas::QuotaAllowance>, Status> {
        let inner = self.state.lock();
        let id = &request.get_ref().id;
        reply((|| {
            let id = required(SERVICE, "id", id)?;
            let tenant = inner.tenant_id.clone();
            inner
                .allowances(&tenant)?
                .into_iter()
                .find(|(key, _)| key == id)
                .map(|(_, a)| a)
                .ok_or_else(|| ApiError::not_found(SERVICE, id))
        })())
    }
}
