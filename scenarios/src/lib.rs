//! # socksim: the scenario language and its runner
//!
//! A scenario file is parsed ([`parse`]) into a serde-serializable [`ast::Scenario`], checked
//! ([`check`]) against the table of known calls and constants ([`calls`]), and run ([`run`])
//! on a `sim_kernel::World` by the interpreter ([`interp`]). The trace is rendered as text or
//! JSON lines ([`render`]). Bad input produces a [`diagnostic::Diagnostic`] that points at the
//! text.
//!
//! Races: [`explore`] runs many seeds and groups them by outcome, [`exhaustive`] visits every
//! schedule of a small scenario (pruning reorderings of commuting steps), [`shrink`] reduces a
//! failing run to the scheduling decisions that matter, and, with the `proptest` feature,
//! `strategies` generates worlds and socket programs for property tests whose runs check the
//! kernel's invariants after every step ([`run::RunOptions::check_invariants`]).
//!
//! ```
//! let source = "
//! host a 10.0.0.1 on lan
//! network lan 10.0.0.0/24
//! process a/p {
//!     s = socket(AF_INET, SOCK_STREAM) = 3
//!     connect(s, 127.0.0.1:9) = -1 ECONNREFUSED
//! }
//! ";
//! let report = socksim::load_and_run(source, &socksim::run::RunOptions { trace: true, ..Default::default() })
//!     .expect("a valid scenario");
//! assert!(report.failures.is_empty());
//! assert!(socksim::render::text(&report).contains("ECONNREFUSED"));
//! ```

pub mod ast;
pub mod bench;
pub mod calls;
pub mod check;
pub mod diagnostic;
pub mod exhaustive;
pub mod explore;
pub mod graph;
pub mod interp;
pub mod parse;
pub mod pcap;
pub mod render;
pub mod run;
pub mod shrink;
#[cfg(feature = "proptest")]
pub mod strategies;

pub use shrink::schedule;

use diagnostic::Diagnostic;

/// Parses and checks `source`: the syntax tree, or every problem found.
pub fn load(source: &str) -> Result<ast::Scenario, Vec<Diagnostic>> {
    let scenario = parse::parse(source).map_err(|d| vec![d])?;
    let problems = check::check(&scenario);
    if !problems.is_empty() {
        return Err(problems);
    }
    // The topology itself (addresses inside their networks, gateways on attached networks,
    // NAT rules on attached networks) is checked by building it.
    run::build_world(&scenario, 0).map_err(|d| vec![d])?;
    Ok(scenario)
}

/// Parses, checks and runs `source`.
pub fn load_and_run(source: &str, options: &run::RunOptions) -> Result<run::RunReport, Vec<Diagnostic>> {
    let scenario = load(source)?;
    run::run(&scenario, source, options).map_err(|d| vec![d])
}
