//! Live twins (stream mode): the logs and graphs of windows not sealed yet, written by the
//! housekeeper from one consistent snapshot of the ledger under `live/`, beside the sealed
//! ones rather than over them.
//!
//! Only the lease holder writes twins, but a lease holder that was paused may wake and
//! write one more after another replica sealed the window. Kept apart, such a late twin
//! is harmless: readers ([`WithLiveTwins`]) take a sealed object whenever there is one, and
//! the housekeeper deletes the twins of sealed windows. Written at the usual paths, it would
//! overwrite a sealed log with a partial one.
//!
//! ```text
//! logs/hourly/2026-01-02_10.excimer.all.log.gz        sealed (final)
//! live/logs/hourly/2026-01-02_11.excimer.all.log.gz   live twin: what is committed so far
//! ```

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::store::storage::{ContentMeta, ObjectInfo, ObjectStream, Storage, StorageError};

/// Where live twins are kept: the usual path under this prefix.
pub const PREFIX: &str = "live/";

/// The live twin of the object at `path`.
pub fn twin_path(path: &str) -> String {
    format!("{PREFIX}{path}")
}

/// Logs and graphs (`logs/...`, `svgs/...`) have twins; nothing else does.
fn has_twin(path: &str) -> bool {
    path.starts_with("logs/") || path.starts_with("svgs/")
}

/// The storage the readers of a store use: in stream mode each window's sealed objects,
/// or its live twins while it has none; otherwise the store as it is.
pub fn for_readers(storage: Arc<dyn Storage>, stream_mode: bool) -> Arc<dyn Storage> {
    if stream_mode {
        Arc::new(WithLiveTwins::new(storage))
    } else {
        storage
    }
}

/// The live twins of a store, at their usual paths: writing `logs/x` writes `live/logs/x`.
/// The housekeeper writes live windows through it, the renderer renders them through it.
#[derive(Debug, Clone)]
pub struct LiveTwins {
    base: Arc<dyn Storage>,
}

impl LiveTwins {
    /// The twins kept in `base`.
    pub fn new(base: Arc<dyn Storage>) -> LiveTwins {
        LiveTwins { base }
    }
}

#[async_trait]
impl Storage for LiveTwins {
    async fn get(&self, path: &str) -> Result<Option<Bytes>, StorageError> {
        self.base.get(&twin_path(path)).await
    }

    async fn get_stream(&self, path: &str) -> Result<Option<ObjectStream>, StorageError> {
        self.base.get_stream(&twin_path(path)).await
    }

    async fn put(&self, path: &str, body: Bytes, meta: ContentMeta) -> Result<(), StorageError> {
        self.base.put(&twin_path(path), body, meta).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let mut objects = self.base.list(&twin_path(prefix)).await?;
        for object in &mut objects {
            object.path = object.path[PREFIX.len()..].to_owned();
        }
        Ok(objects)
    }

    async fn delete(&self, path: &str) -> Result<(), StorageError> {
        self.base.delete(&twin_path(path)).await
    }

    async fn stat(&self, path: &str) -> Result<Option<ObjectInfo>, StorageError> {
        let mut info = self.base.stat(&twin_path(path)).await?;
        if let Some(info) = &mut info {
            info.path = path.to_owned();
        }
        Ok(info)
    }

    fn describe(&self) -> String {
        format!("{} (live twins)", self.base.describe())
    }

    async fn check(&self) -> Result<(), StorageError> {
        self.base.check().await
    }
}

/// What pages, the API and on-demand graphs read in stream mode: the object at a path if
/// there is one (sealed), else its live twin. Listings show each path once, sealed first.
/// Writes go to the store itself.
#[derive(Debug, Clone)]
pub struct WithLiveTwins {
    base: Arc<dyn Storage>,
    twins: LiveTwins,
}

impl WithLiveTwins {
    /// `base` with its live twins.
    pub fn new(base: Arc<dyn Storage>) -> WithLiveTwins {
        WithLiveTwins {
            twins: LiveTwins::new(base.clone()),
            base,
        }
    }
}

#[async_trait]
impl Storage for WithLiveTwins {
    async fn get(&self, path: &str) -> Result<Option<Bytes>, StorageError> {
        match self.base.get(path).await? {
            None if has_twin(path) => self.twins.get(path).await,
            found => Ok(found),
        }
    }

    async fn get_stream(&self, path: &str) -> Result<Option<ObjectStream>, StorageError> {
        match self.base.get_stream(path).await? {
            None if has_twin(path) => self.twins.get_stream(path).await,
            found => Ok(found),
        }
    }

    async fn put(&self, path: &str, body: Bytes, meta: ContentMeta) -> Result<(), StorageError> {
        self.base.put(path, body, meta).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let mut objects = self.base.list(prefix).await?;
        if has_twin(prefix) {
            let sealed: HashSet<String> = objects.iter().map(|o| o.path.clone()).collect();
            let twins = self.twins.list(prefix).await?;
            objects.extend(twins.into_iter().filter(|t| !sealed.contains(&t.path)));
        }
        Ok(objects)
    }

    async fn delete(&self, path: &str) -> Result<(), StorageError> {
        self.base.delete(path).await
    }

    async fn stat(&self, path: &str) -> Result<Option<ObjectInfo>, StorageError> {
        match self.base.stat(path).await? {
            None if has_twin(path) => self.twins.stat(path).await,
            found => Ok(found),
        }
    }

    fn describe(&self) -> String {
        self.base.describe()
    }

    async fn check(&self) -> Result<(), StorageError> {
        self.base.check().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::storage::LocalStorage;

    async fn put(storage: &dyn Storage, path: &str, body: &'static [u8]) {
        storage
            .put(path, Bytes::from_static(body), ContentMeta::JSON)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn readers_see_a_sealed_object_over_its_twin_and_a_twin_where_nothing_is_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let base: Arc<dyn Storage> = Arc::new(LocalStorage::new(dir.path()));
        let twins = LiveTwins::new(base.clone());
        put(&twins, "logs/hourly/10.c.all.log.gz", b"live 10").await;
        put(&twins, "logs/hourly/11.c.all.log.gz", b"live 11").await;
        put(&*base, "logs/hourly/10.c.all.log.gz", b"sealed 10").await;
        assert!(dir.path().join("live/logs/hourly/11.c.all.log.gz").exists());

        let readers = WithLiveTwins::new(base.clone());
        let get = |path: &'static str| {
            let readers = readers.clone();
            async move { readers.get(path).await.unwrap().unwrap() }
        };
        assert_eq!(&get("logs/hourly/10.c.all.log.gz").await[..], b"sealed 10");
        assert_eq!(&get("logs/hourly/11.c.all.log.gz").await[..], b"live 11");
        let stat = readers.stat("logs/hourly/11.c.all.log.gz").await.unwrap();
        assert_eq!(stat.unwrap().path, "logs/hourly/11.c.all.log.gz");
        assert_eq!(
            readers.get("logs/hourly/12.c.all.log.gz").await.unwrap(),
            None
        );

        let mut listed: Vec<String> = readers
            .list("logs/hourly/")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.path)
            .collect();
        listed.sort();
        assert_eq!(
            listed,
            ["logs/hourly/10.c.all.log.gz", "logs/hourly/11.c.all.log.gz"]
        );
        // Anything but logs and graphs has no twin.
        put(&twins, "segments/x", b"never read as a twin").await;
        assert_eq!(readers.get("segments/x").await.unwrap(), None);
    }
}
