//! The store: one schema in versioned migrations, on SQLite through sqlx.
//!
//! Every statement is written so that it also runs on Postgres (`$N` parameters, `RETURNING`,
//! integers for times and flags), so the Postgres store of issue 27 reuses the SQL and adds
//! the lease claim. Loop writes are *fenced*: they run in a transaction that first renews the
//! partition's lease with `WHERE owner = $ AND epoch = $`, and stop when that matches nothing.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use gpucloud::{Instance, InstanceType, LifecycleStatus, Price, Tags};
use jiff::Timestamp;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Row, Sqlite, Transaction};

use crate::config::{Database, FleetCredential};
use crate::error::{FleetError, Result};
use crate::model::{
    Cause, CreateRequest, CredentialInfo, Desired, Event, InstanceFilter, InstanceRecord, Page,
    PageRequest, Phase,
};

/// The migrations, oldest first: (version, description, SQL). Never edit one that shipped; add
/// the next.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/0001_initial.sql")),
    (
        2,
        "instance ttl and version",
        include_str!("../migrations/0002_instance_ttl.sql"),
    ),
];

/// A migrator for the first `up_to` migrations (all of them with `usize::MAX`).
pub(crate) fn migrator(up_to: usize) -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .take(up_to)
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                Cow::Borrowed(*sql),
                false,
            )
        })
        .collect::<Vec<_>>();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

/// A time in the store's unit, for people.
pub(crate) fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A duration in the store's unit.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// "Never", as a `next_run_at`.
pub(crate) const NEVER: i64 = i64::MAX;

/// The right to write for one partition: the holder and the epoch it took it at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fence {
    pub key: String,
    pub owner: String,
    pub epoch: i64,
    /// How long a renewal holds.
    pub lease_ms: i64,
}

/// A partition as stored.
#[derive(Debug, Clone)]
pub(crate) struct PartitionRow {
    pub key: String,
    pub next_run_at: i64,
}

/// An instance as stored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InstanceRow {
    pub id: i64,
    pub ref_id: String,
    pub credential: String,
    pub provider: String,
    pub location: String,
    pub partition_key: Option<String>,
    pub cloud_id: Option<String>,
    pub desired: Desired,
    pub phase: Phase,
    pub status: Option<LifecycleStatus>,
    pub stale: bool,
    pub first_seen_at: Option<i64>,
    pub last_seen_at: Option<i64>,
    pub price: Option<Price>,
    pub tags: Tags,
    pub model: Option<Instance>,
    pub request: Option<CreateRequest>,
    pub attempts: u32,
    pub next_run_at: i64,
    pub sent_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: Option<i64>,
    /// The version read; an update applies only while the row still has it.
    pub version: i64,
}

impl InstanceRow {
    /// The state events speak of: the provider's status once it said one, else the phase.
    pub fn state(&self) -> String {
        match (self.phase, self.status) {
            (Phase::Requested | Phase::Launching | Phase::LaunchFailed, _) | (_, None) => {
                self.phase.as_str().to_owned()
            }
            (_, Some(status)) => status.as_str().to_owned(),
        }
    }

    /// True while the fleet still has something to do or watch.
    pub fn is_live(&self) -> bool {
        !matches!(self.phase, Phase::Terminated | Phase::LaunchFailed)
    }

    pub fn to_record(&self) -> InstanceRecord {
        InstanceRecord {
            ref_id: self.ref_id.clone(),
            credential: self.credential.clone(),
            provider: self.provider.clone(),
            location: self.location.clone(),
            cloud_id: self.cloud_id.clone(),
            desired: self.desired,
            phase: self.phase,
            status: self.status,
            stale: self.stale,
            first_seen_at: self.first_seen_at.map(timestamp),
            last_seen_at: self.last_seen_at.map(timestamp),
            price: self.price.clone(),
            tags: self.tags.clone(),
            instance: self.model.clone(),
            attempts: self.attempts,
            last_error: self.last_error.clone(),
            expires_at: self.expires_at.map(timestamp),
            created_at: timestamp(self.created_at),
            updated_at: timestamp(self.updated_at),
        }
    }
}

/// A change to record: the row after it and, when its state changed, the event.
#[derive(Debug)]
pub(crate) struct Change {
    pub row: InstanceRow,
    pub event: Option<NewEvent>,
}

/// What a write did.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// The events written, with their ids.
    pub events: Vec<Event>,
    /// Changes applied (the others found their row changed since it was read).
    pub applied: usize,
}

/// An event before it has its id.
#[derive(Debug, Clone)]
pub(crate) struct NewEvent {
    pub ref_id: String,
    pub from: Option<String>,
    pub to: String,
    pub cause: Cause,
    pub detail: Option<String>,
}

/// A catalog entry as the inventory loop writes it.
#[derive(Debug, Clone)]
pub(crate) struct CatalogEntry {
    pub location: String,
    pub instance_type_id: String,
    pub instance_type: String,
    pub price: Option<String>,
    pub available: bool,
    pub entry: String,
}

/// Rows written by a catalog diff.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CatalogDiff {
    pub inserted: usize,
    pub updated: usize,
    pub deleted: usize,
}

/// The fleet's database.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pool: SqlitePool,
}

const INSTANCE_COLUMNS: &str = "id, ref_id, credential, provider, location, partition_key, \
     cloud_id, desired, phase, status, stale, first_seen_at, last_seen_at, price, tags, model, \
     request, attempts, next_run_at, sent_at, last_error, created_at, updated_at, expires_at, version";

impl Store {
    /// Opens (creating when missing) and upgrades the database. An existing database is
    /// migrated forward, never reset; a database newer than this build is refused. A write
    /// waits up to `busy_timeout` for another writer.
    ///
    /// A database file is made ready on one connection of its own before the pool opens any:
    /// the pool opens its first connections concurrently, and two connections switching a new
    /// file to WAL at once make one fail with "database is locked" (see [`switch_to_wal`]).
    /// The pool's connections then only set what is per connection (the busy timeout, the
    /// sync level); WAL is a property of the file.
    pub async fn open(database: &Database, busy_timeout: Duration) -> Result<Self> {
        let options = match database {
            Database::Sqlite(path) => {
                if let Some(dir) = path.parent()
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        FleetError::invalid(
                            "database",
                            format!("cannot create the directory {}: {e}", dir.display()),
                        )
                    })?;
                }
                create_private(path)?;
                SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
            }
            Database::SqliteInMemory => SqliteConnectOptions::from_str("sqlite::memory:")?,
        }
        // A create is recorded as launching before it is sent: that record must survive a
        // power loss too, so every commit is synced (WAL keeps that to one fsync per commit).
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(busy_timeout);
        match database {
            Database::Sqlite(_) => {
                prepare_file(&options, busy_timeout).await?;
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(options)
                    .await?;
                Ok(Self { pool })
            }
            Database::SqliteInMemory => {
                // Every connection would be a separate database: keep one, which nothing else
                // can reach, so it is migrated through the pool.
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(options)
                    .await?;
                migrator(usize::MAX).run(&pool).await?;
                Ok(Self { pool })
            }
        }
    }

    /// The pool, for tests that look at the schema.
    #[cfg(test)]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Opens a write transaction holding the write lock from its first statement
    /// (`BEGIN IMMEDIATE`). A deferred transaction that reads before it writes cannot wait for
    /// another writer (SQLite skips the busy handler when a reader asks for the write lock) and
    /// fails at once with "database is locked"; taking the lock at `BEGIN` waits up to the
    /// busy timeout instead. Reads stay outside transactions, so they never wait on writers.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Waits for writes in flight and closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Records the configured credentials (name, provider, reference id; never a secret).
    pub async fn sync_credentials(&self, credentials: &[FleetCredential]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for credential in credentials {
            let identity = credential.credential.identity();
            sqlx::query(
                "INSERT INTO credentials (name, provider, provider_id, reference_id) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO UPDATE SET provider = excluded.provider, \
                 provider_id = excluded.provider_id, reference_id = excluded.reference_id",
            )
            .bind(&credential.name)
            .bind(&credential.provider)
            .bind(identity.provider_id().as_str())
            .bind(identity.reference_id())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The credentials recorded, in name order, limited to `names`.
    pub async fn credentials(&self, names: &[String]) -> Result<Vec<CredentialInfo>> {
        let rows = sqlx::query(
            "SELECT name, provider, provider_id, reference_id, inventory_at, last_error \
             FROM credentials ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| CredentialInfo {
                name: row.get("name"),
                provider: row.get("provider"),
                provider_id: row.get("provider_id"),
                reference_id: row.get("reference_id"),
                inventory_at: row.get::<Option<i64>, _>("inventory_at").map(timestamp),
                last_error: row.get("last_error"),
            })
            .filter(|c| names.contains(&c.name))
            .collect())
    }

    /// Takes (or keeps) the lease on partition `key`: creates it when missing, takes it over
    /// with the next epoch when another holder's lease ran out or `owner` is new to it, and
    /// returns the fence to write with. `None` while another holder's lease runs.
    pub async fn claim_partition(
        &self,
        key: &str,
        kind: &str,
        credential: &str,
        location: &str,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Fence>> {
        let now = now_ms();
        let lease_ms = millis(lease);
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO partitions (key, kind, credential, location) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(kind)
        .bind(credential)
        .bind(location)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "UPDATE partitions SET \
               epoch = CASE WHEN owner = $2 THEN epoch ELSE epoch + 1 END, \
               owner = $2, expires_at = $3 \
             WHERE key = $1 AND (owner IS NULL OR owner = $2 OR expires_at < $4) \
             RETURNING epoch",
        )
        .bind(key)
        .bind(owner)
        .bind(now.saturating_add(lease_ms))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.map(|row| Fence {
            key: key.to_owned(),
            owner: owner.to_owned(),
            epoch: row.get("epoch"),
            lease_ms,
        }))
    }

    /// Takes over every partition at the next epoch, whoever held it: what a process does when
    /// it opens an SQLite database, which only one process uses (a holder that died without
    /// releasing is fenced out at once instead of after its lease).
    pub async fn take_over_all(&self, owner: &str) -> Result<()> {
        sqlx::query("UPDATE partitions SET owner = $1, epoch = epoch + 1, expires_at = 0")
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Gives up `owner`'s leases (graceful shutdown), so another holder need not wait them out.
    pub async fn release_partitions(&self, owner: &str) -> Result<()> {
        sqlx::query("UPDATE partitions SET owner = NULL, expires_at = 0 WHERE owner = $1")
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Renews the lease inside `tx`; `LeaseLost` when the partition is no longer the fence's.
    async fn fenced(tx: &mut Transaction<'_, Sqlite>, fence: &Fence) -> Result<()> {
        let renewed = sqlx::query(
            "UPDATE partitions SET expires_at = $1 WHERE key = $2 AND owner = $3 AND epoch = $4",
        )
        .bind(now_ms().saturating_add(fence.lease_ms))
        .bind(&fence.key)
        .bind(&fence.owner)
        .bind(fence.epoch)
        .execute(&mut **tx)
        .await?;
        if renewed.rows_affected() == 1 {
            Ok(())
        } else {
            Err(FleetError::LeaseLost {
                partition: fence.key.clone(),
            })
        }
    }

    /// The partitions of `kind`, in key order.
    pub async fn partitions(&self, kind: &str) -> Result<Vec<PartitionRow>> {
        let rows =
            sqlx::query("SELECT key, next_run_at FROM partitions WHERE kind = $1 ORDER BY key")
                .bind(kind)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|row| PartitionRow {
                key: row.get("key"),
                next_run_at: row.get("next_run_at"),
            })
            .collect())
    }

    /// Failures in a row of one partition (0 when it has none or does not exist yet).
    pub async fn partition_failures(&self, key: &str) -> Result<u32> {
        let failures: Option<i64> =
            sqlx::query_scalar("SELECT failures FROM partitions WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(failures.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
    }

    /// Where a locational credential has something to watch: the locations of its catalog
    /// and of its live instances.
    pub async fn watched_locations(&self, credential: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT location FROM catalog WHERE credential = $1 \
             UNION SELECT DISTINCT location FROM instances \
               WHERE credential = $1 AND location <> '' AND phase NOT IN ('terminated', 'launch_failed') \
             ORDER BY location",
        )
        .bind(credential)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|row| row.get("location")).collect())
    }

    /// Records a pass of a partition: a success clears its failures and stale flag (the
    /// instances' own flags are the caller's changes), a failure counts and pushes its next
    /// run out. Fenced, together with `changes`; a change whose row changed since it was read
    /// is dropped (not counted in `applied`).
    pub async fn finish_partition(
        &self,
        fence: &Fence,
        outcome: PartitionOutcome<'_>,
        changes: &[Change],
    ) -> Result<Written> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        Self::fenced(&mut tx, fence).await?;
        match outcome {
            PartitionOutcome::Ok { next_run_at } => {
                sqlx::query(
                    "UPDATE partitions SET failures = 0, stale = 0, last_ok_at = $1, \
                     last_error = NULL, next_run_at = $2 WHERE key = $3",
                )
                .bind(now)
                .bind(next_run_at)
                .bind(&fence.key)
                .execute(&mut *tx)
                .await?;
            }
            PartitionOutcome::Failed { next_run_at, error } => {
                sqlx::query(
                    "UPDATE partitions SET failures = failures + 1, stale = 1, last_error = $1, \
                     next_run_at = $2 WHERE key = $3",
                )
                .bind(error)
                .bind(next_run_at)
                .bind(&fence.key)
                .execute(&mut *tx)
                .await?;
            }
        }
        let written = Self::apply(&mut tx, changes, now).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Writes changes and their events in one transaction; fenced when `fence` is given.
    /// A change to a row that another writer changed since it was read is dropped.
    pub async fn write(&self, fence: Option<&Fence>, changes: &[Change]) -> Result<Written> {
        let mut tx = self.begin_write().await?;
        if let Some(fence) = fence {
            Self::fenced(&mut tx, fence).await?;
        }
        let written = Self::apply(&mut tx, changes, now_ms()).await?;
        tx.commit().await?;
        Ok(written)
    }

    async fn apply(
        tx: &mut Transaction<'_, Sqlite>,
        changes: &[Change],
        now: i64,
    ) -> Result<Written> {
        let mut written = Written::default();
        for change in changes {
            let row = &change.row;
            if row.id == 0 {
                insert_instance(tx, row, now).await?;
            } else if !update_instance(tx, row, now).await? {
                tracing::debug!(ref_id = %row.ref_id, "instance changed meanwhile; change dropped");
                continue;
            }
            written.applied += 1;
            if let Some(event) = &change.event {
                written.events.push(insert_event(tx, event, now).await?);
            }
        }
        Ok(written)
    }

    /// Inserts a new instance row with its first event; `Conflict`-free when the RefID is new.
    /// Returns `None` when the RefID is taken (the caller compares with the existing row).
    pub async fn insert_new(
        &self,
        row: &InstanceRow,
        event: &NewEvent,
    ) -> Result<Option<(InstanceRow, Event)>> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query("SELECT 1 FROM instances WHERE ref_id = $1")
            .bind(&row.ref_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if taken {
            return Ok(None);
        }
        let id = insert_instance(&mut tx, row, now).await?;
        let event = insert_event(&mut tx, event, now).await?;
        tx.commit().await?;
        let mut row = row.clone();
        row.id = id;
        row.created_at = now;
        row.updated_at = now;
        Ok(Some((row, event)))
    }

    /// The instance with this RefID.
    pub async fn instance(&self, ref_id: &str) -> Result<Option<InstanceRow>> {
        let row = sqlx::query(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances WHERE ref_id = $1"
        ))
        .bind(ref_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(instance_row))
    }

    /// The instances of a status partition, and the unplaced or launching ones of its
    /// credential (a list may find those by RefID).
    pub async fn partition_instances(
        &self,
        partition_key: &str,
        credential: &str,
    ) -> Result<Vec<InstanceRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances \
             WHERE partition_key = $1 \
                OR (cloud_id IS NULL AND phase IN ('requested', 'launching') \
                    AND (credential = $2 OR credential = '')) \
             ORDER BY id"
        ))
        .bind(partition_key)
        .bind(credential)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(instance_row).collect())
    }

    /// Instances the reconcile loop has to look at now: due ones, and orphans (whose grace
    /// is the fleet's configuration, not the row's).
    pub async fn due_instances(&self, now: i64) -> Result<Vec<InstanceRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances \
             WHERE phase NOT IN ('terminated', 'launch_failed') \
               AND (next_run_at <= $1 OR (expires_at IS NOT NULL AND expires_at <= $1) \
                    OR phase = 'orphan') \
             ORDER BY next_run_at, id"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(instance_row).collect())
    }

    /// One page of instances passing `filter`, oldest first.
    pub async fn instances(
        &self,
        filter: &InstanceFilter,
        page: &PageRequest,
    ) -> Result<Page<InstanceRecord>> {
        let after = match &page.after {
            None => 0,
            Some(cursor) => cursor.parse::<i64>().map_err(|_| {
                FleetError::invalid("after", format!("{cursor:?} is not a cursor this API gave"))
            })?,
        };
        let limit = page.limit.clamp(1, crate::model::MAX_PAGE);
        // Phases are a closed set of known strings: one placeholder each, from $7 on.
        let phases = if filter.phases.is_empty() {
            String::new()
        } else {
            let placeholders: Vec<String> = (0..filter.phases.len())
                .map(|i| format!("${}", i + 7))
                .collect();
            format!("AND phase IN ({})", placeholders.join(", "))
        };
        let sql = format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances \
             WHERE id > $1 \
               AND ($2 IS NULL OR credential = $2) \
               AND ($3 IS NULL OR provider = $3) \
               AND ($4 IS NULL OR location = $4) \
               AND ($5 = 0 OR phase NOT IN ('terminated', 'launch_failed')) {phases} \
             ORDER BY id LIMIT $6"
        );
        let mut query = sqlx::query(&sql)
            .bind(after)
            .bind(filter.credential.as_deref())
            .bind(filter.provider.as_deref())
            .bind(filter.location.as_deref())
            .bind(i64::from(filter.live_only))
            .bind(i64::from(limit) + 1);
        for phase in &filter.phases {
            query = query.bind(phase.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut items: Vec<InstanceRow> = rows.iter().map(instance_row).collect();
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|row| row.id.to_string())
        } else {
            None
        };
        Ok(Page {
            items: items.iter().map(InstanceRow::to_record).collect(),
            next,
        })
    }

    /// Instances per (phase, status).
    pub async fn instance_counts(&self) -> Result<Vec<(String, String, u64)>> {
        let rows = sqlx::query(
            "SELECT phase, COALESCE(status, 'none') AS status, COUNT(*) AS n \
             FROM instances GROUP BY phase, COALESCE(status, 'none') ORDER BY phase, status",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| {
                (
                    row.get("phase"),
                    row.get("status"),
                    u64::try_from(row.get::<i64, _>("n")).unwrap_or(0),
                )
            })
            .collect())
    }

    /// Up to `limit` events with an id above `after`, in id order.
    pub async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT id, ref_id, from_state, to_state, at, cause, detail FROM events \
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit.clamp(1, crate::model::MAX_PAGE)))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(event_row).collect())
    }

    /// Replaces a credential's catalog with `entries`, writing only what differs; records the
    /// time of the read.
    pub async fn write_catalog(
        &self,
        fence: &Fence,
        credential: &str,
        provider: &str,
        entries: &[CatalogEntry],
    ) -> Result<CatalogDiff> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        Self::fenced(&mut tx, fence).await?;
        let existing = sqlx::query(
            "SELECT instance_type_id, price, available, entry FROM catalog WHERE credential = $1",
        )
        .bind(credential)
        .fetch_all(&mut *tx)
        .await?;
        let mut old: std::collections::HashMap<String, (Option<String>, bool, String)> = existing
            .iter()
            .map(|row| {
                (
                    row.get("instance_type_id"),
                    (
                        row.get("price"),
                        row.get::<i64, _>("available") != 0,
                        row.get("entry"),
                    ),
                )
            })
            .collect();
        let mut diff = CatalogDiff::default();
        for entry in entries {
            match old.remove(&entry.instance_type_id) {
                Some((price, available, json))
                    if price == entry.price
                        && available == entry.available
                        && json == entry.entry => {}
                Some(_) => {
                    sqlx::query(
                        "UPDATE catalog SET location = $1, instance_type = $2, price = $3, \
                         available = $4, entry = $5, fetched_at = $6 \
                         WHERE credential = $7 AND instance_type_id = $8",
                    )
                    .bind(&entry.location)
                    .bind(&entry.instance_type)
                    .bind(&entry.price)
                    .bind(i64::from(entry.available))
                    .bind(&entry.entry)
                    .bind(now)
                    .bind(credential)
                    .bind(&entry.instance_type_id)
                    .execute(&mut *tx)
                    .await?;
                    diff.updated += 1;
                }
                None => {
                    sqlx::query(
                        "INSERT INTO catalog (credential, provider, location, instance_type_id, \
                         instance_type, price, available, entry, fetched_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                         ON CONFLICT (credential, instance_type_id) DO NOTHING",
                    )
                    .bind(credential)
                    .bind(provider)
                    .bind(&entry.location)
                    .bind(&entry.instance_type_id)
                    .bind(&entry.instance_type)
                    .bind(&entry.price)
                    .bind(i64::from(entry.available))
                    .bind(&entry.entry)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    diff.inserted += 1;
                }
            }
        }
        for gone in old.keys() {
            sqlx::query("DELETE FROM catalog WHERE credential = $1 AND instance_type_id = $2")
                .bind(credential)
                .bind(gone)
                .execute(&mut *tx)
                .await?;
            diff.deleted += 1;
        }
        sqlx::query("UPDATE credentials SET inventory_at = $1, last_error = NULL WHERE name = $2")
            .bind(now)
            .bind(credential)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(diff)
    }

    /// Notes a credential's last failure (shown by `credentials()`).
    pub async fn credential_error(&self, credential: &str, error: &str) -> Result<()> {
        sqlx::query("UPDATE credentials SET last_error = $1 WHERE name = $2")
            .bind(error)
            .bind(credential)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every catalog entry of these credentials, as (credential, entry).
    pub async fn catalog(&self) -> Result<Vec<(String, InstanceType)>> {
        let rows = sqlx::query("SELECT credential, entry FROM catalog ORDER BY credential")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let entry: String = row.get("entry");
                match serde_json::from_str::<InstanceType>(&entry) {
                    Ok(parsed) => Some((row.get("credential"), parsed)),
                    Err(error) => {
                        tracing::warn!(%error, "skipping an unreadable catalog row");
                        None
                    }
                }
            })
            .collect())
    }

    /// The catalog price of a type, for a new instance's record.
    pub async fn catalog_price(
        &self,
        credential: &str,
        location: &str,
        instance_type: &str,
    ) -> Result<Option<Price>> {
        let row = sqlx::query(
            "SELECT price FROM catalog WHERE credential = $1 AND location = $2 \
             AND instance_type = $3 AND price IS NOT NULL LIMIT 1",
        )
        .bind(credential)
        .bind(location)
        .bind(instance_type)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .and_then(|row| row.get::<Option<String>, _>("price"))
            .and_then(|json| serde_json::from_str(&json).ok()))
    }
}

/// Makes a database file ready for the pool, on one connection: switches it to WAL and applies
/// the migrations it lacks. The migrations run inside one `BEGIN IMMEDIATE` transaction (each
/// in a savepoint), so that two processes opening the same file at once apply them once: the
/// second waits for the first's write lock, up to the busy timeout, then finds them applied.
async fn prepare_file(options: &SqliteConnectOptions, busy_timeout: Duration) -> Result<()> {
    let mut connection = options.connect().await?;
    let prepared = async {
        switch_to_wal(&mut connection, busy_timeout).await?;
        let mut tx = connection.begin_with("BEGIN IMMEDIATE").await?;
        // `run_direct` is `run` on a connection already in hand (sqlx's own test support
        // uses it): through `run`'s `Acquire` bound the compiler cannot prove the future
        // `Send` for every lifetime, which a spawned open needs.
        migrator(usize::MAX).run_direct(&mut *tx).await?;
        tx.commit().await?;
        Ok::<_, FleetError>(())
    }
    .await;
    let closed = connection.close().await;
    prepared?;
    Ok(closed?)
}

/// Switches the database file to WAL (a no-op when it already is), waiting for other
/// connections up to `busy_timeout`.
///
/// SQLite makes the switch under a write lock taken from the read lock it already holds, and
/// never calls the busy handler for that: while another connection reads or switches the same
/// new file (the pool's first connections, or another process opening it), the switch fails
/// at once with `SQLITE_BUSY`. So it is tried again here, until the busy timeout.
async fn switch_to_wal(connection: &mut SqliteConnection, busy_timeout: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + busy_timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        match sqlx::query_scalar::<_, String>("PRAGMA journal_mode = WAL")
            .fetch_one(&mut *connection)
            .await
        {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(FleetError::invalid(
                    "database",
                    format!("SQLite cannot keep this database in WAL mode (it is in {mode} mode)"),
                ));
            }
            Err(error) if is_busy(&error) && tokio::time::Instant::now() + pause < deadline => {
                tracing::debug!(%error, "the database file is busy; switching it to WAL again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// True when SQLite answered `SQLITE_BUSY` (any of its extended codes): another connection
/// holds a lock this one needs.
fn is_busy(error: &sqlx::Error) -> bool {
    const SQLITE_BUSY: i32 = 5;
    error
        .as_database_error()
        .and_then(sqlx::error::DatabaseError::code)
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == SQLITE_BUSY)
}

/// Creates the database file readable by its owner only (it holds create requests, user data
/// included); SQLite gives its `-wal` and `-shm` files the same mode. An existing file is left
/// as it is.
fn create_private(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;

    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(FleetError::invalid(
            "database",
            format!("cannot create {}: {error}", path.display()),
        )),
    }
}

/// How a partition's pass ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PartitionOutcome<'a> {
    /// Listed.
    Ok {
        /// When to run it next.
        next_run_at: i64,
    },
    /// The provider failed.
    Failed {
        /// When to try again.
        next_run_at: i64,
        /// Why, for people.
        error: &'a str,
    },
}

fn to_json<T: serde::Serialize>(value: &T) -> Option<String> {
    serde_json::to_string(value).ok()
}

/// Reads a JSON column the store wrote; a value that no longer parses (written by another
/// version) is dropped with a warning rather than failing every read.
fn from_json<T: serde::de::DeserializeOwned>(column: &str, json: Option<String>) -> Option<T> {
    let json = json?;
    match serde_json::from_str(&json) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(column, %error, "ignoring an unreadable stored value");
            None
        }
    }
}

async fn insert_instance(
    tx: &mut Transaction<'_, Sqlite>,
    row: &InstanceRow,
    now: i64,
) -> Result<i64> {
    let inserted = sqlx::query(
        "INSERT INTO instances (ref_id, credential, provider, location, partition_key, cloud_id, \
         desired, phase, status, stale, first_seen_at, last_seen_at, price, tags, model, request, \
         attempts, next_run_at, sent_at, last_error, created_at, updated_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $21, $22) RETURNING id",
    )
    .bind(&row.ref_id)
    .bind(&row.credential)
    .bind(&row.provider)
    .bind(&row.location)
    .bind(&row.partition_key)
    .bind(&row.cloud_id)
    .bind(row.desired.as_str())
    .bind(row.phase.as_str())
    .bind(row.status.map(LifecycleStatus::as_str))
    .bind(i64::from(row.stale))
    .bind(row.first_seen_at)
    .bind(row.last_seen_at)
    .bind(row.price.as_ref().and_then(to_json))
    .bind(to_json(&row.tags).unwrap_or_else(|| "{}".to_owned()))
    .bind(row.model.as_ref().and_then(to_json))
    .bind(row.request.as_ref().and_then(to_json))
    .bind(i64::from(row.attempts))
    .bind(row.next_run_at)
    .bind(row.sent_at)
    .bind(&row.last_error)
    .bind(now)
    .bind(row.expires_at)
    .fetch_one(&mut **tx)
    .await?;
    Ok(inserted.get("id"))
}

/// Updates a row if it still has the version it was read at; false when another writer got
/// there first (the change is then dropped: the next pass derives it again from fresh data).
async fn update_instance(
    tx: &mut Transaction<'_, Sqlite>,
    row: &InstanceRow,
    now: i64,
) -> Result<bool> {
    let updated = sqlx::query(
        "UPDATE instances SET credential = $1, provider = $2, location = $3, partition_key = $4, \
         cloud_id = $5, desired = $6, phase = $7, status = $8, stale = $9, first_seen_at = $10, \
         last_seen_at = $11, price = $12, tags = $13, model = $14, request = $15, attempts = $16, \
         next_run_at = $17, sent_at = $18, last_error = $19, updated_at = $20, expires_at = $21, \
         version = version + 1 WHERE id = $22 AND version = $23",
    )
    .bind(&row.credential)
    .bind(&row.provider)
    .bind(&row.location)
    .bind(&row.partition_key)
    .bind(&row.cloud_id)
    .bind(row.desired.as_str())
    .bind(row.phase.as_str())
    .bind(row.status.map(LifecycleStatus::as_str))
    .bind(i64::from(row.stale))
    .bind(row.first_seen_at)
    .bind(row.last_seen_at)
    .bind(row.price.as_ref().and_then(to_json))
    .bind(to_json(&row.tags).unwrap_or_else(|| "{}".to_owned()))
    .bind(row.model.as_ref().and_then(to_json))
    .bind(row.request.as_ref().and_then(to_json))
    .bind(i64::from(row.attempts))
    .bind(row.next_run_at)
    .bind(row.sent_at)
    .bind(&row.last_error)
    .bind(now)
    .bind(row.expires_at)
    .bind(row.id)
    .bind(row.version)
    .execute(&mut **tx)
    .await?;
    Ok(updated.rows_affected() == 1)
}

async fn insert_event(
    tx: &mut Transaction<'_, Sqlite>,
    event: &NewEvent,
    now: i64,
) -> Result<Event> {
    let row = sqlx::query(
        "INSERT INTO events (ref_id, from_state, to_state, at, cause, detail) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(&event.ref_id)
    .bind(&event.from)
    .bind(&event.to)
    .bind(now)
    .bind(event.cause.as_str())
    .bind(&event.detail)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Event {
        id: row.get("id"),
        ref_id: event.ref_id.clone(),
        from: event.from.clone(),
        to: event.to.clone(),
        at: timestamp(now),
        cause: event.cause,
        detail: event.detail.clone(),
    })
}

fn instance_row(row: &SqliteRow) -> InstanceRow {
    let text = |name: &str| row.get::<String, _>(name);
    InstanceRow {
        id: row.get("id"),
        ref_id: text("ref_id"),
        credential: text("credential"),
        provider: text("provider"),
        location: text("location"),
        partition_key: row.get("partition_key"),
        cloud_id: row.get("cloud_id"),
        desired: text("desired").parse().unwrap_or(Desired::Unmanaged),
        phase: text("phase").parse().unwrap_or(Phase::Orphan),
        status: row
            .get::<Option<String>, _>("status")
            .and_then(|s| s.parse().ok()),
        stale: row.get::<i64, _>("stale") != 0,
        first_seen_at: row.get("first_seen_at"),
        last_seen_at: row.get("last_seen_at"),
        price: from_json("price", row.get("price")),
        tags: from_json("tags", row.get("tags")).unwrap_or_default(),
        model: from_json("model", row.get("model")),
        request: from_json("request", row.get("request")),
        attempts: u32::try_from(row.get::<i64, _>("attempts")).unwrap_or(u32::MAX),
        next_run_at: row.get("next_run_at"),
        sent_at: row.get("sent_at"),
        last_error: row.get("last_error"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        expires_at: row.get("expires_at"),
        version: row.get("version"),
    }
}

fn event_row(row: &SqliteRow) -> Event {
    Event {
        id: row.get("id"),
        ref_id: row.get("ref_id"),
        from: row.get("from_state"),
        to: row.get("to_state"),
        at: timestamp(row.get("at")),
        cause: row
            .get::<String, _>("cause")
            .parse()
            .unwrap_or(Cause::Observed),
        detail: row.get("detail"),
    }
}

#[cfg(test)]
mod tests {
    use sqlx::ConnectOptions;

    use super::*;

    /// How long a test's write waits for another writer.
    const BUSY: Duration = Duration::from_secs(5);

    /// A database made by the first schema version, with an instance in it, is upgraded in
    /// place: the row survives and gains the new columns.
    #[tokio::test]
    async fn a_first_version_database_is_upgraded_not_reset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.sqlite3");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        migrator(1).run(&pool).await.unwrap();
        sqlx::query(
            "INSERT INTO instances (ref_id, credential, provider, location, cloud_id, desired, \
             phase, status, created_at, updated_at) \
             VALUES ('old-1', 'lambda', 'lambda', 'us-west-1', 'i-1', 'running', 'active', \
             'running', 1, 1)",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO events (ref_id, to_state, at, cause) VALUES ('old-1', 'running', 1, 'observed')",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;

        let store = Store::open(&Database::Sqlite(path.clone()), BUSY)
            .await
            .unwrap();
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(applied, vec![1, 2]);
        let row = store.instance("old-1").await.unwrap().expect("kept");
        assert_eq!(row.cloud_id.as_deref(), Some("i-1"));
        assert_eq!(row.status, Some(LifecycleStatus::Running));
        assert_eq!(row.expires_at, None);
        assert_eq!(row.version, 0);
        assert_eq!(store.events_after(0, 10).await.unwrap().len(), 1);
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(journal, "wal");
        store.close().await;

        // Opening again applies nothing and loses nothing.
        let store = Store::open(&Database::Sqlite(path), BUSY).await.unwrap();
        assert!(store.instance("old-1").await.unwrap().is_some());
    }

    /// Opening a new database file never fails with "database is locked": not when the
    /// pool's first connections race each other to switch the new file to WAL (sqlx opens the
    /// pool's minimum from a background task while `connect_with` opens it too), and not when
    /// several stores open the same new file at once, as processes started together do.
    /// Switching the journal mode takes the write lock from a read lock, which SQLite does not
    /// wait for, so only one connection may do it and the others must wait their turn.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn many_stores_opening_one_new_file_at_once_all_open() {
        const ROUNDS: usize = 20;
        const STORES: usize = 8;
        for round in 0..ROUNDS {
            let dir = tempfile::tempdir().unwrap();
            let database = Database::Sqlite(dir.path().join("fleet.sqlite3"));
            let opens = (0..STORES).map(|_| {
                let database = database.clone();
                tokio::spawn(async move { Store::open(&database, BUSY).await })
            });
            let mut stores = Vec::new();
            for open in futures::future::join_all(opens).await {
                match open.unwrap() {
                    Ok(store) => stores.push(store),
                    Err(error) => panic!("round {round}: an open failed: {error}"),
                }
            }
            for store in &stores {
                let applied: Vec<i64> =
                    sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                        .fetch_all(store.pool())
                        .await
                        .unwrap();
                assert_eq!(applied, vec![1, 2], "round {round}: each migration once");
                let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
                assert_eq!(journal, "wal", "round {round}");
            }
            for store in stores {
                store.close().await;
            }
        }
    }

    #[tokio::test]
    async fn a_new_database_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("fleet.sqlite3");
        let store = Store::open(&Database::Sqlite(path.clone()), BUSY)
            .await
            .unwrap();
        store.sync_credentials(&[]).await.unwrap();
        for file in [path.clone(), path.with_extension("sqlite3-wal")] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
        store.close().await;
    }

    #[tokio::test]
    async fn a_write_from_a_stale_lease_epoch_is_refused() {
        let store = Store::open(&Database::SqliteInMemory, BUSY).await.unwrap();
        let lease = Duration::from_secs(30);
        let first = store
            .claim_partition("status/a/", "status", "a", "", "one", lease)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.epoch, 1);
        // Another holder cannot take a running lease.
        assert!(
            store
                .claim_partition("status/a/", "status", "a", "", "two", lease)
                .await
                .unwrap()
                .is_none()
        );
        // Once it runs out, the other holder takes it with the next epoch ...
        sqlx::query("UPDATE partitions SET expires_at = 0")
            .execute(store.pool())
            .await
            .unwrap();
        let second = store
            .claim_partition("status/a/", "status", "a", "", "two", lease)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.epoch, 2);
        // ... and the first holder's writes are refused.
        let refused = store.write(Some(&first), &[]).await.unwrap_err();
        assert!(matches!(refused, FleetError::LeaseLost { .. }), "{refused}");
        store.write(Some(&second), &[]).await.unwrap();
    }

    /// The inventory loop writes a catalog as a diff: the same catalog again writes no row; a
    /// changed price or availability updates that entry only; a type gone is deleted.
    #[tokio::test]
    async fn a_catalog_is_written_as_a_diff() {
        let store = Store::open(&Database::SqliteInMemory, BUSY).await.unwrap();
        let fence = store
            .claim_partition(
                "inventory/a",
                "inventory",
                "a",
                "",
                "one",
                Duration::from_secs(30),
            )
            .await
            .unwrap()
            .unwrap();
        let entry = |id: &str, price: &str, available: bool| CatalogEntry {
            location: "us-west-1".to_owned(),
            instance_type_id: id.to_owned(),
            instance_type: id.to_owned(),
            price: Some(price.to_owned()),
            available,
            entry: format!("{{\"id\":\"{id}\"}}"),
        };
        let first = [entry("t1", "1.00", true), entry("t2", "2.00", true)];
        let diff = store
            .write_catalog(&fence, "a", "lambda", &first)
            .await
            .unwrap();
        assert_eq!(
            diff,
            CatalogDiff {
                inserted: 2,
                updated: 0,
                deleted: 0
            }
        );
        let diff = store
            .write_catalog(&fence, "a", "lambda", &first)
            .await
            .unwrap();
        assert_eq!(diff, CatalogDiff::default(), "unchanged: nothing written");
        let second = [entry("t1", "1.50", true), entry("t3", "3.00", false)];
        let diff = store
            .write_catalog(&fence, "a", "lambda", &second)
            .await
            .unwrap();
        assert_eq!(
            diff,
            CatalogDiff {
                inserted: 1,
                updated: 1,
                deleted: 1
            }
        );
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT instance_type_id, price FROM catalog ORDER BY instance_type_id")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(
            rows,
            vec![
                ("t1".to_owned(), "1.50".to_owned()),
                ("t3".to_owned(), "3.00".to_owned())
            ]
        );
    }

    /// A row as `request_create` makes it, with nothing sent yet.
    fn requested_row(ref_id: &str) -> InstanceRow {
        InstanceRow {
            id: 0,
            ref_id: ref_id.to_owned(),
            credential: "lambda".to_owned(),
            provider: "lambda".to_owned(),
            location: "us-west-1".to_owned(),
            partition_key: None,
            cloud_id: None,
            desired: Desired::Running,
            phase: Phase::Requested,
            status: None,
            stale: false,
            first_seen_at: None,
            last_seen_at: None,
            price: None,
            tags: Tags::default(),
            model: None,
            request: None,
            attempts: 0,
            next_run_at: 0,
            sent_at: None,
            last_error: None,
            created_at: 0,
            updated_at: 0,
            expires_at: None,
            version: 0,
        }
    }

    /// A write that reads before it writes (the RefID check of a create) waits for another
    /// writer up to the busy timeout instead of failing at once with "database is locked":
    /// a deferred transaction that already read cannot wait for the write lock.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_then_write_waits_for_another_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.sqlite3");
        let store = Store::open(&Database::Sqlite(path.clone()), BUSY)
            .await
            .unwrap();
        let mut holder = SqliteConnectOptions::new()
            .filename(&path)
            .connect()
            .await
            .unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut holder)
            .await
            .unwrap();
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            sqlx::query("COMMIT").execute(&mut holder).await.unwrap();
            holder
        });
        let event = NewEvent {
            ref_id: "busy-1".to_owned(),
            from: None,
            to: Phase::Requested.as_str().to_owned(),
            cause: Cause::CreateRequested,
            detail: None,
        };
        let inserted = store
            .insert_new(&requested_row("busy-1"), &event)
            .await
            .expect("the write waits for the other writer instead of failing at once");
        assert!(inserted.is_some());
        drop(release.await.unwrap());
        assert!(store.instance("busy-1").await.unwrap().is_some());
        store.close().await;
    }
}
