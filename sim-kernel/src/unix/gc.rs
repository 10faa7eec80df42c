//! Collecting sockets that only messages in flight keep open (`net/unix/garbage.c`,
//! `unix_gc`).
//!
//! Passing a socket over itself (or round a ring of sockets) makes a cycle: its only
//! reference is a message in a queue that only it can read. When no descriptor reaches such
//! a cycle any more, the collector drops the messages, and with them the last references.
//!
//! A candidate is a socket whose every file reference is in flight. A candidate is alive if a
//! message in the queue of a live socket carries it, where every non-candidate is live
//! (a listener's queue includes the queues of its connections not yet accepted). The rest is
//! garbage: its queued messages are dropped, which closes what they carried.
//!
//! Deviation: Linux runs the collector when a Unix socket is released (or many files are in
//! flight); socksim runs it whenever a reference to a Unix socket goes away while files are in
//! flight, so a cycle is collected at the moment it becomes unreachable.

use super::UnixId;
use crate::process::Desc;
use crate::world::World;
use std::collections::{BTreeMap, BTreeSet};

impl World {
    /// Counts Unix sockets entering (`+`) or leaving (`-`) messages.
    pub(crate) fn unix_inflight(&mut self, rights: &[Desc], entering: bool) {
        let n = rights.iter().filter(|d| matches!(d, Desc::Unix(_))).count();
        if entering {
            self.unix.inflight += n;
        } else {
            self.unix.inflight -= n;
        }
    }

    /// `unix_gc()`: finds and breaks unreachable cycles of sockets in flight.
    pub(crate) fn unix_gc(&mut self) {
        if self.unix.inflight == 0 || self.unix.collecting {
            return;
        }
        let mut inflight: BTreeMap<UnixId, u32> = BTreeMap::new();
        for (_, s) in self.unix.iter() {
            for m in &s.rx {
                for d in &m.rights {
                    if let Desc::Unix(u) = d {
                        *inflight.entry(*u).or_default() += 1;
                    }
                }
            }
        }
        let candidates: BTreeSet<UnixId> = inflight
            .iter()
            .filter(|&(&u, &n)| {
                let s = self.unix.get(u);
                !s.dead && s.refs == n
            })
            .map(|(&u, _)| u)
            .collect();
        if candidates.is_empty() {
            return;
        }
        // Roots: every socket that is not a candidate, except connections waiting on a
        // candidate listener (their queues count as the listener's).
        let mut live: BTreeSet<UnixId> = BTreeSet::new();
        let mut work: Vec<UnixId> = self
            .unix
            .iter()
            .filter(|(id, s)| !candidates.contains(id) && !s.listener.is_some_and(|l| candidates.contains(&l)))
            .map(|(id, _)| id)
            .collect();
        while let Some(id) = work.pop() {
            let s = self.unix.get(id);
            let queues = std::iter::once(id).chain(s.accept_queue.iter().copied());
            for q in queues {
                for m in &self.unix.get(q).rx {
                    for d in &m.rights {
                        if let Desc::Unix(u) = d
                            && candidates.contains(u)
                            && live.insert(*u)
                        {
                            work.push(*u);
                        }
                    }
                }
            }
        }
        let garbage: Vec<UnixId> = candidates.difference(&live).copied().collect();
        if garbage.is_empty() {
            return;
        }
        // Take every garbage queue first, then drop the messages: dropping closes the files
        // they carry, which releases the garbage sockets themselves.
        self.unix.collecting = true;
        let mut messages = Vec::new();
        for &g in &garbage {
            let embryos: Vec<UnixId> = self.unix.get(g).accept_queue.iter().copied().collect();
            for q in std::iter::once(g).chain(embryos) {
                let s = self.unix.get_mut(q);
                s.rx_bytes = 0;
                messages.extend(std::mem::take(&mut s.rx));
            }
        }
        for m in messages {
            self.unix_free_message(m);
        }
        self.unix.collecting = false;
    }
}
