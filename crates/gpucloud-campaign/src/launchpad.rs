//! NVIDIA LaunchPad's entry: the fake broker, a credential pointed at the proxy, and what the
//! fake holds: deployments (a create makes nothing else: no key or firewall object).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gpucloud::launchpad::{LaunchpadConfig, LaunchpadCredential};
use gpucloud::{CloudCredential, CreateInstanceAttrs};
use gpucloud_fakes::launchpad::{FakeLaunchpad, FakeLaunchpadOptions, FakeState as DeploymentState};

use crate::{FakeInstanceView, FakeState, RunningFake, Target};

/// The offer (`<upstream cloud>_<gpu>x<count>`), its region and the location it maps to.
const OFFER: &str = "oci_a100x8";
const REGION: &str = "us-tx-1";
const LOCATION: &str = "us-south";

/// NVIDIA LaunchPad, against [`FakeLaunchpad`].
#[derive(Debug, Clone, Copy)]
pub struct LaunchpadTarget;

#[async_trait]
impl Target for LaunchpadTarget {
    fn name(&self) -> &'static str {
        "launchpad"
    }

    async fn start(&self) -> std::io::Result<Box<dyn RunningFake>> {
        let fake = FakeLaunchpad::start(FakeLaunchpadOptions {
            waiting_delay: Duration::from_millis(25),
            retry_delay: Duration::from_millis(25),
            destroying_delay: Duration::from_millis(25),
            ..FakeLaunchpadOptions::default()
        })
        .await?;
        fake.state()
            .set_capacity(REGION, "oci", "A100", 8, u32::MAX / 2);
        Ok(Box::new(RunningLaunchpad { fake }))
    }
}

struct RunningLaunchpad {
    fake: FakeLaunchpad,
}

#[async_trait]
impl RunningFake for RunningLaunchpad {
    fn base_url(&self) -> String {
        self.fake.base_url()
    }

    fn credential(&self, base_url: &str) -> gpucloud::Result<Arc<dyn CloudCredential>> {
        let config = LaunchpadConfig::new(self.fake.token())
            .with_base_url(base_url)
            .with_ref_id("campaign")
            .with_requester("campaign", "campaign@example.com")
            .with_retry_backoff(Duration::from_millis(2))
            .with_request_timeout(Duration::from_secs(10));
        Ok(Arc::new(LaunchpadCredential::new(config)?))
    }

    fn create_attrs(&self, ref_id: &str, public_key: &str) -> CreateInstanceAttrs {
        crate::create_attrs(LOCATION, OFFER, ref_id, public_key)
    }

    fn inspect(&self) -> FakeState {
        let instances = self
            .fake
            .state()
            .deployments()
            .into_iter()
            .map(|d| FakeInstanceView {
                ref_id: d
                    .tags
                    .get(gpucloud::bookkeeping::REF_ID_TAG)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
                live: !matches!(
                    d.state,
                    DeploymentState::Destroying | DeploymentState::Destroyed
                ),
                key_names: Vec::new(),
                uses: Vec::new(),
                id: d.id.to_string(),
            })
            .collect();
        FakeState {
            instances,
            ..FakeState::default()
        }
    }

    /// LaunchPad keeps destroyed deployments (and their request ids) for good, and a create
    /// makes no key to clean up: there is nothing to forget.
    fn forget_terminated(&self) {}
}
