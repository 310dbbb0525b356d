//! Pure conversions between Verda's JSON and the model, both directions, unit-tested without
//! a server: catalog entries (one per type × location × usage class), locations, instances
//! and their status, the description that carries the bookkeeping, and managed names.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use gpucloud_core::{
    Architecture, Bookkeeping, Bytes, BytesUnit, CompactString, Gpu, Instance, InstanceId,
    InstanceType, InstanceTypeId, LifecycleStatus, Location, Manufacturer, Price, Status, Storage,
    normalize_gpu_name, smallvec,
};
use jiff::Timestamp;

use crate::wire;

/// The provider id.
pub(crate) const PROVIDER: &str = "verda";

/// Appended to a type name in the id of its spot catalog entry: spot is its own offer, with
/// its own price, and a spot instance names that entry.
const SPOT_ID_SUFFIX: &str = ".spot";

/// The usage class of on-demand entries.
pub(crate) const ON_DEMAND: &str = "on-demand";
/// The usage class of spot entries.
pub(crate) const SPOT: &str = "spot";

/// The OS volume Verda accepts, in GB (elastic NVMe).
pub(crate) const OS_VOLUME_MIN_GB: u64 = 50;
/// The largest OS volume, in GB (10 TiB).
pub(crate) const OS_VOLUME_MAX_GB: u64 = 10_240;
/// The OS volume of a create that names no size, in GB.
pub(crate) const OS_VOLUME_DEFAULT_GB: u64 = 100;
/// NVMe storage price in US dollars per GB-hour, as Verda lists it (USD accounts only).
const NVME_USD_PER_GB_HOUR: &str = "0.0002740";

/// The catalog id of `instance_type` in `location`, on demand or spot: the catalog entry and
/// the instance use this one function, so they always agree.
pub(crate) fn type_id(location: &str, instance_type: &str, spot: bool) -> InstanceTypeId {
    InstanceTypeId::generic(location, None, &offer_name(instance_type, spot))
}

/// The name in the id of `instance_type`'s on-demand or spot offer (see [`type_id`]).
fn offer_name(instance_type: &str, spot: bool) -> Cow<'_, str> {
    if spot {
        Cow::Owned(format!("{instance_type}{SPOT_ID_SUFFIX}"))
    } else {
        Cow::Borrowed(instance_type)
    }
}

/// ISO 3166-1 alpha-3 for the alpha-2 codes Verda's locations use; others pass upper-cased.
fn country_alpha3(alpha2: &str) -> String {
    let upper = alpha2.trim().to_ascii_uppercase();
    let known = match upper.as_str() {
        "FI" => "FIN",
        "IS" => "ISL",
        "NO" => "NOR",
        "SE" => "SWE",
        "DE" => "DEU",
        "NL" => "NLD",
        "FR" => "FRA",
        "GB" => "GBR",
        "US" => "USA",
        _ => return upper,
    };
    known.to_owned()
}

/// A location, available when `available`.
pub(crate) fn location(w: wire::Location, available: bool) -> Location {
    Location {
        description: if w.name.is_empty() {
            w.code.clone()
        } else {
            w.name
        },
        name: w.code,
        available,
        country: country_alpha3(&w.country_code),
        ..Location::default()
    }
}

/// The types orderable now, by location, from `/instance-availability` (looked up by
/// borrowed names: a catalog asks once per entry).
pub(crate) type Orderable = HashMap<String, HashSet<String>>;

/// [`Orderable`] from the API's lists.
pub(crate) fn orderable(lists: Vec<wire::Availability>) -> Orderable {
    let mut by_location = Orderable::new();
    for a in lists {
        by_location
            .entry(a.location_code)
            .or_default()
            .extend(a.availabilities);
    }
    by_location
}

/// A price the API wrote, in `currency`; unknown (not free) when absent, unreadable or zero.
fn price(text: &str, currency: &str) -> Option<Price> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Price::parse(text, &currency.to_ascii_uppercase())
        .ok()
        .filter(|p| !p.amount.is_zero())
}

/// The GPUs of a type: the count, the memory of one GPU (the API gives the whole instance's),
/// the model's base name.
fn gpus(w: &wire::InstanceType) -> Option<Gpu> {
    let count = w.gpu.number_of_gpus.unwrap_or(0);
    if count == 0 {
        return None;
    }
    let total_gb = i64::from(w.gpu_memory.size_in_gigabytes.unwrap_or(0));
    let model = if w.model.is_empty() {
        &w.name
    } else {
        &w.model
    };
    Some(Gpu {
        count,
        memory_bytes: Bytes::new(total_gb / i64::from(count), BytesUnit::GB),
        network_details: w.p2p.as_str().into(),
        manufacturer: if w.manufacturer.is_empty() {
            Manufacturer::Nvidia
        } else {
            Manufacturer::parse_lenient(&w.manufacturer)
        },
        name: normalize_gpu_name(model),
        gpu_type: model.trim().to_ascii_uppercase().into(),
        ..Gpu::default()
    })
}

/// The architecture of a type: Grace-based parts (GB200, GB300) are arm64.
fn architecture(w: &wire::InstanceType) -> Architecture {
    let model = w.model.trim().to_ascii_uppercase();
    if model.starts_with("GB") || model.starts_with("GH") {
        Architecture::Arm64
    } else {
        Architecture::X86_64
    }
}

/// The elastic NVMe OS volume every type boots from.
fn storage(currency: &str) -> Storage {
    Storage {
        count: 1,
        size_bytes: Bytes::new(OS_VOLUME_DEFAULT_GB as i64, BytesUnit::GB),
        storage_type: "nvme".into(),
        min_size_bytes: Some(Bytes::new(OS_VOLUME_MIN_GB as i64, BytesUnit::GB)),
        max_size_bytes: Some(Bytes::new(OS_VOLUME_MAX_GB as i64, BytesUnit::GB)),
        price_per_gb_hr: (currency.eq_ignore_ascii_case("usd"))
            .then(|| Price::parse(NVME_USD_PER_GB_HOUR, "USD").ok())
            .flatten(),
        is_elastic: true,
        ..Storage::default()
    }
}

/// The catalog: every type in every location, on demand and (where it has a spot price) as
/// spot, each available when `/instance-availability` lists it there for its class.
pub(crate) struct Catalog<'a> {
    pub(crate) types: &'a [wire::InstanceType],
    pub(crate) locations: &'a [String],
    pub(crate) on_demand: &'a Orderable,
    pub(crate) spot: &'a Orderable,
    pub(crate) currency: &'a str,
}

impl Catalog<'_> {
    /// Every entry, sorted by id, that `keep` accepts.
    pub(crate) fn entries(&self, keep: impl Fn(&InstanceType) -> bool) -> Vec<InstanceType> {
        // What every entry of a type shares, computed once per type (a price parse, the GPU
        // name's normalisation), and one storage description per currency.
        let mut storages: Vec<(&str, Storage)> = Vec::new();
        let shared: Vec<Shared<'_>> = self
            .types
            .iter()
            .map(|w| {
                // The answer says its currency; the one asked for when it does not.
                let currency = if w.currency.is_empty() {
                    self.currency
                } else {
                    &w.currency
                };
                let storage = if let Some((_, s)) = storages.iter().find(|(c, _)| *c == currency) {
                    s.clone()
                } else {
                    let s = storage(currency);
                    storages.push((currency, s.clone()));
                    s
                };
                Shared {
                    on_demand_price: price(&w.price_per_hour.0, currency),
                    spot_price: price(&w.spot_price.0, currency),
                    gpu: gpus(w),
                    storage,
                    architecture: architecture(w),
                    spot_name: offer_name(&w.instance_type, true).into_owned(),
                    wire: w,
                }
            })
            .collect();
        // Each location's orderable types, looked up once per location, not once per entry.
        let orderable: Vec<_> = self
            .locations
            .iter()
            .map(|l| (self.on_demand.get(l), self.spot.get(l)))
            .collect();
        // The ids first, sorted, then the entries built in that order: sorting the small keys
        // moves a few bytes per step where sorting the entries moved whole entries.
        let mut keys: Vec<(InstanceTypeId, usize, usize, bool)> =
            Vec::with_capacity(self.types.len() * self.locations.len() * 2);
        for (t, s) in shared.iter().enumerate() {
            for (l, location) in self.locations.iter().enumerate() {
                let id = InstanceTypeId::generic(location, None, &s.wire.instance_type);
                keys.push((id, t, l, false));
                if s.spot_price.is_some() {
                    let id = InstanceTypeId::generic(location, None, &s.spot_name);
                    keys.push((id, t, l, true));
                }
            }
        }
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        let mut entries = Vec::with_capacity(keys.len());
        for (id, t, l, spot) in keys {
            let s = &shared[t];
            let w = s.wire;
            let (on_demand, spot_orderable) = orderable[l];
            let entry = InstanceType {
                id,
                location: self.locations[l].as_str().into(),
                type_name: w.instance_type.as_str().into(),
                supported_gpus: s.gpu.iter().cloned().collect(),
                supported_storage: smallvec![s.storage.clone()],
                elastic_root_volume: true,
                supported_usage_classes: smallvec![CompactString::const_new(if spot {
                    SPOT
                } else {
                    ON_DEMAND
                })],
                memory_bytes: Bytes::new(
                    i64::from(w.memory.size_in_gigabytes.unwrap_or(0)),
                    BytesUnit::GB,
                ),
                vcpu: w.cpu.number_of_cores.unwrap_or(0),
                supported_architectures: smallvec![s.architecture],
                // A spot instance cannot be shut down: Verda discontinues it instead.
                stoppable: !spot,
                rebootable: false,
                preemptible: spot,
                is_available: if spot { spot_orderable } else { on_demand }
                    .is_some_and(|types| types.contains(&w.instance_type)),
                base_price: if spot {
                    s.spot_price.clone()
                } else {
                    s.on_demand_price.clone()
                },
                provider: CompactString::const_new(PROVIDER),
                cloud: CompactString::const_new(PROVIDER),
                ..InstanceType::default()
            };
            if keep(&entry) {
                entries.push(entry);
            }
        }
        entries
    }
}

/// What every catalog entry of one type shares.
struct Shared<'a> {
    wire: &'a wire::InstanceType,
    on_demand_price: Option<Price>,
    spot_price: Option<Price>,
    gpu: Option<Gpu>,
    storage: Storage,
    architecture: Architecture,
    /// The name in the ids of its spot offers, made once (see [`offer_name`]).
    spot_name: String,
}

/// The lifecycle of a Verda status.
pub(crate) fn lifecycle(status: &str) -> LifecycleStatus {
    match status {
        "running" => LifecycleStatus::Running,
        "offline" => LifecycleStatus::Stopped,
        "deleting" => LifecycleStatus::Terminating,
        "discontinued" | "notfound" => LifecycleStatus::Terminated,
        "error" | "no_capacity" => LifecycleStatus::Failed,
        // "new", "ordered", "provisioning", "validating", "pending", "unknown", and states
        // Verda adds later: on its way somewhere.
        _ => LifecycleStatus::Pending,
    }
}

/// The prefix of a description gpucloud wrote.
const DESCRIPTION_PREFIX: &str = "gpucloud:";
/// Verda's limit on a description.
pub(crate) const DESCRIPTION_MAX_CHARS: usize = 100;

/// `%` and `/` escaped, so the two ids can be split apart again.
fn escape(text: &str) -> String {
    text.replace('%', "%25").replace('/', "%2F")
}

fn unescape(text: &str) -> String {
    text.replace("%2F", "/")
        .replace("%2f", "/")
        .replace("%25", "%")
}

/// The description of a new instance: `gpucloud:<RefID>/<credential reference>`, each
/// escaped. `None` when it would pass Verda's 100 characters.
pub(crate) fn description(bookkeeping: &Bookkeeping) -> Option<String> {
    let text = format!(
        "{DESCRIPTION_PREFIX}{}/{}",
        escape(&bookkeeping.ref_id),
        escape(&bookkeeping.cred_ref_id)
    );
    (text.chars().count() <= DESCRIPTION_MAX_CHARS).then_some(text)
}

/// The RefID and credential reference a description carries (empty when gpucloud did not
/// write it).
pub(crate) fn bookkeeping_of(description: &str) -> (String, String) {
    description
        .strip_prefix(DESCRIPTION_PREFIX)
        .and_then(|rest| rest.split_once('/'))
        .map(|(r, c)| (unescape(r), unescape(c)))
        .unwrap_or_default()
}

/// A managed resource's name: `gpucloud-<RefID>` lower-cased, every run of other characters
/// than `a-z0-9-` one `-`, at most 63 characters.
pub(crate) fn managed_name(ref_id: &str) -> String {
    let mut name = String::from("gpucloud-");
    let mut dash = true;
    for c in ref_id.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
            dash = false;
        } else if !dash {
            name.push('-');
            dash = true;
        }
    }
    name.truncate(63);
    name.trim_end_matches('-').to_owned()
}

/// An instance in the model. `ssh_user` is the user the startup script installed the key for.
pub(crate) fn instance(w: wire::Instance, ssh_user: &str) -> Instance {
    let (ref_id, cred_ref_id) = bookkeeping_of(&w.description);
    let lifecycle = lifecycle(&w.status);
    Instance {
        instance_type_id: type_id(&w.location, &w.instance_type, w.is_spot),
        cloud_id: InstanceId::new(w.id),
        name: w.hostname.clone(),
        ref_id,
        cloud_cred_ref_id: cred_ref_id,
        created_at: w.created_at.parse::<Timestamp>().ok(),
        public_ip: w.ip,
        hostname: w.hostname,
        image_id: w.image,
        instance_type: w.instance_type,
        volume_type: "nvme".to_owned(),
        ssh_user: ssh_user.to_owned(),
        ssh_port: 22,
        status: Status::new(lifecycle),
        spot: w.is_spot,
        location: w.location,
        // A spot instance cannot be shut down; an on-demand one from running or offline.
        stoppable: !w.is_spot
            && matches!(
                lifecycle,
                LifecycleStatus::Running | LifecycleStatus::Stopped
            ),
        rebootable: false,
        ..Instance::default()
    }
}

/// The OS volume size of a create, in GB: the request's bytes rounded up to whole GB, or the
/// default. The error names `disk_size_bytes` when it is outside what Verda takes.
pub(crate) fn os_volume_gb(bytes: Bytes) -> gpucloud_core::Result<u64> {
    let total = bytes.byte_count();
    if total <= 0 {
        return Ok(OS_VOLUME_DEFAULT_GB);
    }
    let gb = (total as u64).div_ceil(1_000_000_000);
    if !(OS_VOLUME_MIN_GB..=OS_VOLUME_MAX_GB).contains(&gb) {
        return Err(gpucloud_core::CloudError::invalid(
            "disk_size_bytes",
            format!(
                "Verda's OS volumes are {OS_VOLUME_MIN_GB} to {OS_VOLUME_MAX_GB} GB; {gb} GB asked"
            ),
        ));
    }
    Ok(gb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> Vec<wire::InstanceType> {
        serde_json::from_str(
            r#"[{"instance_type": "8H100.80S.176V", "model": "H100", "name": "H100 SXM5 80GB",
                 "cpu": {"number_of_cores": 176}, "gpu": {"number_of_gpus": 8},
                 "memory": {"size_in_gigabytes": 1480}, "gpu_memory": {"size_in_gigabytes": 640},
                 "price_per_hour": "18.320", "spot_price": "7.330", "currency": "usd",
                 "manufacturer": "NVIDIA", "p2p": "900 GB/s"},
                {"instance_type": "4GB300.144V", "model": "GB300", "gpu": {"number_of_gpus": 4},
                 "gpu_memory": {"size_in_gigabytes": 1152}, "price_per_hour": 23.96, "spot_price": "0"},
                {"instance_type": "CPU.4V.16G", "model": "", "cpu": {"number_of_cores": 4},
                 "gpu": {"number_of_gpus": 0}, "price_per_hour": "0.030"}]"#,
        )
        .unwrap()
    }

    #[test]
    fn every_type_and_location_is_an_entry_with_spot_as_its_own_class() {
        let types = types();
        let locations = vec!["FIN-01".to_owned(), "ICE-01".to_owned()];
        let list = |location: &str| {
            orderable(vec![wire::Availability {
                location_code: location.to_owned(),
                availabilities: vec!["8H100.80S.176V".to_owned()],
            }])
        };
        let (on_demand, spot) = (list("FIN-01"), list("ICE-01"));
        let catalog = Catalog {
            types: &types,
            locations: &locations,
            on_demand: &on_demand,
            spot: &spot,
            currency: "usd",
        };
        let all = catalog.entries(|_| true);
        // H100: 2 locations × 2 classes; GB300 and CPU: no spot price, 2 each.
        assert_eq!(all.len(), 8);
        let h100: Vec<_> = all
            .iter()
            .filter(|e| e.type_name == "8H100.80S.176V")
            .collect();
        let fin_spot = h100
            .iter()
            .find(|e| e.location == "FIN-01" && e.preemptible)
            .unwrap();
        assert!(!fin_spot.is_available && !fin_spot.stoppable);
        assert_eq!(
            fin_spot.supported_usage_classes.as_slice(),
            [CompactString::from("spot")]
        );
        assert_eq!(
            fin_spot.base_price.as_ref().unwrap().amount.to_string(),
            "7.330"
        );
        assert_eq!(fin_spot.id, type_id("FIN-01", "8H100.80S.176V", true));
        let fin = h100
            .iter()
            .find(|e| e.location == "FIN-01" && !e.preemptible)
            .unwrap();
        assert!(fin.is_available && fin.stoppable);
        assert_eq!(fin.id.as_str(), "FIN-01-noSub-8H100.80S.176V");
        let gpu = &fin.supported_gpus[0];
        assert_eq!((gpu.count, gpu.name.as_str()), (8, "H100"));
        assert_eq!(
            gpu.memory_bytes,
            Bytes::new(80, BytesUnit::GB),
            "per GPU, not per instance"
        );
        assert_eq!(fin.vcpu, 176);
        assert_eq!(
            fin.supported_architectures.as_slice(),
            [Architecture::X86_64]
        );
        let gb300 = all.iter().find(|e| e.type_name == "4GB300.144V").unwrap();
        assert_eq!(
            gb300.supported_architectures.as_slice(),
            [Architecture::Arm64]
        );
        assert_eq!(
            gb300.supported_gpus[0].memory_bytes,
            Bytes::new(288, BytesUnit::GB)
        );
        let cpu = all.iter().find(|e| e.type_name == "CPU.4V.16G").unwrap();
        assert!(cpu.supported_gpus.is_empty());
        assert!(
            fin.supported_storage[0].is_elastic
                && fin.supported_storage[0].price_per_gb_hr.is_some()
        );
        let ids: HashSet<_> = all.iter().map(|e| e.id.clone()).collect();
        assert_eq!(ids.len(), all.len(), "ids are unique");
        let eur = Catalog {
            currency: "eur",
            ..catalog
        };
        let entry = &eur.entries(|e| e.type_name == "CPU.4V.16G")[0];
        assert_eq!(entry.base_price.as_ref().unwrap().currency.as_str(), "EUR");
        assert!(
            entry.supported_storage[0].price_per_gb_hr.is_none(),
            "no EUR storage price published"
        );
    }

    #[test]
    fn instances_name_their_catalog_entry_and_carry_bookkeeping() {
        let bookkeeping = Bookkeeping {
            ref_id: "job/7%".into(),
            cred_ref_id: "team-a".into(),
            created_at: None,
        };
        let text = description(&bookkeeping).unwrap();
        assert_eq!(text, "gpucloud:job%2F7%25/team-a");
        let w: wire::Instance = serde_json::from_value(serde_json::json!({
            "id": "i-1", "instance_type": "8H100.80S.176V", "location": "ICE-01", "is_spot": true,
            "status": "running", "hostname": "train-1", "description": text, "ip": "203.0.113.9",
            "created_at": "2026-01-02T03:04:05Z"
        }))
        .unwrap();
        let i = instance(w, "root");
        assert_eq!(
            (i.ref_id.as_str(), i.cloud_cred_ref_id.as_str()),
            ("job/7%", "team-a")
        );
        assert_eq!(
            i.instance_type_id,
            type_id("ICE-01", "8H100.80S.176V", true)
        );
        assert!(i.spot && !i.stoppable && i.created_at.is_some());
        assert_eq!(
            bookkeeping_of("made in the console"),
            (String::new(), String::new())
        );
        let long = Bookkeeping {
            ref_id: "r".repeat(120),
            cred_ref_id: "c".into(),
            created_at: None,
        };
        assert!(description(&long).is_none());
    }

    #[test]
    fn every_status_has_a_lifecycle() {
        use LifecycleStatus as L;
        let cases = [
            ("new", L::Pending),
            ("ordered", L::Pending),
            ("provisioning", L::Pending),
            ("validating", L::Pending),
            ("pending", L::Pending),
            ("unknown", L::Pending),
            ("running", L::Running),
            ("offline", L::Stopped),
            ("deleting", L::Terminating),
            ("discontinued", L::Terminated),
            ("notfound", L::Terminated),
            ("error", L::Failed),
            ("no_capacity", L::Failed),
            ("something_new", L::Pending),
        ];
        for (status, want) in cases {
            assert_eq!(lifecycle(status), want, "{status}");
        }
    }

    #[test]
    fn locations_and_names() {
        let w: wire::Location = serde_json::from_str(
            r#"{"code": "ICE-01", "name": "Iceland 1", "country_code": "IS"}"#,
        )
        .unwrap();
        let l = location(w, true);
        assert_eq!(
            (l.name.as_str(), l.country.as_str(), l.description.as_str()),
            ("ICE-01", "ISL", "Iceland 1")
        );
        assert_eq!(managed_name("Job #7 / A"), "gpucloud-job-7-a");
        assert_eq!(managed_name(&"x".repeat(100)).len(), 63);
        assert_eq!(os_volume_gb(Bytes::ZERO).unwrap(), OS_VOLUME_DEFAULT_GB);
        assert_eq!(
            os_volume_gb(Bytes::new(100, BytesUnit::GiB)).unwrap(),
            108,
            "rounded up"
        );
        assert!(os_volume_gb(Bytes::new(10, BytesUnit::GB)).is_err());
        assert!(os_volume_gb(Bytes::new(11, BytesUnit::TiB)).is_err());
    }
}
