//! `gpucloud types`: the catalog of every selected provider and location, queried concurrently.

use std::cmp::Ordering;

use futures::stream::{self, StreamExt};
use gpucloud::{
    ApiType, CloudError, GetInstanceTypeArgs, GetLocationsArgs, InstanceType, LocationsFilter,
    Price, ProviderEntry, normalize_gpu_name,
};
use rust_decimal::Decimal;

use super::{Ctx, make_client};
use crate::cli::{SortBy, TypesArgs};
use crate::error::{CliError, CliResult};
use crate::output::{list_or_dash, new_table, yes_no};

/// Catalog queries in flight per provider.
const LOCATIONS_IN_FLIGHT: usize = 4;

/// `gpucloud types`.
pub async fn types(ctx: &Ctx, args: &TypesArgs) -> CliResult {
    let entries = ctx.providers(&args.providers)?;
    let query = GetInstanceTypeArgs {
        locations: if args.locations.is_empty() {
            LocationsFilter::default()
        } else {
            LocationsFilter::only(args.locations.clone())
        },
        ..GetInstanceTypeArgs::default()
    };
    let results: Vec<(&ProviderEntry, Result<Vec<InstanceType>, CloudError>)> =
        stream::iter(&entries)
            .map(|entry| {
                let query = &query;
                async move { (entry, catalog(entry, query).await) }
            })
            .buffer_unordered(entries.len().max(1))
            .collect()
            .await;

    let mut types = Vec::new();
    let mut failures = 0;
    for (entry, result) in results {
        match result {
            Ok(found) => types.extend(found),
            Err(e) => {
                failures += 1;
                let error = CliError::cloud(
                    &format!("list instance types of {}", entry.descriptor.name),
                    &e,
                );
                ctx.out.warn(&error.message);
            }
        }
    }
    if failures > 0 && failures == entries.len() {
        return Err(CliError::failed(
            "no provider answered; see the warnings above",
        ));
    }

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
        return ctx.out.json(&types);
    }
    if types.is_empty() {
        ctx.out.note("No instance types match.");
        return Ok(());
    }
    let mut table = new_table([
        "PROVIDER",
        "LOCATION",
        "TYPE",
        "GPUS",
        "VCPUS",
        "MEMORY",
        "$/HOUR",
        "$/GPU-HOUR",
        "AVAILABLE",
    ]);
    for t in &types {
        table.add_row([
            t.provider.clone(),
            t.location.clone(),
            t.type_name.clone(),
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
    }
    ctx.out.table(&table);
    Ok(())
}

/// One provider's catalog: once for a global API, per location for a locational one.
async fn catalog(
    entry: &ProviderEntry,
    query: &GetInstanceTypeArgs,
) -> Result<Vec<InstanceType>, CloudError> {
    let client = make_client(entry, "").await?;
    if entry.credential.identity().api_type() == ApiType::Global {
        return client.instance_types(query).await;
    }
    let locations = client
        .locations(GetLocationsArgs {
            include_unavailable: false,
        })
        .await?;
    let wanted: Vec<String> = locations
        .into_iter()
        .map(|l| l.name)
        .filter(|name| query.locations.matches(name))
        .collect();
    let per_location: Vec<Result<Vec<InstanceType>, CloudError>> = stream::iter(wanted)
        .map(|location| async move {
            let client = make_client(entry, &location).await?;
            client.instance_types(query).await
        })
        .buffer_unordered(LOCATIONS_IN_FLIGHT)
        .collect()
        .await;
    let mut all = Vec::new();
    for result in per_location {
        all.extend(result?);
    }
    Ok(all)
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

fn price_text(price: Option<&Price>) -> String {
    match price {
        Some(p) if p.currency == "USD" => format!("${}", p.rounded()),
        Some(p) => format!("{} {}", p.rounded(), p.currency),
        None => "-".to_owned(),
    }
}
