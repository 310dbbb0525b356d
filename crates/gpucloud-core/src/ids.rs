//! Identifier newtypes and the one instance-type ID builder.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a provider-issued string.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// True when the identifier is the empty string.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// Consumes the identifier, returning the owned string.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

string_id!(
    /// A provider identifier such as `lambda-labs` or `local` (v1 `CloudProviderID`).
    CloudProviderId
);
string_id!(
    /// The provider-native id of an instance (v1 `CloudProviderInstanceID`, the "CloudID").
    InstanceId
);
string_id!(
    /// The provider-native id of a VPC, subnet, cluster or node group (v1 `CloudProviderResourceID`).
    ResourceId
);
string_id!(
    /// The stable, globally unique catalog key of an instance type (v1 `InstanceTypeID`).
    ///
    /// Build it with [`InstanceTypeId::generic`] from both the catalog and the instance side so
    /// the two can never disagree (v1 §7).
    InstanceTypeId
);

/// The zone segment used in generic IDs when a type has no zone.
pub const NO_SUB_LOCATION: &str = "noSub";

impl InstanceTypeId {
    /// The generic v1 ID: `<location>-<zone or noSub>-<type>`.
    ///
    /// An empty zone counts as no zone. Every provider builds both `InstanceType::id` and
    /// `Instance::instance_type_id` through this function.
    pub fn generic(location: &str, zone: Option<&str>, instance_type: &str) -> Self {
        let zone = zone.filter(|z| !z.is_empty()).unwrap_or(NO_SUB_LOCATION);
        Self(format!("{location}-{zone}-{instance_type}"))
    }
}
