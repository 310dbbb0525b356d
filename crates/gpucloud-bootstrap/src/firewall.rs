//! The nftables ruleset and the shell script that applies it.
//!
//! Everything is filtered in one `prerouting` chain at priority -150: after connection tracking
//! (-200), so replies to the instance's own connections are recognised, and before Docker's
//! destination NAT (-100), so a published port is still seen with the host's address and the
//! port the client asked for. A new connection from outside is therefore dropped whether it is
//! addressed to a host service, to a published container port, or routed straight to a
//! container address: none of them reaches Docker's `DOCKER-USER`/`FORWARD` chains, which a
//! host firewall on the `input` hook alone would leave open.

use std::fmt::Write as _;

use gpucloud_core::{Cidr, CloudError, FirewallRule, Protocol, Result};

/// The nftables table the bootstrap owns; replaced as a whole on every boot.
pub const TABLE: &str = "gpucloud_bootstrap";

/// Interfaces whose traffic comes from the instance's own containers, not from outside:
/// Docker's default bridge, its user-defined networks (`br-<id>`), and the container ends of
/// veth pairs (seen when `br_netfilter` passes bridged frames through the IP hooks).
const CONTAINER_INTERFACES: [&str; 3] = ["docker0", "br-*", "veth*"];

/// A source of an ingress rule, by family, as nftables writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    AnyV4,
    AnyV6,
    V4(String),
    V6(String),
}

/// Reads `text` as an IPv4 or IPv6 CIDR (or a bare address) through core's [`Cidr`], which
/// clears the host bits so nftables accepts it. The error names `field`.
fn parse_cidr(field: &str, text: &str) -> Result<Source> {
    let cidr = Cidr::parse(text).map_err(|problem| CloudError::invalid(field, problem))?;
    Ok(match (cidr.is_any(), cidr.is_ipv4()) {
        (true, true) => Source::AnyV4,
        (true, false) => Source::AnyV6,
        (false, true) => Source::V4(cidr.to_string()),
        (false, false) => Source::V6(cidr.to_string()),
    })
}

/// The nftables match of a rule's ports and protocol.
fn l4(rule: &FirewallRule) -> String {
    let ports = if rule.from_port == rule.to_port {
        rule.from_port.to_string()
    } else {
        format!("{}-{}", rule.from_port, rule.to_port)
    };
    match rule.protocol {
        Some(Protocol::Tcp) => format!("tcp dport {ports}"),
        Some(Protocol::Udp) => format!("udp dport {ports}"),
        None => format!("meta l4proto {{ tcp, udp }} th dport {ports}"),
    }
}

/// The nftables statements that accept one ingress rule. `field` names the rule in errors.
pub(crate) fn rule_lines(field: &str, rule: &FirewallRule) -> Result<Vec<String>> {
    if rule.from_port == 0 || rule.to_port < rule.from_port {
        return Err(CloudError::invalid(
            field,
            format!(
                "port range {}–{} is not within 1–65535 in ascending order",
                rule.from_port, rule.to_port
            ),
        ));
    }
    let l4 = l4(rule);
    if rule.ip_ranges.is_empty() {
        return Ok(vec![format!("{l4} accept")]);
    }
    rule.ip_ranges
        .iter()
        .enumerate()
        .map(|(i, range)| {
            let source = match parse_cidr(&format!("{field}.ip_ranges[{i}]"), range)? {
                Source::AnyV4 => "meta nfproto ipv4 ".to_owned(),
                Source::AnyV6 => "meta nfproto ipv6 ".to_owned(),
                Source::V4(net) => format!("ip saddr {net} "),
                Source::V6(net) => format!("ip6 saddr {net} "),
            };
            Ok(format!("{source}{l4} accept"))
        })
        .collect()
}

/// The start of every ruleset, the same whatever the port and the rules: the table, the chain
/// and its fixed statements, up to the SSH line. A reader compares this part instead of
/// decoding it (see [`crate::ingress_rules_from_user_data`]).
pub(crate) fn ruleset_head() -> String {
    let mut text = String::new();
    let _ = writeln!(text, "table inet {TABLE}");
    let _ = writeln!(text, "delete table inet {TABLE}");
    let _ = writeln!(text, "table inet {TABLE} {{");
    text.push_str("  chain inbound {\n");
    text.push_str("    type filter hook prerouting priority -150; policy drop;\n");
    text.push_str("    iifname \"lo\" accept\n");
    text.push_str("    ct state established,related accept\n");
    text.push_str("    meta l4proto { icmp, ipv6-icmp } accept\n");
    for interface in CONTAINER_INTERFACES {
        let _ = writeln!(text, "    iifname \"{interface}\" accept");
    }
    // DHCP replies to the instance's own lease requests: DHCPv4 is broadcast and DHCPv6 uses
    // link-local multicast, neither of which connection tracking pairs with the request.
    text.push_str("    udp sport 67 udp dport 68 accept\n");
    text.push_str("    ip6 saddr fe80::/10 udp sport 547 udp dport 546 accept\n");
    text
}

/// The whole ruleset as `nft -f` input: replaces the bootstrap's table atomically, so applying
/// it again (every boot) never leaves a window without rules once it has been applied.
pub(crate) fn ruleset(ssh_port: u16, rules: &[Vec<String>]) -> String {
    let mut text = ruleset_head();
    let _ = writeln!(text, "    tcp dport {ssh_port} accept");
    for line in rules.iter().flatten() {
        let _ = writeln!(text, "    {line}");
    }
    text.push_str("  }\n");
    text.push_str("}\n");
    text
}

/// The start of the script that applies a ruleset, up to the ruleset itself.
pub(crate) const SCRIPT_HEAD: &str = "set -eu\n\
     if ! command -v nft >/dev/null 2>&1; then\n\
     \x20 echo 'gpucloud-bootstrap: nft not found; the firewall was NOT applied' >&2\n\
     \x20 exit 1\n\
     fi\n\
     nft -f - <<'GPUCLOUD_NFT'\n";

/// The shell script that applies `ruleset`; exits non-zero (and says so on stderr, which
/// cloud-init logs) when `nft` is missing or refuses the ruleset.
pub(crate) fn script(ruleset: &str) -> String {
    format!(
        "{SCRIPT_HEAD}\
         {ruleset}\
         GPUCLOUD_NFT\n\
         echo 'gpucloud-bootstrap: firewall applied (table inet {TABLE})'\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(from: u16, to: u16, ranges: &[&str], protocol: Option<Protocol>) -> FirewallRule {
        FirewallRule {
            protocol,
            ..FirewallRule::range(from, to, ranges.iter().map(|r| (*r).to_owned()).collect())
        }
    }

    #[test]
    fn rules_become_nft_statements_per_family() {
        let cases: [(FirewallRule, &[&str]); 6] = [
            (
                rule(8080, 8080, &[], Some(Protocol::Tcp)),
                &["tcp dport 8080 accept"],
            ),
            (
                rule(60000, 61000, &[], Some(Protocol::Udp)),
                &["udp dport 60000-61000 accept"],
            ),
            (
                rule(443, 443, &[], None),
                &["meta l4proto { tcp, udp } th dport 443 accept"],
            ),
            (
                rule(
                    22,
                    22,
                    &["10.1.2.3/8", "2001:db8::1/32"],
                    Some(Protocol::Tcp),
                ),
                &[
                    "ip saddr 10.0.0.0/8 tcp dport 22 accept",
                    "ip6 saddr 2001:db8::/32 tcp dport 22 accept",
                ],
            ),
            (
                rule(80, 80, &["0.0.0.0/0", "::/0"], Some(Protocol::Tcp)),
                &[
                    "meta nfproto ipv4 tcp dport 80 accept",
                    "meta nfproto ipv6 tcp dport 80 accept",
                ],
            ),
            (
                rule(53, 53, &["192.0.2.7"], Some(Protocol::Udp)),
                &["ip saddr 192.0.2.7/32 udp dport 53 accept"],
            ),
        ];
        for (rule, expected) in cases {
            assert_eq!(rule_lines("r", &rule).unwrap(), expected, "{rule:?}");
        }
    }

    #[test]
    fn bad_rules_are_refused_naming_the_field() {
        let cases = [
            (rule(0, 10, &[], None), "r"),
            (rule(10, 9, &[], None), "r"),
            (rule(1, 1, &["10.0.0.0/33"], None), "r.ip_ranges[0]"),
            (rule(1, 1, &["::/0", "not-an-ip"], None), "r.ip_ranges[1]"),
            (rule(1, 1, &["10.0.0.0/x"], None), "r.ip_ranges[0]"),
        ];
        for (rule, field) in cases {
            let err = rule_lines("r", &rule).unwrap_err();
            assert!(
                err.to_string().contains(field),
                "{rule:?}: {err} should name {field}"
            );
        }
    }

    #[test]
    fn ruleset_drops_by_default_before_docker_nat() {
        let text = ruleset(2222, &[vec!["tcp dport 8080 accept".to_owned()]]);
        assert!(
            text.starts_with(
                "table inet gpucloud_bootstrap\ndelete table inet gpucloud_bootstrap\n"
            )
        );
        assert!(text.contains("type filter hook prerouting priority -150; policy drop;"));
        assert!(text.contains("    tcp dport 2222 accept\n"));
        assert!(text.contains("    tcp dport 8080 accept\n"));
        assert!(text.contains("iifname \"docker0\" accept"));
        assert!(!text.contains("hook output"), "egress is not filtered");
    }
}
