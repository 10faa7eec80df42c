//! Port allocation and bind conflicts, driven through the public `World` API.
//!
//! Every test names the section of `/work/shared/design/linux-facts.md` whose expectation it
//! checks. Following that sheet's advice (§7), the tests assert properties — parity order, the
//! set of ports used, how many fit before exhaustion, the errno — and never exact port numbers.

use sim_core::{Duration, Instant};
use sim_kernel::syscall::{Fd, SysReturn, Syscall};
use sim_kernel::syscalls::{SO_REUSEPORT, SOL_SOCKET};
use sim_kernel::{Errno, HostId, Pid, World};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

// ---------------------------------------------------------------------------------------------
// A small synchronous driver: one call at a time per process, blocked calls resumed in the
// background while the world runs.
// ---------------------------------------------------------------------------------------------

mod support;
use support::*;
/// One host with only loopback, the given port range, and a server and a client process.
fn loopback(seed: u64, range: (i64, i64)) -> (Sim, HostId, Pid, Pid) {
    let mut w = World::new(seed);
    let h = w.add_host("h").unwrap();
    w.set_sysctl(h, "net.ipv4.ip_local_port_range", &[range.0, range.1])
        .unwrap();
    let mut sim = Sim::new(w, Duration::ZERO);
    let srv = sim.spawn(h, "srv");
    let cli = sim.spawn(h, "cli");
    (sim, h, srv, cli)
}

/// A server with two addresses (10.0.0.1 and 10.0.0.5) and a client (10.0.0.2) on one LAN;
/// the client uses `range`. Returns the server and client processes too.
fn lan(seed: u64, range: (i64, i64)) -> (Sim, HostId, HostId, Pid, Pid) {
    let (mut w, server, client) = support::server_and_client(seed, true);
    w.set_sysctl(client, "net.ipv4.ip_local_port_range", &[range.0, range.1])
        .unwrap();
    let mut sim = Sim::new(w, Duration::from_millis(5));
    let srv = sim.spawn(server, "srv");
    let cli = sim.spawn(client, "cli");
    (sim, server, client, srv, cli)
}

/// Ten ports covering `low..=low+9`, the five with `low`'s parity first.
#[track_caller]
fn assert_preferred_parity_first(ports: &[u16], low: u16, what: &str) {
    assert_parity_order(ports, low, low % 2, what);
}

/// Ten ports covering `low..=low+9`, the five of parity `first` (0 even, 1 odd) first.
#[track_caller]
fn assert_parity_order(ports: &[u16], low: u16, first: u16, what: &str) {
    let all: BTreeSet<u16> = (low..=low + 9).collect();
    assert_eq!(ports.len(), 10, "{what}: ten ports fit: {ports:?}");
    assert_eq!(
        ports.iter().copied().collect::<BTreeSet<_>>(),
        all,
        "{what}: every port of the range once: {ports:?}"
    );
    assert!(
        ports[..5].iter().all(|p| p % 2 == first) && ports[5..].iter().all(|p| p % 2 != first),
        "{what}: the five ports of parity {first} come first: {ports:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// §1.2 connect() autobind
// ---------------------------------------------------------------------------------------------

/// linux-facts.md §1.2 (Verified): range 40000–40009, 10 connects to 127.0.0.1:5000 succeed
/// with the 5 even ports before any odd one, the 11th is EADDRNOTAVAIL; keeping them open, 10
/// connects to another port (127.0.0.1:5001) and to another address (127.0.0.2:5002) reuse the
/// same 10 ports, each 11th EADDRNOTAVAIL.
#[test]
fn connect_even_ports_first_and_reuse_across_destinations_on_loopback() {
    for seed in [1, 2, 3] {
        let (mut sim, _h, srv, cli) = loopback(seed, (40000, 40009));
        for dst in ["0.0.0.0:5000", "0.0.0.0:5001", "0.0.0.0:5002"] {
            sim.listener(srv, dst, false);
        }
        let mut first = None;
        for dst in ["127.0.0.1:5000", "127.0.0.1:5001", "127.0.0.2:5002"] {
            let (ports, e) = sim.connect_until_failure(cli, dst, 10);
            assert_preferred_parity_first(&ports, 40000, &format!("seed {seed}, connects to {dst}"));
            assert_eq!(e, Errno::EADDRNOTAVAIL, "seed {seed}: the 11th connect to {dst}");
            let set: BTreeSet<u16> = ports.into_iter().collect();
            assert_eq!(
                *first.get_or_insert_with(|| set.clone()),
                set,
                "the same ports are reused toward {dst}"
            );
        }
    }
}

/// linux-facts.md §1.2: the same on a LAN — toward a second port of the same server and toward
/// the server's second address, connect() reuses the 10 ports already connected elsewhere.
/// The source address is the route's (10.0.0.2) for every destination.
#[test]
fn connect_reuses_ports_across_destination_addresses_on_a_lan() {
    let (mut sim, _server, _client, srv, cli) = lan(5, (40000, 40009));
    sim.listener(srv, "0.0.0.0:80", false);
    sim.listener(srv, "0.0.0.0:81", false);
    for dst in ["10.0.0.1:80", "10.0.0.5:80", "10.0.0.1:81"] {
        let mut ports = Vec::new();
        loop {
            match sim.connect_new(cli, dst) {
                Ok((_, local)) => {
                    assert_eq!(local.ip(), Ipv4Addr::new(10, 0, 0, 2), "source address from the route");
                    ports.push(local.port());
                }
                Err(e) => {
                    assert_eq!(e, Errno::EADDRNOTAVAIL, "the 11th connect to {dst}");
                    break;
                }
            }
            assert!(ports.len() <= 10, "{ports:?}");
        }
        assert_preferred_parity_first(&ports, 40000, &format!("connects to {dst}"));
    }
}

/// linux-facts.md §1.2: parity is relative to the range's low end — with 40001–40010 the odd
/// ports come first.
#[test]
fn connect_prefers_the_low_ends_parity_odd_low() {
    for seed in [1, 2, 3] {
        let (mut sim, _h, srv, cli) = loopback(seed, (40001, 40010));
        sim.listener(srv, "127.0.0.1:5000", false);
        let (ports, e) = sim.connect_until_failure(cli, "127.0.0.1:5000", 10);
        assert_preferred_parity_first(&ports, 40001, &format!("seed {seed}"));
        assert_eq!(e, Errno::EADDRNOTAVAIL);
    }
}

/// linux-facts.md §1.1 ("better these numbers have different parity") and §1.2 step 2: the
/// scan covers the range's size rounded down to even, wrapping by that amount, so with an
/// 11-port range (40000–40010) each connect() sees only 10 of the ports — which 10 depends on
/// where its scan starts (40000 is reachable only from offset 0). Toward one destination
/// 10 or 11 connects fit, never more, each on a distinct port of the range; and over many
/// seeds both counts occur.
#[test]
fn odd_sized_range_scans_an_even_number_of_ports() {
    let mut counts = BTreeSet::new();
    for seed in 1..=40 {
        let (mut sim, _h, srv, cli) = loopback(seed, (40000, 40010));
        sim.listener(srv, "127.0.0.1:5000", false);
        let (ports, e) = sim.connect_until_failure(cli, "127.0.0.1:5000", 11);
        assert_eq!(e, Errno::EADDRNOTAVAIL);
        assert!(ports.len() >= 10, "seed {seed}: {ports:?}");
        assert_eq!(
            ports.iter().collect::<BTreeSet<_>>().len(),
            ports.len(),
            "seed {seed}: distinct: {ports:?}"
        );
        assert!(
            ports.iter().all(|p| (40000..=40010).contains(p)),
            "seed {seed}: {ports:?}"
        );
        counts.insert(ports.len());
    }
    // `port -= remaining` on wrapping (not `% range size`) is what makes 11 fit only sometimes.
    assert_eq!(
        counts,
        BTreeSet::from([10, 11]),
        "how many connects fit, over the seeds"
    );
}

/// linux-facts.md §1.1/§1.2: a one-port range still works: connect() shares the port across
/// destinations (one connection each), and bind(0) finds it taken by connect (EADDRINUSE).
#[test]
fn one_port_range() {
    let (mut sim, _h, srv, cli) = loopback(2, (40000, 40000));
    sim.listener(srv, "0.0.0.0:5000", false);
    sim.listener(srv, "0.0.0.0:5001", false);
    for dst in ["127.0.0.1:5000", "127.0.0.1:5001", "127.0.0.2:5000"] {
        let (ports, e) = sim.connect_until_failure(cli, dst, 1);
        assert_eq!((ports, e), (vec![40000], Errno::EADDRNOTAVAIL), "toward {dst}");
    }
    assert_eq!(sim.bind_new(cli, "0.0.0.0:0", false), Err(Errno::EADDRINUSE));
}

/// linux-facts.md §1.2 step 6: after each connect, the destination's `table_perturb` slot
/// advances by `max(i, 2 * rand(8)) + 2`; with no contention (`i = 0`) the next connect to the
/// same destination starts 2 to 16 ports (even) past the previous one. Within one 10-second
/// epoch successive ports therefore step forward by 2..=16, modulo the range, and the jitter
/// varies.
#[test]
fn successive_connects_to_one_destination_step_forward_by_2_to_16() {
    let (mut sim, _h, srv, cli) = loopback(13, (32768, 60999));
    sim.listener(srv, "127.0.0.1:5000", false);
    let ports: Vec<u16> = (0..60)
        .map(|_| sim.connect_new(cli, "127.0.0.1:5000").unwrap().1.port())
        .collect();
    assert_eq!(sim.w.now(), Instant::ZERO, "all in the first 10-second epoch");
    let size = 60999 - 32768 + 1;
    let steps: Vec<u32> = ports
        .windows(2)
        .map(|w| (u32::from(w[1]) + size - u32::from(w[0])) % size)
        .collect();
    assert!(
        steps.iter().all(|s| (2..=16).contains(s) && s % 2 == 0),
        "steps between successive ports: {steps:?}"
    );
    assert!(
        steps.iter().collect::<BTreeSet<_>>().len() >= 4,
        "the jitter varies: {steps:?}"
    );
}

/// linux-facts.md §1.2 (last bullet: an unbound socket's connect() takes the source address
/// from the route, then the port). A blocking connect() that fails disconnects the socket
/// (`__inet_stream_connect` → `sock_error` → `tcp_disconnect()`), which releases the
/// autobound port and, since no address was bound (`SOCK_BINDADDR_LOCK` unset), resets the
/// source address (`inet_reset_saddr`): getsockname() shows 0.0.0.0 and the released port
/// (`inet_put_port()` clears `inet_num`, not the `inet_sport` that `inet_getname()` reports:
/// tools/oracle/DISAGREEMENTS.md #11, verified on Linux 6.18), and a new connect() from the same
/// socket chooses its source address afresh from the route.
#[test]
fn failed_connect_resets_the_source_address() {
    let (mut sim, _server, client, _srv, cli) = lan(3, (40000, 40009));
    let fd = sim.socket(cli);
    assert_eq!(sim.connect(cli, fd, "10.0.0.1:81"), err(Errno::ECONNREFUSED));
    let after = sim.local(cli, fd);
    assert_eq!(after.ip().to_string(), "0.0.0.0", "the address is reset");
    assert!(
        (40000..=40009).contains(&after.port()),
        "the stale port is still shown: {after}"
    );
    // A listener on the client's own loopback, reached by the same socket.
    let local_srv = sim.spawn(client, "local");
    let l = sim.listener(local_srv, "0.0.0.0:6000", false);
    assert_eq!(sim.connect(cli, fd, "127.0.0.1:6000"), OK);
    assert_eq!(
        sim.local(cli, fd).ip(),
        Ipv4Addr::LOCALHOST,
        "source from the route to 127.0.0.1"
    );
    let (_, peer) = sim.accept(local_srv, l);
    assert_eq!(peer.ip(), Ipv4Addr::LOCALHOST);
}

/// One connect + close cycle on loopback where the client closes first (so it keeps the
/// TIME_WAIT); the client's local port.
fn connect_close_cycle(sim: &mut Sim, srv: Pid, cli: Pid, lfd: Fd, dst: &str) -> Result<u16, Errno> {
    let (fd, local) = sim.connect_new(cli, dst)?;
    let (afd, peer) = sim.accept(srv, lfd);
    assert_eq!(peer, local, "the server sees the client's address");
    sim.close(cli, fd);
    sim.settle();
    assert_eq!(
        sim.recv(srv, afd),
        SysReturn::Data { data: vec![] },
        "EOF after the client's FIN"
    );
    sim.close(srv, afd);
    sim.settle();
    Ok(local.port())
}

/// linux-facts.md §1.2 (Verified: "100 sequential connect+close cycles → 100/100 use even
/// ports while an even port is free") and §3.4 (the active closer, here the client, keeps a
/// TIME_WAIT for each): with the default range, all 100 ports are even, and all distinct since
/// each is still held by its TIME_WAIT toward the same destination.
#[test]
fn hundred_connect_close_cycles_use_even_ports() {
    let (mut sim, h, srv, cli) = loopback(11, (32768, 60999));
    let lfd = sim.listener(srv, "127.0.0.1:5000", false);
    let mut ports = Vec::new();
    for _ in 0..100 {
        ports.push(connect_close_cycle(&mut sim, srv, cli, lfd, "127.0.0.1:5000").unwrap());
    }
    assert!(ports.iter().all(|p| p % 2 == 0), "every port is even: {ports:?}");
    assert!(ports.iter().all(|p| (32768..=60999).contains(p)), "{ports:?}");
    assert_eq!(
        ports.iter().collect::<BTreeSet<_>>().len(),
        100,
        "TIME_WAIT keeps each 4-tuple busy"
    );
    assert_eq!(sim.count_state(h, "TIME-WAIT"), 100, "one client TIME_WAIT per cycle");
}

/// linux-facts.md §1.2/§1.5 (Verified, tw.py): with 10 ports and the client closing first,
/// the TIME_WAITs block their 4-tuples: the cycles use the 5 even ports, then the 5 odd ones,
/// then connect() to the same destination fails EADDRNOTAVAIL (tw_reuse=0), while a different
/// destination (127.0.0.2) still succeeds by reusing a port.
#[test]
fn time_wait_holds_its_tuple_even_ports_then_odd_then_eaddrnotavail() {
    let (mut sim, h, srv, cli) = loopback(3, (40000, 40009));
    sim.w.set_sysctl(h, "net.ipv4.tcp_tw_reuse", &[0]).unwrap();
    let lfd = sim.listener(srv, "0.0.0.0:5000", false);
    let mut ports = Vec::new();
    for _ in 0..10 {
        ports.push(connect_close_cycle(&mut sim, srv, cli, lfd, "127.0.0.1:5000").unwrap());
    }
    assert_preferred_parity_first(&ports, 40000, "connect+close cycles");
    assert_eq!(sim.count_state(h, "TIME-WAIT"), 10);
    assert_eq!(
        sim.connect_new(cli, "127.0.0.1:5000").map(|_| ()),
        Err(Errno::EADDRNOTAVAIL),
        "every tuple toward 127.0.0.1:5000 is in TIME_WAIT"
    );
    let (_, local) = sim
        .connect_new(cli, "127.0.0.2:5000")
        .expect("another destination is free");
    assert!((40000..=40009).contains(&local.port()));
    assert_eq!(
        local.port() % 2,
        0,
        "toward a fresh destination the even ports come first again"
    );
}

/// linux-facts.md §1.5 (Verified, tw.py): client TIME_WAITs on all 10 ports. Within 1 s a
/// connect to the same destination is EADDRNOTAVAIL whatever tcp_tw_reuse says. After 1.5 s,
/// tw_reuse=1 (and 2, the default, since this is loopback) recycles all 10 TIME_WAITs, while
/// tw_reuse=0 still fails until TIME_WAIT's 60 s are over.
#[test]
fn tcp_tw_reuse_recycles_after_one_second() {
    for reuse in [0, 1, 2] {
        let (mut sim, h, srv, cli) = loopback(4, (40000, 40009));
        sim.w.set_sysctl(h, "net.ipv4.tcp_tw_reuse", &[reuse]).unwrap();
        let lfd = sim.listener(srv, "127.0.0.1:5000", false);
        for _ in 0..10 {
            connect_close_cycle(&mut sim, srv, cli, lfd, "127.0.0.1:5000").unwrap();
        }
        assert_eq!(sim.count_state(h, "TIME-WAIT"), 10, "tw_reuse={reuse}");
        assert_eq!(
            sim.connect_new(cli, "127.0.0.1:5000").map(|_| ()),
            Err(Errno::EADDRNOTAVAIL),
            "tw_reuse={reuse}: TIME_WAITs younger than 1 s are never reused"
        );
        sim.run_for(Duration::from_millis(1500));
        let (ports, e) = sim.connect_until_failure(cli, "127.0.0.1:5000", 10);
        if reuse == 0 {
            assert!(ports.is_empty(), "tw_reuse=0 never recycles: {ports:?}");
            assert_eq!(sim.count_state(h, "TIME-WAIT"), 10);
            sim.run_for(Duration::from_secs(60));
            assert_eq!(sim.count_state(h, "TIME-WAIT"), 0, "TIME_WAIT lasts 60 s");
            let (ports, e) = sim.connect_until_failure(cli, "127.0.0.1:5000", 10);
            assert_preferred_parity_first(&ports, 40000, "after TIME_WAIT ended");
            assert_eq!(e, Errno::EADDRNOTAVAIL);
        } else {
            assert_eq!(
                ports.iter().collect::<BTreeSet<_>>().len(),
                10,
                "tw_reuse={reuse}: all 10 TIME_WAITs recycled: {ports:?}"
            );
            assert_eq!(e, Errno::EADDRNOTAVAIL, "then every tuple is busy again");
            assert_eq!(sim.count_state(h, "TIME-WAIT"), 0, "recycled TIME_WAITs are gone");
        }
    }
}

/// linux-facts.md §1.2 (last Verified bullet): ports held by explicit `bind(0)` sockets (not
/// connected) are never shared by connect() autobind. Five bind(0) take the 5 odd ports; then
/// connect() gets only the 5 even ports, toward each destination, then EADDRNOTAVAIL.
#[test]
fn ports_held_by_bind0_are_never_used_by_connect() {
    for seed in [1, 2, 3] {
        let (mut sim, _h, srv, cli) = loopback(seed, (40000, 40009));
        sim.listener(srv, "127.0.0.1:5000", false);
        sim.listener(srv, "127.0.0.1:5001", false);
        let mut held = BTreeSet::new();
        for _ in 0..5 {
            held.insert(sim.bind_new(cli, "0.0.0.0:0", false).expect("bind(0)"));
        }
        assert_eq!(
            held,
            BTreeSet::from([40001, 40003, 40005, 40007, 40009]),
            "bind(0) takes odd ports first"
        );
        for dst in ["127.0.0.1:5000", "127.0.0.1:5001"] {
            let (ports, e) = sim.connect_until_failure(cli, dst, 5);
            assert_eq!(
                ports.iter().copied().collect::<BTreeSet<_>>(),
                BTreeSet::from([40000, 40002, 40004, 40006, 40008]),
                "seed {seed}: only the even ports toward {dst}: {ports:?}"
            );
            assert_eq!(e, Errno::EADDRNOTAVAIL);
        }
    }
}

/// linux-facts.md §1.2 step 4: a port that was explicitly bound by a socket that has since
/// connected is not shared either (its bucket is an explicit-bind one).
#[test]
fn ports_bound_explicitly_then_connected_are_not_shared() {
    let (mut sim, _h, srv, cli) = loopback(9, (40000, 40009));
    sim.listener(srv, "127.0.0.1:5000", false);
    sim.listener(srv, "127.0.0.1:5001", false);
    let fd = sim.socket(cli);
    assert_eq!(sim.bind(cli, fd, "127.0.0.1:40000"), OK);
    assert_eq!(sim.connect(cli, fd, "127.0.0.1:5000"), OK);
    let (ports, e) = sim.connect_until_failure(cli, "127.0.0.1:5001", 9);
    assert_eq!(e, Errno::EADDRNOTAVAIL);
    assert_eq!(ports.len(), 9, "all but the explicitly bound port: {ports:?}");
    assert!(!ports.contains(&40000), "{ports:?}");
}

// ---------------------------------------------------------------------------------------------
// §1.3 bind(port 0) and listen() autobind
// ---------------------------------------------------------------------------------------------

/// linux-facts.md §1.3 (Verified): range 40000–40009, ten `bind(0.0.0.0:0)` give all 5 odd
/// ports first, then the even ones; the 11th is EADDRINUSE.
#[test]
fn bind0_odd_ports_first_then_even_then_eaddrinuse() {
    for seed in 1..=10 {
        let (mut sim, _h, _srv, cli) = loopback(seed, (40000, 40009));
        let (ports, e) = sim.bind_until_failure(cli, "0.0.0.0:0", false, 10);
        // "Odd first" is relative to the low end: the opposite of connect()'s preference.
        assert_parity_order(&ports, 40000, 1, &format!("seed {seed}"));
        assert_eq!(e, Errno::EADDRINUSE, "seed {seed}: bind(0) exhaustion is EADDRINUSE");
    }
}

/// linux-facts.md §1.3 (Verified: "across 200 fresh trials, the first bind(0) returned an odd
/// port 200/200 times"), here over 200 seeds with the default range.
#[test]
fn first_bind0_is_always_odd() {
    for seed in 0..200 {
        let (mut sim, _h, _srv, cli) = loopback(seed, (32768, 60999));
        let port = sim.bind_new(cli, "0.0.0.0:0", false).unwrap();
        assert_eq!(port % 2, 1, "seed {seed}: {port}");
        assert!((32768..=60999).contains(&port));
    }
}

/// linux-facts.md §1.3 (Verified): with SO_REUSEADDR, the lower half {40000..40003} is scanned
/// first (odd then even), then the upper half {40004..40009} (odd then even), e.g.
/// `[40001,40003,40000,40002, 40005,40007,40009,40006,40008,40004]`; the 11th is EADDRINUSE
/// (autobind never shares a port, even between SO_REUSEADDR sockets).
#[test]
fn bind0_with_reuseaddr_scans_the_lower_half_first() {
    for seed in 1..=10 {
        let (mut sim, _h, _srv, cli) = loopback(seed, (40000, 40009));
        let (ports, e) = sim.bind_until_failure(cli, "0.0.0.0:0", true, 10);
        assert_eq!(ports.len(), 10, "seed {seed}: {ports:?}");
        let set = |s: &[u16]| s.iter().copied().collect::<BTreeSet<u16>>();
        assert_eq!(
            set(&ports[0..2]),
            BTreeSet::from([40001, 40003]),
            "seed {seed}: {ports:?}"
        );
        assert_eq!(
            set(&ports[2..4]),
            BTreeSet::from([40000, 40002]),
            "seed {seed}: {ports:?}"
        );
        assert_eq!(
            set(&ports[4..7]),
            BTreeSet::from([40005, 40007, 40009]),
            "seed {seed}: {ports:?}"
        );
        assert_eq!(
            set(&ports[7..10]),
            BTreeSet::from([40004, 40006, 40008]),
            "seed {seed}: {ports:?}"
        );
        assert_eq!(e, Errno::EADDRINUSE);
    }
}

/// linux-facts.md §1.3 (Verified): `listen()` on an unbound socket autobinds it to
/// `0.0.0.0:<odd ephemeral port>`.
#[test]
fn listen_autobinds_to_an_odd_wildcard_port() {
    for seed in 1..=20 {
        let (mut sim, _h, _srv, cli) = loopback(seed, (40000, 40009));
        let fd = sim.socket(cli);
        assert_eq!(sim.listen(cli, fd, 5), OK);
        let local = sim.local(cli, fd);
        assert_eq!(local.ip(), Ipv4Addr::UNSPECIFIED, "seed {seed}");
        assert!((40000..=40009).contains(&local.port()), "seed {seed}: {local}");
        assert_eq!(local.port() % 2, 1, "seed {seed}: {local}");
        // And it really listens there.
        let c = sim.socket(cli);
        assert_eq!(sim.connect(cli, c, &format!("127.0.0.1:{}", local.port())), OK);
    }
}

/// linux-facts.md §1.3 (Verified): all 10 ports used by connected sockets whose local address
/// is 127.0.0.1 → `bind(0.0.0.0:0)` is EADDRINUSE with or without SO_REUSEADDR (any overlapping
/// socket conflicts during the autobind search); `bind(127.0.0.3:0)` succeeds, on an odd port.
#[test]
fn bind0_conflicts_only_with_overlapping_addresses() {
    let (mut sim, _h, srv, cli) = loopback(6, (40000, 40009));
    sim.listener(srv, "127.0.0.1:5000", false);
    let (ports, e) = sim.connect_until_failure(cli, "127.0.0.1:5000", 10);
    assert_eq!((ports.len(), e), (10, Errno::EADDRNOTAVAIL));
    assert_eq!(sim.bind_new(cli, "0.0.0.0:0", false), Err(Errno::EADDRINUSE));
    assert_eq!(sim.bind_new(cli, "0.0.0.0:0", true), Err(Errno::EADDRINUSE));
    assert_eq!(sim.bind_new(cli, "127.0.0.1:0", false), Err(Errno::EADDRINUSE));
    let port = sim.bind_new(cli, "127.0.0.3:0", false).expect("no socket on 127.0.0.3");
    assert!((40000..=40009).contains(&port) && port % 2 == 1, "{port}");
}

/// linux-facts.md §1.3 (Verified): `bind(127.0.0.1:0)` then `connect()` uses a distinct port
/// per socket, even toward different destinations; with the range full, bind fails EADDRINUSE
/// although connect() autobind could still share ports toward a new destination.
#[test]
fn bind0_then_connect_never_shares_ports() {
    let (mut sim, _h, srv, cli) = loopback(8, (40000, 40009));
    sim.listener(srv, "0.0.0.0:5000", false);
    sim.listener(srv, "0.0.0.0:5001", false);
    let mut ports = BTreeSet::new();
    for i in 0..10 {
        let fd = sim.socket(cli);
        assert_eq!(sim.bind(cli, fd, "127.0.0.1:0"), OK, "bind #{i}");
        let dst = if i % 2 == 0 { "127.0.0.1:5000" } else { "127.0.0.1:5001" };
        assert_eq!(sim.connect(cli, fd, dst), OK);
        ports.insert(sim.local(cli, fd).port());
    }
    assert_eq!(ports, (40000..=40009).collect::<BTreeSet<_>>());
    assert_eq!(sim.bind_new(cli, "127.0.0.1:0", false), Err(Errno::EADDRINUSE));
    // The ports are all explicit-bind ones, so connect() cannot share them either.
    assert_eq!(
        sim.connect_new(cli, "127.0.0.2:5000").map(|_| ()),
        Err(Errno::EADDRNOTAVAIL)
    );
}

// ---------------------------------------------------------------------------------------------
// §2.1 bind conflicts, §3.3 bind errors, §3.4 TIME_WAIT and bind
// ---------------------------------------------------------------------------------------------

/// linux-facts.md §2.1 (Verified): A binds 127.0.0.1:6001, B binds 127.0.0.2:6001 (ok), C
/// binds 0.0.0.0:6001 → EADDRINUSE; the reverse order (wildcard first, then a specific
/// address) fails too.
#[test]
fn specific_and_wildcard_binds_conflict_both_ways() {
    let (mut sim, _h, _srv, p) = loopback(1, (40000, 40009));
    assert_eq!(sim.bind_new(p, "127.0.0.1:6001", false), Ok(6001));
    assert_eq!(
        sim.bind_new(p, "127.0.0.2:6001", false),
        Ok(6001),
        "distinct specific addresses coexist"
    );
    assert_eq!(sim.bind_new(p, "0.0.0.0:6001", false), Err(Errno::EADDRINUSE));
    assert_eq!(
        sim.bind_new(p, "127.0.0.1:6001", false),
        Err(Errno::EADDRINUSE),
        "same address"
    );

    assert_eq!(sim.bind_new(p, "0.0.0.0:6002", false), Ok(6002));
    assert_eq!(sim.bind_new(p, "127.0.0.1:6002", false), Err(Errno::EADDRINUSE));
    assert_eq!(sim.bind_new(p, "0.0.0.0:6002", false), Err(Errno::EADDRINUSE));
}

/// linux-facts.md §2.1 (Verified): two SO_REUSEADDR sockets both bind 127.0.0.1:6000;
/// `listen(a)` is ok, `listen(b)` is EADDRINUSE; while `a` listens a third SO_REUSEADDR bind to
/// 127.0.0.1 or 0.0.0.0 is EADDRINUSE.
#[test]
fn reuseaddr_shares_a_port_until_one_listens() {
    let (mut sim, _h, _srv, p) = loopback(1, (40000, 40009));
    let a = sim.socket(p);
    let b = sim.socket(p);
    sim.reuseaddr(p, a);
    sim.reuseaddr(p, b);
    assert_eq!(sim.bind(p, a, "127.0.0.1:6000"), OK);
    assert_eq!(
        sim.bind(p, b, "127.0.0.1:6000"),
        OK,
        "both set SO_REUSEADDR, neither listens"
    );
    assert_eq!(sim.listen(p, a, 5), OK);
    assert_eq!(
        sim.listen(p, b, 5),
        err(Errno::EADDRINUSE),
        "a already listens on the port"
    );
    assert_eq!(sim.bind_new(p, "127.0.0.1:6000", true), Err(Errno::EADDRINUSE));
    assert_eq!(sim.bind_new(p, "0.0.0.0:6000", true), Err(Errno::EADDRINUSE));
}

/// linux-facts.md §2.1 (Verified): a wildcard listener with SO_REUSEADDR on P → a specific
/// SO_REUSEADDR bind to 127.0.0.1:P is EADDRINUSE; and SO_REUSEADDR helps only if both sides
/// set it (§2.2 "Reuse needs both sides to set the option").
#[test]
fn reuseaddr_needs_both_sides_and_a_non_listener() {
    let (mut sim, _h, _srv, p) = loopback(1, (40000, 40009));
    sim.listener(p, "0.0.0.0:6010", true);
    assert_eq!(sim.bind_new(p, "127.0.0.1:6010", true), Err(Errno::EADDRINUSE));

    assert_eq!(sim.bind_new(p, "127.0.0.1:6011", true), Ok(6011));
    assert_eq!(
        sim.bind_new(p, "127.0.0.1:6011", false),
        Err(Errno::EADDRINUSE),
        "only the first set it"
    );
    assert_eq!(sim.bind_new(p, "0.0.0.0:6012", false), Ok(6012));
    assert_eq!(
        sim.bind_new(p, "127.0.0.1:6012", true),
        Err(Errno::EADDRINUSE),
        "only the second set it"
    );
    assert_eq!(sim.bind_new(p, "127.0.0.1:6011", true), Ok(6011), "both set it");
}

/// linux-facts.md §2.1 (Verified): SO_REUSEPORT on both (same uid: socksim's processes are
/// all root) → bind + listen twice is ok; a third socket without SO_REUSEPORT is EADDRINUSE;
/// if only the first or only the second sets it, the second bind is EADDRINUSE.
#[test]
fn reuseport_needs_the_option_on_every_socket() {
    let (mut sim, _h, _srv, p) = loopback(1, (40000, 40009));
    let reuseport_socket = |sim: &mut Sim, on: bool| {
        let fd = sim.socket(p);
        if on {
            let set = Syscall::SetSockOpt {
                fd,
                level: SOL_SOCKET,
                name: SO_REUSEPORT,
                value: 1,
            };
            assert_eq!(sim.call(p, set), OK);
        }
        fd
    };
    for _ in 0..2 {
        let fd = reuseport_socket(&mut sim, true);
        assert_eq!(sim.bind(p, fd, "127.0.0.1:6020"), OK);
        assert_eq!(sim.listen(p, fd, 5), OK);
    }
    let third = reuseport_socket(&mut sim, false);
    assert_eq!(sim.bind(p, third, "127.0.0.1:6020"), err(Errno::EADDRINUSE));

    let first = reuseport_socket(&mut sim, true);
    assert_eq!(sim.bind(p, first, "127.0.0.1:6021"), OK);
    let second = reuseport_socket(&mut sim, false);
    assert_eq!(
        sim.bind(p, second, "127.0.0.1:6021"),
        err(Errno::EADDRINUSE),
        "only the first set it"
    );

    let first = reuseport_socket(&mut sim, false);
    assert_eq!(sim.bind(p, first, "127.0.0.1:6022"), OK);
    let second = reuseport_socket(&mut sim, true);
    assert_eq!(
        sim.bind(p, second, "127.0.0.1:6022"),
        err(Errno::EADDRINUSE),
        "only the second set it"
    );
}

/// linux-facts.md §2.1/§3.3 and §8: a second `bind()` on a socket is EINVAL (also after
/// connect() autobound it); binding an address that is not local is EADDRNOTAVAIL.
#[test]
fn double_bind_is_einval_and_non_local_is_eaddrnotavail() {
    let (mut sim, _server, _client, srv, cli) = lan(1, (40000, 40009));
    let fd = sim.socket(cli);
    assert_eq!(sim.bind(cli, fd, "10.0.0.2:7000"), OK);
    assert_eq!(sim.bind(cli, fd, "10.0.0.2:7001"), err(Errno::EINVAL));
    assert_eq!(sim.bind(cli, fd, "0.0.0.0:0"), err(Errno::EINVAL));

    sim.listener(srv, "0.0.0.0:80", false);
    let (c, _) = sim.connect_new(cli, "10.0.0.1:80").unwrap();
    assert_eq!(
        sim.bind(cli, c, "0.0.0.0:0"),
        err(Errno::EINVAL),
        "connect() already autobound it"
    );

    for addr in ["10.0.0.1:7000", "10.0.0.5:7000", "192.0.2.1:7000", "10.0.0.3:0"] {
        assert_eq!(
            sim.bind_new(cli, addr, false),
            Err(Errno::EADDRNOTAVAIL),
            "bind({addr}) on the client"
        );
    }
    assert_eq!(
        sim.bind_new(srv, "10.0.0.5:7000", false),
        Ok(7000),
        "the server's second address is local"
    );
    assert_eq!(
        sim.bind_new(srv, "127.0.0.9:7000", false),
        Ok(7000),
        "all of 127/8 is local"
    );
}

/// linux-facts.md §3.4 (Verified, tw2.py): the server accepts and closes first, so the server
/// keeps the TIME_WAIT on 127.0.0.1:8000. After the listener is closed, binding 127.0.0.1:8000
/// or 0.0.0.0:8000 is EADDRINUSE — also with SO_REUSEADDR on the new socket only, since the
/// old listener (and so its child) did not set it.
#[test]
fn server_time_wait_blocks_rebinding_without_reuseaddr_on_both() {
    for old_reuse in [false, true] {
        let (mut sim, h, srv, cli) = loopback(2, (40000, 40009));
        let lfd = sim.listener(srv, "127.0.0.1:8000", old_reuse);
        let (cfd, _) = sim.connect_new(cli, "127.0.0.1:8000").unwrap();
        let (afd, _) = sim.accept(srv, lfd);
        sim.close(srv, afd);
        sim.settle();
        assert_eq!(sim.recv(cli, cfd), SysReturn::Data { data: vec![] });
        sim.close(cli, cfd);
        sim.settle();
        sim.close(srv, lfd);
        let tw: Vec<_> = sim.w.ss(h).into_iter().filter(|r| r.state == "TIME-WAIT").collect();
        assert_eq!(tw.len(), 1, "{tw:?}");
        assert_eq!(tw[0].local, "127.0.0.1:8000", "the server closed first");
        assert_eq!(sim.bind_new(srv, "127.0.0.1:8000", false), Err(Errno::EADDRINUSE));
        assert_eq!(sim.bind_new(srv, "0.0.0.0:8000", false), Err(Errno::EADDRINUSE));
        let with_reuse = sim.bind_new(srv, "127.0.0.1:8000", true);
        if old_reuse {
            assert_eq!(
                with_reuse,
                Ok(8000),
                "both the old listener and the new socket set SO_REUSEADDR"
            );
        } else {
            assert_eq!(
                with_reuse,
                Err(Errno::EADDRINUSE),
                "the old listener did not set SO_REUSEADDR"
            );
        }
    }
}

/// linux-facts.md §3.4 (Verified): the client closes first, so the TIME_WAIT is on the client's
/// ephemeral port. A new listener may bind the server port with no options; explicitly binding
/// the client's TIME_WAIT port is EADDRINUSE even with SO_REUSEADDR (the connected socket did
/// not set it).
#[test]
fn client_time_wait_keeps_its_ephemeral_port() {
    let (mut sim, h, srv, cli) = loopback(2, (40000, 40009));
    let lfd = sim.listener(srv, "127.0.0.1:8000", false);
    let port = connect_close_cycle(&mut sim, srv, cli, lfd, "127.0.0.1:8000").unwrap();
    assert_eq!(sim.count_state(h, "TIME-WAIT"), 1);
    sim.close(srv, lfd);
    assert_eq!(
        sim.bind_new(srv, "127.0.0.1:8000", false),
        Ok(8000),
        "the server port is free"
    );
    let addr = format!("127.0.0.1:{port}");
    assert_eq!(sim.bind_new(cli, &addr, false), Err(Errno::EADDRINUSE));
    assert_eq!(sim.bind_new(cli, &addr, true), Err(Errno::EADDRINUSE));
}

/// Ten connections to 127.0.0.1:5000 that the server never accepts, closed by the client:
/// each client socket waits, orphaned, in FIN_WAIT2 (the server's child sits in CLOSE_WAIT in
/// the accept queue and never answers with its FIN). Returns the client ports.
fn ten_orphaned_fin_wait2(sim: &mut Sim, h: HostId, srv: Pid, cli: Pid) -> Vec<u16> {
    sim.listener(srv, "0.0.0.0:5000", false);
    let mut ports = Vec::new();
    for _ in 0..10 {
        let (fd, local) = sim.connect_new(cli, "127.0.0.1:5000").unwrap();
        sim.close(cli, fd);
        sim.settle();
        ports.push(local.port());
    }
    assert_eq!(sim.count_state(h, "FIN-WAIT-2"), 10);
    assert_eq!(sim.count_state(h, "CLOSE-WAIT"), 10);
    ports
}

/// linux-facts.md §3.4 ("Orphaned FIN_WAIT1/FIN_WAIT2/LAST_ACK sockets also keep holding
/// their port and 4-tuple. This was seen when clients closed connections that were never
/// accepted"): with all 10 ports held that way, connect() to the same destination is
/// EADDRNOTAVAIL, to another destination it still shares the ports, and an explicit bind of
/// one of them is EADDRINUSE.
#[test]
fn orphaned_fin_wait2_keeps_its_port_and_tuple() {
    let (mut sim, h, srv, cli) = loopback(5, (40000, 40009));
    let ports = ten_orphaned_fin_wait2(&mut sim, h, srv, cli);
    assert_eq!(
        sim.connect_new(cli, "127.0.0.1:5000").map(|_| ()),
        Err(Errno::EADDRNOTAVAIL)
    );
    let (_, other) = sim.connect_new(cli, "127.0.0.2:5000").expect("another destination");
    assert!(ports.contains(&other.port()));
    assert_eq!(
        sim.bind_new(cli, &format!("127.0.0.1:{}", ports[0]), true),
        Err(Errno::EADDRINUSE)
    );
}

/// linux-facts.md §3.4 ("`tcp_fin_timeout` controls only orphaned FIN_WAIT2"): an orphaned
/// FIN_WAIT2 socket does not wait forever for the peer's FIN. When the ACK of its FIN arrives,
/// `tcp_rcv_state_process()` hands it to `tcp_time_wait(sk, TCP_FIN_WAIT2, tmo)` with
/// `tmo = tcp_fin_time()` = tcp_fin_timeout (60 s by default), after which the port and the
/// 4-tuple are free again.
#[test]
fn orphaned_fin_wait2_ends_after_tcp_fin_timeout() {
    let (mut sim, h, srv, cli) = loopback(5, (40000, 40009));
    ten_orphaned_fin_wait2(&mut sim, h, srv, cli);
    sim.run_for(Duration::from_secs(59));
    assert_eq!(
        sim.count_state(h, "FIN-WAIT-2"),
        10,
        "still there before tcp_fin_timeout"
    );
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.count_state(h, "FIN-WAIT-2"), 0, "gone after tcp_fin_timeout (60 s)");
    let (ports, e) = sim.connect_until_failure(cli, "127.0.0.1:5000", 10);
    assert_eq!((ports.len(), e), (10, Errno::EADDRNOTAVAIL), "{ports:?}");
}

/// linux-facts.md §1.5 (Verified, misc.py M1): tw_reuse=0 and a client TIME_WAIT on
/// 127.0.0.1:45000 → :5000 whose socket had SO_REUSEADDR. A new SO_REUSEADDR socket binds
/// 127.0.0.1:45000 (ok) and connects to :5000 — it succeeds, taking over the TIME_WAIT.
#[test]
fn explicitly_bound_connect_recycles_time_wait_regardless_of_tw_reuse() {
    let (mut sim, h, srv, cli) = loopback(2, (40000, 40009));
    sim.w.set_sysctl(h, "net.ipv4.tcp_tw_reuse", &[0]).unwrap();
    let lfd = sim.listener(srv, "127.0.0.1:5000", false);
    let fd = sim.socket(cli);
    sim.reuseaddr(cli, fd);
    assert_eq!(sim.bind(cli, fd, "127.0.0.1:45000"), OK);
    assert_eq!(sim.connect(cli, fd, "127.0.0.1:5000"), OK);
    let (afd, _) = sim.accept(srv, lfd);
    sim.close(cli, fd);
    sim.settle();
    sim.close(srv, afd);
    sim.settle();
    assert_eq!(sim.count_state(h, "TIME-WAIT"), 1);

    let fd = sim.socket(cli);
    sim.reuseaddr(cli, fd);
    assert_eq!(
        sim.bind(cli, fd, "127.0.0.1:45000"),
        OK,
        "both SO_REUSEADDR, the other is TIME_WAIT"
    );
    assert_eq!(sim.connect(cli, fd, "127.0.0.1:5000"), OK, "the TIME_WAIT is recycled");
    assert_eq!(sim.count_state(h, "TIME-WAIT"), 0, "and disappears");
    assert_eq!(sim.local(cli, fd), sa("127.0.0.1:45000"));
}

// ---------------------------------------------------------------------------------------------
// Determinism (§7)
// ---------------------------------------------------------------------------------------------

/// The ports of 20 connects (two destinations) and 5 `bind(0)`, default range, for `seed`.
fn port_sequence(seed: u64) -> Vec<u16> {
    let (mut sim, _h, srv, cli) = loopback(seed, (32768, 60999));
    sim.listener(srv, "127.0.0.1:5000", false);
    sim.listener(srv, "127.0.0.1:5001", false);
    let mut ports = Vec::new();
    for i in 0..20 {
        let dst = if i < 10 { "127.0.0.1:5000" } else { "127.0.0.1:5001" };
        ports.push(sim.connect_new(cli, dst).unwrap().1.port());
    }
    for _ in 0..5 {
        ports.push(sim.bind_new(cli, "0.0.0.0:0", false).unwrap());
    }
    ports
}

/// linux-facts.md §7: every source of randomness is seeded, so the port sequence is identical
/// for the same seed, and differs for other seeds.
#[test]
fn port_choices_are_a_function_of_the_seed() {
    let a = port_sequence(42);
    assert_eq!(a, port_sequence(42), "same seed, same ports");
    let differing = (0..8u64).filter(|&s| port_sequence(s) != a).count();
    assert_eq!(differing, 8, "every other seed gives another sequence");
    // Within one run, successive connects to one destination walk the range.
    assert!(a[..10].iter().collect::<BTreeSet<_>>().len() == 10, "{a:?}");
}
