//! The routes and their handlers. Every route is added through [`Routes`], which keeps the
//! list of what is served; the OpenAPI test compares that list with `/openapi.json`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use gpucloud::offers::{GpuRequest, OfferFilter, OfferQuery, OfferSort};
use gpucloud::{Architecture, Bytes as Memory};
use gpucloud_fleet::{CreateRequest, Fleet, InstanceFilter, PageRequest, Phase};
use rust_decimal::Decimal;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::query::Params;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub fleet: Fleet,
    /// Cancelled when the service stops; ends the event streams.
    pub shutdown: CancellationToken,
}

/// A router and the (method, path) pairs it serves.
pub struct Routes {
    router: Router<AppState>,
    served: Vec<(&'static str, &'static str)>,
}

impl Routes {
    fn new() -> Self {
        Self {
            router: Router::new(),
            served: Vec::new(),
        }
    }

    fn add(
        mut self,
        method: &'static str,
        path: &'static str,
        route: MethodRouter<AppState>,
    ) -> Self {
        self.router = self.router.route(path, route);
        self.served.push((method, path));
        self
    }

    /// The (method, path) pairs served, paths in OpenAPI's `{name}` form.
    pub fn served(&self) -> &[(&'static str, &'static str)] {
        &self.served
    }

    /// The router.
    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

/// Every route of the API.
pub fn routes() -> Routes {
    Routes::new()
        .add("GET", "/healthz", get(healthz))
        .add("GET", "/metrics", get(metrics))
        .add("GET", "/openapi.json", get(openapi))
        .add("GET", "/v1/instances", get(list_instances))
        .add("POST", "/v1/instances", post(create_instance))
        .add("GET", "/v1/instances/{ref_id}", get(get_instance))
        .add(
            "DELETE",
            "/v1/instances/{ref_id}",
            delete(terminate_instance),
        )
        .add("GET", "/v1/offers", get(offers))
        .add("GET", "/v1/events", get(crate::events::events))
        .add("GET", "/v1/credentials", get(credentials))
}

/// A list answer.
#[derive(Debug, Serialize)]
struct Items<T> {
    items: Vec<T>,
}

async fn healthz(State(state): State<AppState>) -> Result<Response, ApiError> {
    // A read of the store: the service is healthy when its database answers.
    state.fleet.credentials().await?;
    Ok(axum::Json(serde_json::json!({ "status": "ok" })).into_response())
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let snapshot = state.fleet.metrics().await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        snapshot.to_prometheus(),
    )
        .into_response())
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::OPENAPI_JSON,
    )
        .into_response()
}

async fn list_instances(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(
        raw.as_deref(),
        &[
            "credential",
            "provider",
            "location",
            "phase",
            "live_only",
            "limit",
            "after",
        ],
    )?;
    let phases = params
        .all("phase")
        .iter()
        .map(|p| Params::word::<Phase>("phase", p, PHASES))
        .collect::<Result<Vec<_>, _>>()?;
    let filter = InstanceFilter {
        credential: params.one("credential")?.map(str::to_owned),
        provider: params.one("provider")?.map(str::to_owned),
        location: params.one("location")?.map(str::to_owned),
        phases,
        live_only: params.flag("live_only")?.unwrap_or(false),
    };
    let limit = params
        .parsed::<u32>("limit", "a number from 1 to 1000")?
        .unwrap_or(PageRequest::default().limit);
    if !(1..=gpucloud_fleet::model::MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be from 1 to 1000"));
    }
    let page = PageRequest {
        after: params.one("after")?.map(str::to_owned),
        limit,
    };
    Ok(axum::Json(state.fleet.instances(&filter, &page).await?).into_response())
}

/// The phases, as a 400 lists them.
const PHASES: &str = "requested, launching, active, launch_failed, terminating, terminated, orphan";

async fn create_instance(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let request: CreateRequest = parse_body(&body)?;
    let record = state.fleet.request_create(request).await?;
    // Recorded; the reconcile loop sends it.
    Ok((StatusCode::ACCEPTED, axum::Json(record)).into_response())
}

async fn get_instance(
    State(state): State<AppState>,
    Path(ref_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(axum::Json(state.fleet.instance(&ref_id).await?).into_response())
}

async fn terminate_instance(
    State(state): State<AppState>,
    Path(ref_id): Path<String>,
) -> Result<Response, ApiError> {
    let record = state.fleet.request_terminate(&ref_id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(record)).into_response())
}

async fn offers(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = offer_query(raw.as_deref())?;
    let items = state.fleet.offers(&query).await?;
    Ok(axum::Json(Items { items }).into_response())
}

async fn credentials(State(state): State<AppState>) -> Result<Response, ApiError> {
    let items = state.fleet.credentials().await?;
    Ok(axum::Json(Items { items }).into_response())
}

/// The offer query from `GET /v1/offers`'s parameters.
fn offer_query(raw: Option<&str>) -> Result<OfferQuery, ApiError> {
    let params = Params::parse(
        raw,
        &[
            "gpu",
            "min_gpu_count",
            "min_vram",
            "max_price_per_hour",
            "max_price_per_gpu_hour",
            "provider",
            "location",
            "architecture",
            "spot",
            "available",
            "sort",
        ],
    )?;
    let architecture = params
        .one("architecture")?
        .map(|a| match Architecture::parse_lenient(a) {
            Architecture::Unknown => Err(ApiError::invalid(
                "architecture",
                format!("{a:?}: expected x86_64 or arm64"),
            )),
            known => Ok(known),
        })
        .transpose()?;
    let sort = params
        .one("sort")?
        .map(|s| Params::word::<OfferSort>("sort", s, "price, price-per-gpu-hour, gpu-count"))
        .transpose()?
        .unwrap_or_default();
    Ok(OfferQuery {
        filter: OfferFilter {
            gpu: params.parsed::<GpuRequest>("gpu", "a GPU model, as in H100 or H100:8")?,
            min_gpu_count: params.parsed::<u32>("min_gpu_count", "a whole number")?,
            min_vram: params.parsed::<Memory>("min_vram", "a size, as in 80GB")?,
            max_price_per_hour: params
                .parsed::<Decimal>("max_price_per_hour", "US dollars, as in 2.50")?,
            max_price_per_gpu_hour: params
                .parsed::<Decimal>("max_price_per_gpu_hour", "US dollars, as in 2.50")?,
            providers: params.all("provider"),
            locations: params.all("location"),
            architecture,
            spot: params.flag("spot")?,
            available_only: params.flag("available")?.unwrap_or(false),
        },
        sort,
    })
}

/// A JSON body, refused with the path of the field at fault.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        // serde_path_to_error names the root `.`, and a place it could not reach `?`.
        let field = if path == "." || path == "?" {
            "body".to_owned()
        } else {
            path
        };
        ApiError::invalid(field, error.into_inner())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_body_names_the_field() {
        let error = parse_body::<CreateRequest>(
            br#"{"target":{"kind":"explicit","credential":"x","location":"y","instance_type":"z"},"attrs":{},"ttl":"soon"}"#,
        )
        .unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert!(
            format!("{error:?}").contains("field: Some(\"ttl\")"),
            "{error:?}"
        );
        let error = parse_body::<CreateRequest>(b"{").unwrap_err();
        assert!(format!("{error:?}").contains("\"body\""), "{error:?}");
    }

    #[test]
    fn offer_parameters_are_read_and_checked() {
        let query = offer_query(Some(
            "gpu=H100:8&provider=lambda,verda&available=true&sort=gpu-count&max_price_per_hour=30",
        ))
        .unwrap();
        assert_eq!(query.filter.gpu.unwrap().count, Some(8));
        assert_eq!(query.filter.providers, ["lambda", "verda"]);
        assert!(query.filter.available_only);
        assert_eq!(query.sort, OfferSort::GpuCount);
        for (bad, field) in [
            ("gpu=:8", "gpu"),
            ("sort=random", "sort"),
            ("architecture=mips", "architecture"),
            ("min_vram=lots", "min_vram"),
            ("max_price_per_hour=cheap", "max_price_per_hour"),
        ] {
            let error = offer_query(Some(bad)).unwrap_err();
            assert!(
                format!("{error:?}").contains(&format!("field: Some(\"{field}\")")),
                "{bad}: {error:?}"
            );
        }
    }
}
