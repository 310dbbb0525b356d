//! An instance's firewall rules, read back from its user data.
//!
//! Fluidstack stores no firewall rules: what an instance enforces is the nftables ruleset that
//! [`gpucloud_bootstrap`] rendered into its user data at create, which the API returns with
//! every instance (`userData`). Reading that ruleset back gives the rules the instance
//! actually applies — SSH included, as the bootstrap always opens it — for get and list as
//! well as create. The reading is tied to the bootstrap's output; the round-trip tests below
//! render through the real [`Bootstrap`](gpucloud_bootstrap::Bootstrap) so a change there
//! fails here.

use std::borrow::Cow;

use base64::Engine as _;
use gpucloud_core::{Cidr, FirewallRule, FirewallRules, Protocol};

/// The file name the bootstrap gives its own part when it combines it with the user's data.
const BOOTSTRAP_PART: &str = "filename=\"gpucloud-bootstrap.cfg\"";

/// The line that opens the bootstrap's table, as the ruleset writes it.
fn table_header() -> String {
    format!("table inet {} {{", gpucloud_bootstrap::TABLE)
}

/// One accepted (protocol, ports, source) line of the ruleset.
#[derive(Debug, PartialEq, Eq)]
struct Line {
    protocol: Option<Protocol>,
    from_port: u16,
    to_port: u16,
    /// `None`: from anywhere, both families.
    source: Option<String>,
}

/// Reads one statement of the `inbound` chain; `None` for the fixed ones (loopback,
/// connection tracking, ICMP, containers, DHCP) and for anything else it does not recognise.
fn line(text: &str) -> Option<Line> {
    let rest = text.strip_suffix(" accept")?;
    let (source, l4) = if let Some(l4) = rest.strip_prefix("meta nfproto ipv4 ") {
        (Some("0.0.0.0/0".to_owned()), l4)
    } else if let Some(l4) = rest.strip_prefix("meta nfproto ipv6 ") {
        (Some("::/0".to_owned()), l4)
    } else if let Some(tail) = rest
        .strip_prefix("ip saddr ")
        .or_else(|| rest.strip_prefix("ip6 saddr "))
    {
        let (net, l4) = tail.split_once(' ')?;
        (Some(Cidr::parse(net).ok()?.to_string()), l4)
    } else {
        (None, rest)
    };
    let (protocol, ports) = if let Some(ports) = l4.strip_prefix("tcp dport ") {
        (Some(Protocol::Tcp), ports)
    } else if let Some(ports) = l4.strip_prefix("udp dport ") {
        (Some(Protocol::Udp), ports)
    } else {
        (
            None,
            l4.strip_prefix("meta l4proto { tcp, udp } th dport ")?,
        )
    };
    let (from, to) = ports.split_once('-').unwrap_or((ports, ports));
    let (from_port, to_port) = (from.parse::<u16>().ok()?, to.parse::<u16>().ok()?);
    (from_port >= 1 && to_port >= from_port).then_some(Line {
        protocol,
        from_port,
        to_port,
        source,
    })
}

/// The ingress rules of the bootstrap's ruleset in `user_data` (decoded): one rule per run of
/// lines with the same protocol and ports (the bootstrap writes one line per source of a
/// rule), a line without a source standing alone. Empty when the user data holds no
/// bootstrap ruleset (an instance gpucloud did not create).
fn ingress_rules(user_data: &str) -> Vec<FirewallRule> {
    let header = table_header();
    let Some(start) = user_data.rfind(&header) else {
        return Vec::new();
    };
    let mut rules: Vec<FirewallRule> = Vec::new();
    let mut last_had_source = false;
    for text in user_data[start + header.len()..].lines().map(str::trim) {
        if text == "}" {
            break;
        }
        let Some(line) = line(text) else {
            continue;
        };
        let has_source = line.source.is_some();
        let extends = last_had_source
            && has_source
            && rules.last().is_some_and(|r| {
                (r.protocol, r.from_port, r.to_port)
                    == (line.protocol, line.from_port, line.to_port)
            });
        match (extends, line.source) {
            (true, Some(source)) => {
                if let Some(rule) = rules.last_mut() {
                    rule.ip_ranges.push(source);
                }
            }
            (_, source) => rules.push(FirewallRule {
                id: rules.len().to_string(),
                protocol: line.protocol,
                ..FirewallRule::range(line.from_port, line.to_port, source.into_iter().collect())
            }),
        }
        last_had_source = has_source;
    }
    rules
}

/// The bootstrap's own cloud-config in decoded user data: the whole of it, or, when the
/// user's data was combined with it as multipart MIME, its (base64) part. The user's parts are
/// never read, so their text cannot pass for rules.
fn bootstrap_config(document: &str) -> Option<Cow<'_, str>> {
    if !document.starts_with("Content-Type: multipart/") {
        return Some(Cow::Borrowed(document));
    }
    let boundary = document.split_once("boundary=\"")?.1.split_once('"')?.0;
    let separator = format!("--{boundary}");
    let body = document
        .split(separator.as_str())
        .skip(1)
        .find_map(|section| {
            let (headers, body) = section.split_once("\r\n\r\n")?;
            headers.contains(BOOTSTRAP_PART).then_some(body)
        })?;
    let encoded: String = body.split_whitespace().collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    String::from_utf8(decoded).ok().map(Cow::Owned)
}

/// The rules an instance enforces, from its base64 `userData`: the bootstrap's ingress rules,
/// and no egress rules (the bootstrap allows all outbound traffic, which core reports as
/// none). Empty when the user data is absent, not base64, not UTF-8 (the bootstrap writes
/// ASCII and carries the user's parts in base64) or holds no bootstrap ruleset.
pub(crate) fn rules_from_user_data(user_data_base64: &str) -> FirewallRules {
    // Every listed instance comes through here: the decoded text is borrowed, not copied.
    let ingress_rules = base64::engine::general_purpose::STANDARD
        .decode(user_data_base64.trim())
        .ok()
        .and_then(|bytes| {
            let document = std::str::from_utf8(&bytes).ok()?;
            bootstrap_config(document).map(|config| ingress_rules(&config))
        })
        .unwrap_or_default();
    FirewallRules {
        ingress_rules,
        egress_rules: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use gpucloud_bootstrap::Bootstrap;

    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOu3o9AyeQeAgLrWm4iW8YTloO1TYKxHj8ZxO7xuEni5 t@x";

    fn rule(from: u16, to: u16, ranges: &[&str], protocol: Option<Protocol>) -> FirewallRule {
        FirewallRule {
            protocol,
            ..FirewallRule::range(from, to, ranges.iter().map(|r| (*r).to_owned()).collect())
        }
    }

    fn rendered(rules: &[FirewallRule], user_data: &[u8]) -> String {
        let bytes = Bootstrap::new("ubuntu", KEY)
            .unwrap()
            .with_ingress_rules(rules)
            .unwrap()
            .with_user_data(user_data)
            .unwrap()
            .render();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// The triples of `rules`: rule identity as core defines it.
    fn triples(rules: &[FirewallRule]) -> Vec<gpucloud_core::RuleTriple> {
        let mut all: Vec<_> = rules.iter().flat_map(FirewallRule::triples).collect();
        all.sort();
        all.dedup();
        all
    }

    #[test]
    fn rules_round_trip_through_the_bootstrap() {
        let asked = vec![
            rule(8080, 8080, &[], Some(Protocol::Tcp)),
            rule(
                60000,
                61000,
                &["10.1.2.3/8", "2001:db8::1/32"],
                Some(Protocol::Udp),
            ),
            rule(443, 443, &["0.0.0.0/0", "::/0"], None),
            rule(53, 53, &["192.0.2.7"], Some(Protocol::Udp)),
        ];
        for user_data in [
            &b""[..],
            b"#cloud-config\npackages: [htop]\n",
            b"#!/bin/sh\necho hi\n",
        ] {
            let seen = rules_from_user_data(&rendered(&asked, user_data));
            assert!(seen.egress_rules.is_empty());
            let mut expected = asked.clone();
            expected.insert(0, rule(22, 22, &[], Some(Protocol::Tcp)));
            assert_eq!(
                triples(&seen.ingress_rules),
                triples(&expected),
                "{user_data:?}"
            );
            // Sources of one rule stay one rule; ids are positions.
            assert_eq!(seen.ingress_rules.len(), 5, "{:?}", seen.ingress_rules);
            assert_eq!(
                seen.ingress_rules[2].ip_ranges,
                ["10.0.0.0/8", "2001:db8::/32"]
            );
            let ids: Vec<&str> = seen.ingress_rules.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(ids, ["0", "1", "2", "3", "4"]);
        }
    }

    #[test]
    fn only_ssh_is_open_without_rules() {
        let seen = rules_from_user_data(&rendered(&[], b""));
        assert_eq!(
            seen.ingress_rules,
            [FirewallRule {
                id: "0".into(),
                ..rule(22, 22, &[], Some(Protocol::Tcp))
            }]
        );
    }

    #[test]
    fn the_users_own_text_is_not_read_as_rules() {
        // A user script that writes the bootstrap's own table comes first; only the
        // bootstrap's part counts.
        let user = format!(
            "#!/bin/sh\ncat <<EOF\n{}\n    tcp dport 9999 accept\n}}\nEOF\n",
            table_header()
        );
        let user = user.as_bytes();
        let seen = rules_from_user_data(&rendered(&[rule(80, 80, &[], None)], user));
        let ports: Vec<u16> = seen.ingress_rules.iter().map(|r| r.from_port).collect();
        assert_eq!(ports, [22, 80]);
    }

    #[test]
    fn unknown_user_data_gives_no_rules() {
        for data in ["", "!!not base64!!", "I2Nsb3VkLWNvbmZpZwo="] {
            assert_eq!(
                rules_from_user_data(data),
                FirewallRules::default(),
                "{data}"
            );
        }
    }

    #[test]
    fn garbled_lines_are_skipped() {
        let header = table_header();
        let text = format!(
            "{header}\n    tcp dport 0 accept\n    tcp dport 9-8 accept\n    ip saddr nope tcp dport 5 accept\n    udp dport 70000 accept\n    tcp dport 7 accept\n  }}\n}}\n    tcp dport 6 accept\n"
        );
        let seen = ingress_rules(&text);
        let ports: Vec<u16> = seen.iter().map(|r| r.from_port).collect();
        assert_eq!(ports, [7]);
    }
}
