//! The bearer token check: every request carries the token when one is configured. The
//! comparison takes the same time wherever the tokens differ; a refusal says nothing more than
//! 401.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The expected token, kept only as its SHA-256 digest so that comparisons take the same time
/// whatever the presented token's length.
#[derive(Clone)]
pub struct TokenCheck {
    digest: Option<Arc<[u8; 32]>>,
}

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCheck")
            .field("required", &self.digest.is_some())
            .finish()
    }
}

impl TokenCheck {
    /// Requires `token` when it is `Some`.
    pub fn new(token: Option<&SecretString>) -> Self {
        Self {
            digest: token.map(|t| Arc::new(digest(t.expose_secret().as_bytes()))),
        }
    }

    /// True when the request's `Authorization` header passes.
    fn admits(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some(expected) = &self.digest else {
            return true;
        };
        let presented = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map_or("", str::trim);
        bool::from(digest(presented.as_bytes()).ct_eq(expected.as_ref()))
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The middleware: 401 with only `WWW-Authenticate: Bearer` when the token is missing or wrong.
pub async fn require_token(
    State(check): State<TokenCheck>,
    request: Request,
    next: Next,
) -> Response {
    if check.admits(request.headers().get(header::AUTHORIZATION)) {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_passes() {
        let check = TokenCheck::new(Some(&SecretString::from("s3cret".to_owned())));
        let header = |v: &str| HeaderValue::from_str(v).unwrap();
        assert!(check.admits(Some(&header("Bearer s3cret"))));
        assert!(!check.admits(Some(&header("Bearer s3cre"))));
        assert!(!check.admits(Some(&header("Bearer s3cret2"))));
        assert!(!check.admits(Some(&header("Basic s3cret"))));
        assert!(!check.admits(Some(&header("Bearer "))));
        assert!(!check.admits(None));
        assert!(TokenCheck::new(None).admits(None));
        assert!(!format!("{check:?}").contains("s3cret"));
    }
}
