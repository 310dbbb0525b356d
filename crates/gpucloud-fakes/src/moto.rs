//! moto, the AWS emulator the AWS provider is tested against: `moto_server` started on a free
//! loopback port with the validation switches on, reset between uses, stopped on drop.
//!
//! moto is maintained outside this project (PyPI `moto[server,ec2]`); `scripts/test.sh`
//! installs a pinned version into `.venv-moto` and exports [`MOTO_SERVER_ENV`]. Without it,
//! [`MotoServer::start`] fails naming the variable: a test that needs moto never passes
//! without it.

use std::net::{SocketAddr, TcpListener};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// The variable holding the path of the `moto_server` executable.
pub const MOTO_SERVER_ENV: &str = "GPUCLOUD_MOTO_SERVER";

/// The validation moto leaves off by default and the tests want on: unknown instance types,
/// AMIs and key pairs are refused as AWS refuses them.
const VALIDATION: &[(&str, &str)] = &[
    ("MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION", "true"),
    ("MOTO_ENABLE_AMI_VALIDATION", "true"),
    ("MOTO_ENABLE_KEYPAIR_VALIDATION", "true"),
];

/// How long moto may take to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `moto_server`. Dropping it kills the process.
#[derive(Debug)]
pub struct MotoServer {
    addr: SocketAddr,
    child: Child,
}

impl MotoServer {
    /// Starts `moto_server` (from [`MOTO_SERVER_ENV`]) on a free loopback port and waits
    /// until it answers.
    pub async fn start() -> Result<Self, String> {
        let program = std::env::var_os(MOTO_SERVER_ENV).ok_or_else(|| {
            format!(
                "{MOTO_SERVER_ENV} is not set: it names the moto_server executable the AWS tests \
                 run against (scripts/test.sh installs moto into .venv-moto and sets it)"
            )
        })?;
        let port = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free loopback port: {e}"))?
            .port();
        let mut command = Command::new(&program);
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(VALIDATION.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let child = command.spawn().map_err(|e| {
            format!(
                "{MOTO_SERVER_ENV}={}: cannot start it: {e}",
                program.to_string_lossy()
            )
        })?;
        let mut server = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        let http = reqwest::Client::new();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("moto_server exited before it listened: {status}"));
            }
            if http
                .get(format!("{}/moto-api/", self.endpoint()))
                .send()
                .await
                .is_ok()
            {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "moto_server did not listen on {} within {READY_TIMEOUT:?}",
                    self.addr
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The endpoint for `AWS_ENDPOINT_URL`, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address moto listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Forgets every resource (`POST /moto-api/reset`).
    pub async fn reset(&self) -> Result<(), String> {
        reqwest::Client::new()
            .post(format!("{}/moto-api/reset", self.endpoint()))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map(drop)
            .map_err(|e| format!("moto reset failed: {e}"))
    }
}
