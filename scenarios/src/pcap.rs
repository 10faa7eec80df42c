//! Packet captures: `socksim run FILE --pcap out.pcapng` writes every packet of a run as a
//! pcapng file that Wireshark and tshark open.
//!
//! - One interface per network of the scenario, in declaration order, then `lo` (the loopback
//!   traffic of every host); `if_name` is the network's name, `if_tsresol` is 9, so timestamps
//!   are the run's virtual time in exact nanoseconds (counted from the Unix epoch: a run starts
//!   at 1970-01-01 00:00:00).
//! - Link type `LINKTYPE_RAW` (101): each packet is its IPv4 or IPv6 packet, no link layer
//!   (the simulated networks have no MAC addresses, and a made-up Ethernet header would only
//!   add noise).
//! - Headers are built by [`wire`]: correct lengths and checksums (IPv4 header, TCP, UDP, ICMP,
//!   ICMPv6), TTL 64, no options. The TCP window is the one the kernel advertised, capped at
//!   65535 (socksim does not scale windows).
//! - Payload bytes come from the run itself: [`run_and_capture`] runs the scenario with
//!   [`RunOptions::capture`], so the world hands over every packet it transmits with payload
//!   ([`RunReport::captured`]) while the trace keeps only lengths. Without them (a report of a
//!   run without capture) payloads are written as zeros, with checksums still right for what
//!   is written.
//! - A packet put on a network where no host has its destination address is written with the
//!   comment `dropped: no host has this address`; a packet a receiving host discards (listen
//!   queue overflow, say) was on the wire, so its frame gets the comment `dropped: REASON`. A
//!   packet with no route never reached a network and is not in the capture, and neither is a
//!   drop the kernel reports with a packet rebuilt from its own state that matches no frame
//!   exactly (a handshake ACK ignored on a full accept queue): those are in the text trace.
//!
//! The output depends only on the trace: the same scenario and seed give the same bytes.

pub mod checksum;
pub mod pcapng;
pub mod wire;

use crate::ast::Scenario;
use crate::diagnostic::Diagnostic;
use crate::run::{RunOptions, RunReport, TraceEvent};
use pcapng::{LINKTYPE_RAW, Opt, Writer};
use sim_core::Record;
use sim_kernel::packet::{IcmpKind, Packet, PacketSummary, SegmentSummary};
use sim_kernel::trace::Event;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

/// The snapshot length declared for every interface: tcpdump's default. Every simulated packet
/// (at most 65535 bytes) is captured whole.
pub const SNAPLEN: u32 = 262_144;

/// The name of the interface that holds every host's loopback traffic.
pub const LOOPBACK: &str = "lo";

/// One interface of a capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// `if_name`: the network's name.
    pub name: String,
    /// `if_description`: its prefix (`10.0.0.0/24`), or what `lo` holds.
    pub description: String,
}

/// The interfaces of a capture of `scenario`: its networks in declaration order, then `lo`.
pub fn interfaces(scenario: &Scenario) -> Vec<Interface> {
    let mut out: Vec<Interface> = scenario
        .networks
        .iter()
        .map(|n| Interface {
            name: n.name.name.clone(),
            description: format!("{}/{}", n.addr, n.prefix),
        })
        .collect();
    out.push(Interface {
        name: LOOPBACK.into(),
        description: "loopback (127.0.0.0/8 and ::1) of every host".into(),
    });
    out
}

/// A TCP segment's (source, destination, sequence number, payload length).
type TcpKey = (SocketAddr, SocketAddr, u32, u32);
/// A UDP datagram's (source, destination, payload length).
type UdpKey = (SocketAddr, SocketAddr, u32);

/// The payload bytes of a run's packets, from [`RunReport::captured`], looked up in trace
/// order.
#[derive(Debug, Default)]
pub struct Payloads {
    /// TCP payloads, in the order sent.
    tcp: BTreeMap<TcpKey, VecDeque<Rc<[u8]>>>,
    /// UDP payloads, in the order sent.
    udp: BTreeMap<UdpKey, VecDeque<Rc<[u8]>>>,
}

impl Payloads {
    /// The payloads of `packets`, in the order the world transmitted them
    /// ([`RunReport::captured`]).
    pub fn new(packets: Vec<Packet>) -> Payloads {
        let mut p = Payloads::default();
        for packet in packets {
            match packet {
                Packet::Tcp(s) => {
                    let len = s.len();
                    if let Some(bytes) = s.payload {
                        p.tcp.entry((s.src, s.dst, s.seq, len)).or_default().push_back(bytes);
                    }
                }
                Packet::Udp(d) => {
                    let len = d.payload.len() as u32;
                    p.udp.entry((d.src, d.dst, len)).or_default().push_back(d.payload);
                }
                Packet::PortUnreachable(_) | Packet::IcmpError(_) => {}
            }
        }
        p
    }

    /// The payload of the next packet the trace shows that is summarized as `packet`.
    fn take(&mut self, packet: &PacketSummary) -> Option<Rc<[u8]>> {
        let queue = match packet {
            PacketSummary::Tcp(s) => self.tcp.get_mut(&(s.src, s.dst, s.seq, s.len)),
            PacketSummary::Udp { src, dst, len, .. } => self.udp.get_mut(&(*src, *dst, *len)),
            PacketSummary::IcmpPortUnreachable { .. } | PacketSummary::IcmpError { .. } => None,
        }?;
        queue.pop_front()
    }
}

/// What identifies a packet when a receiver's drop event names it again: every field of its
/// summary.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Tcp(SocketAddr, SocketAddr, u8, u32, u32, u32, u32),
    Udp(SocketAddr, SocketAddr, u32),
    Icmp(IpAddr, IpAddr, SocketAddr, SocketAddr, u32),
    IcmpError(IcmpKind, IpAddr, IpAddr, Box<Key>),
}

fn key(p: &PacketSummary) -> Key {
    match p {
        PacketSummary::Tcp(s) => Key::Tcp(s.src, s.dst, s.flags.0, s.seq, s.ack, s.window, s.len),
        PacketSummary::Udp { src, dst, len, .. } => Key::Udp(*src, *dst, *len),
        PacketSummary::IcmpPortUnreachable {
            src,
            dst,
            orig_src,
            orig_dst,
            orig_len,
            ..
        } => Key::Icmp(*src, *dst, *orig_src, *orig_dst, *orig_len),
        PacketSummary::IcmpError { kind, src, dst, quoted } => Key::IcmpError(*kind, *src, *dst, Box::new(key(quoted))),
    }
}

/// Where a packet is going (IPv4-mapped addresses as IPv4).
fn destination(p: &PacketSummary) -> IpAddr {
    match p {
        PacketSummary::Tcp(s) => s.dst.ip(),
        PacketSummary::Udp { dst, .. } => dst.ip(),
        PacketSummary::IcmpPortUnreachable { dst, .. } | PacketSummary::IcmpError { dst, .. } => *dst,
    }
    .to_canonical()
}

/// The TCP segment `s` with `payload`, as bytes on the wire (the window capped at 65535:
/// socksim does not scale windows).
fn tcp_bytes(s: &SegmentSummary, payload: &[u8]) -> Vec<u8> {
    let header = wire::TcpHeader {
        seq: s.seq,
        ack: s.ack,
        flags: s.flags.0,
        window: u16::try_from(s.window).unwrap_or(u16::MAX),
    };
    wire::tcp(s.src, s.dst, header, payload)
}

/// One captured packet before it is written.
struct Frame {
    interface: u32,
    at: u64,
    data: Vec<u8>,
    comments: Vec<String>,
}

/// Turns trace events into frames.
struct Capture {
    names: BTreeMap<String, u32>,
    interfaces: Vec<Interface>,
    payloads: Payloads,
    frames: Vec<Frame>,
    /// The last frame of each packet and whether it was delivered (not a drop itself), for
    /// drops that a receiving host reports later.
    last: BTreeMap<Key, (usize, bool)>,
    /// Every address a packet was delivered to: addresses some host has.
    reached: BTreeSet<IpAddr>,
    /// The last payload of each UDP (source, destination, length), for the ICMP errors that
    /// quote it.
    last_udp: BTreeMap<UdpKey, Rc<[u8]>>,
}

impl Capture {
    fn interface(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.names.get(name) {
            return id;
        }
        // A network the caller did not list: give it an interface of its own.
        let id = self.interfaces.len() as u32;
        self.interfaces.push(Interface {
            name: name.to_string(),
            description: String::new(),
        });
        self.names.insert(name.to_string(), id);
        id
    }

    /// `packet` as bytes: the captured payload when it has one of the right length, else
    /// zeros.
    fn bytes(&mut self, packet: &PacketSummary) -> Vec<u8> {
        let payload = self.payloads.take(packet);
        let fill = |len: u32| -> Rc<[u8]> {
            match &payload {
                Some(p) if p.len() == len as usize => p.clone(),
                _ => vec![0; len as usize].into(),
            }
        };
        match packet {
            PacketSummary::Tcp(s) => tcp_bytes(s, &fill(s.len)),
            PacketSummary::Udp { src, dst, len, .. } => {
                let bytes = fill(*len);
                let data = wire::udp(*src, *dst, &bytes);
                self.last_udp.insert((*src, *dst, *len), bytes);
                data
            }
            PacketSummary::IcmpPortUnreachable {
                src,
                dst,
                orig_src,
                orig_dst,
                orig_len,
                ..
            } => {
                let quoted = match self.last_udp.get(&(*orig_src, *orig_dst, *orig_len)) {
                    Some(bytes) => wire::udp(*orig_src, *orig_dst, bytes),
                    None => wire::udp(*orig_src, *orig_dst, &vec![0; *orig_len as usize]),
                };
                wire::port_unreachable(*src, *dst, &quoted)
            }
            PacketSummary::IcmpError { kind, src, dst, quoted } => {
                let offending = match quoted.as_ref() {
                    PacketSummary::Tcp(s) => tcp_bytes(s, &vec![0; s.len as usize]),
                    PacketSummary::Udp { src, dst, len } => wire::udp(*src, *dst, &vec![0; *len as usize]),
                    _ => Vec::new(),
                };
                // ICMP type/code, and ICMPv6's (RFC 792, RFC 4443).
                let (v4, v6) = match kind {
                    IcmpKind::NetUnreachable => ((3, 0), (1, 0)),
                    IcmpKind::HostUnreachable => ((3, 1), (1, 3)),
                    IcmpKind::TimeExceeded => ((11, 0), (3, 0)),
                };
                wire::icmp_error(*src, *dst, v4, v6, &offending)
            }
        }
    }

    fn frame(&mut self, network: &str, at: u64, packet: &PacketSummary, comment: Option<String>) {
        let interface = self.interface(network);
        let data = self.bytes(packet);
        self.last.insert(key(packet), (self.frames.len(), comment.is_none()));
        self.frames.push(Frame {
            interface,
            at,
            data,
            comments: comment.into_iter().collect(),
        });
    }

    fn record(&mut self, at: u64, event: &Event) {
        match event {
            Event::Packet { network, packet, .. } => {
                self.reached.insert(destination(packet));
                self.frame(network, at, packet, None);
            }
            Event::Drop {
                network,
                packet,
                reason,
                ..
            } => {
                // `network` names a network when the packet was put on it and nobody had its
                // destination address, and the host when a host discarded it. Hosts and
                // networks may share a name, so the packet decides: one delivered earlier was
                // discarded by the host that received it, and one to an address that packets
                // reached was discarded by the host there.
                let comment = format!("dropped: {reason}");
                match self.last.get(&key(packet)) {
                    // The network lost it: it was on the wire, so it gets a frame of its own
                    // (a capture at the sender's side), even when an earlier copy arrived.
                    _ if reason == "lost" || reason == "partitioned" => self.frame(network, at, packet, Some(comment)),
                    Some(&(i, true)) => self.frames[i].comments.push(comment),
                    _ if self.names.contains_key(network.as_str()) && !self.reached.contains(&destination(packet)) => {
                        self.frame(network, at, packet, Some(comment));
                    }
                    // A host dropped a packet that never reached a network (no route), or one
                    // it rebuilt from its own state that no frame matches exactly (a handshake
                    // ACK ignored on a full accept queue): the text trace has it, the capture
                    // cannot say which frame it was.
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// A pcapng capture of the packets among `records` (see the module docs), with interfaces
/// `interfaces` (more are added after them for networks they do not name), `payloads` for the
/// bytes, and `comment` as the section's comment.
pub fn write(interfaces: &[Interface], records: &[Record<TraceEvent>], payloads: Payloads, comment: &str) -> Vec<u8> {
    let mut c = Capture {
        names: interfaces
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i as u32))
            .collect(),
        interfaces: interfaces.to_vec(),
        payloads,
        frames: Vec::new(),
        last: BTreeMap::new(),
        reached: BTreeSet::new(),
        last_udp: BTreeMap::new(),
    };
    for r in records {
        if let TraceEvent::Kernel(event) = &r.event {
            c.record(r.at.0, event);
        }
    }
    let mut section = vec![Opt::user_application("socksim")];
    if !comment.is_empty() {
        section.push(Opt::comment(comment));
    }
    let mut w = Writer::new(&section);
    for i in &c.interfaces {
        let mut options = vec![Opt::if_name(&i.name)];
        if !i.description.is_empty() {
            options.push(Opt::if_description(&i.description));
        }
        options.push(Opt::if_tsresol_decimal(9));
        w.interface(LINKTYPE_RAW, SNAPLEN, &options);
    }
    for f in &c.frames {
        let options: Vec<Opt> = f.comments.iter().map(|c| Opt::comment(c)).collect();
        w.packet(f.interface, f.at, &f.data, &options);
    }
    w.finish()
}

/// The section comment of a capture of `scenario` run with `seed`.
pub fn section_comment(scenario: &Scenario, seed: u64) -> String {
    match &scenario.title {
        Some(title) => format!("socksim scenario \"{title}\", seed {seed}"),
        None => format!("socksim scenario, seed {seed}"),
    }
}

/// Parses, checks and runs `source` like [`crate::load_and_run`] (with the trace on, whatever
/// `options` say), collecting the payload bytes, and returns the report with its pcapng
/// capture.
pub fn run_and_capture(source: &str, options: &RunOptions) -> Result<(RunReport, Vec<u8>), Vec<Diagnostic>> {
    let scenario = crate::load(source)?;
    let options = RunOptions {
        trace: true,
        capture: true,
        ..options.clone()
    };
    let mut report = crate::run::run(&scenario, source, &options).map_err(|d| vec![d])?;
    let packets = std::mem::take(&mut report.captured);
    let capture = write(
        &interfaces(&scenario),
        &report.records,
        Payloads::new(packets),
        &section_comment(&scenario, report.seed),
    );
    Ok((report, capture))
}
