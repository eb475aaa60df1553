//! Graphs: what people look at. [`render`] turns aggregated stacks into flame graphs with
//! inferno (and prunes frame trees, [`render::tree`]); [`window_graphs`] says which graphs a
//! stored window gets and renders them; [`window_stacks`] reads a window's stacks in forward
//! and reversed order; [`range`] and [`range_summary`] merge many windows, [`rollup`] (built
//! by [`rollup_builder`]) whole blocks of them for long ranges; [`diff`] compares two,
//! [`top`] ranks functions and [`trend`] follows one over many windows; [`export`] writes
//! profiles for other tools (speedscope, pprof); [`on_demand`] runs those when asked,
//! bounded, with [`graph_cache`] keeping what it drew; [`live`] reads stream mode's windows
//! not sealed yet on demand; [`derived`] reads entry points' logs and graphs from their
//! window's `all` log (each sample is stored once).
//!
//! It may import [`crate::store`], [`crate::ingest`] and [`crate::ops`]; nothing in
//! `config`, `actors`, `http` or `cli`.

pub mod derived;
pub mod diff;
pub mod export;
pub mod graph_cache;
pub mod live;
pub mod on_demand;
#[cfg(test)]
mod properties;
pub mod range;
pub mod range_summary;
pub mod render;
pub mod rollup;
pub mod rollup_builder;
pub mod top;
pub mod trend;
pub mod window_graphs;
pub mod window_stacks;
