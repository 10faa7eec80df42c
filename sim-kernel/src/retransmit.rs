//! TCP's reliability: the retransmission queue, round-trip estimation, the retransmission
//! and zero-window probe timers, and the receiver's out-of-order queue.
//!
//! Sending: every segment of data (and the FIN) stays in the socket's retransmission queue
//! ([`crate::socket::Retransmit`]) until acknowledged. The retransmission timeout follows
//! Linux: 1 s before the first round-trip sample (`TCP_TIMEOUT_INIT`), then RFC 6298's
//! estimator with Linux's floor of 200 ms on the variation term (`tcp_rtt_estimator()`,
//! `__tcp_set_rto()`, `tcp_rto_min`) and its ceiling of 120 s (`TCP_RTO_MAX`). When the timer
//! fires the oldest segment is sent again and the timeout doubles (`tcp_retransmit_timer()`);
//! until everything sent before the timeout is acknowledged, each acknowledgement that makes
//! progress sends the next segment again (go-back-N, the effect of `tcp_enter_loss()` and
//! `tcp_xmit_retransmit_queue()` with a congestion window of one segment). After
//! `net.ipv4.tcp_retries2` timeouts' worth of time the connection fails with `ETIMEDOUT`
//! (`tcp_write_timeout()`, `retransmits_timed_out()`, `tcp_write_err()`).
//!
//! Receiving: a segment ahead of the next expected byte waits in the out-of-order queue
//! (`tcp_data_queue_ofo()`) until the gap fills (`tcp_ofo_queue()`); a segment that carries
//! nothing new is acknowledged again and dropped (`tcp_send_dupack()`).
//!
//! Deliberate differences from Linux, each simpler and each documented in the book:
//! no congestion control (no `cwnd`, no slow start) and no fast retransmit on three duplicate
//! acknowledgements — only the timer recovers a loss; round-trip times come from one timed
//! segment at a time with Karn's rule (Linux uses TCP timestamps, which socksim does not
//! model); no SACK; zero-window probes never give up.

use crate::errno::Errno;
use crate::packet::{Flags, Segment};
use crate::socket::{OfoQueue, OfoSegment, Retransmit, SocketId, TcpState, TimerKind};
use crate::syscalls::MSS;
use crate::world::World;
use sim_core::{Duration, Wake};
use std::rc::Rc;

/// `TCP_RTO_MIN` / the default `tcp_rto_min`: 200 ms.
pub const RTO_MIN: Duration = Duration::from_millis(200);
/// `TCP_RTO_MAX`: 120 s.
pub const RTO_MAX: Duration = Duration::from_secs(120);
/// What `tcp_orphan_retries()` gives with `net.ipv4.tcp_orphan_retries` = 0 (the default)
/// while the peer still seems alive: 8.
const ORPHAN_RETRIES: u32 = 8;

/// How long retransmissions may go on before `tcp_retries2` = `boundary` gives up
/// (`tcp_model_timeout()`): the time `boundary` timeouts take, starting at `rto_base` and
/// doubling up to `TCP_RTO_MAX`. For the default 15 and 200 ms: 924.6 s.
pub fn model_timeout(boundary: u32, rto_base: Duration) -> Duration {
    let base = rto_base.as_nanos().max(1);
    let thresh = (RTO_MAX.as_nanos() / base).max(1).ilog2();
    let ns = if boundary <= thresh {
        ((2u64 << boundary) - 1) * base
    } else {
        ((2u64 << thresh) - 1) * base + u64::from(boundary - thresh) * RTO_MAX.as_nanos()
    };
    Duration::from_nanos(ns)
}

/// Whether sequence number `a` comes before `b` (`before()` in `include/net/tcp.h`).
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl World {
    /// Starts timing a round trip that ends when `end_seq` is acknowledged.
    pub(crate) fn start_rtt_timing(&mut self, sock: SocketId, end_seq: u32) {
        let now = self.now;
        let s = self.sockets.get_mut(sock);
        s.set_rtt_timing(true);
        s.rtt_seq = end_seq;
        s.rtt_since = now;
    }

    /// An acknowledgement up to `ack` arrived: if it covers the timed segment, take a
    /// round-trip sample (`tcp_ack_update_rtt()`): RFC 6298 §2.2–2.3 (`tcp_rtt_estimator()`),
    /// the timeout `SRTT + max(4·RTTVAR, tcp_rto_min)` bounded by `TCP_RTO_MAX`
    /// (`__tcp_set_rto()`, `tcp_bound_rto()`), and the backoff reset ("RFC6298: only reset
    /// backoff on valid RTT measurement").
    pub(crate) fn rtt_sample(&mut self, sock: SocketId, ack: u32) {
        let now = self.now;
        let s = self.sockets.get_mut(sock);
        if !s.rtt_timing() || before(ack, s.rtt_seq) {
            return;
        }
        s.set_rtt_timing(false);
        let r = ((now.0 - s.rtt_since.0) / 1000).clamp(1, u64::from(u32::MAX / 8)) as u32;
        if s.srtt_us == 0 {
            s.srtt_us = r;
            s.rttvar_us = r / 2;
        } else {
            s.rttvar_us = ((3 * u64::from(s.rttvar_us) + u64::from(s.srtt_us.abs_diff(r))) / 4) as u32;
            s.srtt_us = ((7 * u64::from(s.srtt_us) + u64::from(r)) / 8) as u32;
        }
        let min_us = RTO_MIN.as_nanos() / 1000;
        let rto = u64::from(s.srtt_us) + (4 * u64::from(s.rttvar_us)).max(min_us);
        s.rto_us = rto.min(RTO_MAX.as_nanos() / 1000) as u32;
        s.backoff = 0;
    }

    /// The current timeout: `icsk_rto` doubled `icsk_backoff` times, at most `TCP_RTO_MAX`
    /// (`inet_csk_rto_backoff()`).
    pub(crate) fn rto_backed_off(&self, sock: SocketId) -> Duration {
        let s = self.sockets.get(sock);
        let us = u64::from(s.rto_us)
            .checked_shl(u32::from(s.backoff))
            .unwrap_or(u64::MAX);
        Duration::from_micros(us.min(RTO_MAX.as_nanos() / 1000))
    }

    /// New data (or the FIN, with empty `payload`) at `seq` is going out for the first time
    /// (`tcp_event_new_data_sent()`): it joins the retransmission queue, and the timer starts
    /// if nothing was in flight (`tcp_rearm_rto()`).
    pub(crate) fn tcp_event_new_data_sent(&mut self, sock: SocketId, seq: u32, payload: &[u8]) {
        let now = self.now;
        let s = self.sockets.get_mut(sock);
        let was_idle = s.rtx.is_none();
        let rtx = s.rtx.get_or_insert_with(|| {
            Box::new(Retransmit {
                head_sent: now,
                ..Retransmit::default()
            })
        });
        rtx.unacked.extend(payload.iter().copied());
        if !s.rtt_timing() {
            let end = seq.wrapping_add(payload.len().max(1) as u32);
            self.start_rtt_timing(sock, end);
        }
        if was_idle {
            let after = self.rto_backed_off(sock);
            self.arm_timer(sock, after, TimerKind::Retransmit);
        }
    }

    /// An acknowledgement moved `snd_una` from `prior_una` to `ack` (`tcp_clean_rtx_queue()`):
    /// the acknowledged bytes leave the queue, the retry count starts over (`tcp_ack()`), and
    /// the timer stops when nothing is left in flight or restarts otherwise (`tcp_rearm_rto()`).
    /// During recovery from a timeout, the next unacknowledged segment goes out again.
    pub(crate) fn tcp_clean_rtx_queue(&mut self, sock: SocketId, prior_una: u32, ack: u32) {
        let now = self.now;
        self.rtt_sample(sock, ack);
        let s = self.sockets.get_mut(sock);
        let snd_nxt = s.snd_nxt;
        let Some(rtx) = s.rtx.as_mut() else {
            return;
        };
        let acked = (ack.wrapping_sub(prior_una) as usize).min(rtx.unacked.len());
        rtx.unacked.drain(..acked);
        rtx.retransmits = 0;
        rtx.stamp = None;
        rtx.head_sent = now;
        if ack == snd_nxt {
            s.rtx = None;
            if s.timer_kind == TimerKind::Retransmit && s.timer_generation != 0 {
                self.cancel_timers(sock);
            }
            return;
        }
        let recovering = rtx.recover.is_some_and(|r| before(ack, r));
        if !recovering {
            rtx.recover = None;
        }
        let after = self.rto_backed_off(sock);
        self.arm_timer(sock, after, TimerKind::Retransmit);
        if recovering {
            self.retransmit_head(sock);
        }
    }

    /// Sends the oldest unacknowledged segment again (`tcp_retransmit_skb()`): up to one MSS of
    /// data, or the FIN once no data is left.
    fn retransmit_head(&mut self, sock: SocketId) {
        let s = self.sockets.get(sock);
        let Some(rtx) = s.rtx.as_ref() else {
            return;
        };
        let (seq, host) = (s.snd_una, s.host);
        let n = rtx.unacked.len().min(MSS);
        let seg = if n > 0 {
            let payload: Rc<[u8]> = rtx.unacked.iter().take(n).copied().collect();
            self.segment_from(sock, Flags::PSH | Flags::ACK, seq, Some(payload))
        } else if s.fin_sent() {
            self.segment_from(sock, Flags::FIN | Flags::ACK, seq, None)
        } else {
            return;
        };
        self.transmit(host, seg);
    }

    /// The retransmission timer fired (`tcp_retransmit_timer()`).
    pub(crate) fn tcp_retransmit_timer(&mut self, sock: SocketId) {
        let now = self.now;
        let s = self.sockets.get(sock);
        if !s.state.is_synchronized() || s.rtx.is_none() {
            return;
        }
        // tcp_write_timeout(): an orphan gives up after tcp_orphan_retries, others after
        // tcp_retries2, each counted as the time that many timeouts take from 200 ms.
        let retries = if s.is_orphan() {
            ORPHAN_RETRIES
        } else {
            u32::from(self.hosts[s.host.0 as usize].sysctl.tcp_retries2)
        };
        let s = self.sockets.get_mut(sock);
        let rtx = s.rtx.as_mut().expect("checked above");
        let timed_out = rtx.retransmits > 0
            && rtx
                .stamp
                .is_some_and(|stamp| now.0 - stamp.0 >= model_timeout(retries, RTO_MIN).as_nanos());
        if timed_out {
            // tcp_write_err(): the error is ETIMEDOUT, the queue goes, the socket closes and
            // every reader and writer wakes (tcp_done() -> sk_state_change).
            s.error = Some(Errno::ETIMEDOUT);
            return self.tcp_done(sock);
        }
        // tcp_retransmit_skb(): "if (!tp->retrans_stamp) tp->retrans_stamp = tcp_skb_timestamp()".
        let head_sent = rtx.head_sent;
        rtx.stamp.get_or_insert(head_sent);
        rtx.retransmits = rtx.retransmits.saturating_add(1);
        // tcp_enter_loss(): everything in flight is presumed lost, up to today's snd_nxt.
        rtx.recover = Some(s.snd_nxt);
        s.backoff = s.backoff.saturating_add(1).min(30);
        // Karn's rule: a retransmitted segment gives no round-trip sample.
        s.set_rtt_timing(false);
        let after = self.rto_backed_off(sock);
        self.arm_timer(sock, after, TimerKind::Retransmit);
        self.retransmit_head(sock);
    }

    /// The zero-window probe timer fired (`tcp_probe_timer()`, `tcp_send_probe0()`): while data
    /// waits for a shut window and nothing is in flight, send a segment with an old sequence
    /// number, which the peer must acknowledge with its current window
    /// (`tcp_xmit_probe_skb()`), and back off.
    pub(crate) fn tcp_probe_timer(&mut self, sock: SocketId) {
        let s = self.sockets.get_mut(sock);
        if !s.state.is_synchronized() || s.tx.is_empty() || s.snd_nxt != s.snd_una {
            s.backoff = 0;
            return;
        }
        s.backoff = s.backoff.saturating_add(1).min(30);
        let (seq, host) = (s.snd_una.wrapping_sub(1), s.host);
        let after = self.rto_backed_off(sock);
        self.arm_timer(sock, after, TimerKind::ZeroWindowProbe);
        let probe = self.segment_from(sock, Flags::ACK, seq, None);
        self.transmit(host, probe);
    }

    /// The data and FIN of a segment for a synchronised connection (`tcp_data_queue()`).
    pub(crate) fn tcp_data_queue(&mut self, sock: SocketId, seg: Segment) {
        let fin = seg.flags.has(Flags::FIN);
        let len = seg.len();
        let s = self.sockets.get_mut(sock);
        if len == 0 && !fin {
            // A bare acknowledgement. One from before what we have received — a zero-window
            // probe, or an old one overtaken by data — fails tcp_sequence() and is answered
            // with our current acknowledgement (tcp_send_dupack()).
            if before(seg.seq, s.rcv_nxt) {
                self.send_ack(sock);
            }
            return;
        }
        if before(s.rcv_nxt, seg.seq) {
            // tcp_data_queue_ofo(): keep it for later, and acknowledge at once what we have,
            // which the sender sees as a duplicate acknowledgement.
            let ofo = s.ofo.get_or_insert_with(Box::<OfoQueue>::default);
            let duplicate = ofo
                .segments
                .iter()
                .any(|o| o.seq == seg.seq && o.payload.len() as u32 >= len);
            if !duplicate {
                ofo.segments.push(OfoSegment {
                    seq: seg.seq,
                    payload: seg.payload.unwrap_or_else(|| Rc::from(&[][..])),
                    fin,
                });
            }
            return self.send_ack(sock);
        }
        let skip = s.rcv_nxt.wrapping_sub(seg.seq);
        if skip > len || (skip == len && !fin) {
            // "A retransmit, 2nd most common case. Force an immediate ack." (tcp_data_queue(),
            // tcp_send_dupack()).
            return self.send_ack(sock);
        }
        let payload = seg.payload.as_deref().unwrap_or(&[]);
        let new = &payload[skip as usize..];
        if !new.is_empty() && s.shut_rd() && s.refs == 0 && s.parent().is_none() {
            // Data for a socket closed by its owner: abort (tcp_rcv_state_process,
            // LINUX_MIB_TCPABORTONDATA).
            self.send_reset_for(sock);
            return self.tcp_done(sock);
        }
        s.rx.extend(new.iter().copied());
        s.rcv_nxt = s.rcv_nxt.wrapping_add(new.len() as u32);
        let fin = fin || self.tcp_ofo_queue(sock);
        if fin {
            // tcp_fin().
            let s = self.sockets.get_mut(sock);
            s.rcv_nxt = s.rcv_nxt.wrapping_add(1);
            s.set_rx_fin(true);
            s.ofo = None;
            match s.state {
                TcpState::Established => s.state = TcpState::CloseWait,
                TcpState::FinWait1 => s.state = TcpState::Closing,
                TcpState::FinWait2 => {
                    self.send_ack(sock);
                    return self.enter_time_wait(sock);
                }
                _ => {}
            }
        }
        self.send_ack(sock);
        // sk_data_ready (sock_def_readable): every non-exclusive waiter and one exclusive one;
        // a FIN is a state change (sock_def_wakeup) that wakes everyone.
        let (how, mask) = if fin {
            (Wake::All, 0)
        } else {
            (Wake::One, crate::epoll::EPOLLIN)
        };
        self.wake(sock, how, mask);
    }

    /// Moves what the out-of-order queue now continues onto the receive queue
    /// (`tcp_ofo_queue()`); returns whether a queued FIN was reached.
    fn tcp_ofo_queue(&mut self, sock: SocketId) -> bool {
        let s = self.sockets.get_mut(sock);
        let Some(ofo) = s.ofo.as_mut() else {
            return false;
        };
        let mut fin = false;
        while let Some(i) = ofo.segments.iter().position(|o| !before(s.rcv_nxt, o.seq)) {
            let o = ofo.segments.swap_remove(i);
            let skip = s.rcv_nxt.wrapping_sub(o.seq) as usize;
            if skip < o.payload.len() {
                let new = &o.payload[skip..];
                s.rx.extend(new.iter().copied());
                s.rcv_nxt = s.rcv_nxt.wrapping_add(new.len() as u32);
            }
            if o.fin && skip <= o.payload.len() {
                fin = true;
                break;
            }
        }
        if ofo.segments.is_empty() || fin {
            s.ofo = None;
        }
        fin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_retries2_default_gives_up_after_924_6_seconds() {
        assert_eq!(model_timeout(15, RTO_MIN), Duration::from_millis(924_600));
        assert_eq!(model_timeout(3, RTO_MIN), Duration::from_millis(3_000));
        assert_eq!(model_timeout(8, RTO_MIN), Duration::from_millis(102_200));
    }

    #[test]
    fn sequence_comparison_wraps() {
        assert!(before(u32::MAX, 0));
        assert!(!before(0, u32::MAX));
        assert!(before(1, 2));
    }
}
