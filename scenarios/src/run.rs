//! Running a scenario: build the world from the syntax tree, drive every process's script on
//! the kernel's scheduler, and collect the trace and the expectations' results.

use crate::ast::{self, Scenario};
use crate::diagnostic::Diagnostic;
use crate::interp::{Failure, Observer, ProcessScript, Step};
use serde::Serialize;
use sim_core::{Decision, Instant, Record, TraceSink};
use sim_kernel::syscall::{SysReturn, Syscall};
use sim_kernel::trace::Event;
use sim_kernel::{Next, Pid, World};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// What one trace line is: a kernel event, or an expectation that did not hold.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TraceEvent {
    /// Something the kernel did.
    Kernel(Event),
    /// An expectation failed at this point.
    Failed(FailedExpectation),
}

/// The trace's record of a failed expectation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailedExpectation {
    /// Always `"expectation_failed"` (the JSON schema's `type`).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The failure.
    #[serde(flatten)]
    pub failure: Failure,
    /// 1-based line of the expectation.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Overrides the scenario's `seed` (default 0 when neither is given).
    pub seed: Option<u64>,
    /// Scheduling choices to replay before drawing new ones.
    pub schedule: Option<Vec<u32>>,
    /// Collect the trace (off for benchmarks and seed sweeps that only need outcomes).
    pub trace: bool,
    /// After the replayed `schedule` runs out, choose `0` (first come, first served) at every
    /// further decision instead of drawing from the seed's stream: the fallback a shrinker
    /// needs. Without a `schedule`, every decision is FIFO.
    pub fifo_after_schedule: bool,
    /// Record each process's completed calls and how it ended ([`RunReport::processes`]):
    /// what a seed sweep compares. Off by default, so a plain run allocates nothing for it.
    pub results: bool,
    /// Record which process ran, and at which statement, at every scheduling decision
    /// ([`RunReport::steps`]): what the shrinker prints.
    pub steps: bool,
    /// Call [`World::check_invariants`] after every step (and once more at the end); a broken
    /// invariant stops the run with an error that names the step, the process and the
    /// statement. It costs time linear in the world's size per step: for tests and property
    /// tests, not for sweeps.
    pub check_invariants: bool,
    /// Keep every packet with payload bytes as the world transmits it
    /// ([`World::start_capture`], returned in [`RunReport::captured`]): the bytes a packet
    /// capture writes, which the trace leaves out.
    pub capture: bool,
}

/// Why the run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Nothing was left to happen.
    Idle,
    /// The `until` limit was reached.
    TimeLimit,
}

/// A process still blocked when the run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Blocked {
    /// Its pid.
    pub pid: u32,
    /// `host/name`.
    pub label: String,
    /// The call it waits in, as the trace prints it.
    pub call: String,
}

/// Everything a run produced.
#[derive(Debug, Serialize)]
pub struct RunReport {
    /// The seed used.
    pub seed: u64,
    /// The trace, in order.
    pub records: Vec<Record<TraceEvent>>,
    /// Expectations checked.
    pub checked: usize,
    /// Expectations that failed.
    pub failures: Vec<Failure>,
    /// Why the run ended.
    pub end: EndReason,
    /// When it ended.
    pub end_time: Instant,
    /// Processes still blocked at the end.
    pub blocked: Vec<Blocked>,
    /// Every scheduling decision.
    pub decisions: Vec<Decision>,
    /// Each process's completed calls and end, in pid order (only with
    /// [`RunOptions::results`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcessRecord>,
    /// One entry per scheduling decision, in order (only with [`RunOptions::steps`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<DecisionStep>,
    /// The transmitted packets that carry payload bytes, in order (only with
    /// [`RunOptions::capture`]).
    #[serde(skip)]
    pub captured: Vec<sim_kernel::packet::Packet>,
}

/// One call a process completed, as [`RunOptions::results`] records it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallRecord {
    /// The call as made (descriptors and addresses resolved).
    pub call: Syscall,
    /// What it returned.
    pub ret: SysReturn,
    /// The statement (the whole line).
    pub stmt: ast::Span,
    /// The call as written (`accept(l)`).
    pub call_span: ast::Span,
    /// The expectation as written (`= 4`), if the statement has one.
    pub expect: Option<ast::Span>,
    /// Whether the expectation held (`None` without one).
    pub held: Option<bool>,
}

/// How a process ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessEnd {
    /// It exited (ran off the end of its body, or `exit`).
    Exited,
    /// It waits in this call.
    Blocked(Syscall),
    /// The time limit stopped it while it was runnable or sleeping.
    Running,
}

/// One process's results, as [`RunOptions::results`] records them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcessRecord {
    /// Its pid (which depends on the order processes were created in).
    pub pid: u32,
    /// `host/name`.
    pub label: String,
    /// The calls it completed, in order.
    pub calls: Vec<CallRecord>,
    /// How it ended.
    pub end: ProcessEnd,
}

/// Who ran at one scheduling decision, as [`RunOptions::steps`] records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DecisionStep {
    /// The decision's index in [`RunReport::decisions`].
    pub index: usize,
    /// When.
    pub at: Instant,
    /// The process that ran.
    pub pid: u32,
    /// `host/name`.
    pub label: String,
    /// The statement its step stopped at (the call it made or retried, a `sleep`, `fork` or
    /// `exit`); `None` when it ended by running off the end of its body.
    pub stmt: Option<ast::Span>,
}

/// The shared trace buffer: the kernel's sink and the runner both append to it, in time order.
#[derive(Clone, Default)]
struct SharedTrace(Rc<RefCell<Vec<Record<TraceEvent>>>>);

impl TraceSink<Event> for SharedTrace {
    fn record(&mut self, at: Instant, event: Event) {
        self.0.borrow_mut().push(Record {
            at,
            event: TraceEvent::Kernel(event),
        });
    }
}

struct Checks<'s> {
    trace: Option<SharedTrace>,
    source: &'s str,
    checked: usize,
    failures: Vec<Failure>,
    /// Completed calls by pid - 1, when recording results.
    results: Option<Vec<Vec<CallRecord>>>,
}

impl Observer for Checks<'_> {
    fn checked(&mut self, world: &World, failure: Option<Failure>) {
        self.checked += 1;
        if let Some(failure) = failure {
            if let Some(trace) = &self.trace {
                let (line, column) = crate::diagnostic::line_col(self.source, failure.span.start);
                let event = FailedExpectation {
                    kind: "expectation_failed",
                    failure: failure.clone(),
                    line,
                    column,
                };
                trace.0.borrow_mut().push(Record {
                    at: world.now(),
                    event: TraceEvent::Failed(event),
                });
            }
            self.failures.push(failure);
        }
    }

    fn completed(&mut self, pid: Pid, stmt: &ast::Stmt, call: &Syscall, ret: &SysReturn, held: Option<bool>) {
        let Some(results) = &mut self.results else {
            return;
        };
        let ast::StmtKind::Call {
            call: written, expect, ..
        } = &stmt.kind
        else {
            return;
        };
        let i = pid.0.saturating_sub(1) as usize;
        if results.len() <= i {
            results.resize_with(i + 1, Vec::new);
        }
        results[i].push(CallRecord {
            call: call.clone(),
            ret: ret.clone(),
            stmt: stmt.span,
            call_span: written.span,
            expect: expect.as_ref().map(|e| e.span),
            held,
        });
    }
}

/// Builds the world a scenario describes (no processes yet).
pub fn build_world(scenario: &Scenario, seed: u64) -> Result<World, Diagnostic> {
    let mut world = World::new(seed);
    let mut networks = BTreeMap::new();
    for n in &scenario.networks {
        let latency = sim_core::Duration(n.latency_ns.unwrap_or(0));
        let id = world
            .add_network(&n.name.name, n.addr, n.prefix, latency)
            .map_err(|e| Diagnostic::error(e.0, n.name.span, "here"))?;
        let faults = sim_kernel::network::LinkFaults {
            jitter: sim_core::Duration(n.jitter_ns.unwrap_or(0)),
            loss_ppm: n.loss_ppm.unwrap_or(0),
            duplicate_ppm: n.duplicate_ppm.unwrap_or(0),
            reorder_ppm: n.reorder_ppm.unwrap_or(0),
        };
        world
            .set_link_faults(id, faults)
            .map_err(|e| Diagnostic::error(e.0, n.span, "here"))?;
        networks.insert(n.name.name.as_str(), id);
    }
    for e in &scenario.link_events {
        let Some(&net) = networks.get(e.network.name.as_str()) else {
            return Err(Diagnostic::error(
                format!("unknown network `{}`", e.network.name),
                e.network.span,
                "not declared",
            ));
        };
        world.schedule_partition(net, Instant(e.at_ns), e.partitioned);
    }
    for h in &scenario.hosts {
        let id = world
            .add_host(&h.name.name)
            .map_err(|e| Diagnostic::error(e.0, h.name.span, "here"))?;
        for a in &h.addrs {
            let Some(&net) = networks.get(a.network.name.as_str()) else {
                return Err(Diagnostic::error(
                    format!("unknown network `{}`", a.network.name),
                    a.network.span,
                    "not declared",
                ));
            };
            world
                .add_addr(id, a.addr, net)
                .map_err(|e| Diagnostic::error(e.0, a.span, "here"))?;
        }
        if h.forward.is_some() {
            world.set_forwarding(id, true);
        }
        for s in &h.sysctls {
            world
                .set_sysctl(id, &s.name.name, &s.values)
                .map_err(|e| Diagnostic::error(e.0, s.span, "here"))?;
        }
        for r in &h.routes {
            let prefix = match r.dest {
                Some((addr, len)) => sim_kernel::route::Prefix { addr, len },
                None => sim_kernel::route::Prefix::default_for(r.via),
            };
            world
                .add_route(id, prefix, r.via)
                .map_err(|e| Diagnostic::error(e.0, r.span, "here"))?;
        }
        for n in &h.nats {
            let rule = nat_rule(&world, id, n, &networks)?;
            world.add_nat_rule(id, rule);
        }
        crate::interp::add_users(&mut world, id, h)?;
    }
    Ok(world)
}

/// The kernel's form of a `nat` rule, with its networks resolved.
fn nat_rule(
    world: &World,
    host: sim_kernel::HostId,
    n: &crate::ast::NatDecl,
    networks: &BTreeMap<&str, sim_kernel::NetId>,
) -> Result<sim_kernel::netfilter::nat::NatRule, Diagnostic> {
    use sim_kernel::netfilter::{conntrack::L4, nat};
    let attached = |ident: &crate::ast::Ident| -> Result<sim_kernel::NetId, Diagnostic> {
        let Some(&net) = networks.get(ident.name.as_str()) else {
            return Err(Diagnostic::error(
                format!("unknown network `{}`", ident.name),
                ident.span,
                "not declared",
            ));
        };
        if !world.host(host).ifaces.iter().any(|i| i.network == net) {
            return Err(Diagnostic::error(
                format!("host `{}` has no address on `{}`", world.host(host).name, ident.name),
                ident.span,
                "not attached to this network",
            ));
        }
        Ok(net)
    };
    let action = match &n.action {
        crate::ast::NatAction::Masquerade => nat::NatAction::Masquerade,
        crate::ast::NatAction::Snat { to, ports } => nat::NatAction::Snat { to: *to, ports: *ports },
        crate::ast::NatAction::Dnat {
            proto,
            dport,
            to,
            to_port,
        } => nat::NatAction::Dnat {
            proto: proto.as_deref().map(|p| if p == "tcp" { L4::Tcp } else { L4::Udp }),
            dport: *dport,
            to: *to,
            to_port: *to_port,
        },
    };
    Ok(nat::NatRule {
        action,
        out: n.out.as_ref().map(attached).transpose()?,
        input: n.input.as_ref().map(attached).transpose()?,
        from: n.from.map(|(addr, len)| sim_kernel::route::Prefix { addr, len }),
        random: n.random,
        random_fully: n.random_fully,
    })
}

/// One process step as a [`StepObserver`] sees it once the step and everything it caused at
/// the same instant (loopback deliveries, zero-latency networks) have happened.
#[derive(Debug)]
pub struct StepDone<'r> {
    /// The process that ran.
    pub pid: u32,
    /// Its host's index in the world (the order of the scenario's `host` declarations).
    pub host: usize,
    /// The decision that picked it (its index in [`RunReport::decisions`]), or `None` when it
    /// was the only runnable process.
    pub decision: Option<usize>,
    /// When it ran.
    pub at: Instant,
    /// The trace records of the step and of its same-instant consequences, in order (empty
    /// unless [`RunOptions::trace`]).
    pub records: &'r [Record<TraceEvent>],
}

/// Watches a run step by step and may stop it early: what the exhaustive search uses to cut
/// schedules that are equivalent to ones already explored.
pub trait StepObserver {
    /// `pid` is about to run; `decision` is the index of the decision that picked it, if there
    /// was a choice. Returning `false` stops the run before the step.
    fn before_step(&mut self, world: &World, pid: u32, decision: Option<usize>) -> bool;

    /// A step finished (see [`StepDone`]); `world` is the state once everything the step
    /// caused at its instant has happened (the clock may have moved on since).
    fn after_step(&mut self, world: &World, step: &StepDone<'_>);

    /// The run ended (nothing left to happen, or the time limit) in this state.
    fn at_end(&mut self, world: &World) {
        let _ = world;
    }
}

/// An observer that watches nothing.
struct Unobserved;

impl StepObserver for Unobserved {
    fn before_step(&mut self, _: &World, _: u32, _: Option<usize>) -> bool {
        true
    }

    fn after_step(&mut self, _: &World, _: &StepDone<'_>) {}
}

/// Runs `scenario` (already checked) whose text is `source`.
pub fn run(scenario: &Scenario, source: &str, options: &RunOptions) -> Result<RunReport, Diagnostic> {
    run_observed(scenario, source, options, &mut Unobserved).map(|r| r.expect("an unobserved run is never stopped"))
}

/// Runs like [`run`], showing every step to `observer`; `Ok(None)` when the observer stopped
/// the run. With [`RunOptions::fifo_after_schedule`] a run may be repeated with a longer
/// padding of zeros, so the observer must accept seeing the same steps again from the start
/// (each repetition begins with the first step).
pub fn run_observed(
    scenario: &Scenario,
    source: &str,
    options: &RunOptions,
    observer: &mut dyn StepObserver,
) -> Result<Option<RunReport>, Diagnostic> {
    if !options.fifo_after_schedule {
        return run_once(scenario, source, options, options.schedule.clone(), observer);
    }
    // The scheduler draws from the seed's stream once a replayed list runs out. To make every
    // later choice 0 instead, replay the list padded with zeros; if the run made more decisions
    // than that, the padding was too short (some were drawn): run again with more.
    let given = options.schedule.as_deref().unwrap_or_default();
    let mut padding = given.len().max(256);
    loop {
        let mut choices = Vec::with_capacity(given.len() + padding);
        choices.extend_from_slice(given);
        choices.resize(given.len() + padding, 0);
        let len = choices.len();
        let Some(report) = run_once(scenario, source, options, Some(choices), observer)? else {
            return Ok(None);
        };
        if report.decisions.len() <= len {
            return Ok(Some(report));
        }
        padding = padding.saturating_mul(2).max(report.decisions.len());
    }
}

fn run_once(
    scenario: &Scenario,
    source: &str,
    options: &RunOptions,
    schedule: Option<Vec<u32>>,
    observer: &mut dyn StepObserver,
) -> Result<Option<RunReport>, Diagnostic> {
    let seed = options.seed.or(scenario.seed).unwrap_or(0);
    let mut world = build_world(scenario, seed)?;
    let trace = options.trace.then(SharedTrace::default);
    if let Some(t) = &trace {
        world.set_sink(Box::new(t.clone()));
    }
    if options.capture {
        world.start_capture();
    }
    if let Some(schedule) = schedule {
        world.replay_schedule(schedule);
    }
    let mut scripts: BTreeMap<Pid, ProcessScript<'_>> = BTreeMap::new();
    for p in &scenario.processes {
        let Some(host) = world.host_id(&p.host.name) else {
            return Err(Diagnostic::error(
                format!("unknown host `{}`", p.host.name),
                p.host.span,
                "not declared",
            ));
        };
        let pid = world.spawn(host, &p.name.name, Instant(p.start_ns));
        crate::interp::run_as(&mut world, pid, p)?;
        scripts.insert(pid, ProcessScript::new(pid, &p.body));
    }
    let mut checks = Checks {
        trace: trace.clone(),
        source,
        checked: 0,
        failures: Vec::new(),
        results: options.results.then(Vec::new),
    };
    let mut steps = Vec::new();
    let until = scenario.until_ns.map(Instant);
    // The step that ran last: (pid, host, decision, when, where its records start).
    let mut last: Option<(u32, usize, Option<usize>, Instant, usize)> = None;
    let finish_step = |world: &World,
                       last: &mut Option<(u32, usize, Option<usize>, Instant, usize)>,
                       observer: &mut dyn StepObserver| {
        let Some((pid, host, decision, at, start)) = last.take() else {
            return;
        };
        let all = trace.as_ref().map(|t| t.0.borrow());
        let records = all.as_deref().map_or(&[][..], |r| {
            // Records at a later instant belong to later events, not to this step.
            let tail = &r[start.min(r.len())..];
            &tail[..tail.iter().take_while(|rec| rec.at == at).count()]
        });
        observer.after_step(
            world,
            &StepDone {
                pid,
                host,
                decision,
                at,
                records,
            },
        );
    };
    let end = loop {
        let decided = world.scheduler().decisions().len();
        let next = world.next(until);
        finish_step(&world, &mut last, observer);
        match next {
            Next::Run(pid) => {
                let decision = (world.scheduler().decisions().len() > decided).then_some(decided);
                if !observer.before_step(&world, pid.0, decision) {
                    return Ok(None);
                }
                let host = world.process(pid).host.0 as usize;
                let start = trace.as_ref().map_or(0, |t| t.0.borrow().len());
                last = Some((pid.0, host, decision, world.now(), start));
                let script = scripts.get_mut(&pid).expect("every process has a script");
                let step = script.step(&mut world, source, &mut checks)?;
                if options.check_invariants
                    && let Err(violation) = world.check_invariants()
                {
                    return Err(invariant_broken(&world, source, pid, script.current_stmt(), &violation));
                }
                if options.steps && world.scheduler().decisions().len() > decided {
                    let p = world.process(pid);
                    steps.push(DecisionStep {
                        index: decided,
                        at: world.scheduler().decisions()[decided].at,
                        pid: pid.0,
                        label: format!("{}/{}", world.host(p.host).name, p.name),
                        stmt: script.current_stmt().map(|s| s.span),
                    });
                }
                match step {
                    Step::Continue => {}
                    Step::Exited => {}
                    Step::Forked(child) => {
                        scripts.insert(child.pid(), child);
                    }
                }
            }
            Next::Idle => break EndReason::Idle,
            Next::TimeLimit => break EndReason::TimeLimit,
        }
    };
    observer.at_end(&world);
    if options.check_invariants
        && let Err(violation) = world.check_invariants()
    {
        let what = format!("a kernel invariant is broken at the end of the run: {violation}");
        return Err(Diagnostic::error(
            what,
            ast::Span { start: 0, end: 0 },
            "in this scenario",
        ));
    }
    let blocked = world
        .processes()
        .iter()
        .filter(|p| !p.exited)
        .filter_map(|p| {
            let call = p
                .blocked_in
                .as_ref()
                .or_else(|| scripts.get(&p.pid).and_then(|s| s.pending_call()))?;
            Some(Blocked {
                pid: p.pid.0,
                label: format!("{}/{}", world.host(p.host).name, p.name),
                call: crate::render::format_call(call),
            })
        })
        .collect();
    let processes = match checks.results.take() {
        None => Vec::new(),
        Some(mut results) => world
            .processes()
            .iter()
            .map(|p| {
                let i = (p.pid.0 - 1) as usize;
                let end = if p.exited {
                    ProcessEnd::Exited
                } else if let Some(call) = p
                    .blocked_in
                    .as_ref()
                    .or_else(|| scripts.get(&p.pid).and_then(|s| s.pending_call()))
                {
                    ProcessEnd::Blocked(call.clone())
                } else {
                    ProcessEnd::Running
                };
                ProcessRecord {
                    pid: p.pid.0,
                    label: format!("{}/{}", world.host(p.host).name, p.name),
                    calls: results.get_mut(i).map(std::mem::take).unwrap_or_default(),
                    end,
                }
            })
            .collect(),
    };
    let decisions = world.scheduler().decisions().to_vec();
    let end_time = world.now();
    let captured = world.take_capture();
    drop(world);
    let records = trace.map(|t| t.0.take()).unwrap_or_default();
    Ok(Some(RunReport {
        seed,
        records,
        checked: checks.checked,
        failures: checks.failures,
        end,
        end_time,
        blocked,
        decisions,
        processes,
        steps,
        captured,
    }))
}

/// The error for a broken kernel invariant after `pid`'s step at `stmt`.
fn invariant_broken(
    world: &World,
    source: &str,
    pid: Pid,
    stmt: Option<&ast::Stmt>,
    violation: &sim_kernel::invariants::Violation,
) -> Diagnostic {
    let p = world.process(pid);
    let label = format!("{}/{}", world.host(p.host).name, p.name);
    let step = world.scheduler().decisions().len();
    let span = stmt.map_or(ast::Span { start: 0, end: 0 }, |s| s.span);
    let (line, _) = crate::diagnostic::line_col(source, span.start);
    let what = match stmt {
        Some(s) => format!(
            "line {line}: `{}`",
            crate::interp::slice(source, s.span)
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
        ),
        None => "the end of its body".to_string(),
    };
    Diagnostic::error(
        format!(
            "a kernel invariant is broken after {label}[{}] ran {what} at {} (after {step} scheduling decisions): {violation}",
            pid.0,
            world.now()
        ),
        span,
        "after this step",
    )
}

/// Line and column of a span's start, for reports.
pub fn position(source: &str, span: ast::Span) -> (usize, usize) {
    crate::diagnostic::line_col(source, span.start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_invariant_names_the_process_the_statement_and_the_time() {
        let source =
            "network lan 10.0.0.0/24\nhost a 10.0.0.1 on lan\nprocess a/p {\n    s = socket(AF_INET, SOCK_STREAM)\n}\n";
        let scenario = crate::load(source).unwrap();
        let mut world = build_world(&scenario, 0).unwrap();
        let host = world.host_id("a").unwrap();
        let pid = world.spawn(host, "p", Instant(0));
        let stmt = &scenario.processes[0].body[0];
        let violation = sim_kernel::invariants::Violation("socket 0 counts 2 references".into());
        let d = invariant_broken(&world, source, pid, Some(stmt), &violation);
        assert_eq!(d.span, stmt.span);
        for part in [
            "a/p[1]",
            "line 4: `s = socket(AF_INET, SOCK_STREAM)`",
            "0.000000",
            "counts 2 references",
        ] {
            assert!(d.message.contains(part), "{part}: {}", d.message);
        }
    }

    #[test]
    fn checking_invariants_changes_nothing_in_a_run() {
        let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/accept-race.scn")).unwrap();
        let scenario = crate::load(&source).unwrap();
        let plain = RunOptions {
            trace: true,
            ..Default::default()
        };
        let checked = RunOptions {
            check_invariants: true,
            ..plain.clone()
        };
        let a = run(&scenario, &source, &plain).unwrap();
        let b = run(&scenario, &source, &checked).unwrap();
        assert_eq!(crate::render::text(&a), crate::render::text(&b));
    }
}
