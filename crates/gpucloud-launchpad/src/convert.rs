//! Pure conversions between LaunchPad's JSON and the model, unit-tested without a server.
//!
//! - A catalog entry is one offer per type × region (`capacity`'s regions and `regions`),
//!   the region as `sub_location` and its gpucloud location by [`crate::region`]'s rule.
//! - The type name says what a deployment request can choose: the upstream cloud, the GPU
//!   family and count, and the workshop a type is reserved for
//!   (`<cloud>_<family>x<count>[.<workshop>]`, lower case: `dmz_gh200x1`). The id adds the
//!   region (`<type name>_<region>`). A deployment carries the same fields, so its instance
//!   type id is built by the same function.
//! - The price is the API's own `price` (currency and per hour); absent, it is unknown.

use std::collections::BTreeMap;

use gpucloud_core::bookkeeping::{CRED_REF_ID_TAG, REF_ID_TAG};
use gpucloud_core::hostname::instance_hostname;
use gpucloud_core::{
    Architecture, Bookkeeping, Bytes, BytesUnit, CompactString, Gpu, Instance, InstanceId,
    InstanceType, InstanceTypeId, LifecycleStatus, Location, Manufacturer, PortMapping, Price,
    SmallVec, Status, Storage, Tags, normalize_gpu_name, smallvec,
};

use crate::region::location_of;
use crate::wire;

/// The provider id.
pub(crate) const PROVIDER: &str = "launchpad";

/// The tag holding the instance's name (a deployment has no name of its own).
pub(crate) const NAME_TAG: &str = "gpucloud-name";

/// The experience of every offer the rule does not place otherwise.
pub const EXPERIENCE_DEFAULT: &str = "43123766-35ec-4eb4-a5ba-3f2945228445";
/// The minimal experience, for offers of the upstream cloud `nebius`.
pub const EXPERIENCE_NEBIUS: &str = "a5d93f56-bbdb-44db-a1ae-6b1ad7d3c6df";
/// The experience of the DMZ's GH200 (SXM, arm64).
pub const EXPERIENCE_DMZ_GH200: &str = "d12c37eb-270a-4471-be45-48e4d1fdb764";

/// The experience a deployment of this offer is made of, unless the configuration names one:
/// the DMZ's GH200 over SXM has its own, offers of `nebius` the minimal one, every other
/// [`EXPERIENCE_DEFAULT`] (the rule of the Go provider, whose experiences these are).
pub fn experience_for(cloud: &str, gpu_family: &str, interconnect: &str) -> &'static str {
    let is = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b);
    if is(cloud, "dmz") && is(gpu_family, "gh200") && is(interconnect, "sxm") {
        EXPERIENCE_DMZ_GH200
    } else if is(cloud, "nebius") {
        EXPERIENCE_NEBIUS
    } else {
        EXPERIENCE_DEFAULT
    }
}

/// Appends `text` to `out` trimmed and in lower case, with anything but letters, digits, `-`
/// and `.` as `-`.
fn push_slug(out: &mut String, text: &str) {
    out.extend(text.trim().chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
            c.to_ascii_lowercase()
        } else {
            '-'
        }
    }));
}

/// Appends `n` in decimal (a catalog writes one count per type: no formatting machinery).
fn push_decimal(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = n;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend(digits[start..].iter().map(|d| char::from(*d)));
}

/// The type name of `cloud`'s `family` × `count`, reserved for `workshop` when not empty.
/// Written into one string (no formatting machinery): a catalog makes one per type.
pub(crate) fn type_name(cloud: &str, family: &str, count: u64, workshop: &str) -> String {
    let workshop = workshop.trim();
    let mut name = String::with_capacity(cloud.len() + family.len() + workshop.len() + 24);
    push_slug(&mut name, cloud);
    name.push('_');
    push_slug(&mut name, family);
    name.push('x');
    push_decimal(&mut name, count);
    if !workshop.is_empty() {
        name.push('.');
        push_slug(&mut name, workshop);
    }
    name
}

/// The instance-type id of `type_name` in `region`.
pub(crate) fn type_id(type_name: &str, region: &str) -> InstanceTypeId {
    let mut id = String::with_capacity(type_name.len() + 1 + region.len());
    id.push_str(type_name);
    id.push('_');
    id.push_str(region);
    InstanceTypeId::new(id)
}

/// Memory in GB, as LaunchPad counts it.
fn gb(n: u64) -> Bytes {
    Bytes::new(i64::try_from(n).unwrap_or(i64::MAX), BytesUnit::GB)
}

/// The API's price, when it publishes a usable one.
fn price(w: Option<&wire::Price<'_>>) -> Option<Price> {
    let w = w?;
    let amount = w.on_demand_per_hour?;
    let mut currency = CompactString::from(w.currency.trim());
    if currency.is_empty() {
        currency = CompactString::const_new("USD");
    }
    currency.make_ascii_uppercase();
    Price::new(amount, &currency).ok()
}

/// `text` trimmed, in upper or lower case, inline (the short words of a catalog entry).
fn cased(text: &str, upper: bool) -> CompactString {
    let mut out = CompactString::from(text.trim());
    if upper {
        out.make_ascii_uppercase();
    } else {
        out.make_ascii_lowercase();
    }
    out
}

/// The locations of the regions a catalog has named so far: the rule of [`location_of`] runs
/// once per distinct region, not once per entry (a catalog names a few regions many times).
#[derive(Debug, Default)]
pub(crate) struct RegionLocations {
    /// Region as written (inline: region names are short) → its location.
    known: Vec<(CompactString, CompactString)>,
}

impl RegionLocations {
    /// The location of `region`, by the rule the first time it is asked.
    pub(crate) fn of(&mut self, region: &str) -> CompactString {
        if let Some((_, location)) = self.known.iter().find(|(r, _)| r == region) {
            return location.clone();
        }
        let location = location_of(region);
        self.known.push((region.into(), location.clone()));
        location
    }
}

/// The catalog entries of one LaunchPad instance type, appended to `out`: one per region it
/// names, available where it has capacity; `places` remembers the regions' locations.
pub(crate) fn instance_types(
    w: &wire::InstanceType<'_>,
    places: &mut RegionLocations,
    out: &mut Vec<InstanceType>,
) {
    let name = type_name(&w.cloud, &w.gpu.family, w.gpu.count, &w.workshop_id);
    let mut disks: SmallVec<[Storage; 1]> = SmallVec::new();
    for disk in &w.storage {
        let kind = cased(&disk.kind, false);
        match disks
            .iter_mut()
            .find(|d| d.size_bytes == gb(disk.size_gb) && d.storage_type == kind)
        {
            Some(d) => d.count += 1,
            None => disks.push(Storage {
                count: 1,
                size_bytes: gb(disk.size_gb),
                storage_type: kind,
                ..Storage::default()
            }),
        }
    }
    let manufacturer = if w.gpu.manufacturer.trim().is_empty()
        || w.gpu.manufacturer.eq_ignore_ascii_case("nvidia")
    {
        Manufacturer::Nvidia
    } else {
        Manufacturer::parse_lenient(&w.gpu.manufacturer)
    };
    let gpu = Gpu {
        count: u32::try_from(w.gpu.count).unwrap_or(u32::MAX),
        memory_bytes: gb(w.gpu.memory_gb),
        network_details: cased(&w.gpu.interconnection_type, true),
        manufacturer,
        name: normalize_gpu_name(&w.gpu.family),
        gpu_type: w.gpu.model.trim().into(),
        ..Gpu::default()
    };
    // What every region's entry shares, computed once.
    let base_price = price(w.price.as_ref());
    let architecture = Architecture::parse_lenient(&w.system_arch);
    let cloud = cased(&w.cloud, false);
    let workshop = w.workshop_id.trim();
    let entries = w
        .all_regions()
        .filter(|r| !r.trim().is_empty())
        .map(|region| InstanceType {
            id: type_id(&name, region),
            location: places.of(region),
            sub_location: region.into(),
            available_azs: vec![region.to_owned()],
            type_name: name.as_str().into(),
            supported_gpus: smallvec![gpu.clone()],
            supported_storage: disks.clone(),
            memory_bytes: gb(w.memory_gb),
            vcpu: u32::try_from(w.cpu).unwrap_or(u32::MAX),
            supported_architectures: smallvec![architecture],
            supported_usage_classes: smallvec![CompactString::const_new("on-demand")],
            is_available: w.capacity_in(region) > 0,
            base_price: base_price.clone(),
            stoppable: false,
            rebootable: false,
            can_modify_firewall_rules: false,
            provider: CompactString::const_new(PROVIDER),
            cloud: cloud.clone(),
            reserved_instance_pool_id: workshop.to_owned(),
            ..InstanceType::default()
        });
    out.extend(entries);
}

/// The catalog's entries with one offer per id: two catalog types a deployment request cannot
/// tell apart (same cloud, family, count and workshop: the same type name) are one offer, the
/// first listed, so a later type keeps only the entries of regions not offered yet.
/// `starts[i]` is where the entries of the catalog's `i`-th type begin.
pub(crate) fn first_of_each_name(
    entries: Vec<InstanceType>,
    starts: &[usize],
) -> Vec<InstanceType> {
    // Each type's entries: from its start to the next type's.
    let groups: Vec<(usize, usize)> = starts
        .iter()
        .enumerate()
        .map(|(i, start)| (*start, starts.get(i + 1).copied().unwrap_or(entries.len())))
        .filter(|(start, end)| start < end)
        .collect();
    let mut names: Vec<&str> = groups
        .iter()
        .filter_map(|(start, _)| entries.get(*start).map(|e| e.type_name.as_str()))
        .collect();
    names.sort_unstable();
    if names.windows(2).all(|w| w[0] != w[1]) {
        return entries;
    }
    // Rare: a name twice.
    let mut kept: Vec<InstanceType> = Vec::with_capacity(entries.len());
    let mut seen: Vec<CompactString> = Vec::new();
    let mut entries = entries.into_iter();
    for (start, end) in groups {
        let group: Vec<InstanceType> = entries.by_ref().take(end - start).collect();
        let Some(name) = group.first().map(|e| e.type_name.clone()) else {
            continue;
        };
        if seen.contains(&name) {
            for fresh in group {
                if !kept.iter().any(|k| k.id == fresh.id) {
                    kept.push(fresh);
                }
            }
        } else {
            seen.push(name);
            kept.extend(group);
        }
    }
    kept
}

/// The gpucloud locations of catalog entries: one per location, available when any entry
/// there is.
pub(crate) fn locations(entries: &[InstanceType]) -> Vec<Location> {
    let mut by_name: BTreeMap<&str, bool> = BTreeMap::new();
    for entry in entries {
        *by_name.entry(entry.location.as_str()).or_default() |= entry.is_available;
    }
    by_name
        .into_iter()
        .map(|(name, available)| Location {
            name: name.to_owned(),
            description: format!("LaunchPad regions in {name}"),
            available,
            ..Location::default()
        })
        .collect()
}

/// A deployment state → lifecycle, and a message where the state says more than that.
///
/// `failed` may still be retried by LaunchPad (`retrying` follows): pending, not failed;
/// `error` is fatal. `paused` may be retried later: pending, with a message.
pub(crate) fn lifecycle(state: &str) -> (LifecycleStatus, Option<&'static str>) {
    match state {
        "ready" => (LifecycleStatus::Running, None),
        "failed" => (
            LifecycleStatus::Pending,
            Some("launchpad: the deployment failed and may be retried"),
        ),
        "retrying" => (
            LifecycleStatus::Pending,
            Some("launchpad: retrying the deployment after a failure"),
        ),
        "paused" => (
            LifecycleStatus::Pending,
            Some("launchpad: the deployment is paused and may be retried later"),
        ),
        "stopping" => (LifecycleStatus::Stopping, None),
        "stopped" => (LifecycleStatus::Stopped, None),
        "destroying" => (LifecycleStatus::Terminating, None),
        "destroyed" => (LifecycleStatus::Terminated, None),
        "error" => (
            LifecycleStatus::Failed,
            Some("launchpad: the deployment hit a fatal error and will not be retried"),
        ),
        // `waiting`, `starting`, and states LaunchPad adds later: on its way somewhere.
        _ => (LifecycleStatus::Pending, None),
    }
}

/// Whether a deployment in `state` is on its way out or failed for good: not the live
/// instance of its RefID.
pub(crate) fn is_gone_or_failed(state: &str) -> bool {
    matches!(state, "destroying" | "destroyed" | "error")
}

/// The credential mark a deployment carries (`""` for none).
pub(crate) fn mark(w: &wire::Deployment) -> &str {
    w.tags.get(CRED_REF_ID_TAG).map_or("", String::as_str)
}

/// The RefID a deployment carries (`""` for none).
pub(crate) fn ref_id(w: &wire::Deployment) -> &str {
    w.tags.get(REF_ID_TAG).map_or("", String::as_str)
}

/// A deployment → instance; `address` is its cluster's public address, when known.
pub(crate) fn instance(w: wire::Deployment, address: Option<&str>) -> Instance {
    let name = w.tags.get(NAME_TAG).cloned().unwrap_or_default();
    let type_name = type_name(&w.provider_name, &w.gpu_model, w.gpu_count, &w.workshop_id);
    let type_id = type_id(&type_name, &w.region);
    let (lifecycle, message) = lifecycle(&w.state);
    let (bookkeeping, tags): (Bookkeeping, Tags) = Bookkeeping::decode(w.tags);
    let hostname = if bookkeeping.ref_id.is_empty() && name.is_empty() {
        String::new()
    } else {
        instance_hostname(&name, &bookkeeping.ref_id)
    };
    let ssh_port = u16::try_from(w.ssh_port)
        .ok()
        .filter(|p| *p != 0)
        .unwrap_or(22);
    let address = address.map(str::trim).unwrap_or_default();
    Instance {
        cloud_id: InstanceId::new(w.id),
        name,
        ref_id: bookkeeping.ref_id,
        cloud_cred_ref_id: bookkeeping.cred_ref_id,
        created_at: bookkeeping.created_at.or_else(|| w.created.parse().ok()),
        hostname,
        public_ip: address.to_owned(),
        public_dns: address.to_owned(),
        ssh_user: w.ssh_user,
        ssh_port,
        // LaunchPad forwards one port of its own to the machine's SSH.
        internal_port_mappings: if ssh_port == 22 {
            Vec::new()
        } else {
            vec![PortMapping {
                from_port: 22,
                to_port: ssh_port,
            }]
        },
        status: Status {
            lifecycle_status: lifecycle,
            messages: message.map(str::to_owned).into_iter().collect(),
        },
        instance_type: type_name,
        instance_type_id: type_id,
        location: location_of(&w.region).into(),
        sub_location: w.region,
        tags,
        stoppable: false,
        rebootable: false,
        ..Instance::default()
    }
}

/// The deployment's tags: the user's, the bookkeeping and the name.
pub(crate) fn wire_tags(
    user: &Tags,
    bookkeeping: &Bookkeeping,
    name: &str,
) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = bookkeeping.encode_with(user).into_iter().collect();
    if !name.trim().is_empty() {
        tags.insert(NAME_TAG.to_owned(), name.trim().to_owned());
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_and_ids_are_slugs_of_what_a_request_chooses() {
        assert_eq!(type_name("oci", "A100", 8, ""), "oci_a100x8");
        assert_eq!(type_name(" DMZ ", "GH 200", 1, "  "), "dmz_gh-200x1");
        assert_eq!(
            type_name("Nebius", "H100_SXM", 16, " Work Shop/1 "),
            "nebius_h100-sxmx16.work-shop-1"
        );
        assert_eq!(type_name("oci", "A10", 0, ""), "oci_a10x0");
        assert_eq!(
            type_name("oci", "A10", u64::MAX, ""),
            format!("oci_a10x{}", u64::MAX)
        );
        assert_eq!(
            type_id("oci_a100x8", "us-tx-1").as_str(),
            "oci_a100x8_us-tx-1"
        );
    }

    /// The entries of one catalog type.
    fn entries_of(w: &wire::InstanceType<'_>) -> Vec<InstanceType> {
        let mut entries = Vec::new();
        instance_types(w, &mut RegionLocations::default(), &mut entries);
        entries
    }

    fn entry(json: &str) -> wire::InstanceType<'_> {
        serde_json::from_str(json).unwrap()
    }

    const GH200: &str = r#"{"capacity": {"pdx": 2, "sjc": 0}, "cloud": "dmz", "cpu": 72,
        "gpu": {"count": 1, "family": "GH200", "interconnection_type": "sxm",
                "manufacturer": "NVIDIA", "memory_gb": 96, "model": "GH200-96GB"},
        "memory_gb": 480, "price": {"currency": "USD", "on_demand_per_hour": 2.8},
        "regions": ["pdx"], "storage": [{"size_gb": 4096, "type": "nvme"}, {"size_gb": 4096, "type": "nvme"}],
        "system_arch": "arm64", "workshop_id": ""}"#;

    #[test]
    fn an_entry_per_region_with_the_apis_own_price_and_the_upstream_cloud() {
        let entries = entries_of(&entry(GH200));
        assert_eq!(entries.len(), 2);
        let pdx = &entries[0];
        assert_eq!(pdx.type_name, "dmz_gh200x1");
        assert_eq!(pdx.id, InstanceTypeId::new("dmz_gh200x1_pdx"));
        assert_eq!(
            (pdx.location.as_str(), pdx.sub_location.as_str()),
            ("us-west", "pdx")
        );
        assert_eq!(
            (pdx.provider.as_str(), pdx.cloud.as_str()),
            ("launchpad", "dmz")
        );
        assert!(pdx.is_available && !entries[1].is_available);
        assert_eq!(pdx.base_price, Some(Price::parse("2.8", "USD").unwrap()));
        assert_eq!(
            pdx.supported_architectures.as_slice(),
            [Architecture::Arm64]
        );
        let gpu = &pdx.supported_gpus[0];
        assert_eq!(
            (
                gpu.name.as_str(),
                gpu.gpu_type.as_str(),
                gpu.network_details.as_str()
            ),
            ("GH200", "GH200-96GB", "SXM")
        );
        assert_eq!(gpu.memory_bytes, gb(96));
        assert_eq!(pdx.supported_storage.len(), 1);
        assert_eq!(pdx.supported_storage[0].count, 2);
        assert_eq!(pdx.vcpu, 72);
        assert!(pdx.reserved_instance_pool_id.is_empty());
    }

    #[test]
    fn a_type_name_listed_twice_is_one_offer_per_region_the_first_listed() {
        let first = entry(GH200);
        let mut second = entry(GH200);
        second.cpu = 1;
        second.regions = vec!["sea".into(), "pdx".into()];
        let other = entry(
            r#"{"cloud": "oci", "gpu": {"count": 8, "family": "A100"}, "regions": ["us-tx-1"]}"#,
        );
        let mut entries = Vec::new();
        let mut starts = Vec::new();
        for t in [&first, &other, &second] {
            starts.push(entries.len());
            instance_types(t, &mut RegionLocations::default(), &mut entries);
        }
        let kept = first_of_each_name(entries, &starts);
        let ids: Vec<(&str, u32)> = kept.iter().map(|e| (e.id.as_str(), e.vcpu)).collect();
        assert_eq!(
            ids,
            [
                ("dmz_gh200x1_pdx", 72),
                ("dmz_gh200x1_sjc", 72),
                ("oci_a100x8_us-tx-1", 0),
                ("dmz_gh200x1_sea", 1),
            ]
        );
        // Names all different: the entries as they are.
        let mut entries = Vec::new();
        let mut places = RegionLocations::default();
        instance_types(&first, &mut places, &mut entries);
        instance_types(&other, &mut places, &mut entries);
        assert_eq!(first_of_each_name(entries, &[0, 2]).len(), 3);
    }

    #[test]
    fn a_regions_location_is_the_rules_whether_asked_first_or_again() {
        let mut places = RegionLocations::default();
        for region in [
            "pdx", "us-tx-1", "pdx", "SJC", "us-tx-1", "mars-1", "pdx", "",
        ] {
            assert_eq!(places.of(region), location_of(region), "{region}");
        }
        // Each distinct region was placed once.
        assert_eq!(places.known.len(), 5);
    }

    #[test]
    fn a_price_is_read_from_a_number_or_its_text_in_any_currency_case() {
        for (price, expected) in [
            (
                r#"{"currency": "USD", "on_demand_per_hour": 2.49}"#,
                Some(("2.49", "USD")),
            ),
            (
                r#"{"currency": "eur", "on_demand_per_hour": "2.80"}"#,
                Some(("2.80", "EUR")),
            ),
            (r#"{"on_demand_per_hour": 3}"#, Some(("3", "USD"))),
            (r#"{"currency": "USD", "on_demand_per_hour": "n/a"}"#, None),
            (r#"{"currency": "USD", "on_demand_per_hour": null}"#, None),
            (
                r#"{"currency": "dollars", "on_demand_per_hour": 2.5}"#,
                None,
            ),
        ] {
            let w =
                entry(&GH200.replace(r#"{"currency": "USD", "on_demand_per_hour": 2.8}"#, price))
                    .into_owned();
            let expected =
                expected.map(|(amount, currency)| Price::parse(amount, currency).unwrap());
            assert_eq!(entries_of(&w)[0].base_price, expected, "{price}");
        }
    }

    #[test]
    fn no_price_is_unknown_and_a_workshop_is_named_and_kept() {
        let mut w = entry(GH200);
        w.price = None;
        w.workshop_id = "January training".into();
        let entries = entries_of(&w);
        assert!(entries[0].base_price.is_none());
        assert_eq!(entries[0].type_name, "dmz_gh200x1.january-training");
        assert_eq!(entries[0].reserved_instance_pool_id, "January training");
    }

    #[test]
    fn every_state_is_mapped_and_failed_is_not_error() {
        use LifecycleStatus as L;
        for (state, want, says) in [
            ("waiting", L::Pending, false),
            ("ready", L::Running, false),
            ("failed", L::Pending, true),
            ("retrying", L::Pending, true),
            ("paused", L::Pending, true),
            ("starting", L::Pending, false),
            ("stopping", L::Stopping, false),
            ("stopped", L::Stopped, false),
            ("destroying", L::Terminating, false),
            ("destroyed", L::Terminated, false),
            ("error", L::Failed, true),
            ("something-new", L::Pending, false),
        ] {
            let (l, message) = lifecycle(state);
            assert_eq!((l, message.is_some()), (want, says), "{state}");
        }
        assert!(is_gone_or_failed("error") && !is_gone_or_failed("failed"));
    }

    #[test]
    fn a_deployment_agrees_with_its_catalog_entry_and_keeps_its_bookkeeping() {
        let d: wire::Deployment = serde_json::from_str(
            r#"{"id": "5330c898-f3e7-4972-bfd0-1d438e3774d7", "cluster": "c", "gpu_count": 1,
                "gpu_model": "gh200", "provider_name": "dmz", "region": "pdx", "request_id": "job-7",
                "ssh_port": 2222, "ssh_user": "ubuntu", "state": "ready", "created": "2024-04-01T06:14:32.602Z",
                "tags": {"gpucloud-ref-id": "job-7", "gpucloud-cred-ref-id": "team-a",
                         "gpucloud-name": "Train Job #1", "owner": "ml"}}"#,
        )
        .unwrap();
        let catalog = entries_of(&entry(GH200));
        let i = instance(d, Some("203.0.113.9"));
        assert_eq!(i.instance_type_id, catalog[0].id);
        assert_eq!(i.instance_type, catalog[0].type_name.as_str());
        assert_eq!(
            (i.ref_id.as_str(), i.cloud_cred_ref_id.as_str()),
            ("job-7", "team-a")
        );
        assert_eq!(
            (i.name.as_str(), i.hostname.as_str()),
            ("Train Job #1", "train-job-1")
        );
        assert_eq!(i.tags.keys().collect::<Vec<_>>(), ["owner"]);
        assert_eq!(
            (i.public_ip.as_str(), i.ssh_port, i.ssh_user.as_str()),
            ("203.0.113.9", 2222, "ubuntu")
        );
        assert_eq!(
            i.internal_port_mappings,
            [PortMapping {
                from_port: 22,
                to_port: 2222
            }]
        );
        assert_eq!(
            (i.location.as_str(), i.sub_location.as_str()),
            ("us-west", "pdx")
        );
        assert!(i.created_at.is_some());
        assert_eq!(i.status.lifecycle_status, LifecycleStatus::Running);
    }

    #[test]
    fn a_deployment_made_elsewhere_has_empty_bookkeeping() {
        let d: wire::Deployment =
            serde_json::from_str(r#"{"id": "x", "state": "waiting", "tags": {"team": "ml"}}"#)
                .unwrap();
        assert_eq!(mark(&d), "");
        assert_eq!(ref_id(&d), "");
        let i = instance(d, None);
        assert!(i.ref_id.is_empty() && i.cloud_cred_ref_id.is_empty() && i.hostname.is_empty());
        assert!(i.public_ip.is_empty());
        assert_eq!(i.ssh_port, 22);
    }

    #[test]
    fn the_experience_rule() {
        assert_eq!(experience_for("dmz", "GH200", "SXM"), EXPERIENCE_DMZ_GH200);
        assert_eq!(experience_for("dmz", "H100", "pcie"), EXPERIENCE_DEFAULT);
        assert_eq!(experience_for("Nebius", "H100", "sxm"), EXPERIENCE_NEBIUS);
        assert_eq!(experience_for("oci", "A100", "sxm"), EXPERIENCE_DEFAULT);
    }

    #[test]
    fn tags_carry_name_and_bookkeeping() {
        let user = Tags::from([("team".to_owned(), "ml".to_owned())]);
        let b = Bookkeeping {
            ref_id: "r".into(),
            cred_ref_id: "c".into(),
            created_at: None,
        };
        let tags = wire_tags(&user, &b, " Job ");
        assert_eq!(tags[NAME_TAG], "Job");
        assert_eq!(tags[REF_ID_TAG], "r");
        assert_eq!(tags["team"], "ml");
    }
}
