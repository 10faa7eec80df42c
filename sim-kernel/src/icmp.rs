//! Receiving ICMP errors other than port unreachable (which `udp.rs` handles): net and host
//! unreachable, time exceeded (`tcp_v4_err()`, `__udp4_lib_err()`).

use crate::host::{FourTuple, HostId};
use crate::packet::{IcmpError, Packet};
use crate::socket::TcpState;
use crate::world::World;

impl World {
    /// An ICMP error about a packet `host` sent arrives there.
    ///
    /// - TCP (`tcp_v4_err()`): the error names a connection by the quoted segment's ends, and
    ///   counts only if the quoted sequence number is one the connection has sent and not yet
    ///   had acknowledged. A connection still in SYN-SENT fails with the error's errno
    ///   (`ENETUNREACH`, `EHOSTUNREACH`); an established one only notes it as a soft error,
    ///   which socksim does not keep (it matters only for `SO_ERROR` after a later timeout).
    /// - UDP (`__udp4_lib_err()`): these errors are not hard (`icmp_err_convert[].fatal` is 0),
    ///   so without `IP_RECVERR` nothing is reported.
    pub(crate) fn icmp_error_input(&mut self, host: HostId, error: IcmpError) {
        let Packet::Tcp(seg) = *error.quoted else {
            return;
        };
        let key = FourTuple::new(seg.src, seg.dst);
        let Some(&sock) = self.hosts[host.0 as usize].tcp.established.get(&key) else {
            return;
        };
        let s = self.sockets.get_mut(sock);
        // between(seq, snd_una, snd_nxt)
        let in_window = seg.seq.wrapping_sub(s.snd_una) <= s.snd_nxt.wrapping_sub(s.snd_una);
        if !in_window || s.state != TcpState::SynSent {
            return;
        }
        s.error = Some(error.kind.errno());
        self.tcp_done(sock);
    }
}
