//! The `ss -tuxanp` view of a host's sockets.
//!
//! Rows are the sockets `ss` would dump — listeners, and every connection in the established
//! table (SYN-SENT through TIME-WAIT) — but not sockets that are merely created or bound. They
//! are ordered listeners first, then by local and peer address, so a snapshot is stable.

use crate::addr::Family;
use crate::host::HostId;
use crate::process::Desc;
use crate::socket::{Proto, SocketId, TcpState};
use crate::trace::{Event, SsRow};
use crate::world::World;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// An address the way `ss -n` prints it: `0.0.0.0:80`, `[::1]:80`, `[::ffff:10.0.0.2]:80`,
/// and `*:80` for a dual-stack wildcard; `*` for port 0.
fn fmt_addr(a: SocketAddr, family: Family, v6only: bool) -> String {
    let shown = crate::addr::for_family(a, family);
    let host = match shown.ip() {
        IpAddr::V6(ip) if ip.is_unspecified() && !v6only => "*".to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) => ip.to_string(),
    };
    if a.port() == 0 {
        format!("{host}:*")
    } else {
        format!("{host}:{}", a.port())
    }
}

impl World {
    /// The `ss -tanp` rows for `host`.
    pub fn ss(&self, host: HostId) -> Vec<SsRow> {
        let mut owners: BTreeMap<SocketId, Vec<String>> = BTreeMap::new();
        for p in self.processes.iter().filter(|p| p.host == host && !p.exited) {
            for (fd, desc) in p.fds.iter() {
                if let Desc::Socket(s) = desc {
                    owners
                        .entry(s)
                        .or_default()
                        .push(format!("(\"{}\",pid={},fd={})", p.name, p.pid.0, fd));
                }
            }
        }
        let mut rows: Vec<(bool, SocketAddr, SocketAddr, SsRow)> = self
            .sockets
            .iter()
            .filter(|(_, s)| {
                s.host == host
                    && match s.proto {
                        Proto::Tcp => s.state == TcpState::Listen || s.in_ehash(),
                        Proto::Udp => s.in_bind_table(),
                    }
            })
            .map(|(id, s)| {
                let (recv_q, send_q) = match &s.listen {
                    _ if s.proto == Proto::Udp => (s.udp.as_ref().map_or(0, |u| u.queued_bytes as u64), 0),
                    // For listeners ss shows the accept queue's length and the backlog.
                    Some(l) if s.state == TcpState::Listen => (l.accept_queue.len() as u64, u64::from(l.max_backlog)),
                    _ => (
                        s.rx.len() as u64,
                        u64::from(s.snd_nxt.wrapping_sub(s.snd_una)).min(u64::from(u32::MAX)),
                    ),
                };
                let send_q = if matches!(s.state, TcpState::SynSent | TcpState::SynRecv) {
                    0
                } else {
                    send_q
                };
                let process = owners
                    .get(&id)
                    .map(|o| format!("users:({})", o.join(",")))
                    .unwrap_or_default();
                // tcp_time_wait() hands the connection to a TIME_WAIT mini-socket: ss shows it
                // with nothing queued and no owner, whatever the closed user socket still holds.
                let (process, recv_q) = if s.state == TcpState::TimeWait {
                    (String::new(), 0)
                } else {
                    (process, recv_q)
                };
                let peer = if s.state == TcpState::Listen {
                    crate::addr::unspecified(s.family)
                } else {
                    s.remote
                };
                // ss prints a listener's peer as `*:*` only beside a dual-stack `*` local
                // address; a specific IPv6 listener shows `[::]:*`.
                let dual_stack_local = s.local.ip().is_unspecified() && s.local.is_ipv6() && !s.v6only();
                let peer_v6only = s.v6only() || !dual_stack_local;
                let row = SsRow {
                    netid: match s.proto {
                        Proto::Tcp => "tcp".into(),
                        Proto::Udp => "udp".into(),
                    },
                    state: match (s.proto, s.state) {
                        (Proto::Udp, TcpState::Closed) => "UNCONN".into(),
                        (_, state) => state.ss_name().into(),
                    },
                    recv_q,
                    send_q,
                    local: fmt_addr(s.local, s.family, s.v6only()),
                    peer: fmt_addr(peer, s.family, peer_v6only),
                    process,
                };
                (s.state != TcpState::Listen, s.local, s.remote, row)
            })
            .collect();
        rows.sort_by(|a, b| {
            (a.0, a.1.ip(), a.1.port(), a.2.ip(), a.2.port()).cmp(&(b.0, b.1.ip(), b.1.port(), b.2.ip(), b.2.port()))
        });
        let mut rows: Vec<SsRow> = rows.into_iter().map(|r| r.3).collect();
        rows.extend(self.ss_unix(host));
        rows
    }

    /// The `ss -xanp` rows for `host`'s Unix sockets, in the order they got their inodes:
    /// every socket with a file and not released (connections not yet accepted have no inode
    /// and are not shown). The local address is the path, `@name` (NULs shown as `@`) or `*`,
    /// then the socket's inode; the peer is `*` and the peer's inode (0 for none, for a
    /// connection not yet accepted, and for a peer that has closed). Recv-Q is the accept queue's length for a listener and
    /// unread bytes otherwise (a datagram socket: the first datagram's); Send-Q is the backlog
    /// for a listener and otherwise the true size of this socket's messages still unread
    /// (`unix_diag`'s `UNIX_DIAG_RQLEN`).
    fn ss_unix(&self, host: HostId) -> Vec<SsRow> {
        let mut owners: BTreeMap<crate::unix::UnixId, Vec<String>> = BTreeMap::new();
        for p in self.processes.iter().filter(|p| p.host == host && !p.exited) {
            for (fd, desc) in p.fds.iter() {
                if let Desc::Unix(u) = desc {
                    owners
                        .entry(u)
                        .or_default()
                        .push(format!("(\"{}\",pid={},fd={})", p.name, p.pid.0, fd));
                }
            }
        }
        let mut rows: Vec<(u64, SsRow)> = self
            .unix
            .iter()
            .filter(|(_, s)| s.host == host && !s.dead && s.ino != 0)
            .map(|(id, s)| {
                use crate::unix::{UnixName, UnixState, UnixType};
                let listening = s.state == UnixState::Listening;
                let (recv_q, send_q) = if listening {
                    (s.accept_queue.len() as u64, u64::from(s.max_ack_backlog))
                } else {
                    let recv = match s.ty {
                        UnixType::Dgram => s.rx.front().map_or(0, |m| m.remaining()),
                        _ => s.rx_bytes,
                    };
                    (recv as u64, s.wmem)
                };
                let local = match &s.name {
                    Some(UnixName::Path { path, .. }) => path.clone(),
                    Some(UnixName::Abstract(name)) => {
                        let shown: String = name.iter().map(|&b| if b == 0 { '@' } else { char::from(b) }).collect();
                        format!("@{shown}")
                    }
                    None => "*".into(),
                };
                // sock_i_ino(): a closed peer has no socket any more, hence inode 0.
                let peer_ino = s
                    .peer
                    .map(|p| self.unix.get(p))
                    .filter(|p| !p.dead)
                    .map_or(0, |p| p.ino);
                let row = SsRow {
                    netid: s.ty.netid().into(),
                    state: match s.state {
                        UnixState::Unconnected => "UNCONN",
                        UnixState::Listening => "LISTEN",
                        UnixState::Connected => "ESTAB",
                    }
                    .into(),
                    recv_q,
                    send_q,
                    local: format!("{local} {}", s.ino),
                    peer: format!("* {peer_ino}"),
                    process: owners
                        .get(&id)
                        .map(|o| format!("users:({})", o.join(",")))
                        .unwrap_or_default(),
                };
                (s.ino, row)
            })
            .collect();
        rows.sort_by_key(|r| r.0);
        rows.into_iter().map(|r| r.1).collect()
    }

    /// Records the `ss` view of `pid`'s host in the trace.
    pub fn trace_ss(&mut self, pid: crate::Pid) {
        let host = self.process(pid).host;
        let rows = self.ss(host);
        let name = self.hosts[host.0 as usize].name.clone();
        self.trace(|| Event::Ss {
            pid: pid.0,
            host: name,
            rows,
        });
    }

    /// Records a note in the trace.
    pub fn trace_note(&mut self, pid: crate::Pid, text: &str) {
        self.trace(|| Event::Note {
            pid: pid.0,
            text: text.to_string(),
        });
    }
}
