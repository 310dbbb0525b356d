//! The access token kept between processes: one file per credential in the state directory,
//! so that a command run after another reuses its token instead of spending a round trip on
//! the exchange (issue 28: offers from Nebius in one round trip).
//!
//! The file holds a bearer token, so it is treated like the key it was exchanged from:
//!
//! - it lives in a directory of mode 0700 and is written with mode 0600, atomically (a reader
//!   sees the old file or the new one, never half of one);
//! - it is named by a hash of who asks and where (the endpoint, the service account and its
//!   key id), so another credential's token is never read, and the name reveals nothing;
//! - it is read only when it is a regular file owned by this user that nobody else can read
//!   or write, parses, and is not within the refresh margin of its expiry; anything else is
//!   ignored (and replaced by the next exchange), never an error: the cache only saves time;
//! - its token never appears in `Debug`, logs or errors.

use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

/// The per-user state directory of Nebius tokens: `$XDG_STATE_HOME/gpucloud/nebius`, else
/// `$HOME/.local/state/gpucloud/nebius`; `None` when neither variable is set.
pub fn default_dir() -> Option<PathBuf> {
    let non_empty = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty());
    let base = non_empty("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| Path::new(&home).join(".local/state")))?;
    Some(base.join("gpucloud").join("nebius"))
}

/// A token read from, or to be written to, a token file.
pub(crate) struct StoredToken {
    /// The bearer token.
    pub(crate) access_token: SecretString,
    /// When it was issued.
    pub(crate) issued_at: SystemTime,
    /// When it expires.
    pub(crate) expires_at: SystemTime,
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("access_token", &"[redacted]")
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The file's JSON.
#[derive(Serialize, Deserialize)]
struct OnDisk {
    access_token: String,
    /// Seconds since the Unix epoch.
    issued_at: u64,
    /// Seconds since the Unix epoch.
    expires_at: u64,
}

/// One credential's token file.
#[derive(Clone)]
pub(crate) struct TokenFile {
    dir: PathBuf,
    path: PathBuf,
}

impl fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TokenFile").field(&self.path).finish()
    }
}

fn epoch_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Why a file of this kind, owner and mode is not trusted to hold this user's token (`me`);
/// `None` when it is.
fn untrusted(is_file: bool, owner: u32, mode: u32, me: u32) -> Option<&'static str> {
    if !is_file {
        Some("not a regular file")
    } else if owner != me {
        Some("owned by another user")
    } else if mode & 0o077 != 0 {
        Some("readable or writable by others")
    } else {
        None
    }
}

impl TokenFile {
    /// The file in `dir` of the credential that `identity` names (the endpoint, the service
    /// account and its key id, hashed into the name).
    pub(crate) fn new(dir: &Path, identity: &str) -> Self {
        let name = gpucloud_core::tenant_id_from_secret("token", identity.as_bytes());
        Self {
            dir: dir.to_owned(),
            path: dir.join(format!("{name}.json")),
        }
    }

    /// The file's path.
    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The stored token, when the file is this user's own, private, readable and the token
    /// not expired; anything else is `None` (the reason logged at debug, without the token).
    pub(crate) fn load(&self) -> Option<StoredToken> {
        let ignored = |why: &str| {
            tracing::debug!(path = %self.path.display(), why, "not reusing the saved Nebius token");
            None
        };
        let file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(_) => return ignored("unreadable"),
        };
        let Ok(meta) = file.metadata() else {
            return ignored("unreadable");
        };
        if let Some(why) = untrusted(
            meta.is_file(),
            meta.uid(),
            meta.mode(),
            rustix::process::geteuid().as_raw(),
        ) {
            return ignored(why);
        }
        let Ok(on_disk) = serde_json::from_reader::<_, OnDisk>(std::io::BufReader::new(file))
        else {
            return ignored("not a token file");
        };
        if on_disk.access_token.is_empty() || on_disk.expires_at <= on_disk.issued_at {
            return ignored("not a token file");
        }
        let expires_at = UNIX_EPOCH + Duration::from_secs(on_disk.expires_at);
        if expires_at <= SystemTime::now() {
            return ignored("expired");
        }
        Some(StoredToken {
            access_token: SecretString::from(on_disk.access_token),
            issued_at: UNIX_EPOCH + Duration::from_secs(on_disk.issued_at),
            expires_at,
        })
    }

    /// Saves `token` (mode 0600, in a directory of mode 0700), replacing whatever was there.
    /// A failure is logged and otherwise ignored: the next process exchanges again.
    pub(crate) fn store(&self, token: &StoredToken) {
        if let Err(error) = self.write(token) {
            tracing::debug!(path = %self.path.display(), %error, "could not save the Nebius token");
        }
    }

    fn write(&self, token: &StoredToken) -> std::io::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let on_disk = OnDisk {
            access_token: token.access_token.expose_secret().to_owned(),
            issued_at: epoch_secs(token.issued_at),
            expires_at: epoch_secs(token.expires_at),
        };
        let bytes = serde_json::to_vec(&on_disk).map_err(std::io::Error::other)?;
        let tmp = self.path.with_extension(format!(
            "{}.{}.tmp",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut file| file.write_all(&bytes))
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// Removes the file (its token was rejected); a file already gone is no error.
    pub(crate) fn forget(&self) {
        if let Err(error) = std::fs::remove_file(&self.path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::debug!(path = %self.path.display(), %error, "could not remove the saved Nebius token");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn token(secret: &str, lifetime: Duration) -> StoredToken {
        let now = SystemTime::now();
        StoredToken {
            access_token: SecretString::from(secret.to_owned()),
            issued_at: now,
            expires_at: now + lifetime,
        }
    }

    #[test]
    fn a_stored_token_is_read_back_private_and_keyed_by_credential() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let file = TokenFile::new(&state, "http://127.0.0.1:1|sa-1|key-1");
        assert!(file.load().is_none(), "nothing stored yet");
        file.store(&token("secret-token-1", Duration::from_secs(3600)));
        let read = file.load().expect("read back");
        assert_eq!(read.access_token.expose_secret(), "secret-token-1");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(file.path()), 0o600);
        assert_eq!(mode(&state), 0o700);
        // The name reveals nothing of who asked.
        let name = file.path().file_name().unwrap().to_str().unwrap();
        assert!(!name.contains("sa-1") && !name.contains("key-1"), "{name}");
        // Another credential (or endpoint) has its own file.
        let other = TokenFile::new(&state, "http://127.0.0.1:2|sa-1|key-1");
        assert_ne!(other.path(), file.path());
        assert!(other.load().is_none());
        // Neither Debug shows the token.
        let shown = format!("{read:?} {file:?}");
        assert!(!shown.contains("secret-token-1"), "{shown}");
        file.forget();
        assert!(file.load().is_none());
        file.forget();
    }

    #[test]
    fn expired_corrupt_or_shared_files_are_ignored_and_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let file = TokenFile::new(dir.path(), "id");
        let now = SystemTime::now();
        file.store(&StoredToken {
            access_token: SecretString::from("old".to_owned()),
            issued_at: now - Duration::from_secs(7200),
            expires_at: now - Duration::from_secs(1),
        });
        assert!(file.load().is_none(), "expired");

        for corrupt in [
            &b"not json"[..],
            b"{}",
            br#"{"access_token":"","issued_at":1,"expires_at":99999999999}"#,
            br#"{"access_token":"t","issued_at":5,"expires_at":5}"#,
        ] {
            std::fs::write(file.path(), corrupt).unwrap();
            std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
            assert!(
                file.load().is_none(),
                "{}",
                String::from_utf8_lossy(corrupt)
            );
        }

        file.store(&token("fresh", Duration::from_secs(3600)));
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(file.load().is_none(), "readable by others: not trusted");
        file.store(&token("rewritten", Duration::from_secs(3600)));
        assert_eq!(
            file.load().unwrap().access_token.expose_secret(),
            "rewritten"
        );

        std::fs::remove_file(file.path()).unwrap();
        std::fs::create_dir(file.path()).unwrap();
        assert!(file.load().is_none(), "a directory is no token file");
    }

    #[test]
    fn only_a_private_regular_file_of_this_user_is_trusted() {
        assert_eq!(untrusted(true, 1000, 0o100_600, 1000), None);
        assert_eq!(untrusted(true, 1000, 0o100_400, 1000), None);
        assert!(
            untrusted(true, 0, 0o100_600, 1000).is_some(),
            "another user's"
        );
        assert!(
            untrusted(true, 1000, 0o100_640, 1000).is_some(),
            "group-readable"
        );
        assert!(
            untrusted(true, 1000, 0o100_602, 1000).is_some(),
            "world-writable"
        );
        assert!(
            untrusted(false, 1000, 0o040_700, 1000).is_some(),
            "a directory"
        );
    }
}
