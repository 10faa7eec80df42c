//! The `socksim` command: run, check and explore scenario files.
//!
//! Exit codes: 0 when every expectation held, 1 when one failed, 2 when the input is bad
//! (unreadable file, syntax or check error, bad arguments).

use clap::{Parser, Subcommand, ValueEnum};
use socksim::diagnostic::Diagnostic;
use socksim::run::RunOptions;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A deterministic simulator of the Linux socket layer.
#[derive(Parser)]
#[command(name = "socksim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// strace-, tcpdump- and ss-like lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and print its trace.
    Run {
        /// The scenario file (`*.scn`).
        file: PathBuf,
        /// The seed (overrides the file's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Measure the simulator: N connections through the full handshake, held open.
    Bench {
        /// How many connections.
        #[arg(long, default_value_t = 100_000)]
        connections: usize,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a scenario without running it.
    Check {
        /// The scenario file (`*.scn`).
        file: PathBuf,
        /// Print the syntax tree as JSON.
        #[arg(long)]
        ast: bool,
    },
}

const EXIT_FAILED: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { file, seed, format } => run(&file, seed, format),
        Command::Check { file, ast } => check(&file, ast),
        Command::Bench { connections, json } => bench(connections, json),
    }
}

fn read(file: &Path) -> Result<String, ExitCode> {
    std::fs::read_to_string(file).map_err(|e| {
        eprintln!("error: cannot read {}: {e}", file.display());
        ExitCode::from(EXIT_BAD_INPUT)
    })
}

fn report(file: &Path, source: &str, diagnostics: &[Diagnostic]) -> ExitCode {
    let color = std::io::stderr().is_terminal();
    for d in diagnostics {
        eprintln!("{}", d.render(&file.display().to_string(), source, color));
    }
    ExitCode::from(EXIT_BAD_INPUT)
}

fn check(file: &Path, ast: bool) -> ExitCode {
    let source = match read(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match socksim::load(&source) {
        Ok(scenario) => {
            if ast {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&scenario).expect("the AST serializes")
                );
            } else {
                println!("{}: ok", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(diagnostics) => report(file, &source, &diagnostics),
    }
}

fn run(file: &Path, seed: Option<u64>, format: Format) -> ExitCode {
    let source = match read(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let options = RunOptions {
        seed,
        trace: true,
        ..Default::default()
    };
    let report = match socksim::load_and_run(&source, &options) {
        Ok(r) => r,
        Err(diagnostics) => return report(file, &source, &diagnostics),
    };
    let out = match format {
        Format::Text => socksim::render::text(&report),
        Format::Json => socksim::render::json(&report),
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`socksim run x | head`) is not an error worth a panic.
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    if report.failures.is_empty() {
        return ExitCode::SUCCESS;
    }
    let color = std::io::stderr().is_terminal();
    let path = file.display().to_string();
    for f in &report.failures {
        let d = Diagnostic::error(
            format!("expectation failed: `{}`", f.call),
            f.span,
            format!("expected {}", f.expected),
        )
        .with_note(format!("actual: {}", f.actual));
        eprintln!("{}", d.render(&path, &source, color));
    }
    eprintln!(
        "{} of {} expectations failed; replay with: socksim run {path} --seed {}",
        report.failures.len(),
        report.checked,
        report.seed
    );
    ExitCode::from(EXIT_FAILED)
}

fn bench(connections: usize, json: bool) -> ExitCode {
    if connections == 0 {
        eprintln!("error: --connections must be at least 1");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let r = socksim::bench::connections(connections);
    if json {
        println!("{}", serde_json::to_string(&r).expect("bench results serialize"));
    } else {
        println!(
            "connections:        {} (to {} server ports)",
            r.connections, r.server_ports
        );
        println!("wall time:          {:.3} s", r.seconds);
        println!("connections/second: {:.0}", r.connections_per_second);
        match r.bytes_per_connection {
            Some(b) => println!("memory/connection:  {b:.0} bytes (peak RSS growth / connections)"),
            None => println!("memory/connection:  unavailable (no /proc/self/status)"),
        }
        println!("virtual time:       {} s", r.virtual_time);
    }
    ExitCode::SUCCESS
}
