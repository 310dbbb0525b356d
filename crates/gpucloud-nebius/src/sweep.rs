//! Which boot disks and security groups the sweep deletes: those a create of this credential
//! made (its labels say so) that no instance uses any more and that are older than the grace.
//!
//! A create makes its security group and boot disk before the instance, and a terminate
//! deletes them after it; a fault, a crash or a timeout between those steps leaves one
//! behind, and nothing points at it any more (the instance that named it is gone, or never
//! was). The grace keeps the sweep off what a create still under way (in another process)
//! has made but not attached yet.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use gpucloud_core::bookkeeping::{CRED_REF_ID_TAG, REF_ID_TAG};
use gpucloud_nebius_proto::common::v1 as common;
use gpucloud_nebius_proto::compute::v1 as compute;
use gpucloud_nebius_proto::vpc::v1 as vpc;

use crate::convert;

/// What one sweep of a project deletes, by id: disks first (a group is not deleted while a
/// disk's instance may still name it).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Orphans {
    /// Boot disks no instance uses.
    pub(crate) disks: Vec<String>,
    /// Security groups no instance uses.
    pub(crate) groups: Vec<String>,
}

/// The resources of `me` in one project that no instance of `instances` (every instance of
/// the project, whoever made it) uses, and that are at least `grace` old at `now`. One whose
/// age cannot be read is left unless the grace is zero.
pub(crate) fn orphans(
    me: &str,
    instances: &[compute::Instance],
    disks: &[compute::Disk],
    groups: &[vpc::SecurityGroup],
    grace: Duration,
    now: SystemTime,
) -> Orphans {
    let mut used: HashSet<&str> = HashSet::new();
    for w in instances {
        used.extend(convert::boot_disk_id(w));
        // Managed disks (made with the instance) are named only in its status.
        used.extend(
            w.status
                .iter()
                .flat_map(|s| s.disk_attachments.iter())
                .map(|a| a.id.as_str())
                .filter(|id| !id.is_empty()),
        );
        if let Some(spec) = &w.spec {
            used.extend(spec.secondary_disks.iter().filter_map(|d| match &d.r#type {
                Some(compute::attached_disk_spec::Type::ExistingDisk(d)) => Some(d.id.as_str()),
                _ => None,
            }));
            used.extend(
                spec.network_interfaces
                    .iter()
                    .flat_map(|n| n.security_groups.iter().map(|g| g.id.as_str())),
            );
        }
    }
    let swept = |metadata: Option<&common::ResourceMetadata>| -> Option<String> {
        let metadata = metadata?;
        let ours = metadata.labels.get(CRED_REF_ID_TAG).map(String::as_str) == Some(me)
            && metadata.labels.contains_key(REF_ID_TAG);
        (ours && !used.contains(metadata.id.as_str()) && old_enough(metadata, grace, now))
            .then(|| metadata.id.clone())
    };
    Orphans {
        disks: disks
            .iter()
            .filter(|d| {
                d.status.as_ref().is_none_or(|s| {
                    s.state() != compute::disk_status::State::Deleting
                        && s.read_write_attachment.is_empty()
                        && s.read_only_attachments.is_empty()
                })
            })
            .filter_map(|d| swept(d.metadata.as_ref()))
            .collect(),
        groups: groups
            .iter()
            .filter(|g| g.status.as_ref().is_none_or(|s| !s.default))
            .filter_map(|g| swept(g.metadata.as_ref()))
            .collect(),
    }
}

fn old_enough(metadata: &common::ResourceMetadata, grace: Duration, now: SystemTime) -> bool {
    if grace.is_zero() {
        return true;
    }
    let Some(created) = metadata.created_at.as_ref() else {
        return false;
    };
    let Ok(secs) = u64::try_from(created.seconds) else {
        return false;
    };
    let created = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
    now.duration_since(created).is_ok_and(|age| age >= grace)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn metadata(id: &str, owner: Option<&str>, age_secs: u64) -> common::ResourceMetadata {
        let mut labels = HashMap::new();
        if let Some(owner) = owner {
            labels.insert(CRED_REF_ID_TAG.to_owned(), owner.to_owned());
            labels.insert(REF_ID_TAG.to_owned(), format!("ref-{id}"));
        }
        common::ResourceMetadata {
            id: id.to_owned(),
            labels,
            created_at: Some(prost_types::Timestamp {
                seconds: i64::try_from(NOW - age_secs).unwrap(),
                nanos: 0,
            }),
            ..common::ResourceMetadata::default()
        }
    }

    fn disk(id: &str, owner: Option<&str>, age_secs: u64, attached_to: &str) -> compute::Disk {
        compute::Disk {
            metadata: Some(metadata(id, owner, age_secs)),
            status: Some(compute::DiskStatus {
                state: compute::disk_status::State::Ready as i32,
                read_write_attachment: attached_to.to_owned(),
                ..compute::DiskStatus::default()
            }),
            ..compute::Disk::default()
        }
    }

    fn group(id: &str, owner: Option<&str>, age_secs: u64) -> vpc::SecurityGroup {
        vpc::SecurityGroup {
            metadata: Some(metadata(id, owner, age_secs)),
            ..vpc::SecurityGroup::default()
        }
    }

    fn instance(disk: &str, group: &str) -> compute::Instance {
        compute::Instance {
            spec: Some(compute::InstanceSpec {
                boot_disk: Some(compute::AttachedDiskSpec {
                    r#type: Some(compute::attached_disk_spec::Type::ExistingDisk(
                        compute::ExistingDisk {
                            id: disk.to_owned(),
                        },
                    )),
                    ..compute::AttachedDiskSpec::default()
                }),
                network_interfaces: vec![compute::NetworkInterfaceSpec {
                    security_groups: vec![compute::SecurityGroup {
                        id: group.to_owned(),
                    }],
                    ..compute::NetworkInterfaceSpec::default()
                }],
                ..compute::InstanceSpec::default()
            }),
            ..compute::Instance::default()
        }
    }

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
    }

    #[test]
    fn only_this_credentials_unused_resources_past_the_grace_are_swept() {
        let grace = Duration::from_secs(900);
        let instances = [instance("disk-used", "group-used")];
        let disks = [
            disk("disk-used", Some("me"), 3600, ""),
            disk("disk-attached", Some("me"), 3600, "computeinstance-x"),
            disk("disk-left", Some("me"), 3600, ""),
            disk("disk-young", Some("me"), 60, ""),
            disk("disk-other", Some("someone-else"), 3600, ""),
            disk("disk-not-gpucloud", None, 3600, ""),
        ];
        let groups = [
            group("group-used", Some("me"), 3600),
            group("group-left", Some("me"), 3600),
            group("group-young", Some("me"), 60),
            group("group-other", Some("someone-else"), 3600),
        ];
        let found = orphans("me", &instances, &disks, &groups, grace, now());
        assert_eq!(
            found,
            Orphans {
                disks: vec!["disk-left".to_owned()],
                groups: vec!["group-left".to_owned()],
            }
        );
    }

    #[test]
    fn a_managed_boot_disk_named_only_in_the_instance_status_is_used() {
        let mut managed = instance("", "group-used");
        managed.spec.as_mut().unwrap().boot_disk = None;
        managed.status = Some(compute::InstanceStatus {
            disk_attachments: vec![compute::DiskAttachmentStatus {
                id: "disk-managed".to_owned(),
                name: "boot-x".to_owned(),
                is_managed: true,
            }],
            ..compute::InstanceStatus::default()
        });
        let disks = [disk("disk-managed", Some("me"), 3600, "")];
        let found = orphans("me", &[managed], &disks, &[], Duration::ZERO, now());
        assert_eq!(found, Orphans::default());
    }

    #[test]
    fn a_zero_grace_sweeps_young_ones_and_those_of_unknown_age() {
        let mut ageless = group("group-ageless", Some("me"), 0);
        ageless.metadata.as_mut().unwrap().created_at = None;
        let groups = [group("group-young", Some("me"), 1), ageless];
        let swept = orphans("me", &[], &[], &groups, Duration::ZERO, now());
        assert_eq!(swept.groups, ["group-young", "group-ageless"]);
        let kept = orphans("me", &[], &[], &groups, Duration::from_secs(1), now());
        assert_eq!(kept.groups, ["group-young"]);
    }

    #[test]
    fn a_disk_being_deleted_and_a_network_default_group_are_left() {
        let mut deleting = disk("disk-deleting", Some("me"), 3600, "");
        deleting.status.as_mut().unwrap().state = compute::disk_status::State::Deleting as i32;
        let mut default = group("group-default", Some("me"), 3600);
        default.status = Some(vpc::SecurityGroupStatus {
            default: true,
            ..vpc::SecurityGroupStatus::default()
        });
        let found = orphans("me", &[], &[deleting], &[default], Duration::ZERO, now());
        assert_eq!(found, Orphans::default());
    }
}
