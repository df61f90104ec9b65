//! A map that holds at most `capacity` entries and, when full, lets the least recently used
//! one go. The package keeps a handful of entries (one per key and endpoint a process uses), so
//! eviction scans for the oldest entry instead of keeping an order list: O(n) only when a new
//! entry arrives in a full map, with n at most a few hundred.

use std::collections::HashMap;
use std::hash::Hash;

pub struct LruMap<K, V> {
    entries: HashMap<K, (V, u64)>,
    clock: u64,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> LruMap<K, V> {
    pub fn new(capacity: usize) -> Self {
        LruMap {
            entries: HashMap::new(),
            clock: 0,
            capacity: capacity.max(1),
        }
    }

    /// The value of `key`, which becomes the most recently used.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(value, used)| {
            *used = clock;
            &*value
        })
    }

    /// Inserts `value`; in a full map, first drops the entries `is_dead` says are dead, then,
    /// if still full, the least recently used one.
    pub fn insert(&mut self, key: K, value: V, is_dead: impl Fn(&V) -> bool) {
        self.clock += 1;
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.entries.retain(|_, (value, _)| !is_dead(value));
            if self.entries.len() >= self.capacity {
                let oldest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(key, _)| key.clone());
                if let Some(oldest) = oldest {
                    self.entries.remove(&oldest);
                }
            }
        }
        self.entries.insert(key, (value, self.clock));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_goes_first() {
        let mut map = LruMap::new(2);
        map.insert("a", 1, |_| false);
        map.insert("b", 2, |_| false);
        assert_eq!(map.get(&"a"), Some(&1));
        map.insert("c", 3, |_| false);
        assert_eq!(map.get(&"b"), None, "b was the least recently used");
        assert_eq!(map.get(&"a"), Some(&1));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn dead_entries_go_before_live_ones() {
        let mut map = LruMap::new(2);
        map.insert("dead", 0, |_| false);
        map.insert("live", 1, |_| false);
        map.get(&"dead");
        map.insert("new", 2, |v| *v == 0);
        assert_eq!(map.get(&"dead"), None);
        assert_eq!(map.get(&"live"), Some(&1));
    }

    #[test]
    fn it_never_grows_past_its_capacity() {
        let mut map = LruMap::new(64);
        for i in 0..100_000 {
            map.insert(i, i, |_| false);
        }
        assert_eq!(map.len(), 64);
        assert!(map.get(&99_999).is_some());
    }
}
