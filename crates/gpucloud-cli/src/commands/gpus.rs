//! `gpucloud gpus`: every GPU model on offer, like `sky show-gpus`; and the check that a GPU
//! name someone typed names a model at all.

use std::collections::BTreeSet;

use gpucloud::offers::{
    CatalogCache, GpuRequest, Offer, OfferFilter, OfferOptions, OfferQuery, OfferSort, OfferSource,
    find_offers,
};
use gpucloud::{Bytes, Price};
use serde::Serialize;

use super::{Ctx, offer_sources};
use crate::cli::GpusArgs;
use crate::error::{CliError, CliResult};
use crate::failures::{self, FailureJson};
use crate::output::{common_unit, cut_to_fit, new_table, price_text, size_in};

/// GPU models gpucloud knows by name (as `normalize_gpu_name` writes them), on offer or not:
/// a name outside this list and every catalog is a typo, answered with the nearest of these.
const KNOWN_GPU_MODELS: &[&str] = &[
    "A10",
    "A100",
    "A10G",
    "A16",
    "A2",
    "A30",
    "A40",
    "A4000",
    "A4500",
    "A5000",
    "A6000",
    "A800",
    "B100",
    "B200",
    "B300",
    "GB200",
    "GB300",
    "GH200",
    "H100",
    "H200",
    "H800",
    "K80",
    "L4",
    "L40",
    "L40S",
    "M60",
    "MI210",
    "MI250",
    "MI250X",
    "MI300A",
    "MI300X",
    "MI325X",
    "MI355X",
    "P100",
    "P4",
    "P40",
    "RTX 3080",
    "RTX 3090",
    "RTX 4000 ADA",
    "RTX 4080",
    "RTX 4090",
    "RTX 5090",
    "RTX 6000",
    "RTX 6000 ADA",
    "RTX A4000",
    "RTX A4500",
    "RTX A5000",
    "RTX A6000",
    "RTX PRO 6000",
    "T4",
    "V100",
];

/// Suggestions given for an unknown name, nearest first.
const SUGGESTIONS: usize = 3;

/// `gpucloud gpus`.
pub async fn gpus(ctx: &Ctx, args: &GpusArgs) -> CliResult {
    let selection = ctx.providers(&args.providers)?;
    let sources = offer_sources(&selection.entries);
    let query = OfferQuery {
        filter: OfferFilter {
            locations: args.locations.clone(),
            available_only: args.available,
            ..OfferFilter::default()
        },
        sort: OfferSort::PricePerGpuHour,
    };
    let options = OfferOptions {
        cache: CatalogCache::default_dir().map(CatalogCache::new),
        refresh: args.refresh,
        ..OfferOptions::default()
    };
    let spinner = ctx
        .out
        .spinner(format!("asking {} provider(s) for offers", sources.len()));
    let report = find_offers(&sources, &query, &options).await;
    spinner.finish_and_clear();
    let answered = sources.len().saturating_sub(report.failures.len());
    let mut failures = selection.failures;
    failures.extend(report.failures);
    let models = summarize(&report.offers);
    if ctx.out.is_json() {
        ctx.out.json(&GpusJson {
            gpus: &models,
            failures: failures::json(&failures),
        })?;
    } else if answered > 0 {
        print_table(ctx, &models, args.wide);
    }
    failures::conclude(ctx.out, WHAT, &failures, answered)
}

/// What `gpus` asks each provider, for its failures.
const WHAT: &str = "list GPU models";

/// `gpus -o json`: the models on offer and the providers that did not answer.
#[derive(Serialize)]
struct GpusJson<'a> {
    gpus: &'a [GpuModel],
    failures: Vec<FailureJson<'a>>,
}

/// The models as a table (every column in full when `wide`), or a note that none is on offer.
fn print_table(ctx: &Ctx, models: &[GpuModel], wide: bool) {
    if models.is_empty() {
        ctx.out.note("No GPU is on offer.");
        return;
    }
    let unit = common_unit(models.iter().flat_map(|m| m.vram.iter()));
    let mut table = new_table([
        "GPU",
        "COUNTS",
        "VRAM",
        "FROM $/HOUR",
        "FROM $/GPU-HOUR",
        "AVAILABLE",
        "WHERE",
    ]);
    for model in models {
        let counts: Vec<String> = model.counts.iter().map(ToString::to_string).collect();
        let vram: Vec<String> = model.vram.iter().map(|v| size_in(v, unit)).collect();
        table.add_row([
            model.model.clone(),
            counts.join(","),
            vram.join(", "),
            price_text(model.cheapest_per_hour.as_ref()),
            price_text(model.cheapest_per_gpu_hour.as_ref()),
            model.available_offers.to_string(),
            model.providers.join(", "),
        ]);
    }
    cut_to_fit(&mut table, &[6], wide);
    ctx.out.table(&table);
}

/// One GPU model across every offer, as `gpus` prints it.
#[derive(Debug, Serialize)]
struct GpuModel {
    /// The normalized model, e.g. `H100`.
    model: String,
    /// GPUs per instance it comes in, ascending.
    counts: BTreeSet<u32>,
    /// Memory per GPU it comes with, ascending (unknown left out).
    vram: Vec<Bytes>,
    /// The cheapest instance with it, per hour (US dollars first).
    cheapest_per_hour: Option<Price>,
    /// The cheapest GPU-hour of it.
    cheapest_per_gpu_hour: Option<Price>,
    /// Offers (type and location) launchable now.
    available_offers: usize,
    /// Where: each provider, with the upstream clouds of a broker (`shadeform (hyperstack)`).
    providers: Vec<String>,
}

/// Groups offers by GPU model, ordered by cheapest GPU-hour (unpriced last), then by name, so
/// the table reads like a price list.
fn summarize(offers: &[Offer]) -> Vec<GpuModel> {
    let mut models: Vec<GpuModel> = Vec::new();
    let mut places: Vec<BTreeSet<(String, String)>> = Vec::new();
    for offer in offers {
        let Some(gpu) = &offer.gpu else { continue };
        let index = if let Some(index) = models.iter().position(|m| m.model == gpu.model) {
            index
        } else {
            models.push(GpuModel {
                model: gpu.model.clone(),
                counts: BTreeSet::new(),
                vram: Vec::new(),
                cheapest_per_hour: None,
                cheapest_per_gpu_hour: None,
                available_offers: 0,
                providers: Vec::new(),
            });
            places.push(BTreeSet::new());
            models.len() - 1
        };
        let model = &mut models[index];
        model.counts.insert(gpu.count);
        if !gpu.vram.is_zero() && !model.vram.contains(&gpu.vram) {
            model.vram.push(gpu.vram);
        }
        cheaper(&mut model.cheapest_per_hour, offer.price_per_hour.as_ref());
        cheaper(
            &mut model.cheapest_per_gpu_hour,
            offer.price_per_gpu_hour.as_ref(),
        );
        model.available_offers += usize::from(offer.available);
        places[index].insert((offer.provider.clone(), offer.cloud.clone()));
    }
    for (model, places) in models.iter_mut().zip(places) {
        model.vram.sort_by_key(gpucloud::Bytes::byte_count);
        model.providers = where_text(&places);
    }
    models.sort_by(|a, b| {
        price_key(a.cheapest_per_gpu_hour.as_ref())
            .cmp(&price_key(b.cheapest_per_gpu_hour.as_ref()))
            .then_with(|| a.model.cmp(&b.model))
    });
    models
}

/// Keeps the cheaper of `best` and `price`: dollars before other currencies, priced before not.
fn cheaper(best: &mut Option<Price>, price: Option<&Price>) {
    let Some(price) = price else { return };
    if best
        .as_ref()
        .is_none_or(|b| price_key(Some(price)) < price_key(Some(b)))
    {
        *best = Some(price.clone());
    }
}

/// Orders prices: US dollars by amount, then other currencies, then unpriced.
fn price_key(price: Option<&Price>) -> (u8, String, rust_decimal::Decimal) {
    match price {
        Some(p) if p.currency == "USD" => (0, String::new(), p.amount),
        Some(p) => (1, p.currency.to_string(), p.amount),
        None => (2, String::new(), rust_decimal::Decimal::ZERO),
    }
}

/// `lambda`, `shadeform (hyperstack, verda)`: each provider once, with its upstream clouds.
fn where_text(places: &BTreeSet<(String, String)>) -> Vec<String> {
    let mut providers: Vec<(String, Vec<String>)> = Vec::new();
    for (provider, cloud) in places {
        match providers.iter_mut().find(|(p, _)| p == provider) {
            Some((_, clouds)) => clouds.push(cloud.clone()),
            None => providers.push((provider.clone(), vec![cloud.clone()])),
        }
    }
    providers
        .into_iter()
        .map(|(provider, clouds)| {
            let clouds: Vec<String> = clouds.into_iter().filter(|c| !c.is_empty()).collect();
            if clouds.is_empty() {
                provider
            } else {
                format!("{provider} ({})", clouds.join(", "))
            }
        })
        .collect()
}

/// When nothing matched `gpu`: the usage error for a name that is no GPU model known here nor
/// on offer from `sources`, with the nearest names; `None` for a real model that is simply
/// not on offer. Asks the providers (the catalog cache first) only for a name outside the
/// known list.
pub async fn unknown_gpu(
    gpu: &GpuRequest,
    sources: &[OfferSource],
    options: &OfferOptions,
) -> Option<CliError> {
    if KNOWN_GPU_MODELS.contains(&gpu.model.as_str()) {
        return None;
    }
    let everything = OfferQuery::default();
    let report = find_offers(sources, &everything, options).await;
    let on_offer: BTreeSet<&str> = report
        .offers
        .iter()
        .filter_map(|o| o.gpu.as_ref().map(|g| g.model.as_str()))
        .collect();
    if on_offer.contains(gpu.model.as_str()) {
        return None;
    }
    let nearest = nearest_models(&gpu.model, &on_offer);
    let message = format!(
        "--gpu: `{}` is no GPU model gpucloud knows, and no provider asked offers it",
        gpu.model
    );
    let error = if nearest.is_empty() {
        CliError::usage(message)
    } else {
        CliError::usage(format!("{message}; did you mean {}?", or_list(&nearest)))
    };
    Some(error.hint("`gpucloud gpus` lists every GPU model on offer"))
}

/// The known and offered names nearest to `typed`, nearest first, offered before known.
fn nearest_models<'a>(typed: &str, on_offer: &BTreeSet<&'a str>) -> Vec<&'a str> {
    let mut scored: Vec<(usize, bool, &str)> = on_offer
        .iter()
        .map(|m| (*m, true))
        .chain(
            KNOWN_GPU_MODELS
                .iter()
                .filter(|m| !on_offer.contains(*m))
                .map(|m| (*m, false)),
        )
        .map(|(model, offered)| (strsim::damerau_levenshtein(typed, model), !offered, model))
        // A name closer to another word than to itself is no suggestion.
        .filter(|(distance, _, model)| *distance <= typed.len().max(model.len()) / 2)
        .collect();
    scored.sort_unstable();
    scored
        .into_iter()
        .take(SUGGESTIONS)
        .map(|(_, _, model)| model)
        .collect()
}

/// `A`, `A or B`, `A, B or C`.
fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_models_are_written_as_normalized() {
        for model in KNOWN_GPU_MODELS {
            assert_eq!(gpucloud::normalize_gpu_name(model), *model);
        }
    }

    #[test]
    fn typos_get_the_nearest_models() {
        let offered: BTreeSet<&str> = ["H100", "A10", "GH200"].into_iter().collect();
        let nearest = nearest_models("H10", &offered);
        assert_eq!(nearest.len(), SUGGESTIONS, "{nearest:?}");
        assert_eq!(&nearest[..2], ["A10", "H100"], "offered, one edit away");
        assert_eq!(nearest_models("RTX 4900", &offered)[0], "RTX 4090");
        assert!(nearest_models("POTATO", &offered).is_empty());
        assert_eq!(or_list(&["A", "B", "C"]), "A, B or C");
        assert_eq!(or_list(&["A"]), "A");
    }
}
