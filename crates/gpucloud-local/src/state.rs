//! Instance records on disk and the locks that make several processes safe.
//!
//! Layout of the state directory:
//!
//! ```text
//! STATE/lock                      global lock: allocation, the bridge, reconciliation
//! STATE/instances/ID/record.json  the instance record, replaced atomically (write + rename)
//! STATE/instances/ID/lock         instance lock: held while the instance is being changed
//! STATE/instances/ID/...          sshd config, host key, authorized_keys, console.log, ...
//! ```
//!
//! Lock order: the global lock may be held while taking an instance lock, never the reverse.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use gpucloud_core::{FirewallRule, Result, Tags};
use jiff::Timestamp;
use rustix::fs::FlockOperation;
use serde::{Deserialize, Serialize};

use crate::cmd::{internal, io_error};

/// The stage of an instance's life as the provider last left it. The reported lifecycle status
/// is derived from this and from what is running (see `client::observe`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Stage {
    /// The record exists; resources are being created.
    #[default]
    Creating,
    /// Resources exist and the instance's init (sshd) was launched.
    Started,
    /// A reboot is killing and relaunching the processes.
    Rebooting,
    /// A stop is killing the processes.
    Stopping,
    /// No processes; namespace, address, files kept.
    Stopped,
    /// Resources are being removed.
    Terminating,
    /// Something failed; see the messages. Only terminate helps.
    Failed,
    /// A stage this version does not know.
    #[serde(other)]
    Unknown,
}

/// A running process, identified so that a reused pid is not mistaken for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProcRef {
    /// Process id in the host's PID namespace.
    pub(crate) pid: i32,
    /// Start time in clock ticks since boot (field 22 of `/proc/PID/stat`).
    pub(crate) start_time: u64,
}

/// Everything the provider knows about an instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Record {
    /// Format version of the record.
    pub(crate) version: u32,
    /// Instance id (`local-` and 12 hex digits).
    pub(crate) id: String,
    /// Display name.
    pub(crate) name: String,
    /// Host name inside the instance.
    pub(crate) hostname: String,
    /// Control-plane RefID.
    pub(crate) ref_id: String,
    /// Credential reference id.
    pub(crate) cloud_cred_ref_id: String,
    /// When it was created.
    pub(crate) created_at: Option<Timestamp>,
    /// Instance type name.
    pub(crate) instance_type: String,
    /// The instance's address.
    pub(crate) address: Option<Ipv4Addr>,
    /// The subnet the address came from.
    pub(crate) subnet: String,
    /// Stage.
    pub(crate) stage: Stage,
    /// Diagnostics for people.
    pub(crate) messages: Vec<String>,
    /// User tags.
    pub(crate) tags: Tags,
    /// Ingress rules with their ids.
    pub(crate) ingress: Vec<FirewallRule>,
    /// The number of the next firewall rule id.
    pub(crate) next_rule: u64,
    /// SHA-256 fingerprint of the authorized key.
    pub(crate) pub_key_fingerprint: String,
    /// The launcher process (its life is the instance's init's life).
    pub(crate) launcher: Option<ProcRef>,
    /// When the instance last entered `stopping` or `stopped`.
    pub(crate) last_stop_transition_time: Option<Timestamp>,
    /// Whether user data was given.
    pub(crate) user_data: bool,
    /// Whether CPU and memory limits are enforced by a cgroup.
    pub(crate) limits_enforced: bool,
}

impl Record {
    /// A fresh firewall rule id.
    pub(crate) fn next_rule_id(&mut self) -> String {
        self.next_rule += 1;
        format!("fw-{}", self.next_rule)
    }
}

/// An exclusive `flock`; released when dropped.
#[derive(Debug)]
#[must_use = "the lock is released when dropped"]
pub(crate) struct Lock {
    _file: File,
}

/// What the instances directory holds for one id.
#[derive(Debug)]
pub(crate) enum Entry {
    /// A readable record.
    Record(Box<Record>),
    /// A directory without a record (a create that died before writing it).
    Empty,
    /// A record that cannot be read.
    Unreadable(String),
}

/// The state directory.
#[derive(Clone, Debug)]
pub(crate) struct Store {
    root: PathBuf,
}

const RECORD: &str = "record.json";
const LOCK: &str = "lock";

/// Runs blocking file-system work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    operation: &'static str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal(operation, format!("a blocking task failed: {e}")))?
}

fn flock(file: &File, operation: FlockOperation) -> std::io::Result<()> {
    rustix::fs::flock(file, operation).map_err(std::io::Error::from)
}

/// True when `id` has the shape of an instance id (so it is safe in paths and device names).
pub(crate) fn valid_id(id: &str) -> bool {
    id.strip_prefix("local-").is_some_and(|hex| {
        hex.len() == 12
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The 12 hex digits of an id.
pub(crate) fn id_hex(id: &str) -> &str {
    id.strip_prefix("local-").unwrap_or(id)
}

impl Store {
    /// Opens (creating) the state directory, mode 0700.
    pub(crate) fn open(root: &Path) -> Result<Self> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root.join("instances"))
            .map_err(|e| {
                io_error(
                    "new_client",
                    format!("cannot create the state directory {}", root.display()),
                    e,
                )
            })?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The state directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of an instance.
    pub(crate) fn dir(&self, id: &str) -> PathBuf {
        self.root.join("instances").join(id)
    }

    /// Takes the global lock, waiting for it.
    pub(crate) async fn lock_global(&self, operation: &'static str) -> Result<Lock> {
        let path = self.root.join(LOCK);
        blocking(operation, move || {
            let file = open_lock(&path).map_err(|e| {
                io_error(
                    operation,
                    format!("cannot open the lock file {}", path.display()),
                    e,
                )
            })?;
            flock(&file, FlockOperation::LockExclusive)
                .map_err(|e| io_error(operation, format!("cannot lock {}", path.display()), e))?;
            Ok(Lock { _file: file })
        })
        .await
    }

    /// Takes an instance's lock, waiting for it; `None` when the instance directory is gone.
    pub(crate) async fn lock_instance(
        &self,
        operation: &'static str,
        id: &str,
    ) -> Result<Option<Lock>> {
        let dir = self.dir(id);
        blocking(operation, move || {
            let path = dir.join(LOCK);
            let file = match open_lock(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => {
                    return Err(io_error(
                        operation,
                        format!("cannot open the lock file {}", path.display()),
                        e,
                    ));
                }
            };
            flock(&file, FlockOperation::LockExclusive)
                .map_err(|e| io_error(operation, format!("cannot lock {}", path.display()), e))?;
            // A terminate may have removed the directory while we waited.
            if !dir.exists() {
                return Ok(None);
            }
            Ok(Some(Lock { _file: file }))
        })
        .await
    }

    /// Takes an instance's lock if nobody holds it; `None` when it is held (or the directory
    /// is gone).
    pub(crate) fn try_lock_instance(&self, id: &str) -> Option<Lock> {
        let file = open_lock(&self.dir(id).join(LOCK)).ok()?;
        flock(&file, FlockOperation::NonBlockingLockExclusive).ok()?;
        Some(Lock { _file: file })
    }

    /// True when some process holds the instance's lock right now.
    pub(crate) fn instance_busy(&self, id: &str) -> bool {
        let Ok(file) = File::open(self.dir(id).join(LOCK)) else {
            return false;
        };
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => false,
            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
        }
    }

    /// Creates a new instance directory with its first record and takes its lock. Call with
    /// the global lock held.
    pub(crate) async fn create(&self, record: &Record) -> Result<Lock> {
        let dir = self.dir(&record.id);
        let bytes = serde_json::to_vec_pretty(record)
            .map_err(|e| internal("create_instance", format!("cannot encode the record: {e}")))?;
        blocking("create_instance", move || {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&dir)
                .map_err(|e| {
                    io_error(
                        "create_instance",
                        format!("cannot create {}", dir.display()),
                        e,
                    )
                })?;
            let path = dir.join(LOCK);
            let file = open_lock(&path).map_err(|e| {
                io_error(
                    "create_instance",
                    format!("cannot open {}", path.display()),
                    e,
                )
            })?;
            flock(&file, FlockOperation::NonBlockingLockExclusive).map_err(|e| {
                io_error(
                    "create_instance",
                    format!("cannot lock {}", path.display()),
                    e,
                )
            })?;
            write_atomic("create_instance", &dir.join(RECORD), &bytes)?;
            Ok(Lock { _file: file })
        })
        .await
    }

    /// Replaces an instance's record atomically.
    pub(crate) async fn write(&self, operation: &'static str, record: &Record) -> Result<()> {
        let path = self.dir(&record.id).join(RECORD);
        let bytes = serde_json::to_vec_pretty(record)
            .map_err(|e| internal(operation, format!("cannot encode the record: {e}")))?;
        blocking(operation, move || write_atomic(operation, &path, &bytes)).await
    }

    /// Reads one instance.
    pub(crate) async fn read(&self, operation: &'static str, id: &str) -> Result<Option<Entry>> {
        let dir = self.dir(id);
        blocking(operation, move || read_entry(operation, &dir)).await
    }

    /// Reads every instance, ordered by id.
    pub(crate) async fn read_all(&self, operation: &'static str) -> Result<Vec<(String, Entry)>> {
        let instances = self.root.join("instances");
        blocking(operation, move || {
            let listing = std::fs::read_dir(&instances).map_err(|e| {
                io_error(operation, format!("cannot list {}", instances.display()), e)
            })?;
            let mut entries = Vec::new();
            for item in listing {
                let item = item.map_err(|e| {
                    io_error(operation, format!("cannot list {}", instances.display()), e)
                })?;
                let name = item.file_name().to_string_lossy().into_owned();
                if !valid_id(&name) {
                    continue;
                }
                if let Some(entry) = read_entry(operation, &item.path())? {
                    entries.push((name, entry));
                }
            }
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(entries)
        })
        .await
    }

    /// Removes an instance's directory (tolerates its absence).
    pub(crate) async fn remove(&self, operation: &'static str, id: &str) -> Result<()> {
        let dir = self.dir(id);
        blocking(operation, move || match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(
                operation,
                format!("cannot remove {}", dir.display()),
                e,
            )),
        })
        .await
    }
}

fn read_entry(operation: &'static str, dir: &Path) -> Result<Option<Entry>> {
    match std::fs::read(dir.join(RECORD)) {
        Ok(bytes) => Ok(Some(match serde_json::from_slice::<Record>(&bytes) {
            Ok(record) => Entry::Record(Box::new(record)),
            Err(e) => Entry::Unreadable(format!(
                "the record {} cannot be read: {e}",
                dir.join(RECORD).display()
            )),
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(dir.is_dir().then_some(Entry::Empty))
        }
        Err(e) => Err(io_error(
            operation,
            format!("cannot read {}", dir.join(RECORD).display()),
            e,
        )),
    }
}

/// Writes `bytes` to a temporary file beside `path`, flushes it, and renames it over `path`.
pub(crate) fn write_atomic(operation: &'static str, path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error(operation, format!("cannot write {}", path.display()), e)
    })
}

/// Opens (creating it, owner-only) a lock file without truncating it: the lock is the `flock` on
/// the open file, never its contents.
fn open_lock(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(valid_id("local-0123456789ab"));
        assert!(!valid_id("local-0123456789AB"));
        assert!(!valid_id("local-../../etc"));
        assert!(!valid_id("0123456789ab"));
        assert_eq!(id_hex("local-0123456789ab"), "0123456789ab");
    }

    #[test]
    fn records_are_lenient() {
        let record: Record =
            serde_json::from_str(r#"{"id":"local-0123456789ab","stage":"warp","new":1}"#).unwrap();
        assert_eq!(record.stage, Stage::Unknown);
        assert_eq!(record.address, None);
        let mut record = Record::default();
        assert_eq!(record.next_rule_id(), "fw-1");
        assert_eq!(record.next_rule_id(), "fw-2");
    }

    #[tokio::test]
    async fn store_round_trip_and_locks() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let record = Record {
            id: "local-00000000000a".into(),
            name: "a".into(),
            ..Record::default()
        };
        let lock = store.create(&record).await.unwrap();
        assert!(store.instance_busy(&record.id));
        drop(lock);
        assert!(!store.instance_busy(&record.id));
        std::fs::create_dir(store.dir("local-00000000000b")).unwrap();
        std::fs::create_dir(store.dir("local-00000000000c")).unwrap();
        std::fs::write(store.dir("local-00000000000c").join(RECORD), b"{oops").unwrap();
        std::fs::create_dir(store.dir("not-an-instance")).unwrap();
        let all = store.read_all("test").await.unwrap();
        assert_eq!(all.len(), 3);
        assert!(matches!(&all[0].1, Entry::Record(r) if r.name == "a"));
        assert!(matches!(all[1].1, Entry::Empty));
        assert!(matches!(&all[2].1, Entry::Unreadable(m) if m.contains("cannot be read")));
        assert!(
            store
                .read("test", "local-00000000000d")
                .await
                .unwrap()
                .is_none()
        );
        let _held = store
            .lock_instance("test", &record.id)
            .await
            .unwrap()
            .unwrap();
        assert!(store.instance_busy(&record.id));
        store.remove("test", &record.id).await.unwrap();
        store.remove("test", &record.id).await.unwrap();
        assert!(
            store
                .lock_instance("test", &record.id)
                .await
                .unwrap()
                .is_none()
        );
        let _global = store.lock_global("test").await.unwrap();
    }
}
