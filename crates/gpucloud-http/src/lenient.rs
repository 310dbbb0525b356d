//! Reading a provider's JSON leniently and without copying what is only looked at: the
//! pieces a catalog decoder needs on every query, shared so that each provider does not write
//! its own.
//!
//! - [`Text`]: a text field borrowed from the body (owned only when the JSON string has
//!   escapes); a number or boolean reads as its text, and `null`, an array or an object as
//!   empty, so an answer that changes a field's type stays readable.
//! - [`whole_number`]: a count read from a number or a string of one, anything else 0.
//! - [`decimal`]: an amount (a price) read from a number or a string of one, without a heap
//!   string in between; anything else is no amount.
//! - [`Each`]: a JSON array (or `null`) whose elements are folded into an accumulator as they
//!   are parsed, each borrowing from the body, so that no vector of wire values is built
//!   before the provider converts them. [`HttpClient::send_json_seed`](crate::HttpClient::send_json_seed)
//!   decodes an answer with it, and a provider's own seed can read a field with it (a page's
//!   `results`).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use compact_str::ToCompactString;
use rust_decimal::Decimal;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A text field: borrowed from the body when the JSON string has no escapes (the usual case,
/// so reading it allocates nothing), owned otherwise. A number or a boolean reads as its text
/// (a finite float as its shortest decimal text, which a price parser reads); `null`, an
/// absent field (with `#[serde(default)]`), an array and an object read as empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Text<'_> {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same text, owning its string (to keep it beyond the answer's body).
    pub fn into_owned(self) -> Text<'static> {
        Text(Cow::Owned(self.0.into_owned()))
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Text(Cow::Borrowed(s))
    }
}

impl From<String> for Text<'_> {
    fn from(s: String) -> Self {
        Text(Cow::Owned(s))
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Text<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // JSON says by itself what a value is: one look, not an option and then a string.
        d.deserialize_any(TextVisitor).map(Text)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a number, a boolean or null")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(if v.is_finite() {
            Cow::Owned(v.to_string())
        } else {
            Cow::Borrowed("")
        })
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(if v { "true" } else { "false" }))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(""))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(""))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Cow::Borrowed(""))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Cow::Borrowed(""))
    }
}

/// A whole number (`#[serde(deserialize_with = "gpucloud_http::lenient::whole_number")]`):
/// from a number or a string of one; a negative, fractional part dropped, non-finite, `null`
/// or any other shape is 0.
pub fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(WholeNumber)
}

struct WholeNumber;

impl<'de> Visitor<'de> for WholeNumber {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole number")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        Ok(u64::try_from(v).unwrap_or(0))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        // Saturating: a negative or non-finite count is no count.
        Ok(if v.is_finite() && v > 0.0 {
            v as u64
        } else {
            0
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        Ok(v.trim().parse().unwrap_or(0))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<u64, E> {
        Ok(0)
    }

    fn visit_unit<E: de::Error>(self) -> Result<u64, E> {
        Ok(0)
    }

    fn visit_none<E: de::Error>(self) -> Result<u64, E> {
        Ok(0)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(0)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(0)
    }
}

/// A decimal amount (`#[serde(deserialize_with = "gpucloud_http::lenient::decimal")]`, a
/// price per hour): from a number, or a string of one (plain or scientific, trimmed); `null`,
/// an absent field (with `#[serde(default)]`), a non-finite number, a string that is no
/// number and any other shape are `None`.
///
/// A float becomes the decimal of its shortest text (`2.5`, never `2.499999…`), written
/// inline rather than into a heap string: a catalog reads one price per type.
pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    d.deserialize_any(DecimalVisitor)
}

/// The decimal written in `text`, plainly (`2.50`) or scientifically (`1e-7`).
fn parse_decimal(text: &str) -> Option<Decimal> {
    let text = text.trim();
    text.parse()
        .ok()
        .or_else(|| Decimal::from_scientific(text).ok())
}

struct DecimalVisitor;

impl<'de> Visitor<'de> for DecimalVisitor {
    type Value = Option<Decimal>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Decimal::from(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Decimal::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // Shortest text, inline up to 24 bytes (compact_str writes floats with ryu).
        Ok(v.is_finite()
            .then(|| parse_decimal(&v.to_compact_string()))
            .flatten())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(parse_decimal(v))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// The element type of a list read with [`Each`], for every lifetime of the body it borrows
/// from (`type Item<'de> = wire::InstanceType<'de>`).
pub trait Listed {
    /// One element, borrowing from a body that lives for `'de`.
    type Item<'de>: Deserialize<'de>;
}

/// A JSON array (or `null`, an empty list) whose elements are handed to `fold` one by one as
/// they are parsed and folded into the accumulator, which is the seed's value: no vector of
/// wire values is built, and an element may borrow its strings from the body. An answer that
/// breaks off half-way fails the decoding, and the accumulator goes with it.
pub struct Each<'f, L, A, F> {
    acc: A,
    fold: &'f F,
    list: PhantomData<fn() -> L>,
}

impl<'f, L: Listed, A, F> Each<'f, L, A, F>
where
    F: for<'x> Fn(&mut A, L::Item<'x>),
{
    /// Folds every element into `acc` with `fold`.
    pub fn new(acc: A, fold: &'f F) -> Self {
        Self {
            acc,
            fold,
            list: PhantomData,
        }
    }
}

impl<'de, L: Listed, A, F> DeserializeSeed<'de> for Each<'_, L, A, F>
where
    F: for<'x> Fn(&mut A, L::Item<'x>),
{
    type Value = A;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<A, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, L: Listed, A, F> Visitor<'de> for Each<'_, L, A, F>
where
    F: for<'x> Fn(&mut A, L::Item<'x>),
{
    type Value = A;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<A, E> {
        Ok(self.acc)
    }

    fn visit_unit<E: de::Error>(self) -> Result<A, E> {
        Ok(self.acc)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<A, D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<S: SeqAccess<'de>>(mut self, mut seq: S) -> Result<A, S::Error> {
        while let Some(element) = seq.next_element::<L::Item<'de>>()? {
            (self.fold)(&mut self.acc, element);
        }
        Ok(self.acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Entry<'a> {
        #[serde(borrow, default)]
        name: Text<'a>,
        #[serde(default, deserialize_with = "whole_number")]
        count: u64,
    }

    struct Entries;

    impl Listed for Entries {
        type Item<'de> = Entry<'de>;
    }

    #[test]
    fn text_borrows_plain_strings_and_reads_other_shapes_leniently() {
        let body = r#"[{"name": "plain"}, {"name": "esc\"aped"}, {"name": 2.5}, {"name": 7},
            {"name": true}, {"name": null}, {"name": [1]}, {"name": {"a": 1}}, {}]"#;
        let names: Vec<Text<'_>> = serde_json::from_str::<Vec<Entry<'_>>>(body)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert!(matches!(names[0].0, Cow::Borrowed("plain")));
        assert!(matches!(names[1].0, Cow::Owned(_)));
        let texts: Vec<&str> = names.iter().map(Text::as_str).collect();
        assert_eq!(
            texts,
            ["plain", "esc\"aped", "2.5", "7", "true", "", "", "", ""]
        );
    }

    #[test]
    fn whole_numbers_come_from_numbers_and_their_text_and_nothing_else() {
        let body = r#"[{"count": 3}, {"count": "12"}, {"count": -4}, {"count": 2.9},
            {"count": "x"}, {"count": null}, {"count": [1]}, {}]"#;
        let counts: Vec<u64> = serde_json::from_str::<Vec<Entry<'_>>>(body)
            .unwrap()
            .into_iter()
            .map(|e| e.count)
            .collect();
        assert_eq!(counts, [3, 12, 0, 2, 0, 0, 0, 0]);
    }

    #[test]
    fn decimals_come_from_numbers_and_their_text_at_their_shortest_and_nothing_else() {
        #[derive(Deserialize)]
        struct Priced {
            #[serde(default, deserialize_with = "decimal")]
            amount: Option<Decimal>,
        }
        let body = r#"[{"amount": 2.5}, {"amount": 0.1}, {"amount": 2.49}, {"amount": 3},
            {"amount": -1}, {"amount": 1e-7}, {"amount": 12345678.123456},
            {"amount": " 23.325 "}, {"amount": "2.50"}, {"amount": "1e2"}, {"amount": "x"},
            {"amount": true}, {"amount": null}, {"amount": [1]}, {"amount": {"a": 1}}, {}]"#;
        let amounts: Vec<Option<String>> = serde_json::from_str::<Vec<Priced>>(body)
            .unwrap()
            .into_iter()
            .map(|p| p.amount.map(|a| a.to_string()))
            .collect();
        let expected = [
            Some("2.5"),
            Some("0.1"),
            Some("2.49"),
            Some("3"),
            Some("-1"),
            Some("0.0000001"),
            Some("12345678.123456"),
            Some("23.325"),
            Some("2.50"),
            Some("100"),
            None,
            None,
            None,
            None,
            None,
            None,
        ];
        let expected: Vec<Option<String>> = expected.iter().map(|e| e.map(str::to_owned)).collect();
        assert_eq!(amounts, expected);
    }

    #[test]
    fn each_folds_elements_as_they_are_parsed_and_null_is_empty() {
        let fold = |acc: &mut Vec<String>, e: Entry<'_>| {
            if e.count > 1 {
                acc.push(e.name.as_str().to_owned());
            }
        };
        let seed = || Each::<Entries, _, _>::new(Vec::new(), &fold);
        let mut de = serde_json::Deserializer::from_str(
            r#"[{"name": "a", "count": 2}, {"name": "b", "count": 1}, {"name": "c", "count": "5"}]"#,
        );
        assert_eq!(seed().deserialize(&mut de).unwrap(), ["a", "c"]);
        let mut de = serde_json::Deserializer::from_str("null");
        assert!(seed().deserialize(&mut de).unwrap().is_empty());
        let mut de = serde_json::Deserializer::from_str(r#"[{"name": "a", "count": 2}, {"#);
        assert!(seed().deserialize(&mut de).is_err());
        let mut de = serde_json::Deserializer::from_str(r#"{"name": "a"}"#);
        assert!(seed().deserialize(&mut de).is_err());
    }
}
