//! Connection-oriented Unix sockets: `listen`, `connect`, `accept` for stream and seqpacket
//! sockets, and the byte stream's `send`/`recv` (`unix_listen`, `unix_stream_connect`,
//! `unix_accept`, `unix_stream_sendmsg`, `unix_stream_read_generic`).

use super::namespace::validate;
use super::scm::{Message, ScmSend, stream_chunks};
use super::{RCV_SHUTDOWN, Received, SEND_SHUTDOWN, SysResult, UnixId, UnixSocket, UnixState, UnixType};
use crate::errno::Errno;
use crate::process::{BlockedOn, Desc, Pid};
use crate::syscall::{Cmsg, Payload, SockAddr, SysReturn, UnixAddr};
use crate::syscalls::Step;
use crate::world::World;
use sim_core::Wake;
use std::rc::Rc;

impl World {
    /// `listen()` (`__sys_listen`, `unix_listen`): datagram sockets cannot (`EOPNOTSUPP`), an
    /// unbound socket cannot (`EINVAL`: no autobind here), nor a connected one (`EINVAL`).
    /// The backlog is capped at `net.core.somaxconn` (a negative one means the cap). Listening
    /// again only changes the backlog; a bigger one lets waiting connectors retry. The
    /// listener's credentials become what its clients see as `SO_PEERCRED`.
    pub(crate) fn unix_listen(&mut self, pid: Pid, sock: UnixId, backlog: i32) -> SysResult {
        let somaxconn = self.hosts[self.unix.get(sock).host.0 as usize].sysctl.somaxconn;
        let backlog = if backlog < 0 || backlog as u32 > somaxconn {
            somaxconn
        } else {
            backlog as u32
        };
        let cred = self.current_ucred(pid);
        let s = self.unix.get_mut(sock);
        if s.ty == UnixType::Dgram {
            return Err(Errno::EOPNOTSUPP);
        }
        if s.name.is_none() {
            return Err(Errno::EINVAL);
        }
        if !matches!(s.state, UnixState::Unconnected | UnixState::Listening) {
            return Err(Errno::EINVAL);
        }
        let grew = backlog > s.max_ack_backlog;
        s.max_ack_backlog = backlog;
        s.state = UnixState::Listening;
        s.peercred = Some(cred);
        if grew {
            self.unix_wake_peer(sock, Wake::All);
        }
        Ok(SysReturn::Value { value: 0 })
    }

    /// `connect()` on a stream or seqpacket socket (`unix_stream_connect`), in Linux's order:
    /// the address (`EINVAL`); autobind with `SO_PASSCRED`; the socket the address names
    /// (`unix_find_other`); it must listen and not be shut for reading (`ECONNREFUSED`); a
    /// full backlog (more than `backlog` pending) waits, or is `EAGAIN` when non-blocking;
    /// only then is our own state checked (`EISCONN`, `EINVAL` for a listener). The
    /// connection is complete at once: we are connected to a new socket waiting in the
    /// listener's accept queue.
    pub(crate) fn unix_stream_connect(&mut self, pid: Pid, sock: UnixId, addr: &SockAddr) -> Step {
        match self.unix_stream_connect_inner(pid, sock, addr) {
            Ok(step) => step,
            Err(e) => Step::Done(Err(e)),
        }
    }

    fn unix_stream_connect_inner(&mut self, pid: Pid, sock: UnixId, addr: &SockAddr) -> Result<Step, Errno> {
        let target = validate(addr)?;
        let s = self.unix.get(sock);
        if s.passcred && s.name.is_none() {
            self.unix_autobind(sock)?;
        }
        let s = self.unix.get(sock);
        let (host, ty, nonblocking) = (s.host, s.ty, s.nonblocking);
        let cred = self.process(pid).cred;
        let other = self.unix_find_other(host, &cred, &target, ty)?;
        let o = self.unix.get(other);
        if o.state != UnixState::Listening || o.shutdown & RCV_SHUTDOWN != 0 {
            return Err(Errno::ECONNREFUSED);
        }
        // unix_recvq_full_lockless(): the queue is full when it holds more than the backlog.
        if o.accept_queue.len() > o.max_ack_backlog as usize {
            if nonblocking {
                return Err(Errno::EAGAIN);
            }
            // unix_wait_for_peer(): an exclusive wait on the listener's peer_wait.
            return Ok(Step::Block(BlockedOn::UnixPeer(other), true));
        }
        match self.unix.get(sock).state {
            UnixState::Unconnected => {}
            UnixState::Connected => return Err(Errno::EISCONN),
            UnixState::Listening => return Err(Errno::EINVAL),
        }
        // The embryo: connected to us, with our credentials and the listener's address and
        // SO_PASSCRED (`sk_scm_recv_flags`); it has no file until accept().
        let (listen_name, listen_passcred, listen_cred) = {
            let o = self.unix.get(other);
            (o.name.clone(), o.passcred, o.peercred)
        };
        let qlen = self.hosts[host.0 as usize].sysctl.unix_max_dgram_qlen;
        let mut embryo = UnixSocket::new(host, ty, qlen);
        embryo.state = UnixState::Connected;
        embryo.peer = Some(sock);
        embryo.peercred = Some(self.current_ucred(pid));
        embryo.listener = Some(other);
        embryo.name = listen_name;
        embryo.passcred = listen_passcred;
        embryo.holds = 1; // our peer pointer
        let embryo = self.unix.insert(embryo);
        let s = self.unix.get_mut(sock);
        s.state = UnixState::Connected;
        s.peer = Some(embryo);
        s.peercred = listen_cred;
        self.unix.get_mut(sock).holds += 1; // the embryo's peer pointer
        self.unix.get_mut(other).accept_queue.push_back(embryo);
        self.unix_wake(other, Wake::One, crate::epoll::EPOLLIN);
        Ok(Step::Done(Ok(SysReturn::Value { value: 0 })))
    }

    /// `accept()` (`unix_accept`): a descriptor first (`EMFILE`), then datagram sockets
    /// cannot (`EOPNOTSUPP`), a socket that does not listen cannot (`EINVAL`); the oldest
    /// pending connection gets a file, or we wait (exclusively: one accept wakes per
    /// connection), or `EAGAIN`. A listener shut for reading wakes its acceptors with
    /// `EINVAL` (`skb_recv_datagram` returns nothing and no error).
    pub(crate) fn unix_accept(&mut self, pid: Pid, sock: UnixId) -> Step {
        if let Err(e) = self.fd_available(pid) {
            return Step::Done(Err(e));
        }
        let s = self.unix.get_mut(sock);
        if s.ty == UnixType::Dgram {
            return Step::Done(Err(Errno::EOPNOTSUPP));
        }
        if s.state != UnixState::Listening {
            return Step::Done(Err(Errno::EINVAL));
        }
        if let Some(e) = s.error.take() {
            return Step::Done(Err(e));
        }
        let Some(child) = s.accept_queue.pop_front() else {
            if s.nonblocking {
                return Step::Done(Err(Errno::EAGAIN));
            }
            if s.shutdown & RCV_SHUTDOWN != 0 {
                return Step::Done(Err(Errno::EINVAL));
            }
            return Step::Block(BlockedOn::Unix(sock), true);
        };
        // A connector waiting for backlog room may try again.
        self.unix_wake_peer(sock, Wake::One);
        let ino = self.unix.next_ino();
        let c = self.unix.get_mut(child);
        c.listener = None;
        c.refs = 1;
        c.ino = ino;
        let peer = c.peer.map_or(UnixAddr::Unnamed, |p| self.unix.get(p).addr());
        let fd = self.process_mut(pid).fds.install(Desc::Unix(child));
        Step::Done(Ok(SysReturn::Accepted {
            fd,
            peer: SockAddr::Unix(peer),
        }))
    }

    /// `send()` on a stream socket (`unix_stream_sendmsg`): control data first (`EBADF`,
    /// `EINVAL`); a destination is `EISCONN` when connected, else `EOPNOTSUPP`; no peer is
    /// `ENOTCONN`; our side shut, or a peer that is gone or shut for reading, is `EPIPE`
    /// (SIGPIPE is not simulated). The bytes are queued in buffers cut as Linux cuts them;
    /// descriptors ride in the first. Zero bytes send nothing, descriptors included.
    ///
    /// Each buffer is charged to our send buffer until it is read, and a new one is made only
    /// while less than `sk_sndbuf` is charged (`sock_alloc_send_pskb`), so the last may
    /// overshoot. When there is no room, a non-blocking send returns what it queued, or
    /// `EAGAIN` if nothing; a blocking one waits for room (`sock_wait_for_wmem`) and goes on
    /// where it stopped, returning only when everything is queued. An error found after
    /// some bytes went is not reported: the call returns the count (`return sent ? : err`).
    pub(crate) fn unix_stream_sendmsg(
        &mut self,
        pid: Pid,
        sock: UnixId,
        data: &Payload,
        addr: Option<&SockAddr>,
        control: &[Cmsg],
        resumed: bool,
    ) -> Step {
        // What this call queued before it waited (nothing for a fresh call).
        let progress = self.unix.get_mut(sock).send_progress.remove(&pid);
        let already = if resumed { progress.unwrap_or(0) } else { 0 };
        // The control data went with the first buffer already.
        let scm = if already > 0 {
            Ok(ScmSend::default())
        } else {
            self.scm_send(pid, control)
        };
        let scm = match scm {
            Ok(scm) => scm,
            Err(e) => return Step::Done(Err(e)),
        };
        let s = self.unix.get(sock);
        let check = if addr.is_some() {
            Err(if s.state == UnixState::Connected {
                Errno::EISCONN
            } else {
                Errno::EOPNOTSUPP
            })
        } else {
            match s.peer {
                None => Err(Errno::ENOTCONN),
                Some(_) if s.shutdown & SEND_SHUTDOWN != 0 => Err(Errno::EPIPE),
                Some(other) => {
                    let o = self.unix.get(other);
                    if o.dead || o.shutdown & RCV_SHUTDOWN != 0 {
                        Err(Errno::EPIPE)
                    } else {
                        Ok(other)
                    }
                }
            }
        };
        let other = match check {
            Ok(other) => other,
            Err(_) if already > 0 => {
                self.scm_destroy(scm);
                return Step::Done(Ok(SysReturn::Value { value: already as i64 }));
            }
            Err(e) => {
                self.scm_destroy(scm);
                return Step::Done(Err(e));
            }
        };
        let bytes: Rc<[u8]> = match data {
            Payload::Bytes(b) => b.clone(),
            Payload::Zeros(n) => vec![0u8; *n].into(),
        };
        let (passcred_me, passcred_other) = (self.unix.get(sock).passcred, self.unix.get(other).passcred);
        let o = self.unix.get(other);
        let no_file = o.refs == 0;
        let asked = control.iter().any(|c| matches!(c, Cmsg::Credentials));
        let creds = scm.creds.or_else(|| {
            // unix_maybe_add_creds(): either side asked, or the receiver has no file yet; a
            // call that resumes still sends the credentials it was given (its own).
            (passcred_me || passcred_other || no_file || (asked && already > 0)).then(|| self.current_ucred(pid))
        });
        let mut rights = scm.rights;
        let total = bytes.len() as u64;
        let mut sent = already;
        let sndbuf = self.unix.get(sock).sndbuf;
        for (size, truesize) in stream_chunks(total - already, sndbuf) {
            // sock_alloc_send_pskb(): a new buffer only while less than sk_sndbuf is charged.
            if self.unix.get(sock).wmem >= sndbuf {
                break;
            }
            let (from, to) = (sent as usize, (sent + size) as usize);
            let chunk: Rc<[u8]> = if from == 0 && to == bytes.len() {
                bytes.clone()
            } else {
                bytes[from..to].into()
            };
            self.unix_queue(
                other,
                Message {
                    data: chunk,
                    consumed: 0,
                    sender: sock,
                    truesize,
                    rights: std::mem::take(&mut rights),
                    creds,
                },
            );
            sent += size;
        }
        // Descriptors that did not leave (zero bytes, or no room for the first buffer) stay
        // home.
        for d in rights {
            self.release_desc(d);
        }
        if sent == total {
            return Step::Done(Ok(SysReturn::Value { value: total as i64 }));
        }
        if self.unix.get(sock).nonblocking {
            return Step::Done(if sent > 0 {
                Ok(SysReturn::Value { value: sent as i64 })
            } else {
                Err(Errno::EAGAIN)
            });
        }
        // sock_wait_for_wmem(): sleep on our own queue until unix_write_space() (or anything
        // else that wakes it) lets us try again.
        if sent > 0 {
            self.unix.get_mut(sock).send_progress.insert(pid, sent);
        }
        Step::Block(BlockedOn::Unix(sock), false)
    }

    /// `recv()` on a stream socket (`unix_stream_read_generic`): only when connected
    /// (`EINVAL`). Reads across buffers until `len` bytes, stopping after one that carried
    /// descriptors and, with `SO_PASSCRED`, before one from another writer. With nothing to
    /// read: a pending error (`ECONNRESET` from a peer that closed with unread data), then EOF
    /// if shut for reading, then `EAGAIN` or wait.
    pub(crate) fn unix_stream_recv(&mut self, sock: UnixId, len: usize) -> Result<Received, Step> {
        let s = self.unix.get(sock);
        if s.state != UnixState::Connected {
            return Err(Step::Done(Err(Errno::EINVAL)));
        }
        let passcred = s.passcred;
        let mut data = Vec::new();
        let mut rights = Vec::new();
        let mut creds: Option<Option<crate::syscall::Ucred>> = None;
        let mut from = UnixAddr::Unnamed;
        while data.len() < len {
            let s = self.unix.get_mut(sock);
            let Some(front) = s.rx.front_mut() else {
                if !data.is_empty() {
                    break;
                }
                if let Some(e) = s.error.take() {
                    return Err(Step::Done(Err(e)));
                }
                if s.shutdown & RCV_SHUTDOWN != 0 {
                    break;
                }
                return Err(self.unix_block(sock));
            };
            if passcred {
                match creds {
                    // Never glue messages from different writers.
                    Some(c) if c != front.creds => break,
                    Some(_) => {}
                    None => creds = Some(front.creds),
                }
            }
            let sender = front.sender;
            let chunk = front.remaining().min(len - data.len());
            data.extend_from_slice(&front.data[front.consumed..front.consumed + chunk]);
            front.consumed += chunk;
            let carried = !front.rights.is_empty();
            if carried {
                rights = std::mem::take(&mut front.rights);
            }
            let left = front.remaining();
            s.rx_bytes -= chunk;
            if data.len() == chunk {
                from = self.unix.get(sender).addr();
            }
            if carried {
                self.unix_inflight(&rights, false);
            }
            if left > 0 {
                break;
            }
            let m = self.unix.get_mut(sock).rx.pop_front().expect("the front message");
            self.unix_free_message(m);
            if carried {
                break;
            }
        }
        Ok(Received {
            data,
            from,
            rights,
            creds: creds.flatten(),
            passcred,
            flags: 0,
        })
    }

    /// `recv(..., MSG_PEEK)` on a stream socket (`unix_stream_read_generic` with `MSG_PEEK`):
    /// what `recv` would return, read across buffers the same way (stopping after one that
    /// carries descriptors, and between writers with `SO_PASSCRED`), with nothing taken from
    /// the queue. Descriptors are not passed (`recv` has no room for them).
    pub(crate) fn unix_stream_peek(&mut self, sock: UnixId, len: usize) -> Result<Received, Step> {
        let s = self.unix.get(sock);
        if s.state != UnixState::Connected {
            return Err(Step::Done(Err(Errno::EINVAL)));
        }
        let passcred = s.passcred;
        if s.rx.is_empty() {
            let s = self.unix.get_mut(sock);
            if let Some(e) = s.error.take() {
                return Err(Step::Done(Err(e)));
            }
            if s.shutdown & RCV_SHUTDOWN == 0 {
                return Err(self.unix_block(sock));
            }
        }
        let s = self.unix.get(sock);
        let mut data = Vec::new();
        let mut creds: Option<Option<crate::syscall::Ucred>> = None;
        let mut from = UnixAddr::Unnamed;
        for m in &s.rx {
            if data.len() >= len {
                break;
            }
            if passcred {
                match creds {
                    Some(c) if c != m.creds => break,
                    Some(_) => {}
                    None => creds = Some(m.creds),
                }
            }
            if data.is_empty() {
                from = self.unix.get(m.sender).addr();
            }
            let chunk = m.remaining().min(len - data.len());
            data.extend_from_slice(&m.data[m.consumed..m.consumed + chunk]);
            if !m.rights.is_empty() {
                break;
            }
        }
        Ok(Received {
            data,
            from,
            rights: Vec::new(),
            creds: creds.flatten(),
            passcred,
            flags: 0,
        })
    }
}
