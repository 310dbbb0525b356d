//! Fluidstack's JSON (Infrastructure API v1alpha1), read leniently: a missing or `null` field
//! takes its default, unknown fields are ignored, so a response that grows stays readable.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// `null` as the default, for fields the API marks nullable or may omit.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The API's error body.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    /// Human-readable text; kept for people, never used to decide anything.
    #[serde(default, deserialize_with = "null_default")]
    pub message: String,
}

/// `Project`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Project {
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub state: String,
}

/// `Instance`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(clippy::struct_field_names)]
#[serde(default)]
pub(crate) struct Instance {
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(rename = "type", deserialize_with = "null_default")]
    pub instance_type: String,
    #[serde(deserialize_with = "null_default")]
    pub ip: String,
    #[serde(deserialize_with = "null_default")]
    pub state: String,
    #[serde(deserialize_with = "null_default")]
    pub image: String,
    #[serde(deserialize_with = "null_default")]
    pub preemptible: bool,
    /// The firewall rules the base64 cloud-init user data enforces (what the bootstrap
    /// rendered), read as the field is parsed rather than kept; `None` without user data.
    #[serde(
        rename = "userData",
        deserialize_with = "crate::firewall::user_data_rules"
    )]
    pub firewall_rules: Option<gpucloud_core::FirewallRules>,
    #[serde(deserialize_with = "null_default")]
    pub tags: BTreeMap<String, String>,
}

/// `InstanceType`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct InstanceType {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub cpu: i64,
    #[serde(deserialize_with = "null_default")]
    pub memory: String,
    #[serde(rename = "gpuModel", deserialize_with = "null_default")]
    pub gpu_model: String,
    #[serde(rename = "gpuCount", deserialize_with = "null_default")]
    pub gpu_count: Option<i64>,
}

/// One row of `GET /capacity`: how many instances of a type can be created now.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Capacity {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub capacity: i64,
}

/// `InstancesPostRequest`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CreateInstance {
    pub name: String,
    #[serde(rename = "type")]
    pub instance_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    pub preemptible: bool,
    #[serde(rename = "userData")]
    pub user_data: String,
    pub tags: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_read_the_api_example_and_nulls() {
        let example = serde_json::json!({
            "id": "550e8400-e29b-41d4-a716-446655440000", "name": "instance-1",
            "type": "h100-hgx-80gb.8x", "ip": "10.0.0.2", "state": "running",
            "image": "ubuntu22.04", "preemptible": false, "ephemeral": false,
            "userData": "I2Nsb3VkLWNvbmZpZwo=", "filesystems": [],
            "tags": {"environment": "production"}, "unknown": 1
        });
        let w: Instance = serde_json::from_value(example).unwrap();
        assert_eq!(w.instance_type, "h100-hgx-80gb.8x");
        assert_eq!(w.ip, "10.0.0.2");
        assert_eq!(w.tags["environment"], "production");
        let nulls: Instance = serde_json::from_value(serde_json::json!({
            "id": "x", "ip": null, "tags": null, "name": null, "preemptible": null
        }))
        .unwrap();
        assert_eq!(nulls.ip, "");
        assert!(nulls.tags.is_empty());
    }

    #[test]
    fn types_and_capacity_read_leniently() {
        let t: InstanceType = serde_json::from_value(serde_json::json!({
            "name": "h100-hgx-80gb.8x", "cpu": 96, "memory": "960Gi",
            "gpuModel": "GH100_H100_SXM5_80GB", "gpuCount": 8
        }))
        .unwrap();
        assert_eq!(
            (t.cpu, t.memory.as_str(), t.gpu_count),
            (96, "960Gi", Some(8))
        );
        let cpu: InstanceType = serde_json::from_value(
            serde_json::json!({"name": "cpu.4x", "cpu": 4, "memory": "16Gi", "gpuModel": null}),
        )
        .unwrap();
        assert_eq!((cpu.gpu_model.as_str(), cpu.gpu_count), ("", None));
        let c: Vec<Capacity> =
            serde_json::from_str(r#"[{"name":"a","capacity":3},{"name":"b"}]"#).unwrap();
        assert_eq!((c[0].capacity, c[1].capacity), (3, 0));
    }

    #[test]
    fn create_body_uses_the_api_names() {
        let body = CreateInstance {
            name: "n".into(),
            instance_type: "t".into(),
            image: None,
            preemptible: true,
            user_data: "dQ==".into(),
            tags: BTreeMap::from([("k".into(), "v".into())]),
        };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "n", "type": "t", "preemptible": true, "userData": "dQ==", "tags": {"k": "v"}})
        );
    }
}
