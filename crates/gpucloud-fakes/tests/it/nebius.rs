//! Tests of the fake Nebius API with raw tonic clients: every RPC the provider calls, every
//! fault, and what is left on the fake. They double as the contract the provider codes to.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use gpucloud_fakes::kit::Fault;
use gpucloud_fakes::nebius::{
    FakeNebius, FakeNebiusOptions, GRANT_TYPE_TOKEN_EXCHANGE, IDEMPOTENCY_HEADER, InstanceState,
    Operation, OperationFailure, SERVICE_ERROR_TYPE_URL, ServiceAccountKey, TOKEN_TYPE_JWT,
};
use gpucloud_nebius_proto::billing::v1 as billing;
use gpucloud_nebius_proto::billing::v1::calculator_service_client::CalculatorServiceClient;
use gpucloud_nebius_proto::common::v1 as common;
use gpucloud_nebius_proto::common::v1::operation_service_client::OperationServiceClient;
use gpucloud_nebius_proto::common::v1::service_error::Details;
use gpucloud_nebius_proto::compute::v1 as compute;
use gpucloud_nebius_proto::compute::v1::disk_service_client::DiskServiceClient;
use gpucloud_nebius_proto::compute::v1::image_service_client::ImageServiceClient;
use gpucloud_nebius_proto::compute::v1::instance_service_client::InstanceServiceClient;
use gpucloud_nebius_proto::compute::v1::platform_service_client::PlatformServiceClient;
use gpucloud_nebius_proto::google::rpc;
use gpucloud_nebius_proto::iam::v1 as iam;
use gpucloud_nebius_proto::iam::v1::profile_service_client::ProfileServiceClient;
use gpucloud_nebius_proto::iam::v1::project_service_client::ProjectServiceClient;
use gpucloud_nebius_proto::iam::v1::tenant_service_client::TenantServiceClient;
use gpucloud_nebius_proto::iam::v1::token_exchange_service_client::TokenExchangeServiceClient;
use gpucloud_nebius_proto::iam::v2 as iam2;
use gpucloud_nebius_proto::quotas::v1 as quotas;
use gpucloud_nebius_proto::quotas::v1::quota_allowance_service_client::QuotaAllowanceServiceClient;
use gpucloud_nebius_proto::vpc::v1 as vpc;
use gpucloud_nebius_proto::vpc::v1::network_service_client::NetworkServiceClient;
use gpucloud_nebius_proto::vpc::v1::security_group_service_client::SecurityGroupServiceClient;
use gpucloud_nebius_proto::vpc::v1::security_rule_service_client::SecurityRuleServiceClient;
use gpucloud_nebius_proto::vpc::v1::subnet_service_client::SubnetServiceClient;
use prost::Message as _;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

const REGION: &str = "eu-north1";
const PLATFORM: &str = "gpu-h100-sxm";
const PRESET: &str = "1gpu-16vcpu-200gb";

/// Lifecycles slow enough to see the intermediate states on a loaded machine.
const DELAY: Duration = Duration::from_secs(1);

async fn start() -> FakeNebius {
    FakeNebius::start(FakeNebiusOptions::default().with_delays(DELAY))
        .await
        .expect("fake starts")
}

async fn channel(fake: &FakeNebius) -> Channel {
    Channel::from_shared(fake.endpoint())
        .expect("endpoint")
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("connects")
}

/// A request with the fake's static token.
fn req<T>(fake: &FakeNebius, message: T) -> Request<T> {
    with_token(fake.iam_token().expect("static token"), message)
}

fn with_token<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    request
}

/// A mutation with the static token and an idempotency key.
fn mutation<T>(fake: &FakeNebius, key: &str, message: T) -> Request<T> {
    let mut request = req(fake, message);
    request
        .metadata_mut()
        .insert(IDEMPOTENCY_HEADER, key.parse().expect("header"));
    request
}

/// The `ServiceError` detail of a status.
fn service_error(status: &Status) -> Option<Details> {
    let rpc = rpc::Status::decode(status.details()).ok()?;
    let any = rpc.details.first()?;
    assert_eq!(any.type_url, SERVICE_ERROR_TYPE_URL);
    common::ServiceError::decode(any.value.as_slice())
        .ok()?
        .details
}

fn bad_field(status: &Status) -> String {
    match service_error(status) {
        Some(Details::BadRequest(bad)) => bad.violations[0].field.clone(),
        other => panic!("not a bad request: {status:?} {other:?}"),
    }
}

/// Polls an operation until it is done.
async fn wait(fake: &FakeNebius, operation: &common::Operation) -> common::Operation {
    let mut client = OperationServiceClient::new(channel(fake).await);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let current = client
            .get(req(
                fake,
                common::GetOperationRequest {
                    id: operation.id.clone(),
                },
            ))
            .await
            .expect("operation get")
            .into_inner();
        if current.status.is_some() {
            assert!(current.finished_at.is_some());
            return current;
        }
        assert!(current.finished_at.is_none());
        assert!(
            Instant::now() < deadline,
            "operation {} never finished",
            operation.id
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn project(fake: &FakeNebius) -> String {
    fake.project_id(REGION).expect("project")
}

async fn create_disk(fake: &FakeNebius, name: &str) -> String {
    let mut disks = DiskServiceClient::new(channel(fake).await);
    let operation = disks
        .create(mutation(
            fake,
            &format!("disk-{name}"),
            compute::CreateDiskRequest {
                metadata: Some(common::ResourceMetadata {
                    parent_id: project(fake),
                    name: name.to_owned(),
                    ..Default::default()
                }),
                spec: Some(compute::DiskSpec {
                    size: Some(compute::disk_spec::Size::SizeGibibytes(200)),
                    r#type: compute::disk_spec::DiskType::NetworkSsd as i32,
                    source: Some(compute::disk_spec::Source::SourceImageFamily(
                        compute::SourceImageFamily {
                            image_family: "ubuntu22.04-cuda12".to_owned(),
                            parent_id: fake.state().public_images_parent(REGION).unwrap(),
                        },
                    )),
                    ..Default::default()
                }),
            },
        ))
        .await
        .expect("disk create")
        .into_inner();
    let done = wait(fake, &operation).await;
    assert_eq!(done.status.unwrap().code, 0);
    done.resource_id
}

fn instance_request(
    fake: &FakeNebius,
    name: &str,
    disk_id: &str,
    groups: &[String],
) -> compute::CreateInstanceRequest {
    compute::CreateInstanceRequest {
        metadata: Some(common::ResourceMetadata {
            parent_id: project(fake),
            name: name.to_owned(),
            labels: [("gpucloud-ref".to_owned(), name.to_owned())].into(),
            ..Default::default()
        }),
        spec: Some(compute::InstanceSpec {
            resources: Some(compute::ResourcesSpec {
                platform: PLATFORM.to_owned(),
                size: Some(compute::resources_spec::Size::Preset(PRESET.to_owned())),
            }),
            network_interfaces: vec![compute::NetworkInterfaceSpec {
                subnet_id: fake.state().subnet_id(REGION).unwrap(),
                name: "eth0".to_owned(),
                ip_address: Some(compute::IpAddress::default()),
                public_ip_address: Some(compute::PublicIpAddress::default()),
                security_groups: groups
                    .iter()
                    .map(|id| compute::SecurityGroup { id: id.clone() })
                    .collect(),
                ..Default::default()
            }],
            boot_disk: Some(compute::AttachedDiskSpec {
                attach_mode: compute::attached_disk_spec::AttachMode::ReadWrite as i32,
                device_id: "boot".to_owned(),
                r#type: Some(compute::attached_disk_spec::Type::ExistingDisk(
                    compute::ExistingDisk {
                        id: disk_id.to_owned(),
                    },
                )),
            }),
            cloud_init_user_data: "#cloud-config\n".to_owned(),
            ..Default::default()
        }),
    }
}

async fn get_instance(fake: &FakeNebius, id: &str) -> Result<compute::Instance, Status> {
    InstanceServiceClient::new(channel(fake).await)
        .get(req(fake, compute::GetInstanceRequest { id: id.to_owned() }))
        .await
        .map(tonic::Response::into_inner)
}

fn state_of(instance: &compute::Instance) -> InstanceState {
    InstanceState::try_from(instance.status.as_ref().unwrap().state).unwrap()
}

/// Deletes an instance and waits until it is gone.
async fn delete_instance(fake: &FakeNebius, id: &str) {
    let operation = InstanceServiceClient::new(channel(fake).await)
        .delete(mutation(
            fake,
            &format!("delete-{id}"),
            compute::DeleteInstanceRequest { id: id.to_owned() },
        ))
        .await
        .expect("delete")
        .into_inner();
    assert_eq!(wait(fake, &operation).await.status.unwrap().code, 0);
    assert_eq!(
        get_instance(fake, id).await.unwrap_err().code(),
        Code::NotFound
    );
}

async fn delete_disk(fake: &FakeNebius, id: &str) {
    let operation = DiskServiceClient::new(channel(fake).await)
        .delete(mutation(
            fake,
            &format!("delete-{id}"),
            compute::DeleteDiskRequest { id: id.to_owned() },
        ))
        .await
        .expect("disk delete")
        .into_inner();
    assert_eq!(wait(fake, &operation).await.status.unwrap().code, 0);
}

fn exchange_request(subject_token: String) -> iam::ExchangeTokenRequest {
    iam::ExchangeTokenRequest {
        grant_type: GRANT_TYPE_TOKEN_EXCHANGE.to_owned(),
        subject_token,
        subject_token_type: TOKEN_TYPE_JWT.to_owned(),
        ..Default::default()
    }
}

#[tokio::test]
async fn token_exchange_verifies_the_jwt_and_its_token_authorizes_calls() {
    let fake = FakeNebius::start(FakeNebiusOptions {
        iam_token: None,
        ..FakeNebiusOptions::default()
    })
    .await
    .unwrap();
    let mut exchange = TokenExchangeServiceClient::new(channel(&fake).await);
    let mut projects = ProjectServiceClient::new(channel(&fake).await);
    let list = || iam::ListProjectsRequest {
        parent_id: fake.tenant_id(),
        ..Default::default()
    };

    // No token, then a made-up one: refused.
    let unauthenticated = projects.list(Request::new(list())).await.unwrap_err();
    assert_eq!(unauthenticated.code(), Code::Unauthenticated);
    let made_up = projects
        .list(with_token("v1.nope", list()))
        .await
        .unwrap_err();
    assert_eq!(made_up.code(), Code::Unauthenticated);

    let key = fake.service_account();
    let jwt = key.signed_jwt(Duration::from_secs(300));
    let token = exchange
        .exchange(Request::new(exchange_request(jwt)))
        .await
        .expect("exchange")
        .into_inner();
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.expires_in, 12 * 3600);
    assert_eq!(fake.state().exchanges(), 1);
    let listed = projects
        .list(with_token(&token.access_token, list()))
        .await
        .expect("the exchanged token works");
    assert_eq!(listed.into_inner().items.len(), 2);

    // Signed by another key under the same key id.
    let other = ServiceAccountKey::generate(key.key_id(), key.service_account_id()).unwrap();
    let forged = exchange
        .exchange(Request::new(exchange_request(
            other.signed_jwt(Duration::from_secs(300)),
        )))
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::Unauthenticated);
    assert!(forged.message().contains("signature"), "{forged:?}");

    // Expired, and issuer not the key's service account.
    let expired = key.sign_claims(&serde_json::json!({
        "iss": key.service_account_id(), "sub": key.service_account_id(), "exp": 1_000_000
    }));
    let refused = exchange
        .exchange(Request::new(exchange_request(expired)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let wrong_issuer = key.sign_claims(&serde_json::json!({
        "iss": "serviceaccount-other", "sub": key.service_account_id(), "exp": u64::MAX / 2
    }));
    let refused = exchange
        .exchange(Request::new(exchange_request(wrong_issuer)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    // A bad request field is named.
    let mut bad = exchange_request(key.signed_jwt(Duration::from_secs(60)));
    bad.grant_type = "password".to_owned();
    let refused = exchange.exchange(Request::new(bad)).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&refused), "grant_type");
    assert_eq!(fake.state().exchanges(), 1);

    // An expired access token is refused.
    fake.state().expire_tokens();
    let expired = projects
        .list(with_token(&token.access_token, list()))
        .await
        .unwrap_err();
    assert_eq!(expired.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_registered_key_authenticates_and_tokens_live_as_configured() {
    let key = std::sync::Arc::new(
        ServiceAccountKey::generate("publickey-e00test", "serviceaccount-e00test").unwrap(),
    );
    let fake = FakeNebius::start(FakeNebiusOptions {
        service_account: Some(key.clone()),
        token_lifetime: Duration::from_secs(1),
        ..FakeNebiusOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(fake.service_account().key_id(), "publickey-e00test");
    let second = ServiceAccountKey::generate("publickey-e00two", "serviceaccount-e00two").unwrap();
    fake.state().register_key(
        second.key_id(),
        second.service_account_id(),
        second.public_key_der(),
    );
    let mut exchange = TokenExchangeServiceClient::new(channel(&fake).await);
    for signer in [&*key, &second] {
        let token = exchange
            .exchange(Request::new(exchange_request(
                signer.signed_jwt(Duration::from_secs(60)),
            )))
            .await
            .expect("exchange")
            .into_inner();
        assert_eq!(token.expires_in, 1);
        let mut projects = ProjectServiceClient::new(channel(&fake).await);
        let list = iam::ListProjectsRequest {
            parent_id: fake.tenant_id(),
            ..Default::default()
        };
        projects
            .list(with_token(&token.access_token, list.clone()))
            .await
            .expect("fresh token works");
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let late = projects
            .list(with_token(&token.access_token, list))
            .await
            .unwrap_err();
        assert_eq!(late.code(), Code::Unauthenticated);
    }
    assert_eq!(fake.state().exchanges(), 2);
}

#[tokio::test]
async fn the_credentials_file_is_nebius_subject_credentials_for_the_owner_only() {
    let fake = start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.json");
    fake.write_credentials_file(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let credentials = &json["subject-credentials"];
    let key = fake.service_account();
    assert_eq!(credentials["type"], "JWT");
    assert_eq!(credentials["alg"], "RS256");
    assert_eq!(credentials["kid"], key.key_id());
    assert_eq!(credentials["iss"], key.service_account_id());
    assert_eq!(credentials["sub"], key.service_account_id());
    let pem = credentials["private-key"].as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let reread =
        ServiceAccountKey::from_pkcs8_pem(pem, key.key_id(), key.service_account_id()).unwrap();
    assert_eq!(reread.public_key_der(), key.public_key_der());

    let exports = fake.exports(Some(&path));
    let names: Vec<&str> = exports.vars().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "NEBIUS_API_ENDPOINT",
            "NEBIUS_TENANT_ID",
            "NEBIUS_REGIONS",
            "NEBIUS_CREDENTIALS_FILE"
        ]
    );
    assert_eq!(exports.vars()[0].1, fake.endpoint());
    assert_eq!(exports.vars()[2].1, "eu-north1,us-central1");
    let static_exports = fake.exports(None);
    assert_eq!(static_exports.vars()[3].0, "NEBIUS_IAM_TOKEN");
    assert!(!format!("{fake:?}").contains("BEGIN"));
}

#[tokio::test]
async fn projects_networks_and_subnets_one_per_region() {
    let fake = start().await;
    let mut projects = ProjectServiceClient::new(channel(&fake).await);
    let listed = projects
        .list(req(
            &fake,
            iam::ListProjectsRequest {
                parent_id: fake.tenant_id(),
                page_size: 1000,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let regions: BTreeMap<String, String> = listed
        .items
        .iter()
        .map(|p| {
            (
                p.spec.as_ref().unwrap().region.clone(),
                p.metadata.as_ref().unwrap().id.clone(),
            )
        })
        .collect();
    assert_eq!(regions.len(), 2);
    assert!(regions["eu-north1"].starts_with("project-e00"));
    assert!(regions["us-central1"].starts_with("project-u00"));
    assert_eq!(
        listed.items[0].metadata.as_ref().unwrap().parent_id,
        fake.tenant_id()
    );
    let names: HashSet<&str> = listed
        .items
        .iter()
        .map(|p| p.metadata.as_ref().unwrap().name.as_str())
        .collect();
    assert!(names.contains("default-project-eu-north1"), "{names:?}");
    let got = projects
        .get(req(
            &fake,
            iam::GetProjectRequest {
                id: regions["us-central1"].clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.status.unwrap().region, "us-central1");
    let other_tenant = projects
        .list(req(
            &fake,
            iam::ListProjectsRequest {
                parent_id: "tenant-e00other".to_owned(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(other_tenant.code(), Code::PermissionDenied);

    let mut subnets = SubnetServiceClient::new(channel(&fake).await);
    let listed = subnets
        .list(req(
            &fake,
            vpc::ListSubnetsRequest {
                parent_id: project(&fake),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.items.len(), 1);
    let subnet = &listed.items[0];
    assert_eq!(
        subnet.metadata.as_ref().unwrap().id,
        fake.state().subnet_id(REGION).unwrap()
    );
    let network_id = subnet.spec.as_ref().unwrap().network_id.clone();
    assert_eq!(Some(network_id.clone()), fake.state().network_id(REGION));
    let by_network = subnets
        .list_by_network(req(
            &fake,
            vpc::ListSubnetsByNetworkRequest {
                network_id: network_id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_network.items, listed.items);
    let networks = NetworkServiceClient::new(channel(&fake).await)
        .list(req(
            &fake,
            vpc::ListNetworksRequest {
                parent_id: project(&fake),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(networks.items[0].metadata.as_ref().unwrap().id, network_id);
    let missing = subnets
        .list(req(&fake, vpc::ListSubnetsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&missing), "parent_id");
}

#[tokio::test]
async fn images_latest_by_family_and_lists() {
    let fake = start().await;
    let mut images = ImageServiceClient::new(channel(&fake).await);
    let parent = fake.state().public_images_parent(REGION).unwrap();
    assert_eq!(parent, "project-e00public-images");
    let latest = images
        .get_latest_by_family(req(
            &fake,
            compute::GetImageLatestByFamilyRequest {
                image_family: "ubuntu22.04-cuda12".to_owned(),
                parent_id: parent.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let spec = latest.spec.as_ref().unwrap();
    assert_eq!(spec.image_family, "ubuntu22.04-cuda12");
    assert_eq!(spec.version, "20251101");
    let by_project = images
        .get_latest_by_family(req(
            &fake,
            compute::GetImageLatestByFamilyRequest {
                image_family: "ubuntu22.04-cuda12".to_owned(),
                parent_id: project(&fake),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_project.metadata, latest.metadata);
    let unknown = images
        .get_latest_by_family(req(
            &fake,
            compute::GetImageLatestByFamilyRequest {
                image_family: "windows".to_owned(),
                parent_id: parent.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let listed = images
        .list(req(
            &fake,
            compute::ListImagesRequest {
                parent_id: parent.clone(),
                page_size: 3,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.items.len(), 3);
    assert!(!listed.next_page_token.is_empty());
    let public = images
        .list_public(req(
            &fake,
            compute::ListPublicRequest {
                region: REGION.to_owned(),
                page_size: 1000,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(public.items.len(), 10);
    let id = latest.metadata.as_ref().unwrap().id.clone();
    let got = images
        .get(req(&fake, compute::GetImageRequest { id }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, latest);
}

#[tokio::test]
async fn platforms_per_region_with_presets_and_quota_types() {
    let fake = start().await;
    let mut platforms = PlatformServiceClient::new(channel(&fake).await);
    let list = |region: &str| compute::ListPlatformsRequest {
        parent_id: fake.project_id(region).unwrap(),
        page_size: 1000,
        ..Default::default()
    };
    let europe = platforms
        .list(req(&fake, list("eu-north1")))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = europe
        .items
        .iter()
        .map(|p| p.metadata.as_ref().unwrap().name.as_str())
        .collect();
    for expected in [
        "gpu-h100-sxm",
        "gpu-h200-sxm",
        "gpu-l40s-a",
        "gpu-l40s-d",
        "cpu-d3",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    assert!(!names.contains(&"gpu-b200-sxm"));
    let h100 = europe
        .items
        .iter()
        .find(|p| p.metadata.as_ref().unwrap().name == "gpu-h100-sxm")
        .unwrap();
    let spec = h100.spec.as_ref().unwrap();
    assert_eq!(spec.gpu_count_quota_type, "compute.instance.gpu.h100");
    assert_eq!(spec.gpu_memory_gigabytes, 80);
    let eight = spec
        .presets
        .iter()
        .find(|p| p.name == "8gpu-128vcpu-1600gb")
        .unwrap()
        .resources
        .unwrap();
    assert_eq!(
        (eight.gpu_count, eight.vcpu_count, eight.memory_gibibytes),
        (8, 128, 1600)
    );
    let us = platforms
        .list(req(&fake, list("us-central1")))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = us
        .items
        .iter()
        .map(|p| p.metadata.as_ref().unwrap().name.as_str())
        .collect();
    assert!(names.contains(&"gpu-b200-sxm") && !names.contains(&"gpu-h100-sxm"));
}

#[tokio::test]
async fn quota_allowances_follow_limits_and_usage() {
    let fake = start().await;
    fake.state()
        .set_quota_limit(REGION, "compute.instance.gpu.h100", 3);
    fake.state()
        .set_quota_usage(REGION, "compute.instance.gpu.h100", 1);
    let mut client = QuotaAllowanceServiceClient::new(channel(&fake).await);
    let h100 = |items: &[quotas::QuotaAllowance]| {
        items
            .iter()
            .find(|a| {
                a.metadata.as_ref().unwrap().name == "compute.instance.gpu.h100"
                    && a.spec.as_ref().unwrap().region == REGION
            })
            .cloned()
            .expect("h100 allowance")
    };
    let list = || quotas::ListQuotaAllowancesRequest {
        parent_id: fake.tenant_id(),
        page_size: 1000,
        ..Default::default()
    };
    let items = client
        .list(req(&fake, list()))
        .await
        .unwrap()
        .into_inner()
        .items;
    let allowance = h100(&items);
    assert_eq!(allowance.spec.as_ref().unwrap().limit, Some(3));
    assert_eq!(allowance.status.as_ref().unwrap().usage, 1);
    let regions: HashSet<String> = items
        .iter()
        .map(|a| a.spec.as_ref().unwrap().region.clone())
        .collect();
    assert_eq!(regions.len(), 2);

    let disk = create_disk(&fake, "quota-disk").await;
    let operation = InstanceServiceClient::new(channel(&fake).await)
        .create(mutation(
            &fake,
            "quota-1",
            instance_request(&fake, "quota-1", &disk, &[]),
        ))
        .await
        .unwrap()
        .into_inner();
    wait(&fake, &operation).await;
    let items = client
        .list(req(&fake, list()))
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(h100(&items).status.unwrap().usage, 2);
    assert_eq!(
        fake.state().quota(REGION, "compute.instance.gpu.h100"),
        (Some(3), 2)
    );
    let got = client
        .get(req(
            &fake,
            quotas::GetQuotaAllowanceRequest {
                id: allowance.metadata.unwrap().id,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.status.unwrap().usage, 2);
}

fn any_of<M: prost::Message>(type_name: &str, message: &M) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("type.googleapis.com/{type_name}"),
        value: message.encode_to_vec(),
    }
}

#[tokio::test]
async fn calculator_prices_presets_and_disks_per_hour_and_month() {
    let fake = start().await;
    let mut calculator = CalculatorServiceClient::new(channel(&fake).await);
    let instance = |platform: &str, preset: &str| compute::CreateInstanceRequest {
        metadata: Some(common::ResourceMetadata {
            parent_id: project(&fake),
            name: "pricing-estimate".to_owned(),
            ..Default::default()
        }),
        spec: Some(compute::InstanceSpec {
            resources: Some(compute::ResourcesSpec {
                platform: platform.to_owned(),
                size: Some(compute::resources_spec::Size::Preset(preset.to_owned())),
            }),
            ..Default::default()
        }),
    };
    let disk = compute::CreateDiskRequest {
        metadata: None,
        spec: Some(compute::DiskSpec {
            size: Some(compute::disk_spec::Size::SizeGibibytes(730)),
            ..Default::default()
        }),
    };
    let response = calculator
        .estimate_batch(req(
            &fake,
            billing::EstimateBatchRequest {
                resource_specs: vec![
                    billing::ResourceSpec {
                        spec: Some(any_of(
                            "nebius.compute.v1.CreateInstanceRequest",
                            &instance("gpu-h100-sxm", "8gpu-128vcpu-1600gb"),
                        )),
                    },
                    billing::ResourceSpec {
                        spec: Some(any_of("nebius.compute.v1.CreateDiskRequest", &disk)),
                    },
                ],
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.currency, "usd");
    let costs: Vec<(String, f64)> = response
        .resource_costs
        .iter()
        .map(|c| {
            let Some(billing::resource_cost::CostType::General(general)) = &c.cost_type else {
                panic!("{c:?}");
            };
            (
                c.aggregation_unit.as_ref().unwrap().unit.clone(),
                general.total.as_ref().unwrap().cost.parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(costs.len(), 4, "hour and month for each spec: {costs:?}");
    assert_eq!(costs[0].0, "hour");
    assert!((costs[0].1 - 23.6).abs() < 1e-6, "{costs:?}");
    assert_eq!(costs[1].0, "month");
    assert!((costs[1].1 - 23.6 * 730.0).abs() < 1e-3);
    assert!((costs[3].1 - 0.071 * 730.0).abs() < 1e-3, "{costs:?}");
    assert_eq!(
        response.resource_costs[0].metadata.as_ref().unwrap().name,
        "pricing-estimate"
    );
    assert_eq!(response.total_costs.len(), 2);

    let hourly = calculator
        .estimate_batch(req(
            &fake,
            billing::EstimateBatchRequest {
                resource_specs: vec![billing::ResourceSpec {
                    spec: Some(any_of(
                        "nebius.compute.v1.CreateInstanceRequest",
                        &instance("gpu-l40s-a", "1gpu-8vcpu-32gb"),
                    )),
                }],
                filter_aggregation_unit: Some(billing::FilterAggregationUnit {
                    filter_aggregation_unit_values: vec![
                        billing::filter_aggregation_unit::FilterAggregationUnitValue::FilterAggregationUnitHour
                            as i32,
                    ],
                }),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hourly.resource_costs.len(), 1);

    let unknown = calculator
        .estimate_batch(req(
            &fake,
            billing::EstimateBatchRequest {
                resource_specs: vec![
                    billing::ResourceSpec {
                        spec: Some(any_of(
                            "nebius.compute.v1.CreateInstanceRequest",
                            &instance("gpu-h100-sxm", "8gpu-128vcpu-1600gb"),
                        )),
                    },
                    billing::ResourceSpec {
                        spec: Some(any_of(
                            "nebius.compute.v1.CreateInstanceRequest",
                            &instance("gpu-h100-sxm", "3gpu"),
                        )),
                    },
                ],
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument);
    assert_eq!(
        bad_field(&unknown),
        "resource_specs[1].spec.spec.resources.preset"
    );
}

#[tokio::test]
async fn instance_lifecycle_with_disk_security_group_labels_and_nothing_left() {
    let fake = start().await;
    let mut instances = InstanceServiceClient::new(channel(&fake).await);
    let mut groups = SecurityGroupServiceClient::new(channel(&fake).await);
    let group_op = groups
        .create(mutation(
            &fake,
            "sg",
            vpc::CreateSecurityGroupRequest {
                metadata: Some(common::ResourceMetadata {
                    parent_id: project(&fake),
                    name: "gpucloud-life".to_owned(),
                    ..Default::default()
                }),
                spec: Some(vpc::SecurityGroupSpec {
                    network_id: fake.state().network_id(REGION).unwrap(),
                }),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let group = wait(&fake, &group_op).await.resource_id;

    let disk = create_disk(&fake, "life-boot").await;
    assert_eq!(fake.state().disks()[0].size_bytes, 200 << 30);
    let capacity_before = fake.state().capacity(REGION, PLATFORM, PRESET);
    let operation = instances
        .create(mutation(
            &fake,
            "life",
            instance_request(&fake, "life", &disk, std::slice::from_ref(&group)),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(operation.status.is_none(), "not done at once");
    assert!(operation.resource_id.starts_with("computeinstance-e00"));
    let id = operation.resource_id.clone();
    let creating = get_instance(&fake, &id).await.unwrap();
    assert_eq!(state_of(&creating), InstanceState::Creating);
    assert_eq!(
        fake.state().capacity(REGION, PLATFORM, PRESET),
        capacity_before - 1
    );
    let done = wait(&fake, &operation).await;
    assert_eq!(done.status.unwrap().code, 0);
    assert_eq!(done.resource_id, id);
    let running = get_instance(&fake, &id).await.unwrap();
    assert_eq!(state_of(&running), InstanceState::Running);
    let interface = &running.status.as_ref().unwrap().network_interfaces[0];
    let public = interface
        .public_ip_address
        .as_ref()
        .unwrap()
        .address
        .clone();
    assert!(public.ends_with("/32"), "{public}");
    assert!(
        interface
            .ip_address
            .as_ref()
            .unwrap()
            .address
            .starts_with("10.")
    );
    assert_eq!(interface.security_groups[0].id, group);
    assert_eq!(
        running.metadata.as_ref().unwrap().labels["gpucloud-ref"],
        "life"
    );
    assert_eq!(
        fake.state().disks()[0].attached_to.as_deref(),
        Some(id.as_str())
    );

    // The same name again is refused; the boot disk cannot be deleted while attached.
    let disk2 = create_disk(&fake, "life-boot-2").await;
    let twice = instances
        .create(mutation(
            &fake,
            "life-2",
            instance_request(&fake, "life", &disk2, &[]),
        ))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);
    assert!(matches!(
        service_error(&twice),
        Some(Details::ResourceAlreadyExists(e)) if e.resource_id == id
    ));
    let attached = DiskServiceClient::new(channel(&fake).await)
        .delete(mutation(
            &fake,
            "del-attached",
            compute::DeleteDiskRequest { id: disk.clone() },
        ))
        .await
        .unwrap_err();
    assert_eq!(attached.code(), Code::FailedPrecondition);
    let in_use = groups
        .delete(mutation(
            &fake,
            "del-sg-in-use",
            vpc::DeleteSecurityGroupRequest { id: group.clone() },
        ))
        .await
        .unwrap_err();
    assert_eq!(in_use.code(), Code::FailedPrecondition);

    // Labels.
    let update = instances
        .update(mutation(
            &fake,
            "relabel",
            compute::UpdateInstanceRequest {
                metadata: Some(common::ResourceMetadata {
                    id: id.clone(),
                    labels: [("team".to_owned(), "ml".to_owned())].into(),
                    ..Default::default()
                }),
                spec: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        update.status.unwrap().code,
        0,
        "label updates are done at once"
    );
    let relabelled = get_instance(&fake, &id).await.unwrap();
    let labels = &relabelled.metadata.as_ref().unwrap().labels;
    assert_eq!(labels.len(), 1);
    assert_eq!(labels["team"], "ml");

    // Stop, start; a second stop of a stopped instance is refused.
    let stop = instances
        .stop(mutation(
            &fake,
            "stop",
            compute::StopInstanceRequest { id: id.clone() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        state_of(&get_instance(&fake, &id).await.unwrap()),
        InstanceState::Stopping
    );
    wait(&fake, &stop).await;
    assert_eq!(
        state_of(&get_instance(&fake, &id).await.unwrap()),
        InstanceState::Stopped
    );
    let again = instances
        .stop(mutation(
            &fake,
            "stop-2",
            compute::StopInstanceRequest { id: id.clone() },
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(matches!(
        service_error(&again),
        Some(Details::BadResourceState(_))
    ));
    let start = instances
        .start(mutation(
            &fake,
            "start",
            compute::StartInstanceRequest { id: id.clone() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        state_of(&get_instance(&fake, &id).await.unwrap()),
        InstanceState::Starting
    );
    wait(&fake, &start).await;
    assert_eq!(
        state_of(&get_instance(&fake, &id).await.unwrap()),
        InstanceState::Running
    );

    // Operations of the instance, newest first.
    let history = OperationServiceClient::new(channel(&fake).await)
        .list(req(
            &fake,
            common::ListOperationsRequest {
                resource_id: id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let descriptions: Vec<&str> = history
        .operations
        .iter()
        .map(|o| o.description.split(' ').next().unwrap())
        .collect();
    assert_eq!(descriptions, ["start", "stop", "update", "create"]);
    let by_parent = instances
        .list_operations_by_parent(req(
            &fake,
            compute::ListOperationsByParentRequest {
                parent_id: project(&fake),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(by_parent.operations.len() >= 6);

    // Delete: deleting, then gone; capacity given back; then the disks and the group go.
    let delete = instances
        .delete(mutation(
            &fake,
            "delete",
            compute::DeleteInstanceRequest { id: id.clone() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        state_of(&get_instance(&fake, &id).await.unwrap()),
        InstanceState::Deleting
    );
    let second = instances
        .delete(mutation(
            &fake,
            "delete-again",
            compute::DeleteInstanceRequest { id: id.clone() },
        ))
        .await
        .unwrap()
        .into_inner();
    wait(&fake, &delete).await;
    wait(&fake, &second).await;
    assert_eq!(
        get_instance(&fake, &id).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        fake.state().capacity(REGION, PLATFORM, PRESET),
        capacity_before
    );
    let gone = instances
        .delete(mutation(
            &fake,
            "delete-gone",
            compute::DeleteInstanceRequest { id: id.clone() },
        ))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    delete_disk(&fake, &disk).await;
    delete_disk(&fake, &disk2).await;
    let removed = groups
        .delete(mutation(
            &fake,
            "del-sg",
            vpc::DeleteSecurityGroupRequest { id: group },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(removed.status.unwrap().code, 0);
    assert!(fake.state().instances().is_empty());
    assert!(fake.state().disks().is_empty());
    assert!(fake.state().security_groups().is_empty());
    assert_eq!(fake.state().mutations_without_idempotency_key(), 0);
}

#[tokio::test]
async fn disks_get_list_update_and_bad_requests() {
    let fake = start().await;
    let mut disks = DiskServiceClient::new(channel(&fake).await);
    let id = create_disk(&fake, "plain").await;
    let got = disks
        .get(req(&fake, compute::GetDiskRequest { id: id.clone() }))
        .await
        .unwrap()
        .into_inner();
    let status = got.status.unwrap();
    assert_eq!(status.state, compute::disk_status::State::Ready as i32);
    assert!(!status.source_image_id.is_empty());
    let by_name = disks
        .get_by_name(req(
            &fake,
            common::GetByNameRequest {
                parent_id: project(&fake),
                name: "plain".to_owned(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_name.metadata.as_ref().unwrap().id, id);
    let update = disks
        .update(mutation(
            &fake,
            "label-disk",
            compute::UpdateDiskRequest {
                metadata: Some(common::ResourceMetadata {
                    id: id.clone(),
                    labels: [("a".to_owned(), "b".to_owned())].into(),
                    ..Default::default()
                }),
                spec: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(update.status.unwrap().code, 0);
    let listed = disks
        .list(req(
            &fake,
            compute::ListDisksRequest {
                parent_id: project(&fake),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].metadata.as_ref().unwrap().labels["a"], "b");

    let no_size = disks
        .create(mutation(
            &fake,
            "no-size",
            compute::CreateDiskRequest {
                metadata: Some(common::ResourceMetadata {
                    parent_id: project(&fake),
                    name: "no-size".to_owned(),
                    ..Default::default()
                }),
                spec: Some(compute::DiskSpec {
                    r#type: compute::disk_spec::DiskType::NetworkSsd as i32,
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&no_size), "spec.size");
    let no_project = disks
        .create(mutation(
            &fake,
            "no-project",
            compute::CreateDiskRequest::default(),
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&no_project), "metadata");
    delete_disk(&fake, &id).await;
    assert!(fake.state().disks().is_empty());
}

#[tokio::test]
async fn instance_list_pages_through_every_instance() {
    let fake = start().await;
    let seeded = fake
        .state()
        .seed_running_instances(REGION, PLATFORM, PRESET, 250, &BTreeMap::new())
        .unwrap();
    let mut instances = InstanceServiceClient::new(channel(&fake).await);
    let mut seen = HashSet::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = instances
            .list(req(
                &fake,
                compute::ListInstancesRequest {
                    parent_id: project(&fake),
                    page_size: 100,
                    page_token: token.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.items.len() <= 100);
        for item in page.items {
            assert!(seen.insert(item.metadata.unwrap().id), "no duplicates");
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, seeded.into_iter().collect());
    let other_region = instances
        .list(req(
            &fake,
            compute::ListInstancesRequest {
                parent_id: fake.project_id("us-central1").unwrap(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(other_region.items.is_empty());
    let bad = instances
        .list(req(
            &fake,
            compute::ListInstancesRequest {
                parent_id: project(&fake),
                page_token: "not-a-token".to_owned(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&bad), "page_token");
}

#[tokio::test]
async fn security_rules_are_checked_listed_and_deleted() {
    let fake = start().await;
    let mut groups = SecurityGroupServiceClient::new(channel(&fake).await);
    let mut rules = SecurityRuleServiceClient::new(channel(&fake).await);
    let created = groups
        .create(mutation(
            &fake,
            "sg",
            vpc::CreateSecurityGroupRequest {
                metadata: Some(common::ResourceMetadata {
                    parent_id: project(&fake),
                    name: "gpucloud-rules".to_owned(),
                    ..Default::default()
                }),
                spec: Some(vpc::SecurityGroupSpec {
                    network_id: fake.state().network_id(REGION).unwrap(),
                }),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let group = created.resource_id.clone();
    let rule = |name: &str, ports: Vec<i32>, cidrs: Vec<&str>| vpc::CreateSecurityRuleRequest {
        metadata: Some(common::ResourceMetadata {
            parent_id: group.clone(),
            name: name.to_owned(),
            ..Default::default()
        }),
        spec: Some(vpc::SecurityRuleSpec {
            access: vpc::RuleAccessAction::Allow as i32,
            priority: 100,
            protocol: vpc::RuleProtocol::Tcp as i32,
            r#type: vpc::RuleType::Stateful as i32,
            r#match: Some(vpc::security_rule_spec::Match::Ingress(vpc::RuleIngress {
                source_cidrs: cidrs.into_iter().map(str::to_owned).collect(),
                destination_ports: ports,
                ..Default::default()
            })),
        }),
    };
    let ssh = rules
        .create(mutation(
            &fake,
            "ssh",
            rule("ssh", vec![22], vec!["0.0.0.0/0"]),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ssh.status.unwrap().code, 0);
    let bad_port = rules
        .create(mutation(
            &fake,
            "bad-port",
            rule("web", vec![0], vec!["0.0.0.0/0"]),
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&bad_port), "spec.ingress.destination_ports");
    let bad_cidr = rules
        .create(mutation(
            &fake,
            "bad-cidr",
            rule("web", vec![80], vec!["everywhere"]),
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&bad_cidr), "spec.ingress.source_cidrs");
    let web = rules
        .create(mutation(
            &fake,
            "web",
            rule("web", vec![80, 443], vec!["10.0.0.0/8"]),
        ))
        .await
        .unwrap()
        .into_inner();
    let listed = rules
        .list(req(
            &fake,
            vpc::ListSecurityRulesRequest {
                parent_id: group.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.items.len(), 2);
    let status = listed.items[0].status.as_ref().unwrap();
    assert_eq!(status.direction, vpc::RuleDirection::Ingress as i32);
    assert_eq!(fake.state().security_groups()[0].rules.len(), 2);
    let got = rules
        .get(req(
            &fake,
            vpc::GetSecurityRuleRequest {
                id: web.resource_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.metadata.unwrap().name, "web");
    rules
        .delete(mutation(
            &fake,
            "del-web",
            vpc::DeleteSecurityRuleRequest {
                id: web.resource_id,
            },
        ))
        .await
        .unwrap();
    assert_eq!(fake.state().security_groups()[0].rules.len(), 1);
    let listed_groups = groups
        .list(req(
            &fake,
            vpc::ListSecurityGroupsRequest {
                parent_id: project(&fake),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed_groups.items.len(), 1);
    groups
        .delete(mutation(
            &fake,
            "del-sg",
            vpc::DeleteSecurityGroupRequest { id: group.clone() },
        ))
        .await
        .unwrap();
    assert!(fake.state().security_groups().is_empty());
    let orphan = rules
        .list(req(
            &fake,
            vpc::ListSecurityRulesRequest {
                parent_id: group,
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(orphan.code(), Code::NotFound);
}

#[tokio::test]
async fn quota_and_capacity_refusals_carry_their_details_and_create_nothing() {
    let fake = start().await;
    let disk = create_disk(&fake, "refused-boot").await;
    let mut instances = InstanceServiceClient::new(channel(&fake).await);
    fake.state()
        .set_quota_limit(REGION, "compute.instance.gpu.h100", 0);
    let quota = instances
        .create(mutation(
            &fake,
            "q",
            instance_request(&fake, "q", &disk, &[]),
        ))
        .await
        .unwrap_err();
    assert_eq!(quota.code(), Code::ResourceExhausted);
    let Some(Details::QuotaFailure(failure)) = service_error(&quota) else {
        panic!("{quota:?}");
    };
    assert_eq!(failure.violations[0].quota, "compute.instance.gpu.h100");
    assert_eq!(failure.violations[0].limit, "0");

    fake.state()
        .set_quota_limit(REGION, "compute.instance.gpu.h100", 8);
    fake.state().set_capacity(REGION, PLATFORM, PRESET, 0);
    let capacity = instances
        .create(mutation(
            &fake,
            "c",
            instance_request(&fake, "c", &disk, &[]),
        ))
        .await
        .unwrap_err();
    assert_eq!(capacity.code(), Code::ResourceExhausted);
    assert!(matches!(
        service_error(&capacity),
        Some(Details::NotEnoughResources(_))
    ));
    assert!(fake.state().instances().is_empty());
    assert!(
        fake.state()
            .operations()
            .iter()
            .all(|o| !o.description.contains("instance"))
    );
}

#[tokio::test]
async fn an_operation_a_test_fails_carries_its_status() {
    let fake = start().await;
    let disk = create_disk(&fake, "failing-boot").await;
    fake.state().fail_next_operation(
        Operation::CreateInstance,
        OperationFailure::NotEnoughResources,
    );
    let operation = InstanceServiceClient::new(channel(&fake).await)
        .create(mutation(
            &fake,
            "f",
            instance_request(&fake, "f", &disk, &[]),
        ))
        .await
        .unwrap()
        .into_inner();
    let done = wait(&fake, &operation).await;
    let status = done.status.unwrap();
    assert_eq!(status.code, Code::ResourceExhausted as i32);
    let error = common::ServiceError::decode(status.details[0].value.as_slice()).unwrap();
    assert!(matches!(
        error.details,
        Some(Details::NotEnoughResources(_))
    ));
    let failed = get_instance(&fake, &done.resource_id).await.unwrap();
    assert_eq!(state_of(&failed), InstanceState::Error);
    delete_instance(&fake, &done.resource_id).await;

    // A failed stop changes nothing.
    let operation = InstanceServiceClient::new(channel(&fake).await)
        .create(mutation(
            &fake,
            "g",
            instance_request(&fake, "g", &disk, &[]),
        ))
        .await
        .unwrap()
        .into_inner();
    wait(&fake, &operation).await;
    fake.state().fail_next_operation(
        Operation::Any,
        OperationFailure::Internal("disk controller".to_owned()),
    );
    let stop = InstanceServiceClient::new(channel(&fake).await)
        .stop(mutation(
            &fake,
            "stop-g",
            compute::StopInstanceRequest {
                id: operation.resource_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let status = wait(&fake, &stop).await.status.unwrap();
    assert_eq!(status.code, Code::Internal as i32);
    assert_eq!(status.message, "disk controller");
    assert_eq!(
        state_of(&get_instance(&fake, &operation.resource_id).await.unwrap()),
        InstanceState::Running
    );
    delete_instance(&fake, &operation.resource_id).await;
    delete_disk(&fake, &disk).await;
    assert!(fake.state().instances().is_empty() && fake.state().disks().is_empty());
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_operation() {
    let fake = start().await;
    let mut groups = SecurityGroupServiceClient::new(channel(&fake).await);
    let request = || vpc::CreateSecurityGroupRequest {
        metadata: Some(common::ResourceMetadata {
            parent_id: project(&fake),
            name: "once".to_owned(),
            ..Default::default()
        }),
        spec: Some(vpc::SecurityGroupSpec {
            network_id: fake.state().network_id(REGION).unwrap(),
        }),
    };
    let first = groups
        .create(mutation(&fake, "k1", request()))
        .await
        .unwrap()
        .into_inner();
    let replay = groups
        .create(mutation(&fake, "k1", request()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.id, replay.id);
    assert_eq!(fake.state().security_groups().len(), 1);
    // A new key is a new call: the name is taken.
    let taken = groups
        .create(mutation(&fake, "k2", request()))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    // Without a key it runs, and is counted.
    let unkeyed = groups.create(req(&fake, request())).await.unwrap_err();
    assert_eq!(unkeyed.code(), Code::AlreadyExists);
    assert_eq!(fake.state().mutations_without_idempotency_key(), 1);
    assert_eq!(
        fake.state()
            .requests()
            .count("POST", "/nebius.vpc.v1.SecurityGroupService/Create"),
        4
    );
}

#[tokio::test]
async fn injected_statuses_latency_and_malformed_messages() {
    let fake = start().await;
    let mut projects = ProjectServiceClient::new(channel(&fake).await);
    let list = || {
        req(
            &fake,
            iam::ListProjectsRequest {
                parent_id: fake.tenant_id(),
                ..Default::default()
            },
        )
    };
    let cases = [
        (503, Code::Unavailable),
        (504, Code::DeadlineExceeded),
        (500, Code::Internal),
    ];
    for (status, code) in cases {
        fake.state().set_fault_for(
            Operation::ListProjects,
            Fault::ServerError { status, times: 1 },
        );
        let refused = projects.list(list()).await.unwrap_err();
        assert_eq!(refused.code(), code, "{status}");
        projects.list(list()).await.expect("used up after one call");
    }
    fake.state().set_fault(Fault::RateLimited {
        retry_after_secs: 1,
        times: 1,
    });
    let throttled = projects.list(list()).await.unwrap_err();
    assert_eq!(throttled.code(), Code::ResourceExhausted);
    assert!(matches!(
        service_error(&throttled),
        Some(Details::TooManyRequests(_))
    ));

    fake.state()
        .set_fault(Fault::Latency(Duration::from_millis(300)));
    let started = Instant::now();
    projects.list(list()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    fake.state().clear_faults();

    fake.state().set_fault(Fault::MalformedJson { times: 1 });
    let malformed = projects.list(list()).await.unwrap_err();
    assert_eq!(malformed.code(), Code::Internal, "{malformed:?}");
    projects.list(list()).await.unwrap();
    assert!(fake.state().faults().injected_count() >= 5);
}

#[tokio::test]
async fn commit_then_drop_on_create_and_delete_and_connection_resets() {
    let fake = start().await;
    let disk = create_disk(&fake, "dropped-boot").await;

    // A reset runs nothing.
    fake.state().set_fault_for(
        Operation::CreateInstance,
        Fault::ConnectionReset { times: 1 },
    );
    let reset = InstanceServiceClient::new(channel(&fake).await)
        .create(mutation(
            &fake,
            "drop",
            instance_request(&fake, "drop", &disk, &[]),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            reset.code(),
            Code::Unavailable | Code::Unknown | Code::Internal
        ),
        "{reset:?}"
    );
    assert!(fake.state().instances().is_empty());

    // Commit, then drop: the instance exists although the caller saw an error; the retry
    // with the same key gets the first call's operation and creates nothing more.
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::CreateInstance,
        times: 1,
    });
    let dropped = InstanceServiceClient::new(channel(&fake).await)
        .create(mutation(
            &fake,
            "drop",
            instance_request(&fake, "drop", &disk, &[]),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            dropped.code(),
            Code::Unavailable | Code::Unknown | Code::Internal
        ),
        "{dropped:?}"
    );
    let created = fake.state().instances();
    assert_eq!(created.len(), 1);
    let retried = InstanceServiceClient::new(channel(&fake).await)
        .create(mutation(
            &fake,
            "drop",
            instance_request(&fake, "drop", &disk, &[]),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried.resource_id, created[0].id);
    assert_eq!(fake.state().instances().len(), 1);
    wait(&fake, &retried).await;

    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::DeleteInstance,
        times: 1,
    });
    let dropped = InstanceServiceClient::new(channel(&fake).await)
        .delete(mutation(
            &fake,
            "drop-delete",
            compute::DeleteInstanceRequest {
                id: created[0].id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_ne!(dropped.code(), Code::Ok);
    let deleting = get_instance(&fake, &created[0].id).await.unwrap();
    assert_eq!(state_of(&deleting), InstanceState::Deleting);
    tokio::time::sleep(DELAY * 2).await;
    assert!(fake.state().instances().is_empty());
    delete_disk(&fake, &disk).await;
    assert!(fake.state().disks().is_empty());
    assert_eq!(
        fake.state()
            .requests()
            .count("POST", "/nebius.compute.v1.InstanceService/Create"),
        3
    );
}

#[tokio::test]
async fn unserved_methods_answer_unimplemented_naming_the_method() {
    let fake = start().await;
    // A method of a service the fake serves.
    let refused = InstanceServiceClient::new(channel(&fake).await)
        .batch_get(req(&fake, compute::BatchGetRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented);
    assert!(
        refused
            .message()
            .contains("/nebius.compute.v1.InstanceService/BatchGet"),
        "{refused:?}"
    );
    // A service the fake does not serve at all.
    let refused =
        compute::filesystem_service_client::FilesystemServiceClient::new(channel(&fake).await)
            .list(req(&fake, compute::ListFilesystemsRequest::default()))
            .await
            .unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented);
    assert!(
        refused
            .message()
            .contains("/nebius.compute.v1.FilesystemService/List"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn iam_v2_serves_tenants_and_projects_and_v1_stays_for_older_clients() {
    let fake = start().await;
    let tenant = fake.tenant_id();
    let mut tenants = iam2::tenant_service_client::TenantServiceClient::new(channel(&fake).await);
    let listed = tenants
        .list(req(&fake, iam2::ListTenantsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.items.len(), 1);
    let meta = listed.items[0].metadata.clone().unwrap();
    assert_eq!(meta.id, tenant);
    assert_eq!(meta.name, "fake-tenant");
    assert_eq!(
        listed.items[0].status.as_ref().unwrap().tenant_state,
        iam2::tenant_status::TenantState::Active as i32
    );
    let by_name = tenants
        .get_by_name(req(
            &fake,
            iam2::GetTenantByNameRequest {
                name: "fake-tenant".to_owned(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_name.metadata.unwrap().id, tenant);

    let mut projects =
        iam2::project_service_client::ProjectServiceClient::new(channel(&fake).await);
    let listed = projects
        .list(req(
            &fake,
            iam2::ListProjectsRequest {
                parent_id: tenant.clone(),
                page_size: 1,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.items.len(), 1, "paged");
    assert!(!listed.next_page_token.is_empty());
    let first = &listed.items[0];
    let region = first.spec.as_ref().unwrap().region.clone();
    assert_eq!(
        fake.project_id(&region),
        first.metadata.as_ref().map(|m| m.id.clone())
    );
    assert_eq!(first.metadata.as_ref().unwrap().parent_id, tenant);
    assert_eq!(
        first.status.as_ref().unwrap().project_state,
        iam2::project_status::ProjectState::Active as i32
    );
    let got = projects
        .get_by_name(req(
            &fake,
            iam2::GetProjectByNameRequest {
                parent_id: tenant.clone(),
                name: "default-project-us-central1".to_owned(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.spec.unwrap().region, "us-central1");
    let missing = projects
        .get(req(
            &fake,
            iam2::GetProjectRequest {
                id: "project-e00nothing".to_owned(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    // A tenant the credential sees besides its own has no projects.
    let other = fake.state().add_tenant("partner-org");
    let listed = tenants
        .list(req(&fake, iam2::ListTenantsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let ids: HashSet<String> = listed
        .items
        .iter()
        .map(|t| t.metadata.as_ref().unwrap().id.clone())
        .collect();
    assert_eq!(ids, HashSet::from([tenant.clone(), other.clone()]));
    let none = projects
        .list(req(
            &fake,
            iam2::ListProjectsRequest {
                parent_id: other.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(none.items.is_empty());

    // The deprecated v1 services answer the same.
    let mut v1 = TenantServiceClient::new(channel(&fake).await);
    let listed = v1
        .list(req(&fake, iam::ListTenantsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.items.len(), 2);
    let got = v1
        .get(req(&fake, iam::GetTenantRequest { id: other.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.metadata.unwrap().name, "partner-org");
    let v1_projects = ProjectServiceClient::new(channel(&fake).await)
        .list(req(
            &fake,
            iam::ListProjectsRequest {
                parent_id: tenant,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v1_projects.items.len(), 2);
}

#[tokio::test]
async fn a_fake_without_iam_v1_refuses_it_naming_the_method() {
    let fake = FakeNebius::start(FakeNebiusOptions {
        iam_v1: false,
        ..FakeNebiusOptions::default()
    })
    .await
    .unwrap();
    let refused = ProjectServiceClient::new(channel(&fake).await)
        .list(req(
            &fake,
            iam::ListProjectsRequest {
                parent_id: fake.tenant_id(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented);
    assert!(
        refused
            .message()
            .contains("/nebius.iam.v1.ProjectService/List"),
        "{refused:?}"
    );
    let refused = TenantServiceClient::new(channel(&fake).await)
        .list(req(&fake, iam::ListTenantsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented);
    assert!(
        refused
            .message()
            .contains("/nebius.iam.v1.TenantService/List")
    );
    let v2 = iam2::project_service_client::ProjectServiceClient::new(channel(&fake).await)
        .list(req(
            &fake,
            iam2::ListProjectsRequest {
                parent_id: fake.tenant_id(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v2.items.len(), 2);
}

#[tokio::test]
async fn the_profile_says_who_calls() {
    let fake = start().await;
    let mut profiles = ProfileServiceClient::new(channel(&fake).await);
    // The static token is a user of every tenant.
    let user = profiles
        .get(req(&fake, iam::GetProfileRequest {}))
        .await
        .unwrap()
        .into_inner();
    let Some(iam::get_profile_response::Profile::UserProfile(user)) = user.profile else {
        panic!("{user:?}");
    };
    assert_eq!(user.tenants.len(), 1);
    assert_eq!(user.tenants[0].tenant_id, fake.tenant_id());
    // An exchanged token is its service account, made in the first region's project.
    let token = TokenExchangeServiceClient::new(channel(&fake).await)
        .exchange(Request::new(exchange_request(
            fake.service_account().signed_jwt(Duration::from_secs(60)),
        )))
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let account = profiles
        .get(with_token(&token, iam::GetProfileRequest {}))
        .await
        .unwrap()
        .into_inner();
    let Some(iam::get_profile_response::Profile::ServiceAccountProfile(account)) = account.profile
    else {
        panic!("{account:?}");
    };
    let meta = account.info.unwrap().metadata.unwrap();
    assert_eq!(meta.id, fake.service_account().service_account_id());
    assert_eq!(Some(meta.parent_id), fake.project_id(REGION));
    let anonymous = profiles
        .get(Request::new(iam::GetProfileRequest {}))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn options_are_checked() {
    let none = FakeNebius::start(FakeNebiusOptions {
        regions: Vec::new(),
        ..FakeNebiusOptions::default()
    })
    .await
    .unwrap_err();
    assert!(none.to_string().contains("regions"));
    let unknown = FakeNebius::start(FakeNebiusOptions {
        regions: vec!["mars-1".to_owned()],
        ..FakeNebiusOptions::default()
    })
    .await
    .unwrap_err();
    assert!(unknown.to_string().contains("mars-1"));
    let debug = format!("{:?}", FakeNebiusOptions::default());
    assert!(!debug.contains("fake-nebius-iam-token"), "{debug}");
}

fn preemptible_instance(
    fake: &FakeNebius,
    platform: &str,
    preset: &str,
) -> compute::CreateInstanceRequest {
    compute::CreateInstanceRequest {
        metadata: Some(common::ResourceMetadata {
            parent_id: project(fake),
            name: "spot-estimate".to_owned(),
            ..Default::default()
        }),
        spec: Some(compute::InstanceSpec {
            resources: Some(compute::ResourcesSpec {
                platform: platform.to_owned(),
                size: Some(compute::resources_spec::Size::Preset(preset.to_owned())),
            }),
            preemptible: Some(compute::PreemptibleSpec {
                on_preemption: compute::preemptible_spec::PreemptionPolicy::Stop as i32,
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

/// The hourly cost of `v1` estimate's first resource.
fn first_hourly_cost(response: &billing::EstimateBatchResponse) -> (f64, String) {
    let cost = &response.resource_costs[0];
    let Some(billing::resource_cost::CostType::General(general)) = &cost.cost_type else {
        panic!("{cost:?}");
    };
    let total = general.total.as_ref().unwrap();
    (
        total.cost.parse().unwrap(),
        total.sku_costs[0].sku_id.clone(),
    )
}

#[tokio::test]
async fn the_calculator_prices_preemptible_specs_at_spot_prices_in_v1_and_v1alpha1() {
    use gpucloud_nebius_proto::billing::v1alpha1 as alpha;
    let fake = start().await;
    let mut calculator = CalculatorServiceClient::new(channel(&fake).await);
    let v1 = |spec: &compute::CreateInstanceRequest| {
        billing::EstimateBatchRequest {
        resource_specs: vec![billing::ResourceSpec {
            spec: Some(any_of("nebius.compute.v1.CreateInstanceRequest", spec)),
        }],
        filter_aggregation_unit: Some(billing::FilterAggregationUnit {
            filter_aggregation_unit_values: vec![
                billing::filter_aggregation_unit::FilterAggregationUnitValue::FilterAggregationUnitHour
                    as i32,
            ],
        }),
        ..Default::default()
    }
    };
    let mut spot = preemptible_instance(&fake, PLATFORM, "8gpu-128vcpu-1600gb");
    let (price, sku) = first_hourly_cost(
        &calculator
            .estimate_batch(req(&fake, v1(&spot)))
            .await
            .unwrap()
            .into_inner(),
    );
    assert!((price - 8.0 * 1.25).abs() < 1e-6, "{price}");
    assert!(sku.ends_with(".preemptible"), "{sku}");
    spot.spec.as_mut().unwrap().preemptible = None;
    let (on_demand, _) = first_hourly_cost(
        &calculator
            .estimate_batch(req(&fake, v1(&spot)))
            .await
            .unwrap()
            .into_inner(),
    );
    assert!((on_demand - 8.0 * 2.95).abs() < 1e-6, "{on_demand}");
    let refused = calculator
        .estimate_batch(req(
            &fake,
            v1(&preemptible_instance(&fake, "cpu-d3", "4vcpu-16gb")),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        bad_field(&refused),
        "resource_specs[0].spec.spec.preemptible"
    );

    // The older calculator: one resource, or a batch summed; a month is 720 hours.
    let mut alpha_calculator =
        alpha::calculator_service_client::CalculatorServiceClient::new(channel(&fake).await);
    let cost = |group: Option<alpha::ResourceGroupCost>| -> f64 {
        let Some(alpha::resource_group_cost::CostType::General(general)) =
            group.and_then(|g| g.cost_type)
        else {
            panic!("no general cost");
        };
        general.total.unwrap().cost.parse().unwrap()
    };
    let one = alpha_calculator
        .estimate(req(
            &fake,
            alpha::EstimateRequest {
                resource_spec: Some(alpha::ResourceSpec {
                    resource_spec: Some(alpha::resource_spec::ResourceSpec::ComputeInstanceSpec(
                        preemptible_instance(&fake, PLATFORM, PRESET),
                    )),
                }),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!((cost(one.hourly_cost) - 1.25).abs() < 1e-6);
    assert!((cost(one.monthly_cost) - 1.25 * 720.0).abs() < 1e-6);
    let batch = alpha_calculator
        .estimate_batch(req(
            &fake,
            alpha::EstimateBatchRequest {
                resource_specs: vec![
                    alpha::ResourceSpec {
                        resource_spec: Some(
                            alpha::resource_spec::ResourceSpec::ComputeInstanceSpec(
                                preemptible_instance(&fake, PLATFORM, PRESET),
                            ),
                        ),
                    },
                    alpha::ResourceSpec {
                        resource_spec: Some(alpha::resource_spec::ResourceSpec::ComputeDiskSpec(
                            compute::CreateDiskRequest {
                                metadata: None,
                                spec: Some(compute::DiskSpec {
                                    size: Some(compute::disk_spec::Size::SizeGibibytes(730)),
                                    ..Default::default()
                                }),
                            },
                        )),
                    },
                ],
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!((cost(batch.hourly_cost) - (1.25 + 0.071)).abs() < 1e-6);
    let empty = alpha_calculator
        .estimate(req(&fake, alpha::EstimateRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&empty), "resource_spec");
}

#[tokio::test]
async fn pricing_policies_cap_spot_prices_per_platform() {
    use billing::pricing_policy_status::SchedulingState;
    use gpucloud_nebius_proto::billing::v1::pricing_policy_service_client::PricingPolicyServiceClient;
    let fake = start().await;
    let mut policies = PricingPolicyServiceClient::new(channel(&fake).await);
    let spec = |platform: &str, max: &str| billing::PricingPolicySpec {
        compute_instance_spec: Some(billing::ComputeInstanceSpec {
            versions: Some(billing::compute_instance_spec::Versions::V1(
                billing::ComputeInstanceSpecV1 {
                    platform: platform.to_owned(),
                },
            )),
        }),
        pricing: Some(billing::PricingMethod {
            versions: Some(billing::pricing_method::Versions::MaxPriceV1(
                billing::MaxPriceV1 {
                    max_price: max.to_owned(),
                },
            )),
        }),
    };
    let create = |name: &str, platform: &str, max: &str| billing::CreatePricingPolicyRequest {
        metadata: Some(common::ResourceMetadata {
            parent_id: fake.tenant_id(),
            name: name.to_owned(),
            ..Default::default()
        }),
        spec: Some(spec(platform, max)),
    };
    let operation = policies
        .create(mutation(
            &fake,
            "policy-1",
            create("h100-cap", PLATFORM, "1.00"),
        ))
        .await
        .unwrap()
        .into_inner();
    let done = wait(&fake, &operation).await;
    assert_eq!(done.status.unwrap().code, 0);
    let got = policies
        .get(req(
            &fake,
            billing::GetPricingPolicyRequest {
                id: operation.resource_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let status = got.status.unwrap();
    assert_eq!(
        status.scheduling_state,
        SchedulingState::Blocked as i32,
        "1.00 < 1.25"
    );
    assert_eq!(status.currency, "usd");
    assert_eq!(status.sku_id, "compute.gpu-h100-sxm.preemptible");

    // Raised above the spot price, it allows scheduling.
    let update = billing::UpdatePricingPolicyRequest {
        metadata: Some(common::ResourceMetadata {
            id: operation.resource_id.clone(),
            ..Default::default()
        }),
        spec: Some(spec(PLATFORM, "2.50")),
    };
    policies
        .update(mutation(&fake, "policy-2", update))
        .await
        .unwrap();
    let listed = policies
        .list(req(
            &fake,
            billing::ListPricingPoliciesRequest {
                parent_id: fake.tenant_id(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.items.len(), 1);
    let policy = &listed.items[0];
    assert_eq!(
        policy.status.as_ref().unwrap().scheduling_state,
        SchedulingState::Allowed as i32
    );
    let by_name = policies
        .get_by_name(req(
            &fake,
            common::GetByNameRequest {
                parent_id: fake.tenant_id(),
                name: "h100-cap".to_owned(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_name.metadata.unwrap().id, operation.resource_id);

    // Refusals name the field; a name is unique per parent.
    for (request, field) in [
        (
            create("cpu", "cpu-d3", "1"),
            "spec.compute_instance_spec.v1.platform",
        ),
        (
            create("neg", PLATFORM, "-1"),
            "spec.pricing.max_price_v1.max_price",
        ),
        (
            create("nan", PLATFORM, "cheap"),
            "spec.pricing.max_price_v1.max_price",
        ),
    ] {
        let refused = policies.create(req(&fake, request)).await.unwrap_err();
        assert_eq!(bad_field(&refused), field);
    }
    let twice = policies
        .create(req(&fake, create("h100-cap", PLATFORM, "3")))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);

    policies
        .delete(mutation(
            &fake,
            "policy-3",
            billing::DeletePricingPolicyRequest {
                id: operation.resource_id.clone(),
            },
        ))
        .await
        .unwrap();
    let gone = policies
        .get(req(
            &fake,
            billing::GetPricingPolicyRequest {
                id: operation.resource_id,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

/// An instance create whose boot disk is a managed disk named `disk_name`.
fn managed_instance_request(
    fake: &FakeNebius,
    name: &str,
    disk_name: &str,
) -> compute::CreateInstanceRequest {
    let mut request = instance_request(fake, name, "", &[]);
    request.spec.as_mut().unwrap().boot_disk = Some(compute::AttachedDiskSpec {
        attach_mode: compute::attached_disk_spec::AttachMode::ReadWrite as i32,
        device_id: "boot".to_owned(),
        r#type: Some(compute::attached_disk_spec::Type::ManagedDisk(
            compute::ManagedDisk {
                name: disk_name.to_owned(),
                labels: [("gpucloud-ref".to_owned(), name.to_owned())].into(),
                spec: Some(compute::DiskSpec {
                    size: Some(compute::disk_spec::Size::SizeGibibytes(100)),
                    r#type: compute::disk_spec::DiskType::NetworkSsd as i32,
                    source: Some(compute::disk_spec::Source::SourceImageFamily(
                        compute::SourceImageFamily {
                            image_family: "ubuntu22.04-cuda12".to_owned(),
                            ..Default::default()
                        },
                    )),
                    ..Default::default()
                }),
            },
        )),
    });
    request
}

#[tokio::test]
async fn a_managed_boot_disk_is_made_with_its_instance_and_deleted_with_it() {
    let fake = start().await;
    let mut instances = InstanceServiceClient::new(channel(&fake).await);
    let operation = instances
        .create(mutation(
            &fake,
            "managed-1",
            managed_instance_request(&fake, "managed-1", "managed-1-boot"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(wait(&fake, &operation).await.status.unwrap().code, 0);
    let instance = get_instance(&fake, &operation.resource_id).await.unwrap();
    assert_eq!(state_of(&instance), InstanceState::Running);
    let attachments = &instance.status.as_ref().unwrap().disk_attachments;
    assert_eq!(attachments.len(), 1);
    let attached = &attachments[0];
    assert!(attached.is_managed);
    assert_eq!(attached.name, "managed-1-boot");
    assert!(attached.id.starts_with("computedisk-"), "{attached:?}");
    let disks = fake.state().disks();
    assert_eq!(disks.len(), 1);
    assert_eq!(disks[0].id, attached.id);
    assert_eq!(
        fake.state()
            .instance(&operation.resource_id)
            .unwrap()
            .boot_disk_id
            .as_deref(),
        Some(attached.id.as_str())
    );

    // Changed only through its instance; not deletable while attached.
    let mut disk_client = DiskServiceClient::new(channel(&fake).await);
    let update = disk_client
        .update(mutation(
            &fake,
            "managed-update",
            compute::UpdateDiskRequest {
                metadata: Some(common::ResourceMetadata {
                    id: attached.id.clone(),
                    ..Default::default()
                }),
                spec: None,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(update.code(), Code::FailedPrecondition);
    let delete = disk_client
        .delete(mutation(
            &fake,
            "managed-delete",
            compute::DeleteDiskRequest {
                id: attached.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(delete.code(), Code::FailedPrecondition);

    // A disk name already taken refuses the whole create: nothing is made.
    let conflict = instances
        .create(mutation(
            &fake,
            "managed-2",
            managed_instance_request(&fake, "managed-2", "managed-1-boot"),
        ))
        .await
        .unwrap_err();
    assert_eq!(conflict.code(), Code::AlreadyExists);
    assert!(matches!(
        service_error(&conflict),
        Some(Details::ResourceAlreadyExists(e)) if e.resource_id == attached.id
    ));
    assert_eq!(fake.state().instances().len(), 1);
    assert_eq!(fake.state().disks().len(), 1);
    let bad = instances
        .create(req(&fake, {
            let mut request = managed_instance_request(&fake, "managed-3", "managed-3-boot");
            if let Some(compute::attached_disk_spec::Type::ManagedDisk(m)) = request
                .spec
                .as_mut()
                .and_then(|s| s.boot_disk.as_mut())
                .and_then(|b| b.r#type.as_mut())
            {
                m.spec = None;
            }
            request
        }))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&bad), "spec.boot_disk.managed_disk.spec");

    // Deleted with the instance.
    delete_instance(&fake, &operation.resource_id).await;
    assert!(
        fake.state().disks().is_empty(),
        "{:?}",
        fake.state().disks()
    );
}
