//! Storage: the one small trait every file access goes through, so local disk and object
//! storage (S3, Swift) are interchangeable behind it.
//!
//! Paths are relative, `/`-separated keys such as `logs/hourly/2026-11-24_18.excimer.all.log.gz`;
//! every backend rejects anything else (`..`, absolute paths, empty segments) with
//! [`StorageError::BadPath`] before touching the medium. A `put` is atomic: a reader sees
//! the old object or the new one, never a partial write.
//!
//! Large objects (a day's log is a gigabyte) are read with [`Storage::get_stream`], piece
//! by piece, so a reader holds a few megabytes of them at a time, never the whole object.
//!
//! [`open`] is the one constructor the service and every subcommand use: it builds the
//! backend `[storage]` selects ([`LocalStorage`] or [`ObjectStorage`]) and wraps it in
//! [`Monitored`], which counts failures and answers readiness.
//!
//! It imports only [`crate::ops`] (events, settings): every other module reaches files
//! through it, and it knows nothing of logs, windows or graphs.

pub mod config;
mod local;
mod monitored;
mod object;
mod s3_bucket;
mod stream;
pub mod swift_auth;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

use self::config::{StorageConfig, StorageKind};

pub use local::LocalStorage;
pub use monitored::Monitored;
pub use object::ObjectStorage;
pub use stream::{read_blocking, received, ByteStream, ObjectStream, PieceReader, READ_PIECE};

/// The storage `config` selects, ready to share between actors, HTTP and subcommands.
/// Object stores are not contacted here: one that is down at start is retried by each
/// operation.
pub fn open(config: &StorageConfig) -> Result<Arc<Monitored>, StorageError> {
    let backend: Box<dyn Storage> = match config.kind {
        StorageKind::Local => Box::new(LocalStorage::new(&config.path)),
        StorageKind::S3 | StorageKind::Swift => Box::new(ObjectStorage::open(config)?),
    };
    crate::ops::events::storage_opened(&backend.describe());
    Ok(Arc::new(Monitored::new(backend)))
}

/// A storage operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The path is not a clean relative key.
    #[error("refusing storage path {0:?}: only relative paths of letters, digits, '_', '.', '-' segments are allowed")]
    BadPath(String),
    /// The medium failed.
    #[error("storage {operation} {path:?} failed: {source}")]
    Io {
        /// What was attempted.
        operation: &'static str,
        /// On which path.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The object store failed or refused (after retries).
    #[error("storage {operation} {path:?} on {store} failed: {message}")]
    Remote {
        /// What was attempted.
        operation: &'static str,
        /// On which path.
        path: String,
        /// Which store (no credentials).
        store: String,
        /// What went wrong, with a hint; credentials scrubbed.
        message: String,
    },
    /// The operation did not finish within `storage.timeout`.
    #[error("storage {operation} {path:?} timed out after {after:?} (storage.timeout): the store is not answering")]
    Timeout {
        /// What was attempted.
        operation: &'static str,
        /// On which path.
        path: String,
        /// The deadline.
        after: Duration,
    },
    /// Writes are failing (readiness).
    #[error("{0}")]
    Unhealthy(String),
    /// The backend cannot be set up (bad settings).
    #[error("cannot open storage: {0}")]
    Setup(String),
}

/// Size and modification time of a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's path.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification.
    pub modified: SystemTime,
}

/// How an object should be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentMeta {
    /// MIME type of the decoded content.
    pub content_type: &'static str,
    /// `gzip` when the bytes are gzip-compressed content of `content_type`.
    pub content_encoding: Option<&'static str>,
}

impl ContentMeta {
    /// A trace log in the packed format ([`crate::store::packed`]): served by arclamp as
    /// the folded log it holds, never as stored.
    pub const PACKED_TRACE: ContentMeta = ContentMeta {
        content_type: "application/vnd.arclamp.packed-trace",
        content_encoding: None,
    };
    /// The meta of a trace log's bytes: [`Self::PACKED_TRACE`] or [`Self::TRACE_LOG`].
    pub fn of_log(bytes: &[u8]) -> ContentMeta {
        if crate::store::packed::is_packed(bytes) {
            ContentMeta::PACKED_TRACE
        } else {
            ContentMeta::TRACE_LOG
        }
    }
    /// A gzip-compressed folded trace log (or range summary, or function totals).
    pub const TRACE_LOG: ContentMeta = ContentMeta {
        content_type: "text/plain; charset=utf-8",
        content_encoding: Some("gzip"),
    };
    /// A gzip-compressed SVG flame graph.
    pub const SVGZ: ContentMeta = ContentMeta {
        content_type: "image/svg+xml",
        content_encoding: Some("gzip"),
    };
    /// A JSON document (import manifests, log summaries).
    pub const JSON: ContentMeta = ContentMeta {
        content_type: "application/json",
        content_encoding: None,
    };
}

/// Where logs and graphs are kept.
#[async_trait]
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// The object's bytes, or `None` when it does not exist.
    async fn get(&self, path: &str) -> Result<Option<Bytes>, StorageError>;
    /// The object's bytes in pieces of at most [`READ_PIECE`], read as they are taken, or
    /// `None` when it does not exist. The pieces are all of the version there when this
    /// was called; when the object is replaced meanwhile, they still are (local disk), or
    /// they end with an error (object stores), never a mix of two versions.
    async fn get_stream(&self, path: &str) -> Result<Option<ObjectStream>, StorageError>;
    /// Replace the object atomically.
    async fn put(&self, path: &str, body: Bytes, meta: ContentMeta) -> Result<(), StorageError>;
    /// Every object whose path starts with `prefix`, in no particular order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError>;
    /// Delete the object; deleting a missing object succeeds.
    async fn delete(&self, path: &str) -> Result<(), StorageError>;
    /// Size and modification time, or `None` when it does not exist.
    async fn stat(&self, path: &str) -> Result<Option<ObjectInfo>, StorageError>;
    /// A short description for logs (`local:/srv/arclamp`), without credentials.
    fn describe(&self) -> String;
    /// A cheap check that the store answers (readiness): one small request, never a listing.
    async fn check(&self) -> Result<(), StorageError> {
        self.stat("logs/.ready").await.map(|_| ())
    }
}

/// Check that `path` is a clean relative key (a prefix may end with `/`).
pub fn check_path(path: &str, allow_trailing_slash: bool) -> Result<(), StorageError> {
    let trimmed = if allow_trailing_slash {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    };
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    };
    if trimmed.is_empty() && allow_trailing_slash {
        return Ok(());
    }
    if trimmed.split('/').all(segment_ok) {
        Ok(())
    } else {
        Err(StorageError::BadPath(path.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clean_relative_paths_are_accepted() {
        assert!(check_path("logs/hourly/a.b.log.gz", false).is_ok());
        assert!(check_path("logs/hourly/", true).is_ok());
        assert!(check_path("", true).is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "logs/../x",
            "logs//x",
            "logs/./x",
            "a\0b",
            "logs/x/",
            "a b",
            "%2e%2e/x",
        ] {
            assert!(check_path(bad, false).is_err(), "{bad:?}");
        }
    }
}
