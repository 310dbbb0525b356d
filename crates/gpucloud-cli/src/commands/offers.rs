//! `gpucloud offers`: normalized offers across every configured cloud.

use std::time::{Duration, SystemTime};

use gpucloud::offers::{
    CatalogCache, Offer, OfferFilter, OfferOptions, OfferQuery, OfferSort, OfferSource,
    ProviderFailure, find_offers,
};
use gpucloud::{Architecture, BytesUnit, ProviderEntry};
use serde::Serialize;

use super::{Ctx, offer_sources};
use crate::cli::{Arch, OfferFilterArgs, OffersArgs, SortBy};
use crate::error::CliResult;
use crate::failures::{self, FailureJson};
use crate::output::{
    common_unit, cut_to_fit, duration_text, new_table, price_text, size_in, yes_no,
};

/// Locations named in one compact row before the rest are counted.
const LOCATIONS_SHOWN: usize = 3;

/// `gpucloud offers`.
pub async fn offers(ctx: &Ctx, args: &OffersArgs) -> CliResult {
    let selection = ctx.providers(&args.filter.providers)?;
    let sources = offer_sources(&selection.entries);
    let mut query = OfferQuery {
        filter: filter(&args.filter, &selection.entries),
        sort: offer_sort(args.sort),
    };
    query.filter.available_only = args.available;
    let options = OfferOptions {
        cache: if args.no_cache {
            None
        } else {
            CatalogCache::default_dir().map(CatalogCache::new)
        },
        refresh: args.refresh,
        ..options(&args.filter)
    };
    let spinner = ctx
        .out
        .spinner(format!("asking {} provider(s) for offers", sources.len()));
    let started = SystemTime::now();
    let report = find_offers(&sources, &query, &options).await;
    spinner.finish_and_clear();
    if !args.refresh {
        note_cached(ctx, &sources, &report.failures, &options, started).await;
    }

    let answered = sources.len().saturating_sub(report.failures.len());
    let mut failures = selection.failures;
    failures.extend(report.failures);
    if report.offers.is_empty()
        && answered > 0
        && let Some(gpu) = &query.filter.gpu
        && let Some(error) = super::gpus::unknown_gpu(gpu, &sources, &options).await
    {
        failures::warn_each(ctx.out, WHAT, &failures);
        return Err(error);
    }
    if ctx.out.is_json() {
        ctx.out.json(&OffersJson {
            offers: &report.offers,
            failures: failures::json(&failures),
        })?;
    } else if answered > 0 {
        print_table(ctx, args, &report.offers);
    }
    failures::conclude(ctx.out, WHAT, &failures, answered)
}

/// What `offers` asks each provider, for its failures.
const WHAT: &str = "offers";

/// The offers as a table, or a note that none matches.
fn print_table(ctx: &Ctx, args: &OffersArgs, offers: &[Offer]) {
    if offers.is_empty() {
        ctx.out.note("No offer matches.");
    } else if args.wide {
        print_wide(ctx, offers);
    } else {
        print_grouped(ctx, offers);
    }
    note_over_quota(ctx, offers);
}

/// Names the offers whose quota, read with them, has no room for one more instance: a launch
/// skips them.
fn note_over_quota(ctx: &Ctx, offers: &[Offer]) {
    let mut over: Vec<String> = offers
        .iter()
        .filter(|o| o.over_quota())
        .map(|o| format!("{} {} in {}", o.provider, o.instance_type, o.location))
        .collect();
    over.dedup();
    if !over.is_empty() {
        ctx.out.note(&format!(
            "Over the account's quota (a launch skips them; see QUOTA in --wide): {}",
            over.join(", ")
        ));
    }
}

/// The QUOTA column: `-` when unknown, else whether one more instance fits and the room left.
fn quota_text(offer: &Offer) -> String {
    let Some(quota) = &offer.quota else {
        return "-".to_owned();
    };
    let verdict = if quota.fits { "ok" } else { "OVER" };
    format!(
        "{verdict} {}/{} {} (needs {})",
        quota.current, quota.limit, quota.unit, quota.needed
    )
}

/// Says which providers answered from the catalog cache and how old that answer is: one
/// fetched before this run `started` was not asked now.
async fn note_cached(
    ctx: &Ctx,
    sources: &[OfferSource],
    failures: &[ProviderFailure],
    options: &OfferOptions,
    started: SystemTime,
) {
    let Some(cache) = &options.cache else { return };
    let mut cached = Vec::new();
    for source in sources {
        if failures.iter().any(|f| f.provider == source.name) {
            continue;
        }
        if let Some(age) = cache.fetched_before(source, started).await {
            cached.push(format!("{} {} old", source.name, duration_text(age)));
        }
    }
    if !cached.is_empty() {
        ctx.out.note(&format!(
            "From the catalog cache: {} (`--refresh` asks again).",
            cached.join(", ")
        ));
    }
}

/// The library's order for `--sort`.
pub fn offer_sort(sort: SortBy) -> OfferSort {
    match sort {
        SortBy::Price => OfferSort::Price,
        SortBy::PricePerGpu => OfferSort::PricePerGpuHour,
        SortBy::Gpus => OfferSort::GpuCount,
    }
}

/// The library filter from the shared flags (availability is set by each command). The
/// providers are `entries`, the ones the `-p` names resolved to, by their short names, so any
/// name `-p` accepts (`lambda-labs` too) selects the same offers.
pub fn filter(args: &OfferFilterArgs, entries: &[ProviderEntry]) -> OfferFilter {
    let gpu_vram = args.gpu.as_ref().and_then(|g| g.vram);
    OfferFilter {
        gpu: args.gpu.as_ref().map(|g| g.request.clone()),
        min_gpu_count: args.min_gpus,
        // `A100-80GB --min-vram 40GB` asks for both: the larger holds.
        min_vram: match (args.min_vram, gpu_vram) {
            (Some(a), Some(b)) => Some(if a.byte_count() >= b.byte_count() {
                a
            } else {
                b
            }),
            (a, b) => a.or(b),
        },
        max_price_per_hour: args.max_price,
        max_price_per_gpu_hour: args.max_price_per_gpu,
        providers: if args.providers.is_empty() {
            Vec::new()
        } else {
            entries
                .iter()
                .map(|e| e.descriptor.name.to_owned())
                .collect()
        },
        locations: args.locations.clone(),
        architecture: args.arch.map(|a| match a {
            Arch::X86_64 => Architecture::X86_64,
            Arch::Arm64 => Architecture::Arm64,
        }),
        spot: if args.spot {
            Some(true)
        } else if args.on_demand {
            Some(false)
        } else {
            None
        },
        available_only: false,
    }
}

/// The query options from the shared flags, without a cache.
pub fn options(args: &OfferFilterArgs) -> OfferOptions {
    OfferOptions {
        deadline: Duration::from_secs(args.deadline),
        ..OfferOptions::default()
    }
}

/// `offers -o json`: the matching offers and the providers that did not answer.
#[derive(Serialize)]
struct OffersJson<'a> {
    offers: &'a [Offer],
    failures: Vec<FailureJson<'a>>,
}

/// `8x H100 80 GB SXM5`, or `-` for a CPU-only offer; memory in `unit`.
pub fn gpu_text(offer: &Offer, unit: BytesUnit) -> String {
    let Some(gpu) = &offer.gpu else {
        return "-".to_owned();
    };
    let mut parts = vec![format!("{}x {}", gpu.count, gpu.model)];
    if !gpu.vram.is_zero() {
        parts.push(size_in(&gpu.vram, unit));
    }
    if !gpu.interconnect.is_empty() {
        parts.push(gpu.interconnect.clone());
    }
    parts.join(" ")
}

/// The unit GPU memory is shown in across `offers`.
pub fn vram_unit(offers: &[Offer]) -> BytesUnit {
    common_unit(
        offers
            .iter()
            .filter_map(|o| o.gpu.as_ref().map(|g| &g.vram)),
    )
}

/// One row per (provider, cloud, type, price, spot), its locations folded, like
/// `sky show-gpus`: the first few available locations are named, the rest counted.
fn print_grouped(ctx: &Ctx, offers: &[Offer]) {
    let brokered = offers.iter().any(|o| !o.cloud.is_empty());
    let mut groups: Vec<(&Offer, Vec<&Offer>)> = Vec::new();
    for offer in offers {
        let same = |o: &&Offer| {
            o.provider == offer.provider
                && o.cloud == offer.cloud
                && o.instance_type == offer.instance_type
                && o.price_per_hour == offer.price_per_hour
                && o.spot == offer.spot
        };
        match groups.iter_mut().find(|(first, _)| same(first)) {
            Some((_, members)) => members.push(offer),
            None => groups.push((offer, vec![offer])),
        }
    }
    let mut header = vec!["PROVIDER"];
    if brokered {
        header.push("CLOUD");
    }
    header.extend([
        "TYPE",
        "GPUS",
        "VCPUS",
        "MEMORY",
        "$/HOUR",
        "$/GPU-HOUR",
        "AVAILABLE IN",
    ]);
    let mut table = new_table(header);
    let vram = vram_unit(offers);
    let memory = common_unit(offers.iter().map(|o| &o.memory));
    for (first, members) in &groups {
        let mut row = vec![first.provider.clone()];
        if brokered {
            row.push(if first.cloud.is_empty() {
                "-".to_owned()
            } else {
                first.cloud.clone()
            });
        }
        row.extend([
            format!(
                "{}{}",
                first.instance_type,
                if first.spot { " (spot)" } else { "" }
            ),
            gpu_text(first, vram),
            first.vcpus.to_string(),
            size_in(&first.memory, memory),
            price_text(first.price_per_hour.as_ref()),
            price_text(first.price_per_gpu_hour.as_ref()),
            locations_text(members),
        ]);
        table.add_row(row);
    }
    // The locations are a summary: they give way to the terminal's width.
    let last = table.column_count().saturating_sub(1);
    cut_to_fit(&mut table, &[last], false);
    ctx.out.table(&table);
}

/// `us-east-1, us-west-1, us-west-2 +2`, or `none now (of 6)`.
fn locations_text(members: &[&Offer]) -> String {
    let mut available: Vec<String> = members
        .iter()
        .filter(|o| o.available)
        .map(|o| {
            if o.sub_location.is_empty() {
                o.location.clone()
            } else {
                format!("{}/{}", o.location, o.sub_location)
            }
        })
        .collect();
    available.dedup();
    if available.is_empty() {
        return format!("none now (of {})", members.len());
    }
    let more = available.len().saturating_sub(LOCATIONS_SHOWN);
    available.truncate(LOCATIONS_SHOWN);
    let text = available.join(", ");
    if more > 0 {
        format!("{text} +{more}")
    } else {
        text
    }
}

/// One row per offer with every field.
fn print_wide(ctx: &Ctx, offers: &[Offer]) {
    let mut table = new_table([
        "PROVIDER",
        "CLOUD",
        "LOCATION",
        "ZONE",
        "TYPE",
        "ID",
        "GPUS",
        "VCPUS",
        "MEMORY",
        "ARCH",
        "$/HOUR",
        "$/GPU-HOUR",
        "SPOT",
        "AVAILABLE",
        "QUOTA",
    ]);
    let dash = |s: &str| {
        if s.is_empty() {
            "-".to_owned()
        } else {
            s.to_owned()
        }
    };
    let vram = vram_unit(offers);
    let memory = common_unit(offers.iter().map(|o| &o.memory));
    for offer in offers {
        let arch: Vec<&str> = offer.architectures.iter().map(|a| a.as_str()).collect();
        table.add_row([
            offer.provider.clone(),
            dash(&offer.cloud),
            offer.location.clone(),
            dash(&offer.sub_location),
            offer.instance_type.clone(),
            offer.instance_type_id.to_string(),
            gpu_text(offer, vram),
            offer.vcpus.to_string(),
            size_in(&offer.memory, memory),
            dash(&arch.join(",")),
            price_text(offer.price_per_hour.as_ref()),
            price_text(offer.price_per_gpu_hour.as_ref()),
            yes_no(offer.spot),
            yes_no(offer.available),
            quota_text(offer),
        ]);
    }
    cut_to_fit(&mut table, &[], true);
    ctx.out.table(&table);
}
