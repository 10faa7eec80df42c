#!/usr/bin/env python3
"""socksim's oracle: run a scenario on the REAL Linux kernel and check its expectations.

Input: the syntax tree that `socksim check --ast FILE` prints (JSON), plus the source file
(for line:column and the expectation text in reports). Normally started by
`tools/oracle/run FILE`, which runs it under `unshare -n -p -f`: a fresh network namespace (and
a PID namespace, so that every process it starts dies with it). See tools/oracle/README.md.

What it does, in order:

1. Checks the whole scenario and exits 2, before doing anything, if it uses something the
   oracle cannot do (processes on several hosts, an unknown call or constant, Unix-domain
   sockets, a sysctl outside `net.*`, ...).
2. Refuses to run unless it is in a fresh network namespace: only `lo` exists and `lo` is
   still down (and, when tools/oracle/run passed the caller's namespace inode, it differs).
   It never touches the host's real network namespace.
3. Brings `lo` up, adds every address of the (single) host to `lo` as a /32 (/128), and
   writes the host's sysctls to /proc/sys (per network namespace).
4. Runs every process as a real OS process (os.fork), with only descriptors 0, 1 and 2 open
   (all on /dev/null) and RLIMIT_NOFILE as socksim gives it, so descriptor numbers match
   socksim's. This controller schedules them as socksim does: one process at a time, first
   come first served where socksim would draw from the seed, `sleep` and `at` in real time,
   calls that sleep in the kernel reported as `<blocked>` and later `<resumed>`. `fork NAME`
   is a real fork(). Each process talks to the controller over a Unix socket kept at a
   descriptor between the soft and hard RLIMIT_NOFILE, out of the scenario's reach.
5. Makes the real system calls through libc (ctypes), so arguments and errno reach and leave
   the kernel exactly as written (`fcntl` through the fcntl module), prints one line per call
   in socksim's trace format, and compares each inline expectation exactly as socksim does.

The constants (names, values, kinds, and the order that decides which name is printed) are
read from scenarios/src/calls.rs when it is there, so the output follows socksim's.

Exit status: 0 every expectation held; 1 at least one failed (or the kernel refused the
world's setup, e.g. a sysctl value); 2 the oracle cannot run this scenario (the reason is
printed).
"""

import argparse
import ast as pyast
import ctypes
import errno as errno_mod
import fcntl
import heapq
import ipaddress
import json
import os
import platform
import re
import select
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback
from collections import deque

EXIT_OK, EXIT_FAILED, EXIT_UNSUPPORTED = 0, 1, 2

# socksim's process model: RLIMIT_NOFILE as a process started by systemd gets it.
SOCKSIM_NOFILE = (1024, 524288)
# The control channel of each process: a descriptor at or above the soft RLIMIT_NOFILE, where
# the scenario cannot allocate, so that descriptor numbers (and EMFILE) match socksim's.
CTRL_FD = None
# socksim's guard against loops that never yield.
MAX_STATEMENTS_PER_STEP = 1_000_000


class Unsupported(Exception):
    """The scenario uses something the oracle cannot do (exit 2)."""


class SetupRefused(Exception):
    """The kernel refused the world's setup (exit 1)."""


# --------------------------------------------------------------------------------------------
# The language's constants: the same names, values, kinds and ORDER as scenarios/src/calls.rs
# (the order decides which name is printed for a value, as socksim's renderer does).

CONSTANTS = [
    ("AF_INET", 2, "Domain"),
    ("AF_UNSPEC", 0, "SockAddr"),
    ("AF_INET6", 10, "Domain"),
    ("AF_UNIX", 1, "Domain"),
    ("AF_LOCAL", 1, "Domain"),
    ("SOCK_STREAM", 1, "Type"),
    ("SOCK_DGRAM", 2, "Type"),
    ("SOCK_SEQPACKET", 5, "Type"),
    ("SOCK_NONBLOCK", 0o4000, "Type"),
    ("SOCK_CLOEXEC", 0o2000000, "Type"),
    ("IPPROTO_TCP", 6, "Protocol"),
    ("IPPROTO_UDP", 17, "Protocol"),
    ("IPPROTO_IP", 0, "Protocol"),
    ("SOL_IP", 0, "Level"),
    ("SOL_SOCKET", 1, "Level"),
    ("IPPROTO_IPV6", 41, "Level"),
    ("SO_REUSEADDR", 2, "OptName"),
    ("SO_REUSEPORT", 15, "OptName"),
    ("SO_ERROR", 4, "OptName"),
    ("SO_TYPE", 3, "OptName"),
    ("SO_ACCEPTCONN", 30, "OptName"),
    ("SO_PASSCRED", 16, "OptName"),
    ("SO_PEERCRED", 17, "OptName"),
    ("SO_LINGER", 13, "OptName"),
    ("SO_SNDBUF", 7, "OptName"),
    ("SO_RCVBUF", 8, "OptName"),
    ("SO_KEEPALIVE", 9, "OptName"),
    ("IPV6_V6ONLY", 26, "OptName"),
    ("IP_BIND_ADDRESS_NO_PORT", 24, "OptName"),
    ("F_GETFL", 3, "FcntlCmd"),
    ("F_SETFL", 4, "FcntlCmd"),
    ("O_RDWR", 2, "FileFlags"),
    ("O_NONBLOCK", 0o4000, "FileFlags"),
    ("EPOLL_CLOEXEC", 0o2000000, "EpollFlags"),
    ("EPOLL_CTL_ADD", 1, "EpollOp"),
    ("EPOLL_CTL_DEL", 2, "EpollOp"),
    ("EPOLL_CTL_MOD", 3, "EpollOp"),
    ("EPOLLIN", 0x001, "EpollEvents"),
    ("EPOLLPRI", 0x002, "EpollEvents"),
    ("EPOLLOUT", 0x004, "EpollEvents"),
    ("EPOLLERR", 0x008, "EpollEvents"),
    ("EPOLLHUP", 0x010, "EpollEvents"),
    ("EPOLLRDHUP", 0x2000, "EpollEvents"),
    ("EPOLLEXCLUSIVE", 1 << 28, "EpollEvents"),
    ("EPOLLONESHOT", 1 << 30, "EpollEvents"),
    ("EPOLLET", 1 << 31, "EpollEvents"),
    ("RLIMIT_NOFILE", 7, "Resource"),
    ("SHUT_RD", 0, "How"),
    ("SHUT_WR", 1, "How"),
    ("SHUT_RDWR", 2, "How"),
]


def _eval_const(expr):
    """The value of a constant expression as calls.rs writes it (`0o4000`, `1 << 28`,
    `SOCK_NONBLOCK`), or None."""
    names = {"SOCK_NONBLOCK": 0o4000, "SOCK_CLOEXEC": 0o2000000}

    def ev(node):
        if isinstance(node, pyast.Expression):
            return ev(node.body)
        if isinstance(node, pyast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, pyast.Name) and node.id in names:
            return names[node.id]
        if isinstance(node, pyast.UnaryOp) and isinstance(node.op, pyast.USub):
            return -ev(node.operand)
        if isinstance(node, pyast.BinOp):
            a, b = ev(node.left), ev(node.right)
            ops = {pyast.LShift: lambda: a << b, pyast.BitOr: lambda: a | b, pyast.Add: lambda: a + b}
            if type(node.op) in ops:
                return ops[type(node.op)]()
        raise ValueError(expr)

    try:
        return ev(pyast.parse(expr.strip(), mode="eval"))
    except (SyntaxError, ValueError):
        return None


def load_constants():
    """socksim's own constant table (names, values, kinds, in its order), read from
    scenarios/src/calls.rs beside this tool, so that the names the oracle prints follow
    socksim's; None if it cannot be read, and the embedded copy above is used."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scenarios", "src", "calls.rs")
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    start = text.find("pub const CONSTANTS")
    end = text.find("];", start)
    if start < 0 or end < 0:
        return None
    entries = []
    for m in re.finditer(r'\b(?:c|later)\(\s*"([A-Za-z0-9_]+)"\s*,\s*([^,]+?)\s*,\s*([A-Za-z]+)\s*[,)]',
                         text[start:end]):
        value = _eval_const(m.group(2))
        if value is None:
            return None
        entries.append((m.group(1), value, m.group(3)))
    return entries or None


CONSTANTS = load_constants() or CONSTANTS
CONST_BY_NAME = {name: (value, kind) for name, value, kind in CONSTANTS}

# Constants the oracle cannot pass to the kernel the way socksim means them (none at present;
# Unix-domain sockets run in a private root directory, see setup_root()).
UNSUPPORTED_CONSTANTS = {}


def _cross_check_constants():
    """The table above must agree with the running system's headers (via Python's modules)."""
    checks = {
        "AF_INET": socket.AF_INET, "AF_INET6": socket.AF_INET6, "SOCK_STREAM": socket.SOCK_STREAM,
        "SOCK_NONBLOCK": socket.SOCK_NONBLOCK, "SOCK_CLOEXEC": socket.SOCK_CLOEXEC,
        "SOL_SOCKET": socket.SOL_SOCKET, "SO_REUSEADDR": socket.SO_REUSEADDR,
        "SO_REUSEPORT": socket.SO_REUSEPORT, "SO_ERROR": socket.SO_ERROR, "SO_TYPE": socket.SO_TYPE,
        "SO_ACCEPTCONN": socket.SO_ACCEPTCONN, "F_GETFL": fcntl.F_GETFL, "F_SETFL": fcntl.F_SETFL,
        "O_NONBLOCK": os.O_NONBLOCK, "O_RDWR": os.O_RDWR, "EPOLLIN": select.EPOLLIN,
        "EPOLLOUT": select.EPOLLOUT, "EPOLLRDHUP": select.EPOLLRDHUP, "EPOLLET": select.EPOLLET,
        "EPOLLEXCLUSIVE": select.EPOLLEXCLUSIVE, "EPOLLONESHOT": select.EPOLLONESHOT,
        "SHUT_WR": socket.SHUT_WR, "IPPROTO_TCP": socket.IPPROTO_TCP,
    }
    for name, value in checks.items():
        if name in CONST_BY_NAME and CONST_BY_NAME[name][0] != value:
            raise SystemExit(f"oracle: internal error: {name} is {value} here, not {CONST_BY_NAME[name][0]}")


# socksim's errno names (sim-kernel/src/errno.rs), preferred over Python's aliases.
SOCKSIM_ERRNOS = [
    ("EPERM", 1), ("ENOENT", 2), ("EINTR", 4), ("EBADF", 9), ("EAGAIN", 11), ("ENOMEM", 12),
    ("EACCES", 13), ("EFAULT", 14), ("EEXIST", 17), ("ENOTDIR", 20), ("EISDIR", 21),
    ("EINVAL", 22), ("ENFILE", 23), ("EMFILE", 24), ("ENOSPC", 28), ("EPIPE", 32),
    ("ENAMETOOLONG", 36), ("ELOOP", 40), ("ENOTSOCK", 88), ("EDESTADDRREQ", 89), ("EMSGSIZE", 90),
    ("EPROTOTYPE", 91), ("ENOPROTOOPT", 92), ("EPROTONOSUPPORT", 93), ("ESOCKTNOSUPPORT", 94),
    ("EOPNOTSUPP", 95), ("EAFNOSUPPORT", 97), ("EADDRINUSE", 98), ("EADDRNOTAVAIL", 99),
    ("ENETUNREACH", 101), ("ECONNABORTED", 103), ("ECONNRESET", 104), ("ENOBUFS", 105),
    ("EISCONN", 106), ("ENOTCONN", 107), ("ETIMEDOUT", 110), ("ECONNREFUSED", 111),
    ("EHOSTUNREACH", 113), ("EALREADY", 114), ("EINPROGRESS", 115),
]
SOCKSIM_ERRNO_NAME = {num: name for name, num in SOCKSIM_ERRNOS}


def errno_name(num):
    if num in SOCKSIM_ERRNO_NAME:
        return SOCKSIM_ERRNO_NAME[num]
    return errno_mod.errorcode.get(num, f"E{num}")


# The calls the oracle runs: parameter kinds and how many trailing ones may be left out.
CALLS = {
    "socket": (["Domain", "Type", "Protocol"], 1),
    "bind": (["Fd", "SockAddr"], 0),
    "listen": (["Fd", "Int"], 1),
    "accept": (["Fd"], 0),
    "accept4": (["Fd", "Type"], 0),
    "connect": (["Fd", "SockAddr"], 0),
    "send": (["Fd", "Payload"], 0),
    "recv": (["Fd", "Int", "MsgFlags"], 1),
    "sendto": (["Fd", "Payload", "SockAddr"], 0),
    "recvfrom": (["Fd", "Int", "MsgFlags"], 1),
    "shutdown": (["Fd", "How"], 0),
    "close": (["Fd"], 0),
    "getsockname": (["Fd"], 0),
    "getpeername": (["Fd"], 0),
    "setsockopt": (["Fd", "Level", "OptName", "Int"], 0),
    "getsockopt": (["Fd", "Level", "OptName"], 0),
    "fcntl": (["Fd", "FcntlCmd", "FileFlags"], 1),
    "epoll_create1": (["EpollFlags"], 1),
    "epoll_ctl": (["Fd", "EpollOp", "Fd", "EpollEvents"], 1),
    "epoll_wait": (["Fd", "Int", "Int"], 0),
    "setrlimit": (["Resource", "Int", "Int"], 0),
    "getrlimit": (["Resource"], 0),
    "socketpair": (["Domain", "Type", "Protocol"], 1),
    "dup": (["Fd"], 0),
    "dup2": (["Fd", "Int"], 0),
    "mkdir": (["Path", "Mode"], 1),
    "unlink": (["Path"], 0),
    "chmod": (["Path", "Mode"], 0),
    "chown": (["Path", "Int", "Int"], 0),
    "mknod": (["Path", "Mode"], 0),
    "umask": (["Mode"], 0),
    "sendmsg": (["Fd", "Payload", "Control"], 1),
    "recvmsg": (["Fd", "Int", "Int"], 1),
}

# Unix-domain details (sim-kernel/src/unix/scm.rs, include/linux/socket.h).
AF_UNIX = 1
SOL_SOCKET = 1
SO_PEERCRED = 17
SO_DOMAIN = 39
SCM_RIGHTS, SCM_CREDENTIALS = 1, 2
MSG_TRUNC, MSG_CTRUNC = 0x20, 0x08
SCM_MAX_FD = 253
UCRED_LEN = 12
UCRED = struct.Struct("=iII")


def cmsg_align(n):
    return (n + 7) & ~7


def cmsg_len(n):
    return 16 + n  # sizeof(struct cmsghdr) on 64-bit Linux


def cmsg_space(n):
    return 16 + cmsg_align(n)


# The control buffer recvmsg offers when the scenario gives none (scm::DEFAULT_CONTROLLEN).
DEFAULT_CONTROLLEN = cmsg_space(UCRED_LEN) + cmsg_space(4 * SCM_MAX_FD)

# --------------------------------------------------------------------------------------------
# Rendering, as scenarios/src/render.rs does it.

STRING_LIMIT = 32


def constant_name(kind, value):
    for name, v, k in CONSTANTS:
        if k == kind and v == value:
            return name
    return str(value)


def flag_names(kind, value):
    names = []
    rest = value
    for name, v, k in CONSTANTS:
        if k != kind or v == 0:
            continue
        if value & v == v and rest & v != 0:
            names.append(name)
            rest &= ~v
    if rest != 0 or not names:
        names.append("0" if rest == 0 else hex(rest))
    return "|".join(names)


def quote(data):
    out = ['"']
    for b in data[:STRING_LIMIT]:
        if b == 0x22:
            out.append('\\"')
        elif b == 0x5C:
            out.append("\\\\")
        elif b == 0x0A:
            out.append("\\n")
        elif b == 0x09:
            out.append("\\t")
        elif b == 0x0D:
            out.append("\\r")
        elif b == 0:
            out.append("\\0")
        elif 0x20 <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    out.append('"')
    if len(data) > STRING_LIMIT:
        out.append("...")
    return "".join(out)


def size_text(n):
    if n == 0:
        return "0"
    if n % (1 << 20) == 0:
        return f"{n >> 20}MiB"
    if n % (1 << 10) == 0:
        return f"{n >> 10}KiB"
    return str(n)


def ip_text(ip):
    """An IP address as Rust's Display prints it."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"::ffff:{ip.ipv4_mapped}"
        return ip.compressed
    return str(ip)


def rust_debug(text):
    """A string as Rust's `{:?}` prints it (socksim prints paths and abstract names so)."""
    out = ['"']
    for ch in text:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif o == 0:
            out.append("\\0")
        elif o < 0x20 or 0x7F <= o < 0xA0:
            out.append(f"\\u{{{o:x}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class UAddr:
    """A Unix-domain address as socksim shows it: unnamed, "/path", @"name"."""

    __slots__ = ("kind", "value")

    def __init__(self, kind, value=None):
        self.kind = kind  # "unnamed", "path" (str), "abstract" (bytes)
        self.value = value

    def text(self):
        if self.kind == "unnamed":
            return "unnamed"
        if self.kind == "path":
            return rust_debug(self.value)
        return "@" + rust_debug(self.value.decode("utf-8", errors="replace"))


def sockaddr_text(addr):
    """(ip, port, scope) as Rust's SocketAddr Display prints it; a UAddr as socksim does."""
    if addr is None:
        return "AF_UNSPEC"
    if isinstance(addr, UAddr):
        return addr.text()
    ip, port, scope = addr
    if isinstance(ip, ipaddress.IPv6Address):
        s = ip_text(ip)
        if scope:
            s += f"%{scope}"
        return f"[{s}]:{port}"
    return f"{ip}:{port}"


def normalize_detail(text):
    """What socksim compares bracket details by (render::normalize_detail): whitespace runs
    become one space between tokens, and vanish next to `,`, `|` and `=`."""
    out = ""
    blank = False
    for c in text:
        if c.isspace():
            blank = True
            continue
        punct = c in ",|="
        if blank and not punct and out and not out.endswith((",", "|", "=")):
            out += " "
        blank = False
        out += c
    return out


def vtime_text(ns):
    return f"{ns // 1_000_000_000}.{(ns % 1_000_000_000) // 1000:06d}"


class Ret:
    """What a call returned (sim_kernel::syscall::SysReturn)."""

    __slots__ = ("kind", "v", "errno", "addr", "fd", "name", "soft", "hard", "events", "data", "fds", "cred",
                 "flags")

    def __init__(self, kind, **kw):
        self.kind = kind
        self.v = kw.get("v", 0)
        self.errno = kw.get("errno")
        self.addr = kw.get("addr")
        self.fd = kw.get("fd")
        self.name = kw.get("name")
        self.soft = kw.get("soft")
        self.hard = kw.get("hard")
        self.events = kw.get("events")
        self.data = kw.get("data")
        self.fds = kw.get("fds") or []  # socketpair's pair; recvmsg's SCM_RIGHTS
        self.cred = kw.get("cred")  # (pid, uid, gid): SO_PEERCRED; recvmsg's SCM_CREDENTIALS
        self.flags = kw.get("flags", 0)

    def value(self):
        if self.kind in ("value", "mode"):
            return self.v
        if self.kind == "error":
            return -1
        if self.kind in ("addr", "optval", "limit", "pair", "cred"):
            return 0
        if self.kind == "events":
            return len(self.events)
        if self.kind == "accepted":
            return self.fd
        if self.kind in ("data", "datafrom", "msg"):
            return len(self.data)
        raise AssertionError(self.kind)

    def detail(self):
        if self.kind == "optval":
            if self.name == 4 and self.v != 0 and self.v in SOCKSIM_ERRNO_NAME:
                return SOCKSIM_ERRNO_NAME[self.v]
            return str(self.v)
        if self.kind == "limit":
            return f"{self.soft}, {self.hard}"
        if self.kind == "events":
            return ", ".join(f"{fd} {flag_names('EpollEvents', ev)}" for fd, ev in self.events)
        if self.kind == "pair":
            return f"{self.fds[0]}, {self.fds[1]}"
        if self.kind == "cred":
            return cred_text(self.cred)
        if self.kind == "msg":
            items = []
            if self.fds:
                items.append("SCM_RIGHTS " + " ".join(str(f) for f in self.fds))
            if self.cred is not None:
                items.append("SCM_CREDENTIALS " + cred_text(self.cred))
            for bit, name in ((MSG_TRUNC, "MSG_TRUNC"), (MSG_CTRUNC, "MSG_CTRUNC")):
                if self.flags & bit:
                    items.append(name)
            return ", ".join(items) if items else None
        return None

    def text(self):
        if self.kind == "value":
            return str(self.v)
        if self.kind == "mode":
            return f"0{self.v:03o}"
        if self.kind == "error":
            return f"-1 {errno_name(self.errno)}"
        if self.kind == "addr":
            return sockaddr_text(self.addr)
        if self.kind == "accepted":
            return f"{self.fd} ({sockaddr_text(self.addr)})"
        if self.kind in ("optval", "events", "limit", "pair", "cred"):
            return f"{self.value()} [{self.detail()}]"
        if self.kind == "msg":
            out = str(len(self.data))
            if self.data:
                out += " " + quote(self.data)
            if self.addr is not None:
                out += f" ({sockaddr_text(self.addr)})"
            d = self.detail()
            if d is not None:
                out += f" [{d}]"
            return out
        if self.kind == "data":
            return "0" if not self.data else f"{len(self.data)} {quote(self.data)}"
        if self.kind == "datafrom":
            head = "0" if not self.data else f"{len(self.data)} {quote(self.data)}"
            return f"{head} ({sockaddr_text(self.addr)})"
        raise AssertionError(self.kind)


def err(num):
    return Ret("error", errno=num)


def cred_text(cred):
    pid, uid, gid = cred

    def ident(v):
        return -1 if v == 0xFFFFFFFF else v

    return f"pid={pid} uid={ident(uid)} gid={ident(gid)}"


def line_col(source, offset):
    raw = source.encode("utf-8")
    offset = min(offset, len(raw))
    before = raw[:offset].decode("utf-8", errors="ignore")
    line = before.count("\n") + 1
    last = before.rsplit("\n", 1)[-1]
    return line, len(last) + 1


def span_text(source_bytes, span):
    return source_bytes[span["start"]:span["end"]].decode("utf-8", errors="replace")


# --------------------------------------------------------------------------------------------
# The syntax tree (scenarios/src/ast.rs as serde prints it). Both the IPv4-only form
# (`octets`) and the newer `ip: {V4|V6}` form of addresses are read.


def one_key(node, what):
    if isinstance(node, str):
        return node, None
    if not isinstance(node, dict) or len(node) != 1:
        raise Unsupported(f"unexpected {what} in the syntax tree: {json.dumps(node)[:120]}")
    return next(iter(node.items()))


def ip_spec(node):
    """Returns ('v4', [Num x4]) or ('v6', IPv6Address) for an address or address pattern."""
    if isinstance(node, dict) and len(node) == 1 and "Inet" in node:
        node = node["Inet"]  # AddrMatch::Inet(AddrPattern)
    if isinstance(node, dict) and len(node) == 1 and "Unix" in node:
        return "unix", node["Unix"]
    if "octets" in node:
        return "v4", node["octets"]
    if "ip" in node:
        tag, val = one_key(node["ip"], "address")
        if tag == "V4":
            return "v4", val
        if tag == "V6":
            return "v6", ipaddress.IPv6Address(val)
        raise Unsupported(f"address form {tag} is not supported by the oracle")
    raise Unsupported(f"unexpected address in the syntax tree: {json.dumps(node)[:120]}")


class StaticCheck:
    """Everything the oracle cannot do is found before anything runs."""

    def __init__(self, scenario):
        self.scenario = scenario
        self.problems = []

    def run(self):
        sc = self.scenario
        hosts = {h["name"]["name"]: h for h in sc.get("hosts", [])}
        used = sorted({p["host"]["name"] for p in sc.get("processes", [])})
        if len(used) > 1:
            self.problems.append(
                f"processes run on {len(used)} hosts ({', '.join(used)}); the oracle emulates exactly one "
                "host (one network namespace)")
        others = sorted(set(hosts) - set(used))
        if used and others:
            self.problems.append(
                f"host(s) {', '.join(others)} have no process; the oracle emulates only the host that runs "
                "processes, so their addresses would not exist")
        if not used and len(hosts) > 1:
            self.problems.append("several hosts and no process")
        for h in hosts.values():
            for s in h.get("sysctls", []):
                name = s["name"]["name"]
                if not name.startswith("net."):
                    self.problems.append(f"sysctl {name}: only net.* sysctls are per network namespace")
        for p in sc.get("processes", []):
            self.body(p["body"])
        return self.problems

    def body(self, stmts):
        for st in stmts:
            kind = st["kind"]
            if isinstance(kind, str):
                if kind not in ("Ss", "Exit"):
                    self.problems.append(f"statement {kind} is not supported")
                continue
            tag, val = one_key(kind, "statement")
            if tag == "Call":
                self.call(val)
            elif tag in ("Repeat", "For", "Fork"):
                self.body(val["body"])
            elif tag in ("Sleep", "Note"):
                pass
            else:
                self.problems.append(f"statement {tag} is not supported")

    def call(self, c):
        name = c["call"]["name"]["name"]
        if name not in CALLS:
            self.problems.append(f"call {name}() is not supported by the oracle")
            return
        params, _ = CALLS[name]
        for i, arg in enumerate(c["call"]["args"]):
            tag, val = one_key(arg["kind"], "argument")
            if tag == "Name" and val in UNSUPPORTED_CONSTANTS:
                self.problems.append(f"{name}(): {val}: {UNSUPPORTED_CONSTANTS[val]}")
            if tag == "Flags":
                for f in val:
                    if f not in CONST_BY_NAME:
                        self.problems.append(f"{name}(): unknown constant {f}")
            if tag == "Inet":
                try:
                    ip_spec(val)
                except Unsupported as e:
                    self.problems.append(str(e))
            if tag not in ("Name", "Num", "Size", "Str", "Inet", "Flags", "Abstract"):
                self.problems.append(f"{name}(): argument kind {tag} is not supported")
            if (i < len(params) and params[i] == "SockAddr" and tag not in ("Inet", "Str", "Abstract")
                    and (tag, val) not in (("Name", "AF_UNSPEC"), ("Name", "AF_UNIX"), ("Name", "AF_LOCAL"))):
                self.problems.append(f"{name}(): expected a socket address")
        exp = c.get("expect")
        if exp:
            for alt in exp["alternatives"]:
                tag, val = one_key(alt, "expectation")
                if tag not in ("Value", "Error", "Addr"):
                    self.problems.append(f"expectation form {tag} is not supported")
                try:
                    if tag == "Addr":
                        ip_spec(val)
                    if tag == "Value" and val.get("addr"):
                        ip_spec(val["addr"])
                except Unsupported as e:
                    self.problems.append(str(e))
                if tag == "Value":
                    extra = set(val) - {"value", "data", "addr", "detail"}
                    if any(val.get(k) is not None for k in extra):
                        self.problems.append(f"expectation field(s) {sorted(extra)} are not supported")


# --------------------------------------------------------------------------------------------
# libc through ctypes: the arguments reach the kernel exactly as written.

libc = ctypes.CDLL(None, use_errno=True)
c_int, c_uint, c_void_p, c_size_t, c_ssize_t = ctypes.c_int, ctypes.c_uint, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_ssize_t


def _proto(name, res, *args):
    f = getattr(libc, name)
    f.restype = res
    f.argtypes = list(args)
    return f


SYS = {
    "socket": _proto("socket", c_int, c_int, c_int, c_int),
    "bind": _proto("bind", c_int, c_int, c_void_p, c_uint),
    "listen": _proto("listen", c_int, c_int, c_int),
    "accept": _proto("accept", c_int, c_int, c_void_p, ctypes.POINTER(c_uint)),
    "accept4": _proto("accept4", c_int, c_int, c_void_p, ctypes.POINTER(c_uint), c_int),
    "connect": _proto("connect", c_int, c_int, c_void_p, c_uint),
    "send": _proto("send", c_ssize_t, c_int, c_void_p, c_size_t, c_int),
    "recv": _proto("recv", c_ssize_t, c_int, c_void_p, c_size_t, c_int),
    "sendto": _proto("sendto", c_ssize_t, c_int, c_void_p, c_size_t, c_int, c_void_p, c_uint),
    "recvfrom": _proto("recvfrom", c_ssize_t, c_int, c_void_p, c_size_t, c_int, c_void_p, ctypes.POINTER(c_uint)),
    "shutdown": _proto("shutdown", c_int, c_int, c_int),
    "close": _proto("close", c_int, c_int),
    "getsockname": _proto("getsockname", c_int, c_int, c_void_p, ctypes.POINTER(c_uint)),
    "getpeername": _proto("getpeername", c_int, c_int, c_void_p, ctypes.POINTER(c_uint)),
    "setsockopt": _proto("setsockopt", c_int, c_int, c_int, c_int, c_void_p, c_uint),
    "getsockopt": _proto("getsockopt", c_int, c_int, c_int, c_int, c_void_p, ctypes.POINTER(c_uint)),
    "epoll_create1": _proto("epoll_create1", c_int, c_int),
    "epoll_ctl": _proto("epoll_ctl", c_int, c_int, c_int, c_int, c_void_p),
    "epoll_wait": _proto("epoll_wait", c_int, c_int, c_void_p, c_int, c_int),
    "setrlimit": _proto("setrlimit", c_int, c_int, c_void_p),
    "getrlimit": _proto("getrlimit", c_int, c_int, c_void_p),
    "socketpair": _proto("socketpair", c_int, c_int, c_int, c_int, c_void_p),
    "dup": _proto("dup", c_int, c_int),
    "dup2": _proto("dup2", c_int, c_int, c_int),
    "mkdir": _proto("mkdir", c_int, ctypes.c_char_p, c_uint),
    "unlink": _proto("unlink", c_int, ctypes.c_char_p),
    "chmod": _proto("chmod", c_int, ctypes.c_char_p, c_uint),
    "chown": _proto("chown", c_int, ctypes.c_char_p, c_uint, c_uint),
    "mknod": _proto("mknod", c_int, ctypes.c_char_p, c_uint, ctypes.c_ulong),
    "umask": _proto("umask", c_uint, c_uint),
    "sendmsg": _proto("sendmsg", c_ssize_t, c_int, c_void_p, c_int),
    "recvmsg": _proto("recvmsg", c_ssize_t, c_int, c_void_p, c_int),
    "mount": _proto("mount", c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, c_void_p),
    "umount2": _proto("umount2", c_int, ctypes.c_char_p, c_int),
}


class Iovec(ctypes.Structure):
    _fields_ = [("base", c_void_p), ("len", c_size_t)]


class Msghdr(ctypes.Structure):
    _fields_ = [("name", c_void_p), ("namelen", c_uint), ("iov", ctypes.POINTER(Iovec)), ("iovlen", c_size_t),
                ("control", c_void_p), ("controllen", c_size_t), ("flags", c_int)]
MSG_NOSIGNAL = 0x4000
# struct epoll_event is packed on x86_64 (12 bytes), naturally aligned elsewhere (16 bytes).
EPOLL_EVENT = struct.Struct("=IQ" if platform.machine() in ("x86_64", "AMD64") else "IxxxxQ")
EP_MAX_EVENTS = (2**31 - 1) // EPOLL_EVENT.size


class Rlimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_ulong), ("max", ctypes.c_ulong)]


def sys_call(name, *args):
    """(result, errno): errno is 0 on success."""
    ctypes.set_errno(0)
    r = SYS[name](*args)
    if r == -1:
        return r, ctypes.get_errno()
    return r, 0


def make_sockaddr(family_tag, ip, port):
    if family_tag == "unspec":
        return bytes(16)  # a sockaddr whose family is AF_UNSPEC (0), as C programs pass it
    if family_tag == "v4":
        return struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + ip.packed + bytes(8)
    return struct.pack("=H", socket.AF_INET6) + struct.pack("!H", port) + bytes(4) + ip.packed + bytes(4)


def parse_sockaddr(buf, length):
    if length < 2:
        return (ipaddress.IPv4Address(0), 0, 0)
    family = struct.unpack_from("=H", buf, 0)[0]
    if family == AF_UNIX:
        path = bytes(buf[2:length])
        if not path:
            return UAddr("unnamed")
        if path[0] == 0:
            return UAddr("abstract", path[1:])
        return UAddr("path", path.split(b"\0", 1)[0].decode("utf-8", errors="replace"))
    if family == socket.AF_INET:
        port = struct.unpack_from("!H", buf, 2)[0]
        return (ipaddress.IPv4Address(bytes(buf[4:8])), port, 0)
    if family == socket.AF_INET6:
        port = struct.unpack_from("!H", buf, 2)[0]
        scope = struct.unpack_from("=I", buf, 24)[0]
        return (ipaddress.IPv6Address(bytes(buf[8:24])), port, scope)
    raise Unsupported(f"the kernel returned an address of family {family}")


def get_nofile():
    r = Rlimit()
    SYS["getrlimit"](7, ctypes.byref(r))
    return r.cur, r.max


def set_nofile(soft, hard):
    r = Rlimit(soft, hard)
    res, e = sys_call("setrlimit", 7, ctypes.byref(r))
    if e:
        raise OSError(e, os.strerror(e))


def fd_is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def place_fd(make):
    """Creates a descriptor with make() and moves it to the highest free number below the
    hard RLIMIT_NOFILE, which is at or above the soft limit, so the scenario (whose
    descriptors all lie below the soft limit) can never see it or collide with it. The soft
    limit is raised to the hard one for the moment (no privilege needed) and put back.
    Returns the number, or raises Unsupported when there is no room above the soft limit."""
    soft, hard = get_nofile()
    hard_fd = min(hard, 1 << 20)
    target = next((n for n in range(hard_fd - 1, max(soft, 3) - 1, -1) if not fd_is_open(n)), None)
    if target is None:
        raise Unsupported(f"no free descriptor between the soft and hard RLIMIT_NOFILE ({soft}, {hard}) "
                          "for the oracle's control channel")
    set_nofile(hard, hard)
    try:
        fd = make()
        if fd != target:
            os.dup2(fd, target, inheritable=False)
            os.close(fd)
    finally:
        set_nofile(soft, hard)
    return target


# --------------------------------------------------------------------------------------------
# A process: runs its statements with real system calls, one step at a time, as the
# controller says. Lives in its own OS process (forked from the controller, or from its
# parent for `fork`).


class Channel:
    """JSON lines over the control socket at CTRL_FD."""

    def __init__(self):
        self.buf = b""

    def send(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        while data:
            n = os.write(CTRL_FD, data)
            data = data[n:]

    def recv(self):
        while b"\n" not in self.buf:
            chunk = os.read(CTRL_FD, 65536)
            if not chunk:
                os._exit(3)  # the controller is gone
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


# /proc, opened before the process enters its private root (where there is no /proc).
PROC_FD = None


def fd_link(fd):
    """What /proc/self/fd/FD points at."""
    if PROC_FD is None:
        return os.readlink(f"/proc/self/fd/{fd}")
    return os.readlink(f"self/fd/{fd}", dir_fd=PROC_FD)


def connect_control(address):
    """Connects this process's control channel and records its descriptor in CTRL_FD."""
    global CTRL_FD

    def make():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(address)
        return s.detach()

    old = CTRL_FD
    CTRL_FD = place_fd(make)
    if old is not None and old != CTRL_FD:
        os.close(old)  # the parent's channel, inherited by fork


class Runner:
    def __init__(self, vpid, host, name, source_bytes, ctrl_address):
        self.vpid = vpid
        self.host = host
        self.name = name
        self.source = source_bytes
        self.ctrl_address = ctrl_address
        self.ch = Channel()
        self.vars = {}
        self.loop_vars = {}
        self.statements = 0

    # -- plumbing

    def wait_go(self):
        msg = self.ch.recv()
        if msg.get("op") != "go":
            raise RuntimeError(f"expected go, got {msg}")
        self.statements = 0

    def main(self, body):
        try:
            self.ch.send({"t": "hello", "vpid": self.vpid, "pid": os.getpid()})
            self.wait_go()
            self.block(body)
            self.exit()
        except Unsupported as e:
            self.ch.send({"t": "unsupported", "msg": str(e)})
        except BaseException:
            self.ch.send({"t": "crash", "msg": traceback.format_exc()})
        os._exit(0)

    def exit(self):
        self.ch.send({"t": "exit"})
        os._exit(0)

    # -- statements

    def num(self, n):
        tag, val = one_key(n, "number")
        if tag == "Lit":
            return val
        if tag == "Var":
            name = val["name"]
            if name not in self.loop_vars:
                raise Unsupported(f"`${name}` is not a loop variable here")
            return self.loop_vars[name]
        raise Unsupported(f"number form {tag}")

    def template(self, t):
        out = []
        for part in t["parts"]:
            tag, val = one_key(part, "name part")
            out.append(val if tag == "Lit" else str(self.num({"Var": val})))
        return "".join(out)

    def block(self, stmts):
        for st in stmts:
            self.stmt(st)

    def stmt(self, st):
        self.statements += 1
        if self.statements >= MAX_STATEMENTS_PER_STEP:
            raise Unsupported(f"the process ran {MAX_STATEMENTS_PER_STEP} statements without a system call")
        kind = st["kind"]
        if kind == "Ss":
            self.ch.send({"t": "ss"})
            self.ch.recv()
            return
        if kind == "Exit":
            self.exit()
        tag, val = one_key(kind, "statement")
        if tag == "Call":
            self.call(val)
        elif tag == "Repeat":
            for _ in range(max(0, self.num(val["count"]))):
                self.block(val["body"])
        elif tag == "For":
            var = val["var"]["name"]
            v, last = self.num(val["from"]), self.num(val["to"])
            while v <= last:
                self.loop_vars[var] = v
                self.block(val["body"])
                v += 1
            self.loop_vars.pop(var, None)
        elif tag == "Fork":
            self.fork(self.template(val["name"]), val["body"])
        elif tag == "Sleep":
            self.ch.send({"t": "sleep", "ns": val})
            self.wait_go()
        elif tag == "Note":
            self.ch.send({"t": "note", "text": val})
        else:
            raise Unsupported(f"statement {tag}")

    def fork(self, name, body):
        self.ch.send({"t": "fork", "name": name})
        child_vpid = self.ch.recv()["pid"]
        pid = os.fork()
        if pid == 0:
            # The child: its own control connection, then its block, then exit.
            self.ch = Channel()
            connect_control(self.ctrl_address)
            self.vpid, self.name = child_vpid, name
            self.ch.send({"t": "hello", "vpid": child_vpid, "pid": os.getpid()})
            try:
                self.wait_go()
                self.block(body)
                self.exit()
            except Unsupported as e:
                self.ch.send({"t": "unsupported", "msg": str(e)})
            except BaseException:
                self.ch.send({"t": "crash", "msg": traceback.format_exc()})
            os._exit(0)
        self.ch.send({"t": "forked", "child": child_vpid, "pid": pid})
        self.wait_go()

    # -- calls

    def int_arg(self, arg):
        tag, val = one_key(arg["kind"], "argument")
        if tag == "Num":
            return self.num(val)
        if tag == "Size":
            return val
        if tag == "Name":
            if val in self.vars:
                return self.vars[val]
            if val in CONST_BY_NAME:
                return CONST_BY_NAME[val][0]
            raise Unsupported(f"`{val}` is not bound here")
        if tag == "Flags":
            acc = 0
            for f in val:
                acc |= CONST_BY_NAME[f][0]
            return acc
        raise Unsupported(f"expected a number, found {tag}")

    def sockaddr_arg(self, arg):
        """(the sockaddr's bytes, the address as the trace shows it) for any socket address a
        scenario can write. A path goes with SUN_LEN (no NUL), an abstract name with its
        leading NUL, `AF_UNIX` alone as the family only, as socksim passes them
        (sim-kernel/src/unix/namespace.rs `validate`)."""
        tag, val = one_key(arg["kind"], "argument")
        fam_unix = struct.pack("=H", AF_UNIX)
        if tag == "Str":
            return fam_unix + val.encode("utf-8"), rust_debug(val)
        if tag == "Abstract":
            return fam_unix + b"\0" + val.encode("utf-8"), "@" + rust_debug(val)
        if (tag, val) in (("Name", "AF_UNIX"), ("Name", "AF_LOCAL")):
            return fam_unix, "AF_UNIX"
        fam, ip, port = self.sockaddr(arg)
        return make_sockaddr(fam, ip, port), sockaddr_text(None if fam == "unspec" else (ip, port, 0))

    def sockaddr(self, arg):
        tag, val = one_key(arg["kind"], "argument")
        if (tag, val) == ("Name", "AF_UNSPEC"):
            return "unspec", None, 0
        if tag != "Inet":
            raise Unsupported("expected a socket address")
        fam, ip = ip_spec(val)
        if fam == "v4":
            octets = [self.num(n) for n in ip]
            if any(not 0 <= o <= 255 for o in octets):
                raise Unsupported(f"address octet out of range: {octets}")
            ip = ipaddress.IPv4Address(bytes(octets))
        port = self.num(val["port"])
        if not 0 <= port <= 65535:
            raise Unsupported(f"port {port} is out of range 0..=65535")
        return fam, ip, port

    def call(self, c):
        call = c["call"]
        name = call["name"]["name"]
        args = call["args"]

        def int_(i, default=None):
            if i >= len(args):
                if default is None:
                    raise Unsupported(f"`{name}` needs argument {i + 1}")
                return default
            return self.int_arg(args[i])

        line, thunk, predict = self.lower(name, args, int_)
        self.ch.send({"t": "start", "line": line, "predict": predict})
        ret = thunk()
        binds = c.get("binds") or []
        if binds:
            if ret.kind == "accepted":
                first = ret.fd
            elif ret.kind == "pair":
                first = ret.fds[0]
            elif ret.kind == "msg":
                first = ret.fds[0] if ret.fds else -1
            else:
                first = ret.value()
            self.vars[binds[0]["name"]] = first
        if len(binds) > 1:
            self.vars[binds[1]["name"]] = ret.fds[1] if ret.kind == "pair" else ret.value()
        held = None
        msg = {"t": "done", "line": line, "ret": ret.text()}
        exp = c.get("expect")
        if exp:
            held = self.matches(exp, ret)
            msg["held"] = held
            msg["span"] = exp["span"]
            msg["expected"] = span_text(self.source, exp["span"])
            msg["call"] = span_text(self.source, call["span"])
        self.ch.send(msg)
        self.wait_go()

    def lower(self, name, args, int_):
        """Returns (the call as the trace prints it, a thunk making the call, may it block?)."""
        if name in ("socket", "socketpair"):
            domain, ty, proto = int_(0), int_(1), int_(2, 0)
            t = constant_name("Type", ty & 0xF)
            for flag in (0o4000, 0o2000000):
                if ty & flag:
                    t += "|" + constant_name("Type", flag)
            # A Unix socket's protocol is a plain number, as strace (and socksim) print it.
            shown_proto = str(proto) if domain == AF_UNIX else constant_name("Protocol", proto)
            line = f"{name}({constant_name('Domain', domain)}, {t}, {shown_proto})"
            if name == "socket":
                return line, lambda: self.r_value(sys_call("socket", domain, ty, proto)), False

            def run_pair():
                sv = (c_int * 2)()
                _, e = sys_call("socketpair", domain, ty, proto, sv)
                return err(e) if e else Ret("pair", fds=[sv[0], sv[1]])

            return line, run_pair, False
        if name == "umask":
            mask = int_(0) & 0xFFFFFFFF
            return f"umask(0{mask:03o})", lambda: Ret("mode", v=SYS["umask"](mask)), False
        if name == "chown":
            path = self.path_arg(args[0])
            uid, gid = max(-1, int_(1)), max(-1, int_(2))
            return (f"chown({rust_debug(path)}, {uid}, {gid})",
                    lambda: self.r_value(sys_call("chown", path.encode(), uid & 0xFFFFFFFF, gid & 0xFFFFFFFF)), False)
        if name == "mknod":
            path = self.path_arg(args[0])
            mode = int_(1) & 0xFFFFFFFF
            return (f"mknod({rust_debug(path)}, 0{mode:03o})",
                    lambda: self.r_value(sys_call("mknod", path.encode(), mode, 0)), False)
        if name in ("mkdir", "unlink", "chmod"):
            path = self.path_arg(args[0])
            if name == "unlink":
                return f"unlink({rust_debug(path)})", lambda: self.r_value(sys_call("unlink", path.encode())), False
            mode = int_(1, 0o777)
            return (f"{name}({rust_debug(path)}, 0{mode:03o})",
                    lambda: self.r_value(sys_call(name, path.encode(), mode & 0xFFFFFFFF)), False)
        fd = int_(0) if name not in ("epoll_create1", "setrlimit", "getrlimit") else None
        if fd is not None:
            fd = ctypes.c_int(fd).value
        if name in ("bind", "connect"):
            sa, addr_text = self.sockaddr_arg(args[1])

            def run():
                if fd == CTRL_FD:
                    return err(errno_mod.EBADF)
                buf = ctypes.create_string_buffer(sa, len(sa))
                return self.r_value(sys_call(name, fd, buf, len(sa)))

            predict = False
            return f"{name}({fd}, {addr_text})", run, predict
        if name == "listen":
            backlog = max(-1, min(int_(1, 4096), 2**31 - 1))
            return f"listen({fd}, {backlog})", lambda: self.guard(fd) or self.r_value(sys_call("listen", fd, backlog)), False
        if name in ("accept", "accept4"):
            flags = int_(1) if name == "accept4" else 0
            shown = "0" if flags == 0 else flag_names("Type", flags)

            def run():
                if fd == CTRL_FD and not flags & ~(0o4000 | 0o2000000):
                    return err(errno_mod.EBADF)
                buf = ctypes.create_string_buffer(128)
                ln = c_uint(128)
                if name == "accept":
                    r, e = sys_call("accept", fd, buf, ctypes.byref(ln))
                else:
                    r, e = sys_call("accept4", fd, buf, ctypes.byref(ln), flags)
                if e:
                    return err(e)
                return Ret("accepted", fd=r, addr=parse_sockaddr(buf.raw, ln.value))

            line = f"accept({fd})" if name == "accept" else f"accept4({fd}, {shown})"
            return line, run, self.would_block(fd, "accept")
        if name == "dup":
            return f"dup({fd})", lambda: self.guard(fd) or self.r_value(sys_call("dup", fd)), False
        if name == "dup2":
            newfd = max(-1, min(int_(1), 2**31 - 1))
            return (f"dup2({fd}, {newfd})",
                    lambda: self.guard(fd) or self.guard(newfd) or self.r_value(sys_call("dup2", fd, newfd)), False)
        if name == "sendmsg":
            return self.lower_sendmsg(fd, args)
        if name == "recvmsg":
            n = max(0, int_(1))
            controllen = max(0, int_(2, DEFAULT_CONTROLLEN))
            shown = f"recvmsg({fd}, {n})" if controllen == DEFAULT_CONTROLLEN else f"recvmsg({fd}, {n}, {controllen})"
            return shown, lambda: self.guard(fd) or self.do_recvmsg(fd, n, controllen), self.would_block(fd, "recv")
        if name == "close":
            def run():
                if fd == CTRL_FD:
                    return err(errno_mod.EBADF)
                return self.r_value(sys_call("close", fd))

            return f"close({fd})", run, False
        if name in ("getsockname", "getpeername"):
            def run():
                if fd == CTRL_FD:
                    return err(errno_mod.EBADF)
                buf = ctypes.create_string_buffer(128)
                ln = c_uint(128)
                r, e = sys_call(name, fd, buf, ctypes.byref(ln))
                if e:
                    return err(e)
                return Ret("addr", addr=parse_sockaddr(buf.raw, ln.value))

            return f"{name}({fd})", run, False
        if name in ("send", "sendto"):
            tag, val = one_key(args[1]["kind"], "payload")
            if tag == "Str":
                data = val.encode("utf-8")
                shown = quote(data)
            else:
                n = val if tag == "Size" else max(0, self.int_arg(args[1]))
                data = bytes(n)
                shown = size_text(n)

            if name == "sendto":
                sa, addr_text = self.sockaddr_arg(args[2])
                shown += ", " + addr_text

            def run():
                if fd == CTRL_FD:
                    return err(errno_mod.EBADF)
                buf = ctypes.create_string_buffer(data, len(data))
                if name == "send":
                    return self.r_value(sys_call("send", fd, buf, len(data), MSG_NOSIGNAL))
                sab = ctypes.create_string_buffer(sa, len(sa))
                return self.r_value(sys_call("sendto", fd, buf, len(data), MSG_NOSIGNAL, sab, len(sa)))

            return f"{name}({fd}, {shown})", run, False
        if name in ("recv", "recvfrom"):
            n = max(0, int_(1))
            rflags = int_(2, 0)
            shown_flags = f", {flag_names('MsgFlags', rflags)}" if rflags else ""

            def run():
                if fd == CTRL_FD:
                    return err(errno_mod.EBADF)
                cap = min(n, 64 << 20)
                buf = ctypes.create_string_buffer(max(cap, 1))
                if name == "recv":
                    r, e = sys_call("recv", fd, buf, cap, rflags)
                    return err(e) if e else Ret("data", data=buf.raw[:r])
                sab = ctypes.create_string_buffer(128)
                ln = c_uint(128)
                r, e = sys_call("recvfrom", fd, buf, cap, rflags, sab, ctypes.byref(ln))
                if e:
                    return err(e)
                if ln.value == 0:
                    if self.is_unix(fd):
                        # An unnamed Unix sender: Linux gives no address (length 0), socksim
                        # shows `unnamed` (sim-kernel/src/unix/mod.rs, its deviations).
                        return Ret("datafrom", data=buf.raw[:r], addr=UAddr("unnamed"))
                    return Ret("data", data=buf.raw[:r])  # no sender address (a connected stream socket)
                return Ret("datafrom", data=buf.raw[:r], addr=parse_sockaddr(sab.raw, ln.value))

            predict = not rflags & 0x40 and self.would_block(fd, "recv")  # MSG_DONTWAIT never waits
            return f"{name}({fd}, {n}{shown_flags})", run, predict
        if name == "shutdown":
            how = {0: 0, 1: 1}.get(int_(1), 2)
            shown = ["SHUT_RD", "SHUT_WR", "SHUT_RDWR"][how]
            return f"shutdown({fd}, {shown})", lambda: self.guard(fd) or self.r_value(sys_call("shutdown", fd, how)), False
        if name == "setsockopt":
            level, opt, value = int_(1), int_(2), int_(3)
            line = (f"setsockopt({fd}, {constant_name('Level', level)}, {constant_name('OptName', opt)}, {value})")

            def run():
                if fd == CTRL_FD:
                    return err(errno_mod.EBADF)
                if (level, opt) == (1, 13):
                    # SO_LINGER takes a struct linger; socksim's integer form: a negative value
                    # turns lingering off, N >= 0 turns it on with a timeout of N seconds.
                    lg = struct.pack("=ii", 1 if value >= 0 else 0, max(0, min(value, 2**31 - 1)))
                    b = ctypes.create_string_buffer(lg, len(lg))
                    return self.r_value(sys_call("setsockopt", fd, level, opt, b, len(lg)))
                if (level, opt) in ((1, 20), (1, 21)):
                    # SO_RCVTIMEO / SO_SNDTIMEO take a struct timeval; socksim's integer form is
                    # milliseconds (a negative value makes tv_sec negative, as socksim means).
                    sec, ms = divmod(value, 1000)
                    tv = struct.pack("=qq", sec, ms * 1000)
                    b = ctypes.create_string_buffer(tv, len(tv))
                    return self.r_value(sys_call("setsockopt", fd, level, opt, b, len(tv)))
                v = ctypes.c_int(ctypes.c_int(value).value)
                return self.r_value(sys_call("setsockopt", fd, level, opt, ctypes.byref(v), 4))

            return line, run, False
        if name == "getsockopt":
            level, opt = int_(1), int_(2)
            line = f"getsockopt({fd}, {constant_name('Level', level)}, {constant_name('OptName', opt)})"

            def run():
                if fd == CTRL_FD:
                    return err(errno_mod.EBADF)
                if (level, opt) == (1, 13):
                    b = ctypes.create_string_buffer(8)
                    ln = c_uint(8)
                    r, e = sys_call("getsockopt", fd, level, opt, b, ctypes.byref(ln))
                    if e:
                        return err(e)
                    onoff, secs = struct.unpack("=ii", b.raw)
                    return Ret("optval", name=opt, v=secs if onoff else -1)  # socksim's integer form
                if (level, opt) in ((1, 20), (1, 21)):
                    b = ctypes.create_string_buffer(16)
                    ln = c_uint(16)
                    r, e = sys_call("getsockopt", fd, level, opt, b, ctypes.byref(ln))
                    if e:
                        return err(e)
                    sec, usec = struct.unpack("=qq", b.raw)
                    return Ret("optval", name=opt, v=sec * 1000 + usec // 1000)
                if (level, opt) == (SOL_SOCKET, SO_PEERCRED):
                    b = ctypes.create_string_buffer(UCRED.size)
                    ln = c_uint(UCRED.size)
                    r, e = sys_call("getsockopt", fd, level, opt, b, ctypes.byref(ln))
                    if e:
                        return err(e)
                    pid, uid, gid = UCRED.unpack(b.raw)
                    return Ret("cred", cred=(self.vpid_of(pid), uid, gid))
                v = ctypes.c_int(0)
                ln = c_uint(4)
                r, e = sys_call("getsockopt", fd, level, opt, ctypes.byref(v), ctypes.byref(ln))
                if e:
                    return err(e)
                return Ret("optval", name=opt, v=v.value)

            return line, run, False
        if name == "fcntl":
            cmd, arg = int_(1), int_(2, 0)
            if constant_name("FcntlCmd", cmd) == "F_GETFL":
                line = f"fcntl({fd}, F_GETFL)"
            else:
                line = f"fcntl({fd}, {constant_name('FcntlCmd', cmd)}, {flag_names('FileFlags', arg)})"

            def run():
                if fd == CTRL_FD:
                    return err(errno_mod.EBADF)
                try:
                    return Ret("value", v=fcntl.fcntl(fd, cmd, arg))
                except OSError as e:
                    return err(e.errno)

            return line, run, False
        if name == "epoll_create1":
            flags = int_(0, 0)
            return (f"epoll_create1({flag_names('EpollFlags', flags)})",
                    lambda: self.r_value(sys_call("epoll_create1", flags)), False)
        if name == "epoll_ctl":
            op, target, events = int_(1), ctypes.c_int(int_(2)).value, int_(3, 0) & 0xFFFFFFFF
            line = f"epoll_ctl({fd}, {constant_name('EpollOp', op)}, {target}, {flag_names('EpollEvents', events)})"

            def run():
                if CTRL_FD in (fd, target):
                    return err(errno_mod.EBADF)
                ev = ctypes.create_string_buffer(EPOLL_EVENT.pack(events, target & 0xFFFFFFFFFFFFFFFF), EPOLL_EVENT.size)
                return self.r_value(sys_call("epoll_ctl", fd, op, target, ev))

            return line, run, False
        if name == "epoll_wait":
            maxevents = max(-(2**31), min(int_(1), 2**31 - 1))
            timeout = int_(2)
            ctimeout = max(-(2**31), min(timeout, 2**31 - 1))

            def run():
                if fd == CTRL_FD:
                    return err(errno_mod.EBADF)
                room = maxevents if 0 < maxevents <= EP_MAX_EVENTS else 1
                room = min(room, 4096)
                passed = maxevents if not 0 < maxevents <= EP_MAX_EVENTS else room
                buf = ctypes.create_string_buffer(EPOLL_EVENT.size * room)
                r, e = sys_call("epoll_wait", fd, buf, passed, ctimeout)
                if e:
                    return err(e)
                events = []
                for i in range(r):
                    evs, data = EPOLL_EVENT.unpack_from(buf.raw, i * EPOLL_EVENT.size)
                    events.append((ctypes.c_int(data & 0xFFFFFFFF).value, evs))
                return Ret("events", events=events)

            predict = maxevents > 0 and timeout != 0 and self.would_block(fd, "epoll_wait")
            return f"epoll_wait({fd}, {maxevents}, {timeout})", run, predict
        if name == "setrlimit":
            resource_, soft, hard = int_(0), max(0, int_(1)), max(0, int_(2))
            line = f"setrlimit({constant_name('Resource', resource_)}, {soft}, {hard})"

            def run():
                r = Rlimit(min(soft, 2**64 - 1), min(hard, 2**64 - 1))
                return self.r_value(sys_call("setrlimit", resource_, ctypes.byref(r)))

            return line, run, False
        if name == "getrlimit":
            resource_ = int_(0)

            def run():
                r = Rlimit()
                _, e = sys_call("getrlimit", resource_, ctypes.byref(r))
                if e:
                    return err(e)
                return Ret("limit", soft=r.cur, hard=r.max)

            return f"getrlimit({constant_name('Resource', resource_)})", run, False
        raise Unsupported(f"call {name}() is not supported by the oracle")

    def path_arg(self, arg):
        tag, val = one_key(arg["kind"], "argument")
        if tag != "Str":
            raise Unsupported("expected a path in quotes")
        return val

    def vpid_of(self, pid):
        """The scenario's pid for a real one (in the oracle's PID namespace), asked of the
        controller; 0 stays 0 and an unknown pid is shown as it is."""
        if pid <= 0:
            return pid
        self.ch.send({"t": "vpid", "pid": pid})
        return self.ch.recv()["vpid"]

    @staticmethod
    def is_unix(fd):
        v = ctypes.c_int(0)
        ln = c_uint(4)
        _, e = sys_call("getsockopt", fd, SOL_SOCKET, SO_DOMAIN, ctypes.byref(v), ctypes.byref(ln))
        return not e and v.value == AF_UNIX

    @staticmethod
    def is_dgram(fd):
        v = ctypes.c_int(0)
        ln = c_uint(4)
        _, e = sys_call("getsockopt", fd, SOL_SOCKET, 3, ctypes.byref(v), ctypes.byref(ln))  # SO_TYPE
        return not e and v.value == socket.SOCK_DGRAM

    def lower_sendmsg(self, fd, args):
        """`sendmsg(s, DATA[, DEST][, SCM_RIGHTS, fd...][, SCM_CREDENTIALS])` as socksim's
        interpreter reads it (scenarios/src/interp.rs `control`)."""
        tag, val = one_key(args[1]["kind"], "payload")
        if tag == "Str":
            data = val.encode("utf-8")
            shown = quote(data)
        else:
            n = val if tag == "Size" else max(0, self.int_arg(args[1]))
            data = bytes(n)
            shown = size_text(n)
        dest = None
        cmsgs = []  # ("rights", [fds]) or ("creds",)
        for i, a in enumerate(args[2:]):
            atag, aval = one_key(a["kind"], "argument")
            if (atag, aval) == ("Name", "SCM_RIGHTS"):
                cmsgs.append(("rights", []))
                shown += ", SCM_RIGHTS"
            elif (atag, aval) == ("Name", "SCM_CREDENTIALS"):
                cmsgs.append(("creds",))
                shown += ", SCM_CREDENTIALS"
            elif i == 0 and (atag in ("Inet", "Str", "Abstract") or (atag, aval) in (("Name", "AF_UNIX"),
                                                                                      ("Name", "AF_LOCAL"))):
                dest, text = self.sockaddr_arg(a)
                shown += ", " + text
            else:
                if not cmsgs or cmsgs[-1][0] != "rights":
                    raise Unsupported("a descriptor must follow SCM_RIGHTS")
                v = max(-1, min(self.int_arg(a), 2**31 - 1))
                cmsgs[-1][1].append(v)
                shown += f", {v}"

        def run():
            if fd == CTRL_FD or any(c[0] == "rights" and CTRL_FD in c[1] for c in cmsgs):
                return err(errno_mod.EBADF)
            control = b""
            for c in cmsgs:
                if c[0] == "rights":
                    body = struct.pack(f"={len(c[1])}i", *c[1])
                    ctype = SCM_RIGHTS
                else:
                    body = UCRED.pack(os.getpid(), os.getuid(), os.getgid())
                    ctype = SCM_CREDENTIALS
                head = struct.pack("=Qii", cmsg_len(len(body)), SOL_SOCKET, ctype)
                control += head + body + bytes(cmsg_align(len(body)) - len(body))
            dbuf = ctypes.create_string_buffer(data, max(len(data), 1))
            iov = Iovec(ctypes.cast(dbuf, c_void_p), len(data))
            msg = Msghdr()
            msg.iov = ctypes.pointer(iov)
            msg.iovlen = 1
            keep = [dbuf]
            if dest is not None:
                nbuf = ctypes.create_string_buffer(dest, len(dest))
                keep.append(nbuf)
                msg.name = ctypes.cast(nbuf, c_void_p)
                msg.namelen = len(dest)
            if control:
                cbuf = ctypes.create_string_buffer(control, len(control))
                keep.append(cbuf)
                msg.control = ctypes.cast(cbuf, c_void_p)
                msg.controllen = len(control)
            return self.r_value(sys_call("sendmsg", fd, ctypes.byref(msg), MSG_NOSIGNAL))

        return f"sendmsg({fd}, {shown})", run, False

    def do_recvmsg(self, fd, n, controllen):
        cap = min(n, 64 << 20)
        dbuf = ctypes.create_string_buffer(max(cap, 1))
        iov = Iovec(ctypes.cast(dbuf, c_void_p), cap)
        msg = Msghdr()
        msg.iov = ctypes.pointer(iov)
        msg.iovlen = 1
        # The sender's address only for datagram sockets, as socksim shows it.
        dgram = self.is_unix(fd) and self.is_dgram(fd)
        nbuf = ctypes.create_string_buffer(128)
        if dgram:
            msg.name = ctypes.cast(nbuf, c_void_p)
            msg.namelen = 128
        cbuf = ctypes.create_string_buffer(max(controllen, 1))
        if controllen:
            msg.control = ctypes.cast(cbuf, c_void_p)
            msg.controllen = controllen
        r, e = sys_call("recvmsg", fd, ctypes.byref(msg), 0)
        if e:
            return err(e)
        addr = None
        if dgram:
            addr = parse_sockaddr(nbuf.raw, msg.namelen) if msg.namelen >= 2 else UAddr("unnamed")
        fds, cred = [], None
        raw = cbuf.raw[:msg.controllen] if controllen else b""
        off = 0
        while off + 16 <= len(raw):
            clen, level, ctype = struct.unpack_from("=Qii", raw, off)
            if clen < 16:
                break
            body = raw[off + 16:off + clen]
            if level == SOL_SOCKET and ctype == SCM_RIGHTS:
                fds += list(struct.unpack(f"={len(body) // 4}i", body[:len(body) // 4 * 4]))
            elif level == SOL_SOCKET and ctype == SCM_CREDENTIALS and len(body) >= UCRED.size:
                pid, uid, gid = UCRED.unpack_from(body)
                cred = (self.vpid_of(pid), uid, gid)
            off += cmsg_align(clen)
        return Ret("msg", data=dbuf.raw[:r], addr=addr, fds=fds, cred=cred, flags=msg.flags)

    @staticmethod
    def guard(fd):
        return err(errno_mod.EBADF) if fd == CTRL_FD else None

    @staticmethod
    def r_value(res):
        r, e = res
        return err(e) if e else Ret("value", v=r)

    @staticmethod
    def would_block(fd, what):
        """A best guess, made without changing any state, of whether the call will sleep.
        (The controller also notices calls that take long; this only makes it faster.)"""
        try:
            if fd == CTRL_FD or fd < 0:
                return False
            if what == "epoll_wait":
                if fd_link(fd) != "anon_inode:[eventpoll]":
                    return False
            else:
                if not fd_link(fd).startswith("socket:"):
                    return False
                if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK:
                    return False
                v = ctypes.c_int(0)
                ln = c_uint(4)
                sys_call("getsockopt", fd, 1, 30, ctypes.byref(v), ctypes.byref(ln))
                if (what == "accept") != bool(v.value):
                    return False
            p = select.poll()
            p.register(fd, select.POLLIN | select.POLLPRI | select.POLLRDHUP)
            return not p.poll(0)
        except OSError:
            return False

    # -- expectations (scenarios/src/interp.rs `matches`)

    def matches(self, exp, ret):
        for alt in exp["alternatives"]:
            tag, val = one_key(alt, "expectation")
            if tag == "Error":
                ok = ret.kind == "error" and errno_name(ret.errno) == val["name"]
            elif tag == "Value":
                ok = ret.kind != "error" and ret.value() == self.num(val["value"])
                if ok and val.get("data") is not None:
                    ok = ret.kind in ("data", "datafrom", "msg") and ret.data == val["data"].encode("utf-8")
                if ok and val.get("detail") is not None:
                    got = ret.detail()
                    ok = got is not None and normalize_detail(got) == val["detail"]
                if ok and val.get("addr") is not None:
                    ok = (ret.kind in ("accepted", "datafrom", "msg") and ret.addr is not None
                          and self.addr_matches(val["addr"], ret.addr))
            elif tag == "Addr":
                ok = ret.kind == "addr" and self.addr_matches(val, ret.addr)
            else:
                raise Unsupported(f"expectation form {tag}")
            if ok:
                return True
        return False

    def addr_matches(self, pattern, addr):
        fam, want = ip_spec(pattern)
        if fam == "unix" or isinstance(addr, UAddr):
            if fam != "unix" or not isinstance(addr, UAddr):
                return False
            if want == "Unnamed":
                return addr.kind == "unnamed"
            if want == "AnyAbstract":
                return addr.kind == "abstract"
            tag, val = one_key(want, "Unix address pattern")
            if tag == "Path":
                return addr.kind == "path" and addr.value == val
            if tag == "Abstract":
                return addr.kind == "abstract" and addr.value == val.encode("utf-8")
            raise Unsupported(f"Unix address pattern {tag}")
        ip, port, _ = addr
        if isinstance(pattern, dict) and "Inet" in pattern and len(pattern) == 1:
            pattern = pattern["Inet"]
        if fam == "v4":
            if not isinstance(ip, ipaddress.IPv4Address):
                return False
            if [self.num(n) for n in want] != list(ip.packed):
                return False
        else:
            if not isinstance(ip, ipaddress.IPv6Address) or ip != want:
                return False
        tag, val = one_key(pattern["port"], "port pattern")
        if tag == "Any":
            return True
        if tag == "Exact":
            return self.num(val) == port
        if tag == "Range":
            return self.num(val[0]) <= port <= self.num(val[1])
        raise Unsupported(f"port pattern {tag}")


# --------------------------------------------------------------------------------------------
# The controller: spawns the processes, schedules them like socksim, prints the trace.


class Proc:
    def __init__(self, vpid, host, name):
        self.vpid = vpid
        self.host = host
        self.name = name
        self.label = f"{host}/{name}[{vpid}]"
        self.conn = None
        self.realpid = None
        self.pidfd = None
        self.state = "new"  # new, runnable, sleeping, blocked, exited
        self.inbox = deque()
        self.rbuf = b""
        self.blocked_line = None
        self.blocked_since = None
        self.call_started = None  # real time the blocked call was made


class Controller:
    def __init__(self, scenario, source_bytes, source_name, args, host_info):
        self.sc = scenario
        self.source = source_bytes
        self.source_text = source_bytes.decode("utf-8", errors="replace")
        self.source_name = source_name
        self.args = args
        self.host_info = host_info
        self.scale = args.time_scale
        self.vt = 0
        self.until = scenario.get("until_ns")
        self.procs = {}
        self.next_vpid = 1
        self.runq = deque()
        self.sleepers = []
        self.seq = 0
        self.checked = 0
        self.failures = []
        self.width = 0
        self.sel = selectors.DefaultSelector()
        self.listener = None
        self.address = None
        self.pending_conns = []
        self.ended_reason = "nothing left to happen"

    # -- output

    def out(self, label, text):
        pad = max(self.width, len(label))
        self.width = pad
        write_out(f"{vtime_text(self.vt)} {label:<{pad}}  {text}\n")

    # -- channel

    def listen(self):
        self.address = f"\0socksim-oracle-{os.getpid()}"
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.address)
        self.listener.listen(128)
        self.listener.setblocking(False)
        _KEEP.append(self.listener)
        self.sel.register(self.listener, selectors.EVENT_READ, None)

    def send(self, p, obj):
        p.conn.sendall((json.dumps(obj) + "\n").encode())

    def pump(self, timeout):
        """Reads whatever arrives within `timeout` seconds (None: wait for something)."""
        got = False
        for key, _ in self.sel.select(timeout):
            if key.data is None:
                try:
                    conn, _ = self.listener.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(True)
                _KEEP.append(conn)
                holder = {"conn": conn, "buf": b""}
                self.pending_conns.append(holder)
                self.sel.register(conn, selectors.EVENT_READ, holder)
                got = True
                continue
            holder = key.data
            conn = holder["conn"] if isinstance(holder, dict) else holder.conn
            try:
                chunk = conn.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.sel.unregister(conn)
                if isinstance(holder, Proc):
                    holder.inbox.append({"t": "eof"})
                    got = True
                continue
            if isinstance(holder, dict):
                holder["buf"] += chunk
                if b"\n" in holder["buf"]:
                    line, rest = holder["buf"].split(b"\n", 1)
                    hello = json.loads(line)
                    p = self.procs[hello["vpid"]]
                    p.conn = conn
                    p.realpid = hello["pid"]
                    p.rbuf = rest
                    self.pending_conns.remove(holder)
                    self.sel.modify(conn, selectors.EVENT_READ, p)
                    self._split(p)
                    got = True
                continue
            holder.rbuf += chunk
            self._split(holder)
            got = True
        return got

    def _split(self, p):
        while b"\n" in p.rbuf:
            line, p.rbuf = p.rbuf.split(b"\n", 1)
            msg = json.loads(line)
            if msg.get("t") == "vpid":
                # A real pid (SO_PEERCRED, SCM_CREDENTIALS) to show as the scenario's pid.
                real = msg["pid"]
                vpid = next((q.vpid for q in self.procs.values() if q.realpid == real), real)
                self.send(p, {"vpid": vpid})
                continue
            p.inbox.append(msg)

    def wait_from(self, p, timeout):
        """The next message from p, or None after `timeout` seconds (None: no limit)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not p.inbox:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            self.pump(left)
        return p.inbox.popleft()

    # -- processes

    def new_proc(self, host, name):
        p = Proc(self.next_vpid, host, name)
        self.next_vpid += 1
        self.procs[p.vpid] = p
        self.width = max(self.width, len(p.label))
        return p

    def label_width(self):
        """The widest label the run can print: declared processes and fork names (with room for
        loop variables), with pids of as many digits as there can be processes."""
        decls = self.sc.get("processes", [])
        names = []

        def walk(stmts, host):
            for st in stmts:
                kind = st["kind"]
                if isinstance(kind, dict) and len(kind) == 1:
                    tag, val = next(iter(kind.items()))
                    if tag == "Fork":
                        parts = val["name"]["parts"]
                        names.append((host, "".join(v if k == "Lit" else "99" for k, v in
                                                    (next(iter(x.items())) for x in parts))))
                        walk(val["body"], host)
                    elif tag in ("Repeat", "For"):
                        walk(val["body"], host)

        for d in decls:
            names.append((d["host"]["name"], d["name"]["name"]))
            walk(d["body"], d["host"]["name"])
        digits = len(str(max(1, len(names) * 10)))
        return max((len(f"{h}/{n}[]") + digits for h, n in names), default=0)

    def spawn_declared(self):
        self.width = self.label_width()
        decls = self.sc.get("processes", [])
        for d in decls:
            self.new_proc(d["host"]["name"], d["name"]["name"])
        sys.stdout.flush()
        sys.stderr.flush()
        for d, p in zip(decls, list(self.procs.values())):
            pid = os.fork()
            if pid == 0:
                start_runner(p.vpid, p.host, p.name, d["body"], self.source, self.address, self.args,
                             self.host_info.get("root"), self.cred_of(d))
            p.realpid = pid
            p.pidfd = os.pidfd_open(pid)
        for p in list(self.procs.values()):
            while p.conn is None:
                if not self.pump(10):
                    raise RuntimeError(f"process {p.label} did not start")
            p.pidfd = p.pidfd or os.pidfd_open(p.realpid)
        for d, p in zip(decls, list(self.procs.values())):
            start = d.get("start_ns", 0) or 0
            if start == 0:
                p.state = "runnable"
                self.runq.append(p)
            else:
                self.sleep_until(p, start)

    def cred_of(self, decl):
        """(uid, gid) of `process ... as USER`, from the host's `user` lines; None for root."""
        user = decl.get("user")
        if not user:
            return None
        for h in self.sc.get("hosts", []):
            if h["name"]["name"] == decl["host"]["name"]:
                for u in h.get("users", []):
                    if u["name"]["name"] == user["name"]:
                        return (u["uid"], u["gid"])
        raise Unsupported(f"unknown user {user['name']}")

    def sleep_until(self, p, when):
        p.state = "sleeping"
        self.seq += 1
        heapq.heappush(self.sleepers, (when, self.seq, p.vpid))

    def exit_wait(self, p):
        if p.pidfd is not None:
            select.select([p.pidfd], [], [], 10)
            os.close(p.pidfd)
            p.pidfd = None
        try:
            os.waitpid(p.realpid, os.WNOHANG)
        except ChildProcessError:
            pass
        p.state = "exited"

    # -- one step of one process (scenarios/src/interp.rs `step`)

    def step(self, p):
        self.send(p, {"op": "go"})
        call_line = None
        predicted = False
        deadline = None
        while True:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            msg = self.wait_from(p, timeout if deadline is not None else 120)
            if msg is None:
                if call_line is None:
                    raise RuntimeError(f"{p.label} stopped answering")
                self.out(p.label, f"{call_line} <blocked>")
                p.state = "blocked"
                p.blocked_line = call_line
                p.blocked_since = self.vt
                if not predicted and self.scale > 0:
                    # Nothing else ran while we waited to see whether it blocks: that time
                    # passed for the kernel's timers too.
                    self.vt += int((time.monotonic() - p.call_started) / self.scale * 1e9)
                return
            t = msg["t"]
            if t == "note":
                self.out(p.label, f"# {msg['text']}")
            elif t == "ss":
                self.ss(p)
                self.send(p, {"op": "ok"})
            elif t == "start":
                call_line = msg["line"]
                predicted = msg["predict"]
                p.call_started = time.monotonic()
                grace = self.args.block_grace_predicted if predicted else self.args.block_grace
                deadline = time.monotonic() + grace
            elif t == "done":
                self.finish_call(p, msg, resumed=False)
                p.state = "runnable"
                self.runq.append(p)
                return
            elif t == "sleep":
                self.sleep_until(p, self.vt + msg["ns"])
                return
            elif t == "fork":
                child = self.new_proc(p.host, msg["name"])
                self.send(p, {"pid": child.vpid})
                forked = self.wait_from(p, 30)
                if not forked or forked.get("t") != "forked":
                    raise RuntimeError(f"{p.label}: fork failed: {forked}")
                child.realpid = forked["pid"]
                child.pidfd = os.pidfd_open(child.realpid)
                while child.conn is None:
                    if not self.pump(10):
                        raise RuntimeError(f"{child.label} did not start")
                self.out(p.label, f"fork() = {child.vpid}")
                child.state = "runnable"
                self.runq.append(child)
                p.state = "runnable"
                self.runq.append(p)
                return
            elif t == "exit":
                self.exit_wait(p)
                self.out(p.label, "+++ exited with 0 +++")
                return
            elif t == "unsupported":
                raise Unsupported(f"{p.label}: {msg['msg']}")
            elif t == "crash":
                raise RuntimeError(f"{p.label} crashed:\n{msg['msg']}")
            elif t == "eof":
                raise RuntimeError(f"{p.label} went away")
            else:
                raise RuntimeError(f"unexpected message {msg}")

    def finish_call(self, p, msg, resumed):
        text = f"{msg['line']} = {msg['ret']}" + (" <resumed>" if resumed else "")
        self.out(p.label, text)
        if "held" in msg:
            self.checked += 1
            if not msg["held"]:
                line, col = line_col(self.source_text, msg["span"]["start"])
                self.out(p.label, f"!!! expectation failed (line {line}:{col}): expected {msg['expected']}, got = {msg['ret']}")
                self.failures.append((line, col, msg["call"], msg["expected"], msg["ret"]))

    def collect_resumed(self):
        """Blocked processes whose call returned: print them (in pid order) and run them."""
        woken = [p for p in sorted(self.procs.values(), key=lambda q: q.vpid) if p.state == "blocked" and p.inbox]
        for p in woken:
            msg = p.inbox.popleft()
            if msg["t"] == "eof":
                raise RuntimeError(f"{p.label} went away")
            if msg["t"] != "done":
                raise RuntimeError(f"{p.label}: unexpected {msg}")
            self.finish_call(p, msg, resumed=True)
            p.state = "runnable"
            p.blocked_line = None
            self.runq.append(p)

    def any_blocked(self):
        return any(p.state == "blocked" for p in self.procs.values())

    def idle_limit(self):
        """How long (real seconds) to wait for a blocked call when nothing else can happen."""
        limit = self.args.idle
        for p in self.procs.values():
            if p.state != "blocked":
                continue
            line = p.blocked_line or ""
            if line.startswith("connect("):
                r = self.host_info.get("tcp_syn_retries", 6)
                limit = max(limit, float(2 ** (r + 1) - 1) + 2)
            elif line.startswith("send("):
                limit = max(limit, 5.0)
            elif line.startswith("epoll_wait("):
                try:
                    ms = int(line.rsplit(",", 1)[1].rstrip(")"))
                    if ms > 0:
                        limit = max(limit, ms / 1000 + 1)
                except ValueError:
                    pass
        return limit

    def ss(self, p):
        self.out(p.label, "ss")
        try:
            res = subprocess.run(["ss", "-tanp"], capture_output=True, text=True, timeout=10)
            text = res.stdout
        except (OSError, subprocess.SubprocessError) as e:
            text = f"(ss failed: {e})\n"
        indent = " " * (self.width + 11)
        for line in text.rstrip("\n").split("\n"):
            if line:
                write_out(f"{indent}{line}\n")

    # -- the run (scenarios/src/run.rs)

    def run(self):
        self.listen()
        self.spawn_declared()
        while True:
            if self.until is not None and self.vt >= self.until:
                self.ended_reason = "time limit reached"
                break
            if self.runq:
                p = self.runq.popleft()
                self.step(p)
                if self.any_blocked():
                    self.pump(self.args.settle)
                    self.collect_resumed()
                continue
            self.collect_resumed()
            if self.runq:
                continue
            target = self.sleepers[0][0] if self.sleepers else None
            if self.until is not None and (target is None or target > self.until):
                target = self.until
            if target is None:
                if not self.any_blocked():
                    break
                wait = self.idle_limit()
            else:
                wait = max(0, target - self.vt) * self.scale / 1e9
            began = time.monotonic()
            deadline = began + wait
            woke = False
            while self.any_blocked():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.pump(left)
                if any(p.state == "blocked" and p.inbox for p in self.procs.values()):
                    woke = True
                    break
            if not woke and not self.any_blocked():
                left = deadline - time.monotonic()
                if left > 0:
                    time.sleep(left)
            if woke:
                # Virtual time moves on by the (scaled) time we were idle, up to the next sleeper.
                if self.scale > 0:
                    self.vt += int((time.monotonic() - began) / self.scale * 1e9)
                if target is not None:
                    self.vt = min(self.vt, target)
                self.collect_resumed()
                continue
            if target is None:
                break
            self.vt = max(self.vt, target)
            while self.sleepers and self.sleepers[0][0] <= self.vt:
                _, _, vpid = heapq.heappop(self.sleepers)
                p = self.procs[vpid]
                p.state = "runnable"
                self.runq.append(p)
        return self.finish()

    def finish(self):
        blocked = [p for p in self.procs.values() if p.state == "blocked"]
        failed = len(self.failures)
        write_out("== summary (real kernel) ==\n")
        write_out(f"kernel:       Linux {platform.release()} (unshare -n)\n")
        write_out(f"ended:        {vtime_text(self.vt)} ({self.ended_reason})\n")
        write_out(f"expectations: {self.checked} checked, {self.checked - failed} held, {failed} failed\n")
        if not blocked:
            write_out("blocked:      none\n")
        for i, p in enumerate(blocked):
            head = "blocked:     " if i == 0 else "             "
            write_out(f"{head} {p.host}/{p.name}[{p.vpid}] in {p.blocked_line}\n")
        for line, col, call, expected, got in self.failures:
            sys.stderr.write(f"{self.source_name}:{line}:{col}: expectation failed: `{call}` expected {expected}, "
                             f"got = {got} (real kernel)\n")
        return EXIT_FAILED if self.failures else EXIT_OK

    def kill_all(self):
        for p in self.procs.values():
            if p.state != "exited" and p.realpid:
                try:
                    os.kill(p.realpid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs.values():
            if p.realpid:
                try:
                    os.waitpid(p.realpid, 0)
                except ChildProcessError:
                    pass


_KEEP = []  # objects owning descriptors: never collected (runners must not close them)
_STDOUT_OPEN = [True]


def write_out(text):
    """Prints a trace line; if standard output was closed (`| head`), the run goes on quietly
    so that every process is still cleaned up."""
    if not _STDOUT_OPEN[0]:
        return
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _STDOUT_OPEN[0] = False
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass


def start_runner(vpid, host, name, body, source, address, args, root=None, cred=None):
    """In a freshly forked process: keep only 0, 1, 2 (on /dev/null), connect the control
    channel at CTRL_FD, set socksim's limits, enter the private root directory (`root`) with
    umask 022, take the scenario's user (`cred`: uid, gid), and run."""
    global PROC_FD
    diag = 2
    try:
        soft, hard = get_nofile()
        if args.keep_rlimit:
            limits = (soft, hard)
        else:
            # socksim's limits; the hard one only as far as we may (no CAP_SYS_RESOURCE needed).
            limits = (min(SOCKSIM_NOFILE[0], hard), min(SOCKSIM_NOFILE[1], hard))
        set_nofile(*limits)
        diag = place_fd(lambda: os.dup(2))  # the controller's stderr, until the channel works
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, diag)
        os.closerange(diag + 1, 2**20)
        connect_control(address)
        if root is not None:
            PROC_FD = place_fd(lambda: os.open("/proc", os.O_RDONLY | os.O_DIRECTORY))
            os.chroot(root)
            os.chdir("/")
        os.umask(0o022)  # socksim's processes (sim-kernel/src/process.rs Cred)
        if cred is not None:
            uid, gid = cred
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            PR_SET_DUMPABLE = 4
            libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # keep /proc/self readable
        os.close(diag)
    except BaseException:
        try:
            os.write(diag, f"oracle: process {host}/{name}[{vpid}] could not start:\n{traceback.format_exc()}".encode())
        finally:
            os._exit(4)
    try:
        Runner(vpid, host, name, source, address).main(body)
    finally:
        os._exit(4)


# --------------------------------------------------------------------------------------------
# The world: one host's addresses on lo, its sysctls.


def if_flags(name):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        res = fcntl.ioctl(s.fileno(), 0x8913, struct.pack("16sH22x", name.encode(), 0))  # SIOCGIFFLAGS
        return struct.unpack_from("16sH", res)[1]
    finally:
        s.close()


def check_namespace(args):
    names = [n for _, n in socket.if_nameindex()]
    if names != ["lo"]:
        raise SystemExit(
            f"oracle: refusing to run: this network namespace has interfaces {names}, not just lo. "
            "Run it as `unshare -n python3 tools/oracle/oracle.py ...` (tools/oracle/run does).")
    outer = os.environ.get("SOCKSIM_ORACLE_OUTER_NETNS")
    ours = os.stat("/proc/self/ns/net").st_ino
    if outer and int(outer) == ours:
        raise SystemExit("oracle: refusing to run: still in the caller's network namespace (use unshare -n)")
    if if_flags("lo") & 1 and not args.reuse_netns:
        raise SystemExit("oracle: refusing to run: lo is already up, so this is not a fresh namespace "
                         "(unshare -n gives one)")
    if os.geteuid() != 0:
        raise SystemExit("oracle: must run as root (inside unshare -n)")


def setup_world(scenario):
    hosts = scenario.get("hosts", [])
    used = {p["host"]["name"] for p in scenario.get("processes", [])}
    host = next((h for h in hosts if h["name"]["name"] in used), hosts[0] if hosts else None)
    info = {"notes": []}

    def ip_cmd(*argv):
        try:
            res = subprocess.run(["ip", *argv], capture_output=True, text=True)
        except FileNotFoundError:
            raise Unsupported("the `ip` command (iproute2) is needed")
        if res.returncode != 0:
            raise SetupRefused(f"ip {' '.join(argv)}: {res.stderr.strip()}")

    ip_cmd("link", "set", "lo", "up")
    if host is None:
        return info
    for a in host.get("addrs", []):
        ip = ipaddress.ip_address(a["addr"])
        if ip.is_loopback:
            continue
        if ip.version == 4:
            ip_cmd("addr", "add", f"{ip}/32", "dev", "lo")
        else:
            ip_cmd("-6", "addr", "add", f"{ip}/128", "dev", "lo", "nodad")
        info["notes"].append(f"{ip} on lo")
    for s in host.get("sysctls", []):
        name = s["name"]["name"]
        values = " ".join(str(v) for v in s["values"])
        if name == "net.ipv4.ip_local_reserved_ports":
            # socksim's AST holds (low, high) pairs; the kernel reads a list "a-b,c-d"
            # (proc_do_large_bitmap).
            v = s["values"]
            values = ",".join(f"{v[i]}-{v[i + 1]}" for i in range(0, len(v) - 1, 2))
        path = "/proc/sys/" + name.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write(values)
        except OSError as e:
            raise SetupRefused(f"the kernel rejects sysctl {name} = {values}: {errno_name(e.errno)} ({e.strerror})")
        info["notes"].append(f"{name} = {values}")
        if name == "net.ipv4.tcp_syn_retries":
            info["tcp_syn_retries"] = s["values"][0]
    info["host"] = host["name"]["name"]
    return info


def setup_root(info):
    """The processes' root directory: a tmpfs in this (fresh, private) mount namespace, laid
    out as socksim's hosts start (sim-kernel/src/unix/vfs.rs): `/` 0755, `/run` 0755, `/tmp`
    1777, all root's. Nothing outside it is touched; it disappears with the namespace."""
    outer = os.environ.get("SOCKSIM_ORACLE_OUTER_MNTNS")
    ours = os.stat("/proc/self/ns/mnt").st_ino
    if not outer or int(outer) == ours:
        return None
    import tempfile
    root = tempfile.mkdtemp(prefix="socksim-oracle-root-")
    # Private propagation first, so that nothing mounted here is seen outside.
    MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV = 0x4000, 1 << 18, 2, 4
    if SYS["mount"](None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        os.rmdir(root)
        raise SetupRefused(f"cannot make / private: {os.strerror(ctypes.get_errno())}")
    if SYS["mount"](b"tmpfs", root.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=0755,size=16m") != 0:
        os.rmdir(root)
        raise SetupRefused(f"cannot mount a tmpfs: {os.strerror(ctypes.get_errno())}")
    for d, mode in (("run", 0o755), ("tmp", 0o1777)):
        os.mkdir(os.path.join(root, d))
        os.chmod(os.path.join(root, d), mode)
    os.chmod(root, 0o755)
    info["root"] = root
    info["notes"].append("private root (tmpfs): / 0755, /run 0755, /tmp 01777")
    return root


def teardown_root(root):
    if root:
        SYS["umount2"](root.encode(), 2)  # MNT_DETACH
        try:
            os.rmdir(root)
        except OSError:
            pass


def uses_files(scenario):
    """Whether the scenario needs the private root: any path argument or file call."""
    text = json.dumps(scenario.get("processes", []))
    return any(k in text for k in ('"AF_UNIX"', '"AF_LOCAL"', '"mkdir"', '"unlink"', '"chmod"', '"chown"',
                                   '"mknod"'))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ast", required=True, help="the JSON that `socksim check --ast FILE` printed")
    ap.add_argument("--source", help="the scenario file (for line:column and expectation text)")
    ap.add_argument("--time-scale", type=float, default=1.0,
                    help="real seconds per virtual second for `sleep` and `at` (default 1)")
    ap.add_argument("--idle", type=float, default=0.5,
                    help="real seconds to wait for a blocked call when nothing else can happen (default 0.5)")
    ap.add_argument("--block-grace", type=float, default=1.0,
                    help="real seconds before a call that should not block is reported blocked (default 1)")
    ap.add_argument("--block-grace-predicted", type=float, default=0.01, help=argparse.SUPPRESS)
    ap.add_argument("--settle", type=float, default=0.005, help=argparse.SUPPRESS)
    ap.add_argument("--keep-rlimit", action="store_true",
                    help="keep the inherited RLIMIT_NOFILE instead of socksim's 1024/524288")
    ap.add_argument("--reuse-netns", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    _cross_check_constants()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(EXIT_FAILED))

    with open(args.ast) as f:
        scenario = json.load(f)
    source = b""
    if args.source:
        with open(args.source, "rb") as f:
            source = f.read()
    name = args.source or args.ast

    problems = StaticCheck(scenario).run()
    if problems:
        for p in problems:
            print(f"oracle: {name}: unsupported: {p}", file=sys.stderr)
        return EXIT_UNSUPPORTED

    check_namespace(args)
    root = None
    try:
        info = setup_world(scenario)
        root = setup_root(info)
        if root is None and uses_files(scenario):
            raise Unsupported("Unix-domain sockets and file calls need a fresh mount namespace "
                              "(tools/oracle/run uses unshare -m)")
        if any(p.get("user") for p in scenario.get("processes", [])) and root is None:
            raise Unsupported("`as USER` needs the private root (unshare -m)")
    except SetupRefused as e:
        teardown_root(root)
        print(f"oracle: {name}: setup failed: {e}", file=sys.stderr)
        return EXIT_FAILED
    except Unsupported as e:
        teardown_root(root)
        print(f"oracle: {name}: unsupported: {e}", file=sys.stderr)
        return EXIT_UNSUPPORTED

    inherited = get_nofile()
    if args.keep_rlimit:
        limits = f"{inherited[0]}/{inherited[1]} (inherited)"
    else:
        soft, hard = min(SOCKSIM_NOFILE[0], inherited[1]), min(SOCKSIM_NOFILE[1], inherited[1])
        limits = f"{soft}/{hard}"
        if (soft, hard) != SOCKSIM_NOFILE:
            limits += f" (socksim: {SOCKSIM_NOFILE[0]}/{SOCKSIM_NOFILE[1]}; the inherited hard limit is {inherited[1]})"
    write_out(f"# oracle: Linux {platform.release()}, fresh netns; host {info.get('host', '-')}: "
              + ", ".join(["lo up"] + info["notes"])
              + f"; RLIMIT_NOFILE {limits}\n")

    ctl = Controller(scenario, source, name, args, info)
    try:
        return ctl.run()
    except Unsupported as e:
        sys.stdout.flush()
        print(f"oracle: {name}: unsupported: {e}", file=sys.stderr)
        return EXIT_UNSUPPORTED
    finally:
        ctl.kill_all()
        teardown_root(root)


if __name__ == "__main__":
    sys.exit(main())
