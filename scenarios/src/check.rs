//! Checking a parsed scenario before it runs.
//!
//! The parser only knows the grammar; [`check`] knows the world the file declares and the
//! table of calls and constants ([`crate::calls`]). It reports every problem it finds, in file
//! order, each pointing at the text at fault:
//!
//! - **world**: duplicate networks, hosts or processes; unknown networks and hosts (with a
//!   suggestion), including the networks of `partition`/`heal` statements and timed
//!   `at T partition NET` declarations; addresses outside their network's prefix or given twice on one network;
//!   unknown sysctls, wrong value counts and out-of-range values;
//! - **calls**: unknown calls, wrong arity, unknown or unsupported constants, a constant in the
//!   wrong position (`SO_REUSEADDR` as the domain), an argument of the wrong kind (a string
//!   where an address is expected), binding more names than the call returns;
//! - **names**: a descriptor never bound earlier in the process, a `$var` with no enclosing
//!   `for`, an errno name that does not exist;
//! - **loops**: `for` with an empty range, `repeat` with a negative count.
//!
//! Scoping follows the process model. A name bound by `NAME = call(...)` is visible to every
//! later statement of the same process, including inside nested blocks; a binding made inside
//! a `repeat` or `for` body stays visible after it (the loop runs in the same process). A
//! `fork` child starts with the bindings its parent had at the fork, as fork(2) copies the
//! descriptor table; what the child binds does not flow back. `$var` refers to the variable of
//! an enclosing `for`, fork bodies included.

use std::collections::{BTreeMap, BTreeSet};

use crate::ast::{
    AddrDecl, AddrMatch, AddrPattern, Arg, ArgKind, Call, Expectation, HostDecl, Ident, Num, Outcome, PortPattern,
    ProcessDecl, Scenario, Span, Stmt, StmtKind, SysctlDecl, TemplatePart,
};
use crate::calls::{self, CallSpec, Param};
use crate::diagnostic::{Diagnostic, did_you_mean};

/// Checks `scenario` and returns every problem found, sorted by position in the file (empty
/// when the scenario is fine to run).
pub fn check(scenario: &Scenario) -> Vec<Diagnostic> {
    let mut checker = Checker {
        scenario,
        diagnostics: Vec::new(),
    };
    checker.networks();
    checker.hosts();
    checker.processes();
    checker.link_events();
    let mut diagnostics = checker.diagnostics;
    diagnostics.sort_by_key(|d| d.span.start);
    diagnostics
}

/// Calls of the full design that this version does not simulate yet: a clearer message than
/// "unknown call".
const PLANNED_CALLS: &[&str] = &[];

struct Checker<'a> {
    scenario: &'a Scenario,
    diagnostics: Vec<Diagnostic>,
}

/// The names a statement can see.
#[derive(Default)]
struct Scope {
    /// Names bound to call results so far in this process.
    bound: BTreeSet<String>,
    /// Enclosing `for` variables, innermost last.
    loops: Vec<String>,
}

impl Checker<'_> {
    fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn networks(&mut self) {
        let mut first: BTreeMap<&str, Span> = BTreeMap::new();
        for network in &self.scenario.networks {
            let name = &network.name;
            match first.get(name.name.as_str()) {
                Some(&earlier) => self.report(duplicate("network", name, earlier)),
                None => {
                    first.insert(&name.name, name.span);
                }
            }
        }
    }

    fn hosts(&mut self) {
        let mut first: BTreeMap<&str, Span> = BTreeMap::new();
        // (network, address) -> where it was first assigned.
        let mut assigned: BTreeMap<(&str, std::net::IpAddr), Span> = BTreeMap::new();
        for host in &self.scenario.hosts {
            let name = &host.name;
            match first.get(name.name.as_str()) {
                Some(&earlier) => self.report(duplicate("host", name, earlier)),
                None => {
                    first.insert(&name.name, name.span);
                }
            }
            // NAT rules name networks too (whether the host is attached is checked when the
            // world is built).
            for net in host.nats.iter().flat_map(|n| n.out.iter().chain(n.input.iter())) {
                self.network_ref(net);
            }
            for addr in &host.addrs {
                self.addr(addr);
                match assigned.get(&(addr.network.name.as_str(), addr.addr)) {
                    Some(&earlier) => self.report(
                        Diagnostic::error(
                            format!(
                                "address {} is assigned twice on network `{}`",
                                addr.addr, addr.network.name
                            ),
                            addr.span,
                            "assigned again here",
                        )
                        .with_secondary(earlier, "first assigned here"),
                    ),
                    None => {
                        assigned.insert((&addr.network.name, addr.addr), addr.span);
                    }
                }
            }
            self.sysctls(host);
            self.users(host);
        }
    }

    /// `user NAME UID [GID]` lines: each name once per host, and not `root`.
    fn users(&mut self, host: &HostDecl) {
        let mut first: BTreeMap<&str, Span> = BTreeMap::new();
        for user in &host.users {
            let name = user.name.name.as_str();
            if name == "root" {
                self.report(
                    Diagnostic::error("`root` is always defined (uid 0)", user.name.span, "declared here")
                        .with_help("processes run as root unless they say `as USER`"),
                );
            } else if let Some(&earlier) = first.get(name) {
                self.report(
                    Diagnostic::error(
                        format!("user `{name}` is declared twice on host `{}`", host.name.name),
                        user.name.span,
                        "declared again here",
                    )
                    .with_secondary(earlier, "first declared here"),
                );
            } else {
                first.insert(name, user.name.span);
            }
        }
    }

    /// `at T partition NET` / `at T heal NET`: the network exists.
    fn link_events(&mut self) {
        for event in &self.scenario.link_events {
            self.network_ref(&event.network);
        }
    }

    /// A network named by `partition`/`heal` exists (with a suggestion if not).
    fn network_ref(&mut self, name: &Ident) {
        let networks = &self.scenario.networks;
        if networks.iter().any(|n| n.name.name == name.name) {
            return;
        }
        let names = networks.iter().map(|n| n.name.name.as_str());
        let d = Diagnostic::error(
            format!("unknown network `{}`", name.name),
            name.span,
            "no network of this name",
        );
        let d = match did_you_mean(&name.name, names) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(format!("declare it first: `network {} 10.0.0.0/24`", name.name)),
        };
        self.report(d);
    }

    /// The network exists and holds the address.
    fn addr(&mut self, addr: &AddrDecl) {
        let networks = &self.scenario.networks;
        let Some(network) = networks.iter().find(|n| n.name.name == addr.network.name) else {
            let names = networks.iter().map(|n| n.name.name.as_str());
            let d = Diagnostic::error(
                format!("unknown network `{}`", addr.network.name),
                addr.network.span,
                "no network of this name",
            );
            let d = match did_you_mean(&addr.network.name, names) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help(format!("declare it first: `network {} 10.0.0.0/24`", addr.network.name)),
            };
            self.report(d);
            return;
        };
        let net_prefix = masked(network.addr, network.prefix);
        if net_prefix != masked(addr.addr, network.prefix) {
            let cidr = format!("{}/{}", net_prefix, network.prefix);
            self.report(
                Diagnostic::error(
                    format!(
                        "address {} is outside network `{}` ({cidr})",
                        addr.addr, network.name.name
                    ),
                    addr.span,
                    format!("not in {cidr}"),
                )
                .with_secondary(network.span, "the network is declared here"),
            );
        }
    }

    fn sysctls(&mut self, host: &HostDecl) {
        let mut first: BTreeMap<&str, Span> = BTreeMap::new();
        for sysctl in &host.sysctls {
            if let Some(&earlier) = first.get(sysctl.name.name.as_str()) {
                self.report(
                    Diagnostic::error(
                        format!(
                            "sysctl `{}` is set twice on host `{}`",
                            sysctl.name.name, host.name.name
                        ),
                        sysctl.name.span,
                        "set again here",
                    )
                    .with_secondary(earlier, "first set here"),
                );
                continue;
            }
            first.insert(&sysctl.name.name, sysctl.name.span);
            self.sysctl(sysctl);
        }
    }

    fn sysctl(&mut self, sysctl: &SysctlDecl) {
        let name = sysctl.name.name.as_str();
        let Some(&(_, count, min, max)) = calls::SYSCTLS.iter().find(|s| s.0 == name) else {
            let known: Vec<&str> = calls::SYSCTLS.iter().map(|s| s.0).collect();
            let d = Diagnostic::error(
                format!("unknown sysctl `{name}`"),
                sysctl.name.span,
                "not a supported sysctl",
            )
            .with_suggestion(did_you_mean(name, known.iter().copied()))
            .with_note(format!("the supported sysctls are {}", known.join(", ")));
            self.report(d);
            return;
        };
        if count == 0 {
            // A list of ranges: any number of pairs (the parser turns `A-B` and `A` into pairs).
            if sysctl.values.len() % 2 != 0 {
                self.report(Diagnostic::error(
                    format!("`{name}` takes port ranges like `40000-40004,40006`"),
                    sysctl.values_span,
                    "expected ranges",
                ));
            }
        } else if sysctl.values.len() != count {
            self.report(Diagnostic::error(
                format!(
                    "`{name}` takes {count} {}, found {}",
                    plural(count, "value"),
                    sysctl.values.len()
                ),
                sysctl.values_span,
                format!("expected {count} {}", plural(count, "value")),
            ));
            return;
        }
        if let Some(v) = sysctl.values.iter().find(|v| !(min..=max).contains(*v)) {
            self.report(Diagnostic::error(
                format!("value {v} is out of range for `{name}`"),
                sysctl.values_span,
                format!("each value must be between {min} and {max}"),
            ));
            return;
        }
        // ipv4_local_port_range() (net/ipv4/sysctl_net_ipv4.c) rejects low > high with EINVAL.
        if name == "net.ipv4.ip_local_port_range" && sysctl.values[0] > sysctl.values[1] {
            self.report(Diagnostic::error(
                format!(
                    "empty port range: {} is greater than {}",
                    sysctl.values[0], sysctl.values[1]
                ),
                sysctl.values_span,
                "the low end must not exceed the high end",
            ));
        }
    }

    fn processes(&mut self) {
        let mut first: BTreeMap<(&str, &str), Span> = BTreeMap::new();
        for process in &self.scenario.processes {
            self.process_host(process);
            let key = (process.host.name.as_str(), process.name.name.as_str());
            match first.get(&key) {
                Some(&earlier) => self.report(
                    Diagnostic::error(
                        format!("process `{}/{}` is declared twice", key.0, key.1),
                        process.name.span,
                        "declared again here",
                    )
                    .with_secondary(earlier, "first declared here")
                    .with_help("give each process on a host its own name"),
                ),
                None => {
                    first.insert(key, process.name.span);
                }
            }
            self.block(&process.body, &mut Scope::default());
        }
    }

    fn process_host(&mut self, process: &ProcessDecl) {
        let hosts = &self.scenario.hosts;
        let host = &process.host;
        if let Some(h) = hosts.iter().find(|h| h.name.name == host.name) {
            if let Some(user) = &process.user
                && user.name != "root"
                && !h.users.iter().any(|u| u.name.name == user.name)
            {
                let names = h.users.iter().map(|u| u.name.name.as_str());
                let d = Diagnostic::error(
                    format!("unknown user `{}` on host `{}`", user.name, host.name),
                    user.span,
                    "no such user on this host",
                );
                self.report(match did_you_mean(&user.name, names) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!(
                        "declare it in the host block: `host {} {{` ... `user {} 1000` ... `}}`",
                        host.name, user.name
                    )),
                });
            }
            return;
        }
        let d = Diagnostic::error(
            format!("unknown host `{}`", host.name),
            host.span,
            "no host of this name",
        );
        let d = match did_you_mean(&host.name, hosts.iter().map(|h| h.name.name.as_str())) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(format!("declare it first: `host {} 10.0.0.1 on NETWORK`", host.name)),
        };
        self.report(d);
    }

    fn block(&mut self, body: &[Stmt], scope: &mut Scope) {
        for stmt in body {
            self.statement(stmt, scope);
        }
    }

    fn statement(&mut self, stmt: &Stmt, scope: &mut Scope) {
        match &stmt.kind {
            StmtKind::Call { binds, call, expect } => {
                self.call(call, binds, scope);
                if let Some(expect) = expect {
                    self.expectation(expect, scope);
                }
                for bind in binds {
                    scope.bound.insert(bind.name.clone());
                }
            }
            StmtKind::Repeat { count, body } => {
                self.num(count, scope);
                if let Num::Lit(n) = count {
                    if *n < 0 {
                        self.report(Diagnostic::error(
                            format!("`repeat` count {n} is negative"),
                            stmt.span,
                            "the count must be 0 or more",
                        ));
                    }
                }
                self.block(body, scope);
            }
            StmtKind::For { var, from, to, body } => {
                self.num(from, scope);
                self.num(to, scope);
                if let (Num::Lit(from), Num::Lit(to)) = (from, to) {
                    if from > to {
                        self.report(
                            Diagnostic::error(
                                format!("empty `for` range: {from} is greater than {to}"),
                                stmt.span,
                                "the body would never run",
                            )
                            .with_help(format!("ranges count up and include both ends: `{to}..{from}`")),
                        );
                    }
                }
                scope.loops.push(var.name.clone());
                self.block(body, scope);
                scope.loops.pop();
            }
            StmtKind::Fork { name, body } => {
                for part in &name.parts {
                    if let TemplatePart::Var(v) = part {
                        self.var(v, scope);
                    }
                }
                // The child gets a copy of the parent's bindings, as fork(2) copies the
                // descriptor table; its own bindings stay in the child.
                let parent = scope.bound.clone();
                self.block(body, scope);
                scope.bound = parent;
            }
            StmtKind::Sleep(_) | StmtKind::Ss | StmtKind::Conntrack(_) | StmtKind::Note(_) | StmtKind::Exit => {}
            StmtKind::Partition { network, .. } => self.network_ref(network),
        }
    }

    fn call(&mut self, call: &Call, binds: &[Ident], scope: &Scope) {
        let Some(spec) = calls::call(&call.name.name) else {
            self.unknown_call(&call.name);
            for arg in &call.args {
                self.arg_vars(arg, scope);
            }
            return;
        };
        if binds.len() > spec.results {
            self.too_many_binds(spec, binds);
        }
        // A trailing `Control` takes every remaining argument (`sendmsg`).
        let variadic = spec.params.last() == Some(&Param::Control);
        let (min, max) = (spec.min_args(), if variadic { usize::MAX } else { spec.params.len() });
        if !(min..=max).contains(&call.args.len()) {
            let expected = if min == max {
                format!("{min}")
            } else if variadic {
                format!("{min} or more")
            } else {
                format!("{min}..{max}")
            };
            self.report(
                Diagnostic::error(
                    format!(
                        "wrong number of arguments to `{}`: expected {expected}, found {}",
                        spec.name,
                        call.args.len()
                    ),
                    call.span,
                    format!("expected {expected} {}", plural(max, "argument")),
                )
                .with_help(format!("write it as {}", signature(spec))),
            );
            // The arguments cannot be matched to parameters reliably: only check variables.
            for arg in &call.args {
                self.arg_vars(arg, scope);
            }
            return;
        }
        for (index, arg) in call.args.iter().enumerate() {
            let param = spec.params.get(index).copied().unwrap_or(Param::Control);
            self.arg(spec, index, arg, param, scope);
        }
        if variadic {
            self.control(spec, call);
        }
    }

    /// `sendmsg`'s control part: an optional destination right after the data, then
    /// `SCM_RIGHTS` with one or more descriptors after it, and/or `SCM_CREDENTIALS`.
    fn control(&mut self, spec: &CallSpec, call: &Call) {
        let first = spec.params.len() - 1;
        let mut rights: Option<(Span, usize)> = None;
        let close = |this: &mut Self, rights: Option<(Span, usize)>| {
            if let Some((span, 0)) = rights {
                this.report(
                    Diagnostic::error("`SCM_RIGHTS` needs at least one descriptor", span, "nothing follows")
                        .with_help("list the descriptors to pass after it: `SCM_RIGHTS, c`"),
                );
            }
        };
        for (index, arg) in call.args.iter().enumerate().skip(first) {
            match &arg.kind {
                ArgKind::Name(n) if n == "SCM_RIGHTS" => {
                    close(self, rights.take());
                    rights = Some((arg.span, 0));
                }
                ArgKind::Name(n) if n == "SCM_CREDENTIALS" => close(self, rights.take()),
                ArgKind::Str(_) | ArgKind::Abstract(_) | ArgKind::Inet(_) if index == first => {}
                ArgKind::Name(n) if n == "AF_UNIX" && index == first => {}
                ArgKind::Str(_) | ArgKind::Abstract(_) | ArgKind::Inet(_) => self.report(
                    Diagnostic::error(
                        "the destination of `sendmsg` comes right after the data",
                        arg.span,
                        "misplaced address",
                    )
                    .with_help("write `sendmsg(s, \"data\", ADDRESS, SCM_RIGHTS, fd)`"),
                ),
                ArgKind::Name(_) | ArgKind::Num(_) => match &mut rights {
                    Some((_, n)) => *n += 1,
                    None => self.report(
                        Diagnostic::error(
                            "a descriptor must follow `SCM_RIGHTS`",
                            arg.span,
                            "not after SCM_RIGHTS",
                        )
                        .with_help("write `sendmsg(s, \"data\", SCM_RIGHTS, fd, ...)`"),
                    ),
                },
                _ => {}
            }
        }
        close(self, rights);
    }

    fn unknown_call(&mut self, name: &Ident) {
        let supported: Vec<&str> = calls::CALLS.iter().map(|c| c.name).collect();
        let note = format!("the supported calls are {}", supported.join(", "));
        if PLANNED_CALLS.contains(&name.name.as_str()) {
            self.report(
                Diagnostic::error(
                    format!("`{}` is not supported yet", name.name),
                    name.span,
                    "not simulated yet",
                )
                .with_note(note),
            );
            return;
        }
        if ["exit", "ss", "sleep", "note"].contains(&name.name.as_str()) {
            self.report(
                Diagnostic::error(
                    format!("`{}` is a statement, not a call", name.name),
                    name.span,
                    "not a call",
                )
                .with_help(format!("write it without parentheses: `{} ...`", name.name)),
            );
            return;
        }
        let d = Diagnostic::error(format!("unknown call `{}`", name.name), name.span, "not a known call");
        self.report(match did_you_mean(&name.name, supported.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_note(note),
        });
    }

    fn too_many_binds(&mut self, spec: &CallSpec, binds: &[Ident]) {
        let extra = &binds[spec.results.min(binds.len())..];
        let (Some(first), Some(last)) = (extra.first(), extra.last()) else {
            return;
        };
        let message = if spec.results == 0 {
            format!("`{}` returns no descriptor to bind", spec.name)
        } else {
            format!(
                "`{}` returns {} {}, but {} names are bound",
                spec.name,
                spec.results,
                plural(spec.results, "value"),
                binds.len()
            )
        };
        let d = Diagnostic::error(
            message,
            Span::new(first.span.start, last.span.end),
            "nothing to bind here",
        );
        self.report(if spec.results == 0 {
            d.with_help(format!(
                "call it without `=`: `{}(...)`; check its result with `= 0` after the call",
                spec.name
            ))
        } else {
            d
        });
    }

    /// Argument `index` (0-based) of a call to `spec`, expected to be a `param`.
    fn arg(&mut self, spec: &CallSpec, index: usize, arg: &Arg, param: Param, scope: &Scope) {
        let accepted = match (param, &arg.kind) {
            (Param::Fd, ArgKind::Name(name)) => {
                self.fd(spec, index, name, arg.span, scope);
                true
            }
            (
                Param::Domain
                | Param::Type
                | Param::Protocol
                | Param::Level
                | Param::OptName
                | Param::How
                | Param::FcntlCmd
                | Param::FileFlags
                | Param::EpollOp
                | Param::EpollEvents
                | Param::EpollFlags
                | Param::Resource
                | Param::MsgFlags,
                ArgKind::Name(name),
            ) => {
                self.constant(spec, index, name, arg.span, param, scope);
                true
            }
            (Param::Type | Param::FileFlags | Param::EpollEvents | Param::MsgFlags, ArgKind::Flags(names)) => {
                for name in names {
                    self.constant(spec, index, name, arg.span, param, scope);
                }
                true
            }
            (
                Param::Fd
                | Param::Protocol
                | Param::Int
                | Param::Payload
                | Param::FileFlags
                | Param::EpollEvents
                | Param::EpollFlags,
                ArgKind::Num(_),
            ) => true,
            (Param::SockAddr, ArgKind::Inet(_) | ArgKind::Str(_) | ArgKind::Abstract(_)) => true,
            (Param::SockAddr, ArgKind::Name(name)) if name == "AF_UNSPEC" && spec.name == "connect" => true,
            // `AF_UNIX` alone: a sockaddr with only the family (bind: autobind).
            (Param::SockAddr, ArgKind::Name(name)) if name == "AF_UNIX" => true,
            (Param::Payload, ArgKind::Str(_) | ArgKind::Size(_)) => true,
            // accept4's flags may be 0.
            (Param::Type, ArgKind::Num(_)) if spec.name == "accept4" => true,
            (Param::Path, ArgKind::Str(_)) | (Param::Mode, ArgKind::Num(_)) => true,
            (Param::Control, ArgKind::Name(name)) => {
                if !(calls::constant(name).is_some_and(|c| c.param == Param::Control) || name == "AF_UNIX") {
                    self.fd(spec, index, name, arg.span, scope);
                }
                true
            }
            (Param::Control, ArgKind::Num(_) | ArgKind::Str(_) | ArgKind::Abstract(_) | ArgKind::Inet(_)) => true,
            _ => false,
        };
        self.arg_vars(arg, scope);
        if !accepted {
            self.wrong_kind(spec, index, arg, param, scope);
        }
    }

    fn wrong_kind(&mut self, spec: &CallSpec, index: usize, arg: &Arg, param: Param, scope: &Scope) {
        let found = match &arg.kind {
            ArgKind::Name(name) if scope.bound.contains(name) => format!("the descriptor `{name}`"),
            ArgKind::Name(name) => format!("the name `{name}`"),
            ArgKind::Num(_) => "a number".to_owned(),
            ArgKind::Size(_) => "a size".to_owned(),
            ArgKind::Str(_) => "a string".to_owned(),
            ArgKind::Inet(_) | ArgKind::Abstract(_) => "a socket address".to_owned(),
            ArgKind::Flags(_) => "or'ed flags".to_owned(),
        };
        let d = Diagnostic::error(
            format!(
                "argument {} of `{}` must be {}, found {found}",
                index + 1,
                spec.name,
                describe(param)
            ),
            arg.span,
            format!("expected {}", describe(param)),
        );
        let help = match (&arg.kind, param) {
            (ArgKind::Num(_), Param::Path) => Some("write the path in quotes: \"/run/app\"".to_owned()),
            (ArgKind::Name(name), Param::Payload) => Some(format!("put text in quotes: \"{name}\"")),
            (ArgKind::Size(_), Param::Int) => {
                Some("sizes with units are only for data to send; write a count in bytes".to_owned())
            }
            (ArgKind::Name(name), Param::SockAddr | Param::Int)
                if calls::constant(name).is_none() && !scope.bound.contains(name) =>
            {
                did_you_mean(name, scope.bound.iter().map(String::as_str)).map(|s| format!("did you mean `{s}`?"))
            }
            _ => None,
        };
        self.report(match help {
            Some(help) => d.with_help(help),
            None => d.with_help(format!("write it as {}", signature(spec))),
        });
    }

    /// A descriptor argument given by name: it must be bound earlier in the process.
    fn fd(&mut self, spec: &CallSpec, index: usize, name: &str, span: Span, scope: &Scope) {
        if scope.bound.contains(name) {
            return;
        }
        if calls::constant(name).is_some() {
            self.report(
                Diagnostic::error(
                    format!(
                        "argument {} of `{}` must be a descriptor, found the constant `{name}`",
                        index + 1,
                        spec.name
                    ),
                    span,
                    "expected a descriptor",
                )
                .with_help(format!("write it as {}", signature(spec))),
            );
            return;
        }
        let d = Diagnostic::error(
            format!("unknown descriptor `{name}`"),
            span,
            "not bound earlier in this process",
        );
        self.report(match did_you_mean(name, scope.bound.iter().map(String::as_str)) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(format!("bind it first, as in `{name} = socket(AF_INET, SOCK_STREAM)`")),
        });
    }

    /// A constant argument where a `param` is expected.
    fn constant(&mut self, spec: &CallSpec, index: usize, name: &str, span: Span, param: Param, scope: &Scope) {
        let position = format!("argument {} of `{}`", index + 1, spec.name);
        let choices: Vec<&str> = calls::CONSTANTS
            .iter()
            .filter(|c| c.param == param && c.unsupported.is_none())
            .map(|c| c.name)
            .collect();
        let choices_help = format!("{position} takes {}", list(&choices));
        let Some(constant) = calls::constant(name) else {
            let d = if scope.bound.contains(name) {
                Diagnostic::error(
                    format!("{position} must be {}, found the descriptor `{name}`", describe(param)),
                    span,
                    format!("expected {}", describe(param)),
                )
                .with_help(format!("write it as {}", signature(spec)))
            } else {
                let same_kind = calls::CONSTANTS.iter().filter(|c| c.param == param).map(|c| c.name);
                let any = calls::CONSTANTS.iter().map(|c| c.name);
                let suggestion = did_you_mean(name, same_kind).or_else(|| did_you_mean(name, any));
                let d = Diagnostic::error(format!("unknown constant `{name}`"), span, "not a known constant");
                match suggestion {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(choices_help),
                }
            };
            self.report(d);
            return;
        };
        if constant.param != param {
            self.report(
                Diagnostic::error(
                    format!("`{name}` is {}, not {}", describe(constant.param), describe(param)),
                    span,
                    format!("expected {}", describe(param)),
                )
                .with_help(choices_help),
            );
            return;
        }
        if let Some(why) = constant.unsupported {
            let d = Diagnostic::error(format!("`{name}` is not supported: {why}"), span, "not simulated yet");
            self.report(if choices.is_empty() {
                d
            } else {
                d.with_help(choices_help)
            });
        }
    }

    /// The `$var`s of an argument.
    fn arg_vars(&mut self, arg: &Arg, scope: &Scope) {
        match &arg.kind {
            ArgKind::Num(n) => self.num(n, scope),
            ArgKind::Inet(addr) => {
                if let crate::ast::IpSpec::V4(octets) = &addr.ip {
                    for n in octets {
                        self.num(n, scope);
                    }
                }
                self.num(&addr.port, scope);
            }
            ArgKind::Name(_) | ArgKind::Size(_) | ArgKind::Str(_) | ArgKind::Flags(_) | ArgKind::Abstract(_) => {}
        }
    }

    fn expectation(&mut self, expect: &Expectation, scope: &Scope) {
        for outcome in &expect.alternatives {
            match outcome {
                Outcome::Value { value, addr, .. } => {
                    self.num(value, scope);
                    if let Some(AddrMatch::Inet(addr)) = addr {
                        self.addr_pattern(addr, scope);
                    }
                }
                Outcome::Error(errno) => self.errno(errno),
                Outcome::Addr(AddrMatch::Inet(addr)) => self.addr_pattern(addr, scope),
                Outcome::Addr(AddrMatch::Unix(_)) => {}
            }
        }
    }

    fn errno(&mut self, errno: &Ident) {
        if sim_kernel::Errno::from_name(&errno.name).is_some() {
            return;
        }
        let names = sim_kernel::Errno::ALL.iter().map(|e| e.name());
        self.report(
            Diagnostic::error(
                format!("unknown errno `{}`", errno.name),
                errno.span,
                "not an errno the simulator knows",
            )
            .with_suggestion(did_you_mean(&errno.name, names)),
        );
    }

    fn addr_pattern(&mut self, pattern: &AddrPattern, scope: &Scope) {
        if let crate::ast::IpSpec::V4(octets) = &pattern.ip {
            for n in octets {
                self.num(n, scope);
            }
        }
        match &pattern.port {
            PortPattern::Any => {}
            PortPattern::Exact(n) => self.num(n, scope),
            PortPattern::Range(low, high) => {
                self.num(low, scope);
                self.num(high, scope);
            }
        }
    }

    fn num(&mut self, n: &Num, scope: &Scope) {
        if let Num::Var(v) = n {
            self.var(v, scope);
        }
    }

    /// `$name` must be the variable of an enclosing `for`.
    fn var(&mut self, var: &Ident, scope: &Scope) {
        let name = var.name.as_str();
        if scope.loops.iter().any(|l| l == name) {
            return;
        }
        let d = Diagnostic::error(
            format!("`${name}` is not a loop variable here"),
            var.span,
            "no enclosing `for` binds it",
        );
        let d = if scope.bound.contains(name) {
            d.with_help(format!("`{name}` is a descriptor: write it without `$`"))
        } else if let Some(s) = did_you_mean(name, scope.loops.iter().map(String::as_str)) {
            d.with_help(format!("did you mean `${s}`?"))
        } else {
            d.with_help(format!("`${name}` needs an enclosing `for {name} in A..B {{`"))
        };
        self.report(d);
    }
}

fn duplicate(what: &str, name: &Ident, earlier: Span) -> Diagnostic {
    Diagnostic::error(
        format!("{what} `{}` is declared twice", name.name),
        name.span,
        "declared again here",
    )
    .with_secondary(earlier, "first declared here")
    .with_help(format!("give each {what} its own name"))
}

/// `ip` with every bit past `prefix` cleared (IPv4 and IPv6 never compare equal).
fn masked(ip: std::net::IpAddr, prefix: u8) -> std::net::IpAddr {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix.min(32))).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix.min(128))).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

/// How messages name what a parameter takes.
fn describe(param: Param) -> &'static str {
    match param {
        Param::Fd => "a descriptor",
        Param::Domain => "an address family",
        Param::Type => "a socket type",
        Param::Protocol => "a protocol",
        Param::SockAddr => "a socket address",
        Param::Int => "a number",
        Param::Payload => "data to send",
        Param::Level => "an option level",
        Param::OptName => "a socket option",
        Param::How => "a shutdown direction",
        Param::FcntlCmd => "an fcntl command",
        Param::FileFlags => "file status flags",
        Param::EpollOp => "an epoll_ctl operation",
        Param::EpollEvents => "epoll events",
        Param::EpollFlags => "epoll_create1 flags",
        Param::Resource => "a resource",
        Param::Path => "a path in quotes",
        Param::Mode => "permission bits",
        Param::MsgFlags => "recv flags",
        Param::Control => "control data",
    }
}

/// A call written out with an example for each parameter, optional ones in brackets.
fn signature(spec: &CallSpec) -> String {
    let examples: Vec<&str> = spec
        .params
        .iter()
        .map(|p| match p {
            Param::Fd => "s",
            Param::Domain => "AF_INET",
            Param::Type => "SOCK_STREAM",
            Param::Protocol => "IPPROTO_TCP",
            Param::SockAddr => "10.0.0.1:80",
            Param::Int => "N",
            Param::Payload => "\"data\"",
            Param::Level => "SOL_SOCKET",
            Param::OptName => "SO_REUSEADDR",
            Param::How => "SHUT_WR",
            Param::FcntlCmd => "F_SETFL",
            Param::FileFlags => "O_NONBLOCK",
            Param::EpollOp => "EPOLL_CTL_ADD",
            Param::EpollEvents => "EPOLLIN",
            Param::EpollFlags => "0",
            Param::Resource => "RLIMIT_NOFILE",
            Param::Path => "\"/run/app\"",
            Param::Mode => "0755",
            Param::MsgFlags => "MSG_PEEK",
            Param::Control => "SCM_RIGHTS, fd",
        })
        .collect();
    let required = spec.min_args().min(examples.len());
    let mut text = examples[..required].join(", ");
    for optional in &examples[required..] {
        text.push_str(if text.is_empty() { "[" } else { "[, " });
        text.push_str(optional);
        text.push(']');
    }
    format!("`{}({text})`", spec.name)
}

fn list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => "no supported constant yet".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    const WORLD: &str = "\
network lan 10.0.0.0/24 latency=100us
host server 10.0.0.1 on lan
host client {
    addr 10.0.0.2 on lan
    sysctl net.ipv4.ip_local_port_range = 40000 40009
}
";

    /// The diagnostics for `WORLD` plus `rest`, with the source they refer to.
    fn check_text(rest: &str) -> (String, Vec<Diagnostic>) {
        let source = format!("{WORLD}{rest}");
        let scenario = parse(&source).unwrap_or_else(|d| panic!("{}", d.render("t.scn", &source, false)));
        let diagnostics = check(&scenario);
        for d in &diagnostics {
            assert!(d.render("t.scn", &source, false).starts_with("error: "));
        }
        (source, diagnostics)
    }

    /// `body` as the body of process `server/test`.
    fn in_process(body: &str) -> String {
        format!("process server/test {{\n{body}\n}}\n")
    }

    /// Exactly one diagnostic, whose message contains `message`, pointing at `at`.
    #[track_caller]
    fn assert_error(rest: &str, message: &str, at: &str) -> Diagnostic {
        let (source, diagnostics) = check_text(rest);
        let [d] = diagnostics.as_slice() else {
            panic!("wanted one error about {message:?}, got {diagnostics:#?}");
        };
        assert!(d.message.contains(message), "wanted {message:?}, got {d:#?}");
        assert_eq!(&source[d.span.start..d.span.end], at, "{d:#?}");
        d.clone()
    }

    #[track_caller]
    fn assert_clean(rest: &str) {
        let (source, diagnostics) = check_text(rest);
        let rendered: Vec<String> = diagnostics.iter().map(|d| d.render("t.scn", &source, false)).collect();
        assert!(diagnostics.is_empty(), "{}", rendered.join("\n"));
    }

    fn help(d: &Diagnostic) -> &str {
        d.help.as_deref().unwrap_or("")
    }

    #[test]
    fn a_correct_scenario_is_clean() {
        assert_clean(
            "process server/httpd {
    l = socket(AF_INET, SOCK_STREAM)
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, 1) = 0
    bind(l, 0.0.0.0:80) = 0
    listen(l, 128) = 0
    repeat 2 {
        c = accept(l) = 4 (10.0.0.2:*)
        recv(c, 100) = 5 \"hello\"
        close(c)
    }
}
process client/curl at 1ms {
    for i in 1..3 {
        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP)
        connect(s, 10.0.0.1:80) = 0 | -1 ECONNREFUSED
        getsockname(s) = 10.0.0.2:40000..40009
        fork w$i {
            send(s, 64KiB)
            shutdown(s, SHUT_WR) = 0
            exit
        }
        close(s)
    }
}
",
        );
    }

    #[test]
    fn unknown_calls() {
        let d = assert_error(
            &in_process("s = sockt(AF_INET, SOCK_STREAM)"),
            "unknown call `sockt`",
            "sockt",
        );
        assert_eq!(help(&d), "did you mean `socket`?");
        assert_clean(&in_process("accept4(3, SOCK_NONBLOCK)"));
        assert_clean(&in_process("accept4(3, 0)"));
        let d = assert_error(&in_process("exit(0)"), "`exit` is a statement, not a call", "exit");
        assert_eq!(help(&d), "write it without parentheses: `exit ...`");
        assert_clean(&in_process("s = socket(AF_INET, SOCK_STREAM)"));
    }

    #[test]
    fn arity() {
        let d = assert_error(
            &in_process("s = socket(AF_INET)"),
            "wrong number of arguments to `socket`: expected 2..3, found 1",
            "socket(AF_INET)",
        );
        assert_eq!(help(&d), "write it as `socket(AF_INET, SOCK_STREAM[, IPPROTO_TCP])`");
        assert_error(&in_process("bind(3)"), "expected 2, found 1", "bind(3)");
        assert_error(&in_process("close(3, 4)"), "expected 1, found 2", "close(3, 4)");
        assert_clean(&in_process(
            "s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)\nlisten(s)\nlisten(s, 5)",
        ));
    }

    #[test]
    fn unknown_constants() {
        let d = assert_error(
            &in_process("setsockopt(3, SOL_SOCKET, SO_REUSEADR, 1)"),
            "unknown constant `SO_REUSEADR`",
            "SO_REUSEADR",
        );
        assert_eq!(help(&d), "did you mean `SO_REUSEADDR`?");
        let d = assert_error(
            &in_process("shutdown(3, NOTHING_LIKE_IT)"),
            "unknown constant",
            "NOTHING_LIKE_IT",
        );
        assert!(help(&d).contains("`SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`"), "{d:?}");
        assert_clean(&in_process("setsockopt(3, SOL_SOCKET, SO_REUSEADDR, 1)"));
    }

    #[test]
    fn constants_in_the_wrong_position() {
        let d = assert_error(
            &in_process("s = socket(SO_REUSEADDR, SOCK_STREAM)"),
            "`SO_REUSEADDR` is a socket option, not an address family",
            "SO_REUSEADDR",
        );
        assert_eq!(
            help(&d),
            "argument 1 of `socket` takes `AF_INET`, `AF_INET6`, `AF_UNIX` or `AF_LOCAL`"
        );
        assert_error(
            &in_process("setsockopt(3, SO_REUSEADDR, SO_REUSEADDR, 1)"),
            "`SO_REUSEADDR` is a socket option, not an option level",
            "SO_REUSEADDR",
        );
        assert_clean(&in_process("setsockopt(3, SOL_SOCKET, SO_REUSEADDR, 1)"));
    }

    #[test]
    fn unsupported_constants() {
        assert_error(
            &in_process("setsockopt(3, SOL_SOCKET, SO_KEEPALIVE, 1)"),
            "`SO_KEEPALIVE` is not supported: keepalive is not simulated yet",
            "SO_KEEPALIVE",
        );
        assert_clean(&in_process("s = socket(AF_UNIX, SOCK_SEQPACKET)"));
        assert_clean(&in_process(
            "s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK)",
        ));
    }

    #[test]
    fn users_and_control_data() {
        let world = "host h {\n    user alice 1000\n    user alice 1001\n    user root 5\n}\n";
        let (_, d) = check_text(&format!("{world}process h/p as bob {{\n    exit\n}}\n"));
        let messages: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "user `alice` is declared twice on host `h`",
                "`root` is always defined (uid 0)",
                "unknown user `bob` on host `h`"
            ]
        );
        assert_clean(&in_process(
            "a, b = socketpair(AF_UNIX, SOCK_SEQPACKET)\nsendmsg(a, \"x\", SCM_RIGHTS, b, 0, SCM_CREDENTIALS)\nc = recvmsg(b, 10)",
        ));
        assert_error(
            &in_process("a, b = socketpair(AF_UNIX, SOCK_DGRAM)\nsendmsg(a, \"x\", SCM_RIGHTS)"),
            "`SCM_RIGHTS` needs at least one descriptor",
            "SCM_RIGHTS",
        );
        assert_error(
            &in_process("a, b = socketpair(AF_UNIX, SOCK_DGRAM)\nsendmsg(a, \"x\", b)"),
            "a descriptor must follow `SCM_RIGHTS`",
            "b",
        );
        assert_error(
            &in_process("a, b = socketpair(AF_UNIX, SOCK_DGRAM)\nsendmsg(a, \"x\", SCM_RIGHTS, b, \"/x\")"),
            "the destination of `sendmsg` comes right after the data",
            "\"/x\"",
        );
        assert_error(
            &in_process("a, b = socketpair(AF_UNIX, SOCK_DGRAM)\nsendmsg(a, \"x\", SCM_RIGHTS, nope)"),
            "unknown descriptor `nope`",
            "nope",
        );
    }

    #[test]
    fn arguments_of_the_wrong_kind() {
        let d = assert_error(
            &in_process("bind(3, 64KiB)"),
            "argument 2 of `bind` must be a socket address, found a size",
            "64KiB",
        );
        assert_eq!(help(&d), "write it as `bind(s, 10.0.0.1:80)`");
        assert_clean(&in_process(
            "bind(3, \"/run/app.sock\")\nbind(3, @\"app\")\nbind(3, AF_UNIX)",
        ));
        let d = assert_error(
            &in_process("unlink(3)"),
            "argument 1 of `unlink` must be a path in quotes",
            "3",
        );
        assert_eq!(help(&d), "write the path in quotes: \"/run/app\"");
        assert_error(
            &in_process("listen(3, 64KiB)"),
            "argument 2 of `listen` must be a number, found a size",
            "64KiB",
        );
        let d = assert_error(
            &in_process("send(3, hello)"),
            "must be data to send, found the name `hello`",
            "hello",
        );
        assert_eq!(help(&d), "put text in quotes: \"hello\"");
        assert_error(
            &in_process("s = socket(AF_INET, 1)"),
            "must be a socket type, found a number",
            "1",
        );
        assert_error(
            &in_process("close(10.0.0.1:80)"),
            "must be a descriptor, found a socket address",
            "10.0.0.1:80",
        );
        assert_clean(&in_process(
            "send(3, 64KiB)\nsend(3, 100)\nsend(3, \"x\")\ns = socket(AF_INET, SOCK_STREAM, 0)",
        ));
    }

    #[test]
    fn unknown_errnos() {
        let d = assert_error(
            &in_process("bind(3, 0.0.0.0:80) = -1 EADDRINUS"),
            "unknown errno `EADDRINUS`",
            "EADDRINUS",
        );
        assert_eq!(help(&d), "did you mean `EADDRINUSE`?");
        assert_clean(&in_process("bind(3, 0.0.0.0:80) = 0 | -1 EADDRINUSE | -1 EINVAL"));
    }

    #[test]
    fn descriptors_must_be_bound_earlier_in_the_process() {
        let d = assert_error(&in_process("close(x)"), "unknown descriptor `x`", "x");
        assert_eq!(help(&d), "bind it first, as in `x = socket(AF_INET, SOCK_STREAM)`");
        // Used before it is bound.
        assert_error(
            &in_process("close(s)\ns = socket(AF_INET, SOCK_STREAM)"),
            "unknown descriptor `s`",
            "s",
        );
        // A typo gets a suggestion.
        let d = assert_error(
            &in_process("sock = socket(AF_INET, SOCK_STREAM)\nclose(sokc)"),
            "`sokc`",
            "sokc",
        );
        assert_eq!(help(&d), "did you mean `sock`?");
        // Bound in another process.
        assert_error(
            &format!(
                "{}{}",
                in_process("s = socket(AF_INET, SOCK_STREAM)"),
                "process client/x {\nclose(s)\n}\n"
            ),
            "unknown descriptor `s`",
            "s",
        );
        // A constant is not a descriptor.
        assert_error(
            &in_process("close(AF_INET)"),
            "must be a descriptor, found the constant `AF_INET`",
            "AF_INET",
        );
        // A descriptor is not a constant.
        assert_error(
            &in_process("s = socket(AF_INET, SOCK_STREAM)\nshutdown(s, s)"),
            "must be a shutdown direction, found the descriptor `s`",
            "s",
        );
        // Literal descriptors are allowed.
        assert_clean(&in_process("close(3)"));
    }

    #[test]
    fn bindings_are_scoped_to_the_process_and_inherited_by_forks() {
        // A binding inside a loop body stays visible after it, and in nested blocks.
        assert_clean(&in_process(
            "l = socket(AF_INET, SOCK_STREAM)\nrepeat 2 {\n  c = accept(l)\n  for i in 1..2 {\n    close(c)\n  }\n}\nclose(c)",
        ));
        // A fork child sees what its parent bound before the fork.
        assert_clean(&in_process(
            "s = socket(AF_INET, SOCK_STREAM)\nfork child {\n  close(s)\n}\nclose(s)",
        ));
        // What the child binds stays in the child.
        assert_error(
            &in_process("fork child {\n  t = socket(AF_INET, SOCK_STREAM)\n  close(t)\n}\nclose(t)"),
            "unknown descriptor `t`",
            "t",
        );
        // The child does not see what the parent binds after the fork.
        assert_error(
            &in_process("fork child {\n  close(u)\n}\nu = socket(AF_INET, SOCK_STREAM)"),
            "unknown descriptor `u`",
            "u",
        );
    }

    #[test]
    fn binding_more_names_than_the_call_returns() {
        let d = assert_error(
            &in_process("x = bind(3, 0.0.0.0:80)"),
            "`bind` returns no descriptor to bind",
            "x",
        );
        assert!(help(&d).starts_with("call it without `=`"), "{d:?}");
        assert_error(
            &in_process("a, b, c = socket(AF_INET, SOCK_STREAM)"),
            "`socket` returns 1 value, but 3 names are bound",
            "b, c",
        );
        assert_clean(&in_process("a = socket(AF_INET, SOCK_STREAM)\nb = accept(a)"));
    }

    #[test]
    fn loop_variables() {
        let d = assert_error(&in_process("listen(3, $n)"), "`$n` is not a loop variable here", "$n");
        assert_eq!(help(&d), "`$n` needs an enclosing `for n in A..B {`");
        let d = assert_error(
            &in_process("for port in 1..2 {\n  bind(3, 10.0.0.1:$prot)\n}"),
            "`$prot`",
            "$prot",
        );
        assert_eq!(help(&d), "did you mean `$port`?");
        let d = assert_error(&in_process("s = socket(AF_INET, SOCK_STREAM)\nclose($s)"), "`$s`", "$s");
        assert_eq!(help(&d), "`s` is a descriptor: write it without `$`");
        assert_error(&in_process("fork w$k {\n}"), "`$k` is not a loop variable here", "$k");
        assert_error(
            &in_process("for i in 1..2 {\n}\nlisten(3, $i)"),
            "`$i` is not a loop variable",
            "$i",
        );
        assert_error(&in_process("repeat $r {\n}"), "`$r`", "$r");
        assert_error(&in_process("getsockname(3) = 10.0.0.$o:*"), "`$o`", "$o");
        assert_clean(&in_process(
            "for i in 1..3 {\n  for j in $i..3 {\n    bind(3, 10.0.0.$i:$j) = $j\n    fork w$i-$j {\n      listen(3, $i)\n    }\n  }\n}",
        ));
    }

    #[test]
    fn unknown_hosts_and_networks() {
        let d = assert_error("process sever/x {\n}\n", "unknown host `sever`", "sever");
        assert_eq!(help(&d), "did you mean `server`?");
        let d = assert_error("host h 10.0.0.5 on lam\n", "unknown network `lam`", "lam");
        assert_eq!(help(&d), "did you mean `lan`?");
        assert_error("host h {\n  addr 10.0.0.5 on wan\n}\n", "unknown network `wan`", "wan");
        assert_clean("host h 10.0.0.5 on lan\nprocess h/x {\n}\n");
        // Declarations are global: a host may name a network declared further down.
        assert_clean("host h 10.1.0.5 on later\nnetwork later 10.1.0.0/16\n");
        // Partitions name networks too, timed or from a process.
        let d = assert_error(
            "network wan 10.1.0.0/24\nhost r {\n  addr 10.1.0.1 on wan\n  nat masquerade out wna\n}\n",
            "unknown network `wna`",
            "wna",
        );
        assert!(format!("{d:?}").contains("did you mean `wan`?"), "{d:?}");
        let d = assert_error("at 5s partition lam\n", "unknown network `lam`", "lam");
        assert_eq!(help(&d), "did you mean `lan`?");
        let d = assert_error(
            "process server/x {\n  heal wlan0\n}\n",
            "unknown network `wlan0`",
            "wlan0",
        );
        assert_eq!(help(&d), "declare it first: `network wlan0 10.0.0.0/24`");
        assert_clean("at 5s partition lan\nat 7s heal lan\nprocess server/x {\n  partition lan\n}\n");
    }

    #[test]
    fn duplicate_names() {
        let d = assert_error("network lan 10.9.0.0/16\n", "network `lan` is declared twice", "lan");
        assert_eq!(d.notes[0].span, Some(Span::new(8, 11)));
        assert_error(
            "host server 10.0.0.9 on lan\n",
            "host `server` is declared twice",
            "server",
        );
        assert_error(
            "process server/a {\n}\nprocess server/a {\n}\n",
            "process `server/a` is declared twice",
            "a",
        );
        // The same process name on two hosts is fine.
        assert_clean("process server/a {\n}\nprocess client/a {\n}\n");
        assert_error(
            "host other 10.0.0.1 on lan\n",
            "address 10.0.0.1 is assigned twice on network `lan`",
            "10.0.0.1 on lan",
        );
    }

    #[test]
    fn addresses_must_lie_in_their_network() {
        let d = assert_error(
            "host h {\n  addr 10.0.1.5 on lan\n}\n",
            "address 10.0.1.5 is outside network `lan` (10.0.0.0/24)",
            "addr 10.0.1.5 on lan",
        );
        assert_eq!(d.notes[0].text, "the network is declared here");
        assert_clean("host h 10.0.0.254 on lan\nnetwork all 0.0.0.0/0\nhost g 192.0.2.1 on all\n");
    }

    #[test]
    fn sysctls() {
        let d = assert_error(
            "host h {\n  sysctl net.ipv4.tcp_tw_reus = 1\n}\n",
            "unknown sysctl `net.ipv4.tcp_tw_reus`",
            "net.ipv4.tcp_tw_reus",
        );
        assert_eq!(help(&d), "did you mean `net.ipv4.tcp_tw_reuse`?");
        assert!(d.notes[0].text.contains("net.core.somaxconn"), "{d:?}");
        assert_error(
            "host h {\n  sysctl net.ipv4.ip_local_port_range = 40000\n}\n",
            "`net.ipv4.ip_local_port_range` takes 2 values, found 1",
            "40000",
        );
        assert_error(
            "host h {\n  sysctl net.ipv4.tcp_tw_reuse = 3\n}\n",
            "value 3 is out of range for `net.ipv4.tcp_tw_reuse`",
            "3",
        );
        assert_error(
            "host h {\n  sysctl net.ipv4.ip_local_port_range = 9 1\n}\n",
            "empty port range: 9 is greater than 1",
            "9 1",
        );
        assert_error(
            "host h {\n  sysctl net.core.somaxconn = 1\n  sysctl net.core.somaxconn = 2\n}\n",
            "sysctl `net.core.somaxconn` is set twice on host `h`",
            "net.core.somaxconn",
        );
        assert_clean("host h {\n  sysctl net.core.somaxconn = 128\n  sysctl net.ipv4.tcp_tw_reuse = 1\n}\n");
    }

    #[test]
    fn loop_bounds() {
        let d = assert_error(
            &in_process("for i in 10..1 {\n}"),
            "empty `for` range: 10 is greater than 1",
            "for i in 10..1 {",
        );
        assert_eq!(help(&d), "ranges count up and include both ends: `1..10`");
        assert_error(
            &in_process("repeat -1 {\n}"),
            "`repeat` count -1 is negative",
            "repeat -1 {",
        );
        assert_clean(&in_process("for i in 1..1 {\n}\nfor j in -3..-1 {\n}\nrepeat 0 {\n}"));
    }

    #[test]
    fn reports_everything_in_file_order() {
        let (source, diagnostics) =
            check_text("process nowhere/a {\n  sockt()\n  close(x) = -1 EWHAT\n}\nhost h 10.0.0.9 on nonet\n");
        let found: Vec<&str> = diagnostics.iter().map(|d| &source[d.span.start..d.span.end]).collect();
        assert_eq!(found, ["nowhere", "sockt", "x", "EWHAT", "nonet"]);
    }
}
