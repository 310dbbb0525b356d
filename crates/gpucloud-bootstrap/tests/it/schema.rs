//! Every cloud-config the bootstrap renders passes `cloud-init schema`.

use gpucloud_bootstrap::Bootstrap;
use gpucloud_core::{FirewallRule, Protocol};

use gpucloud_local::testing::keygen;

use crate::support::parts;

/// Panics unless `cloud-init` can be run: the test fails rather than passing. `scripts/test.sh`
/// installs it as root and otherwise leaves these tests out (listed as skipped).
fn require_cloud_init() {
    let runs = std::process::Command::new("cloud-init")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        runs,
        "`cloud-init` cannot run here: apt-get install -y cloud-init, or filter these tests out"
    );
}

/// Runs `cloud-init schema --config-file` on `document`; the error is cloud-init's output.
fn schema_check(dir: &std::path::Path, name: &str, document: &[u8]) -> Result<(), String> {
    let path = dir.join(name);
    std::fs::write(&path, document).expect("write document");
    let out = std::process::Command::new("cloud-init")
        .args(["schema", "--config-file"])
        .arg(&path)
        .output()
        .expect("run cloud-init");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn rendered_user_data_passes_cloud_init_schema() {
    require_cloud_init();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, public) = keygen(dir.path(), "id_schema");
    let rules = [
        FirewallRule {
            protocol: Some(Protocol::Tcp),
            ..FirewallRule::range(
                8000,
                8100,
                vec!["203.0.113.0/24".into(), "2001:db8::/48".into()],
            )
        },
        FirewallRule::port(51820),
    ];
    let user_cloud_config =
        b"#cloud-config\npackages: [htop]\nbootcmd:\n  - echo user bootcmd\nruncmd:\n  - [touch, /root/user-ran]\n";
    let user_script = b"#!/bin/bash\necho user script\n";
    // Host names YAML would read as a number or a boolean if they were not quoted, and none.
    let cases: [(&str, &[u8], Option<&str>); 4] = [
        ("none", b"", Some("web-1")),
        ("cloud-config", user_cloud_config, Some("1234")),
        ("script", user_script, Some("no")),
        ("no-hostname", b"", None),
    ];
    for (name, user_data, hostname) in cases {
        let mut bootstrap = Bootstrap::new("ubuntu", &public)
            .unwrap()
            .with_ingress_rules(&rules)
            .unwrap()
            .with_user_data(user_data)
            .unwrap();
        if let Some(hostname) = hostname {
            bootstrap = bootstrap.with_hostname(hostname).unwrap();
        }
        let document = bootstrap.render();
        let parts = parts(&document);
        let expected = if user_data.is_empty() { 1 } else { 2 };
        assert_eq!(parts.len(), expected, "{name}: parts");
        if !user_data.is_empty() {
            assert_eq!(
                parts[0].1, user_data,
                "{name}: the user's part is kept exactly"
            );
        }
        let mut checked = 0;
        for (i, (content_type, body)) in parts.iter().enumerate() {
            if content_type == "text/cloud-config" {
                schema_check(dir.path(), &format!("{name}-{i}.yaml"), body)
                    .unwrap_or_else(|e| panic!("{name} part {i} fails the schema:\n{e}"));
                checked += 1;
            }
        }
        assert!(checked >= 1, "{name}: no cloud-config part");
    }
}

#[test]
fn the_schema_check_can_fail() {
    require_cloud_init();
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = b"#cloud-config\nbootcmd: 7\n";
    assert!(schema_check(dir.path(), "broken.yaml", broken).is_err());
}
