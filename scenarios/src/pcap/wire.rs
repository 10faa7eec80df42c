//! Packets as bytes on the wire: IPv4 and IPv6 headers around TCP, UDP and ICMP port
//! unreachable messages, every length and checksum filled in.
//!
//! What a field does not come from the simulation is fixed, so that a capture depends only on
//! the run: TTL and hop limit 64, IPv4 identification 0, traffic class and flow label 0, no IP
//! or TCP options. IPv4 sets Don't Fragment on TCP and UDP (Linux's default path-MTU discovery)
//! but not on ICMP errors (Linux's ICMP socket uses `IP_PMTUDISC_DONT`).

use super::checksum::{Checksum, internet_checksum, udp_checksum};
use std::net::{IpAddr, SocketAddr};

/// IP protocol number of ICMP.
pub const IPPROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;
/// IPv6 next-header number of ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;

/// TTL (IPv4) and hop limit (IPv6): Linux's `ip_default_ttl` and `hop_limit`.
pub const TTL: u8 = 64;

/// The most of an offending datagram an ICMP error quotes: Linux's `icmp_send` keeps the
/// error within 576 bytes (less its 20-byte IP and 8-byte ICMP headers), `icmp6_send` within
/// the IPv6 minimum MTU of 1280 (less 40 and 8).
pub const ICMP_QUOTE_MAX: usize = 576 - 20 - 8;
/// See [`ICMP_QUOTE_MAX`].
pub const ICMPV6_QUOTE_MAX: usize = 1280 - 40 - 8;

/// A TCP segment's header fields (the addresses and ports are in [`tcp`]'s arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpHeader {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (sent as 0 unless ACK is set, as Linux does).
    pub ack: u32,
    /// The flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10).
    pub flags: u8,
    /// Window field.
    pub window: u16,
}

/// The addresses one packet goes between, in one family: an IPv4-mapped IPv6 address
/// (`::ffff:10.0.0.1`, what a dual-stack socket sees) travels as IPv4. Should one side still be
/// IPv6 then, the other is written IPv4-mapped and the packet is IPv6.
pub fn family(src: IpAddr, dst: IpAddr) -> (IpAddr, IpAddr) {
    let mapped = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
        v6 => v6,
    };
    match (src.to_canonical(), dst.to_canonical()) {
        (s @ IpAddr::V4(_), d @ IpAddr::V4(_)) => (s, d),
        (s, d) => (mapped(s), mapped(d)),
    }
}

/// An IP packet from `src` to `dst` (one family, see [`family`]) carrying `body` as protocol
/// `protocol`. IPv4 gets a 20-byte header with its checksum, IPv6 a 40-byte one.
pub fn ip(src: IpAddr, dst: IpAddr, protocol: u8, dont_fragment: bool, body: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = u16::try_from(20 + body.len()).unwrap_or(u16::MAX);
            let mut p = Vec::with_capacity(20 + body.len());
            p.extend_from_slice(&[0x45, 0x00]); // version 4, IHL 5 words; DSCP/ECN 0
            p.extend_from_slice(&total.to_be_bytes());
            p.extend_from_slice(&[0, 0]); // identification
            p.extend_from_slice(&if dont_fragment { [0x40, 0x00] } else { [0, 0] });
            p.extend_from_slice(&[TTL, protocol, 0, 0]); // checksum below
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            let sum = internet_checksum(&p);
            p[10..12].copy_from_slice(&sum.to_be_bytes());
            p.extend_from_slice(body);
            p
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let payload_len = u16::try_from(body.len()).unwrap_or(u16::MAX);
            let mut p = Vec::with_capacity(40 + body.len());
            p.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, traffic class and flow label 0
            p.extend_from_slice(&payload_len.to_be_bytes());
            p.extend_from_slice(&[protocol, TTL]);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(body);
            p
        }
        _ => panic!("an IP packet between two families: {src} and {dst}"),
    }
}

/// A TCP segment from `src` to `dst` with `payload`, in its IP packet: a 20-byte header (no
/// options) and the checksum over the pseudo-header, header and payload.
pub fn tcp(src: SocketAddr, dst: SocketAddr, header: TcpHeader, payload: &[u8]) -> Vec<u8> {
    let (sip, dip) = family(src.ip(), dst.ip());
    let ack = if header.flags & 0x10 != 0 { header.ack } else { 0 };
    let mut t = Vec::with_capacity(20 + payload.len());
    t.extend_from_slice(&src.port().to_be_bytes());
    t.extend_from_slice(&dst.port().to_be_bytes());
    t.extend_from_slice(&header.seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[5 << 4, header.flags]); // data offset 5 words, flags
    t.extend_from_slice(&header.window.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]); // checksum below, urgent pointer
    t.extend_from_slice(payload);
    let mut sum = Checksum::pseudo_header(sip, dip, IPPROTO_TCP, t.len() as u32);
    sum.add(&t);
    let sum = sum.finish();
    t[16..18].copy_from_slice(&sum.to_be_bytes());
    ip(sip, dip, IPPROTO_TCP, true, &t)
}

/// A UDP datagram from `src` to `dst` with `payload`, in its IP packet.
pub fn udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let (sip, dip) = family(src.ip(), dst.ip());
    ip(
        sip,
        dip,
        IPPROTO_UDP,
        true,
        &udp_body(sip, dip, src.port(), dst.port(), payload),
    )
}

/// The UDP header and payload, checksum included.
fn udp_body(sip: IpAddr, dip: IpAddr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut u = Vec::with_capacity(len);
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    u.extend_from_slice(&[0, 0]); // checksum below
    u.extend_from_slice(payload);
    let mut sum = Checksum::pseudo_header(sip, dip, IPPROTO_UDP, len as u32);
    sum.add(&u);
    u[6..8].copy_from_slice(&udp_checksum(&sum).to_be_bytes());
    u
}

/// The ICMP "port unreachable" that `from` sends to `to` about `offending`, the whole IP
/// packet of the datagram nobody wanted (as [`udp`] builds it): ICMP type 3 code 3 over IPv4,
/// ICMPv6 type 1 code 4 over IPv6, quoting as much of `offending` as Linux does
/// ([`ICMP_QUOTE_MAX`]).
pub fn port_unreachable(from: IpAddr, to: IpAddr, offending: &[u8]) -> Vec<u8> {
    icmp_error(from, to, (3, 3), (1, 4), offending)
}

/// An ICMP error that `from` sends to `to` about `offending` (a whole IP packet): type and code
/// `v4` over IPv4, `v6` over IPv6 (ICMPv6), quoting as much of `offending` as Linux does
/// ([`ICMP_QUOTE_MAX`]).
pub fn icmp_error(from: IpAddr, to: IpAddr, v4: (u8, u8), v6: (u8, u8), offending: &[u8]) -> Vec<u8> {
    let (sip, dip) = family(from, to);
    let is_v4 = sip.is_ipv4();
    let ((kind, code), max) = if is_v4 {
        (v4, ICMP_QUOTE_MAX)
    } else {
        (v6, ICMPV6_QUOTE_MAX)
    };
    let v4 = is_v4;
    let quoted = &offending[..offending.len().min(max)];
    let mut m = Vec::with_capacity(8 + quoted.len());
    m.extend_from_slice(&[kind, code, 0, 0]); // checksum below
    m.extend_from_slice(&[0, 0, 0, 0]); // unused
    m.extend_from_slice(quoted);
    let sum = if v4 {
        internet_checksum(&m)
    } else {
        let mut sum = Checksum::pseudo_header(sip, dip, IPPROTO_ICMPV6, m.len() as u32);
        sum.add(&m);
        sum.finish()
    };
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    let protocol = if v4 { IPPROTO_ICMP } else { IPPROTO_ICMPV6 };
    ip(sip, dip, protocol, false, &m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// The checksum over an L4 body with its pseudo-header: 0 when the body's checksum is
    /// right (the receiver's test).
    fn verify_l4(packet: &[u8]) -> u16 {
        let (src, dst, proto, body): (IpAddr, IpAddr, u8, &[u8]) = if packet[0] >> 4 == 4 {
            let s: [u8; 4] = packet[12..16].try_into().unwrap();
            let d: [u8; 4] = packet[16..20].try_into().unwrap();
            (s.into(), d.into(), packet[9], &packet[20..])
        } else {
            let s: [u8; 16] = packet[8..24].try_into().unwrap();
            let d: [u8; 16] = packet[24..40].try_into().unwrap();
            (s.into(), d.into(), packet[6], &packet[40..])
        };
        if proto == IPPROTO_ICMP {
            return internet_checksum(body);
        }
        let mut c = Checksum::pseudo_header(src, dst, proto, body.len() as u32);
        c.add(body);
        c.finish()
    }

    #[test]
    fn a_syn_byte_by_byte() {
        let syn = TcpHeader {
            seq: 1000,
            ack: 77,
            flags: 0x02,
            window: 65535,
        };
        let p = tcp(addr("10.0.0.2:40000"), addr("10.0.0.1:80"), syn, &[]);
        #[rustfmt::skip]
        let expected = [
            // IPv4: version/IHL, TOS, total length 40, id 0, DF, TTL 64, TCP, checksum 26ce (computed separately)
            0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x26, 0xce,
            10, 0, 0, 2, 10, 0, 0, 1,
            // TCP: ports 40000 > 80, seq 1000, ack 0 (no ACK flag), offset 5, SYN, window, checksum fb67
            0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00,
            0x50, 0x02, 0xff, 0xff, 0xfb, 0x67, 0x00, 0x00,
        ];
        assert_eq!(p, expected);
        assert_eq!(internet_checksum(&p[..20]), 0);
        assert_eq!(verify_l4(&p), 0);
    }

    #[test]
    fn lengths_and_checksums_hold_for_every_shape() {
        let payloads: [&[u8]; 4] = [b"", b"x", b"hello", &[0xa5; 1501]];
        for (src, dst) in [
            ("10.0.0.2:40000", "10.0.0.1:80"),
            ("[fd00::2]:40000", "[fd00::1]:80"),
            ("[::ffff:10.0.0.2]:40000", "[::ffff:10.0.0.1]:80"),
            ("127.0.0.1:5000", "127.0.0.1:6000"),
        ] {
            for payload in payloads {
                let header = TcpHeader {
                    seq: 0xfedc_ba98,
                    ack: 0x0123_4567,
                    flags: 0x18,
                    window: 1024,
                };
                for p in [
                    tcp(addr(src), addr(dst), header, payload),
                    udp(addr(src), addr(dst), payload),
                ] {
                    let v4 = !src.starts_with("[fd");
                    assert_eq!(p[0] >> 4, if v4 { 4 } else { 6 }, "{src}");
                    if v4 {
                        assert_eq!(usize::from(u16::from_be_bytes([p[2], p[3]])), p.len());
                        assert_eq!(internet_checksum(&p[..20]), 0);
                        assert_eq!(p[8], TTL);
                    } else {
                        assert_eq!(usize::from(u16::from_be_bytes([p[4], p[5]])), p.len() - 40);
                        assert_eq!(p[7], TTL);
                    }
                    assert_eq!(verify_l4(&p), 0, "{src} > {dst}, {} bytes", payload.len());
                    assert!(p.ends_with(payload));
                }
            }
        }
    }

    #[test]
    fn udp_length_field() {
        let p = udp(addr("10.0.0.2:5000"), addr("10.0.0.1:53"), b"hello");
        assert_eq!(&p[20..26], &[0x13, 0x88, 0x00, 0x35, 0x00, 13]);
        let p = udp(addr("[fd00::2]:5000"), addr("[fd00::1]:53"), b"hello");
        assert_eq!(p[6], IPPROTO_UDP);
        assert_eq!(&p[44..46], &[0x00, 13]);
    }

    #[test]
    fn port_unreachable_quotes_the_datagram() {
        let datagram = udp(addr("10.0.0.2:5000"), addr("10.0.0.1:53"), b"hello");
        let p = port_unreachable("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), &datagram);
        assert_eq!(p.len(), 20 + 8 + datagram.len());
        assert_eq!((p[9], p[20], p[21]), (IPPROTO_ICMP, 3, 3));
        assert_eq!(&p[6..8], &[0, 0], "no DF on ICMP errors");
        assert_eq!(&p[28..], &datagram[..]);
        assert_eq!(internet_checksum(&p[..20]), 0);
        assert_eq!(verify_l4(&p), 0);

        let datagram = udp(addr("[fd00::2]:5000"), addr("[fd00::1]:53"), b"hello");
        let p = port_unreachable("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap(), &datagram);
        assert_eq!((p[6], p[40], p[41]), (IPPROTO_ICMPV6, 1, 4));
        assert_eq!(&p[48..], &datagram[..]);
        assert_eq!(verify_l4(&p), 0);
    }

    #[test]
    fn port_unreachable_keeps_within_the_minimum_mtu() {
        let big = vec![7u8; 2000];
        let datagram = udp(addr("10.0.0.2:5000"), addr("10.0.0.1:53"), &big);
        let p = port_unreachable("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), &datagram);
        assert_eq!(p.len(), 576);
        assert_eq!(&p[28..], &datagram[..ICMP_QUOTE_MAX]);
        assert_eq!(verify_l4(&p), 0);

        let datagram = udp(addr("[fd00::2]:5000"), addr("[fd00::1]:53"), &big);
        let p = port_unreachable("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap(), &datagram);
        assert_eq!(p.len(), 1280);
        assert_eq!(verify_l4(&p), 0);
    }

    #[test]
    fn mapped_addresses_travel_as_ipv4() {
        let (s, d) = family("::ffff:10.0.0.2".parse().unwrap(), "10.0.0.1".parse().unwrap());
        assert_eq!((s.to_string(), d.to_string()), ("10.0.0.2".into(), "10.0.0.1".into()));
        let (s, d) = family("10.0.0.2".parse().unwrap(), "fd00::1".parse().unwrap());
        assert_eq!(
            (s.to_string(), d.to_string()),
            ("::ffff:10.0.0.2".into(), "fd00::1".into())
        );
    }
}
