//! Processes and their descriptor tables.

use crate::epoll::EpollId;
use crate::host::HostId;
use crate::socket::SocketId;
use crate::syscall::{Fd, Syscall};
use std::collections::BTreeSet;

/// A process id. Pids are handed out from 1 upwards across the whole world, in creation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(pub u32);

/// What a descriptor refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Desc {
    /// Standard input, output or error (descriptors 0, 1, 2): not sockets.
    Stdio,
    /// A socket.
    Socket(SocketId),
    /// An epoll instance.
    Epoll(EpollId),
    /// A Unix-domain socket.
    Unix(crate::unix::UnixId),
}

/// What a blocked process waits on (so a timeout can take it off the queue).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockedOn {
    /// A socket's wait queue.
    Socket(SocketId),
    /// An epoll instance's wait queue.
    Epoll(EpollId),
    /// A Unix-domain socket's wait queue (`sk_sleep`: readers, `accept`).
    Unix(crate::unix::UnixId),
    /// A Unix-domain socket's `peer_wait` queue: connectors waiting for backlog room and
    /// datagram senders waiting for room in its receive queue (`unix_wait_for_peer`).
    UnixPeer(crate::unix::UnixId),
}

/// A process's credentials (`struct cred`): its user and group ids and file-creation mask.
/// socksim has no set-user-id programs, so the real, effective and filesystem ids are one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cred {
    /// User id (0 is root, who passes every permission check: `CAP_DAC_OVERRIDE`).
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// `umask(2)`: permission bits cleared from new files (022, the usual default).
    pub umask: u32,
}

impl Cred {
    /// root, umask 022.
    pub const ROOT: Cred = Cred {
        uid: 0,
        gid: 0,
        umask: 0o022,
    };
}

/// A descriptor table: the lowest free number is always handed out first (POSIX, `open(2)`;
/// `alloc_fd()` in `fs/file.c`).
#[derive(Clone, Debug)]
pub struct FdTable {
    slots: Vec<Option<Desc>>,
    free: BTreeSet<Fd>,
}

impl Default for FdTable {
    fn default() -> Self {
        FdTable {
            slots: vec![Some(Desc::Stdio); 3],
            free: BTreeSet::new(),
        }
    }
}

impl FdTable {
    /// Installs `desc` at the lowest free number.
    pub fn install(&mut self, desc: Desc) -> Fd {
        match self.free.pop_first() {
            Some(fd) => {
                self.slots[fd as usize] = Some(desc);
                fd
            }
            None => {
                self.slots.push(Some(desc));
                (self.slots.len() - 1) as Fd
            }
        }
    }

    /// Installs `desc` at exactly `fd` (`dup2`), which must be free.
    pub fn install_at(&mut self, fd: Fd, desc: Desc) {
        let i = usize::try_from(fd).expect("a non-negative descriptor");
        debug_assert!(self.get(fd).is_none(), "install_at on an open descriptor");
        while self.slots.len() <= i {
            self.free.insert(self.slots.len() as Fd);
            self.slots.push(None);
        }
        self.free.remove(&fd);
        self.slots[i] = Some(desc);
    }

    /// The number [`FdTable::install`] would hand out next (`get_unused_fd_flags`).
    pub fn next_fd(&self) -> Fd {
        self.free.first().copied().unwrap_or(self.slots.len() as Fd)
    }

    /// What `fd` refers to.
    pub fn get(&self, fd: Fd) -> Option<Desc> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i).copied().flatten())
    }

    /// Removes `fd`, returning what it referred to.
    pub fn remove(&mut self, fd: Fd) -> Option<Desc> {
        let i = usize::try_from(fd).ok()?;
        let desc = self.slots.get_mut(i)?.take()?;
        if i + 1 == self.slots.len() {
            self.slots.pop();
            // Trim trailing holes so `free` only holds numbers below the table's end.
            while matches!(self.slots.last(), Some(None)) {
                self.slots.pop();
                self.free.remove(&(self.slots.len() as Fd));
            }
        } else {
            self.free.insert(fd);
        }
        Some(desc)
    }

    /// Every open descriptor, in numeric order.
    pub fn iter(&self) -> impl Iterator<Item = (Fd, Desc)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.map(|d| (i as Fd, d)))
    }

    /// How many descriptors are open.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Whether no descriptor is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `RLIMIT_NOFILE` (`include/uapi/asm-generic/resource.h`).
pub const RLIMIT_NOFILE: i32 = 7;

/// `fs.nr_open`: the ceiling for `RLIMIT_NOFILE` (`sysctl_nr_open`, 1024 * 1024).
pub const NR_OPEN: u64 = 1 << 20;

/// A resource limit: soft and hard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    /// The limit enforced.
    pub soft: u64,
    /// The ceiling an unprivileged process may raise `soft` to.
    pub hard: u64,
}

impl Rlimit {
    /// `RLIMIT_NOFILE` as a systemd-started process gets it: soft 1024 (`INR_OPEN_CUR`),
    /// hard 524288 (systemd's default since v240).
    pub const NOFILE_DEFAULT: Rlimit = Rlimit {
        soft: 1024,
        hard: 524_288,
    };
}

/// One simulated process.
#[derive(Clone, Debug)]
pub struct Process {
    /// Its pid.
    pub pid: Pid,
    /// The host it runs on.
    pub host: HostId,
    /// Its name (for the trace).
    pub name: String,
    /// Open descriptors.
    pub fds: FdTable,
    /// User, group and umask (root unless the scenario says `as USER`).
    pub cred: Cred,
    /// `RLIMIT_NOFILE`: descriptors must stay below `soft`.
    pub nofile: Rlimit,
    /// The call it waits in, if blocked.
    pub blocked_in: Option<Syscall>,
    /// The queue it waits on, if blocked.
    pub blocked_on: Option<BlockedOn>,
    /// When the blocked call times out (`epoll_wait` with a timeout).
    pub deadline: Option<sim_core::Instant>,
    /// The deadline passed while it waited.
    pub timed_out: bool,
    /// Whether it has exited.
    pub exited: bool,
}

impl crate::world::World {
    /// `dup()` (`ksys_dup` in `fs/file.c`): the lowest free number now refers to the same open
    /// file; `EBADF` for a closed descriptor, `EMFILE` when no number below `RLIMIT_NOFILE`
    /// is free.
    pub(crate) fn sys_dup(&mut self, pid: Pid, fd: Fd) -> Result<crate::syscall::SysReturn, crate::Errno> {
        let desc = self.process(pid).fds.get(fd).ok_or(crate::Errno::EBADF)?;
        self.fd_available(pid)?;
        self.desc_ref(desc);
        let new = self.process_mut(pid).fds.install(desc);
        Ok(crate::syscall::SysReturn::Value { value: i64::from(new) })
    }

    /// `dup2()` (`SYSCALL_DEFINE2(dup2)`, `ksys_dup3`, `do_dup2`): the same number is returned
    /// as is if open; a `newfd` at or above `RLIMIT_NOFILE` (or negative) is `EBADF`, then a
    /// closed `oldfd` is `EBADF`; whatever `newfd` referred to is closed silently.
    pub(crate) fn sys_dup2(
        &mut self,
        pid: Pid,
        oldfd: Fd,
        newfd: Fd,
    ) -> Result<crate::syscall::SysReturn, crate::Errno> {
        let p = self.process(pid);
        if oldfd == newfd {
            p.fds.get(oldfd).ok_or(crate::Errno::EBADF)?;
            return Ok(crate::syscall::SysReturn::Value {
                value: i64::from(newfd),
            });
        }
        if newfd < 0 || u64::from(newfd.unsigned_abs()) >= p.nofile.soft {
            return Err(crate::Errno::EBADF);
        }
        let desc = p.fds.get(oldfd).ok_or(crate::Errno::EBADF)?;
        self.desc_ref(desc);
        if self.process(pid).fds.get(newfd).is_some() {
            self.close_fd(pid, newfd);
        }
        self.process_mut(pid).fds.install_at(newfd, desc);
        Ok(crate::syscall::SysReturn::Value {
            value: i64::from(newfd),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_free_descriptor_first() {
        let mut t = FdTable::default();
        let s = |n| Desc::Socket(SocketId(n));
        assert_eq!(t.install(s(0)), 3);
        assert_eq!(t.install(s(1)), 4);
        assert_eq!(t.install(s(2)), 5);
        assert_eq!(t.remove(4), Some(s(1)));
        assert_eq!(t.install(s(3)), 4);
        assert_eq!(t.remove(5), Some(s(2)));
        assert_eq!(t.remove(4), Some(s(3)));
        assert_eq!(t.install(s(4)), 4);
        assert_eq!(t.remove(9), None);
        assert_eq!(t.get(0), Some(Desc::Stdio));
        assert_eq!(t.len(), 5);
    }

    #[test]
    fn install_at_leaves_the_gap_free() {
        let mut t = FdTable::default();
        let s = |n| Desc::Socket(SocketId(n));
        t.install_at(7, s(0));
        assert_eq!(t.get(7), Some(s(0)));
        assert_eq!(t.install(s(1)), 3);
        assert_eq!(t.len(), 5);
        t.install_at(4, s(2));
        assert_eq!(t.install(s(3)), 5);
        assert_eq!(t.remove(7), Some(s(0)));
        assert_eq!(t.install(s(4)), 6);
        assert_eq!(t.install(s(5)), 7);
    }
}
