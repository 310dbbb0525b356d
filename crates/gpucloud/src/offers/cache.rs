//! The catalog cache: one JSON file per provider and credential, fresh for a time-to-live that
//! can differ per provider.
//!
//! Only the catalog is cached. Availability in a cached catalog is as old as the file, which is
//! why a launch always asks the providers again.
//!
//! Beside each catalog, the credential's *discovery* (what it looked up about its account that
//! rarely changes, such as which project serves each region: see
//! [`CloudCredential::discovery`](gpucloud_core::CloudCredential::discovery)) is kept for
//! longer, so a query after the catalog expired starts from it instead of spending round trips
//! on it again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gpucloud_core::InstanceType;
use serde::{Deserialize, Serialize};

use super::{Offer, OfferSource};

/// How long a cached catalog is used when no per-provider time-to-live is set.
pub const DEFAULT_CATALOG_TTL: Duration = Duration::from_secs(10 * 60);

/// How long a credential's saved discovery is reused.
pub const DEFAULT_DISCOVERY_TTL: Duration = Duration::from_secs(6 * 60 * 60);

/// A directory of cached catalogs.
#[derive(Debug, Clone)]
pub struct CatalogCache {
    dir: PathBuf,
    default_ttl: Duration,
    ttls: BTreeMap<String, Duration>,
    discovery_ttl: Duration,
}

#[derive(Serialize, Deserialize)]
struct CachedDiscovery {
    /// Seconds since the Unix epoch when the credential looked it up.
    fetched_at: u64,
    discovery: String,
}

/// The offers a cached catalog makes, written with it, so that `offers` reads only what it
/// shows: about a third of the catalog's bytes, and no catalog entry built.
#[derive(Serialize, Deserialize)]
struct CachedOffers {
    /// The catalog's `fetched_at`.
    fetched_at: u64,
    offers: Vec<Offer>,
}

/// Only the time of a cached catalog: reading it skips the entries without building them.
#[derive(Deserialize)]
struct Stamp {
    fetched_at: u64,
}

#[derive(Serialize, Deserialize)]
struct CachedCatalog {
    /// Seconds since the Unix epoch when the catalog was fetched.
    fetched_at: u64,
    instance_types: Vec<InstanceType>,
}

impl CatalogCache {
    /// A cache in `dir` (created on first store) with [`DEFAULT_CATALOG_TTL`].
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            default_ttl: DEFAULT_CATALOG_TTL,
            ttls: BTreeMap::new(),
            discovery_ttl: DEFAULT_DISCOVERY_TTL,
        }
    }

    /// The per-user cache directory: `$XDG_CACHE_HOME/gpucloud/catalog`, else
    /// `$HOME/.cache/gpucloud/catalog`; `None` when neither variable is set.
    pub fn default_dir() -> Option<PathBuf> {
        let non_empty = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty());
        let base = non_empty("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| non_empty("HOME").map(|home| Path::new(&home).join(".cache")))?;
        Some(base.join("gpucloud").join("catalog"))
    }

    /// Uses `ttl` for every provider without its own.
    pub fn with_default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// Uses `ttl` for the provider named `provider`.
    pub fn with_ttl(mut self, provider: impl Into<String>, ttl: Duration) -> Self {
        self.ttls.insert(provider.into(), ttl);
        self
    }

    /// Reuses a credential's saved discovery for `ttl` instead of [`DEFAULT_DISCOVERY_TTL`].
    pub fn with_discovery_ttl(mut self, ttl: Duration) -> Self {
        self.discovery_ttl = ttl;
        self
    }

    /// The time-to-live of `provider`'s catalog.
    pub fn ttl(&self, provider: &str) -> Duration {
        self.ttls.get(provider).copied().unwrap_or(self.default_ttl)
    }

    /// Where `source`'s catalog is kept: one file per provider and credential, named by the
    /// provider and the credential's tenant id (which reveals nothing of the secret).
    pub fn path(&self, source: &OfferSource) -> PathBuf {
        self.file(source, "json")
    }

    /// Where the offers of `source`'s cached catalog are kept: beside it.
    fn offers_path(&self, source: &OfferSource) -> PathBuf {
        self.file(source, "offers.json")
    }

    /// Where `source`'s discovery is kept: beside its catalog.
    pub fn discovery_path(&self, source: &OfferSource) -> PathBuf {
        self.file(source, "discovery.json")
    }

    fn file(&self, source: &OfferSource, extension: &str) -> PathBuf {
        let identity = source.credential.identity();
        let account = if identity.tenant_id().is_empty() {
            identity.reference_id()
        } else {
            identity.tenant_id()
        };
        self.dir.join(format!(
            "{}-{}.{extension}",
            file_safe(&source.name),
            file_safe(account)
        ))
    }

    /// The cached catalog of `source` if it is younger than its time-to-live. A missing,
    /// unreadable or stale file is a miss, never an error.
    pub(super) async fn load(&self, source: &OfferSource) -> Option<Vec<InstanceType>> {
        let cached: CachedCatalog = read(&self.path(source)).await?;
        let age = now_secs().checked_sub(cached.fetched_at)?;
        (Duration::from_secs(age) < self.ttl(&source.name)).then_some(cached.instance_types)
    }

    /// The offers of `source`'s cached catalog if it is younger than its time-to-live; a
    /// missing, unreadable or stale file is a miss (the catalog is then read or fetched).
    pub(super) async fn load_offers(&self, source: &OfferSource) -> Option<Vec<Offer>> {
        let cached: CachedOffers = read(&self.offers_path(source)).await?;
        let age = now_secs().checked_sub(cached.fetched_at)?;
        (Duration::from_secs(age) < self.ttl(&source.name)).then_some(cached.offers)
    }

    /// How old `source`'s cached catalog is, fresh or stale; `None` when there is none (or it
    /// cannot be read). A command that was answered from the cache says so with this.
    pub async fn age(&self, source: &OfferSource) -> Option<Duration> {
        let cached = read_stamp(&self.path(source)).await?;
        now_secs()
            .checked_sub(cached.fetched_at)
            .map(Duration::from_secs)
    }

    /// How old `source`'s cached catalog is, when it was fetched in a whole second before
    /// `since`'s (the cache records whole seconds); `None` when there is none or it is not
    /// that old. A command uses this with its own start to tell an answer it fetched itself
    /// from one it found in the cache: [`Self::age`] alone cannot, since an entry written a
    /// moment ago can already read as a second old.
    pub async fn fetched_before(
        &self,
        source: &OfferSource,
        since: SystemTime,
    ) -> Option<Duration> {
        let cached = read_stamp(&self.path(source)).await?;
        let since = since.duration_since(UNIX_EPOCH).ok()?.as_secs();
        (cached.fetched_at < since)
            .then(|| Duration::from_secs(now_secs().saturating_sub(cached.fetched_at)))
    }

    /// Stores `catalog` for `source`, and the offers it makes beside it (the offers first, so
    /// they are never younger than the catalog they come from).
    pub(super) async fn store(&self, source: &OfferSource, catalog: &[InstanceType]) {
        let fetched_at = now_secs();
        let offers = CachedOffers {
            fetched_at,
            offers: catalog
                .iter()
                .map(|entry| Offer::from_instance_type(&source.name, entry))
                .collect(),
        };
        self.write(&self.offers_path(source), &offers).await;
        let cached = CachedCatalog {
            fetched_at,
            instance_types: catalog.to_vec(),
        };
        self.write(&self.path(source), &cached).await;
    }

    /// `source`'s saved discovery if it is younger than the discovery time-to-live; a
    /// missing, unreadable or stale file is a miss.
    pub(super) async fn load_discovery(&self, source: &OfferSource) -> Option<String> {
        let cached: CachedDiscovery = read(&self.discovery_path(source)).await?;
        let age = now_secs().checked_sub(cached.fetched_at)?;
        (Duration::from_secs(age) < self.discovery_ttl).then_some(cached.discovery)
    }

    /// Stores `discovery` for `source`.
    pub(super) async fn store_discovery(&self, source: &OfferSource, discovery: String) {
        let cached = CachedDiscovery {
            fetched_at: now_secs(),
            discovery,
        };
        self.write(&self.discovery_path(source), &cached).await;
    }

    /// Removes `source`'s saved discovery; a file already gone is no error.
    pub(super) async fn forget_discovery(&self, source: &OfferSource) {
        let path = self.discovery_path(source);
        if let Err(error) = tokio::fs::remove_file(&path).await
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), %error, "could not remove a saved discovery");
        }
    }

    /// Writes `value` to `path` atomically (a reader sees the old file or the new one). A
    /// cache that cannot be written is logged and otherwise ignored: it only saves time.
    async fn write(&self, path: &Path, value: &impl Serialize) {
        let result = async {
            let bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
            tokio::fs::create_dir_all(&self.dir).await?;
            let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
            tokio::fs::write(&tmp, bytes).await?;
            tokio::fs::rename(&tmp, path).await
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(path = %path.display(), %error, "could not write the catalog cache");
        }
    }
}

/// A cache file's contents; a missing or unreadable file is `None` (logged when unreadable).
async fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = tokio::fs::read(path).await.ok()?;
    serde_json::from_slice(&bytes)
        .inspect_err(|error| {
            tracing::debug!(path = %path.display(), %error, "ignoring an unreadable catalog cache file");
        })
        .ok()
}

/// The time a catalog file was fetched at. The cache writes `fetched_at` first, so it is read
/// from the file's first bytes; a file laid out otherwise is parsed whole.
async fn read_stamp(path: &Path) -> Option<Stamp> {
    use tokio::io::AsyncReadExt as _;
    const PREFIX: &[u8] = br#"{"fetched_at":"#;
    let mut head = [0u8; 40];
    let mut file = tokio::fs::File::open(path).await.ok()?;
    let mut len = 0;
    while len < head.len() {
        match file.read(&mut head[len..]).await.ok()? {
            0 => break,
            n => len += n,
        }
    }
    let digits = head[..len].strip_prefix(PREFIX).map(|rest| {
        let end = rest
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(rest.len());
        (&rest[..end], rest.get(end))
    });
    if let Some((digits, Some(b','))) = digits
        && let Some(fetched_at) = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
    {
        return Some(Stamp { fetched_at });
    }
    read(path).await
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Keeps letters, digits, `-` and `_`; anything else becomes `_`.
fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_only_safe_characters() {
        assert_eq!(file_safe("lambda"), "lambda");
        assert_eq!(file_safe("../etc/passwd"), "___etc_passwd");
        assert_eq!(file_safe("a b:c"), "a_b_c");
    }

    #[tokio::test]
    async fn the_stamp_is_read_from_the_first_bytes_or_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let written = CachedCatalog {
            fetched_at: 1_700_000_123,
            instance_types: vec![InstanceType::default(); 3],
        };
        std::fs::write(&path, serde_json::to_vec(&written).unwrap()).unwrap();
        assert_eq!(read_stamp(&path).await.unwrap().fetched_at, 1_700_000_123);
        // Another layout (spaces, another field first) is read whole.
        std::fs::write(&path, br#"{ "instance_types": [], "fetched_at": 42 }"#).unwrap();
        assert_eq!(read_stamp(&path).await.unwrap().fetched_at, 42);
        std::fs::write(&path, br#"{"fetched_at":12"#).unwrap();
        assert!(read_stamp(&path).await.is_none(), "cut short");
        std::fs::write(&path, b"").unwrap();
        assert!(read_stamp(&path).await.is_none());
        assert!(read_stamp(&dir.path().join("missing")).await.is_none());
    }

    #[test]
    fn ttls_are_per_provider() {
        let cache = CatalogCache::new("/nonexistent")
            .with_default_ttl(Duration::from_secs(5))
            .with_ttl("lambda", Duration::from_secs(60));
        assert_eq!(cache.ttl("lambda"), Duration::from_secs(60));
        assert_eq!(cache.ttl("fluidstack"), Duration::from_secs(5));
    }
}
