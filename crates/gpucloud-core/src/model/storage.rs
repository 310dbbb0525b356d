//! Storage offered by an instance type, and disks attached to instances (v1 §6.9).

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::bytes::Bytes;
use crate::ids::InstanceId;
use crate::price::Price;

/// Storage that comes with (or can be added to) an instance type.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Storage {
    /// Number of such devices.
    pub count: u32,
    /// Size of each device.
    pub size_bytes: Bytes,
    /// `ssd`, `nvme`, `network-ssd`, `ephemeral`, ...
    #[serde(rename = "type")]
    pub storage_type: CompactString,
    /// Smallest selectable size (elastic disks).
    pub min_size_bytes: Option<Bytes>,
    /// Largest selectable size (elastic disks).
    pub max_size_bytes: Option<Bytes>,
    /// Extra price per GB-hour; required whenever a minimum size is set.
    pub price_per_gb_hr: Option<Price>,
    /// Lost on stop or terminate.
    pub is_ephemeral: bool,
    /// An additional disk rather than the root volume.
    pub is_additional_disk: bool,
    /// Must be mounted at a path given at create.
    pub requires_volume_mount_path: bool,
    /// Can be resized.
    pub is_elastic: bool,
}

/// A disk attached to an instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Disk {
    /// Size.
    pub size_bytes: Bytes,
    /// Type, e.g. `ssd`.
    #[serde(rename = "type")]
    pub disk_type: String,
    /// Where it is mounted.
    pub mount_path: String,
}

/// Grow an instance's root volume (v1 `ResizeInstanceVolumeArgs`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ResizeInstanceVolumeArgs {
    /// The instance.
    pub instance_id: InstanceId,
    /// The new size.
    pub size_bytes: Bytes,
    /// Wait until the provider finishes optimizing the volume.
    pub wait_for_optimizing: bool,
}
