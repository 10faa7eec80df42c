//! The `socksim` command: run, check and explore scenario files.
//!
//! Exit codes: 0 when every expectation held, 1 when one failed, 2 when the input is bad
//! (unreadable file, syntax or check error, bad arguments).
//!
//! Seed sweeps: `socksim explore FILE --seeds A..B [--jobs N] [--shard K/N] [--format json]`
//! runs seeds A to B-1 and groups them by outcome; `socksim explore FILE --exhaustive
//! [--depth K] [--seed N] [--max-schedules N] [--save-schedules DIR]` visits every schedule
//! instead; `socksim merge R1.json R2.json ...` joins
//! the JSON results of shards; `socksim shrink FILE --seed N [--output S]` reduces a failing
//! run's schedule to the decisions that matter; `socksim run FILE --schedule S` replays one.

use clap::{Parser, Subcommand, ValueEnum};
use socksim::diagnostic::Diagnostic;
use socksim::explore::{Coverage, ExploreOptions, ExploreResult, SeedRange, Shard};
use socksim::run::RunOptions;
use socksim::schedule::ScheduleFile;
use socksim::shrink::ShrinkError;
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
        /// Replay the scheduling choices of a schedule file (written by `--save-schedule` or
        /// `socksim shrink --output`); its seed is used unless `--seed` is given.
        #[arg(long, value_name = "SCHEDFILE")]
        schedule: Option<PathBuf>,
        /// Write every scheduling choice of this run to a schedule file, for `--schedule`.
        #[arg(long, value_name = "SCHEDFILE")]
        save_schedule: Option<PathBuf>,
        /// Also write every packet of the run to a pcapng capture (one interface per network,
        /// plus `lo`; virtual timestamps) for Wireshark or tshark.
        #[arg(long, value_name = "FILE")]
        pcap: Option<PathBuf>,
    },
    /// Run many seeds (or, with --exhaustive, every schedule) and group the runs by outcome:
    /// what each process saw, with ephemeral ports as `*`. Exits 1 if any run breaks an
    /// expectation.
    Explore {
        /// The scenario file (`*.scn`).
        file: PathBuf,
        /// The seeds: `A..B` runs A to B-1 (like Rust's ranges), `A..=B` includes B.
        #[arg(long, value_name = "A..B", required_unless_present = "exhaustive")]
        seeds: Option<SeedRange>,
        /// Instead of sampling seeds, visit every schedule (every sequence of choices where
        /// several processes could run) under one seed, pruning reorderings of steps that
        /// commute, and list every reachable outcome with a schedule that produces it.
        #[arg(long, conflicts_with_all = ["seeds", "shard", "jobs"])]
        exhaustive: bool,
        /// With --exhaustive: branch only at the first K decisions of each run; later ones are
        /// first come, first served (default: no limit).
        #[arg(long, value_name = "K", requires = "exhaustive")]
        depth: Option<usize>,
        /// With --exhaustive: the seed of every run (default: the scenario's).
        #[arg(long, requires = "exhaustive")]
        seed: Option<u64>,
        /// With --exhaustive: stop after this many runs and say the search is incomplete.
        #[arg(long, value_name = "N", requires = "exhaustive", default_value_t = socksim::exhaustive::DEFAULT_MAX_SCHEDULES)]
        max_schedules: u64,
        /// With --exhaustive: write one schedule file per outcome into DIR
        /// (`outcome-1.sched`, ...), for `socksim run FILE --schedule`.
        #[arg(long, value_name = "DIR", requires = "exhaustive")]
        save_schedules: Option<PathBuf>,
        /// With --exhaustive: run every schedule, without pruning (to check the pruning).
        #[arg(long, requires = "exhaustive")]
        no_prune: bool,
        /// Threads running seeds in parallel (default: the available cores). The result does
        /// not depend on it.
        #[arg(long, value_name = "N")]
        jobs: Option<usize>,
        /// Run only slice K (counted from 0) of N: the seeds s with (s - A) % N == K. Merge the
        /// slices' JSON results with `socksim merge`.
        #[arg(long, value_name = "K/N")]
        shard: Option<Shard>,
        /// Output format (`json` is what `socksim merge` reads).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Join the JSON results of `socksim explore` runs over different seeds (shards) into
    /// the result of one sweep. Exits 1 if any seed broke an expectation.
    Merge {
        /// Results written by `socksim explore --format json`.
        #[arg(required = true, value_name = "RESULT.json")]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Reduce a failing run's scheduling decisions to the fewest non-default ones that still
    /// fail, and show the interleaving that matters.
    Shrink {
        /// The scenario file (`*.scn`).
        file: PathBuf,
        /// The failing seed (default: the schedule file's, else the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Start from this schedule file instead of the seed's own choices.
        #[arg(long, value_name = "SCHEDFILE")]
        schedule: Option<PathBuf>,
        /// Write the shrunk schedule here (replay it with `socksim run FILE --schedule`).
        #[arg(long, short, value_name = "SCHEDFILE")]
        output: Option<PathBuf>,
    },
    /// Measure the simulator: N connections through the full handshake, held open.
    Bench {
        /// How many connections (or, with `--churn`, connect/close cycles).
        #[arg(long, default_value_t = 100_000)]
        connections: usize,
        /// Measure connect/close churn through TIME_WAIT instead of held connections.
        #[arg(long)]
        churn: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a scenario's topology (hosts, networks, addresses, routes) as a Graphviz DOT graph.
    Graph {
        /// The scenario file (`*.scn`).
        file: PathBuf,
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
        Command::Run {
            file,
            seed,
            format,
            schedule,
            save_schedule,
            pcap,
        } => run(
            &file,
            seed,
            format,
            schedule.as_deref(),
            save_schedule.as_deref(),
            pcap.as_deref(),
        ),
        Command::Explore {
            file,
            seeds,
            exhaustive: true,
            depth,
            seed,
            max_schedules,
            save_schedules,
            no_prune,
            format,
            ..
        } => {
            let options = socksim::exhaustive::ExhaustiveOptions {
                seed,
                depth,
                max_schedules,
                no_prune,
            };
            debug_assert!(seeds.is_none());
            explore_exhaustive(&file, &options, save_schedules.as_deref(), format)
        }
        Command::Explore {
            file,
            seeds: Some(seeds),
            jobs,
            shard,
            format,
            depth,
            seed,
            max_schedules,
            save_schedules,
            no_prune,
            ..
        } => {
            // clap counts a flag's default as present, so `requires` cannot catch these.
            let exhaustive_only = depth.is_some()
                || seed.is_some()
                || save_schedules.is_some()
                || no_prune
                || max_schedules != socksim::exhaustive::DEFAULT_MAX_SCHEDULES;
            if exhaustive_only {
                return bad_input(
                    "--depth, --seed, --max-schedules, --save-schedules and --no-prune need --exhaustive",
                );
            }
            explore(&file, seeds, jobs, shard, format)
        }
        Command::Explore { seeds: None, .. } => bad_input("explore needs --seeds A..B or --exhaustive"),
        Command::Merge { files, format } => merge(&files, format),
        Command::Shrink {
            file,
            seed,
            schedule,
            output,
        } => shrink(&file, seed, schedule.as_deref(), output.as_deref()),
        Command::Check { file, ast } => check(&file, ast),
        Command::Graph { file } => graph(&file),
        Command::Bench {
            connections,
            churn: true,
            json,
        } => bench_churn(connections, json),
        Command::Bench {
            connections,
            churn: false,
            json,
        } => bench(connections, json),
    }
}

fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_BAD_INPUT)
}

/// Writes `out` to stdout; a closed pipe (`socksim ... | head`) is not an error worth a panic.
fn print(out: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

fn read_schedule(path: &Path) -> Result<ScheduleFile, ExitCode> {
    let text = read(path)?;
    ScheduleFile::parse(&text).map_err(|e| bad_input(format!("{}: {e}", path.display())))
}

/// How to run: with `seed` (when given) and, from a schedule file, its seed (unless `seed`
/// overrides it) and choices; the trace on if `trace`.
fn run_options(seed: Option<u64>, schedule: Option<&Path>, trace: bool) -> Result<RunOptions, ExitCode> {
    let base = match schedule {
        Some(path) => {
            let sched = read_schedule(path)?;
            RunOptions {
                seed: seed.or(Some(sched.seed)),
                ..sched.run_options()
            }
        }
        None => RunOptions {
            seed,
            ..Default::default()
        },
    };
    Ok(RunOptions { trace, ..base })
}

fn write_file(path: &Path, text: &str) -> Result<(), ExitCode> {
    std::fs::write(path, text).map_err(|e| bad_input(format!("cannot write {}: {e}", path.display())))
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
            // A closed pipe (`socksim check --ast x | head`) is not an error worth a panic.
            let mut stdout = std::io::stdout().lock();
            let _ = if ast {
                writeln!(
                    stdout,
                    "{}",
                    serde_json::to_string_pretty(&scenario).expect("the AST serializes")
                )
            } else {
                writeln!(stdout, "{}: ok", file.display())
            };
            ExitCode::SUCCESS
        }
        Err(diagnostics) => report(file, &source, &diagnostics),
    }
}

/// Reads and checks `file`; on failure, the diagnostics are already reported and the exit code
/// is returned.
fn read_and_load(file: &Path) -> Result<(String, socksim::ast::Scenario), ExitCode> {
    let source = read(file)?;
    match socksim::load(&source) {
        Ok(scenario) => Ok((source, scenario)),
        Err(diagnostics) => Err(report(file, &source, &diagnostics)),
    }
}

fn graph(file: &Path) -> ExitCode {
    let (source, scenario) = match read_and_load(file) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    match socksim::run::build_world(&scenario, 0) {
        Ok(world) => {
            print(&socksim::graph::dot(&world));
            ExitCode::SUCCESS
        }
        Err(d) => report(file, &source, &[d]),
    }
}

fn run(
    file: &Path,
    seed: Option<u64>,
    format: Format,
    schedule: Option<&Path>,
    save_schedule: Option<&Path>,
    pcap: Option<&Path>,
) -> ExitCode {
    let source = match read(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let options = match run_options(seed, schedule, true) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let run = match pcap {
        Some(_) => socksim::pcap::run_and_capture(&source, &options).map(|(r, capture)| (r, Some(capture))),
        None => socksim::load_and_run(&source, &options).map(|r| (r, None)),
    };
    let (report, capture) = match run {
        Ok(r) => r,
        Err(diagnostics) => return report(file, &source, &diagnostics),
    };
    if let Some(path) = save_schedule
        && let Err(code) = write_file(path, &ScheduleFile::from_run(&report).render())
    {
        return code;
    }
    if let (Some(path), Some(capture)) = (pcap, capture)
        && let Err(e) = std::fs::write(path, capture)
    {
        return bad_input(format!("cannot write {}: {e}", path.display()));
    }
    let out = match format {
        Format::Text => socksim::render::text(&report),
        Format::Json => socksim::render::json(&report),
    };
    print(&out);
    if report.failures.is_empty() {
        return ExitCode::SUCCESS;
    }
    let color = std::io::stderr().is_terminal();
    let path = file.display().to_string();
    // Show the first failures in full; a failing loop can repeat one failure thousands of times.
    const SHOWN: usize = 10;
    for f in report.failures.iter().take(SHOWN) {
        let d = Diagnostic::error(
            format!("expectation failed: `{}`", f.call),
            f.span,
            format!("expected {}", f.expected),
        )
        .with_note(format!("actual: {}", f.actual));
        eprintln!("{}", d.render(&path, &source, color));
    }
    if report.failures.len() > SHOWN {
        eprintln!(
            "... and {} more failed expectations (the trace marks each one)",
            report.failures.len() - SHOWN
        );
    }
    let replay = match schedule {
        Some(s) => {
            let s = socksim::explore::shell_quote(&s.display().to_string());
            match seed {
                Some(n) => format!("--schedule {s} --seed {n}"),
                None => format!("--schedule {s}"),
            }
        }
        None => format!("--seed {}", report.seed),
    };
    eprintln!(
        "{} of {} expectations failed; replay with: socksim run {path} {replay}",
        report.failures.len(),
        report.checked,
    );
    ExitCode::from(EXIT_FAILED)
}

fn explore(file: &Path, seeds: SeedRange, jobs: Option<usize>, shard: Option<Shard>, format: Format) -> ExitCode {
    let (source, scenario) = match read_and_load(file) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let jobs = match jobs {
        Some(0) => return bad_input("--jobs must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let shard = shard.unwrap_or(Shard::ALL);
    let options = ExploreOptions { seeds, shard, jobs };
    let total = shard.len_in(seeds);
    if total == 0 {
        return bad_input(format!("shard {shard} of {seeds} holds no seed"));
    }
    let bar = progress_bar(total);
    let sweep = socksim::explore::explore(&scenario, &source, &options, &|n| bar.inc(n));
    bar.finish_and_clear();
    let coverage = vec![Coverage {
        start: seeds.start,
        end: seeds.end,
        shard: (shard != Shard::ALL).then_some(shard),
    }];
    let result = ExploreResult::new(sweep, &file.display().to_string(), &source, coverage);
    finish_sweep(&result, format)
}

fn explore_exhaustive(
    file: &Path,
    options: &socksim::exhaustive::ExhaustiveOptions,
    save: Option<&Path>,
    format: Format,
) -> ExitCode {
    let (source, scenario) = match read_and_load(file) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    let name = file.display().to_string();
    let result = socksim::exhaustive::search(&scenario, &source, &name, options, &|n| bar.inc(n));
    bar.finish_and_clear();
    let mut saved = Vec::new();
    if let Some(dir) = save {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return bad_input(format!("cannot create {}: {e}", dir.display()));
        }
        for (i, o) in result.outcomes.iter().enumerate() {
            let path = dir.join(format!("outcome-{}.sched", i + 1));
            if let Err(code) = write_file(&path, &result.schedule_file(&o.schedule).render()) {
                return code;
            }
            saved.push(path.display().to_string());
        }
    }
    match format {
        Format::Text => print(&socksim::exhaustive::render_text(&result, &saved)),
        Format::Json => {
            let mut json = serde_json::to_string_pretty(&result).expect("exhaustive results serialize");
            json.push('\n');
            print(&json);
        }
    }
    if let Some(e) = result.errors.first() {
        eprintln!("error: some runs stopped with an error: {}", e.message);
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if result.failed() {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// The progress bar on stderr: hidden unless stderr is a terminal.
fn progress_bar(total: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} seeds  {rate}  ETA {eta}  [{elapsed_precise}]")
    {
        bar.set_style(style.with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0} seeds/s", state.per_sec());
            },
        ));
    }
    bar
}

/// Prints a sweep's result and picks the exit code: 2 if some run stopped with an error, 1 if
/// a seed broke an expectation, else 0.
fn finish_sweep(result: &ExploreResult, format: Format) -> ExitCode {
    match format {
        Format::Text => print(&socksim::explore::render_text(result)),
        Format::Json => {
            let mut json = serde_json::to_string_pretty(result).expect("explore results serialize");
            json.push('\n');
            print(&json);
            if let Some(f) = result.failing_seeds {
                eprintln!(
                    "{} of {} seeds broke an expectation; replay the smallest with: socksim run {} --seed {}",
                    f.count,
                    result.runs,
                    socksim::explore::shell_quote(&result.file),
                    f.smallest_seed
                );
            }
        }
    }
    if let Some(e) = result.errors.first() {
        eprintln!(
            "error: some runs stopped with an error, e.g. seed {}: {}",
            e.smallest_seed, e.message
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if result.failed() {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

fn merge(files: &[PathBuf], format: Format) -> ExitCode {
    let mut results = Vec::with_capacity(files.len());
    for path in files {
        let text = match read(path) {
            Ok(t) => t,
            Err(code) => return code,
        };
        match ExploreResult::from_json(&text) {
            Ok(r) => results.push(r),
            Err(e) => return bad_input(format!("{}: {e}", path.display())),
        }
    }
    match socksim::explore::merge(&results) {
        Ok(result) => finish_sweep(&result, format),
        Err(e) => bad_input(e),
    }
}

fn shrink(file: &Path, seed: Option<u64>, schedule: Option<&Path>, output: Option<&Path>) -> ExitCode {
    let (source, scenario) = match read_and_load(file) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let start = match run_options(seed, schedule, false) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let shrunk = match socksim::shrink::shrink(&scenario, &source, &start) {
        Ok(s) => s,
        Err(ShrinkError::Run(d)) => return report(file, &source, &[d]),
        Err(ShrinkError::Passes { seed }) => {
            return bad_input(format!(
                "seed {seed} breaks no expectation: nothing to shrink (find a failing seed with `socksim explore`)"
            ));
        }
        Err(ShrinkError::NotReproducible) => {
            return bad_input("replaying the run's own decisions did not fail again (a socksim bug)");
        }
    };
    let path = file.display().to_string();
    let mut out = socksim::shrink::render(&shrunk, &path, &source);
    match output {
        Some(o) => {
            if let Err(code) = write_file(o, &shrunk.schedule_file().render()) {
                return code;
            }
            out.push_str(&format!(
                "\nwritten to {}; replay with: socksim run {} --schedule {}\n",
                o.display(),
                socksim::explore::shell_quote(&path),
                socksim::explore::shell_quote(&o.display().to_string())
            ));
        }
        None => out.push_str("\nwrite it to a schedule file with --output FILE\n"),
    }
    print(&out);
    ExitCode::SUCCESS
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

fn bench_churn(cycles: usize, json: bool) -> ExitCode {
    if cycles == 0 {
        return bad_input("--connections must be at least 1");
    }
    let r = socksim::bench::churn(cycles);
    if json {
        print(&format!(
            "{}\n",
            serde_json::to_string(&r).expect("bench results serialize")
        ));
    } else {
        let memory = match r.bytes_per_peak_socket {
            Some(b) => format!("{b:.0} bytes per socket at the peak (peak RSS growth / peak sockets)"),
            None => "unavailable (no /proc/self/status)".to_string(),
        };
        print(&format!(
            "cycles:             {} (connect, close first, server closes; over {} server ports)\n\
             wall time:          {:.3} s\n\
             cycles/second:      {:.0}\n\
             peak sockets:       {} (mostly client TIME_WAIT)\n\
             memory:             {memory}\n\
             virtual time:       {} s\n",
            r.cycles, r.server_ports, r.seconds, r.cycles_per_second, r.peak_sockets, r.virtual_time
        ));
    }
    ExitCode::SUCCESS
}
