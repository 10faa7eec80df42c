//! Parsing the inside of a word: numbers, durations, sizes, addresses, ranges and names.
//!
//! The lexer leaves `10.0.0.$i:$p`, `1.5s` or `40000..40009` as single words; the statement
//! parser knows from where a word stands what it must be and calls one of the functions here.
//! Each runs a small winnow grammar over the word and turns a mismatch into an
//! "expected X, found `word`" diagnostic, or reports a precise one (an octet above 255, an
//! unknown unit) on the part of the word at fault.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use winnow::combinator::{alt, eof, opt, preceded, repeat, separated};
use winnow::error::ErrMode;
use winnow::prelude::*;
use winnow::stream::Location;
use winnow::token::{one_of, take_while};

use super::lexer::{Fail, Input, PResult, Token, cut, here, input, span};
use crate::ast::{AddrPattern, Ident, InetAddr, IpSpec, Num, PortPattern, Span, Template, TemplatePart};
use crate::diagnostic::{Diagnostic, did_you_mean};

/// Runs `parser` over the whole of the word `token`; a mismatch becomes
/// "expected {expected}, found `{word}`" with `help` as its help line.
pub(crate) fn run<'s, T>(
    token: &Token<'s>,
    mut parser: impl Parser<Input<'s>, T, ErrMode<Fail>>,
    expected: &str,
    help: &str,
) -> Result<T, Diagnostic> {
    parser
        .parse(input(token.text, token.span.start))
        .map_err(|e| match e.into_inner() {
            Fail(Some(diagnostic)) => *diagnostic,
            Fail(None) => {
                let d = Diagnostic::error(
                    format!("expected {expected}, found `{}`", token.text),
                    token.span,
                    format!("expected {expected}"),
                );
                if help.is_empty() { d } else { d.with_help(help) }
            }
        })
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `[A-Za-z_][A-Za-z0-9_]*`: variables, constants, calls, errno names.
pub(crate) fn ident<'s>(input: &mut Input<'s>) -> PResult<&'s str> {
    (one_of(is_ident_start), take_while(0.., is_ident_char))
        .take()
        .parse_next(input)
}

/// `[A-Za-z_][A-Za-z0-9_-]*`: names of networks, hosts and processes (`web-1`).
pub(crate) fn world_name<'s>(input: &mut Input<'s>) -> PResult<&'s str> {
    (
        one_of(is_ident_start),
        take_while(0.., |c: char| is_ident_char(c) || c == '-'),
    )
        .take()
        .parse_next(input)
}

/// A dotted sysctl name such as `net.ipv4.tcp_tw_reuse`.
pub(crate) fn sysctl_name<'s>(input: &mut Input<'s>) -> PResult<&'s str> {
    let segment = take_while(1.., |c: char| is_ident_char(c) || c == '-');
    separated::<_, _, (), _, _, _, _>(1.., segment, '.')
        .take()
        .parse_next(input)
}

/// `$name`; the span includes the `$`.
pub(crate) fn var(input: &mut Input<'_>) -> PResult<Ident> {
    let (name, range) = preceded('$', ident).with_span().parse_next(input)?;
    Ok(Ident {
        name: name.to_owned(),
        span: span(input, range),
    })
}

/// A decimal integer, optionally negative.
pub(crate) fn int(input: &mut Input<'_>) -> PResult<i64> {
    let (text, range) = (opt('-'), digits).take().with_span().parse_next(input)?;
    match text.parse::<i64>() {
        Ok(v) => Ok(v),
        Err(_) => cut(Diagnostic::error(
            format!("number `{text}` is out of range"),
            span(input, range),
            "does not fit in a 64-bit signed integer",
        )),
    }
}

fn digits<'s>(input: &mut Input<'s>) -> PResult<&'s str> {
    take_while(1.., |c: char| c.is_ascii_digit()).parse_next(input)
}

/// A non-negative decimal integer that fits in a `u64`.
pub(crate) fn unsigned(input: &mut Input<'_>) -> PResult<u64> {
    let (text, range) = digits.with_span().parse_next(input)?;
    match text.parse::<u64>() {
        Ok(v) => Ok(v),
        Err(_) => cut(Diagnostic::error(
            format!("number `{text}` is out of range"),
            span(input, range),
            "does not fit in 64 bits",
        )),
    }
}

/// A number: a literal or `$var`.
pub(crate) fn num(input: &mut Input<'_>) -> PResult<Num> {
    alt((var.map(Num::Var), int.map(Num::Lit))).parse_next(input)
}

/// A number whose literal form must lie in `0..=max`; `what` names it in the error.
fn bounded(input: &mut Input<'_>, what: &str, max: i64) -> PResult<Num> {
    let (n, range) = num.with_span().parse_next(input)?;
    match n {
        Num::Lit(v) if !(0..=max).contains(&v) => cut(Diagnostic::error(
            format!("{what} {v} is out of range"),
            span(input, range),
            format!("{what}s go from 0 to {max}"),
        )),
        n => Ok(n),
    }
}

fn octet(input: &mut Input<'_>) -> PResult<Num> {
    bounded(input, "octet", 255)
}

fn port(input: &mut Input<'_>) -> PResult<Num> {
    bounded(input, "port", 65535)
}

fn octets(input: &mut Input<'_>) -> PResult<[Num; 4]> {
    let (a, _, b, _, c, _, d) = (octet, '.', octet, '.', octet, '.', octet).parse_next(input)?;
    Ok([a, b, c, d])
}

/// `[IPV6]`: a bracketed IPv6 address (the lexer keeps it in one word with its port).
fn bracketed_ipv6(input: &mut Input<'_>) -> PResult<Ipv6Addr> {
    let start = input.current_token_start();
    let (_, text, _) = (
        '[',
        take_while(1.., |c: char| c.is_ascii_hexdigit() || c == ':' || c == '.'),
        ']',
    )
        .parse_next(input)?;
    match text.parse::<Ipv6Addr>() {
        Ok(ip) => Ok(ip),
        Err(_) => cut(Diagnostic::error(
            format!("`{text}` is not an IPv6 address"),
            span(input, start..input.current_token_start()),
            "not an IPv6 address",
        )),
    }
}

/// The host part of a socket address: `A.B.C.D` (octets may be `$var`) or `[IPV6]`.
fn ip_spec(input: &mut Input<'_>) -> PResult<IpSpec> {
    if input.starts_with('[') {
        bracketed_ipv6.map(IpSpec::V6).parse_next(input)
    } else {
        octets.map(IpSpec::V4).parse_next(input)
    }
}

/// `A.B.C.D:PORT` or `[IPV6]:PORT`, octets and port a literal or `$var`.
pub(crate) fn inet(input: &mut Input<'_>) -> PResult<InetAddr> {
    let (ip, _, port) = (ip_spec, ':', port).parse_next(input)?;
    Ok(InetAddr { ip, port })
}

/// An address with `*`, `N` or `N..M` as the port (`10.0.0.2:*`, `[::1]:40000..40009`).
pub(crate) fn addr_pattern(input: &mut Input<'_>) -> PResult<AddrPattern> {
    let (ip, _, port) = (ip_spec, ':', port_pattern).parse_next(input)?;
    Ok(AddrPattern { ip, port })
}

/// A literal IPv4 or IPv6 address, without brackets (for declarations: `fd00::2`).
pub(crate) fn ip_literal(input: &mut Input<'_>) -> PResult<IpAddr> {
    if input.contains(':') {
        let start = input.current_token_start();
        let text = take_while(1.., |c: char| c.is_ascii_hexdigit() || c == ':' || c == '.').parse_next(input)?;
        return match text.parse::<Ipv6Addr>() {
            Ok(ip) => Ok(IpAddr::V6(ip)),
            Err(_) => cut(Diagnostic::error(
                format!("`{text}` is not an IPv6 address"),
                span(input, start..input.current_token_start()),
                "not an IPv6 address",
            )),
        };
    }
    ipv4.map(IpAddr::V4).parse_next(input)
}

fn port_pattern(input: &mut Input<'_>) -> PResult<PortPattern> {
    if opt('*').parse_next(input)?.is_some() {
        return Ok(PortPattern::Any);
    }
    let start = input.current_token_start();
    let (low, high) = (port, opt(preceded("..", port))).parse_next(input)?;
    let Some(high) = high else {
        return Ok(PortPattern::Exact(low));
    };
    if let (Num::Lit(l), Num::Lit(h)) = (&low, &high) {
        if l > h {
            return cut(Diagnostic::error(
                format!("empty port range: {l} is greater than {h}"),
                span(input, start..input.current_token_start()),
                "the first port must not exceed the last",
            ));
        }
    }
    Ok(PortPattern::Range(low, high))
}

/// A literal IPv4 address `A.B.C.D` (for declarations, where `$var` makes no sense).
pub(crate) fn ipv4(input: &mut Input<'_>) -> PResult<Ipv4Addr> {
    let (a, _, b, _, c, _, d) = (
        literal_octet,
        '.',
        literal_octet,
        '.',
        literal_octet,
        '.',
        literal_octet,
    )
        .parse_next(input)?;
    Ok(Ipv4Addr::new(a, b, c, d))
}

fn literal_octet(input: &mut Input<'_>) -> PResult<u8> {
    let (text, range) = digits.with_span().parse_next(input)?;
    match text.parse::<u8>() {
        Ok(v) => Ok(v),
        Err(_) => cut(Diagnostic::error(
            format!("octet {text} is out of range"),
            span(input, range),
            "octets go from 0 to 255",
        )),
    }
}

/// A prefix length, `0..=32`.
pub(crate) fn prefix_len(input: &mut Input<'_>) -> PResult<u8> {
    let (text, range) = digits.with_span().parse_next(input)?;
    match text.parse::<u8>() {
        Ok(v) if v <= 128 => Ok(v),
        _ => cut(Diagnostic::error(
            format!("prefix length {text} is out of range"),
            span(input, range),
            "a prefix is 0 to 32 bits (IPv4) or 0 to 128 bits (IPv6)",
        )),
    }
}

/// `A..B` (inclusive), each a literal or `$var`.
pub(crate) fn range(input: &mut Input<'_>) -> PResult<(Num, Num)> {
    let (from, _, to) = (num, "..", num).parse_next(input)?;
    Ok((from, to))
}

/// A name with embedded variables: letters, digits, `_`, `-` and `$var` (`w$i`).
pub(crate) fn template(input: &mut Input<'_>) -> PResult<Template> {
    let start = input.current_token_start();
    let literal =
        take_while(1.., |c: char| is_ident_char(c) || c == '-').map(|s: &str| TemplatePart::Lit(s.to_owned()));
    let parts: Vec<TemplatePart> = repeat(1.., alt((literal, var.map(TemplatePart::Var)))).parse_next(input)?;
    Ok(Template {
        parts,
        span: span(input, start..input.current_token_start()),
    })
}

/// Time units and their length in nanoseconds.
const TIME_UNITS: [(&str, u64); 4] = [("ns", 1), ("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000)];

/// A duration: an integer or decimal with a unit (`100us`, `1.5s`), in nanoseconds.
pub(crate) fn duration(input: &mut Input<'_>) -> PResult<u64> {
    let start = here(input);
    let (whole, fraction, (unit, unit_range), _) = (
        digits,
        opt(preceded('.', digits)),
        take_while(0.., |c: char| c.is_ascii_alphabetic()).with_span(),
        eof,
    )
        .parse_next(input)?;
    let all = Span::new(start, here(input));
    let unit_span = span(input, unit_range);
    let Some(&(_, unit_ns)) = TIME_UNITS.iter().find(|(name, _)| *name == unit) else {
        let units = TIME_UNITS.map(|(name, _)| name);
        if unit.is_empty() {
            let number = format!("{whole}{}", fraction.map(|f| format!(".{f}")).unwrap_or_default());
            return cut(
                Diagnostic::error(format!("missing time unit after `{number}`"), all, "add a unit").with_help(format!(
                    "write a duration with its unit: `{number}ms`; the units are ns, us, ms and s"
                )),
            );
        }
        return cut(Diagnostic::error(
            format!("unknown time unit `{unit}`"),
            unit_span,
            "expected ns, us, ms or s",
        )
        .with_suggestion(did_you_mean(unit, units)));
    };
    let too_long = || {
        cut(Diagnostic::error(
            "duration is too long",
            all,
            "must be below 2^64 nanoseconds (about 584 years)",
        ))
    };
    let Ok(whole) = whole.parse::<u64>() else {
        return too_long();
    };
    let Some(whole_ns) = whole.checked_mul(unit_ns) else {
        return too_long();
    };
    let fraction = fraction.unwrap_or("").trim_end_matches('0');
    // unit_ns is at most 10^9, so a fraction with more than nine digits is finer than 1 ns.
    let finer = || {
        cut(Diagnostic::error(
            "duration is finer than a nanosecond",
            all,
            "not a whole number of nanoseconds",
        ))
    };
    if fraction.len() > 9 {
        return finer();
    }
    let numerator = fraction.parse::<u64>().unwrap_or(0) * unit_ns;
    let denominator = 10u64.pow(fraction.len() as u32);
    if numerator % denominator != 0 {
        return finer();
    }
    match whole_ns.checked_add(numerator / denominator) {
        Some(ns) => Ok(ns),
        None => too_long(),
    }
}

/// Size units and their length in bytes.
const SIZE_UNITS: [(&str, u64); 7] = [
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
];

/// A byte count with a unit (`64KiB`, `1MB`, `100B`).
pub(crate) fn size(input: &mut Input<'_>) -> PResult<u64> {
    let start = here(input);
    let (count, (unit, unit_range), _) = (
        digits,
        take_while(1.., |c: char| c.is_ascii_alphabetic()).with_span(),
        eof,
    )
        .parse_next(input)?;
    let all = Span::new(start, here(input));
    let Some(&(_, unit_bytes)) = SIZE_UNITS.iter().find(|(name, _)| *name == unit) else {
        let d = Diagnostic::error(
            format!("unknown size unit `{unit}`"),
            span(input, unit_range),
            "expected B, KiB, MiB, GiB, KB, MB or GB",
        );
        let d = if TIME_UNITS.iter().any(|(name, _)| *name == unit) {
            d.with_help("durations are not call arguments; sizes use B, KiB, MiB, GiB, KB, MB or GB")
        } else {
            d.with_suggestion(did_you_mean(unit, SIZE_UNITS.map(|(name, _)| name)))
        };
        return cut(d);
    };
    match count.parse::<u64>().ok().and_then(|c| c.checked_mul(unit_bytes)) {
        Some(bytes) => Ok(bytes),
        None => cut(Diagnostic::error("size is too large", all, "must be below 2^64 bytes")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Span;
    use crate::parse::lexer::TokenKind;

    fn word(text: &str) -> Token<'_> {
        Token {
            kind: TokenKind::Word,
            text,
            span: Span::new(100, 100 + text.len()),
        }
    }

    #[test]
    fn durations() {
        let d = |t| run(&word(t), duration, "a duration", "");
        assert_eq!(d("100us"), Ok(100_000));
        assert_eq!(d("1.5s"), Ok(1_500_000_000));
        assert_eq!(d("10ms"), Ok(10_000_000));
        assert_eq!(d("7ns"), Ok(7));
        assert_eq!(d("0.000000001s"), Ok(1));
        assert_eq!(d("2.500ms"), Ok(2_500_000));
        assert!(d("1.5ns").unwrap_err().message.contains("finer than a nanosecond"));
        assert!(d("10").unwrap_err().message.contains("missing time unit after `10`"));
        let e = d("10sec").unwrap_err();
        assert!(e.message.contains("unknown time unit `sec`"), "{e:?}");
        assert_eq!(e.span, Span::new(102, 105));
        assert_eq!(d("10mS").unwrap_err().help.as_deref(), Some("did you mean `ms`?"));
        assert!(d("99999999999999999999s").unwrap_err().message.contains("too long"));
        assert!(d("1.5.3s").unwrap_err().message.contains("expected a duration"));
    }

    #[test]
    fn sizes() {
        let s = |t| run(&word(t), size, "a size", "");
        assert_eq!(s("64KiB"), Ok(65536));
        assert_eq!(s("1MB"), Ok(1_000_000));
        assert_eq!(s("3B"), Ok(3));
        assert_eq!(s("2GiB"), Ok(2 << 30));
        assert_eq!(s("1kib").unwrap_err().help.as_deref(), Some("did you mean `KiB`?"));
        assert!(s("10ms").unwrap_err().help.unwrap().contains("durations are not"));
        assert!(s("99999999999GiB").unwrap_err().message.contains("too large"));
    }

    #[test]
    fn addresses() {
        let a = run(&word("10.0.0.$i:$p"), inet, "an address", "").unwrap();
        let IpSpec::V4(octets) = &a.ip else { panic!("{a:?}") };
        assert_eq!(octets[0], Num::Lit(10));
        assert!(matches!(&octets[3], Num::Var(v) if v.name == "i" && v.span == Span::new(107, 109)));
        let v6 = run(&word("[fd00::1]:80"), inet, "an address", "").unwrap();
        assert_eq!(v6.ip, IpSpec::V6("fd00::1".parse().unwrap()));
        assert_eq!(v6.port, Num::Lit(80));
        let p = run(&word("[::ffff:10.0.0.2]:*"), addr_pattern, "an address", "").unwrap();
        assert_eq!(p.ip, IpSpec::V6("::ffff:10.0.0.2".parse().unwrap()));
        assert!(run(&word("[fd00::zz]:80"), inet, "an address", "").is_err());
        assert!(matches!(&a.port, Num::Var(v) if v.name == "p" && v.span == Span::new(110, 112)));
        let e = run(&word("10.0.256.1:80"), inet, "an address", "").unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.span),
            ("octet 256 is out of range", Span::new(105, 108))
        );
        let e = run(&word("10.0.0.1:65536"), inet, "an address", "").unwrap_err();
        assert_eq!(e.message, "port 65536 is out of range");
        let e = run(&word("10.0.0:80"), inet, "an address", "h").unwrap_err();
        assert_eq!(e.message, "expected an address, found `10.0.0:80`");

        let p = |t| run(&word(t), addr_pattern, "a pattern", "");
        assert_eq!(p("10.0.0.2:*").unwrap().port, PortPattern::Any);
        assert_eq!(p("10.0.0.2:80").unwrap().port, PortPattern::Exact(Num::Lit(80)));
        assert_eq!(
            p("10.0.0.2:1..9").unwrap().port,
            PortPattern::Range(Num::Lit(1), Num::Lit(9))
        );
        assert!(p("10.0.0.2:9..1").unwrap_err().message.contains("empty port range"));

        assert_eq!(
            run(&word("10.1.2.3"), ipv4, "an address", ""),
            Ok(Ipv4Addr::new(10, 1, 2, 3))
        );
        assert!(run(&word("10.1.2.300"), ipv4, "an address", "").is_err());
    }

    #[test]
    fn names_numbers_and_templates() {
        assert_eq!(run(&word("-1"), int, "a number", ""), Ok(-1));
        assert!(
            run(&word("99999999999999999999"), int, "a number", "")
                .unwrap_err()
                .message
                .contains("out of range")
        );
        assert_eq!(
            run(&word("1..-3"), range, "a range", ""),
            Ok((Num::Lit(1), Num::Lit(-3)))
        );
        assert_eq!(
            run(&word("net.ipv4.tcp_tw_reuse"), sysctl_name, "x", ""),
            Ok("net.ipv4.tcp_tw_reuse")
        );
        assert!(run(&word("net..x"), sysctl_name, "x", "").is_err());
        assert_eq!(run(&word("web-1"), world_name, "x", ""), Ok("web-1"));
        assert!(run(&word("web-1"), ident, "x", "").is_err());
        let t = run(&word("w$i-x"), template, "a name", "").unwrap();
        assert_eq!(t.span, Span::new(100, 105));
        assert_eq!(t.parts.len(), 3);
        assert_eq!(t.parts[0], TemplatePart::Lit("w".into()));
        assert_eq!(t.parts[2], TemplatePart::Lit("-x".into()));
        assert!(run(&word("w$"), template, "a name", "").is_err());
    }
}
