//! The service: binds, then runs the engine's loops and the API together until shutdown.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gpucloud_fleet::Fleet;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::{TokenCheck, require_token};
use crate::config::ServerConfig;
use crate::error::ServeError;
use crate::routes::{AppState, routes};

/// A bound, not yet serving, service.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    check: TokenCheck,
}

impl Server {
    /// Checks `config` (an address off loopback needs a token) and binds its address.
    pub async fn bind(config: &ServerConfig) -> Result<Self, ServeError> {
        config.validate()?;
        let io = |source| ServeError::Io {
            addr: config.addr.to_string(),
            source,
        };
        let listener = TcpListener::bind(config.addr).await.map_err(io)?;
        let addr = listener.local_addr().map_err(io)?;
        Ok(Self {
            listener,
            addr,
            check: TokenCheck::new(config.token.as_ref()),
        })
    }

    /// The address bound (its port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs the engine's loops and serves the API until `shutdown` completes. Then the API
    /// takes no new connection, requests in flight finish (their writes included), event
    /// streams end, the loops finish their passes in flight, and the fleet is closed.
    pub async fn run(
        self,
        fleet: Fleet,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let stop = CancellationToken::new();
        let stopper = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            stopper.cancel();
        });
        tracing::info!(addr = %self.addr, "serving the fleet API");
        let app = router(fleet.clone(), self.check, stop.clone());
        let http = async {
            let served = axum::serve(self.listener, app)
                .with_graceful_shutdown(stop.clone().cancelled_owned())
                .await;
            // Whatever ended the API ends the loops too.
            stop.cancel();
            served.map_err(|source| ServeError::Io {
                addr: self.addr.to_string(),
                source,
            })
        };
        let loops = async {
            let ran = fleet.run_until(stop.cancelled()).await;
            stop.cancel();
            ran.map_err(ServeError::from)
        };
        let (http, loops) = tokio::join!(http, loops);
        fleet.close().await;
        tracing::info!("the fleet API stopped");
        http.and(loops)
    }
}

/// The API over `fleet`, behind the token check, without a listener: for embedding in another
/// axum application (which then owns shutdown: cancel `stop` to end the event streams).
pub fn router(fleet: Fleet, check: TokenCheck, stop: CancellationToken) -> Router {
    routes()
        .into_router()
        .fallback(no_route)
        .layer(axum::middleware::from_fn_with_state(check, require_token))
        .with_state(AppState {
            fleet,
            shutdown: stop,
        })
}

async fn no_route(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({
            "error": "not_found",
            "message": format!("no route {}", uri.path()),
            "retryable": false,
        })),
    )
        .into_response()
}

/// Completes on SIGTERM or Ctrl-C (SIGINT): the shutdown `gpucloud serve` waits for.
pub async fn terminate_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "SIGTERM cannot be caught; stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
