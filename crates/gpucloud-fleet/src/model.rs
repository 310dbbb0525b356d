//! What the fleet answers with and takes: instance records, change events, create requests,
//! filters and pages. Every type is serde-able with snake_case names, so the HTTP service can
//! send them as they are.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use gpucloud::offers::OfferQuery;
use gpucloud::{CreateInstanceAttrs, Instance, LifecycleStatus, Price, Tags};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What the fleet wants an instance to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Desired {
    /// Created and kept (a create request).
    Running,
    /// Terminated, confirmed by the provider (a terminate request, a TTL, an orphan's grace).
    Terminated,
    /// Nothing: an orphan the fleet only records.
    Unmanaged,
}

/// Where the fleet is with an instance, beside what the provider last said of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Requested; the create has not been sent.
    Requested,
    /// The create was sent and its outcome is not known yet (a lost answer, or a restart while
    /// it was in flight): resolved by the instance's RefID, never by sending it again blind.
    Launching,
    /// The provider made it; `status` says how it is.
    Active,
    /// The launch failed for good; nothing of it is left (`last_error` says why).
    LaunchFailed,
    /// A terminate was accepted; waiting for the provider to show it gone.
    Terminating,
    /// The provider confirmed it gone (a list or get said terminated, or not found).
    Terminated,
    /// Carries this fleet's credential mark but was not made by a request of this fleet.
    Orphan,
}

impl Phase {
    /// The string stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Launching => "launching",
            Self::Active => "active",
            Self::LaunchFailed => "launch_failed",
            Self::Terminating => "terminating",
            Self::Terminated => "terminated",
            Self::Orphan => "orphan",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Phase {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Requested,
            Self::Launching,
            Self::Active,
            Self::LaunchFailed,
            Self::Terminating,
            Self::Terminated,
            Self::Orphan,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
        .ok_or_else(|| format!("unknown phase {s:?}"))
    }
}

impl Desired {
    /// The string stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Terminated => "terminated",
            Self::Unmanaged => "unmanaged",
        }
    }
}

impl FromStr for Desired {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "running" => Ok(Self::Running),
            "terminated" => Ok(Self::Terminated),
            "unmanaged" => Ok(Self::Unmanaged),
            other => Err(format!("unknown desired state {other:?}")),
        }
    }
}

/// One instance as the fleet knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// The instance's id in the fleet: its RefID (client-chosen or generated; unique).
    pub ref_id: String,
    /// The fleet's name of the credential it runs under (empty until a failover launch has
    /// picked one).
    pub credential: String,
    /// The provider's short name (empty until a failover launch has picked one).
    pub provider: String,
    /// Region (empty until known).
    pub location: String,
    /// The provider's id, once the provider made it.
    pub cloud_id: Option<String>,
    /// What the fleet wants.
    pub desired: Desired,
    /// Where the fleet is with it.
    pub phase: Phase,
    /// What the provider last said (`None` before it said anything).
    pub status: Option<LifecycleStatus>,
    /// The last list of its partition failed: `status` is the last known one.
    pub stale: bool,
    /// When a list first showed it.
    pub first_seen_at: Option<Timestamp>,
    /// When a list last showed it.
    pub last_seen_at: Option<Timestamp>,
    /// Price per hour from the catalog, when known.
    pub price: Option<Price>,
    /// User tags.
    pub tags: Tags,
    /// The provider's answer, merged with the provider's merge-for-update rule.
    pub instance: Option<Instance>,
    /// Provider calls made for it that failed, since its last success.
    pub attempts: u32,
    /// The last failure, for people.
    pub last_error: Option<String>,
    /// Terminated once this time passes (its TTL).
    pub expires_at: Option<Timestamp>,
    /// When the fleet recorded it.
    pub created_at: Timestamp,
    /// When the row last changed.
    pub updated_at: Timestamp,
}

/// Where a create goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CreateTarget {
    /// One credential, location and type.
    Explicit {
        /// The fleet's name of the credential.
        credential: String,
        /// Region.
        location: String,
        /// The provider's type name.
        instance_type: String,
    },
    /// The cheapest available offers matching `query`, tried in order with failover
    /// (`gpucloud::launch`), over the listed credentials (empty: all).
    Offers {
        /// Which offers qualify and their order.
        query: OfferQuery,
        /// The fleet's names of the credentials to consider; empty: every one.
        credentials: Vec<String>,
        /// Offers tried at most (0: the launch's default).
        max_offers: usize,
    },
}

/// A create request. The same request again (same RefID, same content) returns the same
/// instance; a different one with a RefID in use is a conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateRequest {
    /// Where.
    pub target: CreateTarget,
    /// What: name, RefID (empty: generated), public key, tags, firewall rules, user data.
    /// `location`, `instance_type` and `use_spot` come from the target. Kept in the store
    /// until the instance is made, user data included.
    pub attrs: CreateInstanceAttrs,
    /// Terminate it this long after the request.
    #[serde(default, with = "duration_secs")]
    pub ttl: Option<Duration>,
}

/// Why an event was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// A create request was recorded.
    CreateRequested,
    /// The create is being sent (from here its outcome is resolved by RefID, never by
    /// sending it blind).
    CreateSent,
    /// The provider answered the create.
    Created,
    /// A create whose answer was lost was found by its RefID.
    ResolvedByRefId,
    /// The launch failed; nothing of it is left.
    LaunchFailed,
    /// A list (or a get confirming an absence) showed a new status.
    Observed,
    /// The provider accepted a terminate (asked for, a TTL that passed or an orphan's grace:
    /// the detail says which).
    TerminateSent,
    /// The provider showed the instance gone.
    TerminateConfirmed,
    /// The instance vanished without a terminate from this fleet (confirmed by a get).
    Vanished,
    /// Its partition's list failed: the status shown is the last known one.
    Stale,
    /// Its partition's list works again.
    Recovered,
    /// An instance with this fleet's mark and no row was found.
    OrphanFound,
}

impl Cause {
    /// The string stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateRequested => "create_requested",
            Self::CreateSent => "create_sent",
            Self::Created => "created",
            Self::ResolvedByRefId => "resolved_by_ref_id",
            Self::LaunchFailed => "launch_failed",
            Self::Observed => "observed",
            Self::TerminateSent => "terminate_sent",
            Self::TerminateConfirmed => "terminate_confirmed",
            Self::Vanished => "vanished",
            Self::Stale => "stale",
            Self::Recovered => "recovered",
            Self::OrphanFound => "orphan_found",
        }
    }

    fn all() -> [Self; 12] {
        [
            Self::CreateRequested,
            Self::CreateSent,
            Self::Created,
            Self::ResolvedByRefId,
            Self::LaunchFailed,
            Self::Observed,
            Self::TerminateSent,
            Self::TerminateConfirmed,
            Self::Vanished,
            Self::Stale,
            Self::Recovered,
            Self::OrphanFound,
        ]
    }
}

impl FromStr for Cause {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::all()
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown cause {s:?}"))
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change of an instance, as written to the store. `id` grows with every event (it is the
/// SSE id clients resume from).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Monotonic id.
    pub id: i64,
    /// The instance's RefID.
    pub ref_id: String,
    /// The state before (`None` for the first event of an instance). A state is the
    /// provider's lifecycle status once it said one, else the fleet's phase.
    pub from: Option<String>,
    /// The state after.
    pub to: String,
    /// When it was written.
    pub at: Timestamp,
    /// Why.
    pub cause: Cause,
    /// Detail for people (an error, the offer chosen), when there is any.
    pub detail: Option<String>,
}

/// Which instances to list. Every field left at its default keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceFilter {
    /// Only this credential's.
    pub credential: Option<String>,
    /// Only this provider's.
    pub provider: Option<String>,
    /// Only in this location.
    pub location: Option<String>,
    /// Only in these phases; empty: all.
    pub phases: Vec<Phase>,
    /// Leave out instances the provider confirmed terminated and failed launches.
    pub live_only: bool,
}

/// Which page: up to `limit` records after the cursor of the previous page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// The previous page's `next`; `None` for the first page.
    pub after: Option<String>,
    /// Records per page (1..=1000).
    pub limit: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            after: None,
            limit: 100,
        }
    }
}

/// The largest page.
pub const MAX_PAGE: u32 = 1000;

/// One page of records, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The records.
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last page.
    pub next: Option<String>,
}

/// A credential the fleet watches, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialInfo {
    /// The fleet's name for it.
    pub name: String,
    /// The provider's short name.
    pub provider: String,
    /// The provider's id (`lambda-labs`).
    pub provider_id: String,
    /// The credential's reference id: the mark on every instance it creates.
    pub reference_id: String,
    /// When its catalog was last read, if ever.
    pub inventory_at: Option<Timestamp>,
    /// The last failure of one of its partitions, while it lasts.
    pub last_error: Option<String>,
}

/// Serde for an optional whole number of seconds.
mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_some(&d.as_secs()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_secs))
    }
}
