//! The scenario language and its runner.
//!
//! A scenario file is parsed ([`parse`]) into a serde-serializable [`ast::Scenario`], checked
//! ([`check`]) against the table of known calls and constants ([`calls`]), and run on a
//! `sim_kernel::World`. Bad input produces a [`diagnostic::Diagnostic`] that points at the text.

pub mod ast;
pub mod calls;
pub mod check;
pub mod diagnostic;
pub mod parse;
