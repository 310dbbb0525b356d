//! The OAuth2 access token of one credential: fetched with the client-credentials grant on
//! first use, shared by every client of the credential, fetched again shortly before it
//! expires and at once when the API rejects it. One caller fetches while the others wait
//! (single flight), so a burst of requests costs one token request.
//!
//! With a [`TokenFile`] the token also outlives the process: before fetching, a token another
//! process saved for the same API root, client id and secret is used when it is not within
//! its refresh margin, and a fetched token is saved; a token the API rejects is removed from
//! the file too. The file's rules (mode, owner, atomic writes) are core's
//! ([`gpucloud_core::token_file`]).
//!
//! The token lives only in a sensitive header value and the file: never in `Debug`, logs or
//! errors.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use gpucloud_core::token_file::{StoredToken, TokenFile};
use gpucloud_core::{CloudError, Delivery, ErrorKind, Result};
use gpucloud_http::{HeaderValue, HttpClient, Request};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::client::PROVIDER_ID;
use crate::wire;

/// How long a token lasts when the answer does not say (Verda's tokens last an hour).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// The longest lifetime believed: a longer `expires_in` is taken as this, so that no answer
/// can push a refresh time past what the clock can hold.
const LONGEST_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How long before expiry a token is replaced: a request must not arrive with a token that
/// expired on its way. At most half the lifetime.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// The lifetime of a token whose answer said `expires_in` (seconds): [`DEFAULT_LIFETIME`] when
/// it did not say or said zero, at most [`LONGEST_LIFETIME`].
fn lifetime(expires_in: Option<u64>) -> Duration {
    expires_in
        .filter(|s| *s > 0)
        .map_or(DEFAULT_LIFETIME, Duration::from_secs)
        .min(LONGEST_LIFETIME)
}

/// How long before the end of a token of `lifetime` it is replaced.
fn refresh_margin(lifetime: Duration) -> Duration {
    REFRESH_MARGIN.min(lifetime / 2)
}

/// `Bearer <token>` as a sensitive header value; `None` when the token cannot be sent in a
/// header.
fn bearer(token: &str) -> Option<HeaderValue> {
    let mut header = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
    header.set_sensitive(true);
    Some(header)
}

/// One access token and when to replace it.
struct Token {
    header: HeaderValue,
    refresh_at: Instant,
}

/// What the single-flight lock guards.
#[derive(Default)]
struct Held {
    /// The token in use.
    current: Option<Token>,
    /// The last token the API rejected: never taken from the file again, even when the file
    /// could not be removed.
    rejected: Option<HeaderValue>,
}

/// The token source of one credential.
pub(crate) struct Tokens {
    client_id: String,
    client_secret: SecretString,
    /// Where the token is kept between processes, when it is.
    file: Option<TokenFile>,
    held: Mutex<Held>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("client_id", &self.client_id)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// The tokens of `client_id` and `client_secret` at the API root `api_url`, kept in
    /// `cache_dir` between processes when one is given (the file is named by a hash of all
    /// three, so another root, client id or secret never reads it).
    pub(crate) fn new(
        api_url: &str,
        client_id: &str,
        client_secret: &str,
        cache_dir: Option<&Path>,
    ) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: SecretString::from(client_secret.to_owned()),
            file: cache_dir.map(|dir| TokenFile::new(dir, &[api_url, client_id, client_secret])),
            held: Mutex::new(Held::default()),
        }
    }

    /// The `Authorization` value to send: the current token, else one a previous process
    /// saved, else a new one, whenever the one at hand is about to expire.
    pub(crate) async fn header(&self, http: &HttpClient) -> Result<HeaderValue> {
        let mut held = self.held.lock().await;
        if let Some(token) = held.current.as_ref()
            && Instant::now() < token.refresh_at
        {
            return Ok(token.header.clone());
        }
        let token = match self.saved(held.rejected.as_ref()) {
            Some(saved) => saved,
            None => self.fetch(http).await?,
        };
        let header = token.header.clone();
        held.current = Some(token);
        Ok(header)
    }

    /// Forgets `rejected`, which the API answered `401`, here and in the token file; a token
    /// fetched meanwhile by another caller is kept.
    pub(crate) async fn reject(&self, rejected: &HeaderValue) {
        let mut held = self.held.lock().await;
        if held.current.as_ref().is_some_and(|t| t.header == *rejected) {
            held.current = None;
            held.rejected = Some(rejected.clone());
            if let Some(file) = &self.file {
                file.forget();
            }
        }
    }

    /// The token the file holds, unless it is within its refresh margin or is `rejected` (or
    /// there is no file, or no usable token in it).
    fn saved(&self, rejected: Option<&HeaderValue>) -> Option<Token> {
        let saved = self.file.as_ref()?.load()?;
        let remaining = saved.remaining(SystemTime::now());
        let margin = refresh_margin(saved.lifetime());
        let until_refresh = remaining.checked_sub(margin).filter(|d| !d.is_zero())?;
        let header = bearer(saved.access_token.expose_secret())?;
        if rejected == Some(&header) {
            return None;
        }
        tracing::debug!(
            remaining_s = remaining.as_secs(),
            "verda: starting from the saved access token"
        );
        Some(Token {
            header,
            refresh_at: Instant::now().checked_add(until_refresh)?,
        })
    }

    async fn fetch(&self, http: &HttpClient) -> Result<Token> {
        const OP: &str = "token";
        let body = wire::TokenRequest {
            grant_type: "client_credentials",
            client_id: &self.client_id,
            client_secret: self.client_secret.expose_secret(),
        };
        // Asking twice for a token harms nothing: the request may be sent again.
        let (started, issued_at) = (Instant::now(), SystemTime::now());
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
        let access_token = answer.access_token.trim();
        if access_token.is_empty() {
            return Err(unreadable(
                "the token endpoint answered without an access token",
            ));
        }
        let header = bearer(access_token)
            .ok_or_else(|| unreadable("the access token cannot be sent in a header"))?;
        let lifetime = lifetime(answer.expires_in);
        let margin = refresh_margin(lifetime);
        tracing::debug!(lifetime_s = lifetime.as_secs(), "verda: new access token");
        if let Some(file) = &self.file {
            // Timed from before the request, like the refresh below: neither claims more
            // life than the token has.
            file.store(&StoredToken {
                access_token: SecretString::from(access_token.to_owned()),
                issued_at,
                expires_at: issued_at + lifetime,
            });
        }
        Ok(Token {
            header,
            refresh_at: started + lifetime.saturating_sub(margin),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lifetime_is_what_the_answer_says_within_bounds() {
        assert_eq!(lifetime(None), DEFAULT_LIFETIME);
        assert_eq!(lifetime(Some(0)), DEFAULT_LIFETIME);
        assert_eq!(lifetime(Some(120)), Duration::from_secs(120));
        assert_eq!(lifetime(Some(u64::MAX)), LONGEST_LIFETIME);
        assert_eq!(refresh_margin(Duration::from_secs(3600)), REFRESH_MARGIN);
        assert_eq!(
            refresh_margin(Duration::from_secs(2)),
            Duration::from_secs(1)
        );
    }

    /// A token the API rejected is not taken from the file again, even when the file still
    /// holds it (its removal failed, or a process that had not heard saved it again).
    #[tokio::test]
    async fn a_rejected_token_is_never_read_back() {
        use gpucloud_fakes::verda::{FakeVerda, FakeVerdaOptions};
        use gpucloud_http::{Auth, HttpConfig, parse_base_url};

        let fake = FakeVerda::start(FakeVerdaOptions::default()).await.unwrap();
        let root = format!("{}/", fake.base_url());
        let http = HttpClient::new(
            "verda",
            HttpConfig::default().with_base_url(parse_base_url(&root).unwrap()),
            Auth::None,
            crate::error::classifier,
        )
        .unwrap();
        let state = tempfile::tempdir().unwrap();
        let tokens = Tokens::new(
            &root,
            fake.client_id(),
            fake.client_secret(),
            Some(state.path()),
        );
        let first = tokens.header(&http).await.unwrap();
        let file = tokens.file.clone().unwrap();
        let saved = std::fs::read(file.path()).unwrap();
        tokens.reject(&first).await;
        assert!(file.load().is_none(), "removed from the file");
        std::fs::write(file.path(), &saved).unwrap();
        std::fs::set_permissions(
            file.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        assert!(file.load().is_some(), "back in the file");

        let second = tokens.header(&http).await.unwrap();
        assert_ne!(second, first);
        assert_eq!(fake.state().tokens_issued(), 2);
        // A stale rejection keeps the newer token, in memory and in the file.
        tokens.reject(&first).await;
        assert_eq!(tokens.header(&http).await.unwrap(), second);
        assert!(file.load().is_some());
        assert_eq!(fake.state().tokens_issued(), 2);
        let shown = format!("{tokens:?}");
        assert!(
            !shown.contains(fake.client_secret())
                && !shown.contains(second.to_str().unwrap().trim_start_matches("Bearer ")),
            "{shown}"
        );
    }

    #[test]
    fn a_token_is_a_sensitive_header_or_nothing() {
        let header = bearer("abc").unwrap();
        assert!(header.is_sensitive());
        assert_eq!(header.to_str().unwrap(), "Bearer abc");
        assert!(!format!("{header:?}").contains("abc"));
        assert!(bearer("bad\ntoken").is_none());
    }
}
