//! The `arclamp` subcommands. Each module holds one subcommand's arguments (clap) and its
//! `run` function; `main.rs` only dispatches. The outermost layer: it may import every
//! other module, and none imports it.

pub mod check_config;
pub mod copy;
pub mod import;
pub mod migrate;
pub mod publish;
pub mod render;
pub mod serve;
pub mod to_store;
pub mod top;

use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::Config;
use anyhow::Context as _;

use crate::store::storage::Storage;

/// Command-line interface of the `arclamp` binary.
#[derive(Debug, Parser)]
#[command(
    name = "arclamp",
    version,
    about = "Flame graphs from a live stream of sampled PHP stacks"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: subscribe to Redis, aggregate, checkpoint, render, prune.
    Serve(serve::ServeArgs),
    /// Validate a config file and print the effective config.
    CheckConfig(check_config::CheckConfigArgs),
    /// Render one flame graph from folded input, like flamegraph.pl.
    Render(render::RenderArgs),
    /// Publish realistic synthetic MediaWiki-like stacks to Redis (load, demos, tests), or
    /// fill the store with simulated days (--to-store).
    Publish(publish::PublishArgs),
    /// Import an existing Arc Lamp data directory into the configured store.
    Import(import::ImportArgs),
    /// Copy every object from one config's store to another's, verifying each copy.
    Copy(copy::CopyArgs),
    /// Rewrite the trace logs of an earlier release (gzip'd folded text) as packed traces.
    Migrate(migrate::MigrateArgs),
    /// The functions most often on CPU in one stored window (as /api/top).
    Top(top::TopArgs),
}

/// The store a config names, as the service reads it (entry points' logs derived from
/// `all`, [`crate::graphs::derived`]), for the offline tools (`publish --to-store`,
/// `import`, `top`): the same backend and location `arclamp serve` would use.
pub fn open_storage(config: &Config) -> anyhow::Result<Arc<dyn Storage>> {
    let storage = open_stored_objects(config)?;
    Ok(Arc::new(crate::graphs::derived::DerivedEntries::new(
        storage,
        config.derived_settings()?,
    )))
}

/// The store a config names, exactly the objects stored in it (`copy`, `migrate`).
pub fn open_stored_objects(config: &Config) -> anyhow::Result<Arc<dyn Storage>> {
    let storage: Arc<dyn Storage> = crate::store::storage::open(&config.storage)
        .context("cannot open the storage ([storage] in the config)")?;
    Ok(storage)
}

/// Write `report` to `path` as pretty JSON (a subcommand's `--report` or `--expect`).
pub fn write_json_report(
    path: &std::path::Path,
    report: &impl serde::Serialize,
) -> anyhow::Result<()> {
    let mut json = serde_json::to_vec_pretty(report).context("cannot encode the report")?;
    json.push(b'\n');
    std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))
}

/// A progress bar on stderr for a long run, counting `unit`; hidden when stderr is not a
/// terminal (tests, logs, pipes), so it never pollutes captured output.
pub fn progress_bar(length: u64, unit: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(length),
        indicatif::ProgressDrawTarget::stderr(),
    );
    let template =
        format!("{{elapsed_precise}} [{{wide_bar}}] {{pos}}/{{len}} {unit} ({{eta}} left) {{msg}}");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}
