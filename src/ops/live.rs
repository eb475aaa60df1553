//! A shared value that a config reload replaces while readers keep using it.
//!
//! HTTP handlers and actors read settings-derived services (the on-demand graphs and
//! leaderboards) on every request; the supervisor swaps in a new one when SIGHUP changes
//! what it was built from. A reader takes an `Arc` of the current value and keeps it for
//! its request, so a reload never pulls a value out from under a request in flight.

use std::sync::{Arc, PoisonError, RwLock};

/// The current value; see the module documentation.
pub struct Live<T> {
    current: RwLock<Arc<T>>,
}

impl<T> Live<T> {
    /// Start with `value`.
    pub fn new(value: T) -> Self {
        Live {
            current: RwLock::new(Arc::new(value)),
        }
    }

    /// The value in force now.
    pub fn get(&self) -> Arc<T> {
        // A panicking writer cannot leave a half-written Arc behind: take the value anyway.
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Put `value` in force; requests already holding the old one finish with it.
    pub fn replace(&self, value: T) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_see_the_replacement_and_keep_what_they_hold() {
        let live = Live::new("old");
        let held = live.get();
        live.replace("new");
        assert_eq!(*held, "old");
        assert_eq!(*live.get(), "new");
    }
}
