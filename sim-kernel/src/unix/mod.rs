//! Unix-domain sockets (`net/unix/af_unix.c`, `unix(7)`): the per-host namespace of path and
//! abstract names, stream, datagram and seqpacket sockets, socket pairs, descriptor passing and
//! credentials.
//!
//! This module owns everything Unix-specific; the rest of the kernel reaches it through the
//! hooks below (`unix_socket`, `unix_dispatch`, `unix_ref`, `unix_release`, `unix_poll`).

use crate::errno::Errno;
use crate::process::Pid;
use crate::syscall::{SysReturn, Syscall};
use crate::syscalls::Step;
use crate::world::World;

/// Index of a Unix-domain socket in the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixId(pub u32);

impl World {
    /// `socket(AF_UNIX, ty, protocol)` (`unix_create`).
    pub(crate) fn unix_socket(&mut self, _pid: Pid, _ty: i32, _protocol: i32) -> Result<SysReturn, Errno> {
        // Not simulated yet: the checker refuses AF_UNIX before a run starts.
        Err(Errno::EAFNOSUPPORT)
    }

    /// A call on a Unix-domain socket descriptor.
    pub(crate) fn unix_dispatch(&mut self, _pid: Pid, _sock: UnixId, _call: &Syscall, _resumed: bool) -> Step {
        Step::Done(Err(Errno::EOPNOTSUPP))
    }

    /// Another descriptor now refers to the socket (`fork`, `dup`, `SCM_RIGHTS`).
    pub(crate) fn unix_ref(&mut self, _sock: UnixId) {}

    /// A descriptor referring to the socket was closed.
    pub(crate) fn unix_release(&mut self, _sock: UnixId) {}
}
