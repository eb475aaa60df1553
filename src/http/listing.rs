//! Cached catalogue reads for pages and the API: each period's listing is reused for a
//! couple of seconds (a browser page or API call must not re-list thousands of objects,
//! which on object storage is one request per thousand), and each log's summary is read
//! once per version.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::live_view::LiveView;
use crate::ingest::window::Period;
use crate::store::catalogue::{self, LogSummary, PeriodFiles};
use crate::store::layout;
use crate::store::storage::{ObjectInfo, Storage, StorageError};

/// How long a period's listing is reused.
const LISTING_TTL: Duration = Duration::from_secs(2);
/// Summaries remembered (one per log version); past it the memory starts over.
const MAX_SUMMARIES: usize = 100_000;

/// Listings and summaries, shared by every HTTP worker.
#[derive(Debug, Default)]
pub struct Listings {
    periods: Mutex<HashMap<String, (Instant, Arc<PeriodFiles>)>>,
    summaries: Mutex<HashMap<String, (ObjectInfo, Option<LogSummary>)>>,
}

impl Listings {
    /// Everything stored for `period`, at most [`LISTING_TTL`] old.
    pub async fn period(
        &self,
        storage: &dyn Storage,
        period: &Period,
    ) -> Result<Arc<PeriodFiles>, StorageError> {
        if let Some((at, files)) = self.lock_periods().get(period.name()) {
            if at.elapsed() < LISTING_TTL {
                return Ok(files.clone());
            }
        }
        let logs = storage.list(&layout::logs_prefix(period.name())).await?;
        let svgs = storage.list(&layout::svgs_prefix(period.name())).await?;
        let files = Arc::new(catalogue::period_files(period, &logs, &svgs));
        self.lock_periods()
            .insert(period.name().to_owned(), (Instant::now(), files.clone()));
        Ok(files)
    }

    /// The summary of the log at `log_path`, or `None` when it has none (written before
    /// summaries existed) or it cannot be read.
    pub async fn summary(
        &self,
        storage: &dyn Storage,
        files: &PeriodFiles,
        log_path: &str,
    ) -> Option<LogSummary> {
        let info = files.summaries.get(log_path)?;
        if let Some((cached, summary)) = self.lock_summaries().get(&info.path) {
            if cached.modified == info.modified && cached.size == info.size {
                return *summary;
            }
        }
        let summary = match storage.get(&info.path).await {
            Ok(Some(bytes)) => LogSummary::decode(&bytes),
            Ok(None) => None,
            // Logged and counted by the (monitored) storage; the page goes without it.
            Err(_) => return None,
        };
        let mut summaries = self.lock_summaries();
        if summaries.len() >= MAX_SUMMARIES {
            summaries.clear();
        }
        summaries.insert(info.path.clone(), (info.clone(), summary));
        summary
    }

    fn lock_periods(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Arc<PeriodFiles>)>> {
        self.periods.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_summaries(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (ObjectInfo, Option<LogSummary>)>> {
        self.summaries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Windows still being aggregated, as `(period, window)`; empty when the actors do not
/// answer (pages then show no live marks rather than failing).
pub async fn live_windows(live: &dyn LiveView) -> HashSet<(String, String)> {
    live.live_windows().await.unwrap_or_default()
}
