//! Authentication: the service-account key, the self-signed JWT made from it, and the access
//! token cache every client of one credential shares.
//!
//! Nebius's service-account flow: a JWT signed with the account's RS256 key (header `kid` = the
//! public key's id, `iss` = `sub` = the service account) is exchanged at
//! `TokenExchangeService.Exchange` for a bearer access token with a lifetime. The cache keeps
//! that token until shortly before it expires, and one refresh serves every caller waiting for
//! it, so a burst of calls costs one exchange per token lifetime, not one per call. With a
//! [`TokenFile`] the token also outlives the process: the next process starts from it instead
//! of exchanging again.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use gpucloud_core::token_file::{StoredToken, TokenFile};
use gpucloud_core::{CloudError, Result};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tokio::time::Instant;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};

/// How long the self-signed JWT is valid: only for the exchange that follows at once.
const JWT_LIFETIME: Duration = Duration::from_secs(300);
/// The longest a token is refreshed before it expires.
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// A service account's key, from Nebius's `subject-credentials` file. `Debug` shows the ids,
/// never the key.
#[derive(Clone)]
pub struct ServiceAccountKey {
    key_id: String,
    service_account_id: String,
    key: Arc<EncodingKey>,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("key_id", &self.key_id)
            .field("service_account_id", &self.service_account_id)
            // The key itself is left out.
            .finish_non_exhaustive()
    }
}

/// The claims of the self-signed JWT.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

impl ServiceAccountKey {
    /// Reads a credentials file. The error names the file and the field, never its content.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CloudError::configuration(format!(
                "cannot read the Nebius credentials file {}: {e}",
                path.display()
            ))
        })?;
        Self::from_json(&text).map_err(|e| {
            CloudError::configuration(format!("{}: {e}", path.display())).with_source(e)
        })
    }

    /// Parses Nebius's credentials JSON:
    /// `{"subject-credentials": {"type": "JWT", "alg": "RS256", "private-key": "<PEM>",
    /// "kid": "<public key id>", "iss": "<service account id>", "sub": "<same>"}}`.
    /// Errors name the field; none shows a value of the file (the key may be anywhere in it).
    pub fn from_json(text: &str) -> Result<Self> {
        let root: serde_json::Value = serde_json::from_str(text).map_err(|_| {
            CloudError::invalid("subject-credentials", "the credentials are not valid JSON")
        })?;
        let creds = root
            .get("subject-credentials")
            .and_then(serde_json::Value::as_object)
            .ok_or_else(|| {
                CloudError::invalid("subject-credentials", "missing or not an object")
            })?;
        let field = |name: &str| -> Result<&str> {
            creds
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    CloudError::invalid(
                        format!("subject-credentials.{name}"),
                        "missing, empty or not a string",
                    )
                })
        };
        if let Some(kind) = creds.get("type").and_then(serde_json::Value::as_str)
            && !kind.eq_ignore_ascii_case("JWT")
        {
            return Err(CloudError::invalid(
                "subject-credentials.type",
                format!("{kind:?} is not supported; only JWT is"),
            ));
        }
        let alg = field("alg")?;
        if alg != "RS256" {
            return Err(CloudError::invalid(
                "subject-credentials.alg",
                format!("{alg:?} is not supported; only RS256 is"),
            ));
        }
        let (iss, sub) = (field("iss")?, field("sub")?);
        if iss != sub {
            return Err(CloudError::invalid(
                "subject-credentials.sub",
                "must equal iss: both are the service account's id",
            ));
        }
        let key = EncodingKey::from_rsa_pem(field("private-key")?.as_bytes()).map_err(|_| {
            CloudError::invalid(
                "subject-credentials.private-key",
                "not an RSA private key in PEM (PKCS#1 or PKCS#8)",
            )
        })?;
        Ok(Self {
            key_id: field("kid")?.to_owned(),
            service_account_id: iss.to_owned(),
            key: Arc::new(key),
        })
    }

    /// The id of the public key registered for this key (`kid`).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The service account (`iss` and `sub`).
    pub fn service_account_id(&self) -> &str {
        &self.service_account_id
    }

    /// A JWT signed with the key, valid from `now` for [`JWT_LIFETIME`].
    pub(crate) fn sign_jwt(&self, now: SystemTime) -> Result<SecretString> {
        let iat = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.key_id.clone());
        let claims = Claims {
            iss: &self.service_account_id,
            sub: &self.service_account_id,
            iat,
            exp: iat + JWT_LIFETIME.as_secs(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(SecretString::from)
            .map_err(|e| {
                CloudError::configuration(format!(
                    "cannot sign a JWT with the Nebius service-account key: {e}"
                ))
            })
    }
}

/// A token the exchange issued.
pub(crate) struct IssuedToken {
    /// The bearer token.
    pub(crate) access_token: SecretString,
    /// How long it is valid from now.
    pub(crate) expires_in: Duration,
}

/// The token exchange, behind a trait so that the cache is tested without a server.
#[async_trait]
pub(crate) trait Exchange: Send + Sync {
    /// Exchanges a self-signed JWT for an access token.
    async fn exchange(&self, subject_token: SecretString) -> Result<IssuedToken>;
}

/// The current token: the `authorization` header value made once per token, marked sensitive
/// so that tonic and `Debug` never show it.
#[derive(Clone)]
struct Cached {
    header: AsciiMetadataValue,
    refresh_at: Instant,
    expires_at: Instant,
}

/// Where the access token comes from: fixed, or exchanged and cached.
pub(crate) enum TokenSource {
    /// A static IAM token.
    Static(AsciiMetadataValue),
    /// Exchanged from a service-account key, cached and refreshed before it expires.
    Exchanged(Box<ExchangedToken>),
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Static(_) => f.write_str("TokenSource::Static([redacted])"),
            Self::Exchanged(e) => f
                .debug_struct("TokenSource::Exchanged")
                .field("key", &e.key)
                .field("exchanges", &e.exchanges.load(Ordering::Relaxed))
                .finish_non_exhaustive(),
        }
    }
}

/// The exchanged token's state.
pub(crate) struct ExchangedToken {
    key: ServiceAccountKey,
    exchange: Box<dyn Exchange>,
    /// Where the token is kept between processes, when it is.
    file: Option<TokenFile>,
    current: std::sync::Mutex<Option<Cached>>,
    /// Held while one caller refreshes, so the others wait for its token instead of
    /// exchanging too (single flight).
    refresh: tokio::sync::Mutex<()>,
    exchanges: AtomicU64,
}

/// `Bearer <token>` as a sensitive header value; a token that is not visible ASCII is refused
/// without showing it.
pub(crate) fn bearer(token: &SecretString) -> Result<AsciiMetadataValue> {
    let mut value: AsciiMetadataValue = MetadataValue::try_from(format!(
        "Bearer {}",
        token.expose_secret().trim()
    ))
    .map_err(|_| {
        CloudError::configuration("the Nebius IAM token contains characters a header cannot carry")
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// How long before expiry a token of this lifetime is refreshed: half of a short lifetime, at
/// most [`MAX_REFRESH_MARGIN`].
fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 2).min(MAX_REFRESH_MARGIN)
}

impl TokenSource {
    /// A static token.
    pub(crate) fn fixed(token: &SecretString) -> Result<Self> {
        Ok(Self::Static(bearer(token)?))
    }

    /// Tokens exchanged from `key` through `exchange`, kept in `file` between processes when
    /// one is given.
    pub(crate) fn exchanged(
        key: ServiceAccountKey,
        exchange: Box<dyn Exchange>,
        file: Option<TokenFile>,
    ) -> Self {
        Self::Exchanged(Box::new(ExchangedToken {
            key,
            exchange,
            file,
            current: std::sync::Mutex::new(None),
            refresh: tokio::sync::Mutex::new(()),
            exchanges: AtomicU64::new(0),
        }))
    }

    /// How many exchanges were made so far (0 for a static token).
    pub(crate) fn exchanges(&self) -> u64 {
        match self {
            Self::Static(_) => 0,
            Self::Exchanged(e) => e.exchanges.load(Ordering::Relaxed),
        }
    }

    /// The `authorization` header value to send now.
    pub(crate) async fn header(&self) -> Result<AsciiMetadataValue> {
        match self {
            Self::Static(value) => Ok(value.clone()),
            Self::Exchanged(e) => e.header().await,
        }
    }

    /// Forgets `rejected` (the server said UNAUTHENTICATED to it), here and in the token
    /// file, so the next call exchanges again; a token already replaced by another caller is
    /// kept. True when it was the current token of an exchange, so a call it failed may be
    /// sent once more with a new one (a static token is never replaced).
    pub(crate) fn invalidate(&self, rejected: &AsciiMetadataValue) -> bool {
        let Self::Exchanged(e) = self else {
            return false;
        };
        let mut current = e
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if current.as_ref().is_none_or(|c| c.header != *rejected) {
            return false;
        }
        *current = None;
        if let Some(file) = &e.file {
            file.forget();
        }
        tracing::debug!("the Nebius access token was rejected; exchanging a new one");
        true
    }
}

impl ExchangedToken {
    fn cached(&self) -> Option<Cached> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The token the file holds, made current (also when due for refresh: it still serves
    /// if the refresh fails); `None` without a file or a usable token in it.
    fn saved(&self) -> Option<Cached> {
        let saved = self.file.as_ref()?.load()?;
        let now = SystemTime::now();
        let remaining = saved.expires_at.duration_since(now).ok()?;
        let lifetime = saved
            .expires_at
            .duration_since(saved.issued_at)
            .unwrap_or(remaining);
        let header = bearer(&saved.access_token).ok()?;
        let at = Instant::now();
        let cached = Cached {
            header,
            refresh_at: at + remaining.saturating_sub(refresh_margin(lifetime)),
            expires_at: at + remaining,
        };
        *self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(cached.clone());
        tracing::debug!("starting from the saved Nebius access token");
        Some(cached)
    }

    async fn header(&self) -> Result<AsciiMetadataValue> {
        if let Some(c) = self.cached()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.header);
        }
        let _flight = self.refresh.lock().await;
        // Another caller may have refreshed while this one waited for the lock; the first
        // call of a process starts from the token a previous one saved.
        let stale = match self.cached().or_else(|| self.saved()) {
            Some(c) if Instant::now() < c.refresh_at => return Ok(c.header),
            other => other,
        };
        let started = Instant::now();
        let issued_at = SystemTime::now();
        let jwt = self.key.sign_jwt(issued_at)?;
        self.exchanges.fetch_add(1, Ordering::Relaxed);
        match self.exchange.exchange(jwt).await {
            Ok(issued) => {
                let header = bearer(&issued.access_token)?;
                let lifetime = issued.expires_in;
                let cached = Cached {
                    header: header.clone(),
                    refresh_at: started + lifetime.saturating_sub(refresh_margin(lifetime)),
                    expires_at: started + lifetime,
                };
                *self
                    .current
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(cached);
                if let Some(file) = &self.file {
                    file.store(&StoredToken {
                        access_token: issued.access_token,
                        issued_at,
                        expires_at: issued_at + lifetime,
                    });
                }
                tracing::debug!(
                    lifetime_s = lifetime.as_secs(),
                    "exchanged a Nebius access token"
                );
                Ok(header)
            }
            // A refresh ahead of expiry that failed: the old token still works for a while.
            Err(error) => match stale {
                Some(c) if Instant::now() < c.expires_at => {
                    tracing::warn!(%error, "refreshing the Nebius access token failed; using the current one");
                    Ok(c.header)
                }
                _ => Err(error),
            },
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};
    use std::sync::atomic::AtomicU32;

    pub(crate) fn test_key_pem() -> String {
        include_str!("testdata/test-key.pem").to_owned()
    }

    pub(crate) fn credentials_json(pem: &str, kid: &str, account: &str) -> String {
        serde_json::json!({
            "subject-credentials": {
                "type": "JWT", "alg": "RS256", "private-key": pem,
                "kid": kid, "iss": account, "sub": account,
            }
        })
        .to_string()
    }

    fn key() -> ServiceAccountKey {
        ServiceAccountKey::from_json(&credentials_json(
            &test_key_pem(),
            "publickey-e00k",
            "serviceaccount-e00s",
        ))
        .unwrap()
    }

    #[derive(serde::Deserialize)]
    struct Read {
        iss: String,
        sub: String,
        iat: u64,
        exp: u64,
    }

    #[test]
    fn the_jwt_is_rs256_with_kid_and_verifies_with_the_public_key() {
        let jwt = key().sign_jwt(SystemTime::now()).unwrap();
        let header = jsonwebtoken::decode_header(jwt.expose_secret()).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some("publickey-e00k"));
        let public =
            DecodingKey::from_rsa_pem(include_bytes!("testdata/test-key.pub.pem")).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let claims = jsonwebtoken::decode::<Read>(jwt.expose_secret(), &public, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims.iss, "serviceaccount-e00s");
        assert_eq!(claims.sub, claims.iss);
        assert_eq!(claims.exp - claims.iat, JWT_LIFETIME.as_secs());
    }

    #[test]
    fn a_jwt_of_another_key_does_not_verify() {
        let other = ServiceAccountKey::from_json(&credentials_json(
            include_str!("testdata/other-key.pem"),
            "publickey-e00k",
            "serviceaccount-e00s",
        ))
        .unwrap();
        let jwt = other.sign_jwt(SystemTime::now()).unwrap();
        let public =
            DecodingKey::from_rsa_pem(include_bytes!("testdata/test-key.pub.pem")).unwrap();
        let validation = Validation::new(Algorithm::RS256);
        assert!(jsonwebtoken::decode::<Read>(jwt.expose_secret(), &public, &validation).is_err());
    }

    #[test]
    fn bad_credentials_name_the_field_and_show_no_key() {
        let pem = test_key_pem();
        let with = |patch: &dyn Fn(&mut serde_json::Value)| {
            let mut v: serde_json::Value =
                serde_json::from_str(&credentials_json(&pem, "k", "sa")).unwrap();
            patch(&mut v["subject-credentials"]);
            v.to_string()
        };
        let cases: Vec<(String, &str)> = vec![
            ("not json {".into(), "subject-credentials"),
            ("{}".into(), "subject-credentials"),
            (
                with(&|c| c["alg"] = "ES256".into()),
                "subject-credentials.alg",
            ),
            (
                with(&|c| c["sub"] = "other".into()),
                "subject-credentials.sub",
            ),
            (with(&|c| c["kid"] = "".into()), "subject-credentials.kid"),
            (
                with(&|c| c["type"] = "OAUTH".into()),
                "subject-credentials.type",
            ),
            (
                with(&|c| c["private-key"] = "-----BEGIN PRIVATE KEY-----\nMIIB\n".into()),
                "subject-credentials.private-key",
            ),
            (
                with(&|c| c["private-key"] = 7.into()),
                "subject-credentials.private-key",
            ),
        ];
        for (text, field) in cases {
            let error = ServiceAccountKey::from_json(&text).unwrap_err();
            assert!(
                matches!(&error, CloudError::InvalidArgument { field: f, .. } if f == field),
                "{field}: {error}"
            );
            assert!(!error.to_string().contains("MII"), "{error}");
        }
        let shown = format!("{:?}", key());
        assert!(
            shown.contains("publickey-e00k") && !shown.contains("MII"),
            "{shown}"
        );
    }

    struct Counting {
        calls: AtomicU32,
        lifetime: Duration,
        fail_after: Option<u32>,
    }

    #[async_trait]
    impl Exchange for Arc<Counting> {
        async fn exchange(&self, subject_token: SecretString) -> Result<IssuedToken> {
            assert!(
                subject_token.expose_secret().split('.').count() == 3,
                "a JWT"
            );
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            if self.fail_after.is_some_and(|after| n > after) {
                return Err(CloudError::provider(
                    "nebius",
                    "token_exchange",
                    gpucloud_core::ErrorKind::Unavailable,
                    "down",
                ));
            }
            Ok(IssuedToken {
                access_token: SecretString::from(format!("token-{n}")),
                expires_in: self.lifetime,
            })
        }
    }

    fn counting(lifetime: Duration, fail_after: Option<u32>) -> Arc<Counting> {
        Arc::new(Counting {
            calls: AtomicU32::new(0),
            lifetime,
            fail_after,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_exchange_and_refresh_before_expiry() {
        let exchange = counting(Duration::from_secs(3600), None);
        let source = Arc::new(TokenSource::exchanged(
            key(),
            Box::new(Arc::clone(&exchange)),
            None,
        ));
        let calls: Vec<_> = (0..20)
            .map(|_| {
                let source = Arc::clone(&source);
                tokio::spawn(async move { source.header().await.unwrap() })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap().to_str().unwrap(), "Bearer token-1");
        }
        assert_eq!(exchange.calls.load(Ordering::SeqCst), 1, "single flight");
        // Still fresh: no exchange.
        tokio::time::advance(Duration::from_secs(3000)).await;
        source.header().await.unwrap();
        assert_eq!(source.exchanges(), 1);
        // Within the margin before expiry: refreshed.
        tokio::time::advance(Duration::from_secs(400)).await;
        assert_eq!(
            source.header().await.unwrap().to_str().unwrap(),
            "Bearer token-2"
        );
        assert_eq!(source.exchanges(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_refresh_keeps_the_valid_token_and_an_expired_one_fails() {
        let exchange = counting(Duration::from_secs(600), Some(1));
        let source = TokenSource::exchanged(key(), Box::new(Arc::clone(&exchange)), None);
        source.header().await.unwrap();
        tokio::time::advance(Duration::from_secs(400)).await;
        assert_eq!(
            source.header().await.unwrap().to_str().unwrap(),
            "Bearer token-1"
        );
        tokio::time::advance(Duration::from_secs(300)).await;
        assert!(source.header().await.is_err(), "expired and not refreshed");
    }

    #[tokio::test(start_paused = true)]
    async fn an_invalidated_token_is_exchanged_again() {
        let exchange = counting(Duration::from_secs(3600), None);
        let source = TokenSource::exchanged(key(), Box::new(Arc::clone(&exchange)), None);
        let first = source.header().await.unwrap();
        source.invalidate(&first);
        assert_eq!(
            source.header().await.unwrap().to_str().unwrap(),
            "Bearer token-2"
        );
        // A stale rejection does not throw away the newer token.
        source.invalidate(&first);
        source.header().await.unwrap();
        assert_eq!(source.exchanges(), 2);
    }

    /// A source as a new process makes it: its own memory, the shared token file.
    fn process(exchange: &Arc<Counting>, file: &TokenFile) -> TokenSource {
        TokenSource::exchanged(key(), Box::new(Arc::clone(exchange)), Some(file.clone()))
    }

    #[tokio::test]
    async fn the_next_process_starts_from_the_saved_token_until_its_refresh_margin() {
        let dir = tempfile::tempdir().unwrap();
        let file = TokenFile::new(dir.path(), &["endpoint", "sa", "kid"]);
        let exchange = counting(Duration::from_secs(3600), None);
        let first = process(&exchange, &file);
        assert_eq!(
            first.header().await.unwrap().to_str().unwrap(),
            "Bearer token-1"
        );
        let second = process(&exchange, &file);
        assert_eq!(
            second.header().await.unwrap().to_str().unwrap(),
            "Bearer token-1"
        );
        assert_eq!(
            exchange.calls.load(Ordering::SeqCst),
            1,
            "reused, not exchanged"
        );
        assert_eq!(second.exchanges(), 0);

        // A saved token within its refresh margin (5 minutes of a 1-hour token) is exchanged
        // again, and the new one saved; while the exchange fails, it still serves until it
        // expires.
        let now = SystemTime::now();
        file.store(&StoredToken {
            access_token: SecretString::from("due-token".to_owned()),
            issued_at: now - Duration::from_secs(3500),
            expires_at: now + Duration::from_secs(100),
        });
        let down = counting(Duration::from_secs(3600), Some(0));
        let stale = process(&down, &file);
        assert_eq!(
            stale.header().await.unwrap().to_str().unwrap(),
            "Bearer due-token"
        );
        assert_eq!(down.calls.load(Ordering::SeqCst), 1, "a refresh was tried");
        let next = process(&exchange, &file);
        assert_eq!(
            next.header().await.unwrap().to_str().unwrap(),
            "Bearer token-2"
        );
        assert_eq!(
            file.load()
                .map(|t| t.access_token.expose_secret().to_owned()),
            Some("token-2".to_owned())
        );
        let shown = format!("{next:?}");
        assert!(!shown.contains("token-2"), "{shown}");
    }

    #[tokio::test]
    async fn a_rejected_saved_token_is_forgotten_by_every_process() {
        let dir = tempfile::tempdir().unwrap();
        let file = TokenFile::new(dir.path(), &["id"]);
        let exchange = counting(Duration::from_secs(3600), None);
        let first = process(&exchange, &file);
        let rejected = first.header().await.unwrap();
        assert!(first.invalidate(&rejected), "the current exchanged token");
        assert!(file.load().is_none(), "gone from the file too");
        let second = process(&exchange, &file);
        assert_eq!(
            second.header().await.unwrap().to_str().unwrap(),
            "Bearer token-2"
        );
        // A stale rejection keeps the newer token; a static one is never replaced.
        assert!(!second.invalidate(&rejected));
        assert!(file.load().is_some());
        let fixed = TokenSource::fixed(&SecretString::from("iam".to_owned())).unwrap();
        assert!(!fixed.invalidate(&fixed.header().await.unwrap()));
    }

    #[tokio::test]
    async fn a_corrupt_token_file_is_ignored_and_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let file = TokenFile::new(dir.path(), &["id"]);
        let exchange = counting(Duration::from_secs(3600), None);
        process(&exchange, &file).header().await.unwrap();
        std::fs::write(file.path(), b"{\"access_token\": 7").unwrap();
        let next = process(&exchange, &file);
        assert_eq!(
            next.header().await.unwrap().to_str().unwrap(),
            "Bearer token-2"
        );
        assert_eq!(
            file.load()
                .map(|t| t.access_token.expose_secret().to_owned()),
            Some("token-2".to_owned()),
            "rewritten"
        );
    }

    /// Everything the token cache logs, at every level, names no token.
    #[test]
    fn the_token_cache_logs_no_token() {
        #[derive(Clone, Default)]
        struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = TokenFile::new(dir.path(), &["id"]);
        runtime.block_on(async {
            let exchange = counting(Duration::from_secs(3600), None);
            let first = process(&exchange, &file);
            let token = first.header().await.unwrap();
            let second = process(&exchange, &file);
            second.header().await.unwrap();
            second.invalidate(&token);
            std::fs::write(file.path(), b"token-1 but corrupt").unwrap();
            process(&exchange, &file).header().await.unwrap();
        });
        // The file's name is a hash, which may well contain "token-1"; it is no secret.
        let logged = String::from_utf8(captured.0.lock().unwrap().clone())
            .unwrap()
            .replace(&file.path().display().to_string(), "PATH");
        assert!(logged.contains("saved Nebius access token"), "{logged}");
        assert!(
            !logged.contains("token-1") && !logged.contains("token-2"),
            "{logged}"
        );
    }

    #[test]
    fn static_tokens_are_sensitive_and_checked() {
        let source = TokenSource::fixed(&SecretString::from("iam-secret".to_owned())).unwrap();
        assert!(!format!("{source:?}").contains("iam-secret"));
        let TokenSource::Static(value) = &source else {
            panic!("static");
        };
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("iam-secret"));
        assert!(TokenSource::fixed(&SecretString::from("bad\ntoken".to_owned())).is_err());
    }
}
