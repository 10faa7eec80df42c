//! System call entry points: argument checks in Linux's order, then the socket layer.
//!
//! Each call either completes or blocks. A blocked call parks the process on the socket's wait
//! queue; when woken, the driver calls again with `resumed = true` and the call re-checks its
//! condition, exactly as the kernel's wait loops do.

use crate::addr::Family;
use crate::epoll::Waiter;
use crate::errno::Errno;
use crate::packet::Flags;
use crate::ports::{self, TupleUse};
use crate::process::{BlockedOn, Desc, NR_OPEN, Pid, RLIMIT_NOFILE, Rlimit};
use crate::socket::{ListenState, Proto, Socket, SocketId, TcpState, TimerKind};
use crate::syscall::{Fd, How, MSG_DONTWAIT, MSG_PEEK, Outcome, Payload, SockAddr, SysReturn, Syscall};
use crate::trace::{Event, Phase};
use crate::world::{World, task};
use sim_core::{Duration, Wake};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `AF_INET` (`include/linux/socket.h`).
pub const AF_INET: i32 = 2;
/// `AF_INET6`.
pub const AF_INET6: i32 = 10;
/// `AF_UNIX` (= `AF_LOCAL`).
pub const AF_UNIX: i32 = 1;
/// `IPPROTO_IPV6` (the option level).
pub const IPPROTO_IPV6: i32 = 41;
/// `IPV6_V6ONLY`.
pub const IPV6_V6ONLY: i32 = 26;
/// `SOCK_STREAM` (`include/linux/net.h`).
pub const SOCK_STREAM: i32 = 1;
/// `SOCK_DGRAM`.
pub const SOCK_DGRAM: i32 = 2;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: i32 = 17;
/// `SOCK_NONBLOCK` (= `O_NONBLOCK`).
pub const SOCK_NONBLOCK: i32 = 0o4000;
/// `SOCK_CLOEXEC` (= `O_CLOEXEC`).
pub const SOCK_CLOEXEC: i32 = 0o2000000;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: i32 = 6;
/// `SOL_SOCKET`.
pub const SOL_SOCKET: i32 = 1;
/// `SO_REUSEADDR`.
pub const SO_REUSEADDR: i32 = 2;

/// The largest segment payload. Linux derives it from the route's MTU (65483 on loopback,
/// 1460 on Ethernet); socksim uses loopback's for every network.
pub(crate) const MSS: usize = 65483;

/// The initial retransmission timeout, `TCP_TIMEOUT_INIT` (1 s, RFC 6298).
const RTO_INIT: Duration = Duration::from_secs(1);

/// TIME_WAIT's length, `TCP_TIMEWAIT_LEN` (60 s, `include/net/tcp.h`).
pub const TIME_WAIT_LEN: Duration = Duration::from_secs(60);

type SysResult = Result<SysReturn, Errno>;

pub(crate) enum Step {
    Done(SysResult),
    /// Wait on this queue; `exclusive` as `prepare_to_wait_exclusive` (accept) or not.
    Block(BlockedOn, bool),
}

/// `F_GETFL` (`include/uapi/asm-generic/fcntl.h`).
pub const F_GETFL: i32 = 3;
/// `F_SETFL`.
pub const F_SETFL: i32 = 4;
/// `O_RDWR`: what `F_GETFL` reports for a socket besides `O_NONBLOCK`.
pub const O_RDWR: i64 = 2;
/// `O_NONBLOCK`.
pub const O_NONBLOCK: i64 = 0o4000;
/// `SO_TYPE`.
pub const SO_TYPE: i32 = 3;
/// `SO_ERROR`.
pub const SO_ERROR: i32 = 4;
/// `SO_REUSEPORT`.
pub const SO_REUSEPORT: i32 = 15;
/// `SO_ACCEPTCONN`.
pub const SO_ACCEPTCONN: i32 = 30;
/// `SOL_IP` (= `IPPROTO_IP`), the IPv4 option level.
pub const SOL_IP: i32 = 0;
/// `IP_BIND_ADDRESS_NO_PORT`.
pub const IP_BIND_ADDRESS_NO_PORT: i32 = 24;
/// `IP_TTL`: the TTL of the socket's packets.
pub const IP_TTL: i32 = 2;
/// `IPV6_UNICAST_HOPS`: the hop limit of an IPv6 socket's packets.
pub const IPV6_UNICAST_HOPS: i32 = 16;
/// `SO_SNDBUF`.
pub const SO_SNDBUF: i32 = 7;
/// `SO_RCVBUF`.
pub const SO_RCVBUF: i32 = 8;
/// `SO_LINGER`.
pub const SO_LINGER: i32 = 13;
/// `net.core.wmem_max` / `rmem_max` (212992): setsockopt values above are clamped.
const RMEM_MAX: u32 = 212_992;
/// `SOCK_MIN_SNDBUF` (2 × (2048 + sizeof(struct sk_buff)), 4608 on x86_64).
const SOCK_MIN_SNDBUF: u32 = 4608;
/// `SOCK_MIN_RCVBUF` (2048 + sizeof(struct sk_buff), 2304 on x86_64).
const SOCK_MIN_RCVBUF: u32 = 2304;

impl World {
    /// Makes (or, with `resumed`, retries after a wake-up) one call for `pid`, records it in
    /// the trace, and parks the process if it must wait.
    pub fn syscall(&mut self, pid: Pid, call: &Syscall, resumed: bool) -> Outcome {
        let step = self.dispatch(pid, call, resumed);
        match step {
            Step::Done(result) => {
                let ret = result.unwrap_or_else(SysReturn::from);
                let phase = if resumed { Phase::Resumed } else { Phase::Complete };
                let p = self.process_mut(pid);
                p.blocked_in = None;
                p.blocked_on = None;
                p.deadline = None;
                p.timed_out = false;
                self.sched.make_runnable(task(pid));
                let traced = ret.clone();
                self.trace(|| Event::Syscall {
                    pid: pid.0,
                    call: call.clone(),
                    ret: Some(traced),
                    phase,
                });
                Outcome::Done(ret)
            }
            Step::Block(on, exclusive) => {
                self.sched.park(task(pid));
                match on {
                    BlockedOn::Socket(s) => self.sockets.get_mut(s).wait.add(Waiter::Task(task(pid)), exclusive),
                    BlockedOn::Epoll(e) => self.epoll_mut(e).wait.add(task(pid), exclusive),
                    BlockedOn::Unix(u) => self.unix_wait(u, false, task(pid), exclusive),
                    BlockedOn::UnixPeer(u) => self.unix_wait(u, true, task(pid), exclusive),
                }
                let p = self.process_mut(pid);
                p.blocked_on = Some(on);
                if !resumed {
                    p.blocked_in = Some(call.clone());
                    self.trace(|| Event::Syscall {
                        pid: pid.0,
                        call: call.clone(),
                        ret: None,
                        phase: Phase::Blocked,
                    });
                }
                Outcome::Blocked
            }
        }
    }

    /// `recv(..., MSG_DONTWAIT)`: the call as on a non-blocking socket (`sock_rcvtimeo(sk,
    /// flags & MSG_DONTWAIT)` is 0), leaving the socket's own `O_NONBLOCK` as it was.
    fn recv_dontwait(&mut self, pid: Pid, fd: Fd, call: &Syscall, resumed: bool) -> Step {
        let plain = match call.clone() {
            Syscall::Recv { fd, len, flags } => Syscall::Recv {
                fd,
                len,
                flags: flags & !MSG_DONTWAIT,
            },
            Syscall::RecvFrom { fd, len, flags } => Syscall::RecvFrom {
                fd,
                len,
                flags: flags & !MSG_DONTWAIT,
            },
            _ => unreachable!("only recv and recvfrom"),
        };
        let desc = self.process(pid).fds.get(fd);
        let was = match desc {
            Some(Desc::Socket(s)) => {
                let s = self.sockets.get_mut(s);
                let was = s.nonblocking();
                s.set_nonblocking(true);
                Some(was)
            }
            Some(Desc::Unix(u)) => Some(std::mem::replace(&mut self.unix.get_mut(u).nonblocking, true)),
            _ => None,
        };
        let step = self.dispatch(pid, &plain, resumed);
        match (desc, was) {
            (Some(Desc::Socket(s)), Some(was)) => self.sockets.get_mut(s).set_nonblocking(was),
            (Some(Desc::Unix(u)), Some(was)) => self.unix.get_mut(u).nonblocking = was,
            _ => {}
        }
        step
    }

    /// `recv(..., MSG_PEEK)` on an internet socket when there is something to read: TCP's
    /// first `len` bytes (`tcp_recvmsg`: `peek_seq`), UDP's first datagram with its sender
    /// (`__skb_recv_udp` with `MSG_PEEK`), left in the queue and without a window update.
    /// `None` when the plain call decides (a listener, a zero length, a pending UDP error,
    /// nothing queued): those paths take nothing from the queue.
    fn inet_peek(&mut self, sock: SocketId, len: usize, with_addr: bool) -> Option<Step> {
        let s = self.sockets.get(sock);
        if let Some(udp) = s.udp.as_ref() {
            if s.error.is_some() {
                return None;
            }
            let d = udp.queue.front()?;
            let data = d.data[..len.min(d.data.len())].to_vec();
            let from = crate::addr::for_family(d.from, s.family);
            return Some(Step::Done(Ok(if with_addr {
                SysReturn::DataFrom {
                    data,
                    from: from.into(),
                }
            } else {
                SysReturn::Data { data }
            })));
        }
        if s.state == TcpState::Listen || len == 0 || s.rx.is_empty() {
            return None;
        }
        Some(Step::Done(Ok(SysReturn::Data {
            data: s.rx.peek_front(len),
        })))
    }

    /// `accept4()` (`__sys_accept4`, `__sys_accept4_file`): a closed descriptor is `EBADF`,
    /// then flags other than `SOCK_NONBLOCK` and `SOCK_CLOEXEC` are `EINVAL` (before
    /// `ENOTSOCK`); then `accept`, and the new descriptor gets `O_NONBLOCK` if asked
    /// (`SOCK_CLOEXEC` changes nothing here: there is no `exec`).
    fn sys_accept4(&mut self, pid: Pid, fd: Fd, flags: i32, resumed: bool) -> Step {
        if self.process(pid).fds.get(fd).is_none() {
            return Step::Done(Err(Errno::EBADF));
        }
        if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
            return Step::Done(Err(Errno::EINVAL));
        }
        let step = self.dispatch(pid, &Syscall::Accept { fd }, resumed);
        if let Step::Done(Ok(SysReturn::Accepted { fd: new, .. })) = &step
            && flags & SOCK_NONBLOCK != 0
        {
            let set = self.sys_fcntl(pid, *new, F_SETFL, O_NONBLOCK);
            debug_assert!(set.is_ok(), "the new descriptor is a socket");
        }
        step
    }

    pub(crate) fn dispatch(&mut self, pid: Pid, call: &Syscall, resumed: bool) -> Step {
        if let Syscall::Accept4 { fd, flags } = *call {
            return self.sys_accept4(pid, fd, flags, resumed);
        }
        if let Syscall::Recv { fd, flags, .. } | Syscall::RecvFrom { fd, flags, .. } = *call
            && flags & MSG_DONTWAIT != 0
        {
            return self.recv_dontwait(pid, fd, call, resumed);
        }
        let fd = match *call {
            Syscall::Socket { domain, ty, protocol } => return Step::Done(self.sys_socket(pid, domain, ty, protocol)),
            Syscall::Close { fd } => return Step::Done(self.sys_close(pid, fd)),
            Syscall::Fcntl { fd, cmd, arg } => return Step::Done(self.sys_fcntl(pid, fd, cmd, arg)),
            Syscall::EpollCreate1 { flags } => return Step::Done(self.sys_epoll_create1(pid, flags)),
            Syscall::SetRlimit { resource, soft, hard } => {
                return Step::Done(self.sys_setrlimit(pid, resource, soft, hard));
            }
            Syscall::GetRlimit { resource } => return Step::Done(self.sys_getrlimit(pid, resource)),
            Syscall::SocketPair { domain, ty, protocol } => {
                return Step::Done(self.sys_socketpair(pid, domain, ty, protocol));
            }
            Syscall::Dup { fd } => return Step::Done(self.sys_dup(pid, fd)),
            Syscall::Dup2 { oldfd, newfd } => return Step::Done(self.sys_dup2(pid, oldfd, newfd)),
            Syscall::Mkdir { .. }
            | Syscall::Unlink { .. }
            | Syscall::Chmod { .. }
            | Syscall::Chown { .. }
            | Syscall::Mknod { .. }
            | Syscall::Umask { .. } => {
                return Step::Done(self.sys_path_call(pid, call));
            }
            Syscall::EpollCtl { epfd, op, fd, events } => {
                return Step::Done(self.sys_epoll_ctl(pid, epfd, op, fd, events));
            }
            Syscall::EpollWait {
                epfd,
                maxevents,
                timeout_ms,
            } => {
                return self.sys_epoll_wait(pid, epfd, maxevents, timeout_ms, resumed);
            }
            Syscall::Bind { fd, .. }
            | Syscall::Listen { fd, .. }
            | Syscall::Accept { fd }
            | Syscall::Connect { fd, .. }
            | Syscall::Send { fd, .. }
            | Syscall::SendTo { fd, .. }
            | Syscall::Recv { fd, .. }
            | Syscall::RecvFrom { fd, .. }
            | Syscall::Shutdown { fd, .. }
            | Syscall::GetSockName { fd }
            | Syscall::GetPeerName { fd }
            | Syscall::GetSockOpt { fd, .. }
            | Syscall::SetSockOpt { fd, .. }
            | Syscall::SendMsg { fd, .. }
            | Syscall::RecvMsg { fd, .. } => fd,
            Syscall::Accept4 { .. } => unreachable!("handled above"),
        };
        // sockfd_lookup_light(): EBADF for a closed number, ENOTSOCK for a non-socket.
        let sock = match self.process(pid).fds.get(fd) {
            None => return Step::Done(Err(Errno::EBADF)),
            Some(Desc::Stdio | Desc::Epoll(_)) => return Step::Done(Err(Errno::ENOTSOCK)),
            Some(Desc::Socket(s)) => s,
            Some(Desc::Unix(u)) => return self.unix_dispatch(pid, u, call, resumed),
        };
        // sendmsg()/recvmsg() on an internet socket: send/recv with a message header.
        if matches!(call, Syscall::SendMsg { .. } | Syscall::RecvMsg { .. }) {
            return self.inet_msg(pid, call, resumed);
        }
        // MSG_PEEK with something to read: a copy of it, left in the queue.
        if let Syscall::Recv { len, flags, .. } | Syscall::RecvFrom { len, flags, .. } = *call
            && flags & MSG_PEEK != 0
            && let Some(step) = self.inet_peek(sock, len, matches!(call, Syscall::RecvFrom { .. }))
        {
            return step;
        }
        // inet_bind(), inet_dgram_connect(), tcp_v4_connect(): an internet socket given an
        // address of another family (AF_UNIX) is EAFNOSUPPORT.
        if matches!(
            call,
            Syscall::Bind {
                addr: SockAddr::Unix(_) | SockAddr::Unspec,
                ..
            } | Syscall::Connect {
                addr: SockAddr::Unix(_),
                ..
            } | Syscall::SendTo {
                addr: SockAddr::Unix(_),
                ..
            }
        ) {
            return Step::Done(Err(Errno::EAFNOSUPPORT));
        }
        if self.sockets.get(sock).proto == Proto::Udp
            && let Some(step) = self.udp_dispatch(pid, sock, call)
        {
            return step;
        }
        let result = match call {
            Syscall::Bind {
                addr: SockAddr::Inet(addr),
                ..
            } => self.sys_bind(pid, sock, *addr),
            Syscall::Listen { backlog, .. } => self.sys_listen(sock, *backlog),
            Syscall::Accept { .. } => return self.sys_accept(pid, sock),
            Syscall::Connect {
                addr: SockAddr::Inet(addr),
                ..
            } => return self.sys_connect(sock, *addr, resumed),
            Syscall::Connect {
                addr: SockAddr::Unspec, ..
            } => self.tcp_disconnect(sock),
            // TCP ignores a destination given to sendto() and reports no sender to recvfrom()
            // (tcp_sendmsg, tcp_recvmsg).
            Syscall::Send { data, .. } | Syscall::SendTo { data, .. } => return self.sys_send(sock, data),
            Syscall::Recv { len, .. } | Syscall::RecvFrom { len, .. } => return self.sys_recv(sock, *len),
            Syscall::Shutdown { how, .. } => self.sys_shutdown(sock, *how),
            Syscall::GetSockName { .. } => {
                let s = self.sockets.get(sock);
                // inet_getname() reports `inet_sport`, which outlives a released port.
                let mut local = s.local;
                if local.port() == 0 {
                    local.set_port(s.stale_port);
                }
                Ok(SysReturn::Addr {
                    addr: crate::addr::for_family(local, s.family).into(),
                })
            }
            Syscall::GetPeerName { .. } => self.sys_getpeername(sock),
            Syscall::GetSockOpt { level, name, .. } => self.sys_getsockopt(sock, *level, *name),
            Syscall::SetSockOpt { level, name, value, .. } => self.sys_setsockopt(sock, *level, *name, *value),
            _ => unreachable!("handled above"),
        };
        Step::Done(result)
    }

    /// The calls whose UDP behaviour differs from TCP's; `None` for the shared ones
    /// (`getsockname`, options).
    fn udp_dispatch(&mut self, pid: Pid, sock: SocketId, call: &Syscall) -> Option<Step> {
        let result = match call {
            Syscall::Bind {
                addr: SockAddr::Inet(addr),
                ..
            } => self.sys_bind(pid, sock, *addr),
            Syscall::Connect {
                addr: SockAddr::Inet(addr),
                ..
            } => self
                .udp_sockaddr(sock, *addr, Errno::EAFNOSUPPORT)
                .and_then(|a| self.udp_connect(sock, a)),
            Syscall::Connect {
                addr: SockAddr::Unspec, ..
            } => self.udp_disconnect(sock),
            Syscall::Send { data, .. } => return Some(self.udp_sendto(sock, data, None)),
            Syscall::SendTo {
                data,
                addr: SockAddr::Inet(addr),
                ..
            } => match self.udp_sockaddr(sock, *addr, Errno::ENETUNREACH) {
                Ok(a) => return Some(self.udp_sendto(sock, data, Some(a))),
                Err(e) => Err(e),
            },
            // udp_sendmsg(): an AF_UNSPEC destination carries port 0.
            Syscall::SendTo {
                addr: SockAddr::Unspec, ..
            } => Err(Errno::EINVAL),
            Syscall::Recv { len, .. } => return Some(self.udp_recv(sock, *len, false)),
            Syscall::RecvFrom { len, .. } => return Some(self.udp_recv(sock, *len, true)),
            // inet_listen(), inet_accept(): not for datagram sockets.
            Syscall::Listen { .. } | Syscall::Accept { .. } => Err(Errno::EOPNOTSUPP),
            Syscall::GetPeerName { .. } => {
                let s = self.sockets.get(sock);
                if s.state == TcpState::Established {
                    Ok(SysReturn::Addr {
                        addr: crate::addr::for_family(s.remote, s.family).into(),
                    })
                } else {
                    Err(Errno::ENOTCONN)
                }
            }
            Syscall::Shutdown { how, .. } => {
                // inet_shutdown(): an unconnected datagram socket is ENOTCONN.
                let s = self.sockets.get_mut(sock);
                if s.state != TcpState::Established {
                    Err(Errno::ENOTCONN)
                } else {
                    if *how != How::Write {
                        s.set_shut_rd(true);
                    }
                    if *how != How::Read {
                        s.set_shut_wr(true);
                    }
                    self.wake(sock, Wake::All, 0);
                    Ok(SysReturn::Value { value: 0 })
                }
            }
            _ => return None,
        };
        Some(Step::Done(result))
    }

    /// A UDP destination in wire form. `AF_INET6` UDP sockets also take `sockaddr_in`
    /// (`ip6_datagram_connect`, `udpv6_sendmsg` hand them to the IPv4 code) unless
    /// `IPV6_V6ONLY`, which fails with `v6only_error`; `AF_INET` sockets refuse IPv6.
    fn udp_sockaddr(&self, sock: SocketId, addr: SocketAddr, v6only_error: Errno) -> Result<SocketAddr, Errno> {
        let s = self.sockets.get(sock);
        let wire = crate::addr::to_wire(addr);
        match (s.family, addr) {
            (Family::Inet, SocketAddr::V6(_)) => Err(Errno::EAFNOSUPPORT),
            (Family::Inet6, _) if s.v6only() && wire.is_ipv4() => Err(v6only_error),
            _ => Ok(wire),
        }
    }

    /// `connect(AF_UNSPEC)` on TCP (`tcp_disconnect`): a listener stops, a connection is
    /// aborted with a reset; the socket can be used again.
    fn tcp_disconnect(&mut self, sock: SocketId) -> SysResult {
        match self.sockets.get(sock).state {
            TcpState::Closed => {}
            TcpState::Listen => self.stop_listening(sock),
            TcpState::SynSent => self.tcp_done(sock),
            _ => {
                self.send_reset_for(sock);
                self.tcp_done(sock);
            }
        }
        let s = self.sockets.get_mut(sock);
        s.set_connecting(false);
        s.set_shut_rd(false);
        s.set_shut_wr(false);
        s.rx.clear();
        s.set_rx_fin(false);
        Ok(SysReturn::Value { value: 0 })
    }

    /// Fails with `EMFILE` when the next descriptor would reach `RLIMIT_NOFILE`
    /// (`get_unused_fd_flags` -> `alloc_fd`).
    pub(crate) fn fd_available(&self, pid: Pid) -> Result<(), Errno> {
        let p = self.process(pid);
        if u64::try_from(p.fds.next_fd()).unwrap_or(u64::MAX) >= p.nofile.soft {
            return Err(Errno::EMFILE);
        }
        Ok(())
    }

    /// `setrlimit()` (`do_prlimit`): soft above hard is `EINVAL`; raising the hard limit needs
    /// `CAP_SYS_RESOURCE` (every simulated process is root) and stays within `fs.nr_open`
    /// (`EPERM` above it).
    fn sys_setrlimit(&mut self, pid: Pid, resource: i32, soft: u64, hard: u64) -> SysResult {
        if resource != RLIMIT_NOFILE {
            return Err(Errno::EINVAL);
        }
        if soft > hard {
            return Err(Errno::EINVAL);
        }
        if hard > NR_OPEN {
            return Err(Errno::EPERM);
        }
        self.process_mut(pid).nofile = Rlimit { soft, hard };
        Ok(SysReturn::Value { value: 0 })
    }

    /// `getrlimit()`.
    fn sys_getrlimit(&mut self, pid: Pid, resource: i32) -> SysResult {
        if resource != RLIMIT_NOFILE {
            return Err(Errno::EINVAL);
        }
        let Rlimit { soft, hard } = self.process(pid).nofile;
        Ok(SysReturn::Limit { soft, hard })
    }

    /// `fcntl()` (`do_fcntl`, `setfl`): only the status flags are simulated.
    fn sys_fcntl(&mut self, pid: Pid, fd: Fd, cmd: i32, arg: i64) -> SysResult {
        let desc = self.process(pid).fds.get(fd).ok_or(Errno::EBADF)?;
        if let Desc::Unix(u) = desc {
            return self.unix_fcntl(u, cmd, arg);
        }
        let Desc::Socket(sock) = desc else {
            // Other descriptors keep O_NONBLOCK in their open file too (setfl()); standard
            // streams report plain O_RDWR.
            return match (cmd, desc) {
                (F_GETFL, Desc::Epoll(ep)) => Ok(SysReturn::Value {
                    value: O_RDWR | self.epoll(ep).status_flags,
                }),
                (F_SETFL, Desc::Epoll(ep)) => {
                    self.epoll_mut(ep).status_flags = arg & O_NONBLOCK;
                    Ok(SysReturn::Value { value: 0 })
                }
                (F_GETFL, _) => Ok(SysReturn::Value { value: O_RDWR }),
                (F_SETFL, _) => Ok(SysReturn::Value { value: 0 }),
                _ => Err(Errno::EINVAL),
            };
        };
        match cmd {
            F_GETFL => {
                let nonblocking = self.sockets.get(sock).nonblocking();
                Ok(SysReturn::Value {
                    value: O_RDWR | if nonblocking { O_NONBLOCK } else { 0 },
                })
            }
            F_SETFL => {
                self.sockets.get_mut(sock).set_nonblocking(arg & O_NONBLOCK != 0);
                Ok(SysReturn::Value { value: 0 })
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// `socket()` (`__sys_socket`, `inet_create`, `inet6_create`).
    fn sys_socket(&mut self, pid: Pid, domain: i32, ty: i32, protocol: i32) -> SysResult {
        let family = match domain {
            AF_INET => Family::Inet,
            AF_INET6 => Family::Inet6,
            AF_UNIX => return self.unix_socket(pid, ty, protocol),
            _ => return Err(Errno::EAFNOSUPPORT),
        };
        // __sys_socket(): flags other than NONBLOCK/CLOEXEC in the type are EINVAL.
        let flags = ty & !0xf;
        if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
            return Err(Errno::EINVAL);
        }
        // inet_create(): the protocol must match the type's (0 means the type's default).
        let proto = match (ty & 0xf, protocol) {
            (SOCK_STREAM, 0 | IPPROTO_TCP) => Proto::Tcp,
            (SOCK_DGRAM, 0 | IPPROTO_UDP) => Proto::Udp,
            (SOCK_STREAM | SOCK_DGRAM, _) => return Err(Errno::EPROTONOSUPPORT),
            _ => return Err(Errno::ESOCKTNOSUPPORT),
        };
        // sock_map_fd() after sock_create(): the family and type are checked first.
        self.fd_available(pid)?;
        let host = self.process(pid).host;
        let mut s = Socket::new(host, family);
        s.proto = proto;
        s.uid = self.process(pid).cred.uid;
        if proto == Proto::Udp {
            s.udp = Some(Box::default());
            // sock_init_data(): net.core.wmem_default / rmem_default (212992); only TCP
            // replaces them with tcp_wmem[1] / tcp_rmem[1].
            s.sndbuf = 212_992;
            s.rcvbuf = 212_992;
        }
        s.set_nonblocking(flags & SOCK_NONBLOCK != 0);
        s.refs = 1;
        let id = self.sockets.insert(s);
        let fd = self.process_mut(pid).fds.install(Desc::Socket(id));
        Ok(SysReturn::Value { value: i64::from(fd) })
    }

    /// Checks a socket address's family against the socket's (`inet_bind`/`inet6_bind`,
    /// `tcp_v4_connect`/`tcp_v6_connect`): an `AF_INET` socket given a `sockaddr_in6` is
    /// `EAFNOSUPPORT`; an `AF_INET6` socket given a (too short) `sockaddr_in` is `EINVAL`.
    /// Returns the address in wire form.
    fn sockaddr_for(&self, sock: SocketId, addr: SocketAddr) -> Result<SocketAddr, Errno> {
        match (self.sockets.get(sock).family, addr) {
            (Family::Inet, SocketAddr::V6(_)) => Err(Errno::EAFNOSUPPORT),
            (Family::Inet6, SocketAddr::V4(_)) => Err(Errno::EINVAL),
            (_, addr) => Ok(crate::addr::to_wire(addr)),
        }
    }

    /// `bind()` (`__inet_bind` in `net/ipv4/af_inet.c`, `__inet6_bind` in
    /// `net/ipv6/af_inet6.c`): family, then the address, then "already bound", then the port.
    fn sys_bind(&mut self, pid: Pid, sock: SocketId, addr: SocketAddr) -> SysResult {
        let mapped = matches!(addr, SocketAddr::V6(v6) if v6.ip().to_ipv4_mapped().is_some());
        let addr = self.sockaddr_for(sock, addr)?;
        let s = self.sockets.get(sock);
        let host = s.host;
        // __inet6_bind() checks "already bound" before the address; __inet_bind() after it.
        if s.family == Family::Inet6 && (s.in_bind_table() || s.state != TcpState::Closed) {
            return Err(Errno::EINVAL);
        }
        // __inet6_bind(): a v4-mapped address on an IPV6_V6ONLY socket is EINVAL.
        if mapped && s.v6only() {
            return Err(Errno::EINVAL);
        }
        // inet_addr_valid_or_nonlocal() / ipv6_chk_addr(): only local or wildcard addresses
        // (no ip_nonlocal_bind, IP_FREEBIND or IP_TRANSPARENT).
        if !addr.ip().is_unspecified() && !self.hosts[host.0 as usize].is_local(addr.ip()) {
            return Err(Errno::EADDRNOTAVAIL);
        }
        // inet_port_requires_bind_service(): ports below ip_unprivileged_port_start need
        // CAP_NET_BIND_SERVICE, which only root has here.
        let unprivileged_start = self.hosts[host.0 as usize].sysctl.ip_unprivileged_port_start;
        if addr.port() != 0 && addr.port() < unprivileged_start && self.process(pid).cred.uid != 0 {
            return Err(Errno::EACCES);
        }
        if self.sockets.get(sock).proto == Proto::Udp {
            return self.udp_bind(sock, addr);
        }
        let s = self.sockets.get(sock);
        // "if (sk->sk_state != TCP_CLOSE || inet->inet_num) err = -EINVAL".
        if s.state != TcpState::Closed || s.local.port() != 0 || s.in_bind_table() {
            return Err(Errno::EINVAL);
        }
        if addr.port() == 0 && s.bind_no_port() {
            // __inet_bind() with IP_BIND_ADDRESS_NO_PORT: remember the address, defer the port.
            let s = self.sockets.get_mut(sock);
            s.local = SocketAddr::new(addr.ip(), 0);
            s.set_addr_locked(!addr.ip().is_unspecified());
            return Ok(SysReturn::Value { value: 0 });
        }
        let port = if addr.port() == 0 {
            ports::find_open_port(&mut self.hosts[host.0 as usize], &self.sockets, sock, addr.ip())?
        } else {
            if ports::bind_conflict(
                &self.hosts[host.0 as usize],
                &self.sockets,
                sock,
                addr.ip(),
                addr.port(),
                true,
                true,
            ) {
                return Err(Errno::EADDRINUSE);
            }
            addr.port()
        };
        let s = self.sockets.get_mut(sock);
        s.local = SocketAddr::new(addr.ip(), port);
        s.set_user_bound(true);
        s.set_addr_locked(!addr.ip().is_unspecified());
        self.bucket_add(sock, port, true);
        Ok(SysReturn::Value { value: 0 })
    }

    /// `listen()` (`__sys_listen`, `inet_listen`, `inet_csk_listen_start`).
    fn sys_listen(&mut self, sock: SocketId, backlog: i32) -> SysResult {
        let s = self.sockets.get(sock);
        let host = s.host;
        // __sys_listen(): "if ((unsigned int)backlog > somaxconn) backlog = somaxconn", so a
        // negative backlog means somaxconn.
        let somaxconn = self.hosts[host.0 as usize].sysctl.somaxconn;
        let max_backlog = if backlog < 0 || backlog as u32 > somaxconn {
            somaxconn
        } else {
            backlog as u32
        };
        match s.state {
            // Listening already: only the backlog changes.
            TcpState::Listen => {
                self.sockets
                    .get_mut(sock)
                    .listen
                    .as_mut()
                    .expect("listener state")
                    .max_backlog = max_backlog;
                return Ok(SysReturn::Value { value: 0 });
            }
            TcpState::Closed => {}
            _ => return Err(Errno::EINVAL),
        }
        // inet_csk_listen_start(): get_port() again — autobind if unbound, else re-check the
        // bound port against listeners (the second of two SO_REUSEADDR sockets fails here).
        if !s.in_bind_table() {
            let port = ports::find_open_port(&mut self.hosts[host.0 as usize], &self.sockets, sock, s.local.ip())?;
            self.sockets.get_mut(sock).set_user_bound(true);
            self.bucket_add(sock, port, true);
        } else if ports::bind_conflict(
            &self.hosts[host.0 as usize],
            &self.sockets,
            sock,
            s.local.ip(),
            s.local.port(),
            true,
            true,
        ) {
            return Err(Errno::EADDRINUSE);
        }
        let s = self.sockets.get_mut(sock);
        s.state = TcpState::Listen;
        s.listen = Some(Box::new(ListenState {
            max_backlog,
            ..Default::default()
        }));
        let local = s.local;
        self.hosts[host.0 as usize]
            .tcp
            .listening
            .get_or_insert_with(local, Vec::new)
            .push(sock);
        Ok(SysReturn::Value { value: 0 })
    }

    /// `accept()` (`inet_csk_accept`): the oldest established child, or wait (exclusively:
    /// one waiter is woken per connection, `inet_csk_wait_for_connect`).
    fn sys_accept(&mut self, pid: Pid, sock: SocketId) -> Step {
        // __sys_accept4_file(): the descriptor is reserved before anything is dequeued.
        if let Err(e) = self.fd_available(pid) {
            return Step::Done(Err(e));
        }
        let s = self.sockets.get_mut(sock);
        let Some(listen) = s.listen.as_mut().filter(|_| s.state == TcpState::Listen) else {
            return Step::Done(Err(Errno::EINVAL));
        };
        let Some(child) = listen.accept_queue.pop_front() else {
            // inet_csk_wait_for_connect(): an exclusive wait, so one accept() wakes per connection.
            return if s.nonblocking() {
                Step::Done(Err(Errno::EAGAIN))
            } else {
                Step::Block(BlockedOn::Socket(sock), true)
            };
        };
        let c = self.sockets.get_mut(child);
        c.set_parent(None);
        c.refs = 1;
        // An AF_INET6 listener reports IPv4 peers as v4-mapped addresses.
        let peer = crate::addr::for_family(c.remote, c.family);
        let fd = self.process_mut(pid).fds.install(Desc::Socket(child));
        Step::Done(Ok(SysReturn::Accepted { fd, peer: peer.into() }))
    }

    /// `connect()` (`__inet_stream_connect`, `tcp_v4_connect`, `tcp_v6_connect`).
    fn sys_connect(&mut self, sock: SocketId, addr: SocketAddr, resumed: bool) -> Step {
        let s = self.sockets.get(sock);
        if s.connecting() || resumed {
            return self.connect_progress(sock, resumed);
        }
        // SS_CONNECTED (connected once, even if reset since: a RST does not clear it), or
        // SS_UNCONNECTED but not TCP_CLOSE (listening): EISCONN.
        if s.state != TcpState::Closed || s.ss_connected() {
            return Step::Done(Err(Errno::EISCONN));
        }
        let host = s.host;
        let mapped = matches!(addr, SocketAddr::V6(v6) if v6.ip().to_ipv4_mapped().is_some());
        let (family, v6only) = (s.family, s.v6only());
        let mut addr = match self.sockaddr_for(sock, addr) {
            Ok(a) => a,
            Err(e) => return Step::Done(Err(e)),
        };
        // tcp_v6_connect(): a v4-mapped peer on an IPV6_V6ONLY socket is unreachable.
        if mapped && v6only {
            return Step::Done(Err(Errno::ENETUNREACH));
        }
        let s = self.sockets.get(sock);
        // Connecting to the wildcard means this host: ip_route_output_key_hash_rcu() turns
        // 0.0.0.0 into 127.0.0.1, tcp_v6_connect() turns :: into ::1 (or into 127.0.0.1 for
        // a socket bound to a v4-mapped address).
        if addr.ip().is_unspecified() {
            let loopback = match (addr.ip(), s.local.ip()) {
                (IpAddr::V6(_), IpAddr::V6(_)) if family == Family::Inet6 => IpAddr::V6(Ipv6Addr::LOCALHOST),
                _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
            };
            addr.set_ip(loopback);
        }
        // ip_route_connect(): the source address, from the bound address or the route.
        let saddr = if s.local.ip().is_unspecified() {
            match self.source_addr(host, addr.ip()) {
                Some(a) => a,
                None => return Step::Done(Err(Errno::ENETUNREACH)),
            }
        } else if s.local.is_ipv4() != addr.is_ipv4() {
            // A socket bound to an address of the other IP version has no route there.
            return Step::Done(Err(Errno::ENETUNREACH));
        } else {
            s.local.ip()
        };
        let now = self.now;
        let h = &mut self.hosts[host.0 as usize];
        let tuple = if s.in_bind_table() {
            // Bound port: only the 4-tuple must be unique (`__inet_hash_connect`, port != 0).
            let local = SocketAddr::new(saddr, s.local.port());
            match ports::check_established(h, &self.sockets, local, addr, true, now) {
                Some(t) => t,
                None => return Step::Done(Err(Errno::EADDRNOTAVAIL)),
            }
        } else {
            match ports::connect_port(h, &self.sockets, saddr, addr, now) {
                Ok(found) => {
                    self.sockets.get_mut(sock).local = SocketAddr::new(saddr, found.port);
                    self.bucket_add(sock, found.port, false);
                    found.tuple
                }
                Err(e) => return Step::Done(Err(e)),
            }
        };
        let iss = match tuple {
            // tcp_twsk_unique(): the new connection starts past the old one's sequence space.
            TupleUse::RecycleTimeWait(tw) => {
                let seq = self.sockets.get(tw).snd_nxt.wrapping_add(65537);
                self.tcp_done(tw);
                if seq == 0 { 1 } else { seq }
            }
            TupleUse::Free => self.hosts[host.0 as usize].isn_rng.next_u32(),
        };
        let s = self.sockets.get_mut(sock);
        s.local = SocketAddr::new(saddr, s.local.port());
        s.remote = addr;
        s.state = TcpState::SynSent;
        s.iss = iss;
        s.snd_una = iss;
        s.snd_nxt = iss.wrapping_add(1);
        s.error = None;
        s.syn_retries = 0;
        // A new connection starts without round-trip history (tcp_disconnect() resets it).
        s.srtt_us = 0;
        s.rttvar_us = 0;
        s.rto_us = crate::socket::RTO_INIT_US;
        s.backoff = 0;
        let nonblocking = s.nonblocking();
        s.set_connecting(true);
        let syn = self.segment_from(sock, Flags::SYN, iss, None);
        self.ehash_insert(sock);
        self.arm_timer(sock, RTO_INIT, TimerKind::SynRetransmit);
        self.start_rtt_timing(sock, iss.wrapping_add(1));
        self.transmit(host, syn);
        if nonblocking {
            return Step::Done(Err(Errno::EINPROGRESS));
        }
        // On loopback the answer may already be here; otherwise wait for it.
        self.connect_progress(sock, true)
    }

    /// A connect() is under way (`sock->state == SS_CONNECTING`): wait for it, report that it
    /// is still going (`EALREADY`), or report how it ended — 0 once, or the error that closed it
    /// (`sock_error`, else `ECONNABORTED`).
    fn connect_progress(&mut self, sock: SocketId, may_wait: bool) -> Step {
        let s = self.sockets.get_mut(sock);
        match s.state {
            TcpState::SynSent | TcpState::SynRecv if may_wait && !s.nonblocking() => {
                Step::Block(BlockedOn::Socket(sock), false)
            }
            TcpState::SynSent | TcpState::SynRecv => Step::Done(Err(Errno::EALREADY)),
            TcpState::Closed => {
                s.set_connecting(false);
                // __inet_stream_connect() then tcp_disconnect(): "sk->sk_shutdown = 0".
                s.set_shut_rd(false);
                s.set_shut_wr(false);
                // tcp_disconnect(): the route-chosen source address is forgotten unless bind()
                // chose it (SOCK_BINDADDR_LOCK).
                if !s.addr_locked() {
                    s.local = SocketAddr::new(crate::addr::unspecified(s.family).ip(), s.local.port());
                }
                Step::Done(Err(s.error.take().unwrap_or(Errno::ECONNABORTED)))
            }
            _ => {
                s.set_connecting(false);
                s.set_ss_connected(true);
                Step::Done(Ok(SysReturn::Value { value: 0 }))
            }
        }
    }

    /// `send()` (`tcp_sendmsg_locked`): a pending error first, then the state, then as much
    /// as the send buffer holds (`sk_stream_memory_free`); the rest waits for acknowledgements
    /// (`sk_stream_wait_memory`), or, non-blocking, the call returns what fit — `EAGAIN` if
    /// nothing did. The queue drains as the peer's window allows.
    fn sys_send(&mut self, sock: SocketId, data: &Payload) -> Step {
        let s = self.sockets.get_mut(sock);
        // tcp_sendmsg_locked(): a call that already queued bytes reports them ("if (copied)
        // goto out") and leaves the error for the next call.
        if s.error.is_some() && s.send_progress > 0 {
            let done = std::mem::take(&mut s.send_progress);
            return Step::Done(Ok(SysReturn::Value { value: done as i64 }));
        }
        if let Some(e) = s.error.take() {
            return Step::Done(Err(e));
        }
        if s.state == TcpState::SynSent {
            // sk_stream_wait_connect(): wait for the handshake.
            return if s.nonblocking() {
                Step::Done(Err(Errno::EAGAIN))
            } else {
                Step::Block(BlockedOn::Socket(sock), false)
            };
        }
        // Not connected, or our side already shut: EPIPE (SIGPIPE is ignored in socksim).
        if !s.state.can_send() || s.shut_wr() {
            let done = s.send_progress;
            s.send_progress = 0;
            return Step::Done(if done > 0 {
                Ok(SysReturn::Value { value: done as i64 })
            } else {
                Err(Errno::EPIPE)
            });
        }
        let total = data.len();
        let queued = s.tx.len() + s.snd_nxt.wrapping_sub(s.snd_una) as usize;
        let room = (s.sndbuf as usize).saturating_sub(queued);
        let from = s.send_progress;
        let n = room.min(total - from);
        match data {
            Payload::Bytes(b) => s.tx.extend(b[from..from + n].iter().copied()),
            Payload::Zeros(_) => s.tx.extend(std::iter::repeat_n(0u8, n)),
        }
        s.send_progress += n;
        let (done, nonblocking) = (s.send_progress, s.nonblocking());
        self.tcp_push(sock);
        if done == total || (nonblocking && done > 0) {
            self.sockets.get_mut(sock).send_progress = 0;
            return Step::Done(Ok(SysReturn::Value { value: done as i64 }));
        }
        if nonblocking {
            return Step::Done(Err(Errno::EAGAIN));
        }
        Step::Block(BlockedOn::Socket(sock), false)
    }

    /// `recv()` (`tcp_recvmsg_locked`): data first, then EOF, then a pending error, then wait.
    fn sys_recv(&mut self, sock: SocketId, len: usize) -> Step {
        let s = self.sockets.get_mut(sock);
        // tcp_recvmsg_locked(): a listener is ENOTCONN before anything else.
        if s.state == TcpState::Listen {
            return Step::Done(Err(Errno::ENOTCONN));
        }
        // sock_rcvlowat() turns a zero length into one: recv(fd, 0) waits for data like any
        // read, then copies nothing.
        if len == 0 && !s.rx.is_empty() {
            return Step::Done(Ok(SysReturn::Data { data: Vec::new() }));
        }
        if !s.rx.is_empty() && len > 0 {
            let n = len.min(s.rx.len());
            let data: Vec<u8> = s.rx.take_front(n);
            // __tcp_cleanup_rbuf(): when reading opened the window to at least twice what was
            // last advertised (and that was at most half the maximum), say so at once.
            let advertised = s.adv_wnd;
            let max = s.rcvbuf / 2;
            let now = self.rcv_window(sock);
            // Only a connection that can still receive has a window to announce.
            let receiving = matches!(
                self.sockets.get(sock).state,
                TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2
            );
            if receiving && advertised * 2 <= max && now >= 2 * advertised.max(1) {
                self.send_ack(sock);
            }
            return Step::Done(Ok(SysReturn::Data { data }));
        }
        if let Some(e) = s.error.take() {
            return Step::Done(Err(e));
        }
        if s.rx_fin() || s.shut_rd() {
            return Step::Done(Ok(SysReturn::Data { data: Vec::new() }));
        }
        match s.state {
            TcpState::Closed | TcpState::Listen => Step::Done(Err(Errno::ENOTCONN)),
            _ if s.nonblocking() => Step::Done(Err(Errno::EAGAIN)),
            _ => Step::Block(BlockedOn::Socket(sock), false),
        }
    }

    /// `shutdown()` (`inet_shutdown`, `tcp_shutdown`).
    fn sys_shutdown(&mut self, sock: SocketId, how: How) -> SysResult {
        let s = self.sockets.get_mut(sock);
        match s.state {
            // inet_shutdown(): TCP_CLOSE is ENOTCONN, but the shutdown is recorded all the same.
            TcpState::Closed => {
                if how != How::Write {
                    s.set_shut_rd(true);
                }
                if how != How::Read {
                    s.set_shut_wr(true);
                }
                return Err(Errno::ENOTCONN);
            }
            // A connection attempt in progress is abandoned (tcp_disconnect), successfully.
            TcpState::SynSent => {
                self.tcp_done(sock);
                let s = self.sockets.get_mut(sock);
                s.set_connecting(false);
                s.set_shut_rd(false);
                s.set_shut_wr(false);
                return Ok(SysReturn::Value { value: 0 });
            }
            TcpState::Listen => {
                // A listener shut for reading stops listening (tcp_disconnect).
                if how != How::Write {
                    self.stop_listening(sock);
                }
                return Ok(SysReturn::Value { value: 0 });
            }
            _ => {}
        }
        if how != How::Write {
            s.set_shut_rd(true);
            self.wake(sock, Wake::All, 0);
        }
        if how != How::Read {
            self.send_fin(sock);
        }
        Ok(SysReturn::Value { value: 0 })
    }

    /// `getpeername()` (`inet_getname` with `peer = 1`).
    fn sys_getpeername(&mut self, sock: SocketId) -> SysResult {
        let s = self.sockets.get(sock);
        if s.remote.port() == 0 || matches!(s.state, TcpState::Closed | TcpState::SynSent | TcpState::Listen) {
            return Err(Errno::ENOTCONN);
        }
        Ok(SysReturn::Addr {
            addr: crate::addr::for_family(s.remote, s.family).into(),
        })
    }

    /// `setsockopt()` with an integer value (`sk_setsockopt`).
    fn sys_setsockopt(&mut self, sock: SocketId, level: i32, name: i32, value: i64) -> SysResult {
        let s = self.sockets.get_mut(sock);
        match (level, name) {
            (SOL_SOCKET, SO_REUSEADDR) => s.set_reuseaddr(value != 0),
            (SOL_SOCKET, SO_REUSEPORT) => s.set_reuseport(value != 0),
            (SOL_IP, IP_BIND_ADDRESS_NO_PORT) => s.set_bind_no_port(value != 0),
            // do_ip_setsockopt(): IP_TTL is 1..=255, or -1 for the default; anything else EINVAL.
            (SOL_IP, IP_TTL) | (IPPROTO_IPV6, IPV6_UNICAST_HOPS) => {
                s.ttl = match value {
                    -1 => None,
                    1..=255 => Some(value as u8),
                    // do_ipv6_setsockopt(): a hop limit may also be 0.
                    0 if level == IPPROTO_IPV6 => Some(0),
                    _ => return Err(Errno::EINVAL),
                }
            }
            // sk_setsockopt(): the int is taken as unsigned (`min_t(u32, val, sysctl_wmem_max)`),
            // so a negative value is huge and gets the ceiling (wmem_max / rmem_max, 212992);
            // then the kernel doubles it to pay for its own overhead, with a floor
            // (SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF).
            (SOL_SOCKET, SO_SNDBUF) => s.sndbuf = ((value as i32 as u32).min(RMEM_MAX) * 2).max(SOCK_MIN_SNDBUF),
            (SOL_SOCKET, SO_RCVBUF) => s.rcvbuf = ((value as i32 as u32).min(RMEM_MAX) * 2).max(SOCK_MIN_RCVBUF),
            // SO_LINGER takes a struct linger; socksim's integer form: a negative value turns
            // lingering off, N >= 0 turns it on with a timeout of N seconds.
            (SOL_SOCKET, SO_LINGER) => {
                s.linger = if value < 0 {
                    -1
                } else {
                    value.min(i64::from(i32::MAX)) as i32
                };
            }
            // do_ipv6_setsockopt(): IPV6_V6ONLY only on AF_INET6, and only before bind().
            (IPPROTO_IPV6, IPV6_V6ONLY) if s.family == Family::Inet6 => {
                if s.in_bind_table() {
                    return Err(Errno::EINVAL);
                }
                s.set_v6only(value != 0);
            }
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(SysReturn::Value { value: 0 })
    }

    /// `getsockopt()` of an integer option (`sk_getsockopt`). `SO_ERROR` returns the pending
    /// error and clears it (`sock_error`).
    fn sys_getsockopt(&mut self, sock: SocketId, level: i32, name: i32) -> SysResult {
        let s = self.sockets.get_mut(sock);
        let value = match (level, name) {
            (SOL_SOCKET, SO_REUSEADDR) => i64::from(s.reuseaddr()),
            (SOL_SOCKET, SO_REUSEPORT) => i64::from(s.reuseport()),
            (SOL_IP, IP_BIND_ADDRESS_NO_PORT) => i64::from(s.bind_no_port()),
            (SOL_IP, IP_TTL) | (IPPROTO_IPV6, IPV6_UNICAST_HOPS) => {
                i64::from(s.ttl.unwrap_or(crate::route::DEFAULT_TTL))
            }
            (SOL_SOCKET, SO_SNDBUF) => i64::from(s.sndbuf),
            (SOL_SOCKET, SO_RCVBUF) => i64::from(s.rcvbuf),
            (IPPROTO_IPV6, IPV6_V6ONLY) if s.family == Family::Inet6 => i64::from(s.v6only()),
            // do_ip_getsockopt(): an IPv6 level on an IPv4 socket is EOPNOTSUPP.
            (IPPROTO_IPV6, _) if s.family == Family::Inet => return Err(Errno::EOPNOTSUPP),
            // struct linger in socksim's integer form: -1 off, 0 on with a zero timeout.
            (SOL_SOCKET, SO_LINGER) => i64::from(s.linger),
            (SOL_SOCKET, SO_TYPE) => i64::from(if s.proto == Proto::Udp { SOCK_DGRAM } else { SOCK_STREAM }),
            (SOL_SOCKET, SO_ACCEPTCONN) => i64::from(s.state == TcpState::Listen),
            (SOL_SOCKET, SO_ERROR) => s.error.take().map_or(0, |e| i64::from(e.number())),
            _ => return Err(Errno::ENOPROTOOPT),
        };
        Ok(SysReturn::OptVal { name, value })
    }

    /// `close()`: drop the descriptor; the last reference closes the socket (`tcp_close`).
    fn sys_close(&mut self, pid: Pid, fd: Fd) -> SysResult {
        if self.process(pid).fds.get(fd).is_none() {
            return Err(Errno::EBADF);
        }
        self.close_fd(pid, fd);
        Ok(SysReturn::Value { value: 0 })
    }

    pub(crate) fn close_fd(&mut self, pid: Pid, fd: Fd) {
        if let Some(desc) = self.process_mut(pid).fds.remove(fd) {
            self.release_desc(desc);
        }
    }

    /// Drops one reference to an open description (`fput`): a closed descriptor, or one
    /// in flight (`SCM_RIGHTS`) that was never received.
    pub(crate) fn release_desc(&mut self, desc: Desc) {
        match desc {
            Desc::Socket(sock) => {
                let s = self.sockets.get_mut(sock);
                s.refs -= 1;
                if s.refs == 0 {
                    // eventpoll_release(): the last close removes the file from every epoll.
                    self.epoll_forget_socket(sock);
                    self.tcp_close(sock);
                }
            }
            Desc::Epoll(ep) => {
                let e = self.epoll_mut(ep);
                e.refs -= 1;
                if e.refs == 0 {
                    self.epoll_free(ep);
                }
            }
            Desc::Unix(u) => self.unix_release(u),
            Desc::Stdio => {}
        }
    }

    /// `tcp_close()`: the last descriptor is gone.
    fn tcp_close(&mut self, sock: SocketId) {
        let s = self.sockets.get_mut(sock);
        if s.proto == Proto::Udp {
            // udp_lib_close(): nothing to say goodbye to; the port is released at once.
            return self.tcp_done(sock);
        }
        s.set_shut_rd(true);
        match s.state {
            TcpState::Listen => {
                self.stop_listening(sock);
                self.tcp_done(sock);
            }
            TcpState::Closed | TcpState::SynSent => self.tcp_done(sock),
            // RFC 2525 §2.17 (tcp_close): unread data means the peer is told with a reset; so
            // does SO_LINGER with a zero timeout (no FIN, no TIME_WAIT).
            _ if !s.rx.is_empty() || s.linger_zero() => {
                self.send_reset_for(sock);
                self.tcp_done(sock);
            }
            TcpState::Established | TcpState::CloseWait => self.send_fin(sock),
            TcpState::FinWait2 => self.arm_fin_wait2_timer(sock),
            _ => {}
        }
    }

    /// `inet_csk_listen_stop()`: every child not yet accepted is reset and freed.
    pub(crate) fn stop_listening(&mut self, sock: SocketId) {
        let s = self.sockets.get_mut(sock);
        let local = s.local;
        let host = s.host;
        s.state = TcpState::Closed;
        s.listen = None;
        if let Some(list) = self.hosts[host.0 as usize].tcp.listening.get_mut(&local) {
            // reuseport_detach_sock(): the group's last member takes the leaver's slot.
            if let Some(i) = list.iter().position(|&l| l == sock) {
                list.swap_remove(i);
            }
            if list.is_empty() {
                self.hosts[host.0 as usize].tcp.listening.remove(&local);
            }
        }
        // Children point at their parent; find them through the port's bucket, not a scan of
        // every socket.
        let children: Vec<SocketId> = self.hosts[host.0 as usize]
            .tcp
            .bind
            .get(&local.port())
            .map(|b| {
                b.owners
                    .iter()
                    .copied()
                    .filter(|&c| self.sockets.get(c).parent() == Some(sock))
                    .collect()
            })
            .unwrap_or_default();
        for child in children {
            self.send_reset_for(child);
            self.sockets.get_mut(child).set_parent(None);
            self.tcp_done(child);
        }
        self.wake(sock, Wake::All, 0);
    }

    /// Sends FIN: ESTABLISHED → FIN_WAIT1, CLOSE_WAIT → LAST_ACK (`tcp_close_state`).
    pub(crate) fn send_fin(&mut self, sock: SocketId) {
        let s = self.sockets.get_mut(sock);
        if s.shut_wr() {
            return;
        }
        s.state = match s.state {
            TcpState::Established => TcpState::FinWait1,
            TcpState::CloseWait => TcpState::LastAck,
            other => other,
        };
        s.set_shut_wr(true);
        // The FIN follows any data still queued (tcp_send_fin appends it to the queue).
        self.tcp_push(sock);
    }

    /// Sends RST for a synchronised connection (`tcp_send_active_reset`).
    pub(crate) fn send_reset_for(&mut self, sock: SocketId) {
        let seq = self.sockets.get(sock).snd_nxt;
        let seg = self.segment_from(sock, Flags::RST | Flags::ACK, seq, None);
        let host = self.sockets.get(sock).host;
        self.transmit(host, seg);
    }
}
