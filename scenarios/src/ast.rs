//! The syntax tree of a scenario file.
//!
//! The parser (`parse`) produces it, the checker (`check`) validates names and arities against
//! it, and the interpreter (`interp`) runs it. Every node carries the byte span of the text it
//! came from, so any later error can point back at the file. The tree derives serde so tools can
//! dump it (`socksim check --ast`).

use serde::{Deserialize, Serialize};

/// A half-open byte range `[start, end)` in the scenario source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
}

/// A name as written, with where it was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ident {
    /// The text of the name.
    pub name: String,
    /// Where it stands.
    pub span: Span,
}

/// A whole scenario file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// `scenario "title"`.
    pub title: Option<String>,
    /// `seed N`: the default seed (the command line's `--seed` overrides it).
    pub seed: Option<u64>,
    /// `until 120s`: the virtual-time limit, in nanoseconds.
    pub until_ns: Option<u64>,
    /// `network NAME CIDR [latency=D] [jitter=D] [loss=P%] [duplicate=P%] [reorder=P%]`
    /// declarations, in file order.
    pub networks: Vec<NetworkDecl>,
    /// `host` declarations, in file order.
    pub hosts: Vec<HostDecl>,
    /// `process HOST/NAME` declarations, in file order.
    pub processes: Vec<ProcessDecl>,
    /// Timed `at T partition NET` / `at T heal NET` declarations, in file order.
    #[serde(default)]
    pub link_events: Vec<LinkEventDecl>,
}

/// `at 5s partition lan` or `at 7s heal lan`: a network is cut off, or joined again, at a
/// virtual instant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkEventDecl {
    /// When, in nanoseconds.
    pub at_ns: u64,
    /// The network.
    pub network: Ident,
    /// `partition` (true) or `heal` (false).
    pub partitioned: bool,
    /// The whole line.
    pub span: Span,
}

/// `network lan 10.0.0.0/24 latency=100us`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkDecl {
    /// The network's name.
    pub name: Ident,
    /// Network address (host bits zero is not required), IPv4 or IPv6.
    pub addr: std::net::IpAddr,
    /// Prefix length, up to 32 (IPv4) or 128 (IPv6).
    pub prefix: u8,
    /// One-way latency in nanoseconds (`latency=`), if given.
    pub latency_ns: Option<u64>,
    /// Half-width of the uniform delay variation in nanoseconds (`jitter=`), if given.
    #[serde(default)]
    pub jitter_ns: Option<u64>,
    /// Loss probability in parts per million (`loss=0.5%` is 5000), if given.
    #[serde(default)]
    pub loss_ppm: Option<u32>,
    /// Duplication probability in parts per million (`duplicate=`), if given.
    #[serde(default)]
    pub duplicate_ppm: Option<u32>,
    /// Reordering probability in parts per million (`reorder=`), if given.
    #[serde(default)]
    pub reorder_ppm: Option<u32>,
    /// The whole declaration.
    pub span: Span,
}

/// `host NAME ADDR on NET` or `host NAME { ... }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostDecl {
    /// The host's name.
    pub name: Ident,
    /// Its addresses (the one-line form gives exactly one).
    pub addrs: Vec<AddrDecl>,
    /// `sysctl NAME = VALUE...` lines.
    pub sysctls: Vec<SysctlDecl>,
    /// `user NAME UID [GID]` lines.
    pub users: Vec<UserDecl>,
    /// `route PREFIX via GATEWAY` lines, in order.
    #[serde(default)]
    pub routes: Vec<RouteDecl>,
    /// `forward`: the host forwards packets addressed to others.
    #[serde(default)]
    pub forward: Option<Span>,
    /// `nat ...` rules, in order (the first that matches a new connection applies).
    #[serde(default)]
    pub nats: Vec<NatDecl>,
    /// The whole declaration.
    pub span: Span,
}

/// `route default via 10.0.0.254` or `route 10.1.0.0/16 via 10.0.0.2`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteDecl {
    /// The destination prefix as address and length; `default` is `0.0.0.0/0` (or `::/0` for
    /// an IPv6 gateway).
    pub dest: Option<(std::net::IpAddr, u8)>,
    /// The gateway.
    pub via: std::net::IpAddr,
    /// The whole line.
    pub span: Span,
}

/// What a `nat` rule does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum NatAction {
    /// `masquerade`: source NAT to the host's own address on the outgoing network.
    Masquerade,
    /// `snat ... to ADDR[:LOW..HIGH]`: source NAT to a given address (and port range).
    Snat {
        /// The new source address.
        to: std::net::IpAddr,
        /// The port range, inclusive, if given.
        ports: Option<(u16, u16)>,
    },
    /// `dnat [tcp|udp] dport PORT to ADDR[:PORT]`: destination NAT (port forwarding).
    Dnat {
        /// `tcp` or `udp`; both when absent.
        proto: Option<String>,
        /// The destination port matched.
        dport: u16,
        /// The new destination address.
        to: std::net::IpAddr,
        /// The new destination port; unchanged when absent.
        to_port: Option<u16>,
    },
}

/// `nat masquerade out wan [from PREFIX] [random | random-fully]`,
/// `nat snat out wan [from PREFIX] to ADDR[:LOW..HIGH] [random | random-fully]`,
/// `nat dnat [in NET] [tcp|udp] dport PORT to ADDR[:PORT]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NatDecl {
    /// What it does.
    pub action: NatAction,
    /// `out NET` (source NAT: the network packets leave by).
    pub out: Option<Ident>,
    /// `in NET` (destination NAT: the network packets arrive from).
    pub input: Option<Ident>,
    /// `from PREFIX`: only packets from this source prefix.
    pub from: Option<(std::net::IpAddr, u8)>,
    /// `random` (`NF_NAT_RANGE_PROTO_RANDOM`).
    pub random: bool,
    /// `random-fully` (`NF_NAT_RANGE_PROTO_RANDOM_FULLY`).
    pub random_fully: bool,
    /// The whole line.
    pub span: Span,
}

/// `user alice 1000` or `user alice 1000 100`: a user of the host (`/etc/passwd`), for
/// `process ... as alice`. The group id defaults to the user id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserDecl {
    /// The user's name.
    pub name: Ident,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// The whole line.
    pub span: Span,
}

/// `addr 10.0.0.2 on lan`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AddrDecl {
    /// The interface address.
    pub addr: std::net::IpAddr,
    /// The network it is attached to.
    pub network: Ident,
    /// The whole line.
    pub span: Span,
}

/// `sysctl net.ipv4.ip_local_port_range = 40000 40009`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SysctlDecl {
    /// The dotted sysctl name.
    pub name: Ident,
    /// The whitespace-separated integer values.
    pub values: Vec<i64>,
    /// The values, as a span (for range errors).
    pub values_span: Span,
    /// The whole line.
    pub span: Span,
}

/// `process HOST/NAME [at T] { ... }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessDecl {
    /// The host it runs on.
    pub host: Ident,
    /// The process name.
    pub name: Ident,
    /// Start time in nanoseconds (`at 1ms`), default 0.
    pub start_ns: u64,
    /// The user it runs as (`as alice`); root when absent.
    pub user: Option<Ident>,
    /// The statements.
    pub body: Vec<Stmt>,
    /// The header line (`process client/curl at 1ms`).
    pub span: Span,
}

/// One statement with its span (the whole line).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stmt {
    /// What the statement is.
    pub kind: StmtKind,
    /// The line it came from, without the trailing comment.
    pub span: Span,
}

/// The statements of a process body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StmtKind {
    /// `[a[, b] =] call(args) [= expectation]`.
    Call {
        /// Names bound to the result (`s = socket(...)`; `a, b = socketpair(...)`).
        binds: Vec<Ident>,
        /// The call itself.
        call: Call,
        /// The inline expectation, if any.
        expect: Option<Expectation>,
    },
    /// `repeat N { ... }`.
    Repeat {
        /// How many times.
        count: Num,
        /// The body.
        body: Vec<Stmt>,
    },
    /// `for NAME in A..B { ... }`: `A` to `B` inclusive, like port ranges.
    For {
        /// The loop variable (used as `$NAME`).
        var: Ident,
        /// First value.
        from: Num,
        /// Last value (inclusive).
        to: Num,
        /// The body.
        body: Vec<Stmt>,
    },
    /// `fork NAME { ... }`: a child process that inherits descriptors and variables.
    Fork {
        /// The child's name (may contain `$var`).
        name: Template,
        /// What the child runs.
        body: Vec<Stmt>,
    },
    /// `sleep 10ms`: nanoseconds.
    Sleep(u64),
    /// `ss`: print the host's socket table.
    Ss,
    /// `note "text"`: a line in the trace.
    Note(String),
    /// `conntrack [has|lacks "TEXT"]`: print the host's connection-tracking table, like
    /// `conntrack -L`; with a check, one of its lines must (or none may) contain `TEXT`.
    Conntrack(Option<ConntrackCheck>),
    /// `exit`: the process ends, closing its descriptors.
    Exit,
    /// `partition NET` (true) or `heal NET` (false): the network is cut off, or joined
    /// again, at once.
    Partition {
        /// The network.
        network: Ident,
        /// `partition` (true) or `heal` (false).
        partitioned: bool,
    },
}

/// The check of a `conntrack has "TEXT"` (or `lacks`) statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConntrackCheck {
    /// `has` (true) or `lacks` (false).
    pub present: bool,
    /// The text a line of the table must (or must not) contain.
    pub text: String,
    /// Where the check is written (`has "..."`).
    pub span: Span,
}

/// A call such as `bind(l, 0.0.0.0:80)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// The function name (`bind`).
    pub name: Ident,
    /// The arguments, in order.
    pub args: Vec<Arg>,
    /// From the name to the closing parenthesis.
    pub span: Span,
}

/// One argument of a call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Arg {
    /// What it is.
    pub kind: ArgKind,
    /// Where it stands.
    pub span: Span,
}

/// The kinds of argument.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ArgKind {
    /// A bare name: a constant (`AF_INET`, `SO_REUSEADDR`) or a variable bound earlier (`s`).
    Name(String),
    /// A number (`128`, `$n`).
    Num(Num),
    /// A byte size with a unit (`64KiB`), in bytes.
    Size(u64),
    /// A string (`"hello"`), escapes already resolved.
    Str(String),
    /// An IPv4 socket address (`10.0.0.1:80`, `10.0.0.$i:$p`).
    Inet(InetAddr),
    /// An abstract Unix socket name (`@"app"`), escapes resolved, without the leading NUL.
    Abstract(String),
    /// Constants or'ed together (`SOCK_STREAM | SOCK_NONBLOCK`).
    Flags(Vec<String>),
}

/// A number, literal or `$var`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Num {
    /// A literal.
    Lit(i64),
    /// `$name`: the value of a `for` variable.
    Var(Ident),
}

/// The host part of a socket address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IpSpec {
    /// IPv4: four octets, each a literal or `$var` (`10.0.0.$i`).
    V4([Num; 4]),
    /// IPv6, written in brackets (`[fd00::1]`, `[::ffff:10.0.0.2]`); literal only.
    V6(std::net::Ipv6Addr),
}

/// A socket address whose parts may be `$var` (`10.0.0.$i:$p`, `[::1]:80`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InetAddr {
    /// The address.
    pub ip: IpSpec,
    /// The port.
    pub port: Num,
}

/// A name that may embed `$var` (`w$i`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Literal text and variable references, in order.
    pub parts: Vec<TemplatePart>,
    /// Where it stands.
    pub span: Span,
}

/// A piece of a [`Template`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TemplatePart {
    /// Text taken as written.
    Lit(String),
    /// `$name`.
    Var(Ident),
}

/// `= ...` after a call: one or more alternatives separated by `|`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    /// Any of these satisfies the expectation.
    pub alternatives: Vec<Outcome>,
    /// From the `=` to the end of the expectation.
    pub span: Span,
}

/// One expected outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// `= N`, `= 5 "hello"`, `= 4 (10.0.0.2:*)`: success with a value, and optionally the bytes
    /// received or the peer address reported (accept).
    Value {
        /// The return value.
        value: Num,
        /// The bytes received, for `recv`.
        data: Option<String>,
        /// The address in parentheses, for `accept`, `recvfrom` and `recvmsg`.
        addr: Option<AddrMatch>,
        /// What strace shows in brackets, compared without whitespace: an option's value
        /// (`= 0 [ECONNREFUSED]` for `getsockopt(s, SOL_SOCKET, SO_ERROR)`) or the events
        /// `epoll_wait` returned (`= 1 [3 EPOLLIN]`).
        detail: Option<String>,
    },
    /// `= -1 ERRNO`.
    Error(Ident),
    /// `= 10.0.0.2:*`, `= "/run/app.sock"`: an address result (`getsockname`,
    /// `getpeername`).
    Addr(AddrMatch),
}

/// An address an expectation matches: internet or Unix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AddrMatch {
    /// `10.0.0.2:*`, `[::1]:80`.
    Inet(Box<AddrPattern>),
    /// `"/run/app.sock"`, `@"app"`, `@*`, `unnamed`.
    Unix(UnixPattern),
}

/// A Unix socket address an expectation matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnixPattern {
    /// `"/run/app.sock"`: this path.
    Path(String),
    /// `@"app"`: this abstract name.
    Abstract(String),
    /// `@*`: any abstract name (an autobound one, say: five hex digits drawn from the seed).
    AnyAbstract,
    /// `unnamed`: no name.
    Unnamed,
}

/// An address to match: the address exact; the port exact, a range, or `*`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddrPattern {
    /// The address.
    pub ip: IpSpec,
    /// Which ports match.
    pub port: PortPattern,
}

/// Which ports an [`AddrPattern`] accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PortPattern {
    /// `*`.
    Any,
    /// `80`.
    Exact(Num),
    /// `40000..40009`, inclusive.
    Range(Num, Num),
}
