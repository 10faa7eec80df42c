//! The book's shell sessions are real: every ```console block in `book/src` whose commands
//! run socksim (`socksim ...`, or `cargo run ... -- ...` from the repository root) is replayed,
//! and the output lines the book shows must appear in what the command prints, in the same
//! order. A line `...` in the book stands for lines left out.
//!
//! Each chapter's commands run in order in a scratch directory holding copies of the chapter
//! directory's scenario files (and links to `book/` and `scenarios/` for repository paths), so
//! files that one command writes (`--output wrong.sched`, `--pcap hello.pcapng`) are there for
//! the next. `echo $?` prints the previous command's exit status. Commands whose tools are not
//! installed (`dot`, or `tshark` unless `SOCKSIM_REQUIRE_TSHARK` is set or tshark runs) and
//! synopsis lines with placeholders (`FILE`) are skipped, and so is a block right after a
//! `<!-- not replayed: WHY -->` comment (a session with a file the reader edited); the test
//! fails if fewer than ten commands ran.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One shell command of a console block and the output lines the book shows for it.
struct Session {
    chapter: PathBuf,
    line: usize,
    command: String,
    expected: Vec<String>,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn chapters(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            chapters(&p, out);
        } else if p.extension().is_some_and(|e| e == "md") {
            out.push(p);
        }
    }
}

/// The commands of every ```console block of `chapter`.
fn sessions(chapter: &Path) -> Vec<Session> {
    let text = std::fs::read_to_string(chapter).unwrap();
    let mut out: Vec<Session> = Vec::new();
    let mut in_console = false;
    let mut previous = "";
    for (i, line) in text.lines().enumerate() {
        if let Some(info) = line.strip_prefix("```") {
            // A block right after `<!-- not replayed: WHY -->` shows an imagined session
            // (an edited file, a file the reader writes).
            in_console = !in_console && info.trim() == "console" && !previous.starts_with("<!-- not replayed");
            previous = line;
            continue;
        }
        if !line.trim().is_empty() {
            previous = line;
        }
        if !in_console {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            out.push(Session {
                chapter: chapter.to_path_buf(),
                line: i + 1,
                command: cmd.to_string(),
                expected: Vec::new(),
            });
        } else if let Some(last) = out.last_mut() {
            last.expected.push(line.to_string());
        }
    }
    out
}

fn tool_runs(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Why a command is not replayed, if it is not.
fn skip_reason(command: &str) -> Option<&'static str> {
    let words: Vec<&str> = command.split_whitespace().collect();
    if words.iter().any(|w| *w == "FILE" || w.starts_with('[')) {
        return Some("a synopsis");
    }
    if words.contains(&"dot") && !tool_runs("dot") {
        return Some("Graphviz is not installed");
    }
    if words.first() == Some(&"tshark") && !tool_runs("tshark") && std::env::var_os("SOCKSIM_REQUIRE_TSHARK").is_none()
    {
        return Some("tshark is not installed");
    }
    if words.contains(&"bench") {
        return Some("timings vary");
    }
    match words.first() {
        Some(&"socksim" | &"cargo" | &"tshark" | &"echo") => None,
        _ => Some("not a socksim session"),
    }
}

/// A scratch directory for `chapter` with its directory's scenarios and links to the repository.
fn scratch(chapter: &Path) -> PathBuf {
    let name = chapter
        .strip_prefix(repo().join("book/src"))
        .unwrap_or(chapter)
        .to_string_lossy()
        .replace(['/', '.'], "_");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("book-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    // The chapter's own directory and the directory named after it (`first-scenario.md` keeps
    // its files in `first-scenario/`).
    for source in [chapter.parent().unwrap().to_path_buf(), chapter.with_extension("")] {
        let Ok(entries) = std::fs::read_dir(&source) else {
            continue;
        };
        for entry in entries {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "scn") {
                std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_socksim"), dir.join("bin/socksim")).unwrap();
        for d in ["book", "scenarios"] {
            std::os::unix::fs::symlink(repo().join(d), dir.join(d)).unwrap();
        }
    }
    dir
}

/// Runs `command` in `dir` the way a reader would type it; returns the output (stdout, then
/// stderr, tshark's root warning left out) and the exit status.
fn run(dir: &Path, command: &str) -> (String, i32) {
    // `cargo run [-q] [--release] -- ARGS` is socksim itself.
    let command = match command.split_once(" -- ") {
        Some((cargo, rest)) if cargo.starts_with("cargo run") => format!("socksim {rest}"),
        _ => command.to_string(),
    };
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .expect("sh runs");
    let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
    for line in String::from_utf8_lossy(&o.stderr).lines() {
        if !line.contains("Running as user") {
            text.push_str(line);
            text.push('\n');
        }
    }
    (text, o.status.code().unwrap_or(-1))
}

/// Whether a book line stands for output left out: `...`, or an editorial note in
/// parentheses, `(outcomes 3 to 6, left out here)`.
fn elided(line: &str) -> bool {
    line.is_empty() || line == "..." || (line.starts_with('(') && line.ends_with(')'))
}

/// The expected lines missing from `actual` (in order; elided lines skip).
fn missing(expected: &[String], actual: &str) -> Option<String> {
    let mut lines = actual.lines().map(str::trim_end);
    for want in expected.iter().map(|l| l.trim_end()).filter(|l| !elided(l)) {
        if !lines.any(|got| got == want) {
            return Some(want.to_string());
        }
    }
    None
}

#[test]
fn every_console_session_in_the_book_prints_what_the_book_shows() {
    let mut files = Vec::new();
    chapters(&repo().join("book/src"), &mut files);
    let mut ran = 0;
    let mut failures = Vec::new();
    for chapter in files {
        let all = sessions(&chapter);
        if all.iter().all(|s| skip_reason(&s.command).is_some()) {
            continue;
        }
        let dir = scratch(&chapter);
        let mut last_status = 0;
        let mut last_ran = false;
        for s in &all {
            if s.command == "echo $?" && !last_ran {
                continue;
            }
            last_ran = false;
            if let Some(why) = skip_reason(&s.command) {
                println!("skip {}:{} ({why}): {}", s.chapter.display(), s.line, s.command);
                continue;
            }
            let absent = s
                .command
                .split_whitespace()
                .find(|w| w.ends_with(".scn") && !dir.join(w).exists());
            if let Some(file) = absent {
                println!(
                    "skip {}:{} ({file} is shown, not a file): {}",
                    s.chapter.display(),
                    s.line,
                    s.command
                );
                continue;
            }
            let (out, status) = if s.command == "echo $?" {
                (format!("{last_status}\n"), 0)
            } else {
                run(&dir, &s.command)
            };
            last_status = status;
            last_ran = true;
            ran += 1;
            if let Some(line) = missing(&s.expected, &out) {
                failures.push(format!(
                    "{}:{}: `{}` does not print, in order, the line\n    {line}\nIt printed:\n{out}",
                    s.chapter.display(),
                    s.line,
                    s.command
                ));
            }
        }
    }
    assert!(ran >= 10, "only {ran} book commands ran");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
