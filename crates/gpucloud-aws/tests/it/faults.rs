//! Creates and terminates through the fault proxy in front of moto: every create either made
//! one instance the caller learned about, or (outcome unknown) at most one findable by its
//! RefID, or nothing; after cleanup with faults off nothing is left.

use std::collections::HashMap;

use gpucloud_core::{CloudClient, InstanceScope, ListInstancesArgs};
use gpucloud_fakes::proxy::{FaultProxy, FaultProxyOptions};

use crate::common::*;

#[tokio::test]
async fn faulty_creates_never_duplicate_or_leak() {
    let aws = aws().await;
    let mut options = FaultProxyOptions::new(aws.moto.endpoint(), 11);
    options.fault_rate = 0.25;
    options.retry_after_secs = 0;
    let proxy = FaultProxy::start(options).await.unwrap();
    let client = gpucloud_aws::AwsCredential::new(config_at(&aws, &proxy.base_url(), CRED))
        .unwrap()
        .client(REGION);
    let mut learned = HashMap::new();
    for n in 0..6 {
        let ref_id = format!("fault-{n}");
        if let Ok(instance) = client
            .create_instance(valid(&client, &attrs(&ref_id)))
            .await
        {
            learned.insert(ref_id, instance.cloud_id);
        }
    }
    assert!(proxy.counts().total() > 0, "{}", proxy.counts());
    proxy.set_enabled(false);
    let all = client
        .list_instances(&ListInstancesArgs {
            scope: InstanceScope::Account,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut per_ref: HashMap<&str, usize> = HashMap::new();
    for i in &all {
        *per_ref.entry(i.ref_id.as_str()).or_default() += 1;
    }
    assert!(per_ref.values().all(|n| *n == 1), "duplicates: {per_ref:?}");
    for (ref_id, id) in &learned {
        assert!(
            all.iter().any(|i| &i.cloud_id == id && &i.ref_id == ref_id),
            "{ref_id} ({id}) lost: {:?}",
            all.iter()
                .map(|i| (i.cloud_id.as_str(), i.ref_id.as_str(), i.lifecycle()))
                .collect::<Vec<_>>()
        );
    }
    for i in &all {
        client.terminate_instance(&i.cloud_id).await.unwrap();
    }
    client.sweep_orphaned_resources(REGION).await.unwrap();
    assert_nothing_left(&aws).await;
}
