//! Merging fresh provider data into stored records: identity fields are kept (v1 §5.17).

use crate::model::instance::Instance;
use crate::model::instance_type::InstanceType;

/// Returns `fresh` with the identity fields of `current` kept: name, RefID, location, zone,
/// credential reference id, spot, creation time, cloud id, and the type name, type ID and
/// volume type when `current` has them.
pub fn merge_instance(current: &Instance, fresh: Instance) -> Instance {
    fn keep(current: &str, fresh: String) -> String {
        if current.is_empty() {
            fresh
        } else {
            current.to_owned()
        }
    }
    Instance {
        name: current.name.clone(),
        ref_id: current.ref_id.clone(),
        location: current.location.clone(),
        sub_location: current.sub_location.clone(),
        cloud_cred_ref_id: current.cloud_cred_ref_id.clone(),
        spot: current.spot,
        created_at: current.created_at.or(fresh.created_at),
        cloud_id: if current.cloud_id.is_empty() {
            fresh.cloud_id.clone()
        } else {
            current.cloud_id.clone()
        },
        instance_type: keep(&current.instance_type, fresh.instance_type.clone()),
        instance_type_id: if current.instance_type_id.is_empty() {
            fresh.instance_type_id.clone()
        } else {
            current.instance_type_id.clone()
        },
        volume_type: keep(&current.volume_type, fresh.volume_type.clone()),
        ..fresh
    }
}

/// Returns `fresh` with the stored ID kept when there is one.
pub fn merge_instance_type(current: &InstanceType, fresh: InstanceType) -> InstanceType {
    if current.id.is_empty() {
        fresh
    } else {
        InstanceType {
            id: current.id.clone(),
            ..fresh
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::LifecycleStatus;
    use crate::ids::{InstanceId, InstanceTypeId};
    use crate::model::instance::Status;

    #[test]
    fn identity_fields_survive_and_state_is_refreshed() {
        let current = Instance {
            name: "n".into(),
            ref_id: "r".into(),
            location: "l".into(),
            sub_location: "z".into(),
            cloud_cred_ref_id: "c".into(),
            spot: true,
            cloud_id: InstanceId::new("i-1"),
            instance_type: "t".into(),
            instance_type_id: InstanceTypeId::new("l-z-t"),
            volume_type: "ssd".into(),
            ..Instance::default()
        };
        let fresh = Instance {
            name: "renamed".into(),
            public_ip: "10.0.0.1".into(),
            status: Status::new(LifecycleStatus::Running),
            ..Instance::default()
        };
        let merged = merge_instance(&current, fresh);
        assert_eq!(merged.name, "n");
        assert_eq!(merged.ref_id, "r");
        assert_eq!(merged.location, "l");
        assert_eq!(merged.sub_location, "z");
        assert_eq!(merged.cloud_cred_ref_id, "c");
        assert!(merged.spot);
        assert_eq!(merged.instance_type, "t");
        assert_eq!(merged.instance_type_id, InstanceTypeId::new("l-z-t"));
        assert_eq!(merged.volume_type, "ssd");
        assert_eq!(merged.public_ip, "10.0.0.1");
        assert_eq!(merged.lifecycle(), LifecycleStatus::Running);
    }
}
