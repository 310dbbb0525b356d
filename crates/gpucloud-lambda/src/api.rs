//! Lambda's REST API as typed calls: one function per endpoint, wire types in and out.
//!
//! Nothing here knows the gpucloud model or the traits; `client.rs` composes these calls.
//! Each call takes the trait operation it serves, so that errors, logs and rate limiting
//! name what the caller asked for rather than the endpoint. Paths are relative to the
//! [`BASE_PATH`] the HTTP client's base URL ends with.

use gpucloud_core::Result;
use gpucloud_http::{HttpClient, Request};

use crate::wire::{self, Data, EachData};

/// Where the API lives under the server root; the HTTP client's base URL ends with it.
pub(crate) const BASE_PATH: &str = "/api/v1/";

/// `GET path` and the `data` of the answer, decoded straight from the body.
async fn get<T: serde::de::DeserializeOwned>(
    http: &HttpClient,
    operation: &'static str,
    path: impl Into<String>,
) -> Result<T> {
    let data: Data<T> = http.send_json(Request::get(operation, path)).await?;
    Ok(data.data)
}

/// `GET /regions`.
pub(crate) async fn list_regions(
    http: &HttpClient,
    operation: &'static str,
) -> Result<Vec<wire::Region>> {
    get(http, operation, "regions").await
}

/// `GET /instance-types`.
pub(crate) async fn list_instance_types(
    http: &HttpClient,
    operation: &'static str,
) -> Result<wire::InstanceTypes> {
    get(http, operation, "instance-types").await
}

/// `GET /images`.
pub(crate) async fn list_images(
    http: &HttpClient,
    operation: &'static str,
) -> Result<Vec<wire::Image>> {
    get(http, operation, "images").await
}

/// `GET /instances`, folding each instance into a fresh `A` with `each` as it is parsed (no
/// vector of wire instances is built).
pub(crate) async fn list_instances<A: Default>(
    http: &HttpClient,
    operation: &'static str,
    each: impl Fn(&mut A, wire::Instance) + Sync,
) -> Result<A> {
    http.send_json_seed(Request::get(operation, "instances"), || {
        EachData::new(A::default(), &each)
    })
    .await
}

/// `GET /instances/{id}`; a 404 is `InstanceNotFound`.
pub(crate) async fn get_instance(
    http: &HttpClient,
    operation: &'static str,
    id: &str,
) -> Result<wire::Instance> {
    let request = Request::get(operation, ["instances/", id].concat()).about_instance();
    let data: Data<wire::Instance> = http.send_json(request).await?;
    Ok(data.data)
}

/// `POST /instance-operations/launch`, under the launch rate limit and never sent twice.
pub(crate) async fn launch_instance(
    http: &HttpClient,
    operation: &'static str,
    body: &wire::LaunchRequest,
) -> Result<wire::LaunchResponse> {
    let request = Request::post(operation, "instance-operations/launch")
        .json(body)?
        .create();
    let data: Data<wire::LaunchResponse> = http.send_json(request).await?;
    Ok(data.data)
}

/// `POST /instance-operations/terminate`. Terminating twice is harmless, so transport
/// failures may be retried.
pub(crate) async fn terminate_instances(
    http: &HttpClient,
    operation: &'static str,
    instance_ids: Vec<String>,
) -> Result<()> {
    let request = Request::post(operation, "instance-operations/terminate")
        .json(&wire::InstanceIds { instance_ids })?
        .idempotent(true)
        .about_instance();
    http.send(request).await.map(|_| ())
}

/// `POST /instance-operations/restart`.
pub(crate) async fn restart_instances(
    http: &HttpClient,
    operation: &'static str,
    instance_ids: Vec<String>,
) -> Result<()> {
    let request = Request::post(operation, "instance-operations/restart")
        .json(&wire::InstanceIds { instance_ids })?
        .about_instance();
    http.send(request).await.map(|_| ())
}

/// `GET /ssh-keys`.
pub(crate) async fn list_ssh_keys(
    http: &HttpClient,
    operation: &'static str,
) -> Result<Vec<wire::SshKey>> {
    get(http, operation, "ssh-keys").await
}

/// `POST /ssh-keys`.
pub(crate) async fn add_ssh_key(
    http: &HttpClient,
    operation: &'static str,
    body: &wire::AddSshKey,
) -> Result<wire::SshKey> {
    let request = Request::post(operation, "ssh-keys").json(body)?;
    let data: Data<wire::SshKey> = http.send_json(request).await?;
    Ok(data.data)
}

/// `DELETE /ssh-keys/{id}`.
pub(crate) async fn delete_ssh_key(
    http: &HttpClient,
    operation: &'static str,
    id: &str,
) -> Result<()> {
    let request = Request::delete(operation, ["ssh-keys/", id].concat()).idempotent(true);
    http.send(request).await.map(|_| ())
}

/// `GET /firewall-rulesets`.
pub(crate) async fn list_firewall_rulesets(
    http: &HttpClient,
    operation: &'static str,
) -> Result<Vec<wire::FirewallRuleset>> {
    get(http, operation, "firewall-rulesets").await
}

/// `GET /firewall-rulesets/{id}`.
pub(crate) async fn get_firewall_ruleset(
    http: &HttpClient,
    operation: &'static str,
    id: &str,
) -> Result<wire::FirewallRuleset> {
    get(http, operation, ["firewall-rulesets/", id].concat()).await
}

/// `POST /firewall-rulesets`.
pub(crate) async fn create_firewall_ruleset(
    http: &HttpClient,
    operation: &'static str,
    body: &wire::CreateRuleset,
) -> Result<wire::FirewallRuleset> {
    let request = Request::post(operation, "firewall-rulesets").json(body)?;
    let data: Data<wire::FirewallRuleset> = http.send_json(request).await?;
    Ok(data.data)
}

/// `PATCH /firewall-rulesets/{id}`: replaces the ruleset's rules, so sending it again is
/// harmless.
pub(crate) async fn patch_firewall_ruleset(
    http: &HttpClient,
    operation: &'static str,
    id: &str,
    rules: Vec<wire::FirewallRule>,
) -> Result<()> {
    let request = Request::patch(operation, ["firewall-rulesets/", id].concat())
        .json(&wire::PatchRuleset { rules })?
        .idempotent(true);
    http.send(request).await.map(|_| ())
}

/// `DELETE /firewall-rulesets/{id}`.
pub(crate) async fn delete_firewall_ruleset(
    http: &HttpClient,
    operation: &'static str,
    id: &str,
) -> Result<()> {
    let request = Request::delete(operation, ["firewall-rulesets/", id].concat()).idempotent(true);
    http.send(request).await.map(|_| ())
}
