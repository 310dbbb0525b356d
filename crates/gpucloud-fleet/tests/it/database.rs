//! The database itself unavailable: another writer holds it. Requests answer a retryable
//! `FleetError::Database`, the loops back off, and once it is free again nothing is lost.

use std::time::Duration;

use gpucloud::LifecycleStatus;
use gpucloud_fleet::{Fleet, FleetError, LoopKind, Phase};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::support::*;
use crate::temp_db;

fn reconcile_passes(metrics: &gpucloud_fleet::MetricsSnapshot) -> u64 {
    metrics
        .loops
        .get(&LoopKind::Reconcile)
        .map_or(0, |times| times.passes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_held_by_another_writer_answers_retryable_errors_and_loses_nothing() {
    let fake = lambda_fake(Duration::from_millis(50)).await;
    let (_dir, db) = temp_db();
    let mut config = config(&db, lambda_credential(&fake));
    config.database_busy_timeout = Duration::from_millis(100);
    config.max_backoff = Duration::from_secs(2);
    let fleet = Fleet::open(config).await.unwrap();
    fleet.request_create(create_request("db-up")).await.unwrap();
    run_until(&fleet, "db-up", |r| {
        r.status == Some(LifecycleStatus::Running)
    })
    .await;
    // A create and a terminate pending when the database goes away.
    fleet
        .request_create(create_request("db-new"))
        .await
        .unwrap();
    fleet.request_terminate("db-up").await.unwrap();
    let mut live = fleet.subscribe();
    let before = fleet.events_after(0, 1000).await.unwrap();

    // Another writer (a backup, a stuck shell) takes the database and keeps it.
    let mut holder = SqliteConnectOptions::new()
        .filename(&db)
        .connect()
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .unwrap();
    let error = fleet
        .request_create(create_request("db-late"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, FleetError::Database(_)) && error.is_retryable(),
        "{error}"
    );
    let error = fleet.request_terminate("db-new").await.unwrap_err();
    assert!(
        matches!(error, FleetError::Database(_)) && error.is_retryable(),
        "{error}"
    );

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
    let passes_before = reconcile_passes(&fleet.metrics().await.unwrap());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let passes = reconcile_passes(&fleet.metrics().await.unwrap()) - passes_before;
    // A tick every 200 ms would be 15 passes; backing off from 200 ms, doubling, is at most 5.
    assert!(
        (1..=6).contains(&passes),
        "{passes} reconcile passes in 3 s of outage"
    );
    // Nothing was sent on a record that could not be written.
    assert!(live_in_fake(&fake, "db-new").is_empty());
    assert_eq!(fleet.events_after(0, 1000).await.unwrap(), before);

    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    holder.close().await.unwrap();
    // The backoff is at most 2 s: within 10 s both are done, by the loops alone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let new = fleet.instance("db-new").await.unwrap();
        let up = fleet.instance("db-up").await.unwrap();
        if new.status == Some(LifecycleStatus::Running) && up.phase == Phase::Terminated {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not done after the outage: {new:?} {up:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The request refused during the outage is taken now.
    fleet
        .request_create(create_request("db-late"))
        .await
        .unwrap();
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();

    assert_eq!(live_in_fake(&fake, "db-new").len(), 1, "made once");
    assert!(live_in_fake(&fake, "db-up").is_empty());
    let events = fleet.events_after(0, 1000).await.unwrap();
    assert!(
        events.windows(2).all(|w| w[1].id == w[0].id + 1),
        "no gap in the event ids: {events:?}"
    );
    // Subscribers got every event written after the outage, in order.
    for event in &events[before.len()..] {
        assert_eq!(&live.recv().await.unwrap(), event);
    }
    for ref_id in ["db-up", "db-new"] {
        let causes: Vec<String> = events_of(&fleet, ref_id)
            .await
            .into_iter()
            .map(|e| e.2)
            .collect();
        for once in ["create_sent", "terminate_sent", "terminate_confirmed"] {
            assert!(
                causes.iter().filter(|c| *c == once).count() <= 1,
                "{ref_id}: {causes:?}"
            );
        }
    }
    fleet.close().await;
}
