//! Upstream regions → gpucloud locations, by rule.
//!
//! LaunchPad names a region as its upstream does: cloud-style names (`us-east-1`,
//! `eu-north1`, `us-tx-1`) and NVIDIA's own sites by airport code (`pdx`, `sjc`). New regions
//! appear without notice, so the location is read from the name:
//!
//! 1. A three-letter name is an airport code: [`AIRPORTS`] gives its location; one the table
//!    does not know yet is in [`UNPLACED`].
//! 2. A cloud-style name `<area>-<rest>` with an area of [`AREAS`] (`us`, `eu`, `ap`, ...):
//!    the trailing numbering goes (`-1`, the `1` of `north1`), then a direction word
//!    (`east`, `north`, `central`, ...) gives `<area>-<direction>`; in the USA a state code
//!    (`tx`, `az`) is placed by [`US_STATES`], and a US name the tables do not place is in
//!    `us` (never a location of its own, and never a guess of the wrong coast). Any other
//!    area is the area alone (`eu`).
//! 3. Anything else is in [`UNPLACED`].
//!
//! The region itself, as LaunchPad spells it, is the entry's `sub_location`.

use gpucloud_core::CompactString;

/// The location of regions whose name says no place the tables know.
pub(crate) const UNPLACED: &str = "other";

/// The location of US regions the tables do not place.
pub(crate) const US_UNPLACED: &str = "us";

/// Airport codes of NVIDIA's sites → location.
pub(crate) const AIRPORTS: &[(&str, &str)] = &[
    ("pdx", "us-west"),
    ("sjc", "us-west"),
    ("sea", "us-west"),
    ("lax", "us-west"),
    ("phx", "us-west"),
    ("las", "us-west"),
    ("den", "us-west"),
    ("dfw", "us-south"),
    ("aus", "us-south"),
    ("hou", "us-south"),
    ("ord", "us-central"),
    ("msp", "us-central"),
    ("iad", "us-east"),
    ("atl", "us-east"),
    ("jfk", "us-east"),
    ("bos", "us-east"),
    ("yyz", "ca-central"),
    ("ams", "eu-west"),
    ("lhr", "eu-west"),
    ("cdg", "eu-west"),
    ("fra", "eu-central"),
    ("arn", "eu-north"),
    ("hel", "eu-north"),
    ("tlv", "me-central"),
    ("nrt", "ap-northeast"),
    ("icn", "ap-northeast"),
    ("tpe", "ap-east"),
    ("sin", "ap-southeast"),
    ("syd", "ap-southeast"),
    ("bom", "ap-south"),
];

/// First words of cloud-style region names.
pub(crate) const AREAS: &[&str] = &[
    "us", "ca", "eu", "europe", "uk", "ap", "asia", "me", "sa", "af", "jp", "in", "au",
];

/// Direction words of cloud-style region names.
pub(crate) const DIRECTIONS: &[&str] = &[
    "east",
    "west",
    "north",
    "south",
    "central",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
    "northcentral",
    "southcentral",
    "westcentral",
];

/// US state codes in region names (`us-tx-1`) → location, by the same grouping as
/// Shadeform's: `us-east` the Atlantic states, Ohio and West Virginia; `us-central` the
/// Midwest and the Plains; `us-south` Texas, Oklahoma, Louisiana and Arkansas; `us-west` the
/// Mountain and Pacific states.
pub(crate) const US_STATES: &[(&str, &str)] = &[
    ("va", "us-east"),
    ("ny", "us-east"),
    ("nj", "us-east"),
    ("ga", "us-east"),
    ("nc", "us-east"),
    ("oh", "us-east"),
    ("pa", "us-east"),
    ("ma", "us-east"),
    ("fl", "us-east"),
    ("il", "us-central"),
    ("ia", "us-central"),
    ("mo", "us-central"),
    ("mn", "us-central"),
    ("ks", "us-central"),
    ("ne", "us-central"),
    ("tx", "us-south"),
    ("ok", "us-south"),
    ("la", "us-south"),
    ("ar", "us-south"),
    ("az", "us-west"),
    ("ca", "us-west"),
    ("or", "us-west"),
    ("wa", "us-west"),
    ("nv", "us-west"),
    ("ut", "us-west"),
    ("co", "us-west"),
];

/// The gpucloud location of LaunchPad region `region` (see the module docs). Inline text: a
/// catalog asks once per entry, and no location is longer than 24 bytes.
pub(crate) fn location_of(region: &str) -> CompactString {
    let mut name = CompactString::from(region.trim());
    name.make_ascii_lowercase();
    if name.len() == 3 && name.chars().all(|c| c.is_ascii_alphabetic()) {
        return CompactString::const_new(
            AIRPORTS
                .iter()
                .find(|(code, _)| *code == name)
                .map_or(UNPLACED, |(_, l)| *l),
        );
    }
    let mut words = name.split('-').filter(|w| !w.is_empty());
    let Some(area) = words.next().filter(|a| AREAS.contains(a)) else {
        return CompactString::const_new(UNPLACED);
    };
    let Some(second) = words
        .next()
        .map(|w| w.trim_end_matches(|c: char| c.is_ascii_digit()))
    else {
        return if area == "us" {
            CompactString::const_new(US_UNPLACED)
        } else {
            area.into()
        };
    };
    if DIRECTIONS.contains(&second) {
        return CompactString::from(area) + "-" + second;
    }
    if area == "us" {
        return CompactString::const_new(
            US_STATES
                .iter()
                .find(|(state, _)| *state == second)
                .map_or(US_UNPLACED, |(_, l)| *l),
        );
    }
    area.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_name_has_its_location_and_unknown_ones_join_a_shared_one() {
        for (region, location) in [
            ("pdx", "us-west"),
            ("SJC", "us-west"),
            ("us-tx-1", "us-south"),
            ("us-az-1", "us-west"),
            ("us-east-1", "us-east"),
            ("us-west-2", "us-west"),
            ("eu-north1", "eu-north"),
            ("europe-west4", "europe-west"),
            ("ap-southeast-1", "ap-southeast"),
            ("us-zz-9", "us"),
            ("us", "us"),
            ("eu-9", "eu"),
            ("xyz", "other"),
            ("mars-base-1", "other"),
            ("", "other"),
        ] {
            assert_eq!(location_of(region), location, "{region}");
        }
        for (code, location) in AIRPORTS {
            assert_eq!(location_of(code), *location);
        }
        for (state, location) in US_STATES {
            assert_eq!(location_of(&format!("us-{state}-1")), *location);
        }
    }
}
