//! Errors that point at the scenario text.
//!
//! A [`Diagnostic`] is what the parser and the checker report: a one-line message, the byte
//! span it is about, a short label for that span, an optional `help:` line, and optionally
//! secondary labelled spans (`first declared here`) and `note:` lines. [`Diagnostic::render`]
//! prints it the way rustc prints its errors:
//!
//! ```text
//! error: unknown constant `SO_REUSEADR`
//!  --> web.scn:3:25
//!   |
//! 3 |     setsockopt(l, SOL_SOCKET, SO_REUSEADR, 1)
//!   |                               ^^^^^^^^^^^ not a known constant
//!   |
//!   = help: did you mean `SO_REUSEADDR`?
//! ```
//!
//! Rendering accepts any span against any source: spans past the end, inside a multibyte
//! character, or across lines are clamped to something printable, so reporting an error can
//! never itself fail.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use crate::ast::Span;

/// One problem in a scenario file, located in its text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The headline (`expected `on`, found `at``); says what was expected and what was found.
    pub message: String,
    /// The text the problem is about.
    pub span: Span,
    /// A few words printed under the span (`expected `on``).
    pub label: String,
    /// A suggestion (`did you mean `SO_REUSEPORT`?`), printed as `help:`.
    pub help: Option<String>,
    /// Further context: other places worth showing (where a duplicate name was first
    /// declared) and background facts (the list of supported sysctls).
    pub notes: Vec<Note>,
}

/// Context attached to a [`Diagnostic`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Note {
    /// With a span, the note is a secondary label drawn in the source snippet
    /// (`first declared here`); without, a `note:` line under it.
    pub span: Option<Span>,
    /// What to say.
    pub text: String,
}

impl Diagnostic {
    /// An error about `span`, with `label` printed under it.
    pub fn error(message: impl Into<String>, span: Span, label: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span,
            label: label.into(),
            help: None,
            notes: Vec::new(),
        }
    }

    /// Adds (or replaces) the `help:` line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds the help line `did you mean `X`?` when there is a suggestion.
    pub fn with_suggestion(self, suggestion: Option<&str>) -> Diagnostic {
        match suggestion {
            Some(s) => self.with_help(format!("did you mean `{s}`?")),
            None => self,
        }
    }

    /// Adds a secondary labelled span.
    pub fn with_secondary(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.notes.push(Note {
            span: Some(span),
            text: text.into(),
        });
        self
    }

    /// Adds a `note:` line.
    pub fn with_note(mut self, text: impl Into<String>) -> Diagnostic {
        self.notes.push(Note {
            span: None,
            text: text.into(),
        });
        self
    }

    /// Formats the diagnostic like rustc: `error: MESSAGE`, ` --> PATH:LINE:COL`, the source
    /// lines with the span underlined and labelled, then `note:` and `help:` lines.
    ///
    /// `source` must be the text the spans refer to; `color` adds ANSI styles. Never panics:
    /// out-of-range spans are clamped to the end of the source and spans that fall inside a
    /// UTF-8 character are widened to whole characters.
    pub fn render(&self, path: &str, source: &str, color: bool) -> String {
        let primary = clamp(source, self.span);
        let secondary: Vec<(Span, &str)> = self
            .notes
            .iter()
            .filter_map(|n| Some((clamp(source, n.span?), n.text.as_str())))
            .collect();

        // Show only the lines the annotations touch (folding the ones between), so the
        // snippet stays small and its line numbers come from `line_start`.
        let lo = secondary.iter().map(|(s, _)| s.start).fold(primary.start, usize::min);
        let hi = secondary.iter().map(|(s, _)| s.end).fold(primary.end, usize::max);
        let excerpt_start = line_start(source, lo);
        let excerpt_end = line_end(source, hi);
        let excerpt = sanitize(source.get(excerpt_start..excerpt_end).unwrap_or(""));
        let first_line = line_col(source, excerpt_start).0;
        let relative = |s: Span| (s.start - excerpt_start)..(s.end - excerpt_start);

        let mut snippet = Snippet::source(excerpt)
            .line_start(first_line)
            .path(path)
            .fold(true)
            .annotation(
                AnnotationKind::Primary
                    .span(relative(primary))
                    .label(non_empty(&self.label)),
            );
        for (span, text) in secondary {
            snippet = snippet.annotation(AnnotationKind::Context.span(relative(span)).label(non_empty(text)));
        }
        let mut group: Group<'_> = Level::ERROR.primary_title(self.message.as_str()).element(snippet);
        for note in self.notes.iter().filter(|n| n.span.is_none()) {
            group = group.element(Level::NOTE.message(note.text.as_str()));
        }
        if let Some(help) = &self.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        let renderer = if color { Renderer::styled() } else { Renderer::plain() };
        renderer.render(&[group])
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// The 1-based line and column of byte `offset` in `source`, counting columns in characters
/// (a tab is one column), as rustc and most editors do. An offset past the end is taken as the
/// end; one inside a multibyte character as the start of that character.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let before = source.get(..offset).unwrap_or("");
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_text = before.rsplit('\n').next().unwrap_or("");
    (line, line_text.chars().count() + 1)
}

/// The candidate closest to `name`, if any is close enough to be a likely typo.
///
/// Distance is Damerau–Levenshtein (optimal string alignment) on ASCII-lowercased text, so a
/// case slip (`so_reuseaddr`) or a swapped pair (`ECONNERFUSED`) is found. A candidate qualifies
/// when at most a third of `name`'s length (and at least one edit) separates them; ties go to
/// the first candidate, so the answer is deterministic.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    let lowered = name.to_ascii_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let d = edit_distance(&lowered, &candidate.to_ascii_lowercase());
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Optimal string alignment distance between `a` and `b`, in characters: insertions,
/// deletions, substitutions and transpositions of neighbours each cost one.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rolling rows: i-2, i-1, i.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1).min(current[j - 1] + 1).min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            current[j] = d;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// Makes `span` printable against `source`: inside it, on character boundaries, ordered, and
/// on one line (a span running past its first line is cut at that line's end).
fn clamp(source: &str, span: Span) -> Span {
    let start = floor_char_boundary(source, span.start.min(source.len()));
    let end = ceil_char_boundary(source, span.end.clamp(start, source.len()));
    Span::new(start, end.min(line_end(source, start)).max(start))
}

/// Offset of the start of the line holding `offset` (a char boundary).
fn line_start(source: &str, offset: usize) -> usize {
    source.get(..offset).and_then(|s| s.rfind('\n')).map_or(0, |i| i + 1)
}

/// Offset of the `\n` ending the line holding `offset`, or the source length.
fn line_end(source: &str, offset: usize) -> usize {
    source
        .get(offset..)
        .and_then(|s| s.find('\n'))
        .map_or(source.len(), |i| offset + i)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Replaces ASCII control characters other than newline and tab with spaces, byte for byte
/// (so offsets stay valid): a stray `\r` or escape sequence must not reach the terminal.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_control() && c != '\n' && c != '\t' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, span: Span) -> String {
        Diagnostic::error("boom", span, "here")
            .with_help("try again")
            .render("t.scn", source, false)
    }

    #[test]
    fn renders_like_rustc() {
        let source = "seed 1\nnetwork lan 10.0.0.0/24 latency=5\n";
        let out = render(source, Span::new(40, 41));
        assert!(out.starts_with("error: boom\n"), "{out}");
        assert!(out.contains(" --> t.scn:2:34"), "{out}");
        assert!(out.contains("2 | network lan 10.0.0.0/24 latency=5"), "{out}");
        assert!(out.contains("^ here"), "{out}");
        assert!(out.contains("help: try again"), "{out}");
    }

    #[test]
    fn secondary_labels_and_notes_render() {
        let source = "host a 10.0.0.1 on lan\n\n\n\n\nhost a 10.0.0.2 on lan\n";
        let d = Diagnostic::error("host `a` is declared twice", Span::new(32, 33), "declared again here")
            .with_secondary(Span::new(5, 6), "first declared here")
            .with_note("names must be unique");
        let out = d.render("t.scn", source, false);
        assert!(out.contains(" --> t.scn:6:6"), "{out}");
        assert!(out.contains("first declared here"), "{out}");
        assert!(out.contains("declared again here"), "{out}");
        assert!(out.contains("note: names must be unique"), "{out}");
    }

    #[test]
    fn header_column_agrees_with_line_col() {
        // Multibyte characters and tabs before the span: both count as one column.
        let source = "note \"héé\"\t x\n";
        let offset = source.find('x').unwrap();
        let (line, col) = line_col(source, offset);
        assert_eq!((line, col), (1, 13));
        let out = render(source, Span::new(offset, offset + 1));
        assert!(out.contains(&format!("t.scn:{line}:{col}")), "{out}");
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 3), (2, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab\ncd", 99), (2, 3));
        assert_eq!(line_col("é", 1), (1, 1));
        assert_eq!(line_col("a\r\nb", 3), (2, 1));
    }

    #[test]
    fn rendering_never_panics() {
        let sources = [
            "",
            "\n",
            "é",
            "a\r\nb\r\n",
            "\t\tx",
            "😀😀\n😀",
            "ab\u{1b}[31mcd\n",
            "x\n\n\n",
        ];
        for source in sources {
            for start in 0..=source.len() + 2 {
                for end in 0..=source.len() + 2 {
                    let d = Diagnostic::error("m", Span::new(start, end), "l")
                        .with_secondary(Span::new(end, start), "s")
                        .with_note("n");
                    let out = d.render("p", source, start % 2 == 0);
                    assert!(out.contains('m'));
                }
            }
        }
    }

    #[test]
    fn control_characters_do_not_reach_the_output() {
        let out = render("ab\u{1b}[31mcd\r\n", Span::new(0, 2));
        assert!(!out.contains('\u{1b}'), "{out:?}");
        assert!(!out.contains('\r'), "{out:?}");
    }

    #[test]
    fn stays_small_enough_to_return_by_value() {
        // clippy's result_large_err threshold is 128 bytes.
        assert!(std::mem::size_of::<Diagnostic>() <= 128);
    }

    #[test]
    fn suggestions() {
        let names = ["SO_REUSEADDR", "SO_REUSEPORT", "SO_LINGER"];
        assert_eq!(did_you_mean("SO_REUSEADR", names), Some("SO_REUSEADDR"));
        assert_eq!(did_you_mean("so_reuseport", names), Some("SO_REUSEPORT"));
        assert_eq!(did_you_mean("ECONNERFUSED", ["ECONNREFUSED"]), Some("ECONNREFUSED"));
        assert_eq!(did_you_mean("xyz", names), None);
        assert_eq!(
            did_you_mean("SO_LINGER", ["SO_LINGER", "SO_LINGERS"]),
            Some("SO_LINGERS")
        );
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
