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
//!
//! A preset of a platform that allows preemptible instances is priced twice in the same
//! batch: on demand, and as a preemptible spec (`spec.preemptible` set), which the calculator
//! prices at the spot price.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use gpucloud_core::Price;
use gpucloud_nebius_proto::billing::v1 as billing;
use gpucloud_nebius_proto::compute::v1 as compute;

use crate::convert;

/// A platform and one of its presets, on demand or preemptible, as the calculator is asked
/// about them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Preset {
    /// The platform, e.g. `gpu-h100-sxm`.
    pub(crate) platform: String,
    /// The preset's name, e.g. `1gpu-16vcpu-200gb`.
    pub(crate) name: String,
    /// Priced as a preemptible (spot) instance.
    pub(crate) spot: bool,
}

impl Preset {
    /// An on-demand preset.
    pub(crate) fn on_demand(platform: &str, preset: &str) -> Self {
        Self {
            platform: platform.to_owned(),
            name: preset.to_owned(),
            spot: false,
        }
    }

    /// The same preset, preemptible.
    pub(crate) fn preemptible(&self) -> Self {
        Self {
            spot: true,
            ..self.clone()
        }
    }

    /// The name its price is kept under (and the estimate is asked under): the type name,
    /// with [`SPOT_SUFFIX`] when preemptible.
    pub(crate) fn key(&self) -> String {
        price_key(&convert::type_name(&self.platform, &self.name), self.spot)
    }
}

/// What a preemptible estimate's name ends with.
const SPOT_SUFFIX: &str = ".spot";

/// The key of `type_name`'s price, on demand or preemptible.
pub(crate) fn price_key(type_name: &str, spot: bool) -> String {
    if spot {
        format!("{type_name}{SPOT_SUFFIX}")
    } else {
        type_name.to_owned()
    }
}

/// Platforms Nebius documents as allowing preemptible instances (every GPU platform): their
/// published presets are also guessed preemptible.
fn published_allows_preemptibles(platform: &str) -> bool {
    platform.starts_with("gpu-")
}

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
            let on_demand = PUBLISHED.iter().flat_map(|(platform, presets)| {
                presets
                    .iter()
                    .map(|preset| Preset::on_demand(platform, preset))
            });
            let spot = on_demand
                .clone()
                .filter(|p| published_allows_preemptibles(&p.platform))
                .map(|p| p.preemptible());
            on_demand.chain(spot).collect()
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

/// Every (platform, preset) pair a listing names, on demand, then preemptible for the
/// platforms that allow it (`status.allowed_for_preemptibles`).
pub(crate) fn presets_of(platforms: &[compute::Platform]) -> Vec<Preset> {
    let on_demand = platforms.iter().flat_map(|p| {
        let name = p
            .metadata
            .as_ref()
            .map(|m| m.name.as_str())
            .unwrap_or_default();
        let spot = p
            .status
            .as_ref()
            .is_some_and(|s| s.allowed_for_preemptibles);
        p.spec
            .iter()
            .flat_map(|s| s.presets.iter())
            .map(move |preset| (Preset::on_demand(name, &preset.name), spot))
    });
    let spot = on_demand
        .clone()
        .filter(|(_, spot)| *spot)
        .map(|(p, _)| p.preemptible());
    on_demand.map(|(p, _)| p).chain(spot).collect()
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

/// The hourly price of each type from a calculator answer, by [`Preset::key`]: matched by the
/// name each estimate was asked under, else by position; a cost that is not a decimal is left
/// unknown.
pub(crate) fn hourly_prices(
    asked: &[Preset],
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
            .or_else(|| asked.get(i).map(Preset::key));
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
        Preset::on_demand(platform, preset)
    }

    #[test]
    fn a_region_is_first_guessed_from_the_published_presets_then_from_its_last_listing() {
        let memory = PresetMemory::default();
        let first = memory.guess("eu-north1");
        assert!(first.contains(&pair("gpu-h100-sxm", "8gpu-128vcpu-1600gb")));
        assert!(first.contains(&pair("gpu-h100-sxm", "8gpu-128vcpu-1600gb").preemptible()));
        assert!(!first.contains(&pair("cpu-d3", "2vcpu-8gb").preemptible()));
        let published: usize = PUBLISHED.iter().map(|(_, presets)| presets.len()).sum();
        let gpu: usize = PUBLISHED
            .iter()
            .filter(|(platform, _)| platform.starts_with("gpu-"))
            .map(|(_, presets)| presets.len())
            .sum();
        assert_eq!(first.len(), published + gpu);
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
        let platform = |name: &str, presets: &[&str], spot: bool| compute::Platform {
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
            status: Some(compute::PlatformStatus {
                allowed_for_preemptibles: spot,
            }),
        };
        assert_eq!(
            presets_of(&[
                platform("a", &["1", "2"], true),
                platform("b", &["3"], false)
            ]),
            [
                pair("a", "1"),
                pair("a", "2"),
                pair("b", "3"),
                pair("a", "1").preemptible(),
                pair("a", "2").preemptible()
            ]
        );
    }

    #[test]
    fn calculator_answers_become_prices_by_name_or_position() {
        let asked = vec![
            pair("gpu-h100-sxm", "1gpu"),
            pair("gpu-h100-sxm", "8gpu"),
            pair("cpu-d3", "2vcpu"),
            pair("gpu-h100-sxm", "1gpu").preemptible(),
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
                cost("", "1.25", "hour"),
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
        assert_eq!(
            prices[&price_key("gpu-h100-sxm.1gpu", true)],
            Price::parse("1.25", "USD").unwrap()
        );
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
