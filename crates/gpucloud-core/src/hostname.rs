//! The one rule that turns an instance name into a host name, so that the same name gives the
//! same host name on every provider.

/// Longest DNS label (RFC 1035).
pub const MAX_LABEL_LEN: usize = 63;

/// A DNS label from free text: ASCII letters lower-cased and digits kept, every run of other
/// characters becomes one `-`, no `-` at either end, at most [`MAX_LABEL_LEN`] characters.
/// `None` when nothing is left (no ASCII letter or digit).
///
/// `"Train Job #1"` gives `train-job-1`; `"--Ärger--"` gives `rger`.
pub fn dns_label(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len().min(MAX_LABEL_LEN));
    let mut pending_dash = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_dash && !out.is_empty() {
                if out.len() + 1 >= MAX_LABEL_LEN {
                    break;
                }
                out.push('-');
            }
            pending_dash = false;
            out.push(c.to_ascii_lowercase());
            if out.len() == MAX_LABEL_LEN {
                break;
            }
        } else {
            pending_dash = true;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The host name of an instance: the DNS label of its name, else of its RefID, else
/// `instance`. Every provider that sets a host name uses this, so a name maps to the same host
/// name everywhere.
pub fn instance_hostname(name: &str, ref_id: &str) -> String {
    dns_label(name)
        .or_else(|| dns_label(ref_id))
        .unwrap_or_else(|| "instance".to_owned())
}

/// True when `label` is a DNS label this module could produce: 1–63 lower-case ASCII letters,
/// digits and `-`, not starting or ending with `-`, no `--`.
pub fn is_dns_label(label: &str) -> bool {
    (1..=MAX_LABEL_LEN).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
        && !label.contains("--")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn names_become_labels() {
        let cases = [
            ("Train Job #1", Some("train-job-1")),
            ("My Box_01", Some("my-box-01")),
            ("--Ärger--", Some("rger")),
            ("web-1", Some("web-1")),
            ("a  b", Some("a-b")),
            ("!!!", None),
            ("", None),
        ];
        for (name, label) in cases {
            assert_eq!(dns_label(name).as_deref(), label, "{name:?}");
        }
        assert_eq!(dns_label(&"a".repeat(100)).unwrap().len(), 63);
        // A dash that would land on position 63 is dropped with what follows.
        let cut = dns_label(&format!("{} b", "a".repeat(62))).unwrap();
        assert_eq!(cut, "a".repeat(62));
    }

    #[test]
    fn hostname_falls_back_to_the_ref_id() {
        assert_eq!(instance_hostname("Train Job #1", "ref-1"), "train-job-1");
        assert_eq!(instance_hostname("", "env:42"), "env-42");
        assert_eq!(instance_hostname("###", "@@@"), "instance");
    }

    #[test]
    fn label_check() {
        assert!(is_dns_label("train-job-1"));
        for bad in ["", "-a", "a-", "a--b", "A", "a_b", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn labels_are_always_valid(text in "\\PC{0,90}") {
            if let Some(label) = dns_label(&text) {
                prop_assert!(is_dns_label(&label), "{:?} -> {:?}", text, label);
            } else {
                prop_assert!(!text.chars().any(|c| c.is_ascii_alphanumeric()));
            }
            prop_assert!(is_dns_label(&instance_hostname(&text, "")));
        }

        #[test]
        fn labels_are_fixed_points(text in "[a-zA-Z0-9 #_.-]{0,80}") {
            if let Some(label) = dns_label(&text) {
                prop_assert_eq!(dns_label(&label), Some(label.clone()));
            }
        }
    }
}
