//! Local disk backend: objects are files under a root directory, replaced atomically by
//! writing a temporary file, fsyncing it, and renaming it over the old one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::{
    check_path, stream::read_in_pieces, ContentMeta, ObjectInfo, ObjectStream, Storage,
    StorageError,
};

/// Files under a root directory.
#[derive(Debug)]
pub struct LocalStorage {
    root: PathBuf,
    temp_counter: AtomicU64,
}

impl LocalStorage {
    /// Storage rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStorage {
            root: root.into(),
            temp_counter: AtomicU64::new(0),
        }
    }

    fn resolve(&self, path: &str) -> Result<PathBuf, StorageError> {
        check_path(path, false)?;
        Ok(self.root.join(path))
    }
}

async fn blocking<T: Send + 'static>(
    operation: &'static str,
    path: &str,
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|join| {
            Err(std::io::Error::other(format!(
                "storage worker thread failed: {join}"
            )))
        })
        .map_err(|source| StorageError::Io {
            operation,
            path: path.to_owned(),
            source,
        })
}

fn write_atomically(target: &Path, temp: &Path, body: &[u8]) -> std::io::Result<()> {
    let dir = target
        .parent()
        .ok_or_else(|| std::io::Error::other("path has no parent directory"))?;
    std::fs::create_dir_all(dir)?;
    let result = (|| {
        let mut file = std::fs::File::create(temp)?;
        file.write_all(body)?;
        file.sync_all()?;
        std::fs::rename(temp, target)?;
        // Make the rename itself durable.
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    result
}

fn info_of(path: String, metadata: &std::fs::Metadata) -> std::io::Result<ObjectInfo> {
    Ok(ObjectInfo {
        path,
        size: metadata.len(),
        modified: metadata.modified()?,
    })
}

fn walk(root: &Path, dir: &Path, prefix: &str, out: &mut Vec<ObjectInfo>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        // Temporary files of in-flight writes start with a dot.
        if name.starts_with('.') {
            continue;
        }
        let file_type = entry.file_type()?;
        let full = entry.path();
        let Ok(relative) = full.strip_prefix(root) else {
            continue;
        };
        let Some(relative) = relative.to_str() else {
            continue;
        };
        if file_type.is_dir() {
            let as_dir = format!("{relative}/");
            if as_dir.starts_with(prefix) || prefix.starts_with(&as_dir) {
                walk(root, &full, prefix, out)?;
            }
        } else if file_type.is_file() && relative.starts_with(prefix) {
            match entry.metadata() {
                Ok(metadata) => out.push(info_of(relative.to_owned(), &metadata)?),
                // Deleted between read_dir and stat: it is simply gone.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Storage for LocalStorage {
    async fn get(&self, path: &str) -> Result<Option<Bytes>, StorageError> {
        let full = self.resolve(path)?;
        blocking("read", path, move || match std::fs::read(&full) {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    /// Reads from one open file: a checkpoint replacing it (a rename) meanwhile does not
    /// change what this reads.
    async fn get_stream(&self, path: &str) -> Result<Option<ObjectStream>, StorageError> {
        let full = self.resolve(path)?;
        let opened = blocking("read", path, move || match std::fs::File::open(&full) {
            Ok(file) => {
                let size = file.metadata()?.len();
                Ok(Some((Arc::new(file), size)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await?;
        let Some((file, size)) = opened else {
            return Ok(None);
        };
        let owned = path.to_owned();
        Ok(Some(read_in_pieces(path, size, move |offset, len| {
            let (file, path) = (file.clone(), owned.clone());
            async move {
                blocking("read", &path, move || {
                    use std::os::unix::fs::FileExt;
                    // `len` is at most READ_PIECE.
                    let mut piece = vec![0; len as usize];
                    file.read_exact_at(&mut piece, offset)?;
                    Ok(Bytes::from(piece))
                })
                .await
            }
        })))
    }

    async fn put(&self, path: &str, body: Bytes, _meta: ContentMeta) -> Result<(), StorageError> {
        let target = self.resolve(path)?;
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let file_name = target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("object");
        let temp = target.with_file_name(format!(".{file_name}.tmp-{}-{n}", std::process::id()));
        blocking("write", path, move || {
            write_atomically(&target, &temp, &body)
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        check_path(prefix, true)?;
        let root = self.root.clone();
        let prefix_owned = prefix.to_owned();
        blocking("list", prefix, move || {
            let mut out = Vec::new();
            walk(&root, &root, &prefix_owned, &mut out)?;
            Ok(out)
        })
        .await
    }

    async fn delete(&self, path: &str) -> Result<(), StorageError> {
        let full = self.resolve(path)?;
        blocking("delete", path, move || match std::fs::remove_file(&full) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        })
        .await
    }

    async fn stat(&self, path: &str) -> Result<Option<ObjectInfo>, StorageError> {
        let full = self.resolve(path)?;
        let owned = path.to_owned();
        blocking("stat", path, move || match std::fs::metadata(&full) {
            Ok(metadata) if metadata.is_file() => info_of(owned, &metadata).map(Some),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    fn describe(&self) -> String {
        format!("local:{}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_stream_reads_the_version_it_opened_in_pieces() {
        use futures_util::StreamExt;
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStorage::new(dir.path());
        let piece = crate::store::storage::READ_PIECE as usize;
        let path = "logs/daily/2026-01-01.excimer.all.log.gz";
        let first: Vec<u8> = (0..piece * 5 / 2).map(|i| (i % 251) as u8).collect();
        runtime().block_on(async {
            assert!(store.get_stream(path).await.unwrap().is_none());
            store
                .put(path, Bytes::from(first.clone()), ContentMeta::TRACE_LOG)
                .await
                .unwrap();
            let mut stream = store.get_stream(path).await.unwrap().unwrap();
            assert_eq!(stream.size, first.len() as u64);
            let head = stream.pieces.next().await.unwrap().unwrap();
            // A checkpoint replaces the file after the first piece: the stream goes on
            // reading the version it opened.
            store
                .put(path, Bytes::from(vec![7u8; 10]), ContentMeta::TRACE_LOG)
                .await
                .unwrap();
            let rest: Vec<Bytes> = stream.pieces.map(|p| p.unwrap()).collect().await;
            assert_eq!(rest.len(), 2);
            assert_eq!([vec![head], rest].concat().concat(), first);
            let now = store.get_stream(path).await.unwrap().unwrap();
            assert_eq!(now.size, 10);
        });
    }

    #[test]
    fn put_get_stat_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStorage::new(dir.path());
        runtime().block_on(async {
            assert_eq!(store.get("logs/h/a.log.gz").await.unwrap(), None);
            store
                .put(
                    "logs/h/a.log.gz",
                    Bytes::from_static(b"one"),
                    ContentMeta::TRACE_LOG,
                )
                .await
                .unwrap();
            store
                .put(
                    "logs/h/a.log.gz",
                    Bytes::from_static(b"two!"),
                    ContentMeta::TRACE_LOG,
                )
                .await
                .unwrap();
            store
                .put(
                    "svgs/h/a.svgz",
                    Bytes::from_static(b"svg"),
                    ContentMeta::SVGZ,
                )
                .await
                .unwrap();
            assert_eq!(
                store.get("logs/h/a.log.gz").await.unwrap().unwrap(),
                &b"two!"[..]
            );
            assert_eq!(
                store.stat("logs/h/a.log.gz").await.unwrap().unwrap().size,
                4
            );
            let listed: Vec<String> = store
                .list("logs/")
                .await
                .unwrap()
                .into_iter()
                .map(|o| o.path)
                .collect();
            assert_eq!(listed, vec!["logs/h/a.log.gz"]);
            assert_eq!(store.list("").await.unwrap().len(), 2);
            assert_eq!(store.list("logs/h/a").await.unwrap().len(), 1);
            assert!(store.list("nothing/").await.unwrap().is_empty());
            store.delete("logs/h/a.log.gz").await.unwrap();
            store.delete("logs/h/a.log.gz").await.unwrap();
            assert_eq!(store.stat("logs/h/a.log.gz").await.unwrap(), None);
        });
        // No temporary files are left behind.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("logs/h"))
            .unwrap()
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn path_tricks_never_reach_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStorage::new(dir.path().join("root"));
        runtime().block_on(async {
            for bad in ["../escape", "/etc/passwd", "a/../../b"] {
                assert!(matches!(
                    store.put(bad, Bytes::new(), ContentMeta::SVGZ).await,
                    Err(StorageError::BadPath(_))
                ));
                assert!(matches!(
                    store.get(bad).await,
                    Err(StorageError::BadPath(_))
                ));
            }
        });
        assert!(!dir.path().join("escape").exists());
    }
}
