//! The instance types the fake serves, shaped like Fluidstack's `/instance-types`.

/// One instance type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogInstanceType {
    /// Type name, e.g. `h100-hgx-80gb.8x`.
    pub name: &'static str,
    /// vCPUs.
    pub cpu: u32,
    /// Memory as a Kubernetes-style quantity, e.g. `960Gi`.
    pub memory: &'static str,
    /// GPU model, e.g. `GH100_H100_SXM5_80GB`; `None` for a CPU-only type.
    pub gpu_model: Option<&'static str>,
    /// GPUs; `None` for a CPU-only type (the API omits both fields then).
    pub gpu_count: Option<u32>,
}

const H100: Option<&str> = Some("GH100_H100_SXM5_80GB");
const H200: Option<&str> = Some("GH100_H200_SXM5_141GB");
const A100: Option<&str> = Some("GA100_A100_SXM4_80GB");
const L40S: Option<&str> = Some("AD102GL_L40S_48GB");

/// Every instance type, in the order the API lists them.
pub const INSTANCE_TYPES: &[CatalogInstanceType] = &[
    gpu("h100-hgx-80gb.1x", 12, "120Gi", H100, 1),
    gpu("h100-hgx-80gb.2x", 24, "240Gi", H100, 2),
    gpu("h100-hgx-80gb.4x", 48, "480Gi", H100, 4),
    gpu("h100-hgx-80gb.8x", 96, "960Gi", H100, 8),
    gpu("h200-hgx-141gb.8x", 128, "1920Gi", H200, 8),
    gpu("a100-sxm-80gb.8x", 96, "1440Gi", A100, 8),
    gpu("l40s-48gb.4x", 64, "512Gi", L40S, 4),
    CatalogInstanceType {
        name: "cpu.32x",
        cpu: 32,
        memory: "128Gi",
        gpu_model: None,
        gpu_count: None,
    },
];

const fn gpu(
    name: &'static str,
    cpu: u32,
    memory: &'static str,
    gpu_model: Option<&'static str>,
    gpu_count: u32,
) -> CatalogInstanceType {
    CatalogInstanceType {
        name,
        cpu,
        memory,
        gpu_model,
        gpu_count: Some(gpu_count),
    }
}

/// The type with this name.
pub fn instance_type(name: &str) -> Option<&'static CatalogInstanceType> {
    INSTANCE_TYPES.iter().find(|t| t.name == name)
}

/// Capacity of every type in every served region when a fake starts.
pub const DEFAULT_CAPACITY: u32 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_gpu_fields_come_together() {
        for (i, t) in INSTANCE_TYPES.iter().enumerate() {
            assert_eq!(instance_type(t.name), Some(t));
            assert!(
                INSTANCE_TYPES[..i].iter().all(|u| u.name != t.name),
                "{}",
                t.name
            );
            assert_eq!(t.gpu_model.is_some(), t.gpu_count.is_some(), "{}", t.name);
            assert!(t.memory.ends_with("Gi"), "{}", t.name);
        }
        assert!(instance_type("h100-hgx-80gb.16x").is_none());
    }
}
