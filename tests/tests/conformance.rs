//! The conformance suite: every `tests/conformance/*.scn` states one Linux fact (or a few
//! tightly related ones) that was checked on a real kernel with `tools/oracle/run`, and socksim
//! must agree with it.
//!
//! Each file starts with a comment block:
//!
//! ```text
//! # fact: <the Linux behaviour>
//! # source: <kernel function(s) / man page>
//! # verified: tools/oracle/run on Linux 6.18 (unshare -n), <YYYY-MM-DD>
//! ```
//!
//! Facts about several hosts (routing, forwarding, NAT) are checked instead by the scripts of
//! `tools/oracle/net/` (network namespaces joined by veth pairs and bridges, nftables), and say
//! so: `# verified: tools/oracle/net/nat.py N01 on Linux ... (veth + nftables), <YYYY-MM-DD>`.
//!
//! These tests run every file through socksim (its own seed, and a few more seeds, since a fact
//! must not depend on the seed) and check the header. Re-checking the files on the real kernel
//! needs root and `unshare`, so it is not part of `cargo test`: run `tools/oracle/verify-all`
//! (and `tools/oracle/net/run-all` for the several-host facts).
//! A fact on which socksim and Linux disagree does not belong here; it goes to
//! `tools/oracle/DISAGREEMENTS.md`.

use std::path::{Path, PathBuf};

/// Every `*.scn` file of the suite, sorted by name.
fn conformance_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{} is readable: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect();
    files.sort();
    files
}

fn name_of(path: &Path) -> String {
    path.file_name().unwrap_or_default().to_string_lossy().into_owned()
}

/// Runs `source` through socksim; `Err` describes what went wrong.
fn run(source: &str, seed: Option<u64>) -> Result<(), String> {
    let options = socksim::run::RunOptions {
        trace: true,
        seed,
        ..Default::default()
    };
    match socksim::load_and_run(source, &options) {
        Err(diagnostics) => Err(diagnostics
            .iter()
            .map(|d| d.render("input.scn", source, false))
            .collect::<Vec<_>>()
            .join("\n")),
        Ok(report) if report.failures.is_empty() => Ok(()),
        Ok(report) => Err(report
            .failures
            .iter()
            .map(|f| format!("  `{}` expected {}, got {}", f.call, f.expected, f.actual))
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

#[test]
fn the_suite_is_not_empty() {
    let files = conformance_files();
    assert!(
        files.len() >= 60,
        "tests/conformance holds {} scenarios; it should hold at least 60",
        files.len()
    );
}

#[test]
fn every_conformance_scenario_holds_on_socksim() {
    let mut failed = Vec::new();
    for path in conformance_files() {
        let source = std::fs::read_to_string(&path).expect("the scenario is readable");
        if let Err(why) = run(&source, None) {
            failed.push(format!("{}:\n{why}", name_of(&path)));
        }
    }
    assert!(
        failed.is_empty(),
        "{} conformance scenario(s) do not hold on socksim (each was verified on Linux; see \
         its `# fact:` line):\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn every_conformance_scenario_holds_for_other_seeds() {
    // Ports, sequence numbers and scheduling choices come from the seed; a fact must hold for
    // every seed, as it holds on Linux for every boot.
    let mut failed = Vec::new();
    for path in conformance_files() {
        let source = std::fs::read_to_string(&path).expect("the scenario is readable");
        for seed in [1, 2, 3, 42, 1234] {
            if let Err(why) = run(&source, Some(seed)) {
                failed.push(format!("{} with --seed {seed}:\n{why}", name_of(&path)));
            }
        }
    }
    assert!(failed.is_empty(), "seed-dependent results:\n{}", failed.join("\n"));
}

#[test]
fn every_conformance_scenario_has_its_header() {
    let mut problems = Vec::new();
    for path in conformance_files() {
        let name = name_of(&path);
        let source = std::fs::read_to_string(&path).expect("the scenario is readable");
        // The header is the comment block the file starts with.
        let header: Vec<&str> = source.lines().take_while(|l| l.starts_with('#')).collect();
        if !header.first().is_some_and(|l| l.starts_with("# fact:")) {
            problems.push(format!("{name}: the first line must be `# fact: ...`"));
        }
        for (prefix, what) in [
            ("# fact:", "the Linux behaviour"),
            ("# source:", "the kernel function(s) or man page"),
            ("# verified:", "how and when it was checked on a real kernel"),
        ] {
            match header.iter().find(|l| l.starts_with(prefix)) {
                None => problems.push(format!("{name}: no `{prefix}` line ({what}) in the header")),
                Some(line) if line[prefix.len()..].trim().is_empty() => {
                    problems.push(format!("{name}: `{prefix}` is empty"));
                }
                Some(_) => {}
            }
        }
        if let Some(line) = header.iter().find(|l| l.starts_with("# verified:"))
            && !line.contains("tools/oracle/run")
            && !line.contains("tools/oracle/net/")
        {
            problems.push(format!(
                "{name}: `# verified:` must say it was checked with tools/oracle/run (one host) or a \
                 tools/oracle/net/ script (several hosts, veth + nftables)"
            ));
        }
        // NNN-short-name.scn
        let stem = name.trim_end_matches(".scn");
        let well_named = stem.len() > 4
            && stem.as_bytes()[..3].iter().all(u8::is_ascii_digit)
            && stem.as_bytes()[3] == b'-'
            && stem[4..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !well_named {
            problems.push(format!("{name}: the name must look like `NNN-short-name.scn`"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn conformance_numbers_are_unique() {
    let mut seen = std::collections::BTreeMap::new();
    let mut dupes = Vec::new();
    for path in conformance_files() {
        let name = name_of(&path);
        if let Some(number) = name.get(..3)
            && let Some(other) = seen.insert(number.to_string(), name.clone())
        {
            dupes.push(format!("{other} and {name}"));
        }
    }
    assert!(dupes.is_empty(), "two files share a number: {}", dupes.join(", "));
}
