//! Unix-domain sockets (`net/unix/af_unix.c`, `unix(7)`): the per-host namespace of path and
//! abstract names, stream, datagram and seqpacket sockets, socket pairs, descriptor passing and
//! credentials.
//!
//! This module owns everything Unix-specific; the rest of the kernel reaches it through the
//! hooks below (`unix_socket`, `unix_dispatch`, `unix_ref`, `unix_release`, `unix_wait`).
//!
//! ## The model
//!
//! A [`UnixSocket`] is Linux's `unix_sock` together with its open file. Two counts keep it
//! alive, as in Linux:
//!
//! * `refs` counts references to the open file: descriptors in processes and descriptors in
//!   flight inside `SCM_RIGHTS` messages. When it drops to zero the socket is *released*
//!   (`unix_release_sock`): its name is freed, its peer learns of it, its queue is flushed.
//! * `holds` counts what the kernel itself keeps pointing at the socket: a peer's `peer`
//!   pointer (`sock_hold` in connect and socketpair) and every message it sent that is still
//!   queued somewhere (`skb->sk`, charged to its send buffer). A released socket stays
//!   (dead) until the last hold goes: a stream survivor still reports its dead peer's name, a
//!   datagram reader still sees a closed sender's address.
//!
//! A connection request is an *embryo* socket (`newsk` in `unix_stream_connect`) with no
//! file yet, waiting in its listener's accept queue; the client is connected to it at once, so
//! `connect()` completes before `accept()`.
//!
//! Deviations from Linux, each small: the garbage collector for descriptors in flight runs as soon
//! as a cycle becomes unreachable (see `gc`); `recvfrom` shows an unnamed sender as `unnamed`
//! where Linux returns an address length of 0.

pub mod namespace;
pub mod scm;
pub mod vfs;

mod check;
mod dgram;
mod gc;
mod stream;

pub use namespace::HostUnix;
use scm::Message;
pub use vfs::InodeId;

use crate::epoll::{EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP, Waiter, Watched};
use crate::errno::Errno;
use crate::host::HostId;
use crate::process::{BlockedOn, Cred, Desc, Pid};
use crate::syscall::{MSG_PEEK, Payload, SockAddr, SysReturn, Syscall, Ucred, UnixAddr};
use crate::syscalls::{
    F_GETFL, F_SETFL, O_NONBLOCK, O_RDWR, SO_ACCEPTCONN, SO_ERROR, SO_REUSEADDR, SO_REUSEPORT, SO_TYPE, SOCK_CLOEXEC,
    SOCK_DGRAM, SOCK_NONBLOCK, SOCK_STREAM, SOL_SOCKET, Step,
};
use crate::world::World;
use sim_core::{TaskId, WaitQueue, Wake};
use std::collections::{BTreeMap, VecDeque};

/// Index of a Unix-domain socket in the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixId(pub u32);

/// `SOCK_RAW`: an alias for `SOCK_DGRAM` in the Unix domain (`unix_create`).
pub const SOCK_RAW: i32 = 3;
/// `SOCK_SEQPACKET`.
pub const SOCK_SEQPACKET: i32 = 5;
/// `PF_UNIX`: the only protocol number besides 0 that `unix_create` accepts.
pub const PF_UNIX: i32 = 1;
/// `SO_PASSCRED`: receive `SCM_CREDENTIALS` (and autobind before connecting or sending).
pub const SO_PASSCRED: i32 = 16;
/// `SO_PEERCRED`: the peer's pid, uid and gid.
pub const SO_PEERCRED: i32 = 17;
/// `SO_SNDBUF`.
pub const SO_SNDBUF: i32 = 7;

/// `net.core.wmem_default`: a new socket's send buffer (`sk_sndbuf`).
pub const SNDBUF_DEFAULT: u64 = 212_992;
/// `net.core.rmem_default`: a new socket's receive buffer (`sk_rcvbuf`; Unix sockets only
/// report it).
pub const RCVBUF_DEFAULT: u64 = 212_992;
/// `SO_RCVBUF`.
pub const SO_RCVBUF: i32 = 8;
/// `SO_RCVTIMEO` (`SO_RCVTIMEO_OLD` on x86_64): a receive timeout.
pub const SO_RCVTIMEO: i32 = 20;
/// `SO_SNDTIMEO` (`SO_SNDTIMEO_OLD`): a send timeout.
pub const SO_SNDTIMEO: i32 = 21;
/// `net.core.wmem_max` and `rmem_max`: the most `SO_SNDBUF`/`SO_RCVBUF` take (before doubling).
const BUF_MAX: u64 = 212_992;
/// `SOCK_MIN_SNDBUF`: 2 × (2048 + `sizeof(struct sk_buff)`), 4608 on x86_64.
const SOCK_MIN_SNDBUF: u64 = 4608;
/// `SOCK_MIN_RCVBUF`: 2048 + `sizeof(struct sk_buff)`.
const SOCK_MIN_RCVBUF: u64 = 2304;

/// `RCV_SHUTDOWN`: no more reading.
pub const RCV_SHUTDOWN: u8 = 1;
/// `SEND_SHUTDOWN`: no more writing.
pub const SEND_SHUTDOWN: u8 = 2;
/// Both.
pub const SHUTDOWN_MASK: u8 = 3;

/// The three Unix socket types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnixType {
    /// `SOCK_STREAM`: a byte stream.
    Stream,
    /// `SOCK_DGRAM` (and `SOCK_RAW`): datagrams, connected or not.
    Dgram,
    /// `SOCK_SEQPACKET`: connected, with message boundaries.
    SeqPacket,
}

impl UnixType {
    /// The type a `socket()` type number asks for (`unix_create`; `SOCK_RAW` is a datagram).
    pub fn from_sock_type(ty: i32) -> Option<UnixType> {
        match ty {
            SOCK_STREAM => Some(UnixType::Stream),
            SOCK_DGRAM | SOCK_RAW => Some(UnixType::Dgram),
            SOCK_SEQPACKET => Some(UnixType::SeqPacket),
            _ => None,
        }
    }

    /// The type number (`SO_TYPE`).
    pub fn sock_type(self) -> i32 {
        match self {
            UnixType::Stream => SOCK_STREAM,
            UnixType::Dgram => SOCK_DGRAM,
            UnixType::SeqPacket => SOCK_SEQPACKET,
        }
    }

    /// `ss`'s Netid column.
    pub fn netid(self) -> &'static str {
        match self {
            UnixType::Stream => "u_str",
            UnixType::Dgram => "u_dgr",
            UnixType::SeqPacket => "u_seq",
        }
    }
}

/// A socket's state (`sk_state`: `TCP_CLOSE`, `TCP_LISTEN`, `TCP_ESTABLISHED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnixState {
    /// Not connected (and released sockets).
    Unconnected,
    /// Listening.
    Listening,
    /// Connected (a datagram socket someone connected to is marked so too).
    Connected,
}

/// A socket's name (`unix_address`), shared by a listener and the sockets it accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnixName {
    /// A path, and the socket file `bind()` made for it.
    Path {
        /// The path as bound.
        path: String,
        /// The file.
        inode: InodeId,
    },
    /// An abstract name (without the leading NUL).
    Abstract(Vec<u8>),
}

impl UnixName {
    /// As a program sees it.
    pub fn addr(&self) -> UnixAddr {
        match self {
            UnixName::Path { path, .. } => UnixAddr::Path(path.clone()),
            UnixName::Abstract(name) => UnixAddr::Abstract(name.clone()),
        }
    }
}

/// One Unix-domain socket (`struct unix_sock` and its file). See the module docs.
#[derive(Debug)]
pub struct UnixSocket {
    /// The host (network namespace and filesystem) it belongs to.
    pub host: HostId,
    /// Its type.
    pub ty: UnixType,
    /// Its state.
    pub state: UnixState,
    /// Its address (`u->addr`); accepted sockets share their listener's.
    pub name: Option<UnixName>,
    /// Whether it owns its name in the host's tables (bound or autobound, and open).
    pub hashed: bool,
    /// The other end (`unix_peer`).
    pub peer: Option<UnixId>,
    /// For an embryo: the listener whose accept queue holds it (`u->listener`).
    pub listener: Option<UnixId>,
    /// For a listener: connections not yet accepted, oldest first.
    pub accept_queue: VecDeque<UnixId>,
    /// `sk_max_ack_backlog`: the listen backlog, or `net.unix.max_dgram_qlen` as it was when
    /// the socket was made.
    pub max_ack_backlog: u32,
    /// Received messages, oldest first (`sk_receive_queue`).
    pub rx: VecDeque<Message>,
    /// Unread bytes in `rx`.
    pub rx_bytes: usize,
    /// True size of this socket's messages still queued somewhere (`sk_wmem_alloc`).
    pub wmem: u64,
    /// `sk_sndbuf`: how much `wmem` may reach before senders wait (`SO_SNDBUF`).
    pub sndbuf: u64,
    /// `sk_rcvbuf` (`SO_RCVBUF`): kept and reported; Unix sockets do not use it.
    pub rcvbuf: u64,
    /// `SO_RCVTIMEO` in milliseconds (`None`: wait for ever; `Some(0)`: do not wait).
    pub rcvtimeo: Option<u64>,
    /// `SO_SNDTIMEO` in milliseconds, likewise.
    pub sndtimeo: Option<u64>,
    /// `RCV_SHUTDOWN` and `SEND_SHUTDOWN` bits.
    pub shutdown: u8,
    /// A pending error (`sk_err`), reported once.
    pub error: Option<Errno>,
    /// `O_NONBLOCK`.
    pub nonblocking: bool,
    /// `SO_PASSCRED`.
    pub passcred: bool,
    /// `SO_REUSEADDR` (accepted and kept; it changes nothing for Unix sockets).
    pub reuseaddr: bool,
    /// `SO_PEERCRED`: captured by `connect()`, `listen()` and `socketpair()`.
    pub peercred: Option<Ucred>,
    /// The socket's inode number in sockfs, as `ss` shows it (0 for an embryo until
    /// `accept()` gives it a file).
    pub ino: u64,
    /// References to the open file (descriptors and descriptors in flight).
    pub refs: u32,
    /// References the kernel holds (peers pointing here, messages it sent still queued).
    pub holds: u32,
    /// Released (`SOCK_DEAD`): kept only while something holds it.
    pub dead: bool,
    /// Readers and `accept()` wait here (`sk_sleep`), and epoll instances watching it.
    pub wait: WaitQueue<Waiter>,
    /// Connectors and datagram senders wait here for room (`peer_wait`).
    pub peer_wait: WaitQueue,
    /// Stream `send` calls that queued part of their bytes and wait for send-buffer room:
    /// how many bytes each process's call has queued so far (the `sent` of
    /// `unix_stream_sendmsg`, which Linux keeps on the sleeping task's stack).
    pub send_progress: BTreeMap<Pid, u64>,
}

impl UnixSocket {
    fn new(host: HostId, ty: UnixType, max_ack_backlog: u32) -> UnixSocket {
        UnixSocket {
            host,
            ty,
            state: UnixState::Unconnected,
            name: None,
            hashed: false,
            peer: None,
            listener: None,
            accept_queue: VecDeque::new(),
            max_ack_backlog,
            rx: VecDeque::new(),
            rx_bytes: 0,
            wmem: 0,
            sndbuf: SNDBUF_DEFAULT,
            rcvbuf: RCVBUF_DEFAULT,
            rcvtimeo: None,
            sndtimeo: None,
            shutdown: 0,
            error: None,
            nonblocking: false,
            passcred: false,
            reuseaddr: false,
            peercred: None,
            ino: 0,
            refs: 0,
            holds: 0,
            dead: false,
            wait: WaitQueue::default(),
            peer_wait: WaitQueue::default(),
            send_progress: BTreeMap::new(),
        }
    }

    /// Whether it is a connection not yet accepted.
    pub fn is_embryo(&self) -> bool {
        self.listener.is_some()
    }

    /// Its address as a program sees it.
    pub fn addr(&self) -> UnixAddr {
        self.name.as_ref().map_or(UnixAddr::Unnamed, UnixName::addr)
    }
}

/// The world's Unix-domain sockets: a slab addressed by [`UnixId`].
#[derive(Debug, Default)]
pub struct UnixTable {
    slots: Vec<Option<UnixSocket>>,
    free: Vec<u32>,
    live: usize,
    last_ino: u64,
    /// Unix sockets inside queued messages (`unix_tot_inflight`).
    inflight: usize,
    /// The collector is running (it does not start again from within).
    collecting: bool,
}

/// sockfs inode numbers start here (Linux's come from `get_next_ino()`; any start will do).
const FIRST_INO: u64 = 10_000;

impl UnixTable {
    /// The socket `id` (which must exist).
    pub fn get(&self, id: UnixId) -> &UnixSocket {
        self.slots[id.0 as usize].as_ref().expect("a live unix socket id")
    }

    /// The socket `id`, to change it.
    pub fn get_mut(&mut self, id: UnixId) -> &mut UnixSocket {
        self.slots[id.0 as usize].as_mut().expect("a live unix socket id")
    }

    /// The socket `id`, if it still exists.
    pub fn try_get(&self, id: UnixId) -> Option<&UnixSocket> {
        self.slots.get(id.0 as usize).and_then(Option::as_ref)
    }

    /// The socket `id`, to change it, if it still exists.
    pub fn try_get_mut(&mut self, id: UnixId) -> Option<&mut UnixSocket> {
        self.slots.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    fn insert(&mut self, s: UnixSocket) -> UnixId {
        self.live += 1;
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(s);
                UnixId(i)
            }
            None => {
                self.slots.push(Some(s));
                UnixId(self.slots.len() as u32 - 1)
            }
        }
    }

    fn remove(&mut self, id: UnixId) {
        if self.slots[id.0 as usize].take().is_some() {
            self.live -= 1;
            self.free.push(id.0);
        }
    }

    fn next_ino(&mut self) -> u64 {
        self.last_ino += 1;
        FIRST_INO + self.last_ino
    }

    /// Every socket, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (UnixId, &UnixSocket)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (UnixId(i as u32), s)))
    }

    /// How many sockets exist (released ones still held included).
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }
}

type SysResult = Result<SysReturn, Errno>;

const OK: SysResult = Ok(SysReturn::Value { value: 0 });

/// How a receive call wants its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecvKind {
    /// `recv`: the bytes.
    Recv,
    /// `recvfrom`: the bytes and the sender.
    RecvFrom,
    /// `recvmsg` with a control buffer of this many bytes.
    Msg(usize),
}

/// What a receive took off the queue, before it is shaped into a result.
pub(crate) struct Received {
    data: Vec<u8>,
    from: UnixAddr,
    rights: Vec<Desc>,
    /// The credentials of the message (`None`: it carried none).
    creds: Option<Ucred>,
    /// Whether the receiver asked for credentials (`SO_PASSCRED`).
    passcred: bool,
    flags: i32,
}

impl World {
    /// The Unix-domain sockets.
    pub fn unix_sockets(&self) -> &UnixTable {
        &self.unix
    }

    /// `socket(AF_UNIX, ty, protocol)` (`__sys_socket`, `unix_create`): flags other than
    /// `SOCK_NONBLOCK`/`SOCK_CLOEXEC` are `EINVAL`; a protocol other than 0 or `PF_UNIX` is
    /// `EPROTONOSUPPORT`; a type other than stream, datagram (or raw) and seqpacket is
    /// `ESOCKTNOSUPPORT`; then the descriptor (`EMFILE`).
    pub(crate) fn unix_socket(&mut self, pid: Pid, ty: i32, protocol: i32) -> SysResult {
        let (kind, nonblocking) = unix_type_and_flags(ty, protocol)?;
        self.fd_available(pid)?;
        let id = self.unix_new_socket(pid, kind, nonblocking);
        let fd = self.process_mut(pid).fds.install(Desc::Unix(id));
        Ok(SysReturn::Value { value: i64::from(fd) })
    }

    /// A new socket with one file reference, on `pid`'s host (`unix_create1`).
    pub(crate) fn unix_new_socket(&mut self, pid: Pid, ty: UnixType, nonblocking: bool) -> UnixId {
        let host = self.process(pid).host;
        let mut s = UnixSocket::new(host, ty, self.hosts[host.0 as usize].sysctl.unix_max_dgram_qlen);
        s.nonblocking = nonblocking;
        s.refs = 1;
        s.ino = self.unix.next_ino();
        self.unix.insert(s)
    }

    /// `socketpair()` (`__sys_socketpair`, `unix_socketpair`): flags first (`EINVAL`), then two
    /// descriptors (`EMFILE`), then the family: internet sockets have no pairs (`EOPNOTSUPP`,
    /// `sock_no_socketpair`), others `EAFNOSUPPORT`; then `unix_create`'s checks. Both ends
    /// are connected, unnamed, and carry the caller's credentials as `SO_PEERCRED`.
    pub(crate) fn sys_socketpair(&mut self, pid: Pid, domain: i32, ty: i32, protocol: i32) -> SysResult {
        if ty & !0xf & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
            return Err(Errno::EINVAL);
        }
        self.fd_available(pid)?;
        let placeholder = self.process_mut(pid).fds.install(Desc::Stdio);
        let second = self.fd_available(pid);
        self.process_mut(pid).fds.remove(placeholder);
        second?;
        match domain {
            crate::syscalls::AF_UNIX => {}
            crate::syscalls::AF_INET | crate::syscalls::AF_INET6 => return Err(Errno::EOPNOTSUPP),
            _ => return Err(Errno::EAFNOSUPPORT),
        }
        let (kind, nonblocking) = unix_type_and_flags(ty, protocol)?;
        let a = self.unix_new_socket(pid, kind, nonblocking);
        let b = self.unix_new_socket(pid, kind, nonblocking);
        let cred = self.current_ucred(pid);
        for (me, other) in [(a, b), (b, a)] {
            let s = self.unix.get_mut(me);
            s.peer = Some(other);
            s.state = UnixState::Connected;
            s.peercred = Some(cred);
            self.unix.get_mut(other).holds += 1;
        }
        let fa = self.process_mut(pid).fds.install(Desc::Unix(a));
        let fb = self.process_mut(pid).fds.install(Desc::Unix(b));
        Ok(SysReturn::Pair { fds: [fa, fb] })
    }

    /// The caller's pid, uid and gid (`task_tgid(current)`, `current_cred()`).
    pub(crate) fn current_ucred(&self, pid: Pid) -> Ucred {
        let c = self.process(pid).cred;
        Ucred {
            pid: pid.0,
            uid: c.uid,
            gid: c.gid,
        }
    }

    fn cred(&self, pid: Pid) -> Cred {
        self.process(pid).cred
    }

    /// A call on a Unix-domain socket descriptor.
    pub(crate) fn unix_dispatch(&mut self, pid: Pid, sock: UnixId, call: &Syscall, resumed: bool) -> Step {
        let step = self.unix_dispatch_inner(pid, sock, call, resumed);
        let Step::Block(..) = step else { return step };
        // SO_RCVTIMEO bounds the waits of receiving calls and accept (sock_rcvtimeo), and
        // SO_SNDTIMEO those of sending calls and connect (sock_sndtimeo); when the time runs
        // out the call fails EAGAIN, except a stream send that queued some bytes: it returns
        // their count.
        let s = self.unix.get(sock);
        let timeo = match call {
            Syscall::Recv { .. } | Syscall::RecvFrom { .. } | Syscall::RecvMsg { .. } | Syscall::Accept { .. } => {
                s.rcvtimeo
            }
            Syscall::Send { .. } | Syscall::SendTo { .. } | Syscall::SendMsg { .. } | Syscall::Connect { .. } => {
                s.sndtimeo
            }
            _ => None,
        };
        let Some(ms) = timeo else { return step };
        if ms == 0 || self.process(pid).timed_out {
            let sent = self.unix.get_mut(sock).send_progress.remove(&pid);
            return Step::Done(match sent {
                Some(n) => Ok(SysReturn::Value { value: n as i64 }),
                None => Err(Errno::EAGAIN),
            });
        }
        if !resumed {
            let deadline = self.now.after(sim_core::Duration::from_millis(ms));
            self.process_mut(pid).deadline = Some(deadline);
            self.events
                .push(deadline, crate::world::Pending::Timeout(pid, deadline));
        }
        step
    }

    /// The call itself; [`World::unix_dispatch`] adds the socket's timeouts.
    fn unix_dispatch_inner(&mut self, pid: Pid, sock: UnixId, call: &Syscall, resumed: bool) -> Step {
        // Every Unix wait re-runs its call from the top, as Linux's `restart:` does; only a
        // stream send keeps what it has already queued (`send_progress`).
        let ty = self.unix.get(sock).ty;
        let result = match call {
            Syscall::Bind { addr, .. } => {
                let cred = self.cred(pid);
                // SUN_LEN of an empty path is the family alone: autobind.
                let addr = match addr {
                    SockAddr::Unix(UnixAddr::Path(p)) if p.is_empty() => &SockAddr::Unix(UnixAddr::Unnamed),
                    a => a,
                };
                self.unix_bind(sock, &cred, addr).and(OK)
            }
            Syscall::Listen { backlog, .. } => self.unix_listen(pid, sock, *backlog),
            Syscall::Accept { .. } => return self.unix_accept(pid, sock),
            Syscall::Connect { addr, .. } if ty == UnixType::Dgram => self.unix_dgram_connect(pid, sock, addr),
            Syscall::Connect { addr, .. } => return self.unix_stream_connect(pid, sock, addr),
            Syscall::Send { data, .. } => return self.unix_sendmsg(pid, sock, data, None, &[], resumed),
            Syscall::SendTo { data, addr, .. } => {
                return self.unix_sendmsg(pid, sock, data, Some(addr), &[], resumed);
            }
            Syscall::SendMsg {
                data, addr, control, ..
            } => return self.unix_sendmsg(pid, sock, data, addr.as_ref(), control, resumed),
            Syscall::Recv { len, flags, .. } => {
                return self.unix_recvmsg(pid, sock, *len, RecvKind::Recv, flags & MSG_PEEK != 0);
            }
            Syscall::RecvFrom { len, flags, .. } => {
                return self.unix_recvmsg(pid, sock, *len, RecvKind::RecvFrom, flags & MSG_PEEK != 0);
            }
            Syscall::RecvMsg { len, controllen, .. } => {
                return self.unix_recvmsg(pid, sock, *len, RecvKind::Msg(*controllen), false);
            }
            Syscall::Shutdown { how, .. } => {
                let mode = match how {
                    crate::syscall::How::Read => RCV_SHUTDOWN,
                    crate::syscall::How::Write => SEND_SHUTDOWN,
                    crate::syscall::How::Both => SHUTDOWN_MASK,
                };
                self.unix_shutdown(sock, mode)
            }
            Syscall::GetSockName { .. } => Ok(SysReturn::Addr {
                addr: SockAddr::Unix(self.unix.get(sock).addr()),
            }),
            // unix_getname(peer = 1): the peer's name, even after the peer closed.
            Syscall::GetPeerName { .. } => match self.unix.get(sock).peer {
                Some(p) => Ok(SysReturn::Addr {
                    addr: SockAddr::Unix(self.unix.get(p).addr()),
                }),
                None => Err(Errno::ENOTCONN),
            },
            Syscall::GetSockOpt { level, name, .. } => self.unix_getsockopt(sock, *level, *name),
            Syscall::SetSockOpt { level, name, value, .. } => self.unix_setsockopt(sock, *level, *name, *value),
            _ => unreachable!("only socket calls reach a socket"),
        };
        Step::Done(result)
    }

    /// `sendmsg()` by socket type.
    fn unix_sendmsg(
        &mut self,
        pid: Pid,
        sock: UnixId,
        data: &Payload,
        addr: Option<&SockAddr>,
        control: &[crate::syscall::Cmsg],
        resumed: bool,
    ) -> Step {
        match self.unix.get(sock).ty {
            UnixType::Stream => self.unix_stream_sendmsg(pid, sock, data, addr, control, resumed),
            UnixType::Dgram => self.unix_dgram_sendmsg(pid, sock, data, addr, control),
            UnixType::SeqPacket => {
                // unix_seqpacket_sendmsg(): a pending error, then "connected?"; a destination
                // is ignored.
                let s = self.unix.get_mut(sock);
                if let Some(e) = s.error.take() {
                    return Step::Done(Err(e));
                }
                if s.state != UnixState::Connected {
                    return Step::Done(Err(Errno::ENOTCONN));
                }
                self.unix_dgram_sendmsg(pid, sock, data, None, control)
            }
        }
    }

    /// `recvmsg()` by socket type, shaped for the call that asked.
    /// With `peek` (`MSG_PEEK`) the data stays queued.
    fn unix_recvmsg(&mut self, pid: Pid, sock: UnixId, len: usize, kind: RecvKind, peek: bool) -> Step {
        let s = self.unix.get(sock);
        let received = match s.ty {
            UnixType::Stream if peek => self.unix_stream_peek(sock, len),
            UnixType::Stream => self.unix_stream_recv(sock, len),
            // unix_seqpacket_recvmsg(): only when connected.
            UnixType::SeqPacket if s.state != UnixState::Connected => Err(Step::Done(Err(Errno::ENOTCONN))),
            UnixType::SeqPacket | UnixType::Dgram if peek => self.unix_dgram_peek(sock, len),
            UnixType::SeqPacket | UnixType::Dgram => self.unix_dgram_recv(sock, len),
        };
        let r = match received {
            Ok(r) => r,
            Err(step) => return step,
        };
        let datagram = self.unix.get(sock).ty == UnixType::Dgram;
        Step::Done(Ok(self.scm_recv(pid, r, kind, datagram)))
    }

    /// `scm_recv_unix()`: credentials (with `SO_PASSCRED`) and then descriptors go into the
    /// control buffer as far as it has room; without a buffer (`recv`, `recvfrom`) they are
    /// dropped and `MSG_CTRUNC` set.
    fn scm_recv(&mut self, pid: Pid, r: Received, kind: RecvKind, datagram: bool) -> SysReturn {
        let Received {
            data,
            from,
            rights,
            creds,
            passcred,
            mut flags,
        } = r;
        let RecvKind::Msg(mut room) = kind else {
            for d in rights {
                self.release_desc(d);
            }
            return match kind {
                RecvKind::Recv => SysReturn::Data { data },
                _ => SysReturn::DataFrom {
                    data,
                    from: SockAddr::Unix(from),
                },
            };
        };
        let mut got_creds = None;
        if passcred {
            // put_cmsg(): a message without credentials reports pid 0 and the overflow ids.
            let c = creds.unwrap_or(Ucred {
                pid: 0,
                uid: 65534,
                gid: 65534,
            });
            if room >= scm::cmsg_len(scm::UCRED_LEN) {
                got_creds = Some(c);
            } else {
                flags |= crate::syscall::MSG_CTRUNC;
            }
            room -= scm::cmsg_space(scm::UCRED_LEN).min(room);
        }
        let mut fds = Vec::new();
        if !rights.is_empty() {
            let (installed, f) = self.scm_detach_fds(pid, rights, room);
            fds = installed;
            flags |= f;
        }
        SysReturn::Msg {
            data,
            from: datagram.then_some(SockAddr::Unix(from)),
            rights: fds,
            creds: got_creds,
            flags,
        }
    }

    /// Another reference to the socket's open file (`fork`, `dup`, `SCM_RIGHTS`).
    pub(crate) fn unix_ref(&mut self, sock: UnixId) {
        self.unix.get_mut(sock).refs += 1;
    }

    /// A reference to the socket's open file went away; the last one releases the socket.
    pub(crate) fn unix_release(&mut self, sock: UnixId) {
        let s = self.unix.get_mut(sock);
        s.refs -= 1;
        if s.refs == 0 {
            // eventpoll_release(): the file's last reference leaves every epoll.
            self.epoll_forget(Watched::Unix(sock));
            self.unix_release_sock(sock, false);
        }
        self.unix_gc();
    }

    /// `unix_release_sock()`: the name is freed (a socket file stays, stale), the socket is
    /// dead and shut both ways; a stream or seqpacket peer is shut too, and gets `ECONNRESET`
    /// if we die with unread data or as an unaccepted connection (`embryo`); queued messages
    /// are dropped with the files they carry; a listener's pending connections are released
    /// in turn.
    pub(crate) fn unix_release_sock(&mut self, sock: UnixId, embryo: bool) {
        // Hold the socket while releasing it: dropping what it holds may come back to it.
        self.unix.get_mut(sock).holds += 1;
        self.unix_unhash(sock);
        let s = self.unix.get_mut(sock);
        s.dead = true;
        s.shutdown = SHUTDOWN_MASK;
        let was_listening = s.state == UnixState::Listening;
        s.state = UnixState::Unconnected;
        let skpair = s.peer.take();
        let unread = !s.rx.is_empty();
        let ty = s.ty;
        self.unix_wake_peer(sock, Wake::All);
        if let Some(p) = skpair {
            if ty != UnixType::Dgram {
                let ps = self.unix.get_mut(p);
                ps.shutdown = SHUTDOWN_MASK;
                if unread || embryo {
                    ps.error = Some(Errno::ECONNRESET);
                }
                self.unix_wake(p, Wake::All, 0);
            }
            self.unix_put(p);
        }
        let s = self.unix.get_mut(sock);
        let rx = std::mem::take(&mut s.rx);
        s.rx_bytes = 0;
        let pending = std::mem::take(&mut s.accept_queue);
        for m in rx {
            self.unix_free_message(m);
        }
        if was_listening {
            for e in pending {
                self.unix.get_mut(e).listener = None;
                self.unix_release_sock(e, true);
            }
        }
        self.unix_put(sock);
    }

    /// Drops a hold; a dead socket nothing holds any more is freed.
    pub(crate) fn unix_put(&mut self, sock: UnixId) {
        let s = self.unix.get_mut(sock);
        s.holds -= 1;
        if s.dead && s.holds == 0 && s.refs == 0 {
            debug_assert!(s.rx.is_empty() && s.accept_queue.is_empty());
            self.unix.remove(sock);
        }
    }

    /// A message leaves its queue (read or dropped): the files it still carries are released,
    /// and its sender's send buffer gets the room back (`sock_wfree`, `unix_write_space`).
    pub(crate) fn unix_free_message(&mut self, m: Message) {
        self.unix_inflight(&m.rights, false);
        for d in m.rights {
            self.release_desc(d);
        }
        let sender = self.unix.get_mut(m.sender);
        sender.wmem -= m.truesize;
        // unix_write_space(): writers and EPOLLOUT hear of it only once at most a quarter of
        // the send buffer is in use (unix_writable).
        if sender.wmem * 4 <= sender.sndbuf {
            self.unix_wake(m.sender, Wake::One, EPOLLOUT);
        }
        self.unix_put(m.sender);
    }

    /// Queues `m` on `to` (charging its sender) and wakes a reader (`sk_data_ready`).
    pub(crate) fn unix_queue(&mut self, to: UnixId, m: Message) {
        self.unix_inflight(&m.rights, true);
        let sender = self.unix.get_mut(m.sender);
        sender.wmem += m.truesize;
        sender.holds += 1;
        let r = self.unix.get_mut(to);
        r.rx_bytes += m.remaining();
        r.rx.push_back(m);
        self.unix_wake(to, Wake::One, EPOLLIN);
    }

    /// Parks a task on a socket's queue (`peer`: `peer_wait`).
    pub(crate) fn unix_wait(&mut self, sock: UnixId, peer: bool, task: TaskId, exclusive: bool) {
        let s = self.unix.get_mut(sock);
        if peer {
            s.peer_wait.add(task, exclusive);
        } else {
            s.wait.add(Waiter::Task(task), exclusive);
        }
    }

    /// Takes a task off a socket's queues (its wait timed out), if the socket still exists.
    pub(crate) fn unix_unwait(&mut self, sock: UnixId, task: TaskId) {
        if let Some(s) = self.unix.try_get_mut(sock) {
            s.wait.remove(Waiter::Task(task));
            s.peer_wait.remove(task);
        }
    }

    /// Wakes the socket's wait queue with the poll events `mask` (0: unspecified): blocked
    /// tasks wake, and epoll instances watching the socket get the event (`sk_data_ready`,
    /// `sk_state_change`, `sk_write_space`, and `ep_poll_callback` behind them).
    pub(crate) fn unix_wake(&mut self, sock: UnixId, how: Wake, mask: u32) {
        self.wake_watched(Watched::Unix(sock), how, mask);
    }

    /// A datagram receiver's full queue has room again: the sockets connected to it that poll
    /// for writing hear of it (`unix_dgram_peer_wake_relay`).
    fn unix_relay_writable(&mut self, sock: UnixId) {
        let senders: Vec<UnixId> = self
            .unix
            .iter()
            .filter(|(id, s)| *id != sock && !s.dead && s.peer == Some(sock))
            .map(|(id, _)| id)
            .collect();
        for s in senders {
            self.unix_wake(s, Wake::One, EPOLLOUT);
        }
    }

    /// `unix_poll()` (stream) and `unix_dgram_poll()` (datagram, seqpacket): the events the
    /// socket is ready for now.
    pub(crate) fn unix_poll(&self, sock: UnixId) -> u32 {
        let s = self.unix.get(sock);
        let mut mask = 0;
        if s.error.is_some() {
            mask |= EPOLLERR;
        }
        if s.shutdown == SHUTDOWN_MASK {
            mask |= EPOLLHUP;
        }
        if s.shutdown & RCV_SHUTDOWN != 0 {
            mask |= EPOLLRDHUP | EPOLLIN;
        }
        if !s.rx.is_empty() || !s.accept_queue.is_empty() {
            mask |= EPOLLIN;
        }
        // Connection-based sockets that are not connected (nor listening) are hung up.
        let unconnected = s.state == UnixState::Unconnected;
        if (s.ty == UnixType::Stream || s.ty == UnixType::SeqPacket) && unconnected {
            mask |= EPOLLHUP;
        }
        // unix_writable(): not a listener, and at most a quarter of the send buffer in use.
        let mut writable = s.state != UnixState::Listening && s.wmem * 4 <= s.sndbuf;
        if s.ty != UnixType::Stream
            && writable
            && let Some(p) = s.peer
        {
            // A datagram peer that is not connected back to us and whose queue is full.
            let o = self.unix.get(p);
            if o.peer != Some(sock) && o.rx.len() > o.max_ack_backlog as usize && !o.dead {
                writable = false;
            }
        }
        if writable {
            mask |= EPOLLOUT;
        }
        mask
    }

    /// Wakes those waiting for room on the socket (`peer_wait`).
    pub(crate) fn unix_wake_peer(&mut self, sock: UnixId, how: Wake) {
        let s = self.unix.get_mut(sock);
        if !s.peer_wait.is_empty() {
            self.sched.wake(&mut s.peer_wait, how);
        }
    }

    /// `unix_shutdown()`: our flags, and for a connected stream or seqpacket socket the
    /// mirrored flags on the peer; both are woken. Unconnected sockets accept it too.
    fn unix_shutdown(&mut self, sock: UnixId, mode: u8) -> SysResult {
        let s = self.unix.get_mut(sock);
        s.shutdown |= mode;
        let (peer, ty) = (s.peer, s.ty);
        self.unix_wake(sock, Wake::All, 0);
        if let Some(p) = peer
            && ty != UnixType::Dgram
        {
            let mut peer_mode = 0;
            if mode & RCV_SHUTDOWN != 0 {
                peer_mode |= SEND_SHUTDOWN;
            }
            if mode & SEND_SHUTDOWN != 0 {
                peer_mode |= RCV_SHUTDOWN;
            }
            self.unix.get_mut(p).shutdown |= peer_mode;
            self.unix_wake(p, Wake::All, 0);
        }
        OK
    }

    /// `setsockopt()` (`sock_setsockopt`): only `SOL_SOCKET` (`EOPNOTSUPP` otherwise: Unix
    /// sockets have no protocol options). `SO_REUSEPORT` is only for internet sockets.
    fn unix_setsockopt(&mut self, sock: UnixId, level: i32, name: i32, value: i64) -> SysResult {
        if level != SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP);
        }
        let s = self.unix.get_mut(sock);
        match name {
            SO_REUSEADDR => s.reuseaddr = value != 0,
            SO_REUSEPORT if value != 0 => return Err(Errno::EOPNOTSUPP),
            SO_REUSEPORT => {}
            SO_PASSCRED => s.passcred = value != 0,
            // sk_setsockopt(): the value as an unsigned int (a negative one is huge), at most
            // wmem_max / rmem_max, doubled, at least SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF.
            SO_SNDBUF => {
                s.sndbuf = (u64::from(value as u32).min(BUF_MAX) * 2).max(SOCK_MIN_SNDBUF);
                // sk_write_space(): writers waiting for room hear of a bigger buffer.
                if s.wmem * 4 <= s.sndbuf {
                    self.unix_wake(sock, Wake::One, EPOLLOUT);
                }
            }
            SO_RCVBUF => s.rcvbuf = (u64::from(value as u32).min(BUF_MAX) * 2).max(SOCK_MIN_RCVBUF),
            // sock_set_timeout(), with socksim's integer form in milliseconds: 0 is no
            // timeout (MAX_SCHEDULE_TIMEOUT), a negative time a zero timeout (never wait).
            SO_RCVTIMEO => s.rcvtimeo = timeout_from(value),
            SO_SNDTIMEO => s.sndtimeo = timeout_from(value),
            _ => return Err(Errno::ENOPROTOOPT),
        }
        OK
    }

    /// `getsockopt()` (`sk_getsockopt`). `SO_PEERCRED` without a peer's credentials is pid 0
    /// and uid, gid -1.
    fn unix_getsockopt(&mut self, sock: UnixId, level: i32, name: i32) -> SysResult {
        if level != SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP);
        }
        let s = self.unix.get_mut(sock);
        let value = match name {
            SO_TYPE => i64::from(s.ty.sock_type()),
            SO_ERROR => s.error.take().map_or(0, |e| i64::from(e.number())),
            SO_ACCEPTCONN => i64::from(s.state == UnixState::Listening),
            SO_REUSEADDR => i64::from(s.reuseaddr),
            SO_REUSEPORT => 0,
            SO_PASSCRED => i64::from(s.passcred),
            SO_SNDBUF => s.sndbuf as i64,
            SO_RCVBUF => s.rcvbuf as i64,
            // sock_get_timeout(): no timeout and a zero one both read back as 0.
            SO_RCVTIMEO => s.rcvtimeo.unwrap_or(0) as i64,
            SO_SNDTIMEO => s.sndtimeo.unwrap_or(0) as i64,
            SO_PEERCRED => {
                return Ok(SysReturn::PeerCred {
                    cred: s.peercred.unwrap_or(Ucred {
                        pid: 0,
                        uid: u32::MAX,
                        gid: u32::MAX,
                    }),
                });
            }
            _ => return Err(Errno::ENOPROTOOPT),
        };
        Ok(SysReturn::OptVal { name, value })
    }

    /// `fcntl()` on a Unix socket: the file status flags (`O_NONBLOCK`).
    pub(crate) fn unix_fcntl(&mut self, sock: UnixId, cmd: i32, arg: i64) -> SysResult {
        let s = self.unix.get_mut(sock);
        match cmd {
            F_GETFL => Ok(SysReturn::Value {
                value: O_RDWR | if s.nonblocking { O_NONBLOCK } else { 0 },
            }),
            F_SETFL => {
                s.nonblocking = arg & O_NONBLOCK != 0;
                OK
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// `sendmsg()`/`recvmsg()` on an internet socket: `send`/`sendto` and `recvfrom` with a
    /// message header. `SCM_RIGHTS` and `SCM_CREDENTIALS` are Unix matters that
    /// `__sock_cmsg_send` skips for other sockets.
    pub(crate) fn inet_msg(&mut self, pid: Pid, call: &Syscall, resumed: bool) -> Step {
        match call {
            Syscall::SendMsg { fd, data, addr, .. } => {
                let plain = match addr {
                    Some(addr) => Syscall::SendTo {
                        fd: *fd,
                        data: data.clone(),
                        addr: addr.clone(),
                    },
                    None => Syscall::Send {
                        fd: *fd,
                        data: data.clone(),
                    },
                };
                self.dispatch(pid, &plain, resumed)
            }
            Syscall::RecvMsg { fd, len, .. } => {
                let plain = Syscall::RecvFrom {
                    fd: *fd,
                    len: *len,
                    flags: 0,
                };
                match self.dispatch(pid, &plain, resumed) {
                    Step::Done(Ok(SysReturn::DataFrom { data, from })) => Step::Done(Ok(SysReturn::Msg {
                        data,
                        from: Some(from),
                        rights: Vec::new(),
                        creds: None,
                        flags: 0,
                    })),
                    Step::Done(Ok(SysReturn::Data { data })) => Step::Done(Ok(SysReturn::Msg {
                        data,
                        from: None,
                        rights: Vec::new(),
                        creds: None,
                        flags: 0,
                    })),
                    other => other,
                }
            }
            _ => unreachable!("only sendmsg and recvmsg"),
        }
    }

    /// Blocks on the socket's own queue, or fails `EAGAIN` if non-blocking.
    fn unix_block(&self, sock: UnixId) -> Step {
        if self.unix.get(sock).nonblocking {
            Step::Done(Err(Errno::EAGAIN))
        } else {
            Step::Block(BlockedOn::Unix(sock), false)
        }
    }
}

/// A timeout set with `SO_RCVTIMEO`/`SO_SNDTIMEO` in milliseconds: 0 means none, a negative
/// one (a negative `tv_sec`) means zero.
fn timeout_from(ms: i64) -> Option<u64> {
    match ms {
        0 => None,
        ms if ms < 0 => Some(0),
        ms => Some(ms as u64),
    }
}

/// `unix_create()`'s checks on a `socket()`/`socketpair()` type and protocol.
fn unix_type_and_flags(ty: i32, protocol: i32) -> Result<(UnixType, bool), Errno> {
    let flags = ty & !0xf;
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    if protocol != 0 && protocol != PF_UNIX {
        return Err(Errno::EPROTONOSUPPORT);
    }
    let kind = UnixType::from_sock_type(ty & 0xf).ok_or(Errno::ESOCKTNOSUPPORT)?;
    Ok((kind, flags & SOCK_NONBLOCK != 0))
}
