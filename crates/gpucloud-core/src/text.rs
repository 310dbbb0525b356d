//! Small text helpers every provider needs: cutting a string to a byte budget without
//! splitting a character, and lower-case hex.

use std::fmt::Write as _;

/// The longest prefix of `text` that is at most `max_bytes` bytes long and ends on a character
/// boundary. Provider limits are in bytes, and cutting inside a UTF-8 sequence would panic.
pub fn truncate(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Lower-case hex of `bytes`, two digits per byte.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            // Writing to a String cannot fail.
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn truncates_on_character_boundaries() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abc", 2), "ab");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("", 0), "");
    }

    #[test]
    fn hex_is_lower_case_and_padded() {
        assert_eq!(hex(&[0x00, 0x0f, 0xab]), "000fab");
        assert_eq!(hex(&[]), "");
    }

    proptest! {
        #[test]
        fn truncate_is_a_bounded_prefix(text in ".{0,40}", max in 0usize..50) {
            let cut = truncate(&text, max);
            prop_assert!(cut.len() <= max);
            prop_assert!(text.starts_with(cut));
            prop_assert!(cut.len() + 4 > max.min(text.len()));
        }

        #[test]
        fn hex_has_two_digits_per_byte(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let text = hex(&bytes);
            prop_assert_eq!(text.len(), bytes.len() * 2);
            prop_assert!(text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        }
    }
}
