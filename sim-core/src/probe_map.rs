//! A hash map that can be probed but never iterated.
//!
//! The simulator needs constant-time lookups (the established table, the bind table), but the
//! iteration order of a hash map depends on its hasher and history, and must never reach a
//! trace or a decision. `ProbeMap` offers `get`, `insert`, `remove` and `len` — and no way to
//! iterate — over a fixed, unkeyed hasher (FxHash), so it is also identical across runs.

#![allow(clippy::disallowed_types)]

use rustc_hash::FxBuildHasher;
use std::hash::Hash;

/// A probe-only hash map with a fixed hasher. See the module docs.
pub struct ProbeMap<K, V> {
    inner: hashbrown::HashMap<K, V, FxBuildHasher>,
}

impl<K, V> Default for ProbeMap<K, V> {
    fn default() -> Self {
        ProbeMap {
            inner: hashbrown::HashMap::with_hasher(FxBuildHasher),
        }
    }
}

impl<K: Hash + Eq, V> ProbeMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value for `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.inner.get(key)
    }

    /// The value for `key`, mutably.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.inner.get_mut(key)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &K) -> bool {
        self.inner.contains_key(key)
    }

    /// Inserts, returning the previous value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.inner.insert(key, value)
    }

    /// Removes, returning the value.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.inner.remove(key)
    }

    /// The value for `key`, inserting `make()` first if absent.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        self.inner.entry(key).or_insert_with(make)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_insert_remove() {
        let mut m = ProbeMap::new();
        assert_eq!(m.insert((1u32, 2u16), "a"), None);
        assert_eq!(m.insert((1, 2), "b"), Some("a"));
        assert_eq!(m.get(&(1, 2)), Some(&"b"));
        *m.get_or_insert_with((3, 4), || "c") = "d";
        assert_eq!(m.len(), 2);
        assert_eq!(m.remove(&(3, 4)), Some("d"));
        assert!(!m.contains_key(&(3, 4)));
    }
}
