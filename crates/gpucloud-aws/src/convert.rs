//! Pure conversions between the SDK's EC2 shapes and the model, both directions, unit-tested
//! without a server: catalog entries (one per type × region × usage class), instances and
//! their states, tags and bookkeeping, security-group permissions and firewall rules, prices,
//! and the names and tokens a create derives from its RefID.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_ec2::types::{
    self as ec2, InstanceStateName, InstanceTypeInfo, IpPermission, IpRange, Ipv6Range,
};
use gpucloud_core::sshkey::PublicKey;
use gpucloud_core::{
    Architecture, Bookkeeping, Bytes, BytesUnit, CheckedRule, Cidr, CompactString, FirewallRule,
    FirewallRules, Gpu, Instance, InstanceId, InstanceType, InstanceTypeId, LifecycleStatus,
    Manufacturer, Price, Protocol, SmallVec, Status, Storage, Tags, normalize_gpu_name, smallvec,
};
use sha2::{Digest as _, Sha256};

use crate::wire;

/// The provider id.
pub(crate) const PROVIDER: &str = "aws";

/// Appended to a type name in the id of its spot catalog entry.
const SPOT_ID_SUFFIX: &str = ".spot";
/// The usage class of on-demand entries.
pub(crate) const ON_DEMAND: &str = "on-demand";
/// The usage class of spot entries.
pub(crate) const SPOT: &str = "spot";
/// The tag EC2's console shows as an instance's name.
pub(crate) const NAME_TAG: &str = "Name";
/// The tag carrying the host name a create derived (EC2 names hosts after their address).
pub(crate) const HOSTNAME_TAG: &str = "gpucloud-hostname";
/// The tag a create puts on a key pair or security group it reuses, with the time (RFC 3339),
/// before it launches with it: a sweep in another process leaves a resource claimed within its
/// grace, since that create may still be launching.
pub(crate) const USED_AT_TAG: &str = "gpucloud-used-at";
/// The prefix of every name gpucloud gives a key pair or security group.
pub(crate) const MANAGED_PREFIX: &str = "gpucloud-";

/// The instance-type patterns of the GPU families (`p`, `g`). A type must also report GPUs
/// to be listed.
pub(crate) const ACCELERATED_PATTERNS: &[&str] = &["p*", "g*"];

/// The smallest and largest root volume EC2 takes (gp3), in GiB.
pub(crate) const ROOT_VOLUME_MIN_GIB: u64 = 8;
/// The largest root volume (gp3), in GiB.
pub(crate) const ROOT_VOLUME_MAX_GIB: u64 = 16_384;

/// The catalog id of `instance_type` in `region`, on demand or spot: catalog entries and
/// instances use this one function, so they always agree.
pub(crate) fn type_id(region: &str, instance_type: &str, spot: bool) -> InstanceTypeId {
    if spot {
        InstanceTypeId::generic(region, None, &format!("{instance_type}{SPOT_ID_SUFFIX}"))
    } else {
        InstanceTypeId::generic(region, None, instance_type)
    }
}

/// The lifecycle of an EC2 instance state.
pub(crate) fn lifecycle(state: Option<&InstanceStateName>) -> LifecycleStatus {
    match state {
        Some(InstanceStateName::Running) => LifecycleStatus::Running,
        Some(InstanceStateName::Stopping) => LifecycleStatus::Stopping,
        Some(InstanceStateName::Stopped) => LifecycleStatus::Stopped,
        Some(InstanceStateName::ShuttingDown) => LifecycleStatus::Terminating,
        Some(InstanceStateName::Terminated) => LifecycleStatus::Terminated,
        // `pending`, and states EC2 adds later: on its way somewhere.
        _ => LifecycleStatus::Pending,
    }
}

/// Whether a type is accelerated: it has GPUs of a manufacturer the model knows.
pub(crate) fn is_accelerated(info: &InstanceTypeInfo) -> bool {
    gpus(info).is_some()
}

/// The GPUs of a type, when they are of a manufacturer the model knows (NVIDIA, AMD, Intel).
/// VRAM is the nominal size per GPU in decimal GB, as GPUs are sold: EC2's MiB over 1024,
/// rounded (81920 MiB is an 80 GB H100).
fn gpus(info: &InstanceTypeInfo) -> Option<Gpu> {
    let gpu = info.gpu_info().and_then(|g| g.gpus().first())?;
    let manufacturer = Manufacturer::parse_lenient(gpu.manufacturer().unwrap_or_default());
    let count = gpu.count().unwrap_or(0).max(0) as u32;
    if count == 0 || manufacturer == Manufacturer::Unknown {
        return None;
    }
    let name = gpu.name().unwrap_or_default();
    let mib = i64::from(
        gpu.memory_info()
            .and_then(ec2::GpuDeviceMemoryInfo::size_in_mib)
            .unwrap_or(0),
    );
    let efa = info
        .network_info()
        .and_then(ec2::NetworkInfo::efa_supported)
        .unwrap_or(false);
    Some(Gpu {
        count,
        memory_bytes: Bytes::new((mib + 512) / 1024, BytesUnit::GB),
        network_details: if efa {
            "EFA".into()
        } else {
            CompactString::default()
        },
        manufacturer,
        name: normalize_gpu_name(name),
        gpu_type: name.trim().to_ascii_uppercase().into(),
        ..Gpu::default()
    })
}

/// The architecture of a type (the first it supports that the model knows).
fn architecture(info: &InstanceTypeInfo) -> Architecture {
    info.processor_info()
        .map(ec2::ProcessorInfo::supported_architectures)
        .unwrap_or_default()
        .iter()
        .map(|a| Architecture::parse_lenient(a.as_str()))
        .find(|a| *a != Architecture::Unknown)
        .unwrap_or(Architecture::Unknown)
}

/// The storage of a type: the elastic EBS root volume (its size limits are checked at create;
/// its price is per region and not read, so no size range is claimed), and the local NVMe
/// disks it has.
fn storage(info: &InstanceTypeInfo) -> SmallVec<[Storage; 1]> {
    let mut out = smallvec![Storage {
        count: 1,
        size_bytes: Bytes::new(
            i64::from(crate::config::DEFAULT_ROOT_VOLUME_GIB),
            BytesUnit::GiB
        ),
        storage_type: "ebs-gp3".into(),
        is_elastic: true,
        ..Storage::default()
    }];
    if let Some(local) = info.instance_storage_info() {
        for disk in local.disks() {
            out.push(Storage {
                count: disk.count().unwrap_or(0).max(0) as u32,
                size_bytes: Bytes::new(disk.size_in_gb().unwrap_or(0), BytesUnit::GB),
                storage_type: format!("local-{}", disk.r#type().map_or("disk", |t| t.as_str()))
                    .into(),
                is_ephemeral: true,
                ..Storage::default()
            });
        }
    }
    out
}

/// A type's memory: whole GiB where EC2's MiB are (as types are sold), else MiB.
fn memory(mib: i64) -> Bytes {
    if mib % 1024 == 0 {
        Bytes::new(mib / 1024, BytesUnit::GiB)
    } else {
        Bytes::new(mib, BytesUnit::MiB)
    }
}

/// The lowest current spot price of each type over the region's zones, from
/// `DescribeSpotPriceHistory` (newest first per zone). A price that does not parse, or is not
/// positive, is no price.
pub(crate) fn spot_prices(history: &[ec2::SpotPrice]) -> HashMap<String, Price> {
    let mut newest: HashMap<(String, String), (aws_sdk_ec2::primitives::DateTime, Price)> =
        HashMap::new();
    for entry in history {
        let (Some(t), Some(zone), Some(text)) = (
            entry.instance_type(),
            entry.availability_zone(),
            entry.spot_price(),
        ) else {
            continue;
        };
        let Some(price) = Price::parse(text.trim(), "USD")
            .ok()
            .filter(|p| p.amount.is_sign_positive() && !p.amount.is_zero())
        else {
            continue;
        };
        let when = entry
            .timestamp()
            .copied()
            .unwrap_or(aws_sdk_ec2::primitives::DateTime::from_secs(0));
        let key = (t.as_str().to_owned(), zone.to_owned());
        match newest.get(&key) {
            Some((seen, _)) if *seen >= when => {}
            _ => {
                newest.insert(key, (when, price));
            }
        }
    }
    let mut out: HashMap<String, Price> = HashMap::new();
    for ((t, _), (_, price)) in newest {
        match out.get(&t) {
            Some(lowest) if lowest.amount <= price.amount => {}
            _ => {
                out.insert(t, price);
            }
        }
    }
    out
}

/// The on-demand hourly price of each type in `region` from Price List products (JSON texts);
/// a product that cannot be read, of another region, or without a positive USD hourly price
/// is skipped.
pub(crate) fn on_demand_prices<'a>(
    region: &str,
    products: impl IntoIterator<Item = &'a str>,
) -> HashMap<String, Price> {
    let mut out = HashMap::new();
    for text in products {
        let Ok(p) = serde_json::from_str::<wire::PriceListProduct>(text) else {
            continue;
        };
        let attrs = &p.product.attributes;
        if attrs.instance_type.is_empty()
            || (!attrs.region_code.is_empty() && attrs.region_code != region)
        {
            continue;
        }
        let price = p
            .terms
            .on_demand
            .values()
            .flat_map(|term| term.price_dimensions.values())
            .filter(|d| d.unit.eq_ignore_ascii_case("hrs"))
            .filter_map(|d| d.price_per_unit.get("USD"))
            .filter_map(|usd| Price::parse(usd.trim(), "USD").ok())
            .find(|p| p.amount.is_sign_positive() && !p.amount.is_zero());
        if let Some(price) = price {
            out.insert(attrs.instance_type.clone(), price);
        }
    }
    out
}

/// One region's catalog: the types' descriptions, the zones that offer each, and the prices.
pub(crate) struct RegionCatalog<'a> {
    pub(crate) region: &'a str,
    pub(crate) types: &'a [InstanceTypeInfo],
    pub(crate) zones: &'a HashMap<String, Vec<String>>,
    pub(crate) on_demand: &'a HashMap<String, Price>,
    pub(crate) spot: &'a HashMap<String, Price>,
}

impl RegionCatalog<'_> {
    /// Every entry: each type on demand, and as spot where it has a spot price and supports
    /// spot, available where a zone of the region offers it.
    pub(crate) fn entries(&self) -> Vec<InstanceType> {
        let mut out = Vec::new();
        for info in self.types {
            let Some(name) = info.instance_type().map(|t| t.as_str().to_owned()) else {
                continue;
            };
            let zones = self.zones.get(&name).cloned().unwrap_or_default();
            let spot_supported = info
                .supported_usage_classes()
                .iter()
                .any(|c| c.as_str() == "spot");
            let mut classes = vec![(false, self.on_demand.get(&name).cloned())];
            if let Some(price) = self.spot.get(&name).filter(|_| spot_supported) {
                classes.push((true, Some(price.clone())));
            }
            let gpu = gpus(info);
            let vcpu = info
                .v_cpu_info()
                .and_then(ec2::VCpuInfo::default_v_cpus)
                .unwrap_or(0)
                .max(0) as u32;
            let cores = info
                .v_cpu_info()
                .and_then(ec2::VCpuInfo::default_cores)
                .unwrap_or(0)
                .max(0) as u32;
            let memory_mib = info
                .memory_info()
                .and_then(ec2::MemoryInfo::size_in_mib)
                .unwrap_or(0);
            for (spot, base_price) in classes {
                let mut entry = InstanceType {
                    location: self.region.into(),
                    available_azs: zones.clone(),
                    type_name: name.as_str().into(),
                    supported_gpus: gpu.iter().cloned().collect(),
                    supported_storage: storage(info),
                    elastic_root_volume: true,
                    supported_usage_classes: smallvec![CompactString::from(if spot {
                        SPOT
                    } else {
                        ON_DEMAND
                    })],
                    memory_bytes: memory(memory_mib),
                    maximum_network_interfaces: info
                        .network_info()
                        .and_then(aws_sdk_ec2::types::NetworkInfo::maximum_network_interfaces)
                        .unwrap_or(0)
                        .max(0) as u32,
                    network_performance: info
                        .network_info()
                        .and_then(|n| n.network_performance())
                        .unwrap_or_default()
                        .to_owned(),
                    default_cores: cores,
                    vcpu,
                    supported_architectures: smallvec![architecture(info)],
                    clock_speed_in_ghz: info
                        .processor_info()
                        .and_then(aws_sdk_ec2::types::ProcessorInfo::sustained_clock_speed_in_ghz)
                        .unwrap_or(0.0),
                    // A one-time spot instance cannot be stopped; EC2 refuses it.
                    stoppable: !spot,
                    rebootable: true,
                    preemptible: spot,
                    variable_price: spot,
                    is_available: !zones.is_empty(),
                    base_price,
                    provider: PROVIDER.into(),
                    cloud: PROVIDER.into(),
                    can_modify_firewall_rules: true,
                    ..InstanceType::default()
                };
                entry.id = type_id(self.region, &name, spot);
                out.push(entry);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }
}

/// The tags of an instance or resource as pairs.
pub(crate) fn tag_pairs(tags: &[ec2::Tag]) -> Vec<(String, String)> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// The bookkeeping and user tags of a tag list; the `Name` tag is the instance's name, not a
/// user tag.
pub(crate) fn bookkeeping_of(tags: &[ec2::Tag]) -> (Bookkeeping, Tags) {
    let (bookkeeping, mut user) = Bookkeeping::decode(tag_pairs(tags));
    user.remove(NAME_TAG);
    (bookkeeping, user)
}

/// The value of tag `key`, if present.
pub(crate) fn tag<'a>(tags: &'a [ec2::Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// SDK tags from pairs.
pub(crate) fn to_tags(pairs: impl IntoIterator<Item = (String, String)>) -> Vec<ec2::Tag> {
    pairs
        .into_iter()
        .map(|(k, v)| ec2::Tag::builder().key(k).value(v).build())
        .collect()
}

/// When a create last claimed a resource gpucloud made: the newest of the time it was made
/// (the `gpucloud-created-at` tag, else `created`, the provider's own record) and the last
/// reuse ([`USED_AT_TAG`]). `None` when neither tells.
pub(crate) fn last_claim(
    tags: &[ec2::Tag],
    created: Option<jiff::Timestamp>,
) -> Option<jiff::Timestamp> {
    let stamp = |key: &str| tag(tags, key).and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let made = stamp(gpucloud_core::bookkeeping::CREATED_AT_TAG).or(created);
    made.into_iter().chain(stamp(USED_AT_TAG)).max()
}

/// The rule id of one (protocol, ports, source) permission: `tcp:22-22:0.0.0.0/0`. Revoking
/// by id parses it back ([`parse_rule_id`]), so ids need no extra call to list.
pub(crate) fn rule_id(protocol: &str, from: u16, to: u16, cidr: &str) -> String {
    format!("{protocol}:{from}-{to}:{cidr}")
}

/// The permission a rule id names.
pub(crate) fn parse_rule_id(id: &str) -> Option<IpPermission> {
    let mut parts = id.splitn(3, ':');
    let protocol = parts.next()?;
    let (from, to) = parts.next()?.split_once('-')?;
    let cidr = Cidr::parse(parts.next()?).ok()?;
    if !matches!(protocol, "tcp" | "udp" | "-1") {
        return None;
    }
    let (from, to): (i32, i32) = (from.parse().ok()?, to.parse().ok()?);
    Some(permission(protocol, from, to, &[cidr]))
}

fn permission(protocol: &str, from: i32, to: i32, sources: &[Cidr]) -> IpPermission {
    let mut builder = IpPermission::builder().ip_protocol(protocol);
    if protocol != "-1" {
        builder = builder.from_port(from).to_port(to);
    }
    for cidr in sources {
        if cidr.is_ipv4() {
            builder = builder.ip_ranges(IpRange::builder().cidr_ip(cidr.to_string()).build());
        } else {
            builder = builder.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr.to_string()).build());
        }
    }
    builder.build()
}

/// The permissions of checked ingress rules: one per protocol (TCP and UDP for a rule of
/// both), from anywhere (IPv4 and IPv6) when the rule names no source.
pub(crate) fn permissions<'a>(
    rules: impl IntoIterator<Item = &'a CheckedRule>,
) -> Vec<IpPermission> {
    let anywhere = [Cidr::ANY_V4, Cidr::ANY_V6];
    let mut out = Vec::new();
    for rule in rules {
        let sources = if rule.sources().is_empty() {
            &anywhere[..]
        } else {
            rule.sources()
        };
        let protocols: &[&str] = match rule.protocol() {
            Some(Protocol::Tcp) => &["tcp"],
            Some(Protocol::Udp) => &["udp"],
            None => &["tcp", "udp"],
        };
        for protocol in protocols {
            out.push(permission(
                protocol,
                i32::from(rule.from_port()),
                i32::from(rule.to_port()),
                sources,
            ));
        }
    }
    out
}

/// The SSH permission every new group has: TCP 22 from anywhere.
pub(crate) fn ssh_permission() -> IpPermission {
    permission("tcp", 22, 22, &[Cidr::ANY_V4, Cidr::ANY_V6])
}

/// The firewall rules of a group's ingress permissions: one rule per (protocol, ports,
/// source), with the id [`rule_id`] gives it. ICMP and group-to-group permissions are not port
/// rules of the model and are left out.
pub(crate) fn ingress_rules(permissions: &[IpPermission]) -> Vec<FirewallRule> {
    let mut out = Vec::new();
    for p in permissions {
        let protocol = p.ip_protocol().unwrap_or_default();
        let (model_protocol, from, to) = match protocol {
            "tcp" | "6" => (Some(Protocol::Tcp), p.from_port(), p.to_port()),
            "udp" | "17" => (Some(Protocol::Udp), p.from_port(), p.to_port()),
            "-1" => (None, Some(1), Some(i32::from(u16::MAX))),
            _ => continue,
        };
        let (Some(from), Some(to)) = (
            from.and_then(|f| u16::try_from(f).ok()),
            to.and_then(|t| u16::try_from(t).ok()),
        ) else {
            continue;
        };
        let cidrs = p
            .ip_ranges()
            .iter()
            .filter_map(IpRange::cidr_ip)
            .chain(p.ipv6_ranges().iter().filter_map(Ipv6Range::cidr_ipv6));
        for cidr in cidrs {
            out.push(FirewallRule {
                id: rule_id(protocol, from, to, cidr),
                from_port: from,
                to_port: to,
                ip_ranges: vec![cidr.to_owned()],
                protocol: model_protocol,
            });
        }
    }
    out
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The key pair name of a public key: `gpucloud-<SHA-256 of the key, 32 hex>`. The same key
/// always has the same name, so a key imported once is reused by every create.
pub(crate) fn key_pair_name(key: &PublicKey) -> String {
    let digest = Sha256::digest(key.to_openssh().as_bytes());
    format!("{MANAGED_PREFIX}{}", hex(&digest[..16]))
}

/// The security group name of a create: `gpucloud-<RefID, sanitized>-<12 hex of SHA-256 of
/// the credential reference and RefID>`, at most 255 characters; unique per credential and
/// RefID.
pub(crate) fn group_name(cred_ref_id: &str, ref_id: &str) -> String {
    let digest = Sha256::digest(format!("{cred_ref_id}/{ref_id}").as_bytes());
    let clean: String = ref_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(200)
        .collect();
    format!("{MANAGED_PREFIX}{clean}-{}", hex(&digest[..6]))
}

/// The `ClientToken` of a launch: the same for every attempt of one create (the credential,
/// the RefID and the security group it made), so EC2 launches at most one instance for it; a
/// later create of the RefID makes a new group and so a new token. 64 characters at most.
pub(crate) fn client_token(cred_ref_id: &str, ref_id: &str, group_id: &str) -> String {
    let digest = Sha256::digest(format!("{cred_ref_id}/{ref_id}/{group_id}").as_bytes());
    format!("gpucloud-{}", hex(&digest[..24]))
}

/// The root volume of a create in GiB: the request's bytes rounded up to whole GiB, or the
/// default. The error names `disk_size_bytes` when it is outside what EC2 takes.
pub(crate) fn root_volume_gib(bytes: Bytes) -> gpucloud_core::Result<i32> {
    let total = bytes.byte_count();
    if total <= 0 {
        return Ok(crate::config::DEFAULT_ROOT_VOLUME_GIB as i32);
    }
    let gib = (total as u64).div_ceil(1 << 30);
    if !(ROOT_VOLUME_MIN_GIB..=ROOT_VOLUME_MAX_GIB).contains(&gib) {
        return Err(gpucloud_core::CloudError::invalid(
            "disk_size_bytes",
            format!(
                "EC2 root volumes are {ROOT_VOLUME_MIN_GIB} to {ROOT_VOLUME_MAX_GIB} GiB; {gib} GiB asked"
            ),
        ));
    }
    Ok(gib as i32)
}

/// The size a root volume is grown to, in GiB: `bytes` rounded up to whole GiB. The error
/// names `size_bytes` when it is outside what EC2 takes.
pub(crate) fn resized_root_gib(bytes: Bytes) -> gpucloud_core::Result<i32> {
    let total = bytes.byte_count();
    if total <= 0 {
        return Err(gpucloud_core::CloudError::invalid(
            "size_bytes",
            "must be more than zero",
        ));
    }
    let gib = u64::try_from(total).unwrap_or(u64::MAX).div_ceil(1 << 30);
    if !(ROOT_VOLUME_MIN_GIB..=ROOT_VOLUME_MAX_GIB).contains(&gib) {
        return Err(gpucloud_core::CloudError::invalid(
            "size_bytes",
            format!(
                "EC2 root volumes are {ROOT_VOLUME_MIN_GIB} to {ROOT_VOLUME_MAX_GIB} GiB; {gib} GiB asked"
            ),
        ));
    }
    Ok(gib as i32)
}

/// The EBS volume an instance boots from: the block device mapped at its root device name.
pub(crate) fn root_volume_id(w: &ec2::Instance) -> Option<&str> {
    let root = w.root_device_name()?;
    w.block_device_mappings()
        .iter()
        .find(|m| m.device_name() == Some(root))
        .and_then(|m| m.ebs())
        .and_then(|ebs| ebs.volume_id())
}

/// An instance in the model. `region` is the region it was read in; `rules` its group's
/// ingress rules when they were read.
pub(crate) fn instance(
    w: &ec2::Instance,
    region: &str,
    ssh_user: &str,
    rules: Option<Vec<FirewallRule>>,
) -> Instance {
    let (bookkeeping, tags) = bookkeeping_of(w.tags());
    let lifecycle = lifecycle(w.state().and_then(|s| s.name()));
    let instance_type = w
        .instance_type()
        .map(|t| t.as_str().to_owned())
        .unwrap_or_default();
    let spot = w.instance_lifecycle().is_some_and(|l| l.as_str() == "spot");
    let zone = w
        .placement()
        .and_then(|p| p.availability_zone())
        .unwrap_or_default()
        .to_owned();
    let name = tag(w.tags(), NAME_TAG).unwrap_or_default().to_owned();
    let hostname = tag(w.tags(), HOSTNAME_TAG).map_or_else(|| name.clone(), str::to_owned);
    let created_at = w
        .launch_time()
        .and_then(|t| jiff::Timestamp::from_second(t.secs()).ok());
    let metadata = w.metadata_options();
    Instance {
        instance_type_id: type_id(region, &instance_type, spot),
        cloud_id: InstanceId::new(w.instance_id().unwrap_or_default()),
        hostname,
        name,
        ref_id: bookkeeping.ref_id,
        cloud_cred_ref_id: bookkeeping.cred_ref_id,
        created_at: bookkeeping.created_at.or(created_at),
        public_ip: w.public_ip_address().unwrap_or_default().to_owned(),
        public_dns: w.public_dns_name().unwrap_or_default().to_owned(),
        private_ip: w.private_ip_address().unwrap_or_default().to_owned(),
        image_id: w.image_id().unwrap_or_default().to_owned(),
        instance_type,
        volume_type: "ebs".to_owned(),
        ssh_user: ssh_user.to_owned(),
        ssh_port: 22,
        status: Status::new(lifecycle),
        meta_endpoint_enabled: metadata
            .and_then(|m| m.http_endpoint())
            .is_none_or(|e| e.as_str() == "enabled"),
        meta_tags_enabled: metadata
            .and_then(|m| m.instance_metadata_tags())
            .is_some_and(|e| e.as_str() == "enabled"),
        vpc_id: w.vpc_id().unwrap_or_default().to_owned(),
        subnet_id: w.subnet_id().unwrap_or_default().to_owned(),
        spot,
        firewall_rules: FirewallRules {
            ingress_rules: rules.unwrap_or_default(),
            egress_rules: Vec::new(),
        },
        location: region.to_owned(),
        sub_location: zone,
        tags,
        stoppable: !spot
            && matches!(
                lifecycle,
                LifecycleStatus::Running | LifecycleStatus::Stopped
            ),
        rebootable: lifecycle == LifecycleStatus::Running,
        ..Instance::default()
    }
}

/// The security group of an instance that a create of this credential made (named with the
/// managed prefix), if any.
pub(crate) fn managed_group(w: &ec2::Instance) -> Option<String> {
    w.security_groups()
        .iter()
        .find(|g| {
            g.group_name()
                .is_some_and(|n| n.starts_with(MANAGED_PREFIX))
        })
        .and_then(|g| g.group_id())
        .map(str::to_owned)
}

/// User tags as a sorted map, for comparing.
pub(crate) fn sorted(tags: &Tags) -> BTreeMap<&str, &str> {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::{
        GpuDeviceInfo, GpuDeviceMemoryInfo, GpuInfo, InstanceState, InstanceType as Ec2Type,
        MemoryInfo, ProcessorInfo, UsageClassType, VCpuInfo,
    };
    use gpucloud_core::bookkeeping::{CRED_REF_ID_TAG, REF_ID_TAG};

    use super::*;

    fn p5() -> InstanceTypeInfo {
        InstanceTypeInfo::builder()
            .instance_type(Ec2Type::P548xlarge)
            .v_cpu_info(
                VCpuInfo::builder()
                    .default_v_cpus(192)
                    .default_cores(96)
                    .build(),
            )
            .memory_info(MemoryInfo::builder().size_in_mib(2_097_152).build())
            .gpu_info(
                GpuInfo::builder()
                    .gpus(
                        GpuDeviceInfo::builder()
                            .name("H100")
                            .manufacturer("NVIDIA")
                            .count(8)
                            .memory_info(GpuDeviceMemoryInfo::builder().size_in_mib(81920).build())
                            .build(),
                    )
                    .build(),
            )
            .processor_info(
                ProcessorInfo::builder()
                    .supported_architectures(ec2::ArchitectureType::X8664)
                    .build(),
            )
            .supported_usage_classes(UsageClassType::OnDemand)
            .supported_usage_classes(UsageClassType::Spot)
            .build()
    }

    #[test]
    fn a_type_is_an_on_demand_entry_and_a_spot_entry_with_their_prices() {
        let types = [p5()];
        let zones = HashMap::from([(
            "p5.48xlarge".to_owned(),
            vec!["us-east-1a".to_owned(), "us-east-1b".to_owned()],
        )]);
        let on_demand = HashMap::from([("p5.48xlarge".to_owned(), Price::usd_cents(9832))]);
        let spot = HashMap::from([("p5.48xlarge".to_owned(), Price::usd_cents(3000))]);
        let catalog = RegionCatalog {
            region: "us-east-1",
            types: &types,
            zones: &zones,
            on_demand: &on_demand,
            spot: &spot,
        };
        let entries = catalog.entries();
        assert_eq!(entries.len(), 2);
        let od = &entries[0];
        assert_eq!(od.id.as_str(), "us-east-1-noSub-p5.48xlarge");
        assert_eq!(od.base_price, Some(Price::usd_cents(9832)));
        assert_eq!(od.gpu_count(), 8);
        assert_eq!(od.supported_gpus[0].name.as_str(), "H100");
        assert_eq!(
            od.supported_gpus[0].memory_bytes,
            Bytes::new(80, BytesUnit::GB)
        );
        assert_eq!(od.vcpu, 192);
        assert_eq!(od.memory_bytes, Bytes::new(2048, BytesUnit::GiB));
        assert_eq!(od.supported_architectures[0], Architecture::X86_64);
        assert!(od.is_available && od.stoppable && !od.preemptible);
        assert_eq!(od.available_azs, ["us-east-1a", "us-east-1b"]);
        let sp = &entries[1];
        assert!(sp.preemptible && !sp.stoppable);
        assert_eq!(sp.id, type_id("us-east-1", "p5.48xlarge", true));
        // Without prices, the price is unknown, never zero, and spot is not offered.
        let none = HashMap::new();
        let unpriced = RegionCatalog {
            on_demand: &none,
            spot: &none,
            ..catalog
        }
        .entries();
        assert_eq!(unpriced.len(), 1);
        assert_eq!(unpriced[0].base_price, None);
    }

    #[test]
    fn prices_are_read_from_products_and_spot_history() {
        let product = r#"{"product":{"attributes":{"instanceType":"p5.48xlarge","regionCode":"us-east-1"}},
            "terms":{"OnDemand":{"A":{"priceDimensions":{"B":{"unit":"Hrs","pricePerUnit":{"USD":"98.3200000000"}}}}}},
            "extra": 1}"#;
        let other_region = product.replace("us-east-1", "us-west-2");
        let zero = r#"{"product":{"attributes":{"instanceType":"g5.xlarge","regionCode":"us-east-1"}},
            "terms":{"OnDemand":{"A":{"priceDimensions":{"B":{"unit":"Hrs","pricePerUnit":{"USD":"0.0000000000"}}}}}}}"#;
        let prices = on_demand_prices(
            "us-east-1",
            [product, other_region.as_str(), zero, "not json", "{}"],
        );
        assert_eq!(prices.len(), 1);
        assert_eq!(prices["p5.48xlarge"].amount.to_string(), "98.3200000000");

        let at = |s| aws_sdk_ec2::primitives::DateTime::from_secs(s);
        let entry = |zone: &str, price: &str, secs| {
            ec2::SpotPrice::builder()
                .instance_type(Ec2Type::P548xlarge)
                .availability_zone(zone)
                .spot_price(price)
                .timestamp(at(secs))
                .build()
        };
        let spot = spot_prices(&[
            entry("us-east-1a", "40.0", 10),
            entry("us-east-1a", "35.5", 5),
            entry("us-east-1b", "38.0", 10),
            entry("us-east-1c", "0", 10),
            entry("us-east-1d", "n/a", 10),
        ]);
        assert_eq!(spot["p5.48xlarge"].amount.to_string(), "38.0");
    }

    #[test]
    fn every_state_has_a_lifecycle() {
        let cases = [
            (InstanceStateName::Pending, LifecycleStatus::Pending),
            (InstanceStateName::Running, LifecycleStatus::Running),
            (InstanceStateName::Stopping, LifecycleStatus::Stopping),
            (InstanceStateName::Stopped, LifecycleStatus::Stopped),
            (
                InstanceStateName::ShuttingDown,
                LifecycleStatus::Terminating,
            ),
            (InstanceStateName::Terminated, LifecycleStatus::Terminated),
            (
                InstanceStateName::from("hibernating"),
                LifecycleStatus::Pending,
            ),
        ];
        for (state, lifecycle_status) in cases {
            assert_eq!(lifecycle(Some(&state)), lifecycle_status, "{state:?}");
        }
        assert_eq!(lifecycle(None), LifecycleStatus::Pending);
    }

    #[test]
    fn instances_carry_bookkeeping_name_and_user_tags() {
        let w = ec2::Instance::builder()
            .instance_id("i-1")
            .instance_type(Ec2Type::G5Xlarge)
            .state(
                InstanceState::builder()
                    .name(InstanceStateName::Running)
                    .build(),
            )
            .tags(ec2::Tag::builder().key(REF_ID_TAG).value("ref-1").build())
            .tags(
                ec2::Tag::builder()
                    .key(CRED_REF_ID_TAG)
                    .value("cred-1")
                    .build(),
            )
            .tags(ec2::Tag::builder().key(NAME_TAG).value("train").build())
            .tags(ec2::Tag::builder().key("team").value("ml").build())
            .placement(
                ec2::Placement::builder()
                    .availability_zone("us-east-1b")
                    .build(),
            )
            .build();
        let i = instance(&w, "us-east-1", "ubuntu", None);
        assert_eq!(
            (i.ref_id.as_str(), i.cloud_cred_ref_id.as_str()),
            ("ref-1", "cred-1")
        );
        assert_eq!(i.name, "train");
        assert_eq!(i.tags, Tags::from([("team".to_owned(), "ml".to_owned())]));
        assert_eq!(i.instance_type_id, type_id("us-east-1", "g5.xlarge", false));
        assert_eq!(i.sub_location, "us-east-1b");
        assert!(i.stoppable && i.rebootable && !i.spot);
        let unmarked = instance(
            &ec2::Instance::builder().instance_id("i-2").build(),
            "us-east-1",
            "ubuntu",
            None,
        );
        assert!(unmarked.ref_id.is_empty() && unmarked.cloud_cred_ref_id.is_empty());
    }

    #[test]
    fn rules_round_trip_through_permissions_and_ids() {
        let perms = vec![
            ssh_permission(),
            permission("udp", 5000, 5010, &[Cidr::parse("203.0.113.0/24").unwrap()]),
            permission("icmp", -1, -1, &[Cidr::ANY_V4]),
        ];
        let rules = ingress_rules(&perms);
        let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "tcp:22-22:0.0.0.0/0",
                "tcp:22-22:::/0",
                "udp:5000-5010:203.0.113.0/24"
            ]
        );
        let back = parse_rule_id("udp:5000-5010:203.0.113.0/24").unwrap();
        assert_eq!(back, perms[1]);
        assert_eq!(
            parse_rule_id("tcp:22-22:::/0").unwrap().ipv6_ranges().len(),
            1
        );
        for bad in [
            "",
            "gpucloud-conformance-no-such-rule",
            "icmp:1-2:0.0.0.0/0",
            "tcp:x-2:0.0.0.0/0",
            "tcp:1-2:nope",
        ] {
            assert!(parse_rule_id(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn names_and_tokens_are_stable_and_within_limits() {
        let a = client_token("cred", "ref", "sg-1");
        assert_eq!(a, client_token("cred", "ref", "sg-1"));
        assert_ne!(a, client_token("cred", "ref", "sg-2"));
        assert!(a.len() <= 64);
        let g = group_name("cred", "Job #1/x");
        assert!(g.starts_with("gpucloud-Job--1-x-") && g.len() <= 255, "{g}");
        assert_ne!(g, group_name("other", "Job #1/x"));
        assert_eq!(root_volume_gib(Bytes::default()).unwrap(), 200);
        assert_eq!(root_volume_gib(Bytes::new(100, BytesUnit::GB)).unwrap(), 94);
        assert!(root_volume_gib(Bytes::new(1, BytesUnit::GiB)).is_err());
    }

    #[test]
    fn a_resize_is_rounded_up_to_whole_gib_and_named_when_out_of_range() {
        assert_eq!(resized_root_gib(Bytes::new(1, BytesUnit::TB)).unwrap(), 932);
        assert_eq!(
            resized_root_gib(Bytes::new(300, BytesUnit::GiB)).unwrap(),
            300
        );
        for bad in [
            Bytes::default(),
            Bytes::new(-5, BytesUnit::GiB),
            Bytes::new(1, BytesUnit::GiB),
            Bytes::new(17, BytesUnit::TiB),
            Bytes::new(i64::MAX, BytesUnit::EiB),
        ] {
            let error = resized_root_gib(bad).unwrap_err();
            assert!(error.to_string().contains("size_bytes"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn the_last_claim_is_the_newest_of_the_making_and_the_reuses() {
        let at = |t: &str| t.parse::<jiff::Timestamp>().unwrap();
        let tags = |pairs: &[(&str, &str)]| {
            to_tags(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            )
        };
        let created = Some(at("2026-01-01T00:00:00Z"));
        assert_eq!(last_claim(&[], None), None);
        assert_eq!(last_claim(&[], created), created);
        let made = tags(&[(
            gpucloud_core::bookkeeping::CREATED_AT_TAG,
            "2026-02-01T00:00:00Z",
        )]);
        assert_eq!(
            last_claim(&made, created),
            Some(at("2026-02-01T00:00:00Z")),
            "the tag wins over the provider's record"
        );
        let reused = tags(&[
            (USED_AT_TAG, "2026-03-01T00:00:00Z"),
            (
                gpucloud_core::bookkeeping::CREATED_AT_TAG,
                "2026-02-01T00:00:00Z",
            ),
        ]);
        assert_eq!(
            last_claim(&reused, created),
            Some(at("2026-03-01T00:00:00Z"))
        );
        // An unreadable stamp is no claim; the others still count.
        let garbled = tags(&[(USED_AT_TAG, "yesterday")]);
        assert_eq!(last_claim(&garbled, created), created);
    }
}
