//! How the service listens and who may call it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use crate::error::ServeError;

/// The address the service binds when none is given: loopback only.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8750);

/// The environment variable holding the bearer token (the server checks it, the CLI sends it).
pub const TOKEN_ENV: &str = "GPUCLOUD_SERVER_TOKEN";

/// The service's settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen. Any address other than a loopback one needs a `token`.
    pub addr: SocketAddr,
    /// The bearer token every request must carry; `None` serves loopback callers without one.
    pub token: Option<SecretString>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: DEFAULT_ADDR,
            token: None,
        }
    }
}

impl ServerConfig {
    /// Loopback only, without a token, on `addr`'s port.
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, token: None }
    }

    /// Requires `token` on every request.
    pub fn with_token(mut self, token: SecretString) -> Self {
        self.token = Some(token);
        self
    }

    /// Refuses a setting that would serve the fleet to the network without a token, and an
    /// empty token.
    pub fn validate(&self) -> Result<(), ServeError> {
        if let Some(token) = &self.token
            && token.expose_secret().trim().is_empty()
        {
            return Err(ServeError::invalid("token", "is empty"));
        }
        if self.token.is_none() && !self.addr.ip().is_loopback() {
            return Err(ServeError::invalid(
                "addr",
                format!(
                    "{} is not a loopback address: serving it needs a bearer token \
                     ({TOKEN_ENV} or a token file)",
                    self.addr
                ),
            ));
        }
        Ok(())
    }
}

/// Reads a bearer token from a file holding it alone (surrounding whitespace ignored). The
/// file must not be readable by group or others, like the providers' config file.
pub fn read_token_file(path: &Path) -> Result<SecretString, ServeError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .map_err(|e| ServeError::invalid("token_file", format!("{}: {e}", path.display())))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(ServeError::invalid(
                "token_file",
                format!(
                    "{} is readable by group or others; chmod 600 it",
                    path.display()
                ),
            ));
        }
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| ServeError::invalid("token_file", format!("{}: {e}", path.display())))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(ServeError::invalid(
            "token_file",
            format!("{} is empty", path.display()),
        ));
    }
    Ok(SecretString::from(token.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_off_loopback_needs_a_token() {
        let open: SocketAddr = "0.0.0.0:8750".parse().unwrap();
        let error = ServerConfig::new(open).validate().unwrap_err().to_string();
        assert!(
            error.contains("addr") && error.contains(TOKEN_ENV),
            "{error}"
        );
        ServerConfig::new(open)
            .with_token(SecretString::from("s3cret".to_owned()))
            .validate()
            .unwrap();
        ServerConfig::new("[::1]:1".parse().unwrap())
            .validate()
            .unwrap();
        ServerConfig::default().validate().unwrap();
    }

    #[test]
    fn an_empty_token_is_refused() {
        let error = ServerConfig::default()
            .with_token(SecretString::from("  ".to_owned()))
            .validate()
            .unwrap_err()
            .to_string();
        assert!(error.contains("token"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            read_token_file(&path)
                .unwrap_err()
                .to_string()
                .contains("chmod 600")
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_token_file(&path).unwrap().expose_secret(), "abc");
    }
}
