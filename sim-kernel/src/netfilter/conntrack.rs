//! Connection tracking (`net/netfilter/nf_conntrack_core.c`): one entry per flow, found by
//! either direction's tuple, with Linux's per-protocol states and timeouts.
//!
//! Entries are kept in a `BTreeMap` by id (creation order, which is also the order of the
//! `conntrack` view) and found through a second map from tuple to (id, direction). Expired
//! entries are removed lazily, the first time anything looks at the table after they expire
//! (Linux's garbage collector runs in the background; an expired entry is invisible to lookups
//! either way: `nf_ct_is_expired()`).

use crate::packet::Flags;
use sim_core::{Duration, Instant};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The transport protocol of a tracked flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum L4 {
    /// TCP (protocol 6).
    Tcp,
    /// UDP (protocol 17).
    Udp,
}

impl L4 {
    /// The name and protocol number `conntrack -L` prints.
    pub fn name_and_number(self) -> (&'static str, u8) {
        match self {
            L4::Tcp => ("tcp", 6),
            L4::Udp => ("udp", 17),
        }
    }
}

/// One direction of a flow (`struct nf_conntrack_tuple`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tuple {
    /// Protocol.
    pub proto: L4,
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
}

impl Tuple {
    /// The tuple of packets going the other way (`nf_ct_invert_tuple()`).
    pub fn invert(self) -> Tuple {
        Tuple {
            proto: self.proto,
            src: self.dst,
            dst: self.src,
        }
    }
}

/// Which way a packet travels relative to the packet that created its entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dir {
    /// The direction of the first packet (`IP_CT_DIR_ORIGINAL`).
    Original,
    /// The way back (`IP_CT_DIR_REPLY`).
    Reply,
}

/// What kind of TCP segment conntrack sees (`get_conntrack_index()`: a RST first, then SYN
/// with or without ACK, then FIN, then ACK).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpIndex {
    /// `TCP_SYN_SET`.
    Syn,
    /// `TCP_SYNACK_SET`.
    SynAck,
    /// `TCP_FIN_SET`.
    Fin,
    /// `TCP_ACK_SET`.
    Ack,
    /// `TCP_RST_SET`.
    Rst,
    /// `TCP_NONE_SET`.
    None,
}

impl TcpIndex {
    /// The kind of a segment with `flags`.
    pub fn of(flags: Flags) -> TcpIndex {
        if flags.has(Flags::RST) {
            TcpIndex::Rst
        } else if flags.has(Flags::SYN) {
            if flags.has(Flags::ACK) {
                TcpIndex::SynAck
            } else {
                TcpIndex::Syn
            }
        } else if flags.has(Flags::FIN) {
            TcpIndex::Fin
        } else if flags.has(Flags::ACK) {
            TcpIndex::Ack
        } else {
            TcpIndex::None
        }
    }
}

/// TCP connection-tracking states (`enum tcp_conntrack`), plus `Udp` for UDP flows, which
/// have no state of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CtState {
    /// A UDP flow.
    Udp,
    /// SYN seen.
    SynSent,
    /// SYN-ACK seen.
    SynRecv,
    /// The handshake's last ACK seen.
    Established,
    /// A FIN seen.
    FinWait,
    /// A FIN acknowledged.
    CloseWait,
    /// FINs seen both ways.
    LastAck,
    /// The last FIN acknowledged.
    TimeWait,
    /// A RST seen.
    Close,
}

impl CtState {
    /// The name `conntrack -L` prints (`tcp_conntrack_names[]`); none for UDP.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            CtState::Udp => return None,
            CtState::SynSent => "SYN_SENT",
            CtState::SynRecv => "SYN_RECV",
            CtState::Established => "ESTABLISHED",
            CtState::FinWait => "FIN_WAIT",
            CtState::CloseWait => "CLOSE_WAIT",
            CtState::LastAck => "LAST_ACK",
            CtState::TimeWait => "TIME_WAIT",
            CtState::Close => "CLOSE",
        })
    }
}

/// One tracked flow (`struct nf_conn`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conn {
    /// The flow as its first packet looked when it arrived.
    pub orig: Tuple,
    /// What replies look like on the wire (after NAT has chosen its translation, the
    /// inverse of the translated original).
    pub reply: Tuple,
    /// Protocol state.
    pub state: CtState,
    /// A packet was seen in the reply direction (`IPS_SEEN_REPLY`; `[UNREPLIED]` until then).
    pub seen_reply: bool,
    /// The flow is assured (`IPS_ASSURED`): it survives a full table's early drop.
    pub assured: bool,
    /// The source was translated (`IPS_SRC_NAT`).
    pub snat: bool,
    /// The destination was translated (`IPS_DST_NAT`).
    pub dnat: bool,
    /// Inserted in the table (`IPS_CONFIRMED`): until then only its creator sees it.
    pub confirmed: bool,
    /// TCP: the end of the sequence space the original direction has sent so far (the
    /// `td_end` of `proto.tcp.seen[0]`), which `nf_seq_has_advanced()` compares.
    pub orig_end: u32,
    /// TCP: a FIN started closing the flow, in either direction (`IP_CT_TCP_FLAG_CLOSE_INIT`
    /// in `proto.tcp.seen[]`, set on the move to FIN_WAIT).
    pub fin_seen: bool,
    /// TCP: the last segment tracked (or ignored) on the flow — its kind, direction and
    /// sequence end (`proto.tcp.last_index`, `last_dir`, `last_end`).
    pub last: Option<(TcpIndex, Dir, u32)>,
    /// When it was created.
    pub created: Instant,
    /// When it expires.
    pub expires: Instant,
}

/// Counters as `conntrack -S` shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CtStats {
    /// Entries that could not be inserted because their reply tuple was taken.
    pub insert_failed: u64,
    /// Packets dropped by conntrack (insert failure, full table).
    pub drop: u64,
}

/// A host's conntrack table.
#[derive(Debug, Default)]
pub struct Conntrack {
    conns: BTreeMap<u64, Conn>,
    tuples: BTreeMap<Tuple, (u64, Dir)>,
    expiry: BTreeSet<(Instant, u64)>,
    next_id: u64,
    /// Counters.
    pub stats: CtStats,
}

/// The smallest and the largest socket address, for range scans by source.
const MIN_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
const MAX_ADDR: SocketAddr = SocketAddr::new(
    IpAddr::V6(Ipv6Addr::new(
        0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
    )),
    u16::MAX,
);

impl Conntrack {
    /// Drops every entry that has expired by `now`.
    pub fn reap(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.expiry.first() {
            if at > now {
                break;
            }
            self.remove(id);
        }
    }

    /// Live entries (confirmed or not).
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// The entries in creation order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Conn)> {
        self.conns.iter().map(|(&id, c)| (id, c))
    }

    /// The entry `id`.
    pub fn get(&self, id: u64) -> &Conn {
        &self.conns[&id]
    }

    /// The entry and direction a packet with `tuple` belongs to (`nf_conntrack_find_get()`).
    pub fn find(&self, tuple: &Tuple) -> Option<(u64, Dir)> {
        self.tuples.get(tuple).copied()
    }

    /// Whether a confirmed entry other than `ignore` uses `tuple` in either direction
    /// (`nf_conntrack_tuple_taken()`).
    pub fn taken(&self, tuple: &Tuple, ignore: u64) -> Option<u64> {
        self.tuples
            .get(tuple)
            .map(|&(id, _)| id)
            .filter(|&id| id != ignore && self.conns[&id].confirmed)
    }

    /// Adds an unconfirmed entry for a new flow whose first packet has `orig`, replies
    /// expected as `reply`.
    pub fn create(&mut self, orig: Tuple, reply: Tuple, state: CtState, now: Instant, timeout: Duration) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let expires = now.after(timeout);
        self.conns.insert(
            id,
            Conn {
                orig,
                reply,
                state,
                seen_reply: false,
                assured: false,
                snat: false,
                dnat: false,
                confirmed: false,
                orig_end: 0,
                fin_seen: false,
                last: None,
                created: now,
                expires,
            },
        );
        self.tuples.insert(orig, (id, Dir::Original));
        self.expiry.insert((expires, id));
        id
    }

    /// Gives entry `id` a new reply tuple (`nf_conntrack_alter_reply()`).
    pub fn alter_reply(&mut self, id: u64, reply: Tuple) {
        self.conns.get_mut(&id).expect("live entry").reply = reply;
    }

    /// Inserts entry `id`'s reply tuple (`__nf_conntrack_confirm()`); false, leaving the entry
    /// unconfirmed, when another entry already holds it.
    pub fn confirm(&mut self, id: u64) -> bool {
        let reply = self.conns[&id].reply;
        if self.tuples.get(&reply).is_some_and(|&(other, _)| other != id) {
            return false;
        }
        self.tuples.insert(reply, (id, Dir::Reply));
        self.conns.get_mut(&id).expect("live entry").confirmed = true;
        true
    }

    /// Entry `id`, to update its state.
    pub fn get_mut(&mut self, id: u64) -> &mut Conn {
        self.conns.get_mut(&id).expect("live entry")
    }

    /// Sets entry `id` to expire `timeout` from `now` (`nf_ct_refresh_acct()`).
    pub fn refresh(&mut self, id: u64, now: Instant, timeout: Duration) {
        let c = self.conns.get_mut(&id).expect("live entry");
        self.expiry.remove(&(c.expires, id));
        c.expires = now.after(timeout);
        self.expiry.insert((c.expires, id));
    }

    /// Removes entry `id` (`nf_ct_kill()`, or expiry).
    pub fn remove(&mut self, id: u64) {
        let Some(c) = self.conns.remove(&id) else { return };
        self.expiry.remove(&(c.expires, id));
        if self.tuples.get(&c.orig).is_some_and(|&(i, _)| i == id) {
            self.tuples.remove(&c.orig);
        }
        if self.tuples.get(&c.reply).is_some_and(|&(i, _)| i == id) {
            self.tuples.remove(&c.reply);
        }
    }

    /// Confirmed entries whose original direction comes from `src` (the `bysource` table that
    /// `find_appropriate_src()` searches), oldest first.
    pub fn by_source(&self, proto: L4, src: SocketAddr) -> impl Iterator<Item = (u64, &Conn)> {
        let low = Tuple {
            proto,
            src,
            dst: MIN_ADDR,
        };
        let high = Tuple {
            proto,
            src,
            dst: MAX_ADDR,
        };
        self.tuples
            .range(low..=high)
            .filter(|(_, (_, dir))| *dir == Dir::Original)
            .map(|(_, &(id, _))| (id, &self.conns[&id]))
            .filter(|(_, c)| c.confirmed)
    }
}

impl Conntrack {
    /// Checks the table's consistency: at most `max` entries; each entry found under its
    /// original tuple, and (once confirmed) under its reply tuple, as itself and in that
    /// direction; no tuple naming a missing entry; the expiry index exactly the entries'
    /// deadlines. Since a tuple names one entry, confirmed entries' reply tuples — the
    /// translated flows as the outside sees them — are all different: NAT is a bijection
    /// between inside flows and outside tuples, per protocol.
    pub fn check(&self, max: u32) -> Result<(), String> {
        if self.conns.len() > max as usize {
            return Err(format!("{} entries exceed nf_conntrack_max {max}", self.conns.len()));
        }
        for (&id, c) in &self.conns {
            if self.tuples.get(&c.orig) != Some(&(id, Dir::Original)) {
                return Err(format!("entry {id}'s original tuple {:?} is not indexed to it", c.orig));
            }
            if c.confirmed && self.tuples.get(&c.reply) != Some(&(id, Dir::Reply)) {
                return Err(format!(
                    "confirmed entry {id}'s reply tuple {:?} is not indexed to it",
                    c.reply
                ));
            }
            if !self.expiry.contains(&(c.expires, id)) {
                return Err(format!("entry {id} is missing from the expiry index"));
            }
            if c.orig.proto != c.reply.proto {
                return Err(format!("entry {id} changes protocol"));
            }
        }
        for (t, (id, dir)) in &self.tuples {
            let Some(c) = self.conns.get(id) else {
                return Err(format!("tuple {t:?} names missing entry {id}"));
            };
            let own = match dir {
                Dir::Original => c.orig,
                Dir::Reply => c.reply,
            };
            if own != *t {
                return Err(format!(
                    "tuple {t:?} is indexed to entry {id}, whose {dir:?} tuple is {own:?}"
                ));
            }
        }
        if self.expiry.len() != self.conns.len() {
            return Err(format!(
                "{} expiry deadlines for {} entries",
                self.expiry.len(),
                self.conns.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A UDP tuple from two `ADDR:PORT` strings (shared with the NAT tests).
    pub(in crate::netfilter) fn t(src: &str, dst: &str) -> Tuple {
        Tuple {
            proto: L4::Udp,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
        }
    }

    #[test]
    fn both_directions_find_the_entry_and_expiry_removes_it() {
        let mut ct = Conntrack::default();
        let orig = t("192.168.1.10:5555", "203.0.113.5:9000");
        let reply = t("203.0.113.5:9000", "203.0.113.1:5555");
        let id = ct.create(orig, reply, CtState::Udp, Instant::ZERO, Duration::from_secs(30));
        assert_eq!(ct.taken(&reply, 0), None, "unconfirmed entries are not taken");
        assert!(ct.confirm(id));
        assert_eq!(ct.find(&orig), Some((id, Dir::Original)));
        assert_eq!(ct.find(&reply), Some((id, Dir::Reply)));
        assert_eq!(ct.taken(&reply, 0), Some(id));
        assert_eq!(ct.taken(&reply, id), None);
        assert_eq!(ct.by_source(L4::Udp, orig.src).count(), 1);
        assert_eq!(ct.by_source(L4::Tcp, orig.src).count(), 0);
        ct.reap(Instant::ZERO.after(Duration::from_secs(29)));
        assert_eq!(ct.len(), 1);
        ct.reap(Instant::ZERO.after(Duration::from_secs(30)));
        assert!(ct.is_empty());
        assert_eq!(ct.find(&orig), None);
        assert_eq!(ct.find(&reply), None);
    }

    #[test]
    fn a_taken_reply_tuple_is_not_confirmed() {
        let mut ct = Conntrack::default();
        let reply = t("203.0.113.5:9000", "203.0.113.1:5555");
        let a = ct.create(
            t("192.168.1.10:5555", "203.0.113.5:9000"),
            reply,
            CtState::Udp,
            Instant::ZERO,
            Duration::from_secs(30),
        );
        assert!(ct.confirm(a));
        let b = ct.create(
            t("192.168.1.11:5555", "203.0.113.5:9000"),
            reply,
            CtState::Udp,
            Instant::ZERO,
            Duration::from_secs(30),
        );
        assert!(!ct.confirm(b));
        ct.remove(b);
        assert_eq!(
            ct.find(&reply),
            Some((a, Dir::Reply)),
            "removing the loser keeps the winner's tuple"
        );
    }
}
