//! Ingest: the first stage of a sample's path. A Redis message becomes samples here: its
//! lines are scanned ([`line_scan`]), parsed, sanitized and tagged with their entry point
//! ([`sample`]), their stacks interned once ([`stacks`]), counted per window
//! ([`stack_counts`], [`window`]) and split into per-aggregator batches ([`batch`]).
//! [`stream`] reads Redis Streams replies (entry ids, bodies) without copying payloads.
//! [`frame_order`] orders interned stacks as their text would sort, and [`synth`] generates
//! the synthetic MediaWiki-shaped load that benchmarks, the demo and `arclamp publish` send.
//! [`handover`] decides, in pub/sub mode, which instance counts which message.
//!
//! Everything here is pure logic over bytes and memory: no actors, no I/O, no storage.
//! It may import only [`crate::ops`] (to log and count what it rejects); nothing in
//! `store`, `graphs`, `config`, `actors`, `http` or `cli`.

pub mod batch;
pub mod frame_order;
pub mod handover;
pub mod line_scan;
pub mod sample;
pub mod stack_counts;
pub mod stacks;
pub mod stream;
pub mod synth;
pub mod window;
