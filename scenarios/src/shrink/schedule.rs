//! Schedule files: a run's scheduling choices, saved so the run can be replayed exactly.
//!
//! `socksim run FILE --seed N --save-schedule S` writes one, `socksim shrink --output S`
//! writes a shrunk one, and `socksim run FILE --schedule S` replays it. The format is text:
//!
//! ```text
//! # comments start with `#`, anywhere on a line
//! seed 7          # the run's seed: ports, sequence numbers, ... still come from it
//! after seed      # once the choices run out: `seed` (draw from the seed) or `fifo` (choose 0)
//! 1  # at=0.000000 options=3
//! 0  # at=0.001300 options=2
//! ```
//!
//! After the `seed` and `after` lines (both required, in any order, before the first choice),
//! each line holds one scheduling choice: at a point where several processes could run, the
//! index of the one that ran among them, in the order they became runnable (0 = the one
//! runnable longest, first come first served). A choice beyond the runnable count is clamped
//! to the last one. The comment after a choice says when it was made and among how many.

use crate::run::{RunOptions, RunReport};
use std::fmt::Write as _;

/// What decides once a schedule's choices run out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Draw from the seed's scheduling stream, as an ordinary run does.
    Seed,
    /// Always choose 0 (first come, first served): how shrunk schedules are replayed.
    Fifo,
}

/// A parsed schedule file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleFile {
    /// The run's seed.
    pub seed: u64,
    /// What decides after the list.
    pub after: After,
    /// The choices, in order.
    pub choices: Vec<u32>,
    /// A comment per choice (may be empty), written after it.
    pub comments: Vec<String>,
}

impl ScheduleFile {
    /// Every decision `report`'s run made: replaying it reproduces the run exactly.
    pub fn from_run(report: &RunReport) -> ScheduleFile {
        ScheduleFile {
            seed: report.seed,
            after: After::Seed,
            choices: report.decisions.iter().map(|d| d.chosen).collect(),
            comments: report
                .decisions
                .iter()
                .map(|d| format!("at={} options={}", d.at, d.options))
                .collect(),
        }
    }

    /// Parses a schedule file; errors name the line.
    pub fn parse(text: &str) -> Result<ScheduleFile, String> {
        let mut seed = None;
        let mut after = None;
        let mut choices = Vec::new();
        let mut comments = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let (body, comment) = match raw.split_once('#') {
                Some((b, c)) => (b.trim(), c.trim()),
                None => (raw.trim(), ""),
            };
            if body.is_empty() {
                continue;
            }
            let mut words = body.split_whitespace();
            let first = words.next().unwrap_or_default();
            let rest: Vec<&str> = words.collect();
            match first {
                "seed" | "after" if !choices.is_empty() => {
                    return Err(format!("line {line}: `{first}` must come before the first choice"));
                }
                "seed" => {
                    let [n] = rest[..] else {
                        return Err(format!("line {line}: expected `seed N`"));
                    };
                    let n = n
                        .parse()
                        .map_err(|_| format!("line {line}: `{n}` is not a seed (0 to {})", u64::MAX))?;
                    if seed.replace(n).is_some() {
                        return Err(format!("line {line}: a second `seed` line"));
                    }
                }
                "after" => {
                    let value = match rest[..] {
                        ["seed"] => After::Seed,
                        ["fifo"] => After::Fifo,
                        _ => return Err(format!("line {line}: expected `after seed` or `after fifo`")),
                    };
                    if after.replace(value).is_some() {
                        return Err(format!("line {line}: a second `after` line"));
                    }
                }
                n => {
                    if !rest.is_empty() {
                        return Err(format!("line {line}: one choice per line"));
                    }
                    let c = n
                        .parse::<u32>()
                        .map_err(|_| format!("line {line}: `{n}` is not a choice (a number from 0)"))?;
                    if seed.is_none() || after.is_none() {
                        return Err(format!(
                            "line {line}: the `seed` and `after` lines must come before the choices"
                        ));
                    }
                    choices.push(c);
                    comments.push(comment.to_string());
                }
            }
        }
        let seed = seed.ok_or("no `seed N` line")?;
        let after = after.ok_or("no `after seed` or `after fifo` line")?;
        Ok(ScheduleFile {
            seed,
            after,
            choices,
            comments,
        })
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# socksim schedule: replay with `socksim run SCENARIO --schedule THIS_FILE`.\n");
        out.push_str("# One scheduling choice per line: among the processes that could run, the index of\n");
        out.push_str("# the one that ran, in the order they became runnable (0 = first come, first served).\n");
        let _ = writeln!(out, "seed {}", self.seed);
        let after = match self.after {
            After::Seed => "seed",
            After::Fifo => "fifo",
        };
        let _ = writeln!(out, "after {after}");
        for (i, c) in self.choices.iter().enumerate() {
            match self.comments.get(i).filter(|c| !c.is_empty()) {
                Some(comment) => {
                    let _ = writeln!(out, "{c}  # {comment}");
                }
                None => {
                    let _ = writeln!(out, "{c}");
                }
            }
        }
        out
    }

    /// Run options that replay this schedule (trace and results off).
    pub fn run_options(&self) -> RunOptions {
        RunOptions {
            seed: Some(self.seed),
            schedule: Some(self.choices.clone()),
            fifo_after_schedule: self.after == After::Fifo,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let s = ScheduleFile {
            seed: 42,
            after: After::Fifo,
            choices: vec![0, 2, 1],
            comments: vec!["at=0.000000 options=2".into(), String::new(), "x".into()],
        };
        assert_eq!(ScheduleFile::parse(&s.render()).unwrap(), s);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("after seed\n", "no `seed"),
            ("after seed\n1\n", "line 2"),
            ("seed 1\n1\n", "line 2"),
            ("seed x\n", "line 1"),
            ("seed 1\nafter sometimes\n", "line 2"),
            ("seed 1\nafter seed\n-1\n", "line 3"),
            ("seed 1\nafter seed\n1 2\n", "line 3"),
            ("seed 1\nafter seed\n1\nseed 2\n", "line 4"),
            ("seed 1\nseed 2\nafter fifo\n", "line 2"),
        ];
        for (text, want) in cases {
            let err = ScheduleFile::parse(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn an_empty_list_is_fine() {
        let s = ScheduleFile::parse("seed 3\nafter fifo\n").unwrap();
        assert!(s.choices.is_empty());
        assert_eq!(s.run_options().seed, Some(3));
        assert!(s.run_options().fifo_after_schedule);
    }
}
