//! Shadeform's entry: the fake marketplace, a credential pointed at the proxy, and what the
//! fake holds: instances and the account's SSH keys (the firewall is in the launch script, so
//! there is nothing else a create makes).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gpucloud::shadeform::{ShadeformConfig, ShadeformCredential};
use gpucloud::{CloudCredential, CreateInstanceAttrs};
use gpucloud_fakes::shadeform::{FakeShadeform, FakeShadeformOptions, FakeStatus};

use crate::{FakeInstanceView, FakeResource, FakeState, RunningFake, Target};

/// The offer (`<upstream cloud>_<shade type>`), its upstream region and the gpucloud location
/// that region maps to.
const OFFER: &str = "hyperstack_A6000";
const UPSTREAM_REGION: &str = "canada-1";
const LOCATION: &str = "ca-central";

/// The tag prefix the provider stores the RefID under (core's bookkeeping codec, as
/// `key=value` strings).
const REF_ID_TAG: &str = gpucloud::bookkeeping::REF_ID_TAG;

/// Shadeform, against [`FakeShadeform`].
#[derive(Debug, Clone, Copy)]
pub struct ShadeformTarget;

#[async_trait]
impl Target for ShadeformTarget {
    fn name(&self) -> &'static str {
        "shadeform"
    }

    async fn start(&self) -> std::io::Result<Box<dyn RunningFake>> {
        let fake = FakeShadeform::start(FakeShadeformOptions {
            creating_delay: Duration::from_millis(25),
            pending_provider_delay: Duration::from_millis(25),
            // Kept `deleting`, so the inspector still sees terminated instances.
            deleting_delay: Duration::from_secs(24 * 3600),
            ..FakeShadeformOptions::default()
        })
        .await?;
        fake.state()
            .set_capacity(UPSTREAM_REGION, OFFER, u32::MAX / 2);
        Ok(Box::new(RunningShadeform { fake }))
    }
}

struct RunningShadeform {
    fake: FakeShadeform,
}

#[async_trait]
impl RunningFake for RunningShadeform {
    fn base_url(&self) -> String {
        self.fake.base_url()
    }

    fn credential(&self, base_url: &str) -> gpucloud::Result<Arc<dyn CloudCredential>> {
        let config = ShadeformConfig::new(self.fake.api_key())
            .with_base_url(base_url)
            .with_ref_id("campaign")
            .with_retry_backoff(Duration::from_millis(2))
            .with_request_timeout(Duration::from_secs(10));
        Ok(Arc::new(ShadeformCredential::new(config)?))
    }

    fn create_attrs(&self, ref_id: &str, public_key: &str) -> CreateInstanceAttrs {
        crate::create_attrs(LOCATION, OFFER, ref_id, public_key)
    }

    fn inspect(&self) -> FakeState {
        let state = self.fake.state();
        let default_key = state.default_key_id().to_string();
        let keys: Vec<FakeResource> = state
            .ssh_keys()
            .into_iter()
            .filter(|k| k.id.to_string() != default_key)
            .map(|k| FakeResource {
                id: k.id.to_string(),
                name: k.id.to_string(),
            })
            .collect();
        let instances = state
            .instances()
            .into_iter()
            .map(|i| FakeInstanceView {
                ref_id: ref_id_of(&i.tags),
                live: !matches!(i.status, FakeStatus::Deleting | FakeStatus::Deleted),
                // Keys by id: Shadeform instances name theirs by id.
                key_names: vec![i.ssh_key_id.clone()],
                uses: Vec::new(),
                id: i.id.to_string(),
            })
            .collect();
        FakeState {
            instances,
            keys,
            ..FakeState::default()
        }
    }

    fn forget_terminated(&self) {
        let state = self.fake.state();
        let mut their_keys = HashSet::new();
        for instance in state.instances() {
            if matches!(instance.status, FakeStatus::Deleting | FakeStatus::Deleted) {
                state.remove_instance(instance.id);
                their_keys.insert(instance.ssh_key_id);
            }
        }
        // A key another instance still uses stays, and so does the account's default key; a
        // key no instance used at all is not touched, so the campaign still sees it as leaked.
        their_keys.remove(&state.default_key_id().to_string());
        for instance in state.instances() {
            their_keys.remove(&instance.ssh_key_id);
        }
        for key in state.ssh_keys() {
            if their_keys.contains(&key.id.to_string()) {
                state.remove_ssh_key(key.id);
            }
        }
    }
}

/// The RefID among Shadeform's `key=value` tags.
fn ref_id_of(tags: &[String]) -> Option<String> {
    tags.iter()
        .filter_map(|t| t.split_once('='))
        .find(|(k, _)| *k == REF_ID_TAG)
        .map(|(_, v)| v.to_owned())
}
