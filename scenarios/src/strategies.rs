//! Property testing: [`proptest`](mod@proptest) strategies for small worlds and socket
//! programs, and a runner that checks invariants after every step (cargo feature `proptest`).
//!
//! * [`topology`] generates a few hosts on one or two networks, each host with one or two
//!   addresses and sometimes a tiny ephemeral port range (so that port exhaustion happens);
//! * [`processes`] generates, for a topology, a few processes: typical servers (`socket`,
//!   `bind`, `listen`, then `accept`, `recv`, `close`), typical clients (`socket`, `connect`,
//!   `send`, `close`) and random sequences of those calls, each followed by a few random
//!   calls on the descriptors the process has (plus a `sleep` now and then);
//! * [`routed_topology`] generates a routed world instead: an inside network `n0` with one to
//!   three hosts, a router with `forward` and, mostly, a NAT rule (`masquerade`,
//!   `masquerade random-fully`, or `snat` to a few ports) and sometimes a tiny
//!   `nf_conntrack_max`, and an outside network `n1` with one or two servers. On it,
//!   [`processes`] runs servers outside and clients inside, and every `connect` aims at an
//!   outside host, so the flows cross the router; [`routed_scenario`] is the whole scenario;
//! * [`scenario`] puts both together. A [`GenScenario`] prints as scenario text
//!   ([`GenScenario::text`]) — what a failing case shrinks to, and what you can paste into a
//!   file and `socksim run` — and loads into an [`ast::Scenario`] ([`GenScenario::load`]);
//! * [`check_run`] runs one with [`RunOptions::check_invariants`] (the kernel's own
//!   consistency checks after every step) and calls *your* invariant on the world before every
//!   step and at the end. A broken invariant is an error naming the step.
//!
//! Calls carry no expectations: whatever they return is recorded, and only the invariants
//! judge the run. Every generated scenario ends by `until 5s` of virtual time.
//!
//! ## Example: property-testing your own invariant
//!
//! "On one host, no two connected sockets have the same local address and peer" (the
//! established table is keyed by the 4-tuple, so two entries with one key would be a kernel
//! bug), checked on the `ss` view of every host before every step:
//!
//! ```
//! use proptest::prelude::*;
//! use socksim::strategies::{check_run, scenario};
//! use std::collections::BTreeSet;
//!
//! fn unique_four_tuples(world: &sim_kernel::World) -> Result<(), String> {
//!     let hosts: BTreeSet<_> = world.processes().iter().map(|p| p.host).collect();
//!     for host in hosts {
//!         let mut seen = BTreeSet::new();
//!         // Rows with a peer, except sockets already closed (they left every table).
//!         for row in world.ss(host).into_iter().filter(|r| !r.peer.ends_with(":*") && r.state != "CLOSE") {
//!             if !seen.insert((row.netid.clone(), row.local.clone(), row.peer.clone())) {
//!                 return Err(format!("{}: two sockets {} -> {}", world.host(host).name, row.local, row.peer));
//!             }
//!         }
//!     }
//!     Ok(())
//! }
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]
//!     // In your tests, put #[test] here; a doctest calls the function itself (last line).
//!     fn four_tuples_are_unique(generated in scenario()) {
//!         let outcome = check_run(&generated, unique_four_tuples);
//!         prop_assert!(outcome.is_ok(), "{}\n{}", outcome.unwrap_err(), generated.text());
//!     }
//! }
//! # four_tuples_are_unique();
//! ```
//!
//! ## Example: routed worlds
//!
//! "Behind a NAT, a server never sees an inside address": in a [`routed_scenario`] whose
//! router has a NAT rule, no socket on an outside host has a peer on the inside network
//! (`10.0.0.0/24`). The test is generic over the scenario, so the invariant is built from it
//! ([`Topology::outside_hosts`] names the servers' hosts, `h<i>`; not compiled here,
//! `tests/tests/strategies.rs` runs a stricter version):
//!
//! ```text
//! use proptest::prelude::*;
//! use socksim::strategies::{GenScenario, check_run, routed_scenario};
//!
//! fn no_inside_peer(generated: &GenScenario) -> impl FnMut(&sim_kernel::World) -> Result<(), String> {
//!     let nat = generated.topology.router.as_ref().is_some_and(|r| r.nat.is_some());
//!     let outside: Vec<String> = generated.topology.outside_hosts().iter().map(|h| format!("h{h}")).collect();
//!     move |world| {
//!         let hosts: std::collections::BTreeSet<_> = world.processes().iter().map(|p| p.host).collect();
//!         for host in hosts.into_iter().filter(|&h| nat && outside.contains(&world.host(h).name)) {
//!             if let Some(row) = world.ss(host).into_iter().find(|r| r.peer.starts_with("10.0.0.")) {
//!                 return Err(format!("{} sees {}", world.host(host).name, row.peer));
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//!
//! proptest! {
//!     #[test]
//!     fn servers_never_see_the_inside(generated in routed_scenario()) {
//!         let outcome = check_run(&generated, no_inside_peer(&generated));
//!         prop_assert!(outcome.is_ok(), "{}\n{}", outcome.unwrap_err(), generated.text());
//!     }
//! }
//! ```

use crate::ast::{self, Scenario};
use crate::run::{RunOptions, RunReport, StepDone, StepObserver};
use proptest::prelude::*;
use sim_kernel::World;
use std::fmt::{self, Write as _};

/// A generated network: `n<i>` with the prefix `10.0.<i>.0/24`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenNetwork {
    /// One-way latency in microseconds (0 makes delivery immediate).
    pub latency_us: u32,
    /// Its faults ([`lossy_scenario`]); [`topology`] makes fault-free networks.
    pub faults: Option<GenFaults>,
}

/// A generated network's faults and partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenFaults {
    /// `jitter=`, in microseconds.
    pub jitter_us: u32,
    /// `loss=`, in whole percent.
    pub loss_percent: u8,
    /// `duplicate=`, in whole percent.
    pub duplicate_percent: u8,
    /// `reorder=`, in whole percent.
    pub reorder_percent: u8,
    /// `at START partition` and `at END heal`, in milliseconds, if any.
    pub partition_ms: Option<(u16, u16)>,
}

/// A generated host: `h<i>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenHost {
    /// The networks it has an address on (by index); its address on network `n` is
    /// `10.0.<n>.<host index + 1>`.
    pub networks: Vec<usize>,
    /// A small `net.ipv4.ip_local_port_range` (first, last), if any.
    pub port_range: Option<(u16, u16)>,
    /// Its default gateway, if any: `route default via` that host's address on this host's
    /// first network (an index into [`Topology::hosts`]).
    pub gateway: Option<usize>,
}

/// A generated topology: one or two networks and a few hosts on them, sometimes with a
/// router between two of the networks ([`routed_topology`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// The networks.
    pub networks: Vec<GenNetwork>,
    /// The hosts (at least one).
    pub hosts: Vec<GenHost>,
    /// The router, in a routed world.
    pub router: Option<GenRouter>,
}

/// The router of a routed world ([`routed_topology`]): a host with an address on the inside
/// network `n0` and on the outside network `n1`, with `forward`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenRouter {
    /// The router host (an index into [`Topology::hosts`]).
    pub host: usize,
    /// Its NAT rule for flows leaving by the outside network, if any.
    pub nat: Option<GenNat>,
    /// A small `net.netfilter.nf_conntrack_max`, if any.
    pub conntrack_max: Option<u32>,
}

/// A router's source-NAT rule, for flows that leave by the outside network `n1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GenNat {
    /// `nat masquerade out n1 [random-fully]`.
    Masquerade {
        /// With `random-fully`.
        random_fully: bool,
    },
    /// `nat snat out n1 to ROUTER:FIRST..LAST`: the router's outside address, a few ports.
    Snat {
        /// The first port of the range.
        first: u16,
        /// The last port of the range (inclusive).
        last: u16,
    },
}

impl Topology {
    /// The address of host `host` on network `network`.
    pub fn addr(host: usize, network: usize) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::new(10, 0, network as u8, host as u8 + 1)
    }

    /// The hosts on the inside network of a routed world (every host but the router with
    /// an address on `n0`), or every host in a flat one (or in a routed one with no such
    /// host): where clients run.
    pub fn inside_hosts(&self) -> Vec<usize> {
        self.side(0)
    }

    /// The hosts on the outside network of a routed world (every host but the router with
    /// an address on `n1`), or every host in a flat one (or in a routed one with no such
    /// host): where servers run, and the hosts generated `connect` calls aim at.
    pub fn outside_hosts(&self) -> Vec<usize> {
        self.side(1)
    }

    /// The hosts but the router with an address on `network`, or all of them.
    fn side(&self, network: usize) -> Vec<usize> {
        let all = 0..self.hosts.len();
        let Some(r) = &self.router else {
            return all.collect();
        };
        let side: Vec<usize> = all
            .clone()
            .filter(|&h| h != r.host && self.hosts[h].networks.contains(&network))
            .collect();
        if side.is_empty() { all.collect() } else { side }
    }
}

/// One call of a generated program. A descriptor operand counts back from the newest
/// descriptor the process holds when it makes the call (0 is the newest; taken modulo their
/// number); with none yet, any call on a descriptor becomes a `socket` call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `socket(AF_INET, SOCK_STREAM [| SOCK_NONBLOCK])`: a new descriptor.
    Socket {
        /// With `SOCK_NONBLOCK`.
        nonblocking: bool,
    },
    /// `bind(s, ADDR:PORT)`: the wildcard address, or the host's address on a network.
    Bind {
        /// Which descriptor.
        fd: usize,
        /// `None` for `0.0.0.0`, else the host's address on this network (modulo its count).
        network: Option<usize>,
        /// The port (0 asks the kernel to choose).
        port: u16,
    },
    /// `listen(s, backlog)`.
    Listen {
        /// Which descriptor.
        fd: usize,
        /// The backlog.
        backlog: u8,
    },
    /// `connect(s, ADDR:PORT)` to some host's address (or `127.0.0.1`).
    Connect {
        /// Which descriptor.
        fd: usize,
        /// Which host (modulo the host count); `None` for `127.0.0.1`.
        host: Option<usize>,
        /// Which of its addresses (modulo their count).
        addr: usize,
        /// The port.
        port: u16,
    },
    /// `accept(s)`: on success a new descriptor.
    Accept {
        /// Which descriptor.
        fd: usize,
    },
    /// `send(s, N)`.
    Send {
        /// Which descriptor.
        fd: usize,
        /// How many bytes.
        len: u16,
    },
    /// `recv(s, N)`.
    Recv {
        /// Which descriptor.
        fd: usize,
        /// The buffer size.
        len: u16,
    },
    /// `close(s)`.
    Close {
        /// Which descriptor.
        fd: usize,
    },
    /// `sleep Nms`.
    Sleep {
        /// Milliseconds.
        ms: u8,
    },
}

/// A generated process: `h<host>/p<i>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenProcess {
    /// Its host (an index into [`Topology::hosts`]).
    pub host: usize,
    /// When it starts, in milliseconds.
    pub start_ms: u8,
    /// Its calls.
    pub ops: Vec<Op>,
}

/// A generated scenario: a topology, processes, and the seed to run it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenScenario {
    /// The world.
    pub topology: Topology,
    /// The processes.
    pub processes: Vec<GenProcess>,
    /// The seed.
    pub seed: u64,
}

/// The ports generated programs bind and connect to: few, so that they meet.
const PORTS: [u16; 3] = [0, 80, 81];

/// A topology of one or two networks and one to three hosts, each with an address on one
/// or both networks and, one time in three, a four-port ephemeral range.
pub fn topology() -> impl Strategy<Value = Topology> {
    let network = prop_oneof![Just(0u32), Just(100), Just(1000)].prop_map(|latency_us| GenNetwork {
        latency_us,
        faults: None,
    });
    (prop::collection::vec(network, 1..=2), 1usize..=3).prop_flat_map(|(networks, hosts)| {
        let count = networks.len();
        let host = (
            prop::collection::btree_set(0..count, 1..=count),
            prop::option::weighted(0.33, (40000u16..40004).prop_map(|lo| (lo, lo + 3))),
        )
            .prop_map(|(networks, port_range)| GenHost {
                networks: networks.into_iter().collect(),
                port_range,
                gateway: None,
            });
        (Just(networks), prop::collection::vec(host, hosts)).prop_map(|(networks, hosts)| Topology {
            networks,
            hosts,
            router: None,
        })
    })
}

/// A routed world: an inside network `n0` with one to three hosts (`h0`…), a router with an
/// address on both networks and `forward`, and an outside network `n1` with one or two
/// servers (the last hosts). Inside hosts route by default via the router's inside address,
/// servers via its outside one. Two times in three the router has a NAT rule for flows
/// leaving by `n1` (`masquerade`, `masquerade random-fully`, or `snat` to its outside address
/// and one to three ports); one time in four, a tiny `nf_conntrack_max` (1 to 4). Inside
/// hosts sometimes have a four-port ephemeral range, as in [`topology`].
///
/// With it, [`processes`] puts servers on the outside hosts and clients on the inside ones,
/// and every generated `connect` aims at an outside host, so flows from the inside cross the
/// router (and its NAT).
pub fn routed_topology() -> impl Strategy<Value = Topology> {
    let latency = || prop_oneof![Just(0u32), Just(100), Just(1000)];
    let nat = prop_oneof![
        1 => Just(None),
        1 => Just(Some(GenNat::Masquerade { random_fully: false })),
        1 => Just(Some(GenNat::Masquerade { random_fully: true })),
        1 => (20000u16..20002, 0u16..3).prop_map(|(first, extra)| Some(GenNat::Snat { first, last: first + extra })),
    ];
    let port_range = prop::option::weighted(0.33, (40000u16..40004).prop_map(|lo| (lo, lo + 3)));
    (
        latency(),
        latency(),
        prop::collection::vec(port_range, 1..=3),
        1usize..=2,
        nat,
        prop::option::weighted(0.25, 1u32..=4),
    )
        .prop_map(
            |(inside_latency, outside_latency, inside, servers, nat, conntrack_max)| {
                let network = |latency_us| GenNetwork {
                    latency_us,
                    faults: None,
                };
                let router = inside.len();
                let mut hosts: Vec<GenHost> = inside
                    .into_iter()
                    .map(|port_range| GenHost {
                        networks: vec![0],
                        port_range,
                        gateway: Some(router),
                    })
                    .collect();
                hosts.push(GenHost {
                    networks: vec![0, 1],
                    port_range: None,
                    gateway: None,
                });
                hosts.extend((0..servers).map(|_| GenHost {
                    networks: vec![1],
                    port_range: None,
                    gateway: Some(router),
                }));
                Topology {
                    networks: vec![network(inside_latency), network(outside_latency)],
                    hosts,
                    router: Some(GenRouter {
                        host: router,
                        nat,
                        conntrack_max,
                    }),
                }
            },
        )
}

/// One call (see [`Op`] for how operands are resolved).
pub fn op() -> impl Strategy<Value = Op> {
    let fd = prop_oneof![3 => Just(0usize), 1 => 1usize..4];
    let port = prop::sample::select(&PORTS[..]);
    prop_oneof![
        3 => any::<bool>().prop_map(|nonblocking| Op::Socket { nonblocking }),
        2 => (fd.clone(), prop::option::of(0usize..2), port.clone())
            .prop_map(|(fd, network, port)| Op::Bind { fd, network, port }),
        2 => (fd.clone(), 0u8..4).prop_map(|(fd, backlog)| Op::Listen { fd, backlog }),
        3 => (fd.clone(), prop::option::weighted(0.85, 0usize..3), 0usize..2, port.prop_filter("a port", |p| *p != 0))
            .prop_map(|(fd, host, addr, port)| Op::Connect { fd, host, addr, port }),
        2 => fd.clone().prop_map(|fd| Op::Accept { fd }),
        1 => (fd.clone(), 1u16..3000).prop_map(|(fd, len)| Op::Send { fd, len }),
        1 => (fd.clone(), 1u16..3000).prop_map(|(fd, len)| Op::Recv { fd, len }),
        1 => fd.prop_map(|fd| Op::Close { fd }),
        1 => (1u8..5).prop_map(|ms| Op::Sleep { ms }),
    ]
}

/// Port 80 mostly, sometimes 81: where servers listen and clients connect.
fn service_port() -> impl Strategy<Value = u16> {
    prop_oneof![3 => Just(80u16), 1 => Just(81u16)]
}

/// The calls of a typical server: a listener on port 80 or 81 that accepts, reads and closes.
fn server_ops() -> impl Strategy<Value = Vec<Op>> {
    (service_port(), 0u8..4, any::<bool>(), 1usize..3).prop_map(|(port, backlog, nonblocking, connections)| {
        let mut ops = vec![
            Op::Socket { nonblocking },
            Op::Bind {
                fd: 0,
                network: None,
                port,
            },
            Op::Listen { fd: 0, backlog },
        ];
        for accepted in 0..connections {
            // Counting back from the newest descriptor: the connections accepted so far, then
            // the listener.
            ops.extend([
                Op::Accept { fd: accepted },
                Op::Recv { fd: 0, len: 100 },
                Op::Close { fd: 0 },
            ]);
        }
        ops
    })
}

/// The calls of a typical client: connect to some host's port 80 or 81, send, close.
fn client_ops() -> impl Strategy<Value = Vec<Op>> {
    (0usize..3, 0usize..2, service_port(), 1u16..2000).prop_map(|(host, addr, port, len)| {
        vec![
            Op::Socket { nonblocking: false },
            Op::Connect {
                fd: 0,
                host: Some(host),
                addr,
                port,
            },
            Op::Send { fd: 0, len },
            Op::Close { fd: 0 },
        ]
    })
}

/// One to four processes on `topology`'s hosts: servers, clients and random call sequences,
/// each followed by up to four random calls. In a routed world ([`routed_topology`]), servers
/// run on the outside hosts, clients on the inside ones, and random sequences anywhere
/// (the router included); every `connect` aims at an outside host (or `127.0.0.1`).
pub fn processes(topology: &Topology) -> impl Strategy<Value = Vec<GenProcess>> + use<> {
    if topology.router.is_some() {
        return routed_processes(topology).boxed();
    }
    flat_processes(topology).boxed()
}

/// [`processes`] in a routed world.
fn routed_processes(topology: &Topology) -> impl Strategy<Value = Vec<GenProcess>> + use<> {
    let hosts = topology.hosts.len();
    let inside = prop::sample::select(topology.inside_hosts());
    let outside = prop::sample::select(topology.outside_hosts());
    let head = prop_oneof![
        2 => (outside, server_ops()).prop_map(|(host, ops)| (host, 0u8, ops)),
        2 => (inside, client_ops()).prop_map(|(host, ops)| (host, 1u8, ops)),
        1 => (0..hosts, prop::collection::vec(op(), 1..=6)).prop_map(|(host, ops)| (host, 0u8, ops)),
    ];
    let process =
        (head, 0u8..2, prop::collection::vec(op(), 0..=4)).prop_map(|((host, start_ms, mut ops), delay, tail)| {
            ops.extend(tail);
            GenProcess {
                host,
                start_ms: start_ms + delay,
                ops,
            }
        });
    prop::collection::vec(process, 1..=4)
}

/// [`processes`] in a flat world.
fn flat_processes(topology: &Topology) -> impl Strategy<Value = Vec<GenProcess>> + use<> {
    let hosts = topology.hosts.len();
    let head = prop_oneof![
        2 => server_ops().prop_map(|ops| (0u8, ops)),
        2 => client_ops().prop_map(|ops| (1u8, ops)),
        1 => prop::collection::vec(op(), 1..=6).prop_map(|ops| (0u8, ops)),
    ];
    let process = (0..hosts, head, 0u8..2, prop::collection::vec(op(), 0..=4)).prop_map(
        |(host, (start_ms, mut ops), delay, tail)| {
            ops.extend(tail);
            GenProcess {
                host,
                start_ms: start_ms + delay,
                ops,
            }
        },
    );
    prop::collection::vec(process, 1..=4)
}

/// A whole scenario: a [`topology`], [`processes`] on it, and a seed.
pub fn scenario() -> impl Strategy<Value = GenScenario> {
    scenario_on(topology())
}

/// A whole scenario in a routed world: a [`routed_topology`], [`processes`] on it, and a
/// seed.
pub fn routed_scenario() -> impl Strategy<Value = GenScenario> {
    scenario_on(routed_topology())
}

/// A scenario on the topologies `topologies` generates: [`processes`] on each, and a seed.
pub fn scenario_on(topologies: impl Strategy<Value = Topology>) -> impl Strategy<Value = GenScenario> {
    topologies.prop_flat_map(|topology| {
        let procs = processes(&topology);
        (Just(topology), procs, any::<u64>()).prop_map(|(topology, processes, seed)| GenScenario {
            topology,
            processes,
            seed,
        })
    })
}

/// Faults for one network: up to 30% loss, duplication and reordering, some jitter, and
/// sometimes a partition that heals.
pub fn faults() -> impl Strategy<Value = GenFaults> {
    (
        prop_oneof![Just(0u32), Just(500), Just(3000)],
        0u8..=30,
        0u8..=20,
        0u8..=20,
        prop::option::weighted(
            0.3,
            (0u16..2000, 1u16..3000).prop_map(|(start, len)| (start, start + len)),
        ),
    )
        .prop_map(
            |(jitter_us, loss_percent, duplicate_percent, reorder_percent, partition_ms)| GenFaults {
                jitter_us,
                loss_percent,
                duplicate_percent,
                reorder_percent,
                partition_ms,
            },
        )
}

/// Like [`scenario`], over networks that lose, duplicate, delay and reorder packets and are
/// sometimes partitioned for a while ([`faults`]); the scenarios run for `until 60s` so that
/// retransmissions have time to get through.
pub fn lossy_scenario() -> impl Strategy<Value = GenScenario> {
    scenario().prop_flat_map(|generated| {
        let n = generated.topology.networks.len();
        (Just(generated), prop::collection::vec(faults(), n)).prop_map(|(mut generated, faults)| {
            for (network, f) in generated.topology.networks.iter_mut().zip(faults) {
                network.faults = Some(f);
            }
            generated
        })
    })
}

impl GenScenario {
    /// The scenario as text, ready for `socksim run`.
    pub fn text(&self) -> String {
        self.to_string()
    }

    /// The text and its syntax tree.
    ///
    /// # Panics
    /// If the generated text does not load: a bug in this module, never in the input.
    pub fn load(&self) -> (String, Scenario) {
        let text = self.text();
        match crate::load(&text) {
            Ok(scenario) => (text, scenario),
            Err(d) => panic!("a generated scenario does not load: {d:?}\n{text}"),
        }
    }
}

impl fmt::Display for GenScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.topology;
        writeln!(f, "# generated by socksim::strategies")?;
        writeln!(f, "seed {}", self.seed)?;
        let lossy = t.networks.iter().any(|n| n.faults.is_some());
        writeln!(f, "until {}", if lossy { "60s" } else { "5s" })?;
        for (i, n) in t.networks.iter().enumerate() {
            write!(f, "network n{i} 10.0.{i}.0/24 latency={}us", n.latency_us)?;
            if let Some(x) = &n.faults {
                write!(
                    f,
                    " jitter={}us loss={}% duplicate={}% reorder={}%",
                    x.jitter_us, x.loss_percent, x.duplicate_percent, x.reorder_percent
                )?;
            }
            writeln!(f)?;
            if let Some((start, end)) = n.faults.as_ref().and_then(|x| x.partition_ms) {
                writeln!(f, "at {start}ms partition n{i}")?;
                writeln!(f, "at {end}ms heal n{i}")?;
            }
        }
        for (i, h) in t.hosts.iter().enumerate() {
            writeln!(f, "host h{i} {{")?;
            for &n in &h.networks {
                writeln!(f, "    addr {} on n{n}", Topology::addr(i, n))?;
            }
            if let Some(g) = h.gateway {
                writeln!(f, "    route default via {}", Topology::addr(g, h.networks[0]))?;
            }
            if let Some((lo, hi)) = h.port_range {
                writeln!(f, "    sysctl net.ipv4.ip_local_port_range = {lo} {hi}")?;
            }
            if let Some(r) = t.router.as_ref().filter(|r| r.host == i) {
                writeln!(f, "    forward")?;
                let outside = Topology::addr(i, 1);
                match r.nat {
                    None => {}
                    Some(GenNat::Masquerade { random_fully: false }) => writeln!(f, "    nat masquerade out n1")?,
                    Some(GenNat::Masquerade { random_fully: true }) => {
                        writeln!(f, "    nat masquerade out n1 random-fully")?
                    }
                    Some(GenNat::Snat { first, last }) => {
                        writeln!(f, "    nat snat out n1 to {outside}:{first}..{last}")?
                    }
                }
                if let Some(max) = r.conntrack_max {
                    writeln!(f, "    sysctl net.netfilter.nf_conntrack_max = {max}")?;
                }
            }
            writeln!(f, "}}")?;
        }
        for (i, p) in self.processes.iter().enumerate() {
            writeln!(f, "process h{}/p{i} at {}ms {{", p.host, p.start_ms)?;
            f.write_str(&body(t, p))?;
            writeln!(f, "}}")?;
        }
        Ok(())
    }
}

/// A process's statements, with descriptor operands resolved to names.
fn body(t: &Topology, p: &GenProcess) -> String {
    let mut out = String::new();
    let mut fds: Vec<String> = Vec::new();
    let host = &t.hosts[p.host];
    for op in &p.ops {
        let fd = |i: &usize| fds.iter().rev().nth(i % fds.len().max(1)).cloned();
        let line = match op {
            Op::Sleep { ms } => format!("sleep {ms}ms"),
            Op::Socket { .. } => String::new(),
            _ if fds.is_empty() => String::new(),
            Op::Bind { fd: i, network, port } => {
                let addr = match network {
                    None => "0.0.0.0".to_string(),
                    Some(n) => Topology::addr(p.host, host.networks[n % host.networks.len()]).to_string(),
                };
                format!("bind({}, {addr}:{port})", fd(i).unwrap_or_default())
            }
            Op::Listen { fd: i, backlog } => format!("listen({}, {backlog})", fd(i).unwrap_or_default()),
            Op::Connect {
                fd: i,
                host: target,
                addr,
                port,
            } => {
                let ip = match target {
                    None => "127.0.0.1".to_string(),
                    Some(h) => {
                        let targets = t.outside_hosts();
                        let h = targets[h % targets.len()];
                        let nets = &t.hosts[h].networks;
                        Topology::addr(h, nets[addr % nets.len()]).to_string()
                    }
                };
                format!("connect({}, {ip}:{port})", fd(i).unwrap_or_default())
            }
            Op::Accept { fd: i } => {
                let listener = fd(i).unwrap_or_default();
                let name = format!("c{}", fds.len());
                fds.push(name.clone());
                format!("{name} = accept({listener})")
            }
            Op::Send { fd: i, len } => format!("send({}, {len})", fd(i).unwrap_or_default()),
            Op::Recv { fd: i, len } => format!("recv({}, {len})", fd(i).unwrap_or_default()),
            Op::Close { fd: i } => format!("close({})", fd(i).unwrap_or_default()),
        };
        let line = if line.is_empty() {
            let nonblocking = matches!(op, Op::Socket { nonblocking: true });
            let name = format!("s{}", fds.len());
            fds.push(name.clone());
            let ty = if nonblocking {
                "SOCK_STREAM | SOCK_NONBLOCK"
            } else {
                "SOCK_STREAM"
            };
            format!("{name} = socket(AF_INET, {ty})")
        } else {
            line
        };
        let _ = writeln!(out, "    {line}");
    }
    out
}

/// Calls a user invariant before every step and at the end; remembers the first violation.
struct Invariant<F> {
    check: F,
    steps: u64,
    broken: Option<String>,
}

impl<F: FnMut(&World) -> Result<(), String>> StepObserver for Invariant<F> {
    fn before_step(&mut self, world: &World, pid: u32, _: Option<usize>) -> bool {
        if let Err(e) = (self.check)(world) {
            self.broken = Some(format!(
                "invariant broken before step {} (pid {pid} about to run) at {}: {e}",
                self.steps,
                world.now()
            ));
            return false;
        }
        self.steps += 1;
        true
    }

    fn after_step(&mut self, _: &World, _: &StepDone<'_>) {}

    fn at_end(&mut self, world: &World) {
        if let Err(e) = (self.check)(world) {
            self.broken = Some(format!(
                "invariant broken at the end of the run ({} steps, at {}): {e}",
                self.steps,
                world.now()
            ));
        }
    }
}

/// Runs `generated` with the kernel's invariants checked after every step
/// ([`RunOptions::check_invariants`]) and `invariant` called on the world before every step
/// and once at the end. Returns the run's report (with per-process results), or the first
/// violation, named by its step.
pub fn check_run(
    generated: &GenScenario,
    invariant: impl FnMut(&World) -> Result<(), String>,
) -> Result<RunReport, String> {
    let (text, scenario) = generated.load();
    run_with_invariant(&scenario, &text, invariant)
}

/// [`check_run`] for any scenario (for example a bundled one): `source` is its text.
pub fn run_with_invariant(
    scenario: &ast::Scenario,
    source: &str,
    invariant: impl FnMut(&World) -> Result<(), String>,
) -> Result<RunReport, String> {
    let options = RunOptions {
        check_invariants: true,
        results: true,
        ..Default::default()
    };
    let mut observer = Invariant {
        check: invariant,
        steps: 0,
        broken: None,
    };
    let run = crate::run::run_observed(scenario, source, &options, &mut observer);
    if let Some(broken) = observer.broken {
        return Err(broken);
    }
    match run {
        Ok(Some(report)) => Ok(report),
        Ok(None) => Err("the run was stopped".into()),
        Err(d) => Err(d.message),
    }
}
