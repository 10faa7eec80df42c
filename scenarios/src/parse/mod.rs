//! Parsing scenario files into the syntax tree ([`crate::ast`]).
//!
//! The language is line oriented: one declaration or statement per line, `#` comments, blocks
//! opened by a `{` at the end of a line and closed by a line holding only `}`. Parsing happens
//! on three levels:
//!
//! 1. `lexer` splits each line into words, strings and punctuation (with winnow);
//! 2. this module reads the lines by recursive descent: which declaration or statement a line
//!    is, and which token must come next;
//! 3. `words` parses the inside of a word once its role is known: `1.5s` as a duration,
//!    `10.0.0.$i:$p` as a socket address, `40000..40009` as a range (with winnow).
//!
//! Parsing stops at the first error, which comes back as a [`Diagnostic`] saying what was
//! expected and what was found. Names are not resolved here: unknown calls, constants, hosts
//! and variables are the checker's business ([`crate::check`]).

mod lexer;
mod words;

#[cfg(test)]
mod tests;

use crate::ast::{
    AddrDecl, AddrMatch, Arg, ArgKind, Call, ConntrackCheck, Expectation, HostDecl, Ident, LinkEventDecl, NatAction,
    NatDecl, NetworkDecl, Num, Outcome, ProcessDecl, RouteDecl, Scenario, Span, Stmt, StmtKind, SysctlDecl,
    UnixPattern, UserDecl,
};
use crate::diagnostic::{Diagnostic, did_you_mean};
use lexer::{Token, TokenKind, lex_line};

/// How deeply `repeat`, `for` and `fork` blocks may nest. A limit keeps a hostile file from
/// exhausting the stack of the parser and of everything that walks the tree after it.
pub const MAX_NESTING: usize = 32;

/// Parses a scenario file.
///
/// Returns the syntax tree, or the first syntax error found, located in `source`. The tree
/// is not yet checked: run [`crate::check::check`] on it before executing it.
///
/// ```
/// let scenario = socksim::parse::parse("network lan 10.0.0.0/24\nhost a 10.0.0.1 on lan\n").unwrap();
/// assert_eq!(scenario.hosts[0].name.name, "a");
/// ```
pub fn parse(source: &str) -> Result<Scenario, Diagnostic> {
    Parser { source, offset: 0 }.scenario()
}

/// Top-level keywords, for suggestions.
const DECLARATIONS: [&str; 7] = ["scenario", "seed", "until", "network", "host", "process", "at"];
/// Statement keywords, for suggestions.
const STATEMENTS: [&str; 10] = [
    "repeat",
    "for",
    "fork",
    "sleep",
    "ss",
    "conntrack",
    "note",
    "exit",
    "partition",
    "heal",
];
/// Host settings, for suggestions.
const HOST_SETTINGS: [&str; 6] = ["addr", "route", "forward", "nat", "sysctl", "user"];
/// The options of a `network` declaration.
const NETWORK_OPTIONS: [&str; 5] = ["latency", "jitter", "loss", "duplicate", "reorder"];

/// The tokens of one non-empty line.
struct Line<'s> {
    tokens: Vec<Token<'s>>,
}

impl Line<'_> {
    /// From the first token to the end of the last: the line without indentation, trailing
    /// blanks or comment.
    fn span(&self) -> Span {
        match (self.tokens.first(), self.tokens.last()) {
            (Some(first), Some(last)) => Span::new(first.span.start, last.span.end),
            _ => Span::default(),
        }
    }
}

/// A position in a line's tokens.
struct Cursor<'l, 's> {
    tokens: &'l [Token<'s>],
    pos: usize,
}

impl<'l, 's> Cursor<'l, 's> {
    fn new(line: &'l Line<'s>) -> Cursor<'l, 's> {
        Cursor {
            tokens: &line.tokens,
            pos: 0,
        }
    }

    fn peek(&self) -> Option<&'l Token<'s>> {
        self.tokens.get(self.pos)
    }

    fn peek_at(&self, n: usize) -> Option<&'l Token<'s>> {
        self.tokens.get(self.pos + n)
    }

    fn bump(&mut self) -> Option<&'l Token<'s>> {
        let t = self.tokens.get(self.pos);
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    /// Where the next token stands, or the end of the line.
    fn here(&self) -> Span {
        match self.peek() {
            Some(t) => t.span,
            None => {
                let end = self.tokens.last().map_or(0, |t| t.span.end);
                Span::new(end, end)
            }
        }
    }

    /// End of the last token consumed.
    fn consumed_end(&self) -> usize {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map_or(0, |t| t.span.end)
    }

    fn found(&self) -> String {
        self.peek().map_or_else(|| "end of line".to_owned(), Token::describe)
    }

    /// "expected {what}, found ..." at the next token.
    fn expected(&self, what: &str) -> Diagnostic {
        Diagnostic::error(
            format!("expected {what}, found {}", self.found()),
            self.here(),
            format!("expected {what}"),
        )
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek().is_some_and(|t| t.is_punct(c))
    }

    fn eat_punct(&mut self, c: char) -> Option<Span> {
        if self.is_punct(c) {
            self.bump().map(|t| t.span)
        } else {
            None
        }
    }

    fn expect_punct(&mut self, c: char, what: &str) -> Result<Span, Diagnostic> {
        self.eat_punct(c).ok_or_else(|| self.expected(what))
    }

    fn eat_word(&mut self, text: &str) -> Option<Span> {
        if self.peek().is_some_and(|t| t.is_word(text)) {
            self.bump().map(|t| t.span)
        } else {
            None
        }
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<Span, Diagnostic> {
        self.eat_word(keyword)
            .ok_or_else(|| self.expected(&format!("`{keyword}`")))
    }

    fn expect_word(&mut self, what: &str) -> Result<&'l Token<'s>, Diagnostic> {
        match self.peek() {
            Some(t) if t.kind == TokenKind::Word => {
                self.pos += 1;
                Ok(t)
            }
            _ => Err(self.expected(what)),
        }
    }

    fn expect_string(&mut self, what: &str) -> Result<(String, Span), Diagnostic> {
        match self.peek() {
            Some(Token {
                kind: TokenKind::Str(s),
                span,
                ..
            }) => {
                self.pos += 1;
                Ok((s.clone(), *span))
            }
            _ => Err(self.expected(what)),
        }
    }

    /// Requires the end of the line; `after` names what came last (`` `ss` ``).
    fn expect_end(&self, after: &str) -> Result<(), Diagnostic> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(Diagnostic::error(
                format!("expected end of line after {after}, found {}", self.found()),
                self.here(),
                "unexpected text",
            )
            .with_help("write one statement per line; `#` starts a comment")),
        }
    }
}

/// A word parsed as an [`Ident`] with `grammar` (for the mismatch message: `expected`, `help`).
fn ident_with<'s>(
    token: &Token<'s>,
    grammar: fn(&mut lexer::Input<'s>) -> lexer::PResult<&'s str>,
    expected: &str,
    help: &str,
) -> Result<Ident, Diagnostic> {
    let name = words::run(token, grammar, expected, help)?;
    Ok(Ident {
        name: name.to_owned(),
        span: token.span,
    })
}

fn variable_name(token: &Token<'_>) -> Result<Ident, Diagnostic> {
    ident_with(
        token,
        words::ident,
        "a name",
        "names are ASCII letters, digits and `_`, not starting with a digit",
    )
}

fn world_name(token: &Token<'_>) -> Result<Ident, Diagnostic> {
    ident_with(
        token,
        words::world_name,
        "a name",
        "names are ASCII letters, digits, `_` and `-`, starting with a letter or `_`",
    )
}

fn duration(token: &Token<'_>) -> Result<u64, Diagnostic> {
    words::run(
        token,
        words::duration,
        "a duration like `10ms`",
        "the units are ns, us, ms and s: `100us`, `1.5s`",
    )
}

fn ip(token: &Token<'_>) -> Result<std::net::IpAddr, Diagnostic> {
    words::run(
        token,
        words::ip_literal,
        "an address like `10.0.0.1` or `fd00::1`",
        "write IPv4 as four octets (`10.0.0.1`) and IPv6 in the usual notation (`fd00::1`)",
    )
}

fn num(token: &Token<'_>, expected: &str) -> Result<Num, Diagnostic> {
    words::run(
        token,
        words::num,
        expected,
        "write an integer (`3`, `-1`) or a loop variable (`$i`)",
    )
}

fn addr_pattern(token: &Token<'_>) -> Result<crate::ast::AddrPattern, Diagnostic> {
    words::run(
        token,
        words::addr_pattern,
        "an address like `10.0.0.2:80`",
        "the port may be a number, a range (`40000..40009`) or `*` for any port",
    )
}

/// Reads the file line by line.
struct Parser<'s> {
    source: &'s str,
    /// Byte offset of the next line to read; past the end when all are read.
    offset: usize,
}

/// Settings that may appear once at top level, with where they were set.
#[derive(Default)]
struct Once {
    title: Option<Span>,
    seed: Option<Span>,
    until: Option<Span>,
}

impl<'s> Parser<'s> {
    /// The next line that holds a token (skipping blank and comment-only lines).
    fn next_line(&mut self) -> Result<Option<Line<'s>>, Diagnostic> {
        while let Some(rest) = self.source.get(self.offset..) {
            let base = self.offset;
            let text = match rest.find('\n') {
                Some(i) => {
                    self.offset += i + 1;
                    &rest[..i]
                }
                None => {
                    self.offset = self.source.len() + 1;
                    rest
                }
            };
            let tokens = lex_line(text, base)?;
            if !tokens.is_empty() {
                return Ok(Some(Line { tokens }));
            }
        }
        Ok(None)
    }

    fn scenario(mut self) -> Result<Scenario, Diagnostic> {
        let mut scenario = Scenario::default();
        let mut once = Once::default();
        while let Some(line) = self.next_line()? {
            self.declaration(&line, &mut scenario, &mut once)?;
        }
        Ok(scenario)
    }

    fn declaration(&mut self, line: &Line<'s>, scenario: &mut Scenario, once: &mut Once) -> Result<(), Diagnostic> {
        let mut c = Cursor::new(line);
        let Some(first) = c.bump() else {
            return Ok(());
        };
        let line_span = line.span();
        match (&first.kind, first.text) {
            (TokenKind::Word, "scenario") => {
                let (title, _) = c.expect_string("a title in quotes, like `scenario \"two clients\"`")?;
                c.expect_end("the title")?;
                set_once(&mut once.title, "scenario", line_span)?;
                scenario.title = Some(title);
            }
            (TokenKind::Word, "seed") => {
                let token = c.expect_word("a seed number")?;
                let seed = words::run(
                    token,
                    words::unsigned,
                    "a seed number",
                    "a seed is a non-negative integer",
                )?;
                c.expect_end("the seed")?;
                set_once(&mut once.seed, "seed", line_span)?;
                scenario.seed = Some(seed);
            }
            (TokenKind::Word, "until") => {
                let until = duration(c.expect_word("a duration like `120s`")?)?;
                c.expect_end("the duration")?;
                set_once(&mut once.until, "until", line_span)?;
                scenario.until_ns = Some(until);
            }
            (TokenKind::Word, "network") => scenario.networks.push(network(&mut c, line_span)?),
            (TokenKind::Word, "at") => scenario.link_events.push(link_event(&mut c, line_span)?),
            (TokenKind::Word, "host") => scenario.hosts.push(self.host(&mut c, line_span)?),
            (TokenKind::Word, "process") => scenario.processes.push(self.process(&mut c, line_span)?),
            (TokenKind::Punct('}'), _) => {
                return Err(Diagnostic::error("unexpected `}`", first.span, "no block is open here")
                    .with_help("every `}` closes a `{` at the end of an earlier line"));
            }
            (TokenKind::Word, word) => return Err(unknown_declaration(first, word, c.peek())),
            _ => {
                return Err(Diagnostic::error(
                    format!("expected a declaration, found {}", first.describe()),
                    first.span,
                    "expected `network`, `host`, `process`, ...",
                ));
            }
        }
        Ok(())
    }

    /// `host NAME A.B.C.D on NET` or `host NAME {` ... `}`, after `host`.
    fn host(&mut self, c: &mut Cursor<'_, 's>, line_span: Span) -> Result<HostDecl, Diagnostic> {
        let name = world_name(c.expect_word("a host name")?)?;
        if let Some(open) = c.eat_punct('{') {
            c.expect_end("`{`")?;
            return self.host_block(name, line_span, open);
        }
        let addr_token = c.expect_word("an address (`host NAME 10.0.0.1 on NET`) or `{`")?;
        let addr = ip(addr_token)?;
        c.expect_keyword("on")?;
        let network = world_name(c.expect_word("a network name")?)?;
        c.expect_end("the network name")?;
        let addr_span = Span::new(addr_token.span.start, network.span.end);
        Ok(HostDecl {
            name,
            addrs: vec![AddrDecl {
                addr,
                network,
                span: addr_span,
            }],
            sysctls: Vec::new(),
            users: Vec::new(),
            routes: Vec::new(),
            forward: None,
            nats: Vec::new(),
            span: line_span,
        })
    }

    fn host_block(&mut self, name: Ident, header: Span, open: Span) -> Result<HostDecl, Diagnostic> {
        let mut host = HostDecl {
            name,
            addrs: Vec::new(),
            sysctls: Vec::new(),
            users: Vec::new(),
            routes: Vec::new(),
            forward: None,
            nats: Vec::new(),
            span: header,
        };
        loop {
            let Some(line) = self.next_line()? else {
                return Err(unclosed(open));
            };
            let mut c = Cursor::new(&line);
            let Some(first) = c.bump() else { continue };
            match (&first.kind, first.text) {
                (TokenKind::Punct('}'), _) => {
                    c.expect_end("`}`")?;
                    host.span.end = first.span.end;
                    return Ok(host);
                }
                (TokenKind::Word, "addr") => {
                    let addr = ip(c.expect_word("an address like `10.0.0.2`")?)?;
                    c.expect_keyword("on")?;
                    let network = world_name(c.expect_word("a network name")?)?;
                    c.expect_end("the network name")?;
                    host.addrs.push(AddrDecl {
                        addr,
                        network,
                        span: line.span(),
                    });
                }
                (TokenKind::Word, "sysctl") => host.sysctls.push(sysctl(&mut c, line.span())?),
                (TokenKind::Word, "user") => host.users.push(user(&mut c, line.span())?),
                (TokenKind::Word, "route") => host.routes.push(route(&mut c, line.span())?),
                (TokenKind::Word, "nat") => host.nats.push(nat(&mut c, line.span())?),
                (TokenKind::Word, "forward") => {
                    c.expect_end("`forward`")?;
                    set_once(&mut host.forward, "forward", line.span())?;
                }
                _ => {
                    let d = Diagnostic::error(
                        format!(
                            "expected `addr`, `route`, `forward`, `nat`, `sysctl`, `user` or `}}`, found {}",
                            first.describe()
                        ),
                        first.span,
                        "not a host setting",
                    );
                    let d = d.with_suggestion(did_you_mean(first.text, HOST_SETTINGS));
                    return Err(d.with_secondary(open, "in this host block"));
                }
            }
        }
    }

    /// `process HOST/NAME [at DURATION] {`, after `process`, and its body.
    fn process(&mut self, c: &mut Cursor<'_, 's>, line_span: Span) -> Result<ProcessDecl, Diagnostic> {
        let host = world_name(c.expect_word("a host name, as in `process server/httpd`")?)?;
        c.expect_punct('/', "`/` between the host and the process name, as in `server/httpd`")?;
        let name = world_name(c.expect_word("a process name")?)?;
        let mut start_ns = 0;
        let mut user = None;
        let mut seen_at = false;
        let mut header_end = name.span.end;
        loop {
            if !seen_at && c.eat_word("at").is_some() {
                let at = c.expect_word("a start time like `1ms`")?;
                start_ns = duration(at)?;
                header_end = at.span.end;
                seen_at = true;
            } else if user.is_none() && c.eat_word("as").is_some() {
                let who = world_name(c.expect_word("a user name, as in `as alice`")?)?;
                header_end = who.span.end;
                user = Some(who);
            } else {
                break;
            }
        }
        let Some(open) = c.eat_punct('{') else {
            let expected = match (seen_at, user.is_some()) {
                (false, false) => "`at`, `as` or `{`",
                (true, false) => "`as` or `{`",
                (false, true) => "`at` or `{`",
                (true, true) => "`{`",
            };
            return Err(c.expected(expected));
        };
        c.expect_end("`{`")?;
        let span = Span::new(line_span.start, header_end);
        let (body, _) = self.block(open, 1)?;
        Ok(ProcessDecl {
            host,
            name,
            start_ns,
            user,
            body,
            span,
        })
    }

    /// The statements of a block whose `{` is at `open`, through its `}` (returned).
    fn block(&mut self, open: Span, depth: usize) -> Result<(Vec<Stmt>, Span), Diagnostic> {
        if depth > MAX_NESTING {
            return Err(Diagnostic::error(
                format!("blocks are nested too deeply (the limit is {MAX_NESTING})"),
                open,
                "one block too many",
            ));
        }
        let mut body = Vec::new();
        loop {
            let Some(line) = self.next_line()? else {
                return Err(unclosed(open));
            };
            let mut c = Cursor::new(&line);
            if let Some(close) = c.eat_punct('}') {
                c.expect_end("`}`")?;
                return Ok((body, close));
            }
            body.push(self.statement(&mut c, line.span(), depth)?);
        }
    }

    fn statement(&mut self, c: &mut Cursor<'_, 's>, line_span: Span, depth: usize) -> Result<Stmt, Diagnostic> {
        let stmt = |kind| Ok(Stmt { kind, span: line_span });
        let Some(first) = c.peek() else {
            return Err(c.expected("a statement"));
        };
        if first.kind != TokenKind::Word {
            return Err(c.expected("a statement"));
        }
        let next = c.peek_at(1);
        if next.is_some_and(|t| t.is_punct('(') || t.is_punct('=') || t.is_punct(',')) {
            return stmt(call_statement(c)?);
        }
        c.bump();
        match first.text {
            "repeat" => {
                let count = num(c.expect_word("a repeat count")?, "a repeat count")?;
                let (body, _) = self.block_after_header(c, depth)?;
                stmt(StmtKind::Repeat { count, body })
            }
            "for" => {
                let var = variable_name(c.expect_word("a loop variable, as in `for i in 1..10`")?)?;
                c.expect_keyword("in")?;
                let range = c.expect_word("a range like `1..10`")?;
                let (from, to) = words::run(
                    range,
                    words::range,
                    "a range like `1..10`",
                    "write the first and the last value (both included) with `..` between: `10000..10999`",
                )?;
                let (body, _) = self.block_after_header(c, depth)?;
                stmt(StmtKind::For { var, from, to, body })
            }
            "fork" => {
                let name = words::run(
                    c.expect_word("a name for the child process")?,
                    words::template,
                    "a process name like `worker` or `w$i`",
                    "names are letters, digits, `_`, `-` and loop variables (`$i`)",
                )?;
                let (body, _) = self.block_after_header(c, depth)?;
                stmt(StmtKind::Fork { name, body })
            }
            "sleep" => {
                let ns = duration(c.expect_word("a duration like `10ms`")?)?;
                c.expect_end("the duration")?;
                stmt(StmtKind::Sleep(ns))
            }
            "ss" => {
                c.expect_end("`ss`")?;
                stmt(StmtKind::Ss)
            }
            "conntrack" => {
                let has = c.eat_word("has");
                let lacks = if has.is_none() { c.eat_word("lacks") } else { None };
                let check = if let Some(start) = has.or(lacks) {
                    let present = has.is_some();
                    let (text, end) = c.expect_string("the text of a `conntrack -L` line in quotes")?;
                    c.expect_end("the quoted text")?;
                    Some(ConntrackCheck {
                        present,
                        text,
                        span: Span::new(start.start, end.end),
                    })
                } else {
                    c.expect_end("`conntrack`")?;
                    None
                };
                stmt(StmtKind::Conntrack(check))
            }
            "note" => {
                let (text, _) = c.expect_string("the note's text in quotes")?;
                c.expect_end("the note")?;
                stmt(StmtKind::Note(text))
            }
            "exit" => {
                c.expect_end("`exit`")?;
                stmt(StmtKind::Exit)
            }
            "partition" | "heal" => {
                let network = world_name(c.expect_word("a network name, as in `partition lan`")?)?;
                c.expect_end("the network name")?;
                stmt(StmtKind::Partition {
                    network,
                    partitioned: first.text == "partition",
                })
            }
            word => Err(unknown_statement(first, word)),
        }
    }

    /// `{` ending a block header, then the block.
    fn block_after_header(&mut self, c: &mut Cursor<'_, 's>, depth: usize) -> Result<(Vec<Stmt>, Span), Diagnostic> {
        let open = c.expect_punct('{', "`{`")?;
        c.expect_end("`{`")?;
        self.block(open, depth + 1)
    }
}

/// `network NAME A.B.C.D/P [latency=DURATION]`, after `network`.
fn network(c: &mut Cursor<'_, '_>, line_span: Span) -> Result<NetworkDecl, Diagnostic> {
    let name = world_name(c.expect_word("a network name")?)?;
    let addr = ip(c.expect_word("a network address like `10.0.0.0/24`")?)?;
    c.expect_punct('/', "`/` and a prefix length, as in `10.0.0.0/24`")?;
    let prefix_token = c.expect_word("a prefix length")?;
    let prefix = words::run(
        prefix_token,
        words::prefix_len,
        "a prefix length",
        "the prefix length is the number of network bits, 0 to 32: `10.0.0.0/24`",
    )?;
    if addr.is_ipv4() && prefix > 32 {
        return Err(Diagnostic::error(
            format!("prefix length {prefix} is out of range"),
            prefix_token.span,
            "an IPv4 prefix is 0 to 32 bits",
        ));
    }
    let mut decl = NetworkDecl {
        name,
        addr,
        prefix,
        latency_ns: None,
        jitter_ns: None,
        loss_ppm: None,
        duplicate_ppm: None,
        reorder_ppm: None,
        span: line_span,
    };
    while let Some(option) = c.bump() {
        let known = NETWORK_OPTIONS.iter().find(|o| option.is_word(o));
        let Some(&key) = known else {
            let d = Diagnostic::error(
                format!(
                    "expected a network option like `latency=100us` or `loss=1%`, found {}",
                    option.describe()
                ),
                option.span,
                "unknown network option",
            );
            return Err(match did_you_mean(option.text, NETWORK_OPTIONS) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help("the options are latency=, jitter=, loss=, duplicate= and reorder="),
            });
        };
        let example = match key {
            "latency" => "`latency=100us`",
            "jitter" => "`jitter=2ms`",
            "loss" => "`loss=0.5%`",
            "duplicate" => "`duplicate=0.1%`",
            _ => "`reorder=1%`",
        };
        c.expect_punct('=', &format!("`=` after `{key}`, as in {example}"))?;
        let token = c.expect_word(&format!("a value, as in {example}"))?;
        let given_twice = match key {
            "latency" => decl.latency_ns.replace(duration(token)?).is_some(),
            "jitter" => decl.jitter_ns.replace(duration(token)?).is_some(),
            "loss" => decl.loss_ppm.replace(percent(token)?).is_some(),
            "duplicate" => decl.duplicate_ppm.replace(percent(token)?).is_some(),
            _ => decl.reorder_ppm.replace(percent(token)?).is_some(),
        };
        if given_twice {
            return Err(Diagnostic::error(
                format!("`{key}` is given twice"),
                option.span,
                "given again here",
            ));
        }
    }
    Ok(decl)
}

/// A probability written as a percentage (`0.5%`, `100%`), in parts per million: at most
/// four decimals (0.0001% is one part per million), at most 100%.
fn percent(token: &lexer::Token<'_>) -> Result<u32, Diagnostic> {
    let text = token.text;
    let bad = |message: String, label: &str| Diagnostic::error(message, token.span, label.to_owned());
    let Some(number) = text.strip_suffix('%') else {
        let valid_number = !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.');
        return Err(if valid_number {
            bad(format!("missing `%` after `{text}`"), "add `%`")
                .with_help(format!("probabilities are percentages: `{text}%`"))
        } else {
            bad(
                format!("expected a percentage like `0.5%`, found `{text}`"),
                "expected a percentage",
            )
            .with_help("write a probability as a percentage from 0% to 100%: `loss=0.5%`")
        });
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || (number.contains('.') && fraction.is_empty()) {
        return Err(bad(
            format!("expected a percentage like `0.5%`, found `{text}`"),
            "expected a percentage",
        )
        .with_help("write a probability as a percentage from 0% to 100%: `loss=0.5%`"));
    }
    if fraction.len() > 4 {
        return Err(bad(format!("`{text}` is finer than 0.0001%"), "at most four decimals")
            .with_help("probabilities are counted in parts per million: 0.0001% is the smallest step"));
    }
    let whole: u64 = whole.parse().unwrap_or(u64::MAX);
    let fraction: u64 = format!("{fraction:0<4}").parse().unwrap_or(0);
    let ppm = whole.saturating_mul(10_000).saturating_add(fraction);
    if ppm > 1_000_000 {
        return Err(bad(format!("{text} is above 100%"), "at most 100%"));
    }
    Ok(ppm as u32)
}

/// `at DURATION partition NET` or `at DURATION heal NET`, after `at`.
fn link_event(c: &mut Cursor<'_, '_>, line_span: Span) -> Result<LinkEventDecl, Diagnostic> {
    let at_ns = duration(c.expect_word("a time like `5s`, as in `at 5s partition lan`")?)?;
    let what = c.expect_word("`partition` or `heal`")?;
    let partitioned = match what.text {
        "partition" => true,
        "heal" => false,
        other => {
            let d = Diagnostic::error(
                format!("expected `partition` or `heal`, found `{other}`"),
                what.span,
                "not a timed action",
            );
            return Err(match did_you_mean(other, ["partition", "heal"]) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help("a timed declaration is `at 5s partition lan` or `at 7s heal lan`"),
            });
        }
    };
    let network = world_name(c.expect_word("a network name")?)?;
    c.expect_end("the network name")?;
    Ok(LinkEventDecl {
        at_ns,
        network,
        partitioned,
        span: line_span,
    })
}

/// `A.B.C.D/LEN` or `fd00::/64`: an address prefix.
fn prefix(c: &mut Cursor<'_, '_>, what: &str) -> Result<(std::net::IpAddr, u8), Diagnostic> {
    let addr = ip(c.expect_word(what)?)?;
    c.expect_punct('/', "`/` and a prefix length, as in `10.1.0.0/16`")?;
    let len_token = c.expect_word("a prefix length")?;
    let len = words::run(
        len_token,
        words::prefix_len,
        "a prefix length",
        "the prefix length is the number of network bits: `10.1.0.0/16`",
    )?;
    if addr.is_ipv4() && len > 32 {
        return Err(Diagnostic::error(
            format!("prefix length {len} is out of range"),
            len_token.span,
            "an IPv4 prefix is 0 to 32 bits",
        ));
    }
    Ok((addr, len))
}

/// `route default via GATEWAY` or `route PREFIX via GATEWAY`, after `route`.
fn route(c: &mut Cursor<'_, '_>, line_span: Span) -> Result<RouteDecl, Diagnostic> {
    let dest = if c.eat_word("default").is_some() {
        None
    } else {
        Some(prefix(c, "`default` or a prefix like `10.1.0.0/16`")?)
    };
    c.expect_keyword("via")?;
    let via_token = c.expect_word("a gateway address like `10.0.0.254`")?;
    let via = ip(via_token)?;
    c.expect_end("the gateway")?;
    if let Some((addr, _)) = dest {
        if addr.is_ipv4() != via.is_ipv4() {
            return Err(Diagnostic::error(
                format!("gateway {via} is not of the same IP version as {addr}"),
                via_token.span,
                "a route's gateway has the prefix's IP version",
            ));
        }
    }
    Ok(RouteDecl {
        dest,
        via,
        span: line_span,
    })
}

/// The target of a NAT rule: `ADDR`, `ADDR:PORT`, `ADDR:LOW..HIGH` (IPv6 in brackets when a
/// port follows: `[fd00::1]:80`).
fn nat_target(token: &Token<'_>) -> Result<(std::net::IpAddr, Option<(u16, u16)>), Diagnostic> {
    let text = token.text;
    let bad = |msg: String, label: &str| Diagnostic::error(msg, token.span, label);
    let (addr_text, port_text) = if let Some(rest) = text.strip_prefix('[') {
        let Some((a, p)) = rest.split_once("]:") else {
            return Err(bad(
                format!("expected `[IPV6]:PORT`, found `{text}`"),
                "an IPv6 address with a port is written `[fd00::1]:80`",
            ));
        };
        (a, Some(p))
    } else if !text.contains("::") && text.matches(':').count() == 1 {
        let (a, p) = text.split_once(':').unwrap_or((text, ""));
        (a, Some(p))
    } else {
        (text, None)
    };
    let addr: std::net::IpAddr = addr_text.parse().map_err(|_| {
        bad(
            format!("`{addr_text}` is not an IP address"),
            "expected an address like `203.0.113.1`",
        )
    })?;
    let Some(ports) = port_text else {
        return Ok((addr, None));
    };
    let port = |p: &str| -> Result<u16, Diagnostic> {
        match p.parse::<u16>() {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(bad(
                format!("`{p}` is not a port (1 to 65535)"),
                "expected a port or a range like `20000..20001`",
            )),
        }
    };
    let (low, high) = match ports.split_once("..") {
        Some((l, h)) => (port(l)?, port(h)?),
        None => {
            let p = port(ports)?;
            (p, p)
        }
    };
    if low > high {
        return Err(bad(
            format!("empty port range: {low} is greater than {high}"),
            "the first port must not exceed the last",
        ));
    }
    Ok((addr, Some((low, high))))
}

/// A `nat` rule, after `nat`.
fn nat(c: &mut Cursor<'_, '_>, line_span: Span) -> Result<NatDecl, Diagnostic> {
    let kind = c.expect_word("`masquerade`, `snat` or `dnat`")?;
    let mut rule = NatDecl {
        action: NatAction::Masquerade,
        out: None,
        input: None,
        from: None,
        random: false,
        random_fully: false,
        span: line_span,
    };
    let source_nat = match kind.text {
        "masquerade" | "snat" => true,
        "dnat" => false,
        other => {
            return Err(Diagnostic::error(
                format!("expected `masquerade`, `snat` or `dnat`, found `{other}`"),
                kind.span,
                "not a NAT action",
            )
            .with_suggestion(did_you_mean(other, ["masquerade", "snat", "dnat"])));
        }
    };
    let mut to = None;
    let mut proto = None;
    let mut dport = None;
    while let Some(word) = c.bump() {
        let once = |taken: bool| -> Result<(), Diagnostic> {
            if taken {
                return Err(Diagnostic::error(
                    format!("`{}` is given twice", word.text),
                    word.span,
                    "given again here",
                ));
            }
            Ok(())
        };
        match word.text {
            "out" if source_nat => {
                once(rule.out.is_some())?;
                rule.out = Some(world_name(c.expect_word("a network name")?)?);
            }
            "in" if !source_nat => {
                once(rule.input.is_some())?;
                rule.input = Some(world_name(c.expect_word("a network name")?)?);
            }
            "from" => {
                once(rule.from.is_some())?;
                rule.from = Some(prefix(c, "a source prefix like `192.168.1.0/24`")?);
            }
            "to" if kind.text != "masquerade" => {
                once(to.is_some())?;
                let token = c.expect_word("an address like `203.0.113.1` or `192.168.1.10:80`")?;
                to = Some((nat_target(token)?, token.span));
            }
            "tcp" | "udp" if !source_nat => {
                once(proto.is_some())?;
                proto = Some(word.text.to_string());
            }
            "dport" if !source_nat => {
                once(dport.is_some())?;
                let token = c.expect_word("a port number")?;
                let p = words::run(token, words::unsigned, "a port number", "a port is 1 to 65535")?;
                if !(1..=65535).contains(&p) {
                    return Err(Diagnostic::error(
                        format!("port {p} is out of range"),
                        token.span,
                        "a port is 1 to 65535",
                    ));
                }
                dport = Some(p as u16);
            }
            "random" if source_nat => {
                once(rule.random)?;
                rule.random = true;
            }
            "random-fully" if source_nat => {
                once(rule.random_fully)?;
                rule.random_fully = true;
            }
            _ => {
                let options: &[&str] = match kind.text {
                    "masquerade" => &["out", "from", "random", "random-fully"],
                    "snat" => &["out", "from", "to", "random", "random-fully"],
                    _ => &["in", "from", "tcp", "udp", "dport", "to"],
                };
                return Err(Diagnostic::error(
                    format!(
                        "expected one of {} after `nat {}`, found {}",
                        options.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", "),
                        kind.text,
                        word.describe()
                    ),
                    word.span,
                    "not an option of this rule",
                )
                .with_suggestion(did_you_mean(word.text, options.iter().copied())));
            }
        }
    }
    let missing = |what: &str, example: &str| {
        Diagnostic::error(
            format!("`nat {}` needs `{what}`", kind.text),
            line_span,
            "incomplete rule",
        )
        .with_help(format!("for example: `{example}`"))
    };
    match kind.text {
        "masquerade" => {
            if rule.out.is_none() {
                return Err(missing("out NET", "nat masquerade out wan"));
            }
        }
        "snat" => {
            if rule.out.is_none() {
                return Err(missing("out NET", "nat snat out wan to 203.0.113.1"));
            }
            let Some(((to, ports), _)) = to else {
                return Err(missing("to ADDR", "nat snat out wan to 203.0.113.1"));
            };
            rule.action = NatAction::Snat { to, ports };
        }
        _ => {
            let Some(dport) = dport else {
                return Err(missing("dport PORT", "nat dnat tcp dport 8080 to 192.168.1.10:80"));
            };
            let Some(((to, ports), span)) = to else {
                return Err(missing("to ADDR[:PORT]", "nat dnat tcp dport 8080 to 192.168.1.10:80"));
            };
            let to_port = match ports {
                Some((low, high)) if low != high => {
                    return Err(Diagnostic::error(
                        "`nat dnat` translates to one port, not a range",
                        span,
                        "one port, like `192.168.1.10:80`",
                    ));
                }
                Some((p, _)) => Some(p),
                None => None,
            };
            rule.action = NatAction::Dnat {
                proto,
                dport,
                to,
                to_port,
            };
        }
    }
    Ok(rule)
}

/// `user NAME UID [GID]`, after `user`.
fn user(c: &mut Cursor<'_, '_>, line_span: Span) -> Result<UserDecl, Diagnostic> {
    let name = world_name(c.expect_word("a user name, as in `user alice 1000`")?)?;
    let id = |c: &mut Cursor<'_, '_>, what: &str| -> Result<u32, Diagnostic> {
        let token = c.expect_word(what)?;
        let v = words::run(
            token,
            words::unsigned,
            what,
            "ids are whole numbers from 0 to 4294967294",
        )?;
        u32::try_from(v).ok().filter(|&v| v != u32::MAX).ok_or_else(|| {
            Diagnostic::error(
                format!("id {v} is out of range"),
                token.span,
                "ids go from 0 to 4294967294",
            )
        })
    };
    let uid = id(c, "a user id, as in `user alice 1000`")?;
    let gid = match c.peek() {
        Some(_) => id(c, "a group id")?,
        None => uid,
    };
    c.expect_end("the ids")?;
    Ok(UserDecl {
        name,
        uid,
        gid,
        span: line_span,
    })
}

/// `sysctl dotted.name = INT [INT...]`, after `sysctl`.
fn sysctl(c: &mut Cursor<'_, '_>, line_span: Span) -> Result<SysctlDecl, Diagnostic> {
    let name = ident_with(
        c.expect_word("a sysctl name like `net.core.somaxconn`")?,
        words::sysctl_name,
        "a sysctl name like `net.core.somaxconn`",
        "sysctl names are dotted, as in /proc/sys: `net.ipv4.tcp_tw_reuse`",
    )?;
    c.expect_punct('=', "`=` after the sysctl name")?;
    let mut values = Vec::new();
    let first = c.here();
    while c.peek().is_some() {
        // Port lists (`ip_local_reserved_ports = 40000-40004,40006`) are written as Linux
        // writes them; each item becomes a pair of integers, low and high.
        if c.eat_punct(',').is_some() {
            continue;
        }
        let token = c.expect_word("an integer value")?;
        if let Some((low, high)) = token.text.split_once('-').filter(|(l, _)| !l.is_empty()) {
            for part in [low, high] {
                let v: i64 = part.parse().map_err(|_| {
                    Diagnostic::error(
                        format!("`{}` is not a port range", token.text),
                        token.span,
                        "expected `LOW-HIGH`",
                    )
                })?;
                values.push(v);
            }
            continue;
        }
        let value = words::run(
            token,
            words::int,
            "an integer value",
            "sysctl values are integers separated by spaces",
        )?;
        if name.name == "net.ipv4.ip_local_reserved_ports" {
            values.push(value);
        }
        values.push(value);
    }
    if values.is_empty() {
        return Err(c
            .expected("a value")
            .with_help("write the value after `=`: `sysctl net.core.somaxconn = 128`"));
    }
    let values_span = Span::new(first.start, c.consumed_end());
    Ok(SysctlDecl {
        name,
        values,
        values_span,
        span: line_span,
    })
}

fn set_once(slot: &mut Option<Span>, keyword: &str, span: Span) -> Result<(), Diagnostic> {
    if let Some(first) = *slot {
        return Err(
            Diagnostic::error(format!("`{keyword}` is given twice"), span, "given again here")
                .with_secondary(first, "first given here"),
        );
    }
    *slot = Some(span);
    Ok(())
}

fn unclosed(open: Span) -> Diagnostic {
    Diagnostic::error(
        "unclosed block: this `{` has no matching `}`",
        open,
        "this block is never closed",
    )
    .with_help("end the block with a line holding just `}`")
}

fn unknown_declaration(first: &Token<'_>, word: &str, next: Option<&Token<'_>>) -> Diagnostic {
    let is_call = next.is_some_and(|t| t.is_punct('(') || t.is_punct('=') || t.is_punct(','));
    if is_call || STATEMENTS.contains(&word) {
        return Diagnostic::error(
            format!("`{word}` must be inside a `process` block"),
            first.span,
            "statement outside any process",
        )
        .with_help("put statements in a block: `process HOST/NAME {` ... `}`");
    }
    if word == "addr" || word == "sysctl" {
        return Diagnostic::error(
            format!("`{word}` must be inside a `host NAME {{` block"),
            first.span,
            "host setting outside any host",
        );
    }
    let d = Diagnostic::error(
        format!("expected a declaration, found `{word}`"),
        first.span,
        "expected `network`, `host`, `process`, `at`, `seed`, `until` or `scenario`",
    );
    d.with_suggestion(did_you_mean(word, DECLARATIONS))
}

fn unknown_statement(first: &Token<'_>, word: &str) -> Diagnostic {
    let d = Diagnostic::error(
        format!("expected a statement, found `{word}`"),
        first.span,
        "not a statement",
    );
    if crate::calls::call(word).is_some() {
        return d.with_help(format!("a call needs its arguments in parentheses: `{word}(...)`"));
    }
    if DECLARATIONS.contains(&word) {
        return d.with_help(format!("`{word}` is a top-level declaration: is a `}}` missing above?"));
    }
    match did_you_mean(word, STATEMENTS) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => d.with_help(
            "a statement is a call like `close(s)`, or `repeat`, `for`, `fork`, `sleep`, `ss`, `note` or `exit`",
        ),
    }
}

/// `[NAME[, NAME] =] CALL(ARGS) [= EXPECTATION]`.
fn call_statement(c: &mut Cursor<'_, '_>) -> Result<StmtKind, Diagnostic> {
    let mut binds = Vec::new();
    if !c.peek_at(1).is_some_and(|t| t.is_punct('(')) {
        loop {
            binds.push(variable_name(c.expect_word("a name to bind")?)?);
            if c.eat_punct(',').is_none() {
                break;
            }
        }
        c.expect_punct('=', "`=` or `,` after the bound name")?;
        if !c.peek_at(1).is_some_and(|t| t.is_punct('(')) || c.peek().is_none_or(|t| t.kind != TokenKind::Word) {
            return Err(c.expected("a call like `socket(AF_INET, SOCK_STREAM)`"));
        }
    }
    let call = call(c)?;
    let expect = match c.eat_punct('=') {
        Some(eq) => Some(expectation(c, eq)?),
        None => None,
    };
    if c.peek().is_some() {
        let what = if expect.is_some() {
            "`|` or end of line"
        } else {
            "`=` or end of line"
        };
        return Err(c
            .expected(what)
            .with_help("an expected result follows `=`: `= 0`, `= -1 EAGAIN`, `= 0 | -1 EAGAIN`"));
    }
    Ok(StmtKind::Call { binds, call, expect })
}

/// `NAME(ARG, ...)`.
fn call(c: &mut Cursor<'_, '_>) -> Result<Call, Diagnostic> {
    let name = variable_name(c.expect_word("a call")?)?;
    let open = c.expect_punct('(', "`(`")?;
    let mut args = Vec::new();
    let close = match c.eat_punct(')') {
        Some(close) => close,
        None => loop {
            args.push(arg(c)?);
            if c.eat_punct(',').is_some() {
                continue;
            }
            match c.eat_punct(')') {
                Some(close) => break close,
                None => {
                    return Err(c
                        .expected("`,` or `)`")
                        .with_secondary(open, "the argument list starts here"));
                }
            }
        },
    };
    Ok(Call {
        span: Span::new(name.span.start, close.end),
        name,
        args,
    })
}

/// One call argument.
fn arg(c: &mut Cursor<'_, '_>) -> Result<Arg, Diagnostic> {
    let Some(token) = c.peek() else {
        return Err(c.expected("an argument"));
    };
    match &token.kind {
        TokenKind::Str(s) => {
            c.bump();
            Ok(Arg {
                kind: ArgKind::Str(s.clone()),
                span: token.span,
            })
        }
        TokenKind::Word => {
            c.bump();
            let kind = word_arg(token)?;
            if matches!(kind, ArgKind::Name(_)) && c.is_punct('|') {
                return flags(c, token, kind);
            }
            Ok(Arg { kind, span: token.span })
        }
        TokenKind::Punct('@') => {
            c.bump();
            let (name, span) = c
                .expect_string("a name in quotes after `@`")
                .map_err(|d| d.with_help("an abstract Unix socket name is written `@\"name\"`"))?;
            Ok(Arg {
                kind: ArgKind::Abstract(name),
                span: Span::new(token.span.start, span.end),
            })
        }
        TokenKind::Punct('[') => Err(c
            .expected("an argument")
            .with_help("write an IPv6 socket address with its port: `[fd00::1]:80`")),
        TokenKind::Punct(_) => Err(c.expected("an argument")),
    }
}

/// `NAME | NAME ...`, the first name already read.
fn flags(c: &mut Cursor<'_, '_>, first: &Token<'_>, kind: ArgKind) -> Result<Arg, Diagnostic> {
    let ArgKind::Name(name) = kind else {
        return Ok(Arg { kind, span: first.span });
    };
    let mut names = vec![name];
    let mut end = first.span.end;
    while c.eat_punct('|').is_some() {
        let token = c.expect_word("a constant after `|`")?;
        let flag = words::run(
            token,
            words::ident,
            "a constant after `|`",
            "or together constants: `SOCK_STREAM | SOCK_NONBLOCK`",
        )?;
        names.push(flag.to_owned());
        end = token.span.end;
    }
    Ok(Arg {
        kind: ArgKind::Flags(names),
        span: Span::new(first.span.start, end),
    })
}

/// What a word argument is, from its shape.
fn word_arg(token: &Token<'_>) -> Result<ArgKind, Diagnostic> {
    let text = token.text;
    let first = text.chars().next().unwrap_or(' ');
    if text.contains(':') {
        return words::run(
            token,
            words::inet,
            "a socket address like `10.0.0.1:80`",
            "each octet and the port may be a number or a loop variable: `10.0.0.$i:$port`",
        )
        .map(ArgKind::Inet);
    }
    if first == '$' {
        return num(token, "a loop variable like `$i`").map(ArgKind::Num);
    }
    if first.is_ascii_digit() || first == '-' {
        if text.chars().any(|c| c.is_ascii_alphabetic()) {
            return words::run(
                token,
                words::size,
                "a size like `64KiB`",
                "the size units are B, KiB, MiB, GiB, KB, MB and GB",
            )
            .map(ArgKind::Size);
        }
        if text.bytes().filter(|&b| b == b'.').count() == 3 {
            return Err(Diagnostic::error(
                format!("expected a socket address, found `{text}` without a port"),
                token.span,
                "missing `:PORT`",
            )
            .with_help(format!("add a port: `{text}:80` (or `{text}:0` for any)")));
        }
        // A leading zero means octal, as in C: `chmod("/run/app.sock", 0777)`.
        if text.len() > 1 && text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit()) {
            return i64::from_str_radix(text, 8)
                .map(|v| ArgKind::Num(Num::Lit(v)))
                .map_err(|_| {
                    Diagnostic::error(
                        format!("`{text}` is not an octal number"),
                        token.span,
                        "digits 8 and 9 are not octal",
                    )
                    .with_help("a number with a leading zero is octal, as in C: `0755`")
                });
        }
        return num(token, "a number").map(ArgKind::Num);
    }
    if first.is_ascii_alphabetic() || first == '_' {
        return ident_with(token, words::ident, "a name", "names are ASCII letters, digits and `_`")
            .map(|ident| ArgKind::Name(ident.name));
    }
    Err(Diagnostic::error(
        format!("expected an argument, found `{text}`"),
        token.span,
        "not an argument",
    ))
}

/// `= ALT | ALT ...`, after the `=` at `eq`.
fn expectation(c: &mut Cursor<'_, '_>, eq: Span) -> Result<Expectation, Diagnostic> {
    let mut alternatives = vec![outcome(c)?];
    while c.eat_punct('|').is_some() {
        alternatives.push(outcome(c)?);
    }
    Ok(Expectation {
        alternatives,
        span: Span::new(eq.start, c.consumed_end()),
    })
}

const RESULT_EXAMPLES: &str = "a result like `0`, `-1 EAGAIN` or `10.0.0.1:*`";

/// A Unix address in an expectation, if one comes next: `"/run/app.sock"`, `@"app"`, `@*`
/// or `unnamed`.
fn unix_pattern(c: &mut Cursor<'_, '_>) -> Result<Option<UnixPattern>, Diagnostic> {
    match c.peek() {
        Some(Token {
            kind: TokenKind::Str(s),
            ..
        }) => {
            let path = s.clone();
            c.bump();
            Ok(Some(UnixPattern::Path(path)))
        }
        Some(t) if t.is_word("unnamed") => {
            c.bump();
            Ok(Some(UnixPattern::Unnamed))
        }
        Some(t) if t.is_punct('@') => {
            c.bump();
            if c.eat_word("*").is_some() {
                return Ok(Some(UnixPattern::AnyAbstract));
            }
            let (name, _) = c
                .expect_string("a name in quotes or `*` after `@`")
                .map_err(|d| d.with_help("an abstract name is written `@\"name\"`; `@*` matches any"))?;
            Ok(Some(UnixPattern::Abstract(name)))
        }
        _ => Ok(None),
    }
}

/// One alternative of an expectation.
fn outcome(c: &mut Cursor<'_, '_>) -> Result<Outcome, Diagnostic> {
    if let Some(p) = unix_pattern(c)? {
        return Ok(Outcome::Addr(AddrMatch::Unix(p)));
    }
    let token = match c.peek() {
        Some(t) if t.kind == TokenKind::Word => t,
        _ => return Err(c.expected(RESULT_EXAMPLES)),
    };
    let first = token.text.chars().next().unwrap_or(' ');
    if token.text.contains(':') {
        c.bump();
        return addr_pattern(token).map(|p| Outcome::Addr(AddrMatch::Inet(Box::new(p))));
    }
    if !(first.is_ascii_digit() || first == '-' || first == '$') {
        let d = Diagnostic::error(
            format!("expected {RESULT_EXAMPLES}, found `{}`", token.text),
            token.span,
            "not a result",
        );
        let looks_like_errno = sim_kernel::Errno::from_name(token.text).is_some() || token.text.starts_with('E');
        return Err(if looks_like_errno {
            d.with_help(format!("write a failure the way strace prints it: `-1 {}`", token.text))
        } else {
            d
        });
    }
    c.bump();
    let mut value = num(token, RESULT_EXAMPLES)?;
    // A leading zero means octal here too, as `umask` prints its result: `= 022`.
    if token.text.len() > 1 && token.text.starts_with('0') && token.text.bytes().all(|b| b.is_ascii_digit()) {
        let v = i64::from_str_radix(token.text, 8).map_err(|_| {
            Diagnostic::error(
                format!("`{}` is not an octal number", token.text),
                token.span,
                "digits 8 and 9 are not octal",
            )
            .with_help("a number with a leading zero is octal, as in C: `022`")
        })?;
        value = Num::Lit(v);
    }
    if let Num::Lit(v) = value {
        if v < 0 {
            if let Some(errno) = c.peek().filter(|t| t.kind == TokenKind::Word) {
                c.bump();
                if v != -1 {
                    return Err(Diagnostic::error(
                        format!("a failing call returns -1, found `{v}`"),
                        token.span,
                        "expected `-1`",
                    )
                    .with_help(format!("write `-1 {}`", errno.text)));
                }
                let errno = ident_with(errno, words::ident, "an errno name like `EAGAIN`", "")?;
                skip_errno_description(c)?;
                return Ok(Outcome::Error(errno));
            }
            if v == -1 {
                return Err(c
                    .expected("an errno name after `-1`")
                    .with_help("write a failure as `-1 ERRNO`, e.g. `= -1 EAGAIN`"));
            }
        }
    }
    let data = match c.peek() {
        Some(Token {
            kind: TokenKind::Str(s),
            ..
        }) => {
            c.bump();
            Some(s.clone())
        }
        _ => None,
    };
    let addr = match c.eat_punct('(') {
        Some(open) => {
            let pattern = match unix_pattern(c)? {
                Some(p) => AddrMatch::Unix(p),
                None => AddrMatch::Inet(Box::new(addr_pattern(c.expect_word("an address like `10.0.0.2:*`")?)?)),
            };
            c.expect_punct(')', "`)`")
                .map_err(|d| d.with_secondary(open, "opened here"))?;
            Some(pattern)
        }
        None => None,
    };
    let detail = match c.eat_punct('[') {
        Some(open) => {
            // `[ECONNREFUSED]`, `[3 EPOLLIN, 5 EPOLLIN|EPOLLOUT]`, `[pid=2 uid=0 gid=0]`: kept
            // in the form `render::normalize_detail` gives the actual result.
            let mut text = String::new();
            loop {
                match c.bump() {
                    Some(t) if t.is_punct(']') => break,
                    Some(t) if t.kind == TokenKind::Word || t.is_punct(',') || t.is_punct('|') || t.is_punct('=') => {
                        text.push_str(t.text);
                        text.push(' ');
                    }
                    Some(t) => {
                        return Err(Diagnostic::error(
                            format!("unexpected `{}` inside `[...]`", t.text),
                            t.span,
                            "expected a value, `,`, `|`, `=` or `]`",
                        ));
                    }
                    None => return Err(c.expected("`]`").with_secondary(open, "opened here")),
                }
            }
            Some(crate::render::normalize_detail(&text))
        }
        None => None,
    };
    Ok(Outcome::Value {
        value,
        data,
        addr,
        detail,
    })
}

/// strace prints `-1 ECONNREFUSED (Connection refused)`; a pasted trace line may carry the
/// parenthesised description, which says nothing the errno name does not, so it is skipped.
fn skip_errno_description(c: &mut Cursor<'_, '_>) -> Result<(), Diagnostic> {
    let Some(open) = c.eat_punct('(') else {
        return Ok(());
    };
    while let Some(t) = c.bump() {
        if t.is_punct(')') {
            return Ok(());
        }
    }
    Err(c.expected("`)`").with_secondary(open, "the description starts here"))
}
