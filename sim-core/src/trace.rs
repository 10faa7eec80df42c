//! Typed trace records and the sinks that receive them.
//!
//! The simulation pushes [`Record`]s of its own event type into a [`TraceSink`]; renderers turn
//! them into text, JSON or captures later. A sink reports whether it wants events at all, so
//! producers can skip building them when tracing is off.

use crate::time::Instant;
use serde::{Deserialize, Serialize};

/// One trace event with the virtual time it happened at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record<E> {
    /// When.
    pub at: Instant,
    /// What.
    pub event: E,
}

/// Receives trace events.
pub trait TraceSink<E> {
    /// Whether events are wanted; when `false`, producers may skip building them.
    fn enabled(&self) -> bool {
        true
    }
    /// Receives one event.
    fn record(&mut self, at: Instant, event: E);
}

/// Keeps every event, in order.
#[derive(Debug)]
pub struct VecSink<E> {
    /// The events received so far.
    pub records: Vec<Record<E>>,
}

impl<E> Default for VecSink<E> {
    fn default() -> Self {
        VecSink { records: Vec::new() }
    }
}

impl<E> TraceSink<E> for VecSink<E> {
    fn record(&mut self, at: Instant, event: E) {
        self.records.push(Record { at, event });
    }
}

/// Discards everything (tracing off).
#[derive(Clone, Copy, Debug, Default)]
pub struct NullSink;

impl<E> TraceSink<E> for NullSink {
    fn enabled(&self) -> bool {
        false
    }
    fn record(&mut self, _at: Instant, _event: E) {}
}
