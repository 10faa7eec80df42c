//! Property tests of connect()'s port allocator against a brute-force model.
//!
//! One client host with a small port range (8 ports, `net.ipv4.tcp_tw_reuse = 0`) opens and
//! closes connections toward four destinations (two server hosts × two listening ports) in a
//! random order, sometimes letting 61 s of virtual time pass. After every operation:
//!
//! * (a) no two live client sockets share a 4-tuple — checked on the `ss` rows and on
//!   `getsockname`/`getpeername` of every open descriptor — and the rows are exactly the
//!   model's open connections (ESTAB) and TIME_WAIT remnants;
//! * (b) connect() reports EADDRNOTAVAIL only when the model has no free 4-tuple toward that
//!   destination, and succeeds only on a 4-tuple the model says is free. A pair (port,
//!   destination) is busy while an open connection or a TIME_WAIT uses it (the client closes
//!   first, so it keeps the TIME_WAIT for 60 s; `tcp_tw_reuse = 0` never recycles it);
//! * (c) connect() uses a port of the range's low-end parity whenever one is free for that
//!   destination (linux-facts.md §1.2 steps 4–5: the first pass scans that parity only).
//!
//! No socket is bound explicitly, so every port of the range is a candidate (§1.2 step 4).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use sim_core::{Duration, Instant};
use sim_kernel::syscall::{Fd, SysReturn, Syscall};
use sim_kernel::syscalls::{AF_INET, SOCK_STREAM};
use sim_kernel::{Errno, HostId, Next, Outcome, Pid, World};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

// ---------------------------------------------------------------------------------------------
// A small synchronous driver: one call at a time per process, blocked calls resumed in the
// background while the world runs.
// ---------------------------------------------------------------------------------------------

const OK: SysReturn = SysReturn::Value { value: 0 };

struct Sim {
    w: World,
    pending: BTreeMap<Pid, Syscall>,
    finished: BTreeMap<Pid, SysReturn>,
}

impl Sim {
    fn start(&mut self, pid: Pid, call: Syscall) -> Option<SysReturn> {
        assert!(!self.pending.contains_key(&pid), "{pid:?} is already inside a call");
        match self.w.syscall(pid, &call, false) {
            Outcome::Done(r) => Some(r),
            Outcome::Blocked => {
                self.pending.insert(pid, call);
                None
            }
        }
    }

    fn step(&mut self, until: Instant) -> bool {
        match self.w.next(Some(until)) {
            Next::Run(pid) => {
                if let Some(call) = self.pending.get(&pid).cloned()
                    && let Outcome::Done(r) = self.w.syscall(pid, &call, true)
                {
                    self.pending.remove(&pid);
                    self.finished.insert(pid, r);
                }
                true
            }
            Next::Idle | Next::TimeLimit => false,
        }
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.w.now().after(d);
        while self.step(until) {}
    }

    /// Lets segments in flight arrive (the LAN's latency is 100 µs).
    fn settle(&mut self) {
        self.run_for(Duration::from_millis(5));
    }

    fn call(&mut self, pid: Pid, call: Syscall) -> SysReturn {
        if let Some(r) = self.start(pid, call) {
            return r;
        }
        let deadline = self.w.now().after(Duration::from_secs(10));
        loop {
            if let Some(r) = self.finished.remove(&pid) {
                return r;
            }
            assert!(self.step(deadline), "a call of {pid:?} did not finish within 10 s");
        }
    }

    fn socket(&mut self, pid: Pid) -> Fd {
        let call = Syscall::Socket {
            domain: AF_INET,
            ty: SOCK_STREAM,
            protocol: 0,
        };
        match self.call(pid, call) {
            SysReturn::Value { value } => Fd::try_from(value).expect("a descriptor"),
            other => panic!("socket() failed: {other:?}"),
        }
    }

    fn addr_of(&mut self, pid: Pid, call: Syscall) -> SocketAddr {
        match self.call(pid, call.clone()) {
            SysReturn::Addr { addr } => addr.inet().unwrap(),
            other => panic!("{call:?} failed: {other:?}"),
        }
    }

    fn close(&mut self, pid: Pid, fd: Fd) {
        assert_eq!(self.call(pid, Syscall::Close { fd }), OK, "close({fd})");
    }
}

// ---------------------------------------------------------------------------------------------
// The world and the model
// ---------------------------------------------------------------------------------------------

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 10);
const LOW: u16 = 40000;
const HIGH: u16 = 40007;
const DESTS: [(Ipv4Addr, u16); 4] = [
    (Ipv4Addr::new(10, 0, 0, 1), 80),
    (Ipv4Addr::new(10, 0, 0, 1), 443),
    (Ipv4Addr::new(10, 0, 0, 2), 80),
    (Ipv4Addr::new(10, 0, 0, 2), 443),
];

fn dest(d: usize) -> SocketAddr {
    SocketAddrV4::new(DESTS[d].0, DESTS[d].1).into()
}

/// One open connection as the model sees it.
#[derive(Clone, Debug)]
struct Conn {
    client_fd: Fd,
    port: u16,
    dest: usize,
    server_fd: Fd,
}

struct Harness {
    sim: Sim,
    client: HostId,
    cli: Pid,
    /// One process per server host, holding listeners on ports 80 (fd 3) and 443 (fd 4).
    servers: [Pid; 2],
    listeners: [Fd; 2],
    open: Vec<Conn>,
    /// (port, destination) pairs held by the client's TIME_WAITs.
    time_wait: BTreeSet<(u16, usize)>,
}

impl Harness {
    fn new(seed: u64) -> Harness {
        let mut w = World::new(seed);
        let net = w
            .add_network("lan", Ipv4Addr::new(10, 0, 0, 0).into(), 24, Duration::from_micros(100))
            .unwrap();
        let s1 = w.add_host("s1").unwrap();
        let s2 = w.add_host("s2").unwrap();
        let client = w.add_host("client").unwrap();
        w.add_addr(s1, DESTS[0].0.into(), net).unwrap();
        w.add_addr(s2, DESTS[2].0.into(), net).unwrap();
        w.add_addr(client, CLIENT.into(), net).unwrap();
        w.set_sysctl(
            client,
            "net.ipv4.ip_local_port_range",
            &[i64::from(LOW), i64::from(HIGH)],
        )
        .unwrap();
        w.set_sysctl(client, "net.ipv4.tcp_tw_reuse", &[0]).unwrap();
        let servers = [w.spawn(s1, "srv1", Instant::ZERO), w.spawn(s2, "srv2", Instant::ZERO)];
        let cli = w.spawn(client, "cli", Instant::ZERO);
        let mut sim = Sim {
            w,
            pending: BTreeMap::new(),
            finished: BTreeMap::new(),
        };
        let mut listeners = [0; 2];
        for &srv in &servers {
            for (i, port) in [80, 443].into_iter().enumerate() {
                let fd = sim.socket(srv);
                let bind = Syscall::Bind {
                    fd,
                    addr: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into(),
                };
                assert_eq!(sim.call(srv, bind), OK);
                assert_eq!(sim.call(srv, Syscall::Listen { fd, backlog: 128 }), OK);
                listeners[i] = fd;
            }
        }
        Harness {
            sim,
            client,
            cli,
            servers,
            listeners,
            open: Vec::new(),
            time_wait: BTreeSet::new(),
        }
    }

    /// Whether the model has (port, destination) in use.
    fn busy(&self, port: u16, d: usize) -> bool {
        self.time_wait.contains(&(port, d)) || self.open.iter().any(|c| c.port == port && c.dest == d)
    }

    fn free_ports(&self, d: usize) -> Vec<u16> {
        (LOW..=HIGH).filter(|&p| !self.busy(p, d)).collect()
    }

    fn connect(&mut self, d: usize) -> Result<(), TestCaseError> {
        let free = self.free_ports(d);
        let cli = self.cli;
        let fd = self.sim.socket(cli);
        match self.sim.call(
            cli,
            Syscall::Connect {
                fd,
                addr: dest(d).into(),
            },
        ) {
            OK => {
                let local = self.sim.addr_of(cli, Syscall::GetSockName { fd });
                let peer = self.sim.addr_of(cli, Syscall::GetPeerName { fd });
                prop_assert_eq!(peer, dest(d));
                prop_assert_eq!(local.ip(), CLIENT, "the source address is the route's");
                let port = local.port();
                prop_assert!((LOW..=HIGH).contains(&port), "port {} outside the range", port);
                prop_assert!(
                    free.contains(&port),
                    "(b) connect to {} took port {}, whose 4-tuple is busy; free: {:?}",
                    dest(d),
                    port,
                    free
                );
                prop_assert!(
                    (port - LOW) % 2 == 0 || free.iter().all(|p| (p - LOW) % 2 == 1),
                    "(c) connect to {} took odd port {} while even ports were free: {:?}",
                    dest(d),
                    port,
                    free
                );
                let (srv, lfd) = (self.servers[d / 2], self.listeners[d % 2]);
                let (server_fd, seen) = match self.sim.call(srv, Syscall::Accept { fd: lfd }) {
                    SysReturn::Accepted { fd, peer } => (fd, peer.inet().unwrap()),
                    other => return Err(TestCaseError::fail(format!("accept: {other:?}"))),
                };
                prop_assert_eq!(seen, local, "the server sees the client's 4-tuple");
                self.open.push(Conn {
                    client_fd: fd,
                    port,
                    dest: d,
                    server_fd,
                });
            }
            SysReturn::Error {
                errno: Errno::EADDRNOTAVAIL,
            } => {
                prop_assert!(
                    free.is_empty(),
                    "(b) connect to {} failed EADDRNOTAVAIL while ports {:?} were free",
                    dest(d),
                    free
                );
                self.sim.close(cli, fd);
            }
            other => return Err(TestCaseError::fail(format!("connect to {}: {other:?}", dest(d)))),
        }
        Ok(())
    }

    /// The client closes first, then the server: the client keeps the TIME_WAIT.
    fn close(&mut self, i: usize) -> Result<(), TestCaseError> {
        if self.open.is_empty() {
            return Ok(());
        }
        let conn = self.open.remove(i % self.open.len());
        self.sim.close(self.cli, conn.client_fd);
        self.sim.settle();
        let srv = self.servers[conn.dest / 2];
        let eof = self.sim.call(
            srv,
            Syscall::Recv {
                fd: conn.server_fd,
                len: 100,
                flags: 0,
            },
        );
        prop_assert_eq!(eof, SysReturn::Data { data: vec![] }, "the server reads EOF");
        self.sim.close(srv, conn.server_fd);
        self.sim.settle();
        self.time_wait.insert((conn.port, conn.dest));
        Ok(())
    }

    /// 61 s pass: every TIME_WAIT (60 s) is over.
    fn wait(&mut self) {
        self.sim.run_for(Duration::from_secs(61));
        self.time_wait.clear();
    }

    /// (a): every live client socket has its own 4-tuple, and the kernel's view matches the
    /// model's.
    fn check(&mut self) -> Result<(), TestCaseError> {
        let rows = self.sim.w.ss(self.client);
        let mut tuples = BTreeSet::new();
        for r in &rows {
            prop_assert!(
                tuples.insert((r.local.clone(), r.peer.clone())),
                "(a) two client sockets share {} -> {}: {:?}",
                r.local,
                r.peer,
                rows
            );
        }
        let row = |port: u16, d: usize| (format!("{CLIENT}:{port}"), dest(d).to_string());
        let estab: BTreeSet<_> = rows
            .iter()
            .filter(|r| r.state == "ESTAB")
            .map(|r| (r.local.clone(), r.peer.clone()))
            .collect();
        let tw: BTreeSet<_> = rows
            .iter()
            .filter(|r| r.state == "TIME-WAIT")
            .map(|r| (r.local.clone(), r.peer.clone()))
            .collect();
        let model_estab: BTreeSet<_> = self.open.iter().map(|c| row(c.port, c.dest)).collect();
        let model_tw: BTreeSet<_> = self.time_wait.iter().map(|&(p, d)| row(p, d)).collect();
        prop_assert_eq!(estab, model_estab, "ESTAB rows");
        prop_assert_eq!(tw, model_tw, "TIME-WAIT rows");
        prop_assert_eq!(
            rows.len(),
            self.open.len() + self.time_wait.len(),
            "no other rows: {:?}",
            rows
        );

        let mut seen = BTreeSet::new();
        for c in self.open.clone() {
            let local = self.sim.addr_of(self.cli, Syscall::GetSockName { fd: c.client_fd });
            let peer = self.sim.addr_of(self.cli, Syscall::GetPeerName { fd: c.client_fd });
            prop_assert!(
                seen.insert((local, peer)),
                "(a) {} -> {} twice among open sockets",
                local,
                peer
            );
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// Connect a new socket to destination k.
    Connect(usize),
    /// Close the i-th open client socket (modulo how many are open).
    Close(usize),
    /// Let 61 s of virtual time pass.
    Wait,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..DESTS.len()).prop_map(Op::Connect),
        3 => (0..32usize).prop_map(Op::Close),
        1 => Just(Op::Wait),
    ]
}

fn config() -> Config {
    Config {
        cases: 64,
        // Deterministic: the same cases on every run, and no regression files written.
        rng_seed: RngSeed::Fixed(0x50c5_1a70),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Properties (a), (b) and (c) of the module docs after every operation.
    #[test]
    fn connect_allocates_unique_tuples_and_only_fails_when_full(
        seed in 0u64..1_000_000,
        ops in prop::collection::vec(op(), 1..80),
    ) {
        let mut h = Harness::new(seed);
        for op in ops {
            match op {
                Op::Connect(d) => h.connect(d)?,
                Op::Close(i) => h.close(i)?,
                Op::Wait => h.wait(),
            }
            h.check()?;
        }
    }
}

/// The properties are not vacuous: a fixed run exhausts a destination's 8 ports, sees
/// EADDRNOTAVAIL, frees one with a TIME_WAIT (still EADDRNOTAVAIL toward that destination, but
/// not toward another), and gets all 8 back after TIME_WAIT ends.
#[test]
fn model_walkthrough() {
    let mut h = Harness::new(1);
    for _ in 0..8 {
        h.connect(0).unwrap();
    }
    assert!(h.free_ports(0).is_empty());
    let cli = h.cli;
    let fd = h.sim.socket(cli);
    let r = h.sim.call(
        cli,
        Syscall::Connect {
            fd,
            addr: dest(0).into(),
        },
    );
    assert_eq!(r.errno(), Some(Errno::EADDRNOTAVAIL));
    h.sim.close(cli, fd);
    h.close(0).unwrap();
    h.check().unwrap();
    assert_eq!(h.time_wait.len(), 1);
    assert!(h.free_ports(0).is_empty(), "the TIME_WAIT still holds the tuple");
    h.connect(1).unwrap();
    h.wait();
    h.check().unwrap();
    assert_eq!(h.free_ports(0).len(), 1);
    h.connect(0).unwrap();
    h.check().unwrap();
    assert_eq!(h.open.len(), 9);
}
