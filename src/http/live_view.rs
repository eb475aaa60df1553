//! The live view: everything the web side asks of the process that aggregates, as one small
//! read-only interface. Pages read stored windows from the store; only what is not stored
//! (which windows are still being counted, the config in force, liveness, the status
//! overview) comes through here. The actor tree implements it (`actors::supervisor`), so
//! the web side never sees an actor type, and a replica that aggregates nothing could serve
//! pages with an implementation of its own.

use std::collections::HashSet;
use std::sync::Arc;

use super::SiteSettings;
use crate::ops::status::Overview;

/// What the web side reads from the running service. Every method answers `None` when the
/// service does not answer (shutting down, overloaded): pages degrade rather than fail.
#[async_trait::async_trait(?Send)]
pub trait LiveView: Send + Sync {
    /// Liveness: `Some(true)` while running, `Some(false)` while shutting down.
    async fn ping(&self) -> Option<bool>;

    /// The config as pages need it, as currently loaded (a reload is seen at once).
    async fn site(&self) -> Option<Arc<SiteSettings>>;

    /// The running configuration and its reload history, for `/status`.
    async fn overview(&self) -> Option<Overview>;

    /// Windows still being aggregated, as `(period, window)`.
    async fn live_windows(&self) -> Option<HashSet<(String, String)>>;
}
