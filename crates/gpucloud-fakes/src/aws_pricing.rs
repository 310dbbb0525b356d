//! What moto (the AWS emulator the AWS provider is tested against) does not serve: the Price
//! List Query API's `GetProducts` and Service Quotas' `GetServiceQuota` for the EC2 vCPU
//! quotas of the GPU families. A small stateless stub on the shared kit (faults, request log),
//! answering in the services' JSON 1.1 protocol (`POST /` with `X-Amz-Target`), pointed at
//! by `AWS_ENDPOINT_URL_PRICING` and `AWS_ENDPOINT_URL_SERVICE_QUOTAS`.
//!
//! # The price table
//!
//! [`ON_DEMAND_USD_PER_HOUR`]: public on-demand Linux prices of a few GPU types as AWS listed
//! them for us-east-1 (shared tenancy, no pre-installed software), served for every region in
//! [`REGIONS`]. They exercise the shapes and the path, not today's prices: every other type is
//! absent, so its price stays unknown, as one AWS does not list would.
//!
//! # The quota table
//!
//! [`QUOTAS`]: the four Service Quotas codes of the GPU families' vCPU limits with made-up
//! values (not AWS's defaults, which vary by account), which a test can change while the stub
//! runs ([`FakeAwsPricing::set_quota`]); any other code is answered `NoSuchResourceException`,
//! as Service Quotas does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::response::{IntoResponse as _, Response};
use axum::routing::post;
use http::{HeaderMap, Method, StatusCode, header};
use serde_json::{Value, json};

use crate::kit::{Exports, FakeServer, Faults, OperationClass, RequestLog, RestApi};
use crate::registry::{Announce, Announcement, ServeOptions, ServedFake, Serving, Shutdown};

/// The regions the stub prices.
pub const REGIONS: &[&str] = &["us-east-1", "us-west-2"];

/// Public on-demand Linux prices in US dollars per hour (us-east-1), by instance type.
pub const ON_DEMAND_USD_PER_HOUR: &[(&str, &str)] = &[
    ("p5.48xlarge", "98.3200000000"),
    ("p4d.24xlarge", "32.7726000000"),
    ("p3.2xlarge", "3.0600000000"),
    ("g5.xlarge", "1.0060000000"),
    ("g5.12xlarge", "5.6720000000"),
    ("g6.xlarge", "0.8048000000"),
    ("g4dn.xlarge", "0.5260000000"),
];

/// The EC2 vCPU quotas served at start: code, name, value.
pub const QUOTAS: &[(&str, &str, f64)] = &[
    ("L-417A185B", "Running On-Demand P instances", 384.0),
    ("L-DB2E81BA", "Running On-Demand G and VT instances", 256.0),
    ("L-7212CCBC", "All P Spot Instance Requests", 192.0),
    ("L-3819A6DF", "All G and VT Spot Instance Requests", 128.0),
];

/// Products per `GetProducts` page unless the request asks for fewer.
const PAGE: usize = 100;

/// The stub's one operation class: every call is `POST /`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Any request.
    Any,
}

impl OperationClass for Operation {
    const ANY: Self = Operation::Any;
}

/// Options of the stub.
#[derive(Debug, Clone)]
pub struct FakeAwsPricingOptions {
    /// Address to listen on; port 0 picks a free one.
    pub addr: SocketAddr,
    /// Extra latency added to every response.
    pub latency: Duration,
}

impl Default for FakeAwsPricingOptions {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            latency: Duration::ZERO,
        }
    }
}

struct Api {
    faults: Faults<Operation>,
    requests: RequestLog,
    latency: Duration,
    /// The value of each quota of [`QUOTAS`], in its order.
    quota_values: Mutex<Vec<f64>>,
}

impl Api {
    /// The value of quota `code` now; `None` for a code not served.
    fn quota_value(&self, code: &str) -> Option<f64> {
        let index = QUOTAS.iter().position(|(c, _, _)| *c == code)?;
        let values = self
            .quota_values
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        values.get(index).copied()
    }
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        json!({ "__type": kind, "message": message }).to_string(),
    )
        .into_response()
}

impl RestApi for Api {
    type Op = Operation;

    fn classify(&self, _method: &Method, _path: &str) -> Option<Operation> {
        Some(Operation::Any)
    }

    fn faults(&self) -> &Faults<Operation> {
        &self.faults
    }

    fn requests(&self) -> &RequestLog {
        &self.requests
    }

    fn base_latency(&self) -> Duration {
        self.latency
    }

    fn refuse(&self, _op: Option<Operation>, _headers: &HeaderMap) -> Option<Response> {
        // Like moto, any signed request is accepted.
        None
    }

    fn rate_limited(&self, _retry_after_secs: u64) -> Response {
        error(
            StatusCode::BAD_REQUEST,
            "ThrottlingException",
            "Rate exceeded",
        )
    }

    fn server_error(&self, status: StatusCode) -> Response {
        error(status, "InternalErrorException", "internal error")
    }
}

/// One Price List product, as `GetProducts` answers it (a JSON document in a string).
fn product(region: &str, instance_type: &str, usd: &str) -> String {
    let sku = format!("SKU{}", instance_type.replace('.', "").to_ascii_uppercase());
    json!({
        "product": {
            "productFamily": "Compute Instance",
            "attributes": {
                "instanceType": instance_type,
                "regionCode": region,
                "operatingSystem": "Linux",
                "tenancy": "Shared",
                "capacitystatus": "Used",
                "preInstalledSw": "NA",
                "licenseModel": "No License required",
                "servicecode": "AmazonEC2",
            },
            "sku": sku,
        },
        "serviceCode": "AmazonEC2",
        "terms": {
            "OnDemand": {
                format!("{sku}.JRTCKXETXF"): {
                    "priceDimensions": {
                        format!("{sku}.JRTCKXETXF.6YS6EN2CT7"): {
                            "unit": "Hrs",
                            "pricePerUnit": { "USD": usd },
                            "description": format!("${usd} per On Demand Linux {instance_type} Instance Hour"),
                        }
                    },
                    "sku": sku,
                    "offerTermCode": "JRTCKXETXF",
                }
            }
        },
        "version": "20240101000000",
    })
    .to_string()
}

/// Whether every `TERM_MATCH` filter of the request holds for a product's attributes.
fn matches(filters: &[Value], attributes: &[(&str, &str)]) -> bool {
    filters.iter().all(|f| {
        let field = f.get("Field").and_then(Value::as_str).unwrap_or_default();
        let value = f.get("Value").and_then(Value::as_str).unwrap_or_default();
        match attributes
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(field))
        {
            Some((_, v)) => v.eq_ignore_ascii_case(value),
            // An attribute the stub does not model (e.g. productFamily) is taken as matching.
            None => true,
        }
    })
}

fn get_products(request: &Value) -> Response {
    if request.get("ServiceCode").and_then(Value::as_str) != Some("AmazonEC2") {
        return error(
            StatusCode::BAD_REQUEST,
            "NotFoundException",
            "the stub prices AmazonEC2 only",
        );
    }
    let filters = request
        .get("Filters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut all = Vec::new();
    for region in REGIONS {
        for (instance_type, usd) in ON_DEMAND_USD_PER_HOUR {
            let attributes = [
                ("instanceType", *instance_type),
                ("regionCode", *region),
                ("operatingSystem", "Linux"),
                ("tenancy", "Shared"),
                ("capacitystatus", "Used"),
                ("preInstalledSw", "NA"),
            ];
            if matches(&filters, &attributes) {
                all.push(product(region, instance_type, usd));
            }
        }
    }
    let start: usize = request
        .get("NextToken")
        .and_then(Value::as_str)
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let size = request
        .get("MaxResults")
        .and_then(Value::as_u64)
        .map_or(PAGE, |n| (n as usize).clamp(1, PAGE));
    let end = (start + size).min(all.len());
    let page: Vec<&String> = all.get(start..end).unwrap_or_default().iter().collect();
    let mut body = json!({ "FormatVersion": "aws_v1", "PriceList": page });
    if end < all.len() {
        body["NextToken"] = json!(end.to_string());
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

fn get_service_quota(api: &Api, request: &Value) -> Response {
    let service = request
        .get("ServiceCode")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let code = request
        .get("QuotaCode")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let served = QUOTAS
        .iter()
        .find(|(c, _, _)| service == "ec2" && *c == code)
        .and_then(|(code, name, _)| Some((code, name, api.quota_value(code)?)));
    match served {
        Some((code, name, value)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
            json!({ "Quota": {
                "ServiceCode": "ec2",
                "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
                "QuotaCode": code,
                "QuotaName": name,
                "Value": value,
                "Unit": "None",
                "Adjustable": true,
                "GlobalQuota": false,
            }})
            .to_string(),
        )
            .into_response(),
        None => error(
            StatusCode::BAD_REQUEST,
            "NoSuchResourceException",
            "The request failed because the specified quota does not exist.",
        ),
    }
}

fn dispatch(api: &Api, headers: &HeaderMap, body: &Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            "the body is not JSON",
        );
    };
    match target.rsplit('.').next().unwrap_or_default() {
        "GetProducts" if target.starts_with("AWSPriceListService.") => get_products(&request),
        "GetServiceQuota" if target.starts_with("ServiceQuotasV20190624.") => {
            get_service_quota(api, &request)
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            "the stub serves GetProducts and GetServiceQuota only",
        ),
    }
}

/// A running stub. Dropping it stops the server.
pub struct FakeAwsPricing {
    server: FakeServer,
    api: Arc<Api>,
}

impl std::fmt::Debug for FakeAwsPricing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAwsPricing")
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

impl FakeAwsPricing {
    /// Starts the stub.
    pub async fn start(options: FakeAwsPricingOptions) -> std::io::Result<Self> {
        let api = Arc::new(Api {
            faults: Faults::new(),
            requests: RequestLog::default(),
            latency: options.latency,
            quota_values: Mutex::new(QUOTAS.iter().map(|(_, _, value)| *value).collect()),
        });
        let state = Arc::clone(&api);
        let router = Router::new().route(
            "/",
            post(move |headers: HeaderMap, body: Bytes| {
                std::future::ready(dispatch(&state, &headers, &body))
            }),
        );
        let server = FakeServer::serve_rest(options.addr, Arc::clone(&api), router).await?;
        Ok(Self { server, api })
    }

    /// The endpoint, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The stub's fault switches.
    pub fn faults(&self) -> &Faults<Operation> {
        &self.api.faults
    }

    /// The requests it received.
    pub fn requests(&self) -> &RequestLog {
        &self.api.requests
    }

    /// Sets the value `GetServiceQuota` answers for `code`, one of [`QUOTAS`], from the next
    /// request on; false (nothing changes) for a code the stub does not serve.
    #[must_use]
    pub fn set_quota(&self, code: &str, value: f64) -> bool {
        let Some(index) = QUOTAS.iter().position(|(c, _, _)| *c == code) else {
            return false;
        };
        let mut values = self
            .api
            .quota_values
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match values.get_mut(index) {
            Some(slot) => {
                *slot = value;
                true
            }
            None => false,
        }
    }

    /// What to export to point the AWS provider at it.
    pub fn exports(&self) -> Exports {
        Exports::new()
            .with("AWS_ENDPOINT_URL_PRICING", self.base_url())
            .with("AWS_ENDPOINT_URL_SERVICE_QUOTAS", self.base_url())
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// How `gpucloud fake aws-pricing` serves this stub.
pub static SERVED: ServedFake = ServedFake {
    name: "aws-pricing",
    display_name: "AWS Price List and Service Quotas stub",
    about: "Serve what moto lacks for the AWS provider: the Price List API's GetProducts (a \
            few public on-demand GPU prices) and Service Quotas' GetServiceQuota (the GPU \
            families' vCPU quotas). The first stdout line is the endpoint for \
            AWS_ENDPOINT_URL_PRICING and AWS_ENDPOINT_URL_SERVICE_QUOTAS.",
    latency_help: "Extra latency added to every response, in milliseconds.",
    boot_help: "Not used: the stub has no instances.",
    extra_flags: &[],
    serve: serve_for_cli,
};

fn serve_for_cli<'a>(
    served: &ServeOptions,
    announce: Announce<'a>,
    shutdown: Shutdown<'a>,
) -> Serving<'a> {
    let options = FakeAwsPricingOptions {
        addr: served.addr,
        latency: served.latency,
    };
    Box::pin(async move {
        let fake = FakeAwsPricing::start(options).await?;
        announce(Announcement {
            stdout: vec![fake.base_url()],
            note: format!(
                "AWS Price List and Service Quotas stub listening. Point gpucloud at it with:\n  \
                 {}\nStop it with Ctrl-C.",
                fake.exports().shell_line()
            ),
        });
        shutdown.await;
        fake.shutdown().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn call(fake: &FakeAwsPricing, target: &str, body: Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(fake.base_url())
            .header("x-amz-target", target)
            .header("content-type", "application/x-amz-json-1.1")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    #[tokio::test]
    async fn products_are_filtered_and_paged_and_quotas_found_by_code() {
        let fake = FakeAwsPricing::start(FakeAwsPricingOptions::default())
            .await
            .unwrap();
        let filter = |field: &str, value: &str| json!({"Type": "TERM_MATCH", "Field": field, "Value": value});
        let (status, body) = call(
            &fake,
            "AWSPriceListService.GetProducts",
            json!({"ServiceCode": "AmazonEC2", "MaxResults": 3, "Filters": [filter("regionCode", "us-west-2")]}),
        )
        .await;
        assert_eq!(status, 200);
        let list = body["PriceList"].as_array().unwrap();
        assert_eq!(list.len(), 3);
        let first: Value = serde_json::from_str(list[0].as_str().unwrap()).unwrap();
        assert_eq!(first["product"]["attributes"]["regionCode"], "us-west-2");
        assert_eq!(body["NextToken"], "3");
        let (_, p5) = call(
            &fake,
            "AWSPriceListService.GetProducts",
            json!({"ServiceCode": "AmazonEC2", "Filters": [filter("regionCode", "us-east-1"), filter("instanceType", "p5.48xlarge")]}),
        )
        .await;
        assert_eq!(p5["PriceList"].as_array().unwrap().len(), 1);
        assert!(p5.get("NextToken").is_none());
        let (status, quota) = call(
            &fake,
            "ServiceQuotasV20190624.GetServiceQuota",
            json!({"ServiceCode": "ec2", "QuotaCode": "L-417A185B"}),
        )
        .await;
        assert_eq!(
            (status, quota["Quota"]["Value"].as_f64()),
            (200, Some(384.0))
        );
        let (status, missing) = call(
            &fake,
            "ServiceQuotasV20190624.GetServiceQuota",
            json!({"ServiceCode": "ec2", "QuotaCode": "L-NOPE"}),
        )
        .await;
        assert_eq!(
            (status, missing["__type"].as_str()),
            (400, Some("NoSuchResourceException"))
        );
        assert!(fake.set_quota("L-417A185B", 96.0));
        assert!(!fake.set_quota("L-NOPE", 1.0), "only served codes are set");
        let (_, lowered) = call(
            &fake,
            "ServiceQuotasV20190624.GetServiceQuota",
            json!({"ServiceCode": "ec2", "QuotaCode": "L-417A185B"}),
        )
        .await;
        assert_eq!(lowered["Quota"]["Value"].as_f64(), Some(96.0));
        fake.shutdown().await;
    }
}
