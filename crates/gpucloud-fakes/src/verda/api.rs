//! Routes, handlers and JSON shapes of the fake Verda API. Authentication (the OAuth2 bearer
//! token), faults and rate limits happen in the shared gate before a request gets here; the
//! token endpoint itself is open.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use bytes::Bytes;
use http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::Instant;
use uuid::Uuid;

use super::catalog::{self, CatalogType, IMAGES, LOCATIONS, TYPES};
use super::state::{
    FakeInstance, FakeScript, FakeSshKey, FakeStatus, FakeVerdaState, FakeVolume, InstanceRecord,
    shows_address,
};
use crate::kit::Timeline;

/// `invalid_request`: the request is wrong (also Verda's answer when no machine is free).
pub const INVALID_REQUEST: &str = "invalid_request";
/// `unauthorized_request`: no valid token, or wrong client credentials.
pub const UNAUTHORIZED_REQUEST: &str = "unauthorized_request";
/// `not_found`: no such resource.
pub const NOT_FOUND: &str = "not_found";
/// `insufficient_funds`: the account's balance does not cover the order.
pub const INSUFFICIENT_FUNDS: &str = "insufficient_funds";

/// The SSH user of Verda's images.
pub const SSH_USER: &str = "root";

/// A Verda error response: `{"code": "...", "message": "..."}`, as both SDKs parse it.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "code": self.code, "message": self.message })),
        )
            .into_response()
    }
}

/// An error with this status, code and message.
pub(crate) fn error(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> ApiError {
    ApiError {
        status,
        code,
        message: message.into(),
    }
}

type Reply = Result<Response, ApiError>;

fn bad_request(message: impl Into<String>) -> ApiError {
    error(StatusCode::BAD_REQUEST, INVALID_REQUEST, message)
}

fn not_found(what: &str, id: &str) -> ApiError {
    error(
        StatusCode::NOT_FOUND,
        NOT_FOUND,
        format!("{what} {id} not found"),
    )
}

/// A created resource's id, as Verda answers a create: the id as plain text.
fn plain_id(status: StatusCode, id: Uuid) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain")],
        id.to_string(),
    )
        .into_response()
}

pub(crate) fn router(state: FakeVerdaState) -> Router {
    Router::new()
        .route("/v1/oauth2/token", post(token))
        .route("/v1/locations", get(locations))
        .route("/v1/instance-types", get(instance_types))
        .route("/v1/instance-availability", get(availability))
        .route(
            "/v1/instance-availability/{instance_type}",
            get(type_availability),
        )
        .route("/v1/images", get(images))
        .route(
            "/v1/instances",
            get(list_instances)
                .post(create_instance)
                .put(instance_action),
        )
        .route("/v1/instances/{id}", get(get_instance))
        .route(
            "/v1/ssh-keys",
            get(list_keys).post(add_key).delete(delete_keys),
        )
        .route("/v1/ssh-keys/{id}", get(get_key).delete(delete_key))
        .route(
            "/v1/sshkeys",
            get(list_keys).post(add_key).delete(delete_keys),
        )
        .route("/v1/sshkeys/{id}", get(get_key).delete(delete_key))
        .route(
            "/v1/scripts",
            get(list_scripts).post(add_script).delete(delete_scripts),
        )
        .route("/v1/scripts/{id}", get(get_script).delete(delete_script))
        .route("/v1/volumes", get(list_volumes))
        .route("/v1/volumes/{id}", get(get_volume))
        .fallback(|| async { error(StatusCode::NOT_FOUND, NOT_FOUND, "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                INVALID_REQUEST,
                "method not allowed",
            )
        })
        .with_state(state)
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid request body: {e}")))
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

fn query_value<'a>(query: &'a [(String, String)], names: &[&str]) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| names.contains(&k.as_str()))
        .map(|(_, v)| v.as_str())
}

/// The `is_spot` flag of a query (the Go SDK's `is_spot`, the Python SDK's `isSpot`).
fn spot_flag(query: &[(String, String)]) -> Result<bool, ApiError> {
    match query_value(query, &["is_spot", "isSpot"]) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(bad_request(format!("is_spot: {other:?} is not a boolean"))),
    }
}

// ---------------------------------------------------------------------------------------
// OAuth2

#[derive(Deserialize)]
struct TokenRequest {
    #[serde(default)]
    grant_type: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    refresh_token: String,
}

/// `POST /oauth2/token`: the client-credentials and refresh-token grants, in JSON (as the
/// SDKs send) or as a form.
async fn token(State(state): State<FakeVerdaState>, body: Bytes) -> Reply {
    let request: TokenRequest = serde_json::from_slice(&body).unwrap_or_else(|_| {
        let pairs = query_pairs(std::str::from_utf8(&body).ok());
        let get = |name: &str| query_value(&pairs, &[name]).unwrap_or("").to_owned();
        TokenRequest {
            grant_type: get("grant_type"),
            client_id: get("client_id"),
            client_secret: get("client_secret"),
            refresh_token: get("refresh_token"),
        }
    });
    let now = Instant::now();
    let lifetime = state.timing.token_lifetime;
    let mut inner = state.lock();
    match request.grant_type.as_str() {
        "client_credentials" => {
            if *request.client_id != *state.client_id
                || *request.client_secret != *state.client_secret
            {
                return Err(error(
                    StatusCode::UNAUTHORIZED,
                    UNAUTHORIZED_REQUEST,
                    "invalid client credentials",
                ));
            }
        }
        "refresh_token" => {
            if !inner.redeem_refresh_token(&request.refresh_token, now) {
                return Err(error(
                    StatusCode::UNAUTHORIZED,
                    UNAUTHORIZED_REQUEST,
                    "invalid or expired refresh token",
                ));
            }
        }
        "" => return Err(bad_request("grant_type: not specified")),
        other => {
            return Err(bad_request(format!(
                "grant_type: unsupported grant type {other:?}"
            )));
        }
    }
    let (access, refresh) = inner.issue_tokens(now, lifetime);
    drop(inner);
    Ok(Json(json!({
        "access_token": access,
        "refresh_token": refresh,
        "scope": "cloud-api-v1",
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
    }))
    .into_response())
}

// ---------------------------------------------------------------------------------------
// Catalog

/// A catalog entry's id: the same on every call, distinct per table (`kind`) and entry.
fn catalog_id(kind: u128, index: usize) -> Uuid {
    Uuid::from_u128((0x7e4d_a000 + kind) << 96 | index as u128)
}

async fn locations() -> Reply {
    let wire: Vec<_> = LOCATIONS
        .iter()
        .map(|l| json!({"code": l.code, "name": l.name, "country_code": l.country_code}))
        .collect();
    Ok(Json(wire).into_response())
}

fn described(description: &str, size: u32, size_field: &str) -> serde_json::Value {
    let mut value = json!({ "description": description });
    value[size_field] = json!(size);
    value
}

async fn instance_types(RawQuery(raw): RawQuery) -> Reply {
    let query = query_pairs(raw.as_deref());
    let currency = match query_value(&query, &["currency"]) {
        None | Some("usd") => "usd",
        Some("eur") => "eur",
        Some(other) => {
            return Err(bad_request(format!(
                "currency: {other:?} is not one of: usd, eur"
            )));
        }
    };
    let supported_os: Vec<&str> = IMAGES
        .iter()
        .filter(|i| !i.is_cluster)
        .map(|i| i.image_type)
        .collect();
    let wire: Vec<_> = TYPES
        .iter()
        .enumerate()
        .map(|(index, t)| {
            json!({
                "id": catalog_id(1, index),
                "instance_type": t.instance_type,
                "model": t.model,
                "name": t.name,
                "display_name": if t.gpus == 0 { t.name.to_owned() } else { format!("{}x {}", t.gpus, t.name) },
                "description": "Dedicated Hardware Instance",
                "cpu": described(&format!("{} CPU", t.cores), t.cores, "number_of_cores"),
                "gpu": described(&if t.gpus == 0 { String::new() } else { format!("{}x {}", t.gpus, t.name) }, t.gpus, "number_of_gpus"),
                "memory": described(&format!("{}GB RAM", t.memory_gb), t.memory_gb, "size_in_gigabytes"),
                "gpu_memory": described(&format!("{}GB GPU RAM", t.gpu_memory_gb), t.gpu_memory_gb, "size_in_gigabytes"),
                "storage": {"description": "Dynamic"},
                "price_per_hour": catalog::price_text(t.price_milli_usd, currency),
                "spot_price": catalog::price_text(t.spot_milli_usd, currency),
                "currency": currency,
                "manufacturer": if t.gpus == 0 { "AMD" } else { "NVIDIA" },
                "best_for": ["Training", "Inference"],
                "p2p": t.p2p,
                "supported_os": supported_os,
            })
        })
        .collect();
    Ok(Json(wire).into_response())
}

/// Whether `t` can be ordered in `location` as spot or on demand now.
fn available(state: &super::state::Inner, t: &CatalogType, location: &str, spot: bool) -> bool {
    let capacity = if spot {
        &state.spot_capacity
    } else {
        &state.capacity
    };
    capacity.get(location, t.instance_type) > 0
}

async fn availability(State(state): State<FakeVerdaState>, RawQuery(raw): RawQuery) -> Reply {
    let query = query_pairs(raw.as_deref());
    let spot = spot_flag(&query)?;
    let wanted = query_value(&query, &["location_code"]);
    if let Some(code) = wanted
        && !catalog::is_location(code)
    {
        return Err(bad_request(format!(
            "location_code: unknown location {code:?}"
        )));
    }
    let inner = state.lock();
    let wire: Vec<_> = LOCATIONS
        .iter()
        .filter(|l| wanted.is_none_or(|w| w == l.code))
        .map(|l| {
            let types: Vec<&str> = TYPES
                .iter()
                .filter(|t| available(&inner, t, l.code, spot))
                .map(|t| t.instance_type)
                .collect();
            json!({"location_code": l.code, "availabilities": types})
        })
        .collect();
    Ok(Json(wire).into_response())
}

async fn type_availability(
    State(state): State<FakeVerdaState>,
    Path(instance_type): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let query = query_pairs(raw.as_deref());
    let spot = spot_flag(&query)?;
    let Some(t) = catalog::type_of(&instance_type) else {
        return Err(bad_request(format!(
            "instance_type: unknown instance type {instance_type:?}"
        )));
    };
    let wanted = query_value(&query, &["location_code"]);
    let inner = state.lock();
    let any = LOCATIONS
        .iter()
        .filter(|l| wanted.is_none_or(|w| w == l.code))
        .any(|l| available(&inner, t, l.code, spot));
    Ok(Json(any).into_response())
}

async fn images(RawQuery(raw): RawQuery) -> Reply {
    let query = query_pairs(raw.as_deref());
    if let Some(t) = query_value(&query, &["instance_type"])
        && catalog::type_of(t).is_none()
    {
        return Err(bad_request(format!(
            "instance_type: unknown instance type {t:?}"
        )));
    }
    let wire: Vec<_> = IMAGES
        .iter()
        .enumerate()
        .map(|(index, i)| {
            json!({
                "id": catalog_id(2, index),
                "image_type": i.image_type,
                "name": i.name,
                "is_default": i.is_default,
                "is_cluster": i.is_cluster,
                "details": [],
                "category": "ubuntu",
            })
        })
        .collect();
    Ok(Json(wire).into_response())
}

// ---------------------------------------------------------------------------------------
// Instances

#[derive(Serialize)]
struct Described<'a> {
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    number_of_cores: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    number_of_gpus: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_gigabytes: Option<u32>,
}

impl<'a> Described<'a> {
    fn new(description: &'a str) -> Self {
        Self {
            description,
            number_of_cores: None,
            number_of_gpus: None,
            size_in_gigabytes: None,
        }
    }
}

#[derive(Serialize)]
struct InstanceWire<'a> {
    id: Uuid,
    instance_type: &'a str,
    price_per_hour: String,
    hostname: &'a str,
    description: &'a str,
    status: &'static str,
    created_at: &'a str,
    ssh_key_ids: &'a [String],
    cpu: Described<'a>,
    gpu: Described<'a>,
    memory: Described<'a>,
    gpu_memory: Described<'a>,
    storage: Described<'a>,
    ip: Option<&'a str>,
    os_volume_id: Option<&'a str>,
    location: &'a str,
    image: &'a str,
    os_name: &'a str,
    startup_script_id: Option<&'a str>,
    is_spot: bool,
    contract: &'static str,
    pricing: &'static str,
    volume_ids: Vec<&'a str>,
    jupyter_token: &'static str,
}

/// The API's shape of instance `i` with this status and address.
fn wire_of<'a>(i: &'a FakeInstance, status: FakeStatus, ip: Option<&'a str>) -> InstanceWire<'a> {
    let t = catalog::type_of(&i.instance_type);
    let milli = t.map_or(0, |t| {
        if i.is_spot {
            t.spot_milli_usd
        } else {
            t.price_milli_usd
        }
    });
    InstanceWire {
        id: i.id,
        instance_type: &i.instance_type,
        price_per_hour: catalog::price_text(milli, "usd"),
        hostname: &i.hostname,
        description: &i.description,
        status: status.as_str(),
        created_at: &i.created_at,
        ssh_key_ids: &i.ssh_key_ids,
        cpu: Described {
            number_of_cores: t.map(|t| t.cores),
            ..Described::new("")
        },
        gpu: Described {
            number_of_gpus: t.map(|t| t.gpus),
            ..Described::new(t.map_or("", |t| t.name))
        },
        memory: Described {
            size_in_gigabytes: t.map(|t| t.memory_gb),
            ..Described::new("")
        },
        gpu_memory: Described {
            size_in_gigabytes: t.map(|t| t.gpu_memory_gb),
            ..Described::new("")
        },
        storage: Described::new("Dynamic"),
        ip,
        os_volume_id: i.os_volume_id.as_deref(),
        location: &i.location,
        image: &i.image,
        os_name: "Ubuntu",
        startup_script_id: i.startup_script_id.as_deref(),
        is_spot: i.is_spot,
        contract: if i.is_spot { "SPOT" } else { "PAY_AS_YOU_GO" },
        pricing: "FIXED_PRICE",
        volume_ids: i.os_volume_id.as_deref().into_iter().collect(),
        jupyter_token: "",
    }
}

/// `GET /instances[?status=]`: every instance not yet gone, written straight from the records.
async fn list_instances(State(state): State<FakeVerdaState>, RawQuery(raw): RawQuery) -> Reply {
    let query = query_pairs(raw.as_deref());
    let wanted = query_value(&query, &["status"]).filter(|s| !s.is_empty());
    let now = Instant::now();
    let mut inner = state.lock();
    inner.purge(now);
    let instances: Vec<InstanceWire<'_>> = inner
        .instances
        .iter()
        .filter_map(|r| {
            let status = r.timeline.at(now)?;
            let ip = r.snapshot.ip.as_deref().filter(|_| shows_address(status));
            (wanted.is_none_or(|w| w == status.as_str())).then(|| wire_of(&r.snapshot, status, ip))
        })
        .collect();
    Ok(Json(instances).into_response())
}

async fn get_instance(State(state): State<FakeVerdaState>, Path(id): Path<String>) -> Reply {
    let mut inner = state.lock();
    let (_, instance) = inner
        .find(&id, Instant::now())
        .ok_or_else(|| not_found("instance", &id))?;
    drop(inner);
    Ok(Json(wire_of(&instance, instance.status, instance.ip.as_deref())).into_response())
}

#[derive(Deserialize)]
struct OsVolumeRequest {
    #[serde(default)]
    name: String,
    size: u32,
    #[serde(default)]
    on_spot_discontinue: Option<String>,
}

#[derive(Deserialize)]
struct CreateRequest {
    instance_type: String,
    image: String,
    hostname: String,
    description: String,
    #[serde(default)]
    ssh_key_ids: Vec<String>,
    #[serde(default)]
    location_code: Option<String>,
    #[serde(default)]
    startup_script_id: Option<String>,
    #[serde(default)]
    os_volume: Option<OsVolumeRequest>,
    #[serde(default)]
    is_spot: bool,
    #[serde(default)]
    volumes: Vec<serde_json::Value>,
    #[serde(default)]
    existing_volumes: Vec<String>,
}

/// The smallest and largest OS volume Verda takes, in GB.
const OS_VOLUME_GB: (u32, u32) = (50, 10_240);

/// `POST /instances`: checks the order, takes capacity of the usage class, and answers the new
/// instance's id as plain text; the OS volume is made with it.
async fn create_instance(State(state): State<FakeVerdaState>, body: Bytes) -> Reply {
    let request: CreateRequest = parse_body(&body)?;
    let Some(t) = catalog::type_of(&request.instance_type) else {
        return Err(bad_request(format!(
            "instance_type: unknown instance type {:?}",
            request.instance_type
        )));
    };
    let location = request.location_code.unwrap_or_else(|| "FIN-03".to_owned());
    if !catalog::is_location(&location) {
        return Err(bad_request(format!(
            "location_code: unknown location {location:?}"
        )));
    }
    if request.hostname.trim().is_empty() {
        return Err(bad_request("hostname: must not be empty"));
    }
    if request.description.is_empty() || request.description.chars().count() > 100 {
        return Err(bad_request("description: must be 1 to 100 characters"));
    }
    if !IMAGES
        .iter()
        .any(|i| i.image_type == request.image && !i.is_cluster)
    {
        return Err(bad_request(format!(
            "image: unknown image {:?}",
            request.image
        )));
    }
    if request.is_spot && t.spot_milli_usd == 0 {
        return Err(bad_request(format!(
            "is_spot: {} is not sold as spot",
            t.instance_type
        )));
    }
    if !request.volumes.is_empty() || !request.existing_volumes.is_empty() {
        return Err(bad_request(
            "volumes, existing_volumes: this fake makes OS volumes only",
        ));
    }
    let os_volume = request.os_volume.unwrap_or(OsVolumeRequest {
        name: String::new(),
        size: OS_VOLUME_GB.0,
        on_spot_discontinue: None,
    });
    if !(OS_VOLUME_GB.0..=OS_VOLUME_GB.1).contains(&os_volume.size) {
        return Err(bad_request(format!(
            "os_volume.size: must be {} to {} GB",
            OS_VOLUME_GB.0, OS_VOLUME_GB.1
        )));
    }
    if let Some(policy) = &os_volume.on_spot_discontinue
        && !["keep_detached", "move_to_trash", "delete_permanently"].contains(&policy.as_str())
    {
        return Err(bad_request(format!(
            "os_volume.on_spot_discontinue: {policy:?} is not one of: keep_detached, move_to_trash, delete_permanently"
        )));
    }
    let now = Instant::now();
    let timing = state.timing;
    let mut inner = state.lock();
    for key in &request.ssh_key_ids {
        if !inner.keys.iter().any(|k| k.id.to_string() == *key) {
            return Err(bad_request(format!("ssh_key_ids: no SSH key {key}")));
        }
    }
    let script = request.startup_script_id.filter(|s| !s.is_empty());
    if let Some(script) = &script
        && !inner.scripts.iter().any(|s| s.id.to_string() == *script)
    {
        return Err(bad_request(format!(
            "startup_script_id: no startup script {script}"
        )));
    }
    if !t.locations.contains(&location.as_str())
        || !inner
            .capacity_of(request.is_spot)
            .take(&location, t.instance_type)
    {
        // What Verda answers when no machine is free: no code of its own.
        return Err(bad_request(format!(
            "Not enough resources to deploy {}{} in {location}",
            t.instance_type,
            if request.is_spot { " (spot)" } else { "" }
        )));
    }
    let id = Uuid::new_v4();
    let volume_id = Uuid::new_v4();
    let ip = inner.allocate_address();
    let launch_outcome = inner.launch_outcome;
    inner.volumes.push(FakeVolume {
        id: volume_id,
        name: if os_volume.name.is_empty() {
            format!("OS-{}", request.hostname)
        } else {
            os_volume.name
        },
        size_gb: os_volume.size,
        location: location.clone(),
        instance_id: Some(id),
        is_os_volume: true,
        on_spot_discontinue: os_volume.on_spot_discontinue,
    });
    inner.instances.push(InstanceRecord {
        snapshot: FakeInstance {
            id,
            instance_type: request.instance_type,
            location,
            hostname: request.hostname,
            description: request.description,
            status: FakeStatus::Ordered,
            ip: Some(ip),
            image: request.image,
            ssh_key_ids: request.ssh_key_ids,
            startup_script_id: script,
            os_volume_id: Some(volume_id.to_string()),
            is_spot: request.is_spot,
            created_at: jiff::Timestamp::now().to_string(),
        },
        timeline: match launch_outcome {
            Some(status) => Timeline::starting(now, status),
            None => Timeline::starting(now, FakeStatus::Ordered)
                .then(timing.ordered, FakeStatus::Provisioning)
                .then(timing.provisioning, FakeStatus::Running),
        },
        holds_capacity: true,
    });
    drop(inner);
    Ok(plain_id(StatusCode::ACCEPTED, id))
}

/// One id or a list of them (the SDKs send a list; a single string is accepted too).
#[derive(Deserialize)]
#[serde(untagged)]
enum Ids {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct ActionRequest {
    action: String,
    id: Ids,
    #[serde(default)]
    volume_ids: Option<Vec<String>>,
    #[serde(default)]
    delete_permanently: bool,
}

/// What one instance's action came to.
struct ActionOutcome {
    id: String,
    failure: Option<ApiError>,
}

/// `PUT /instances`: an action on one or more instances. A single instance's failure is the
/// answer's status; with several, `207` lists each (`status` `success` or `error`).
async fn instance_action(State(state): State<FakeVerdaState>, body: Bytes) -> Reply {
    let request: ActionRequest = parse_body(&body)?;
    let ids = match request.id {
        Ids::One(id) => vec![id],
        Ids::Many(ids) => ids,
    };
    if ids.is_empty() {
        return Err(bad_request("id: at least one instance id is required"));
    }
    let action = request.action.as_str();
    if ![
        "start",
        "boot",
        "shutdown",
        "force_shutdown",
        "delete",
        "discontinue",
    ]
    .contains(&action)
    {
        return Err(bad_request(format!(
            "action: {action:?} is not one this fake serves (start, boot, shutdown, force_shutdown, delete, discontinue)"
        )));
    }
    let volume_ids = request.volume_ids.unwrap_or_default();
    let now = Instant::now();
    let timing = state.timing;
    let mut inner = state.lock();
    inner.purge(now);
    // Volumes to delete must be attached to one of the instances named: checked before
    // anything changes.
    for volume in &volume_ids {
        let attached = inner.volumes.iter().find(|v| v.id.to_string() == *volume);
        match attached {
            None => return Err(not_found("volume", volume)),
            Some(v) if !v.instance_id.is_some_and(|i| ids.contains(&i.to_string())) => {
                return Err(bad_request(format!(
                    "volume_ids: volume {volume} is not attached to the instances named"
                )));
            }
            Some(_) => {}
        }
    }
    let mut outcomes = Vec::with_capacity(ids.len());
    for id in ids {
        let failure = apply_action(
            &mut inner,
            &id,
            action,
            now,
            timing,
            &volume_ids,
            request.delete_permanently,
        )
        .err();
        outcomes.push(ActionOutcome { id, failure });
    }
    drop(inner);
    if let [only] = outcomes.as_mut_slice()
        && let Some(failure) = only.failure.take()
    {
        return Err(failure);
    }
    let all_ok = outcomes.iter().all(|o| o.failure.is_none());
    let results: Vec<_> = outcomes
        .iter()
        .map(|o| match &o.failure {
            None => json!({"action": action, "instanceId": o.id, "status": "success"}),
            Some(e) => json!({
                "action": action,
                "instanceId": o.id,
                "status": "error",
                "error": e.message,
                "statusCode": e.status.as_u16(),
            }),
        })
        .collect();
    let status = if all_ok {
        StatusCode::ACCEPTED
    } else {
        StatusCode::MULTI_STATUS
    };
    Ok((status, Json(results)).into_response())
}

fn apply_action(
    inner: &mut super::state::Inner,
    id: &str,
    action: &str,
    now: Instant,
    timing: super::state::Timing,
    volume_ids: &[String],
    permanently: bool,
) -> Result<(), ApiError> {
    let (record, instance) = inner
        .find(id, now)
        .ok_or_else(|| not_found("instance", id))?;
    let wrong_state = |verb: &str| {
        bad_request(format!(
            "cannot {verb} instance {id}: it is {}",
            instance.status.as_str()
        ))
    };
    match action {
        "shutdown" | "force_shutdown" => {
            if instance.status != FakeStatus::Running {
                return Err(wrong_state("shut down"));
            }
            record.timeline = Timeline::starting(now, FakeStatus::Running)
                .then(timing.shutdown, FakeStatus::Offline);
        }
        "start" | "boot" => {
            if instance.status != FakeStatus::Offline {
                return Err(wrong_state("start"));
            }
            record.timeline = Timeline::starting(now, FakeStatus::Provisioning)
                .then(timing.start, FakeStatus::Running);
        }
        _ => {
            if instance.status == FakeStatus::Deleting {
                return Ok(());
            }
            record.timeline =
                Timeline::starting(now, FakeStatus::Deleting).then_gone(timing.deleting);
            let gave_back = std::mem::take(&mut record.holds_capacity);
            let uuid = instance.id;
            if gave_back {
                inner
                    .capacity_of(instance.is_spot)
                    .give_back(&instance.location, &instance.instance_type);
            }
            // Volumes named go with it (to the trash unless permanently); the others stay,
            // detached (and billed).
            let (named, kept): (Vec<FakeVolume>, Vec<FakeVolume>) =
                std::mem::take(&mut inner.volumes)
                    .into_iter()
                    .partition(|v| {
                        v.instance_id == Some(uuid) && volume_ids.contains(&v.id.to_string())
                    });
            inner.volumes = kept;
            if !permanently {
                inner.trash.extend(named.into_iter().map(|mut v| {
                    v.instance_id = None;
                    v
                }));
            }
            for volume in &mut inner.volumes {
                if volume.instance_id == Some(uuid) {
                    volume.instance_id = None;
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// SSH keys

fn key_wire(k: &FakeSshKey) -> serde_json::Value {
    json!({
        "id": k.id,
        "name": k.name,
        "key": k.key,
        "fingerprint": "",
        "created_at": "2026-01-01T00:00:00Z",
    })
}

async fn list_keys(State(state): State<FakeVerdaState>) -> Reply {
    let wire: Vec<_> = state.lock().keys.iter().map(key_wire).collect();
    Ok(Json(wire).into_response())
}

async fn get_key(State(state): State<FakeVerdaState>, Path(id): Path<String>) -> Reply {
    let inner = state.lock();
    let key = inner
        .keys
        .iter()
        .find(|k| k.id.to_string() == id)
        .ok_or_else(|| not_found("ssh key", &id))?;
    // One key is answered as a list of one, as both SDKs read it.
    Ok(Json(vec![key_wire(key)]).into_response())
}

#[derive(Deserialize)]
struct AddKeyRequest {
    name: String,
    key: String,
}

/// Whether `key` reads as an OpenSSH public key (`<algorithm> <base64> [comment]`).
fn is_openssh_key(key: &str) -> bool {
    let mut parts = key.split_whitespace();
    matches!(
        (parts.next(), parts.next()),
        (Some(algorithm), Some(blob))
            if (algorithm.starts_with("ssh-") || algorithm.starts_with("ecdsa-"))
                && base64::engine::general_purpose::STANDARD.decode(blob).is_ok()
    )
}

async fn add_key(State(state): State<FakeVerdaState>, body: Bytes) -> Reply {
    let request: AddKeyRequest = parse_body(&body)?;
    if request.name.trim().is_empty() {
        return Err(bad_request("name: must not be empty"));
    }
    if !is_openssh_key(&request.key) {
        return Err(bad_request("key: not an OpenSSH public key"));
    }
    let id = Uuid::new_v4();
    state.lock().keys.push(FakeSshKey {
        id,
        name: request.name.trim().to_owned(),
        key: request.key.trim().to_owned(),
    });
    Ok(plain_id(StatusCode::CREATED, id))
}

async fn delete_key(State(state): State<FakeVerdaState>, Path(id): Path<String>) -> Reply {
    let mut inner = state.lock();
    let before = inner.keys.len();
    inner.keys.retain(|k| k.id.to_string() != id);
    if inner.keys.len() == before {
        return Err(not_found("ssh key", &id));
    }
    Ok(StatusCode::OK.into_response())
}

#[derive(Deserialize)]
struct DeleteKeys {
    keys: Vec<String>,
}

async fn delete_keys(State(state): State<FakeVerdaState>, body: Bytes) -> Reply {
    let request: DeleteKeys = parse_body(&body)?;
    state
        .lock()
        .keys
        .retain(|k| !request.keys.contains(&k.id.to_string()));
    Ok(StatusCode::OK.into_response())
}

// ---------------------------------------------------------------------------------------
// Startup scripts

fn script_wire(s: &FakeScript) -> serde_json::Value {
    json!({
        "id": s.id,
        "name": s.name,
        "script": s.script,
        "created_at": "2026-01-01T00:00:00Z",
    })
}

async fn list_scripts(State(state): State<FakeVerdaState>) -> Reply {
    let wire: Vec<_> = state.lock().scripts.iter().map(script_wire).collect();
    Ok(Json(wire).into_response())
}

async fn get_script(State(state): State<FakeVerdaState>, Path(id): Path<String>) -> Reply {
    let inner = state.lock();
    let script = inner
        .scripts
        .iter()
        .find(|s| s.id.to_string() == id)
        .ok_or_else(|| not_found("startup script", &id))?;
    Ok(Json(vec![script_wire(script)]).into_response())
}

#[derive(Deserialize)]
struct AddScriptRequest {
    name: String,
    script: String,
}

async fn add_script(State(state): State<FakeVerdaState>, body: Bytes) -> Reply {
    let request: AddScriptRequest = parse_body(&body)?;
    if request.name.trim().is_empty() {
        return Err(bad_request("name: must not be empty"));
    }
    if !request.script.starts_with("#!") {
        return Err(bad_request("script: must start with #!"));
    }
    let id = Uuid::new_v4();
    state.lock().scripts.push(FakeScript {
        id,
        name: request.name.trim().to_owned(),
        script: request.script,
    });
    Ok(plain_id(StatusCode::CREATED, id))
}

async fn delete_script(State(state): State<FakeVerdaState>, Path(id): Path<String>) -> Reply {
    let mut inner = state.lock();
    let before = inner.scripts.len();
    inner.scripts.retain(|s| s.id.to_string() != id);
    if inner.scripts.len() == before {
        return Err(not_found("startup script", &id));
    }
    Ok(StatusCode::OK.into_response())
}

#[derive(Deserialize)]
struct DeleteScripts {
    scripts: Vec<String>,
}

async fn delete_scripts(State(state): State<FakeVerdaState>, body: Bytes) -> Reply {
    let request: DeleteScripts = parse_body(&body)?;
    state
        .lock()
        .scripts
        .retain(|s| !request.scripts.contains(&s.id.to_string()));
    Ok(StatusCode::OK.into_response())
}

// ---------------------------------------------------------------------------------------
// Volumes

fn volume_wire(v: &FakeVolume) -> serde_json::Value {
    json!({
        "id": v.id,
        "name": v.name,
        "size": v.size_gb,
        "type": "NVMe",
        "status": if v.instance_id.is_some() { "attached" } else { "detached" },
        "created_at": "2026-01-01T00:00:00Z",
        "instance_id": v.instance_id,
        "location": v.location,
        "is_os_volume": v.is_os_volume,
        "on_spot_discontinue": v.on_spot_discontinue,
        "currency": "usd",
    })
}

async fn list_volumes(State(state): State<FakeVerdaState>) -> Reply {
    let wire: Vec<_> = state.lock().volumes.iter().map(volume_wire).collect();
    Ok(Json(wire).into_response())
}

async fn get_volume(State(state): State<FakeVerdaState>, Path(id): Path<String>) -> Reply {
    let inner = state.lock();
    let volume = inner
        .volumes
        .iter()
        .find(|v| v.id.to_string() == id)
        .ok_or_else(|| not_found("volume", &id))?;
    Ok(Json(volume_wire(volume)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssh_keys_are_recognized() {
        assert!(is_openssh_key(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me"
        ));
        assert!(!is_openssh_key("-----BEGIN PUBLIC KEY-----"));
        assert!(!is_openssh_key("ssh-ed25519 %%%"));
    }

    #[test]
    fn spot_flags_take_both_sdks_spellings() {
        let q = |s: &str| query_pairs(Some(s));
        assert!(spot_flag(&q("is_spot=true")).unwrap());
        assert!(spot_flag(&q("isSpot=true")).unwrap());
        assert!(!spot_flag(&q("location_code=FIN-01")).unwrap());
        assert!(spot_flag(&q("is_spot=yes")).is_err());
    }
}
