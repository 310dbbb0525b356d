//! Lambda's JSON → the gpucloud model, and the few model → Lambda mappings create needs.
//! Pure functions, no I/O.

use gpucloud_core::bookkeeping::{CRED_REF_ID_TAG, REF_ID_TAG};
use gpucloud_core::sshkey::PublicKey;
use gpucloud_core::text::{hex, truncate};
use gpucloud_core::{
    Architecture, Bookkeeping, Bytes, BytesUnit, CheckedRule, Cidr, CloudError, FirewallRule,
    FirewallRules, Gpu, Image, Instance, InstanceId, InstanceType, InstanceTypeId, LifecycleStatus,
    Location, Manufacturer, Price, Protocol, Result, Status, Storage, Tags, normalize_gpu_name,
};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::wire;

/// The provider id.
pub(crate) const PROVIDER: &str = "lambda-labs";
/// Prefix of the names of firewall rulesets the SDK creates (one per instance).
pub(crate) const RULESET_PREFIX: &str = "gpucloud-";
/// Login user of Lambda's images.
pub(crate) const SSH_USER: &str = "ubuntu";
/// Longest SSH key name Lambda accepts.
const MAX_KEY_NAME: usize = 64;
/// Longest instance name Lambda accepts.
pub(crate) const MAX_INSTANCE_NAME: usize = 64;
/// Longest tag key and value Lambda accepts.
const MAX_TAG_KEY: usize = 55;
/// Owner of every image Lambda lists (it has no custom images).
pub(crate) const IMAGE_OWNER: &str = "lambda";
const MAX_TAG_VALUE: usize = 128;

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
        name: normalize_gpu_name(model),
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
        memory_details,
        gpu_type: format!("{}.{}", parsed.name, form_factor),
        network_details: form_factor,
        manufacturer: Manufacturer::Nvidia,
        name: parsed.name,
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
            type_name: name.to_owned(),
            supported_gpus: gpu.into_iter().collect(),
            supported_storage: t
                .specs
                .storage_gib
                .map(|g| Storage {
                    count: 1,
                    size_bytes: Bytes::new(clamp_i64(g), BytesUnit::GiB),
                    storage_type: "ssd".to_owned(),
                    ..Storage::default()
                })
                .into_iter()
                .collect(),
            supported_usage_classes: vec!["on-demand".to_owned()],
            memory_bytes: t
                .specs
                .memory_gib
                .map_or(Bytes::ZERO, |g| Bytes::new(clamp_i64(g), BytesUnit::GiB)),
            vcpu: t.specs.vcpus.map_or(0, clamp_u32),
            supported_architectures: vec![arch],
            stoppable: false,
            rebootable: true,
            base_price: t
                .price_cents_per_hour
                .map(|c| Price::usd_cents(clamp_i64(c))),
            provider: PROVIDER.to_owned(),
            cloud: PROVIDER.to_owned(),
            can_modify_firewall_rules: true,
            ..InstanceType::default()
        };
        for region in &all_regions {
            let mut entry = template.clone();
            (*region).clone_into(&mut entry.location);
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

/// A name for a new SSH key: `base` (the key pair name or the RefID) when free, else `base`
/// with a short fingerprint of the key, else with a counter. At most 64 characters.
pub(crate) fn unique_key_name(base: &str, public_key: &PublicKey, taken: &[&str]) -> String {
    let base = if base.trim().is_empty() {
        "gpucloud"
    } else {
        base.trim()
    };
    let first = truncate(base, MAX_KEY_NAME);
    if !taken.contains(&first) {
        return first.to_owned();
    }
    let digest = Sha256::digest(public_key.body_base64().as_bytes());
    let fingerprint = hex(&digest[..4]);
    let stem = truncate(base, MAX_KEY_NAME - 9 - 4);
    let with_print = format!("{stem}-{fingerprint}");
    if !taken.contains(&with_print.as_str()) {
        return with_print;
    }
    // At most `taken.len()` candidates can be taken, so one of these is free.
    (2..=taken.len() + 2)
        .map(|n| format!("{stem}-{fingerprint}-{n}"))
        .find(|candidate| !taken.contains(&candidate.as_str()))
        .unwrap_or(with_print)
}

/// The instance name sent to Lambda: the display name, else the RefID, cut to 64 characters.
pub(crate) fn instance_name(name: &str, ref_id: &str) -> String {
    let chosen = if name.trim().is_empty() {
        ref_id
    } else {
        name.trim()
    };
    truncate(chosen, MAX_INSTANCE_NAME).to_owned()
}

/// Checks user tags (already validated by core, so no reserved key) against Lambda's own
/// rules: key `^[a-z][a-z0-9-:]+$`, ≤ 55 characters; value ≤ 128 characters.
pub(crate) fn check_user_tags(tags: &Tags) -> Result<()> {
    for (key, value) in tags {
        let field = format!("tags[{key:?}]");
        let mut chars = key.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok = key.len() >= 2
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == ':');
        if !(first_ok && rest_ok) {
            return Err(CloudError::invalid(
                field,
                "Lambda tag keys are 2-55 characters: a lower-case letter, then lower-case letters, digits, '-' or ':'",
            ));
        }
        if key.len() > MAX_TAG_KEY {
            return Err(CloudError::invalid(
                field,
                format!("longer than {MAX_TAG_KEY} characters"),
            ));
        }
        if value.chars().count() > MAX_TAG_VALUE {
            return Err(CloudError::invalid(
                field,
                format!("value longer than {MAX_TAG_VALUE} characters"),
            ));
        }
    }
    Ok(())
}

/// The bookkeeping tags plus the user tags, as Lambda tag entries.
pub(crate) fn wire_tags(user: &Tags, bookkeeping: &Bookkeeping) -> Vec<wire::Tag> {
    bookkeeping
        .encode_with(user)
        .into_iter()
        .map(|(key, value)| wire::Tag { key, value })
        .collect()
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

fn port_bounds(rule: &wire::FirewallRule) -> (u32, u32) {
    match rule.port_range.as_deref() {
        Some([a, b]) => (*a, *b),
        _ => (1, 65535),
    }
}

/// Checked ingress rules → Lambda rules: one per protocol and source (a rule without a
/// protocol opens TCP and UDP; without sources, `0.0.0.0/0`), without repeats. Lambda takes
/// IPv4 sources only: an IPv6 source is refused naming the rule. Egress needs nothing, as
/// validation leaves only allow-all egress, which is what Lambda does.
pub(crate) fn wire_rules(rules: &[CheckedRule]) -> Result<Vec<wire::FirewallRule>> {
    let mut out: Vec<wire::FirewallRule> = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        if let Some((j, v6)) = rule
            .sources()
            .iter()
            .enumerate()
            .find(|(_, c)| !c.is_ipv4())
        {
            return Err(CloudError::invalid(
                format!("firewall_rules.ingress_rules[{i}].ip_ranges[{j}]"),
                format!("{v6} is not an IPv4 CIDR; Lambda firewall rules take IPv4 sources only"),
            ));
        }
        let protocols: &[&str] = match rule.protocol() {
            Some(Protocol::Tcp) => &["tcp"],
            Some(Protocol::Udp) => &["udp"],
            None => &["tcp", "udp"],
        };
        let sources: Vec<Cidr> = if rule.sources().is_empty() {
            vec![Cidr::ANY_V4]
        } else {
            rule.sources().to_vec()
        };
        for protocol in protocols {
            for source in &sources {
                let w = wire::FirewallRule {
                    protocol: (*protocol).to_owned(),
                    port_range: Some(vec![u32::from(rule.from_port()), u32::from(rule.to_port())]),
                    source_network: source.to_string(),
                    description: "gpucloud".to_owned(),
                };
                if !out.contains(&w) {
                    out.push(w);
                }
            }
        }
    }
    Ok(out)
}

/// `rules` with SSH (TCP 22 from anywhere) in front unless a rule already opens it: a new
/// instance's ruleset always keeps SSH reachable.
pub(crate) fn with_ssh(mut rules: Vec<wire::FirewallRule>) -> Vec<wire::FirewallRule> {
    let ssh_open = rules.iter().any(|r| {
        let (a, b) = port_bounds(r);
        (r.protocol == "tcp" || r.protocol == "all") && a <= 22 && 22 <= b
    });
    if !ssh_open {
        rules.insert(
            0,
            wire::FirewallRule {
                protocol: "tcp".to_owned(),
                port_range: Some(vec![22, 22]),
                source_network: Cidr::ANY_V4.to_string(),
                description: "gpucloud: ssh".to_owned(),
            },
        );
    }
    rules
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

/// The name rulesets had before names identified the credential:
/// `gpucloud-<RefID, truncated>-<12 hex of SHA-256(RefID)>`. Still recognized as an instance's
/// own ruleset; never swept, as it does not say which credential made it.
pub(crate) fn legacy_ruleset_name(ref_id: &str) -> String {
    let digest = Sha256::digest(ref_id.as_bytes());
    let short = hex(&digest[..6]);
    format!(
        "{RULESET_PREFIX}{}-{short}",
        truncate(ref_id, 64 - RULESET_PREFIX.len() - 13)
    )
}

/// Hex digits of a ruleset name's credential mark.
const MARK_LEN: usize = 12;
/// Hex digits of the RefID hash that keeps truncated RefIDs apart.
const REF_HASH_LEN: usize = 8;
/// Characters of the RefID kept in a ruleset name (64 in all).
const RULESET_REF_LEN: usize = 64 - RULESET_PREFIX.len() - 1 - REF_HASH_LEN - 1 - MARK_LEN;

/// The credential mark of a ruleset name: SHA-256 over the credential's reference id and the
/// rest of the name, so it ties the name to one credential and cannot be made by editing the
/// visible part.
fn credential_mark(cred_ref_id: &str, body: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"gpucloud-lambda-ruleset\0");
    hasher.update(cred_ref_id.as_bytes());
    hasher.update(b"\0");
    hasher.update(body.as_bytes());
    let mut mark = hex(&hasher.finalize()[..MARK_LEN / 2]);
    mark.truncate(MARK_LEN);
    mark
}

/// The name of the ruleset the SDK creates for the instance with this RefID, for the
/// credential `cred_ref_id`: `gpucloud-<RefID, truncated>-<8 hex of SHA-256(RefID)>-<mark>`
/// (at most 64 characters), where the mark ([`credential_mark`]) identifies the credential.
pub(crate) fn ruleset_name(cred_ref_id: &str, ref_id: &str) -> String {
    let digest = Sha256::digest(ref_id.as_bytes());
    let mut ref_hash = hex(&digest[..REF_HASH_LEN / 2]);
    ref_hash.truncate(REF_HASH_LEN);
    let body = format!(
        "{RULESET_PREFIX}{}-{ref_hash}",
        truncate(ref_id, RULESET_REF_LEN)
    );
    let mark = credential_mark(cred_ref_id, &body);
    format!("{body}-{mark}")
}

/// True when `name` is a ruleset name [`ruleset_name`] made for `cred_ref_id` (any RefID):
/// the SDK's prefix and a mark that matches this credential. Never true for legacy names,
/// names made for other credentials, or names a person chose (short of copying one).
pub(crate) fn is_credential_ruleset(name: &str, cred_ref_id: &str) -> bool {
    let Some((body, mark)) = name.rsplit_once('-') else {
        return false;
    };
    body.starts_with(RULESET_PREFIX)
        && mark.len() == MARK_LEN
        && mark.bytes().all(|b| b.is_ascii_hexdigit())
        && credential_mark(cred_ref_id, body) == mark
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole catalog of `lambda-instance-types.csv`: name, description, gpu_description,
    /// cents, vcpus, memory GiB, storage GiB, gpus, architecture.
    type Row = (
        &'static str,
        &'static str,
        &'static str,
        u64,
        u64,
        u64,
        u64,
        u64,
        &'static str,
    );
    const CATALOG: &[Row] = &[
        (
            "cpu_4x_general",
            "4x CPU General (16 GiB)",
            "CPU General (16 GiB)",
            20,
            4,
            16,
            100,
            0,
            "x86_64",
        ),
        (
            "cpu_4x_general0",
            "4x CPU General (16 GiB)",
            "CPU General (16 GiB)",
            20,
            4,
            16,
            100,
            0,
            "x86_64",
        ),
        (
            "cpu_4x_generalx",
            "4x CPU General (16 GiB)",
            "CPU General (16 GiB)",
            20,
            4,
            16,
            100,
            0,
            "x86_64",
        ),
        (
            "gpu_1x_a10",
            "1x A10 (24 GB PCIe)",
            "A10 (24 GB PCIe)",
            129,
            30,
            200,
            1400,
            1,
            "x86_64",
        ),
        (
            "gpu_1x_a100",
            "1x A100 (40 GB PCIe)",
            "A100 (40 GB PCIe)",
            199,
            30,
            200,
            512,
            1,
            "x86_64",
        ),
        (
            "gpu_1x_a100_sxm4",
            "1x A100 (40 GB SXM4)",
            "A100 (40 GB SXM4)",
            199,
            30,
            200,
            512,
            1,
            "x86_64",
        ),
        (
            "gpu_1x_a6000",
            "1x A6000 (48 GB)",
            "A6000 (48 GB)",
            109,
            14,
            100,
            200,
            1,
            "x86_64",
        ),
        (
            "gpu_1x_b200_sxm6",
            "1x B200 (180 GB SXM6)",
            "B200 (180 GB SXM6)",
            699,
            26,
            360,
            2816,
            1,
            "x86_64",
        ),
        (
            "gpu_1x_gh200",
            "1x GH200 (96 GB)",
            "GH200 (96 GB)",
            229,
            64,
            432,
            4096,
            1,
            "arm64",
        ),
        (
            "gpu_1x_h100_pcie",
            "1x H100 (80 GB PCIe)",
            "H100 (80 GB PCIe)",
            329,
            26,
            200,
            1024,
            1,
            "x86_64",
        ),
        (
            "gpu_1x_h100_sxm5",
            "1x H100 (80 GB SXM5)",
            "H100 (80 GB SXM5)",
            429,
            26,
            225,
            2816,
            1,
            "x86_64",
        ),
        (
            "gpu_1x_rtx6000",
            "1x RTX 6000 (24 GB)",
            "RTX 6000 (24 GB)",
            69,
            14,
            46,
            512,
            1,
            "x86_64",
        ),
        (
            "gpu_2x_a100",
            "2x A100 (40 GB PCIe)",
            "A100 (40 GB PCIe)",
            398,
            60,
            400,
            1024,
            2,
            "x86_64",
        ),
        (
            "gpu_2x_a6000",
            "2x A6000 (48 GB)",
            "A6000 (48 GB)",
            218,
            28,
            200,
            1024,
            2,
            "x86_64",
        ),
        (
            "gpu_2x_b200_sxm6",
            "2x B200 (180 GB SXM6)",
            "B200 (180 GB SXM6)",
            1378,
            52,
            720,
            5632,
            2,
            "x86_64",
        ),
        (
            "gpu_2x_h100_sxm5",
            "2x H100 (80 GB SXM5)",
            "H100 (80 GB SXM5)",
            838,
            52,
            450,
            5632,
            2,
            "x86_64",
        ),
        (
            "gpu_4x_a100",
            "4x A100 (40 GB PCIe)",
            "A100 (40 GB PCIe)",
            796,
            120,
            800,
            1024,
            4,
            "x86_64",
        ),
        (
            "gpu_4x_a6000",
            "4x A6000 (48 GB)",
            "A6000 (48 GB)",
            436,
            56,
            400,
            1024,
            4,
            "x86_64",
        ),
        (
            "gpu_4x_b200_sxm6",
            "4x B200 (180 GB SXM6)",
            "B200 (180 GB SXM6)",
            2716,
            104,
            1440,
            11264,
            4,
            "x86_64",
        ),
        (
            "gpu_4x_h100_sxm5",
            "4x H100 (80 GB SXM5)",
            "H100 (80 GB SXM5)",
            1636,
            104,
            900,
            11264,
            4,
            "x86_64",
        ),
        (
            "gpu_8x_a100",
            "8x A100 (40 GB SXM4)",
            "A100 (40 GB SXM4)",
            1592,
            124,
            1800,
            6144,
            8,
            "x86_64",
        ),
        (
            "gpu_8x_a100_80gb_sxm4",
            "8x A100 (80 GB SXM4)",
            "A100 (80 GB SXM4)",
            2232,
            240,
            1800,
            19968,
            8,
            "x86_64",
        ),
        (
            "gpu_8x_b200_sxm6",
            "8x B200 (180 GB SXM6)",
            "B200 (180 GB SXM6)",
            5352,
            208,
            2900,
            22528,
            8,
            "x86_64",
        ),
        (
            "gpu_8x_h100_sxm5",
            "8x H100 (80 GB SXM5)",
            "H100 (80 GB SXM5)",
            3192,
            208,
            1800,
            22528,
            8,
            "x86_64",
        ),
        (
            "gpu_8x_h100_sxm5gdr",
            "8x H100 (80 GB SXM5)",
            "H100 (80 GB SXM5)",
            3592,
            208,
            1800,
            24780,
            8,
            "x86_64",
        ),
        (
            "gpu_8x_v100",
            "8x Tesla V100 (16 GB)",
            "Tesla V100 (16 GB)",
            632,
            92,
            448,
            5939,
            8,
            "x86_64",
        ),
        (
            "gpu_8x_v100_n",
            "8x Tesla V100 (16 GB)",
            "Tesla V100 (16 GB)",
            632,
            88,
            448,
            5939,
            8,
            "x86_64",
        ),
    ];

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

    fn wire_type(row: &Row) -> wire::InstanceType {
        wire::InstanceType {
            name: row.0.into(),
            description: row.1.into(),
            gpu_description: row.2.into(),
            price_cents_per_hour: Some(row.3),
            specs: wire::Specs {
                vcpus: Some(row.4),
                memory_gib: Some(row.5),
                storage_gib: Some(row.6),
                gpus: Some(row.7),
            },
        }
    }

    fn region(name: &str) -> wire::Region {
        wire::Region {
            name: name.into(),
            description: format!("{name} desc"),
        }
    }

    #[test]
    fn whole_catalog_normalizes() {
        let regions = [region("us-east-1"), region("us-west-1")];
        let types: wire::InstanceTypes = CATALOG
            .iter()
            .map(|row| {
                let capacity = if row.0.contains("h100") {
                    vec![region("us-east-1")]
                } else {
                    vec![]
                };
                (
                    row.0.to_owned(),
                    wire::InstanceTypesItem {
                        instance_type: wire_type(row),
                        regions_with_capacity_available: capacity,
                    },
                )
            })
            .collect();
        let out = instance_types(&types, &regions);
        assert_eq!(out.len(), CATALOG.len() * 2, "one entry per (type, region)");
        for row in CATALOG {
            for r in ["us-east-1", "us-west-1"] {
                let it = out
                    .iter()
                    .find(|t| t.type_name == row.0 && t.location == r)
                    .expect("entry");
                assert_eq!(it.id, InstanceTypeId::generic(r, None, row.0));
                assert_eq!(
                    it.is_available,
                    row.0.contains("h100") && r == "us-east-1",
                    "{}",
                    row.0
                );
                assert_eq!(
                    it.base_price,
                    Some(Price::usd_cents(row.3 as i64)),
                    "{}",
                    row.0
                );
                assert_eq!(it.vcpu, row.4 as u32);
                assert_eq!(it.memory_bytes, Bytes::new(row.5 as i64, BytesUnit::GiB));
                assert_eq!(it.supported_storage.len(), 1);
                assert_eq!(
                    it.supported_storage[0].size_bytes,
                    Bytes::new(row.6 as i64, BytesUnit::GiB)
                );
                assert_eq!(it.supported_storage[0].storage_type, "ssd");
                assert_eq!(
                    it.supported_architectures,
                    vec![Architecture::parse_lenient(row.8)],
                    "{}",
                    row.0
                );
                assert_eq!(it.provider, "lambda-labs");
                assert_eq!(it.cloud, "lambda-labs");
                assert!(it.rebootable && !it.stoppable);
                match expected_gpu(row.0) {
                    None => assert!(it.supported_gpus.is_empty(), "{} has no GPU", row.0),
                    Some((name, vram, form, mem)) => {
                        assert_eq!(it.supported_gpus.len(), 1, "{}", row.0);
                        let g = &it.supported_gpus[0];
                        assert_eq!(g.name, name, "{}", row.0);
                        assert_eq!(g.count, row.7 as u32, "{}", row.0);
                        assert_eq!(g.memory_bytes, Bytes::new(vram, BytesUnit::GB), "{}", row.0);
                        assert_eq!(g.network_details, form, "{}", row.0);
                        assert_eq!(g.memory_details, mem, "{}", row.0);
                        assert_eq!(g.manufacturer, Manufacturer::Nvidia);
                        assert_eq!(g.gpu_type, format!("{name}.{form}"));
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
                instance_type: wire_type(&CATALOG[3]),
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
    fn key_names_are_unique() {
        let a = &gpucloud_core::sshkey::parse_public_key(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOu3o9AyeQeAgLrWm4iW8YTloO1TYKxHj8ZxO7xuEni5 a",
        )
        .unwrap();
        assert_eq!(unique_key_name("ref-1", a, &[]), "ref-1");
        let second = unique_key_name("ref-1", a, &["ref-1"]);
        assert!(
            second.starts_with("ref-1-") && second.len() == "ref-1-".len() + 8,
            "{second}"
        );
        let third = unique_key_name("ref-1", a, &["ref-1", &second]);
        assert_eq!(third, format!("{second}-2"));
        let long = "x".repeat(100);
        assert_eq!(unique_key_name(&long, a, &[]).len(), 64);
        assert!(unique_key_name(&long, a, &[&"x".repeat(64)]).len() <= 64);
        assert_eq!(unique_key_name(" ", a, &[]), "gpucloud");
    }

    #[test]
    fn instance_names() {
        assert_eq!(instance_name("", "ref"), "ref");
        assert_eq!(instance_name(&"n".repeat(70), "ref").len(), 64);
    }

    #[test]
    fn user_tags_follow_lambda_rules() {
        let ok = Tags::from([
            ("team".to_owned(), "ml".to_owned()),
            ("a:b-c".to_owned(), String::new()),
        ]);
        assert!(check_user_tags(&ok).is_ok());
        for bad in ["Team", "1x", "a", "has space", &"k".repeat(56)] {
            let tags = Tags::from([(bad.to_owned(), "v".to_owned())]);
            let err = check_user_tags(&tags).unwrap_err();
            assert!(
                matches!(err, CloudError::InvalidArgument { ref field, .. } if *field == format!("tags[{bad:?}]")),
                "{bad}"
            );
        }
        let long_value = Tags::from([("k1".to_owned(), "v".repeat(129))]);
        assert!(check_user_tags(&long_value).is_err());
        let bookkeeping = Bookkeeping {
            ref_id: "r".into(),
            cred_ref_id: "c".into(),
            created_at: None,
        };
        let wire = wire_tags(&ok, &bookkeeping);
        assert_eq!(
            wire[0],
            wire::Tag {
                key: REF_ID_TAG.into(),
                value: "r".into()
            }
        );
        assert_eq!(
            wire[1],
            wire::Tag {
                key: CRED_REF_ID_TAG.into(),
                value: "c".into()
            }
        );
        assert_eq!(wire.len(), 4);
    }

    /// Rules as validation hands them over.
    fn checked(ingress_rules: Vec<FirewallRule>) -> Vec<CheckedRule> {
        let add = gpucloud_core::AddFirewallRulesToInstanceArgs {
            instance_id: InstanceId::new("i-1"),
            firewall_rules: FirewallRules {
                ingress_rules,
                egress_rules: vec![],
            },
        };
        gpucloud_core::validate_firewall_add(&add, &gpucloud_core::CreateFeatures::default())
            .unwrap()
            .ingress_rules()
            .to_vec()
    }

    #[test]
    fn firewall_rules_round_trip() {
        let rules = checked(vec![
            FirewallRule::range(8000, 8010, vec!["1.2.3.4".into(), "10.0.0.0/8".into()]),
            FirewallRule {
                protocol: Some(Protocol::Udp),
                ..FirewallRule::port(5353)
            },
        ]);
        let w = with_ssh(wire_rules(&rules).unwrap());
        // ssh + (tcp,udp) × 2 sources + udp 5353
        assert_eq!(w.len(), 1 + 4 + 1);
        assert_eq!(w[0].port_range, Some(vec![22, 22]));
        assert!(
            w.iter()
                .any(|r| r.protocol == "udp" && r.source_network == "1.2.3.4/32")
        );
        let back = model_rules(&w);
        assert_eq!(back.ingress_rules.len(), 6);
        assert_eq!(back.ingress_rules[0].id, "tcp:22-22:0.0.0.0/0");
        assert!(back.ingress_rules.iter().all(|r| r.protocol.is_some()));
        assert!(back.egress_rules.is_empty());

        let own_ssh = checked(vec![FirewallRule::range(22, 22, vec!["5.6.7.8/32".into()])]);
        let w = with_ssh(wire_rules(&own_ssh).unwrap());
        assert!(
            w.iter().all(|r| r.source_network == "5.6.7.8/32"),
            "a rule already opening SSH is kept as is"
        );

        let v6 = checked(vec![FirewallRule::range(
            80,
            80,
            vec!["1.2.3.4".into(), "::/0".into()],
        )]);
        let err = wire_rules(&v6).unwrap_err();
        assert!(
            matches!(err, CloudError::InvalidArgument { ref field, .. } if field == "firewall_rules.ingress_rules[0].ip_ranges[1]")
        );
        let icmp = [wire::FirewallRule {
            protocol: "icmp".into(),
            port_range: None,
            source_network: "0.0.0.0/0".into(),
            description: String::new(),
        }];
        assert!(model_rules(&icmp).ingress_rules.is_empty());
    }

    #[test]
    fn ruleset_names_are_bounded_and_distinct() {
        let a = ruleset_name("cred-1", "ref-1");
        assert!(a.starts_with("gpucloud-ref-1-"), "{a}");
        assert_ne!(a, ruleset_name("cred-1", "ref-2"));
        assert_ne!(a, ruleset_name("cred-2", "ref-1"));
        let long = "r".repeat(128);
        assert!(ruleset_name("cred-1", &long).len() <= 64);
        assert_eq!(ruleset_name("cred-1", &"r".repeat(200)).len(), 64);
        // RefIDs that differ only past the truncation still get distinct names.
        assert_ne!(
            ruleset_name("c", &format!("{long}a")),
            ruleset_name("c", &format!("{long}b"))
        );
        assert!(legacy_ruleset_name(&long).len() <= 64);
        assert!(legacy_ruleset_name("ref-1").starts_with("gpucloud-ref-1-"));
    }

    #[test]
    fn ruleset_names_identify_their_credential() {
        for ref_id in [
            "ref-1",
            "3fa9c2b1-0000-4000-8000-000000000000",
            &"x".repeat(128),
        ] {
            let name = ruleset_name("cred-1", ref_id);
            assert!(is_credential_ruleset(&name, "cred-1"), "{name}");
            assert!(!is_credential_ruleset(&name, "cred-2"), "{name}");
            assert!(!is_credential_ruleset(&name, ""), "{name}");
            assert!(!is_credential_ruleset(
                &legacy_ruleset_name(ref_id),
                "cred-1"
            ));
        }
        let empty_cred = ruleset_name("", "ref-1");
        assert!(is_credential_ruleset(&empty_cred, ""));
        assert!(!is_credential_ruleset(&empty_cred, "cred-1"));
        let name = ruleset_name("cred-1", "ref-1");
        let (body, mark) = name.rsplit_once('-').unwrap();
        for forged in [
            format!("{body}x-{mark}"),
            format!("{}-{mark}", body.replacen("gpucloud-", "other-", 1)),
            format!(
                "{body}-{}{}",
                &mark[..MARK_LEN - 1],
                if mark.ends_with('0') { '1' } else { '0' }
            ),
            "gpucloud-web".to_owned(),
            "My Firewall Ruleset".to_owned(),
            String::new(),
        ] {
            assert!(!is_credential_ruleset(&forged, "cred-1"), "{forged}");
        }
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
