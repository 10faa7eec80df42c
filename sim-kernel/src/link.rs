//! The link layer: carrying a packet across one network (or loopback) to the host that owns
//! the next hop's address, after the network's latency.
//!
//! Every transmission is counted in [`PacketStats`], so that packets are conserved:
//! `sent = delivered + lost + in_flight` at every instant ([`World::packet_stats`]).

use crate::host::HostId;
use crate::network::NetId;
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

    /// Sends `packet` to `host` itself over `lo`: no latency, no loss.
    pub(crate) fn loopback_send(&mut self, host: HostId, packet: Packet) {
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

    /// Carries `packet` across network `net` to the owner of `next_hop` (its neighbour entry:
    /// ARP or neighbour discovery, which always succeed at once here).
    pub(crate) fn link_send(&mut self, net: NetId, next_hop: IpAddr, packet: Packet, ttl: u8) {
        let n = &self.networks[net.0 as usize];
        let Some(&to) = n.members.get(&next_hop) else {
            let at = n.name.clone();
            return self.drop_packet(at, &packet, reason::NO_NEIGHBOUR);
        };
        let (name, latency) = (n.name.clone(), n.latency);
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
        self.schedule_arrival(latency, arrival);
    }

    /// Puts a transmission in flight for `after`.
    pub(crate) fn schedule_arrival(&mut self, after: Duration, arrival: Arrival) {
        self.stats.sent += 1;
        self.stats.in_flight += 1;
        self.events.push(self.now.after(after), Pending::Deliver(arrival));
    }
}
