//! Shadeform's JSON (Shadeform API 1.0.0), read leniently: a missing or `null` field takes its
//! default and unknown fields are ignored, so a response that grows stays readable.

use serde::{Deserialize, Deserializer, Serialize};

/// `null` as the default, for fields that may be omitted or `null`.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The error body Shadeform answers with (not in the description; what the API sends).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ErrorBody {
    /// The structured code, e.g. `OUT_OF_STOCK`: what classification uses.
    #[serde(deserialize_with = "null_default")]
    pub error_code: String,
    /// Human-readable text; kept for people, never used to decide anything.
    #[serde(deserialize_with = "null_default")]
    pub error: String,
}

/// `InstanceTypesResponse`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct InstanceTypes {
    #[serde(deserialize_with = "null_default")]
    pub instance_types: Vec<InstanceType>,
}

/// `InstanceType`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[allow(clippy::struct_field_names)] // The API's names.
pub(crate) struct InstanceType {
    #[serde(deserialize_with = "null_default")]
    pub cloud: String,
    #[serde(deserialize_with = "null_default")]
    pub shade_instance_type: String,
    #[serde(deserialize_with = "null_default")]
    pub configuration: Configuration,
    /// Cents per hour; `None` when absent (never read as free).
    pub hourly_price: Option<i64>,
    #[serde(deserialize_with = "null_default")]
    pub deployment_type: String,
    #[serde(deserialize_with = "null_default")]
    pub availability: Vec<Availability>,
    pub boot_time: Option<BootTime>,
}

/// `InstanceTypeConfiguration` and `InstanceConfiguration` (the instance's adds `os`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Configuration {
    #[serde(deserialize_with = "null_default")]
    pub memory_in_gb: i64,
    #[serde(deserialize_with = "null_default")]
    pub storage_in_gb: i64,
    #[serde(deserialize_with = "null_default")]
    pub vcpus: i64,
    #[serde(deserialize_with = "null_default")]
    pub num_gpus: i64,
    #[serde(deserialize_with = "null_default")]
    pub gpu_type: String,
    #[serde(deserialize_with = "null_default")]
    pub interconnect: String,
    #[serde(deserialize_with = "null_default")]
    pub nvlink: bool,
    #[serde(deserialize_with = "null_default")]
    pub vram_per_gpu_in_gb: i64,
    #[serde(deserialize_with = "null_default")]
    pub os_options: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub gpu_manufacturer: String,
    #[serde(deserialize_with = "null_default")]
    pub os: String,
}

/// `Availability`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Availability {
    #[serde(deserialize_with = "null_default")]
    pub region: String,
    #[serde(deserialize_with = "null_default")]
    pub available: bool,
    #[serde(deserialize_with = "null_default")]
    pub display_name: String,
}

/// `BootTime`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub(crate) struct BootTime {
    pub min_boot_in_sec: Option<i64>,
    pub max_boot_in_sec: Option<i64>,
}

/// `InstancesResponse`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Instances {
    #[serde(deserialize_with = "null_default")]
    pub instances: Vec<Instance>,
}

/// `Instance` and `InstanceInfoResponse` (the fields this provider reads).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Instance {
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    #[serde(deserialize_with = "null_default")]
    pub cloud: String,
    #[serde(deserialize_with = "null_default")]
    pub region: String,
    #[serde(deserialize_with = "null_default")]
    pub shade_instance_type: String,
    #[serde(deserialize_with = "null_default")]
    pub cloud_assigned_id: String,
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub configuration: Configuration,
    #[serde(deserialize_with = "null_default")]
    pub ip: String,
    #[serde(deserialize_with = "null_default")]
    pub ssh_user: String,
    #[serde(deserialize_with = "null_default")]
    pub ssh_port: i64,
    #[serde(deserialize_with = "null_default")]
    pub status: String,
    #[serde(deserialize_with = "null_default")]
    pub status_details: String,
    #[serde(deserialize_with = "null_default")]
    pub tags: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub ssh_key_id: String,
    #[serde(deserialize_with = "null_default")]
    pub port_mappings: Vec<PortMapping>,
    #[serde(deserialize_with = "null_default")]
    pub created_at: String,
}

/// `InstancePortMappings`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PortMapping {
    pub internal_port: Option<i64>,
    pub external_port: Option<i64>,
}

/// `CreateRequest` (the fields this provider sends).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CreateRequest {
    pub cloud: String,
    pub region: String,
    pub shade_instance_type: String,
    pub shade_cloud: bool,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    pub ssh_key_id: String,
    pub launch_configuration: LaunchConfiguration,
    pub tags: Vec<String>,
}

/// `LaunchConfiguration` of type `script`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LaunchConfiguration {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub script_configuration: ScriptConfiguration,
}

/// `ScriptConfiguration`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScriptConfiguration {
    pub base64_script: String,
}

/// `CreateResponse`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CreateResponse {
    #[serde(deserialize_with = "null_default")]
    pub id: String,
}

/// `UpdateRequest` (tags only: the other fields are omitted, which keeps them).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct UpdateTags {
    pub tags: Vec<String>,
}

/// `SshKeysResponse`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SshKeys {
    #[serde(deserialize_with = "null_default")]
    pub ssh_keys: Vec<SshKey>,
}

/// `SshKey`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SshKey {
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub public_key: String,
    #[serde(deserialize_with = "null_default")]
    pub is_default: bool,
}

/// `AddSshKeyRequest`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AddSshKey {
    pub name: String,
    pub public_key: String,
}

/// `AddSshKeyResponse`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AddSshKeyResponse {
    #[serde(deserialize_with = "null_default")]
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_read_the_description_example_and_nulls() {
        let example = serde_json::json!({"instance_types": [{
            "cloud": "hyperstack", "hourly_price": 210, "deployment_type": "vm",
            "boot_time": {"max_boot_in_sec": 300, "min_boot_in_sec": 180},
            "configuration": {"nvlink": true, "num_gpus": 1, "gpu_type": "A100",
                "memory_in_gb": 12, "vram_per_gpu_in_gb": 48, "vcpus": 6, "storage_in_gb": 256,
                "interconnect": "pcie", "gpu_manufacturer": "nvidia",
                "os_options": ["ubuntu22.04_cuda12.2_shade_os"]},
            "cloud_instance_type": "gpu_1x_a6000",
            "availability": [{"region": "us-central-1", "available": true, "display_name": "US, Wichita, KS"}],
            "shade_instance_type": "A6000", "new_field": [1]
        }]});
        let w: InstanceTypes = serde_json::from_value(example).unwrap();
        let t = &w.instance_types[0];
        assert_eq!(
            (t.cloud.as_str(), t.hourly_price),
            ("hyperstack", Some(210))
        );
        assert_eq!(t.availability[0].region, "us-central-1");
        assert_eq!(t.boot_time.unwrap().max_boot_in_sec, Some(300));
        let nulls: InstanceType = serde_json::from_value(serde_json::json!({
            "cloud": null, "hourly_price": null, "availability": null, "configuration": null
        }))
        .unwrap();
        assert!(nulls.availability.is_empty() && nulls.hourly_price.is_none());
    }

    #[test]
    fn instances_and_errors_read_leniently() {
        let i: Instance = serde_json::from_value(serde_json::json!({
            "id": "d290f1ee-6c54-4b01-90e6-d701748f0851", "cloud": "hyperstack",
            "region": "canada-1", "status": "active", "ip": "1.0.0.1", "ssh_user": "shadeform",
            "ssh_port": 22, "tags": ["a=b", "c"], "configuration": {"os": "ubuntu_22_shade_os"},
            "deleted_at": null
        }))
        .unwrap();
        assert_eq!((i.ssh_port, i.tags.len()), (22, 2));
        assert_eq!(i.configuration.os, "ubuntu_22_shade_os");
        let e: ErrorBody =
            serde_json::from_str(r#"{"error_code":"OUT_OF_STOCK","error":"none left"}"#).unwrap();
        assert_eq!(e.error_code, "OUT_OF_STOCK");
    }
}
