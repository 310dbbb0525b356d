//! The engine against the Shadeform, Nebius (gRPC) and Verda fakes: the same lifecycle as
//! against Lambda, recorded as the exact event sequence, and an instance left out of one list
//! confirmed with a get rather than declared terminated.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use gpucloud::{CloudCredential, LifecycleStatus};
use gpucloud_fleet::{CreateTarget, Fleet, Phase};

use crate::support::*;
use crate::temp_db;

/// One provider's fake, as the lifecycle test drives it.
pub(crate) struct Provider {
    /// The credential's provider short name.
    pub name: &'static str,
    pub credential: Arc<dyn CloudCredential>,
    pub location: &'static str,
    pub instance_type: String,
    /// How many instances the fake holds that are not on their way out (its own state).
    pub live: Box<dyn Fn() -> usize + Send + Sync>,
    /// Keeps the fake running for the test.
    pub _fake: Box<dyn Send + Sync>,
}

async fn shadeform() -> Provider {
    use gpucloud::shadeform::{ShadeformConfig, ShadeformCredential};
    use gpucloud_fakes::shadeform::{FakeShadeform, FakeShadeformOptions, FakeStatus};
    let fake = FakeShadeform::start(FakeShadeformOptions {
        creating_delay: Duration::from_millis(300),
        pending_provider_delay: Duration::from_millis(300),
        deleting_delay: Duration::from_millis(300),
        deleted_delay: Duration::from_millis(300),
        ..FakeShadeformOptions::default()
    })
    .await
    .expect("the fake starts");
    // The fake's upstream region behind the SDK's `ca-central`.
    fake.state()
        .set_capacity("canada-1", "hyperstack_A6000", 10);
    let credential = ShadeformCredential::new(
        ShadeformConfig::new(fake.api_key())
            .with_base_url(fake.base_url())
            .with_ref_id(MARK)
            .with_retry_backoff(Duration::from_millis(2))
            .with_request_timeout(Duration::from_secs(10)),
    )
    .expect("a valid Shadeform configuration");
    let state = fake.state().clone();
    Provider {
        name: "shadeform",
        credential: Arc::new(credential),
        location: "ca-central",
        instance_type: "hyperstack_A6000".into(),
        live: Box::new(move || {
            state
                .instances()
                .iter()
                .filter(|i| !matches!(i.status, FakeStatus::Deleting | FakeStatus::Deleted))
                .count()
        }),
        _fake: Box::new(fake),
    }
}

async fn nebius() -> Provider {
    use gpucloud::nebius::{NebiusAuth, NebiusConfig, NebiusCredential};
    use gpucloud_fakes::nebius::{DEFAULT_IAM_TOKEN, FakeNebius, FakeNebiusOptions, InstanceState};
    const REGION: &str = "eu-north1";
    let fake = FakeNebius::start(FakeNebiusOptions {
        regions: vec![REGION.to_owned()],
        ..FakeNebiusOptions::default().with_delays(Duration::from_millis(300))
    })
    .await
    .expect("the fake starts");
    fake.state()
        .set_capacity(REGION, "gpu-h100-sxm", "1gpu-16vcpu-200gb", 10);
    fake.state()
        .set_quota_limit(REGION, "compute.instance.gpu.h100", 100);
    let token = fake.iam_token().unwrap_or(DEFAULT_IAM_TOKEN).to_owned();
    let credential = NebiusCredential::new(
        NebiusConfig::new(NebiusAuth::Token(token.into()))
            .with_tenant(fake.tenant_id())
            .with_regions([REGION])
            .with_api_endpoint(fake.endpoint())
            .with_operation_wait(Duration::from_secs(20), Duration::from_millis(5))
            .with_retry_backoff(Duration::from_millis(2))
            .with_request_timeout(Duration::from_secs(5))
            .with_ref_id(MARK),
    )
    .expect("a valid Nebius configuration");
    let state = fake.state().clone();
    Provider {
        name: "nebius",
        credential: Arc::new(credential),
        location: REGION,
        instance_type: "gpu-h100-sxm.1gpu-16vcpu-200gb".into(),
        live: Box::new(move || {
            state
                .instances()
                .iter()
                .filter(|i| i.state != InstanceState::Deleting)
                .count()
        }),
        _fake: Box::new(fake),
    }
}

async fn verda() -> Provider {
    use gpucloud::verda::{VerdaConfig, VerdaCredential};
    use gpucloud_fakes::verda::{FakeStatus, FakeVerda, FakeVerdaOptions};
    const LOCATION: &str = "FIN-01";
    const TYPE: &str = "1A100.22V";
    let fake = FakeVerda::start(FakeVerdaOptions {
        ordered_delay: Duration::from_millis(300),
        provisioning_delay: Duration::from_millis(300),
        deleting_delay: Duration::from_millis(300),
        ..FakeVerdaOptions::default()
    })
    .await
    .expect("the fake starts");
    fake.state().set_capacity(LOCATION, TYPE, false, 10);
    let credential = VerdaCredential::new(
        VerdaConfig::new(fake.client_id(), fake.client_secret())
            .with_base_url(fake.base_url())
            .with_ref_id(MARK)
            .with_retry_backoff(Duration::from_millis(2))
            .with_request_timeout(Duration::from_secs(10)),
    )
    .expect("a valid Verda configuration");
    let state = fake.state().clone();
    Provider {
        name: "verda",
        credential: Arc::new(credential),
        location: LOCATION,
        instance_type: TYPE.into(),
        live: Box::new(move || {
            state
                .instances()
                .iter()
                .filter(|i| i.status != FakeStatus::Deleting)
                .count()
        }),
        _fake: Box::new(fake),
    }
}

/// Create → running → terminate through the fleet, with one list that leaves the instance out
/// while it runs; returns the instance's events.
pub(crate) async fn lifecycle(provider: Provider) -> Vec<(Option<String>, String, String)> {
    let (_dir, db) = temp_db();
    let mischief = Arc::new(Mischief::default());
    let mut config = config(
        &db,
        Arc::new(Meddling {
            inner: provider.credential.clone(),
            mischief: mischief.clone(),
        }),
    );
    config.credentials[0].name = provider.name.into();
    config.credentials[0].provider = provider.name.into();
    let fleet = Fleet::open(config).await.expect("the fleet opens");
    let ref_id = format!("{}-1", provider.name);
    let mut request = create_request(&ref_id);
    request.target = CreateTarget::Explicit {
        credential: provider.name.into(),
        location: provider.location.into(),
        instance_type: provider.instance_type.clone(),
    };
    fleet.request_create(request).await.unwrap();
    run_until(&fleet, &ref_id, |r| {
        r.status == Some(LifecycleStatus::Running)
    })
    .await;
    assert_eq!((provider.live)(), 1, "made once");

    // A list that leaves it out: a get finds it, and nothing is recorded.
    let before = events_of(&fleet, &ref_id).await;
    let gets = mischief.gets_sent.load(Ordering::SeqCst);
    mischief.drop_next_list.store(true, Ordering::SeqCst);
    fleet.run_once().await.unwrap();
    assert!(
        mischief.gets_sent.load(Ordering::SeqCst) > gets,
        "the absence was confirmed with a get"
    );
    fleet.run_once().await.unwrap();
    assert_eq!(events_of(&fleet, &ref_id).await, before);
    let record = fleet.instance(&ref_id).await.unwrap();
    assert_eq!(record.phase, Phase::Active);
    assert_eq!(record.status, Some(LifecycleStatus::Running));

    fleet.request_terminate(&ref_id).await.unwrap();
    run_until(&fleet, &ref_id, |r| r.phase == Phase::Terminated).await;
    assert_eq!((provider.live)(), 0, "nothing leaked");
    // Passes where nothing changes write no event.
    let settled = fleet.events_after(0, 1000).await.unwrap();
    fleet.run_once().await.unwrap();
    assert_eq!(fleet.events_after(0, 1000).await.unwrap(), settled);
    let events = events_of(&fleet, &ref_id).await;
    fleet.close().await;
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadeform_create_running_terminate_is_the_exact_event_sequence() {
    assert_eq!(
        lifecycle(shadeform().await).await,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nebius_create_running_terminate_is_the_exact_event_sequence() {
    assert_eq!(
        lifecycle(nebius().await).await,
        vec![
            ev(None, "requested", "create_requested"),
            ev(Some("requested"), "launching", "create_sent"),
            // The create waits for its operation: it answers running.
            ev(Some("launching"), "running", "created"),
            ev(Some("running"), "terminating", "terminate_sent"),
            ev(Some("terminating"), "terminated", "terminate_confirmed"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verda_create_running_terminate_is_the_exact_event_sequence() {
    assert_eq!(
        lifecycle(verda().await).await,
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
