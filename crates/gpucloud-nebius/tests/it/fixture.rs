//! A fake Nebius with fast lifecycles and a credential of its service account.

use std::sync::Arc;
use std::time::Duration;

use gpucloud_core::{CloudClient, CreateInstanceAttrs, Instance, Result, validate_create};
use gpucloud_fakes::nebius::{FakeNebius, FakeNebiusOptions};
use gpucloud_nebius::{NebiusConfig, NebiusCredential};

/// An SSH key for creates.
pub const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@host";
/// The one-GPU H100 type of the fake.
pub const H100_1: &str = "gpu-h100-sxm.1gpu-16vcpu-200gb";
/// The region serving it.
pub const REGION: &str = "eu-north1";

/// A running fake, the credentials file it wrote (kept alive) and a credential.
pub struct Env {
    pub fake: FakeNebius,
    pub credential: NebiusCredential,
    pub _dir: tempfile::TempDir,
}

/// The fake's options for tests: lifecycles of a few milliseconds.
pub fn options() -> FakeNebiusOptions {
    FakeNebiusOptions::default().with_delays(Duration::from_millis(20))
}

/// A configuration for `fake` from its credentials file, polling fast.
pub fn config(fake: &FakeNebius, dir: &tempfile::TempDir) -> NebiusConfig {
    let path = dir.path().join("credentials.json");
    fake.write_credentials_file(&path)
        .expect("the credentials file is written");
    NebiusConfig::from_credentials_file(&path)
        .expect("the fake's credentials parse")
        .with_tenant(fake.tenant_id())
        .with_api_endpoint(fake.endpoint())
        .with_operation_wait(Duration::from_secs(20), Duration::from_millis(10))
        .with_retry_backoff(Duration::from_millis(5))
        .with_request_timeout(Duration::from_secs(5))
        .with_ref_id("it-cred")
}

/// A fake with `options` and a credential for it.
pub async fn start_with(options: FakeNebiusOptions) -> Env {
    let fake = FakeNebius::start(options).await.expect("the fake starts");
    let dir = tempfile::tempdir().unwrap();
    let credential = NebiusCredential::new(config(&fake, &dir)).expect("a valid configuration");
    Env {
        fake,
        credential,
        _dir: dir,
    }
}

/// A fake with fast lifecycles and a credential for it.
pub async fn start() -> Env {
    start_with(options()).await
}

/// A create of the one-GPU H100 in `eu-north1`.
pub fn attrs(ref_id: &str) -> CreateInstanceAttrs {
    CreateInstanceAttrs {
        ref_id: ref_id.to_owned(),
        name: format!("Job {ref_id}"),
        instance_type: H100_1.to_owned(),
        location: REGION.to_owned(),
        public_key: KEY.to_owned(),
        ..CreateInstanceAttrs::default()
    }
}

impl Env {
    /// A client of every region.
    pub fn client(&self) -> Arc<dyn CloudClient> {
        Arc::new(self.credential.client(""))
    }

    /// Validates and creates.
    pub async fn create(&self, attrs: &CreateInstanceAttrs) -> Result<Instance> {
        let client = self.client();
        let valid = validate_create(attrs, &client.create_features())?;
        client.create_instance(valid).await
    }

    /// Asserts the fake holds no instance, disk or security group.
    pub fn assert_nothing_left(&self) {
        let state = self.fake.state();
        assert!(
            state.instances().is_empty(),
            "instances left: {:?}",
            state.instances()
        );
        assert!(state.disks().is_empty(), "disks left: {:?}", state.disks());
        assert!(
            state.security_groups().is_empty(),
            "security groups left: {:?}",
            state.security_groups()
        );
    }
}
