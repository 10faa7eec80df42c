//! The simulation core.
