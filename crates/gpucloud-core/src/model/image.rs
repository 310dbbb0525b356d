//! Machine images (v1 §6.13) and the image filter.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A machine image.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Image {
    /// Provider id.
    pub id: String,
    /// CPU architecture, e.g. `x86_64`.
    pub architecture: String,
    /// Description.
    pub description: String,
    /// Name.
    pub name: String,
    /// When it was created.
    pub created_at: Option<Timestamp>,
    /// Who publishes it (`self`, an account id, or the provider, e.g. `lambda`); empty when
    /// the provider does not say.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub owner: String,
    /// The image family, a name that launches the newest image of a line (e.g.
    /// `lambda-stack-24-04`); empty when the provider has none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub family: String,
}

/// Filters for listing images. Empty lists mean no restriction; an image must pass all four.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GetImageArgs {
    /// Owners (`self`, an account id, ...); `*` matches any owner.
    pub owners: Vec<String>,
    /// Architectures.
    pub architectures: Vec<String>,
    /// Name patterns matched against the whole name or family; `*` matches any run of
    /// characters.
    pub name_filters: Vec<String>,
    /// Image ids.
    pub image_ids: Vec<String>,
}

impl GetImageArgs {
    /// True when `image` passes every filter. Providers list images and keep those that
    /// match, so every provider filters the same way.
    pub fn matches(&self, image: &Image) -> bool {
        let owner_ok =
            self.owners.is_empty() || self.owners.iter().any(|o| o == "*" || *o == image.owner);
        let id_ok = self.image_ids.is_empty() || self.image_ids.contains(&image.id);
        let arch_ok =
            self.architectures.is_empty() || self.architectures.contains(&image.architecture);
        let name_ok = self.name_filters.is_empty()
            || self.name_filters.iter().any(|pattern| {
                wildcard_match(pattern, &image.name)
                    || (!image.family.is_empty() && wildcard_match(pattern, &image.family))
            });
        owner_ok && id_ok && arch_ok && name_ok
    }
}

/// `*`-wildcard match of the whole of `text`.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*`: the prefix must be the whole text.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(pos) => rest = &rest[pos + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> Image {
        Image {
            id: "img-1".into(),
            architecture: "x86_64".into(),
            name: "ubuntu-24.04".into(),
            owner: "lambda".into(),
            family: "lambda-stack-24-04".into(),
            ..Image::default()
        }
    }

    #[test]
    fn wildcards_match_whole_strings() {
        assert!(wildcard_match("ubuntu-*", "ubuntu-24.04"));
        assert!(wildcard_match("*24*", "ubuntu-24.04"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*a", "aa"));
        assert!(!wildcard_match("a*a", "a"));
        assert!(!wildcard_match("debian*", "ubuntu-24.04"));
        assert!(wildcard_match("exact", "exact") && !wildcard_match("exact", "exactly"));
    }

    #[test]
    fn every_filter_applies() {
        let img = image();
        assert!(GetImageArgs::default().matches(&img));
        let pass = [
            GetImageArgs {
                owners: vec!["*".into()],
                ..GetImageArgs::default()
            },
            GetImageArgs {
                owners: vec!["lambda".into()],
                architectures: vec!["x86_64".into()],
                image_ids: vec!["img-1".into()],
                name_filters: vec!["nothing".into(), "lambda-stack-*".into()],
            },
        ];
        for args in pass {
            assert!(args.matches(&img), "{args:?}");
        }
        let fail = [
            GetImageArgs {
                owners: vec!["self".into()],
                ..GetImageArgs::default()
            },
            GetImageArgs {
                architectures: vec!["arm64".into()],
                ..GetImageArgs::default()
            },
            GetImageArgs {
                image_ids: vec!["img-2".into()],
                ..GetImageArgs::default()
            },
            GetImageArgs {
                name_filters: vec!["debian*".into()],
                ..GetImageArgs::default()
            },
        ];
        for args in fail {
            assert!(!args.matches(&img), "{args:?}");
        }
    }
}
