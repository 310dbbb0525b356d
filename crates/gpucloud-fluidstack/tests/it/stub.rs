//! A small stateful stand-in for Fluidstack's API, serving several regions under
//! `/{region}/api/v1alpha1`, until the shared fake (gpucloud-fakes) serves Fluidstack. It
//! checks the bearer key and `X-PROJECT-ID` like the API and records every request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub const API_KEY: &str = "fs-test-key";
pub const PROJECT_ID: &str = "123e4567-e89b-12d3-a456-426614174003";
pub const PROJECT_NAME: &str = "ml-team";
pub const H100: &str = "h100-hgx-80gb.8x";
pub const L40S: &str = "l40s-48gb.1x";

/// One recorded request: the path after the region prefix and the project header.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub project: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StubInstance {
    pub id: String,
    pub region: String,
    pub name: String,
    pub instance_type: String,
    pub state: String,
    pub preemptible: bool,
    pub user_data: String,
    pub tags: BTreeMap<String, String>,
    created: Instant,
    out_of_stock: bool,
}

#[derive(Default)]
pub struct Inner {
    pub instances: Vec<StubInstance>,
    /// (region, type) → how many can be created.
    pub capacity: BTreeMap<(String, String), i64>,
    pub seen: Vec<Seen>,
    /// The next create is committed, then answered with a 500.
    pub fail_after_commit: bool,
}

#[derive(Clone)]
pub struct Stub {
    pub inner: Arc<Mutex<Inner>>,
    pub base: String,
    boot: Duration,
}

impl Stub {
    /// Starts the stub on a free loopback port; instances leave `creating` after `boot`.
    pub async fn start(boot: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut inner = Inner::default();
        for region in ["us-west-1", "eu-north-1"] {
            inner.capacity.insert((region.into(), H100.into()), 4);
            inner.capacity.insert((region.into(), L40S.into()), 0);
        }
        let stub = Self {
            inner: Arc::new(Mutex::new(inner)),
            base,
            boot,
        };
        let app = Router::new()
            .route("/{region}/api/v1alpha1/projects", get(projects))
            .route("/{region}/api/v1alpha1/instance-types", get(types))
            .route("/{region}/api/v1alpha1/capacity", get(capacity))
            .route("/{region}/api/v1alpha1/instances", get(list).post(create))
            .route(
                "/{region}/api/v1alpha1/instances/{id}",
                get(read).delete(delete),
            )
            .route(
                "/{region}/api/v1alpha1/instances/{id}/actions/{action}",
                post(action),
            )
            .with_state(stub.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        stub
    }

    /// The URL template for the provider's configuration.
    pub fn template(&self) -> String {
        format!("{}/{{region}}/api/v1alpha1", self.base)
    }

    pub fn instances(&self) -> Vec<StubInstance> {
        self.inner.lock().unwrap().instances.clone()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }

    pub fn set_capacity(&self, region: &str, instance_type: &str, n: i64) {
        self.inner
            .lock()
            .unwrap()
            .capacity
            .insert((region.into(), instance_type.into()), n);
    }

    /// Adds an instance made by someone else (another credential or by hand).
    pub fn add_foreign(&self, region: &str, tags: &[(&str, &str)]) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.inner.lock().unwrap().instances.push(StubInstance {
            id: id.clone(),
            region: region.into(),
            name: "foreign".into(),
            instance_type: H100.into(),
            state: "running".into(),
            preemptible: false,
            user_data: String::new(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            created: Instant::now(),
            out_of_stock: false,
        });
        id
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

/// Records the request and checks the key and, for project-scoped paths, the project.
fn check(stub: &Stub, headers: &HeaderMap, path: &str, scoped: bool) -> Option<Response> {
    let project = headers
        .get("x-project-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    stub.inner.lock().unwrap().seen.push(Seen {
        path: path.into(),
        project: project.clone(),
    });
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {API_KEY}")) {
        return Some(error(StatusCode::UNAUTHORIZED, "unauthorized"));
    }
    if scoped && project.as_deref() != Some(PROJECT_ID) {
        return Some(error(StatusCode::FORBIDDEN, "missing or unknown project"));
    }
    None
}

fn view(i: &StubInstance) -> Value {
    json!({
        "id": i.id, "name": i.name, "type": i.instance_type,
        "ip": if i.state == "running" { json!("10.0.0.7") } else { Value::Null },
        "state": i.state, "image": "ubuntu22.04", "preemptible": i.preemptible,
        "ephemeral": false, "userData": i.user_data, "filesystems": [], "tags": i.tags,
    })
}

/// Moves instances whose boot time has passed out of `creating`.
fn advance(stub: &Stub, inner: &mut Inner) {
    for i in &mut inner.instances {
        if i.state == "creating" && i.created.elapsed() >= stub.boot {
            i.state = if i.out_of_stock {
                "out-of-stock"
            } else {
                "running"
            }
            .into();
        }
    }
}

async fn projects(
    State(stub): State<Stub>,
    Path(_region): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = check(&stub, &headers, "projects", false) {
        return r;
    }
    axum::Json(json!([
        {"id": PROJECT_ID, "name": PROJECT_NAME, "state": "active", "tags": {}},
        {"id": "00000000-0000-4000-8000-000000000001", "name": "old", "state": "deleting", "tags": {}}
    ]))
    .into_response()
}

async fn types(
    State(stub): State<Stub>,
    Path(_region): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = check(&stub, &headers, "instance-types", false) {
        return r;
    }
    axum::Json(json!([
        {"name": H100, "cpu": 96, "memory": "960Gi", "gpuModel": "GH100_H100_SXM5_80GB", "gpuCount": 8},
        {"name": L40S, "cpu": 16, "memory": "128Gi", "gpuModel": "AD102_L40S_48GB", "gpuCount": 1},
        {"name": "cpu-16.1", "cpu": 16, "memory": "64Gi"}
    ]))
    .into_response()
}

async fn capacity(
    State(stub): State<Stub>,
    Path(region): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = check(&stub, &headers, "capacity", true) {
        return r;
    }
    let inner = stub.inner.lock().unwrap();
    let rows: Vec<Value> = inner
        .capacity
        .iter()
        .filter(|((r, _), _)| *r == region)
        .map(|((_, t), n)| json!({"name": t, "capacity": n}))
        .collect();
    axum::Json(Value::Array(rows)).into_response()
}

async fn list(
    State(stub): State<Stub>,
    Path(region): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = check(&stub, &headers, "instances", true) {
        return r;
    }
    let mut inner = stub.inner.lock().unwrap();
    advance(&stub, &mut inner);
    let rows: Vec<Value> = inner
        .instances
        .iter()
        .filter(|i| i.region == region)
        .map(view)
        .collect();
    axum::Json(Value::Array(rows)).into_response()
}

async fn create(
    State(stub): State<Stub>,
    Path(region): Path<String>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(r) = check(&stub, &headers, "instances", true) {
        return r;
    }
    let (Some(name), Some(instance_type)) = (body["name"].as_str(), body["type"].as_str()) else {
        return error(StatusCode::BAD_REQUEST, "name and type are required");
    };
    let mut inner = stub.inner.lock().unwrap();
    let key = (region.clone(), instance_type.to_owned());
    let Some(room) = inner.capacity.get_mut(&key) else {
        return error(StatusCode::BAD_REQUEST, "unknown instance type");
    };
    let out_of_stock = *room <= 0;
    if !out_of_stock {
        *room -= 1;
    }
    let instance = StubInstance {
        id: uuid::Uuid::new_v4().to_string(),
        region,
        name: name.into(),
        instance_type: instance_type.into(),
        state: "creating".into(),
        preemptible: body["preemptible"].as_bool().unwrap_or(false),
        user_data: body["userData"].as_str().unwrap_or("").into(),
        tags: serde_json::from_value(body["tags"].clone()).unwrap_or_default(),
        created: Instant::now(),
        out_of_stock,
    };
    let answer = view(&instance);
    inner.instances.push(instance);
    if std::mem::take(&mut inner.fail_after_commit) {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
    }
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

async fn read(
    State(stub): State<Stub>,
    Path((region, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = check(&stub, &headers, "instances/{id}", true) {
        return r;
    }
    let mut inner = stub.inner.lock().unwrap();
    advance(&stub, &mut inner);
    match inner
        .instances
        .iter()
        .find(|i| i.id == id && i.region == region)
    {
        Some(i) => axum::Json(view(i)).into_response(),
        None => error(StatusCode::NOT_FOUND, "instance not found"),
    }
}

async fn delete(
    State(stub): State<Stub>,
    Path((region, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = check(&stub, &headers, "instances/{id}", true) {
        return r;
    }
    let mut inner = stub.inner.lock().unwrap();
    let before = inner.instances.len();
    inner
        .instances
        .retain(|i| !(i.id == id && i.region == region));
    if inner.instances.len() == before {
        return error(StatusCode::NOT_FOUND, "instance not found");
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn action(
    State(stub): State<Stub>,
    Path((region, id, action)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = check(&stub, &headers, "instances/{id}/actions", true) {
        return r;
    }
    let mut inner = stub.inner.lock().unwrap();
    advance(&stub, &mut inner);
    let Some(i) = inner
        .instances
        .iter_mut()
        .find(|i| i.id == id && i.region == region)
    else {
        return error(StatusCode::NOT_FOUND, "instance not found");
    };
    let (from, to) = match action.as_str() {
        "stop" => ("running", "stopped"),
        "start" => ("stopped", "running"),
        _ => return error(StatusCode::NOT_FOUND, "no such action"),
    };
    if i.state != from {
        return error(StatusCode::CONFLICT, "instance state conflict");
    }
    i.state = to.into();
    StatusCode::ACCEPTED.into_response()
}
