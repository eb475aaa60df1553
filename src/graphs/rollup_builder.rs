//! Building the roll-ups ([`crate::graphs::rollup`]) a period's listing lacks: for every
//! channel and entry point, every block of 8 and then of 64 windows that is over, whose
//! first window has a log, and whose roll-up is missing or was built from other logs
//! (its fingerprint differs). Blocks of 64 are built from the roll-ups of their blocks of
//! 8 where those are current. The retention actor runs this after each pass, and
//! `publish --to-store` after filling a store, so a long range finds them ready.
//!
//! Replicas of a stream group may build the same roll-up at the same time: the bytes are
//! the same (built from the same files), so the last write wins harmlessly.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::graphs::range::RangeInput;
use crate::graphs::range_summary::RangeSummary;
use crate::graphs::render;
use crate::graphs::rollup::{self, BLOCK_SIZES, SMALLEST_BLOCK};
use crate::ingest::window::Period;
use crate::ops::events;
use crate::store::catalogue;
use crate::store::layout::{self, LogKey};
use crate::store::storage::{ContentMeta, ObjectInfo, Storage, StorageError};

/// What a pass built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Built {
    /// Roll-ups written.
    pub written: usize,
    /// Roll-ups that could not be built (each logged and counted).
    pub failed: usize,
}

/// One window's log and range summary in a listing.
#[derive(Debug, Clone)]
struct WindowObjects {
    key: LogKey,
    log: ObjectInfo,
    summary: Option<ObjectInfo>,
}

/// Build the roll-ups missing from `logs` (the listing of `period`'s `logs/` folder) for
/// blocks of windows that ended by `now`, for graphs drawn `min_width` pixels wide at the
/// narrowest. Storage errors end the pass (the next one retries); a block whose files
/// cannot be merged is logged, counted and skipped.
pub async fn build_missing(
    storage: &Arc<dyn Storage>,
    period: &Period,
    logs: &[ObjectInfo],
    now: DateTime<Utc>,
    min_width: f64,
) -> Result<Built, StorageError> {
    let Ok(min_width_pct) = render::min_width_percent(min_width) else {
        return Ok(Built::default());
    };
    let name = period.name();
    // Per (channel, entry): window index -> its objects.
    let mut series: BTreeMap<(String, String), BTreeMap<i64, WindowObjects>> = BTreeMap::new();
    let mut summaries: HashMap<LogKey, ObjectInfo> = HashMap::new();
    // (first window's key, size) -> (path, fingerprint) of the roll-ups there.
    let mut existing: HashMap<(LogKey, usize), Vec<(String, u64)>> = HashMap::new();
    for object in logs {
        let file = layout::file_name(&object.path);
        if let Some(key) = LogKey::from_log_name(name, file) {
            let Some(window) = period.window_named(&key.window) else {
                continue;
            };
            series
                .entry((key.channel.clone(), key.entry.clone()))
                .or_default()
                .insert(
                    period.window_index(&window),
                    WindowObjects {
                        key,
                        log: object.clone(),
                        summary: None,
                    },
                );
        } else if let Some(key) = catalogue::from_range_summary_name(name, file) {
            summaries.insert(key, object.clone());
        } else if let Some((key, size, sources)) = catalogue::from_rollup_name(name, file) {
            existing
                .entry((key, size))
                .or_default()
                .push((object.path.clone(), sources));
        }
    }
    for windows in series.values_mut() {
        for objects in windows.values_mut() {
            objects.summary = summaries
                .remove(&objects.key)
                .filter(|summary| summary.modified >= objects.log.modified);
        }
    }
    let started = Instant::now();
    let mut built = Built::default();
    for windows in series.values() {
        // Roll-ups of 8 current after this pass, for the blocks of 64: first index -> path.
        let mut current_small: HashMap<i64, String> = HashMap::new();
        for size in BLOCK_SIZES.into_iter().rev() {
            let mut blocks: Vec<i64> = windows
                .keys()
                .map(|index| index - index.rem_euclid(size as i64))
                .collect();
            blocks.dedup();
            for first_index in blocks {
                let last_index = first_index + size as i64 - 1;
                let (Some(first), Some(last)) = (
                    windows.get(&first_index),
                    period.window_with_index(last_index),
                ) else {
                    // Roll-ups belong to their first window's log (retention deletes them
                    // with it), so a block without one has none.
                    continue;
                };
                if last.end > now {
                    continue;
                }
                let block: Vec<(i64, &WindowObjects)> = windows
                    .range(first_index..=last_index)
                    .map(|(index, w)| (*index, w))
                    .collect();
                let sources = rollup::fingerprint(
                    block
                        .iter()
                        .map(|(_, w)| (w.key.window.as_str(), w.log.size)),
                );
                let path = catalogue::rollup_path(&first.key, size, sources);
                let found = existing
                    .remove(&(first.key.clone(), size))
                    .unwrap_or_default();
                let current = found.iter().any(|(_, s)| *s == sources);
                if !current {
                    let started = Instant::now();
                    let inputs =
                        block_inputs(storage, &block, size, &current_small, min_width_pct).await?;
                    let log_bytes = block.iter().map(|(_, w)| w.log.size).sum();
                    let result = tokio::task::spawn_blocking(move || {
                        rollup::build(&inputs, min_width_pct, log_bytes)
                    })
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|built| built.map_err(|e| e.to_string()));
                    match result {
                        Ok(bytes) => {
                            let written = bytes.len();
                            storage
                                .put(&path, Bytes::from(bytes), ContentMeta::TRACE_LOG)
                                .await?;
                            events::rollup_built(
                                name,
                                &path,
                                size,
                                written,
                                started.elapsed().as_secs_f64(),
                            );
                            built.written += 1;
                        }
                        Err(error) => {
                            events::rollup_failed(name, &path, &error);
                            built.failed += 1;
                            continue;
                        }
                    }
                }
                // Older roll-ups of the block, built from other logs, are never read again.
                for (stale, _) in found.iter().filter(|(_, s)| *s != sources) {
                    storage.delete(stale).await?;
                }
                if size == SMALLEST_BLOCK {
                    current_small.insert(first_index, path);
                }
            }
        }
    }
    if built != Built::default() {
        events::rollups_pass(
            name,
            built.written,
            built.failed,
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(built)
}

/// The inputs of one block's roll-up (`block`: its windows with their index), both trees
/// decoded: for a block of 64, the current roll-ups of its blocks of 8 and the windows of
/// those without one; for a block of 8, each window's current summary (when fine enough),
/// else its log.
async fn block_inputs(
    storage: &Arc<dyn Storage>,
    block: &[(i64, &WindowObjects)],
    size: usize,
    current_small: &HashMap<i64, String>,
    min_width_pct: f64,
) -> Result<Vec<RangeInput>, StorageError> {
    let small = SMALLEST_BLOCK as i64;
    let mut inputs = Vec::new();
    let mut rolled_up: Vec<i64> = Vec::new();
    if size as i64 > small {
        let mut starts: Vec<i64> = block
            .iter()
            .map(|(index, _)| index - index.rem_euclid(small))
            .collect();
        starts.dedup();
        for start in starts {
            let Some(path) = current_small.get(&start) else {
                continue;
            };
            let Some(bytes) = storage.get(path).await? else {
                continue;
            };
            if let Ok(summary) = RangeSummary::decode(&bytes) {
                if summary.fine_enough_for(min_width_pct) {
                    inputs.push(RangeInput::Summary(summary));
                    rolled_up.push(start);
                }
            }
        }
    }
    for (index, window) in block {
        if rolled_up.contains(&(index - index.rem_euclid(small))) {
            continue;
        }
        inputs.push(window_input(storage, window, min_width_pct).await?);
    }
    Ok(inputs)
}

/// One window's input: its summary when it was made from this log and is fine enough,
/// else its log.
async fn window_input(
    storage: &Arc<dyn Storage>,
    window: &WindowObjects,
    min_width_pct: f64,
) -> Result<RangeInput, StorageError> {
    if let Some(info) = &window.summary {
        if let Some(bytes) = storage.get(&info.path).await? {
            if let Ok(summary) = RangeSummary::decode(&bytes) {
                if summary.stands_for(window.log.size, min_width_pct) {
                    return Ok(RangeInput::Summary(summary));
                }
            }
        }
    }
    Ok(RangeInput::Log(
        storage.get(&window.log.path).await?.unwrap_or_default(),
    ))
}
