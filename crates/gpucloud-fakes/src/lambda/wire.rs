//! JSON shapes of the Lambda Cloud API 1.10.0 responses, and the error-response helpers.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use tokio::time::Instant;

use super::catalog::{CatalogInstanceType, CatalogRegion};
use super::state::{FakeFirewallRule, FakeFirewallRuleset, FakeInstanceStatus, InstanceRecord};

/// Error code the fake sends with `429 Too Many Requests`. The 1.10.0 description documents
/// the published limits but no code for them; clients should classify by the status.
pub const RATE_LIMITED_CODE: &str = "global/rate-limited";

/// A Lambda error response: `{"error": {"code", "message", "suggestion"?}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    suggestion: Option<&'static str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            code: &'a str,
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            suggestion: Option<&'a str>,
        }
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: Body<'a>,
        }
        let body = Envelope {
            error: Body {
                code: self.code,
                message: &self.message,
                suggestion: self.suggestion,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// A handler's result: a success response or a Lambda error.
pub(crate) type Reply = Result<Response, ApiError>;

/// A Lambda error.
pub(crate) fn error(
    status: StatusCode,
    code: &'static str,
    message: &str,
    suggestion: Option<&'static str>,
) -> ApiError {
    ApiError {
        status,
        code,
        message: message.to_owned(),
        suggestion,
    }
}

/// 400 `global/invalid-parameters`.
pub(crate) fn invalid(message: &str) -> ApiError {
    error(
        StatusCode::BAD_REQUEST,
        "global/invalid-parameters",
        message,
        Some("Check the request parameters and try again."),
    )
}

/// 401 `global/invalid-api-key`.
pub(crate) fn unauthorized() -> ApiError {
    error(
        StatusCode::UNAUTHORIZED,
        "global/invalid-api-key",
        "API key was invalid, expired, or deleted.",
        Some("Check your API key or create a new one, then try again."),
    )
}

/// 404 `global/object-does-not-exist` for an instance.
pub(crate) fn instance_not_found(id: &str) -> ApiError {
    error(
        StatusCode::NOT_FOUND,
        "global/object-does-not-exist",
        &format!("Specified instance does not exist: {id}."),
        Some("Check the instance ID and try again."),
    )
}

/// 404 `global/not-found`.
pub(crate) fn not_found(message: &str) -> ApiError {
    error(StatusCode::NOT_FOUND, "global/not-found", message, None)
}

/// 429 with `Retry-After`.
pub(crate) fn rate_limited(retry_after_secs: u64) -> Response {
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        RATE_LIMITED_CODE,
        "Too many requests.",
        Some("Wait before retrying; see the Retry-After header."),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

/// An injected server error.
pub(crate) fn server_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        error(
            status,
            "provider/internal-unavailable",
            "Provider unavailable",
            Some("Try again shortly"),
        )
        .into_response()
    } else {
        error(
            status,
            "global/internal-error",
            "An internal server error occurred.",
            Some("Try again later. Contact Support if the problem persists."),
        )
        .into_response()
    }
}

/// 200 with a JSON content type and a body that is not valid JSON.
pub(crate) fn malformed() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"data": [{"id": "0920582c7ff041399e34823a0be62549", "status": "act"#,
    )
        .into_response()
}

/// `{"data": value}` with status 200.
pub(crate) fn data<T: Serialize>(value: T) -> Response {
    #[derive(Serialize)]
    struct Data<T> {
        data: T,
    }
    (StatusCode::OK, Json(Data { data: value })).into_response()
}

#[derive(Serialize)]
pub(crate) struct RegionWire {
    name: &'static str,
    description: &'static str,
}

impl From<&CatalogRegion> for RegionWire {
    fn from(r: &CatalogRegion) -> Self {
        Self {
            name: r.name,
            description: r.description,
        }
    }
}

#[derive(Serialize)]
struct SpecsWire {
    vcpus: u32,
    memory_gib: u32,
    storage_gib: u32,
    gpus: u32,
}

#[derive(Serialize)]
pub(crate) struct InstanceTypeWire {
    name: &'static str,
    description: &'static str,
    gpu_description: &'static str,
    price_cents_per_hour: u32,
    specs: SpecsWire,
}

impl From<&CatalogInstanceType> for InstanceTypeWire {
    fn from(t: &CatalogInstanceType) -> Self {
        Self {
            name: t.name,
            description: t.description,
            gpu_description: t.gpu_description,
            price_cents_per_hour: t.price_cents_per_hour,
            specs: SpecsWire {
                vcpus: t.vcpus,
                memory_gib: t.memory_gib,
                storage_gib: t.storage_gib,
                gpus: t.gpus,
            },
        }
    }
}

#[derive(Serialize)]
pub(crate) struct InstanceTypesItemWire {
    pub(crate) instance_type: InstanceTypeWire,
    pub(crate) regions_with_capacity_available: Vec<RegionWire>,
}

#[derive(Serialize, Clone, Copy)]
struct ActionWire {
    available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason_description: Option<&'static str>,
}

#[derive(Serialize)]
struct ActionsWire {
    migrate: ActionWire,
    rebuild: ActionWire,
    restart: ActionWire,
    cold_reboot: ActionWire,
    terminate: ActionWire,
}

impl ActionsWire {
    fn for_status(status: FakeInstanceStatus, launched: bool) -> Self {
        let available = ActionWire {
            available: true,
            reason_code: None,
            reason_description: None,
        };
        let unavailable = |code: &'static str, why: &'static str| ActionWire {
            available: false,
            reason_code: Some(code),
            reason_description: Some(why),
        };
        let (restart, terminate) = match status {
            FakeInstanceStatus::Active | FakeInstanceStatus::Unhealthy => (available, available),
            FakeInstanceStatus::Booting if launched => (
                unavailable("vm-action-in-progress", "The instance is restarting."),
                available,
            ),
            FakeInstanceStatus::Booting => (
                unavailable("vm-has-not-launched", "The instance has not launched yet."),
                available,
            ),
            FakeInstanceStatus::Terminating
            | FakeInstanceStatus::Terminated
            | FakeInstanceStatus::Preempted => {
                let ending = unavailable("vm-is-terminating", "The instance is terminating.");
                (ending, ending)
            }
        };
        Self {
            migrate: restart,
            rebuild: restart,
            restart,
            cold_reboot: restart,
            terminate,
        }
    }
}

#[derive(Serialize)]
struct TagWire {
    key: String,
    value: String,
}

#[derive(Serialize)]
struct IdWire {
    id: String,
}

#[derive(Serialize)]
pub(crate) struct InstanceWire {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_ip: Option<String>,
    status: &'static str,
    ssh_key_names: Vec<String>,
    file_system_names: Vec<String>,
    region: RegionWire,
    instance_type: InstanceTypeWire,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jupyter_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jupyter_url: Option<String>,
    actions: ActionsWire,
    tags: Vec<TagWire>,
    firewall_rulesets: Vec<IdWire>,
}

impl InstanceWire {
    pub(crate) fn new(record: &InstanceRecord, status: FakeInstanceStatus, now: Instant) -> Self {
        let network = record.has_network(now);
        let when = |value: &String| network.then(|| value.clone());
        Self {
            id: record.id.clone(),
            name: record.name.clone(),
            ip: when(&record.ip),
            private_ip: when(&record.private_ip),
            status: status.as_str(),
            ssh_key_names: record.ssh_key_names.clone(),
            file_system_names: record.file_system_names.clone(),
            region: record.region.into(),
            instance_type: record.instance_type.into(),
            hostname: network.then(|| record.hostname.clone().unwrap_or_else(|| record.ip.clone())),
            jupyter_token: when(&record.jupyter_token),
            jupyter_url: network.then(|| {
                format!(
                    "https://jupyter-{}.lambdaspaces.com/?token={}",
                    record.id, record.jupyter_token
                )
            }),
            actions: ActionsWire::for_status(status, network),
            tags: record
                .tags
                .iter()
                .map(|t| TagWire {
                    key: t.key.clone(),
                    value: t.value.clone(),
                })
                .collect(),
            firewall_rulesets: record
                .firewall_rulesets
                .iter()
                .map(|id| IdWire { id: id.clone() })
                .collect(),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct FirewallRuleWire {
    protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    port_range: Option<[u16; 2]>,
    source_network: String,
    description: String,
}

impl From<&FakeFirewallRule> for FirewallRuleWire {
    fn from(rule: &FakeFirewallRule) -> Self {
        Self {
            protocol: rule.protocol.clone(),
            port_range: rule.port_range.map(|(lo, hi)| [lo, hi]),
            source_network: rule.source_network.clone(),
            description: rule.description.clone(),
        }
    }
}

pub(crate) fn rules_wire(rules: &[FakeFirewallRule]) -> Vec<FirewallRuleWire> {
    rules.iter().map(FirewallRuleWire::from).collect()
}

#[derive(Serialize)]
pub(crate) struct FirewallRulesetWire {
    id: String,
    name: String,
    region: RegionWire,
    rules: Vec<FirewallRuleWire>,
    created: String,
    instance_ids: Vec<String>,
}

impl FirewallRulesetWire {
    pub(crate) fn new(
        ruleset: &FakeFirewallRuleset,
        region: &CatalogRegion,
        instance_ids: Vec<String>,
    ) -> Self {
        Self {
            id: ruleset.id.clone(),
            name: ruleset.name.clone(),
            region: region.into(),
            rules: rules_wire(&ruleset.rules),
            created: ruleset.created.to_string(),
            instance_ids,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct GlobalRulesetWire {
    pub(crate) id: &'static str,
    pub(crate) name: &'static str,
    pub(crate) rules: Vec<FirewallRuleWire>,
}
