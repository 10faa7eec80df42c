//! The kernel driven directly: straight-line programs of system calls per process.

mod support;

use sim_kernel::syscall::{Payload, SysReturn, Syscall};
use sim_kernel::syscalls::{AF_INET, SOCK_STREAM};
use sim_kernel::{Errno, Next, Outcome, Pid, World};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Runs each process's calls in order; returns every result per process.
fn run_until(
    world: &mut World,
    programs: Vec<(Pid, Vec<Syscall>)>,
    until: Option<sim_core::Instant>,
) -> BTreeMap<u32, Vec<SysReturn>> {
    let mut progs: BTreeMap<u32, (Vec<Syscall>, usize, bool)> = programs
        .into_iter()
        .map(|(p, calls)| (p.0, (calls, 0, false)))
        .collect();
    let mut results: BTreeMap<u32, Vec<SysReturn>> = BTreeMap::new();
    while let Next::Run(pid) = world.next(until) {
        let Some((calls, pc, resumed)) = progs.get_mut(&pid.0) else {
            world.exit(pid);
            continue;
        };
        if *pc >= calls.len() {
            world.exit(pid);
            continue;
        }
        let outcome = world.syscall(pid, &calls[*pc], *resumed);
        world
            .check_invariants()
            .unwrap_or_else(|v| panic!("after {:?}: {v}", calls[*pc]));
        match outcome {
            Outcome::Done(r) => {
                results.entry(pid.0).or_default().push(r);
                *pc += 1;
                *resumed = false;
            }
            Outcome::Blocked => *resumed = true,
        }
    }
    results
}

fn run(world: &mut World, programs: Vec<(Pid, Vec<Syscall>)>) -> BTreeMap<u32, Vec<SysReturn>> {
    run_until(world, programs, None)
}

/// The server and client of [`support::server_and_client`], each with a process (the
/// client's starts 1 ms later).
fn two_hosts(seed: u64) -> (World, Pid, Pid) {
    let (mut w, server, client) = support::server_and_client(seed, false);
    let s = w.spawn(server, "srv", sim_core::Instant::ZERO);
    let c = w.spawn(client, "cli", sim_core::Instant(1_000_000));
    (w, s, c)
}

#[test]
fn handshake_data_and_close() {
    let (mut w, s, c) = two_hosts(1);
    let socket = Syscall::Socket {
        domain: AF_INET,
        ty: SOCK_STREAM,
        protocol: 0,
    };
    let results = run_until(
        &mut w,
        vec![
            (
                s,
                vec![
                    socket.clone(),
                    Syscall::Bind {
                        fd: 3,
                        addr: support::sa("0.0.0.0:80").into(),
                    },
                    Syscall::Listen { fd: 3, backlog: 128 },
                    Syscall::Accept { fd: 3 },
                    Syscall::Recv {
                        fd: 4,
                        len: 100,
                        flags: 0,
                    },
                    Syscall::Recv {
                        fd: 4,
                        len: 100,
                        flags: 0,
                    },
                    Syscall::Close { fd: 4 },
                ],
            ),
            (
                c,
                vec![
                    socket,
                    Syscall::Connect {
                        fd: 3,
                        addr: support::sa("10.0.0.1:80").into(),
                    },
                    Syscall::Send {
                        fd: 3,
                        data: Payload::Bytes(b"hello"[..].into()),
                    },
                    Syscall::Close { fd: 3 },
                ],
            ),
        ],
        Some(sim_core::Instant(30_000_000_000)),
    );
    let srv = &results[&s.0];
    assert!(
        matches!(srv[3], SysReturn::Accepted { fd: 4, ref peer } if peer.inet().unwrap().ip() == Ipv4Addr::new(10, 0, 0, 2))
    );
    assert_eq!(
        srv[4],
        SysReturn::Data {
            data: b"hello".to_vec()
        }
    );
    assert_eq!(srv[5], SysReturn::Data { data: vec![] }, "EOF after the client's FIN");
    assert_eq!(results[&c.0][1], SysReturn::Value { value: 0 });
    // The client closed first: its socket waits in TIME_WAIT, the server's is gone.
    let client = w.host_id("client").unwrap();
    let rows = w.ss(client);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, "TIME-WAIT");
    assert_eq!(
        w.socket_count(),
        1,
        "only the client's TIME_WAIT remains (the server exited)"
    );
    // 60 s after the close, TIME_WAIT ends.
    assert_eq!(w.next(None), Next::Idle);
    assert!(w.ss(client).is_empty());
    assert!(
        w.now() >= sim_core::Instant(60_000_000_000),
        "TIME_WAIT lasted 60 s: {}",
        w.now()
    );
}

#[test]
fn nothing_listening_is_refused() {
    let (mut w, _s, c) = two_hosts(1);
    let results = run(
        &mut w,
        vec![(
            c,
            vec![
                Syscall::Socket {
                    domain: AF_INET,
                    ty: SOCK_STREAM,
                    protocol: 0,
                },
                Syscall::Connect {
                    fd: 3,
                    addr: support::sa("10.0.0.1:81").into(),
                },
                Syscall::Connect {
                    fd: 3,
                    addr: support::sa("127.0.0.1:81").into(),
                },
            ],
        )],
    );
    assert_eq!(
        results[&c.0][1],
        SysReturn::Error {
            errno: Errno::ECONNREFUSED
        }
    );
    assert_eq!(
        results[&c.0][2],
        SysReturn::Error {
            errno: Errno::ECONNREFUSED
        }
    );
}

/// `recv(MSG_DONTWAIT)` on a blocking TCP socket with nothing queued is EAGAIN and leaves the
/// socket blocking: a plain `recv()` afterwards waits for the data.
#[test]
fn recv_dontwait_leaves_a_blocking_socket_blocking() {
    let (w, server, client) = support::server_and_client(1, false);
    let mut sim = support::Sim::new(w, sim_core::Duration::from_millis(1));
    let s = sim.spawn(server, "srv");
    let c = sim.spawn(client, "cli");
    let l = sim.listener(s, "10.0.0.1:80", false);
    let fd = sim.socket(c);
    assert_eq!(sim.connect(c, fd, "10.0.0.1:80"), support::OK);
    let (a, _) = sim.accept(s, l);
    let dontwait = Syscall::Recv {
        fd,
        len: 10,
        flags: sim_kernel::syscall::MSG_DONTWAIT,
    };
    assert_eq!(sim.call_now(c, dontwait), support::err(Errno::EAGAIN));
    let plain = Syscall::Recv { fd, len: 10, flags: 0 };
    assert_eq!(sim.start(c, plain), None, "the socket is still blocking");
    assert!(matches!(sim.send(s, a, b"hi"), SysReturn::Value { value: 2 }));
    let (r, _) = sim.wait(c, sim_core::Duration::from_secs(1));
    assert!(matches!(r, SysReturn::Data { .. }), "{r:?}");
}
