//! What the fake offers: regions (with the routing code Nebius puts in resource ids), GPU
//! platforms and their presets per region, list prices per hour, quota names and public
//! images. Modelled on Nebius's published catalogue; prices are list prices in USD.

/// A region and the routing code its resource ids carry (`project-e00…` is in `eu-north1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionInfo {
    /// Region name, e.g. `eu-north1`.
    pub name: &'static str,
    /// Three-character routing code, e.g. `e00`.
    pub code: &'static str,
}

/// The regions a fake can serve.
pub const REGIONS: &[RegionInfo] = &[
    RegionInfo {
        name: "eu-north1",
        code: "e00",
    },
    RegionInfo {
        name: "eu-west1",
        code: "e01",
    },
    RegionInfo {
        name: "us-central1",
        code: "u00",
    },
];

/// One preset of a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresetInfo {
    /// Preset name, e.g. `8gpu-128vcpu-1600gb`.
    pub name: &'static str,
    /// GPUs.
    pub gpus: u32,
    /// vCPUs.
    pub vcpus: u32,
    /// Memory in GiB.
    pub memory_gib: u32,
}

/// A compute platform: one GPU model (or none) and its presets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlatformInfo {
    /// Platform name, e.g. `gpu-h100-sxm`.
    pub name: &'static str,
    /// Human-readable name.
    pub human_name: &'static str,
    /// Memory per GPU in GB (0 for a CPU platform).
    pub gpu_memory_gb: u32,
    /// The quota that counts this platform's GPUs (vCPUs for a CPU platform).
    pub quota: &'static str,
    /// Regions that offer it.
    pub regions: &'static [&'static str],
    /// Presets.
    pub presets: &'static [PresetInfo],
    /// List price per GPU-hour (per vCPU-hour for a CPU platform), USD.
    pub price_per_unit_hour: f64,
    /// Price per GPU-hour of a preemptible (spot) instance, USD; `None` when the platform
    /// does not allow preemptible instances (`allowed_for_preemptibles` false).
    pub spot_price_per_unit_hour: Option<f64>,
}

const fn preset(name: &'static str, gpus: u32, vcpus: u32, memory_gib: u32) -> PresetInfo {
    PresetInfo {
        name,
        gpus,
        vcpus,
        memory_gib,
    }
}

/// The platforms of the fake. Spot prices: H100's is Nebius's published preemptible price;
/// the others are modelled at about 40% of on-demand, as Nebius's preemptible prices are.
pub const PLATFORMS: &[PlatformInfo] = &[
    PlatformInfo {
        name: "gpu-h100-sxm",
        human_name: "NVIDIA® H100 NVLink with Intel Sapphire Rapids",
        gpu_memory_gb: 80,
        quota: "compute.instance.gpu.h100",
        regions: &["eu-north1"],
        presets: &[
            preset("1gpu-16vcpu-200gb", 1, 16, 200),
            preset("8gpu-128vcpu-1600gb", 8, 128, 1600),
        ],
        price_per_unit_hour: 2.95,
        spot_price_per_unit_hour: Some(1.25),
    },
    PlatformInfo {
        name: "gpu-h200-sxm",
        human_name: "NVIDIA® H200 NVLink with Intel Sapphire Rapids",
        gpu_memory_gb: 141,
        quota: "compute.instance.gpu.h200",
        regions: &["eu-north1", "eu-west1", "us-central1"],
        presets: &[
            preset("1gpu-16vcpu-200gb", 1, 16, 200),
            preset("8gpu-128vcpu-1600gb", 8, 128, 1600),
        ],
        price_per_unit_hour: 3.50,
        spot_price_per_unit_hour: Some(1.45),
    },
    PlatformInfo {
        name: "gpu-b200-sxm",
        human_name: "NVIDIA® B200 NVLink with Intel Emerald Rapids",
        gpu_memory_gb: 180,
        quota: "compute.instance.gpu.b200",
        regions: &["us-central1"],
        presets: &[
            preset("1gpu-20vcpu-224gb", 1, 20, 224),
            preset("8gpu-160vcpu-1792gb", 8, 160, 1792),
        ],
        price_per_unit_hour: 5.50,
        spot_price_per_unit_hour: Some(2.30),
    },
    PlatformInfo {
        name: "gpu-l40s-a",
        human_name: "NVIDIA® L40S PCIe with Intel Ice Lake",
        gpu_memory_gb: 48,
        quota: "compute.instance.gpu.l40s",
        regions: &["eu-north1"],
        presets: &[
            preset("1gpu-8vcpu-32gb", 1, 8, 32),
            preset("1gpu-16vcpu-64gb", 1, 16, 64),
            preset("1gpu-24vcpu-96gb", 1, 24, 96),
            preset("1gpu-32vcpu-128gb", 1, 32, 128),
            preset("1gpu-40vcpu-160gb", 1, 40, 160),
        ],
        price_per_unit_hour: 1.55,
        spot_price_per_unit_hour: Some(0.65),
    },
    PlatformInfo {
        name: "gpu-l40s-d",
        human_name: "NVIDIA® L40S PCIe with AMD Genoa",
        gpu_memory_gb: 48,
        quota: "compute.instance.gpu.l40s",
        regions: &["eu-north1"],
        presets: &[
            preset("1gpu-16vcpu-96gb", 1, 16, 96),
            preset("2gpu-64vcpu-384gb", 2, 64, 384),
            preset("4gpu-128vcpu-768gb", 4, 128, 768),
        ],
        price_per_unit_hour: 1.82,
        spot_price_per_unit_hour: Some(0.75),
    },
    PlatformInfo {
        name: "cpu-d3",
        human_name: "Non-GPU AMD EPYC Genoa",
        gpu_memory_gb: 0,
        quota: "compute.instance.non-gpu.vcpu",
        regions: &["eu-north1", "eu-west1", "us-central1"],
        presets: &[
            preset("2vcpu-8gb", 0, 2, 8),
            preset("4vcpu-16gb", 0, 4, 16),
            preset("8vcpu-32gb", 0, 8, 32),
        ],
        price_per_unit_hour: 0.025,
        spot_price_per_unit_hour: None,
    },
];

/// Network SSD price per GiB-hour (USD 0.071 per GiB-month).
pub const DISK_PRICE_PER_GIB_HOUR: f64 = 0.071 / 730.0;

/// The public image families, newest version first within a family.
pub const IMAGE_FAMILIES: &[(&str, &str)] = &[
    (
        "ubuntu22.04-cuda12",
        "Ubuntu 22.04 LTS with NVIDIA driver 550 and CUDA 12",
    ),
    (
        "ubuntu24.04-cuda12",
        "Ubuntu 24.04 LTS with NVIDIA driver 570 and CUDA 12",
    ),
    (
        "ubuntu24.04-cuda13.0",
        "Ubuntu 24.04 LTS with NVIDIA driver 580 and CUDA 13.0",
    ),
    (
        "ubuntu22.04-driverless",
        "Ubuntu 22.04 LTS without GPU drivers",
    ),
    (
        "ubuntu24.04-driverless",
        "Ubuntu 24.04 LTS without GPU drivers",
    ),
];

/// Quota allowance granted per quota and region at start: GPUs for GPU quotas, vCPUs for
/// the CPU quota.
pub const DEFAULT_QUOTA_LIMIT_GPUS: u64 = 32;
/// See [`DEFAULT_QUOTA_LIMIT_GPUS`].
pub const DEFAULT_QUOTA_LIMIT_VCPUS: u64 = 512;

/// Instances of each preset each region can start at first.
pub const DEFAULT_CAPACITY: u32 = 16;

/// The region with this name.
pub fn region(name: &str) -> Option<&'static RegionInfo> {
    REGIONS.iter().find(|r| r.name == name)
}

/// The platform with this name.
pub fn platform(name: &str) -> Option<&'static PlatformInfo> {
    PLATFORMS.iter().find(|p| p.name == name)
}

impl PlatformInfo {
    /// The preset with this name.
    pub fn preset(&self, name: &str) -> Option<&'static PresetInfo> {
        self.presets.iter().find(|p| p.name == name)
    }

    /// Whether `region` offers it.
    pub fn in_region(&self, region: &str) -> bool {
        self.regions.contains(&region)
    }

    /// Quota units one instance of `preset` takes: GPUs, or vCPUs on a CPU platform.
    pub fn quota_units(&self, preset: &PresetInfo) -> u64 {
        if self.gpu_memory_gb == 0 {
            u64::from(preset.vcpus)
        } else {
            u64::from(preset.gpus)
        }
    }

    /// List price per hour of one instance of `preset`, USD.
    pub fn hourly_price(&self, preset: &PresetInfo) -> f64 {
        self.quota_units(preset) as f64 * self.price_per_unit_hour
    }

    /// Whether it allows preemptible (spot) instances.
    pub fn allows_preemptibles(&self) -> bool {
        self.spot_price_per_unit_hour.is_some()
    }

    /// Price per hour of one preemptible instance of `preset`, USD; `None` when the platform
    /// allows none.
    pub fn spot_hourly_price(&self, preset: &PresetInfo) -> Option<f64> {
        Some(self.quota_units(preset) as f64 * self.spot_price_per_unit_hour?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_region_is_served_and_prices_are_positive() {
        for platform in PLATFORMS {
            for region_name in platform.regions {
                assert!(
                    region(region_name).is_some(),
                    "{}: {region_name}",
                    platform.name
                );
            }
            for preset in platform.presets {
                assert!(platform.hourly_price(preset) > 0.0, "{}", preset.name);
            }
        }
        let h100 = platform("gpu-h100-sxm").unwrap();
        let eight = h100.preset("8gpu-128vcpu-1600gb").unwrap();
        assert_eq!(h100.quota_units(eight), 8);
        assert!((h100.hourly_price(eight) - 23.6).abs() < 1e-9);
        assert!((h100.spot_hourly_price(eight).unwrap() - 10.0).abs() < 1e-9);
        let cpu = platform("cpu-d3").unwrap();
        assert_eq!(cpu.quota_units(cpu.preset("4vcpu-16gb").unwrap()), 4);
        assert!(!cpu.allows_preemptibles());
        for platform in PLATFORMS.iter().filter(|p| p.allows_preemptibles()) {
            for preset in platform.presets {
                let spot = platform.spot_hourly_price(preset).unwrap();
                assert!(
                    spot > 0.0 && spot < platform.hourly_price(preset),
                    "{}",
                    platform.name
                );
            }
        }
    }
}
