//! A stateful fake of the NVIDIA LaunchPad API (2.40.9): a broker handing out machines of
//! several upstream clouds and NVIDIA's own data centres as *deployments*.
//!
//! The real API is `https://launchpad.api.nvidia.com`; the fake serves the same paths under
//! `http://127.0.0.1:<port>` ([`FakeLaunchpad::base_url`]), with and without the trailing
//! `/` the API uses.
//!
//! - Auth: `Authorization: Token <token>`; anything else is `401 {"detail": ...}`.
//! - Catalog: `GET /v1/catalog/instance-types/`, [`catalog::TYPES`] of four upstream clouds
//!   (`dmz`, NVIDIA's own, with an arm64 GH200; `oci`, `nebius`, `azure`), with capacity per
//!   region following what deployments take ([`FakeLaunchpadState::set_capacity`]), `regions`
//!   listing those with capacity, and the price the API publishes.
//! - Deployments: `POST /v1/catalog/deployments/` needs `org_name`, `request_id`,
//!   `requester_email`, `requester_name` and a known `experience_id`
//!   ([`catalog::EXPERIENCES`]); `provider_name`, `region`, `gpu_model`, `gpu_count` and
//!   `workshop_id` choose the type. A `request_id` is unique: a second create with it is
//!   `400 {"request_id": [...]}`. No capacity is `400 {"detail": NO_CAPACITY}` (the API has
//!   no code for it). A deployment is `waiting`, then `ready` after
//!   [`FakeLaunchpadOptions::waiting_delay`]; [`FakeLaunchpadState::set_launch_outcome`] (or
//!   the random fault mode) makes it go `failed` → `retrying` → `ready` (a failure LaunchPad
//!   retries) or end in `error`. `DELETE` makes it `destroying`, then `destroyed` after
//!   [`FakeLaunchpadOptions::destroying_delay`]; it stays listed, and its `request_id` stays
//!   taken. A delete of a deployment already destroying or destroyed is `400 {"detail":
//!   ALREADY_DESTROYED}`. The list pages (`page`, `page_size` up to [`MAX_PAGE_SIZE`]) and
//!   filters by `id`, `request_id`, `provider_name`, `region`, `gpu_model`, `gpu_count`,
//!   `state` and `state_not`.
//! - Clusters: `GET /v1/inventory/clusters/` (paged, filters `id` and `deployment`) and
//!   `/{id}/`: one per deployment not destroyed, with its `public_address` while the machine
//!   is up.
//! - Errors are the Django REST framework's: `{"detail": "..."}`, or `{"<field>": ["..."]}`
//!   for a field of the request. A page past the end is `404 Invalid page.`
//! - The shared fault switches ([`crate::kit::Fault`] aimed at an [`Operation`]) and an
//!   optional rate limit ([`FakeLaunchpadOptions::rate_limit`]), answered `429` with
//!   `Retry-After`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use gpucloud_fakes::kit::Fault;
//! use gpucloud_fakes::launchpad::{FakeLaunchpad, FakeLaunchpadOptions, Operation};
//! let fake = FakeLaunchpad::start(FakeLaunchpadOptions::default()).await?;
//! fake.state().set_capacity("pdx", "dmz", "GH200", 1, 0);
//! fake.state().set_fault(Fault::CommitThenDropResponse {
//!     operation: Operation::CreateDeployment,
//!     times: 1,
//! });
//! // point a client at fake.base_url() with fake.token()
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

pub use api::{
    ALREADY_DESTROYED, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, NO_CAPACITY, SSH_PORT, SSH_USER,
};
pub use op::Operation;
pub use state::{FakeDeployment, FakeLaunchpadState, FakeState, LaunchOutcome};

use crate::kit::{Exports, FakeServer, RateLimit};
use crate::registry::{Announce, Announcement, ServeOptions, ServedFake, Serving, Shutdown};

/// The API token a fake accepts unless told otherwise.
pub const DEFAULT_TOKEN: &str = "fake-launchpad-api-token";

/// The requester's e-mail [`FakeLaunchpad::exports`] suggests (the fake records any).
pub const EXPORTED_REQUESTER_EMAIL: &str = "you@example.com";

/// How a fake LaunchPad server behaves.
#[derive(Clone)]
pub struct FakeLaunchpadOptions {
    /// Address to listen on. Default `127.0.0.1:0` (a free port).
    pub addr: SocketAddr,
    /// The only token accepted (`Authorization: Token <token>`). Default [`DEFAULT_TOKEN`].
    pub token: String,
    /// Time from create to `ready` (or to `failed` / `error`). Default 1 s.
    pub waiting_delay: Duration,
    /// Time in `failed`, and then in `retrying`, of a deployment LaunchPad retries.
    /// Default 500 ms.
    pub retry_delay: Duration,
    /// Time from delete to `destroyed`. Default 500 ms.
    pub destroying_delay: Duration,
    /// Delay added to every response. Default 0.
    pub latency: Duration,
    /// A rate limit over all requests. Default none.
    pub rate_limit: Option<RateLimit>,
}

impl Default for FakeLaunchpadOptions {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            token: DEFAULT_TOKEN.to_owned(),
            waiting_delay: Duration::from_secs(1),
            retry_delay: Duration::from_millis(500),
            destroying_delay: Duration::from_millis(500),
            latency: Duration::ZERO,
            rate_limit: None,
        }
    }
}

impl fmt::Debug for FakeLaunchpadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeLaunchpadOptions")
            .field("addr", &self.addr)
            .field("token", &"<redacted>")
            .field("waiting_delay", &self.waiting_delay)
            .field("retry_delay", &self.retry_delay)
            .field("destroying_delay", &self.destroying_delay)
            .field("latency", &self.latency)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

/// A running fake LaunchPad server. Dropping it stops the server (as does
/// [`FakeLaunchpad::shutdown`], which also waits for it).
pub struct FakeLaunchpad {
    server: FakeServer,
    token: String,
    state: FakeLaunchpadState,
}

impl fmt::Debug for FakeLaunchpad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeLaunchpad")
            .field("base_url", &self.base_url())
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl FakeLaunchpad {
    /// Binds `options.addr` and serves in a background task of the current Tokio runtime.
    pub async fn start(options: FakeLaunchpadOptions) -> std::io::Result<FakeLaunchpad> {
        let bucket = options
            .rate_limit
            .map(|limit| limit.bucket(tokio::time::Instant::now()));
        let state = FakeLaunchpadState::new(
            state::Timing {
                waiting: options.waiting_delay,
                retry: options.retry_delay,
                destroying: options.destroying_delay,
            },
            bucket,
        );
        let api = Arc::new(server::LaunchpadApi {
            state: state.clone(),
            token: options.token.clone(),
            latency: options.latency,
        });
        let server = FakeServer::serve_rest(options.addr, api, api::router(state.clone())).await?;
        Ok(FakeLaunchpad {
            server,
            token: options.token,
            state,
        })
    }

    /// The API root, e.g. `http://127.0.0.1:41234` (the fake's stand-in for
    /// `https://launchpad.api.nvidia.com`).
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The token the server accepts.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The server's state, for inspection and control. Clone it to keep a handle.
    pub fn state(&self) -> &FakeLaunchpadState {
        &self.state
    }

    /// What to export to point a LaunchPad client at this fake: `LAUNCHPAD_API_URL`,
    /// `LAUNCHPAD_API_TOKEN` and `LAUNCHPAD_REQUESTER_EMAIL` (which creates need).
    pub fn exports(&self) -> Exports {
        Exports::new()
            .with("LAUNCHPAD_API_URL", self.base_url())
            .with("LAUNCHPAD_API_TOKEN", self.token.clone())
            .with("LAUNCHPAD_REQUESTER_EMAIL", EXPORTED_REQUESTER_EMAIL)
    }

    /// Stops accepting, closes every open connection and waits for the server task.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Serves a fake until `shutdown` completes (for the CLI's `gpucloud fake launchpad`).
/// `ready` gets the running fake once the port is bound.
pub async fn serve(
    options: FakeLaunchpadOptions,
    ready: impl FnOnce(&FakeLaunchpad),
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let fake = FakeLaunchpad::start(options).await?;
    ready(&fake);
    shutdown.await;
    fake.shutdown().await;
    Ok(())
}

/// How `gpucloud fake launchpad` serves this fake.
pub static SERVED: ServedFake = ServedFake {
    name: "launchpad",
    display_name: "NVIDIA LaunchPad",
    about: "Serve the NVIDIA LaunchPad API fake: deployments on four upstream clouds, \
            NVIDIA's DMZ with an arm64 GH200 among them. The first stdout line is the base \
            URL for LAUNCHPAD_API_URL.",
    latency_help: "Extra latency added to every response, in milliseconds.",
    boot_help: "Time a deployment takes from create to ready, in milliseconds.",
    extra_flags: &[],
    serve: serve_for_cli,
};

/// Serves this fake for `gpucloud fake`.
fn serve_for_cli<'a>(
    served: &ServeOptions,
    announce: Announce<'a>,
    shutdown: Shutdown<'a>,
) -> Serving<'a> {
    let mut options = FakeLaunchpadOptions {
        addr: served.addr,
        latency: served.latency,
        ..FakeLaunchpadOptions::default()
    };
    if let Some(boot) = served.boot {
        options.waiting_delay = boot;
    }
    Box::pin(serve(
        options,
        move |fake: &FakeLaunchpad| {
            announce(Announcement {
                stdout: vec![fake.base_url()],
                note: format!(
                    "Fake NVIDIA LaunchPad API listening. Point gpucloud at it with:\n  {}\n\
                     Stop it with Ctrl-C.",
                    fake.exports().shell_line()
                ),
            });
        },
        shutdown,
    ))
}
