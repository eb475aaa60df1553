//! `arclamp publish --to-store`: fill the configured store with N simulated days of traffic,
//! as the service would have left it: trace logs for every window of every configured
//! period, per channel and entry point, and their graphs (unless `--no-render`, which
//! leaves rendering to the service's start-up scan of logs newer than their graphs).
//! Windows the service's retention would have deleted by the end of the simulated time
//! (older than a period's newest `retain` windows, or past its `max_age`) are drawn but not
//! written: two years of days cost two years of daily windows and only 14 days of hourly ones.
//!
//! No Redis is involved: samples are drawn from [`crate::ingest::synth::Generator`] (channel i uses
//! seed `--seed + i`) and aggregated by [`crate::store::simulate`]. Windows already in the store
//! are replaced, not added to, so a re-run gives the same store.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context as _};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::config::Config;
use crate::graphs::rollup_builder;
use crate::graphs::window_graphs::{render_stored_window, RenderSettings, WindowState};
use crate::ingest::synth::{Generator, Tally};
use crate::ingest::window::{Period, Window};
use crate::store::layout::{self, LogKey, ALL};
use crate::store::retention::PeriodSpec;
use crate::store::seal;
use crate::store::simulate::{draw_samples, next_boundary, samples_between, WindowTraffic};
use crate::store::storage::Storage;

/// What `--to-store` was asked to do.
#[derive(Debug, Clone)]
pub struct FillRequest {
    /// Days of traffic (fractions allowed: 0.25 is 6 hours).
    pub days: f64,
    /// Average samples per second, per channel.
    pub rate: f64,
    /// First simulated instant; by default `days` days before today's 00:00 UTC.
    pub start: Option<DateTime<Utc>>,
    /// Seed of the first channel.
    pub seed: u64,
    /// Render the graphs (otherwise the service's start-up scan does).
    pub render: bool,
}

/// What `--to-store` did (the `--expect` file).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FillReport {
    /// First simulated instant (RFC 3339).
    pub start: String,
    /// End of the simulated time (exclusive).
    pub end: String,
    /// Samples per channel, per entry point and in all, over the whole time.
    pub samples: BTreeMap<String, Tally>,
    /// Windows written (per period, window and channel).
    pub windows: u64,
    /// Windows not written because the service's retention would have deleted them by the
    /// end of the simulated time (their samples are drawn all the same, and counted in
    /// `samples`).
    #[serde(default)]
    pub pruned_windows: u64,
    /// Trace logs written and their bytes.
    pub logs: u64,
    /// Bytes of the trace logs.
    pub log_bytes: u64,
    /// Graphs written.
    pub graphs: u64,
    /// Bytes of the graphs.
    pub graph_bytes: u64,
    /// Roll-ups built for long ranges (with the graphs), as the service's retention pass
    /// would.
    #[serde(default)]
    pub rollups: u64,
}

/// Parse `--start`: a date (`2026-11-01`, meaning 00:00 UTC) or an RFC 3339 instant.
pub fn parse_start(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    text.parse::<DateTime<Utc>>().map_err(|e| {
        format!("{text:?} is neither a date (2026-11-01) nor an RFC 3339 time (2026-11-01T06:00:00Z): {e}")
    })
}

/// Fill the store of the config at `config_path`.
pub fn run(config_path: &Path, request: &FillRequest, expect: Option<&Path>) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = Config::load(config_path)
        .with_context(|| format!("invalid config {}", config_path.display()))?;
    if !(request.days.is_finite() && request.days > 0.0 && request.days <= 36_600.0) {
        bail!("--days must be a number of days above 0 (fractions allowed), at most 36600");
    }
    let specs = config.period_specs()?;
    let periods: Vec<Period> = specs.iter().map(|spec| spec.period.clone()).collect();
    let span = TimeDelta::milliseconds((request.days * 86_400_000.0).round() as i64);
    let start = request.start.unwrap_or_else(|| {
        let today = Utc::now()
            .date_naive()
            .and_time(chrono::NaiveTime::MIN)
            .and_utc();
        today - TimeDelta::days(request.days.ceil() as i64)
    });
    let end = start + span;
    let now = Utc::now().max(end);
    let first_kept: Vec<i64> = specs
        .iter()
        .map(|spec| first_kept_index(spec, end, now))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let storage = super::open_storage(&config)?;
    let mut filler = Filler {
        storage: storage.as_ref(),
        runtime: &runtime,
        settings: config.render.settings(&config.top.skip),
        render: request.render,
        report: FillReport {
            start: start.to_rfc3339(),
            end: end.to_rfc3339(),
            ..FillReport::default()
        },
    };
    let channels = &config.redis.channels;
    let mut generators: Vec<Generator> = (0..channels.len())
        .map(|i| Generator::new(request.seed.wrapping_add(i as u64)))
        .collect();
    // Open windows: [channel][period].
    let mut open: Vec<Vec<Option<OpenWindow>>> = (0..channels.len())
        .map(|_| (0..periods.len()).map(|_| None).collect())
        .collect();
    let mut totals = vec![Tally::new(); channels.len()];
    let progress = super::progress_bar((end - start).num_seconds().max(0) as u64, "simulated s");
    let mut t = start;
    while t < end {
        let step_end = next_boundary(&periods, t).min(end);
        let due = samples_between(start, t, step_end, request.rate);
        for (c, generator) in generators.iter_mut().enumerate() {
            for (p, period) in periods.iter().enumerate() {
                if open[c][p].is_none() {
                    let window = period.window_at(t);
                    let kept = period.window_index(&window) >= first_kept[p];
                    open[c][p] = Some((window, kept.then(WindowTraffic::new)));
                }
            }
            let windows = &mut open[c];
            let total = &mut totals[c];
            draw_samples(generator, due, |draw| {
                total.add(draw.entry, draw.count);
                for (_, traffic) in windows.iter_mut().flatten() {
                    if let Some(traffic) = traffic {
                        traffic.add(draw);
                    }
                }
            });
        }
        t = step_end;
        for (c, channel) in channels.iter().enumerate() {
            for (p, period) in periods.iter().enumerate() {
                let finished = open[c][p]
                    .as_ref()
                    .is_some_and(|(window, _)| window.end <= t || t >= end);
                if finished {
                    match open[c][p].take() {
                        Some((window, Some(traffic))) => {
                            filler.write_window(
                                period,
                                &window,
                                channel,
                                &traffic,
                                &generators[c],
                            )?;
                        }
                        Some((_, None)) => filler.report.pruned_windows += 1,
                        None => {}
                    }
                }
            }
        }
        progress.set_position((t - start).num_seconds().max(0) as u64);
    }
    progress.finish_and_clear();
    let mut report = filler.report;
    if request.render {
        // What the service's first retention pass would build, so long ranges are cheap
        // from the start.
        for period in &periods {
            let logs = runtime
                .block_on(storage.list(&layout::logs_prefix(period.name())))
                .context("cannot list the logs to build their roll-ups")?;
            let built = runtime
                .block_on(rollup_builder::build_missing(
                    &storage,
                    period,
                    &logs,
                    now,
                    config.render.min_width,
                ))
                .context("cannot build the roll-ups")?;
            report.rollups += built.written as u64;
        }
    }
    report.samples = channels.iter().cloned().zip(totals).collect();
    eprintln!(
        "arclamp publish --to-store: {} days at {} samples/s per channel into {}: {} windows, \
         {} logs ({} bytes), {} graphs ({} bytes), {} roll-ups in {:.1} s \
         ({} windows not written: retention would have deleted them)",
        request.days,
        request.rate,
        storage.describe(),
        report.windows,
        report.logs,
        report.log_bytes,
        report.graphs,
        report.graph_bytes,
        report.rollups,
        started.elapsed().as_secs_f64(),
        report.pruned_windows
    );
    if let Some(path) = expect {
        super::write_json_report(path, &report)?;
    }
    Ok(())
}

/// The index (see [`Period::window_index`]) of the first window of `spec`'s period that
/// the service's retention keeps at `now` when the simulated time ends at `end`: the newest
/// `retain` windows, as long as they are not past `max_age`.
fn first_kept_index(spec: &PeriodSpec, end: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let period = &spec.period;
    let last = period.window_index(&period.window_at(end - TimeDelta::milliseconds(1)));
    let by_count = last - (spec.retain as i64) + 1;
    let by_age = spec
        .max_age
        .and_then(|age| TimeDelta::from_std(age).ok())
        .map_or(i64::MIN, |age| {
            // The first window that ends no earlier than `now - age`.
            let oldest = period.window_at(now - age - TimeDelta::milliseconds(1));
            period.window_index(&oldest)
        });
    by_count.max(by_age)
}

/// A window being simulated, with its traffic unless retention would delete it by the end
/// (then its samples are only drawn).
type OpenWindow = (Window, Option<WindowTraffic>);

struct Filler<'a> {
    storage: &'a dyn Storage,
    runtime: &'a tokio::runtime::Runtime,
    settings: RenderSettings,
    render: bool,
    report: FillReport,
}

impl Filler<'_> {
    fn write_window(
        &mut self,
        period: &Period,
        window: &Window,
        channel: &str,
        traffic: &WindowTraffic,
        generator: &Generator,
    ) -> anyhow::Result<()> {
        if traffic.samples().all() == 0 {
            return Ok(());
        }
        self.report.windows += 1;
        for (entry, encoded) in traffic.encode(generator) {
            let key = LogKey {
                period: period.name().to_owned(),
                window: window.name.clone(),
                channel: channel.to_owned(),
                entry: entry.to_owned(),
            };
            let path = key.log_path();
            if entry == ALL {
                self.report.logs += 1;
                self.report.log_bytes += encoded.bytes.len() as u64;
            }
            self.runtime
                .block_on(seal::write_log(self.storage, &key, encoded))
                .with_context(|| format!("cannot write {path}"))?;
            if self.render {
                let written = self
                    .runtime
                    .block_on(render_stored_window(
                        self.storage,
                        &key,
                        Some(period),
                        &self.settings,
                        WindowState::at(Some(period), &key.window, chrono::Utc::now()),
                    ))
                    .with_context(|| format!("cannot render the graphs of {path}"))?;
                self.report.graphs += written.graphs as u64;
                self.report.graph_bytes += written.bytes;
            }
        }
        Ok(())
    }
}
