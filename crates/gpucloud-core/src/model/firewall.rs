//! Firewall rules (v1 §6.12).

use serde::{Deserialize, Serialize};

use crate::enums::Protocol;
use crate::ids::InstanceId;

/// Inbound and outbound allow rules. Everything not allowed is denied inbound.
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
}

/// Add rules to an instance's firewall (v1 `AddFirewallRulesToInstanceArgs`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AddFirewallRulesToInstanceArgs {
    /// The instance.
    pub instance_id: InstanceId,
    /// Rules to add.
    pub firewall_rules: FirewallRules,
}

/// Remove rules from an instance's firewall by rule id (v1 `RevokeSecurityGroupRuleArgs`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RevokeSecurityGroupRuleArgs {
    /// The instance.
    pub instance_id: InstanceId,
    /// Ids of the rules to remove, as reported in `Instance::firewall_rules`.
    pub security_group_rule_ids: Vec<String>,
}
