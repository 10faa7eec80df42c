//! The scheduler of simulated tasks (processes).
//!
//! A task is *runnable* or *blocked*. Blocked tasks wait on a [`WaitQueue`] (owned by whatever
//! they wait for: a socket, a timer) until it is woken, either one waiter at a time
//! ([`Wake::One`], Linux's exclusive waits as in `accept()`) or all of them ([`Wake::All`]).
//!
//! When more than one task is runnable at the same instant, which one runs next is drawn from
//! the seeded `sched` stream — or taken from a replayed schedule — and recorded as a
//! [`Decision`]. Runnable tasks are kept in the order they became runnable, so choice `0`
//! is always "first come, first served": the default a shrinker reduces towards.

use crate::rng::Stream;
use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// A simulated task (process) id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub u32);

/// Waiters on something (a socket, an epoll instance), as a Linux wait queue holds them.
///
/// A waiter is *exclusive* (added at the tail, like `prepare_to_wait_exclusive`: blocked
/// `accept()`, `EPOLLEXCLUSIVE`) or not (added at the head, like `add_wait_queue`). A wake-up
/// (`__wake_up_common`) calls every entry from the head and stops after `nr_exclusive`
/// exclusive entries have accepted it; so every non-exclusive waiter wakes, and exclusive ones
/// wake one at a time in arrival order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitQueue<W = TaskId> {
    /// Boxed and allocated on the first waiter: most sockets never have one, and a socket's
    /// size matters when there are millions.
    #[allow(clippy::box_collection)] // deliberate: 8 bytes inline instead of 32
    entries: Option<Box<VecDeque<(W, bool)>>>,
}

impl<W> Default for WaitQueue<W> {
    fn default() -> Self {
        WaitQueue { entries: None }
    }
}

/// What a waiter did with a wake-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Woken {
    /// It counted as woken (an exclusive waiter that accepts ends the wake-up).
    pub woke: bool,
    /// It stays on the queue (persistent entries such as epoll's; tasks leave when woken).
    pub keep: bool,
}

impl<W: Copy + PartialEq> WaitQueue<W> {
    /// Whether nobody waits.
    pub fn is_empty(&self) -> bool {
        self.entries.as_ref().is_none_or(|e| e.is_empty())
    }

    /// How many waiters there are.
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |e| e.len())
    }

    /// Adds a waiter: exclusive ones at the tail, others at the head.
    pub fn add(&mut self, waiter: W, exclusive: bool) {
        if exclusive {
            self.entries.get_or_insert_default().push_back((waiter, true));
        } else {
            self.entries.get_or_insert_default().push_front((waiter, false));
        }
    }

    /// Removes `waiter` wherever it is.
    pub fn remove(&mut self, waiter: W) {
        if let Some(e) = self.entries.as_mut() {
            e.retain(|&(w, _)| w != waiter);
        }
    }

    /// The waiters from head to tail.
    pub fn waiters(&self) -> impl Iterator<Item = W> + '_ {
        self.entries.iter().flat_map(|e| e.iter()).map(|&(w, _)| w)
    }

    /// Keeps only the waiters for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(W) -> bool) {
        if let Some(e) = self.entries.as_mut() {
            e.retain(|&(w, _)| keep(w));
        }
    }

    /// Whether `waiter` is on the queue.
    pub fn contains(&self, waiter: W) -> bool {
        self.waiters().any(|w| w == waiter)
    }

    /// Wakes waiters from the head, stopping once `nr_exclusive` exclusive waiters woke;
    /// `f` wakes one waiter and says what happened.
    pub fn wake(&mut self, nr_exclusive: usize, mut f: impl FnMut(W) -> Woken) {
        let mut remaining = nr_exclusive;
        let mut i = 0;
        let Some(entries) = self.entries.as_mut() else { return };
        while i < entries.len() && remaining > 0 {
            let (waiter, exclusive) = entries[i];
            let result = f(waiter);
            if result.keep {
                i += 1;
            } else {
                entries.remove(i);
            }
            if result.woke && exclusive {
                remaining -= 1;
            }
        }
    }
}

/// How many exclusive waiters a wake-up releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Every non-exclusive waiter and the first exclusive one (`wake_up`).
    One,
    /// Every waiter (`wake_up_all`).
    All,
}

impl Wake {
    /// The `nr_exclusive` argument of Linux's `__wake_up`.
    pub fn nr_exclusive(self) -> usize {
        match self {
            Wake::One => 1,
            Wake::All => usize::MAX,
        }
    }
}

/// One scheduling choice: at `at`, `options` tasks were runnable and the `chosen`-th (in the
/// order they became runnable) ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// When the choice was made.
    pub at: Instant,
    /// How many tasks were runnable.
    pub options: u32,
    /// Which one ran (0 = the one runnable longest).
    pub chosen: u32,
}

/// Picks which runnable task runs next, and records every choice.
#[derive(Debug)]
pub struct Scheduler {
    runnable: Vec<TaskId>,
    rng: Stream,
    replay: VecDeque<u32>,
    decisions: Vec<Decision>,
}

impl Scheduler {
    /// A scheduler drawing its choices from `rng`.
    pub fn new(rng: Stream) -> Scheduler {
        Scheduler {
            runnable: Vec::new(),
            rng,
            replay: VecDeque::new(),
            decisions: Vec::new(),
        }
    }

    /// Replays these choices (one per decision with more than one option) before drawing
    /// from the stream again. A choice out of range is clamped to the last option.
    pub fn replay(&mut self, choices: impl IntoIterator<Item = u32>) {
        self.replay = choices.into_iter().collect();
    }

    /// Makes `task` runnable (no effect if it already is).
    pub fn make_runnable(&mut self, task: TaskId) {
        if !self.runnable.contains(&task) {
            self.runnable.push(task);
        }
    }

    /// Whether any task can run now.
    pub fn has_runnable(&self) -> bool {
        !self.runnable.is_empty()
    }

    /// Takes `task` off the runnable list (it is about to wait on some queue).
    pub fn park(&mut self, task: TaskId) {
        self.runnable.retain(|&t| t != task);
    }

    /// Parks `task` on `queue`, exclusively or not.
    pub fn block_on(&mut self, task: TaskId, queue: &mut WaitQueue, exclusive: bool) {
        self.park(task);
        queue.add(task, exclusive);
    }

    /// Wakes the tasks of `queue` as `how` says; returns how many were woken.
    pub fn wake(&mut self, queue: &mut WaitQueue, how: Wake) -> usize {
        let mut woken = 0;
        queue.wake(how.nr_exclusive(), |task| {
            self.make_runnable(task);
            woken += 1;
            Woken {
                woke: true,
                keep: false,
            }
        });
        woken
    }

    /// Takes the next task to run, recording the decision when there was a choice.
    pub fn pick(&mut self, now: Instant) -> Option<TaskId> {
        let options = self.runnable.len();
        let index = match options {
            0 => return None,
            1 => 0,
            _ => {
                let chosen = match self.replay.pop_front() {
                    Some(c) => (c as usize).min(options - 1),
                    None => self.rng.below(options as u32) as usize,
                };
                self.decisions.push(Decision {
                    at: now,
                    options: options as u32,
                    chosen: chosen as u32,
                });
                chosen
            }
        };
        Some(self.runnable.remove(index))
    }

    /// Every decision made so far.
    pub fn decisions(&self) -> &[Decision] {
        &self.decisions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Streams;

    fn sched(seed: u64) -> Scheduler {
        Scheduler::new(Streams::new(seed).stream("sched"))
    }

    #[test]
    fn wake_one_releases_waiters_in_arrival_order() {
        let mut s = sched(0);
        let mut q = WaitQueue::default();
        for t in 0..3 {
            s.make_runnable(TaskId(t));
            assert!(s.pick(Instant(0)).is_some());
        }
        for t in 0..3 {
            s.block_on(TaskId(t), &mut q, true);
        }
        assert_eq!(s.wake(&mut q, Wake::One), 1);
        assert_eq!(s.pick(Instant(1)), Some(TaskId(0)));
        assert_eq!(s.wake(&mut q, Wake::All), 2);
        assert!(q.is_empty());
    }

    #[test]
    fn non_exclusive_waiters_all_wake_before_one_exclusive() {
        let mut s = sched(0);
        let mut q = WaitQueue::default();
        s.block_on(TaskId(1), &mut q, true);
        s.block_on(TaskId(2), &mut q, false);
        s.block_on(TaskId(3), &mut q, true);
        s.block_on(TaskId(4), &mut q, false);
        assert_eq!(
            s.wake(&mut q, Wake::One),
            3,
            "both non-exclusive waiters and the first exclusive one"
        );
        let woken: Vec<_> = std::iter::from_fn(|| s.pick(Instant(0))).collect();
        assert_eq!(woken.len(), 3);
        assert!(q.contains(TaskId(3)) && q.len() == 1);
    }

    #[test]
    fn choices_are_recorded_and_replayable() {
        let run = |replay: Option<Vec<u32>>| {
            let mut s = sched(42);
            if let Some(r) = replay {
                s.replay(r);
            }
            for t in 0..5 {
                s.make_runnable(TaskId(t));
            }
            let order: Vec<_> = std::iter::from_fn(|| s.pick(Instant(0))).collect();
            (order, s.decisions().iter().map(|d| d.chosen).collect::<Vec<_>>())
        };
        let (order, choices) = run(None);
        assert_eq!(choices.len(), 4, "the last task is not a choice");
        assert_eq!(run(Some(choices.clone())).0, order);
        let (fifo, _) = run(Some(vec![0; 4]));
        assert_eq!(fifo, (0..5).map(TaskId).collect::<Vec<_>>());
    }

    #[test]
    fn different_seeds_give_different_orders() {
        let order = |seed| {
            let mut s = sched(seed);
            for t in 0..8 {
                s.make_runnable(TaskId(t));
            }
            std::iter::from_fn(|| s.pick(Instant(0))).collect::<Vec<_>>()
        };
        assert_eq!(order(1), order(1));
        assert!((2..10).any(|seed| order(seed) != order(1)));
    }
}
