//! Consistency checks for the Unix-domain structures (part of
//! [`World::check_invariants`]).

use super::vfs::InodeKind;
use super::{UnixId, UnixName, UnixState, UnixType};
use crate::invariants::Violation;
use crate::world::World;
use std::collections::BTreeMap;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(Violation(format!($($msg)+)));
        }
    };
}

impl World {
    /// Checks the Unix sockets against each other and against their hosts' name tables:
    ///
    /// * reference counts are exact: a socket's `refs` equals the descriptors that refer to
    ///   it, in live processes and in flight (`refs_seen`); its `holds` equals the peers
    ///   pointing at it plus its messages still queued; its send-buffer charge equals those
    ///   messages' true sizes, and every queue's unread-byte count its messages' bytes; a
    ///   stream send's progress is kept only while its process waits on the socket (or has
    ///   just timed out there);
    /// * every live socket is reachable: from a descriptor, a message in flight, or (a
    ///   connection not yet accepted) its listener's accept queue; released sockets are kept
    ///   only while something holds them, and hold nothing themselves;
    /// * a name belongs to at most one live socket: every abstract name and every socket file
    ///   names a live socket that says it owns that very name, and every socket that says it
    ///   owns a name is found under it;
    /// * connected stream and seqpacket sockets that are both alive point at each other.
    pub fn check_unix_invariants(&self, refs_seen: &BTreeMap<UnixId, u32>) -> Result<(), Violation> {
        let mut holds: BTreeMap<UnixId, u32> = BTreeMap::new();
        let mut wmem: BTreeMap<UnixId, u64> = BTreeMap::new();
        for (id, s) in self.unix.iter() {
            if let Some(p) = s.peer {
                *holds.entry(p).or_default() += 1;
            }
            let mut bytes = 0;
            for m in &s.rx {
                *holds.entry(m.sender).or_default() += 1;
                *wmem.entry(m.sender).or_default() += m.truesize;
                bytes += m.remaining();
                ensure!(
                    self.unix.try_get(m.sender).is_some(),
                    "a message queued on unix socket {id:?} names a freed sender {:?}",
                    m.sender
                );
            }
            ensure!(
                s.rx_bytes == bytes,
                "unix socket {id:?} counts {} unread bytes but its queue holds {bytes}",
                s.rx_bytes
            );
        }
        for (id, s) in self.unix.iter() {
            let seen = refs_seen.get(&id).copied().unwrap_or(0);
            ensure!(
                s.refs == seen,
                "unix socket {id:?} counts {} references but {seen} descriptors hold it",
                s.refs
            );
            let held = holds.get(&id).copied().unwrap_or(0);
            ensure!(
                s.holds == held,
                "unix socket {id:?} counts {} holds but {held} peers and messages hold it",
                s.holds
            );
            let charged = wmem.get(&id).copied().unwrap_or(0);
            ensure!(
                s.wmem == charged,
                "unix socket {id:?} is charged {} bytes but its queued messages take {charged}",
                s.wmem
            );
            for (&pid, &sent) in &s.send_progress {
                let p = self.process(pid);
                ensure!(
                    sent > 0 && !p.exited && (p.blocked_on == Some(crate::process::BlockedOn::Unix(id)) || p.timed_out),
                    "unix socket {id:?} keeps {sent} bytes of a send by {pid:?}, which does not wait on it"
                );
            }
            for waiter in s.wait.waiters() {
                if let crate::epoll::Waiter::Epoll(ep, fd) = waiter {
                    let e = self.epolls.get(ep.0 as usize).and_then(Option::as_ref);
                    ensure!(
                        e.is_some_and(|e| e.interest.contains_key(&(fd, crate::epoll::Watched::Unix(id)))),
                        "unix socket {id:?} carries an entry for epoll {ep:?} that does not watch it"
                    );
                }
            }
            if s.dead {
                ensure!(
                    s.refs == 0 && s.holds > 0,
                    "released unix socket {id:?} is kept with refs {} and holds {}",
                    s.refs,
                    s.holds
                );
                ensure!(
                    s.rx.is_empty() && s.accept_queue.is_empty() && s.peer.is_none() && !s.hashed,
                    "released unix socket {id:?} still holds messages, connections, a peer or a name"
                );
                continue;
            }
            if s.refs == 0 {
                let queued = s
                    .listener
                    .and_then(|l| self.unix.try_get(l))
                    .is_some_and(|l| l.accept_queue.contains(&id));
                ensure!(
                    queued,
                    "unix socket {id:?} is alive but no descriptor, message or accept queue reaches it"
                );
            } else {
                ensure!(
                    s.listener.is_none() && s.ino != 0,
                    "open unix socket {id:?} is still marked as a connection waiting for accept()"
                );
            }
            for &e in &s.accept_queue {
                let embryo = self.unix.try_get(e);
                ensure!(
                    s.state == UnixState::Listening && embryo.is_some_and(|c| c.listener == Some(id) && !c.dead),
                    "accept queue of unix socket {id:?} holds {e:?}, which is not its pending connection"
                );
            }
            if let Some(p) = s.peer
                && s.ty != UnixType::Dgram
            {
                let peer = self.unix.get(p);
                ensure!(
                    peer.dead || peer.peer == Some(id),
                    "unix socket {id:?} is connected to {p:?}, which is connected elsewhere"
                );
            }
            if s.hashed {
                let ns = &self.hosts[s.host.0 as usize].unix;
                let owned = match &s.name {
                    Some(UnixName::Path { inode, .. }) => {
                        ns.vfs.inode(*inode).kind == InodeKind::Socket { bound: Some(id) }
                    }
                    Some(UnixName::Abstract(name)) => ns.abstract_names.get(&(s.ty, name.clone())) == Some(&id),
                    None => false,
                };
                ensure!(
                    owned,
                    "unix socket {id:?} says it owns its name, but the name is not its"
                );
            }
        }
        for (h, host) in self.hosts.iter().enumerate() {
            for ((ty, name), &id) in &host.unix.abstract_names {
                let s = self.unix.try_get(id);
                ensure!(
                    s.is_some_and(|s| !s.dead
                        && s.hashed
                        && s.host.0 as usize == h
                        && s.ty == *ty
                        && s.name == Some(UnixName::Abstract(name.clone()))),
                    "abstract name {:?} on host {} names {id:?}, which does not own it",
                    String::from_utf8_lossy(name),
                    host.name
                );
            }
            for (inode, node) in host.unix.vfs.inodes() {
                if let InodeKind::Socket { bound: Some(id) } = node.kind {
                    let s = self.unix.try_get(id);
                    ensure!(
                        s.is_some_and(|s| !s.dead
                            && s.hashed
                            && matches!(&s.name, Some(UnixName::Path { inode: i, .. }) if *i == inode)),
                        "socket file {inode:?} on host {} names {id:?}, which is not bound to it",
                        host.name
                    );
                }
            }
        }
        Ok(())
    }
}
