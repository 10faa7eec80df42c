//! epoll: interest lists, ready lists, and how socket wake-ups reach them
//! (`fs/eventpoll.c`).
//!
//! An epoll instance watches (descriptor, socket) pairs. Each watched socket carries a
//! persistent entry for the instance on its wait queue — exclusive with `EPOLLEXCLUSIVE`,
//! otherwise not — so a socket's wake-up reaches every non-exclusive instance, but only one
//! exclusive one (`ep_poll_callback`). Readiness is re-checked when `epoll_wait` collects
//! events (`ep_item_poll`); level-triggered entries stay on the ready list.
//!
//! An epoll instance may watch another one (nested epoll): the inner instance is readable
//! (`EPOLLIN`) while one of its ready entries really is ready (`ep_eventpoll_poll`), and an
//! event that reaches it is passed on to the instances watching it (`ep_poll_safewake`).
//! Adding an instance that would close a cycle, or make a chain deeper than
//! `EPOLL_MAX_NESTS`, fails with `ELOOP` (`ep_loop_check`).

use crate::socket::SocketId;
use crate::syscall::Fd;
use sim_core::WaitQueue;
use std::collections::{BTreeMap, VecDeque};

/// `EPOLLIN` (`include/uapi/linux/eventpoll.h`).
pub const EPOLLIN: u32 = 0x001;
/// `EPOLLPRI`.
pub const EPOLLPRI: u32 = 0x002;
/// `EPOLLOUT`.
pub const EPOLLOUT: u32 = 0x004;
/// `EPOLLERR`.
pub const EPOLLERR: u32 = 0x008;
/// `EPOLLHUP`.
pub const EPOLLHUP: u32 = 0x010;
/// `EPOLLRDHUP`.
pub const EPOLLRDHUP: u32 = 0x2000;
/// `EPOLLEXCLUSIVE`.
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
/// `EPOLLONESHOT`.
pub const EPOLLONESHOT: u32 = 1 << 30;
/// `EPOLLET`.
pub const EPOLLET: u32 = 1 << 31;
/// `EPOLL_CTL_ADD`.
pub const EPOLL_CTL_ADD: i32 = 1;
/// `EPOLL_CTL_DEL`.
pub const EPOLL_CTL_DEL: i32 = 2;
/// `EPOLL_CTL_MOD`.
pub const EPOLL_CTL_MOD: i32 = 3;

/// Event bits with their names, for traces.
pub const EVENT_NAMES: &[(u32, &str)] = &[
    (EPOLLIN, "EPOLLIN"),
    (EPOLLPRI, "EPOLLPRI"),
    (EPOLLOUT, "EPOLLOUT"),
    (EPOLLERR, "EPOLLERR"),
    (EPOLLHUP, "EPOLLHUP"),
    (EPOLLRDHUP, "EPOLLRDHUP"),
    (EPOLLEXCLUSIVE, "EPOLLEXCLUSIVE"),
    (EPOLLONESHOT, "EPOLLONESHOT"),
    (EPOLLET, "EPOLLET"),
];

/// What an epoll instance watches: an internet socket or a Unix-domain socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Watched {
    /// An internet socket.
    Inet(SocketId),
    /// A Unix-domain socket.
    Unix(crate::unix::UnixId),
    /// Another epoll instance.
    Epoll(EpollId),
}

/// Index of an epoll instance in the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpollId(pub u32);

/// One watched descriptor (`struct epitem`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interest {
    /// The requested events, with the flags (`EPOLLET`, `EPOLLEXCLUSIVE`, ...).
    pub events: u32,
    /// On the ready list now.
    pub ready: bool,
    /// Disarmed by `EPOLLONESHOT` until the next `EPOLL_CTL_MOD`.
    pub disarmed: bool,
}

/// One epoll instance (`struct eventpoll`).
#[derive(Debug, Default)]
pub struct Epoll {
    /// Watched (descriptor, socket) pairs.
    pub interest: BTreeMap<(Fd, Watched), Interest>,
    /// Entries that may be ready, in the order they became so (`rdllist`).
    pub ready: VecDeque<(Fd, Watched)>,
    /// Tasks blocked in `epoll_wait` (exclusive waits: one wakes per event, `ep_poll`).
    pub wait: WaitQueue,
    /// The epoll instances watching this one (`poll_wait`).
    pub poll_wait: WaitQueue<Waiter>,
    /// Descriptors referring to the instance.
    pub refs: u32,
    /// `O_NONBLOCK` as set with `fcntl(F_SETFL)` on the instance's open file.
    pub status_flags: i64,
}

/// A waiter on a socket's wait queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiter {
    /// A task blocked in a call on the socket.
    Task(sim_core::TaskId),
    /// An epoll instance's persistent entry for the socket, watched as descriptor `Fd`.
    Epoll(EpollId, Fd),
}

/// Names of the bits set in `events` (`EPOLLIN|EPOLLOUT`), or `0`.
pub fn event_names(events: u32) -> String {
    let mut names: Vec<&str> = EVENT_NAMES
        .iter()
        .filter(|(bit, _)| events & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    let known = EVENT_NAMES.iter().fold(0, |acc, (bit, _)| acc | bit);
    let rest = events & !known;
    let rest_text = format!("{rest:#x}");
    if rest != 0 {
        names.push(&rest_text);
    }
    if names.is_empty() {
        "0".to_string()
    } else {
        names.join("|")
    }
}

use crate::errno::Errno;
use crate::process::{BlockedOn, Desc, Pid};
use crate::syscall::SysReturn;
use crate::syscalls::Step;
use crate::world::{Pending, World};
use sim_core::{Duration, Wake, Woken};

/// `EPOLL_CLOEXEC` (= `O_CLOEXEC`).
pub const EPOLL_CLOEXEC: i32 = 0o2000000;

/// How deep epoll instances may nest (`EPOLL_MAX_NESTS`).
const EPOLL_MAX_NESTS: usize = 4;

/// `EPOLLRDNORM`: what a ready epoll instance reports besides `EPOLLIN` (`ep_eventpoll_poll`).
const EPOLLRDNORM: u32 = 0x040;

/// Bits `EPOLLEXCLUSIVE` may be combined with (`EPOLLEXCLUSIVE_OK_BITS`).
const EXCLUSIVE_OK: u32 =
    EPOLLIN | EPOLLOUT | 0x040 | 0x100 | EPOLLERR | EPOLLHUP | (1 << 29) | EPOLLET | EPOLLEXCLUSIVE;

impl World {
    /// `epoll_create1()`.
    pub(crate) fn sys_epoll_create1(&mut self, pid: Pid, flags: i32) -> Result<SysReturn, Errno> {
        if flags & !EPOLL_CLOEXEC != 0 {
            return Err(Errno::EINVAL);
        }
        self.fd_available(pid)?;
        let id = EpollId(self.epolls.len() as u32);
        self.epolls.push(Some(Epoll {
            refs: 1,
            ..Default::default()
        }));
        let fd = self.process_mut(pid).fds.install(Desc::Epoll(id));
        Ok(SysReturn::Value { value: i64::from(fd) })
    }

    /// `epoll_ctl()` (`do_epoll_ctl`), with Linux's order of checks.
    pub(crate) fn sys_epoll_ctl(
        &mut self,
        pid: Pid,
        epfd: Fd,
        op: i32,
        fd: Fd,
        events: u32,
    ) -> Result<SysReturn, Errno> {
        let fds = &self.process(pid).fds;
        let ep_desc = fds.get(epfd).ok_or(Errno::EBADF)?;
        let target = fds.get(fd).ok_or(Errno::EBADF)?;
        // Deviation: standard streams are not simulated files (EPERM, as for a file that
        // cannot be polled).
        let sock = match target {
            Desc::Socket(s) => Watched::Inet(s),
            Desc::Unix(u) => Watched::Unix(u),
            Desc::Stdio => return Err(Errno::EPERM),
            Desc::Epoll(inner) => Watched::Epoll(inner),
        };
        // do_epoll_ctl(): the first descriptor must be an epoll instance, and not the file
        // being added (a duplicate of it counts as the same file).
        let Desc::Epoll(ep) = ep_desc else {
            return Err(Errno::EINVAL);
        };
        if sock == Watched::Epoll(ep) {
            return Err(Errno::EINVAL);
        }
        let has_event = op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD;
        let exclusive_ok = op == EPOLL_CTL_ADD && events & !EXCLUSIVE_OK == 0 && !matches!(sock, Watched::Epoll(_));
        if has_event && events & EPOLLEXCLUSIVE != 0 && !exclusive_ok {
            return Err(Errno::EINVAL);
        }
        // ep_loop_check(), before the interest list is searched: no cycles, no chain deeper
        // than EPOLL_MAX_NESTS.
        if let (EPOLL_CTL_ADD, Watched::Epoll(inner)) = (op, sock)
            && !self.epoll_nesting_allowed(ep, inner)
        {
            return Err(Errno::ELOOP);
        }
        // ep_insert()/ep_modify(): EPOLLERR and EPOLLHUP are always reported.
        let wanted = events | EPOLLERR | EPOLLHUP;
        let key = (fd, sock);
        let existing = self.epoll(ep).interest.get(&key).copied();
        match (op, existing) {
            (EPOLL_CTL_ADD, Some(_)) => Err(Errno::EEXIST),
            (EPOLL_CTL_ADD, None) => {
                self.epoll_mut(ep).interest.insert(
                    key,
                    Interest {
                        events: wanted,
                        ready: false,
                        disarmed: false,
                    },
                );
                let exclusive = events & EPOLLEXCLUSIVE != 0;
                self.watched_wait(sock)
                    .expect("an open descriptor's socket")
                    .add(Waiter::Epoll(ep, fd), exclusive);
                self.epoll_poll_now(ep, key);
                Ok(SysReturn::Value { value: 0 })
            }
            (EPOLL_CTL_DEL, None) | (EPOLL_CTL_MOD, None) => Err(Errno::ENOENT),
            (EPOLL_CTL_DEL, Some(_)) => {
                self.epoll_remove(ep, key);
                Ok(SysReturn::Value { value: 0 })
            }
            (EPOLL_CTL_MOD, Some(old)) => {
                if old.events & EPOLLEXCLUSIVE != 0 {
                    return Err(Errno::EINVAL);
                }
                let item = self.epoll_mut(ep).interest.get_mut(&key).expect("checked above");
                item.events = wanted;
                item.disarmed = false;
                self.epoll_poll_now(ep, key);
                Ok(SysReturn::Value { value: 0 })
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// After ADD or MOD: if the socket is ready already, queue it and wake a waiter.
    fn epoll_poll_now(&mut self, ep: EpollId, key: (Fd, Watched)) {
        let mask = self.watched_poll(key.1);
        let e = self.epoll_mut(ep);
        let item = e.interest.get_mut(&key).expect("just inserted");
        if mask & item.events != 0 && !item.ready {
            item.ready = true;
            e.ready.push_back(key);
            self.sched
                .wake(&mut self.epolls[ep.0 as usize].as_mut().expect("live").wait, Wake::One);
            self.epoll_wake_watchers(ep);
        }
    }

    /// `ep_poll_safewake()`: an event reached `ep`, so the epoll instances watching it hear
    /// that it is readable.
    fn epoll_wake_watchers(&mut self, ep: EpollId) {
        self.wake_watched(Watched::Epoll(ep), Wake::One, EPOLLIN);
    }

    /// Wakes the wait queue of a socket or epoll instance with the poll events `mask` (0:
    /// unspecified; `__wake_up` with a key): blocked tasks become runnable, and the epoll
    /// instances watching it get the event (`ep_poll_callback`). `how` says how many
    /// exclusive waiters may wake.
    pub(crate) fn wake_watched(&mut self, watched: Watched, how: Wake, mask: u32) {
        let Some(queue) = self.watched_wait(watched) else {
            return;
        };
        if queue.is_empty() {
            return;
        }
        let mut queue = std::mem::take(queue);
        queue.wake(how.nr_exclusive(), |waiter| match waiter {
            Waiter::Task(t) => {
                self.sched.make_runnable(t);
                Woken {
                    woke: true,
                    keep: false,
                }
            }
            Waiter::Epoll(ep, fd) => self.ep_poll_callback(ep, fd, watched, mask),
        });
        *self.watched_wait(watched).expect("waking does not free what it wakes") = queue;
    }

    /// `ep_loop_check()`: whether `ep` may watch `inner` — `ep` is not reachable from `inner`
    /// (a cycle), and the longest chain through the new link (the instances above `ep`, the
    /// link, the instances below `inner`) stays within `EPOLL_MAX_NESTS`.
    fn epoll_nesting_allowed(&self, ep: EpollId, inner: EpollId) -> bool {
        let Some(below) = self.epoll_depth_below(inner, ep, 0) else {
            return false;
        };
        below + 1 + self.epoll_depth_above(ep, 0) <= EPOLL_MAX_NESTS
    }

    /// `ep_loop_check_proc()`: how many epoll levels hang below `ep` (0 when it watches no
    /// epoll instance), or `None` when `target` is among them or they go deeper than
    /// `EPOLL_MAX_NESTS`.
    fn epoll_depth_below(&self, ep: EpollId, target: EpollId, depth: usize) -> Option<usize> {
        if depth > EPOLL_MAX_NESTS {
            return None;
        }
        let mut deepest = 0;
        for &(_, watched) in self.epoll(ep).interest.keys() {
            if let Watched::Epoll(child) = watched {
                if child == target {
                    return None;
                }
                deepest = deepest.max(1 + self.epoll_depth_below(child, target, depth + 1)?);
            }
        }
        Some(deepest)
    }

    /// `ep_get_upwards_depth_proc()`: how many epoll levels watch `ep` from above.
    fn epoll_depth_above(&self, ep: EpollId, depth: usize) -> usize {
        if depth > EPOLL_MAX_NESTS {
            return depth;
        }
        self.epoll(ep)
            .poll_wait
            .waiters()
            .filter_map(|w| match w {
                Waiter::Epoll(outer, _) => Some(1 + self.epoll_depth_above(outer, depth + 1)),
                Waiter::Task(_) => None,
            })
            .max()
            .unwrap_or(0)
    }

    fn epoll_remove(&mut self, ep: EpollId, key: (Fd, Watched)) {
        let e = self.epoll_mut(ep);
        e.interest.remove(&key);
        e.ready.retain(|&k| k != key);
        if let Some(queue) = self.watched_wait(key.1) {
            queue.remove(Waiter::Epoll(ep, key.0));
        }
    }

    /// The wait queue of a watched socket, if the socket still exists.
    pub(crate) fn watched_wait(&mut self, w: Watched) -> Option<&mut WaitQueue<Waiter>> {
        match w {
            Watched::Inet(s) => {
                self.sockets.try_get(s)?;
                Some(&mut self.sockets.get_mut(s).wait)
            }
            Watched::Unix(u) => self.unix.try_get_mut(u).map(|s| &mut s.wait),
            Watched::Epoll(e) => self.epolls[e.0 as usize].as_mut().map(|e| &mut e.poll_wait),
        }
    }

    /// The events a watched socket is ready for now (`vfs_poll`).
    fn watched_poll(&self, w: Watched) -> u32 {
        match w {
            Watched::Inet(s) => self.sock_poll(s),
            Watched::Unix(u) => self.unix_poll(u),
            Watched::Epoll(e) => self.epoll_poll(e),
        }
    }

    /// `ep_eventpoll_poll()`: an epoll instance is readable while one of the entries on its
    /// ready list is ready for what it watches.
    fn epoll_poll(&self, ep: EpollId) -> u32 {
        let e = self.epoll(ep);
        let ready = e.ready.iter().any(|key| {
            e.interest
                .get(key)
                .is_some_and(|item| !item.disarmed && self.watched_poll(key.1) & item.events != 0)
        });
        if ready { EPOLLIN | EPOLLRDNORM } else { 0 }
    }

    /// The socket's last descriptor closed: drop it from every epoll watching it.
    pub(crate) fn epoll_forget_socket(&mut self, sock: SocketId) {
        self.epoll_forget(Watched::Inet(sock));
    }

    /// `eventpoll_release()`: the file's last reference is gone; every epoll forgets it.
    pub(crate) fn epoll_forget(&mut self, sock: Watched) {
        let Some(queue) = self.watched_wait(sock) else { return };
        let watchers: Vec<(EpollId, Fd)> = queue
            .waiters()
            .filter_map(|w| match w {
                Waiter::Epoll(ep, fd) => Some((ep, fd)),
                Waiter::Task(_) => None,
            })
            .collect();
        queue.retain(|w| matches!(w, Waiter::Task(_)));
        for (ep, fd) in watchers {
            let e = self.epoll_mut(ep);
            e.interest.remove(&(fd, sock));
            e.ready.retain(|&k| k != (fd, sock));
        }
    }

    /// The epoll's last descriptor closed: every epoll watching it forgets it, and it is
    /// detached from every socket (or epoll) it watched.
    pub(crate) fn epoll_free(&mut self, ep: EpollId) {
        self.epoll_forget(Watched::Epoll(ep));
        let e = self.epolls[ep.0 as usize].take().expect("live epoll");
        for &(fd, sock) in e.interest.keys() {
            if let Some(queue) = self.watched_wait(sock) {
                queue.remove(Waiter::Epoll(ep, fd));
            }
        }
    }

    /// `ep_poll_callback()`: a watched socket woke with events `mask` (0: unspecified).
    pub(crate) fn ep_poll_callback(&mut self, ep: EpollId, fd: Fd, sock: Watched, mask: u32) -> Woken {
        let e = self.epolls[ep.0 as usize].as_mut().expect("a watching epoll is alive");
        let Some(item) = e.interest.get_mut(&(fd, sock)) else {
            return Woken {
                woke: false,
                keep: false,
            };
        };
        if item.disarmed || (mask != 0 && mask & item.events == 0) {
            return Woken {
                woke: false,
                keep: true,
            };
        }
        if !item.ready {
            item.ready = true;
            e.ready.push_back((fd, sock));
        }
        let exclusive = item.events & EPOLLEXCLUSIVE != 0;
        let mut woke = !exclusive;
        if !e.wait.is_empty() {
            if exclusive {
                woke = match mask & (EPOLLIN | EPOLLOUT) {
                    EPOLLIN => item.events & EPOLLIN != 0,
                    EPOLLOUT => item.events & EPOLLOUT != 0,
                    0 => true,
                    _ => false,
                };
            }
            self.sched.wake(&mut e.wait, Wake::One);
        }
        self.epoll_wake_watchers(ep);
        Woken { woke, keep: true }
    }

    /// `epoll_wait()` (`do_epoll_wait`, `ep_poll`, `ep_send_events`).
    pub(crate) fn sys_epoll_wait(
        &mut self,
        pid: Pid,
        epfd: Fd,
        maxevents: i32,
        timeout_ms: i64,
        resumed: bool,
    ) -> Step {
        if maxevents <= 0 {
            return Step::Done(Err(Errno::EINVAL));
        }
        let ep = match self.process(pid).fds.get(epfd) {
            None => return Step::Done(Err(Errno::EBADF)),
            Some(Desc::Epoll(ep)) => ep,
            Some(_) => return Step::Done(Err(Errno::EINVAL)),
        };
        let events = self.epoll_collect(ep, maxevents as usize);
        if !events.is_empty() || timeout_ms == 0 || self.process(pid).timed_out {
            return Step::Done(Ok(SysReturn::Events { events }));
        }
        if !resumed && timeout_ms > 0 {
            let deadline = self.now.after(Duration::from_millis(timeout_ms as u64));
            self.process_mut(pid).deadline = Some(deadline);
            self.events.push(deadline, Pending::Timeout(pid, deadline));
        }
        Step::Block(BlockedOn::Epoll(ep), true)
    }

    /// Takes up to `max` ready events, re-checking each socket (`ep_item_poll`);
    /// level-triggered entries go back on the ready list.
    fn epoll_collect(&mut self, ep: EpollId, max: usize) -> Vec<(Fd, u32)> {
        let mut out = Vec::new();
        let mut requeue = Vec::new();
        let pending = self.epoll(ep).ready.len();
        for _ in 0..pending {
            if out.len() == max {
                break;
            }
            let Some(key) = self.epoll_mut(ep).ready.pop_front() else {
                break;
            };
            let mask = self.watched_poll(key.1);
            let e = self.epoll_mut(ep);
            let Some(item) = e.interest.get_mut(&key) else { continue };
            let revents = mask & item.events;
            if revents == 0 || item.disarmed {
                item.ready = false;
                continue;
            }
            out.push((key.0, revents & !(EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE)));
            if item.events & EPOLLONESHOT != 0 {
                item.disarmed = true;
                item.ready = false;
            } else if item.events & EPOLLET != 0 {
                item.ready = false;
            } else {
                requeue.push(key);
            }
        }
        self.epoll_mut(ep).ready.extend(requeue);
        out
    }
}
