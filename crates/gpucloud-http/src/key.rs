//! Secrets and request authentication.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A provider API key. Its `Debug` and `Display` print `ApiKey(<redacted>)`; the key itself is
/// only reachable through [`ApiKey::expose`], which this crate calls when it sets the
/// `Authorization` header and when it scrubs the key out of error text.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(SecretString::from(key.into()))
    }

    /// The key in clear text. Use it only to authenticate a request.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// True when the key is the empty string (for example an unset environment variable).
    pub fn is_empty(&self) -> bool {
        self.0.expose_secret().is_empty()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl From<String> for ApiKey {
    fn from(key: String) -> Self {
        Self::new(key)
    }
}

impl From<&str> for ApiKey {
    fn from(key: &str) -> Self {
        Self::new(key)
    }
}

impl From<SecretString> for ApiKey {
    fn from(key: SecretString) -> Self {
        Self(key)
    }
}

/// How requests are authenticated. `Debug` never shows the key.
#[derive(Clone, Debug, Default)]
pub enum Auth {
    /// No `Authorization` header.
    #[default]
    None,
    /// `Authorization: Bearer <key>`.
    Bearer(ApiKey),
    /// The key alone in a header of the provider's choosing (e.g. Shadeform's `X-API-KEY`).
    Header(http::HeaderName, ApiKey),
}

impl Auth {
    /// The key this scheme sends, if any.
    pub fn key(&self) -> Option<&ApiKey> {
        match self {
            Self::None => None,
            Self::Bearer(key) | Self::Header(_, key) => Some(key),
        }
    }

    /// Replaces every occurrence of the key in `text` with `<redacted>`.
    pub fn redact(&self, text: &str) -> String {
        match self.key() {
            Some(key) if !key.is_empty() => text.replace(key.expose(), "<redacted>"),
            _ => text.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_never_prints() {
        let key = ApiKey::new("secret_canary_123");
        assert_eq!(format!("{key}"), "ApiKey(<redacted>)");
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        let auth = Auth::Bearer(key.clone());
        assert!(!format!("{auth:?}").contains("canary"));
        assert_eq!(key.expose(), "secret_canary_123");
    }

    #[test]
    fn redaction_replaces_every_occurrence_and_ignores_empty_keys() {
        let auth = Auth::Bearer(ApiKey::new("k3y"));
        assert_eq!(auth.redact("a k3y b k3y"), "a <redacted> b <redacted>");
        assert_eq!(Auth::Bearer(ApiKey::new("")).redact("abc"), "abc");
        assert_eq!(Auth::None.redact("abc"), "abc");
        let header = Auth::Header(
            http::HeaderName::from_static("x-api-key"),
            ApiKey::new("k3y"),
        );
        assert_eq!(header.redact("k3y!"), "<redacted>!");
        assert!(!format!("{header:?}").contains("k3y"));
    }
}

/// Serde for a [`SecretString`] field of a provider config that is stored in a credential
/// (the control plane persists credentials): `#[serde(with = "gpucloud_http::secret_string")]`.
/// Only serialization shows the secret, because persisting it is the point; `Debug` of the
/// config must still redact it.
pub mod secret_string {
    use secrecy::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the secret in clear, for the credential store.
    pub fn serialize<S: Serializer>(key: &SecretString, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(key.expose_secret())
    }

    /// Reads the secret into a redacting string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
        String::deserialize(d).map(SecretString::from)
    }
}
