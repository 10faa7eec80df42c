//! Packet captures (`socksim run FILE --pcap out.pcapng`): the exact bytes of a tiny capture,
//! determinism, what the capture holds, and, where tshark is installed, what Wireshark's
//! dissectors make of it (set SOCKSIM_REQUIRE_TSHARK=1 to fail instead of skipping without it,
//! as CI does).

mod support;

use sim_core::{Instant, Record};
use sim_kernel::packet::{Flags, PacketSummary, SegmentSummary};
use sim_kernel::trace::Event;
use socksim::pcap::pcapng::{self, EPB, IDB, Opt, SHB};
use socksim::pcap::{Interface, Payloads};
use socksim::run::{RunOptions, TraceEvent};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{example, socksim};

/// A scenario with a bit of everything: TCP over IPv4 and IPv6 with data both ways, a refused
/// connection (RST), UDP delivered and refused (ICMP and ICMPv6 port unreachable), loopback
/// traffic, a datagram to an address nobody has, and a network nobody uses.
const EVERYTHING: &str = r#"
scenario "everything a capture shows"
seed 3

network lan 10.0.0.0/24 latency=100us
network v6 fd00::/64 latency=200us
network empty 192.168.9.0/24

host server {
    addr 10.0.0.1 on lan
    addr fd00::1 on v6
}
host client {
    addr 10.0.0.2 on lan
    addr fd00::2 on v6
}

process server/tcp {
    l = socket(AF_INET, SOCK_STREAM)
    bind(l, 0.0.0.0:80) = 0
    listen(l, 8) = 0
    c = accept(l)
    recv(c, 100) = 5 "hello"
    send(c, "world!") = 6
    close(c) = 0
    close(l) = 0
}

process server/tcp6 {
    l = socket(AF_INET6, SOCK_STREAM)
    bind(l, [::]:8080) = 0
    listen(l, 8) = 0
    c = accept(l)
    recv(c, 100) = 3 "six"
    close(c) = 0
}

process server/udp {
    u = socket(AF_INET, SOCK_DGRAM)
    bind(u, 0.0.0.0:5000) = 0
    recvfrom(u, 100) = 5 "query"
}

process server/local {
    a = socket(AF_INET, SOCK_DGRAM)
    bind(a, 127.0.0.1:7000) = 0
    b = socket(AF_INET, SOCK_DGRAM)
    sendto(b, "loop", 127.0.0.1:7000) = 4
    recv(a, 10) = 4 "loop"
}

process client/web at 1ms {
    s = socket(AF_INET, SOCK_STREAM)
    connect(s, 10.0.0.1:80) = 0
    send(s, "hello") = 5
    recv(s, 100) = 6 "world!"
    close(s) = 0
    r = socket(AF_INET, SOCK_STREAM)
    connect(r, 10.0.0.1:81) = -1 ECONNREFUSED
}

process client/web6 at 1ms {
    s = socket(AF_INET6, SOCK_STREAM)
    connect(s, [fd00::1]:8080) = 0
    send(s, "six") = 3
    close(s) = 0
}

process client/udp at 2ms {
    u = socket(AF_INET, SOCK_DGRAM)
    sendto(u, "query", 10.0.0.1:5000) = 5
    sendto(u, "nobody", 10.0.0.1:5001) = 6
    v = socket(AF_INET6, SOCK_DGRAM)
    sendto(v, "nobody6", [fd00::1]:5001) = 7
    w = socket(AF_INET, SOCK_DGRAM)
    sendto(w, "void", 10.0.0.99:9) = 4
}
"#;

/// A fresh scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    support::scratch("pcap", test)
}

/// Runs `socksim run FILE --pcap OUT` (plus `extra`) and returns the capture and the trace.
fn capture(file: &str, out: &Path, extra: &[&str]) -> (Vec<u8>, String) {
    let mut args = vec!["run", file, "--pcap", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = socksim(&args);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    (std::fs::read(out).unwrap(), String::from_utf8(o.stdout).unwrap())
}

fn everything_file(dir: &Path) -> String {
    let file = dir.join("everything.scn");
    std::fs::write(&file, EVERYTHING).unwrap();
    file.to_str().unwrap().to_string()
}

/// Bytes written in hex, a line at a time, each line's comment after three spaces.
fn hex(s: &str) -> Vec<u8> {
    let digits: String = s
        .lines()
        .flat_map(|l| l.trim().split("   ").next().unwrap().split_whitespace())
        .collect();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn one_syn_byte_for_byte() {
    let syn = SegmentSummary {
        src: "10.0.0.2:40000".parse().unwrap(),
        dst: "10.0.0.1:80".parse().unwrap(),
        flags: Flags::SYN,
        seq: 1000,
        ack: 0,
        window: 65535,
        len: 0,
    };
    let records = vec![Record {
        at: Instant(1_000_000),
        event: TraceEvent::Kernel(Event::Packet {
            network: "lan".into(),
            packet: PacketSummary::Tcp(syn),
        }),
    }];
    let lan = Interface {
        name: "lan".into(),
        description: "10.0.0.0/24".into(),
    };
    let file = socksim::pcap::write(&[lan], &records, Payloads::default(), "seed 1");
    // Built separately from the pcapng specification (and checksums by another program).
    let expected = hex("
        0a0d0d0a 38000000 4d3c2b1a 0100 0000 ffffffffffffffff   SHB, 56 bytes, byte order, v1.0, no length
        0400 0700 736f636b73696d00                              shb_userappl socksim
        0100 0600 7365656420310000                              opt_comment seed 1
        00000000 38000000                                       end of options, 56
        01000000 38000000 6500 0000 00000400                    IDB, 56 bytes, LINKTYPE_RAW, snaplen 262144
        0200 0300 6c616e00                                      if_name lan
        0300 0b00 31302e302e302e302f323400                      if_description 10.0.0.0/24
        0900 0100 09000000                                      if_tsresol 9
        00000000 38000000                                       end of options, 56
        06000000 48000000 00000000 00000000 40420f00            EPB, 72 bytes, interface 0, 1000000 ns
        28000000 28000000                                       40 bytes captured, 40 long
        45000028 00004000 400626ce 0a000002 0a000001            IPv4: 40 bytes, DF, TTL 64, TCP
        9c400050 000003e8 00000000 5002ffff fb670000            TCP: 40000 > 80, seq 1000, SYN, win 65535
        48000000                                                72
    ");
    assert_eq!(file, expected);
}

#[test]
fn same_seed_same_bytes() {
    let dir = scratch("determinism");
    let everything = everything_file(&dir);
    for (file, seed) in [(example("many-clients-one-port.scn"), "7"), (everything, "3")] {
        let (a, _) = capture(&file, &dir.join("a.pcapng"), &["--seed", seed]);
        let (b, _) = capture(&file, &dir.join("b.pcapng"), &["--seed", seed]);
        assert!(a.len() > 100);
        assert_eq!(a, b, "{file}: two runs, two different captures");
    }
    let file = example("many-clients-one-port.scn");
    let (a, _) = capture(&file, &dir.join("a.pcapng"), &["--seed", "1"]);
    let (b, _) = capture(&file, &dir.join("b.pcapng"), &["--seed", "2"]);
    assert_ne!(a, b, "another seed, other ports and sequence numbers");
}

#[test]
fn the_trace_does_not_change_with_a_capture() {
    let dir = scratch("trace");
    let file = everything_file(&dir);
    for format in ["text", "json"] {
        let (_, with) = capture(&file, &dir.join("c.pcapng"), &["--format", format]);
        let without = socksim(&["run", &file, "--format", format]);
        assert_eq!(with, String::from_utf8(without.stdout).unwrap(), "{format}");
    }
}

#[test]
fn an_unwritable_capture_is_bad_input() {
    let o = socksim(&[
        "run",
        &example("many-clients-one-port.scn"),
        "--pcap",
        "/nonexistent-dir/x.pcapng",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot write /nonexistent-dir/x.pcapng"));
}

/// The interfaces' names, and per packet (interface, timestamp, data, comments).
type Parsed = (Vec<String>, Vec<(u32, u64, Vec<u8>, Vec<String>)>);

fn parse(file: &[u8]) -> Parsed {
    let blocks = pcapng::blocks(file).unwrap();
    assert_eq!(blocks[0].kind, SHB);
    let mut names = Vec::new();
    let mut packets = Vec::new();
    for b in &blocks[1..] {
        let word = |at: usize| u32::from_le_bytes(b.body[at..at + 4].try_into().unwrap());
        match b.kind {
            IDB => {
                let opts = pcapng::options(&b.body[8..]).unwrap();
                assert!(opts.contains(&Opt::if_tsresol_decimal(9)));
                let name = opts.iter().find(|o| o.code == pcapng::IF_NAME).unwrap();
                names.push(String::from_utf8(name.value.clone()).unwrap());
            }
            EPB => {
                let len = word(12) as usize;
                assert_eq!(word(16) as usize, len, "captured whole");
                let data = b.body[20..20 + len].to_vec();
                let opts = pcapng::options(&b.body[20 + len.next_multiple_of(4)..]).unwrap();
                let comments = opts
                    .iter()
                    .map(|o| String::from_utf8(o.value.clone()).unwrap())
                    .collect();
                packets.push((word(0), u64::from(word(4)) << 32 | u64::from(word(8)), data, comments));
            }
            other => panic!("unexpected block type {other:#x}"),
        }
    }
    (names, packets)
}

#[test]
fn every_packet_of_the_trace_is_in_the_capture_with_its_payload() {
    let (report, file) = socksim::pcap::run_and_capture(EVERYTHING, &RunOptions::default()).expect("a valid scenario");
    assert!(report.failures.is_empty());
    let (names, packets) = parse(&file);
    assert_eq!(names, ["lan", "v6", "empty", "lo"]);
    // One frame per packet line of the trace that names a network.
    let on_wire: Vec<(&str, u64)> = report
        .records
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::Kernel(Event::Packet { network, .. }) => Some((network.as_str(), r.at.0)),
            TraceEvent::Kernel(Event::Drop { network, .. }) if names.contains(network) => {
                Some((network.as_str(), r.at.0))
            }
            _ => None,
        })
        .collect();
    let frames: Vec<(&str, u64)> = packets.iter().map(|p| (names[p.0 as usize].as_str(), p.1)).collect();
    assert_eq!(frames, on_wire);
    let with = |needle: &[u8]| {
        packets
            .iter()
            .filter(|p| p.2.windows(needle.len()).any(|w| w == needle))
            .count()
    };
    // The payloads are the real bytes: the TCP data once each, the refused datagrams also
    // quoted in their ICMP errors.
    for (bytes, n) in [
        (&b"hello"[..], 1),
        (b"world!", 1),
        (b"six", 1),
        (b"query", 1),
        (b"loop", 1),
    ] {
        assert_eq!(with(bytes), n, "{}", String::from_utf8_lossy(bytes));
    }
    assert_eq!(with(b"nobody6"), 2);
    assert_eq!(with(b"nobody"), 2 + 2);
    // The datagram to an address nobody has never reaches a wire: ARP gets no answer, and 3 s
    // later the sender drops it and tells itself with an ICMP host unreachable, on `lo`.
    assert_eq!(with(b"void"), 0);
    assert!(packets.iter().all(|p| p.3.is_empty()), "no dropped frames");
    let host_unreachable = packets
        .iter()
        .filter(|p| names[p.0 as usize] == "lo" && p.2.len() > 21 && p.2[9] == 1 && p.2[20] == 3 && p.2[21] == 1)
        .count();
    assert_eq!(host_unreachable, 1, "one ICMP host unreachable on lo");
}

#[test]
fn without_the_payloads_the_bytes_are_zeros() {
    let options = RunOptions {
        trace: true,
        ..Default::default()
    };
    let report = socksim::load_and_run(EVERYTHING, &options).unwrap();
    let scenario = socksim::load(EVERYTHING).unwrap();
    let file = socksim::pcap::write(
        &socksim::pcap::interfaces(&scenario),
        &report.records,
        Payloads::default(),
        "",
    );
    let (_, packets) = parse(&file);
    let (_, full) = parse(&socksim::pcap::run_and_capture(EVERYTHING, &options).unwrap().1);
    assert_eq!(packets.len(), full.len());
    assert!(packets.iter().all(|p| !p.2.windows(5).any(|w| w == b"hello")));
    assert!(packets.iter().zip(&full).all(|(a, b)| a.2.len() == b.2.len()));
}

#[test]
fn a_receivers_drop_is_a_comment_on_the_packet() {
    // The trace names the host that dropped a packet, and a host may be called like a network.
    // Three clients at once overflow the accept queue (the server ignores their handshake
    // ACKs: packets it rebuilds from its own state, which match no frame exactly); a fourth
    // overflows the listen queue (its SYNs are dropped as received).
    for server in ["server", "lan"] {
        let source = format!(
            "
            network lan 10.0.0.0/24 latency=100us
            host {server} 10.0.0.1 on lan
            host client 10.0.0.2 on lan
            process {server}/httpd {{
                l = socket(AF_INET, SOCK_STREAM)
                bind(l, 0.0.0.0:80) = 0
                listen(l, 0) = 0
                sleep 3s
            }}
            process client/a at 1ms {{
                s = socket(AF_INET, SOCK_STREAM)
                connect(s, 10.0.0.1:80)
            }}
            process client/b at 1ms {{
                s = socket(AF_INET, SOCK_STREAM)
                connect(s, 10.0.0.1:80)
            }}
            process client/c at 1ms {{
                s = socket(AF_INET, SOCK_STREAM)
                connect(s, 10.0.0.1:80)
            }}
            process client/d at 5ms {{
                s = socket(AF_INET, SOCK_STREAM)
                connect(s, 10.0.0.1:80)
            }}
            "
        );
        let (report, file) = socksim::pcap::run_and_capture(&source, &RunOptions::default()).unwrap();
        let count = |f: &dyn Fn(&Event) -> bool| {
            report
                .records
                .iter()
                .filter(|r| matches!(&r.event, TraceEvent::Kernel(e) if f(e)))
                .count()
        };
        let sent = count(&|e| matches!(e, Event::Packet { .. }));
        let overflows = count(&|e| matches!(e, Event::Drop { reason, .. } if reason == "listen queue overflow"));
        let drops = count(&|e| matches!(e, Event::Drop { .. }));
        assert!(
            overflows >= 2 && drops > overflows,
            "{}",
            socksim::render::text(&report)
        );
        let (names, packets) = parse(&file);
        assert_eq!(names, ["lan", "lo"]);
        assert_eq!(
            packets.len(),
            sent,
            "{server}: one frame per packet sent, none per drop"
        );
        // Both kinds of drop name the very packet that was discarded, so the capture marks it:
        // the SYN refused by a full listen queue, and the handshake ACK ignored for the same
        // reason.
        let ignored = count(&|e| matches!(e, Event::Drop { reason, .. } if reason.starts_with("accept queue full")));
        let commented: Vec<_> = packets.iter().filter(|p| !p.3.is_empty()).collect();
        assert_eq!(commented.len(), overflows + ignored, "{server}");
        for p in commented {
            match p.3[0].as_str() {
                "dropped: listen queue overflow" => assert_eq!(p.2[33], 0x02, "the SYN is the frame marked"),
                other => {
                    assert!(other.starts_with("dropped: accept queue full"), "{other}");
                    assert_ne!(
                        p.2[33] & 0x10,
                        0,
                        "a segment acknowledging the SYN-ACK is the frame marked"
                    );
                }
            }
        }
    }
}

/// tshark, if it is installed; otherwise a note (or a failure with SOCKSIM_REQUIRE_TSHARK=1).
fn tshark() -> Option<&'static str> {
    if Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some("tshark");
    }
    assert!(
        std::env::var_os("SOCKSIM_REQUIRE_TSHARK").is_none(),
        "SOCKSIM_REQUIRE_TSHARK is set but tshark does not run"
    );
    println!("note: tshark is not installed; skipping the check of the capture by Wireshark's dissectors");
    None
}

/// tshark's fields for every frame, checksums verified.
fn tshark_fields(tshark: &str, file: &Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new(tshark);
    cmd.arg("-r").arg(file).args([
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
        "-o",
        "tcp.relative_sequence_numbers:FALSE",
        "-T",
        "fields",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let o = cmd.output().expect("tshark runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "tshark failed: {stderr}");
    // tshark warns that it runs as root; any other complaint (a malformed file) is a failure.
    assert!(
        stderr.lines().all(|l| l.contains("Running as user")),
        "tshark: {stderr}"
    );
    let out = String::from_utf8(o.stdout).unwrap();
    println!("{}", out.trim_end());
    out.lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// Every value of a field that holds one or more checksum statuses is 1 ("Good").
fn good(status: &str) -> bool {
    !status.is_empty() && status.split(',').all(|s| s == "1")
}

#[test]
fn tshark_decodes_the_handshake_and_the_teardown() {
    let Some(tshark) = tshark() else { return };
    let dir = scratch("tshark-tcp");
    let out = dir.join("many.pcapng");
    let (_, trace) = capture(&example("many-clients-one-port.scn"), &out, &[]);
    let rows = tshark_fields(
        tshark,
        &out,
        &[
            "frame.number",
            "frame.interface_name",
            "ip.src",
            "ip.dst",
            "tcp.flags.str",
            "ip.checksum.status",
            "tcp.checksum.status",
            "frame.time_epoch",
        ],
    );
    assert_eq!(rows.len(), trace.lines().filter(|l| l.contains(" lan ")).count());
    let flags: Vec<&str> = rows.iter().map(|r| r[4].as_str()).collect();
    for (name, want) in [
        ("SYN", "··········S·"),
        ("SYN-ACK", "·······A··S·"),
        ("ACK", "·······A····"),
        ("FIN", "·······A···F"),
    ] {
        assert!(flags.contains(&want), "no {name} among {flags:?}");
    }
    assert_eq!(flags[..3], ["··········S·"; 3], "three clients open");
    for r in &rows {
        assert_eq!(r[1], "lan");
        assert!(good(&r[5]) && good(&r[6]), "checksums of frame {}: {r:?}", r[0]);
    }
    // Virtual time, exactly: the first SYN at 1 ms.
    assert_eq!(rows[0][7], "0.001000000");
}

/// The fields `tshark_decodes_data_resets_udp_and_icmp` reads.
const FIELDS: [&str; 16] = [
    "frame.number",
    "frame.interface_name",
    "ip.src",
    "ipv6.src",
    "tcp.flags.str",
    "tcp.payload",
    "udp.payload",
    "ip.checksum.status",
    "tcp.checksum.status",
    "udp.checksum.status",
    "icmp.checksum.status",
    "icmpv6.checksum.status",
    "icmp.type",
    "icmpv6.type",
    "frame.comment",
    "icmp.code",
];

#[test]
fn tshark_decodes_data_resets_udp_and_icmp() {
    let Some(tshark) = tshark() else { return };
    let dir = scratch("tshark-all");
    let out = dir.join("everything.pcapng");
    capture(&everything_file(&dir), &out, &[]);
    let rows = tshark_fields(tshark, &out, &FIELDS);
    let col = |name: &str| FIELDS.iter().position(|c| *c == name).unwrap();
    let any = |f: &dyn Fn(&Vec<String>) -> bool| rows.iter().any(f);
    // Each network is its own interface; `empty` carried nothing.
    let interfaces: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(interfaces.into_iter().collect::<Vec<_>>(), ["lan", "lo", "v6"]);
    // Data both ways, over IPv4 and IPv6 (hex of "hello", "world!", "six").
    for data in ["68656c6c6f", "776f726c6421", "736978"] {
        assert!(any(&|r| r[col("tcp.payload")] == data), "no TCP payload {data}");
    }
    assert!(any(
        &|r| r[col("ipv6.src")] == "fd00::2" && r[col("tcp.payload")] == "736978"
    ));
    // The refused connection's reset.
    assert!(any(&|r| r[col("tcp.flags.str")] == "·······A·R··"), "no RST");
    // UDP on the network and on loopback ("query", "loop").
    assert!(any(&|r| r[1] == "lan" && r[col("udp.payload")] == "7175657279"));
    assert!(any(&|r| r[1] == "lo" && r[col("udp.payload")] == "6c6f6f70"));
    // Port unreachable, ICMP (type 3) and ICMPv6 (type 1), with good checksums.
    assert!(any(
        &|r| r[col("icmp.type")] == "3" && good(&r[col("icmp.checksum.status")])
    ));
    assert!(any(
        &|r| r[col("icmpv6.type")] == "1" && good(&r[col("icmpv6.checksum.status")])
    ));
    // The datagram to an address nobody has: the sender's own ICMP host unreachable (type 3
    // code 1) on `lo`, 3 s later, when ARP gives up.
    assert!(any(&|r| r[1] == "lo"
        && r[col("icmp.type")] == "3"
        && r[col("icmp.code")] == "1"
        && good(&r[col("icmp.checksum.status")])));
    // Every checksum that tshark checked is good.
    for r in &rows {
        for c in [
            "ip.checksum.status",
            "tcp.checksum.status",
            "udp.checksum.status",
            "icmp.checksum.status",
            "icmpv6.checksum.status",
        ] {
            let v = &r[col(c)];
            assert!(v.is_empty() || good(v), "{c} of frame {}: {v}", r[0]);
        }
        assert!(
            !r[col("tcp.flags.str")].is_empty()
                || !r[col("udp.payload")].is_empty()
                || !r[col("icmp.type")].is_empty()
                || !r[col("icmpv6.type")].is_empty(),
            "frame {} is neither TCP, UDP nor ICMP: {r:?}",
            r[0]
        );
    }
}

/// The fields `tshark_sees_the_nat_rewrite_on_both_sides_of_the_gateway` reads.
const NAT_FIELDS: [&str; 12] = [
    "frame.interface_name",
    "ip.src",
    "ip.dst",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags.str",
    "tcp.seq",
    "tcp.payload",
    "udp.srcport",
    "icmp.type",
    "ip.checksum.status",
    "tcp.checksum.status",
];

#[test]
fn tshark_sees_the_nat_rewrite_on_both_sides_of_the_gateway() {
    let Some(tshark) = tshark() else { return };
    let dir = scratch("tshark-nat");
    let out = dir.join("nat.pcapng");
    capture(&example("nat-gateway.scn"), &out, &[]);
    let rows = tshark_fields(tshark, &out, &NAT_FIELDS);
    let col = |name: &str| NAT_FIELDS.iter().position(|c| *c == name).unwrap();
    let find = |iface: &str, pred: &dyn Fn(&Vec<String>) -> bool| -> Vec<String> {
        rows.iter()
            .find(|r| r[0] == iface && pred(r))
            .unwrap_or_else(|| panic!("no such frame on {iface}"))
            .clone()
    };
    // The handshake: the laptop's SYN on `home`, the same segment (same raw sequence number)
    // on `wan` with the gateway's address and the port kept.
    let syn = "··········S·";
    let inside = find("home", &|r| {
        r[col("tcp.flags.str")] == syn && r[col("tcp.dstport")] == "80"
    });
    assert_eq!((inside[1].as_str(), inside[3].as_str()), ("192.168.1.10", "40000"));
    let outside = find("wan", &|r| {
        r[col("tcp.flags.str")] == syn && r[col("tcp.seq")] == inside[col("tcp.seq")]
    });
    assert_eq!((outside[1].as_str(), outside[3].as_str()), ("203.0.113.1", "40000"));
    // The SYN-ACK comes back to the gateway and is rewritten to the laptop.
    let synack = "·······A··S·";
    let back_out = find("wan", &|r| r[col("tcp.flags.str")] == synack);
    assert_eq!(back_out[2], "203.0.113.1");
    let back_in = find("home", &|r| r[col("tcp.flags.str")] == synack);
    assert_eq!(back_in[2], "192.168.1.10");
    assert_eq!(back_in[col("tcp.seq")], back_out[col("tcp.seq")]);
    // The request's payload is the same on both sides ("GET / HTTP/1.0\n").
    let get = "474554202f20485454502f312e300a";
    find("home", &|r| r[col("tcp.payload")] == get && r[1] == "192.168.1.10");
    find("wan", &|r| r[col("tcp.payload")] == get && r[1] == "203.0.113.1");
    // The refused connection's RST, to the gateway on `wan`, to the laptop on `home`.
    let rst = "·······A·R··";
    assert_eq!(find("wan", &|r| r[col("tcp.flags.str")] == rst)[2], "203.0.113.1");
    assert_eq!(find("home", &|r| r[col("tcp.flags.str")] == rst)[2], "192.168.1.10");
    // The port unreachable: the outer destination and the quoted datagram's source are
    // translated back (tshark lists the outer and the inner address).
    let icmp_out = find("wan", &|r| r[col("icmp.type")] == "3");
    assert_eq!(icmp_out[2], "203.0.113.1,203.0.113.5");
    let icmp_in = find("home", &|r| r[col("icmp.type")] == "3");
    assert_eq!(icmp_in[2], "192.168.1.10,203.0.113.5");
    // Every rewritten packet has good checksums.
    for r in &rows {
        for c in ["ip.checksum.status", "tcp.checksum.status"] {
            let v = &r[col(c)];
            assert!(v.is_empty() || good(v), "{c}: {r:?}");
        }
    }
}
