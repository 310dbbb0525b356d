//! Lambda Cloud's catalog: instance types and regions, as the fake serves them.
//!
//! Transcribed from the project's reference data (`lambda-instance-types.csv` and
//! `lambda-regions.csv`); see that data's README for sources and estimated cells.

/// One Lambda instance type, with the fields `GET /api/v1/instance-types` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogInstanceType {
    /// API name, e.g. `gpu_8x_h100_sxm5`.
    pub name: &'static str,
    /// Description, e.g. `8x H100 (80 GB SXM5)`.
    pub description: &'static str,
    /// GPU description: the description without the leading `<N>x `.
    pub gpu_description: &'static str,
    /// On-demand price for the whole instance, in US cents per hour.
    pub price_cents_per_hour: u32,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Memory in GiB.
    pub memory_gib: u32,
    /// Local storage in GiB.
    pub storage_gib: u32,
    /// Number of GPUs (0 for CPU-only types).
    pub gpus: u32,
    /// CPU architecture: `x86_64` or `arm64`.
    pub architecture: &'static str,
}

/// One Lambda region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogRegion {
    /// API name, e.g. `us-west-1`.
    pub name: &'static str,
    /// Description, e.g. `California, USA`.
    pub description: &'static str,
    /// ISO 3166-1 alpha-3 country code.
    pub country: &'static str,
}

/// Every instance type the fake knows, in the reference data's order.
pub const INSTANCE_TYPES: &[CatalogInstanceType] = &[
    CatalogInstanceType {
        name: "cpu_4x_general",
        description: "4x CPU General (16 GiB)",
        gpu_description: "CPU General (16 GiB)",
        price_cents_per_hour: 20,
        vcpus: 4,
        memory_gib: 16,
        storage_gib: 100,
        gpus: 0,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "cpu_4x_general0",
        description: "4x CPU General (16 GiB)",
        gpu_description: "CPU General (16 GiB)",
        price_cents_per_hour: 20,
        vcpus: 4,
        memory_gib: 16,
        storage_gib: 100,
        gpus: 0,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "cpu_4x_generalx",
        description: "4x CPU General (16 GiB)",
        gpu_description: "CPU General (16 GiB)",
        price_cents_per_hour: 20,
        vcpus: 4,
        memory_gib: 16,
        storage_gib: 100,
        gpus: 0,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_1x_a10",
        description: "1x A10 (24 GB PCIe)",
        gpu_description: "A10 (24 GB PCIe)",
        price_cents_per_hour: 129,
        vcpus: 30,
        memory_gib: 200,
        storage_gib: 1400,
        gpus: 1,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_1x_a100",
        description: "1x A100 (40 GB PCIe)",
        gpu_description: "A100 (40 GB PCIe)",
        price_cents_per_hour: 199,
        vcpus: 30,
        memory_gib: 200,
        storage_gib: 512,
        gpus: 1,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_1x_a100_sxm4",
        description: "1x A100 (40 GB SXM4)",
        gpu_description: "A100 (40 GB SXM4)",
        price_cents_per_hour: 199,
        vcpus: 30,
        memory_gib: 200,
        storage_gib: 512,
        gpus: 1,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_1x_a6000",
        description: "1x A6000 (48 GB)",
        gpu_description: "A6000 (48 GB)",
        price_cents_per_hour: 109,
        vcpus: 14,
        memory_gib: 100,
        storage_gib: 200,
        gpus: 1,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_1x_b200_sxm6",
        description: "1x B200 (180 GB SXM6)",
        gpu_description: "B200 (180 GB SXM6)",
        price_cents_per_hour: 699,
        vcpus: 26,
        memory_gib: 360,
        storage_gib: 2816,
        gpus: 1,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_1x_gh200",
        description: "1x GH200 (96 GB)",
        gpu_description: "GH200 (96 GB)",
        price_cents_per_hour: 229,
        vcpus: 64,
        memory_gib: 432,
        storage_gib: 4096,
        gpus: 1,
        architecture: "arm64",
    },
    CatalogInstanceType {
        name: "gpu_1x_h100_pcie",
        description: "1x H100 (80 GB PCIe)",
        gpu_description: "H100 (80 GB PCIe)",
        price_cents_per_hour: 329,
        vcpus: 26,
        memory_gib: 200,
        storage_gib: 1024,
        gpus: 1,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_1x_h100_sxm5",
        description: "1x H100 (80 GB SXM5)",
        gpu_description: "H100 (80 GB SXM5)",
        price_cents_per_hour: 429,
        vcpus: 26,
        memory_gib: 225,
        storage_gib: 2816,
        gpus: 1,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_1x_rtx6000",
        description: "1x RTX 6000 (24 GB)",
        gpu_description: "RTX 6000 (24 GB)",
        price_cents_per_hour: 69,
        vcpus: 14,
        memory_gib: 46,
        storage_gib: 512,
        gpus: 1,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_2x_a100",
        description: "2x A100 (40 GB PCIe)",
        gpu_description: "A100 (40 GB PCIe)",
        price_cents_per_hour: 398,
        vcpus: 60,
        memory_gib: 400,
        storage_gib: 1024,
        gpus: 2,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_2x_a6000",
        description: "2x A6000 (48 GB)",
        gpu_description: "A6000 (48 GB)",
        price_cents_per_hour: 218,
        vcpus: 28,
        memory_gib: 200,
        storage_gib: 1024,
        gpus: 2,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_2x_b200_sxm6",
        description: "2x B200 (180 GB SXM6)",
        gpu_description: "B200 (180 GB SXM6)",
        price_cents_per_hour: 1378,
        vcpus: 52,
        memory_gib: 720,
        storage_gib: 5632,
        gpus: 2,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_2x_h100_sxm5",
        description: "2x H100 (80 GB SXM5)",
        gpu_description: "H100 (80 GB SXM5)",
        price_cents_per_hour: 838,
        vcpus: 52,
        memory_gib: 450,
        storage_gib: 5632,
        gpus: 2,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_4x_a100",
        description: "4x A100 (40 GB PCIe)",
        gpu_description: "A100 (40 GB PCIe)",
        price_cents_per_hour: 796,
        vcpus: 120,
        memory_gib: 800,
        storage_gib: 1024,
        gpus: 4,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_4x_a6000",
        description: "4x A6000 (48 GB)",
        gpu_description: "A6000 (48 GB)",
        price_cents_per_hour: 436,
        vcpus: 56,
        memory_gib: 400,
        storage_gib: 1024,
        gpus: 4,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_4x_b200_sxm6",
        description: "4x B200 (180 GB SXM6)",
        gpu_description: "B200 (180 GB SXM6)",
        price_cents_per_hour: 2716,
        vcpus: 104,
        memory_gib: 1440,
        storage_gib: 11264,
        gpus: 4,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_4x_h100_sxm5",
        description: "4x H100 (80 GB SXM5)",
        gpu_description: "H100 (80 GB SXM5)",
        price_cents_per_hour: 1636,
        vcpus: 104,
        memory_gib: 900,
        storage_gib: 11264,
        gpus: 4,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_8x_a100",
        description: "8x A100 (40 GB SXM4)",
        gpu_description: "A100 (40 GB SXM4)",
        price_cents_per_hour: 1592,
        vcpus: 124,
        memory_gib: 1800,
        storage_gib: 6144,
        gpus: 8,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_8x_a100_80gb_sxm4",
        description: "8x A100 (80 GB SXM4)",
        gpu_description: "A100 (80 GB SXM4)",
        price_cents_per_hour: 2232,
        vcpus: 240,
        memory_gib: 1800,
        storage_gib: 19968,
        gpus: 8,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_8x_b200_sxm6",
        description: "8x B200 (180 GB SXM6)",
        gpu_description: "B200 (180 GB SXM6)",
        price_cents_per_hour: 5352,
        vcpus: 208,
        memory_gib: 2900,
        storage_gib: 22528,
        gpus: 8,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_8x_h100_sxm5",
        description: "8x H100 (80 GB SXM5)",
        gpu_description: "H100 (80 GB SXM5)",
        price_cents_per_hour: 3192,
        vcpus: 208,
        memory_gib: 1800,
        storage_gib: 22528,
        gpus: 8,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_8x_h100_sxm5gdr",
        description: "8x H100 (80 GB SXM5)",
        gpu_description: "H100 (80 GB SXM5)",
        price_cents_per_hour: 3592,
        vcpus: 208,
        memory_gib: 1800,
        storage_gib: 24780,
        gpus: 8,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_8x_v100",
        description: "8x Tesla V100 (16 GB)",
        gpu_description: "Tesla V100 (16 GB)",
        price_cents_per_hour: 632,
        vcpus: 92,
        memory_gib: 448,
        storage_gib: 5939,
        gpus: 8,
        architecture: "x86_64",
    },
    CatalogInstanceType {
        name: "gpu_8x_v100_n",
        description: "8x Tesla V100 (16 GB)",
        gpu_description: "Tesla V100 (16 GB)",
        price_cents_per_hour: 632,
        vcpus: 88,
        memory_gib: 448,
        storage_gib: 5939,
        gpus: 8,
        architecture: "x86_64",
    },
];

/// Every region the fake knows, in the reference data's order.
pub const REGIONS: &[CatalogRegion] = &[
    CatalogRegion {
        name: "us-west-1",
        description: "California, USA",
        country: "USA",
    },
    CatalogRegion {
        name: "us-west-2",
        description: "Arizona, USA",
        country: "USA",
    },
    CatalogRegion {
        name: "us-west-3",
        description: "Utah, USA",
        country: "USA",
    },
    CatalogRegion {
        name: "us-south-1",
        description: "Texas, USA",
        country: "USA",
    },
    CatalogRegion {
        name: "us-east-1",
        description: "Virginia, USA",
        country: "USA",
    },
    CatalogRegion {
        name: "us-midwest-1",
        description: "Illinois, USA",
        country: "USA",
    },
    CatalogRegion {
        name: "australia-southeast-1",
        description: "Australia",
        country: "AUS",
    },
    CatalogRegion {
        name: "europe-central-1",
        description: "Germany",
        country: "DEU",
    },
    CatalogRegion {
        name: "asia-south-1",
        description: "India",
        country: "IND",
    },
    CatalogRegion {
        name: "me-west-1",
        description: "Israel",
        country: "ISR",
    },
    CatalogRegion {
        name: "europe-south-1",
        description: "Italy",
        country: "ITA",
    },
    CatalogRegion {
        name: "asia-northeast-1",
        description: "Osaka, Japan",
        country: "JPN",
    },
    CatalogRegion {
        name: "asia-northeast-2",
        description: "Tokyo, Japan",
        country: "JPN",
    },
    CatalogRegion {
        name: "us-east-3",
        description: "Washington D.C, USA",
        country: "USA",
    },
    CatalogRegion {
        name: "us-east-2",
        description: "Washington D.C, USA",
        country: "USA",
    },
    CatalogRegion {
        name: "australia-east-1",
        description: "Sydney, Australia",
        country: "AUS",
    },
    CatalogRegion {
        name: "us-south-3",
        description: "Central Texas, USA",
        country: "USA",
    },
    CatalogRegion {
        name: "us-south-2",
        description: "North Texas, USA",
        country: "USA",
    },
];

/// Regions that get capacity for every instance type when a fake starts.
pub const DEFAULT_CAPACITY_REGIONS: &[&str] = &[
    "us-west-1",
    "us-west-2",
    "us-east-1",
    "us-south-1",
    "europe-central-1",
    "asia-northeast-1",
];

/// Capacity per (region, instance type) in [`DEFAULT_CAPACITY_REGIONS`] when a fake starts.
pub const DEFAULT_CAPACITY: u32 = 100;

/// Looks an instance type up by API name.
pub fn instance_type(name: &str) -> Option<&'static CatalogInstanceType> {
    INSTANCE_TYPES.iter().find(|t| t.name == name)
}

/// Looks a region up by API name.
pub fn region(name: &str) -> Option<&'static CatalogRegion> {
    REGIONS.iter().find(|r| r.name == name)
}

/// One machine-image family the fake offers in every region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogImage {
    /// Family name, as given in a launch request's `{"family": ...}`.
    pub family: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// Version string.
    pub version: &'static str,
    /// `x86_64` or `arm64`.
    pub architecture: &'static str,
}

/// Image families offered in every region. Launching without an image uses Lambda Stack.
pub const IMAGES: &[CatalogImage] = &[
    CatalogImage {
        family: "lambda-stack-22-04",
        name: "Lambda Stack 22.04",
        description: "Ubuntu 22.04 with Lambda Stack (CUDA, PyTorch, drivers)",
        version: "2025.06.1",
        architecture: "x86_64",
    },
    CatalogImage {
        family: "lambda-stack-24-04",
        name: "Lambda Stack 24.04",
        description: "Ubuntu 24.04 with Lambda Stack (CUDA, PyTorch, drivers)",
        version: "2025.06.1",
        architecture: "x86_64",
    },
    CatalogImage {
        family: "ubuntu-22-04",
        name: "Ubuntu 22.04 LTS",
        description: "Ubuntu 22.04 LTS with NVIDIA drivers",
        version: "22.04.5",
        architecture: "x86_64",
    },
    CatalogImage {
        family: "lambda-stack-22-04-arm64",
        name: "Lambda Stack 22.04 (ARM)",
        description: "Ubuntu 22.04 with Lambda Stack for GH200",
        version: "2025.06.1",
        architecture: "arm64",
    },
];

/// Deterministic image id for a family in a region: 32 lowercase hex digits.
pub fn image_id(region: &str, family: &str) -> String {
    format!("{:016x}{:016x}", fnv1a(region), fnv1a(family))
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
