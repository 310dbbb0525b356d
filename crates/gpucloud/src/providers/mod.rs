//! One module per provider feature: its descriptor and credential constructor.

#[cfg(feature = "lambda")]
pub(crate) mod lambda;
#[cfg(feature = "local")]
pub(crate) mod local;
