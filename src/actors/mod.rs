//! The supervisor tree: the actors that connect the pure modules to Redis, the clock and
//! storage. Each file is one actor:
//!
//! ```text
//!                      Supervisor  (System arbiter: builds the tree, watchdog, SIGHUP, SIGTERM)
//!      ┌──────────────────┬──────────┴───────────┬──────────────────────┐
//!  Subscriber        Router ─ ─ ─ ─ ─ ▶ Aggregator × (period, window,   Retention
//!  (own thread:      (ingest arbiter:    channel, entry)            (prunes old
//!   Redis pub/sub,    parse, intern,     (ingest arbiter: counts,    windows)
//!   backoff restarts) route)              checkpoints)
//!      │                 ▲                      │
//!      └── Ingest ───────┘                      ▼ RenderRequest
//!                                         RenderQueue ──▶ Renderer × render.workers
//!                                                         (SyncArbiter threads)
//! ```
//!
//! Samples flow left to right. The subscriber has a thread of its own, where nothing else
//! runs, so Redis is always read at full speed. A WriterLease (ingest arbiter) decides
//! whether this instance counts: the router of an instance that does not hold it stands by,
//! buffering, and takes over at the old writer's handover marker.
//!
//! In stream mode (`redis.source = "stream"`) the front changes: a StreamReader (own
//! thread: XREADGROUP, claims) hands entries to a Delta (counts per channel and hour,
//! commits a segment and acknowledges atomically through the ledger), and a Housekeeper
//! (under a lease shared by all replicas) seals finished windows into the usual logs and
//! asks the RenderQueue for their graphs. Router and aggregators then stay idle.
//!
//! Bridge mode (`redis.source = "bridge"`) runs both fronts: the subscriber and router
//! under the writer lease, the router handing what it lets through to a Bridge (ingest
//! arbiter) that appends it to the streams, which the stream front then counts.
//!
//! Each actor is a thin shell: what it does lives in the plain modules of `ingest`, `store`
//! and `graphs`, which it may import (with `config` and `ops`); of `http` it implements only
//! the read-only [`crate::http::live_view::LiveView`]. Nothing but `cli` imports actors.

pub mod aggregator;
pub mod bridge;
pub mod delta;
pub mod housekeeper;
pub mod render_queue;
pub mod renderer;
pub mod retention;
pub mod router;
pub mod stream_reader;
pub mod subscriber;
pub mod supervisor;
pub mod writer_lease;

/// Test aid, compiled into debug builds only: panic once in the actor named by the
/// `ARCLAMP_DEBUG_PANIC_IN` environment variable, so tests can prove that the supervisor
/// replaces an actor that died.
#[cfg(debug_assertions)]
pub(crate) fn injected_panic(actor: &str) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static DONE: AtomicBool = AtomicBool::new(false);
    if std::env::var("ARCLAMP_DEBUG_PANIC_IN").as_deref() == Ok(actor)
        && !DONE.swap(true, Ordering::SeqCst)
    {
        panic!("injected panic in {actor} (ARCLAMP_DEBUG_PANIC_IN)");
    }
}

/// Release builds: nothing.
#[cfg(not(debug_assertions))]
pub(crate) fn injected_panic(_actor: &str) {}

/// Test aid, compiled into debug builds only: abort the process (as SIGKILL would) the Nth
/// time the failpoint `name` is passed, when `ARCLAMP_DEBUG_FAILPOINT` is `name:N`. Lets
/// tests kill a replica at the worst instants: after a segment is written and before its
/// commit, or after the commit and before anything else.
#[cfg(debug_assertions)]
pub(crate) fn failpoint(name: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static HITS: AtomicU64 = AtomicU64::new(0);
    let Ok(spec) = std::env::var("ARCLAMP_DEBUG_FAILPOINT") else {
        return;
    };
    let Some((wanted, nth)) = spec.split_once(':') else {
        return;
    };
    if wanted == name && nth.parse::<u64>().ok() == Some(HITS.fetch_add(1, Ordering::SeqCst) + 1) {
        eprintln!("failpoint {name} reached (ARCLAMP_DEBUG_FAILPOINT): aborting");
        std::process::abort();
    }
}

/// Release builds: nothing.
#[cfg(not(debug_assertions))]
pub(crate) fn failpoint(_name: &str) {}
