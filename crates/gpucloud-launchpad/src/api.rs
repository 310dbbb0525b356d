//! The typed API calls: one function per endpoint, wire types in and out, nothing of the
//! model. Ids reach a path only after the caller checked them (UUIDs).

use gpucloud_core::{CloudError, ErrorKind, Result};
use gpucloud_http::{HttpClient, Request};
use serde::de::DeserializeOwned;

use crate::convert::PROVIDER;
use crate::wire;

/// The page size asked for: the largest the API serves in one answer.
pub(crate) const PAGE_SIZE: u64 = 500;

/// More pages than any account has: a listing that would go further is broken, not long.
const MAX_PAGES: u64 = 10_000;

/// Every page of `path` with `query`: page 1, 2, ... until the API says there is no next one
/// (the `next` link itself is not followed: it names the host as the API sees it).
async fn all_pages<T: DeserializeOwned>(
    http: &HttpClient,
    op: &'static str,
    path: &str,
    query: &[(&'static str, String)],
) -> Result<Vec<T>> {
    let mut items = Vec::new();
    for page in 1..=MAX_PAGES {
        let mut request = Request::get(op, path)
            .query("page", page.to_string())
            .query("page_size", PAGE_SIZE.to_string());
        for (name, value) in query {
            request = request.query(*name, value.clone());
        }
        let answer: wire::Page<T> = http.send_json(request).await?;
        let last = answer.next.is_none() || answer.results.is_empty();
        if items.is_empty() {
            items.reserve(usize::try_from(answer.count).unwrap_or(0).min(100_000));
        }
        items.extend(answer.results);
        if last {
            return Ok(items);
        }
    }
    Err(CloudError::provider(
        PROVIDER,
        op,
        ErrorKind::Decode,
        format!("{path} kept answering a next page after {MAX_PAGES} pages"),
    ))
}

/// `GET /v1/catalog/instance-types/`, every page.
pub(crate) async fn instance_types(
    http: &HttpClient,
    op: &'static str,
) -> Result<Vec<wire::InstanceType>> {
    all_pages(http, op, "v1/catalog/instance-types/", &[]).await
}

/// `GET /v1/catalog/deployments/` with the API's own filters, every page.
pub(crate) async fn deployments(
    http: &HttpClient,
    op: &'static str,
    query: &[(&'static str, String)],
) -> Result<Vec<wire::Deployment>> {
    all_pages(http, op, "v1/catalog/deployments/", query).await
}

/// `GET /v1/catalog/deployments/{id}/`.
pub(crate) async fn deployment(
    http: &HttpClient,
    op: &'static str,
    id: &uuid::Uuid,
) -> Result<wire::Deployment> {
    http.send_json(Request::get(op, format!("v1/catalog/deployments/{id}/")).about_instance())
        .await
}

/// `POST /v1/catalog/deployments/`.
///
/// Not marked idempotent although the `request_id` would make a repeat safe: the retry driver
/// reports the last attempt's delivery, so a lost first attempt followed by a refused repeat
/// (a 503) would read as a clean failure while the first had made the deployment. Unretried,
/// a lost answer stays an unknown outcome, which the client resolves by the request id.
pub(crate) async fn create(
    http: &HttpClient,
    op: &'static str,
    body: &wire::CreateDeployment<'_>,
) -> Result<wire::Deployment> {
    let request = Request::post(op, "v1/catalog/deployments/")
        .json(body)?
        .create();
    http.send_json(request).await
}

/// `DELETE /v1/catalog/deployments/{id}/`.
pub(crate) async fn delete(http: &HttpClient, op: &'static str, id: &uuid::Uuid) -> Result<()> {
    let request = Request::delete(op, format!("v1/catalog/deployments/{id}/"))
        .idempotent(true)
        .about_instance();
    http.send(request).await.map(drop)
}

/// `GET /v1/inventory/clusters/?has_deployment=true`, every page: the clusters deployments
/// run on.
pub(crate) async fn clusters(http: &HttpClient, op: &'static str) -> Result<Vec<wire::Cluster>> {
    let query = [("has_deployment", "true".to_owned())];
    all_pages(http, op, "v1/inventory/clusters/", &query).await
}

/// `GET /v1/inventory/clusters/{id}/`.
pub(crate) async fn cluster(
    http: &HttpClient,
    op: &'static str,
    id: &uuid::Uuid,
) -> Result<wire::Cluster> {
    http.send_json(Request::get(op, format!("v1/inventory/clusters/{id}/")))
        .await
}
