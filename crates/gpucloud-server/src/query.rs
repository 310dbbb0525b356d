//! Query strings read by hand, so that a bad one is answered with the parameter's name and
//! what is wrong with it, and an unknown parameter is refused rather than ignored.

use std::str::FromStr;

use crate::error::ApiError;

/// A request's query parameters, in order; each is taken once by the handler.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses `raw` (without the `?`), refusing names outside `known`.
    pub fn parse(raw: Option<&str>, known: &[&str]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        if let Some((name, _)) = pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            return Err(ApiError::invalid(
                name.clone(),
                format!("unknown query parameter; known: {}", known.join(", ")),
            ));
        }
        Ok(Self { pairs })
    }

    /// Every value of `name`, commas splitting a value into several.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The value of `name`, refusing it given twice or empty.
    pub fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.pairs.iter().filter(|(k, _)| k == name);
        let Some((_, value)) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(ApiError::invalid(name, "given more than once"));
        }
        if value.trim().is_empty() {
            return Err(ApiError::invalid(name, "is empty"));
        }
        Ok(Some(value.trim()))
    }

    /// The value of `name` parsed as `T`; `expected` says what it should look like.
    pub fn parsed<T: FromStr>(&self, name: &str, expected: &str) -> Result<Option<T>, ApiError>
    where
        T::Err: std::fmt::Display,
    {
        self.one(name)?
            .map(|value| {
                value.parse::<T>().map_err(|e| {
                    ApiError::invalid(name, format!("{value:?}: {e}; expected {expected}"))
                })
            })
            .transpose()
    }

    /// `true`/`false` (also `1`/`0`).
    pub fn flag(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.one(name)? {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid(
                name,
                format!("{other:?}: expected true or false"),
            )),
        }
    }

    /// A value that is one of an enum's snake_case serde names.
    pub fn word<T: serde::de::DeserializeOwned>(
        name: &str,
        value: &str,
        expected: &str,
    ) -> Result<T, ApiError> {
        serde_json::from_value(serde_json::Value::String(value.to_owned()))
            .map_err(|_| ApiError::invalid(name, format!("{value:?}: expected one of {expected}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_repeated_and_malformed_parameters_are_named() {
        let error = Params::parse(Some("limit=5&colour=red"), &["limit"]).unwrap_err();
        assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
        assert!(format!("{error:?}").contains("colour"));

        let params =
            Params::parse(Some("limit=5&limit=6&n=x&b=maybe"), &["limit", "n", "b"]).unwrap();
        assert!(format!("{:?}", params.one("limit").unwrap_err()).contains("more than once"));
        let error = params.parsed::<u32>("n", "a number").unwrap_err();
        assert_eq!(error.field(), Some("n"));
        assert!(error.message().contains("\"x\""), "{}", error.message());
        assert!(params.flag("b").is_err());

        let params =
            Params::parse(Some("phase=active,requested&phase=orphan"), &["phase"]).unwrap();
        assert_eq!(params.all("phase"), ["active", "requested", "orphan"]);
    }
}
