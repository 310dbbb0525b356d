//! Compute: public images, platforms, disks and instances, with their operations.

use std::time::Duration;

use gpucloud_nebius_proto::common::v1 as common;
use gpucloud_nebius_proto::compute::v1 as compute;
use gpucloud_nebius_proto::compute::v1::disk_service_server::DiskService;
use gpucloud_nebius_proto::compute::v1::disk_spec::{Size, Source};
use gpucloud_nebius_proto::compute::v1::image_service_server::ImageService;
use gpucloud_nebius_proto::compute::v1::instance_service_server::InstanceService;
use gpucloud_nebius_proto::compute::v1::platform_service_server::PlatformService;
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use super::{Api, Page, from_page, present, reply, required};
use crate::kit::Timeline;
use crate::nebius::catalog::{self, PlatformInfo};
use crate::nebius::error::{ApiError, ApiResult};
use crate::nebius::op::Operation;
use crate::nebius::state::{
    DiskRecord, DiskState, ImageRecord, Inner, InstanceRecord, InstanceState, Meta, Region,
    capacity_key, new_id,
};

const SERVICE: &str = "compute";
const OPERATION_KIND: &str = "computeoperation";
const GIB: i64 = 1 << 30;

fn image_proto(image: &ImageRecord) -> compute::Image {
    let mut meta = Meta::new(
        image.id.clone(),
        &image.parent,
        &format!("{}-v{}", image.family, image.version),
        std::collections::HashMap::new(),
    );
    meta.created_at = image.created_at;
    meta.updated_at = image.created_at;
    compute::Image {
        metadata: Some(meta.to_proto()),
        spec: Some(compute::ImageSpec {
            description: image.description.to_owned(),
            image_family: image.family.to_owned(),
            version: image.version.to_owned(),
            source: None,
            cpu_architecture: compute::image_spec::CpuArchitecture::Amd64 as i32,
            image_family_human_readable: image.description.to_owned(),
            recommended_platforms: Vec::new(),
            unsupported_platforms: std::collections::HashMap::new(),
            unsupported_presets: Vec::new(),
        }),
        status: Some(compute::ImageStatus {
            state: compute::image_status::State::Ready as i32,
            state_description: String::new(),
            storage_size_bytes: 12 * GIB,
            min_disk_size_bytes: 50 * GIB,
            reconciling: false,
            image_family_deprecation: None,
        }),
    }
}

fn platform_proto(platform: &PlatformInfo, region: &Region) -> compute::Platform {
    let short = platform
        .name
        .strip_prefix("gpu-")
        .and_then(|rest| rest.split('-').next())
        .unwrap_or(platform.name)
        .to_uppercase();
    compute::Platform {
        metadata: Some(common::ResourceMetadata {
            id: format!("computeplatform-{}{}", region.info.code, platform.name),
            parent_id: region.project_id.clone(),
            name: platform.name.to_owned(),
            ..common::ResourceMetadata::default()
        }),
        spec: Some(compute::PlatformSpec {
            presets: platform
                .presets
                .iter()
                .map(|p| compute::Preset {
                    name: p.name.to_owned(),
                    resources: Some(compute::PresetResources {
                        vcpu_count: p.vcpus as i32,
                        memory_gibibytes: p.memory_gib as i32,
                        gpu_count: p.gpus as i32,
                        ..compute::PresetResources::default()
                    }),
                    allow_gpu_clustering: p.gpus == 8,
                })
                .collect(),
            gpu_count_quota_type: platform.quota.to_owned(),
            human_readable_name: platform.human_name.to_owned(),
            allow_preset_change: true,
            short_human_readable_name: short,
            gpu_memory_gigabytes: platform.gpu_memory_gb as i32,
            ..compute::PlatformSpec::default()
        }),
        status: Some(compute::PlatformStatus {
            allowed_for_preemptibles: platform.allows_preemptibles(),
        }),
    }
}

impl Inner {
    /// The region of a parent given as a project, a public-images parent, or nothing (the
    /// first region).
    fn image_region(&self, parent_id: &str) -> ApiResult<&Region> {
        if parent_id.is_empty() {
            return self
                .regions
                .first()
                .ok_or_else(|| ApiError::not_found(SERVICE, "region"));
        }
        self.regions
            .iter()
            .find(|r| r.project_id == parent_id || r.images_parent == parent_id)
            .ok_or_else(|| ApiError::not_found(SERVICE, parent_id))
    }

    fn latest_image(&self, family: &str, parent_id: &str) -> ApiResult<&ImageRecord> {
        let region = self.image_region(parent_id)?.info.name;
        self.images
            .iter()
            .filter(|i| i.region == region && i.family == family)
            .max_by_key(|i| i.version)
            .ok_or_else(|| ApiError::not_found(SERVICE, family))
    }

    fn project_of(&self, field: &str, parent_id: &str) -> ApiResult<Region> {
        required(SERVICE, field, parent_id)?;
        self.project(parent_id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(SERVICE, parent_id))
    }

    /// Checks a disk spec as `DiskService.Create` does (`field` names it in errors): its
    /// size in bytes and source image.
    fn checked_disk_spec(
        &self,
        region: &Region,
        spec: &compute::DiskSpec,
        field: &str,
    ) -> ApiResult<(i64, String)> {
        let size_bytes = match spec.size {
            Some(Size::SizeBytes(n)) => n,
            Some(Size::SizeKibibytes(n)) => n.saturating_mul(1 << 10),
            Some(Size::SizeMebibytes(n)) => n.saturating_mul(1 << 20),
            Some(Size::SizeGibibytes(n)) => n.saturating_mul(GIB),
            None => {
                return Err(ApiError::bad_request(
                    SERVICE,
                    &format!("{field}.size"),
                    "is required",
                ));
            }
        };
        if size_bytes <= 0 {
            return Err(ApiError::bad_request(
                SERVICE,
                &format!("{field}.size"),
                "must be positive",
            ));
        }
        if spec.r#type == compute::disk_spec::DiskType::Unspecified as i32
            || compute::disk_spec::DiskType::try_from(spec.r#type).is_err()
        {
            return Err(ApiError::bad_request(
                SERVICE,
                &format!("{field}.type"),
                "must be a disk type",
            ));
        }
        let source_image_id = match &spec.source {
            Some(Source::SourceImageId(id)) => {
                let image = self
                    .images
                    .iter()
                    .find(|i| &i.id == id && i.region == region.info.name)
                    .ok_or_else(|| ApiError::not_found(SERVICE, id))?;
                image.id.clone()
            }
            Some(Source::SourceImageFamily(family)) => {
                required(
                    SERVICE,
                    &format!("{field}.source_image_family.image_family"),
                    &family.image_family,
                )?;
                let parent = if family.parent_id.is_empty() {
                    region.project_id.as_str()
                } else {
                    family.parent_id.as_str()
                };
                let image = self.latest_image(&family.image_family, parent)?;
                if image.region != region.info.name {
                    return Err(ApiError::bad_request(
                        SERVICE,
                        &format!("{field}.source_image_family.parent_id"),
                        "is in another region than the disk",
                    ));
                }
                image.id.clone()
            }
            Some(Source::SourceSnapshotId(id)) => return Err(ApiError::not_found(SERVICE, id)),
            None => String::new(),
        };
        if !source_image_id.is_empty() && size_bytes < 50 * GIB {
            return Err(ApiError::bad_request(
                SERVICE,
                &format!("{field}.size"),
                "is smaller than the image's minimum disk size (50 GiB)",
            ));
        }
        Ok((size_bytes, source_image_id))
    }

    fn create_disk(
        &mut self,
        request: &compute::CreateDiskRequest,
        caller: &str,
    ) -> ApiResult<common::Operation> {
        let metadata = present(SERVICE, "metadata", request.metadata.as_ref())?;
        let region = self.project_of("metadata.parent_id", &metadata.parent_id)?;
        let name = required(SERVICE, "metadata.name", &metadata.name)?;
        if let Some(existing) = self
            .disks
            .values()
            .find(|d| d.meta.parent_id == region.project_id && d.meta.name == name)
        {
            return Err(ApiError::already_exists(SERVICE, &existing.meta.id, name));
        }
        let spec = present(SERVICE, "spec", request.spec.as_ref())?;
        let (size_bytes, source_image_id) = self.checked_disk_spec(&region, spec, "spec")?;
        let id = new_id("computedisk", region.info.code);
        let failure = self.take_operation_failure(Operation::CreateDisk);
        let delay = self.timing.disk;
        let end = if failure.is_some() {
            DiskState::Error
        } else {
            DiskState::Ready
        };
        self.disks.insert(
            id.clone(),
            DiskRecord {
                meta: Meta::new(
                    id.clone(),
                    &region.project_id,
                    name,
                    metadata.labels.clone(),
                ),
                region: region.info.name,
                spec: spec.clone(),
                size_bytes,
                source_image_id,
                timeline: Timeline::starting(Instant::now(), DiskState::Creating).then(delay, end),
                settles_at: Instant::now() + delay,
                managed_by: None,
            },
        );
        Ok(self.operation(
            OPERATION_KIND,
            format!("create disk {name}"),
            &id,
            &region.project_id,
            delay,
            failure,
            caller,
        ))
    }

    fn delete_disk(&mut self, id: &str, caller: &str) -> ApiResult<common::Operation> {
        required(SERVICE, "id", id)?;
        let now = Instant::now();
        let delay = self.timing.disk;
        let Some(disk) = self.disks.get(id) else {
            return Err(ApiError::not_found(SERVICE, id));
        };
        let parent = disk.meta.parent_id.clone();
        let state = disk.timeline.at(now);
        if let Some(instance) = self.disk_attachment(id) {
            return Err(ApiError::bad_state(
                SERVICE,
                id,
                format!("disk {id} is attached to instance {instance}"),
            ));
        }
        let deleting = state == Some(DiskState::Deleting);
        // A disk already being deleted: this operation ends with that deletion.
        let after = if deleting {
            disk.settles_at.saturating_duration_since(now)
        } else {
            delay
        };
        let failure = if deleting {
            None
        } else {
            self.take_operation_failure(Operation::DeleteDisk)
        };
        if failure.is_none()
            && !deleting
            && let Some(disk) = self.disks.get_mut(id)
        {
            disk.timeline = Timeline::starting(now, DiskState::Deleting).then_gone(delay);
            disk.settles_at = now + delay;
        }
        self.sweep_after(now + delay);
        Ok(self.operation(
            OPERATION_KIND,
            format!("delete disk {id}"),
            id,
            &parent,
            after,
            failure,
            caller,
        ))
    }

    fn update_disk(
        &mut self,
        request: &compute::UpdateDiskRequest,
        caller: &str,
    ) -> ApiResult<common::Operation> {
        let metadata = present(SERVICE, "metadata", request.metadata.as_ref())?;
        let id = required(SERVICE, "metadata.id", &metadata.id)?.to_owned();
        let failure = self.take_operation_failure(Operation::UpdateDisk);
        let disk = self
            .disks
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found(SERVICE, &id))?;
        if let Some(instance) = &disk.managed_by {
            return Err(ApiError::bad_state(
                SERVICE,
                &id,
                format!(
                    "disk {id} is managed by instance {instance}: change it through the \
                     instance's spec"
                ),
            ));
        }
        let parent = disk.meta.parent_id.clone();
        if failure.is_none() {
            disk.meta.relabel(metadata.labels.clone());
        }
        Ok(self.operation(
            OPERATION_KIND,
            format!("update disk {id}"),
            &id,
            &parent,
            Duration::ZERO,
            failure,
            caller,
        ))
    }

    fn create_instance(
        &mut self,
        request: &compute::CreateInstanceRequest,
        caller: &str,
    ) -> ApiResult<common::Operation> {
        let now = Instant::now();
        let metadata = present(SERVICE, "metadata", request.metadata.as_ref())?;
        let region = self.project_of("metadata.parent_id", &metadata.parent_id)?;
        let name = required(SERVICE, "metadata.name", &metadata.name)?;
        if let Some(existing) = self
            .instances
            .values()
            .find(|i| i.meta.parent_id == region.project_id && i.meta.name == name)
        {
            return Err(ApiError::already_exists(SERVICE, &existing.meta.id, name));
        }
        let spec = present(SERVICE, "spec", request.spec.as_ref())?;
        let resources = present(SERVICE, "spec.resources", spec.resources.as_ref())?;
        let platform = catalog::platform(&resources.platform)
            .filter(|p| p.in_region(region.info.name))
            .ok_or_else(|| {
                ApiError::bad_request(
                    SERVICE,
                    "spec.resources.platform",
                    &format!(
                        "{:?} is not a platform of {}",
                        resources.platform, region.info.name
                    ),
                )
            })?;
        let Some(compute::resources_spec::Size::Preset(preset_name)) = &resources.size else {
            return Err(ApiError::bad_request(
                SERVICE,
                "spec.resources.preset",
                "is required",
            ));
        };
        let preset = platform.preset(preset_name).ok_or_else(|| {
            ApiError::bad_request(
                SERVICE,
                "spec.resources.preset",
                &format!("{preset_name:?} is not a preset of {}", platform.name),
            )
        })?;
        if spec.network_interfaces.is_empty() {
            return Err(ApiError::bad_request(
                SERVICE,
                "spec.network_interfaces",
                "is required",
            ));
        }
        if spec.network_interfaces.len() > 8 {
            return Err(ApiError::bad_request(
                SERVICE,
                "spec.network_interfaces",
                "at most 8 interfaces",
            ));
        }
        for (n, interface) in spec.network_interfaces.iter().enumerate() {
            let field = |f: &str| format!("spec.network_interfaces[{n}].{f}");
            required(SERVICE, &field("subnet_id"), &interface.subnet_id)?;
            if interface.subnet_id != region.subnet_id {
                return Err(ApiError::not_found(SERVICE, &interface.subnet_id));
            }
            let name_ok = !interface.name.is_empty()
                && interface.name.len() <= 60
                && interface
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !interface.name.starts_with('-');
            if !name_ok {
                return Err(ApiError::bad_request(
                    SERVICE,
                    &field("name"),
                    "must be 1 to 60 of [0-9a-z-], not starting with '-'",
                ));
            }
            if interface.ip_address.is_none() {
                return Err(ApiError::bad_request(
                    SERVICE,
                    &field("ip_address"),
                    "is required",
                ));
            }
            for group in &interface.security_groups {
                let known = self
                    .security_groups
                    .get(&group.id)
                    .is_some_and(|g| g.meta.parent_id == region.project_id);
                if !known {
                    return Err(ApiError::not_found(SERVICE, &group.id));
                }
            }
        }
        if let Some(preemptible) = &spec.preemptible {
            if !platform.allows_preemptibles() {
                return Err(ApiError::bad_request(
                    SERVICE,
                    "spec.preemptible",
                    &format!(
                        "platform {} does not allow preemptible instances",
                        platform.name
                    ),
                ));
            }
            if preemptible.on_preemption != compute::preemptible_spec::PreemptionPolicy::Stop as i32
            {
                return Err(ApiError::bad_request(
                    SERVICE,
                    "spec.preemptible.on_preemption",
                    "the only supported value is STOP",
                ));
            }
        }
        let boot = present(SERVICE, "spec.boot_disk", spec.boot_disk.as_ref())?;
        // An existing disk must be ready and free; a managed one is made with the instance,
        // after every check below has passed, so a refused create makes nothing.
        let mut attachment = match &boot.r#type {
            Some(compute::attached_disk_spec::Type::ExistingDisk(d)) => {
                let disk_id = required(SERVICE, "spec.boot_disk.existing_disk.id", &d.id)?;
                let disk = self
                    .disks
                    .get(disk_id)
                    .filter(|d| d.meta.parent_id == region.project_id)
                    .ok_or_else(|| ApiError::not_found(SERVICE, disk_id))?;
                let disk_state = disk.timeline.at(now);
                if disk_state != Some(DiskState::Ready) {
                    return Err(ApiError::bad_state(
                        SERVICE,
                        disk_id,
                        format!("disk {disk_id} is not ready ({disk_state:?})"),
                    ));
                }
                if let Some(other) = self.disk_attachment(disk_id) {
                    return Err(ApiError::bad_state(
                        SERVICE,
                        disk_id,
                        format!("disk {disk_id} is already attached to {other}"),
                    ));
                }
                compute::DiskAttachmentStatus {
                    id: disk_id.to_owned(),
                    name: disk.meta.name.clone(),
                    is_managed: false,
                }
            }
            Some(compute::attached_disk_spec::Type::ManagedDisk(managed)) => {
                let name = required(SERVICE, "spec.boot_disk.managed_disk.name", &managed.name)?;
                if let Some(existing) = self
                    .disks
                    .values()
                    .find(|d| d.meta.parent_id == region.project_id && d.meta.name == name)
                {
                    return Err(ApiError::already_exists(SERVICE, &existing.meta.id, name));
                }
                let disk_spec = present(
                    SERVICE,
                    "spec.boot_disk.managed_disk.spec",
                    managed.spec.as_ref(),
                )?;
                self.checked_disk_spec(&region, disk_spec, "spec.boot_disk.managed_disk.spec")?;
                // Its id is given once the disk is made, below.
                compute::DiskAttachmentStatus {
                    id: String::new(),
                    name: name.to_owned(),
                    is_managed: true,
                }
            }
            None => {
                return Err(ApiError::bad_request(
                    SERVICE,
                    "spec.boot_disk.existing_disk",
                    "is required",
                ));
            }
        };
        if spec.cloud_init_user_data.len() > 32_768 {
            return Err(ApiError::bad_request(
                SERVICE,
                "spec.cloud_init_user_data",
                "at most 32768 characters",
            ));
        }
        let units = platform.quota_units(preset);
        let limit = self
            .quota_limits
            .get(&(platform.quota.to_owned(), region.info.name.to_owned()))
            .copied()
            .unwrap_or(0);
        let usage = self.quota_usage(platform.quota, region.info.name);
        let wanted = usage.saturating_add(units);
        if wanted > limit {
            return Err(ApiError::quota(platform.quota, limit, wanted));
        }
        if !self
            .capacity
            .take(region.info.name, &capacity_key(platform, preset))
        {
            return Err(ApiError::not_enough_resources(&format!(
                "{}/{} in {}",
                platform.name, preset.name, region.info.name
            )));
        }
        let failure = self.take_operation_failure(Operation::CreateInstance);
        let delay = self.timing.create;
        let end = match (&failure, spec.stopped) {
            (Some(_), _) => InstanceState::Error,
            (None, true) => InstanceState::Stopped,
            (None, false) => InstanceState::Running,
        };
        let id = new_id("computeinstance", region.info.code);
        let managed_boot_disk = match &boot.r#type {
            Some(compute::attached_disk_spec::Type::ManagedDisk(managed)) => {
                let disk_spec = managed.spec.clone().unwrap_or_default();
                let (size_bytes, source_image_id) = self.checked_disk_spec(
                    &region,
                    &disk_spec,
                    "spec.boot_disk.managed_disk.spec",
                )?;
                let disk_id = new_id("computedisk", region.info.code);
                let ready = self.timing.disk.min(delay);
                self.disks.insert(
                    disk_id.clone(),
                    DiskRecord {
                        meta: Meta::new(
                            disk_id.clone(),
                            &region.project_id,
                            &managed.name,
                            managed.labels.clone(),
                        ),
                        region: region.info.name,
                        spec: disk_spec,
                        size_bytes,
                        source_image_id,
                        timeline: Timeline::starting(now, DiskState::Creating)
                            .then(ready, DiskState::Ready),
                        settles_at: now + ready,
                        managed_by: Some(id.clone()),
                    },
                );
                attachment.id.clone_from(&disk_id);
                Some(disk_id)
            }
            _ => None,
        };
        let private_ip = self.next_private_ip(&region);
        let public_ip = spec.network_interfaces[0]
            .public_ip_address
            .is_some()
            .then(|| self.next_public_ip());
        self.instances.insert(
            id.clone(),
            InstanceRecord {
                meta: Meta::new(
                    id.clone(),
                    &region.project_id,
                    name,
                    metadata.labels.clone(),
                ),
                region: region.info.name,
                spec: spec.clone(),
                platform,
                preset,
                timeline: Timeline::starting(now, InstanceState::Creating).then(delay, end),
                settles_at: now + delay,
                private_ip,
                public_ip,
                holds_capacity: true,
                managed_boot_disk,
                disk_attachments: vec![attachment],
            },
        );
        Ok(self.operation(
            OPERATION_KIND,
            format!("create instance {name}"),
            &id,
            &region.project_id,
            delay,
            failure,
            caller,
        ))
    }

    /// Start, stop or delete: `from` are the states it may start in, then `through` for
    /// `delay`, then `to` (`None`: gone).
    #[allow(clippy::too_many_arguments)]
    fn transition(
        &mut self,
        class: Operation,
        id: &str,
        from: &[InstanceState],
        through: InstanceState,
        delay: Duration,
        to: Option<InstanceState>,
        verb: &str,
        caller: &str,
    ) -> ApiResult<common::Operation> {
        required(SERVICE, "id", id)?;
        let now = Instant::now();
        let instance = self
            .instances
            .get(id)
            .ok_or_else(|| ApiError::not_found(SERVICE, id))?;
        let state = instance.timeline.at(now).unwrap_or(InstanceState::Deleting);
        let parent = instance.meta.parent_id.clone();
        if state == through {
            // The same transition is under way: this operation ends with it.
            let ends = instance.settles_at.saturating_duration_since(now);
            return Ok(self.operation(
                OPERATION_KIND,
                format!("{verb} instance {id}"),
                id,
                &parent,
                ends,
                None,
                caller,
            ));
        }
        if !from.contains(&state) {
            return Err(ApiError::bad_state(
                SERVICE,
                id,
                format!(
                    "cannot {verb} instance {id} in state {}",
                    state.as_str_name()
                ),
            ));
        }
        let failure = self.take_operation_failure(class);
        if failure.is_none()
            && let Some(instance) = self.instances.get_mut(id)
        {
            let timeline = Timeline::starting(now, through);
            instance.timeline = match to {
                Some(to) => timeline.then(delay, to),
                None => timeline.then_gone(delay),
            };
            instance.settles_at = now + delay;
        }
        if to.is_none() {
            self.sweep_after(now + delay);
        }
        Ok(self.operation(
            OPERATION_KIND,
            format!("{verb} instance {id}"),
            id,
            &parent,
            delay,
            failure,
            caller,
        ))
    }

    fn update_instance(
        &mut self,
        request: &compute::UpdateInstanceRequest,
        caller: &str,
    ) -> ApiResult<common::Operation> {
        let metadata = present(SERVICE, "metadata", request.metadata.as_ref())?;
        let id = required(SERVICE, "metadata.id", &metadata.id)?.to_owned();
        let failure = self.take_operation_failure(Operation::UpdateInstance);
        let instance = self
            .instances
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found(SERVICE, &id))?;
        if metadata.resource_version != 0
            && metadata.resource_version != instance.meta.resource_version
        {
            return Err(ApiError::new(
                tonic::Code::Aborted,
                SERVICE,
                format!(
                    "resource_version {} is not the current {}",
                    metadata.resource_version, instance.meta.resource_version
                ),
            ));
        }
        let parent = instance.meta.parent_id.clone();
        if failure.is_none() {
            instance.meta.relabel(metadata.labels.clone());
        }
        Ok(self.operation(
            OPERATION_KIND,
            format!("update instance {id}"),
            &id,
            &parent,
            Duration::ZERO,
            failure,
            caller,
        ))
    }

    fn operations_of_parent(
        &self,
        request: &compute::ListOperationsByParentRequest,
    ) -> ApiResult<common::ListOperationsResponse> {
        let parent = required(SERVICE, "parent_id", &request.parent_id)?;
        let page = Page::new(SERVICE, request.page_size, &request.page_token)?;
        let now = Instant::now();
        let mut all: Vec<_> = self
            .operations
            .values()
            .filter(|o| o.parent_id == parent)
            .collect();
        all.sort_by_key(|o| std::cmp::Reverse(o.seq));
        let (operations, next_page_token) = page.apply(
            all.into_iter()
                .map(|o| (format!("{:020}", u64::MAX - o.seq), o.to_proto(now))),
        );
        Ok(common::ListOperationsResponse {
            operations,
            next_page_token,
        })
    }
}

#[tonic::async_trait]
impl ImageService for Api {
    async fn get(
        &self,
        request: Request<compute::GetImageRequest>,
    ) -> Result<Response<compute::Image>, Status> {
        let inner = self.state.lock();
        let id = &request.get_ref().id;
        reply(required(SERVICE, "id", id).and_then(|id| {
            inner
                .images
                .iter()
                .find(|i| i.id == id)
                .map(image_proto)
                .ok_or_else(|| ApiError::not_found(SERVICE, id))
        }))
    }

    async fn get_latest_by_family(
        &self,
        request: Request<compute::GetImageLatestByFamilyRequest>,
    ) -> Result<Response<compute::Image>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply(
            required(SERVICE, "image_family", &request.image_family)
                .and_then(|family| inner.latest_image(family, &request.parent_id))
                .map(image_proto),
        )
    }

    async fn list(
        &self,
        request: Request<compute::ListImagesRequest>,
    ) -> Result<Response<compute::ListImagesResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            let parent = required(SERVICE, "parent_id", &request.parent_id)?;
            let page = Page::new(SERVICE, request.page_size, &request.page_token)?;
            // A project has no images of its own; public images live under their parent.
            let region = inner.image_region(parent)?;
            let images: Vec<_> = inner
                .images
                .iter()
                .filter(|i| i.parent == parent && i.region == region.info.name)
                .map(|i| (i.id.clone(), image_proto(i)))
                .collect();
            let mut images = images;
            images.sort_by(|a, b| a.0.cmp(&b.0));
            let (items, next_page_token) = page.apply(images);
            Ok(compute::ListImagesResponse {
                items,
                next_page_token,
            })
        })())
    }

    async fn list_public(
        &self,
        request: Request<compute::ListPublicRequest>,
    ) -> Result<Response<compute::ListImagesResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            let page = Page::new(SERVICE, request.page_size, &request.page_token)?;
            let region = if request.region.is_empty() {
                inner.regions.first()
            } else {
                inner.region(&request.region)
            }
            .ok_or_else(|| {
                ApiError::bad_request(
                    SERVICE,
                    "region",
                    &format!("{:?} is not served", request.region),
                )
            })?;
            let mut images: Vec<_> = inner
                .images
                .iter()
                .filter(|i| i.region == region.info.name)
                .map(|i| (i.id.clone(), image_proto(i)))
                .collect();
            images.sort_by(|a, b| a.0.cmp(&b.0));
            let (items, next_page_token) = page.apply(images);
            Ok(compute::ListImagesResponse {
                items,
                next_page_token,
            })
        })())
    }
}

#[tonic::async_trait]
impl PlatformService for Api {
    async fn get_by_name(
        &self,
        request: Request<common::GetByNameRequest>,
    ) -> Result<Response<compute::Platform>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            let region = inner.project_of("parent_id", &request.parent_id)?;
            let name = required(SERVICE, "name", &request.name)?;
            catalog::platform(name)
                .filter(|p| p.in_region(region.info.name))
                .map(|p| platform_proto(p, &region))
                .ok_or_else(|| ApiError::not_found(SERVICE, name))
        })())
    }

    async fn list(
        &self,
        request: Request<compute::ListPlatformsRequest>,
    ) -> Result<Response<compute::ListPlatformsResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            let region = inner.project_of("parent_id", &request.parent_id)?;
            let page = Page::new(SERVICE, request.page_size, &request.page_token)?;
            let platforms = catalog::PLATFORMS
                .iter()
                .filter(|p| p.in_region(region.info.name))
                .map(|p| (p.name.to_owned(), platform_proto(p, &region)));
            let mut platforms: Vec<_> = platforms.collect();
            platforms.sort_by(|a, b| a.0.cmp(&b.0));
            let (items, next_page_token) = page.apply(platforms);
            Ok(compute::ListPlatformsResponse {
                items,
                next_page_token,
            })
        })())
    }
}

#[tonic::async_trait]
impl DiskService for Api {
    async fn get(
        &self,
        request: Request<compute::GetDiskRequest>,
    ) -> Result<Response<compute::Disk>, Status> {
        let inner = self.state.lock();
        let id = &request.get_ref().id;
        reply(required(SERVICE, "id", id).and_then(|id| {
            inner
                .disks
                .get(id)
                .and_then(|d| inner.disk_proto(d, Instant::now()))
                .ok_or_else(|| ApiError::not_found(SERVICE, id))
        }))
    }

    async fn get_by_name(
        &self,
        request: Request<common::GetByNameRequest>,
    ) -> Result<Response<compute::Disk>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            required(SERVICE, "parent_id", &request.parent_id)?;
            let name = required(SERVICE, "name", &request.name)?;
            inner
                .disks
                .values()
                .find(|d| d.meta.parent_id == request.parent_id && d.meta.name == name)
                .and_then(|d| inner.disk_proto(d, Instant::now()))
                .ok_or_else(|| ApiError::not_found(SERVICE, name))
        })())
    }

    async fn list(
        &self,
        request: Request<compute::ListDisksRequest>,
    ) -> Result<Response<compute::ListDisksResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            let region = inner.project_of("parent_id", &request.parent_id)?;
            let page = Page::new(SERVICE, request.page_size, &request.page_token)?;
            let now = Instant::now();
            let (page, next_page_token) = page.apply(
                from_page(&inner.disks, &page)
                    .filter(|(_, d)| d.meta.parent_id == region.project_id),
            );
            let items = page
                .into_iter()
                .filter_map(|d| inner.disk_proto(d, now))
                .collect();
            Ok(compute::ListDisksResponse {
                items,
                next_page_token,
            })
        })())
    }

    async fn create(
        &self,
        request: Request<compute::CreateDiskRequest>,
    ) -> Result<Response<common::Operation>, Status> {
        self.mutate(request.metadata(), "DiskService/Create", |inner, caller| {
            inner.create_disk(request.get_ref(), caller)
        })
    }

    async fn update(
        &self,
        request: Request<compute::UpdateDiskRequest>,
    ) -> Result<Response<common::Operation>, Status> {
        self.mutate(request.metadata(), "DiskService/Update", |inner, caller| {
            inner.update_disk(request.get_ref(), caller)
        })
    }

    async fn delete(
        &self,
        request: Request<compute::DeleteDiskRequest>,
    ) -> Result<Response<common::Operation>, Status> {
        self.mutate(request.metadata(), "DiskService/Delete", |inner, caller| {
            inner.delete_disk(&request.get_ref().id, caller)
        })
    }

    async fn list_operations_by_parent(
        &self,
        request: Request<compute::ListOperationsByParentRequest>,
    ) -> Result<Response<common::ListOperationsResponse>, Status> {
        reply(self.state.lock().operations_of_parent(request.get_ref()))
    }
}

#[tonic::async_trait]
impl InstanceService for Api {
    async fn get(
        &self,
        request: Request<compute::GetInstanceRequest>,
    ) -> Result<Response<compute::Instance>, Status> {
        let inner = self.state.lock();
        let id = &request.get_ref().id;
        reply(required(SERVICE, "id", id).and_then(|id| {
            inner
                .instances
                .get(id)
                .and_then(|i| i.to_proto(Instant::now()))
                .ok_or_else(|| ApiError::not_found(SERVICE, id))
        }))
    }

    async fn get_by_name(
        &self,
        request: Request<common::GetByNameRequest>,
    ) -> Result<Response<compute::Instance>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            required(SERVICE, "parent_id", &request.parent_id)?;
            let name = required(SERVICE, "name", &request.name)?;
            inner
                .instances
                .values()
                .find(|i| i.meta.parent_id == request.parent_id && i.meta.name == name)
                .and_then(|i| i.to_proto(Instant::now()))
                .ok_or_else(|| ApiError::not_found(SERVICE, name))
        })())
    }

    async fn list(
        &self,
        request: Request<compute::ListInstancesRequest>,
    ) -> Result<Response<compute::ListInstancesResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            let region = inner.project_of("parent_id", &request.parent_id)?;
            let page = Page::new(SERVICE, request.page_size, &request.page_token)?;
            let now = Instant::now();
            let (page, next_page_token) = page.apply(
                from_page(&inner.instances, &page)
                    .filter(|(_, i)| i.meta.parent_id == region.project_id),
            );
            let items = page.into_iter().filter_map(|i| i.to_proto(now)).collect();
            Ok(compute::ListInstancesResponse {
                items,
                next_page_token,
            })
        })())
    }

    async fn create(
        &self,
        request: Request<compute::CreateInstanceRequest>,
    ) -> Result<Response<common::Operation>, Status> {
        self.mutate(
            request.metadata(),
            "InstanceService/Create",
            |inner, caller| inner.create_instance(request.get_ref(), caller),
        )
    }

    async fn update(
        &self,
        request: Request<compute::UpdateInstanceRequest>,
    ) -> Result<Response<common::Operation>, Status> {
        self.mutate(
            request.metadata(),
            "InstanceService/Update",
            |inner, caller| inner.update_instance(request.get_ref(), caller),
        )
    }

    async fn delete(
        &self,
        request: Request<compute::DeleteInstanceRequest>,
    ) -> Result<Response<common::Operation>, Status> {
        use InstanceState as S;
        self.mutate(
            request.metadata(),
            "InstanceService/Delete",
            |inner, caller| {
                let delay = inner.timing.delete;
                inner.transition(
                    Operation::DeleteInstance,
                    &request.get_ref().id,
                    &[
                        S::Creating,
                        S::Starting,
                        S::Running,
                        S::Stopping,
                        S::Stopped,
                        S::Error,
                        S::Updating,
                        S::Unspecified,
                    ],
                    S::Deleting,
                    delay,
                    None,
                    "delete",
                    caller,
                )
            },
        )
    }

    async fn start(
        &self,
        request: Request<compute::StartInstanceRequest>,
    ) -> Result<Response<common::Operation>, Status> {
        self.mutate(
            request.metadata(),
            "InstanceService/Start",
            |inner, caller| {
                let delay = inner.timing.start;
                inner.transition(
                    Operation::StartInstance,
                    &request.get_ref().id,
                    &[InstanceState::Stopped],
                    InstanceState::Starting,
                    delay,
                    Some(InstanceState::Running),
                    "start",
                    caller,
                )
            },
        )
    }

    async fn stop(
        &self,
        request: Request<compute::StopInstanceRequest>,
    ) -> Result<Response<common::Operation>, Status> {
        self.mutate(
            request.metadata(),
            "InstanceService/Stop",
            |inner, caller| {
                let delay = inner.timing.stop;
                inner.transition(
                    Operation::StopInstance,
                    &request.get_ref().id,
                    &[InstanceState::Running],
                    InstanceState::Stopping,
                    delay,
                    Some(InstanceState::Stopped),
                    "stop",
                    caller,
                )
            },
        )
    }

    async fn list_operations_by_parent(
        &self,
        request: Request<compute::ListOperationsByParentRequest>,
    ) -> Result<Response<common::ListOperationsResponse>, Status> {
        reply(self.state.lock().operations_of_parent(request.get_ref()))
    }
}
