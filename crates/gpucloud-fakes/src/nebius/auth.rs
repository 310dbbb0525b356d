//! Service-account keys and JWTs: what Nebius IAM checks before it exchanges a self-signed
//! JWT for an access token, and the `subject-credentials` file its SDKs and CLI read.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;

/// `grant_type` of a token exchange (RFC 8693).
pub const GRANT_TYPE_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// `subject_token_type` of a self-signed service-account JWT.
pub const TOKEN_TYPE_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
/// `requested_token_type` / `issued_token_type` of an access token.
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// An RSA service-account key: its id (the JWT `kid`), the service account it belongs to
/// (the JWT `iss` and `sub`) and the key pair. Debug shows the ids only.
pub struct ServiceAccountKey {
    key_id: String,
    service_account_id: String,
    pair: KeyPair,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("key_id", &self.key_id)
            .field("service_account_id", &self.service_account_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// A fresh 2048-bit key with these ids.
    pub fn generate(key_id: &str, service_account_id: &str) -> std::io::Result<Self> {
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| std::io::Error::other("cannot generate an RSA key"))?;
        Ok(Self {
            key_id: key_id.to_owned(),
            service_account_id: service_account_id.to_owned(),
            pair,
        })
    }

    /// A key from a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(
        pem: &str,
        key_id: &str,
        service_account_id: &str,
    ) -> std::io::Result<Self> {
        let invalid = |why: &str| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("private-key: {why}"),
            )
        };
        let body: String = pem
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("-----"))
            .collect();
        let der = STANDARD
            .decode(body)
            .map_err(|_| invalid("not PEM (base64 between BEGIN/END lines)"))?;
        let pair =
            KeyPair::from_pkcs8(&der).map_err(|_| invalid("not an RSA PKCS#8 private key"))?;
        Ok(Self {
            key_id: key_id.to_owned(),
            service_account_id: service_account_id.to_owned(),
            pair,
        })
    }

    /// The key id (`kid`), e.g. `publickey-e00…`.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The service account id (`iss` and `sub`), e.g. `serviceaccount-e00…`.
    pub fn service_account_id(&self) -> &str {
        &self.service_account_id
    }

    /// The public key, DER `RSAPublicKey` (PKCS#1).
    pub fn public_key_der(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    /// The private key as PKCS#8 PEM.
    pub fn private_key_pem(&self) -> String {
        let der = self
            .pair
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default();
        let encoded = STANDARD.encode(der);
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in encoded.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        pem
    }

    /// The `subject-credentials` JSON the Nebius CLI writes for this key
    /// (`nebius iam auth-public-key generate --output`): type `JWT`, alg `RS256`, the PEM
    /// private key, `kid`, and the service account as `iss` and `sub`. It holds the private
    /// key: treat it as a secret.
    pub fn credentials_json(&self) -> String {
        serde_json::json!({
            "subject-credentials": {
                "type": "JWT",
                "alg": "RS256",
                "private-key": self.private_key_pem(),
                "kid": self.key_id,
                "iss": self.service_account_id,
                "sub": self.service_account_id,
            }
        })
        .to_string()
    }

    /// A JWT signed with this key as the Nebius SDKs make it: header `{alg: RS256, kid, typ:
    /// JWT}`, claims `iss` = `sub` = the service account, `iat` now, `exp` now + `ttl`.
    pub fn signed_jwt(&self, ttl: Duration) -> String {
        let now = unix_now();
        self.sign_claims(&serde_json::json!({
            "iss": self.service_account_id,
            "sub": self.service_account_id,
            "iat": now,
            "exp": now.saturating_add(ttl.as_secs()),
        }))
    }

    /// A JWT with these claims, header `{alg: RS256, kid, typ: JWT}`, signed with this key
    /// (for tests of the claims the fake refuses).
    pub fn sign_claims(&self, claims: &serde_json::Value) -> String {
        let header = serde_json::json!({"alg": "RS256", "kid": self.key_id, "typ": "JWT"});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.pair.public_modulus_len()];
        // Signing with a valid key into a buffer of the modulus length cannot fail.
        let _ = self.pair.sign(
            &signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        );
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// A public key IAM knows: which service account it authenticates.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredKey {
    pub(crate) service_account_id: String,
    pub(crate) public_key_der: Vec<u8>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: String,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    iss: String,
    #[serde(default)]
    sub: String,
    exp: Option<u64>,
}

/// The service account a JWT authenticates, or why not. `lookup` finds the registered key
/// of a `kid`.
pub(crate) fn verify_jwt<'k>(
    token: &str,
    lookup: impl Fn(&str) -> Option<&'k RegisteredKey>,
) -> Result<String, String> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("subject_token is not a JWT (three base64url parts)".to_owned());
    };
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| format!("subject_token: the {what} is not base64url"))
    };
    let header: Header = serde_json::from_slice(&decode(header_b64, "header")?)
        .map_err(|_| "subject_token: the header is not a JWT header".to_owned())?;
    if header.alg != "RS256" {
        return Err(format!(
            "subject_token: alg {:?} is not supported, only RS256",
            header.alg
        ));
    }
    let key = lookup(&header.kid)
        .ok_or_else(|| format!("subject_token: unknown key id {:?}", header.kid))?;
    let signature = decode(signature_b64, "signature")?;
    let signing_input = &token[..header_b64.len() + 1 + claims_b64.len()];
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &key.public_key_der)
        .verify(signing_input.as_bytes(), &signature)
        .map_err(|_| "subject_token: the signature does not match the key".to_owned())?;
    let claims: Claims = serde_json::from_slice(&decode(claims_b64, "claims")?)
        .map_err(|_| "subject_token: the claims are not a JSON object".to_owned())?;
    if claims.iss != key.service_account_id || claims.sub != key.service_account_id {
        return Err(format!(
            "subject_token: iss and sub must both be the key's service account {:?}",
            key.service_account_id
        ));
    }
    match claims.exp {
        None => Err("subject_token: exp is missing".to_owned()),
        Some(exp) if exp <= unix_now() => Err("subject_token: the JWT has expired".to_owned()),
        Some(_) => Ok(key.service_account_id.clone()),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(key: &ServiceAccountKey) -> RegisteredKey {
        RegisteredKey {
            service_account_id: key.service_account_id().to_owned(),
            public_key_der: key.public_key_der(),
        }
    }

    #[test]
    fn a_signed_jwt_verifies_and_a_foreign_key_does_not() {
        let key = ServiceAccountKey::generate("publickey-1", "serviceaccount-1").unwrap();
        let known = registered(&key);
        let lookup = |kid: &str| (kid == "publickey-1").then_some(&known);
        let jwt = key.signed_jwt(Duration::from_secs(60));
        assert_eq!(verify_jwt(&jwt, lookup).unwrap(), "serviceaccount-1");

        let other = ServiceAccountKey::generate("publickey-1", "serviceaccount-1").unwrap();
        let forged = other.signed_jwt(Duration::from_secs(60));
        assert!(
            verify_jwt(&forged, lookup)
                .unwrap_err()
                .contains("signature")
        );

        let expired = key.sign_claims(&serde_json::json!({
            "iss": "serviceaccount-1", "sub": "serviceaccount-1", "exp": 1
        }));
        assert!(
            verify_jwt(&expired, lookup)
                .unwrap_err()
                .contains("expired")
        );

        let wrong_sub = key.sign_claims(&serde_json::json!({
            "iss": "serviceaccount-1", "sub": "serviceaccount-2", "exp": u64::MAX
        }));
        assert!(
            verify_jwt(&wrong_sub, lookup)
                .unwrap_err()
                .contains("iss and sub")
        );
        assert!(verify_jwt("a.b", lookup).is_err());
        assert!(verify_jwt("!.!.!", lookup).is_err());
    }

    #[test]
    fn pem_round_trips_and_debug_hides_the_key() {
        let key = ServiceAccountKey::generate("publickey-1", "serviceaccount-1").unwrap();
        let pem = key.private_key_pem();
        let again =
            ServiceAccountKey::from_pkcs8_pem(&pem, "publickey-1", "serviceaccount-1").unwrap();
        assert_eq!(again.public_key_der(), key.public_key_der());
        assert!(ServiceAccountKey::from_pkcs8_pem("junk", "k", "s").is_err());
        let debug = format!("{key:?}");
        assert!(!debug.contains("BEGIN"), "{debug}");
        let json: serde_json::Value = serde_json::from_str(&key.credentials_json()).unwrap();
        let credentials = &json["subject-credentials"];
        assert_eq!(credentials["alg"], "RS256");
        assert_eq!(credentials["kid"], "publickey-1");
        assert_eq!(credentials["iss"], credentials["sub"]);
        assert_eq!(credentials["private-key"], pem.as_str());
    }
}
