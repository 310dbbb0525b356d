//! Credential checks every fake needs: bearer tokens, HTTP Basic and API-key headers.

use std::fmt;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, header};

/// What a fake accepts as authentication. [`Auth::check`] takes a header map, so an axum
/// gate and a tonic interceptor (through its metadata's headers) can share it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// HTTP Basic with this user name and password.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// HTTP Basic with the key as user name and an empty password, as some APIs document;
    /// also `Basic base64(<key>)` and `Basic <key>`, which their clients send.
    BasicKey(String),
    /// A header carrying the key, e.g. `X-API-Key: <key>`.
    Header {
        /// Header name.
        name: HeaderName,
        /// Expected value.
        value: String,
    },
    /// Any one of these.
    AnyOf(Vec<Auth>),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Auth::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Auth::BasicKey(_) => f.write_str("BasicKey(<redacted>)"),
            Auth::Header { name, .. } => f
                .debug_struct("Header")
                .field("name", name)
                .field("value", &"<redacted>")
                .finish(),
            Auth::AnyOf(all) => f.debug_tuple("AnyOf").field(all).finish(),
        }
    }
}

impl Auth {
    /// Whether `headers` carry an accepted credential.
    pub fn check(&self, headers: &HeaderMap) -> bool {
        match self {
            Auth::Bearer(token) => {
                authorization(headers, "bearer").is_some_and(|credential| credential == token)
            }
            Auth::Basic { user, password } => authorization(headers, "basic")
                .and_then(decode)
                .is_some_and(|decoded| decoded == format!("{user}:{password}").as_bytes()),
            Auth::BasicKey(key) => authorization(headers, "basic").is_some_and(|credential| {
                credential == key
                    || decode(credential).is_some_and(|decoded| {
                        decoded == key.as_bytes()
                            || decoded.strip_suffix(b":") == Some(key.as_bytes())
                    })
            }),
            Auth::Header { name, value } => headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim() == value),
            Auth::AnyOf(all) => all.iter().any(|auth| auth.check(headers)),
        }
    }
}

/// The credential of an `Authorization` header with this scheme (case-insensitive).
fn authorization<'h>(headers: &'h HeaderMap, scheme: &str) -> Option<&'h str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (given, credential) = value.trim().split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then(|| credential.trim())
}

fn decode(credential: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(credential)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(name: &str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn bearer() {
        let auth = Auth::Bearer("secret".into());
        assert!(auth.check(&with("authorization", "Bearer secret")));
        assert!(auth.check(&with("authorization", "bearer  secret ")));
        assert!(!auth.check(&with("authorization", "Bearer wrong")));
        assert!(!auth.check(&with("authorization", "Bearer")));
        assert!(!auth.check(&with("authorization", "Basic secret")));
        assert!(!auth.check(&HeaderMap::new()));
    }

    #[test]
    fn basic_key_accepts_the_forms_clients_send() {
        let auth = Auth::BasicKey("secret".into());
        for good in [
            format!("Basic {}", b64("secret:")),
            format!("Basic {}", b64("secret")),
            "Basic secret".into(),
        ] {
            assert!(auth.check(&with("authorization", &good)), "{good}");
        }
        assert!(!auth.check(&with(
            "authorization",
            &format!("Basic {}", b64("secret:pw"))
        )));
        assert!(!auth.check(&with("authorization", "Token secret")));
    }

    #[test]
    fn basic_user_and_password() {
        let auth = Auth::Basic {
            user: "u".into(),
            password: "p".into(),
        };
        assert!(auth.check(&with("authorization", &format!("Basic {}", b64("u:p")))));
        assert!(!auth.check(&with("authorization", &format!("Basic {}", b64("u:")))));
    }

    #[test]
    fn header_key_and_any_of() {
        let header = Auth::Header {
            name: HeaderName::from_static("x-api-key"),
            value: "k".into(),
        };
        assert!(header.check(&with("x-api-key", "k")));
        assert!(!header.check(&with("x-api-key", "j")));
        let any = Auth::AnyOf(vec![header, Auth::Bearer("t".into())]);
        assert!(any.check(&with("authorization", "Bearer t")));
        assert!(any.check(&with("x-api-key", "k")));
        assert!(!any.check(&with("authorization", "Bearer k")));
    }

    #[test]
    fn debug_hides_secrets() {
        let auth = Auth::AnyOf(vec![
            Auth::Bearer("s1".into()),
            Auth::Basic {
                user: "u".into(),
                password: "s2".into(),
            },
            Auth::BasicKey("s3".into()),
            Auth::Header {
                name: HeaderName::from_static("x-k"),
                value: "s4".into(),
            },
        ]);
        let text = format!("{auth:?}");
        for secret in ["s1", "s2", "s3", "s4"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}
