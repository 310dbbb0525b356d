//! The bookkeeping-tag codec: how a provider that stores gpucloud's own data (RefID,
//! credential reference, creation time) in instance tags writes, reads and hides it.
//!
//! Every key starts with [`RESERVED_TAG_PREFIX`], which validation refuses in user tags, so a
//! user tag can never be mistaken for bookkeeping, and stripping removes every reserved key,
//! including ones a newer version may add.

use jiff::Timestamp;

use crate::model::instance::Tags;
pub use crate::validate::RESERVED_TAG_PREFIX;

/// Tag holding the control plane's RefID of the instance.
pub const REF_ID_TAG: &str = "gpucloud-ref-id";
/// Tag holding the reference id of the credential that created the instance.
pub const CRED_REF_ID_TAG: &str = "gpucloud-cred-ref-id";
/// Tag holding the creation time (RFC 3339), for providers that do not report it.
pub const CREATED_AT_TAG: &str = "gpucloud-created-at";

/// True when `key` is reserved for bookkeeping (starts with [`RESERVED_TAG_PREFIX`]).
pub fn is_reserved(key: &str) -> bool {
    key.starts_with(RESERVED_TAG_PREFIX)
}

/// Removes every reserved key from `tags`, leaving the user's tags.
pub fn strip(tags: &mut Tags) {
    tags.retain(|key, _| !is_reserved(key));
}

/// True when an instance carrying the credential mark `mark` (the value of
/// [`CRED_REF_ID_TAG`] or the provider's record of it; empty when it carries none) was
/// created by the credential whose reference id is `credential`. An instance without a mark
/// belongs to no credential, whatever `credential` is.
pub fn is_marked_by(mark: &str, credential: &str) -> bool {
    !mark.is_empty() && mark == credential
}

/// What gpucloud persists on every instance it creates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bookkeeping {
    /// The control plane's RefID.
    pub ref_id: String,
    /// The reference id of the credential that created the instance.
    pub cred_ref_id: String,
    /// When the instance was created, to the second.
    pub created_at: Option<Timestamp>,
}

impl Bookkeeping {
    /// The bookkeeping as tags, in a fixed order (RefID, credential, creation time); empty
    /// fields are left out, and the time is written to the second.
    pub fn encode(&self) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(3);
        if !self.ref_id.is_empty() {
            out.push((REF_ID_TAG.to_owned(), self.ref_id.clone()));
        }
        if !self.cred_ref_id.is_empty() {
            out.push((CRED_REF_ID_TAG.to_owned(), self.cred_ref_id.clone()));
        }
        if let Some(at) = self.created_at {
            let at = at.round(jiff::Unit::Second).unwrap_or(at);
            out.push((CREATED_AT_TAG.to_owned(), at.to_string()));
        }
        out
    }

    /// [`Self::encode`] followed by the user tags: everything to store on a new instance.
    pub fn encode_with(&self, user: &Tags) -> Vec<(String, String)> {
        let mut out = self.encode();
        out.extend(user.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    /// Reads the bookkeeping out of an instance's tags and returns it with the user tags
    /// (every reserved key stripped). A creation time that does not parse is ignored, since
    /// tags on a provider can be edited by hand.
    pub fn decode<K, V>(tags: impl IntoIterator<Item = (K, V)>) -> (Self, Tags)
    where
        K: Into<String> + AsRef<str>,
        V: Into<String> + AsRef<str>,
    {
        let mut found = Self::default();
        let mut user = Tags::new();
        for (key, value) in tags {
            match key.as_ref() {
                REF_ID_TAG => found.ref_id = value.into(),
                CRED_REF_ID_TAG => found.cred_ref_id = value.into(),
                CREATED_AT_TAG => found.created_at = value.as_ref().parse().ok(),
                k if is_reserved(k) => {}
                _ => {
                    user.insert(key.into(), value.into());
                }
            }
        }
        (found, user)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn only_a_matching_mark_is_this_credentials() {
        assert!(is_marked_by("cred-1", "cred-1"));
        assert!(!is_marked_by("cred-2", "cred-1"));
        assert!(!is_marked_by("", "cred-1"));
        assert!(
            !is_marked_by("", ""),
            "an unmarked instance belongs to no credential"
        );
    }

    #[test]
    fn keys_carry_the_reserved_prefix() {
        for key in [REF_ID_TAG, CRED_REF_ID_TAG, CREATED_AT_TAG] {
            assert!(is_reserved(key), "{key}");
        }
    }

    #[test]
    fn decode_reads_bookkeeping_and_strips_reserved_keys() {
        let tags = [
            ("gpucloud-ref-id", "ref-1"),
            ("gpucloud-cred-ref-id", "cred-1"),
            ("gpucloud-created-at", "2025-01-02T03:04:05Z"),
            ("gpucloud-future", "x"),
            ("team", "ml"),
        ];
        let (found, user) = Bookkeeping::decode(tags);
        assert_eq!(found.ref_id, "ref-1");
        assert_eq!(found.cred_ref_id, "cred-1");
        assert_eq!(
            found.created_at,
            Some("2025-01-02T03:04:05Z".parse().unwrap())
        );
        assert_eq!(user, Tags::from([("team".into(), "ml".into())]));

        let (found, _) = Bookkeeping::decode([("gpucloud-created-at", "yesterday")]);
        assert_eq!(found.created_at, None);
    }

    #[test]
    fn encode_leaves_out_empty_fields_and_rounds_time() {
        let b = Bookkeeping {
            ref_id: "r".into(),
            cred_ref_id: String::new(),
            created_at: Some("2025-01-02T03:04:05.6Z".parse().unwrap()),
        };
        assert_eq!(
            b.encode(),
            vec![
                (REF_ID_TAG.to_owned(), "r".to_owned()),
                (CREATED_AT_TAG.to_owned(), "2025-01-02T03:04:06Z".to_owned()),
            ]
        );
    }

    fn user_tags() -> impl Strategy<Value = Tags> {
        proptest::collection::btree_map("[a-z][a-z0-9:-]{0,12}", "[ -~]{0,16}", 0..5)
            .prop_map(|tags| tags.into_iter().filter(|(k, _)| !is_reserved(k)).collect())
    }

    proptest! {
        #[test]
        fn round_trip(
            ref_id in "[a-zA-Z0-9_.:@-]{0,20}",
            cred in "[a-zA-Z0-9_.:@-]{0,20}",
            secs in proptest::option::of(0i64..4_000_000_000),
            user in user_tags(),
        ) {
            let b = Bookkeeping {
                ref_id,
                cred_ref_id: cred,
                created_at: secs.map(|s| Timestamp::from_second(s).unwrap()),
            };
            let (back, back_user) = Bookkeeping::decode(b.encode_with(&user));
            prop_assert_eq!(back, b);
            prop_assert_eq!(back_user, user);
        }

        #[test]
        fn strip_keeps_exactly_the_user_tags(user in user_tags(), junk in "[a-z-]{0,8}") {
            let mut tags = user.clone();
            tags.insert(format!("{RESERVED_TAG_PREFIX}{junk}"), "x".into());
            tags.insert(REF_ID_TAG.into(), "r".into());
            strip(&mut tags);
            prop_assert_eq!(tags, user);
        }
    }
}
