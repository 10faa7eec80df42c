//! The link layer: carrying a packet across one network (or loopback) to the host that owns
//! the next hop's address, after the network's latency.
//!
//! A network may lose, duplicate, delay by a random amount and reorder packets, as Linux's
//! `netem` does ([`crate::network::LinkFaults`]), and may be cut off by a partition
//! ([`World::partition`]): every packet put on a partitioned network is lost. Packets already
//! travelling when the partition begins still arrive, as frames already on a cable do when
//! the cable is pulled at one end (the model is a cut at the sender's side).
//!
//! Every transmission is counted in [`PacketStats`], so that packets are conserved:
//! `sent = delivered + lost + in_flight` at every instant ([`World::packet_stats`]).
//!
//! A world may also keep the packets it puts on the wire ([`World::start_capture`]): the trace
//! shows only payload lengths, and a packet capture (`socksim run --pcap`) needs the bytes.

use crate::host::HostId;
use crate::network::{NetId, PPM};
use crate::packet::Packet;
use crate::route::{Arrival, DEFAULT_TTL, reason};
use crate::trace::Event;
use crate::world::{Pending, World};
use sim_core::Duration;
use std::net::IpAddr;

/// Packet counters of a run (every hop counts once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketStats {
    /// Transmissions put on a network or on loopback (a forwarded packet counts once per hop;
    /// a duplicate counts as a transmission of its own).
    pub sent: u64,
    /// Transmissions that reached a host.
    pub delivered: u64,
    /// Transmissions lost on the way (link loss, a partition), each traced with its reason.
    pub lost: u64,
    /// Transmissions still travelling.
    pub in_flight: u64,
    /// Packets a host discarded before or after a transmission (no route, no neighbour,
    /// forwarding off, TTL, netfilter), each traced with its reason.
    pub dropped: u64,
    /// Packets a host forwarded.
    pub forwarded: u64,
}

impl World {
    /// The packet counters so far.
    pub fn packet_stats(&self) -> PacketStats {
        self.stats
    }

    /// Starts keeping every packet that carries payload bytes, at the moment it is put on a
    /// network or on loopback (and when a network loses it, or it is dropped waiting for a
    /// neighbour that never answers): what a packet capture needs for its bytes, in the order
    /// the trace shows those packets. Packets without payload are not kept. The payloads are
    /// shared with the simulation, not copied. [`World::take_capture`] returns them.
    pub fn start_capture(&mut self) {
        self.capture.get_or_insert_with(Vec::new);
    }

    /// The packets kept since [`World::start_capture`], in transmission order; capturing stops.
    /// Empty when no capture was started.
    pub fn take_capture(&mut self) -> Vec<Packet> {
        self.capture.take().unwrap_or_default()
    }

    /// Keeps `packet` for the capture, if one runs and the packet carries payload bytes.
    fn capture(&mut self, packet: &Packet) {
        if let Some(log) = &mut self.capture
            && packet.has_payload()
        {
            log.push(packet.clone());
        }
    }

    /// Sends `packet` to `host` itself over `lo`: no latency, no loss.
    pub(crate) fn loopback_send(&mut self, host: HostId, packet: Packet) {
        self.capture(&packet);
        self.trace(|| Event::Packet {
            network: "lo".to_string(),
            packet: (&packet).into(),
        });
        let arrival = Arrival {
            host,
            from: None,
            ttl: DEFAULT_TTL,
            packet,
        };
        self.schedule_arrival(Duration::ZERO, arrival);
    }

    /// Carries `packet` from `from` across network `net` to the owner of `next_hop`. ARP (or
    /// neighbour discovery) answers at once when a host on the network owns the address; when
    /// none does, the packet waits in the neighbour entry's queue until resolution fails (see
    /// [`World::neigh_failed`]).
    pub(crate) fn link_send(&mut self, from: HostId, net: NetId, next_hop: IpAddr, packet: Packet, ttl: u8) {
        let n = &self.networks[net.0 as usize];
        let Some(&to) = n.members.get(&next_hop) else {
            return self.neigh_queue(from, net, next_hop, packet, ttl);
        };
        if n.partitioned {
            return self.link_lose(net, &packet, reason::PARTITIONED);
        }
        self.netem(net, to, packet, ttl, true);
    }

    /// Applies the network's faults to one packet and puts what survives in flight
    /// (`netem_enqueue()`): duplication is drawn first, then loss; a duplicate goes out first
    /// and draws its own loss and delay; then the delay, unless the packet is reordered.
    fn netem(&mut self, net: NetId, to: HostId, packet: Packet, ttl: u8, may_duplicate: bool) {
        let n = &mut self.networks[net.0 as usize];
        let faults = n.faults;
        let duplicate = may_duplicate && chance(&mut n.rng, faults.duplicate_ppm);
        let lost = chance(&mut n.rng, faults.loss_ppm);
        match (duplicate, lost) {
            (false, true) => return self.link_lose(net, &packet, reason::LOST),
            // netem: "--count" — the loss takes one of the two copies.
            (true, true) => {}
            (true, false) => self.netem(net, to, packet.clone(), ttl, false),
            (false, false) => {}
        }
        let n = &mut self.networks[net.0 as usize];
        let delay = if chance(&mut n.rng, faults.reorder_ppm) {
            // netem's reordering: "putting one out of N packets at the front of the queue".
            Duration::ZERO
        } else if faults.jitter > Duration::ZERO {
            // tabledist() without a table: uniform in [latency - jitter, latency + jitter].
            let span = faults.jitter.0.saturating_mul(2).saturating_add(1);
            let offset = ((u128::from(n.rng.next_u64()) * u128::from(span)) >> 64) as u64;
            Duration((n.latency.0 + offset).saturating_sub(faults.jitter.0))
        } else {
            n.latency
        };
        let name = n.name.clone();
        self.capture(&packet);
        self.trace(|| Event::Packet {
            network: name,
            packet: (&packet).into(),
        });
        let arrival = Arrival {
            host: to,
            from: Some(net),
            ttl,
            packet,
        };
        self.schedule_arrival(delay, arrival);
    }

    /// A transmission on `net` that never arrives: counted as sent and lost, traced as a drop.
    fn link_lose(&mut self, net: NetId, packet: &Packet, why: &str) {
        self.capture(packet);
        self.stats.sent += 1;
        self.stats.lost += 1;
        let at = self.networks[net.0 as usize].name.clone();
        self.trace(|| Event::Drop {
            network: at,
            packet: packet.into(),
            reason: why.to_string(),
        });
    }

    /// Puts a transmission in flight for `after`.
    pub(crate) fn schedule_arrival(&mut self, after: Duration, arrival: Arrival) {
        self.stats.sent += 1;
        self.stats.in_flight += 1;
        let id = self.in_flight.insert(arrival);
        self.events.push(self.now.after(after), Pending::Deliver(id));
    }
}

/// Index of a packet in flight in [`InFlight`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ArrivalId(u32);

/// The packets in flight, in a slab: the event queue holds only their index, so its entries
/// stay small. A packet is over a hundred bytes, and every timer of a million TIME-WAIT
/// sockets would otherwise be moved around the event heap at that size. Freed slots are
/// reused last-freed-first, deterministically, and nothing is allocated per packet once the
/// slab has grown to the most packets ever in flight at once.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    slots: Vec<Option<Arrival>>,
    free: Vec<u32>,
}

impl InFlight {
    /// Keeps `arrival` until [`InFlight::take`].
    fn insert(&mut self, arrival: Arrival) -> ArrivalId {
        match self.free.pop() {
            Some(i) => {
                debug_assert!(self.slots[i as usize].is_none(), "a free slot is empty");
                self.slots[i as usize] = Some(arrival);
                ArrivalId(i)
            }
            None => {
                let i = u32::try_from(self.slots.len()).expect("fewer than 2^32 packets in flight");
                self.slots.push(Some(arrival));
                ArrivalId(i)
            }
        }
    }

    /// How many packets are in flight.
    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Takes the packet back out, when it arrives.
    pub(crate) fn take(&mut self, id: ArrivalId) -> Arrival {
        let arrival = self.slots[id.0 as usize].take().expect("each arrival is taken once");
        self.free.push(id.0);
        arrival
    }
}

/// How long ARP (or neighbour discovery) tries before it gives up: `mcast_solicit` = 3
/// probes, `retrans_time` = 1 s apart (`neigh_timer_handler()`, the defaults of
/// `arp_tbl`/`nd_tbl`).
const NEIGH_RESOLVE_TIME: Duration = Duration::from_secs(3);
/// How many packets wait for one unresolved neighbour (`unres_qlen`, 101 packets; Linux counts
/// bytes, `unres_qlen_bytes`, which holds about as many small packets). Beyond it the oldest is
/// dropped.
const NEIGH_QUEUE_MAX: usize = 101;

impl World {
    /// Queues a packet for a neighbour that does not answer (yet): the first packet starts
    /// resolution (`__neigh_event_send()`: NUD_INCOMPLETE), later ones wait with it.
    fn neigh_queue(&mut self, from: HostId, net: NetId, next_hop: IpAddr, packet: Packet, ttl: u8) {
        let now = self.now;
        let h = &mut self.hosts[from.0 as usize];
        let queue = h.neigh.entry((net, next_hop)).or_default();
        let start = queue.is_empty();
        queue.push((packet, ttl));
        if queue.len() > NEIGH_QUEUE_MAX {
            let (oldest, _) = queue.remove(0);
            let at = h.name.clone();
            self.capture(&oldest);
            self.drop_packet(at, &oldest, reason::NEIGH_QUEUE_FULL);
        }
        if start {
            self.events
                .push(now.after(NEIGH_RESOLVE_TIME), Pending::NeighFailed(from, net, next_hop));
        }
    }

    /// Resolution of `next_hop` on `net` failed (`neigh_invalidate()`): every packet that waited
    /// is dropped and answered with an ICMP host unreachable to its sender
    /// (`arp_error_report()` → `ipv4_link_failure()`; `ndisc_error_report()` for IPv6). The
    /// entry is forgotten, so the next packet starts over.
    pub(crate) fn neigh_failed(&mut self, host: HostId, net: NetId, next_hop: IpAddr) {
        let Some(queue) = self.hosts[host.0 as usize].neigh.remove(&(net, next_hop)) else {
            return;
        };
        let at = self.hosts[host.0 as usize].name.clone();
        for (packet, _) in queue {
            self.capture(&packet);
            self.drop_packet(at.clone(), &packet, reason::NO_NEIGHBOUR);
            self.icmp_send(host, crate::packet::IcmpKind::HostUnreachable, packet);
        }
    }
}

/// Draws whether an event of probability `ppm` (parts per million) happens; draws nothing when
/// `ppm` is 0, so faults that are off leave the stream untouched.
fn chance(rng: &mut sim_core::rng::Stream, ppm: u32) -> bool {
    ppm > 0 && rng.below(PPM) < ppm
}
