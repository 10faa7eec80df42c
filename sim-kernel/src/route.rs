//! Routing: each host's routing table, the longest-prefix lookup, and the IP layer's output,
//! input and forwarding paths.
//!
//! A host's table holds one *connected* route per interface (the interface's network prefix,
//! reached directly — Linux adds these itself, `fib_add_ifaddr()`) and the scenario's static
//! routes (`route default via 10.0.0.254`, `route 10.1.0.0/16 via 10.0.0.2`). A lookup takes
//! the longest matching prefix (`fib_table_lookup()`); at equal length the connected route
//! wins, then static routes in declaration order (Linux orders equal prefixes by metric; every
//! route here has metric 0, and the kernel's own connected routes sort first).
//!
//! A packet a host sends (`ip_queue_xmit()` / `ip_send_skb()`) goes to itself over `lo` when
//! the destination is local; otherwise the route gives the network and the next hop (the
//! gateway, or the destination itself on a connected route), and the link layer carries it
//! there. A host receiving a packet not addressed to it forwards it if forwarding is on
//! (`ip_forward()`, with the TTL decremented) and drops it otherwise.

use crate::host::HostId;
use crate::netfilter::CtRef;
use crate::network::NetId;
use crate::packet::{IcmpError, IcmpKind, Packet};
use crate::trace::Event;
use crate::world::World;
use std::net::{IpAddr, Ipv4Addr};

/// The TTL (hop limit) of packets a host sends: `net.ipv4.ip_default_ttl` = 64.
pub const DEFAULT_TTL: u8 = 64;

/// An address prefix: `10.1.0.0/16`, `::/0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix {
    /// The network address (host bits are ignored).
    pub addr: IpAddr,
    /// The number of network bits.
    pub len: u8,
}

impl Prefix {
    /// The default route's prefix for `addr`'s family (`0.0.0.0/0` or `::/0`).
    pub fn default_for(addr: IpAddr) -> Prefix {
        let addr = match addr {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        };
        Prefix { addr, len: 0 }
    }

    /// Whether `addr` falls inside the prefix (never across IP versions).
    pub fn contains(&self, addr: IpAddr) -> bool {
        fn masked(bits: u128, width: u32, prefix: u8) -> u128 {
            let prefix = u32::from(prefix).min(width);
            if prefix == 0 { 0 } else { bits >> (width - prefix) }
        }
        match (self.addr, addr) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                masked(u128::from(u32::from(net)), 32, self.len) == masked(u128::from(u32::from(a)), 32, self.len)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                masked(u128::from(net), 128, self.len) == masked(u128::from(a), 128, self.len)
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.len == 0 {
            return f.write_str("default");
        }
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// A static route of a host (`route PREFIX via GATEWAY`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// The destinations it covers.
    pub prefix: Prefix,
    /// The gateway (on a directly attached network).
    pub via: IpAddr,
    /// The network the gateway is on.
    pub dev: NetId,
}

/// The result of a route lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextHop {
    /// The network to send on.
    pub dev: NetId,
    /// The address whose owner receives the frame: the gateway, or the destination itself.
    pub addr: IpAddr,
    /// The preferred source address (`inet_select_addr()`: the host's address on `dev`).
    pub src: IpAddr,
}

/// A packet travelling between hosts: what the link layer delivers.
#[derive(Debug)]
pub(crate) struct Arrival {
    /// The host that receives it.
    pub host: HostId,
    /// The network it arrives from (`None` for loopback).
    pub from: Option<NetId>,
    /// Hops left before it is dropped (the IP TTL / hop limit).
    pub ttl: u8,
    /// The packet.
    pub packet: Packet,
}

/// Why a packet did not reach its destination (the `reason` of a drop in the trace).
pub mod reason {
    /// No route matches the destination.
    pub const NO_ROUTE: &str = "no route";
    /// Nobody on the network owns the next hop's address: ARP (or neighbour discovery) got
    /// no answer in 3 s.
    pub const NO_NEIGHBOUR: &str = "no host has this address";
    /// Too many packets waited for one unresolved neighbour (`unres_qlen`).
    pub const NEIGH_QUEUE_FULL: &str = "neighbour queue full";
    /// A host received a packet for another address with forwarding off.
    pub const NOT_FORWARDING: &str = "not for this host, forwarding off";
    /// The TTL ran out (Linux answers with ICMP time exceeded, which is not modelled).
    pub const TTL_EXCEEDED: &str = "TTL exceeded";
    /// The network lost it (its `loss=` fault).
    pub const LOST: &str = "lost";
    /// The network was partitioned when the packet was put on it.
    pub const PARTITIONED: &str = "partitioned";
}

impl World {
    /// Adds a static route to `host`: `prefix` via `gateway`, which must be on one of the host's
    /// networks (Linux refuses an unreachable gateway: `fib_check_nh()`, "Nexthop has invalid
    /// gateway").
    pub fn add_route(&mut self, host: HostId, prefix: Prefix, gateway: IpAddr) -> Result<(), crate::SetupError> {
        if prefix.addr.is_ipv4() != gateway.is_ipv4() {
            return Err(crate::SetupError(format!(
                "gateway {gateway} is not of the same IP version as {prefix}"
            )));
        }
        let h = &self.hosts[host.0 as usize];
        let Some(dev) = h
            .ifaces
            .iter()
            .find(|i| self.networks[i.network.0 as usize].contains(gateway))
            .map(|i| i.network)
        else {
            return Err(crate::SetupError(format!(
                "gateway {gateway} is not on any network of host `{}` (Linux: Nexthop has invalid gateway)",
                h.name
            )));
        };
        if h.is_local(gateway) {
            return Err(crate::SetupError(format!(
                "gateway {gateway} is an address of host `{}` itself",
                h.name
            )));
        }
        self.hosts[host.0 as usize].routes.push(Route {
            prefix,
            via: gateway,
            dev,
        });
        Ok(())
    }

    /// Turns forwarding on or off for `host` (`net.ipv4.ip_forward`, `net.ipv6.conf.all.forwarding`).
    pub fn set_forwarding(&mut self, host: HostId, on: bool) {
        self.hosts[host.0 as usize].sysctl.ip_forward = on;
    }

    /// The route from `host` toward the non-local address `dst`: the longest matching prefix
    /// among the connected networks and the static routes (`fib_table_lookup()`).
    pub fn route(&self, host: HostId, dst: IpAddr) -> Option<NextHop> {
        let h = &self.hosts[host.0 as usize];
        let mut best: Option<(u8, NextHop)> = None;
        for i in &h.ifaces {
            let n = &self.networks[i.network.0 as usize];
            if n.contains(dst) && best.is_none_or(|(len, _)| n.prefix > len) {
                let hop = NextHop {
                    dev: i.network,
                    addr: dst,
                    src: i.addr,
                };
                best = Some((n.prefix, hop));
            }
        }
        for r in &h.routes {
            if r.prefix.contains(dst) && best.is_none_or(|(len, _)| r.prefix.len > len) {
                let src = self.iface_addr(host, r.dev, dst)?;
                let hop = NextHop {
                    dev: r.dev,
                    addr: r.via,
                    src,
                };
                best = Some((r.prefix.len, hop));
            }
        }
        best.map(|(_, hop)| hop)
    }

    /// The host's first address on `dev` of `dst`'s family (`inet_select_addr()`).
    fn iface_addr(&self, host: HostId, dev: NetId, dst: IpAddr) -> Option<IpAddr> {
        self.hosts[host.0 as usize]
            .ifaces
            .iter()
            .find(|i| i.network == dev && i.addr.is_ipv4() == dst.is_ipv4())
            .map(|i| i.addr)
    }

    /// The source address for reaching `dst` from `host` (the route's preferred source):
    /// local destinations are reached from themselves (`127.0.0.1` for all of 127/8), others
    /// from the interface the route leaves by.
    pub(crate) fn source_addr(&self, host: HostId, dst: IpAddr) -> Option<IpAddr> {
        if dst.is_loopback() {
            // `lo` answers all of 127.0.0.0/8 from 127.0.0.1, and ::1 from itself.
            return Some(match dst {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                v6 => v6,
            });
        }
        if self.hosts[host.0 as usize].is_local(dst) {
            return Some(dst);
        }
        self.route(host, dst).map(|hop| hop.src)
    }

    /// Sends a packet `host` originates (`ip_local_out()`): over loopback when the destination
    /// is local, otherwise by its route.
    pub(crate) fn transmit(&mut self, host: HostId, packet: impl Into<Packet>) {
        let packet = packet.into();
        let ttl = packet.initial_ttl();
        self.ip_output(host, packet, ttl, None);
    }

    /// Like [`World::transmit`], and says whether netfilter let the packet out (false when a
    /// NAT host's conntrack or NAT dropped it: `ip_local_out()` returning -EPERM).
    pub(crate) fn transmit_local(&mut self, host: HostId, packet: Packet) -> bool {
        let ttl = packet.initial_ttl();
        self.ip_output(host, packet, ttl, None)
    }

    /// Routes `packet` out of `host` with `ttl` hops left; `ct` is the flow a forwarded packet
    /// was matched to at PREROUTING.
    /// Returns false when netfilter dropped the packet.
    pub(crate) fn ip_output(&mut self, host: HostId, packet: Packet, ttl: u8, ct: Option<CtRef>) -> bool {
        let dst = packet.dst_ip();
        if self.hosts[host.0 as usize].is_local(dst) {
            self.loopback_send(host, packet);
            return true;
        }
        match self.route(host, dst) {
            Some(hop) => self.ip_send_via(host, hop, packet, ttl, ct),
            None => {
                self.nf_discard(host, ct);
                let at = self.hosts[host.0 as usize].name.clone();
                self.drop_packet(at, &packet, reason::NO_ROUTE);
                true
            }
        }
    }

    /// Sends `packet` out of `host` by the route `hop` already chosen: netfilter's
    /// POSTROUTING hook, then the link. Returns false when netfilter dropped the packet.
    fn ip_send_via(&mut self, host: HostId, hop: NextHop, mut packet: Packet, ttl: u8, ct: Option<CtRef>) -> bool {
        if let Err(why) = self.nf_postrouting(host, hop.dev, &mut packet, ct) {
            let at = self.hosts[host.0 as usize].name.clone();
            self.drop_packet(at, &packet, why);
            return false;
        }
        self.link_send(host, hop.dev, hop.addr, packet, ttl);
        true
    }

    /// A packet arrives at a host (`ip_rcv()`): netfilter's PREROUTING hook, then delivered
    /// locally if it is addressed to the host, forwarded if forwarding is on (`ip_forward()`),
    /// dropped otherwise.
    pub(crate) fn ip_input(&mut self, arrival: Arrival) {
        let Arrival {
            host,
            from,
            ttl,
            mut packet,
        } = arrival;
        self.stats.delivered += 1;
        let name = |w: &World| w.hosts[host.0 as usize].name.clone();
        let ct = if from.is_some() {
            match self.nf_prerouting(host, from, &mut packet) {
                Ok(ct) => ct,
                Err(why) => return self.drop_packet(name(self), &packet, why),
            }
        } else {
            None
        };
        if self.hosts[host.0 as usize].is_local(packet.dst_ip()) {
            if let Err(why) = self.nf_local_in(host, ct) {
                return self.drop_packet(name(self), &packet, why);
            }
            return self.local_deliver(host, packet);
        }
        if !self.hosts[host.0 as usize].sysctl.ip_forward {
            self.nf_discard(host, ct);
            return self.drop_packet(name(self), &packet, reason::NOT_FORWARDING);
        }
        // `ip_route_input_slow()` finds no route: `ip_error()` answers a forwarding host's
        // unroutable packet with ICMP net unreachable.
        let Some(hop) = self.route(host, packet.dst_ip()) else {
            self.nf_discard(host, ct);
            self.drop_packet(name(self), &packet, reason::NO_ROUTE);
            return self.icmp_send(host, IcmpKind::NetUnreachable, packet);
        };
        // `ip_forward()`: a packet whose TTL would reach zero is dropped, and its sender told
        // (ICMP time exceeded).
        if ttl <= 1 {
            self.nf_discard(host, ct);
            self.drop_packet(name(self), &packet, reason::TTL_EXCEEDED);
            return self.icmp_send(host, IcmpKind::TimeExceeded, packet);
        }
        self.stats.forwarded += 1;
        // The destination is not local (checked above), so the route found is the one to use.
        self.ip_send_via(host, hop, packet, ttl - 1, ct);
    }

    /// Sends the ICMP error `kind` about `offending` from `host` to the packet's sender
    /// (`icmp_send()`): never about an ICMP error, and from the host's address toward the
    /// sender (or the offending packet's own source, when the host sent it itself).
    ///
    /// Deviation: Linux rate-limits the errors it sends to each peer (`icmpv4_xrlim_allow()`,
    /// one per second after a burst); socksim sends one for every packet.
    pub(crate) fn icmp_send(&mut self, host: HostId, kind: IcmpKind, offending: Packet) {
        if offending.is_icmp_error() {
            return;
        }
        let to = offending.src_ip();
        let Some(src) = self.source_addr(host, to) else {
            return;
        };
        let error = IcmpError {
            kind,
            src,
            dst: to,
            quoted: Box::new(offending),
        };
        self.transmit(host, Packet::IcmpError(error));
    }

    /// Hands a packet addressed to `host` to its transport protocol.
    pub(crate) fn local_deliver(&mut self, host: HostId, packet: Packet) {
        match packet {
            Packet::Tcp(seg) => self.tcp_input(host, seg),
            Packet::Udp(datagram) => self.udp_input(host, datagram),
            Packet::PortUnreachable(error) => self.udp_error(host, error),
            Packet::IcmpError(error) => self.icmp_error_input(host, error),
        }
    }

    /// Records a packet dropped at `at` (a network or a host name) for `reason`.
    pub(crate) fn drop_packet(&mut self, at: String, packet: &Packet, reason: &str) {
        self.stats.dropped += 1;
        self.trace(|| Event::Drop {
            network: at,
            packet: packet.into(),
            reason: reason.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        let (a, l) = s.split_once('/').unwrap();
        Prefix {
            addr: a.parse().unwrap(),
            len: l.parse().unwrap(),
        }
    }

    fn addr(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A host on three networks with overlapping static routes.
    fn world() -> (World, HostId) {
        let mut w = World::new(1);
        let lan = w
            .add_network("lan", addr("10.0.0.0"), 24, sim_core::Duration::ZERO)
            .unwrap();
        let dmz = w
            .add_network("dmz", addr("10.9.0.0"), 16, sim_core::Duration::ZERO)
            .unwrap();
        let v6 = w
            .add_network("v6", addr("fd00::"), 64, sim_core::Duration::ZERO)
            .unwrap();
        let h = w.add_host("h").unwrap();
        w.add_addr(h, addr("10.0.0.2"), lan).unwrap();
        w.add_addr(h, addr("10.9.0.2"), dmz).unwrap();
        w.add_addr(h, addr("fd00::2"), v6).unwrap();
        w.add_route(h, Prefix::default_for(addr("10.0.0.1")), addr("10.0.0.1"))
            .unwrap();
        w.add_route(h, p("10.0.0.0/8"), addr("10.9.0.1")).unwrap();
        w.add_route(h, p("10.9.1.0/24"), addr("10.0.0.254")).unwrap();
        w.add_route(h, Prefix::default_for(addr("fd00::1")), addr("fd00::1"))
            .unwrap();
        (w, h)
    }

    /// `fib_table_lookup()`: the longest prefix wins, whatever the order of the routes.
    #[test]
    fn longest_prefix_wins() {
        let (w, h) = world();
        let hop = |dst: &str| {
            let hop = w.route(h, addr(dst)).unwrap();
            (
                w.network(hop.dev).name.clone(),
                hop.addr.to_string(),
                hop.src.to_string(),
            )
        };
        let own = |s: &str| s.to_string();
        // Connected /24 beats the static /8 and the default.
        assert_eq!(hop("10.0.0.77"), (own("lan"), own("10.0.0.77"), own("10.0.0.2")));
        // The static /24 inside the connected /16 beats it.
        assert_eq!(hop("10.9.1.5"), (own("lan"), own("10.0.0.254"), own("10.0.0.2")));
        // The connected /16 beats the static /8.
        assert_eq!(hop("10.9.7.7"), (own("dmz"), own("10.9.7.7"), own("10.9.0.2")));
        // The static /8 beats the default.
        assert_eq!(hop("10.200.0.1"), (own("dmz"), own("10.9.0.1"), own("10.9.0.2")));
        assert_eq!(hop("192.0.2.1"), (own("lan"), own("10.0.0.1"), own("10.0.0.2")));
        // IPv6 has its own default.
        assert_eq!(hop("2001:db8::1"), (own("v6"), own("fd00::1"), own("fd00::2")));
    }

    #[test]
    fn no_route_without_a_default() {
        let mut w = World::new(1);
        let lan = w
            .add_network("lan", addr("10.0.0.0"), 24, sim_core::Duration::ZERO)
            .unwrap();
        let h = w.add_host("h").unwrap();
        w.add_addr(h, addr("10.0.0.2"), lan).unwrap();
        assert_eq!(w.route(h, addr("10.1.0.1")), None);
        assert_eq!(w.route(h, addr("fd00::1")), None);
        assert_eq!(w.source_addr(h, addr("10.1.0.1")), None);
        assert_eq!(w.source_addr(h, addr("127.0.0.9")), Some(addr("127.0.0.1")));
        assert_eq!(w.source_addr(h, addr("10.0.0.2")), Some(addr("10.0.0.2")));
    }

    /// `fib_check_nh()`: a gateway must be on an attached network, and not the host itself.
    #[test]
    fn gateways_must_be_reachable() {
        let (mut w, h) = world();
        let e = w.add_route(h, p("10.5.0.0/16"), addr("192.0.2.1")).unwrap_err();
        assert!(e.0.contains("not on any network"), "{e}");
        let e = w.add_route(h, p("10.5.0.0/16"), addr("10.0.0.2")).unwrap_err();
        assert!(e.0.contains("itself"), "{e}");
        let e = w.add_route(h, p("10.5.0.0/16"), addr("fd00::1")).unwrap_err();
        assert!(e.0.contains("IP version"), "{e}");
    }

    #[test]
    fn prefix_match() {
        let n = p("10.0.0.0/24");
        assert!(n.contains("10.0.0.200".parse().unwrap()));
        assert!(!n.contains("10.0.1.1".parse().unwrap()));
        assert!(!n.contains("fd00::1".parse().unwrap()), "never across IP versions");
        assert!(p("0.0.0.0/0").contains("192.0.2.1".parse().unwrap()));
        let v6 = p("fd00::/64");
        assert!(v6.contains("fd00::2".parse().unwrap()));
        assert!(!v6.contains("fd00:0:0:1::2".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        assert_eq!(p("0.0.0.0/0").to_string(), "default");
        assert_eq!(p("10.1.0.0/16").to_string(), "10.1.0.0/16");
    }
}
