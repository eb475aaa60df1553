//! A window's graphs: which ones a trace log gets (forward and reversed, plus, for entry
//! point `all`, the function-focused ones), their titles, and rendering them all from the
//! log. [`window_graphs`] is pure; [`render_stored_window`] reads the log from storage and
//! writes the graphs back. The renderer actor (the service), `arclamp import` and
//! `arclamp publish --to-store` (offline) all render through here, so a graph looks the same
//! whoever drew it.

use bytes::Bytes;

use crate::config::FunctionGraph;
use crate::folded;
use crate::layout::{GraphKind, LogKey, ALL};
use crate::render::{self, GraphOptions, RenderError};
use crate::storage::{ContentMeta, Storage, StorageError};
use crate::window::Period;

/// Rendering settings from `[render]`, changed live on reload.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSettings {
    /// Title prefix.
    pub title: String,
    /// Minimum frame width, pixels of 1200.
    pub min_width: f64,
    /// Function-focused graphs for entry `all`.
    pub functions: Vec<FunctionGraph>,
}

impl RenderSettings {
    /// The settings of a config's `[render]` table.
    pub fn from_config(render: &crate::config::RenderConfig) -> Self {
        RenderSettings {
            title: render.title.clone(),
            min_width: render.min_width,
            functions: render.functions.clone(),
        }
    }
}

/// A window's graphs could not be rendered or stored.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Reading the log or writing a graph failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The stored log is not gzip.
    #[error("{path}: {source}")]
    Decode {
        /// The log's path.
        path: String,
        /// Why.
        #[source]
        source: crate::compress::GunzipError,
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

/// Render every graph of the window `key` from its aggregated `stacks` (sorted as
/// [`folded::aggregate`] returns them). `period` gives the window's display name.
pub fn window_graphs(
    key: &LogKey,
    period: Option<&Period>,
    settings: &RenderSettings,
    stacks: &[(&[u8], u64)],
) -> Result<Vec<RenderedGraph>, GraphError> {
    let window = period
        .and_then(|p| p.window_named(&key.window))
        .map_or_else(|| key.window.replace('_', " "), |w| w.display_name());
    let base_title = format!("{} - {} - {}", settings.title, key.period, window);
    let mut graphs = Vec::new();
    for reversed in [false, true] {
        graphs.push((
            GraphKind {
                function: None,
                reversed,
            },
            base_title.clone(),
            None,
        ));
    }
    if key.entry == ALL {
        for function in &settings.functions {
            for reversed in [false, true] {
                let kind = GraphKind {
                    function: Some(function.label.clone()),
                    reversed,
                };
                graphs.push((
                    kind,
                    format!("{base_title} - {}", function.name),
                    Some(function.name.as_str()),
                ));
            }
        }
    }
    let mut rendered = Vec::with_capacity(graphs.len());
    for (kind, title, function) in graphs {
        let title = if kind.reversed {
            format!("{title} - reversed")
        } else {
            title
        };
        let options = GraphOptions {
            title,
            min_width: settings.min_width,
            reverse: kind.reversed,
        };
        let path = key.svg_path(&kind);
        let filtered;
        let input = match function {
            Some(name) => {
                filtered = render::stacks_with_frame(stacks, name);
                &filtered[..]
            }
            None => stacks,
        };
        match render::render_svgz(input, &options) {
            Ok(svgz) => rendered.push((path, Some(svgz))),
            Err(RenderError::NoStacks) => rendered.push((path, None)),
            Err(source) => return Err(GraphError::Render { path, source }),
        }
    }
    Ok(rendered)
}

/// What [`render_stored_window`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Graphs written.
    pub graphs: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// Read the window's log from `storage`, render its graphs and store them (deleting those
/// without stacks). A missing log renders nothing.
pub async fn render_stored_window(
    storage: &dyn Storage,
    key: &LogKey,
    period: Option<&Period>,
    settings: &RenderSettings,
) -> Result<Written, GraphError> {
    let path = key.log_path();
    let Some(bytes) = storage.get(&path).await? else {
        return Ok(Written::default());
    };
    let text = folded::decode(&bytes).map_err(|source| GraphError::Decode { path, source })?;
    let stacks = folded::aggregate(&text).stacks;
    let graphs = window_graphs(key, period, settings, &stacks)?;
    let mut written = Written::default();
    for (path, svgz) in graphs {
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
    Ok(written)
}
