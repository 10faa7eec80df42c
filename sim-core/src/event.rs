//! The queue of future events, ordered by `(time, sequence)`.
//!
//! Events scheduled for the same instant fire in the order they were scheduled: the sequence
//! number breaks ties, so the order never depends on anything but the program.
//!
//! Most events are scheduled at non-decreasing times (a timer of fixed length armed at ever
//! later instants: a million TIME-WAIT sockets make a million of them). Those wait in a FIFO
//! lane, in and out in constant time; the others go to a binary heap. The earliest event is
//! the smaller of the two heads, so the order is the same as with one heap.

use crate::time::Instant;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

struct Entry<E> {
    at: Instant,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A min-queue of events keyed by virtual time, FIFO among equal times.
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<Entry<E>>>,
    /// Events pushed no earlier than the lane's last one, in order (see the module docs).
    lane: VecDeque<Entry<E>>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            lane: VecDeque::new(),
            next_seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `event` at `at`.
    pub fn push(&mut self, at: Instant, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Entry { at, seq, event };
        // Sequence numbers only grow, so an entry no earlier than the lane's last is later
        // than it in (time, sequence) order: the lane stays sorted.
        if self.lane.back().is_none_or(|last| at >= last.at) {
            self.lane.push_back(entry);
        } else {
            self.heap.push(Reverse(entry));
        }
    }

    /// The earliest entry, if any, and whether it is the lane's.
    fn earliest(&self) -> Option<(&Entry<E>, bool)> {
        match (self.heap.peek(), self.lane.front()) {
            (Some(Reverse(h)), Some(l)) if l < h => Some((l, true)),
            (Some(Reverse(h)), _) => Some((h, false)),
            (None, Some(l)) => Some((l, true)),
            (None, None) => None,
        }
    }

    /// The time of the earliest event, if any.
    pub fn peek_time(&self) -> Option<Instant> {
        self.earliest().map(|(e, _)| e.at)
    }

    /// The earliest event and its time, if any.
    pub fn peek(&self) -> Option<(Instant, &E)> {
        self.earliest().map(|(e, _)| (e.at, &e.event))
    }

    /// Removes and returns the earliest event if it is due at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, E)> {
        if self.peek_time()? <= now { self.pop() } else { None }
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(Instant, E)> {
        let (_, in_lane) = self.earliest()?;
        let entry = if in_lane {
            self.lane.pop_front()
        } else {
            self.heap.pop().map(|Reverse(e)| e)
        };
        entry.map(|e| (e.at, e.event))
    }

    /// How many events are pending.
    pub fn len(&self) -> usize {
        self.heap.len() + self.lane.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.lane.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_times_fire_in_scheduling_order() {
        let mut q = EventQueue::new();
        q.push(Instant(5), "b");
        q.push(Instant(1), "a");
        q.push(Instant(5), "c");
        q.push(Instant(5), "d");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
    }

    #[test]
    fn pop_due_respects_now() {
        let mut q = EventQueue::new();
        q.push(Instant(10), 1);
        assert_eq!(q.pop_due(Instant(9)), None);
        assert_eq!(q.pop_due(Instant(10)), Some((Instant(10), 1)));
        assert!(q.is_empty());
    }

    proptest! {
        /// Pushes interleaved with pops, at times that often but not always grow: both the
        /// lane and the heap are used, and the order is still (time, insertion).
        #[test]
        fn interleaved_pushes_and_pops_keep_the_order(steps in proptest::collection::vec((0u64..30, any::<bool>()), 0..300)) {
            let mut q = EventQueue::new();
            let mut model: std::collections::BTreeSet<(u64, usize)> = Default::default();
            let mut now = 0;
            for (i, &(delay, pop)) in steps.iter().enumerate() {
                if pop {
                    let got = q.pop().map(|(t, e)| (t.0, e));
                    prop_assert_eq!(got, model.pop_first());
                    if let Some((t, _)) = got {
                        now = t;
                    }
                } else {
                    q.push(Instant(now + delay), i);
                    model.insert((now + delay, i));
                }
                prop_assert_eq!(q.len(), model.len());
                prop_assert_eq!(q.peek_time().map(|t| t.0), model.first().map(|&(t, _)| t));
            }
        }

        #[test]
        fn pops_are_sorted_by_time_then_insertion(times in proptest::collection::vec(0u64..20, 0..200)) {
            let mut q = EventQueue::new();
            for (i, &t) in times.iter().enumerate() {
                q.push(Instant(t), i);
            }
            let mut expected: Vec<(u64, usize)> = times.iter().copied().zip(0..).collect();
            expected.sort();
            let got: Vec<(u64, usize)> = std::iter::from_fn(|| q.pop().map(|(t, i)| (t.0, i))).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
