//! Fluidstack's entry: the fake, a credential pointed at the proxy, and what the fake holds.
//! Fluidstack has no key or firewall API (the bootstrap carries both in the user data), so the
//! fake holds instances only.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gpucloud::fluidstack::{FluidstackConfig, FluidstackCredential};
use gpucloud::{CloudCredential, CreateInstanceAttrs};
use gpucloud_fakes::fluidstack::{FakeFluidstack, FakeFluidstackOptions, FakeInstanceState};

use crate::{FakeInstanceView, FakeState, RunningFake, Target};

/// The region and type every campaign create asks for.
const REGION: &str = "us-east-1";
const INSTANCE_TYPE: &str = "h100-hgx-80gb.1x";

/// The tag the provider stores the RefID in (core's bookkeeping codec).
const REF_ID_TAG: &str = gpucloud::bookkeeping::REF_ID_TAG;

/// Fluidstack, against [`FakeFluidstack`].
#[derive(Debug, Clone, Copy)]
pub struct FluidstackTarget;

#[async_trait]
impl Target for FluidstackTarget {
    fn name(&self) -> &'static str {
        "fluidstack"
    }

    async fn start(&self) -> std::io::Result<Box<dyn RunningFake>> {
        let fake = FakeFluidstack::start(FakeFluidstackOptions {
            regions: vec![REGION.to_owned()],
            create_delay: Duration::from_millis(50),
            start_delay: Duration::from_millis(50),
            stop_delay: Duration::from_millis(50),
            // Kept `deleting`, so the inspector still sees terminated instances.
            delete_delay: Duration::from_secs(24 * 3600),
            ..FakeFluidstackOptions::default()
        })
        .await?;
        fake.state()
            .set_capacity(REGION, INSTANCE_TYPE, u32::MAX / 2);
        Ok(Box::new(RunningFluidstack { fake }))
    }
}

struct RunningFluidstack {
    fake: FakeFluidstack,
}

#[async_trait]
impl RunningFake for RunningFluidstack {
    /// The server root: every region's API lives under it (`/<region>/api/v1alpha1`).
    fn base_url(&self) -> String {
        self.fake.root_url()
    }

    fn credential(&self, base_url: &str) -> gpucloud::Result<Arc<dyn CloudCredential>> {
        let config = FluidstackConfig::new(self.fake.api_key(), self.fake.project_id().to_string())
            .with_regions([REGION])
            .with_base_url(format!(
                "{}/{{region}}/api/v1alpha1",
                base_url.trim_end_matches('/')
            ))
            .with_ref_id("campaign")
            .with_retry_backoff(Duration::from_millis(2))
            .with_capacity_wait(Duration::from_secs(5), Duration::from_millis(20));
        Ok(Arc::new(FluidstackCredential::new(config)?))
    }

    fn create_attrs(&self, ref_id: &str, public_key: &str) -> CreateInstanceAttrs {
        crate::create_attrs(REGION, INSTANCE_TYPE, ref_id, public_key)
    }

    fn inspect(&self) -> FakeState {
        let instances = self
            .fake
            .state()
            .instances()
            .into_iter()
            .map(|i| FakeInstanceView {
                ref_id: i.tags.get(REF_ID_TAG).cloned(),
                live: !matches!(
                    i.state,
                    FakeInstanceState::Deleting | FakeInstanceState::OutOfStock
                ),
                key_names: Vec::new(),
                uses: Vec::new(),
                id: i.id.to_string(),
            })
            .collect();
        FakeState {
            instances,
            ..FakeState::default()
        }
    }

    fn forget_terminated(&self) {
        let state = self.fake.state();
        for instance in state.instances() {
            if instance.state == FakeInstanceState::Deleting {
                state.remove_instance(instance.id);
            }
        }
    }
}
