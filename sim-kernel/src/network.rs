//! Networks: broadcast segments with an address prefix, a latency, and optional faults.
//!
//! A network's faults ([`LinkFaults`]) are modelled on Linux's `netem` queueing discipline
//! (`net/sched/sch_netem.c`, `netem_enqueue()`); the link layer ([`crate::link`]) applies them
//! with draws from the network's own random stream, so adding a network, or a fault to one,
//! never shifts another component's numbers.

use crate::host::HostId;
use sim_core::Duration;
use sim_core::rng::Stream;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Index of a network in the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetId(pub u32);

/// One network segment (IPv4 or IPv6, by its prefix).
#[derive(Clone, Debug)]
pub struct Network {
    /// Its name (`lan`); `lo` is reserved for loopback.
    pub name: String,
    /// Network address.
    pub addr: IpAddr,
    /// Prefix length (up to 32 for IPv4, 128 for IPv6).
    pub prefix: u8,
    /// One-way latency of every packet.
    pub latency: Duration,
    /// Which host answers for each address on the segment.
    pub members: BTreeMap<IpAddr, HostId>,
    /// Jitter, loss, duplication and reordering (all off by default).
    pub faults: LinkFaults,
    /// Cut off: every packet put on the network is lost (`World::partition`).
    pub partitioned: bool,
    /// The network's own random stream (`net:NAME/link`), drawn from only for faults that are
    /// on, so a fault-free network draws nothing.
    pub(crate) rng: Stream,
}

/// One million: probabilities are given in parts per million (`loss=0.5%` is 5000).
pub const PPM: u32 = 1_000_000;

/// The faults of a network, after `netem`: each packet put on it is, in this order,
///
/// 1. **lost** with probability `loss_ppm` (`netem_enqueue()`: "Random packet drop");
/// 2. **duplicated** with probability `duplicate_ppm`: a second copy goes out, which draws
///    its own loss and delay but is never duplicated again (netem re-enqueues the copy with
///    duplication switched off);
/// 3. **delayed** by the latency plus a uniform draw in `[-jitter, +jitter]`, clamped at zero
///    (netem's `tabledist()` without a distribution table is uniform);
/// 4. **reordered** with probability `reorder_ppm`: sent at once, without the delay, so it
///    overtakes the packets still in flight (netem's `reorder`, with its default gap of 1).
///
/// A draw is made only for a fault that is on (a probability above 0, a jitter above 0), so
/// a network without faults draws nothing and its traces do not depend on the stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkFaults {
    /// Half-width of the uniform delay variation.
    pub jitter: Duration,
    /// Probability of losing a packet, in parts per million.
    pub loss_ppm: u32,
    /// Probability of sending a packet twice, in parts per million.
    pub duplicate_ppm: u32,
    /// Probability of sending a packet without the delay, in parts per million.
    pub reorder_ppm: u32,
}

impl LinkFaults {
    /// Whether every fault is off.
    pub fn is_none(&self) -> bool {
        *self == LinkFaults::default()
    }
}

impl Network {
    /// Whether `addr` falls inside the network's prefix (never across IP versions).
    pub fn contains(&self, addr: IpAddr) -> bool {
        crate::route::Prefix {
            addr: self.addr,
            len: self.prefix,
        }
        .contains(addr)
    }

    /// The longest prefix the network's address family allows.
    pub fn max_prefix(&self) -> u8 {
        if self.addr.is_ipv4() { 32 } else { 128 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(addr: &str, prefix: u8) -> Network {
        Network {
            name: "lan".into(),
            addr: addr.parse().unwrap(),
            prefix,
            latency: Duration::ZERO,
            members: BTreeMap::new(),
            faults: LinkFaults::default(),
            partitioned: false,
            rng: sim_core::Streams::new(0).stream("net:lan/link"),
        }
    }

    #[test]
    fn prefix_match() {
        let n = net("10.0.0.0", 24);
        assert!(n.contains("10.0.0.200".parse().unwrap()));
        assert!(!n.contains("10.0.1.1".parse().unwrap()));
        assert!(!n.contains("fd00::1".parse().unwrap()), "never across IP versions");
        assert!(net("0.0.0.0", 0).contains("192.0.2.1".parse().unwrap()));
        let v6 = net("fd00::", 64);
        assert!(v6.contains("fd00::2".parse().unwrap()));
        assert!(!v6.contains("fd00:0:0:1::2".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
    }
}
