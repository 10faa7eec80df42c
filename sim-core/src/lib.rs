//! # sim-core: the deterministic machinery under socksim
//!
//! This crate knows nothing about networks. It provides what any deterministic simulation
//! needs, and nothing else:
//!
//! * [`time`]: virtual time as `u64` nanoseconds ([`Instant`], [`Duration`]). There is no wall
//!   clock anywhere in a run.
//! * [`event`]: a queue of future events ordered by `(time, sequence)`, so simultaneous events
//!   fire in the order they were scheduled.
//! * [`rng`]: named random streams derived from the run's seed ([`Streams`]): each component
//!   draws from its own ChaCha stream, so adding a draw in one place never shifts another's.
//! * [`sched`]: a scheduler of simulated tasks with wait queues; when several tasks can run at
//!   the same instant the choice is drawn from a seeded stream and recorded as a decision, so a
//!   run can be replayed exactly from its decision list.
//! * [`trace`]: typed trace records pushed to a sink; rendering happens elsewhere.
//! * [`probe_map`]: a hash map that can be probed but never iterated, the only hash map the
//!   simulator crates may use (iteration order must never reach a trace).
#![forbid(unsafe_code)]

pub mod event;
pub mod probe_map;
pub mod rng;
pub mod sched;
pub mod time;
pub mod trace;

pub use event::EventQueue;
pub use probe_map::ProbeMap;
pub use rng::{Streams, mix64};
pub use sched::{Decision, Scheduler, TaskId, WaitQueue, Wake, Woken};
pub use time::{Duration, Instant};
pub use trace::{NullSink, Record, TraceSink, VecSink};
