//! The one location and the instance types of the local provider.
//!
//! Types are CPU-only (no GPU) and free. Their vCPU and memory figures are limits: with a
//! writable cgroup hierarchy (v2, or v1 with the cpu and memory controllers) each instance's
//! processes run in their own cgroup with `cpu.max` / `cfs_quota_us` and `memory.max` /
//! `memory.limit_in_bytes` set to them. Without one they are nominal and nothing is enforced
//! (the client logs this once, and the README says so). A type is available only when this
//! machine has at least that many CPUs and that much memory.

use std::time::Duration;

use gpucloud_core::{Architecture, Bytes, BytesUnit, InstanceType, Location, Price, SmallVec};

use crate::PROVIDER_ID;

/// The only location.
pub const LOCATION: &str = "local";

/// One instance type: its name, vCPU limit and memory limit in GiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Type name.
    pub(crate) name: &'static str,
    /// vCPUs (a CPU-time limit of this many CPUs).
    pub(crate) vcpu: u32,
    /// Memory limit in GiB.
    pub(crate) memory_gib: u32,
}

impl Shape {
    /// Memory limit in bytes.
    pub(crate) fn memory_bytes(&self) -> u64 {
        u64::from(self.memory_gib) << 30
    }
}

/// The instance types.
pub(crate) const SHAPES: [Shape; 3] = [
    Shape {
        name: "cpu.small",
        vcpu: 1,
        memory_gib: 1,
    },
    Shape {
        name: "cpu.medium",
        vcpu: 2,
        memory_gib: 4,
    },
    Shape {
        name: "cpu.large",
        vcpu: 4,
        memory_gib: 8,
    },
];

/// The type with this name.
pub(crate) fn shape(name: &str) -> Option<Shape> {
    SHAPES.iter().copied().find(|s| s.name == name)
}

/// The CPUs and memory of this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Machine {
    /// CPUs usable by this process.
    pub(crate) cpus: u32,
    /// Total memory in bytes.
    pub(crate) memory_bytes: u64,
}

impl Machine {
    /// Reads them from the system.
    pub(crate) fn detect() -> Self {
        let cpus = std::thread::available_parallelism()
            .map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX));
        let memory_bytes = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| parse_mem_total(&text))
            .unwrap_or(0);
        Self { cpus, memory_bytes }
    }

    /// True when an instance of `shape` fits this machine.
    pub(crate) fn fits(&self, shape: &Shape) -> bool {
        shape.vcpu <= self.cpus && shape.memory_bytes() <= self.memory_bytes
    }
}

fn parse_mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The location list.
pub(crate) fn locations() -> Vec<Location> {
    vec![Location {
        name: LOCATION.to_owned(),
        description: "This machine: instances are network namespaces running OpenSSH".to_owned(),
        available: true,
        endpoint: String::new(),
        priority: 0,
        country: String::new(),
    }]
}

/// The catalog entry of `shape` on `machine`.
pub(crate) fn instance_type(shape: &Shape, machine: &Machine) -> InstanceType {
    let mut it = InstanceType {
        location: LOCATION.into(),
        type_name: shape.name.into(),
        supported_gpus: SmallVec::new(),
        supported_storage: SmallVec::new(),
        elastic_root_volume: false,
        supported_usage_classes: ["on-demand".into()].into(),
        memory_bytes: Bytes::new(i64::from(shape.memory_gib), BytesUnit::GiB),
        maximum_network_interfaces: 1,
        network_performance: "local bridge".to_owned(),
        supported_num_cores: vec![shape.vcpu],
        default_cores: shape.vcpu,
        vcpu: shape.vcpu,
        supported_architectures: [Architecture::parse_lenient(std::env::consts::ARCH)].into(),
        stoppable: true,
        rebootable: true,
        is_available: machine.fits(shape),
        base_price: Price::zero("USD").ok(),
        is_container: true,
        estimated_deploy_time: Some(Duration::from_secs(1)),
        provider: PROVIDER_ID.into(),
        cloud: PROVIDER_ID.into(),
        can_modify_firewall_rules: true,
        ..InstanceType::default()
    };
    it.id = it.generic_id();
    it
}

/// Every catalog entry.
pub(crate) fn instance_types(machine: &Machine) -> Vec<InstanceType> {
    SHAPES.iter().map(|s| instance_type(s, machine)).collect()
}

#[cfg(test)]
mod tests {
    use gpucloud_core::InstanceTypeId;

    use super::*;

    #[test]
    fn catalog_is_honest() {
        let machine = Machine {
            cpus: 2,
            memory_bytes: 16 << 30,
        };
        let types = instance_types(&machine);
        assert_eq!(types.len(), 3);
        for it in &types {
            assert_eq!(
                it.id,
                InstanceTypeId::generic(LOCATION, None, &it.type_name)
            );
            assert_eq!(it.gpu_count(), 0);
            assert_eq!(it.base_price, Some(Price::zero("USD").unwrap()));
            assert_eq!(it.provider, "local");
        }
        assert!(types[0].is_available && types[1].is_available);
        assert!(!types[2].is_available, "4 vCPUs do not fit a 2-CPU machine");
        assert_eq!(shape("cpu.medium").unwrap().memory_bytes(), 4 << 30);
        assert!(shape("gpu_8x_h100").is_none());
    }

    #[test]
    fn meminfo() {
        assert_eq!(
            parse_mem_total("MemTotal:       24000000 kB\nMemFree: 1 kB\n"),
            Some(24_000_000 * 1024)
        );
        assert_eq!(parse_mem_total("garbage"), None);
    }
}
