//! Truthful capabilities (declared ⇒ works, undeclared ⇒ NotImplemented), create parameters
//! that cannot be honoured are refused, and the update merge keeps identity fields.

use std::sync::Arc;

use base64::Engine as _;
use gpucloud_core::{
    Bytes, BytesUnit, Capability, CloudClientExt, CloudError, CreateInstanceAttrs, Disk, ErrorKind,
    FirewallRule, GetImageArgs, GetInstanceTypeQuotasArgs, Instance, InstanceId, InstanceType,
    InstanceTypeId, LifecycleStatus, Status, validate_and_create,
};

use super::{Findings, Verdict, describe};
use crate::suite::Ctx;

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

/// `error` is the `NotImplemented` error of `capability`.
fn is_not_implemented(error: &CloudError, capability: Capability) -> bool {
    matches!(error, CloudError::NotImplemented { capability: c, .. } if *c == capability)
}

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
    let accessors: [(Capability, Option<CloudError>); 10] = [
        (Capability::StopStartInstance, client.stop_start().err()),
        (Capability::RebootInstance, client.reboot().err()),
        (
            Capability::ResizeInstanceVolume,
            client.resize_volume().err(),
        ),
        (Capability::MachineImage, client.machine_image().err()),
        (
            Capability::ChangeInstanceType,
            client.change_instance_type().err(),
        ),
        (Capability::ModifyFirewall, client.modify_firewall().err()),
        (Capability::Tags, client.tags().err()),
        (Capability::Quota, client.quota().err()),
        (Capability::Vpc, client.vpc().err()),
        (Capability::ManagedKubernetes, client.kubernetes().err()),
    ];
    for (capability, error) in accessors {
        match (declared.contains(capability), error) {
            (true, None) => {}
            (true, Some(e)) => f.fail(format!(
                "capability {capability} is declared but its accessor fails: {}",
                describe(&e)
            )),
            (false, None) => f.fail(format!(
                "capability {capability} is not declared but its accessor works"
            )),
            (false, Some(e)) => {
                f.expect(is_not_implemented(&e, capability), || {
                    format!("undeclared capability {capability} fails with {} instead of NotImplemented", describe(&e))
                });
                f.expect(e.kind() == ErrorKind::NotImplemented, || {
                    format!("undeclared capability {capability}: error kind {:?}, expected NotImplemented", e.kind())
                });
            }
        }
    }
    f.expect(
        declared.contains(Capability::CreateIdempotentInstance)
            == client.create_features().idempotent,
        || "create-instance-idempotent disagrees with create_features().idempotent".to_owned(),
    );
    f.expect(
        declared.contains(Capability::InstanceUserData) == client.create_features().user_data,
        || "instance-userdata disagrees with create_features().user_data".to_owned(),
    );

    // Declared capabilities with read-only calls are exercised here; the others by their checks.
    if let Ok(images) = client.machine_image()
        && let Err(e) = images.images(&GetImageArgs::default()).await
    {
        f.fail(format!(
            "machine-image is declared but images() fails: {}",
            describe(&e)
        ));
    }
    if let Ok(quota) = client.quota() {
        match ctx.chosen_type().await {
            Ok(chosen) => {
                let args = GetInstanceTypeQuotasArgs {
                    instance_type: chosen.type_name.clone(),
                };
                if let Err(e) = quota.instance_type_quota(&args).await {
                    f.fail(format!(
                        "quota is declared but instance_type_quota({}) fails: {}",
                        chosen.type_name,
                        describe(&e)
                    ));
                }
            }
            Err(why) => {
                f.note(format!("quota not exercised: {why}"));
            }
        }
    }
    for (capability, present) in [
        (
            Capability::ResizeInstanceVolume,
            client.resize_volume().is_ok(),
        ),
        (
            Capability::ChangeInstanceType,
            client.change_instance_type().is_ok(),
        ),
        (Capability::Vpc, client.vpc().is_ok()),
        (Capability::ManagedKubernetes, client.kubernetes().is_ok()),
    ] {
        if present {
            f.note(format!(
                "{capability} is declared; this suite does not exercise it"
            ));
        }
    }
    f.done()
}

/// One create parameter the client does not honour, set on otherwise valid attributes.
struct Unhonoured {
    field: &'static str,
    apply: fn(&mut CreateInstanceAttrs),
}

pub(crate) async fn create_features(ctx: Arc<Ctx>) -> Verdict {
    let features = ctx.client.create_features();
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
    if cases.is_empty() {
        return Verdict::Skip("the client honours every create parameter".to_owned());
    }
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
