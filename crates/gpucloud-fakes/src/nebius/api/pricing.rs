//! Pricing policies (`billing.v1.PricingPolicyService`, from the descriptors of Nebius's
//! Python SDK 0.6.29): a maximum spot price per GPU platform. A policy whose maximum is at or
//! above the platform's current spot price lets preemptible instances of it be scheduled
//! (`SCHEDULING_STATE_ALLOWED`), one below it blocks them; its status counts the preemptible
//! instances of the platform running under its parent (the tenant, or one project).

use std::time::Duration;

use gpucloud_nebius_proto::billing::v1 as billing;
use gpucloud_nebius_proto::billing::v1::pricing_policy_service_server::PricingPolicyService;
use gpucloud_nebius_proto::common::v1 as common;
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use super::{Api, Page, present, reply, required};
use crate::nebius::catalog::{self, PlatformInfo};
use crate::nebius::error::{ApiError, ApiResult};
use crate::nebius::state::{Inner, InstanceState, Meta, PricingPolicyRecord, new_id};

const SERVICE: &str = "billing";
const OPERATION_KIND: &str = "billingoperation";
const PLATFORM_FIELD: &str = "spec.compute_instance_spec.v1.platform";
const MAX_PRICE_FIELD: &str = "spec.pricing.max_price_v1.max_price";

/// The platform a policy's spec names, which must allow preemptible instances.
fn platform(spec: &billing::PricingPolicySpec) -> ApiResult<&'static PlatformInfo> {
    use billing::compute_instance_spec::Versions;
    let name = match spec
        .compute_instance_spec
        .as_ref()
        .and_then(|s| s.versions.as_ref())
    {
        Some(Versions::V1(v1)) => v1.platform.as_str(),
        None => "",
    };
    let name = required(SERVICE, PLATFORM_FIELD, name)?;
    let platform = catalog::platform(name).ok_or_else(|| {
        ApiError::bad_request(
            SERVICE,
            PLATFORM_FIELD,
            &format!("{name:?} is not a platform"),
        )
    })?;
    if !platform.allows_preemptibles() {
        return Err(ApiError::bad_request(
            SERVICE,
            PLATFORM_FIELD,
            &format!("platform {name} does not allow preemptible instances"),
        ));
    }
    Ok(platform)
}

/// The maximum price per GPU-hour a policy's spec sets: a positive decimal, kept as written
/// and as a number to compare.
fn max_price(spec: &billing::PricingPolicySpec) -> ApiResult<(String, f64)> {
    use billing::pricing_method::Versions;
    let text = match spec.pricing.as_ref().and_then(|p| p.versions.as_ref()) {
        Some(Versions::MaxPriceV1(max)) => max.max_price.as_str(),
        None => "",
    };
    let text = required(SERVICE, MAX_PRICE_FIELD, text)?;
    let decimal = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_digit() || c == '.')
        && text.matches('.').count() <= 1;
    text.parse::<f64>()
        .ok()
        .filter(|value| decimal && value.is_finite() && *value > 0.0)
        .map(|value| (text.to_owned(), value))
        .ok_or_else(|| {
            ApiError::bad_request(SERVICE, MAX_PRICE_FIELD, "must be a positive decimal")
        })
}

impl Inner {
    /// Whether `parent` is the tenant or one of its projects.
    fn billing_parent(&self, parent: &str) -> ApiResult<()> {
        let parent = required(SERVICE, "metadata.parent_id", parent)?;
        if parent == self.tenant_id || self.project(parent).is_some() {
            Ok(())
        } else {
            Err(ApiError::not_found(SERVICE, parent))
        }
    }

    fn pricing_policy_proto(&self, record: &PricingPolicyRecord) -> billing::PricingPolicy {
        use billing::pricing_policy_status::{SchedulingState, State};
        let platform = catalog::platform(&record.platform);
        let spot = platform
            .and_then(|p| p.spot_price_per_unit_hour)
            .unwrap_or_default();
        let now = Instant::now();
        let parent = record.meta.parent_id.as_str();
        let running = self
            .instances
            .values()
            .filter(|i| i.platform.name == record.platform && i.spec.preemptible.is_some())
            .filter(|i| parent == self.tenant_id || i.meta.parent_id == parent)
            .filter(|i| i.timeline.at(now) == Some(InstanceState::Running))
            .count();
        billing::PricingPolicy {
            metadata: Some(record.meta.to_proto()),
            spec: Some(billing::PricingPolicySpec {
                compute_instance_spec: Some(billing::ComputeInstanceSpec {
                    versions: Some(billing::compute_instance_spec::Versions::V1(
                        billing::ComputeInstanceSpecV1 {
                            platform: record.platform.clone(),
                        },
                    )),
                }),
                pricing: Some(billing::PricingMethod {
                    versions: Some(billing::pricing_method::Versions::MaxPriceV1(
                        billing::MaxPriceV1 {
                            max_price: record.max_price.clone(),
                        },
                    )),
                }),
            }),
            status: Some(billing::PricingPolicyStatus {
                state: State::Active as i32,
                sku_id: format!("compute.{}.preemptible", record.platform),
                scheduling_state: if record.max_price_value >= spot {
                    SchedulingState::Allowed
                } else {
                    SchedulingState::Blocked
                } as i32,
                running_vm_count: i64::try_from(running).unwrap_or(i64::MAX),
                currency: "usd".to_owned(),
            }),
        }
    }

    fn create_pricing_policy(
        &mut self,
        request: &billing::CreatePricingPolicyRequest,
        caller: &str,
    ) -> ApiResult<common::Operation> {
        let metadata = present(SERVICE, "metadata", request.metadata.as_ref())?;
        self.billing_parent(&metadata.parent_id)?;
        required(SERVICE, "metadata.name", &metadata.name)?;
        let spec = present(SERVICE, "spec", request.spec.as_ref())?;
        let platform = platform(spec)?;
        let max_price = max_price(spec)?;
        if let Some(existing) = self
            .pricing_policies
            .values()
            .find(|p| p.meta.parent_id == metadata.parent_id && p.meta.name == metadata.name)
        {
            return Err(ApiError::already_exists(
                SERVICE,
                &existing.meta.id,
                &metadata.name,
            ));
        }
        let code = self.regions.first().map_or("e00", |r| r.info.code);
        let id = new_id("billingpricingpolicy", code);
        self.pricing_policies.insert(
            id.clone(),
            PricingPolicyRecord {
                meta: Meta::new(
                    id.clone(),
                    &metadata.parent_id,
                    &metadata.name,
                    metadata.labels.clone(),
                ),
                platform: platform.name.to_owned(),
                max_price: max_price.0,
                max_price_value: max_price.1,
            },
        );
        Ok(self.operation(
            OPERATION_KIND,
            format!("create pricing policy {}", metadata.name),
            &id,
            &metadata.parent_id,
            Duration::ZERO,
            None,
            caller,
        ))
    }

    fn update_pricing_policy(
        &mut self,
        request: &billing::UpdatePricingPolicyRequest,
        caller: &str,
    ) -> ApiResult<common::Operation> {
        let metadata = present(SERVICE, "metadata", request.metadata.as_ref())?;
        let id = required(SERVICE, "metadata.id", &metadata.id)?;
        let spec = present(SERVICE, "spec", request.spec.as_ref())?;
        let platform = platform(spec)?;
        let max_price = max_price(spec)?;
        let record = self
            .pricing_policies
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found(SERVICE, id))?;
        if record.platform != platform.name {
            return Err(ApiError::bad_request(
                SERVICE,
                "spec.compute_instance_spec.v1.platform",
                "cannot be changed",
            ));
        }
        (record.max_price, record.max_price_value) = max_price;
        record.meta.relabel(metadata.labels.clone());
        let parent = record.meta.parent_id.clone();
        Ok(self.operation(
            OPERATION_KIND,
            format!("update pricing policy {id}"),
            id,
            &parent,
            Duration::ZERO,
            None,
            caller,
        ))
    }

    fn delete_pricing_policy(&mut self, id: &str, caller: &str) -> ApiResult<common::Operation> {
        required(SERVICE, "id", id)?;
        let record = self
            .pricing_policies
            .remove(id)
            .ok_or_else(|| ApiError::not_found(SERVICE, id))?;
        Ok(self.operation(
            OPERATION_KIND,
            format!("delete pricing policy {id}"),
            id,
            &record.meta.parent_id,
            Duration::ZERO,
            None,
            caller,
        ))
    }
}

#[tonic::async_trait]
impl PricingPolicyService for Api {
    async fn create(
        &self,
        request: Request<billing::CreatePricingPolicyRequest>,
    ) -> Result<Response<common::Operation>, Status> {
        self.mutate(
            request.metadata(),
            "PricingPolicyService/Create",
            |inner, caller| inner.create_pricing_policy(request.get_ref(), caller),
        )
    }

    async fn get(
        &self,
        request: Request<billing::GetPricingPolicyRequest>,
    ) -> Result<Response<billing::PricingPolicy>, Status> {
        let inner = self.state.lock();
        let id = &request.get_ref().id;
        reply(required(SERVICE, "id", id).and_then(|id| {
            inner
                .pricing_policies
                .get(id)
                .map(|p| inner.pricing_policy_proto(p))
                .ok_or_else(|| ApiError::not_found(SERVICE, id))
        }))
    }

    async fn get_by_name(
        &self,
        request: Request<common::GetByNameRequest>,
    ) -> Result<Response<billing::PricingPolicy>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            let parent = required(SERVICE, "parent_id", &request.parent_id)?;
            let name = required(SERVICE, "name", &request.name)?;
            inner
                .pricing_policies
                .values()
                .find(|p| p.meta.parent_id == parent && p.meta.name == name)
                .map(|p| inner.pricing_policy_proto(p))
                .ok_or_else(|| ApiError::not_found(SERVICE, name))
        })())
    }

    async fn list(
        &self,
        request: Request<billing::ListPricingPoliciesRequest>,
    ) -> Result<Response<billing::ListPricingPoliciesResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            let parent = required(SERVICE, "parent_id", &request.parent_id)?;
            inner.billing_parent(parent)?;
            let page = Page::new(SERVICE, request.page_size, &request.page_token)?;
            let (records, next_page_token) = page.apply(
                inner
                    .pricing_policies
                    .values()
                    .filter(|p| p.meta.parent_id == parent)
                    .map(|p| (p.meta.id.as_str(), p)),
            );
            Ok(billing::ListPricingPoliciesResponse {
                items: records
                    .into_iter()
                    .map(|p| inner.pricing_policy_proto(p))
                    .collect(),
                next_page_token,
            })
        })())
    }

    async fn update(
        &self,
        request: Request<billing::UpdatePricingPolicyRequest>,
    ) -> Result<Response<common::Operation>, Status> {
        self.mutate(
            request.metadata(),
            "PricingPolicyService/Update",
            |inner, caller| inner.update_pricing_policy(request.get_ref(), caller),
        )
    }

    async fn delete(
        &self,
        request: Request<billing::DeletePricingPolicyRequest>,
    ) -> Result<Response<common::Operation>, Status> {
        self.mutate(
            request.metadata(),
            "PricingPolicyService/Delete",
            |inner, caller| inner.delete_pricing_policy(&request.get_ref().id, caller),
        )
    }
}
