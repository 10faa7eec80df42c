//! Faulty links and partitions, and TCP's retransmission through them: a transfer over a
//! lossy, duplicating or reordering network delivers exactly the bytes sent; a partition
//! longer than `tcp_retries2` allows ends the connection with `ETIMEDOUT`; one healed in time
//! does not.

mod support;

use sim_core::{Duration, Instant};
use sim_kernel::network::LinkFaults;
use sim_kernel::syscall::{Fd, Payload, SysReturn, Syscall};
use sim_kernel::{Errno, NetId, Pid, World};
use std::net::Ipv4Addr;
use support::{OK, Sim, err};

/// Two hosts on `wan` (10 ms one way) with `faults`.
fn wan(seed: u64, faults: LinkFaults) -> (Sim, NetId, Pid, Pid) {
    let mut w = World::new(seed);
    let net = w
        .add_network(
            "wan",
            Ipv4Addr::new(203, 0, 113, 0).into(),
            24,
            Duration::from_millis(10),
        )
        .unwrap();
    w.set_link_faults(net, faults).unwrap();
    let server = w.add_host("server").unwrap();
    let client = w.add_host("client").unwrap();
    w.add_addr(server, Ipv4Addr::new(203, 0, 113, 1).into(), net).unwrap();
    w.add_addr(client, Ipv4Addr::new(203, 0, 113, 2).into(), net).unwrap();
    let mut sim = Sim::new(w, Duration::from_millis(50));
    let s = sim.spawn(server, "sink");
    let c = sim.spawn(client, "source");
    (sim, net, s, c)
}

/// Bytes that show where each one belongs, so a misplaced segment cannot go unnoticed.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ (i / 251) as u8).collect()
}

fn conserved(w: &World) {
    let s = w.packet_stats();
    assert_eq!(s.sent, s.delivered + s.lost + s.in_flight, "{s:?}");
}

/// Connects `c` to a listener of `s`; returns (client fd, server's accepted fd).
fn connected(sim: &mut Sim, s: Pid, c: Pid) -> (Fd, Fd) {
    let l = sim.listener(s, "0.0.0.0:80", false);
    assert_eq!(sim.start(s, Syscall::Accept { fd: l }), None);
    let fd = sim.socket(c);
    let connect = Syscall::Connect {
        fd,
        addr: support::sa("203.0.113.1:80").into(),
    };
    if let Some(r) = sim.start(c, connect) {
        panic!("connect finished at once: {r:?}");
    }
    assert_eq!(sim.wait(c, Duration::from_secs(200)).0, OK);
    let SysReturn::Accepted { fd: a, .. } = sim.wait(s, Duration::from_secs(200)).0 else {
        panic!("accept failed")
    };
    (fd, a)
}

/// Sends `data` from `c` and reads it all at `s`, then closes both ends; returns what `s`
/// read and when it saw end of file.
fn transfer(sim: &mut Sim, s: Pid, c: Pid, data: &[u8]) -> (Vec<u8>, Instant) {
    let (fd, a) = connected(sim, s, c);
    let send = Syscall::Send {
        fd,
        data: Payload::Bytes(data.into()),
    };
    let mut sent = sim.start(c, send);
    let mut got = Vec::new();
    let eof_at = loop {
        if sent.is_none()
            && let Some((r, _)) = sim.finished.remove(&c)
        {
            assert_eq!(
                r,
                SysReturn::Value {
                    value: data.len() as i64
                }
            );
            sent = Some(r);
            // The client closes once everything is queued: its FIN follows the data.
            assert_eq!(sim.call(c, Syscall::Close { fd }), OK);
        }
        let r = match sim.start(
            s,
            Syscall::Recv {
                fd: a,
                len: 100_000,
                flags: 0,
            },
        ) {
            Some(r) => r,
            None => sim.wait(s, Duration::from_secs(2_000)).0,
        };
        match r {
            SysReturn::Data { data } if data.is_empty() => break sim.w.now(),
            SysReturn::Data { data } => got.extend_from_slice(&data),
            other => panic!("recv: {other:?}"),
        }
    };
    assert!(sent.is_some(), "the sender finished before end of file");
    sim.close(s, a);
    sim.run_for(Duration::from_secs(300));
    conserved(&sim.w);
    (got, eof_at)
}

#[test]
fn a_transfer_over_a_20_percent_lossy_link_completes_intact() {
    let data = pattern(200_000);
    let lossy = LinkFaults {
        loss_ppm: 200_000,
        ..LinkFaults::default()
    };
    let mut lost_any = false;
    for seed in 0..8 {
        let (mut sim, _, s, c) = wan(seed, lossy);
        let (got, _) = transfer(&mut sim, s, c, &data);
        assert!(
            got == data,
            "seed {seed}: {} bytes arrived, not the 200000 sent",
            got.len()
        );
        let stats = sim.w.packet_stats();
        lost_any |= stats.lost > 0;
        assert_eq!(stats.in_flight, 0);
        // Everything settled: no socket is left behind but TIME_WAIT's, which ends too.
        sim.run_for(Duration::from_secs(120));
        assert_eq!(sim.w.socket_count(), 1, "seed {seed}: only the listener remains");
    }
    assert!(lost_any, "20% loss lost something in eight runs");
}

#[test]
fn loss_slows_a_transfer_down() {
    let data = pattern(100_000);
    let (mut clean, _, s, c) = wan(3, LinkFaults::default());
    let (got, clean_at) = transfer(&mut clean, s, c, &data);
    assert_eq!(got, data);
    assert_eq!(clean.w.packet_stats().lost, 0);
    let lossy = LinkFaults {
        loss_ppm: 200_000,
        ..LinkFaults::default()
    };
    let (mut slow, _, s, c) = wan(3, lossy);
    let (got, slow_at) = transfer(&mut slow, s, c, &data);
    assert_eq!(got, data);
    assert!(slow_at > clean_at, "{slow_at} is not later than {clean_at}");
}

#[test]
fn reordering_duplication_and_jitter_do_not_corrupt() {
    let data = pattern(150_000);
    let faults = LinkFaults {
        jitter: Duration::from_millis(8),
        loss_ppm: 50_000,
        duplicate_ppm: 200_000,
        reorder_ppm: 200_000,
    };
    for seed in 0..8 {
        let (mut sim, _, s, c) = wan(seed, faults);
        let (got, _) = transfer(&mut sim, s, c, &data);
        assert!(got == data, "seed {seed}: the bytes differ ({} arrived)", got.len());
    }
}

#[test]
fn a_long_partition_times_the_connection_out() {
    let (mut sim, net, s, c) = wan(1, LinkFaults::default());
    let (fd, a) = connected(&mut sim, s, c);
    // The server waits for data; the client's data goes nowhere.
    assert_eq!(
        sim.start(
            s,
            Syscall::Recv {
                fd: a,
                len: 10,
                flags: 0
            }
        ),
        None
    );
    sim.w.partition(net);
    let start = sim.w.now();
    assert_eq!(sim.send(c, fd, b"hello"), SysReturn::Value { value: 5 });
    // A reader on the client wakes with the error when the retransmissions give up.
    let (r, at) = sim
        .start(c, Syscall::Recv { fd, len: 10, flags: 0 })
        .map(|r| (r, sim.w.now()))
        .unwrap_or_else(|| sim.wait(c, Duration::from_secs(2_000)));
    assert_eq!(r, err(Errno::ETIMEDOUT));
    // tcp_retries2 = 15: 924.6 s of doubling timeouts from 200 ms (the handshake measured
    // 20 ms, so the timeout starts at 220 ms and gives up a little later).
    let waited = at.0 - start.0;
    assert!(
        (924_600_000_000..1_100_000_000_000).contains(&waited),
        "gave up after {waited} ns"
    );
    assert!(sim.w.packet_stats().lost >= 15);
    conserved(&sim.w);
    // The server never heard anything: its recv still waits.
    assert!(sim.pending.contains_key(&s));
}

#[test]
fn tcp_retries2_shortens_the_wait() {
    let (mut sim, net, s, c) = wan(1, LinkFaults::default());
    let client = sim.w.host_id("client").unwrap();
    sim.w.set_sysctl(client, "net.ipv4.tcp_retries2", &[3]).unwrap();
    let (fd, _) = connected(&mut sim, s, c);
    sim.w.partition(net);
    let start = sim.w.now();
    assert_eq!(sim.send(c, fd, b"hello"), SysReturn::Value { value: 5 });
    let (r, at) = sim.wait_call(c, Syscall::Recv { fd, len: 10, flags: 0 }, Duration::from_secs(100));
    assert_eq!(r, err(Errno::ETIMEDOUT));
    // 3 retries: (2^4 - 1) x 200 ms = 3 s of model time.
    let waited = at.0 - start.0;
    assert!(
        (3_000_000_000..4_000_000_000).contains(&waited),
        "gave up after {waited} ns"
    );
    // Later calls see a closed connection.
    assert_eq!(sim.send(c, fd, b"x"), err(Errno::EPIPE));
}

#[test]
fn a_partition_healed_in_time_lets_the_transfer_finish() {
    let (mut sim, net, s, c) = wan(1, LinkFaults::default());
    let (fd, a) = connected(&mut sim, s, c);
    sim.w.partition(net);
    let healed_at = sim.w.now().after(Duration::from_secs(60));
    sim.w.schedule_partition(net, healed_at, false);
    assert_eq!(sim.send(c, fd, b"hello"), SysReturn::Value { value: 5 });
    let (r, at) = sim.wait_call(
        s,
        Syscall::Recv {
            fd: a,
            len: 10,
            flags: 0,
        },
        Duration::from_secs(300),
    );
    assert_eq!(
        r,
        SysReturn::Data {
            data: b"hello".to_vec()
        }
    );
    assert!(at > healed_at, "the data arrived after the heal");
    assert!(!sim.w.network(net).partitioned);
    conserved(&sim.w);
}

#[test]
fn packets_in_flight_when_the_partition_starts_still_arrive() {
    let (mut sim, net, s, c) = wan(1, LinkFaults::default());
    let (fd, a) = connected(&mut sim, s, c);
    assert_eq!(sim.send(c, fd, b"hello"), SysReturn::Value { value: 5 });
    sim.w.partition(net);
    let (r, _) = sim.wait_call(
        s,
        Syscall::Recv {
            fd: a,
            len: 10,
            flags: 0,
        },
        Duration::from_secs(1),
    );
    assert_eq!(
        r,
        SysReturn::Data {
            data: b"hello".to_vec()
        }
    );
    // Its acknowledgement, though, is lost.
    sim.run_for(Duration::from_millis(100));
    assert_eq!(sim.w.packet_stats().lost, 1);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let data = pattern(50_000);
    let faults = LinkFaults {
        jitter: Duration::from_millis(3),
        loss_ppm: 100_000,
        duplicate_ppm: 50_000,
        reorder_ppm: 50_000,
    };
    let run = |seed| {
        let (mut sim, _, s, c) = wan(seed, faults);
        let (_, at) = transfer(&mut sim, s, c, &data);
        (at, sim.w.packet_stats())
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

#[test]
fn a_network_without_faults_draws_nothing() {
    // The same run with and without a stream-consuming neighbour network: the fault-free
    // network's packets never depend on any draw.
    let data = pattern(20_000);
    let (mut a, _, s, c) = wan(9, LinkFaults::default());
    let (_, at_a) = transfer(&mut a, s, c, &data);
    let (mut b, _, s, c) = wan(10, LinkFaults::default());
    let (_, at_b) = transfer(&mut b, s, c, &data);
    // Different seeds change ISNs and ports, not timing, on a fault-free network.
    assert_eq!(at_a, at_b);
    assert_eq!(a.w.packet_stats(), b.w.packet_stats());
}

#[test]
fn an_orphan_gives_up_after_tcp_orphan_retries() {
    let (mut sim, net, s, c) = wan(1, LinkFaults::default());
    let (fd, _) = connected(&mut sim, s, c);
    sim.w.partition(net);
    assert_eq!(sim.send(c, fd, b"bye"), SysReturn::Value { value: 3 });
    sim.close(c, fd);
    // The client's socket lives on, orphaned, retransmitting its data and FIN.
    assert_eq!(sim.w.socket_count(), 3);
    // tcp_orphan_retries() gives 8: the time 8 doubling timeouts take from 200 ms, 102.2 s.
    sim.run_for(Duration::from_secs(100));
    assert_eq!(sim.w.socket_count(), 3);
    sim.run_for(Duration::from_secs(20));
    assert_eq!(sim.w.socket_count(), 2, "the orphan gave up and was freed");
    conserved(&sim.w);
}

#[test]
fn a_zero_window_probe_recovers_a_lost_window_update() {
    let (mut sim, net, s, c) = wan(1, LinkFaults::default());
    let l = sim.socket(s);
    let rcvbuf = Syscall::SetSockOpt {
        fd: l,
        level: sim_kernel::syscalls::SOL_SOCKET,
        name: sim_kernel::syscalls::SO_RCVBUF,
        value: 2048,
    };
    assert_eq!(sim.call(s, rcvbuf), OK);
    assert_eq!(sim.bind(s, l, "0.0.0.0:80"), OK);
    assert_eq!(sim.listen(s, l, 8), OK);
    assert_eq!(sim.start(s, Syscall::Accept { fd: l }), None);
    let fd = sim.socket(c);
    assert_eq!(sim.connect(c, fd, "203.0.113.1:80"), OK);
    let SysReturn::Accepted { fd: a, .. } = sim.wait(s, Duration::from_secs(1)).0 else {
        panic!("accept failed")
    };
    let data = pattern(10_000);
    assert_eq!(sim.send(c, fd, &data), SysReturn::Value { value: 10_000 });
    // The receiver does not read: its window closes, and the rest of the data waits.
    sim.run_for(Duration::from_secs(1));
    // It reads while the network is cut off, so the window update it sends is lost.
    sim.w.partition(net);
    let SysReturn::Data { data: first } = sim.call(
        s,
        Syscall::Recv {
            fd: a,
            len: 100_000,
            flags: 0,
        },
    ) else {
        panic!("recv failed")
    };
    sim.run_for(Duration::from_millis(50));
    sim.w.heal(net);
    assert!(sim.w.packet_stats().lost >= 1, "the window update was lost");
    // Without window probes the connection would now wait for ever: the sender believes the
    // window is shut and the receiver has nothing to say. The probe timer finds it open.
    let mut got = first;
    while got.len() < data.len() {
        let (r, _) = sim.wait_call(
            s,
            Syscall::Recv {
                fd: a,
                len: 100_000,
                flags: 0,
            },
            Duration::from_secs(30),
        );
        let SysReturn::Data { data: more } = r else {
            panic!("recv: {r:?}")
        };
        got.extend_from_slice(&more);
    }
    assert!(got == data);
    conserved(&sim.w);
}

#[test]
fn a_capture_keeps_every_transmission_with_payload_lost_ones_included() {
    use sim_kernel::packet::Packet;
    let data = pattern(200_000);
    let lossy = LinkFaults {
        loss_ppm: 200_000,
        ..LinkFaults::default()
    };
    let mut resent_any = false;
    for seed in 0..4 {
        let (mut sim, _, s, c) = wan(seed, lossy);
        sim.w.start_capture();
        let (got, _) = transfer(&mut sim, s, c, &data);
        assert_eq!(got, data);
        let captured = sim.w.take_capture();
        assert!(sim.w.take_capture().is_empty(), "taking the capture stops it");
        // Only data segments carry payload; every byte sent was transmitted at its place in
        // the stream (a lost segment shows up again as its retransmission).
        let segments: Vec<_> = captured
            .iter()
            .map(|p| match p {
                Packet::Tcp(seg) if p.has_payload() => seg,
                other => panic!("seed {seed}: kept {other:?}"),
            })
            .collect();
        let first = segments[0].seq;
        let mut stream = vec![None; data.len()];
        for seg in &segments {
            let offset = seg.seq.wrapping_sub(first) as usize;
            for (i, byte) in seg.payload.as_deref().unwrap_or_default().iter().enumerate() {
                stream[offset + i] = Some(*byte);
            }
        }
        assert!(
            stream.iter().zip(&data).all(|(got, sent)| *got == Some(*sent)),
            "seed {seed}"
        );
        let distinct: std::collections::BTreeSet<u32> = segments.iter().map(|seg| seg.seq).collect();
        resent_any |= segments.len() > distinct.len();
    }
    assert!(resent_any, "a lost segment is kept, and so is its retransmission");
}
