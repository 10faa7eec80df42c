//! Exhaustive small-scope search: every schedule of a scenario, not a sample of seeds.
//!
//! A run's *schedule* is its list of scheduling decisions ([`sim_core::Decision`]): at each
//! instant where several processes could run, which one did. [`search`] visits every distinct
//! schedule by stateless re-execution: it runs the scenario with a prefix of choices and
//! first-come-first-served (choice 0) after it, then backtracks to the deepest decision with an
//! untried choice, and so on, depth first. With `depth = Some(K)` only the first K decisions
//! of a run branch; later ones always choose 0. Every run uses the same seed, so ports,
//! sequence numbers and everything else the seed decides are fixed; only the interleaving
//! varies. Outcomes are abstracted exactly as in a seed sweep ([`crate::explore::outcome`]).
//!
//! ## Pruning: sleep sets over a conservative independence relation
//!
//! Many schedules differ only in the order of steps that *commute*: running A then B leaves the
//! world exactly as B then A does (up to the numbering of pids, sockets and epoll instances,
//! and the order of the runnable list, none of which an outcome shows). The search prunes
//! them with Godefroid's *sleep sets*: after it has explored everything that follows step A
//! at some decision, it explores the sibling B with A "asleep"; A stays asleep as long as the
//! steps taken are independent of A, and a schedule that would run a sleeping step is cut,
//! because swapping that step back to where it was asleep gives a schedule already explored,
//! with the same final state. Sleep sets never remove a reachable final state, so with an
//! unbounded depth the set of outcomes found is exactly the set of reachable outcomes.
//!
//! The pruning is only as sound as the independence relation, so that is kept deliberately
//! small. A step is a process's run from its pick to its next call (see
//! [`crate::interp::ProcessScript::step`]) together with everything that follows from it at
//! the same virtual instant (loopback deliveries, zero-latency links), as the trace shows it.
//! Its [`Footprint`] is:
//!
//! * [`Footprint::Local`] (a *quiet* step) when it put no packet on any network and made only
//!   calls that touch nothing but its own host's kernel state (`socket`, `bind`, `listen`,
//!   `accept`, `recv`, `getsockname`, `setsockopt`, `fcntl`, `epoll_ctl`, `epoll_wait`,
//!   `close`, `shutdown`, …; also `sleep`, `fork`, `exit`, `ss`, `note`, and retrying a call
//!   that blocks again). The only events such a step can schedule are self-contained: its own
//!   wake-up (`sleep`, `epoll_wait`'s timeout) and a FIN_WAIT2 timer (`close` of a connection
//!   whose FIN was already acknowledged); when they fire they touch only that host and
//!   schedule nothing further. A packet is what starts chains of further events, so any
//!   packet makes a step not quiet;
//! * [`Footprint::Reaches`] otherwise, with its own host and the source and destination host
//!   of every packet it and its same-instant consequences sent;
//! * [`Footprint::Global`] when a packet's address names no host of the scenario.
//!
//! Two steps are independent only if their footprints are disjoint **and at least one of them
//! is quiet**. Why that is safe: a quiet step reads and writes only its own host (and its own
//! process), which the other step does not touch at this instant; the events it schedules
//! touch only its host and start no chain of further events, so whichever order the two
//! steps' events end up in the queue, they act on different hosts and nothing descends from
//! the quiet step's to meet the other's later. What each step does cannot depend on the
//! other, and the two orders end in the same state. Two steps that both send packets are
//! never treated as independent, even toward disjoint hosts: their packets would be queued in
//! the other order, and proving that such orders never meet at one host in one instant
//! (through forwarding, say) is more than this search tries to do. Steps of processes on the
//! same host are always dependent.
//!
//! Two more facts the argument needs hold in socksim: a step is identified by its process (a
//! process's next step is the same transition until it runs, since what it does depends only
//! on its own state and on the hosts in its footprint), and a runnable process stays runnable
//! until it runs, so a sleeping step is never disabled and the clock cannot move on while one
//! sleeps.
//!
//! The scheduler does not say which process each choice index stands for until the choice is
//! made, so a sleeping step is recognised when a run reaches it: the run is stopped there and
//! counted as pruned ([`Exhaustive::pruned`]); the schedules below it are never run.
//!
//! All of this is for one seed: ports, initial sequence numbers and other random draws come
//! from the seed's streams, and "every reachable outcome" means every outcome reachable by
//! some interleaving under that seed.
//!
//! With a finite `depth`, runs longer than the depth finish first come, first served, and a
//! pruned schedule's representative may finish differently than the pruned one would have: a
//! depth-limited search is an under-approximation either way, and [`Exhaustive::truncated`]
//! says how many runs reached the limit. When it is 0 (and the schedule limit was not hit)
//! the list of outcomes is complete.

use crate::ast::Scenario;
use crate::explore::{
    FailureKey, PortSet, RunOutcome, outcome, percent, plural, render_failure, render_outcomes, shell_quote,
};
use crate::run::{RunOptions, StepDone, StepObserver, TraceEvent};
use crate::schedule::{After, ScheduleFile};
use serde::{Deserialize, Serialize};
use sim_kernel::World;
use sim_kernel::packet::PacketSummary;
use sim_kernel::syscall::Syscall;
use sim_kernel::trace::Event;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

/// The `format` field of every [`Exhaustive`] result.
pub const FORMAT: &str = "socksim-exhaustive/1";

/// The default limit on the number of runs.
pub const DEFAULT_MAX_SCHEDULES: u64 = 100_000;

/// What to search.
#[derive(Clone, Copy, Debug)]
pub struct ExhaustiveOptions {
    /// The seed of every run (default: the scenario's `seed`, else 0).
    pub seed: Option<u64>,
    /// Branch only at the first `depth` decisions of a run (`None`: at every decision).
    pub depth: Option<usize>,
    /// Stop after this many runs (explored and pruned together), reporting the search as
    /// incomplete.
    pub max_schedules: u64,
    /// Turn the pruning off (every schedule is run): for checking the pruning itself.
    pub no_prune: bool,
}

impl Default for ExhaustiveOptions {
    fn default() -> Self {
        ExhaustiveOptions {
            seed: None,
            depth: None,
            max_schedules: DEFAULT_MAX_SCHEDULES,
            no_prune: false,
        }
    }
}

/// What a step touched, as far as the pruning is concerned (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Footprint {
    /// A quiet step: only this host's state, no packet, no future event.
    Local(usize),
    /// A step that sent packets (or may have armed timers): these hosts.
    Reaches(BTreeSet<usize>),
    /// A step whose reach is unknown: dependent on every other step.
    Global,
}

impl Footprint {
    /// Whether the two steps commute (see the module docs).
    pub fn independent(&self, other: &Footprint) -> bool {
        match (self, other) {
            (Footprint::Local(a), Footprint::Local(b)) => a != b,
            (Footprint::Local(a), Footprint::Reaches(hosts)) | (Footprint::Reaches(hosts), Footprint::Local(a)) => {
                !hosts.contains(a)
            }
            _ => false,
        }
    }
}

/// Whether `call`, when it puts no packet on a network, touches only its own host and
/// schedules nothing but self-contained events there: its own wake-up (`epoll_wait`'s
/// timeout) or a FIN_WAIT2 timer (`close` of a connection whose FIN was already
/// acknowledged, `tcp_close`), which when they fire touch only that host and schedule nothing
/// further. Calls not listed (including any added to the kernel later) count as not quiet.
fn quiet_call(call: &Syscall) -> bool {
    matches!(
        call,
        Syscall::Socket { .. }
            | Syscall::Bind { .. }
            | Syscall::Listen { .. }
            | Syscall::Accept { .. }
            | Syscall::Accept4 { .. }
            | Syscall::Recv { .. }
            | Syscall::RecvFrom { .. }
            | Syscall::GetSockName { .. }
            | Syscall::GetPeerName { .. }
            | Syscall::GetSockOpt { .. }
            | Syscall::SetSockOpt { .. }
            | Syscall::Fcntl { .. }
            | Syscall::EpollCreate1 { .. }
            | Syscall::EpollCtl { .. }
            | Syscall::EpollWait { .. }
            | Syscall::Close { .. }
            | Syscall::Shutdown { .. }
            | Syscall::SetRlimit { .. }
            | Syscall::GetRlimit { .. }
    )
}

/// Which host owns an address, from the scenario's declarations.
struct AddressBook {
    /// (network, address) -> host.
    on_network: BTreeMap<(String, IpAddr), usize>,
    /// address -> hosts having it on some network.
    anywhere: BTreeMap<IpAddr, BTreeSet<usize>>,
}

impl AddressBook {
    fn new(scenario: &Scenario) -> AddressBook {
        let mut on_network = BTreeMap::new();
        let mut anywhere: BTreeMap<IpAddr, BTreeSet<usize>> = BTreeMap::new();
        for (i, h) in scenario.hosts.iter().enumerate() {
            for a in &h.addrs {
                on_network.insert((a.network.name.clone(), a.addr), i);
                anywhere.entry(a.addr).or_default().insert(i);
            }
        }
        AddressBook { on_network, anywhere }
    }

    /// The host that `ip` on `network` belongs to; loopback addresses belong to `own`.
    fn resolve(&self, network: &str, ip: IpAddr, own: usize) -> Option<usize> {
        if ip.is_loopback() {
            return Some(own);
        }
        if let Some(&h) = self.on_network.get(&(network.to_string(), ip)) {
            return Some(h);
        }
        let hosts = self.anywhere.get(&ip)?;
        if network == "lo" && hosts.contains(&own) {
            return Some(own);
        }
        match hosts.len() {
            1 => hosts.first().copied(),
            _ => None,
        }
    }

    /// The footprint of a finished step.
    fn footprint(&self, step: &StepDone<'_>) -> Footprint {
        let own = step.host;
        let mut quiet = true;
        let mut hosts = BTreeSet::from([own]);
        for record in step.records {
            let TraceEvent::Kernel(event) = &record.event else {
                continue;
            };
            match event {
                Event::Syscall { pid, call, .. } => {
                    if *pid != step.pid {
                        return Footprint::Global;
                    }
                    quiet &= quiet_call(call);
                }
                Event::Packet { network, packet } => {
                    quiet = false;
                    for ip in packet_ips(packet) {
                        match self.resolve(network, ip, own) {
                            Some(h) => {
                                hosts.insert(h);
                            }
                            None => return Footprint::Global,
                        }
                    }
                }
                Event::Drop { network, packet, .. } => {
                    // A dropped packet schedules nothing; its ends still count when known.
                    quiet = false;
                    for ip in packet_ips(packet) {
                        if let Some(h) = self.resolve(network, ip, own) {
                            hosts.insert(h);
                        }
                    }
                }
                Event::Spawn { .. }
                | Event::Ss { .. }
                | Event::Conntrack { .. }
                | Event::Note { .. }
                | Event::Exit { .. } => {}
                // A partition changes what every later packet on the network meets.
                Event::Link { .. } => return Footprint::Global,
            }
        }
        if quiet {
            Footprint::Local(own)
        } else {
            Footprint::Reaches(hosts)
        }
    }
}

/// The source and destination addresses of a traced packet.
fn packet_ips(packet: &PacketSummary) -> [IpAddr; 2] {
    match packet {
        PacketSummary::Tcp(s) => [s.src.ip(), s.dst.ip()],
        PacketSummary::Udp { src, dst, .. } => [src.ip(), dst.ip()],
        PacketSummary::IcmpPortUnreachable { src, dst, .. } | PacketSummary::IcmpError { src, dst, .. } => [*src, *dst],
    }
}

/// A step identified by its process (a process's next step is the same transition until the
/// process runs), with the footprint it had when it was explored.
type Transition = (u32, Footprint);

/// One decision point on the current path of the depth-first search.
#[derive(Debug)]
struct Node {
    /// How many processes could run.
    options: u32,
    /// The choice the current path takes.
    chosen: u32,
    /// Steps asleep on entry.
    sleep: Vec<Transition>,
    /// Steps already explored from here (earlier choices).
    done: Vec<Transition>,
    /// The step the current choice took, once it ran.
    current: Option<Transition>,
}

/// The search's view of one run in progress.
struct Walk<'s> {
    book: &'s AddressBook,
    stack: &'s mut Vec<Node>,
    /// Decisions at or beyond this index do not branch.
    limit: usize,
    prune: bool,
    /// The first node whose choice is new in this run (the nodes before it are replayed).
    branch: usize,
    /// The steps asleep now.
    sleep: Vec<Transition>,
    /// The decision that picked the step in progress, if it is a node at or after `branch`.
    node: Option<usize>,
    /// Set when the run was cut because it would run a sleeping step.
    redundant: bool,
}

impl Walk<'_> {
    fn asleep(&self, set: &[Transition], pid: u32) -> bool {
        self.prune && set.iter().any(|(p, _)| *p == pid)
    }
}

impl StepObserver for Walk<'_> {
    fn before_step(&mut self, world: &World, pid: u32, decision: Option<usize>) -> bool {
        self.node = None;
        match decision {
            Some(d) if d >= self.limit => {
                // Beyond the depth: first come, first served, nothing pruned.
                self.sleep.clear();
                true
            }
            Some(d) if d < self.branch => true,
            Some(d) => {
                if d == self.stack.len() {
                    let made = world.scheduler().decisions()[d];
                    self.stack.push(Node {
                        options: made.options,
                        chosen: made.chosen,
                        sleep: self.sleep.clone(),
                        done: Vec::new(),
                        current: None,
                    });
                }
                let node = &self.stack[d];
                if self.asleep(&node.sleep, pid) {
                    self.redundant = true;
                    return false;
                }
                self.node = Some(d);
                true
            }
            None => {
                if self.asleep(&self.sleep, pid) {
                    self.redundant = true;
                    return false;
                }
                true
            }
        }
    }

    fn after_step(&mut self, _: &World, step: &StepDone<'_>) {
        let footprint = self.book.footprint(step);
        match self.node.take() {
            Some(d) => {
                let node = &mut self.stack[d];
                self.sleep = node
                    .sleep
                    .iter()
                    .chain(&node.done)
                    .filter(|(_, f)| f.independent(&footprint))
                    .cloned()
                    .collect();
                node.current = Some((step.pid, footprint));
            }
            None => self.sleep.retain(|(_, f)| f.independent(&footprint)),
        }
    }
}

/// One outcome of an exhaustive search.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExhaustiveOutcome {
    /// The outcome (see [`crate::explore`]).
    pub text: String,
    /// How many explored schedules produced it (pruned equivalents not counted).
    pub count: u64,
    /// The first schedule (in search order) that produced it: its choices, trailing
    /// first-come-first-served choices left out. Replay it with `after fifo`.
    pub schedule: Vec<u32>,
    /// Whether it breaks an expectation.
    pub fails: bool,
}

/// A class of failed expectation, with its schedules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExhaustiveFailure {
    /// Which expectation, and what happened instead.
    #[serde(flatten)]
    pub key: FailureKey,
    /// How many explored schedules broke it.
    pub count: u64,
    /// The first of them.
    pub schedule: Vec<u32>,
}

/// Runs that stopped with an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExhaustiveError {
    /// The error.
    pub message: String,
    /// How many schedules.
    pub count: u64,
    /// The first of them.
    pub schedule: Vec<u32>,
}

/// What an exhaustive search found (`socksim explore FILE --exhaustive --format json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exhaustive {
    /// Always [`FORMAT`].
    pub format: String,
    /// The socksim version.
    pub socksim: String,
    /// The scenario file, as given on the command line.
    pub file: String,
    /// The seed of every run.
    pub seed: u64,
    /// The depth limit, if any.
    pub depth: Option<usize>,
    /// Schedules run to the end (each a representative of its class of equivalent ones).
    pub schedules: u64,
    /// Schedules cut because they would only reorder commuting steps of one already explored.
    pub pruned: u64,
    /// Explored schedules that made more decisions than `depth` (their tails were not branched).
    pub truncated: u64,
    /// Whether the search stopped at the schedule limit before finishing.
    pub limit_reached: bool,
    /// The distinct outcomes, by count (descending), then schedule.
    pub outcomes: Vec<ExhaustiveOutcome>,
    /// The failed expectations.
    pub failures: Vec<ExhaustiveFailure>,
    /// How many explored schedules broke at least one expectation.
    pub failing: u64,
    /// Runs that stopped with an error.
    pub errors: Vec<ExhaustiveError>,
}

impl Exhaustive {
    /// Whether the outcomes listed are all the reachable ones.
    pub fn complete(&self) -> bool {
        self.truncated == 0 && !self.limit_reached
    }

    /// Whether any schedule broke an expectation.
    pub fn failed(&self) -> bool {
        self.failing > 0
    }

    /// The schedule file that replays outcome `i`'s witness.
    pub fn schedule_file(&self, schedule: &[u32]) -> ScheduleFile {
        ScheduleFile {
            seed: self.seed,
            after: After::Fifo,
            choices: schedule.to_vec(),
            comments: Vec::new(),
        }
    }
}

/// The choices of a run, trailing zeros dropped.
fn trimmed(choices: impl IntoIterator<Item = u32>) -> Vec<u32> {
    let mut v: Vec<u32> = choices.into_iter().collect();
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

#[derive(Default)]
struct Found {
    outcomes: BTreeMap<String, (u64, Vec<u32>, bool)>,
    failures: BTreeMap<FailureKey, (u64, Vec<u32>)>,
    errors: BTreeMap<String, (u64, Vec<u32>)>,
    failing: u64,
}

impl Found {
    fn add(&mut self, schedule: Vec<u32>, o: RunOutcome) {
        let fails = !o.failures.is_empty();
        self.failing += u64::from(fails);
        let e = self.outcomes.entry(o.text).or_insert((0, schedule.clone(), fails));
        e.0 += 1;
        for f in o.failures {
            self.failures.entry(f).or_insert((0, schedule.clone())).0 += 1;
        }
    }
}

/// Visits every schedule of `scenario` (see the module docs) and groups them by outcome.
/// `progress` is told after every run.
pub fn search(
    scenario: &Scenario,
    source: &str,
    file: &str,
    options: &ExhaustiveOptions,
    progress: &dyn Fn(u64),
) -> Exhaustive {
    let seed = options.seed.or(scenario.seed).unwrap_or(0);
    let ports = PortSet::literal(scenario);
    let book = AddressBook::new(scenario);
    let limit = options.depth.unwrap_or(usize::MAX);
    let mut stack: Vec<Node> = Vec::new();
    let mut found = Found::default();
    let (mut schedules, mut pruned, mut truncated) = (0u64, 0u64, 0u64);
    let mut limit_reached = false;
    let mut branch = 0;
    loop {
        if schedules + pruned >= options.max_schedules {
            limit_reached = true;
            break;
        }
        let prefix: Vec<u32> = stack.iter().map(|n| n.chosen).collect();
        let mut padding = 1024;
        let run = loop {
            stack.truncate(prefix.len());
            let mut choices = prefix.clone();
            choices.resize(prefix.len() + padding, 0);
            let run_options = RunOptions {
                seed: Some(seed),
                schedule: Some(choices),
                trace: true,
                results: true,
                ..Default::default()
            };
            let mut walk = Walk {
                book: &book,
                stack: &mut stack,
                limit,
                prune: !options.no_prune,
                branch,
                sleep: Vec::new(),
                node: None,
                redundant: false,
            };
            let result = crate::run::run_observed(scenario, source, &run_options, &mut walk);
            let redundant = walk.redundant;
            match result {
                Ok(Some(report)) if report.decisions.len() > prefix.len() + padding => {
                    // The padding ran out and the seed's stream chose: run again with more.
                    padding = report.decisions.len() * 2;
                }
                other => break other.map(|r| (r, redundant)),
            }
        };
        match run {
            Ok((None, _)) | Ok((Some(_), true)) => pruned += 1,
            Ok((Some(report), false)) => {
                schedules += 1;
                if report.decisions.len() > limit {
                    truncated += 1;
                }
                let schedule = trimmed(report.decisions.iter().map(|d| d.chosen));
                found.add(schedule, outcome(&report, source, &ports));
            }
            Err(d) => {
                schedules += 1;
                let (line, column) = crate::diagnostic::line_col(source, d.span.start);
                let message = format!("line {line}:{column}: {}", d.message);
                found.errors.entry(message).or_insert((0, trimmed(prefix.clone()))).0 += 1;
            }
        }
        progress(1);
        // Backtrack to the deepest decision with an untried choice.
        loop {
            let depth = stack.len();
            let Some(node) = stack.last_mut() else { break };
            if let Some(t) = node.current.take() {
                node.done.push(t);
            }
            if depth <= limit && node.chosen + 1 < node.options {
                node.chosen += 1;
                break;
            }
            stack.pop();
        }
        if stack.is_empty() {
            break;
        }
        branch = stack.len() - 1;
    }
    let mut outcomes: Vec<ExhaustiveOutcome> = found
        .outcomes
        .into_iter()
        .map(|(text, (count, schedule, fails))| ExhaustiveOutcome {
            text,
            count,
            schedule,
            fails,
        })
        .collect();
    outcomes.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.schedule.cmp(&b.schedule)));
    let mut failures: Vec<ExhaustiveFailure> = found
        .failures
        .into_iter()
        .map(|(key, (count, schedule))| ExhaustiveFailure { key, count, schedule })
        .collect();
    failures.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.schedule.cmp(&b.schedule)));
    let errors = found
        .errors
        .into_iter()
        .map(|(message, (count, schedule))| ExhaustiveError {
            message,
            count,
            schedule,
        })
        .collect();
    Exhaustive {
        format: FORMAT.to_string(),
        socksim: env!("CARGO_PKG_VERSION").to_string(),
        file: file.to_string(),
        seed,
        depth: options.depth,
        schedules,
        pruned,
        truncated,
        limit_reached,
        outcomes,
        failures,
        failing: found.failing,
        errors,
    }
}

fn schedule_text(schedule: &[u32]) -> String {
    if schedule.is_empty() {
        "(first come, first served throughout)".to_string()
    } else {
        let list: Vec<String> = schedule.iter().map(u32::to_string).collect();
        list.join(" ")
    }
}

/// The result as `socksim explore --exhaustive` prints it: laid out like a seed sweep
/// ([`crate::explore::render_text`]), with schedules in place of seeds. `saved` names the
/// schedule file written for each outcome, if any (`--save-schedules`).
pub fn render_text(r: &Exhaustive, saved: &[String]) -> String {
    let mut out = String::new();
    let file = shell_quote(&r.file);
    let depth = r.depth.map_or("unlimited".to_string(), |d| d.to_string());
    let _ = writeln!(
        out,
        "{}: every schedule (seed {}, depth {depth}): {} explored, {} pruned as reorderings of commuting steps, {}",
        r.file,
        r.seed,
        plural(r.schedules, "schedule", "schedules"),
        r.pruned,
        plural(r.outcomes.len() as u64, "distinct outcome", "distinct outcomes")
    );
    if r.complete() {
        out.push_str("the search is complete: these are all the reachable outcomes\n");
    } else {
        if r.truncated > 0 {
            let _ = writeln!(
                out,
                "incomplete: {} reached the depth limit and finished first come, first served",
                plural(r.truncated, "schedule", "schedules")
            );
        }
        if r.limit_reached {
            out.push_str("incomplete: the search stopped at the schedule limit (--max-schedules)\n");
        }
    }
    let texts: Vec<&str> = r.outcomes.iter().map(|o| o.text.as_str()).collect();
    render_outcomes(&mut out, &texts, |out, i| {
        let o = &r.outcomes[i];
        let _ = writeln!(
            out,
            "\noutcome {}: {} of {} ({}), schedule {}{}",
            i + 1,
            plural(o.count, "schedule", "schedules"),
            r.schedules,
            percent(o.count, r.schedules),
            schedule_text(&o.schedule),
            if o.fails { ", breaks an expectation" } else { "" }
        );
        if let Some(path) = saved.get(i) {
            let _ = writeln!(out, "    (replay: socksim run {file} --schedule {})", shell_quote(path));
        }
    });
    if r.failed() {
        let _ = writeln!(
            out,
            "expectations: broken in {} of {} ({})",
            plural(r.failing, "schedule", "schedules"),
            r.schedules,
            percent(r.failing, r.schedules)
        );
        for e in &r.failures {
            let how_often = plural(e.count, "schedule", "schedules");
            let first = format!("first schedule {}", schedule_text(&e.schedule));
            render_failure(&mut out, &r.file, &e.key, &how_often, &first);
        }
        let first_failing = r.outcomes.iter().position(|o| o.fails);
        match first_failing.and_then(|i| saved.get(i)) {
            Some(path) => {
                let _ = writeln!(out, "replay with: socksim run {file} --schedule {}", shell_quote(path));
            }
            None => {
                out.push_str("save the schedules with --save-schedules DIR, then replay one with: ");
                let _ = writeln!(out, "socksim run {file} --schedule DIR/outcome-N.sched");
            }
        }
    } else {
        let _ = writeln!(
            out,
            "expectations: held in all {}",
            plural(r.schedules, "schedule", "schedules")
        );
    }
    if !r.errors.is_empty() {
        out.push_str("run errors:\n");
        for e in &r.errors {
            let _ = writeln!(
                out,
                "  {}: {}, first schedule {}",
                e.message,
                plural(e.count, "schedule", "schedules"),
                schedule_text(&e.schedule)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_quiet_steps_on_other_hosts_commute() {
        let local = |h| Footprint::Local(h);
        let reaches = |hs: &[usize]| Footprint::Reaches(hs.iter().copied().collect());
        assert!(local(0).independent(&local(1)));
        assert!(!local(0).independent(&local(0)));
        assert!(local(2).independent(&reaches(&[0, 1])));
        assert!(reaches(&[0, 1]).independent(&local(2)));
        assert!(!local(1).independent(&reaches(&[0, 1])));
        assert!(!reaches(&[0]).independent(&reaches(&[1])), "two senders never commute");
        assert!(!Footprint::Global.independent(&local(3)));
        assert!(!local(3).independent(&Footprint::Global));
    }

    #[test]
    fn trailing_defaults_are_trimmed() {
        assert_eq!(trimmed([0, 1, 0, 0]), vec![0, 1]);
        assert!(trimmed([0, 0]).is_empty());
    }
}
