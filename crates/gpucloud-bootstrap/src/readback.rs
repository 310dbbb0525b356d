//! Reading back, from the base64 user data a cloud returns with an instance, the ingress rules
//! the bootstrap's ruleset in it opens.
//!
//! Clouds without a firewall API (Fluidstack) store nothing but the user data, so this is how
//! a provider reports an instance's rules on every get and list: it runs once per listed
//! instance, and must cost little next to decoding the rest of the answer. The common case is
//! user data the bootstrap rendered alone: its cloud-config starts with the same text up to the
//! SSH line of the ruleset ([`crate::fixed_head`]), so the base64 of that text is compared as
//! it stands and only the few lines after it are decoded, up to the end of the chain. Anything
//! else (the user's own data combined with the bootstrap's as MIME, a bootstrap of another
//! version) is decoded whole and searched.
//!
//! Instances made with the same rules share that text, so the last ruleset read on a thread
//! is kept with the base64 it was read from: a list of such instances decodes it once.

use std::cell::RefCell;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gpucloud_core::{Cidr, FirewallRule, Protocol};

use crate::firewall::TABLE;

/// Base64 characters decoded at a time after the fixed head: 192 bytes, the SSH line and a few
/// rules, so a typical ruleset ends within the first step.
const STEP: usize = 256;

/// The file name the bootstrap gives its own part when it combines it with the user's data.
const BOOTSTRAP_PART: &str = "filename=\"gpucloud-bootstrap.cfg\"";

/// The fixed head of every cloud-config, as it appears in the user data.
struct Head {
    /// The base64 of the head's first whole 3-byte groups: base64 text starting with this is
    /// the head's text, with no need to decode it.
    encoded: String,
    /// The last 0–2 bytes of the head, which share a base64 group with what follows.
    rest: Vec<u8>,
}

static HEAD: LazyLock<Head> = LazyLock::new(|| {
    let text = crate::fixed_head();
    let whole = text.len() / 3 * 3;
    Head {
        encoded: STANDARD.encode(&text.as_bytes()[..whole]),
        rest: text.as_bytes()[whole..].to_vec(),
    }
});

/// The ingress rules the bootstrap's ruleset in `user_data_base64` (the user data as the cloud
/// returns it: base64 of what [`crate::Bootstrap::render`] made) opens, SSH included, in the
/// order of the ruleset: one rule per run of lines with the same protocol and ports (the
/// bootstrap writes one line per source of a rule), a line without a source standing alone;
/// rule ids are positions (`"0"`, `"1"`, …).
///
/// Only the bootstrap's own cloud-config is read, never the user's parts, so their text cannot
/// pass for rules. Empty when the user data holds no bootstrap ruleset (an instance gpucloud
/// did not create) or is not base64 (or, where it has to be decoded whole, not UTF-8). When the
/// user data is the bootstrap's alone, only its start is checked: up to the end of the ruleset.
pub fn ingress_rules_from_user_data(user_data_base64: &str) -> Vec<FirewallRule> {
    let data = user_data_base64.trim();
    if let Some(rules) = after_fixed_head(data) {
        return rules;
    }
    let Ok(bytes) = STANDARD.decode(data) else {
        return Vec::new();
    };
    let Ok(document) = std::str::from_utf8(&bytes) else {
        return Vec::new();
    };
    match bootstrap_part(document) {
        Some(Part::Whole(config)) => rules_in(config),
        Some(Part::Base64(encoded)) => after_fixed_head(&encoded).unwrap_or_else(|| {
            STANDARD
                .decode(encoded.as_bytes())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .map(|config| rules_in(&config))
                .unwrap_or_default()
        }),
        None => Vec::new(),
    }
}

/// The last ruleset read after the fixed head on this thread.
struct Seen {
    /// The base64 after the head up to the end of the chain: whole 4-character groups without
    /// padding, so any text starting with them decodes to the same bytes there.
    encoded: String,
    /// What those bytes hold.
    rules: Vec<FirewallRule>,
}

thread_local! {
    static LAST_SEEN: RefCell<Option<Seen>> = const { RefCell::new(None) };
}

/// The rules of a cloud-config in base64 that starts with the fixed head, decoding only what
/// follows the head up to the end of the chain (nothing, when that text is the one last read
/// on this thread); `None` when it does not start so (or stops being base64 or ends before the
/// chain does), for the caller to decode it whole.
fn after_fixed_head(data: &str) -> Option<Vec<FirewallRule>> {
    let tail = data.strip_prefix(HEAD.encoded.as_str())?;
    let known = LAST_SEEN.with_borrow(|last| {
        last.as_ref()
            .filter(|seen| tail.starts_with(seen.encoded.as_str()))
            .map(|seen| seen.rules.clone())
    });
    if known.is_some() {
        return known;
    }
    let (rules, used) = decode_after_head(tail)?;
    let encoded = &tail[..used];
    if !encoded.contains('=') {
        LAST_SEEN.with_borrow_mut(|last| {
            *last = Some(Seen {
                encoded: encoded.to_owned(),
                rules: rules.clone(),
            });
        });
    }
    Some(rules)
}

/// [`after_fixed_head`]'s decoding of the base64 after the head: the rules, and how many of
/// its characters hold the ruleset up to the end of the chain.
fn decode_after_head(tail: &str) -> Option<(Vec<FirewallRule>, usize)> {
    let head = &*HEAD;
    let mut decoded = Vec::with_capacity(STEP / 4 * 3);
    let mut next_line = 0;
    let mut reader = Reader::default();
    for (step, chunk) in tail.as_bytes().chunks(STEP).enumerate() {
        STANDARD.decode_vec(chunk, &mut decoded).ok()?;
        if step == 0 {
            if !decoded.starts_with(&head.rest) {
                return None;
            }
            next_line = head.rest.len();
        }
        while let Some(length) = decoded[next_line..].iter().position(|&b| b == b'\n') {
            let line = std::str::from_utf8(&decoded[next_line..next_line + length]).ok()?;
            next_line += length + 1;
            if !reader.line(line.trim()) {
                let used = next_line.div_ceil(3).saturating_mul(4).min(tail.len());
                return Some((reader.rules, used));
            }
        }
    }
    None
}

/// Where the bootstrap's cloud-config is in a decoded user data document.
enum Part<'a> {
    /// The document is the bootstrap's cloud-config.
    Whole(&'a str),
    /// The bootstrap's MIME part, in base64 (line breaks removed).
    Base64(String),
}

/// The bootstrap's own cloud-config in a decoded document: the whole of it, or, when the
/// user's data was combined with it as multipart MIME, its part. `None` for a multipart
/// document without the bootstrap's part.
fn bootstrap_part(document: &str) -> Option<Part<'_>> {
    if !document.starts_with("Content-Type: multipart/") {
        return Some(Part::Whole(document));
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
    Some(Part::Base64(body.split_whitespace().collect()))
}

/// The rules of the ruleset in a decoded cloud-config, found by its table's header.
fn rules_in(config: &str) -> Vec<FirewallRule> {
    let header = format!("table inet {TABLE} {{");
    let Some(start) = config.rfind(&header) else {
        return Vec::new();
    };
    let mut reader = Reader::default();
    for line in config[start + header.len()..].lines() {
        if !reader.line(line.trim()) {
            break;
        }
    }
    reader.rules
}

/// Collects rules from the statements of the `inbound` chain, line by line.
#[derive(Default)]
struct Reader {
    rules: Vec<FirewallRule>,
    last_had_source: bool,
}

impl Reader {
    /// Takes one trimmed line of the chain; `false` at its end (`}`).
    fn line(&mut self, text: &str) -> bool {
        if text == "}" {
            return false;
        }
        let Some(line) = statement(text) else {
            return true;
        };
        let has_source = line.source.is_some();
        let extends = self.last_had_source
            && has_source
            && self.rules.last().is_some_and(|r| {
                (r.protocol, r.from_port, r.to_port)
                    == (line.protocol, line.from_port, line.to_port)
            });
        match (extends, line.source) {
            (true, Some(source)) => {
                if let Some(rule) = self.rules.last_mut() {
                    rule.ip_ranges.push(source);
                }
            }
            (_, source) => {
                let id = self.rules.len().to_string();
                self.rules.push(FirewallRule {
                    id,
                    protocol: line.protocol,
                    ..FirewallRule::range(
                        line.from_port,
                        line.to_port,
                        source.into_iter().collect(),
                    )
                });
            }
        }
        self.last_had_source = has_source;
        true
    }
}

/// One accepted (protocol, ports, source) statement of the ruleset.
#[derive(Debug, PartialEq, Eq)]
struct Statement {
    protocol: Option<Protocol>,
    from_port: u16,
    to_port: u16,
    /// `None`: from anywhere, both families.
    source: Option<String>,
}

/// Reads one statement of the `inbound` chain as [`crate::firewall::rule_lines`] writes it;
/// `None` for the fixed ones (loopback, connection tracking, ICMP, containers, DHCP) and for
/// anything else it does not recognise.
fn statement(text: &str) -> Option<Statement> {
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
    (from_port >= 1 && to_port >= from_port).then_some(Statement {
        protocol,
        from_port,
        to_port,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Bootstrap;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOu3o9AyeQeAgLrWm4iW8YTloO1TYKxHj8ZxO7xuEni5 t@x";

    fn rule(from: u16, to: u16, ranges: &[&str], protocol: Option<Protocol>) -> FirewallRule {
        FirewallRule {
            protocol,
            ..FirewallRule::range(from, to, ranges.iter().map(|r| (*r).to_owned()).collect())
        }
    }

    fn base64(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    /// Many rules, so the ruleset spans several decoding steps.
    fn many_rules() -> Vec<FirewallRule> {
        (0..40u16)
            .map(|i| rule(1000 + i, 1000 + i, &["10.0.0.0/8", "::/0"], None))
            .collect()
    }

    #[test]
    fn every_cloud_config_starts_with_the_fixed_head() {
        let head = crate::fixed_head();
        for port in [22, 2222] {
            for rules in [Vec::new(), vec![FirewallRule::port(80)], many_rules()] {
                let b = Bootstrap::new("ubuntu", KEY)
                    .unwrap()
                    .with_ssh_port(port)
                    .unwrap()
                    .with_ingress_rules(&rules)
                    .unwrap()
                    .with_hostname("web-1")
                    .unwrap();
                let text = b.cloud_config();
                assert!(text.starts_with(&head), "{text}");
                // The head ends where the first variable line, the SSH port's, begins.
                assert!(
                    text[head.len()..].starts_with(&format!("          tcp dport {port} accept\n")),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn the_fast_and_the_whole_reading_agree() {
        for rules in [Vec::new(), vec![FirewallRule::port(80)], many_rules()] {
            let config = Bootstrap::new("ubuntu", KEY)
                .unwrap()
                .with_ingress_rules(&rules)
                .unwrap()
                .cloud_config();
            let fast = after_fixed_head(&base64(config.as_bytes())).expect("fast path taken");
            assert_eq!(fast, rules_in(&config));
            assert_eq!(fast.len(), rules.len() + 1, "SSH and each rule");
            assert_eq!(
                fast[0],
                FirewallRule {
                    id: "0".into(),
                    ..rule(22, 22, &[], Some(Protocol::Tcp))
                }
            );
        }
    }

    #[test]
    fn the_fast_reading_stops_at_the_end_of_the_chain() {
        let config = Bootstrap::new("ubuntu", KEY)
            .unwrap()
            .with_ingress_rules(&[FirewallRule::port(80)])
            .unwrap()
            .cloud_config();
        let encoded = base64(config.as_bytes());
        // Garbage long after the ruleset is never decoded; cut inside it, nothing is found.
        let garbled = format!("{}!!!!", &encoded[..encoded.len() - 4]);
        assert_eq!(after_fixed_head(&garbled).map(|r| r.len()), Some(2));
        let cut = &encoded[..HEAD.encoded.len() + 8];
        assert_eq!(after_fixed_head(cut), None);
        assert_eq!(ingress_rules_from_user_data(cut), []);
    }

    #[test]
    fn a_ruleset_read_before_is_not_decoded_again_and_a_new_one_is() {
        let config = |rules: &[FirewallRule], host: &str| {
            let text = Bootstrap::new("ubuntu", KEY)
                .unwrap()
                .with_ingress_rules(rules)
                .unwrap()
                .with_hostname(host)
                .unwrap()
                .cloud_config();
            base64(text.as_bytes())
        };
        let ports = |data: &str| -> Vec<u16> {
            ingress_rules_from_user_data(data)
                .iter()
                .map(|r| r.from_port)
                .collect()
        };
        let web = config(&[FirewallRule::port(80)], "web-1");
        assert_eq!(ports(&web), [22, 80]);
        let seen = LAST_SEEN.with_borrow(|last| last.as_ref().map(|s| s.encoded.clone()));
        let seen = seen.expect("the ruleset is kept");
        assert!(seen.len().is_multiple_of(4) && seen.len() < web.len() - HEAD.encoded.len());
        // Another instance with the same rules (other host name) is read from what was kept;
        // its rules are the same whichever way they are read.
        let other = config(&[FirewallRule::port(80)], "web-2");
        assert_eq!(ports(&other), [22, 80]);
        let tail = &other[HEAD.encoded.len()..];
        assert!(tail.starts_with(&seen));
        assert_eq!(
            decode_after_head(tail).map(|(rules, _)| rules),
            Some(ingress_rules_from_user_data(&web))
        );
        // Other rules are decoded, and kept in turn; nothing stale is returned.
        let db = config(&[FirewallRule::port(5432), FirewallRule::port(6432)], "db");
        assert_eq!(ports(&db), [22, 5432, 6432]);
        assert_eq!(ports(&web), [22, 80]);
        assert_eq!(ports(&config(&[], "bare")), [22]);
        assert_eq!(ports(&db), [22, 5432, 6432]);
    }

    #[test]
    fn a_changed_head_falls_back_to_decoding_the_whole() {
        let config = Bootstrap::new("ubuntu", KEY)
            .unwrap()
            .with_ingress_rules(&[FirewallRule::port(80)])
            .unwrap()
            .cloud_config()
            .replacen("# Written by", "# Rewritten by", 1);
        let encoded = base64(config.as_bytes());
        assert_eq!(after_fixed_head(&encoded), None);
        let ports: Vec<u16> = ingress_rules_from_user_data(&encoded)
            .iter()
            .map(|r| r.from_port)
            .collect();
        assert_eq!(ports, [22, 80]);
    }

    #[test]
    fn garbled_lines_are_skipped() {
        let text = format!(
            "table inet {TABLE} {{\n    tcp dport 0 accept\n    tcp dport 9-8 accept\n    ip saddr nope tcp dport 5 accept\n    udp dport 70000 accept\n    tcp dport 7 accept\n  }}\n}}\n    tcp dport 6 accept\n"
        );
        let ports: Vec<u16> = rules_in(&text).iter().map(|r| r.from_port).collect();
        assert_eq!(ports, [7]);
    }
}
