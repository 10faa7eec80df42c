//! UDP: datagram sockets, their port allocator, demultiplexing and ICMP errors
//! (`net/ipv4/udp.c`, `net/ipv4/datagram.c`, `net/ipv6/udp.c`).
//!
//! A UDP socket is unconnected (`TcpState::Closed`, receives from anyone) or connected
//! (`TcpState::Established`: a default peer, and input filtered to that peer). Ports come from
//! UDP's own table, separate from TCP's.

use crate::addr::Family;
use crate::epoll::{EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT};
use crate::errno::Errno;
use crate::host::{BindBucket, Host, HostId};
use crate::packet::{Datagram, Packet, PortUnreachable};
use crate::process::BlockedOn;
use crate::socket::{Queued, SocketId, Sockets, TcpState};
use crate::syscall::{Payload, SysReturn};
use crate::syscalls::Step;
use crate::world::World;
use sim_core::Wake;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::rc::Rc;

/// Slots in the UDP hash table. `udp_table_init()` sizes it from memory (one slot per 2 MiB,
/// between 128 and 65536); socksim fixes it at 16384, the size on a 32 GiB machine. Only the
/// order in which `bind(0)` tries ports depends on it.
pub const UDP_HTABLE_SIZE: u32 = 16384;

/// The largest UDP payload over IPv4 (`udp_sendmsg`: `len > 0xFFFF` is `EMSGSIZE`; the IP and
/// UDP headers take 28 of those bytes).
pub const UDP_MAX_PAYLOAD: usize = 65507;

/// `udp_lib_lport_inuse()`: would `me`, bound to `addr`, clash with a holder of `port`?
/// Overlapping addresses clash unless both set `SO_REUSEADDR`, or both set `SO_REUSEPORT`
/// and have the same owner. Unlike TCP there is no listening state, so
/// two `SO_REUSEADDR` sockets may hold the very same address and port.
pub fn udp_conflict(host: &Host, sockets: &Sockets, me: SocketId, addr: IpAddr, port: u16) -> bool {
    let Some(bucket) = host.udp.get(&port) else {
        return false;
    };
    let mine = sockets.get(me);
    bucket.owners.iter().filter(|&&o| o != me).any(|&o| {
        let other = sockets.get(o);
        crate::addr::overlap(addr, mine.v6only(), other.local.ip(), other.v6only())
            && !(mine.reuseaddr() && other.reuseaddr())
            && !(mine.reuseport() && other.reuseport() && mine.uid == other.uid)
    })
}

/// `udp_lib_get_port()` with port 0: a uniformly random start (`reciprocal_scale(rand,
/// remaining) + low`), then every hash slot in turn, each visited in steps of an odd multiple
/// of the table size, so every port is tried once. No parity preference, no per-destination
/// sharing. `None` when every port clashes.
pub fn udp_find_port(host: &mut Host, sockets: &Sockets, me: SocketId, addr: IpAddr) -> Option<u16> {
    let (low, high) = host.sysctl.ip_local_port_range;
    let remaining = u32::from(high) - u32::from(low) + 1;
    let rand = host.port_rng.next_u32();
    let mut first = ((u64::from(rand) * u64::from(remaining)) >> 32) as u16 + low;
    let step = (rand | 1).wrapping_mul(UDP_HTABLE_SIZE) as u16;
    for _ in 0..UDP_HTABLE_SIZE {
        let mut snum = first;
        loop {
            if (low..=high).contains(&snum)
                && !host.sysctl.is_reserved(snum)
                && !udp_conflict(host, sockets, me, addr, snum)
            {
                return Some(snum);
            }
            snum = snum.wrapping_add(step);
            if snum == first {
                break;
            }
        }
        first = first.wrapping_add(1);
    }
    None
}

impl World {
    /// Takes a port for an unbound UDP socket (`inet_autobind`); `EAGAIN` when none is left.
    fn udp_autobind(&mut self, sock: SocketId) -> Result<(), Errno> {
        let s = self.sockets.get(sock);
        if s.in_bind_table() {
            return Ok(());
        }
        let (host, addr) = (s.host, s.local.ip());
        let port = udp_find_port(&mut self.hosts[host.0 as usize], &self.sockets, sock, addr).ok_or(Errno::EAGAIN)?;
        self.bucket_add(sock, port, true);
        Ok(())
    }

    /// `bind()` on a UDP socket, after the family and address checks (`__inet_bind` with
    /// `udp_v4_get_port`).
    pub(crate) fn udp_bind(&mut self, sock: SocketId, addr: SocketAddr) -> Result<SysReturn, Errno> {
        let s = self.sockets.get(sock);
        if s.in_bind_table() || s.state != TcpState::Closed {
            return Err(Errno::EINVAL);
        }
        let host = s.host;
        let h = &mut self.hosts[host.0 as usize];
        let port = if addr.port() == 0 {
            // An explicit bind(0) that finds nothing is EADDRINUSE (inet_bind).
            udp_find_port(h, &self.sockets, sock, addr.ip()).ok_or(Errno::EADDRINUSE)?
        } else if udp_conflict(h, &self.sockets, sock, addr.ip(), addr.port()) {
            return Err(Errno::EADDRINUSE);
        } else {
            addr.port()
        };
        let s = self.sockets.get_mut(sock);
        s.local = SocketAddr::new(addr.ip(), port);
        s.set_user_bound(addr.port() != 0);
        s.set_addr_locked(!addr.ip().is_unspecified());
        self.bucket_add(sock, port, true);
        Ok(SysReturn::Value { value: 0 })
    }

    /// `connect()` on a UDP socket (`inet_dgram_connect`, `__ip4_datagram_connect`): autobind
    /// first (`EAGAIN`), then the route, then the local address from the route if it was the
    /// wildcard, then the peer. Input is filtered to that peer from now on.
    pub(crate) fn udp_connect(&mut self, sock: SocketId, addr: SocketAddr) -> Result<SysReturn, Errno> {
        self.udp_autobind(sock)?;
        let s = self.sockets.get(sock);
        let mut addr = addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        let saddr = if s.local.ip().is_unspecified() {
            self.source_addr(s.host, addr.ip()).ok_or(Errno::ENETUNREACH)?
        } else if s.local.is_ipv4() != addr.is_ipv4() {
            return Err(Errno::ENETUNREACH);
        } else {
            s.local.ip()
        };
        let s = self.sockets.get_mut(sock);
        s.local.set_ip(saddr);
        s.remote = addr;
        s.state = TcpState::Established;
        Ok(SysReturn::Value { value: 0 })
    }

    /// `connect(AF_UNSPEC)` on a UDP socket (`__udp_disconnect`): forget the peer; the local
    /// address returns to the wildcard unless bind() chose it, and the port is released unless
    /// bind() named it.
    pub(crate) fn udp_disconnect(&mut self, sock: SocketId) -> Result<SysReturn, Errno> {
        let s = self.sockets.get_mut(sock);
        s.state = TcpState::Closed;
        s.remote = crate::addr::unspecified(s.family);
        if !s.addr_locked() {
            let port = s.local.port();
            s.local = SocketAddr::new(crate::addr::unspecified(s.family).ip(), port);
        }
        if !s.user_bound() {
            self.bucket_remove(sock);
            self.sockets.get_mut(sock).local.set_port(0);
        }
        Ok(SysReturn::Value { value: 0 })
    }

    /// `send()`/`sendto()` on a UDP socket (`inet_sendmsg` → `udp_sendmsg`): autobind first
    /// (`EAGAIN`, even without a destination), then the destination (`EDESTADDRREQ` if none),
    /// then the route, then a pending error (`sock_alloc_send_pskb` → `sock_error`, reported
    /// once), then the datagram goes out.
    pub(crate) fn udp_sendto(&mut self, sock: SocketId, data: &Payload, to: Option<SocketAddr>) -> Step {
        if let Err(e) = self.udp_autobind(sock) {
            return Step::Done(Err(e));
        }
        if data.len() > UDP_MAX_PAYLOAD {
            return Step::Done(Err(Errno::EMSGSIZE));
        }
        let s = self.sockets.get(sock);
        let dst = match to {
            Some(mut to) => {
                if to.port() == 0 {
                    return Step::Done(Err(Errno::EINVAL));
                }
                if to.ip().is_unspecified() {
                    to.set_ip(match to.ip() {
                        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
                    });
                }
                to
            }
            None if s.state == TcpState::Established => s.remote,
            None => return Step::Done(Err(Errno::EDESTADDRREQ)),
        };
        let saddr = if s.local.ip().is_unspecified() {
            match self.source_addr(s.host, dst.ip()) {
                Some(a) => a,
                None => return Step::Done(Err(Errno::ENETUNREACH)),
            }
        } else {
            s.local.ip()
        };
        let (host, sport, ttl) = (s.host, s.local.port(), s.ttl.unwrap_or(crate::route::DEFAULT_TTL));
        if let Some(e) = self.sockets.get_mut(sock).error.take() {
            return Step::Done(Err(e));
        }
        let payload: Rc<[u8]> = match data {
            Payload::Bytes(b) => b.clone(),
            Payload::Zeros(n) => vec![0u8; *n].into(),
        };
        let len = payload.len();
        let sent = self.transmit_local(
            host,
            Packet::Udp(Datagram {
                src: SocketAddr::new(saddr, sport),
                dst,
                payload,
                ttl,
            }),
        );
        // udp_send_skb(): a datagram that netfilter drops on the way out (a full conntrack
        // table, no free NAT tuple) fails the call with EPERM (`nf_hook_slow()` turns
        // NF_DROP into -EPERM).
        if !sent {
            return Step::Done(Err(Errno::EPERM));
        }
        Step::Done(Ok(SysReturn::Value { value: len as i64 }))
    }

    /// `recv()`/`recvfrom()` on a UDP socket (`udp_recvmsg`): a pending error first (once),
    /// then the oldest datagram, cut to the buffer (the rest is lost, `MSG_TRUNC`), then
    /// `EAGAIN` or a wait.
    pub(crate) fn udp_recv(&mut self, sock: SocketId, len: usize, with_addr: bool) -> Step {
        let s = self.sockets.get_mut(sock);
        // __skb_recv_udp(): a pending error (ICMP) is reported before queued datagrams.
        if let Some(e) = s.error.take() {
            return Step::Done(Err(e));
        }
        let udp = s.udp.as_mut().expect("UDP state on a UDP socket");
        if let Some(d) = udp.queue.pop_front() {
            udp.queued_bytes -= d.data.len();
            let data = d.data[..len.min(d.data.len())].to_vec();
            let from = crate::addr::for_family(d.from, s.family);
            return Step::Done(Ok(if with_addr {
                SysReturn::DataFrom {
                    data,
                    from: from.into(),
                }
            } else {
                SysReturn::Data { data }
            }));
        }
        if s.nonblocking() {
            return Step::Done(Err(Errno::EAGAIN));
        }
        Step::Block(BlockedOn::Socket(sock), false)
    }

    /// `__udp4_lib_lookup()` / `compute_score()`: the socket that takes a datagram for `local`
    /// from `remote`. Every socket holding the port is scored: `AF_INET` 2, dual-stack
    /// `AF_INET6` 1; +4 for a matching bound address, +4 each for a connected peer's address
    /// and port; any mismatch disqualifies. The best score wins; ties go to the socket bound
    /// last (IPv4 inserts at the head of the hash chain). An `SO_REUSEPORT` group of equally
    /// good unconnected sockets on one address is split by the flow hash.
    pub(crate) fn udp_lookup(&self, host: HostId, local: SocketAddr, remote: SocketAddr) -> Option<SocketId> {
        let h = &self.hosts[host.0 as usize];
        let bucket: &BindBucket = h.udp.get(&local.port())?;
        let score = |id: SocketId| -> Option<u32> {
            let s = self.sockets.get(id);
            let mut score = match (s.family, local) {
                (Family::Inet, SocketAddr::V4(_)) => 2,
                (Family::Inet6, SocketAddr::V4(_)) if !s.v6only() => 1,
                (Family::Inet6, SocketAddr::V6(_)) => 2,
                _ => return None,
            };
            let bound = s.local.ip();
            if !bound.is_unspecified() {
                if bound != local.ip() {
                    return None;
                }
                score += 4;
            } else if bound.is_ipv4() && local.is_ipv6() {
                // A v4-mapped wildcard (`::ffff:0.0.0.0`) takes only IPv4; dual-stack `::`
                // was admitted by the family check above.
                return None;
            }
            if s.state == TcpState::Established {
                if s.remote.ip() != remote.ip() || s.remote.port() != remote.port() {
                    return None;
                }
                score += 8;
            }
            Some(score)
        };
        let mut best: Option<(u32, SocketId)> = None;
        for &id in bucket.owners.iter().rev() {
            if let Some(sc) = score(id)
                && best.is_none_or(|(b, _)| sc > b)
            {
                best = Some((sc, id));
            }
        }
        let (best_score, chosen) = best?;
        let c = self.sockets.get(chosen);
        if c.reuseport() && c.state != TcpState::Established {
            let group: Vec<SocketId> = bucket
                .owners
                .iter()
                .copied()
                .filter(|&id| {
                    let s = self.sockets.get(id);
                    s.reuseport() && s.local.ip() == c.local.ip() && score(id) == Some(best_score)
                })
                .collect();
            if group.len() > 1 {
                let hash = crate::ports::flow_hash(h.port_secret, local, remote);
                return Some(group[((u64::from(hash) * group.len() as u64) >> 32) as usize]);
            }
        }
        Some(chosen)
    }

    /// A datagram arrives (`__udp4_lib_rcv`): queue it for the best socket and wake one reader,
    /// or answer with ICMP port unreachable.
    pub(crate) fn udp_input(&mut self, host: HostId, d: Datagram) {
        let Some(sock) = self.udp_lookup(host, d.dst, d.src) else {
            let error = PortUnreachable {
                src: d.dst.ip(),
                dst: d.src.ip(),
                orig_src: d.src,
                orig_dst: d.dst,
                orig_len: d.payload.len() as u32,
            };
            return self.transmit(host, Packet::PortUnreachable(error));
        };
        let s = self.sockets.get_mut(sock);
        let udp = s.udp.as_mut().expect("UDP state on a UDP socket");
        udp.queued_bytes += d.payload.len();
        udp.queue.push_back(Queued {
            from: d.src,
            data: d.payload,
        });
        self.wake(sock, Wake::One, EPOLLIN);
    }

    /// An ICMP port unreachable arrives (`__udp4_lib_err`): it concerns the socket that sent
    /// the datagram; only a connected socket records `ECONNREFUSED` (without `IP_RECVERR`),
    /// to be reported once by its next call.
    pub(crate) fn udp_error(&mut self, host: HostId, error: PortUnreachable) {
        let Some(sock) = self.udp_lookup(host, error.orig_src, error.orig_dst) else {
            return;
        };
        let s = self.sockets.get_mut(sock);
        if s.state != TcpState::Established {
            return;
        }
        s.error = Some(Errno::ECONNREFUSED);
        self.wake(sock, Wake::All, EPOLLERR);
    }

    /// The events a socket is ready for now, by protocol (`sock->ops->poll`).
    pub(crate) fn sock_poll(&self, sock: SocketId) -> u32 {
        match self.sockets.get(sock).proto {
            crate::socket::Proto::Tcp => self.tcp_poll(sock),
            crate::socket::Proto::Udp => self.udp_poll(sock),
        }
    }

    /// `udp_poll()` / `datagram_poll()`: readable with a datagram queued, always writable (no
    /// send-buffer limit yet), `EPOLLERR` with a pending error.
    pub(crate) fn udp_poll(&self, sock: SocketId) -> u32 {
        let s = self.sockets.get(sock);
        let mut mask = EPOLLOUT;
        if s.udp.as_ref().is_some_and(|u| !u.queue.is_empty()) {
            mask |= EPOLLIN;
        }
        if s.error.is_some() {
            mask |= EPOLLERR;
        }
        if s.shut_rd() && s.shut_wr() {
            mask |= EPOLLHUP;
        }
        mask
    }
}
