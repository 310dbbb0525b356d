//! Verda's entry: the fake, a credential pointed at the proxy, and what the fake holds:
//! instances, the account's SSH keys, and the startup scripts and OS volumes creates make
//! (volumes in the trash count too: they are still billed).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gpucloud::verda::{VerdaConfig, VerdaCredential};
use gpucloud::{CloudCredential, CreateInstanceAttrs};
use gpucloud_fakes::verda::{FakeStatus, FakeVerda, FakeVerdaOptions};

use crate::{FakeInstanceView, FakeResource, FakeState, RunningFake, Target};

const LOCATION: &str = "FIN-01";
const INSTANCE_TYPE: &str = "1A100.22V";

/// Verda, against [`FakeVerda`].
#[derive(Debug, Clone, Copy)]
pub struct VerdaTarget;

#[async_trait]
impl Target for VerdaTarget {
    fn name(&self) -> &'static str {
        "verda"
    }

    async fn start(&self) -> std::io::Result<Box<dyn RunningFake>> {
        let fake = FakeVerda::start(FakeVerdaOptions {
            ordered_delay: Duration::from_millis(25),
            provisioning_delay: Duration::from_millis(25),
            // Kept `deleting`, so the inspector still sees terminated instances.
            deleting_delay: Duration::from_secs(24 * 3600),
            ..FakeVerdaOptions::default()
        })
        .await?;
        fake.state()
            .set_capacity(LOCATION, INSTANCE_TYPE, false, u32::MAX / 2);
        Ok(Box::new(RunningVerda { fake }))
    }
}

struct RunningVerda {
    fake: FakeVerda,
}

#[async_trait]
impl RunningFake for RunningVerda {
    fn base_url(&self) -> String {
        self.fake.base_url()
    }

    fn credential(&self, base_url: &str) -> gpucloud::Result<Arc<dyn CloudCredential>> {
        let config = VerdaConfig::new(self.fake.client_id(), self.fake.client_secret())
            .with_base_url(base_url)
            .with_ref_id("campaign")
            .with_retry_backoff(Duration::from_millis(2))
            .with_request_timeout(Duration::from_secs(10));
        Ok(Arc::new(VerdaCredential::new(config)?))
    }

    fn create_attrs(&self, ref_id: &str, public_key: &str) -> CreateInstanceAttrs {
        crate::create_attrs(LOCATION, INSTANCE_TYPE, ref_id, public_key)
    }

    fn inspect(&self) -> FakeState {
        let state = self.fake.state();
        let instances = state
            .instances()
            .into_iter()
            .map(|i| FakeInstanceView {
                ref_id: ref_id_of(&i.description),
                live: i.status != FakeStatus::Deleting,
                // Keys by id: Verda instances name theirs by id.
                key_names: i.ssh_key_ids.clone(),
                uses: i
                    .startup_script_id
                    .iter()
                    .chain(i.os_volume_id.iter())
                    .cloned()
                    .collect(),
                id: i.id.to_string(),
            })
            .collect();
        let by_id = |id: String| FakeResource {
            name: id.clone(),
            id,
        };
        let keys = state
            .ssh_keys()
            .into_iter()
            .map(|k| by_id(k.id.to_string()))
            .collect();
        let scripts = state
            .scripts()
            .into_iter()
            .map(|s| by_id(s.id.to_string()))
            .collect();
        let volumes = state
            .volumes()
            .into_iter()
            .chain(state.trashed_volumes())
            .map(|v| by_id(v.id.to_string()))
            .collect();
        FakeState {
            instances,
            keys,
            attachments: [("scripts", scripts), ("volumes", volumes)]
                .into_iter()
                .collect(),
        }
    }

    fn forget_terminated(&self) {
        let state = self.fake.state();
        let mut theirs = HashSet::new();
        for instance in state.instances() {
            if instance.status == FakeStatus::Deleting {
                state.remove_instance(&instance.id.to_string());
                theirs.extend(instance.ssh_key_ids);
                theirs.extend(instance.startup_script_id);
            }
        }
        // What another instance still uses stays; what no instance used at all is not
        // touched either, so the campaign still sees it as leaked.
        for instance in state.instances() {
            for id in instance
                .ssh_key_ids
                .iter()
                .chain(&instance.startup_script_id)
            {
                theirs.remove(id);
            }
        }
        for key in state.ssh_keys() {
            if theirs.contains(&key.id.to_string()) {
                state.remove_ssh_key(key.id);
            }
        }
        for script in state.scripts() {
            if theirs.contains(&script.id.to_string()) {
                state.remove_script(script.id);
            }
        }
    }
}

/// The RefID a description written by the provider carries (`gpucloud:<RefID>/<credential>`,
/// `%` and `/` escaped).
fn ref_id_of(description: &str) -> Option<String> {
    let rest = description.strip_prefix("gpucloud:")?;
    let (ref_id, _) = rest.split_once('/')?;
    Some(ref_id.replace("%2F", "/").replace("%25", "%"))
}
