//! The simulated kernel.
#![forbid(unsafe_code)]
pub mod errno;
pub use errno::Errno;
