//! The provider against raw tonic calls of the same RPCs on the same fake, over the same
//! channel and token: get and list (target: within 1.10×), a list of 10,000 instances in
//! pages of 1,000 (time beyond the transfer, and peak memory; targets < 50 ms, < 50 MB), and
//! the token exchange amortized over every call.
//!
//! `cargo bench -p gpucloud-nebius` prints the figures; the README keeps the last ones.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gpucloud_core::{
    CloudClient, CreateInstanceAttrs, InstanceId, ListInstancesArgs, validate_create,
};
use gpucloud_fakes::nebius::{FakeNebius, FakeNebiusOptions};
use gpucloud_nebius::{NebiusConfig, NebiusCredential};
use gpucloud_nebius_proto::compute::v1 as compute;
use gpucloud_nebius_proto::vpc::v1 as vpc;
use peak_alloc::PeakAlloc;

/// Counts heap bytes and their peak, so the list's memory is measured, not guessed.
#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl bench";
const REF_ID: &str = "bench-cred";
const LISTED: usize = 10_000;

/// The median of `n` timings of `f`, after a warm-up.
async fn median<F, Fut>(n: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..=(n / 10) {
        f().await;
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        f().await;
        times.push(start.elapsed());
    }
    times.sort();
    times[n / 2]
}

#[allow(clippy::cast_precision_loss)]
fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Timings per get figure.
const N: usize = 400;
/// Timings per list figure.
const M: usize = 15;

#[allow(clippy::too_many_lines)]
async fn run() {
    let fake =
        FakeNebius::start(FakeNebiusOptions::default().with_delays(Duration::from_millis(1)))
            .await
            .expect("the fake starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("credentials.json");
    fake.write_credentials_file(&path)
        .expect("the credentials file");
    let config = NebiusConfig::from_credentials_file(&path)
        .expect("the fake's credentials")
        .with_tenant(fake.tenant_id())
        .with_api_endpoint(fake.endpoint())
        .with_operation_wait(Duration::from_secs(30), Duration::from_millis(2))
        .with_ref_id(REF_ID);
    let credential = NebiusCredential::new(config).expect("a valid configuration");
    let client = credential.client("");

    // An instance made by the provider (with its security group), and one seeded without.
    let attrs = CreateInstanceAttrs {
        ref_id: "bench-1".into(),
        name: "bench".into(),
        instance_type: "gpu-h100-sxm.1gpu-16vcpu-200gb".into(),
        location: "eu-north1".into(),
        public_key: KEY.into(),
        ..CreateInstanceAttrs::default()
    };
    let created = client
        .create_instance(validate_create(&attrs, &client.create_features()).expect("valid"))
        .await
        .expect("the create");
    let labels: BTreeMap<String, String> = [
        ("gpucloud-ref-id".to_owned(), "seeded".to_owned()),
        ("gpucloud-cred-ref-id".to_owned(), REF_ID.to_owned()),
    ]
    .into();
    let seeded = fake
        .state()
        .seed_running_instances("eu-north1", "cpu-d3", "2vcpu-8gb", 1, &labels)
        .expect("seeded")
        .remove(0);

    let (channel, auth) = credential
        .raw_compute()
        .await
        .expect("a channel and a token");
    let raw_get = |id: String| {
        let channel = channel.clone();
        let auth = auth.clone();
        async move {
            let mut request = tonic::Request::new(compute::GetInstanceRequest { id });
            request.metadata_mut().insert("authorization", auth);
            compute::instance_service_client::InstanceServiceClient::new(channel)
                .get(request)
                .await
                .expect("a raw get")
                .into_inner()
        }
    };
    let raw_rules = |group: String| {
        let channel = channel.clone();
        let auth = auth.clone();
        async move {
            let mut request = tonic::Request::new(vpc::ListSecurityRulesRequest {
                parent_id: group,
                page_size: 1000,
                page_token: String::new(),
            });
            request.metadata_mut().insert("authorization", auth);
            vpc::security_rule_service_client::SecurityRuleServiceClient::new(channel)
                .list(request)
                .await
                .expect("a raw rule list")
                .into_inner()
        }
    };

    let seeded_id = InstanceId::new(seeded.clone());
    let provider_get = median(N, || async {
        client.get_instance(&seeded_id).await.expect("get");
    })
    .await;
    let raw = median(N, || async {
        raw_get(seeded.clone()).await;
    })
    .await;
    println!(
        "get (no security group, 1 RPC): provider {:.3} ms, raw tonic {:.3} ms, ratio {:.2}x",
        ms(provider_get),
        ms(raw),
        provider_get.as_secs_f64() / raw.as_secs_f64()
    );
    let group = raw_get(created.cloud_id.as_str().to_owned())
        .await
        .spec
        .and_then(|s| s.network_interfaces.into_iter().next())
        .and_then(|n| n.security_groups.into_iter().next())
        .map(|g| g.id)
        .expect("the created instance's group");
    let provider_get = median(N, || async {
        client.get_instance(&created.cloud_id).await.expect("get");
    })
    .await;
    let raw = median(N, || async {
        raw_get(created.cloud_id.as_str().to_owned()).await;
        raw_rules(group.clone()).await;
    })
    .await;
    println!(
        "get (with its security group's rules, 2 RPCs): provider {:.3} ms, raw tonic {:.3} ms, ratio {:.2}x",
        ms(provider_get),
        ms(raw),
        provider_get.as_secs_f64() / raw.as_secs_f64()
    );

    // 10,000 instances of this credential in one region, listed in pages of 1,000.
    fake.state()
        .seed_running_instances("eu-north1", "cpu-d3", "2vcpu-8gb", LISTED - 2, &labels)
        .expect("seeded");
    let projects: Vec<String> = fake
        .regions()
        .iter()
        .filter_map(|r| fake.project_id(r))
        .collect();
    let raw_list = || {
        let channel = channel.clone();
        let auth = auth.clone();
        let projects = projects.clone();
        async move {
            let mut count = 0;
            for project in projects {
                let mut token = String::new();
                loop {
                    let mut request = tonic::Request::new(compute::ListInstancesRequest {
                        parent_id: project.clone(),
                        page_size: 1000,
                        page_token: token.clone(),
                    });
                    request.metadata_mut().insert("authorization", auth.clone());
                    let page = compute::instance_service_client::InstanceServiceClient::new(
                        channel.clone(),
                    )
                    .list(request)
                    .await
                    .expect("a raw list")
                    .into_inner();
                    count += page.items.len();
                    if page.next_page_token.is_empty() {
                        break;
                    }
                    token = page.next_page_token;
                }
            }
            count
        }
    };
    assert_eq!(raw_list().await, LISTED);
    let raw = median(M, || async {
        raw_list().await;
    })
    .await;
    let provider = median(M, || async {
        let listed = client
            .list_instances(&ListInstancesArgs::default())
            .await
            .expect("list");
        assert_eq!(listed.len(), LISTED);
    })
    .await;
    let before = ALLOC.current_usage();
    ALLOC.reset_peak_usage();
    let listed = client
        .list_instances(&ListInstancesArgs::default())
        .await
        .expect("list");
    let peak = ALLOC.peak_usage().saturating_sub(before);
    let kept = ALLOC.current_usage().saturating_sub(before);
    drop(listed);
    let before = ALLOC.current_usage();
    ALLOC.reset_peak_usage();
    raw_list().await;
    let raw_peak = ALLOC.peak_usage().saturating_sub(before);
    println!(
        "list {LISTED} instances (10 pages of 1000): provider {:.1} ms, raw tonic {:.1} ms, ratio {:.2}x, \
         beyond the transfer {:.1} ms",
        ms(provider),
        ms(raw),
        provider.as_secs_f64() / raw.as_secs_f64(),
        ms(provider.saturating_sub(raw))
    );
    println!(
        "list {LISTED} instances: peak heap {:.1} MB during the call (the in-process fake's pages \
         included; a raw list alone peaks at {:.1} MB), {:.1} MB for the result",
        mb(peak),
        mb(raw_peak),
        mb(kept)
    );

    let calls = fake.state().requests().count("POST", "/");
    println!(
        "token exchanges: {} for {calls} calls through one credential (lifetime 12 h)",
        credential.token_exchanges()
    );
    fake.shutdown().await;
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(run());
}
