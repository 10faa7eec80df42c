//! The `ss -tanp` view of a host's sockets.
//!
//! Rows are the sockets `ss` would dump — listeners, and every connection in the established
//! table (SYN-SENT through TIME-WAIT) — but not sockets that are merely created or bound. They
//! are ordered listeners first, then by local and peer address, so a snapshot is stable.

use crate::host::HostId;
use crate::process::Desc;
use crate::socket::{SocketId, TcpState};
use crate::trace::{Event, SsRow};
use crate::world::World;
use std::collections::BTreeMap;
use std::net::SocketAddrV4;

fn fmt_local(a: SocketAddrV4) -> String {
    a.to_string()
}

fn fmt_peer(a: SocketAddrV4) -> String {
    if a.port() == 0 {
        format!("{}:*", a.ip())
    } else {
        a.to_string()
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
        let mut rows: Vec<(bool, SocketAddrV4, SocketAddrV4, SsRow)> = self
            .sockets
            .iter()
            .filter(|(_, s)| s.host == host && (s.state == TcpState::Listen || s.in_ehash))
            .map(|(id, s)| {
                let (recv_q, send_q) = match &s.listen {
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
                let peer = if s.state == TcpState::Listen {
                    SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0)
                } else {
                    s.remote
                };
                let row = SsRow {
                    netid: "tcp".into(),
                    state: s.state.ss_name().into(),
                    recv_q,
                    send_q,
                    local: fmt_local(s.local),
                    peer: fmt_peer(peer),
                    process,
                };
                (s.state != TcpState::Listen, s.local, s.remote, row)
            })
            .collect();
        rows.sort_by(|a, b| {
            (a.0, a.1.ip(), a.1.port(), a.2.ip(), a.2.port()).cmp(&(b.0, b.1.ip(), b.1.port(), b.2.ip(), b.2.port()))
        });
        rows.into_iter().map(|r| r.3).collect()
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
