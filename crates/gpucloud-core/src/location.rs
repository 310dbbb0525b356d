//! Locations (regions) and the location filter (v1 §6.10).

use serde::{Deserialize, Serialize};

/// A region.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Location {
    /// The region id, e.g. `us-west-1`.
    pub name: String,
    /// Human description, e.g. `California, USA`.
    pub description: String,
    /// Usable for new instances.
    pub available: bool,
    /// API endpoint for this region, if it has its own.
    pub endpoint: String,
    /// Ordering hint; lower first.
    pub priority: i32,
    /// ISO 3166-1 alpha-3 country code, e.g. `USA`.
    pub country: String,
}

/// Ask for locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GetLocationsArgs {
    /// Also return locations that cannot take new instances.
    pub include_unavailable: bool,
}

/// A set of allowed locations.
///
/// Empty means no restriction (unlike v1, where a non-nil empty filter excluded everything);
/// an element `all` or `*` also means no restriction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LocationsFilter(pub Vec<String>);

impl LocationsFilter {
    /// The filter that allows every location (`["all"]`).
    pub fn all() -> Self {
        Self(vec!["all".to_owned()])
    }

    /// A filter for the given locations.
    pub fn only<I, S>(locations: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(locations.into_iter().map(Into::into).collect())
    }

    /// True when the filter allows everything: empty, or any element is `all` or `*`.
    pub fn is_all(&self) -> bool {
        self.0.is_empty() || self.0.iter().any(|l| l == "all" || l == "*")
    }

    /// True when `location` passes.
    pub fn matches(&self, location: &str) -> bool {
        self.is_all() || self.0.iter().any(|l| l == location)
    }
}
