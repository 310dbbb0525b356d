//! What the tests share: moto and the pricing stub, clients, create attributes and the
//! "nothing left" check, read from moto with the plain SDK (not through the provider).

use std::time::Duration;

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use gpucloud_aws::{AwsClient, AwsConfig, AwsCredential};
use gpucloud_core::validate::{ValidCreate, validate_create};
use gpucloud_core::{CloudClient, CreateInstanceAttrs, ListInstancesArgs};
use gpucloud_fakes::aws_pricing::{FakeAwsPricing, FakeAwsPricingOptions};
use gpucloud_fakes::moto::MotoServer;

pub const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T noname";
pub const CRED: &str = "cred-test";
pub const REGION: &str = "us-east-1";
pub const G5: &str = "g5.xlarge";
/// An AMI every moto region serves (moto's images are fake; see the README).
pub const MOTO_IMAGE: &str = "ubuntu/images/hvm-ssd/ubuntu-xenial-16.04-amd64-server-*";

/// moto and the stub, for one test.
pub struct Aws {
    pub moto: MotoServer,
    pub stub: FakeAwsPricing,
}

pub async fn aws() -> Aws {
    let moto = match MotoServer::start().await {
        Ok(moto) => moto,
        Err(why) => panic!("{why}"),
    };
    let stub = FakeAwsPricing::start(FakeAwsPricingOptions::default())
        .await
        .expect("the pricing stub starts");
    Aws { moto, stub }
}

pub fn config_at(aws: &Aws, endpoint: &str, ref_id: &str) -> AwsConfig {
    AwsConfig::new(REGION)
        .with_regions([REGION, "us-west-2"])
        .with_static_credentials("AKIAMOTO", "moto-secret")
        .with_endpoint_url(endpoint)
        .with_pricing_endpoint_url(aws.stub.base_url())
        .with_quotas_endpoint_url(aws.stub.base_url())
        .with_default_image(MOTO_IMAGE)
        .with_ref_id(ref_id)
        .with_retry_backoff(Duration::from_millis(5))
        .with_sweep_grace(Duration::ZERO)
}

pub fn config(aws: &Aws, ref_id: &str) -> AwsConfig {
    config_at(aws, &aws.moto.endpoint(), ref_id)
}

pub fn client_as(aws: &Aws, ref_id: &str) -> AwsClient {
    AwsCredential::new(config(aws, ref_id))
        .unwrap()
        .client(REGION)
}

pub fn client(aws: &Aws) -> AwsClient {
    client_as(aws, CRED)
}

pub fn attrs(ref_id: &str) -> CreateInstanceAttrs {
    CreateInstanceAttrs {
        location: REGION.into(),
        ref_id: ref_id.into(),
        name: format!("box {ref_id}"),
        public_key: PUBLIC_KEY.into(),
        instance_type: G5.into(),
        ..CreateInstanceAttrs::default()
    }
}

pub fn valid(client: &AwsClient, attrs: &CreateInstanceAttrs) -> ValidCreate {
    validate_create(attrs, &client.create_features()).expect("valid attributes")
}

/// The plain SDK against moto, to read its state without the provider.
pub fn raw_ec2(aws: &Aws, region: &str) -> aws_sdk_ec2::Client {
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(
            "AKIAMOTO",
            "moto-secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(aws.moto.endpoint())
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}

/// What moto holds in `region`: instances not terminated, key pairs, security groups other
/// than the default ones, volumes.
pub async fn leftovers(aws: &Aws, region: &str) -> Vec<String> {
    let ec2 = raw_ec2(aws, region);
    let mut out = Vec::new();
    let instances = ec2.describe_instances().send().await.unwrap();
    for i in instances
        .reservations()
        .iter()
        .flat_map(aws_sdk_ec2::types::Reservation::instances)
    {
        let state = i
            .state()
            .and_then(|s| s.name())
            .map(|s| s.as_str().to_owned());
        if state.as_deref() != Some("terminated") {
            out.push(format!("instance {:?} ({state:?})", i.instance_id()));
        }
    }
    for k in ec2.describe_key_pairs().send().await.unwrap().key_pairs() {
        out.push(format!("key pair {:?}", k.key_name()));
    }
    for g in ec2
        .describe_security_groups()
        .send()
        .await
        .unwrap()
        .security_groups()
    {
        if g.group_name() != Some("default") {
            out.push(format!("security group {:?}", g.group_name()));
        }
    }
    for v in ec2.describe_volumes().send().await.unwrap().volumes() {
        out.push(format!("volume {:?} ({:?})", v.volume_id(), v.state()));
    }
    out
}

pub async fn assert_nothing_left(aws: &Aws) {
    for region in [REGION, "us-west-2"] {
        assert_eq!(
            leftovers(aws, region).await,
            Vec::<String>::new(),
            "strays in {region}"
        );
    }
}

/// Terminates every instance of `client` and checks that nothing is left.
pub async fn clean_up(aws: &Aws, client: &AwsClient) {
    for instance in client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap()
    {
        client.terminate_instance(&instance.cloud_id).await.unwrap();
    }
    assert_nothing_left(aws).await;
}
