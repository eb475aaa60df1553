//! A window's graphs: which ones a trace log gets (forward and reversed, plus, for entry
//! point `all`, the function-focused ones), their titles, and rendering them all from the
//! log in bounded memory, with the window's range summary on the way. [`window_graphs`] is
//! pure; [`render_stored_window`] reads the log from storage and writes the graphs and the
//! summary back. The renderer actor (the service), `arclamp import` and
//! `arclamp publish --to-store` (offline) all render through here, so a graph looks the same
//! whoever drew it.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::graphs::range_summary::{self, RangeSummary};
use crate::graphs::render::tree::{self, PrunedLines, PrunedTree};
use crate::graphs::render::{self, GraphOptions, RenderError};
use crate::graphs::top::{FunctionCounter, Skip};
use crate::graphs::trend::FunctionTotals;
use crate::graphs::window_stacks::WindowStacks;
use crate::ingest::stacks::StackId;
use crate::ingest::window::Period;
use crate::store::catalogue;
use crate::store::compress;
use crate::store::layout::{GraphKind, LogKey, ALL};
use crate::store::storage::{ContentMeta, Storage, StorageError};

/// `[[render.functions]]`: a graph of only the stacks containing one frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionGraph {
    /// The exact frame (`EditAction::show`).
    pub name: String,
    /// The name used in file names (`EditAction` gives `...all.fn-EditAction.svgz`).
    pub label: String,
}

/// Whether a window can still change: it sets how hard its graphs are compressed. A live
/// window is redrawn every `render.interval`, so its graphs get the fast level; an ended
/// window's graphs are drawn once more and then kept and served for years, so they get
/// [`compress::ARCHIVE_LEVEL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    /// Still being aggregated (or of a period this process does not know).
    Live,
    /// Over: its log will not change any more.
    Ended,
}

impl WindowState {
    /// The state of window `window` of `period` at time `now`; `Live` when the period is
    /// unknown or the name is not one of its windows (the cheap, safe choice).
    pub fn at(period: Option<&Period>, window: &str, now: DateTime<Utc>) -> WindowState {
        match period.and_then(|p| p.window_named(window)) {
            Some(w) if w.end <= now => WindowState::Ended,
            _ => WindowState::Live,
        }
    }

    /// The gzip level of graphs drawn in this state.
    pub fn gzip_level(self) -> u32 {
        match self {
            WindowState::Live => compress::LEVEL,
            WindowState::Ended => compress::ARCHIVE_LEVEL,
        }
    }
}

/// Rendering settings from `[render]`, changed live on reload.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSettings {
    /// Title prefix.
    pub title: String,
    /// Minimum frame width, pixels of 1200.
    pub min_width: f64,
    /// Function-focused graphs for entry `all`.
    pub functions: Vec<FunctionGraph>,
    /// `[top] skip`: what the window's function totals ([`crate::graphs::trend`]) count
    /// each sample for.
    pub skip: Vec<String>,
}

/// A window's graphs could not be rendered or stored.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Reading the log or writing a graph failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The stored log could not be decompressed.
    #[error("{path} is not a readable trace log: {source}")]
    Read {
        /// The log's path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// inferno failed on one graph.
    #[error("{path}: {source}")]
    Render {
        /// The graph's path.
        path: String,
        /// Why.
        #[source]
        source: RenderError,
    },
}

/// One graph of a window: its storage path and its `.svgz` bytes, or `None` when it has no
/// stacks (a function-focused graph whose function never ran): such a graph is deleted, so
/// none is left over from before.
pub type RenderedGraph = (String, Option<Vec<u8>>);

/// Everything rendering a window produces.
#[derive(Debug, Default)]
pub struct WindowGraphs {
    /// Its graphs.
    pub graphs: Vec<RenderedGraph>,
    /// Its range summary ([`crate::graphs::range_summary`]), `None` when the log has no stacks or
    /// its stacks cannot be pruned (then range graphs read the log).
    pub range_summary: Option<Vec<u8>>,
    /// Its function totals ([`crate::graphs::trend`]), gzip'd.
    pub function_totals: Option<Vec<u8>>,
    /// Distinct stacks in the log.
    pub stacks: usize,
    /// Samples in the log.
    pub samples: u64,
}

/// One graph to draw: which, its title, and the function it focuses on.
struct GraphSpec {
    kind: GraphKind,
    title: String,
    /// The frame a function-focused graph selects stacks by.
    function: Option<String>,
}

fn graph_specs(key: &LogKey, period: Option<&Period>, settings: &RenderSettings) -> Vec<GraphSpec> {
    let window = period
        .and_then(|p| p.window_named(&key.window))
        .map_or_else(|| key.window.replace('_', " "), |w| w.display_name());
    let base_title = format!("{} - {} - {}", settings.title, key.period, window);
    let mut specs = Vec::new();
    let mut add = |function: Option<&FunctionGraph>| {
        for reversed in [false, true] {
            let mut title = match function {
                Some(f) => format!("{base_title} - {}", f.name),
                None => base_title.clone(),
            };
            if reversed {
                title.push_str(" - reversed");
            }
            specs.push(GraphSpec {
                kind: GraphKind {
                    function: function.map(|f| f.label.clone()),
                    reversed,
                },
                title,
                function: function.map(|f| f.name.clone()),
            });
        }
    };
    add(None);
    if key.entry == ALL {
        for function in &settings.functions {
            add(Some(function));
        }
    }
    specs
}

/// Render every graph of the window `key` from its trace log (gzip'd or plain, `log_size`
/// bytes as stored, which the range summary records), and its range summary. `period`
/// gives the window's display name; graphs are gzip'd at the level `state` calls for.
///
/// Memory: the log's distinct stacks interned ([`WindowStacks`], about 0.15 of their text),
/// the frames each graph keeps ([`PrunedTree`]) and one SVG at a time; never the log's text.
pub fn window_graphs(
    key: &LogKey,
    period: Option<&Period>,
    settings: &RenderSettings,
    state: WindowState,
    log: impl std::io::Read,
    log_size: u64,
) -> Result<WindowGraphs, GraphError> {
    draw_window(key, period, settings, state, log, log_size, Draw::Graphs)
}

/// What [`draw_window`] makes besides the range summary and function totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Draw {
    /// Every graph of the window.
    Graphs,
    /// No graph: those of an entry point are drawn when asked for
    /// ([`crate::graphs::derived`]), not stored.
    SummariesOnly,
}

/// [`window_graphs`] without the graphs: the range summary and function totals of window
/// `key`, which are stored for every entry point.
pub fn window_summaries(
    key: &LogKey,
    period: Option<&Period>,
    settings: &RenderSettings,
    log: impl std::io::Read,
    log_size: u64,
) -> Result<WindowGraphs, GraphError> {
    draw_window(
        key,
        period,
        settings,
        WindowState::Ended,
        log,
        log_size,
        Draw::SummariesOnly,
    )
}

fn draw_window(
    key: &LogKey,
    period: Option<&Period>,
    settings: &RenderSettings,
    state: WindowState,
    log: impl std::io::Read,
    log_size: u64,
    draw: Draw,
) -> Result<WindowGraphs, GraphError> {
    let drawing = draw == Draw::Graphs;
    let path = key.log_path();
    let stacks = WindowStacks::read(log).map_err(|source| GraphError::Read {
        path: path.clone(),
        source,
    })?;
    let render_error = |path: &str, source| GraphError::Render {
        path: path.to_owned(),
        source,
    };
    let min_width_pct =
        render::min_width_percent(settings.min_width).map_err(|e| render_error(&path, e))?;
    let mut reversed_order = None;
    let mut summary_trees: [Option<PrunedLines>; 2] = [None, None];
    let mut graphs = Vec::new();
    let specs = graph_specs(key, period, settings)
        .into_iter()
        .filter(|spec| drawing || spec.function.is_none());
    for spec in specs {
        let svg_path = key.svg_path(&spec.kind);
        let reversed = spec.kind.reversed;
        let order: &[(StackId, u64)] = if reversed {
            reversed_order.get_or_insert_with(|| stacks.reversed())
        } else {
            stacks.forward()
        };
        let function = spec.function.as_deref().map(str::as_bytes);
        let selected = |&&(id, _): &&(StackId, u64)| match function {
            // A name that is empty or holds `;` can never be a whole frame.
            Some(name) => !name.is_empty() && !name.contains(&b';') && stacks.has_frame(id, name),
            None => true,
        };
        let samples: u64 = order.iter().filter(selected).map(|&(_, count)| count).sum();
        if samples == 0 {
            if drawing {
                graphs.push((svg_path, None));
            }
            continue;
        }
        let options = GraphOptions {
            title: spec.title,
            min_width: settings.min_width,
            reverse: reversed,
            note: None,
            icicle: false,
        };
        let mut tree = drawing.then(|| PrunedTree::new(tree::cutoff_for(samples, min_width_pct)));
        let mut summary = function
            .is_none()
            .then(|| PrunedTree::new(range_summary::cutoff(samples, min_width_pct)));
        let mut text = Vec::new();
        let mut prunable = true;
        for &(id, count) in order.iter().filter(selected) {
            text.clear();
            stacks.write_text(id, reversed, &mut text);
            let Ok(stack) = std::str::from_utf8(&text) else {
                prunable = false;
                break;
            };
            // The same input to both trees: one fails where the other does.
            let drawn = tree
                .as_mut()
                .is_none_or(|tree| tree.push(stack, count).is_ok());
            let summed = summary
                .as_mut()
                .is_none_or(|summary| summary.push(stack, count).is_ok());
            if !(drawn && summed) {
                prunable = false;
                break;
            }
        }
        if prunable {
            if let Some(summary) = summary {
                summary_trees[usize::from(reversed)] = Some(summary.finish());
            }
        }
        let Some(tree) = tree else {
            continue;
        };
        let svg = if prunable {
            let pruned = tree.finish();
            let lines: Vec<&str> = pruned.lines().collect();
            render::render_ordered_lines_svg(&lines, &options)
        } else {
            // Input the tree cannot replay exactly (see `tree::TreeError`): render it the
            // way inferno reads it, from a copy of the stacks' text.
            let texts: Vec<(Vec<u8>, u64)> = stacks
                .forward()
                .iter()
                .filter(selected)
                .map(|&(id, count)| {
                    let mut text = Vec::new();
                    stacks.write_text(id, false, &mut text);
                    (text, count)
                })
                .collect();
            let borrowed: Vec<(&[u8], u64)> =
                texts.iter().map(|(t, c)| (t.as_slice(), *c)).collect();
            render::render_svg(&borrowed, &options)
        };
        match svg {
            Ok(svg) => graphs.push((svg_path, Some(compress::gzip_at(&svg, state.gzip_level())))),
            Err(RenderError::NoStacks) => graphs.push((svg_path, None)),
            Err(source) => return Err(render_error(&svg_path, source)),
        }
    }
    let range_summary = match summary_trees {
        [Some(forward), Some(reversed)] => Some(RangeSummary::encode(
            log_size,
            range_summary::cutoff(stacks.samples, min_width_pct),
            &forward,
            &reversed,
        )),
        _ => None,
    };
    // The skip list was checked when the config was loaded; an unparsable one (never
    // expected) leaves the window without totals rather than failing its graphs.
    let function_totals = Skip::parse(&settings.skip).ok().map(|skip| {
        let mut counter = FunctionCounter::default();
        let mut text = Vec::new();
        for &(id, count) in stacks.forward() {
            text.clear();
            stacks.write_text(id, false, &mut text);
            counter.add(&text, count, &skip);
        }
        FunctionTotals::of(counter, log_size).encode()
    });
    Ok(WindowGraphs {
        graphs,
        range_summary,
        function_totals,
        stacks: stacks.len(),
        samples: stacks.samples,
    })
}

/// What [`render_stored_window`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Graphs written.
    pub graphs: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Bytes of the range summary written (0 when none).
    pub summary_bytes: u64,
}

/// Read the window's log from `storage`, render its graphs and store them (deleting those
/// without stacks), and its range summary and function totals beside the log. A missing
/// log renders nothing.
///
/// An entry point's graphs are not stored (drawn when asked for, from its log derived
/// from `all`, see [`crate::graphs::derived`]): those an earlier release stored are deleted
/// so that they cannot shadow the derived ones. A range summary is stored only when it is
/// smaller than the log it stands for (as read: a derived log's bytes).
pub async fn render_stored_window(
    storage: &dyn Storage,
    key: &LogKey,
    period: Option<&Period>,
    settings: &RenderSettings,
    state: WindowState,
) -> Result<Written, GraphError> {
    let path = key.log_path();
    // Read as it is decoded, piece by piece: a day's log is a gigabyte gzip'd.
    let Some(log) = storage.get_stream(&path).await? else {
        return Ok(Written::default());
    };
    let stored_graphs = key.entry == ALL;
    let (rendered, log_bytes) = {
        let (key, period, settings) = (key.clone(), period.cloned(), settings.clone());
        crate::store::storage::read_blocking(&path, log.pieces, move |reader| {
            let mut reader = CountingReader {
                inner: reader,
                bytes: 0,
            };
            let rendered = if stored_graphs {
                window_graphs(
                    &key,
                    period.as_ref(),
                    &settings,
                    state,
                    &mut reader,
                    log.size,
                )
            } else {
                window_summaries(&key, period.as_ref(), &settings, &mut reader, log.size)
            };
            rendered.map(|rendered| (rendered, reader.bytes))
        })
        .await??
    };
    let mut written = Written::default();
    if !stored_graphs {
        for reversed in [false, true] {
            let kind = GraphKind {
                function: None,
                reversed,
            };
            storage.delete(&key.svg_path(&kind)).await?;
        }
    }
    // A summary no smaller than its log saves a range nothing (an hour at Wikimedia's rate
    // prunes next to nothing): the range reads the log instead.
    let range_summary = rendered
        .range_summary
        .filter(|summary| (summary.len() as u64) < log_bytes);
    for (path, svgz) in rendered.graphs {
        match svgz {
            Some(svgz) => {
                written.graphs += 1;
                written.bytes += svgz.len() as u64;
                storage
                    .put(&path, Bytes::from(svgz), ContentMeta::SVGZ)
                    .await?;
            }
            None => storage.delete(&path).await?,
        }
    }
    let summary_path = catalogue::range_summary_path(key);
    match range_summary {
        Some(summary) => {
            written.summary_bytes = summary.len() as u64;
            storage
                .put(&summary_path, Bytes::from(summary), ContentMeta::TRACE_LOG)
                .await?;
        }
        // No summary for this log: none from an older version of it may stay.
        None => storage.delete(&summary_path).await?,
    }
    let totals_path = catalogue::function_totals_path(key);
    match rendered.function_totals {
        Some(totals) => {
            storage
                .put(&totals_path, Bytes::from(totals), ContentMeta::TRACE_LOG)
                .await?
        }
        None => storage.delete(&totals_path).await?,
    }
    Ok(written)
}

/// Counts the bytes read through it (a derived log's size is not its stored size).
struct CountingReader<R> {
    inner: R,
    bytes: u64,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphs::range_summary::RangeSummary;
    use crate::store::folded;

    /// A trace log of `samples` generated samples, as a checkpoint writes it, and its text.
    fn generated_log(samples: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
        let mut generator = crate::ingest::synth::Generator::new(seed);
        let mut text = Vec::new();
        for _ in 0..samples {
            generator.next_sample(&mut text);
            text.push(b'\n');
        }
        let aggregated = folded::aggregate(&text);
        let mut writer = folded::FoldedWriter::new(text.len());
        for (stack, count) in &aggregated.stacks {
            writer.push(stack, *count);
        }
        (writer.finish(), text)
    }

    /// The frame found in most stacks below the entry point.
    fn common_frame(stacks: &[(&[u8], u64)]) -> String {
        let mut frames: std::collections::HashMap<&[u8], u64> = Default::default();
        for (stack, count) in stacks {
            for frame in stack.split(|&b| b == b';').skip(2).take(2) {
                *frames.entry(frame).or_default() += count;
            }
        }
        let (frame, _) = frames
            .into_iter()
            .max_by_key(|(frame, count)| (*count, frame.to_vec()))
            .unwrap();
        String::from_utf8(frame.to_vec()).unwrap()
    }

    #[test]
    fn every_graph_is_the_one_inferno_draws_from_the_whole_text() {
        let (log, text) = generated_log(60_000, 11);
        let aggregated = folded::aggregate(&text);
        let function = common_frame(&aggregated.stacks);
        let key = LogKey {
            period: "daily".into(),
            window: "2026-11-01".into(),
            channel: "excimer".into(),
            entry: ALL.into(),
        };
        for min_width in [0.1, 1.0] {
            let settings = RenderSettings {
                title: "T".into(),
                min_width,
                functions: vec![
                    FunctionGraph {
                        name: function.clone(),
                        label: "common".into(),
                    },
                    FunctionGraph {
                        name: "Never::called".into(),
                        label: "never".into(),
                    },
                ],
                skip: Vec::new(),
            };
            let rendered = window_graphs(
                &key,
                None,
                &settings,
                WindowState::Live,
                &log[..],
                log.len() as u64,
            )
            .unwrap();
            let specs = graph_specs(&key, None, &settings);
            assert_eq!(rendered.graphs.len(), 6);
            assert_eq!(rendered.stacks, aggregated.stacks.len());
            for ((path, svgz), spec) in rendered.graphs.iter().zip(specs) {
                assert_eq!(*path, key.svg_path(&spec.kind));
                let input = match &spec.function {
                    Some(name) => render::stacks_with_frame(&aggregated.stacks, name),
                    None => aggregated.stacks.clone(),
                };
                let options = GraphOptions {
                    title: spec.title.clone(),
                    min_width,
                    reverse: spec.kind.reversed,
                    note: None,
                    icicle: false,
                };
                match render::render_svg(&input, &options) {
                    Ok(expected) => {
                        let got =
                            crate::store::compress::maybe_gunzip(svgz.as_ref().unwrap()).unwrap();
                        assert!(*got == expected, "{path} at min_width {min_width} differs");
                    }
                    Err(RenderError::NoStacks) => assert!(svgz.is_none(), "{path}"),
                    Err(e) => panic!("{e}"),
                }
            }
            // The range summary holds both trees, all samples in each.
            let summary = RangeSummary::decode(&rendered.range_summary.unwrap()).unwrap();
            assert_eq!(summary.samples, aggregated.total());
            assert_eq!(summary.log_bytes, log.len() as u64);
            for reversed in [false, true] {
                let total: u64 = summary.entries(reversed).map(|(_, count, _)| count).sum();
                assert_eq!(total, aggregated.total());
            }
        }
    }

    /// Window 2026-11-01 of daily/excimer/index, with plain settings (no function graphs).
    fn index_window() -> (LogKey, RenderSettings) {
        let key = LogKey {
            period: "daily".into(),
            window: "2026-11-01".into(),
            channel: "excimer".into(),
            entry: "index".into(),
        };
        let settings = RenderSettings {
            title: "T".into(),
            min_width: 0.1,
            functions: Vec::new(),
            skip: Vec::new(),
        };
        (key, settings)
    }

    #[test]
    fn a_window_is_ended_once_its_end_has_passed() {
        let daily = Period::new("daily", "%Y-%m-%d").unwrap();
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        let state = |window| WindowState::at(Some(&daily), window, at("2026-11-02T00:00:00Z"));
        assert_eq!(state("2026-11-01"), WindowState::Ended);
        assert_eq!(state("2026-11-02"), WindowState::Live);
        assert_eq!(state("not-a-day"), WindowState::Live);
        let unknown = WindowState::at(None, "2026-11-01", at("2030-01-01T00:00:00Z"));
        assert_eq!(unknown, WindowState::Live);
    }

    #[test]
    fn an_ended_window_gets_the_same_graphs_compressed_harder() {
        let (key, settings) = index_window();
        let log: String = (0..2000)
            .map(|i| {
                format!(
                    "/w/index.php;Main::run;Module{}::step;Leaf{}::work {}\n",
                    i % 40,
                    i,
                    i % 7 + 1
                )
            })
            .collect();
        let live = window_graphs(
            &key,
            None,
            &settings,
            WindowState::Live,
            log.as_bytes(),
            log.len() as u64,
        )
        .unwrap();
        let ended = window_graphs(
            &key,
            None,
            &settings,
            WindowState::Ended,
            log.as_bytes(),
            log.len() as u64,
        )
        .unwrap();
        assert_eq!(live.graphs.len(), 2);
        for ((_, live), (_, ended)) in live.graphs.iter().zip(&ended.graphs) {
            let (live, ended) = (live.as_ref().unwrap(), ended.as_ref().unwrap());
            assert_eq!(
                crate::store::compress::maybe_gunzip(live).unwrap(),
                crate::store::compress::maybe_gunzip(ended).unwrap()
            );
            // gzip's XFL header byte: 2 = compressed with the slowest, best level.
            assert_eq!((live[8], ended[8]), (0, 2));
            assert!(
                ended.len() < live.len(),
                "{} >= {}",
                ended.len(),
                live.len()
            );
        }
    }

    #[test]
    fn a_log_that_is_not_gzip_or_text_is_a_clear_error() {
        let (key, settings) = index_window();
        let mut damaged = crate::store::compress::gzip(b"a;b 1\n");
        let len = damaged.len();
        damaged[len / 2] ^= 0xff;
        damaged.truncate(len - 4);
        let error = window_graphs(
            &key,
            None,
            &settings,
            WindowState::Live,
            &damaged[..],
            damaged.len() as u64,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("not a readable trace log"),
            "{error}"
        );
        // A log with no valid line has no graphs and no summary.
        let empty = window_graphs(
            &key,
            None,
            &settings,
            WindowState::Live,
            &b"not a stack line\n"[..],
            17,
        )
        .unwrap();
        assert!(empty.graphs.iter().all(|(_, svgz)| svgz.is_none()));
        assert!(empty.range_summary.is_none());
    }
}
