"""TCP conntrack states through a whole connection life, as the NAT router's `conntrack -L`
shows them at each stage (T01-T05), and what happens to connections whose entry is gone or
reused (T06-T08), or reset (T09).

Every case uses the home world (laptop1 -> router (masquerade) -> server1). The sockets run
in children that act at fixed offsets from a common start (CLOCK_MONOTONIC is shared by the
forked children); the main process lists the router's table between the actions.
"""
import re
import struct
import sys
from netlab import *

only = sys.argv[1:]


def want(n):
    return not only or n in only


def cleanup():
    for n in sh("ip netns list").split():
        if not n.startswith("(") and not n.startswith("id:"):
            sh(f"ip netns del {n}", check=False)


def at(t0, t):
    d = t0 + t - time.monotonic()
    if d > 0:
        time.sleep(d)


def entry(lab, sport):
    """The router's conntrack line of the flow from laptop1:sport (None when there is none)."""
    for l in lab.ns("router", "conntrack -L -o id", check=False).splitlines():
        if f"sport={sport} " in l and l.startswith("tcp"):
            return l.strip()
    return None


def state_of(line):
    """(timeout, state, unreplied, assured) of a conntrack line."""
    if line is None:
        return None
    f = line.split()
    return int(f[2]), f[3], "[UNREPLIED]" in line, "[ASSURED]" in line


def linger0(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# ---- the two ends, driven by a list of (time, action) --------------------------------------
def server(t0, port, actions):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("0.0.0.0", port))
    l.listen(4)
    l.settimeout(5)
    c, _ = l.accept()
    return run_actions(t0, c, actions)


def client(t0, sport, dst, port, actions):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", sport))
    at(t0, 0)
    s.connect((dst, port))
    return run_actions(t0, s, actions)


def run_actions(t0, s, actions):
    log = []
    for t, a in actions:
        at(t0, t)
        try:
            if a == "close":
                s.close()
            elif a == "rst":
                linger0(s)
                s.close()
            elif a == "shut":
                s.shutdown(socket.SHUT_WR)
            elif a == "send":
                s.send(b"data")
            elif a == "recv":
                s.settimeout(1)
                log.append(s.recv(100))
            log.append((t, a, "ok"))
        except OSError as e:
            log.append((t, a, errname(e.errno)))
    return log


def life(lab, sport, srv_actions, cli_actions, probes, extra=None):
    """Runs one connection; lists the router's entry at each probe time (seconds). `extra`
    maps a time to a function the main process runs then (before a probe at the same time)."""
    t0 = time.monotonic() + 0.5
    hs = lab.spawn("server1", server, t0, 80, srv_actions)
    hc = lab.spawn("laptop1", client, t0, sport, SERVERS[0], 80, cli_actions)
    events = sorted([(t, 0, None) for t in (extra or {})] + [(t, 1, None) for t in probes])
    seen = []
    for t, kind, _ in events:
        at(t0, t)
        if kind == 0:
            extra[t]()
            continue
        line = entry(lab, sport)
        print(f"  t={t:<4} {line}")
        seen.append(state_of(line))
    return seen, hs.result(20), hc.result(20)


def world():
    lab = Lab()
    home(lab, nat=MASQ % "", laptops=1, servers=1)
    return lab


if want("T01"):
    # client closes first; the server closes 1 s later
    lab = world()
    seen, s, c = life(lab, 7101, [(1.2, "recv"), (2.0, "close")], [(1.0, "close")], [0.5, 1.5, 2.5])
    ok = seen[0][1] == "ESTABLISHED" and seen[0][3] and seen[1][1] == "CLOSE_WAIT" and 58 <= seen[1][0] <= 60 \
        and seen[2][1] == "TIME_WAIT" and 118 <= seen[2][0] <= 120 and seen[2][3]
    report("T01 client closes first: ESTABLISHED [ASSURED] -> (FIN, ACK) CLOSE_WAIT 60 s -> (FIN, ACK) TIME_WAIT 120 s",
           ok, f"{seen}")
    cleanup()

if want("T02"):
    # server closes first; the client closes 1 s later
    lab = world()
    seen, s, c = life(lab, 7102, [(1.0, "close")], [(1.2, "recv"), (2.0, "close")], [0.5, 1.5, 2.5])
    ok = seen[1][1] == "CLOSE_WAIT" and 58 <= seen[1][0] <= 60 and seen[2][1] == "TIME_WAIT" and 118 <= seen[2][0] <= 120
    report("T02 server closes first: the same states (conntrack does not care who closes): CLOSE_WAIT 60 s, then TIME_WAIT 120 s",
           ok, f"{seen}")
    cleanup()

if want("T03"):
    # RST in the middle of an established connection (SO_LINGER 0 close), from either side;
    # nf_conntrack_tcp_timeout_close = 3 to see the entry go
    lab = world()
    lab.sysctl("router", "net.netfilter.nf_conntrack_tcp_timeout_close", 3)
    seen, s, c = life(lab, 7103, [(3.0, "recv")], [(1.0, "rst")], [0.5, 1.5, 4.6])
    ok = seen[1][1] == "CLOSE" and seen[1][3] and 1 <= seen[1][0] <= 3 and seen[2] is None
    report("T03a RST from the client mid-connection: CLOSE, timeout nf_conntrack_tcp_timeout_close, still [ASSURED]; gone after it",
           ok, f"{seen}; server: {s}")
    seen, s, c = life(lab, 7104, [(1.0, "rst")], [(3.0, "recv"), (3.1, "send")], [0.5, 1.5, 4.6])
    ok = seen[1][1] == "CLOSE" and seen[1][3] and seen[2] is None
    report("T03b RST from the server mid-connection: CLOSE as well", ok, f"{seen}; client: {c}")
    lab.sysctl("router", "net.netfilter.nf_conntrack_tcp_timeout_close", 10)
    seen, s, c = life(lab, 7105, [(3.0, "recv")], [(1.0, "rst")], [1.5])
    report("T03c default: CLOSE 10 s", seen[0][1] == "CLOSE" and 8 <= seen[0][0] <= 10, f"{seen}")
    cleanup()

if want("T04"):
    # simultaneous close, as conntrack sees it: both FINs pass the router before either ACK.
    # The client's FIN is dropped by the router's forward filter (after conntrack saw it) until
    # t=1.8, so the server sends its own FIN before it hears of the client's.
    lab = world()
    lab.nft("router", "table ip f {\n chain fw {\n type filter hook forward priority 0\n"
                      " iifname \"lan\" tcp flags & fin == fin drop\n }\n}\n")
    seen, s, c = life(lab, 7106, [(1.3, "close")], [(1.0, "shut"), (1.5, "recv"), (2.5, "close")],
                      [1.15, 1.6, 4.5], extra={3.0: lambda: lab.ns("router", "nft flush table ip f")})
    ok = seen[0][1] == "FIN_WAIT" and 118 <= seen[0][0] <= 120 and seen[1][1] == "TIME_WAIT" and seen[2][1] == "TIME_WAIT"
    report("T04 both FINs before any ACK (simultaneous close): FIN_WAIT 120 s -> (other FIN) LAST_ACK -> (ACK) TIME_WAIT 120 s",
           ok, f"{seen}")
    cleanup()

if want("T05"):
    # the [ASSURED] moment: the handshake's third ACK. The laptop drops its pure ACKs to port 80
    # until t=1, so the router sees SYN and SYN-ACK only.
    lab = world()
    lab.nft("laptop1", "table ip f {\n chain out {\n type filter hook output priority 0\n"
                       " tcp dport 80 tcp flags == ack drop\n }\n}\n")
    seen, s, c = life(lab, 7107, [(1.5, "recv")], [(1.2, "send"), (2.0, "recv")], [0.5, 1.4],
                      extra={1.0: lambda: lab.ns("laptop1", "nft flush table ip f")})
    ok = seen[0][1] == "SYN_RECV" and not seen[0][2] and not seen[0][3] and 57 <= seen[0][0] <= 60 \
        and seen[1][1] == "ESTABLISHED" and seen[1][3]
    report("T05 after SYN and SYN-ACK: SYN_RECV 60 s, replied but not [ASSURED]; the client's next ACK (here with data): ESTABLISHED [ASSURED]",
           ok, f"{seen}")
    cleanup()

if want("T06"):
    # mid-stream pickup (nf_conntrack_tcp_loose = 1): the entry of an idle connection expires
    # (nf_conntrack_tcp_timeout_established = 3) and the next data segment creates a new one.
    lab = world()
    lab.sysctl("router", "net.netfilter.nf_conntrack_tcp_timeout_established", 3)
    seen, s, c = life(lab, 7201, [(4.6, "recv"), (5.1, "recv")], [(4.5, "send"), (5.0, "send")],
                      [0.5, 4.0, 4.8, 5.3])
    ok = seen[1] is None and seen[2][1] == "ESTABLISHED" and not seen[2][2] and not seen[2][3] \
        and seen[3][3] and s[0] == b"data"
    report("T06a an expired entry is picked up mid-stream by the next data segment: ESTABLISHED, same port kept, "
           "replied, not [ASSURED] until the next original-direction packet; the connection goes on",
           ok, f"{seen}; server: {s}")
    cleanup()

if want("T06b"):
    # the same, when the connection's port was taken meanwhile: the pickup gets another
    # port, the server answers the unknown segment with RST
    lab = world()
    lab.host("laptop2")
    lab.addr("laptop2", LAPTOPS[1], "lan")
    lab.route("laptop2", "default via 192.168.1.1")
    lab.settle()
    lab.sysctl("router", "net.netfilter.nf_conntrack_tcp_timeout_established", 3)
    t0 = time.monotonic() + 0.5

    def srv2():
        l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.bind(("0.0.0.0", 80)); l.listen(4); l.settimeout(8)
        a, pa = l.accept(); b, pb = l.accept()
        at(t0, 6)
        return pa, pb

    def cli1():
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", 7202)); at(t0, 0); s.connect((SERVERS[0], 80))
        at(t0, 4.5); s.send(b"late")
        s.settimeout(1)
        try:
            r = s.recv(10)
        except OSError as e:
            r = errname(e.errno)
        return r

    def cli2():
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", 7202)); at(t0, 3.8); s.connect((SERVERS[0], 80))
        at(t0, 6)
        return "ok"
    hs = lab.spawn("server1", srv2)
    h1 = lab.spawn("laptop1", cli1)
    h2 = lab.spawn("laptop2", cli2)
    at(t0, 4.2)
    before = lab.conntrack("router")
    at(t0, 5.0)
    after = lab.conntrack("router")
    print(before, after, sep="\n")
    r1, r2, peers = h1.result(), h2.result(), hs.result()
    report("T06b pickup when the old port is taken: another port, the server resets it: the client gets ECONNRESET",
           r1 == "ECONNRESET" and r2 == "ok" and peers[1][1] == 7202, f"laptop1 recv: {r1}; server peers {peers}")
    cleanup()

if want("T07"):
    # TIME_WAIT takeover in a two-port SNAT range (nf_nat_used_tuple_harder()): two flows to
    # server1:80 close (TIME_WAIT on the router), then a third host connects to server1:80.
    lab = Lab()
    home(lab, nat="chain post { type nat hook postrouting priority 100; oifname \"wan\" meta l4proto tcp snat to 203.0.113.1:20000-20001; }",
         laptops=3, servers=1, laptop_sysctls={"net.ipv4.tcp_syn_retries": 1})
    results = []

    def srv(n):
        l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.bind(("0.0.0.0", 80)); l.listen(8); l.settimeout(6)
        got = []
        try:
            for _ in range(n):
                c, a = l.accept(); got.append(a); c.close()
        except socket.timeout:
            pass
        return got

    def cc():
        s = socket.socket(); s.connect((SERVERS[0], 80)); s.recv(1); s.close(); time.sleep(0.2)
        return s.getsockname() if False else "ok"
    for trial in range(6):
        lab.ns("router", "conntrack -F", check=False)
        hs = lab.spawn("server1", srv, 3)
        time.sleep(0.2)
        lab.run("laptop1", cc)
        lab.run("laptop2", cc)
        time.sleep(0.3)
        tw = [l for l in lab.conntrack("router").splitlines() if "TIME_WAIT" in l]
        r = lab.run("laptop3", tcp_connect, SERVERS[0], 80)
        peers = hs.result(20)
        table = [l for l in lab.conntrack("router").splitlines() if l.startswith("tcp")]
        print(f"trial {trial}: {len(tw)} TIME_WAIT before; laptop3 {r}; server peers {peers}")
        print("\n".join("   " + l for l in table))
        results.append(r[0])
    report("T07 a new SYN from another host to the same destination in a full two-port SNAT range: takes over a "
           "TIME_WAIT entry only when its sequence number has advanced past the old flow's (nf_seq_has_advanced), "
           "so it works in some trials and times out in others",
           "ok" in results, f"{results} ({results.count('ok')}/6 ok)")
    print(lab.ns("router", "conntrack -S", check=False))
    cleanup()

if want("T08"):
    # A SYN in the reply direction on a TIME_WAIT entry: server1:80 connects back to the
    # mapping 203.0.113.1:5000 that laptop1's closed connection (router TIME_WAIT) used, while
    # laptop1 listens on 5000.
    lab = world()
    t0 = time.monotonic() + 0.5

    def srv():
        l = socket.socket()
        l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.bind(("0.0.0.0", 80))
        l.listen(4)
        l.settimeout(3)
        c, peer = l.accept()
        c.recv(10)
        c.close()
        l.close()
        at(t0, 2)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", 80))
        try:
            s.connect(("203.0.113.1", 5000)); r = "ok"
        except OSError as e:
            r = errname(e.errno)
        return peer, r

    def cli():
        at(t0, 0.2)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", 5000))
        s.connect((SERVERS[0], 80))
        at(t0, 0.5)
        s.close()
        at(t0, 1)
        l = socket.socket()
        l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.bind(("0.0.0.0", 5000))
        l.listen(4)
        l.settimeout(2.5)
        try:
            return l.accept()[1]
        except socket.timeout:
            return "timeout"

    hs = lab.spawn("server1", srv)
    hc = lab.spawn("laptop1", cli)
    at(t0, 1.5)
    before = lab.conntrack("router")
    at(t0, 2.5)
    after = lab.conntrack("router")
    peer, r = hs.result()
    acc = hc.result(10)
    report("T08 a SYN in the reply direction reopens a TIME_WAIT entry: the old mapping is gone, the router answers the SYN itself (RST)",
           peer == ("203.0.113.1", 5000) and "TIME_WAIT" in before and r == "ECONNREFUSED" and acc == "timeout"
           and "sport=5000" not in after,
           f"server accepted {peer}, connect back {r}; laptop1 listener {acc}\nbefore:\n{before}\nafter:\n{after}")
    cleanup()

if want("T09"):
    # A new SYN on an entry in CLOSE: laptop1:sport is connected to server1:80 through the
    # masquerading router; the connection is reset (SO_LINGER 0 close) by the server (a), by
    # the client (b), or by the server after the client's FIN (c). At t=2 the client connects
    # again from the same port (SO_REUSEADDR). We record how long connect() takes and the
    # router's entry before and after.
    lab = world()

    def srv9(t0, who):
        l = socket.socket()
        l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.bind(("0.0.0.0", 80))
        l.listen(4)
        l.settimeout(6)
        c, pa = l.accept()
        if who.startswith("server"):
            at(t0, 1.0)
            linger0(c)
            c.close()
        else:
            at(t0, 1.5)
            try:
                c.recv(10); r0 = "eof"
            except OSError as e:
                r0 = errname(e.errno)
        try:
            d, pb = l.accept()
        except socket.timeout:
            return pa, "timeout", None
        t = time.monotonic() - t0
        at(t0, 4.5)
        return pa, pb, round(t, 2)

    def cli9(t0, sport, who):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", sport))
        at(t0, 0)
        s.connect((SERVERS[0], 80))
        if who.startswith("client"):
            at(t0, 1.0)
            linger0(s)
            s.close()
        else:
            if who == "server-after-fin":
                at(t0, 0.8)
                s.shutdown(socket.SHUT_WR)
            at(t0, 1.5)
            s.settimeout(1)
            try:
                s.recv(10); r0 = "eof"
            except OSError as e:
                r0 = errname(e.errno)
            s.close()
        at(t0, 2.0)
        n = socket.socket()
        n.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        n.bind(("0.0.0.0", sport))
        n.settimeout(2.2)
        t = time.monotonic()
        try:
            n.connect((SERVERS[0], 80)); r = "ok"
        except socket.timeout:
            r = "timeout"
        except OSError as e:
            r = errname(e.errno)
        el = round(time.monotonic() - t, 2)
        at(t0, 4.5)
        return r, el

    res = {}
    for case, sport, who in (("T09a", 7301, "server"), ("T09b", 7302, "client"), ("T09c", 7303, "server-after-fin"),
                             ("T09d", 7304, "server-silent"), ("T09e", 7305, "server-ackless"),
                             ("T09f", 7306, "client-ackless")):
        t0 = time.monotonic() + 0.5
        if who == "server-silent":
            # from t=1.5 server1 drops every SYN to port 80: the new SYN goes unanswered
            lab.nft("server1", "table ip f {\n chain in {\n type filter hook input priority 0\n"
                               " tcp dport 80 tcp flags == syn drop\n }\n}\n")
            lab.ns("server1", "nft add chain ip f in '{ policy accept; }'")
            lab.ns("server1", "nft flush table ip f")
        if who.endswith("-ackless"):
            # laptop1 drops its pure ACKs to port 80 from t=1.8 to t=3: the router sees the new
            # SYN and SYN-ACK only
            lab.nft("laptop1", "table ip f {\n chain out {\n type filter hook output priority 0\n }\n}\n")
        hs = lab.spawn("server1", srv9, t0, who)
        hc = lab.spawn("laptop1", cli9, t0, sport, who)
        if who == "server-silent":
            at(t0, 1.5)
            lab.ns("server1", "nft add rule ip f in tcp dport 80 tcp flags == syn drop")
        if who.endswith("-ackless"):
            at(t0, 1.5)
            lab.ns("laptop1", "nft add rule ip f out tcp dport 80 tcp flags == ack drop")
        at(t0, 1.8)
        ev = subprocess.Popen(["ip", "netns", "exec", "router", "conntrack", "-E", "-p", "tcp"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = {}
        for t in (1.5, 2.1, 2.5, 3.5):
            at(t0, t)
            lines[t] = entry(lab, sport)
            if t == 2.5 and who.endswith("-ackless"):
                lab.ns("laptop1", "nft flush table ip f")
        stats = lab.ns("router", "conntrack -S", check=False)
        ev.terminate()
        events = ev.communicate()[0].strip()
        print(f"{case} events from t=1.8 to 3.5:\n  " + events.replace("\n", "\n  "))
        peers = hs.result(20)
        c = hc.result(20)
        print(f"{case} ({who} resets): client reconnect {c}; server accepted {peers}")
        for t, l in lines.items():
            print(f"  t={t:<4} {l}")
        print("  " + stats.strip().replace("\n", "\n  "))
        res[case] = (c, lines, events)
        if who == "server-silent":
            lab.ns("server1", "nft delete table ip f")
    c, l, e = res["T09a"]
    report("T09a the server resets (no FIN seen), the client reconnects from the same port 1 s later: the SYN is "
           "ignored and passes on the CLOSE entry, its SYN-ACK resyncs the same entry (no NEW event) to SYN_RECV; "
           "connect() succeeds at once, the entry is ESTABLISHED [ASSURED]",
           c == ("ok", 0.0) and "CLOSE" in (l[1.5] or "") and "ESTABLISHED" in (l[2.1] or "")
           and "[ASSURED]" in (l[2.1] or "") and "[NEW]" not in e, f"{c}")
    c, l, e = res["T09b"]
    report("T09b the client resets, then reconnects from the same port: its SYN kills the entry and starts a new one "
           "([NEW] SYN_SENT); connect() succeeds at once",
           c == ("ok", 0.0) and "CLOSE" in (l[1.5] or "") and "ESTABLISHED" in (l[2.1] or "") and "[NEW]" in e, f"{c}")
    c, l, e = res["T09c"]
    report("T09c the client's FIN, then the server's RST: a FIN was seen, so the SYN starts a new entry as well",
           c == ("ok", 0.0) and "CLOSE" in (l[1.5] or "") and "ESTABLISHED" in (l[2.1] or "") and "[NEW]" in e, f"{c}")
    c, l, e = res["T09d"]
    ts = [int(l[t].split()[2]) if l[t] and " CLOSE " in l[t] else None for t in (1.5, 2.1, 2.5, 3.5)]
    report("T09d as T09a, but the server never answers the new SYN: the entry stays CLOSE [ASSURED] and the SYNs "
           "(first and retransmitted) do not refresh its timeout",
           c[0] == "timeout" and None not in ts and ts[3] < ts[0] and "[ASSURED]" in l[3.5], f"{c}; CLOSE timeouts {ts}")
    c, l, e = res["T09e"]
    report("T09e as T09a, with the client's third ACK held back: after the SYN-ACK the old entry is SYN_RECV 60 s and "
           "still [ASSURED]",
           " SYN_RECV " in (l[2.5] or "") and "[ASSURED]" in (l[2.5] or "") and "ESTABLISHED" in (l[3.5] or ""), f"{c}")
    c, l, e = res["T09f"]
    report("T09f as T09b, with the client's third ACK held back: the new entry is SYN_RECV, not [ASSURED]",
           " SYN_RECV " in (l[2.5] or "") and "[ASSURED]" not in (l[2.5] or "") and "ESTABLISHED" in (l[3.5] or ""),
           f"{c}")
    cleanup()
