//! SSH keys: reading a public key file, finding or generating the default key pair, and
//! remembering which private key belongs to which instance.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{CliError, CliResult};
use crate::output::Out;

/// The largest public key file read.
const MAX_KEY_FILE: u64 = 16 * 1024;

/// The user's files: `~/.ssh` and the gpucloud directory (`~/.config/gpucloud`).
#[derive(Debug, Clone)]
pub struct Dirs {
    /// `$HOME`, if known.
    pub home: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME/gpucloud` or `~/.config/gpucloud`.
    pub gpucloud: Option<PathBuf>,
}

impl Dirs {
    /// From the process environment.
    pub fn from_env() -> Self {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        let gpucloud = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|h| !h.is_empty())
            .map(|x| PathBuf::from(x).join("gpucloud"))
            .or_else(|| home.as_ref().map(|h| h.join(".config").join("gpucloud")));
        Self { home, gpucloud }
    }

    fn gpucloud_dir(&self) -> CliResult<&Path> {
        self.gpucloud
            .as_deref()
            .ok_or_else(|| CliError::usage("cannot find the gpucloud directory: HOME is not set"))
    }
}

/// A public key to authorize and, when known, its private half.
#[derive(Debug, Clone)]
pub struct KeyPair {
    /// The public key in OpenSSH form.
    pub public_key: String,
    /// The public key file.
    pub public_path: PathBuf,
    /// The private key file, when it sits next to the public one.
    pub private_path: Option<PathBuf>,
}

/// Reads and checks a public key file given with `flag`.
pub fn read_public_key(path: &Path, flag: &str) -> CliResult<KeyPair> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| CliError::usage(format!("{flag} {shown}: cannot read the file: {e}")))?;
    if !meta.is_file() {
        return Err(CliError::usage(format!("{flag} {shown}: not a file")));
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(CliError::usage(format!(
            "{flag} {shown}: the file is {} bytes, too large to be a public key",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::usage(format!("{flag} {shown}: cannot read the file: {e}")))?;
    let Ok(text) = String::from_utf8(bytes) else {
        return Err(CliError::usage(format!(
            "{flag} {shown}: not a text file; expected an OpenSSH public key such as ~/.ssh/id_ed25519.pub"
        )));
    };
    if text.contains("PRIVATE KEY") {
        return Err(CliError::usage(format!(
            "{flag} {shown}: this is a private key; pass the public key (the .pub file)"
        ))
        .hint("never share a private key; gpucloud only needs the .pub file"));
    }
    let key = gpucloud::sshkey::parse_public_key(&text).map_err(|problem| {
        CliError::usage(format!(
            "{flag} {shown}: not a usable SSH public key: {problem}"
        ))
    })?;
    let private_path = path
        .to_str()
        .and_then(|p| p.strip_suffix(".pub"))
        .map(PathBuf::from)
        .filter(|p| p.is_file());
    Ok(KeyPair {
        public_key: key.to_openssh(),
        public_path: path.to_owned(),
        private_path,
    })
}

/// The key to use when none is given: `~/.ssh/id_ed25519.pub`, else the pair under
/// `~/.config/gpucloud/keys/`, generated with `ssh-keygen` the first time.
pub fn default_key(dirs: &Dirs, out: Out) -> CliResult<KeyPair> {
    if let Some(home) = &dirs.home {
        let user_key = home.join(".ssh").join("id_ed25519.pub");
        if user_key.is_file() {
            return read_public_key(&user_key, "default key");
        }
    }
    let keys = dirs.gpucloud_dir()?.join("keys");
    let private = keys.join("id_ed25519");
    let public = keys.join("id_ed25519.pub");
    if public.is_file() && private.is_file() {
        return read_public_key(&public, "generated key");
    }
    create_private_dir(&keys)?;
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "gpucloud", "-f"])
        .arg(&private)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| {
            CliError::failed(format!(
                "no ~/.ssh/id_ed25519.pub, and ssh-keygen could not run: {e}"
            ))
            .hint("install openssh-client, or pass --ssh-key FILE.pub")
        })?;
    if !status.success() {
        return Err(CliError::failed(format!(
            "ssh-keygen failed ({status}) generating {}",
            private.display()
        )));
    }
    out.note(&format!(
        "No ~/.ssh/id_ed25519.pub found: generated a new key pair {} (public key {}).",
        private.display(),
        public.display()
    ));
    read_public_key(&public, "generated key")
}

fn create_private_dir(dir: &Path) -> CliResult {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))
}

/// What gpucloud remembers about an instance it created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceRecord {
    /// The private key that logs in, when known.
    pub private_key: Option<PathBuf>,
    /// The public key file that was authorized.
    pub public_key: Option<PathBuf>,
    /// The location the instance was created in.
    pub location: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct StateFile {
    /// `provider-id/instance-id` → record.
    instances: BTreeMap<String, InstanceRecord>,
}

/// `~/.config/gpucloud/instances.json`: the key file used for each created instance.
#[derive(Debug, Clone)]
pub struct Store {
    path: Option<PathBuf>,
}

impl Store {
    /// The store under `dirs`.
    pub fn new(dirs: &Dirs) -> Self {
        Self {
            path: dirs.gpucloud.as_ref().map(|d| d.join("instances.json")),
        }
    }

    /// The directory of per-instance known_hosts files.
    pub fn known_hosts_dir(&self) -> Option<PathBuf> {
        self.path
            .as_ref()
            .and_then(|p| p.parent())
            .map(|d| d.join("known_hosts"))
    }

    fn load(&self) -> StateFile {
        let Some(path) = &self.path else {
            return StateFile::default();
        };
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "instance records unreadable; ignored");
                StateFile::default()
            }),
            Err(_) => StateFile::default(),
        }
    }

    fn save(&self, state: &StateFile) -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let Some(path) = &self.path else {
            return Ok(());
        };
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new().recursive(true).create(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    }

    fn key(provider: &str, id: &str) -> String {
        format!("{provider}/{id}")
    }

    /// The record of an instance, if gpucloud created it here.
    pub fn get(&self, provider: &str, id: &str) -> Option<InstanceRecord> {
        self.load().instances.remove(&Self::key(provider, id))
    }

    /// Remembers an instance. Failing to write is a warning, not an error.
    pub fn put(&self, provider: &str, id: &str, record: InstanceRecord, out: Out) {
        let mut state = self.load();
        state.instances.insert(Self::key(provider, id), record);
        if let Err(e) = self.save(&state) {
            out.warn(&format!("could not record the instance's key file: {e}"));
        }
    }

    /// Forgets an instance.
    pub fn remove(&self, provider: &str, id: &str) {
        let mut state = self.load();
        if state.instances.remove(&Self::key(provider, id)).is_some()
            && let Err(e) = self.save(&state)
        {
            tracing::warn!(error = %e, "could not update instance records");
        }
    }
}
