//! What the suite runs against and how: the target, its time budgets and the suite options.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gpucloud_core::wait::{
    PENDING_TO_RUNNING_TIMEOUT, RUNNING_SSH_TIMEOUT, RUNNING_TO_STOPPED_TIMEOUT,
    RUNNING_TO_TERMINATED_TIMEOUT, STOPPED_TO_RUNNING_TIMEOUT,
};
use gpucloud_core::{CloudCredential, InstanceTypeId};

/// A provider account to check: a credential, where to create the test instance, and what this
/// machine can reach.
#[derive(Debug, Clone)]
pub struct Target {
    /// The credential; the suite makes its client with `make_client(location)`.
    pub credential: Arc<dyn CloudCredential>,
    /// The location the client is bound to and the test instance is created in (empty: the
    /// provider's default client, and the location of the chosen instance type).
    pub location: String,
    /// Instances are SSH-reachable from this machine: enables the SSH, firewall and egress
    /// checks. Without it those checks are skipped with the reason.
    pub reachable: bool,
    /// The instance type to create (its `type_name`); `None` chooses the cheapest available
    /// x86_64 type.
    pub instance_type: Option<String>,
    /// Instance type IDs that must be in the catalog (v1 `StableIDs`); empty skips that check.
    pub stable_ids: Vec<InstanceTypeId>,
    /// Time budgets; [`Timeouts::default`] is v1's.
    pub timeouts: Timeouts,
    /// Which checks to run and how.
    pub options: SuiteOptions,
}

impl Target {
    /// A target with v1's time budgets, the default options, no location, not reachable, the
    /// cheapest type and no stable IDs.
    pub fn new(credential: Arc<dyn CloudCredential>) -> Self {
        Self {
            credential,
            location: String::new(),
            reachable: false,
            instance_type: None,
            stable_ids: Vec::new(),
            timeouts: Timeouts::default(),
            options: SuiteOptions::default(),
        }
    }

    /// Binds the client and the test instance to `location`.
    pub fn with_location(mut self, location: impl Into<String>) -> Self {
        self.location = location.into();
        self
    }

    /// Declares whether instances are SSH-reachable from this machine.
    pub fn with_reachable(mut self, reachable: bool) -> Self {
        self.reachable = reachable;
        self
    }

    /// Creates the test instance with this type name.
    pub fn with_instance_type(mut self, instance_type: impl Into<String>) -> Self {
        self.instance_type = Some(instance_type.into());
        self
    }

    /// Requires these instance type IDs in the catalog.
    pub fn with_stable_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<InstanceTypeId>,
    {
        self.stable_ids = ids.into_iter().map(Into::into).collect();
        self
    }

    /// Uses these time budgets.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Uses these options.
    pub fn with_options(mut self, options: SuiteOptions) -> Self {
        self.options = options;
        self
    }
}

/// Time budgets of the suite. Every check has its own deadline derived from these, so one slow
/// check cannot eat the budget of the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// One catalog, list, get, tag or firewall call.
    pub api_call: Duration,
    /// The `create_instance` call itself (v1: 1 min).
    pub create_call: Duration,
    /// `pending` to `running` (v1: 20 min).
    pub pending_to_running: Duration,
    /// `running` to `stopped` (v1: 10 min).
    pub running_to_stopped: Duration,
    /// `stopped` to `running` (v1: 20 min).
    pub stopped_to_running: Duration,
    /// `running` to `terminated` or gone (v1: 20 min).
    pub running_to_terminated: Duration,
    /// `running` to SSH answering (v1: 10 min).
    pub running_ssh: Duration,
    /// One TCP connection attempt from this machine (v1: 5 s).
    pub port_probe: Duration,
    /// A firewall change taking effect on a running instance.
    pub firewall_change: Duration,
    /// Allowed difference between this machine's clock and the provider's `created_at` (v1: 1 min).
    pub clock_skew: Duration,
    /// Poll interval of waits; `None` uses the client's `instance_poll_time()`.
    pub poll_interval: Option<Duration>,
}

impl Default for Timeouts {
    /// v1's budgets.
    fn default() -> Self {
        Self {
            api_call: Duration::from_secs(120),
            create_call: Duration::from_secs(60),
            pending_to_running: PENDING_TO_RUNNING_TIMEOUT,
            running_to_stopped: RUNNING_TO_STOPPED_TIMEOUT,
            stopped_to_running: STOPPED_TO_RUNNING_TIMEOUT,
            running_to_terminated: RUNNING_TO_TERMINATED_TIMEOUT,
            running_ssh: RUNNING_SSH_TIMEOUT,
            port_probe: Duration::from_secs(5),
            firewall_change: Duration::from_secs(120),
            clock_skew: Duration::from_secs(60),
            poll_interval: None,
        }
    }
}

impl Timeouts {
    /// Short budgets for in-process fakes and local providers: seconds instead of minutes, and
    /// a 100 ms poll interval.
    pub fn fast() -> Self {
        Self {
            api_call: Duration::from_secs(10),
            create_call: Duration::from_secs(20),
            pending_to_running: Duration::from_secs(30),
            running_to_stopped: Duration::from_secs(30),
            stopped_to_running: Duration::from_secs(30),
            running_to_terminated: Duration::from_secs(30),
            running_ssh: Duration::from_secs(30),
            port_probe: Duration::from_secs(2),
            firewall_change: Duration::from_secs(10),
            clock_skew: Duration::from_secs(60),
            poll_interval: Some(Duration::from_millis(100)),
        }
    }

    /// The same budgets with `f` applied to every duration except the clock skew and the poll
    /// interval (useful to shorten the waits of a broken provider in tests).
    pub fn map(self, f: impl Fn(Duration) -> Duration) -> Self {
        Self {
            api_call: f(self.api_call),
            create_call: f(self.create_call),
            pending_to_running: f(self.pending_to_running),
            running_to_stopped: f(self.running_to_stopped),
            stopped_to_running: f(self.stopped_to_running),
            running_to_terminated: f(self.running_to_terminated),
            running_ssh: f(self.running_ssh),
            port_probe: f(self.port_probe),
            firewall_change: f(self.firewall_change),
            clock_skew: self.clock_skew,
            poll_interval: self.poll_interval,
        }
    }
}

/// Where the suite's SSH key comes from.
#[derive(Clone, Default)]
pub enum SshKeySource {
    /// A fresh ed25519 key for every run (the default).
    #[default]
    Generate,
    /// An unencrypted OpenSSH private key file (ed25519 or ECDSA).
    File(PathBuf),
}

impl fmt::Debug for SshKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Generate => f.write_str("Generate"),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// Which checks run and how.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    /// Run only these checks (names from [`crate::ALL_CHECKS`]); empty runs all. Checks that
    /// need an instance bring `create` and `terminate` with them, and `cleanup` always runs.
    pub only: Vec<String>,
    /// Never run these checks.
    pub skip: Vec<String>,
    /// The key put on the test instance and used for SSH.
    pub ssh_key: SshKeySource,
    /// A port opened by the test instance's firewall rules (when the provider honours them).
    pub open_port: u16,
    /// A port no rule opens; it must be blocked (v1's `DefaultFirewallTestPort`, 9999).
    pub closed_port: u16,
    /// Check that the instance can open a connection back to this machine (needs this machine
    /// to accept inbound TCP from the instance; turn it off behind NAT).
    pub check_egress: bool,
    /// Prefix of the names, RefIDs and tag of everything the suite creates.
    pub name_prefix: String,
    /// When non-empty, the instance's `PRETTY_NAME` in `/etc/os-release` must contain one of
    /// these, e.g. `Ubuntu 22.04`.
    pub expected_os: Vec<String>,
}

impl Default for SuiteOptions {
    fn default() -> Self {
        Self {
            only: Vec::new(),
            skip: Vec::new(),
            ssh_key: SshKeySource::Generate,
            open_port: 9998,
            closed_port: 9999,
            check_egress: true,
            name_prefix: "gpucloud-conformance".to_owned(),
            expected_os: Vec::new(),
        }
    }
}
