//! What a hand-written client decodes, shared by the benchmarks: plain structs of the fields
//! the provider reads, no leniency, no model. The fields are only handed to `black_box`:
//! decoding them is the work being measured, so they are never read.

use serde::Deserialize;

#[derive(Deserialize)]
pub(crate) struct Instances {
    pub(crate) instances: Vec<Instance>,
}

#[derive(Deserialize)]
pub(crate) struct Instance {
    pub(crate) id: String,
    pub(crate) cloud: String,
    pub(crate) region: String,
    pub(crate) shade_instance_type: String,
    pub(crate) name: String,
    pub(crate) configuration: Configuration,
    pub(crate) ip: String,
    pub(crate) ssh_user: String,
    pub(crate) ssh_port: u16,
    pub(crate) status: String,
    pub(crate) status_details: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) port_mappings: Vec<PortMapping>,
    pub(crate) created_at: String,
}

#[derive(Deserialize)]
pub(crate) struct PortMapping {
    pub(crate) internal_port: u16,
    pub(crate) external_port: u16,
}

#[derive(Deserialize)]
pub(crate) struct Types {
    pub(crate) instance_types: Vec<Type>,
}

#[derive(Deserialize)]
#[allow(clippy::struct_field_names)] // The API's names.
pub(crate) struct Type {
    pub(crate) cloud: String,
    pub(crate) shade_instance_type: String,
    pub(crate) hourly_price: i64,
    pub(crate) deployment_type: String,
    pub(crate) configuration: Configuration,
    pub(crate) availability: Vec<Availability>,
    pub(crate) boot_time: BootTime,
}

/// An offer's or an instance's configuration (an instance's has `os`, an offer's
/// `os_options`).
#[derive(Deserialize)]
pub(crate) struct Configuration {
    pub(crate) memory_in_gb: u32,
    pub(crate) storage_in_gb: u32,
    pub(crate) vcpus: u32,
    pub(crate) num_gpus: u32,
    pub(crate) gpu_type: String,
    pub(crate) interconnect: String,
    pub(crate) nvlink: bool,
    pub(crate) vram_per_gpu_in_gb: u32,
    pub(crate) gpu_manufacturer: String,
    #[serde(default)]
    pub(crate) os_options: Vec<String>,
    #[serde(default)]
    pub(crate) os: String,
}

#[derive(Deserialize)]
pub(crate) struct Availability {
    pub(crate) region: String,
    pub(crate) available: bool,
    pub(crate) display_name: String,
}

#[derive(Deserialize)]
pub(crate) struct BootTime {
    pub(crate) min_boot_in_sec: u32,
    pub(crate) max_boot_in_sec: u32,
}
