//! Nebius's entry: the gRPC fake, which injects its own faults (the HTTP/1 proxy cannot carry
//! HTTP/2), a credential of its static token, and what the fake holds: instances, and the
//! boot disk and security group each create makes (SSH keys travel in the cloud-init data).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gpucloud::nebius::{NebiusAuth, NebiusConfig, NebiusCredential};
use gpucloud::{CloudCredential, CreateInstanceAttrs};
use gpucloud_fakes::kit::FaultKind;
use gpucloud_fakes::nebius::{
    DEFAULT_IAM_TOKEN, DiskState, FakeNebius, FakeNebiusOptions, InstanceState,
};
use gpucloud_fakes::proxy::{FaultCounts, ProxyFault};
use secrecy::SecretString;

use crate::{FakeInstanceView, FakeResource, FakeState, OwnFaults, RunningFake, Target};

/// The region, platform and preset every campaign create asks for, and the quota it uses.
const REGION: &str = "eu-north1";
const PLATFORM: &str = "gpu-h100-sxm";
const PRESET: &str = "1gpu-16vcpu-200gb";
const QUOTA: &str = "compute.instance.gpu.h100";

/// The label the provider stores the RefID under (core's bookkeeping codec).
const REF_ID_TAG: &str = gpucloud::bookkeeping::REF_ID_TAG;

/// Nebius AI Cloud, against [`FakeNebius`] and its own seeded faults.
#[derive(Debug, Clone, Copy)]
pub struct NebiusTarget;

#[async_trait]
impl Target for NebiusTarget {
    fn name(&self) -> &'static str {
        "nebius"
    }

    async fn start(&self) -> std::io::Result<Box<dyn RunningFake>> {
        let fake = FakeNebius::start(FakeNebiusOptions {
            regions: vec![REGION.to_owned()],
            ..FakeNebiusOptions::default().with_delays(Duration::from_millis(10))
        })
        .await?;
        let state = fake.state();
        state.set_capacity(REGION, PLATFORM, PRESET, u32::MAX / 2);
        state.set_quota_limit(REGION, QUOTA, u64::from(u32::MAX));
        Ok(Box::new(RunningNebius { fake }))
    }
}

struct RunningNebius {
    fake: FakeNebius,
}

/// The fake's kinds for the campaign's: a 5xx is each of the statuses the fake maps to its
/// own gRPC code (`INTERNAL`, `UNAVAILABLE`, `DEADLINE_EXCEEDED`); a cut body is a message
/// that does not decode (the fake does not run that call, unlike the proxy's cut answer).
fn fake_kinds(kinds: &[ProxyFault], retry_after_secs: u64) -> Vec<FaultKind> {
    let mut out = Vec::new();
    for kind in kinds {
        match kind {
            ProxyFault::ServerError => {
                out.extend([500, 503, 504].map(|status| FaultKind::ServerError { status }));
            }
            ProxyFault::RateLimited => out.push(FaultKind::RateLimited { retry_after_secs }),
            ProxyFault::ResetBeforeForwarding => out.push(FaultKind::ConnectionReset),
            ProxyFault::LostAfterCommit => out.push(FaultKind::CommitThenDrop),
            ProxyFault::TruncatedBody => out.push(FaultKind::MalformedBody),
            _ => {}
        }
    }
    out
}

impl OwnFaults for RunningNebius {
    fn enable(&self, seed: u64, rate: f64, kinds: &[ProxyFault], retry_after_secs: u64) {
        self.fake
            .state()
            .faults()
            .set_random(seed, rate, &fake_kinds(kinds, retry_after_secs));
    }

    fn disable(&self) {
        self.fake.state().clear_faults();
    }

    fn counts(&self) -> FaultCounts {
        let counts = self.fake.state().faults().injected_counts();
        FaultCounts {
            requests: self.fake.state().requests().count("POST", "/") as u64,
            server_errors: counts.server_errors,
            rate_limited: counts.rate_limited,
            resets: counts.resets,
            lost_after_commit: counts.commit_then_drop,
            truncated: counts.malformed,
        }
    }
}

#[async_trait]
impl RunningFake for RunningNebius {
    fn base_url(&self) -> String {
        self.fake.endpoint()
    }

    fn credential(&self, base_url: &str) -> gpucloud::Result<Arc<dyn CloudCredential>> {
        Ok(Arc::new(NebiusCredential::new(self.config(base_url))?))
    }

    fn create_attrs(&self, ref_id: &str, public_key: &str) -> CreateInstanceAttrs {
        crate::create_attrs(REGION, &format!("{PLATFORM}.{PRESET}"), ref_id, public_key)
    }

    fn inspect(&self) -> FakeState {
        let state = self.fake.state();
        let instances = state
            .instances()
            .into_iter()
            .map(|i| FakeInstanceView {
                ref_id: i.labels.get(REF_ID_TAG).cloned(),
                // One in ERROR is still there (and billed) until it is deleted.
                live: i.state != InstanceState::Deleting,
                key_names: Vec::new(),
                uses: i
                    .boot_disk_id
                    .into_iter()
                    .chain(i.security_group_ids)
                    .collect(),
                id: i.id,
            })
            .collect();
        // A disk being deleted is on its way out, not left behind.
        let disks = state
            .disks()
            .into_iter()
            .filter(|d| d.state != DiskState::Deleting)
            .map(|d| FakeResource {
                id: d.id,
                name: d.name,
            })
            .collect();
        let groups = state
            .security_groups()
            .into_iter()
            .map(|g| FakeResource {
                id: g.id,
                name: g.name,
            })
            .collect();
        FakeState {
            instances,
            keys: Vec::new(),
            attachments: [("disks", disks), ("security groups", groups)]
                .into_iter()
                .collect(),
        }
    }

    /// Nothing to do: the fake forgets a deleted instance itself once its deletion ends, and
    /// Nebius has no account SSH keys.
    fn forget_terminated(&self) {}

    fn own_faults(&self) -> Option<&dyn OwnFaults> {
        Some(self)
    }

    async fn sweep(&self) -> gpucloud::Result<usize> {
        NebiusCredential::new(self.config(&self.fake.endpoint()))?
            .client("")
            .sweep_orphaned_resources()
            .await
    }
}

impl RunningNebius {
    /// A configuration of the fake's tenant at `base_url`: short waits and backoff, and no
    /// grace for unused disks and groups (every create of the campaign is in this process,
    /// and the sweep never runs beside one).
    fn config(&self, base_url: &str) -> NebiusConfig {
        let token = SecretString::from(
            self.fake
                .iam_token()
                .unwrap_or(DEFAULT_IAM_TOKEN)
                .to_owned(),
        );
        NebiusConfig::new(NebiusAuth::Token(token))
            .with_tenant(self.fake.tenant_id())
            .with_regions([REGION])
            .with_api_endpoint(base_url)
            .with_operation_wait(Duration::from_secs(20), Duration::from_millis(5))
            .with_retry_backoff(Duration::from_millis(2))
            .with_request_timeout(Duration::from_secs(5))
            .with_orphan_grace(Duration::ZERO)
            .with_ref_id("campaign")
    }
}
