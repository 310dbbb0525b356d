//! Pure conversions between Nebius's protobuf messages and the model, unit-tested without a
//! server: platforms and presets → instance types (GPU normalization, quota availability,
//! calculator prices), instances, images, and the model's firewall rules → security rules.

use std::collections::BTreeMap;

use compute::instance_status::InstanceState;
use gpucloud_core::{
    Architecture, Bookkeeping, Bytes, BytesUnit, CheckedRule, FirewallRule, Gpu, Image, Instance,
    InstanceId, InstanceType, InstanceTypeId, LifecycleStatus, Manufacturer, Price, Protocol,
    Status,
};
use gpucloud_nebius_proto::compute::v1 as compute;
use gpucloud_nebius_proto::quotas::v1 as quotas;
use gpucloud_nebius_proto::vpc::v1 as vpc;

use crate::PROVIDER_ID;

/// The most ports and CIDRs one Nebius security rule holds.
pub(crate) const RULE_LIST_MAX: usize = 8;

/// What a platform's GPU is, normalized like Lambda's: base model, nominal VRAM, form factor
/// (the interconnect between GPU and host), memory technology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GpuModel {
    pub(crate) name: &'static str,
    pub(crate) vram_gb: i64,
    pub(crate) form_factor: &'static str,
    pub(crate) memory: &'static str,
    pub(crate) architecture: Architecture,
}

const fn model(
    name: &'static str,
    vram_gb: i64,
    form_factor: &'static str,
    memory: &'static str,
    architecture: Architecture,
) -> GpuModel {
    GpuModel {
        name,
        vram_gb,
        form_factor,
        memory,
        architecture,
    }
}

/// The GPU of a Nebius platform by its name (`gpu-h100-sxm`, `gpu-l40s-a`, `gpu-gb200`, ...);
/// `None` for CPU platforms. Grace superchips (`gb…`) are checked before the bare Blackwell
/// names they contain. A GPU platform this table does not know keeps its own name.
pub(crate) fn gpu_model(platform: &str) -> Option<GpuModel> {
    use Architecture::{Arm64, X86_64};
    let name = platform.to_ascii_lowercase();
    if name.starts_with("cpu-") || !name.starts_with("gpu-") {
        return None;
    }
    let has = |token: &str| name.split('-').any(|t| t == token);
    Some(if has("gb300") {
        model("GB300", 270, "NVLink-C2C", "HBM3e", Arm64)
    } else if has("gb200") {
        model("GB200", 192, "NVLink-C2C", "HBM3e", Arm64)
    } else if has("b300") {
        model("B300", 270, "SXM6", "HBM3e", X86_64)
    } else if has("b200") {
        model("B200", 192, "SXM6", "HBM3e", X86_64)
    } else if has("h200") {
        model("H200", 141, "SXM5", "HBM3e", X86_64)
    } else if has("h100") {
        model("H100", 80, "SXM5", "HBM3", X86_64)
    } else if has("a100") {
        model("A100", 80, "SXM4", "HBM2e", X86_64)
    } else if has("l40s") {
        model("L40S", 48, "PCIe", "GDDR6", X86_64)
    } else if has("rtx6000") {
        model("RTX PRO 6000", 96, "PCIe", "GDDR7", X86_64)
    } else {
        model("GPU", 0, "", "", X86_64)
    })
}

/// The instance-type name of a preset: `<platform>.<preset>`, e.g.
/// `gpu-h100-sxm.8gpu-128vcpu-1600gb`.
pub(crate) fn type_name(platform: &str, preset: &str) -> String {
    format!("{platform}.{preset}")
}

/// Splits a type name into platform and preset; `None` when it has no `.` or an empty part.
pub(crate) fn split_type_name(name: &str) -> Option<(&str, &str)> {
    name.split_once('.')
        .filter(|(platform, preset)| !platform.is_empty() && !preset.is_empty())
}

/// The GPU quota of a platform: what it declares, else `compute.instance.gpu.<model>`.
pub(crate) fn gpu_quota_name(platform: &compute::Platform) -> Option<String> {
    let spec = platform.spec.as_ref();
    if let Some(declared) = spec
        .map(|s| s.gpu_count_quota_type.trim())
        .filter(|q| !q.is_empty())
    {
        return Some(declared.to_owned());
    }
    let name = platform.metadata.as_ref().map_or("", |m| m.name.as_str());
    let gpu = gpu_model(name)?;
    Some(format!(
        "compute.instance.gpu.{}",
        gpu.name.to_ascii_lowercase().replace(' ', "-")
    ))
}

/// The quota of CPU presets' vCPUs.
pub(crate) const CPU_QUOTA: &str = "compute.instance.non-gpu.vcpu";

/// Active quota allowances by (name, region): what is left of each (`u64::MAX` for an
/// allowance without a limit).
#[derive(Debug, Default, Clone)]
pub(crate) struct Allowances {
    left: BTreeMap<(String, String), u64>,
}

impl Allowances {
    /// The active allowances among `items`; other states grant nothing.
    pub(crate) fn new(items: &[quotas::QuotaAllowance]) -> Self {
        let mut left = BTreeMap::new();
        for item in items {
            let (Some(metadata), Some(spec), Some(status)) =
                (&item.metadata, &item.spec, &item.status)
            else {
                continue;
            };
            if status.state() != quotas::quota_allowance_status::State::Active {
                continue;
            }
            let remaining = spec
                .limit
                .map_or(u64::MAX, |limit| limit.saturating_sub(status.usage));
            left.insert((metadata.name.clone(), spec.region.clone()), remaining);
        }
        Self { left }
    }

    /// What is left of quota `name` in `region`; `None` when there is no such allowance.
    fn remaining(&self, name: &str, region: &str) -> Option<u64> {
        self.left
            .get(&(name.to_owned(), region.to_owned()))
            .copied()
    }

    /// Whether a preset fits in `region`: a GPU preset needs its GPU count left on the
    /// platform's GPU quota (no allowance: not available); a CPU preset its vCPUs on the CPU
    /// quota, when the tenant has one.
    pub(crate) fn fits(
        &self,
        platform: &compute::Platform,
        resources: &compute::PresetResources,
        region: &str,
    ) -> bool {
        let need = |n: i32| u64::try_from(n).unwrap_or(0);
        if resources.gpu_count > 0 {
            let Some(quota) = gpu_quota_name(platform) else {
                return false;
            };
            return self
                .remaining(&quota, region)
                .is_some_and(|left| left >= need(resources.gpu_count));
        }
        self.remaining(CPU_QUOTA, region)
            .is_none_or(|left| left >= need(resources.vcpu_count))
    }
}

/// The catalog id of a type in `region`: the generic id, and for the preemptible (spot)
/// offer of the same type the generic id with `-spot`, so both offers have their own id.
pub(crate) fn type_id(region: &str, type_name: &str, spot: bool) -> InstanceTypeId {
    let generic = InstanceTypeId::generic(region, None, type_name);
    if spot {
        InstanceTypeId::new(format!("{generic}-spot"))
    } else {
        generic
    }
}

/// One catalog entry per preset of `platform` in `region`, then, when the platform allows
/// preemptible instances, one spot entry per preset (usage class `spot`, `preemptible`,
/// created with `use_spot`). Prices come from `price` (the calculator's answer by type name,
/// on demand or preemptible): unknown stays `None`, never zero.
pub(crate) fn instance_types(
    region: &str,
    platform: &compute::Platform,
    allowances: &Allowances,
    price: impl Fn(&str, bool) -> Option<Price>,
) -> Vec<InstanceType> {
    let on_demand = on_demand_types(region, platform, allowances, &price);
    let allows_spot = platform
        .status
        .as_ref()
        .is_some_and(|s| s.allowed_for_preemptibles);
    let spot: Vec<InstanceType> = if allows_spot {
        on_demand
            .iter()
            .map(|it| InstanceType {
                id: type_id(region, &it.type_name, true),
                preemptible: true,
                supported_usage_classes: ["spot".into()].into(),
                base_price: price(&it.type_name, true),
                ..it.clone()
            })
            .collect()
    } else {
        Vec::new()
    };
    on_demand.into_iter().chain(spot).collect()
}

/// The on-demand entries of [`instance_types`].
fn on_demand_types(
    region: &str,
    platform: &compute::Platform,
    allowances: &Allowances,
    price: &impl Fn(&str, bool) -> Option<Price>,
) -> Vec<InstanceType> {
    let name = platform.metadata.as_ref().map_or("", |m| m.name.as_str());
    let Some(spec) = &platform.spec else {
        return Vec::new();
    };
    let gpu = gpu_model(name);
    spec.presets
        .iter()
        .filter_map(|preset| {
            let resources = preset.resources.as_ref()?;
            let type_name = type_name(name, &preset.name);
            let gpus = u32::try_from(resources.gpu_count).unwrap_or(0);
            let supported_gpus = match gpu {
                Some(g) if gpus > 0 => {
                    let vram = if spec.gpu_memory_gigabytes > 0 {
                        i64::from(spec.gpu_memory_gigabytes)
                    } else {
                        g.vram_gb
                    };
                    vec![Gpu {
                        count: gpus,
                        memory_bytes: Bytes::new(vram, BytesUnit::GB),
                        memory_details: g.memory.into(),
                        network_details: g.form_factor.into(),
                        manufacturer: Manufacturer::Nvidia,
                        name: g.name.into(),
                        gpu_type: g.name.into(),
                    }]
                }
                _ => Vec::new(),
            };
            let architecture = gpu.map_or(Architecture::X86_64, |g| g.architecture);
            let mut it = InstanceType {
                location: region.into(),
                base_price: price(&type_name, false),
                type_name: type_name.into(),
                supported_gpus: supported_gpus.into(),
                vcpu: u32::try_from(resources.vcpu_count).unwrap_or(0),
                memory_bytes: Bytes::new(i64::from(resources.memory_gibibytes), BytesUnit::GiB),
                supported_architectures: [architecture].into(),
                // GPU clustering is Nebius's InfiniBand fabric between instances.
                network_performance: if preset.allow_gpu_clustering {
                    "InfiniBand".to_owned()
                } else {
                    "standard".to_owned()
                },
                elastic_root_volume: true,
                supported_usage_classes: ["on-demand".into()].into(),
                stoppable: true,
                rebootable: false,
                can_modify_firewall_rules: true,
                is_available: allowances.fits(platform, resources, region),
                provider: PROVIDER_ID.into(),
                cloud: PROVIDER_ID.into(),
                ..InstanceType::default()
            };
            it.id = it.generic_id();
            Some(it)
        })
        .collect()
}

/// A preemptible (spot) instance's spec: stopped when preempted, the only policy Nebius
/// supports.
pub(crate) fn preemptible() -> compute::PreemptibleSpec {
    compute::PreemptibleSpec {
        on_preemption: compute::preemptible_spec::PreemptionPolicy::Stop as i32,
        ..compute::PreemptibleSpec::default()
    }
}

/// The model's lifecycle of a Nebius state. `UPDATING` (a label or spec change) keeps the
/// instance as it was: stopped when its spec says so, else running.
pub(crate) fn lifecycle(state: InstanceState, stopped: bool) -> LifecycleStatus {
    match state {
        InstanceState::Updating if stopped => LifecycleStatus::Stopped,
        InstanceState::Running | InstanceState::Updating => LifecycleStatus::Running,
        InstanceState::Stopping => LifecycleStatus::Stopping,
        InstanceState::Stopped => LifecycleStatus::Stopped,
        InstanceState::Deleting => LifecycleStatus::Terminating,
        InstanceState::Error => LifecycleStatus::Failed,
        InstanceState::Creating | InstanceState::Starting | InstanceState::Unspecified => {
            LifecycleStatus::Pending
        }
    }
}

/// An address without its prefix length (`203.0.113.7/32` → `203.0.113.7`).
fn address(text: &str) -> String {
    text.split('/').next().unwrap_or_default().to_owned()
}

/// The boot disk an instance was made with.
pub(crate) fn boot_disk_id(w: &compute::Instance) -> Option<&str> {
    match w.spec.as_ref()?.boot_disk.as_ref()?.r#type.as_ref()? {
        compute::attached_disk_spec::Type::ExistingDisk(d) => Some(d.id.as_str()),
        compute::attached_disk_spec::Type::ManagedDisk(_) => None,
    }
}

/// The security groups on an instance's interfaces.
pub(crate) fn security_group_ids(w: &compute::Instance) -> Vec<String> {
    w.spec
        .as_ref()
        .map(|s| {
            s.network_interfaces
                .iter()
                .flat_map(|n| n.security_groups.iter().map(|g| g.id.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// The labels of a resource.
pub(crate) fn labels(w: &compute::Instance) -> &std::collections::HashMap<String, String> {
    static EMPTY: std::sync::OnceLock<std::collections::HashMap<String, String>> =
        std::sync::OnceLock::new();
    w.metadata
        .as_ref()
        .map_or_else(|| EMPTY.get_or_init(Default::default), |m| &m.labels)
}

/// The model instance of a Nebius instance in `region`.
pub(crate) fn instance(w: compute::Instance, region: &str, ssh_user: &str) -> Instance {
    let metadata = w.metadata.unwrap_or_default();
    let spec = w.spec.unwrap_or_default();
    let status = w.status.unwrap_or_default();
    let (bookkeeping, tags) = Bookkeeping::decode(metadata.labels);
    let lifecycle = lifecycle(status.state(), spec.stopped);
    let (platform, preset) = spec.resources.as_ref().map_or(("", ""), |r| {
        let preset = match &r.size {
            Some(compute::resources_spec::Size::Preset(p)) => p.as_str(),
            None => "",
        };
        (r.platform.as_str(), preset)
    });
    let instance_type = type_name(platform, preset);
    let nic = status.network_interfaces.first();
    let public_ip = nic
        .and_then(|n| n.public_ip_address.as_ref())
        .map(|a| address(&a.address))
        .unwrap_or_default();
    let private_ip = nic
        .and_then(|n| n.ip_address.as_ref())
        .map(|a| address(&a.address))
        .unwrap_or_default();
    let created_at = metadata
        .created_at
        .and_then(|t| jiff::Timestamp::new(t.seconds, 0).ok());
    Instance {
        cloud_id: InstanceId::new(metadata.id),
        name: metadata.name,
        ref_id: bookkeeping.ref_id,
        cloud_cred_ref_id: bookkeeping.cred_ref_id,
        created_at: bookkeeping.created_at.or(created_at),
        hostname: spec.hostname,
        public_ip,
        public_dns: nic.map(|n| n.fqdn.clone()).unwrap_or_default(),
        private_ip,
        ssh_user: ssh_user.to_owned(),
        ssh_port: 22,
        instance_type_id: type_id(region, &instance_type, spec.preemptible.is_some()),
        instance_type,
        location: region.to_owned(),
        status: Status::new(lifecycle),
        stoppable: matches!(
            lifecycle,
            LifecycleStatus::Running | LifecycleStatus::Stopped
        ),
        rebootable: false,
        subnet_id: spec
            .network_interfaces
            .first()
            .map(|n| n.subnet_id.clone())
            .unwrap_or_default(),
        spot: spec.preemptible.is_some(),
        tags,
        ..Instance::default()
    }
}

/// The model image of a Nebius image.
pub(crate) fn image(w: &compute::Image, owner: &str) -> Image {
    let metadata = w.metadata.clone().unwrap_or_default();
    let spec = w.spec.clone().unwrap_or_default();
    let architecture = match spec.cpu_architecture() {
        compute::image_spec::CpuArchitecture::Amd64 => Architecture::X86_64,
        compute::image_spec::CpuArchitecture::Arm64 => Architecture::Arm64,
        compute::image_spec::CpuArchitecture::Unspecified => Architecture::Unknown,
    };
    Image {
        id: metadata.id,
        architecture: architecture.as_str().to_owned(),
        description: spec.description,
        name: metadata.name,
        created_at: metadata
            .created_at
            .and_then(|t| jiff::Timestamp::new(t.seconds, 0).ok()),
        owner: owner.to_owned(),
        family: spec.image_family,
    }
}

/// One checked ingress rule as Nebius security rules: ports listed (at most
/// [`RULE_LIST_MAX`] per rule, none for every port) and sources split into groups of
/// [`RULE_LIST_MAX`]. A port range wider than what fits in [`RULE_LIST_MAX`] rules of
/// listed ports is refused, naming the field: Nebius rules list ports, they have no ranges.
pub(crate) fn ingress_specs(
    field: &str,
    rule: &CheckedRule,
) -> gpucloud_core::Result<Vec<vpc::SecurityRuleSpec>> {
    let protocol = match rule.protocol() {
        Some(Protocol::Tcp) => vpc::RuleProtocol::Tcp,
        Some(Protocol::Udp) => vpc::RuleProtocol::Udp,
        None => vpc::RuleProtocol::Any,
    };
    let (from, to) = (rule.from_port(), rule.to_port());
    let all_ports = from <= 1 && to == u16::MAX;
    let ports: Vec<i32> = if all_ports {
        Vec::new()
    } else {
        (from..=to).map(i32::from).collect()
    };
    let port_groups: Vec<Vec<i32>> = if ports.is_empty() {
        vec![Vec::new()]
    } else {
        ports.chunks(RULE_LIST_MAX).map(<[i32]>::to_vec).collect()
    };
    if port_groups.len() > RULE_LIST_MAX {
        return Err(gpucloud_core::CloudError::invalid(
            field,
            format!(
                "ports {from}-{to}: Nebius security rules list ports (at most {} per instance \
                 rule); give all ports or a range of at most {} ports",
                RULE_LIST_MAX * RULE_LIST_MAX,
                RULE_LIST_MAX * RULE_LIST_MAX
            ),
        ));
    }
    let sources: Vec<String> = rule.sources().iter().map(ToString::to_string).collect();
    let source_groups: Vec<Vec<String>> = if sources.is_empty() {
        vec![vec!["0.0.0.0/0".to_owned()]]
    } else {
        sources
            .chunks(RULE_LIST_MAX)
            .map(<[String]>::to_vec)
            .collect()
    };
    let mut out = Vec::new();
    for ports in &port_groups {
        for cidrs in &source_groups {
            out.push(vpc::SecurityRuleSpec {
                access: vpc::RuleAccessAction::Allow as i32,
                priority: 0,
                protocol: protocol as i32,
                r#type: vpc::RuleType::Stateful as i32,
                r#match: Some(vpc::security_rule_spec::Match::Ingress(vpc::RuleIngress {
                    source_security_group_id: String::new(),
                    source_cidrs: cidrs.clone(),
                    destination_ports: ports.clone(),
                })),
            });
        }
    }
    Ok(out)
}

/// The rule every instance gets: SSH from anywhere.
pub(crate) fn ssh_spec() -> vpc::SecurityRuleSpec {
    vpc::SecurityRuleSpec {
        access: vpc::RuleAccessAction::Allow as i32,
        priority: 0,
        protocol: vpc::RuleProtocol::Tcp as i32,
        r#type: vpc::RuleType::Stateful as i32,
        r#match: Some(vpc::security_rule_spec::Match::Ingress(vpc::RuleIngress {
            source_security_group_id: String::new(),
            source_cidrs: vec!["0.0.0.0/0".to_owned()],
            destination_ports: vec![22],
        })),
    }
}

/// Outbound to anywhere: gpucloud instances may always reach out.
pub(crate) fn egress_spec() -> vpc::SecurityRuleSpec {
    vpc::SecurityRuleSpec {
        access: vpc::RuleAccessAction::Allow as i32,
        priority: 0,
        protocol: vpc::RuleProtocol::Any as i32,
        r#type: vpc::RuleType::Stateful as i32,
        r#match: Some(vpc::security_rule_spec::Match::Egress(vpc::RuleEgress {
            destination_security_group_id: String::new(),
            destination_cidrs: vec!["0.0.0.0/0".to_owned()],
            destination_ports: Vec::new(),
        })),
    }
}

/// The model rule of an allowing ingress security rule (its id is Nebius's rule id); `None`
/// for egress and deny rules, which the model does not report.
pub(crate) fn ingress_rule(w: &vpc::SecurityRule) -> Option<FirewallRule> {
    let spec = w.spec.as_ref()?;
    if spec.access() != vpc::RuleAccessAction::Allow {
        return None;
    }
    let Some(vpc::security_rule_spec::Match::Ingress(ingress)) = &spec.r#match else {
        return None;
    };
    let ports: Vec<u16> = ingress
        .destination_ports
        .iter()
        .filter_map(|p| u16::try_from(*p).ok())
        .collect();
    let (from_port, to_port) = match (ports.iter().min(), ports.iter().max()) {
        (Some(min), Some(max)) => (*min, *max),
        _ => (1, u16::MAX),
    };
    let protocol = match spec.protocol() {
        vpc::RuleProtocol::Tcp => Some(Protocol::Tcp),
        vpc::RuleProtocol::Udp => Some(Protocol::Udp),
        // The model has no ICMP rule: reported as not a port rule at all.
        vpc::RuleProtocol::Icmp => return None,
        vpc::RuleProtocol::Any | vpc::RuleProtocol::ProtocolUnspecified => None,
    };
    Some(FirewallRule {
        id: w
            .metadata
            .as_ref()
            .map(|m| m.id.clone())
            .unwrap_or_default(),
        protocol,
        ..FirewallRule::range(from_port, to_port, ingress.source_cidrs.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpucloud_nebius_proto::common::v1::ResourceMetadata;

    fn platform(name: &str, presets: &[(&str, i32, i32, i32)], quota: &str) -> compute::Platform {
        compute::Platform {
            metadata: Some(ResourceMetadata {
                name: name.into(),
                ..Default::default()
            }),
            spec: Some(compute::PlatformSpec {
                presets: presets
                    .iter()
                    .map(|(preset, gpus, vcpus, mem)| compute::Preset {
                        name: (*preset).into(),
                        resources: Some(compute::PresetResources {
                            vcpu_count: *vcpus,
                            memory_gibibytes: *mem,
                            gpu_count: *gpus,
                            ..Default::default()
                        }),
                        allow_gpu_clustering: *gpus == 8,
                    })
                    .collect(),
                gpu_count_quota_type: quota.into(),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn allowance(
        name: &str,
        region: &str,
        limit: Option<u64>,
        usage: u64,
        active: bool,
    ) -> quotas::QuotaAllowance {
        quotas::QuotaAllowance {
            metadata: Some(ResourceMetadata {
                name: name.into(),
                ..Default::default()
            }),
            spec: Some(quotas::QuotaAllowanceSpec {
                limit,
                region: region.into(),
            }),
            status: Some(quotas::QuotaAllowanceStatus {
                state: if active {
                    quotas::quota_allowance_status::State::Active as i32
                } else {
                    quotas::quota_allowance_status::State::Frozen as i32
                },
                usage,
                ..Default::default()
            }),
        }
    }

    #[test]
    fn gpu_platforms_are_normalized() {
        let cases = [
            ("gpu-h100-sxm", "H100", 80, "SXM5", Architecture::X86_64),
            ("gpu-h200-sxm", "H200", 141, "SXM5", Architecture::X86_64),
            ("gpu-b200-sxm", "B200", 192, "SXM6", Architecture::X86_64),
            ("gpu-b200-sxm-a", "B200", 192, "SXM6", Architecture::X86_64),
            ("gpu-gb200", "GB200", 192, "NVLink-C2C", Architecture::Arm64),
            ("gpu-l40s-a", "L40S", 48, "PCIe", Architecture::X86_64),
            ("gpu-l40s-d", "L40S", 48, "PCIe", Architecture::X86_64),
        ];
        for (platform, name, vram, form, arch) in cases {
            let g = gpu_model(platform).unwrap();
            assert_eq!(
                (g.name, g.vram_gb, g.form_factor, g.architecture),
                (name, vram, form, arch)
            );
            assert_eq!(
                gpucloud_core::normalize_gpu_name(g.name),
                name,
                "already a base name"
            );
        }
        assert_eq!(gpu_model("cpu-e2"), None);
        assert_eq!(gpu_model("cpu-d3"), None);
        assert_eq!(gpu_model("gpu-x9").unwrap().name, "GPU");
    }

    #[test]
    fn presets_become_types_with_quota_availability_and_known_prices_only() {
        let p = platform(
            "gpu-h100-sxm",
            &[
                ("1gpu-16vcpu-200gb", 1, 16, 200),
                ("8gpu-128vcpu-1600gb", 8, 128, 1600),
            ],
            "compute.instance.gpu.h100",
        );
        let allowances = Allowances::new(&[
            allowance("compute.instance.gpu.h100", "eu-north1", Some(8), 4, true),
            allowance(
                "compute.instance.gpu.h100",
                "us-central1",
                Some(64),
                0,
                false,
            ),
        ]);
        let price = |name: &str, spot: bool| {
            (name == "gpu-h100-sxm.1gpu-16vcpu-200gb" && !spot)
                .then(|| Price::parse("2.95", "USD").unwrap())
        };
        let types = instance_types("eu-north1", &p, &allowances, price);
        assert_eq!(
            types.len(),
            2,
            "the platform does not say it allows preemptibles"
        );
        let (one, eight) = (&types[0], &types[1]);
        assert_eq!(one.type_name, "gpu-h100-sxm.1gpu-16vcpu-200gb");
        assert_eq!(
            one.id,
            InstanceTypeId::generic("eu-north1", None, &one.type_name)
        );
        assert!(one.is_available, "1 of 4 left");
        assert!(!eight.is_available, "8 needed, 4 left");
        assert_eq!(one.base_price, Some(Price::parse("2.95", "USD").unwrap()));
        assert_eq!(eight.base_price, None, "no estimate: unknown, not free");
        let gpu = &eight.supported_gpus[0];
        assert_eq!((gpu.name.as_str(), gpu.count), ("H100", 8));
        assert_eq!(gpu.memory_bytes, Bytes::new(80, BytesUnit::GB));
        assert_eq!(gpu.network_details, "SXM5");
        assert_eq!(eight.network_performance, "InfiniBand");
        assert_eq!(eight.vcpu, 128);
        assert_eq!(eight.memory_bytes, Bytes::new(1600, BytesUnit::GiB));
        // A frozen allowance grants nothing.
        let types = instance_types("us-central1", &p, &allowances, |_, _| None);
        assert!(types.iter().all(|t| !t.is_available));
        // No allowance at all: not available.
        let types = instance_types("eu-west1", &p, &allowances, |_, _| None);
        assert!(types.iter().all(|t| !t.is_available));
    }

    #[test]
    fn a_platform_allowing_preemptibles_has_spot_offers_at_spot_prices() {
        let mut p = platform(
            "gpu-h100-sxm",
            &[("1gpu-16vcpu-200gb", 1, 16, 200)],
            "compute.instance.gpu.h100",
        );
        p.status = Some(compute::PlatformStatus {
            allowed_for_preemptibles: true,
        });
        let allowances = Allowances::new(&[allowance(
            "compute.instance.gpu.h100",
            "eu-north1",
            Some(8),
            0,
            true,
        )]);
        let price = |_: &str, spot: bool| {
            Some(Price::parse(if spot { "1.25" } else { "2.95" }, "USD").unwrap())
        };
        let types = instance_types("eu-north1", &p, &allowances, price);
        assert_eq!(types.len(), 2);
        let (on_demand, spot) = (&types[0], &types[1]);
        assert!(!on_demand.preemptible);
        assert_eq!(on_demand.supported_usage_classes.as_slice(), ["on-demand"]);
        assert!(spot.preemptible);
        assert_eq!(spot.supported_usage_classes.as_slice(), ["spot"]);
        assert_eq!(spot.type_name, on_demand.type_name, "created with use_spot");
        assert_eq!(spot.base_price, Some(Price::parse("1.25", "USD").unwrap()));
        assert_ne!(spot.id, on_demand.id);
        assert_eq!(spot.id, type_id("eu-north1", &spot.type_name, true));
        assert_eq!(spot.is_available, on_demand.is_available);
    }

    #[test]
    fn the_platform_vram_wins_and_the_quota_name_is_derived_when_absent() {
        let mut p = platform("gpu-h200-sxm", &[("1gpu", 1, 16, 200)], "");
        p.spec.as_mut().unwrap().gpu_memory_gigabytes = 144;
        assert_eq!(
            gpu_quota_name(&p).as_deref(),
            Some("compute.instance.gpu.h200")
        );
        let allowances =
            Allowances::new(&[allowance("compute.instance.gpu.h200", "r", None, 9, true)]);
        let t = &instance_types("r", &p, &allowances, |_, _| None)[0];
        assert!(t.is_available, "no limit");
        assert_eq!(
            t.supported_gpus[0].memory_bytes,
            Bytes::new(144, BytesUnit::GB)
        );
    }

    #[test]
    fn cpu_presets_check_the_vcpu_quota_when_there_is_one() {
        let p = platform(
            "cpu-e2",
            &[("4vcpu-16gb", 0, 4, 16), ("16vcpu-64gb", 0, 16, 64)],
            "",
        );
        let none = Allowances::default();
        assert!(
            instance_types("r", &p, &none, |_, _| None)
                .iter()
                .all(|t| t.is_available)
        );
        let some = Allowances::new(&[allowance(CPU_QUOTA, "r", Some(10), 2, true)]);
        let types = instance_types("r", &p, &some, |_, _| None);
        assert!(types[0].is_available && !types[1].is_available);
        assert!(types[0].supported_gpus.is_empty());
    }

    #[test]
    fn type_names_split_back() {
        assert_eq!(
            split_type_name("gpu-h100-sxm.8gpu-128vcpu-1600gb"),
            Some(("gpu-h100-sxm", "8gpu-128vcpu-1600gb"))
        );
        assert_eq!(split_type_name("gpu-h100-sxm"), None);
        assert_eq!(split_type_name(".x"), None);
        assert_eq!(split_type_name("x."), None);
    }

    #[test]
    fn states_map() {
        use InstanceState as S;
        use LifecycleStatus as L;
        for (state, stopped, want) in [
            (S::Creating, false, L::Pending),
            (S::Starting, false, L::Pending),
            (S::Running, false, L::Running),
            (S::Updating, false, L::Running),
            (S::Updating, true, L::Stopped),
            (S::Stopping, false, L::Stopping),
            (S::Stopped, true, L::Stopped),
            (S::Deleting, false, L::Terminating),
            (S::Error, false, L::Failed),
            (S::Unspecified, false, L::Pending),
        ] {
            assert_eq!(lifecycle(state, stopped), want, "{state:?}");
        }
    }

    fn wire_instance() -> compute::Instance {
        compute::Instance {
            metadata: Some(ResourceMetadata {
                id: "computeinstance-e00abc".into(),
                parent_id: "project-e00x".into(),
                name: "Train Job #1".into(),
                created_at: Some(prost_types::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 5,
                }),
                labels: [
                    ("gpucloud-ref-id", "job-7"),
                    ("gpucloud-cred-ref-id", "team-a"),
                    ("owner", "ml"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
                ..Default::default()
            }),
            spec: Some(compute::InstanceSpec {
                resources: Some(compute::ResourcesSpec {
                    platform: "gpu-h100-sxm".into(),
                    size: Some(compute::resources_spec::Size::Preset(
                        "1gpu-16vcpu-200gb".into(),
                    )),
                }),
                hostname: "train-job-1".into(),
                boot_disk: Some(compute::AttachedDiskSpec {
                    attach_mode: compute::attached_disk_spec::AttachMode::ReadWrite as i32,
                    device_id: "boot".into(),
                    r#type: Some(compute::attached_disk_spec::Type::ExistingDisk(
                        compute::ExistingDisk {
                            id: "computedisk-e00d".into(),
                        },
                    )),
                }),
                network_interfaces: vec![compute::NetworkInterfaceSpec {
                    subnet_id: "vpcsubnet-e00s".into(),
                    name: "eth0".into(),
                    security_groups: vec![compute::SecurityGroup {
                        id: "vpcsecuritygroup-e00g".into(),
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(compute::InstanceStatus {
                state: InstanceState::Running as i32,
                network_interfaces: vec![compute::NetworkInterfaceStatus {
                    ip_address: Some(compute::IpAddressStatus {
                        address: "10.0.0.5/32".into(),
                        ..Default::default()
                    }),
                    public_ip_address: Some(compute::PublicIpAddressStatus {
                        address: "203.0.113.7/32".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn instances_convert_with_bookkeeping_addresses_and_the_catalog_id() {
        let w = wire_instance();
        let i = instance(w.clone(), "eu-north1", "ubuntu");
        assert_eq!(i.cloud_id.as_str(), "computeinstance-e00abc");
        assert_eq!(
            (i.ref_id.as_str(), i.cloud_cred_ref_id.as_str()),
            ("job-7", "team-a")
        );
        assert_eq!(
            i.tags.keys().collect::<Vec<_>>(),
            ["owner"],
            "bookkeeping is not a user tag"
        );
        assert_eq!(
            (i.public_ip.as_str(), i.private_ip.as_str()),
            ("203.0.113.7", "10.0.0.5")
        );
        assert_eq!(i.instance_type, "gpu-h100-sxm.1gpu-16vcpu-200gb");
        assert_eq!(i.hostname, "train-job-1");
        assert_eq!(i.lifecycle(), LifecycleStatus::Running);
        assert!(i.stoppable);
        assert_eq!(i.created_at.unwrap().as_second(), 1_700_000_000);
        assert_eq!(boot_disk_id(&w), Some("computedisk-e00d"));
        assert_eq!(security_group_ids(&w), ["vpcsecuritygroup-e00g"]);
        assert_eq!(labels(&w)["owner"], "ml");
        // The control plane finds the catalog entry by this id.
        let p = platform("gpu-h100-sxm", &[("1gpu-16vcpu-200gb", 1, 16, 200)], "");
        let t = &instance_types("eu-north1", &p, &Allowances::default(), |_, _| None)[0];
        assert_eq!(i.instance_type_id, t.id);
    }

    #[test]
    fn an_empty_instance_converts_without_panicking() {
        let i = instance(compute::Instance::default(), "r", "ubuntu");
        assert_eq!(i.lifecycle(), LifecycleStatus::Pending);
        assert!(i.public_ip.is_empty());
        assert_eq!(boot_disk_id(&compute::Instance::default()), None);
    }

    #[test]
    fn images_convert() {
        let w = compute::Image {
            metadata: Some(ResourceMetadata {
                id: "computeimage-e00u".into(),
                name: "ubuntu22.04-cuda12-20260101".into(),
                ..Default::default()
            }),
            spec: Some(compute::ImageSpec {
                image_family: "ubuntu22.04-cuda12".into(),
                cpu_architecture: compute::image_spec::CpuArchitecture::Amd64 as i32,
                ..Default::default()
            }),
            status: None,
        };
        let i = image(&w, "project-e00public-images");
        assert_eq!(
            (i.id.as_str(), i.architecture.as_str()),
            ("computeimage-e00u", "x86_64")
        );
        assert_eq!(i.family, "ubuntu22.04-cuda12");
    }

    fn checked(rule: &FirewallRule) -> CheckedRule {
        gpucloud_core::validate::check_rule("r", rule).unwrap()
    }

    #[test]
    fn rules_list_ports_and_split_sources() {
        let one = ingress_specs(
            "r",
            &checked(&FirewallRule {
                protocol: Some(Protocol::Tcp),
                ..FirewallRule::port(8888)
            }),
        )
        .unwrap();
        assert_eq!(one.len(), 1);
        let Some(vpc::security_rule_spec::Match::Ingress(i)) = &one[0].r#match else {
            panic!("ingress");
        };
        assert_eq!(i.destination_ports, [8888]);
        assert_eq!(i.source_cidrs, ["0.0.0.0/0"]);
        let sources: Vec<String> = (0..10).map(|n| format!("10.0.{n}.0/24")).collect();
        let range =
            ingress_specs("r", &checked(&FirewallRule::range(8000, 8009, sources))).unwrap();
        assert_eq!(range.len(), 4, "2 port groups × 2 source groups");
        let all = ingress_specs("r", &checked(&FirewallRule::range(1, u16::MAX, vec![]))).unwrap();
        let Some(vpc::security_rule_spec::Match::Ingress(i)) = &all[0].r#match else {
            panic!("ingress");
        };
        assert!(i.destination_ports.is_empty(), "every port");
        let wide = ingress_specs(
            "rules[0]",
            &checked(&FirewallRule::range(1000, 2000, vec![])),
        );
        assert!(
            matches!(wide, Err(gpucloud_core::CloudError::InvalidArgument { ref field, .. }) if field == "rules[0]")
        );
    }

    #[test]
    fn security_rules_read_back_as_model_rules() {
        let rule = vpc::SecurityRule {
            metadata: Some(ResourceMetadata {
                id: "vpcsecurityrule-1".into(),
                ..Default::default()
            }),
            spec: Some(ssh_spec()),
            status: None,
        };
        let r = ingress_rule(&rule).unwrap();
        assert_eq!(
            (r.id.as_str(), r.from_port, r.to_port),
            ("vpcsecurityrule-1", 22, 22)
        );
        assert_eq!(r.protocol, Some(Protocol::Tcp));
        let egress = vpc::SecurityRule {
            spec: Some(egress_spec()),
            ..rule
        };
        assert!(ingress_rule(&egress).is_none());
    }
}
