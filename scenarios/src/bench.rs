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

/// The benchmarks' world: a server (10.0.0.1) and a client (10.0.0.2) on a LAN with 50 µs of
/// latency, each with one process; the client starts 1 ms after the server.
fn server_and_client() -> (World, Pid, Pid) {
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
    (world, server_pid, client_pid)
}

/// Runs the benchmark with `n` connections.
#[allow(clippy::disallowed_methods)] // wall-clock timing of the simulator itself
pub fn connections(n: usize) -> BenchResult {
    let server_ports = n.div_ceil(PORTS_PER_DESTINATION).max(1);
    let rss_before = kib("VmRSS:");
    let start = std::time::Instant::now();

    let (mut world, server_pid, client_pid) = server_and_client();
    // Both sides hold n descriptors: raise RLIMIT_NOFILE, as a real server's unit file must.
    let fds = (n + server_ports) as u64 + 64;
    let limit = sim_kernel::process::Rlimit { soft: fds, hard: fds };
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

/// What the churn benchmark measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ChurnResult {
    /// Connect/close cycles completed.
    pub cycles: usize,
    /// Server ports the client cycled over.
    pub server_ports: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Cycles per wall-clock second.
    pub cycles_per_second: f64,
    /// The most sockets alive at once (mostly the client's TIME_WAIT remnants).
    pub peak_sockets: usize,
    /// Peak resident memory growth, in bytes per socket at the peak.
    pub bytes_per_peak_socket: Option<f64>,
    /// Virtual time the run took.
    pub virtual_time: String,
}

/// Connect/close churn through TIME_WAIT: the client connects, closes first (so it keeps a
/// TIME_WAIT remnant for 60 s) and connects again, `n` times, round-robin over enough server
/// ports that TIME_WAIT never exhausts a destination; the server accepts, reads the EOF and
/// closes. With a million cycles, hundreds of thousands of TIME_WAIT sockets share one host's
/// tables while the port allocator keeps finding free 4-tuples.
#[allow(clippy::disallowed_methods)] // wall-clock timing of the simulator itself
pub fn churn(n: usize) -> ChurnResult {
    // One cycle takes two round trips of 100 µs (handshake, then FIN exchange), so about 300k
    // cycles fit in TIME_WAIT's 60 s; 14,116 even ports per destination port hold them.
    let server_ports = 64usize;
    let rss_before = kib("VmRSS:");
    let start = std::time::Instant::now();
    let (mut world, server_pid, _client_pid) = server_and_client();
    let socket = Syscall::Socket {
        domain: AF_INET,
        ty: SOCK_STREAM,
        protocol: 0,
    };

    // Each side runs a fixed cycle of calls; `pending` is a call to retry after a wake-up.
    let mut server_step = 0usize;
    let mut server_fd = 0i32;
    let mut server_pending: Option<Syscall> = None;
    let mut client_done = 0usize;
    let mut client_fd = 0i32;
    let mut client_phase = 0u8;
    let mut client_pending: Option<Syscall> = None;
    let mut peak_sockets = 0usize;
    let setup = 3 * server_ports;

    while let Next::Run(pid) = world.next(None) {
        if pid == server_pid {
            let (call, resumed) = match server_pending.take() {
                Some(c) => (c, true),
                None if server_step < setup => {
                    let listener = (server_step / 3) as i32 + 3;
                    let port = 80 + (server_step / 3) as u16;
                    let call = match server_step % 3 {
                        0 => socket.clone(),
                        1 => Syscall::Bind {
                            fd: listener,
                            addr: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into(),
                        },
                        _ => Syscall::Listen {
                            fd: listener,
                            backlog: 4096,
                        },
                    };
                    (call, false)
                }
                None => {
                    let cycle = (server_step - setup) / 3;
                    if cycle >= n {
                        continue;
                    }
                    let call = match (server_step - setup) % 3 {
                        0 => Syscall::Accept {
                            fd: (cycle % server_ports) as i32 + 3,
                        },
                        1 => Syscall::Recv {
                            fd: server_fd,
                            len: 1,
                            flags: 0,
                        },
                        _ => Syscall::Close { fd: server_fd },
                    };
                    (call, false)
                }
            };
            match world.syscall(pid, &call, resumed) {
                Outcome::Blocked => server_pending = Some(call),
                Outcome::Done(ret) => {
                    if let SysReturn::Accepted { fd, .. } = ret {
                        server_fd = fd;
                    }
                    server_step += 1;
                }
            }
        } else {
            if client_done == n && client_pending.is_none() {
                continue;
            }
            let (call, resumed) = match client_pending.take() {
                Some(c) => (c, true),
                None => {
                    let call = match client_phase {
                        0 => socket.clone(),
                        1 => {
                            let port = 80 + (client_done % server_ports) as u16;
                            Syscall::Connect {
                                fd: client_fd,
                                addr: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), port).into(),
                            }
                        }
                        _ => Syscall::Close { fd: client_fd },
                    };
                    (call, false)
                }
            };
            match world.syscall(pid, &call, resumed) {
                Outcome::Blocked => client_pending = Some(call),
                Outcome::Done(ret) => {
                    match client_phase {
                        0 => client_fd = ret.value() as i32,
                        1 => assert_eq!(
                            ret,
                            SysReturn::Value { value: 0 },
                            "connect works (cycle {client_done})"
                        ),
                        _ => {
                            client_done += 1;
                            if client_done % 4096 == 0 {
                                peak_sockets = peak_sockets.max(world.socket_count());
                            }
                        }
                    }
                    client_phase = (client_phase + 1) % 3;
                }
            }
        }
    }
    assert_eq!(client_done, n, "every cycle completed");
    let elapsed = start.elapsed().as_secs_f64();
    let bytes_per_peak_socket = match (rss_before, kib("VmHWM:")) {
        (Some(before), Some(peak)) if peak_sockets > 0 => {
            Some((peak.saturating_sub(before) * 1024) as f64 / peak_sockets as f64)
        }
        _ => None,
    };
    ChurnResult {
        cycles: n,
        server_ports,
        seconds: elapsed,
        cycles_per_second: n as f64 / elapsed,
        peak_sockets,
        bytes_per_peak_socket,
        virtual_time: world.now().to_string(),
    }
}
