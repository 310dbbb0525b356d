//! What a fleet is opened with: where its database is, which credentials it watches, how often
//! and how hard it polls.

use std::fmt;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gpucloud::CloudCredential;

use crate::error::FleetError;

/// The status loop's default period (the model's instance poll time).
pub const DEFAULT_STATUS_INTERVAL: Duration = Duration::from_secs(5);
/// The inventory loop's default period, used when a credential does not say.
pub const DEFAULT_INVENTORY_INTERVAL: Duration = Duration::from_secs(300);
/// Partitions polled at once by default.
pub const DEFAULT_PARTITIONS_IN_FLIGHT: usize = 8;
/// The database file's name under the state directory.
pub const DATABASE_FILE: &str = "fleet.sqlite3";

/// One credential the fleet watches: a name the fleet knows it by, the provider it belongs to and
/// the credential itself. The secret stays inside `credential`; the store keeps only the name,
/// the provider and the credential's reference id.
#[derive(Clone)]
pub struct FleetCredential {
    /// The fleet's name for this credential (unique in a fleet): `lambda`, `lambda-team-b`.
    /// Letters, digits and `-_.`; it names the credential in requests, rows and metrics.
    pub name: String,
    /// The provider's short name (`lambda`, `fluidstack`, ...), as `gpucloud -p` takes it.
    pub provider: String,
    /// The credential: every call the fleet makes for it goes through clients it makes.
    pub credential: Arc<dyn CloudCredential>,
    /// Calls per second the fleet allows itself for this credential, all loops together (the
    /// provider's own client-side limits still apply below it). `None`: no extra limit.
    pub requests_per_second: Option<NonZeroU32>,
    /// How often the inventory loop reads this credential's catalog; `None` uses
    /// [`FleetConfig::inventory_interval`].
    pub inventory_interval: Option<Duration>,
}

impl FleetCredential {
    /// A credential named `name` of `provider`, without an extra rate limit.
    pub fn new(
        name: impl Into<String>,
        provider: impl Into<String>,
        credential: Arc<dyn CloudCredential>,
    ) -> Self {
        Self {
            name: name.into(),
            provider: provider.into(),
            credential,
            requests_per_second: None,
            inventory_interval: None,
        }
    }

    /// The same credential, limited to `n` calls per second.
    pub fn with_requests_per_second(mut self, n: NonZeroU32) -> Self {
        self.requests_per_second = Some(n);
        self
    }

    /// The same credential, with its catalog read every `interval`.
    pub fn with_inventory_interval(mut self, interval: Duration) -> Self {
        self.inventory_interval = Some(interval);
        self
    }
}

impl fmt::Debug for FleetCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The credential's own Debug never shows its secret; the identity is enough here.
        f.debug_struct("FleetCredential")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("reference_id", &self.credential.identity().reference_id())
            .field("requests_per_second", &self.requests_per_second)
            .field("inventory_interval", &self.inventory_interval)
            .finish()
    }
}

/// Where the fleet keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file (created when missing, with its directory).
    Sqlite(PathBuf),
    /// An SQLite database in memory, gone when the fleet closes: for tests and `--once` runs
    /// that need no history.
    SqliteInMemory,
}

impl Database {
    /// The default database: [`DATABASE_FILE`] under `state_dir`.
    pub fn in_state_dir(state_dir: &Path) -> Self {
        Self::Sqlite(state_dir.join(DATABASE_FILE))
    }
}

/// Everything [`crate::Fleet::open`] needs.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The database.
    pub database: Database,
    /// The credentials to watch. Names must be unique.
    pub credentials: Vec<FleetCredential>,
    /// The status loop's period, per partition.
    pub status_interval: Duration,
    /// The inventory loop's period for credentials that do not set their own.
    pub inventory_interval: Duration,
    /// Partitions (status or inventory) polled at once, all credentials together.
    pub partitions_in_flight: usize,
    /// Terminate orphans (instances with this fleet's credential mark and no row) once they
    /// have been seen for this long. `None` (the default) only records them.
    pub orphan_grace: Option<Duration>,
    /// The longest pause of a partition whose provider keeps failing.
    pub max_backoff: Duration,
    /// The longest pause between two terminate calls for an instance that is not yet gone.
    pub max_terminate_backoff: Duration,
    /// The lease a process holds on a partition; renewed on each pass (see DESIGN.md: on
    /// SQLite one process holds every partition).
    pub lease: Duration,
    /// Events kept for live subscribers that lag behind before they must resume from the
    /// store ([`crate::Fleet::events_after`]).
    pub event_buffer: usize,
    /// How long a write waits for another writer holding the database (a backup, a stuck
    /// shell) before it answers [`FleetError::Database`]; the loops then back off.
    pub database_busy_timeout: Duration,
}

impl FleetConfig {
    /// A configuration with the defaults: status every 5 s, inventory every 5 minutes, 8
    /// partitions in flight, orphans recorded but never terminated.
    pub fn new(database: Database, credentials: Vec<FleetCredential>) -> Self {
        Self {
            database,
            credentials,
            status_interval: DEFAULT_STATUS_INTERVAL,
            inventory_interval: DEFAULT_INVENTORY_INTERVAL,
            partitions_in_flight: DEFAULT_PARTITIONS_IN_FLIGHT,
            orphan_grace: None,
            max_backoff: Duration::from_secs(300),
            max_terminate_backoff: Duration::from_secs(60),
            lease: Duration::from_secs(30),
            event_buffer: 1024,
            database_busy_timeout: Duration::from_secs(5),
        }
    }

    /// Checks what would make the fleet misbehave, naming the field.
    pub(crate) fn validate(&self) -> Result<(), FleetError> {
        let mut names = std::collections::HashSet::new();
        for credential in &self.credentials {
            let name = &credential.name;
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(FleetError::invalid(
                    "credentials.name",
                    format!("{name:?}: use letters, digits and `-_.`"),
                ));
            }
            if !names.insert(name.as_str()) {
                return Err(FleetError::invalid(
                    "credentials.name",
                    format!("{name:?} is configured twice"),
                ));
            }
            if credential.provider.is_empty() {
                return Err(FleetError::invalid(
                    "credentials.provider",
                    format!("credential {name:?} names no provider"),
                ));
            }
        }
        if self.status_interval.is_zero() {
            return Err(FleetError::invalid("status_interval", "must be above zero"));
        }
        if self.inventory_interval.is_zero() {
            return Err(FleetError::invalid(
                "inventory_interval",
                "must be above zero",
            ));
        }
        if self.partitions_in_flight == 0 {
            return Err(FleetError::invalid(
                "partitions_in_flight",
                "must be at least 1",
            ));
        }
        if self.lease <= self.status_interval {
            return Err(FleetError::invalid(
                "lease",
                "must be longer than status_interval, or every pass would lose its lease",
            ));
        }
        if self.event_buffer == 0 {
            return Err(FleetError::invalid("event_buffer", "must be at least 1"));
        }
        Ok(())
    }
}
