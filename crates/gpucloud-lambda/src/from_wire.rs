//! Lambda's answers → the gpucloud model: instances, catalog, locations, images and firewall
//! rules. Pure functions, no I/O.

use gpucloud_core::bookkeeping::{CRED_REF_ID_TAG, REF_ID_TAG};
use gpucloud_core::{
    Architecture, Bookkeeping, Bytes, BytesUnit, Cidr, FirewallRule, FirewallRules, Gpu, Image,
    Instance, InstanceId, InstanceType, InstanceTypeId, LifecycleStatus, Location, Manufacturer,
    Price, Protocol, Status, Storage, normalize_gpu_name,
};
use jiff::Timestamp;

use crate::PROVIDER_ID;
use crate::to_wire::{legacy_ruleset_name, ruleset_name};
use crate::wire;

/// Login user of Lambda's images.
pub(crate) const SSH_USER: &str = "ubuntu";
/// Owner of every image Lambda lists (it has no custom images).
pub(crate) const IMAGE_OWNER: &str = "lambda";

/// Lambda's instance status → lifecycle status.
///
/// `unhealthy` is not `running` (the v1 mistake): it maps to `pending` with a message, so a
/// waiter does not hand out an instance Lambda itself reports as broken. `preempted` is gone
/// for good: `terminated` with a message. Unknown values are `pending` with the raw value.
pub(crate) fn status(raw: Option<&str>) -> Status {
    let (lifecycle, message) = match raw.unwrap_or("") {
        "booting" => (LifecycleStatus::Pending, None),
        "active" => (LifecycleStatus::Running, None),
        "unhealthy" => (
            LifecycleStatus::Pending,
            Some("lambda reports the instance unhealthy".to_owned()),
        ),
        "terminating" => (LifecycleStatus::Terminating, None),
        "terminated" => (LifecycleStatus::Terminated, None),
        "preempted" => (
            LifecycleStatus::Terminated,
            Some("lambda preempted the instance".to_owned()),
        ),
        other => (
            LifecycleStatus::Pending,
            Some(format!("unknown lambda status {other:?}")),
        ),
    };
    Status {
        lifecycle_status: lifecycle,
        messages: message.into_iter().collect(),
    }
}

/// The type ids built during one conversion pass. A list holds few distinct (region, type)
/// pairs, so each id is built once with [`InstanceTypeId::generic`] and cloned after that.
#[derive(Debug, Default)]
pub(crate) struct TypeIds(Vec<(String, String, InstanceTypeId)>);

impl TypeIds {
    /// At most this many pairs are remembered, so that a lookup stays cheaper than building.
    const MAX: usize = 16;

    /// The generic id of `type_name` in `location`.
    pub(crate) fn get(&mut self, location: &str, type_name: &str) -> InstanceTypeId {
        if let Some((_, _, id)) = self
            .0
            .iter()
            .find(|(l, t, _)| l == location && t == type_name)
        {
            return id.clone();
        }
        let id = InstanceTypeId::generic(location, None, type_name);
        if self.0.len() < Self::MAX {
            self.0
                .push((location.to_owned(), type_name.to_owned(), id.clone()));
        }
        id
    }
}

/// A Lambda instance → [`Instance`]. Bookkeeping tags become `ref_id`, `cloud_cred_ref_id` and
/// `created_at` and are removed from `tags` ([`Bookkeeping::decode`]).
pub(crate) fn instance(w: wire::Instance) -> Instance {
    instance_with(w, &mut TypeIds::default())
}

/// [`instance`], reusing the type ids of earlier instances of the same pass.
pub(crate) fn instance_with(w: wire::Instance, type_ids: &mut TypeIds) -> Instance {
    let status = status(w.status.as_deref());
    let (bookkeeping, tags) = Bookkeeping::decode(
        w.tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key, t.value)),
    );
    let location = w.region.map(|r| r.name).unwrap_or_default();
    let (type_name, storage_gib) = w
        .instance_type
        .map(|t| (t.name, t.specs.storage_gib))
        .unwrap_or_default();
    let instance_type_id = if type_name.is_empty() {
        InstanceTypeId::default()
    } else {
        type_ids.get(&location, &type_name)
    };
    let running = status.lifecycle_status == LifecycleStatus::Running;
    let rebootable = w
        .actions
        .and_then(|a| a.restart)
        .and_then(|r| r.available)
        .unwrap_or(running);
    let ip = w.ip.unwrap_or_default();
    Instance {
        name: w.name.unwrap_or_default(),
        ref_id: bookkeeping.ref_id,
        cloud_cred_ref_id: bookkeeping.cred_ref_id,
        created_at: bookkeeping.created_at,
        cloud_id: InstanceId::new(w.id),
        public_dns: ip.clone(),
        public_ip: ip,
        private_ip: w.private_ip.unwrap_or_default(),
        hostname: w.hostname.unwrap_or_default(),
        instance_type: type_name,
        disk_size_bytes: storage_gib
            .map_or(Bytes::ZERO, |g| Bytes::new(clamp_i64(g), BytesUnit::GiB)),
        volume_type: "ssd".to_owned(),
        ssh_user: SSH_USER.to_owned(),
        ssh_port: 22,
        status,
        location,
        tags,
        stoppable: false,
        rebootable,
        instance_type_id,
        ..Instance::default()
    }
}

fn clamp_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn clamp_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The ids of the SDK-owned rulesets referenced by an instance.
pub(crate) fn ruleset_ids(w: &wire::Instance) -> Vec<String> {
    w.firewall_rulesets
        .iter()
        .flatten()
        .map(|r| r.id.clone())
        .collect()
}

/// The names the instance's own ruleset may have when the SDK made one: the current scheme's
/// (from its RefID and credential tags) and the legacy one (from its RefID only). `None` for
/// instances without a RefID tag or without any ruleset.
pub(crate) fn own_ruleset_names(w: &wire::Instance) -> Option<[String; 2]> {
    let referenced = w
        .firewall_rulesets
        .iter()
        .flatten()
        .any(|r| !r.id.is_empty());
    let ref_id = tag_value(w, REF_ID_TAG).filter(|r| !r.is_empty())?;
    let cred_ref_id = tag_value(w, CRED_REF_ID_TAG).unwrap_or("");
    referenced.then(|| {
        [
            ruleset_name(cred_ref_id, ref_id),
            legacy_ruleset_name(ref_id),
        ]
    })
}

/// What the description of a GPU says: base model, VRAM per GPU, form factor.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GpuDescription {
    name: String,
    vram_gb: Option<i64>,
    form_factor: Option<String>,
}

/// Parses `H100 (80 GB SXM5)`, `Tesla V100 (16 GB)`, `RTX 6000 (24 GB)`.
fn parse_gpu_description(text: &str) -> GpuDescription {
    let (model, details) = match text.split_once('(') {
        Some((m, d)) => (m, d.trim_end().trim_end_matches(')')),
        None => (text, ""),
    };
    let tokens: Vec<&str> = details.split_whitespace().collect();
    let mut vram_gb = None;
    let mut form_factor = None;
    for (i, token) in tokens.iter().enumerate() {
        let upper = token.to_ascii_uppercase();
        if let Some(number) = upper.strip_suffix("GB").filter(|n| !n.is_empty()) {
            vram_gb = number.parse().ok().or(vram_gb);
        } else if upper == "GB" && i > 0 {
            vram_gb = tokens[i - 1].parse().ok().or(vram_gb);
        } else if upper == "PCIE" {
            form_factor = Some("PCIe".to_owned());
        } else if upper.starts_with("SXM") {
            form_factor = Some(upper);
        }
    }
    GpuDescription {
        name: normalize_gpu_name(model).into(),
        vram_gb,
        form_factor,
    }
}

/// Form factor of GPUs whose Lambda description does not name one.
fn default_form_factor(name: &str) -> &'static str {
    match name {
        // Lambda's 8x V100 machines are SXM2 (NVLink) servers.
        "V100" => "SXM2",
        // A Grace Hopper superchip: the GPU sits on the CPU's NVLink-C2C, not on PCIe or SXM.
        "GH200" => "NVLink-C2C",
        _ => "PCIe",
    }
}

/// Memory technology of a GPU model (and, where it varies, its VRAM and form factor).
fn memory_technology(name: &str, vram_gb: Option<i64>, form_factor: &str) -> &'static str {
    match name {
        "A10" | "A10G" | "A6000" | "RTX 6000" | "RTX A6000" | "L40" | "L40S" | "A40" => "GDDR6",
        "A100" if vram_gb.unwrap_or(0) >= 80 => "HBM2e",
        "A100" | "V100" => "HBM2",
        "H100" if form_factor == "PCIe" => "HBM2e",
        "GH200" if vram_gb.unwrap_or(0) >= 144 => "HBM3e",
        "H100" | "GH200" => "HBM3",
        "H200" | "B200" | "B300" | "GB200" => "HBM3e",
        _ => "",
    }
}

/// The GPUs of a Lambda instance type, or `None` for CPU-only types.
pub(crate) fn gpu(t: &wire::InstanceType) -> Option<Gpu> {
    let cpu_only = t.specs.gpus == Some(0)
        || t.description.to_ascii_uppercase().contains("CPU")
        || t.gpu_description.to_ascii_uppercase().starts_with("CPU");
    if cpu_only {
        return None;
    }
    let text = if t.gpu_description.trim().is_empty() {
        // "8x H100 (80 GB SXM5)" → "H100 (80 GB SXM5)"
        t.description
            .split_once("x ")
            .map_or(t.description.as_str(), |(_, rest)| rest)
    } else {
        t.gpu_description.as_str()
    };
    let parsed = parse_gpu_description(text);
    if parsed.name.is_empty() {
        return None;
    }
    let count = t
        .specs
        .gpus
        .map_or_else(|| count_from_description(&t.description), clamp_u32);
    let form_factor = parsed
        .form_factor
        .unwrap_or_else(|| default_form_factor(&parsed.name).to_owned());
    let memory_details = memory_technology(&parsed.name, parsed.vram_gb, &form_factor).to_owned();
    Some(Gpu {
        count,
        memory_bytes: parsed
            .vram_gb
            .map_or(Bytes::ZERO, |gb| Bytes::new(gb, BytesUnit::GB)),
        memory_details: memory_details.into(),
        gpu_type: format!("{}.{}", parsed.name, form_factor).into(),
        network_details: form_factor.into(),
        manufacturer: Manufacturer::Nvidia,
        name: parsed.name.into(),
    })
}

/// The leading `<n>x` of a description; 1 when absent.
fn count_from_description(description: &str) -> u32 {
    description
        .split_once('x')
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or(1)
}

/// The CPU architecture of a type: Grace superchips (GH200, GB200) are ARM, the rest x86-64.
pub(crate) fn architecture(gpu: Option<&Gpu>) -> Architecture {
    match gpu {
        Some(g) if g.name.starts_with("GH") || g.name.starts_with("GB") => Architecture::Arm64,
        _ => Architecture::X86_64,
    }
}

/// One catalog entry per (type, region): every region Lambda knows (from `/regions` plus any
/// region only named in capacity lists), available where Lambda reports capacity. Sorted by
/// type, then region.
pub(crate) fn instance_types(
    types: &wire::InstanceTypes,
    regions: &[wire::Region],
) -> Vec<InstanceType> {
    let mut all_regions: Vec<&str> = regions
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| !n.is_empty())
        .collect();
    for item in types.values() {
        for r in &item.regions_with_capacity_available {
            if !r.name.is_empty() && !all_regions.contains(&r.name.as_str()) {
                all_regions.push(&r.name);
            }
        }
    }
    all_regions.sort_unstable();
    all_regions.dedup();
    let mut out = Vec::with_capacity(types.len() * all_regions.len());
    for (key, item) in types {
        let t = &item.instance_type;
        let name = if t.name.is_empty() {
            key.as_str()
        } else {
            t.name.as_str()
        };
        let gpu = gpu(t);
        let arch = architecture(gpu.as_ref());
        let template = InstanceType {
            type_name: name.into(),
            supported_gpus: gpu.into_iter().collect(),
            supported_storage: t
                .specs
                .storage_gib
                .map(|g| Storage {
                    count: 1,
                    size_bytes: Bytes::new(clamp_i64(g), BytesUnit::GiB),
                    storage_type: "ssd".into(),
                    ..Storage::default()
                })
                .into_iter()
                .collect(),
            supported_usage_classes: ["on-demand".into()].into(),
            memory_bytes: t
                .specs
                .memory_gib
                .map_or(Bytes::ZERO, |g| Bytes::new(clamp_i64(g), BytesUnit::GiB)),
            vcpu: t.specs.vcpus.map_or(0, clamp_u32),
            supported_architectures: [arch].into(),
            stoppable: false,
            rebootable: true,
            base_price: t
                .price_cents_per_hour
                .map(|c| Price::usd_cents(clamp_i64(c))),
            provider: PROVIDER_ID.into(),
            cloud: PROVIDER_ID.into(),
            can_modify_firewall_rules: true,
            ..InstanceType::default()
        };
        for region in &all_regions {
            let mut entry = template.clone();
            entry.location = (*region).into();
            entry.is_available = item
                .regions_with_capacity_available
                .iter()
                .any(|r| r.name == *region);
            entry.id = entry.generic_id();
            out.push(entry);
        }
    }
    out
}

/// ISO 3166-1 alpha-3 country of a Lambda region (Lambda does not report it).
fn country(region: &str) -> &'static str {
    match region {
        r if r.starts_with("us-") => "USA",
        "australia-southeast-1" | "australia-east-1" => "AUS",
        "europe-central-1" => "DEU",
        "europe-south-1" => "ITA",
        "asia-south-1" => "IND",
        "me-west-1" => "ISR",
        "asia-northeast-1" | "asia-northeast-2" => "JPN",
        _ => "",
    }
}

/// A Lambda region → [`Location`]. `available` says whether any type has capacity there.
pub(crate) fn location(region: wire::Region, available: bool) -> Location {
    Location {
        country: country(&region.name).to_owned(),
        name: region.name,
        description: region.description,
        available,
        ..Location::default()
    }
}

/// A Lambda image → [`Image`]. The region is part of the description, since images are
/// per region and the model has no region field.
pub(crate) fn image(w: wire::Image) -> Image {
    let family = w.family.clone().unwrap_or_default();
    let region = w.region.map(|r| r.name).unwrap_or_default();
    let mut description = w.description.unwrap_or_default();
    if !region.is_empty() {
        if !description.is_empty() {
            description.push(' ');
        }
        description.push('(');
        description.push_str(&region);
        description.push(')');
    }
    Image {
        id: w.id,
        architecture: w.architecture.unwrap_or_default(),
        description,
        name: w.name.unwrap_or_default(),
        created_at: w.created_time.and_then(|t| t.parse::<Timestamp>().ok()),
        owner: IMAGE_OWNER.to_owned(),
        family,
    }
}

/// The region of a Lambda image.
pub(crate) fn image_region(w: &wire::Image) -> &str {
    w.region.as_ref().map_or("", |r| r.name.as_str())
}

/// The value of a tag on a wire instance.
pub(crate) fn tag_value<'a>(w: &'a wire::Instance, key: &str) -> Option<&'a str> {
    w.tags
        .iter()
        .flatten()
        .find(|t| t.key == key)
        .map(|t| t.value.as_str())
}

/// A Lambda source network in canonical form (Lambda may echo `a.b.c.d` without a prefix);
/// text that is not a CIDR is kept as it is.
fn canonical_source(raw: &str) -> String {
    Cidr::parse(raw).map_or_else(|_| raw.to_owned(), |c| c.to_string())
}

/// The id of a Lambda rule: `<protocol>:<from>-<to>:<cidr>` (Lambda rules have no ids). It is
/// the rule's identity too: one Lambda rule is one (protocol, ports, source) triple.
pub(crate) fn rule_id(rule: &wire::FirewallRule) -> String {
    let (from, to) = port_bounds(rule);
    format!(
        "{}:{from}-{to}:{}",
        rule.protocol,
        canonical_source(&rule.source_network)
    )
}

/// The ports a Lambda rule opens; a rule without a range opens all of them.
pub(crate) fn port_bounds(rule: &wire::FirewallRule) -> (u32, u32) {
    match rule.port_range.as_deref() {
        Some([a, b]) => (*a, *b),
        _ => (1, 65535),
    }
}

/// Lambda rules → model ingress rules with their ids. ICMP rules have no port and no model
/// equivalent and are left out.
pub(crate) fn model_rules(rules: &[wire::FirewallRule]) -> FirewallRules {
    let ingress_rules = rules
        .iter()
        .filter_map(|r| {
            let protocol = match r.protocol.as_str() {
                "tcp" => Some(Protocol::Tcp),
                "udp" => Some(Protocol::Udp),
                "all" => None,
                _ => return None,
            };
            let (from, to) = port_bounds(r);
            Some(FirewallRule {
                id: rule_id(r),
                from_port: u16::try_from(from).unwrap_or(u16::MAX),
                to_port: u16::try_from(to).unwrap_or(u16::MAX),
                ip_ranges: vec![canonical_source(&r.source_network)],
                protocol,
            })
        })
        .collect();
    FirewallRules {
        ingress_rules,
        egress_rules: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpucloud_core::Tags;
    use gpucloud_fakes::lambda::catalog::{CatalogInstanceType, INSTANCE_TYPES};

    /// Expected GPU per type: name, VRAM GB, form factor, memory technology (None: CPU only).
    fn expected_gpu(name: &str) -> Option<(&'static str, i64, &'static str, &'static str)> {
        Some(match name {
            n if n.starts_with("cpu_") => return None,
            "gpu_1x_a10" => ("A10", 24, "PCIe", "GDDR6"),
            "gpu_1x_a100" | "gpu_2x_a100" | "gpu_4x_a100" => ("A100", 40, "PCIe", "HBM2"),
            "gpu_1x_a100_sxm4" | "gpu_8x_a100" => ("A100", 40, "SXM4", "HBM2"),
            "gpu_8x_a100_80gb_sxm4" => ("A100", 80, "SXM4", "HBM2e"),
            "gpu_1x_a6000" | "gpu_2x_a6000" | "gpu_4x_a6000" => ("A6000", 48, "PCIe", "GDDR6"),
            n if n.contains("b200") => ("B200", 180, "SXM6", "HBM3e"),
            "gpu_1x_gh200" => ("GH200", 96, "NVLink-C2C", "HBM3"),
            "gpu_1x_h100_pcie" => ("H100", 80, "PCIe", "HBM2e"),
            n if n.contains("h100_sxm5") => ("H100", 80, "SXM5", "HBM3"),
            "gpu_1x_rtx6000" => ("RTX 6000", 24, "PCIe", "GDDR6"),
            n if n.starts_with("gpu_8x_v100") => ("V100", 16, "SXM2", "HBM2"),
            other => panic!("no expectation for {other}"),
        })
    }

    /// A catalog entry of the fake as Lambda's `GET /instance-types` describes it.
    fn wire_type(t: &CatalogInstanceType) -> wire::InstanceType {
        wire::InstanceType {
            name: t.name.into(),
            description: t.description.into(),
            gpu_description: t.gpu_description.into(),
            price_cents_per_hour: Some(t.price_cents_per_hour.into()),
            specs: wire::Specs {
                vcpus: Some(t.vcpus.into()),
                memory_gib: Some(t.memory_gib.into()),
                storage_gib: Some(t.storage_gib.into()),
                gpus: Some(t.gpus.into()),
            },
        }
    }

    fn region(name: &str) -> wire::Region {
        wire::Region {
            name: name.into(),
            description: format!("{name} desc"),
        }
    }

    /// Every type of the fake's catalog (the project's reference data, kept in one place)
    /// maps to one entry per region with its price, sizes, architecture and GPUs.
    #[test]
    fn whole_catalog_normalizes() {
        assert!(!INSTANCE_TYPES.is_empty(), "the fake's catalog is empty");
        let regions = [region("us-east-1"), region("us-west-1")];
        let types: wire::InstanceTypes = INSTANCE_TYPES
            .iter()
            .map(|t| {
                let capacity = if t.name.contains("h100") {
                    vec![region("us-east-1")]
                } else {
                    vec![]
                };
                (
                    t.name.to_owned(),
                    wire::InstanceTypesItem {
                        instance_type: wire_type(t),
                        regions_with_capacity_available: capacity,
                    },
                )
            })
            .collect();
        let out = instance_types(&types, &regions);
        assert_eq!(
            out.len(),
            INSTANCE_TYPES.len() * 2,
            "one entry per (type, region)"
        );
        for t in INSTANCE_TYPES {
            let name = t.name;
            for r in ["us-east-1", "us-west-1"] {
                let it = out
                    .iter()
                    .find(|e| e.type_name == name && e.location == r)
                    .expect("entry");
                assert_eq!(it.id, InstanceTypeId::generic(r, None, name));
                assert_eq!(
                    it.is_available,
                    name.contains("h100") && r == "us-east-1",
                    "{name}"
                );
                assert_eq!(
                    it.base_price,
                    Some(Price::usd_cents(t.price_cents_per_hour.into())),
                    "{name}"
                );
                assert_eq!(it.vcpu, t.vcpus, "{name}");
                assert_eq!(
                    it.memory_bytes,
                    Bytes::new(t.memory_gib.into(), BytesUnit::GiB),
                    "{name}"
                );
                assert_eq!(it.supported_storage.len(), 1);
                assert_eq!(
                    it.supported_storage[0].size_bytes,
                    Bytes::new(t.storage_gib.into(), BytesUnit::GiB),
                    "{name}"
                );
                assert_eq!(it.supported_storage[0].storage_type, "ssd");
                assert_eq!(
                    it.supported_architectures.as_slice(),
                    [Architecture::parse_lenient(t.architecture)],
                    "{name}"
                );
                assert_eq!(it.provider, PROVIDER_ID);
                assert_eq!(it.cloud, PROVIDER_ID);
                assert!(it.rebootable && !it.stoppable);
                match expected_gpu(name) {
                    None => assert!(it.supported_gpus.is_empty(), "{name} has no GPU"),
                    Some((gpu_name, vram, form, mem)) => {
                        assert_eq!(it.supported_gpus.len(), 1, "{name}");
                        let g = &it.supported_gpus[0];
                        assert_eq!(g.name, gpu_name, "{name}");
                        assert_eq!(g.count, t.gpus, "{name}");
                        assert_eq!(g.memory_bytes, Bytes::new(vram, BytesUnit::GB), "{name}");
                        assert_eq!(g.network_details, form, "{name}");
                        assert_eq!(g.memory_details, mem, "{name}");
                        assert_eq!(g.manufacturer, Manufacturer::Nvidia);
                        assert_eq!(g.gpu_type, format!("{gpu_name}.{form}"));
                    }
                }
            }
        }
    }

    #[test]
    fn capacity_only_regions_are_included_and_output_is_sorted() {
        let mut types = wire::InstanceTypes::new();
        types.insert(
            "gpu_1x_a10".into(),
            wire::InstanceTypesItem {
                instance_type: wire_type(
                    gpucloud_fakes::lambda::catalog::instance_type("gpu_1x_a10")
                        .expect("the fake's catalog has gpu_1x_a10"),
                ),
                regions_with_capacity_available: vec![region("zz-new-1")],
            },
        );
        let out = instance_types(&types, &[region("us-east-1")]);
        let locations: Vec<&str> = out.iter().map(|t| t.location.as_str()).collect();
        assert_eq!(locations, ["us-east-1", "zz-new-1"]);
        assert!(out[1].is_available && !out[0].is_available);
    }

    #[test]
    fn type_without_price_or_name_is_still_mapped() {
        let mut types = wire::InstanceTypes::new();
        types.insert("gpu_x".into(), wire::InstanceTypesItem::default());
        let out = instance_types(&types, &[region("r")]);
        assert_eq!(out[0].type_name, "gpu_x");
        assert_eq!(out[0].base_price, None);
        assert!(out[0].supported_storage.is_empty());
    }

    #[test]
    fn gpu_from_description_when_gpu_description_missing() {
        let t = wire::InstanceType {
            description: "8x NVIDIA H100 (80GB SXM5)".into(),
            specs: wire::Specs::default(),
            ..wire::InstanceType::default()
        };
        let g = gpu(&t).unwrap();
        assert_eq!(
            (g.name.as_str(), g.count, g.network_details.as_str()),
            ("H100", 8, "SXM5")
        );
        assert_eq!(g.memory_bytes, Bytes::new(80, BytesUnit::GB));
    }

    #[test]
    fn status_table() {
        let cases = [
            (Some("booting"), LifecycleStatus::Pending, false),
            (Some("active"), LifecycleStatus::Running, false),
            (Some("unhealthy"), LifecycleStatus::Pending, true),
            (Some("terminating"), LifecycleStatus::Terminating, false),
            (Some("terminated"), LifecycleStatus::Terminated, false),
            (Some("preempted"), LifecycleStatus::Terminated, true),
            (Some("warp-speed"), LifecycleStatus::Pending, true),
            (None, LifecycleStatus::Pending, true),
        ];
        for (raw, lifecycle, has_message) in cases {
            let s = status(raw);
            assert_eq!(s.lifecycle_status, lifecycle, "{raw:?}");
            assert_eq!(!s.messages.is_empty(), has_message, "{raw:?}");
        }
    }

    #[test]
    fn instance_reads_bookkeeping_tags_and_strips_them() {
        let json = serde_json::json!({
            "id": "i-1", "name": "box", "ip": "198.51.100.2", "private_ip": "10.0.0.2", "status": "active",
            "ssh_key_names": ["k"], "file_system_names": [], "hostname": "box",
            "region": {"name": "us-east-1", "description": "Virginia, USA"},
            "instance_type": CATALOG_JSON_A10.clone(),
            "actions": {"restart": {"available": true}, "migrate": {"available": false}},
            "tags": [
                {"key": REF_ID_TAG, "value": "ref-1"},
                {"key": CRED_REF_ID_TAG, "value": "cred-1"},
                {"key": gpucloud_core::bookkeeping::CREATED_AT_TAG, "value": "2025-01-02T03:04:05Z"},
                {"key": "gpucloud-future", "value": "x"},
                {"key": "team", "value": "ml"}
            ]
        });
        let w: wire::Instance = serde_json::from_value(json).unwrap();
        let i = instance(w);
        assert_eq!(i.cloud_id, InstanceId::new("i-1"));
        assert_eq!(i.ref_id, "ref-1");
        assert_eq!(i.cloud_cred_ref_id, "cred-1");
        assert_eq!(i.created_at, Some("2025-01-02T03:04:05Z".parse().unwrap()));
        assert_eq!(i.tags, Tags::from([("team".to_owned(), "ml".to_owned())]));
        assert_eq!(i.status.lifecycle_status, LifecycleStatus::Running);
        assert_eq!(
            (i.public_ip.as_str(), i.private_ip.as_str()),
            ("198.51.100.2", "10.0.0.2")
        );
        assert_eq!((i.ssh_user.as_str(), i.ssh_port), ("ubuntu", 22));
        assert_eq!(i.instance_type, "gpu_1x_a10");
        assert_eq!(i.location, "us-east-1");
        assert_eq!(
            i.instance_type_id,
            InstanceTypeId::generic("us-east-1", None, "gpu_1x_a10")
        );
        assert_eq!(i.disk_size_bytes, Bytes::new(1400, BytesUnit::GiB));
        assert!(i.rebootable && !i.stoppable);
    }

    static CATALOG_JSON_A10: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(
        || {
            serde_json::json!({"name": "gpu_1x_a10", "description": "1x A10 (24 GB PCIe)", "gpu_description": "A10 (24 GB PCIe)",
            "price_cents_per_hour": 129, "specs": {"vcpus": 30, "memory_gib": 200, "storage_gib": 1400, "gpus": 1}})
        },
    );

    #[test]
    fn type_ids_are_the_generic_ids_and_bounded() {
        let mut ids = TypeIds::default();
        for _ in 0..3 {
            assert_eq!(
                ids.get("us-east-1", "gpu_1x_a10"),
                InstanceTypeId::generic("us-east-1", None, "gpu_1x_a10")
            );
        }
        assert_eq!(
            ids.get("us-west-1", "gpu_1x_a10"),
            InstanceTypeId::generic("us-west-1", None, "gpu_1x_a10")
        );
        assert_eq!(ids.0.len(), 2);
        for n in 0..40 {
            let name = format!("t{n}");
            assert_eq!(
                ids.get("r", &name),
                InstanceTypeId::generic("r", None, &name)
            );
        }
        assert_eq!(ids.0.len(), TypeIds::MAX);
    }

    #[test]
    fn foreign_instance_without_anything_does_not_panic() {
        let i = instance(wire::Instance {
            id: "x".into(),
            ..wire::Instance::default()
        });
        assert_eq!(i.ref_id, "");
        assert_eq!(i.instance_type_id, InstanceTypeId::default());
        assert_eq!(i.status.lifecycle_status, LifecycleStatus::Pending);
        assert!(!i.rebootable);
    }

    #[test]
    fn locations_carry_country() {
        let l = location(region("europe-central-1"), true);
        assert_eq!(
            (l.name.as_str(), l.country.as_str(), l.available),
            ("europe-central-1", "DEU", true)
        );
        assert_eq!(location(region("us-south-3"), false).country, "USA");
        assert_eq!(location(region("mars-1"), false).country, "");
    }

    #[test]
    fn images_keep_region_in_description() {
        let w: wire::Image = serde_json::from_value(serde_json::json!({
            "id": "img-1", "name": "ubuntu-24.04", "description": "Ubuntu LTS", "architecture": "x86_64",
            "created_time": "2024-05-01T00:00:00Z", "region": {"name": "us-east-1", "description": "d"}
        }))
        .unwrap();
        assert_eq!(image_region(&w), "us-east-1");
        let i = image(w);
        assert_eq!(i.description, "Ubuntu LTS (us-east-1)");
        assert_eq!(i.architecture, "x86_64");
        assert_eq!((i.owner.as_str(), i.family.as_str()), (IMAGE_OWNER, ""));
        assert!(i.created_at.is_some());
    }

    #[test]
    fn own_ruleset_names_accept_both_schemes() {
        let tags = serde_json::json!([
            {"key": REF_ID_TAG, "value": "ref-1"},
            {"key": CRED_REF_ID_TAG, "value": "cred-1"},
        ]);
        let w: wire::Instance = serde_json::from_value(serde_json::json!({
            "id": "i-1",
            "tags": tags,
            "firewall_rulesets": [{"id": "rs-1"}],
        }))
        .unwrap();
        assert_eq!(
            own_ruleset_names(&w),
            Some([
                ruleset_name("cred-1", "ref-1"),
                legacy_ruleset_name("ref-1")
            ])
        );
        let bare: wire::Instance =
            serde_json::from_value(serde_json::json!({"id": "i-2", "tags": tags})).unwrap();
        assert_eq!(own_ruleset_names(&bare), None);
    }
}
