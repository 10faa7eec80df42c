//! # sim-kernel: the simulated Linux socket layer
//!
//! A [`World`] holds hosts (each one network namespace), the networks that join them, the
//! processes running on them, and their sockets. Processes make system calls
//! ([`World::syscall`]) that behave as Linux's do — the same return values, the same errno, the
//! same order of checks, the same port choices — and segments travel between hosts through the
//! world's event queue with each network's latency.
//!
//! Every rule that mirrors Linux names its source next to the code (a kernel function, or a
//! man page). Deliberate deviations are written down there too.
//!
//! What this crate is not: it does not parse scenarios (that is the `socksim` crate) and it
//! does not render traces; it emits typed [`trace::Event`]s.
#![forbid(unsafe_code)]

pub mod addr;
pub mod epoll;
pub mod errno;
pub mod host;
mod icmp;
pub mod invariants;
pub mod link;
pub mod netfilter;
pub mod network;
pub mod packet;
pub mod ports;
pub mod process;
pub mod retransmit;
pub mod route;
pub mod socket;
pub mod ss;
pub mod syscall;
pub mod syscalls;
pub mod sysctl;
mod tcp;
pub mod trace;
pub mod udp;
pub mod unix;
pub mod world;

pub use errno::Errno;
pub use host::HostId;
pub use network::NetId;
pub use process::Pid;
pub use syscall::{Outcome, Payload, SysReturn, Syscall};
pub use world::{Next, SetupError, World};
