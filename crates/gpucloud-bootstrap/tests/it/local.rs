//! The key and firewall scripts executed for real inside a `gpucloud-local` instance (a network
//! namespace running sshd). Run under `flock /work/wt/local.lock`: local instances are
//! namespaces on this machine, shared with other test runs.

use std::net::Ipv4Addr;
use std::time::Duration;

use base64::Engine as _;
use gpucloud_bootstrap::{Bootstrap, TABLE};
use gpucloud_core::{
    CloudClient, CreateInstanceAttrs, FirewallRule, FirewallRules, InstanceId, LifecycleStatus,
    ListInstancesArgs, Protocol, WaitOptions, wait_for_status,
};
use gpucloud_local::{LocalClient, LocalConfig};

use crate::support::{keygen, shell_quote};

fn tcp(port: u16) -> FirewallRule {
    FirewallRule {
        protocol: Some(Protocol::Tcp),
        ..FirewallRule::port(port)
    }
}

/// True when this machine can run local instances; otherwise says why the test is skipped
/// (with `CI` set, fails instead).
fn can_run() -> bool {
    match gpucloud_local::preflight() {
        Ok(()) => true,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("CI is set but local instances cannot run: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: local instances cannot run here: {e}");
            false
        }
    }
}

/// A client on `state` with a free /24 of 10.217.0.0/16 (away from gpucloud-local's own tests).
async fn client(state: &std::path::Path) -> (LocalConfig, LocalClient) {
    let base = std::process::id() % 200;
    for n in 0..250 {
        let subnet = format!("10.217.{}.0/24", (base + n) % 250 + 1);
        let config = LocalConfig::default()
            .with_state_dir(state)
            .with_subnet(&subnet)
            .with_ref_id("cred-bootstrap");
        match LocalClient::new(config.clone()).await {
            Ok(client) => return (config, client),
            Err(e) if e.to_string().contains("overlaps") => {}
            Err(e) => panic!("LocalClient::new: {e}"),
        }
    }
    panic!("no free subnet in 10.217.0.0/16");
}

/// Terminates every instance of `config` even when the test failed, so no namespace is left.
struct Cleanup(LocalConfig);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let config = self.0.clone();
        let _ = std::thread::spawn(move || {
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
                for instance in client
                    .list_instances(&ListInstancesArgs::default())
                    .await
                    .unwrap_or_default()
                {
                    if let Err(e) = client.terminate_instance(&instance.cloud_id).await {
                        eprintln!("cleanup of {} failed: {e}", instance.cloud_id);
                    }
                }
            });
        })
        .join();
    }
}

/// Runs `command` in the instance over SSH with `key`.
async fn ssh(key: &std::path::Path, ip: Ipv4Addr, command: &str) -> std::process::Output {
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

async fn ssh_ok(key: &std::path::Path, ip: Ipv4Addr, command: &str) -> String {
    let out = ssh(key, ip, command).await;
    assert!(
        out.status.success(),
        "ssh {ip} {command:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// True when a TCP connection to `ip:port` from the host succeeds within a second.
async fn reachable(ip: Ipv4Addr, port: u16) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect((ip, port))
        )
        .await,
        Ok(Ok(_))
    )
}

/// Polls `check` every 100 ms for up to ten seconds.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A Perl one-liner (Perl is in every Debian base system) that answers TCP on `port`.
fn listener(port: u16) -> String {
    format!(
        "nohup perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalPort => {port}, \
         Listen => 5, ReuseAddr => 1) or die $!; while ($c = $s->accept) {{ print $c \"hi\\n\"; \
         close $c }}' >/dev/null 2>&1 &"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firewall_and_key_work_inside_an_instance() {
    if !can_run() {
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("gpucloud-bootstrap-it")
        .tempdir()
        .expect("tempdir");
    let (key, public) = keygen(dir.path(), "id_local");
    let (_, installed) = keygen(dir.path(), "id_installed");
    let (config, client) = client(&dir.path().join("state")).await;
    let _cleanup = Cleanup(config);

    let bootstrap = Bootstrap::new("root", &installed)
        .unwrap()
        .with_ingress_rules(&[tcp(8080)])
        .unwrap();
    // The local provider runs a script user data, not cloud-init: run the two scripts the
    // cloud-config carries, each in its own shell as cloud-init does, and record their status.
    let user_data = format!(
        "#!/bin/sh\nsh -c {key}; echo $? > /root/key.rc\nsh -c {fw} > /root/fw.log 2>&1; echo $? > /root/fw.rc\n",
        key = shell_quote(&bootstrap.key_script()),
        fw = shell_quote(&bootstrap.firewall_script()),
    );
    // The provider's own firewall opens every port the test uses, so what blocks is the
    // bootstrap's.
    let attrs = CreateInstanceAttrs {
        ref_id: "ref-bootstrap".into(),
        name: "bootstrap-1".into(),
        instance_type: "cpu.small".into(),
        public_key: public,
        user_data_base64: base64::engine::general_purpose::STANDARD.encode(user_data),
        firewall_rules: FirewallRules {
            ingress_rules: vec![tcp(8080), tcp(8081), tcp(9090)],
            egress_rules: vec![],
        },
        ..CreateInstanceAttrs::default()
    };
    let created = gpucloud_core::validate_and_create(&client, &attrs)
        .await
        .expect("create");
    let id: InstanceId = created.cloud_id.clone();
    let instance = wait_for_status(
        &client,
        &id,
        LifecycleStatus::Running,
        WaitOptions::new(Duration::from_secs(30)).with_poll_interval(Duration::from_millis(50)),
    )
    .await
    .expect("running");
    let ip: Ipv4Addr = instance.public_ip.parse().expect("instance address");

    // SSH reachable through the bootstrap's firewall once both scripts have run.
    assert!(
        eventually(|| async {
            ssh(&key, ip, "cat /root/fw.rc").await.status.success()
                && !ssh_ok(&key, ip, "cat /root/fw.rc").await.is_empty()
        })
        .await,
        "the firewall script did not finish"
    );
    let log = ssh_ok(&key, ip, "cat /root/fw.log").await;
    assert_eq!(
        ssh_ok(&key, ip, "cat /root/fw.rc").await,
        "0",
        "firewall: {log}"
    );
    assert_eq!(ssh_ok(&key, ip, "cat /root/key.rc").await, "0");
    let table = ssh_ok(&key, ip, &format!("nft list table inet {TABLE}")).await;
    assert!(table.contains("policy drop"), "{table}");

    // The key went into the SSH user's authorized_keys (the local sshd reads its own file, so
    // the file is checked rather than a login with it).
    let authorized = ssh_ok(&key, ip, "cat /root/.ssh/authorized_keys").await;
    let key_body = installed.split_whitespace().nth(1).unwrap();
    assert!(authorized.contains(key_body), "{authorized}");
    assert_eq!(
        ssh_ok(&key, ip, "stat -c %a /root/.ssh/authorized_keys").await,
        "600"
    );

    // Listeners on an opened and a closed port, and a Docker-style published port: destination
    // NAT of 9090 to the open 8080, as Docker's `-p 9090:8080` does.
    ssh_ok(&key, ip, &listener(8080)).await;
    ssh_ok(&key, ip, &listener(8081)).await;
    ssh_ok(
        &key,
        ip,
        &format!(
            "nft add table ip dockerlike && \
             nft add chain ip dockerlike pre '{{ type nat hook prerouting priority dstnat; }}' && \
             nft add rule ip dockerlike pre tcp dport 9090 dnat to {ip}:8080"
        ),
    )
    .await;
    assert!(
        eventually(|| reachable(ip, 8080)).await,
        "the opened port 8080 is not reachable"
    );
    assert!(
        !reachable(ip, 8081).await,
        "the closed port 8081 is reachable"
    );
    assert!(
        !reachable(ip, 9090).await,
        "the published port 9090 bypasses the firewall"
    );
    assert!(reachable(ip, 22).await, "SSH is not reachable");

    // Egress: the instance connects out to a listener on the host.
    let host = client.host_address();
    let outside = tokio::net::TcpListener::bind((host, 0))
        .await
        .expect("bind");
    let port = outside.local_addr().unwrap().port();
    let accept = tokio::spawn(async move { outside.accept().await.is_ok() });
    ssh_ok(
        &key,
        ip,
        &format!(
            "perl -MIO::Socket::INET -e 'IO::Socket::INET->new(PeerAddr => \"{host}\", \
             PeerPort => {port}, Timeout => 3) or exit 1'"
        ),
    )
    .await;
    assert!(
        tokio::time::timeout(Duration::from_secs(5), accept)
            .await
            .is_ok_and(|r| r.unwrap_or(false)),
        "egress from the instance was blocked"
    );

    // Control: without the bootstrap's table the closed and published ports answer, so what
    // blocked them above was the bootstrap.
    ssh_ok(&key, ip, &format!("nft delete table inet {TABLE}")).await;
    assert!(
        eventually(|| reachable(ip, 8081)).await,
        "8081 still blocked"
    );
    assert!(
        eventually(|| reachable(ip, 9090)).await,
        "9090 still blocked"
    );

    client.terminate_instance(&id).await.expect("terminate");
}
