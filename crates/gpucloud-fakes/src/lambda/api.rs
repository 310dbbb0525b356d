//! Routes and handlers of the fake Lambda Cloud API. Authentication, faults and rate limits
//! are applied before these run (see `server.rs`).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, State};
use axum::routing::{get, post};
use base64::Engine as _;
use bytes::Bytes;
use http::StatusCode;
use http::request::Parts;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::catalog::{self, CatalogImage};
use super::state::{
    FakeFirewallRule, FakeFirewallRuleset, FakeImageSpec, FakeInstanceStatus, FakeLambdaState,
    FakeSshKey, FakeTag, Inner, InstanceRecord, Timing, ending, new_id, restartable,
};
use super::wire::{
    self, ApiError, FirewallRulesetWire, GlobalRulesetWire, InstanceTypesItemWire, InstanceWire,
    RegionWire, Reply,
};

/// Largest accepted user data, in bytes (Lambda: 1 MB).
const MAX_USER_DATA: usize = 1024 * 1024;

/// The API's routes, all under `/api/v1/`.
pub(crate) fn router(state: FakeLambdaState) -> Router {
    Router::new()
        .route("/api/v1/instances", get(list_instances))
        .route(
            "/api/v1/instances/{id}",
            get(get_instance).post(update_instance),
        )
        .route("/api/v1/instance-operations/launch", post(launch))
        .route("/api/v1/instance-operations/terminate", post(terminate))
        .route("/api/v1/instance-operations/restart", post(restart))
        .route("/api/v1/instance-types", get(instance_types))
        .route("/api/v1/regions", get(regions))
        .route("/api/v1/ssh-keys", get(list_ssh_keys).post(add_ssh_key))
        .route(
            "/api/v1/ssh-keys/{id}",
            axum::routing::delete(delete_ssh_key),
        )
        .route("/api/v1/images", get(images))
        .route("/api/v1/file-systems", get(file_systems))
        .route(
            "/api/v1/firewall-rules",
            get(get_firewall_rules).put(put_firewall_rules),
        )
        .route(
            "/api/v1/firewall-rulesets",
            get(list_rulesets).post(create_ruleset),
        )
        .route(
            "/api/v1/firewall-rulesets/global",
            get(get_global_ruleset).patch(patch_global_ruleset),
        )
        .route(
            "/api/v1/firewall-rulesets/{id}",
            get(get_ruleset).patch(patch_ruleset).delete(delete_ruleset),
        )
        .fallback(|| async { wire::not_found("The requested resource was not found.") })
        .method_not_allowed_fallback(|| async {
            wire::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "global/invalid-parameters",
                "Method not allowed for this path.",
                None,
            )
        })
        .with_state(state)
}

// ---------------------------------------------------------------------------------------
// Extractors whose rejections are Lambda errors rather than axum's plain-text ones.

/// The `{id}` path parameter.
struct IdParam(String);

impl<S: Send + Sync> FromRequestParts<S> for IdParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| IdParam(id))
            .map_err(|e| wire::invalid(&format!("Path parameter 'id' is invalid: {e}.")))
    }
}

/// The raw request body.
struct RawBody(Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(request, state)
            .await
            .map(RawBody)
            .map_err(|e| wire::invalid(&format!("Request body could not be read: {e}.")))
    }
}

// ---------------------------------------------------------------------------------------
// Request-body helpers: every field is checked by hand so that any body gets a Lambda error
// naming the field, never a framework rejection or a panic.

type Checked<T> = Result<T, ApiError>;

fn parse_object(body: &Bytes) -> Checked<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(wire::invalid("Request body must be a JSON object.")),
        Err(e) => Err(wire::invalid(&format!(
            "Request body is not valid JSON: {e}."
        ))),
    }
}

fn opt_string(map: &Map<String, Value>, field: &str) -> Checked<Option<String>> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(wire::invalid(&format!("Field '{field}' must be a string."))),
    }
}

fn req_string(map: &Map<String, Value>, field: &str) -> Checked<String> {
    opt_string(map, field)?.ok_or_else(|| wire::invalid(&format!("Field '{field}' is required.")))
}

fn opt_array<'a>(map: &'a Map<String, Value>, field: &str) -> Checked<Option<&'a Vec<Value>>> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(_) => Err(wire::invalid(&format!("Field '{field}' must be an array."))),
    }
}

fn string_list(map: &Map<String, Value>, field: &str) -> Checked<Option<Vec<String>>> {
    let Some(items) = opt_array(map, field)? else {
        return Ok(None);
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(s) => Ok(s.clone()),
            _ => Err(wire::invalid(&format!(
                "Field '{field}' must be an array of strings."
            ))),
        })
        .collect::<Checked<Vec<_>>>()
        .map(Some)
}

fn check_len(field: &str, value: &str, min: usize, max: usize) -> Checked<()> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(wire::invalid(&format!(
            "Field '{field}' must be between {min} and {max} characters long."
        )));
    }
    Ok(())
}

fn instance_ids(body: &Bytes) -> Checked<Vec<String>> {
    let map = parse_object(body)?;
    let ids = string_list(&map, "instance_ids")?
        .ok_or_else(|| wire::invalid("Field 'instance_ids' is required."))?;
    if ids.is_empty() {
        return Err(wire::invalid("Field 'instance_ids' must not be empty."));
    }
    Ok(ids)
}

fn parse_rules(items: &[Value], field: &str) -> Checked<Vec<FakeFirewallRule>> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_rule(item, &format!("{field}[{i}]")))
        .collect()
}

fn parse_rule(item: &Value, field: &str) -> Checked<FakeFirewallRule> {
    let Value::Object(map) = item else {
        return Err(wire::invalid(&format!(
            "Field '{field}' must be an object."
        )));
    };
    let protocol = req_string(map, "protocol").map_err(|_| {
        wire::invalid(&format!(
            "Field '{field}.protocol' is required and must be a string."
        ))
    })?;
    if !matches!(protocol.as_str(), "tcp" | "udp" | "icmp" | "all") {
        return Err(wire::invalid(&format!(
            "Field '{field}.protocol' must be one of tcp, udp, icmp, all."
        )));
    }
    let port_range = match map.get("port_range") {
        None | Some(Value::Null) => None,
        Some(Value::Array(ports)) => {
            let ports: Vec<u16> = ports
                .iter()
                .filter_map(Value::as_u64)
                .filter(|p| (1..=65535).contains(p))
                .map(|p| p as u16)
                .collect();
            match ports.as_slice() {
                [lo, hi] if lo <= hi => Some((*lo, *hi)),
                _ => {
                    return Err(wire::invalid(&format!(
                        "Field '{field}.port_range' must be [min, max] with 1 <= min <= max <= 65535."
                    )));
                }
            }
        }
        Some(_) => {
            return Err(wire::invalid(&format!(
                "Field '{field}.port_range' must be an array."
            )));
        }
    };
    match (protocol.as_str(), port_range) {
        ("icmp", Some(_)) => {
            return Err(wire::invalid(&format!(
                "Field '{field}.port_range' is not allowed for protocol icmp."
            )));
        }
        ("tcp" | "udp" | "all", None) => {
            return Err(wire::invalid(&format!(
                "Field '{field}.port_range' is required for protocol {protocol}."
            )));
        }
        _ => {}
    }
    let source_network = req_string(map, "source_network").map_err(|_| {
        wire::invalid(&format!(
            "Field '{field}.source_network' is required and must be a string."
        ))
    })?;
    if !valid_ipv4_network(&source_network) {
        return Err(wire::invalid(&format!(
            "Field '{field}.source_network' must be an IPv4 address or CIDR block."
        )));
    }
    let description = req_string(map, "description").map_err(|_| {
        wire::invalid(&format!(
            "Field '{field}.description' is required and must be a string."
        ))
    })?;
    check_len(&format!("{field}.description"), &description, 0, 128)?;
    Ok(FakeFirewallRule {
        protocol,
        port_range,
        source_network,
        description,
    })
}

fn valid_ipv4_network(text: &str) -> bool {
    let (address, mask) = match text.split_once('/') {
        Some((address, mask)) => (address, Some(mask)),
        None => (text, None),
    };
    address.parse::<Ipv4Addr>().is_ok()
        && mask.is_none_or(|m| m.parse::<u8>().is_ok_and(|m| m <= 32))
}

fn valid_hostname(hostname: &str) -> bool {
    let bytes = hostname.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

fn valid_tag_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    bytes.len() >= 2
        && bytes.len() <= 55
        && bytes[0].is_ascii_lowercase()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b':')
}

fn valid_public_key(key: &str) -> bool {
    let mut parts = key.split_whitespace();
    let (Some(kind), Some(blob)) = (parts.next(), parts.next()) else {
        return false;
    };
    let known = matches!(
        kind,
        "ssh-rsa"
            | "ssh-ed25519"
            | "ecdsa-sha2-nistp256"
            | "ecdsa-sha2-nistp384"
            | "ecdsa-sha2-nistp521"
            | "sk-ssh-ed25519@openssh.com"
            | "sk-ecdsa-sha2-nistp256@openssh.com"
    );
    known
        && base64::engine::general_purpose::STANDARD
            .decode(blob)
            .is_ok_and(|b| b.len() > 4 + kind.len() && b[4..4 + kind.len()] == *kind.as_bytes())
}

// ---------------------------------------------------------------------------------------
// Instances

async fn list_instances(
    State(state): State<FakeLambdaState>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    // The fake has no clusters: filtering by any cluster id yields nothing.
    let by_cluster = query.is_ok_and(|Query(q)| q.contains_key("cluster_id"));
    let now = Instant::now();
    let instances: Vec<InstanceWire> = {
        let mut inner = state.lock();
        inner.purge(now);
        if by_cluster {
            Vec::new()
        } else {
            inner
                .instances
                .values()
                .filter_map(|r| r.status(now).map(|s| InstanceWire::new(r, s, now)))
                .collect()
        }
    };
    Ok(wire::data(instances))
}

async fn get_instance(State(state): State<FakeLambdaState>, IdParam(id): IdParam) -> Reply {
    let now = Instant::now();
    let found = {
        let mut inner = state.lock();
        inner
            .find(&id, now)
            .map(|(r, s)| InstanceWire::new(r, s, now))
    };
    match found {
        Some(instance) => Ok(wire::data(instance)),
        None => Err(wire::instance_not_found(&id)),
    }
}

async fn update_instance(
    State(state): State<FakeLambdaState>,
    IdParam(id): IdParam,
    RawBody(body): RawBody,
) -> Reply {
    let map = parse_object(&body)?;
    let name = opt_string(&map, "name")?;
    if let Some(name) = &name {
        check_len("name", name, 0, 64)?;
    }
    let now = Instant::now();
    let mut inner = state.lock();
    match inner.find(&id, now) {
        Some((record, status)) => {
            if let Some(name) = name {
                record.name = Some(name);
            }
            let instance = InstanceWire::new(record, status, now);
            drop(inner);
            Ok(wire::data(instance))
        }
        None => Err(wire::instance_not_found(&id)),
    }
}

/// A validated launch request.
struct LaunchRequest {
    region: &'static catalog::CatalogRegion,
    instance_type: &'static catalog::CatalogInstanceType,
    ssh_key_names: Vec<String>,
    file_system_names: Vec<String>,
    has_file_system_mounts: bool,
    name: Option<String>,
    hostname: Option<String>,
    image: Option<FakeImageSpec>,
    user_data: Option<String>,
    tags: Vec<FakeTag>,
    firewall_rulesets: Vec<String>,
}

fn parse_launch(body: &Bytes) -> Checked<LaunchRequest> {
    let map = parse_object(body)?;
    let region_name = req_string(&map, "region_name")?;
    let type_name = req_string(&map, "instance_type_name")?;
    let ssh_key_names = string_list(&map, "ssh_key_names")?
        .ok_or_else(|| wire::invalid("Field 'ssh_key_names' is required."))?;
    let file_system_names = string_list(&map, "file_system_names")?.unwrap_or_default();
    let has_file_system_mounts =
        opt_array(&map, "file_system_mounts")?.is_some_and(|m| !m.is_empty());
    let name = opt_string(&map, "name")?;
    if let Some(name) = &name {
        check_len("name", name, 0, 64)?;
    }
    let hostname = opt_string(&map, "hostname")?;
    if let Some(hostname) = &hostname
        && !valid_hostname(hostname)
    {
        return Err(wire::invalid(
            "Field 'hostname' must be 1 to 63 lowercase letters, digits or '-', starting with a letter or digit.",
        ));
    }
    let image = match map.get("image") {
        None | Some(Value::Null) => None,
        Some(Value::Object(spec)) => match (opt_string(spec, "id")?, opt_string(spec, "family")?) {
            (Some(id), None) => Some(FakeImageSpec::Id(id)),
            (None, Some(family)) => Some(FakeImageSpec::Family(family)),
            _ => {
                return Err(wire::invalid(
                    "Field 'image' must have exactly one of 'id' or 'family'.",
                ));
            }
        },
        Some(_) => return Err(wire::invalid("Field 'image' must be an object.")),
    };
    let user_data = opt_string(&map, "user_data")?;
    if user_data.as_ref().is_some_and(|u| u.len() > MAX_USER_DATA) {
        return Err(wire::invalid("Field 'user_data' must not exceed 1 MB."));
    }
    let mut tags = Vec::new();
    for (i, item) in opt_array(&map, "tags")?.into_iter().flatten().enumerate() {
        let Value::Object(tag) = item else {
            return Err(wire::invalid(&format!(
                "Field 'tags[{i}]' must be an object."
            )));
        };
        let key = req_string(tag, "key")?;
        let value = req_string(tag, "value")?;
        if !valid_tag_key(&key) {
            return Err(wire::invalid(&format!(
                "Field 'tags[{i}].key' must match ^[a-z][a-z0-9-:]+$ and be at most 55 characters."
            )));
        }
        check_len(&format!("tags[{i}].value"), &value, 0, 128)?;
        tags.push(FakeTag { key, value });
    }
    let mut firewall_rulesets = Vec::new();
    for (i, item) in opt_array(&map, "firewall_rulesets")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let id = match item {
            Value::Object(entry) => opt_string(entry, "id")?,
            _ => None,
        };
        let Some(id) = id else {
            return Err(wire::invalid(&format!(
                "Field 'firewall_rulesets[{i}]' must be an object with a string 'id'."
            )));
        };
        firewall_rulesets.push(id);
    }
    if ssh_key_names.len() != 1 {
        return Err(wire::invalid(
            "Field 'ssh_key_names' must contain exactly one SSH key name.",
        ));
    }
    let region = catalog::region(&region_name)
        .ok_or_else(|| wire::invalid(&format!("Unknown region '{region_name}'.")))?;
    let instance_type = catalog::instance_type(&type_name)
        .ok_or_else(|| wire::invalid(&format!("Unknown instance type '{type_name}'.")))?;
    Ok(LaunchRequest {
        region,
        instance_type,
        ssh_key_names,
        file_system_names,
        has_file_system_mounts,
        name,
        hostname,
        image,
        user_data,
        tags,
        firewall_rulesets,
    })
}

fn launch_resource_missing(what: &str) -> ApiError {
    wire::error(
        StatusCode::NOT_FOUND,
        "global/object-does-not-exist",
        &format!("{what} does not exist."),
        Some("Check the name or ID and try again."),
    )
}

fn find_image(spec: &FakeImageSpec, region: &str) -> Option<&'static CatalogImage> {
    catalog::IMAGES.iter().find(|image| match spec {
        FakeImageSpec::Id(id) => catalog::image_id(region, image.family) == *id,
        FakeImageSpec::Family(family) => image.family == family,
    })
}

async fn launch(State(state): State<FakeLambdaState>, RawBody(body): RawBody) -> Reply {
    let request = parse_launch(&body)?;
    let region = request.region.name;
    let type_name = request.instance_type.name;
    if let Some(spec) = &request.image {
        let Some(image) = find_image(spec, region) else {
            return Err(launch_resource_missing("The requested image"));
        };
        if image.architecture != request.instance_type.architecture {
            return Err(wire::invalid(&format!(
                "Image family '{}' is built for {}, but instance type '{type_name}' is {}.",
                image.family, image.architecture, request.instance_type.architecture
            )));
        }
    }
    if let Some(name) = request.file_system_names.first() {
        return Err(launch_resource_missing(&format!("File system '{name}'")));
    }
    if request.has_file_system_mounts {
        return Err(launch_resource_missing(
            "A file system in 'file_system_mounts'",
        ));
    }
    let now = Instant::now();
    let id = new_id();
    let mut inner = state.lock();
    for key in &request.ssh_key_names {
        if !inner.ssh_keys.iter().any(|k| &k.name == key) {
            return Err(launch_resource_missing(&format!("SSH key '{key}'")));
        }
    }
    for ruleset_id in &request.firewall_rulesets {
        match inner.rulesets.iter().find(|r| &r.id == ruleset_id) {
            None => {
                return Err(launch_resource_missing(&format!(
                    "Firewall ruleset '{ruleset_id}'"
                )));
            }
            Some(ruleset) if ruleset.region != region => {
                return Err(wire::invalid(&format!(
                    "Firewall ruleset '{ruleset_id}' is in region '{}', not '{region}'.",
                    ruleset.region
                )));
            }
            Some(_) => {}
        }
    }
    if let Some(quota) = inner.instance_quota
        && inner
            .instances
            .values()
            .filter(|r| r.holds_capacity)
            .count()
            >= quota
    {
        return Err(wire::error(
            StatusCode::BAD_REQUEST,
            "global/quota-exceeded",
            "Quota exceeded.",
            Some("Terminate instances or request a higher quota."),
        ));
    }
    if !inner.capacity.take(region, type_name) {
        return Err(wire::error(
            StatusCode::BAD_REQUEST,
            "instance-operations/launch/insufficient-capacity",
            "Not enough capacity to fulfill launch request.",
            Some("Try another region or instance type, or try again later."),
        ));
    }
    let (ip, private_ip) = inner.allocate_addresses();
    let active_at = now + state.timing.boot_delay;
    inner.insert_instance(InstanceRecord {
        id: id.clone(),
        name: request.name,
        region: request.region,
        instance_type: request.instance_type,
        ssh_key_names: request.ssh_key_names,
        file_system_names: request.file_system_names,
        tags: request.tags,
        hostname: request.hostname,
        ip,
        private_ip,
        jupyter_token: new_id(),
        user_data: request.user_data,
        firewall_rulesets: request.firewall_rulesets,
        image: request.image,
        first_active_at: active_at,
        holds_capacity: true,
        phase: state.timing.booting(now),
    });
    drop(inner);
    tracing::debug!(instance = %id, region, instance_type = type_name, "fake lambda: launched");
    Ok(wire::data(serde_json::json!({ "instance_ids": [id] })))
}

/// Lambda's bulk instance operations are all-or-nothing: `refuse` sees every named instance
/// (`None` when unknown or gone) before `act` changes any of them. Answers
/// `{"<key>": [the changed instances]}`.
fn bulk_operation(
    state: &FakeLambdaState,
    body: &Bytes,
    key: &'static str,
    refuse: impl Fn(&str, Option<FakeInstanceStatus>) -> Option<ApiError>,
    mut act: impl FnMut(&mut Inner, &str, Instant, Timing) -> Option<InstanceWire>,
) -> Reply {
    let ids = instance_ids(body)?;
    let now = Instant::now();
    let timing = state.timing;
    let mut inner = state.lock();
    for id in &ids {
        let status = inner.find(id, now).map(|(_, status)| status);
        if let Some(refusal) = refuse(id, status) {
            return Err(refusal);
        }
    }
    let changed: Vec<InstanceWire> = ids
        .iter()
        .filter_map(|id| act(&mut inner, id, now, timing))
        .collect();
    drop(inner);
    Ok(wire::data(HashMap::from([(key, changed)])))
}

async fn terminate(State(state): State<FakeLambdaState>, RawBody(body): RawBody) -> Reply {
    bulk_operation(
        &state,
        &body,
        "terminated_instances",
        |id, status| match status {
            Some(status)
                if status != FakeInstanceStatus::Terminated
                    && status != FakeInstanceStatus::Preempted =>
            {
                None
            }
            _ => Some(wire::instance_not_found(id)),
        },
        |inner, id, now, timing| {
            let (record, status) = inner.find(id, now)?;
            let mut released = None;
            if !ending(status) {
                record.phase = timing.ending(now);
                if record.holds_capacity {
                    record.holds_capacity = false;
                    released = Some((record.region.name, record.instance_type.name));
                }
            }
            let status = record.status(now).unwrap_or(status);
            let terminated = InstanceWire::new(record, status, now);
            if let Some((region, instance_type)) = released {
                inner.capacity.give_back(region, instance_type);
            }
            Some(terminated)
        },
    )
}

async fn restart(State(state): State<FakeLambdaState>, RawBody(body): RawBody) -> Reply {
    bulk_operation(
        &state,
        &body,
        "restarted_instances",
        |id, status| match status {
            None | Some(FakeInstanceStatus::Terminated) => Some(wire::instance_not_found(id)),
            Some(status) if !restartable(status) => Some(wire::error(
                StatusCode::CONFLICT,
                "global/conflict",
                &format!(
                    "Instance {id} cannot be restarted while {}.",
                    status.as_str()
                ),
                Some("Wait until the instance is active, then try again."),
            )),
            Some(_) => None,
        },
        |inner, id, now, timing| {
            let (record, _) = inner.find(id, now)?;
            record.phase = timing.booting(now);
            let status = record.status(now).unwrap_or(FakeInstanceStatus::Booting);
            Some(InstanceWire::new(record, status, now))
        },
    )
}

// ---------------------------------------------------------------------------------------
// Catalog

async fn instance_types(State(state): State<FakeLambdaState>) -> Reply {
    let inner = state.lock();
    let items: serde_json::Map<String, Value> = catalog::INSTANCE_TYPES
        .iter()
        .map(|t| {
            let item = InstanceTypesItemWire {
                instance_type: t.into(),
                regions_with_capacity_available: catalog::REGIONS
                    .iter()
                    .filter(|r| inner.capacity.get(r.name, t.name) > 0)
                    .map(RegionWire::from)
                    .collect(),
            };
            (
                t.name.to_owned(),
                serde_json::to_value(item).unwrap_or(Value::Null),
            )
        })
        .collect();
    drop(inner);
    Ok(wire::data(items))
}

async fn regions() -> Reply {
    let regions: Vec<RegionWire> = catalog::REGIONS.iter().map(RegionWire::from).collect();
    Ok(wire::data(regions))
}

#[derive(Serialize)]
struct ImageWire {
    id: String,
    created_time: &'static str,
    updated_time: &'static str,
    name: &'static str,
    description: &'static str,
    family: &'static str,
    version: &'static str,
    architecture: &'static str,
    region: RegionWire,
}

async fn images() -> Reply {
    let images: Vec<ImageWire> = catalog::REGIONS
        .iter()
        .flat_map(|region| {
            catalog::IMAGES.iter().map(move |image| ImageWire {
                id: catalog::image_id(region.name, image.family),
                created_time: "2025-06-01T00:00:00Z",
                updated_time: "2025-06-01T00:00:00Z",
                name: image.name,
                description: image.description,
                family: image.family,
                version: image.version,
                architecture: image.architecture,
                region: region.into(),
            })
        })
        .collect();
    Ok(wire::data(images))
}

async fn file_systems() -> Reply {
    Ok(wire::data(Vec::<Value>::new()))
}

// ---------------------------------------------------------------------------------------
// SSH keys

#[derive(Serialize)]
struct SshKeyWire<'a> {
    id: &'a str,
    name: &'a str,
    public_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key: Option<String>,
}

impl<'a> From<&'a FakeSshKey> for SshKeyWire<'a> {
    fn from(key: &'a FakeSshKey) -> Self {
        Self {
            id: &key.id,
            name: &key.name,
            public_key: &key.public_key,
            private_key: None,
        }
    }
}

async fn list_ssh_keys(State(state): State<FakeLambdaState>) -> Reply {
    let keys = state.ssh_keys();
    Ok(wire::data(
        keys.iter().map(SshKeyWire::from).collect::<Vec<_>>(),
    ))
}

/// A structurally valid OpenSSH ed25519 public key and a placeholder private-key block.
/// The fake never checks signatures, so the pair only needs the right shape.
fn generate_key_pair(name: &str) -> (String, String) {
    let engine = &base64::engine::general_purpose::STANDARD;
    let mut random = Vec::with_capacity(64);
    for _ in 0..4 {
        random.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    let mut blob = Vec::with_capacity(51);
    blob.extend_from_slice(&11u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&32u32.to_be_bytes());
    blob.extend_from_slice(&random[..32]);
    let public_key = format!("ssh-ed25519 {} {name}", engine.encode(&blob));
    let private_key = format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
        engine.encode(&random)
    );
    (public_key, private_key)
}

async fn add_ssh_key(State(state): State<FakeLambdaState>, RawBody(body): RawBody) -> Reply {
    let parsed = (|| -> Checked<(String, Option<String>)> {
        let map = parse_object(&body)?;
        let name = req_string(&map, "name")?;
        check_len("name", &name, 1, 64)?;
        let public_key = opt_string(&map, "public_key")?;
        if let Some(key) = &public_key {
            check_len("public_key", key, 1, 4096)?;
            if !valid_public_key(key) {
                return Err(wire::invalid(
                    "Field 'public_key' is not a valid OpenSSH public key.",
                ));
            }
        }
        Ok((name, public_key))
    })();
    let (name, public_key) = parsed?;
    let (public_key, private_key) = if let Some(key) = public_key {
        (key.trim().to_owned(), None)
    } else {
        let (public, private) = generate_key_pair(&name);
        (public, Some(private))
    };
    let key = FakeSshKey {
        id: new_id(),
        name,
        public_key,
    };
    {
        let mut inner = state.lock();
        if inner.ssh_keys.iter().any(|k| k.name == key.name) {
            return Err(wire::invalid(&format!(
                "Invalid SSH key name '{}': name must be unique.",
                key.name
            )));
        }
        inner.ssh_keys.push(key.clone());
    }
    let mut body = SshKeyWire::from(&key);
    body.private_key = private_key;
    Ok(wire::data(body))
}

async fn delete_ssh_key(State(state): State<FakeLambdaState>, IdParam(id): IdParam) -> Reply {
    let mut inner = state.lock();
    let before = inner.ssh_keys.len();
    inner.ssh_keys.retain(|k| k.id != id);
    if inner.ssh_keys.len() == before {
        return Err(wire::not_found(&format!("SSH key {id} does not exist.")));
    }
    drop(inner);
    Ok(wire::data(serde_json::json!({})))
}

// ---------------------------------------------------------------------------------------
// Firewall

async fn get_firewall_rules(State(state): State<FakeLambdaState>) -> Reply {
    Ok(wire::data(wire::rules_wire(&state.global_firewall_rules())))
}

async fn put_firewall_rules(State(state): State<FakeLambdaState>, RawBody(body): RawBody) -> Reply {
    let rules = (|| -> Checked<Vec<FakeFirewallRule>> {
        let map = parse_object(&body)?;
        let items =
            opt_array(&map, "data")?.ok_or_else(|| wire::invalid("Field 'data' is required."))?;
        parse_rules(items, "data")
    })();
    match rules {
        Ok(rules) => {
            let wire_rules = wire::rules_wire(&rules);
            state.lock().global_rules = rules;
            Ok(wire::data(wire_rules))
        }
        Err(e) => Err(e),
    }
}

fn global_ruleset(rules: &[FakeFirewallRule]) -> GlobalRulesetWire {
    GlobalRulesetWire {
        id: "global",
        name: "Global Firewall Ruleset",
        rules: wire::rules_wire(rules),
    }
}

async fn get_global_ruleset(State(state): State<FakeLambdaState>) -> Reply {
    Ok(wire::data(global_ruleset(&state.global_firewall_rules())))
}

async fn patch_global_ruleset(
    State(state): State<FakeLambdaState>,
    RawBody(body): RawBody,
) -> Reply {
    let rules = (|| -> Checked<Option<Vec<FakeFirewallRule>>> {
        let map = parse_object(&body)?;
        opt_array(&map, "rules")?
            .map(|items| parse_rules(items, "rules"))
            .transpose()
    })();
    match rules {
        Ok(rules) => {
            let mut inner = state.lock();
            if let Some(rules) = rules {
                inner.global_rules = rules;
            }
            let wire_ruleset = global_ruleset(&inner.global_rules);
            drop(inner);
            Ok(wire::data(wire_ruleset))
        }
        Err(e) => Err(e),
    }
}

fn ruleset_not_found() -> ApiError {
    wire::error(
        StatusCode::NOT_FOUND,
        "global/object-does-not-exist",
        "Firewall ruleset does not exist or you do not have permission to access it.",
        Some("Check your firewall ruleset ID and try again."),
    )
}

/// The ruleset's JSON, with the ids of the instances that hold it (see
/// [`FakeLambdaState::holds_rulesets`]).
fn ruleset_wire(state: &FakeLambdaState, ruleset: &FakeFirewallRuleset) -> FirewallRulesetWire {
    let instance_ids = state
        .instances()
        .into_iter()
        .filter(|i| state.holds_rulesets(i) && i.firewall_rulesets.contains(&ruleset.id))
        .map(|i| i.id)
        .collect();
    let region = catalog::region(&ruleset.region).unwrap_or(&catalog::REGIONS[0]);
    FirewallRulesetWire::new(ruleset, region, instance_ids)
}

async fn list_rulesets(State(state): State<FakeLambdaState>) -> Reply {
    let rulesets = state.firewall_rulesets();
    let wire_rulesets: Vec<_> = rulesets.iter().map(|r| ruleset_wire(&state, r)).collect();
    Ok(wire::data(wire_rulesets))
}

async fn create_ruleset(State(state): State<FakeLambdaState>, RawBody(body): RawBody) -> Reply {
    let parsed = (|| -> Checked<FakeFirewallRuleset> {
        let map = parse_object(&body)?;
        let name = req_string(&map, "name")?;
        check_len("name", &name, 0, 64)?;
        let region = req_string(&map, "region")?;
        if catalog::region(&region).is_none() {
            return Err(wire::invalid(&format!("Unknown region '{region}'.")));
        }
        let items =
            opt_array(&map, "rules")?.ok_or_else(|| wire::invalid("Field 'rules' is required."))?;
        Ok(FakeFirewallRuleset {
            id: new_id(),
            name,
            region,
            rules: parse_rules(items, "rules")?,
            created: jiff::Timestamp::now(),
        })
    })();
    match parsed {
        Ok(ruleset) => {
            state.lock().rulesets.push(ruleset.clone());
            Ok(wire::data(ruleset_wire(&state, &ruleset)))
        }
        Err(e) => Err(e),
    }
}

async fn get_ruleset(State(state): State<FakeLambdaState>, IdParam(id): IdParam) -> Reply {
    match state.firewall_rulesets().into_iter().find(|r| r.id == id) {
        Some(ruleset) => Ok(wire::data(ruleset_wire(&state, &ruleset))),
        None => Err(ruleset_not_found()),
    }
}

async fn patch_ruleset(
    State(state): State<FakeLambdaState>,
    IdParam(id): IdParam,
    RawBody(body): RawBody,
) -> Reply {
    let parsed = (|| -> Checked<(Option<String>, Option<Vec<FakeFirewallRule>>)> {
        let map = parse_object(&body)?;
        let name = opt_string(&map, "name")?;
        if let Some(name) = &name {
            check_len("name", name, 0, 64)?;
        }
        let rules = opt_array(&map, "rules")?
            .map(|items| parse_rules(items, "rules"))
            .transpose()?;
        Ok((name, rules))
    })();
    let (name, rules) = parsed?;
    let updated = {
        let mut inner = state.lock();
        inner
            .rulesets
            .iter_mut()
            .find(|r| r.id == id)
            .map(|ruleset| {
                if let Some(name) = name {
                    ruleset.name = name;
                }
                if let Some(rules) = rules {
                    ruleset.rules = rules;
                }
                ruleset.clone()
            })
    };
    match updated {
        Some(ruleset) => Ok(wire::data(ruleset_wire(&state, &ruleset))),
        None => Err(ruleset_not_found()),
    }
}

async fn delete_ruleset(State(state): State<FakeLambdaState>, IdParam(id): IdParam) -> Reply {
    let Some(ruleset) = state.firewall_rulesets().into_iter().find(|r| r.id == id) else {
        return Err(ruleset_not_found());
    };
    let in_use = state
        .instances()
        .iter()
        .any(|i| state.holds_rulesets(i) && i.firewall_rulesets.contains(&ruleset.id));
    if in_use {
        return Err(wire::error(
            StatusCode::BAD_REQUEST,
            "firewall-rulesets/firewall-ruleset-in-use",
            "Firewall ruleset is in use by one or more instances.",
            Some("Terminate all instances that are using the ruleset before deleting it."),
        ));
    }
    state.lock().rulesets.retain(|r| r.id != id);
    Ok(wire::data(serde_json::json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_hostnames_and_tag_keys() {
        assert!(valid_ipv4_network("0.0.0.0/0"));
        assert!(valid_ipv4_network("1.2.3.4"));
        assert!(!valid_ipv4_network("1.2.3.4/33"));
        assert!(!valid_ipv4_network("::/0"));
        assert!(valid_hostname("headnode1"));
        assert!(!valid_hostname("Head"));
        assert!(!valid_hostname("-x"));
        assert!(valid_tag_key("team:ml"));
        assert!(!valid_tag_key("Team"));
        assert!(!valid_tag_key("a"));
    }

    #[test]
    fn public_keys_are_checked_for_shape() {
        let (public, private) = generate_key_pair("k");
        assert!(valid_public_key(&public));
        assert!(private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
        assert!(!valid_public_key("ssh-ed25519 not-base64!"));
        assert!(!valid_public_key("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIA=="));
        assert!(!valid_public_key(""));
    }
}
