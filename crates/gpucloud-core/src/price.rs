//! `Price`: an exact decimal amount per hour with its ISO-4217 currency (v1 §4).

use std::fmt;

use compact_str::CompactString;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An hourly price: an exact decimal amount and a three-letter currency code.
///
/// Never a float: `23.325` stays `23.325`. Serialized as `{"amount": "23.325", "currency": "USD"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Price {
    /// The amount per hour, in major units (dollars, not cents).
    pub amount: Decimal,
    /// ISO-4217 code, upper case (inline: a catalog holds one per entry).
    pub currency: CompactString,
}

/// A price that could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    /// The currency code is not three ASCII upper-case letters.
    #[error("invalid currency code {0:?}: expected three upper-case letters such as USD")]
    InvalidCurrency(String),
    /// The amount is not a decimal number.
    #[error("invalid amount {0:?}: expected a decimal number such as 23.325")]
    InvalidAmount(String),
}

/// Digits after the point of currencies whose minor unit is not cents.
fn minor_digits(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "ISK" | "CLP" | "VND" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" => 3,
        _ => 2,
    }
}

fn check_currency(code: &str) -> Result<(), PriceError> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(PriceError::InvalidCurrency(code.to_owned()))
    }
}

impl Price {
    /// A price from an exact decimal amount.
    pub fn new(amount: Decimal, currency: &str) -> Result<Self, PriceError> {
        check_currency(currency)?;
        Ok(Self {
            amount,
            currency: CompactString::from(currency),
        })
    }

    /// A price from a decimal string, keeping every digit given.
    pub fn parse(amount: &str, currency: &str) -> Result<Self, PriceError> {
        let amount: Decimal = amount
            .trim()
            .parse()
            .map_err(|_| PriceError::InvalidAmount(amount.to_owned()))?;
        Self::new(amount, currency)
    }

    /// A price from an integer count of minor units (USD cents: `3192` → `31.92`).
    pub fn from_minor_units(minor: i64, currency: &str) -> Result<Self, PriceError> {
        check_currency(currency)?;
        Ok(Self {
            amount: Decimal::new(minor, minor_digits(currency)),
            currency: CompactString::from(currency),
        })
    }

    /// US dollars per hour from cents per hour.
    pub fn usd_cents(cents: i64) -> Self {
        Self {
            amount: Decimal::new(cents, 2),
            currency: CompactString::const_new("USD"),
        }
    }

    /// Zero in the given currency.
    pub fn zero(currency: &str) -> Result<Self, PriceError> {
        Self::new(Decimal::ZERO, currency)
    }

    /// The price divided by `n` (e.g. per GPU); `None` for `n == 0`.
    pub fn per_unit(&self, n: u32) -> Option<Price> {
        if n == 0 {
            return None;
        }
        Some(Price {
            amount: self.amount / Decimal::from(n),
            currency: self.currency.clone(),
        })
    }

    /// The amount rounded half-up to the currency's minor digits.
    pub fn rounded(&self) -> Decimal {
        self.amount.round_dp_with_strategy(
            minor_digits(&self.currency),
            rust_decimal::RoundingStrategy::MidpointAwayFromZero,
        )
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount.normalize(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_every_digit() {
        let p = Price::parse("23.325", "USD").unwrap();
        assert_eq!(p.amount.to_string(), "23.325");
        assert_eq!(
            Price::parse("0.0002740", "USD").unwrap().amount.to_string(),
            "0.0002740"
        );
        assert_eq!(p.rounded().to_string(), "23.33");
    }

    #[test]
    fn minor_units_follow_the_currency() {
        assert_eq!(
            Price::from_minor_units(3192, "USD")
                .unwrap()
                .amount
                .to_string(),
            "31.92"
        );
        assert_eq!(
            Price::from_minor_units(100, "JPY")
                .unwrap()
                .amount
                .to_string(),
            "100"
        );
        assert_eq!(Price::usd_cents(100).to_string(), "1 USD");
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            Price::parse("1.0", "usd"),
            Err(PriceError::InvalidCurrency("usd".into()))
        );
        assert_eq!(
            Price::parse("1.0", "DOLLARS"),
            Err(PriceError::InvalidCurrency("DOLLARS".into()))
        );
        assert_eq!(
            Price::parse("abc", "USD"),
            Err(PriceError::InvalidAmount("abc".into()))
        );
    }

    #[test]
    fn per_gpu_and_json() {
        let p = Price::usd_cents(3192);
        assert_eq!(p.per_unit(8).unwrap().amount.to_string(), "3.99");
        assert!(p.per_unit(0).is_none());
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"amount":"31.92","currency":"USD"}"#);
        assert_eq!(serde_json::from_str::<Price>(&json).unwrap(), p);
    }
}
