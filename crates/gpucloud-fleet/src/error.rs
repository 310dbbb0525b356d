//! The fleet's errors: what a caller of the in-process API can be told, each mapping to one
//! HTTP status in the service that wraps it.

use gpucloud::CloudError;

/// Why a fleet call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// The request is wrong; nothing was recorded (HTTP 400).
    #[error("invalid {field}: {problem}")]
    Invalid {
        /// The field, as the request names it (`credential`, `create.instance_type`, ...).
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// No instance (or credential) with this id (HTTP 404).
    #[error("no {what} {id:?}")]
    NotFound {
        /// What was looked for: `instance`, `credential`.
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The RefID is taken by a different request (HTTP 409). The same request again is not a
    /// conflict: it returns the instance it made.
    #[error("RefID {ref_id:?} is already used by a different create request")]
    Conflict {
        /// The RefID.
        ref_id: String,
    },
    /// The instance kept changing under the request (the loops were writing it); nothing was
    /// recorded and the same request may be sent again (HTTP 503).
    #[error("instance {ref_id} kept changing while the request was recorded; try again")]
    Busy {
        /// The instance's RefID.
        ref_id: String,
    },
    /// The database cannot be reached or refused the write; nothing was recorded (HTTP 503).
    #[error("the fleet database is unavailable: {0}")]
    Database(#[source] sqlx::Error),
    /// A schema migration failed; the database was left at its previous version.
    #[error("the fleet database could not be upgraded: {0}")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// A provider call made on the caller's behalf failed.
    #[error(transparent)]
    Cloud(#[from] CloudError),
    /// Another process took over this partition (its lease ran out): this process's write was
    /// refused and it stops working on the partition.
    #[error("the lease on partition {partition} was lost to another process")]
    LeaseLost {
        /// The partition's key.
        partition: String,
    },
    /// The fleet is shutting down and takes no new work (HTTP 503).
    #[error("the fleet is shutting down")]
    ShuttingDown,
}

impl FleetError {
    /// An `Invalid` error on `field`.
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// True when the same call may work later unchanged (database down, shutting down, a
    /// provider error that is retryable).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Database(_) | Self::ShuttingDown | Self::LeaseLost { .. } | Self::Busy { .. } => {
                true
            }
            Self::Cloud(error) => error.is_retryable(),
            Self::Invalid { .. }
            | Self::NotFound { .. }
            | Self::Conflict { .. }
            | Self::Migration(_) => false,
        }
    }
}

impl From<sqlx::Error> for FleetError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error)
    }
}

impl From<sqlx::migrate::MigrateError> for FleetError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        Self::Migration(error)
    }
}

/// The fleet's result.
pub type Result<T, E = FleetError> = std::result::Result<T, E>;
