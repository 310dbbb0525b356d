//! Pure conversions between Shadeform's JSON and the model, both directions: stable type
//! names and ids, GPUs, the catalog and its locations (placed by [`crate::region`]'s rule),
//! instance states, instances, tags, the SSH-key name and the launch script.

use std::borrow::Cow;
use std::time::Duration;

use gpucloud_bootstrap::Bootstrap;
use gpucloud_core::hostname::{instance_hostname, is_dns_label};
use gpucloud_core::sshkey::PublicKey;
use gpucloud_core::text::hex;
use gpucloud_core::{
    Architecture, Bookkeeping, Bytes, BytesUnit, CloudError, CompactString, Gpu, Instance,
    InstanceId, InstanceType, InstanceTypeId, LifecycleStatus, Location, Manufacturer, PortMapping,
    Price, Result, SmallVec, Status, Storage, Tags,
};
use jiff::Timestamp;
use sha2::Digest as _;

use crate::region;
use crate::wire;

/// The provider id.
pub(crate) const PROVIDER: &str = "shadeform";

/// The gpucloud location of an upstream region, by rule (see [`crate::region`]).
pub(crate) use crate::region::location_of;

/// The cloud shown for an upstream: Shadeform's own spare capacity (`excesssupply`) is
/// Shadeform's.
pub(crate) fn cloud_name(cloud: &str) -> &str {
    if cloud == "excesssupply" {
        PROVIDER
    } else {
        cloud
    }
}

/// The type name a create takes: `<cloud>_<shade type>` (the upstream cloud first, because
/// the same Shadeform type is sold by several clouds at different prices).
pub(crate) fn type_name(cloud: &str, shade_type: &str) -> String {
    joined(&[cloud, shade_type])
}

/// `parts` joined by `_`, in one allocation of the exact size (the catalog builds two such
/// strings per entry, so no formatting machinery).
fn joined(parts: &[&str]) -> String {
    let mut out = String::with_capacity(joined_len(parts));
    push_joined(&mut out, parts);
    out
}

/// [`type_name`] as the catalog keeps it: inline when short, as most are.
fn compact_type_name(cloud: &str, shade_type: &str) -> CompactString {
    let parts = [cloud, shade_type];
    let mut out = CompactString::with_capacity(joined_len(&parts));
    push_joined(&mut out, &parts);
    out
}

fn joined_len(parts: &[&str]) -> usize {
    parts.iter().map(|p| p.len()).sum::<usize>() + parts.len().saturating_sub(1)
}

fn push_joined(out: &mut impl std::fmt::Write, parts: &[&str]) {
    for (i, part) in parts.iter().enumerate() {
        // Writing to a string cannot fail.
        let _ = if i > 0 {
            out.write_char('_').and_then(|()| out.write_str(part))
        } else {
            out.write_str(part)
        };
    }
}

/// `<cloud>_<shade type>` split at the first `_` (cloud names have none; shade types may,
/// as in `A100_80G`). `None` when either part is empty.
pub(crate) fn split_type_name(name: &str) -> Option<(&str, &str)> {
    name.split_once('_')
        .filter(|(cloud, shade)| !cloud.is_empty() && !shade.is_empty())
}

/// The stable id of an offer: `<cloud>_<shade type>_<region>`. Built here for both the
/// catalog entry and the instance, so the two always agree.
pub(crate) fn type_id(cloud: &str, shade_type: &str, region: &str) -> InstanceTypeId {
    InstanceTypeId::new(joined(&[cloud, shade_type, region]))
}

fn non_negative(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// GPU model names normalised so far, by Shadeform's `gpu_type`: the same model (`H100`,
/// `A100_80G`) is sold by many clouds in many sizes and comes back in every catalog call, so
/// it is normalised once. Bounded: past [`GpuNames::MAX`] models (an answer no real catalog
/// gives) names are normalised without being kept.
#[derive(Debug, Default, Clone)]
pub(crate) struct GpuNames(Vec<(String, CompactString)>);

impl GpuNames {
    /// The most models kept.
    const MAX: usize = 128;

    /// The normalised name of `gpu_type`.
    fn of(&mut self, gpu_type: &str) -> CompactString {
        if let Some((_, name)) = self.0.iter().find(|(m, _)| m == gpu_type) {
            return name.clone();
        }
        let name = gpu_model(gpu_type);
        if self.0.len() < Self::MAX {
            self.0.push((gpu_type.to_owned(), name.clone()));
        }
        name
    }

    /// How many models are kept.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// The GPU model of a Shadeform GPU type, as core names models: `A100_80G`,
/// `A100_80G_sxm4`, `H100-plus`, `H100x8-2` and `h100_sxm5` are all `A100` or `H100`. The
/// words (split at `_` and `-`) lose a count (`x8`), and a memory size (`80G`), a variant
/// (`plus`) or a bare number (the `2` of `x8-2`) is no part of the model; core's
/// [`normalize_gpu_name`](gpucloud_core::normalize_gpu_name) then drops form factors
/// (`sxm4`, `pcie`) and vendors and upper-cases it.
pub(crate) fn gpu_model(gpu_type: &str) -> CompactString {
    let mut model = String::with_capacity(gpu_type.len());
    for word in gpu_type.split(['_', '-']).map(without_count) {
        if word.is_empty()
            || word.eq_ignore_ascii_case("plus")
            || word.bytes().all(|b| b.is_ascii_digit())
            || is_memory_size(word)
        {
            continue;
        }
        if !model.is_empty() {
            model.push(' ');
        }
        model.push_str(word);
    }
    gpucloud_core::normalize_gpu_name(&model)
}

/// `A100x8` → `A100`, `80Gx8` → `80G`: a trailing lower-case `x` and digits is a count (an
/// upper-case `X` is part of a model, as in `MI300X`).
fn without_count(word: &str) -> &str {
    match word.rsplit_once('x') {
        Some((head, count))
            if !head.is_empty()
                && !count.is_empty()
                && count.bytes().all(|b| b.is_ascii_digit()) =>
        {
            head
        }
        _ => word,
    }
}

/// `80G`, `80GB`, `141gb`: a memory size in Shadeform's spelling.
fn is_memory_size(word: &str) -> bool {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(word[digits..].to_ascii_uppercase().as_str(), "G" | "GB")
}

/// The GPUs of a configuration, or `None` for a CPU-only one.
pub(crate) fn gpu(c: &wire::OfferConfiguration<'_>, names: &mut GpuNames) -> Option<Gpu> {
    if c.num_gpus <= 0 {
        return None;
    }
    let name = names.of(&c.gpu_type);
    if name.is_empty() {
        return None;
    }
    let raw = c.interconnect.as_str();
    let interconnect: Cow<'_, str> = if raw.eq_ignore_ascii_case("pcie") {
        Cow::Borrowed("PCIe")
    } else if ["sxm", "sxm4", "sxm5", "sxm6"]
        .iter()
        .any(|s| raw.eq_ignore_ascii_case(s))
    {
        Cow::Owned(raw.to_ascii_uppercase())
    } else {
        Cow::Borrowed(raw)
    };
    let network_details = match (interconnect.as_ref(), c.nvlink) {
        ("", true) => CompactString::const_new("NVLink"),
        (i, true) if !i.contains("SXM") => joined_nvlink(i),
        (i, _) => CompactString::from(i),
    };
    let manufacturer = if c.gpu_manufacturer.eq_ignore_ascii_case("nvidia") {
        Manufacturer::Nvidia
    } else {
        Manufacturer::parse_lenient(&c.gpu_manufacturer)
    };
    Some(Gpu {
        count: non_negative(c.num_gpus),
        memory_bytes: if c.vram_per_gpu_in_gb > 0 {
            Bytes::new(c.vram_per_gpu_in_gb, BytesUnit::GB)
        } else {
            Bytes::ZERO
        },
        memory_details: CompactString::default(),
        gpu_type: CompactString::from(c.gpu_type.as_str()),
        network_details,
        manufacturer,
        name,
    })
}

/// `<interconnect>, NVLink`.
fn joined_nvlink(interconnect: &str) -> CompactString {
    let mut out = CompactString::with_capacity(interconnect.len() + 8);
    out.push_str(interconnect);
    out.push_str(", NVLink");
    out
}

/// Grace-based superchips (`GH…`, `GB…`) are ARM; everything else x86-64.
fn architecture(gpu: Option<&Gpu>) -> Architecture {
    match gpu {
        Some(g) if g.name.starts_with("GH") || g.name.starts_with("GB") => Architecture::Arm64,
        _ => Architecture::X86_64,
    }
}

/// The boot-time estimate: the mean of min and max, or whichever is given.
pub(crate) fn boot_estimate(boot: Option<wire::BootTime>) -> Option<Duration> {
    let boot = boot?;
    let secs = |s: Option<i64>| s.filter(|s| *s >= 0).and_then(|s| u64::try_from(s).ok());
    let seconds = match (secs(boot.min_boot_in_sec), secs(boot.max_boot_in_sec)) {
        (Some(a), Some(b)) => a.midpoint(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return None,
    };
    Some(Duration::from_secs(seconds))
}

/// What one catalog call leaves for the next: the GPU names it normalised and how many
/// entries it made (the next one reserves room for as many at once).
#[derive(Debug, Default, Clone)]
pub(crate) struct CatalogMemory {
    pub(crate) gpu_names: GpuNames,
    pub(crate) entries: usize,
}

/// The catalog, built offer by offer as the answer is parsed: one entry per (upstream cloud,
/// Shadeform type, region) that the allow-list and the filter admit.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    entries: Vec<InstanceType>,
    gpu_names: GpuNames,
}

impl Catalog {
    /// An empty catalog that starts from what an earlier call left.
    pub(crate) fn resume(memory: CatalogMemory) -> Self {
        Self {
            entries: Vec::with_capacity(memory.entries),
            gpu_names: memory.gpu_names,
        }
    }

    /// Adds the entries of offer `t` that `allows` (the allow-list, by cloud and Shadeform
    /// type), `in_location` (the location filter) and `keep` (the caller's whole filter, on
    /// an entry) admit.
    pub(crate) fn add(
        &mut self,
        t: &wire::InstanceType<'_>,
        allows: impl Fn(&str, &str) -> bool,
        in_location: impl Fn(&str) -> bool,
        keep: impl Fn(&InstanceType) -> bool,
    ) {
        let (cloud, shade) = (t.cloud.as_str(), t.shade_instance_type.as_str());
        if cloud.is_empty() || shade.is_empty() || !allows(cloud, shade) {
            return;
        }
        let mut regions = t.availability.iter().filter(|a| !a.region.is_empty());
        let Some(mut next) = regions.next() else {
            return;
        };
        let gpu = gpu(&t.configuration, &mut self.gpu_names);
        self.entries.reserve(t.availability.len());
        let c = &t.configuration;
        let mut template = InstanceType {
            type_name: compact_type_name(cloud, shade),
            supported_architectures: [architecture(gpu.as_ref())].into(),
            supported_gpus: gpu.into_iter().collect(),
            supported_storage: if c.storage_in_gb > 0 {
                [Storage {
                    count: 1,
                    size_bytes: Bytes::new(c.storage_in_gb, BytesUnit::GB),
                    storage_type: CompactString::const_new("ssd"),
                    ..Storage::default()
                }]
                .into()
            } else {
                SmallVec::new()
            },
            supported_usage_classes: [CompactString::const_new("on-demand")].into(),
            memory_bytes: Bytes::new(c.memory_in_gb.max(0), BytesUnit::GB),
            vcpu: non_negative(c.vcpus),
            stoppable: false,
            rebootable: true,
            base_price: t.hourly_price.filter(|p| *p >= 0).map(Price::usd_cents),
            is_container: t.deployment_type.as_str() == "container",
            estimated_deploy_time: boot_estimate(t.boot_time),
            provider: CompactString::const_new(PROVIDER),
            cloud: CompactString::from(cloud_name(cloud)),
            can_modify_firewall_rules: false,
            ..InstanceType::default()
        };
        loop {
            let following = regions.next();
            let region = next.region.as_str();
            let location = location_of(region);
            if in_location(&location) {
                template.location.clear();
                template.location.push_str(&location);
                // Only the location differs between the regions of one offer, and it passed:
                // an entry refused now is refused for every region.
                if !keep(&template) {
                    return;
                }
                // The last region takes the template itself: one clone fewer per offer.
                let mut entry = if following.is_some() {
                    template.clone()
                } else {
                    std::mem::take(&mut template)
                };
                entry.id = type_id(cloud, shade, region);
                entry.sub_location = CompactString::from(region);
                entry.is_available = next.available;
                self.entries.push(entry);
            }
            match following {
                Some(a) => next = a,
                None => return,
            }
        }
    }

    /// The entries, in the order of the answer, and what the next call starts from.
    pub(crate) fn into_parts(self) -> (Vec<InstanceType>, CatalogMemory) {
        let memory = CatalogMemory {
            entries: self.entries.len(),
            gpu_names: self.gpu_names,
        };
        (self.entries, memory)
    }
}

/// The gpucloud locations of a catalog, built offer by offer: available when any of their
/// regions has an available offer, described by the upstream regions' display names, and in
/// a country when all their regions are.
#[derive(Debug, Default)]
pub(crate) struct Locations(Vec<Location>);

impl Locations {
    /// Adds the regions of offer `t`.
    pub(crate) fn add(&mut self, t: &wire::InstanceType<'_>) {
        for a in &t.availability {
            let region = a.region.as_str();
            if region.is_empty() {
                continue;
            }
            let place = region::place(region);
            let entry = if let Some(index) = self.0.iter().position(|l| l.name == place.location) {
                let entry = &mut self.0[index];
                if entry.country != place.country {
                    // Regions of several countries (or of an unknown one): none.
                    entry.country.clear();
                }
                entry
            } else {
                self.0.push(Location {
                    name: place.location.into_owned(),
                    country: place.country.to_owned(),
                    ..Location::default()
                });
                let last = self.0.len() - 1;
                &mut self.0[last]
            };
            entry.available |= a.available;
            let label = if a.display_name.is_empty() {
                region.to_owned()
            } else {
                format!("{} ({region})", a.display_name)
            };
            if !entry.description.split("; ").any(|d| d == label) {
                if !entry.description.is_empty() {
                    entry.description.push_str("; ");
                }
                entry.description.push_str(&label);
            }
        }
    }

    /// The locations, by name.
    pub(crate) fn into_sorted(mut self) -> Vec<Location> {
        self.0.sort_by(|a, b| a.name.cmp(&b.name));
        self.0
    }
}

/// Shadeform's instance status → lifecycle status. Unknown values are `pending` with a
/// message, so a waiter neither hands the instance out nor gives up on it.
pub(crate) fn status(raw: &str, details: &str) -> Status {
    let (lifecycle, message) = match raw {
        "creating" | "pending_provider" | "pending" => (LifecycleStatus::Pending, None),
        "active" => (LifecycleStatus::Running, None),
        "deleting" => (LifecycleStatus::Terminating, None),
        "deleted" => (LifecycleStatus::Terminated, None),
        "error" => (
            LifecycleStatus::Failed,
            Some("shadeform reports the instance in error".to_owned()),
        ),
        other => (
            LifecycleStatus::Pending,
            Some(format!("unknown shadeform status {other:?}")),
        ),
    };
    let mut messages: Vec<String> = message.into_iter().collect();
    if !details.is_empty() {
        messages.push(details.to_owned());
    }
    Status {
        lifecycle_status: lifecycle,
        messages,
    }
}

/// Statuses of an instance that a create with the same RefID must not return.
pub(crate) fn is_gone_or_failed(status: &str) -> bool {
    matches!(status, "deleting" | "deleted" | "error")
}

/// Tags as Shadeform stores them (strings) → pairs: `key=value` splits at the first `=`; a
/// string without `=` is a key with an empty value.
fn tag_pairs<'a>(tags: &'a [wire::Text<'_>]) -> impl Iterator<Item = (&'a str, &'a str)> {
    tags.iter()
        .map(|t| t.split_once('=').unwrap_or((t.as_str(), "")))
}

/// The value of a tag on a wire instance.
pub(crate) fn tag<'a>(w: &'a wire::Instance<'_>, key: &str) -> Option<&'a str> {
    tag_pairs(&w.tags).find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// The tags to store: the bookkeeping ones and then the user's, each `key=value`.
pub(crate) fn wire_tags(user: &Tags, bookkeeping: &Bookkeeping) -> Vec<String> {
    bookkeeping
        .encode_with(user)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// User tag keys cannot hold `=`: it separates key from value in Shadeform's string tags.
pub(crate) fn check_user_tags(tags: &Tags) -> Result<()> {
    match tags.keys().find(|k| k.contains('=')) {
        Some(key) => Err(CloudError::invalid(
            format!("tags[{key:?}]"),
            "Shadeform stores tags as key=value strings: a key cannot contain '='",
        )),
        None => Ok(()),
    }
}

/// A time of Shadeform's (RFC 3339); Go's zero time, which it sends for one that has not
/// happened, and anything else before 1970 is none.
pub(crate) fn api_time(text: &str) -> Option<Timestamp> {
    text.parse::<Timestamp>()
        .ok()
        .filter(|t| *t > Timestamp::UNIX_EPOCH)
}

/// What Shadeform expects of a boot (`boot_time`), for a machine on its way.
fn boot_message(boot: Option<wire::BootTime>) -> Option<String> {
    let boot = boot?;
    let secs = |s: Option<i64>| s.filter(|s| *s >= 0);
    match (secs(boot.min_boot_in_sec), secs(boot.max_boot_in_sec)) {
        (Some(min), Some(max)) if min < max => {
            Some(format!("shadeform expects it to boot in {min}-{max} s"))
        }
        (_, Some(s)) | (Some(s), None) => Some(format!("shadeform expects it to boot in {s} s")),
        (None, None) => None,
    }
}

/// What the model has no field for, as status messages after the status's own: the boot
/// Shadeform expects (while on its way), when it became active (`active_at`) and what it has
/// cost so far (`cost_estimate`, USD; a text that is no decimal is left out).
fn account_messages(w: &wire::Instance<'_>, messages: &mut Vec<String>) {
    if matches!(
        w.status.as_str(),
        "creating" | "pending_provider" | "pending"
    ) && let Some(boot) = boot_message(w.boot_time)
    {
        messages.push(boot);
    }
    let active_at = api_time(&w.active_at);
    if let Some(at) = active_at {
        messages.push(format!("active since {at}"));
    }
    if let Ok(cost) = Price::parse(w.cost_estimate.as_str(), "USD")
        && (active_at.is_some() || !cost.amount.is_zero())
    {
        messages.push(format!("cost so far {:.2} USD", cost.rounded()));
    }
}

/// A Shadeform instance → [`Instance`]. The name is Shadeform's `name` as is, in get and in
/// list alike; bookkeeping tags become `ref_id`, `cloud_cred_ref_id` and `created_at`.
pub(crate) fn instance(w: wire::Instance<'_>) -> Instance {
    let mut status = status(&w.status, &w.status_details);
    account_messages(&w, &mut status.messages);
    let lifecycle = status.lifecycle_status;
    let (bookkeeping, tags) = Bookkeeping::decode(tag_pairs(&w.tags));
    let created_at = bookkeeping.created_at.or_else(|| api_time(&w.created_at));
    let instance_type_id = if w.cloud.is_empty() || w.shade_instance_type.is_empty() {
        InstanceTypeId::default()
    } else {
        type_id(&w.cloud, &w.shade_instance_type, &w.region)
    };
    let instance_type = if w.cloud.is_empty() {
        w.shade_instance_type.as_str().to_owned()
    } else {
        type_name(&w.cloud, &w.shade_instance_type)
    };
    let port = |p: Option<i64>| p.and_then(|p| u16::try_from(p).ok());
    // Shadeform has no host name field; the launch script sets the one core derives from the
    // name and RefID, so it is derived again here from the same two.
    let hostname = if bookkeeping.ref_id.is_empty() {
        String::new()
    } else {
        instance_hostname(&w.name, &bookkeeping.ref_id)
    };
    Instance {
        hostname,
        name: w.name,
        ref_id: bookkeeping.ref_id,
        cloud_cred_ref_id: bookkeeping.cred_ref_id,
        created_at,
        cloud_id: InstanceId::new(w.id),
        public_ip: w.ip.clone(),
        public_dns: w.ip,
        image_id: w.configuration.os.clone(),
        instance_type,
        disk_size_bytes: if w.configuration.storage_in_gb > 0 {
            Bytes::new(w.configuration.storage_in_gb, BytesUnit::GB)
        } else {
            Bytes::ZERO
        },
        ssh_user: w.ssh_user,
        ssh_port: u16::try_from(w.ssh_port)
            .ok()
            .filter(|p| *p > 0)
            .unwrap_or(22),
        status,
        location: location_of(&w.region).into_owned(),
        sub_location: w.region,
        tags,
        stoppable: false,
        rebootable: lifecycle == LifecycleStatus::Running,
        instance_type_id,
        internal_port_mappings: w
            .port_mappings
            .iter()
            .filter_map(|m| {
                Some(PortMapping {
                    from_port: port(m.internal_port)?,
                    to_port: port(m.external_port)?,
                })
            })
            .collect(),
        ..Instance::default()
    }
}

/// The name a key is added under when the account does not hold it yet: derived from the key
/// itself, so the same key always gets the same name and two keys never share one.
pub(crate) fn key_name(key: &PublicKey) -> String {
    let digest = sha2::Sha256::digest(&key.blob);
    format!("gpucloud-{}", hex(&digest[..10]))
}

/// The launch script Shadeform runs once on the new machine (`launch_configuration` of type
/// `script`): the bootstrap's first-boot script ([`Bootstrap::startup_script`]) with the host
/// name (`hostname`, a DNS label made by core; anything else is left to the image) and the
/// user's own script.
pub(crate) fn launch_script(
    bootstrap: Bootstrap,
    hostname: &str,
    user_data: Option<&[u8]>,
) -> Result<String> {
    let mut bootstrap = bootstrap;
    if is_dns_label(hostname) {
        bootstrap = bootstrap.with_hostname(hostname)?;
    }
    if let Some(data) = user_data {
        check_user_data(data)?;
        bootstrap = bootstrap.with_user_data(data)?;
    }
    bootstrap.startup_script(PROVIDER)
}

/// Shadeform runs a launch script, not cloud-init: the user data must be a script (`#!`).
pub(crate) fn check_user_data(data: &[u8]) -> Result<()> {
    if data.starts_with(b"#!") {
        Ok(())
    } else {
        Err(CloudError::invalid(
            "user_data_base64",
            "Shadeform runs user data as the instance's launch script, not through cloud-init: \
             give a script starting with #! (a #cloud-config cannot be applied)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use gpucloud_core::bookkeeping::REF_ID_TAG;
    use gpucloud_core::sshkey::parse_public_key;

    use super::*;

    fn conf<'a>(
        gpu_type: &'a str,
        n: i64,
        interconnect: &'a str,
        nvlink: bool,
    ) -> wire::OfferConfiguration<'a> {
        wire::OfferConfiguration {
            memory_in_gb: 200,
            storage_in_gb: 1000,
            vcpus: 24,
            num_gpus: n,
            gpu_type: gpu_type.into(),
            interconnect: interconnect.into(),
            nvlink,
            vram_per_gpu_in_gb: 80,
            gpu_manufacturer: "nvidia".into(),
            ..wire::OfferConfiguration::default()
        }
    }

    fn offer<'a>(
        cloud: &'a str,
        shade: &'a str,
        regions: &[(&'a str, bool)],
    ) -> wire::InstanceType<'a> {
        wire::InstanceType {
            cloud: cloud.into(),
            shade_instance_type: shade.into(),
            configuration: conf("A100_80G", 8, "sxm4", true),
            hourly_price: Some(1432),
            deployment_type: "vm".into(),
            availability: regions
                .iter()
                .map(|(r, a)| wire::Availability {
                    region: (*r).into(),
                    available: *a,
                    display_name: format!("DC {r}").into(),
                })
                .collect(),
            boot_time: Some(wire::BootTime {
                min_boot_in_sec: Some(180),
                max_boot_in_sec: Some(301),
            }),
        }
    }

    /// One offer's GPUs, with a fresh cache of names.
    fn gpu(c: &wire::OfferConfiguration<'_>) -> Option<Gpu> {
        super::gpu(c, &mut GpuNames::default())
    }

    /// The catalog of `types` under an allow-list and no filter.
    #[allow(clippy::needless_pass_by_value)] // The tests hand their offers over.
    fn instance_types(
        types: Vec<wire::InstanceType<'_>>,
        allows: impl Fn(&str, &str) -> bool,
    ) -> Vec<InstanceType> {
        let mut catalog = Catalog::default();
        for t in &types {
            catalog.add(t, &allows, |_| true, |_| true);
        }
        catalog.into_parts().0
    }

    fn locations(types: &[wire::InstanceType<'_>]) -> Vec<Location> {
        let mut locations = Locations::default();
        for t in types {
            locations.add(t);
        }
        locations.into_sorted()
    }

    #[test]
    fn type_names_and_ids_are_stable_and_split_at_the_first_underscore() {
        assert_eq!(type_name("hyperstack", "A100_80G"), "hyperstack_A100_80G");
        assert_eq!(
            split_type_name("hyperstack_A100_80G"),
            Some(("hyperstack", "A100_80G"))
        );
        for bad in ["A100", "_A100", "hyperstack_", ""] {
            assert_eq!(split_type_name(bad), None, "{bad}");
        }
        assert_eq!(
            type_id("verda", "B200", "helsinki-finland-5").as_str(),
            "verda_B200_helsinki-finland-5"
        );
    }

    #[test]
    fn gpus_are_normalized() {
        let g = gpu(&conf("A100_80G", 8, "sxm4", true)).unwrap();
        assert_eq!(
            (g.name.as_str(), g.count, g.gpu_type.as_str()),
            ("A100", 8, "A100_80G")
        );
        assert_eq!(g.memory_bytes, Bytes::new(80, BytesUnit::GB));
        assert_eq!(g.network_details, "SXM4");
        assert_eq!(g.manufacturer, Manufacturer::Nvidia);
        let pcie = gpu(&conf("A6000", 1, "pcie", true)).unwrap();
        assert_eq!(pcie.network_details, "PCIe, NVLink");
        assert_eq!(
            gpu(&conf("H100", 1, "pcie", false))
                .unwrap()
                .network_details,
            "PCIe"
        );
        let mut amd = conf("MI300X", 8, "", false);
        amd.gpu_manufacturer = "AMD".into();
        assert_eq!(gpu(&amd).unwrap().manufacturer, Manufacturer::Amd);
        assert_eq!(gpu(&conf("A100", 0, "pcie", false)), None);
        assert_eq!(gpu(&conf("", 1, "pcie", false)), None);
        let gh = gpu(&conf("GH200", 1, "", false));
        assert_eq!(architecture(gh.as_ref()), Architecture::Arm64);
        assert_eq!(architecture(None), Architecture::X86_64);
    }

    #[test]
    fn gpu_models_drop_shadeforms_suffixes() {
        for (gpu_type, model) in [
            ("A100_80G", "A100"),
            ("A100_80G_sxm4", "A100"),
            ("A100_80Gx8", "A100"),
            ("A100_80G_sxm4x8-plus", "A100"),
            ("H100", "H100"),
            ("h100_sxm5", "H100"),
            ("H100-plus", "H100"),
            ("H100x8-2", "H100"),
            ("H100_sxm5x8-2", "H100"),
            ("H200_141GB", "H200"),
            ("GH200", "GH200"),
            ("B200", "B200"),
            ("L40S", "L40S"),
            ("MI300X", "MI300X"),
            ("MI300Xx8", "MI300X"),
            ("RTX_A6000", "RTX A6000"),
            ("A6000", "A6000"),
            ("", ""),
            ("_-x8", "X8"),
        ] {
            assert_eq!(gpu_model(gpu_type), model, "{gpu_type}");
        }
        let g = gpu(&conf("A100_80G_sxm4", 8, "sxm4", true)).unwrap();
        assert_eq!(
            (g.name.as_str(), g.gpu_type.as_str()),
            ("A100", "A100_80G_sxm4"),
            "the raw type stays the GPU's type"
        );
    }

    #[test]
    fn boot_estimates_average_what_is_given() {
        let b = |min, max| {
            boot_estimate(Some(wire::BootTime {
                min_boot_in_sec: min,
                max_boot_in_sec: max,
            }))
        };
        assert_eq!(b(Some(180), Some(300)), Some(Duration::from_secs(240)));
        assert_eq!(b(Some(180), None), Some(Duration::from_secs(180)));
        assert_eq!(b(None, Some(60)), Some(Duration::from_secs(60)));
        assert_eq!(b(None, None), None);
        assert_eq!(b(Some(-5), None), None);
        assert_eq!(
            b(Some(i64::MAX), Some(i64::MAX)),
            Some(Duration::from_secs(i64::MAX as u64))
        );
        assert_eq!(boot_estimate(None), None);
    }

    #[test]
    fn one_entry_per_region_with_the_upstream_cloud_and_the_allow_list() {
        let types = vec![
            offer(
                "hyperstack",
                "A100_80Gx8",
                &[("canada-1", true), ("norway-1", false)],
            ),
            offer("excesssupply", "H100", &[("us-east-1", true)]),
            offer("verda", "B200", &[("", true)]),
        ];
        let all = instance_types(types.clone(), |_, _| true);
        assert_eq!(all.len(), 3);
        let e = &all[0];
        assert_eq!(e.id.as_str(), "hyperstack_A100_80Gx8_canada-1");
        assert_eq!(e.type_name, "hyperstack_A100_80Gx8");
        assert_eq!(
            (e.location.as_str(), e.sub_location.as_str()),
            ("ca-central", "canada-1")
        );
        assert_eq!(
            (e.provider.as_str(), e.cloud.as_str()),
            ("shadeform", "hyperstack")
        );
        assert_eq!(e.base_price, Some(Price::usd_cents(1432)));
        assert!(e.is_available && !all[1].is_available);
        assert_eq!(all[1].location, "eu-north");
        assert_eq!(e.estimated_deploy_time, Some(Duration::from_secs(240)));
        assert!(!e.stoppable && e.rebootable && !e.is_container);
        assert_eq!(e.memory_bytes, Bytes::new(200, BytesUnit::GB));
        assert_eq!(
            e.supported_storage[0].size_bytes,
            Bytes::new(1000, BytesUnit::GB)
        );
        assert_eq!(all[2].cloud, "shadeform", "Shadeform's own capacity");
        assert_eq!(
            all[2].type_name, "excesssupply_H100",
            "the API's cloud name to create with"
        );
        let allowed = instance_types(types, |c, t| c == "hyperstack" && t == "A100_80Gx8");
        assert_eq!(allowed.len(), 2);
    }

    #[test]
    fn the_filters_are_applied_while_the_catalog_is_built() {
        let types = [
            offer(
                "hyperstack",
                "A100_80Gx8",
                &[("canada-1", true), ("norway-1", false), ("iceland-1", true)],
            ),
            offer("verda", "B200", &[("helsinki-finland-5", true)]),
        ];
        let build = |in_location: &dyn Fn(&str) -> bool, keep: &dyn Fn(&InstanceType) -> bool| {
            let mut catalog = Catalog::default();
            for t in &types {
                catalog.add(t, |_, _| true, in_location, keep);
            }
            catalog.into_parts().0
        };
        let north = build(&|l| l == "eu-north", &|_| true);
        let ids: Vec<&str> = north.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "hyperstack_A100_80Gx8_norway-1",
                "hyperstack_A100_80Gx8_iceland-1",
                "verda_B200_helsinki-finland-5"
            ]
        );
        assert!(north.iter().all(|e| e.location == "eu-north"));
        assert_eq!(north[1].sub_location, "iceland-1");
        let asked = std::cell::Cell::new(0);
        let verda = build(&|_| true, &|e| {
            asked.set(asked.get() + 1);
            e.cloud == "verda"
        });
        assert_eq!(verda.len(), 1);
        assert_eq!(verda[0].id.as_str(), "verda_B200_helsinki-finland-5");
        assert_eq!(asked.get(), 2, "an offer refused once is not asked again");
    }

    #[test]
    fn gpu_names_are_normalised_once_per_model() {
        let mut names = GpuNames::default();
        let a = super::gpu(&conf("A100_80G", 8, "sxm4", true), &mut names).unwrap();
        let b = super::gpu(&conf("A100", 1, "pcie", false), &mut names).unwrap();
        let h = super::gpu(&conf("h100", 1, "PCIE", false), &mut names).unwrap();
        assert_eq!((a.name.as_str(), b.name.as_str()), ("A100", "A100"));
        assert_eq!(
            (h.name.as_str(), h.network_details.as_str()),
            ("H100", "PCIe")
        );
        let again = super::gpu(&conf("A100_80G", 1, "sxm4", true), &mut names).unwrap();
        assert_eq!(again.name, "A100");
        assert_eq!(names.len(), 3, "each gpu_type once");
        let mut catalog = Catalog::resume(CatalogMemory {
            gpu_names: names,
            entries: 5,
        });
        assert!(catalog.entries.capacity() >= 5);
        catalog.add(
            &offer("verda", "H100", &[("iceland-1", true)]),
            |_, _| true,
            |_| true,
            |_| true,
        );
        let (entries, memory) = catalog.into_parts();
        assert_eq!(
            entries[0].supported_gpus[0].name, "A100",
            "the offer's A100_80G"
        );
        assert_eq!(memory.gpu_names.len(), 3, "kept for the next call");
        assert_eq!(memory.entries, 1);
        let mut many = GpuNames::default();
        for i in 0..GpuNames::MAX + 10 {
            assert_eq!(many.of(&format!("x{i}")), format!("X{i}"));
        }
        assert_eq!(many.len(), GpuNames::MAX, "bounded");
        assert!(matches!(
            location_of("canada-1"),
            Cow::Borrowed("ca-central")
        ));
        assert!(matches!(location_of("mars-1"), Cow::Borrowed("other")));
    }

    #[test]
    fn prices_are_never_invented() {
        let mut t = offer("hyperstack", "A4000", &[("canada-1", true)]);
        t.hourly_price = None;
        assert_eq!(
            instance_types(vec![t.clone()], |_, _| true)[0].base_price,
            None
        );
        t.hourly_price = Some(-1);
        assert_eq!(instance_types(vec![t], |_, _| true)[0].base_price, None);
    }

    #[test]
    fn locations_group_regions_and_are_available_when_any_is() {
        let types = vec![
            offer(
                "hyperstack",
                "A4000",
                &[("norway-1", false), ("canada-1", true)],
            ),
            offer(
                "verda",
                "B200",
                &[("helsinki-finland-5", true), ("norway-1", false)],
            ),
        ];
        let locations = locations(&types);
        let names: Vec<&str> = locations.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["ca-central", "eu-north"]);
        let north = &locations[1];
        assert!(north.available, "helsinki has one");
        assert_eq!(
            north.description,
            "DC norway-1 (norway-1); DC helsinki-finland-5 (helsinki-finland-5)"
        );
        assert_eq!(locations[0].country, "CAN");
        assert_eq!(north.country, "", "Norway and Finland");
        let us = super::tests::locations(&[offer(
            "massedcompute",
            "L40",
            &[
                ("dallas-usa-3", true),
                ("houston-usa-2", false),
                ("fargo-usa-1", false),
                ("lagos-nigeria-1", false),
            ],
        )]);
        let summary: Vec<(&str, &str, bool)> = us
            .iter()
            .map(|l| (l.name.as_str(), l.country.as_str(), l.available))
            .collect();
        assert_eq!(
            summary,
            [
                ("nigeria", "", false),
                ("us", "USA", false),
                ("us-south", "USA", true)
            ],
            "an unlisted city and an unlisted country join shared locations"
        );
    }

    #[test]
    fn statuses_map_to_lifecycles() {
        let cases = [
            ("creating", LifecycleStatus::Pending, false),
            ("pending_provider", LifecycleStatus::Pending, false),
            ("pending", LifecycleStatus::Pending, false),
            ("active", LifecycleStatus::Running, false),
            ("deleting", LifecycleStatus::Terminating, false),
            ("deleted", LifecycleStatus::Terminated, false),
            ("error", LifecycleStatus::Failed, true),
            ("rebooting", LifecycleStatus::Pending, true),
        ];
        for (raw, lifecycle, message) in cases {
            let s = status(raw, "");
            assert_eq!(s.lifecycle_status, lifecycle, "{raw}");
            assert_eq!(!s.messages.is_empty(), message, "{raw}");
        }
        assert_eq!(status("pending", "downloading").messages, ["downloading"]);
    }

    #[test]
    fn instances_keep_names_and_take_bookkeeping_out_of_the_tags() {
        let bookkeeping = Bookkeeping {
            ref_id: "ref-1".into(),
            cred_ref_id: "cred-1".into(),
            created_at: Some("2026-12-01T18:00:00Z".parse().unwrap()),
        };
        let w = wire::Instance {
            id: "d290f1ee-6c54-4b01-90e6-d701748f0851".into(),
            cloud: "hyperstack".into(),
            region: "canada-1".into(),
            shade_instance_type: "A6000".into(),
            name: "train_job".into(),
            ip: "1.0.0.1".into(),
            ssh_user: "shadeform".into(),
            ssh_port: 2222,
            status: "active".into(),
            tags: wire_tags(&Tags::from([("team".into(), "a=b".into())]), &bookkeeping)
                .into_iter()
                .map(wire::Text::from)
                .collect(),
            port_mappings: vec![wire::PortMapping {
                internal_port: Some(8000),
                external_port: Some(80),
            }],
            configuration: wire::InstanceConfiguration {
                os: "ubuntu22.04_cuda12.2_shade_os".into(),
                storage_in_gb: 1000,
            },
            ..wire::Instance::default()
        };
        assert_eq!(tag(&w, REF_ID_TAG), Some("ref-1"));
        let i = instance(w);
        assert_eq!(i.name, "train_job", "the name as Shadeform has it");
        assert_eq!(i.hostname, "train-job");
        assert_eq!(
            (i.ref_id.as_str(), i.cloud_cred_ref_id.as_str()),
            ("ref-1", "cred-1")
        );
        assert_eq!(i.created_at, bookkeeping.created_at);
        assert_eq!(i.tags, Tags::from([("team".into(), "a=b".into())]));
        assert_eq!((i.ssh_user.as_str(), i.ssh_port), ("shadeform", 2222));
        assert_eq!(
            (i.location.as_str(), i.sub_location.as_str()),
            ("ca-central", "canada-1")
        );
        assert_eq!(i.instance_type, "hyperstack_A6000");
        assert_eq!(i.instance_type_id.as_str(), "hyperstack_A6000_canada-1");
        assert_eq!(i.image_id, "ubuntu22.04_cuda12.2_shade_os");
        assert!(i.rebootable && !i.stoppable);
        assert_eq!(
            i.internal_port_mappings,
            [PortMapping {
                from_port: 8000,
                to_port: 80
            }]
        );
        let entry = &instance_types(
            vec![offer("hyperstack", "A6000", &[("canada-1", true)])],
            |_, _| true,
        )[0];
        assert_eq!(
            i.instance_type_id, entry.id,
            "the instance finds its catalog entry"
        );
    }

    #[test]
    fn instances_carry_what_the_model_has_no_field_for_as_messages() {
        let live = |status: &'static str| wire::Instance {
            id: "d290f1ee-6c54-4b01-90e6-d701748f0851".into(),
            cloud: "crusoe".into(),
            region: "calgary-canada-1".into(),
            shade_instance_type: "A100_80G_sxm4x8".into(),
            status: status.into(),
            configuration: wire::InstanceConfiguration {
                os: "ubuntu22.04_cuda12.8_shade_os".into(),
                storage_in_gb: 7680,
            },
            created_at: "2026-12-01T17:55:00Z".into(),
            active_at: "0001-01-01T00:00:00Z".into(),
            cost_estimate: wire::Amount("0.00".into()),
            boot_time: Some(wire::BootTime {
                min_boot_in_sec: Some(300),
                max_boot_in_sec: Some(900),
            }),
            ..wire::Instance::default()
        };
        let mut pending = live("pending");
        pending.status_details = "downloading".into();
        let i = instance(pending);
        assert_eq!(i.status.lifecycle_status, LifecycleStatus::Pending);
        assert_eq!(
            i.status.messages,
            ["downloading", "shadeform expects it to boot in 300-900 s"],
            "no active_at (Go's zero time) and no cost yet"
        );
        assert_eq!(i.image_id, "ubuntu22.04_cuda12.8_shade_os");
        assert_eq!(i.created_at, Some("2026-12-01T17:55:00Z".parse().unwrap()));
        assert_eq!(
            (
                i.instance_type.as_str(),
                i.instance_type_id.as_str(),
                i.location.as_str()
            ),
            (
                "crusoe_A100_80G_sxm4x8",
                "crusoe_A100_80G_sxm4x8_calgary-canada-1",
                "ca-central"
            )
        );

        let mut active = live("active");
        active.active_at = "2026-12-01T18:00:00.001Z".into();
        active.cost_estimate = wire::Amount("103.4".into());
        let i = instance(active);
        assert_eq!(i.status.lifecycle_status, LifecycleStatus::Running);
        assert_eq!(
            i.status.messages,
            [
                "active since 2026-12-01T18:00:00.001Z",
                "cost so far 103.40 USD"
            ]
        );

        let mut failed = live("error");
        failed.status_details = "the upstream cloud could not provision the instance".into();
        let i = instance(failed);
        assert_eq!(i.status.lifecycle_status, LifecycleStatus::Failed);
        assert_eq!(
            i.status.messages,
            [
                "shadeform reports the instance in error",
                "the upstream cloud could not provision the instance"
            ],
            "the error first: it is what a failed instance shows"
        );

        // What cannot be read is left out, never a failed read.
        let mut odd = live("creating");
        odd.active_at = "yesterday".into();
        odd.created_at = "0001-01-01T00:00:00Z".into();
        odd.cost_estimate = wire::Amount("about $5".into());
        odd.boot_time = Some(wire::BootTime {
            min_boot_in_sec: Some(-1),
            max_boot_in_sec: Some(120),
        });
        let i = instance(odd);
        assert_eq!(i.status.messages, ["shadeform expects it to boot in 120 s"]);
        assert_eq!(i.created_at, None, "Go's zero time is no time");
        let mut costly = live("deleting");
        costly.cost_estimate = wire::Amount("2.5".into());
        assert_eq!(
            instance(costly).status.messages,
            ["cost so far 2.50 USD"],
            "a cost is shown when there is one"
        );
    }

    #[test]
    fn odd_instances_never_panic() {
        let w = wire::Instance {
            ssh_port: -4,
            tags: vec![
                "=".into(),
                String::new().into(),
                "gpucloud-created-at=yesterday".into(),
            ],
            port_mappings: vec![wire::PortMapping {
                internal_port: Some(99_999),
                external_port: None,
            }],
            ..wire::Instance::default()
        };
        let i = instance(w);
        assert_eq!(i.ssh_port, 22);
        assert!(i.internal_port_mappings.is_empty());
        assert_eq!(i.instance_type_id, InstanceTypeId::default());
    }

    #[test]
    fn tag_keys_cannot_hold_the_separator() {
        check_user_tags(&Tags::from([("team".into(), "a=b".into())])).unwrap();
        let err = check_user_tags(&Tags::from([("a=b".into(), "c".into())])).unwrap_err();
        assert!(err.to_string().contains("tags["), "{err}");
    }

    #[test]
    fn key_names_come_from_the_key() {
        let a = parse_public_key(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T a",
        )
        .unwrap();
        let same = parse_public_key(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T other",
        )
        .unwrap();
        let b = parse_public_key(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl b",
        )
        .unwrap();
        assert_eq!(key_name(&a), key_name(&same), "comments do not count");
        assert_ne!(key_name(&a), key_name(&b));
        assert!(key_name(&a).starts_with("gpucloud-") && key_name(&a).len() == 29);
    }

    #[test]
    fn the_launch_script_is_the_bootstraps_with_host_name_and_user_script() {
        let bootstrap = Bootstrap::new(
            "shadeform",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICN+lJwsONkwrdsSnQsu1ydUkIuIg5oOC+Eslvmtt60T a",
        )
        .unwrap();
        let script = launch_script(
            bootstrap.clone(),
            "train-1",
            Some(b"#!/bin/sh\necho 'it ran'\n"),
        )
        .unwrap();
        assert!(script.starts_with("#!/bin/sh\n# Written by gpucloud (shadeform)"));
        assert!(script.contains("hostname 'train-1'"));
        let b64 = |s: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
        assert!(script.contains(&b64("#!/bin/sh\necho 'it ran'\n")));
        let odd = launch_script(bootstrap.clone(), "x'; rm -rf /", None).unwrap();
        assert!(!odd.contains("rm -rf") && !odd.contains("/etc/hostname"));
        assert!(launch_script(bootstrap, "a", Some(b"#cloud-config\n")).is_err());
        check_user_data(b"#!/bin/bash\n").unwrap();
        let err = check_user_data(b"#cloud-config\n").unwrap_err();
        assert!(err.to_string().contains("user_data_base64"), "{err}");
    }
}
