//! The startup script this provider sends, run for real inside a `gpucloud-local` instance (a
//! network namespace running sshd): default-deny firewall with the requested port open, the
//! key installed, the host name set and the user's script run. Needs root; run under
//! `flock /work/wt/local.lock`, since local instances are namespaces shared with other runs.

use std::time::Duration;

use base64::Engine as _;
use gpucloud_core::validate::validate_and_create;
use gpucloud_core::{CloudClient as _, FirewallRule, FirewallRules, LifecycleStatus, Protocol};
use gpucloud_local::testing::{TestHost, eventually, keygen, reachable, require_local_instances};

use crate::common::{attrs, fake};

const LIMIT: Duration = Duration::from_secs(15);

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
async fn the_startup_script_works_inside_an_instance() {
    require_local_instances();
    // The script exactly as the provider sends it: created through the fake, read back there.
    let verda = fake().await;
    let host = TestHost::new("gpucloud-verda-it", 221, "cred-verda").await;
    let (_, installed) = keygen(host.dir(), "id_installed");
    let client = gpucloud_verda::VerdaCredential::new(crate::common::config(&verda, "cred-local"))
        .unwrap()
        .client("");
    let mut a = attrs("startup-local");
    a.name = "Launch Test #1".into();
    a.public_key = installed.clone();
    a.firewall_rules = FirewallRules {
        ingress_rules: vec![tcp(8080)],
        egress_rules: vec![],
    };
    a.user_data_base64 = base64::engine::general_purpose::STANDARD
        .encode("#!/bin/sh\necho ran > /var/lib/gpucloud/user-ran\n");
    validate_and_create(&client, &a).await.unwrap();
    let script = verda.state().scripts()[0].script.clone();
    crate::common::clean_up(&verda, &client).await;
    let script = base64::engine::general_purpose::STANDARD.encode(script);

    // The local instance shares this machine's files; its mount namespace is its own (with a
    // tmpfs on /run), so the paths the script writes are covered there first (tmpfs and a
    // bind-mounted file) and the host's stay untouched. Then the script runs unchanged.
    let wrapper = format!(
        "#!/bin/sh\n\
         mkdir -p /var/lib/gpucloud /root/.ssh\n\
         mount -t tmpfs tmpfs /var/lib/gpucloud\n\
         mount -t tmpfs tmpfs /root/.ssh\n\
         [ -d /etc/systemd/system ] && mount -t tmpfs tmpfs /etc/systemd/system\n\
         : > /run/hostname && mount --bind /run/hostname /etc/hostname\n\
         printf '%s' '{script}' | base64 -d > /run/launch.sh\n\
         sh /run/launch.sh > /run/launch.log 2>&1\n\
         echo $? > /run/launch.rc\n"
    );
    let mut local = host.attrs("ref-verda-local", "verda-startup");
    local.user_data_base64 = base64::engine::general_purpose::STANDARD.encode(wrapper);
    // The local provider's own firewall opens both ports, so what blocks 8081 is the script's.
    local.firewall_rules = FirewallRules {
        ingress_rules: vec![tcp(8080), tcp(8081)],
        egress_rules: vec![],
    };
    let created = validate_and_create(&host.client, &local)
        .await
        .expect("create");
    let instance = host.wait(&created.cloud_id, LifecycleStatus::Running).await;
    let ip = instance.public_ip.as_str();
    assert!(
        eventually(LIMIT, || async {
            host.ssh(ip, "cat /run/launch.rc").await.status.success()
        })
        .await,
        "the startup script did not finish"
    );
    let log = host.ssh_ok(ip, "cat /run/launch.log").await;
    assert_eq!(host.ssh_ok(ip, "cat /run/launch.rc").await, "0", "{log}");
    let table = host
        .ssh_ok(ip, "nft list table inet gpucloud_bootstrap")
        .await;
    assert!(table.contains("policy drop"), "{table}");
    assert_eq!(
        host.ssh_ok(ip, "cat /var/lib/gpucloud/user-ran").await,
        "ran",
        "{log}"
    );
    assert_eq!(host.ssh_ok(ip, "hostname").await, "launch-test-1");
    let authorized = host.ssh_ok(ip, "cat /root/.ssh/authorized_keys").await;
    assert!(
        authorized.contains(installed.split_whitespace().nth(1).unwrap()),
        "{authorized}"
    );

    host.ssh_ok(ip, &listener(8080)).await;
    host.ssh_ok(ip, &listener(8081)).await;
    assert!(
        eventually(LIMIT, || reachable(ip, 8080)).await,
        "8080 was opened"
    );
    assert!(!reachable(ip, 8081).await, "8081 is closed by default");
    assert!(reachable(ip, 22).await, "SSH stays open");
    host.client
        .terminate_instance(&created.cloud_id)
        .await
        .expect("terminate");
}
