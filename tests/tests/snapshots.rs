//! Snapshots of every bundled scenario's trace (text and JSON), pinned by insta.
//!
//! A change to any trace shows up as a snapshot diff: review it with `cargo insta review`.

use std::path::Path;

fn examples() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios/examples exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn bundled_scenarios_traces() {
    let examples = examples();
    assert!(examples.len() >= 2, "the bundled scenarios are there");
    for (name, source) in examples {
        let options = socksim::run::RunOptions {
            trace: true,
            ..Default::default()
        };
        let report = socksim::load_and_run(&source, &options).unwrap_or_else(|d| panic!("{name}: {d:?}"));
        assert!(
            report.failures.is_empty(),
            "{name}: every expectation holds: {:?}",
            report.failures
        );
        insta::assert_snapshot!(name.clone(), socksim::render::text(&report));
    }
}

#[test]
fn bundled_scenarios_json_is_one_object_per_line() {
    for (name, source) in examples() {
        let options = socksim::run::RunOptions {
            trace: true,
            ..Default::default()
        };
        let report = socksim::load_and_run(&source, &options).unwrap();
        let json = socksim::render::json(&report);
        let lines: Vec<serde_json::Value> = json
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l}")))
            .collect();
        assert_eq!(
            lines.len(),
            report.records.len() + 1,
            "{name}: one line per record plus the summary"
        );
        assert!(lines.last().unwrap().get("summary").is_some());
        assert!(lines.iter().any(|l| l["event"]["type"] == "syscall"));
        // Scenarios without a network (Unix sockets only) put no packet on any wire.
        let networked = !report.records.is_empty() && source.lines().any(|l| l.trim_start().starts_with("network "));
        assert!(
            !networked || lines.iter().any(|l| l["event"]["type"] == "packet"),
            "{name}"
        );
    }
}
