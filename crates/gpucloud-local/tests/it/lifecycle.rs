//! One instance through its whole life, and several at once.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use gpucloud_core::{
    AddFirewallRulesToInstanceArgs, CloudClient, CloudClientExt, ErrorKind, FirewallRule,
    FirewallRules, InstanceScope, LifecycleStatus, ListInstancesArgs, Protocol,
    RevokeSecurityGroupRuleArgs, UpdateInstanceTagsArgs, ValidFirewallRevoke, WaitOptions,
    validate_firewall_add, validate_firewall_revoke, validate_tag_update, wait_for_status,
};
use tokio::io::AsyncReadExt as _;

use crate::support::{
    assert_bridge_gone, assert_gone, eventually, fixture, ip_of, reachable, require_local_instances,
};

fn revoke(id: &gpucloud_core::InstanceId, rule: &str) -> ValidFirewallRevoke {
    validate_firewall_revoke(&RevokeSecurityGroupRuleArgs {
        instance_id: id.clone(),
        security_group_rule_ids: vec![rule.into()],
    })
    .unwrap()
}

fn tcp_rule(port: u16) -> FirewallRule {
    FirewallRule {
        protocol: Some(Protocol::Tcp),
        ..FirewallRule::port(port)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_lives_like_a_cloud_instance() {
    require_local_instances();
    let f = fixture().await;
    let script = "#!/bin/sh\necho \"ran on $(hostname) as $(id -un) in $HOME\" >> /root/user-data.out\necho user-data-says-hi\n";
    let mut attrs = f.attrs("ref-life", "web-1");
    attrs.user_data_base64 = base64::engine::general_purpose::STANDARD.encode(script);
    attrs.tags = BTreeMap::from([("team".to_owned(), "ml".to_owned())]);
    attrs.firewall_rules = FirewallRules {
        ingress_rules: vec![tcp_rule(8080)],
        egress_rules: vec![],
    };

    // Create: reported at once, pending until sshd answers.
    let created = gpucloud_core::validate_and_create(&f.client, &attrs)
        .await
        .expect("create");
    let id = created.cloud_id.clone();
    assert!(matches!(
        created.lifecycle(),
        LifecycleStatus::Pending | LifecycleStatus::Running
    ));
    assert_eq!(created.ref_id, "ref-life");
    assert_eq!(created.cloud_cred_ref_id, "cred-test");
    assert_eq!((created.ssh_user.as_str(), created.ssh_port), ("root", 22));
    assert_eq!(created.location, "local");
    assert_eq!(created.hostname, "web-1");
    assert!(created.pub_key_fingerprint.starts_with("SHA256:"));
    assert_eq!(created.firewall_rules.ingress_rules[0].id, "fw-1");
    let ip = ip_of(&created);
    assert_eq!(
        ip,
        std::net::Ipv4Addr::new(ip.octets()[0], ip.octets()[1], ip.octets()[2], 2),
        "first free address"
    );
    let ip = ip.to_string();

    // Same RefID: the same instance.
    let again = gpucloud_core::validate_and_create(&f.client, &attrs)
        .await
        .expect("idempotent create");
    assert_eq!(again.cloud_id, id);

    let running = f.wait(&id, LifecycleStatus::Running).await;
    assert!(running.stoppable && running.rebootable);
    assert_eq!(f.ssh_ok(&ip, "hostname").await, "web-1");
    assert_eq!(
        f.ssh_ok(&ip, "cat /etc/resolv.conf | grep -c nameserver || true")
            .await,
        "0"
    );
    assert!(
        f.ssh_ok(&ip, "ip route")
            .await
            .lines()
            .all(|l| !l.starts_with("default")),
        "no default route"
    );

    // User data ran once, output in the console log.
    let marker = "cat /root/user-data.out 2>/dev/null || true";
    assert!(
        eventually(Duration::from_secs(10), || async {
            !f.ssh_ok(&ip, marker).await.is_empty()
        })
        .await,
        "user data did not run"
    );
    assert_eq!(f.ssh_ok(&ip, marker).await, "ran on web-1 as root in /root");
    assert!(
        !std::path::Path::new("/root/user-data.out").exists(),
        "the instance's /root is its own"
    );
    let log = std::fs::read_to_string(f.client.console_log(&id)).unwrap();
    assert!(
        log.contains("gpucloud: user data started"),
        "console log: {log}"
    );
    assert!(
        eventually(Duration::from_secs(5), || async {
            std::fs::read_to_string(f.client.console_log(&id))
                .is_ok_and(|l| l.contains("user-data-says-hi"))
        })
        .await,
        "user data output missing from the console log"
    );

    // Firewall: 8080 open, 8081 closed from the host though listening.
    for port in [8080, 8081] {
        f.ssh_ok(
            &ip,
            &format!("nohup python3 -m http.server {port} --bind {ip} >/dev/null 2>&1 &"),
        )
        .await;
    }
    let check = format!(
        "python3 -c 'import socket; socket.create_connection((\"{ip}\", 8081), 2)' && echo listening"
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            f.ssh(&ip, &check).await.status.success()
        })
        .await,
        "the listener on 8081 did not start"
    );
    assert!(
        eventually(Duration::from_secs(10), || reachable(&ip, 8080)).await,
        "opened port 8080 unreachable"
    );
    assert!(
        !reachable(&ip, 8081).await,
        "port 8081 is reachable but was never opened"
    );

    // Egress: the instance reaches a listener on the host's bridge address.
    let listener = tokio::net::TcpListener::bind((f.client.host_address(), 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let accept = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).await.unwrap();
        text
    });
    f.ssh_ok(
        &ip,
        &format!(
            "bash -c 'echo hello-from-instance > /dev/tcp/{}/{port}'",
            f.client.host_address()
        ),
    )
    .await;
    let got = tokio::time::timeout(Duration::from_secs(5), accept)
        .await
        .expect("egress timed out")
        .unwrap();
    assert_eq!(got.trim(), "hello-from-instance");

    // Modify the firewall live: add 8081, then revoke it.
    let fw = f.client.modify_firewall().unwrap();
    let add_8081 = validate_firewall_add(
        &AddFirewallRulesToInstanceArgs {
            instance_id: id.clone(),
            firewall_rules: FirewallRules {
                ingress_rules: vec![tcp_rule(8081)],
                egress_rules: vec![],
            },
        },
        &f.client.create_features(),
    )
    .unwrap();
    fw.add_firewall_rules(&add_8081).await.expect("add rule");
    assert!(reachable(&ip, 8081).await, "added rule did not open 8081");
    let rules = f
        .client
        .get_instance(&id)
        .await
        .unwrap()
        .firewall_rules
        .ingress_rules;
    assert_eq!(
        rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["fw-1", "fw-2"]
    );
    // Adding a rule already in place is a no-op (the documented duplicate behaviour).
    fw.add_firewall_rules(&add_8081).await.expect("add again");
    let again = f.client.get_instance(&id).await.unwrap();
    assert_eq!(again.firewall_rules.ingress_rules, rules);
    fw.revoke_firewall_rules(&revoke(&id, "fw-2"))
        .await
        .expect("revoke");
    assert!(
        !reachable(&ip, 8081).await,
        "revoked rule still lets 8081 in"
    );
    assert!(
        reachable(&ip, 8080).await,
        "revoking fw-2 closed fw-1's port"
    );
    let missing = fw
        .revoke_firewall_rules(&revoke(&id, "fw-9"))
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::ResourceNotFound, "{missing}");

    // Tags: replace, then filter.
    f.client
        .tags()
        .unwrap()
        .update_instance_tags(
            &validate_tag_update(&UpdateInstanceTagsArgs {
                instance_id: id.clone(),
                tags: BTreeMap::from([
                    ("team".to_owned(), "infra".to_owned()),
                    ("env".to_owned(), "dev".to_owned()),
                ]),
            })
            .unwrap(),
        )
        .await
        .expect("tags");
    let mut by_env = ListInstancesArgs::default();
    by_env.tag_filters.insert("env".into(), vec!["dev".into()]);
    assert_eq!(f.client.list_instances(&by_env).await.unwrap().len(), 1);
    let mut by_old_team = ListInstancesArgs::default();
    by_old_team
        .tag_filters
        .insert("team".into(), vec!["ml".into()]);
    assert!(
        f.client
            .list_instances(&by_old_team)
            .await
            .unwrap()
            .is_empty()
    );

    // Stop: processes gone, address and identity kept; start: reachable again.
    let ops = f.client.stop_start().unwrap();
    ops.stop_instance(&id).await.expect("stop");
    let stopped = f.wait(&id, LifecycleStatus::Stopped).await;
    assert!(stopped.last_stop_transition_time.is_some());
    assert!(!reachable(&ip, 22).await, "sshd still answers after stop");
    ops.stop_instance(&id)
        .await
        .expect("stopping a stopped instance is a no-op");
    let reboot_stopped = f
        .client
        .reboot()
        .unwrap()
        .reboot_instance(&id)
        .await
        .unwrap_err();
    assert_eq!(reboot_stopped.kind(), ErrorKind::Conflict);
    ops.start_instance(&id).await.expect("start");
    let started = f.wait(&id, LifecycleStatus::Running).await;
    assert_eq!(started.public_ip, ip);
    assert_eq!(f.ssh_ok(&ip, "hostname").await, "web-1");

    // Reboot: back with the same identity; user data does not run again.
    f.client
        .reboot()
        .unwrap()
        .reboot_instance(&id)
        .await
        .expect("reboot");
    f.wait(&id, LifecycleStatus::Running).await;
    assert_eq!(f.ssh_ok(&ip, "hostname").await, "web-1");
    assert_eq!(
        f.ssh_ok(&ip, marker).await,
        "ran on web-1 as root in /root",
        "user data ran more than once"
    );
    assert!(
        !reachable(&ip, 8080).await,
        "the listener should have died with the reboot"
    );

    // Terminate: nothing left; idempotent.
    f.client.terminate_instance(&id).await.expect("terminate");
    let gone = f.client.get_instance(&id).await.unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::InstanceNotFound);
    wait_for_status(
        &f.client,
        &id,
        LifecycleStatus::Terminated,
        WaitOptions::new(Duration::from_secs(5)),
    )
    .await
    .expect("terminated");
    f.client
        .terminate_instance(&id)
        .await
        .expect("terminate again");
    assert_gone(&f, &id);
    assert_bridge_gone(&f.client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_from_two_clients_get_distinct_addresses() {
    require_local_instances();
    let f = fixture().await;
    let other = gpucloud_local::LocalClient::new(f.config.clone())
        .await
        .expect("second client");
    let (attrs_a, attrs_b, attrs_c) = (
        f.attrs("ref-a", "a"),
        f.attrs("ref-b", "b"),
        f.attrs("ref-c", "c"),
    );
    let (a, b, c) = tokio::join!(
        gpucloud_core::validate_and_create(&f.client, &attrs_a),
        gpucloud_core::validate_and_create(&f.client, &attrs_b),
        gpucloud_core::validate_and_create(&other, &attrs_c),
    );
    let created = [a.expect("a"), b.expect("b"), c.expect("c")];
    let mut ips: Vec<String> = created.iter().map(|i| i.public_ip.clone()).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 3, "addresses collide: {ips:?}");
    let listed = other
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 3, "the second client sees every instance");
    let stranger = gpucloud_local::LocalClient::new(f.config.clone().with_ref_id("other-cred"))
        .await
        .expect("a client of another credential");
    let its_own = stranger
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert!(
        its_own.is_empty(),
        "another credential's instances are hidden: {its_own:?}"
    );
    let every = stranger
        .list_instances(&ListInstancesArgs {
            scope: InstanceScope::Account,
            ..ListInstancesArgs::default()
        })
        .await
        .unwrap();
    assert_eq!(every.len(), 3, "the account scope lists them");
    assert!(
        every
            .iter()
            .all(|i| !i.is_managed_by("other-cred") && i.is_managed_by(&f.config.ref_id))
    );
    for instance in &created {
        f.wait(&instance.cloud_id, LifecycleStatus::Running).await;
        assert_eq!(
            f.ssh_ok(&instance.public_ip, "hostname").await,
            instance.name
        );
    }
    let by_id = ListInstancesArgs {
        instance_ids: vec![created[1].cloud_id.clone()],
        ..ListInstancesArgs::default()
    };
    assert_eq!(f.client.list_instances(&by_id).await.unwrap()[0].name, "b");
    let (ra, rb, rc) = tokio::join!(
        f.client.terminate_instance(&created[0].cloud_id),
        other.terminate_instance(&created[1].cloud_id),
        f.client.terminate_instance(&created[2].cloud_id),
    );
    ra.and(rb).and(rc).expect("terminate");
    for instance in &created {
        assert_gone(&f, &instance.cloud_id);
    }
    assert!(
        f.client
            .list_instances(&ListInstancesArgs::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert_bridge_gone(&f.client);
}
