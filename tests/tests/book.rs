//! Every scenario in the book runs, and its output matches the `.trace` file beside it, byte
//! for byte. The chapters include both files, so what a reader sees is what socksim prints.
//!
//! After a deliberate change to the output, regenerate the traces with
//! `SOCKSIM_BLESS=1 cargo test -p socksim-tests --test book` and review the diff.

use std::path::{Path, PathBuf};

fn scenarios(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("book/src is readable")
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            scenarios(&path, out);
        } else if path.extension().is_some_and(|e| e == "scn") {
            out.push(path);
        }
    }
}

/// The output of `socksim run FILE` (text format, the file's own seed) and its exit code.
pub fn run_like_the_cli(source: &str) -> (String, i32) {
    let options = socksim::run::RunOptions {
        trace: true,
        ..Default::default()
    };
    match socksim::load_and_run(source, &options) {
        Ok(report) => (socksim::render::text(&report), i32::from(!report.failures.is_empty())),
        Err(diagnostics) => (
            diagnostics
                .iter()
                .map(|d| d.render("input.scn", source, false))
                .collect(),
            2,
        ),
    }
}

#[test]
fn every_book_scenario_matches_its_trace() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src");
    let mut files = Vec::new();
    scenarios(&root, &mut files);
    assert!(!files.is_empty(), "the book has scenarios");
    let bless = std::env::var_os("SOCKSIM_BLESS").is_some();
    let mut mismatches = Vec::new();
    for scn in &files {
        let source = std::fs::read_to_string(scn).unwrap();
        let (output, code) = run_like_the_cli(&source);
        assert_eq!(
            code,
            0,
            "{} must run with every expectation held:\n{output}",
            scn.display()
        );
        let trace = scn.with_extension("trace");
        if bless {
            std::fs::write(&trace, &output).unwrap();
            continue;
        }
        match std::fs::read_to_string(&trace) {
            Ok(expected) if expected == output => {}
            Ok(_) => mismatches.push(format!("{} differs from its output", trace.display())),
            Err(_) => mismatches.push(format!("{} is missing", trace.display())),
        }
    }
    assert!(
        mismatches.is_empty(),
        "{}\nregenerate with SOCKSIM_BLESS=1 cargo test -p socksim-tests --test book",
        mismatches.join("\n")
    );
}
