//! The system calls and constants a scenario may use: one table shared by the checker (names,
//! arities, argument kinds) and the interpreter (what each constant means).

/// What an argument of a call must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// A descriptor: a variable bound to a call's result (`s`), or a literal number.
    Fd,
    /// An address family constant (`AF_INET`).
    Domain,
    /// A socket type constant, optionally or'ed with flags (`SOCK_STREAM | SOCK_NONBLOCK`).
    Type,
    /// A protocol constant (`IPPROTO_TCP`) or `0`.
    Protocol,
    /// A socket address (`10.0.0.1:80`).
    SockAddr,
    /// An integer (`128`, `$n`).
    Int,
    /// Bytes to send: a string or a size (`"hello"`, `64KiB`, `100`).
    Payload,
    /// A socket option level (`SOL_SOCKET`).
    Level,
    /// A socket option name (`SO_REUSEADDR`).
    OptName,
    /// `shutdown`'s direction (`SHUT_WR`).
    How,
    /// An `fcntl` command (`F_SETFL`).
    FcntlCmd,
    /// File status flags (`O_NONBLOCK`), or'ed.
    FileFlags,
    /// An `epoll_ctl` operation (`EPOLL_CTL_ADD`).
    EpollOp,
    /// Epoll events and flags (`EPOLLIN | EPOLLEXCLUSIVE`), or'ed.
    EpollEvents,
    /// `epoll_create1` flags (`EPOLL_CLOEXEC` or 0).
    EpollFlags,
    /// A resource (`RLIMIT_NOFILE`).
    Resource,
    /// A filesystem path in quotes (`"/run/app"`).
    Path,
    /// Permission bits (`0755`: a leading zero means octal, as in C).
    Mode,
    /// `recv` flags (`MSG_PEEK | MSG_DONTWAIT`), or'ed.
    MsgFlags,
    /// `sendmsg`'s control part: an optional destination, then `SCM_RIGHTS` followed by
    /// descriptors and/or `SCM_CREDENTIALS`. It takes every remaining argument.
    Control,
}

/// The signature of one call.
#[derive(Clone, Copy, Debug)]
pub struct CallSpec {
    /// Its name, as in the man page.
    pub name: &'static str,
    /// Its parameters, in order.
    pub params: &'static [Param],
    /// How many trailing parameters may be left out.
    pub optional: usize,
    /// How many names its result can be bound to (`s = socket(...)` is 1).
    pub results: usize,
}

impl CallSpec {
    /// The fewest arguments the call takes.
    pub fn min_args(&self) -> usize {
        self.params.len() - self.optional
    }
}

use Param::*;

/// Every call the language knows.
pub const CALLS: &[CallSpec] = &[
    CallSpec {
        name: "socket",
        params: &[Domain, Type, Protocol],
        optional: 1,
        results: 1,
    },
    CallSpec {
        name: "bind",
        params: &[Fd, SockAddr],
        optional: 0,
        results: 0,
    },
    CallSpec {
        name: "listen",
        params: &[Fd, Int],
        optional: 1,
        results: 0,
    },
    CallSpec {
        name: "accept",
        params: &[Fd],
        optional: 0,
        results: 1,
    },
    CallSpec {
        name: "connect",
        params: &[Fd, SockAddr],
        optional: 0,
        results: 0,
    },
    CallSpec {
        name: "send",
        params: &[Fd, Payload],
        optional: 0,
        results: 0,
    },
    CallSpec {
        name: "recv",
        params: &[Fd, Int, MsgFlags],
        optional: 1,
        results: 0,
    },
    CallSpec {
        name: "sendto",
        params: &[Fd, Payload, SockAddr],
        optional: 0,
        results: 0,
    },
    CallSpec {
        name: "recvfrom",
        params: &[Fd, Int, MsgFlags],
        optional: 1,
        results: 0,
    },
    CallSpec {
        name: "shutdown",
        params: &[Fd, How],
        optional: 0,
        results: 0,
    },
    CallSpec {
        name: "close",
        params: &[Fd],
        optional: 0,
        results: 0,
    },
    CallSpec {
        name: "getsockname",
        params: &[Fd],
        optional: 0,
        results: 0,
    },
    CallSpec {
        name: "getpeername",
        params: &[Fd],
        optional: 0,
        results: 0,
    },
    CallSpec {
        name: "setsockopt",
        params: &[Fd, Level, OptName, Int],
        optional: 0,
        results: 0,
    },
    CallSpec {
        name: "getsockopt",
        params: &[Fd, Level, OptName],
        optional: 0,
        results: 0,
    },
    CallSpec {
        name: "fcntl",
        params: &[Fd, FcntlCmd, FileFlags],
        optional: 1,
        results: 0,
    },
    CallSpec {
        name: "epoll_create1",
        params: &[EpollFlags],
        optional: 1,
        results: 1,
    },
    CallSpec {
        name: "epoll_ctl",
        params: &[Fd, EpollOp, Fd, EpollEvents],
        optional: 1,
        results: 0,
    },
    CallSpec {
        name: "epoll_wait",
        params: &[Fd, Int, Int],
        optional: 0,
        results: 0,
    },
    CallSpec {
        name: "setrlimit",
        params: &[Resource, Int, Int],
        optional: 0,
        results: 0,
    },
    CallSpec {
        name: "getrlimit",
        params: &[Resource],
        optional: 0,
        results: 0,
    },
    // `accept4(l, SOCK_NONBLOCK)`: flags or 0.
    CallSpec {
        name: "accept4",
        params: &[Fd, Type],
        optional: 0,
        results: 1,
    },
    CallSpec {
        name: "socketpair",
        params: &[Domain, Type, Protocol],
        optional: 1,
        results: 2,
    },
    CallSpec {
        name: "dup",
        params: &[Fd],
        optional: 0,
        results: 1,
    },
    CallSpec {
        name: "dup2",
        params: &[Fd, Fd],
        optional: 0,
        results: 1,
    },
    CallSpec {
        name: "mkdir",
        params: &[Path, Mode],
        optional: 1,
        results: 0,
    },
    CallSpec {
        name: "unlink",
        params: &[Path],
        optional: 0,
        results: 0,
    },
    CallSpec {
        name: "chmod",
        params: &[Path, Mode],
        optional: 0,
        results: 0,
    },
    // `chown(path, uid, gid)`: -1 keeps an id.
    CallSpec {
        name: "chown",
        params: &[Path, Int, Int],
        optional: 0,
        results: 0,
    },
    // `mknod(path, mode)`: a regular file for a mode without type bits (`0644`).
    CallSpec {
        name: "mknod",
        params: &[Path, Mode],
        optional: 0,
        results: 0,
    },
    // `old = umask(077)`: returns the old mask, shown in octal (`022`).
    CallSpec {
        name: "umask",
        params: &[Mode],
        optional: 0,
        results: 1,
    },
    CallSpec {
        name: "sendmsg",
        params: &[Fd, Payload, Control],
        optional: 1,
        results: 0,
    },
    // `c = recvmsg(s, 100)` binds the first descriptor received (-1 if none).
    CallSpec {
        name: "recvmsg",
        params: &[Fd, Int, Int],
        optional: 1,
        results: 1,
    },
];

/// Looks a call up by name.
pub fn call(name: &str) -> Option<&'static CallSpec> {
    CALLS.iter().find(|c| c.name == name)
}

/// A named constant and where it may appear.
#[derive(Clone, Copy, Debug)]
pub struct Constant {
    /// The name (`SO_REUSEADDR`).
    pub name: &'static str,
    /// The Linux value (`include/uapi/...`).
    pub value: i64,
    /// The parameter kind it belongs to.
    pub param: Param,
    /// `None` when simulated; otherwise why not yet (shown to the user by the checker).
    pub unsupported: Option<&'static str>,
}

const fn c(name: &'static str, value: i64, param: Param) -> Constant {
    Constant {
        name,
        value,
        param,
        unsupported: None,
    }
}

const fn later(name: &'static str, value: i64, param: Param, why: &'static str) -> Constant {
    Constant {
        name,
        value,
        param,
        unsupported: Some(why),
    }
}

/// Socket type flags that may be or'ed into a [`Param::Type`] (`include/linux/net.h`).
pub const SOCK_NONBLOCK: i64 = 0o4000;
/// `SOCK_CLOEXEC` (`include/linux/net.h`).
pub const SOCK_CLOEXEC: i64 = 0o2000000;

/// Every constant the language knows, with Linux's values (x86_64 uapi headers).
pub const CONSTANTS: &[Constant] = &[
    c("AF_INET", 2, Domain),
    // `connect(s, AF_UNSPEC)` dissolves an association (a sockaddr with only a family).
    c("AF_UNSPEC", 0, SockAddr),
    c("AF_INET6", 10, Domain),
    c("AF_UNIX", 1, Domain),
    c("AF_LOCAL", 1, Domain),
    c("SOCK_STREAM", 1, Type),
    c("SOCK_DGRAM", 2, Type),
    c("SOCK_SEQPACKET", 5, Type),
    c("SOCK_NONBLOCK", SOCK_NONBLOCK, Type),
    c("SOCK_CLOEXEC", SOCK_CLOEXEC, Type),
    c("IPPROTO_TCP", 6, Protocol),
    c("IPPROTO_UDP", 17, Protocol),
    c("IPPROTO_IP", 0, Protocol),
    c("SOL_IP", 0, Level),
    c("SOL_SOCKET", 1, Level),
    c("IPPROTO_IPV6", 41, Level),
    c("SO_REUSEADDR", 2, OptName),
    c("SO_REUSEPORT", 15, OptName),
    c("SO_ERROR", 4, OptName),
    c("SO_TYPE", 3, OptName),
    c("SO_ACCEPTCONN", 30, OptName),
    c("SO_PASSCRED", 16, OptName),
    c("SO_PEERCRED", 17, OptName),
    c("SO_LINGER", 13, OptName),
    c("SO_SNDBUF", 7, OptName),
    c("SO_RCVBUF", 8, OptName),
    c("SO_RCVTIMEO", 20, OptName),
    c("SO_SNDTIMEO", 21, OptName),
    later("SO_KEEPALIVE", 9, OptName, "keepalive is not simulated yet"),
    c("IPV6_V6ONLY", 26, OptName),
    c("IP_BIND_ADDRESS_NO_PORT", 24, OptName),
    c("IP_TTL", 2, OptName),
    c("IPV6_UNICAST_HOPS", 16, OptName),
    c("F_GETFL", 3, FcntlCmd),
    c("F_SETFL", 4, FcntlCmd),
    c("O_RDWR", 2, FileFlags),
    c("O_NONBLOCK", 0o4000, FileFlags),
    c("EPOLL_CLOEXEC", 0o2000000, EpollFlags),
    c("EPOLL_CTL_ADD", 1, EpollOp),
    c("EPOLL_CTL_DEL", 2, EpollOp),
    c("EPOLL_CTL_MOD", 3, EpollOp),
    c("EPOLLIN", 0x001, EpollEvents),
    c("EPOLLPRI", 0x002, EpollEvents),
    c("EPOLLOUT", 0x004, EpollEvents),
    c("EPOLLERR", 0x008, EpollEvents),
    c("EPOLLHUP", 0x010, EpollEvents),
    c("EPOLLRDHUP", 0x2000, EpollEvents),
    c("EPOLLEXCLUSIVE", 1 << 28, EpollEvents),
    c("EPOLLONESHOT", 1 << 30, EpollEvents),
    c("EPOLLET", 1 << 31, EpollEvents),
    c("RLIMIT_NOFILE", 7, Resource),
    c("SHUT_RD", 0, How),
    c("SHUT_WR", 1, How),
    c("SHUT_RDWR", 2, How),
    c("MSG_PEEK", 0x02, MsgFlags),
    c("MSG_DONTWAIT", 0x40, MsgFlags),
    c("SCM_RIGHTS", 1, Control),
    c("SCM_CREDENTIALS", 2, Control),
];

/// Looks a constant up by name.
pub fn constant(name: &str) -> Option<&'static Constant> {
    CONSTANTS.iter().find(|c| c.name == name)
}

/// Sysctls a host may set, with how many integer values each takes and the inclusive bounds
/// of each value (the kernel's own table; defaults are documented in the book's reference).
pub const SYSCTLS: &[(&str, usize, i64, i64)] = sim_kernel::sysctl::SETTABLE;
