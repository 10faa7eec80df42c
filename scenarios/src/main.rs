//! The `socksim` command.
fn main() {}
