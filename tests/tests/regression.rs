//! Regression scenarios (`tests/scenarios/*.scn`): each one's inline expectations are its
//! assertions, so every file must run with every expectation held — and give identical bytes
//! when run twice.

use std::path::Path;

#[test]
fn every_regression_scenario_holds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/scenarios exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the regression scenarios are there");
    for path in files {
        let source = std::fs::read_to_string(&path).unwrap();
        let options = socksim::run::RunOptions {
            trace: true,
            ..Default::default()
        };
        let report = socksim::load_and_run(&source, &options)
            .unwrap_or_else(|d| panic!("{}: {}", path.display(), d[0].render("x", &source, false)));
        let text = socksim::render::text(&report);
        assert!(report.failures.is_empty(), "{}:\n{text}", path.display());
        assert!(report.checked > 0, "{} checks something", path.display());
        let again = socksim::render::text(&socksim::load_and_run(&source, &options).unwrap());
        assert_eq!(text, again, "{} is deterministic", path.display());
    }
}
