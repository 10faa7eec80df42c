//! Datagram sockets, and the message path seqpacket sockets share with them
//! (`unix_dgram_connect`, `unix_dgram_sendmsg`, `__unix_dgram_recvmsg`).

use super::namespace::validate;
use super::scm::{Message, dgram_truesize};
use super::{RCV_SHUTDOWN, Received, SysResult, UnixId, UnixState, UnixType};
use crate::epoll::{EPOLLERR, EPOLLOUT};
use crate::errno::Errno;
use crate::process::{BlockedOn, Pid};
use crate::syscall::{Cmsg, MSG_TRUNC, Payload, SockAddr, SysReturn};
use crate::syscalls::Step;
use crate::world::World;
use sim_core::Wake;
use std::rc::Rc;

impl World {
    /// `connect()` on a datagram socket (`unix_dgram_connect`): `AF_UNSPEC` dissolves the
    /// association; otherwise the address (`EINVAL`), autobind with `SO_PASSCRED`, the
    /// socket it names, and `unix_may_send` (`EPERM` if that socket is connected to a third
    /// one). Both sockets are then marked connected. Changing or dropping the peer throws away
    /// what we had received (`unix_dgram_disconnected`) and, if the old peer was connected back
    /// to us, gives it `ECONNRESET`.
    pub(crate) fn unix_dgram_connect(&mut self, pid: Pid, sock: UnixId, addr: &SockAddr) -> SysResult {
        let other = if *addr == SockAddr::Unspec {
            None
        } else {
            let target = validate(addr)?;
            let s = self.unix.get(sock);
            if s.passcred && s.name.is_none() {
                self.unix_autobind(sock)?;
            }
            let host = self.unix.get(sock).host;
            let cred = self.process(pid).cred;
            let other = self.unix_find_other(host, &cred, &target, UnixType::Dgram)?;
            if !self.unix_may_send(sock, other) {
                return Err(Errno::EPERM);
            }
            self.unix.get_mut(sock).state = UnixState::Connected;
            self.unix.get_mut(other).state = UnixState::Connected;
            self.unix.get_mut(other).holds += 1;
            Some(other)
        };
        let s = self.unix.get_mut(sock);
        let old = std::mem::replace(&mut s.peer, other);
        if let Some(old) = old {
            if other.is_none() {
                self.unix.get_mut(sock).state = UnixState::Unconnected;
            }
            if other != Some(old) {
                self.unix_dgram_disconnected(sock, old);
                let o = self.unix.get_mut(old);
                if o.peer.is_none() && !o.dead {
                    o.state = UnixState::Unconnected;
                }
            }
            self.unix_wake(sock, Wake::All, EPOLLOUT);
            self.unix_put(old);
        }
        Ok(SysReturn::Value { value: 0 })
    }

    /// `unix_may_send()`: `other` takes our datagrams unless it is connected to someone else.
    fn unix_may_send(&self, sock: UnixId, other: UnixId) -> bool {
        self.unix.get(other).peer.is_none_or(|p| p == sock)
    }

    /// `unix_dgram_disconnected()`: our queue is purged; an old peer still connected to us
    /// (and alive) gets `ECONNRESET`.
    fn unix_dgram_disconnected(&mut self, sock: UnixId, old: UnixId) {
        let s = self.unix.get_mut(sock);
        if s.rx.is_empty() {
            return;
        }
        let rx = std::mem::take(&mut s.rx);
        s.rx_bytes = 0;
        for m in rx {
            self.unix_free_message(m);
        }
        self.unix_wake_peer(sock, Wake::All);
        let o = self.unix.get_mut(old);
        if !o.dead && o.peer == Some(sock) {
            o.error = Some(Errno::ECONNRESET);
            self.unix_wake(old, Wake::All, EPOLLERR);
        }
    }

    /// `unix_dgram_sendmsg()` (datagram and seqpacket), in Linux's order: control data
    /// (`EBADF`, `EINVAL`); the destination's form (`EINVAL`); autobind with `SO_PASSCRED`;
    /// `EMSGSIZE` past the send buffer (212992 bytes less 32); the send buffer itself (its
    /// messages still queued, by true size: `EAGAIN` or wait); the receiver — the named one
    /// (`unix_find_other`'s errors) or the peer (`ENOTCONN`); `EPERM` if it is connected to
    /// someone else; a dead peer: `EPIPE` for seqpacket, `ECONNREFUSED` and disconnection for
    /// datagram; `EPIPE` if it is shut for reading; a full receive queue (more than
    /// `net.unix.max_dgram_qlen`, unless the receiver is connected back to us) waits or is
    /// `EAGAIN`.
    pub(crate) fn unix_dgram_sendmsg(
        &mut self,
        pid: Pid,
        sock: UnixId,
        data: &Payload,
        addr: Option<&SockAddr>,
        control: &[Cmsg],
    ) -> Step {
        let scm = match self.scm_send(pid, control) {
            Ok(scm) => scm,
            Err(e) => return Step::Done(Err(e)),
        };
        match self.unix_dgram_target(pid, sock, data.len() as u64, addr) {
            Ok(other) => {
                let bytes: Rc<[u8]> = match data {
                    Payload::Bytes(b) => b.clone(),
                    Payload::Zeros(n) => vec![0u8; *n].into(),
                };
                let o = self.unix.get(other);
                let creds = scm.creds.or_else(|| {
                    // unix_maybe_add_creds(): either side asked, or the receiver has no file.
                    (self.unix.get(sock).passcred || o.passcred || o.refs == 0).then(|| self.current_ucred(pid))
                });
                self.unix_queue(
                    other,
                    Message {
                        truesize: dgram_truesize(bytes.len() as u64),
                        data: bytes,
                        consumed: 0,
                        sender: sock,
                        rights: scm.rights,
                        creds,
                    },
                );
                Step::Done(Ok(SysReturn::Value {
                    value: data.len() as i64,
                }))
            }
            Err(step) => {
                // The call fails or will be made again: the descriptors stay home.
                self.scm_destroy(scm);
                step
            }
        }
    }

    /// Everything `unix_dgram_sendmsg` checks before queueing: the receiver, or how the call
    /// ends without sending.
    fn unix_dgram_target(&mut self, pid: Pid, sock: UnixId, len: u64, addr: Option<&SockAddr>) -> Result<UnixId, Step> {
        let fail = |e| Step::Done(Err(e));
        let target = match addr {
            Some(a) => Some(validate(a).map_err(fail)?),
            None => None,
        };
        let s = self.unix.get(sock);
        if s.passcred && s.name.is_none() {
            self.unix_autobind(sock).map_err(fail)?;
        }
        let sndbuf = self.unix.get(sock).sndbuf;
        if len > sndbuf - 32 {
            return Err(fail(Errno::EMSGSIZE));
        }
        // sock_alloc_send_pskb(): room while what we have queued is below the send buffer.
        if self.unix.get(sock).wmem >= sndbuf {
            return Err(self.unix_block(sock));
        }
        let s = self.unix.get(sock);
        let (host, ty, nonblocking) = (s.host, s.ty, s.nonblocking);
        let other = match &target {
            Some(t) => {
                let cred = self.process(pid).cred;
                self.unix_find_other(host, &cred, t, ty).map_err(fail)?
            }
            None => self.unix.get(sock).peer.ok_or(fail(Errno::ENOTCONN))?,
        };
        if !self.unix_may_send(sock, other) {
            return Err(fail(Errno::EPERM));
        }
        let o = self.unix.get(other);
        if o.dead {
            if ty == UnixType::SeqPacket {
                return Err(fail(Errno::EPIPE));
            }
            if self.unix.get(sock).peer == Some(other) {
                let s = self.unix.get_mut(sock);
                s.peer = None;
                s.state = UnixState::Unconnected;
                self.unix_dgram_disconnected(sock, other);
                self.unix_put(other);
                return Err(fail(Errno::ECONNREFUSED));
            }
            return Err(fail(Errno::ECONNRESET));
        }
        if o.shutdown & RCV_SHUTDOWN != 0 {
            return Err(fail(Errno::EPIPE));
        }
        // unix_recvq_full_lockless(): more than sk_max_ack_backlog queued, unless the receiver
        // is connected back to us (then only our send buffer limits us).
        if other != sock && o.peer != Some(sock) && o.rx.len() > o.max_ack_backlog as usize {
            if nonblocking {
                return Err(fail(Errno::EAGAIN));
            }
            // unix_wait_for_peer(): an exclusive wait on the receiver's peer_wait.
            return Err(Step::Block(BlockedOn::UnixPeer(other), true));
        }
        Ok(other)
    }

    /// `__unix_dgram_recvmsg()`: a pending error comes first (even before queued messages);
    /// then the oldest message, cut to `len` (`MSG_TRUNC`; the rest is lost); with none: EOF
    /// when shut for reading (for a non-blocking datagram socket `EAGAIN`), else `EAGAIN` or
    /// wait. Taking a message lets one blocked sender try again. The sender's address is read
    /// now, not when it sent.
    pub(crate) fn unix_dgram_recv(&mut self, sock: UnixId, len: usize) -> Result<Received, Step> {
        let s = self.unix.get_mut(sock);
        if let Some(e) = s.error.take() {
            return Err(Step::Done(Err(e)));
        }
        let passcred = s.passcred;
        let Some(m) = s.rx.pop_front() else {
            let shut = s.shutdown & RCV_SHUTDOWN != 0;
            let seqpacket = s.ty == UnixType::SeqPacket;
            if shut && (!s.nonblocking || seqpacket) {
                return Ok(Received {
                    data: Vec::new(),
                    from: crate::syscall::UnixAddr::Unnamed,
                    rights: Vec::new(),
                    creds: None,
                    passcred,
                    flags: 0,
                });
            }
            return Err(self.unix_block(sock));
        };
        let was_full = s.rx.len() >= s.max_ack_backlog as usize;
        s.rx_bytes -= m.remaining();
        self.unix_wake_peer(sock, Wake::One);
        if was_full {
            self.unix_relay_writable(sock);
        }
        let mut m = m;
        let take = len.min(m.data.len());
        let data = m.data[..take].to_vec();
        let flags = if take < m.data.len() { MSG_TRUNC } else { 0 };
        let from = self.unix.get(m.sender).addr();
        let rights = std::mem::take(&mut m.rights);
        self.unix_inflight(&rights, false);
        let creds = m.creds;
        self.unix_free_message(m);
        Ok(Received {
            data,
            from,
            rights,
            creds,
            passcred,
            flags,
        })
    }

    /// `recv(..., MSG_PEEK)` on a datagram or seqpacket socket (`__skb_try_recv_datagram`
    /// with `MSG_PEEK`): the first message, cut to `len` (`MSG_TRUNC`), left in the queue;
    /// with nothing queued, as `recv`. Descriptors are not passed.
    pub(crate) fn unix_dgram_peek(&mut self, sock: UnixId, len: usize) -> Result<Received, Step> {
        let s = self.unix.get(sock);
        if s.error.is_some() || s.rx.is_empty() {
            return self.unix_dgram_recv(sock, len);
        }
        let m = s.rx.front().expect("a message");
        let take = len.min(m.data.len());
        Ok(Received {
            data: m.data[..take].to_vec(),
            from: self.unix.get(m.sender).addr(),
            rights: Vec::new(),
            creds: m.creds,
            passcred: s.passcred,
            flags: if take < m.data.len() { MSG_TRUNC } else { 0 },
        })
    }
}
