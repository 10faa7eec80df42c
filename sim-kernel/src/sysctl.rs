//! Per-host (per network namespace) sysctls, with Linux's defaults.

use serde::{Deserialize, Serialize};

/// The sysctls socksim simulates. Defaults are Linux 6.x's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sysctls {
    /// `net.ipv4.ip_local_port_range`, inclusive. Default `32768 60999`
    /// (`inet_init_net()` in `net/ipv4/af_inet.c`; the range has an even length since 4.2).
    pub ip_local_port_range: (u16, u16),
    /// `net.core.somaxconn`: the cap on `listen()`'s backlog. Default 4096 since 5.4
    /// (`SOMAXCONN` in `include/linux/socket.h`).
    pub somaxconn: u32,
    /// `net.ipv4.tcp_tw_reuse`: 0 off, 1 on, 2 loopback only (the default; `tcp_sk_init()`).
    pub tcp_tw_reuse: u8,
    /// `net.ipv4.tcp_syn_retries`: SYN retransmissions before `ETIMEDOUT`. Default 6
    /// (`TCP_SYN_RETRIES` in `include/net/tcp.h`).
    pub tcp_syn_retries: u8,
    /// `net.ipv4.tcp_syn_linear_timeouts`: SYN retransmissions at a fixed 1 s before the
    /// timeout starts doubling. Default 4 (6.13+).
    pub tcp_syn_linear_timeouts: u8,
    /// `net.ipv4.tcp_synack_retries`: SYN-ACK retransmissions for a half-open connection.
    /// Default 5 (`TCP_SYNACK_RETRIES`).
    pub tcp_synack_retries: u8,
    /// `net.ipv4.tcp_fin_timeout`: seconds an orphaned FIN_WAIT2 waits for the peer's FIN.
    /// Default 60 (`TCP_FIN_TIMEOUT`).
    pub tcp_fin_timeout: u32,
    /// `net.ipv4.tcp_retries2`: how long an established connection retransmits unacknowledged
    /// data before `ETIMEDOUT`, counted as the time that many doubling timeouts take from
    /// 200 ms (`tcp_model_timeout()`; 15 gives 924.6 s). Default 15 (`TCP_RETR2` in
    /// `include/net/tcp.h`).
    pub tcp_retries2: u8,
    /// `net.ipv4.tcp_abort_on_overflow`: reset a handshake whose final ACK finds the accept
    /// queue full, instead of ignoring the ACK. Default 0.
    pub tcp_abort_on_overflow: bool,
    /// `net.ipv4.ip_local_reserved_ports`: inclusive ranges that no automatic port choice
    /// takes (connect, bind(0), listen and UDP autobind); an explicit bind still may.
    /// Default empty.
    pub ip_local_reserved_ports: Vec<(u16, u16)>,
    /// `net.ipv4.ip_unprivileged_port_start`: binding a lower port needs
    /// `CAP_NET_BIND_SERVICE` (`EACCES` otherwise). Default 1024 (`inet_init_net()`).
    pub ip_unprivileged_port_start: u16,
    /// `net.unix.max_dgram_qlen`: how many datagrams past the first a Unix datagram socket's
    /// receive queue holds before senders wait (`sk_max_ack_backlog`, sampled when the
    /// receiver is created). Default 10 (`unix_net_init()` in `net/unix/af_unix.c`).
    pub unix_max_dgram_qlen: u32,
    /// `net.ipv4.ip_forward`: forward packets addressed to others. Default 0
    /// (`devinet_init_net()`); the `forward` host setting sets it to 1.
    pub ip_forward: bool,
    /// The connection-tracking sysctls (`net.netfilter.*`), used on hosts with NAT rules.
    pub conntrack: ConntrackSysctls,
}

/// `net.netfilter.nf_conntrack_*`: the table's size limit and the per-state timeouts, in
/// seconds. Defaults are Linux 6.x's (`tcp_timeouts[]` in `nf_conntrack_proto_tcp.c`,
/// `udp_timeouts[]` in `nf_conntrack_proto_udp.c`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConntrackSysctls {
    /// `nf_conntrack_max`: how many entries the table holds. Linux sizes it from memory
    /// (`nf_conntrack_init_start()`): 262144 on a 64-bit machine with more than 4 GiB.
    pub max: u32,
    /// `nf_conntrack_tcp_timeout_syn_sent`: 120.
    pub tcp_syn_sent: u32,
    /// `nf_conntrack_tcp_timeout_syn_recv`: 60.
    pub tcp_syn_recv: u32,
    /// `nf_conntrack_tcp_timeout_established`: 432000 (5 days).
    pub tcp_established: u32,
    /// `nf_conntrack_tcp_timeout_fin_wait`: 120.
    pub tcp_fin_wait: u32,
    /// `nf_conntrack_tcp_timeout_close_wait`: 60.
    pub tcp_close_wait: u32,
    /// `nf_conntrack_tcp_timeout_last_ack`: 30.
    pub tcp_last_ack: u32,
    /// `nf_conntrack_tcp_timeout_time_wait`: 120.
    pub tcp_time_wait: u32,
    /// `nf_conntrack_tcp_timeout_close`: 10.
    pub tcp_close: u32,
    /// `nf_conntrack_udp_timeout`: 30, a flow seen one way (or both within its first 2 s).
    pub udp: u32,
    /// `nf_conntrack_udp_timeout_stream`: 120, a flow with replies that lived past 2 s.
    pub udp_stream: u32,
}

impl Default for ConntrackSysctls {
    fn default() -> Self {
        ConntrackSysctls {
            max: 262_144,
            tcp_syn_sent: 120,
            tcp_syn_recv: 60,
            tcp_established: 432_000,
            tcp_fin_wait: 120,
            tcp_close_wait: 60,
            tcp_last_ack: 30,
            tcp_time_wait: 120,
            tcp_close: 10,
            udp: 30,
            udp_stream: 120,
        }
    }
}

impl Default for Sysctls {
    fn default() -> Self {
        Sysctls {
            ip_local_port_range: (32768, 60999),
            somaxconn: 4096,
            tcp_tw_reuse: 2,
            tcp_syn_retries: 6,
            tcp_syn_linear_timeouts: 4,
            tcp_synack_retries: 5,
            tcp_fin_timeout: 60,
            tcp_retries2: 15,
            tcp_abort_on_overflow: false,
            ip_local_reserved_ports: Vec::new(),
            ip_unprivileged_port_start: 1024,
            unix_max_dgram_qlen: 10,
            ip_forward: false,
            conntrack: ConntrackSysctls::default(),
        }
    }
}

/// Name, number of values, and inclusive bounds of every settable sysctl. A count of 0 means
/// a list of ranges, given as pairs of values (low, high).
pub const SETTABLE: &[(&str, usize, i64, i64)] = &[
    ("net.ipv4.ip_local_port_range", 2, 1, 65535),
    ("net.core.somaxconn", 1, 0, i32::MAX as i64),
    ("net.ipv4.tcp_tw_reuse", 1, 0, 2),
    ("net.ipv4.tcp_syn_retries", 1, 1, 127),
    ("net.ipv4.tcp_syn_linear_timeouts", 1, 0, 16),
    ("net.ipv4.tcp_synack_retries", 1, 0, 255),
    ("net.ipv4.tcp_fin_timeout", 1, 1, i32::MAX as i64),
    ("net.ipv4.tcp_abort_on_overflow", 1, 0, 1),
    ("net.ipv4.tcp_retries2", 1, 0, 255),
    ("net.ipv4.ip_local_reserved_ports", 0, 1, 65535),
    ("net.ipv4.ip_unprivileged_port_start", 1, 0, 65535),
    ("net.unix.max_dgram_qlen", 1, 0, i32::MAX as i64),
    ("net.ipv4.ip_forward", 1, 0, 1),
    ("net.netfilter.nf_conntrack_max", 1, 0, i32::MAX as i64),
    ("net.netfilter.nf_conntrack_tcp_timeout_syn_sent", 1, 1, i32::MAX as i64),
    ("net.netfilter.nf_conntrack_tcp_timeout_syn_recv", 1, 1, i32::MAX as i64),
    (
        "net.netfilter.nf_conntrack_tcp_timeout_established",
        1,
        1,
        i32::MAX as i64,
    ),
    ("net.netfilter.nf_conntrack_tcp_timeout_fin_wait", 1, 1, i32::MAX as i64),
    (
        "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
        1,
        1,
        i32::MAX as i64,
    ),
    ("net.netfilter.nf_conntrack_tcp_timeout_last_ack", 1, 1, i32::MAX as i64),
    (
        "net.netfilter.nf_conntrack_tcp_timeout_time_wait",
        1,
        1,
        i32::MAX as i64,
    ),
    ("net.netfilter.nf_conntrack_tcp_timeout_close", 1, 1, i32::MAX as i64),
    ("net.netfilter.nf_conntrack_udp_timeout", 1, 1, i32::MAX as i64),
    ("net.netfilter.nf_conntrack_udp_timeout_stream", 1, 1, i32::MAX as i64),
];

impl Sysctls {
    /// Whether automatic port selection must skip `port` (`inet_is_local_reserved_port`).
    pub fn is_reserved(&self, port: u16) -> bool {
        self.ip_local_reserved_ports
            .iter()
            .any(|&(low, high)| (low..=high).contains(&port))
    }

    /// Sets `name` to `values`, validating as Linux's `proc_dointvec_minmax` handlers do.
    pub fn set(&mut self, name: &str, values: &[i64]) -> Result<(), String> {
        let Some(&(_, count, min, max)) = SETTABLE.iter().find(|s| s.0 == name) else {
            let known: Vec<&str> = SETTABLE.iter().map(|s| s.0).collect();
            return Err(format!("unknown sysctl `{name}`; supported: {}", known.join(", ")));
        };
        if count == 0 && values.len() % 2 != 0 {
            return Err(format!(
                "`{name}` takes ranges (pairs of values), found {} values",
                values.len()
            ));
        }
        if count != 0 && values.len() != count {
            return Err(format!("`{name}` takes {count} value(s), found {}", values.len()));
        }
        if let Some(v) = values.iter().find(|v| !(min..=max).contains(*v)) {
            return Err(format!("`{name}` value {v} is out of range {min}..={max}"));
        }
        match name {
            "net.ipv4.ip_local_port_range" => {
                // ipv4_local_port_range(): the low end must not exceed the high end.
                // ...and may not start below ip_unprivileged_port_start (ip_prot_sock).
                if values[0] < i64::from(self.ip_unprivileged_port_start) {
                    return Err(format!(
                        "`{name}`: low {} is below net.ipv4.ip_unprivileged_port_start ({})",
                        values[0], self.ip_unprivileged_port_start
                    ));
                }
                if values[0] > values[1] {
                    return Err(format!("`{name}`: low {} is above high {}", values[0], values[1]));
                }
                self.ip_local_port_range = (values[0] as u16, values[1] as u16);
            }
            "net.core.somaxconn" => self.somaxconn = values[0] as u32,
            "net.ipv4.tcp_tw_reuse" => self.tcp_tw_reuse = values[0] as u8,
            "net.ipv4.tcp_syn_retries" => self.tcp_syn_retries = values[0] as u8,
            "net.ipv4.tcp_syn_linear_timeouts" => self.tcp_syn_linear_timeouts = values[0] as u8,
            "net.ipv4.tcp_synack_retries" => self.tcp_synack_retries = values[0] as u8,
            "net.ipv4.tcp_fin_timeout" => self.tcp_fin_timeout = values[0] as u32,
            "net.ipv4.tcp_abort_on_overflow" => self.tcp_abort_on_overflow = values[0] != 0,
            "net.ipv4.tcp_retries2" => self.tcp_retries2 = values[0] as u8,
            "net.ipv4.ip_unprivileged_port_start" => self.ip_unprivileged_port_start = values[0] as u16,
            "net.ipv4.ip_local_reserved_ports" => {
                // proc_do_large_bitmap(): each item is a port or a LOW-HIGH range.
                if let Some(pair) = values.chunks(2).find(|p| p[0] > p[1]) {
                    return Err(format!("`{name}`: range {}-{} runs backwards", pair[0], pair[1]));
                }
                self.ip_local_reserved_ports = values.chunks(2).map(|p| (p[0] as u16, p[1] as u16)).collect();
            }
            "net.unix.max_dgram_qlen" => self.unix_max_dgram_qlen = values[0] as u32,
            "net.ipv4.ip_forward" => self.ip_forward = values[0] != 0,
            "net.netfilter.nf_conntrack_max" => self.conntrack.max = values[0] as u32,
            "net.netfilter.nf_conntrack_tcp_timeout_syn_sent" => self.conntrack.tcp_syn_sent = values[0] as u32,
            "net.netfilter.nf_conntrack_tcp_timeout_syn_recv" => self.conntrack.tcp_syn_recv = values[0] as u32,
            "net.netfilter.nf_conntrack_tcp_timeout_established" => self.conntrack.tcp_established = values[0] as u32,
            "net.netfilter.nf_conntrack_tcp_timeout_fin_wait" => self.conntrack.tcp_fin_wait = values[0] as u32,
            "net.netfilter.nf_conntrack_tcp_timeout_close_wait" => self.conntrack.tcp_close_wait = values[0] as u32,
            "net.netfilter.nf_conntrack_tcp_timeout_last_ack" => self.conntrack.tcp_last_ack = values[0] as u32,
            "net.netfilter.nf_conntrack_tcp_timeout_time_wait" => self.conntrack.tcp_time_wait = values[0] as u32,
            "net.netfilter.nf_conntrack_tcp_timeout_close" => self.conntrack.tcp_close = values[0] as u32,
            "net.netfilter.nf_conntrack_udp_timeout" => self.conntrack.udp = values[0] as u32,
            "net.netfilter.nf_conntrack_udp_timeout_stream" => self.conntrack.udp_stream = values[0] as u32,
            _ => unreachable!("every SETTABLE name is handled"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_linux() {
        let s = Sysctls::default();
        assert_eq!(s.ip_local_port_range, (32768, 60999));
        assert_eq!(s.somaxconn, 4096);
        assert_eq!(s.tcp_tw_reuse, 2);
    }

    #[test]
    fn set_validates() {
        let mut s = Sysctls::default();
        assert!(s.set("net.ipv4.ip_local_port_range", &[40000, 40009]).is_ok());
        assert_eq!(s.ip_local_port_range, (40000, 40009));
        assert!(s.set("net.ipv4.ip_local_port_range", &[40009, 40000]).is_err());
        assert!(s.set("net.ipv4.ip_local_port_range", &[1]).is_err());
        assert!(s.set("net.core.somaxconn", &[-1]).is_err());
        assert!(s.set("net.ipv4.nope", &[1]).unwrap_err().contains("supported"));
    }
}
