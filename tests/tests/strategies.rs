//! Property tests through `socksim::strategies`: generated worlds and socket programs run with
//! the kernel's invariants checked after every step, plus a user-level invariant on the `ss`
//! view (the one the module's documentation shows).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use socksim::strategies::{GenScenario, Topology, check_run, routed_scenario, scenario};
use std::collections::BTreeSet;

/// No two connected sockets of one host share local address and peer.
fn unique_four_tuples(world: &sim_kernel::World) -> Result<(), String> {
    let hosts: BTreeSet<_> = world.processes().iter().map(|p| p.host).collect();
    for host in hosts {
        let mut seen = BTreeSet::new();
        for row in world
            .ss(host)
            .into_iter()
            .filter(|r| !r.peer.ends_with(":*") && r.state != "CLOSE")
        {
            if !seen.insert((row.netid.clone(), row.local.clone(), row.peer.clone())) {
                return Err(format!(
                    "{}: two sockets {} -> {}",
                    world.host(host).name,
                    row.local,
                    row.peer
                ));
            }
        }
    }
    Ok(())
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        // A fixed seed: the same cases on every machine, so a failure reproduces.
        rng_seed: RngSeed::Fixed(0x50c5_1a7e),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn generated_scenarios_keep_the_kernel_consistent(generated in scenario()) {
        let (text, _) = generated.load();
        let report = check_run(&generated, |_| Ok(()));
        prop_assert!(report.is_ok(), "{}\n--- scenario ---\n{text}", report.unwrap_err());
        let report = report.unwrap();
        prop_assert_eq!(report.processes.len(), generated.processes.len());
        prop_assert!(report.failures.is_empty(), "no expectations are generated");
    }

    #[test]
    fn generated_scenarios_never_share_a_four_tuple(generated in scenario()) {
        let outcome = check_run(&generated, unique_four_tuples);
        prop_assert!(outcome.is_ok(), "{}\n{}", outcome.unwrap_err(), generated.text());
    }

    #[test]
    fn generated_text_loads_and_runs_the_same_way_twice(generated in scenario()) {
        let (text, scenario) = generated.load();
        let options = socksim::run::RunOptions { trace: true, ..Default::default() };
        let a = socksim::run::run(&scenario, &text, &options).unwrap();
        let b = socksim::run::run(&scenario, &text, &options).unwrap();
        prop_assert_eq!(socksim::render::text(&a), socksim::render::text(&b));
    }
}

#[test]
fn a_broken_user_invariant_is_reported_with_its_step() {
    let generated: GenScenario = {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::new(config(1));
        scenario().new_tree(&mut runner).unwrap().current()
    };
    let mut calls = 0;
    let err = check_run(&generated, |_| {
        calls += 1;
        if calls == 2 { Err("made up".into()) } else { Ok(()) }
    })
    .unwrap_err();
    assert!(err.contains("before step 1") && err.contains("made up"), "{err}");
}

proptest! {
    #![proptest_config(config(32))]

    /// The exhaustive search's pruning (sleep sets) never loses an outcome: on generated
    /// scenarios small enough to search completely without pruning, the pruned search finds
    /// exactly the same outcomes.
    #[test]
    fn exhaustive_pruning_never_loses_an_outcome(generated in scenario()) {
        use socksim::exhaustive::{ExhaustiveOptions, search};
        let (text, scenario) = generated.load();
        let options = |no_prune| ExhaustiveOptions { max_schedules: 1000, no_prune, ..Default::default() };
        let full = search(&scenario, &text, "generated.scn", &options(true), &|_| {});
        if full.complete() {
            let pruned = search(&scenario, &text, "generated.scn", &options(false), &|_| {});
            prop_assert!(pruned.complete());
            prop_assert!(pruned.schedules <= full.schedules);
            let texts = |r: &socksim::exhaustive::Exhaustive| -> BTreeSet<String> {
                r.outcomes.iter().map(|o| o.text.clone()).collect()
            };
            prop_assert_eq!(texts(&full), texts(&pruned), "{}", text);
        }
    }
}

/// What the outside hosts of a routed world see: every peer of their sockets is the address
/// of a host of the world (or loopback), and, when the router has a NAT rule, never an inside
/// address (masquerade and SNAT rewrite every flow that leaves by the outside network, and
/// replies are un-NATed before they enter the inside one).
fn servers_see_no_inside_address(generated: &GenScenario) -> impl FnMut(&sim_kernel::World) -> Result<(), String> {
    let t = generated.topology.clone();
    let nat = t.router.as_ref().is_some_and(|r| r.nat.is_some());
    let outside: BTreeSet<String> = t.outside_hosts().iter().map(|h| format!("h{h}")).collect();
    let known: BTreeSet<String> = (0..t.hosts.len())
        .flat_map(|h| {
            t.hosts[h]
                .networks
                .iter()
                .map(move |&n| Topology::addr(h, n).to_string())
        })
        .chain(["127.0.0.1".to_string()])
        .collect();
    move |world| {
        let hosts: BTreeSet<_> = world.processes().iter().map(|p| p.host).collect();
        for host in hosts {
            let name = &world.host(host).name;
            if !outside.contains(name) {
                continue;
            }
            for row in world.ss(host).into_iter().filter(|r| !r.peer.ends_with(":*")) {
                let ip = row.peer.rsplit_once(':').map_or(row.peer.as_str(), |(ip, _)| ip);
                if !known.contains(ip) {
                    return Err(format!(
                        "{name}: a socket {} -> {}, an address nobody has",
                        row.local, row.peer
                    ));
                }
                if nat && ip.starts_with("10.0.0.") {
                    return Err(format!(
                        "{name}: a socket {} -> {}, an inside address behind the NAT",
                        row.local, row.peer
                    ));
                }
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// Routed worlds (an inside network, a forwarding router with or without NAT and a small
    /// conntrack table, outside servers): the kernel's invariants (the conntrack table's
    /// included) hold after every step, the servers never see an inside address through the
    /// NAT, and connected sockets never share a 4-tuple.
    #[test]
    fn routed_worlds_keep_the_kernel_consistent_and_hide_the_inside(generated in routed_scenario()) {
        let mut outside = servers_see_no_inside_address(&generated);
        let outcome = check_run(&generated, |world| {
            outside(world)?;
            unique_four_tuples(world)
        });
        prop_assert!(outcome.is_ok(), "{}\n--- scenario ---\n{}", outcome.unwrap_err(), generated.text());
        prop_assert!(outcome.unwrap().failures.is_empty(), "no expectations are generated");
    }
}

/// The routed worlds do route: a client inside reaches a server outside through the router,
/// and the server sees the router's outside address when there is a NAT rule.
#[test]
fn routed_worlds_cross_the_router() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::new(config(1));
    let (mut crossed, mut natted) = (0, 0);
    for _ in 0..64 {
        let generated = routed_scenario().new_tree(&mut runner).unwrap().current();
        let (text, scenario) = generated.load();
        assert!(
            text.contains("    forward\n") && text.contains("route default via 10.0.0."),
            "{text}"
        );
        let options = socksim::run::RunOptions {
            trace: true,
            ..Default::default()
        };
        let trace = socksim::render::text(&socksim::run::run(&scenario, &text, &options).unwrap());
        let router = generated.topology.router.as_ref().unwrap();
        let outside = Topology::addr(router.host, 1).to_string();
        for line in trace.lines().filter(|l| l.contains("accept(") && l.contains(" = 4 (")) {
            if line.contains("(10.0.0.") {
                crossed += 1;
            }
            if line.contains(&format!("({outside}:")) && router.nat.is_some() {
                natted += 1;
            }
        }
    }
    assert!(crossed > 0 && natted > 0, "crossed {crossed}, natted {natted}");
}
