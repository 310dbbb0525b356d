//! Instance lifecycle checks: create, list, idempotent create, running, tags, reboot,
//! stop/start and terminate (v1 §3.3, with waits and full mismatch lists).

use std::sync::Arc;
use std::time::Instant;

use gpucloud_core::{
    CloudClientExt, CreateInstanceAttrs, ErrorKind, Instance, LifecycleStatus, ListInstancesArgs,
    LocationsFilter, UpdateInstanceTagsArgs, validate_and_create, validate_tag_update,
};
use jiff::{SignedDuration, Timestamp};

use super::catalog::NO_SUCH_LOCATION;
use super::{Findings, Verdict, describe};
use crate::ctx::Ctx;

fn signed(d: std::time::Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

pub(crate) async fn create(ctx: Arc<Ctx>) -> Verdict {
    let mut f = Findings::default();
    let chosen = match ctx.chosen_type().await {
        Ok(chosen) => chosen,
        Err(why) => {
            ctx.state.lock().await.unusable = Some(format!("no test instance: {why}"));
            return f.fail_done(why);
        }
    };
    let attrs = match ctx.attrs_for(&chosen) {
        Ok(attrs) => attrs,
        Err(why) => {
            ctx.state.lock().await.unusable = Some(format!("no test instance: {why}"));
            return f.fail_done(why);
        }
    };
    f.note(format!(
        "type {} ({}) in {}, RefID {}",
        chosen.type_name, chosen.id, chosen.location, attrs.ref_id
    ));
    ctx.state.lock().await.attrs = Some(attrs.clone());

    let t0 = Timestamp::now() - signed(ctx.timeouts.clock_skew);
    let call_started = Instant::now();
    let created = tokio::time::timeout(
        ctx.timeouts.create_call,
        validate_and_create(&*ctx.client, &attrs),
    )
    .await;
    let instance = match created {
        Ok(Ok(instance)) => instance,
        Ok(Err(e)) => {
            ctx.state.lock().await.unusable =
                Some("no test instance: create_instance failed".to_owned());
            return f.fail_done(format!("create_instance: {}", describe(&e)));
        }
        Err(_) => {
            ctx.state.lock().await.unusable =
                Some("no test instance: create_instance timed out".to_owned());
            return f.fail_done(format!(
                "create_instance did not return within {:?}",
                ctx.timeouts.create_call
            ));
        }
    };
    ctx.register(&instance.cloud_id);
    let t1 = Timestamp::now() + signed(ctx.timeouts.clock_skew);
    f.note(format!(
        "created {} in {:.2}s",
        instance.cloud_id,
        call_started.elapsed().as_secs_f64()
    ));

    check_created(&mut f, &ctx, &attrs, &chosen.id, &instance);
    match instance.created_at {
        None => f.fail("created_at is not set"),
        Some(at) if at < t0 => f.fail(format!(
            "created_at {at} is before the create call started ({t0}, clock skew allowed)"
        )),
        Some(at) if at > t1 => f.fail(format!(
            "created_at {at} is after the create call returned ({t1}, clock skew allowed)"
        )),
        Some(_) => {}
    }
    f.expect(
        matches!(
            instance.lifecycle(),
            LifecycleStatus::Pending | LifecycleStatus::Running
        ),
        || {
            format!(
                "status after create is {} (expected pending or running)",
                instance.lifecycle()
            )
        },
    );
    f.expect(!instance.ssh_user.is_empty(), || {
        "ssh_user is not set".to_owned()
    });
    f.expect(instance.ssh_port != 0, || "ssh_port is not set".to_owned());
    if instance.name != attrs.name {
        f.note(format!(
            "name {:?} was stored as {:?}",
            attrs.name, instance.name
        ));
    }
    if instance.cloud_id.is_empty() {
        f.fail("cloud_id is empty");
        ctx.state.lock().await.unusable =
            Some("no test instance: create returned no cloud_id".to_owned());
    } else {
        ctx.update_instance(instance).await;
    }
    f.done()
}

/// The identity fields an instance must carry, compared with what was asked for.
fn check_created(
    f: &mut Findings,
    ctx: &Ctx,
    attrs: &CreateInstanceAttrs,
    type_id: &gpucloud_core::InstanceTypeId,
    instance: &Instance,
) {
    f.expect(instance.ref_id == attrs.ref_id, || {
        format!(
            "ref_id mismatch: instance has {:?}, create asked for {:?}",
            instance.ref_id, attrs.ref_id
        )
    });
    let reference = ctx.credential.identity().reference_id();
    f.expect(instance.cloud_cred_ref_id == reference, || {
        format!("cloud_cred_ref_id mismatch: instance has {:?}, the credential's reference_id is {reference:?}", instance.cloud_cred_ref_id)
    });
    f.expect(instance.location == attrs.location, || {
        format!(
            "location mismatch: instance has {:?}, create asked for {:?}",
            instance.location, attrs.location
        )
    });
    if !attrs.sub_location.is_empty() {
        f.expect(instance.sub_location == attrs.sub_location, || {
            format!(
                "sub_location mismatch: instance has {:?}, create asked for {:?}",
                instance.sub_location, attrs.sub_location
            )
        });
    }
    f.expect(instance.instance_type == attrs.instance_type, || {
        format!(
            "instance_type mismatch: instance has {:?}, create asked for {:?}",
            instance.instance_type, attrs.instance_type
        )
    });
    f.expect(&instance.instance_type_id == type_id, || {
        format!(
            "instance_type_id mismatch: instance has {:?}, the catalog entry's id is {:?}",
            instance.instance_type_id.as_str(),
            type_id.as_str()
        )
    });
    for (key, value) in &attrs.tags {
        f.expect(instance.tags.get(key) == Some(value), || {
            format!(
                "tag {key}={value} given at create is missing (instance tags {:?})",
                instance.tags
            )
        });
    }
}

/// The identity fields of a listed or fetched instance, compared with the created one.
fn check_found(
    f: &mut Findings,
    how: &str,
    created: &Instance,
    asked_ref_id: &str,
    found: &Instance,
    reference: &str,
) {
    f.expect(found.location == created.location, || {
        format!(
            "{how}: location {:?}, created with {:?}",
            found.location, created.location
        )
    });
    if found.ref_id.is_empty() {
        f.fail(format!("{how}: ref_id is empty"));
    } else if found.ref_id != asked_ref_id {
        f.fail(format!(
            "{how}: ref_id {:?}, created with {asked_ref_id:?}",
            found.ref_id
        ));
    }
    if found.cloud_cred_ref_id.is_empty() {
        f.fail(format!("{how}: cloud_cred_ref_id is empty"));
    } else if found.cloud_cred_ref_id != reference {
        f.fail(format!(
            "{how}: cloud_cred_ref_id {:?}, the credential's reference_id is {reference:?}",
            found.cloud_cred_ref_id
        ));
    }
    f.expect(found.instance_type_id == created.instance_type_id, || {
        format!(
            "{how}: instance_type_id {}, created with {}",
            found.instance_type_id, created.instance_type_id
        )
    });
}

pub(crate) async fn list(ctx: Arc<Ctx>) -> Verdict {
    let created = match ctx.instance(false).await {
        Ok(instance) => instance,
        Err(why) => return Verdict::Skip(why),
    };
    let mut f = Findings::default();
    let reference = ctx.credential.identity().reference_id();
    let id = &created.cloud_id;
    let asked = ctx
        .state
        .lock()
        .await
        .attrs
        .as_ref()
        .map(|a| a.ref_id.clone())
        .unwrap_or_default();

    let by_location = ListInstancesArgs {
        locations: LocationsFilter::only([created.location.as_str()]),
        ..Default::default()
    };
    match ctx.client.list_instances(&by_location).await {
        Ok(list) => {
            match list.iter().find(|i| &i.cloud_id == id) {
                None => f.fail(format!(
                    "list by location {} does not contain {id} ({} instances listed)",
                    created.location,
                    list.len()
                )),
                Some(found) => {
                    check_found(
                        &mut f,
                        "list by location",
                        &created,
                        &asked,
                        found,
                        reference,
                    );
                }
            }
            for other in list.iter().filter(|i| i.location != created.location) {
                f.fail(format!(
                    "list by location {} returned {} in {:?}",
                    created.location, other.cloud_id, other.location
                ));
            }
        }
        Err(e) => {
            f.fail(format!(
                "list_instances(location {}): {}",
                created.location,
                describe(&e)
            ));
        }
    }

    let by_id = ListInstancesArgs {
        instance_ids: vec![id.clone()],
        ..Default::default()
    };
    match ctx.client.list_instances(&by_id).await {
        Ok(list) => {
            match list.iter().find(|i| &i.cloud_id == id) {
                None => f.fail(format!(
                    "instance not found: list by id {id} returned {} other instance(s)",
                    list.len()
                )),
                Some(found) => {
                    check_found(&mut f, "list by id", &created, &asked, found, reference);
                }
            }
            for other in list.iter().filter(|i| &i.cloud_id != id) {
                f.fail(format!("list by id {id} also returned {}", other.cloud_id));
            }
        }
        Err(e) => {
            f.fail(format!("list_instances(id {id}): {}", describe(&e)));
        }
    }

    let elsewhere = ListInstancesArgs {
        locations: LocationsFilter::only([NO_SUCH_LOCATION]),
        ..Default::default()
    };
    match ctx.client.list_instances(&elsewhere).await {
        Ok(list) if !list.is_empty() => {
            f.fail(format!("list by a location that does not exist returned {} instance(s): the filter is ignored", list.len()));
        }
        Ok(_) => {}
        Err(e) => {
            f.fail(format!(
                "list_instances(location {NO_SUCH_LOCATION}): {}",
                describe(&e)
            ));
        }
    }

    match ctx.client.get_instance(id).await {
        Ok(found) => check_found(&mut f, "get_instance", &created, &asked, &found, reference),
        Err(e) => {
            f.fail(format!("get_instance({id}): {}", describe(&e)));
        }
    }
    f.done()
}

pub(crate) async fn idempotent_create(ctx: Arc<Ctx>) -> Verdict {
    let created = match ctx.instance(false).await {
        Ok(instance) => instance,
        Err(why) => return Verdict::Skip(why),
    };
    let Some(attrs) = ctx.state.lock().await.attrs.clone() else {
        return Verdict::Skip("the create attributes are unknown".to_owned());
    };
    let mut f = Findings::default();
    match validate_and_create(&*ctx.client, &attrs).await {
        Ok(again) => {
            ctx.register(&again.cloud_id);
            f.expect(again.cloud_id == created.cloud_id, || {
                format!(
                    "a repeated create with RefID {} returned {}, the first returned {}",
                    attrs.ref_id, again.cloud_id, created.cloud_id
                )
            });
        }
        Err(e) => {
            f.fail(format!(
                "a repeated create with the same RefID failed: {}",
                describe(&e)
            ));
        }
    }
    match ctx
        .client
        .list_instances(&ListInstancesArgs::default())
        .await
    {
        Ok(list) => {
            let same: Vec<String> = list
                .iter()
                .filter(|i| {
                    i.ref_id == attrs.ref_id && i.lifecycle() != LifecycleStatus::Terminated
                })
                .map(|i| i.cloud_id.to_string())
                .collect();
            f.expect(same.len() == 1, || {
                format!(
                    "{} live instances carry RefID {} after two creates: {}",
                    same.len(),
                    attrs.ref_id,
                    same.join(", ")
                )
            });
        }
        Err(e) => {
            f.fail(format!("list_instances(): {}", describe(&e)));
        }
    }
    f.done()
}

pub(crate) async fn running(ctx: Arc<Ctx>) -> Verdict {
    let created = match ctx.instance(false).await {
        Ok(instance) => instance,
        Err(why) => return Verdict::Skip(why),
    };
    let mut f = Findings::default();
    let started = Instant::now();
    match ctx
        .wait(
            &created.cloud_id,
            LifecycleStatus::Running,
            ctx.timeouts.pending_to_running,
        )
        .await
    {
        Ok(instance) => {
            f.note(format!(
                "running after {:.2}s",
                started.elapsed().as_secs_f64()
            ));
            f.expect(!instance.public_ip.is_empty(), || {
                "public_ip is empty although the instance is running".to_owned()
            });
            f.expect(!instance.ssh_user.is_empty(), || {
                "ssh_user is empty".to_owned()
            });
            f.expect(instance.ssh_port != 0, || "ssh_port is 0".to_owned());
            f.expect(instance.ref_id == created.ref_id, || {
                format!("ref_id changed to {:?}", instance.ref_id)
            });
            f.expect(
                instance.instance_type_id == created.instance_type_id,
                || format!("instance_type_id changed to {}", instance.instance_type_id),
            );
            let mut state = ctx.state.lock().await;
            state.running = true;
            state.instance = Some(instance);
        }
        Err(e) => {
            ctx.state.lock().await.unusable =
                Some("the test instance never reached running".to_owned());
            f.fail(format!("waiting for running: {}", describe(&e)));
        }
    }
    f.done()
}

pub(crate) async fn tags(ctx: Arc<Ctx>) -> Verdict {
    let Ok(tags) = ctx.client.tags() else {
        return Verdict::Skip("capability tags not declared".to_owned());
    };
    let instance = match ctx.instance(false).await {
        Ok(instance) => instance,
        Err(why) => return Verdict::Skip(why),
    };
    let mut f = Findings::default();
    let key = "conformance-tags";
    let value = format!("checked-{}", ctx.run_id);
    let mut wanted = instance.tags.clone();
    wanted.insert(key.to_owned(), value.clone());
    let args = UpdateInstanceTagsArgs {
        instance_id: instance.cloud_id.clone(),
        tags: wanted.clone(),
    };
    let args = match validate_tag_update(&args) {
        Ok(args) => args,
        Err(e) => return f.fail_done(format!("the suite's tag update: {}", describe(&e))),
    };
    if let Err(e) = tags.update_instance_tags(&args).await {
        let declared = if e.kind() == ErrorKind::NotImplemented {
            " although the capability is declared"
        } else {
            ""
        };
        return f.fail_done(format!("update_instance_tags{declared}: {}", describe(&e)));
    }
    match ctx.client.get_instance(&instance.cloud_id).await {
        Ok(read) => {
            for (k, v) in &wanted {
                f.expect(read.tags.get(k) == Some(v), || {
                    format!("tag {k}={v} not read back (instance tags {:?})", read.tags)
                });
            }
        }
        Err(e) => {
            f.fail(format!(
                "get_instance after update_instance_tags: {}",
                describe(&e)
            ));
        }
    }
    let matching = ListInstancesArgs {
        tag_filters: [(key.to_owned(), vec![value.clone()])].into(),
        ..Default::default()
    };
    match ctx.client.list_instances(&matching).await {
        Ok(list) => {
            f.expect(list.iter().any(|i| i.cloud_id == instance.cloud_id), || {
                format!(
                    "list by tag {key}={value} does not return {}",
                    instance.cloud_id
                )
            });
            for other in list.iter().filter(|i| !matching.matches(i)) {
                f.fail(format!(
                    "list by tag {key}={value} returned {} without that tag",
                    other.cloud_id
                ));
            }
        }
        Err(e) => {
            f.fail(format!(
                "list_instances(tag {key}={value}): {}",
                describe(&e)
            ));
        }
    }
    let other = ListInstancesArgs {
        tag_filters: [(key.to_owned(), vec!["some-other-value".to_owned()])].into(),
        ..Default::default()
    };
    match ctx.client.list_instances(&other).await {
        Ok(list) => f.expect(
            !list.iter().any(|i| i.cloud_id == instance.cloud_id),
            || {
                format!(
                    "list by tag {key}=some-other-value returns {} whose value is {value}",
                    instance.cloud_id
                )
            },
        ),
        Err(e) => {
            f.fail(format!(
                "list_instances(tag {key}=some-other-value): {}",
                describe(&e)
            ));
        }
    }
    f.done()
}

/// After a reboot or a start: SSH answers again (reachable targets only).
async fn ssh_again(ctx: &Ctx, f: &mut Findings, instance: &Instance, after: &str) {
    if !ctx.reachable {
        return;
    }
    let key = match ctx.key() {
        Ok(key) => key,
        Err(why) => {
            f.fail(why);
            return;
        }
    };
    match crate::ssh::wait_for_ssh(
        key,
        &instance.ssh_user,
        &instance.public_ip,
        instance.ssh_port,
        ctx.timeouts.running_ssh,
    )
    .await
    {
        Ok(session) => session.close().await,
        Err(why) => {
            f.fail(format!("after {after}: {why}"));
        }
    }
}

pub(crate) async fn reboot(ctx: Arc<Ctx>) -> Verdict {
    let Ok(reboot) = ctx.client.reboot() else {
        return Verdict::Skip("capability reboot-instance not declared".to_owned());
    };
    let instance = match ctx.instance(true).await {
        Ok(instance) => instance,
        Err(why) => return Verdict::Skip(why),
    };
    if !instance.rebootable {
        // The suite picks a rebootable type when the capability is declared (Ctx::choose_type).
        return Findings::default().fail_done(format!(
            "capability reboot-instance is declared, but the test instance (type {}) reports \
             rebootable = false",
            instance.instance_type
        ));
    }
    let mut f = Findings::default();
    if let Err(e) = reboot.reboot_instance(&instance.cloud_id).await {
        let declared = if e.kind() == ErrorKind::NotImplemented {
            " although the capability is declared"
        } else {
            ""
        };
        return f.fail_done(format!("reboot_instance{declared}: {}", describe(&e)));
    }
    match ctx
        .wait(
            &instance.cloud_id,
            LifecycleStatus::Running,
            ctx.timeouts.pending_to_running,
        )
        .await
    {
        Ok(after) => {
            ssh_again(&ctx, &mut f, &after, "reboot").await;
            ctx.update_instance(after).await;
        }
        Err(e) => {
            f.fail(format!(
                "waiting for running after reboot: {}",
                describe(&e)
            ));
        }
    }
    f.done()
}

pub(crate) async fn stop_start(ctx: Arc<Ctx>) -> Verdict {
    let Ok(stop_start) = ctx.client.stop_start() else {
        return Verdict::Skip("capability stop-start-instance not declared".to_owned());
    };
    let instance = match ctx.instance(true).await {
        Ok(instance) => instance,
        Err(why) => return Verdict::Skip(why),
    };
    if !instance.stoppable {
        // The suite picks a stoppable type when the capability is declared (Ctx::choose_type).
        return Findings::default().fail_done(format!(
            "capability stop-start-instance is declared, but the test instance (type {}) \
             reports stoppable = false",
            instance.instance_type
        ));
    }
    let mut f = Findings::default();
    let id = &instance.cloud_id;
    if let Err(e) = stop_start.stop_instance(id).await {
        let declared = if e.kind() == ErrorKind::NotImplemented {
            " although the capability is declared"
        } else {
            ""
        };
        return f.fail_done(format!("stop_instance{declared}: {}", describe(&e)));
    }
    if let Err(e) = ctx
        .wait(
            id,
            LifecycleStatus::Stopped,
            ctx.timeouts.running_to_stopped,
        )
        .await
    {
        return f.fail_done(format!("waiting for stopped: {}", describe(&e)));
    }
    if let Err(e) = stop_start.start_instance(id).await {
        let declared = if e.kind() == ErrorKind::NotImplemented {
            " although the capability is declared"
        } else {
            ""
        };
        return f.fail_done(format!("start_instance{declared}: {}", describe(&e)));
    }
    match ctx
        .wait(
            id,
            LifecycleStatus::Running,
            ctx.timeouts.stopped_to_running,
        )
        .await
    {
        Ok(after) => {
            f.expect(!after.public_ip.is_empty(), || {
                "public_ip is empty after start".to_owned()
            });
            ssh_again(&ctx, &mut f, &after, "stop and start").await;
            ctx.update_instance(after).await;
        }
        Err(e) => {
            f.fail(format!("waiting for running after start: {}", describe(&e)));
        }
    }
    f.done()
}

pub(crate) async fn terminate(ctx: Arc<Ctx>) -> Verdict {
    let instance = match ctx.instance(false).await {
        Ok(instance) => instance,
        Err(why) => return Verdict::Skip(why),
    };
    let mut f = Findings::default();
    let id = &instance.cloud_id;
    if let Err(e) = ctx.client.terminate_instance(id).await {
        return f.fail_done(format!("terminate_instance: {}", describe(&e)));
    }
    let started = Instant::now();
    if let Err(e) = ctx
        .wait(
            id,
            LifecycleStatus::Terminated,
            ctx.timeouts.running_to_terminated,
        )
        .await
    {
        return f.fail_done(format!("waiting for terminated: {}", describe(&e)));
    }
    ctx.state.lock().await.terminated = true;
    f.note(format!(
        "terminated after {:.2}s",
        started.elapsed().as_secs_f64()
    ));
    if let Err(e) = ctx.client.terminate_instance(id).await {
        f.fail(format!(
            "terminating an already terminated instance failed: {}",
            describe(&e)
        ));
    }
    // The instance must become unknown; some providers show it as terminated for a while.
    let deadline = tokio::time::Instant::now() + ctx.timeouts.running_to_terminated;
    let poll = ctx
        .timeouts
        .poll_interval
        .unwrap_or_else(|| ctx.client.instance_poll_time());
    loop {
        match ctx.client.get_instance(id).await {
            Err(e) if e.is_not_found() => break,
            Err(e) => {
                f.fail(format!(
                    "get_instance after terminate: expected a not-found error, got {}",
                    describe(&e)
                ));
                break;
            }
            Ok(seen) if tokio::time::Instant::now() + poll > deadline => {
                f.fail(format!(
                    "get_instance still returns {id} (status {}) {:?} after it terminated; expected a not-found error",
                    seen.lifecycle(),
                    ctx.timeouts.running_to_terminated
                ));
                break;
            }
            Ok(_) => tokio::time::sleep(poll).await,
        }
    }
    f.done()
}
