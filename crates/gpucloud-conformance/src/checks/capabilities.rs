//! Truthful capabilities (declared ⇒ answers, undeclared ⇒ NotImplemented), create parameters
//! that cannot be honoured are refused, and the update merge keeps identity fields.

use std::sync::Arc;

use base64::Engine as _;
use gpucloud_core::{
    AddFirewallRulesToInstanceArgs, Bytes, BytesUnit, Capabilities, Capability, CloudClient,
    CloudClientExt, CloudError, CreateFeatures, CreateInstanceAttrs, Disk, ErrorKind, FirewallRule,
    GetImageArgs, GetInstanceTypeArgs, GetInstanceTypeQuotasArgs, Instance, InstanceId,
    InstanceType, InstanceTypeId, LifecycleStatus, ResizeInstanceVolumeArgs, ResourceId,
    RevokeSecurityGroupRuleArgs, Status, Tags, UpdateInstanceTagsArgs, validate_and_create,
    validate_firewall_add, validate_firewall_revoke, validate_tag_update,
};

use super::{Findings, Verdict, describe};
use crate::ctx::Ctx;

pub(crate) async fn merge_for_update(ctx: Arc<Ctx>) -> Verdict {
    let mut f = Findings::default();
    let current = Instance {
        name: "conformance-current".into(),
        ref_id: "ref-current".into(),
        location: "location-current".into(),
        sub_location: "zone-current".into(),
        cloud_cred_ref_id: "cred-current".into(),
        spot: true,
        cloud_id: InstanceId::new("id-current"),
        instance_type: "type-current".into(),
        instance_type_id: InstanceTypeId::generic(
            "location-current",
            Some("zone-current"),
            "type-current",
        ),
        volume_type: "ssd".into(),
        public_ip: "192.0.2.1".into(),
        status: Status::new(LifecycleStatus::Running),
        ..Instance::default()
    };
    let fresh = Instance {
        name: "renamed-by-provider".into(),
        ref_id: String::new(),
        location: "location-fresh".into(),
        sub_location: String::new(),
        cloud_cred_ref_id: String::new(),
        spot: false,
        cloud_id: InstanceId::new("id-current"),
        instance_type: "type-fresh".into(),
        instance_type_id: InstanceTypeId::new("type-id-fresh"),
        volume_type: "hdd".into(),
        public_ip: "192.0.2.2".into(),
        status: Status::new(LifecycleStatus::Stopped),
        ..Instance::default()
    };
    let merged = ctx
        .client
        .merge_instance_for_update(&current, fresh.clone());
    let kept: [(&str, String, String); 9] = [
        ("name", merged.name.clone(), current.name.clone()),
        ("ref_id", merged.ref_id.clone(), current.ref_id.clone()),
        (
            "location",
            merged.location.clone(),
            current.location.clone(),
        ),
        (
            "sub_location",
            merged.sub_location.clone(),
            current.sub_location.clone(),
        ),
        (
            "cloud_cred_ref_id",
            merged.cloud_cred_ref_id.clone(),
            current.cloud_cred_ref_id.clone(),
        ),
        ("spot", merged.spot.to_string(), current.spot.to_string()),
        (
            "instance_type",
            merged.instance_type.clone(),
            current.instance_type.clone(),
        ),
        (
            "instance_type_id",
            merged.instance_type_id.to_string(),
            current.instance_type_id.to_string(),
        ),
        (
            "volume_type",
            merged.volume_type.clone(),
            current.volume_type.clone(),
        ),
    ];
    for (field, got, want) in kept {
        f.expect(got == want, || {
            format!("merge_instance_for_update lost {field}: got {got:?}, stored {want:?}")
        });
    }
    f.expect(merged.public_ip == fresh.public_ip, || {
        format!(
            "merge_instance_for_update dropped the fresh public_ip ({:?} instead of {:?})",
            merged.public_ip, fresh.public_ip
        )
    });
    f.expect(merged.lifecycle() == fresh.lifecycle(), || {
        format!(
            "merge_instance_for_update dropped the fresh status ({} instead of {})",
            merged.lifecycle(),
            fresh.lifecycle()
        )
    });

    // Fields the stored record lacks come from the fresh one.
    let sparse = Instance {
        instance_type: String::new(),
        instance_type_id: InstanceTypeId::default(),
        volume_type: String::new(),
        ..current.clone()
    };
    let merged = ctx.client.merge_instance_for_update(&sparse, fresh.clone());
    f.expect(merged.instance_type == fresh.instance_type, || {
        format!(
            "merge_instance_for_update did not fill the empty instance_type (got {:?})",
            merged.instance_type
        )
    });
    f.expect(merged.instance_type_id == fresh.instance_type_id, || {
        format!(
            "merge_instance_for_update did not fill the empty instance_type_id (got {:?})",
            merged.instance_type_id.as_str()
        )
    });
    f.expect(merged.volume_type == fresh.volume_type, || {
        format!(
            "merge_instance_for_update did not fill the empty volume_type (got {:?})",
            merged.volume_type
        )
    });

    let stored = InstanceType {
        id: InstanceTypeId::new("stored-id"),
        type_name: "t".into(),
        vcpu: 4,
        ..InstanceType::default()
    };
    let fresh_type = InstanceType {
        id: InstanceTypeId::new("fresh-id"),
        type_name: "t".into(),
        vcpu: 8,
        ..InstanceType::default()
    };
    let merged = ctx
        .client
        .merge_instance_type_for_update(&stored, fresh_type);
    f.expect(merged.id == stored.id, || {
        format!(
            "merge_instance_type_for_update lost the stored id (got {})",
            merged.id
        )
    });
    f.expect(merged.vcpu == 8, || {
        format!(
            "merge_instance_type_for_update dropped fresh data (vcpu {})",
            merged.vcpu
        )
    });
    f.done()
}

/// `error` says that `capability`, or the operation called, is not implemented.
fn is_not_implemented(error: &CloudError, capability: Capability) -> bool {
    matches!(error, CloudError::NotImplemented { capability: c, .. } if *c == capability)
        || error.kind() == ErrorKind::NotImplemented
}

/// An instance id no provider has: every call on it must fail as not found (or any other
/// error), and none of them can change anything.
const NO_SUCH_INSTANCE: &str = "gpucloud-conformance-no-such-instance";

/// A resource id no provider has, for VPC and cluster lookups.
const NO_SUCH_RESOURCE: &str = "gpucloud-conformance-no-such-resource";

/// What one harmless call of a capability's operation returned.
struct Probe {
    capability: Capability,
    operation: &'static str,
    /// `None` when it did not answer within the API-call deadline.
    answer: Option<std::result::Result<(), CloudError>>,
}

/// Calls every operation of every declared capability with a request that cannot change
/// anything (an id that does not exist, or a read), each under the API-call deadline.
async fn probes(ctx: &Ctx, quota_type: Option<String>) -> Vec<Probe> {
    let client = ctx.client.as_ref();
    let id = InstanceId::new(NO_SUCH_INSTANCE);
    let resource = ResourceId::new(NO_SUCH_RESOURCE);
    let deadline = ctx.timeouts.api_call;
    let mut out = Vec::new();
    macro_rules! call {
        ($capability:expr, $operation:literal, $call:expr) => {
            out.push(Probe {
                capability: $capability,
                operation: $operation,
                answer: tokio::time::timeout(deadline, $call)
                    .await
                    .ok()
                    .map(|result| result.map(drop)),
            })
        };
    }
    if let Ok(stop_start) = client.stop_start() {
        call!(
            Capability::StopStartInstance,
            "stop_instance",
            stop_start.stop_instance(&id)
        );
        call!(
            Capability::StopStartInstance,
            "start_instance",
            stop_start.start_instance(&id)
        );
    }
    if let Ok(reboot) = client.reboot() {
        call!(
            Capability::RebootInstance,
            "reboot_instance",
            reboot.reboot_instance(&id)
        );
    }
    if let Ok(resize) = client.resize_volume() {
        let args = ResizeInstanceVolumeArgs {
            instance_id: id.clone(),
            size_bytes: Bytes::new(1, BytesUnit::TB),
            wait_for_optimizing: false,
        };
        call!(
            Capability::ResizeInstanceVolume,
            "resize_instance_volume",
            resize.resize_instance_volume(&args)
        );
    }
    if let Ok(images) = client.machine_image() {
        call!(
            Capability::MachineImage,
            "images",
            images.images(&GetImageArgs::default())
        );
    }
    if let Ok(change) = client.change_instance_type() {
        call!(
            Capability::ChangeInstanceType,
            "change_instance_type",
            change.change_instance_type(&id, "gpucloud-conformance-type")
        );
    }
    if let Ok(firewall) = client.modify_firewall() {
        let mut add = AddFirewallRulesToInstanceArgs {
            instance_id: id.clone(),
            ..AddFirewallRulesToInstanceArgs::default()
        };
        add.firewall_rules
            .ingress_rules
            .push(FirewallRule::port(ctx.options.closed_port));
        // The suite's own arguments are valid; validation only makes them the type the call takes.
        if let Ok(add) = validate_firewall_add(&add, &client.create_features()) {
            call!(
                Capability::ModifyFirewall,
                "add_firewall_rules",
                firewall.add_firewall_rules(&add)
            );
        }
        let revoke = RevokeSecurityGroupRuleArgs {
            instance_id: id.clone(),
            security_group_rule_ids: vec!["gpucloud-conformance-no-such-rule".to_owned()],
        };
        // The suite's own arguments are valid; validation only makes them the type the call takes.
        if let Ok(revoke) = validate_firewall_revoke(&revoke) {
            call!(
                Capability::ModifyFirewall,
                "revoke_firewall_rules",
                firewall.revoke_firewall_rules(&revoke)
            );
        }
    }
    if let Ok(tags) = client.tags() {
        let args = UpdateInstanceTagsArgs {
            instance_id: id.clone(),
            tags: Tags::from([("conformance-probe".to_owned(), "1".to_owned())]),
        };
        // The suite's own arguments are valid; validation only makes them the type the call takes.
        if let Ok(args) = validate_tag_update(&args) {
            call!(
                Capability::Tags,
                "update_instance_tags",
                tags.update_instance_tags(&args)
            );
        }
    }
    if let (Ok(quota), Some(instance_type)) = (client.quota(), quota_type) {
        let args = GetInstanceTypeQuotasArgs { instance_type };
        call!(
            Capability::Quota,
            "instance_type_quota",
            quota.instance_type_quota(&args)
        );
    }
    if let Ok(vpc) = client.vpc() {
        call!(Capability::Vpc, "get_vpc", vpc.get_vpc(&resource));
    }
    if let Ok(kubernetes) = client.kubernetes() {
        call!(
            Capability::ManagedKubernetes,
            "get_cluster",
            kubernetes.get_cluster(&resource)
        );
    }
    out
}

/// The optional capabilities and whether the client hands out their trait.
fn table(client: &dyn CloudClient) -> [(Capability, std::result::Result<(), CloudError>); 10] {
    [
        (Capability::StopStartInstance, client.stop_start().map(drop)),
        (Capability::RebootInstance, client.reboot().map(drop)),
        (
            Capability::ResizeInstanceVolume,
            client.resize_volume().map(drop),
        ),
        (Capability::MachineImage, client.machine_image().map(drop)),
        (
            Capability::ChangeInstanceType,
            client.change_instance_type().map(drop),
        ),
        (
            Capability::ModifyFirewall,
            client.modify_firewall().map(drop),
        ),
        (Capability::Tags, client.tags().map(drop)),
        (Capability::Quota, client.quota().map(drop)),
        (Capability::Vpc, client.vpc().map(drop)),
        (Capability::ManagedKubernetes, client.kubernetes().map(drop)),
    ]
}

/// The catalog and the client agree: an instance type that reports itself stoppable or
/// rebootable needs the client to declare that capability, or no caller can use it.
async fn agrees_with_catalog(ctx: &Ctx, declared: &Capabilities, f: &mut Findings) {
    let listed = tokio::time::timeout(
        ctx.timeouts.api_call,
        ctx.client.instance_types(&GetInstanceTypeArgs::default()),
    )
    .await;
    let types = match listed {
        Ok(Ok(types)) => types,
        Ok(Err(e)) => {
            f.fail(format!("instance_types(): {}", describe(&e)));
            return;
        }
        Err(_) => {
            f.fail(format!(
                "instance_types() did not return within {:?}",
                ctx.timeouts.api_call
            ));
            return;
        }
    };
    for (capability, claims, what) in [
        (
            Capability::StopStartInstance,
            types.iter().filter(|t| t.stoppable).count(),
            "stoppable",
        ),
        (
            Capability::RebootInstance,
            types.iter().filter(|t| t.rebootable).count(),
            "rebootable",
        ),
    ] {
        f.expect(claims == 0 || declared.contains(capability), || {
            format!("{claims} instance type(s) report {what} = true but the client does not declare {capability}")
        });
    }
}

/// Declared capabilities answer: each operation of each one, called with a harmless request,
/// may fail (not found, invalid argument, ...) but never with `NotImplemented`. Undeclared ones
/// answer `NotImplemented` from their accessor.
pub(crate) async fn capabilities(ctx: Arc<Ctx>) -> Verdict {
    let mut f = Findings::default();
    let client = ctx.client.as_ref();
    let declared = client.capabilities();
    for base in [
        Capability::CreateInstance,
        Capability::TerminateInstance,
        Capability::CreateTerminateInstance,
    ] {
        f.expect(declared.contains(base), || {
            format!("capability {base} is missing")
        });
    }
    for (capability, handed_out) in table(client) {
        if let Err(e) = handed_out {
            f.expect(!declared.contains(capability), || {
                format!(
                    "capability {capability} is declared but its accessor fails: {}",
                    describe(&e)
                )
            });
            f.expect(is_not_implemented(&e, capability), || {
                format!(
                    "undeclared capability {capability} fails with {} instead of NotImplemented",
                    describe(&e)
                )
            });
        }
    }
    let quota_type = if client.quota().is_ok() {
        match ctx.chosen_type().await {
            Ok(chosen) => Some(chosen.type_name.into_string()),
            Err(why) => {
                f.note(format!("quota not probed: {why}"));
                None
            }
        }
    } else {
        None
    };
    agrees_with_catalog(&ctx, &declared, &mut f).await;
    let probed = probes(&ctx, quota_type).await;
    // Reads of a declared capability must succeed; the others act on a missing instance or
    // resource, so any answer but NotImplemented is one a real implementation could give.
    let reads = ["images", "instance_type_quota"];
    for Probe {
        capability,
        operation,
        answer,
    } in &probed
    {
        match answer {
            None => f.fail(format!(
                "capability {capability} is declared but {operation} did not answer within {:?}",
                ctx.timeouts.api_call
            )),
            Some(Err(e)) if is_not_implemented(e, *capability) => f.fail(format!(
                "capability {capability} is declared but {operation} answers not implemented: {}",
                describe(e)
            )),
            Some(Err(e)) if reads.contains(operation) => f.fail(format!(
                "capability {capability} is declared but {operation}() fails: {}",
                describe(e)
            )),
            Some(Err(e)) => f.note(format!(
                "{operation} on a missing resource: {}",
                describe(e)
            )),
            Some(Ok(())) => {}
        }
    }
    f.note(format!("{} capability operations probed", probed.len()));
    f.done()
}

/// One create parameter the client does not honour, set on otherwise valid attributes.
pub(crate) struct Unhonoured {
    field: &'static str,
    apply: fn(&mut CreateInstanceAttrs),
}

/// The create parameters a client with `features` does not honour, each as a change to valid
/// attributes.
pub(crate) fn unhonoured(features: CreateFeatures) -> Vec<Unhonoured> {
    let mut cases: Vec<Unhonoured> = Vec::new();
    if !features.user_data {
        cases.push(Unhonoured {
            field: "user_data",
            apply: |a| {
                a.user_data_base64 =
                    base64::engine::general_purpose::STANDARD.encode("#!/bin/sh\ntrue\n");
            },
        });
    }
    if !features.tags {
        cases.push(Unhonoured {
            field: "tags",
            apply: |a| {
                a.tags
                    .insert("conformance-refused".into(), "refused".into());
            },
        });
    }
    if !features.firewall_rules {
        cases.push(Unhonoured {
            field: "firewall_rules",
            apply: |a| {
                a.firewall_rules
                    .ingress_rules
                    .push(FirewallRule::port(9999));
            },
        });
    }
    if !features.image {
        cases.push(Unhonoured {
            field: "image",
            apply: |a| a.image_id = "gpucloud-conformance-image".into(),
        });
    }
    if !features.sub_location {
        cases.push(Unhonoured {
            field: "sub_location",
            apply: |a| a.sub_location = "gpucloud-conformance-zone".into(),
        });
    }
    if !features.disk_size {
        cases.push(Unhonoured {
            field: "disk_size",
            apply: |a| a.disk_size_bytes = Bytes::new(100, BytesUnit::GB),
        });
    }
    if !features.spot {
        cases.push(Unhonoured {
            field: "spot",
            apply: |a| a.use_spot = true,
        });
    }
    if !features.vpc {
        cases.push(Unhonoured {
            field: "vpc",
            apply: |a| a.vpc_id = "gpucloud-conformance-vpc".into(),
        });
    }
    if !features.additional_disks {
        cases.push(Unhonoured {
            field: "additional_disks",
            apply: |a| {
                a.additional_disks.push(Disk {
                    size_bytes: Bytes::new(10, BytesUnit::GB),
                    ..Disk::default()
                });
            },
        });
    }
    if !features.persistent_ip {
        cases.push(Unhonoured {
            field: "persistent_ip",
            apply: |a| a.use_persistent_ip = true,
        });
    }
    if !features.multi_attach_volume {
        cases.push(Unhonoured {
            field: "multi_attach_volume",
            apply: |a| a.use_multi_attach_volume = true,
        });
    }
    if !features.env_vars {
        cases.push(Unhonoured {
            field: "env_vars",
            apply: |a| {
                a.additional_env_vars
                    .insert("CONFORMANCE".into(), "1".into());
            },
        });
    }
    if !features.retire_timeout {
        cases.push(Unhonoured {
            field: "retire_timeout",
            apply: |a| a.retire_timeout = Some(std::time::Duration::from_secs(3600)),
        });
    }
    cases
}

pub(crate) async fn create_features(ctx: Arc<Ctx>) -> Verdict {
    let cases = unhonoured(ctx.client.create_features());
    let mut f = Findings::default();
    let chosen = match ctx.chosen_type().await {
        Ok(chosen) => chosen,
        Err(why) => return f.fail_done(why),
    };
    for case in cases {
        let mut attrs = match ctx.attrs_for(&chosen) {
            Ok(attrs) => attrs,
            Err(why) => return f.fail_done(why),
        };
        (case.apply)(&mut attrs);
        match tokio::time::timeout(
            ctx.timeouts.create_call,
            validate_and_create(&*ctx.client, &attrs),
        )
        .await
        {
            Ok(Ok(instance)) => {
                ctx.register(&instance.cloud_id);
                f.fail(format!(
                    "create with {} was accepted although the client does not honour it (instance {} created; cleanup terminates it)",
                    case.field, instance.cloud_id
                ));
            }
            Ok(Err(CloudError::InvalidArgument { field, problem })) => {
                f.expect(field.contains(case.field), || {
                    format!("create with {} was refused, but the error names field {field:?} ({problem})", case.field)
                });
            }
            Ok(Err(e)) if e.kind() == ErrorKind::NotImplemented => {}
            Ok(Err(e)) => {
                f.fail(format!(
                    "create with {} should be refused as an invalid argument before any request, got {}",
                    case.field,
                    describe(&e)
                ));
            }
            Err(_) => {
                f.fail(format!(
                    "create with {} did not return within {:?}",
                    case.field, ctx.timeouts.create_call
                ));
            }
        }
    }
    f.done()
}
