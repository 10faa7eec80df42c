//! Networks: broadcast segments with an address prefix and a latency.

use crate::host::HostId;
use sim_core::Duration;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Index of a network in the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetId(pub u32);

/// One network segment.
#[derive(Clone, Debug)]
pub struct Network {
    /// Its name (`lan`); `lo` is reserved for loopback.
    pub name: String,
    /// Network address.
    pub addr: Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
    /// One-way latency of every packet.
    pub latency: Duration,
    /// Which host answers for each address on the segment.
    pub members: BTreeMap<Ipv4Addr, HostId>,
}

impl Network {
    /// Whether `addr` falls inside the network's prefix.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        let mask = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix.min(32)))
        };
        u32::from(addr) & mask == u32::from(self.addr) & mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_match() {
        let n = Network {
            name: "lan".into(),
            addr: Ipv4Addr::new(10, 0, 0, 0),
            prefix: 24,
            latency: Duration::ZERO,
            members: BTreeMap::new(),
        };
        assert!(n.contains(Ipv4Addr::new(10, 0, 0, 200)));
        assert!(!n.contains(Ipv4Addr::new(10, 0, 1, 1)));
        let all = Network { prefix: 0, ..n };
        assert!(all.contains(Ipv4Addr::new(192, 0, 2, 1)));
    }
}
