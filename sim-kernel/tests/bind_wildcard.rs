//! Linux's `tools/testing/selftests/net/bind_wildcard.c` matrix (linux-facts.md §2.2; all 132
//! of its cases pass on Linux 6.18): two TCP sockets bind the addresses of a row to one port
//! (the first with port 0), optionally both with `SO_REUSEADDR`; then six more sockets without
//! options bind, in order, `0.0.0.0`, `127.0.0.1`, `::`, `::1`, `::ffff:0.0.0.0` and
//! `::ffff:127.0.0.1` to that port. Every socket stays open, and every result must match.

mod support;

use sim_core::Duration;
use sim_kernel::syscall::{SockAddr, Syscall};
use sim_kernel::syscalls::{AF_INET, AF_INET6, IPPROTO_IPV6, IPV6_V6ONLY, SOCK_STREAM};
use sim_kernel::{Errno, Pid, World};
use std::net::{IpAddr, SocketAddr};
use support::Sim;

/// The table, as in the fact sheet: sk0 | sk1 | plain results | results with SO_REUSEADDR.
const TABLE: &str = "
0.0.0.0 | 127.0.0.1 | INUSE INUSE INUSE INUSE ok INUSE INUSE | ok INUSE INUSE INUSE ok INUSE INUSE
127.0.0.1 | 0.0.0.0 | INUSE INUSE INUSE INUSE ok INUSE INUSE | ok INUSE INUSE INUSE ok INUSE INUSE
0.0.0.0 | :: | INUSE INUSE INUSE INUSE ok INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
0.0.0.0 | :: (v6only) | ok INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
0.0.0.0 | ::1 | ok INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
0.0.0.0 | ::ffff:0.0.0.0 | INUSE INUSE INUSE INUSE ok INUSE INUSE | ok INUSE INUSE INUSE ok INUSE INUSE
0.0.0.0 | ::ffff:127.0.0.1 | INUSE INUSE INUSE INUSE ok INUSE INUSE | ok INUSE INUSE INUSE ok INUSE INUSE
127.0.0.1 | :: | INUSE INUSE INUSE INUSE ok INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
127.0.0.1 | :: (v6only) | ok INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
127.0.0.1 | ::1 | ok INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
127.0.0.1 | ::ffff:0.0.0.0 | INUSE INUSE INUSE INUSE ok INUSE INUSE | ok INUSE INUSE INUSE ok INUSE INUSE
127.0.0.1 | ::ffff:127.0.0.1 | INUSE INUSE INUSE INUSE ok INUSE INUSE | ok INUSE INUSE INUSE ok INUSE INUSE
:: | 0.0.0.0 | INUSE INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
:: (v6only) | 0.0.0.0 | ok INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
:: | 127.0.0.1 | INUSE INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
:: (v6only) | 127.0.0.1 | ok INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
::1 | 0.0.0.0 | ok INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
::1 | 127.0.0.1 | ok INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
::ffff:0.0.0.0 | 0.0.0.0 | INUSE INUSE INUSE INUSE ok INUSE INUSE | ok INUSE INUSE INUSE ok INUSE INUSE
::ffff:0.0.0.0 | 127.0.0.1 | INUSE INUSE INUSE INUSE ok INUSE INUSE | ok INUSE INUSE INUSE ok INUSE INUSE
::ffff:127.0.0.1 | 0.0.0.0 | INUSE INUSE INUSE INUSE ok INUSE INUSE | ok INUSE INUSE INUSE ok INUSE INUSE
::ffff:127.0.0.1 | 127.0.0.1 | INUSE INUSE INUSE INUSE ok INUSE INUSE | ok INUSE INUSE INUSE ok INUSE INUSE
:: | :: | INUSE INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
:: (v6only) | :: | INUSE ok INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
:: | :: (v6only) | INUSE INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
:: (v6only) | :: (v6only) | INUSE ok INUSE INUSE INUSE INUSE INUSE | ok ok INUSE INUSE INUSE INUSE INUSE
:: | ::1 | INUSE INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
:: (v6only) | ::1 | INUSE ok INUSE INUSE INUSE INUSE INUSE | ok ok INUSE INUSE INUSE INUSE INUSE
:: | ::ffff:0.0.0.0 | INUSE INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
:: (v6only) | ::ffff:0.0.0.0 | ok INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
:: | ::ffff:127.0.0.1 | INUSE INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
:: (v6only) | ::ffff:127.0.0.1 | ok INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
::1 | :: | INUSE ok INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
::1 | :: (v6only) | INUSE ok INUSE INUSE INUSE INUSE INUSE | ok ok INUSE INUSE INUSE INUSE INUSE
::1 | ::ffff:0.0.0.0 | ok INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
::1 | ::ffff:127.0.0.1 | ok INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
::ffff:0.0.0.0 | :: | INUSE INUSE INUSE INUSE ok INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
::ffff:0.0.0.0 | :: (v6only) | ok INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
::ffff:0.0.0.0 | ::1 | ok INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
::ffff:0.0.0.0 | ::ffff:127.0.0.1 | INUSE INUSE INUSE INUSE ok INUSE INUSE | ok INUSE INUSE INUSE ok INUSE INUSE
::ffff:127.0.0.1 | :: | INUSE INUSE INUSE INUSE ok INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
::ffff:127.0.0.1 | :: (v6only) | ok INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
::ffff:127.0.0.1 | ::1 | ok INUSE INUSE INUSE INUSE INUSE INUSE | ok INUSE INUSE INUSE INUSE INUSE INUSE
::ffff:127.0.0.1 | ::ffff:0.0.0.0 | INUSE INUSE INUSE INUSE ok INUSE INUSE | ok INUSE INUSE INUSE ok INUSE INUSE
";

const FIXED: [&str; 6] = [
    "0.0.0.0",
    "127.0.0.1",
    "::",
    "::1",
    "::ffff:0.0.0.0",
    "::ffff:127.0.0.1",
];

/// One process on a host that has only loopback, with room for all the table's sockets.
fn selftest() -> (Sim, Pid) {
    let mut world = World::new(1);
    let h = world.add_host("h").unwrap();
    let mut sim = Sim::new(world, Duration::ZERO);
    let pid = sim.spawn(h, "selftest");
    sim.w
        .set_nofile_limit(pid, sim_kernel::process::Rlimit { soft: 4096, hard: 4096 });
    (sim, pid)
}

/// A socket for `spec` (`::1`, `:: (v6only)`, ...), with SO_REUSEADDR if `reuse`, bound to
/// `port`; returns the result and the port it got.
fn bind(sim: &mut Sim, pid: Pid, spec: &str, port: u16, reuse: bool) -> (Result<(), Errno>, u16) {
    let (text, v6only) = match spec.strip_suffix(" (v6only)") {
        Some(t) => (t, true),
        None => (spec, false),
    };
    let ip: IpAddr = text.parse().unwrap();
    let domain = if ip.is_ipv4() { AF_INET } else { AF_INET6 };
    let socket = Syscall::Socket {
        domain,
        ty: SOCK_STREAM,
        protocol: 0,
    };
    let fd = sim.call_now(pid, socket).value() as i32;
    if reuse {
        sim.reuseaddr(pid, fd);
    }
    if v6only {
        let v6only = Syscall::SetSockOpt {
            fd,
            level: IPPROTO_IPV6,
            name: IPV6_V6ONLY,
            value: 1,
        };
        assert_eq!(sim.call_now(pid, v6only), support::OK);
    }
    let bind = Syscall::Bind {
        fd,
        addr: SockAddr::Inet(SocketAddr::new(ip, port)),
    };
    if let Some(e) = sim.call_now(pid, bind).errno() {
        return (Err(e), port);
    }
    (Ok(()), sim.local(pid, fd).port())
}

fn expect(word: &str) -> Result<(), Errno> {
    match word {
        "ok" => Ok(()),
        "INUSE" => Err(Errno::EADDRINUSE),
        other => panic!("bad table entry {other}"),
    }
}

#[test]
fn the_bind_wildcard_matrix_holds_in_full() {
    let mut cases = 0;
    for row in TABLE.lines().filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = row.split('|').map(str::trim).collect();
        let (sk0, sk1) = (cols[0], cols[1]);
        for (reuse, results) in [(false, cols[2]), (true, cols[3])] {
            let want: Vec<Result<(), Errno>> = results.split_whitespace().map(expect).collect();
            assert_eq!(want.len(), 7);
            let (mut sim, pid) = selftest();
            let (first, port) = bind(&mut sim, pid, sk0, 0, reuse);
            assert_eq!(first, Ok(()), "{sk0} binds port 0");
            let mut got = vec![bind(&mut sim, pid, sk1, port, reuse).0];
            for fixed in FIXED {
                got.push(bind(&mut sim, pid, fixed, port, false).0);
            }
            let labels: Vec<&str> = std::iter::once(sk1).chain(FIXED).collect();
            for ((label, w), g) in labels.iter().zip(&want).zip(&got) {
                assert_eq!(
                    g,
                    w,
                    "row `{sk0} | {sk1}` ({}): bind of {label}",
                    if reuse { "reuse" } else { "plain" }
                );
                cases += 1;
            }
            sim.w.check_invariants().unwrap();
        }
    }
    assert_eq!(cases, 44 * 2 * 7, "every entry of the table was checked");
}
