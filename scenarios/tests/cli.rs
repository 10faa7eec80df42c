//! The `socksim` binary as a user runs it: exit codes, error reports, determinism across
//! separate processes.

mod support;

use support::{example, fixture, socksim, stderr, stdout};

#[test]
fn same_seed_same_bytes_in_separate_processes() {
    for name in ["many-clients-one-port.scn", "port-exhaustion.scn"] {
        for format in ["text", "json"] {
            let a = socksim(&["run", &example(name), "--seed", "7", "--format", format]);
            let b = socksim(&["run", &example(name), "--seed", "7", "--format", format]);
            assert_eq!(a.status.code(), Some(0), "{name}: {}", stderr(&a));
            assert!(!a.stdout.is_empty());
            assert_eq!(a.stdout, b.stdout, "{name} ({format}) is byte-identical across runs");
        }
    }
}

/// The local ports the client got, in order, from a text trace.
fn client_ports(trace: &str) -> Vec<String> {
    trace
        .lines()
        .filter(|l| l.contains("getsockname") && l.contains("= 10.0.0.2:"))
        .map(|l| l.rsplit(':').next().unwrap().to_string())
        .collect()
}

#[test]
fn different_seeds_pick_ports_in_a_different_order() {
    let file = example("port-exhaustion.scn");
    let first = client_ports(&stdout(&socksim(&["run", &file, "--seed", "1"])));
    assert_eq!(first.len(), 20);
    let mut sorted = first[..10].to_vec();
    sorted.sort();
    let others: Vec<Vec<String>> = (2..6)
        .map(|seed| client_ports(&stdout(&socksim(&["run", &file, "--seed", &seed.to_string()]))))
        .collect();
    for o in &others {
        let mut s = o[..10].to_vec();
        s.sort();
        assert_eq!(s, sorted, "every seed uses the same ten ports");
    }
    assert!(others.iter().any(|o| *o != first), "some seed changes the order");
}

#[test]
fn a_failed_expectation_exits_1_with_location_and_replay() {
    let out = socksim(&["run", &fixture("failing.scn"), "--seed", "3"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("failing.scn:9:"), "points at the line: {err}");
    assert!(err.contains("expected = 0"), "{err}");
    assert!(err.contains("-1 ECONNREFUSED"), "shows what happened: {err}");
    assert!(
        err.contains("socksim run") && err.contains("--seed 3"),
        "gives the replay command: {err}"
    );
    assert!(
        stdout(&out).contains("!!! expectation failed"),
        "the trace marks the failure too"
    );
}

#[test]
fn bad_input_exits_2_with_a_snippet() {
    let out = socksim(&["run", &fixture("typo.scn")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("typo.scn:5:"), "{err}");
    assert!(err.contains("SO_REUSEADDR"), "suggests the near miss: {err}");
    assert!(stdout(&out).is_empty(), "nothing runs");
    let check = socksim(&["check", &fixture("typo.scn")]);
    assert_eq!(check.status.code(), Some(2));
}

#[test]
fn check_accepts_the_examples() {
    for name in ["many-clients-one-port.scn", "port-exhaustion.scn"] {
        let out = socksim(&["check", &example(name)]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
}

#[test]
fn missing_file_and_bad_arguments_exit_2() {
    assert_eq!(socksim(&["run", "/nonexistent.scn"]).status.code(), Some(2));
    assert_eq!(socksim(&["run"]).status.code(), Some(2));
    assert_eq!(socksim(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn graph_prints_the_topology_as_dot() {
    let out = socksim(&["graph", &example("nat-gateway.scn")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    insta::assert_snapshot!("graph-nat-gateway", stdout(&out));
    // A topology error is bad input, pointing at the line.
    let dir = std::env::temp_dir().join(format!("socksim-graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad-gateway.scn");
    std::fs::write(
        &bad,
        "network lan 10.0.0.0/24\nhost h {\n    addr 10.0.0.2 on lan\n    route default via 10.9.0.1\n}\n",
    )
    .unwrap();
    let out = socksim(&["graph", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("gateway 10.9.0.1 is not on any network of host `h`"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains(":4:5"), "{}", stderr(&out));
    let out = socksim(&["check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "check builds the topology too");
}
