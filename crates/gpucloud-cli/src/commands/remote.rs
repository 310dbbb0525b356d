//! `gpucloud --server URL ...`: `instances list|create|terminate`, `offers` and `launch` sent
//! to a `gpucloud serve` instead of the clouds. The server records requests and its loops
//! carry them out; every mutation is idempotent by RefID, so a request whose answer was lost
//! (or was 503) is sent again as is.

use std::time::Duration;

use gpucloud::offers::OfferQuery;
use gpucloud::{CreateInstanceAttrs, FirewallRules};
use gpucloud_fleet::{CreateRequest, CreateTarget, InstanceRecord, Page};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cli::{CreateArgs, InstancesCommand, LaunchArgs, OffersArgs, TerminateArgs};
use crate::commands::Ctx;
use crate::commands::instances::read_user_data;
use crate::commands::offers::{filter, offer_sort};
use crate::error::{CliError, CliResult};
use crate::keys;
use crate::output::{new_table, text_or_dash};

/// Times a request answered 503 is sent again before giving up.
const UNAVAILABLE_RETRIES: u32 = 5;
/// How long `--wait` waits by default.
const DEFAULT_WAIT: Duration = Duration::from_secs(20 * 60);

/// A `gpucloud serve` API.
#[derive(Debug, Clone)]
pub struct Remote {
    base: url::Url,
    http: reqwest::Client,
    token: Option<String>,
}

impl Remote {
    /// The server at `url`, with the token from GPUCLOUD_SERVER_TOKEN when set.
    pub fn new(url: &str) -> CliResult<Self> {
        let mut base = url::Url::parse(url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                CliError::usage(format!(
                    "--server: `{url}` is not an http(s) URL such as http://127.0.0.1:8750"
                ))
            })?;
        // The API's paths are joined under the URL's own path (a server behind a prefix).
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| CliError::failed(format!("cannot make an HTTP client: {e}")))?;
        let token = std::env::var(gpucloud_server::TOKEN_ENV)
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        Ok(Self { base, http, token })
    }

    /// The URL of `path` (with its query).
    pub fn url(&self, path: &str) -> CliResult<url::Url> {
        self.base
            .join(path)
            .map_err(|e| CliError::usage(format!("--server: cannot make a URL of {path}: {e}")))
    }

    /// A request with the token.
    pub fn request(&self, method: Method, url: url::Url) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends a request and reads its JSON answer, sending it again while it is 503.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + Sync)>,
    ) -> CliResult<T> {
        let url = self.url(path)?;
        let mut attempt = 0;
        loop {
            let mut request = self.request(method.clone(), url.clone());
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| self.unreachable(&e))?;
            let status = response.status();
            if status == StatusCode::SERVICE_UNAVAILABLE && attempt < UNAVAILABLE_RETRIES {
                attempt += 1;
                let after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(1)
                    .clamp(1, 30);
                tracing::info!(attempt, after, "the server is unavailable; asking again");
                tokio::time::sleep(Duration::from_secs(after)).await;
                continue;
            }
            let text = response.text().await.map_err(|e| {
                CliError::failed(format!(
                    "the server's answer to {method} {path} was cut off ({e}); \
                     the request may have been recorded"
                ))
            })?;
            if status.is_success() {
                return serde_json::from_str(&text).map_err(|e| {
                    CliError::failed(format!(
                        "the server's answer to {method} {path} cannot be read ({e}); \
                         the request may have been recorded"
                    ))
                });
            }
            return Err(answer_error(status, &text));
        }
    }

    fn unreachable(&self, error: &reqwest::Error) -> CliError {
        CliError::failed(format!("cannot reach the server at {}: {error}", self.base)).hint(
            "is `gpucloud serve` running there? A create sent again with the same --ref-id \
             never makes a second instance",
        )
    }

    /// `GET path` as JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> CliResult<T> {
        self.call(Method::GET, path, None::<&()>).await
    }
}

/// The CLI error for an error answer: the server's message, and 400 as bad input.
fn answer_error(status: StatusCode, text: &str) -> CliError {
    if status == StatusCode::UNAUTHORIZED {
        return CliError::failed("the server refused the request (401)").hint(format!(
            "set {} to the server's token",
            gpucloud_server::TOKEN_ENV
        ));
    }
    let message = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| text.trim().chars().take(300).collect());
    let message = format!("server: {message} ({})", status.as_u16());
    if status == StatusCode::BAD_REQUEST || status == StatusCode::CONFLICT {
        CliError::usage(message)
    } else {
        CliError::failed(message)
    }
}

/// `gpucloud --server URL instances ...`.
pub async fn instances(ctx: &Ctx, remote: &Remote, command: &InstancesCommand) -> CliResult {
    match command {
        InstancesCommand::List {
            providers,
            tags,
            ref_id,
            all: _,
            wide: _,
        } => {
            if !tags.is_empty() {
                return Err(CliError::usage("--tag: not supported with --server"));
            }
            list(ctx, remote, providers, ref_id.as_deref()).await
        }
        InstancesCommand::Create(args) => create(ctx, remote, args).await,
        InstancesCommand::Terminate(args) => terminate(ctx, remote, args).await,
        _ => Err(CliError::usage(
            "with --server, `instances` takes list, create and terminate",
        )),
    }
}

async fn list(
    ctx: &Ctx,
    remote: &Remote,
    credentials: &[String],
    ref_id: Option<&str>,
) -> CliResult {
    let mut records: Vec<InstanceRecord> = Vec::new();
    if let Some(ref_id) = ref_id {
        records.push(
            remote
                .get(&format!("v1/instances/{}", encode(ref_id)))
                .await?,
        );
    } else {
        let targets: Vec<Option<&String>> = if credentials.is_empty() {
            vec![None]
        } else {
            credentials.iter().map(Some).collect()
        };
        for credential in targets {
            let mut after: Option<String> = None;
            loop {
                let mut query = url::form_urlencoded::Serializer::new(String::new());
                query.append_pair("limit", "1000");
                if let Some(credential) = credential {
                    query.append_pair("credential", credential);
                }
                if let Some(after) = &after {
                    query.append_pair("after", after);
                }
                let page: Page<InstanceRecord> = remote
                    .get(&format!("v1/instances?{}", query.finish()))
                    .await?;
                records.extend(page.items);
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
    }
    if ctx.out.is_json() {
        return ctx.out.json(&serde_json::json!({ "instances": records }));
    }
    if records.is_empty() {
        ctx.out.note("no instances");
        return Ok(());
    }
    let mut table = new_table([
        "REF_ID",
        "CREDENTIAL",
        "LOCATION",
        "PHASE",
        "STATUS",
        "CLOUD_ID",
        "DESIRED",
    ]);
    for r in &records {
        table.add_row([
            r.ref_id.clone(),
            r.credential.clone(),
            text_or_dash(&r.location),
            word(&r.phase),
            r.status.as_ref().map_or_else(|| "-".to_owned(), word),
            r.cloud_id.clone().unwrap_or_else(|| "-".to_owned()),
            word(&r.desired),
        ]);
    }
    ctx.out.table(&table);
    Ok(())
}

/// A value's serde word (`active`, `running`).
fn word(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "-".to_owned())
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

/// The instance attributes the create and launch flags describe, with the key read locally.
fn attrs(
    ctx: &Ctx,
    name: Option<&String>,
    ref_id: Option<&String>,
    ssh_key: Option<&std::path::Path>,
    user_data: Option<&std::path::Path>,
    tags: &[crate::args::Tag],
    open_ports: &[gpucloud::FirewallRule],
) -> CliResult<CreateInstanceAttrs> {
    let user_data = user_data.map(read_user_data).transpose()?;
    let key = match ssh_key {
        Some(path) => keys::read_public_key(path, "--ssh-key")?,
        None => keys::default_key(&ctx.dirs, ctx.out)?,
    };
    if let Some(ref_id) = ref_id
        && ref_id.trim().is_empty()
    {
        return Err(CliError::usage("--ref-id: must not be empty"));
    }
    Ok(CreateInstanceAttrs {
        name: name.cloned().unwrap_or_default(),
        // Chosen here, so that the command can be sent again with the same RefID.
        ref_id: ref_id
            .cloned()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        public_key: key.public_key,
        user_data_base64: user_data.unwrap_or_default(),
        tags: tags.iter().cloned().collect(),
        firewall_rules: FirewallRules {
            ingress_rules: open_ports.to_vec(),
            egress_rules: Vec::new(),
        },
        ..CreateInstanceAttrs::default()
    })
}

async fn create(ctx: &Ctx, remote: &Remote, args: &CreateArgs) -> CliResult {
    let Some(location) = args.location.clone() else {
        return Err(CliError::usage(
            "--location: required with --server (the server creates in the location named)",
        ));
    };
    let attrs = attrs(
        ctx,
        args.name.as_ref(),
        args.ref_id.as_ref(),
        args.ssh_key.as_deref(),
        args.user_data.as_deref(),
        &args.tags,
        &args.open_ports,
    )?;
    let request = CreateRequest {
        target: CreateTarget::Explicit {
            credential: args.provider.clone(),
            location,
            instance_type: args.instance_type.clone(),
        },
        attrs,
        ttl: None,
    };
    submit(ctx, remote, &request, args.wait, args.timeout).await
}

async fn submit(
    ctx: &Ctx,
    remote: &Remote,
    request: &CreateRequest,
    wait: bool,
    timeout: Option<u64>,
) -> CliResult {
    let ref_id = &request.attrs.ref_id;
    let record: InstanceRecord = remote
        .call(Method::POST, "v1/instances", Some(request))
        .await
        .map_err(|e| {
            let hint = format!("send it again with --ref-id {ref_id}: the server makes it once");
            if e.hint.is_none() { e.hint(hint) } else { e }
        })?;
    ctx.out
        .note(&format!("requested {ref_id}; the server creates it"));
    let record = if wait {
        wait_for(ctx, remote, ref_id, timeout, |r| {
            r.status == Some(gpucloud::LifecycleStatus::Running)
                || r.phase == gpucloud_fleet::Phase::LaunchFailed
        })
        .await?
    } else {
        record
    };
    print_record(ctx, &record)?;
    if record.phase == gpucloud_fleet::Phase::LaunchFailed {
        return Err(CliError::failed(format!(
            "the launch of {ref_id} failed: {}",
            record.last_error.as_deref().unwrap_or("no reason given")
        )));
    }
    Ok(())
}

async fn terminate(ctx: &Ctx, remote: &Remote, args: &TerminateArgs) -> CliResult {
    for ref_id in &args.ids {
        let record: InstanceRecord = remote
            .call(
                Method::DELETE,
                &format!("v1/instances/{}", encode(ref_id)),
                None::<&()>,
            )
            .await?;
        if record.credential != args.provider {
            ctx.out.warn(&format!(
                "{ref_id} belongs to credential {}, not {}",
                record.credential, args.provider
            ));
        }
        let record = if args.wait {
            wait_for(ctx, remote, ref_id, args.timeout, |r| {
                r.phase == gpucloud_fleet::Phase::Terminated
            })
            .await?
        } else {
            record
        };
        print_record(ctx, &record)?;
    }
    Ok(())
}

/// Polls the instance until `done` (or the timeout).
async fn wait_for(
    ctx: &Ctx,
    remote: &Remote,
    ref_id: &str,
    timeout: Option<u64>,
    done: impl Fn(&InstanceRecord) -> bool,
) -> CliResult<InstanceRecord> {
    let limit = timeout.map_or(DEFAULT_WAIT, Duration::from_secs);
    let started = std::time::Instant::now();
    let spinner = ctx.out.spinner(format!("waiting for {ref_id}"));
    loop {
        let record: InstanceRecord = remote
            .get(&format!("v1/instances/{}", encode(ref_id)))
            .await?;
        if done(&record) {
            spinner.finish_and_clear();
            return Ok(record);
        }
        if started.elapsed() >= limit {
            spinner.finish_and_clear();
            return Err(CliError::failed(format!(
                "{ref_id} is still {} after {} s; the server keeps working on it",
                word(&record.phase),
                limit.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn print_record(ctx: &Ctx, record: &InstanceRecord) -> CliResult {
    if ctx.out.is_json() {
        return ctx.out.json(record);
    }
    ctx.out.stdout(&format!(
        "{}\t{}\t{}\t{}\t{}",
        record.ref_id,
        record.credential,
        text_or_dash(&record.location),
        word(&record.phase),
        record.status.as_ref().map_or_else(|| "-".to_owned(), word),
    ));
    Ok(())
}

/// The offer query the shared flags describe, providers by the names given (the server's
/// credential names).
fn offer_query(args: &crate::cli::OfferFilterArgs, sort: crate::cli::SortBy) -> OfferQuery {
    let mut query = OfferQuery {
        filter: filter(args, &[]),
        sort: offer_sort(sort),
    };
    query.filter.providers.clone_from(&args.providers);
    query
}

/// `GET /v1/offers`'s answer, read loosely (the offers are printed as they come).
#[derive(serde::Deserialize)]
struct Items {
    items: Vec<serde_json::Value>,
}

/// `gpucloud --server URL offers`: from the server's stored catalogs.
pub async fn offers(ctx: &Ctx, remote: &Remote, args: &OffersArgs) -> CliResult {
    if args.refresh || args.no_cache {
        return Err(CliError::usage(
            "--refresh/--no-cache: the server's offers come from its inventory loop",
        ));
    }
    let mut query = offer_query(&args.filter, args.sort);
    query.filter.available_only = args.available;
    let params = offer_params(&query);
    let answer: Items = remote.get(&format!("v1/offers?{params}")).await?;
    if ctx.out.is_json() {
        return ctx.out.json(&serde_json::json!({ "offers": answer.items }));
    }
    if answer.items.is_empty() {
        ctx.out.note("no offers match");
        return Ok(());
    }
    let mut table = new_table([
        "CREDENTIAL",
        "TYPE",
        "LOCATION",
        "GPUS",
        "PRICE/H",
        "AVAILABLE",
    ]);
    for offer in &answer.items {
        let text = |v: &serde_json::Value| v.as_str().map_or_else(|| "-".to_owned(), str::to_owned);
        let gpus = match (&offer["gpu"]["count"], &offer["gpu"]["model"]) {
            (serde_json::Value::Number(n), serde_json::Value::String(m)) => format!("{n}x {m}"),
            _ => "-".to_owned(),
        };
        let price = match (
            &offer["price_per_hour"]["amount"],
            &offer["price_per_hour"]["currency"],
        ) {
            (serde_json::Value::String(a), serde_json::Value::String(c)) => format!("{a} {c}"),
            _ => "-".to_owned(),
        };
        table.add_row([
            text(&offer["credential"]),
            text(&offer["instance_type"]),
            text(&offer["location"]),
            gpus,
            price,
            if offer["available"] == true {
                "yes"
            } else {
                "no"
            }
            .to_owned(),
        ]);
    }
    ctx.out.table(&table);
    Ok(())
}

/// `GET /v1/offers`'s parameters for `query`.
fn offer_params(query: &OfferQuery) -> String {
    let mut params = url::form_urlencoded::Serializer::new(String::new());
    let f = &query.filter;
    if let Some(gpu) = &f.gpu {
        params.append_pair("gpu", &gpu.to_string());
    }
    if let Some(n) = f.min_gpu_count {
        params.append_pair("min_gpu_count", &n.to_string());
    }
    if let Some(vram) = &f.min_vram {
        params.append_pair("min_vram", &vram.to_string());
    }
    if let Some(max) = f.max_price_per_hour {
        params.append_pair("max_price_per_hour", &max.to_string());
    }
    if let Some(max) = f.max_price_per_gpu_hour {
        params.append_pair("max_price_per_gpu_hour", &max.to_string());
    }
    for provider in &f.providers {
        params.append_pair("provider", provider);
    }
    for location in &f.locations {
        params.append_pair("location", location);
    }
    if let Some(arch) = f.architecture {
        params.append_pair("architecture", &word(&arch));
    }
    if let Some(spot) = f.spot {
        params.append_pair("spot", if spot { "true" } else { "false" });
    }
    if f.available_only {
        params.append_pair("available", "true");
    }
    params.append_pair("sort", &word(&query.sort));
    params.finish()
}

/// `gpucloud --server URL launch`: the server launches on the cheapest offer that comes up.
pub async fn launch(ctx: &Ctx, remote: &Remote, args: &LaunchArgs) -> CliResult {
    if args.retry_until_up || args.dry_run {
        return Err(CliError::usage(
            "--retry-until-up/--dry-run: not supported with --server",
        ));
    }
    let attrs = attrs(
        ctx,
        args.name.as_ref(),
        args.ref_id.as_ref(),
        args.ssh_key.as_deref(),
        args.user_data.as_deref(),
        &args.tags,
        &args.open_ports,
    )?;
    let mut query = offer_query(&args.filter, args.sort);
    query.filter.available_only = true;
    let request = CreateRequest {
        target: CreateTarget::Offers {
            query,
            credentials: args.filter.providers.clone(),
            max_offers: args.max_offers as usize,
        },
        attrs,
        ttl: None,
    };
    submit(ctx, remote, &request, args.wait, args.timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_url_must_be_http() {
        for bad in ["127.0.0.1:8750", "ftp://x", "http://", "not a url"] {
            assert_eq!(
                Remote::new(bad).unwrap_err().code,
                crate::error::EXIT_USAGE,
                "{bad}"
            );
        }
        let remote = Remote::new("http://127.0.0.1:8750").unwrap();
        assert_eq!(
            remote.url("v1/instances?limit=2").unwrap().as_str(),
            "http://127.0.0.1:8750/v1/instances?limit=2"
        );
    }

    #[test]
    fn error_answers_become_cli_errors() {
        let bad = answer_error(
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid","field":"limit","message":"invalid limit: must be from 1 to 1000","retryable":false}"#,
        );
        assert_eq!(bad.code, crate::error::EXIT_USAGE);
        assert!(bad.message.contains("invalid limit"), "{}", bad.message);
        let refused = answer_error(StatusCode::UNAUTHORIZED, "");
        assert!(refused.hint.unwrap().contains("GPUCLOUD_SERVER_TOKEN"));
        assert_eq!(
            answer_error(StatusCode::BAD_GATEWAY, "oops").code,
            crate::error::EXIT_FAILED
        );
    }
}
