//! A stateful fake of the Lambda Cloud API (description version 1.10.0).
//!
//! The base URL is the server root; every path starts with `/api/v1/`. Both of Lambda's auth
//! schemes work (`Authorization: Bearer <key>` and HTTP Basic with the key as user name and an
//! empty password); anything else gets `401 global/invalid-api-key`.
//!
//! Served: instances (list, get, rename), launch, restart, terminate, instance types (with
//! `regions_with_capacity_available` computed from per-region capacity), regions, SSH keys
//! (list, add or generate, delete), images, file systems (always empty), the global firewall
//! rules (`/firewall-rules` and `/firewall-rulesets/global` share one rule list) and regional
//! firewall rulesets.
//!
//! Lifecycle, computed from timestamps: launch → `booting` → `active` after
//! [`FakeLambdaOptions::boot_delay`]; restart → `booting` → `active`; terminate →
//! `terminating` → `terminated` after [`FakeLambdaOptions::terminate_delay`] → absent after
//! [`FakeLambdaOptions::gone_after`] more. Network details (`ip`, `private_ip`, `hostname`,
//! `jupyter_*`) appear once the first boot completes.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions, Fault};
//! let fake = FakeLambda::start(FakeLambdaOptions::default()).await?;
//! fake.state().set_fault(Fault::ServerError { status: 503, times: 1 });
//! // point a client at fake.base_url() with fake.api_key()
//! fake.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod api;
pub mod catalog;
mod fault;
mod server;
mod state;
mod wire;

use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::kit::{Auth, Exports, FakeServer};
use crate::registry::{Announce, Announcement, ServeOptions, ServedFake, Serving, Shutdown};

pub use fault::{Fault, Operation};
pub use state::{
    FakeFirewallRule, FakeFirewallRuleset, FakeImageSpec, FakeInstance, FakeInstanceStatus,
    FakeLambdaState, FakeSshKey, FakeTag, GENERAL_BURST, GENERAL_RATE_PER_SEC, LAUNCH_INTERVAL,
};
pub use wire::RATE_LIMITED_CODE;

/// The API key a fake accepts unless told otherwise.
pub const DEFAULT_API_KEY: &str = "fake-lambda-api-key";

/// How a fake Lambda server behaves.
#[derive(Clone)]
pub struct FakeLambdaOptions {
    /// Address to listen on. Default `127.0.0.1:0` (a free port).
    pub addr: SocketAddr,
    /// The only API key accepted. Default [`DEFAULT_API_KEY`].
    pub api_key: String,
    /// Time from launch or restart to `active`. Default 2 s.
    pub boot_delay: Duration,
    /// Time from terminate to `terminated`. Default 1 s.
    pub terminate_delay: Duration,
    /// Time an instance stays listed as `terminated` before it is gone. Default 5 s.
    pub gone_after: Duration,
    /// Delay added to every response. Default 0.
    pub latency: Duration,
    /// Enforce Lambda's published limits: about one request per second per key (burst
    /// [`GENERAL_BURST`]) and one launch per [`LAUNCH_INTERVAL`], answered with `429` and
    /// `Retry-After`. Default false.
    pub enforce_rate_limits: bool,
    /// Keep a firewall ruleset in use while any instance that references it is still listed,
    /// terminating or terminated included, as real Lambda may: deleting it answers `400
    /// firewall-rulesets/firewall-ruleset-in-use` and its `instance_ids` name the instance
    /// until the instance is gone. Default false: a ruleset is freed as soon as its instances
    /// start terminating.
    pub rulesets_in_use_until_gone: bool,
}

impl Default for FakeLambdaOptions {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_key: DEFAULT_API_KEY.to_owned(),
            boot_delay: Duration::from_secs(2),
            terminate_delay: Duration::from_secs(1),
            gone_after: Duration::from_secs(5),
            latency: Duration::ZERO,
            enforce_rate_limits: false,
            rulesets_in_use_until_gone: false,
        }
    }
}

impl fmt::Debug for FakeLambdaOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeLambdaOptions")
            .field("addr", &self.addr)
            .field("api_key", &"<redacted>")
            .field("boot_delay", &self.boot_delay)
            .field("terminate_delay", &self.terminate_delay)
            .field("gone_after", &self.gone_after)
            .field("latency", &self.latency)
            .field("enforce_rate_limits", &self.enforce_rate_limits)
            .field(
                "rulesets_in_use_until_gone",
                &self.rulesets_in_use_until_gone,
            )
            .finish()
    }
}

impl FakeLambdaOptions {
    fn new_state(&self) -> FakeLambdaState {
        FakeLambdaState::new(state::Timing {
            boot_delay: self.boot_delay,
            terminate_delay: self.terminate_delay,
            gone_after: self.gone_after,
        })
        .with_rulesets_in_use_until_gone(self.rulesets_in_use_until_gone)
    }

    fn api(&self, state: FakeLambdaState) -> Arc<server::LambdaApi> {
        Arc::new(server::LambdaApi {
            state,
            auth: Auth::AnyOf(vec![
                Auth::Bearer(self.api_key.clone()),
                Auth::BasicKey(self.api_key.clone()),
            ]),
            latency: self.latency,
            enforce_rate_limits: self.enforce_rate_limits,
        })
    }
}

/// A running fake Lambda server. Dropping it stops the server (as does [`FakeLambda::shutdown`],
/// which also waits for it).
pub struct FakeLambda {
    server: FakeServer,
    api_key: String,
    state: FakeLambdaState,
}

impl fmt::Debug for FakeLambda {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeLambda")
            .field("base_url", &self.server.base_url())
            .field("api_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl FakeLambda {
    /// Binds `options.addr` and serves in a background task of the current Tokio runtime.
    pub async fn start(options: FakeLambdaOptions) -> std::io::Result<FakeLambda> {
        let state = options.new_state();
        let server = FakeServer::serve_rest(
            options.addr,
            options.api(state.clone()),
            api::router(state.clone()),
        )
        .await?;
        Ok(FakeLambda {
            server,
            api_key: options.api_key,
            state,
        })
    }

    /// The server root, e.g. `http://127.0.0.1:41234` (paths start with `/api/v1/`).
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// What to export to point `gpucloud` at this fake.
    pub fn exports(&self) -> Exports {
        Exports::new()
            .with("LAMBDA_API_URL", self.base_url())
            .with("LAMBDA_API_KEY", self.api_key.clone())
    }

    /// The API key the server accepts.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The server's state, for inspection and control. Clone it to keep a handle.
    pub fn state(&self) -> &FakeLambdaState {
        &self.state
    }

    /// Stops accepting, closes every open connection and waits for the server task.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Serves a fake until `shutdown` completes (for the CLI's `gpucloud fake lambda`).
/// `ready` gets the base URL once the port is bound.
pub async fn serve(
    options: FakeLambdaOptions,
    ready: impl FnOnce(String),
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let fake = FakeLambda::start(options).await?;
    ready(fake.base_url());
    shutdown.await;
    fake.shutdown().await;
    Ok(())
}

/// How `gpucloud fake lambda` serves this fake.
pub static SERVED: ServedFake = ServedFake {
    name: "lambda",
    display_name: "Lambda",
    about: "Serve the Lambda Cloud fake. The first stdout line is the base URL for LAMBDA_API_URL.",
    latency_help: "Extra latency added to every response, in milliseconds.",
    boot_help: "Time an instance takes to boot, in milliseconds.",
    extra_flags: &[],
    serve: serve_for_cli,
};

/// Serves this fake for `gpucloud fake`.
fn serve_for_cli<'a>(
    served: &ServeOptions,
    announce: Announce<'a>,
    shutdown: Shutdown<'a>,
) -> Serving<'a> {
    let mut options = FakeLambdaOptions {
        addr: served.addr,
        latency: served.latency,
        ..FakeLambdaOptions::default()
    };
    if let Some(boot) = served.boot {
        options.boot_delay = boot;
    }
    Box::pin(serve(
        options,
        move |base_url: String| {
            let note = format!(
                "Fake Lambda Cloud API listening. Point gpucloud at it with:\n  \
                 export LAMBDA_API_URL={base_url} LAMBDA_API_KEY={DEFAULT_API_KEY}\n\
                 Stop it with Ctrl-C."
            );
            announce(Announcement {
                stdout: vec![base_url],
                note,
            });
        },
        shutdown,
    ))
}
