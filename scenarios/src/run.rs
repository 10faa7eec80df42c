//! Running a scenario: build the world from the syntax tree, drive every process's script on
//! the kernel's scheduler, and collect the trace and the expectations' results.

use crate::ast::{self, Scenario};
use crate::diagnostic::Diagnostic;
use crate::interp::{Failure, Observer, ProcessScript, Step};
use serde::Serialize;
use sim_core::{Decision, Instant, Record, TraceSink};
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
        networks.insert(n.name.name.as_str(), id);
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
        for s in &h.sysctls {
            world
                .set_sysctl(id, &s.name.name, &s.values)
                .map_err(|e| Diagnostic::error(e.0, s.span, "here"))?;
        }
    }
    Ok(world)
}

/// Runs `scenario` (already checked) whose text is `source`.
pub fn run(scenario: &Scenario, source: &str, options: &RunOptions) -> Result<RunReport, Diagnostic> {
    let seed = options.seed.or(scenario.seed).unwrap_or(0);
    let mut world = build_world(scenario, seed)?;
    let trace = options.trace.then(SharedTrace::default);
    if let Some(t) = &trace {
        world.set_sink(Box::new(t.clone()));
    }
    if let Some(schedule) = &options.schedule {
        world.replay_schedule(schedule.clone());
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
        scripts.insert(pid, ProcessScript::new(pid, &p.body));
    }
    let mut checks = Checks {
        trace: trace.clone(),
        source,
        checked: 0,
        failures: Vec::new(),
    };
    let until = scenario.until_ns.map(Instant);
    let end = loop {
        match world.next(until) {
            Next::Run(pid) => {
                let script = scripts.get_mut(&pid).expect("every process has a script");
                match script.step(&mut world, source, &mut checks)? {
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
    let decisions = world.scheduler().decisions().to_vec();
    let end_time = world.now();
    drop(world);
    let records = trace.map(|t| t.0.take()).unwrap_or_default();
    Ok(RunReport {
        seed,
        records,
        checked: checks.checked,
        failures: checks.failures,
        end,
        end_time,
        blocked,
        decisions,
    })
}

/// Line and column of a span's start, for reports.
pub fn position(source: &str, span: ast::Span) -> (usize, usize) {
    crate::diagnostic::line_col(source, span.start)
}
