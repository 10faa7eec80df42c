"""Conntrack facts: UDP timeouts and the 2-second stream rule, TCP state timeouts,
`conntrack -L` format, nf_conntrack_max in a child netns."""
import re
import sys
from netlab import *

only = sys.argv[1:]


def want(n):
    return not only or n in only


def cleanup():
    for n in sh("ip netns list").split():
        if not n.startswith("(") and not n.startswith("id:"):
            sh(f"ip netns del {n}", check=False)


def ct_lines(lab):
    return [l for l in lab.conntrack("router").splitlines() if l and not l.startswith("conntrack v")]


def exchange(dst, port, sport, n, gap):
    """n request/reply exchanges from sport, `gap` seconds apart; returns replies' sources"""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", sport))
    s.settimeout(1)
    out = []
    for i in range(n):
        if i:
            time.sleep(gap)
        s.sendto(b"ping", (dst, port))
        try:
            out.append(s.recvfrom(100)[1])
        except socket.timeout:
            out.append(None)
    return out


if want("C01"):
    lab = Lab()
    home(lab, nat=MASQ % "", laptops=1, servers=1)
    srv = lab.spawn("server1", udp_server, 9000, 10, 8, True)
    time.sleep(0.2)
    lab.run("laptop1", udp_send, SERVERS[0], 9001, 4000, b"oneway")   # nobody on 9001: ICMP
    lab.run("laptop1", udp_send, "203.0.113.99", 9000, 4001, b"void")  # nobody at all
    lab.run("laptop1", exchange, SERVERS[0], 9000, 4002, 1, 0)         # request + reply < 2 s
    lab.spawn("laptop1", exchange, SERVERS[0], 9000, 4003, 2, 2.5)     # again after 2.5 s
    time.sleep(3.2)
    lines = ct_lines(lab)
    print("\n".join(lines))
    d = {int(re.search(r"sport=(\d+)", l).group(1)): l for l in lines if l.startswith("udp")}
    t = {k: int(v.split()[2]) for k, v in d.items()}
    report("C01 UDP: unreplied 30 s [UNREPLIED]; replied within 2 s: 30 s, not ASSURED; a packet >2 s after the first with a reply seen: 120 s [ASSURED]",
           "[UNREPLIED]" in d[4001] and 26 <= t[4001] <= 30 and "[ASSURED]" not in d[4002] and "[UNREPLIED]" not in d[4002]
           and 26 <= t[4002] <= 30 and "[ASSURED]" in d[4003] and 115 <= t[4003] <= 120,
           f"timeouts {t} (4000: answered only by ICMP port unreachable: still [UNREPLIED])")
    cleanup()

if want("C02"):
    # behaviour: with udp_timeout = 5 the mapping of an idle one-way flow is gone after 5 s
    lab = Lab()
    home(lab, nat=MASQ % "", laptops=2, servers=1)
    lab.sysctl("router", "net.netfilter.nf_conntrack_udp_timeout", 5)
    lab.sysctl("router", "net.netfilter.nf_conntrack_udp_timeout_stream", 20)
    srv = lab.spawn("server1", udp_server, 9000, 4, 12)
    time.sleep(0.2)
    t0 = time.monotonic()
    lab.run("laptop2", udp_send, SERVERS[0], 9000, 5555, b"a")
    time.sleep(1)
    lab.run("laptop1", udp_send, SERVERS[0], 9000, 5555, b"b")
    time.sleep(7 - (time.monotonic() - t0))
    lab.run("laptop1", udp_send, SERVERS[0], 9000, 5555, b"c")
    got = srv.result(20)
    report("C02 udp_timeout=5: an unreplied mapping expires after 5 s and its port is free again",
           got[0][1][1] == 5555 and got[1][1][1] != 5555 and got[2][1][1] == 5555, f"{got}")
    cleanup()

if want("C03"):
    lab = Lab()
    home(lab, nat=MASQ % "", laptops=2, servers=1)
    lab.sysctl("router", "net.netfilter.nf_conntrack_udp_timeout", 5)
    lab.sysctl("router", "net.netfilter.nf_conntrack_udp_timeout_stream", 20)
    srv = lab.spawn("server1", udp_server, 9000, 4, 14, True)
    time.sleep(0.2)
    t0 = time.monotonic()
    h = lab.spawn("laptop2", exchange, SERVERS[0], 9000, 5555, 2, 3)   # t=0 and t=3: stream
    time.sleep(8 - (time.monotonic() - t0))
    lines = ct_lines(lab)
    r = lab.run("laptop1", udp_send, SERVERS[0], 9000, 5555, b"late", 1)
    got = srv.result(20)
    report("C03 2-second rule: a reply seen and a packet >2 s later -> udp_timeout_stream (20 s here): the mapping outlives udp_timeout",
           got[0][1][1] == 5555 and got[-1][1][1] != 5555, f"{got}; table at t=8: {lines}")
    cleanup()

if want("C04"):
    lab = Lab()
    home(lab, nat=MASQ % "", laptops=1, servers=1, laptop_sysctls={"net.ipv4.tcp_syn_retries": 1})
    lab.nft("server1", "table ip f {\n chain in {\n type filter hook input priority 0\n tcp dport 81 drop\n }\n}\n")
    lab.spawn("server1", tcp_server, 80, 2, 3, 5)
    time.sleep(0.2)

    def est():
        s = socket.socket(); s.bind(("0.0.0.0", 7001)); s.connect((SERVERS[0], 80)); time.sleep(2.5); return "ok"

    def closer():
        l = socket.socket(); l.bind(("0.0.0.0", 83)); l.listen(1)
        c, _ = l.accept(); c.close(); time.sleep(1); return "ok"

    def tw():
        s = socket.socket(); s.bind(("0.0.0.0", 7002)); s.connect((SERVERS[0], 83))
        time.sleep(0.3); s.close(); time.sleep(0.2); return "ok"
    lab.spawn("server1", closer)
    time.sleep(0.2)
    h = lab.spawn("laptop1", est)
    lab.run("laptop1", tw)
    hs = lab.spawn("laptop1", tcp_connect, SERVERS[0], 81, ("0.0.0.0", 7003))
    lab.run("laptop1", tcp_connect, SERVERS[0], 82, ("0.0.0.0", 7004))   # RST
    time.sleep(0.5)
    lines = ct_lines(lab)
    print("\n".join(lines))
    d = {int(re.search(r"sport=(\d+)", l).group(1)): l for l in lines}
    ok = re.search(r" (43199\d|432000) ESTABLISHED", d[7001]) and "TIME_WAIT" in d[7002] \
        and re.search(r" 1(19|20) SYN_SENT", d[7003]) and 7004 not in d
    report("C04 TCP conntrack timeouts: ESTABLISHED 432000 s [ASSURED], TIME_WAIT 120 s, SYN_SENT 120 s, a SYN answered only by RST: entry deleted at once",
           bool(ok), "")
    h.result(); hs.result()
    cleanup()

if want("C05"):
    sh("true")
    lab = Lab()
    lab.host("router", forward=True)
    e = lab.ns("router", "sysctl -w net.netfilter.nf_conntrack_max=4", check=False).strip()
    v = lab.ns("router", "sysctl net.netfilter.nf_conntrack_max").strip()
    m = oct(os.stat("/proc/sys/net/netfilter/nf_conntrack_max").st_mode & 0o777) if os.path.exists("/proc/sys/net/netfilter/nf_conntrack_max") else "?"
    wr = lab.ns("router", "sysctl -w net.netfilter.nf_conntrack_udp_timeout=17", check=False).strip()
    report("C05 nf_conntrack_max is read-only in a child netns (global knob); the timeouts are per netns and writable",
           "262144" in v and ("denied" in e.lower() or "invalid" in e.lower()) or "read-only" in e.lower() or "not permitted" in e.lower(),
           f"write max -> {e!r}; value {v!r}; write udp_timeout -> {wr!r}")
    cleanup()

if want("C06"):
    # One-way UDP keepalives through masquerade with the default nf_conntrack_udp_timeout (30 s):
    # laptop1:5555 every 25 s keeps its mapping, laptop2:6666 every 35 s loses it in between.
    lab = Lab()
    home(lab, nat=MASQ % "", laptops=2, servers=1)
    t0 = time.monotonic() + 0.5

    def at(t):
        d = t0 + t - time.monotonic()
        if d > 0:
            time.sleep(d)

    def keepalive(sport, times, until):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", sport))
        for t in times:
            at(t)
            s.sendto(b"k", (SERVERS[0], 9000))
        at(times[-1])
        s.settimeout(max(0.1, t0 + until - time.monotonic()))
        got = []
        try:
            while True:
                got.append(s.recvfrom(100))
        except socket.timeout:
            pass
        return [(d.decode(), a) for d, a in got]

    def srv():
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        a.bind(("0.0.0.0", 9000))
        seen = []
        a.settimeout(0.2)
        res = {}
        while time.monotonic() < t0 + 37:
            try:
                d, addr = a.recvfrom(100)
                seen.append((round(time.monotonic() - t0), addr))
            except socket.timeout:
                pass
            if "push" not in res and time.monotonic() >= t0 + 32:
                for port in (5555, 6666):
                    p = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    p.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    p.bind(("0.0.0.0", 9000))
                    p.connect(("203.0.113.1", port))
                    p.send(b"push")
                    p.settimeout(1)
                    try:
                        p.recv(10)
                        res[port] = "data"
                    except OSError as e:
                        res[port] = errname(e.errno) if e.errno else "timeout"
                    p.close()
                res["push"] = True
        return seen, res

    hs = lab.spawn("server1", srv)
    h1 = lab.spawn("laptop1", keepalive, 5555, [0, 25], 36)
    h2 = lab.spawn("laptop2", keepalive, 6666, [0, 35], 36)
    at(31)
    ct31 = "\n".join(ct_lines(lab))
    seen, res = hs.result(60)
    ct37 = "\n".join(ct_lines(lab))
    g1, g2 = h1.result(60), h2.result(60)
    ok = (res.get(5555) == "timeout" and res.get(6666) == "ECONNREFUSED"
          and g1 == [("push", (SERVERS[0], 9000))] and g2 == []
          and "sport=5555" in ct31 and "sport=6666" not in ct31
          and [a for _, a in seen].count(("203.0.113.1", 6666)) == 1
          and [a for t, a in seen if t >= 34 and a[1] not in (5555, 6666)] != [])
    report("C06 one-way UDP keepalives: every 25 s keeps the mapping, every 35 s loses it (udp_timeout 30 s); "
           "the refused push holds 6666, so the 35 s keepalive gets a new port", ok,
           f"server saw {seen}; push results {res}; laptop1 got {g1}; laptop2 got {g2}\nat 31 s:\n{ct31}\nat 37 s:\n{ct37}")
    cleanup()
