//! The offers the fake serves, shaped like Shadeform's `/instances/types`: the same Shadeform
//! types sold by several upstream clouds, in their own regions, at their own cent prices.

/// One upstream region of an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogRegion {
    /// The region as the upstream cloud spells it, e.g. `canada-1`.
    pub region: &'static str,
    /// Shadeform's `display_name`, e.g. `CA, Montreal`.
    pub display_name: &'static str,
}

/// One offer: an upstream cloud's machine under a Shadeform type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogOffer {
    /// Upstream cloud, e.g. `hyperstack` (`excesssupply` is Shadeform's own capacity).
    pub cloud: &'static str,
    /// Shadeform's type, e.g. `H100x8`.
    pub shade_instance_type: &'static str,
    /// The upstream cloud's own type name.
    pub cloud_instance_type: &'static str,
    /// GPU type, e.g. `A100_80G`.
    pub gpu_type: &'static str,
    /// GPUs.
    pub num_gpus: u32,
    /// VRAM per GPU in GB.
    pub vram_per_gpu_in_gb: u32,
    /// `pcie`, `sxm4`, `sxm5`, ...
    pub interconnect: &'static str,
    /// NVLink between the GPUs.
    pub nvlink: bool,
    /// `nvidia`, `amd`.
    pub gpu_manufacturer: &'static str,
    /// vCPUs.
    pub vcpus: u32,
    /// RAM in GB.
    pub memory_in_gb: u32,
    /// Disk in GB.
    pub storage_in_gb: u32,
    /// Cents per hour.
    pub hourly_price: u32,
    /// `vm`, `container` or `baremetal`.
    pub deployment_type: &'static str,
    /// Minimum and maximum boot time in seconds.
    pub boot_time: (u32, u32),
    /// Where it is sold.
    pub regions: &'static [CatalogRegion],
}

/// The OS images every offer accepts (`os`).
pub const OS_OPTIONS: &[&str] = &[
    "ubuntu22.04_cuda12.2_shade_os",
    "ubuntu20.04_cuda12.0_shade_os",
];

/// How many instances each offer can launch in each of its regions at start.
pub const DEFAULT_CAPACITY: u32 = 3;

const fn r(region: &'static str, display_name: &'static str) -> CatalogRegion {
    CatalogRegion {
        region,
        display_name,
    }
}

const HYPERSTACK: &[CatalogRegion] = &[r("canada-1", "CA, Montreal"), r("norway-1", "NO, Oslo")];
const VERDA: &[CatalogRegion] = &[
    r("helsinki-finland-5", "FI, Helsinki"),
    r("iceland-1", "IS, Keflavik"),
];
const MASSED: &[CatalogRegion] = &[r("desmoines-usa-1", "US, Des Moines, IA")];
const LAMBDA: &[CatalogRegion] = &[
    r("us-east-1", "US, Washington, DC"),
    r("us-west-1", "US, San Jose, CA"),
];
const CRUSOE: &[CatalogRegion] = &[r("us-northcentral1-a", "US, Chicago, IL")];
const EXCESS: &[CatalogRegion] = &[r("us-central-1", "US, Wichita, KS")];

#[allow(clippy::too_many_arguments)]
const fn offer(
    cloud: &'static str,
    shade_instance_type: &'static str,
    cloud_instance_type: &'static str,
    (gpu_type, num_gpus, vram_per_gpu_in_gb, interconnect, nvlink): (
        &'static str,
        u32,
        u32,
        &'static str,
        bool,
    ),
    (vcpus, memory_in_gb, storage_in_gb): (u32, u32, u32),
    hourly_price: u32,
    deployment_type: &'static str,
    boot_time: (u32, u32),
    regions: &'static [CatalogRegion],
) -> CatalogOffer {
    CatalogOffer {
        cloud,
        shade_instance_type,
        cloud_instance_type,
        gpu_type,
        num_gpus,
        vram_per_gpu_in_gb,
        interconnect,
        nvlink,
        gpu_manufacturer: "nvidia",
        vcpus,
        memory_in_gb,
        storage_in_gb,
        hourly_price,
        deployment_type,
        boot_time,
        regions,
    }
}

/// Every offer, in the order the API lists them.
pub const OFFERS: &[CatalogOffer] = &[
    offer(
        "hyperstack",
        "A4000",
        "n1-RTX-A4000x1",
        ("A4000", 1, 16, "pcie", false),
        (6, 24, 100),
        15,
        "vm",
        (120, 300),
        HYPERSTACK,
    ),
    offer(
        "hyperstack",
        "A6000",
        "n3-RTX-A6000x1",
        ("A6000", 1, 48, "pcie", false),
        (28, 58, 100),
        50,
        "vm",
        (120, 300),
        HYPERSTACK,
    ),
    offer(
        "hyperstack",
        "H100",
        "n3-H100x1",
        ("H100", 1, 80, "pcie", false),
        (28, 180, 100),
        190,
        "vm",
        (180, 420),
        HYPERSTACK,
    ),
    offer(
        "hyperstack",
        "H100x8",
        "n3-H100-SXM5x8",
        ("H100", 8, 80, "sxm5", true),
        (192, 1800, 32000),
        1920,
        "vm",
        (300, 900),
        HYPERSTACK,
    ),
    offer(
        "verda",
        "B200",
        "1B200.31V",
        ("B200", 1, 180, "sxm6", true),
        (31, 250, 250),
        449,
        "vm",
        (120, 240),
        VERDA,
    ),
    offer(
        "verda",
        "H200x8",
        "8H200.141S.176V",
        ("H200", 8, 141, "sxm5", true),
        (176, 1450, 7600),
        2792,
        "vm",
        (180, 480),
        VERDA,
    ),
    offer(
        "verda",
        "H100",
        "1H100.80S.30V",
        ("H100", 1, 80, "sxm5", true),
        (30, 120, 500),
        219,
        "vm",
        (120, 300),
        VERDA,
    ),
    offer(
        "massedcompute",
        "L40",
        "gpu_1x_l40",
        ("L40", 1, 48, "pcie", false),
        (16, 64, 400),
        99,
        "vm",
        (300, 600),
        MASSED,
    ),
    offer(
        "massedcompute",
        "A100_80Gx8",
        "gpu_8x_a100_80gb_sxm",
        ("A100_80G", 8, 80, "sxm4", true),
        (128, 1024, 4000),
        1432,
        "vm",
        (300, 600),
        MASSED,
    ),
    offer(
        "lambdalabs",
        "H100",
        "gpu_1x_h100_pcie",
        ("H100", 1, 80, "pcie", false),
        (26, 200, 1000),
        249,
        "vm",
        (180, 600),
        LAMBDA,
    ),
    offer(
        "lambdalabs",
        "GH200",
        "gpu_1x_gh200",
        ("GH200", 1, 96, "", false),
        (64, 432, 4000),
        149,
        "vm",
        (180, 600),
        LAMBDA,
    ),
    offer(
        "crusoe",
        "H100x8",
        "h100-80gb-sxm-ib.8x",
        ("H100", 8, 80, "sxm5", true),
        (176, 1440, 7680),
        3120,
        "baremetal",
        (600, 1200),
        CRUSOE,
    ),
    offer(
        "excesssupply",
        "A100_80G",
        "a100-80g-pcie",
        ("A100_80G", 1, 80, "pcie", false),
        (12, 85, 250),
        129,
        "container",
        (60, 120),
        EXCESS,
    ),
];

/// The offer of `shade_instance_type` on `cloud`.
pub fn offer_of(cloud: &str, shade_instance_type: &str) -> Option<&'static CatalogOffer> {
    OFFERS
        .iter()
        .find(|o| o.cloud == cloud && o.shade_instance_type == shade_instance_type)
}

/// The capacity key of an offer: `<cloud>_<shade type>`, the provider's type name.
pub fn capacity_key(cloud: &str, shade_instance_type: &str) -> String {
    format!("{cloud}_{shade_instance_type}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_span_clouds_and_are_unique() {
        let mut clouds: Vec<&str> = OFFERS.iter().map(|o| o.cloud).collect();
        clouds.dedup();
        assert!(clouds.len() >= 4, "{clouds:?}");
        for (i, a) in OFFERS.iter().enumerate() {
            assert!(!a.cloud.contains('_'), "cloud names have no '_'");
            assert!(!a.regions.is_empty() && a.hourly_price > 0);
            for b in &OFFERS[i + 1..] {
                assert!(
                    (a.cloud, a.shade_instance_type) != (b.cloud, b.shade_instance_type),
                    "{} {} twice",
                    a.cloud,
                    a.shade_instance_type
                );
            }
        }
        assert!(offer_of("verda", "B200").is_some() && offer_of("verda", "Z9").is_none());
    }
}
