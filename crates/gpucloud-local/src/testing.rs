//! Support for tests and benchmarks that run real local instances: a host of one's own (state
//! directory, free subnet, client, SSH key) that terminates what it made when dropped, and the
//! plain OpenSSH client pointed at an instance.
//!
//! Used by this crate's tests and benchmark and by other crates whose tests need a real machine
//! to run something on (the bootstrap's launch scripts). Everything here panics on failure, as a
//! test would.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use gpucloud_core::{
    CloudClient, CreateInstanceAttrs, Instance, InstanceId, InstanceScope, LifecycleStatus,
    ListInstancesArgs, WaitOptions, wait_for_status,
};

use crate::{LocalClient, LocalConfig, preflight};

/// Panics with the reason when this machine cannot run local instances, so that a test that
/// needs them fails rather than passes. Test runners leave such tests out by filter instead
/// (`scripts/test.sh` does without root), which reports them as skipped.
pub fn require_local_instances() {
    if let Err(e) = preflight() {
        panic!("local instances cannot run here (run as root, or filter this test out): {e}");
    }
}

/// Subnets handed out in this process, after a per-process offset so that concurrently running
/// test binaries start apart.
static NEXT_SUBNET: AtomicU32 = AtomicU32::new(0);

/// A test's own local provider: a temporary state directory, a /24 of `10.<range>.0.0/16` that
/// no route of this machine overlaps, its client and an Ed25519 key pair. Dropping it
/// terminates every instance of its state directory, so a failed test leaks no namespace or
/// process.
pub struct TestHost {
    dir: tempfile::TempDir,
    /// The client's configuration.
    pub config: LocalConfig,
    /// The client.
    pub client: LocalClient,
    /// The private key's file.
    pub key: PathBuf,
    /// The public key, OpenSSH format.
    pub public_key: String,
}

impl TestHost {
    /// A host whose directory name starts with `prefix`, on a free /24 of `10.<range>.0.0/16`,
    /// whose instances carry the credential reference `ref_id`. Give each test crate its own
    /// `range` so that crates testing at once do not contend for subnets.
    pub async fn new(prefix: &str, range: u8, ref_id: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("a temporary directory");
        let (key, public_key) = keygen(dir.path(), "id_ed25519");
        let state = dir.path().join("state");
        let base = std::process::id() % 200;
        loop {
            let n = NEXT_SUBNET.fetch_add(1, Ordering::SeqCst);
            assert!(n < 250, "no free subnet in 10.{range}.0.0/16");
            let subnet = format!("10.{range}.{}.0/24", (base + n) % 250 + 1);
            let config = LocalConfig::default()
                .with_state_dir(&state)
                .with_subnet(&subnet)
                .with_ref_id(ref_id);
            match LocalClient::new(config.clone()).await {
                Ok(client) => {
                    return Self {
                        dir,
                        config,
                        client,
                        key,
                        public_key,
                    };
                }
                Err(e) if e.to_string().contains("overlaps") => {}
                Err(e) => panic!("LocalClient::new: {e}"),
            }
        }
    }

    /// The host's temporary directory (removed on drop), for a test's own files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Attributes for a small instance with the host's key.
    pub fn attrs(&self, ref_id: &str, name: &str) -> CreateInstanceAttrs {
        CreateInstanceAttrs {
            ref_id: ref_id.into(),
            name: name.into(),
            instance_type: "cpu.small".into(),
            public_key: self.public_key.clone(),
            ..CreateInstanceAttrs::default()
        }
    }

    /// Runs `command` in the instance at `ip` over SSH with the host's key.
    pub async fn ssh(&self, ip: &str, command: &str) -> Output {
        ssh(&self.key, ip, command).await
    }

    /// Runs `command` over SSH and returns its trimmed standard output; panics on failure.
    pub async fn ssh_ok(&self, ip: &str, command: &str) -> String {
        ssh_ok(&self.key, ip, command).await
    }

    /// Waits up to 30 seconds for the instance to reach `desired`.
    pub async fn wait(&self, id: &InstanceId, desired: LifecycleStatus) -> Instance {
        wait_for_status(
            &self.client,
            id,
            desired,
            WaitOptions::new(Duration::from_secs(30)).with_poll_interval(Duration::from_millis(50)),
        )
        .await
        .unwrap_or_else(|e| panic!("waiting for {id} to be {desired}: {e}"))
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        let config = self.config.clone();
        // A runtime of its own: the test's runtime may be the one being dropped.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let Ok(client) = LocalClient::new(config).await else {
                    return;
                };
                // Every instance of this host's state, whichever credential made it.
                let every = ListInstancesArgs {
                    scope: InstanceScope::Account,
                    ..ListInstancesArgs::default()
                };
                let Ok(instances) = client.list_instances(&every).await else {
                    return;
                };
                for instance in instances {
                    if let Err(e) = client.terminate_instance(&instance.cloud_id).await {
                        tracing::warn!(instance = %instance.cloud_id, error = %e, "cleanup failed");
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// A new Ed25519 key pair `dir/name` (and `name.pub`) without a passphrase: the private key's
/// path and the public key.
pub fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .status()
        .expect("run ssh-keygen");
    assert!(status.success(), "ssh-keygen failed");
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
    (key, public.trim().to_owned())
}

/// Runs `command` as root in the instance at `ip` with the OpenSSH client and `key`, in batch
/// mode and without host-key checks (the instance is new and its host key unknown).
pub async fn ssh(key: &Path, ip: &str, command: &str) -> Output {
    tokio::process::Command::new("ssh")
        .args(["-F", "/dev/null", "-i"])
        .arg(key)
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
            "-o",
            "LogLevel=ERROR",
        ])
        .arg(format!("root@{ip}"))
        .arg(command)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run ssh")
}

/// [`ssh`], returning the trimmed standard output; panics when the command fails.
pub async fn ssh_ok(key: &Path, ip: &str, command: &str) -> String {
    let out = ssh(key, ip, command).await;
    assert!(
        out.status.success(),
        "ssh {ip} {command:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// True when a TCP connection to `ip:port` succeeds within a second.
pub async fn reachable(ip: &str, port: u16) -> bool {
    let Ok(ip) = ip.parse::<std::net::IpAddr>() else {
        return false;
    };
    matches!(
        tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect((ip, port))
        )
        .await,
        Ok(Ok(_))
    )
}

/// Polls `check` every 50 ms for up to `limit`; true as soon as it holds.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
