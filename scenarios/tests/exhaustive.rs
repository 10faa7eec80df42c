//! The exhaustive search (`socksim explore FILE --exhaustive`): outcome counts derived by
//! hand, pruning checked against the unpruned search, seed sweeps contained in it, and the
//! command line.

mod support;

use socksim::exhaustive::{Exhaustive, ExhaustiveOptions, search};
use socksim::explore::{ExploreOptions, PortSet, SeedRange, Shard, explore, outcome};
use socksim::run::RunOptions;
use std::collections::BTreeSet;
use std::path::PathBuf;
use support::{fixture, socksim, stderr, stdout};

fn exhaustive(source: &str, no_prune: bool) -> Exhaustive {
    let scenario = socksim::load(source).unwrap();
    let options = ExhaustiveOptions {
        no_prune,
        ..Default::default()
    };
    search(&scenario, source, "test.scn", &options, &|_| {})
}

fn outcome_texts(r: &Exhaustive) -> BTreeSet<String> {
    r.outcomes.iter().map(|o| o.text.clone()).collect()
}

/// Two processes on two hosts that only create, bind and listen: nothing they do can affect
/// the other, so there is one outcome. Each makes four steps (three calls and its exit), and
/// both are runnable from t=0, so there are C(8, 4) = 70 interleavings; every step is quiet
/// (no packet, own host only), so all 70 are reorderings of one another and the pruned search
/// runs exactly one of them to the end.
const INDEPENDENT: &str = "
network lan 10.0.0.0/24
host a 10.0.0.1 on lan
host b 10.0.0.2 on lan
process a/p {
    s = socket(AF_INET, SOCK_STREAM) = 3
    bind(s, 10.0.0.1:80) = 0
    listen(s, 1) = 0
}
process b/q {
    s = socket(AF_INET, SOCK_STREAM) = 3
    bind(s, 10.0.0.2:80) = 0
    listen(s, 1) = 0
}
";

#[test]
fn two_independent_processes_have_one_outcome_and_one_schedule() {
    let pruned = exhaustive(INDEPENDENT, false);
    assert!(pruned.complete());
    assert_eq!(pruned.outcomes.len(), 1);
    assert_eq!(pruned.schedules, 1, "every interleaving commutes: {pruned:?}");
    assert!(pruned.pruned > 0);
    let full = exhaustive(INDEPENDENT, true);
    assert_eq!(full.schedules, 70, "C(8, 4) interleavings of two four-step processes");
    assert_eq!(full.pruned, 0);
    assert_eq!(outcome_texts(&full), outcome_texts(&pruned));
    assert_eq!(full.outcomes[0].count, 70);
}

/// Two forked workers block in accept() on one listener; two clients on two hosts connect at
/// the same instant. Exactly two outcomes:
///
/// * the clients' calls and the parent's all succeed the same way in every schedule (their
///   expectations say so), and ephemeral ports are abstracted;
/// * each blocked accept() is an exclusive wait (inet_csk_wait_for_connect), so each of the
///   two connections wakes one worker and each worker returns one connection: the only
///   freedom is the pairing, w1-alpha/w2-beta or w1-beta/w2-alpha, 2! = 2 outcomes;
/// * both pairings are reachable: which worker blocks first, and whose SYN the server
///   handles first, are both scheduling decisions.
///
/// The unpruned search runs 1728 schedules; the pruning only cuts reorderings of the clients'
/// quiet `socket()` calls with each other and with steps on other hosts, so it must find the
/// same two outcomes.
#[test]
fn accept_race_with_two_workers_and_two_clients_has_exactly_two_outcomes() {
    let source = std::fs::read_to_string(fixture("accept-race-2x2.scn")).unwrap();
    let pruned = exhaustive(&source, false);
    assert!(pruned.complete(), "{pruned:?}");
    assert_eq!(pruned.outcomes.len(), 2, "{:#?}", pruned.outcomes);
    assert!(!pruned.failed());
    let pairings: BTreeSet<(bool, bool)> = pruned
        .outcomes
        .iter()
        .map(|o| {
            let (_, rest) = o.text.split_once("server/w1").unwrap();
            let (w1, w2) = rest.split_once("server/w2").unwrap();
            (w1.contains("10.0.0.2:*"), w2.contains("10.0.0.2:*"))
        })
        .collect();
    assert_eq!(pairings, BTreeSet::from([(true, false), (false, true)]));

    let full = exhaustive(&source, true);
    assert!(full.complete());
    assert_eq!(full.schedules, 1728);
    assert_eq!(outcome_texts(&full), outcome_texts(&pruned));
    assert!(
        pruned.schedules < full.schedules,
        "{} < {}",
        pruned.schedules,
        full.schedules
    );
}

/// Two epoll workers without EPOLLEXCLUSIVE, one connection: both wake; one accept() wins.
/// The loser either collected the event before the winner's accept() (epoll_wait = 1, then
/// EAGAIN) or after it (its wake-up finds nothing ready, it sleeps until the timeout:
/// epoll_wait = 0, then EAGAIN). Two winners times two loser stories: four outcomes.
#[test]
fn small_thundering_herd_has_four_outcomes() {
    let source = std::fs::read_to_string(fixture("herd-small.scn")).unwrap();
    let r = exhaustive(&source, false);
    assert!(r.complete());
    assert_eq!(r.outcomes.len(), 4, "{:#?}", r.outcomes);
    let woken_for_nothing = r
        .outcomes
        .iter()
        .filter(|o| o.text.contains("epoll_wait(4, 1, 10) = 0"))
        .count();
    assert_eq!(woken_for_nothing, 2);
}

/// Whatever a seed sweep finds, the exhaustive search found too (a seed is one schedule).
#[test]
fn every_outcome_of_a_seed_sweep_is_among_the_exhaustive_ones() {
    for name in ["accept-race-2x2.scn", "herd-small.scn", "race-fails-2x2.scn"] {
        let source = std::fs::read_to_string(fixture(name)).unwrap();
        let scenario = socksim::load(&source).unwrap();
        let all = outcome_texts(&exhaustive(&source, false));
        let options = ExploreOptions {
            seeds: SeedRange { start: 0, end: 300 },
            shard: Shard::ALL,
            jobs: 2,
        };
        let sweep = explore(&scenario, &source, &options, &|_| {});
        assert!(sweep.errors.is_empty());
        for text in sweep.outcomes.keys() {
            assert!(
                all.contains(text),
                "{name}: the sweep found an outcome the search did not:\n{text}"
            );
        }
    }
}

/// Replaying each outcome's schedule (after it, first come first served) gives that outcome.
#[test]
fn each_outcome_schedule_replays_to_its_outcome() {
    for name in ["accept-race-2x2.scn", "herd-small.scn", "race-fails-2x2.scn"] {
        let source = std::fs::read_to_string(fixture(name)).unwrap();
        let scenario = socksim::load(&source).unwrap();
        let r = exhaustive(&source, false);
        let ports = PortSet::literal(&scenario);
        for o in &r.outcomes {
            let options = RunOptions {
                results: true,
                ..r.schedule_file(&o.schedule).run_options()
            };
            let report = socksim::run::run(&scenario, &source, &options).unwrap();
            assert_eq!(
                outcome(&report, &source, &ports).text,
                o.text,
                "{name}: {:?}",
                o.schedule
            );
        }
    }
}

#[test]
fn failing_schedules_are_counted_and_named() {
    let source = std::fs::read_to_string(fixture("race-fails-2x2.scn")).unwrap();
    let r = exhaustive(&source, false);
    assert!(r.failed());
    assert_eq!(r.outcomes.iter().filter(|o| o.fails).count(), 1);
    assert_eq!(r.failures.len(), 1);
    assert_eq!(r.failures[0].key.line, 14);
    let failing = r.outcomes.iter().find(|o| o.fails).unwrap();
    assert_eq!(r.failing, failing.count);
    assert_eq!(r.failures[0].schedule, failing.schedule);
}

#[test]
fn a_depth_limit_branches_only_the_first_decisions() {
    let source = std::fs::read_to_string(fixture("accept-race-2x2.scn")).unwrap();
    let scenario = socksim::load(&source).unwrap();
    let run = |depth| {
        let options = ExhaustiveOptions {
            depth: Some(depth),
            ..Default::default()
        };
        search(&scenario, &source, "x.scn", &options, &|_| {})
    };
    let zero = run(0);
    assert_eq!(zero.schedules, 1, "depth 0 is first come, first served only");
    assert_eq!(zero.truncated, 1);
    assert!(!zero.complete());
    let deep = run(1000);
    assert!(deep.complete());
    assert_eq!(outcome_texts(&deep), outcome_texts(&exhaustive(&source, false)));
}

/// A fresh scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    support::scratch("exhaustive", test)
}

#[test]
fn the_command_lists_outcomes_and_saves_replayable_schedules() {
    let dir = scratch("cli");
    let file = fixture("race-fails-2x2.scn");
    let save = dir.join("sched");
    let out = socksim(&[
        "explore",
        &file,
        "--exhaustive",
        "--save-schedules",
        &save.display().to_string(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a schedule breaks an expectation: {}",
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("every schedule (seed 0, depth unlimited): 576 schedules explored"),
        "{text}"
    );
    assert!(text.contains("2 distinct outcomes"), "{text}");
    assert!(text.contains("the search is complete"), "{text}");
    assert!(text.contains("breaks an expectation"), "{text}");
    assert!(text.contains("race-fails-2x2.scn:14:"), "{text}");
    for n in 1..=2 {
        let sched = save.join(format!("outcome-{n}.sched"));
        let saved = std::fs::read_to_string(&sched).unwrap();
        assert!(saved.contains("after fifo"), "{saved}");
        assert!(text.contains(&format!("--schedule {}", sched.display())), "{text}");
        let replay = socksim(&["run", &file, "--schedule", &sched.display().to_string()]);
        let fails = text
            .lines()
            .find(|l| l.starts_with(&format!("outcome {n}:")))
            .unwrap()
            .contains("breaks");
        assert_eq!(replay.status.code(), Some(if fails { 1 } else { 0 }), "outcome {n}");
    }

    let json = socksim(&["explore", &file, "--exhaustive", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["format"], "socksim-exhaustive/1");
    assert_eq!(v["schedules"], 576);
    assert_eq!(v["outcomes"].as_array().unwrap().len(), 2);

    let passing = socksim(&[
        "explore",
        &fixture("accept-race-2x2.scn"),
        "--exhaustive",
        "--depth",
        "3",
    ]);
    assert_eq!(passing.status.code(), Some(0), "{}", stderr(&passing));
    assert!(
        stdout(&passing).contains("reached the depth limit"),
        "{}",
        stdout(&passing)
    );
}

#[test]
fn bad_exhaustive_arguments_exit_2() {
    let file = fixture("accept-race-2x2.scn");
    let cases: &[&[&str]] = &[
        &["explore", &file],
        &["explore", &file, "--depth", "3", "--seeds", "0..10"],
        &["explore", &file, "--exhaustive", "--seeds", "0..10"],
        &["explore", &file, "--exhaustive", "--shard", "0/2"],
        &["explore", &file, "--exhaustive", "--depth", "x"],
        &["explore", "/nonexistent.scn", "--exhaustive"],
    ];
    for args in cases {
        let out = socksim(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{args:?}");
    }
}
