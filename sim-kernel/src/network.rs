//! Networks: broadcast segments with an address prefix and a latency.

use crate::host::HostId;
use sim_core::Duration;
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
