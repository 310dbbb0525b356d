//! LaunchPad's JSON shapes (the NVIDIA LaunchPad API 2.40.9 description), read leniently:
//! unknown fields are ignored, anything that may be absent or `null` has a default, and a
//! number that arrives as a string is read too.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use gpucloud_http::lenient::{Each, Listed, Text, decimal, whole_number};
use rust_decimal::Decimal;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// One page of a list (`{count, next, previous, results}`), read as it is parsed (`next`
/// and `results`; the rest is skipped): each item
/// of `results` folded into an accumulator by [`Each`], so that no vector of wire items is
/// built and items may borrow their strings from the body.
pub(crate) struct PageSeed<'f, L, A, F> {
    acc: A,
    fold: &'f F,
    list: PhantomData<fn() -> L>,
}

/// What a page said besides its items.
#[derive(Debug)]
pub(crate) struct PageRead<A> {
    /// Whether the answer links a next page.
    pub(crate) has_next: bool,
    /// What the items were folded into.
    pub(crate) acc: A,
}

impl<'f, L: Listed, A, F> PageSeed<'f, L, A, F>
where
    F: for<'x> Fn(&mut A, L::Item<'x>),
{
    /// Reads a page, folding each item into `acc` with `fold`.
    pub(crate) fn new(acc: A, fold: &'f F) -> Self {
        Self {
            acc,
            fold,
            list: PhantomData,
        }
    }
}

impl<'de, L: Listed, A, F> DeserializeSeed<'de> for PageSeed<'_, L, A, F>
where
    F: for<'x> Fn(&mut A, L::Item<'x>),
{
    type Value = PageRead<A>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, L: Listed, A, F> Visitor<'de> for PageSeed<'_, L, A, F>
where
    F: for<'x> Fn(&mut A, L::Item<'x>),
{
    type Value = PageRead<A>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a page: an object with a results array")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let (mut has_next, mut acc, mut seen) = (false, self.acc, false);
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match key.as_str() {
                "next" => has_next = !map.next_value::<Text<'de>>()?.trim().is_empty(),
                "results" if seen => return Err(de::Error::duplicate_field("results")),
                "results" => {
                    seen = true;
                    acc = map.next_value_seed(Each::<L, A, F>::new(acc, self.fold))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        // No `results`: an empty page.
        Ok(PageRead { has_next, acc })
    }
}

/// The items of [`InstanceType`] lists, borrowing from the body.
pub(crate) struct InstanceTypes;

impl Listed for InstanceTypes {
    type Item<'de> = InstanceType<'de>;
}

/// Items read as owned values (deployments, clusters).
pub(crate) struct Owned<T>(PhantomData<fn() -> T>);

impl<T: serde::de::DeserializeOwned> Listed for Owned<T> {
    type Item<'de> = T;
}

/// A catalog entry (`InstanceType`); its strings borrow from the answer's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct InstanceType<'a> {
    /// Region → machines available now, sorted by region (a region named twice keeps its
    /// last count).
    #[serde(borrow, deserialize_with = "lenient_capacity")]
    pub(crate) capacity: Vec<(Text<'a>, u64)>,
    /// The upstream cloud.
    #[serde(borrow)]
    pub(crate) cloud: Text<'a>,
    /// vCPUs.
    #[serde(deserialize_with = "whole_number")]
    pub(crate) cpu: u64,
    #[serde(borrow)]
    pub(crate) gpu: Gpu<'a>,
    /// System memory in GB.
    #[serde(deserialize_with = "whole_number")]
    pub(crate) memory_gb: u64,
    #[serde(borrow)]
    pub(crate) price: Option<Price<'a>>,
    /// Regions with capacity.
    #[serde(borrow)]
    pub(crate) regions: Vec<Text<'a>>,
    #[serde(borrow)]
    pub(crate) storage: Vec<Storage<'a>>,
    /// `amd64` or `arm64`.
    #[serde(borrow)]
    pub(crate) system_arch: Text<'a>,
    /// The workshop the type is reserved for; empty or absent for none.
    #[serde(borrow)]
    pub(crate) workshop_id: Text<'a>,
}

impl InstanceType<'_> {
    /// Machines available now in `region` (0 when `capacity` does not name it).
    pub(crate) fn capacity_in(&self, region: &str) -> u64 {
        self.capacity
            .binary_search_by(|(r, _)| r.as_str().cmp(region))
            .map_or(0, |i| self.capacity[i].1)
    }

    /// The regions the entry names: those of `capacity` (sorted), then those of `regions`
    /// not named there, each once.
    pub(crate) fn all_regions(&self) -> impl Iterator<Item = &str> {
        let in_capacity = self.capacity.iter().map(|(r, _)| r.as_str());
        let more = self.regions.iter().enumerate().filter_map(|(i, r)| {
            let r = r.as_str();
            let fresh = self
                .capacity
                .binary_search_by(|(c, _)| c.as_str().cmp(r))
                .is_err()
                && !self.regions[..i]
                    .iter()
                    .any(|earlier| earlier.as_str() == r);
            fresh.then_some(r)
        });
        in_capacity.chain(more)
    }

    /// The same entry, owning its strings (to keep it beyond the answer's body).
    pub(crate) fn into_owned(self) -> InstanceType<'static> {
        InstanceType {
            capacity: self
                .capacity
                .into_iter()
                .map(|(r, n)| (r.into_owned(), n))
                .collect(),
            cloud: self.cloud.into_owned(),
            cpu: self.cpu,
            gpu: Gpu {
                count: self.gpu.count,
                family: self.gpu.family.into_owned(),
                interconnection_type: self.gpu.interconnection_type.into_owned(),
                manufacturer: self.gpu.manufacturer.into_owned(),
                memory_gb: self.gpu.memory_gb,
                model: self.gpu.model.into_owned(),
            },
            memory_gb: self.memory_gb,
            price: self.price.map(|p| Price {
                currency: p.currency.into_owned(),
                on_demand_per_hour: p.on_demand_per_hour,
            }),
            regions: self.regions.into_iter().map(Text::into_owned).collect(),
            storage: self
                .storage
                .into_iter()
                .map(|s| Storage {
                    size_gb: s.size_gb,
                    kind: s.kind.into_owned(),
                })
                .collect(),
            system_arch: self.system_arch.into_owned(),
            workshop_id: self.workshop_id.into_owned(),
        }
    }
}

/// The GPUs of a catalog entry (`InstanceTypeGpu`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Gpu<'a> {
    #[serde(deserialize_with = "whole_number")]
    pub(crate) count: u64,
    #[serde(borrow)]
    pub(crate) family: Text<'a>,
    /// `pcie` or `sxm` (the description's examples also write `SXM`).
    #[serde(borrow)]
    pub(crate) interconnection_type: Text<'a>,
    #[serde(borrow)]
    pub(crate) manufacturer: Text<'a>,
    /// Memory of one GPU in GB.
    #[serde(deserialize_with = "whole_number")]
    pub(crate) memory_gb: u64,
    #[serde(borrow)]
    pub(crate) model: Text<'a>,
}

/// A catalog entry's price (`InstanceTypePrice`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Price<'a> {
    #[serde(borrow)]
    pub(crate) currency: Text<'a>,
    /// Per hour, from the JSON number (or the string of one) the API wrote; `None` when
    /// absent, `null` or not a number.
    #[serde(deserialize_with = "decimal")]
    pub(crate) on_demand_per_hour: Option<Decimal>,
}

/// A disk of a catalog entry (`InstanceTypeStorage`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Storage<'a> {
    #[serde(deserialize_with = "whole_number")]
    pub(crate) size_gb: u64,
    #[serde(rename = "type", borrow)]
    pub(crate) kind: Text<'a>,
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
    #[serde(deserialize_with = "whole_number")]
    pub(crate) gpu_count: u64,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) gpu_model: String,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) provider_name: String,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) region: String,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) request_id: String,
    #[serde(deserialize_with = "whole_number")]
    pub(crate) ssh_port: u64,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) ssh_user: String,
    #[serde(deserialize_with = "lenient_string")]
    pub(crate) state: String,
    #[serde(deserialize_with = "whole_number")]
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

/// A text field read leniently as an owned string (see [`Text`]).
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Text::deserialize(d).map(|t| t.0.into_owned())
}

/// An object of counts (`capacity`) or of texts (`tags`) read leniently; anything but an
/// object is empty.
struct ObjectOr<V, F>(F, PhantomData<fn() -> V>);

impl<'de, V, F> Visitor<'de> for ObjectOr<V, F>
where
    V: Deserialize<'de>,
    F: FnMut(&mut Vec<(Text<'de>, V)>, Text<'de>, V),
{
    type Value = Vec<(Text<'de>, V)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some((key, value)) = map.next_entry::<Text<'de>, V>()? {
            (self.0)(&mut out, key, value);
        }
        Ok(out)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Vec::new())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
}

/// A count read leniently (see [`whole_number`]).
struct Lenient(u64);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        whole_number(d).map(Lenient)
    }
}

/// `capacity`: sorted by region, a region named twice keeping its last count (as a map
/// would), so that [`InstanceType::capacity_in`] can search it.
fn lenient_capacity<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(Text<'de>, u64)>, D::Error> {
    let insert = |out: &mut Vec<(Text<'de>, Lenient)>, key: Text<'de>, value: Lenient| match out
        .binary_search_by(|(k, _)| k.as_str().cmp(key.as_str()))
    {
        Ok(i) => out[i].1 = value,
        Err(i) => out.insert(i, (key, value)),
    };
    let read = d.deserialize_any(ObjectOr(insert, PhantomData))?;
    Ok(read.into_iter().map(|(k, Lenient(n))| (k, n)).collect())
}

/// `tags`: values that are not strings are read as their JSON text.
fn lenient_tags<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let push = |out: &mut Vec<(Text<'de>, Text<'de>)>, key: Text<'de>, value: Text<'de>| {
        out.push((key, value));
    };
    let read = d.deserialize_any(ObjectOr(push, PhantomData))?;
    Ok(read
        .into_iter()
        .map(|(k, v)| (k.0.into_owned(), v.0.into_owned()))
        .collect())
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
        assert_eq!(t.capacity_in("pdx"), 2);
        assert_eq!(t.capacity_in("x"), 0);
        assert_eq!(t.all_regions().collect::<Vec<_>>(), ["pdx", "us-tx-1", "x"]);
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
