//! Tenant and project discovery through IAM v2, against a fake that no longer serves v1 (as
//! Nebius will not after 2026-12-16), and the tenant found when none is configured.

use gpucloud_core::{
    CloudClient, CloudCredential, ErrorKind, GetInstanceTypeArgs, GetLocationsArgs,
    ListInstancesArgs,
};
use gpucloud_fakes::nebius::FakeNebiusOptions;
use gpucloud_nebius::NebiusCredential;

use crate::fixture::{self, attrs};

/// The fake's options without the deprecated IAM v1 project and tenant services.
fn v2_only() -> FakeNebiusOptions {
    FakeNebiusOptions {
        iam_v1: false,
        ..fixture::options()
    }
}

/// How many calls reached `path` on the fake.
fn calls(env: &fixture::Env, path: &str) -> usize {
    env.fake.state().requests().count("POST", path)
}

#[tokio::test]
async fn the_provider_works_against_a_fake_serving_iam_v2_only() {
    let env = fixture::start_with(v2_only()).await;
    let client = env.client();
    let locations = client.locations(GetLocationsArgs::default()).await.unwrap();
    let names: Vec<&str> = locations.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["eu-north1", "us-central1"]);
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    assert!(
        types
            .iter()
            .any(|t| t.id.as_str().contains(fixture::H100_1))
    );

    let created = env.create(&attrs("v2-only")).await.unwrap();
    assert_eq!(created.location, "eu-north1");
    client.terminate_instance(&created.cloud_id).await.unwrap();
    let gone = client.get_instance(&created.cloud_id).await.unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::InstanceNotFound, "{gone}");
    assert!(
        client
            .list_instances(&ListInstancesArgs::default())
            .await
            .unwrap()
            .is_empty()
    );
    env.assert_nothing_left();

    assert_eq!(calls(&env, "/nebius.iam.v2.ProjectService/List"), 1);
    assert_eq!(calls(&env, "/nebius.iam.v1.ProjectService/List"), 0);
    assert_eq!(
        calls(&env, "/nebius.iam.v2.TenantService/List"),
        0,
        "the tenant is configured"
    );
}

#[tokio::test]
async fn the_tenant_is_found_when_none_is_configured() {
    let env = fixture::start_with(v2_only()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = fixture::config(&env.fake, &dir);
    config.tenant_id.clear();
    let credential = NebiusCredential::new(config).unwrap();
    let client = credential.client("");
    let locations = client.locations(GetLocationsArgs::default()).await.unwrap();
    assert_eq!(locations.len(), 2);
    client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    assert_eq!(
        calls(&env, "/nebius.iam.v2.TenantService/List"),
        1,
        "asked once per credential"
    );
    // The quota read is the found tenant's.
    assert!(calls(&env, "/nebius.quotas.v1.QuotaAllowanceService/List") >= 1);

    // The tenant is part of what the credential saves; a new one starts from it.
    let saved = credential.discovery().expect("the lookup is saved");
    assert!(saved.contains(&env.fake.tenant_id()), "{saved}");
    let mut config = fixture::config(&env.fake, &dir);
    config.tenant_id.clear();
    let next = NebiusCredential::new(config).unwrap();
    next.reuse_discovery(&saved);
    next.client("")
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    assert_eq!(calls(&env, "/nebius.iam.v2.TenantService/List"), 1);
    assert_eq!(calls(&env, "/nebius.iam.v2.ProjectService/List"), 1);
}

#[tokio::test]
async fn a_credential_that_sees_several_tenants_is_told_to_choose_one() {
    let env = fixture::start_with(v2_only()).await;
    let other = env.fake.state().add_tenant("partner-org");
    let dir = tempfile::tempdir().unwrap();
    let mut config = fixture::config(&env.fake, &dir);
    config.tenant_id.clear();
    let client = NebiusCredential::new(config).unwrap().client("");
    let error = client
        .locations(GetLocationsArgs::default())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Configuration, "{error}");
    let text = error.to_string();
    for part in [
        env.fake.tenant_id().as_str(),
        other.as_str(),
        "partner-org",
        "NEBIUS_TENANT_ID",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert!(env.fake.state().instances().is_empty());

    // Naming one of them works, and only its projects are used.
    let client = NebiusCredential::new(fixture::config(&env.fake, &dir))
        .unwrap()
        .client("");
    assert_eq!(
        client
            .locations(GetLocationsArgs::default())
            .await
            .unwrap()
            .len(),
        2
    );
}

/// The access token outlives the process: a credential made after another (as the next
/// command is) starts from the token it saved, and one the server no longer honours is
/// replaced and the call sent again, without the caller seeing the refusal.
#[tokio::test]
async fn the_next_process_reuses_the_saved_token_and_a_refused_one_is_replaced() {
    let env = fixture::start().await;
    let state = tempfile::tempdir().unwrap();
    let credential = |dir: &tempfile::TempDir| {
        NebiusCredential::new(
            fixture::config(&env.fake, dir).with_token_cache_dir(state.path().join("nebius")),
        )
        .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let first = credential(&dir);
    let types = first
        .client("")
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    assert_eq!(first.token_exchanges(), 1);

    let exchanges = |env: &fixture::Env| calls(env, "/nebius.iam.v1.TokenExchangeService/Exchange");
    let before = exchanges(&env);
    let second = credential(&dir);
    let again = second
        .client("")
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    assert_eq!(again.len(), types.len());
    assert_eq!(second.token_exchanges(), 0, "started from the saved token");
    assert_eq!(exchanges(&env), before);

    // The server stops honouring every token it issued: the next process's first call is
    // refused, its token replaced, and the call made again.
    env.fake.state().expire_tokens();
    let third = credential(&dir);
    let listed = third
        .client("")
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap();
    assert!(listed.is_empty());
    assert_eq!(third.token_exchanges(), 1);
    assert_eq!(exchanges(&env), before + 1);
}
