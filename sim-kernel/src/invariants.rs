//! Whole-world consistency checks, for tests to run after every step.
//!
//! [`World::check_invariants`] walks every table and object and cross-checks them. It costs
//! time linear in the world's size, so it belongs in tests and property tests, not in runs.

use crate::epoll::Waiter;
use crate::host::FourTuple;
use crate::process::Desc;
use crate::socket::{SocketId, TcpState};
use crate::world::World;
use std::collections::BTreeMap;

/// A broken invariant: a simulator bug, described for the test report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation(pub String);

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Violation {}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(Violation(format!($($msg)+)));
        }
    };
}

impl World {
    /// Checks that the kernel's structures agree with each other:
    ///
    /// * every socket's reference count equals the descriptors (in live processes) that
    ///   refer to it, and sockets nobody holds are finishing a connection on their own;
    /// * every socket in an accept queue names that listener as its parent;
    /// * the established table maps each 4-tuple to a socket with exactly that 4-tuple, and
    ///   every socket that says it is in the table is there (so no two share a 4-tuple);
    /// * every bind bucket lists sockets that hold that port, at the index they record;
    /// * listening tables hold only listening sockets on their own address;
    /// * epoll instances' reference counts match descriptors, and each watched socket carries
    ///   the instance's entry on its wait queue;
    /// * Unix sockets: see [`World::check_unix_invariants`]. Descriptors in flight (in
    ///   `SCM_RIGHTS` messages) count as references for every kind of socket;
    /// * a connection's retransmission queue holds exactly its unacknowledged data (and FIN);
    /// * conntrack tables: see [`crate::netfilter::conntrack::Conntrack::check`] (within
    ///   `nf_conntrack_max`, every tuple names one entry, so NAT is a bijection);
    /// * packets are conserved: every transmission was delivered, lost (with a reason in the
    ///   trace) or is still in flight ([`World::packet_stats`]).
    pub fn check_invariants(&self) -> Result<(), Violation> {
        for h in &self.hosts {
            if let Some(nf) = &h.netfilter {
                nf.table
                    .check(h.sysctl.conntrack.max)
                    .map_err(|e| Violation(format!("{}: conntrack: {e}", h.name)))?;
            }
        }
        let stats = self.stats;
        if stats.sent != stats.delivered + stats.lost + stats.in_flight {
            return Err(Violation(format!(
                "packets not conserved: sent {} != delivered {} + lost {} + in flight {}",
                stats.sent, stats.delivered, stats.lost, stats.in_flight
            )));
        }
        if self.in_flight.len() as u64 != stats.in_flight {
            return Err(Violation(format!(
                "{} packets wait in the in-flight slab but {} are counted in flight",
                self.in_flight.len(),
                stats.in_flight
            )));
        }
        let mut socket_refs: BTreeMap<SocketId, u32> = BTreeMap::new();
        let mut epoll_refs: BTreeMap<u32, u32> = BTreeMap::new();
        let mut unix_refs: BTreeMap<crate::unix::UnixId, u32> = BTreeMap::new();
        // Descriptors in processes, and descriptors in flight in SCM_RIGHTS messages.
        let in_flight = self
            .unix
            .iter()
            .flat_map(|(_, s)| s.rx.iter())
            .flat_map(|m| m.rights.iter().copied());
        let in_tables = self
            .processes
            .iter()
            .filter(|p| !p.exited)
            .flat_map(|p| p.fds.iter().map(|(_, d)| d));
        for desc in in_tables.chain(in_flight) {
            match desc {
                Desc::Socket(s) => *socket_refs.entry(s).or_default() += 1,
                Desc::Epoll(e) => *epoll_refs.entry(e.0).or_default() += 1,
                Desc::Unix(u) => *unix_refs.entry(u).or_default() += 1,
                Desc::Stdio => {}
            }
        }
        self.check_unix_invariants(&unix_refs)?;
        for (id, s) in self.sockets.iter() {
            let held = socket_refs.get(&id).copied().unwrap_or(0);
            ensure!(
                s.refs == held,
                "socket {id:?} counts {} references but {held} descriptors hold it",
                s.refs
            );
            if s.is_orphan() {
                ensure!(
                    !matches!(s.state, TcpState::Closed | TcpState::Listen),
                    "socket {id:?} is unreachable in state {:?}",
                    s.state
                );
            }
            if s.proto == crate::socket::Proto::Tcp && s.state.is_synchronized() {
                // The retransmission queue holds exactly what is in flight: the payload bytes
                // from snd_una on, then the FIN if it was sent.
                let in_flight = s.snd_nxt.wrapping_sub(s.snd_una) as usize;
                let data = s.rtx.as_ref().map_or(0, |r| r.unacked.len());
                let consistent = in_flight == data || (s.fin_sent() && in_flight == data + 1);
                ensure!(
                    consistent && s.rtx.is_some() == (in_flight > 0),
                    "socket {id:?} has {in_flight} bytes in flight but {data} in its retransmission queue",
                );
            }
            if let Some(parent) = s.parent() {
                let p = self.sockets.try_get(parent);
                ensure!(p.is_some(), "socket {id:?} names a freed listener {parent:?}");
            }
            let host = &self.hosts[s.host.0 as usize];
            if s.in_ehash() {
                let key = FourTuple::new(s.local, s.remote);
                ensure!(
                    host.tcp.established.get(&key) == Some(&id),
                    "socket {id:?} ({} -> {}) is not in its host's established table",
                    s.local,
                    s.remote
                );
            }
            if s.in_bind_table() {
                let table = match s.proto {
                    crate::socket::Proto::Tcp => &host.tcp.bind,
                    crate::socket::Proto::Udp => &host.udp,
                };
                let bucket = table.get(&s.local.port());
                ensure!(
                    bucket.is_some_and(|b| b.owners.get(s.bucket_index as usize) == Some(&id)),
                    "socket {id:?} is not at its recorded place in port {}'s bucket",
                    s.local.port()
                );
            }
            if s.state == TcpState::Listen {
                let list = host.tcp.listening.get(&s.local);
                ensure!(
                    list.is_some_and(|l| l.contains(&id)),
                    "listener {id:?} is missing from the listening table"
                );
                for &child in &s.listen.as_ref().expect("listener state").accept_queue {
                    ensure!(
                        self.sockets.try_get(child).is_some_and(|c| c.parent() == Some(id)),
                        "accept queue of {id:?} holds {child:?}, which is not its child"
                    );
                }
            }
            for waiter in s.wait.waiters() {
                if let Waiter::Epoll(ep, fd) = waiter {
                    let e = self.epolls.get(ep.0 as usize).and_then(Option::as_ref);
                    ensure!(
                        e.is_some_and(|e| e.interest.contains_key(&(fd, crate::epoll::Watched::Inet(id)))),
                        "socket {id:?} carries an entry for epoll {ep:?} that does not watch it"
                    );
                }
            }
        }
        for (h, host) in self.hosts.iter().enumerate() {
            let in_table = self
                .sockets
                .iter()
                .filter(|(_, s)| s.host.0 as usize == h && s.in_ehash())
                .count();
            ensure!(
                host.tcp.established.len() == in_table,
                "host {} has {} established-table entries but {in_table} sockets in it",
                host.name,
                host.tcp.established.len()
            );
        }
        for (i, e) in self.epolls.iter().enumerate() {
            let Some(e) = e else { continue };
            let held = epoll_refs.get(&(i as u32)).copied().unwrap_or(0);
            ensure!(
                e.refs == held,
                "epoll {i} counts {} references but {held} descriptors hold it",
                e.refs
            );
            for &(fd, sock) in e.interest.keys() {
                let entry = Waiter::Epoll(crate::epoll::EpollId(i as u32), fd);
                let queued = match sock {
                    crate::epoll::Watched::Inet(s) => self.sockets.try_get(s).is_some_and(|s| s.wait.contains(entry)),
                    crate::epoll::Watched::Unix(u) => self.unix.try_get(u).is_some_and(|s| s.wait.contains(entry)),
                    crate::epoll::Watched::Epoll(inner) => self
                        .epolls
                        .get(inner.0 as usize)
                        .and_then(Option::as_ref)
                        .is_some_and(|inner| inner.poll_wait.contains(entry)),
                };
                ensure!(
                    queued,
                    "epoll {i} watches socket {sock:?} without an entry on its wait queue"
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::syscall::Syscall;
    use crate::syscalls::{AF_INET, SOCK_STREAM};
    use crate::{Next, World};
    use sim_core::Instant;

    fn world_with_socket() -> (World, crate::socket::SocketId) {
        let mut w = World::new(0);
        let h = w.add_host("h").unwrap();
        let pid = w.spawn(h, "p", Instant::ZERO);
        assert_eq!(w.next(None), Next::Run(pid));
        w.syscall(
            pid,
            &Syscall::Socket {
                domain: AF_INET,
                ty: SOCK_STREAM,
                protocol: 0,
            },
            false,
        );
        let bind = Syscall::Bind {
            fd: 3,
            addr: "127.0.0.1:80".parse::<std::net::SocketAddr>().unwrap().into(),
        };
        w.syscall(pid, &bind, false);
        let id = w.sockets.iter().next().unwrap().0;
        (w, id)
    }

    #[test]
    fn a_consistent_world_passes() {
        let (w, _) = world_with_socket();
        w.check_invariants().unwrap();
    }

    #[test]
    fn a_wrong_reference_count_is_caught() {
        let (mut w, id) = world_with_socket();
        w.sockets.get_mut(id).refs = 2;
        assert!(w.check_invariants().unwrap_err().0.contains("2 references but 1"));
    }

    #[test]
    fn a_lost_bind_bucket_entry_is_caught() {
        let (mut w, id) = world_with_socket();
        w.sockets.get_mut(id).bucket_index = 7;
        assert!(w.check_invariants().unwrap_err().0.contains("bucket"));
    }
}
