//! Lambda Cloud's JSON (OpenAPI 1.10.0), private and lenient: fields the description does not
//! require are `Option` or defaulted, unknown fields are ignored, numbers that arrive as strings
//! are accepted.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The success envelope `{"data": ...}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Data<T> {
    pub data: T,
}

/// Decodes `{"data": [T, ...]}` and folds each element into an accumulator as soon as it is
/// parsed, so that no vector of wire values is built (a list of 10,000 instances is converted
/// and filtered element by element). The accumulator is the seed's value: a fresh one per
/// attempt, so an answer that breaks off half-way leaves nothing behind. A missing `data` is an
/// error, as for [`Data`].
pub(crate) struct EachData<T, A, F> {
    acc: A,
    each: F,
    element: PhantomData<fn() -> T>,
}

impl<T, A, F: Fn(&mut A, T)> EachData<T, A, F> {
    pub(crate) fn new(acc: A, each: F) -> Self {
        Self {
            acc,
            each,
            element: PhantomData,
        }
    }
}

impl<'de, T: DeserializeOwned, A, F: Fn(&mut A, T)> DeserializeSeed<'de> for EachData<T, A, F> {
    type Value = A;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<A, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: DeserializeOwned, A, F: Fn(&mut A, T)> Visitor<'de> for EachData<T, A, F> {
    type Value = A;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with a \"data\" array")
    }

    fn visit_map<M: MapAccess<'de>>(mut self, mut map: M) -> Result<A, M::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "lowercase")]
        enum Field {
            Data,
            #[serde(other)]
            Other,
        }
        let mut seen = false;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Data if !seen => {
                    seen = true;
                    map.next_value_seed(Elements {
                        acc: &mut self.acc,
                        each: &self.each,
                        element: PhantomData,
                    })?;
                }
                Field::Data => return Err(serde::de::Error::duplicate_field("data")),
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if seen {
            Ok(self.acc)
        } else {
            Err(serde::de::Error::missing_field("data"))
        }
    }
}

/// The elements of the `data` array, each folded in as parsed.
struct Elements<'a, T, A, F> {
    acc: &'a mut A,
    each: &'a F,
    element: PhantomData<fn() -> T>,
}

impl<'de, T: DeserializeOwned, A, F: Fn(&mut A, T)> DeserializeSeed<'de> for Elements<'_, T, A, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: DeserializeOwned, A, F: Fn(&mut A, T)> Visitor<'de> for Elements<'_, T, A, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        while let Some(element) = seq.next_element::<T>()? {
            (self.each)(self.acc, element);
        }
        Ok(())
    }
}

/// The error envelope `{"error": {...}, "field_errors": {...}}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub error: Option<ApiError>,
}

/// One error: a structured code, a message and maybe a suggestion.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ApiError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub suggestion: Option<String>,
}

/// A region as embedded in an instance: only its name is used (the description is skipped
/// unparsed rather than allocated for every instance of a list).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct RegionName {
    #[serde(default)]
    pub name: String,
}

/// The storage of an instance's type (all the model takes from its specs).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct StorageSpecs {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub storage_gib: Option<u64>,
}

/// An instance type as embedded in an instance: its name and storage; the rest of the catalog
/// entry (descriptions, price, other specs) is skipped unparsed.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct InstanceTypeName {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub specs: StorageSpecs,
}

/// A region.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Region {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// The hardware of an instance type.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Specs {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub vcpus: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub memory_gib: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub storage_gib: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub gpus: Option<u64>,
}

/// An instance type.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct InstanceType {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub gpu_description: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub price_cents_per_hour: Option<u64>,
    #[serde(default)]
    pub specs: Specs,
}

/// One entry of `GET /instance-types`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct InstanceTypesItem {
    #[serde(default)]
    pub instance_type: InstanceType,
    #[serde(default)]
    pub regions_with_capacity_available: Vec<Region>,
}

/// `GET /instance-types` data: type name → item.
pub(crate) type InstanceTypes = BTreeMap<String, InstanceTypesItem>;

/// A key/value tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Tag {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// A reference to a firewall ruleset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RulesetRef {
    #[serde(default)]
    pub id: String,
}

/// Whether an operation is available on an instance.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ActionAvailability {
    #[serde(default)]
    pub available: Option<bool>,
}

/// The availability of instance operations.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Actions {
    #[serde(default)]
    pub restart: Option<ActionAvailability>,
}

/// An instance.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(clippy::struct_field_names)]
pub(crate) struct Instance {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub private_ip: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub region: Option<RegionName>,
    #[serde(default)]
    pub instance_type: Option<InstanceTypeName>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub actions: Option<Actions>,
    #[serde(default)]
    pub tags: Option<Vec<Tag>>,
    #[serde(default)]
    pub firewall_rulesets: Option<Vec<RulesetRef>>,
}

/// `POST /instance-operations/launch` data.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct LaunchResponse {
    #[serde(default)]
    pub instance_ids: Vec<String>,
}

/// An image chosen by id.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ImageSpec {
    pub id: String,
}

/// `POST /instance-operations/launch` body.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LaunchRequest {
    pub region_name: String,
    pub instance_type_name: String,
    pub ssh_key_names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub firewall_rulesets: Vec<RulesetRef>,
}

/// Body of terminate and restart.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct InstanceIds {
    pub instance_ids: Vec<String>,
}

/// A stored SSH key.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SshKey {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub public_key: String,
}

/// `POST /ssh-keys` body.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AddSshKey {
    pub name: String,
    pub public_key: String,
}

/// A machine image.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Image {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub created_time: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub family: Option<String>,
    #[serde(default)]
    pub architecture: Option<String>,
    #[serde(default)]
    pub region: Option<Region>,
}

/// One inbound firewall rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FirewallRule {
    #[serde(default)]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_range: Option<Vec<u32>>,
    #[serde(default)]
    pub source_network: String,
    #[serde(default)]
    pub description: String,
}

/// A firewall ruleset (regional, associated with instances at launch).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct FirewallRuleset {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub region: Option<Region>,
    #[serde(default)]
    pub rules: Vec<FirewallRule>,
    #[serde(default)]
    pub instance_ids: Vec<String>,
    /// Creation time; `None` when absent or not an ISO 8601 timestamp.
    #[serde(default, deserialize_with = "lenient_timestamp")]
    pub created: Option<jiff::Timestamp>,
}

/// `POST /firewall-rulesets` body.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CreateRuleset {
    pub name: String,
    pub region: String,
    pub rules: Vec<FirewallRule>,
}

/// `PATCH /firewall-rulesets/{id}` body.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PatchRuleset {
    pub rules: Vec<FirewallRule>,
}

/// An integer that may arrive as a number, a numeric string, or `null`; anything else
/// (negative, boolean, object, ...) is `None`. A visitor, not an untagged enum: no value is
/// buffered, which matters when a list holds thousands of these.
/// A timestamp string, or `None` for anything else (absent, null, a number, bad text).
fn lenient_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<jiff::Timestamp>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Other(IgnoredAny),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        Some(Raw::Text(text)) => text.parse().ok(),
        Some(Raw::Other(_)) | None => None,
    })
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct Lenient;

    impl<'de> Visitor<'de> for Lenient {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative integer, a numeric string or null")
        }

        fn visit_u64<E>(self, n: u64) -> Result<Option<u64>, E> {
            Ok(Some(n))
        }

        fn visit_i64<E>(self, n: i64) -> Result<Option<u64>, E> {
            Ok(u64::try_from(n).ok())
        }

        fn visit_f64<E>(self, f: f64) -> Result<Option<u64>, E> {
            Ok((f.is_finite() && f >= 0.0).then(|| f.round() as u64))
        }

        fn visit_str<E>(self, s: &str) -> Result<Option<u64>, E> {
            Ok(s.trim().parse::<u64>().ok())
        }

        fn visit_bool<E>(self, _: bool) -> Result<Option<u64>, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }

        fn visit_none<E>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<u64>, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<u64>, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }

    d.deserialize_any(Lenient)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruleset_created_is_lenient() {
        let parse = |created: &str| {
            let json = format!(r#"{{"id":"r","name":"n","created":{created}}}"#);
            serde_json::from_str::<FirewallRuleset>(&json)
                .unwrap()
                .created
        };
        assert_eq!(
            parse(r#""2025-01-02T03:04:05Z""#),
            Some("2025-01-02T03:04:05Z".parse().unwrap())
        );
        for other in ["null", "17", r#""yesterday""#, "{}"] {
            assert_eq!(parse(other), None, "{other}");
        }
        let absent: FirewallRuleset = serde_json::from_str(r#"{"id":"r"}"#).unwrap();
        assert_eq!(absent.created, None);
    }

    #[test]
    fn instance_tolerates_missing_and_unknown_fields() {
        let json = r#"{"data":{"id":"i1","status":"booting","brand_new_field":{"x":1}}}"#;
        let parsed: Data<Instance> = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.data.id, "i1");
        assert!(parsed.data.region.is_none() && parsed.data.instance_type.is_none());
        assert!(parsed.data.tags.is_none());
    }

    #[test]
    fn prices_and_specs_accept_strings_and_nulls() {
        let json = r#"{"name":"t","price_cents_per_hour":"129","specs":{"vcpus":30,"memory_gib":"200","storage_gib":null,"gpus":1.0}}"#;
        let it: InstanceType = serde_json::from_str(json).unwrap();
        assert_eq!(it.price_cents_per_hour, Some(129));
        assert_eq!(it.specs.memory_gib, Some(200));
        assert_eq!(it.specs.storage_gib, None);
        assert_eq!(it.specs.gpus, Some(1));
        let odd: InstanceType = serde_json::from_str(
            r#"{"price_cents_per_hour":{"a":[1,{"b":2}]},"specs":{"vcpus":"x","memory_gib":-3,"storage_gib":true,"gpus":[1,2]}}"#,
        )
        .unwrap();
        assert_eq!(odd.price_cents_per_hour, None);
        assert_eq!(odd.specs.vcpus, None);
        assert_eq!(odd.specs.memory_gib, None);
        assert_eq!(odd.specs.storage_gib, None);
        assert_eq!(odd.specs.gpus, None);
        let rounded: Specs =
            serde_json::from_str(r#"{"vcpus":" 7 ","memory_gib":2.6,"storage_gib":-1.5}"#).unwrap();
        assert_eq!(
            (rounded.vcpus, rounded.memory_gib, rounded.storage_gib),
            (Some(7), Some(3), None)
        );
    }

    #[test]
    fn each_data_hands_over_every_element_and_skips_other_fields() {
        let json =
            br#"{"meta":{"x":[1,2]},"data":[{"id":"a"},{"id":"b","status":"active"}],"more":1}"#;
        let mut de = serde_json::Deserializer::from_slice(json);
        let seen = EachData::new(Vec::new(), |seen: &mut Vec<String>, w: Instance| {
            seen.push(w.id);
        })
        .deserialize(&mut de)
        .unwrap();
        de.end().unwrap();
        assert_eq!(seen, ["a", "b"]);
        for bad in [
            &br#"{"other":[]}"#[..],
            br#"{"data":{"id":"a"}}"#,
            br#"{"data":[],"data":[]}"#,
            b"[1]",
            br#"{"data":[{"id":5}]}"#,
        ] {
            let mut de = serde_json::Deserializer::from_slice(bad);
            let result = EachData::new((), |(): &mut (), _: Instance| {}).deserialize(&mut de);
            assert!(result.is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn launch_request_omits_absent_fields() {
        let body = LaunchRequest {
            region_name: "us-east-1".into(),
            instance_type_name: "gpu_1x_a10".into(),
            ssh_key_names: vec!["k".into()],
            name: None,
            hostname: None,
            image: None,
            user_data: None,
            tags: vec![],
            firewall_rulesets: vec![],
        };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"region_name":"us-east-1","instance_type_name":"gpu_1x_a10","ssh_key_names":["k"]})
        );
    }

    #[test]
    fn error_body_reads_code_and_ignores_the_rest() {
        let body: ErrorBody = serde_json::from_str(
            r#"{"error":{"code":"global/invalid-api-key","message":"m","suggestion":"s"},"field_errors":{}}"#,
        )
        .unwrap();
        let error = body.error.unwrap();
        assert_eq!(error.code.as_deref(), Some("global/invalid-api-key"));
        assert_eq!(error.suggestion.as_deref(), Some("s"));
        let empty: ErrorBody = serde_json::from_str("{}").unwrap();
        assert!(empty.error.is_none());
    }
}
