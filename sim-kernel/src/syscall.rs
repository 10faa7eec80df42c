//! The system calls a simulated process can make, and what they return.
//!
//! Calls are typed values so the trace can record them exactly (and render them the way
//! `strace` does). [`crate::World::syscall`] executes one.

use crate::errno::Errno;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::rc::Rc;

/// A descriptor number.
pub type Fd = i32;

/// Bytes to send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// These exact bytes.
    Bytes(Rc<[u8]>),
    /// This many zero bytes (`send(s, 64KiB)`).
    Zeros(usize),
}

impl Payload {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Payload::Bytes(b) => b.len(),
            Payload::Zeros(n) => *n,
        }
    }
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An `AF_UNIX` address (`unix(7)`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnixAddr {
    /// No name (an unbound socket; `sun_path` empty, address length 2).
    Unnamed,
    /// A filesystem path.
    Path(String),
    /// An abstract name (`sun_path[0] == 0`), without the leading NUL.
    Abstract(Vec<u8>),
}

/// A socket address as a program passes or receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SockAddr {
    /// `sockaddr_in` or `sockaddr_in6`.
    Inet(SocketAddr),
    /// `sockaddr_un`.
    Unix(UnixAddr),
    /// A bare `AF_UNSPEC` family (to dissolve an association with `connect`).
    Unspec,
}

impl From<SocketAddr> for SockAddr {
    fn from(a: SocketAddr) -> Self {
        SockAddr::Inet(a)
    }
}

impl From<std::net::SocketAddrV4> for SockAddr {
    fn from(a: std::net::SocketAddrV4) -> Self {
        SockAddr::Inet(a.into())
    }
}

impl From<std::net::SocketAddrV6> for SockAddr {
    fn from(a: std::net::SocketAddrV6) -> Self {
        SockAddr::Inet(a.into())
    }
}

impl SockAddr {
    /// The internet address, if it is one.
    pub fn inet(&self) -> Option<SocketAddr> {
        match self {
            SockAddr::Inet(a) => Some(*a),
            _ => None,
        }
    }
}

/// Renders as a scenario writes it: `10.0.0.1:80`, `[::1]:80`, `"/run/app.sock"`, `@"name"`,
/// `unnamed`, `AF_UNSPEC`.
impl std::fmt::Display for SockAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SockAddr::Inet(a) => write!(f, "{a}"),
            SockAddr::Unix(UnixAddr::Unnamed) => f.write_str("unnamed"),
            SockAddr::Unix(UnixAddr::Path(p)) => write!(f, "{p:?}"),
            SockAddr::Unix(UnixAddr::Abstract(name)) => write!(f, "@{:?}", String::from_utf8_lossy(name)),
            SockAddr::Unspec => f.write_str("AF_UNSPEC"),
        }
    }
}

/// `shutdown()`'s direction (`SHUT_RD` = 0, `SHUT_WR` = 1, `SHUT_RDWR` = 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// `SHUT_RD`.
    Read,
    /// `SHUT_WR`.
    Write,
    /// `SHUT_RDWR`.
    Both,
}

/// One system call with its arguments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "lowercase")]
pub enum Syscall {
    /// `socket(domain, type, protocol)`.
    Socket {
        /// Address family (`AF_INET` = 2).
        domain: i32,
        /// Socket type, with `SOCK_NONBLOCK`/`SOCK_CLOEXEC` or'ed in.
        #[serde(rename = "type")]
        ty: i32,
        /// Protocol (0 = default).
        protocol: i32,
    },
    /// `bind(fd, addr)`.
    Bind {
        /// Socket.
        fd: Fd,
        /// Local address.
        addr: SockAddr,
    },
    /// `listen(fd, backlog)`.
    Listen {
        /// Socket.
        fd: Fd,
        /// Requested backlog.
        backlog: i32,
    },
    /// `accept(fd)`.
    Accept {
        /// Listening socket.
        fd: Fd,
    },
    /// `accept4(fd, flags)`: `accept` that sets `SOCK_NONBLOCK` (and `SOCK_CLOEXEC`) on the
    /// new descriptor.
    Accept4 {
        /// Listening socket.
        fd: Fd,
        /// `SOCK_NONBLOCK` and/or `SOCK_CLOEXEC`.
        flags: i32,
    },
    /// `connect(fd, addr)`.
    Connect {
        /// Socket.
        fd: Fd,
        /// Peer (`AF_UNSPEC` dissolves an association).
        addr: SockAddr,
    },
    /// `send(fd, data)`.
    Send {
        /// Socket.
        fd: Fd,
        /// What to send.
        data: Payload,
    },
    /// `sendto(fd, data, addr)`.
    SendTo {
        /// Socket.
        fd: Fd,
        /// What to send.
        data: Payload,
        /// Destination.
        addr: SockAddr,
    },
    /// `recvfrom(fd, len)`: like `recv`, and reports the sender.
    RecvFrom {
        /// Socket.
        fd: Fd,
        /// Buffer size.
        len: usize,
        /// `MSG_PEEK` and/or `MSG_DONTWAIT` (0 for none).
        #[serde(default, skip_serializing_if = "is_zero")]
        flags: i32,
    },
    /// `recv(fd, len)`.
    Recv {
        /// Socket.
        fd: Fd,
        /// Buffer size.
        len: usize,
        /// `MSG_PEEK` and/or `MSG_DONTWAIT` (0 for none).
        #[serde(default, skip_serializing_if = "is_zero")]
        flags: i32,
    },
    /// `shutdown(fd, how)`.
    Shutdown {
        /// Socket.
        fd: Fd,
        /// Direction.
        how: How,
    },
    /// `close(fd)`.
    Close {
        /// Descriptor.
        fd: Fd,
    },
    /// `getsockname(fd)`.
    GetSockName {
        /// Socket.
        fd: Fd,
    },
    /// `getpeername(fd)`.
    GetPeerName {
        /// Socket.
        fd: Fd,
    },
    /// `getsockopt(fd, level, name)` of an integer option.
    GetSockOpt {
        /// Socket.
        fd: Fd,
        /// Level (`SOL_SOCKET` = 1).
        level: i32,
        /// Option (`SO_ERROR` = 4).
        name: i32,
    },
    /// `fcntl(fd, cmd, arg)` (`F_GETFL`, `F_SETFL`).
    Fcntl {
        /// Descriptor.
        fd: Fd,
        /// Command.
        cmd: i32,
        /// Argument (flags for `F_SETFL`).
        arg: i64,
    },
    /// `epoll_create1(flags)`.
    #[serde(rename = "epoll_create1")]
    EpollCreate1 {
        /// `EPOLL_CLOEXEC` or 0.
        flags: i32,
    },
    /// `epoll_ctl(epfd, op, fd, events)`.
    #[serde(rename = "epoll_ctl")]
    EpollCtl {
        /// The epoll instance.
        epfd: Fd,
        /// `EPOLL_CTL_ADD`, `_DEL` or `_MOD`.
        op: i32,
        /// The watched descriptor.
        fd: Fd,
        /// Event mask with flags.
        events: u32,
    },
    /// `epoll_wait(epfd, maxevents, timeout_ms)`.
    #[serde(rename = "epoll_wait")]
    EpollWait {
        /// The epoll instance.
        epfd: Fd,
        /// At most this many events.
        maxevents: i32,
        /// Milliseconds to wait; -1 forever, 0 not at all.
        timeout_ms: i64,
    },
    /// `setrlimit(resource, soft, hard)`.
    SetRlimit {
        /// Resource (`RLIMIT_NOFILE` = 7).
        resource: i32,
        /// New soft limit.
        soft: u64,
        /// New hard limit.
        hard: u64,
    },
    /// `getrlimit(resource)`.
    GetRlimit {
        /// Resource (`RLIMIT_NOFILE` = 7).
        resource: i32,
    },
    /// `setsockopt(fd, level, name, value)` with an integer value.
    SetSockOpt {
        /// Socket.
        fd: Fd,
        /// Level (`SOL_SOCKET` = 1).
        level: i32,
        /// Option (`SO_REUSEADDR` = 2).
        name: i32,
        /// Value.
        value: i64,
    },
    /// `socketpair(domain, type, protocol)`: two connected sockets.
    SocketPair {
        /// Address family (only `AF_UNIX` = 1 has pairs).
        domain: i32,
        /// Socket type, with `SOCK_NONBLOCK`/`SOCK_CLOEXEC` or'ed in.
        ty: i32,
        /// Protocol (0 = default).
        protocol: i32,
    },
    /// `dup(fd)`: a second descriptor for the same open file.
    Dup {
        /// Descriptor.
        fd: Fd,
    },
    /// `dup2(oldfd, newfd)`: `newfd` (closed first if open) refers to what `oldfd` does.
    Dup2 {
        /// Existing descriptor.
        oldfd: Fd,
        /// The number it is copied to.
        newfd: Fd,
    },
    /// `mkdir(path, mode)`.
    Mkdir {
        /// Path on the process's host.
        path: String,
        /// Permission bits (before the umask).
        mode: u32,
    },
    /// `unlink(path)`.
    Unlink {
        /// Path on the process's host.
        path: String,
    },
    /// `chmod(path, mode)`.
    Chmod {
        /// Path on the process's host.
        path: String,
        /// Permission bits.
        mode: u32,
    },
    /// `chown(path, uid, gid)`: `u32::MAX` (-1) leaves that id as it is.
    Chown {
        /// Path on the process's host.
        path: String,
        /// New owner, or `u32::MAX`.
        uid: u32,
        /// New group, or `u32::MAX`.
        gid: u32,
    },
    /// `mknod(path, mode)`: a file that is not a directory (type bits of `mode`, 0 meaning a
    /// regular file), for `connect` to find something that is not a listening socket.
    Mknod {
        /// Path on the process's host.
        path: String,
        /// File type and permission bits (`S_IFREG | 0644`, or just `0644`).
        mode: u32,
    },
    /// `umask(mask)`: the process's file-creation mask; returns the old one.
    Umask {
        /// The new mask (only the permission bits count).
        mask: u32,
    },
    /// `sendmsg(fd, msg)`: data, an optional destination and control messages.
    SendMsg {
        /// Socket.
        fd: Fd,
        /// What to send.
        data: Payload,
        /// Destination (`msg_name`), if any.
        addr: Option<SockAddr>,
        /// Control messages (`msg_control`), in order.
        control: Vec<Cmsg>,
    },
    /// `recvmsg(fd, msg)`: data, the sender, and control messages.
    RecvMsg {
        /// Socket.
        fd: Fd,
        /// Buffer size (`msg_iov` length).
        len: usize,
        /// Control buffer size in bytes (`msg_controllen`).
        controllen: usize,
    },
}

/// A control message a program sends with `sendmsg` (`cmsg(3)`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cmsg {
    /// `SCM_RIGHTS`: these descriptors travel with the message.
    Rights(Vec<Fd>),
    /// `SCM_CREDENTIALS` with the sender's own pid, uid and gid.
    Credentials,
}

/// A process's credentials as `SO_PEERCRED` and `SCM_CREDENTIALS` report them
/// (`struct ucred`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ucred {
    /// Process id (0 when unknown).
    pub pid: u32,
    /// User id (`u32::MAX`, printed -1, when unknown).
    pub uid: u32,
    /// Group id (`u32::MAX`, printed -1, when unknown).
    pub gid: u32,
}

impl std::fmt::Display for Ucred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = |v: u32| if v == u32::MAX { -1 } else { i64::from(v) };
        write!(f, "pid={} uid={} gid={}", self.pid, id(self.uid), id(self.gid))
    }
}

/// `MSG_PEEK`: `recv` returns data without taking it from the queue.
pub const MSG_PEEK: i32 = 0x02;
/// `MSG_DONTWAIT`: this call does not wait, as if the socket were non-blocking.
pub const MSG_DONTWAIT: i32 = 0x40;

fn is_zero(v: &i32) -> bool {
    *v == 0
}

/// `MSG_TRUNC`: a datagram was longer than the buffer (`recvmsg`'s `msg_flags`).
pub const MSG_TRUNC: i32 = 0x20;
/// `MSG_CTRUNC`: control data did not fit (descriptors were dropped).
pub const MSG_CTRUNC: i32 = 0x08;

/// What a completed call returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SysReturn {
    /// A plain non-negative value (a descriptor, a count, 0).
    Value {
        /// The value.
        value: i64,
    },
    /// A file mode or mask, shown in octal (`umask`: the old mask, `022`).
    Mode {
        /// The bits.
        mode: u32,
    },
    /// `-1` with this errno.
    Error {
        /// The error.
        errno: Errno,
    },
    /// `0` and an address (`getsockname`, `getpeername`).
    Addr {
        /// The address.
        addr: SockAddr,
    },
    /// A new descriptor and the peer's address (`accept`).
    Accepted {
        /// The new descriptor.
        fd: Fd,
        /// The peer.
        peer: SockAddr,
    },
    /// An option's value (`getsockopt`); the call itself returns 0.
    OptVal {
        /// The option (to print `SO_ERROR` values as errno names).
        name: i32,
        /// The value.
        value: i64,
    },
    /// A resource limit (`getrlimit`); the call itself returns 0.
    Limit {
        /// Soft limit.
        soft: u64,
        /// Hard limit.
        hard: u64,
    },
    /// Ready descriptors and their events (`epoll_wait`); the value is their count.
    Events {
        /// (descriptor, events) pairs, in the order epoll reports them.
        events: Vec<(Fd, u32)>,
    },
    /// Bytes received and their sender (`recvfrom` on a datagram socket).
    DataFrom {
        /// The bytes.
        data: Vec<u8>,
        /// The sender.
        from: SockAddr,
    },
    /// Bytes received (`recv`); the value is their count.
    Data {
        /// The bytes.
        data: Vec<u8>,
    },
    /// Two new descriptors (`socketpair`); the call itself returns 0.
    Pair {
        /// The two ends, in order.
        fds: [Fd; 2],
    },
    /// `SO_PEERCRED` (`getsockopt`); the call itself returns 0.
    PeerCred {
        /// The peer's credentials.
        cred: Ucred,
    },
    /// A message received (`recvmsg`); the value is the count of bytes.
    Msg {
        /// The bytes.
        data: Vec<u8>,
        /// The sender, for datagram sockets.
        from: Option<SockAddr>,
        /// Descriptors received with `SCM_RIGHTS` (new numbers in the receiver).
        rights: Vec<Fd>,
        /// Credentials received with `SCM_CREDENTIALS`.
        creds: Option<Ucred>,
        /// `msg_flags`: `MSG_TRUNC`, `MSG_CTRUNC`.
        flags: i32,
    },
}

impl SysReturn {
    /// The integer `strace` shows after `=`.
    pub fn value(&self) -> i64 {
        match self {
            SysReturn::Value { value } => *value,
            SysReturn::Mode { mode } => i64::from(*mode),
            SysReturn::Error { .. } => -1,
            SysReturn::Addr { .. }
            | SysReturn::OptVal { .. }
            | SysReturn::Limit { .. }
            | SysReturn::Pair { .. }
            | SysReturn::PeerCred { .. } => 0,
            SysReturn::Events { events } => events.len() as i64,
            SysReturn::Accepted { fd, .. } => i64::from(*fd),
            SysReturn::Data { data } | SysReturn::DataFrom { data, .. } | SysReturn::Msg { data, .. } => {
                data.len() as i64
            }
        }
    }

    /// The errno, if the call failed.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            SysReturn::Error { errno } => Some(*errno),
            _ => None,
        }
    }
}

impl From<Errno> for SysReturn {
    fn from(errno: Errno) -> Self {
        SysReturn::Error { errno }
    }
}

/// The result of attempting a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The call finished.
    Done(SysReturn),
    /// The call must wait; the process is parked and will be made runnable again, after which
    /// the caller retries the same call with `resumed = true`.
    Blocked,
}
