//! A bounded in-memory copy of recently served stored files, so a popular graph is read
//! from storage once per version rather than once per request. Every request still asks
//! storage for the object's size and modification time (`stat`), and a cached copy is
//! only used while both match: a re-rendered graph is never served stale.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::store::storage::ObjectInfo;

/// Total bytes kept; past it the cache starts over (simple, and a hot file is back after
/// one read).
const MAX_BYTES: usize = 64 << 20;
/// Files larger than this are never cached (big logs would push everything else out).
const MAX_FILE: usize = 8 << 20;

/// One cached object version.
#[derive(Debug, Clone)]
pub struct CachedFile {
    /// The version this copy is of.
    pub info: ObjectInfo,
    /// The stored bytes (gzip for graphs and logs).
    pub bytes: Bytes,
    /// For SVG graphs: the Content-Security-Policy that lets its own script run.
    pub policy: Option<Arc<str>>,
}

/// The cache, shared by every HTTP worker.
#[derive(Debug, Default)]
pub struct FileCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    files: HashMap<String, CachedFile>,
    bytes: usize,
}

impl FileCache {
    /// The cached copy of exactly this version (same size and modification time).
    pub fn get(&self, info: &ObjectInfo) -> Option<CachedFile> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .files
            .get(&info.path)
            .filter(|c| c.info.size == info.size && c.info.modified == info.modified)
            .cloned()
    }

    /// Whether a file of `size` bytes is small enough to be kept.
    pub fn keeps(size: u64) -> bool {
        size <= MAX_FILE as u64
    }

    /// Remember a version (ignored when the file is too large to keep).
    pub fn insert(&self, file: CachedFile) {
        let size = file.bytes.len();
        if !Self::keeps(size as u64) {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = inner.files.remove(&file.info.path) {
            inner.bytes -= old.bytes.len();
        }
        if inner.bytes + size > MAX_BYTES {
            inner.files.clear();
            inner.bytes = 0;
        }
        inner.bytes += size;
        inner.files.insert(file.info.path.clone(), file);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn info(path: &str, secs: u64) -> ObjectInfo {
        ObjectInfo {
            path: path.into(),
            size: 3,
            modified: UNIX_EPOCH + Duration::from_secs(secs),
        }
    }

    #[test]
    fn only_the_same_version_is_returned() {
        let cache = FileCache::default();
        cache.insert(CachedFile {
            info: info("a", 1),
            bytes: Bytes::from_static(b"abc"),
            policy: None,
        });
        assert!(cache.get(&info("a", 1)).is_some());
        assert!(cache.get(&info("a", 2)).is_none());
        assert!(cache.get(&info("b", 1)).is_none());
    }
}
