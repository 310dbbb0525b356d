//! A new client settles what crashed processes and outside hands left behind.

use std::time::Duration;

use gpucloud_core::{
    CloudClient, CloudClientExt, ErrorKind, InstanceId, LifecycleStatus, ListInstancesArgs,
};
use gpucloud_local::LocalClient;

use crate::support::{
    assert_bridge_gone, assert_gone, fixture, processes_mentioning, require_local_instances,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_removes_orphans_and_fails_records_without_a_namespace() {
    require_local_instances();
    let f = fixture().await;
    let orphan = gpucloud_core::validate_and_create(&f.client, &f.attrs("ref-orphan", "orphan"))
        .await
        .expect("create orphan");
    let lost = gpucloud_core::validate_and_create(&f.client, &f.attrs("ref-lost", "lost"))
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
    assert_bridge_gone(&fresh);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_cut_short_at_any_point_are_listed_and_terminate_removes_them() {
    require_local_instances();
    let f = fixture().await;
    // Dropping the create future releases its locks like a killed process would.
    for (i, delay_ms) in [0_u64, 1, 3, 6, 10, 20, 40, 80].into_iter().enumerate() {
        let attrs = f.attrs(&format!("ref-cut-{i}"), &format!("cut-{i}"));
        let _ = tokio::time::timeout(
            Duration::from_millis(delay_ms),
            gpucloud_core::validate_and_create(&f.client, &attrs),
        )
        .await;
    }
    gpucloud_core::validate_and_create(&f.client, &f.attrs("ref-whole", "whole"))
        .await
        .expect("an uninterrupted create");
    // Give cancelled blocking work (lock acquisitions) time to finish.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let listed = f
        .client
        .list_instances(&ListInstancesArgs::default())
        .await
        .expect("list");
    assert!(listed.iter().any(|i| i.name == "whole"));
    for instance in &listed {
        assert!(
            matches!(
                instance.lifecycle(),
                LifecycleStatus::Failed | LifecycleStatus::Pending | LifecycleStatus::Running
            ),
            "{}: {:?}",
            instance.cloud_id,
            instance.status
        );
    }
    // A new client (another process) sees the same instances and settles interrupted creates.
    let fresh = LocalClient::new(f.config.clone())
        .await
        .expect("reconciling client");
    let relisted = fresh
        .list_instances(&ListInstancesArgs::default())
        .await
        .expect("list");
    assert_eq!(relisted.len(), listed.len());
    for instance in &relisted {
        fresh
            .terminate_instance(&instance.cloud_id)
            .await
            .expect("terminate");
        assert_gone(&f, &instance.cloud_id);
    }
    let prefix = {
        let probe = fresh.namespace_name(&InstanceId::new("local-000000000000"));
        probe.trim_end_matches("000000000000").to_owned()
    };
    let left: Vec<String> = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
    assert!(
        processes_mentioning(&f.config.state_dir).is_empty(),
        "processes left behind"
    );
    assert!(
        fresh
            .list_instances(&ListInstancesArgs::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert_bridge_gone(&fresh);
}
