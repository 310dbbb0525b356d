//! LaunchPad's JSON shapes (the NVIDIA LaunchPad API 2.40.9 description), read leniently:
//! unknown fields are ignored, anything that may be absent or `null` has a default, and a
//! number that arrives as a string is read too.

use std::collections::BTreeMap;

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// One page of a list: `{count, next, previous, results}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    /// Items on every page together.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub(crate) count: u64,
    /// The next page's URL; `None` on the last page.
    #[serde(default)]
    pub(crate) next: Option<String>,
    /// This page's items.
    #[serde(default = "Vec::new")]
    pub(crate) results: Vec<T>,
}

/// A catalog entry (`InstanceType`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct InstanceType {
    /// Region → machines available now.
    #[serde(deserialize_with = "lenient_capacity")]
    pub(crate) capacity: BTreeMap<String, u64>,
    /// The upstream cloud.
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) cloud: String,
    /// vCPUs.
    #[serde(deserialize_with = "lenient_u64")]
    pub(crate) cpu: u64,
    pub(crate) gpu: Gpu,
    /// System memory in GB.
    #[serde(deserialize_with = "lenient_u64")]
    pub(crate) memory_gb: u64,
    pub(crate) price: Option<Price>,
    /// Regions with capacity.
    pub(crate) regions: Vec<String>,
    pub(crate) storage: Vec<Storage>,
    /// `amd64` or `arm64`.
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) system_arch: String,
    /// The workshop the type is reserved for; empty or absent for none.
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) workshop_id: String,
}

/// The GPUs of a catalog entry (`InstanceTypeGpu`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Gpu {
    #[serde(deserialize_with = "lenient_u64")]
    pub(crate) count: u64,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) family: String,
    /// `pcie` or `sxm` (the description's examples also write `SXM`).
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) interconnection_type: String,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) manufacturer: String,
    /// Memory of one GPU in GB.
    #[serde(deserialize_with = "lenient_u64")]
    pub(crate) memory_gb: u64,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) model: String,
}

/// A catalog entry's price (`InstanceTypePrice`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Price {
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) currency: String,
    /// Per hour, as the text of the JSON number (or of the string) the API wrote; empty when
    /// absent or `null`. Read through [`LenientText`], never a `serde_json::Value`.
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) on_demand_per_hour: String,
}

/// A disk of a catalog entry (`InstanceTypeStorage`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Storage {
    #[serde(deserialize_with = "lenient_u64")]
    pub(crate) size_gb: u64,
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub(crate) kind: String,
}

/// A deployment (`Deployment`), as read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Deployment {
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) id: String,
    /// The cluster's id (a UUID; an object when expanded, which this client never asks for).
    pub(crate) cluster: Option<serde_json::Value>,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) created: String,
    #[serde(deserialize_with = "lenient_u64")]
    pub(crate) gpu_count: u64,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) gpu_model: String,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) provider_name: String,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) region: String,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) request_id: String,
    #[serde(deserialize_with = "lenient_u64")]
    pub(crate) ssh_port: u64,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) ssh_user: String,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) state: String,
    #[serde(deserialize_with = "lenient_u64")]
    pub(crate) retry_count: u64,
    /// User-defined tags; values that are not strings are read as their JSON text.
    #[serde(deserialize_with = "lenient_tags")]
    pub(crate) tags: BTreeMap<String, String>,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) workshop_id: String,
}

impl Deployment {
    /// The cluster's id, when the answer names one.
    pub(crate) fn cluster_id(&self) -> Option<&str> {
        match self.cluster.as_ref()? {
            serde_json::Value::String(id) if !id.is_empty() => Some(id),
            serde_json::Value::Object(cluster) => cluster.get("id")?.as_str(),
            _ => None,
        }
    }
}

/// A cluster (`Cluster`): only what a deployment's address needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Cluster {
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) id: String,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) public_address: String,
}

/// The body of `POST /v1/catalog/deployments/`.
#[derive(Debug, Serialize)]
pub(crate) struct CreateDeployment<'a> {
    pub(crate) experience_id: &'a str,
    pub(crate) request_id: &'a str,
    pub(crate) org_name: &'a str,
    pub(crate) requester_name: &'a str,
    pub(crate) requester_email: &'a str,
    pub(crate) provider_name: &'a str,
    pub(crate) region: &'a str,
    pub(crate) gpu_model: &'a str,
    pub(crate) gpu_count: u64,
    pub(crate) public_key: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) ip_allowlist: Vec<String>,
    pub(crate) tags: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) workshop_id: Option<&'a str>,
}

/// An error body as the API (Django REST framework) writes it: `{"detail": "..."}` for one
/// problem, `{"<field>": ["..."]}` for fields of the request.
#[derive(Debug, Default)]
pub(crate) struct ErrorBody {
    /// `detail`, when present.
    pub(crate) detail: Option<String>,
    /// The fields the API found wrong, with their first message.
    pub(crate) fields: Vec<(String, String)>,
}

impl ErrorBody {
    /// Reads a body; `None` when it is not a JSON object.
    pub(crate) fn parse(body: &[u8]) -> Option<Self> {
        let serde_json::Value::Object(map) = serde_json::from_slice(body).ok()? else {
            return None;
        };
        let mut parsed = ErrorBody::default();
        for (key, value) in map {
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join("; "),
                other => other.to_string(),
            };
            if key == "detail" {
                parsed.detail = Some(text);
            } else {
                parsed.fields.push((key, text));
            }
        }
        Some(parsed)
    }

    /// Whether the API found field `name` wrong.
    pub(crate) fn names_field(&self, name: &str) -> bool {
        self.fields.iter().any(|(f, _)| f == name)
    }

    /// The message for people: `detail`, else `field: message; ...`.
    pub(crate) fn message(&self) -> Option<String> {
        if let Some(detail) = &self.detail {
            return Some(detail.clone());
        }
        (!self.fields.is_empty()).then(|| {
            self.fields
                .iter()
                .map(|(f, m)| format!("{f}: {m}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// A text field read from a string, a number or a boolean (as its text); `null` and shapes a
/// text field never has are `""`. Read through a visitor, never a `serde_json::Value`: the
/// catalog is read on every query.
struct LenientText;

impl<'de> Visitor<'de> for LenientText {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(String::new())
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(String::new())
    }
}

/// A whole number read from a number or a string of one; anything else is 0.
struct LenientNumber;

impl<'de> Visitor<'de> for LenientNumber {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole number")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        Ok(u64::try_from(v).unwrap_or(0))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        // Saturating: a negative or non-finite count is no count.
        Ok(if v.is_finite() && v > 0.0 {
            v as u64
        } else {
            0
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        Ok(v.trim().parse().unwrap_or(0))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<u64, E> {
        Ok(0)
    }

    fn visit_unit<E: de::Error>(self) -> Result<u64, E> {
        Ok(0)
    }

    fn visit_none<E: de::Error>(self) -> Result<u64, E> {
        Ok(0)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(0)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(0)
    }
}

/// A value read by one of the lenient visitors.
struct Lenient<V>(V);

impl<'de> Deserialize<'de> for Lenient<String> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientText).map(Lenient)
    }
}

impl<'de> Deserialize<'de> for Lenient<u64> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientNumber).map(Lenient)
    }
}

/// An object of `key: value` read leniently; anything but an object is empty.
struct LenientMap<V>(std::marker::PhantomData<V>);

impl<'de, V> Visitor<'de> for LenientMap<V>
where
    Lenient<V>: Deserialize<'de>,
{
    type Value = BTreeMap<String, V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((key, Lenient(value))) = map.next_entry::<String, Lenient<V>>()? {
            out.insert(key, value);
        }
        Ok(out)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(BTreeMap::new())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(LenientText)
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(LenientNumber)
}

fn lenient_capacity<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, u64>, D::Error> {
    d.deserialize_any(LenientMap(std::marker::PhantomData))
}

fn lenient_tags<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    d.deserialize_any(LenientMap(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_read_leniently() {
        let t: InstanceType = serde_json::from_str(
            r#"{"capacity": {"us-tx-1": 10, "pdx": "2", "x": null}, "cloud": "oci", "cpu": "16",
                "gpu": {"count": 1, "family": "A100", "interconnection_type": "SXM",
                        "manufacturer": "NVIDIA", "memory_gb": 80, "model": "A100-80GB"},
                "memory_gb": 120, "price": {"currency": "USD", "on_demand_per_hour": 2.5},
                "regions": ["us-tx-1"], "storage": [{"size_gb": 1024, "type": "ssd"}],
                "system_arch": "amd64", "workshop_id": null, "new": {"x": 1}}"#,
        )
        .unwrap();
        assert_eq!(t.capacity["pdx"], 2);
        assert_eq!(t.capacity["x"], 0);
        assert_eq!((t.cpu, t.gpu.count, t.workshop_id.as_str()), (16, 1, ""));
        let d: Deployment = serde_json::from_str(
            r#"{"id": "d", "cluster": {"id": "c"}, "ssh_port": 2222, "state": "ready",
                "tags": {"a": "b", "n": 5, "z": null}}"#,
        )
        .unwrap();
        assert_eq!(d.cluster_id(), Some("c"));
        assert_eq!(d.tags["n"], "5");
        let d: Deployment =
            serde_json::from_str(r#"{"id": "d", "cluster": null, "tags": []}"#).unwrap();
        assert_eq!(d.cluster_id(), None);
        assert!(d.tags.is_empty());
    }

    #[test]
    fn error_bodies_keep_detail_and_fields() {
        let e = ErrorBody::parse(
            br#"{"request_id": ["already exists."], "gpu_count": ["bad", "worse"]}"#,
        )
        .unwrap();
        assert!(e.names_field("request_id") && !e.names_field("detail"));
        assert_eq!(e.detail, None);
        assert!(e.message().unwrap().contains("gpu_count: bad; worse"));
        let e = ErrorBody::parse(br#"{"detail": "Invalid token."}"#).unwrap();
        assert_eq!(e.message().as_deref(), Some("Invalid token."));
        assert!(ErrorBody::parse(b"<html>").is_none());
        assert!(ErrorBody::parse(b"[1]").is_none());
    }
}
