//! Object-storage backend: an S3 bucket or a Swift container, through OpenDAL, with the same
//! object names as on disk under an optional prefix.
//!
//! What this module adds around OpenDAL:
//! - its own small I/O runtime: callers live on several runtimes (actix, the renderers'
//!   current-thread runtimes), and a pooled HTTP connection must always be driven by the
//!   runtime that opened it, so every request runs here and callers only await the result;
//! - a deadline per operation (`storage.timeout`, retries included), so a hung store can
//!   never hang an aggregator or a shutdown;
//! - retries with backoff of temporary failures (5xx, throttling, connection errors);
//! - Swift tokens (see [`super::swift_auth`]): renewed before they expire, and after a 401,
//!   in which case the operation is retried once, so the write that hit it is not lost;
//! - the bucket or container is created when a write finds it missing;
//! - objects carry `Content-Type` and `Content-Encoding` (SVGs: `image/svg+xml`, `gzip`);
//! - errors in an operator's words, with every credential scrubbed from them.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use opendal::{ErrorKind, HttpTransporter, OperationContext, Operator};
use opendal_http_transport_reqwest::ReqwestTransport;

use super::config::{StorageConfig, StorageKind};
use super::swift_auth::{self, AuthError, Session};
use super::{
    check_path, stream::read_in_pieces, ContentMeta, ObjectInfo, ObjectStream, Storage,
    StorageError,
};
use crate::ops::events;
use crate::ops::settings::Secret;

/// Attempts per operation for temporary failures (the first one included).
const ATTEMPTS: u32 = 3;
/// First pause between attempts; doubled each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// A bucket or container.
#[derive(Debug)]
pub struct ObjectStorage {
    inner: Arc<Inner>,
    runtime: IoRuntime,
}

/// The runtime every request runs on; shut down without blocking when the storage is
/// dropped (which may happen inside another runtime).
struct IoRuntime(Option<tokio::runtime::Runtime>);

impl std::fmt::Debug for IoRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IoRuntime")
    }
}

impl IoRuntime {
    fn handle(&self) -> Option<tokio::runtime::Handle> {
        self.0.as_ref().map(|runtime| runtime.handle().clone())
    }
}

impl Drop for IoRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

#[derive(Debug)]
struct Inner {
    backend: Backend,
    /// Object-name prefix inside the bucket or container: empty or ending in `/`.
    prefix: String,
    timeout: Duration,
    page_size: usize,
    http: reqwest::Client,
    description: String,
    /// Every credential, to scrub from error messages.
    secrets: Vec<Secret>,
}

enum Backend {
    S3 {
        operator: Operator,
        bucket: String,
        endpoint: String,
        region: String,
        access_key_id: Secret,
        secret_access_key: Secret,
    },
    Swift {
        config: super::config::SwiftConfig,
        key: Secret,
        /// The current token and the operator built on it.
        session: tokio::sync::RwLock<Option<Arc<SwiftSession>>>,
        /// Held while a token is fetched, so concurrent requests wait for one fetch.
        renewing: tokio::sync::Mutex<()>,
    },
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::S3 { bucket, .. } => f.debug_struct("S3").field("bucket", bucket).finish(),
            Backend::Swift { config, .. } => f
                .debug_struct("Swift")
                .field("container", &config.container)
                .finish(),
        }
    }
}

struct SwiftSession {
    session: Session,
    operator: Operator,
}

/// What one attempt of an operation can fail with.
#[derive(Debug)]
enum Failure {
    /// OpenDAL's error.
    Dal(opendal::Error),
    /// A request made here (Swift PUT, container or bucket creation).
    Http {
        status: Option<u16>,
        message: String,
    },
    /// No token.
    Auth(AuthError),
}

impl Failure {
    /// The object, or the bucket or container holding it, does not exist.
    fn is_not_found(&self) -> bool {
        match self {
            // S3 reports a missing bucket as a configuration error.
            Failure::Dal(e) => {
                e.kind() == ErrorKind::NotFound || e.to_string().contains("NoSuchBucket")
            }
            Failure::Http { status, .. } => *status == Some(404),
            Failure::Auth(_) => false,
        }
    }

    fn is_unauthorized(&self) -> bool {
        match self {
            Failure::Dal(e) => e.kind() == ErrorKind::PermissionDenied,
            Failure::Http { status, .. } => *status == Some(401),
            Failure::Auth(_) => false,
        }
    }

    fn is_temporary(&self) -> bool {
        match self {
            Failure::Dal(e) => e.is_temporary() || e.kind() == ErrorKind::RateLimited,
            Failure::Http { status, .. } => match status {
                None => true,
                Some(s) => *s == 408 || *s == 429 || *s >= 500,
            },
            Failure::Auth(AuthError::Unreachable { .. }) => true,
            Failure::Auth(_) => false,
        }
    }

    fn describe(&self) -> String {
        match self {
            Failure::Dal(e) => {
                let hint = match e.kind() {
                    ErrorKind::PermissionDenied => {
                        "access denied: check the credentials and their rights on the bucket or container"
                    }
                    ErrorKind::RateLimited => "throttled by the store",
                    ErrorKind::ConfigInvalid => "invalid storage settings",
                    ErrorKind::NotFound => "not found",
                    _ if e.is_temporary() => "the store is unavailable or failing",
                    _ => "the store answered with an error",
                };
                format!("{hint} ({e})")
            }
            Failure::Http { status, message } => match status {
                Some(401) | Some(403) => format!(
                    "access denied (HTTP {}): check the credentials ({message})",
                    status.unwrap_or_default()
                ),
                Some(s) if *s >= 500 => {
                    format!("the store is unavailable or failing (HTTP {s}: {message})")
                }
                Some(s) => format!("the store answered HTTP {s}: {message}"),
                None => format!("the store is unreachable: {message}"),
            },
            Failure::Auth(e) => e.to_string(),
        }
    }
}

impl From<opendal::Error> for Failure {
    fn from(e: opendal::Error) -> Self {
        Failure::Dal(e)
    }
}

fn http_failure(e: reqwest::Error) -> Failure {
    Failure::Http {
        status: e.status().map(|s| s.as_u16()),
        message: e.without_url().to_string(),
    }
}

fn to_system_time(modified: Option<opendal::raw::Timestamp>) -> SystemTime {
    modified.map_or(SystemTime::UNIX_EPOCH, SystemTime::from)
}

impl ObjectStorage {
    /// Storage on the bucket or container `config` selects. Nothing is contacted yet: a
    /// store that is down at start is retried by each operation.
    pub fn open(config: &StorageConfig) -> Result<ObjectStorage, StorageError> {
        let setup = |message: String| StorageError::Setup(message);
        // rustls with ring (aws-lc, reqwest's default, needs cmake to build); installing it
        // twice is harmless (the first one stays).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let prefix = if config.prefix.is_empty() || config.prefix.ends_with('/') {
            config.prefix.clone()
        } else {
            format!("{}/", config.prefix)
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("arclamp-storage")
            .enable_all()
            .build()
            .map_err(|e| setup(format!("cannot start the storage I/O threads: {e}")))?;
        // Clients and operators belong to the I/O runtime.
        let in_runtime = runtime.enter();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| setup(format!("cannot create an HTTP client: {e}")))?;
        let (backend, description, secrets) = match config.kind {
            StorageKind::Local => {
                return Err(setup(
                    "storage.kind = \"local\" is not object storage".into(),
                ))
            }
            StorageKind::S3 => {
                let s3 = &config.s3;
                let access_key_id = s3
                    .resolved_access_key_id()
                    .map_err(|e| setup(e.to_string()))?;
                let secret_access_key = s3
                    .resolved_secret_access_key()
                    .map_err(|e| setup(e.to_string()))?;
                let mut builder = opendal::services::S3::default()
                    .root(&format!("/{prefix}"))
                    .bucket(&s3.bucket)
                    .region(&s3.region)
                    .access_key_id(access_key_id.expose())
                    .secret_access_key(secret_access_key.expose())
                    .disable_config_load()
                    .disable_ec2_metadata();
                if !s3.endpoint.is_empty() {
                    builder = builder.endpoint(&s3.endpoint);
                }
                let operator = Operator::new(builder)
                    .map_err(|e| setup(format!("invalid [storage.s3] settings: {e}")))?;
                let operator = with_transport(operator, &http);
                let endpoint = if s3.endpoint.is_empty() {
                    format!("https://s3.{}.amazonaws.com", s3.region)
                } else {
                    s3.endpoint.trim_end_matches('/').to_owned()
                };
                (
                    Backend::S3 {
                        operator,
                        bucket: s3.bucket.clone(),
                        endpoint: endpoint.clone(),
                        region: s3.region.clone(),
                        access_key_id: access_key_id.clone(),
                        secret_access_key: secret_access_key.clone(),
                    },
                    format!("s3:{endpoint}/{}/{prefix}", s3.bucket),
                    vec![access_key_id, secret_access_key],
                )
            }
            StorageKind::Swift => {
                let swift = &config.swift;
                swift.auth_kind().map_err(|e| setup(e.to_string()))?;
                let key = swift.resolved_key().map_err(|e| setup(e.to_string()))?;
                (
                    Backend::Swift {
                        config: swift.clone(),
                        key: key.clone(),
                        session: tokio::sync::RwLock::new(None),
                        renewing: tokio::sync::Mutex::new(()),
                    },
                    format!(
                        "swift:{} container {}/{prefix}",
                        swift.auth_url, swift.container
                    ),
                    vec![key],
                )
            }
        };
        drop(in_runtime);
        Ok(ObjectStorage {
            inner: Arc::new(Inner {
                backend,
                prefix,
                timeout: config.timeout,
                page_size: config.list_page_size,
                http,
                description,
                secrets,
            }),
            runtime: IoRuntime(Some(runtime)),
        })
    }

    /// Run `work` on the I/O runtime under the operation deadline.
    async fn run<T, F, Fut>(
        &self,
        operation: &'static str,
        path: &str,
        work: F,
    ) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Inner>) -> Fut,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        run_on(
            &self.io_runtime()?,
            self.inner.clone(),
            operation,
            path,
            work,
        )
        .await
    }

    /// The I/O runtime, while the storage is open.
    fn io_runtime(&self) -> Result<tokio::runtime::Handle, StorageError> {
        self.runtime
            .handle()
            .ok_or_else(|| StorageError::Setup("storage is shut down".into()))
    }
}

/// Run `work` on the I/O runtime `runtime` under the operation deadline: the one way every
/// request is made (streams keep a handle and make theirs after the call that opened them).
async fn run_on<T, F, Fut>(
    runtime: &tokio::runtime::Handle,
    inner: Arc<Inner>,
    operation: &'static str,
    path: &str,
    work: F,
) -> Result<T, StorageError>
where
    T: Send + 'static,
    F: FnOnce(Arc<Inner>) -> Fut,
    Fut: Future<Output = Result<T, Failure>> + Send + 'static,
{
    let timeout = inner.timeout;
    let task = work(inner.clone());
    let handle = runtime.spawn(tokio::time::timeout(timeout, task));
    let outcome = handle.await;
    let failure = match outcome {
        Ok(Ok(Ok(value))) => return Ok(value),
        Ok(Ok(Err(failure))) => failure.describe(),
        Ok(Err(_elapsed)) => {
            return Err(StorageError::Timeout {
                operation,
                path: path.to_owned(),
                after: timeout,
            })
        }
        Err(join) => format!("storage I/O task failed: {join}"),
    };
    Err(StorageError::Remote {
        operation,
        path: path.to_owned(),
        store: inner.description.clone(),
        message: inner.scrub(failure),
    })
}

impl Inner {
    /// `message` with every credential replaced by `***`.
    fn scrub(&self, mut message: String) -> String {
        let mut secrets: Vec<&str> = self.secrets.iter().map(Secret::expose).collect();
        if let Backend::Swift { session, .. } = &self.backend {
            if let Ok(guard) = session.try_read() {
                if let Some(current) = guard.as_ref() {
                    let token = current.session.token.expose().to_owned();
                    if !token.is_empty() {
                        message = message.replace(&token, "***");
                    }
                }
            }
        }
        secrets.retain(|s| s.len() >= 4);
        for secret in secrets {
            message = message.replace(secret, "***");
        }
        message
    }

    /// The operator's path for `path` (the operators are rooted at the prefix).
    fn full(&self, path: &str) -> String {
        path.to_owned()
    }

    /// The operator to use now, renewing the Swift token when due.
    async fn session(&self) -> Result<(Operator, Option<Arc<SwiftSession>>), Failure> {
        match &self.backend {
            Backend::S3 { operator, .. } => Ok((operator.clone(), None)),
            Backend::Swift { session, .. } => {
                if let Some(current) = session.read().await.as_ref() {
                    if !current.session.needs_renewal() {
                        return Ok((current.operator.clone(), Some(current.clone())));
                    }
                }
                let renewed = self.renew(None).await?;
                Ok((renewed.operator.clone(), Some(renewed)))
            }
        }
    }

    /// Fetch a new Swift token, unless another request already replaced `stale`.
    async fn renew(&self, stale: Option<&Arc<SwiftSession>>) -> Result<Arc<SwiftSession>, Failure> {
        let Backend::Swift {
            config,
            key,
            session,
            renewing,
        } = &self.backend
        else {
            return Err(Failure::Http {
                status: None,
                message: "not a Swift store".into(),
            });
        };
        let _one_at_a_time = renewing.lock().await;
        if let Some(current) = session.read().await.as_ref() {
            let replaced = stale.is_some_and(|s| !Arc::ptr_eq(s, current));
            let fresh = stale.is_none() && !current.session.needs_renewal();
            if replaced || fresh {
                return Ok(current.clone());
            }
        }
        let fresh = swift_auth::authenticate(&self.http, config, key)
            .await
            .map_err(Failure::Auth)?;
        let builder = opendal::services::Swift::default()
            .endpoint(&fresh.storage_url)
            .container(&config.container)
            .token(fresh.token.expose())
            .root(&format!("/{}", self.prefix));
        let operator = with_transport(Operator::new(builder).map_err(Failure::Dal)?, &self.http);
        events::swift_token_renewed(&fresh.storage_url, stale.is_some());
        let renewed = Arc::new(SwiftSession {
            session: fresh,
            operator,
        });
        *session.write().await = Some(renewed.clone());
        Ok(renewed)
    }

    /// Run one attempt of `attempt` with retries: temporary failures back off and try again;
    /// a Swift 401 renews the token and tries once more.
    async fn with_retries<T, F, Fut>(self: &Arc<Self>, attempt: F) -> Result<T, Failure>
    where
        F: Fn(Arc<Inner>, Operator, Option<Arc<SwiftSession>>) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut backoff = FIRST_BACKOFF;
        let mut renewed_after_401 = false;
        let mut tries = 0;
        loop {
            tries += 1;
            let (operator, swift) = self.session().await?;
            let result = attempt(self.clone(), operator, swift.clone()).await;
            match result {
                Err(failure)
                    if failure.is_unauthorized() && swift.is_some() && !renewed_after_401 =>
                {
                    renewed_after_401 = true;
                    // Counted as a `rejected` renewal by `renew`.
                    self.renew(swift.as_ref()).await?;
                }
                Err(failure) if failure.is_temporary() && tries < ATTEMPTS => {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                other => return other,
            }
        }
    }

    async fn create_container(&self, swift: Option<&Arc<SwiftSession>>) -> Result<(), Failure> {
        match (&self.backend, swift) {
            (Backend::Swift { config, .. }, Some(current)) => {
                let url = format!("{}/{}", current.session.storage_url, config.container);
                let response = self
                    .http
                    .put(&url)
                    .header("X-Auth-Token", current.session.token.expose())
                    .header("Content-Length", "0")
                    .send()
                    .await
                    .map_err(http_failure)?;
                check_status(response).await?;
                events::storage_container_created("swift", &config.container);
                Ok(())
            }
            (
                Backend::S3 {
                    bucket,
                    endpoint,
                    region,
                    access_key_id,
                    secret_access_key,
                    ..
                },
                _,
            ) => {
                super::s3_bucket::create(
                    &self.http,
                    endpoint,
                    bucket,
                    region,
                    access_key_id,
                    secret_access_key,
                )
                .await
                .map_err(|(status, message)| Failure::Http { status, message })?;
                events::storage_container_created("s3", bucket);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    async fn put_once(
        &self,
        operator: &Operator,
        full: &str,
        body: Bytes,
        meta: ContentMeta,
    ) -> Result<(), Failure> {
        let mut write = operator
            .write_with(full, body)
            .content_type(meta.content_type);
        if let Some(encoding) = meta.content_encoding {
            write = write.content_encoding(encoding);
        }
        write.await.map(|_| ()).map_err(Failure::Dal)
    }
}

/// `operator` sending its requests through `http` (our pool, on our runtime).
fn with_transport(operator: Operator, http: &reqwest::Client) -> Operator {
    operator.with_context(
        OperationContext::new()
            .with_http_transport(HttpTransporter::new(ReqwestTransport::new(http.clone()))),
    )
}

async fn check_status(response: reqwest::Response) -> Result<(), Failure> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(200).collect();
    Err(Failure::Http {
        status: Some(status.as_u16()),
        message: format!("{} {}", status, body.trim()),
    })
}

fn object_info(path: String, metadata: &opendal::Metadata) -> ObjectInfo {
    ObjectInfo {
        path,
        size: metadata.content_length(),
        modified: to_system_time(metadata.last_modified()),
    }
}

#[async_trait]
impl Storage for ObjectStorage {
    async fn get(&self, path: &str) -> Result<Option<Bytes>, StorageError> {
        check_path(path, false)?;
        let full = self.inner.full(path);
        self.run("read", path, move |inner| async move {
            let result = inner
                .with_retries(|_, operator, _| {
                    let full = full.clone();
                    async move { operator.read(&full).await.map_err(Failure::Dal) }
                })
                .await;
            match result {
                Ok(buffer) => Ok(Some(buffer.to_bytes())),
                Err(failure) if failure.is_not_found() => Ok(None),
                Err(failure) => Err(failure),
            }
        })
        .await
    }

    /// One ranged GET per piece, each with the operation's retries and deadline, and each
    /// conditional on the ETag the object had when the stream was opened: a checkpoint
    /// replacing it meanwhile ends the stream with an error instead of mixing versions.
    async fn get_stream(&self, path: &str) -> Result<Option<ObjectStream>, StorageError> {
        check_path(path, false)?;
        let full = self.inner.full(path);
        let found = self
            .run("read", path, {
                let full = full.clone();
                move |inner| async move {
                    let result = inner
                        .with_retries(|_, operator, _| {
                            let full = full.clone();
                            async move { operator.stat(&full).await.map_err(Failure::Dal) }
                        })
                        .await;
                    match result {
                        Ok(metadata) if metadata.is_file() => Ok(Some((
                            metadata.content_length(),
                            metadata.etag().map(str::to_owned),
                        ))),
                        Ok(_) => Ok(None),
                        Err(failure) if failure.is_not_found() => Ok(None),
                        Err(failure) => Err(failure),
                    }
                }
            })
            .await?;
        let Some((size, etag)) = found else {
            return Ok(None);
        };
        let runtime = self.io_runtime()?;
        let (inner, owned) = (self.inner.clone(), path.to_owned());
        Ok(Some(read_in_pieces(path, size, move |offset, len| {
            let (runtime, inner, path) = (runtime.clone(), inner.clone(), owned.clone());
            let (full, etag) = (full.clone(), etag.clone());
            async move {
                run_on(&runtime, inner, "read", &path, move |inner| async move {
                    inner
                        .with_retries(|_, operator, _| {
                            let (full, etag) = (full.clone(), etag.clone());
                            async move {
                                let mut read =
                                    operator.read_with(&full).range(offset..offset + len);
                                if let Some(etag) = &etag {
                                    read = read.if_match(etag);
                                }
                                read.await
                                    .map(|buffer| buffer.to_bytes())
                                    .map_err(Failure::Dal)
                            }
                        })
                        .await
                })
                .await
            }
        })))
    }

    async fn put(&self, path: &str, body: Bytes, meta: ContentMeta) -> Result<(), StorageError> {
        check_path(path, false)?;
        let full = self.inner.full(path);
        self.run("write", path, move |inner| async move {
            inner
                .with_retries(|inner, operator, swift| {
                    let (full, body) = (full.clone(), body.clone());
                    async move {
                        let first = inner.put_once(&operator, &full, body.clone(), meta).await;
                        match first {
                            // The bucket or container does not exist yet.
                            Err(failure) if failure.is_not_found() => {
                                inner.create_container(swift.as_ref()).await?;
                                inner.put_once(&operator, &full, body, meta).await
                            }
                            other => other,
                        }
                    }
                })
                .await
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        check_path(prefix, true)?;
        // List the directory holding the prefix, then keep the names that match: a partial
        // file-name prefix (`logs/hourly/2026-`) works on every store that way.
        let directory = match prefix.rfind('/') {
            Some(i) => &prefix[..=i],
            None => "",
        };
        let listed = if directory.is_empty() {
            "/".to_owned()
        } else {
            directory.to_owned()
        };
        let wanted = prefix.to_owned();
        self.run("list", prefix, move |inner| async move {
            let result = inner
                .with_retries(|inner, operator, _| {
                    let (listed, wanted) = (listed.clone(), wanted.clone());
                    async move {
                        let entries = operator
                            .list_with(&listed)
                            .recursive(true)
                            .limit(inner.page_size)
                            .await
                            .map_err(Failure::Dal)?;
                        let mut out = Vec::with_capacity(entries.len());
                        for entry in entries {
                            let metadata = entry.metadata();
                            if !metadata.is_file() {
                                continue;
                            }
                            let name = entry.path().trim_start_matches('/');
                            if !name.starts_with(wanted.as_str()) {
                                continue;
                            }
                            out.push(object_info(name.to_owned(), metadata));
                        }
                        Ok(out)
                    }
                })
                .await;
            match result {
                Ok(out) => Ok(out),
                // No bucket or container yet: nothing stored.
                Err(failure) if failure.is_not_found() => Ok(Vec::new()),
                Err(failure) => Err(failure),
            }
        })
        .await
    }

    async fn delete(&self, path: &str) -> Result<(), StorageError> {
        check_path(path, false)?;
        let full = self.inner.full(path);
        self.run("delete", path, move |inner| async move {
            let result = inner
                .with_retries(|_, operator, _| {
                    let full = full.clone();
                    async move { operator.delete(&full).await.map_err(Failure::Dal) }
                })
                .await;
            match result {
                Err(failure) if failure.is_not_found() => Ok(()),
                other => other,
            }
        })
        .await
    }

    async fn stat(&self, path: &str) -> Result<Option<ObjectInfo>, StorageError> {
        check_path(path, false)?;
        let full = self.inner.full(path);
        let owned = path.to_owned();
        self.run("stat", path, move |inner| async move {
            let result = inner
                .with_retries(|_, operator, _| {
                    let full = full.clone();
                    async move { operator.stat(&full).await.map_err(Failure::Dal) }
                })
                .await;
            match result {
                Ok(metadata) if metadata.is_file() => Ok(Some(object_info(owned, &metadata))),
                Ok(_) => Ok(None),
                Err(failure) if failure.is_not_found() => Ok(None),
                Err(failure) => Err(failure),
            }
        })
        .await
    }

    fn describe(&self) -> String {
        self.inner.description.clone()
    }
}
