//! The cache of graphs rendered on request (range and diff graphs): gzip'd SVGs kept in
//! memory under a byte budget, least recently used out first.
//!
//! Kept in memory rather than in storage on purpose: a cache in storage would outlive its
//! inputs and need a pruning policy of its own (retention only understands `logs/` and
//! `svgs/`), and losing it at a restart costs one render per graph. An entry is valid
//! exactly as long as its key: the key hashes the request with the path, size and
//! modification time of every input log, so a changed input is a different key and the
//! stale entry simply ages out.

use std::collections::HashMap;

use bytes::Bytes;
use xxhash_rust::xxh3::Xxh3;

use crate::store::storage::ObjectInfo;

/// The cache key of a graph: its kind and parameters, and the identity of each input.
pub fn key(kind: &str, parameters: &[&str], inputs: &[ObjectInfo]) -> String {
    let mut hasher = Xxh3::new();
    for part in std::iter::once(kind).chain(parameters.iter().copied()) {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    }
    for input in inputs {
        hasher.update(input.path.as_bytes());
        hasher.update(&input.size.to_le_bytes());
        let modified = input
            .modified
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        hasher.update(&modified.to_le_bytes());
    }
    format!("{:032x}", hasher.digest128())
}

struct Entry {
    body: Bytes,
    last_used: u64,
}

/// Rendered graphs by key, within a byte budget.
pub struct GraphCache {
    budget: usize,
    used: usize,
    clock: u64,
    entries: HashMap<String, Entry>,
}

impl GraphCache {
    /// A cache holding at most `budget` bytes (0 keeps nothing).
    pub fn new(budget: usize) -> Self {
        GraphCache {
            budget,
            used: 0,
            clock: 0,
            entries: HashMap::new(),
        }
    }

    /// The graph stored under `key`, marked as just used.
    pub fn get(&mut self, key: &str) -> Option<Bytes> {
        self.clock += 1;
        let entry = self.entries.get_mut(key)?;
        entry.last_used = self.clock;
        Some(entry.body.clone())
    }

    /// Keep `body` under `key`, dropping the least recently used graphs to stay within the
    /// budget. A graph larger than the whole budget is not kept.
    pub fn insert(&mut self, key: String, body: Bytes) {
        if body.len() > self.budget {
            return;
        }
        self.clock += 1;
        if let Some(old) = self.entries.remove(&key) {
            self.used -= old.body.len();
        }
        while self.used + body.len() > self.budget {
            // Few entries (a budget of MiB over graphs of 100s of KB): a scan is cheap.
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(gone) = self.entries.remove(&oldest) {
                self.used -= gone.body.len();
            }
        }
        self.used += body.len();
        self.entries.insert(
            key,
            Entry {
                body,
                last_used: self.clock,
            },
        );
    }

    /// Bytes held.
    pub fn used_bytes(&self) -> usize {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn input(size: u64, secs: u64) -> ObjectInfo {
        ObjectInfo {
            path: "logs/daily/2026-11-24.excimer.all.log.gz".into(),
            size,
            modified: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        }
    }

    #[test]
    fn a_changed_input_is_a_different_key() {
        let k = key("range", &["daily", "a", "b"], &[input(10, 5)]);
        assert_eq!(k, key("range", &["daily", "a", "b"], &[input(10, 5)]));
        assert_ne!(k, key("range", &["daily", "a", "b"], &[input(11, 5)]));
        assert_ne!(k, key("range", &["daily", "a", "b"], &[input(10, 6)]));
        assert_ne!(k, key("range", &["daily", "ab", ""], &[input(10, 5)]));
        assert_ne!(k, key("diff", &["daily", "a", "b"], &[input(10, 5)]));
    }

    #[test]
    fn least_recently_used_graphs_leave_first_within_the_budget() {
        let mut cache = GraphCache::new(10);
        cache.insert("a".into(), Bytes::from_static(b"aaaa"));
        cache.insert("b".into(), Bytes::from_static(b"bbbb"));
        assert!(cache.get("a").is_some());
        cache.insert("c".into(), Bytes::from_static(b"cccc"));
        assert!(cache.get("b").is_none(), "b was least recently used");
        assert_eq!(cache.get("a").as_deref(), Some(&b"aaaa"[..]));
        assert_eq!(cache.get("c").as_deref(), Some(&b"cccc"[..]));
        assert_eq!(cache.used_bytes(), 8);
        cache.insert("huge".into(), Bytes::from(vec![0; 11]));
        assert!(cache.get("huge").is_none());
        assert_eq!(cache.used_bytes(), 8);
        let mut off = GraphCache::new(0);
        off.insert("a".into(), Bytes::from_static(b"a"));
        assert!(off.get("a").is_none());
    }
}
