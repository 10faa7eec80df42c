//! Unix-domain sockets, driven through the public `World` API: one test per fact of
//! `/work/shared/design/linux-facts.md` §5 (the section is named in each test), and the
//! process-level calls around them (dup, users, files). Every call is followed by
//! `World::check_invariants`.

use sim_core::{Duration, Instant};
use sim_kernel::process::Cred;
use sim_kernel::syscall::{
    Cmsg, Fd, How, MSG_CTRUNC, MSG_TRUNC, Payload, SockAddr, SysReturn, Syscall, Ucred, UnixAddr,
};
use sim_kernel::syscalls::{AF_INET, AF_UNIX, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_STREAM, SOL_SOCKET};
use sim_kernel::unix::scm::DEFAULT_CONTROLLEN;
use sim_kernel::unix::vfs::InodeKind;
use sim_kernel::unix::{SO_PASSCRED, SO_PEERCRED, SOCK_SEQPACKET};
use sim_kernel::{Errno, HostId, Next, Outcome, Pid, World};
use std::collections::BTreeMap;
use std::rc::Rc;

const OK: SysReturn = SysReturn::Value { value: 0 };

fn err(errno: Errno) -> SysReturn {
    SysReturn::Error { errno }
}

fn val(v: i64) -> SysReturn {
    SysReturn::Value { value: v }
}

fn path(p: &str) -> SockAddr {
    SockAddr::Unix(UnixAddr::Path(p.into()))
}

fn abs(name: &str) -> SockAddr {
    SockAddr::Unix(UnixAddr::Abstract(name.as_bytes().to_vec()))
}

const UNNAMED: SockAddr = SockAddr::Unix(UnixAddr::Unnamed);

fn bytes(s: &str) -> Payload {
    Payload::Bytes(Rc::from(s.as_bytes()))
}

fn data(s: &str) -> SysReturn {
    SysReturn::Data {
        data: s.as_bytes().to_vec(),
    }
}

struct Sim {
    w: World,
    hosts: Vec<HostId>,
    pending: BTreeMap<Pid, Syscall>,
    finished: BTreeMap<Pid, SysReturn>,
}

impl Sim {
    fn new() -> Sim {
        Sim::with_seed(0)
    }

    fn with_seed(seed: u64) -> Sim {
        let mut w = World::new(seed);
        let a = w.add_host("a").unwrap();
        let b = w.add_host("b").unwrap();
        w.add_user(a, "alice", 1000, 1000).unwrap();
        Sim {
            w,
            hosts: vec![a, b],
            pending: BTreeMap::new(),
            finished: BTreeMap::new(),
        }
    }

    /// A process on host `a` running as root.
    fn proc(&mut self) -> Pid {
        self.proc_on(0, 0, 0)
    }

    /// A process on host `a` running as uid/gid.
    fn user(&mut self, uid: u32, gid: u32) -> Pid {
        self.proc_on(0, uid, gid)
    }

    fn proc_on(&mut self, host: usize, uid: u32, gid: u32) -> Pid {
        let now = self.w.now();
        let pid = self.w.spawn(self.hosts[host], "p", now);
        self.w.set_credentials(pid, uid, gid);
        self.settle();
        pid
    }

    fn check(&self) {
        if let Err(v) = self.w.check_invariants() {
            panic!("invariant broken: {v}");
        }
    }

    /// Starts a call; `None` if it blocked.
    fn start(&mut self, pid: Pid, call: Syscall) -> Option<SysReturn> {
        assert!(!self.pending.contains_key(&pid), "{pid:?} is already inside a call");
        let out = self.w.syscall(pid, &call, false);
        self.check();
        match out {
            Outcome::Done(r) => Some(r),
            Outcome::Blocked => {
                self.pending.insert(pid, call);
                None
            }
        }
    }

    /// Runs the world until nothing is runnable, resuming blocked calls that wake.
    fn settle(&mut self) {
        let until = self.w.now().after(Duration::from_millis(1));
        loop {
            match self.w.next(Some(until)) {
                Next::Run(pid) => {
                    if let Some(call) = self.pending.get(&pid).cloned()
                        && let Outcome::Done(r) = self.w.syscall(pid, &call, true)
                    {
                        self.pending.remove(&pid);
                        self.finished.insert(pid, r);
                    }
                    self.check();
                }
                Next::Idle | Next::TimeLimit => return,
            }
        }
    }

    /// A call that must complete at once.
    fn call(&mut self, pid: Pid, call: Syscall) -> SysReturn {
        let r = self.start(pid, call.clone());
        r.unwrap_or_else(|| panic!("{call:?} blocked"))
    }

    /// The result of `pid`'s blocked call, after letting the world run.
    fn finished(&mut self, pid: Pid) -> Option<SysReturn> {
        self.settle();
        self.finished.remove(&pid)
    }

    fn socket(&mut self, pid: Pid, ty: i32) -> Fd {
        match self.call(
            pid,
            Syscall::Socket {
                domain: AF_UNIX,
                ty,
                protocol: 0,
            },
        ) {
            SysReturn::Value { value } => value as Fd,
            other => panic!("socket: {other:?}"),
        }
    }

    fn pair(&mut self, pid: Pid, ty: i32) -> (Fd, Fd) {
        match self.call(
            pid,
            Syscall::SocketPair {
                domain: AF_UNIX,
                ty,
                protocol: 0,
            },
        ) {
            SysReturn::Pair { fds } => (fds[0], fds[1]),
            other => panic!("socketpair: {other:?}"),
        }
    }

    fn bind(&mut self, pid: Pid, fd: Fd, addr: SockAddr) -> SysReturn {
        self.call(pid, Syscall::Bind { fd, addr })
    }

    fn listen(&mut self, pid: Pid, fd: Fd, backlog: i32) -> SysReturn {
        self.call(pid, Syscall::Listen { fd, backlog })
    }

    fn connect(&mut self, pid: Pid, fd: Fd, addr: SockAddr) -> SysReturn {
        self.call(pid, Syscall::Connect { fd, addr })
    }

    fn accept(&mut self, pid: Pid, fd: Fd) -> (Fd, SockAddr) {
        match self.call(pid, Syscall::Accept { fd }) {
            SysReturn::Accepted { fd, peer } => (fd, peer),
            other => panic!("accept: {other:?}"),
        }
    }

    fn send(&mut self, pid: Pid, fd: Fd, s: &str) -> SysReturn {
        self.call(pid, Syscall::Send { fd, data: bytes(s) })
    }

    fn sendto(&mut self, pid: Pid, fd: Fd, s: &str, addr: SockAddr) -> SysReturn {
        self.call(
            pid,
            Syscall::SendTo {
                fd,
                data: bytes(s),
                addr,
            },
        )
    }

    fn recv(&mut self, pid: Pid, fd: Fd, len: usize) -> SysReturn {
        self.call(pid, Syscall::Recv { fd, len, flags: 0 })
    }

    fn recvfrom(&mut self, pid: Pid, fd: Fd, len: usize) -> SysReturn {
        self.call(pid, Syscall::RecvFrom { fd, len, flags: 0 })
    }

    fn recvmsg(&mut self, pid: Pid, fd: Fd, len: usize, controllen: usize) -> SysReturn {
        self.call(pid, Syscall::RecvMsg { fd, len, controllen })
    }

    fn close(&mut self, pid: Pid, fd: Fd) -> SysReturn {
        self.call(pid, Syscall::Close { fd })
    }

    fn name(&mut self, pid: Pid, fd: Fd) -> SockAddr {
        match self.call(pid, Syscall::GetSockName { fd }) {
            SysReturn::Addr { addr } => addr,
            other => panic!("getsockname: {other:?}"),
        }
    }

    fn peer(&mut self, pid: Pid, fd: Fd) -> SysReturn {
        self.call(pid, Syscall::GetPeerName { fd })
    }

    fn setopt(&mut self, pid: Pid, fd: Fd, name: i32, value: i64) -> SysReturn {
        self.call(
            pid,
            Syscall::SetSockOpt {
                fd,
                level: SOL_SOCKET,
                name,
                value,
            },
        )
    }

    fn peercred(&mut self, pid: Pid, fd: Fd) -> Ucred {
        match self.call(
            pid,
            Syscall::GetSockOpt {
                fd,
                level: SOL_SOCKET,
                name: SO_PEERCRED,
            },
        ) {
            SysReturn::PeerCred { cred } => cred,
            other => panic!("SO_PEERCRED: {other:?}"),
        }
    }

    /// A listener bound to `addr`.
    fn listener(&mut self, pid: Pid, ty: i32, addr: SockAddr, backlog: i32) -> Fd {
        let l = self.socket(pid, ty);
        assert_eq!(self.bind(pid, l, addr), OK);
        assert_eq!(self.listen(pid, l, backlog), OK);
        l
    }

    fn path_call(&mut self, pid: Pid, call: Syscall) -> SysReturn {
        self.call(pid, call)
    }

    fn inode_mode(&self, p: &str) -> (u32, u32, u32) {
        let vfs = &self.w.host(self.hosts[0]).unix.vfs;
        let i = vfs.lookup(p, &Cred::ROOT).expect("the file exists");
        let n = vfs.inode(i);
        (n.mode, n.uid, n.gid)
    }
}

fn addr_of(r: SysReturn) -> SockAddr {
    match r {
        SysReturn::Addr { addr } => addr,
        other => panic!("not an address: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// §5.1 Addresses
// ---------------------------------------------------------------------------------------------

#[test]
fn s5_1_sun_path_lengths() {
    let mut s = Sim::new();
    let p = s.proc();
    s.path_call(
        p,
        Syscall::Mkdir {
            path: "/d".into(),
            mode: 0o755,
        },
    );
    // "/d/" + 104 = 107 bytes, 108 bytes: fine; 109: EINVAL (never ENAMETOOLONG).
    for (len, want) in [(107, OK), (108, OK), (109, err(Errno::EINVAL))] {
        let fd = s.socket(p, SOCK_STREAM);
        let name = format!("/d/{}", "x".repeat(len - 3));
        assert_eq!(s.bind(p, fd, path(&name)), want, "{len}-byte path");
        if want == OK {
            assert_eq!(s.name(p, fd), path(&name));
        }
    }
    for (len, want) in [(107, OK), (108, err(Errno::EINVAL))] {
        let fd = s.socket(p, SOCK_STREAM);
        assert_eq!(s.bind(p, fd, abs(&"y".repeat(len))), want, "{len}-byte abstract name");
    }
    let fd = s.socket(p, SOCK_STREAM);
    assert_eq!(s.connect(p, fd, UNNAMED), err(Errno::EINVAL));
    assert_eq!(s.connect(p, fd, SockAddr::Unspec), err(Errno::EINVAL));
    assert_eq!(
        s.connect(p, fd, "10.0.0.1:80".parse::<std::net::SocketAddr>().unwrap().into()),
        err(Errno::EINVAL)
    );
    assert_eq!(s.bind(p, fd, SockAddr::Unspec), err(Errno::EINVAL));
    // An unbound socket's name is the family alone.
    assert_eq!(s.name(p, fd), UNNAMED);
    // The path ends at the first NUL (unix_mkname_bsd's strlen).
    assert_eq!(s.bind(p, fd, path("/d/cut\0after")), OK);
    assert_eq!(s.name(p, fd), path("/d/cut"));
}

#[test]
fn s5_1_autobind_names() {
    let mut s = Sim::new();
    let p = s.proc();
    let a = s.socket(p, SOCK_STREAM);
    assert_eq!(s.bind(p, a, UNNAMED), OK);
    let SockAddr::Unix(UnixAddr::Abstract(first)) = s.name(p, a) else {
        panic!("autobind gives an abstract name")
    };
    assert_eq!(first.len(), 5);
    assert!(first.iter().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    // Autobinding a bound socket keeps its name.
    assert_eq!(s.bind(p, a, UNNAMED), OK);
    assert_eq!(s.name(p, a), abs(std::str::from_utf8(&first).unwrap()));
    // listen() never autobinds.
    let l = s.socket(p, SOCK_STREAM);
    assert_eq!(s.listen(p, l, 1), err(Errno::EINVAL));
    // A plain connect() does not autobind; with SO_PASSCRED it does.
    let l = s.listener(p, SOCK_STREAM, path("/run/l"), 5);
    let c = s.socket(p, SOCK_STREAM);
    assert_eq!(s.connect(p, c, path("/run/l")), OK);
    assert_eq!(s.name(p, c), UNNAMED);
    let c2 = s.socket(p, SOCK_STREAM);
    assert_eq!(s.setopt(p, c2, SO_PASSCRED, 1), OK);
    assert_eq!(s.name(p, c2), UNNAMED);
    assert_eq!(s.connect(p, c2, path("/run/l")), OK);
    let bound = s.name(p, c2);
    assert!(matches!(&bound, SockAddr::Unix(UnixAddr::Abstract(n)) if n.len() == 5));
    // The listener sees the autobound name as the peer.
    let (_, _) = s.accept(p, l);
    let (_, peer) = s.accept(p, l);
    assert_eq!(peer, bound);
    // The same seed gives the same names.
    let mut again = Sim::new();
    let q = again.proc();
    let x = again.socket(q, SOCK_STREAM);
    again.bind(q, x, UNNAMED);
    assert_eq!(again.name(q, x), abs(std::str::from_utf8(&first).unwrap()));
}

// ---------------------------------------------------------------------------------------------
// §5.2 Pathname sockets
// ---------------------------------------------------------------------------------------------

#[test]
fn s5_2_bind_makes_a_file_that_outlives_the_socket() {
    let mut s = Sim::new();
    let p = s.proc();
    let a = s.socket(p, SOCK_STREAM);
    assert_eq!(s.bind(p, a, path("/run/app.sock")), OK);
    assert_eq!(s.inode_mode("/run/app.sock"), (0o755, 0, 0));
    // A second bind of the socket: EINVAL, and the new file it made is gone again.
    assert_eq!(s.bind(p, a, path("/run/other.sock")), err(Errno::EINVAL));
    assert!(
        s.w.host(s.hosts[0])
            .unix
            .vfs
            .lookup("/run/other.sock", &Cred::ROOT)
            .is_err()
    );
    // ... but an existing path is EADDRINUSE first.
    let b = s.socket(p, SOCK_STREAM);
    assert_eq!(s.bind(p, b, path("/run/app.sock")), err(Errno::EADDRINUSE));
    assert_eq!(s.close(p, a), OK);
    assert_eq!(s.bind(p, b, path("/run/app.sock")), err(Errno::EADDRINUSE));
    assert_eq!(
        s.path_call(
            p,
            Syscall::Unlink {
                path: "/run/app.sock".into()
            }
        ),
        OK
    );
    assert_eq!(s.bind(p, b, path("/run/app.sock")), OK);
}

#[test]
fn s5_2_connect_errors_by_path() {
    let mut s = Sim::new();
    let p = s.proc();
    let stream = s.listener(p, SOCK_STREAM, path("/run/stream"), 5);
    let dgram = s.socket(p, SOCK_DGRAM);
    assert_eq!(s.bind(p, dgram, path("/run/dgram")), OK);
    let _seq = s.listener(p, SOCK_SEQPACKET, path("/run/seq"), 5);
    let bound = s.socket(p, SOCK_STREAM);
    assert_eq!(s.bind(p, bound, path("/run/bound")), OK);
    let stale = s.listener(p, SOCK_STREAM, path("/run/stale"), 5);
    assert_eq!(s.close(p, stale), OK);
    s.w.create_file(s.hosts[0], "/run/file", 0, 0, 0o666).unwrap();
    let _ = stream;
    let cases: &[(i32, &str, SysReturn)] = &[
        (SOCK_STREAM, "/run/missing", err(Errno::ENOENT)),
        (SOCK_STREAM, "/nodir/x", err(Errno::ENOENT)),
        (SOCK_STREAM, "/run/file/x", err(Errno::ENOTDIR)),
        (SOCK_STREAM, "/run/file", err(Errno::ECONNREFUSED)),
        (SOCK_STREAM, "/run", err(Errno::ECONNREFUSED)),
        (SOCK_STREAM, "/run/stale", err(Errno::ECONNREFUSED)),
        (SOCK_STREAM, "/run/bound", err(Errno::ECONNREFUSED)),
        (SOCK_STREAM, "/run/dgram", err(Errno::EPROTOTYPE)),
        (SOCK_STREAM, "/run/seq", err(Errno::EPROTOTYPE)),
        (SOCK_SEQPACKET, "/run/stream", err(Errno::EPROTOTYPE)),
        (SOCK_DGRAM, "/run/stream", err(Errno::EPROTOTYPE)),
        (SOCK_STREAM, "/run/stream", OK),
    ];
    for (ty, to, want) in cases {
        let c = s.socket(p, *ty);
        assert_eq!(&s.connect(p, c, path(to)), want, "connect type {ty} to {to}");
    }
    let d = s.socket(p, SOCK_DGRAM);
    assert_eq!(s.sendto(p, d, "x", path("/run/stale")), err(Errno::ECONNREFUSED));
    assert_eq!(s.sendto(p, d, "x", path("/run/stream")), err(Errno::EPROTOTYPE));
    assert_eq!(s.sendto(p, d, "x", path("/run/missing")), err(Errno::ENOENT));
}

#[test]
fn s5_2_permissions() {
    let mut s = Sim::new();
    let root = s.proc();
    let l = s.listener(root, SOCK_STREAM, path("/run/root.sock"), 16);
    let alice = s.user(1000, 1000);
    let c = s.socket(alice, SOCK_STREAM);
    // Mode 0755: others may not write the socket file.
    assert_eq!(s.connect(alice, c, path("/run/root.sock")), err(Errno::EACCES));
    let chmod = |mode| Syscall::Chmod {
        path: "/run/root.sock".into(),
        mode,
    };
    assert_eq!(s.path_call(alice, chmod(0o777)), err(Errno::EPERM));
    assert_eq!(s.path_call(root, chmod(0o757)), OK);
    assert_eq!(s.connect(alice, c, path("/run/root.sock")), OK);
    // A directory without search permission hides what is inside.
    s.path_call(
        root,
        Syscall::Mkdir {
            path: "/run/private".into(),
            mode: 0o700,
        },
    );
    let inner = s.listener(root, SOCK_STREAM, path("/run/private/s"), 1);
    let _ = (l, inner);
    let c2 = s.socket(alice, SOCK_STREAM);
    assert_eq!(s.connect(alice, c2, path("/run/private/s")), err(Errno::EACCES));
    assert_eq!(s.connect(alice, c2, path("/run/private/missing")), err(Errno::EACCES));
    // Binding needs write permission on the directory; an existing name is EADDRINUSE first.
    assert_eq!(s.bind(alice, c2, path("/run/alice.sock")), err(Errno::EACCES));
    assert_eq!(s.bind(alice, c2, path("/run/root.sock")), err(Errno::EADDRINUSE));
    // /tmp is world-writable and sticky: alice's file is hers (mode by umask 022).
    assert_eq!(s.bind(alice, c2, path("/tmp/alice.sock")), OK);
    assert_eq!(s.inode_mode("/tmp/alice.sock"), (0o755, 1000, 1000));
    let bob = s.user(1001, 1001);
    let unlink = Syscall::Unlink {
        path: "/tmp/alice.sock".into(),
    };
    assert_eq!(s.path_call(bob, unlink.clone()), err(Errno::EPERM));
    assert_eq!(s.path_call(alice, unlink), OK);
    // Group bits apply to members.
    s.path_call(root, chmod(0o770));
    let staff = s.user(1002, 0);
    let c3 = s.socket(staff, SOCK_STREAM);
    assert_eq!(s.connect(staff, c3, path("/run/root.sock")), OK);
}

#[test]
fn s5_2_unlinked_path_and_file_calls() {
    let mut s = Sim::new();
    let p = s.proc();
    let l = s.listener(p, SOCK_STREAM, path("/run/l"), 5);
    assert_eq!(s.path_call(p, Syscall::Unlink { path: "/run/l".into() }), OK);
    let c = s.socket(p, SOCK_STREAM);
    assert_eq!(s.connect(p, c, path("/run/l")), err(Errno::ENOENT));
    assert_eq!(s.name(p, l), path("/run/l"));
    // The name is free for a new socket while the old one lives on.
    let l2 = s.listener(p, SOCK_STREAM, path("/run/l"), 5);
    assert_eq!(s.connect(p, c, path("/run/l")), OK);
    let _ = l2;
    let mkdir = |p: &str| Syscall::Mkdir {
        path: p.into(),
        mode: 0o777,
    };
    assert_eq!(s.path_call(p, mkdir("/run")), err(Errno::EEXIST));
    assert_eq!(s.path_call(p, mkdir("/no/such")), err(Errno::ENOENT));
    assert_eq!(s.path_call(p, mkdir("/run/d/")), OK);
    assert_eq!(s.inode_mode("/run/d"), (0o755, 0, 0));
    assert_eq!(
        s.path_call(p, Syscall::Unlink { path: "/run/d".into() }),
        err(Errno::EISDIR)
    );
    assert_eq!(
        s.path_call(p, Syscall::Unlink { path: "/run/zz".into() }),
        err(Errno::ENOENT)
    );
    let alice = s.user(1000, 1000);
    assert_eq!(s.path_call(alice, mkdir("/run/x")), err(Errno::EACCES));
    assert_eq!(
        s.path_call(alice, Syscall::Unlink { path: "/run/l".into() }),
        err(Errno::EACCES)
    );
}

// ---------------------------------------------------------------------------------------------
// §5.3 Abstract namespace
// ---------------------------------------------------------------------------------------------

#[test]
fn s5_3_abstract_names() {
    let mut s = Sim::new();
    let p = s.proc();
    let a = s.socket(p, SOCK_STREAM);
    assert_eq!(s.bind(p, a, abs("myname")), OK);
    let b = s.socket(p, SOCK_STREAM);
    assert_eq!(s.bind(p, b, abs("myname")), err(Errno::EADDRINUSE));
    // Different lengths are different names; NULs count.
    assert_eq!(s.bind(p, b, abs("myname\0")), OK);
    // A bound socket cannot take a second name.
    assert_eq!(s.bind(p, a, abs("other")), err(Errno::EINVAL));
    // Per type: a datagram socket may hold the stream socket's name.
    let d = s.socket(p, SOCK_DGRAM);
    assert_eq!(s.bind(p, d, abs("myname")), OK);
    // The name is free again as soon as the socket closes.
    assert_eq!(s.close(p, a), OK);
    let c = s.socket(p, SOCK_STREAM);
    assert_eq!(s.bind(p, c, abs("myname")), OK);
    assert_eq!(s.name(p, c), abs("myname"));
    assert!(
        s.w.host(s.hosts[0])
            .unix
            .vfs
            .inodes()
            .all(|(_, n)| !matches!(n.kind, InodeKind::Socket { .. }))
    );
}

#[test]
fn s5_3_abstract_lookups_are_per_type_and_per_host() {
    let mut s = Sim::new();
    let p = s.proc();
    let d = s.socket(p, SOCK_DGRAM);
    assert_eq!(s.bind(p, d, abs("svc")), OK);
    let c = s.socket(p, SOCK_STREAM);
    // Only a datagram socket holds the name: ECONNREFUSED, not EPROTOTYPE.
    assert_eq!(s.connect(p, c, abs("svc")), err(Errno::ECONNREFUSED));
    let l = s.listener(p, SOCK_STREAM, abs("svc"), 5);
    assert_eq!(s.connect(p, c, abs("svc")), OK);
    let sender = s.socket(p, SOCK_DGRAM);
    assert_eq!(s.sendto(p, sender, "dg", abs("svc")), val(2));
    assert_eq!(s.recv(p, d, 10), data("dg"));
    let q = s.socket(p, SOCK_SEQPACKET);
    assert_eq!(s.connect(p, q, abs("svc")), err(Errno::ECONNREFUSED));
    // No permission check on abstract names.
    let nobody = s.user(65534, 65534);
    let n = s.socket(nobody, SOCK_STREAM);
    assert_eq!(s.connect(nobody, n, abs("svc")), OK);
    // Another host (another network namespace) does not see the name, and may take it.
    let other = s.proc_on(1, 0, 0);
    let o = s.socket(other, SOCK_STREAM);
    assert_eq!(s.connect(other, o, abs("svc")), err(Errno::ECONNREFUSED));
    let ol = s.socket(other, SOCK_STREAM);
    assert_eq!(s.bind(other, ol, abs("svc")), OK);
    let _ = l;
}

// ---------------------------------------------------------------------------------------------
// §5.4 Types, socketpair, connection behaviour
// ---------------------------------------------------------------------------------------------

#[test]
fn s5_4_socketpairs_of_every_type() {
    let mut s = Sim::new();
    let p = s.proc();
    for ty in [SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET] {
        let (a, b) = s.pair(p, ty);
        assert_eq!(s.name(p, a), UNNAMED);
        assert_eq!(addr_of(s.peer(p, a)), UNNAMED);
        assert_eq!(s.send(p, a, "ping"), val(4));
        assert_eq!(s.recv(p, b, 10), data("ping"));
        assert_eq!(s.send(p, b, "pong"), val(4));
        assert_eq!(s.recv(p, a, 10), data("pong"));
    }
    let r = s.call(
        p,
        Syscall::SocketPair {
            domain: AF_INET,
            ty: SOCK_STREAM,
            protocol: 0,
        },
    );
    assert_eq!(r, err(Errno::EOPNOTSUPP));
}

#[test]
fn s5_4_connect_completes_before_accept() {
    let mut s = Sim::new();
    let server = s.proc();
    let l = s.listener(server, SOCK_STREAM, path("/run/s"), 5);
    let client = s.proc();
    let c = s.socket(client, SOCK_STREAM);
    assert_eq!(s.connect(client, c, path("/run/s")), OK);
    assert_eq!(s.send(client, c, "early"), val(5));
    assert_eq!(s.send(client, c, " bird"), val(5));
    assert_eq!(addr_of(s.peer(client, c)), path("/run/s"));
    assert_eq!(s.sendto(client, c, "x", path("/run/s")), err(Errno::EISCONN));
    assert_eq!(s.connect(client, c, path("/run/s")), err(Errno::EISCONN));
    assert_eq!(s.connect(client, c, path("/run/nope")), err(Errno::ENOENT));
    let (a, peer) = s.accept(server, l);
    assert_eq!(peer, UNNAMED);
    assert_eq!(s.name(server, a), path("/run/s"));
    // A stream coalesces.
    assert_eq!(s.recv(server, a, 100), data("early bird"));
    assert_eq!(s.connect(server, l, path("/run/s")), err(Errno::EINVAL));
    // Blocking accept waits for the next connection, and a blocked recv for data.
    assert_eq!(s.start(server, Syscall::Accept { fd: l }), None);
    let c2 = s.socket(client, SOCK_STREAM);
    assert_eq!(s.connect(client, c2, path("/run/s")), OK);
    assert!(matches!(s.finished(server), Some(SysReturn::Accepted { .. })));
    assert_eq!(
        s.start(
            server,
            Syscall::Recv {
                fd: a,
                len: 10,
                flags: 0
            }
        ),
        None
    );
    assert_eq!(s.finished(server), None);
    assert_eq!(s.send(client, c, "late"), val(4));
    assert_eq!(s.finished(server), Some(data("late")));
}

#[test]
fn s5_4_listener_closed_with_pending_connections() {
    let mut s = Sim::new();
    let p = s.proc();
    let l = s.listener(p, SOCK_STREAM, path("/run/s"), 5);
    let c = s.socket(p, SOCK_STREAM);
    assert_eq!(s.connect(p, c, path("/run/s")), OK);
    assert_eq!(s.close(p, l), OK);
    assert_eq!(s.recv(p, c, 10), err(Errno::ECONNRESET));
    assert_eq!(s.recv(p, c, 10), data(""));
    assert_eq!(s.send(p, c, "x"), err(Errno::EPIPE));
    // The file stays, stale.
    let c2 = s.socket(p, SOCK_STREAM);
    assert_eq!(s.connect(p, c2, path("/run/s")), err(Errno::ECONNREFUSED));
    assert_eq!(s.close(p, c), OK);
    assert_eq!(s.w.unix_sockets().len(), 1, "only c2 is left");
}

#[test]
fn s5_4_peer_closed() {
    let mut s = Sim::new();
    let p = s.proc();
    for ty in [SOCK_STREAM, SOCK_SEQPACKET] {
        let (a, b) = s.pair(p, ty);
        assert_eq!(s.send(p, a, "last"), val(4));
        assert_eq!(s.close(p, a), OK);
        assert_eq!(s.recv(p, b, 10), data("last"));
        assert_eq!(s.recv(p, b, 10), data(""));
        assert_eq!(s.send(p, b, "x"), err(Errno::EPIPE));
        // The peer's name is still reported.
        assert_eq!(addr_of(s.peer(p, b)), UNNAMED);
    }
    // A stream peer that closes with unread data resets us: data first, then ECONNRESET.
    let (a, b) = s.pair(p, SOCK_STREAM);
    assert_eq!(s.send(p, b, "unread"), val(6));
    assert_eq!(s.send(p, a, "zz"), val(2));
    assert_eq!(s.close(p, a), OK);
    assert_eq!(s.recv(p, b, 10), data("zz"));
    assert_eq!(s.recv(p, b, 10), err(Errno::ECONNRESET));
    assert_eq!(s.recv(p, b, 10), data(""));
    // Seqpacket reports the error before the queued message.
    let (a, b) = s.pair(p, SOCK_SEQPACKET);
    assert_eq!(s.send(p, b, "unread"), val(6));
    assert_eq!(s.send(p, a, "zz"), val(2));
    assert_eq!(s.close(p, a), OK);
    assert_eq!(s.recv(p, b, 10), err(Errno::ECONNRESET));
    assert_eq!(s.recv(p, b, 10), data("zz"));
}

#[test]
fn s5_4_boundaries_and_truncation() {
    let mut s = Sim::new();
    let p = s.proc();
    let (a, b) = s.pair(p, SOCK_SEQPACKET);
    s.send(p, a, "12345");
    s.send(p, a, "678");
    match s.recvmsg(p, b, 3, DEFAULT_CONTROLLEN) {
        SysReturn::Msg { data, flags, .. } => assert_eq!((data, flags), (b"123".to_vec(), MSG_TRUNC)),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.recv(p, b, 10), data("678"));
    let (a, b) = s.pair(p, SOCK_STREAM);
    s.send(p, a, "12345");
    s.send(p, a, "678");
    assert_eq!(s.recv(p, b, 3), data("123"));
    assert_eq!(s.recv(p, b, 10), data("45678"));
    let (a, b) = s.pair(p, SOCK_DGRAM);
    assert_eq!(s.send(p, a, ""), val(0));
    assert_eq!(s.recv(p, b, 10), data(""));
    let d = s.socket(p, SOCK_DGRAM);
    assert_eq!(s.listen(p, d, 5), err(Errno::EOPNOTSUPP));
    assert_eq!(s.call(p, Syscall::Accept { fd: d }), err(Errno::EOPNOTSUPP));
    let st = s.socket(p, SOCK_STREAM);
    assert_eq!(s.call(p, Syscall::Accept { fd: st }), err(Errno::EINVAL));
    assert_eq!(s.recv(p, st, 1), err(Errno::EINVAL));
    assert_eq!(s.send(p, st, "x"), err(Errno::ENOTCONN));
    assert_eq!(s.sendto(p, st, "x", path("/run/x")), err(Errno::EOPNOTSUPP));
    let q = s.socket(p, SOCK_SEQPACKET);
    assert_eq!(s.recv(p, q, 1), err(Errno::ENOTCONN));
}

#[test]
fn s5_4_shutdown() {
    let mut s = Sim::new();
    let p = s.proc();
    let (a, b) = s.pair(p, SOCK_STREAM);
    assert_eq!(s.call(p, Syscall::Shutdown { fd: a, how: How::Write }), OK);
    assert_eq!(s.recv(p, b, 10), data(""));
    assert_eq!(s.send(p, a, "x"), err(Errno::EPIPE));
    assert_eq!(s.send(p, b, "y"), val(1));
    assert_eq!(s.recv(p, a, 10), data("y"));
    let lone = s.socket(p, SOCK_DGRAM);
    assert_eq!(
        s.call(
            p,
            Syscall::Shutdown {
                fd: lone,
                how: How::Both
            }
        ),
        OK
    );
}

// ---------------------------------------------------------------------------------------------
// §5.5 Datagram specifics
// ---------------------------------------------------------------------------------------------

#[test]
fn s5_5_sender_addresses() {
    let mut s = Sim::new();
    let p = s.proc();
    let r = s.socket(p, SOCK_DGRAM);
    s.bind(p, r, path("/run/r"));
    let from = |r: SysReturn| match r {
        SysReturn::DataFrom { from, .. } => from,
        other => panic!("{other:?}"),
    };
    let u = s.socket(p, SOCK_DGRAM);
    s.sendto(p, u, "1", path("/run/r"));
    assert_eq!(from(s.recvfrom(p, r, 10)), UNNAMED);
    let b = s.socket(p, SOCK_DGRAM);
    s.bind(p, b, path("/run/b"));
    s.sendto(p, b, "2", path("/run/r"));
    assert_eq!(from(s.recvfrom(p, r, 10)), path("/run/b"));
    let pc = s.socket(p, SOCK_DGRAM);
    s.setopt(p, pc, SO_PASSCRED, 1);
    s.sendto(p, pc, "3", path("/run/r"));
    let auto = s.name(p, pc);
    assert!(matches!(&auto, SockAddr::Unix(UnixAddr::Abstract(_))));
    assert_eq!(from(s.recvfrom(p, r, 10)), auto);
    // The address is read when the datagram is received: a sender that binds after sending,
    // or closes, is reported as it is then.
    let late = s.socket(p, SOCK_DGRAM);
    s.sendto(p, late, "4", path("/run/r"));
    s.bind(p, late, path("/run/late"));
    assert_eq!(from(s.recvfrom(p, r, 10)), path("/run/late"));
    let gone = s.socket(p, SOCK_DGRAM);
    s.bind(p, gone, path("/run/gone"));
    s.sendto(p, gone, "5", path("/run/r"));
    s.close(p, gone);
    assert_eq!(from(s.recvfrom(p, r, 10)), path("/run/gone"));
}

#[test]
fn s5_5_connected_datagrams() {
    let mut s = Sim::new();
    let p = s.proc();
    let u = s.socket(p, SOCK_DGRAM);
    assert_eq!(s.send(p, u, "x"), err(Errno::ENOTCONN));
    let p1 = s.socket(p, SOCK_DGRAM);
    s.bind(p, p1, path("/run/p1"));
    let p2 = s.socket(p, SOCK_DGRAM);
    s.bind(p, p2, path("/run/p2"));
    let other = s.socket(p, SOCK_DGRAM);
    s.bind(p, other, path("/run/other"));
    assert_eq!(s.connect(p, p1, path("/run/p2")), OK);
    assert_eq!(s.connect(p, p2, path("/run/p1")), OK);
    // A connected socket may still send elsewhere.
    assert_eq!(s.sendto(p, p1, "x", path("/run/other")), val(1));
    let third = s.socket(p, SOCK_DGRAM);
    assert_eq!(s.sendto(p, third, "x", path("/run/p1")), err(Errno::EPERM));
    assert_eq!(s.connect(p, third, path("/run/p1")), err(Errno::EPERM));
    assert_eq!(s.send(p, p2, "ok"), val(2));
    assert_eq!(addr_of(s.peer(p, p1)), path("/run/p2"));
    // The peer closes: ECONNREFUSED once, then not connected.
    assert_eq!(s.close(p, p2), OK);
    assert_eq!(s.send(p, p1, "x"), err(Errno::ECONNREFUSED));
    assert_eq!(s.send(p, p1, "x"), err(Errno::ENOTCONN));
    assert_eq!(s.peer(p, p1), err(Errno::ENOTCONN));
    let (a, b) = s.pair(p, SOCK_DGRAM);
    s.close(p, b);
    assert_eq!(s.send(p, a, "x"), err(Errno::ECONNREFUSED));
    assert_eq!(s.send(p, a, "x"), err(Errno::ENOTCONN));
    // AF_UNSPEC dissolves the association.
    let c = s.socket(p, SOCK_DGRAM);
    assert_eq!(s.connect(p, c, path("/run/other")), OK);
    assert_eq!(s.connect(p, c, SockAddr::Unspec), OK);
    assert_eq!(s.peer(p, c), err(Errno::ENOTCONN));
}

#[test]
fn s5_5_receive_queue_limit() {
    let mut s = Sim::new();
    let p = s.proc();
    let r = s.socket(p, SOCK_DGRAM);
    s.bind(p, r, path("/run/r"));
    let u = s.socket(p, SOCK_DGRAM | SOCK_NONBLOCK);
    for i in 0..11 {
        assert_eq!(s.sendto(p, u, "x", path("/run/r")), val(1), "datagram {i}");
    }
    assert_eq!(s.sendto(p, u, "x", path("/run/r")), err(Errno::EAGAIN));
    // A second, connected sender stops at the same place.
    let c = s.socket(p, SOCK_DGRAM | SOCK_NONBLOCK);
    assert_eq!(s.connect(p, c, path("/run/r")), OK);
    assert_eq!(s.send(p, c, "x"), err(Errno::EAGAIN));
    assert_eq!(s.recv(p, r, 1), data("x"));
    assert_eq!(s.sendto(p, u, "x", path("/run/r")), val(1));
    assert_eq!(s.sendto(p, u, "x", path("/run/r")), err(Errno::EAGAIN));
    // A blocking sender waits until the receiver reads.
    let q = s.proc();
    let blocking = s.socket(q, SOCK_DGRAM);
    assert_eq!(
        s.start(
            q,
            Syscall::SendTo {
                fd: blocking,
                data: bytes("w"),
                addr: path("/run/r")
            }
        ),
        None
    );
    assert_eq!(s.finished(q), None);
    assert_eq!(s.recv(p, r, 1), data("x"));
    assert_eq!(s.finished(q), Some(val(1)));
}

#[test]
fn s5_5_socketpair_and_size_limits() {
    let mut s = Sim::new();
    let p = s.proc();
    let (a, _b) = s.pair(p, SOCK_DGRAM | SOCK_NONBLOCK);
    let mut n = 0;
    while s.send(p, a, "x") == val(1) {
        n += 1;
    }
    assert_eq!(n, 278, "sndbuf accounting by true size (768 bytes each)");
    assert_eq!(s.send(p, a, "x"), err(Errno::EAGAIN));
    let r = s.socket(p, SOCK_DGRAM);
    s.bind(p, r, path("/run/r"));
    let big = s.socket(p, SOCK_DGRAM);
    let send = |len| Syscall::SendTo {
        fd: big,
        data: Payload::Zeros(len),
        addr: path("/run/r"),
    };
    assert_eq!(s.call(p, send(212_961)), err(Errno::EMSGSIZE));
    assert_eq!(s.call(p, send(212_960)), val(212_960));
}

// ---------------------------------------------------------------------------------------------
// §5.6 Stream listen backlog
// ---------------------------------------------------------------------------------------------

#[test]
fn s5_6_backlog_plus_one() {
    for (backlog, fit) in [(0, 1), (1, 2), (3, 4)] {
        let mut s = Sim::new();
        let p = s.proc();
        let l = s.listener(p, SOCK_STREAM, path("/run/l"), backlog);
        for i in 0..fit {
            let c = s.socket(p, SOCK_STREAM | SOCK_NONBLOCK);
            assert_eq!(s.connect(p, c, path("/run/l")), OK, "backlog {backlog}, connect {i}");
        }
        let c = s.socket(p, SOCK_STREAM | SOCK_NONBLOCK);
        assert_eq!(s.connect(p, c, path("/run/l")), err(Errno::EAGAIN), "backlog {backlog}");
        // A blocking connector waits for an accept.
        let q = s.proc();
        let w = s.socket(q, SOCK_STREAM);
        assert_eq!(
            s.start(
                q,
                Syscall::Connect {
                    fd: w,
                    addr: path("/run/l")
                }
            ),
            None
        );
        assert_eq!(s.finished(q), None);
        s.accept(p, l);
        assert_eq!(s.finished(q), Some(OK));
    }
}

// ---------------------------------------------------------------------------------------------
// §5.7 Credentials and descriptor passing
// ---------------------------------------------------------------------------------------------

#[test]
fn s5_7_peer_credentials() {
    let mut s = Sim::new();
    let server = s.proc();
    let l = s.listener(server, SOCK_STREAM, abs("creds"), 5);
    let client = s.user(4321, 1234);
    let c = s.socket(client, SOCK_STREAM);
    assert_eq!(s.connect(client, c, abs("creds")), OK);
    let (a, _) = s.accept(server, l);
    let cred = |pid: Pid, uid, gid| Ucred { pid: pid.0, uid, gid };
    assert_eq!(s.peercred(server, a), cred(client, 4321, 1234));
    assert_eq!(s.peercred(client, c), cred(server, 0, 0));
    assert_eq!(s.peercred(server, l), cred(server, 0, 0));
    let (x, _) = s.pair(client, SOCK_STREAM);
    assert_eq!(s.peercred(client, x), cred(client, 4321, 1234));
    let d = s.socket(server, SOCK_DGRAM);
    assert_eq!(
        s.peercred(server, d),
        Ucred {
            pid: 0,
            uid: u32::MAX,
            gid: u32::MAX
        }
    );
}

#[test]
fn s5_7_descriptor_passing() {
    let mut s = Sim::new();
    let p = s.proc();
    let (a, b) = s.pair(p, SOCK_STREAM);
    let (x, y) = s.pair(p, SOCK_DGRAM);
    let sendmsg = |fd, text: &str, control| Syscall::SendMsg {
        fd,
        data: bytes(text),
        addr: None,
        control,
    };
    assert_eq!(s.call(p, sendmsg(a, "hi", vec![Cmsg::Rights(vec![x])])), val(2));
    // In flight, the file stays open when its last descriptor closes.
    assert_eq!(s.close(p, x), OK);
    assert_eq!(s.call(p, sendmsg(a, "there", vec![])), val(5));
    let got = s.recvmsg(p, b, 100, DEFAULT_CONTROLLEN);
    let SysReturn::Msg {
        data, rights, flags, ..
    } = got
    else {
        panic!("{got:?}")
    };
    // Reading stops after the buffer that carried descriptors.
    assert_eq!((data, flags), (b"hi".to_vec(), 0));
    assert_eq!(rights, vec![x], "the lowest free number");
    assert_eq!(s.send(p, rights[0], "through"), val(7));
    assert_eq!(s.recv(p, y, 10), data_of("through"));
    assert_eq!(s.recv(p, b, 100), data_of("there"));
    // No control buffer: the descriptors are dropped and MSG_CTRUNC set.
    s.call(p, sendmsg(a, "z", vec![Cmsg::Rights(vec![y])]));
    let got = s.recvmsg(p, b, 100, 0);
    assert!(
        matches!(got, SysReturn::Msg { ref rights, flags: MSG_CTRUNC, .. } if rights.is_empty()),
        "{got:?}"
    );
    // Room for two of three.
    s.call(p, sendmsg(a, "z", vec![Cmsg::Rights(vec![y, y, y])]));
    let got = s.recvmsg(p, b, 100, 16 + 8);
    assert!(
        matches!(got, SysReturn::Msg { ref rights, flags: MSG_CTRUNC, .. } if rights.len() == 2),
        "{got:?}"
    );
    // A full descriptor table: what fits is installed, the rest dropped.
    s.call(p, sendmsg(a, "q", vec![Cmsg::Rights(vec![y, y])]));
    let next = match s.call(p, Syscall::Dup { fd: 0 }) {
        SysReturn::Value { value } => value,
        other => panic!("{other:?}"),
    };
    s.close(p, next as Fd);
    s.call(
        p,
        Syscall::SetRlimit {
            resource: 7,
            soft: next as u64 + 1,
            hard: 1 << 20,
        },
    );
    let got = s.recvmsg(p, b, 100, DEFAULT_CONTROLLEN);
    assert!(
        matches!(got, SysReturn::Msg { ref rights, flags: MSG_CTRUNC, .. } if rights.len() == 1),
        "{got:?}"
    );
    // Bad descriptors are EBADF and nothing is sent.
    assert_eq!(
        s.call(p, sendmsg(a, "bad", vec![Cmsg::Rights(vec![99])])),
        err(Errno::EBADF)
    );
}

fn data_of(s: &str) -> SysReturn {
    data(s)
}

#[test]
fn s5_7_scm_credentials() {
    let mut s = Sim::new();
    let p = s.user(1000, 1000);
    let (a, b) = s.pair(p, SOCK_STREAM);
    assert_eq!(s.setopt(p, b, SO_PASSCRED, 1), OK);
    s.send(p, a, "c");
    let got = s.recvmsg(p, b, 10, DEFAULT_CONTROLLEN);
    let SysReturn::Msg { creds, .. } = got else { panic!() };
    assert_eq!(
        creds,
        Some(Ucred {
            pid: p.0,
            uid: 1000,
            gid: 1000
        })
    );
    // Explicit SCM_CREDENTIALS to a receiver that does not ask: nothing shows.
    s.call(
        p,
        Syscall::SendMsg {
            fd: b,
            data: bytes("d"),
            addr: None,
            control: vec![Cmsg::Credentials],
        },
    );
    let got = s.recvmsg(p, a, 10, DEFAULT_CONTROLLEN);
    assert!(matches!(got, SysReturn::Msg { creds: None, .. }), "{got:?}");
}

// ---------------------------------------------------------------------------------------------
// Processes: dup, dup2, fork, exit
// ---------------------------------------------------------------------------------------------

#[test]
fn dup_shares_the_open_socket() {
    let mut s = Sim::new();
    let p = s.proc();
    let (a, b) = s.pair(p, SOCK_STREAM);
    let d = match s.call(p, Syscall::Dup { fd: a }) {
        SysReturn::Value { value } => value as Fd,
        other => panic!("{other:?}"),
    };
    assert_eq!(d, b + 1);
    assert_eq!(s.close(p, a), OK);
    assert_eq!(s.send(p, d, "still"), val(5));
    assert_eq!(s.recv(p, b, 10), data("still"));
    assert_eq!(s.call(p, Syscall::Dup2 { oldfd: d, newfd: 9 }), val(9));
    assert_eq!(s.close(p, d), OK);
    assert_eq!(s.send(p, 9, "nine"), val(4));
    // dup2 onto an open descriptor closes it first; the last close reaches the peer.
    assert_eq!(s.call(p, Syscall::Dup2 { oldfd: b, newfd: 9 }), val(9));
    assert_eq!(s.recv(p, b, 10), data("nine"));
    assert_eq!(s.recv(p, 9, 10), data(""));
    assert_eq!(s.call(p, Syscall::Dup2 { oldfd: 9, newfd: 9 }), val(9));
    assert_eq!(s.call(p, Syscall::Dup2 { oldfd: 42, newfd: 42 }), err(Errno::EBADF));
    assert_eq!(s.call(p, Syscall::Dup2 { oldfd: 42, newfd: 43 }), err(Errno::EBADF));
    assert_eq!(s.call(p, Syscall::Dup2 { oldfd: b, newfd: 5000 }), err(Errno::EBADF));
    assert_eq!(s.call(p, Syscall::Dup { fd: 77 }), err(Errno::EBADF));
}

#[test]
fn fork_inherits_credentials_and_exit_closes() {
    let mut s = Sim::new();
    let p = s.user(1000, 1000);
    let l = s.listener(p, SOCK_STREAM, path("/tmp/l"), 1);
    let child = s.w.fork(p, "child");
    assert_eq!(s.w.process(child).cred.uid, 1000);
    s.settle();
    s.w.exit(p);
    s.check();
    let c = s.socket(child, SOCK_STREAM);
    assert_eq!(
        s.connect(child, c, path("/tmp/l")),
        OK,
        "the child still holds the listener"
    );
    s.w.exit(child);
    s.check();
    assert_eq!(s.w.unix_sockets().len(), 0);
    let _ = l;
}

#[test]
fn ss_shows_both_ends() {
    let mut s = Sim::new();
    let p = s.proc();
    let l = s.listener(p, SOCK_STREAM, path("/run/app.sock"), 5);
    let c = s.socket(p, SOCK_STREAM);
    s.connect(p, c, path("/run/app.sock"));
    s.send(p, c, "hello");
    let (a, _) = s.accept(p, l);
    let d = s.socket(p, SOCK_DGRAM);
    s.bind(p, d, abs("log"));
    let rows = s.w.ss(s.hosts[0]);
    let show: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {} {}",
                r.netid, r.state, r.recv_q, r.send_q, r.local, r.peer
            )
        })
        .collect();
    assert_eq!(
        show,
        [
            "u_str LISTEN 0 5 /run/app.sock 10001 * 0",
            "u_str ESTAB 0 768 * 10002 * 10003",
            "u_str ESTAB 5 0 /run/app.sock 10003 * 10002",
            "u_dgr UNCONN 0 0 @log 10004 * 0",
        ]
    );
    let _ = (a, Instant::ZERO);
}

#[test]
fn cycles_in_flight_are_collected() {
    let mut s = Sim::new();
    let p = s.proc();
    let (a, b) = s.pair(p, SOCK_STREAM);
    // b travels to b's own queue: once its descriptors are gone, only b can read b.
    let send = Syscall::SendMsg {
        fd: a,
        data: bytes("self"),
        addr: None,
        control: vec![Cmsg::Rights(vec![b])],
    };
    assert_eq!(s.call(p, send), val(4));
    assert_eq!(s.close(p, b), OK);
    assert_eq!(s.w.unix_sockets().len(), 2, "b is still reachable through a");
    // A ring through a listener's pending connection is collected too.
    let l = s.listener(p, SOCK_STREAM, abs("ring"), 5);
    let c = s.socket(p, SOCK_STREAM);
    s.connect(p, c, abs("ring"));
    let send = Syscall::SendMsg {
        fd: c,
        data: bytes("l"),
        addr: None,
        control: vec![Cmsg::Rights(vec![l])],
    };
    assert_eq!(s.call(p, send), val(1));
    assert_eq!(s.close(p, l), OK);
    assert_eq!(s.close(p, c), OK);
    assert_eq!(s.close(p, a), OK);
    assert_eq!(s.w.unix_sockets().len(), 0);
}

#[test]
fn epoll_watches_unix_sockets() {
    use sim_kernel::epoll::{EPOLL_CTL_ADD, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP};
    let mut s = Sim::new();
    let p = s.proc();
    let ep = match s.call(p, Syscall::EpollCreate1 { flags: 0 }) {
        SysReturn::Value { value } => value as Fd,
        other => panic!("{other:?}"),
    };
    let l = s.listener(p, SOCK_STREAM, path("/run/l"), 5);
    let add = |fd, events| Syscall::EpollCtl {
        epfd: ep,
        op: EPOLL_CTL_ADD,
        fd,
        events,
    };
    assert_eq!(s.call(p, add(l, EPOLLIN)), OK);
    let wait = Syscall::EpollWait {
        epfd: ep,
        maxevents: 8,
        timeout_ms: -1,
    };
    // A blocked epoll_wait wakes when a client connects.
    assert_eq!(s.start(p, wait.clone()), None);
    let q = s.proc();
    let c = s.socket(q, SOCK_STREAM);
    assert_eq!(s.connect(q, c, path("/run/l")), OK);
    assert_eq!(
        s.finished(p),
        Some(SysReturn::Events {
            events: vec![(l, EPOLLIN)]
        })
    );
    let (a, _) = s.accept(p, l);
    assert_eq!(s.call(p, add(a, EPOLLIN | EPOLLOUT | EPOLLRDHUP)), OK);
    assert_eq!(
        s.call(p, wait.clone()),
        SysReturn::Events {
            events: vec![(a, EPOLLOUT)]
        }
    );
    assert_eq!(s.send(q, c, "x"), val(1));
    assert_eq!(s.close(q, c), OK);
    assert_eq!(
        s.call(p, wait.clone()),
        SysReturn::Events {
            events: vec![(a, EPOLLIN | EPOLLOUT | EPOLLHUP | EPOLLRDHUP)]
        }
    );
    // Closing the last descriptor takes the socket out of the epoll.
    assert_eq!(s.close(p, a), OK);
    let zero = Syscall::EpollWait {
        epfd: ep,
        maxevents: 8,
        timeout_ms: 0,
    };
    assert_eq!(s.call(p, zero), SysReturn::Events { events: vec![] });
}

#[test]
fn epoll_hears_when_a_full_datagram_receiver_has_room() {
    use sim_kernel::epoll::{EPOLL_CTL_ADD, EPOLLOUT};
    let mut s = Sim::new();
    let p = s.proc();
    let r = s.socket(p, SOCK_DGRAM);
    s.bind(p, r, path("/run/r"));
    let c = s.socket(p, SOCK_DGRAM | SOCK_NONBLOCK);
    s.connect(p, c, path("/run/r"));
    while s.send(p, c, "x") == val(1) {}
    let ep = match s.call(p, Syscall::EpollCreate1 { flags: 0 }) {
        SysReturn::Value { value } => value as Fd,
        other => panic!("{other:?}"),
    };
    let add = Syscall::EpollCtl {
        epfd: ep,
        op: EPOLL_CTL_ADD,
        fd: c,
        events: EPOLLOUT,
    };
    assert_eq!(s.call(p, add), OK);
    let wait = Syscall::EpollWait {
        epfd: ep,
        maxevents: 8,
        timeout_ms: -1,
    };
    assert_eq!(s.start(p, wait), None, "the receiver's queue is full: not writable");
    // A second process holding the receiver (a fork of the first) reads one datagram.
    let child = s.w.fork(p, "reader");
    s.settle();
    assert_eq!(s.recv(child, r, 1), data("x"));
    assert_eq!(
        s.finished(p),
        Some(SysReturn::Events {
            events: vec![(c, EPOLLOUT)]
        })
    );
}

/// Details checked on Linux 6.18 with Python in `unshare -n` (see the module docs).
#[test]
fn corner_cases_checked_on_linux() {
    let mut s = Sim::new();
    let p = s.proc();
    // Seqpacket: a reset is reported once, then EPIPE.
    let (a, b) = s.pair(p, SOCK_SEQPACKET);
    s.send(p, b, "unread");
    s.close(p, a);
    assert_eq!(s.send(p, b, "x"), err(Errno::ECONNRESET));
    assert_eq!(s.send(p, b, "x"), err(Errno::EPIPE));
    // Non-blocking reads after SHUT_RD: EAGAIN for datagrams, EOF for seqpacket.
    let shut_rd = |fd| Syscall::Shutdown { fd, how: How::Read };
    let (d, _) = s.pair(p, SOCK_DGRAM | SOCK_NONBLOCK);
    s.call(p, shut_rd(d));
    assert_eq!(s.recv(p, d, 1), err(Errno::EAGAIN));
    let (q, _) = s.pair(p, SOCK_SEQPACKET | SOCK_NONBLOCK);
    s.call(p, shut_rd(q));
    assert_eq!(s.recv(p, q, 1), data(""));
    // A listener shut for reading refuses connections, and its accept() is EINVAL.
    let l = s.listener(p, SOCK_STREAM, path("/run/l"), 1);
    s.call(p, shut_rd(l));
    let c = s.socket(p, SOCK_STREAM);
    assert_eq!(s.connect(p, c, path("/run/l")), err(Errno::ECONNREFUSED));
    assert_eq!(s.call(p, Syscall::Accept { fd: l }), err(Errno::EINVAL));
    // Zero bytes on a stream carry no descriptors.
    let (x, y) = s.pair(p, SOCK_STREAM | SOCK_NONBLOCK);
    let send0 = Syscall::SendMsg {
        fd: x,
        data: bytes(""),
        addr: None,
        control: vec![Cmsg::Rights(vec![d])],
    };
    assert_eq!(s.call(p, send0), val(0));
    assert_eq!(s.recvmsg(p, y, 10, DEFAULT_CONTROLLEN), err(Errno::EAGAIN));
    // A message sent before the receiver asked for credentials reports pid 0, uid/gid 65534.
    let (g, h) = s.pair(p, SOCK_DGRAM);
    s.send(p, g, "early");
    s.setopt(p, h, SO_PASSCRED, 1);
    let got = s.recvmsg(p, h, 10, DEFAULT_CONTROLLEN);
    let SysReturn::Msg { creds, .. } = got else {
        panic!("{got:?}")
    };
    assert_eq!(
        creds,
        Some(Ucred {
            pid: 0,
            uid: 65534,
            gid: 65534
        })
    );
}
