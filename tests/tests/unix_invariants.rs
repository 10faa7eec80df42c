//! Property test of the Unix-domain sockets: random programs of socket, socketpair, bind,
//! listen, connect, accept, send, sendto, descriptor passing, recv, recvmsg, shutdown, close,
//! dup, dup2, unlink, fork and exit, run by three processes on one host. After every step:
//!
//! * `World::check_invariants` holds: descriptor reference counts are exact (descriptors in
//!   processes and in flight), every live socket is reachable from a descriptor, an accept
//!   queue or a message in flight, a name (abstract, or a socket file) belongs to at most one
//!   live socket, and every queue's counts agree with its messages;
//! * no two sockets open in processes own the same name (abstract, or socket file); accepted
//!   connections share their listener's name without owning it;
//!
//! and when every process has exited, no Unix socket is left (cycles of sockets that only
//! messages in flight keep open are collected).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use sim_kernel::process::Desc;
use sim_kernel::syscall::{Cmsg, Fd, How, Payload, SockAddr, SysReturn, Syscall, UnixAddr};
use sim_kernel::syscalls::{AF_UNIX, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_STREAM, SOL_SOCKET};
use sim_kernel::unix::{SO_PASSCRED, SOCK_SEQPACKET};
use sim_kernel::{HostId, Next, Outcome, Pid, World};
use std::collections::BTreeMap;
use std::rc::Rc;

const TYPES: [i32; 3] = [SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET];

fn name(i: usize) -> SockAddr {
    match i % 5 {
        0 => SockAddr::Unix(UnixAddr::Path("/run/a".into())),
        1 => SockAddr::Unix(UnixAddr::Path("/tmp/b".into())),
        2 => SockAddr::Unix(UnixAddr::Abstract(b"a".to_vec())),
        3 => SockAddr::Unix(UnixAddr::Abstract(b"b".to_vec())),
        _ => SockAddr::Unix(UnixAddr::Unnamed),
    }
}

#[derive(Clone, Debug)]
enum Op {
    Socket(usize, usize, bool),
    Pair(usize, usize),
    Bind(usize, usize, usize),
    Listen(usize, usize, i32),
    Connect(usize, usize, usize),
    Accept(usize, usize),
    Send(usize, usize, usize),
    SendTo(usize, usize, usize),
    SendRights(usize, usize, usize, usize),
    Recv(usize, usize, usize),
    RecvMsg(usize, usize, usize),
    Shutdown(usize, usize, usize),
    Close(usize, usize),
    Dup(usize, usize),
    Dup2(usize, usize, i32),
    Passcred(usize, usize),
    Unlink(usize, usize),
    Fork(usize),
    Exit(usize),
    /// socket + bind + listen.
    Serve(usize, usize, usize),
    /// socket + connect (non-blocking or not).
    Dial(usize, usize, usize, bool),
    /// accept on one of the process's listeners.
    AcceptAny(usize, usize),
    EpollCreate(usize),
    /// epoll_ctl(ADD) of one descriptor to another (an epoll instance, with luck).
    Watch(usize, usize, usize),
    EpollWait(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..3usize;
    let fd = 0..16usize;
    prop_oneof![
        4 => (p.clone(), 0..3usize, any::<bool>()).prop_map(|(p, t, nb)| Op::Socket(p, t, nb)),
        2 => (p.clone(), 0..3usize).prop_map(|(p, t)| Op::Pair(p, t)),
        3 => (p.clone(), fd.clone(), 0..5usize).prop_map(|(p, f, n)| Op::Bind(p, f, n)),
        2 => (p.clone(), fd.clone(), 0..3i32).prop_map(|(p, f, b)| Op::Listen(p, f, b)),
        3 => (p.clone(), fd.clone(), 0..4usize).prop_map(|(p, f, n)| Op::Connect(p, f, n)),
        2 => (p.clone(), fd.clone()).prop_map(|(p, f)| Op::Accept(p, f)),
        3 => (p.clone(), fd.clone(), 0..4usize).prop_map(|(p, f, n)| Op::Send(p, f, n)),
        2 => (p.clone(), fd.clone(), 0..4usize).prop_map(|(p, f, n)| Op::SendTo(p, f, n)),
        3 => (p.clone(), fd.clone(), fd.clone(), 0..3usize).prop_map(|(p, f, g, n)| Op::SendRights(p, f, g, n)),
        3 => (p.clone(), fd.clone(), 0..4usize).prop_map(|(p, f, n)| Op::Recv(p, f, n)),
        3 => (p.clone(), fd.clone(), 0..3usize).prop_map(|(p, f, c)| Op::RecvMsg(p, f, c)),
        1 => (p.clone(), fd.clone(), 0..3usize).prop_map(|(p, f, h)| Op::Shutdown(p, f, h)),
        4 => (p.clone(), fd.clone()).prop_map(|(p, f)| Op::Close(p, f)),
        1 => (p.clone(), fd.clone()).prop_map(|(p, f)| Op::Dup(p, f)),
        1 => (p.clone(), fd.clone(), 3..9i32).prop_map(|(p, f, n)| Op::Dup2(p, f, n)),
        1 => (p.clone(), fd.clone()).prop_map(|(p, f)| Op::Passcred(p, f)),
        1 => (p.clone(), 0..2usize).prop_map(|(p, n)| Op::Unlink(p, n)),
        1 => p.clone().prop_map(Op::Fork),
        1 => p.clone().prop_map(Op::Exit),
        3 => (p.clone(), 0..3usize, 0..4usize).prop_map(|(p, t, n)| Op::Serve(p, t, n)),
        4 => (p.clone(), 0..3usize, 0..4usize, any::<bool>()).prop_map(|(p, t, n, nb)| Op::Dial(p, t, n, nb)),
        4 => (p.clone(), 0..4usize).prop_map(|(p, i)| Op::AcceptAny(p, i)),
        1 => p.clone().prop_map(Op::EpollCreate),
        2 => (p.clone(), fd.clone(), fd.clone()).prop_map(|(p, e, f)| Op::Watch(p, e, f)),
        1 => (p, fd).prop_map(|(p, e)| Op::EpollWait(p, e)),
    ]
}

struct Harness {
    w: World,
    host: HostId,
    /// The live processes, by slot (a process that exits is replaced by a fresh one).
    procs: Vec<Pid>,
    pending: BTreeMap<Pid, Syscall>,
}

impl Harness {
    fn new(seed: u64) -> Harness {
        let mut w = World::new(seed);
        let host = w.add_host("h").unwrap();
        let mut h = Harness {
            w,
            host,
            procs: Vec::new(),
            pending: BTreeMap::new(),
        };
        for _ in 0..3 {
            let pid = h.spawn();
            h.procs.push(pid);
        }
        h
    }

    fn spawn(&mut self) -> Pid {
        let now = self.w.now();
        let pid = self.w.spawn(self.host, "p", now);
        self.settle();
        pid
    }

    fn settle(&mut self) {
        loop {
            match self.w.next(None) {
                Next::Run(pid) => {
                    if let Some(call) = self.pending.get(&pid).cloned()
                        && let Outcome::Done(_) = self.w.syscall(pid, &call, true)
                    {
                        self.pending.remove(&pid);
                    }
                }
                Next::Idle | Next::TimeLimit => return,
            }
        }
    }

    /// The `i`-th open descriptor of process slot `p` (beyond the standard ones).
    fn fd(&self, p: usize, i: usize) -> Option<Fd> {
        let fds: Vec<Fd> = self
            .w
            .process(self.procs[p])
            .fds
            .iter()
            .filter(|(_, d)| *d != Desc::Stdio)
            .map(|(fd, _)| fd)
            .collect();
        (!fds.is_empty()).then(|| fds[i % fds.len()])
    }

    /// The highest open descriptor of process slot `p`.
    fn newest(&self, p: usize) -> Option<Fd> {
        let table = &self.w.process(self.procs[p]).fds;
        table.iter().map(|(fd, _)| fd).filter(|&fd| fd > 2).max()
    }

    fn call(&mut self, p: usize, call: Syscall) {
        let pid = self.procs[p];
        if self.pending.contains_key(&pid) {
            return;
        }
        if let Outcome::Blocked = self.w.syscall(pid, &call, false) {
            self.pending.insert(pid, call);
        }
        self.settle();
    }

    fn apply(&mut self, op: Op) {
        let data = |n: usize| Payload::Bytes(Rc::from(&b"abc"[..n.min(3)]));
        match op {
            Op::Socket(p, t, nb) => self.call(
                p,
                Syscall::Socket {
                    domain: AF_UNIX,
                    ty: TYPES[t] | if nb { SOCK_NONBLOCK } else { 0 },
                    protocol: 0,
                },
            ),
            Op::Pair(p, t) => self.call(
                p,
                Syscall::SocketPair {
                    domain: AF_UNIX,
                    ty: TYPES[t] | SOCK_NONBLOCK,
                    protocol: 0,
                },
            ),
            Op::Exit(p) => {
                let pid = self.procs[p];
                self.pending.remove(&pid);
                self.w.exit(pid);
                self.settle();
                self.procs[p] = self.spawn();
            }
            Op::Fork(p) => {
                let pid = self.procs[p];
                if self.pending.contains_key(&pid) {
                    return;
                }
                // The child replaces the next slot's process, which exits.
                let child = self.w.fork(pid, "child");
                let q = (p + 1) % self.procs.len();
                let old = self.procs[q];
                self.pending.remove(&old);
                self.w.exit(old);
                self.procs[q] = child;
                self.settle();
            }
            Op::Serve(p, t, n) => {
                self.apply(Op::Socket(p, t, false));
                let Some(fd) = self.newest(p) else { return };
                self.call(p, Syscall::Bind { fd, addr: name(n) });
                self.call(p, Syscall::Listen { fd, backlog: 1 });
            }
            Op::Dial(p, t, n, nb) => {
                self.apply(Op::Socket(p, t, nb));
                let Some(fd) = self.newest(p) else { return };
                self.call(p, Syscall::Connect { fd, addr: name(n) });
            }
            Op::AcceptAny(p, i) => {
                let listeners: Vec<Fd> = self
                    .w
                    .process(self.procs[p])
                    .fds
                    .iter()
                    .filter(|(_, d)| {
                        matches!(d, Desc::Unix(u)
                            if self.w.unix_sockets().get(*u).state == sim_kernel::unix::UnixState::Listening)
                    })
                    .map(|(fd, _)| fd)
                    .collect();
                if let Some(&fd) = listeners.get(i % listeners.len().max(1)) {
                    self.call(p, Syscall::Accept { fd });
                }
            }
            Op::EpollCreate(p) => self.call(p, Syscall::EpollCreate1 { flags: 0 }),
            Op::Watch(p, e, f) => {
                let (Some(epfd), Some(fd)) = (self.fd(p, e), self.fd(p, f)) else {
                    return;
                };
                self.call(
                    p,
                    Syscall::EpollCtl {
                        epfd,
                        op: sim_kernel::epoll::EPOLL_CTL_ADD,
                        fd,
                        events: sim_kernel::epoll::EPOLLIN | sim_kernel::epoll::EPOLLOUT,
                    },
                );
            }
            Op::EpollWait(p, e) => {
                let Some(epfd) = self.fd(p, e) else { return };
                self.call(
                    p,
                    Syscall::EpollWait {
                        epfd,
                        maxevents: 4,
                        timeout_ms: 0,
                    },
                );
            }
            Op::Unlink(p, n) => self.call(
                p,
                Syscall::Unlink {
                    path: ["/run/a", "/tmp/b"][n].into(),
                },
            ),
            op => {
                let (p, i) = match op {
                    Op::Bind(p, i, _)
                    | Op::Listen(p, i, _)
                    | Op::Connect(p, i, _)
                    | Op::Accept(p, i)
                    | Op::Send(p, i, _)
                    | Op::SendTo(p, i, _)
                    | Op::SendRights(p, i, _, _)
                    | Op::Recv(p, i, _)
                    | Op::RecvMsg(p, i, _)
                    | Op::Shutdown(p, i, _)
                    | Op::Close(p, i)
                    | Op::Dup(p, i)
                    | Op::Dup2(p, i, _)
                    | Op::Passcred(p, i) => (p, i),
                    _ => unreachable!(),
                };
                let Some(fd) = self.fd(p, i) else { return };
                let call = match op {
                    Op::Bind(_, _, n) => Syscall::Bind { fd, addr: name(n) },
                    Op::Listen(_, _, backlog) => Syscall::Listen { fd, backlog },
                    Op::Connect(_, _, n) => Syscall::Connect { fd, addr: name(n) },
                    Op::Accept(..) => Syscall::Accept { fd },
                    Op::Send(_, _, n) => Syscall::Send { fd, data: data(n) },
                    Op::SendTo(_, _, n) => Syscall::SendTo {
                        fd,
                        data: data(1),
                        addr: name(n),
                    },
                    Op::SendRights(_, _, g, n) => {
                        let Some(passed) = self.fd(p, g) else { return };
                        Syscall::SendMsg {
                            fd,
                            data: data(n),
                            addr: None,
                            control: vec![Cmsg::Rights(vec![passed])],
                        }
                    }
                    Op::Recv(_, _, n) => Syscall::Recv { fd, len: n, flags: 0 },
                    Op::RecvMsg(_, _, c) => Syscall::RecvMsg {
                        fd,
                        len: 2,
                        controllen: [0, 20, 1000][c],
                    },
                    Op::Shutdown(_, _, h) => Syscall::Shutdown {
                        fd,
                        how: [How::Read, How::Write, How::Both][h],
                    },
                    Op::Close(..) => Syscall::Close { fd },
                    Op::Dup(..) => Syscall::Dup { fd },
                    Op::Dup2(_, _, n) => Syscall::Dup2 { oldfd: fd, newfd: n },
                    Op::Passcred(..) => Syscall::SetSockOpt {
                        fd,
                        level: SOL_SOCKET,
                        name: SO_PASSCRED,
                        value: 1,
                    },
                    _ => unreachable!(),
                };
                self.call(p, call);
            }
        }
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        if let Err(v) = self.w.check_invariants() {
            return Err(TestCaseError::fail(format!("invariant broken: {v}")));
        }
        // Bound names seen through descriptors: one socket per name, or a listener and the
        // connections it accepted.
        let mut owners: BTreeMap<String, Vec<sim_kernel::unix::UnixId>> = BTreeMap::new();
        for p in self.w.processes().iter().filter(|p| !p.exited) {
            for (_, d) in p.fds.iter() {
                let Desc::Unix(u) = d else { continue };
                let s = self.w.unix_sockets().get(u);
                if s.hashed {
                    // A path names a file: the same text may name a newer file after unlink.
                    let key = format!("{:?}/{:?}", s.ty, s.name);
                    let list = owners.entry(key).or_default();
                    if !list.contains(&u) {
                        list.push(u);
                    }
                }
            }
        }
        for (name, list) in owners {
            prop_assert!(list.len() == 1, "{name} is owned by {list:?}");
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), TestCaseError> {
        for p in self.procs.clone() {
            self.pending.remove(&p);
            self.w.exit(p);
            self.settle();
            self.check()?;
        }
        prop_assert_eq!(self.w.unix_sockets().len(), 0, "every Unix socket is freed");
        Ok(())
    }
}

fn config() -> Config {
    Config {
        cases: 256,
        // Deterministic: the same cases on every run, and no regression files written.
        rng_seed: RngSeed::Fixed(0x0a_f0_01),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn unix_structures_stay_consistent(
        seed in 0u64..1_000_000,
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let mut h = Harness::new(seed);
        for op in ops {
            h.apply(op);
            h.check()?;
        }
        h.finish()?;
    }
}

#[test]
fn the_harness_reaches_every_kind_of_result() {
    // A fixed program that connects, passes a descriptor and reads it back.
    let mut h = Harness::new(1);
    for op in [
        Op::Socket(0, 0, false),
        Op::Bind(0, 0, 0),
        Op::Listen(0, 0, 1),
        Op::Socket(1, 0, true),
        Op::Connect(1, 0, 0),
        Op::Accept(0, 0),
        Op::SendRights(1, 0, 0, 1),
        Op::RecvMsg(0, 1, 2),
    ] {
        h.apply(op);
        h.check().unwrap();
    }
    let p0 = h.procs[0];
    let open = h.w.process(p0).fds.iter().filter(|(_, d)| *d != Desc::Stdio).count();
    assert_eq!(open, 3, "listener, accepted connection, and the descriptor received");
    h.finish().unwrap();
    let _ = SysReturn::Value { value: 0 };
}
