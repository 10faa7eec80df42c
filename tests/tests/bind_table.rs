//! Property tests of the bind table against an independent model of Linux's rules
//! (linux-facts.md §1.3, §2.1, §2.4):
//!
//! * a bind or listen succeeds exactly when Linux's rules allow it against every socket that
//!   already holds the port, so no two sockets Linux would refuse ever hold it together;
//! * `bind(port 0)` (TCP and UDP) fails only when no port of the range is usable, and never
//!   returns a reserved port or one held in a conflicting way.

// The kernel's own test driver (one call at a time per process).
#[path = "../../sim-kernel/tests/support/mod.rs"]
mod support;

use proptest::prelude::*;
use sim_kernel::syscall::{SockAddr, SysReturn, Syscall};
use sim_kernel::syscalls::{AF_INET, SO_REUSEADDR, SO_REUSEPORT, SOCK_DGRAM, SOCK_STREAM, SOL_SOCKET};
use sim_kernel::{Errno, Pid, World};
use std::net::{Ipv4Addr, SocketAddr};
use support::Sim;

const LOW: u16 = 40000;
const HIGH: u16 = 40007;

/// One bound socket as the model sees it.
#[derive(Clone, Debug)]
struct Bound {
    fd: i32,
    udp: bool,
    addr: Ipv4Addr,
    port: u16,
    reuseaddr: bool,
    reuseport: bool,
    listening: bool,
}

#[derive(Clone, Debug)]
enum Op {
    /// Bind a new socket: protocol, address index, port (0 = any), options.
    Bind {
        udp: bool,
        addr: usize,
        port: Option<u16>,
        reuseaddr: bool,
        reuseport: bool,
    },
    /// listen() on the i-th bound TCP socket.
    Listen(usize),
    /// close() the i-th bound socket.
    Close(usize),
}

const ADDRS: [Ipv4Addr; 3] = [
    Ipv4Addr::UNSPECIFIED,
    Ipv4Addr::new(10, 0, 0, 1),
    Ipv4Addr::new(10, 0, 0, 2),
];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), 0..3usize, prop::option::of(LOW..=HIGH + 1), any::<bool>(), any::<bool>())
            .prop_map(|(udp, addr, port, reuseaddr, reuseport)| Op::Bind { udp, addr, port, reuseaddr, reuseport }),
        1 => (0..16usize).prop_map(Op::Listen),
        1 => (0..16usize).prop_map(Op::Close),
    ]
}

/// Linux's rule for a socket `new` joining (by bind or listen) a port `existing` holds,
/// written from the fact sheet (§2.1, §2.4) rather than from the simulator's code:
/// overlapping addresses conflict unless both set SO_REUSEADDR and, for TCP, the existing
/// socket is not listening — or both set SO_REUSEPORT (same owner: always, here).
fn may_join(existing: &Bound, new: &Bound) -> bool {
    let overlap = existing.addr.is_unspecified() || new.addr.is_unspecified() || existing.addr == new.addr;
    if existing.udp != new.udp || existing.port != new.port || !overlap {
        return true;
    }
    let reuseaddr = existing.reuseaddr && new.reuseaddr && (new.udp || !existing.listening);
    reuseaddr || (existing.reuseport && new.reuseport)
}

/// Whether a new autobound socket could take `port` (autobind never shares over TCP; over UDP
/// both SO_REUSEADDR or both SO_REUSEPORT still share, `udp_lib_lport_inuse`).
fn autobind_free(bound: &[Bound], new: &Bound, port: u16) -> bool {
    bound.iter().all(|b| {
        let overlap = b.addr.is_unspecified() || new.addr.is_unspecified() || b.addr == new.addr;
        b.udp != new.udp
            || b.port != port
            || !overlap
            || (new.udp && ((b.reuseaddr && new.reuseaddr) || (b.reuseport && new.reuseport)))
    })
}

/// One process on a host with two addresses, the port range `LOW..=HIGH` and two of its
/// ports reserved.
fn host() -> (Sim, Pid) {
    let mut world = World::new(3);
    let lan = world
        .add_network("lan", Ipv4Addr::new(10, 0, 0, 0).into(), 24, sim_core::Duration::ZERO)
        .unwrap();
    let h = world.add_host("h").unwrap();
    world.add_addr(h, ADDRS[1].into(), lan).unwrap();
    world.add_addr(h, ADDRS[2].into(), lan).unwrap();
    world
        .set_sysctl(h, "net.ipv4.ip_local_port_range", &[i64::from(LOW), i64::from(HIGH)])
        .unwrap();
    world
        .set_sysctl(h, "net.ipv4.ip_local_reserved_ports", &[40002, 40003])
        .unwrap();
    let mut sim = Sim::new(world, sim_core::Duration::ZERO);
    let pid = sim.spawn(h, "p");
    (sim, pid)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_bind_table_holds_only_what_linux_allows(ops in prop::collection::vec(op(), 1..40)) {
        let (mut sim, pid) = host();
        let mut bound: Vec<Bound> = Vec::new();
        for op in ops {
            match op {
                Op::Bind { udp, addr, port, reuseaddr, reuseport } => {
                    let ty = if udp { SOCK_DGRAM } else { SOCK_STREAM };
                    let fd = sim.call_now(pid, Syscall::Socket { domain: AF_INET, ty, protocol: 0 }).value() as i32;
                    for (opt, on) in [(SO_REUSEADDR, reuseaddr), (SO_REUSEPORT, reuseport)] {
                        if on {
                            sim.call_now(pid, Syscall::SetSockOpt { fd, level: SOL_SOCKET, name: opt, value: 1 });
                        }
                    }
                    let mut new = Bound { fd, udp, addr: ADDRS[addr], port: port.unwrap_or(0), reuseaddr, reuseport, listening: false };
                    let sa = SockAddr::Inet(SocketAddr::new(ADDRS[addr].into(), port.unwrap_or(0)));
                    let ret = sim.call_now(pid, Syscall::Bind { fd, addr: sa });
                    match (port, ret.errno()) {
                        (Some(p), None) => {
                            new.port = p;
                            prop_assert!(bound.iter().all(|b| may_join(b, &new)), "bind({p}) accepted a conflict: {new:?} vs {bound:?}");
                            bound.push(new);
                        }
                        (Some(p), Some(e)) => {
                            prop_assert_eq!(e, Errno::EADDRINUSE);
                            new.port = p;
                            prop_assert!(bound.iter().any(|b| !may_join(b, &new)), "bind({p}) refused without a conflict");
                            sim.call_now(pid, Syscall::Close { fd });
                        }
                        (None, None) => {
                            let got = sim.call_now(pid, Syscall::GetSockName { fd });
                            let SysReturn::Addr { addr: SockAddr::Inet(a) } = got else { panic!("{got:?}") };
                            let p = a.port();
                            prop_assert!((LOW..=HIGH).contains(&p), "bind(0) stays in the range: {p}");
                            prop_assert!(!(40002..=40003).contains(&p), "bind(0) never takes a reserved port: {p}");
                            prop_assert!(autobind_free(&bound, &new, p), "bind(0) took a port in use: {p}");
                            new.port = p;
                            bound.push(new);
                        }
                        (None, Some(e)) => {
                            prop_assert_eq!(e, Errno::EADDRINUSE);
                            let usable = (LOW..=HIGH).filter(|p| !(40002..=40003).contains(p)).any(|p| autobind_free(&bound, &new, p));
                            prop_assert!(!usable, "bind(0) gave up while a port was usable: {bound:?}");
                            sim.call_now(pid, Syscall::Close { fd });
                        }
                    }
                }
                Op::Listen(i) => {
                    let Some(i) = (!bound.is_empty()).then(|| i % bound.len()) else { continue };
                    if bound[i].udp || bound[i].listening {
                        continue;
                    }
                    let ret = sim.call_now(pid, Syscall::Listen { fd: bound[i].fd, backlog: 8 });
                    let mut as_listener = bound[i].clone();
                    as_listener.listening = true;
                    let others: Vec<&Bound> = bound.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, b)| b).collect();
                    let allowed = others.iter().all(|b| may_join(b, &as_listener));
                    prop_assert_eq!(ret.errno().is_none(), allowed, "listen on {:?} among {:?}: {:?}", as_listener, others, ret);
                    if allowed {
                        bound[i].listening = true;
                    }
                }
                Op::Close(i) => {
                    if bound.is_empty() {
                        continue;
                    }
                    let b = bound.remove(i % bound.len());
                    sim.call_now(pid, Syscall::Close { fd: b.fd });
                }
            }
            sim.w.check_invariants().map_err(|v| TestCaseError::fail(v.to_string()))?;
        }
    }
}
