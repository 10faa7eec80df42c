//! Socket addresses across IPv4 and IPv6, the way Linux's dual stack treats them.
//!
//! Inside the kernel every address is kept in its *wire* form: an IPv4 address — including
//! one an `AF_INET6` socket wrote as v4-mapped (`::ffff:10.0.0.1`) — is a
//! [`SocketAddr::V4`]; only real IPv6 addresses are [`SocketAddr::V6`]. System calls convert at
//! the boundary: an `AF_INET6` socket reports IPv4 peers as v4-mapped addresses
//! (`ipv6_addr_set_v4mapped`).

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// A socket's address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Family {
    /// `AF_INET`.
    Inet,
    /// `AF_INET6`.
    Inet6,
}

/// The wire form of an address: v4-mapped IPv6 addresses become IPv4.
pub fn to_wire(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => SocketAddr::V6(SocketAddrV6::new(*v6.ip(), v6.port(), 0, 0)),
        },
        v4 => v4,
    }
}

/// An address as a socket of `family` reports it: IPv4 addresses become v4-mapped for
/// `AF_INET6` sockets.
pub fn for_family(a: SocketAddr, family: Family) -> SocketAddr {
    match (a, family) {
        (SocketAddr::V4(v4), Family::Inet6) => {
            SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
        }
        (a, _) => a,
    }
}

/// The unbound address of a family (`0.0.0.0:0` or `[::]:0`).
pub fn unspecified(family: Family) -> SocketAddr {
    match family {
        Family::Inet => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        Family::Inet6 => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

/// The wildcard address of the same IP version as `ip`.
pub fn wildcard_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// Whether two bound local addresses overlap for bind purposes (`inet_rcv_saddr_equal` with
/// `match_wildcard = true`, and `ipv6_rcv_saddr_equal`): addresses are in wire form, and
/// `v6only` is `IPV6_V6ONLY` on an `AF_INET6` socket.
///
/// * IPv4 against IPv4: equal, or either is `0.0.0.0` (v4-mapped addresses count as IPv4).
/// * `::` without `IPV6_V6ONLY` overlaps every address, IPv4 and IPv6.
/// * `::` with `IPV6_V6ONLY` overlaps only IPv6 addresses.
/// * A specific IPv6 address never overlaps an IPv4 one; against IPv6 it overlaps when equal
///   or when the other is `::`.
pub fn overlap(a: IpAddr, a_v6only: bool, b: IpAddr, b_v6only: bool) -> bool {
    match (a, b) {
        (IpAddr::V4(x), IpAddr::V4(y)) => x.is_unspecified() || y.is_unspecified() || x == y,
        (IpAddr::V6(x), IpAddr::V4(_)) => x.is_unspecified() && !a_v6only,
        (IpAddr::V4(_), IpAddr::V6(y)) => y.is_unspecified() && !b_v6only,
        (IpAddr::V6(x), IpAddr::V6(y)) => x.is_unspecified() || y.is_unspecified() || x == y,
    }
}

/// Whether `ip` is a loopback address (127.0.0.0/8 or `::1`).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v4_mapped_addresses_travel_as_ipv4() {
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:80".parse().unwrap();
        assert_eq!(to_wire(mapped), "10.0.0.1:80".parse().unwrap());
        assert_eq!(for_family(to_wire(mapped), Family::Inet6), mapped);
        let v6: SocketAddr = "[fd00::1]:80".parse().unwrap();
        assert_eq!(to_wire(v6), v6);
    }

    /// The overlap rules behind the `bind_wildcard` selftest table (linux-facts.md §2.2).
    #[test]
    fn overlap_follows_the_dual_stack_rules() {
        let cases = [
            ("0.0.0.0", false, "127.0.0.1", false, true),
            ("::", false, "0.0.0.0", false, true),
            ("::", true, "0.0.0.0", false, false),
            ("::", true, "::1", false, true),
            ("::1", false, "0.0.0.0", false, false),
            ("::1", false, "127.0.0.1", false, false),
            ("::", false, "::1", false, true),
            ("::1", false, "::2", false, false),
            ("10.0.0.1", false, "10.0.0.2", false, false),
        ];
        for (a, av6, b, bv6, want) in cases {
            assert_eq!(
                overlap(ip(a), av6, ip(b), bv6),
                want,
                "{a} v6only={av6} vs {b} v6only={bv6}"
            );
            assert_eq!(overlap(ip(b), bv6, ip(a), av6), want, "symmetric: {b} vs {a}");
        }
    }
}
