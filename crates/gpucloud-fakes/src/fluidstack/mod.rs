//! A stateful fake of Fluidstack's Infrastructure API v1alpha1.
//!
//! The real API is served per region at `https://<region>.atlas.fluidstack.io/api/v1alpha1`.
//! The fake serves every one of its regions from one port, region first in the path:
//! `http://127.0.0.1:<port>/<region>/api/v1alpha1/...`. A client that takes a base URL per
//! region uses [`FakeFluidstack::base_url`]; one that takes a template uses
//! [`FakeFluidstack::url_template`] (`{region}` stands for the region). A region the fake
//! does not serve answers `404`.
//!
//! - Auth: `Authorization: Bearer <key>`; anything else is `401 {"message"}`.
//! - Projects (uuid ids): one exists at start ([`FakeFluidstack::project_id`]); list,
//!   create, get and delete (deleting one deletes its instances). Every project-scoped
//!   endpoint needs `X-PROJECT-ID`: missing or not a UUID is `400`, an unknown project `403`.
//! - Instance types: [`catalog::INSTANCE_TYPES`] (e.g. `h100-hgx-80gb.8x`, `gpuModel`
//!   `GH100_H100_SXM5_80GB`, memory `960Gi`), the same in every region; `/capacity` per
//!   region, set by a test with [`FakeFluidstackState::set_capacity`].
//! - Instances (per project and region): created `creating`, then `running` after
//!   [`FakeFluidstackOptions::create_delay`], or `out-of-stock` when the type had no
//!   capacity left in the region (it never gets an address). Stop (`running` only) goes
//!   `stopping` → `stopped`, start (`stopped` only) `starting` → `running`, anything else is
//!   `409`. Delete goes `deleting` → gone after [`FakeFluidstackOptions::delete_delay`];
//!   deleting again while `deleting` is accepted.
//! - Errors are `{"message": "..."}` with the description's statuses; a bad body is `400`
//!   naming the field. File systems, Kubernetes and Slurm answer `501`.
//! - The shared fault switches ([`crate::kit::Fault`] aimed at an [`Operation`]) and an
//!   optional rate limit ([`FakeFluidstackOptions::rate_limit`]), answered `429` with
//!   `Retry-After`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use gpucloud_fakes::fluidstack::{FakeFluidstack, FakeFluidstackOptions, Operation};
//! use gpucloud_fakes::kit::Fault;
//! let fake = FakeFluidstack::start(FakeFluidstackOptions::default()).await?;
//! let region = fake.regions()[0].clone();
//! fake.state().set_capacity(&region, "h100-hgx-80gb.8x", 0);
//! fake.state().set_fault(Fault::CommitThenDropResponse {
//!     operation: Operation::CreateInstance,
//!     times: 1,
//! });
//! // point a client at fake.base_url(&region) with fake.api_key() and fake.project_id()
//! fake.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod api;
pub mod catalog;
mod op;
mod server;
mod state;

use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

pub use api::{CAPABILITIES, DEFAULT_IMAGE, PROJECT_HEADER};
pub use op::Operation;
pub use state::{FakeFluidstackState, FakeInstance, FakeInstanceState, FakeProject};

use crate::kit::{Auth, Exports, FakeServer, RateLimit};
use crate::registry::{
    Announce, Announcement, ExtraFlag, ServeOptions, ServedFake, Serving, Shutdown,
};

/// The API key a fake accepts unless told otherwise.
pub const DEFAULT_API_KEY: &str = "fake-fluidstack-api-key";

/// The regions a fake serves unless told otherwise.
pub const DEFAULT_REGIONS: &[&str] = &["us-east-1", "eu-north-1"];

/// The path after the region, as in the description's server URL.
pub(crate) const API_PREFIX: &str = "api/v1alpha1/";

/// How a fake Fluidstack server behaves.
#[derive(Clone)]
pub struct FakeFluidstackOptions {
    /// Address to listen on. Default `127.0.0.1:0` (a free port).
    pub addr: SocketAddr,
    /// The only bearer token accepted. Default [`DEFAULT_API_KEY`].
    pub api_key: String,
    /// Regions served (at least one). Default [`DEFAULT_REGIONS`].
    pub regions: Vec<String>,
    /// Name of the project that exists at start. Default `default`.
    pub project_name: String,
    /// Time from create to `running` (or `out-of-stock`). Default 1 s.
    pub create_delay: Duration,
    /// Time from a start action to `running`. Default 1 s.
    pub start_delay: Duration,
    /// Time from a stop action to `stopped`. Default 1 s.
    pub stop_delay: Duration,
    /// Time from delete to gone. Default 1 s.
    pub delete_delay: Duration,
    /// Delay added to every response. Default 0.
    pub latency: Duration,
    /// A rate limit to enforce over all requests (Fluidstack publishes none). Default none.
    pub rate_limit: Option<RateLimit>,
}

impl Default for FakeFluidstackOptions {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_key: DEFAULT_API_KEY.to_owned(),
            regions: DEFAULT_REGIONS.iter().map(|r| (*r).to_owned()).collect(),
            project_name: "default".to_owned(),
            create_delay: Duration::from_secs(1),
            start_delay: Duration::from_secs(1),
            stop_delay: Duration::from_secs(1),
            delete_delay: Duration::from_secs(1),
            latency: Duration::ZERO,
            rate_limit: None,
        }
    }
}

impl fmt::Debug for FakeFluidstackOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeFluidstackOptions")
            .field("addr", &self.addr)
            .field("api_key", &"<redacted>")
            .field("regions", &self.regions)
            .field("project_name", &self.project_name)
            .field("create_delay", &self.create_delay)
            .field("start_delay", &self.start_delay)
            .field("stop_delay", &self.stop_delay)
            .field("delete_delay", &self.delete_delay)
            .field("latency", &self.latency)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

/// A running fake Fluidstack server. Dropping it stops the server (as does
/// [`FakeFluidstack::shutdown`], which also waits for it).
pub struct FakeFluidstack {
    server: FakeServer,
    api_key: String,
    state: FakeFluidstackState,
}

impl fmt::Debug for FakeFluidstack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeFluidstack")
            .field("root_url", &self.server.base_url())
            .field("regions", &self.state.regions())
            .field("api_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl FakeFluidstack {
    /// Binds `options.addr` and serves in a background task of the current Tokio runtime.
    /// Refuses options without a region, or with a region name that is not one path
    /// segment.
    pub async fn start(options: FakeFluidstackOptions) -> std::io::Result<FakeFluidstack> {
        if options.regions.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "regions: a Fluidstack fake serves at least one region",
            ));
        }
        if let Some(bad) = options
            .regions
            .iter()
            .find(|r| r.is_empty() || !r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("regions: {bad:?} is not a region name (letters, digits and '-')"),
            ));
        }
        let bucket = options
            .rate_limit
            .map(|limit| limit.bucket(tokio::time::Instant::now()));
        let state = FakeFluidstackState::new(
            state::Timing {
                create: options.create_delay,
                start: options.start_delay,
                stop: options.stop_delay,
                delete: options.delete_delay,
            },
            options.regions.clone(),
            &options.project_name,
            bucket,
        );
        let api = Arc::new(server::FluidstackApi {
            state: state.clone(),
            auth: Auth::Bearer(options.api_key.clone()),
            latency: options.latency,
        });
        let server = FakeServer::serve_rest(options.addr, api, api::router(state.clone())).await?;
        Ok(FakeFluidstack {
            server,
            api_key: options.api_key,
            state,
        })
    }

    /// The server root, e.g. `http://127.0.0.1:41234` (paths start with `/<region>/`).
    pub fn root_url(&self) -> String {
        self.server.base_url()
    }

    /// The API base URL of one region, e.g. `http://127.0.0.1:41234/us-east-1/api/v1alpha1`
    /// (the fake's stand-in for `https://us-east-1.atlas.fluidstack.io/api/v1alpha1`).
    pub fn base_url(&self, region: &str) -> String {
        format!("{}/{region}/api/v1alpha1", self.server.base_url())
    }

    /// The base URL with `{region}` in place of the region.
    pub fn url_template(&self) -> String {
        self.base_url("{region}")
    }

    /// The regions served.
    pub fn regions(&self) -> &[String] {
        self.state.regions()
    }

    /// The bearer token the server accepts.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The project that exists from the start.
    pub fn project_id(&self) -> Uuid {
        self.state.project_id()
    }

    /// The server's state, for inspection and control. Clone it to keep a handle.
    pub fn state(&self) -> &FakeFluidstackState {
        &self.state
    }

    /// What to export to point a Fluidstack client at this fake: `FLUIDSTACK_API_URL` (the
    /// [`url_template`](Self::url_template)), `FLUIDSTACK_API_KEY`, `FLUIDSTACK_PROJECT_ID`
    /// and `FLUIDSTACK_REGIONS` (comma-separated).
    pub fn exports(&self) -> Exports {
        Exports::new()
            .with("FLUIDSTACK_API_URL", self.url_template())
            .with("FLUIDSTACK_API_KEY", self.api_key.clone())
            .with("FLUIDSTACK_PROJECT_ID", self.project_id().to_string())
            .with("FLUIDSTACK_REGIONS", self.regions().join(","))
    }

    /// Stops accepting, closes every open connection and waits for the server task.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Serves a fake until `shutdown` completes (for the CLI's `gpucloud fake fluidstack`).
/// `ready` gets the running fake once the port is bound.
pub async fn serve(
    options: FakeFluidstackOptions,
    ready: impl FnOnce(&FakeFluidstack),
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let fake = FakeFluidstack::start(options).await?;
    ready(&fake);
    shutdown.await;
    fake.shutdown().await;
    Ok(())
}

/// How `gpucloud fake fluidstack` serves this fake.
pub static SERVED: ServedFake = ServedFake {
    name: "fluidstack",
    display_name: "Fluidstack",
    about: "Serve the Fluidstack Infrastructure API fake, every region on one port. The first \
            stdout line is the base URL with `{region}` for FLUIDSTACK_API_URL, the second the \
            project id for FLUIDSTACK_PROJECT_ID.",
    latency_help: "Extra latency added to every response, in milliseconds.",
    boot_help: "Time an instance takes from create (or start) to running, in milliseconds.",
    extra_flags: &[ExtraFlag::Regions(
        "A region to serve (repeatable; default us-east-1 and eu-north-1).",
    )],
    serve: serve_for_cli,
};

/// Serves this fake for `gpucloud fake`.
fn serve_for_cli<'a>(
    served: &ServeOptions,
    announce: Announce<'a>,
    shutdown: Shutdown<'a>,
) -> Serving<'a> {
    let mut options = FakeFluidstackOptions {
        addr: served.addr,
        latency: served.latency,
        ..FakeFluidstackOptions::default()
    };
    if !served.regions.is_empty() {
        options.regions.clone_from(&served.regions);
    }
    if let Some(boot) = served.boot {
        options.create_delay = boot;
        options.start_delay = boot;
    }
    Box::pin(serve(
        options,
        move |fake: &FakeFluidstack| {
            let urls: Vec<String> = fake
                .regions()
                .iter()
                .map(|r| format!("  {r}: {}", fake.base_url(r)))
                .collect();
            announce(Announcement {
                // The URL template and the project id, for scripts.
                stdout: vec![fake.url_template(), fake.project_id().to_string()],
                note: format!(
                    "Fake Fluidstack Infrastructure API listening, one base URL per region:\n{}\n\
                     Project {}. Point gpucloud at it with:\n  {}\n\
                     Stop it with Ctrl-C.",
                    urls.join("\n"),
                    fake.project_id(),
                    fake.exports().shell_line()
                ),
            });
        },
        shutdown,
    ))
}
