//! The fake's catalog: Verda's locations, a selection of its instance types with on-demand
//! and spot prices, where each is offered, and the OS images.
//!
//! Shapes and names follow Verda's SDKs (`/locations`, `/instance-types`,
//! `/instance-availability`, `/images`); the prices are of the order Verda lists, not a copy
//! of today's price list.

/// A data centre: `code` is what every other call names it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogLocation {
    /// Location code, e.g. `FIN-01`.
    pub code: &'static str,
    /// Display name.
    pub name: &'static str,
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: &'static str,
}

/// Verda's locations, as its SDKs list them.
pub const LOCATIONS: &[CatalogLocation] = &[
    CatalogLocation {
        code: "FIN-01",
        name: "Finland 1",
        country_code: "FI",
    },
    CatalogLocation {
        code: "FIN-02",
        name: "Finland 2",
        country_code: "FI",
    },
    CatalogLocation {
        code: "FIN-03",
        name: "Finland 3",
        country_code: "FI",
    },
    CatalogLocation {
        code: "ICE-01",
        name: "Iceland 1",
        country_code: "IS",
    },
];

/// One instance type of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogType {
    /// Verda's type name, e.g. `8H100.80S.176V`.
    pub instance_type: &'static str,
    /// GPU model (`H100`), empty for a CPU type.
    pub model: &'static str,
    /// Human name of the hardware.
    pub name: &'static str,
    /// GPUs per instance.
    pub gpus: u32,
    /// GPU memory of the whole instance, in GB (the API's `gpu_memory`: all GPUs together).
    pub gpu_memory_gb: u32,
    /// CPU cores.
    pub cores: u32,
    /// Memory in GB.
    pub memory_gb: u32,
    /// On-demand price, thousandths of a US dollar per hour.
    pub price_milli_usd: u32,
    /// Spot price, thousandths of a US dollar per hour; 0 when not sold as spot.
    pub spot_milli_usd: u32,
    /// GPU interconnect.
    pub p2p: &'static str,
    /// Locations offering it.
    pub locations: &'static [&'static str],
}

const ALL: &[&str] = &["FIN-01", "FIN-02", "FIN-03", "ICE-01"];

/// The instance types the fake sells.
pub const TYPES: &[CatalogType] = &[
    CatalogType {
        instance_type: "1V100.6V",
        model: "V100",
        name: "Tesla V100 16GB",
        gpus: 1,
        gpu_memory_gb: 16,
        cores: 6,
        memory_gb: 23,
        price_milli_usd: 390,
        spot_milli_usd: 140,
        p2p: "",
        locations: &["FIN-01", "FIN-02"],
    },
    CatalogType {
        instance_type: "1A100.22V",
        model: "A100",
        name: "A100 SXM4 80GB",
        gpus: 1,
        gpu_memory_gb: 80,
        cores: 22,
        memory_gb: 120,
        price_milli_usd: 1290,
        spot_milli_usd: 520,
        p2p: "",
        locations: ALL,
    },
    CatalogType {
        instance_type: "8A100.176V",
        model: "A100",
        name: "A100 SXM4 80GB",
        gpus: 8,
        gpu_memory_gb: 640,
        cores: 176,
        memory_gb: 960,
        price_milli_usd: 10320,
        spot_milli_usd: 4130,
        p2p: "600 GB/s",
        locations: &["FIN-01", "FIN-03"],
    },
    CatalogType {
        instance_type: "1H100.80S.30V",
        model: "H100",
        name: "H100 SXM5 80GB",
        gpus: 1,
        gpu_memory_gb: 80,
        cores: 30,
        memory_gb: 120,
        price_milli_usd: 2290,
        spot_milli_usd: 920,
        p2p: "",
        locations: ALL,
    },
    CatalogType {
        instance_type: "8H100.80S.176V",
        model: "H100",
        name: "H100 SXM5 80GB",
        gpus: 8,
        gpu_memory_gb: 640,
        cores: 176,
        memory_gb: 1480,
        price_milli_usd: 18320,
        spot_milli_usd: 7330,
        p2p: "900 GB/s",
        locations: &["FIN-01", "FIN-02", "ICE-01"],
    },
    CatalogType {
        instance_type: "1H200.141S.44V",
        model: "H200",
        name: "H200 SXM5 141GB",
        gpus: 1,
        gpu_memory_gb: 141,
        cores: 44,
        memory_gb: 185,
        price_milli_usd: 3390,
        spot_milli_usd: 1360,
        p2p: "",
        locations: &["FIN-02", "FIN-03"],
    },
    CatalogType {
        instance_type: "8B200.240V",
        model: "B200",
        name: "B200 SXM6 180GB",
        gpus: 8,
        gpu_memory_gb: 1440,
        cores: 240,
        memory_gb: 1800,
        price_milli_usd: 31920,
        spot_milli_usd: 12770,
        p2p: "1800 GB/s",
        locations: &["FIN-03"],
    },
    CatalogType {
        instance_type: "4GB300.144V",
        model: "GB300",
        name: "GB300 288GB",
        gpus: 4,
        gpu_memory_gb: 1152,
        cores: 144,
        memory_gb: 960,
        price_milli_usd: 23960,
        spot_milli_usd: 0,
        p2p: "1800 GB/s",
        locations: &["FIN-03"],
    },
    CatalogType {
        instance_type: "CPU.4V.16G",
        model: "",
        name: "AMD EPYC",
        gpus: 0,
        gpu_memory_gb: 0,
        cores: 4,
        memory_gb: 16,
        price_milli_usd: 30,
        spot_milli_usd: 0,
        p2p: "",
        locations: ALL,
    },
];

/// An OS image: `image_type` is what a create names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogImage {
    /// What a create's `image` names, e.g. `ubuntu-24.04-cuda-12.8-open-docker`.
    pub image_type: &'static str,
    /// Display name.
    pub name: &'static str,
    /// The image a create should default to.
    pub is_default: bool,
    /// A cluster image (not for single instances).
    pub is_cluster: bool,
}

/// The images every type can boot.
pub const IMAGES: &[CatalogImage] = &[
    CatalogImage {
        image_type: "ubuntu-24.04-cuda-12.8-open-docker",
        name: "Ubuntu 24.04 + CUDA 12.8 Open + Docker",
        is_default: true,
        is_cluster: false,
    },
    CatalogImage {
        image_type: "ubuntu-22.04-cuda-12.4-docker",
        name: "Ubuntu 22.04 + CUDA 12.4 + Docker",
        is_default: false,
        is_cluster: false,
    },
    CatalogImage {
        image_type: "ubuntu-24.04",
        name: "Ubuntu 24.04",
        is_default: false,
        is_cluster: false,
    },
    CatalogImage {
        image_type: "ubuntu-24.04-cuda-12.8-cluster",
        name: "Ubuntu 24.04 + CUDA 12.8 (cluster)",
        is_default: false,
        is_cluster: true,
    },
];

/// Instances of each type and location that can be launched at start, per usage class.
pub const DEFAULT_CAPACITY: u32 = 8;

/// The catalog entry of `instance_type`.
pub fn type_of(instance_type: &str) -> Option<&'static CatalogType> {
    TYPES.iter().find(|t| t.instance_type == instance_type)
}

/// Whether `location` is a code of [`LOCATIONS`].
pub fn is_location(location: &str) -> bool {
    LOCATIONS.iter().any(|l| l.code == location)
}

/// A price in thousandths as the API writes it in `currency` (`usd`, or `eur` at 0.92).
pub fn price_text(milli_usd: u32, currency: &str) -> String {
    let milli = if currency == "eur" {
        (u64::from(milli_usd) * 92 / 100) as u32
    } else {
        milli_usd
    };
    format!("{}.{:03}", milli / 1000, milli % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_is_offered_in_known_locations_only() {
        for t in TYPES {
            assert!(!t.locations.is_empty(), "{}", t.instance_type);
            assert!(
                t.locations.iter().all(|l| is_location(l)),
                "{}",
                t.instance_type
            );
            assert_eq!(t.gpus == 0, t.model.is_empty(), "{}", t.instance_type);
        }
        assert_eq!(type_of("1A100.22V").map(|t| t.cores), Some(22));
        assert!(type_of("nope").is_none());
    }

    #[test]
    fn prices_are_written_in_the_currency_asked_for() {
        assert_eq!(price_text(2290, "usd"), "2.290");
        assert_eq!(price_text(1000, "eur"), "0.920");
        assert_eq!(price_text(30, "usd"), "0.030");
    }
}
