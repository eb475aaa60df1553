//! arclamp turns a live stream of sampled PHP stack traces (Excimer's collapsed lines,
//! published on Redis) into per-window aggregated trace logs and flame graphs.
//!
//! The folders follow a sample's path, and imports point one way, down this list:
//!
//! - [`cli`], [`http`], [`actors`]: the edges. `cli` holds the subcommands; `actors` is the
//!   supervisor tree that wires the stages below to Redis, the clock and storage; `http`
//!   serves pages from the store and from a read-only [`http::live_view::LiveView`] that the
//!   actors implement (it never sees an actor type);
//! - [`config`]: the config file, assembled from the config types each stage owns;
//! - [`graphs`]: flame graphs, ranges, diffs, leaderboards;
//! - [`store`]: the storage trait and backends, the trace-log format, layout, retention;
//! - [`ingest`]: parsing, interning and counting samples (pure logic);
//! - [`ops`]: operational events, metrics, status, the clock; used by all, using none;
//! - [`fuzz`]: the fuzz targets' entry points (untrusted bytes in, invariants checked),
//!   beside `http`, importing anything but `actors` and `cli`.
//!
//! `tests/it/architecture.rs` checks these rules on every `cargo test`.

pub mod actors;
pub mod cli;
pub mod config;
pub mod fuzz;
pub mod graphs;
pub mod http;
pub mod ingest;
pub mod ops;
pub mod store;
