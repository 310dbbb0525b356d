//! Verda's JSON, read leniently: unknown fields are ignored, what may be absent has a default
//! or is an `Option`, and numbers that arrive as strings (prices) are accepted. Request bodies
//! are written exactly as the SDKs send them.

use gpucloud_http::lenient::{Listed, Text};
use serde::{Deserialize, Deserializer, Serialize};

/// A string that may be `null`.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// `POST /oauth2/token` with the client-credentials grant.
#[derive(Serialize)]
pub(crate) struct TokenRequest<'a> {
    pub(crate) grant_type: &'static str,
    pub(crate) client_id: &'a str,
    pub(crate) client_secret: &'a str,
}

/// The token endpoint's answer. `Debug` is not derived: the token is a secret.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) expires_in: Option<u64>,
}

/// An error body: `{"code": "...", "message": "..."}` (both optional).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default, deserialize_with = "text")]
    pub(crate) code: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) message: String,
}

/// `GET /locations`; its strings borrow from the body.
#[derive(Debug, Deserialize)]
pub(crate) struct Location<'a> {
    #[serde(borrow)]
    pub(crate) code: Text<'a>,
    #[serde(borrow, default)]
    pub(crate) name: Text<'a>,
    #[serde(borrow, default)]
    pub(crate) country_code: Text<'a>,
}

/// The items of `GET /locations`.
pub(crate) struct Locations;

impl Listed for Locations {
    type Item<'de> = Location<'de>;
}

/// A `{description, number_of_cores | number_of_gpus | size_in_gigabytes}` block; the
/// description is for people and not read.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct Described {
    #[serde(default)]
    pub(crate) number_of_cores: Option<u32>,
    #[serde(default)]
    pub(crate) number_of_gpus: Option<u32>,
    #[serde(default)]
    pub(crate) size_in_gigabytes: Option<u32>,
}

/// `GET /instance-types`; its strings borrow from the body. A price is the text of the
/// number or string the API wrote (empty when absent or `null`), so no precision is lost on
/// the way to a `Price`.
#[allow(clippy::struct_field_names)] // The API's names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct InstanceType<'a> {
    #[serde(borrow)]
    pub(crate) instance_type: Text<'a>,
    #[serde(borrow)]
    pub(crate) model: Text<'a>,
    #[serde(borrow)]
    pub(crate) name: Text<'a>,
    pub(crate) cpu: Described,
    pub(crate) gpu: Described,
    pub(crate) memory: Described,
    pub(crate) gpu_memory: Described,
    #[serde(borrow)]
    pub(crate) price_per_hour: Text<'a>,
    #[serde(borrow)]
    pub(crate) spot_price: Text<'a>,
    #[serde(borrow)]
    pub(crate) currency: Text<'a>,
    #[serde(borrow)]
    pub(crate) manufacturer: Text<'a>,
    #[serde(borrow)]
    pub(crate) p2p: Text<'a>,
}

/// The items of `GET /instance-types`.
pub(crate) struct InstanceTypes;

impl Listed for InstanceTypes {
    type Item<'de> = InstanceType<'de>;
}

/// `GET /instance-availability`: the types orderable now, per location; its strings borrow
/// from the body.
#[derive(Debug, Deserialize)]
pub(crate) struct Availability<'a> {
    #[serde(borrow)]
    pub(crate) location_code: Text<'a>,
    #[serde(borrow, default)]
    pub(crate) availabilities: Vec<Text<'a>>,
}

/// The items of `GET /instance-availability`.
pub(crate) struct Availabilities;

impl Listed for Availabilities {
    type Item<'de> = Availability<'de>;
}

/// `GET /images`.
#[allow(clippy::struct_field_names)] // The API's names.
#[derive(Debug, Deserialize)]
pub(crate) struct Image {
    pub(crate) image_type: String,
    #[serde(default)]
    pub(crate) is_default: bool,
    #[serde(default)]
    pub(crate) is_cluster: bool,
}

/// An instance (`GET /instances`, `GET /instances/{id}`).
#[allow(clippy::struct_field_names)] // The API's names.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Instance {
    pub(crate) id: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) instance_type: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) hostname: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) description: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) status: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) created_at: String,
    #[serde(default)]
    pub(crate) ssh_key_ids: Vec<String>,
    #[serde(default, deserialize_with = "text")]
    pub(crate) ip: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) os_volume_id: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) location: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) image: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) startup_script_id: String,
    #[serde(default)]
    pub(crate) is_spot: bool,
}

/// `POST /instances`.
#[derive(Debug, Serialize)]
pub(crate) struct CreateInstance<'a> {
    pub(crate) instance_type: &'a str,
    pub(crate) image: &'a str,
    pub(crate) hostname: &'a str,
    pub(crate) description: &'a str,
    pub(crate) ssh_key_ids: Vec<&'a str>,
    pub(crate) location_code: &'a str,
    pub(crate) startup_script_id: &'a str,
    pub(crate) is_spot: bool,
    pub(crate) os_volume: OsVolume<'a>,
}

/// The OS volume of a create.
#[derive(Debug, Serialize)]
pub(crate) struct OsVolume<'a> {
    pub(crate) name: &'a str,
    /// GB.
    pub(crate) size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) on_spot_discontinue: Option<&'static str>,
}

/// `PUT /instances`.
#[allow(clippy::struct_field_names)] // The API's names.
#[derive(Debug, Serialize)]
pub(crate) struct Action<'a> {
    pub(crate) action: &'static str,
    pub(crate) id: [&'a str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) volume_ids: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) delete_permanently: bool,
}

/// One instance's result in a `202`/`207` answer of `PUT /instances`.
#[derive(Debug, Deserialize)]
pub(crate) struct ActionResult {
    #[serde(default, rename = "instanceId", deserialize_with = "text")]
    pub(crate) instance_id: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) status: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) error: String,
    #[serde(default, rename = "statusCode")]
    pub(crate) status_code: Option<u16>,
}

/// An SSH key (`GET /ssh-keys`).
#[derive(Debug, Deserialize)]
pub(crate) struct SshKey {
    pub(crate) id: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) name: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) key: String,
}

/// `POST /ssh-keys`.
#[derive(Debug, Serialize)]
pub(crate) struct AddSshKey<'a> {
    pub(crate) name: &'a str,
    pub(crate) key: &'a str,
}

/// A startup script (`GET /scripts`); its text is not read.
#[derive(Debug, Deserialize)]
pub(crate) struct Script {
    pub(crate) id: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) name: String,
}

/// `POST /scripts`.
#[derive(Debug, Serialize)]
pub(crate) struct AddScript<'a> {
    pub(crate) name: &'a str,
    pub(crate) script: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_read_from_strings_numbers_and_null() {
        let t: InstanceType = serde_json::from_str(
            r#"{"instance_type": "x", "price_per_hour": "2.290", "spot_price": 0.92, "new": 1}"#,
        )
        .unwrap();
        assert_eq!(
            (t.price_per_hour.as_str(), t.spot_price.as_str()),
            ("2.290", "0.92")
        );
        let t: InstanceType =
            serde_json::from_str(r#"{"instance_type": "x", "price_per_hour": null}"#).unwrap();
        assert!(t.price_per_hour.0.is_empty() && t.gpu.number_of_gpus.is_none());
    }

    #[test]
    fn instances_take_nulls_and_unknown_fields() {
        let i: Instance = serde_json::from_str(
            r#"{"id": "i", "ip": null, "os_volume_id": null, "startup_script_id": null,
                "status": "ordered", "tags": [{"k": "v"}]}"#,
        )
        .unwrap();
        assert!(i.ip.is_empty() && i.os_volume_id.is_empty() && i.startup_script_id.is_empty());
    }

    #[test]
    fn actions_are_written_as_the_sdks_send_them() {
        let a = Action {
            action: "delete",
            id: ["i"],
            volume_ids: Some(vec!["v"]),
            delete_permanently: true,
        };
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::json!({"action": "delete", "id": ["i"], "volume_ids": ["v"], "delete_permanently": true})
        );
        let stop = Action {
            action: "shutdown",
            id: ["i"],
            volume_ids: None,
            delete_permanently: false,
        };
        assert_eq!(
            serde_json::to_value(&stop).unwrap(),
            serde_json::json!({"action": "shutdown", "id": ["i"]})
        );
    }
}
