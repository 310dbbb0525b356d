//! The string enumerations of the v1 model, serialized with their exact v1 strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    (
        $(#[$doc:meta])*
        $name:ident { $( $(#[$vdoc:meta])* $variant:ident = $text:literal ),+ $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vdoc])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The exact v1 string.
            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text, )+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    other => Err(UnknownValue { kind: stringify!($name), value: other.to_owned() }),
                }
            }
        }
    };
}

/// A string that names no value of an enumeration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} value {value:?}")]
pub struct UnknownValue {
    /// The enumeration's name.
    pub kind: &'static str,
    /// The string that was given.
    pub value: String,
}

string_enum!(
    /// How a control plane enumerates the catalog (v1 §2.2).
    ApiType {
        /// Query instance types per location.
        Locational = "locational",
        /// Query instance types once for all locations.
        Global = "global",
    }
);

string_enum!(
    /// A provider-level capability (v1 §2.3). More are added as providers need them.
    #[non_exhaustive]
    Capability {
        /// Instances can be created.
        CreateInstance = "create-instance",
        /// A repeated create with the same RefID returns the same instance.
        CreateIdempotentInstance = "create-instance-idempotent",
        /// Instances can be terminated.
        TerminateInstance = "terminate-instance",
        /// The composite of create and terminate.
        CreateTerminateInstance = "create-terminate-instance",
        /// User data may be passed at create.
        InstanceUserData = "instance-userdata",
        /// Instance tags can be updated and filtered on.
        Tags = "tags",
        /// Instances can be rebooted.
        RebootInstance = "reboot-instance",
        /// Instance volumes can be grown.
        ResizeInstanceVolume = "resize-instance-volume",
        /// Instances can be stopped and started.
        StopStartInstance = "stop-start-instance",
        /// Machine images can be listed.
        MachineImage = "machine-image",
        /// Instance firewall rules can be changed after create.
        ModifyFirewall = "modify-firewall",
        /// VPCs can be created and deleted.
        Vpc = "vpc",
        /// Managed Kubernetes clusters can be created and deleted.
        ManagedKubernetes = "managed-kubernetes",
        /// The instance type of an instance can be changed (no v1 constant; gpucloud's own).
        ChangeInstanceType = "change-instance-type",
        /// Quotas per instance type can be read (no v1 constant; gpucloud's own).
        Quota = "quota",
    }
);

string_enum!(
    /// The lifecycle of an instance (v1 §2.4).
    LifecycleStatus {
        /// Create or start initiated; provisioning or booting.
        Pending = "pending",
        /// Up; the public address is known.
        Running = "running",
        /// Stop requested.
        Stopping = "stopping",
        /// Powered off, storage kept.
        Stopped = "stopped",
        /// Suspend requested.
        Suspending = "suspending",
        /// Hibernated.
        Suspended = "suspended",
        /// Delete requested.
        Terminating = "terminating",
        /// Gone.
        Terminated = "terminated",
        /// Provisioning or an operation failed.
        Failed = "failed",
    }
);

impl LifecycleStatus {
    /// True for states an instance never leaves (`terminated`, `failed`).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Terminated | Self::Failed)
    }
}

string_enum!(
    /// GPU manufacturer (v1 §2.5).
    Manufacturer {
        /// NVIDIA.
        Nvidia = "NVIDIA",
        /// Intel.
        Intel = "Intel",
        /// AMD (absent from v1, which could not name it).
        Amd = "AMD",
        /// Anything else.
        Unknown = "unknown",
    }
);

// Written out because `string_enum!` does not take per-variant derive attributes.
#[allow(clippy::derivable_impls)]
impl Default for Manufacturer {
    fn default() -> Self {
        Self::Unknown
    }
}

impl Manufacturer {
    /// Lenient parse: case-insensitive, anything unrecognized is `Unknown`.
    pub fn parse_lenient(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "nvidia" => Self::Nvidia,
            "intel" => Self::Intel,
            "amd" => Self::Amd,
            _ => Self::Unknown,
        }
    }
}

string_enum!(
    /// CPU architecture (v1 §2.6).
    Architecture {
        /// x86-64 / amd64.
        X86_64 = "x86_64",
        /// arm64 / aarch64.
        Arm64 = "arm64",
        /// Anything else.
        Unknown = "unknown",
    }
);

impl Architecture {
    /// Lenient parse: trims, lower-cases, accepts `amd64` and `aarch64`; else `Unknown`.
    pub fn parse_lenient(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "x86_64" | "amd64" => Self::X86_64,
            "arm64" | "aarch64" => Self::Arm64,
            _ => Self::Unknown,
        }
    }
}

string_enum!(
    /// The state of a VPC.
    VpcStatus {
        /// Ready for use.
        Available = "available",
        /// Being created.
        Pending = "pending",
        /// Being deleted.
        Deleting = "deleting",
        /// Not known.
        Unknown = "unknown",
    }
);

string_enum!(
    /// Whether a subnet routes to the internet.
    SubnetType {
        /// Routable from the internet.
        Public = "public",
        /// Not routable from the internet.
        Private = "private",
    }
);

string_enum!(
    /// The state of a managed Kubernetes cluster.
    ClusterStatus {
        /// Not known.
        Unknown = "unknown",
        /// Being created.
        Pending = "pending",
        /// Ready.
        Available = "available",
        /// Being deleted.
        Deleting = "deleting",
        /// Failed.
        Failed = "failed",
    }
);

string_enum!(
    /// The state of a Kubernetes node group.
    NodeGroupStatus {
        /// Not known.
        Unknown = "unknown",
        /// Being created.
        Pending = "pending",
        /// Ready.
        Available = "available",
        /// Being deleted.
        Deleting = "deleting",
        /// Failed.
        Failed = "failed",
    }
);

string_enum!(
    /// A transport protocol for a firewall rule.
    Protocol {
        /// TCP.
        Tcp = "tcp",
        /// UDP.
        Udp = "udp",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_strings_round_trip_through_serde_and_from_str() {
        for status in LifecycleStatus::ALL {
            let json = serde_json::to_string(status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(status.as_str().parse::<LifecycleStatus>().unwrap(), *status);
        }
        for cap in Capability::ALL {
            assert_eq!(cap.as_str().parse::<Capability>().unwrap(), *cap);
        }
        assert_eq!(
            Capability::CreateIdempotentInstance.as_str(),
            "create-instance-idempotent"
        );
        assert_eq!(Capability::InstanceUserData.as_str(), "instance-userdata");
        assert!("RUNNING".parse::<LifecycleStatus>().is_err());
    }

    #[test]
    fn lenient_parsers_follow_v1() {
        assert_eq!(
            Architecture::parse_lenient(" AARCH64\n"),
            Architecture::Arm64
        );
        assert_eq!(Architecture::parse_lenient("amd64"), Architecture::X86_64);
        assert_eq!(
            Architecture::parse_lenient("riscv64"),
            Architecture::Unknown
        );
        assert_eq!(Manufacturer::parse_lenient("nvidia"), Manufacturer::Nvidia);
        assert_eq!(Manufacturer::parse_lenient("Intel"), Manufacturer::Intel);
        assert_eq!(Manufacturer::parse_lenient("ACME"), Manufacturer::Unknown);
    }
}
