//! A new client settles what crashed processes and outside hands left behind.

use gpucloud_core::{CloudClient, CloudClientExt, ErrorKind, LifecycleStatus};
use gpucloud_local::LocalClient;

use crate::support::{assert_gone, can_run, fixture};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_removes_orphans_and_fails_records_without_a_namespace() {
    if !can_run() {
        return;
    }
    let f = fixture().await;
    let orphan = f
        .client
        .create_instance(f.attrs("ref-orphan", "orphan"))
        .await
        .expect("create orphan");
    let lost = f
        .client
        .create_instance(f.attrs("ref-lost", "lost"))
        .await
        .expect("create lost");
    f.wait(&orphan.cloud_id, LifecycleStatus::Running).await;
    f.wait(&lost.cloud_id, LifecycleStatus::Running).await;

    // The orphan loses its record; the other loses its namespace (as after a host reboot).
    std::fs::remove_dir_all(f.client.instance_dir(&orphan.cloud_id)).unwrap();
    f.client
        .stop_start()
        .unwrap()
        .stop_instance(&lost.cloud_id)
        .await
        .expect("stop");
    let ns = f.client.namespace_name(&lost.cloud_id);
    let status = std::process::Command::new("ip")
        .args(["netns", "del", &ns])
        .status()
        .unwrap();
    assert!(status.success());

    let fresh = LocalClient::new(f.config.clone())
        .await
        .expect("reconciling client");
    assert_gone(&f, &orphan.cloud_id);
    let failed = fresh
        .get_instance(&lost.cloud_id)
        .await
        .expect("still listed");
    assert_eq!(failed.lifecycle(), LifecycleStatus::Failed);
    assert!(
        failed
            .status
            .messages
            .iter()
            .any(|m| m.contains("no longer exists")),
        "{:?}",
        failed.status.messages
    );
    let start = fresh
        .stop_start()
        .unwrap()
        .start_instance(&lost.cloud_id)
        .await
        .unwrap_err();
    assert_eq!(start.kind(), ErrorKind::Conflict);
    fresh
        .terminate_instance(&lost.cloud_id)
        .await
        .expect("terminate the failed instance");
    assert_gone(&f, &lost.cloud_id);
    assert!(
        !std::path::Path::new("/sys/class/net")
            .join(fresh.bridge_name())
            .exists(),
        "bridge left behind"
    );
}
