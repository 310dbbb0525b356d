//! AWS's entry: moto (not a fake of ours: `gpucloud_fakes::moto`) with the Price List /
//! Service Quotas stub, a credential whose EC2 endpoint is the proxy in front of moto, and
//! what moto holds: instances, key pairs and the security groups creates make, read with the
//! plain SDK straight from moto (never through the proxy or the provider).
//!
//! Not from moto's state dump (`/moto-api/data.json`): it lists every object moto ever
//! constructed, deleted ones included (its model registry only grows), so a group or key pair
//! the provider had deleted still showed there and counted as a stray that no sweep could
//! remove.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::types::Tag;
use gpucloud::aws::{AwsClient, AwsConfig, AwsCredential};
use gpucloud::{CloudCredential, CreateInstanceAttrs};
use gpucloud_fakes::aws_pricing::{FakeAwsPricing, FakeAwsPricingOptions};
use gpucloud_fakes::moto::MotoServer;

use crate::{FakeInstanceView, FakeResource, FakeState, RunningFake, Target};

const REGION: &str = "us-east-1";
const INSTANCE_TYPE: &str = "g5.xlarge";
/// An image moto serves in every region (its images are fake).
const IMAGE: &str = "ubuntu/images/hvm-ssd/ubuntu-xenial-16.04-amd64-server-*";

/// AWS, against moto.
#[derive(Debug, Clone, Copy)]
pub struct AwsTarget;

#[async_trait]
impl Target for AwsTarget {
    fn name(&self) -> &'static str {
        "aws"
    }

    async fn start(&self) -> std::io::Result<Box<dyn RunningFake>> {
        let moto = MotoServer::start().await.map_err(std::io::Error::other)?;
        let stub = FakeAwsPricing::start(FakeAwsPricingOptions::default()).await?;
        let ec2 = raw_ec2(&moto.endpoint());
        Ok(Box::new(RunningAws {
            moto,
            stub,
            ec2,
            sweeper: std::sync::Mutex::new(None),
        }))
    }
}

struct RunningAws {
    moto: MotoServer,
    stub: FakeAwsPricing,
    /// The plain SDK straight to moto, for [`RunningFake::inspect`].
    ec2: aws_sdk_ec2::Client,
    /// A client of the campaign's credential straight to moto, for the sweep.
    sweeper: std::sync::Mutex<Option<AwsClient>>,
}

impl RunningAws {
    fn config(&self, endpoint: &str) -> AwsConfig {
        AwsConfig::new(REGION)
            .with_regions([REGION])
            .with_static_credentials("AKIAMOTO", "moto-secret")
            .with_endpoint_url(endpoint)
            .with_pricing_endpoint_url(self.stub.base_url())
            .with_quotas_endpoint_url(self.stub.base_url())
            .with_default_image(IMAGE)
            .with_ref_id("campaign")
            .with_retry_backoff(Duration::from_millis(2))
            .with_request_timeout(Duration::from_secs(10))
            .with_sweep_grace(Duration::ZERO)
    }

    /// What moto holds in the campaign's region, read with the plain SDK.
    async fn read(&self) -> Result<FakeState, String> {
        let ec2 = &self.ec2;
        let mut instances = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = ec2
                .describe_instances()
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| format!("DescribeInstances: {e:?}"))?;
            for i in page.reservations().iter().flat_map(aws_sdk_ec2::types::Reservation::instances) {
                let state = i.state().and_then(|s| s.name()).map(aws_sdk_ec2::types::InstanceStateName::as_str);
                instances.push(FakeInstanceView {
                    id: i.instance_id().unwrap_or_default().to_owned(),
                    ref_id: tag(i.tags(), "gpucloud-ref-id").map(str::to_owned),
                    live: !matches!(state, Some("shutting-down" | "terminated")),
                    key_names: i.key_name().map(str::to_owned).into_iter().collect(),
                    uses: i
                        .security_groups()
                        .iter()
                        .filter_map(|g| g.group_id().map(str::to_owned))
                        .collect(),
                });
            }
            token = page.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let keys = ec2
            .describe_key_pairs()
            .send()
            .await
            .map_err(|e| format!("DescribeKeyPairs: {e:?}"))?
            .key_pairs()
            .iter()
            .map(|k| FakeResource {
                id: k.key_pair_id().unwrap_or_default().to_owned(),
                name: k.key_name().unwrap_or_default().to_owned(),
            })
            .collect();
        let groups = ec2
            .describe_security_groups()
            .send()
            .await
            .map_err(|e| format!("DescribeSecurityGroups: {e:?}"))?
            .security_groups()
            .iter()
            .filter(|g| g.group_name().is_some_and(|n| n.starts_with("gpucloud-")))
            .map(|g| FakeResource {
                id: g.group_id().unwrap_or_default().to_owned(),
                name: g.group_name().unwrap_or_default().to_owned(),
            })
            .collect();
        Ok(FakeState {
            instances,
            keys,
            attachments: [("security groups", groups)].into_iter().collect(),
        })
    }
}

/// The plain SDK against moto at `endpoint`, in the campaign's region, without retries: moto
/// answers it directly, with faults nowhere on the way.
fn raw_ec2(endpoint: &str) -> aws_sdk_ec2::Client {
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            "AKIAMOTO",
            "moto-secret",
            None,
            None,
            "campaign",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}

/// The value of tag `key`.
fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(Tag::value)
}

#[async_trait]
impl RunningFake for RunningAws {
    fn base_url(&self) -> String {
        self.moto.endpoint()
    }

    fn credential(&self, base_url: &str) -> gpucloud::Result<Arc<dyn CloudCredential>> {
        Ok(Arc::new(AwsCredential::new(self.config(base_url))?))
    }

    fn create_attrs(&self, ref_id: &str, public_key: &str) -> CreateInstanceAttrs {
        crate::create_attrs(REGION, INSTANCE_TYPE, ref_id, public_key)
    }

    /// # Panics
    ///
    /// When moto cannot be read (with faults off, on loopback): an empty state would hide
    /// every leak.
    fn inspect(&self) -> FakeState {
        let read = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(self.read())
        });
        read.unwrap_or_else(|e| panic!("moto's state cannot be read: {e}"))
    }

    /// Nothing to do: EC2 keeps terminated instances listed as `terminated` (lists filter
    /// them out by state), and terminate deletes the key pair once no instance uses it.
    fn forget_terminated(&self) {}

    async fn sweep(&self) -> gpucloud::Result<usize> {
        let client = {
            let mut sweeper = self
                .sweeper
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(client) = &*sweeper {
                client.clone()
            } else {
                let client =
                    AwsCredential::new(self.config(&self.moto.endpoint()))?.client(REGION);
                *sweeper = Some(client.clone());
                client
            }
        };
        client.sweep_orphaned_resources(REGION).await
    }
}
