//! Seed sweeps: run a scenario under many seeds and group the runs by *outcome*.
//!
//! An outcome is what the processes saw, with everything that only reflects the seed's
//! randomness abstracted away:
//!
//! * each process, named `host/name` (a forked child by its own name), contributes the results
//!   of its calls in the order it made them (`accept(3) = 4 (10.0.0.2:*)`), a failed
//!   expectation marked on its line, and the call it ended blocked in, if any;
//! * processes are listed by name, so pids (which depend on the order processes were created)
//!   never matter; two processes with the same name are ordered by what they saw;
//! * a port in a result is kept only if the scenario names it in a call's socket address
//!   (`bind(l, 0.0.0.0:80)`, `connect(s, 10.0.0.1:$p)` with `$p` from a `for` with literal
//!   bounds) or it is 0; any other port was chosen by the kernel (an ephemeral port) and
//!   prints as `*`;
//! * packets, times and sequence numbers are not part of an outcome.
//!
//! [`explore`] runs the seeds (in parallel across seeds, each run single-threaded) with the
//! trace off and collects a [`Sweep`]: per outcome the number of seeds and the smallest one,
//! per failed expectation the same, and the failing seeds. Sweeps merge by adding counts and
//! taking minimums, so the result never depends on how many threads ran it or how the seeds
//! were split into shards. [`ExploreResult`] is the JSON document (`socksim explore --format
//! json`) that [`merge`] joins, and [`render_text`] prints.

use crate::ast::{ArgKind, Num, Scenario, Stmt, StmtKind};
use crate::interp::slice;
use crate::render::{format_call, format_return};
use crate::run::{ProcessEnd, RunOptions, RunReport};
use serde::{Deserialize, Serialize};
use sim_kernel::syscall::SockAddr;
use sim_kernel::syscall::SysReturn;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

/// The `format` field of every [`ExploreResult`].
pub const FORMAT: &str = "socksim-explore/1";

/// A range of seeds, `start..end` (end excluded, as Rust's `A..B`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeedRange {
    /// The first seed.
    pub start: u64,
    /// One past the last seed.
    pub end: u64,
}

impl SeedRange {
    /// How many seeds.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the range holds no seed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

impl FromStr for SeedRange {
    type Err = String;

    /// `A..B` (B excluded) or `A..=B` (B included); at least one seed.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a seed range: write A..B (B excluded) or A..=B, e.g. 0..1000");
        let (a, b, inclusive) = if let Some((a, b)) = s.split_once("..=") {
            (a, b, true)
        } else if let Some((a, b)) = s.split_once("..") {
            (a, b, false)
        } else {
            return Err(bad());
        };
        let num = |t: &str| t.trim().parse::<u64>().map_err(|_| bad());
        let (start, last) = (num(a)?, num(b)?);
        let end = if inclusive {
            last.checked_add(1)
                .ok_or_else(|| format!("`{s}`: the last seed must be below {}", u64::MAX))?
        } else {
            last
        };
        if end <= start {
            return Err(format!("`{s}` holds no seed (the end is excluded: 0..10 is ten seeds)"));
        }
        Ok(SeedRange { start, end })
    }
}

/// One of `count` slices of a seed range: the seeds `s` with `(s - start) % count == index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shard {
    /// Which slice, from 0.
    pub index: u64,
    /// How many slices.
    pub count: u64,
}

impl Shard {
    /// The whole range.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// How many seeds of `range` this shard holds.
    pub fn len_in(&self, range: SeedRange) -> u64 {
        let n = range.len();
        if n > self.index {
            (n - self.index - 1) / self.count + 1
        } else {
            0
        }
    }

    /// The `j`-th seed of `range` in this shard.
    pub fn nth(&self, range: SeedRange, j: u64) -> u64 {
        range.start + self.index + j * self.count
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N`: slice K (from 0) of N.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a shard: write K/N with 0 <= K < N, e.g. 3/16");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index = k.trim().parse::<u64>().map_err(|_| bad())?;
        let count = n.trim().parse::<u64>().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// The ports a scenario names in its calls' socket addresses: the ports an outcome shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortSet(BTreeSet<u16>);

impl PortSet {
    /// Port 0 and every port written in a call's socket address: literally, or as a `for`
    /// variable whose loop has literal bounds (all of the loop's values).
    pub fn literal(scenario: &Scenario) -> PortSet {
        let mut set = BTreeSet::from([0]);
        let mut scopes = Vec::new();
        for p in &scenario.processes {
            collect_ports(&p.body, &mut scopes, &mut set);
        }
        PortSet(set)
    }

    /// Whether an outcome shows `port` as is.
    pub fn contains(&self, port: u16) -> bool {
        self.0.contains(&port)
    }

    /// `ip:port`, or `ip:*` when the port is not one the scenario names. An autobound Unix
    /// name (five hex digits drawn from the seed, `unix_autobind`) shows as `@*`.
    pub fn addr(&self, a: &SockAddr) -> String {
        if let SockAddr::Unix(sim_kernel::syscall::UnixAddr::Abstract(name)) = a
            && name.len() == 5
            && name.iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
        {
            return "@*".to_string();
        }
        let SockAddr::Inet(a) = *a else { return a.to_string() };
        if self.contains(a.port()) {
            a.to_string()
        } else {
            match a {
                SocketAddr::V4(v4) => format!("{}:*", v4.ip()),
                SocketAddr::V6(v6) => format!("[{}]:*", v6.ip()),
            }
        }
    }
}

fn collect_ports(body: &[Stmt], scopes: &mut Vec<(String, Option<(i64, i64)>)>, set: &mut BTreeSet<u16>) {
    let clamp = |v: i64| v.clamp(0, i64::from(u16::MAX)) as u16;
    for stmt in body {
        match &stmt.kind {
            StmtKind::Call { call, .. } => {
                for arg in &call.args {
                    let ArgKind::Inet(a) = &arg.kind else { continue };
                    match &a.port {
                        Num::Lit(v) => {
                            if let Ok(p) = u16::try_from(*v) {
                                set.insert(p);
                            }
                        }
                        Num::Var(id) => {
                            let bounds = scopes.iter().rev().find(|(n, _)| *n == id.name).and_then(|s| s.1);
                            if let Some((lo, hi)) = bounds
                                && lo <= hi
                                && hi >= 0
                                && lo <= i64::from(u16::MAX)
                            {
                                set.extend(clamp(lo)..=clamp(hi));
                            }
                        }
                    }
                }
            }
            StmtKind::For { var, from, to, body } => {
                let bounds = match (from, to) {
                    (Num::Lit(a), Num::Lit(b)) => Some((*a, *b)),
                    _ => None,
                };
                scopes.push((var.name.clone(), bounds));
                collect_ports(body, scopes, set);
                scopes.pop();
            }
            StmtKind::Repeat { body, .. } | StmtKind::Fork { body, .. } => collect_ports(body, scopes, set),
            StmtKind::Sleep(_)
            | StmtKind::Ss
            | StmtKind::Conntrack(_)
            | StmtKind::Note(_)
            | StmtKind::Exit
            | StmtKind::Partition { .. } => {}
        }
    }
}

/// A result as an outcome shows it: as the trace prints it, with unnamed ports as `*`.
pub fn abstract_return(ret: &SysReturn, ports: &PortSet) -> String {
    match ret {
        SysReturn::Addr { addr } => ports.addr(addr),
        SysReturn::Accepted { fd, peer } => format!("{fd} ({})", ports.addr(peer)),
        SysReturn::DataFrom { data, from } => {
            let data = format_return(&SysReturn::Data { data: data.clone() });
            format!("{data} ({})", ports.addr(from))
        }
        SysReturn::Msg { from: Some(from), .. } => {
            let shown = format_return(ret);
            let exact = format!("({from})");
            shown.replacen(&exact, &format!("({})", ports.addr(from)), 1)
        }
        other => format_return(other),
    }
}

/// A failed expectation, abstracted like an outcome: one class of failure in a sweep.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FailureKey {
    /// 1-based line of the expectation.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The call as written (`accept(l)`).
    pub call: String,
    /// The expectation as written (`= 4 (10.0.0.2:*)`).
    pub expected: String,
    /// What happened (`= 4 (10.0.0.3:*)`), ports abstracted.
    pub actual: String,
}

/// What one run amounts to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    /// The outcome's text: one block per process (see the module docs).
    pub text: String,
    /// The expectations that failed, each class once.
    pub failures: BTreeSet<FailureKey>,
}

/// The outcome of a run made with [`RunOptions::results`].
pub fn outcome(report: &RunReport, source: &str, ports: &PortSet) -> RunOutcome {
    let mut failures = BTreeSet::new();
    let mut blocks: Vec<(&str, String)> = Vec::with_capacity(report.processes.len());
    for p in &report.processes {
        let mut block = String::with_capacity(64 * (p.calls.len() + 1));
        block.push_str(&p.label);
        block.push('\n');
        for c in &p.calls {
            let actual = abstract_return(&c.ret, ports);
            let _ = write!(block, "  {} = {actual}", format_call(&c.call));
            if c.held == Some(false) {
                let expected = c.expect.map(|e| slice(source, e)).unwrap_or_default();
                let _ = write!(block, "  !!! expected {expected}");
                let (line, column) = crate::diagnostic::line_col(source, c.expect.unwrap_or(c.stmt).start);
                failures.insert(FailureKey {
                    line,
                    column,
                    call: slice(source, c.call_span),
                    expected,
                    actual: format!("= {actual}"),
                });
            }
            block.push('\n');
        }
        match &p.end {
            ProcessEnd::Exited => {}
            ProcessEnd::Blocked(call) => {
                let _ = writeln!(block, "  {} <blocked>", format_call(call));
            }
            ProcessEnd::Running => block.push_str("  <still running at the time limit>\n"),
        }
        blocks.push((&p.label, block));
    }
    blocks.sort();
    let text = blocks.into_iter().map(|(_, b)| b).collect();
    RunOutcome { text, failures }
}

/// How many seeds, and the smallest of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// How many seeds.
    pub count: u64,
    /// The smallest seed.
    pub smallest_seed: u64,
}

impl Tally {
    /// One seed.
    pub fn one(seed: u64) -> Tally {
        Tally {
            count: 1,
            smallest_seed: seed,
        }
    }

    /// Both tallies together.
    pub fn join(self, other: Tally) -> Tally {
        Tally {
            count: self.count + other.count,
            smallest_seed: self.smallest_seed.min(other.smallest_seed),
        }
    }
}

fn tally_into<K: Ord>(map: &mut BTreeMap<K, Tally>, key: K, t: Tally) {
    map.entry(key).and_modify(|e| *e = e.join(t)).or_insert(t);
}

/// What a sweep found. Merging is adding counts and taking minimums: commutative and
/// associative, so any split of the seeds gives the same sweep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    /// How many seeds ran.
    pub runs: u64,
    /// Per outcome text: its seeds, and whether it breaks an expectation.
    pub outcomes: BTreeMap<String, (Tally, bool)>,
    /// Per failure class: the seeds where it happened.
    pub failures: BTreeMap<FailureKey, Tally>,
    /// The seeds that broke at least one expectation.
    pub failing: Option<Tally>,
    /// Per error message: the seeds whose run stopped with that error (a bad scenario).
    pub errors: BTreeMap<String, Tally>,
}

impl Sweep {
    /// Adds one seed's outcome.
    pub fn add(&mut self, seed: u64, outcome: RunOutcome) {
        self.runs += 1;
        let t = Tally::one(seed);
        let fails = !outcome.failures.is_empty();
        self.outcomes
            .entry(outcome.text)
            .and_modify(|(e, _)| *e = e.join(t))
            .or_insert((t, fails));
        for f in outcome.failures {
            tally_into(&mut self.failures, f, t);
        }
        if fails {
            self.failing = Some(self.failing.map_or(t, |f| f.join(t)));
        }
    }

    /// Adds one seed whose run stopped with an error.
    pub fn add_error(&mut self, seed: u64, message: String) {
        self.runs += 1;
        tally_into(&mut self.errors, message, Tally::one(seed));
    }

    /// Adds another sweep's seeds (which must be different seeds).
    pub fn merge(&mut self, other: Sweep) {
        self.runs += other.runs;
        for (text, (t, fails)) in other.outcomes {
            self.outcomes
                .entry(text)
                .and_modify(|(e, _)| *e = e.join(t))
                .or_insert((t, fails));
        }
        for (k, t) in other.failures {
            tally_into(&mut self.failures, k, t);
        }
        for (k, t) in other.errors {
            tally_into(&mut self.errors, k, t);
        }
        self.failing = match (self.failing, other.failing) {
            (Some(a), Some(b)) => Some(a.join(b)),
            (a, b) => a.or(b),
        };
    }
}

/// What to sweep.
#[derive(Clone, Copy, Debug)]
pub struct ExploreOptions {
    /// The seeds.
    pub seeds: SeedRange,
    /// Which of them (default: all).
    pub shard: Shard,
    /// Threads (at least 1); each runs whole seeds.
    pub jobs: usize,
}

/// Runs one seed and returns its outcome, or the error that stopped it.
pub fn run_seed(scenario: &Scenario, source: &str, ports: &PortSet, seed: u64) -> Result<RunOutcome, String> {
    let options = RunOptions {
        seed: Some(seed),
        results: true,
        ..Default::default()
    };
    match crate::run::run(scenario, source, &options) {
        Ok(report) => Ok(outcome(&report, source, ports)),
        Err(d) => {
            let (line, column) = crate::diagnostic::line_col(source, d.span.start);
            Err(format!("line {line}:{column}: {}", d.message))
        }
    }
}

/// Seeds a worker takes at a time.
const CHUNK: u64 = 16;

/// Runs the seeds `options` selects and groups them by outcome. `progress` is told how many
/// more seeds finished, from any thread.
pub fn explore(scenario: &Scenario, source: &str, options: &ExploreOptions, progress: &(dyn Fn(u64) + Sync)) -> Sweep {
    let ports = PortSet::literal(scenario);
    let (range, shard) = (options.seeds, options.shard);
    let total = shard.len_in(range);
    let next = AtomicU64::new(0);
    let work = || {
        let mut sweep = Sweep::default();
        loop {
            let first = next.fetch_add(CHUNK, Ordering::Relaxed);
            if first >= total {
                break;
            }
            let last = (first + CHUNK).min(total);
            for j in first..last {
                let seed = shard.nth(range, j);
                match run_seed(scenario, source, &ports, seed) {
                    Ok(o) => sweep.add(seed, o),
                    Err(e) => sweep.add_error(seed, e),
                }
            }
            progress(last - first);
        }
        sweep
    };
    let workers = options.jobs.max(1).min(total.div_ceil(CHUNK).max(1) as usize);
    if workers == 1 {
        return work();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers).map(|_| scope.spawn(work)).collect();
        let mut sweep = Sweep::default();
        for h in handles {
            match h.join() {
                Ok(s) => sweep.merge(s),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        sweep
    })
}

/// Which seeds a result covers: a range, or one shard of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Coverage {
    /// The first seed.
    pub start: u64,
    /// One past the last seed.
    pub end: u64,
    /// The shard, if only one slice of the range ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

impl Coverage {
    fn range(&self) -> SeedRange {
        SeedRange {
            start: self.start,
            end: self.end,
        }
    }

    fn shard(&self) -> Shard {
        self.shard.unwrap_or(Shard::ALL)
    }

    /// How many seeds it covers.
    pub fn len(&self) -> u64 {
        self.shard().len_in(self.range())
    }

    /// Whether it covers no seed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.range())?;
        if let Some(s) = self.shard {
            write!(f, " shard {s}")?;
        }
        Ok(())
    }
}

/// One outcome in an [`ExploreResult`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeEntry {
    /// The outcome (see the module docs).
    pub text: String,
    /// How many seeds produced it.
    pub count: u64,
    /// The smallest of them.
    pub smallest_seed: u64,
    /// Whether it breaks an expectation.
    pub fails: bool,
}

/// One class of failed expectation in an [`ExploreResult`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureEntry {
    /// Which expectation, and what happened instead.
    #[serde(flatten)]
    pub key: FailureKey,
    /// How many seeds.
    pub count: u64,
    /// The smallest of them.
    pub smallest_seed: u64,
}

/// Runs that stopped with an error, in an [`ExploreResult`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEntry {
    /// The error.
    pub message: String,
    /// How many seeds.
    pub count: u64,
    /// The smallest of them.
    pub smallest_seed: u64,
}

/// A sweep's result as `socksim explore --format json` prints it and `socksim merge` reads it.
///
/// Outcomes and failures are sorted by count (descending), then smallest seed, then text;
/// errors likewise. Nothing in it depends on the number of threads or the sharding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExploreResult {
    /// Always [`FORMAT`].
    pub format: String,
    /// The socksim version that ran the seeds (results of different versions do not merge).
    pub socksim: String,
    /// The scenario file, as given on the command line.
    pub file: String,
    /// A hash of the scenario's text (results of different texts do not merge).
    pub scenario_hash: String,
    /// The seeds run.
    pub coverage: Vec<Coverage>,
    /// How many seeds ran.
    pub runs: u64,
    /// The distinct outcomes.
    pub outcomes: Vec<OutcomeEntry>,
    /// The failed expectations, by class.
    pub failures: Vec<FailureEntry>,
    /// The seeds that broke an expectation (absent when none did).
    pub failing_seeds: Option<Tally>,
    /// Runs that stopped with an error.
    pub errors: Vec<ErrorEntry>,
}

/// FNV-1a, 64 bits: a stable hash of the scenario's text.
pub fn scenario_hash(source: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in source.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}")
}

fn by_count<T>(v: &mut [T], key: impl Fn(&T) -> (u64, u64)) {
    v.sort_by_key(|x| {
        let (count, seed) = key(x);
        (std::cmp::Reverse(count), seed)
    });
}

impl ExploreResult {
    /// The result of `sweep` over `coverage` for the scenario `file` whose text is `source`.
    pub fn new(sweep: Sweep, file: &str, source: &str, coverage: Vec<Coverage>) -> ExploreResult {
        ExploreResult::from_parts(sweep, file.to_string(), scenario_hash(source), coverage)
    }

    fn from_parts(sweep: Sweep, file: String, scenario_hash: String, coverage: Vec<Coverage>) -> ExploreResult {
        let mut outcomes: Vec<_> = sweep
            .outcomes
            .into_iter()
            .map(|(text, (t, fails))| OutcomeEntry {
                text,
                count: t.count,
                smallest_seed: t.smallest_seed,
                fails,
            })
            .collect();
        by_count(&mut outcomes, |o| (o.count, o.smallest_seed));
        let mut failures: Vec<_> = sweep
            .failures
            .into_iter()
            .map(|(key, t)| FailureEntry {
                key,
                count: t.count,
                smallest_seed: t.smallest_seed,
            })
            .collect();
        by_count(&mut failures, |f| (f.count, f.smallest_seed));
        let mut errors: Vec<_> = sweep
            .errors
            .into_iter()
            .map(|(message, t)| ErrorEntry {
                message,
                count: t.count,
                smallest_seed: t.smallest_seed,
            })
            .collect();
        by_count(&mut errors, |e| (e.count, e.smallest_seed));
        ExploreResult {
            format: FORMAT.to_string(),
            socksim: env!("CARGO_PKG_VERSION").to_string(),
            file,
            scenario_hash,
            coverage,
            runs: sweep.runs,
            outcomes,
            failures,
            failing_seeds: sweep.failing,
            errors,
        }
    }

    /// The sweep this result records.
    pub fn to_sweep(&self) -> Sweep {
        let tally = |count, smallest_seed| Tally { count, smallest_seed };
        let mut sweep = Sweep {
            runs: self.runs,
            failing: self.failing_seeds,
            ..Default::default()
        };
        for o in &self.outcomes {
            let t = tally(o.count, o.smallest_seed);
            sweep
                .outcomes
                .entry(o.text.clone())
                .and_modify(|(e, _)| *e = e.join(t))
                .or_insert((t, o.fails));
        }
        for f in &self.failures {
            tally_into(&mut sweep.failures, f.key.clone(), tally(f.count, f.smallest_seed));
        }
        for e in &self.errors {
            tally_into(&mut sweep.errors, e.message.clone(), tally(e.count, e.smallest_seed));
        }
        sweep
    }

    /// Parses and checks a result written by `socksim explore --format json`.
    pub fn from_json(text: &str) -> Result<ExploreResult, String> {
        let r: ExploreResult = serde_json::from_str(text).map_err(|e| format!("not an explore result: {e}"))?;
        if r.format != FORMAT {
            return Err(format!("format `{}` is not {FORMAT}", r.format));
        }
        for c in &r.coverage {
            if c.start >= c.end || c.shard.is_some_and(|s| s.count == 0 || s.index >= s.count) {
                return Err(format!("invalid coverage {c}"));
            }
        }
        let covered: u64 = r.coverage.iter().map(Coverage::len).sum();
        if covered != r.runs {
            return Err(format!(
                "its coverage holds {covered} seeds but it counts {} runs",
                r.runs
            ));
        }
        Ok(r)
    }

    /// Whether any seed broke an expectation.
    pub fn failed(&self) -> bool {
        self.failing_seeds.is_some()
    }
}

/// Joins results of the same scenario over different seeds (shards of one range, or
/// different ranges) into the result one sweep over all of them gives.
pub fn merge(results: &[ExploreResult]) -> Result<ExploreResult, String> {
    let Some(first) = results.first() else {
        return Err("nothing to merge".into());
    };
    let mut sweep = Sweep::default();
    let mut coverage = Vec::new();
    for r in results {
        if r.scenario_hash != first.scenario_hash {
            return Err(format!(
                "{} and {} come from different scenario texts ({} vs {})",
                first.file, r.file, first.scenario_hash, r.scenario_hash
            ));
        }
        if r.socksim != first.socksim {
            return Err(format!(
                "results of socksim {} and {} cannot be merged: outcomes may differ between versions",
                first.socksim, r.socksim
            ));
        }
        sweep.merge(r.to_sweep());
        coverage.extend(r.coverage.iter().copied());
    }
    let coverage = normalize_coverage(coverage)?;
    Ok(ExploreResult::from_parts(
        sweep,
        first.file.clone(),
        first.scenario_hash.clone(),
        coverage,
    ))
}

/// Puts pieces of coverage together: complete sets of shards of one range become the range,
/// adjacent ranges join. Fails if a seed would be counted twice.
pub fn normalize_coverage(pieces: Vec<Coverage>) -> Result<Vec<Coverage>, String> {
    // (start, end, shard count) -> shard indices.
    let mut groups: BTreeMap<(u64, u64, u64), BTreeSet<u64>> = BTreeMap::new();
    for c in &pieces {
        let s = c.shard();
        if !groups.entry((c.start, c.end, s.count)).or_default().insert(s.index) {
            return Err(format!("seeds {c} appear twice"));
        }
    }
    let keys: Vec<_> = groups.keys().copied().collect();
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            if a.0.max(b.0) < a.1.min(b.1) {
                let show = |k: &(u64, u64, u64)| format!("{}..{} (in {} shards)", k.0, k.1, k.2);
                return Err(format!("seed ranges {} and {} overlap", show(a), show(b)));
            }
        }
    }
    let mut whole = Vec::new();
    let mut sharded = Vec::new();
    for ((start, end, count), indices) in groups {
        if indices.len() as u64 == count {
            whole.push(Coverage {
                start,
                end,
                shard: None,
            });
        } else {
            sharded.extend(indices.into_iter().map(|index| Coverage {
                start,
                end,
                shard: Some(Shard { index, count }),
            }));
        }
    }
    whole.sort();
    let mut joined: Vec<Coverage> = Vec::new();
    for c in whole {
        match joined.last_mut() {
            Some(last) if last.end == c.start => last.end = c.end,
            _ => joined.push(c),
        }
    }
    joined.extend(sharded);
    joined.sort();
    Ok(joined)
}

/// `path`, quoted for a POSIX shell when it needs it.
pub fn shell_quote(path: &str) -> String {
    let plain = !path.is_empty()
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@=%".contains(&b));
    if plain {
        path.to_string()
    } else {
        format!("'{}'", path.replace('\'', r"'\''"))
    }
}

pub(crate) fn percent(count: u64, total: u64) -> String {
    if total == 0 {
        return "0.0%".into();
    }
    format!("{:.1}%", count as f64 * 100.0 / total as f64)
}

pub(crate) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Splits an outcome's text into its per-process blocks.
pub(crate) fn blocks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, _) in text.match_indices('\n') {
        let next = i + 1;
        if next < text.len() && !text[next..].starts_with(' ') {
            out.push(&text[start..next]);
            start = next;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

pub(crate) fn indent(out: &mut String, block: &str) {
    for line in block.lines() {
        let _ = writeln!(out, "    {line}");
    }
}

/// Writes the outcomes of a seed sweep or of an exhaustive search, given their texts: the
/// blocks that every outcome shares, once, then for each outcome its heading (written by
/// `heading`, given the outcome's index) and the blocks that only some outcomes have.
pub(crate) fn render_outcomes(out: &mut String, texts: &[&str], mut heading: impl FnMut(&mut String, usize)) {
    let all: Vec<Vec<&str>> = texts.iter().map(|t| blocks(t)).collect();
    let common: Vec<&str> = match all.split_first() {
        Some((first, rest)) if !rest.is_empty() => first
            .iter()
            .copied()
            .filter(|b| rest.iter().all(|o| o.contains(b)))
            .collect(),
        _ => Vec::new(),
    };
    if !common.is_empty() {
        out.push_str("\nin every outcome:\n");
        for b in &common {
            indent(out, b);
        }
    }
    for (i, bs) in all.iter().enumerate() {
        heading(out, i);
        let mut shown = 0;
        for b in bs.iter().filter(|b| !common.contains(b)) {
            indent(out, b);
            shown += 1;
        }
        if shown == 0 {
            out.push_str("    (nothing beyond what every outcome shares)\n");
        }
    }
    out.push('\n');
}

/// Writes one broken expectation: where, what was expected and what came, `how_often` it
/// broke, and `first` (the smallest seed, or the first schedule, that broke it).
pub(crate) fn render_failure(out: &mut String, file: &str, k: &FailureKey, how_often: &str, first: &str) {
    let _ = writeln!(
        out,
        "  {file}:{}:{}: `{}` expected {}, got {}: {how_often}, {first}",
        k.line, k.column, k.call, k.expected, k.actual
    );
}

/// The result as `socksim explore` prints it: every distinct outcome with its share of the
/// seeds and the smallest seed producing it (what all outcomes share printed once first), then
/// the failed expectations and the command that replays the smallest failing seed.
pub fn render_text(r: &ExploreResult) -> String {
    let mut out = String::new();
    let file = shell_quote(&r.file);
    let coverage: Vec<String> = r.coverage.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        out,
        "{}: {} ({}), {}",
        r.file,
        plural(r.runs, "seed", "seeds"),
        coverage.join(", "),
        plural(r.outcomes.len() as u64, "distinct outcome", "distinct outcomes")
    );
    let texts: Vec<&str> = r.outcomes.iter().map(|o| o.text.as_str()).collect();
    render_outcomes(&mut out, &texts, |out, i| {
        let o = &r.outcomes[i];
        let _ = writeln!(
            out,
            "\noutcome {}: {} of {} ({}), smallest seed {}{}",
            i + 1,
            plural(o.count, "seed", "seeds"),
            r.runs,
            percent(o.count, r.runs),
            o.smallest_seed,
            if o.fails { ", breaks an expectation" } else { "" }
        );
    });
    match r.failing_seeds {
        None => {
            let _ = writeln!(out, "expectations: held in all {}", plural(r.runs, "seed", "seeds"));
        }
        Some(f) => {
            let _ = writeln!(
                out,
                "expectations: broken in {} of {} ({})",
                plural(f.count, "seed", "seeds"),
                r.runs,
                percent(f.count, r.runs)
            );
            for e in &r.failures {
                let how_often = plural(e.count, "seed", "seeds");
                render_failure(
                    &mut out,
                    &r.file,
                    &e.key,
                    &how_often,
                    &format!("smallest seed {}", e.smallest_seed),
                );
            }
            let _ = writeln!(out, "smallest failing seed: {}", f.smallest_seed);
            let _ = writeln!(out, "replay with: socksim run {file} --seed {}", f.smallest_seed);
            let _ = writeln!(out, "shrink with: socksim shrink {file} --seed {}", f.smallest_seed);
        }
    }
    if !r.errors.is_empty() {
        out.push_str("run errors (the scenario is bad for these seeds):\n");
        for e in &r.errors {
            let _ = writeln!(
                out,
                "  {}: {}, smallest seed {} (socksim run {file} --seed {})",
                e.message,
                plural(e.count, "seed", "seeds"),
                e.smallest_seed,
                e.smallest_seed
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges() {
        assert_eq!("0..10".parse::<SeedRange>().unwrap(), SeedRange { start: 0, end: 10 });
        assert_eq!("5..=5".parse::<SeedRange>().unwrap(), SeedRange { start: 5, end: 6 });
        assert_eq!("0..10".parse::<SeedRange>().unwrap().len(), 10);
        for bad in [
            "",
            "10",
            "a..b",
            "5..5",
            "9..3",
            "1...3",
            "0..=18446744073709551615",
            "-1..3",
        ] {
            assert!(bad.parse::<SeedRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_split_a_range_exactly() {
        assert_eq!("3/16".parse::<Shard>().unwrap(), Shard { index: 3, count: 16 });
        for bad in ["16/16", "1/0", "x/2", "1", "-1/2", "1/2/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let range = SeedRange { start: 7, end: 30 };
        for count in 1..9 {
            let mut seen = Vec::new();
            for index in 0..count {
                let s = Shard { index, count };
                for j in 0..s.len_in(range) {
                    let seed = s.nth(range, j);
                    assert_eq!((seed - range.start) % count, index);
                    seen.push(seed);
                }
            }
            seen.sort();
            assert_eq!(seen, (7..30).collect::<Vec<_>>(), "{count} shards");
        }
    }

    #[test]
    fn coverage_joins_complete_shards_and_adjacent_ranges() {
        let c = |start, end, shard: Option<(u64, u64)>| Coverage {
            start,
            end,
            shard: shard.map(|(index, count)| Shard { index, count }),
        };
        assert_eq!(
            normalize_coverage(vec![c(0, 10, Some((1, 2))), c(0, 10, Some((0, 2))), c(10, 20, None)]).unwrap(),
            vec![c(0, 20, None)]
        );
        assert_eq!(
            normalize_coverage(vec![c(0, 10, Some((1, 3)))]).unwrap(),
            vec![c(0, 10, Some((1, 3)))]
        );
        assert!(normalize_coverage(vec![c(0, 10, None), c(5, 15, None)]).is_err());
        assert!(normalize_coverage(vec![c(0, 10, Some((0, 2))), c(0, 10, Some((0, 2)))]).is_err());
        assert!(normalize_coverage(vec![c(0, 10, Some((0, 2))), c(0, 10, Some((0, 3)))]).is_err());
    }

    #[test]
    fn sweeps_merge_in_any_order() {
        let o = |text: &str| RunOutcome {
            text: text.into(),
            failures: BTreeSet::new(),
        };
        let mut a = Sweep::default();
        a.add(3, o("x"));
        a.add(1, o("y"));
        let mut b = Sweep::default();
        b.add(0, o("x"));
        b.add_error(9, "bad".into());
        let mut ab = a.clone();
        ab.merge(b.clone());
        let mut ba = b;
        ba.merge(a);
        assert_eq!(ab, ba);
        assert_eq!(
            ab.outcomes["x"].0,
            Tally {
                count: 2,
                smallest_seed: 0
            }
        );
        assert_eq!(ab.runs, 4);
    }

    #[test]
    fn outcome_blocks_split_on_process_labels() {
        let text = "a/p\n  x = 1\n  y = 2\nb/q\nc/r\n  z = 3\n";
        assert_eq!(blocks(text), vec!["a/p\n  x = 1\n  y = 2\n", "b/q\n", "c/r\n  z = 3\n"]);
    }

    #[test]
    fn ports_named_in_calls_are_kept() {
        let source = "
network lan 10.0.0.0/24
host a 10.0.0.1 on lan
process a/p {
    for p in 8000..8002 {
        s = socket(AF_INET, SOCK_STREAM)
        bind(s, 0.0.0.0:$p)
    }
    t = socket(AF_INET, SOCK_STREAM)
    connect(t, 10.0.0.1:80)
}
";
        let scenario = crate::load(source).unwrap();
        let ports = PortSet::literal(&scenario);
        for p in [0, 80, 8000, 8001, 8002] {
            assert!(ports.contains(p), "{p}");
        }
        assert!(!ports.contains(8003) && !ports.contains(40000));
        assert_eq!(
            ports.addr(&SockAddr::Inet("10.0.0.2:40000".parse().unwrap())),
            "10.0.0.2:*"
        );
        assert_eq!(
            ports.addr(&SockAddr::Inet("10.0.0.1:80".parse().unwrap())),
            "10.0.0.1:80"
        );
    }
}
