//! `gpucloud fake nebius`: serves the fake until stopped, prints the endpoint, a credentials
//! file and the tenant, and the credentials authenticate against it.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use gpucloud_fakes::nebius::{GRANT_TYPE_TOKEN_EXCHANGE, ServiceAccountKey, TOKEN_TYPE_JWT};
use gpucloud_nebius_proto::iam::v1 as iam;
use gpucloud_nebius_proto::iam::v1::project_service_client::ProjectServiceClient;
use gpucloud_nebius_proto::iam::v1::token_exchange_service_client::TokenExchangeServiceClient;
use predicates::prelude::*;

use crate::common::Harness;

/// Exchanges a JWT signed with the credentials file's key, then lists the tenant's projects
/// with the token: the regions of the projects.
async fn regions_seen(endpoint: String, credentials: &str, tenant: String) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_str(credentials).unwrap();
    let subject = &json["subject-credentials"];
    assert_eq!(subject["alg"], "RS256");
    assert_eq!(subject["iss"], subject["sub"]);
    let key = ServiceAccountKey::from_pkcs8_pem(
        subject["private-key"].as_str().unwrap(),
        subject["kid"].as_str().unwrap(),
        subject["iss"].as_str().unwrap(),
    )
    .unwrap();
    let channel = tonic::transport::Channel::from_shared(endpoint)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let token = TokenExchangeServiceClient::new(channel.clone())
        .exchange(iam::ExchangeTokenRequest {
            grant_type: GRANT_TYPE_TOKEN_EXCHANGE.to_owned(),
            subject_token: key.signed_jwt(Duration::from_secs(60)),
            subject_token_type: TOKEN_TYPE_JWT.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut request = tonic::Request::new(iam::ListProjectsRequest {
        parent_id: tenant,
        ..Default::default()
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", token.access_token).parse().unwrap(),
    );
    let projects = ProjectServiceClient::new(channel)
        .list(request)
        .await
        .unwrap()
        .into_inner();
    let mut regions: Vec<String> = projects
        .items
        .into_iter()
        .map(|p| p.spec.unwrap().region)
        .collect();
    regions.sort();
    regions
}

#[test]
fn fake_nebius_prints_endpoint_credentials_and_tenant_and_cleans_up() {
    let h = Harness::new();
    let bin = assert_cmd::cargo::cargo_bin("gpucloud");
    let mut child = std::process::Command::new(bin)
        .args([
            "fake",
            "nebius",
            "--region",
            "eu-north1",
            "--region",
            "eu-west1",
            "--boot-ms",
            "10",
        ])
        .env_clear()
        .env("HOME", h.home())
        .env("TMPDIR", h.home())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = [String::new(), String::new(), String::new()];
    for line in &mut lines {
        stdout.read_line(line).unwrap();
    }
    let [endpoint, path, tenant] = lines.map(|l| l.trim().to_owned());
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    assert!(path.starts_with(&h.home().display().to_string()), "{path}");
    assert!(tenant.starts_with("tenant-e00"), "{tenant}");
    let credentials = std::fs::read_to_string(&path).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let regions = runtime.block_on(regions_seen(endpoint, &credentials, tenant));
    assert_eq!(regions, ["eu-north1", "eu-west1"]);

    // SIGTERM stops it, and its own credentials file goes with it.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(!std::path::Path::new(&path).exists(), "{path} left behind");
}

#[test]
fn fake_nebius_keeps_a_named_credentials_file_and_refuses_bad_options() {
    let h = Harness::new();
    let path = h.home().join("creds.json");
    let bin = assert_cmd::cargo::cargo_bin("gpucloud");
    let mut child = std::process::Command::new(bin)
        .args(["fake", "nebius", "--credentials-file"])
        .arg(&path)
        .env_clear()
        .env("HOME", h.home())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut endpoint, mut printed) = (String::new(), String::new());
    stdout.read_line(&mut endpoint).unwrap();
    stdout.read_line(&mut printed).unwrap();
    assert_eq!(printed.trim(), path.display().to_string());
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    assert!(path.exists(), "a named credentials file is kept");

    h.bare_cmd()
        .args(["fake", "nebius", "--addr", "0.0.0.0:0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("loopback"));
    h.bare_cmd()
        .args(["fake", "nebius", "--region", "mars-1"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("mars-1"));
}
