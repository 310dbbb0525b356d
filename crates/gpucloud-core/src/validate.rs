//! Input validation, before any API call, into validated argument types.
//!
//! [`validate_create`] turns [`CreateInstanceAttrs`] into a [`ValidCreate`] carrying what it
//! parsed (decoded user data, the parsed public key, checked firewall rules, the host name);
//! [`validate_tag_update`], [`validate_firewall_add`] and [`validate_firewall_revoke`] do the
//! same for tag and firewall changes. The capability traits take only these types, which
//! nothing else can make, so no provider can skip validation and none re-checks or decodes.
//!
//! Every problem is an [`CloudError::InvalidArgument`] naming the field (with its index for
//! lists, e.g. `firewall_rules.ingress_rules[1].ip_ranges[0]`) and what is wrong. A parameter the
//! provider cannot honour (per its [`CreateFeatures`]) is refused, never silently dropped.

use base64::Engine as _;

use crate::cidr::Cidr;
use crate::client::{CloudClient, CreateFeatures};
use crate::error::{CloudError, Result};
use crate::hostname::instance_hostname;
use crate::ids::InstanceId;
use crate::model::firewall::{
    AddFirewallRulesToInstanceArgs, CheckedRule, FirewallRule, FirewallRules,
    RevokeSecurityGroupRuleArgs,
};
use crate::model::instance::{CreateInstanceAttrs, Instance, Tags, UpdateInstanceTagsArgs};
use crate::sshkey::{PublicKey, parse_public_key};

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

/// Checks a POSIX user name (the SSH user a provider or a bootstrap logs in as): 1 to 32 of
/// `a-z`, `0-9`, `_` and `-`, not starting with a digit or `-`.
pub fn check_posix_user(field: &str, user: &str) -> Result<()> {
    let valid = !user.is_empty()
        && user.len() <= 32
        && user.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && user
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(CloudError::invalid(
            field,
            format!("{user:?} is not a POSIX user name (a-z, 0-9, _ and -)"),
        ))
    }
}

/// Checks a display name: at most [`MAX_NAME_LEN`] characters of letters, digits, `-`, `_`,
/// `.`, `#` and spaces, not starting or ending with a space.
pub fn check_name(field: &str, name: &str) -> Result<()> {
    if name.chars().count() > MAX_NAME_LEN {
        return Err(invalid(
            field,
            format!("is longer than {MAX_NAME_LEN} characters"),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.# ".contains(*c)))
    {
        return Err(invalid(
            field,
            format!("contains {bad:?}; use letters, digits, '-', '_', '.', '#' and spaces"),
        ));
    }
    if name.starts_with(' ') || name.ends_with(' ') {
        return Err(invalid(field, "must not start or end with a space"));
    }
    Ok(())
}

/// Checks one firewall rule: ports 1–65535 with `from_port <= to_port`, every range a
/// [`Cidr`]. Returns the rule with its sources parsed.
pub fn check_rule(field: &str, rule: &FirewallRule) -> Result<CheckedRule> {
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
    let sources = rule
        .ip_ranges
        .iter()
        .enumerate()
        .map(|(i, text)| {
            Cidr::parse(text).map_err(|problem| invalid(format!("{field}.ip_ranges[{i}]"), problem))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(CheckedRule::new(
        rule.protocol,
        rule.from_port,
        rule.to_port,
        sources,
    ))
}

/// Checks a rule set: every rule, and egress per the documented behaviour (see
/// [`crate::model::firewall`]): without `egress_filtering`, allow-all egress rules are dropped
/// and any other is refused. Returns (ingress, egress).
fn check_rules(
    field: &str,
    rules: &FirewallRules,
    egress_filtering: bool,
) -> Result<(Vec<CheckedRule>, Vec<CheckedRule>)> {
    let ingress = rules
        .ingress_rules
        .iter()
        .enumerate()
        .map(|(i, rule)| check_rule(&format!("{field}.ingress_rules[{i}]"), rule))
        .collect::<Result<Vec<_>>>()?;
    let mut egress = Vec::new();
    for (i, rule) in rules.egress_rules.iter().enumerate() {
        let name = format!("{field}.egress_rules[{i}]");
        let checked = check_rule(&name, rule)?;
        if egress_filtering {
            egress.push(checked);
        } else if !rule.is_allow_all() {
            return Err(invalid(
                name,
                "this provider allows all outbound traffic and cannot filter it; \
                 leave egress_rules empty (or allow all ports to anywhere)",
            ));
        }
    }
    Ok((ingress, egress))
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

fn check_tags(tags: &Tags) -> Result<()> {
    tags.iter().try_for_each(|(k, v)| check_tag(k, v))
}

fn check_instance_id(id: &InstanceId) -> Result<()> {
    if id.as_str().trim().is_empty() {
        return Err(invalid("instance_id", "must not be empty"));
    }
    Ok(())
}

/// A create request that passed [`validate_create`], with what validation parsed.
/// `CloudClient::create_instance` takes only this, so every create is validated exactly once.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidCreate {
    attrs: CreateInstanceAttrs,
    public_key: PublicKey,
    user_data: Option<Vec<u8>>,
    ingress: Vec<CheckedRule>,
    egress: Vec<CheckedRule>,
    hostname: String,
}

impl ValidCreate {
    /// The request, normalized: the public key in OpenSSH form (a PEM key is converted).
    pub fn attrs(&self) -> &CreateInstanceAttrs {
        &self.attrs
    }

    /// The parsed public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The decoded user data; `None` when none was given.
    pub fn user_data(&self) -> Option<&[u8]> {
        self.user_data.as_deref()
    }

    /// The checked ingress rules, in request order.
    pub fn ingress_rules(&self) -> &[CheckedRule] {
        &self.ingress
    }

    /// The checked egress rules: empty unless the provider declares egress filtering (allow-all
    /// rules change nothing and are dropped).
    pub fn egress_rules(&self) -> &[CheckedRule] {
        &self.egress
    }

    /// The user tags (checked; no reserved key).
    pub fn tags(&self) -> &Tags {
        &self.attrs.tags
    }

    /// The host name every provider gives the instance ([`instance_hostname`]).
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// The request, normalized, giving up what validation parsed.
    pub fn into_attrs(self) -> CreateInstanceAttrs {
        self.attrs
    }
}

/// Checks every field of `attrs` against the rules and the provider's `features`, and returns
/// what it found: the request normalized and its parts parsed.
pub fn validate_create(
    attrs: &CreateInstanceAttrs,
    features: &CreateFeatures,
) -> Result<ValidCreate> {
    let mut normalized = attrs.clone();

    check_identifier("ref_id", &attrs.ref_id, MAX_REF_ID_LEN, true)?;
    check_identifier("instance_type", &attrs.instance_type, 128, true)?;
    check_identifier("location", &attrs.location, 64, false)?;
    check_identifier("sub_location", &attrs.sub_location, 64, false)?;
    check_name("name", &attrs.name)?;
    if let Some(key_name) = &attrs.key_pair_name {
        check_identifier("key_pair_name", key_name, 64, true)?;
    }

    let public_key =
        parse_public_key(&attrs.public_key).map_err(|problem| invalid("public_key", problem))?;
    normalized.public_key = public_key.to_openssh();

    let user_data = if attrs.user_data_base64.trim().is_empty() {
        None
    } else {
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
        Some(decoded)
    };

    check_tags(&attrs.tags)?;
    if !attrs.tags.is_empty() && !features.tags {
        return Err(unsupported("tags"));
    }

    let (ingress, egress) = check_rules(
        "firewall_rules",
        &attrs.firewall_rules,
        features.egress_filtering,
    )?;
    let any_rule = !(ingress.is_empty() && egress.is_empty());
    if any_rule && !features.firewall_rules {
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

    let hostname = instance_hostname(&attrs.name, &attrs.ref_id);
    Ok(ValidCreate {
        attrs: normalized,
        public_key,
        user_data,
        ingress,
        egress,
        hostname,
    })
}

/// Validates `attrs` against `client`'s create features and creates the instance: the one
/// call for callers that do not need the validated request themselves.
pub async fn validate_and_create<C: CloudClient + ?Sized>(
    client: &C,
    attrs: &CreateInstanceAttrs,
) -> Result<Instance> {
    let create = validate_create(attrs, &client.create_features())?;
    client.create_instance(create).await
}

/// A tag update that passed [`validate_tag_update`]; `InstanceTags::update_instance_tags`
/// takes only this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidTagUpdate {
    instance_id: InstanceId,
    tags: Tags,
}

impl ValidTagUpdate {
    /// The instance.
    pub fn instance_id(&self) -> &InstanceId {
        &self.instance_id
    }

    /// The complete new set of user tags (checked; no reserved key).
    pub fn tags(&self) -> &Tags {
        &self.tags
    }
}

/// Checks a tag update: an instance id and every tag.
pub fn validate_tag_update(args: &UpdateInstanceTagsArgs) -> Result<ValidTagUpdate> {
    check_instance_id(&args.instance_id)?;
    check_tags(&args.tags)?;
    Ok(ValidTagUpdate {
        instance_id: args.instance_id.clone(),
        tags: args.tags.clone(),
    })
}

/// Rules to add that passed [`validate_firewall_add`]; `ModifyFirewall::add_firewall_rules`
/// takes only this. Adding is idempotent (see [`crate::model::firewall`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidFirewallAdd {
    instance_id: InstanceId,
    ingress: Vec<CheckedRule>,
    egress: Vec<CheckedRule>,
}

impl ValidFirewallAdd {
    /// The instance.
    pub fn instance_id(&self) -> &InstanceId {
        &self.instance_id
    }

    /// The checked ingress rules, in request order.
    pub fn ingress_rules(&self) -> &[CheckedRule] {
        &self.ingress
    }

    /// The checked egress rules: empty unless the provider declares egress filtering.
    pub fn egress_rules(&self) -> &[CheckedRule] {
        &self.egress
    }
}

/// Checks rules to add against the documented rule and egress behaviour, for a provider with
/// these `features` (only `egress_filtering` matters here).
pub fn validate_firewall_add(
    args: &AddFirewallRulesToInstanceArgs,
    features: &CreateFeatures,
) -> Result<ValidFirewallAdd> {
    check_instance_id(&args.instance_id)?;
    let (ingress, egress) = check_rules(
        "firewall_rules",
        &args.firewall_rules,
        features.egress_filtering,
    )?;
    Ok(ValidFirewallAdd {
        instance_id: args.instance_id.clone(),
        ingress,
        egress,
    })
}

/// Rule ids to revoke that passed [`validate_firewall_revoke`];
/// `ModifyFirewall::revoke_firewall_rules` takes only this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidFirewallRevoke {
    instance_id: InstanceId,
    rule_ids: Vec<String>,
}

impl ValidFirewallRevoke {
    /// The instance.
    pub fn instance_id(&self) -> &InstanceId {
        &self.instance_id
    }

    /// The ids to remove, as reported in `Instance::firewall_rules`; none empty, no repeats.
    pub fn rule_ids(&self) -> &[String] {
        &self.rule_ids
    }
}

/// Checks a revoke: an instance id and at least one rule id, none empty or repeated.
pub fn validate_firewall_revoke(args: &RevokeSecurityGroupRuleArgs) -> Result<ValidFirewallRevoke> {
    check_instance_id(&args.instance_id)?;
    if args.security_group_rule_ids.is_empty() {
        return Err(invalid(
            "security_group_rule_ids",
            "must name at least one rule",
        ));
    }
    for (i, id) in args.security_group_rule_ids.iter().enumerate() {
        let field = format!("security_group_rule_ids[{i}]");
        if id.trim().is_empty() {
            return Err(invalid(field, "must not be empty"));
        }
        if args.security_group_rule_ids[..i].contains(id) {
            return Err(invalid(field, format!("repeats {id:?}")));
        }
    }
    Ok(ValidFirewallRevoke {
        instance_id: args.instance_id.clone(),
        rule_ids: args.security_group_rule_ids.clone(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::bytes::{Bytes, BytesUnit};
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
        CreateFeatures::ALL
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
        assert!(normalized.attrs().public_key.starts_with("ssh-rsa AAAA"));
        assert_eq!(normalized.public_key().algorithm, "ssh-rsa");
    }

    #[test]
    fn carries_what_it_parsed() {
        let mut attrs = good();
        attrs.name = "Train Job #1".into();
        attrs.user_data_base64 = "ZWNobyBoaQo=".into();
        attrs.firewall_rules = ingress(FirewallRule::range(
            8000,
            8100,
            vec!["10.1.0.0/8".into(), "10.0.0.0/8".into()],
        ));
        let valid = validate_create(&attrs, &all_features()).unwrap();
        assert_eq!(valid.user_data(), Some(&b"echo hi\n"[..]));
        assert_eq!(valid.public_key().comment, "test@gpucloud");
        assert_eq!(valid.hostname(), "train-job-1");
        assert_eq!(valid.ingress_rules().len(), 2);
        let ranges: Vec<String> = valid.ingress_rules()[1]
            .sources()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(ranges, vec!["10.0.0.0/8", "10.0.0.0/8"]);
        assert!(valid.egress_rules().is_empty());
        assert_eq!(
            validate_create(&good(), &all_features())
                .unwrap()
                .user_data(),
            None
        );
    }

    #[test]
    fn egress_is_allow_all_unless_the_provider_filters_it() {
        let no_egress_filter = CreateFeatures {
            egress_filtering: false,
            ..all_features()
        };
        let mut attrs = good();
        attrs.firewall_rules.egress_rules = vec![
            FirewallRule::range(1, 65535, vec![]),
            FirewallRule::range(1, 65535, vec!["0.0.0.0/0".into(), "::/0".into()]),
        ];
        let valid = validate_create(&attrs, &no_egress_filter).unwrap();
        assert!(valid.egress_rules().is_empty());

        attrs
            .firewall_rules
            .egress_rules
            .push(FirewallRule::port(443));
        let err = validate_create(&attrs, &no_egress_filter).unwrap_err();
        assert!(
            matches!(&err, CloudError::InvalidArgument { field, problem }
                if field == "firewall_rules.egress_rules[2]" && problem.contains("outbound")),
            "{err}"
        );
        let filtered = validate_create(&attrs, &all_features()).unwrap();
        assert_eq!(filtered.egress_rules().len(), 3);

        let add = AddFirewallRulesToInstanceArgs {
            instance_id: InstanceId::new("i-1"),
            firewall_rules: attrs.firewall_rules.clone(),
        };
        assert!(validate_firewall_add(&add, &no_egress_filter).is_err());
        assert_eq!(
            validate_firewall_add(&add, &all_features())
                .unwrap()
                .egress_rules()
                .len(),
            3
        );
    }

    #[test]
    fn tag_updates_and_firewall_changes_are_validated() {
        let mut update = UpdateInstanceTagsArgs {
            instance_id: InstanceId::new("i-1"),
            tags: Tags::from([("team".into(), "ml".into())]),
        };
        assert_eq!(validate_tag_update(&update).unwrap().tags(), &update.tags);
        update.tags.insert("gpucloud-ref-id".into(), "x".into());
        assert!(validate_tag_update(&update).is_err());
        update.tags.clear();
        update.instance_id = InstanceId::new("");
        let err = validate_tag_update(&update).unwrap_err();
        assert!(err.to_string().contains("instance_id"), "{err}");

        let add = AddFirewallRulesToInstanceArgs {
            instance_id: InstanceId::new("i-1"),
            firewall_rules: ingress(FirewallRule::range(80, 80, vec!["nope".into()])),
        };
        let err = validate_firewall_add(&add, &CreateFeatures::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("firewall_rules.ingress_rules[1].ip_ranges[0]"),
            "{err}"
        );

        let mut revoke = RevokeSecurityGroupRuleArgs {
            instance_id: InstanceId::new("i-1"),
            security_group_rule_ids: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            validate_firewall_revoke(&revoke).unwrap().rule_ids(),
            ["a", "b"]
        );
        for (ids, field) in [
            (vec![], "security_group_rule_ids"),
            (vec![String::new()], "security_group_rule_ids[0]"),
            (vec!["a".into(), "a".into()], "security_group_rule_ids[1]"),
        ] {
            revoke.security_group_rule_ids = ids;
            let err = validate_firewall_revoke(&revoke).unwrap_err();
            assert!(
                matches!(&err, CloudError::InvalidArgument { field: f, .. } if f == field),
                "{err}"
            );
        }
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
                "prefix length \"33\"",
                |a| {
                    a.firewall_rules =
                        ingress(FirewallRule::range(80, 80, vec!["10.0.0.0/33".into()]));
                },
            ),
            (
                "firewall_rules.ingress_rules[1].ip_ranges[1]",
                "prefix length \"129\"",
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
