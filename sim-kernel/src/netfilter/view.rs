//! The `conntrack` view: a host's connection-tracking table as `conntrack -L` lists it.

use crate::host::HostId;
use crate::trace::Event;
use crate::world::World;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// One line of the `conntrack` view, as `conntrack -L` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConntrackRow {
    /// `tcp` or `udp`.
    pub proto: String,
    /// The protocol number (6, 17).
    pub number: u8,
    /// Seconds until the entry expires.
    pub timeout: u64,
    /// The TCP state (`ESTABLISHED`), none for UDP.
    pub state: Option<String>,
    /// The original direction (source, destination).
    pub orig: (SocketAddr, SocketAddr),
    /// The reply direction (source, destination).
    pub reply: (SocketAddr, SocketAddr),
    /// No reply seen yet (`[UNREPLIED]`).
    pub unreplied: bool,
    /// Assured (`[ASSURED]`).
    pub assured: bool,
}

impl World {
    /// The `conntrack` view of `host`: its entries in creation order.
    pub fn conntrack_rows(&mut self, host: HostId) -> Vec<ConntrackRow> {
        let now = self.now;
        let Some(nf) = self.hosts[host.0 as usize].netfilter.as_mut() else {
            return Vec::new();
        };
        nf.table.reap(now);
        nf.table
            .iter()
            .filter(|(_, c)| c.confirmed)
            .map(|(_, c)| {
                let (proto, number) = c.orig.proto.name_and_number();
                ConntrackRow {
                    proto: proto.to_string(),
                    number,
                    timeout: c.expires.since(now).as_nanos() / 1_000_000_000,
                    state: c.state.name().map(str::to_string),
                    orig: (c.orig.src, c.orig.dst),
                    reply: (c.reply.src, c.reply.dst),
                    unreplied: !c.seen_reply,
                    assured: c.assured,
                }
            })
            .collect()
    }

    /// Records the `conntrack` view of the caller's host in the trace.
    pub fn trace_conntrack(&mut self, pid: crate::Pid) {
        let host = self.process(pid).host;
        let rows = self.conntrack_rows(host);
        let name = self.hosts[host.0 as usize].name.clone();
        self.trace(|| Event::Conntrack {
            pid: pid.0,
            host: name,
            rows,
        });
    }
}
