//! `socksim bench`: how fast and how small connections are.
//!
//! One client host opens `n` TCP connections to a server host that accepts them and holds them
//! open: every connection is a full handshake through the packet path (SYN, SYN-ACK, ACK over a
//! network with latency), a `socket()`, `connect()` and `accept()`. Tracing is off, as in a
//! seed sweep. The server listens on as many ports as it takes to keep each destination within
//! the preferred (even) half of the client's default ephemeral range: 14,116 connections per
//! destination port. Past that half, Linux's `__inet_hash_connect` scans every taken even port
//! before trying an odd one on *each* connect — the real kernel's cost, which socksim
//! reproduces, but not what this benchmark measures.
//!
//! Wall-clock time and memory are measured here, outside the simulation: they describe the
//! simulator, never what it simulates.

use sim_kernel::syscall::{SysReturn, Syscall};
use sim_kernel::syscalls::{AF_INET, SOCK_STREAM};
use sim_kernel::{Next, Outcome, Pid, World};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Even ports in Linux's default range 32768–60999: the connections per destination port
/// that connect() serves without scanning past a taken parity half.
pub const PORTS_PER_DESTINATION: usize = 14_116;

/// What one benchmark run measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchResult {
    /// Connections established and held.
    pub connections: usize,
    /// Server ports used.
    pub server_ports: usize,
    /// Wall-clock seconds for the whole run.
    pub seconds: f64,
    /// Connections per wall-clock second.
    pub connections_per_second: f64,
    /// Peak resident memory growth during the run divided by the connections, in bytes (from
    /// `/proc/self/status` `VmHWM` and `VmRSS`; `None` where that file does not exist).
    pub bytes_per_connection: Option<f64>,
    /// Virtual time the run took.
    pub virtual_time: String,
}

/// A process's progress through its straight-line program.
enum Role {
    Server {
        listeners: Vec<i32>,
        phase: usize,
        accepted: usize,
        pending: Option<Syscall>,
    },
    Client {
        made: usize,
        fd: Option<i32>,
        pending: Option<Syscall>,
    },
}

fn kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the benchmark with `n` connections.
#[allow(clippy::disallowed_methods)] // wall-clock timing of the simulator itself
pub fn connections(n: usize) -> BenchResult {
    let server_ports = n.div_ceil(PORTS_PER_DESTINATION).max(1);
    let rss_before = kib("VmRSS:");
    let start = std::time::Instant::now();

    let mut world = World::new(1);
    let lan = world
        .add_network(
            "lan",
            Ipv4Addr::new(10, 0, 0, 0).into(),
            24,
            sim_core::Duration::from_micros(50),
        )
        .expect("fresh world");
    let server = world.add_host("server").expect("fresh world");
    let client = world.add_host("client").expect("fresh world");
    world
        .add_addr(server, Ipv4Addr::new(10, 0, 0, 1).into(), lan)
        .expect("fresh world");
    world
        .add_addr(client, Ipv4Addr::new(10, 0, 0, 2).into(), lan)
        .expect("fresh world");
    let server_pid = world.spawn(server, "server", sim_core::Instant::ZERO);
    let client_pid = world.spawn(client, "client", sim_core::Instant(1_000_000));
    // Both sides hold n descriptors: raise RLIMIT_NOFILE, as a real server's unit file must.
    let limit = sim_kernel::process::Rlimit {
        soft: n as u64 + 64,
        hard: n as u64 + 64,
    };
    world.set_nofile_limit(server_pid, limit);
    world.set_nofile_limit(client_pid, limit);
    let mut server_role = Role::Server {
        listeners: Vec::new(),
        phase: 0,
        accepted: 0,
        pending: None,
    };
    let mut client_role = Role::Client {
        made: 0,
        fd: None,
        pending: None,
    };

    while let Next::Run(pid) = world.next(None) {
        let role = if pid == server_pid {
            &mut server_role
        } else {
            &mut client_role
        };
        step(&mut world, pid, role, n, server_ports);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let accepted = match server_role {
        Role::Server { accepted, .. } => accepted,
        Role::Client { .. } => 0,
    };
    assert_eq!(accepted, n, "every connection was accepted");
    assert_eq!(
        world.process(client_pid).fds.len(),
        n + 3,
        "the client holds every connection"
    );
    let peak = kib("VmHWM:");
    let bytes_per_connection = match (rss_before, peak) {
        (Some(before), Some(peak)) => Some((peak.saturating_sub(before) * 1024) as f64 / n as f64),
        _ => None,
    };
    BenchResult {
        connections: n,
        server_ports,
        seconds: elapsed,
        connections_per_second: n as f64 / elapsed,
        bytes_per_connection,
        virtual_time: world.now().to_string(),
    }
}

/// One scheduling step of either role: make the next call (or retry a blocked one).
fn step(world: &mut World, pid: Pid, role: &mut Role, n: usize, server_ports: usize) {
    let socket = Syscall::Socket {
        domain: AF_INET,
        ty: SOCK_STREAM,
        protocol: 0,
    };
    match role {
        Role::Server {
            listeners,
            phase,
            accepted,
            pending,
        } => {
            let (call, resumed) = match pending.take() {
                Some(call) => (call, true),
                None => {
                    let call = if listeners.len() < server_ports {
                        match *phase {
                            0 => socket,
                            1 => Syscall::Bind {
                                fd: listeners_next_fd(listeners),
                                addr: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80 + listeners.len() as u16).into(),
                            },
                            _ => Syscall::Listen {
                                fd: listeners_next_fd(listeners),
                                backlog: 4096,
                            },
                        }
                    } else if *accepted < n {
                        Syscall::Accept {
                            fd: listeners[*accepted % listeners.len()],
                        }
                    } else {
                        return;
                    };
                    (call, false)
                }
            };
            match world.syscall(pid, &call, resumed) {
                Outcome::Blocked => *pending = Some(call),
                Outcome::Done(ret) => match call {
                    Syscall::Socket { .. } | Syscall::Bind { .. } => *phase += 1,
                    Syscall::Listen { fd, .. } => {
                        listeners.push(fd);
                        *phase = 0;
                    }
                    _ => {
                        assert!(matches!(ret, SysReturn::Accepted { .. }), "accept works: {ret:?}");
                        *accepted += 1;
                    }
                },
            }
        }
        Role::Client { made, fd, pending } => {
            if *made == n && pending.is_none() {
                return;
            }
            let (call, resumed) = match (pending.take(), *fd) {
                (Some(call), _) => (call, true),
                (None, None) => (socket, false),
                (None, Some(fd)) => {
                    let port = 80 + (*made % server_ports) as u16;
                    (
                        Syscall::Connect {
                            fd,
                            addr: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), port).into(),
                        },
                        false,
                    )
                }
            };
            match world.syscall(pid, &call, resumed) {
                Outcome::Blocked => *pending = Some(call),
                Outcome::Done(ret) => match call {
                    Syscall::Socket { .. } => *fd = Some(ret.value() as i32),
                    _ => {
                        assert_eq!(ret, SysReturn::Value { value: 0 }, "connect works");
                        *fd = None;
                        *made += 1;
                    }
                },
            }
        }
    }
}

/// The listener being set up is always the newest descriptor: 3, 4, 5, ...
fn listeners_next_fd(listeners: &[i32]) -> i32 {
    3 + listeners.len() as i32
}
