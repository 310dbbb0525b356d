//! The OAuth2 access token of one credential: fetched with the client-credentials grant on
//! first use, shared by every client of the credential, fetched again shortly before it
//! expires and at once when the API rejects it. One caller fetches while the others wait
//! (single flight), so a burst of requests costs one token request.
//!
//! The token lives only in a sensitive header value: never in `Debug`, logs or errors.

use std::fmt;
use std::time::Duration;

use gpucloud_core::{CloudError, Delivery, ErrorKind, Result};
use gpucloud_http::{HeaderValue, HttpClient, Request};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::client::PROVIDER_ID;
use crate::wire;

/// How long a token lasts when the answer does not say (Verda's tokens last an hour).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// How long before expiry a token is replaced: a request must not arrive with a token that
/// expired on its way. At most half the lifetime.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// One access token and when to replace it.
struct Token {
    header: HeaderValue,
    refresh_at: Instant,
}

/// The token source of one credential.
pub(crate) struct Tokens {
    client_id: String,
    client_secret: SecretString,
    current: Mutex<Option<Token>>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    pub(crate) fn new(client_id: &str, client_secret: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: SecretString::from(client_secret.to_owned()),
            current: Mutex::new(None),
        }
    }

    /// The `Authorization` value to send: the current token, or a new one when there is none
    /// or it is about to expire.
    pub(crate) async fn header(&self, http: &HttpClient) -> Result<HeaderValue> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref()
            && Instant::now() < token.refresh_at
        {
            return Ok(token.header.clone());
        }
        let token = self.fetch(http).await?;
        let header = token.header.clone();
        *current = Some(token);
        Ok(header)
    }

    /// Forgets `rejected`, which the API answered `401`; a token fetched meanwhile by another
    /// caller is kept.
    pub(crate) async fn reject(&self, rejected: &HeaderValue) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|t| t.header == *rejected) {
            *current = None;
        }
    }

    async fn fetch(&self, http: &HttpClient) -> Result<Token> {
        const OP: &str = "token";
        let body = wire::TokenRequest {
            grant_type: "client_credentials",
            client_id: &self.client_id,
            client_secret: self.client_secret.expose_secret(),
        };
        // Asking twice for a token harms nothing: the request may be sent again.
        let request = Request::post(OP, "oauth2/token")
            .json(&body)?
            .idempotent(true);
        let answer: wire::TokenResponse = http.send_json(request).await.map_err(|e| {
            if e.kind() == ErrorKind::Unauthenticated {
                CloudError::provider(
                    PROVIDER_ID,
                    OP,
                    ErrorKind::Unauthenticated,
                    "Verda refused the client id and secret (VERDA_CLIENT_ID, VERDA_CLIENT_SECRET)",
                )
                .with_source(e)
            } else {
                e
            }
        })?;
        let unreadable = |problem: &str| {
            CloudError::provider(PROVIDER_ID, OP, ErrorKind::Decode, problem.to_owned())
                .with_delivery(Delivery::Unknown)
        };
        if answer.access_token.trim().is_empty() {
            return Err(unreadable(
                "the token endpoint answered without an access token",
            ));
        }
        let mut header = HeaderValue::from_str(&format!("Bearer {}", answer.access_token.trim()))
            .map_err(|_| unreadable("the access token cannot be sent in a header"))?;
        header.set_sensitive(true);
        let lifetime = answer
            .expires_in
            .filter(|s| *s > 0)
            .map_or(DEFAULT_LIFETIME, Duration::from_secs);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        tracing::debug!(lifetime_s = lifetime.as_secs(), "verda: new access token");
        Ok(Token {
            header,
            refresh_at: Instant::now() + lifetime.saturating_sub(margin),
        })
    }
}
