//! The `arclamp` subcommands. Each module holds one subcommand's arguments (clap) and its
//! `run` function; `main.rs` only dispatches.

pub mod check_config;
pub mod publish;
pub mod render;
pub mod serve;

use clap::{Parser, Subcommand};

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
    /// Publish realistic synthetic MediaWiki-like stacks to Redis (load, demos, tests).
    Publish(publish::PublishArgs),
}
