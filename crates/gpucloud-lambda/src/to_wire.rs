//! The gpucloud model → what Lambda takes: names, tags and firewall rules of a create, and the
//! naming scheme of the SDK's rulesets. Pure functions, no I/O.

use gpucloud_core::sshkey::PublicKey;
use gpucloud_core::text::{hex, truncate};
use gpucloud_core::{Bookkeeping, CheckedRule, Cidr, CloudError, Protocol, Result, Tags};
use sha2::{Digest, Sha256};

use crate::from_wire::port_bounds;
use crate::wire;

/// Prefix of the names of firewall rulesets the SDK creates (one per instance).
pub(crate) const RULESET_PREFIX: &str = "gpucloud-";
/// Longest SSH key name Lambda accepts.
const MAX_KEY_NAME: usize = 64;
/// Longest instance name Lambda accepts.
pub(crate) const MAX_INSTANCE_NAME: usize = 64;
/// Longest tag key and value Lambda accepts.
const MAX_TAG_KEY: usize = 55;
const MAX_TAG_VALUE: usize = 128;

/// A name for a new SSH key: `base` (the key pair name or the RefID) when free, else `base`
/// with a short fingerprint of the key, else with a counter. At most 64 characters.
pub(crate) fn unique_key_name(base: &str, public_key: &PublicKey, taken: &[&str]) -> String {
    let base = if base.trim().is_empty() {
        "gpucloud"
    } else {
        base.trim()
    };
    let first = truncate(base, MAX_KEY_NAME);
    if !taken.contains(&first) {
        return first.to_owned();
    }
    let digest = Sha256::digest(public_key.body_base64().as_bytes());
    let fingerprint = hex(&digest[..4]);
    let stem = truncate(base, MAX_KEY_NAME - 9 - 4);
    let with_print = format!("{stem}-{fingerprint}");
    if !taken.contains(&with_print.as_str()) {
        return with_print;
    }
    // At most `taken.len()` candidates can be taken, so one of these is free.
    (2..=taken.len() + 2)
        .map(|n| format!("{stem}-{fingerprint}-{n}"))
        .find(|candidate| !taken.contains(&candidate.as_str()))
        .unwrap_or(with_print)
}

/// The instance name sent to Lambda: the display name, else the RefID, cut to 64 characters.
pub(crate) fn instance_name(name: &str, ref_id: &str) -> String {
    let chosen = if name.trim().is_empty() {
        ref_id
    } else {
        name.trim()
    };
    truncate(chosen, MAX_INSTANCE_NAME).to_owned()
}

/// Checks user tags (already validated by core, so no reserved key) against Lambda's own
/// rules: key `^[a-z][a-z0-9-:]+$`, ≤ 55 characters; value ≤ 128 characters.
pub(crate) fn check_user_tags(tags: &Tags) -> Result<()> {
    for (key, value) in tags {
        let field = format!("tags[{key:?}]");
        let mut chars = key.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok = key.len() >= 2
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == ':');
        if !(first_ok && rest_ok) {
            return Err(CloudError::invalid(
                field,
                "Lambda tag keys are 2-55 characters: a lower-case letter, then lower-case letters, digits, '-' or ':'",
            ));
        }
        if key.len() > MAX_TAG_KEY {
            return Err(CloudError::invalid(
                field,
                format!("longer than {MAX_TAG_KEY} characters"),
            ));
        }
        if value.chars().count() > MAX_TAG_VALUE {
            return Err(CloudError::invalid(
                field,
                format!("value longer than {MAX_TAG_VALUE} characters"),
            ));
        }
    }
    Ok(())
}

/// The bookkeeping tags plus the user tags, as Lambda tag entries.
pub(crate) fn wire_tags(user: &Tags, bookkeeping: &Bookkeeping) -> Vec<wire::Tag> {
    bookkeeping
        .encode_with(user)
        .into_iter()
        .map(|(key, value)| wire::Tag { key, value })
        .collect()
}

/// Checked ingress rules → Lambda rules: one per protocol and source (a rule without a
/// protocol opens TCP and UDP; without sources, `0.0.0.0/0`), without repeats. Lambda takes
/// IPv4 sources only: an IPv6 source is refused naming the rule. Egress needs nothing, as
/// validation leaves only allow-all egress, which is what Lambda does.
pub(crate) fn wire_rules(rules: &[CheckedRule]) -> Result<Vec<wire::FirewallRule>> {
    let mut out: Vec<wire::FirewallRule> = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        if let Some((j, v6)) = rule
            .sources()
            .iter()
            .enumerate()
            .find(|(_, c)| !c.is_ipv4())
        {
            return Err(CloudError::invalid(
                format!("firewall_rules.ingress_rules[{i}].ip_ranges[{j}]"),
                format!("{v6} is not an IPv4 CIDR; Lambda firewall rules take IPv4 sources only"),
            ));
        }
        let protocols: &[&str] = match rule.protocol() {
            Some(Protocol::Tcp) => &["tcp"],
            Some(Protocol::Udp) => &["udp"],
            None => &["tcp", "udp"],
        };
        let sources: Vec<Cidr> = if rule.sources().is_empty() {
            vec![Cidr::ANY_V4]
        } else {
            rule.sources().to_vec()
        };
        for protocol in protocols {
            for source in &sources {
                let w = wire::FirewallRule {
                    protocol: (*protocol).to_owned(),
                    port_range: Some(vec![u32::from(rule.from_port()), u32::from(rule.to_port())]),
                    source_network: source.to_string(),
                    description: "gpucloud".to_owned(),
                };
                if !out.contains(&w) {
                    out.push(w);
                }
            }
        }
    }
    Ok(out)
}

/// `rules` with SSH (TCP 22 from anywhere) in front unless a rule already opens it: a new
/// instance's ruleset always keeps SSH reachable.
pub(crate) fn with_ssh(mut rules: Vec<wire::FirewallRule>) -> Vec<wire::FirewallRule> {
    let ssh_open = rules.iter().any(|r| {
        let (a, b) = port_bounds(r);
        (r.protocol == "tcp" || r.protocol == "all") && a <= 22 && 22 <= b
    });
    if !ssh_open {
        rules.insert(
            0,
            wire::FirewallRule {
                protocol: "tcp".to_owned(),
                port_range: Some(vec![22, 22]),
                source_network: Cidr::ANY_V4.to_string(),
                description: "gpucloud: ssh".to_owned(),
            },
        );
    }
    rules
}

/// The name rulesets had before names identified the credential:
/// `gpucloud-<RefID, truncated>-<12 hex of SHA-256(RefID)>`. Still recognized as an instance's
/// own ruleset; never swept, as it does not say which credential made it.
pub(crate) fn legacy_ruleset_name(ref_id: &str) -> String {
    let digest = Sha256::digest(ref_id.as_bytes());
    let short = hex(&digest[..6]);
    format!(
        "{RULESET_PREFIX}{}-{short}",
        truncate(ref_id, 64 - RULESET_PREFIX.len() - 13)
    )
}

/// Hex digits of a ruleset name's credential mark.
const MARK_LEN: usize = 12;
/// Hex digits of the RefID hash that keeps truncated RefIDs apart.
const REF_HASH_LEN: usize = 8;
/// Characters of the RefID kept in a ruleset name (64 in all).
const RULESET_REF_LEN: usize = 64 - RULESET_PREFIX.len() - 1 - REF_HASH_LEN - 1 - MARK_LEN;

/// The credential mark of a ruleset name: SHA-256 over the credential's reference id and the
/// rest of the name, so it ties the name to one credential and cannot be made by editing the
/// visible part.
fn credential_mark(cred_ref_id: &str, body: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"gpucloud-lambda-ruleset\0");
    hasher.update(cred_ref_id.as_bytes());
    hasher.update(b"\0");
    hasher.update(body.as_bytes());
    let mut mark = hex(&hasher.finalize()[..MARK_LEN / 2]);
    mark.truncate(MARK_LEN);
    mark
}

/// The name of the ruleset the SDK creates for the instance with this RefID, for the
/// credential `cred_ref_id`: `gpucloud-<RefID, truncated>-<8 hex of SHA-256(RefID)>-<mark>`
/// (at most 64 characters), where the mark ([`credential_mark`]) identifies the credential.
pub(crate) fn ruleset_name(cred_ref_id: &str, ref_id: &str) -> String {
    let digest = Sha256::digest(ref_id.as_bytes());
    let mut ref_hash = hex(&digest[..REF_HASH_LEN / 2]);
    ref_hash.truncate(REF_HASH_LEN);
    let body = format!(
        "{RULESET_PREFIX}{}-{ref_hash}",
        truncate(ref_id, RULESET_REF_LEN)
    );
    let mark = credential_mark(cred_ref_id, &body);
    format!("{body}-{mark}")
}

/// True when `name` is a ruleset name [`ruleset_name`] made for `cred_ref_id` (any RefID):
/// the SDK's prefix and a mark that matches this credential. Never true for legacy names,
/// names made for other credentials, or names a person chose (short of copying one).
pub(crate) fn is_credential_ruleset(name: &str, cred_ref_id: &str) -> bool {
    let Some((body, mark)) = name.rsplit_once('-') else {
        return false;
    };
    body.starts_with(RULESET_PREFIX)
        && mark.len() == MARK_LEN
        && mark.bytes().all(|b| b.is_ascii_hexdigit())
        && credential_mark(cred_ref_id, body) == mark
}

/// The decoded user data as the text Lambda takes.
pub(crate) fn user_data_text(bytes: Option<&[u8]>) -> Result<Option<String>> {
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    String::from_utf8(bytes.to_vec()).map(Some).map_err(|_| {
        CloudError::invalid(
            "user_data_base64",
            "Lambda takes plain-text cloud-init user data; this decodes to non-UTF-8 bytes",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::from_wire::model_rules;
    use gpucloud_core::bookkeeping::{CRED_REF_ID_TAG, REF_ID_TAG};
    use gpucloud_core::{FirewallRule, FirewallRules, InstanceId};

    #[test]
    fn key_names_are_unique() {
        let a = &gpucloud_core::sshkey::parse_public_key(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOu3o9AyeQeAgLrWm4iW8YTloO1TYKxHj8ZxO7xuEni5 a",
        )
        .unwrap();
        assert_eq!(unique_key_name("ref-1", a, &[]), "ref-1");
        let second = unique_key_name("ref-1", a, &["ref-1"]);
        assert!(
            second.starts_with("ref-1-") && second.len() == "ref-1-".len() + 8,
            "{second}"
        );
        let third = unique_key_name("ref-1", a, &["ref-1", &second]);
        assert_eq!(third, format!("{second}-2"));
        let long = "x".repeat(100);
        assert_eq!(unique_key_name(&long, a, &[]).len(), 64);
        assert!(unique_key_name(&long, a, &[&"x".repeat(64)]).len() <= 64);
        assert_eq!(unique_key_name(" ", a, &[]), "gpucloud");
    }

    #[test]
    fn instance_names() {
        assert_eq!(instance_name("", "ref"), "ref");
        assert_eq!(instance_name(&"n".repeat(70), "ref").len(), 64);
    }

    #[test]
    fn user_tags_follow_lambda_rules() {
        let ok = Tags::from([
            ("team".to_owned(), "ml".to_owned()),
            ("a:b-c".to_owned(), String::new()),
        ]);
        assert!(check_user_tags(&ok).is_ok());
        for bad in ["Team", "1x", "a", "has space", &"k".repeat(56)] {
            let tags = Tags::from([(bad.to_owned(), "v".to_owned())]);
            let err = check_user_tags(&tags).unwrap_err();
            assert!(
                matches!(err, CloudError::InvalidArgument { ref field, .. } if *field == format!("tags[{bad:?}]")),
                "{bad}"
            );
        }
        let long_value = Tags::from([("k1".to_owned(), "v".repeat(129))]);
        assert!(check_user_tags(&long_value).is_err());
        let bookkeeping = Bookkeeping {
            ref_id: "r".into(),
            cred_ref_id: "c".into(),
            created_at: None,
        };
        let wire = wire_tags(&ok, &bookkeeping);
        assert_eq!(
            wire[0],
            wire::Tag {
                key: REF_ID_TAG.into(),
                value: "r".into()
            }
        );
        assert_eq!(
            wire[1],
            wire::Tag {
                key: CRED_REF_ID_TAG.into(),
                value: "c".into()
            }
        );
        assert_eq!(wire.len(), 4);
    }

    /// Rules as validation hands them over.
    fn checked(ingress_rules: Vec<FirewallRule>) -> Vec<CheckedRule> {
        let add = gpucloud_core::AddFirewallRulesToInstanceArgs {
            instance_id: InstanceId::new("i-1"),
            firewall_rules: FirewallRules {
                ingress_rules,
                egress_rules: vec![],
            },
        };
        gpucloud_core::validate_firewall_add(&add, &gpucloud_core::CreateFeatures::default())
            .unwrap()
            .ingress_rules()
            .to_vec()
    }

    #[test]
    fn firewall_rules_round_trip() {
        let rules = checked(vec![
            FirewallRule::range(8000, 8010, vec!["1.2.3.4".into(), "10.0.0.0/8".into()]),
            FirewallRule {
                protocol: Some(Protocol::Udp),
                ..FirewallRule::port(5353)
            },
        ]);
        let w = with_ssh(wire_rules(&rules).unwrap());
        // ssh + (tcp,udp) × 2 sources + udp 5353
        assert_eq!(w.len(), 1 + 4 + 1);
        assert_eq!(w[0].port_range, Some(vec![22, 22]));
        assert!(
            w.iter()
                .any(|r| r.protocol == "udp" && r.source_network == "1.2.3.4/32")
        );
        let back = model_rules(&w);
        assert_eq!(back.ingress_rules.len(), 6);
        assert_eq!(back.ingress_rules[0].id, "tcp:22-22:0.0.0.0/0");
        assert!(back.ingress_rules.iter().all(|r| r.protocol.is_some()));
        assert!(back.egress_rules.is_empty());

        let own_ssh = checked(vec![FirewallRule::range(22, 22, vec!["5.6.7.8/32".into()])]);
        let w = with_ssh(wire_rules(&own_ssh).unwrap());
        assert!(
            w.iter().all(|r| r.source_network == "5.6.7.8/32"),
            "a rule already opening SSH is kept as is"
        );

        let v6 = checked(vec![FirewallRule::range(
            80,
            80,
            vec!["1.2.3.4".into(), "::/0".into()],
        )]);
        let err = wire_rules(&v6).unwrap_err();
        assert!(
            matches!(err, CloudError::InvalidArgument { ref field, .. } if field == "firewall_rules.ingress_rules[0].ip_ranges[1]")
        );
        let icmp = [wire::FirewallRule {
            protocol: "icmp".into(),
            port_range: None,
            source_network: "0.0.0.0/0".into(),
            description: String::new(),
        }];
        assert!(model_rules(&icmp).ingress_rules.is_empty());
    }

    #[test]
    fn ruleset_names_are_bounded_and_distinct() {
        let a = ruleset_name("cred-1", "ref-1");
        assert!(a.starts_with("gpucloud-ref-1-"), "{a}");
        assert_ne!(a, ruleset_name("cred-1", "ref-2"));
        assert_ne!(a, ruleset_name("cred-2", "ref-1"));
        let long = "r".repeat(128);
        assert!(ruleset_name("cred-1", &long).len() <= 64);
        assert_eq!(ruleset_name("cred-1", &"r".repeat(200)).len(), 64);
        // RefIDs that differ only past the truncation still get distinct names.
        assert_ne!(
            ruleset_name("c", &format!("{long}a")),
            ruleset_name("c", &format!("{long}b"))
        );
        assert!(legacy_ruleset_name(&long).len() <= 64);
        assert!(legacy_ruleset_name("ref-1").starts_with("gpucloud-ref-1-"));
    }

    #[test]
    fn ruleset_names_identify_their_credential() {
        for ref_id in [
            "ref-1",
            "3fa9c2b1-0000-4000-8000-000000000000",
            &"x".repeat(128),
        ] {
            let name = ruleset_name("cred-1", ref_id);
            assert!(is_credential_ruleset(&name, "cred-1"), "{name}");
            assert!(!is_credential_ruleset(&name, "cred-2"), "{name}");
            assert!(!is_credential_ruleset(&name, ""), "{name}");
            assert!(!is_credential_ruleset(
                &legacy_ruleset_name(ref_id),
                "cred-1"
            ));
        }
        let empty_cred = ruleset_name("", "ref-1");
        assert!(is_credential_ruleset(&empty_cred, ""));
        assert!(!is_credential_ruleset(&empty_cred, "cred-1"));
        let name = ruleset_name("cred-1", "ref-1");
        let (body, mark) = name.rsplit_once('-').unwrap();
        for forged in [
            format!("{body}x-{mark}"),
            format!("{}-{mark}", body.replacen("gpucloud-", "other-", 1)),
            format!(
                "{body}-{}{}",
                &mark[..MARK_LEN - 1],
                if mark.ends_with('0') { '1' } else { '0' }
            ),
            "gpucloud-web".to_owned(),
            "My Firewall Ruleset".to_owned(),
            String::new(),
        ] {
            assert!(!is_credential_ruleset(&forged, "cred-1"), "{forged}");
        }
    }

    #[test]
    fn user_data_is_sent_as_text() {
        assert_eq!(user_data_text(None).unwrap(), None);
        assert_eq!(
            user_data_text(Some(b"#cloud-config\n")).unwrap().as_deref(),
            Some("#cloud-config\n")
        );
        let err = user_data_text(Some(&[0xff, 0xfe])).unwrap_err();
        assert!(
            matches!(err, CloudError::InvalidArgument { ref field, .. } if field == "user_data_base64"),
            "{err}"
        );
    }
}
