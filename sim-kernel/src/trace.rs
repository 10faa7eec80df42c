//! The kernel's trace events: what a run shows (system calls, packets, views).

use crate::packet::PacketSummary;
use crate::syscall::{SysReturn, Syscall};
use serde::{Deserialize, Serialize};

/// Whether a call line is a whole call, the start of a blocking one, or its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The call ran to completion without waiting.
    Complete,
    /// The call started and had to wait (`<blocked>`).
    Blocked,
    /// A waiting call finished (`<resumed>`).
    Resumed,
}

/// One row of the `ss` view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsRow {
    /// Netid column (`tcp`).
    pub netid: String,
    /// State column as `ss` names it (`LISTEN`, `ESTAB`, `TIME-WAIT`, `SYN-SENT`, ...).
    pub state: String,
    /// Recv-Q: unread bytes, or for a listener the connections waiting in the accept queue.
    pub recv_q: u64,
    /// Send-Q: unacknowledged bytes, or for a listener the backlog.
    pub send_q: u64,
    /// Local address:port (`*` for a wildcard address).
    pub local: String,
    /// Peer address:port (`*:*` if none).
    pub peer: String,
    /// Owning processes as `ss -p` prints them (`"name",pid=1,fd=3`), comma separated.
    pub process: String,
}

/// A trace event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Event {
    /// A process came to life.
    Spawn {
        /// Its pid.
        pid: u32,
        /// Its host.
        host: String,
        /// Its name.
        name: String,
        /// The parent, for `fork`.
        parent: Option<u32>,
    },
    /// A system call (or one phase of a blocking one).
    Syscall {
        /// Caller.
        pid: u32,
        /// The call.
        call: Syscall,
        /// Its result (absent while blocked).
        ret: Option<SysReturn>,
        /// Which phase this line shows.
        phase: Phase,
    },
    /// A packet put on a network.
    Packet {
        /// The network's name (`lo` for loopback).
        network: String,
        /// The packet.
        packet: PacketSummary,
    },
    /// A packet that could not be delivered.
    Drop {
        /// Where it was dropped: the network's name, or the host's name when the host itself
        /// discarded it (a full accept queue, no route).
        network: String,
        /// The packet.
        packet: PacketSummary,
        /// Why.
        reason: String,
    },
    /// The `ss` view of a host.
    Ss {
        /// Who asked.
        pid: u32,
        /// The host.
        host: String,
        /// The rows.
        rows: Vec<SsRow>,
    },
    /// The `conntrack` view of a host.
    Conntrack {
        /// Who asked.
        pid: u32,
        /// The host.
        host: String,
        /// The entries.
        rows: Vec<crate::netfilter::ConntrackRow>,
    },
    /// A `note` from a scenario.
    Note {
        /// Who wrote it.
        pid: u32,
        /// The text.
        text: String,
    },
    /// A process ended.
    Exit {
        /// Its pid.
        pid: u32,
    },
    /// A network was partitioned or healed.
    Link {
        /// The network's name.
        network: String,
        /// What happened to it.
        change: LinkChange,
    },
}

/// What happened to a network ([`Event::Link`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkChange {
    /// From now on every packet put on it is lost.
    Partitioned,
    /// Packets pass again.
    Healed,
}

impl LinkChange {
    /// How the text trace prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkChange::Partitioned => "partitioned",
            LinkChange::Healed => "healed",
        }
    }
}
