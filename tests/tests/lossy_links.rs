//! Property tests over faulty links: packets are conserved at every step (sent = delivered +
//! lost + in flight), a TCP transfer through loss, duplication, reordering, jitter and
//! partitions delivers exactly a prefix of what was sent — all of it when the transfer
//! completes — and generated scenarios over lossy networks keep the kernel consistent and run
//! the same way twice.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use sim_core::{Duration, Instant};
use sim_kernel::network::LinkFaults;
use sim_kernel::syscall::{Payload, SysReturn, Syscall};
use sim_kernel::syscalls::{AF_INET, SOCK_STREAM};
use sim_kernel::{Next, Outcome, World};
use socksim::strategies::{check_run, lossy_scenario};
use std::net::Ipv4Addr;

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x1055_11ec),
        failure_persistence: None,
        ..Config::default()
    }
}

fn conserved(w: &World) -> Result<(), String> {
    let s = w.packet_stats();
    if s.sent == s.delivered + s.lost + s.in_flight {
        Ok(())
    } else {
        Err(format!("packets not conserved at {}: {s:?}", w.now()))
    }
}

/// What a transfer ended with.
#[derive(Debug, PartialEq)]
struct Transfer {
    /// What the server read.
    received: Vec<u8>,
    /// The server read end of file after all of it, and the client's calls all succeeded.
    complete: bool,
    /// An error one side saw, if any.
    error: Option<SysReturn>,
    /// The packet counters at the end, and when the run ended (for determinism checks).
    stats: sim_kernel::link::PacketStats,
    end: Instant,
}

/// A server on 10.0.0.1:80 that accepts one connection and reads to end of file, and a
/// client that connects, sends `data` and closes, over a 5 ms network with `faults` and an
/// optional partition (start, end) in milliseconds. Conservation is checked after every step.
fn transfer(seed: u64, faults: LinkFaults, partition: Option<(u64, u64)>, data: &[u8]) -> Result<Transfer, String> {
    let mut w = World::new(seed);
    let net = w
        .add_network("wan", Ipv4Addr::new(10, 0, 0, 0).into(), 24, Duration::from_millis(5))
        .unwrap();
    w.set_link_faults(net, faults).unwrap();
    let server = w.add_host("server").unwrap();
    let client = w.add_host("client").unwrap();
    w.add_addr(server, Ipv4Addr::new(10, 0, 0, 1).into(), net).unwrap();
    w.add_addr(client, Ipv4Addr::new(10, 0, 0, 2).into(), net).unwrap();
    if let Some((start, end)) = partition {
        w.schedule_partition(net, Instant(start * 1_000_000), true);
        w.schedule_partition(net, Instant(end * 1_000_000), false);
    }
    let s = w.spawn(server, "sink", Instant::ZERO);
    let c = w.spawn(client, "source", Instant(1_000_000));
    let socket = Syscall::Socket {
        domain: AF_INET,
        ty: SOCK_STREAM,
        protocol: 0,
    };
    let server_calls = [
        socket.clone(),
        Syscall::Bind {
            fd: 3,
            addr: "0.0.0.0:80".parse::<std::net::SocketAddr>().unwrap().into(),
        },
        Syscall::Listen { fd: 3, backlog: 8 },
        Syscall::Accept { fd: 3 },
    ];
    let client_calls = [
        socket,
        Syscall::Connect {
            fd: 3,
            addr: "10.0.0.1:80".parse::<std::net::SocketAddr>().unwrap().into(),
        },
        Syscall::Send {
            fd: 3,
            data: Payload::Bytes(data.into()),
        },
        Syscall::Close { fd: 3 },
    ];
    let recv = Syscall::Recv {
        fd: 4,
        len: 100_000,
        flags: 0,
    };
    let (mut server_pc, mut client_pc) = (0, 0);
    let (mut server_resumed, mut client_resumed) = (false, false);
    let mut received = Vec::new();
    let mut eof = false;
    let mut error = None;
    // 30 minutes of virtual time: longer than tcp_retries2's 924.6 s.
    let until = Some(Instant(1_800_000_000_000));
    while let Next::Run(pid) = w.next(until) {
        conserved(&w)?;
        let (call, resumed) = if pid == s {
            if eof || error.is_some() || server_pc > server_calls.len() {
                w.exit(pid);
                continue;
            }
            let call = server_calls.get(server_pc).unwrap_or(&recv);
            (call.clone(), &mut server_resumed)
        } else {
            assert_eq!(pid, c, "only the server and the client run");
            if client_pc >= client_calls.len() || error.is_some() {
                w.exit(pid);
                continue;
            }
            (client_calls[client_pc].clone(), &mut client_resumed)
        };
        let outcome = w.syscall(pid, &call, *resumed);
        w.check_invariants().map_err(|v| v.to_string())?;
        let Outcome::Done(ret) = outcome else {
            *resumed = true;
            continue;
        };
        *resumed = false;
        match (&call, &ret) {
            (_, SysReturn::Error { .. }) => error = Some(ret.clone()),
            (Syscall::Recv { .. }, SysReturn::Data { data }) if data.is_empty() => eof = true,
            (Syscall::Recv { .. }, SysReturn::Data { data }) => received.extend_from_slice(data),
            _ => {}
        }
        if pid == s {
            server_pc = (server_pc + 1).min(server_calls.len());
            if matches!(call, Syscall::Accept { .. }) {
                server_pc = server_calls.len();
            }
        } else {
            client_pc += 1;
        }
    }
    conserved(&w)?;
    Ok(Transfer {
        stats: w.packet_stats(),
        end: w.now(),
        complete: eof && error.is_none() && client_pc == client_calls.len(),
        received,
        error,
    })
}

fn faults() -> impl Strategy<Value = LinkFaults> {
    (0u64..5_000, 0u32..=250_000, 0u32..=200_000, 0u32..=200_000).prop_map(
        |(jitter_us, loss_ppm, duplicate_ppm, reorder_ppm)| LinkFaults {
            jitter: Duration::from_micros(jitter_us),
            loss_ppm,
            duplicate_ppm,
            reorder_ppm,
        },
    )
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 256) as u8).collect()
}

proptest! {
    #![proptest_config(config(48))]

    /// Whatever the faults, what arrives is a prefix of what was sent, and a transfer that
    /// completes delivers every byte; a partition shorter than the retransmission limits
    /// never stops one.
    #[test]
    fn transfers_through_faulty_links_are_intact(
        seed in any::<u64>(),
        faults in faults(),
        len in 1usize..150_000,
        partition in prop::option::weighted(0.3, (0u64..3_000, 1u64..30_000)),
    ) {
        let sent = data(len);
        let partition = partition.map(|(start, length)| (start, start + length));
        let t = transfer(seed, faults, partition, &sent).map_err(TestCaseError::fail)?;
        prop_assert!(sent.starts_with(&t.received), "{} bytes arrived, not a prefix of those sent", t.received.len());
        if t.complete {
            prop_assert_eq!(t.received.len(), sent.len());
        } else {
            // Only a failed handshake may stop it: SYN retransmissions give up after
            // about two minutes, data retransmissions only after 924.6 s.
            prop_assert!(t.error.is_some(), "neither complete nor failed: {t:?}");
        }
    }

    /// The same seed gives the same run.
    #[test]
    fn faulty_transfers_are_deterministic(seed in any::<u64>(), faults in faults(), len in 1usize..50_000) {
        let sent = data(len);
        let a = transfer(seed, faults, None, &sent).map_err(TestCaseError::fail)?;
        let b = transfer(seed, faults, None, &sent).map_err(TestCaseError::fail)?;
        prop_assert_eq!(a, b);
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// Generated socket programs over lossy, duplicating, reordering and partitioned networks:
    /// the kernel's invariants (packet conservation among them) hold after every step, and the
    /// packet counters balance before every step.
    #[test]
    fn lossy_scenarios_conserve_packets(generated in lossy_scenario()) {
        let (text, _) = generated.load();
        let report = check_run(&generated, conserved);
        prop_assert!(report.is_ok(), "{}\n--- scenario ---\n{text}", report.unwrap_err());
    }

    #[test]
    fn lossy_scenarios_run_the_same_way_twice(generated in lossy_scenario()) {
        let (text, scenario) = generated.load();
        let options = socksim::run::RunOptions { trace: true, ..Default::default() };
        let a = socksim::run::run(&scenario, &text, &options).unwrap();
        let b = socksim::run::run(&scenario, &text, &options).unwrap();
        prop_assert_eq!(socksim::render::text(&a), socksim::render::text(&b));
    }
}
