//! A window's `StackId -> count` map: a hash map while the window holds few of the table's
//! stacks, an array indexed by stack id once it holds many of them.
//!
//! Stack ids are small dense integers (a table reuses freed ones first), and a window such
//! as a day's `all` holds nearly every stack the table has. For such a window a hash map
//! is the larger and slower choice: hashbrown keeps 16-byte entries at most 7/8 full (19 to
//! 37 bytes a stack), and every sample probes it at a random place, which for a window of
//! a million samples misses the cache (a window's first million samples, 241,019 distinct
//! stacks, fill two maps of 2^19 buckets, about 9 MB each, for `all` alone). An array of counts
//! takes 8 bytes per id of the table and is read at the stack's id.
//!
//! So a window switches to the array when it holds at least a quarter of the ids below the
//! table's bound (the array then costs at most 32 bytes per stack it holds, no more than
//! the map), and back to a map should it fall below an eighth as the table grows.

use std::hash::BuildHasherDefault;

use hashbrown::hash_map::Entry;
use hashbrown::HashMap;

use crate::ingest::stacks::StackId;

/// Fewest stacks a window holds before an array is considered: small windows stay maps.
const MIN_DENSE_STACKS: usize = 4096;

/// Stack ids are dense small integers: hash them with a multiply rather than a full hasher.
#[derive(Default)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type SparseCounts = HashMap<StackId, u64, BuildHasherDefault<IdHasher>>;

/// Counts per stack id (every count at least 1).
pub enum StackCounts {
    /// A hash map: for windows that hold few of the table's stacks.
    Sparse(SparseCounts),
    /// Counts indexed by stack id, 0 for stacks not held.
    Dense {
        /// The count of each id below its length.
        counts: Vec<u64>,
        /// How many of `counts` are not 0.
        held: usize,
    },
}

impl Default for StackCounts {
    fn default() -> Self {
        StackCounts::Sparse(SparseCounts::default())
    }
}

impl StackCounts {
    /// Add `count` (at least 1) to stack `id`; `id_bound` is one more than the largest id
    /// the table may hand out now. True when `id` was not held before.
    #[inline]
    pub fn add(&mut self, id: StackId, count: u64, id_bound: usize) -> bool {
        debug_assert!(count > 0, "counts are at least 1");
        match self {
            StackCounts::Sparse(map) => match map.entry(id) {
                Entry::Occupied(mut existing) => {
                    let held = existing.get_mut();
                    *held = held.saturating_add(count);
                    false
                }
                Entry::Vacant(vacant) => {
                    vacant.insert(count);
                    if map.len() >= MIN_DENSE_STACKS && map.len() * 4 >= id_bound {
                        self.become_dense(id_bound);
                    }
                    true
                }
            },
            StackCounts::Dense { counts, held } => {
                let at = id as usize;
                if at >= counts.len() {
                    let len = id_bound.max(at + 1);
                    if *held * 8 < len {
                        self.become_sparse();
                        return self.add(id, count, id_bound);
                    }
                    counts.resize(len, 0);
                }
                let slot = &mut counts[at];
                let new = *slot == 0;
                *slot = slot.saturating_add(count);
                *held += usize::from(new);
                new
            }
        }
    }

    fn become_dense(&mut self, id_bound: usize) {
        let StackCounts::Sparse(map) = self else {
            return;
        };
        let len = map.keys().map(|&id| id as usize + 1).max().unwrap_or(0);
        let mut counts = vec![0; len.max(id_bound)];
        for (&id, &count) in map.iter() {
            counts[id as usize] = count;
        }
        *self = StackCounts::Dense {
            counts,
            held: map.len(),
        };
    }

    fn become_sparse(&mut self) {
        let map: SparseCounts = self.iter().collect();
        *self = StackCounts::Sparse(map);
    }

    /// Number of stacks held.
    pub fn len(&self) -> usize {
        match self {
            StackCounts::Sparse(map) => map.len(),
            StackCounts::Dense { held, .. } => *held,
        }
    }

    /// True when no stack is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every stack held with its count (in id order once dense).
    pub fn iter(&self) -> impl Iterator<Item = (StackId, u64)> + '_ {
        let (sparse, dense) = match self {
            StackCounts::Sparse(map) => (Some(map.iter()), None),
            StackCounts::Dense { counts, .. } => (None, Some(counts.iter().enumerate())),
        };
        let sparse = sparse.into_iter().flatten().map(|(&id, &n)| (id, n));
        let dense = dense
            .into_iter()
            .flatten()
            .filter(|&(_, &n)| n > 0)
            // Ids below the length of the array fit in a StackId: they were StackIds.
            .map(|(id, &n)| (id as StackId, n));
        sparse.chain(dense)
    }

    /// Empty the map, returning what it held.
    pub fn take(&mut self) -> StackCounts {
        std::mem::take(self)
    }

    /// True when counts are kept in an array (for tests and diagnostics).
    pub fn is_dense(&self) -> bool {
        matches!(self, StackCounts::Dense { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn sorted(counts: &StackCounts) -> Vec<(StackId, u64)> {
        let mut all: Vec<(StackId, u64)> = counts.iter().collect();
        all.sort_unstable();
        all
    }

    #[test]
    fn a_window_holding_most_ids_becomes_an_array_with_the_same_counts() {
        let mut counts = StackCounts::default();
        let mut model = BTreeMap::new();
        let bound = 10_000;
        for round in 0..3u64 {
            for id in (0..bound as StackId).filter(|id| id % 2 == 0) {
                let new = counts.add(id, round + 1, bound);
                assert_eq!(new, round == 0);
                *model.entry(id).or_insert(0) += round + 1;
            }
        }
        assert!(counts.is_dense(), "5,000 of 10,000 ids");
        assert_eq!(counts.len(), 5_000);
        assert_eq!(sorted(&counts), model.into_iter().collect::<Vec<_>>());
        let taken = counts.take();
        assert!(counts.is_empty() && !counts.is_dense());
        assert_eq!(taken.len(), 5_000);
    }

    #[test]
    fn a_window_holding_few_ids_stays_a_map_and_an_array_goes_back_when_ids_grow() {
        let mut counts = StackCounts::default();
        // 5,000 of 100,000 ids: a map.
        for id in 0..5_000 {
            counts.add(id * 20, 1, 100_000);
        }
        assert!(!counts.is_dense());
        // 5,000 of 8,000: an array.
        let mut dense = StackCounts::default();
        for id in 0..5_000 {
            dense.add(id, 1, 8_000);
        }
        assert!(dense.is_dense());
        // The table grows to 100,000 ids and the window gets one of the new ones: at 1 in
        // 20 it goes back to a map, keeping every count.
        assert!(dense.add(99_999, 7, 100_000));
        assert!(!dense.is_dense());
        assert!(!dense.add(4_999, 2, 100_000));
        assert_eq!(dense.len(), 5_001);
        let all = sorted(&dense);
        assert_eq!(all[0], (0, 1));
        assert_eq!(all[4_999], (4_999, 3));
        assert_eq!(all[5_000], (99_999, 7));
    }

    #[test]
    fn an_array_grows_with_the_table_while_the_window_stays_dense() {
        let mut counts = StackCounts::default();
        for id in 0..50_000 {
            // Every new stack of the table comes to this window (a day's `all`).
            assert!(counts.add(id, 1, id as usize + 1));
            assert!(!counts.add(id / 2, 1, id as usize + 1));
        }
        assert!(counts.is_dense());
        assert_eq!(counts.len(), 50_000);
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        assert_eq!(total, 100_000);
    }
}
