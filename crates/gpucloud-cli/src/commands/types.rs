//! `gpucloud types`: the catalog of every selected provider and location, queried concurrently.

use std::cmp::Ordering;

use gpucloud::offers::{OfferOptions, OfferSource, catalogs};
use gpucloud::{InstanceType, Price, normalize_gpu_name};
use rust_decimal::Decimal;
use serde::Serialize;

use super::Ctx;
use crate::cli::{SortBy, TypesArgs};
use crate::error::CliResult;
use crate::failures::{self, FailureJson};
use crate::output::{list_or_dash, new_table, price_text, yes_no};

/// `gpucloud types`.
pub async fn types(ctx: &Ctx, args: &TypesArgs) -> CliResult {
    let selection = ctx.providers(&args.providers)?;
    let sources = super::offer_sources(&selection.entries);
    let sources: Vec<&OfferSource> = sources.iter().collect();
    let answer = catalogs(&sources, &args.locations, &OfferOptions::default()).await;
    let answered = answer.catalogs.len();
    let mut failures = selection.failures;
    failures.extend(answer.failures);
    let mut types: Vec<InstanceType> = answer
        .catalogs
        .into_iter()
        .flat_map(|c| c.instance_types)
        .collect();

    let gpu = args.gpu.as_deref().map(normalize_gpu_name);
    types.retain(|t| {
        gpu.as_ref().is_none_or(|want| {
            t.supported_gpus
                .iter()
                .any(|g| normalize_gpu_name(&g.name).eq_ignore_ascii_case(want))
        }) && args.gpus.is_none_or(|n| t.gpu_count() == n)
            && args
                .max_price
                .is_none_or(|max| usd(t.base_price.as_ref()).is_some_and(|p| p <= max))
            && (!args.available || t.is_available)
    });
    types.sort_by(|a, b| compare(a, b, args.sort));

    if ctx.out.is_json() {
        ctx.out.json(&TypesJson {
            types: &types,
            failures: failures::json(&failures),
        })?;
    } else if answered > 0 {
        print_table(ctx, &types);
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

/// The types as a table, or a note that none matches.
fn print_table(ctx: &Ctx, types: &[InstanceType]) {
    if types.is_empty() {
        ctx.out.note("No instance types match.");
        return;
    }
    // A broker's offers run on other clouds: then every row says whose machine it is (a
    // direct cloud's own name, the upstream for a broker).
    let brokered = types
        .iter()
        .any(|t| !t.cloud.is_empty() && t.cloud != t.provider);
    let mut header = vec!["PROVIDER"];
    if brokered {
        header.push("CLOUD");
    }
    header.extend([
        "LOCATION",
        "TYPE",
        "GPUS",
        "VCPUS",
        "MEMORY",
        "$/HOUR",
        "$/GPU-HOUR",
        "AVAILABLE",
    ]);
    let mut table = new_table(header);
    for t in types {
        let mut row = vec![t.provider.as_str().to_owned()];
        if brokered {
            row.push(if t.cloud.is_empty() {
                t.provider.as_str().to_owned()
            } else {
                t.cloud.as_str().to_owned()
            });
        }
        row.extend([
            t.location.as_str().to_owned(),
            t.type_name.as_str().to_owned(),
            gpus_text(t),
            t.vcpu.to_string(),
            if t.memory_bytes.is_zero() {
                "-".to_owned()
            } else {
                t.memory_bytes.to_string()
            },
            price_text(t.base_price.as_ref()),
            price_text(t.price_per_gpu().as_ref()),
            yes_no(t.is_available),
        ]);
        table.add_row(row);
    }
    ctx.out.table(&table);
}

fn usd(price: Option<&Price>) -> Option<Decimal> {
    price.filter(|p| p.currency == "USD").map(|p| p.amount)
}

fn compare(a: &InstanceType, b: &InstanceType, sort: SortBy) -> Ordering {
    let key = |t: &InstanceType| match sort {
        SortBy::Price => t.base_price.as_ref().map(|p| p.amount),
        SortBy::PricePerGpu => t.price_per_gpu().map(|p| p.amount),
    };
    // Unpriced last, then cheapest first, then by name and location.
    match (key(a), key(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then_with(|| a.type_name.cmp(&b.type_name))
    .then_with(|| a.provider.cmp(&b.provider))
    .then_with(|| a.location.cmp(&b.location))
}

fn gpus_text(t: &InstanceType) -> String {
    let parts: Vec<String> = t
        .supported_gpus
        .iter()
        .filter(|g| g.count > 0)
        .map(|g| {
            let memory = if g.memory_bytes.is_zero() {
                String::new()
            } else {
                format!(" {}", g.memory_bytes)
            };
            format!("{}x {}{memory}", g.count, g.name)
        })
        .collect();
    list_or_dash(&parts, " + ")
}
