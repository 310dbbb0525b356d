//! The key and firewall scripts executed for real inside a `gpucloud-local` instance (a network
//! namespace running sshd). Run under `flock /work/wt/local.lock`: local instances are
//! namespaces on this machine, shared with other test runs.

use std::time::Duration;

use base64::Engine as _;
use gpucloud_bootstrap::{Bootstrap, TABLE};
use gpucloud_core::{
    CloudClient as _, CreateInstanceAttrs, FirewallRule, FirewallRules, InstanceId,
    LifecycleStatus, Protocol,
};
use gpucloud_local::testing::{TestHost, eventually, keygen, reachable, require_local_instances};

use crate::support::shell_quote;

/// How long the scripts and listeners get to take effect.
const LIMIT: Duration = Duration::from_secs(10);

fn tcp(port: u16) -> FirewallRule {
    FirewallRule {
        protocol: Some(Protocol::Tcp),
        ..FirewallRule::port(port)
    }
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
    require_local_instances();
    // A free /24 of 10.217.0.0/16, away from gpucloud-local's own tests.
    let host = TestHost::new("gpucloud-bootstrap-it", 217, "cred-bootstrap").await;
    let (_, installed) = keygen(host.dir(), "id_installed");
    let client = &host.client;

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
        public_key: host.public_key.clone(),
        user_data_base64: base64::engine::general_purpose::STANDARD.encode(user_data),
        firewall_rules: FirewallRules {
            ingress_rules: vec![tcp(8080), tcp(8081), tcp(9090)],
            egress_rules: vec![],
        },
        ..CreateInstanceAttrs::default()
    };
    let created = gpucloud_core::validate_and_create(client, &attrs)
        .await
        .expect("create");
    let id: InstanceId = created.cloud_id.clone();
    let instance = host.wait(&id, LifecycleStatus::Running).await;
    let ip = instance.public_ip.as_str();

    // SSH reachable through the bootstrap's firewall once both scripts have run.
    assert!(
        eventually(LIMIT, || async {
            host.ssh(ip, "cat /root/fw.rc").await.status.success()
                && !host.ssh_ok(ip, "cat /root/fw.rc").await.is_empty()
        })
        .await,
        "the firewall script did not finish"
    );
    let log = host.ssh_ok(ip, "cat /root/fw.log").await;
    assert_eq!(
        host.ssh_ok(ip, "cat /root/fw.rc").await,
        "0",
        "firewall: {log}"
    );
    assert_eq!(host.ssh_ok(ip, "cat /root/key.rc").await, "0");
    let table = host
        .ssh_ok(ip, &format!("nft list table inet {TABLE}"))
        .await;
    assert!(table.contains("policy drop"), "{table}");

    // The key went into the SSH user's authorized_keys (the local sshd reads its own file, so
    // the file is checked rather than a login with it).
    let authorized = host.ssh_ok(ip, "cat /root/.ssh/authorized_keys").await;
    let key_body = installed.split_whitespace().nth(1).unwrap();
    assert!(authorized.contains(key_body), "{authorized}");
    assert_eq!(
        host.ssh_ok(ip, "stat -c %a /root/.ssh/authorized_keys")
            .await,
        "600"
    );

    // Listeners on an opened and a closed port, and a Docker-style published port: destination
    // NAT of 9090 to the open 8080, as Docker's `-p 9090:8080` does.
    host.ssh_ok(ip, &listener(8080)).await;
    host.ssh_ok(ip, &listener(8081)).await;
    host.ssh_ok(
        ip,
        &format!(
            "nft add table ip dockerlike && \
             nft add chain ip dockerlike pre '{{ type nat hook prerouting priority dstnat; }}' && \
             nft add rule ip dockerlike pre tcp dport 9090 dnat to {ip}:8080"
        ),
    )
    .await;
    assert!(
        eventually(LIMIT, || reachable(ip, 8080)).await,
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
    let host_ip = client.host_address();
    let outside = tokio::net::TcpListener::bind((host_ip, 0))
        .await
        .expect("bind");
    let port = outside.local_addr().unwrap().port();
    let accept = tokio::spawn(async move { outside.accept().await.is_ok() });
    host.ssh_ok(
        ip,
        &format!(
            "perl -MIO::Socket::INET -e 'IO::Socket::INET->new(PeerAddr => \"{host_ip}\", \
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
    host.ssh_ok(ip, &format!("nft delete table inet {TABLE}"))
        .await;
    assert!(
        eventually(LIMIT, || reachable(ip, 8081)).await,
        "8081 still blocked"
    );
    assert!(
        eventually(LIMIT, || reachable(ip, 9090)).await,
        "9090 still blocked"
    );

    client.terminate_instance(&id).await.expect("terminate");
}
