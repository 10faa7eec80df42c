//! Parser tests: the design's example, error messages and positions, robustness.

use super::*;
use crate::ast::{AddrPattern, InetAddr, IpSpec, PortPattern, Template, TemplatePart, UnixPattern};

/// The "Processes" example of the language design, with the world declarations it needs
/// (with `alice` declared on the client).
const EXAMPLE: &str = r#"# The example of scenario-language.md, "Processes".
scenario "one client, one server"
seed 7
until 120s

network lan 10.0.0.0/24 latency=100us

host server 10.0.0.1 on lan             # one-line form

host client {
    addr 10.0.0.2 on lan
    sysctl net.ipv4.ip_local_port_range = 40000 40009
    user alice 1000
}

process server/httpd {                   # HOST/NAME; starts at t=0 as root
    l = socket(AF_INET, SOCK_STREAM)
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, 1) = 0
    bind(l, 0.0.0.0:80) = 0
    listen(l, 128) = 0
    repeat 2 {
        c = accept(l)
        recv(c, 100) = 5 "hello"
        close(c)
    }
}

process client/curl at 1ms as alice {    # start time, user
    s = socket(AF_INET, SOCK_STREAM)
    connect(s, 10.0.0.1:80) = 0
    getsockname(s) = 10.0.0.2:40000..40009
    send(s, "hello") = 5
    close(s)
}
"#;

fn text(source: &str, span: Span) -> &str {
    &source[span.start..span.end]
}

fn name(n: &str) -> ArgKind {
    ArgKind::Name(n.to_owned())
}

fn lit(n: i64) -> Num {
    Num::Lit(n)
}

fn call_of(stmt: &Stmt) -> (&Vec<Ident>, &Call, &Option<Expectation>) {
    match &stmt.kind {
        StmtKind::Call { binds, call, expect } => (binds, call, expect),
        other => panic!("expected a call, got {other:?}"),
    }
}

#[test]
fn parses_the_design_example() {
    let s = parse(EXAMPLE).unwrap_or_else(|d| panic!("{}", d.render("example.scn", EXAMPLE, false)));
    assert_eq!(s.title.as_deref(), Some("one client, one server"));
    assert_eq!(s.seed, Some(7));
    assert_eq!(s.until_ns, Some(120_000_000_000));

    let [lan] = s.networks.as_slice() else {
        panic!("{:?}", s.networks)
    };
    assert_eq!(lan.name.name, "lan");
    assert_eq!(text(EXAMPLE, lan.name.span), "lan");
    assert_eq!(
        (lan.addr, lan.prefix, lan.latency_ns),
        ("10.0.0.0".parse().unwrap(), 24, Some(100_000))
    );
    assert_eq!(text(EXAMPLE, lan.span), "network lan 10.0.0.0/24 latency=100us");

    let [server, client] = s.hosts.as_slice() else {
        panic!("{:?}", s.hosts)
    };
    assert_eq!(server.name.name, "server");
    assert_eq!(text(EXAMPLE, server.span), "host server 10.0.0.1 on lan");
    assert_eq!(server.addrs.len(), 1);
    assert_eq!(server.addrs[0].addr, std::net::Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(text(EXAMPLE, server.addrs[0].span), "10.0.0.1 on lan");
    assert_eq!(text(EXAMPLE, server.addrs[0].network.span), "lan");
    assert!(text(EXAMPLE, client.span).starts_with("host client {"));
    assert!(text(EXAMPLE, client.span).ends_with("1000\n}"));
    assert_eq!(
        (
            client.users[0].name.name.as_str(),
            client.users[0].uid,
            client.users[0].gid
        ),
        ("alice", 1000, 1000)
    );
    assert_eq!(client.addrs[0].addr, std::net::Ipv4Addr::new(10, 0, 0, 2));
    assert_eq!(text(EXAMPLE, client.addrs[0].span), "addr 10.0.0.2 on lan");
    let [range] = client.sysctls.as_slice() else { panic!() };
    assert_eq!(range.name.name, "net.ipv4.ip_local_port_range");
    assert_eq!(range.values, [40000, 40009]);
    assert_eq!(text(EXAMPLE, range.values_span), "40000 40009");
    assert_eq!(
        text(EXAMPLE, range.span),
        "sysctl net.ipv4.ip_local_port_range = 40000 40009"
    );

    let [httpd, curl] = s.processes.as_slice() else {
        panic!()
    };
    assert_eq!(
        (httpd.host.name.as_str(), httpd.name.name.as_str(), httpd.start_ns),
        ("server", "httpd", 0)
    );
    assert_eq!(text(EXAMPLE, httpd.span), "process server/httpd");
    assert_eq!(httpd.body.len(), 5);

    let (binds, call, expect) = call_of(&httpd.body[0]);
    assert_eq!(text(EXAMPLE, httpd.body[0].span), "l = socket(AF_INET, SOCK_STREAM)");
    assert_eq!(binds[0].name, "l");
    assert_eq!(text(EXAMPLE, binds[0].span), "l");
    assert_eq!(call.name.name, "socket");
    assert_eq!(text(EXAMPLE, call.span), "socket(AF_INET, SOCK_STREAM)");
    assert_eq!(
        call.args.iter().map(|a| a.kind.clone()).collect::<Vec<_>>(),
        [name("AF_INET"), name("SOCK_STREAM")]
    );
    assert_eq!(text(EXAMPLE, call.args[1].span), "SOCK_STREAM");
    assert!(expect.is_none());

    let (binds, call, expect) = call_of(&httpd.body[1]);
    assert!(binds.is_empty());
    assert_eq!(call.args[3].kind, ArgKind::Num(lit(1)));
    let expect = expect.as_ref().unwrap();
    assert_eq!(text(EXAMPLE, expect.span), "= 0");
    assert_eq!(
        expect.alternatives,
        [Outcome::Value {
            value: lit(0),
            data: None,
            addr: None,
            detail: None
        }]
    );

    let (_, call, _) = call_of(&httpd.body[2]);
    assert_eq!(
        call.args[1].kind,
        ArgKind::Inet(InetAddr {
            ip: IpSpec::V4([lit(0), lit(0), lit(0), lit(0)]),
            port: lit(80)
        })
    );
    assert_eq!(text(EXAMPLE, call.args[1].span), "0.0.0.0:80");

    let StmtKind::Repeat { count, body } = &httpd.body[4].kind else {
        panic!("{:?}", httpd.body[4])
    };
    assert_eq!(text(EXAMPLE, httpd.body[4].span), "repeat 2 {");
    assert_eq!(*count, lit(2));
    assert_eq!(body.len(), 3);
    let (_, call, expect) = call_of(&body[1]);
    assert_eq!(call.name.name, "recv");
    assert_eq!(
        expect.as_ref().unwrap().alternatives,
        [Outcome::Value {
            value: lit(5),
            data: Some("hello".into()),
            addr: None,
            detail: None
        }]
    );
    assert_eq!(text(EXAMPLE, expect.as_ref().unwrap().span), "= 5 \"hello\"");

    assert_eq!(
        (curl.host.name.as_str(), curl.name.name.as_str(), curl.start_ns),
        ("client", "curl", 1_000_000)
    );
    assert_eq!(text(EXAMPLE, curl.span), "process client/curl at 1ms as alice");
    assert_eq!(curl.user.as_ref().map(|u| u.name.as_str()), Some("alice"));
    let (_, _, expect) = call_of(&curl.body[2]);
    assert_eq!(
        expect.as_ref().unwrap().alternatives,
        [Outcome::Addr(AddrMatch::Inet(Box::new(AddrPattern {
            ip: IpSpec::V4([lit(10), lit(0), lit(0), lit(2)]),
            port: PortPattern::Range(lit(40000), lit(40009))
        })))]
    );
    let (_, call, _) = call_of(&curl.body[3]);
    assert_eq!(call.args[1].kind, ArgKind::Str("hello".into()));
    assert_eq!(text(EXAMPLE, call.args[1].span), "\"hello\"");
}

const FEATURES: &str = "network lan 10.0.0.0/24
host h 10.0.0.1 on lan
process h/p {
    for i in 1..3 {
        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)
        bind(s, 10.0.0.$i:$i) = 0 | -1 EADDRINUSE
        listen(s, -1)
        fork w$i-x {
            send(s, 64KiB)
            send(s, \"a\\\"b\\\\c\\n\\t\\0\\x41\")
            exit
        }
    }
    c = accept(s) = 4 (10.0.0.2:*)
    connect(c, 10.0.0.1:80) = -1 ECONNREFUSED (Connection refused)
    sleep 1.5s
    ss
    note \"done # not a comment\"  # a comment
    recv(c, $n) = $n
    close(3)
    accept() = 0 \"x\"
}
";

#[test]
fn parses_every_statement_form() {
    let s = parse(FEATURES).unwrap_or_else(|d| panic!("{}", d.render("f.scn", FEATURES, false)));
    let body = &s.processes[0].body;
    let StmtKind::For {
        var,
        from,
        to,
        body: inner,
    } = &body[0].kind
    else {
        panic!()
    };
    assert_eq!((var.name.as_str(), from, to), ("i", &lit(1), &lit(3)));

    let (_, call, _) = call_of(&inner[0]);
    assert_eq!(
        call.args[1].kind,
        ArgKind::Flags(vec!["SOCK_STREAM".into(), "SOCK_CLOEXEC".into()])
    );
    assert_eq!(text(FEATURES, call.args[1].span), "SOCK_STREAM | SOCK_CLOEXEC");
    assert_eq!(call.args[2].kind, ArgKind::Num(lit(0)));

    let (_, call, expect) = call_of(&inner[1]);
    let ArgKind::Inet(addr) = &call.args[1].kind else {
        panic!()
    };
    assert!(
        matches!(&addr.ip, IpSpec::V4(o) if matches!(&o[3], Num::Var(v) if v.name == "i" && text(FEATURES, v.span) == "$i"))
    );
    let alternatives = &expect.as_ref().unwrap().alternatives;
    assert_eq!(alternatives.len(), 2, "`= 0 | -1 EADDRINUSE` is two alternatives");
    assert!(
        matches!(&alternatives[1], Outcome::Error(e) if e.name == "EADDRINUSE" && text(FEATURES, e.span) == "EADDRINUSE")
    );
    assert_eq!(text(FEATURES, expect.as_ref().unwrap().span), "= 0 | -1 EADDRINUSE");

    let (_, call, _) = call_of(&inner[2]);
    assert_eq!(call.args[1].kind, ArgKind::Num(lit(-1)));

    let StmtKind::Fork { name, body: child } = &inner[3].kind else {
        panic!()
    };
    let Template { parts, span } = name;
    assert_eq!(text(FEATURES, *span), "w$i-x");
    assert!(
        matches!(parts.as_slice(), [TemplatePart::Lit(w), TemplatePart::Var(i), TemplatePart::Lit(x)]
        if w == "w" && i.name == "i" && x == "-x")
    );
    let (_, call, _) = call_of(&child[0]);
    assert_eq!(call.args[1].kind, ArgKind::Size(65536));
    let (_, call, _) = call_of(&child[1]);
    assert_eq!(call.args[1].kind, ArgKind::Str("a\"b\\c\n\t\0A".into()));
    assert_eq!(child[2].kind, StmtKind::Exit);

    let (binds, _, expect) = call_of(&body[1]);
    assert_eq!(binds[0].name, "c");
    assert_eq!(
        expect.as_ref().unwrap().alternatives,
        [Outcome::Value {
            value: lit(4),
            data: None,
            addr: Some(AddrMatch::Inet(Box::new(AddrPattern {
                ip: IpSpec::V4([lit(10), lit(0), lit(0), lit(2)]),
                port: PortPattern::Any
            }))),
            detail: None,
        }]
    );
    let (_, _, expect) = call_of(&body[2]);
    assert!(matches!(&expect.as_ref().unwrap().alternatives[..], [Outcome::Error(e)] if e.name == "ECONNREFUSED"));
    assert_eq!(body[3].kind, StmtKind::Sleep(1_500_000_000));
    assert_eq!(body[4].kind, StmtKind::Ss);
    assert_eq!(body[5].kind, StmtKind::Note("done # not a comment".into()));
    assert_eq!(text(FEATURES, body[5].span), "note \"done # not a comment\"");
    let (_, call, expect) = call_of(&body[6]);
    assert!(matches!(&call.args[1].kind, ArgKind::Num(Num::Var(v)) if v.name == "n"));
    assert!(matches!(
        &expect.as_ref().unwrap().alternatives[..],
        [Outcome::Value { value: Num::Var(_), .. }]
    ));
    let (_, call, _) = call_of(&body[7]);
    assert_eq!(call.args[0].kind, ArgKind::Num(lit(3)));
    let (_, call, expect) = call_of(&body[8]);
    assert!(call.args.is_empty());
    assert!(matches!(&expect.as_ref().unwrap().alternatives[..], [Outcome::Value { data: Some(d), .. }] if d == "x"));
}

#[test]
fn parses_unix_addresses_modes_and_control_data() {
    let source = r#"host h {
    user alice 1000 100
}
process h/p as alice at 2ms {
    bind(s, "/run/app.sock") = 0
    bind(s, @"app\0x") = 0
    bind(s, AF_UNIX) = 0
    chmod("/run/app.sock", 0755) = 0
    getsockname(s) = "/run/app.sock" | @"app" | @* | unnamed
    c = accept(s) = 4 (unnamed) | 4 ("/tmp/c") | 4 (@*)
    sendmsg(s, "x", @"peer", SCM_RIGHTS, c, 7, SCM_CREDENTIALS) = 1
    getsockopt(s, SOL_SOCKET, SO_PEERCRED) = 0 [pid = 2 uid=1000  gid=100]
}
"#;
    let s = parse(source).unwrap();
    let user = &s.hosts[0].users[0];
    assert_eq!((user.name.name.as_str(), user.uid, user.gid), ("alice", 1000, 100));
    let p = &s.processes[0];
    assert_eq!(p.user.as_ref().unwrap().name, "alice");
    assert_eq!(p.start_ns, 2_000_000);
    let (_, call, _) = call_of(&p.body[0]);
    assert_eq!(call.args[1].kind, ArgKind::Str("/run/app.sock".into()));
    let (_, call, _) = call_of(&p.body[1]);
    assert_eq!(call.args[1].kind, ArgKind::Abstract("app\0x".into()));
    assert_eq!(text(source, call.args[1].span), "@\"app\\0x\"");
    let (_, call, _) = call_of(&p.body[2]);
    assert_eq!(call.args[1].kind, name("AF_UNIX"));
    let (_, call, _) = call_of(&p.body[3]);
    assert_eq!(call.args[1].kind, ArgKind::Num(lit(0o755)));
    let (_, _, expect) = call_of(&p.body[4]);
    assert_eq!(
        expect.as_ref().unwrap().alternatives,
        [
            Outcome::Addr(AddrMatch::Unix(UnixPattern::Path("/run/app.sock".into()))),
            Outcome::Addr(AddrMatch::Unix(UnixPattern::Abstract("app".into()))),
            Outcome::Addr(AddrMatch::Unix(UnixPattern::AnyAbstract)),
            Outcome::Addr(AddrMatch::Unix(UnixPattern::Unnamed)),
        ]
    );
    let (_, _, expect) = call_of(&p.body[5]);
    let addrs: Vec<_> = expect
        .as_ref()
        .unwrap()
        .alternatives
        .iter()
        .map(|o| match o {
            Outcome::Value {
                addr: Some(AddrMatch::Unix(u)),
                ..
            } => u.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        addrs,
        [
            UnixPattern::Unnamed,
            UnixPattern::Path("/tmp/c".into()),
            UnixPattern::AnyAbstract
        ]
    );
    let (_, call, _) = call_of(&p.body[6]);
    assert_eq!(call.args.len(), 7);
    let (_, _, expect) = call_of(&p.body[7]);
    let Outcome::Value { detail, .. } = &expect.as_ref().unwrap().alternatives[0] else {
        panic!()
    };
    assert_eq!(detail.as_deref(), Some("pid=2 uid=1000 gid=100"));
    assert!(
        parse("process h/p {\n    chmod(\"/x\", 0789)\n}\n").is_err(),
        "8 and 9 are not octal"
    );
}

#[test]
fn blank_comment_and_crlf_files() {
    assert_eq!(parse(""), Ok(Scenario::default()));
    assert_eq!(parse("\n\n   \t\n# only a comment\n"), Ok(Scenario::default()));
    let crlf = EXAMPLE.replace('\n', "\r\n");
    let s = parse(&crlf).unwrap();
    assert_eq!(s, parse(EXAMPLE).map(|_| s.clone()).unwrap());
    assert_eq!(s.processes[0].body.len(), 5);
    assert_eq!(
        text(&crlf, s.processes[0].body[0].span),
        "l = socket(AF_INET, SOCK_STREAM)"
    );
}

/// Malformed inputs: where the error points and what it says.
#[test]
fn errors_point_at_the_text() {
    let p = "process a/b {\n";
    let cases: &[(String, &str, &str)] = &[
        (
            "host server 10.0.0.1 at lan".into(),
            "t.scn:1:22",
            "expected `on`, found `at`",
        ),
        ("until 10".into(), "t.scn:1:7", "missing time unit after `10`"),
        ("until 10m".into(), "t.scn:1:9", "did you mean `ms`?"),
        ("seed x".into(), "t.scn:1:6", "expected a seed number, found `x`"),
        ("seed -3".into(), "t.scn:1:6", "expected a seed number, found `-3`"),
        (
            "network lan 10.0.0.0".into(),
            "t.scn:1:21",
            "expected `/` and a prefix length, as in `10.0.0.0/24`, found end of line",
        ),
        (
            "network lan 10.0.0.0/33".into(),
            "t.scn:1:22",
            "prefix length 33 is out of range",
        ),
        (
            "network lan 10.0.0.256/24".into(),
            "t.scn:1:20",
            "octet 256 is out of range",
        ),
        (
            "network lan 10.0.0.0/24 loss=0.5".into(),
            "t.scn:1:30",
            "missing `%` after `0.5`",
        ),
        (
            "network lan 10.0.0.0/24 loss=101%".into(),
            "t.scn:1:30",
            "101% is above 100%",
        ),
        (
            "network lan 10.0.0.0/24 loss=0.00001%".into(),
            "t.scn:1:30",
            "`0.00001%` is finer than 0.0001%",
        ),
        (
            "network lan 10.0.0.0/24 duplicate=lots".into(),
            "t.scn:1:35",
            "expected a percentage like `0.5%`, found `lots`",
        ),
        (
            "network lan 10.0.0.0/24 jitter=2".into(),
            "t.scn:1:32",
            "missing time unit after `2`",
        ),
        (
            "network lan 10.0.0.0/24 reorder 1%".into(),
            "t.scn:1:33",
            "expected `=` after `reorder`, as in `reorder=1%`",
        ),
        (
            "network lan 10.0.0.0/24 los=1%".into(),
            "t.scn:1:25",
            "did you mean `loss`?",
        ),
        (
            "network lan 10.0.0.0/24 loss=1% loss=2%".into(),
            "t.scn:1:33",
            "`loss` is given twice",
        ),
        ("at 5 partition lan".into(), "t.scn:1:4", "missing time unit after `5`"),
        (
            "at 5s partiton lan".into(),
            "t.scn:1:7",
            "expected `partition` or `heal`, found `partiton`",
        ),
        ("at 5s heal".into(), "t.scn:1:11", "expected a network name"),
        (
            "process a/b {\n  partition\n}".into(),
            "t.scn:2:12",
            "expected a network name, as in `partition lan`",
        ),
        (
            "network lan 10.0.0.0/24 latncy=1ms".into(),
            "t.scn:1:25",
            "did you mean `latency`?",
        ),
        (
            "network lan 10.0.0.0/24 latency=1ms latency=2ms".into(),
            "t.scn:1:37",
            "`latency` is given twice",
        ),
        (
            "network 9lan 10.0.0.0/24".into(),
            "t.scn:1:9",
            "expected a name, found `9lan`",
        ),
        (
            format!("{p}  close(s\n}}"),
            "t.scn:2:10",
            "expected `,` or `)`, found end of line",
        ),
        (
            format!("{p}  close(s,)\n}}"),
            "t.scn:2:11",
            "expected an argument, found `)`",
        ),
        (
            format!("{p}  ss\n"),
            "t.scn:1:13",
            "unclosed block: this `{` has no matching `}`",
        ),
        ("}".into(), "t.scn:1:1", "unexpected `}`"),
        (
            format!("{p}}} x"),
            "t.scn:2:3",
            "expected end of line after `}`, found `x`",
        ),
        (format!("{p}  note \"abc\n}}"), "t.scn:2:8", "unterminated string"),
        (format!("{p}  note \"abc\\"), "t.scn:2:8", "unterminated string"),
        (
            format!("{p}  note \"a\\qb\"\n}}"),
            "t.scn:2:10",
            "unknown escape `\\q` in string",
        ),
        (
            format!("{p}  note \"\\x4\"\n}}"),
            "t.scn:2:9",
            "expected two hex digits after `\\x`",
        ),
        (
            format!("{p}  send(s, \"x\\x80\")\n}}"),
            "t.scn:2:13",
            "`\\x80` is not an ASCII character",
        ),
        (
            format!("{p}  note hello\n}}"),
            "t.scn:2:8",
            "expected the note's text in quotes, found `hello`",
        ),
        (
            format!("{p}  sleep 10\n}}"),
            "t.scn:2:9",
            "missing time unit after `10`",
        ),
        (
            format!("{p}  sleep\n}}"),
            "t.scn:2:8",
            "expected a duration like `10ms`, found end of line",
        ),
        (
            format!("{p}  recv(c, 10) = -1\n}}"),
            "t.scn:2:19",
            "expected an errno name after `-1`, found end of line",
        ),
        (
            format!("{p}  recv(c, 10) = -2 EAGAIN\n}}"),
            "t.scn:2:17",
            "a failing call returns -1, found `-2`",
        ),
        (
            format!("{p}  recv(c, 10) = EAGAIN\n}}"),
            "t.scn:2:17",
            "write a failure the way strace prints it: `-1 EAGAIN`",
        ),
        (
            format!("{p}  recv(c, 10) = \n}}"),
            "t.scn:2:16",
            "expected a result like `0`, `-1 EAGAIN` or `10.0.0.1:*`, found end of line",
        ),
        (
            format!("{p}  close(s) = 0 0\n}}"),
            "t.scn:2:16",
            "expected `|` or end of line, found `0`",
        ),
        (
            format!("{p}  close(s) 0\n}}"),
            "t.scn:2:12",
            "expected `=` or end of line, found `0`",
        ),
        (
            format!("{p}  x = accept(l) = 4 (10.0.0.1:80\n}}"),
            "t.scn:2:33",
            "expected `)`, found end of line",
        ),
        (
            format!("{p}  connect(s, 10.0.0.1)\n}}"),
            "t.scn:2:14",
            "found `10.0.0.1` without a port",
        ),
        (
            format!("{p}  connect(s, 10.0.0.1:70000)\n}}"),
            "t.scn:2:23",
            "port 70000 is out of range",
        ),
        (
            format!("{p}  connect(s, 10.0.0:80)\n}}"),
            "t.scn:2:14",
            "expected a socket address like `10.0.0.1:80`, found `10.0.0:80`",
        ),
        (
            format!("{p}  getsockname(s) = 10.0.0.1:9..1\n}}"),
            "t.scn:2:29",
            "empty port range: 9 is greater than 1",
        ),
        (
            format!("{p}  send(s, 1.5)\n}}"),
            "t.scn:2:11",
            "expected a number, found `1.5`",
        ),
        (
            format!("{p}  send(s, 10ms)\n}}"),
            "t.scn:2:13",
            "unknown size unit `ms`",
        ),
        (
            format!("{p}  send(s, *)\n}}"),
            "t.scn:2:11",
            "expected an argument, found `*`",
        ),
        (
            format!("{p}  socket(AF_INET, SOCK_STREAM | 3)\n}}"),
            "t.scn:2:33",
            "expected a constant after `|`, found `3`",
        ),
        (format!("{p}  repet 3 {{\n}}"), "t.scn:2:3", "did you mean `repeat`?"),
        (
            format!("{p}  close(s) = -1 123\n}}"),
            "t.scn:2:17",
            "expected an errno name like `EAGAIN`, found `123`",
        ),
        (
            format!("{p}  ss\nprocess a/c {{\n}}"),
            "t.scn:3:1",
            "`process` is a top-level declaration: is a `}` missing above?",
        ),
        (
            format!("{p}  close s\n}}"),
            "t.scn:2:3",
            "a call needs its arguments in parentheses: `close(...)`",
        ),
        (
            format!("{p}  repeat {{\n}}"),
            "t.scn:2:10",
            "expected a repeat count, found `{`",
        ),
        (
            format!("{p}  repeat 3\n}}"),
            "t.scn:2:11",
            "expected `{`, found end of line",
        ),
        (
            format!("{p}  repeat 3 {{ ss\n}}"),
            "t.scn:2:14",
            "expected end of line after `{`, found `ss`",
        ),
        (
            format!("{p}  for i in 1 .. 3 {{\n}}"),
            "t.scn:2:12",
            "expected a range like `1..10`, found `1`",
        ),
        (
            format!("{p}  for i from 1..3 {{\n}}"),
            "t.scn:2:9",
            "expected `in`, found `from`",
        ),
        (
            format!("{p}  fork w$ {{\n}}"),
            "t.scn:2:8",
            "expected a process name like `worker` or `w$i`, found `w$`",
        ),
        (
            format!("{p}  s = 3\n}}"),
            "t.scn:2:7",
            "expected a call like `socket(AF_INET, SOCK_STREAM)`, found `3`",
        ),
        (
            format!("{p}  a, = socketpair(AF_UNIX, SOCK_STREAM)\n}}"),
            "t.scn:2:6",
            "expected a name to bind, found `=`",
        ),
        (
            format!("{p}  ss now\n}}"),
            "t.scn:2:6",
            "expected end of line after `ss`, found `now`",
        ),
        (format!("{p}  ss é\n}}"), "t.scn:2:6", "unexpected character 'é'"),
        (
            format!("{p}  bind(s, [::1])\n}}"),
            "t.scn:2:11",
            "write an IPv6 socket address with its port",
        ),
        (
            format!("{p}  \"x\"\n}}"),
            "t.scn:2:3",
            "expected a statement, found a string",
        ),
        (
            "socket(AF_INET, SOCK_STREAM)".into(),
            "t.scn:1:1",
            "`socket` must be inside a `process` block",
        ),
        (
            "repeat 3 {".into(),
            "t.scn:1:1",
            "`repeat` must be inside a `process` block",
        ),
        (
            "addr 10.0.0.1 on lan".into(),
            "t.scn:1:1",
            "`addr` must be inside a `host NAME {` block",
        ),
        ("hots a 10.0.0.1 on lan".into(), "t.scn:1:1", "did you mean `host`?"),
        ("(".into(), "t.scn:1:1", "expected a declaration, found `(`"),
        (
            "process a/b at 1ms as alice at 2ms {".into(),
            "t.scn:1:29",
            "expected `{`, found `at`",
        ),
        ("process a/b as 7 {".into(), "t.scn:1:16", "expected a name, found `7`"),
        (
            "host h {\n  user alice\n}".into(),
            "t.scn:2:13",
            "expected a user id, as in `user alice 1000`, found end of line",
        ),
        (
            "host h {\n  user alice 4294967295\n}".into(),
            "t.scn:2:14",
            "id 4294967295 is out of range",
        ),
        (
            "process a b {".into(),
            "t.scn:1:11",
            "expected `/` between the host and the process name",
        ),
        (
            "process a/b at {".into(),
            "t.scn:1:16",
            "expected a start time like `1ms`, found `{`",
        ),
        (
            "host h {\n  rout default via 10.0.0.254\n}".into(),
            "t.scn:2:3",
            "did you mean `route`?",
        ),
        (
            "host h {\n  route default 10.0.0.254\n}".into(),
            "t.scn:2:17",
            "expected `via`, found `10.0.0.254`",
        ),
        (
            "host h {\n  route 10.1.0.0/16 via fd00::1\n}".into(),
            "t.scn:2:25",
            "gateway fd00::1 is not of the same IP version as 10.1.0.0",
        ),
        (
            "host h {\n  forward\n  forward\n}".into(),
            "t.scn:3:3",
            "`forward` is given twice",
        ),
        (
            "host h {\n  nat masqurade out wan\n}".into(),
            "t.scn:2:7",
            "did you mean `masquerade`?",
        ),
        (
            "host h {\n  nat masquerade\n}".into(),
            "t.scn:2:3",
            "`nat masquerade` needs `out NET`",
        ),
        (
            "host h {\n  nat snat out wan to 203.0.113.1:20001..20000\n}".into(),
            "t.scn:2:23",
            "empty port range: 20001 is greater than 20000",
        ),
        (
            "host h {\n  nat masquerade out wan random-fuly\n}".into(),
            "t.scn:2:26",
            "did you mean `random-fully`?",
        ),
        (
            "host h {\n  nat dnat tcp dport 8080 to 10.0.0.2:80..81\n}".into(),
            "t.scn:2:30",
            "`nat dnat` translates to one port, not a range",
        ),
        (
            "host h {\n  nat dnat tcp to 10.0.0.2:80\n}".into(),
            "t.scn:2:3",
            "`nat dnat` needs `dport PORT`",
        ),
        (
            "host h {\n  adr 10.0.0.1 on lan\n}".into(),
            "t.scn:2:3",
            "did you mean `addr`?",
        ),
        ("host h {\n  addr 10.0.0.1 on lan".into(), "t.scn:1:8", "unclosed block"),
        (
            "host h {\n  sysctl net.core.somaxconn 5\n}".into(),
            "t.scn:2:29",
            "expected `=` after the sysctl name, found `5`",
        ),
        (
            "host h {\n  sysctl net.core.somaxconn =\n}".into(),
            "t.scn:2:30",
            "expected a value, found end of line",
        ),
        (
            "host h {\n  sysctl net.core.somaxconn = x\n}".into(),
            "t.scn:2:31",
            "expected an integer value, found `x`",
        ),
        (
            "host h {\n  sysctl net..x = 1\n}".into(),
            "t.scn:2:10",
            "expected a sysctl name like `net.core.somaxconn`",
        ),
        (
            "host h".into(),
            "t.scn:1:7",
            "expected an address (`host NAME 10.0.0.1 on NET`) or `{`, found end of line",
        ),
        ("seed 1\nseed 2".into(), "t.scn:2:1", "`seed` is given twice"),
        ("scenario title".into(), "t.scn:1:10", "expected a title in quotes"),
        ("\tseed x".into(), "t.scn:1:7", "expected a seed number"),
        (
            "seed 1\r\nseed x\r\n".into(),
            "t.scn:2:6",
            "expected a seed number, found `x`",
        ),
        ("note \"é\" é".into(), "t.scn:1:10", "unexpected character 'é'"),
        (
            "seed 99999999999999999999".into(),
            "t.scn:1:6",
            "number `99999999999999999999` is out of range",
        ),
    ];
    let mut failures = Vec::new();
    for (source, location, message) in cases {
        let diagnostic = match parse(source) {
            Ok(s) => panic!("{source:?} parsed: {s:?}"),
            Err(d) => d,
        };
        let rendered = diagnostic.render("t.scn", source, false);
        if !rendered.contains(&format!("--> {location}\n")) || !rendered.contains(message) {
            failures.push(format!("{source:?}: wanted {location} {message:?}, got\n{rendered}"));
        }
        assert!(rendered.starts_with("error: "), "{rendered}");
        // Colored output renders too.
        assert!(!diagnostic.render("t.scn", source, true).is_empty());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_rendered_error_reads_like_rustc() {
    let source = "network lan 10.0.0.0/24\nhost server 10.0.0.1 at lan\n";
    let rendered = parse(source).unwrap_err().render("web.scn", source, false);
    let expected = "\
error: expected `on`, found `at`
 --> web.scn:2:22
  |
2 | host server 10.0.0.1 at lan
  |                      ^^ expected `on`
";
    assert_eq!(rendered, expected.trim_end());
}

#[test]
fn nesting_is_limited() {
    let mut source = String::from("process a/b {\n");
    for _ in 0..MAX_NESTING + 5 {
        source.push_str("repeat 1 {\n");
    }
    let d = parse(&source).unwrap_err();
    assert!(d.message.contains("nested too deeply"), "{d:?}");

    let mut ok = String::from("process a/b {\n");
    for _ in 0..MAX_NESTING - 1 {
        ok.push_str("repeat 1 {\n");
    }
    for _ in 0..MAX_NESTING {
        ok.push_str("}\n");
    }
    assert!(parse(&ok).is_ok());
}

/// Parses `source`; checks and renders whatever comes out. Must not panic.
fn exercise(source: &str) {
    match parse(source) {
        Ok(scenario) => {
            for d in crate::check::check(&scenario) {
                let _ = d.render("fuzz.scn", source, false);
            }
        }
        Err(d) => {
            assert!(!d.render("fuzz.scn", source, false).is_empty());
        }
    }
}

#[test]
fn every_prefix_parses_or_fails_cleanly() {
    for source in [EXAMPLE, FEATURES] {
        for end in (0..=source.len()).filter(|&i| source.is_char_boundary(i)) {
            exercise(&source[..end]);
        }
    }
}

#[test]
fn random_mutations_never_panic() {
    // xorshift64*: deterministic, no dependency.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let interesting: &[u8] = b"\"{}()$:.\n\r\t\\#=|-/*0195 aZ_,@[\xC3\xA9\xFF\x00";
    let sources = [EXAMPLE.as_bytes(), FEATURES.as_bytes()];
    for round in 0..3000 {
        let mut bytes = sources[round % 2].to_vec();
        for _ in 0..1 + next() % 4 {
            let at = (next() % (bytes.len() as u64 + 1)) as usize;
            let byte = interesting[(next() % interesting.len() as u64) as usize];
            match next() % 3 {
                0 if at < bytes.len() => bytes[at] = byte,
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, byte),
            }
        }
        exercise(&String::from_utf8_lossy(&bytes));
    }
}

/// Routes, forwarding and NAT rules in a host block.
#[test]
fn parses_routes_forwarding_and_nat() {
    let src = "host router {\n    addr 192.168.1.1 on home\n    route default via 203.0.113.254\n    route 10.1.0.0/16 via 192.168.1.2\n    forward\n    nat masquerade out wan from 192.168.1.0/24 random-fully\n    nat snat out wan to 203.0.113.1:20000..20001 random\n    nat dnat in wan tcp dport 8080 to 192.168.1.10:80\n    nat dnat udp dport 53 to 192.168.1.53\n}\n";
    let s = parse(src).unwrap_or_else(|d| panic!("{}", d.render("t.scn", src, false)));
    let h = &s.hosts[0];
    assert_eq!(h.routes.len(), 2);
    assert_eq!(h.routes[0].dest, None);
    assert_eq!(h.routes[0].via, std::net::Ipv4Addr::new(203, 0, 113, 254));
    assert_eq!(h.routes[1].dest, Some(("10.1.0.0".parse().unwrap(), 16)));
    assert_eq!(text(src, h.routes[1].span), "route 10.1.0.0/16 via 192.168.1.2");
    assert!(h.forward.is_some());
    let [masq, snat, dnat, dns] = h.nats.as_slice() else {
        panic!("{:?}", h.nats)
    };
    assert_eq!(masq.action, NatAction::Masquerade);
    assert_eq!(masq.out.as_ref().map(|n| n.name.as_str()), Some("wan"));
    assert_eq!(masq.from, Some(("192.168.1.0".parse().unwrap(), 24)));
    assert!(masq.random_fully && !masq.random);
    assert_eq!(
        snat.action,
        NatAction::Snat {
            to: "203.0.113.1".parse().unwrap(),
            ports: Some((20000, 20001))
        }
    );
    assert!(snat.random);
    assert_eq!(
        dnat.action,
        NatAction::Dnat {
            proto: Some("tcp".into()),
            dport: 8080,
            to: "192.168.1.10".parse().unwrap(),
            to_port: Some(80)
        }
    );
    assert_eq!(dnat.input.as_ref().map(|n| n.name.as_str()), Some("wan"));
    assert_eq!(
        dns.action,
        NatAction::Dnat {
            proto: Some("udp".into()),
            dport: 53,
            to: "192.168.1.53".parse().unwrap(),
            to_port: None
        }
    );
}

#[test]
fn network_faults_and_timed_partitions() {
    let source = "network wan 203.0.113.0/24 latency=10ms jitter=2ms loss=0.5% duplicate=0.1% reorder=1%\n\
                  network lan 10.0.0.0/24 loss=100% reorder=0%\n\
                  at 5s partition wan\n\
                  at 7.5s heal wan\n\
                  process a/b {\n  partition lan\n  heal lan\n}\n";
    let s = parse(source).unwrap_or_else(|d| panic!("{}", d.render("t.scn", source, false)));
    let wan = &s.networks[0];
    assert_eq!(wan.latency_ns, Some(10_000_000));
    assert_eq!(wan.jitter_ns, Some(2_000_000));
    assert_eq!(
        (wan.loss_ppm, wan.duplicate_ppm, wan.reorder_ppm),
        (Some(5_000), Some(1_000), Some(10_000))
    );
    let lan = &s.networks[1];
    assert_eq!(
        (lan.loss_ppm, lan.reorder_ppm, lan.jitter_ns),
        (Some(1_000_000), Some(0), None)
    );
    let events: Vec<_> = s
        .link_events
        .iter()
        .map(|e| (e.at_ns, e.network.name.as_str(), e.partitioned))
        .collect();
    assert_eq!(events, [(5_000_000_000, "wan", true), (7_500_000_000, "wan", false)]);
    assert_eq!(text(source, s.link_events[1].span), "at 7.5s heal wan");
    let body = &s.processes[0].body;
    assert!(matches!(&body[0].kind, StmtKind::Partition { network, partitioned: true } if network.name == "lan"));
    assert!(matches!(&body[1].kind, StmtKind::Partition { partitioned: false, .. }));
}
