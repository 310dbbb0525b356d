//! Wire → model conversions, pure: instance states, instances, GPUs, memory quantities, the
//! catalog, tags.

use std::collections::BTreeMap;

use gpucloud_core::hostname::instance_hostname;
use gpucloud_core::{
    Architecture, Bookkeeping, Bytes, BytesUnit, CloudError, Gpu, Instance, InstanceId,
    InstanceType, InstanceTypeId, LifecycleStatus, Manufacturer, Price, Result, Status, Tags,
    normalize_gpu_name,
};

use crate::wire;

/// The provider id.
pub(crate) const PROVIDER: &str = "fluidstack";
/// Fluidstack's limit on tag keys.
const MAX_TAG_KEY: usize = 63;
/// The state of a new instance the API could not place.
pub(crate) const OUT_OF_STOCK: &str = "out-of-stock";
/// The state of an instance being created.
pub(crate) const CREATING: &str = "creating";

/// Fluidstack's instance state → lifecycle status.
///
/// `out-of-stock` is `failed` (with a message): the create could not be placed and the
/// instance never runs. `error` is `failed` too. Unknown values are `pending` with the raw
/// value, so a waiter neither hands the instance out nor gives up on it.
pub(crate) fn status(raw: &str) -> Status {
    let (lifecycle, message) = match raw {
        "creating" | "starting" => (LifecycleStatus::Pending, None),
        "running" => (LifecycleStatus::Running, None),
        "stopping" => (LifecycleStatus::Stopping, None),
        "stopped" => (LifecycleStatus::Stopped, None),
        "deleting" => (LifecycleStatus::Terminating, None),
        OUT_OF_STOCK => (
            LifecycleStatus::Failed,
            Some("fluidstack had no capacity for this type (out-of-stock)".to_owned()),
        ),
        "error" => (
            LifecycleStatus::Failed,
            Some("fluidstack reports the instance in error".to_owned()),
        ),
        other => (
            LifecycleStatus::Pending,
            Some(format!("unknown fluidstack state {other:?}")),
        ),
    };
    Status {
        lifecycle_status: lifecycle,
        messages: message.into_iter().collect(),
    }
}

/// A Fluidstack instance of `region` → [`Instance`]. Bookkeeping tags become `ref_id`,
/// `cloud_cred_ref_id` and `created_at` and are removed from `tags` (split as the answer is
/// parsed, [`wire::InstanceTags`]).
/// The API reports one address (`ip`): it is the SSH endpoint and both the public and the
/// private address. The API has no host name and no firewall: the host name is core's rule
/// over the name and RefID ([`instance_hostname`]), the rules are the ones the bootstrap's
/// user data enforces, read as the answer is parsed
/// ([`crate::firewall::user_data_rules`]).
pub(crate) fn instance(w: wire::Instance, region: &str, ssh_user: &str) -> Instance {
    Instances::new(region, ssh_user).instance(w)
}

/// Converts the instances of one region's answer ([`instance`] for each), making each type's
/// catalog id once rather than once per instance.
pub(crate) struct Instances<'a> {
    region: &'a str,
    ssh_user: &'a str,
    /// The last type converted and its id.
    last_type: Option<(String, InstanceTypeId)>,
}

impl<'a> Instances<'a> {
    /// A converter for instances of `region` reached as `ssh_user`.
    pub(crate) fn new(region: &'a str, ssh_user: &'a str) -> Self {
        Self {
            region,
            ssh_user,
            last_type: None,
        }
    }

    /// The catalog id of a type of this region, `InstanceTypeId::generic`'s.
    fn type_id(&mut self, instance_type: &str) -> InstanceTypeId {
        if instance_type.is_empty() {
            return InstanceTypeId::default();
        }
        match &self.last_type {
            Some((name, id)) if name == instance_type => id.clone(),
            _ => {
                let id = InstanceTypeId::generic(self.region, None, instance_type);
                self.last_type = Some((instance_type.to_owned(), id.clone()));
                id
            }
        }
    }

    /// One instance of the answer → [`Instance`].
    pub(crate) fn instance(&mut self, w: wire::Instance) -> Instance {
        let status = status(&w.state);
        let firewall_rules = w.firewall_rules.unwrap_or_default();
        let wire::InstanceTags { bookkeeping, user } = w.tags;
        let hostname = instance_hostname(&w.name, &bookkeeping.ref_id);
        let instance_type_id = self.type_id(&w.instance_type);
        let (region, ssh_user) = (self.region, self.ssh_user);
        Instance {
            name: w.name,
            hostname,
            firewall_rules,
            ref_id: bookkeeping.ref_id,
            cloud_cred_ref_id: bookkeeping.cred_ref_id,
            created_at: bookkeeping.created_at,
            cloud_id: InstanceId::new(w.id),
            public_ip: w.ip.clone(),
            private_ip: w.ip,
            image_id: w.image,
            instance_type: w.instance_type,
            ssh_user: ssh_user.to_owned(),
            ssh_port: 22,
            status,
            spot: w.preemptible,
            location: region.to_owned(),
            tags: user,
            stoppable: true,
            rebootable: false,
            instance_type_id,
            ..Instance::default()
        }
    }
}

/// Checks user tag keys against Fluidstack's rule (1–63 characters, alphanumeric at both ends,
/// `-`, `_` and `.` inside). Core's checks have already refused the reserved prefix.
pub(crate) fn check_user_tags(tags: &Tags) -> Result<()> {
    for key in tags.keys() {
        let inner_ok = key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        let ends_ok = key.starts_with(|c: char| c.is_ascii_alphanumeric())
            && key.ends_with(|c: char| c.is_ascii_alphanumeric());
        if key.len() > MAX_TAG_KEY || !inner_ok || !ends_ok {
            return Err(CloudError::invalid(
                format!("tags[{key:?}]"),
                "Fluidstack tag keys are 1-63 characters, letters or digits at both ends, \
                 with letters, digits, '-', '_' and '.' in between",
            ));
        }
    }
    Ok(())
}

/// The tags sent at create: the bookkeeping ones plus the user's.
pub(crate) fn wire_tags(user: &Tags, bookkeeping: &Bookkeeping) -> BTreeMap<String, String> {
    bookkeeping.encode_with(user).into_iter().collect()
}

/// A Kubernetes-style quantity (`960Gi`, `512G`, `1.5Ti`, `1024`) → [`Bytes`], keeping the
/// unit. A fraction is expressed exactly in the next smaller unit of the same family.
pub(crate) fn quantity(text: &str) -> std::result::Result<Bytes, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let (binary, units): (bool, &[BytesUnit]) = match suffix {
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => (
            true,
            &[
                BytesUnit::B,
                BytesUnit::KiB,
                BytesUnit::MiB,
                BytesUnit::GiB,
                BytesUnit::TiB,
                BytesUnit::PiB,
                BytesUnit::EiB,
            ],
        ),
        "" | "k" | "K" | "M" | "G" | "T" | "P" | "E" => (
            false,
            &[
                BytesUnit::B,
                BytesUnit::KB,
                BytesUnit::MB,
                BytesUnit::GB,
                BytesUnit::TB,
                BytesUnit::PB,
                BytesUnit::EB,
            ],
        ),
        other => return Err(format!("{text:?} has an unknown unit {other:?}")),
    };
    let mut index = match suffix.chars().next() {
        None => 0,
        Some('k' | 'K') => 1,
        Some('M') => 2,
        Some('G') => 3,
        Some('T') => 4,
        Some('P') => 5,
        _ => 6,
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(format!("{text:?} has no number"));
    }
    let factor: u128 = if binary { 1024 } else { 1000 };
    let bad = || format!("{text:?} is not a byte quantity");
    let scale = u32::try_from(fraction.len())
        .ok()
        .and_then(|n| 10u128.checked_pow(n))
        .ok_or_else(bad)?;
    let mut value: u128 = format!("{whole}{fraction}").parse().map_err(|_| bad())?;
    // Move to smaller units until the fraction disappears.
    while !value.is_multiple_of(scale) && index > 0 {
        value = value.checked_mul(factor).ok_or_else(bad)?;
        index -= 1;
    }
    if !value.is_multiple_of(scale) {
        return Err(bad());
    }
    let value = i64::try_from(value / scale).map_err(|_| format!("{text:?} is too large"))?;
    Ok(Bytes::new(value, units[index]))
}

/// What a GPU is, read from `gpuModel` and the type name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct GpuFacts {
    name: String,
    memory_gb: Option<i64>,
    form_factor: Option<String>,
}

/// A `…GB` token's number.
fn gigabytes(token: &str) -> Option<i64> {
    token
        .to_ascii_uppercase()
        .strip_suffix("GB")
        .and_then(|n| n.parse().ok())
}

/// A form-factor token: `SXM5` as is, `PCIE` as `PCIe`; `HGX`/`SXM` as a bare `SXM`.
fn form_factor(token: &str) -> Option<String> {
    let upper = token.to_ascii_uppercase();
    match upper.as_str() {
        "PCIE" => Some("PCIe".to_owned()),
        "HGX" | "SXM" => Some("SXM".to_owned()),
        s if s
            .strip_prefix("SXM")
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())) =>
        {
            Some(upper)
        }
        _ => None,
    }
}

/// Reads `GH100_H100_SXM5_80GB`: a leading chip code (`GH100`, `GA100`, `AD102`) is skipped
/// when a product name follows it.
fn facts_from_model(model: &str) -> GpuFacts {
    let tokens: Vec<&str> = model
        .split(['_', ' ', '-'])
        .filter(|t| !t.is_empty())
        .collect();
    let mut facts = GpuFacts::default();
    let mut names = Vec::new();
    for token in &tokens {
        if let Some(gb) = gigabytes(token) {
            facts.memory_gb = Some(gb);
        } else if let Some(ff) = form_factor(token) {
            facts.form_factor = Some(ff);
        } else {
            names.push(*token);
        }
    }
    // A chip code: a family prefix, three digits, maybe a variant suffix (`GH100`, `AD102GL`).
    let is_chip = |t: &str| {
        let upper = t.to_ascii_uppercase();
        let rest = ["GA", "GH", "GB", "AD", "TU", "GV", "GP"]
            .iter()
            .find_map(|p| upper.strip_prefix(p));
        rest.is_some_and(|r| {
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            digits == 3 && r.bytes().skip(3).all(|b| b.is_ascii_alphabetic())
        })
    };
    if names.len() > 1 && is_chip(names[0]) {
        names.remove(0);
    }
    facts.name = normalize_gpu_name(&names.join(" ")).into();
    facts
}

/// Reads `h100-hgx-80gb.8x`: model first, then memory and form-factor tokens.
fn facts_from_type_name(type_name: &str) -> GpuFacts {
    let base = type_name.split('.').next().unwrap_or("");
    let mut tokens = base.split(['-', '_']).filter(|t| !t.is_empty());
    let mut facts = GpuFacts {
        name: tokens
            .next()
            .map(|t| normalize_gpu_name(t).into())
            .unwrap_or_default(),
        ..GpuFacts::default()
    };
    for token in tokens {
        if let Some(gb) = gigabytes(token) {
            facts.memory_gb = Some(gb);
        } else if let Some(ff) = form_factor(token) {
            facts.form_factor = Some(ff);
        }
    }
    facts
}

/// The GPU count of a type name's `.8x` suffix.
fn count_from_type_name(type_name: &str) -> Option<u32> {
    type_name
        .rsplit_once('.')
        .and_then(|(_, n)| n.strip_suffix('x'))
        .and_then(|n| n.parse().ok())
}

/// The SXM generation of a model when only "HGX"/"SXM" is known.
fn sxm_generation(name: &str) -> &'static str {
    match name {
        "V100" => "SXM2",
        "A100" => "SXM4",
        "H100" | "H200" => "SXM5",
        "B200" | "B300" => "SXM6",
        _ => "SXM",
    }
}

/// Memory technology of a GPU model.
fn memory_technology(name: &str, memory_gb: Option<i64>, form_factor: &str) -> &'static str {
    match name {
        "A10" | "A6000" | "RTX A6000" | "RTX 6000" | "L40" | "L40S" | "A40" => "GDDR6",
        "A100" if memory_gb.unwrap_or(0) >= 80 => "HBM2e",
        "A100" | "V100" => "HBM2",
        "H100" if form_factor == "PCIe" => "HBM2e",
        "H100" | "GH200" | "MI300X" => "HBM3",
        "H200" | "B200" | "B300" | "GB200" => "HBM3e",
        _ => "",
    }
}

/// The GPUs of a type, or `None` for a CPU-only type (`gpuCount` 0, or neither a GPU model nor
/// an `.Nx` count).
pub(crate) fn gpu(t: &wire::InstanceType) -> Option<Gpu> {
    let count = match t.gpu_count {
        Some(n) if n <= 0 => return None,
        Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
        None => count_from_type_name(&t.name)?,
    };
    let from_name = facts_from_type_name(&t.name);
    let from_model = facts_from_model(&t.gpu_model);
    let name = if from_model.name.is_empty() {
        from_name.name.clone()
    } else {
        from_model.name.clone()
    };
    if name.is_empty() || name == "CPU" {
        return None;
    }
    let memory_gb = from_model.memory_gb.or(from_name.memory_gb);
    let form_factor = match from_model.form_factor.or(from_name.form_factor) {
        Some(ff) if ff == "SXM" => sxm_generation(&name).to_owned(),
        Some(ff) => ff,
        None if name == "GH200" => "NVLink-C2C".to_owned(),
        None => "PCIe".to_owned(),
    };
    let manufacturer = if name.starts_with("MI") {
        Manufacturer::Amd
    } else {
        Manufacturer::Nvidia
    };
    Some(Gpu {
        count,
        memory_bytes: memory_gb.map_or(Bytes::ZERO, |gb| Bytes::new(gb, BytesUnit::GB)),
        memory_details: memory_technology(&name, memory_gb, &form_factor).into(),
        gpu_type: format!("{name}.{form_factor}").into(),
        network_details: form_factor.into(),
        manufacturer,
        name: name.into(),
    })
}

/// Grace-based superchips are ARM; everything else x86-64.
fn architecture(gpu: Option<&Gpu>) -> Architecture {
    match gpu {
        Some(g) if g.name.starts_with("GH") || g.name.starts_with("GB") => Architecture::Arm64,
        _ => Architecture::X86_64,
    }
}

/// One catalog entry per type of `region`, available when `/capacity` reports room for it,
/// priced only from the configured table. An unreadable memory quantity is an error naming
/// the type.
pub(crate) fn instance_types(
    region: &str,
    types: &[wire::InstanceType],
    capacity: &[wire::Capacity],
    price: impl Fn(&str) -> Option<Price>,
) -> Result<Vec<InstanceType>> {
    types
        .iter()
        .filter(|t| !t.name.is_empty())
        .map(|t| {
            let memory_bytes = if t.memory.trim().is_empty() {
                Bytes::ZERO
            } else {
                quantity(&t.memory).map_err(|problem| {
                    CloudError::provider(
                        PROVIDER,
                        "instance_types",
                        gpucloud_core::ErrorKind::Decode,
                        format!("instance type {:?}: memory {problem}", t.name),
                    )
                })?
            };
            let gpu = gpu(t);
            let mut entry = InstanceType {
                location: region.into(),
                type_name: t.name.as_str().into(),
                supported_architectures: [architecture(gpu.as_ref())].into(),
                supported_gpus: gpu.into_iter().collect(),
                supported_usage_classes: ["on-demand".into()].into(),
                memory_bytes,
                vcpu: u32::try_from(t.cpu.max(0)).unwrap_or(u32::MAX),
                stoppable: true,
                rebootable: false,
                is_available: capacity.iter().any(|c| c.name == t.name && c.capacity > 0),
                base_price: price(&t.name),
                provider: PROVIDER.into(),
                cloud: PROVIDER.into(),
                can_modify_firewall_rules: false,
                ..InstanceType::default()
            };
            entry.id = entry.generic_id();
            Ok(entry)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, memory: &str, model: &str, count: Option<i64>) -> wire::InstanceType {
        wire::InstanceType {
            name: name.into(),
            cpu: 8,
            memory: memory.into(),
            gpu_model: model.into(),
            gpu_count: count,
        }
    }

    #[test]
    fn states_map_to_lifecycles() {
        let cases = [
            ("creating", LifecycleStatus::Pending, false),
            ("starting", LifecycleStatus::Pending, false),
            ("running", LifecycleStatus::Running, false),
            ("stopping", LifecycleStatus::Stopping, false),
            ("stopped", LifecycleStatus::Stopped, false),
            ("deleting", LifecycleStatus::Terminating, false),
            ("out-of-stock", LifecycleStatus::Failed, true),
            ("error", LifecycleStatus::Failed, true),
            ("rebooting", LifecycleStatus::Pending, true),
            ("", LifecycleStatus::Pending, true),
        ];
        for (raw, lifecycle, message) in cases {
            let s = status(raw);
            assert_eq!(s.lifecycle_status, lifecycle, "{raw}");
            assert_eq!(!s.messages.is_empty(), message, "{raw}");
        }
    }

    #[test]
    fn quantities_keep_their_unit() {
        let cases = [
            ("960Gi", Bytes::new(960, BytesUnit::GiB)),
            ("16Gi", Bytes::new(16, BytesUnit::GiB)),
            ("2Ti", Bytes::new(2, BytesUnit::TiB)),
            ("1.5Ti", Bytes::new(1536, BytesUnit::GiB)),
            ("512Mi", Bytes::new(512, BytesUnit::MiB)),
            ("80G", Bytes::new(80, BytesUnit::GB)),
            ("1.25T", Bytes::new(1250, BytesUnit::GB)),
            ("1024", Bytes::new(1024, BytesUnit::B)),
            (" 64Gi ", Bytes::new(64, BytesUnit::GiB)),
        ];
        for (text, expected) in cases {
            let got = quantity(text).unwrap();
            assert_eq!(got, expected, "{text}");
            assert_eq!(got.unit(), expected.unit(), "{text}");
        }
        for bad in [
            "",
            "Gi",
            "960GB",
            "12 apples",
            "1.2.3Gi",
            "99999999999999999999Ei",
            "0.3",
        ] {
            assert!(quantity(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn gpus_are_normalized_from_model_and_name() {
        // (type, gpuModel, gpuCount) → (count, name, GB, form factor, memory technology)
        type Expected = (u32, &'static str, i64, &'static str, &'static str);
        let cases: [(&str, &str, Option<i64>, Expected); 11] = [
            (
                "h100-hgx-80gb.1x",
                "GH100_H100_SXM5_80GB",
                Some(1),
                (1, "H100", 80, "SXM5", "HBM3"),
            ),
            (
                "h100-hgx-80gb.2x",
                "GH100_H100_SXM5_80GB",
                Some(2),
                (2, "H100", 80, "SXM5", "HBM3"),
            ),
            (
                "h100-hgx-80gb.4x",
                "GH100_H100_SXM5_80GB",
                Some(4),
                (4, "H100", 80, "SXM5", "HBM3"),
            ),
            (
                "h100-hgx-80gb.8x",
                "GH100_H100_SXM5_80GB",
                Some(8),
                (8, "H100", 80, "SXM5", "HBM3"),
            ),
            (
                "h100-hgx-80gb.8x",
                "",
                None,
                (8, "H100", 80, "SXM5", "HBM3"),
            ),
            (
                "h200-hgx-141gb.8x",
                "GH100_H200_SXM5_141GB",
                Some(8),
                (8, "H200", 141, "SXM5", "HBM3e"),
            ),
            (
                "a100-sxm-80gb.8x",
                "GA100_A100_SXM4_80GB",
                Some(8),
                (8, "A100", 80, "SXM4", "HBM2e"),
            ),
            (
                "a100-pcie-40gb.1x",
                "",
                None,
                (1, "A100", 40, "PCIe", "HBM2"),
            ),
            (
                "h100-pcie-80gb.2x",
                "GH100_H100_PCIE_80GB",
                Some(2),
                (2, "H100", 80, "PCIe", "HBM2e"),
            ),
            (
                "l40s-48gb.4x",
                "AD102_L40S_48GB",
                Some(4),
                (4, "L40S", 48, "PCIe", "GDDR6"),
            ),
            (
                "gh200-480gb.1x",
                "GH200_96GB",
                Some(1),
                (1, "GH200", 96, "NVLink-C2C", "HBM3"),
            ),
        ];
        for (name, model, count, (n, gpu_name, gb, ff, tech)) in cases {
            let g = gpu(&t(name, "1Gi", model, count)).unwrap_or_else(|| panic!("{name}: no GPU"));
            assert_eq!(g.count, n, "{name}");
            assert_eq!(g.name, gpu_name, "{name}");
            assert_eq!(g.memory_bytes, Bytes::new(gb, BytesUnit::GB), "{name}");
            assert_eq!(g.network_details, ff, "{name}");
            assert_eq!(g.gpu_type, format!("{gpu_name}.{ff}"), "{name}");
            assert_eq!(g.memory_details, tech, "{name}");
            assert_eq!(g.manufacturer, Manufacturer::Nvidia, "{name}");
        }
    }

    #[test]
    fn odd_names_never_panic() {
        for (name, model) in [
            ("é.1x", "ÄÖ_Ü"),
            (".x", "_"),
            ("h100.99999999999x", "GH100_"),
            ("", ""),
        ] {
            let _ = gpu(&t(name, "1Gi", model, None));
        }
    }

    #[test]
    fn cpu_types_have_no_gpu() {
        assert_eq!(gpu(&t("cpu.32x", "128Gi", "", None)), None);
        assert_eq!(gpu(&t("cpu-32.1", "64Gi", "", Some(0))), None);
        assert_eq!(gpu(&t("cpu-32", "64Gi", "", None)), None);
        assert_eq!(gpu(&t("c3-standard", "64Gi", "", None)), None);
    }

    #[test]
    fn catalog_entries_per_region_with_capacity_and_no_invented_price() {
        let types = vec![
            t("h100-hgx-80gb.8x", "960Gi", "GH100_H100_SXM5_80GB", Some(8)),
            t("l40s-48gb.1x", "128Gi", "AD102_L40S_48GB", Some(1)),
            t("gh200-480gb.1x", "480Gi", "GH200_96GB", Some(1)),
        ];
        let capacity = vec![
            wire::Capacity {
                name: "h100-hgx-80gb.8x".into(),
                capacity: 2,
            },
            wire::Capacity {
                name: "l40s-48gb.1x".into(),
                capacity: 0,
            },
        ];
        let priced = Price::parse("23.92", "USD").unwrap();
        let entries = instance_types("us-west-1", &types, &capacity, |name| {
            (name == "h100-hgx-80gb.8x").then(|| priced.clone())
        })
        .unwrap();
        assert_eq!(entries.len(), 3);
        let h100 = &entries[0];
        assert_eq!(h100.id.as_str(), "us-west-1-noSub-h100-hgx-80gb.8x");
        assert_eq!(h100.location, "us-west-1");
        assert_eq!(h100.memory_bytes, Bytes::new(960, BytesUnit::GiB));
        assert_eq!(h100.vcpu, 8);
        assert!(h100.is_available);
        assert_eq!(h100.base_price, Some(priced));
        assert_eq!(h100.gpu_count(), 8);
        assert_eq!(
            h100.supported_architectures.as_slice(),
            [Architecture::X86_64]
        );
        assert!(h100.stoppable && !h100.rebootable && !h100.can_modify_firewall_rules);
        assert!(!entries[1].is_available, "zero capacity");
        assert_eq!(entries[1].base_price, None, "no price is invented");
        assert!(!entries[2].is_available, "absent from /capacity");
        assert_eq!(
            entries[2].supported_architectures.as_slice(),
            [Architecture::Arm64]
        );
    }

    #[test]
    fn unreadable_memory_names_the_type() {
        let err =
            instance_types("r", &[t("odd.1x", "lots", "", Some(1))], &[], |_| None).unwrap_err();
        assert!(err.to_string().contains("odd.1x"), "{err}");
    }

    /// A wire instance as the API would send it, with these tags.
    fn wire_instance(name: &str, tags: &BTreeMap<String, String>) -> wire::Instance {
        serde_json::from_value(serde_json::json!({
            "id": "550e8400-e29b-41d4-a716-446655440000", "name": name,
            "type": "h100-hgx-80gb.8x", "ip": "10.0.0.2", "state": "running",
            "image": "image://ubuntu22.04", "preemptible": true, "tags": tags,
        }))
        .unwrap()
    }

    #[test]
    fn instances_take_bookkeeping_out_of_the_tags() {
        let w = wire_instance(
            "train",
            &wire_tags(
                &Tags::from([("team".into(), "ml".into())]),
                &Bookkeeping {
                    ref_id: "ref-1".into(),
                    cred_ref_id: "cred-1".into(),
                    created_at: Some("2026-12-01T18:00:00Z".parse().unwrap()),
                },
            ),
        );
        assert_eq!(w.tags.bookkeeping.ref_id, "ref-1");
        let i = instance(w, "us-west-1", "ubuntu");
        assert_eq!(i.ref_id, "ref-1");
        assert_eq!(i.cloud_cred_ref_id, "cred-1");
        assert_eq!(i.created_at, Some("2026-12-01T18:00:00Z".parse().unwrap()));
        assert_eq!(i.tags, Tags::from([("team".into(), "ml".into())]));
        assert_eq!(
            (i.public_ip.as_str(), i.private_ip.as_str()),
            ("10.0.0.2", "10.0.0.2")
        );
        assert_eq!((i.ssh_user.as_str(), i.ssh_port), ("ubuntu", 22));
        assert_eq!(i.lifecycle(), LifecycleStatus::Running);
        assert!(i.spot && i.stoppable && !i.rebootable);
        assert_eq!(
            i.instance_type_id.as_str(),
            "us-west-1-noSub-h100-hgx-80gb.8x"
        );
        assert_eq!(i.location, "us-west-1");
        assert_eq!(i.hostname, "train");
        assert!(
            i.firewall_rules.is_empty(),
            "no bootstrap user data, no known rules"
        );
    }

    #[test]
    fn a_converter_gives_each_instance_its_own_types_id() {
        let mut convert = Instances::new("r", "ubuntu");
        for (instance_type, expected) in [
            ("a.1x", "r-noSub-a.1x"),
            ("a.1x", "r-noSub-a.1x"),
            ("b.8x", "r-noSub-b.8x"),
            ("", ""),
            ("a.1x", "r-noSub-a.1x"),
        ] {
            let w = wire::Instance {
                instance_type: instance_type.into(),
                ..wire::Instance::default()
            };
            let i = convert.instance(w);
            assert_eq!(i.instance_type_id.as_str(), expected, "{instance_type:?}");
            assert_eq!(
                i.instance_type_id,
                instance(
                    wire::Instance {
                        instance_type: instance_type.into(),
                        ..wire::Instance::default()
                    },
                    "r",
                    "ubuntu",
                )
                .instance_type_id
            );
        }
    }

    #[test]
    fn hostnames_follow_the_core_rule() {
        for (name, ref_id, expected) in [
            ("Train Job #1", "ref-1", "train-job-1"),
            // A create without a name sends the RefID as the name.
            ("env-42", "env-42", "env-42"),
            ("###", "Ref 7", "ref-7"),
            ("", "", "instance"),
        ] {
            let w = wire_instance(
                name,
                &wire_tags(
                    &Tags::new(),
                    &Bookkeeping {
                        ref_id: ref_id.into(),
                        ..Bookkeeping::default()
                    },
                ),
            );
            assert_eq!(instance(w, "r", "ubuntu").hostname, expected, "{name:?}");
        }
    }

    #[test]
    fn instances_report_the_rules_their_user_data_enforces() {
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOu3o9AyeQeAgLrWm4iW8YTloO1TYKxHj8ZxO7xuEni5 t@x";
        let rendered = gpucloud_bootstrap::Bootstrap::new("ubuntu", key)
            .unwrap()
            .with_ingress_rules(&[gpucloud_core::FirewallRule::port(8443)])
            .unwrap()
            .render();
        let w: wire::Instance = serde_json::from_value(serde_json::json!({
            "userData": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, rendered),
        }))
        .unwrap();
        let ports: Vec<(u16, Option<gpucloud_core::Protocol>)> = instance(w, "r", "ubuntu")
            .firewall_rules
            .ingress_rules
            .iter()
            .map(|r| (r.from_port, r.protocol))
            .collect();
        assert_eq!(
            ports,
            [(22, Some(gpucloud_core::Protocol::Tcp)), (8443, None)]
        );
    }

    #[test]
    fn tag_keys_follow_fluidstack() {
        for ok in ["team", "a", "k8s.io_x-y", "A1"] {
            check_user_tags(&Tags::from([(ok.into(), "v".into())])).unwrap();
        }
        for bad in ["-x", "x-", "a b", "x/y", &"k".repeat(64), ""] {
            let err = check_user_tags(&Tags::from([(bad.into(), "v".into())])).unwrap_err();
            assert!(err.to_string().contains("tags["), "{bad:?}: {err}");
        }
    }
}
