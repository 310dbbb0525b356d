//! A stateful fake of Verda's public API (formerly DataCrunch; `https://api.verda.com/v1`),
//! served under `http://127.0.0.1:<port>/v1` ([`FakeVerda::base_url`]).
//!
//! Verda publishes no OpenAPI description: paths, fields and enum strings follow its Python
//! SDK (PyPI `verda`) and Go SDK (`verda-cloud/verdacloud-sdk-go`).
//!
//! - Auth: OAuth2 client credentials. `POST /oauth2/token` takes `{"grant_type":
//!   "client_credentials", "client_id", "client_secret"}` (or `refresh_token` with a refresh
//!   token), in JSON or as a form, and answers `{access_token, refresh_token, scope,
//!   token_type, expires_in}`; tokens expire after [`FakeVerdaOptions::token_lifetime`]
//!   ([`FakeVerdaState::expire_tokens`] ends them at once). Every other path needs
//!   `Authorization: Bearer <access token>`, else `401 unauthorized_request`.
//! - Catalog: [`catalog::LOCATIONS`] (`FIN-01`, `FIN-02`, `FIN-03`, `ICE-01`),
//!   [`catalog::TYPES`] with on-demand (`price_per_hour`) and spot (`spot_price`) prices in
//!   `usd` or `eur`, `GPU memory` for the whole instance as the API has it, and
//!   `/instance-availability` per usage class (`is_spot`), following the capacity a test sets
//!   ([`FakeVerdaState::set_capacity`]); `/images` with one default image.
//! - Instances: `POST /instances` answers the id as plain text; the instance is `ordered`,
//!   then `provisioning` after [`FakeVerdaOptions::ordered_delay`], then `running` (with an
//!   address) after [`FakeVerdaOptions::provisioning_delay`]; an OS volume is made with it.
//!   No capacity is `400 invalid_request` "Not enough resources ...", as Verda answers.
//!   `PUT /instances` runs actions: `shutdown` (running → `offline`), `start` (offline →
//!   `provisioning` → `running`), `delete` (→ `deleting` → gone, deleting the volumes named in
//!   `volume_ids`, to the trash unless `delete_permanently`; the others stay detached). One
//!   instance's failure is the answer's status; with several ids, `207` lists each result.
//!   [`FakeVerdaState::set_launch_outcome`] makes new orders sit in `no_capacity` or `error`,
//!   as orders Verda accepts but cannot fulfil.
//! - SSH keys (`/ssh-keys`, also the Python SDK's `/sshkeys`) and startup scripts
//!   (`/scripts`): list, get (a list of one), add (the id as plain text), delete.
//! - Errors are `{"code": "...", "message": "..."}` with Verda's codes (`invalid_request`,
//!   `unauthorized_request`, `not_found`, ...); a bad body is `400` naming the field.
//! - The shared fault switches ([`crate::kit::Fault`] aimed at an [`Operation`]) and an
//!   optional rate limit ([`FakeVerdaOptions::rate_limit`]), answered `429` with
//!   `Retry-After`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use gpucloud_fakes::kit::Fault;
//! use gpucloud_fakes::verda::{FakeVerda, FakeVerdaOptions, Operation};
//! let fake = FakeVerda::start(FakeVerdaOptions::default()).await?;
//! fake.state().set_capacity("FIN-01", "1H100.80S.30V", true, 0);
//! fake.state().set_fault(Fault::CommitThenDropResponse {
//!     operation: Operation::CreateInstance,
//!     times: 1,
//! });
//! // point a client at fake.base_url() with fake.client_id() and fake.client_secret()
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

pub use api::{INSUFFICIENT_FUNDS, INVALID_REQUEST, NOT_FOUND, SSH_USER, UNAUTHORIZED_REQUEST};
pub use op::Operation;
pub use state::{FakeInstance, FakeScript, FakeSshKey, FakeStatus, FakeVerdaState, FakeVolume};

use crate::kit::{Exports, FakeServer, RateLimit};
use crate::registry::{Announce, Announcement, ServeOptions, ServedFake, Serving, Shutdown};

/// The client id a fake accepts unless told otherwise.
pub const DEFAULT_CLIENT_ID: &str = "fake-verda-client-id";
/// The client secret a fake accepts unless told otherwise.
pub const DEFAULT_CLIENT_SECRET: &str = "fake-verda-client-secret";

/// How a fake Verda server behaves.
#[derive(Clone)]
pub struct FakeVerdaOptions {
    /// Address to listen on. Default `127.0.0.1:0` (a free port).
    pub addr: SocketAddr,
    /// The only client id accepted. Default [`DEFAULT_CLIENT_ID`].
    pub client_id: String,
    /// The only client secret accepted. Default [`DEFAULT_CLIENT_SECRET`].
    pub client_secret: String,
    /// How long an access token lasts (`expires_in`). Default 1 hour.
    pub token_lifetime: Duration,
    /// Time from create to `provisioning`. Default 500 ms.
    pub ordered_delay: Duration,
    /// Time from `provisioning` to `running`. Default 1 s.
    pub provisioning_delay: Duration,
    /// Time from shutdown to `offline`. Default 500 ms.
    pub shutdown_delay: Duration,
    /// Time from start to `running`. Default 1 s.
    pub start_delay: Duration,
    /// Time from delete to gone. Default 500 ms.
    pub deleting_delay: Duration,
    /// Delay added to every response. Default 0.
    pub latency: Duration,
    /// A rate limit over all requests. Default none.
    pub rate_limit: Option<RateLimit>,
}

impl Default for FakeVerdaOptions {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            token_lifetime: Duration::from_secs(3600),
            ordered_delay: Duration::from_millis(500),
            provisioning_delay: Duration::from_secs(1),
            shutdown_delay: Duration::from_millis(500),
            start_delay: Duration::from_secs(1),
            deleting_delay: Duration::from_millis(500),
            latency: Duration::ZERO,
            rate_limit: None,
        }
    }
}

impl fmt::Debug for FakeVerdaOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeVerdaOptions")
            .field("addr", &self.addr)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("token_lifetime", &self.token_lifetime)
            .field("ordered_delay", &self.ordered_delay)
            .field("provisioning_delay", &self.provisioning_delay)
            .field("shutdown_delay", &self.shutdown_delay)
            .field("start_delay", &self.start_delay)
            .field("deleting_delay", &self.deleting_delay)
            .field("latency", &self.latency)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

/// A running fake Verda server. Dropping it stops the server (as does
/// [`FakeVerda::shutdown`], which also waits for it).
pub struct FakeVerda {
    server: FakeServer,
    client_id: String,
    client_secret: String,
    state: FakeVerdaState,
}

impl fmt::Debug for FakeVerda {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeVerda")
            .field("base_url", &self.base_url())
            .field("client_secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl FakeVerda {
    /// Binds `options.addr` and serves in a background task of the current Tokio runtime.
    pub async fn start(options: FakeVerdaOptions) -> std::io::Result<FakeVerda> {
        let bucket = options
            .rate_limit
            .map(|limit| limit.bucket(tokio::time::Instant::now()));
        let state = FakeVerdaState::new(
            state::Timing {
                ordered: options.ordered_delay,
                provisioning: options.provisioning_delay,
                shutdown: options.shutdown_delay,
                start: options.start_delay,
                deleting: options.deleting_delay,
                token_lifetime: options.token_lifetime,
            },
            (&options.client_id, &options.client_secret),
            bucket,
        );
        let api = Arc::new(server::VerdaApi {
            state: state.clone(),
            latency: options.latency,
        });
        let server = FakeServer::serve_rest(options.addr, api, api::router(state.clone())).await?;
        Ok(FakeVerda {
            server,
            client_id: options.client_id,
            client_secret: options.client_secret,
            state,
        })
    }

    /// The API root, e.g. `http://127.0.0.1:41234/v1` (the fake's stand-in for
    /// `https://api.verda.com/v1`).
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server.base_url())
    }

    /// The client id the token endpoint accepts.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret the token endpoint accepts.
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// The server's state, for inspection and control. Clone it to keep a handle.
    pub fn state(&self) -> &FakeVerdaState {
        &self.state
    }

    /// What to export to point a Verda client at this fake: `VERDA_API_URL`,
    /// `VERDA_CLIENT_ID` and `VERDA_CLIENT_SECRET`.
    pub fn exports(&self) -> Exports {
        Exports::new()
            .with("VERDA_API_URL", self.base_url())
            .with("VERDA_CLIENT_ID", self.client_id.clone())
            .with("VERDA_CLIENT_SECRET", self.client_secret.clone())
    }

    /// Stops accepting, closes every open connection and waits for the server task.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Serves a fake until `shutdown` completes (for the CLI's `gpucloud fake verda`). `ready`
/// gets the running fake once the port is bound.
pub async fn serve(
    options: FakeVerdaOptions,
    ready: impl FnOnce(&FakeVerda),
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let fake = FakeVerda::start(options).await?;
    ready(&fake);
    shutdown.await;
    fake.shutdown().await;
    Ok(())
}

/// How `gpucloud fake verda` serves this fake.
pub static SERVED: ServedFake = ServedFake {
    name: "verda",
    display_name: "Verda",
    about: "Serve the Verda (formerly DataCrunch) API fake: OAuth2 tokens, four locations, \
            on-demand and spot capacity. The first stdout line is the base URL for \
            VERDA_API_URL.",
    latency_help: "Extra latency added to every response, in milliseconds.",
    boot_help: "Time an instance takes from create to running, in milliseconds (split between \
                `ordered` and `provisioning`).",
    extra_flags: &[],
    serve: serve_for_cli,
};

/// Serves this fake for `gpucloud fake`.
fn serve_for_cli<'a>(
    served: &ServeOptions,
    announce: Announce<'a>,
    shutdown: Shutdown<'a>,
) -> Serving<'a> {
    let mut options = FakeVerdaOptions {
        addr: served.addr,
        latency: served.latency,
        ..FakeVerdaOptions::default()
    };
    if let Some(boot) = served.boot {
        options.ordered_delay = boot / 3;
        options.provisioning_delay = boot.saturating_sub(boot / 3);
        options.start_delay = boot;
    }
    Box::pin(serve(
        options,
        move |fake: &FakeVerda| {
            announce(Announcement {
                stdout: vec![fake.base_url()],
                note: format!(
                    "Fake Verda API listening. Point gpucloud at it with:\n  {}\n\
                     Stop it with Ctrl-C.",
                    fake.exports().shell_line()
                ),
            });
        },
        shutdown,
    ))
}
