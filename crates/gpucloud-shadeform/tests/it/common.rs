//! What the tests share: the fake, clients, create attributes and the "nothing left" checks.

use std::time::Duration;

use gpucloud_core::{
    CloudClient, CreateInstanceAttrs, InstanceId, LifecycleStatus, ListInstancesArgs,
};
use gpucloud_fakes::shadeform::{FakeShadeform, FakeShadeformOptions, FakeStatus};
use gpucloud_shadeform::{ShadeformClient, ShadeformConfig, ShadeformCredential};

pub const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T noname";
pub const OTHER_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl other";
pub const CRED: &str = "cred-test";
/// An offer of the fake: `hyperstack`'s A6000 in `canada-1` (location `ca-central`) and
/// `norway-1` (`eu-north`).
pub const A6000: &str = "hyperstack_A6000";

pub async fn fake() -> FakeShadeform {
    FakeShadeform::start(FakeShadeformOptions {
        creating_delay: Duration::from_millis(20),
        pending_provider_delay: Duration::from_millis(30),
        deleting_delay: Duration::from_millis(10),
        deleted_delay: Duration::from_millis(10),
        ..FakeShadeformOptions::default()
    })
    .await
    .expect("the fake starts")
}

pub fn config(fake: &FakeShadeform, ref_id: &str) -> ShadeformConfig {
    ShadeformConfig::new(fake.api_key())
        .with_base_url(fake.base_url())
        .with_ref_id(ref_id)
        .with_retry_backoff(Duration::from_millis(5))
}

pub fn client_as(fake: &FakeShadeform, ref_id: &str) -> ShadeformClient {
    ShadeformCredential::new(config(fake, ref_id))
        .unwrap()
        .client("")
}

pub fn client(fake: &FakeShadeform) -> ShadeformClient {
    client_as(fake, CRED)
}

pub fn attrs(ref_id: &str) -> CreateInstanceAttrs {
    CreateInstanceAttrs {
        location: "ca-central".into(),
        ref_id: ref_id.into(),
        name: format!("box {ref_id}"),
        public_key: PUBLIC_KEY.into(),
        instance_type: A6000.into(),
        ..CreateInstanceAttrs::default()
    }
}

/// Instances on the fake not on their way out.
pub fn live_instances(fake: &FakeShadeform) -> usize {
    fake.state()
        .instances()
        .iter()
        .filter(|i| !matches!(i.status, FakeStatus::Deleting | FakeStatus::Deleted))
        .count()
}

/// Keys on the fake besides the account's default one.
pub fn added_keys(fake: &FakeShadeform) -> Vec<String> {
    fake.state()
        .ssh_keys()
        .into_iter()
        .filter(|k| k.id != fake.state().default_key_id())
        .map(|k| k.name)
        .collect()
}

/// Fails unless the fake holds no instance at all once pending deletes have finished.
pub async fn assert_no_instances(fake: &FakeShadeform) {
    for _ in 0..200 {
        if fake.state().instances().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let left: Vec<String> = fake
        .state()
        .instances()
        .iter()
        .map(|i| format!("{} ({})", i.id, i.status.as_str()))
        .collect();
    panic!("stray instances left: {left:?}");
}

/// Fails unless the fake holds neither instances nor keys beyond the default one.
pub async fn assert_nothing_left(fake: &FakeShadeform) {
    assert_no_instances(fake).await;
    assert_eq!(added_keys(fake), Vec::<String>::new(), "stray SSH keys");
}

/// Terminates every instance of `client` and waits until the fake has none.
pub async fn clean_up(fake: &FakeShadeform, client: &ShadeformClient) {
    clean_up_all(fake, &[client]).await;
}

/// Terminates every instance of each client and waits until the fake has none.
pub async fn clean_up_all(fake: &FakeShadeform, clients: &[&ShadeformClient]) {
    fake.state().clear_faults();
    for client in clients {
        for instance in client
            .list_instances(&ListInstancesArgs::default())
            .await
            .unwrap()
        {
            client.terminate_instance(&instance.cloud_id).await.unwrap();
        }
    }
    assert_no_instances(fake).await;
}

pub async fn wait_for(client: &ShadeformClient, id: &InstanceId, want: LifecycleStatus) {
    for _ in 0..300 {
        if client.get_instance(id).await.unwrap().lifecycle() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{id} never became {want:?}");
}
