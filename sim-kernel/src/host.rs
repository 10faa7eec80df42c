//! A host: one network namespace with its addresses, sysctls and TCP tables.

use crate::network::NetId;
use crate::socket::SocketId;
use crate::sysctl::Sysctls;
use sim_core::ProbeMap;
use sim_core::rng::Stream;
use std::net::{IpAddr, SocketAddr};

/// Index of a host in the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(pub u32);

/// An address on an interface attached to a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iface {
    /// The address.
    pub addr: IpAddr,
    /// The network the interface is attached to.
    pub network: NetId,
}

/// A connection's identity: local and remote address and port, packed into 36 bytes (IPv4
/// as v4-mapped IPv6, which never occurs otherwise since addresses are kept in wire form) —
/// the established table holds two of these per connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FourTuple {
    local_ip: [u8; 16],
    remote_ip: [u8; 16],
    local_port: u16,
    remote_port: u16,
}

fn ip16(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

impl FourTuple {
    /// The key of the connection from `local` to `remote`.
    pub fn new(local: SocketAddr, remote: SocketAddr) -> FourTuple {
        FourTuple {
            local_ip: ip16(local.ip()),
            remote_ip: ip16(remote.ip()),
            local_port: local.port(),
            remote_port: remote.port(),
        }
    }
}

/// The sockets holding one local port (Linux's `inet_bind_bucket`).
#[derive(Debug, Default)]
pub struct BindBucket {
    /// Every socket holding the port: bound, listening, connected, accepted or in TIME_WAIT.
    pub owners: Vec<SocketId>,
    /// Created by `connect()`'s autobind and never claimed by an explicit bind
    /// (`tb->fastreuse == -1 && tb->fastreuseport == -1`): only such ports may be shared by
    /// further connects toward other destinations (`__inet_hash_connect`).
    pub connect_only: bool,
}

/// A host's TCP tables (one network namespace's `bhash`, `ehash` and listening hash).
#[derive(Default)]
pub struct TcpTables {
    /// Local port → the sockets holding it.
    pub bind: ProbeMap<u16, BindBucket>,
    /// Exact 4-tuple → socket, for every synchronised or synchronising connection
    /// (SYN_SENT, SYN_RECV, ESTABLISHED … TIME_WAIT).
    pub established: ProbeMap<FourTuple, SocketId>,
    /// Listening address and port → listeners (wildcard listeners under `0.0.0.0`).
    pub listening: ProbeMap<SocketAddr, Vec<SocketId>>,
}

/// One simulated host (network namespace).
pub struct Host {
    /// Its name.
    pub name: String,
    /// Its interface addresses (besides `lo`).
    pub ifaces: Vec<Iface>,
    /// Its static routes, in declaration order (connected routes come from `ifaces`).
    pub routes: Vec<crate::route::Route>,
    /// Connection tracking and NAT, once the host has NAT rules (loading the NAT table
    /// loads `nf_conntrack`).
    pub netfilter: Option<Box<crate::netfilter::Netfilter>>,
    /// Packets waiting for a neighbour that does not answer ARP (or neighbour discovery),
    /// by network and next-hop address (`neighbour.arp_queue`).
    pub neigh: std::collections::BTreeMap<(NetId, IpAddr), Vec<(crate::packet::Packet, u8)>>,
    /// Its sysctls.
    pub sysctl: Sysctls,
    /// Its TCP tables.
    pub tcp: TcpTables,
    /// Its UDP bind table: local port → the sockets holding it, in bind order (UDP's own
    /// port space, `udp_table`).
    pub udp: ProbeMap<u16, BindBucket>,
    /// The per-boot secret behind `secure_ipv4_port_ephemeral()` (`net_secret`).
    pub port_secret: u64,
    /// Seeds the lazily initialised `table_perturb[]` slots.
    pub perturb_secret: u64,
    /// `table_perturb[]` slots touched so far; untouched slots hold their seeded initial value.
    pub perturb: ProbeMap<u16, u32>,
    /// Draws for port selection (`bind(0)` start, perturbation jitter).
    pub port_rng: Stream,
    /// Draws for initial sequence numbers.
    pub isn_rng: Stream,
    /// The Unix-domain namespace: the filesystem with its socket files, abstract names, users.
    pub unix: crate::unix::HostUnix,
}

impl Host {
    /// Whether `addr` belongs to this host: all of 127.0.0.0/8 and `::1` (`lo`), or an interface
    /// address.
    /// (`inet_addr_type()` returning `RTN_LOCAL`.)
    pub fn is_local(&self, addr: IpAddr) -> bool {
        addr.is_loopback() || self.ifaces.iter().any(|i| i.addr == addr)
    }
}
