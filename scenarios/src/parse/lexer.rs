//! Splitting one line of a scenario into tokens.
//!
//! The language is line oriented, so the lexer sees one line at a time (without its `\n`).
//! It produces three kinds of token:
//!
//! - **words**: maximal runs of `A-Z a-z 0-9 _ . $ : * - %`. Names (`SO_REUSEADDR`), numbers
//!   (`-1`, `$i`), durations (`1.5s`), sizes (`64KiB`), addresses (`10.0.0.$i:$p`), ranges
//!   (`40000..40009`) and dotted sysctl names are all single words, whose insides
//!   [`super::words`] parses according to where they stand;
//! - **strings**: `"..."` with the escapes `\" \\ \n \t \0 \xHH`, decoded;
//! - **punctuation**: one of `( ) { } , = | / [ ] @`.
//!
//! Spaces, tabs and carriage returns separate tokens; `#` outside a string starts a comment
//! that runs to the end of the line.

use winnow::combinator::{opt, peek};
use winnow::error::{ErrMode, ParserError};
use winnow::prelude::*;
use winnow::stream::{LocatingSlice, Location, Stateful, Stream};
use winnow::token::{any, rest, take_till, take_while};

use crate::ast::Span;
use crate::diagnostic::Diagnostic;

/// The winnow input: a slice that knows its own offset, plus (as state) the byte offset of
/// the slice in the whole file, so spans come out absolute.
pub(crate) type Input<'s> = Stateful<LocatingSlice<&'s str>, usize>;

/// Wraps `text`, which starts at byte `base` of the file.
pub(crate) fn input(text: &str, base: usize) -> Input<'_> {
    Stateful {
        input: LocatingSlice::new(text),
        state: base,
    }
}

/// The absolute span of `range`, a range relative to the input's start.
pub(crate) fn span(input: &Input<'_>, range: std::ops::Range<usize>) -> Span {
    Span::new(input.state + range.start, input.state + range.end)
}

/// The absolute offset of the input's current position.
pub(crate) fn here(input: &Input<'_>) -> usize {
    input.state + input.current_token_start()
}

/// Why a winnow parser stopped. `None` is a plain mismatch, which the caller turns into an
/// "expected X, found Y" message; `Some` carries a precise diagnostic (an octet out of range,
/// an unknown escape) and is raised with [`cut`] so that no alternative is tried after it.
#[derive(Debug)]
pub(crate) struct Fail(pub(crate) Option<Box<Diagnostic>>);

impl<I: Stream> ParserError<I> for Fail {
    type Inner = Fail;

    fn from_input(_input: &I) -> Fail {
        Fail(None)
    }

    fn into_inner(self) -> Result<Fail, Fail> {
        Ok(self)
    }
}

/// The result of every winnow parser here.
pub(crate) type PResult<T> = Result<T, ErrMode<Fail>>;

/// Stops parsing with `diagnostic`.
pub(crate) fn cut<T>(diagnostic: Diagnostic) -> PResult<T> {
    Err(ErrMode::Cut(Fail(Some(Box::new(diagnostic)))))
}

/// Turns a winnow error into a diagnostic, using `otherwise` for a plain mismatch.
pub(crate) fn into_diagnostic(error: ErrMode<Fail>, otherwise: impl FnOnce() -> Diagnostic) -> Diagnostic {
    match error {
        ErrMode::Cut(Fail(Some(d))) | ErrMode::Backtrack(Fail(Some(d))) => *d,
        _ => otherwise(),
    }
}

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A run of word characters.
    Word,
    /// A string literal, with its escapes resolved.
    Str(String),
    /// A punctuation character.
    Punct(char),
}

/// One token of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token<'s> {
    /// What it is.
    pub(crate) kind: TokenKind,
    /// Its text as written (a string's includes the quotes).
    pub(crate) text: &'s str,
    /// Where it stands in the file.
    pub(crate) span: Span,
}

impl Token<'_> {
    /// Whether this is the punctuation `c`.
    pub(crate) fn is_punct(&self, c: char) -> bool {
        self.kind == TokenKind::Punct(c)
    }

    /// Whether this is the word `text`.
    pub(crate) fn is_word(&self, text: &str) -> bool {
        self.kind == TokenKind::Word && self.text == text
    }

    /// How an error message names this token (`` `foo` ``, `a string`).
    pub(crate) fn describe(&self) -> String {
        match self.kind {
            TokenKind::Str(_) => "a string".to_owned(),
            TokenKind::Word | TokenKind::Punct(_) => format!("`{}`", self.text),
        }
    }
}

/// The punctuation characters.
const PUNCTUATION: [char; 11] = ['(', ')', '{', '}', ',', '=', '|', '/', '[', ']', '@'];

/// Whether `c` may appear in a word.
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$' | ':' | '*' | '-' | '%')
}

/// Whether the input continues with `[HEX:...]:`, the start of an IPv6 socket address.
fn bracketed_ipv6_ahead(input: &Input<'_>) -> bool {
    let text: &str = input;
    let Some(inner) = text.strip_prefix('[') else {
        return false;
    };
    let Some(close) = inner.find(']') else { return false };
    let addr = &inner[..close];
    !addr.is_empty()
        && addr.contains(':')
        && addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        && inner[close + 1..].starts_with(':')
}

/// Splits `line` (which starts at byte `base` of the file and holds no `\n`) into tokens.
pub(crate) fn lex_line(line: &str, base: usize) -> Result<Vec<Token<'_>>, Diagnostic> {
    let mut input = input(line, base);
    let mut tokens = Vec::new();
    loop {
        match token(&mut input) {
            Ok(Some(t)) => tokens.push(t),
            Ok(None) => return Ok(tokens),
            Err(e) => {
                let at = here(&input);
                return Err(into_diagnostic(e, || {
                    Diagnostic::error("could not read this line", Span::new(at, at), "stopped here")
                }));
            }
        }
    }
}

/// The next token, or `None` at the end of the line (or at a comment).
fn token<'s>(input: &mut Input<'s>) -> PResult<Option<Token<'s>>> {
    take_while(0.., char::is_whitespace).parse_next(input)?;
    let Some(c) = opt(peek(any)).parse_next(input)? else {
        return Ok(None);
    };
    let start = here(input);
    if c == '#' {
        rest.parse_next(input)?;
        return Ok(None);
    }
    if c == '"' {
        return string(input).map(Some);
    }
    // `[fd00::1]:80`, `[::ffff:10.0.0.2]:*`: a bracketed IPv6 address followed by `:` is one
    // word with its port (a `[` anywhere else is punctuation, as in `= 0 [ECONNREFUSED]`).
    if c == '[' && bracketed_ipv6_ahead(input) {
        let (text, range) = (
            '[',
            take_while(1.., |c: char| c.is_ascii_hexdigit() || c == ':' || c == '.'),
            ']',
            take_while(1.., is_word_char),
        )
            .take()
            .with_span()
            .parse_next(input)?;
        return Ok(Some(Token {
            kind: TokenKind::Word,
            text,
            span: span(input, range),
        }));
    }
    if is_word_char(c) {
        let (text, range) = take_while(1.., is_word_char).with_span().parse_next(input)?;
        return Ok(Some(Token {
            kind: TokenKind::Word,
            text,
            span: span(input, range),
        }));
    }
    if PUNCTUATION.contains(&c) {
        let (text, range) = any.take().with_span().parse_next(input)?;
        return Ok(Some(Token {
            kind: TokenKind::Punct(c),
            text,
            span: span(input, range),
        }));
    }
    let bad = Span::new(start, start + c.len_utf8());
    let d = Diagnostic::error(format!("unexpected character {c:?}"), bad, "not part of any token");
    cut(match c {
        '\'' => d.with_help("strings use double quotes: \"text\""),
        _ => d.with_help("names are ASCII letters, digits and `_`; other text goes in a \"string\""),
    })
}

/// A string literal, starting at its opening quote.
fn string<'s>(input: &mut Input<'s>) -> PResult<Token<'s>> {
    let ((value, text), range) = string_body.with_taken().with_span().parse_next(input)?;
    Ok(Token {
        kind: TokenKind::Str(value),
        text,
        span: span(input, range),
    })
}

fn string_body(input: &mut Input<'_>) -> PResult<String> {
    let open = here(input);
    '"'.parse_next(input)?;
    let mut value = String::new();
    // End of the last non-blank text, so an unterminated string is not underlined up to
    // trailing blanks.
    let mut text_end = here(input);
    loop {
        let start = here(input);
        let chunk = take_till(0.., ['"', '\\']).parse_next(input)?;
        value.push_str(chunk);
        if !chunk.trim_end().is_empty() {
            text_end = start + chunk.trim_end().len();
        }
        match opt(any).parse_next(input)? {
            Some('"') => return Ok(value),
            Some(_backslash) => match escape(input)? {
                Some(c) => {
                    value.push(c);
                    text_end = here(input);
                }
                None => return unterminated(open, here(input)),
            },
            None => return unterminated(open, text_end),
        }
    }
}

/// The character an escape (after its backslash) stands for; `None` at the end of the line.
fn escape(input: &mut Input<'_>) -> PResult<Option<char>> {
    let backslash = here(input) - 1;
    let Some(c) = opt(any).parse_next(input)? else {
        return Ok(None);
    };
    let decoded = match c {
        '"' => '"',
        '\\' => '\\',
        'n' => '\n',
        't' => '\t',
        '0' => '\0',
        'x' => return hex_escape(input, backslash).map(Some),
        other => {
            let at = Span::new(backslash, here(input));
            return cut(
                Diagnostic::error(format!("unknown escape `\\{other}` in string"), at, "unknown escape").with_help(
                    r#"the escapes are \" \\ \n \t \0 and \xHH (ASCII, 00 to 7F); write `\\` for a backslash"#,
                ),
            );
        }
    };
    Ok(Some(decoded))
}

/// `\xHH`, after the `x`.
fn hex_escape(input: &mut Input<'_>, backslash: usize) -> PResult<char> {
    let digits: Option<&str> = opt(take_while(2, |c: char| c.is_ascii_hexdigit())).parse_next(input)?;
    let at = Span::new(backslash, here(input));
    let Some(digits) = digits else {
        return cut(
            Diagnostic::error("expected two hex digits after `\\x`", at, "incomplete escape")
                .with_help(r"write a byte as `\x41`"),
        );
    };
    match u8::from_str_radix(digits, 16) {
        Ok(byte) if byte.is_ascii() => Ok(char::from(byte)),
        _ => cut(
            Diagnostic::error(format!("`\\x{digits}` is not an ASCII character"), at, "above \\x7F")
                .with_help("strings are UTF-8 text: write non-ASCII characters directly"),
        ),
    }
}

fn unterminated<T>(open: usize, end: usize) -> PResult<T> {
    cut(Diagnostic::error(
        "unterminated string",
        Span::new(open, end),
        "this string is never closed",
    )
    .with_help("a string ends on the line where it starts: add the closing `\"`"))
}
