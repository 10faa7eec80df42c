//! The socket object: one TCP endpoint (listening, connecting, connected or closing).
//!
//! Sockets live in the world's slab and are addressed by [`SocketId`]. A socket's hot state is
//! a few cache lines: addresses, TCP sequence state, a receive buffer that allocates only
//! when data arrives, and a wait queue. Listener-only state is boxed, so connected sockets
//! (the ten million) do not pay for it.

use crate::addr::Family;
use crate::epoll::Waiter;
use crate::errno::Errno;
use crate::host::HostId;
use sim_core::{Instant, WaitQueue};
use std::collections::VecDeque;
use std::net::SocketAddr;

/// `sk_sndbuf` of a new TCP socket: `net.ipv4.tcp_wmem[1]` (16384). socksim does not
/// autotune buffers.
pub const SNDBUF_DEFAULT: u32 = 16384;
/// The initial retransmission timeout in microseconds, `TCP_TIMEOUT_INIT` (1 s, RFC 6298 §2.1).
pub const RTO_INIT_US: u32 = 1_000_000;

/// `sk_rcvbuf` of a new TCP socket: `net.ipv4.tcp_rmem[1]` (131072).
pub const RCVBUF_DEFAULT: u32 = 131072;

/// Index of a socket in the world's slab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId(pub u32);

/// A FIFO of bytes that costs one pointer until it first holds data: most of a big
/// simulation's connections never carry any, and a socket's size is multiplied by millions.
#[derive(Debug, Default)]
#[allow(clippy::box_collection)] // deliberate: 8 bytes inline instead of 32
pub struct ByteQueue(Option<Box<VecDeque<u8>>>);

impl ByteQueue {
    /// Bytes held.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |q| q.len())
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends bytes.
    pub fn extend(&mut self, bytes: impl IntoIterator<Item = u8>) {
        self.0.get_or_insert_default().extend(bytes);
    }

    /// Removes and returns the first `n` bytes (fewer if fewer are held).
    pub fn take_front(&mut self, n: usize) -> Vec<u8> {
        match self.0.as_mut() {
            Some(q) => q.drain(..n.min(q.len())).collect(),
            None => Vec::new(),
        }
    }

    /// A copy of the first `n` bytes (fewer if fewer are held), which stay queued.
    pub fn peek_front(&self, n: usize) -> Vec<u8> {
        match self.0.as_ref() {
            Some(q) => q.iter().take(n).copied().collect(),
            None => Vec::new(),
        }
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.0 = None;
    }
}

/// The transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    /// `SOCK_STREAM` / `IPPROTO_TCP`.
    Tcp,
    /// `SOCK_DGRAM` / `IPPROTO_UDP`.
    Udp,
}

/// A datagram waiting to be read.
#[derive(Clone, Debug)]
pub struct Queued {
    /// Who sent it.
    pub from: std::net::SocketAddr,
    /// Its bytes.
    pub data: std::rc::Rc<[u8]>,
}

/// UDP-only state, boxed so TCP sockets do not pay for it.
#[derive(Debug, Default)]
pub struct UdpState {
    /// Received datagrams, oldest first (`sk_receive_queue`).
    pub queue: VecDeque<Queued>,
    /// Their payload bytes (what `ss` shows as Recv-Q).
    pub queued_bytes: usize,
}

/// TCP states (RFC 9293 §3.3.2; `include/net/tcp_states.h`). UDP sockets use `Closed`
/// (unconnected) and `Established` (connected), as Linux does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TcpState {
    /// No connection (fresh, or finished while a descriptor still refers to it).
    Closed,
    /// Accepting connections.
    Listen,
    /// SYN sent, waiting for SYN-ACK.
    SynSent,
    /// SYN received, SYN-ACK sent (a listener's embryonic child).
    SynRecv,
    /// Connected.
    Established,
    /// We sent FIN; it is not yet acknowledged.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's.
    FinWait2,
    /// The peer sent FIN; we have not closed yet.
    CloseWait,
    /// Both sent FIN at once; waiting for the ACK of ours.
    Closing,
    /// We closed after the peer; waiting for the ACK of our FIN.
    LastAck,
    /// The active closer's 60-second wait.
    TimeWait,
}

impl TcpState {
    /// The name `ss` prints (`ss` source: `sstate_name`).
    pub fn ss_name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSE",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynRecv => "SYN-RECV",
            TcpState::Established => "ESTAB",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST-ACK",
            TcpState::TimeWait => "TIME-WAIT",
        }
    }

    /// Whether the handshake is over and the connection not yet closed (ESTABLISHED through
    /// TIME_WAIT): the states in which data, FIN and their retransmissions flow.
    pub fn is_synchronized(self) -> bool {
        !matches!(
            self,
            TcpState::Closed | TcpState::Listen | TcpState::SynSent | TcpState::SynRecv
        )
    }

    /// Whether the connection is synchronised and not yet closed by us for sending
    /// (`send()` is allowed: ESTABLISHED and CLOSE_WAIT, `tcp_sendmsg_locked`).
    pub fn can_send(self) -> bool {
        matches!(self, TcpState::Established | TcpState::CloseWait)
    }
}

/// Listener-only state.
#[derive(Debug, Default)]
pub struct ListenState {
    /// `sk_max_ack_backlog`: the backlog after clamping to `somaxconn`.
    pub max_backlog: u32,
    /// Established children waiting for `accept()`, oldest first.
    pub accept_queue: VecDeque<SocketId>,
    /// Children still in SYN_RECV (the request queue's length).
    pub syn_recv: u32,
}

/// Which timer a timer event is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    /// The end of TIME_WAIT.
    TimeWait,
    /// Retransmit the SYN (`tcp_retransmit_timer` in SYN_SENT).
    SynRetransmit,
    /// Retransmit a SYN_RECV child's SYN-ACK (`reqsk_timer_handler`).
    SynAckRetransmit,
    /// An orphaned FIN_WAIT2 gives up waiting for the peer's FIN (`tcp_fin_timeout`).
    FinWait2,
    /// Retransmit the oldest unacknowledged data or FIN (`tcp_retransmit_timer`,
    /// `ICSK_TIME_RETRANS`).
    Retransmit,
    /// Probe a zero window (`tcp_probe_timer`, `ICSK_TIME_PROBE0`).
    ZeroWindowProbe,
}

/// The send side's retransmission state, present while anything sent is unacknowledged
/// (boxed: an idle connection does not pay for it).
#[derive(Debug, Default)]
pub struct Retransmit {
    /// Payload bytes sent and not yet acknowledged, from `snd_una` on (the retransmission
    /// queue, `tcp_rtx_queue`). A FIN, if sent, follows them in sequence space.
    pub unacked: VecDeque<u8>,
    /// Timeouts since the acknowledgements last made progress (`icsk_retransmits`).
    pub retransmits: u8,
    /// When the oldest unacknowledged segment was sent, once it has been retransmitted
    /// (`retrans_stamp`): the clock of `tcp_retries2`.
    pub stamp: Option<Instant>,
    /// When the oldest unacknowledged segment was sent (approximated, after a partial
    /// acknowledgement, by the time of that acknowledgement).
    pub head_sent: Instant,
    /// After a timeout, the `snd_nxt` of that moment (`high_seq`): until it is acknowledged,
    /// each acknowledgement that makes progress retransmits the next segment (go-back-N).
    pub recover: Option<u32>,
}

/// A segment received ahead of `rcv_nxt`, kept until the gap fills (`tcp_data_queue_ofo`).
#[derive(Debug)]
pub struct OfoSegment {
    /// Its sequence number.
    pub seq: u32,
    /// Its payload.
    pub payload: std::rc::Rc<[u8]>,
    /// It carries a FIN.
    pub fin: bool,
}

/// The out-of-order queue (`tp->out_of_order_queue`), boxed: most connections never need it.
#[derive(Debug, Default)]
pub struct OfoQueue {
    /// Segments in arrival order (searched by sequence number when the gap fills).
    pub segments: Vec<OfoSegment>,
}

/// A socket's boolean state packed into one word: a socket's size is multiplied by millions,
/// and sixteen `bool`s would take sixteen bytes. Read and written through [`Socket`]'s
/// accessors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SocketFlags(u16);

impl SocketFlags {
    const V6ONLY: u16 = 1 << 0;
    const REUSEADDR: u16 = 1 << 1;
    const NONBLOCKING: u16 = 1 << 2;
    const REUSEPORT: u16 = 1 << 3;
    const CONNECTING: u16 = 1 << 4;
    const SS_CONNECTED: u16 = 1 << 5;
    const ADDR_LOCKED: u16 = 1 << 6;
    const USER_BOUND: u16 = 1 << 7;
    const IN_BIND_TABLE: u16 = 1 << 8;
    const IN_EHASH: u16 = 1 << 9;
    const SHUT_WR: u16 = 1 << 10;
    const SHUT_RD: u16 = 1 << 11;
    const FIN_SENT: u16 = 1 << 12;
    const BIND_NO_PORT: u16 = 1 << 13;
    const RX_FIN: u16 = 1 << 14;
    const RTT_TIMING: u16 = 1 << 15;
    /// Whether `bit` is set.
    #[inline]
    fn get(self, bit: u16) -> bool {
        self.0 & bit != 0
    }

    /// Sets or clears `bit`.
    #[inline]
    fn set(&mut self, bit: u16, on: bool) {
        if on {
            self.0 |= bit;
        } else {
            self.0 &= !bit;
        }
    }
}

/// One TCP socket.
#[derive(Debug)]
pub struct Socket {
    /// The boolean state, packed (see the accessors such as [`Socket::nonblocking`]).
    flags: SocketFlags,
    /// The host (network namespace) it belongs to.
    pub host: HostId,
    /// `AF_INET` or `AF_INET6`.
    pub family: Family,
    /// TCP or UDP.
    pub proto: Proto,
    /// UDP's receive queue (UDP sockets only).
    pub udp: Option<Box<UdpState>>,
    /// TCP state.
    pub state: TcpState,
    /// Local address and port (`0.0.0.0:0` until bound).
    pub local: SocketAddr,
    /// Peer address and port (`0.0.0.0:0` until connected).
    pub remote: SocketAddr,
    /// The owner's user id (`sk_uid`: the creator's; accepted sockets take the listener's).
    pub uid: u32,
    /// Its position in its bind bucket's owner list (for O(1) removal).
    pub bucket_index: u32,
    /// Descriptors (in any process) that refer to it.
    pub refs: u32,
    /// The listener whose queue holds this child until `accept()` ([`Socket::parent`]), or
    /// [`NO_PARENT`]: four bytes where an `Option<SocketId>` takes eight.
    parent: u32,
    /// Listener state, if listening.
    pub listen: Option<Box<ListenState>>,
    /// Our initial sequence number.
    pub iss: u32,
    /// Next sequence number to send.
    pub snd_nxt: u32,
    /// Oldest unacknowledged sequence number.
    pub snd_una: u32,
    /// Next sequence number expected from the peer.
    pub rcv_nxt: u32,
    /// Received bytes not yet read.
    pub rx: ByteQueue,
    /// Bytes written by the application and not yet sent (the unsent part of the write queue).
    pub tx: ByteQueue,
    /// The peer's advertised receive window (bytes it can take beyond `snd_una`).
    pub snd_wnd: u32,
    /// The window we advertised last.
    pub adv_wnd: u32,
    /// `sk_sndbuf`: bytes queued (unsent + unacknowledged) may not exceed it.
    pub sndbuf: u32,
    /// `sk_rcvbuf`: half of it is offered as the receive window (`tcp_adv_win_scale = 1`).
    pub rcvbuf: u32,
    /// Bytes of the current (blocked) `send()` already queued.
    pub send_progress: usize,
    /// `SO_LINGER` in socksim's integer form: the timeout in seconds, or -1 when off.
    pub linger: i32,
    /// `IP_TTL` (`IPV6_UNICAST_HOPS`): the TTL of what the socket sends; `None` for the
    /// default, `net.ipv4.ip_default_ttl` (64).
    pub ttl: Option<u8>,
    /// The port a connection that failed or ended gave back (`inet_put_port()` clears
    /// `inet_num` but not `inet_sport`), which `getsockname()` still reports until the socket
    /// is bound again; 0 if none.
    pub stale_port: u16,
    /// A pending error reported by the next call (`sk_err`).
    pub error: Option<Errno>,
    /// When TIME_WAIT began (for `tcp_tw_reuse`'s delay).
    pub time_wait_since: Instant,
    /// SYNs retransmitted so far.
    pub syn_retries: u8,
    /// Sent, unacknowledged data and FIN (while there are any).
    pub rtx: Option<Box<Retransmit>>,
    /// Segments received out of order (while there are any).
    pub ofo: Option<Box<OfoQueue>>,
    /// Smoothed round-trip time in microseconds (`srtt_us`, without Linux's factor 8); 0 until
    /// the first sample.
    pub srtt_us: u32,
    /// Round-trip time variation in microseconds (RFC 6298's RTTVAR).
    pub rttvar_us: u32,
    /// The retransmission timeout before backoff, in microseconds (`icsk_rto`).
    pub rto_us: u32,
    /// Exponential backoff of the retransmission and probe timers (`icsk_backoff`).
    pub backoff: u8,
    /// The sequence number whose acknowledgement ends the timing.
    pub rtt_seq: u32,
    /// When the timed segment was sent.
    pub rtt_since: Instant,
    /// Which timer [`Socket::timer_generation`] refers to.
    pub timer_kind: TimerKind,
    /// The id of the socket's armed timer (0: none); timer events with another id are stale.
    pub timer_generation: u64,
    /// Tasks blocked on this socket and epoll instances watching it.
    pub wait: WaitQueue<Waiter>,
}

/// [`Socket`]'s stored `parent` when it has none; [`Sockets::insert`] never hands out this id.
const NO_PARENT: u32 = u32::MAX;

impl Socket {
    /// The listener whose queue holds this child until `accept()`.
    #[inline]
    pub fn parent(&self) -> Option<SocketId> {
        (self.parent != NO_PARENT).then_some(SocketId(self.parent))
    }

    /// Sets [`Socket::parent`].
    #[inline]
    pub fn set_parent(&mut self, parent: Option<SocketId>) {
        self.parent = parent.map_or(NO_PARENT, |p| p.0);
    }

    /// `IPV6_V6ONLY` (`AF_INET6` only; default `net.ipv6.bindv6only` = 0).
    #[inline]
    pub fn v6only(&self) -> bool {
        self.flags.get(SocketFlags::V6ONLY)
    }

    /// Sets [`Socket::v6only`].
    #[inline]
    pub fn set_v6only(&mut self, on: bool) {
        self.flags.set(SocketFlags::V6ONLY, on);
    }

    /// `SO_REUSEADDR` (`sk_reuse`).
    #[inline]
    pub fn reuseaddr(&self) -> bool {
        self.flags.get(SocketFlags::REUSEADDR)
    }

    /// Sets [`Socket::reuseaddr`].
    #[inline]
    pub fn set_reuseaddr(&mut self, on: bool) {
        self.flags.set(SocketFlags::REUSEADDR, on);
    }

    /// `O_NONBLOCK` on the open file.
    #[inline]
    pub fn nonblocking(&self) -> bool {
        self.flags.get(SocketFlags::NONBLOCKING)
    }

    /// Sets [`Socket::nonblocking`].
    #[inline]
    pub fn set_nonblocking(&mut self, on: bool) {
        self.flags.set(SocketFlags::NONBLOCKING, on);
    }

    /// `SO_REUSEPORT` (`sk_reuseport`).
    #[inline]
    pub fn reuseport(&self) -> bool {
        self.flags.get(SocketFlags::REUSEPORT)
    }

    /// Sets [`Socket::reuseport`].
    #[inline]
    pub fn set_reuseport(&mut self, on: bool) {
        self.flags.set(SocketFlags::REUSEPORT, on);
    }

    /// A connect() is under way or finished unreported (`sock->state == SS_CONNECTING`).
    #[inline]
    pub fn connecting(&self) -> bool {
        self.flags.get(SocketFlags::CONNECTING)
    }

    /// Sets [`Socket::connecting`].
    #[inline]
    pub fn set_connecting(&mut self, on: bool) {
        self.flags.set(SocketFlags::CONNECTING, on);
    }

    /// connect() succeeded once (`sock->state == SS_CONNECTED`); a reset does not clear it.
    #[inline]
    pub fn ss_connected(&self) -> bool {
        self.flags.get(SocketFlags::SS_CONNECTED)
    }

    /// Sets [`Socket::ss_connected`].
    #[inline]
    pub fn set_ss_connected(&mut self, on: bool) {
        self.flags.set(SocketFlags::SS_CONNECTED, on);
    }

    /// The local address was chosen by `bind()` (`SOCK_BINDADDR_LOCK`).
    #[inline]
    pub fn addr_locked(&self) -> bool {
        self.flags.get(SocketFlags::ADDR_LOCKED)
    }

    /// Sets [`Socket::addr_locked`].
    #[inline]
    pub fn set_addr_locked(&mut self, on: bool) {
        self.flags.set(SocketFlags::ADDR_LOCKED, on);
    }

    /// The port was chosen by the user (`bind` with a port, or `bind(0)`/listen autobind):
    /// `SOCK_BINDPORT_LOCK`, and the bucket is an explicit-bind one.
    #[inline]
    pub fn user_bound(&self) -> bool {
        self.flags.get(SocketFlags::USER_BOUND)
    }

    /// Sets [`Socket::user_bound`].
    #[inline]
    pub fn set_user_bound(&mut self, on: bool) {
        self.flags.set(SocketFlags::USER_BOUND, on);
    }

    /// The socket holds its port in the bind table.
    #[inline]
    pub fn in_bind_table(&self) -> bool {
        self.flags.get(SocketFlags::IN_BIND_TABLE)
    }

    /// Sets [`Socket::in_bind_table`].
    #[inline]
    pub fn set_in_bind_table(&mut self, on: bool) {
        self.flags.set(SocketFlags::IN_BIND_TABLE, on);
    }

    /// The socket is in the established table.
    #[inline]
    pub fn in_ehash(&self) -> bool {
        self.flags.get(SocketFlags::IN_EHASH)
    }

    /// Sets [`Socket::in_ehash`].
    #[inline]
    pub fn set_in_ehash(&mut self, on: bool) {
        self.flags.set(SocketFlags::IN_EHASH, on);
    }

    /// `shutdown(SHUT_WR)` or close sent our FIN.
    #[inline]
    pub fn shut_wr(&self) -> bool {
        self.flags.get(SocketFlags::SHUT_WR)
    }

    /// Sets [`Socket::shut_wr`].
    #[inline]
    pub fn set_shut_wr(&mut self, on: bool) {
        self.flags.set(SocketFlags::SHUT_WR, on);
    }

    /// `shutdown(SHUT_RD)` or close: no more reading.
    #[inline]
    pub fn shut_rd(&self) -> bool {
        self.flags.get(SocketFlags::SHUT_RD)
    }

    /// Sets [`Socket::shut_rd`].
    #[inline]
    pub fn set_shut_rd(&mut self, on: bool) {
        self.flags.set(SocketFlags::SHUT_RD, on);
    }

    /// Our FIN has gone out (it may have waited for queued data).
    #[inline]
    pub fn fin_sent(&self) -> bool {
        self.flags.get(SocketFlags::FIN_SENT)
    }

    /// Sets [`Socket::fin_sent`].
    #[inline]
    pub fn set_fin_sent(&mut self, on: bool) {
        self.flags.set(SocketFlags::FIN_SENT, on);
    }

    /// `IP_BIND_ADDRESS_NO_PORT`: `bind(addr, 0)` records only the address; `connect()`
    /// picks the port later, sharing it across destinations (`__inet_bind`).
    #[inline]
    pub fn bind_no_port(&self) -> bool {
        self.flags.get(SocketFlags::BIND_NO_PORT)
    }

    /// Sets [`Socket::bind_no_port`].
    #[inline]
    pub fn set_bind_no_port(&mut self, on: bool) {
        self.flags.set(SocketFlags::BIND_NO_PORT, on);
    }

    /// The peer's FIN has arrived.
    #[inline]
    pub fn rx_fin(&self) -> bool {
        self.flags.get(SocketFlags::RX_FIN)
    }

    /// Sets [`Socket::rx_fin`].
    #[inline]
    pub fn set_rx_fin(&mut self, on: bool) {
        self.flags.set(SocketFlags::RX_FIN, on);
    }

    /// A segment is being timed for a round-trip sample (RFC 6298, Karn's rule: never a
    /// retransmitted one).
    #[inline]
    pub fn rtt_timing(&self) -> bool {
        self.flags.get(SocketFlags::RTT_TIMING)
    }

    /// Sets [`Socket::rtt_timing`].
    #[inline]
    pub fn set_rtt_timing(&mut self, on: bool) {
        self.flags.set(SocketFlags::RTT_TIMING, on);
    }

    /// `SO_LINGER` with a zero timeout: close() resets the connection.
    /// (That is, [`Socket::linger`] is 0.)
    #[inline]
    pub fn linger_zero(&self) -> bool {
        self.linger == 0
    }

    /// A fresh, unbound TCP socket of `family` on `host`.
    pub fn new(host: HostId, family: Family) -> Socket {
        let any = crate::addr::unspecified(family);
        Socket {
            host,
            family,
            proto: Proto::Tcp,
            flags: SocketFlags::default(),
            udp: None,
            state: TcpState::Closed,
            local: any,
            remote: any,
            uid: 0,
            bucket_index: 0,
            refs: 0,
            parent: NO_PARENT,
            listen: None,
            iss: 0,
            snd_nxt: 0,
            snd_una: 0,
            rcv_nxt: 0,
            rx: ByteQueue::default(),
            tx: ByteQueue::default(),
            snd_wnd: 0,
            adv_wnd: 0,
            sndbuf: SNDBUF_DEFAULT,
            rcvbuf: RCVBUF_DEFAULT,
            send_progress: 0,
            linger: -1,
            ttl: None,
            stale_port: 0,
            error: None,
            time_wait_since: Instant::ZERO,
            syn_retries: 0,
            rtx: None,
            ofo: None,
            srtt_us: 0,
            rttvar_us: 0,
            rto_us: RTO_INIT_US,
            backoff: 0,
            rtt_seq: 0,
            rtt_since: Instant::ZERO,
            timer_kind: TimerKind::TimeWait,
            timer_generation: 0,
            wait: WaitQueue::default(),
        }
    }

    /// No descriptor and no accept queue holds it: the kernel finishes it alone.
    pub fn is_orphan(&self) -> bool {
        self.refs == 0 && self.parent().is_none()
    }
}

/// The slab of sockets. Freed slots are reused last-freed-first, deterministically.
#[derive(Debug, Default)]
pub struct Sockets {
    slots: Vec<Option<Socket>>,
    free: Vec<u32>,
    live: usize,
}

impl Sockets {
    /// Stores `socket`, returning its id.
    pub fn insert(&mut self, socket: Socket) -> SocketId {
        self.live += 1;
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(socket);
                SocketId(i)
            }
            None => {
                let id = u32::try_from(self.slots.len())
                    .ok()
                    .filter(|&i| i != NO_PARENT)
                    .expect("fewer than u32::MAX sockets");
                self.slots.push(Some(socket));
                SocketId(id)
            }
        }
    }

    /// The socket `id`.
    ///
    /// # Panics
    /// If `id` was freed: holding a stale id is a simulator bug, never a user error.
    pub fn get(&self, id: SocketId) -> &Socket {
        self.slots[id.0 as usize].as_ref().expect("live socket id")
    }

    /// The socket `id`, mutably (panics like [`Sockets::get`]).
    pub fn get_mut(&mut self, id: SocketId) -> &mut Socket {
        self.slots[id.0 as usize].as_mut().expect("live socket id")
    }

    /// The socket `id` if it is still alive.
    pub fn try_get(&self, id: SocketId) -> Option<&Socket> {
        self.slots.get(id.0 as usize).and_then(Option::as_ref)
    }

    /// Frees `id`, returning the socket.
    pub fn remove(&mut self, id: SocketId) -> Socket {
        let s = self.slots[id.0 as usize].take().expect("live socket id");
        self.free.push(id.0);
        self.live -= 1;
        s
    }

    /// Live sockets in id order.
    pub fn iter(&self) -> impl Iterator<Item = (SocketId, &Socket)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (SocketId(i as u32), s)))
    }

    /// Number of live sockets.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no socket is alive.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// A socket's size is multiplied by millions in a big simulation: packed flags and a
    /// four-byte `parent` keep it at 240 bytes (it was 256). Growing it should be a decision.
    #[test]
    fn socket_stays_small() {
        assert!(
            std::mem::size_of::<Socket>() <= 240,
            "{}",
            std::mem::size_of::<Socket>()
        );
        // The slab stores `Option<Socket>`: the niche keeps it free.
        assert_eq!(std::mem::size_of::<Option<Socket>>(), std::mem::size_of::<Socket>());
    }

    #[test]
    fn flags_and_parent_round_trip() {
        let mut s = Socket::new(HostId(0), Family::Inet);
        assert!(!s.nonblocking() && !s.shut_rd() && !s.shut_wr() && !s.linger_zero());
        s.set_shut_rd(true);
        s.set_nonblocking(true);
        assert!(s.shut_rd() && s.nonblocking() && !s.shut_wr() && !s.rtt_timing());
        s.set_shut_rd(false);
        assert!(!s.shut_rd() && s.nonblocking());
        s.linger = 0;
        assert!(s.linger_zero());
        assert_eq!(s.parent(), None);
        s.set_parent(Some(SocketId(7)));
        assert_eq!(s.parent(), Some(SocketId(7)));
        s.set_parent(None);
        assert_eq!(s.parent(), None);
    }
}
