//! `Bytes`: a byte quantity that keeps the unit it was given in (v1 §3).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A decimal or binary byte unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BytesUnit {
    /// 1 byte.
    B,
    /// 1000 bytes.
    KB,
    /// 1000² bytes.
    MB,
    /// 1000³ bytes.
    GB,
    /// 1000⁴ bytes.
    TB,
    /// 1000⁵ bytes.
    PB,
    /// 1000⁶ bytes.
    EB,
    /// 1024 bytes.
    KiB,
    /// 1024² bytes.
    MiB,
    /// 1024³ bytes.
    GiB,
    /// 1024⁴ bytes.
    TiB,
    /// 1024⁵ bytes.
    PiB,
    /// 1024⁶ bytes.
    EiB,
}

impl BytesUnit {
    /// Every unit.
    pub const ALL: [BytesUnit; 13] = [
        Self::B,
        Self::KB,
        Self::MB,
        Self::GB,
        Self::TB,
        Self::PB,
        Self::EB,
        Self::KiB,
        Self::MiB,
        Self::GiB,
        Self::TiB,
        Self::PiB,
        Self::EiB,
    ];

    /// Bytes per unit.
    pub fn factor(self) -> u128 {
        match self {
            Self::B => 1,
            Self::KB => 1000,
            Self::MB => 1000u128.pow(2),
            Self::GB => 1000u128.pow(3),
            Self::TB => 1000u128.pow(4),
            Self::PB => 1000u128.pow(5),
            Self::EB => 1000u128.pow(6),
            Self::KiB => 1 << 10,
            Self::MiB => 1 << 20,
            Self::GiB => 1 << 30,
            Self::TiB => 1 << 40,
            Self::PiB => 1 << 50,
            Self::EiB => 1 << 60,
        }
    }

    /// The unit's name as v1 writes it (`GiB`, `GB`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::B => "B",
            Self::KB => "KB",
            Self::MB => "MB",
            Self::GB => "GB",
            Self::TB => "TB",
            Self::PB => "PB",
            Self::EB => "EB",
            Self::KiB => "KiB",
            Self::MiB => "MiB",
            Self::GiB => "GiB",
            Self::TiB => "TiB",
            Self::PiB => "PiB",
            Self::EiB => "EiB",
        }
    }
}

impl fmt::Display for BytesUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BytesUnit {
    type Err = BytesError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|u| u.as_str() == s)
            .ok_or(BytesError::InvalidUnit)
    }
}

/// Errors of byte quantities; the messages are v1's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BytesError {
    /// The unit is empty or unknown.
    #[error("invalid unit")]
    InvalidUnit,
    /// The text is not `<integer> <unit>`.
    #[error("invalid byte quantity")]
    InvalidFormat,
    /// The result does not fit an `i64`.
    #[error("byte count is not an int64")]
    NotAnInt64,
    /// The result does not fit an `i32`.
    #[error("byte count is not an int32")]
    NotAnInt32,
}

/// A byte quantity with its unit, e.g. `80 GB` or `1000 GiB`.
///
/// Not normalized: `10 GiB` and `10240 MiB` keep their units, and `==` compares the total byte
/// counts, so they are equal. Serialized as `{"value": 80, "unit": "GB"}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bytes {
    value: i64,
    unit: Option<BytesUnit>,
}

impl Bytes {
    /// Zero bytes, with no unit (v1's zero value).
    pub const ZERO: Bytes = Bytes {
        value: 0,
        unit: None,
    };

    /// `value` units.
    pub const fn new(value: i64, unit: BytesUnit) -> Self {
        Self {
            value,
            unit: Some(unit),
        }
    }

    /// The number of units.
    pub fn value(&self) -> i64 {
        self.value
    }

    /// The unit (`B` for the zero value).
    pub fn unit(&self) -> BytesUnit {
        self.unit.unwrap_or(BytesUnit::B)
    }

    /// True for a zero quantity.
    pub fn is_zero(&self) -> bool {
        self.value == 0
    }

    /// The exact total number of bytes; never overflows.
    pub fn byte_count(&self) -> i128 {
        // |i64| * 2^60 < 2^123, well inside i128.
        i128::from(self.value) * self.unit().factor() as i128
    }

    /// The quantity in `unit`, as a float (exactly `value` when the unit is the same).
    pub fn in_unit_f64(&self, unit: BytesUnit) -> f64 {
        if unit == self.unit() {
            return self.value as f64;
        }
        self.byte_count() as f64 / unit.factor() as f64
    }

    /// The quantity in `unit`, truncated toward zero; errors when it does not fit an `i64`.
    pub fn in_unit_i64(&self, unit: BytesUnit) -> Result<i64, BytesError> {
        let whole = self.byte_count() / unit.factor() as i128;
        i64::try_from(whole).map_err(|_| BytesError::NotAnInt64)
    }

    /// The quantity in `unit`, truncated toward zero; errors when it does not fit an `i32`
    /// (in either direction, unlike v1).
    pub fn in_unit_i32(&self, unit: BytesUnit) -> Result<i32, BytesError> {
        let wide = self.in_unit_i64(unit)?;
        i32::try_from(wide).map_err(|_| BytesError::NotAnInt32)
    }

    /// True when both quantities have the same unit and value (structural equality).
    pub fn same_representation(&self, other: &Bytes) -> bool {
        self.value == other.value && self.unit() == other.unit()
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Self) -> bool {
        self.byte_count() == other.byte_count()
    }
}

impl Eq for Bytes {}

impl PartialOrd for Bytes {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bytes {
    fn cmp(&self, other: &Self) -> Ordering {
        self.byte_count().cmp(&other.byte_count())
    }
}

impl std::hash::Hash for Bytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.byte_count().hash(state);
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.value, self.unit())
    }
}

impl FromStr for Bytes {
    type Err = BytesError;

    /// Parses `"<integer> <unit>"` or `"<integer><unit>"`, e.g. `80 GB` or `512MiB`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '-'))
            .ok_or(BytesError::InvalidUnit)?;
        let (number, unit) = s.split_at(split);
        let value: i64 = number.parse().map_err(|_| BytesError::InvalidFormat)?;
        Ok(Self::new(value, unit.trim_start().parse()?))
    }
}

#[derive(Serialize, Deserialize)]
struct BytesWire {
    #[serde(default)]
    value: i64,
    #[serde(default)]
    unit: String,
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        BytesWire {
            value: self.value,
            unit: self.unit().as_str().to_owned(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = BytesWire::deserialize(deserializer)?;
        if wire.unit.is_empty() && wire.value == 0 {
            return Ok(Bytes::ZERO);
        }
        let unit = wire.unit.parse().map_err(serde::de::Error::custom)?;
        Ok(Bytes::new(wire.value, unit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn conversions_follow_v1_examples() {
        assert_eq!(
            Bytes::new(2048, BytesUnit::MiB).in_unit_i64(BytesUnit::GiB),
            Ok(2)
        );
        assert_eq!(
            Bytes::new(2048, BytesUnit::EiB).in_unit_i64(BytesUnit::B),
            Err(BytesError::NotAnInt64)
        );
        assert_eq!(
            Bytes::new(2048, BytesUnit::EiB).in_unit_i32(BytesUnit::KB),
            Err(BytesError::NotAnInt32)
        );
        assert_eq!(
            Bytes::new(-3, BytesUnit::TiB).in_unit_i32(BytesUnit::B),
            Err(BytesError::NotAnInt32)
        );
        assert_eq!(
            Bytes::new(1, BytesUnit::GB).in_unit_i64(BytesUnit::MB),
            Ok(1000)
        );
        assert!((Bytes::new(1536, BytesUnit::MiB).in_unit_f64(BytesUnit::GiB) - 1.5).abs() < 1e-12);
        assert!(
            (Bytes::new(7, BytesUnit::EB).in_unit_f64(BytesUnit::EB) - 7.0).abs() < f64::EPSILON
        );
        assert_eq!(
            Bytes::new(i64::MAX, BytesUnit::EiB).byte_count(),
            i128::from(i64::MAX) * (1i128 << 60)
        );
    }

    #[test]
    fn equality_is_by_byte_count_and_structure_is_separate() {
        let a = Bytes::new(10, BytesUnit::GiB);
        let b = Bytes::new(10240, BytesUnit::MiB);
        assert_eq!(a, b);
        assert!(!a.same_representation(&b));
        assert!(Bytes::new(1, BytesUnit::GB) < Bytes::new(1, BytesUnit::GiB));
    }

    #[test]
    fn json_form_and_every_unit_including_exa() {
        let b = Bytes::new(80, BytesUnit::GB);
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"value":80,"unit":"GB"}"#
        );
        for unit in BytesUnit::ALL {
            let b = Bytes::new(3, unit);
            let back: Bytes = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
            assert!(back.same_representation(&b), "{unit}");
        }
        let zero: Bytes = serde_json::from_str(r#"{"value":0,"unit":""}"#).unwrap();
        assert!(zero.is_zero());
        let err = serde_json::from_str::<Bytes>(r#"{"value":1,"unit":"gigs"}"#).unwrap_err();
        assert!(err.to_string().contains("invalid unit"));
        assert!(serde_json::from_str::<Bytes>(r#"{"value":1,"unit":""}"#).is_err());
    }

    #[test]
    fn parse_and_format() {
        assert!(
            "80 GB"
                .parse::<Bytes>()
                .unwrap()
                .same_representation(&Bytes::new(80, BytesUnit::GB))
        );
        assert!(
            "512MiB"
                .parse::<Bytes>()
                .unwrap()
                .same_representation(&Bytes::new(512, BytesUnit::MiB))
        );
        assert_eq!("12".parse::<Bytes>(), Err(BytesError::InvalidUnit));
        assert_eq!("12 gigs".parse::<Bytes>(), Err(BytesError::InvalidUnit));
        assert_eq!("x GB".parse::<Bytes>(), Err(BytesError::InvalidFormat));
        assert_eq!(
            "99999999999999999999 B".parse::<Bytes>(),
            Err(BytesError::InvalidFormat)
        );
        assert_eq!(Bytes::new(1000, BytesUnit::GiB).to_string(), "1000 GiB");
    }

    fn any_unit() -> impl Strategy<Value = BytesUnit> {
        (0..BytesUnit::ALL.len()).prop_map(|i| BytesUnit::ALL[i])
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(value in any::<i64>(), unit in any_unit()) {
            let b = Bytes::new(value, unit);
            let back: Bytes = b.to_string().parse().unwrap();
            prop_assert!(back.same_representation(&b));
        }

        #[test]
        fn conversion_never_panics_and_is_exact_when_it_fits(value in any::<i64>(), from in any_unit(), to in any_unit()) {
            let b = Bytes::new(value, from);
            if let Ok(v) = b.in_unit_i64(to) {
                let total = b.byte_count();
                let back = i128::from(v) * to.factor() as i128;
                prop_assert!((total - back).abs() < to.factor() as i128);
            }
            let _ = b.in_unit_i32(to);
        }
    }
}
