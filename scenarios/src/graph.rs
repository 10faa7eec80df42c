//! `socksim graph`: the topology of a scenario as a Graphviz DOT graph.
//!
//! Hosts are boxes (with `forward` and their NAT rules), networks are ellipses (with their
//! prefix and link settings), and each interface is an edge labelled with its address. Static
//! routes are dashed arrows from a host to the host that owns the gateway address. Render it
//! with `socksim graph FILE | dot -Tsvg > topology.svg`.

use petgraph::dot::{Config, Dot};
use petgraph::visit::EdgeRef;
use sim_kernel::World;
use sim_kernel::netfilter::nat::NatAction;
use sim_kernel::world::Node;
use std::fmt::Write as _;

/// `text` as a DOT string (its `\\n` sequences are DOT's line breaks; names and addresses
/// hold no quotes or backslashes of their own).
fn quoted(text: &str) -> String {
    format!("\"{text}\"")
}

/// The label of a host: its name, whether it forwards, its NAT rules.
fn host_label(world: &World, id: sim_kernel::HostId) -> String {
    let h = world.host(id);
    let mut label = h.name.clone();
    if h.sysctl.ip_forward {
        label.push_str("\\nforward");
    }
    if let Some(nf) = &h.netfilter {
        for rule in &nf.rules {
            let net = |n: Option<sim_kernel::NetId>| n.map(|n| world.network(n).name.clone()).unwrap_or_default();
            let text = match &rule.action {
                NatAction::Masquerade => format!("masquerade out {}", net(rule.out)),
                NatAction::Snat { to, .. } => format!("snat out {} to {to}", net(rule.out)),
                NatAction::Dnat { dport, to, to_port, .. } => match to_port {
                    Some(p) => format!("dnat dport {dport} to {to}:{p}"),
                    None => format!("dnat dport {dport} to {to}"),
                },
            };
            let _ = write!(label, "\\nnat {text}");
        }
    }
    label
}

/// A duration in the scenario language's own units (`100us`, `10ms`, `1.5s`).
fn duration(ns: u64) -> String {
    match ns {
        _ if ns % 1_000_000_000 == 0 => format!("{}s", ns / 1_000_000_000),
        _ if ns % 1_000_000 == 0 => format!("{}ms", ns / 1_000_000),
        _ if ns % 1_000 == 0 => format!("{}us", ns / 1_000),
        _ => format!("{ns}ns"),
    }
}

/// The label of a network: name, prefix, and its latency when it has one.
fn network_label(world: &World, id: sim_kernel::NetId) -> String {
    let n = world.network(id);
    let mut label = format!("{}\\n{}/{}", n.name, n.addr, n.prefix);
    if n.latency.as_nanos() > 0 {
        let _ = write!(label, "\\nlatency {}", duration(n.latency.as_nanos()));
    }
    label
}

/// The DOT text of `world`'s topology.
pub fn dot(world: &World) -> String {
    let graph = world.topology();
    let mut out = format!(
        "{:?}",
        Dot::with_attr_getters(
            graph,
            &[Config::EdgeNoLabel, Config::NodeNoLabel, Config::GraphContentOnly],
            &|_, edge| format!("label = {}", quoted(&edge.weight().to_string())),
            &|_, (_, node)| match node {
                Node::Host(h) => format!("shape = box, label = {}", quoted(&host_label(world, *h))),
                Node::Network(n) => format!("shape = ellipse, label = {}", quoted(&network_label(world, *n))),
            },
        )
    );
    // Static routes: from the host to the owner of the gateway address.
    let node_of = |host: sim_kernel::HostId| {
        graph
            .node_indices()
            .find(|&i| matches!(graph[i], Node::Host(h) if h == host))
            .map(|i| i.index())
    };
    for i in graph.node_indices() {
        let Node::Host(host) = graph[i] else { continue };
        for r in &world.host(host).routes {
            let owner = graph.edge_references().find(|e| *e.weight() == r.via).and_then(|e| {
                match (&graph[e.source()], &graph[e.target()]) {
                    (Node::Host(h), _) | (_, Node::Host(h)) => node_of(*h),
                    _ => None,
                }
            });
            if let Some(to) = owner {
                let _ = writeln!(
                    out,
                    "    {} -> {} [ style = dashed, label = {} ]",
                    i.index(),
                    to,
                    quoted(&format!("{} via {}", r.prefix, r.via))
                );
            }
        }
    }
    // An undirected graph prints `--` edges; routes are arrows, so the whole graph is a
    // digraph whose interface edges have no arrowheads.
    let body = out.replace(" -- ", " -> ");
    let body = body
        .lines()
        .map(|l| {
            if l.contains(" -> ") && !l.contains("style = dashed") {
                l.replacen(" [ ", " [ dir = none, ", 1)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!("digraph topology {{\n    rankdir = LR\n{body}\n}}\n")
}
