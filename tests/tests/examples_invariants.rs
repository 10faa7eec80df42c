//! Every bundled scenario (`scenarios/examples/*.scn`) and every book scenario runs with the
//! kernel's consistency checks after every step (`RunOptions::check_invariants`), under its own
//! seed and a few others, and still meets its expectations; so does every conformance fact
//! about Unix-domain sockets.

use std::path::{Path, PathBuf};

fn scenario_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            scenario_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "scn") {
            out.push(path);
        }
    }
}

fn check(path: &Path, seed: Option<u64>) {
    let source = std::fs::read_to_string(path).unwrap();
    let options = socksim::run::RunOptions {
        seed,
        check_invariants: true,
        ..Default::default()
    };
    let report = socksim::load_and_run(&source, &options)
        .unwrap_or_else(|d| panic!("{} (seed {seed:?}): {}", path.display(), d[0].message));
    assert!(
        report.failures.is_empty(),
        "{} (seed {seed:?}): {:?}",
        path.display(),
        report.failures
    );
}

#[test]
fn bundled_scenarios_keep_every_kernel_invariant() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    scenario_files(&root.join("scenarios/examples"), &mut files);
    assert!(files.len() >= 5, "the bundled scenarios are there: {files:?}");
    for path in &files {
        check(path, None);
        for seed in 0..4 {
            check(path, Some(seed));
        }
    }
}

#[test]
fn book_scenarios_keep_every_kernel_invariant() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src");
    let mut files = Vec::new();
    scenario_files(&root, &mut files);
    for path in &files {
        check(path, None);
    }
}

#[test]
fn unix_conformance_scenarios_keep_every_kernel_invariant() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance");
    let mut files = Vec::new();
    scenario_files(&root, &mut files);
    files.retain(|p| std::fs::read_to_string(p).is_ok_and(|s| s.contains("AF_UNIX")));
    assert!(files.len() >= 50, "the Unix-domain facts are there: {}", files.len());
    for path in &files {
        check(path, None);
        check(path, Some(1));
    }
}
