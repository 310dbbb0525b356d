//! An instance's firewall rules, read back from its user data.
//!
//! Fluidstack stores no firewall rules: what an instance enforces is the nftables ruleset that
//! [`gpucloud_bootstrap`] rendered into its user data at create, which the API returns with
//! every instance (`userData`). Reading that ruleset back gives the rules the instance
//! actually applies — SSH included, as the bootstrap always opens it — for get and list as
//! well as create. The reading is tied to the bootstrap's output; the round-trip tests below
//! render through the real [`Bootstrap`](gpucloud_bootstrap::Bootstrap) so a change there
//! fails here.

use gpucloud_core::FirewallRules;
use serde::Deserializer;
use serde::de::{self, Visitor};

/// The rules an instance enforces, from its base64 `userData`: the bootstrap's ingress rules
/// ([`gpucloud_bootstrap::ingress_rules_from_user_data`]), and no egress rules (the bootstrap
/// allows all outbound traffic, which core reports as none). No ingress rules when the user
/// data holds no bootstrap ruleset.
pub(crate) fn rules_from_user_data(user_data_base64: &str) -> FirewallRules {
    FirewallRules {
        ingress_rules: gpucloud_bootstrap::ingress_rules_from_user_data(user_data_base64),
        egress_rules: Vec::new(),
    }
}

/// Deserializes `userData` straight into the rules it enforces, reading the string where the
/// parser holds it (in the response body, or its scratch buffer when the JSON escapes
/// characters): a listed instance's ~2.6 kB of user data is never copied. `None` when the
/// field is `null` or empty (the API returned no user data).
pub(crate) fn user_data_rules<'de, D>(deserializer: D) -> Result<Option<FirewallRules>, D::Error>
where
    D: Deserializer<'de>,
{
    struct UserData;

    impl<'de> Visitor<'de> for UserData {
        type Value = Option<FirewallRules>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("base64 user data (a string) or null")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok((!text.trim().is_empty()).then(|| rules_from_user_data(text)))
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_str(self)
        }
    }

    deserializer.deserialize_option(UserData)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use gpucloud_bootstrap::Bootstrap;
    use gpucloud_core::{FirewallRule, Protocol};
    use serde::Deserialize;

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
            "#!/bin/sh\ncat <<EOF\ntable inet {} {{\n    tcp dport 9999 accept\n}}\nEOF\n",
            gpucloud_bootstrap::TABLE
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

    #[derive(Deserialize)]
    struct Field {
        #[serde(default, rename = "userData", deserialize_with = "user_data_rules")]
        rules: Option<FirewallRules>,
    }

    #[test]
    fn user_data_is_read_into_rules_as_it_is_parsed() {
        let encoded = rendered(&[rule(80, 80, &[], None)], b"");
        let ports = |field: Field| -> Option<Vec<u16>> {
            field
                .rules
                .map(|r| r.ingress_rules.iter().map(|r| r.from_port).collect())
        };
        let plain = format!(r#"{{"userData": "{encoded}"}}"#);
        // The same string with its first character escaped (`\u0049` for `I`): parsed through
        // serde_json's scratch buffer instead of borrowed from the input.
        let (first, rest) = encoded.split_at(1);
        let first = u32::from(first.as_bytes()[0]);
        let escaped = format!(r#"{{"userData": "\u{first:04x}{rest}"}}"#);
        for json in [&plain, &escaped] {
            let field: Field = serde_json::from_str(json).unwrap();
            assert_eq!(ports(field), Some(vec![22, 80]), "{json}");
            let field: Field = serde_json::from_slice(json.as_bytes()).unwrap();
            assert_eq!(ports(field), Some(vec![22, 80]), "{json}");
        }
        for json in [r#"{"userData": null}"#, r#"{"userData": " "}"#, "{}"] {
            let field: Field = serde_json::from_str(json).unwrap();
            assert_eq!(ports(field), None, "{json}");
        }
        let err = serde_json::from_str::<Field>(r#"{"userData": 7}"#)
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("base64 user data")));
    }
}
