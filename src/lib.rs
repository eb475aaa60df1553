//! arclamp turns a live stream of sampled PHP stack traces (Excimer's collapsed lines,
//! published on Redis pub/sub) into per-window aggregated trace logs and flame graphs.
//!
//! The crate is split the way data flows through it:
//!
//! - pure logic, free of actors and I/O policy, unit-tested and benchmarked on its own:
//!   [`sample`] (parse, sanitize, tag), [`stacks`] (interned stacks), [`stack_counts`]
//!   (a window's counts per stack), [`frame_order`] (the
//!   order of stacks given as frames), [`window`] (periods and
//!   windows), [`folded`] (the trace-log file format), [`render`] (flame graphs),
//!   [`retention`] (what to delete), [`layout`] (where files live), [`synth`] (synthetic load),
//!   [`top`] (the leaderboard), [`range`] (range graphs), [`range_summary`] (the pruned
//!   trees range graphs merge), [`window_stacks`] (a window's stacks, interned, in forward
//!   and reversed order), [`graph_cache`], [`exposition`] and [`status`] (the runtime report);
//! - [`on_demand`]: range, diff graphs and leaderboards computed when asked, bounded;
//! - [`storage`]: the one trait every file access goes through, and its backends;
//! - [`actors`]: the supervisor tree that wires the above to Redis and the clock;
//! - [`cli`]: the `arclamp` subcommands.

pub mod actors;
pub mod aggregate;
pub mod catalogue;
pub mod cli;
pub mod clock;
pub mod compress;
pub mod config;
pub mod diff;
pub mod events;
pub mod exposition;
pub mod folded;
pub mod frame_order;
pub mod graph_cache;
pub mod graphs;
pub mod http;
pub mod import;
pub mod ingest;
pub mod layout;
pub mod line_scan;
pub mod live;
pub mod on_demand;
pub mod range;
pub mod range_summary;
pub mod render;
pub mod retention;
pub mod sample;
pub mod simulate;
pub mod stack_counts;
pub mod stacks;
pub mod status;
pub mod storage;
pub mod synth;
pub mod telemetry;
pub mod top;
pub mod window;
pub mod window_stacks;
