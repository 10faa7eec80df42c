//! What the integration tests of the `socksim` binary share: running it, finding the bundled
//! examples and the test fixtures, reading its output, and scratch directories.
#![allow(dead_code)] // each test file uses its own subset

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the `socksim` binary built for these tests with `args`.
pub fn socksim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_socksim"))
        .args(args)
        .output()
        .expect("socksim runs")
}

/// The path of the bundled example `name` (`scenarios/examples/`).
pub fn example(name: &str) -> String {
    format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The path of the test fixture `name` (`scenarios/tests/fixtures/`).
pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// What the run printed on standard output.
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// What the run printed on standard error.
pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// A fresh, empty scratch directory for the test `test` of the test file `file` (the two
/// together are unique, so test binaries running at once never share one).
pub fn scratch(file: &str, test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{file}-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
