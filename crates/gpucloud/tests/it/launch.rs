//! Launch with failover against the Lambda fake: capacity that vanished, a boot failure, a lost
//! launch response, every offer failing, bad input. Every test ends with nothing live.

use std::time::Duration;

use gpucloud::launch::{LaunchError, LaunchEvent, LaunchRequest, launch, plan};
use gpucloud::offers::{GpuRequest, OfferOptions, OfferSource};
use gpucloud::{CreateInstanceAttrs, ErrorKind, InstanceId};
use gpucloud_fakes::fluidstack::{FakeInstanceState, Operation as FluidstackOperation};
use gpucloud_fakes::kit::Fault as KitFault;
use gpucloud_fakes::lambda::{FakeInstanceStatus, FakeLambda, Fault, Operation};
use tokio_util::sync::CancellationToken;

use crate::support::{
    PUBLIC_KEY, fluidstack_fake, fluidstack_source, lambda_fake, lambda_source, live,
};

fn request(ref_id: &str) -> LaunchRequest {
    let mut request = LaunchRequest::new(CreateInstanceAttrs {
        ref_id: ref_id.into(),
        name: "failover".into(),
        public_key: PUBLIC_KEY.into(),
        ..CreateInstanceAttrs::default()
    });
    request.query.filter.gpu = Some("H100:1".parse::<GpuRequest>().expect("a GPU request"));
    request.wait_running = Some(Duration::from_secs(10));
    request.poll_interval = Some(Duration::from_millis(20));
    request
}

async fn terminate_all(source: &OfferSource, fake: &FakeLambda) {
    let client = source.credential.make_client("").await.expect("a client");
    for instance in live(fake) {
        client
            .terminate_instance(&InstanceId::new(instance.id))
            .await
            .expect("terminated");
    }
    assert!(live(fake).is_empty());
}

#[tokio::test]
async fn capacity_only_in_the_third_offer_launches_the_third() {
    let fake = lambda_fake().await;
    let sources = [lambda_source("lambda", &fake.base_url())];
    let mut tried = Vec::new();
    let launched = launch(
        &sources,
        &request("third"),
        &OfferOptions::default(),
        CancellationToken::new(),
        |event| {
            // The capacity of the two cheapest offers is gone by the time they are tried.
            if let LaunchEvent::Trying { offer, index, .. } = event {
                tried.push((offer.location.clone(), offer.instance_type.clone()));
                if *index <= 2 {
                    fake.state()
                        .set_capacity(&offer.location, &offer.instance_type, 0);
                }
            }
        },
    )
    .await
    .expect("the third offer comes up");
    assert_eq!(tried.len(), 3, "{tried:?}");
    assert_eq!(
        (
            launched.offer.location.clone(),
            launched.offer.instance_type.clone()
        ),
        tried[2]
    );
    assert_eq!(launched.attempts.len(), 2);
    for attempt in &launched.attempts {
        assert_eq!(
            attempt.error.kind(),
            ErrorKind::InsufficientCapacity,
            "{}",
            attempt.error
        );
    }
    assert_eq!(launched.instance.ref_id, "third");
    assert_eq!(live(&fake).len(), 1);
    terminate_all(&sources[0], &fake).await;
}

#[tokio::test]
async fn an_instance_that_fails_while_booting_is_terminated_and_the_next_offer_launched() {
    let fake = lambda_fake().await;
    let sources = [lambda_source("lambda", &fake.base_url())];
    let mut failed_id = None;
    let launched = launch(
        &sources,
        &request("boot-fail"),
        &OfferOptions::default(),
        CancellationToken::new(),
        |event| {
            if let LaunchEvent::Waiting { instance, .. } = event
                && failed_id.is_none()
            {
                fake.state()
                    .set_instance_status(instance.cloud_id.as_str(), FakeInstanceStatus::Preempted);
                failed_id = Some(instance.cloud_id.clone());
            }
        },
    )
    .await
    .expect("the second offer comes up");
    let failed_id = failed_id.expect("the first instance was seen");
    assert_eq!(launched.attempts.len(), 1);
    assert_eq!(launched.attempts[0].error.kind(), ErrorKind::InstanceFailed);
    assert_ne!(launched.instance.cloud_id, failed_id);
    let live_ids: Vec<String> = live(&fake).into_iter().map(|i| i.id).collect();
    assert_eq!(
        live_ids,
        vec![launched.instance.cloud_id.as_str().to_owned()]
    );
    terminate_all(&sources[0], &fake).await;
}

#[tokio::test]
async fn a_lost_launch_response_is_resolved_without_a_second_instance() {
    let fake = lambda_fake().await;
    fake.state().set_fault(Fault::CommitThenDropResponse {
        operation: Operation::Launch,
        times: 1,
    });
    let sources = [lambda_source("lambda", &fake.base_url())];
    let launched = launch(
        &sources,
        &request("lost"),
        &OfferOptions::default(),
        CancellationToken::new(),
        |_| {},
    )
    .await
    .expect("the launch is found by its RefID");
    assert!(launched.attempts.is_empty());
    assert_eq!(live(&fake).len(), 1, "{:?}", fake.state().instances());
    terminate_all(&sources[0], &fake).await;
}

#[tokio::test]
async fn every_offer_failing_reports_each_reason_and_leaves_nothing() {
    let fake = lambda_fake().await;
    let sources = [lambda_source("lambda", &fake.base_url())];
    let mut request = request("all-fail");
    request.max_offers = 3;
    let error = launch(
        &sources,
        &request,
        &OfferOptions::default(),
        CancellationToken::new(),
        |event| {
            if let LaunchEvent::Trying { offer, .. } = event {
                fake.state()
                    .set_capacity(&offer.location, &offer.instance_type, 0);
            }
        },
    )
    .await
    .expect_err("no offer has capacity");
    let LaunchError::AllFailed { attempts, .. } = &error else {
        panic!("expected AllFailed, got {error:?}");
    };
    assert_eq!(attempts.len(), 3);
    assert!(
        attempts
            .iter()
            .all(|a| a.error.kind() == ErrorKind::InsufficientCapacity)
    );
    assert!(live(&fake).is_empty());
    assert!(
        fake.state().ssh_keys().is_empty(),
        "{:?}",
        fake.state().ssh_keys()
    );
}

#[tokio::test]
async fn no_matching_offer_is_its_own_error() {
    let fake = lambda_fake().await;
    let sources = [lambda_source("lambda", &fake.base_url())];
    let mut request = request("none");
    request.query.filter.gpu = Some("H100:3".parse().expect("a GPU request"));
    let error = launch(
        &sources,
        &request,
        &OfferOptions::default(),
        CancellationToken::new(),
        |_| {},
    )
    .await
    .expect_err("there is no 3x H100");
    assert!(matches!(error, LaunchError::NoOffers { .. }), "{error:?}");
    assert_eq!(
        fake.state()
            .request_count("POST", "/api/v1/instance-operations/launch"),
        0
    );
}

#[tokio::test]
async fn bad_input_stops_before_any_request() {
    let fake = lambda_fake().await;
    let sources = [lambda_source("lambda", &fake.base_url())];
    let mut request = request("bad-key");
    request.template.public_key = "not a key".into();
    let error = launch(
        &sources,
        &request,
        &OfferOptions::default(),
        CancellationToken::new(),
        |_| {},
    )
    .await
    .expect_err("the key is refused");
    let LaunchError::Invalid(inner) = &error else {
        panic!("expected Invalid, got {error:?}");
    };
    assert!(inner.to_string().contains("public_key"), "{inner}");
    assert_eq!(fake.state().request_count("GET", "/api/v1/"), 0);
}

#[tokio::test]
async fn a_plan_lists_the_first_round_in_order_and_creates_nothing() {
    let fake = lambda_fake().await;
    let sources = [lambda_source("lambda", &fake.base_url())];
    let mut request = request("plan");
    request.max_offers = 2;
    let planned = plan(&sources, &request, &OfferOptions::default())
        .await
        .expect("a plan");
    assert_eq!(planned.offers.len(), 2, "{:?}", planned.offers);
    assert!(planned.failures.is_empty());
    let mut tried = Vec::new();
    let launched = launch(
        &sources,
        &request,
        &OfferOptions::default(),
        CancellationToken::new(),
        |event| {
            if let LaunchEvent::Trying { offer, .. } = event {
                tried.push(offer.instance_type_id.clone());
                // The planned first offer fails, so the second is tried too.
                if tried.len() == 1 {
                    fake.state()
                        .set_capacity(&offer.location, &offer.instance_type, 0);
                }
            }
        },
    )
    .await
    .expect("the second offer comes up");
    let planned: Vec<_> = planned
        .offers
        .iter()
        .map(|o| o.instance_type_id.clone())
        .collect();
    assert_eq!(
        tried, planned,
        "the launch tries what the plan listed, in order"
    );
    assert_eq!(launched.offer.instance_type_id, planned[1]);
    assert_eq!(live(&fake).len(), 1);
    terminate_all(&sources[0], &fake).await;

    let before = fake.state().request_count("POST", "/api/v1/");
    plan(&sources, &request, &OfferOptions::default())
        .await
        .expect("a plan");
    assert_eq!(
        fake.state().request_count("POST", "/api/v1/"),
        before,
        "a plan creates nothing"
    );
    request.template.public_key = "not a key".into();
    let refused = plan(&sources, &request, &OfferOptions::default()).await;
    assert!(
        matches!(refused, Err(LaunchError::Invalid(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_cancelled_launch_names_the_instance_it_created_before_terminating_it() {
    let fake = lambda_fake().await;
    let sources = [lambda_source("lambda", &fake.base_url())];
    let cancel = CancellationToken::new();
    let mut created = None;
    let error = launch(
        &sources,
        &request("cancelled"),
        &OfferOptions::default(),
        cancel.clone(),
        |event| {
            if let LaunchEvent::Created { instance, .. } = event {
                created = Some(instance.cloud_id.clone());
                cancel.cancel();
            }
        },
    )
    .await
    .expect_err("cancelled");
    assert!(matches!(error, LaunchError::Cancelled { .. }), "{error:?}");
    let created = created.expect("the Created event names the instance");
    let status = fake
        .state()
        .instance(created.as_str())
        .expect("made")
        .status;
    assert!(
        matches!(
            status,
            FakeInstanceStatus::Terminating | FakeInstanceStatus::Terminated
        ),
        "{status:?}"
    );
    assert!(live(&fake).is_empty());
}

#[tokio::test]
async fn retry_until_up_runs_the_offer_list_again() {
    let fake = lambda_fake().await;
    let sources = [lambda_source("lambda", &fake.base_url())];
    let mut request = request("retry");
    request.max_offers = 1;
    request.retry_until_up = Some(gpucloud::launch::RetryUntilUp {
        interval: Duration::from_millis(10),
        deadline: Some(Duration::from_secs(10)),
    });
    let mut rounds = 0;
    let mut restored = false;
    let launched = launch(
        &sources,
        &request,
        &OfferOptions::default(),
        CancellationToken::new(),
        |event| match event {
            LaunchEvent::Round { round, .. } => rounds = *round,
            LaunchEvent::Trying { offer, .. } if rounds == 1 => {
                fake.state()
                    .set_capacity(&offer.location, &offer.instance_type, 0);
            }
            LaunchEvent::Backoff { .. } => restored = true,
            _ => {}
        },
    )
    .await
    .expect("the second round comes up");
    assert_eq!(
        launched.attempts.len(),
        0,
        "the attempts listed are the last round's"
    );
    assert!(restored);
    assert_eq!(rounds, 2);
    assert_eq!(live(&fake).len(), 1);
    terminate_all(&sources[0], &fake).await;
}

#[tokio::test]
async fn a_quota_error_moves_the_launch_to_another_provider() {
    let over_quota = lambda_fake().await;
    let other = lambda_fake().await;
    over_quota.state().set_instance_quota(Some(0));
    // Same catalog and prices: "lambda-a" sorts first, so its offers come first.
    let sources = [
        lambda_source("lambda-a", &over_quota.base_url()),
        lambda_source("lambda-b", &other.base_url()),
    ];
    let launched = launch(
        &sources,
        &request("quota"),
        &OfferOptions::default(),
        CancellationToken::new(),
        |_| {},
    )
    .await
    .expect("the other provider launches");
    assert_eq!(launched.offer.provider, "lambda-b");
    assert_eq!(
        launched.attempts.len(),
        1,
        "one quota error rules the provider out"
    );
    assert_eq!(launched.attempts[0].offer.provider, "lambda-a");
    assert_eq!(launched.attempts[0].error.kind(), ErrorKind::QuotaExceeded);
    assert!(live(&over_quota).is_empty());
    assert!(
        over_quota.state().ssh_keys().is_empty(),
        "the failed create left no key"
    );
    assert_eq!(live(&other).len(), 1);
    terminate_all(&sources[1], &other).await;
}

/// Issue 29: a create whose provider could not tell whether it made the instance (its look-up
/// by RefID was refused) is settled by the launch, which owns the RefID: the instance is found,
/// terminated, and only then is the next offer tried. (Fluidstack's fake: its refusals carry no
/// error code, so a 403 is a refusal, not a transient failure.)
#[tokio::test]
async fn a_create_of_unknown_outcome_is_removed_before_the_next_offer() {
    let fake = fluidstack_fake().await;
    let state = fake.state();
    // The first create runs and loses its answer; slowed down, so that the provider's look-up
    // can be refused from the moment it arrives.
    state.set_fault_for(
        FluidstackOperation::CreateInstance,
        KitFault::Latency(Duration::from_millis(200)),
    );
    state.set_fault(KitFault::CommitThenDropResponse {
        operation: FluidstackOperation::CreateInstance,
        times: 1,
    });
    let sources = [fluidstack_source("fluidstack", &fake)];
    let refuse_the_look_up = async {
        while state.request_count("POST", "/") == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        state.set_fault_for(
            FluidstackOperation::ListInstances,
            KitFault::ServerError {
                status: 403,
                times: 1,
            },
        );
    };
    let mut request = request("unknown");
    request.query.filter.gpu = Some("H100:8".parse::<GpuRequest>().expect("a GPU request"));
    let options = OfferOptions::default();
    let (launched, ()) = tokio::join!(
        launch(
            &sources,
            &request,
            &options,
            CancellationToken::new(),
            |_| {}
        ),
        refuse_the_look_up
    );
    let launched = launched.expect("the next offer comes up");
    assert_eq!(launched.attempts.len(), 1, "{:?}", launched.attempts);
    let reason = launched.attempts[0].error.to_string();
    assert!(
        reason.contains("RefID unknown") && reason.contains("which was terminated"),
        "{reason}"
    );
    assert!(!launched.attempts[0].error.outcome_unknown(), "settled");
    let live_ids: Vec<String> = state
        .instances()
        .into_iter()
        .filter(|i| i.state != FakeInstanceState::Deleting)
        .map(|i| i.id.to_string())
        .collect();
    assert_eq!(
        live_ids,
        vec![launched.instance.cloud_id.as_str().to_owned()],
        "the first instance was removed: {:?}",
        state.instances()
    );
    let client = sources[0]
        .credential
        .make_client("")
        .await
        .expect("a client");
    client
        .terminate_instance(&launched.instance.cloud_id)
        .await
        .expect("terminated");
}

/// A launch can be spawned on a multi-threaded runtime (a control plane runs it from its own
/// tasks): its future is `Send`. This fails to compile, not to run, if it ever is not.
#[test]
fn launch_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let sources: Vec<OfferSource> = Vec::new();
    let request = request("send");
    let options = OfferOptions::default();
    let future = launch(
        &sources,
        &request,
        &options,
        CancellationToken::new(),
        |_: &LaunchEvent<'_>| {},
    );
    assert_send(&future);
}
