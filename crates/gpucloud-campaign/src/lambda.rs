//! Lambda's entry: the fake, a credential pointed at the proxy, and what the fake holds.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gpucloud::lambda::{LambdaConfig, LambdaCredential};
use gpucloud::{CloudCredential, CreateInstanceAttrs};
use gpucloud_fakes::lambda::{FakeInstanceStatus, FakeLambda, FakeLambdaOptions};

use crate::{FakeInstanceView, FakeResource, FakeState, RunningFake, Target};

/// The region and type every campaign create asks for.
const REGION: &str = "us-west-1";
const INSTANCE_TYPE: &str = "gpu_1x_a10";

/// The tag Lambda's provider stores the RefID in (its persisted format, see the provider's
/// `SECURITY.md`), read here from the fake's own state.
const REF_ID_TAG: &str = "gpucloud-ref-id";

/// Lambda Cloud, against [`FakeLambda`].
#[derive(Debug, Clone, Copy)]
pub struct LambdaTarget;

#[async_trait]
impl Target for LambdaTarget {
    fn name(&self) -> &'static str {
        "lambda"
    }

    async fn start(&self) -> std::io::Result<Box<dyn RunningFake>> {
        let fake = FakeLambda::start(FakeLambdaOptions {
            boot_delay: Duration::from_millis(50),
            terminate_delay: Duration::from_millis(50),
            // Kept, so the keys terminated instances used still count as used.
            gone_after: Duration::from_secs(24 * 3600),
            ..FakeLambdaOptions::default()
        })
        .await?;
        fake.state()
            .set_capacity(REGION, INSTANCE_TYPE, u32::MAX / 2);
        Ok(Box::new(RunningLambda { fake }))
    }
}

struct RunningLambda {
    fake: FakeLambda,
}

#[async_trait]
impl RunningFake for RunningLambda {
    fn base_url(&self) -> String {
        self.fake.base_url()
    }

    fn credential(&self, base_url: &str) -> gpucloud::Result<Arc<dyn CloudCredential>> {
        Ok(Arc::new(LambdaCredential::new(config(
            &self.fake, base_url,
        ))?))
    }

    fn create_attrs(&self, ref_id: &str, public_key: &str) -> CreateInstanceAttrs {
        crate::create_attrs(REGION, INSTANCE_TYPE, ref_id, public_key)
    }

    fn inspect(&self) -> FakeState {
        let state = self.fake.state();
        let instances = state
            .instances()
            .into_iter()
            .map(|i| FakeInstanceView {
                ref_id: i
                    .tags
                    .iter()
                    .find(|t| t.key == REF_ID_TAG)
                    .map(|t| t.value.clone()),
                live: !matches!(
                    i.status,
                    FakeInstanceStatus::Terminating | FakeInstanceStatus::Terminated
                ),
                key_names: i.ssh_key_names,
                uses: i.firewall_rulesets,
                id: i.id,
            })
            .collect();
        let keys = state
            .ssh_keys()
            .into_iter()
            .map(|k| FakeResource {
                id: k.id,
                name: k.name,
            })
            .collect();
        let rulesets = state
            .firewall_rulesets()
            .into_iter()
            .map(|r| FakeResource {
                id: r.id,
                name: r.name,
            })
            .collect();
        FakeState {
            instances,
            keys,
            attachments: [("rulesets", rulesets)].into_iter().collect(),
        }
    }

    fn forget_terminated(&self) {
        let state = self.fake.state();
        let mut their_keys = HashSet::new();
        for instance in state.instances() {
            if matches!(
                instance.status,
                FakeInstanceStatus::Terminating | FakeInstanceStatus::Terminated
            ) {
                state.remove_instance(&instance.id);
                their_keys.extend(instance.ssh_key_names);
            }
        }
        // A key another instance still uses stays; a key no instance used at all is not
        // touched either, so the campaign still sees it as leaked.
        for instance in state.instances() {
            for name in &instance.ssh_key_names {
                their_keys.remove(name);
            }
        }
        for name in their_keys {
            state.remove_ssh_key(&name);
        }
    }

    async fn sweep(&self) -> gpucloud::Result<usize> {
        let credential = LambdaCredential::new(config(&self.fake, &self.fake.base_url()))?;
        credential.client("").sweep_orphaned_rulesets().await
    }
}

/// A configuration of the fake's account at `base_url`: client-side limits off, short
/// backoff, and no grace for orphaned rulesets (the campaign sweeps once, at the end).
fn config(fake: &FakeLambda, base_url: &str) -> LambdaConfig {
    LambdaConfig::new(fake.api_key())
        .with_base_url(base_url)
        .with_ref_id("campaign")
        .with_rate_limits(1_000_000.0, Duration::ZERO)
        .with_retry_backoff(Duration::from_millis(2))
        .with_request_timeout(Duration::from_secs(10))
        .with_orphan_ruleset_grace(Duration::ZERO)
}
