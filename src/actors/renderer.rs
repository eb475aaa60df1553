//! The renderer: a pool of synchronous actors (`SyncArbiter`, `render.workers` threads),
//! each rendering one window's graphs at a time with [`crate::render`], off the threads
//! that ingest samples.
//!
//! A job reads the window's trace log from storage and writes, atomically, the forward
//! and reversed graphs, plus for entry point `all` the function-focused ones. A panic
//! while rendering is caught and reported as a failed job, so the pool never shrinks.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use bytes::Bytes;

use crate::config::FunctionGraph;
use crate::events;
use crate::folded;
use crate::layout::{GraphKind, LogKey, ALL};
use crate::render::{self, GraphOptions, RenderError};
use crate::storage::{ContentMeta, Storage};
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

/// Render every graph of one window.
#[derive(Message)]
#[rtype(result = "Result<usize, String>")]
pub struct RenderJob {
    /// The window's log.
    pub key: LogKey,
    /// The window's period, for its display name.
    pub period: Option<Period>,
    /// Settings in force.
    pub settings: RenderSettings,
}

/// One renderer thread.
pub struct Renderer {
    storage: Arc<dyn Storage>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Renderer {
    /// A renderer reading and writing `storage`.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Renderer {
            storage,
            runtime: None,
        }
    }

    fn run(&mut self, job: &RenderJob) -> Result<usize, String> {
        if self.runtime.is_none() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the renderer's I/O runtime: {e}"))?;
            self.runtime = Some(runtime);
        }
        let Some(runtime) = self.runtime.as_ref() else {
            return Err("no runtime".into());
        };
        let storage = &self.storage;
        let key = &job.key;
        let Some(bytes) = runtime
            .block_on(storage.get(&key.log_path()))
            .map_err(|e| e.to_string())?
        else {
            return Ok(0);
        };
        let text = folded::decode(&bytes).map_err(|e| e.to_string())?;
        let stacks = folded::aggregate(&text).stacks;
        let window = job
            .period
            .as_ref()
            .and_then(|p| p.window_named(&key.window))
            .map_or_else(|| key.window.replace('_', " "), |w| w.display_name());
        let base_title = format!("{} - {} - {}", job.settings.title, key.period, window);
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
            for function in &job.settings.functions {
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
        let mut written = 0;
        for (kind, title, function) in graphs {
            let title = if kind.reversed {
                format!("{title} - reversed")
            } else {
                title
            };
            let options = GraphOptions {
                title,
                min_width: job.settings.min_width,
                reverse: kind.reversed,
            };
            let path = key.svg_path(&kind);
            let filtered;
            let input = match function {
                Some(name) => {
                    filtered = render::stacks_with_frame(&stacks, name);
                    &filtered[..]
                }
                None => &stacks[..],
            };
            match render::render_svgz(input, &options) {
                Ok(svgz) => {
                    runtime
                        .block_on(storage.put(&path, Bytes::from(svgz), ContentMeta::SVGZ))
                        .map_err(|e| e.to_string())?;
                    written += 1;
                }
                // No stack contains the function: no graph, and none left over from before.
                Err(RenderError::NoStacks) => runtime
                    .block_on(storage.delete(&path))
                    .map_err(|e| e.to_string())?,
                Err(e) => return Err(format!("{path}: {e}")),
            }
        }
        Ok(written)
    }
}

impl Actor for Renderer {
    type Context = SyncContext<Self>;
}

impl Handler<RenderJob> for Renderer {
    type Result = Result<usize, String>;

    fn handle(&mut self, job: RenderJob, _: &mut SyncContext<Self>) -> Self::Result {
        let started = Instant::now();
        let path = job.key.log_path();
        let result =
            std::panic::catch_unwind(AssertUnwindSafe(|| self.run(&job))).unwrap_or_else(|_| {
                Err("the renderer panicked (a bug; the job was dropped, the thread kept)".into())
            });
        match &result {
            Ok(graphs) => events::rendered(&path, *graphs, started.elapsed()),
            Err(e) => events::render_failed(&path, e),
        }
        result
    }
}
