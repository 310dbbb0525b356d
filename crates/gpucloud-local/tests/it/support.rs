//! Shared test fixtures: a state directory and subnet per test, an SSH key, and helpers that
//! talk to instances with the plain OpenSSH client.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use gpucloud_core::{
    CloudClient, CreateInstanceAttrs, Instance, InstanceId, LifecycleStatus, WaitOptions,
    wait_for_status,
};
use gpucloud_local::{LocalClient, LocalConfig};

/// Returns false (after saying why) when this machine cannot run local instances. With `CI`
/// set, panics instead: CI must run these tests.
pub fn can_run() -> bool {
    match gpucloud_local::preflight() {
        Ok(()) => true,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("CI is set but local instances cannot run: {e}")
        }
        Err(e) => {
            eprintln!("skipping: local instances cannot run here: {e}");
            false
        }
    }
}

static NEXT_SUBNET: AtomicU32 = AtomicU32::new(0);

/// A test's own state directory, subnet, client and SSH key.
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub config: LocalConfig,
    pub client: LocalClient,
    pub key: PathBuf,
    pub public_key: String,
}

/// A client on a fresh state directory with a free subnet of 10.214.0.0/16.
pub async fn fixture() -> Fixture {
    let dir = tempfile::Builder::new()
        .prefix("gpucloud-local-it")
        .tempdir()
        .expect("tempdir");
    let key = dir.path().join("id_ed25519");
    let status = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "gpucloud-local-test",
            "-f",
        ])
        .arg(&key)
        .status()
        .expect("run ssh-keygen");
    assert!(status.success(), "ssh-keygen failed");
    let public_key = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
    let state = dir.path().join("state");
    // Start where a concurrently running test binary is unlikely to be.
    let base = std::process::id() % 200;
    loop {
        let n = NEXT_SUBNET.fetch_add(1, Ordering::SeqCst);
        assert!(n < 250, "no free subnet in 10.214.0.0/16");
        let subnet = format!("10.214.{}.0/24", (base + n) % 250 + 1);
        let config = LocalConfig::default()
            .with_state_dir(&state)
            .with_subnet(&subnet)
            .with_ref_id("cred-test");
        match LocalClient::new(config.clone()).await {
            Ok(client) => {
                return Fixture {
                    _dir: dir,
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

impl Fixture {
    /// Attributes for a small instance.
    pub fn attrs(&self, ref_id: &str, name: &str) -> CreateInstanceAttrs {
        CreateInstanceAttrs {
            ref_id: ref_id.into(),
            name: name.into(),
            instance_type: "cpu.small".into(),
            public_key: self.public_key.clone(),
            ..CreateInstanceAttrs::default()
        }
    }

    /// Runs `command` in the instance over SSH.
    pub async fn ssh(&self, ip: &str, command: &str) -> std::process::Output {
        tokio::process::Command::new("ssh")
            .args(["-F", "/dev/null", "-i"])
            .arg(&self.key)
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

    /// Runs `command` over SSH and returns its trimmed standard output; panics on failure.
    pub async fn ssh_ok(&self, ip: &str, command: &str) -> String {
        let out = self.ssh(ip, command).await;
        assert!(
            out.status.success(),
            "ssh {ip} {command:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Waits for the instance to reach `desired`.
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

impl Drop for Fixture {
    /// Terminates whatever a failed test left in its state directory, so a failure does not
    /// leak namespaces and processes once the temporary directory is gone.
    fn drop(&mut self) {
        let config = self.config.clone();
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
                let Ok(instances) = client
                    .list_instances(&gpucloud_core::ListInstancesArgs::default())
                    .await
                else {
                    return;
                };
                for instance in instances {
                    if let Err(e) = client.terminate_instance(&instance.cloud_id).await {
                        eprintln!("cleanup of {} failed: {e}", instance.cloud_id);
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// True when a TCP connection to `ip:port` succeeds within a second.
pub async fn reachable(ip: &str, port: u16) -> bool {
    let Ok(ip) = ip.parse::<IpAddr>() else {
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
    Fut: std::future::Future<Output = bool>,
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

/// Processes whose command line mentions `needle`.
pub fn processes_mentioning(needle: &Path) -> Vec<String> {
    let needle = needle.to_string_lossy().into_owned();
    let own = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()) && n != own)
        })
        .filter_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            text.contains(&needle)
                .then(|| format!("{}: {text}", e.file_name().to_string_lossy()))
        })
        .collect()
}

/// Asserts the machine holds nothing of the instance: namespace, veth, processes, files.
pub fn assert_gone(f: &Fixture, id: &InstanceId) {
    let ns = f.client.namespace_name(id);
    assert!(
        !Path::new("/run/netns").join(&ns).exists(),
        "namespace {ns} left behind"
    );
    let veth = f.client.host_veth_name(id);
    assert!(
        !Path::new("/sys/class/net").join(&veth).exists(),
        "veth {veth} left behind"
    );
    let dir = f.client.instance_dir(id);
    assert!(
        !dir.exists(),
        "state directory {} left behind",
        dir.display()
    );
    let procs = processes_mentioning(&dir);
    assert!(procs.is_empty(), "processes left behind: {procs:?}");
}

/// Asserts the client's bridge is gone (the last instance was terminated).
pub fn assert_bridge_gone(client: &LocalClient) {
    let bridge = client.bridge_name();
    assert!(
        !Path::new("/sys/class/net").join(bridge).exists(),
        "bridge {bridge} left behind"
    );
}

/// The instance's address.
pub fn ip_of(instance: &Instance) -> Ipv4Addr {
    instance.public_ip.parse().expect("instance address")
}
