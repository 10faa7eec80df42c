//! Shrinking: from a failing run, the fewest scheduling decisions that still make it fail.
//!
//! A run's schedule is its list of decisions ([`sim_core::Decision`]): at each point where
//! several processes could run, which one did. Choice 0 is first come, first served, the
//! *default*; the others are what the seed's randomness added. [`shrink`] replays the failing
//! run's choices with every later decision defaulting to 0 ([`RunOptions::fifo_after_schedule`])
//! and searches for the smallest set of non-default choices that still fails:
//!
//! 1. if choosing 0 everywhere fails, no choice matters;
//! 2. the shortest prefix of the non-default choices that fails (a binary search: the tail is
//!    truncated);
//! 3. delta debugging ([`ddmin::ddmin`]) over that prefix, resetting choices to 0, until removing
//!    any single one makes the run pass;
//! 4. each remaining choice is lowered as far as the run still fails (closer to the default).
//!
//! "Still fails" means at least one of the expectations that failed in the original run fails
//! again (a different failure elsewhere does not count). Decisions are identified by position,
//! so after an earlier change a later choice may pick a different process: that is inherent to
//! schedule shrinking, and the result is always checked by replaying it.

pub mod ddmin;
pub mod schedule;

use crate::ast::{Scenario, Span};
use crate::diagnostic::{Diagnostic, line_col};
use crate::interp::slice;
use crate::run::{DecisionStep, RunOptions, RunReport};
use schedule::{After, ScheduleFile};
use sim_core::{Decision, Instant};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// A process at one scheduling decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// `host/name`.
    pub label: String,
    /// Its pid in that run.
    pub pid: u32,
    /// The statement it ran when it got the CPU (see [`DecisionStep::stmt`]).
    pub stmt: Option<Span>,
}

impl From<&DecisionStep> for Actor {
    fn from(s: &DecisionStep) -> Actor {
        Actor {
            label: s.label.clone(),
            pid: s.pid,
            stmt: s.stmt,
        }
    }
}

/// One non-default decision of a shrunk schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    /// Its index in the schedule (0-based).
    pub index: usize,
    /// When it was made.
    pub at: Instant,
    /// How many processes could run.
    pub options: u32,
    /// Which one ran.
    pub chosen: u32,
    /// The process that ran.
    pub ran: Option<Actor>,
    /// The process that would have run by default (choice 0).
    pub instead_of: Option<Actor>,
}

/// A shrunk schedule and what it shows.
#[derive(Debug)]
pub struct Shrunk {
    /// The run's seed.
    pub seed: u64,
    /// The failing run's decisions.
    pub original: Vec<Decision>,
    /// The shrunk choices; every decision after them chooses 0.
    pub choices: Vec<u32>,
    /// The run they give (it fails).
    pub report: RunReport,
    /// The non-default decisions, in order.
    pub moves: Vec<Move>,
    /// How many runs the search took.
    pub runs: usize,
}

impl Shrunk {
    /// How many of the original decisions were not the default.
    pub fn original_non_default(&self) -> usize {
        self.original.iter().filter(|d| d.chosen != 0).count()
    }

    /// The shrunk schedule as a file (replayed with every later decision 0).
    pub fn schedule_file(&self) -> ScheduleFile {
        let comments = (0..self.choices.len())
            .map(|i| {
                let mut c = match self.report.decisions.get(i) {
                    Some(d) => format!("at={} options={}", d.at, d.options),
                    None => "not reached".into(),
                };
                if let Some(m) = self.moves.iter().find(|m| m.index == i) {
                    let who = |a: &Option<Actor>| a.as_ref().map_or("?".to_string(), |a| a.label.clone());
                    let _ = write!(c, ": ran {} instead of {}", who(&m.ran), who(&m.instead_of));
                }
                c
            })
            .collect();
        ScheduleFile {
            seed: self.seed,
            after: After::Fifo,
            choices: self.choices.clone(),
            comments,
        }
    }
}

/// Why there is nothing to shrink.
#[derive(Debug)]
pub enum ShrinkError {
    /// The run stopped with an error (a bad scenario).
    Run(Diagnostic),
    /// The run breaks no expectation.
    Passes {
        /// Its seed.
        seed: u64,
    },
    /// Replaying the run's own decisions did not fail again (a bug: runs are deterministic).
    NotReproducible,
}

struct Tester<'a> {
    scenario: &'a Scenario,
    source: &'a str,
    seed: u64,
    targets: BTreeSet<Span>,
    memo: BTreeMap<Vec<u32>, bool>,
    runs: usize,
    error: Option<Diagnostic>,
}

impl Tester<'_> {
    fn options(&self, choices: Vec<u32>, steps: bool) -> RunOptions {
        RunOptions {
            seed: Some(self.seed),
            schedule: Some(choices),
            fifo_after_schedule: true,
            steps,
            ..Default::default()
        }
    }

    fn run(&mut self, choices: Vec<u32>, steps: bool) -> Option<RunReport> {
        self.runs += 1;
        match crate::run::run(self.scenario, self.source, &self.options(choices, steps)) {
            Ok(r) => Some(r),
            Err(d) => {
                self.error.get_or_insert(d);
                None
            }
        }
    }

    /// Whether replaying `choices` (then 0s) breaks one of the target expectations.
    fn fails(&mut self, mut choices: Vec<u32>) -> bool {
        while choices.last() == Some(&0) {
            choices.pop();
        }
        if let Some(&known) = self.memo.get(&choices) {
            return known;
        }
        let fails = self
            .run(choices.clone(), false)
            .is_some_and(|r| r.failures.iter().any(|f| self.targets.contains(&f.span)));
        self.memo.insert(choices, fails);
        fails
    }
}

/// The choices that keep `set`'s (index, choice) pairs and make every other decision 0.
fn choices_of(set: &[(usize, u32)]) -> Vec<u32> {
    let len = set.iter().map(|&(i, _)| i + 1).max().unwrap_or(0);
    let mut c = vec![0; len];
    for &(i, v) in set {
        c[i] = v;
    }
    c
}

/// Shrinks the failing run `start` describes (a seed, and possibly a schedule to replay).
pub fn shrink(scenario: &Scenario, source: &str, start: &RunOptions) -> Result<Shrunk, ShrinkError> {
    let first = RunOptions {
        trace: false,
        results: false,
        steps: false,
        ..start.clone()
    };
    let original = crate::run::run(scenario, source, &first).map_err(ShrinkError::Run)?;
    if original.failures.is_empty() {
        return Err(ShrinkError::Passes { seed: original.seed });
    }
    let mut t = Tester {
        scenario,
        source,
        seed: original.seed,
        targets: original.failures.iter().map(|f| f.span).collect(),
        memo: BTreeMap::new(),
        runs: 1,
        error: None,
    };
    let all: Vec<(usize, u32)> = original
        .decisions
        .iter()
        .enumerate()
        .filter(|(_, d)| d.chosen != 0)
        .map(|(i, d)| (i, d.chosen))
        .collect();
    if !t.fails(choices_of(&all)) {
        return Err(t.error.take().map_or(ShrinkError::NotReproducible, ShrinkError::Run));
    }
    let mut set = if t.fails(Vec::new()) {
        Vec::new()
    } else {
        // The shortest failing prefix: `lo` passes, `hi` fails.
        let (mut lo, mut hi) = (0, all.len());
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if t.fails(choices_of(&all[..mid])) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        ddmin::ddmin(&all[..hi], &mut |s| t.fails(choices_of(s)))
    };
    for k in 0..set.len() {
        for v in 1..set[k].1 {
            let mut lower = set.clone();
            lower[k].1 = v;
            if t.fails(choices_of(&lower)) {
                set = lower;
                break;
            }
        }
    }
    let choices = choices_of(&set);
    let Some(report) = t.run(choices.clone(), true) else {
        return Err(t.error.take().map_or(ShrinkError::NotReproducible, ShrinkError::Run));
    };
    let mut moves = Vec::new();
    for &(index, chosen) in &set {
        let Some(d) = report.decisions.get(index) else { continue };
        let ran = report.steps.iter().find(|s| s.index == index).map(Actor::from);
        // The same run up to this decision, then the default: who would have run.
        let mut default = choices[..index].to_vec();
        default.push(0);
        let instead_of = t
            .run(default, true)
            .and_then(|r| r.steps.iter().find(|s| s.index == index).map(Actor::from));
        moves.push(Move {
            index,
            at: d.at,
            options: d.options,
            chosen,
            ran,
            instead_of,
        });
    }
    Ok(Shrunk {
        seed: original.seed,
        original: original.decisions,
        choices,
        report,
        moves,
        runs: t.runs,
    })
}

fn actor(a: &Option<Actor>, source: &str) -> String {
    let Some(a) = a else {
        return "?".into();
    };
    match a.stmt {
        Some(span) => {
            let (line, _) = line_col(source, span.start);
            let text = slice(source, span);
            let first = text.lines().next().unwrap_or_default().trim();
            format!("{} (line {line}: {first})", a.label)
        }
        None => format!("{} (leaving its body)", a.label),
    }
}

/// The shrunk schedule for people: the decisions, each non-default one explained (which
/// process ran instead of which, when, and at which statement), and the failure it keeps.
pub fn render(s: &Shrunk, file: &str, source: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "seed {}: the run made {} scheduling decisions, {} of them not first come, first served",
        s.seed,
        s.original.len(),
        s.original_non_default()
    );
    let _ = writeln!(
        out,
        "shrunk in {} runs to {} non-default decision{} (every later decision first come, first served)",
        s.runs,
        s.moves.len(),
        if s.moves.len() == 1 { "" } else { "s" }
    );
    let list: Vec<String> = s.choices.iter().map(u32::to_string).collect();
    let _ = writeln!(
        out,
        "decisions: {}",
        if list.is_empty() {
            "(none: first come, first served fails)".to_string()
        } else {
            list.join(" ")
        }
    );
    if !s.moves.is_empty() {
        out.push_str("\nthe interleaving that matters:\n");
    }
    for m in &s.moves {
        let _ = writeln!(
            out,
            "  decision {} at {}: choice {} of {} runnable\n    ran        {}\n    instead of {}",
            m.index + 1,
            m.at,
            m.chosen,
            m.options,
            actor(&m.ran, source),
            actor(&m.instead_of, source)
        );
    }
    out.push_str("\nstill fails:\n");
    for f in &s.report.failures {
        let (line, column) = line_col(source, f.span.start);
        let _ = writeln!(
            out,
            "  {file}:{line}:{column}: `{}` expected {}, got {}",
            f.call, f.expected, f.actual
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_of_fills_zeros() {
        assert_eq!(choices_of(&[(1, 2), (4, 1)]), vec![0, 2, 0, 0, 1]);
        assert!(choices_of(&[]).is_empty());
    }
}
