//! Routes, handlers and JSON shapes of the fake Shadeform API. Auth, faults and rate limits
//! happen in the shared gate before a request gets here.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use bytes::Bytes;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use uuid::Uuid;

use super::catalog::{self, CatalogOffer, OS_OPTIONS};
use super::state::{
    Accounts, FakeInstance, FakeShadeformState, FakeSshKey, FakeStatus, InstanceRecord, Launch,
};

/// The code of a launch the offer has no capacity for (or no such region): HTTP 409.
pub const OUT_OF_STOCK: &str = "OUT_OF_STOCK";

/// The SSH user of every fake instance (Shadeform's images use `shadeform`).
pub const SSH_USER: &str = "shadeform";

/// What the API sends for a time that has not happened (Go's zero time).
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A Shadeform error response: `{"error_code": "...", "error": "..."}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            error_code: &'a str,
            error: &'a str,
        }
        (
            self.status,
            Json(Body {
                error_code: self.code,
                error: &self.message,
            }),
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
    error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
}

fn instance_not_found(id: &str) -> ApiError {
    error(
        StatusCode::NOT_FOUND,
        "INSTANCE_NOT_FOUND",
        format!("instance {id} not found"),
    )
}

fn key_not_found(id: &str) -> ApiError {
    error(
        StatusCode::NOT_FOUND,
        "SSH_KEY_NOT_FOUND",
        format!("ssh key {id} not found"),
    )
}

pub(crate) fn router(state: FakeShadeformState) -> Router {
    let not_implemented = || async {
        error(
            StatusCode::NOT_IMPLEMENTED,
            "NOT_IMPLEMENTED",
            "not implemented by this fake: it serves instances, instance types and SSH keys",
        )
    };
    Router::new()
        .route("/v1/instances", get(list_instances))
        .route("/v1/instances/types", get(instance_types))
        .route("/v1/instances/create", post(create_instance))
        .route("/v1/instances/{id}/info", get(instance_info))
        .route("/v1/instances/{id}/update", post(update_instance))
        .route("/v1/instances/{id}/delete", post(delete_instance))
        .route("/v1/instances/{id}/restart", post(restart_instance))
        .route("/v1/sshkeys", get(list_keys))
        .route("/v1/sshkeys/add", post(add_key))
        .route("/v1/sshkeys/{id}/info", get(key_info))
        .route("/v1/sshkeys/{id}/delete", post(delete_key))
        .route("/v1/sshkeys/{id}/setdefault", post(set_default_key))
        .route("/v1/clusters", axum::routing::any(not_implemented))
        .route("/v1/clusters/{*rest}", axum::routing::any(not_implemented))
        .route("/v1/volumes", axum::routing::any(not_implemented))
        .route("/v1/volumes/{*rest}", axum::routing::any(not_implemented))
        .route("/v1/templates", axum::routing::any(not_implemented))
        .route("/v1/templates/{*rest}", axum::routing::any(not_implemented))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "NOT_FOUND", "not found") })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
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

// ---------------------------------------------------------------------------------------
// Instance types

#[derive(Serialize)]
struct ConfigurationWire<'a> {
    memory_in_gb: u32,
    storage_in_gb: u32,
    vcpus: u32,
    num_gpus: u32,
    gpu_type: &'a str,
    interconnect: &'a str,
    nvlink: bool,
    vram_per_gpu_in_gb: u32,
    gpu_manufacturer: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    os_options: Option<&'a [&'a str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    os: Option<&'a str>,
}

fn configuration<'a>(o: &'a CatalogOffer, os: Option<&'a str>) -> ConfigurationWire<'a> {
    ConfigurationWire {
        memory_in_gb: o.memory_in_gb,
        storage_in_gb: o.storage_in_gb,
        vcpus: o.vcpus,
        num_gpus: o.num_gpus,
        gpu_type: o.gpu_type,
        interconnect: o.interconnect,
        nvlink: o.nvlink,
        vram_per_gpu_in_gb: o.vram_per_gpu_in_gb,
        gpu_manufacturer: o.gpu_manufacturer,
        os_options: os.is_none().then_some(OS_OPTIONS),
        os,
    }
}

#[derive(Serialize)]
struct BootTimeWire {
    min_boot_in_sec: u32,
    max_boot_in_sec: u32,
}

#[derive(Serialize)]
struct AvailabilityWire<'a> {
    region: &'a str,
    available: bool,
    display_name: &'a str,
}

#[derive(Serialize)]
struct InstanceTypeWire<'a> {
    cloud: &'a str,
    shade_instance_type: &'a str,
    cloud_instance_type: &'a str,
    configuration: ConfigurationWire<'a>,
    hourly_price: u32,
    deployment_type: &'a str,
    availability: Vec<AvailabilityWire<'a>>,
    boot_time: BootTimeWire,
}

async fn instance_types(State(state): State<FakeShadeformState>, RawQuery(raw): RawQuery) -> Reply {
    let query = query_pairs(raw.as_deref());
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let available_only = match get("available") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(bad_request(format!(
                "available: {other:?} is not a boolean"
            )));
        }
    };
    let num_gpus = match get("num_gpus") {
        None => None,
        Some(n) => Some(
            n.parse::<u32>()
                .map_err(|_| bad_request(format!("num_gpus: {n:?} is not a number")))?,
        ),
    };
    if let Some(sort) = get("sort")
        && sort != "price"
    {
        return Err(bad_request(format!("sort: {sort:?} is not one of: price")));
    }
    let inner = state.lock();
    let mut wire: Vec<InstanceTypeWire<'_>> = Vec::new();
    for o in catalog::OFFERS {
        if get("cloud").is_some_and(|c| c != o.cloud)
            || get("shade_instance_type").is_some_and(|t| t != o.shade_instance_type)
            || get("gpu_type").is_some_and(|t| t != o.gpu_type)
            || num_gpus.is_some_and(|n| n != o.num_gpus)
        {
            continue;
        }
        let key = catalog::capacity_key(o.cloud, o.shade_instance_type);
        let availability: Vec<AvailabilityWire<'_>> = o
            .regions
            .iter()
            .filter(|r| get("region").is_none_or(|want| want == r.region))
            .map(|r| AvailabilityWire {
                region: r.region,
                available: inner.capacity.get(r.region, &key) > 0,
                display_name: r.display_name,
            })
            .filter(|a| available_only.is_none_or(|want| want == a.available))
            .collect();
        if availability.is_empty() {
            continue;
        }
        wire.push(InstanceTypeWire {
            cloud: o.cloud,
            shade_instance_type: o.shade_instance_type,
            cloud_instance_type: o.cloud_instance_type,
            configuration: configuration(o, None),
            hourly_price: o.hourly_price,
            deployment_type: o.deployment_type,
            availability,
            boot_time: BootTimeWire {
                min_boot_in_sec: o.boot_time.0,
                max_boot_in_sec: o.boot_time.1,
            },
        });
    }
    drop(inner);
    if get("sort").is_some() {
        wire.sort_by_key(|t| t.hourly_price);
    }
    Ok(Json(serde_json::json!({ "instance_types": wire })).into_response())
}

// ---------------------------------------------------------------------------------------
// Instances

#[derive(Serialize)]
struct PortMappingWire {
    internal_port: u16,
    external_port: u16,
}

#[derive(Serialize)]
struct InstanceWire<'a> {
    id: Uuid,
    cloud: &'a str,
    region: &'a str,
    shade_instance_type: &'a str,
    cloud_instance_type: &'a str,
    cloud_assigned_id: &'a str,
    shade_cloud: bool,
    name: &'a str,
    configuration: ConfigurationWire<'a>,
    ip: &'a str,
    ssh_user: &'a str,
    ssh_port: u16,
    status: &'static str,
    status_details: &'static str,
    cost_estimate: String,
    hourly_price: u32,
    tags: &'a [String],
    port_mappings: Vec<PortMappingWire>,
    created_at: &'a str,
    active_at: String,
    deleted_at: String,
    boot_time: BootTimeWire,
    #[serde(skip_serializing_if = "Option::is_none")]
    ssh_key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    launch_configuration: Option<serde_json::Value>,
}

/// A time as the API writes it: RFC 3339, or Go's zero time for one that has not happened.
fn api_time(at: Option<jiff::Timestamp>) -> String {
    at.map_or_else(|| ZERO_TIME.to_owned(), |t| t.to_string())
}

/// The API's shape of instance `i` with this status, address and accounts (`info` adds the
/// key and the launch configuration, as `/instances/{id}/info` does).
fn wire_of<'a>(
    i: &'a FakeInstance,
    status: FakeStatus,
    ip: Option<&'a str>,
    accounts: Accounts,
    info: bool,
) -> Option<InstanceWire<'a>> {
    let offer = catalog::offer_of(&i.cloud, &i.shade_instance_type)?;
    Some(InstanceWire {
        id: i.id,
        cloud: &i.cloud,
        region: &i.region,
        shade_instance_type: &i.shade_instance_type,
        cloud_instance_type: offer.cloud_instance_type,
        cloud_assigned_id: &i.cloud_assigned_id,
        shade_cloud: true,
        name: &i.name,
        configuration: configuration(offer, Some(&i.os)),
        ip: ip.unwrap_or(""),
        ssh_user: &i.ssh_user,
        ssh_port: i.ssh_port,
        status: status.as_str(),
        status_details: status.details(),
        cost_estimate: accounts.cost_estimate(),
        hourly_price: offer.hourly_price,
        tags: &i.tags,
        port_mappings: Vec::new(),
        created_at: &i.created_at,
        active_at: api_time(accounts.active_at),
        deleted_at: api_time(accounts.deleted_at),
        boot_time: BootTimeWire {
            min_boot_in_sec: offer.boot_time.0,
            max_boot_in_sec: offer.boot_time.1,
        },
        ssh_key_id: info.then_some(i.ssh_key_id.as_str()),
        launch_configuration: if info {
            i.launch_script.as_ref().map(|script| {
                serde_json::json!({"type": "script", "script_configuration": {"base64_script": script}})
            })
        } else {
            None
        },
    })
}

/// `GET /instances`, written straight from the records: no copy of an instance (nor of its
/// launch script, which the list does not show) and no JSON tree, so a list of 10,000 costs
/// the fake little more than its answer.
async fn list_instances(State(state): State<FakeShadeformState>) -> Reply {
    #[derive(Serialize)]
    struct Body<'a> {
        instances: Vec<InstanceWire<'a>>,
    }
    let now = Instant::now();
    let mut inner = state.lock();
    inner.purge(now);
    let instances: Vec<InstanceWire<'_>> = inner
        .instances
        .iter()
        .filter_map(|r| {
            let (status, ip) = r.status_at(now)?;
            (status != FakeStatus::Deleted)
                .then(|| wire_of(&r.snapshot, status, ip, r.accounts(now), false))
                .flatten()
        })
        .collect();
    Ok(Json(Body { instances }).into_response())
}

#[derive(Deserialize)]
struct LaunchConfigurationRequest {
    #[serde(rename = "type")]
    kind: String,
    script_configuration: Option<ScriptRequest>,
    docker_configuration: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ScriptRequest {
    base64_script: String,
}

#[derive(Deserialize)]
struct CreateRequest {
    cloud: String,
    region: String,
    shade_instance_type: String,
    /// Optional in the live API (clients in use omit it), with Shade Cloud as the default.
    shade_cloud: Option<bool>,
    name: String,
    os: Option<String>,
    ssh_key_id: Option<String>,
    launch_configuration: Option<LaunchConfigurationRequest>,
    #[serde(default)]
    tags: Vec<String>,
}

/// The launch script of a request, checked: `script` needs valid base64, `docker` an image.
fn launch_script(lc: Option<LaunchConfigurationRequest>) -> Result<Option<String>, ApiError> {
    let Some(lc) = lc else {
        return Ok(None);
    };
    match lc.kind.as_str() {
        "script" => {
            let script = lc.script_configuration.ok_or_else(|| {
                bad_request("launch_configuration.script_configuration is required for type script")
            })?;
            base64::engine::general_purpose::STANDARD
                .decode(script.base64_script.trim())
                .map_err(|_| {
                    bad_request(
                        "launch_configuration.script_configuration.base64_script: must be base64",
                    )
                })?;
            Ok(Some(script.base64_script))
        }
        "docker" => {
            let image = lc
                .docker_configuration
                .as_ref()
                .and_then(|d| d.get("image"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            if image.is_empty() {
                return Err(bad_request(
                    "launch_configuration.docker_configuration.image is required for type docker",
                ));
            }
            Ok(None)
        }
        other => Err(bad_request(format!(
            "launch_configuration.type: {other:?} is not one of: docker, script"
        ))),
    }
}

async fn create_instance(State(state): State<FakeShadeformState>, body: Bytes) -> Reply {
    let request: CreateRequest = parse_body(&body)?;
    if request.name.trim().is_empty() {
        return Err(bad_request("name: must not be empty"));
    }
    if !request.shade_cloud.unwrap_or(true) {
        return Err(bad_request(
            "shade_cloud: this fake has no linked cloud accounts; launch in Shadeform's (true)",
        ));
    }
    let Some(offer) = catalog::offer_of(&request.cloud, &request.shade_instance_type) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "INVALID_INSTANCE_TYPE",
            format!(
                "cloud {:?} has no shade_instance_type {:?}",
                request.cloud, request.shade_instance_type
            ),
        ));
    };
    if !offer.regions.iter().any(|r| r.region == request.region) {
        // The real API answers an unknown region so, too.
        return Err(error(
            StatusCode::CONFLICT,
            OUT_OF_STOCK,
            format!(
                "{} {} is out of stock in {:?}",
                request.cloud, request.shade_instance_type, request.region
            ),
        ));
    }
    let os = match request.os {
        Some(os) if !OS_OPTIONS.contains(&os.as_str()) => {
            return Err(bad_request(format!(
                "os: {os:?} is not one of: {}",
                OS_OPTIONS.join(", ")
            )));
        }
        Some(os) => os,
        None => OS_OPTIONS[0].to_owned(),
    };
    let launch = launch_script(request.launch_configuration)?;
    // Drawn before the lock: the fault switches have their own.
    let schedule = Launch::draw(state.faults());
    let now = Instant::now();
    let timing = state.timing;
    let mut inner = state.lock();
    let ssh_key_id = match request.ssh_key_id.as_deref().map(str::trim) {
        None | Some("") => inner
            .keys
            .iter()
            .find(|k| k.is_default)
            .map(|k| k.id.to_string())
            .unwrap_or_default(),
        Some(id) => {
            if !inner.keys.iter().any(|k| k.id.to_string() == id) {
                return Err(bad_request(format!("ssh_key_id: no ssh key {id}")));
            }
            id.to_owned()
        }
    };
    let key = catalog::capacity_key(&request.cloud, &request.shade_instance_type);
    if !inner.capacity.take(&request.region, &key) {
        return Err(error(
            StatusCode::CONFLICT,
            OUT_OF_STOCK,
            format!(
                "{} {} is out of stock in {}",
                request.cloud, request.shade_instance_type, request.region
            ),
        ));
    }
    let id = Uuid::new_v4();
    let ip = inner.allocate_address();
    let (timeline, active_from) = schedule.schedule(now, timing);
    let born_at = jiff::Timestamp::now();
    inner.instances.push(InstanceRecord::new(
        FakeInstance {
            id,
            cloud: request.cloud,
            region: request.region,
            shade_instance_type: request.shade_instance_type,
            cloud_assigned_id: Uuid::new_v4().to_string(),
            name: request.name,
            os,
            status: FakeStatus::Creating,
            ip: Some(ip),
            ssh_user: SSH_USER.to_owned(),
            ssh_port: 22,
            ssh_key_id,
            launch_script: launch,
            tags: request.tags,
            created_at: born_at.to_string(),
            restarts: 0,
            active_at: None,
            status_details: String::new(),
            cost_estimate: String::new(),
        },
        timeline,
        true,
        (now, born_at),
        active_from,
    ));
    drop(inner);
    Ok(Json(serde_json::json!({ "id": id })).into_response())
}

/// The instance `id` unless absent, gone or `deleted` (the API's "non deleted" instances).
fn live<'a>(
    inner: &'a mut super::state::Inner,
    id: &str,
    now: Instant,
) -> Result<(&'a mut InstanceRecord, FakeInstance), ApiError> {
    let uuid = Uuid::parse_str(id).map_err(|_| instance_not_found(id))?;
    match inner.find(uuid, now) {
        Some((record, instance)) if instance.status != FakeStatus::Deleted => {
            Ok((record, instance))
        }
        _ => Err(instance_not_found(id)),
    }
}

async fn instance_info(State(state): State<FakeShadeformState>, Path(id): Path<String>) -> Reply {
    let now = Instant::now();
    let mut inner = state.lock();
    let (record, instance) = live(&mut inner, &id, now)?;
    let accounts = record.accounts(now);
    drop(inner);
    let wire = wire_of(
        &instance,
        instance.status,
        instance.ip.as_deref(),
        accounts,
        true,
    )
    .ok_or_else(|| instance_not_found(&id))?;
    Ok(Json(wire).into_response())
}

async fn update_instance(
    State(state): State<FakeShadeformState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let request: serde_json::Map<String, serde_json::Value> = parse_body(&body)?;
    let mut inner = state.lock();
    let (record, _) = live(&mut inner, &id, Instant::now())?;
    // A field set to null is deleted; an omitted field is kept.
    match request.get("name") {
        None => {}
        Some(serde_json::Value::String(name)) if !name.trim().is_empty() => {
            record.snapshot.name.clone_from(name);
        }
        Some(_) => return Err(bad_request("name: must be a non-empty string")),
    }
    match request.get("tags") {
        None => {}
        Some(serde_json::Value::Null) => record.snapshot.tags.clear(),
        Some(serde_json::Value::Array(tags)) => {
            record.snapshot.tags = tags
                .iter()
                .map(|t| {
                    t.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad_request("tags: must be strings"))
                })
                .collect::<Result<_, _>>()?;
        }
        Some(_) => return Err(bad_request("tags: must be an array of strings")),
    }
    Ok(StatusCode::OK.into_response())
}

async fn delete_instance(State(state): State<FakeShadeformState>, Path(id): Path<String>) -> Reply {
    let now = Instant::now();
    let timing = state.timing;
    let mut inner = state.lock();
    let (record, instance) = live(&mut inner, &id, now)?;
    if instance.status != FakeStatus::Deleting {
        record.delete(now, timing);
        if record.holds_capacity {
            record.holds_capacity = false;
            let key = catalog::capacity_key(&instance.cloud, &instance.shade_instance_type);
            inner.capacity.give_back(&instance.region, &key);
        }
    }
    Ok(StatusCode::OK.into_response())
}

async fn restart_instance(
    State(state): State<FakeShadeformState>,
    Path(id): Path<String>,
) -> Reply {
    let mut inner = state.lock();
    let (record, instance) = live(&mut inner, &id, Instant::now())?;
    if instance.status != FakeStatus::Active {
        return Err(error(
            StatusCode::CONFLICT,
            "INSTANCE_NOT_ACTIVE",
            format!(
                "instance {id} is {}: only active instances can be restarted",
                instance.status.as_str()
            ),
        ));
    }
    // The status stays active throughout, as the API documents.
    record.snapshot.restarts += 1;
    Ok(StatusCode::OK.into_response())
}

// ---------------------------------------------------------------------------------------
// SSH keys

#[derive(Serialize)]
struct KeyWire<'a> {
    id: Uuid,
    name: &'a str,
    public_key: &'a str,
    is_default: bool,
}

impl<'a> From<&'a FakeSshKey> for KeyWire<'a> {
    fn from(k: &'a FakeSshKey) -> Self {
        KeyWire {
            id: k.id,
            name: &k.name,
            public_key: &k.public_key,
            is_default: k.is_default,
        }
    }
}

async fn list_keys(State(state): State<FakeShadeformState>) -> Reply {
    let keys = state.ssh_keys();
    let wire: Vec<KeyWire<'_>> = keys.iter().map(KeyWire::from).collect();
    Ok(Json(serde_json::json!({ "ssh_keys": wire })).into_response())
}

#[derive(Deserialize)]
struct AddKeyRequest {
    name: String,
    public_key: String,
}

async fn add_key(State(state): State<FakeShadeformState>, body: Bytes) -> Reply {
    let request: AddKeyRequest = parse_body(&body)?;
    let name = request.name.trim();
    if name.is_empty() {
        return Err(bad_request("name: must not be empty"));
    }
    let mut parts = request.public_key.split_whitespace();
    let well_formed = matches!(
        (parts.next(), parts.next()),
        (Some(algorithm), Some(blob))
            if (algorithm.starts_with("ssh-") || algorithm.starts_with("ecdsa-"))
                && base64::engine::general_purpose::STANDARD.decode(blob).is_ok()
    );
    if !well_formed {
        return Err(bad_request("public_key: not an OpenSSH public key"));
    }
    let mut inner = state.lock();
    if inner.keys.iter().any(|k| k.name == name) {
        return Err(error(
            StatusCode::CONFLICT,
            "SSH_KEY_NAME_TAKEN",
            format!("ssh key name must be unique: {name:?} exists"),
        ));
    }
    let id = Uuid::new_v4();
    inner.keys.push(FakeSshKey {
        id,
        name: name.to_owned(),
        public_key: request.public_key.trim().to_owned(),
        is_default: false,
    });
    drop(inner);
    Ok(Json(serde_json::json!({ "id": id })).into_response())
}

fn key_index(inner: &super::state::Inner, id: &str) -> Result<usize, ApiError> {
    let uuid = Uuid::parse_str(id).map_err(|_| key_not_found(id))?;
    inner
        .keys
        .iter()
        .position(|k| k.id == uuid)
        .ok_or_else(|| key_not_found(id))
}

async fn key_info(State(state): State<FakeShadeformState>, Path(id): Path<String>) -> Reply {
    let inner = state.lock();
    let index = key_index(&inner, &id)?;
    Ok(Json(KeyWire::from(&inner.keys[index])).into_response())
}

async fn delete_key(State(state): State<FakeShadeformState>, Path(id): Path<String>) -> Reply {
    let now = Instant::now();
    let mut inner = state.lock();
    inner.purge(now);
    let index = key_index(&inner, &id)?;
    if inner.keys[index].is_default {
        return Err(error(
            StatusCode::CONFLICT,
            "SSH_KEY_IS_DEFAULT",
            "the default ssh key cannot be deleted",
        ));
    }
    if inner.instances.iter().any(|r| r.uses_key(&id, now)) {
        return Err(error(
            StatusCode::CONFLICT,
            "SSH_KEY_IN_USE",
            "an instance uses this ssh key",
        ));
    }
    inner.keys.remove(index);
    Ok(StatusCode::OK.into_response())
}

async fn set_default_key(State(state): State<FakeShadeformState>, Path(id): Path<String>) -> Reply {
    let mut inner = state.lock();
    let index = key_index(&inner, &id)?;
    for (i, key) in inner.keys.iter_mut().enumerate() {
        key.is_default = i == index;
    }
    Ok(StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_decoded() {
        assert_eq!(
            query_pairs(Some(
                "cloud=hyperstack&shade_instance_type=A100_80G&region=us%2Deast"
            )),
            [
                ("cloud".to_owned(), "hyperstack".to_owned()),
                ("shade_instance_type".to_owned(), "A100_80G".to_owned()),
                ("region".to_owned(), "us-east".to_owned()),
            ]
        );
        assert!(query_pairs(None).is_empty() && query_pairs(Some("")).is_empty());
    }

    #[test]
    fn launch_configurations_are_checked() {
        let lc =
            |json: serde_json::Value| launch_script(Some(serde_json::from_value(json).unwrap()));
        assert_eq!(
            lc(serde_json::json!({"type": "script", "script_configuration": {"base64_script": "ZWNobwo="}})).unwrap(),
            Some("ZWNobwo=".to_owned())
        );
        assert!(lc(serde_json::json!({"type": "script", "script_configuration": {"base64_script": "%%"}})).is_err());
        assert!(lc(serde_json::json!({"type": "script"})).is_err());
        assert!(
            lc(serde_json::json!({"type": "docker", "docker_configuration": {"image": "x"}}))
                .unwrap()
                .is_none()
        );
        assert!(lc(serde_json::json!({"type": "vm"})).is_err());
    }
}
