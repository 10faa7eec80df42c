//! The synchronous test driver shared by the kernel's integration tests: one call at a time
//! per process, blocked calls resumed in the background while the world runs.
#![allow(dead_code)] // each test file uses its own subset

use sim_core::{Duration, Instant};
use sim_kernel::syscall::{Fd, Payload, SysReturn, Syscall};
use sim_kernel::syscalls::{AF_INET, SO_REUSEADDR, SOCK_NONBLOCK, SOCK_STREAM, SOL_SOCKET};
use sim_kernel::{Errno, HostId, Next, Outcome, Pid, World};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

pub const OK: SysReturn = SysReturn::Value { value: 0 };

pub fn err(errno: Errno) -> SysReturn {
    SysReturn::Error { errno }
}

pub fn sa(s: &str) -> SocketAddr {
    s.parse().expect("a socket address")
}

/// A server (10.0.0.1, and 10.0.0.5 too with `second_address`) and a client (10.0.0.2) on
/// one network, `lan` (10.0.0.0/24, 100 µs of latency); returns the world and the two hosts.
pub fn server_and_client(seed: u64, second_address: bool) -> (World, HostId, HostId) {
    let mut w = World::new(seed);
    let net = w
        .add_network("lan", Ipv4Addr::new(10, 0, 0, 0).into(), 24, Duration::from_micros(100))
        .unwrap();
    let server = w.add_host("server").unwrap();
    let client = w.add_host("client").unwrap();
    w.add_addr(server, Ipv4Addr::new(10, 0, 0, 1).into(), net).unwrap();
    if second_address {
        w.add_addr(server, Ipv4Addr::new(10, 0, 0, 5).into(), net).unwrap();
    }
    w.add_addr(client, Ipv4Addr::new(10, 0, 0, 2).into(), net).unwrap();
    (w, server, client)
}

/// The driver: a world and the calls its processes are blocked in.
pub struct Sim {
    pub w: World,
    /// How long [`Sim::settle`] lets the world run (0 on loopback: it has no latency).
    pub settle_time: Duration,
    /// Calls that blocked, with the instant they started.
    pub pending: BTreeMap<Pid, (Syscall, Instant)>,
    /// Blocked calls that have finished, with the instant they did.
    pub finished: BTreeMap<Pid, (SysReturn, Instant)>,
}

impl Sim {
    pub fn new(w: World, settle_time: Duration) -> Sim {
        Sim {
            w,
            settle_time,
            pending: BTreeMap::new(),
            finished: BTreeMap::new(),
        }
    }

    pub fn spawn(&mut self, host: HostId, name: &str) -> Pid {
        let now = self.w.now();
        self.w.spawn(host, name, now)
    }

    /// Starts a call; `Some` if it completed at once.
    pub fn start(&mut self, pid: Pid, call: Syscall) -> Option<SysReturn> {
        assert!(!self.pending.contains_key(&pid), "{pid:?} is already inside a call");
        match self.w.syscall(pid, &call, false) {
            Outcome::Done(r) => Some(r),
            Outcome::Blocked => {
                let now = self.w.now();
                self.pending.insert(pid, (call, now));
                None
            }
        }
    }

    /// One step of the world; false once nothing more happens before `until`.
    pub fn step(&mut self, until: Instant) -> bool {
        match self.w.next(Some(until)) {
            Next::Run(pid) => {
                if let Some((call, _)) = self.pending.get(&pid).cloned()
                    && let Outcome::Done(r) = self.w.syscall(pid, &call, true)
                {
                    self.pending.remove(&pid);
                    let now = self.w.now();
                    self.finished.insert(pid, (r, now));
                }
                true
            }
            Next::Idle | Next::TimeLimit => false,
        }
    }

    /// Lets virtual time pass, resuming blocked calls as they wake.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.w.now().after(d);
        while self.step(until) {}
    }

    /// Lets segments in flight arrive.
    pub fn settle(&mut self) {
        self.run_for(self.settle_time);
    }

    /// Runs until `pid`'s blocked call finishes; its result and when it finished.
    pub fn wait(&mut self, pid: Pid, within: Duration) -> (SysReturn, Instant) {
        let deadline = self.w.now().after(within);
        loop {
            if let Some(r) = self.finished.remove(&pid) {
                return r;
            }
            assert!(
                self.step(deadline),
                "the call of {pid:?} did not finish within {within:?}"
            );
        }
    }

    /// A call that must complete at once: it panics if the call blocks.
    pub fn call_now(&mut self, pid: Pid, call: Syscall) -> SysReturn {
        self.start(pid, call.clone())
            .unwrap_or_else(|| panic!("{call:?} blocked"))
    }

    /// Makes a call and waits up to 10 s of virtual time for it if it blocks.
    pub fn call(&mut self, pid: Pid, call: Syscall) -> SysReturn {
        match self.start(pid, call) {
            Some(r) => r,
            None => self.wait(pid, Duration::from_secs(10)).0,
        }
    }

    pub fn socket(&mut self, pid: Pid) -> Fd {
        self.socket_ty(pid, SOCK_STREAM)
    }

    pub fn socket_nonblocking(&mut self, pid: Pid) -> Fd {
        self.socket_ty(pid, SOCK_STREAM | SOCK_NONBLOCK)
    }

    pub fn socket_ty(&mut self, pid: Pid, ty: i32) -> Fd {
        let r = self.call(
            pid,
            Syscall::Socket {
                domain: AF_INET,
                ty,
                protocol: 0,
            },
        );
        match r {
            SysReturn::Value { value } => Fd::try_from(value).expect("a descriptor"),
            other => panic!("socket() failed: {other:?}"),
        }
    }

    pub fn reuseaddr(&mut self, pid: Pid, fd: Fd) {
        let r = self.call(
            pid,
            Syscall::SetSockOpt {
                fd,
                level: SOL_SOCKET,
                name: SO_REUSEADDR,
                value: 1,
            },
        );
        assert_eq!(r, OK, "setsockopt(SO_REUSEADDR)");
    }

    pub fn bind(&mut self, pid: Pid, fd: Fd, addr: &str) -> SysReturn {
        self.call(
            pid,
            Syscall::Bind {
                fd,
                addr: sa(addr).into(),
            },
        )
    }

    pub fn listen(&mut self, pid: Pid, fd: Fd, backlog: i32) -> SysReturn {
        self.call(pid, Syscall::Listen { fd, backlog })
    }

    /// A listener on `addr` (backlog 1024), optionally with `SO_REUSEADDR`.
    pub fn listener(&mut self, pid: Pid, addr: &str, reuse: bool) -> Fd {
        let fd = self.socket(pid);
        if reuse {
            self.reuseaddr(pid, fd);
        }
        assert_eq!(self.bind(pid, fd, addr), OK, "bind({addr})");
        assert_eq!(self.listen(pid, fd, 1024), OK, "listen({addr})");
        fd
    }

    pub fn connect(&mut self, pid: Pid, fd: Fd, addr: &str) -> SysReturn {
        self.call(
            pid,
            Syscall::Connect {
                fd,
                addr: sa(addr).into(),
            },
        )
    }

    pub fn accept(&mut self, pid: Pid, fd: Fd) -> (Fd, SocketAddr) {
        match self.call(pid, Syscall::Accept { fd }) {
            SysReturn::Accepted { fd, peer } => (fd, peer.inet().unwrap()),
            other => panic!("accept() failed: {other:?}"),
        }
    }

    pub fn local(&mut self, pid: Pid, fd: Fd) -> SocketAddr {
        match self.call(pid, Syscall::GetSockName { fd }) {
            SysReturn::Addr { addr } => addr.inet().unwrap(),
            other => panic!("getsockname() failed: {other:?}"),
        }
    }

    pub fn send(&mut self, pid: Pid, fd: Fd, data: &[u8]) -> SysReturn {
        self.call(
            pid,
            Syscall::Send {
                fd,
                data: Payload::Bytes(data.into()),
            },
        )
    }

    pub fn recv(&mut self, pid: Pid, fd: Fd) -> SysReturn {
        self.call(
            pid,
            Syscall::Recv {
                fd,
                len: 1000,
                flags: 0,
            },
        )
    }

    pub fn close(&mut self, pid: Pid, fd: Fd) {
        assert_eq!(self.call(pid, Syscall::Close { fd }), OK, "close({fd})");
    }

    /// A fresh socket bound to `addr` (port 0 for an automatic port): its local port, or the
    /// error (the socket is then closed).
    pub fn bind_new(&mut self, pid: Pid, addr: &str, reuse: bool) -> Result<u16, Errno> {
        let fd = self.socket(pid);
        if reuse {
            self.reuseaddr(pid, fd);
        }
        match self.bind(pid, fd, addr) {
            OK => Ok(self.local(pid, fd).port()),
            SysReturn::Error { errno } => {
                self.close(pid, fd);
                Err(errno)
            }
            other => panic!("bind() returned {other:?}"),
        }
    }

    /// A fresh unbound socket connected to `dst`: its local address, or the error (the socket
    /// is then closed).
    pub fn connect_new(&mut self, pid: Pid, dst: &str) -> Result<(Fd, SocketAddr), Errno> {
        let fd = self.socket(pid);
        match self.connect(pid, fd, dst) {
            OK => Ok((fd, self.local(pid, fd))),
            SysReturn::Error { errno } => {
                self.close(pid, fd);
                Err(errno)
            }
            other => panic!("connect() returned {other:?}"),
        }
    }

    /// Connects new sockets to `dst` until one fails; the ports used and the failure.
    pub fn connect_until_failure(&mut self, pid: Pid, dst: &str, max: usize) -> (Vec<u16>, Errno) {
        let mut ports = Vec::new();
        loop {
            match self.connect_new(pid, dst) {
                Ok((_, local)) => ports.push(local.port()),
                Err(e) => return (ports, e),
            }
            assert!(
                ports.len() <= max,
                "more than {max} connects to {dst} succeeded: {ports:?}"
            );
        }
    }

    /// Binds new sockets to `addr` until one fails; the ports and the failure.
    pub fn bind_until_failure(&mut self, pid: Pid, addr: &str, reuse: bool, max: usize) -> (Vec<u16>, Errno) {
        let mut ports = Vec::new();
        loop {
            match self.bind_new(pid, addr, reuse) {
                Ok(port) => ports.push(port),
                Err(e) => return (ports, e),
            }
            assert!(
                ports.len() <= max,
                "more than {max} binds to {addr} succeeded: {ports:?}"
            );
        }
    }

    pub fn count_state(&self, host: HostId, state: &str) -> usize {
        self.w.ss(host).iter().filter(|r| r.state == state).count()
    }
}

impl Sim {
    /// Makes a call and, if it blocks, waits up to `within` for it; its result and when it
    /// finished.
    pub fn wait_call(&mut self, pid: Pid, call: Syscall, within: Duration) -> (SysReturn, Instant) {
        match self.start(pid, call) {
            Some(r) => (r, self.w.now()),
            None => self.wait(pid, within),
        }
    }
}
