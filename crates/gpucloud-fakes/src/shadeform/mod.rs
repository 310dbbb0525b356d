//! A stateful fake of the Shadeform API (1.0.0): a GPU marketplace selling several upstream
//! clouds' machines behind one API.
//!
//! The real API is `https://api.shadeform.ai/v1`; the fake serves the same paths under
//! `http://127.0.0.1:<port>/v1` ([`FakeShadeform::base_url`]).
//!
//! - Auth: `X-API-KEY: <key>`; anything else is `401 {"error_code", "error"}`.
//! - Catalog: [`catalog::OFFERS`], ten upstream clouds (`hyperstack`, `verda`,
//!   `massedcompute`, `lambdalabs`, `crusoe`, `scaleway`, `paperspace`, `denvr`, `vultr` and
//!   Shadeform's own `excesssupply`) in regions named as the live API names them
//!   (`<city>-<country>-<n>`, e.g. `dallas-usa-3`) and the description's older names
//!   (`canada-1`, `us-central-1`), with type names carrying the live suffixes
//!   (`A100_80G_sxm4x8`, `A100_80G-plus`, `H100x8-2`), cent prices and today's OS images
//!   ([`catalog::OS_OPTIONS`]); `/instances/types` honours every query filter of the
//!   description (`cloud`, `region`, `num_gpus`, `gpu_type`, `shade_instance_type`,
//!   `available`, `sort=price`). Availability per region follows the capacity a test sets
//!   ([`FakeShadeformState::set_capacity`]).
//! - Instances: a launch needs `cloud`, `region`, `shade_instance_type` and `name`;
//!   `shade_cloud` may be omitted (Shade Cloud, the live default). Created `creating`, then
//!   `pending_provider` after [`FakeShadeformOptions::creating_delay`], then `active` (with an
//!   address, SSH user `shadeform`, port 22) after
//!   [`FakeShadeformOptions::pending_provider_delay`]; each carries `status_details`,
//!   `boot_time`, `active_at` and a `cost_estimate` that grows at its offer's price while it
//!   is active. A launch without capacity, or in a region the offer does not have, is
//!   `409 OUT_OF_STOCK`. Delete goes `deleting` → `deleted` → gone; deleting again while
//!   `deleting` is accepted; a `deleted` instance is gone from `/instances` and `/info`
//!   (404). Restart is accepted for `active` instances only (`409` otherwise) and the status
//!   stays `active`. Update sets the name and the tags (`null` deletes, omitted keeps).
//! - SSH keys: the account holds a default key from the start
//!   ([`FakeShadeformState::default_key_id`]), used by a launch that names none; names are
//!   unique (`409`); the default key and keys in use cannot be deleted (`409`).
//! - Errors are `{"error_code": "...", "error": "..."}`; a bad body is `400` naming the
//!   field. Clusters, volumes and templates answer `501`.
//! - The shared fault switches ([`crate::kit::Fault`] aimed at an [`Operation`]) and an
//!   optional rate limit ([`FakeShadeformOptions::rate_limit`]), answered `429` with
//!   `Retry-After`. The random fault mode also draws faults of launches: a slow boot
//!   (`pending` before `active`) or an upstream failure (`error`).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use gpucloud_fakes::shadeform::{FakeShadeform, FakeShadeformOptions, Operation};
//! use gpucloud_fakes::kit::Fault;
//! let fake = FakeShadeform::start(FakeShadeformOptions::default()).await?;
//! fake.state().set_capacity("canada-1", "hyperstack_A6000", 0);
//! fake.state().set_fault(Fault::CommitThenDropResponse {
//!     operation: Operation::CreateInstance,
//!     times: 1,
//! });
//! // point a client at fake.base_url() with fake.api_key()
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

pub use api::{OUT_OF_STOCK, SSH_USER};
pub use op::Operation;
pub use state::{DEFAULT_PUBLIC_KEY, FakeInstance, FakeShadeformState, FakeSshKey, FakeStatus};

use crate::kit::{Auth, Exports, FakeServer, RateLimit};
use crate::registry::{Announce, Announcement, ServeOptions, ServedFake, Serving, Shutdown};

/// The API key a fake accepts unless told otherwise.
pub const DEFAULT_API_KEY: &str = "fake-shadeform-api-key";

/// How a fake Shadeform server behaves.
#[derive(Clone)]
pub struct FakeShadeformOptions {
    /// Address to listen on. Default `127.0.0.1:0` (a free port).
    pub addr: SocketAddr,
    /// The only `X-API-KEY` accepted. Default [`DEFAULT_API_KEY`].
    pub api_key: String,
    /// Time from create to `pending_provider`. Default 500 ms.
    pub creating_delay: Duration,
    /// Time from `pending_provider` to `active`. Default 1 s.
    pub pending_provider_delay: Duration,
    /// Time from delete to `deleted`. Default 500 ms.
    pub deleting_delay: Duration,
    /// Time from `deleted` to gone. Default 500 ms.
    pub deleted_delay: Duration,
    /// Delay added to every response. Default 0.
    pub latency: Duration,
    /// A rate limit over all requests (Shadeform publishes none). Default none.
    pub rate_limit: Option<RateLimit>,
}

impl Default for FakeShadeformOptions {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_key: DEFAULT_API_KEY.to_owned(),
            creating_delay: Duration::from_millis(500),
            pending_provider_delay: Duration::from_secs(1),
            deleting_delay: Duration::from_millis(500),
            deleted_delay: Duration::from_millis(500),
            latency: Duration::ZERO,
            rate_limit: None,
        }
    }
}

impl fmt::Debug for FakeShadeformOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeShadeformOptions")
            .field("addr", &self.addr)
            .field("api_key", &"<redacted>")
            .field("creating_delay", &self.creating_delay)
            .field("pending_provider_delay", &self.pending_provider_delay)
            .field("deleting_delay", &self.deleting_delay)
            .field("deleted_delay", &self.deleted_delay)
            .field("latency", &self.latency)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

/// A running fake Shadeform server. Dropping it stops the server (as does
/// [`FakeShadeform::shutdown`], which also waits for it).
pub struct FakeShadeform {
    server: FakeServer,
    api_key: String,
    state: FakeShadeformState,
}

impl fmt::Debug for FakeShadeform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeShadeform")
            .field("base_url", &self.base_url())
            .field("api_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl FakeShadeform {
    /// Binds `options.addr` and serves in a background task of the current Tokio runtime.
    pub async fn start(options: FakeShadeformOptions) -> std::io::Result<FakeShadeform> {
        let bucket = options
            .rate_limit
            .map(|limit| limit.bucket(tokio::time::Instant::now()));
        let state = FakeShadeformState::new(
            state::Timing {
                creating: options.creating_delay,
                pending_provider: options.pending_provider_delay,
                deleting: options.deleting_delay,
                deleted: options.deleted_delay,
            },
            bucket,
        );
        let api = Arc::new(server::ShadeformApi {
            state: state.clone(),
            auth: Auth::Header {
                name: http::HeaderName::from_static("x-api-key"),
                value: options.api_key.clone(),
            },
            latency: options.latency,
        });
        let server = FakeServer::serve_rest(options.addr, api, api::router(state.clone())).await?;
        Ok(FakeShadeform {
            server,
            api_key: options.api_key,
            state,
        })
    }

    /// The API root, e.g. `http://127.0.0.1:41234/v1` (the fake's stand-in for
    /// `https://api.shadeform.ai/v1`).
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server.base_url())
    }

    /// The `X-API-KEY` the server accepts.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The server's state, for inspection and control. Clone it to keep a handle.
    pub fn state(&self) -> &FakeShadeformState {
        &self.state
    }

    /// What to export to point a Shadeform client at this fake: `SHADEFORM_API_URL` and
    /// `SHADEFORM_API_KEY`.
    pub fn exports(&self) -> Exports {
        Exports::new()
            .with("SHADEFORM_API_URL", self.base_url())
            .with("SHADEFORM_API_KEY", self.api_key.clone())
    }

    /// Stops accepting, closes every open connection and waits for the server task.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Serves a fake until `shutdown` completes (for the CLI's `gpucloud fake shadeform`).
/// `ready` gets the running fake once the port is bound.
pub async fn serve(
    options: FakeShadeformOptions,
    ready: impl FnOnce(&FakeShadeform),
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let fake = FakeShadeform::start(options).await?;
    ready(&fake);
    shutdown.await;
    fake.shutdown().await;
    Ok(())
}

/// How `gpucloud fake shadeform` serves this fake.
pub static SERVED: ServedFake = ServedFake {
    name: "shadeform",
    display_name: "Shadeform",
    about: "Serve the Shadeform API fake: ten upstream clouds behind one marketplace. The first \
            stdout line is the base URL for SHADEFORM_API_URL.",
    latency_help: "Extra latency added to every response, in milliseconds.",
    boot_help: "Time an instance takes from create to active, in milliseconds (split between \
                `creating` and `pending_provider`).",
    extra_flags: &[],
    serve: serve_for_cli,
};

/// Serves this fake for `gpucloud fake`.
fn serve_for_cli<'a>(
    served: &ServeOptions,
    announce: Announce<'a>,
    shutdown: Shutdown<'a>,
) -> Serving<'a> {
    let mut options = FakeShadeformOptions {
        addr: served.addr,
        latency: served.latency,
        ..FakeShadeformOptions::default()
    };
    if let Some(boot) = served.boot {
        options.creating_delay = boot / 3;
        options.pending_provider_delay = boot.saturating_sub(boot / 3);
    }
    Box::pin(serve(
        options,
        move |fake: &FakeShadeform| {
            announce(Announcement {
                stdout: vec![fake.base_url()],
                note: format!(
                    "Fake Shadeform API listening. Point gpucloud at it with:\n  {}\n\
                     Stop it with Ctrl-C.",
                    fake.exports().shell_line()
                ),
            });
        },
        shutdown,
    ))
}
