//! Network address translation (`net/netfilter/nf_nat_core.c`): the rules of a host and the
//! choice of a translated tuple that no other flow uses.

use super::conntrack::{Conntrack, CtState, L4, Tuple};
use crate::network::NetId;
use crate::route::Prefix;
use sim_core::rng::Stream;
use std::net::{IpAddr, SocketAddr};

/// What a rule translates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NatAction {
    /// Source NAT to the host's address on the outgoing network (`MASQUERADE`,
    /// `nf_nat_masquerade_ipv4()`).
    Masquerade,
    /// Source NAT to an address, and optionally a port range (`SNAT --to-source`).
    Snat {
        /// The new source address.
        to: IpAddr,
        /// The inclusive port range (`NF_NAT_RANGE_PROTO_SPECIFIED`).
        ports: Option<(u16, u16)>,
    },
    /// Destination NAT (`DNAT --to-destination`): port forwarding.
    Dnat {
        /// Only this protocol, or both.
        proto: Option<L4>,
        /// The destination port matched.
        dport: u16,
        /// The new destination address.
        to: IpAddr,
        /// The new destination port, or the same.
        to_port: Option<u16>,
    },
}

/// One NAT rule of a host (an nftables `nat` chain rule, or an iptables `-t nat` rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatRule {
    /// What it does.
    pub action: NatAction,
    /// Source NAT: the network packets leave by (`oifname`).
    pub out: Option<NetId>,
    /// Destination NAT: the network packets arrive from (`iifname`).
    pub input: Option<NetId>,
    /// Only packets from this source prefix (`ip saddr`).
    pub from: Option<Prefix>,
    /// `random` (`NF_NAT_RANGE_PROTO_RANDOM`).
    pub random: bool,
    /// `random-fully` (`NF_NAT_RANGE_PROTO_RANDOM_FULLY`).
    pub random_fully: bool,
}

impl NatRule {
    /// Whether it is a source NAT rule (POSTROUTING).
    pub fn is_source(&self) -> bool {
        !matches!(self.action, NatAction::Dnat { .. })
    }
}

/// Which end of the tuple a translation changes (`enum nf_nat_manip_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manip {
    /// The source (SNAT, MASQUERADE).
    Src,
    /// The destination (DNAT).
    Dst,
}

/// What a translation may choose from (`struct nf_nat_range2`): one address (socksim's
/// rules name exactly one) and maybe a port range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// The address.
    pub addr: IpAddr,
    /// The inclusive port range (`NF_NAT_RANGE_PROTO_SPECIFIED`).
    pub ports: Option<(u16, u16)>,
    /// `random` or `random-fully` (`NF_NAT_RANGE_PROTO_RANDOM_ALL`).
    pub random: bool,
}

/// How many ports a search tries before it gives up on a start (`NF_NAT_MAX_ATTEMPTS`).
const MAX_ATTEMPTS: u32 = 128;
/// In the last attempts of a TCP SYN's search, a colliding entry in TIME_WAIT that was itself
/// source-NATed may be killed to free its tuple (`NF_NAT_HARDER_THRESH`).
const HARDER_THRESH: u32 = MAX_ATTEMPTS / 4;

fn manip_end(t: &mut Tuple, manip: Manip) -> &mut SocketAddr {
    match manip {
        Manip::Src => &mut t.src,
        Manip::Dst => &mut t.dst,
    }
}

/// Whether `tuple`'s translated end lies inside `range` (`nf_nat_inet_in_range()` and
/// `l4proto_in_range()`).
fn in_range(tuple: &Tuple, manip: Manip, range: &Range) -> bool {
    let end = match manip {
        Manip::Src => tuple.src,
        Manip::Dst => tuple.dst,
    };
    end.ip() == range.addr && range.ports.is_none_or(|(lo, hi)| (lo..=hi).contains(&end.port()))
}

/// Whether a confirmed flow other than `ct` already expects replies to `tuple`
/// (`nf_nat_used_tuple()`: the reply tuple of `tuple` is taken).
fn used(table: &Conntrack, tuple: &Tuple, ct: u64) -> bool {
    table.taken(&tuple.invert(), ct).is_some()
}

/// Picks the translated tuple for flow `ct`, whose packets look like `orig` so far
/// (`get_unique_tuple()`).
pub fn unique_tuple(
    table: &mut Conntrack,
    rng: &mut Stream,
    orig: Tuple,
    range: &Range,
    manip: Manip,
    ct: u64,
) -> Tuple {
    // 1. Source NAT without random flags: keep the tuple if it is already in range and
    //    unused; otherwise reuse the mapping an earlier flow from the same source got
    //    (`find_appropriate_src()`), if it is unused toward this destination.
    if manip == Manip::Src && !range.random {
        if in_range(&orig, manip, range) {
            if !used(table, &orig, ct) {
                return orig;
            }
        } else if let Some(mapped) = table
            .by_source(orig.proto, orig.src)
            .map(|(_, c)| c.reply.dst)
            .find(|mapped| {
                mapped.ip() == range.addr && range.ports.is_none_or(|(lo, hi)| (lo..=hi).contains(&mapped.port()))
            })
        {
            let candidate = Tuple { src: mapped, ..orig };
            if !used(table, &candidate, ct) {
                return candidate;
            }
        }
    }
    // 2. The address: ranges here have one (`find_best_ips_proto()` has nothing to choose).
    let mut tuple = orig;
    {
        let end = manip_end(&mut tuple, manip);
        *end = SocketAddr::new(range.addr, end.port());
    }
    // 3. Keep the port if it is in range and unused.
    if !range.random {
        match range.ports {
            Some((lo, hi)) => {
                let port = manip_end(&mut tuple, manip).port();
                if (lo..=hi).contains(&port) && (lo == hi || !used(table, &tuple, ct)) {
                    return tuple;
                }
            }
            None if !used(table, &tuple, ct) => return tuple,
            None => {}
        }
    }
    // 4. Search the port range (`nf_nat_l4proto_unique_tuple()`).
    l4proto_unique_tuple(table, rng, tuple, range, manip, ct)
}

/// The port search of `nf_nat_l4proto_unique_tuple()`: from a random offset, up to 128
/// ports; when all are taken, halve the attempts and start again elsewhere, down to 16.
/// When nothing is free the last port tried is returned anyway, and the clash is found when
/// the entry is confirmed.
fn l4proto_unique_tuple(
    table: &mut Conntrack,
    rng: &mut Stream,
    mut tuple: Tuple,
    range: &Range,
    manip: Manip,
    ct: u64,
) -> Tuple {
    let port = manip_end(&mut tuple, manip).port();
    let (min, size) = match range.ports {
        Some((lo, hi)) => (u32::from(lo), u32::from(hi) - u32::from(lo) + 1),
        None => {
            // A destination is never moved to another port without a range.
            if manip == Manip::Dst {
                return tuple;
            }
            // Without a range the port keeps its class: below 512, 600-1023, or above.
            if port < 512 {
                (1, 511)
            } else if port < 1024 {
                (600, 1023 - 600 + 1)
            } else {
                (1024, 65535 - 1024 + 1)
            }
        }
    };
    // Source NAT and random translations start anywhere (`get_random_u16()`); a destination
    // without random flags starts at the range's low end.
    let mut off: u32 = if range.random || manip == Manip::Src {
        rng.below(1 << 16)
    } else {
        0
    };
    let mut attempts = size.min(MAX_ATTEMPTS);
    loop {
        for i in 0..attempts {
            let candidate = (min + off % size) as u16;
            let end = manip_end(&mut tuple, manip);
            *end = SocketAddr::new(end.ip(), candidate);
            if !used_harder(table, &tuple, ct, attempts - i) {
                return tuple;
            }
            off = off.wrapping_add(1);
        }
        if attempts >= size || attempts < 16 {
            return tuple;
        }
        attempts /= 2;
        off = rng.below(1 << 16);
    }
}

/// `nf_nat_used_tuple_harder()`: like [`used`], but in the last attempts of a TCP SYN's
/// search an entry in TIME_WAIT (or later) that was source-NATed itself and holds the tuple
/// in its reply direction is killed, and the tuple taken — provided the new SYN's sequence
/// number lies past the end of what the old flow's client sent (`nf_seq_has_advanced()`), so
/// that the server, which may still hold the old connection in TIME_WAIT, accepts it. Since
/// initial sequence numbers of different clients are unrelated, that is a coin toss per entry
/// (verified: tools/oracle/net/conntrack_tcp.py T07, 4 of 6 trials took a port over).
fn used_harder(table: &mut Conntrack, tuple: &Tuple, ct: u64, attempts_left: u32) -> bool {
    let reply = tuple.invert();
    let new_is_syn = tuple.proto == L4::Tcp && table.get(ct).state == CtState::SynSent;
    if attempts_left > HARDER_THRESH || !new_is_syn {
        return used(table, tuple, ct);
    }
    let Some((other, dir)) = table.find(&reply) else {
        return false;
    };
    if other == ct || !table.get(other).confirmed {
        return false;
    }
    let o = table.get(other);
    // `nf_nat_may_kill()`: TIME_WAIT or later, and source-NATed.
    if dir != super::conntrack::Dir::Reply || o.state < CtState::TimeWait || !o.snat {
        return true;
    }
    // nf_seq_has_advanced(): (s32)(new td_end - old td_end) > 0, original directions.
    let advanced = (table.get(ct).orig_end.wrapping_sub(o.orig_end) as i32) > 0;
    if !advanced {
        return true;
    }
    table.remove(other);
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netfilter::conntrack::tests::t;
    use sim_core::{Duration, Instant, Streams};

    /// Creates and confirms a flow from `src` to `dst` translated by `range`; returns the
    /// translated source.
    fn flow(table: &mut Conntrack, rng: &mut Stream, src: &str, dst: &str, range: &Range) -> (SocketAddr, bool) {
        let orig = t(src, dst);
        let id = table.create(
            orig,
            orig.invert(),
            CtState::Udp,
            Instant::ZERO,
            Duration::from_secs(30),
        );
        let new = unique_tuple(table, rng, orig, range, Manip::Src, id);
        table.alter_reply(id, new.invert());
        table.get_mut(id).snat = new != orig;
        let ok = table.confirm(id);
        if !ok {
            table.remove(id);
        }
        (new.src, ok)
    }

    fn masq() -> Range {
        Range {
            addr: "203.0.113.1".parse().unwrap(),
            ports: None,
            random: false,
        }
    }

    /// linux-facts.md §6.2, "SNAT to 127.0.0.1 (UDP)", with socksim's addresses.
    #[test]
    fn port_kept_when_unique_then_random_then_reused_toward_new_destinations() {
        let mut table = Conntrack::default();
        let mut rng = Streams::new(1).stream("nat");
        let r = masq();
        let (a, _) = flow(&mut table, &mut rng, "192.168.1.10:5555", "198.51.100.2:9000", &r);
        assert_eq!(a, "203.0.113.1:5555".parse().unwrap(), "port kept");
        let (b, _) = flow(&mut table, &mut rng, "192.168.1.11:5555", "198.51.100.2:9000", &r);
        assert_ne!(b.port(), 5555, "same port to the same destination collides");
        assert!(b.port() >= 1024);
        let (a3, _) = flow(&mut table, &mut rng, "192.168.1.10:5555", "198.51.100.3:9000", &r);
        assert_eq!(a3.port(), 5555, "existing mapping reused");
        let (b3, _) = flow(&mut table, &mut rng, "192.168.1.11:5555", "198.51.100.3:9000", &r);
        assert_eq!(
            b3.port(),
            b.port(),
            "endpoint-independent: the earlier mapping, not 5555"
        );
    }

    #[test]
    fn a_full_port_range_fails_at_confirm() {
        let mut table = Conntrack::default();
        let mut rng = Streams::new(1).stream("nat");
        let r = Range {
            ports: Some((20000, 20001)),
            ..masq()
        };
        let dst = "198.51.100.2:9000";
        let (a, ok_a) = flow(&mut table, &mut rng, "192.168.1.10:5555", dst, &r);
        let (b, ok_b) = flow(&mut table, &mut rng, "192.168.1.11:5555", dst, &r);
        assert!(ok_a && ok_b);
        let mut ports = [a.port(), b.port()];
        ports.sort();
        assert_eq!(ports, [20000, 20001]);
        let (_, ok_c) = flow(&mut table, &mut rng, "192.168.1.12:5555", dst, &r);
        assert!(!ok_c, "no free tuple: dropped at confirm");
        let (_, ok_other) = flow(&mut table, &mut rng, "192.168.1.12:5555", "198.51.100.3:9000", &r);
        assert!(ok_other, "tuples are unique per destination");
    }

    #[test]
    fn low_ports_keep_their_class() {
        let mut table = Conntrack::default();
        let mut rng = Streams::new(3).stream("nat");
        let r = masq();
        for (port, lo, hi) in [(100u16, 1u16, 511u16), (700, 600, 1023)] {
            let src = format!("192.168.1.10:{port}");
            flow(&mut table, &mut rng, &src, "198.51.100.2:53", &r);
            let src = format!("192.168.1.11:{port}");
            let (b, _) = flow(&mut table, &mut rng, &src, "198.51.100.2:53", &r);
            assert!((lo..=hi).contains(&b.port()), "{port} -> {b}");
        }
    }

    /// `nf_nat_used_tuple_harder()`: a TIME_WAIT entry holding the only port is taken over
    /// by a SYN whose sequence number lies past the old flow's, and not otherwise.
    #[test]
    fn time_wait_takeover_needs_an_advanced_sequence_number() {
        for (old_end, new_end, taken_over) in [(1000u32, 5000u32, true), (5000, 1000, false), (u32::MAX - 5, 10, true)]
        {
            let mut table = Conntrack::default();
            let mut rng = Streams::new(1).stream("nat");
            let r = Range {
                ports: Some((20000, 20000)),
                ..masq()
            };
            let tcp = |src: &str| Tuple {
                proto: L4::Tcp,
                ..t(src, "198.51.100.2:80")
            };
            let old = table.create(
                tcp("192.168.1.10:5555"),
                tcp("198.51.100.2:80").invert(),
                CtState::TimeWait,
                Instant::ZERO,
                Duration::from_secs(120),
            );
            let mapped = Tuple {
                src: "203.0.113.1:20000".parse().unwrap(),
                ..tcp("192.168.1.10:5555")
            };
            table.alter_reply(old, mapped.invert());
            table.get_mut(old).snat = true;
            table.get_mut(old).orig_end = old_end;
            assert!(table.confirm(old));
            let orig = tcp("192.168.1.11:5555");
            let new = table.create(
                orig,
                orig.invert(),
                CtState::SynSent,
                Instant::ZERO,
                Duration::from_secs(120),
            );
            table.get_mut(new).orig_end = new_end;
            let got = unique_tuple(&mut table, &mut rng, orig, &r, Manip::Src, new);
            table.alter_reply(new, got.invert());
            assert_eq!(table.confirm(new), taken_over, "old end {old_end}, new end {new_end}");
        }
    }
}
