//! The price calculator: list prices of instance presets (spot prices for preemptible ones)
//! and disks, per hour and per month, in `billing.v1` (`EstimateBatch`) and the older
//! `billing.v1alpha1` (`Estimate`, `EstimateBatch`).

use gpucloud_nebius_proto::billing::v1 as billing;
use gpucloud_nebius_proto::billing::v1::calculator_service_server::CalculatorService;
use gpucloud_nebius_proto::billing::v1alpha1 as alpha;
use gpucloud_nebius_proto::common::v1 as common;
use gpucloud_nebius_proto::compute::v1 as compute;
use prost::Message as _;
use tonic::{Request, Response, Status};

use super::Api;
use super::reply;
use crate::nebius::catalog;
use crate::nebius::error::{ApiError, ApiResult};

const SERVICE: &str = "billing";
const INSTANCE_TYPE: &str = "type.googleapis.com/nebius.compute.v1.CreateInstanceRequest";
const DISK_TYPE: &str = "type.googleapis.com/nebius.compute.v1.CreateDiskRequest";

/// Hours per time unit, as the calculator aggregates them (a month is 730 hours).
fn units(filter: Option<&billing::FilterAggregationUnit>) -> ApiResult<Vec<(&'static str, f64)>> {
    use billing::filter_aggregation_unit::FilterAggregationUnitValue as Unit;
    let values = filter
        .map(|f| f.filter_aggregation_unit_values.as_slice())
        .unwrap_or_default();
    if values.is_empty() {
        return Ok(vec![("hour", 1.0), ("month", 730.0)]);
    }
    values
        .iter()
        .map(|v| match Unit::try_from(*v) {
            Ok(Unit::FilterAggregationUnitMinute) => Ok(("minute", 1.0 / 60.0)),
            Ok(Unit::FilterAggregationUnitHour) => Ok(("hour", 1.0)),
            Ok(Unit::FilterAggregationUnitDay) => Ok(("day", 24.0)),
            Ok(Unit::FilterAggregationUnitWeek) => Ok(("week", 168.0)),
            Ok(Unit::FilterAggregationUnitMonth) => Ok(("month", 730.0)),
            _ => Err(ApiError::bad_request(
                SERVICE,
                "filter_aggregation_unit.filter_aggregation_unit_values",
                &format!("{v} is not a time unit"),
            )),
        })
        .collect()
}

/// The hourly price and SKU of an instance create: the list price of its preset, or the spot
/// price when `spec.preemptible` is set (refused on a platform that allows no preemptibles).
fn instance_price(
    field: &str,
    request: &compute::CreateInstanceRequest,
) -> ApiResult<(f64, String)> {
    let spec = request.spec.as_ref();
    let resources = spec.and_then(|s| s.resources.as_ref()).ok_or_else(|| {
        ApiError::bad_request(SERVICE, &format!("{field}.spec.resources"), "is required")
    })?;
    let platform = catalog::platform(&resources.platform).ok_or_else(|| {
        ApiError::bad_request(
            SERVICE,
            &format!("{field}.spec.resources.platform"),
            &format!("{:?} is not a platform", resources.platform),
        )
    })?;
    let preset = match &resources.size {
        Some(compute::resources_spec::Size::Preset(p)) => platform.preset(p),
        None => None,
    }
    .ok_or_else(|| {
        ApiError::bad_request(
            SERVICE,
            &format!("{field}.spec.resources.preset"),
            &format!("is not a preset of {}", platform.name),
        )
    })?;
    let sku = format!("compute.{}.{}", platform.name, preset.name);
    if spec.is_some_and(|s| s.preemptible.is_some()) {
        let spot = platform.spot_hourly_price(preset).ok_or_else(|| {
            ApiError::bad_request(
                SERVICE,
                &format!("{field}.spec.preemptible"),
                &format!(
                    "platform {} does not allow preemptible instances",
                    platform.name
                ),
            )
        })?;
        Ok((spot, format!("{sku}.preemptible")))
    } else {
        Ok((platform.hourly_price(preset), sku))
    }
}

/// The hourly price and SKU of a disk create.
fn disk_price(field: &str, request: &compute::CreateDiskRequest) -> ApiResult<(f64, String)> {
    let gib = match request.spec.as_ref().and_then(|s| s.size) {
        Some(compute::disk_spec::Size::SizeGibibytes(n)) => n as f64,
        Some(compute::disk_spec::Size::SizeMebibytes(n)) => n as f64 / 1024.0,
        Some(compute::disk_spec::Size::SizeKibibytes(n)) => n as f64 / 1024.0 / 1024.0,
        Some(compute::disk_spec::Size::SizeBytes(n)) => n as f64 / f64::from(1_u32 << 30),
        None => {
            return Err(ApiError::bad_request(
                SERVICE,
                &format!("{field}.spec.size"),
                "is required",
            ));
        }
    };
    Ok((
        gib * catalog::DISK_PRICE_PER_GIB_HOUR,
        "compute.disk.network-ssd".to_owned(),
    ))
}

/// The hourly price, SKU and metadata of one `v1` resource spec (an `Any`).
fn priced(
    index: usize,
    spec: Option<&prost_types::Any>,
) -> ApiResult<(f64, String, Option<common::ResourceMetadata>)> {
    let field = format!("resource_specs[{index}].spec");
    let spec = spec.ok_or_else(|| ApiError::bad_request(SERVICE, &field, "is required"))?;
    match spec.type_url.as_str() {
        INSTANCE_TYPE => {
            let request =
                compute::CreateInstanceRequest::decode(spec.value.as_slice()).map_err(|_| {
                    ApiError::bad_request(SERVICE, &field, "is not a CreateInstanceRequest")
                })?;
            let (hourly, sku) = instance_price(&field, &request)?;
            Ok((hourly, sku, request.metadata))
        }
        DISK_TYPE => {
            let request =
                compute::CreateDiskRequest::decode(spec.value.as_slice()).map_err(|_| {
                    ApiError::bad_request(SERVICE, &field, "is not a CreateDiskRequest")
                })?;
            let (hourly, sku) = disk_price(&field, &request)?;
            Ok((hourly, sku, request.metadata))
        }
        other => Err(ApiError::bad_request(
            SERVICE,
            &field,
            &format!("{other:?} is not a resource the calculator prices"),
        )),
    }
}

/// The hourly price of one `v1alpha1` resource spec (a oneof of typed requests); updates
/// and filesystems are not priced by the fake.
fn priced_v1alpha1(field: &str, spec: Option<&alpha::ResourceSpec>) -> ApiResult<f64> {
    use alpha::resource_spec::ResourceSpec as Spec;
    let spec = spec
        .and_then(|s| s.resource_spec.as_ref())
        .ok_or_else(|| ApiError::bad_request(SERVICE, field, "is required"))?;
    match spec {
        Spec::ComputeInstanceSpec(request) => {
            instance_price(&format!("{field}.compute_instance_spec"), request).map(|p| p.0)
        }
        Spec::ComputeDiskSpec(request) => {
            disk_price(&format!("{field}.compute_disk_spec"), request).map(|p| p.0)
        }
        _ => Err(ApiError::bad_request(
            SERVICE,
            field,
            "only compute_instance_spec and compute_disk_spec are priced by this fake",
        )),
    }
}

/// `v1alpha1`'s cost of a group: one total, rounded up to cents.
fn group_cost(cost: f64) -> alpha::ResourceGroupCost {
    alpha::ResourceGroupCost {
        cost_type: Some(alpha::resource_group_cost::CostType::General(
            alpha::GeneralTotalCost {
                total: Some(alpha::CostBreakdown {
                    cost: format!("{cost:.9}"),
                    cost_rounded: format!("{:.2}", (cost * 100.0).ceil() / 100.0),
                }),
            },
        )),
    }
}

/// `v1alpha1` estimates: hourly, and monthly as 720 hours (its documented month).
fn estimate_v1alpha1(hourly: f64) -> (alpha::ResourceGroupCost, alpha::ResourceGroupCost) {
    (group_cost(hourly), group_cost(hourly * 720.0))
}

fn breakdown(sku: &str, cost: f64, quantity: f64) -> billing::CostBreakdown {
    billing::CostBreakdown {
        sku_costs: vec![billing::SkuCost {
            sku_id: sku.to_owned(),
            quantity: format!("{quantity:.6}"),
            quantity_rounded: format!("{quantity:.2}"),
            cost: format!("{cost:.9}"),
            cost_rounded: format!("{:.2}", (cost * 100.0).ceil() / 100.0),
        }],
        cost: format!("{cost:.9}"),
        cost_rounded: format!("{:.2}", (cost * 100.0).ceil() / 100.0),
    }
}

fn estimate(request: &billing::EstimateBatchRequest) -> ApiResult<billing::EstimateBatchResponse> {
    if request.resource_specs.is_empty() {
        return Err(ApiError::bad_request(
            SERVICE,
            "resource_specs",
            "is required",
        ));
    }
    let currency = if request.currency.is_empty() {
        "usd"
    } else {
        request.currency.as_str()
    };
    if !currency.eq_ignore_ascii_case("usd") {
        return Err(ApiError::bad_request(
            SERVICE,
            "currency",
            "only usd is priced",
        ));
    }
    let units = units(request.filter_aggregation_unit.as_ref())?;
    let mut resource_costs = Vec::new();
    let mut totals = vec![0.0; units.len()];
    for (index, spec) in request.resource_specs.iter().enumerate() {
        let (hourly, sku, metadata) = priced(index, spec.spec.as_ref())?;
        for (n, (unit, hours)) in units.iter().enumerate() {
            let cost = hourly * hours;
            totals[n] += cost;
            resource_costs.push(billing::ResourceCost {
                metadata: metadata.clone(),
                override_metadata: None,
                aggregation_unit: Some(billing::AggregationUnit {
                    unit: (*unit).to_owned(),
                    unit_type: billing::aggregation_unit::UnitType::TimeBased as i32,
                }),
                cost_type: Some(billing::resource_cost::CostType::General(
                    billing::GeneralResourceCost {
                        total: Some(breakdown(&sku, cost, *hours)),
                    },
                )),
            });
        }
    }
    let total_costs = units
        .iter()
        .zip(totals)
        .map(|((unit, hours), cost)| billing::TotalCost {
            aggregation_unit: Some(billing::AggregationUnit {
                unit: (*unit).to_owned(),
                unit_type: billing::aggregation_unit::UnitType::TimeBased as i32,
            }),
            cost_type: Some(billing::total_cost::CostType::General(
                billing::GeneralResourceCost {
                    total: Some(breakdown("total", cost, *hours)),
                },
            )),
        })
        .collect();
    Ok(billing::EstimateBatchResponse {
        resource_costs,
        total_costs,
        currency: currency.to_lowercase(),
    })
}

#[tonic::async_trait]
impl CalculatorService for Api {
    async fn estimate_batch(
        &self,
        request: Request<billing::EstimateBatchRequest>,
    ) -> Result<Response<billing::EstimateBatchResponse>, Status> {
        reply(estimate(request.get_ref()))
    }
}

#[tonic::async_trait]
impl alpha::calculator_service_server::CalculatorService for Api {
    async fn estimate(
        &self,
        request: Request<alpha::EstimateRequest>,
    ) -> Result<Response<alpha::EstimateResponse>, Status> {
        reply(
            priced_v1alpha1("resource_spec", request.get_ref().resource_spec.as_ref()).map(
                |hourly| {
                    let (hourly_cost, monthly_cost) = estimate_v1alpha1(hourly);
                    alpha::EstimateResponse {
                        hourly_cost: Some(hourly_cost),
                        monthly_cost: Some(monthly_cost),
                    }
                },
            ),
        )
    }

    async fn estimate_batch(
        &self,
        request: Request<alpha::EstimateBatchRequest>,
    ) -> Result<Response<alpha::EstimateBatchResponse>, Status> {
        let specs = &request.get_ref().resource_specs;
        reply((|| {
            if specs.is_empty() {
                return Err(ApiError::bad_request(
                    SERVICE,
                    "resource_specs",
                    "is required",
                ));
            }
            let mut hourly = 0.0;
            for (index, spec) in specs.iter().enumerate() {
                hourly += priced_v1alpha1(&format!("resource_specs[{index}]"), Some(spec))?;
            }
            let (hourly_cost, monthly_cost) = estimate_v1alpha1(hourly);
            Ok(alpha::EstimateBatchResponse {
                hourly_cost: Some(hourly_cost),
                monthly_cost: Some(monthly_cost),
            })
        })())
    }
}
