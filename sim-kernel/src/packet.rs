//! TCP segments as they travel between hosts.
//!
//! A segment carries what a capture would show: addresses, flags, sequence and acknowledgement
//! numbers, and the payload. Payload-free segments (most of a handshake) allocate nothing.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

/// TCP header flags (RFC 9293 §3.1), as a bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Flags(pub u8);

impl Flags {
    /// FIN: no more data from the sender.
    pub const FIN: Flags = Flags(0x01);
    /// SYN: synchronise sequence numbers.
    pub const SYN: Flags = Flags(0x02);
    /// RST: reset the connection.
    pub const RST: Flags = Flags(0x04);
    /// PSH: push.
    pub const PSH: Flags = Flags(0x08);
    /// ACK: the acknowledgement field is significant.
    pub const ACK: Flags = Flags(0x10);

    /// Whether every flag of `other` is set.
    pub fn has(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Flags as tcpdump prints them inside `Flags [...]`: `S`, `S.`, `P.`, `F.`, `R`, `.`.
    pub fn tcpdump(self) -> String {
        let mut s = String::new();
        for (flag, c) in [
            (Flags::SYN, 'S'),
            (Flags::FIN, 'F'),
            (Flags::PSH, 'P'),
            (Flags::RST, 'R'),
        ] {
            if self.has(flag) {
                s.push(c);
            }
        }
        if self.has(Flags::ACK) {
            s.push('.');
        }
        s
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// One TCP segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// Header flags.
    pub flags: Flags,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful with ACK).
    pub ack: u32,
    /// The receive window the sender advertises, in bytes (socksim does not scale windows).
    pub window: u32,
    /// Payload bytes, shared rather than copied.
    pub payload: Option<Rc<[u8]>>,
    /// The TTL (hop limit) it is sent with: the socket's `IP_TTL`, 64 by default.
    pub ttl: u8,
}

impl Segment {
    /// Payload length in bytes.
    pub fn len(&self) -> u32 {
        self.payload.as_ref().map_or(0, |p| p.len() as u32)
    }

    /// Whether the segment carries no payload.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sequence space the segment occupies: payload plus one each for SYN and FIN.
    pub fn seq_len(&self) -> u32 {
        self.len() + u32::from(self.flags.has(Flags::SYN)) + u32::from(self.flags.has(Flags::FIN))
    }
}

/// What the trace records of a segment (no payload bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentSummary {
    /// Source.
    pub src: SocketAddr,
    /// Destination.
    pub dst: SocketAddr,
    /// Flags.
    pub flags: Flags,
    /// Absolute sequence number.
    pub seq: u32,
    /// Absolute acknowledgement number.
    pub ack: u32,
    /// Advertised window in bytes.
    pub window: u32,
    /// Payload length.
    pub len: u32,
}

impl From<&Segment> for SegmentSummary {
    fn from(s: &Segment) -> Self {
        SegmentSummary {
            src: s.src,
            dst: s.dst,
            flags: s.flags,
            seq: s.seq,
            ack: s.ack,
            window: s.window,
            len: s.len(),
        }
    }
}

/// One UDP datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// The payload, shared rather than copied.
    pub payload: Rc<[u8]>,
    /// The TTL (hop limit) it is sent with: the socket's `IP_TTL`, 64 by default.
    pub ttl: u8,
}

/// An ICMP (or ICMPv6) "port unreachable" about a UDP datagram nobody wanted
/// (`icmp_send(skb, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0)` in `__udp4_lib_rcv`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortUnreachable {
    /// The host that reports (the datagram's destination).
    pub src: IpAddr,
    /// The sender of the datagram.
    pub dst: IpAddr,
    /// The datagram's source, as quoted in the error.
    pub orig_src: SocketAddr,
    /// The datagram's destination, as quoted in the error.
    pub orig_dst: SocketAddr,
    /// The datagram's payload length.
    pub orig_len: u32,
}

/// Which ICMP error a router or a host sends about a packet it could not deliver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IcmpKind {
    /// Destination unreachable, net unreachable (ICMP type 3 code 0; ICMPv6 type 1 code 0, no
    /// route): a forwarding router has no route (`ip_error()`).
    NetUnreachable,
    /// Destination unreachable, host unreachable (ICMP type 3 code 1; ICMPv6 type 1 code 3,
    /// address unreachable): the next hop did not answer ARP or neighbour discovery
    /// (`ipv4_link_failure()`).
    HostUnreachable,
    /// Time exceeded in transit (ICMP type 11 code 0; ICMPv6 type 3 code 0): the TTL ran out at
    /// a router (`ip_forward()`).
    TimeExceeded,
}

impl IcmpKind {
    /// The errno a socket sees for it (`icmp_err_convert[]`, and `tcp_v4_err()` for time
    /// exceeded): none of them is a hard error, so only a connecting TCP socket reports it.
    pub fn errno(self) -> crate::Errno {
        match self {
            IcmpKind::NetUnreachable => crate::Errno::ENETUNREACH,
            IcmpKind::HostUnreachable | IcmpKind::TimeExceeded => crate::Errno::EHOSTUNREACH,
        }
    }
}

/// An ICMP error about a TCP or UDP packet, other than a port unreachable: sent by a router
/// that could not forward the packet, or by the sender itself when the next hop never
/// answered (`icmp_send()`). It quotes the packet as it was when it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcmpError {
    /// Which error.
    pub kind: IcmpKind,
    /// Who reports.
    pub src: IpAddr,
    /// The failed packet's sender.
    pub dst: IpAddr,
    /// The failed packet (a TCP segment or a UDP datagram).
    pub quoted: Box<Packet>,
}

/// Anything that travels between hosts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// A TCP segment.
    Tcp(Segment),
    /// A UDP datagram.
    Udp(Datagram),
    /// An ICMP port-unreachable error.
    PortUnreachable(PortUnreachable),
    /// Another ICMP error (net or host unreachable, time exceeded).
    IcmpError(IcmpError),
}

impl From<Segment> for Packet {
    fn from(s: Segment) -> Packet {
        Packet::Tcp(s)
    }
}

impl Packet {
    /// Whether it carries payload bytes: a TCP segment or UDP datagram with data (ICMP errors
    /// quote only a summary of the packet they answer).
    pub fn has_payload(&self) -> bool {
        match self {
            Packet::Tcp(s) => !s.is_empty(),
            Packet::Udp(d) => !d.payload.is_empty(),
            Packet::PortUnreachable(_) | Packet::IcmpError(_) => false,
        }
    }

    /// Where it is going.
    pub fn dst_ip(&self) -> IpAddr {
        match self {
            Packet::Tcp(s) => s.dst.ip(),
            Packet::Udp(d) => d.dst.ip(),
            Packet::PortUnreachable(p) => p.dst,
            Packet::IcmpError(e) => e.dst,
        }
    }

    /// Where it comes from.
    pub fn src_ip(&self) -> IpAddr {
        match self {
            Packet::Tcp(s) => s.src.ip(),
            Packet::Udp(d) => d.src.ip(),
            Packet::PortUnreachable(p) => p.src,
            Packet::IcmpError(e) => e.src,
        }
    }

    /// Its transport source and destination (TCP or UDP), none for ICMP.
    pub fn ends(&self) -> Option<(SocketAddr, SocketAddr)> {
        match self {
            Packet::Tcp(s) => Some((s.src, s.dst)),
            Packet::Udp(d) => Some((d.src, d.dst)),
            Packet::PortUnreachable(_) | Packet::IcmpError(_) => None,
        }
    }

    /// The TTL it leaves its sender with (ICMP errors: the default, `ip_default_ttl`).
    pub fn initial_ttl(&self) -> u8 {
        match self {
            Packet::Tcp(s) => s.ttl,
            Packet::Udp(d) => d.ttl,
            Packet::PortUnreachable(_) | Packet::IcmpError(_) => crate::route::DEFAULT_TTL,
        }
    }

    /// Whether it is an ICMP error (never answered with another: `icmp_send()`).
    pub fn is_icmp_error(&self) -> bool {
        matches!(self, Packet::PortUnreachable(_) | Packet::IcmpError(_))
    }
}

/// What the trace records of a packet (no payload bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "proto", rename_all = "snake_case")]
pub enum PacketSummary {
    /// A TCP segment.
    Tcp(SegmentSummary),
    /// A UDP datagram.
    Udp {
        /// Source.
        src: SocketAddr,
        /// Destination.
        dst: SocketAddr,
        /// Payload length.
        len: u32,
    },
    /// ICMP port unreachable.
    IcmpPortUnreachable {
        /// Reporting host.
        src: IpAddr,
        /// The datagram's sender.
        dst: IpAddr,
        /// The datagram's source.
        orig_src: SocketAddr,
        /// The datagram's destination.
        orig_dst: SocketAddr,
        /// The datagram's payload length.
        orig_len: u32,
    },
    /// Another ICMP error about a TCP segment or UDP datagram.
    IcmpError {
        /// Which error.
        kind: IcmpKind,
        /// Reporting host.
        src: IpAddr,
        /// The failed packet's sender.
        dst: IpAddr,
        /// The failed packet.
        quoted: Box<PacketSummary>,
    },
}

impl From<&Packet> for PacketSummary {
    fn from(p: &Packet) -> Self {
        match p {
            Packet::Tcp(s) => PacketSummary::Tcp(s.into()),
            Packet::Udp(d) => PacketSummary::Udp {
                src: d.src,
                dst: d.dst,
                len: d.payload.len() as u32,
            },
            Packet::PortUnreachable(u) => PacketSummary::IcmpPortUnreachable {
                src: u.src,
                dst: u.dst,
                orig_src: u.orig_src,
                orig_dst: u.orig_dst,
                orig_len: u.orig_len,
            },
            Packet::IcmpError(e) => PacketSummary::IcmpError {
                kind: e.kind,
                src: e.src,
                dst: e.dst,
                quoted: Box::new(PacketSummary::from(&*e.quoted)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_print_like_tcpdump() {
        assert_eq!(Flags::SYN.tcpdump(), "S");
        assert_eq!((Flags::SYN | Flags::ACK).tcpdump(), "S.");
        assert_eq!(Flags::ACK.tcpdump(), ".");
        assert_eq!((Flags::PSH | Flags::ACK).tcpdump(), "P.");
        assert_eq!((Flags::FIN | Flags::ACK).tcpdump(), "F.");
        assert_eq!((Flags::RST | Flags::ACK).tcpdump(), "R.");
    }
}
