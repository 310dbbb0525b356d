//! The price calculator: list prices of instance presets and disks, per hour and per month.

use gpucloud_nebius_proto::billing::v1 as billing;
use gpucloud_nebius_proto::billing::v1::calculator_service_server::CalculatorService;
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

/// The hourly price, SKU and metadata of one resource spec.
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
            let resources = request
                .spec
                .as_ref()
                .and_then(|s| s.resources.as_ref())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        SERVICE,
                        &format!("{field}.spec.resources"),
                        "is required",
                    )
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
            Ok((
                platform.hourly_price(preset),
                format!("compute.{}.{}", platform.name, preset.name),
                request.metadata,
            ))
        }
        DISK_TYPE => {
            let request =
                compute::CreateDiskRequest::decode(spec.value.as_slice()).map_err(|_| {
                    ApiError::bad_request(SERVICE, &field, "is not a CreateDiskRequest")
                })?;
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
                request.metadata,
            ))
        }
        other => Err(ApiError::bad_request(
            SERVICE,
            &field,
            &format!("{other:?} is not a resource the calculator prices"),
        )),
    }
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
