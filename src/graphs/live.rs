//! Live windows in stream mode, read on demand: what pages, the API and on-demand graphs
//! see of a window not sealed yet. Nothing is written for it: when a page asks for one of
//! its logs or graphs, the window is merged from one consistent snapshot of the ledger
//! (its sealed hours' logs plus its open hours' committed sections, read in one Lua script,
//! see [`Ledger::live_snapshot`]) and its graphs are drawn from that, so every replica
//! serves the same bytes and a window costs nothing while nobody looks at it.
//!
//! [`LiveWindows`] is a [`Storage`] for readers: an object that is stored (a sealed
//! window's) is read from the store; a log, summary or graph of an open window that is not
//! stored is made from the snapshot. A merged window is reused for `refresh` (the freshness
//! pub/sub mode's checkpoints give), and merged again only when a commit changed it.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

use crate::graphs::window_graphs::{window_graphs, RenderSettings, WindowState};
use crate::ingest::sample::ALL;
use crate::store::catalogue::{self, LogSummary};
use crate::store::layout::{GraphKind, LogKey};
use crate::store::ledger::{HourSource, Ledger};
use crate::store::retention::PeriodSpec;
use crate::store::seal;
use crate::store::storage::{ContentMeta, ObjectInfo, ObjectStream, Storage, StorageError};

/// What reading live windows needs from the config.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// The Redis URL (the ledger).
    pub url: String,
    /// The consumer group (the ledger's namespace).
    pub group: String,
    /// The stream keys.
    pub channels: Vec<String>,
    /// Every configured period (`hourly` among them).
    pub periods: Vec<PeriodSpec>,
    /// Entry points with a log of their own.
    pub max_entry_points: usize,
    /// How graphs are drawn.
    pub render: RenderSettings,
    /// A merged window is reused this long before the ledger is asked again.
    pub refresh: Duration,
}

/// One open window, merged from one snapshot.
#[derive(Debug)]
struct Merged {
    /// Digest of the snapshot: the same snapshot is not merged again.
    digest: u64,
    /// When it was merged (the objects' modification time).
    modified: SystemTime,
    /// Each entry point's log (`all` first) and its summary.
    logs: BTreeMap<String, (Bytes, LogSummary)>,
    /// Graphs drawn so far, by entry point.
    graphs: Mutex<HashMap<String, Arc<Graphs>>>,
}

/// One entry point's graphs: graph path to `.svgz` (`None`: no stacks).
type Graphs = HashMap<String, Option<Bytes>>;

/// A window's last merge and when its snapshot was last read (to reuse it for `refresh`).
type Slot = Arc<tokio::sync::Mutex<Option<(Instant, Arc<Merged>)>>>;

/// Readers' view of a store in stream mode; see the module documentation.
pub struct LiveWindows {
    base: Arc<dyn Storage>,
    client: redis::Client,
    ledger: Ledger,
    settings: LiveSettings,
    /// One slot per (channel, `{period}/{window}`): a window is merged by one request at a
    /// time, the others wait for its result.
    slots: Mutex<HashMap<(String, String), Slot>>,
}

impl std::fmt::Debug for LiveWindows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveWindows")
            .field("base", &self.base.describe())
            .finish()
    }
}

/// What a path names in a window.
enum WindowObject {
    Log,
    Summary,
    Graph,
    /// Range summaries are not made for live windows: range graphs read the log.
    RangeSummary,
}

fn parse(path: &str) -> Option<(LogKey, WindowObject)> {
    let (root, rest) = path.split_once('/')?;
    let (period, name) = rest.split_once('/')?;
    match root {
        "logs" => {
            if let Some(key) = LogKey::from_log_name(period, name) {
                Some((key, WindowObject::Log))
            } else if let Some(key) = catalogue::from_summary_name(period, name) {
                Some((key, WindowObject::Summary))
            } else {
                catalogue::from_range_summary_name(period, name)
                    .map(|key| (key, WindowObject::RangeSummary))
            }
        }
        "svgs" => LogKey::from_svg_name(period, name).map(|(key, _)| (key, WindowObject::Graph)),
        _ => None,
    }
}

impl LiveWindows {
    /// Live windows of the ledger `settings` name, over the store `base`.
    pub fn new(base: Arc<dyn Storage>, settings: LiveSettings) -> Result<LiveWindows, String> {
        let client = redis::Client::open(settings.url.as_str()).map_err(|e| e.to_string())?;
        Ok(LiveWindows {
            base,
            client,
            ledger: Ledger::new(&settings.group),
            settings,
            slots: Mutex::new(HashMap::new()),
        })
    }

    fn unavailable(path: &str, message: String) -> StorageError {
        StorageError::Remote {
            operation: "read",
            path: path.to_owned(),
            store: "live window (Redis ledger and segments)".into(),
            message,
        }
    }

    async fn connection(
        &self,
        path: &str,
    ) -> Result<redis::aio::MultiplexedConnection, StorageError> {
        self.client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| Self::unavailable(path, format!("Redis: {e}")))
    }

    /// Window `key` (any entry) merged as of at most `refresh` ago; `None` when it is not
    /// open (sealed, never committed, or not a window of a configured period).
    async fn merged(&self, key: &LogKey, path: &str) -> Result<Option<Arc<Merged>>, StorageError> {
        if !self.settings.channels.contains(&key.channel) {
            return Ok(None);
        }
        let Some(spec) = self
            .settings
            .periods
            .iter()
            .find(|s| s.period.name() == key.period)
        else {
            return Ok(None);
        };
        let Ok(hours) = seal::hours_of(&self.settings.periods, spec, &key.window) else {
            return Ok(None);
        };
        let member = format!("{}/{}", key.period, key.window);
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            // Forget windows nobody asked for in a while (sealed ones, mostly).
            if slots.len() > 256 {
                slots.retain(|_, slot| Arc::strong_count(slot) > 1);
            }
            slots
                .entry((key.channel.clone(), member.clone()))
                .or_default()
                .clone()
        };
        let mut merged = slot.lock().await;
        if let Some((read_at, current)) = merged.as_ref() {
            if read_at.elapsed() < self.settings.refresh {
                return Ok(Some(current.clone()));
            }
        }
        let read_at = Instant::now();
        let mut con = self.connection(path).await?;
        let snapshot = self
            .ledger
            .live_snapshot(&mut con, &key.channel, &member, &hours)
            .await
            .map_err(|e| Self::unavailable(path, e.to_string()))?;
        let Some(snapshot) = snapshot else {
            *merged = None;
            return Ok(None);
        };
        let digest = {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            snapshot.hash(&mut hasher);
            hasher.finish()
        };
        if let Some((at, current)) = merged.as_mut().filter(|(_, m)| m.digest == digest) {
            *at = read_at;
            return Ok(Some(current.clone()));
        }
        let mut inputs = Vec::new();
        for source in &snapshot {
            let read = match source {
                HourSource::Sealed(hour) => {
                    seal::read_sealed_hour(&*self.base, &key.channel, hour, &mut inputs).await
                }
                HourSource::Open(_, sections) => {
                    seal::read_sections(&*self.base, sections, &mut inputs).await
                }
            };
            read.map_err(|e| Self::unavailable(path, e.to_string()))?;
        }
        let sealed = seal::merge_blocking(inputs, self.settings.max_entry_points)
            .await
            .map_err(|e| Self::unavailable(path, e))?;
        let mut logs = BTreeMap::new();
        for (entry, log) in sealed.logs() {
            let summary = seal::summary(&log);
            logs.insert(entry, (Bytes::from(log.bytes), summary));
        }
        let fresh = Arc::new(Merged {
            digest,
            modified: SystemTime::now(),
            logs,
            graphs: Mutex::new(HashMap::new()),
        });
        *merged = Some((read_at, fresh.clone()));
        Ok(Some(fresh))
    }

    /// The graphs of one entry point of a merged window, drawn once per merge.
    async fn graphs(&self, merged: &Merged, key: &LogKey) -> Result<Arc<Graphs>, StorageError> {
        if let Some(graphs) = merged
            .graphs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key.entry)
        {
            return Ok(graphs.clone());
        }
        let Some((log, _)) = merged.logs.get(&key.entry).cloned() else {
            return Ok(Arc::new(HashMap::new()));
        };
        let (render_key, settings) = (key.clone(), self.settings.render.clone());
        let period = self
            .settings
            .periods
            .iter()
            .find(|s| s.period.name() == key.period)
            .map(|s| s.period.clone());
        let path = key.log_path();
        let drawn = tokio::task::spawn_blocking(move || {
            let size = log.len() as u64;
            window_graphs(
                &render_key,
                period.as_ref(),
                &settings,
                WindowState::Live,
                log.as_ref(),
                size,
            )
        })
        .await
        .map_err(|e| Self::unavailable(&path, format!("drawing thread failed: {e}")))?
        .map_err(|e| Self::unavailable(&path, e.to_string()))?;
        let graphs: Graphs = drawn
            .graphs
            .into_iter()
            .map(|(path, svgz)| (path, svgz.map(Bytes::from)))
            .collect();
        let graphs = Arc::new(graphs);
        merged
            .graphs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.entry.clone(), graphs.clone());
        Ok(graphs)
    }

    /// The object at `path` of an open window, made from its snapshot, and when; `None`
    /// when `path` names nothing of an open window.
    async fn live_object(&self, path: &str) -> Result<Option<(Bytes, SystemTime)>, StorageError> {
        let Some((key, object)) = parse(path) else {
            return Ok(None);
        };
        let Some(merged) = self.merged(&key, path).await? else {
            return Ok(None);
        };
        let Some((log, summary)) = merged.logs.get(&key.entry) else {
            return Ok(None);
        };
        let bytes = match object {
            WindowObject::Log => Some(log.clone()),
            WindowObject::Summary => Some(Bytes::from(summary.encode())),
            WindowObject::RangeSummary => None,
            WindowObject::Graph => self
                .graphs(&merged, &key)
                .await?
                .get(path)
                .cloned()
                .flatten(),
        };
        Ok(bytes.map(|bytes| (bytes, merged.modified)))
    }

    /// The objects of the open windows of `prefix`'s period (`logs/{period}/` or
    /// `svgs/{period}/`, or a longer prefix of those): each entry point's log and summary,
    /// or its forward and reversed graphs.
    async fn live_listing(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let Some((root, rest)) = prefix.split_once('/') else {
            return Ok(Vec::new());
        };
        let Some((period, _)) = rest.split_once('/') else {
            return Ok(Vec::new());
        };
        if !matches!(root, "logs" | "svgs") {
            return Ok(Vec::new());
        }
        let mut con = self.connection(prefix).await?;
        let mut objects = Vec::new();
        for channel in &self.settings.channels {
            let open = self
                .ledger
                .sealable(&mut con, channel, i64::MAX)
                .await
                .map_err(|e| Self::unavailable(prefix, e.to_string()))?;
            for (member, _) in open {
                let Some((member_period, window)) = member.split_once('/') else {
                    continue;
                };
                if member_period != period {
                    continue;
                }
                let key = LogKey {
                    period: period.to_owned(),
                    window: window.to_owned(),
                    channel: channel.clone(),
                    entry: ALL.into(),
                };
                let Some(merged) = self.merged(&key, prefix).await? else {
                    continue;
                };
                for (entry, (log, summary)) in &merged.logs {
                    let key = LogKey {
                        entry: entry.clone(),
                        ..key.clone()
                    };
                    let mut found = |path: String, size: usize| {
                        if path.starts_with(prefix) {
                            objects.push(ObjectInfo {
                                path,
                                size: size as u64,
                                modified: merged.modified,
                            });
                        }
                    };
                    if root == "logs" {
                        found(key.log_path(), log.len());
                        found(catalogue::summary_path(&key), summary.encode().len());
                    } else {
                        for reversed in [false, true] {
                            let path = key.svg_path(&GraphKind {
                                function: None,
                                reversed,
                            });
                            // Drawn when first asked for: its size is not known before.
                            found(path, 0);
                        }
                    }
                }
            }
        }
        Ok(objects)
    }
}

#[async_trait]
impl Storage for LiveWindows {
    async fn get(&self, path: &str) -> Result<Option<Bytes>, StorageError> {
        match self.base.get(path).await? {
            None => Ok(self.live_object(path).await?.map(|(bytes, _)| bytes)),
            found => Ok(found),
        }
    }

    async fn get_stream(&self, path: &str) -> Result<Option<ObjectStream>, StorageError> {
        match self.base.get_stream(path).await? {
            None => Ok(self
                .live_object(path)
                .await?
                .map(|(bytes, _)| ObjectStream::from_bytes(bytes))),
            found => Ok(found),
        }
    }

    async fn put(&self, path: &str, body: Bytes, meta: ContentMeta) -> Result<(), StorageError> {
        self.base.put(path, body, meta).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let mut objects = self.base.list(prefix).await?;
        let stored: std::collections::HashSet<String> =
            objects.iter().map(|o| o.path.clone()).collect();
        let live = self.live_listing(prefix).await?;
        objects.extend(live.into_iter().filter(|o| !stored.contains(&o.path)));
        Ok(objects)
    }

    async fn delete(&self, path: &str) -> Result<(), StorageError> {
        self.base.delete(path).await
    }

    async fn stat(&self, path: &str) -> Result<Option<ObjectInfo>, StorageError> {
        if let Some(info) = self.base.stat(path).await? {
            return Ok(Some(info));
        }
        Ok(self
            .live_object(path)
            .await?
            .map(|(bytes, modified)| ObjectInfo {
                path: path.to_owned(),
                size: bytes.len() as u64,
                modified,
            }))
    }

    fn describe(&self) -> String {
        self.base.describe()
    }

    async fn check(&self) -> Result<(), StorageError> {
        self.base.check().await
    }
}

/// The storage readers use: in stream mode, `storage` with its open windows read on demand
/// ([`LiveWindows`]); otherwise `storage` itself.
pub fn for_readers(
    storage: Arc<dyn Storage>,
    live: Option<LiveSettings>,
) -> Result<Arc<dyn Storage>, String> {
    Ok(match live {
        Some(settings) => Arc::new(LiveWindows::new(storage, settings)?),
        None => storage,
    })
}
