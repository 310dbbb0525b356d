//! What the tests share: the fake, clients, create attributes and the "nothing left" checks.

use std::time::Duration;

use gpucloud_core::{
    CloudClient, CreateInstanceAttrs, InstanceId, LifecycleStatus, ListInstancesArgs,
};
use gpucloud_fakes::launchpad::{FakeLaunchpad, FakeLaunchpadOptions};
use gpucloud_launchpad::{LaunchpadClient, LaunchpadConfig, LaunchpadCredential};

pub const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T noname";
pub const CRED: &str = "cred-test";
/// An offer of the fake: the DMZ's GH200 in `pdx` (location `us-west`).
pub const GH200: &str = "dmz_gh200x1";

pub async fn fake() -> FakeLaunchpad {
    FakeLaunchpad::start(FakeLaunchpadOptions {
        waiting_delay: Duration::from_millis(40),
        retry_delay: Duration::from_millis(40),
        destroying_delay: Duration::from_millis(20),
        ..FakeLaunchpadOptions::default()
    })
    .await
    .expect("the fake starts")
}

pub fn config(fake: &FakeLaunchpad, ref_id: &str) -> LaunchpadConfig {
    LaunchpadConfig::new(fake.token())
        .with_base_url(fake.base_url())
        .with_ref_id(ref_id)
        .with_requester("tests", "tests@example.com")
        .with_retry_backoff(Duration::from_millis(5))
}

pub fn client_as(fake: &FakeLaunchpad, ref_id: &str) -> LaunchpadClient {
    LaunchpadCredential::new(config(fake, ref_id))
        .unwrap()
        .client("")
}

pub fn client(fake: &FakeLaunchpad) -> LaunchpadClient {
    client_as(fake, CRED)
}

pub fn attrs(ref_id: &str) -> CreateInstanceAttrs {
    CreateInstanceAttrs {
        location: "us-west".into(),
        ref_id: ref_id.into(),
        name: format!("box {ref_id}"),
        public_key: PUBLIC_KEY.into(),
        instance_type: GH200.into(),
        ..CreateInstanceAttrs::default()
    }
}

/// Fails unless every deployment on the fake is destroyed (LaunchPad keeps destroyed ones).
pub async fn assert_nothing_left(fake: &FakeLaunchpad) {
    for _ in 0..300 {
        if fake
            .state()
            .deployments()
            .iter()
            .all(|d| d.state == gpucloud_fakes::launchpad::FakeState::Destroyed)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let left: Vec<String> = fake
        .state()
        .deployments()
        .iter()
        .map(|d| format!("{} ({})", d.id, d.state.as_str()))
        .collect();
    panic!("deployments left: {left:?}");
}

/// Terminates every instance of `client` and waits until the fake has none left.
pub async fn clean_up(fake: &FakeLaunchpad, client: &LaunchpadClient) {
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

pub async fn wait_for(client: &LaunchpadClient, id: &InstanceId, want: LifecycleStatus) {
    for _ in 0..500 {
        if client.get_instance(id).await.unwrap().lifecycle() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{id} never became {want:?}");
}
