//! The behaviours core documents for every provider: the host name from the instance name,
//! adding a rule that is already in place, and egress (see `gpucloud_core::hostname` and
//! `gpucloud_core::model::firewall`).

use std::collections::BTreeSet;
use std::sync::Arc;

use gpucloud_core::hostname::instance_hostname;
use gpucloud_core::{
    AddFirewallRulesToInstanceArgs, CloudClientExt, CloudError, ErrorKind, FirewallRule,
    FirewallRules, InstanceId, Protocol, RevokeSecurityGroupRuleArgs, validate_create,
    validate_firewall_add, validate_firewall_revoke,
};

use super::{Findings, Verdict, describe};
use crate::ctx::Ctx;

/// Source of the rule the duplicate check adds: documentation space, so it opens nothing real
/// and no other check's rule covers it.
const DUPLICATE_SOURCE: &str = "198.51.100.0/24";

/// The instance reports the host name core derives from its name and RefID.
pub(crate) async fn hostname(ctx: Arc<Ctx>) -> Verdict {
    let instance = match ctx.instance(true).await {
        Ok(instance) => instance,
        Err(why) => return Verdict::Skip(why),
    };
    let Some(attrs) = ctx.state.lock().await.attrs.clone() else {
        return Verdict::Skip("the create attributes are unknown".to_owned());
    };
    let mut f = Findings::default();
    let seen = match ctx.client.get_instance(&instance.cloud_id).await {
        Ok(seen) => seen,
        Err(e) => return f.fail_done(format!("get_instance: {}", describe(&e))),
    };
    if seen.hostname.is_empty() {
        return f.fail_done(
            "hostname is empty: a provider whose API names no host reports \
             instance_hostname(name, ref_id) from core"
                .to_owned(),
        );
    }
    let expected = instance_hostname(&attrs.name, &attrs.ref_id);
    f.expect(seen.hostname == expected, || {
        format!(
            "hostname is {:?}; the core rule (gpucloud_core::hostname::instance_hostname) gives {expected:?} for name {:?}",
            seen.hostname, attrs.name
        )
    });
    f.done()
}

/// The ingress rules of an instance as (id, rule) pairs, for comparing before and after.
async fn ingress(ctx: &Ctx, id: &InstanceId) -> Result<BTreeSet<(String, String)>, CloudError> {
    let seen = ctx.client.get_instance(id).await?;
    Ok(seen
        .firewall_rules
        .ingress_rules
        .iter()
        .map(|r| (r.id.clone(), format!("{r:?}")))
        .collect())
}

/// Adding a rule that is already in place succeeds and changes nothing, also when the request
/// repeats it.
pub(crate) async fn duplicate_rule(ctx: Arc<Ctx>) -> Verdict {
    let Ok(firewall) = ctx.client.modify_firewall() else {
        return Verdict::Skip("capability modify-firewall not declared".to_owned());
    };
    let instance = match ctx.instance(true).await {
        Ok(instance) => instance,
        Err(why) => return Verdict::Skip(why),
    };
    let mut f = Findings::default();
    let id = instance.cloud_id.clone();
    let rule = FirewallRule {
        protocol: Some(Protocol::Tcp),
        ..FirewallRule::range(
            ctx.options.closed_port,
            ctx.options.closed_port,
            vec![DUPLICATE_SOURCE.to_owned()],
        )
    };
    let features = ctx.client.create_features();
    let request = |rules: Vec<FirewallRule>| {
        validate_firewall_add(
            &AddFirewallRulesToInstanceArgs {
                instance_id: id.clone(),
                firewall_rules: FirewallRules {
                    ingress_rules: rules,
                    egress_rules: Vec::new(),
                },
            },
            &features,
        )
    };
    let (once, twice) = match (
        request(vec![rule.clone()]),
        request(vec![rule.clone(), rule]),
    ) {
        (Ok(once), Ok(twice)) => (once, twice),
        (Err(e), _) | (_, Err(e)) => {
            return f.fail_done(format!("the suite's rule: {}", describe(&e)));
        }
    };
    let before = match ingress(&ctx, &id).await {
        Ok(rules) => rules,
        Err(e) => return f.fail_done(format!("get_instance: {}", describe(&e))),
    };
    if let Err(e) = firewall.add_firewall_rules(&once).await {
        return f.fail_done(format!("add_firewall_rules: {}", describe(&e)));
    }
    let after_first = match ingress(&ctx, &id).await {
        Ok(rules) => rules,
        Err(e) => {
            return f.fail_done(format!(
                "get_instance after the first add: {}",
                describe(&e)
            ));
        }
    };
    let added: Vec<String> = after_first
        .difference(&before)
        .map(|(rule_id, _)| rule_id.clone())
        .collect();
    f.expect(!added.is_empty(), || {
        format!(
            "adding TCP {} from {DUPLICATE_SOURCE} reported no new ingress rule",
            ctx.options.closed_port
        )
    });
    match firewall.add_firewall_rules(&twice).await {
        Ok(()) => match ingress(&ctx, &id).await {
            Ok(after_again) => f.expect(after_again == after_first, || {
                format!(
                    "adding a rule already in place (twice in one request) changed the rules: \
                     {} rules with ids {:?} became {} with ids {:?}; it must change nothing",
                    after_first.len(),
                    after_first.iter().map(|(i, _)| i).collect::<Vec<_>>(),
                    after_again.len(),
                    after_again.iter().map(|(i, _)| i).collect::<Vec<_>>(),
                )
            }),
            Err(e) => f.fail(format!(
                "get_instance after the second add: {}",
                describe(&e)
            )),
        },
        Err(e) => {
            let hint = if e.kind() == ErrorKind::DuplicateFirewallRule {
                " (adding is idempotent: a rule already in place is left out, not refused)"
            } else {
                ""
            };
            f.fail(format!(
                "adding a rule already in place failed{hint}: {}",
                describe(&e)
            ));
        }
    }
    let leftover: Vec<String> = match ingress(&ctx, &id).await {
        Ok(now) => now
            .difference(&before)
            .map(|(rule_id, _)| rule_id.clone())
            .collect(),
        Err(_) => added,
    };
    if !leftover.is_empty() {
        let revoke = validate_firewall_revoke(&RevokeSecurityGroupRuleArgs {
            instance_id: id.clone(),
            security_group_rule_ids: leftover,
        });
        match revoke {
            Ok(revoke) => {
                if let Err(e) = firewall.revoke_firewall_rules(&revoke).await {
                    f.fail(format!(
                        "revoking the rules this check added: {}",
                        describe(&e)
                    ));
                }
            }
            Err(e) => f.fail(format!("the ids of the added rules: {}", describe(&e))),
        }
    }
    f.done()
}

/// Egress is allow-all unless the provider declares egress filtering: a filtering egress rule
/// is refused naming it, and instances report no egress rules.
pub(crate) async fn egress_rules(ctx: Arc<Ctx>) -> Verdict {
    let features = ctx.client.create_features();
    if features.egress_filtering {
        return Verdict::Skip(
            "the provider declares egress filtering; firewall_egress checks outbound traffic"
                .to_owned(),
        );
    }
    let instance = match ctx.instance(false).await {
        Ok(instance) => instance,
        Err(why) => return Verdict::Skip(why),
    };
    let Some(mut attrs) = ctx.state.lock().await.attrs.clone() else {
        return Verdict::Skip("the create attributes are unknown".to_owned());
    };
    let mut f = Findings::default();
    match ctx.client.get_instance(&instance.cloud_id).await {
        Ok(seen) => f.expect(seen.firewall_rules.egress_rules.is_empty(), || {
            format!(
                "the instance reports egress rules {:?}, but the provider does not declare egress \
                 filtering: outbound is allow-all and no egress rule is reported",
                seen.firewall_rules.egress_rules
            )
        }),
        Err(e) => f.fail(format!("get_instance: {}", describe(&e))),
    }
    if features.firewall_rules {
        attrs.firewall_rules.egress_rules = vec![FirewallRule::port(443)];
        match validate_create(&attrs, &features) {
            Err(CloudError::InvalidArgument { field, .. })
                if field == "firewall_rules.egress_rules[0]" => {}
            Err(e) => f.fail(format!(
                "a filtering egress rule should be refused naming firewall_rules.egress_rules[0], got {}",
                describe(&e)
            )),
            Ok(_) => f.fail("a filtering egress rule was accepted without egress filtering"),
        }
    }
    f.done()
}
