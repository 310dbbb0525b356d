//! The fake's catalog: instance types of several upstream clouds, each with its regions, a
//! price as the API publishes it, and the experiences a deployment can be made of.
//!
//! Shapes follow the `InstanceType` schema of the NVIDIA LaunchPad API 2.40.9 description
//! (`capacity`, `cloud`, `cpu`, `gpu{count, family, interconnection_type, manufacturer,
//! memory_gb, model}`, `memory_gb`, `price{currency, on_demand_per_hour}`, `regions`,
//! `storage[{size_gb, type}]`, `system_arch`, `workshop_id`). The prices are of the order
//! NVIDIA lists, not a copy of a price list.

/// One instance type of the catalog.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CatalogType {
    /// Upstream cloud (`dmz` is NVIDIA's own data centre).
    pub cloud: &'static str,
    /// vCPUs.
    pub cpu: u32,
    /// GPU family, e.g. `GH200` (what a deployment's `gpu_model` names, lower-cased).
    pub family: &'static str,
    /// GPU model, e.g. `GH200-96GB`.
    pub model: &'static str,
    /// GPUs per machine.
    pub gpu_count: u32,
    /// Memory of one GPU in GB.
    pub gpu_memory_gb: u32,
    /// `pcie` or `sxm`, as the description's enum spells it.
    pub interconnect: &'static str,
    /// System memory in GB.
    pub memory_gb: u32,
    /// Price per hour in USD.
    pub price_per_hour: f64,
    /// Regions offering it.
    pub regions: &'static [&'static str],
    /// Disks: size in GB and `nvme` or `ssd`.
    pub storage: &'static [(u32, &'static str)],
    /// `amd64` or `arm64`.
    pub system_arch: &'static str,
    /// The workshop the type is reserved for; empty for none.
    pub workshop_id: &'static str,
}

impl CatalogType {
    /// The key capacity is kept under: `<cloud>/<family>x<count>` (lower case), what a
    /// deployment request can name (`provider_name`, `gpu_model`, `gpu_count`).
    pub fn key(&self) -> String {
        capacity_key(self.cloud, self.family, self.gpu_count)
    }
}

/// The capacity key of a cloud, GPU family and count (lower case).
pub fn capacity_key(cloud: &str, family: &str, count: u32) -> String {
    format!(
        "{}/{}x{count}",
        cloud.to_ascii_lowercase(),
        family.to_ascii_lowercase()
    )
}

/// Machines of each type every region has at start.
pub const DEFAULT_CAPACITY: u32 = 3;

/// The instance types the fake offers: four upstream clouds, NVIDIA's DMZ with its arm64
/// GH200 among them.
pub const TYPES: &[CatalogType] = &[
    CatalogType {
        cloud: "dmz",
        cpu: 72,
        family: "GH200",
        model: "GH200-96GB",
        gpu_count: 1,
        gpu_memory_gb: 96,
        interconnect: "sxm",
        memory_gb: 480,
        price_per_hour: 2.8,
        regions: &["pdx"],
        storage: &[(4096, "nvme")],
        system_arch: "arm64",
        workshop_id: "",
    },
    CatalogType {
        cloud: "dmz",
        cpu: 32,
        family: "H100",
        model: "H100-80GB",
        gpu_count: 1,
        gpu_memory_gb: 80,
        interconnect: "pcie",
        memory_gb: 256,
        price_per_hour: 2.37,
        regions: &["pdx", "sjc"],
        storage: &[(1024, "nvme")],
        system_arch: "amd64",
        workshop_id: "",
    },
    CatalogType {
        cloud: "oci",
        cpu: 128,
        family: "A100",
        model: "A100-80GB",
        gpu_count: 8,
        gpu_memory_gb: 80,
        interconnect: "sxm",
        memory_gb: 2048,
        price_per_hour: 16.08,
        regions: &["us-tx-1", "us-az-1"],
        storage: &[(3840, "nvme"), (3840, "nvme")],
        system_arch: "amd64",
        workshop_id: "",
    },
    CatalogType {
        cloud: "nebius",
        cpu: 128,
        family: "H100",
        model: "H100-80GB",
        gpu_count: 8,
        gpu_memory_gb: 80,
        interconnect: "sxm",
        memory_gb: 1600,
        price_per_hour: 23.6,
        regions: &["eu-north1"],
        storage: &[(1024, "ssd")],
        system_arch: "amd64",
        workshop_id: "",
    },
    CatalogType {
        cloud: "azure",
        cpu: 24,
        family: "L40S",
        model: "L40S-48GB",
        gpu_count: 2,
        gpu_memory_gb: 48,
        interconnect: "pcie",
        memory_gb: 192,
        price_per_hour: 3.16,
        regions: &["us-east-1"],
        storage: &[(960, "ssd")],
        system_arch: "amd64",
        workshop_id: "",
    },
    CatalogType {
        cloud: "oci",
        cpu: 16,
        family: "A10",
        model: "A10-24GB",
        gpu_count: 1,
        gpu_memory_gb: 24,
        interconnect: "pcie",
        memory_gb: 120,
        price_per_hour: 0.98,
        regions: &["us-tx-1"],
        storage: &[(512, "ssd")],
        system_arch: "amd64",
        workshop_id: "lp-training",
    },
];

/// The type of `cloud` with this GPU family (case-insensitive: a deployment's `gpu_model`)
/// and count.
pub fn type_of(cloud: &str, family: &str, count: u32) -> Option<&'static CatalogType> {
    TYPES.iter().find(|t| {
        t.cloud.eq_ignore_ascii_case(cloud)
            && t.family.eq_ignore_ascii_case(family)
            && t.gpu_count == count
    })
}

/// The experiences a deployment can be made of (`experience_id`): the ones the Go provider
/// used (a general one, a minimal one for Nebius, one for the DMZ's GH200).
pub const EXPERIENCES: &[&str] = &[
    "43123766-35ec-4eb4-a5ba-3f2945228445",
    "a5d93f56-bbdb-44db-a1ae-6b1ad7d3c6df",
    "d12c37eb-270a-4471-be45-48e4d1fdb764",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_has_three_clouds_and_the_dmz_gh200_on_arm64() {
        let clouds: std::collections::BTreeSet<_> = TYPES.iter().map(|t| t.cloud).collect();
        assert!(clouds.len() >= 3, "{clouds:?}");
        let gh200 = type_of("DMZ", "gh200", 1).unwrap();
        assert_eq!(gh200.system_arch, "arm64");
        let keys: std::collections::BTreeSet<_> = TYPES.iter().map(CatalogType::key).collect();
        assert_eq!(keys.len(), TYPES.len(), "keys are unique");
        assert!(
            TYPES
                .iter()
                .all(|t| matches!(t.interconnect, "pcie" | "sxm"))
        );
    }
}
