//! The renderer: a pool of synchronous actors (`SyncArbiter`, `render.workers` threads),
//! each rendering one window's graphs at a time with [`crate::graphs::window_graphs`], off the threads
//! that ingest samples.
//!
//! A job reads the window's trace log from storage and writes, atomically, the forward
//! and reversed graphs, plus for entry point `all` the function-focused ones. A panic
//! while rendering is caught and reported as a failed job, so the pool never shrinks.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;

pub use crate::graphs::window_graphs::RenderSettings;
use crate::graphs::window_graphs::{render_stored_window, WindowState};
use crate::ingest::window::Period;
use crate::ops::events;
use crate::store::layout::LogKey;
use crate::store::storage::Storage;

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
    /// Whether the window has ended (its graphs are then compressed harder).
    pub state: WindowState,
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
        let written = runtime
            .block_on(render_stored_window(
                self.storage.as_ref(),
                &job.key,
                job.period.as_ref(),
                &job.settings,
                job.state,
            ))
            .map_err(|e| e.to_string())?;
        Ok(written.graphs)
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
            Ok(graphs) => events::rendered(&job.key.event(&path), *graphs, started.elapsed()),
            Err(e) => events::render_failed(&path, e),
        }
        result
    }
}
