//! A stateful fake of Nebius AI Cloud's gRPC API: every service gpucloud calls, on one
//! plaintext HTTP/2 address of 127.0.0.1 (the real API has one host per service; point every
//! client at [`FakeNebius::endpoint`]).
//!
//! - **IAM.** `TokenExchangeService.Exchange` takes a self-signed service-account JWT
//!   (`grant_type` token-exchange, `subject_token_type` jwt; header `alg` RS256 and `kid`,
//!   claims `iss` = `sub` = the service account, `exp` in the future), checks its signature
//!   against the registered public key and answers an access token valid for
//!   [`FakeNebiusOptions::token_lifetime`] (`expires_in` in seconds). A bad JWT is
//!   `UNAUTHENTICATED`, a bad request field `INVALID_ARGUMENT` naming it. Every other call
//!   needs `authorization: Bearer <token>` with an issued, unexpired token or the static
//!   [`FakeNebiusOptions::iam_token`]; anything else is `UNAUTHENTICATED`. The fake makes a
//!   service-account key at start ([`FakeNebius::service_account`]) and can write it as a
//!   Nebius `subject-credentials` file ([`FakeNebius::write_credentials_file`]).
//!   `iam.v2.ProjectService` (`List(parent_id = tenant)`, `Get`, `GetByName`) lists one
//!   project per region, named `default-project-<region>`, `spec.region` set; ids carry the
//!   region's routing code (`project-e00…` is `eu-north1`). `iam.v2.TenantService` (`List`,
//!   `Get`, `GetByName`) lists the fake's tenant (`fake-tenant`) and any added with
//!   [`FakeNebiusState::add_tenant`] (without projects). `iam.v1.ProfileService.Get` says who
//!   calls: an exchanged token's service account, or for the static token a user of every
//!   tenant. The deprecated `iam.v1` `ProjectService` and `TenantService` (`Get`, `List`)
//!   answer the same, unless [`FakeNebiusOptions::iam_v1`] is off.
//! - **VPC.** Each project has one network and one subnet (`SubnetService.List` by
//!   project, `ListByNetwork`, `Get`). Security groups (`Create`/`Get`/`GetByName`/`List`/
//!   `Delete`, refused while an instance uses one) and their rules (`Create` checked like the
//!   API: access, protocol, ingress or egress, CIDRs, ports, priority; `Get`/`List`/`Delete`);
//!   their operations are done at once.
//! - **Compute.** `ImageService.GetLatestByFamily` (parent: a project, its region's
//!   `project-<code>public-images`, or empty for the first region), `Get`, `List`,
//!   `ListPublic`; families in [`catalog::IMAGE_FAMILIES`]. `PlatformService.List(parent_id =
//!   project)`: [`catalog::PLATFORMS`] offered in that region, with presets and
//!   `gpu_count_quota_type`. Disks: `Create` (size, type, image by id or family; done after
//!   [`FakeNebiusOptions::disk_delay`]), `Get`, `GetByName`, `List`, `Update` (labels),
//!   `Delete` (refused while attached). Instances: `Create` with an existing ready disk as
//!   boot disk, the project's subnet and optional security groups: refused with
//!   `RESOURCE_EXHAUSTED` + `QuotaFailure` when the GPU quota allowance is used up, and with
//!   `RESOURCE_EXHAUSTED` + `NotEnoughResources` when the region has no capacity for the
//!   preset; `CREATING` → `RUNNING` (or `STOPPED` for `spec.stopped`) after
//!   [`FakeNebiusOptions::create_delay`], private address `10.x.y.z/32` and a public one
//!   (`198.51.y.z/32`) when `public_ip_address` is set. `Stop` (`RUNNING` only) →
//!   `STOPPING` → `STOPPED`, `Start` (`STOPPED` only) → `STARTING` → `RUNNING`, `Delete` →
//!   `DELETING` → gone (capacity and quota given back); a second delete during deletion gets
//!   an operation ending with it; a wrong state is `FAILED_PRECONDITION` with
//!   `BadResourceState`. `Update` replaces the labels. `Get`, `GetByName`, `List` (paged).
//!   Names are unique per project: `ALREADY_EXISTS` with `ResourceAlreadyExists`. The boot
//!   disk may instead be a `managed_disk`: checked like a disk create, refused with
//!   `ALREADY_EXISTS` when a disk of its name exists, made with the instance (its id in
//!   `status.disk_attachments`, `is_managed`), changed only through the instance and deleted
//!   with it. `spec.preemptible` (on-preemption `STOP`) is accepted on platforms that allow
//!   preemptibles.
//! - **Operations.** Every mutation answers a `common.v1.Operation`; `OperationService.Get`
//!   shows it done (`status` set, code 0) once its delay has passed, or failed with the
//!   status a test queued ([`FakeNebiusState::fail_next_operation`]). `OperationService.List`
//!   by resource and the services' `ListOperationsByParent` list them, newest first.
//!   Mutations honour `x-idempotency-key`: the same key on the same method answers the first
//!   call's operation and changes nothing.
//! - **Quotas and prices.** `QuotaAllowanceService.List(parent_id = tenant or project)`:
//!   one allowance per quota and region (`metadata.name` the quota, `spec.limit`,
//!   `status.usage` including the fake's instances), settable with
//!   [`FakeNebiusState::set_quota_limit`] / [`FakeNebiusState::set_quota_usage`].
//!   `billing.v1.CalculatorService.EstimateBatch`: each `resource_specs[i].spec` is an `Any`
//!   of a `CreateInstanceRequest` or `CreateDiskRequest`; `resource_costs` holds, in request
//!   order, one cost per spec per time unit (`hour` then `month` unless
//!   `filter_aggregation_unit` says which), `general.total.cost` a decimal string in USD; a
//!   spec with `spec.preemptible` costs the platform's spot price. `billing.v1alpha1`'s
//!   `Estimate` and `EstimateBatch` price typed instance and disk specs the same way (hourly
//!   and 720-hour monthly totals). `billing.v1.PricingPolicyService` keeps maximum spot prices
//!   per platform (`Create`, `Get`, `GetByName`, `List`, `Update`, `Delete`).
//! - **Unserved methods** answer `UNIMPLEMENTED` naming the full method.
//! - **Errors** are a gRPC status whose details are a `google.rpc.Status` holding one
//!   `nebius.common.v1.ServiceError` ([`SERVICE_ERROR_TYPE_URL`]).
//! - **Paging**: `page_size` 0 means 100, at most 1000; `next_page_token` is empty on the
//!   last page; a token the fake did not issue is `INVALID_ARGUMENT`.
//! - **Faults** ([`crate::kit::Fault`] aimed at an [`Operation`]): latency;
//!   `ServerError{503}` → `UNAVAILABLE`, `{504}` → `DEADLINE_EXCEEDED`, `{429}` or
//!   `RateLimited` → `RESOURCE_EXHAUSTED` with `TooManyRequests`, other statuses →
//!   `INTERNAL`; `ConnectionReset` closes the connection; `MalformedJson` answers a message
//!   that does not decode; `CommitThenDropResponse` runs the call, then closes the
//!   connection.
//!
//! Calls are counted in [`FakeNebiusState::requests`] as `POST` and their gRPC path.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use gpucloud_fakes::kit::Fault;
//! use gpucloud_fakes::nebius::{FakeNebius, FakeNebiusOptions, Operation};
//! let fake = FakeNebius::start(FakeNebiusOptions::default()).await?;
//! fake.state().set_capacity("eu-north1", "gpu-h100-sxm", "8gpu-128vcpu-1600gb", 0);
//! fake.state().set_fault(Fault::CommitThenDropResponse {
//!     operation: Operation::CreateInstance,
//!     times: 1,
//! });
//! let dir = std::env::temp_dir();
//! let credentials = dir.join("nebius-credentials.json");
//! fake.write_credentials_file(&credentials)?;
//! // point a client at fake.endpoint() with the credentials file and fake.tenant_id()
//! assert!(fake.state().instances().is_empty());
//! fake.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod api;
mod auth;
pub mod catalog;
mod error;
mod op;
mod server;
mod state;

use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use api::{DEFAULT_PAGE_SIZE, IDEMPOTENCY_HEADER, MAX_PAGE_SIZE};
pub use auth::{
    GRANT_TYPE_TOKEN_EXCHANGE, ServiceAccountKey, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT,
};
pub use error::SERVICE_ERROR_TYPE_URL;
pub use op::Operation;
pub use state::{
    DiskState, FakeDisk, FakeInstance, FakeNebiusState, FakeSecurityGroup, InstanceState,
    OperationFailure,
};

use crate::kit::{Exports, FakeServer};
use crate::registry::{
    Announce, Announcement, ExtraFlag, ServeOptions, ServedFake, Serving, Shutdown,
};

/// The static IAM token a fake accepts unless told otherwise.
pub const DEFAULT_IAM_TOKEN: &str = "fake-nebius-iam-token";

/// The regions a fake serves unless told otherwise.
pub const DEFAULT_REGIONS: &[&str] = &["eu-north1", "us-central1"];

/// How a fake Nebius behaves.
#[derive(Clone)]
pub struct FakeNebiusOptions {
    /// Address to listen on. Default `127.0.0.1:0` (a free port).
    pub addr: SocketAddr,
    /// Regions served, from [`catalog::REGIONS`]. Default [`DEFAULT_REGIONS`].
    pub regions: Vec<String>,
    /// A static IAM token accepted besides exchanged ones (`None`: only exchanged tokens).
    /// Default [`DEFAULT_IAM_TOKEN`].
    pub iam_token: Option<String>,
    /// The service-account key IAM knows. Default: a fresh 2048-bit key.
    pub service_account: Option<Arc<ServiceAccountKey>>,
    /// How long an exchanged access token is valid. Default 12 h.
    pub token_lifetime: Duration,
    /// Time from instance create to `RUNNING`. Default 1 s.
    pub create_delay: Duration,
    /// Time from start to `RUNNING`. Default 1 s.
    pub start_delay: Duration,
    /// Time from stop to `STOPPED`. Default 1 s.
    pub stop_delay: Duration,
    /// Time from instance delete to gone. Default 1 s.
    pub delete_delay: Duration,
    /// Time a disk takes to be created or deleted. Default 200 ms.
    pub disk_delay: Duration,
    /// Delay added to every call. Default 0.
    pub latency: Duration,
    /// Whether the deprecated `nebius.iam.v1` `ProjectService` and `TenantService` are
    /// served beside their `iam.v2` successors, for older clients. Nebius ends them on
    /// 2026-12-16; `false` makes the fake as Nebius will be then (they answer
    /// `UNIMPLEMENTED`). Default `true`.
    pub iam_v1: bool,
}

impl Default for FakeNebiusOptions {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            regions: DEFAULT_REGIONS.iter().map(|r| (*r).to_owned()).collect(),
            iam_token: Some(DEFAULT_IAM_TOKEN.to_owned()),
            service_account: None,
            token_lifetime: Duration::from_secs(12 * 3600),
            create_delay: Duration::from_secs(1),
            start_delay: Duration::from_secs(1),
            stop_delay: Duration::from_secs(1),
            delete_delay: Duration::from_secs(1),
            disk_delay: Duration::from_millis(200),
            latency: Duration::ZERO,
            iam_v1: true,
        }
    }
}

impl FakeNebiusOptions {
    /// Every lifecycle delay set to `delay` (tests use a few milliseconds).
    #[must_use]
    pub fn with_delays(mut self, delay: Duration) -> Self {
        self.create_delay = delay;
        self.start_delay = delay;
        self.stop_delay = delay;
        self.delete_delay = delay;
        self.disk_delay = delay;
        self
    }
}

impl fmt::Debug for FakeNebiusOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeNebiusOptions")
            .field("addr", &self.addr)
            .field("regions", &self.regions)
            .field("iam_token", &self.iam_token.as_ref().map(|_| "<redacted>"))
            .field("service_account", &self.service_account)
            .field("token_lifetime", &self.token_lifetime)
            .field("create_delay", &self.create_delay)
            .field("start_delay", &self.start_delay)
            .field("stop_delay", &self.stop_delay)
            .field("delete_delay", &self.delete_delay)
            .field("disk_delay", &self.disk_delay)
            .field("latency", &self.latency)
            .field("iam_v1", &self.iam_v1)
            .finish()
    }
}

/// A running fake Nebius. Dropping it stops the server (as does [`FakeNebius::shutdown`],
/// which also waits for it).
pub struct FakeNebius {
    server: FakeServer,
    key: Arc<ServiceAccountKey>,
    iam_token: Option<String>,
    state: FakeNebiusState,
}

impl fmt::Debug for FakeNebius {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeNebius")
            .field("endpoint", &self.endpoint())
            .field("service_account", &self.key)
            .finish_non_exhaustive()
    }
}

impl FakeNebius {
    /// Binds `options.addr` and serves in a background task of the current Tokio runtime.
    /// Refuses options without a region or with a region the catalogue does not know.
    pub async fn start(options: FakeNebiusOptions) -> std::io::Result<FakeNebius> {
        if options.regions.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "regions: a Nebius fake serves at least one region",
            ));
        }
        let mut regions = Vec::new();
        for name in &options.regions {
            let info = catalog::region(name).ok_or_else(|| {
                let known: Vec<&str> = catalog::REGIONS.iter().map(|r| r.name).collect();
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("regions: {name:?} is not one of {}", known.join(", ")),
                )
            })?;
            if !regions.contains(&info) {
                regions.push(info);
            }
        }
        let code = regions[0].code;
        let key = match options.service_account {
            Some(key) => key,
            None => Arc::new(ServiceAccountKey::generate(
                &state::new_id("publickey", code),
                &state::new_id("serviceaccount", code),
            )?),
        };
        let state = FakeNebiusState::new(
            state::Timing {
                create: options.create_delay,
                start: options.start_delay,
                stop: options.stop_delay,
                delete: options.delete_delay,
                disk: options.disk_delay,
                token_lifetime: options.token_lifetime,
            },
            &regions,
            &key,
            options.iam_token.clone(),
        );
        let serving = state.clone();
        let latency = options.latency;
        let iam_v1 = options.iam_v1;
        let server = FakeServer::spawn(options.addr, move |listener, stop| {
            server::serve(listener, serving, latency, iam_v1, stop)
        })
        .await?;
        tracing::debug!(endpoint = %server.base_url(), "fake nebius: listening");
        Ok(FakeNebius {
            server,
            key,
            iam_token: options.iam_token,
            state,
        })
    }

    /// The address every service is served on, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> String {
        self.server.base_url()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The tenant whose projects the fake serves.
    pub fn tenant_id(&self) -> String {
        self.state.tenant_id()
    }

    /// The regions served.
    pub fn regions(&self) -> Vec<String> {
        self.state.regions()
    }

    /// The project of `region`.
    pub fn project_id(&self, region: &str) -> Option<String> {
        self.state.project_id(region)
    }

    /// The service-account key IAM knows: sign JWTs with it, or write it as credentials.
    pub fn service_account(&self) -> &ServiceAccountKey {
        &self.key
    }

    /// The static IAM token the fake accepts, if any.
    pub fn iam_token(&self) -> Option<&str> {
        self.iam_token.as_deref()
    }

    /// Writes the service account's `subject-credentials` JSON to `path`, readable by its
    /// owner only (it holds the private key).
    pub fn write_credentials_file(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(path)?;
        file.write_all(self.key.credentials_json().as_bytes())?;
        file.flush()
    }

    /// The server's state, for inspection and control. Clone it to keep a handle.
    pub fn state(&self) -> &FakeNebiusState {
        &self.state
    }

    /// What to export to point a Nebius client at this fake: `NEBIUS_API_ENDPOINT`,
    /// `NEBIUS_TENANT_ID`, `NEBIUS_REGIONS` (comma-separated), then
    /// `NEBIUS_CREDENTIALS_FILE` when a credentials file is given, else `NEBIUS_IAM_TOKEN`
    /// (the static token) when the fake has one.
    pub fn exports(&self, credentials_file: Option<&Path>) -> Exports {
        let exports = Exports::new()
            .with("NEBIUS_API_ENDPOINT", self.endpoint())
            .with("NEBIUS_TENANT_ID", self.tenant_id())
            .with("NEBIUS_REGIONS", self.regions().join(","));
        match (credentials_file, &self.iam_token) {
            (Some(path), _) => exports.with("NEBIUS_CREDENTIALS_FILE", path.display().to_string()),
            (None, Some(token)) => exports.with("NEBIUS_IAM_TOKEN", token.clone()),
            (None, None) => exports,
        }
    }

    /// Stops accepting, closes every open connection and waits for the server task.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Serves a fake until `shutdown` completes (for the CLI's `gpucloud fake nebius`).
/// `ready` gets the running fake once the port is bound; an error it returns stops the
/// fake.
pub async fn serve(
    options: FakeNebiusOptions,
    ready: impl FnOnce(&FakeNebius) -> std::io::Result<()>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let fake = FakeNebius::start(options).await?;
    if let Err(e) = ready(&fake) {
        fake.shutdown().await;
        return Err(e);
    }
    shutdown.await;
    fake.shutdown().await;
    Ok(())
}

/// How `gpucloud fake nebius` serves this fake.
pub static SERVED: ServedFake = ServedFake {
    name: "nebius",
    display_name: "Nebius",
    about: "Serve the Nebius AI Cloud gRPC API fake, every service on one address. The first \
            stdout line is the endpoint for NEBIUS_API_ENDPOINT, the second the service-account \
            credentials file for NEBIUS_CREDENTIALS_FILE, the third the tenant for \
            NEBIUS_TENANT_ID.",
    latency_help: "Extra latency added to every call, in milliseconds.",
    boot_help: "Time an instance takes from create (or start) to running, in milliseconds.",
    extra_flags: &[
        ExtraFlag::Regions("A region to serve (repeatable; default eu-north1 and us-central1)."),
        ExtraFlag::CredentialsFile(
            "Where to write the credentials file (kept); default a file in the temporary \
             directory, removed when the fake stops.",
        ),
    ],
    serve: serve_for_cli,
};

/// Serves this fake for `gpucloud fake`.
fn serve_for_cli<'a>(
    served: &ServeOptions,
    announce: Announce<'a>,
    shutdown: Shutdown<'a>,
) -> Serving<'a> {
    let mut options = FakeNebiusOptions {
        addr: served.addr,
        latency: served.latency,
        ..FakeNebiusOptions::default()
    };
    if !served.regions.is_empty() {
        options.regions.clone_from(&served.regions);
    }
    if let Some(boot) = served.boot {
        options.create_delay = boot;
        options.start_delay = boot;
    }
    // A file of our own in the temporary directory goes when the fake does; one the user
    // named stays.
    let (path, temporary) = match &served.credentials_file {
        Some(path) => (path.clone(), false),
        None => (
            std::env::temp_dir().join(format!("gpucloud-fake-nebius-{}.json", std::process::id())),
            true,
        ),
    };
    Box::pin(async move {
        let ready = |fake: &FakeNebius| {
            fake.write_credentials_file(&path)?;
            let projects: Vec<String> = fake
                .regions()
                .iter()
                .map(|r| format!("  {r}: {}", fake.project_id(r).unwrap_or_default()))
                .collect();
            announce(Announcement {
                // The endpoint, the credentials file and the tenant, for scripts.
                stdout: vec![
                    fake.endpoint(),
                    path.display().to_string(),
                    fake.tenant_id(),
                ],
                note: format!(
                    "Fake Nebius AI Cloud API listening on {}, projects:\n{}\n\
                     Point gpucloud at it with:\n  {}\n\
                     Stop it with Ctrl-C.",
                    fake.endpoint(),
                    projects.join("\n"),
                    fake.exports(Some(&path)).shell_line()
                ),
            });
            Ok(())
        };
        let served = serve(options, ready, shutdown).await;
        if temporary {
            // Best effort: the file may never have been written.
            let _ = std::fs::remove_file(&path);
        }
        served
    })
}
