//! Entry points' logs and graphs, derived from their window's `all` log on read, so every
//! sample is stored once (issue 16).
//!
//! An entry point's log is the lines of the window's `all` log whose first frame names it
//! ([`crate::ingest::sample::entry_point`]; [`seal::entry_logs`]). What is stored for it is
//! its summary (`.meta.json`, [`seal::write_log`]): that says the window has the entry
//! point and counts its samples; its range summary and function totals are stored too
//! (they are small and make long ranges and trends cheap). Its log is made here when asked
//! for, and its two graphs are drawn here from its log (derived, or stored: by an earlier
//! release, or by `import` of an Arc Lamp entry point's file).
//!
//! [`DerivedEntries`] is a [`Storage`] for every reader (pages, the API, on-demand graphs,
//! the renderer and roll-up builder): a stored object is read as stored (so a store written
//! by an earlier release, with its entry-point logs and graphs, reads as before); an entry
//! point's log or forward/reversed graph that is not stored, for a window whose `all` log
//! and whose entry point's summary are, is made from the `all` log. Listings show those
//! objects as if stored. A derived object's size and modification time are those of the
//! `all` log it is made from ([`catalogue::derived_info`]): they change exactly when it changes,
//! which is what ETags, caches and range summaries (`log_bytes`) compare.
//!
//! Work is bounded: an entry point's log is derived from one version of `all` by one
//! request at a time (a pass over `all` that keeps only its stacks, so a small entry point
//! costs little) and kept for the next requests ([`MEMO_LOGS`] of them); its graphs are
//! drawn once per version of its log (and kept for twice as many), at most
//! `max_concurrent_renders` at a time.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::Semaphore;

use crate::graphs::window_graphs::{window_graphs, RenderSettings, WindowState};
use crate::ingest::window::Period;
use crate::store::catalogue;
use crate::store::layout::{self, LogKey, ALL};
use crate::store::packed;
use crate::store::seal;
use crate::store::storage::{ContentMeta, ObjectInfo, ObjectStream, Storage, StorageError};

/// Derived logs kept (the last asked for), and twice as many entry points' graphs: a busy
/// day's entry-point log is a megabyte or two, its graphs a megabyte each.
pub const MEMO_LOGS: usize = 32;

/// What deriving needs from the config.
#[derive(Debug, Clone)]
pub struct DerivedSettings {
    /// The configured periods (window display names, and whether a window has ended).
    pub periods: Vec<Period>,
    /// How graphs are drawn (the same settings the renderer draws `all`'s with).
    pub render: RenderSettings,
    /// Graphs drawn at the same time, at most (`on_demand.max_concurrent_renders`).
    pub max_concurrent_renders: usize,
}

/// One entry point's log derived from one version of its window's `all` log.
#[derive(Debug)]
struct Derived {
    /// The `all` log's path, size and modification time when it was read.
    version: ObjectInfo,
    /// The entry point.
    entry: String,
    /// Its log (packed); `None` when `all` has no stack of it.
    log: Option<Bytes>,
}

/// An entry point's graphs drawn from one version of its log: graph path to `.svgz`
/// (`None`: no stacks).
#[derive(Debug)]
struct Drawn {
    /// The log's size and modification time (as listed).
    version: ObjectInfo,
    graphs: HashMap<String, Option<Bytes>>,
}

/// One slot per `all` log: a window is derived by one request at a time.
type Slot = Arc<tokio::sync::Mutex<()>>;

/// Readers' view of a store where entry points' logs are not stored; see the module
/// documentation.
pub struct DerivedEntries {
    base: Arc<dyn Storage>,
    settings: DerivedSettings,
    memo: Mutex<VecDeque<Arc<Derived>>>,
    drawn: Mutex<VecDeque<Arc<Drawn>>>,
    slots: Mutex<HashMap<String, Slot>>,
    drawing: Semaphore,
}

impl std::fmt::Debug for DerivedEntries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DerivedEntries")
            .field("base", &self.base.describe())
            .finish()
    }
}

/// What a path names: an entry point's (not `all`'s) log, or one of its two graphs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryObject {
    Log,
    Graph,
}

fn parse(path: &str) -> Option<(LogKey, EntryObject)> {
    let (root, rest) = path.split_once('/')?;
    let (period, name) = rest.split_once('/')?;
    let (key, object) = match root {
        "logs" => (LogKey::from_log_name(period, name)?, EntryObject::Log),
        "svgs" => match LogKey::from_svg_name(period, name)? {
            (key, kind) if kind.function.is_none() => (key, EntryObject::Graph),
            _ => return None,
        },
        _ => return None,
    };
    (key.entry != ALL).then_some((key, object))
}

impl DerivedEntries {
    /// Entry points derived on read over the store `base`.
    pub fn new(base: Arc<dyn Storage>, settings: DerivedSettings) -> DerivedEntries {
        let permits = settings.max_concurrent_renders.max(1);
        DerivedEntries {
            base,
            settings,
            memo: Mutex::new(VecDeque::new()),
            drawn: Mutex::new(VecDeque::new()),
            slots: Mutex::new(HashMap::new()),
            drawing: Semaphore::new(permits),
        }
    }

    fn failed(path: &str, message: String) -> StorageError {
        StorageError::Remote {
            operation: "derive",
            path: path.to_owned(),
            store: "entry point derived from the window's all log".into(),
            message,
        }
    }

    /// The `all` log an entry point's object at `key` is made from, when it can be: the
    /// entry point's summary and the `all` log are both stored.
    async fn source(&self, key: &LogKey) -> Result<Option<ObjectInfo>, StorageError> {
        if self
            .base
            .stat(&catalogue::summary_path(key))
            .await?
            .is_none()
        {
            return Ok(None);
        }
        self.base.stat(&key.all().log_path()).await
    }

    fn remembered(&self, all: &ObjectInfo, entry: &str) -> Option<Arc<Derived>> {
        let memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
        memo.iter()
            .find(|d| d.version == *all && d.entry == entry)
            .cloned()
    }

    /// Entry point `entry`'s log in the version `all` of its window's `all` log; `None`
    /// when that was deleted meanwhile.
    async fn derived(
        &self,
        all: &ObjectInfo,
        entry: &str,
    ) -> Result<Option<Arc<Derived>>, StorageError> {
        if let Some(derived) = self.remembered(all, entry) {
            return Ok(Some(derived));
        }
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            if slots.len() > 256 {
                slots.retain(|_, slot| Arc::strong_count(slot) > 1);
            }
            slots
                .entry(format!("{}#{entry}", all.path))
                .or_default()
                .clone()
        };
        let _turn = slot.lock().await;
        if let Some(derived) = self.remembered(all, entry) {
            return Ok(Some(derived));
        }
        let Some(bytes) = self.base.get(&all.path).await? else {
            return Ok(None);
        };
        let (path, wanted) = (all.path.clone(), entry.to_owned());
        let logs = tokio::task::spawn_blocking(move || {
            seal::entry_logs(
                &bytes,
                |entry| entry == wanted,
                |writer| writer.finish_at(packed::TRANSIENT_LEVEL),
            )
        })
        .await
        .map_err(|e| Self::failed(&path, format!("deriving thread failed: {e}")))?
        .map_err(|e| Self::failed(&path, format!("the all log is damaged: {e}")))?;
        let derived = Arc::new(Derived {
            version: all.clone(),
            entry: entry.to_owned(),
            log: logs
                .into_iter()
                .next()
                .map(|(_, log)| Bytes::from(log.bytes)),
        });
        let mut memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
        memo.retain(|d| !(d.version.path == all.path && d.entry == entry));
        if memo.len() >= MEMO_LOGS {
            memo.pop_front();
        }
        memo.push_back(derived.clone());
        Ok(Some(derived))
    }

    /// The entry point's log at `key` (stored, or derived) and its version.
    async fn entry_log(&self, key: &LogKey) -> Result<Option<(Bytes, ObjectInfo)>, StorageError> {
        let path = key.log_path();
        if let Some(info) = self.base.stat(&path).await? {
            return Ok(self.base.get(&path).await?.map(|bytes| (bytes, info)));
        }
        self.derived_log(key).await
    }

    /// The entry point's log at `key` made from its window's `all` log (the caller knows it
    /// is not stored), and the version it is listed with.
    async fn derived_log(&self, key: &LogKey) -> Result<Option<(Bytes, ObjectInfo)>, StorageError> {
        let path = key.log_path();
        let Some(all) = self.source(key).await? else {
            return Ok(None);
        };
        let Some(derived) = self.derived(&all, &key.entry).await? else {
            return Ok(None);
        };
        Ok(derived
            .log
            .clone()
            .map(|log| (log, catalogue::derived_info(path, &derived.version))))
    }

    fn drawn(&self, log: &ObjectInfo, path: &str) -> Option<Option<Bytes>> {
        let drawn = self.drawn.lock().unwrap_or_else(|p| p.into_inner());
        drawn
            .iter()
            .find(|d| d.version == *log)
            .and_then(|d| d.graphs.get(path).cloned())
    }

    /// Graph `path` of entry point `key`, drawn from its log (both of its graphs at once,
    /// kept for the next requests), and the log's version; `None` when it has no log.
    async fn graph(
        &self,
        key: &LogKey,
        path: &str,
    ) -> Result<Option<(Bytes, ObjectInfo)>, StorageError> {
        let Some((log, version)) = self.entry_log(key).await? else {
            return Ok(None);
        };
        let found = |graph: Option<Bytes>| graph.map(|graph| (graph, version.clone()));
        if let Some(graph) = self.drawn(&version, path) {
            return Ok(found(graph));
        }
        let _permit = self
            .drawing
            .acquire()
            .await
            .map_err(|e| Self::failed(path, e.to_string()))?;
        if let Some(graph) = self.drawn(&version, path) {
            return Ok(found(graph));
        }
        let period = self
            .settings
            .periods
            .iter()
            .find(|p| p.name() == key.period)
            .cloned();
        let (render_key, settings) = (key.clone(), self.settings.render.clone());
        let size = version.size;
        let rendered = tokio::task::spawn_blocking(move || {
            let state = WindowState::at(period.as_ref(), &render_key.window, chrono::Utc::now());
            window_graphs(
                &render_key,
                period.as_ref(),
                &settings,
                state,
                log.as_ref(),
                size,
            )
        })
        .await
        .map_err(|e| Self::failed(path, format!("drawing thread failed: {e}")))?
        .map_err(|e| Self::failed(path, e.to_string()))?;
        let drawn = Drawn {
            version: version.clone(),
            graphs: rendered
                .graphs
                .into_iter()
                .map(|(path, svgz)| (path, svgz.map(Bytes::from)))
                .collect(),
        };
        let graph = drawn.graphs.get(path).cloned().flatten();
        let mut memo = self.drawn.lock().unwrap_or_else(|p| p.into_inner());
        memo.retain(|d| d.version.path != version.path);
        if memo.len() >= 2 * MEMO_LOGS {
            memo.pop_front();
        }
        memo.push_back(Arc::new(drawn));
        Ok(found(graph))
    }

    /// The derived object at `path`, which storage does not hold, and the version it is
    /// listed with; `None` when `path` names nothing derivable.
    async fn derived_object(
        &self,
        path: &str,
    ) -> Result<Option<(Bytes, ObjectInfo)>, StorageError> {
        let Some((key, object)) = parse(path) else {
            return Ok(None);
        };
        match object {
            // Called once storage said it has no such object.
            EntryObject::Log => self.derived_log(&key).await,
            EntryObject::Graph => Ok(self
                .graph(&key, path)
                .await?
                .map(|(graph, log)| (graph, catalogue::derived_info(path.to_owned(), &log)))),
        }
    }

    /// The derived objects under `prefix` (a period's `logs/` or `svgs/`, or a longer
    /// prefix): for each entry point's summary stored beside a stored `all` log, its log
    /// or its two graphs, unless `stored` has them.
    async fn derived_listing(
        &self,
        prefix: &str,
        stored: &[ObjectInfo],
    ) -> Result<Vec<ObjectInfo>, StorageError> {
        let Some((root, rest)) = prefix.split_once('/') else {
            return Ok(Vec::new());
        };
        let Some((period, _)) = rest.split_once('/') else {
            return Ok(Vec::new());
        };
        let logs_listing;
        let logs: &[ObjectInfo] = match root {
            "logs" => stored,
            "svgs" => {
                logs_listing = self.base.list(&format!("logs/{rest}")).await?;
                &logs_listing
            }
            _ => return Ok(Vec::new()),
        };
        let mut all_logs: HashMap<(String, String), &ObjectInfo> = HashMap::new();
        let mut entry_logs: Vec<(LogKey, &ObjectInfo)> = Vec::new();
        let mut summaries = Vec::new();
        for object in logs {
            let name = layout::file_name(&object.path);
            if let Some(key) = LogKey::from_log_name(period, name) {
                if key.entry == ALL {
                    all_logs.insert((key.window, key.channel), object);
                } else {
                    entry_logs.push((key, object));
                }
            } else if let Some(key) = catalogue::from_summary_name(period, name) {
                if key.entry != ALL {
                    summaries.push(key);
                }
            }
        }
        // Each entry point's log and the version it is listed with: stored, or derived.
        let stored_entries: HashSet<String> =
            entry_logs.iter().map(|(_, o)| o.path.clone()).collect();
        let mut versions: Vec<(LogKey, ObjectInfo)> = entry_logs
            .into_iter()
            .map(|(key, object)| (key, object.clone()))
            .collect();
        let mut objects = Vec::new();
        for key in summaries {
            let log_path = key.log_path();
            if stored_entries.contains(&log_path) {
                continue;
            }
            let Some(all) = all_logs.get(&(key.window.clone(), key.channel.clone())) else {
                continue;
            };
            let derived = catalogue::derived_info(log_path, all);
            if root == "logs" && derived.path.starts_with(prefix) {
                objects.push(derived.clone());
            }
            versions.push((key, derived));
        }
        if root == "svgs" {
            let present: HashSet<&str> = stored.iter().map(|o| o.path.as_str()).collect();
            for (key, log) in versions {
                for reversed in [false, true] {
                    let path = key.svg_path(&layout::GraphKind {
                        function: None,
                        reversed,
                    });
                    if path.starts_with(prefix) && !present.contains(path.as_str()) {
                        objects.push(catalogue::derived_info(path, &log));
                    }
                }
            }
        }
        Ok(objects)
    }
}

#[async_trait]
impl Storage for DerivedEntries {
    async fn get(&self, path: &str) -> Result<Option<Bytes>, StorageError> {
        match self.base.get(path).await? {
            None => Ok(self.derived_object(path).await?.map(|(bytes, _)| bytes)),
            found => Ok(found),
        }
    }

    async fn get_stream(&self, path: &str) -> Result<Option<ObjectStream>, StorageError> {
        match self.base.get_stream(path).await? {
            None => Ok(self
                .derived_object(path)
                .await?
                .map(|(bytes, listed)| ObjectStream {
                    // What `stat` and listings say (a version stamp, see the module
                    // documentation): a range summary records it as `log_bytes`.
                    size: listed.size,
                    pieces: Box::pin(futures_util::stream::once(async move { Ok(bytes) })),
                })),
            found => Ok(found),
        }
    }

    async fn put(&self, path: &str, body: Bytes, meta: ContentMeta) -> Result<(), StorageError> {
        self.base.put(path, body, meta).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let mut objects = self.base.list(prefix).await?;
        let derived = self.derived_listing(prefix, &objects).await?;
        objects.extend(derived);
        Ok(objects)
    }

    async fn delete(&self, path: &str) -> Result<(), StorageError> {
        self.base.delete(path).await
    }

    async fn stat(&self, path: &str) -> Result<Option<ObjectInfo>, StorageError> {
        if let Some(info) = self.base.stat(path).await? {
            return Ok(Some(info));
        }
        let Some((key, object)) = parse(path) else {
            return Ok(None);
        };
        // A graph is listed with its log's version, the log (not stored) with `all`'s.
        let log = match object {
            EntryObject::Graph => self.base.stat(&key.log_path()).await?,
            EntryObject::Log => None,
        };
        let version = match log {
            Some(log) => Some(log),
            None => self.source(&key).await?,
        };
        Ok(version.map(|version| catalogue::derived_info(path.to_owned(), &version)))
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
    use crate::store::compress;
    use crate::store::storage::LocalStorage;

    const WINDOW: &str = "2026-11-24";

    fn key(entry: &str) -> LogKey {
        LogKey {
            period: "daily".into(),
            window: WINDOW.into(),
            channel: "excimer".into(),
            entry: entry.into(),
        }
    }

    fn settings() -> DerivedSettings {
        DerivedSettings {
            periods: vec![Period::new("daily", "%Y-%m-%d").unwrap()],
            render: RenderSettings {
                title: "T".into(),
                min_width: 0.1,
                functions: Vec::new(),
                skip: Vec::new(),
            },
            max_concurrent_renders: 2,
        }
    }

    /// A store with one window written as the service writes it (`all` stored, entry
    /// points by their summaries only), and the folded text of each entry point's log as
    /// the old writers made it.
    async fn store(dir: &std::path::Path) -> (DerivedEntries, Vec<(String, String)>) {
        let base: Arc<dyn Storage> = Arc::new(LocalStorage::new(dir));
        let text = "/w/api.php;B 4\n/w/api.php;B;C 2\n/w/index.php;A 7\n/w/index.php;A;C 1\n\
                    /w/load.php;L 3\nno;entry 4\n";
        let sealed = seal::merge([compress::gzip(text.as_bytes())], 2).unwrap();
        let old_way: Vec<(String, String)> = sealed
            .entries
            .iter()
            .map(|(name, log)| {
                let text = compress::maybe_gunzip(&log.bytes).unwrap().into_owned();
                (name.clone(), String::from_utf8(text).unwrap())
            })
            .collect();
        for (entry, log) in sealed.logs() {
            seal::write_log(&*base, &key(&entry), log).await.unwrap();
        }
        (DerivedEntries::new(base, settings()), old_way)
    }

    fn folded(bytes: &[u8]) -> String {
        String::from_utf8(compress::maybe_gunzip(bytes).unwrap().into_owned()).unwrap()
    }

    #[tokio::test]
    async fn entry_logs_are_read_from_all_exactly_as_they_were_written_before() {
        let dir = tempfile::tempdir().unwrap();
        let (store, old_way) = store(dir.path()).await;
        // Only `all`'s log is stored.
        assert!(dir.path().join(key(ALL).log_path()).exists());
        assert!(!dir.path().join(key("index").log_path()).exists());
        assert_eq!(old_way.len(), 2, "two busiest entry points: {old_way:?}");
        let all = store.stat(&key(ALL).log_path()).await.unwrap().unwrap();
        for (entry, text) in &old_way {
            let path = key(entry).log_path();
            let bytes = store.get(&path).await.unwrap().unwrap();
            assert_eq!(folded(&bytes), *text, "{entry}");
            let info = store.stat(&path).await.unwrap().unwrap();
            assert_eq!((info.size, info.modified), (all.size, all.modified));
            let stream = store.get_stream(&path).await.unwrap().unwrap();
            assert_eq!(stream.size, all.size);
        }
        // `load` has no summary (past max_entry_points): no log of its own.
        assert_eq!(store.stat(&key("load").log_path()).await.unwrap(), None);
        assert_eq!(store.get(&key("load").log_path()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn listings_show_derived_logs_and_graphs_as_if_stored() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store(dir.path()).await;
        let mut logs: Vec<String> = store
            .list("logs/daily/")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.path)
            .filter(|p| p.ends_with(".log.gz"))
            .collect();
        logs.sort();
        assert_eq!(
            logs,
            [
                "logs/daily/2026-11-24.excimer.all.log.gz",
                "logs/daily/2026-11-24.excimer.api.log.gz",
                "logs/daily/2026-11-24.excimer.index.log.gz",
            ]
        );
        let mut svgs: Vec<String> = store
            .list("svgs/daily/2026-11")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.path)
            .collect();
        svgs.sort();
        assert_eq!(
            svgs,
            [
                "svgs/daily/2026-11-24.excimer.api.reversed.svgz",
                "svgs/daily/2026-11-24.excimer.api.svgz",
                "svgs/daily/2026-11-24.excimer.index.reversed.svgz",
                "svgs/daily/2026-11-24.excimer.index.svgz",
            ]
        );
        // A prefix that names another window lists nothing derived.
        assert!(store.list("svgs/daily/2025").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_entry_points_graphs_are_drawn_from_its_derived_log() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store(dir.path()).await;
        for reversed in [false, true] {
            let path = key("index").svg_path(&layout::GraphKind {
                function: None,
                reversed,
            });
            let svgz = store.get(&path).await.unwrap().unwrap();
            let svg =
                String::from_utf8(compress::maybe_gunzip(&svgz).unwrap().into_owned()).unwrap();
            assert!(svg.starts_with("<?xml"), "{path}");
            assert!(svg.contains("8 samples"), "{path}");
            assert!(!svg.contains("api.php"), "only index's stacks: {path}");
            // Drawn once per version of `all`.
            assert_eq!(store.get(&path).await.unwrap().unwrap(), svgz);
        }
        // Not stored.
        assert!(!dir.path().join("svgs").exists());
    }

    #[tokio::test]
    async fn a_stored_entry_point_log_is_read_as_stored_and_gets_its_graphs_drawn() {
        // As `import` of an Arc Lamp directory holding an entry point's file and no `all`.
        let dir = tempfile::tempdir().unwrap();
        let base: Arc<dyn Storage> = Arc::new(LocalStorage::new(dir.path()));
        let log = packed::encode([(&b"/w/RunJobs.php;Job::run"[..], 5)]);
        let path = key("RunJobs").log_path();
        base.put(&path, Bytes::from(log.clone()), ContentMeta::PACKED_TRACE)
            .await
            .unwrap();
        let store = DerivedEntries::new(base, settings());
        assert_eq!(store.get(&path).await.unwrap().unwrap(), log);
        let svgs = store.list("svgs/daily/").await.unwrap();
        assert_eq!(svgs.len(), 2, "{svgs:?}");
        let listed = store.stat(&path).await.unwrap().unwrap();
        for svg in svgs {
            assert_eq!((svg.size, svg.modified), (listed.size, listed.modified));
            let svgz = store.get(&svg.path).await.unwrap().unwrap();
            let text = folded(&svgz);
            assert!(
                text.contains("Job::run") && text.contains("5 samples"),
                "{}",
                svg.path
            );
        }
    }

    #[tokio::test]
    async fn a_damaged_all_log_is_an_error_on_that_window() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store(dir.path()).await;
        let all = dir.path().join(key(ALL).log_path());
        let mut bytes = std::fs::read(&all).unwrap();
        bytes.truncate(bytes.len() / 2);
        std::fs::write(&all, bytes).unwrap();
        let error = store.get(&key("index").log_path()).await.unwrap_err();
        assert!(error.to_string().contains("damaged"), "{error}");
        // Other paths are unaffected.
        assert_eq!(store.get("logs/daily/other.json").await.unwrap(), None);
    }
}
