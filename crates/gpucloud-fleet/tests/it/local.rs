//! The engine against the local provider: real network namespaces and sshd on this machine
//! (root only; `scripts/test.sh` filters `local::` out elsewhere, and run by hand without root
//! it fails with the reason).

use std::sync::Arc;

use gpucloud_local::LocalCredential;
use gpucloud_local::testing::{TestHost, require_local_instances};

use crate::providers::{Provider, lifecycle};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_running_terminate_is_the_exact_event_sequence() {
    require_local_instances();
    let host = TestHost::new("gpucloud-fleet-it", 223, MARK).await;
    let credential = Arc::new(LocalCredential::new(host.config.clone()));
    // Every instance of the host has a directory under one parent, removed when it ends.
    let instances = host
        .client
        .instance_dir(&gpucloud::InstanceId::new("any"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .expect("an instances directory");
    let instance_type = host.attrs("", "").instance_type;
    let provider = Provider {
        name: "local",
        credential,
        location: gpucloud_local::LOCATION,
        instance_type,
        live: Box::new(move || {
            std::fs::read_dir(&instances)
                .map_or(0, |entries| entries.filter_map(Result::ok).count())
        }),
        _fake: Box::new(host),
    };
    assert_eq!(
        lifecycle(provider).await,
        vec![
            ev(None, "requested", "create_requested"),
            ev(Some("requested"), "launching", "create_sent"),
            ev(Some("launching"), "pending", "created"),
            ev(Some("pending"), "running", "observed"),
            ev(Some("running"), "terminating", "terminate_sent"),
            ev(Some("terminating"), "terminated", "terminate_confirmed"),
        ]
    );
}
