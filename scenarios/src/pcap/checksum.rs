//! The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of the
//! data as big-endian 16-bit words, an odd last byte padded with a zero byte.
//!
//! IPv4 headers, TCP, UDP, ICMP and ICMPv6 all use it; TCP, UDP and ICMPv6 also cover a
//! pseudo-header of the IP addresses, the protocol and the length ([`Checksum::pseudo_header`]).

use std::net::IpAddr;

/// A running Internet checksum over data given in pieces, as if they were concatenated (a
/// piece of odd length is carried over correctly into the next one).
#[derive(Clone, Copy, Debug, Default)]
pub struct Checksum {
    /// The sum of the 16-bit words so far, carries not yet folded in.
    sum: u64,
    /// The first byte of a word whose second byte has not come yet.
    pending: Option<u8>,
}

impl Checksum {
    /// An empty sum.
    pub fn new() -> Checksum {
        Checksum::default()
    }

    /// The sum started with the pseudo-header TCP, UDP and ICMPv6 checksums cover: for IPv4
    /// (RFC 9293 §3.1, RFC 768) source, destination, zero, protocol and the 16-bit length; for
    /// IPv6 (RFC 8200 §8.1) source, destination, the 32-bit length, three zeros and the next
    /// header. Both addresses must be of one family.
    pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, len: u32) -> Checksum {
        let mut c = Checksum::new();
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                c.add(&s.octets());
                c.add(&d.octets());
                c.add(&[0, protocol]);
                c.add(&(len as u16).to_be_bytes());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                c.add(&s.octets());
                c.add(&d.octets());
                c.add(&len.to_be_bytes());
                c.add(&[0, 0, 0, protocol]);
            }
            _ => panic!("pseudo-header over addresses of two families: {src} and {dst}"),
        }
        c
    }

    /// Adds `data` to the sum.
    pub fn add(&mut self, data: &[u8]) -> &mut Checksum {
        let mut data = data;
        if let Some(first) = self.pending.take() {
            match data.split_first() {
                Some((&second, rest)) => {
                    self.sum += u64::from(u16::from_be_bytes([first, second]));
                    data = rest;
                }
                None => {
                    self.pending = Some(first);
                    return self;
                }
            }
        }
        let mut words = data.chunks_exact(2);
        for w in &mut words {
            self.sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = words.remainder() {
            self.pending = Some(*last);
        }
        self
    }

    /// The ones' complement sum of everything added (RFC 1071 §4.1's `sum` before the final
    /// complement), carries folded in.
    pub fn sum(&self) -> u16 {
        let mut sum = self.sum;
        if let Some(last) = self.pending {
            sum += u64::from(u16::from_be_bytes([last, 0]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    /// The checksum to put in a header: the complement of [`Checksum::sum`].
    pub fn finish(&self) -> u16 {
        !self.sum()
    }
}

/// The Internet checksum of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    Checksum::new().add(data).finish()
}

/// The checksum UDP puts in its header: a computed 0 is sent as `0xffff`, since 0 means "no
/// checksum" over IPv4 (RFC 768) and is not allowed over IPv6 (RFC 8200 §8.1).
pub fn udp_checksum(c: &Checksum) -> u16 {
    match c.finish() {
        0 => 0xffff,
        n => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 §3's example: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2, so the checksum
    /// is its complement, 220d.
    #[test]
    fn rfc_1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(Checksum::new().add(&data).sum(), 0xddf2);
        assert_eq!(internet_checksum(&data), 0x220d);
    }

    /// A real IPv4 header (the classic example: 192.168.0.1 > 192.168.0.199, UDP, TTL 64,
    /// DF): its checksum is b861, and a header with its checksum in place sums to ffff.
    #[test]
    fn ipv4_header_example() {
        let mut header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
            0x00, 0xc7,
        ];
        assert_eq!(internet_checksum(&header), 0xb861);
        header[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(Checksum::new().add(&header).sum(), 0xffff);
        assert_eq!(internet_checksum(&header), 0);
    }

    #[test]
    fn an_odd_last_byte_is_padded_with_zero() {
        assert_eq!(internet_checksum(&[0x12]), !0x1200);
        assert_eq!(internet_checksum(&[0x12, 0x34, 0x56]), !(0x1234u16 + 0x5600));
        assert_eq!(internet_checksum(&[]), 0xffff);
    }

    #[test]
    fn carries_wrap_around() {
        // ffff + ffff + 0002 = 2_0000 → 0000 + 2 = 0002.
        assert_eq!(Checksum::new().add(&[0xff, 0xff, 0xff, 0xff, 0x00, 0x02]).sum(), 0x0002);
        // A long run of ffff words keeps summing to ffff.
        assert_eq!(Checksum::new().add(&[0xff; 100_000]).sum(), 0xffff);
    }

    #[test]
    fn pieces_of_any_length_sum_like_the_whole() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1001).map(|b| b.wrapping_mul(37)).collect();
        let whole = internet_checksum(&data);
        for cuts in [[0, 1, 2], [1, 2, 3], [3, 500, 1000], [7, 7, 999], [0, 0, 0]] {
            let mut c = Checksum::new();
            c.add(&data[..cuts[0]])
                .add(&data[cuts[0]..cuts[1]])
                .add(&data[cuts[1]..cuts[2]])
                .add(&data[cuts[2]..]);
            assert_eq!(c.finish(), whole, "cut at {cuts:?}");
        }
    }

    #[test]
    fn ipv4_pseudo_header() {
        // 10.0.0.2 > 10.0.0.1, TCP, 20 bytes: 0a00 + 0002 + 0a00 + 0001 + 0006 + 0014 = 141d.
        let c = Checksum::pseudo_header("10.0.0.2".parse().unwrap(), "10.0.0.1".parse().unwrap(), 6, 20);
        assert_eq!(c.sum(), 0x141d);
    }

    #[test]
    fn ipv6_pseudo_header() {
        // fd00::2 > fd00::1, UDP, 13 bytes: fd00 + 2 + fd00 + 1 + 000d + 0011 = 1_fa21 → fa22.
        let c = Checksum::pseudo_header("fd00::2".parse().unwrap(), "fd00::1".parse().unwrap(), 17, 13);
        assert_eq!(c.sum(), 0xfa22);
    }

    #[test]
    fn udp_never_sends_a_zero_checksum() {
        // Data that sums to ffff has checksum 0, sent as ffff.
        let c = *Checksum::new().add(&[0xff, 0xff]);
        assert_eq!(c.finish(), 0);
        assert_eq!(udp_checksum(&c), 0xffff);
        let c = *Checksum::new().add(&[0x12, 0x34]);
        assert_eq!(udp_checksum(&c), !0x1234);
    }
}
