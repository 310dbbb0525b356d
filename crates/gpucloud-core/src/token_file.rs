//! An access token kept between processes: one file per credential in the provider's state
//! directory, so that a command run after another reuses its token instead of spending a round
//! trip on the exchange (issue 28: offers in one round trip). Every provider whose credential
//! is exchanged for a short-lived token (Nebius's IAM token, Verda's OAuth2 token) keeps it
//! here, by these rules:
//!
//! - it lives in a directory of mode 0700 and is written with mode 0600, atomically (a reader
//!   sees the old file or the new one, never half of one);
//! - it is named by a hash of who asks and where (whatever identifies the credential to its
//!   provider: the endpoint, the account, a key id or the secret itself), so another
//!   credential's token is never read, and the name reveals nothing;
//! - it is read only when it is a regular file owned by this user that nobody else can read
//!   or write, parses, and has not expired (whether a token within its refresh margin is still
//!   used is the provider's rule); anything else is ignored (and replaced by the next
//!   exchange), never an error: the file only saves time;
//! - its token never appears in `Debug`, logs or errors.
//!
//! This is the one file core touches: it does no network I/O.

use std::ffi::OsString;
use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// The longest a stored token is believed to last: a file claiming more (or times the clock
/// cannot hold) is no token file, so what is read back can always be added to a clock.
const LONGEST_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// The per-user state directory of `provider`'s tokens: `$XDG_STATE_HOME/gpucloud/<provider>`,
/// else `$HOME/.local/state/gpucloud/<provider>`; `None` when neither variable is set.
pub fn default_dir(provider: &str) -> Option<PathBuf> {
    state_dir(
        std::env::var_os("XDG_STATE_HOME"),
        std::env::var_os("HOME"),
        provider,
    )
}

/// [`default_dir`] from the variables' values (an empty one counts as unset).
fn state_dir(
    xdg_state_home: Option<OsString>,
    home: Option<OsString>,
    provider: &str,
) -> Option<PathBuf> {
    let base = xdg_state_home
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            home.filter(|v| !v.is_empty())
                .map(|home| Path::new(&home).join(".local/state"))
        })?;
    Some(base.join("gpucloud").join(provider))
}

/// A token read from, or to be written to, a token file.
pub struct StoredToken {
    /// The bearer token.
    pub access_token: SecretString,
    /// When it was issued.
    pub issued_at: SystemTime,
    /// When it expires.
    pub expires_at: SystemTime,
}

impl StoredToken {
    /// How long it was issued for (zero for a token that expires when it is issued).
    pub fn lifetime(&self) -> Duration {
        self.expires_at
            .duration_since(self.issued_at)
            .unwrap_or_default()
    }

    /// How long it is still valid after `now` (zero once it has expired).
    pub fn remaining(&self, now: SystemTime) -> Duration {
        self.expires_at.duration_since(now).unwrap_or_default()
    }
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
pub struct TokenFile {
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
    /// The file in `dir` of the credential that `identity` names: every part that tells one
    /// credential from another to its provider (the endpoint, the account, a key id; the
    /// secret itself where nothing else changes when it does), hashed into the name, so no
    /// part is stored and two different lists never share a file.
    pub fn new(dir: &Path, identity: &[&str]) -> Self {
        let mut hash = sha2::Sha256::new();
        for part in identity {
            // Each part with its length: ["ab", "c"] and ["a", "bc"] are different names.
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
        let name = crate::text::hex(&hash.finalize());
        Self {
            dir: dir.to_owned(),
            path: dir.join(format!("token-{name}.json")),
        }
    }

    /// The file's path (whether or not it exists).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored token, when the file is this user's own, private, readable and the token
    /// not expired; anything else is `None` (the reason logged at debug, without the token).
    pub fn load(&self) -> Option<StoredToken> {
        let ignored = |why: &str| {
            tracing::debug!(path = %self.path.display(), why, "not reusing the saved access token");
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
        let at = |secs: u64| UNIX_EPOCH.checked_add(Duration::from_secs(secs));
        let (Some(issued_at), Some(expires_at)) = (at(on_disk.issued_at), at(on_disk.expires_at))
        else {
            return ignored("not a token file");
        };
        let token = StoredToken {
            access_token: SecretString::from(on_disk.access_token),
            issued_at,
            expires_at,
        };
        let now = SystemTime::now();
        if token.access_token.expose_secret().is_empty()
            || token.lifetime().is_zero()
            || token.lifetime() > LONGEST_LIFETIME
            || token.remaining(now) > LONGEST_LIFETIME
        {
            return ignored("not a token file");
        }
        if token.remaining(now).is_zero() {
            return ignored("expired");
        }
        Some(token)
    }

    /// Saves `token` (mode 0600, in a directory of mode 0700), replacing whatever was there.
    /// A failure is logged and otherwise ignored: the next process exchanges again.
    pub fn store(&self, token: &StoredToken) {
        if let Err(error) = self.write(token) {
            tracing::debug!(path = %self.path.display(), %error, "could not save the access token");
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
    pub fn forget(&self) {
        if let Err(error) = std::fs::remove_file(&self.path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::debug!(path = %self.path.display(), %error, "could not remove the saved access token");
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
        let file = TokenFile::new(&state, &["http://127.0.0.1:1", "sa-1", "key-1"]);
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
        let other = TokenFile::new(&state, &["http://127.0.0.1:2", "sa-1", "key-1"]);
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
        let file = TokenFile::new(dir.path(), &["id"]);
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
            br#"{"access_token":"t","issued_at":1,"expires_at":18446744073709551615}"#,
            br#"{"access_token":"t","issued_at":18446744073709551614,"expires_at":18446744073709551615}"#,
            br#"{"access_token":"t","issued_at":1,"expires_at":99999999999}"#,
            br#"{"access_token":"t","issued_at":-1,"expires_at":99999999999}"#,
            br#"{"access_token":"t","issued_at":"1","expires_at":"2"}"#,
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
    fn identities_are_told_apart_part_by_part() {
        let dir = Path::new("/state/verda");
        let file = TokenFile::new(dir, &["ab", "c"]);
        assert_eq!(file.path(), TokenFile::new(dir, &["ab", "c"]).path());
        assert_eq!(file.path().parent(), Some(dir));
        for other in [&["a", "bc"][..], &["abc"], &["ab", "c", ""], &["c", "ab"]] {
            assert_ne!(file.path(), TokenFile::new(dir, other).path(), "{other:?}");
        }
    }

    #[test]
    fn lifetime_and_remaining_never_go_below_zero() {
        let now = SystemTime::now();
        let token = StoredToken {
            access_token: SecretString::from("t".to_owned()),
            issued_at: now - Duration::from_secs(100),
            expires_at: now + Duration::from_secs(50),
        };
        assert_eq!(token.lifetime(), Duration::from_secs(150));
        assert_eq!(token.remaining(now), Duration::from_secs(50));
        assert_eq!(
            token.remaining(now + Duration::from_secs(60)),
            Duration::ZERO
        );
        let backwards = StoredToken {
            issued_at: now,
            expires_at: now - Duration::from_secs(1),
            ..token
        };
        assert_eq!(backwards.lifetime(), Duration::ZERO);
    }

    #[test]
    fn the_state_directory_is_per_provider_under_xdg_state_home_else_home() {
        let os = |s: &str| Some(OsString::from(s));
        assert_eq!(
            state_dir(os("/x"), os("/home/u"), "verda"),
            Some(PathBuf::from("/x/gpucloud/verda"))
        );
        assert_eq!(
            state_dir(os(""), os("/home/u"), "nebius"),
            Some(PathBuf::from("/home/u/.local/state/gpucloud/nebius"))
        );
        assert_eq!(
            state_dir(None, os("/home/u"), "verda"),
            Some(PathBuf::from("/home/u/.local/state/gpucloud/verda"))
        );
        assert_eq!(state_dir(None, os(""), "verda"), None);
        assert_eq!(state_dir(None, None, "verda"), None);
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
