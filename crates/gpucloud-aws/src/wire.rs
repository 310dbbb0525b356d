//! The one shape the SDK leaves as text: a Price List product, which `GetProducts` answers as a
//! JSON document in a string (the AWS Price List "aws_v1" format). Lenient: unknown fields are
//! ignored and absent ones default, so a product that lacks a part is skipped, never an error.

use std::collections::HashMap;

use serde::Deserialize;

/// One product of `GetProducts`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PriceListProduct {
    pub(crate) product: Product,
    pub(crate) terms: Terms,
}

/// The product's description.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Product {
    pub(crate) attributes: Attributes,
}

/// The attributes the provider reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Attributes {
    pub(crate) instance_type: String,
    pub(crate) region_code: String,
}

/// The product's terms: on demand, keyed by offer term.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Terms {
    #[serde(rename = "OnDemand")]
    pub(crate) on_demand: HashMap<String, Term>,
}

/// One offer term.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Term {
    pub(crate) price_dimensions: HashMap<String, PriceDimension>,
}

/// One price dimension: the unit and the price per unit by currency.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct PriceDimension {
    pub(crate) unit: String,
    pub(crate) price_per_unit: HashMap<String, String>,
}
