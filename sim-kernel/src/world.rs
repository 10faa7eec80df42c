//! The world: hosts on networks, processes, sockets, and the loop that drives them.
//!
//! The world owns the virtual clock, the event queue (packets in flight, timers, process
//! starts), the scheduler, and the trace sink. [`World::next`] advances the simulation until a
//! process can run and says which; the driver (the scenario interpreter, or a test) then makes
//! that process's next system call with [`World::syscall`].

use crate::epoll::{Epoll, EpollId, Waiter};
use crate::host::{BindBucket, FourTuple, Host, HostId, Iface, TcpTables};
use crate::network::{NetId, Network};
use crate::process::{BlockedOn, Desc, FdTable, Pid, Process};
use crate::socket::{Proto, SocketId, Sockets, TimerKind};
use crate::sysctl::Sysctls;
use crate::trace::Event;
use petgraph::graph::{NodeIndex, UnGraph};
use sim_core::{Duration, EventQueue, Instant, NullSink, Scheduler, Streams, TaskId, TraceSink, Wake};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What happens at a future instant.
#[derive(Debug)]
pub(crate) enum Pending {
    /// A process starts (or wakes from `sleep`).
    Run(Pid),
    /// A packet arrives at a host (kept in [`World::in_flight`] until then).
    Deliver(crate::link::ArrivalId),
    /// A socket timer fires, if its generation still matches.
    Timer(SocketId, u64, TimerKind),
    /// Address resolution of a next hop on a network failed for a host.
    NeighFailed(HostId, NetId, IpAddr),
    /// A blocked call's deadline passes, if the process still waits with this deadline.
    Timeout(Pid, Instant),
    /// A network is partitioned (`true`) or healed (`false`).
    Partition(NetId, bool),
}

/// A node of the topology graph.
#[derive(Clone, Debug)]
pub enum Node {
    /// A host.
    Host(HostId),
    /// A network.
    Network(NetId),
}

/// What [`World::next`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// This process may make its next call.
    Run(Pid),
    /// Nothing is left to happen.
    Idle,
    /// The time limit was reached with events still pending.
    TimeLimit,
}

/// An error building the world (bad topology in a scenario).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

/// The simulated world. See the module docs.
pub struct World {
    pub(crate) now: Instant,
    pub(crate) events: EventQueue<Pending>,
    pub(crate) sched: Scheduler,
    pub(crate) streams: Streams,
    pub(crate) hosts: Vec<Host>,
    pub(crate) networks: Vec<Network>,
    pub(crate) topology: UnGraph<Node, IpAddr>,
    host_nodes: Vec<NodeIndex>,
    net_nodes: Vec<NodeIndex>,
    pub(crate) sockets: Sockets,
    pub(crate) epolls: Vec<Option<Epoll>>,
    pub(crate) processes: Vec<Process>,
    /// Unix-domain sockets (all hosts).
    pub(crate) unix: crate::unix::UnixTable,
    pub(crate) sink: Box<dyn TraceSink<Event>>,
    pub(crate) tracing: bool,
    /// The packets kept for a capture, while one runs ([`World::start_capture`]).
    pub(crate) capture: Option<Vec<crate::packet::Packet>>,
    /// Timer ids are unique across the run, so a stale timer never matches a reused slot.
    last_timer_id: u64,
    /// Packet counters.
    pub(crate) stats: crate::link::PacketStats,
    /// The packets in flight, which [`Pending::Deliver`] events name.
    pub(crate) in_flight: crate::link::InFlight,
    /// Processes declared but not yet started (announced in the trace when they start).
    not_started: std::collections::BTreeSet<Pid>,
}

impl World {
    /// An empty world whose randomness all derives from `seed`. Tracing is off until
    /// [`World::set_sink`].
    pub fn new(seed: u64) -> World {
        let streams = Streams::new(seed);
        World {
            now: Instant::ZERO,
            events: EventQueue::new(),
            sched: Scheduler::new(streams.stream("sched")),
            streams,
            hosts: Vec::new(),
            networks: Vec::new(),
            topology: UnGraph::default(),
            host_nodes: Vec::new(),
            net_nodes: Vec::new(),
            sockets: Sockets::default(),
            epolls: Vec::new(),
            processes: Vec::new(),
            unix: Default::default(),
            sink: Box::new(NullSink),
            tracing: false,
            capture: None,
            last_timer_id: 0,
            stats: Default::default(),
            in_flight: Default::default(),
            not_started: Default::default(),
        }
    }

    /// Sends trace events to `sink`.
    pub fn set_sink(&mut self, sink: Box<dyn TraceSink<Event>>) {
        self.tracing = sink.enabled();
        self.sink = sink;
    }

    /// Takes the sink back (to read what it collected).
    pub fn take_sink(&mut self) -> Box<dyn TraceSink<Event>> {
        self.tracing = false;
        std::mem::replace(&mut self.sink, Box::new(NullSink))
    }

    /// Records a trace event now, if tracing.
    pub fn trace(&mut self, event: impl FnOnce() -> Event) {
        if self.tracing {
            self.sink.record(self.now, event());
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.streams.seed()
    }

    /// The scheduler (for its decision list).
    pub fn scheduler(&self) -> &Scheduler {
        &self.sched
    }

    /// Replays these scheduling choices before drawing new ones.
    pub fn replay_schedule(&mut self, choices: Vec<u32>) {
        self.sched.replay(choices);
    }

    /// Adds a network segment.
    pub fn add_network(
        &mut self,
        name: &str,
        addr: IpAddr,
        prefix: u8,
        latency: Duration,
    ) -> Result<NetId, SetupError> {
        if name == "lo" || self.networks.iter().any(|n| n.name == name) {
            return Err(SetupError(format!("network `{name}` is already defined")));
        }
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(SetupError(format!("prefix /{prefix} is longer than {max}")));
        }
        let id = NetId(self.networks.len() as u32);
        self.networks.push(Network {
            name: name.to_string(),
            addr,
            prefix,
            latency,
            members: BTreeMap::new(),
            faults: Default::default(),
            partitioned: false,
            rng: self.streams.stream(&format!("net:{name}/link")),
        });
        self.net_nodes.push(self.topology.add_node(Node::Network(id)));
        Ok(id)
    }

    /// Gives network `net` faults: jitter, loss, duplication and reordering (see
    /// [`crate::network::LinkFaults`]). Probabilities above one million parts per million are
    /// an error.
    pub fn set_link_faults(&mut self, net: NetId, faults: crate::network::LinkFaults) -> Result<(), SetupError> {
        let ppm = crate::network::PPM;
        if faults.loss_ppm > ppm || faults.duplicate_ppm > ppm || faults.reorder_ppm > ppm {
            return Err(SetupError("a probability is above 100%".into()));
        }
        self.networks[net.0 as usize].faults = faults;
        Ok(())
    }

    /// Looks a network up by name.
    pub fn network_id(&self, name: &str) -> Option<NetId> {
        self.networks
            .iter()
            .position(|n| n.name == name)
            .map(|i| NetId(i as u32))
    }

    /// The network `id`.
    pub fn network(&self, id: NetId) -> &Network {
        &self.networks[id.0 as usize]
    }

    /// Partitions network `net` now: from this instant every packet put on it is lost (traced
    /// as dropped, reason `partitioned`) until [`World::heal`]. Packets already in flight still
    /// arrive. Partitioning a partitioned network changes nothing and traces nothing.
    pub fn partition(&mut self, net: NetId) {
        self.set_partitioned(net, true);
    }

    /// Heals a partition of network `net` now (nothing happens if it is not partitioned).
    pub fn heal(&mut self, net: NetId) {
        self.set_partitioned(net, false);
    }

    /// Partitions (`true`) or heals (`false`) network `net` at the virtual instant `at`
    /// (a timed scenario statement: `at 5s partition lan`).
    pub fn schedule_partition(&mut self, net: NetId, at: Instant, partitioned: bool) {
        self.events.push(at, Pending::Partition(net, partitioned));
    }

    fn set_partitioned(&mut self, net: NetId, partitioned: bool) {
        let n = &mut self.networks[net.0 as usize];
        if n.partitioned == partitioned {
            return;
        }
        n.partitioned = partitioned;
        let network = n.name.clone();
        self.trace(|| Event::Link {
            network,
            change: if partitioned {
                crate::trace::LinkChange::Partitioned
            } else {
                crate::trace::LinkChange::Healed
            },
        });
    }

    /// Adds a host with Linux's default sysctls and only `lo`.
    pub fn add_host(&mut self, name: &str) -> Result<HostId, SetupError> {
        if self.hosts.iter().any(|h| h.name == name) {
            return Err(SetupError(format!("host `{name}` is already defined")));
        }
        let id = HostId(self.hosts.len() as u32);
        let mut secrets = self.streams.stream(&format!("host:{name}/secret"));
        self.hosts.push(Host {
            name: name.to_string(),
            ifaces: Vec::new(),
            sysctl: Sysctls::default(),
            tcp: TcpTables::default(),
            udp: Default::default(),
            port_secret: secrets.next_u64(),
            perturb_secret: secrets.next_u64(),
            perturb: Default::default(),
            port_rng: self.streams.stream(&format!("host:{name}/ports")),
            isn_rng: self.streams.stream(&format!("host:{name}/isn")),
            routes: Vec::new(),
            netfilter: None,
            neigh: Default::default(),
            unix: crate::unix::HostUnix::new(self.streams.stream(&format!("host:{name}/unix"))),
        });
        self.host_nodes.push(self.topology.add_node(Node::Host(id)));
        Ok(id)
    }

    /// Attaches `host` to `network` with address `addr`.
    pub fn add_addr(&mut self, host: HostId, addr: IpAddr, network: NetId) -> Result<(), SetupError> {
        let net = &mut self.networks[network.0 as usize];
        if !net.contains(addr) {
            return Err(SetupError(format!(
                "{addr} is outside {}/{} ({})",
                net.addr, net.prefix, net.name
            )));
        }
        if let Some(&other) = net.members.get(&addr) {
            let other = &self.hosts[other.0 as usize].name;
            return Err(SetupError(format!(
                "{addr} is already used by host `{other}` on {}",
                net.name
            )));
        }
        net.members.insert(addr, host);
        self.hosts[host.0 as usize].ifaces.push(Iface { addr, network });
        self.topology.add_edge(
            self.host_nodes[host.0 as usize],
            self.net_nodes[network.0 as usize],
            addr,
        );
        Ok(())
    }

    /// Sets a sysctl on `host` (see [`Sysctls::set`]).
    pub fn set_sysctl(&mut self, host: HostId, name: &str, values: &[i64]) -> Result<(), SetupError> {
        self.hosts[host.0 as usize].sysctl.set(name, values).map_err(SetupError)
    }

    /// The topology: hosts and networks as nodes, interfaces (with their address) as edges.
    pub fn topology(&self) -> &UnGraph<Node, IpAddr> {
        &self.topology
    }

    /// Looks a host up by name.
    pub fn host_id(&self, name: &str) -> Option<HostId> {
        self.hosts.iter().position(|h| h.name == name).map(|i| HostId(i as u32))
    }

    /// The host `id`.
    pub fn host(&self, id: HostId) -> &Host {
        &self.hosts[id.0 as usize]
    }

    /// Creates a process on `host` that becomes runnable at `start`.
    pub fn spawn(&mut self, host: HostId, name: &str, start: Instant) -> Pid {
        let pid = self.new_process(host, name, FdTable::default(), None);
        // The trace announces the process when it starts, not when the scenario declares it.
        self.not_started.insert(pid);
        self.events.push(start, Pending::Run(pid));
        pid
    }

    /// `fork()`: a child of `parent` that shares its open sockets, runnable now.
    pub fn fork(&mut self, parent: Pid, name: &str) -> Pid {
        let p = self.process(parent);
        let (host, fds) = (p.host, p.fds.clone());
        for (_, desc) in fds.iter() {
            self.desc_ref(desc);
        }
        let child = self.new_process(host, name, fds, Some(parent));
        self.sched.make_runnable(task(child));
        child
    }

    /// Another reference to an open description (`get_file`): a descriptor copied by `fork`
    /// or `dup`, or one passed with `SCM_RIGHTS`.
    pub(crate) fn desc_ref(&mut self, desc: Desc) {
        match desc {
            Desc::Socket(s) => self.sockets.get_mut(s).refs += 1,
            Desc::Epoll(e) => self.epoll_mut(e).refs += 1,
            Desc::Unix(u) => self.unix_ref(u),
            Desc::Stdio => {}
        }
    }

    fn new_process(&mut self, host: HostId, name: &str, fds: FdTable, parent: Option<Pid>) -> Pid {
        // fork() copies the parent's limits and credentials.
        let nofile = parent.map_or(crate::process::Rlimit::NOFILE_DEFAULT, |p| self.process(p).nofile);
        let cred = parent.map_or(crate::process::Cred::ROOT, |p| self.process(p).cred);
        let pid = Pid(self.processes.len() as u32 + 1);
        self.processes.push(Process {
            pid,
            host,
            name: name.to_string(),
            fds,
            cred,
            nofile,
            blocked_in: None,
            blocked_on: None,
            deadline: None,
            timed_out: false,
            exited: false,
        });
        if parent.is_some() {
            self.announce(pid, parent);
        }
        pid
    }

    /// Records that `pid` came to life.
    fn announce(&mut self, pid: Pid, parent: Option<Pid>) {
        let p = self.process(pid);
        let (host, name) = (self.hosts[p.host.0 as usize].name.clone(), p.name.clone());
        self.trace(|| Event::Spawn {
            pid: pid.0,
            host,
            name,
            parent: parent.map(|p| p.0),
        });
    }

    /// Sets `pid`'s `RLIMIT_NOFILE` before it runs, as `ulimit -n` or systemd's
    /// `LimitNOFILE=` would (no check: this is setup, not a system call).
    pub fn set_nofile_limit(&mut self, pid: Pid, limit: crate::process::Rlimit) {
        self.process_mut(pid).nofile = limit;
    }

    /// Declares user `name` with `uid` and `gid` on `host` (an `/etc/passwd` line), for
    /// [`World::user`] and `process ... as NAME`. root (0) always exists.
    pub fn add_user(&mut self, host: HostId, name: &str, uid: u32, gid: u32) -> Result<(), SetupError> {
        let users = &mut self.hosts[host.0 as usize].unix.users;
        if name == "root" || users.contains_key(name) {
            return Err(SetupError(format!("user `{name}` is already defined")));
        }
        users.insert(name.to_string(), (uid, gid));
        Ok(())
    }

    /// The uid and gid of user `name` on `host` (`root` is 0, 0).
    pub fn user(&self, host: HostId, name: &str) -> Option<(u32, u32)> {
        if name == "root" {
            return Some((0, 0));
        }
        self.hosts[host.0 as usize].unix.users.get(name).copied()
    }

    /// Sets `pid`'s user and group before it runs (`process ... as USER`); its children
    /// inherit them.
    pub fn set_credentials(&mut self, pid: Pid, uid: u32, gid: u32) {
        let cred = &mut self.process_mut(pid).cred;
        cred.uid = uid;
        cred.gid = gid;
    }

    /// The process `pid`.
    pub fn process(&self, pid: Pid) -> &Process {
        &self.processes[(pid.0 - 1) as usize]
    }

    pub(crate) fn process_mut(&mut self, pid: Pid) -> &mut Process {
        &mut self.processes[(pid.0 - 1) as usize]
    }

    /// Every process, in pid order.
    pub fn processes(&self) -> &[Process] {
        &self.processes
    }

    /// The process ends: every descriptor is closed, as `exit(2)` does.
    pub fn exit(&mut self, pid: Pid) {
        // A process killed inside a wait on a Unix socket leaves the queue, so it cannot take
        // a wake-up meant for another waiter.
        if let Some(BlockedOn::Unix(u) | BlockedOn::UnixPeer(u)) = self.process(pid).blocked_on {
            self.unix_unwait(u, task(pid));
            self.process_mut(pid).blocked_on = None;
        }
        let fds: Vec<_> = self.process(pid).fds.iter().map(|(fd, _)| fd).collect();
        for fd in fds {
            self.close_fd(pid, fd);
        }
        let p = self.process_mut(pid);
        p.exited = true;
        p.blocked_in = None;
        self.trace(|| Event::Exit { pid: pid.0 });
    }

    /// `pid` sleeps for `d` (it must be the running process).
    pub fn sleep(&mut self, pid: Pid, d: Duration) {
        self.events.push(self.now.after(d), Pending::Run(pid));
    }

    /// `pid` stays runnable (it must be the running process and did not block).
    pub fn yield_now(&mut self, pid: Pid) {
        self.sched.make_runnable(task(pid));
    }

    /// Advances the simulation until a process can run, nothing is left, or `until` passes.
    pub fn next(&mut self, until: Option<Instant>) -> Next {
        loop {
            while let Some((_, pending)) = self.events.pop_due(self.now) {
                self.handle(pending);
            }
            if let Some(t) = self.sched.pick(self.now) {
                return Next::Run(Pid(t.0));
            }
            // Cancelled timers must not move the clock: drop them before advancing.
            while let Some((_, Pending::Timer(sock, generation, _))) = self.events.peek() {
                if self
                    .sockets
                    .try_get(*sock)
                    .is_some_and(|s| s.timer_generation == *generation)
                {
                    break;
                }
                self.events.pop();
            }
            match self.events.peek_time() {
                None => return Next::Idle,
                Some(t) if until.is_some_and(|u| t > u) => {
                    self.now = until.unwrap_or(t);
                    return Next::TimeLimit;
                }
                Some(t) => self.now = t,
            }
        }
    }

    fn handle(&mut self, pending: Pending) {
        match pending {
            Pending::Run(pid) => {
                if self.not_started.remove(&pid) {
                    self.announce(pid, None);
                }
                self.sched.make_runnable(task(pid));
            }
            Pending::Timeout(pid, deadline) => {
                let p = self.process_mut(pid);
                if p.deadline != Some(deadline) || p.exited {
                    return;
                }
                p.timed_out = true;
                let on = p.blocked_on.take();
                match on {
                    Some(BlockedOn::Socket(s)) => self.sockets.get_mut(s).wait.remove(Waiter::Task(task(pid))),
                    Some(BlockedOn::Epoll(e)) => self.epoll_mut(e).wait.remove(task(pid)),
                    Some(BlockedOn::Unix(u) | BlockedOn::UnixPeer(u)) => self.unix_unwait(u, task(pid)),
                    None => {}
                }
                self.sched.make_runnable(task(pid));
            }
            Pending::Partition(net, partitioned) => self.set_partitioned(net, partitioned),
            Pending::Deliver(id) => {
                self.stats.in_flight -= 1;
                let arrival = self.in_flight.take(id);
                self.ip_input(arrival)
            }
            Pending::NeighFailed(host, net, next_hop) => self.neigh_failed(host, net, next_hop),
            Pending::Timer(sock, generation, kind) => {
                if self
                    .sockets
                    .try_get(sock)
                    .is_some_and(|s| s.timer_generation == generation)
                {
                    // The timer has fired: none is pending until one is armed again.
                    self.sockets.get_mut(sock).timer_generation = 0;
                    self.tcp_timer(sock, kind);
                }
            }
        }
    }

    pub(crate) fn arm_timer(&mut self, sock: SocketId, after: Duration, kind: TimerKind) {
        self.last_timer_id += 1;
        let generation = self.last_timer_id;
        let s = self.sockets.get_mut(sock);
        s.timer_generation = generation;
        s.timer_kind = kind;
        self.events
            .push(self.now.after(after), Pending::Timer(sock, generation, kind));
    }

    pub(crate) fn cancel_timers(&mut self, sock: SocketId) {
        // Timer ids start at 1, so 0 matches no pending timer.
        self.sockets.get_mut(sock).timer_generation = 0;
    }

    /// Adds `sock` to the bucket of `port` (`inet_bind_hash()`); `explicit` for bind/listen,
    /// false for connect autobind and for children inheriting their listener's port.
    pub(crate) fn bucket_add(&mut self, sock: SocketId, port: u16, explicit: bool) {
        self.sockets.get_mut(sock).stale_port = 0;
        let s = self.sockets.get(sock);
        let (host, reuse, proto) = (s.host, s.reuseaddr(), s.proto);
        let h = &mut self.hosts[host.0 as usize];
        let table = match proto {
            Proto::Tcp => &mut h.tcp.bind,
            Proto::Udp => &mut h.udp,
        };
        let bucket = table.get_or_insert_with(port, || BindBucket {
            owners: Vec::new(),
            connect_only: !explicit,
        });
        // inet_csk_update_fastreuse(): an explicit bind claims a connect-made bucket unless it
        // joins sockets already there with SO_REUSEADDR set.
        if explicit && (bucket.owners.is_empty() || !reuse) {
            bucket.connect_only = false;
        }
        let index = bucket.owners.len() as u32;
        bucket.owners.push(sock);
        let s = self.sockets.get_mut(sock);
        s.set_in_bind_table(true);
        s.bucket_index = index;
        s.local.set_port(port);
    }

    /// Removes `sock` from its port's bucket (`inet_put_port()`), dropping an empty bucket.
    pub(crate) fn bucket_remove(&mut self, sock: SocketId) {
        let s = self.sockets.get_mut(sock);
        if !s.in_bind_table() {
            return;
        }
        s.set_in_bind_table(false);
        let (host, port, index, proto) = (s.host, s.local.port(), s.bucket_index as usize, s.proto);
        let h = &mut self.hosts[host.0 as usize];
        let table = match proto {
            Proto::Tcp => &mut h.tcp.bind,
            Proto::Udp => &mut h.udp,
        };
        let Some(bucket) = table.get_mut(&port) else {
            return;
        };
        match proto {
            // TCP: order does not matter, so the last owner fills the hole.
            Proto::Tcp => {
                bucket.owners.swap_remove(index);
                if let Some(&moved) = bucket.owners.get(index) {
                    self.sockets.get_mut(moved).bucket_index = index as u32;
                }
            }
            // UDP: bind order decides ties between equally good sockets, so keep it.
            Proto::Udp => {
                bucket.owners.remove(index);
                for (i, &later) in bucket.owners.iter().enumerate().skip(index) {
                    self.sockets.get_mut(later).bucket_index = i as u32;
                }
            }
        }
        if bucket.owners.is_empty() {
            table.remove(&port);
        }
    }

    pub(crate) fn ehash_insert(&mut self, sock: SocketId) {
        let s = self.sockets.get_mut(sock);
        s.set_in_ehash(true);
        let (host, key) = (s.host, FourTuple::new(s.local, s.remote));
        self.hosts[host.0 as usize].tcp.established.insert(key, sock);
    }

    pub(crate) fn ehash_remove(&mut self, sock: SocketId) {
        let s = self.sockets.get_mut(sock);
        if !s.in_ehash() {
            return;
        }
        s.set_in_ehash(false);
        let (host, key) = (s.host, FourTuple::new(s.local, s.remote));
        let established = &mut self.hosts[host.0 as usize].tcp.established;
        if established.get(&key) == Some(&sock) {
            established.remove(&key);
        }
    }

    /// Takes `sock` out of every table (`tcp_set_state(TCP_CLOSE)`: unhash and put the port),
    /// and frees it if no descriptor or queue holds it. A port the user bound stays bound
    /// while a descriptor is open (`SOCK_BINDPORT_LOCK`).
    pub(crate) fn tcp_done(&mut self, sock: SocketId) {
        self.ehash_remove(sock);
        self.cancel_timers(sock);
        let s = self.sockets.get_mut(sock);
        s.state = crate::socket::TcpState::Closed;
        // tcp_write_queue_purge(), skb_rbtree_purge(&tp->out_of_order_queue).
        s.rtx = None;
        s.ofo = None;
        // tcp_done(): "sk->sk_shutdown = SHUTDOWN_MASK" — later reads see end of file.
        s.set_shut_rd(true);
        s.set_shut_wr(true);
        let keep_port = s.user_bound() && s.refs > 0;
        if !keep_port {
            self.bucket_remove(sock);
            // __inet_put_port() clears the port (`inet_num`); the source address stays
            // (`inet_saddr`), and so does `inet_sport`, which getsockname() reports.
            let s = self.sockets.get_mut(sock);
            s.stale_port = s.local.port();
            s.local.set_port(0);
        }
        self.wake(sock, Wake::All, 0);
        if self.sockets.get(sock).is_orphan() {
            self.bucket_remove(sock);
            self.sockets.remove(sock);
        }
    }

    /// Wakes a socket's wait queue with the poll events `mask` (`sk->sk_data_ready` and
    /// friends): blocked tasks wake, and epoll instances watching the socket get the event
    /// (`ep_poll_callback`). `how` says how many exclusive waiters may wake.
    pub(crate) fn wake(&mut self, sock: SocketId, how: Wake, mask: u32) {
        self.wake_watched(crate::epoll::Watched::Inet(sock), how, mask);
    }

    pub(crate) fn epoll(&self, id: EpollId) -> &Epoll {
        self.epolls[id.0 as usize].as_ref().expect("live epoll id")
    }

    pub(crate) fn epoll_mut(&mut self, id: EpollId) -> &mut Epoll {
        self.epolls[id.0 as usize].as_mut().expect("live epoll id")
    }

    /// Number of live sockets in the world (all hosts).
    pub fn socket_count(&self) -> usize {
        self.sockets.len()
    }
}

pub(crate) fn task(pid: Pid) -> TaskId {
    TaskId(pid.0)
}
