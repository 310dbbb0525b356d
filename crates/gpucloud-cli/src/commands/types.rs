//! `gpucloud types`: the catalog of every selected provider and location, queried concurrently.

use std::collections::HashMap;

use gpucloud::offers::{Offer, OfferFilter, OfferOptions, OfferSource, catalogs};
use gpucloud::{BytesUnit, InstanceType};
use serde::Serialize;

use super::Ctx;
use super::offers::offer_sort;
use crate::cli::TypesArgs;
use crate::error::CliResult;
use crate::failures::{self, FailureJson};
use crate::output::{
    common_unit, cut_to_fit, list_or_dash, new_table, price_text, size_in, text_or_dash, yes_no,
};

/// `gpucloud types`.
pub async fn types(ctx: &Ctx, args: &TypesArgs) -> CliResult {
    let selection = ctx.providers(&args.providers)?;
    let sources = super::offer_sources(&selection.entries);
    let asked: Vec<&OfferSource> = sources.iter().collect();
    let answer = catalogs(&asked, &args.locations, &OfferOptions::default()).await;
    let answered = answer.catalogs.len();
    let mut failures = selection.failures;
    failures.extend(answer.failures);
    // The same matching as `offers`: one meaning of `--gpu` everywhere.
    let filter = OfferFilter {
        gpu: args.gpu.as_ref().map(|g| g.request.clone()),
        min_vram: args.gpu.as_ref().and_then(|g| g.vram),
        max_price_per_hour: args.max_price,
        available_only: args.available,
        ..OfferFilter::default()
    };
    let mut rows: Vec<(Offer, InstanceType)> = answer
        .catalogs
        .into_iter()
        .flat_map(|catalog| {
            let provider = catalog.provider;
            catalog.instance_types.into_iter().map(move |mut t| {
                let offer = Offer::from_instance_type(&provider, &t);
                // Every command names a provider by its short name, the one `-p` shows (a
                // cloud that runs its own machines is named the same).
                if t.cloud == t.provider {
                    t.cloud = provider.as_str().into();
                }
                t.provider = provider.as_str().into();
                (offer, t)
            })
        })
        .filter(|(offer, _)| {
            filter.matches(offer) && args.gpus.is_none_or(|n| offer.gpu_count() == n)
        })
        .collect();
    let sort = offer_sort(args.sort);
    rows.sort_by(|a, b| sort.compare(&a.0, &b.0));
    let types: Vec<InstanceType> = rows.into_iter().map(|(_, t)| t).collect();

    if types.is_empty()
        && answered > 0
        && let Some(gpu) = &filter.gpu
        && let Some(error) = super::gpus::unknown_gpu(gpu, &sources, &OfferOptions::default()).await
    {
        failures::warn_each(ctx.out, WHAT, &failures);
        return Err(error);
    }
    if ctx.out.is_json() {
        ctx.out.json(&TypesJson {
            types: &types,
            failures: failures::json(&failures),
        })?;
    } else if answered > 0 {
        print_table(ctx, &types, args.wide);
    }
    failures::conclude(ctx.out, WHAT, &failures, answered)
}

/// What `types` asks each provider, for its failures.
const WHAT: &str = "list instance types";

/// `types -o json`: the matching types and the providers that did not answer.
#[derive(Serialize)]
struct TypesJson<'a> {
    types: &'a [InstanceType],
    failures: Vec<FailureJson<'a>>,
}

/// The types as a table (every column in full when `wide`), or a note that none matches.
fn print_table(ctx: &Ctx, types: &[InstanceType], wide: bool) {
    if types.is_empty() {
        ctx.out.note("No instance types match.");
        return;
    }
    // A broker's offers run on other clouds: then every row says whose machine it is (a
    // direct cloud's own name, the upstream for a broker).
    let brokered = types
        .iter()
        .any(|t| !t.cloud.is_empty() && t.cloud != t.provider);
    // Two rows that differ only by zone would read as one type listed twice: show the zone.
    let mut zones: HashMap<[&str; 4], &str> = HashMap::new();
    let zoned = types.iter().any(|t| {
        let key = [
            t.provider.as_str(),
            t.cloud.as_str(),
            t.location.as_str(),
            t.type_name.as_str(),
        ];
        *zones.entry(key).or_insert(t.sub_location.as_str()) != t.sub_location.as_str()
    });
    let mut header = vec!["PROVIDER"];
    if brokered {
        header.push("CLOUD");
    }
    header.push("LOCATION");
    if zoned {
        header.push("ZONE");
    }
    header.extend([
        "TYPE",
        "GPUS",
        "VCPUS",
        "MEMORY",
        "$/HOUR",
        "$/GPU-HOUR",
        "AVAILABLE",
    ]);
    let mut table = new_table(header);
    let memory = common_unit(types.iter().map(|t| &t.memory_bytes));
    let vram = common_unit(
        types
            .iter()
            .flat_map(|t| t.supported_gpus.iter().map(|g| &g.memory_bytes)),
    );
    for t in types {
        let mut row = vec![t.provider.as_str().to_owned()];
        if brokered {
            row.push(if t.cloud.is_empty() {
                t.provider.as_str().to_owned()
            } else {
                t.cloud.as_str().to_owned()
            });
        }
        row.push(t.location.as_str().to_owned());
        if zoned {
            row.push(text_or_dash(&t.sub_location));
        }
        row.extend([
            t.type_name.as_str().to_owned(),
            gpus_text(t, vram),
            t.vcpu.to_string(),
            size_in(&t.memory_bytes, memory),
            price_text(t.base_price.as_ref()),
            price_text(t.price_per_gpu().as_ref()),
            yes_no(t.is_available),
        ]);
        table.add_row(row);
    }
    cut_to_fit(&mut table, &[], wide);
    ctx.out.table(&table);
}

/// `8x H100 80 GB`, memory in `unit`.
fn gpus_text(t: &InstanceType, unit: BytesUnit) -> String {
    let parts: Vec<String> = t
        .supported_gpus
        .iter()
        .filter(|g| g.count > 0)
        .map(|g| {
            let memory = if g.memory_bytes.is_zero() {
                String::new()
            } else {
                format!(" {}", size_in(&g.memory_bytes, unit))
            };
            format!("{}x {}{memory}", g.count, g.name)
        })
        .collect();
    list_or_dash(&parts, " + ")
}
