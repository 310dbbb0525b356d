//! Routes, handlers and JSON shapes of the fake LaunchPad API. Auth, faults and rate limits
//! happen in the shared gate before a request gets here.
//!
//! The description publishes no error bodies; the fake answers as the Django REST framework
//! the API is built on does: `{"detail": "..."}` for one problem, and `{"<field>":
//! ["..."]}` for a request whose fields are wrong.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value, json};
use tokio::time::Instant;
use uuid::Uuid;

use super::catalog::{self, EXPERIENCES, TYPES};
use super::state::{FakeDeployment, FakeLaunchpadState, FakeState, Record, new_deployment};

/// The SSH user of every fake deployment.
pub const SSH_USER: &str = "ubuntu";
/// The SSH port every fake deployment is reached on (LaunchPad forwards one port per
/// deployment; it is not 22).
pub const SSH_PORT: u16 = 2222;
/// The message of a create that no machine can serve now (the API has no code for it).
pub const NO_CAPACITY: &str = "There is no available capacity for the requested configuration.";
/// The message of a delete of a deployment already being destroyed or destroyed.
pub const ALREADY_DESTROYED: &str = "Deployment is already being destroyed";
/// A page's size when the request names none.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The largest page the fake serves; larger requests get this many.
pub const MAX_PAGE_SIZE: usize = 500;

/// An error response of the API.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// `{"detail": message}` with this status.
pub(crate) fn detail(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        body: json!({ "detail": message.into() }),
    }
}

/// `400 {"<field>": [message]}`: a field of the request is wrong.
fn field_error(field: &str, message: impl Into<String>) -> ApiError {
    let mut body = Map::new();
    body.insert(field.to_owned(), json!([message.into()]));
    ApiError {
        status: StatusCode::BAD_REQUEST,
        body: Value::Object(body),
    }
}

fn not_found(what: &str) -> ApiError {
    detail(
        StatusCode::NOT_FOUND,
        format!("No {what} matches the given query."),
    )
}

type Reply = Result<Response, ApiError>;

pub(crate) fn router(state: FakeLaunchpadState) -> Router {
    // The API's paths end in `/`; the fake serves them with and without it.
    let mut router = Router::new();
    for (path, route) in [
        ("/v1/catalog/instance-types", get(instance_types)),
        (
            "/v1/catalog/deployments",
            get(list_deployments).post(create_deployment),
        ),
        (
            "/v1/catalog/deployments/{id}",
            get(get_deployment).delete(delete_deployment),
        ),
        ("/v1/inventory/clusters", get(list_clusters)),
        ("/v1/inventory/clusters/{id}", get(get_cluster)),
    ] {
        router = router
            .route(path, route.clone())
            .route(&format!("{path}/"), route);
    }
    router
        .fallback(|| async { detail(StatusCode::NOT_FOUND, "Not found.") })
        .method_not_allowed_fallback(|| async {
            detail(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.")
        })
        .with_state(state)
}

/// `key=value` pairs of a query string, percent-decoded.
fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    let Some(raw) = raw.filter(|q| !q.is_empty()) else {
        return Vec::new();
    };
    reqwest::Url::parse(&format!("http://q/?{raw}"))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// One page of `items` as the API pages: `{count, next, previous, results}`, with `next` and
/// `previous` as absolute URLs of this path. A page past the end is `404 Invalid page.`
fn page(headers: &HeaderMap, path: &str, query: &[(String, String)], items: Vec<Value>) -> Reply {
    let number = match query_value(query, "page") {
        None => 1,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| detail(StatusCode::NOT_FOUND, "Invalid page."))?,
    };
    let size = query_value(query, "page_size")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .map_or(DEFAULT_PAGE_SIZE, |n| n.min(MAX_PAGE_SIZE));
    let count = items.len();
    let pages = count.div_ceil(size).max(1);
    if number > pages {
        return Err(detail(StatusCode::NOT_FOUND, "Invalid page."));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let link = |n: usize| {
        let mut url = reqwest::Url::parse(&format!("http://{host}{path}"))
            .unwrap_or_else(|_| reqwest::Url::parse("http://127.0.0.1/").expect("a valid URL"));
        {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query.iter().filter(|(k, _)| k != "page") {
                pairs.append_pair(k, v);
            }
            pairs.append_pair("page", &n.to_string());
        }
        Value::String(url.to_string())
    };
    let results: Vec<Value> = items
        .into_iter()
        .skip((number - 1) * size)
        .take(size)
        .collect();
    let next = if number < pages {
        link(number + 1)
    } else {
        Value::Null
    };
    let previous = if number > 1 {
        link(number - 1)
    } else {
        Value::Null
    };
    Ok(Json(json!({
        "count": count,
        "next": next,
        "previous": previous,
        "results": results,
    }))
    .into_response())
}

// ---------------------------------------------------------------------------------------
// Catalog

async fn instance_types(
    State(state): State<FakeLaunchpadState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Reply {
    let query = query_pairs(raw.as_deref());
    if let Some(delivery) = query_value(&query, "delivery")
        && !matches!(delivery, "fast" | "slow")
    {
        return Err(field_error(
            "delivery",
            format!("Select a valid choice. {delivery} is not one of the available choices."),
        ));
    }
    let inner = state.lock();
    let items = TYPES
        .iter()
        .map(|t| {
            let capacity: Map<String, Value> = t
                .regions
                .iter()
                .map(|r| ((*r).to_owned(), json!(inner.capacity.get(r, &t.key()))))
                .collect();
            let regions: Vec<&str> = t
                .regions
                .iter()
                .copied()
                .filter(|r| inner.capacity.get(r, &t.key()) > 0)
                .collect();
            let storage: Vec<Value> = t
                .storage
                .iter()
                .map(|(size, kind)| json!({ "size_gb": size, "type": kind }))
                .collect();
            json!({
                "capacity": capacity,
                "cloud": t.cloud,
                "cpu": t.cpu,
                "gpu": {
                    "count": t.gpu_count,
                    "family": t.family,
                    "interconnection_type": t.interconnect,
                    "manufacturer": "NVIDIA",
                    "memory_gb": t.gpu_memory_gb,
                    "model": t.model,
                },
                "memory_gb": t.memory_gb,
                "price": { "currency": "USD", "on_demand_per_hour": t.price_per_hour },
                "regions": regions,
                "storage": storage,
                "system_arch": t.system_arch,
                "workshop_id": t.workshop_id,
            })
        })
        .collect();
    drop(inner);
    page(&headers, "/v1/catalog/instance-types/", &query, items)
}

// ---------------------------------------------------------------------------------------
// Deployments

/// The API's JSON of a deployment.
fn deployment_json(d: &FakeDeployment) -> Value {
    json!({
        "id": d.id,
        "cluster": d.cluster,
        "created": d.created,
        "modified": d.created,
        "experience": d.experience,
        "expires_at": null,
        "gpu_count": d.gpu_count,
        "gpu_model": d.gpu_model,
        "ip_allowlist": d.ip_allowlist,
        "org_name": d.org_name,
        "overrides": {},
        "pipelines": [],
        "provider_name": d.provider_name,
        "region": d.region,
        "request_id": d.request_id,
        "requester_email": d.requester_email,
        "requester_name": d.requester_name,
        "retry_count": d.retry_count,
        "services": [],
        "ssh_port": d.ssh_port,
        "ssh_user": d.ssh_user,
        "state": d.state.as_str(),
        "tags": d.tags,
        "workshop": false,
        "workshop_id": d.workshop_id,
    })
}

/// Whether `d` passes the list's filters (`id`, `request_id`, `provider_name`, `region`,
/// `gpu_model`, `gpu_count`, `state`, `state_not`).
fn deployment_matches(d: &FakeDeployment, query: &[(String, String)]) -> Result<bool, ApiError> {
    let states = |name: &str| -> Result<Option<Vec<String>>, ApiError> {
        let Some(list) = query_value(query, name) else {
            return Ok(None);
        };
        let states: Vec<String> = list.split(',').map(str::to_owned).collect();
        for s in &states {
            if !ALL_STATES.contains(&s.as_str()) {
                return Err(field_error(
                    name,
                    format!("Select a valid choice. {s} is not one of the available choices."),
                ));
            }
        }
        Ok(Some(states))
    };
    let state = d.state.as_str();
    let eq = |name: &str, value: &str| query_value(query, name).is_none_or(|q| q == value);
    Ok(eq("id", &d.id.to_string())
        && eq("request_id", &d.request_id)
        && eq("provider_name", &d.provider_name)
        && eq("region", &d.region)
        && eq("gpu_model", &d.gpu_model)
        && eq("gpu_count", &d.gpu_count.to_string())
        && states("state")?.is_none_or(|s| s.iter().any(|s| s == state))
        && states("state_not")?.is_none_or(|s| !s.iter().any(|s| s == state)))
}

const ALL_STATES: &[&str] = &[
    "destroyed",
    "destroying",
    "error",
    "failed",
    "paused",
    "ready",
    "retrying",
    "starting",
    "stopped",
    "stopping",
    "waiting",
];

async fn list_deployments(
    State(state): State<FakeLaunchpadState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Reply {
    let query = query_pairs(raw.as_deref());
    let now = Instant::now();
    let inner = state.lock();
    let mut items = Vec::new();
    for record in &inner.deployments {
        let d = record.at(now);
        if deployment_matches(&d, &query)? {
            items.push(deployment_json(&d));
        }
    }
    drop(inner);
    page(&headers, "/v1/catalog/deployments/", &query, items)
}

/// The record of deployment `id`, or `404`.
fn find<'a>(records: &'a mut [Record], id: &str) -> Result<&'a mut Record, ApiError> {
    let uuid = Uuid::parse_str(id).map_err(|_| not_found("Deployment"))?;
    records
        .iter_mut()
        .find(|r| r.snapshot.id == uuid)
        .ok_or_else(|| not_found("Deployment"))
}

async fn get_deployment(State(state): State<FakeLaunchpadState>, Path(id): Path<String>) -> Reply {
    let now = Instant::now();
    let mut inner = state.lock();
    let record = find(&mut inner.deployments, &id)?;
    Ok(Json(deployment_json(&record.at(now))).into_response())
}

/// A text field of the request: absent and `null` are `None`; another type is an error.
fn text<'a>(body: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(field_error(field, "Not a valid string.")),
    }
}

/// A required text field of the request.
fn required<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str, ApiError> {
    match text(body, field)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(field_error(field, "This field may not be blank.")),
        None => Err(field_error(field, "This field is required.")),
    }
}

fn well_formed_key(key: &str) -> bool {
    let mut parts = key.split_whitespace();
    matches!(
        (parts.next(), parts.next()),
        (Some(algorithm), Some(blob))
            if (algorithm.starts_with("ssh-") || algorithm.starts_with("ecdsa-"))
                && base64::engine::general_purpose::STANDARD.decode(blob).is_ok()
    )
}

async fn create_deployment(State(state): State<FakeLaunchpadState>, body: Bytes) -> Reply {
    let body: Map<String, Value> = serde_json::from_slice(&body)
        .map_err(|e| detail(StatusCode::BAD_REQUEST, format!("JSON parse error - {e}")))?;
    let org_name = required(&body, "org_name")?.to_owned();
    let request_id = required(&body, "request_id")?.to_owned();
    let requester_email = required(&body, "requester_email")?.to_owned();
    if !requester_email.contains('@') {
        return Err(field_error(
            "requester_email",
            "Enter a valid email address.",
        ));
    }
    let requester_name = required(&body, "requester_name")?.to_owned();
    let experience = match text(&body, "experience_id")? {
        Some(id) if EXPERIENCES.contains(&id) => Uuid::parse_str(id).unwrap_or_default(),
        Some(id) => {
            return Err(field_error(
                "experience_id",
                format!("Invalid pk \"{id}\" - object does not exist."),
            ));
        }
        None => {
            return Err(field_error(
                "experience_id",
                "One of experience_id, catalog_id or catalog_id_alias is required.",
            ));
        }
    };
    let public_key = text(&body, "public_key")?.unwrap_or_default().to_owned();
    if !public_key.is_empty() && !well_formed_key(&public_key) {
        return Err(field_error("public_key", "Not a valid OpenSSH public key."));
    }
    let gpu_model = text(&body, "gpu_model")?.unwrap_or_default().to_owned();
    let gpu_count = match body.get("gpu_count") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n <= 512)
            .ok_or_else(|| field_error("gpu_count", "A valid integer is required."))?,
    };
    let provider_name = text(&body, "provider_name")?.map(str::to_owned);
    let region = text(&body, "region")?.map(str::to_owned);
    let workshop_id = text(&body, "workshop_id")?.map(str::to_owned);
    let ip_allowlist: Vec<String> = match body.get("ip_allowlist") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .filter(|s| s.parse::<std::net::IpAddr>().is_ok() || s.contains('/'))
                    .map(str::to_owned)
                    .ok_or_else(|| field_error("ip_allowlist", "Enter a valid IP address."))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(field_error("ip_allowlist", "Expected a list of items.")),
    };
    let tags = match body.get("tags") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(tags)) => tags.clone(),
        Some(_) => return Err(field_error("tags", "Expected a dictionary of items.")),
    };

    let now = Instant::now();
    let timing = state.timing;
    let mut inner = state.lock();
    if inner
        .deployments
        .iter()
        .any(|r| r.snapshot.request_id == request_id)
    {
        return Err(field_error(
            "request_id",
            "deployment with this request id already exists.",
        ));
    }
    // The types that fit the request (cloud, model and count as given), then a region of one
    // of them with a machine free.
    let fitting: Vec<&catalog::CatalogType> = TYPES
        .iter()
        .filter(|t| {
            provider_name
                .as_deref()
                .is_none_or(|p| t.cloud.eq_ignore_ascii_case(p))
                && (gpu_model.is_empty() || t.family.eq_ignore_ascii_case(&gpu_model))
                && (gpu_count == 0 || t.gpu_count == gpu_count)
                && region.as_deref().is_none_or(|r| t.regions.contains(&r))
                && workshop_id.as_deref().is_none_or(|w| t.workshop_id == w)
        })
        .collect();
    if fitting.is_empty() {
        return Err(field_error(
            "gpu_model",
            "No instance type matches the requested provider, region, GPU model and count.",
        ));
    }
    let chosen = fitting.iter().find_map(|t| {
        t.regions
            .iter()
            .find(|r| {
                region.as_deref().is_none_or(|want| want == **r)
                    && inner.capacity.get(r, &t.key()) > 0
            })
            .map(|r| (*t, *r))
    });
    let Some((t, chosen_region)) = chosen else {
        return Err(detail(StatusCode::BAD_REQUEST, NO_CAPACITY));
    };
    inner.capacity.take(chosen_region, &t.key());
    let outcome = inner.outcome(state.faults());
    let id = Uuid::new_v4();
    let mut deployment = new_deployment(id, t, chosen_region);
    deployment.request_id = request_id;
    deployment.experience = experience;
    deployment.public_key = public_key;
    deployment.ip_allowlist = ip_allowlist;
    deployment.tags = tags;
    deployment.org_name = org_name;
    deployment.requester_email = requester_email;
    deployment.requester_name = requester_name;
    deployment.workshop_id = workshop_id;
    inner.push(deployment, now, timing, outcome, true);
    let answer = inner
        .deployments
        .last()
        .map_or(Value::Null, |r| deployment_json(&r.at(now)));
    drop(inner);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn delete_deployment(
    State(state): State<FakeLaunchpadState>,
    Path(id): Path<String>,
) -> Reply {
    let now = Instant::now();
    let timing = state.timing;
    let mut inner = state.lock();
    let record = find(&mut inner.deployments, &id)?;
    if matches!(
        record.state_at(now),
        FakeState::Destroying | FakeState::Destroyed
    ) {
        return Err(detail(StatusCode::BAD_REQUEST, ALREADY_DESTROYED));
    }
    record.destroy(now, timing);
    let answer = deployment_json(&record.at(now));
    let give_back = std::mem::take(&mut record.holds_capacity).then(|| {
        let d = &record.snapshot;
        (
            d.region.clone(),
            catalog::capacity_key(&d.provider_name, &d.gpu_model, d.gpu_count),
        )
    });
    if let Some((region, key)) = give_back {
        inner.capacity.give_back(&region, &key);
    }
    Ok(Json(answer).into_response())
}

// ---------------------------------------------------------------------------------------
// Clusters

/// The API's JSON of the cluster of `d` (clusters exist while their deployment is not
/// destroyed).
fn cluster_json(d: &FakeDeployment) -> Value {
    let provisioning_state = match d.state {
        FakeState::Destroying => "destroying",
        FakeState::Waiting | FakeState::Failed | FakeState::Retrying | FakeState::Error => {
            "deploying"
        }
        _ => "deployed",
    };
    json!({
        "id": d.cluster,
        "available": false,
        "created": d.created,
        "modified": d.created,
        "deployment": d.id,
        "gpu_alias": format!("{}.{}x{}", d.provider_name, d.gpu_model, d.gpu_count),
        "gpu_count": d.gpu_count,
        "gpus": [],
        "instances": [],
        "last_provisioning_state_change": null,
        "last_used": null,
        "node_count": 1,
        "provider_capacity": true,
        "provisioning_state": provisioning_state,
        "public_address": d.public_address,
        "request_id": d.request_id.chars().take(32).collect::<String>(),
        "tenant_ids": [],
    })
}

async fn list_clusters(
    State(state): State<FakeLaunchpadState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Reply {
    let query = query_pairs(raw.as_deref());
    let now = Instant::now();
    let inner = state.lock();
    let items: Vec<Value> = inner
        .deployments
        .iter()
        .map(|r| r.at(now))
        .filter(|d| d.state != FakeState::Destroyed)
        .filter(|d| query_value(&query, "id").is_none_or(|id| id == d.cluster.to_string()))
        .filter(|d| query_value(&query, "deployment").is_none_or(|id| id == d.id.to_string()))
        .map(|d| cluster_json(&d))
        .collect();
    drop(inner);
    page(&headers, "/v1/inventory/clusters/", &query, items)
}

async fn get_cluster(State(state): State<FakeLaunchpadState>, Path(id): Path<String>) -> Reply {
    let uuid = Uuid::parse_str(&id).map_err(|_| not_found("Cluster"))?;
    let now = Instant::now();
    let inner = state.lock();
    inner
        .deployments
        .iter()
        .map(|r| r.at(now))
        .find(|d| d.cluster == uuid && d.state != FakeState::Destroyed)
        .map(|d| Json(cluster_json(&d)).into_response())
        .ok_or_else(|| not_found("Cluster"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_decoded_and_keys_checked() {
        assert_eq!(
            query_pairs(Some("state=ready%2Cwaiting&page=2")),
            [
                ("state".to_owned(), "ready,waiting".to_owned()),
                ("page".to_owned(), "2".to_owned()),
            ]
        );
        assert!(query_pairs(None).is_empty());
        assert!(well_formed_key(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDBdptDTzJ2cOmdyryG1B7yb1YssiCQs6SWu4HlbZXGE"
        ));
        assert!(!well_formed_key("hello"));
    }
}
