//! Machine images (v1 §6.13).

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
}

/// Filters for listing images. Empty lists mean no restriction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GetImageArgs {
    /// Owners (`self`, an account id, ...).
    pub owners: Vec<String>,
    /// Architectures.
    pub architectures: Vec<String>,
    /// Name patterns; `*` matches any run of characters.
    pub name_filters: Vec<String>,
    /// Image ids.
    pub image_ids: Vec<String>,
}
