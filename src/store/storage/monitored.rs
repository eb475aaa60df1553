//! The wrapper every backend runs in: it counts writes and their bytes by top folder
//! (`arclamp_storage_writes_total{kind}`), failed operations
//! (`arclamp_storage_failures_total{operation}`), logs an outage once when it starts and once
//! when it ends, and answers readiness from the last write's outcome plus one cheap request.

use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;

use super::{ContentMeta, ObjectInfo, ObjectStream, Storage, StorageError};
use crate::ops::events;

/// A backend with failure accounting and readiness.
#[derive(Debug)]
pub struct Monitored {
    inner: Box<dyn Storage>,
    state: Mutex<Health>,
}

#[derive(Debug, Default)]
struct Health {
    /// When the current run of failures began.
    failing_since: Option<Instant>,
    /// The error of the last write, while writes fail.
    last_write_error: Option<String>,
}

impl Monitored {
    /// Wrap `inner`.
    pub fn new(inner: Box<dyn Storage>) -> Monitored {
        Monitored {
            inner,
            state: Mutex::new(Health::default()),
        }
    }

    fn record<T>(&self, operation: &'static str, result: &Result<T, StorageError>) {
        // A refused path is a caller's mistake, not the store's health.
        if matches!(result, Err(StorageError::BadPath(_))) {
            return;
        }
        let mut health = match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        match result {
            Ok(_) => {
                if operation == "write" {
                    health.last_write_error = None;
                }
                if health.last_write_error.is_none() {
                    if let Some(since) = health.failing_since.take() {
                        events::storage_recovered(&self.inner.describe(), since.elapsed());
                    }
                }
            }
            Err(error) => {
                let message = error.to_string();
                let first = health.failing_since.is_none();
                if first {
                    health.failing_since = Some(Instant::now());
                }
                if operation == "write" {
                    health.last_write_error = Some(message.clone());
                }
                events::storage_failed(operation, &message, first);
            }
        }
    }
}

#[async_trait]
impl Storage for Monitored {
    async fn get(&self, path: &str) -> Result<Option<Bytes>, StorageError> {
        let result = self.inner.get(path).await;
        self.record("read", &result);
        result
    }

    /// Only opening the stream is accounted here; an error in a later piece goes to the
    /// reader, which reports it.
    async fn get_stream(&self, path: &str) -> Result<Option<ObjectStream>, StorageError> {
        let result = self.inner.get_stream(path).await;
        self.record("read", &result);
        result
    }

    async fn put(&self, path: &str, body: Bytes, meta: ContentMeta) -> Result<(), StorageError> {
        let bytes = body.len();
        let result = self.inner.put(path, body, meta).await;
        self.record("write", &result);
        if result.is_ok() {
            events::storage_written(path, bytes);
        }
        result
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let result = self.inner.list(prefix).await;
        self.record("list", &result);
        result
    }

    async fn delete(&self, path: &str) -> Result<(), StorageError> {
        let result = self.inner.delete(path).await;
        self.record("delete", &result);
        result
    }

    async fn stat(&self, path: &str) -> Result<Option<ObjectInfo>, StorageError> {
        let result = self.inner.stat(path).await;
        self.record("stat", &result);
        result
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    /// Not ready while the last write failed (samples wait in memory), or when the store
    /// does not answer one small request.
    async fn check(&self) -> Result<(), StorageError> {
        let last_write_error = match self.state.lock() {
            Ok(guard) => guard.last_write_error.clone(),
            Err(poisoned) => poisoned.into_inner().last_write_error.clone(),
        };
        if let Some(error) = last_write_error {
            return Err(StorageError::Unhealthy(format!(
                "writes are failing, samples are kept in memory and retried: {error}"
            )));
        }
        let result = self.inner.check().await;
        self.record("check", &result);
        result
    }
}
