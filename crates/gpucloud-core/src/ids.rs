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
        // Written into one sized string: catalogs build an id per entry, and `format!`'s
        // machinery was an eighth of a broker's whole catalog call (callgrind).
        let mut id = String::with_capacity(location.len() + zone.len() + instance_type.len() + 2);
        id.push_str(location);
        id.push('-');
        id.push_str(zone);
        id.push('-');
        id.push_str(instance_type);
        Self(id)
    }
}

/// A tenant id that identifies an account without revealing its secret:
/// `<prefix>-<lower-case hex SHA-256 of the secret>` (v1's convention).
pub fn tenant_id_from_secret(prefix: &str, secret: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(secret);
    format!("{prefix}-{}", crate::text::hex(&digest))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::model::instance::Instance;
    use crate::model::instance_type::InstanceType;

    #[test]
    fn generic_ids_follow_v1() {
        assert_eq!(
            InstanceTypeId::generic("us-west-1", None, "gpu_1x_a100").as_str(),
            "us-west-1-noSub-gpu_1x_a100"
        );
        assert_eq!(
            InstanceTypeId::generic("us-east-1", Some("us-east-1a"), "a100").as_str(),
            "us-east-1-us-east-1a-a100"
        );
        assert_eq!(
            InstanceTypeId::generic("sfc", Some(""), "h100.ib").as_str(),
            "sfc-noSub-h100.ib"
        );
    }

    #[test]
    fn tenant_ids_hide_the_secret() {
        let id = tenant_id_from_secret("lambda", b"secret_abc");
        assert!(id.starts_with("lambda-"));
        assert_eq!(id.len(), "lambda-".len() + 64);
        assert!(!id.contains("secret_abc"));
        assert_eq!(id, tenant_id_from_secret("lambda", b"secret_abc"));
    }

    proptest! {
        /// The catalog side (first zone of `available_azs`) and the instance side
        /// (`sub_location`) always produce the same ID for the same placement.
        #[test]
        fn catalog_and_instance_ids_agree(
            location in "[a-z0-9-]{1,20}",
            zone in proptest::option::of("[a-z0-9-]{0,12}"),
            type_name in "[A-Za-z0-9_.-]{1,30}",
        ) {
            let catalog = InstanceType {
                location: location.as_str().into(),
                available_azs: zone.clone().into_iter().collect(),
                sub_location: zone.clone().unwrap_or_default().into(),
                type_name: type_name.as_str().into(),
                ..InstanceType::default()
            };
            let instance = Instance {
                location,
                sub_location: zone.unwrap_or_default(),
                instance_type: type_name,
                ..Instance::default()
            };
            let from_instance = InstanceTypeId::generic(&instance.location, Some(&instance.sub_location), &instance.instance_type);
            prop_assert_eq!(catalog.generic_id(), from_instance);
        }
    }
}
