//! Netfilter on a host with NAT rules: connection tracking and NAT at the PREROUTING and
//! POSTROUTING hooks, as `nf_conntrack` and `nf_nat` do them.
//!
//! The path of a packet through a NAT host (`ip_rcv()` → `ip_forward()` → `ip_output()`):
//!
//! 1. **PREROUTING** (`World::nf_prerouting`): the packet is matched to its flow's entry
//!    (`nf_conntrack_in()`), which tracks the protocol state and refreshes the timeout. A
//!    packet of a new flow creates an unconfirmed entry; the first `nat dnat` rule that
//!    matches chooses its new destination. Packets of known flows have their destination
//!    translated (DNAT for the original direction, un-SNAT for replies), and ICMP errors
//!    about a flow are translated with it, inside and out (`nf_nat_icmp_reply_translation()`).
//! 2. Routing: delivered locally, or forwarded.
//! 3. **POSTROUTING** (`World::nf_postrouting`): packets the host itself sends are tracked
//!    here (`LOCAL_OUT`); a new flow's source is chosen by the first `nat masquerade`/`snat`
//!    rule that matches, or kept by the implicit null binding, through `get_unique_tuple()`
//!    (see [`nat::unique_tuple`]); then the entry is confirmed (`__nf_conntrack_confirm()`),
//!    which fails — dropping the packet — when its reply tuple is taken. Packets of known flows
//!    have their source translated.
//!
//! Deliberate simplifications, each written down in the book: a full table drops the new
//! flow's packet without `early_drop()`'s eviction of an unassured entry; packets are handled
//! one at a time, so the two-CPU confirm race behind the "UDP first-packet clash" cannot
//! happen (current kernels resolve it anyway, `nf_ct_resolve_clash()`); no ICMP redirects;
//! NAT rules name one translated address (no address pools).

pub mod conntrack;
pub mod nat;
mod proto;
mod view;

use proto::{new_state, tcp_next, timeout};
pub use view::ConntrackRow;

use crate::host::HostId;
use crate::network::NetId;
use crate::packet::{Flags, Packet};
use crate::world::World;
use conntrack::{Conntrack, CtState, Dir, L4, TcpIndex, Tuple};
use nat::{Manip, NatAction, NatRule, Range};
use sim_core::Duration;
use sim_core::rng::Stream;
use std::net::SocketAddr;

/// Why netfilter dropped a packet (the reason in the trace).
pub mod reason {
    /// The table is at `nf_conntrack_max` (the kernel logs exactly this).
    pub const TABLE_FULL: &str = "nf_conntrack: table full, dropping packet";
    /// No free translated tuple: the entry could not be inserted.
    pub const INSERT_FAILED: &str = "conntrack insert failed (no free NAT tuple)";
    /// MASQUERADE found no address on the outgoing network.
    pub const NO_MASQ_ADDR: &str = "masquerade: no address on the outgoing network";
}

/// A host's connection tracking and NAT state.
#[derive(Debug)]
pub struct Netfilter {
    /// NAT rules in order: the first matching rule of a hook decides.
    pub rules: Vec<NatRule>,
    /// The conntrack table.
    pub table: Conntrack,
    /// Draws for port searches (`get_random_u16()`).
    pub rng: Stream,
}

/// The flow a packet belongs to, carried from PREROUTING to POSTROUTING (`skb->_nfct`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CtRef {
    id: u64,
    dir: Dir,
}

/// The transport tuple of a TCP or UDP packet.
fn tuple_of(packet: &Packet) -> Option<Tuple> {
    match packet {
        Packet::Tcp(s) => Some(Tuple {
            proto: L4::Tcp,
            src: s.src,
            dst: s.dst,
        }),
        Packet::Udp(d) => Some(Tuple {
            proto: L4::Udp,
            src: d.src,
            dst: d.dst,
        }),
        Packet::PortUnreachable(_) | Packet::IcmpError(_) => None,
    }
}

/// The tuple of the packet an ICMP error quotes.
fn quoted_tuple(packet: &Packet) -> Option<Tuple> {
    match packet {
        Packet::PortUnreachable(e) => Some(Tuple {
            proto: L4::Udp,
            src: e.orig_src,
            dst: e.orig_dst,
        }),
        Packet::IcmpError(e) => tuple_of(&e.quoted),
        _ => None,
    }
}

/// What packets in direction `dir` look like once translated (`nf_nat_manip_pkt()` moves the
/// packet to the inverse of the other direction's tuple).
fn target(c: &conntrack::Conn, dir: Dir) -> Tuple {
    match dir {
        Dir::Original => c.reply.invert(),
        Dir::Reply => c.orig.invert(),
    }
}

/// Rewrites the destination (or, for an ICMP error, the outer destination and the quoted
/// packet's source) to `target`'s.
fn set_dst(packet: &mut Packet, target: &Tuple) {
    match packet {
        Packet::Tcp(s) => s.dst = target.dst,
        Packet::Udp(d) => d.dst = target.dst,
        Packet::PortUnreachable(e) => {
            e.dst = target.dst.ip();
            e.orig_src = target.dst;
        }
        Packet::IcmpError(e) => {
            e.dst = target.dst.ip();
            match e.quoted.as_mut() {
                Packet::Tcp(s) => s.src = target.dst,
                Packet::Udp(d) => d.src = target.dst,
                _ => {}
            }
        }
    }
}

/// Rewrites the source (or, for an ICMP error, the outer source and the quoted packet's
/// destination) to `target`'s.
fn set_src(packet: &mut Packet, target: &Tuple) {
    match packet {
        Packet::Tcp(s) => s.src = target.src,
        Packet::Udp(d) => d.src = target.src,
        Packet::PortUnreachable(e) => {
            e.src = target.src.ip();
            e.orig_dst = target.src;
        }
        Packet::IcmpError(e) => {
            e.src = target.src.ip();
            match e.quoted.as_mut() {
                Packet::Tcp(s) => s.dst = target.src,
                Packet::Udp(d) => d.dst = target.src,
                _ => {}
            }
        }
    }
}

impl World {
    /// Adds a NAT rule to `host` (loading connection tracking there).
    pub fn add_nat_rule(&mut self, host: HostId, rule: NatRule) {
        let name = self.hosts[host.0 as usize].name.clone();
        let rng = self.streams.stream(&format!("host:{name}/nat"));
        let nf = self.hosts[host.0 as usize].netfilter.get_or_insert_with(|| {
            Box::new(Netfilter {
                rules: Vec::new(),
                table: Conntrack::default(),
                rng,
            })
        });
        nf.rules.push(rule);
    }

    /// The conntrack table of `host`, if it tracks connections.
    pub fn conntrack(&self, host: HostId) -> Option<&Conntrack> {
        self.hosts[host.0 as usize].netfilter.as_ref().map(|nf| &nf.table)
    }

    /// `nf_conntrack_in()`: finds (or, for a new flow, creates) the entry of `packet` and
    /// updates its state. `Ok(None)` for packets conntrack does not track.
    fn ct_in(&mut self, host: HostId, packet: &Packet) -> Result<Option<(CtRef, bool)>, &'static str> {
        let now = self.now;
        let h = &mut self.hosts[host.0 as usize];
        let sys = h.sysctl.conntrack.clone();
        let Some(nf) = h.netfilter.as_mut() else {
            return Ok(None);
        };
        nf.table.reap(now);
        let key = match packet {
            p if p.is_icmp_error() => {
                // An ICMP error belongs to the flow of the packet it quotes (RELATED), and
                // travels against that packet's direction.
                let Some(quoted) = quoted_tuple(p) else {
                    return Ok(None);
                };
                return Ok(nf
                    .table
                    .find(&quoted.invert())
                    .map(|(id, dir)| (CtRef { id, dir }, false)));
            }
            p => tuple_of(p).expect("TCP or UDP"),
        };
        if let Some((id, dir)) = nf.table.find(&key) {
            let c = nf.table.get_mut(id);
            if let Packet::Tcp(s) = packet {
                let index = TcpIndex::of(s.flags);
                let end = s.seq.wrapping_add(s.seq_len());
                // A new SYN on a closed flow's tuple (`tcp_conntracks[]` moves a SYN to
                // SYN_SENT from TIME_WAIT in either direction, and from CLOSE in the original
                // one), in nf_conntrack_tcp_packet(): if the flow saw a FIN (always so in
                // TIME_WAIT), or its last segment was a RST from the SYN's side, the old entry
                // is killed and the packet looked up again, as a new flow (-NF_REPEAT).
                // Otherwise (the other side reset the flow) the SYN is ignored
                // (TCP_CONNTRACK_IGNORE): noted, and let through on the old entry, whose state
                // and timeout stay as they are.
                let closed = match dir {
                    Dir::Original => matches!(c.state, CtState::TimeWait | CtState::Close),
                    Dir::Reply => c.state == CtState::TimeWait,
                };
                if index == TcpIndex::Syn && closed {
                    let reset_by_us = c.last.is_some_and(|(i, d, _)| i == TcpIndex::Rst && d == dir);
                    if c.fin_seen || reset_by_us {
                        nf.table.remove(id);
                        return self.ct_in(host, packet);
                    }
                    c.last = Some((index, dir, end));
                    return Ok(Some((CtRef { id, dir }, false)));
                }
                // A SYN-ACK in the reply direction on a flow past the handshake is ignored
                // too (TCP_CONNTRACK_IGNORE) — unless it acknowledges the SYN ignored last, in
                // which case both ends are in sync and the entry gets in sync with them: the
                // handshake is taken up from SYN_SENT with the noted SYN's end as the original
                // direction's `td_end`, so the entry moves to SYN_RECV.
                let past_handshake = !matches!(c.state, CtState::SynSent | CtState::SynRecv);
                if index == TcpIndex::SynAck && dir == Dir::Reply && past_handshake {
                    match c.last {
                        Some((TcpIndex::Syn, Dir::Original, syn_end)) if s.ack == syn_end => {
                            c.state = CtState::SynSent;
                            c.orig_end = syn_end;
                        }
                        _ => {
                            c.last = Some((index, dir, end));
                            return Ok(Some((CtRef { id, dir }, false)));
                        }
                    }
                }
                c.last = Some((index, dir, end));
                // tcp_in_window(): the sender's highest sequence end (`td_end`).
                if dir == Dir::Original && (end.wrapping_sub(c.orig_end) as i32) > 0 {
                    c.orig_end = end;
                }
                let next = tcp_next(c.state, s.flags, dir);
                // nf_conntrack_tcp_packet(): ASSURED on a valid ACK in ESTABLISHED after
                // SYN_RECV, or — for a flow picked up mid-stream — on the first packet after a
                // reply was seen (IPS_SEEN_REPLY is set after this, so not on the reply itself).
                if matches!(c.state, CtState::SynRecv | CtState::Established)
                    && next == CtState::Established
                    && c.seen_reply
                {
                    c.assured = true;
                }
                // nf_conntrack_tcp_packet(): the move to FIN_WAIT marks the flow as closing
                // (IP_CT_TCP_FLAG_CLOSE_INIT).
                if next == CtState::FinWait && c.state != CtState::FinWait {
                    c.fin_seen = true;
                }
                c.state = next;
                // nf_conntrack_tcp_packet(): a flow whose only answer is a RST never
                // connected; its entry is killed at once (the RST itself is still translated).
                if s.flags.has(Flags::RST) && !c.seen_reply {
                    nf.table.refresh(id, now, Duration::ZERO);
                    return Ok(Some((CtRef { id, dir }, false)));
                }
            }
            if dir == Dir::Reply {
                c.seen_reply = true;
            }
            if c.state == CtState::Udp && c.seen_reply && now > c.created.after(Duration::from_secs(2)) {
                c.assured = true;
            }
            let t = timeout(c, &sys, now);
            nf.table.refresh(id, now, t);
            return Ok(Some((CtRef { id, dir }, false)));
        }
        let Some(state) = new_state(packet) else {
            return Ok(None);
        };
        // `__nf_conntrack_alloc()`: a full table refuses new entries.
        if nf.table.len() >= sys.max as usize {
            nf.table.stats.drop += 1;
            return Err(reason::TABLE_FULL);
        }
        let id = nf.table.create(key, key.invert(), state, now, Duration::ZERO);
        if let Packet::Tcp(s) = packet {
            // tcp_new(): the original direction's `td_end` starts at the first segment's end.
            nf.table.get_mut(id).orig_end = s.seq.wrapping_add(s.seq_len());
        }
        let t = timeout(nf.table.get(id), &sys, now);
        nf.table.refresh(id, now, t);
        Ok(Some((CtRef { id, dir: Dir::Original }, true)))
    }

    /// The PREROUTING hook for a packet arriving at `host` from network `from`: conntrack,
    /// then destination NAT. Returns the packet's flow, or the reason to drop it.
    pub(crate) fn nf_prerouting(
        &mut self,
        host: HostId,
        from: Option<NetId>,
        packet: &mut Packet,
    ) -> Result<Option<CtRef>, &'static str> {
        let Some((ct, new)) = self.ct_in(host, packet)? else {
            return Ok(None);
        };
        let nf = self.hosts[host.0 as usize].netfilter.as_mut().expect("tracked");
        if new {
            let orig = nf.table.get(ct.id).orig;
            let rule = nf.rules.iter().find(|r| match r.action {
                NatAction::Dnat { proto, dport, .. } => {
                    proto.is_none_or(|p| p == orig.proto)
                        && dport == orig.dst.port()
                        && r.input.is_none_or(|n| Some(n) == from)
                        && r.from.is_none_or(|p| p.contains(orig.src.ip()))
                }
                _ => false,
            });
            if let Some(NatRule {
                action: NatAction::Dnat { to, to_port, .. },
                ..
            }) = rule
            {
                // A DNAT target is used as given (`get_unique_tuple()` never moves a
                // destination port without a range).
                let new_dst = SocketAddr::new(*to, to_port.unwrap_or(orig.dst.port()));
                let range = Range {
                    addr: *to,
                    ports: to_port.map(|p| (p, p)),
                    random: false,
                };
                let translated = nat::unique_tuple(
                    &mut nf.table,
                    &mut nf.rng,
                    Tuple { dst: new_dst, ..orig },
                    &range,
                    Manip::Dst,
                    ct.id,
                );
                nf.table.alter_reply(ct.id, translated.invert());
                nf.table.get_mut(ct.id).dnat = translated != orig;
            }
        }
        let t = target(nf.table.get(ct.id), ct.dir);
        set_dst(packet, &t);
        Ok(Some(ct))
    }

    /// The POSTROUTING hook for a packet leaving `host` on network `out`: conntrack for
    /// packets the host sends itself, source NAT for new flows, confirmation, and the source
    /// translation of known flows. `Err` is the reason to drop the packet.
    pub(crate) fn nf_postrouting(
        &mut self,
        host: HostId,
        out: NetId,
        packet: &mut Packet,
        ct: Option<CtRef>,
    ) -> Result<(), &'static str> {
        if self.hosts[host.0 as usize].netfilter.is_none() {
            return Ok(());
        }
        let ct = match ct {
            Some(ct) => Some(ct),
            None => self.ct_in(host, packet)?.map(|(ct, _)| ct),
        };
        let Some(ct) = ct else { return Ok(()) };
        let masq_addr = {
            let c = self.hosts[host.0 as usize]
                .netfilter
                .as_ref()
                .expect("tracked")
                .table
                .get(ct.id);
            let family_v4 = c.orig.src.is_ipv4();
            self.hosts[host.0 as usize]
                .ifaces
                .iter()
                .find(|i| i.network == out && i.addr.is_ipv4() == family_v4)
                .map(|i| i.addr)
        };
        let nf = self.hosts[host.0 as usize].netfilter.as_mut().expect("tracked");
        if !nf.table.get(ct.id).confirmed {
            let c = nf.table.get(ct.id);
            let curr = c.reply.invert();
            let rule = nf.rules.iter().find(|r| {
                r.is_source() && r.out.is_none_or(|n| n == out) && r.from.is_none_or(|p| p.contains(c.orig.src.ip()))
            });
            let range = match rule {
                Some(r) => {
                    let (addr, ports) = match r.action {
                        NatAction::Snat { to, ports } => (to, ports),
                        _ => match masq_addr {
                            Some(a) => (a, None),
                            None => {
                                nf.table.remove(ct.id);
                                return Err(reason::NO_MASQ_ADDR);
                            }
                        },
                    };
                    Range {
                        addr,
                        ports,
                        random: r.random || r.random_fully,
                    }
                }
                // The null binding: the source stays unless another flow already expects
                // replies to it (`nf_nat_alloc_null_binding()`).
                None => Range {
                    addr: curr.src.ip(),
                    ports: None,
                    random: false,
                },
            };
            let new = nat::unique_tuple(&mut nf.table, &mut nf.rng, curr, &range, Manip::Src, ct.id);
            nf.table.alter_reply(ct.id, new.invert());
            if new != curr {
                nf.table.get_mut(ct.id).snat = true;
            }
            if !nf.table.confirm(ct.id) {
                nf.table.remove(ct.id);
                nf.table.stats.insert_failed += 1;
                nf.table.stats.drop += 1;
                return Err(reason::INSERT_FAILED);
            }
        }
        let t = target(nf.table.get(ct.id), ct.dir);
        set_src(packet, &t);
        Ok(())
    }

    /// Confirms the entry of a packet delivered to the host itself (the `LOCAL_IN` hook).
    pub(crate) fn nf_local_in(&mut self, host: HostId, ct: Option<CtRef>) -> Result<(), &'static str> {
        let (Some(ct), Some(nf)) = (ct, self.hosts[host.0 as usize].netfilter.as_mut()) else {
            return Ok(());
        };
        if !nf.table.get(ct.id).confirmed && !nf.table.confirm(ct.id) {
            nf.table.remove(ct.id);
            nf.table.stats.insert_failed += 1;
            nf.table.stats.drop += 1;
            return Err(reason::INSERT_FAILED);
        }
        Ok(())
    }

    /// Forgets the unconfirmed entry of a packet that was dropped (it dies with the packet).
    pub(crate) fn nf_discard(&mut self, host: HostId, ct: Option<CtRef>) {
        if let (Some(ct), Some(nf)) = (ct, self.hosts[host.0 as usize].netfilter.as_mut()) {
            if !nf.table.get(ct.id).confirmed {
                nf.table.remove(ct.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_kinds_rank_rst_then_syn_then_fin_then_ack() {
        let f = |bits: &[Flags]| Flags(bits.iter().fold(0, |a, b| a | b.0));
        assert_eq!(TcpIndex::of(f(&[Flags::RST, Flags::ACK])), TcpIndex::Rst);
        assert_eq!(TcpIndex::of(f(&[Flags::SYN, Flags::RST])), TcpIndex::Rst);
        assert_eq!(TcpIndex::of(Flags::SYN), TcpIndex::Syn);
        assert_eq!(TcpIndex::of(f(&[Flags::SYN, Flags::ACK])), TcpIndex::SynAck);
        assert_eq!(TcpIndex::of(f(&[Flags::FIN, Flags::ACK])), TcpIndex::Fin);
        assert_eq!(TcpIndex::of(Flags::ACK), TcpIndex::Ack);
        assert_eq!(TcpIndex::of(Flags(0)), TcpIndex::None);
    }
}
