//! Routes, handlers and JSON shapes of the fake Fluidstack Infrastructure API. Auth, faults
//! and rate limits happen in the shared gate before a request gets here.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use uuid::Uuid;

use super::catalog;
use super::state::{
    FakeFluidstackState, FakeInstance, FakeInstanceState, FakeProject, InstanceRecord,
};
use crate::kit::Timeline;

/// The image an instance gets when the request names none (the description's default).
pub const DEFAULT_IMAGE: &str = "image://ubuntu22.04";

/// The project header every project-scoped endpoint requires.
pub const PROJECT_HEADER: &str = "x-project-id";

/// A Fluidstack error response: `{"message": "..."}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            message: &'a str,
        }
        (
            self.status,
            Json(Body {
                message: &self.message,
            }),
        )
            .into_response()
    }
}

/// An error with this status and message.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        message: message.into(),
    }
}

type Reply = Result<Response, ApiError>;

fn bad_request(message: impl Into<String>) -> ApiError {
    error(StatusCode::BAD_REQUEST, message)
}

fn instance_not_found(id: &str) -> ApiError {
    error(StatusCode::NOT_FOUND, format!("instance {id} not found"))
}

pub(crate) fn router(state: FakeFluidstackState) -> Router {
    let not_implemented = || async {
        error(
            StatusCode::NOT_IMPLEMENTED,
            "not implemented by this fake: it serves projects, instances, instance types, capacity and capabilities",
        )
    };
    Router::new()
        .route(
            "/{region}/api/v1alpha1/projects",
            get(list_projects).post(create_project),
        )
        .route(
            "/{region}/api/v1alpha1/projects/{id}",
            get(get_project).delete(delete_project),
        )
        .route(
            "/{region}/api/v1alpha1/instances",
            get(list_instances).post(create_instance),
        )
        .route(
            "/{region}/api/v1alpha1/instances/{id}",
            get(get_instance).delete(delete_instance),
        )
        .route(
            "/{region}/api/v1alpha1/instances/{id}/actions/start",
            post(start_instance),
        )
        .route(
            "/{region}/api/v1alpha1/instances/{id}/actions/stop",
            post(stop_instance),
        )
        .route("/{region}/api/v1alpha1/instance-types", get(instance_types))
        .route("/{region}/api/v1alpha1/capacity", get(capacity))
        .route("/{region}/api/v1alpha1/capabilities", get(capabilities))
        .route(
            "/{region}/api/v1alpha1/filesystems",
            axum::routing::any(not_implemented),
        )
        .route(
            "/{region}/api/v1alpha1/filesystems/{*rest}",
            axum::routing::any(not_implemented),
        )
        .route(
            "/{region}/api/v1alpha1/kubernetes/{*rest}",
            axum::routing::any(not_implemented),
        )
        .route(
            "/{region}/api/v1alpha1/slurm/{*rest}",
            axum::routing::any(not_implemented),
        )
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not found") })
        .method_not_allowed_fallback(|| async {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .with_state(state)
}

// ---------------------------------------------------------------------------------------
// Request checks

fn region(state: &FakeFluidstackState, region: &str) -> Result<(), ApiError> {
    if state.serves(region) {
        Ok(())
    } else {
        Err(error(
            StatusCode::NOT_FOUND,
            format!(
                "region {region:?} is not served here (served: {})",
                state.regions().join(", ")
            ),
        ))
    }
}

/// The project of a project-scoped request: `400` when `X-PROJECT-ID` is missing or not a
/// UUID, `403` when no such project is visible to the key.
fn project(state: &FakeFluidstackState, headers: &HeaderMap) -> Result<Uuid, ApiError> {
    let Some(value) = headers.get(PROJECT_HEADER) else {
        return Err(bad_request("header X-PROJECT-ID is required"));
    };
    let id = value
        .to_str()
        .ok()
        .and_then(|v| Uuid::parse_str(v.trim()).ok())
        .ok_or_else(|| bad_request("header X-PROJECT-ID must be a UUID"))?;
    if state.lock().project(id).is_some() {
        Ok(id)
    } else {
        Err(error(
            StatusCode::FORBIDDEN,
            format!("project {id} not found or not accessible"),
        ))
    }
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid request body: {e}")))
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
    for key in tags.keys() {
        let ok_len = (1..=63).contains(&key.len());
        let ok_chars = key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        let ok_ends = key.starts_with(|c: char| c.is_ascii_alphanumeric())
            && key.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !(ok_len && ok_chars && ok_ends) {
            return Err(bad_request(format!(
                "tags: key {key:?} must be 1-63 characters, start and end with an alphanumeric and contain only alphanumerics, '-', '_' and '.'"
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Projects

#[derive(Serialize)]
struct ProjectWire<'a> {
    id: Uuid,
    name: &'a str,
    state: &'static str,
    tags: &'a BTreeMap<String, String>,
}

impl<'a> From<&'a FakeProject> for ProjectWire<'a> {
    fn from(p: &'a FakeProject) -> Self {
        ProjectWire {
            id: p.id,
            name: &p.name,
            state: "active",
            tags: &p.tags,
        }
    }
}

async fn list_projects(State(state): State<FakeFluidstackState>, Path(r): Path<String>) -> Reply {
    region(&state, &r)?;
    let projects = state.projects();
    let wire: Vec<ProjectWire<'_>> = projects.iter().map(ProjectWire::from).collect();
    Ok(Json(wire).into_response())
}

#[derive(Deserialize)]
struct ProjectRequest {
    name: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

async fn create_project(
    State(state): State<FakeFluidstackState>,
    Path(r): Path<String>,
    body: Bytes,
) -> Reply {
    region(&state, &r)?;
    let request: ProjectRequest = parse_body(&body)?;
    if request.name.trim().is_empty() {
        return Err(bad_request("name: must not be empty"));
    }
    check_tags(&request.tags)?;
    let project = FakeProject {
        id: Uuid::new_v4(),
        name: request.name,
        tags: request.tags,
    };
    let response = (StatusCode::CREATED, Json(ProjectWire::from(&project))).into_response();
    state.lock().projects.push(project);
    Ok(response)
}

fn project_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| error(StatusCode::NOT_FOUND, format!("project {id} not found")))
}

async fn get_project(
    State(state): State<FakeFluidstackState>,
    Path((r, id)): Path<(String, String)>,
) -> Reply {
    region(&state, &r)?;
    let uuid = project_id(&id)?;
    let inner = state.lock();
    let project = inner
        .project(uuid)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("project {id} not found")))?;
    Ok(Json(ProjectWire::from(project)).into_response())
}

async fn delete_project(
    State(state): State<FakeFluidstackState>,
    Path((r, id)): Path<(String, String)>,
) -> Reply {
    region(&state, &r)?;
    let uuid = project_id(&id)?;
    let mut inner = state.lock();
    let before = inner.projects.len();
    inner.projects.retain(|p| p.id != uuid);
    if inner.projects.len() == before {
        return Err(error(
            StatusCode::NOT_FOUND,
            format!("project {id} not found"),
        ));
    }
    // The project's instances go with it, in every region.
    inner.remove_where(|record| record.snapshot.project == uuid);
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------
// Instances

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InstanceWire<'a> {
    id: Uuid,
    name: &'a str,
    #[serde(rename = "type")]
    instance_type: &'a str,
    ip: Option<&'a str>,
    state: &'static str,
    image: &'a str,
    preemptible: bool,
    ephemeral: bool,
    user_data: Option<&'a str>,
    filesystems: &'a [Uuid],
    tags: &'a BTreeMap<String, String>,
}

impl<'a> From<&'a FakeInstance> for InstanceWire<'a> {
    fn from(i: &'a FakeInstance) -> Self {
        InstanceWire {
            id: i.id,
            name: &i.name,
            instance_type: &i.instance_type,
            ip: i.ip.as_deref(),
            state: i.state.as_str(),
            image: &i.image,
            preemptible: i.preemptible,
            ephemeral: i.ephemeral,
            user_data: i.user_data.as_deref(),
            filesystems: &i.filesystems,
            tags: &i.tags,
        }
    }
}

fn instance_response(status: StatusCode, instance: &FakeInstance) -> Response {
    (status, Json(InstanceWire::from(instance))).into_response()
}

async fn list_instances(
    State(state): State<FakeFluidstackState>,
    Path(r): Path<String>,
    headers: HeaderMap,
) -> Reply {
    region(&state, &r)?;
    let project = project(&state, &headers)?;
    let now = Instant::now();
    let instances: Vec<FakeInstance> = {
        let mut inner = state.lock();
        if let Some(body) = inner
            .frozen_lists
            .as_ref()
            .and_then(|lists| lists.get(&(project, r.clone())))
        {
            return Ok(json_bytes(body.clone()));
        }
        inner.purge(now);
        inner
            .instances
            .iter()
            .filter(|rec| rec.snapshot.project == project && rec.snapshot.region == r)
            .filter_map(|rec| rec.at(now))
            .collect()
    };
    Ok(json_bytes(list_body(&instances)))
}

/// The JSON of a list of instances, as `GET /instances` answers it.
pub(crate) fn list_body(instances: &[FakeInstance]) -> Bytes {
    let wire: Vec<InstanceWire<'_>> = instances.iter().map(InstanceWire::from).collect();
    // Serializing plain structs of strings, numbers and string maps cannot fail.
    Bytes::from(serde_json::to_vec(&wire).unwrap_or_default())
}

/// A `200` answer of JSON already serialized.
fn json_bytes(body: Bytes) -> Response {
    ([(http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstanceRequest {
    name: String,
    #[serde(rename = "type")]
    instance_type: String,
    image: Option<String>,
    #[serde(default)]
    preemptible: bool,
    #[serde(default)]
    ephemeral: bool,
    user_data: Option<String>,
    #[serde(default)]
    filesystems: Vec<Uuid>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

async fn create_instance(
    State(state): State<FakeFluidstackState>,
    Path(r): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    region(&state, &r)?;
    let project = project(&state, &headers)?;
    let request: InstanceRequest = parse_body(&body)?;
    if request.name.trim().is_empty() {
        return Err(bad_request("name: must not be empty"));
    }
    let Some(instance_type) = catalog::instance_type(&request.instance_type) else {
        return Err(bad_request(format!(
            "type: unknown instance type {:?}",
            request.instance_type
        )));
    };
    if let Some(user_data) = &request.user_data
        && base64::engine::general_purpose::STANDARD
            .decode(user_data)
            .is_err()
    {
        return Err(bad_request("userData: must be base64"));
    }
    check_tags(&request.tags)?;
    let image = request.image.unwrap_or_else(|| DEFAULT_IMAGE.to_owned());
    if image.trim().is_empty() {
        return Err(bad_request("image: must not be empty"));
    }
    let now = Instant::now();
    let timing = state.timing;
    let mut inner = state.lock();
    let has_capacity = inner.capacity.take(&r, instance_type.name);
    let ip = inner.allocate_address();
    let settles_as = if has_capacity {
        FakeInstanceState::Running
    } else {
        FakeInstanceState::OutOfStock
    };
    let record = InstanceRecord {
        snapshot: FakeInstance {
            id: Uuid::new_v4(),
            project,
            region: r,
            name: request.name,
            instance_type: instance_type.name.to_owned(),
            state: FakeInstanceState::Creating,
            ip: Some(ip),
            image,
            preemptible: request.preemptible,
            ephemeral: request.ephemeral,
            user_data: request.user_data,
            filesystems: request.filesystems,
            tags: request.tags,
        },
        timeline: Timeline::starting(now, FakeInstanceState::Creating)
            .then(timing.create, settles_as),
        ip_from: has_capacity.then(|| now + timing.create),
        holds_capacity: has_capacity,
    };
    let created = record.at(now).unwrap_or_else(|| record.snapshot.clone());
    inner.instances.push(record);
    drop(inner);
    Ok(instance_response(StatusCode::CREATED, &created))
}

/// The instance `id` of `project` in region `r`, unless absent or gone.
fn scoped<'a>(
    inner: &'a mut super::state::Inner,
    r: &str,
    project: Uuid,
    id: &str,
    now: Instant,
) -> Result<(&'a mut InstanceRecord, FakeInstance), ApiError> {
    let uuid = Uuid::parse_str(id).map_err(|_| instance_not_found(id))?;
    match inner.find(uuid, now) {
        Some((record, instance)) if instance.project == project && instance.region == r => {
            Ok((record, instance))
        }
        _ => Err(instance_not_found(id)),
    }
}

async fn get_instance(
    State(state): State<FakeFluidstackState>,
    Path((r, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply {
    region(&state, &r)?;
    let project = project(&state, &headers)?;
    let mut inner = state.lock();
    let (_, instance) = scoped(&mut inner, &r, project, &id, Instant::now())?;
    drop(inner);
    Ok(instance_response(StatusCode::OK, &instance))
}

async fn delete_instance(
    State(state): State<FakeFluidstackState>,
    Path((r, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply {
    region(&state, &r)?;
    let project = project(&state, &headers)?;
    let now = Instant::now();
    let delay = state.timing.delete;
    let mut inner = state.lock();
    let (record, instance) = scoped(&mut inner, &r, project, &id, now)?;
    if instance.state != FakeInstanceState::Deleting {
        record.timeline = Timeline::starting(now, FakeInstanceState::Deleting).then_gone(delay);
        if record.holds_capacity {
            record.holds_capacity = false;
            let (region, instance_type) = (instance.region.clone(), instance.instance_type.clone());
            inner.capacity.give_back(&region, &instance_type);
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Stop or start: from `from` through `via` to `to` after `delay`; `409` from any other state.
fn action(
    state: &FakeFluidstackState,
    (r, id): (String, String),
    headers: &HeaderMap,
    verb: &str,
    [from, via, to]: [FakeInstanceState; 3],
    delay: std::time::Duration,
) -> Reply {
    region(state, &r)?;
    let project = project(state, headers)?;
    let now = Instant::now();
    let mut inner = state.lock();
    let (record, instance) = scoped(&mut inner, &r, project, &id, now)?;
    if instance.state != from {
        return Err(error(
            StatusCode::CONFLICT,
            format!(
                "cannot {verb} instance {id} in state {}: it must be {}",
                instance.state.as_str(),
                from.as_str()
            ),
        ));
    }
    record.timeline = Timeline::starting(now, via).then(delay, to);
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn stop_instance(
    State(state): State<FakeFluidstackState>,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply {
    use FakeInstanceState as S;
    let delay = state.timing.stop;
    action(
        &state,
        path,
        &headers,
        "stop",
        [S::Running, S::Stopping, S::Stopped],
        delay,
    )
}

async fn start_instance(
    State(state): State<FakeFluidstackState>,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply {
    use FakeInstanceState as S;
    let delay = state.timing.start;
    action(
        &state,
        path,
        &headers,
        "start",
        [S::Stopped, S::Starting, S::Running],
        delay,
    )
}

// ---------------------------------------------------------------------------------------
// Catalog

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InstanceTypeWire {
    name: &'static str,
    cpu: u32,
    memory: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    gpu_model: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gpu_count: Option<u32>,
}

async fn instance_types(State(state): State<FakeFluidstackState>, Path(r): Path<String>) -> Reply {
    region(&state, &r)?;
    let wire: Vec<InstanceTypeWire> = catalog::INSTANCE_TYPES
        .iter()
        .map(|t| InstanceTypeWire {
            name: t.name,
            cpu: t.cpu,
            memory: t.memory,
            gpu_model: t.gpu_model,
            gpu_count: t.gpu_count,
        })
        .collect();
    Ok(Json(wire).into_response())
}

#[derive(Serialize)]
struct CapacityWire {
    name: &'static str,
    capacity: u32,
}

async fn capacity(
    State(state): State<FakeFluidstackState>,
    Path(r): Path<String>,
    headers: HeaderMap,
) -> Reply {
    region(&state, &r)?;
    project(&state, &headers)?;
    let inner = state.lock();
    let wire: Vec<CapacityWire> = catalog::INSTANCE_TYPES
        .iter()
        .map(|t| CapacityWire {
            name: t.name,
            capacity: inner.capacity.get(&r, t.name),
        })
        .collect();
    drop(inner);
    Ok(Json(wire).into_response())
}

/// What the fake serves, in the description's `Capability` names.
pub const CAPABILITIES: &[&str] = &[
    "instances:list",
    "instances:create",
    "instances:delete",
    "instances:read",
    "instances:start",
    "instances:stop",
    "projects:list",
    "projects:create",
    "projects:delete",
    "projects:read",
];

async fn capabilities(State(state): State<FakeFluidstackState>, Path(r): Path<String>) -> Reply {
    region(&state, &r)?;
    Ok(Json(CAPABILITIES).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_keys_follow_the_description() {
        let tags = |k: &str| BTreeMap::from([(k.to_owned(), "v".to_owned())]);
        for good in ["a", "gpucloud.ref-id", "A_1", &"k".repeat(63)] {
            assert!(check_tags(&tags(good)).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "a b", "ä", &"k".repeat(64)] {
            assert!(check_tags(&tags(bad)).is_err(), "{bad}");
        }
    }
}
