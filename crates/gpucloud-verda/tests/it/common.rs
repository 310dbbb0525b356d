//! What the tests share: the fake, clients, create attributes and the "nothing left" checks.

use std::time::Duration;

use gpucloud_core::{
    CloudClient, CreateInstanceAttrs, InstanceId, LifecycleStatus, ListInstancesArgs,
};
use gpucloud_fakes::verda::{FakeStatus, FakeVerda, FakeVerdaOptions};
use gpucloud_verda::{VerdaClient, VerdaConfig, VerdaCredential};

pub const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T noname";
pub const CRED: &str = "cred-test";
/// A type of the fake sold on demand and as spot in every location.
pub const A100: &str = "1A100.22V";
pub const LOCATION: &str = "FIN-01";

pub fn options() -> FakeVerdaOptions {
    FakeVerdaOptions {
        ordered_delay: Duration::from_millis(20),
        provisioning_delay: Duration::from_millis(30),
        shutdown_delay: Duration::from_millis(20),
        start_delay: Duration::from_millis(30),
        deleting_delay: Duration::from_millis(10),
        ..FakeVerdaOptions::default()
    }
}

pub async fn fake() -> FakeVerda {
    FakeVerda::start(options()).await.expect("the fake starts")
}

pub fn config(fake: &FakeVerda, ref_id: &str) -> VerdaConfig {
    VerdaConfig::new(fake.client_id(), fake.client_secret())
        .with_base_url(fake.base_url())
        .with_ref_id(ref_id)
        .with_retry_backoff(Duration::from_millis(5))
}

pub fn client_as(fake: &FakeVerda, ref_id: &str) -> VerdaClient {
    VerdaCredential::new(config(fake, ref_id))
        .unwrap()
        .client(LOCATION)
}

pub fn client(fake: &FakeVerda) -> VerdaClient {
    client_as(fake, CRED)
}

pub fn attrs(ref_id: &str) -> CreateInstanceAttrs {
    CreateInstanceAttrs {
        location: LOCATION.into(),
        ref_id: ref_id.into(),
        name: format!("box {ref_id}"),
        public_key: PUBLIC_KEY.into(),
        instance_type: A100.into(),
        ..CreateInstanceAttrs::default()
    }
}

/// Instances on the fake not on their way out.
pub fn live_instances(fake: &FakeVerda) -> usize {
    fake.state()
        .instances()
        .iter()
        .filter(|i| i.status != FakeStatus::Deleting)
        .count()
}

/// Fails unless the fake holds no instance once pending deletes have finished, and no SSH
/// key, startup script or volume (trash included).
pub async fn assert_nothing_left(fake: &FakeVerda) {
    for _ in 0..300 {
        if fake.state().instances().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let state = fake.state();
    let instances: Vec<String> = state
        .instances()
        .iter()
        .map(|i| format!("{} ({})", i.id, i.status.as_str()))
        .collect();
    assert_eq!(instances, Vec::<String>::new(), "stray instances");
    assert_eq!(state.ssh_keys(), Vec::new(), "stray SSH keys");
    assert_eq!(state.scripts(), Vec::new(), "stray startup scripts");
    assert_eq!(state.volumes(), Vec::new(), "stray volumes");
    assert_eq!(state.trashed_volumes(), Vec::new(), "volumes in the trash");
}

/// Terminates every instance of `client` and checks that nothing is left.
pub async fn clean_up(fake: &FakeVerda, client: &VerdaClient) {
    fake.state().clear_faults();
    for instance in client
        .list_instances(&ListInstancesArgs::default())
        .await
        .unwrap()
    {
        client.terminate_instance(&instance.cloud_id).await.unwrap();
    }
    assert_nothing_left(fake).await;
}

pub async fn wait_for(client: &VerdaClient, id: &InstanceId, want: LifecycleStatus) {
    for _ in 0..300 {
        if client.get_instance(id).await.unwrap().lifecycle() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{id} never became {want:?}");
}
