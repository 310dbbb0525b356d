//! Upstream regions → gpucloud locations, by rule.
//!
//! Shadeform names each offer's region as `<city>-<country>-<n>` (`dallas-usa-3`,
//! `paris-france-5`), and a few older ones as their upstream cloud did (`canada-1`,
//! `us-east-1a`, `us-northcentral1-a`). New regions appear every month, so a table of regions
//! would always be behind: the location is read from the name instead.
//!
//! 1. The trailing numbering goes (`-3`, `-1a`, `-a`, and the digits of `northcentral1`).
//! 2. A name that ends in a country ([`COUNTRIES`]) is in that country's location; in the USA
//!    the city says which of `us-east`, `us-central`, `us-south` and `us-west`
//!    ([`US_CITIES`]), and a city the table does not know yet is in `us`, the location of US
//!    regions not placed yet (never a location of its own, and never a guess of the wrong
//!    coast).
//! 3. A name that starts with an area and a direction (`us-east`, `europe-central`,
//!    `asia-northeast`) is in that area's location ([`AREAS`]); `us` with no known direction
//!    is in `us`.
//! 4. A name of two or more words ending in a country the table does not know yet
//!    (`lagos-nigeria-1`) is in a location named after that country (`nigeria`), which every
//!    later region of that country joins.
//! 5. Anything else is in `other`.
//!
//! So a region nobody has listed yet never becomes a location of its own, and a new row only
//! ever moves the regions of one city or one country.

use std::borrow::Cow;

use gpucloud_core::SmallVec;

/// The location of US regions whose city [`US_CITIES`] does not know yet.
pub(crate) const US_UNPLACED: &str = "us";

/// The location of regions whose name says neither a country nor an area.
pub(crate) const UNPLACED: &str = "other";

/// Countries as Shadeform spells them in region names → ISO 3166-1 alpha-3 code and
/// location. The USA is placed by city ([`US_CITIES`]).
pub(crate) const COUNTRIES: &[(&str, &str, &str)] = &[
    ("usa", "USA", US_UNPLACED),
    ("canada", "CAN", "ca-central"),
    ("uk", "GBR", "eu-west"),
    ("ireland", "IRL", "eu-west"),
    ("france", "FRA", "eu-west"),
    ("netherlands", "NLD", "eu-west"),
    ("belgium", "BEL", "eu-west"),
    ("spain", "ESP", "eu-south"),
    ("portugal", "PRT", "eu-south"),
    ("italy", "ITA", "eu-south"),
    ("germany", "DEU", "eu-central"),
    ("poland", "POL", "eu-central"),
    ("switzerland", "CHE", "eu-central"),
    ("austria", "AUT", "eu-central"),
    ("czechia", "CZE", "eu-central"),
    ("norway", "NOR", "eu-north"),
    ("sweden", "SWE", "eu-north"),
    ("finland", "FIN", "eu-north"),
    ("denmark", "DNK", "eu-north"),
    ("iceland", "ISL", "eu-north"),
    ("japan", "JPN", "ap-northeast"),
    ("korea", "KOR", "ap-northeast"),
    ("taiwan", "TWN", "ap-east"),
    ("hongkong", "HKG", "ap-east"),
    ("singapore", "SGP", "ap-southeast"),
    ("australia", "AUS", "ap-southeast"),
    ("india", "IND", "ap-south"),
    ("israel", "ISR", "me-central"),
    ("uae", "ARE", "me-central"),
    ("brazil", "BRA", "sa-east"),
    ("southafrica", "ZAF", "af-south"),
];

/// US cities as Shadeform spells them (one word) → state and location. The locations group
/// states: `us-east` the Atlantic states, Ohio and West Virginia; `us-central` the Midwest and
/// the Plains; `us-south` Texas, Oklahoma, Louisiana and Arkansas; `us-west` the Mountain and
/// Pacific states. A new city is one row, its state deciding the location.
pub(crate) const US_CITIES: &[(&str, &str, &str)] = &[
    ("ashburn", "VA", "us-east"),
    ("atlanta", "GA", "us-east"),
    ("baltimore", "MD", "us-east"),
    ("beltsville", "MD", "us-east"),
    ("boston", "MA", "us-east"),
    ("charlotte", "NC", "us-east"),
    ("columbus", "OH", "us-east"),
    ("culpeper", "VA", "us-east"),
    ("dulles", "VA", "us-east"),
    ("manassas", "VA", "us-east"),
    ("miami", "FL", "us-east"),
    ("newark", "NJ", "us-east"),
    ("newyork", "NY", "us-east"),
    ("philadelphia", "PA", "us-east"),
    ("pittsburgh", "PA", "us-east"),
    ("raleigh", "NC", "us-east"),
    ("reston", "VA", "us-east"),
    ("richmond", "VA", "us-east"),
    ("secaucus", "NJ", "us-east"),
    ("chicago", "IL", "us-central"),
    ("desmoines", "IA", "us-central"),
    ("detroit", "MI", "us-central"),
    ("indianapolis", "IN", "us-central"),
    ("kansascity", "MO", "us-central"),
    ("minneapolis", "MN", "us-central"),
    ("omaha", "NE", "us-central"),
    ("stlouis", "MO", "us-central"),
    ("wichita", "KS", "us-central"),
    ("austin", "TX", "us-south"),
    ("dallas", "TX", "us-south"),
    ("houston", "TX", "us-south"),
    ("oklahomacity", "OK", "us-south"),
    ("sanantonio", "TX", "us-south"),
    ("albuquerque", "NM", "us-west"),
    ("boise", "ID", "us-west"),
    ("casper", "WY", "us-west"),
    ("denver", "CO", "us-west"),
    ("hillsboro", "OR", "us-west"),
    ("lasvegas", "NV", "us-west"),
    ("losangeles", "CA", "us-west"),
    ("phoenix", "AZ", "us-west"),
    ("portland", "OR", "us-west"),
    ("quincy", "WA", "us-west"),
    ("reno", "NV", "us-west"),
    ("saltlakecity", "UT", "us-west"),
    ("sanfrancisco", "CA", "us-west"),
    ("sanjose", "CA", "us-west"),
    ("santaclara", "CA", "us-west"),
    ("seattle", "WA", "us-west"),
];

/// Area and direction at the start of a cloud-style name (`us-east-1`,
/// `us-northcentral1-a`, `europe-central-1`) → location and country (empty when the area
/// spans several).
pub(crate) const AREAS: &[(&str, &str, &str, &str)] = &[
    ("us", "east", "us-east", "USA"),
    ("us", "northeast", "us-east", "USA"),
    ("us", "southeast", "us-east", "USA"),
    ("us", "central", "us-central", "USA"),
    ("us", "northcentral", "us-central", "USA"),
    ("us", "midwest", "us-central", "USA"),
    ("us", "south", "us-south", "USA"),
    ("us", "southcentral", "us-south", "USA"),
    ("us", "west", "us-west", "USA"),
    ("us", "northwest", "us-west", "USA"),
    ("us", "southwest", "us-west", "USA"),
    ("eu", "north", "eu-north", ""),
    ("eu", "west", "eu-west", ""),
    ("eu", "central", "eu-central", ""),
    ("eu", "south", "eu-south", ""),
    ("europe", "north", "eu-north", ""),
    ("europe", "west", "eu-west", ""),
    ("europe", "central", "eu-central", ""),
    ("europe", "south", "eu-south", ""),
    ("asia", "northeast", "ap-northeast", ""),
    ("asia", "southeast", "ap-southeast", ""),
    ("asia", "south", "ap-south", ""),
    ("asia", "east", "ap-east", ""),
];

/// Where a region is: its gpucloud location and, when the name says it, its country (ISO
/// 3166-1 alpha-3; empty otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place<'a> {
    pub(crate) location: Cow<'a, str>,
    pub(crate) country: &'static str,
}

impl Place<'_> {
    fn known(location: &'static str, country: &'static str) -> Self {
        Place {
            location: Cow::Borrowed(location),
            country,
        }
    }
}

/// The place of an upstream region, by the rules of the module docs. Allocates only for a
/// country no row knows (whose name, lower-cased, is the location).
pub(crate) fn place(region: &str) -> Place<'_> {
    let words = words(region);
    let Some((&last, rest)) = words.split_last() else {
        return Place::known(UNPLACED, "");
    };
    if let Some(&(_, iso, location)) = COUNTRIES
        .iter()
        .find(|(name, _, _)| last.eq_ignore_ascii_case(name))
    {
        if iso != "USA" {
            return Place::known(location, iso);
        }
        let city = US_CITIES
            .iter()
            .find(|(name, _, _)| spells(rest, name))
            .map_or(US_UNPLACED, |(_, _, location)| location);
        return Place::known(city, "USA");
    }
    if let [area, direction, ..] = words.as_slice()
        && let Some(&(_, _, location, country)) = AREAS
            .iter()
            .find(|(a, d, _, _)| area.eq_ignore_ascii_case(a) && direction.eq_ignore_ascii_case(d))
    {
        return Place::known(location, country);
    }
    if words[0].eq_ignore_ascii_case("us") {
        return Place::known(US_UNPLACED, "USA");
    }
    if rest.is_empty() {
        return Place::known(UNPLACED, "");
    }
    let location = if last.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(last.to_ascii_lowercase())
    } else {
        Cow::Borrowed(last)
    };
    Place {
        location,
        country: "",
    }
}

/// The gpucloud location of an upstream region (see [`place`]).
pub(crate) fn location_of(region: &str) -> Cow<'_, str> {
    place(region).location
}

/// The words of a region name without its numbering: the trailing `-3`, `-1a` and `-a` go,
/// then each word loses its trailing digits (`northcentral1` → `northcentral`); words of
/// anything but ASCII letters are dropped.
fn words(region: &str) -> SmallVec<[&str; 4]> {
    let mut parts: SmallVec<[&str; 4]> = region.split('-').collect();
    while parts.last().is_some_and(|p| is_numbering(p)) {
        parts.pop();
    }
    parts
        .into_iter()
        .map(|p| p.trim_end_matches(|c: char| c.is_ascii_digit()))
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphabetic()))
        .collect()
}

/// `3`, `1a`, `a`: a region's or zone's number, not a word of its place.
fn is_numbering(part: &str) -> bool {
    let digits = part.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &part[digits..];
    (digits > 0 && rest.len() <= 1 && rest.bytes().all(|b| b.is_ascii_alphabetic()))
        || (digits == 0 && rest.len() == 1 && rest.bytes().all(|b| b.is_ascii_alphabetic()))
}

/// Whether `words`, joined without separators, spell `name` (ASCII case ignored): a city
/// may be written as one word or several.
fn spells(words: &[&str], name: &str) -> bool {
    let mut rest = name;
    for word in words {
        match rest.get(..word.len()) {
            Some(head) if head.eq_ignore_ascii_case(word) => rest = &rest[word.len()..],
            _ => return false,
        }
    }
    !words.is_empty() && rest.is_empty()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The live region names issue 20 lists, with the location each must have.
    const LIVE: &[(&str, &str, &str)] = &[
        ("dallas-usa-3", "us-south", "USA"),
        ("culpeper-usa-1", "us-east", "USA"),
        ("dulles-usa-1", "us-east", "USA"),
        ("dulles-usa-4", "us-east", "USA"),
        ("paris-france-1", "eu-west", "FRA"),
        ("paris-france-5", "eu-west", "FRA"),
        ("warsaw-poland-1", "eu-central", "POL"),
        ("newyork-usa-1", "us-east", "USA"),
        ("desmoines-usa-1", "us-central", "USA"),
        ("kansascity-usa-1", "us-central", "USA"),
        ("kansascity-usa-6", "us-central", "USA"),
        ("wichita-usa-1", "us-central", "USA"),
        ("calgary-canada-1", "ca-central", "CAN"),
        ("montreal-canada-2", "ca-central", "CAN"),
        ("phoenix-usa-2", "us-west", "USA"),
        ("austin-usa-1", "us-south", "USA"),
        ("houston-usa-1", "us-south", "USA"),
        ("houston-usa-2", "us-south", "USA"),
        ("sanjose-usa-2", "us-west", "USA"),
        ("chicago-usa-2", "us-central", "USA"),
        ("chicago-usa-3", "us-central", "USA"),
        ("saltlakecity-usa-1", "us-west", "USA"),
        ("beltsville-usa-1", "us-east", "USA"),
        ("casper-usa-2", "us-west", "USA"),
        ("bangalore-india-1", "ap-south", "IND"),
        ("tokyo-japan-1", "ap-northeast", "JPN"),
        ("tokyo-japan-5", "ap-northeast", "JPN"),
    ];

    /// Older names (the API description's examples and upstream clouds' own spellings).
    const OLDER: &[(&str, &str, &str)] = &[
        ("canada-1", "ca-central", "CAN"),
        ("norway-1", "eu-north", "NOR"),
        ("iceland-1", "eu-north", "ISL"),
        ("singapore-1", "ap-southeast", "SGP"),
        ("helsinki-finland-5", "eu-north", "FIN"),
        ("stockholm-sweden-1", "eu-north", "SWE"),
        ("london-uk-1", "eu-west", "GBR"),
        ("amsterdam-netherlands-1", "eu-west", "NLD"),
        ("frankfurt-germany-1", "eu-central", "DEU"),
        ("us-east-1", "us-east", "USA"),
        ("us-east-1a", "us-east", "USA"),
        ("us-east-2", "us-east", "USA"),
        ("us-central-1", "us-central", "USA"),
        ("us-central-2", "us-central", "USA"),
        ("us-south-1", "us-south", "USA"),
        ("us-west-1", "us-west", "USA"),
        ("us-west-2", "us-west", "USA"),
        ("us-northcentral1-a", "us-central", "USA"),
        ("us-southcentral1-a", "us-south", "USA"),
        ("us-east1", "us-east", "USA"),
        ("eu-iceland1-a", "eu-north", "ISL"),
        ("europe-central-1", "eu-central", ""),
        ("asia-northeast-1", "ap-northeast", ""),
    ];

    #[test]
    fn every_live_and_older_region_has_its_location_and_country() {
        for (region, location, country) in LIVE.iter().chain(OLDER) {
            let p = place(region);
            assert_eq!(
                (p.location.as_ref(), p.country),
                (*location, *country),
                "{region}"
            );
            assert!(
                matches!(p.location, Cow::Borrowed(_)),
                "{region}: no allocation"
            );
        }
    }

    #[test]
    fn unlisted_regions_join_a_shared_location_never_one_of_their_own() {
        let cases = [
            // A US city nobody listed yet: the USA's unplaced location, whatever the number.
            ("fargo-usa-1", "us", "USA"),
            ("springfield-usa-1", "us", "USA"),
            ("springfield-usa-7", "us", "USA"),
            ("us-1", "us", "USA"),
            ("us-mountain-2", "us", "USA"),
            // Another city of a known country: the country's location.
            ("lyon-france-1", "eu-west", "FRA"),
            ("osaka-japan-3", "ap-northeast", "JPN"),
            ("vancouver-canada-1", "ca-central", "CAN"),
            // A country no row knows: one location for the whole country.
            ("lagos-nigeria-1", "nigeria", ""),
            ("abuja-nigeria-2", "nigeria", ""),
            ("Lagos-Nigeria-1", "nigeria", ""),
            // Names that say no place at all.
            ("mars-1", "other", ""),
            ("abc123", "other", ""),
            ("", "other", ""),
            ("-", "other", ""),
            ("1", "other", ""),
            ("é-ü-1", "other", ""),
        ];
        for (region, location, country) in cases {
            let p = place(region);
            assert_eq!(
                (p.location.as_ref(), p.country),
                (location, country),
                "{region:?}"
            );
        }
        for (region, _, _) in LIVE.iter().chain(OLDER) {
            assert_ne!(
                location_of(region),
                *region,
                "{region} is not its own location"
            );
        }
    }

    #[test]
    fn the_rule_ignores_case_and_the_numbering() {
        assert_eq!(location_of("Dallas-USA-3"), "us-south");
        assert_eq!(location_of("dallas-usa-12b"), "us-south");
        assert_eq!(location_of("salt-lake-city-usa-1"), "us-west");
        assert_eq!(location_of("new-york-usa-1"), "us-east");
        assert_eq!(location_of("newyorkcity-usa-1"), "us");
        assert!(is_numbering("3") && is_numbering("1a") && is_numbering("a"));
        assert!(!is_numbering("usa") && !is_numbering("1ab") && !is_numbering(""));
    }

    #[test]
    fn the_tables_are_consistent() {
        fn locations(
            rows: &[(&'static str, &'static str, &'static str)],
        ) -> BTreeSet<&'static str> {
            rows.iter().map(|(_, _, l)| *l).collect()
        }
        for (rows, name) in [(COUNTRIES, "countries"), (US_CITIES, "cities")] {
            let mut seen = BTreeSet::new();
            assert!(
                rows.iter().all(|(word, _, _)| seen.insert(*word)
                    && word.bytes().all(|b| b.is_ascii_lowercase())),
                "{name}: a word twice or not lower-case"
            );
        }
        assert_eq!(
            locations(US_CITIES),
            ["us-central", "us-east", "us-south", "us-west"].into()
        );
        for (_, iso, _) in COUNTRIES {
            assert!(iso.len() == 3 && iso.bytes().all(|b| b.is_ascii_uppercase()));
        }
        for (_, state, _) in US_CITIES {
            assert!(state.len() == 2 && state.bytes().all(|b| b.is_ascii_uppercase()));
        }
    }
}
