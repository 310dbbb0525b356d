//! Input validation of `CreateInstanceAttrs`, before any API call.
//!
//! Every problem is an [`CloudError::InvalidArgument`] naming the field (with its index for
//! lists, e.g. `firewall_rules.ingress_rules[1].ip_ranges[0]`) and what is wrong. A parameter the
//! provider cannot honour (per its [`CreateFeatures`]) is refused, never silently dropped.

use std::net::IpAddr;

use base64::Engine as _;

use crate::client::CreateFeatures;
use crate::error::{CloudError, Result};
use crate::model::firewall::FirewallRule;
use crate::model::instance::CreateInstanceAttrs;
use crate::sshkey::parse_public_key;

/// Longest RefID accepted.
pub const MAX_REF_ID_LEN: usize = 128;
/// Longest instance name accepted.
pub const MAX_NAME_LEN: usize = 64;
/// Longest tag key accepted.
pub const MAX_TAG_KEY_LEN: usize = 128;
/// Longest tag value accepted.
pub const MAX_TAG_VALUE_LEN: usize = 256;
/// Largest decoded user data accepted.
pub const MAX_USER_DATA_BYTES: usize = 64 * 1024;
/// Tag keys with this prefix are reserved for gpucloud's own bookkeeping.
pub const RESERVED_TAG_PREFIX: &str = "gpucloud-";

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> CloudError {
    CloudError::invalid(field, problem)
}

fn unsupported(field: &str) -> CloudError {
    invalid(
        field,
        "this provider cannot honour this parameter; leave it unset",
    )
}

fn check_identifier(field: &str, value: &str, max: usize, required: bool) -> Result<()> {
    if value.is_empty() {
        return if required {
            Err(invalid(field, "must not be empty"))
        } else {
            Ok(())
        };
    }
    if value.len() > max {
        return Err(invalid(
            field,
            format!(
                "is {} characters long; at most {max} are allowed",
                value.len()
            ),
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:@".contains(*c)))
    {
        return Err(invalid(
            field,
            format!("contains {bad:?}; only letters, digits and - _ . : @ are allowed"),
        ));
    }
    Ok(())
}

/// Checks a display name: at most [`MAX_NAME_LEN`] characters of letters, digits, `-`, `_`,
/// `.` and spaces, not starting or ending with a space.
pub fn check_name(field: &str, name: &str) -> Result<()> {
    if name.chars().count() > MAX_NAME_LEN {
        return Err(invalid(
            field,
            format!("is longer than {MAX_NAME_LEN} characters"),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_. ".contains(*c)))
    {
        return Err(invalid(
            field,
            format!("contains {bad:?}; use letters, digits, '-', '_', '.' and spaces"),
        ));
    }
    if name.starts_with(' ') || name.ends_with(' ') {
        return Err(invalid(field, "must not start or end with a space"));
    }
    Ok(())
}

/// Checks a CIDR (`10.0.0.0/8`, `2001:db8::/32`); a bare address counts as a single host.
pub fn check_cidr(field: &str, cidr: &str) -> Result<()> {
    let (address, prefix) = match cidr.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (cidr, None),
    };
    let ip: IpAddr = address.parse().map_err(|_| {
        invalid(
            field,
            format!("{cidr:?} is not a CIDR such as 203.0.113.0/24 or 2001:db8::/32"),
        )
    })?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if let Some(prefix) = prefix {
        let bits: u8 = prefix.parse().map_err(|_| {
            invalid(
                field,
                format!("{cidr:?} has prefix length {prefix:?}; expected 0–{max}"),
            )
        })?;
        if bits > max {
            return Err(invalid(
                field,
                format!("{cidr:?} has prefix length {bits}; at most {max} for this address"),
            ));
        }
    }
    Ok(())
}

/// Checks one firewall rule: ports 1–65535 with `from_port <= to_port`, every CIDR valid.
pub fn check_firewall_rule(field: &str, rule: &FirewallRule) -> Result<()> {
    if rule.from_port == 0 {
        return Err(invalid(
            format!("{field}.from_port"),
            "must be between 1 and 65535",
        ));
    }
    if rule.to_port == 0 {
        return Err(invalid(
            format!("{field}.to_port"),
            "must be between 1 and 65535",
        ));
    }
    if rule.from_port > rule.to_port {
        return Err(invalid(
            format!("{field}.to_port"),
            format!(
                "{} is below from_port {}; a range runs from low to high",
                rule.to_port, rule.from_port
            ),
        ));
    }
    for (i, cidr) in rule.ip_ranges.iter().enumerate() {
        check_cidr(&format!("{field}.ip_ranges[{i}]"), cidr)?;
    }
    Ok(())
}

/// Checks one tag.
pub fn check_tag(key: &str, value: &str) -> Result<()> {
    let field = format!("tags[{key:?}]");
    if key.is_empty() {
        return Err(invalid("tags", "a tag key is empty"));
    }
    if key.len() > MAX_TAG_KEY_LEN {
        return Err(invalid(
            &field,
            format!("key is longer than {MAX_TAG_KEY_LEN} bytes"),
        ));
    }
    if key.chars().any(|c| c.is_control() || c == '=' || c == ',') {
        return Err(invalid(
            &field,
            "key contains a control character, '=' or ','",
        ));
    }
    if key.starts_with(RESERVED_TAG_PREFIX) {
        return Err(invalid(
            &field,
            format!("keys starting with {RESERVED_TAG_PREFIX:?} are reserved"),
        ));
    }
    if value.len() > MAX_TAG_VALUE_LEN {
        return Err(invalid(
            &field,
            format!("value is longer than {MAX_TAG_VALUE_LEN} bytes"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(&field, "value contains a control character"));
    }
    Ok(())
}

/// Checks every field of `attrs` against the rules and the provider's `features`, and returns
/// the attributes normalized: the public key in OpenSSH form (a PEM key is converted).
pub fn validate_create(
    attrs: &CreateInstanceAttrs,
    features: &CreateFeatures,
) -> Result<CreateInstanceAttrs> {
    let mut normalized = attrs.clone();

    check_identifier("ref_id", &attrs.ref_id, MAX_REF_ID_LEN, true)?;
    check_identifier("instance_type", &attrs.instance_type, 128, true)?;
    check_identifier("location", &attrs.location, 64, false)?;
    check_identifier("sub_location", &attrs.sub_location, 64, false)?;
    check_name("name", &attrs.name)?;
    if let Some(key_name) = &attrs.key_pair_name {
        check_identifier("key_pair_name", key_name, 64, true)?;
    }

    let key =
        parse_public_key(&attrs.public_key).map_err(|problem| invalid("public_key", problem))?;
    normalized.public_key = key.to_openssh();

    if !attrs.user_data_base64.is_empty() {
        if !features.user_data {
            return Err(unsupported("user_data_base64"));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(attrs.user_data_base64.trim())
            .map_err(|_| invalid("user_data_base64", "is not valid base64"))?;
        if decoded.len() > MAX_USER_DATA_BYTES {
            return Err(invalid(
                "user_data_base64",
                format!(
                    "decodes to {} bytes; at most {MAX_USER_DATA_BYTES} are allowed",
                    decoded.len()
                ),
            ));
        }
    }

    for (key, value) in &attrs.tags {
        check_tag(key, value)?;
    }
    if !attrs.tags.is_empty() && !features.tags {
        return Err(unsupported("tags"));
    }

    for (i, rule) in attrs.firewall_rules.ingress_rules.iter().enumerate() {
        check_firewall_rule(&format!("firewall_rules.ingress_rules[{i}]"), rule)?;
    }
    for (i, rule) in attrs.firewall_rules.egress_rules.iter().enumerate() {
        check_firewall_rule(&format!("firewall_rules.egress_rules[{i}]"), rule)?;
    }
    if !attrs.firewall_rules.is_empty() && !features.firewall_rules {
        return Err(unsupported("firewall_rules"));
    }

    if attrs.disk_size_bytes.value() < 0 {
        return Err(invalid("disk_size_bytes", "must not be negative"));
    }
    for (i, disk) in attrs.additional_disks.iter().enumerate() {
        if disk.size_bytes.value() <= 0 {
            return Err(invalid(
                format!("additional_disks[{i}].size_bytes"),
                "must be positive",
            ));
        }
        if !disk.mount_path.is_empty() && !disk.mount_path.starts_with('/') {
            return Err(invalid(
                format!("additional_disks[{i}].mount_path"),
                "must be an absolute path",
            ));
        }
    }
    for name in attrs.additional_env_vars.keys() {
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(invalid(
                format!("additional_env_vars[{name:?}]"),
                "is not a valid environment variable name",
            ));
        }
    }

    let unsupported_in_use = [
        (!attrs.image_id.is_empty() && !features.image, "image_id"),
        (
            !attrs.sub_location.is_empty() && !features.sub_location,
            "sub_location",
        ),
        (
            !attrs.disk_size_bytes.is_zero() && !features.disk_size,
            "disk_size_bytes",
        ),
        (attrs.use_spot && !features.spot, "use_spot"),
        (
            (!attrs.vpc_id.is_empty() || !attrs.subnet_id.is_empty()) && !features.vpc,
            "vpc_id",
        ),
        (
            !attrs.additional_disks.is_empty() && !features.additional_disks,
            "additional_disks",
        ),
        (
            attrs.use_persistent_ip && !features.persistent_ip,
            "use_persistent_ip",
        ),
        (
            attrs.use_multi_attach_volume && !features.multi_attach_volume,
            "use_multi_attach_volume",
        ),
        (
            !attrs.additional_env_vars.is_empty() && !features.env_vars,
            "additional_env_vars",
        ),
        (
            attrs.retire_timeout.is_some() && !features.retire_timeout,
            "retire_timeout",
        ),
    ];
    if let Some((_, field)) = unsupported_in_use.into_iter().find(|(bad, _)| *bad) {
        return Err(unsupported(field));
    }

    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::bytes::{Bytes, BytesUnit};
    use crate::model::firewall::FirewallRules;
    use crate::model::storage::Disk;
    use crate::sshkey::tests::{ED25519, rsa_spki_pem};

    fn good() -> CreateInstanceAttrs {
        CreateInstanceAttrs {
            location: "us-east-1".into(),
            name: "train-1".into(),
            ref_id: "env-123".into(),
            public_key: ED25519.into(),
            instance_type: "gpu_1x_a10".into(),
            ..CreateInstanceAttrs::default()
        }
    }

    fn all_features() -> CreateFeatures {
        CreateFeatures {
            user_data: true,
            idempotent: true,
            tags: true,
            firewall_rules: true,
            image: true,
            sub_location: true,
            disk_size: true,
            spot: true,
            vpc: true,
            additional_disks: true,
            persistent_ip: true,
            multi_attach_volume: true,
            env_vars: true,
            retire_timeout: true,
        }
    }

    fn ingress(rule: FirewallRule) -> FirewallRules {
        FirewallRules {
            ingress_rules: vec![FirewallRule::port(22), rule],
            egress_rules: vec![],
        }
    }

    #[test]
    fn accepts_good_input_and_normalizes_pem_keys() {
        let mut attrs = good();
        attrs.tags.insert("team".into(), "ml".into());
        attrs.firewall_rules = ingress(FirewallRule::range(
            8000,
            8100,
            vec!["10.0.0.0/8".into(), "2001:db8::/32".into()],
        ));
        attrs.user_data_base64 = "ZWNobyBoaQo=".into();
        validate_create(&attrs, &all_features()).unwrap();

        attrs.public_key = rsa_spki_pem(2048);
        let normalized = validate_create(&attrs, &all_features()).unwrap();
        assert!(normalized.public_key.starts_with("ssh-rsa AAAA"));
    }

    /// At least twenty distinct bad inputs, each rejected naming its field.
    #[test]
    fn rejects_bad_input_naming_the_field() {
        type Mutate = fn(&mut CreateInstanceAttrs);
        let cases: Vec<(&str, &str, Mutate)> = vec![
            ("ref_id", "must not be empty", |a| a.ref_id.clear()),
            ("ref_id", "contains ' '", |a| a.ref_id = "env 1".into()),
            ("ref_id", "at most 128", |a| a.ref_id = "r".repeat(129)),
            ("instance_type", "must not be empty", |a| {
                a.instance_type.clear();
            }),
            ("instance_type", "contains '/'", |a| {
                a.instance_type = "gpu/1".into();
            }),
            ("location", "contains ' '", |a| {
                a.location = "us east".into();
            }),
            ("name", "longer than 64", |a| a.name = "n".repeat(65)),
            ("name", "contains '$'", |a| a.name = "rm$(x)".into()),
            ("name", "start or end with a space", |a| {
                a.name = " x".into();
            }),
            ("key_pair_name", "must not be empty", |a| {
                a.key_pair_name = Some(String::new());
            }),
            ("public_key", "is empty", |a| a.public_key.clear()),
            ("public_key", "private key", |a| {
                a.public_key =
                    "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----"
                        .into();
            }),
            ("public_key", "unsupported key type", |a| {
                a.public_key = "ssh-dss AAAA".into();
            }),
            ("public_key", "not valid base64", |a| {
                a.public_key = "ssh-ed25519 ***".into();
            }),
            ("public_key", "1024-bit", |a| {
                a.public_key = rsa_spki_pem(1024);
            }),
            ("user_data_base64", "not valid base64", |a| {
                a.user_data_base64 = "%%%".into();
            }),
            ("tags", "key is empty", |a| {
                a.tags.insert(String::new(), "v".into());
            }),
            ("tags[\"gpucloud-ref-id\"]", "reserved", |a| {
                a.tags.insert("gpucloud-ref-id".into(), "v".into());
            }),
            ("tags[\"k\"]", "control character", |a| {
                a.tags.insert("k".into(), "a\nb".into());
            }),
            ("tags[\"a=b\"]", "'='", |a| {
                a.tags.insert("a=b".into(), "v".into());
            }),
            (
                "firewall_rules.ingress_rules[1].from_port",
                "between 1 and 65535",
                |a| a.firewall_rules = ingress(FirewallRule::range(0, 10, vec![])),
            ),
            (
                "firewall_rules.ingress_rules[1].to_port",
                "below from_port",
                |a| a.firewall_rules = ingress(FirewallRule::range(9000, 8000, vec![])),
            ),
            (
                "firewall_rules.ingress_rules[1].ip_ranges[0]",
                "not a CIDR",
                |a| {
                    a.firewall_rules =
                        ingress(FirewallRule::range(80, 80, vec!["10.0.0/8".into()]));
                },
            ),
            (
                "firewall_rules.ingress_rules[1].ip_ranges[0]",
                "prefix length 33",
                |a| {
                    a.firewall_rules =
                        ingress(FirewallRule::range(80, 80, vec!["10.0.0.0/33".into()]));
                },
            ),
            (
                "firewall_rules.ingress_rules[1].ip_ranges[1]",
                "prefix length 129",
                |a| {
                    a.firewall_rules = ingress(FirewallRule::range(
                        80,
                        80,
                        vec!["::/0".into(), "2001:db8::/129".into()],
                    ));
                },
            ),
            (
                "firewall_rules.egress_rules[0].ip_ranges[0]",
                "prefix length \"x\"",
                |a| {
                    a.firewall_rules.egress_rules =
                        vec![FirewallRule::range(1, 2, vec!["1.2.3.4/x".into()])];
                },
            ),
            ("disk_size_bytes", "negative", |a| {
                a.disk_size_bytes = Bytes::new(-1, BytesUnit::GiB);
            }),
            ("additional_disks[0].size_bytes", "positive", |a| {
                a.additional_disks = vec![Disk::default()];
            }),
            ("additional_disks[0].mount_path", "absolute", |a| {
                a.additional_disks = vec![Disk {
                    size_bytes: Bytes::new(1, BytesUnit::GiB),
                    disk_type: String::new(),
                    mount_path: "data".into(),
                }];
            }),
            (
                "additional_env_vars[\"1X\"]",
                "environment variable name",
                |a| {
                    a.additional_env_vars.insert("1X".into(), "v".into());
                },
            ),
        ];
        assert!(cases.len() >= 20);
        for (field, problem, mutate) in cases {
            let mut attrs = good();
            mutate(&mut attrs);
            match validate_create(&attrs, &all_features()) {
                Err(CloudError::InvalidArgument {
                    field: f,
                    problem: p,
                }) => {
                    assert_eq!(f, field, "field for {problem}");
                    assert!(
                        p.contains(problem),
                        "{field}: expected {problem:?} in {p:?}"
                    );
                }
                other => panic!("{field}/{problem}: expected InvalidArgument, got {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_parameters_the_provider_cannot_honour() {
        type Mutate = fn(&mut CreateInstanceAttrs);
        let cases: Vec<(&str, Mutate)> = vec![
            ("user_data_base64", |a| {
                a.user_data_base64 = "ZWNobwo=".into();
            }),
            ("tags", |a| {
                a.tags.insert("k".into(), "v".into());
            }),
            ("firewall_rules", |a| {
                a.firewall_rules = ingress(FirewallRule::port(80));
            }),
            ("image_id", |a| a.image_id = "ubuntu".into()),
            ("sub_location", |a| a.sub_location = "zone-a".into()),
            ("disk_size_bytes", |a| {
                a.disk_size_bytes = Bytes::new(100, BytesUnit::GiB);
            }),
            ("use_spot", |a| a.use_spot = true),
            ("vpc_id", |a| a.subnet_id = "s-1".into()),
            ("use_persistent_ip", |a| a.use_persistent_ip = true),
            ("retire_timeout", |a| {
                a.retire_timeout = Some(Duration::from_secs(60));
            }),
        ];
        for (field, mutate) in cases {
            let mut attrs = good();
            mutate(&mut attrs);
            assert!(
                validate_create(&attrs, &all_features()).is_ok(),
                "{field} with every feature"
            );
            let err = validate_create(&attrs, &CreateFeatures::default()).unwrap_err();
            assert!(
                matches!(&err, CloudError::InvalidArgument { field: f, problem } if f == field && problem.contains("cannot honour")),
                "{field}: {err}"
            );
        }
    }
}
