//! Catalog checks: locations, instance types, filters, stable IDs (v1 §3.1–§3.2, gaps fixed).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use gpucloud_core::{
    Architecture, BytesUnit, GetInstanceTypeArgs, GetLocationsArgs, IncludeExclude, InstanceType,
    InstanceTypeQuota, LocationsFilter, Manufacturer, normalize_gpu_name,
};

use super::{Findings, Verdict, describe};
use crate::ctx::Ctx;

/// A type name no provider offers, to check that name filters are applied.
const NO_SUCH_TYPE: &str = "gpucloud-conformance-no-such-type";
/// A location no provider has, to check that location filters are applied.
pub(crate) const NO_SUCH_LOCATION: &str = "gpucloud-conformance-nowhere";

/// The entry without the fields that may change between calls: price, quota, deploy time.
pub(crate) fn strip_volatile(it: &InstanceType) -> InstanceType {
    InstanceType {
        base_price: None,
        quota: InstanceTypeQuota::default(),
        estimated_deploy_time: None,
        ..it.clone()
    }
}

/// The names of the top-level fields in which `a` and `b` differ.
pub(crate) fn differing_fields<T: serde::Serialize>(a: &T, b: &T) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return vec!["(not comparable)".to_owned()];
    };
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}: {} vs {}", short(a.get(k)), short(b.get(k))))
        .collect()
}

fn short(value: Option<&serde_json::Value>) -> String {
    crate::ssh::truncate(
        &value.map_or_else(|| "absent".to_owned(), ToString::to_string),
        120,
    )
}

pub(crate) async fn locations(ctx: Arc<Ctx>) -> Verdict {
    let mut f = Findings::default();
    let usable = match ctx.client.locations(GetLocationsArgs::default()).await {
        Ok(list) => list,
        Err(e) => return f.fail_done(format!("locations(): {}", describe(&e))),
    };
    if usable.is_empty() {
        f.fail("locations() returned no locations");
    } else if !usable.iter().any(|l| l.available) {
        let names: Vec<&str> = usable.iter().map(|l| l.name.as_str()).collect();
        f.fail(format!(
            "no location has available = true (got {})",
            names.join(", ")
        ));
    }
    let mut seen = BTreeSet::new();
    for location in &usable {
        if location.name.is_empty() {
            f.fail(format!("a location has an empty name: {location:?}"));
        } else if !seen.insert(location.name.as_str()) {
            f.fail(format!("location {} is listed twice", location.name));
        }
        if !location.available {
            f.fail(format!(
                "location {} is unavailable but was returned without include_unavailable",
                location.name
            ));
        }
    }
    match ctx
        .client
        .locations(GetLocationsArgs {
            include_unavailable: true,
        })
        .await
    {
        Ok(all) => {
            let all: BTreeSet<&str> = all.iter().map(|l| l.name.as_str()).collect();
            for missing in seen.iter().filter(|n| !all.contains(*n)) {
                f.fail(format!(
                    "location {missing} is missing when include_unavailable = true"
                ));
            }
        }
        Err(e) => f.fail(format!(
            "locations(include_unavailable = true): {}",
            describe(&e)
        )),
    }
    f.note(format!("{} usable location(s)", usable.len()));
    f.done()
}

pub(crate) async fn instance_types(ctx: Arc<Ctx>) -> Verdict {
    let mut f = Findings::default();
    let args = GetInstanceTypeArgs::default();
    let first = match ctx.client.instance_types(&args).await {
        Ok(list) if list.is_empty() => {
            return f.fail_done("instance_types() returned no instance types");
        }
        Ok(list) => list,
        Err(e) => return f.fail_done(format!("instance_types(): {}", describe(&e))),
    };
    f.note(format!("{} catalog entries", first.len()));

    // IDs: present and unique.
    let mut by_id: BTreeMap<&str, &InstanceType> = BTreeMap::new();
    for it in &first {
        if it.id.is_empty() {
            f.fail(format!(
                "type {} in {} has an empty id",
                it.type_name, it.location
            ));
            continue;
        }
        if let Some(other) = by_id.insert(it.id.as_str(), it) {
            f.fail(format!(
                "duplicate instance type ID {} (types {} in {} and {} in {})",
                it.id, other.type_name, other.location, it.type_name, it.location
            ));
        }
    }

    // Determinism between two calls, volatile fields aside.
    match ctx.client.instance_types(&args).await {
        Ok(second) => {
            let second: BTreeMap<&str, &InstanceType> =
                second.iter().map(|it| (it.id.as_str(), it)).collect();
            for (id, it) in &by_id {
                match second.get(id) {
                    None => f.fail(format!(
                        "type {id} is missing from a second instance_types() call"
                    )),
                    Some(again) => {
                        let diff = differing_fields(&strip_volatile(it), &strip_volatile(again));
                        if !diff.is_empty() {
                            f.fail(format!(
                                "type {id} differs between two calls: {}",
                                diff.join("; ")
                            ));
                        }
                    }
                }
            }
            for id in second.keys().filter(|id| !by_id.contains_key(*id)) {
                f.fail(format!(
                    "type {id} appeared only in the second instance_types() call"
                ));
            }
        }
        Err(e) => f.fail(format!("second instance_types() call: {}", describe(&e))),
    }

    for it in &first {
        check_entry(&mut f, it);
    }
    f.done()
}

/// Field rules of one catalog entry: names, prices, GPU normalization.
fn check_entry(f: &mut Findings, it: &InstanceType) {
    let id = &it.id;
    if it.type_name.is_empty() {
        f.fail(format!("type {id} has an empty type name"));
    }
    if it.location.is_empty() {
        f.fail(format!("type {id} has an empty location"));
    }
    // A provider that publishes no prices reports `None` (unknown); a zero price on GPUs would
    // be an invented one, and callers would sort it as the cheapest. (A CPU-only type may be
    // free: the local provider's are.)
    if let Some(price) = &it.base_price {
        if price.amount.is_zero() && it.gpu_count() > 0 {
            f.fail(format!(
                "type {id} has GPUs and a zero price; an unknown price is base_price None"
            ));
        } else if price.amount.is_sign_negative() {
            f.fail(format!("type {id} has a negative price {price}"));
        }
    }
    for (i, storage) in it.supported_storage.iter().enumerate() {
        if storage.min_size_bytes.is_some() && storage.price_per_gb_hr.is_none() {
            f.fail(format!(
                "type {id} storage {i} has a minimum size but no price_per_gb_hr"
            ));
        }
    }
    for (i, gpu) in it.supported_gpus.iter().enumerate() {
        let normalized = normalize_gpu_name(&gpu.name);
        if gpu.name.is_empty() {
            f.fail(format!("type {id} GPU {i} has an empty name"));
        } else if gpu.name != normalized {
            f.fail(format!(
                "type {id} GPU name {:?} is not normalized (expected {normalized:?})",
                gpu.name
            ));
        }
        if gpu.count == 0 {
            f.fail(format!("type {id} GPU {i} ({}) has count 0", gpu.name));
            continue;
        }
        if gpu.manufacturer == Manufacturer::Unknown {
            f.fail(format!("type {id} GPU {} has no manufacturer", gpu.name));
        }
        if gpu.memory_bytes.is_zero() {
            f.fail(format!("type {id} GPU {} has no VRAM size", gpu.name));
        } else if gpu.memory_bytes.unit() != BytesUnit::GB {
            f.fail(format!(
                "type {id} GPU {} VRAM is {} (expected the nominal size per GPU in decimal GB, e.g. 80 GB)",
                gpu.name, gpu.memory_bytes
            ));
        }
    }
}

pub(crate) async fn instance_type_filters(ctx: Arc<Ctx>) -> Verdict {
    let mut f = Findings::default();
    let all = match ctx
        .client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
    {
        Ok(list) if list.is_empty() => {
            return f.fail_done("instance_types() returned nothing to filter".to_owned());
        }
        Ok(list) => list,
        Err(e) => return f.fail_done(format!("instance_types(): {}", describe(&e))),
    };
    let first = &all[0];

    // By type name.
    let by_name = GetInstanceTypeArgs {
        instance_types: vec![first.type_name.as_str().to_owned()],
        ..Default::default()
    };
    match ctx.client.instance_types(&by_name).await {
        Ok(found) => {
            let expected = all
                .iter()
                .filter(|it| it.type_name == first.type_name)
                .count();
            for other in found.iter().filter(|it| it.type_name != first.type_name) {
                f.fail(format!(
                    "filter by type {} returned type {} ({})",
                    first.type_name, other.type_name, other.id
                ));
            }
            match found.iter().find(|it| it.id == first.id) {
                None => f.fail(format!(
                    "filter by type {} did not return {}",
                    first.type_name, first.id
                )),
                Some(same) => {
                    let diff = differing_fields(&strip_volatile(first), &strip_volatile(same));
                    if !diff.is_empty() {
                        f.fail(format!(
                            "type {} differs when filtered by name: {}",
                            first.id,
                            diff.join("; ")
                        ));
                    }
                }
            }
            if found.len() != expected {
                f.fail(format!(
                    "filter by type {} returned {} entries; the unfiltered catalog has {expected}",
                    first.type_name,
                    found.len()
                ));
            }
        }
        Err(e) => f.fail(format!(
            "instance_types(type {}): {}",
            first.type_name,
            describe(&e)
        )),
    }

    // A name nobody has.
    let nothing = GetInstanceTypeArgs {
        instance_types: vec![NO_SUCH_TYPE.to_owned()],
        ..Default::default()
    };
    match ctx.client.instance_types(&nothing).await {
        Ok(found) if !found.is_empty() => f.fail(format!(
            "filter by a type that does not exist returned {} entries (first {})",
            found.len(),
            found[0].id
        )),
        Ok(_) => {}
        Err(e) if e.is_not_found() || e.kind() == gpucloud_core::ErrorKind::InvalidArgument => {}
        Err(e) => f.fail(format!(
            "instance_types(type {NO_SUCH_TYPE}): {}",
            describe(&e)
        )),
    }

    // By architecture.
    let x86 = GetInstanceTypeArgs {
        architecture_filter: Some(IncludeExclude::include(vec![Architecture::X86_64])),
        ..Default::default()
    };
    match ctx.client.instance_types(&x86).await {
        Ok(found) => {
            for it in found.iter().filter(|it| !x86.matches(it)) {
                f.fail(format!(
                    "architecture filter x86_64 returned {} with architectures {:?}",
                    it.id, it.supported_architectures
                ));
            }
            let expected = all.iter().filter(|it| x86.matches(it)).count();
            if found.len() != expected {
                f.fail(format!(
                    "architecture filter x86_64 returned {} entries; {expected} entries of the catalog are x86_64",
                    found.len()
                ));
            }
        }
        Err(e) => f.fail(format!("instance_types(x86_64): {}", describe(&e))),
    }
    f.done()
}

pub(crate) async fn instance_types_by_location(ctx: Arc<Ctx>) -> Verdict {
    let mut f = Findings::default();
    let all_args = GetInstanceTypeArgs {
        locations: LocationsFilter::all(),
        ..Default::default()
    };
    let all = match ctx.client.instance_types(&all_args).await {
        Ok(list) if list.is_empty() => {
            return f.fail_done("instance_types(locations = all) returned nothing");
        }
        Ok(list) => list,
        Err(e) => {
            return f.fail_done(format!(
                "all-location instance types not supported: {}",
                describe(&e)
            ));
        }
    };
    let location = if ctx.location.is_empty() {
        all[0].location.as_str().to_owned()
    } else {
        ctx.location.clone()
    };
    let args = GetInstanceTypeArgs {
        locations: LocationsFilter::only([location.as_str()]),
        ..Default::default()
    };
    let local = match ctx.client.instance_types(&args).await {
        Ok(list) => list,
        Err(e) => {
            return f.fail_done(format!(
                "instance_types(location {location}): {}",
                describe(&e)
            ));
        }
    };
    if local.is_empty() {
        f.fail(format!(
            "instance_types(location {location}) returned nothing"
        ));
    }
    if local.len() > all.len() {
        f.fail(format!(
            "location {location} has {} entries, more than all locations together ({})",
            local.len(),
            all.len()
        ));
    }
    let all_ids: BTreeSet<&str> = all.iter().map(|it| it.id.as_str()).collect();
    for it in &local {
        if !all_ids.contains(it.id.as_str()) {
            f.fail(format!(
                "type {} of location {location} is not among the all-location types",
                it.id
            ));
        }
        if it.location != location {
            f.fail(format!(
                "filter by location {location} returned {} in location {:?}",
                it.id, it.location
            ));
        }
    }
    let expected = all.iter().filter(|it| it.location == location).count();
    if local.len() != expected {
        f.fail(format!(
            "filter by location {location} returned {} entries; the all-location catalog has {expected} there",
            local.len()
        ));
    }
    let nowhere = GetInstanceTypeArgs {
        locations: LocationsFilter::only([NO_SUCH_LOCATION]),
        ..Default::default()
    };
    match ctx.client.instance_types(&nowhere).await {
        Ok(found) if !found.is_empty() => {
            f.fail(format!(
                "filter by a location that does not exist returned {} entries",
                found.len()
            ));
        }
        Ok(_) => {}
        Err(e) if e.is_not_found() || e.kind() == gpucloud_core::ErrorKind::InvalidArgument => {}
        Err(e) => f.fail(format!(
            "instance_types(location {NO_SUCH_LOCATION}): {}",
            describe(&e)
        )),
    }
    f.note(format!(
        "location {location}: {} of {} entries",
        local.len(),
        all.len()
    ));
    f.done()
}

pub(crate) async fn stable_ids(ctx: Arc<Ctx>) -> Verdict {
    let mut f = Findings::default();
    let args = GetInstanceTypeArgs {
        locations: LocationsFilter::all(),
        ..Default::default()
    };
    let all = match ctx.client.instance_types(&args).await {
        Ok(list) => list,
        Err(e) => return f.fail_done(format!("instance_types(locations = all): {}", describe(&e))),
    };
    let ids: BTreeSet<&str> = all.iter().map(|it| it.id.as_str()).collect();
    for id in &ctx.stable_ids {
        if !ids.contains(id.as_str()) {
            f.fail(format!(
                "instance type id {id} should be stable but not found"
            ));
        }
    }
    f.done()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpucloud_core::Price;

    #[test]
    fn an_unknown_price_passes_and_a_zero_price_fails() {
        let entry = |base_price| InstanceType {
            id: gpucloud_core::InstanceTypeId::generic("r", None, "t"),
            type_name: "t".into(),
            location: "r".into(),
            base_price,
            ..InstanceType::default()
        };
        let findings = |it: &InstanceType| {
            let mut f = Findings::default();
            check_entry(&mut f, it);
            f.mismatches
        };
        assert!(findings(&entry(None)).is_empty());
        assert!(findings(&entry(Some(Price::usd_cents(10)))).is_empty());
        assert!(
            findings(&entry(Some(Price::usd_cents(0)))).is_empty(),
            "a CPU-only type may be free"
        );
        let zero = findings(&InstanceType {
            supported_gpus: gpucloud_core::smallvec![gpucloud_core::Gpu {
                count: 1,
                ..gpucloud_core::Gpu::default()
            }],
            ..entry(Some(Price::usd_cents(0)))
        });
        assert!(zero.iter().any(|m| m.contains("zero price")), "{zero:?}");
        let negative = findings(&entry(Some(Price::usd_cents(-1))));
        assert!(
            negative.iter().any(|m| m.contains("negative")),
            "{negative:?}"
        );
    }

    #[test]
    fn volatile_fields_are_ignored_and_differences_named() {
        let a = InstanceType {
            type_name: "t".into(),
            vcpu: 2,
            base_price: Some(Price::usd_cents(10)),
            ..InstanceType::default()
        };
        let b = InstanceType {
            base_price: Some(Price::usd_cents(20)),
            ..a.clone()
        };
        assert!(differing_fields(&strip_volatile(&a), &strip_volatile(&b)).is_empty());
        let c = InstanceType {
            vcpu: 4,
            is_available: true,
            ..a.clone()
        };
        let diff = differing_fields(&strip_volatile(&a), &strip_volatile(&c));
        assert_eq!(diff.len(), 2, "{diff:?}");
        assert!(
            diff.iter().any(|d| d.starts_with("vcpu: 2 vs 4")),
            "{diff:?}"
        );
    }
}
