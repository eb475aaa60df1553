//! Store: where samples are kept once counted. [`storage`] is the one trait every file
//! access goes through, with its backends (local disk, S3, Swift); [`aggregate`] holds a
//! window's counts and encodes them as a trace log in the [`folded`] format, gzip'd by
//! [`compress`]; [`layout`] says where each file lives and [`catalogue`] reads a listing
//! back into windows; [`retention`] decides what to delete; [`import`] and [`simulate`]
//! fill a store from an Arc Lamp data directory or from simulated days. In stream mode,
//! replicas commit [`segment`]s, indexed by the [`ledger`] in Redis atomically with the
//! acknowledgement of their entries, and a window is [`seal`]ed into its final logs once
//! every entry of it is committed; [`redis_connection`] makes the connections to Redis.
//! [`workload_stats`] describes a stream of stacks (depth,
//! variety, sharing, compression), to keep the synthetic workload close to real traffic.
//!
//! It may import [`crate::ingest`] (stacks, windows, samples) and [`crate::ops`]; nothing in
//! `graphs`, `config`, `actors`, `http` or `cli`. Its configuration types live here, next
//! to the code they configure, and `config` assembles them.

pub mod aggregate;
pub mod catalogue;
pub mod compress;
pub mod folded;
pub mod import;
pub mod layout;
pub mod ledger;
pub mod packed;
#[cfg(test)]
mod properties;
pub mod redis_connection;
pub mod retention;
pub mod seal;
pub mod segment;
pub mod simulate;
pub mod storage;
pub mod workload_stats;
