//! Local port allocation and bind conflicts, as Linux does them.
//!
//! * [`connect_port`]: `connect()`'s autobind, `__inet_hash_connect()` in
//!   `net/ipv4/inet_hashtables.c` (RFC 6056 algorithm 4, "double hash").
//! * [`find_open_port`]: `bind(port 0)` and `listen()` autobind, `inet_csk_find_open_port()` in
//!   `net/ipv4/inet_connection_sock.c`.
//! * [`bind_conflict`]: `inet_bind_conflict()` for explicit binds and `listen()`.
//!
//! No function here scans all sockets: each probes the bind table port by port, as Linux does.

use crate::errno::Errno;
use crate::host::{BindBucket, FourTuple, Host};
use crate::socket::{SocketId, Sockets, TcpState};
use sim_core::{Duration, Instant, mix64};
use std::net::{IpAddr, SocketAddr};

/// Folds an IP address into 64 bits for hashing (IPv4 and IPv6 never collide by
/// construction: the version is mixed in).
fn ip_bits(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => mix64(u64::from(u32::from(v4)) | 4 << 32),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            mix64(mix64((bits >> 64) as u64 ^ 6) ^ bits as u64)
        }
    }
}

/// `secure_ipv4_port_ephemeral()` / `secure_ipv6_port_ephemeral()` (`net/core/secure_seq.c`):
/// a keyed hash of the source address, destination address and port, and the 10-second epoch
/// (`jiffies / (10 * HZ)`). Linux uses siphash with a boot-time secret; the simulator uses a
/// seeded 64-bit mix, which has the same properties that matter (stable per destination for
/// 10 s, unpredictable).
pub fn port_offset(secret: u64, saddr: IpAddr, daddr: IpAddr, dport: u16, now: Instant) -> u64 {
    let epoch = now.as_nanos() / Duration::from_secs(10).as_nanos();
    let mut h = mix64(secret ^ ip_bits(saddr));
    h = mix64(h ^ ip_bits(daddr) ^ u64::from(dport));
    mix64(h ^ epoch)
}

/// `inet_ehashfn()`: the 32-bit hash of a flow (local address and port, remote address and
/// port) with a per-host secret, used to pick an `SO_REUSEPORT` group member.
pub fn flow_hash(secret: u64, local: SocketAddr, remote: SocketAddr) -> u32 {
    let a = ip_bits(local.ip()) ^ u64::from(local.port());
    let b = ip_bits(remote.ip()) ^ u64::from(remote.port()) << 16;
    (mix64(mix64(secret.rotate_left(17) ^ a) ^ b) >> 32) as u32
}

/// `inet_bind_conflict()`: would socket `me` binding `addr:port` clash with a holder of the
/// port? `relax` and `reuseport_ok` are true for explicit binds and `listen()`, false for
/// autobind (which never shares, whatever the options).
///
/// Two sockets on overlapping addresses conflict unless
/// * both set `SO_REUSEADDR` and the other one is not listening (a TIME_WAIT socket keeps the
///   flag of the socket that entered it), or
/// * both set `SO_REUSEPORT` and the other is in TIME_WAIT or has the same owner
///   (`sk_uid`).
pub fn bind_conflict(
    host: &Host,
    sockets: &Sockets,
    me: SocketId,
    addr: IpAddr,
    port: u16,
    relax: bool,
    reuseport_ok: bool,
) -> bool {
    let Some(bucket) = host.tcp.bind.get(&port) else {
        return false;
    };
    let mine = sockets.get(me);
    bucket.owners.iter().filter(|&&o| o != me).any(|&o| {
        let other = sockets.get(o);
        if !crate::addr::overlap(addr, mine.v6only(), other.local.ip(), other.v6only()) {
            return false;
        }
        // SO_REUSEPORT shares only between sockets of one owner, or with a TIME_WAIT remnant.
        let reuseport_pair =
            mine.reuseport() && other.reuseport() && (other.state == TcpState::TimeWait || other.uid == mine.uid);
        if mine.reuseaddr() && other.reuseaddr() && other.state != TcpState::Listen {
            !relax || (!reuseport_ok && reuseport_pair)
        } else {
            !(reuseport_ok && reuseport_pair)
        }
    })
}

/// `inet_csk_find_open_port()`: the port `bind(addr, 0)` or `listen()` autobind picks.
///
/// The scan starts at a random *odd* offset from the range's low end and steps by two, then
/// tries the even ports ("leave even ports for connect()"). With `SO_REUSEADDR` the lower half
/// of the range is tried first, then the upper half. Any socket on an overlapping address is a
/// conflict. Exhaustion is `EADDRINUSE`.
pub fn find_open_port(host: &mut Host, sockets: &Sockets, me: SocketId, addr: IpAddr) -> Result<u16, Errno> {
    let (range_low, range_high) = host.sysctl.ip_local_port_range;
    let mut attempt_half: u8 = if sockets.get(me).reuseaddr() { 1 } else { 0 };
    loop {
        let mut low = u32::from(range_low);
        let mut high = u32::from(range_high) + 1; // [low, high)
        if high - low < 4 {
            attempt_half = 0;
        }
        if attempt_half != 0 {
            let half = low + (((high - low) >> 2) << 1);
            if attempt_half == 1 {
                high = half;
            } else {
                low = half;
            }
        }
        let mut remaining = high - low;
        if remaining > 1 {
            remaining &= !1;
        }
        let mut offset = host.port_rng.below(remaining.max(1)) | 1;
        loop {
            let mut port = low + offset;
            let mut i = 0;
            while i < remaining {
                if port >= high {
                    port -= remaining;
                }
                // Ports above 65535 cannot occur: high <= 65536.
                let p = port as u16;
                if !host.sysctl.is_reserved(p) && !bind_conflict(host, sockets, me, addr, p, false, false) {
                    return Ok(p);
                }
                i += 2;
                port += 2;
            }
            offset = offset.wrapping_sub(1);
            if offset & 1 == 1 {
                break;
            }
        }
        if attempt_half == 1 {
            attempt_half = 2;
            continue;
        }
        // inet_csk_get_port(): `ret = -EADDRINUSE` when no port is found.
        return Err(Errno::EADDRINUSE);
    }
}

/// How `connect()` may use a 4-tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TupleUse {
    /// Nobody uses it.
    Free,
    /// A TIME_WAIT socket holds it and may be recycled (`tcp_twsk_unique()`); kill it first.
    RecycleTimeWait(SocketId),
}

/// `__inet_check_established()`: is `local → remote` unique, or held only by a TIME_WAIT
/// socket that `tcp_twsk_unique()` lets us take over?
///
/// `explicitly_bound` is true when the port came from `bind()`, not autobind: Linux then
/// recycles the TIME_WAIT whatever `tcp_tw_reuse` says (timestamps are always on here).
pub fn check_established(
    host: &Host,
    sockets: &Sockets,
    local: SocketAddr,
    remote: SocketAddr,
    explicitly_bound: bool,
    now: Instant,
) -> Option<TupleUse> {
    let Some(&holder) = host.tcp.established.get(&FourTuple::new(local, remote)) else {
        return Some(TupleUse::Free);
    };
    let s = sockets.get(holder);
    if s.state != TcpState::TimeWait {
        return None;
    }
    // tcp_twsk_unique(): tcp_tw_reuse 2 means "loopback only".
    let reuse = match host.sysctl.tcp_tw_reuse {
        2 => local.ip().is_loopback() || remote.ip().is_loopback(),
        n => n != 0,
    };
    // Since 6.13 the delay is tcp_tw_reuse_delay (1000 ms by default) after TIME_WAIT began.
    let old_enough = now > s.time_wait_since.after(Duration::from_millis(1000));
    (explicitly_bound || (reuse && old_enough)).then_some(TupleUse::RecycleTimeWait(holder))
}

/// The port `connect()` picked, and what to do with the 4-tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectPort {
    /// The local port.
    pub port: u16,
    /// Whether the port's bind bucket must be created.
    pub new_bucket: bool,
    /// How the 4-tuple is taken.
    pub tuple: TupleUse,
}

/// `__inet_hash_connect()`: the local port for an unbound socket connecting from `saddr` to
/// `remote`.
///
/// The start offset comes from a keyed hash of (source, destination, destination port) plus a
/// per-destination perturbation slot, so successive connects to one destination walk the
/// range. Ports with the parity of the range's low end are tried first, then the others. A
/// port whose bucket was made by an explicit bind is skipped; a port made by `connect()` is
/// shared when the 4-tuple is unique. Nothing left is `EADDRNOTAVAIL`.
pub fn connect_port(
    host: &mut Host,
    sockets: &Sockets,
    saddr: IpAddr,
    remote: SocketAddr,
    now: Instant,
) -> Result<ConnectPort, Errno> {
    let (range_low, range_high) = host.sysctl.ip_local_port_range;
    let low = u32::from(range_low);
    let high = u32::from(range_high) + 1; // [low, high)
    let mut remaining = high - low;
    if remaining > 1 {
        remaining &= !1;
    }
    let offset_hash = port_offset(host.port_secret, saddr, remote.ip(), remote.port(), now);
    let index = (offset_hash & 0xffff) as u16;
    let perturb_secret = host.perturb_secret;
    let perturb = *host
        .perturb
        .get_or_insert_with(index, || mix64(perturb_secret ^ u64::from(index)) as u32);
    let mut offset = perturb.wrapping_add((offset_hash >> 32) as u32) % remaining;
    offset &= !1;
    loop {
        let mut port = low + offset;
        let mut i = 0;
        while i < remaining {
            if port >= high {
                port -= remaining;
            }
            let p = port as u16;
            let found = match host.tcp.bind.get(&p) {
                // inet_is_local_reserved_port(): never an automatic choice.
                _ if host.sysctl.is_reserved(p) => None,
                Some(BindBucket {
                    connect_only: false, ..
                }) => None,
                Some(_) => {
                    check_established(host, sockets, SocketAddr::new(saddr, p), remote, false, now).map(|tuple| {
                        ConnectPort {
                            port: p,
                            new_bucket: false,
                            tuple,
                        }
                    })
                }
                None => Some(ConnectPort {
                    port: p,
                    new_bucket: true,
                    tuple: TupleUse::Free,
                }),
            };
            if let Some(found) = found {
                // Advance this destination's slot past the port used, with a random jump of
                // 0..14 when contention is low: `max(i, get_random_u32_below(8) * 2) + 2`.
                let jitter = host.port_rng.below(8) * 2;
                let slot = host.perturb.get_or_insert_with(index, || perturb);
                *slot = slot.wrapping_add(i.max(jitter) + 2);
                return Ok(found);
            }
            i += 2;
            port += 2;
        }
        offset += 1;
        if offset & 1 == 0 || remaining <= 1 {
            return Err(Errno::EADDRNOTAVAIL);
        }
    }
}
