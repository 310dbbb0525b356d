//! The status loop: one list call per (credential, location) partition, merged into the store
//! with the provider's merge-for-update rule, an event only where the state changed.
//!
//! - An instance missing from a list is looked up with a get before it is declared gone: a
//!   transient partial list never terminates a live instance.
//! - A list that fails marks the partition's instances stale (one event each) and keeps their
//!   last known state; the partition backs off alone.
//! - A listed instance with this credential's mark and no row is an orphan (recorded, with an
//!   event); one whose RefID is that of a create whose answer was lost resolves that create.

use std::collections::{HashMap, HashSet};

use gpucloud::{CloudClient, Instance, LifecycleStatus, ListInstancesArgs};

use crate::credentials::{Watched, status_key};
use crate::error::{FleetError, Result};
use crate::fleet::{Inner, PassReport};
use crate::model::{Cause, Desired, Phase};
use crate::store::{Change, InstanceRow, NEVER, NewEvent, PartitionOutcome, now_ms};

/// How often an unchanged instance's `last_seen_at` is rewritten: often enough for people,
/// rare enough that a pass where nothing changed writes (almost) no row.
const LAST_SEEN_RESOLUTION_MS: i64 = 60_000;

impl Inner {
    /// One pass of the status partition of `watched` at `location`.
    pub(crate) async fn status_pass(
        &self,
        watched: &Watched,
        location: &str,
    ) -> Result<PassReport> {
        let key = status_key(watched.name(), location);
        let Some(fence) = self.fence(&key, "status", watched.name(), location).await? else {
            return Ok(PassReport::default());
        };
        // What this list can prove absent is only what was sent before it was asked for: a
        // create sent while the list waited (on the limiter, on the network) may be missing
        // from it and still exist. So the list counts as of now, before anything is asked.
        let asked_at = now_ms();
        // The rows are read before the list is sent, so the list is never older than what
        // it is merged into: a row recorded meanwhile (a create answered while the list was
        // on its way) has a newer version, and the stale change to it is dropped at the
        // write instead of taking its status back.
        let rows = self.store.partition_instances(&key, watched.name()).await?;
        let listed = match watched.client(location).await {
            Ok(client) => {
                let answer = watched
                    .call(
                        &self.metrics,
                        "list_instances",
                        client.list_instances(&ListInstancesArgs::default()),
                    )
                    .await;
                answer.map(|list| (client, list))
            }
            Err(error) => Err(error),
        };
        let now = now_ms();
        let (outcome_ok, changes, error) = match listed {
            Ok((client, list)) => (
                true,
                self.merge_list(watched, &client, &key, &rows, list, now)
                    .await?,
                None,
            ),
            Err(error) => {
                let message = error.to_string();
                tracing::warn!(partition = %key, %error, "list failed; instances marked stale");
                (false, stale_changes(&key, &rows, &message), Some(message))
            }
        };
        let failures = self.store.partition_failures(&key).await?;
        let outcome = match &error {
            None => PartitionOutcome::Ok {
                next_run_at: now.saturating_add(crate::store::millis(self.config.status_interval)),
            },
            Some(message) => PartitionOutcome::Failed {
                next_run_at: now.saturating_add(crate::store::millis(Self::backoff(
                    self.config.status_interval,
                    failures.saturating_add(1),
                    self.config.max_backoff,
                ))),
                error: message,
            },
        };
        let written = match self.store.finish_partition(&fence, outcome, &changes).await {
            Ok(written) => written,
            Err(error @ FleetError::LeaseLost { .. }) => {
                self.lost(&key);
                return Err(error);
            }
            Err(error) => return Err(error),
        };
        // A list whose changes were all written is the partition's latest word. One whose
        // change was dropped (the reconcile loop wrote that row meanwhile) is not: it may have
        // shown a create's RefID that was not adopted, and must not count as proof that the
        // create made nothing. The next pass reads the row again.
        if outcome_ok && written.applied == changes.len() {
            self.listed_at
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key.clone(), asked_at);
        } else if let Some(message) = &error {
            self.store.credential_error(watched.name(), message).await?;
        }
        Ok(PassReport {
            partitions_listed: usize::from(outcome_ok),
            partitions_failed: usize::from(!outcome_ok),
            events: self.publish(written.events),
            ..PassReport::default()
        })
    }

    /// The changes a successful list makes to the partition's rows.
    async fn merge_list(
        &self,
        watched: &Watched,
        client: &std::sync::Arc<dyn CloudClient>,
        key: &str,
        rows: &[InstanceRow],
        list: Vec<Instance>,
        now: i64,
    ) -> Result<Vec<Change>> {
        let mine: Vec<&InstanceRow> = rows
            .iter()
            .filter(|r| r.partition_key.as_deref() == Some(key))
            .collect();
        let by_cloud_id: HashMap<&str, &InstanceRow> = mine
            .iter()
            .filter_map(|r| Some((r.cloud_id.as_deref()?, *r)))
            .collect();
        let creating = self
            .creating
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let awaiting: HashMap<&str, &InstanceRow> = rows
            .iter()
            .filter(|r| r.cloud_id.is_none() && !creating.contains(&r.ref_id))
            .map(|r| (r.ref_id.as_str(), r))
            .collect();
        let mut changes = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for instance in list {
            let cloud_id = instance.cloud_id.as_str().to_owned();
            seen.insert(cloud_id.clone());
            if let Some(row) = by_cloud_id.get(cloud_id.as_str()) {
                changes.extend(observe(client.as_ref(), row, instance, now));
            } else if let Some(row) = awaiting.get(instance.ref_id.as_str()) {
                changes.push(adopt(row, key, watched, instance, now));
            } else if creating.contains(&instance.ref_id) {
                // Its create is in flight here and will record it: not an orphan.
            } else if !instance.lifecycle().is_terminal() {
                // The rows were read before the list was sent: a create recorded since then
                // has a row this pass did not read. Not an orphan; the next pass merges it.
                let recorded_since = !instance.ref_id.is_empty()
                    && self.store.instance(&instance.ref_id).await?.is_some();
                if !recorded_since {
                    changes.push(orphan(key, watched, instance, now));
                }
            }
        }
        // Missing from the list: confirm with a get before believing it gone.
        for row in mine {
            let Some(cloud_id) = row.cloud_id.as_deref() else {
                continue;
            };
            if seen.contains(cloud_id) || !row.is_live() {
                continue;
            }
            let id = gpucloud::InstanceId::new(cloud_id);
            match watched
                .call(&self.metrics, "get_instance", client.get_instance(&id))
                .await
            {
                Ok(instance) => changes.extend(observe(client.as_ref(), row, instance, now)),
                Err(error) if error.is_not_found() => changes.push(gone(row, now)),
                Err(error) => {
                    tracing::info!(ref_id = %row.ref_id, %error, "missing from the list and the get failed; kept as it was");
                }
            }
        }
        // The partition answers again: instances left stale and otherwise unchanged recover.
        let changed: HashSet<i64> = changes.iter().map(|c| c.row.id).collect();
        for row in rows
            .iter()
            .filter(|r| r.partition_key.as_deref() == Some(key))
        {
            if row.stale && !changed.contains(&row.id) {
                let mut recovered = row.clone();
                recovered.stale = false;
                changes.push(Change {
                    event: Some(event(row, row.state(), Cause::Recovered, None)),
                    row: recovered,
                });
            }
        }
        Ok(changes)
    }
}

/// The event of a row whose state becomes `to`.
fn event(row: &InstanceRow, to: String, cause: Cause, detail: Option<String>) -> NewEvent {
    NewEvent {
        ref_id: row.ref_id.clone(),
        from: Some(row.state()),
        to,
        cause,
        detail,
    }
}

/// A listed instance merged into its row; `None` when nothing worth a write changed.
fn observe(
    client: &dyn CloudClient,
    row: &InstanceRow,
    fresh: Instance,
    now: i64,
) -> Option<Change> {
    let merged = match &row.model {
        Some(current) => client.merge_instance_for_update(current, fresh),
        None => fresh,
    };
    let observed = merged.lifecycle();
    let mut next = row.clone();
    next.stale = false;
    next.first_seen_at.get_or_insert(now);
    // Once a terminate was accepted the provider may still show the old state for a moment;
    // that is not a change back.
    let catching_up = row.phase == Phase::Terminating && !observed.is_terminal();
    if !catching_up {
        next.status = Some(observed);
    }
    if observed == LifecycleStatus::Terminated {
        next.phase = Phase::Terminated;
        next.next_run_at = NEVER;
    }
    next.tags.clone_from(&merged.tags);
    next.model = Some(merged);
    if next
        .last_seen_at
        .is_none_or(|at| now - at >= LAST_SEEN_RESOLUTION_MS)
    {
        next.last_seen_at = Some(now);
    }
    if next == *row {
        return None;
    }
    let changed = (next.state() != row.state()).then(|| {
        let cause = if next.phase == Phase::Terminated && row.desired == Desired::Terminated {
            Cause::TerminateConfirmed
        } else {
            Cause::Observed
        };
        event(row, next.state(), cause, None)
    });
    let recorded = changed.or_else(|| {
        row.stale
            .then(|| event(row, next.state(), Cause::Recovered, None))
    });
    Some(Change {
        row: next,
        event: recorded,
    })
}

/// A create whose outcome was lost, found by its RefID.
fn adopt(row: &InstanceRow, key: &str, watched: &Watched, instance: Instance, now: i64) -> Change {
    let mut next = row.clone();
    next.cloud_id = Some(instance.cloud_id.as_str().to_owned());
    watched.name().clone_into(&mut next.credential);
    next.provider.clone_from(&watched.config.provider);
    if next.location.is_empty() {
        next.location.clone_from(&instance.location);
    }
    next.partition_key = Some(key.to_owned());
    next.phase = Phase::Active;
    next.status = Some(instance.lifecycle());
    next.first_seen_at = Some(now);
    next.last_seen_at = Some(now);
    next.tags.clone_from(&instance.tags);
    next.model = Some(instance);
    next.attempts = 0;
    next.last_error = None;
    next.next_run_at = if next.desired == Desired::Terminated {
        now
    } else {
        next.expires_at.unwrap_or(NEVER)
    };
    Change {
        event: Some(event(row, next.state(), Cause::ResolvedByRefId, None)),
        row: next,
    }
}

/// An instance with this credential's mark that no row knows.
fn orphan(key: &str, watched: &Watched, instance: Instance, now: i64) -> Change {
    let cloud_id = instance.cloud_id.as_str().to_owned();
    let detail = (!instance.ref_id.is_empty()).then(|| format!("its RefID is {}", instance.ref_id));
    let row = InstanceRow {
        id: 0,
        ref_id: format!("orphan:{}:{cloud_id}", watched.name()),
        credential: watched.name().to_owned(),
        provider: watched.config.provider.clone(),
        location: instance.location.clone(),
        partition_key: Some(key.to_owned()),
        cloud_id: Some(cloud_id),
        desired: Desired::Unmanaged,
        phase: Phase::Orphan,
        status: Some(instance.lifecycle()),
        stale: false,
        first_seen_at: Some(now),
        last_seen_at: Some(now),
        price: None,
        tags: instance.tags.clone(),
        model: Some(instance),
        request: None,
        attempts: 0,
        next_run_at: NEVER,
        sent_at: None,
        last_error: None,
        created_at: now,
        updated_at: now,
        expires_at: None,
        version: 0,
    };
    Change {
        event: Some(NewEvent {
            ref_id: row.ref_id.clone(),
            from: None,
            to: row.state(),
            cause: Cause::OrphanFound,
            detail,
        }),
        row,
    }
}

/// An instance the provider confirmed absent (a get answered not found).
fn gone(row: &InstanceRow, now: i64) -> Change {
    let mut next = row.clone();
    next.phase = Phase::Terminated;
    next.status = Some(LifecycleStatus::Terminated);
    next.stale = false;
    next.next_run_at = NEVER;
    next.last_seen_at = Some(now);
    let cause = if row.desired == Desired::Terminated {
        Cause::TerminateConfirmed
    } else {
        Cause::Vanished
    };
    Change {
        event: Some(event(row, next.state(), cause, None)),
        row: next,
    }
}

/// The partition's list failed: its live instances become stale (once), state kept.
fn stale_changes(key: &str, rows: &[InstanceRow], error: &str) -> Vec<Change> {
    rows.iter()
        .filter(|r| r.partition_key.as_deref() == Some(key) && r.is_live())
        .filter(|r| r.cloud_id.is_some() && !r.stale)
        .map(|row| {
            let mut next = row.clone();
            next.stale = true;
            Change {
                event: Some(event(
                    row,
                    row.state(),
                    Cause::Stale,
                    Some(error.to_owned()),
                )),
                row: next,
            }
        })
        .collect()
}
