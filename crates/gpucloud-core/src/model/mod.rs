//! The v1 data model: plain serde types, stable snake_case field names, lenient on input
//! (unknown fields ignored, absent fields defaulted).

pub mod firewall;
pub mod image;
pub mod instance;
pub mod instance_type;
pub mod kubernetes;
pub mod network;
pub mod storage;

/// `Option<Duration>` as whole seconds (`null` when absent).
pub(crate) mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[allow(clippy::ref_option)] // serde's `with` passes `&Option<T>`
    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        value.map(|d| d.as_secs_f64()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let secs = Option::<f64>::deserialize(d)?;
        Ok(secs
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(1e12))))
    }
}
