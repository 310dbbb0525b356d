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

/// The OS images every offer accepts (`os`): today's images first (the first is the default
/// of a launch that names none), then older ones still accepted, as the live API lists them.
pub const OS_OPTIONS: &[&str] = &[
    "ubuntu22.04_cuda12.8_shade_os",
    "ubuntu24.04_cuda12.8_shade_os",
    "ubuntu22.04_cuda12.4_shade_os",
    "ubuntu22.04_cuda12.2_shade_os",
    "ubuntu20.04_cuda12.0_shade_os",
    "ubuntu_22_shade_os",
];

/// How many instances each offer can launch in each of its regions at start.
pub const DEFAULT_CAPACITY: u32 = 3;

const fn r(region: &'static str, display_name: &'static str) -> CatalogRegion {
    CatalogRegion {
        region,
        display_name,
    }
}

// Regions as Shadeform names them: `<city>-<country>-<n>` today, and the older names of the
// API description's examples and of upstream clouds (`canada-1`, `us-central-1`,
// `us-northcentral1-a`).
const HYPERSTACK: &[CatalogRegion] = &[r("canada-1", "CA, Montreal"), r("norway-1", "NO, Oslo")];
const VERDA: &[CatalogRegion] = &[
    r("helsinki-finland-5", "FI, Helsinki"),
    r("iceland-1", "IS, Keflavik"),
];
const MASSED: &[CatalogRegion] = &[
    r("desmoines-usa-1", "US, Des Moines, IA"),
    r("kansascity-usa-1", "US, Kansas City, MO"),
    r("wichita-usa-1", "US, Wichita, KS"),
];
const LAMBDA: &[CatalogRegion] = &[
    r("us-east-1", "US, Washington, DC"),
    r("us-west-1", "US, San Jose, CA"),
];
const CRUSOE: &[CatalogRegion] = &[
    r("us-northcentral1-a", "US, Chicago, IL"),
    r("calgary-canada-1", "CA, Calgary"),
];
const SCALEWAY: &[CatalogRegion] = &[
    r("paris-france-1", "FR, Paris"),
    r("paris-france-5", "FR, Paris"),
    r("warsaw-poland-1", "PL, Warsaw"),
];
const PAPERSPACE: &[CatalogRegion] = &[
    r("newyork-usa-1", "US, New York, NY"),
    r("sanjose-usa-2", "US, San Jose, CA"),
];
const DENVR: &[CatalogRegion] = &[
    r("houston-usa-1", "US, Houston, TX"),
    r("houston-usa-2", "US, Houston, TX"),
    r("austin-usa-1", "US, Austin, TX"),
];
const VULTR: &[CatalogRegion] = &[
    r("dallas-usa-3", "US, Dallas, TX"),
    r("chicago-usa-2", "US, Chicago, IL"),
    r("phoenix-usa-2", "US, Phoenix, AZ"),
    r("saltlakecity-usa-1", "US, Salt Lake City, UT"),
    r("tokyo-japan-5", "JP, Tokyo"),
    r("bangalore-india-1", "IN, Bangalore"),
];
const EXCESS_A100: &[CatalogRegion] = &[
    r("us-central-1", "US, Wichita, KS"),
    r("us-central-2", "US, Kansas City, MO"),
    r("kansascity-usa-6", "US, Kansas City, MO"),
    r("culpeper-usa-1", "US, Culpeper, VA"),
];
const EXCESS_L40S: &[CatalogRegion] = &[
    r("dulles-usa-1", "US, Dulles, VA"),
    r("dulles-usa-4", "US, Dulles, VA"),
    r("beltsville-usa-1", "US, Beltsville, MD"),
    r("casper-usa-2", "US, Casper, WY"),
    r("chicago-usa-3", "US, Chicago, IL"),
    r("tokyo-japan-1", "JP, Tokyo"),
    r("montreal-canada-2", "CA, Montreal"),
];

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
        EXCESS_A100,
    ),
    offer(
        "excesssupply",
        "L40S",
        "l40s-48g-pcie",
        ("L40S", 1, 48, "pcie", false),
        (16, 96, 500),
        89,
        "vm",
        (120, 300),
        EXCESS_L40S,
    ),
    // Type names with the live API's suffixes: a form factor (`_sxm4`), a variant (`-plus`)
    // and a second configuration of the same size (`x8-2`); some GPU types carry the form
    // factor too.
    offer(
        "crusoe",
        "A100_80G_sxm4x8",
        "a100-80gb-sxm-ib.8x",
        ("A100_80G_sxm4", 8, 80, "sxm4", true),
        (96, 960, 7680),
        1560,
        "vm",
        (300, 900),
        CRUSOE,
    ),
    offer(
        "scaleway",
        "H100x2",
        "H100-2-80G",
        ("H100", 2, 80, "pcie", false),
        (48, 480, 6000),
        570,
        "vm",
        (180, 420),
        SCALEWAY,
    ),
    offer(
        "scaleway",
        "L40S",
        "L40S-1-48G",
        ("L40S", 1, 48, "pcie", false),
        (8, 96, 1600),
        140,
        "vm",
        (180, 420),
        SCALEWAY,
    ),
    offer(
        "paperspace",
        "A6000",
        "A6000",
        ("A6000", 1, 48, "pcie", false),
        (8, 45, 250),
        189,
        "vm",
        (240, 600),
        PAPERSPACE,
    ),
    offer(
        "paperspace",
        "A100_80G-plus",
        "A100-80G",
        ("A100_80G", 1, 80, "pcie", false),
        (12, 90, 500),
        319,
        "vm",
        (240, 600),
        PAPERSPACE,
    ),
    offer(
        "denvr",
        "H100x8",
        "H100_80GB_SXM5x8",
        ("H100_sxm5", 8, 80, "sxm5", true),
        (208, 1800, 14000),
        2160,
        "baremetal",
        (600, 1800),
        DENVR,
    ),
    offer(
        "denvr",
        "H100x8-2",
        "H100_80GB_SXM5x8_v2",
        ("H100_sxm5", 8, 80, "sxm5", true),
        (224, 2000, 28000),
        2320,
        "baremetal",
        (600, 1800),
        DENVR,
    ),
    offer(
        "vultr",
        "H100_sxm5x8-plus",
        "vbm-112c-2048gb-8-h100-gpu",
        ("H100", 8, 80, "sxm5", true),
        (112, 2048, 15360),
        2390,
        "baremetal",
        (900, 1800),
        VULTR,
    ),
    offer(
        "vultr",
        "A100_80G",
        "vcg-a100-12c-120g-80vram",
        ("A100_80G", 1, 80, "pcie", false),
        (12, 120, 1400),
        175,
        "vm",
        (120, 300),
        VULTR,
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
        let clouds: std::collections::BTreeSet<&str> = OFFERS.iter().map(|o| o.cloud).collect();
        assert_eq!(clouds.len(), 10, "{clouds:?}");
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
        for cloud in [
            "hyperstack",
            "verda",
            "massedcompute",
            "lambdalabs",
            "crusoe",
            "scaleway",
            "paperspace",
            "denvr",
            "vultr",
            "excesssupply",
        ] {
            assert!(OFFERS.iter().any(|o| o.cloud == cloud), "{cloud}");
        }
    }

    #[test]
    fn regions_are_the_live_names_and_the_descriptions_older_ones() {
        let regions: std::collections::BTreeSet<&str> = OFFERS
            .iter()
            .flat_map(|o| o.regions.iter().map(|r| r.region))
            .collect();
        // The live API's names (issue 20) and the description's examples.
        for region in [
            "dallas-usa-3",
            "culpeper-usa-1",
            "dulles-usa-1",
            "dulles-usa-4",
            "paris-france-1",
            "paris-france-5",
            "warsaw-poland-1",
            "newyork-usa-1",
            "desmoines-usa-1",
            "kansascity-usa-1",
            "kansascity-usa-6",
            "wichita-usa-1",
            "calgary-canada-1",
            "montreal-canada-2",
            "phoenix-usa-2",
            "austin-usa-1",
            "houston-usa-1",
            "houston-usa-2",
            "sanjose-usa-2",
            "chicago-usa-2",
            "chicago-usa-3",
            "saltlakecity-usa-1",
            "beltsville-usa-1",
            "casper-usa-2",
            "bangalore-india-1",
            "tokyo-japan-1",
            "tokyo-japan-5",
            "canada-1",
            "us-central-1",
            "us-central-2",
        ] {
            assert!(regions.contains(region), "{region}");
        }
        assert!(OS_OPTIONS.contains(&"ubuntu22.04_cuda12.8_shade_os"));
        for suffixed in [
            "A100_80G_sxm4x8",
            "A100_80G-plus",
            "H100x8-2",
            "H100_sxm5x8-plus",
        ] {
            assert!(
                OFFERS.iter().any(|o| o.shade_instance_type == suffixed),
                "{suffixed}"
            );
        }
    }
}
