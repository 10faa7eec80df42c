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

/// Tasks waiting for something, in arrival order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WaitQueue {
    waiters: VecDeque<TaskId>,
}

impl WaitQueue {
    /// Whether nobody waits.
    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }
    /// How many tasks wait.
    pub fn len(&self) -> usize {
        self.waiters.len()
    }
    /// Removes `task` if it waits here (used when a task gives up waiting).
    pub fn remove(&mut self, task: TaskId) {
        self.waiters.retain(|&t| t != task);
    }
}

/// How many waiters a wake-up releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The first waiter only (an exclusive wait, `prepare_to_wait_exclusive`).
    One,
    /// Every waiter.
    All,
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

    /// Parks `task` on `queue`.
    pub fn block_on(&mut self, task: TaskId, queue: &mut WaitQueue) {
        self.runnable.retain(|&t| t != task);
        queue.waiters.push_back(task);
    }

    /// Wakes waiters of `queue`; returns how many were woken.
    pub fn wake(&mut self, queue: &mut WaitQueue, how: Wake) -> usize {
        let n = match how {
            Wake::One => usize::from(!queue.waiters.is_empty()),
            Wake::All => queue.waiters.len(),
        };
        for task in queue.waiters.drain(..n) {
            self.make_runnable(task);
        }
        n
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
            s.block_on(TaskId(t), &mut q);
        }
        assert_eq!(s.wake(&mut q, Wake::One), 1);
        assert_eq!(s.pick(Instant(1)), Some(TaskId(0)));
        assert_eq!(s.wake(&mut q, Wake::All), 2);
        assert!(q.is_empty());
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
