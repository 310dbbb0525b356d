//! AWS's entry: moto (not a fake of ours: `gpucloud_fakes::moto`) with the Price List /
//! Service Quotas stub, a credential whose EC2 endpoint is the proxy in front of moto, and
//! what moto holds, read from its state dump (`/moto-api/data.json`), never through EC2:
//! instances, key pairs and the security groups creates make.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gpucloud::aws::{AwsClient, AwsConfig, AwsCredential};
use gpucloud::{CloudCredential, CreateInstanceAttrs};
use gpucloud_fakes::aws_pricing::{FakeAwsPricing, FakeAwsPricingOptions};
use gpucloud_fakes::moto::MotoServer;
use serde_json::Value;

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
        Ok(Box::new(RunningAws {
            moto,
            stub,
            sweeper: std::sync::Mutex::new(None),
        }))
    }
}

struct RunningAws {
    moto: MotoServer,
    stub: FakeAwsPricing,
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

    /// moto's state dump.
    fn dump(&self) -> Value {
        let url = format!("{}/moto-api/data.json", self.moto.endpoint());
        let fetch = async move {
            reqwest::get(url).await.ok()?.json::<Value>().await.ok()
        };
        tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(fetch))
            .unwrap_or(Value::Null)
    }
}

/// The value of tag `key` in a resource of the dump.
fn tag<'a>(resource: &'a Value, key: &str) -> Option<&'a str> {
    resource
        .get("tag_list")?
        .as_array()?
        .iter()
        .find(|t| t.get("key").and_then(Value::as_str) == Some(key))?
        .get("value")?
        .as_str()
}

fn text<'a>(resource: &'a Value, key: &str) -> &'a str {
    resource.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn list<'a>(dump: &'a Value, kind: &str) -> impl Iterator<Item = &'a Value> {
    dump.get("ec2")
        .and_then(|e| e.get(kind))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
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

    fn inspect(&self) -> FakeState {
        let dump = self.dump();
        let groups: Vec<&Value> = list(&dump, "SecurityGroup")
            .filter(|g| text(g, "group_name").starts_with("gpucloud-"))
            .collect();
        let instances = list(&dump, "Instance")
            .map(|i| {
                let ref_id = tag(i, "gpucloud-ref-id").map(str::to_owned);
                let state = text(i, "state");
                // moto's dump does not name an instance's groups: a group carries the RefID
                // of the create that made it.
                let uses = groups
                    .iter()
                    .filter(|g| ref_id.is_some() && tag(g, "gpucloud-ref-id") == ref_id.as_deref())
                    .map(|g| text(g, "group_id").to_owned())
                    .collect();
                FakeInstanceView {
                    id: text(i, "id").to_owned(),
                    ref_id,
                    live: !matches!(state, "shutting-down" | "terminated"),
                    key_names: i
                        .get("key_name")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .into_iter()
                        .collect(),
                    uses,
                }
            })
            .collect();
        let keys = list(&dump, "KeyPair")
            .map(|k| FakeResource {
                id: text(k, "id").to_owned(),
                name: text(k, "key_name").to_owned(),
            })
            .collect();
        let groups = groups
            .iter()
            .map(|g| FakeResource {
                id: text(g, "group_id").to_owned(),
                name: text(g, "group_name").to_owned(),
            })
            .collect();
        FakeState {
            instances,
            keys,
            attachments: [("security groups", groups)].into_iter().collect(),
        }
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
