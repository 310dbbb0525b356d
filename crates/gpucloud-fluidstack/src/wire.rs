//! Fluidstack's JSON (Infrastructure API v1alpha1), read leniently: a missing or `null` field
//! takes its default, unknown fields are ignored, so a response that grows stays readable.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use gpucloud_core::bookkeeping::{CREATED_AT_TAG, CRED_REF_ID_TAG, REF_ID_TAG, is_reserved};
use gpucloud_core::{Bookkeeping, Tags};
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
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
    pub tags: InstanceTags,
}

/// An instance's `tags`, split as they are parsed into gpucloud's bookkeeping and the user's
/// tags exactly as [`Bookkeeping::decode`] splits a map of them (every reserved key stripped,
/// a creation time that does not parse ignored, the last of repeated keys winning), without
/// first building the map: reserved keys and the creation time are read where the parser
/// holds them, never copied. `null` or absent: no tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct InstanceTags {
    pub bookkeeping: Bookkeeping,
    pub user: Tags,
}

/// A string borrowed from the input when it can be (no escapes), else owned.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }

        d.deserialize_str(TextVisitor)
    }
}

impl<'de> Deserialize<'de> for InstanceTags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TagsVisitor;

        impl<'de> Visitor<'de> for TagsVisitor {
            type Value = InstanceTags;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of string tags or null")
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(InstanceTags::default())
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(InstanceTags::default())
            }

            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
                d.deserialize_map(self)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut tags = InstanceTags::default();
                while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                    match key.as_ref() {
                        REF_ID_TAG => tags.bookkeeping.ref_id = map.next_value()?,
                        CRED_REF_ID_TAG => tags.bookkeeping.cred_ref_id = map.next_value()?,
                        CREATED_AT_TAG => {
                            let Text(at) = map.next_value::<Text<'de>>()?;
                            tags.bookkeeping.created_at = at.parse().ok();
                        }
                        reserved if is_reserved(reserved) => {
                            map.next_value::<IgnoredAny>()?;
                        }
                        _ => {
                            let value: String = map.next_value()?;
                            tags.user.insert(key.into_owned(), value);
                        }
                    }
                }
                Ok(tags)
            }
        }

        d.deserialize_option(TagsVisitor)
    }
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
        assert_eq!(w.tags.user["environment"], "production");
        let nulls: Instance = serde_json::from_value(serde_json::json!({
            "id": "x", "ip": null, "tags": null, "name": null, "preemptible": null
        }))
        .unwrap();
        assert_eq!(nulls.ip, "");
        assert_eq!(nulls.tags, InstanceTags::default());
    }

    #[test]
    fn tags_split_as_bookkeeping_decode_splits_them() {
        let cases = [
            serde_json::json!({}),
            serde_json::json!({"team": "ml", "a.b": "", "gpucloud-ref-id": "env-1",
                "gpucloud-cred-ref-id": "cred", "gpucloud-created-at": "2026-12-01T18:00:00Z",
                "gpucloud-future-key": "x"}),
            serde_json::json!({"gpucloud-created-at": "yesterday", "gpucloud-ref-id": ""}),
            serde_json::json!({"k": "v", "gpucloud-cred-ref-id": "c"}),
        ];
        for tags in cases {
            let map: BTreeMap<String, String> = serde_json::from_value(tags.clone()).unwrap();
            let (bookkeeping, user) = Bookkeeping::decode(map);
            let expected = InstanceTags { bookkeeping, user };
            let text = serde_json::json!({ "tags": tags }).to_string();
            let w: Instance = serde_json::from_str(&text).unwrap();
            assert_eq!(w.tags, expected, "{text}");
            let w: Instance = serde_json::from_slice(text.as_bytes()).unwrap();
            assert_eq!(w.tags, expected, "{text}");
        }
        // Escaped keys and values (parsed through the scratch buffer) and repeated keys (the
        // last wins, as in a map).
        let text = r#"{"tags": {"gpucloud-ref-id": "a", "gpucloud-ref-id": "b",
            "team": "ml", "gpucloud-created-at": "2026-12-01T18:00:00Z"}}"#;
        let w: Instance = serde_json::from_str(text).unwrap();
        assert_eq!(w.tags.bookkeeping.ref_id, "b");
        assert_eq!(w.tags.user, Tags::from([("team".into(), "ml".into())]));
        assert_eq!(
            w.tags.bookkeeping.created_at,
            Some("2026-12-01T18:00:00Z".parse().unwrap())
        );
        for bad in [
            r#"{"tags": {"k": 1}}"#,
            r#"{"tags": ["k"]}"#,
            r#"{"tags": {"gpucloud-ref-id": null}}"#,
        ] {
            assert!(serde_json::from_str::<Instance>(bad).is_err(), "{bad}");
        }
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
