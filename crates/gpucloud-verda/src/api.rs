//! The typed API calls: one function per endpoint, wire types in and out, nothing of the
//! model. Every call carries the credential's bearer token; a `401` drops the token and the
//! call is sent once more with a new one (a rejected request did nothing, so even a create
//! may be sent again). Ids reach a path only after [`path_safe`] said they may.

use std::future::Future;

use gpucloud_core::{CloudError, Delivery, ErrorKind, Result};
use gpucloud_http::lenient::{Each, Listed};
use gpucloud_http::{HeaderName, HttpClient, HttpResponse, Request};
use serde::de::DeserializeOwned;

use crate::client::PROVIDER_ID;
use crate::convert;
use crate::token::Tokens;
use crate::wire;

const AUTHORIZATION: HeaderName = HeaderName::from_static("authorization");

/// An id that can go into a path: non-empty, letters, digits, `-`, `_` and `.` only (Verda's
/// ids are UUIDs; type names such as `1H100.80S.30V` have dots), never `.` or `..`.
pub(crate) fn path_safe(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The HTTP client and the token source of one credential.
#[derive(Debug)]
pub(crate) struct Api {
    pub(crate) http: HttpClient,
    pub(crate) tokens: Tokens,
}

impl Api {
    /// Runs `send` with `request` carrying the token; once more with a new token after a
    /// `401` (the token expired or was revoked early).
    async fn with_token<T, F, Fut>(&self, request: Request, send: F) -> Result<T>
    where
        F: Fn(Request) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let token = self.tokens.header(&self.http).await?;
        match send(request.clone().header(AUTHORIZATION, token.clone())).await {
            Err(e) if e.provider_details().and_then(|d| d.status) == Some(401) => {
                tracing::debug!(
                    operation = request.operation(),
                    "verda: token rejected; fetching a new one"
                );
                self.tokens.reject(&token).await;
                let token = self.tokens.header(&self.http).await?;
                send(request.header(AUTHORIZATION, token)).await
            }
            other => other,
        }
    }

    /// Sends `request` with the token and returns the 2xx answer.
    async fn send(&self, request: Request) -> Result<HttpResponse> {
        self.with_token(request, |r| self.http.send(r)).await
    }

    /// Sends `request` with the token and decodes its JSON answer (decoding is part of the
    /// attempt: a read whose answer arrives garbled is sent again).
    async fn json<T: DeserializeOwned>(&self, request: Request) -> Result<T> {
        self.with_token(request, |r| self.http.send_json(r)).await
    }

    /// Sends `request` with the token and folds each element of its JSON array answer into
    /// a fresh `init()` with `each` as it is parsed (elements borrow from the body).
    async fn each<L: Listed, A>(
        &self,
        request: Request,
        init: impl Fn() -> A + Sync,
        each: impl for<'x> Fn(&mut A, L::Item<'x>) + Sync,
    ) -> Result<A> {
        self.with_token(request, |r| {
            self.http
                .send_json_seed(r, || Each::<L, _, _>::new(init(), &each))
        })
        .await
    }

    /// The id a create answered, as Verda sends it: plain text (perhaps quoted), or an object
    /// with an `id`; a UUID. Anything else is a `Decode` error whose outcome is unknown: the resource
    /// may exist.
    fn created_id(operation: &'static str, body: &[u8]) -> Result<String> {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let id = if text.starts_with('{') {
            serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.get("id").and_then(|id| id.as_str().map(str::to_owned)))
                .unwrap_or_default()
        } else {
            text.trim_matches('"').to_owned()
        };
        if is_uuid(&id) {
            Ok(id)
        } else {
            Err(CloudError::provider(
                PROVIDER_ID,
                operation,
                ErrorKind::Decode,
                format!(
                    "the create answered with no usable id ({:?})",
                    truncate(text)
                ),
            )
            .with_delivery(Delivery::Unknown))
        }
    }

    /// `GET /locations`, each location folded by `each` into a fresh `init()` as it is
    /// parsed.
    pub(crate) async fn locations<A>(
        &self,
        op: &'static str,
        init: impl Fn() -> A + Sync,
        each: impl Fn(&mut A, wire::Location<'_>) + Sync,
    ) -> Result<A> {
        self.each::<wire::Locations, _>(Request::get(op, "locations"), init, each)
            .await
    }

    /// `GET /instance-types?currency=`, each type folded by `each` into a fresh `init()` as
    /// it is parsed.
    pub(crate) async fn instance_types<A>(
        &self,
        op: &'static str,
        currency: &str,
        init: impl Fn() -> A + Sync,
        each: impl Fn(&mut A, wire::InstanceType<'_>) + Sync,
    ) -> Result<A> {
        let request = Request::get(op, "instance-types").query("currency", currency);
        self.each::<wire::InstanceTypes, _>(request, init, each)
            .await
    }

    /// `GET /instance-availability?is_spot=`: the types orderable now, per location (see
    /// [`convert::Orderable`]).
    pub(crate) async fn availability(
        &self,
        op: &'static str,
        spot: bool,
    ) -> Result<convert::Orderable> {
        let request = Request::get(op, "instance-availability").query("is_spot", spot.to_string());
        self.each::<wire::Availabilities, _>(request, convert::Orderable::default, |o, a| {
            o.add(&a);
        })
        .await
    }

    /// `GET /instance-availability/{type}?is_spot=&location_code=`.
    pub(crate) async fn type_available(
        &self,
        op: &'static str,
        instance_type: &str,
        spot: bool,
        location: &str,
    ) -> Result<bool> {
        if !path_safe(instance_type) {
            return Err(CloudError::invalid(
                "instance_type",
                format!("{instance_type:?} is not a Verda instance type"),
            ));
        }
        self.json(
            Request::get(op, format!("instance-availability/{instance_type}"))
                .query("is_spot", spot.to_string())
                .query("location_code", location),
        )
        .await
    }

    /// `GET /images?instance_type=`.
    pub(crate) async fn images(
        &self,
        op: &'static str,
        instance_type: &str,
    ) -> Result<Vec<wire::Image>> {
        self.json(Request::get(op, "images").query("instance_type", instance_type))
            .await
    }

    /// `GET /instances`: every instance not deleted.
    pub(crate) async fn instances(&self, op: &'static str) -> Result<Vec<wire::Instance>> {
        self.json(Request::get(op, "instances")).await
    }

    /// `GET /instances/{id}`; a 404 is `InstanceNotFound`.
    pub(crate) async fn instance(&self, op: &'static str, id: &str) -> Result<wire::Instance> {
        if !path_safe(id) {
            return Err(CloudError::instance_not_found(PROVIDER_ID, op, id));
        }
        self.json(Request::get(op, format!("instances/{id}")).about_instance())
            .await
    }

    /// `POST /instances`: the new instance's id.
    pub(crate) async fn create_instance(
        &self,
        op: &'static str,
        body: &wire::CreateInstance<'_>,
    ) -> Result<String> {
        let response = self
            .send(Request::post(op, "instances").json(body)?.create())
            .await?;
        Self::created_id(op, &response.body)
    }

    /// `PUT /instances` for one instance. A result of `error` for it fails the call, with the
    /// status the result gives (a 404 is `InstanceNotFound`).
    pub(crate) async fn action(&self, op: &'static str, body: &wire::Action<'_>) -> Result<()> {
        // Each action asks for a state, so asking twice is harmless.
        let request = Request::put(op, "instances")
            .json(body)?
            .idempotent(true)
            .about_instance();
        let response = self.send(request).await?;
        let text = response.body.as_ref();
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        // Results are read leniently: an answer of another shape after a 2xx is a success.
        let Ok(results) = serde_json::from_slice::<Vec<wire::ActionResult>>(text) else {
            return Ok(());
        };
        let [id] = body.id;
        match results
            .into_iter()
            .find(|r| r.status == "error" && (r.instance_id.is_empty() || r.instance_id == id))
        {
            None => Ok(()),
            Some(failed) => {
                let status = failed.status_code.unwrap_or(400);
                let row = gpucloud_core::status::http_status(status);
                let kind = if status == 404 {
                    ErrorKind::InstanceNotFound
                } else {
                    row.kind
                };
                Err(CloudError::provider(
                    PROVIDER_ID,
                    op,
                    kind,
                    format!(
                        "verda refused to {} instance {id}: {}",
                        body.action,
                        if failed.error.is_empty() {
                            "no reason given"
                        } else {
                            &failed.error
                        }
                    ),
                )
                .with_retry(kind.default_retry()))
            }
        }
    }

    /// `GET /ssh-keys`.
    pub(crate) async fn ssh_keys(&self, op: &'static str) -> Result<Vec<wire::SshKey>> {
        self.json(Request::get(op, "ssh-keys")).await
    }

    /// `POST /ssh-keys`: the new key's id.
    pub(crate) async fn add_ssh_key(
        &self,
        op: &'static str,
        body: &wire::AddSshKey<'_>,
    ) -> Result<String> {
        let response = self.send(Request::post(op, "ssh-keys").json(body)?).await?;
        Self::created_id(op, &response.body)
    }

    /// `DELETE /ssh-keys/{id}`; a key already gone counts as deleted.
    pub(crate) async fn delete_ssh_key(&self, op: &'static str, id: &str) -> Result<()> {
        self.delete(op, "ssh-keys", id).await
    }

    /// `GET /scripts`.
    pub(crate) async fn scripts(&self, op: &'static str) -> Result<Vec<wire::Script>> {
        self.json(Request::get(op, "scripts")).await
    }

    /// `POST /scripts`: the new script's id.
    pub(crate) async fn add_script(
        &self,
        op: &'static str,
        body: &wire::AddScript<'_>,
    ) -> Result<String> {
        let response = self.send(Request::post(op, "scripts").json(body)?).await?;
        Self::created_id(op, &response.body)
    }

    /// `DELETE /scripts/{id}`; a script already gone counts as deleted.
    pub(crate) async fn delete_script(&self, op: &'static str, id: &str) -> Result<()> {
        self.delete(op, "scripts", id).await
    }

    async fn delete(&self, op: &'static str, collection: &str, id: &str) -> Result<()> {
        if !path_safe(id) {
            return Err(CloudError::invalid(
                "id",
                format!("{id:?} is not a Verda id"),
            ));
        }
        match self
            .send(Request::delete(op, format!("{collection}/{id}")))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Whether `id` is a UUID (`8-4-4-4-12` hex digits), as every id Verda makes is: an answer cut
/// short must not pass for an id.
fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The start of an unexpected answer, for an error message.
fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_reach_a_path() {
        for good in [
            "78a0dd5a-dbb1-4568-b55c-5e7e0a8b0c40",
            "1H100.80S.30V",
            "a_b",
        ] {
            assert!(path_safe(good), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "k?x=1", "%2e"] {
            assert!(!path_safe(bad), "{bad}");
        }
    }

    #[test]
    fn created_ids_are_read_as_verda_sends_them() {
        let id = "78a0dd5a-dbb1-4568-b55c-5e7e0a8b0c40";
        for body in [
            id.to_owned(),
            format!("\"{id}\"\n"),
            format!(r#"{{"id": "{id}"}}"#),
        ] {
            assert_eq!(
                Api::created_id("op", body.as_bytes()).unwrap(),
                id,
                "{body}"
            );
        }
        for junk in [
            "",
            "<html>",
            "{}",
            "a/b",
            "78a0dd5a-dbb1-4568-b55c",
            "\"78a0dd5a-dbb1",
        ] {
            let e = Api::created_id("op", junk.as_bytes()).unwrap_err();
            assert!(
                e.outcome_unknown() && e.kind() == ErrorKind::Decode,
                "{junk}"
            );
        }
    }
}
