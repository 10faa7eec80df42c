//! Property tests of NAT and connection tracking: random home networks behind one router
//! (masquerade, a small SNAT port range, `random-fully`, a port forward, a small
//! `nf_conntrack_max`) with random TCP and UDP flows from a few inside hosts, some from the
//! same source port, toward a few servers.
//!
//! Every run checks the kernel's invariants after every step (`RunOptions::check_invariants`),
//! which include, for the router's conntrack table: never more entries than
//! `nf_conntrack_max`, and every tuple naming exactly one entry in one direction, so that the
//! translation is a bijection between inside flows and outside tuples per protocol. On top,
//! from the outside:
//!
//! * what the servers see: no two simultaneous TCP connections at a server share the same
//!   peer address and port (the NAT never hands one external tuple to two inside flows);
//! * no inside address ever shows on the outside network: every packet on `wan` (and every
//!   packet an ICMP error there quotes) has only the router's and the servers' addresses,
//!   because masquerade and SNAT rewrite the sources and the un-NAT of replies and of ICMP
//!   errors (`nf_nat_icmp_reply_translation()`) happens before they leave;
//! * packets are conserved at the end: every transmission was delivered;
//! * the same seed gives the same trace.
//!
//! The worlds come from two generators: the ad-hoc one below (UDP flows, fixed source ports,
//! long pauses, a port forward), and `socksim::strategies::routed_scenario()` (the public
//! routed worlds, with the generic socket programs of `socksim::strategies`), on which the
//! same "no inside address on the outside network" check runs.

use proptest::prelude::*;
use proptest::test_runner::Config;
use sim_kernel::packet::PacketSummary;
use sim_kernel::trace::Event;
use socksim::run::{RunOptions, TraceEvent};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;

#[derive(Clone, Debug)]
enum Rule {
    Masquerade,
    SnatRange(u16),
    RandomFully,
}

#[derive(Clone, Debug)]
struct Flow {
    host: usize,
    tcp: bool,
    /// A fixed source port (bound with SO_REUSEADDR), or an ephemeral one.
    sport: Option<u16>,
    server: usize,
    /// Seconds to sleep before the flow (lets UDP entries expire at 30 s).
    pause: u64,
}

#[derive(Clone, Debug)]
struct Net {
    rule: Rule,
    max: u32,
    dnat: bool,
    inside: usize,
    flows: Vec<Flow>,
}

fn net() -> impl Strategy<Value = Net> {
    let rule = prop_oneof![
        Just(Rule::Masquerade),
        (1u16..5).prop_map(Rule::SnatRange),
        Just(Rule::RandomFully)
    ];
    let flow = (
        0usize..3,
        any::<bool>(),
        prop::option::of(prop_oneof![Just(5555u16), Just(600), Just(100)]),
        0usize..2,
        prop_oneof![4 => Just(0u64), 1 => Just(1), 1 => Just(40)],
    )
        .prop_map(|(host, tcp, sport, server, pause)| Flow {
            host,
            tcp,
            sport,
            server,
            pause,
        });
    (
        rule,
        prop_oneof![Just(262_144u32), 1u32..6],
        any::<bool>(),
        1usize..4,
        prop::collection::vec(flow, 1..10),
    )
        .prop_map(|(rule, max, dnat, inside, flows)| Net {
            rule,
            max,
            dnat,
            inside,
            flows,
        })
}

/// The scenario text of `n`.
fn scenario(n: &Net) -> String {
    let mut s = String::from("network home 192.168.1.0/24 latency=1ms\nnetwork wan 203.0.113.0/24 latency=5ms\n");
    for h in 0..n.inside {
        let _ = writeln!(
            s,
            "host in{h} {{\n    addr 192.168.1.{} on home\n    route default via 192.168.1.1\n    sysctl net.ipv4.tcp_syn_retries = 1\n}}",
            10 + h
        );
    }
    let rule = match n.rule {
        Rule::Masquerade => "nat masquerade out wan".to_string(),
        Rule::SnatRange(k) => format!("nat snat out wan to 203.0.113.1:20000..{}", 20000 + k),
        Rule::RandomFully => "nat masquerade out wan random-fully".to_string(),
    };
    let _ = writeln!(
        s,
        "host router {{\n    addr 192.168.1.1 on home\n    addr 203.0.113.1 on wan\n    forward\n    {rule}\n    sysctl net.netfilter.nf_conntrack_max = {}",
        n.max
    );
    if n.dnat {
        s.push_str("    nat dnat in wan tcp dport 8080 to 192.168.1.10:80\n");
    }
    s.push_str("}\n");
    for j in 0..2 {
        let _ = writeln!(
            s,
            "host srv{j} {{\n    addr 203.0.113.{} on wan\n    route default via 203.0.113.1\n}}",
            5 + j
        );
        let _ = writeln!(
            s,
            "process srv{j}/tcp {{\n    l = socket(AF_INET, SOCK_STREAM)\n    bind(l, 0.0.0.0:443) = 0\n    listen(l, 64) = 0\n    repeat 20 {{\n        c = accept(l)\n    }}\n}}"
        );
        let _ = writeln!(
            s,
            "process srv{j}/udp {{\n    u = socket(AF_INET, SOCK_DGRAM)\n    bind(u, 0.0.0.0:53) = 0\n    repeat 20 {{\n        recvfrom(u, 100)\n    }}\n}}"
        );
    }
    if n.dnat {
        s.push_str("process in0/web {\n    l = socket(AF_INET, SOCK_STREAM)\n    bind(l, 0.0.0.0:80) = 0\n    listen(l, 8) = 0\n    c = accept(l)\n}\n");
        s.push_str(
            "process srv1/probe at 1ms {\n    s = socket(AF_INET, SOCK_STREAM)\n    connect(s, 203.0.113.1:8080)\n}\n",
        );
    }
    for (i, f) in n.flows.iter().enumerate() {
        let _ = writeln!(s, "process in{}/f{i} at {}ms {{", f.host % n.inside, i + 2);
        if f.pause > 0 {
            let _ = writeln!(s, "    sleep {}s", f.pause);
        }
        let kind = if f.tcp { "SOCK_STREAM" } else { "SOCK_DGRAM" };
        let _ = writeln!(s, "    s = socket(AF_INET, {kind})");
        if let Some(p) = f.sport {
            let _ = writeln!(
                s,
                "    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, 1)\n    bind(s, 0.0.0.0:{p})"
            );
        }
        let dst = format!("203.0.113.{}", 5 + f.server);
        if f.tcp {
            let _ = writeln!(s, "    connect(s, {dst}:443)\n    sleep 2s");
        } else {
            let _ = writeln!(s, "    sendto(s, \"q\", {dst}:53)");
        }
        s.push_str("}\n");
    }
    s
}

/// Every address a packet names: its own ends and, for an ICMP error, the quoted packet's.
fn addresses(p: &PacketSummary) -> Vec<IpAddr> {
    match p {
        PacketSummary::Tcp(s) => vec![s.src.ip(), s.dst.ip()],
        PacketSummary::Udp { src, dst, .. } => vec![src.ip(), dst.ip()],
        PacketSummary::IcmpPortUnreachable {
            src,
            dst,
            orig_src,
            orig_dst,
            ..
        } => vec![*src, *dst, orig_src.ip(), orig_dst.ip()],
        PacketSummary::IcmpError { src, dst, quoted, .. } => {
            let mut v = vec![*src, *dst];
            v.extend(addresses(quoted));
            v
        }
    }
}

fn run(source: &str, seed: u64) -> socksim::run::RunReport {
    let options = RunOptions {
        seed: Some(seed),
        trace: true,
        check_invariants: true,
        ..Default::default()
    };
    socksim::load_and_run(source, &options).unwrap_or_else(|d| panic!("{}\n{source}", d[0].message))
}

proptest! {
    #![proptest_config(Config { cases: 96, failure_persistence: None, ..Config::default() })]

    #[test]
    fn nat_keeps_flows_apart(n in net(), seed in 0u64..1000) {
        let source = scenario(&n);
        let report = run(&source, seed);
        // What servers see: accepted peers are unique among the connections a server holds.
        let mut peers: BTreeSet<(u32, String)> = BTreeSet::new();
        for r in &report.records {
            if let TraceEvent::Kernel(Event::Syscall { pid, ret: Some(sim_kernel::SysReturn::Accepted { peer, .. }), .. }) = &r.event {
                prop_assert!(peers.insert((*pid, format!("{peer:?}"))), "two connections from {peer:?} at pid {pid}\n{source}");
            }
        }
        // The outside never sees an inside address.
        for r in &report.records {
            if let TraceEvent::Kernel(Event::Packet { network, packet }) = &r.event {
                if network == "wan" {
                    let leaked = addresses(packet).into_iter().any(|a| matches!(a, IpAddr::V4(v4) if v4.octets()[..3] == [192, 168, 1]));
                    prop_assert!(!leaked, "an inside address on wan: {packet:?}\n{source}");
                }
            }
        }
        let again = run(&source, seed);
        prop_assert_eq!(socksim::render::text(&report), socksim::render::text(&again));
    }
}

proptest! {
    #![proptest_config(Config {
        cases: 48,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x0a7_0a7),
        failure_persistence: None,
        ..Config::default()
    })]

    /// The public routed worlds: behind a NAT rule, no packet on the outside network `n1`
    /// names an inside address (`10.0.0.0/24`); and every run is deterministic.
    #[test]
    fn routed_worlds_never_leak_inside_addresses(generated in socksim::strategies::routed_scenario()) {
        let (source, _) = generated.load();
        let report = run(&source, generated.seed);
        let nat = generated.topology.router.as_ref().is_some_and(|r| r.nat.is_some());
        for r in report.records.iter().filter(|_| nat) {
            if let TraceEvent::Kernel(Event::Packet { network, packet }) = &r.event {
                if network == "n1" {
                    let leaked = addresses(packet).into_iter().any(|a| matches!(a, IpAddr::V4(v4) if v4.octets()[..3] == [10, 0, 0]));
                    prop_assert!(!leaked, "an inside address on n1: {packet:?}\n{source}");
                }
            }
        }
        let again = run(&source, generated.seed);
        prop_assert_eq!(socksim::render::text(&report), socksim::render::text(&again));
    }
}

/// The generator's worlds do translate: a fixed example sees its flows leave with the router's
/// address, and a one-port SNAT range refuses the second flow to the same server.
#[test]
fn the_generated_worlds_exercise_nat() {
    let n = Net {
        rule: Rule::SnatRange(0),
        max: 262_144,
        dnat: true,
        inside: 2,
        flows: vec![
            Flow {
                host: 0,
                tcp: true,
                sport: Some(5555),
                server: 0,
                pause: 0,
            },
            Flow {
                host: 1,
                tcp: true,
                sport: Some(5555),
                server: 0,
                pause: 0,
            },
            Flow {
                host: 1,
                tcp: false,
                sport: None,
                server: 1,
                pause: 0,
            },
        ],
    };
    let text = socksim::render::text(&run(&scenario(&n), 1));
    assert!(
        text.contains("203.0.113.1.20000 > 203.0.113.5.443: Flags [S]"),
        "{text}"
    );
    assert!(
        text.contains("[dropped: conntrack insert failed (no free NAT tuple)]"),
        "{text}"
    );
    assert!(text.contains("> 203.0.113.6.53: UDP"), "{text}");
    assert!(text.contains("accept(3) = 4 (203.0.113.1:20000)"), "{text}");
    // The port forward: the inside web server sees the outside prober's own address.
    assert!(text.contains("accept(3) = 4 (203.0.113.6:"), "{text}");
}
