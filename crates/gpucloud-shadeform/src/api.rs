//! The typed API calls: one function per endpoint, wire types in and out, nothing of the
//! model. Ids reach a path only after the caller checked them (UUIDs, `path_safe` key ids).

use gpucloud_core::{CloudError, ErrorKind, Result};
use gpucloud_http::{HttpClient, Request};

use crate::wire;

/// A key id that can go into a path: non-empty, letters, digits and `-` only.
pub(crate) fn path_safe(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `GET /instances/types` with the API's own query filters, each offer folded into a fresh
/// `init()` by `each` as it is parsed (borrowing its strings from the body): no vector of
/// wire offers is built, and a caller keeps only what it needs.
pub(crate) async fn types<A>(
    http: &HttpClient,
    op: &'static str,
    query: &[(&'static str, String)],
    init: impl Fn() -> A + Sync,
    each: impl Fn(&mut A, wire::InstanceType<'_>) + Sync,
) -> Result<A> {
    let mut request = Request::get(op, "instances/types");
    for (name, value) in query {
        request = request.query(*name, value.clone());
    }
    http.send_json_seed(request, || {
        wire::Each::<wire::InstanceTypes, _, _>::new(init(), &each)
    })
    .await
}

/// `GET /instances`: every instance not deleted (`deleting` ones included), each folded
/// into a fresh `init()` by `each` as it is parsed (no vector of wire instances is built).
pub(crate) async fn instances<A>(
    http: &HttpClient,
    op: &'static str,
    init: impl Fn() -> A + Sync,
    each: impl Fn(&mut A, wire::Instance<'_>) + Sync,
) -> Result<A> {
    http.send_json_seed(Request::get(op, "instances"), || {
        wire::Each::<wire::Instances, _, _>::new(init(), &each)
    })
    .await
}

/// `GET /instances/{id}/info`.
pub(crate) async fn info(
    http: &HttpClient,
    op: &'static str,
    id: &uuid::Uuid,
) -> Result<wire::Instance<'static>> {
    http.send_json_seed(
        Request::get(op, format!("instances/{id}/info")).about_instance(),
        || wire::OwnedInstance,
    )
    .await
}

/// `POST /instances/create`.
pub(crate) async fn create(
    http: &HttpClient,
    op: &'static str,
    body: &wire::CreateRequest,
) -> Result<wire::CreateResponse> {
    http.send_json(Request::post(op, "instances/create").json(body)?.create())
        .await
}

/// `POST /instances/{id}/delete`; an instance already gone counts as deleted.
pub(crate) async fn delete(http: &HttpClient, op: &'static str, id: &uuid::Uuid) -> Result<()> {
    let request = Request::post(op, format!("instances/{id}/delete"))
        .idempotent(true)
        .about_instance();
    match http.send(request).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::InstanceNotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// `POST /instances/{id}/restart`.
pub(crate) async fn restart(http: &HttpClient, op: &'static str, id: &uuid::Uuid) -> Result<()> {
    http.send(Request::post(op, format!("instances/{id}/restart")).about_instance())
        .await
        .map(drop)
}

/// `POST /instances/{id}/update` with the tags only (omitted fields are kept).
pub(crate) async fn update_tags(
    http: &HttpClient,
    op: &'static str,
    id: &uuid::Uuid,
    tags: Vec<String>,
) -> Result<()> {
    let request = Request::post(op, format!("instances/{id}/update"))
        .json(&wire::UpdateTags { tags })?
        .idempotent(true)
        .about_instance();
    http.send(request).await.map(drop)
}

/// `GET /sshkeys`.
pub(crate) async fn keys(http: &HttpClient, op: &'static str) -> Result<Vec<wire::SshKey>> {
    let keys: wire::SshKeys = http.send_json(Request::get(op, "sshkeys")).await?;
    Ok(keys.ssh_keys)
}

/// `POST /sshkeys/add`.
pub(crate) async fn add_key(
    http: &HttpClient,
    op: &'static str,
    body: &wire::AddSshKey,
) -> Result<String> {
    let added: wire::AddSshKeyResponse = http
        .send_json(Request::post(op, "sshkeys/add").json(body)?)
        .await?;
    Ok(added.id)
}

/// `POST /sshkeys/{id}/delete`.
pub(crate) async fn delete_key(http: &HttpClient, op: &'static str, id: &str) -> Result<()> {
    if !path_safe(id) {
        return Err(CloudError::invalid(
            "ssh_key_id",
            format!("{id:?} is not a key id"),
        ));
    }
    http.send(Request::post(op, format!("sshkeys/{id}/delete")).idempotent(true))
        .await
        .map(drop)
}
