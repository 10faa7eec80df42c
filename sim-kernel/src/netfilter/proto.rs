//! Per-protocol state tracking (`nf_conntrack_proto_tcp.c`, `nf_conntrack_proto_udp.c`): which
//! state a segment moves an entry to, how a packet without an entry starts one, and how long an
//! entry lives in each state.

use super::conntrack::{Conn, CtState, Dir};
use crate::packet::{Flags, Packet};
use crate::sysctl::ConntrackSysctls;
use sim_core::{Duration, Instant};

/// The timeout of an entry in `state` (`tcp_timeouts[]`, `udp_packet()`).
pub(super) fn timeout(c: &Conn, sys: &ConntrackSysctls, now: Instant) -> Duration {
    let secs = match c.state {
        // udp_packet(): a flow with replies that is still active 2 s after it started gets
        // the stream timeout.
        CtState::Udp if c.seen_reply && now > c.created.after(Duration::from_secs(2)) => sys.udp_stream,
        CtState::Udp => sys.udp,
        CtState::SynSent => sys.tcp_syn_sent,
        CtState::SynRecv => sys.tcp_syn_recv,
        CtState::Established => sys.tcp_established,
        CtState::FinWait => sys.tcp_fin_wait,
        CtState::CloseWait => sys.tcp_close_wait,
        CtState::LastAck => sys.tcp_last_ack,
        CtState::TimeWait => sys.tcp_time_wait,
        CtState::Close => sys.tcp_close,
    };
    Duration::from_secs(u64::from(secs))
}

/// The next TCP state after a segment with `flags` in direction `dir`: the transitions of
/// `tcp_conntracks[][][]` in `nf_conntrack_proto_tcp.c` that ordinary connections take (a FIN
/// counts before the ACK it carries, as in `get_conntrack_index()`).
pub(super) fn tcp_next(state: CtState, flags: Flags, dir: Dir) -> CtState {
    use CtState::*;
    if flags.has(Flags::RST) {
        return Close;
    }
    if flags.has(Flags::SYN) {
        return match (state, flags.has(Flags::ACK), dir) {
            (SynSent, true, Dir::Reply) => SynRecv,
            (s, _, _) => s,
        };
    }
    if flags.has(Flags::FIN) {
        return match state {
            SynRecv | Established => FinWait,
            FinWait | CloseWait | LastAck => LastAck,
            s => s,
        };
    }
    if flags.has(Flags::ACK) {
        return match (state, dir) {
            (SynRecv, Dir::Original) => Established,
            (FinWait, _) => CloseWait,
            (LastAck, _) => TimeWait,
            (s, _) => s,
        };
    }
    state
}

/// How a packet without an entry starts one (`tcp_new()`, `udp` always): a SYN starts
/// SYN_SENT, a bare ACK is picked up mid-stream as ESTABLISHED (`nf_conntrack_tcp_loose`);
/// anything else is INVALID and not tracked.
pub(super) fn new_state(packet: &Packet) -> Option<CtState> {
    match packet {
        Packet::Udp(_) => Some(CtState::Udp),
        Packet::Tcp(s) if s.flags.has(Flags::RST) || s.flags.has(Flags::FIN) => None,
        Packet::Tcp(s) if s.flags.has(Flags::SYN) => (!s.flags.has(Flags::ACK)).then_some(CtState::SynSent),
        Packet::Tcp(s) if s.flags.has(Flags::ACK) => Some(CtState::Established),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_states_follow_an_ordinary_connection() {
        use CtState::*;
        let (o, r) = (Dir::Original, Dir::Reply);
        let steps = [
            (SynSent, Flags(Flags::SYN.0 | Flags::ACK.0), r, SynRecv),
            (SynRecv, Flags::ACK, o, Established),
            (Established, Flags(Flags::FIN.0 | Flags::ACK.0), o, FinWait),
            (FinWait, Flags::ACK, r, CloseWait),
            (CloseWait, Flags(Flags::FIN.0 | Flags::ACK.0), r, LastAck),
            (LastAck, Flags::ACK, o, TimeWait),
            (Established, Flags::RST, r, Close),
            (SynSent, Flags::SYN, o, SynSent),
        ];
        for (from, flags, dir, to) in steps {
            assert_eq!(tcp_next(from, flags, dir), to, "{from:?} + {flags:?} ({dir:?})");
        }
    }
}
