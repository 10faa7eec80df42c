//! TCP segments as they travel between hosts.
//!
//! A segment carries what a capture would show: addresses, flags, sequence and acknowledgement
//! numbers, and the payload. Payload-free segments (most of a handshake) allocate nothing.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
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
    /// Payload bytes, shared rather than copied.
    pub payload: Option<Rc<[u8]>>,
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
            len: s.len(),
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
