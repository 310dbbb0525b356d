//! Shadeform's JSON (Shadeform API 1.0.0), read leniently: a missing or `null` field takes its
//! default and unknown fields are ignored, so a response that grows stays readable.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
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

/// A string of the catalog: borrowed from the body when it holds no escapes (the usual
/// case, so decoding the catalog allocates no strings of its own), owned otherwise; `null`
/// or absent reads as empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Cow<'de, str>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or null")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(""))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(""))
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
        }

        // JSON says by itself whether a value is a string or null: one look, not an option
        // and then a string.
        d.deserialize_any(TextVisitor).map(Text)
    }
}

impl Text<'_> {
    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The same text, owning its string.
    pub(crate) fn into_owned(self) -> Text<'static> {
        Text(Cow::Owned(self.0.into_owned()))
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Text(Cow::Borrowed(s))
    }
}

impl From<String> for Text<'_> {
    fn from(s: String) -> Self {
        Text(Cow::Owned(s))
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A decimal amount the API writes as a string (`"103.4"`), read as its text; a number is
/// taken as its decimal text too, and `null` or absent as empty, so an answer that changes
/// the field's type stays readable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Amount<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Amount<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AmountVisitor;

        impl<'de> Visitor<'de> for AmountVisitor {
            type Value = Cow<'de, str>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal as a string or a number, or null")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_string()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_string()))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                // A finite float's shortest text is a decimal the price parser reads.
                Ok(Cow::Owned(if v.is_finite() {
                    v.to_string()
                } else {
                    String::new()
                }))
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(""))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(""))
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
        }

        d.deserialize_any(AmountVisitor).map(Amount)
    }
}

impl Amount<'_> {
    /// The text of the amount.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    fn into_owned(self) -> Amount<'static> {
        Amount(Cow::Owned(self.0.into_owned()))
    }
}

/// A list answer: the name of its array field and the type of its elements, which may
/// borrow from the body.
pub(crate) trait Listed {
    /// The field holding the array, e.g. `instance_types`.
    const FIELD: &'static str;
    /// One element.
    type Item<'de>: Deserialize<'de>;
}

/// `InstanceTypesResponse`: `{"instance_types": [InstanceType]}`.
pub(crate) struct InstanceTypes;

impl Listed for InstanceTypes {
    const FIELD: &'static str = "instance_types";
    type Item<'de> = InstanceType<'de>;
}

/// `InstancesResponse`: `{"instances": [Instance]}`.
pub(crate) struct Instances;

impl Listed for Instances {
    const FIELD: &'static str = "instances";
    type Item<'de> = Instance<'de>;
}

/// A list answer, element by element: each element is handed to `fold` as soon as it is
/// parsed and folded into `acc`, so no vector of wire values is built (a list of 10,000
/// instances is converted and filtered one by one). A missing or `null` array is an empty
/// list; other fields are skipped. The accumulator is the seed's value, made fresh for every
/// attempt: an answer that breaks off half-way leaves nothing behind.
pub(crate) struct Each<L, A, F> {
    acc: A,
    fold: F,
    list: PhantomData<fn() -> L>,
}

impl<L: Listed, A, F> Each<L, A, F>
where
    F: for<'x> Fn(&mut A, L::Item<'x>),
{
    pub(crate) fn new(acc: A, fold: F) -> Self {
        Self {
            acc,
            fold,
            list: PhantomData,
        }
    }
}

impl<'de, L: Listed, A, F> DeserializeSeed<'de> for Each<L, A, F>
where
    F: for<'x> Fn(&mut A, L::Item<'x>),
{
    type Value = A;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<A, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, L: Listed, A, F> Visitor<'de> for Each<L, A, F>
where
    F: for<'x> Fn(&mut A, L::Item<'x>),
{
    type Value = A;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with an {:?} array", L::FIELD)
    }

    fn visit_map<M: MapAccess<'de>>(mut self, mut map: M) -> Result<A, M::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<Text<'de>>()? {
            if key.as_str() != L::FIELD {
                map.next_value::<IgnoredAny>()?;
            } else if seen {
                return Err(de::Error::duplicate_field(L::FIELD));
            } else {
                seen = true;
                map.next_value_seed(Elements::<L, A, F> {
                    acc: &mut self.acc,
                    fold: &self.fold,
                    list: PhantomData,
                })?;
            }
        }
        Ok(self.acc)
    }
}

/// The array (or `null`), each element folded in as parsed.
struct Elements<'s, L, A, F> {
    acc: &'s mut A,
    fold: &'s F,
    list: PhantomData<fn() -> L>,
}

impl<'de, L: Listed, A, F> DeserializeSeed<'de> for Elements<'_, L, A, F>
where
    F: for<'x> Fn(&mut A, L::Item<'x>),
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, L: Listed, A, F> Visitor<'de> for Elements<'_, L, A, F>
where
    F: for<'x> Fn(&mut A, L::Item<'x>),
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of {} or null", L::FIELD)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        while let Some(element) = seq.next_element::<L::Item<'de>>()? {
            (self.fold)(self.acc, element);
        }
        Ok(())
    }
}

/// `InstanceType`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[allow(clippy::struct_field_names)] // The API's names.
pub(crate) struct InstanceType<'a> {
    #[serde(borrow)]
    pub cloud: Text<'a>,
    #[serde(borrow)]
    pub shade_instance_type: Text<'a>,
    #[serde(borrow, deserialize_with = "null_default")]
    pub configuration: OfferConfiguration<'a>,
    /// Cents per hour; `None` when absent (never read as free).
    pub hourly_price: Option<i64>,
    #[serde(borrow)]
    pub deployment_type: Text<'a>,
    #[serde(borrow, deserialize_with = "null_default")]
    pub availability: Vec<Availability<'a>>,
    pub boot_time: Option<BootTime>,
}

impl InstanceType<'_> {
    /// The same offer, owning its strings (to keep it beyond the answer's body).
    pub(crate) fn into_owned(self) -> InstanceType<'static> {
        InstanceType {
            cloud: self.cloud.into_owned(),
            shade_instance_type: self.shade_instance_type.into_owned(),
            configuration: self.configuration.into_owned(),
            hourly_price: self.hourly_price,
            deployment_type: self.deployment_type.into_owned(),
            availability: self
                .availability
                .into_iter()
                .map(Availability::into_owned)
                .collect(),
            boot_time: self.boot_time,
        }
    }
}

/// `InstanceTypeConfiguration`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct OfferConfiguration<'a> {
    #[serde(deserialize_with = "null_default")]
    pub memory_in_gb: i64,
    #[serde(deserialize_with = "null_default")]
    pub storage_in_gb: i64,
    #[serde(deserialize_with = "null_default")]
    pub vcpus: i64,
    #[serde(deserialize_with = "null_default")]
    pub num_gpus: i64,
    #[serde(borrow)]
    pub gpu_type: Text<'a>,
    #[serde(borrow)]
    pub interconnect: Text<'a>,
    #[serde(deserialize_with = "null_default")]
    pub nvlink: bool,
    #[serde(deserialize_with = "null_default")]
    pub vram_per_gpu_in_gb: i64,
    #[serde(borrow, deserialize_with = "null_default")]
    pub os_options: Vec<Text<'a>>,
    #[serde(borrow)]
    pub gpu_manufacturer: Text<'a>,
}

impl OfferConfiguration<'_> {
    fn into_owned(self) -> OfferConfiguration<'static> {
        OfferConfiguration {
            memory_in_gb: self.memory_in_gb,
            storage_in_gb: self.storage_in_gb,
            vcpus: self.vcpus,
            num_gpus: self.num_gpus,
            gpu_type: self.gpu_type.into_owned(),
            interconnect: self.interconnect.into_owned(),
            nvlink: self.nvlink,
            vram_per_gpu_in_gb: self.vram_per_gpu_in_gb,
            os_options: self.os_options.into_iter().map(Text::into_owned).collect(),
            gpu_manufacturer: self.gpu_manufacturer.into_owned(),
        }
    }
}

/// `InstanceConfiguration`: the fields of an instance's configuration this provider reads
/// (the GPU fields repeat the offer's and are skipped unparsed).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct InstanceConfiguration {
    #[serde(deserialize_with = "null_default")]
    pub storage_in_gb: i64,
    #[serde(deserialize_with = "null_default")]
    pub os: String,
}

/// `Availability`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Availability<'a> {
    #[serde(borrow)]
    pub region: Text<'a>,
    #[serde(deserialize_with = "null_default")]
    pub available: bool,
    #[serde(borrow)]
    pub display_name: Text<'a>,
}

impl Availability<'_> {
    fn into_owned(self) -> Availability<'static> {
        Availability {
            region: self.region.into_owned(),
            available: self.available,
            display_name: self.display_name.into_owned(),
        }
    }
}

/// `BootTime`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub(crate) struct BootTime {
    pub min_boot_in_sec: Option<i64>,
    pub max_boot_in_sec: Option<i64>,
}

/// `Instance` and `InstanceInfoResponse`: the fields this provider reads (the others, such
/// as the upstream's own id and the key id, are skipped unparsed). What becomes a field of
/// the model is read as an owned string; what is only looked at (cloud, type, status, tags,
/// time) borrows from the body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Instance<'a> {
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    #[serde(borrow)]
    pub cloud: Text<'a>,
    #[serde(deserialize_with = "null_default")]
    pub region: String,
    #[serde(borrow)]
    pub shade_instance_type: Text<'a>,
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub configuration: InstanceConfiguration,
    #[serde(deserialize_with = "null_default")]
    pub ip: String,
    #[serde(deserialize_with = "null_default")]
    pub ssh_user: String,
    #[serde(deserialize_with = "null_default")]
    pub ssh_port: i64,
    #[serde(borrow)]
    pub status: Text<'a>,
    #[serde(borrow)]
    pub status_details: Text<'a>,
    #[serde(borrow, deserialize_with = "null_default")]
    pub tags: Vec<Text<'a>>,
    #[serde(deserialize_with = "null_default")]
    pub port_mappings: Vec<PortMapping>,
    #[serde(borrow)]
    pub created_at: Text<'a>,
    /// When it became active (Go's zero time before).
    #[serde(borrow)]
    pub active_at: Text<'a>,
    /// What it has cost through Shadeform so far, in USD.
    #[serde(borrow)]
    pub cost_estimate: Amount<'a>,
    /// How long its offer takes to boot.
    pub boot_time: Option<BootTime>,
}

impl Instance<'_> {
    /// The same instance, owning its strings (to keep it beyond the answer's body).
    pub(crate) fn into_owned(self) -> Instance<'static> {
        Instance {
            id: self.id,
            cloud: self.cloud.into_owned(),
            region: self.region,
            shade_instance_type: self.shade_instance_type.into_owned(),
            name: self.name,
            configuration: self.configuration,
            ip: self.ip,
            ssh_user: self.ssh_user,
            ssh_port: self.ssh_port,
            status: self.status.into_owned(),
            status_details: self.status_details.into_owned(),
            tags: self.tags.into_iter().map(Text::into_owned).collect(),
            port_mappings: self.port_mappings,
            created_at: self.created_at.into_owned(),
            active_at: self.active_at.into_owned(),
            cost_estimate: self.cost_estimate.into_owned(),
            boot_time: self.boot_time,
        }
    }
}

/// One instance (`InstanceInfoResponse`), read borrowing from the body and then made owned:
/// the same reading as in a list.
pub(crate) struct OwnedInstance;

impl<'de> DeserializeSeed<'de> for OwnedInstance {
    type Value = Instance<'static>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Instance<'static>, D::Error> {
        Instance::deserialize(d).map(Instance::into_owned)
    }
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
        let body = example.to_string();
        let collect = |body: &str| -> Vec<InstanceType<'static>> {
            let mut de = serde_json::Deserializer::from_str(body);
            Each::<InstanceTypes, _, _>::new(Vec::new(), |all: &mut Vec<_>, t: InstanceType<'_>| {
                assert!(
                    matches!(t.cloud.0, Cow::Borrowed(_) | Cow::Owned(_)),
                    "a string"
                );
                all.push(t.into_owned());
            })
            .deserialize(&mut de)
            .unwrap()
        };
        let all = collect(&body);
        let t = &all[0];
        assert_eq!(
            (t.cloud.as_str(), t.hourly_price),
            ("hyperstack", Some(210))
        );
        assert_eq!(t.availability[0].region.as_str(), "us-central-1");
        assert_eq!(
            t.configuration.os_options[0].as_str(),
            "ubuntu22.04_cuda12.2_shade_os"
        );
        assert_eq!(t.boot_time.unwrap().max_boot_in_sec, Some(300));
        let nulls: InstanceType<'_> = serde_json::from_str(
            r#"{"cloud": null, "hourly_price": null, "availability": null, "configuration": null}"#,
        )
        .unwrap();
        assert!(nulls.availability.is_empty() && nulls.hourly_price.is_none());
        assert_eq!(nulls.cloud.as_str(), "");
        assert!(collect(r#"{"instance_types": null, "other": [1]}"#).is_empty());
        assert!(collect("{}").is_empty());
        let mut de =
            serde_json::Deserializer::from_str(r#"{"instance_types": [], "instance_types": []}"#);
        assert!(
            Each::<InstanceTypes, _, _>::new((), |(), _: InstanceType<'_>| {})
                .deserialize(&mut de)
                .is_err(),
            "a repeated list is refused"
        );
    }

    #[test]
    fn instance_lists_fold_one_by_one() {
        let fold = |body: &str| {
            let mut de = serde_json::Deserializer::from_str(body);
            Each::<Instances, _, _>::new(Vec::new(), |ids: &mut Vec<String>, i: Instance<'_>| {
                ids.push(i.id);
            })
            .deserialize(&mut de)
        };
        let ids = fold(
            r#"{"other": {"instances": 1}, "instances": [{"id": "a"}, {"id": "b", "tags": null}]}"#,
        )
        .unwrap();
        assert_eq!(ids, ["a", "b"]);
        assert!(fold(r#"{"instances": null}"#).unwrap().is_empty());
        assert!(
            fold(r#"{"instances": [{"id": 1}]}"#).is_err(),
            "a bad element is an error"
        );
        assert!(fold(r#"{"instances": [], "instances": []}"#).is_err());
    }

    #[test]
    fn catalog_strings_borrow_from_the_body_unless_escaped() {
        let body = r#"{"cloud": "hyperstack", "shade_instance_type": "A\u0036000"}"#;
        let t: InstanceType<'_> = serde_json::from_str(body).unwrap();
        assert!(matches!(t.cloud.0, Cow::Borrowed("hyperstack")));
        assert!(matches!(t.shade_instance_type.0, Cow::Owned(ref s) if s == "A6000"));
        assert!(serde_json::from_str::<InstanceType<'_>>(r#"{"cloud": 5}"#).is_err());
    }

    #[test]
    fn a_launch_sends_what_the_live_api_needs_and_shade_cloud_explicitly() {
        let body = CreateRequest {
            cloud: "hyperstack".into(),
            region: "canada-1".into(),
            shade_instance_type: "A6000".into(),
            shade_cloud: true,
            name: "box".into(),
            os: None,
            ssh_key_id: "78a0dd5a-dbb1-4568-b55c-5e7e0a8b0c40".into(),
            launch_configuration: LaunchConfiguration {
                kind: "script",
                script_configuration: ScriptConfiguration {
                    base64_script: "IyEvYmluL3NoCg==".into(),
                },
            },
            tags: vec!["a=b".into()],
        };
        let json = serde_json::to_value(&body).unwrap();
        // What clients of the live API send, and what it needs.
        for field in [
            "cloud",
            "region",
            "shade_instance_type",
            "name",
            "ssh_key_id",
        ] {
            assert!(
                json[field].as_str().is_some_and(|v| !v.is_empty()),
                "{field}: {json}"
            );
        }
        // Optional live (Shade Cloud by default), required by the description: always sent.
        assert_eq!(json["shade_cloud"], true);
        assert!(json.get("os").is_none(), "no image: Shadeform's default");
        assert_eq!(json["launch_configuration"]["type"], "script");
    }

    #[test]
    fn instances_and_errors_read_leniently() {
        let body = serde_json::json!({
            "id": "d290f1ee-6c54-4b01-90e6-d701748f0851", "cloud": "hyperstack",
            "region": "canada-1", "status": "active", "ip": "1.0.0.1", "ssh_user": "shadeform",
            "ssh_port": 22, "tags": ["a=b", "c"], "configuration": {"os": "ubuntu_22_shade_os"},
            "deleted_at": null, "status_details": null
        })
        .to_string();
        let mut de = serde_json::Deserializer::from_str(&body);
        let i = OwnedInstance.deserialize(&mut de).unwrap();
        assert_eq!((i.ssh_port, i.tags.len()), (22, 2));
        assert_eq!(
            (i.status.as_str(), i.status_details.as_str()),
            ("active", "")
        );
        assert_eq!(i.configuration.os, "ubuntu_22_shade_os");
        assert!(
            i.active_at.is_empty() && i.cost_estimate.as_str().is_empty() && i.boot_time.is_none()
        );
        let live = serde_json::json!({
            "active_at": "2026-12-01T18:00:00.001Z", "cost_estimate": "103.4",
            "boot_time": {"min_boot_in_sec": 180, "max_boot_in_sec": 300},
            "status_details": "downloading"
        })
        .to_string();
        let i: Instance<'_> = serde_json::from_str(&live).unwrap();
        assert_eq!(
            (i.active_at.as_str(), i.cost_estimate.as_str()),
            ("2026-12-01T18:00:00.001Z", "103.4")
        );
        assert_eq!(i.boot_time.unwrap().max_boot_in_sec, Some(300));
        for (json, text) in [("12", "12"), ("1.5", "1.5"), ("null", "")] {
            let body = format!(r#"{{"cost_estimate": {json}}}"#);
            let i: Instance<'_> = serde_json::from_str(&body).unwrap();
            assert_eq!(i.cost_estimate.as_str(), text, "{json}");
        }
        assert!(
            serde_json::from_str::<Instance<'_>>(r#"{"boot_time": null}"#)
                .unwrap()
                .boot_time
                .is_none()
        );
        let e: ErrorBody =
            serde_json::from_str(r#"{"error_code":"OUT_OF_STOCK","error":"none left"}"#).unwrap();
        assert_eq!(e.error_code, "OUT_OF_STOCK");
    }
}
