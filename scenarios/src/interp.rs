//! The interpreter: runs one process's statements, one system call per scheduling step.
//!
//! Each process keeps a stack of frames (its body, and any `repeat`/`for` loops inside it) and
//! its variables. [`ProcessScript::step`] runs statements until the process makes a system
//! call, sleeps, forks or ends; views (`ss`, `note`) run in between without yielding. A call
//! that blocks is retried on the next step, after the kernel wakes the process.

use crate::ast::{self, ArgKind, Num, Outcome, PortPattern, Stmt, StmtKind, TemplatePart};
use crate::calls;
use crate::diagnostic::Diagnostic;
use serde::Serialize;
use sim_kernel::syscall::{Cmsg, How, Payload, SockAddr, SysReturn, Syscall, UnixAddr};
use sim_kernel::{Pid, World};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;

/// Statements a process may run between two system calls before the run is stopped: a
/// guard against loops that never yield (`repeat 1000000000 { note "x" }`).
pub const MAX_STATEMENTS_PER_STEP: u32 = 1_000_000;

/// An expectation that did not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The process.
    pub pid: u32,
    /// Where the expectation is written.
    pub span: ast::Span,
    /// The call as written.
    pub call: String,
    /// The expectation as written (`= 0`).
    pub expected: String,
    /// What happened, as the trace prints it.
    pub actual: String,
}

/// Where an expectation's result goes.
pub trait Observer {
    /// An expectation was checked.
    fn checked(&mut self, world: &World, held: Option<Failure>);

    /// A call completed (after its expectation, if any, was checked): `held` says whether the
    /// expectation held, `None` when the statement has none. The default ignores it; the
    /// runner records it when asked for per-process results (`RunOptions::results`).
    fn completed(&mut self, pid: Pid, stmt: &Stmt, call: &Syscall, ret: &SysReturn, held: Option<bool>) {
        let _ = (pid, stmt, call, ret, held);
    }
}

#[derive(Clone, Debug)]
enum FrameKind {
    Body,
    Repeat { remaining: i64 },
    For { var: String, next: i64, last: i64 },
}

#[derive(Clone, Debug)]
struct Frame<'a> {
    body: &'a [Stmt],
    pc: usize,
    kind: FrameKind,
}

/// What happened in one step.
#[derive(Debug)]
pub enum Step<'a> {
    /// The process made progress and stays runnable or blocked as the kernel decided.
    Continue,
    /// The process forked; this is the child's script (its pid is `script.pid()`).
    Forked(ProcessScript<'a>),
    /// The process ended.
    Exited,
}

/// One process's script and its position in it.
#[derive(Debug)]
pub struct ProcessScript<'a> {
    pid: Pid,
    frames: Vec<Frame<'a>>,
    /// Names bound to results (`s = socket(...)`).
    vars: BTreeMap<String, i64>,
    /// `for` variables in scope (`$p`).
    loop_vars: BTreeMap<String, i64>,
    /// The call that blocked and will be retried.
    pending: Option<(&'a Stmt, Syscall)>,
    /// The statement the last step stopped at (its call, sleep, fork or exit).
    current: Option<&'a Stmt>,
}

impl<'a> ProcessScript<'a> {
    /// A script for `pid` running `body`.
    pub fn new(pid: Pid, body: &'a [Stmt]) -> Self {
        ProcessScript {
            pid,
            frames: vec![Frame {
                body,
                pc: 0,
                kind: FrameKind::Body,
            }],
            vars: BTreeMap::new(),
            loop_vars: BTreeMap::new(),
            pending: None,
            current: None,
        }
    }

    /// The statement the last [`ProcessScript::step`] stopped at: the call it made (or
    /// retried), the `sleep`, `fork` or `exit`; `None` before the first step and when the
    /// process ended by running off the end of its body.
    pub fn current_stmt(&self) -> Option<&'a Stmt> {
        self.current
    }

    /// The process this script drives.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The call the process waits in, if any.
    pub fn pending_call(&self) -> Option<&Syscall> {
        self.pending.as_ref().map(|(_, c)| c)
    }

    /// Runs until the next system call, sleep, fork or exit.
    pub fn step(
        &mut self,
        world: &mut World,
        source: &str,
        observer: &mut dyn Observer,
    ) -> Result<Step<'a>, Diagnostic> {
        if let Some((stmt, call)) = self.pending.take() {
            self.current = Some(stmt);
            return self.finish_call(world, source, stmt, call, true, observer);
        }
        let mut budget = MAX_STATEMENTS_PER_STEP;
        loop {
            let Some(stmt) = self.next_stmt()? else {
                self.current = None;
                world.exit(self.pid);
                return Ok(Step::Exited);
            };
            self.current = Some(stmt);
            budget -= 1;
            if budget == 0 {
                return Err(Diagnostic::error(
                    format!("the process ran {MAX_STATEMENTS_PER_STEP} statements without a system call"),
                    stmt.span,
                    "stopped here",
                )
                .with_help("put a call or a `sleep` inside the loop"));
            }
            match &stmt.kind {
                StmtKind::Call { call, .. } => {
                    let syscall = self.lower_call(call)?;
                    return self.finish_call(world, source, stmt, syscall, false, observer);
                }
                StmtKind::Repeat { count, body } => {
                    let n = self.num(count)?;
                    self.frames.push(Frame {
                        body,
                        pc: 0,
                        kind: FrameKind::Repeat { remaining: n },
                    });
                }
                StmtKind::For { var, from, to, body } => {
                    let (from, to) = (self.num(from)?, self.num(to)?);
                    self.frames.push(Frame {
                        body,
                        pc: 0,
                        kind: FrameKind::For {
                            var: var.name.clone(),
                            next: from,
                            last: to,
                        },
                    });
                }
                StmtKind::Fork { name, body } => {
                    let name = self.template(name)?;
                    let child = world.fork(self.pid, &name);
                    world.yield_now(self.pid);
                    // fork(2): the child inherits the descriptors, hence the names bound to them.
                    let mut script = ProcessScript::new(child, body);
                    script.vars = self.vars.clone();
                    script.loop_vars = self.loop_vars.clone();
                    return Ok(Step::Forked(script));
                }
                StmtKind::Sleep(ns) => {
                    world.sleep(self.pid, sim_core::Duration(*ns));
                    return Ok(Step::Continue);
                }
                StmtKind::Ss => world.trace_ss(self.pid),
                StmtKind::Conntrack(check) => {
                    world.trace_conntrack(self.pid);
                    if let Some(check) = check {
                        let host = world.process(self.pid).host;
                        let lines: Vec<String> = world
                            .conntrack_rows(host)
                            .iter()
                            .map(crate::render::conntrack_line)
                            .collect();
                        let found = lines.iter().any(|l| l.contains(&check.text));
                        let failure = (found != check.present).then(|| Failure {
                            pid: self.pid.0,
                            span: check.span,
                            call: "conntrack".to_string(),
                            expected: slice(source, check.span),
                            actual: if lines.is_empty() {
                                "an empty table".to_string()
                            } else {
                                lines.join(" | ")
                            },
                        });
                        observer.checked(world, failure);
                    }
                }
                StmtKind::Note(text) => world.trace_note(self.pid, text),
                StmtKind::Partition { network, partitioned } => {
                    let Some(net) = world.network_id(&network.name) else {
                        return Err(Diagnostic::error(
                            format!("unknown network `{}`", network.name),
                            network.span,
                            "not declared",
                        ));
                    };
                    if *partitioned {
                        world.partition(net);
                    } else {
                        world.heal(net);
                    }
                }
                StmtKind::Exit => {
                    world.exit(self.pid);
                    return Ok(Step::Exited);
                }
            }
        }
    }

    /// The next statement to run, unwinding finished loops.
    fn next_stmt(&mut self) -> Result<Option<&'a Stmt>, Diagnostic> {
        loop {
            let Some(frame) = self.frames.last_mut() else {
                return Ok(None);
            };
            // Entering (or re-entering) a loop body: check and advance the loop.
            if frame.pc == 0 {
                match &mut frame.kind {
                    FrameKind::Body => {}
                    FrameKind::Repeat { remaining } => {
                        if *remaining <= 0 {
                            self.frames.pop();
                            continue;
                        }
                        *remaining -= 1;
                    }
                    FrameKind::For { var, next, last } => {
                        if *next > *last {
                            let var = var.clone();
                            self.frames.pop();
                            self.loop_vars.remove(&var);
                            continue;
                        }
                        self.loop_vars.insert(var.clone(), *next);
                        *next += 1;
                    }
                }
            }
            if let Some(stmt) = frame.body.get(frame.pc) {
                frame.pc += 1;
                return Ok(Some(stmt));
            }
            match frame.kind {
                FrameKind::Body => {
                    self.frames.pop();
                }
                _ => frame.pc = 0,
            }
        }
    }

    fn finish_call(
        &mut self,
        world: &mut World,
        source: &str,
        stmt: &'a Stmt,
        syscall: Syscall,
        resumed: bool,
        observer: &mut dyn Observer,
    ) -> Result<Step<'a>, Diagnostic> {
        let ret = match world.syscall(self.pid, &syscall, resumed) {
            sim_kernel::Outcome::Blocked => {
                self.pending = Some((stmt, syscall));
                return Ok(Step::Continue);
            }
            sim_kernel::Outcome::Done(ret) => ret,
        };
        let StmtKind::Call { binds, call, expect } = &stmt.kind else {
            unreachable!("only call statements make system calls")
        };
        if let Some(name) = binds.first() {
            let value = match &ret {
                SysReturn::Accepted { fd, .. } => i64::from(*fd),
                SysReturn::Pair { fds } => i64::from(fds[0]),
                SysReturn::Msg { rights, .. } => rights.first().map_or(-1, |&fd| i64::from(fd)),
                other => other.value(),
            };
            self.vars.insert(name.name.clone(), value);
        }
        // `a, b = socketpair(...)`: the second name gets the second descriptor (-1 on failure).
        if let Some(name) = binds.get(1) {
            let value = match &ret {
                SysReturn::Pair { fds } => i64::from(fds[1]),
                other => other.value(),
            };
            self.vars.insert(name.name.clone(), value);
        }
        let mut held = None;
        if let Some(expect) = expect {
            let ok = self.matches(expect, &ret)?;
            let failure = (!ok).then(|| Failure {
                pid: self.pid.0,
                span: expect.span,
                call: slice(source, call.span),
                expected: slice(source, expect.span),
                actual: format!("= {}", crate::render::format_return(&ret)),
            });
            observer.checked(world, failure);
            held = Some(ok);
        }
        observer.completed(self.pid, stmt, &syscall, &ret, held);
        Ok(Step::Continue)
    }

    fn matches(&self, expect: &ast::Expectation, ret: &SysReturn) -> Result<bool, Diagnostic> {
        for alt in &expect.alternatives {
            let ok = match alt {
                Outcome::Error(name) => ret.errno().is_some_and(|e| e.name() == name.name),
                Outcome::Value {
                    value,
                    data,
                    addr,
                    detail,
                } => {
                    ret.errno().is_none()
                        && ret.value() == self.num(value)?
                        && match data {
                            None => true,
                            Some(d) => matches!(
                                ret,
                                SysReturn::Data { data } | SysReturn::DataFrom { data, .. } | SysReturn::Msg { data, .. }
                                    if data == d.as_bytes()
                            ),
                        }
                        && match detail {
                            None => true,
                            Some(want) => crate::render::bracket_detail(ret)
                                .is_some_and(|got| crate::render::normalize_detail(&got) == *want),
                        }
                        && match addr {
                            None => true,
                            Some(p) => match ret {
                                SysReturn::Accepted { peer: a, .. }
                                | SysReturn::DataFrom { from: a, .. }
                                | SysReturn::Msg { from: Some(a), .. } => self.addr_matches(p, a)?,
                                _ => false,
                            },
                        }
                }
                Outcome::Addr(p) => match ret {
                    SysReturn::Addr { addr } => self.addr_matches(p, addr)?,
                    _ => false,
                },
            };
            if ok {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn addr_matches(&self, p: &ast::AddrMatch, a: &SockAddr) -> Result<bool, Diagnostic> {
        let p = match (p, a) {
            (ast::AddrMatch::Inet(p), SockAddr::Inet(_)) => p,
            (ast::AddrMatch::Unix(p), SockAddr::Unix(a)) => {
                return Ok(match (p, a) {
                    (ast::UnixPattern::Path(want), UnixAddr::Path(got)) => want == got,
                    (ast::UnixPattern::Abstract(want), UnixAddr::Abstract(got)) => want.as_bytes() == got.as_slice(),
                    (ast::UnixPattern::AnyAbstract, UnixAddr::Abstract(_)) => true,
                    (ast::UnixPattern::Unnamed, UnixAddr::Unnamed) => true,
                    _ => false,
                });
            }
            _ => return Ok(false),
        };
        let SockAddr::Inet(a) = *a else { return Ok(false) };
        match (&p.ip, a.ip()) {
            (ast::IpSpec::V4(octets), IpAddr::V4(got)) => {
                for (want, got) in octets.iter().zip(got.octets()) {
                    if self.num(want)? != i64::from(got) {
                        return Ok(false);
                    }
                }
            }
            (ast::IpSpec::V6(want), IpAddr::V6(got)) if *want == got => {}
            _ => return Ok(false),
        }
        let port = i64::from(a.port());
        Ok(match &p.port {
            PortPattern::Any => true,
            PortPattern::Exact(n) => self.num(n)? == port,
            PortPattern::Range(lo, hi) => (self.num(lo)?..=self.num(hi)?).contains(&port),
        })
    }

    fn num(&self, n: &Num) -> Result<i64, Diagnostic> {
        match n {
            Num::Lit(v) => Ok(*v),
            Num::Var(id) => self.loop_vars.get(&id.name).copied().ok_or_else(|| {
                Diagnostic::error(
                    format!("`${}` is not a loop variable here", id.name),
                    id.span,
                    "unbound",
                )
            }),
        }
    }

    fn template(&self, t: &ast::Template) -> Result<String, Diagnostic> {
        let mut out = String::new();
        for part in &t.parts {
            match part {
                TemplatePart::Lit(s) => out.push_str(s),
                TemplatePart::Var(id) => out.push_str(&self.num(&Num::Var(id.clone()))?.to_string()),
            }
        }
        Ok(out)
    }

    /// Turns a call as written into a typed system call.
    fn lower_call(&self, call: &ast::Call) -> Result<Syscall, Diagnostic> {
        let args = &call.args;
        let arg = |i: usize| args.get(i);
        let int = |i: usize, default: Option<i64>| -> Result<i64, Diagnostic> {
            match arg(i) {
                None => default.ok_or_else(|| missing(call, i)),
                Some(a) => self.int_arg(a),
            }
        };
        let fd = || -> Result<i32, Diagnostic> { int(0, None).map(|v| v as i32) };
        let sockaddr = |i: usize| -> Result<SockAddr, Diagnostic> {
            match arg(i) {
                Some(a) => self.sockaddr(a),
                None => Err(missing(call, i)),
            }
        };
        let payload = |i: usize| -> Result<Payload, Diagnostic> {
            match arg(i) {
                Some(ast::Arg {
                    kind: ArgKind::Str(s), ..
                }) => Ok(Payload::Bytes(Rc::from(s.as_bytes()))),
                Some(ast::Arg {
                    kind: ArgKind::Size(n), ..
                }) => Ok(Payload::Zeros(*n as usize)),
                Some(a) => Ok(Payload::Zeros(self.int_arg(a)?.max(0) as usize)),
                None => Err(missing(call, i)),
            }
        };
        let path = |i: usize| -> Result<String, Diagnostic> {
            match arg(i) {
                Some(ast::Arg {
                    kind: ArgKind::Str(s), ..
                }) => Ok(s.clone()),
                Some(a) => Err(Diagnostic::error("expected a path in quotes", a.span, "here")),
                None => Err(missing(call, i)),
            }
        };
        let mode = |i: usize, default: Option<i64>| -> Result<u32, Diagnostic> {
            let v = int(i, default)?;
            u32::try_from(v).map_err(|_| Diagnostic::error(format!("mode {v:o} is out of range"), call.span, "here"))
        };
        Ok(match call.name.name.as_str() {
            "socket" => Syscall::Socket {
                domain: int(0, None)? as i32,
                ty: int(1, None)? as i32,
                protocol: int(2, Some(0))? as i32,
            },
            "bind" => Syscall::Bind {
                fd: fd()?,
                addr: sockaddr(1)?,
            },
            "connect" => match arg(1) {
                Some(ast::Arg {
                    kind: ArgKind::Name(name),
                    ..
                }) if name == "AF_UNSPEC" => Syscall::Connect {
                    fd: fd()?,
                    addr: SockAddr::Unspec,
                },
                _ => Syscall::Connect {
                    fd: fd()?,
                    addr: sockaddr(1)?,
                },
            },
            "recvfrom" => Syscall::RecvFrom {
                fd: fd()?,
                len: int(1, None)?.max(0) as usize,
                flags: int(2, Some(0))? as i32,
            },
            "sendto" => {
                let data = payload(1)?;
                Syscall::SendTo {
                    fd: fd()?,
                    data,
                    addr: sockaddr(2)?,
                }
            }
            // listen(fd) without a backlog asks for the most the host allows (SOMAXCONN).
            "listen" => Syscall::Listen {
                fd: fd()?,
                backlog: int(1, Some(4096))?.clamp(-1, i64::from(i32::MAX)) as i32,
            },
            "accept" => Syscall::Accept { fd: fd()? },
            "accept4" => Syscall::Accept4 {
                fd: fd()?,
                flags: int(1, None)? as i32,
            },
            "close" => Syscall::Close { fd: fd()? },
            "getsockname" => Syscall::GetSockName { fd: fd()? },
            "getpeername" => Syscall::GetPeerName { fd: fd()? },
            "send" => {
                let data = payload(1)?;
                Syscall::Send { fd: fd()?, data }
            }
            "recv" => Syscall::Recv {
                fd: fd()?,
                len: int(1, None)?.max(0) as usize,
                flags: int(2, Some(0))? as i32,
            },
            "shutdown" => Syscall::Shutdown {
                fd: fd()?,
                how: match int(1, None)? {
                    0 => How::Read,
                    1 => How::Write,
                    _ => How::Both,
                },
            },
            "getsockopt" => Syscall::GetSockOpt {
                fd: fd()?,
                level: int(1, None)? as i32,
                name: int(2, None)? as i32,
            },
            "fcntl" => Syscall::Fcntl {
                fd: fd()?,
                cmd: int(1, None)? as i32,
                arg: int(2, Some(0))?,
            },
            "epoll_create1" => Syscall::EpollCreate1 {
                flags: int(0, Some(0))? as i32,
            },
            "epoll_ctl" => Syscall::EpollCtl {
                epfd: fd()?,
                op: int(1, None)? as i32,
                fd: int(2, None)? as i32,
                events: int(3, Some(0))? as u32,
            },
            "epoll_wait" => Syscall::EpollWait {
                epfd: fd()?,
                maxevents: int(1, None)?.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
                timeout_ms: int(2, None)?,
            },
            "setrlimit" => Syscall::SetRlimit {
                resource: int(0, None)? as i32,
                soft: int(1, None)?.max(0) as u64,
                hard: int(2, None)?.max(0) as u64,
            },
            "getrlimit" => Syscall::GetRlimit {
                resource: int(0, None)? as i32,
            },
            "socketpair" => Syscall::SocketPair {
                domain: int(0, None)? as i32,
                ty: int(1, None)? as i32,
                protocol: int(2, Some(0))? as i32,
            },
            "dup" => Syscall::Dup { fd: fd()? },
            "dup2" => Syscall::Dup2 {
                oldfd: fd()?,
                newfd: int(1, None)?.clamp(-1, i64::from(i32::MAX)) as i32,
            },
            "mkdir" => Syscall::Mkdir {
                path: path(0)?,
                mode: mode(1, Some(0o777))?,
            },
            "unlink" => Syscall::Unlink { path: path(0)? },
            "chown" => Syscall::Chown {
                path: path(0)?,
                uid: int(1, None)?.clamp(-1, i64::from(u32::MAX)) as u32,
                gid: int(2, None)?.clamp(-1, i64::from(u32::MAX)) as u32,
            },
            "mknod" => Syscall::Mknod {
                path: path(0)?,
                mode: mode(1, None)?,
            },
            "umask" => Syscall::Umask { mask: mode(0, None)? },
            "chmod" => Syscall::Chmod {
                path: path(0)?,
                mode: mode(1, None)?,
            },
            "sendmsg" => {
                let (addr, control) = self.control(&args[2.min(args.len())..])?;
                Syscall::SendMsg {
                    fd: fd()?,
                    data: payload(1)?,
                    addr,
                    control,
                }
            }
            "recvmsg" => Syscall::RecvMsg {
                fd: fd()?,
                len: int(1, None)?.max(0) as usize,
                controllen: int(2, Some(sim_kernel::unix::scm::DEFAULT_CONTROLLEN as i64))?.max(0) as usize,
            },
            "setsockopt" => Syscall::SetSockOpt {
                fd: fd()?,
                level: int(1, None)? as i32,
                name: int(2, None)? as i32,
                value: int(3, None)?,
            },
            other => {
                return Err(Diagnostic::error(
                    format!("`{other}` cannot be run"),
                    call.name.span,
                    "unknown call",
                ));
            }
        })
    }

    /// A socket address argument: `10.0.0.1:80`, a path, `@"name"`, or `AF_UNIX` alone (a
    /// `sockaddr_un` with only its family: autobind for `bind`).
    fn sockaddr(&self, a: &ast::Arg) -> Result<SockAddr, Diagnostic> {
        match &a.kind {
            ArgKind::Inet(inet) => self.inet(inet, a.span).map(SockAddr::Inet),
            ArgKind::Str(path) => Ok(SockAddr::Unix(UnixAddr::Path(path.clone()))),
            ArgKind::Abstract(name) => Ok(SockAddr::Unix(UnixAddr::Abstract(name.as_bytes().to_vec()))),
            ArgKind::Name(name) if name == "AF_UNIX" || name == "AF_LOCAL" => Ok(SockAddr::Unix(UnixAddr::Unnamed)),
            ArgKind::Name(name) if name == "AF_UNSPEC" => Ok(SockAddr::Unspec),
            _ => Err(Diagnostic::error("expected a socket address", a.span, "here")),
        }
    }

    /// `sendmsg`'s control part: an optional destination, then `SCM_RIGHTS` with descriptors
    /// and `SCM_CREDENTIALS`.
    fn control(&self, args: &[ast::Arg]) -> Result<(Option<SockAddr>, Vec<Cmsg>), Diagnostic> {
        let mut addr = None;
        let mut control: Vec<Cmsg> = Vec::new();
        for (i, a) in args.iter().enumerate() {
            match &a.kind {
                ArgKind::Name(n) if n == "SCM_RIGHTS" => control.push(Cmsg::Rights(Vec::new())),
                ArgKind::Name(n) if n == "SCM_CREDENTIALS" => control.push(Cmsg::Credentials),
                ArgKind::Inet(_) | ArgKind::Str(_) | ArgKind::Abstract(_) if i == 0 => addr = Some(self.sockaddr(a)?),
                ArgKind::Name(n) if i == 0 && (n == "AF_UNIX" || n == "AF_LOCAL") => addr = Some(self.sockaddr(a)?),
                _ => {
                    let fd = self.int_arg(a)?.clamp(-1, i64::from(i32::MAX)) as i32;
                    match control.last_mut() {
                        Some(Cmsg::Rights(fds)) => fds.push(fd),
                        _ => {
                            return Err(Diagnostic::error(
                                "a descriptor must follow `SCM_RIGHTS`",
                                a.span,
                                "here",
                            ));
                        }
                    }
                }
            }
        }
        Ok((addr, control))
    }

    /// An integer argument: a literal, `$var`, a constant, or a variable bound to a result.
    fn int_arg(&self, a: &ast::Arg) -> Result<i64, Diagnostic> {
        match &a.kind {
            ArgKind::Num(n) => self.num(n),
            ArgKind::Size(n) => Ok(*n as i64),
            ArgKind::Name(name) => {
                if let Some(v) = self.vars.get(name) {
                    Ok(*v)
                } else if let Some(c) = calls::constant(name) {
                    Ok(c.value)
                } else {
                    Err(Diagnostic::error(
                        format!("`{name}` is not bound here"),
                        a.span,
                        "unknown name",
                    ))
                }
            }
            ArgKind::Flags(names) => names.iter().try_fold(0i64, |acc, name| {
                calls::constant(name)
                    .map(|c| acc | c.value)
                    .ok_or_else(|| Diagnostic::error(format!("unknown constant `{name}`"), a.span, "here"))
            }),
            _ => Err(Diagnostic::error("expected a number", a.span, "here")),
        }
    }

    /// A socket address as written: IPv4 gives a `sockaddr_in`, bracketed IPv6 a
    /// `sockaddr_in6`.
    fn inet(&self, a: &ast::InetAddr, span: ast::Span) -> Result<SocketAddr, Diagnostic> {
        let ip = match &a.ip {
            ast::IpSpec::V4(nums) => {
                let mut octets = [0u8; 4];
                for (o, n) in octets.iter_mut().zip(nums) {
                    let v = self.num(n)?;
                    *o = u8::try_from(v).map_err(|_| {
                        Diagnostic::error(format!("address octet {v} is out of range 0..=255"), span, "here")
                    })?;
                }
                IpAddr::V4(Ipv4Addr::from(octets))
            }
            ast::IpSpec::V6(v6) => IpAddr::V6(*v6),
        };
        let port = self.num(&a.port)?;
        let port = u16::try_from(port)
            .map_err(|_| Diagnostic::error(format!("port {port} is out of range 0..=65535"), span, "here"))?;
        Ok(SocketAddr::new(ip, port))
    }
}

/// Declares a host's `user` lines in the world.
pub fn add_users(world: &mut World, host: sim_kernel::HostId, decl: &ast::HostDecl) -> Result<(), Diagnostic> {
    for u in &decl.users {
        world
            .add_user(host, &u.name.name, u.uid, u.gid)
            .map_err(|e| Diagnostic::error(e.0, u.name.span, "here"))?;
    }
    Ok(())
}

/// Gives a process the user its declaration names (`process HOST/NAME as USER`).
pub fn run_as(world: &mut World, pid: Pid, decl: &ast::ProcessDecl) -> Result<(), Diagnostic> {
    let Some(user) = &decl.user else { return Ok(()) };
    let host = world.process(pid).host;
    let (uid, gid) = world.user(host, &user.name).ok_or_else(|| {
        Diagnostic::error(
            format!("unknown user `{}`", user.name),
            user.span,
            "not declared on this host",
        )
    })?;
    world.set_credentials(pid, uid, gid);
    Ok(())
}

fn missing(call: &ast::Call, i: usize) -> Diagnostic {
    Diagnostic::error(
        format!("`{}` needs argument {}", call.name.name, i + 1),
        call.span,
        "too few arguments",
    )
}

/// The source text of `span`, or an empty string if it does not fit.
pub fn slice(source: &str, span: ast::Span) -> String {
    source.get(span.start..span.end).unwrap_or_default().to_string()
}
