//! Demultiplexing and the listen queue, driven through the public `World` API.
//!
//! Which socket an arriving segment reaches (`tcp_v4_rcv()`: the exact 4-tuple, then a
//! listener on the exact address, then a wildcard listener, else a reset), what `connect()`
//! reports when nobody listens, the order `accept()` returns connections in, the backlog, and
//! what closing a listener does to the connections still queued. Every test names the section
//! of `/work/shared/design/linux-facts.md` it checks.

use sim_core::{Duration, Instant, Record, TraceSink};
use sim_kernel::packet::{Flags, PacketSummary};
use sim_kernel::syscall::{SysReturn, Syscall};
use sim_kernel::syscalls::{SO_REUSEPORT, SOL_SOCKET};
use sim_kernel::trace::Event;
use sim_kernel::{Errno, HostId, Pid};
use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;

// ---------------------------------------------------------------------------------------------
// A small synchronous driver: one call at a time per process, blocked calls resumed in the
// background while the world runs.
// ---------------------------------------------------------------------------------------------

mod support;
use support::*;
/// Collects trace events into a shared vector the test can read while the world runs.
struct SharedSink(Rc<RefCell<Vec<Record<Event>>>>);

impl TraceSink<Event> for SharedSink {
    fn record(&mut self, at: Instant, event: Event) {
        self.0.borrow_mut().push(Record { at, event });
    }
}

struct Lan {
    sim: Sim,
    server: HostId,
    client: HostId,
    /// A process on the server.
    srv: Pid,
    /// A process on the client.
    cli: Pid,
}

/// A server with two addresses (10.0.0.1 and 10.0.0.5) and a client (10.0.0.2) on one LAN
/// with 100 µs of latency.
fn lan(seed: u64) -> Lan {
    let (w, server, client) = support::server_and_client(seed, true);
    let mut sim = Sim::new(w, Duration::from_millis(5));
    let srv = sim.spawn(server, "srv");
    let cli = sim.spawn(client, "cli");
    Lan {
        sim,
        server,
        client,
        srv,
        cli,
    }
}

fn data(bytes: &[u8]) -> SysReturn {
    SysReturn::Data { data: bytes.to_vec() }
}

/// The accept-queue length (`ss` Recv-Q) of `host`'s listener on `local`.
#[track_caller]
fn queued(sim: &Sim, host: HostId, local: &str) -> u64 {
    let rows = sim.w.ss(host);
    rows.iter()
        .find(|r| r.state == "LISTEN" && r.local == local)
        .unwrap_or_else(|| panic!("no listener on {local}: {rows:?}"))
        .recv_q
}

// ---------------------------------------------------------------------------------------------
// §3.5 listener demux, established beats listening
// ---------------------------------------------------------------------------------------------

/// linux-facts.md §3.5 ("An established socket (ehash 4-tuple) always beats listeners"): the
/// server has a wildcard listener on port 7000 *and* a connection from 10.0.0.1:7000 (a second
/// SO_REUSEADDR socket bound before the listener, §2.1 (a), which then connected out).
/// Segments of that connection reach the connected socket, not the listener, while a new
/// connection to port 7000 reaches the listener.
#[test]
fn exact_four_tuple_beats_the_listener() {
    let Lan {
        mut sim,
        server,
        srv,
        cli,
        ..
    } = lan(1);
    let peer_listener = sim.listener(cli, "0.0.0.0:9000", false);

    let a = sim.socket(srv);
    sim.reuseaddr(srv, a);
    assert_eq!(sim.bind(srv, a, "10.0.0.1:7000"), OK);
    let l = sim.listener(srv, "0.0.0.0:7000", true);
    assert_eq!(
        sim.connect(srv, a, "10.0.0.2:9000"),
        OK,
        "the bound socket connects out"
    );
    let (b, peer) = sim.accept(cli, peer_listener);
    assert_eq!(peer, sa("10.0.0.1:7000"));

    // The client sends on that connection: 10.0.0.2:9000 → 10.0.0.1:7000.
    assert_eq!(sim.send(cli, b, b"to a"), SysReturn::Value { value: 4 });
    sim.settle();
    assert_eq!(sim.recv(srv, a), data(b"to a"), "the established socket gets the data");
    // The listener's queue stays empty: ss shows Recv-Q 0 for it.
    assert_eq!(queued(&sim, server, "0.0.0.0:7000"), 0, "nothing reached the listener");

    // A new connection to port 7000 does reach the listener.
    let (_, c_local) = sim.connect_new(cli, "10.0.0.1:7000").unwrap();
    let (_, peer) = sim.accept(srv, l);
    assert_eq!(peer, c_local);
    assert_ne!(c_local.port(), 9000);
    assert_eq!(sim.send(srv, a, b"from a"), SysReturn::Value { value: 6 });
    sim.settle();
    assert_eq!(sim.recv(cli, b), data(b"from a"));
}

/// linux-facts.md §3.5 and §3.3: a listener bound to 10.0.0.1:80 gets connections to 10.0.0.1;
/// a SYN to the host's other address 10.0.0.5:80 finds no listener (the exact address does not
/// match and there is no wildcard one), so it is answered with RST: ECONNREFUSED.
#[test]
fn specific_listener_receives_only_its_own_address() {
    let Lan { mut sim, srv, cli, .. } = lan(2);
    let l = sim.listener(srv, "10.0.0.1:80", false);
    let (_, local) = sim.connect_new(cli, "10.0.0.1:80").expect("the listener's address");
    let (afd, peer) = sim.accept(srv, l);
    assert_eq!(peer, local);
    assert_eq!(sim.local(srv, afd), sa("10.0.0.1:80"));
    assert_eq!(
        sim.connect_new(cli, "10.0.0.5:80").map(|_| ()),
        Err(Errno::ECONNREFUSED),
        "no listener for 10.0.0.5:80"
    );
}

/// linux-facts.md §3.5: the wildcard listener gets connections to both of the host's addresses;
/// each accepted socket's local address is the one the client connected to.
#[test]
fn wildcard_listener_receives_every_local_address() {
    let Lan { mut sim, srv, cli, .. } = lan(3);
    let l = sim.listener(srv, "0.0.0.0:80", false);
    for dst in ["10.0.0.1:80", "10.0.0.5:80", "10.0.0.1:80"] {
        let (_, local) = sim.connect_new(cli, dst).expect(dst);
        let (afd, peer) = sim.accept(srv, l);
        assert_eq!(peer, local);
        assert_eq!(sim.local(srv, afd), sa(dst), "accepted on the address connected to");
    }
}

/// linux-facts.md §3.5 (exact (daddr, port) bucket first) and §2.1 (distinct specific
/// addresses do not conflict): two listeners on 10.0.0.1:80 and 10.0.0.5:80 each get only the
/// connections to their own address.
#[test]
fn two_specific_listeners_on_one_port_split_by_address() {
    let Lan {
        mut sim,
        server,
        srv,
        cli,
        ..
    } = lan(4);
    let l1 = sim.listener(srv, "10.0.0.1:80", false);
    let l5 = sim.listener(srv, "10.0.0.5:80", false);
    let (_, c5) = sim.connect_new(cli, "10.0.0.5:80").unwrap();
    let (_, c1) = sim.connect_new(cli, "10.0.0.1:80").unwrap();
    sim.settle();
    assert_eq!(queued(&sim, server, "10.0.0.1:80"), 1);
    assert_eq!(queued(&sim, server, "10.0.0.5:80"), 1);
    assert_eq!(sim.accept(srv, l1).1, c1);
    assert_eq!(sim.accept(srv, l5).1, c5);
}

/// linux-facts.md §3.5 (Verified, listen_pref.py): SO_REUSEPORT listeners on 0.0.0.0:7000
/// and 127.0.0.1:7000 (the only way a wildcard and a specific listener share a port, §2.1) →
/// a connect to 127.0.0.1 goes to the specific one, a connect to 127.0.0.2 to the wildcard one.
#[test]
fn specific_reuseport_listener_beats_the_wildcard_one() {
    for specific_first in [false, true] {
        let Lan {
            mut sim, server, srv, ..
        } = lan(40);
        let reuseport_listener = |sim: &mut Sim, addr: &str| {
            let fd = sim.socket(srv);
            let set = Syscall::SetSockOpt {
                fd,
                level: SOL_SOCKET,
                name: SO_REUSEPORT,
                value: 1,
            };
            assert_eq!(sim.call(srv, set), OK);
            assert_eq!(sim.bind(srv, fd, addr), OK, "bind({addr}) with SO_REUSEPORT");
            assert_eq!(sim.listen(srv, fd, 16), OK);
            fd
        };
        let (specific, wildcard) = if specific_first {
            let s = reuseport_listener(&mut sim, "127.0.0.1:7000");
            (s, reuseport_listener(&mut sim, "0.0.0.0:7000"))
        } else {
            let w = reuseport_listener(&mut sim, "0.0.0.0:7000");
            (reuseport_listener(&mut sim, "127.0.0.1:7000"), w)
        };
        for round in 0..3 {
            let (_, to_specific) = sim.connect_new(srv, "127.0.0.1:7000").unwrap();
            let (_, to_wildcard) = sim.connect_new(srv, "127.0.0.2:7000").unwrap();
            sim.settle();
            assert_eq!(queued(&sim, server, "127.0.0.1:7000"), 1, "round {round}");
            assert_eq!(queued(&sim, server, "0.0.0.0:7000"), 1, "round {round}");
            assert_eq!(sim.accept(srv, specific).1, to_specific, "round {round}");
            assert_eq!(sim.accept(srv, wildcard).1, to_wildcard, "round {round}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// §3.3 refused connections
// ---------------------------------------------------------------------------------------------

/// linux-facts.md §3.3 (Verified L1, L2): a SYN to a port with no listener — nothing bound,
/// bound but not listening, or a listener since closed — is answered with RST and connect()
/// fails ECONNREFUSED, on a LAN and on loopback. The refused socket leaves nothing behind.
#[test]
fn syn_to_a_closed_port_is_refused() {
    let Lan {
        mut sim,
        server,
        client,
        srv,
        cli,
    } = lan(5);
    let sink = Rc::new(RefCell::new(Vec::new()));
    sim.w.set_sink(Box::new(SharedSink(sink.clone())));
    assert_eq!(
        sim.connect_new(cli, "10.0.0.1:81").map(|_| ()),
        Err(Errno::ECONNREFUSED)
    );
    let bound = sim.socket(srv);
    assert_eq!(sim.bind(srv, bound, "0.0.0.0:82"), OK);
    assert_eq!(
        sim.connect_new(cli, "10.0.0.1:82").map(|_| ()),
        Err(Errno::ECONNREFUSED),
        "bound but not listening"
    );
    let l = sim.listener(srv, "0.0.0.0:83", false);
    assert!(sim.connect_new(cli, "10.0.0.1:83").is_ok());
    sim.close(srv, l);
    sim.settle();
    assert_eq!(
        sim.connect_new(cli, "10.0.0.1:83").map(|_| ()),
        Err(Errno::ECONNREFUSED),
        "the listener is closed"
    );
    assert_eq!(
        sim.connect_new(srv, "127.0.0.1:84").map(|_| ()),
        Err(Errno::ECONNREFUSED),
        "loopback"
    );
    // The refusals were RSTs from the server host (3 on the LAN + 1 on loopback).
    let rsts = sink
        .borrow()
        .iter()
        .filter(|r| matches!(&r.event, Event::Packet { packet: PacketSummary::Tcp(segment), .. } if segment.flags.has(Flags::RST)))
        .count();
    assert!(rsts >= 4, "{rsts} resets");
    // Nothing is left in SYN-SENT.
    assert_eq!(sim.count_state(client, "SYN-SENT"), 0);
    assert_eq!(sim.count_state(server, "SYN-SENT"), 0);
}

/// linux-facts.md §3.3 (Verified, misc.py) and §8: connect() on a connected socket is
/// EISCONN; send() on a never-connected socket is EPIPE; accept() on a socket that does not
/// listen is EINVAL; a nonblocking connect() is EINPROGRESS and a second one while the SYN is
/// out is EALREADY.
#[test]
fn connect_and_send_errnos() {
    let Lan { mut sim, srv, cli, .. } = lan(8);
    let l = sim.listener(srv, "0.0.0.0:80", false);
    let (fd, _) = sim.connect_new(cli, "10.0.0.1:80").unwrap();
    assert_eq!(sim.connect(cli, fd, "10.0.0.1:80"), err(Errno::EISCONN));
    assert_eq!(sim.connect(cli, fd, "10.0.0.5:80"), err(Errno::EISCONN));
    let never = sim.socket(cli);
    assert_eq!(sim.send(cli, never, b"x"), err(Errno::EPIPE));
    assert_eq!(sim.call(cli, Syscall::Accept { fd: never }), err(Errno::EINVAL));
    let nb = sim.socket_nonblocking(cli);
    assert_eq!(sim.connect(cli, nb, "10.0.0.1:80"), err(Errno::EINPROGRESS));
    assert_eq!(
        sim.connect(cli, nb, "10.0.0.1:80"),
        err(Errno::EALREADY),
        "the SYN is still out"
    );
    sim.settle();
    let (_, first) = sim.accept(srv, l);
    let (_, second) = sim.accept(srv, l);
    assert_eq!(second, sim.local(cli, nb));
    assert_ne!(first, second);
}

/// Not in linux-facts.md; from `__inet_stream_connect()` (`net/ipv4/af_inet.c`): after a
/// nonblocking connect() the socket is `SS_CONNECTING`; calling connect() again once the
/// handshake has completed falls through to `sock->state = SS_CONNECTED; err = 0`, so it
/// returns 0, and only the call after that is EISCONN.
#[test]
fn second_connect_after_nonblocking_success_returns_zero() {
    let Lan { mut sim, srv, cli, .. } = lan(9);
    sim.listener(srv, "0.0.0.0:80", false);
    let nb = sim.socket_nonblocking(cli);
    assert_eq!(sim.connect(cli, nb, "10.0.0.1:80"), err(Errno::EINPROGRESS));
    sim.settle();
    assert_eq!(
        sim.connect(cli, nb, "10.0.0.1:80"),
        OK,
        "the connection is now reported"
    );
    assert_eq!(sim.connect(cli, nb, "10.0.0.1:80"), err(Errno::EISCONN));
}

/// Not in linux-facts.md; from `__inet_stream_connect()`: when a nonblocking connect() is
/// refused (RST), the next connect() finds `SS_CONNECTING` with `sk_state == TCP_CLOSE` and
/// goes to `sock_error`: it returns the pending error (ECONNREFUSED) and sends nothing. Only a
/// connect() after that starts a new handshake.
#[test]
fn connect_after_nonblocking_refusal_reports_the_error() {
    let Lan { mut sim, cli, .. } = lan(10);
    let sink = Rc::new(RefCell::new(Vec::new()));
    sim.w.set_sink(Box::new(SharedSink(sink.clone())));
    let nb = sim.socket_nonblocking(cli);
    assert_eq!(sim.connect(cli, nb, "10.0.0.1:81"), err(Errno::EINPROGRESS));
    sim.settle();
    let syns = |sink: &Rc<RefCell<Vec<Record<Event>>>>| {
        sink.borrow()
            .iter()
            .filter(|r| matches!(&r.event, Event::Packet { packet: PacketSummary::Tcp(segment), .. } if segment.flags.has(Flags::SYN)))
            .count()
    };
    assert_eq!(syns(&sink), 1);
    assert_eq!(sim.connect(cli, nb, "10.0.0.1:81"), err(Errno::ECONNREFUSED));
    assert_eq!(syns(&sink), 1, "reporting the error sends nothing");
}

// ---------------------------------------------------------------------------------------------
// §3.1/§3.2 accept order and wake-ups
// ---------------------------------------------------------------------------------------------

/// linux-facts.md §3.1 (the accept queue is a FIFO, `inet_csk_accept` takes its head): five
/// connections made one after another, none accepted yet, are returned by accept() in the
/// order they completed.
#[test]
fn accept_returns_connections_in_arrival_order() {
    let Lan { mut sim, srv, cli, .. } = lan(6);
    let l = sim.listener(srv, "0.0.0.0:80", false);
    let mut locals = Vec::new();
    for i in 0..5 {
        let dst = if i % 2 == 0 { "10.0.0.1:80" } else { "10.0.0.5:80" };
        locals.push(sim.connect_new(cli, dst).unwrap().1);
        sim.settle();
    }
    let peers: Vec<SocketAddr> = (0..5).map(|_| sim.accept(srv, l).1).collect();
    assert_eq!(peers, locals);
}

/// linux-facts.md §3.2 (Verified, accept_herd.py): four processes (forked, sharing the
/// listener) blocked in accept(): one connection wakes exactly one of them, two more wake
/// exactly two more.
#[test]
fn one_connection_wakes_one_blocked_accept() {
    let Lan { mut sim, srv, cli, .. } = lan(7);
    let l = sim.listener(srv, "0.0.0.0:80", false);
    let mut accepters = vec![srv];
    for i in 0..3 {
        accepters.push(sim.w.fork(srv, &format!("child{i}")));
    }
    for &p in &accepters {
        assert_eq!(sim.start(p, Syscall::Accept { fd: l }), None, "accept blocks");
    }
    let returned = |sim: &Sim| accepters.iter().filter(|p| sim.finished.contains_key(p)).count();
    sim.connect_new(cli, "10.0.0.1:80").unwrap();
    sim.settle();
    assert_eq!(returned(&sim), 1, "exactly one accept returns");
    sim.connect_new(cli, "10.0.0.1:80").unwrap();
    sim.connect_new(cli, "10.0.0.1:80").unwrap();
    sim.settle();
    assert_eq!(returned(&sim), 3, "two more connections, two more accepts");
    assert_eq!(sim.pending.len(), 1, "one process still waits");
}

// ---------------------------------------------------------------------------------------------
// §3.1 backlog
// ---------------------------------------------------------------------------------------------

/// linux-facts.md §3.1 (Verified, tcplisten.py): listen(n), then n+5 connects with nothing
/// accepted → exactly n+1 complete, the other 4 stay SYN-SENT (their SYNs are dropped, not
/// reset); ss shows the listener with Recv-Q n+1 and Send-Q n. With `tcp_syn_retries = 1` each
/// of the 4 fails ETIMEDOUT 3 s after its connect() (SYN, retransmission after 1 s, give up
/// 2 s later), having sent exactly two SYNs.
#[test]
fn backlog_admits_n_plus_one_then_syns_time_out() {
    for n in [0usize, 1, 2, 5] {
        let Lan {
            mut sim,
            server,
            client,
            srv,
            ..
        } = lan(10 + n as u64);
        sim.w.set_sysctl(client, "net.ipv4.tcp_syn_retries", &[1]).unwrap();
        let sink = Rc::new(RefCell::new(Vec::new()));
        sim.w.set_sink(Box::new(SharedSink(sink.clone())));
        let l = sim.socket(srv);
        assert_eq!(sim.bind(srv, l, "0.0.0.0:80"), OK);
        assert_eq!(sim.listen(srv, l, n as i32), OK);

        let mut clients = Vec::new();
        for i in 0..n + 5 {
            let p = sim.spawn(client, &format!("c{i}"));
            let fd = sim.socket(p);
            let started = sim.w.now();
            let r = sim.start(
                p,
                Syscall::Connect {
                    fd,
                    addr: sa("10.0.0.1:80").into(),
                },
            );
            assert_eq!(r, None, "a blocking connect() waits for the handshake");
            sim.settle();
            clients.push((p, started));
        }
        let done: Vec<_> = clients.iter().filter(|(p, _)| sim.finished.contains_key(p)).collect();
        assert_eq!(done.len(), n + 1, "n={n}: n+1 handshakes complete");
        assert!(
            done.iter().all(|(p, _)| sim.finished[p].0 == OK),
            "n={n}: and their connect() returned 0"
        );
        assert_eq!(sim.count_state(client, "ESTAB"), n + 1, "n={n}");
        assert_eq!(
            sim.count_state(client, "SYN-SENT"),
            4,
            "n={n}: the rest wait in SYN-SENT"
        );
        let rows = sim.w.ss(server);
        let listener = rows.iter().find(|r| r.state == "LISTEN").unwrap();
        assert_eq!(
            (listener.recv_q, listener.send_q),
            (n as u64 + 1, n as u64),
            "n={n}: {listener:?}"
        );
        assert_eq!(
            sim.count_state(server, "SYN-RECV"),
            0,
            "n={n}: dropped SYNs leave no request"
        );

        let waiting: Vec<(Pid, Instant)> = clients
            .iter()
            .copied()
            .filter(|(p, _)| !sim.finished.contains_key(p))
            .collect();
        for (p, started) in waiting {
            let (r, at) = sim.wait(p, Duration::from_secs(10));
            assert_eq!(r, err(Errno::ETIMEDOUT), "n={n}");
            let took = at.since(started);
            assert!(
                took >= Duration::from_secs(3) && took <= Duration::from_millis(3001),
                "n={n}: timed out after {took:?}, not 3 s"
            );
        }
        assert_eq!(sim.count_state(client, "SYN-SENT"), 0, "n={n}");
        assert_eq!(sim.count_state(client, "ESTAB"), n + 1, "n={n}");
        // SYNs on the wire from the client: one per completed handshake, two per timed-out one.
        let syns = sink
            .borrow()
            .iter()
            .filter(|r| {
                matches!(&r.event, Event::Packet { packet: PacketSummary::Tcp(segment), .. }
                    if segment.flags.has(Flags::SYN) && !segment.flags.has(Flags::ACK)
                        && segment.src.ip() == Ipv4Addr::new(10, 0, 0, 2))
            })
            .count();
        // Linux 6.13+ retransmits at 1 s intervals first (tcp_syn_linear_timeouts = 4) and gives
        // up once (2 << tcp_syn_retries) - 1 = 3 s have passed: SYNs at 0, 1 and 2 s.
        assert_eq!(syns, (n + 1) + 4 * 3, "n={n}: two retransmissions before the 3 s limit");
        // The retransmission left 1 s after the first SYN.
        let first_timed_out = clients[n + 1].1;
        let retransmitted_at_one_second = sink.borrow().iter().any(|r| {
            r.at == first_timed_out.after(Duration::from_secs(1))
                && matches!(&r.event, Event::Packet { packet: PacketSummary::Tcp(segment), .. } if segment.flags.has(Flags::SYN))
        });
        assert!(
            retransmitted_at_one_second,
            "n={n}: the SYN is retransmitted after the initial 1 s RTO"
        );
    }
}

/// linux-facts.md §3.1: the backlog is clamped to `net.core.somaxconn` (somaxconn=3 and
/// listen(100) → Send-Q 3), and a negative backlog means somaxconn.
#[test]
fn backlog_is_clamped_to_somaxconn() {
    let Lan {
        mut sim, server, srv, ..
    } = lan(20);
    sim.w.set_sysctl(server, "net.core.somaxconn", &[3]).unwrap();
    for (port, backlog) in [(80, 100), (81, -1), (82, 2)] {
        let l = sim.socket(srv);
        assert_eq!(sim.bind(srv, l, &format!("0.0.0.0:{port}")), OK);
        assert_eq!(sim.listen(srv, l, backlog), OK);
    }
    let mut send_q: Vec<(String, u64)> = sim
        .w
        .ss(server)
        .into_iter()
        .filter(|r| r.state == "LISTEN")
        .map(|r| (r.local, r.send_q))
        .collect();
    send_q.sort();
    assert_eq!(
        send_q,
        vec![
            ("0.0.0.0:80".to_string(), 3),
            ("0.0.0.0:81".to_string(), 3),
            ("0.0.0.0:82".to_string(), 2)
        ]
    );
}

/// linux-facts.md §3.1: "n+1 fully established connections can wait" — the accept queue never
/// holds more than backlog+1 children, even when the SYNs of several clients arrive at the
/// same instant (each SYN passes `sk_acceptq_is_full()` while the queue is still empty; Linux
/// checks the queue again when the handshake's last ACK arrives, in `tcp_v4_syn_recv_sock()`,
/// and with tcp_abort_on_overflow=0 drops that ACK, leaving the request in SYN-RECV).
#[test]
fn accept_queue_never_exceeds_backlog_plus_one_with_simultaneous_syns() {
    let Lan {
        mut sim,
        server,
        client,
        srv,
        ..
    } = lan(21);
    let l = sim.socket(srv);
    assert_eq!(sim.bind(srv, l, "0.0.0.0:80"), OK);
    assert_eq!(sim.listen(srv, l, 0), OK);
    for i in 0..3 {
        let p = sim.spawn(client, &format!("c{i}"));
        let fd = sim.socket_nonblocking(p);
        // No settling between the connects: the three SYNs are on the wire together.
        assert_eq!(sim.connect(p, fd, "10.0.0.1:80"), err(Errno::EINPROGRESS));
    }
    sim.settle();
    let rows = sim.w.ss(server);
    let listener = rows.iter().find(|r| r.state == "LISTEN").unwrap();
    assert!(
        listener.recv_q <= 1,
        "the accept queue holds at most backlog+1: {listener:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// §3.1/§2.3 closing a listener
// ---------------------------------------------------------------------------------------------

/// linux-facts.md §2.3 ("Connections already in a closed TCP listener's queue are reset") and
/// §8 ("listener closed before accept: client read → ECONNRESET"): closing a listener resets
/// every connection still in its accept queue, so those clients' recv() fails ECONNRESET; a
/// connection accepted before the close is unaffected; new connects are refused.
#[test]
fn closing_a_listener_resets_queued_connections() {
    let Lan {
        mut sim,
        server,
        client,
        srv,
        cli,
    } = lan(30);
    let l = sim.listener(srv, "0.0.0.0:80", false);
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(sim.connect_new(cli, "10.0.0.1:80").unwrap().0);
        sim.settle();
    }
    let (accepted, _) = sim.accept(srv, l);
    sim.close(srv, l);
    sim.settle();
    assert_eq!(sim.recv(cli, clients[1]), err(Errno::ECONNRESET));
    assert_eq!(sim.recv(cli, clients[2]), err(Errno::ECONNRESET));
    assert_eq!(
        sim.count_state(client, "ESTAB"),
        1,
        "only the accepted connection is left"
    );
    assert_eq!(sim.count_state(server, "ESTAB"), 1);
    // The accepted connection still works both ways.
    assert_eq!(sim.send(cli, clients[0], b"ping"), SysReturn::Value { value: 4 });
    sim.settle();
    assert_eq!(sim.recv(srv, accepted), data(b"ping"));
    assert_eq!(
        sim.connect_new(cli, "10.0.0.1:80").map(|_| ()),
        Err(Errno::ECONNREFUSED)
    );
}
