//! The engine against the Lambda fake: event sequences, partial lists, outages, lost answers,
//! restarts and orphans.

mod database;
mod local;
mod providers;
mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use gpucloud::LifecycleStatus;
use gpucloud_fakes::lambda::Fault;
use gpucloud_fleet::{Cause, Fleet, InstanceFilter, PageRequest, Phase};
use support::*;

pub(crate) fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("state").join("fleet.sqlite3");
    (dir, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_running_terminate_is_recorded_as_the_exact_event_sequence() {
    let fake = lambda_fake(Duration::from_millis(300)).await;
    let (_dir, db) = temp_db();
    let fleet = open(&db, lambda_credential(&fake)).await;
    let mut live = fleet.subscribe();

    let record = fleet.request_create(create_request("seq-1")).await.unwrap();
    assert_eq!(record.phase, Phase::Requested);
    // The same request again is the same instance; nothing new is recorded.
    let again = fleet.request_create(create_request("seq-1")).await.unwrap();
    assert_eq!(again.created_at, record.created_at);

    run_until(&fleet, "seq-1", |r| {
        r.status == Some(LifecycleStatus::Running)
    })
    .await;
    fleet.request_terminate("seq-1").await.unwrap();
    run_until(&fleet, "seq-1", |r| r.phase == Phase::Terminated).await;

    assert_eq!(
        events_of(&fleet, "seq-1").await,
        vec![
            ev(None, "requested", "create_requested"),
            ev(Some("requested"), "launching", "create_sent"),
            ev(Some("launching"), "pending", "created"),
            ev(Some("pending"), "running", "observed"),
            ev(Some("running"), "terminating", "terminate_sent"),
            ev(Some("terminating"), "terminated", "terminate_confirmed"),
        ]
    );
    // Subscribers saw the same events, in the same order, with the store's ids.
    let stored = fleet.events_after(0, 100).await.unwrap();
    for event in &stored {
        assert_eq!(&live.recv().await.unwrap(), event);
    }
    assert!(live_in_fake(&fake, "seq-1").is_empty());
    // Passes where nothing changes write no event.
    fleet.run_once().await.unwrap();
    fleet.run_once().await.unwrap();
    assert_eq!(fleet.events_after(0, 100).await.unwrap(), stored);

    let metrics = fleet.metrics().await.unwrap();
    let text = metrics.to_prometheus();
    assert!(
        text.contains("operation=\"list_instances\",outcome=\"ok\""),
        "{text}"
    );
    assert!(
        text.contains("gpucloud_fleet_instances{phase=\"terminated\",status=\"terminated\"} 1"),
        "{text}"
    );
    assert_eq!(metrics.events_written, stored.len() as u64);
}

/// The README demo's defect: a list answered while the instance booted arrived after the
/// create had recorded it running, and was merged as news (`running -> pending`). A list is
/// only news for rows read before it was sent; the status never goes backwards unless the
/// provider says so after what was recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_older_than_the_create_answer_does_not_take_the_status_back() {
    let fake = lambda_fake(Duration::from_millis(400)).await;
    let (_dir, db) = temp_db();
    let mischief = Arc::new(Mischief::default());
    *mischief.late_create_answer.lock().unwrap() = Some(Duration::from_millis(600));
    *mischief.hold_pending_lists.lock().unwrap() = Some(Duration::from_secs(1));
    let credential = Arc::new(Meddling {
        inner: lambda_credential(&fake),
        mischief: mischief.clone(),
    });
    let fleet = open(&db, credential).await;
    fleet
        .request_create(create_request("order-1"))
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let fleet = fleet.clone();
        async move {
            fleet
                .run_until(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    // Until the create's answer is recorded, then longer than a held list takes to arrive,
    // and the passes after it.
    for _ in 0..100 {
        let record = fleet.instance("order-1").await.unwrap();
        if record.status == Some(LifecycleStatus::Running) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop.send(());
    running.await.unwrap().unwrap();

    assert_eq!(
        events_of(&fleet, "order-1").await,
        vec![
            ev(None, "requested", "create_requested"),
            ev(Some("requested"), "launching", "create_sent"),
            ev(Some("launching"), "running", "created"),
        ]
    );
    assert_eq!(
        fleet.instance("order-1").await.unwrap().status,
        Some(LifecycleStatus::Running)
    );
}

/// The status loop reads its rows before it sends the list, so an instance whose create was
/// recorded and sent while the list waited is in the list but not in the rows read. When that
/// create's answer was lost, only its RefID ties the listed instance to its row: it must not
/// be recorded as an orphan (a second row for one instance, which a grace would terminate),
/// and the list, asked before the create was sent, proves nothing about it either, so the
/// create is not sent again. The next list resolves it by RefID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_recorded_while_the_list_waited_is_not_an_orphan() {
    let fake = lambda_fake(Duration::from_millis(50)).await;
    let (_dir, db) = temp_db();
    let mischief = Arc::new(Mischief::default());
    mischief.hold_lists.store(true, Ordering::SeqCst);
    let credential = Arc::new(Meddling {
        inner: lambda_credential(&fake),
        mischief: mischief.clone(),
    });
    let fleet = open(&db, credential).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let fleet = fleet.clone();
        async move {
            fleet
                .run_until(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    // A status pass has read its (empty) rows and holds its list.
    while mischief.lists_asked.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    mischief.lose_answer("meanwhile-1");
    fleet
        .request_create(create_request("meanwhile-1"))
        .await
        .unwrap();
    // The provider made the instance and its answer was lost: the row has no cloud id.
    for _ in 0..100 {
        if fleet
            .instance("meanwhile-1")
            .await
            .unwrap()
            .last_error
            .is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let record = fleet.instance("meanwhile-1").await.unwrap();
    assert_eq!(record.phase, Phase::Launching, "{record:?}");
    assert!(record.cloud_id.is_none(), "{record:?}");
    assert_eq!(live_in_fake(&fake, "meanwhile-1").len(), 1);

    // The held list goes out now and shows the instance.
    mischief.hold_lists.store(false, Ordering::SeqCst);
    for _ in 0..100 {
        let record = fleet.instance("meanwhile-1").await.unwrap();
        if record.phase == Phase::Active {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();

    let events = fleet.events_after(0, 1000).await.unwrap();
    assert!(
        events.iter().all(|e| e.ref_id == "meanwhile-1"),
        "no orphan: {events:?}"
    );
    let orphans = fleet
        .instances(
            &InstanceFilter {
                phases: vec![Phase::Orphan],
                ..InstanceFilter::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert!(orphans.items.is_empty(), "{:?}", orphans.items);
    let record = fleet.instance("meanwhile-1").await.unwrap();
    assert_eq!(record.phase, Phase::Active, "{record:?}");
    assert_eq!(
        mischief.creates_sent.load(Ordering::SeqCst),
        1,
        "never sent twice: {:?}",
        events_of(&fleet, "meanwhile-1").await
    );
    assert_eq!(
        live_in_fake(&fake, "meanwhile-1"),
        vec![record.cloud_id.clone().unwrap()]
    );
    let events = events_of(&fleet, "meanwhile-1").await;
    assert_eq!(
        events[..3],
        [
            ev(None, "requested", "create_requested"),
            ev(Some("requested"), "launching", "create_sent"),
            ev(
                Some("launching"),
                record.status.unwrap().as_str(),
                "resolved_by_ref_id"
            ),
        ][..],
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_missing_from_one_list_is_not_terminated() {
    let fake = lambda_fake(Duration::from_millis(50)).await;
    let (_dir, db) = temp_db();
    let mischief = Arc::new(Mischief::default());
    let credential = Arc::new(Meddling {
        inner: lambda_credential(&fake),
        mischief: mischief.clone(),
    });
    let fleet = open(&db, credential).await;
    fleet
        .request_create(create_request("partial-1"))
        .await
        .unwrap();
    run_until(&fleet, "partial-1", |r| {
        r.status == Some(LifecycleStatus::Running)
    })
    .await;
    let before = events_of(&fleet, "partial-1").await;

    fake.state().reset_request_counts();
    mischief.drop_next_list.store(true, Ordering::SeqCst);
    let report = fleet.run_once().await.unwrap();
    assert_eq!(report.partitions_listed, 1);
    // The absence was checked with a get, which found it.
    assert_eq!(fake.state().request_count("GET", "/api/v1/instances/"), 1);
    fleet.run_once().await.unwrap();

    assert_eq!(events_of(&fleet, "partial-1").await, before);
    let record = fleet.instance("partial-1").await.unwrap();
    assert_eq!(record.phase, Phase::Active);
    assert_eq!(record.status, Some(LifecycleStatus::Running));
}

/// A terminate the provider refuses is sent again, with backoff, until the provider takes it;
/// the instance is terminated only once a list or a get shows it gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_terminate_is_sent_again_until_the_instance_is_gone() {
    let fake = lambda_fake(Duration::from_millis(50)).await;
    let (_dir, db) = temp_db();
    let mischief = Arc::new(Mischief::default());
    let credential = Arc::new(Meddling {
        inner: lambda_credential(&fake),
        mischief: mischief.clone(),
    });
    let fleet = open(&db, credential).await;
    fleet
        .request_create(create_request("refused-1"))
        .await
        .unwrap();
    run_until(&fleet, "refused-1", |r| {
        r.status == Some(LifecycleStatus::Running)
    })
    .await;

    mischief.refuse_terminates.store(3, Ordering::SeqCst);
    fleet.request_terminate("refused-1").await.unwrap();
    fleet.run_once().await.unwrap();
    let record = fleet.instance("refused-1").await.unwrap();
    assert_eq!(record.phase, Phase::Active, "{record:?}");
    assert!(record.last_error.is_some(), "{record:?}");
    assert_eq!(live_in_fake(&fake, "refused-1").len(), 1, "still there");

    run_until(&fleet, "refused-1", |r| r.phase == Phase::Terminated).await;
    assert!(
        mischief.terminates_asked.load(Ordering::SeqCst) >= 4,
        "three refused, then taken"
    );
    assert_eq!(mischief.refuse_terminates.load(Ordering::SeqCst), 0);
    assert!(live_in_fake(&fake, "refused-1").is_empty());
    let events = events_of(&fleet, "refused-1").await;
    assert_eq!(
        events[events.len() - 2..],
        [
            ev(Some("running"), "terminating", "terminate_sent"),
            ev(Some("terminating"), "terminated", "terminate_confirmed"),
        ],
        "{events:?}"
    );
    assert_eq!(
        events.iter().filter(|e| e.1 == "terminated").count(),
        1,
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_is_down_marks_stale_and_recovers() {
    let fake = lambda_fake(Duration::from_millis(50)).await;
    let (_dir, db) = temp_db();
    let fleet = open(&db, lambda_credential(&fake)).await;
    fleet
        .request_create(create_request("down-1"))
        .await
        .unwrap();
    run_until(&fleet, "down-1", |r| {
        r.status == Some(LifecycleStatus::Running)
    })
    .await;

    fake.state().set_fault(Fault::ServerError {
        status: 503,
        times: 10_000,
    });
    let report = fleet.run_once().await.unwrap();
    assert_eq!(report.partitions_failed, 1);
    let record = fleet.instance("down-1").await.unwrap();
    assert!(record.stale);
    assert_eq!(
        record.status,
        Some(LifecycleStatus::Running),
        "last known state kept"
    );
    // Still down: no second stale event.
    fleet.run_once().await.unwrap();
    let credentials = fleet.credentials().await.unwrap();
    assert!(credentials[0].last_error.is_some());

    fake.state().clear_faults();
    fleet.run_once().await.unwrap();
    let record = fleet.instance("down-1").await.unwrap();
    assert!(!record.stale);
    let events = events_of(&fleet, "down-1").await;
    assert_eq!(
        events[events.len() - 2..],
        [
            ev(Some("running"), "running", "stale"),
            ev(Some("running"), "running", "recovered"),
        ]
    );
    assert!(
        events.iter().all(|e| e.1 != "terminated"),
        "an outage never terminates: {events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_answer_is_resolved_by_ref_id_without_a_second_create() {
    let fake = lambda_fake(Duration::from_millis(50)).await;
    let (_dir, db) = temp_db();
    let mischief = Arc::new(Mischief::default());
    let credential = Arc::new(Meddling {
        inner: lambda_credential(&fake),
        mischief: mischief.clone(),
    });
    let fleet = open(&db, credential).await;
    mischief.lose_answer("lost-1");
    fleet
        .request_create(create_request("lost-1"))
        .await
        .unwrap();

    fleet.run_once().await.unwrap();
    let record = fleet.instance("lost-1").await.unwrap();
    assert_eq!(
        record.phase,
        Phase::Launching,
        "outcome unknown: {record:?}"
    );
    assert!(record.cloud_id.is_none());

    run_until(&fleet, "lost-1", |r| r.phase == Phase::Active).await;
    let record = fleet.instance("lost-1").await.unwrap();
    assert_eq!(
        live_in_fake(&fake, "lost-1"),
        vec![record.cloud_id.clone().unwrap()]
    );
    assert_eq!(
        mischief.creates_sent.load(Ordering::SeqCst),
        1,
        "never sent twice"
    );
    let events = events_of(&fleet, "lost-1").await;
    assert_eq!(events[2].2, Cause::ResolvedByRefId.as_str(), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_launch_resumes_it_once() {
    let fake = lambda_fake(Duration::from_millis(50)).await;
    let (_dir, db) = temp_db();
    // First process: one create made by the provider whose answer never came back, one that
    // never reached the provider; then the process goes away.
    let mischief = Arc::new(Mischief::default());
    {
        let first = open(
            &db,
            Arc::new(Meddling {
                inner: lambda_credential(&fake),
                mischief: mischief.clone(),
            }),
        )
        .await;
        mischief.lose_answer("made-1");
        mischief.lose_request("unsent-1");
        first
            .request_create(create_request("made-1"))
            .await
            .unwrap();
        first
            .request_create(create_request("unsent-1"))
            .await
            .unwrap();
        first.run_once().await.unwrap();
        for ref_id in ["made-1", "unsent-1"] {
            assert_eq!(
                first.instance(ref_id).await.unwrap().phase,
                Phase::Launching
            );
        }
        first.close().await;
    }
    assert_eq!(live_in_fake(&fake, "made-1").len(), 1);
    assert!(live_in_fake(&fake, "unsent-1").is_empty());

    let second = open(&db, lambda_credential(&fake)).await;
    run_until(&second, "made-1", |r| r.phase == Phase::Active).await;
    run_until(&second, "unsent-1", |r| r.phase == Phase::Active).await;
    assert_eq!(live_in_fake(&fake, "made-1").len(), 1, "not made twice");
    assert_eq!(live_in_fake(&fake, "unsent-1").len(), 1, "made once");
    assert_eq!(
        events_of(&second, "made-1").await[2].2,
        Cause::ResolvedByRefId.as_str()
    );
    assert_eq!(
        events_of(&second, "unsent-1").await[2].2,
        Cause::Created.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_terminate_finishes_it() {
    let fake = lambda_fake(Duration::from_millis(300)).await;
    let (_dir, db) = temp_db();
    {
        let first = open(&db, lambda_credential(&fake)).await;
        for ref_id in ["asked-1", "sent-1"] {
            first.request_create(create_request(ref_id)).await.unwrap();
        }
        run_until(&first, "asked-1", |r| {
            r.status == Some(LifecycleStatus::Running)
        })
        .await;
        run_until(&first, "sent-1", |r| {
            r.status == Some(LifecycleStatus::Running)
        })
        .await;
        // One terminate sent, one only asked for, when the process goes away.
        first.request_terminate("sent-1").await.unwrap();
        first.run_once().await.unwrap();
        assert_eq!(
            first.instance("sent-1").await.unwrap().phase,
            Phase::Terminating
        );
        first.request_terminate("asked-1").await.unwrap();
        first.close().await;
    }
    let second = open(&db, lambda_credential(&fake)).await;
    run_until(&second, "asked-1", |r| r.phase == Phase::Terminated).await;
    run_until(&second, "sent-1", |r| r.phase == Phase::Terminated).await;
    for ref_id in ["asked-1", "sent-1"] {
        assert!(live_in_fake(&fake, ref_id).is_empty());
        let events = events_of(&second, ref_id).await;
        let confirmed = events
            .iter()
            .filter(|e| e.2 == Cause::TerminateConfirmed.as_str())
            .count();
        assert_eq!(confirmed, 1, "{ref_id}: {events:?}");
        assert_eq!(
            events
                .iter()
                .filter(|e| e.2 == Cause::TerminateSent.as_str())
                .count(),
            1,
            "{ref_id}: {events:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_are_recorded_and_terminated_only_after_a_configured_grace() {
    let fake = lambda_fake(Duration::from_millis(50)).await;
    let (_dir, db) = temp_db();
    // An instance made with the fleet's credential mark, outside the fleet.
    let credential = lambda_credential(&fake);
    let client = credential.make_client("").await.unwrap();
    let made = gpucloud::validate_and_create(
        client.as_ref(),
        &gpucloud::CreateInstanceAttrs {
            location: REGION.into(),
            instance_type: INSTANCE_TYPE.into(),
            ref_id: "by-hand".into(),
            name: "by-hand".into(),
            public_key: PUBLIC_KEY.into(),
            ..gpucloud::CreateInstanceAttrs::default()
        },
    )
    .await
    .unwrap();

    let fleet = open(&db, credential.clone()).await;
    fleet.run_once().await.unwrap();
    fleet.run_once().await.unwrap();
    let orphans = fleet
        .instances(
            &InstanceFilter {
                phases: vec![Phase::Orphan],
                ..InstanceFilter::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(orphans.items.len(), 1);
    let orphan = &orphans.items[0];
    assert_eq!(orphan.cloud_id.as_deref(), Some(made.cloud_id.as_str()));
    assert_eq!(
        events_of(&fleet, &orphan.ref_id).await,
        vec![ev(None, orphan.status.unwrap().as_str(), "orphan_found")]
    );
    assert_eq!(
        live_in_fake(&fake, "by-hand").len(),
        1,
        "off by default: kept"
    );
    fleet.close().await;

    let mut config = support::config(&db, credential);
    config.orphan_grace = Some(Duration::ZERO);
    let fleet = Fleet::open(config).await.unwrap();
    run_until(&fleet, &orphan.ref_id, |r| r.phase == Phase::Terminated).await;
    assert!(live_in_fake(&fake, "by-hand").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ttl_terminates_the_instance_and_offers_come_from_the_store() {
    let fake = lambda_fake(Duration::from_millis(50)).await;
    let (_dir, db) = temp_db();
    let fleet = open(&db, lambda_credential(&fake)).await;
    let mut request = create_request("ttl-1");
    // Long enough for the create to go out first even on a loaded machine: a TTL that passes
    // before the create is sent ends the request without any create (and so without a
    // terminate), which is right but not what this test is about.
    request.ttl = Some(Duration::from_secs(3));
    fleet.request_create(request).await.unwrap();
    run_until(&fleet, "ttl-1", |r| r.phase == Phase::Active).await;
    run_until(&fleet, "ttl-1", |r| r.phase == Phase::Terminated).await;
    let sent = events_of(&fleet, "ttl-1")
        .await
        .into_iter()
        .find(|e| e.2 == Cause::TerminateSent.as_str());
    assert!(sent.is_some());

    // The catalog was written by the inventory pass; offers are read from it, not the fake.
    fake.state().reset_request_counts();
    let offers = fleet
        .offers(&gpucloud::offers::OfferQuery::default())
        .await
        .unwrap();
    assert!(
        offers
            .iter()
            .any(|o| o.offer.instance_type == INSTANCE_TYPE && o.credential == "lambda")
    );
    assert_eq!(fake.state().request_count("GET", "/api/v1/"), 0);
}

#[tokio::test]
async fn bad_requests_name_the_field_and_record_nothing() {
    let fake = lambda_fake(Duration::from_millis(50)).await;
    let (_dir, db) = temp_db();
    let fleet = open(&db, lambda_credential(&fake)).await;
    let mut request = create_request("bad-1");
    request.target = gpucloud_fleet::CreateTarget::Explicit {
        credential: "nope".into(),
        location: REGION.into(),
        instance_type: INSTANCE_TYPE.into(),
    };
    let error = fleet.request_create(request).await.unwrap_err();
    assert!(
        matches!(&error, gpucloud_fleet::FleetError::Invalid { field, .. } if field == "target.credential"),
        "{error}"
    );
    let mut request = create_request("bad-2");
    request.attrs.public_key = "not a key".into();
    let error = fleet.request_create(request).await.unwrap_err();
    assert!(
        matches!(&error, gpucloud_fleet::FleetError::Invalid { field, .. } if field.starts_with("attrs.")),
        "{error}"
    );
    let mut other = create_request("bad-3");
    fleet.request_create(other.clone()).await.unwrap();
    other.attrs.name = "another".into();
    assert!(matches!(
        fleet.request_create(other).await.unwrap_err(),
        gpucloud_fleet::FleetError::Conflict { .. }
    ));
    let page = fleet
        .instances(&InstanceFilter::default(), &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loops_run_until_shutdown_and_leave_nothing_half_recorded() {
    let fake = lambda_fake(Duration::from_millis(100)).await;
    let (_dir, db) = temp_db();
    let fleet = open(&db, lambda_credential(&fake)).await;
    let mut live = fleet.subscribe();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let fleet = fleet.clone();
        async move {
            fleet
                .run_until(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    fleet
        .request_create(create_request("loop-1"))
        .await
        .unwrap();
    // The loops alone take it to running.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let event = tokio::time::timeout_at(deadline, live.recv())
            .await
            .expect("running within 10 s")
            .unwrap();
        if event.ref_id == "loop-1" && event.to == "running" {
            break;
        }
    }
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    // After shutdown no new work is taken.
    assert!(matches!(
        fleet
            .request_create(create_request("loop-2"))
            .await
            .unwrap_err(),
        gpucloud_fleet::FleetError::ShuttingDown
    ));
    let record = fleet.instance("loop-1").await.unwrap();
    assert_eq!(record.phase, Phase::Active);
    assert_eq!(
        live_in_fake(&fake, "loop-1"),
        vec![record.cloud_id.unwrap()]
    );
    let metrics = fleet.metrics().await.unwrap();
    assert!(
        metrics
            .loops
            .contains_key(&gpucloud_fleet::LoopKind::Status)
    );
    fleet.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_of_a_credential_waits_for_its_one_limiter() {
    let fake = lambda_fake(Duration::from_millis(50)).await;
    let (_dir, db) = temp_db();
    let mut config = support::config(&db, lambda_credential(&fake));
    config.credentials[0] = config.credentials[0]
        .clone()
        .with_requests_per_second(std::num::NonZeroU32::new(2).unwrap());
    let fleet = Fleet::open(config).await.unwrap();
    // A catalog read, a list and a create in one pass: more than two calls in a second.
    fleet
        .request_create(create_request("limited-1"))
        .await
        .unwrap();
    fleet.run_once().await.unwrap();
    fleet.run_once().await.unwrap();
    let metrics = fleet.metrics().await.unwrap();
    assert!(
        metrics.rate_limit_waits.get("lambda").copied().unwrap_or(0) >= 1,
        "{metrics:?}"
    );
    assert!(
        metrics
            .to_prometheus()
            .contains("gpucloud_fleet_rate_limit_waits_total{credential=\"lambda\"}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_query_launches_on_the_cheapest_available_offer_with_failover() {
    let fake = lambda_fake(Duration::from_millis(50)).await;
    let (_dir, db) = temp_db();
    let fleet = open(&db, lambda_credential(&fake)).await;
    let mut query = gpucloud::offers::OfferQuery::default();
    query.filter.gpu = Some("A10".parse().unwrap());
    let mut request = create_request("offer-1");
    request.target = gpucloud_fleet::CreateTarget::Offers {
        query,
        credentials: vec!["lambda".into()],
        max_offers: 3,
    };
    fleet.request_create(request).await.unwrap();
    let record = fleet.instance("offer-1").await.unwrap();
    assert_eq!(record.credential, "", "placed only once an offer is chosen");
    run_until(&fleet, "offer-1", |r| {
        r.status == Some(LifecycleStatus::Running)
    })
    .await;
    let record = fleet.instance("offer-1").await.unwrap();
    assert_eq!(record.credential, "lambda");
    assert_eq!(
        Some(record.location.as_str()),
        record.instance.as_ref().map(|i| i.location.as_str()),
        "placed where the offer was"
    );
    assert_eq!(live_in_fake(&fake, "offer-1").len(), 1);
    let created = events_of(&fleet, "offer-1").await;
    assert_eq!(created[2].2, Cause::Created.as_str(), "{created:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_provider_does_not_hold_up_another_credential() {
    let slow = lambda_fake(Duration::from_millis(50)).await;
    slow.state()
        .set_fault(Fault::Latency(Duration::from_secs(3)));
    let fast = lambda_fake(Duration::from_millis(50)).await;
    let (_dir, db) = temp_db();
    let mut config = support::config(&db, lambda_credential(&fast));
    config
        .credentials
        .push(gpucloud_fleet::FleetCredential::new(
            "slow",
            "lambda",
            lambda_credential(&slow),
        ));
    let fleet = Fleet::open(config).await.unwrap();
    let mut live = fleet.subscribe();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let fleet = fleet.clone();
        async move {
            fleet
                .run_until(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    fleet
        .request_create(create_request("fast-1"))
        .await
        .unwrap();
    // Up and seen running while every call to the other provider takes 3 s.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(2500);
    loop {
        let event = tokio::time::timeout_at(deadline, live.recv())
            .await
            .expect("running before the slow provider answered once")
            .unwrap();
        if event.ref_id == "fast-1" && event.to == "running" {
            break;
        }
    }
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn instances_are_listed_in_pages_with_filters() {
    let fake = lambda_fake(Duration::from_millis(50)).await;
    let (_dir, db) = temp_db();
    let fleet = open(&db, lambda_credential(&fake)).await;
    for ref_id in ["page-1", "page-2", "page-3"] {
        fleet.request_create(create_request(ref_id)).await.unwrap();
    }
    let first = fleet
        .instances(
            &InstanceFilter::default(),
            &PageRequest {
                after: None,
                limit: 2,
            },
        )
        .await
        .unwrap();
    let refs: Vec<&str> = first.items.iter().map(|r| r.ref_id.as_str()).collect();
    assert_eq!(refs, ["page-1", "page-2"]);
    let second = fleet
        .instances(
            &InstanceFilter::default(),
            &PageRequest {
                after: first.next.clone(),
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].ref_id, "page-3");
    assert!(second.next.is_none());

    let by_phase = |phases: Vec<Phase>| InstanceFilter {
        phases,
        credential: Some("lambda".into()),
        ..InstanceFilter::default()
    };
    let requested = fleet
        .instances(
            &by_phase(vec![Phase::Requested, Phase::Orphan]),
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(requested.items.len(), 3);
    let active = fleet
        .instances(&by_phase(vec![Phase::Active]), &PageRequest::default())
        .await
        .unwrap();
    assert!(active.items.is_empty());
    assert!(matches!(
        fleet
            .instances(
                &InstanceFilter::default(),
                &PageRequest {
                    after: Some("garbage".into()),
                    limit: 10
                }
            )
            .await
            .unwrap_err(),
        gpucloud_fleet::FleetError::Invalid { .. }
    ));
    assert!(matches!(
        fleet
            .instances(
                &InstanceFilter::default(),
                &PageRequest {
                    after: None,
                    limit: 0
                }
            )
            .await
            .unwrap_err(),
        gpucloud_fleet::FleetError::Invalid { .. }
    ));
}

/// Fluidstack is locational: its status partitions are per region, learned from its catalog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locational_provider_is_watched_per_region_with_the_same_events() {
    use gpucloud::fluidstack::{FluidstackConfig, FluidstackCredential};
    use gpucloud_fakes::fluidstack::{FakeFluidstack, FakeFluidstackOptions};

    const REGION: &str = "us-east-1";
    const TYPE: &str = "h100-hgx-80gb.1x";
    let fake = FakeFluidstack::start(FakeFluidstackOptions {
        regions: vec![REGION.to_owned(), "eu-north-1".to_owned()],
        create_delay: Duration::from_millis(200),
        delete_delay: Duration::from_millis(200),
        ..FakeFluidstackOptions::default()
    })
    .await
    .unwrap();
    fake.state().set_capacity(REGION, TYPE, 10);
    let credential = Arc::new(
        FluidstackCredential::new(
            FluidstackConfig::new(fake.api_key(), fake.project_id().to_string())
                .with_regions([REGION, "eu-north-1"])
                .with_base_url(format!("{}/{{region}}/api/v1alpha1", fake.root_url()))
                .with_ref_id(MARK)
                .with_retry_backoff(Duration::from_millis(2)),
        )
        .unwrap(),
    );
    let (_dir, db) = temp_db();
    let mut config = support::config(&db, credential);
    config.credentials[0].name = "fluidstack".into();
    config.credentials[0].provider = "fluidstack".into();
    let fleet = Fleet::open(config).await.unwrap();
    let mut request = create_request("fs-1");
    request.target = gpucloud_fleet::CreateTarget::Explicit {
        credential: "fluidstack".into(),
        location: REGION.into(),
        instance_type: TYPE.into(),
    };
    fleet.request_create(request).await.unwrap();
    let report = fleet.run_once().await.unwrap();
    // One partition per region of the catalog, each listed once.
    assert_eq!(report.partitions_listed, 2, "{report:?}");
    run_until(&fleet, "fs-1", |r| {
        r.status == Some(LifecycleStatus::Running)
    })
    .await;
    fleet.request_terminate("fs-1").await.unwrap();
    run_until(&fleet, "fs-1", |r| r.phase == Phase::Terminated).await;
    let events = events_of(&fleet, "fs-1").await;
    assert_eq!(
        events.first(),
        Some(&ev(None, "requested", "create_requested"))
    );
    assert_eq!(
        events.last(),
        Some(&ev(
            Some("terminating"),
            "terminated",
            "terminate_confirmed"
        )),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e.1 == "running"), "{events:?}");
    assert!(
        !events
            .iter()
            .any(|e| e.2 == "vanished" || e.2 == "orphan_found")
    );
}

/// The process dies while a failover launch is still choosing its offer: the record says
/// launching with no credential. The next process finds no instance with its RefID in any
/// credential's list, sends it once, and nothing is made twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_before_a_failover_launch_chose_an_offer_launches_once() {
    let fake = lambda_fake(Duration::from_millis(50)).await;
    let (_dir, db) = temp_db();
    let mischief = Arc::new(Mischief::default());
    let first = open(
        &db,
        Arc::new(Meddling {
            inner: lambda_credential(&fake),
            mischief: mischief.clone(),
        }),
    )
    .await;
    first.run_once().await.unwrap();
    mischief.hang_catalogs.store(true, Ordering::SeqCst);
    let mut query = gpucloud::offers::OfferQuery::default();
    query.filter.gpu = Some("A10".parse().unwrap());
    let mut request = create_request("fo-1");
    request.target = gpucloud_fleet::CreateTarget::Offers {
        query,
        credentials: Vec::new(),
        max_offers: 3,
    };
    first.request_create(request).await.unwrap();
    let crashed = tokio::spawn({
        let first = first.clone();
        async move { first.run_until(std::future::pending()).await }
    });
    // The launch is under way, its offer not chosen, when the process goes away.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let record = first.instance("fo-1").await.unwrap();
        if record.phase == Phase::Launching {
            assert_eq!(record.credential, "", "no offer chosen yet");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{record:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    crashed.abort();
    assert!(live_in_fake(&fake, "fo-1").is_empty());
    fake.state().reset_request_counts();

    let second = open(&db, lambda_credential(&fake)).await;
    run_until(&second, "fo-1", |r| {
        r.status == Some(LifecycleStatus::Running)
    })
    .await;
    assert_eq!(live_in_fake(&fake, "fo-1").len(), 1, "made once");
    assert_eq!(
        fake.state()
            .request_count("POST", "/api/v1/instance-operations/launch"),
        1
    );
    let causes: Vec<String> = events_of(&second, "fo-1")
        .await
        .into_iter()
        .map(|e| e.2)
        .collect();
    assert_eq!(
        causes[..3],
        ["create_requested", "create_sent", "created"],
        "{causes:?}"
    );
    second.request_terminate("fo-1").await.unwrap();
    run_until(&second, "fo-1", |r| r.phase == Phase::Terminated).await;
    assert!(live_in_fake(&fake, "fo-1").is_empty(), "nothing leaked");
}
