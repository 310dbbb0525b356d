//! The typed API calls: one function per endpoint, wire types in and out, nothing of the
//! model. Ids reach a path only after the caller checked them (UUIDs).

use gpucloud_core::{CloudError, ErrorKind, Result};
use gpucloud_http::lenient::Listed;
use gpucloud_http::{HttpClient, Request};
use serde::de::DeserializeOwned;

use crate::convert::PROVIDER;
use crate::wire;

/// The page size asked for: the largest the API serves in one answer.
pub(crate) const PAGE_SIZE: u64 = 500;

/// More pages than any account has: a listing that would go further is broken, not long.
const MAX_PAGES: u64 = 10_000;

/// Every page of `path` with `query`: page 1, 2, ... until the API says there is no next one
/// (the `next` link itself is not followed: it names the host as the API sees it). Each
/// page's items are folded by `each` into a fresh `init()` as they are parsed (borrowing
/// their strings from the body); the pages' accumulators, in order.
async fn all_pages<L: Listed, A>(
    http: &HttpClient,
    op: &'static str,
    path: &str,
    query: &[(&'static str, String)],
    init: impl Fn() -> A + Sync,
    each: impl for<'x> Fn(&mut A, L::Item<'x>) + Sync,
) -> Result<Vec<A>> {
    // Counts the items of a page, so that an empty page ends the listing whatever it links.
    let counted = |acc: &mut (usize, A), item: L::Item<'_>| {
        acc.0 += 1;
        each(&mut acc.1, item);
    };
    let mut pages = Vec::new();
    for page in 1..=MAX_PAGES {
        let mut request = Request::get(op, path)
            .query("page", page.to_string())
            .query("page_size", PAGE_SIZE.to_string());
        for (name, value) in query {
            request = request.query(*name, value.clone());
        }
        let answer: wire::PageRead<(usize, A)> = http
            .send_json_seed(request, || {
                wire::PageSeed::<L, _, _>::new((0, init()), &counted)
            })
            .await?;
        let (items, acc) = answer.acc;
        pages.push(acc);
        if !answer.has_next || items == 0 {
            return Ok(pages);
        }
    }
    Err(CloudError::provider(
        PROVIDER,
        op,
        ErrorKind::Decode,
        format!("{path} kept answering a next page after {MAX_PAGES} pages"),
    ))
}

/// Every item of every page of `path` with `query`, owned.
async fn all_items<T: DeserializeOwned + Send>(
    http: &HttpClient,
    op: &'static str,
    path: &str,
    query: &[(&'static str, String)],
) -> Result<Vec<T>> {
    let pages = all_pages::<wire::Owned<T>, _>(http, op, path, query, Vec::new, |acc, item| {
        acc.push(item);
    })
    .await?;
    let mut pages = pages.into_iter();
    let mut items = pages.next().unwrap_or_default();
    for page in pages {
        items.extend(page);
    }
    Ok(items)
}

/// `GET /v1/catalog/instance-types/`, every page: each entry folded by `each` into a fresh
/// `init()` per page as it is parsed, borrowing its strings from the body; the pages'
/// accumulators, in order.
pub(crate) async fn instance_types<A>(
    http: &HttpClient,
    op: &'static str,
    init: impl Fn() -> A + Sync,
    each: impl Fn(&mut A, wire::InstanceType<'_>) + Sync,
) -> Result<Vec<A>> {
    all_pages::<wire::InstanceTypes, _>(http, op, "v1/catalog/instance-types/", &[], init, each)
        .await
}

/// `GET /v1/catalog/deployments/` with the API's own filters, every page.
pub(crate) async fn deployments(
    http: &HttpClient,
    op: &'static str,
    query: &[(&'static str, String)],
) -> Result<Vec<wire::Deployment>> {
    all_items(http, op, "v1/catalog/deployments/", query).await
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
    all_items(http, op, "v1/inventory/clusters/", &query).await
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
