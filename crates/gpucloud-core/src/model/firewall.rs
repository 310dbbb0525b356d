//! Firewall rules (v1 §6.12), their checked form and rule identity.
//!
//! # Rule identity and duplicates
//!
//! A rule stands for the (protocol, port range, source) triples it allows, a rule without a
//! protocol standing for TCP and UDP, sources compared as canonical [`Cidr`]s and no sources
//! meaning anywhere. Adding rules is idempotent on every provider: a rule whose every triple
//! is already allowed by the instance's rules (or by an earlier rule of the same request) is
//! left out, and a request of nothing but such rules succeeds and changes nothing
//! ([`missing_rules`]). So a retried add never fails and never stacks copies.
//!
//! # Egress
//!
//! Outbound traffic is allowed to everywhere on every provider. An egress rule that allows
//! everything ([`FirewallRule::is_allow_all`]) is accepted and changes nothing; any other
//! egress rule is refused with `InvalidArgument` naming it, unless the provider declares
//! egress filtering ([`crate::CreateFeatures::egress_filtering`]). Instances report
//! `egress_rules` empty, meaning "everything allowed".

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::cidr::Cidr;
use crate::enums::Protocol;
use crate::ids::InstanceId;

/// Inbound and outbound allow rules. Everything not allowed is denied inbound; outbound is
/// allowed unless the provider filters egress (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FirewallRules {
    /// Inbound allows.
    pub ingress_rules: Vec<FirewallRule>,
    /// Outbound allows.
    pub egress_rules: Vec<FirewallRule>,
}

impl FirewallRules {
    /// True when there are no rules in either direction.
    pub fn is_empty(&self) -> bool {
        self.ingress_rules.is_empty() && self.egress_rules.is_empty()
    }
}

/// One allow rule: an inclusive port range from or to a set of CIDRs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FirewallRule {
    /// Provider id of the rule; ignored at create.
    pub id: String,
    /// First port (1–65535).
    pub from_port: u16,
    /// Last port, inclusive (≥ `from_port`).
    pub to_port: u16,
    /// Source (ingress) or destination (egress) CIDRs; empty means anywhere.
    pub ip_ranges: Vec<String>,
    /// Protocol; `None` means both TCP and UDP (v1 has no protocol field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
}

impl FirewallRule {
    /// A rule for one port from anywhere, both protocols.
    pub fn port(port: u16) -> Self {
        Self {
            from_port: port,
            to_port: port,
            ..Self::default()
        }
    }

    /// A rule for an inclusive port range from the given CIDRs.
    pub fn range(from_port: u16, to_port: u16, ip_ranges: Vec<String>) -> Self {
        Self {
            from_port,
            to_port,
            ip_ranges,
            ..Self::default()
        }
    }

    /// True when `port` with `protocol` falls inside this rule.
    pub fn covers(&self, port: u16, protocol: Protocol) -> bool {
        (self.from_port..=self.to_port).contains(&port)
            && self.protocol.is_none_or(|p| p == protocol)
    }

    /// True when the rule allows everything: every port, both protocols, from or to anywhere
    /// (no ranges, or only `0.0.0.0/0` and `::/0`).
    pub fn is_allow_all(&self) -> bool {
        self.from_port <= 1
            && self.to_port == u16::MAX
            && self.protocol.is_none()
            && self
                .ip_ranges
                .iter()
                .all(|r| Cidr::parse(r).is_ok_and(|c| c.is_any()))
    }

    /// The triples this rule allows (see the module documentation). Ranges that are not CIDRs
    /// allow nothing here, so a garbled stored rule never hides a new one.
    pub fn triples(&self) -> BTreeSet<RuleTriple> {
        let sources: Vec<Option<Cidr>> = if self.ip_ranges.is_empty() {
            vec![None]
        } else {
            self.ip_ranges
                .iter()
                .filter_map(|r| Cidr::parse(r).ok())
                .map(Some)
                .collect()
        };
        triples(self.protocol, self.from_port, self.to_port, &sources)
    }
}

/// One (protocol, port range, source) an allow rule stands for: the unit of rule identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleTriple {
    /// The protocol.
    pub protocol: Protocol,
    /// First port.
    pub from_port: u16,
    /// Last port, inclusive.
    pub to_port: u16,
    /// The source (ingress) or destination (egress); `None` means anywhere.
    pub source: Option<Cidr>,
}

fn triples(
    protocol: Option<Protocol>,
    from_port: u16,
    to_port: u16,
    sources: &[Option<Cidr>],
) -> BTreeSet<RuleTriple> {
    let protocols: &[Protocol] = match protocol {
        Some(Protocol::Tcp) => &[Protocol::Tcp],
        Some(Protocol::Udp) => &[Protocol::Udp],
        None => &[Protocol::Tcp, Protocol::Udp],
    };
    protocols
        .iter()
        .flat_map(|protocol| {
            sources.iter().map(move |source| RuleTriple {
                protocol: *protocol,
                from_port,
                to_port,
                source: *source,
            })
        })
        .collect()
}

/// A firewall rule as validation found it: ports 1–65535 in order, sources parsed to canonical
/// [`Cidr`]s in request order (so an error can name `ip_ranges[i]`). Made only by
/// [`crate::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckedRule {
    protocol: Option<Protocol>,
    from_port: u16,
    to_port: u16,
    sources: Vec<Cidr>,
}

impl CheckedRule {
    pub(crate) fn new(
        protocol: Option<Protocol>,
        from_port: u16,
        to_port: u16,
        sources: Vec<Cidr>,
    ) -> Self {
        Self {
            protocol,
            from_port,
            to_port,
            sources,
        }
    }

    /// The protocol; `None` means TCP and UDP.
    pub fn protocol(&self) -> Option<Protocol> {
        self.protocol
    }

    /// First port.
    pub fn from_port(&self) -> u16 {
        self.from_port
    }

    /// Last port, inclusive.
    pub fn to_port(&self) -> u16 {
        self.to_port
    }

    /// The sources (ingress) or destinations (egress); empty means anywhere.
    pub fn sources(&self) -> &[Cidr] {
        &self.sources
    }

    /// The model rule with this `id` and the canonical CIDR text.
    pub fn to_rule(&self, id: impl Into<String>) -> FirewallRule {
        FirewallRule {
            id: id.into(),
            from_port: self.from_port,
            to_port: self.to_port,
            ip_ranges: self.sources.iter().map(ToString::to_string).collect(),
            protocol: self.protocol,
        }
    }

    /// The triples this rule allows (see the module documentation).
    pub fn triples(&self) -> BTreeSet<RuleTriple> {
        let sources: Vec<Option<Cidr>> = if self.sources.is_empty() {
            vec![None]
        } else {
            self.sources.iter().copied().map(Some).collect()
        };
        triples(self.protocol, self.from_port, self.to_port, &sources)
    }
}

/// The rules of `add` that are not already in place: those with a triple that no rule of
/// `existing` and no earlier rule of `add` allows. The documented duplicate behaviour: every
/// provider adds exactly these and succeeds when none is left.
pub fn missing_rules<'a>(
    existing: &[FirewallRule],
    add: &'a [CheckedRule],
) -> Vec<&'a CheckedRule> {
    let mut present: BTreeSet<RuleTriple> =
        existing.iter().flat_map(FirewallRule::triples).collect();
    let mut out = Vec::new();
    for rule in add {
        let triples = rule.triples();
        if !triples.is_subset(&present) {
            present.extend(triples);
            out.push(rule);
        }
    }
    out
}

/// Add rules to an instance's firewall (v1 `AddFirewallRulesToInstanceArgs`); check it with
/// [`crate::validate::validate_firewall_add`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AddFirewallRulesToInstanceArgs {
    /// The instance.
    pub instance_id: InstanceId,
    /// Rules to add.
    pub firewall_rules: FirewallRules,
}

/// Remove rules from an instance's firewall by rule id (v1 `RevokeSecurityGroupRuleArgs`);
/// check it with [`crate::validate::validate_firewall_revoke`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RevokeSecurityGroupRuleArgs {
    /// The instance.
    pub instance_id: InstanceId,
    /// Ids of the rules to remove, as reported in `Instance::firewall_rules`.
    pub security_group_rule_ids: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(rule: &FirewallRule) -> CheckedRule {
        CheckedRule::new(
            rule.protocol,
            rule.from_port,
            rule.to_port,
            rule.ip_ranges
                .iter()
                .map(|r| Cidr::parse(r).unwrap())
                .collect(),
        )
    }

    #[test]
    fn identity_ignores_ids_order_host_bits_and_repeats() {
        let a = FirewallRule {
            id: "fw-1".into(),
            ip_ranges: vec!["10.0.0.0/8".into(), "1.2.3.4".into()],
            ..FirewallRule::port(80)
        };
        let b = FirewallRule::range(80, 80, vec!["1.2.3.4/32".into(), "10.9.9.9/8".into()]);
        assert_eq!(a.triples(), b.triples());
        assert_eq!(checked(&b).triples(), a.triples());
        assert_ne!(a.triples(), FirewallRule::port(80).triples());
        assert_eq!(FirewallRule::port(80).triples().len(), 2);
    }

    #[test]
    fn missing_rules_leaves_out_what_is_in_place() {
        let existing = vec![FirewallRule {
            id: "x".into(),
            ..FirewallRule::range(8000, 8000, vec!["10.0.0.0/8".into()])
        }];
        let tcp_only = FirewallRule {
            protocol: Some(Protocol::Tcp),
            ..FirewallRule::range(8000, 8000, vec!["10.1.1.1/8".into()])
        };
        let add = vec![
            checked(&tcp_only),
            checked(&FirewallRule::port(9000)),
            checked(&FirewallRule::port(9000)),
            checked(&FirewallRule::range(
                8000,
                8000,
                vec!["192.0.2.0/24".into()],
            )),
        ];
        let missing = missing_rules(&existing, &add);
        assert_eq!(missing.len(), 2);
        assert_eq!(missing[0].from_port(), 9000);
        assert_eq!(missing[1].sources()[0].to_string(), "192.0.2.0/24");
        assert!(missing_rules(&existing, &[checked(&existing[0])]).is_empty());
    }

    #[test]
    fn allow_all() {
        assert!(FirewallRule::range(1, 65535, vec![]).is_allow_all());
        assert!(
            FirewallRule::range(0, 65535, vec!["0.0.0.0/0".into(), "::/0".into()]).is_allow_all()
        );
        assert!(!FirewallRule::range(1, 65535, vec!["10.0.0.0/8".into()]).is_allow_all());
        assert!(!FirewallRule::port(443).is_allow_all());
        let tcp = FirewallRule {
            protocol: Some(Protocol::Tcp),
            ..FirewallRule::range(1, 65535, vec![])
        };
        assert!(!tcp.is_allow_all());
    }

    #[test]
    fn checked_rules_are_canonical() {
        let rule = checked(&FirewallRule::range(
            1,
            2,
            vec!["10.1.0.0/8".into(), "10.0.0.0/8".into(), "::1".into()],
        ));
        assert_eq!(
            rule.to_rule("r").ip_ranges,
            vec!["10.0.0.0/8", "10.0.0.0/8", "::1/128"]
        );
        assert_eq!(rule.triples().len(), 4);
    }
}
