//! Filters shared by every provider, one `matches` each.
//!
//! Semantics, the same everywhere:
//! - An include list that is `None` allows everything; `Some(list)` allows only what is listed
//!   (so `Some(vec![])` allows nothing). An exclude list removes what it names.
//! - GPU manufacturer: every GPU of a type must be allowed; a type without GPUs passes.
//! - Architecture: a type passes when **any** of its architectures is allowed; a type without
//!   architectures counts as `unknown`.
//! - Cloud: the type's `cloud` must be allowed (an empty cloud is the empty string).
//! - Instance-type names: an empty list allows every type.
//! - Locations: empty, `all` or `*` allow every location.

use serde::{Deserialize, Serialize};

use crate::enums::{Architecture, Manufacturer};
use crate::location::LocationsFilter;
use crate::model::instance::{Instance, InstanceScope, ListInstancesArgs};
use crate::model::instance_type::InstanceType;

/// Include and exclude lists over values of `T`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IncludeExclude<T> {
    /// When `Some`, only listed values pass.
    pub include: Option<Vec<T>>,
    /// Listed values never pass.
    pub exclude: Vec<T>,
}

impl<T> Default for IncludeExclude<T> {
    fn default() -> Self {
        Self {
            include: None,
            exclude: Vec::new(),
        }
    }
}

impl<T: PartialEq> IncludeExclude<T> {
    /// Only these values.
    pub fn include(values: Vec<T>) -> Self {
        Self {
            include: Some(values),
            exclude: Vec::new(),
        }
    }

    /// Everything but these values.
    pub fn exclude(values: Vec<T>) -> Self {
        Self {
            include: None,
            exclude: values,
        }
    }

    /// True when `value` passes.
    pub fn matches(&self, value: &T) -> bool {
        self.matches_as(value)
    }

    /// True when `value`, of any type the listed values compare with, passes: a
    /// [`CloudFilter`] of `String`s tests a catalog entry's `CompactString` cloud.
    pub fn matches_as<Q: ?Sized>(&self, value: &Q) -> bool
    where
        T: PartialEq<Q>,
    {
        self.include
            .as_ref()
            .is_none_or(|list| list.iter().any(|v| v == value))
            && !self.exclude.iter().any(|v| v == value)
    }
}

/// GPU manufacturer filter.
pub type GpuManufacturerFilter = IncludeExclude<Manufacturer>;
/// Architecture filter.
pub type ArchitectureFilter = IncludeExclude<Architecture>;
/// Cloud (hardware host) filter.
pub type CloudFilter = IncludeExclude<String>;

/// Which catalog entries to return (v1 `GetInstanceTypeArgs`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GetInstanceTypeArgs {
    /// Region filter.
    pub locations: LocationsFilter,
    /// Type names; empty allows all.
    pub instance_types: Vec<String>,
    /// GPU manufacturers.
    pub gpu_manufacturer_filter: Option<GpuManufacturerFilter>,
    /// Clouds.
    pub cloud_filter: Option<CloudFilter>,
    /// Architectures.
    pub architecture_filter: Option<ArchitectureFilter>,
}

impl GetInstanceTypeArgs {
    /// True when `it` passes every filter.
    pub fn matches(&self, it: &InstanceType) -> bool {
        self.locations.matches(&it.location)
            && (self.instance_types.is_empty()
                || self.instance_types.iter().any(|n| *n == it.type_name))
            && self
                .gpu_manufacturer_filter
                .as_ref()
                .is_none_or(|f| it.supported_gpus.iter().all(|g| f.matches(&g.manufacturer)))
            && self
                .cloud_filter
                .as_ref()
                .is_none_or(|f| f.matches_as(&it.cloud))
            && self.architecture_filter.as_ref().is_none_or(|f| {
                if it.supported_architectures.is_empty() {
                    f.matches(&Architecture::Unknown)
                } else {
                    it.supported_architectures.iter().any(|a| f.matches(a))
                }
            })
    }

    /// Keeps the entries that pass.
    pub fn apply(&self, types: Vec<InstanceType>) -> Vec<InstanceType> {
        types.into_iter().filter(|it| self.matches(it)).collect()
    }
}

impl ListInstancesArgs {
    /// True when a list by the credential whose reference id is `credential` keeps an
    /// instance carrying the credential mark `mark` (empty when it carries none): every
    /// instance under [`InstanceScope::Account`], else only this credential's own (see
    /// [`crate::bookkeeping::is_marked_by`]). Every provider decides with this, before
    /// [`Self::matches`].
    pub fn keeps_mark(&self, mark: &str, credential: &str) -> bool {
        self.scope == InstanceScope::Account || crate::bookkeeping::is_marked_by(mark, credential)
    }

    /// True when `instance` passes every filter: id, tags and location. The scope is
    /// [`Self::keeps_mark`]'s.
    pub fn matches(&self, instance: &Instance) -> bool {
        (self.instance_ids.is_empty() || self.instance_ids.contains(&instance.cloud_id))
            && self.locations.matches(&instance.location)
            && self.tag_filters.iter().all(|(key, values)| {
                instance
                    .tags
                    .get(key)
                    .is_some_and(|v| values.is_empty() || values.contains(v))
            })
    }

    /// Keeps the instances that pass.
    pub fn apply(&self, instances: Vec<Instance>) -> Vec<Instance> {
        instances.into_iter().filter(|i| self.matches(i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::InstanceId;
    use crate::model::instance_type::Gpu;

    fn gpu_type(
        location: &str,
        name: &str,
        maker: Manufacturer,
        arch: &[Architecture],
        cloud: &str,
    ) -> InstanceType {
        InstanceType {
            location: location.into(),
            type_name: name.into(),
            supported_gpus: smallvec::smallvec![Gpu {
                count: 1,
                manufacturer: maker,
                ..Gpu::default()
            }],
            supported_architectures: arch.into(),
            cloud: cloud.into(),
            ..InstanceType::default()
        }
    }

    #[test]
    fn include_exclude_semantics() {
        let none: IncludeExclude<u8> = IncludeExclude::default();
        assert!(none.matches(&1));
        assert!(!IncludeExclude::include(vec![]).matches(&1u8));
        assert!(IncludeExclude::include(vec![1u8]).matches(&1));
        assert!(!IncludeExclude::exclude(vec![1u8]).matches(&1));
        let both = IncludeExclude {
            include: Some(vec![1u8, 2]),
            exclude: vec![2],
        };
        assert!(both.matches(&1) && !both.matches(&2) && !both.matches(&3));
    }

    #[test]
    fn location_filter() {
        let it = gpu_type(
            "us-east-1",
            "a",
            Manufacturer::Nvidia,
            &[Architecture::X86_64],
            "lambda",
        );
        let mut args = GetInstanceTypeArgs::default();
        assert!(args.matches(&it), "empty filter allows all");
        args.locations = LocationsFilter::all();
        assert!(args.matches(&it));
        args.locations = LocationsFilter::only(["*"]);
        assert!(args.matches(&it));
        args.locations = LocationsFilter::only(["us-west-1"]);
        assert!(!args.matches(&it));
        args.locations = LocationsFilter::only(["us-west-1", "us-east-1"]);
        assert!(args.matches(&it));
    }

    #[test]
    fn type_name_filter() {
        let it = gpu_type("l", "gpu_1x_a10", Manufacturer::Nvidia, &[], "c");
        let mut args = GetInstanceTypeArgs {
            instance_types: vec!["gpu_1x_a10".into()],
            ..Default::default()
        };
        assert!(args.matches(&it));
        args.instance_types = vec!["gpu_8x_h100_sxm5".into()];
        assert!(!args.matches(&it));
    }

    #[test]
    fn manufacturer_filter_requires_every_gpu_and_passes_gpu_less_types() {
        let mut it = gpu_type("l", "t", Manufacturer::Nvidia, &[], "c");
        let args = GetInstanceTypeArgs {
            gpu_manufacturer_filter: Some(IncludeExclude::include(vec![Manufacturer::Nvidia])),
            ..Default::default()
        };
        assert!(args.matches(&it));
        it.supported_gpus.push(Gpu {
            manufacturer: Manufacturer::Intel,
            ..Gpu::default()
        });
        assert!(!args.matches(&it));
        it.supported_gpus.clear();
        assert!(args.matches(&it));
        let exclude = GetInstanceTypeArgs {
            gpu_manufacturer_filter: Some(IncludeExclude::exclude(vec![Manufacturer::Nvidia])),
            ..Default::default()
        };
        assert!(!exclude.matches(&gpu_type("l", "t", Manufacturer::Nvidia, &[], "c")));
    }

    #[test]
    fn architecture_filter_is_any_match_and_empty_is_unknown() {
        let args = GetInstanceTypeArgs {
            architecture_filter: Some(IncludeExclude::include(vec![Architecture::X86_64])),
            ..Default::default()
        };
        assert!(args.matches(&gpu_type(
            "l",
            "t",
            Manufacturer::Nvidia,
            &[Architecture::X86_64],
            "c"
        )));
        assert!(!args.matches(&gpu_type(
            "l",
            "t",
            Manufacturer::Nvidia,
            &[Architecture::Arm64],
            "c"
        )));
        assert!(args.matches(&gpu_type(
            "l",
            "t",
            Manufacturer::Nvidia,
            &[Architecture::Arm64, Architecture::X86_64],
            "c"
        )));
        assert!(!args.matches(&gpu_type("l", "t", Manufacturer::Nvidia, &[], "c")));
        let exclude_arm = GetInstanceTypeArgs {
            architecture_filter: Some(IncludeExclude::exclude(vec![Architecture::Arm64])),
            ..Default::default()
        };
        assert!(exclude_arm.matches(&gpu_type("l", "t", Manufacturer::Nvidia, &[], "c")));
        assert!(!exclude_arm.matches(&gpu_type(
            "l",
            "t",
            Manufacturer::Nvidia,
            &[Architecture::Arm64],
            "c"
        )));
    }

    #[test]
    fn cloud_filter() {
        let args = GetInstanceTypeArgs {
            cloud_filter: Some(IncludeExclude::include(vec!["lambda".to_owned()])),
            ..Default::default()
        };
        assert!(args.matches(&gpu_type("l", "t", Manufacturer::Nvidia, &[], "lambda")));
        assert!(!args.matches(&gpu_type("l", "t", Manufacturer::Nvidia, &[], "")));
        let exclude = GetInstanceTypeArgs {
            cloud_filter: Some(IncludeExclude::exclude(vec!["hyperstack".to_owned()])),
            ..Default::default()
        };
        assert!(!exclude.matches(&gpu_type("l", "t", Manufacturer::Nvidia, &[], "hyperstack")));
        assert!(exclude.matches(&gpu_type("l", "t", Manufacturer::Nvidia, &[], "")));
    }

    fn instance(id: &str, location: &str, tags: &[(&str, &str)]) -> Instance {
        Instance {
            cloud_id: InstanceId::new(id),
            location: location.into(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Instance::default()
        }
    }

    #[test]
    fn list_filters_ids_tags_locations() {
        let a = instance("a", "us-east-1", &[("team", "ml"), ("env", "prod")]);
        let b = instance("b", "us-west-1", &[("team", "web")]);
        let all = ListInstancesArgs::default();
        assert!(all.matches(&a) && all.matches(&b));

        let by_id = ListInstancesArgs {
            instance_ids: vec![InstanceId::new("b")],
            ..Default::default()
        };
        assert_eq!(by_id.apply(vec![a.clone(), b.clone()]), vec![b.clone()]);

        let by_location = ListInstancesArgs {
            locations: LocationsFilter::only(["us-east-1"]),
            ..Default::default()
        };
        assert!(by_location.matches(&a) && !by_location.matches(&b));

        let mut by_tag = ListInstancesArgs::default();
        by_tag
            .tag_filters
            .insert("team".into(), vec!["ml".into(), "infra".into()]);
        assert!(by_tag.matches(&a) && !by_tag.matches(&b));
        by_tag.tag_filters.insert("env".into(), vec![]);
        assert!(by_tag.matches(&a), "empty value list: key must exist");
        by_tag.tag_filters.insert("owner".into(), vec![]);
        assert!(!by_tag.matches(&a), "every key must be present");
    }

    #[test]
    fn the_default_scope_keeps_only_this_credentials_mark() {
        let mine = ListInstancesArgs::default();
        assert_eq!(mine.scope, InstanceScope::Credential);
        assert!(mine.keeps_mark("cred-1", "cred-1"));
        assert!(!mine.keeps_mark("cred-2", "cred-1"), "another credential's");
        assert!(!mine.keeps_mark("", "cred-1"), "made outside gpucloud");
        assert!(!mine.keeps_mark("", ""), "an unmarked instance is nobody's");

        let account = ListInstancesArgs {
            scope: InstanceScope::Account,
            ..Default::default()
        };
        for mark in ["cred-1", "cred-2", ""] {
            assert!(account.keeps_mark(mark, "cred-1"), "{mark:?}");
        }
    }

    #[test]
    fn the_scope_reads_and_defaults_in_json() {
        let args: ListInstancesArgs = serde_json::from_str(r#"{"scope":"account"}"#).unwrap();
        assert_eq!(args.scope, InstanceScope::Account);
        let args: ListInstancesArgs = serde_json::from_str("{}").unwrap();
        assert_eq!(args.scope, InstanceScope::Credential);
    }

    #[test]
    fn managed_means_carrying_this_credentials_mark() {
        let mut made = instance("a", "us-east-1", &[]);
        assert!(!made.is_managed_by("cred-1"), "no mark");
        made.cloud_cred_ref_id = "cred-1".into();
        assert!(made.is_managed_by("cred-1"));
        assert!(!made.is_managed_by("cred-2"));
    }
}
