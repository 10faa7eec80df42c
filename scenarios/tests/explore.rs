//! Seed sweeps, schedule replay and shrinking, through the `socksim` binary and the library.

mod support;

use std::path::PathBuf;
use support::{example, fixture, socksim, stderr, stdout};

/// A fresh scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    support::scratch("explore", test)
}

fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// The choices of a schedule file, comments and headers dropped.
fn choices(schedule: &str) -> Vec<u32> {
    socksim::schedule::ScheduleFile::parse(schedule).unwrap().choices
}

#[test]
fn accept_race_has_several_outcomes_and_all_expectations_hold() {
    let out = socksim(&["explore", &example("accept-race.scn"), "--seeds", "0..200"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let outcomes = text.lines().filter(|l| l.starts_with("outcome ")).count();
    assert!(outcomes >= 3, "several outcomes:\n{text}");
    assert!(text.contains("200 seeds (0..200)"), "{text}");
    assert!(text.contains("expectations: held in all 200 seeds"), "{text}");
    // Ephemeral ports are abstracted, the server's port is not.
    assert!(text.contains("accept(3) = 4 (10.0.0.2:*)"), "{text}");
    assert!(text.contains("bind(3, 0.0.0.0:80) = 0"), "{text}");
    // The shares add up.
    let counts: u64 = text
        .lines()
        .filter_map(|l| l.strip_prefix("outcome "))
        .map(|l| {
            l.split(": ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(counts, 200);
}

#[test]
fn results_do_not_depend_on_jobs() {
    for file in [example("accept-race.scn"), fixture("race-fails.scn")] {
        for format in ["text", "json"] {
            let one = socksim(&["explore", &file, "--seeds", "0..120", "--jobs", "1", "--format", format]);
            let two = socksim(&["explore", &file, "--seeds", "0..120", "--jobs", "2", "--format", format]);
            let many = socksim(&["explore", &file, "--seeds", "0..120", "--jobs", "7", "--format", format]);
            assert!(!one.stdout.is_empty());
            assert_eq!(one.stdout, two.stdout, "{file} ({format}): --jobs 1 and --jobs 2 agree");
            assert_eq!(
                one.stdout, many.stdout,
                "{file} ({format}): --jobs 1 and --jobs 7 agree"
            );
            assert_eq!(one.status.code(), two.status.code());
        }
    }
}

#[test]
fn merged_shards_equal_one_sweep() {
    let dir = scratch("merge");
    let file = fixture("race-fails.scn");
    let sweep = |extra: &[&str], out: &str| {
        let mut args = vec!["explore", &file, "--seeds", "10..90", "--format", "json"];
        args.extend_from_slice(extra);
        let o = socksim(&args);
        assert_eq!(
            o.status.code(),
            Some(1),
            "the fixture fails for some seeds: {}",
            stderr(&o)
        );
        let p = dir.join(out);
        std::fs::write(&p, &o.stdout).unwrap();
        path(&p)
    };
    let whole = sweep(&[], "whole.json");
    let a = sweep(&["--shard", "0/2"], "a.json");
    let b = sweep(&["--shard", "1/2", "--jobs", "3"], "b.json");
    let merged = socksim(&["merge", &b, &a, "--format", "json"]);
    assert_eq!(merged.status.code(), Some(1), "{}", stderr(&merged));
    assert_eq!(
        stdout(&merged),
        std::fs::read_to_string(&whole).unwrap(),
        "merging the shards gives the one sweep's JSON, byte for byte"
    );
    // Three shards in yet another order, and the text rendering, agree too.
    let parts: Vec<String> = (0..3)
        .map(|k| sweep(&["--shard", &format!("{k}/3")], &format!("t{k}.json")))
        .collect();
    let merged3 = socksim(&["merge", &parts[2], &parts[0], &parts[1]]);
    let direct = socksim(&["explore", &file, "--seeds", "10..90"]);
    assert_eq!(stdout(&merged3), stdout(&direct));
    // Adjacent ranges join as well.
    let lo = socksim(&["explore", &file, "--seeds", "10..50", "--format", "json"]);
    let hi = socksim(&["explore", &file, "--seeds", "50..90", "--format", "json"]);
    let (lo_p, hi_p) = (dir.join("lo.json"), dir.join("hi.json"));
    std::fs::write(&lo_p, &lo.stdout).unwrap();
    std::fs::write(&hi_p, &hi.stdout).unwrap();
    let joined = socksim(&["merge", &path(&hi_p), &path(&lo_p), "--format", "json"]);
    assert_eq!(stdout(&joined), std::fs::read_to_string(&whole).unwrap());
}

#[test]
fn merge_refuses_double_counting_and_bad_input() {
    let dir = scratch("merge-bad");
    let file = fixture("race-fails.scn");
    let o = socksim(&[
        "explore", &file, "--seeds", "0..20", "--shard", "0/2", "--format", "json",
    ]);
    let a = dir.join("a.json");
    std::fs::write(&a, &o.stdout).unwrap();
    let twice = socksim(&["merge", &path(&a), &path(&a)]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(stderr(&twice).contains("twice"), "{}", stderr(&twice));

    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, "{ not json").unwrap();
    let other = dir.join("other.json");
    std::fs::write(&other, r#"{"format": "something-else/9"}"#).unwrap();
    let missing = dir.join("missing.json");
    for bad in [&garbage, &other, &missing] {
        let out = socksim(&["merge", &path(bad)]);
        assert_eq!(out.status.code(), Some(2), "{}", bad.display());
        let err = stderr(&out);
        assert!(err.contains("error:") && !err.contains("panicked"), "{err}");
    }
}

#[test]
fn bad_arguments_exit_2_without_panicking() {
    let file = example("accept-race.scn");
    let cases: &[&[&str]] = &[
        &["explore", &file, "--seeds", "10"],
        &["explore", &file, "--seeds", "5..5"],
        &["explore", &file, "--seeds", "9..2"],
        &["explore", &file, "--seeds", "a..b"],
        &["explore", &file, "--seeds", "0..10", "--shard", "2/2"],
        &["explore", &file, "--seeds", "0..10", "--shard", "1/0"],
        &["explore", &file, "--seeds", "0..10", "--shard", "x"],
        &["explore", &file, "--seeds", "0..10", "--jobs", "0"],
        &["explore", &file, "--seeds", "0..2", "--shard", "3/4"],
        &["explore", "/nonexistent.scn", "--seeds", "0..10"],
        &["run", &file, "--schedule", "/nonexistent.sched"],
        &["shrink", &example("accept-race.scn"), "--seed", "3"],
    ];
    for args in cases {
        let out = socksim(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// The smallest seed for which `socksim run FILE --seed N` exits 1.
fn smallest_failing_seed(file: &str) -> u64 {
    (0..100)
        .find(|s| socksim(&["run", file, "--seed", &s.to_string()]).status.code() == Some(1))
        .expect("some seed fails")
}

#[test]
fn explore_names_the_smallest_failing_seed_and_how_to_replay_it() {
    let file = fixture("race-fails.scn");
    let smallest = smallest_failing_seed(&file);
    let out = socksim(&["explore", &file, "--seeds", "0..100"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("smallest failing seed: {smallest}\n")), "{text}");
    assert!(
        text.contains(&format!("replay with: socksim run {file} --seed {smallest}\n")),
        "{text}"
    );
    assert!(
        text.contains("race-fails.scn:16:23: `accept(l)` expected = 4 (10.0.0.2:*)"),
        "{text}"
    );
    assert!(
        text.contains("!!! expected = 4 (10.0.0.2:*)"),
        "the outcome marks the failure: {text}"
    );
    // Some seeds pass: the race really is a race.
    assert!(
        text.lines().any(|l| l.starts_with("outcome ") && !l.contains("breaks")),
        "{text}"
    );

    let json = socksim(&["explore", &file, "--seeds", "0..100", "--format", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["failing_seeds"]["smallest_seed"], smallest);
    assert_eq!(v["runs"], 100);
    assert!(stderr(&json).contains(&format!("socksim run {file} --seed {smallest}")));
}

#[test]
fn a_saved_schedule_replays_the_same_trace() {
    let dir = scratch("replay");
    for (file, seed) in [(example("accept-race.scn"), "7"), (fixture("race-fails.scn"), "0")] {
        let sched = dir.join(format!("{seed}.sched"));
        let first = socksim(&["run", &file, "--seed", seed, "--save-schedule", &path(&sched)]);
        let saved = std::fs::read_to_string(&sched).unwrap();
        assert!(
            saved.contains(&format!("\nseed {seed}\n")),
            "the seed is recorded: {saved}"
        );
        assert!(saved.contains("# at="), "{saved}");
        // The seed comes from the file: no --seed needed.
        let replay = socksim(&["run", &file, "--schedule", &path(&sched)]);
        assert_eq!(first.status.code(), replay.status.code());
        assert!(!first.stdout.is_empty());
        assert_eq!(first.stdout, replay.stdout, "{file}: identical trace bytes");
        let json_a = socksim(&["run", &file, "--seed", seed, "--format", "json"]);
        let json_b = socksim(&["run", &file, "--schedule", &path(&sched), "--format", "json"]);
        assert_eq!(json_a.stdout, json_b.stdout);
    }
}

#[test]
fn shrink_keeps_the_failure_with_fewer_non_default_decisions() {
    let dir = scratch("shrink");
    let file = fixture("race-fails.scn");
    let mut shrunk_some = false;
    for seed in (0..30)
        .filter(|s| socksim(&["run", &file, "--seed", &s.to_string()]).status.code() == Some(1))
        .take(4)
    {
        let seed = seed.to_string();
        let original = dir.join(format!("orig-{seed}.sched"));
        socksim(&["run", &file, "--seed", &seed, "--save-schedule", &path(&original)]);
        let original_non_default = choices(&std::fs::read_to_string(&original).unwrap())
            .iter()
            .filter(|&&c| c != 0)
            .count();

        let out_path = dir.join(format!("shrunk-{seed}.sched"));
        let out = socksim(&["shrink", &file, "--seed", &seed, "--output", &path(&out_path)]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("still fails:"), "{text}");
        let shrunk = std::fs::read_to_string(&out_path).unwrap();
        assert!(shrunk.contains("after fifo"), "{shrunk}");
        let non_default = choices(&shrunk).iter().filter(|&&c| c != 0).count();
        assert!(
            non_default <= original_non_default,
            "{non_default} > {original_non_default}"
        );
        shrunk_some |= non_default < original_non_default;
        for line in text.lines().filter(|l| l.trim_start().starts_with("ran ")) {
            assert!(line.contains("(line "), "names the statement: {line}");
        }

        let replay = socksim(&["run", &file, "--schedule", &path(&out_path)]);
        assert_eq!(replay.status.code(), Some(1), "the shrunk schedule still fails");
        assert!(stderr(&replay).contains("race-fails.scn:16:"), "{}", stderr(&replay));
        assert!(stderr(&replay).contains("--schedule"), "{}", stderr(&replay));

        // Shrinking a shrunk schedule gives nothing new.
        let again = socksim(&["shrink", &file, "--schedule", &path(&out_path)]);
        assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    }
    assert!(shrunk_some, "shrinking removed decisions for some seed");
}

#[test]
fn library_sweeps_agree_across_threads_and_fifo_replay_chooses_zero() {
    use socksim::explore::{ExploreOptions, SeedRange, Shard, explore};
    let source = std::fs::read_to_string(example("accept-race.scn")).unwrap();
    let scenario = socksim::load(&source).unwrap();
    let options = |jobs| ExploreOptions {
        seeds: SeedRange { start: 0, end: 64 },
        shard: Shard::ALL,
        jobs,
    };
    let done = std::sync::atomic::AtomicU64::new(0);
    let progress = |n| {
        done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    };
    let one = explore(&scenario, &source, &options(1), &progress);
    let four = explore(&scenario, &source, &options(4), &progress);
    assert_eq!(one, four);
    assert_eq!(one.runs, 64);
    assert_eq!(done.into_inner(), 128, "progress counts every seed");

    let fifo = socksim::run::run(
        &scenario,
        &source,
        &socksim::run::RunOptions {
            seed: Some(5),
            schedule: Some(vec![1]),
            fifo_after_schedule: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(fifo.decisions[0].chosen, 1);
    assert!(
        fifo.decisions[1..].iter().all(|d| d.chosen == 0),
        "{:?}",
        fifo.decisions
    );
}
