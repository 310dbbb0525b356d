//! What an instance type costs: the calculator's hourly estimates, asked for while the
//! platform list is still on its way.
//!
//! Nebius's API has no price list: a price is the calculator's `EstimateBatch` answer for a
//! (platform, preset) pair, and the pairs are what a region's platform listing names. Waiting
//! for the listing before asking would make every catalog read two dependent round trips per
//! region, so the estimate is asked at the same time as the listing, for the presets this
//! credential saw in that region last time or, the first time, the presets Nebius publishes
//! ([`PUBLISHED`]). The listing then decides: only prices of presets it names are used, and
//! presets it names that the early estimate did not ask for go into a second batch. The list
//! decides what to ask early and nothing else — every price is the calculator's, and a guess
//! that misses costs one more round trip, never a wrong or invented price.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use gpucloud_core::Price;
use gpucloud_nebius_proto::billing::v1 as billing;
use gpucloud_nebius_proto::compute::v1 as compute;

use crate::convert;

/// A platform and one of its presets, as the calculator is asked about them.
pub(crate) type Preset = (String, String);

/// The presets of Nebius's published GPU and CPU platforms: what the first catalog read of a
/// region asks prices for before its listing arrives.
const PUBLISHED: &[(&str, &[&str])] = &[
    (
        "gpu-h100-sxm",
        &["1gpu-16vcpu-200gb", "8gpu-128vcpu-1600gb"],
    ),
    (
        "gpu-h200-sxm",
        &["1gpu-16vcpu-200gb", "8gpu-128vcpu-1600gb"],
    ),
    (
        "gpu-b200-sxm",
        &["1gpu-20vcpu-224gb", "8gpu-160vcpu-1792gb"],
    ),
    (
        "gpu-l40s-a",
        &[
            "1gpu-8vcpu-32gb",
            "1gpu-16vcpu-64gb",
            "1gpu-24vcpu-96gb",
            "1gpu-32vcpu-128gb",
            "1gpu-40vcpu-160gb",
        ],
    ),
    (
        "gpu-l40s-d",
        &[
            "1gpu-16vcpu-96gb",
            "2gpu-64vcpu-384gb",
            "4gpu-128vcpu-768gb",
        ],
    ),
    ("cpu-d3", &["2vcpu-8gb", "4vcpu-16gb", "8vcpu-32gb"]),
];

/// The presets each region's listing named last, so a later catalog read of a long-lived
/// credential asks for exactly those early.
#[derive(Debug, Default)]
pub(crate) struct PresetMemory {
    seen: Mutex<BTreeMap<String, Vec<Preset>>>,
}

impl PresetMemory {
    /// What to ask prices for in `region` before its listing arrives.
    pub(crate) fn guess(&self, region: &str) -> Vec<Preset> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.get(region).cloned().unwrap_or_else(|| {
            PUBLISHED
                .iter()
                .flat_map(|(platform, presets)| {
                    presets
                        .iter()
                        .map(|preset| ((*platform).to_owned(), (*preset).to_owned()))
                })
                .collect()
        })
    }

    /// Records what `region`'s listing named.
    pub(crate) fn remember(&self, region: &str, listed: &[Preset]) {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(region.to_owned(), listed.to_vec());
    }
}

/// Every (platform, preset) pair a listing names.
pub(crate) fn presets_of(platforms: &[compute::Platform]) -> Vec<Preset> {
    platforms
        .iter()
        .flat_map(|p| {
            let name = p
                .metadata
                .as_ref()
                .map(|m| m.name.as_str())
                .unwrap_or_default();
            p.spec
                .iter()
                .flat_map(|s| s.presets.iter())
                .map(move |preset| (name.to_owned(), preset.name.clone()))
        })
        .collect()
}

/// The listed presets an early estimate did not ask for: all of them when it failed
/// (`asked` is `None`).
pub(crate) fn not_asked(listed: &[Preset], asked: Option<&[Preset]>) -> Vec<Preset> {
    let asked: BTreeSet<&Preset> = asked.into_iter().flatten().collect();
    listed
        .iter()
        .filter(|preset| !asked.contains(preset))
        .cloned()
        .collect()
}

/// The hourly price of each type from a calculator answer: matched by the name each estimate
/// was asked under, else by position; a cost that is not a decimal is left unknown.
pub(crate) fn hourly_prices(
    asked: &[(String, String)],
    answer: &billing::EstimateBatchResponse,
) -> BTreeMap<String, Price> {
    let currency = if answer.currency.is_empty() {
        "USD".to_owned()
    } else {
        answer.currency.to_ascii_uppercase()
    };
    let mut out = BTreeMap::new();
    for (i, cost) in answer.resource_costs.iter().enumerate() {
        let name = cost
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .filter(|n| !n.is_empty())
            .or_else(|| asked.get(i).map(|(p, s)| convert::type_name(p, s)));
        let total = match &cost.cost_type {
            Some(billing::resource_cost::CostType::General(g)) => g.total.as_ref(),
            Some(billing::resource_cost::CostType::FixedInstance(f)) => f.per_instance.as_ref(),
            Some(billing::resource_cost::CostType::Autoscale(a)) => a.per_instance.as_ref(),
            None => None,
        };
        let hourly = cost
            .aggregation_unit
            .as_ref()
            .is_none_or(|u| u.unit.is_empty() || u.unit.eq_ignore_ascii_case("hour"));
        if let (Some(name), Some(total), true) = (name, total, hourly)
            && let Ok(price) = Price::parse(total.cost.trim(), &currency)
        {
            out.insert(name, price);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpucloud_nebius_proto::common::v1 as common;

    fn pair(platform: &str, preset: &str) -> Preset {
        (platform.to_owned(), preset.to_owned())
    }

    #[test]
    fn a_region_is_first_guessed_from_the_published_presets_then_from_its_last_listing() {
        let memory = PresetMemory::default();
        let first = memory.guess("eu-north1");
        assert!(first.contains(&pair("gpu-h100-sxm", "8gpu-128vcpu-1600gb")));
        assert_eq!(
            first.len(),
            PUBLISHED
                .iter()
                .map(|(_, presets)| presets.len())
                .sum::<usize>()
        );
        let listed = vec![pair("gpu-h200-sxm", "1gpu-16vcpu-200gb")];
        memory.remember("eu-north1", &listed);
        assert_eq!(memory.guess("eu-north1"), listed);
        assert_eq!(
            memory.guess("us-central1"),
            first,
            "other regions keep the guess"
        );
    }

    #[test]
    fn only_presets_the_early_estimate_did_not_ask_for_are_asked_again() {
        let listed = vec![pair("gpu-h100-sxm", "1gpu"), pair("gpu-x", "new")];
        let asked = vec![pair("gpu-h100-sxm", "1gpu"), pair("gpu-h200-sxm", "1gpu")];
        assert_eq!(not_asked(&listed, Some(&asked)), [pair("gpu-x", "new")]);
        assert_eq!(
            not_asked(&listed, None),
            listed,
            "a failed estimate covers nothing"
        );
        assert!(not_asked(&[], Some(&asked)).is_empty());
    }

    #[test]
    fn a_listing_names_each_platform_preset_pair() {
        let platform = |name: &str, presets: &[&str]| compute::Platform {
            metadata: Some(common::ResourceMetadata {
                name: name.into(),
                ..Default::default()
            }),
            spec: Some(compute::PlatformSpec {
                presets: presets
                    .iter()
                    .map(|p| compute::Preset {
                        name: (*p).into(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            presets_of(&[platform("a", &["1", "2"]), platform("b", &["3"])]),
            [pair("a", "1"), pair("a", "2"), pair("b", "3")]
        );
    }

    #[test]
    fn calculator_answers_become_prices_by_name_or_position() {
        let asked = vec![
            ("gpu-h100-sxm".to_owned(), "1gpu".to_owned()),
            ("gpu-h100-sxm".to_owned(), "8gpu".to_owned()),
            ("cpu-d3".to_owned(), "2vcpu".to_owned()),
        ];
        let cost = |name: &str, cost: &str, unit: &str| billing::ResourceCost {
            metadata: Some(common::ResourceMetadata {
                name: name.into(),
                ..Default::default()
            }),
            aggregation_unit: Some(billing::AggregationUnit {
                unit: unit.into(),
                unit_type: 0,
            }),
            cost_type: Some(billing::resource_cost::CostType::General(
                billing::GeneralResourceCost {
                    total: Some(billing::CostBreakdown {
                        cost: cost.into(),
                        ..Default::default()
                    }),
                },
            )),
            ..Default::default()
        };
        let answer = billing::EstimateBatchResponse {
            resource_costs: vec![
                cost("", "2.95", "hour"),
                cost("gpu-h100-sxm.8gpu", "23.60", ""),
                cost("cpu-d3.2vcpu", "not a number", "hour"),
            ],
            currency: "USD".into(),
            ..Default::default()
        };
        let prices = hourly_prices(&asked, &answer);
        assert_eq!(
            prices["gpu-h100-sxm.1gpu"],
            Price::parse("2.95", "USD").unwrap()
        );
        assert_eq!(
            prices["gpu-h100-sxm.8gpu"],
            Price::parse("23.60", "USD").unwrap()
        );
        assert!(!prices.contains_key("cpu-d3.2vcpu"), "unreadable: unknown");
        let monthly = billing::EstimateBatchResponse {
            resource_costs: vec![cost("gpu-h100-sxm.1gpu", "2153", "month")],
            ..Default::default()
        };
        assert!(
            hourly_prices(&asked, &monthly).is_empty(),
            "not per hour: unknown"
        );
    }
}
