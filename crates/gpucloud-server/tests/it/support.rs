//! A fleet over the Lambda fake, served on loopback, and a small SSE reader.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gpucloud::lambda::{LambdaConfig, LambdaCredential};
use gpucloud::{CloudCredential, CreateInstanceAttrs};
use gpucloud_fakes::lambda::{FakeLambda, FakeLambdaOptions};
use gpucloud_fleet::{CreateRequest, CreateTarget, Database, Fleet, FleetConfig, FleetCredential};
use gpucloud_server::{ServeError, Server, ServerConfig};
use secrecy::SecretString;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const REGION: &str = "us-west-1";
pub const INSTANCE_TYPE: &str = "gpu_1x_a10";
pub const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g server-test";

/// A Lambda fake whose instances boot and terminate in `phase`.
pub async fn lambda_fake(phase: Duration) -> FakeLambda {
    let fake = FakeLambda::start(FakeLambdaOptions {
        boot_delay: phase,
        terminate_delay: phase,
        gone_after: Duration::from_secs(60),
        ..FakeLambdaOptions::default()
    })
    .await
    .expect("the fake starts");
    fake.state().set_capacity(REGION, INSTANCE_TYPE, 100);
    fake
}

fn lambda_credential(fake: &FakeLambda) -> Arc<dyn CloudCredential> {
    Arc::new(
        LambdaCredential::new(
            LambdaConfig::new(fake.api_key())
                .with_base_url(fake.base_url())
                .with_ref_id("server-it")
                .with_rate_limits(1_000_000.0, Duration::ZERO)
                .with_retry_backoff(Duration::from_millis(2))
                .with_request_timeout(Duration::from_secs(10)),
        )
        .expect("a valid Lambda configuration"),
    )
}

/// The fleet's configuration: fast loops.
pub fn fleet_config(db: &Path, fake: &FakeLambda) -> FleetConfig {
    let mut config = FleetConfig::new(
        Database::Sqlite(db.to_owned()),
        vec![FleetCredential::new(
            "lambda",
            "lambda",
            lambda_credential(fake),
        )],
    );
    config.status_interval = Duration::from_millis(200);
    config.max_terminate_backoff = Duration::from_millis(500);
    config
}

/// An explicit create of the test type.
pub fn create_request(ref_id: &str) -> CreateRequest {
    CreateRequest {
        target: CreateTarget::Explicit {
            credential: "lambda".into(),
            location: REGION.into(),
            instance_type: INSTANCE_TYPE.into(),
        },
        attrs: CreateInstanceAttrs {
            ref_id: ref_id.into(),
            name: format!("server-{ref_id}"),
            public_key: PUBLIC_KEY.into(),
            ..CreateInstanceAttrs::default()
        },
        ttl: None,
    }
}

/// A service running over a fleet on the fake.
pub struct Running {
    pub fake: FakeLambda,
    pub _dir: tempfile::TempDir,
    pub db: PathBuf,
    pub base: String,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl Running {
    /// Starts one on loopback, with `token` when given.
    pub async fn start(token: Option<&str>) -> Self {
        Self::start_with(token, |_| {}).await
    }

    /// Starts one with the fleet's configuration changed by `adjust`.
    pub async fn start_with(token: Option<&str>, adjust: impl FnOnce(&mut FleetConfig)) -> Self {
        let fake = lambda_fake(Duration::from_millis(300)).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = dir.path().join("fleet.sqlite3");
        let mut config = fleet_config(&db, &fake);
        adjust(&mut config);
        let fleet = Fleet::open(config).await.expect("the fleet opens");
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap());
        if let Some(token) = token {
            config = config.with_token(SecretString::from(token.to_owned()));
        }
        let server = Server::bind(&config).await.expect("binds");
        let base = format!("http://{}", server.local_addr());
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server.run(fleet, async {
            let _ = stopped.await;
        }));
        Self {
            fake,
            _dir: dir,
            db,
            base,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the service as SIGTERM would, and waits for it (at most 20 s).
    pub async fn stop(&mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("the service stops within 20 s")
            .expect("the service task did not panic")
    }

    /// `POST /v1/instances`, sent once.
    pub async fn create(&self, request: &impl serde::Serialize) -> reqwest::Response {
        self.http
            .post(self.url("/v1/instances"))
            .json(request)
            .send()
            .await
            .expect("the service answers")
    }

    /// Polls `GET /v1/instances/{ref_id}` until `done` holds for its JSON (at most 15 s).
    pub async fn wait_for(
        &self,
        ref_id: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        for _ in 0..150 {
            let record: serde_json::Value = self
                .http
                .get(self.url(&format!("/v1/instances/{ref_id}")))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if done(&record) {
                return record;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{ref_id} never got there");
    }
}

/// One Server-Sent Event as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    pub id: i64,
    pub data: serde_json::Value,
}

/// Reads SSE frames from a streaming response.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    /// Opens `GET /v1/events` as a stream, after `last_event_id` when given.
    pub async fn open(running: &Running, last_event_id: Option<i64>) -> Self {
        let mut request = running
            .http
            .get(running.url("/v1/events"))
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.expect("the stream opens");
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (comments and keep-alives skipped); `None` when the stream ended.
    pub async fn next(&mut self) -> Option<Sse> {
        // Keep-alive comments arrive every 15 s: the deadline is for an event, not a chunk.
        tokio::time::timeout(Duration::from_secs(20), self.next_frame())
            .await
            .expect("an event within 20 s")
    }

    async fn next_frame(&mut self) -> Option<Sse> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse().expect("a numeric id"));
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if let Some(id) = id {
                    return Some(Sse {
                        id,
                        data: serde_json::from_str(&data).expect("JSON data"),
                    });
                }
                continue;
            }
            let chunk = self.response.chunk().await.ok()??;
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }
}
