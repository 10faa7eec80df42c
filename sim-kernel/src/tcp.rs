//! TCP input processing and timers: the state machine's reactions to segments.
//!
//! Demultiplexing follows `tcp_v4_rcv()`: the exact 4-tuple in the established table first,
//! then a listener on the destination address and port, then one on the wildcard address
//! (`__inet_lookup_listener`), and otherwise a reset (`tcp_v4_send_reset`).

use crate::epoll::{EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP};
use crate::errno::Errno;
use crate::host::{FourTuple, HostId};
use crate::packet::{Flags, Segment};
use crate::socket::{Socket, SocketId, TcpState, TimerKind};
use crate::syscalls::{MSS, TIME_WAIT_LEN};
use crate::trace::Event;
use crate::world::World;
use sim_core::{Duration, Wake};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::rc::Rc;

/// The timeout before SYN transmission number `r` + 1 (1-based retransmission count `r`):
/// 1 s for the first `linear` + 1, then doubling (`tcp_retransmit_timer`: the backoff starts
/// only after `tcp_syn_linear_timeouts` retransmissions).
fn syn_rto_secs(r: u32, linear: u32) -> u64 {
    if r <= linear + 1 {
        1
    } else {
        1u64 << (r - linear - 1).min(30)
    }
}

/// The reset that answers an unwanted segment carrying an ACK: a bare RST whose sequence
/// number is that acknowledgement, so the sender accepts it (`tcp_v4_send_reset()`:
/// `rep.th.seq = th->ack_seq` when the segment has ACK).
fn rst_for_ack(seg: &Segment) -> Segment {
    Segment {
        src: seg.dst,
        dst: seg.src,
        flags: Flags::RST,
        seq: seg.ack,
        ack: 0,
        window: 0,
        payload: None,
        ttl: crate::route::DEFAULT_TTL,
    }
}

impl World {
    /// A segment arrives at `host`.
    pub(crate) fn tcp_input(&mut self, host: HostId, seg: Segment) {
        let tables = &self.hosts[host.0 as usize].tcp;
        if let Some(&sock) = tables.established.get(&FourTuple::new(seg.dst, seg.src)) {
            return self.tcp_rcv_state(sock, seg);
        }
        if let Some(listener) = self.lookup_listener(host, seg.dst, seg.src) {
            return self.tcp_listen_input(host, listener, seg);
        }
        self.reset_unknown(host, &seg);
    }

    /// `__inet_lookup_listener()` / `inet6_lookup_listener()`: listeners on the exact local
    /// address first, then on the wildcard. For an IPv4 segment the wildcard bucket holds
    /// `0.0.0.0` listeners and dual-stack `::` ones, and `compute_score()` prefers `AF_INET`
    /// (+1); an IPv6 segment only reaches `AF_INET6` listeners. Several listeners on one
    /// address and port form an `SO_REUSEPORT` group; the flow's hash picks the member
    /// (`inet_ehashfn`, `reuseport_select_sock`: `reciprocal_scale(hash, n)`), so every segment
    /// of a flow reaches the same member.
    pub(crate) fn lookup_listener(&self, host: HostId, dst: SocketAddr, src: SocketAddr) -> Option<SocketId> {
        let h = &self.hosts[host.0 as usize];
        let listening = &h.tcp.listening;
        let wildcard = SocketAddr::new(crate::addr::wildcard_like(dst.ip()), dst.port());
        let dual_stack = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), dst.port());
        let group = listening
            .get(&dst)
            .or_else(|| listening.get(&wildcard))
            .or_else(|| {
                // A dual-stack `::` listener takes IPv4 only without IPV6_V6ONLY.
                let list = listening.get(&dual_stack).filter(|_| dst.is_ipv4())?;
                list.iter().any(|&l| !self.sockets.get(l).v6only()).then_some(list)
            })
            .filter(|g| !g.is_empty())?;
        // Only a group's members share an address; a v6only member never takes IPv4.
        let members: Vec<SocketId> = group
            .iter()
            .copied()
            .filter(|&l| !(dst.is_ipv4() && self.sockets.get(l).v6only()))
            .collect();
        match members.len() {
            0 => None,
            1 => Some(members[0]),
            n => {
                let hash = crate::ports::flow_hash(h.port_secret, dst, src);
                Some(members[((u64::from(hash) * n as u64) >> 32) as usize])
            }
        }
    }

    /// `tcp_v4_send_reset()`: answer a segment nobody wants. A RST is never answered.
    fn reset_unknown(&mut self, host: HostId, seg: &Segment) {
        if seg.flags.has(Flags::RST) {
            return;
        }
        let reply = if seg.flags.has(Flags::ACK) {
            rst_for_ack(seg)
        } else {
            let ack = seg.seq.wrapping_add(seg.seq_len());
            Segment {
                src: seg.dst,
                dst: seg.src,
                flags: Flags::RST | Flags::ACK,
                seq: 0,
                ack,
                window: 0,
                payload: None,
                ttl: crate::route::DEFAULT_TTL,
            }
        };
        self.transmit(host, reply);
    }

    /// A segment for a listener: a SYN starts a connection (`tcp_conn_request`).
    fn tcp_listen_input(&mut self, host: HostId, listener: SocketId, seg: Segment) {
        if seg.flags.has(Flags::RST) {
            return;
        }
        if !seg.flags.has(Flags::SYN) || seg.flags.has(Flags::ACK) {
            // An ACK for no known connection (and no syncookie): reset it.
            return self.reset_unknown(host, &seg);
        }
        let l = self.sockets.get(listener);
        let listen = l.listen.as_ref().expect("listener state");
        // tcp_conn_request(): with the accept queue full (`sk_acceptq_is_full`: more than
        // backlog entries), the SYN is dropped silently and the client retransmits.
        if listen.accept_queue.len() as u32 > listen.max_backlog {
            let at = self.hosts[host.0 as usize].name.clone();
            self.trace(|| Event::Drop {
                network: at,
                packet: crate::packet::PacketSummary::Tcp((&seg).into()),
                reason: "listen queue overflow".into(),
            });
            return;
        }
        // sk_clone_lock(): the child starts as a copy of the listener — options and buffer
        // sizes included.
        let (reuse, family, v6only, sndbuf, rcvbuf, ttl) =
            (l.reuseaddr(), l.family, l.v6only(), l.sndbuf, l.rcvbuf, l.ttl);
        let iss = self.hosts[host.0 as usize].isn_rng.next_u32();
        let mut child = Socket::new(host, family);
        child.set_v6only(v6only);
        child.sndbuf = sndbuf;
        child.uid = self.sockets.get(listener).uid;
        child.rcvbuf = rcvbuf;
        // inet_csk_clone_lock() copies the listener's options, IP_TTL among them (uc_ttl).
        child.ttl = ttl;
        child.state = TcpState::SynRecv;
        child.local = seg.dst;
        child.remote = seg.src;
        child.set_reuseaddr(reuse);
        child.set_parent(Some(listener));
        child.iss = iss;
        child.snd_una = iss;
        child.snd_nxt = iss.wrapping_add(1);
        child.rcv_nxt = seg.seq.wrapping_add(1);
        child.snd_wnd = seg.window;
        let child = self.sockets.insert(child);
        // __inet_inherit_port(): the child holds the listener's port.
        self.bucket_add(child, seg.dst.port(), false);
        self.ehash_insert(child);
        self.sockets
            .get_mut(listener)
            .listen
            .as_mut()
            .expect("listener state")
            .syn_recv += 1;
        self.arm_timer(child, Duration::from_secs(1), TimerKind::SynAckRetransmit);
        self.start_rtt_timing(child, iss.wrapping_add(1));
        self.send_synack(child);
    }

    /// A segment for a known connection (`tcp_rcv_state_process`, `tcp_rcv_established`).
    fn tcp_rcv_state(&mut self, sock: SocketId, seg: Segment) {
        let s = self.sockets.get(sock);
        match s.state {
            TcpState::SynSent => return self.tcp_rcv_synsent(sock, seg),
            TcpState::SynRecv => {
                if seg.flags.has(Flags::RST) {
                    return self.drop_request(sock);
                }
                if seg.flags == Flags::SYN && s.parent().is_some() && seg.seq.wrapping_add(1) == s.rcv_nxt {
                    // tcp_check_req(): the client's SYN again — our SYN-ACK was lost — is
                    // answered with the SYN-ACK again (inet_rtx_syn_ack()); Karn's rule
                    // applies to the answer.
                    self.sockets.get_mut(sock).set_rtt_timing(false);
                    return self.send_synack(sock);
                }
                if !seg.flags.has(Flags::ACK) || seg.ack != s.iss.wrapping_add(1) {
                    return;
                }
                if s.parent().is_none() {
                    // Simultaneous open (RFC 9293 §3.5, figure 8): our SYN crossed the peer's;
                    // its SYN-ACK completes the handshake.
                    return self.finish_simultaneous_open(sock, &seg);
                }
                if !self.establish_child(sock, &seg) {
                    return;
                }
            }
            TcpState::TimeWait => {
                // tcp_timewait_state_process(): a RST kills TIME_WAIT (RFC 1337 protection is
                // off by default); a retransmitted FIN is acknowledged again.
                if seg.flags.has(Flags::RST) {
                    return self.tcp_done(sock);
                }
                // A new SYN for the same 4-tuple (TCP_TW_SYN): with timestamps on, its timestamp
                // is newer than the old connection's (PAWS), so the TIME_WAIT steps aside and a
                // listener takes the SYN as a new connection.
                if seg.flags.has(Flags::SYN) && !seg.flags.has(Flags::ACK) {
                    let host = s.host;
                    self.tcp_done(sock);
                    return self.tcp_input(host, seg);
                }
                if seg.flags.has(Flags::FIN) {
                    self.send_ack(sock);
                }
                return;
            }
            _ => {}
        }
        if seg.flags.has(Flags::RST) {
            return self.tcp_reset(sock);
        }
        if seg.flags.has(Flags::SYN) {
            // A SYN on a synchronised connection — typically a retransmitted SYN-ACK whose ACK
            // was ignored — is answered with an ACK (RFC 5961 §4.2 challenge ACK,
            // tcp_validate_incoming).
            return self.send_ack(sock);
        }
        if seg.flags.has(Flags::ACK) {
            self.tcp_ack(sock, seg.ack, seg.window);
            if self.sockets.try_get(sock).is_none_or(|s| s.state == TcpState::Closed) {
                return;
            }
        }
        self.tcp_data_queue(sock, seg);
    }

    /// SYN_SENT: the answer to our SYN (`tcp_rcv_synsent_state_process`).
    fn tcp_rcv_synsent(&mut self, sock: SocketId, seg: Segment) {
        let s = self.sockets.get_mut(sock);
        let acceptable = seg.flags.has(Flags::ACK) && seg.ack == s.iss.wrapping_add(1);
        if seg.flags.has(Flags::RST) {
            if acceptable {
                // tcp_reset(): in SYN_SENT the error is ECONNREFUSED.
                s.error = Some(Errno::ECONNREFUSED);
                self.tcp_done(sock);
            }
            return;
        }
        if seg.flags.has(Flags::ACK) && !acceptable {
            // tcp_rcv_synsent_state_process(): an ACK for something we never sent — e.g. the
            // challenge ACK of a stale connection still holding this 4-tuple on the peer — is
            // answered with a reset (`reset_and_undo`); the SYN is retransmitted later.
            let host = s.host;
            return self.transmit(host, rst_for_ack(&seg));
        }
        if seg.flags.has(Flags::SYN) && !seg.flags.has(Flags::ACK) {
            // Simultaneous open: the peer connected to us at the same time. Answer its SYN with
            // a SYN-ACK carrying our own initial number, and wait in SYN_RECV
            // (tcp_rcv_synsent_state_process, "simultaneous connect").
            s.state = TcpState::SynRecv;
            s.rcv_nxt = seg.seq.wrapping_add(1);
            s.snd_wnd = seg.window;
            let iss = s.iss;
            let synack = self.segment_from(sock, Flags::SYN | Flags::ACK, iss, None);
            let host = self.sockets.get(sock).host;
            return self.transmit(host, synack);
        }
        if !(acceptable && seg.flags.has(Flags::SYN)) {
            return;
        }
        s.state = TcpState::Established;
        s.rcv_nxt = seg.seq.wrapping_add(1);
        s.snd_una = seg.ack;
        s.snd_wnd = seg.window;
        self.cancel_timers(sock);
        // tcp_synack_rtt_meas(): the handshake gives the first round-trip sample.
        self.rtt_sample(sock, seg.ack);
        self.send_ack(sock);
        // tcp_finish_connect() -> sk_state_change: wake everyone.
        self.wake(sock, Wake::All, 0);
    }

    /// The handshake's last ACK reached a SYN_RECV child: it joins the accept queue
    /// (`tcp_check_req`, `inet_csk_complete_hashdance`) and one accept() waiter wakes.
    ///
    /// If the accept queue is full by then (`sk_acceptq_is_full` in `tcp_check_req`), the ACK
    /// is ignored with `tcp_abort_on_overflow = 0` (Linux's default): the child stays
    /// SYN_RECV and its SYN-ACK retransmissions give the client's ACK another chance later.
    /// Returns whether the child was established.
    fn establish_child(&mut self, child: SocketId, ack: &Segment) -> bool {
        let c = self.sockets.get(child);
        let listener = c.parent().expect("a SYN_RECV child has a listener");
        let l = self.sockets.get(listener);
        let listen = l.listen.as_ref().expect("listener state");
        if listen.accept_queue.len() as u32 > listen.max_backlog {
            let segment = crate::packet::SegmentSummary::from(ack);
            let host = c.host;
            let abort = self.hosts[c.host.0 as usize].sysctl.tcp_abort_on_overflow;
            let reason = if abort {
                "accept queue full: handshake ACK answered with a reset (tcp_abort_on_overflow)"
            } else {
                "accept queue full: handshake ACK ignored"
            };
            let at = self.hosts[c.host.0 as usize].name.clone();
            self.trace(|| Event::Drop {
                network: at,
                packet: crate::packet::PacketSummary::Tcp(segment),
                reason: reason.to_string(),
            });
            if abort {
                // tcp_check_req(), embryonic_reset: the ACK is answered as an unknown segment
                // (tcp_v4_send_reset: RST, seq = its ack) and the request goes.
                self.reset_unknown(host, ack);
                self.drop_request(child);
            }
            return false;
        }
        self.cancel_timers(child);
        self.rtt_sample(child, ack.ack);
        let c = self.sockets.get_mut(child);
        c.state = TcpState::Established;
        c.snd_una = c.snd_nxt;
        let l = self.sockets.get_mut(listener);
        let listen = l.listen.as_mut().expect("listener state");
        listen.syn_recv = listen.syn_recv.saturating_sub(1);
        listen.accept_queue.push_back(child);
        // inet_csk_wait_for_connect() sleeps exclusively: wake one accept().
        self.wake(listener, Wake::One, EPOLLIN);
        true
    }

    /// The last step of a simultaneous open: the peer's SYN-ACK acknowledges our SYN.
    fn finish_simultaneous_open(&mut self, sock: SocketId, seg: &Segment) {
        let s = self.sockets.get_mut(sock);
        s.state = TcpState::Established;
        s.snd_una = seg.ack;
        s.snd_wnd = seg.window;
        self.cancel_timers(sock);
        if seg.flags.has(Flags::SYN) {
            self.send_ack(sock);
        }
        self.wake(sock, Wake::All, 0);
    }

    /// A SYN_RECV child was reset before completing.
    fn drop_request(&mut self, child: SocketId) {
        if let Some(listener) = self.sockets.get(child).parent()
            && let Some(listen) = self.sockets.get_mut(listener).listen.as_mut()
        {
            listen.syn_recv = listen.syn_recv.saturating_sub(1);
        }
        self.sockets.get_mut(child).set_parent(None);
        self.tcp_done(child);
    }

    /// `tcp_reset()`: a RST for a synchronised connection.
    fn tcp_reset(&mut self, sock: SocketId) {
        let s = self.sockets.get_mut(sock);
        s.error = Some(match s.state {
            TcpState::CloseWait => Errno::EPIPE,
            _ => Errno::ECONNRESET,
        });
        self.tcp_done(sock);
    }

    /// An acknowledgement: our FIN may now be acknowledged.
    fn tcp_ack(&mut self, sock: SocketId, ack: u32, window: u32) {
        let s = self.sockets.get_mut(sock);
        // Accept only acknowledgements of what was sent (RFC 9293 §3.10.7.4).
        if ack.wrapping_sub(s.snd_una) > s.snd_nxt.wrapping_sub(s.snd_una) {
            return;
        }
        let freed = ack != s.snd_una;
        let opened = window > s.snd_wnd;
        let prior_una = s.snd_una;
        s.snd_una = ack;
        s.snd_wnd = window;
        let fin_acked = s.fin_sent() && ack == s.snd_nxt;
        if opened && s.timer_kind == TimerKind::ZeroWindowProbe {
            // tcp_ack_probe(): the window opened; the probe timer and its backoff end.
            s.backoff = 0;
            if s.timer_generation != 0 {
                self.cancel_timers(sock);
            }
        }
        if freed {
            self.tcp_clean_rtx_queue(sock, prior_una, ack);
        }
        if freed || opened {
            // More may go out now, and writers blocked on a full buffer may continue
            // (tcp_data_snd_check, sk_stream_write_space).
            self.tcp_push(sock);
            if freed {
                self.wake(sock, Wake::One, crate::epoll::EPOLLOUT);
            }
        }
        let s = self.sockets.get_mut(sock);
        match s.state {
            TcpState::FinWait1 if fin_acked => {
                s.state = TcpState::FinWait2;
                if s.is_orphan() {
                    self.arm_fin_wait2_timer(sock);
                }
            }
            TcpState::Closing if fin_acked => self.enter_time_wait(sock),
            TcpState::LastAck if fin_acked => self.tcp_done(sock),
            _ => {}
        }
    }

    /// The active closer waits 60 s (`tcp_time_wait`, `TCP_TIMEWAIT_LEN`), keeping its port and
    /// its 4-tuple.
    pub(crate) fn enter_time_wait(&mut self, sock: SocketId) {
        let now = self.now;
        let s = self.sockets.get_mut(sock);
        s.state = TcpState::TimeWait;
        s.time_wait_since = now;
        self.arm_timer(sock, TIME_WAIT_LEN, TimerKind::TimeWait);
        self.wake(sock, Wake::All, 0);
    }

    /// An orphaned FIN_WAIT2 lasts `tcp_fin_timeout` (`tcp_rcv_state_process`, `tcp_close`:
    /// `tcp_time_wait(sk, TCP_FIN_WAIT2, tmo)`), then disappears without a reset.
    pub(crate) fn arm_fin_wait2_timer(&mut self, sock: SocketId) {
        let secs = self.hosts[self.sockets.get(sock).host.0 as usize]
            .sysctl
            .tcp_fin_timeout;
        self.arm_timer(sock, Duration::from_secs(u64::from(secs)), TimerKind::FinWait2);
    }

    /// Sends a SYN-ACK for a SYN_RECV child (`tcp_v4_send_synack`).
    pub(crate) fn send_synack(&mut self, child: SocketId) {
        let iss = self.sockets.get(child).iss;
        let synack = self.segment_from(child, Flags::SYN | Flags::ACK, iss, None);
        let host = self.sockets.get(child).host;
        self.transmit(host, synack);
    }

    pub(crate) fn send_ack(&mut self, sock: SocketId) {
        let seq = self.sockets.get(sock).snd_nxt;
        let seg = self.segment_from(sock, Flags::ACK, seq, None);
        let host = self.sockets.get(sock).host;
        self.transmit(host, seg);
    }

    /// The receive window to advertise: half the receive buffer (`tcp_adv_win_scale = 1`:
    /// the other half pays for overhead), less what waits unread (`tcp_select_window`).
    pub(crate) fn rcv_window(&self, sock: SocketId) -> u32 {
        let s = self.sockets.get(sock);
        (s.rcvbuf / 2).saturating_sub(s.rx.len() as u32)
    }

    /// A segment from `sock` to its peer with our acknowledgement and window filled in.
    pub(crate) fn segment_from(
        &mut self,
        sock: SocketId,
        flags: Flags,
        seq: u32,
        payload: Option<Rc<[u8]>>,
    ) -> Segment {
        let window = self.rcv_window(sock);
        let s = self.sockets.get_mut(sock);
        s.adv_wnd = window;
        let ack = if flags.has(Flags::ACK) { s.rcv_nxt } else { 0 };
        Segment {
            src: s.local,
            dst: s.remote,
            flags,
            seq,
            ack,
            window,
            payload,
            ttl: s.ttl.unwrap_or(crate::route::DEFAULT_TTL),
        }
    }

    /// Sends what the peer's window allows from the write queue, then a pending FIN once the
    /// queue is empty (`tcp_write_xmit`, `tcp_send_fin`). Without loss there is no congestion
    /// window to respect: the receiver's window is the only limit.
    pub(crate) fn tcp_push(&mut self, sock: SocketId) {
        loop {
            let s = self.sockets.get_mut(sock);
            let in_flight = s.snd_nxt.wrapping_sub(s.snd_una);
            let room = s.snd_wnd.saturating_sub(in_flight) as usize;
            let n = s.tx.len().min(room).min(MSS);
            if n == 0 {
                break;
            }
            let payload: Rc<[u8]> = s.tx.take_front(n).into();
            let seq = s.snd_nxt;
            s.snd_nxt = seq.wrapping_add(n as u32);
            self.tcp_event_new_data_sent(sock, seq, &payload);
            let seg = self.segment_from(sock, Flags::PSH | Flags::ACK, seq, Some(payload));
            let host = self.sockets.get(sock).host;
            self.transmit(host, seg);
        }
        let s = self.sockets.get_mut(sock);
        if s.shut_wr() && !s.fin_sent() && s.tx.is_empty() {
            s.set_fin_sent(true);
            let seq = s.snd_nxt;
            s.snd_nxt = seq.wrapping_add(1);
            self.tcp_event_new_data_sent(sock, seq, &[]);
            let fin = self.segment_from(sock, Flags::FIN | Flags::ACK, seq, None);
            let host = self.sockets.get(sock).host;
            self.transmit(host, fin);
        }
        // tcp_check_probe_timer(): data waits for a window that is shut, and nothing in flight
        // will bring an acknowledgement that opens it: probe.
        let s = self.sockets.get(sock);
        if !s.tx.is_empty() && s.snd_nxt == s.snd_una && s.timer_generation == 0 && s.state.is_synchronized() {
            let after = self.rto_backed_off(sock);
            self.arm_timer(sock, after, TimerKind::ZeroWindowProbe);
        }
    }

    /// A socket timer fired.
    pub(crate) fn tcp_timer(&mut self, sock: SocketId, kind: TimerKind) {
        let s = self.sockets.get_mut(sock);
        match kind {
            TimerKind::TimeWait if s.state == TcpState::TimeWait => self.tcp_done(sock),
            TimerKind::FinWait2 if s.state == TcpState::FinWait2 => self.tcp_done(sock),
            TimerKind::SynAckRetransmit if s.state == TcpState::SynRecv => {
                let retries = self.hosts[s.host.0 as usize].sysctl.tcp_synack_retries;
                if s.syn_retries >= retries {
                    // reqsk_timer_handler(): the request is dropped silently.
                    return self.drop_request(sock);
                }
                s.syn_retries += 1;
                // Karn's rule: a retransmitted SYN-ACK gives no round-trip sample.
                s.set_rtt_timing(false);
                let backoff = Duration::from_secs(1u64 << s.syn_retries.min(30));
                self.arm_timer(sock, backoff, TimerKind::SynAckRetransmit);
                self.send_synack(sock);
            }
            TimerKind::SynRetransmit if s.state == TcpState::SynSent => {
                let sysctl = &self.hosts[s.host.0 as usize].sysctl;
                let (retries, linear) = (
                    u32::from(sysctl.tcp_syn_retries),
                    u32::from(sysctl.tcp_syn_linear_timeouts),
                );
                let fired = u32::from(s.syn_retries) + 1;
                let elapsed: u64 = (1..=fired).map(|r| syn_rto_secs(r, linear)).sum();
                // tcp_write_timeout(): give up at the first expiry where the retransmissions
                // reached tcp_syn_retries + tcp_syn_linear_timeouts, or where the time since the
                // first SYN reached that of tcp_syn_retries doublings ((2 << retries) - 1 s).
                if u32::from(s.syn_retries) >= retries + linear || elapsed >= (2u64 << retries.min(62)) - 1 {
                    s.error = Some(Errno::ETIMEDOUT);
                    return self.tcp_done(sock);
                }
                s.syn_retries += 1;
                s.set_rtt_timing(false);
                let backoff = Duration::from_secs(syn_rto_secs(u32::from(s.syn_retries) + 1, linear));
                let (iss, host) = (s.iss, s.host);
                self.arm_timer(sock, backoff, TimerKind::SynRetransmit);
                let syn = self.segment_from(sock, Flags::SYN, iss, None);
                self.transmit(host, syn);
            }
            TimerKind::Retransmit => self.tcp_retransmit_timer(sock),
            TimerKind::ZeroWindowProbe => self.tcp_probe_timer(sock),
            _ => {}
        }
    }

    /// `tcp_poll()`: the events a socket is ready for now.
    ///
    /// A listener is readable when a connection waits in its accept queue. Otherwise: hang-up
    /// when both directions are shut or the socket is closed; readable with data, or once the
    /// peer's FIN arrived (with `EPOLLRDHUP`); writable once connected and not shut for
    /// writing (socksim has no send-buffer limit yet); `EPOLLERR` with a pending error. Note
    /// Linux's quirk, kept here: a fresh, never-connected socket is `EPOLLOUT|EPOLLHUP`.
    pub(crate) fn tcp_poll(&self, sock: SocketId) -> u32 {
        let s = self.sockets.get(sock);
        if s.state == TcpState::Listen {
            let queued = s.listen.as_ref().is_some_and(|l| !l.accept_queue.is_empty());
            return if queued { EPOLLIN } else { 0 };
        }
        let mut mask = 0;
        let rcv_shutdown = s.rx_fin() || s.shut_rd();
        if (rcv_shutdown && s.shut_wr()) || s.state == TcpState::Closed {
            mask |= EPOLLHUP;
        }
        if rcv_shutdown {
            mask |= EPOLLIN | EPOLLRDHUP;
        }
        if !matches!(s.state, TcpState::SynSent | TcpState::SynRecv) {
            if !s.rx.is_empty() {
                mask |= EPOLLIN;
            }
            // With the send side shut, EPOLLOUT is reported too, so a writer learns (from its
            // next send) that it may not write (tcp_poll).
            mask |= EPOLLOUT;
        }
        if s.error.is_some() {
            mask |= EPOLLERR;
        }
        mask
    }
}
