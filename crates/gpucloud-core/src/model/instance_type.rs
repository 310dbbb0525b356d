//! Instance types (the catalog), their GPUs and quotas (v1 §6.6–§6.8, §11).

use std::time::Duration;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use super::storage::Storage;
use crate::bytes::Bytes;
use crate::enums::{Architecture, Manufacturer};
use crate::ids::InstanceTypeId;
use crate::price::Price;

/// One catalog entry: a type offered in one location (and zone).
///
/// The short values that repeat across a catalog (location, zone, type name, usage classes,
/// provider, cloud, and the GPU's and storage's names) are [`CompactString`]s: inline up to 24
/// bytes, so building a catalog of thousands of entries does not allocate once per field.
/// Its lists that nearly always hold one element (GPUs, storage, usage classes,
/// architectures) are [`SmallVec`]s that keep that one inline.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceType {
    /// Unique across all locations and stable across syncs.
    pub id: InstanceTypeId,
    /// Region.
    pub location: CompactString,
    /// Zones where it can be launched; the first one feeds the generic ID.
    pub available_azs: Vec<String>,
    /// Zone; equals `available_azs[0]` when both are set.
    pub sub_location: CompactString,
    /// Provider-native type name, what `CreateInstanceAttrs::instance_type` takes.
    #[serde(rename = "type")]
    pub type_name: CompactString,
    /// GPUs: normally one entry whose `count` is the number per instance.
    pub supported_gpus: SmallVec<[Gpu; 1]>,
    /// Storage.
    pub supported_storage: SmallVec<[Storage; 1]>,
    /// The root volume size can be chosen.
    pub elastic_root_volume: bool,
    /// e.g. `on-demand`, `spot`.
    pub supported_usage_classes: SmallVec<[CompactString; 1]>,
    /// RAM.
    pub memory_bytes: Bytes,
    /// Maximum network interfaces.
    pub maximum_network_interfaces: u32,
    /// e.g. `standard`.
    pub network_performance: String,
    /// Selectable core counts.
    pub supported_num_cores: Vec<u32>,
    /// Default core count.
    pub default_cores: u32,
    /// Virtual CPUs.
    pub vcpu: u32,
    /// CPU architectures.
    pub supported_architectures: SmallVec<[Architecture; 1]>,
    /// CPU clock.
    pub clock_speed_in_ghz: f64,
    /// Quotas (volatile).
    pub quota: InstanceTypeQuota,
    /// Instances of this type can be stopped.
    pub stoppable: bool,
    /// Instances of this type can be rebooted.
    pub rebootable: bool,
    /// The price varies (market pricing).
    pub variable_price: bool,
    /// Spot or preemptible offering.
    pub preemptible: bool,
    /// Launchable right now.
    pub is_available: bool,
    /// On-demand price of the whole instance per hour; `None` when the provider publishes none
    /// (a price is never invented).
    pub base_price: Option<Price>,
    /// The zone of an instance of this type can be changed.
    pub sub_location_type_changeable: bool,
    /// Runs as a container.
    pub is_container: bool,
    /// Privilege escalation disabled.
    pub user_privilege_escalation_disabled: bool,
    /// Unprivileged environment.
    pub not_privileged: bool,
    /// Typical time from create to running (volatile).
    #[serde(with = "crate::model::duration_secs")]
    pub estimated_deploy_time: Option<Duration>,
    /// Who you call: the integration or broker.
    pub provider: CompactString,
    /// Who hosts the hardware; equals `provider` for direct clouds.
    pub cloud: CompactString,
    /// Firewall rules of instances of this type can be changed after create.
    pub can_modify_firewall_rules: bool,
    /// Non-empty for reserved or private pools.
    pub reserved_instance_pool_id: String,
}

impl InstanceType {
    /// The generic ID from this entry's location, first zone and type name.
    ///
    /// Fill every other field first; call this last (v1 §7.2).
    pub fn generic_id(&self) -> InstanceTypeId {
        InstanceTypeId::generic(
            &self.location,
            self.available_azs.first().map(String::as_str),
            &self.type_name,
        )
    }

    /// Total GPUs per instance.
    pub fn gpu_count(&self) -> u32 {
        self.supported_gpus.iter().map(|g| g.count).sum()
    }

    /// The price per GPU-hour, when priced and the type has GPUs.
    pub fn price_per_gpu(&self) -> Option<Price> {
        self.base_price.as_ref()?.per_unit(self.gpu_count())
    }
}

/// The GPUs of an instance type.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Gpu {
    /// GPUs per instance.
    pub count: u32,
    /// VRAM per GPU, nominal decimal GB (`80 GB` for H100).
    pub memory_bytes: Bytes,
    /// `HBM3`, `GDDR6`, ... or empty.
    pub memory_details: CompactString,
    /// Form factor or interconnect: `PCIe`, `SXM4`, `SXM5`, `SXM6`.
    pub network_details: CompactString,
    /// Manufacturer.
    pub manufacturer: Manufacturer,
    /// Base model, upper case, no vendor or memory suffix: `H100`, `A100`, `L40S`.
    pub name: CompactString,
    /// Optional richer identifier, e.g. `H100.SXM5`.
    #[serde(rename = "type")]
    pub gpu_type: CompactString,
}

/// A quota (v1 `Quota`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Quota {
    /// Provider id of the quota.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Limit.
    pub maximum: i64,
    /// Current use.
    pub current: i64,
    /// What is counted, e.g. `instances` or `gpus`.
    pub unit: String,
}

/// Quotas of an instance type by usage class.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceTypeQuota {
    /// On-demand.
    pub on_demand: Quota,
    /// Spot.
    pub spot: Quota,
    /// Reserved.
    pub reserved: Quota,
}

/// Ask for the quota of a type.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GetInstanceTypeQuotasArgs {
    /// The type name.
    pub instance_type: String,
}

/// Normalizes a GPU model to v1's base name: upper case, without vendor prefix, `Tesla`,
/// memory suffix or form factor (`NVIDIA H100 80GB SXM5` → `H100`, `a100_80gb` → `A100`).
///
/// The forms people type name the same model: `-` and `_` separate words like spaces
/// (`A100-80GB` → `A100`), a lone series letter joins the number after it (`h-100` →
/// `H100`), and a series word written against its number is split (`RTX4090` → `RTX 4090`,
/// as catalogs write it).
pub fn normalize_gpu_name(raw: &str) -> CompactString {
    // Catalogs normalise a name per type on every query: the words are read in place and
    // upper-cased inline, so a name short enough to be inline costs no allocation.
    let mut tokens = raw
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|t| !t.is_empty())
        .map(|t| {
            let mut upper = CompactString::from(t);
            upper.make_ascii_uppercase();
            upper
        })
        .filter(|t| {
            !matches!(
                t.as_str(),
                "NVIDIA"
                    | "TESLA"
                    | "AMD"
                    | "INTEL"
                    | "GEFORCE"
                    | "SXM"
                    | "SXM2"
                    | "SXM4"
                    | "SXM5"
                    | "SXM6"
                    | "PCIE"
                    | "NVL"
            ) && !is_memory_token(t)
        })
        .peekable();
    let mut name = CompactString::default();
    let push_word = |name: &mut CompactString, word: &str| {
        if !name.is_empty() {
            name.push(' ');
        }
        name.push_str(word);
    };
    while let Some(token) = tokens.next() {
        let is_series_letter = token.len() == 1 && token.bytes().all(|b| b.is_ascii_alphabetic());
        if is_series_letter
            && let Some(number) =
                tokens.next_if(|next| next.starts_with(|c: char| c.is_ascii_digit()))
        {
            push_word(&mut name, &token);
            name.push_str(&number);
            continue;
        }
        match SERIES_WORDS
            .iter()
            .find_map(|series| token.strip_prefix(series).map(|rest| (*series, rest)))
        {
            Some((series, rest)) if !rest.is_empty() => {
                push_word(&mut name, series);
                push_word(&mut name, rest);
            }
            _ => push_word(&mut name, &token),
        }
    }
    name
}

/// Words catalogs write apart from the model number after them (`RTX 4090`, `RTX A6000`).
const SERIES_WORDS: [&str; 2] = ["RTX", "GTX"];

fn is_memory_token(token: &str) -> bool {
    let token = token.trim_matches(|c| c == '(' || c == ')');
    // `80GB`, `80G` (as people shorten it), `96GIB`.
    ["GB", "GIB", "G"]
        .iter()
        .find_map(|unit| token.strip_suffix(unit))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_strings_and_lists_keep_the_json_of_strings_and_arrays() {
        let it = InstanceType {
            location: "us-east".into(),
            type_name: "hyperstack_A100_80Gx8".into(),
            supported_gpus: smallvec::smallvec![Gpu {
                count: 8,
                name: "A100".into(),
                ..Gpu::default()
            }],
            supported_usage_classes: ["on-demand".into()].into(),
            supported_architectures: [Architecture::X86_64].into(),
            base_price: Some(Price::usd_cents(1234)),
            provider: "shadeform".into(),
            cloud: "a-cloud-name-longer-than-twenty-four-bytes".into(),
            ..InstanceType::default()
        };
        let json = serde_json::to_value(&it).unwrap();
        assert_eq!(json["location"], "us-east");
        assert_eq!(json["type"], "hyperstack_A100_80Gx8");
        assert_eq!(json["supported_gpus"][0]["name"], "A100");
        assert_eq!(json["supported_gpus"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            json["supported_usage_classes"],
            serde_json::json!(["on-demand"])
        );
        assert_eq!(json["supported_storage"], serde_json::json!([]));
        assert_eq!(json["base_price"]["currency"], "USD");
        assert_eq!(json["cloud"], "a-cloud-name-longer-than-twenty-four-bytes");
        let back: InstanceType = serde_json::from_value(json).unwrap();
        assert_eq!(back, it);
    }

    #[test]
    fn gpu_names_are_normalized() {
        assert_eq!(normalize_gpu_name("NVIDIA H100 80GB"), "H100");
        assert_eq!(normalize_gpu_name("Tesla V100"), "V100");
        assert_eq!(normalize_gpu_name("a100_80gb"), "A100");
        assert_eq!(normalize_gpu_name("H100 SXM5"), "H100");
        assert_eq!(normalize_gpu_name("l40s"), "L40S");
        assert_eq!(normalize_gpu_name("RTX 6000"), "RTX 6000");
    }

    /// The rule as first written (one string per step): the in-place version must agree.
    fn normalize_by_strings(raw: &str) -> CompactString {
        let upper = raw.trim().to_ascii_uppercase().replace(['_', '-'], " ");
        let tokens: Vec<&str> = upper
            .split_whitespace()
            .filter(|t| !matches!(*t, "NVIDIA" | "TESLA" | "AMD" | "INTEL" | "GEFORCE"))
            .filter(|t| !is_memory_token(t))
            .filter(|t| {
                !matches!(
                    *t,
                    "SXM" | "SXM2" | "SXM4" | "SXM5" | "SXM6" | "PCIE" | "NVL"
                )
            })
            .collect();
        let mut words: Vec<CompactString> = Vec::with_capacity(tokens.len());
        let mut tokens = tokens.into_iter().peekable();
        while let Some(token) = tokens.next() {
            let is_series_letter =
                token.len() == 1 && token.bytes().all(|b| b.is_ascii_alphabetic());
            if is_series_letter
                && let Some(number) =
                    tokens.next_if(|next| next.starts_with(|c: char| c.is_ascii_digit()))
            {
                words.push(CompactString::from(token) + number);
                continue;
            }
            match SERIES_WORDS
                .iter()
                .find_map(|series| token.strip_prefix(series).map(|rest| (*series, rest)))
            {
                Some((series, rest)) if !rest.is_empty() => {
                    words.push(series.into());
                    words.push(rest.into());
                }
                _ => words.push(token.into()),
            }
        }
        let mut name = CompactString::default();
        for word in words {
            if !name.is_empty() {
                name.push(' ');
            }
            name.push_str(&word);
        }
        name
    }

    proptest::proptest! {
        #[test]
        fn normalizing_in_place_agrees_with_the_rule_by_strings(
            raw in "[ _\\-a-zA-Z0-9()\\t\u{a0}ü]{0,40}|((nvidia|tesla|geforce|rtx|gtx|h|a|l|sxm5|pcie|nvl|80gb|96gib|80g|100|4090|a6000|40s|[-_ ])){0,8}"
        ) {
            proptest::prop_assert_eq!(normalize_gpu_name(&raw), normalize_by_strings(&raw));
        }
    }

    #[test]
    fn typed_gpu_forms_name_the_catalog_model() {
        for (typed, model) in [
            ("h-100", "H100"),
            ("H_100", "H100"),
            ("A100-80GB", "A100"),
            ("A100 80G", "A100"),
            ("h200_141gib", "H200"),
            ("a100-sxm4-80gb", "A100"),
            ("RTX4090", "RTX 4090"),
            ("rtx-4090", "RTX 4090"),
            ("GeForce RTX 4090", "RTX 4090"),
            ("RTXA6000", "RTX A6000"),
            ("l 40s", "L40S"),
            ("H10", "H10"),
            ("RTX", "RTX"),
            ("", ""),
        ] {
            assert_eq!(normalize_gpu_name(typed), model, "{typed:?}");
        }
    }
}
