//! Renderers: the text trace (strace-like calls, tcpdump-like packets, `ss` tables) and the
//! JSON-lines trace.
//!
//! Every text line starts with the virtual time and a label column: the process
//! (`host/name[pid]`) or the network (`lan`, `lo`) — padded to one width per trace so the
//! columns line up.

use crate::calls::{self, Param};
use crate::run::{EndReason, RunReport, TraceEvent};
use sim_core::Record;
use sim_kernel::packet::{Flags, IcmpKind, PacketSummary, SegmentSummary};
use sim_kernel::syscall::{Cmsg, How, MSG_CTRUNC, MSG_TRUNC, Payload, SysReturn, Syscall};
use sim_kernel::trace::{Event, Phase, SsRow};
use sim_kernel::unix::scm::DEFAULT_CONTROLLEN;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

/// How many bytes of a buffer a call line shows (like `strace -s 32`).
const STRING_LIMIT: usize = 32;

/// A constant's name for `value` among those of `param`, or the number.
fn constant_name(param: Param, value: i64) -> String {
    calls::CONSTANTS
        .iter()
        .find(|c| c.param == param && c.value == value)
        .map_or_else(|| value.to_string(), |c| c.name.to_string())
}

/// A socket option's name for its level: option numbers repeat across levels (`IP_TTL` and
/// `SO_REUSEADDR` are both 2), so the level's prefix picks the name (`SO_` for `SOL_SOCKET`,
/// `IP_` for `SOL_IP`, `IPV6_` for `IPPROTO_IPV6`).
fn option_name(level: i32, name: i32) -> String {
    let prefix = match constant_name(Param::Level, i64::from(level)).as_str() {
        "SOL_SOCKET" => "SO_",
        "SOL_IP" => "IP_",
        "IPPROTO_IPV6" => "IPV6_",
        _ => "",
    };
    calls::CONSTANTS
        .iter()
        .find(|c| c.param == Param::OptName && c.value == i64::from(name) && c.name.starts_with(prefix))
        .map_or_else(|| name.to_string(), |c| c.name.to_string())
}

/// Or'ed flags by name (`O_RDWR|O_NONBLOCK`, `EPOLLIN|EPOLLEXCLUSIVE`), or `0`.
fn flag_names(param: Param, value: i64) -> String {
    let mut names = Vec::new();
    let mut rest = value;
    for c in calls::CONSTANTS.iter().filter(|c| c.param == param && c.value != 0) {
        if value & c.value == c.value && rest & c.value != 0 {
            names.push(c.name.to_string());
            rest &= !c.value;
        }
    }
    if rest != 0 || names.is_empty() {
        names.push(if rest == 0 {
            "0".to_string()
        } else {
            format!("{rest:#x}")
        });
    }
    names.join("|")
}

/// A buffer the way strace quotes it, cut at 32 bytes (`STRING_LIMIT`, strace's default `-s`) with `...`.
pub fn quote(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes.iter().take(STRING_LIMIT) {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            0 => s.push_str("\\0"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('"');
    if bytes.len() > STRING_LIMIT {
        s.push_str("...");
    }
    s
}

/// `socket()`'s and `socketpair()`'s arguments: `AF_INET, SOCK_STREAM, IPPROTO_TCP`; a Unix
/// socket's protocol is a plain number, as strace prints it.
fn socket_args(domain: i32, ty: i32, protocol: i32) -> String {
    let mut t = constant_name(Param::Type, i64::from(ty & 0xf));
    for flag in [calls::SOCK_NONBLOCK, calls::SOCK_CLOEXEC] {
        if i64::from(ty) & flag != 0 {
            t.push('|');
            t.push_str(&constant_name(Param::Type, flag));
        }
    }
    let proto = if domain == sim_kernel::syscalls::AF_UNIX {
        protocol.to_string()
    } else {
        constant_name(Param::Protocol, i64::from(protocol))
    };
    format!("{}, {t}, {proto}", constant_name(Param::Domain, i64::from(domain)))
}

/// An address passed to a call, as a scenario writes it: a `sockaddr_un` with only its family
/// is `AF_UNIX` (results print it as `unnamed`).
fn call_addr(addr: &sim_kernel::syscall::SockAddr) -> String {
    match addr {
        sim_kernel::syscall::SockAddr::Unix(sim_kernel::syscall::UnixAddr::Unnamed) => "AF_UNIX".into(),
        other => other.to_string(),
    }
}

/// A file mode as strace prints it: `0755`, `01777`.
fn octal(mode: u32) -> String {
    format!("0{mode:03o}")
}

/// Data to send: the bytes quoted, or a size.
fn payload(data: &Payload) -> String {
    match data {
        Payload::Bytes(b) => quote(b),
        Payload::Zeros(n) => size(*n),
    }
}

/// A bracketed detail in the form expectations are compared in: blanks collapsed to one
/// space, and none around `,`, `|` and `=` (`[3 EPOLLIN, 5 EPOLLIN|EPOLLOUT]` and
/// `[3 EPOLLIN,5 EPOLLIN | EPOLLOUT]` are the same).
pub fn normalize_detail(text: &str) -> String {
    let mut out = String::new();
    let mut blank = false;
    for c in text.chars() {
        if c.is_whitespace() {
            blank = true;
            continue;
        }
        let punct = matches!(c, ',' | '|' | '=');
        if blank && !punct && !out.is_empty() && !out.ends_with([',', '|', '=']) {
            out.push(' ');
        }
        blank = false;
        out.push(c);
    }
    out
}

/// A byte count the way a scenario writes it: `64KiB` when exact, else the number.
fn size(n: usize) -> String {
    match n {
        0 => "0".into(),
        n if n % (1 << 20) == 0 => format!("{}MiB", n >> 20),
        n if n % (1 << 10) == 0 => format!("{}KiB", n >> 10),
        n => n.to_string(),
    }
}

/// A call as the trace prints it: `connect(3, 10.0.0.1:80)`.
pub fn format_call(call: &Syscall) -> String {
    match call {
        Syscall::Socket { domain, ty, protocol } => format!("socket({})", socket_args(*domain, *ty, *protocol)),
        Syscall::SocketPair { domain, ty, protocol } => {
            format!("socketpair({})", socket_args(*domain, *ty, *protocol))
        }
        Syscall::Dup { fd } => format!("dup({fd})"),
        Syscall::Dup2 { oldfd, newfd } => format!("dup2({oldfd}, {newfd})"),
        Syscall::Mkdir { path, mode } => format!("mkdir({path:?}, {})", octal(*mode)),
        Syscall::Unlink { path } => format!("unlink({path:?})"),
        Syscall::Chmod { path, mode } => format!("chmod({path:?}, {})", octal(*mode)),
        Syscall::Chown { path, uid, gid } => {
            let id = |v: u32| if v == u32::MAX { -1 } else { i64::from(v) };
            format!("chown({path:?}, {}, {})", id(*uid), id(*gid))
        }
        Syscall::Mknod { path, mode } => format!("mknod({path:?}, {})", octal(*mode)),
        Syscall::Umask { mask } => format!("umask({})", octal(*mask)),
        Syscall::SendMsg {
            fd,
            data,
            addr,
            control,
        } => {
            let mut out = format!("sendmsg({fd}, {}", payload(data));
            if let Some(addr) = addr {
                let _ = write!(out, ", {}", call_addr(addr));
            }
            for c in control {
                match c {
                    Cmsg::Rights(fds) => {
                        out.push_str(", SCM_RIGHTS");
                        for fd in fds {
                            let _ = write!(out, ", {fd}");
                        }
                    }
                    Cmsg::Credentials => out.push_str(", SCM_CREDENTIALS"),
                }
            }
            out.push(')');
            out
        }
        Syscall::RecvMsg { fd, len, controllen } if *controllen == DEFAULT_CONTROLLEN => {
            format!("recvmsg({fd}, {len})")
        }
        Syscall::RecvMsg { fd, len, controllen } => format!("recvmsg({fd}, {len}, {controllen})"),
        Syscall::Bind { fd, addr } => format!("bind({fd}, {})", call_addr(addr)),
        Syscall::Listen { fd, backlog } => format!("listen({fd}, {backlog})"),
        Syscall::Accept { fd } => format!("accept({fd})"),
        Syscall::Accept4 { fd, flags } => {
            let shown = if *flags == 0 {
                "0".to_string()
            } else {
                flag_names(Param::Type, i64::from(*flags))
            };
            format!("accept4({fd}, {shown})")
        }
        Syscall::Connect { fd, addr } => format!("connect({fd}, {})", call_addr(addr)),
        Syscall::Send { fd, data } => match data {
            Payload::Bytes(b) => format!("send({fd}, {})", quote(b)),
            Payload::Zeros(n) => format!("send({fd}, {})", size(*n)),
        },
        Syscall::Recv { fd, len, flags: 0 } => format!("recv({fd}, {len})"),
        Syscall::Recv { fd, len, flags } => {
            format!("recv({fd}, {len}, {})", flag_names(Param::MsgFlags, i64::from(*flags)))
        }
        Syscall::RecvFrom { fd, len, flags: 0 } => format!("recvfrom({fd}, {len})"),
        Syscall::RecvFrom { fd, len, flags } => {
            format!(
                "recvfrom({fd}, {len}, {})",
                flag_names(Param::MsgFlags, i64::from(*flags))
            )
        }
        Syscall::SendTo { fd, data, addr } => format!("sendto({fd}, {}, {})", payload(data), call_addr(addr)),
        Syscall::Shutdown { fd, how } => {
            let how = match how {
                How::Read => "SHUT_RD",
                How::Write => "SHUT_WR",
                How::Both => "SHUT_RDWR",
            };
            format!("shutdown({fd}, {how})")
        }
        Syscall::Close { fd } => format!("close({fd})"),
        Syscall::GetSockName { fd } => format!("getsockname({fd})"),
        Syscall::GetPeerName { fd } => format!("getpeername({fd})"),
        Syscall::GetSockOpt { fd, level, name } => format!(
            "getsockopt({fd}, {}, {})",
            constant_name(Param::Level, i64::from(*level)),
            option_name(*level, *name)
        ),
        Syscall::Fcntl { fd, cmd, arg } => match constant_name(Param::FcntlCmd, i64::from(*cmd)).as_str() {
            "F_GETFL" => format!("fcntl({fd}, F_GETFL)"),
            name => format!("fcntl({fd}, {name}, {})", flag_names(Param::FileFlags, *arg)),
        },
        Syscall::EpollCreate1 { flags } => {
            format!("epoll_create1({})", flag_names(Param::EpollFlags, i64::from(*flags)))
        }
        Syscall::EpollCtl { epfd, op, fd, events } => format!(
            "epoll_ctl({epfd}, {}, {fd}, {})",
            constant_name(Param::EpollOp, i64::from(*op)),
            flag_names(Param::EpollEvents, i64::from(*events))
        ),
        Syscall::EpollWait {
            epfd,
            maxevents,
            timeout_ms,
        } => format!("epoll_wait({epfd}, {maxevents}, {timeout_ms})"),
        Syscall::SetRlimit { resource, soft, hard } => {
            format!(
                "setrlimit({}, {soft}, {hard})",
                constant_name(Param::Resource, i64::from(*resource))
            )
        }
        Syscall::GetRlimit { resource } => {
            format!("getrlimit({})", constant_name(Param::Resource, i64::from(*resource)))
        }
        Syscall::SetSockOpt { fd, level, name, value } => format!(
            "setsockopt({fd}, {}, {}, {value})",
            constant_name(Param::Level, i64::from(*level)),
            option_name(*level, *name)
        ),
    }
}

/// A result as the trace prints it after `= ` (and as an expectation would be written).
pub fn format_return(ret: &SysReturn) -> String {
    match ret {
        SysReturn::Value { value } => value.to_string(),
        SysReturn::Mode { mode } => octal(*mode),
        SysReturn::Error { errno } => format!("-1 {errno}"),
        SysReturn::Addr { addr } => addr.to_string(),
        SysReturn::Accepted { fd, peer } => format!("{fd} ({peer})"),
        SysReturn::OptVal { .. } | SysReturn::Events { .. } | SysReturn::Limit { .. } => {
            format!("{} [{}]", ret.value(), bracket_detail(ret).unwrap_or_default())
        }
        SysReturn::Data { data } if data.is_empty() => "0".into(),
        SysReturn::Data { data } => format!("{} {}", data.len(), quote(data)),
        SysReturn::DataFrom { data, from } if data.is_empty() => format!("0 ({from})"),
        SysReturn::DataFrom { data, from } => format!("{} {} ({from})", data.len(), quote(data)),
        SysReturn::Pair { .. } | SysReturn::PeerCred { .. } => {
            format!("0 [{}]", bracket_detail(ret).unwrap_or_default())
        }
        SysReturn::Msg { data, from, .. } => {
            let mut out = data.len().to_string();
            if !data.is_empty() {
                let _ = write!(out, " {}", quote(data));
            }
            if let Some(from) = from {
                let _ = write!(out, " ({from})");
            }
            if let Some(detail) = bracket_detail(ret) {
                let _ = write!(out, " [{detail}]");
            }
            out
        }
    }
}

/// What a result shows in brackets after its value: an option's value, or epoll's events
/// (`3 EPOLLIN, 5 EPOLLIN|EPOLLOUT`).
pub fn bracket_detail(ret: &SysReturn) -> Option<String> {
    match ret {
        SysReturn::OptVal { name, value } => Some(option_value(*name, *value)),
        SysReturn::Limit { soft, hard } => Some(format!("{soft}, {hard}")),
        SysReturn::Pair { fds } => Some(format!("{}, {}", fds[0], fds[1])),
        SysReturn::PeerCred { cred } => Some(cred.to_string()),
        SysReturn::Msg {
            rights, creds, flags, ..
        } => {
            let mut items = Vec::new();
            if !rights.is_empty() {
                let fds: Vec<String> = rights.iter().map(ToString::to_string).collect();
                items.push(format!("SCM_RIGHTS {}", fds.join(" ")));
            }
            if let Some(c) = creds {
                items.push(format!("SCM_CREDENTIALS {c}"));
            }
            for (bit, name) in [(MSG_TRUNC, "MSG_TRUNC"), (MSG_CTRUNC, "MSG_CTRUNC")] {
                if flags & bit != 0 {
                    items.push(name.to_string());
                }
            }
            (!items.is_empty()).then(|| items.join(", "))
        }
        SysReturn::Events { events } => Some(
            events
                .iter()
                .map(|(fd, ev)| format!("{fd} {}", flag_names(Param::EpollEvents, i64::from(*ev))))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => None,
    }
}

/// An option's value as strace shows it: `SO_ERROR` as an errno name, others as numbers.
pub fn option_value(name: i32, value: i64) -> String {
    const SO_ERROR: i32 = 4;
    if name == SO_ERROR && value != 0 {
        if let Some(e) = sim_kernel::Errno::ALL.iter().find(|e| i64::from(e.number()) == value) {
            return e.name().to_string();
        }
    }
    value.to_string()
}

fn endpoint(a: SocketAddr) -> String {
    format!("{}.{}", a.ip(), a.port())
}

/// tcpdump's relative sequence numbers: each direction's numbers are shown relative to the
/// initial sequence number seen in its SYN; SYN segments show absolute numbers.
#[derive(Default)]
struct SeqTracker {
    isn: BTreeMap<(SocketAddr, SocketAddr), u32>,
}

impl SeqTracker {
    /// A packet as `tcpdump -n` prints it (without the leading `IP`/`IP6`).
    fn packet(&mut self, p: &PacketSummary) -> String {
        match p {
            PacketSummary::Tcp(s) => self.segment(s),
            PacketSummary::Udp { src, dst, len } => {
                format!("{} > {}: UDP, length {len}", endpoint(*src), endpoint(*dst))
            }
            // tcpdump: `ICMP 10.0.0.1 udp port 53 unreachable, length 36` quoting the IP and UDP
            // headers and the payload; ICMPv6 spells it out differently.
            PacketSummary::IcmpPortUnreachable {
                src,
                dst,
                orig_dst,
                orig_len,
                ..
            } => match orig_dst {
                SocketAddr::V4(to) => format!(
                    "{src} > {dst}: ICMP {} udp port {} unreachable, length {}",
                    to.ip(),
                    to.port(),
                    // The ICMP message: 8 header bytes, then the quoted IP header, UDP header and
                    // data, within 576 bytes of datagram (icmp_send).
                    (36 + orig_len).min(556)
                ),
                SocketAddr::V6(to) => format!(
                    "{src} > {dst}: ICMP6, destination unreachable, unreachable port, {} udp port {}, length {}",
                    to.ip(),
                    to.port(),
                    (56 + orig_len).min(1232)
                ),
            },
            // tcpdump: `ICMP net 10.1.0.5 unreachable, length 48`, `ICMP time exceeded
            // in-transit, length 48`; the length is the ICMP message: 8 header bytes and the
            // quoted packet, within 576 bytes of datagram.
            PacketSummary::IcmpError { kind, src, dst, quoted } => {
                let (about, quoted_len) = match quoted.as_ref() {
                    PacketSummary::Tcp(s) => (s.dst.ip(), 20 + s.len),
                    PacketSummary::Udp { dst, len, .. } => (dst.ip(), 8 + len),
                    _ => (*dst, 0),
                };
                if src.to_canonical().is_ipv4() {
                    let length = (8 + 20 + quoted_len).min(556);
                    match kind {
                        IcmpKind::NetUnreachable => {
                            format!("{src} > {dst}: ICMP net {about} unreachable, length {length}")
                        }
                        IcmpKind::HostUnreachable => {
                            format!("{src} > {dst}: ICMP host {about} unreachable, length {length}")
                        }
                        IcmpKind::TimeExceeded => {
                            format!("{src} > {dst}: ICMP time exceeded in-transit, length {length}")
                        }
                    }
                } else {
                    let length = (8 + 40 + quoted_len).min(1232);
                    match kind {
                        IcmpKind::NetUnreachable => format!(
                            "{src} > {dst}: ICMP6, destination unreachable, unreachable route {about}, length {length}"
                        ),
                        IcmpKind::HostUnreachable => format!(
                            "{src} > {dst}: ICMP6, destination unreachable, unreachable address {about}, length {length}"
                        ),
                        IcmpKind::TimeExceeded => {
                            format!("{src} > {dst}: ICMP6, time exceeded in-transit, length {length}")
                        }
                    }
                }
            }
        }
    }

    fn segment(&mut self, s: &SegmentSummary) -> String {
        let syn = s.flags.has(Flags::SYN);
        if syn {
            self.isn.insert((s.src, s.dst), s.seq);
        }
        let rel = |isn: Option<&u32>, n: u32| if syn { n } else { isn.map_or(n, |i| n.wrapping_sub(*i)) };
        let seq = rel(self.isn.get(&(s.src, s.dst)), s.seq);
        let mut out = format!(
            "{} > {}: Flags [{}]",
            endpoint(s.src),
            endpoint(s.dst),
            s.flags.tcpdump()
        );
        if s.len > 0 {
            let _ = write!(out, ", seq {}:{}", seq, seq.wrapping_add(s.len));
        } else if s.flags.has(Flags::SYN) || s.flags.has(Flags::FIN) || s.flags.has(Flags::RST) {
            let _ = write!(out, ", seq {seq}");
        }
        if s.flags.has(Flags::ACK) {
            let _ = write!(out, ", ack {}", rel(self.isn.get(&(s.dst, s.src)), s.ack));
        }
        let _ = write!(out, ", win {}, length {}", s.window, s.len);
        out
    }
}

fn ss_table(rows: &[SsRow], indent: &str) -> String {
    let header = [
        "Netid",
        "State",
        "Recv-Q",
        "Send-Q",
        "Local Address:Port",
        "Peer Address:Port",
        "Process",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.netid.clone(),
                r.state.clone(),
                r.recv_q.to_string(),
                r.send_q.to_string(),
                r.local.clone(),
                r.peer.clone(),
                r.process.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    let mut line = |cols: &[&str]| {
        let mut l = String::from(indent);
        for (i, c) in cols.iter().enumerate() {
            if i + 1 == cols.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$} ", w = widths[i]);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &cells {
        line(&row.each_ref().map(String::as_str));
    }
    out
}

/// The `conntrack` view as `conntrack -L` prints it: one line per entry, then the count
/// line the tool writes last (conntrack-tools 1.4.7).
fn conntrack_table(rows: &[sim_kernel::netfilter::ConntrackRow], indent: &str) -> String {
    let mut out = String::new();
    for r in rows {
        let _ = writeln!(out, "{indent}{}", conntrack_line(r));
    }
    let _ = writeln!(
        out,
        "{indent}conntrack v1.4.7 (conntrack-tools): {} flow entries have been shown.",
        rows.len()
    );
    out
}

/// One entry as `conntrack -L` prints it (conntrack-tools 1.4.7):
/// `tcp      6 119 TIME_WAIT src=... dst=... sport=... dport=... src=... [ASSURED] mark=0 use=1`.
pub fn conntrack_line(r: &sim_kernel::netfilter::ConntrackRow) -> String {
    let ends = |(src, dst): &(std::net::SocketAddr, std::net::SocketAddr)| {
        format!(
            "src={} dst={} sport={} dport={}",
            src.ip(),
            dst.ip(),
            src.port(),
            dst.port()
        )
    };
    {
        let mut l = format!("{:<8} {} {} ", r.proto, r.number, r.timeout);
        if let Some(state) = &r.state {
            let _ = write!(l, "{state} ");
        }
        l.push_str(&ends(&r.orig));
        if r.unreplied {
            l.push_str(" [UNREPLIED]");
        }
        let _ = write!(l, " {}", ends(&r.reply));
        if r.assured {
            l.push_str(" [ASSURED]");
        }
        l.push_str(" mark=0 use=1");
        l
    }
}

/// Renders the whole report as text: the trace, then the summary.
pub fn text(report: &RunReport) -> String {
    let mut labels: BTreeMap<u32, String> = BTreeMap::new();
    let mut width = 0;
    for r in &report.records {
        match &r.event {
            TraceEvent::Kernel(Event::Spawn { pid, host, name, .. }) => {
                let label = format!("{host}/{name}[{pid}]");
                width = width.max(label.len());
                labels.insert(*pid, label);
            }
            TraceEvent::Kernel(
                Event::Packet { network, .. } | Event::Drop { network, .. } | Event::Link { network, .. },
            ) => {
                width = width.max(network.len());
            }
            _ => {}
        }
    }
    let label = |pid: &u32| labels.get(pid).cloned().unwrap_or_else(|| format!("[{pid}]"));
    let mut seqs = SeqTracker::default();
    let mut out = String::new();
    // Times are right-aligned to the longest one, so columns stay put past 10 s.
    let time_width = report.records.iter().map(|r| r.at.to_string().len()).max().unwrap_or(8);
    let indent = " ".repeat(time_width + 1 + width + 2);
    for Record { at, event } in &report.records {
        let mut line = |who: &str, what: &str| {
            let _ = writeln!(out, "{:>time_width$} {who:<width$}  {what}", at.to_string());
        };
        match event {
            TraceEvent::Kernel(e) => match e {
                Event::Spawn {
                    parent: Some(parent),
                    pid,
                    ..
                } => line(&label(parent), &format!("fork() = {pid}")),
                Event::Spawn { parent: None, .. } => {}
                Event::Syscall { pid, call, ret, phase } => {
                    let call = format_call(call);
                    let text = match (phase, ret) {
                        (Phase::Blocked, _) | (_, None) => format!("{call} <blocked>"),
                        (Phase::Complete, Some(r)) => format!("{call} = {}", format_return(r)),
                        (Phase::Resumed, Some(r)) => format!("{call} = {} <resumed>", format_return(r)),
                    };
                    line(&label(pid), &text);
                }
                Event::Packet { network, packet } => line(network, &seqs.packet(packet)),
                Event::Drop {
                    network,
                    packet,
                    reason,
                } => line(network, &format!("{} [dropped: {reason}]", seqs.packet(packet))),
                Event::Ss { pid, rows, .. } => {
                    line(&label(pid), "ss");
                    out.push_str(&ss_table(rows, &indent));
                }
                Event::Conntrack { pid, rows, .. } => {
                    line(&label(pid), "conntrack");
                    out.push_str(&conntrack_table(rows, &indent));
                }
                Event::Note { pid, text } => line(&label(pid), &format!("# {text}")),
                Event::Exit { pid } => line(&label(pid), "+++ exited with 0 +++"),
                Event::Link { network, change } => line(network, change.as_str()),
            },
            TraceEvent::Failed(f) => line(
                &label(&f.failure.pid),
                &format!(
                    "!!! expectation failed (line {}:{}): expected {}, got {}",
                    f.line, f.column, f.failure.expected, f.failure.actual
                ),
            ),
        }
    }
    out.push_str(&summary(report));
    out
}

/// The summary that ends a text trace.
pub fn summary(report: &RunReport) -> String {
    let mut out = String::from("== summary ==\n");
    let _ = writeln!(out, "seed:         {}", report.seed);
    let why = match report.end {
        EndReason::Idle => "nothing left to happen",
        EndReason::TimeLimit => "time limit reached",
    };
    let _ = writeln!(out, "ended:        {} ({why})", report.end_time);
    let failed = report.failures.len();
    let held = report.checked - failed;
    let _ = writeln!(
        out,
        "expectations: {} checked, {held} held, {failed} failed",
        report.checked
    );
    if report.blocked.is_empty() {
        out.push_str("blocked:      none\n");
    }
    for (i, b) in report.blocked.iter().enumerate() {
        let head = if i == 0 { "blocked:     " } else { "             " };
        let _ = writeln!(out, "{head} {}[{}] in {}", b.label, b.pid, b.call);
    }
    let _ = writeln!(out, "decisions:    {}", report.decisions.len());
    out
}

/// Renders the report as JSON lines: one object per trace record (`{"at": ns, "event": {...}}`)
/// and a final `{"summary": {...}}`.
pub fn json(report: &RunReport) -> String {
    let mut out = String::new();
    for r in &report.records {
        out.push_str(&serde_json::to_string(r).expect("trace records serialize"));
        out.push('\n');
    }
    let summary = serde_json::json!({
        "summary": {
            "seed": report.seed,
            "end": report.end,
            "end_time": report.end_time,
            "checked": report.checked,
            "failures": report.failures,
            "blocked": report.blocked,
            "decisions": report.decisions,
        }
    });
    out.push_str(&summary.to_string());
    out.push('\n');
    out
}
