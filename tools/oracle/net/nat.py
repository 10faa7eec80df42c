"""NAT facts (masquerade / snat / dnat / hairpin / filtering) on the standard home world."""
import sys
from netlab import *

only = sys.argv[1:]


def want(n):
    return not only or n in only


def fresh():
    return Lab()


def cleanup():
    for n in sh("ip netns list").split():
        if n.startswith("(") or n.startswith("id:"):
            continue
        sh(f"ip netns del {n}", check=False)


def udp_flows(lab, flows, servers=("server1",), port=9000):
    """flows: [(laptop, sport, server_ip)]; returns the (ip, port) each server saw, per flow."""
    hs = {s: lab.spawn(s, udp_server, port, sum(1 for f in flows if f[2] == SERVERS[int(s[-1]) - 1]), 3)
          for s in servers}
    time.sleep(0.2)
    for i, (lp, sport, dst) in enumerate(flows):
        lab.run(lp, udp_send, dst, port, sport, f"f{i}".encode())
    seen = {}
    for s, h in hs.items():
        for d, a in h.result():
            seen[int(d[1:])] = a
    return [seen.get(i) for i in range(len(flows))]


# N01..N04: port preservation, clash, per-destination sharing, endpoint-independent reuse (UDP)
if want("N01"):
    lab = fresh()
    home(lab, nat=MASQ % "", laptops=2, servers=2)
    s1, s2 = SERVERS
    r = udp_flows(lab, [("laptop1", 5555, s1), ("laptop2", 5555, s1), ("laptop1", 6000, s1),
                        ("laptop2", 6000, s2), ("laptop2", 5555, s2), ("laptop1", 5555, s2)],
                  servers=("server1", "server2"))
    ok1 = r[0] == ("203.0.113.1", 5555)
    ok2 = r[1][0] == "203.0.113.1" and r[1][1] != 5555 and 1024 <= r[1][1] <= 65535
    ok3 = r[2][1] == 6000 and r[3][1] == 6000
    ok4 = r[4][1] == r[1][1] and r[5][1] == 5555
    report("N01 masquerade keeps the source port when unique (UDP)", ok1, f"laptop1:5555->server1 seen as {r[0]}")
    report("N02 same inside port, same destination: second flow gets another port in 1024..65535", ok2,
           f"laptop2:5555->server1 seen as {r[1]}")
    report("N03 same inside port toward different destinations: both keep it", ok3,
           f"laptop1:6000->server1 {r[2]}, laptop2:6000->server2 {r[3]}")
    report("N04 endpoint-independent reuse: laptop2:5555->server2 reuses its mapping", ok4,
           f"laptop2:5555->server2 {r[4]} (its server1 mapping {r[1]}); laptop1:5555->server2 {r[5]}")
    print(lab.conntrack("router"))
    # TCP version of N01/N02
    hs = lab.spawn("server1", tcp_server, 80, 2, 0.5, 5)
    time.sleep(0.2)
    a = lab.run("laptop1", tcp_connect, s1, 80, ("0.0.0.0", 5555))
    b = lab.run("laptop2", tcp_connect, s1, 80, ("0.0.0.0", 5555))
    peers = hs.result()
    report("N01t/N02t TCP: first keeps 5555, second gets another port", peers[0] == ("203.0.113.1", 5555)
           and peers[1][1] != 5555 and peers[1][1] >= 1024, f"server1 accepted {peers}; client getsockname {a[2]} {b[2]}")
    print(lab.conntrack("router"))
    cleanup()

if want("N05"):
    lab = fresh()
    home(lab, nat=MASQ % "fully-random", laptops=1, servers=2)
    flows = [("laptop1", 5555 + i, SERVERS[0]) for i in range(6)] + [("laptop1", 5555, SERVERS[1])]
    r = udp_flows(lab, flows, servers=("server1", "server2"))
    ok = all(x[1] != f[1] and 1024 <= x[1] <= 65535 for x, f in zip(r, flows)) and r[6][1] != r[0][1]
    report("N05 masquerade random-fully: port never the source port; a new port per destination", ok,
           f"{[(f[1], x[1]) for f, x in zip(flows, r)]}")
    cleanup()

if want("N06"):
    lab = fresh()
    home(lab, nat="""chain post { type nat hook postrouting priority 100; oifname "wan" ip saddr 192.168.1.0/24 meta l4proto { tcp, udp } snat to 203.0.113.1:20000-20001; }""",
         laptops=3, servers=2, laptop_sysctls={"net.ipv4.tcp_syn_retries": 2})
    hs = lab.spawn("server1", tcp_server, 80, 3, 0.5, 12)
    h2 = lab.spawn("server2", tcp_server, 80, 1, 0.5, 12)
    time.sleep(0.2)
    a = lab.spawn("laptop1", tcp_connect, SERVERS[0], 80)
    b = lab.spawn("laptop2", tcp_connect, SERVERS[0], 80)
    time.sleep(0.5)
    c = lab.run("laptop3", tcp_connect, SERVERS[0], 80)
    d = lab.run("laptop3", tcp_connect, SERVERS[1], 80)
    a, b = a.result(), b.result()
    peers = hs.result()
    stats = lab.ns("router", "conntrack -S")
    report("N06 snat port range of 2: third flow to the same destination dropped (TCP ETIMEDOUT); other destination fine",
           a[0] == b[0] == "ok" and c[0] == "ETIMEDOUT" and d[0] == "ok" and
           sorted(p[1] for p in peers) == [20000, 20001],
           f"laptop1 {a}, laptop2 {b}, laptop3->server1 {c}, laptop3->server2 {d}; server1 saw {peers}, server2 saw {h2.result()}\n{stats}")
    # UDP
    r = udp_flows(lab, [("laptop1", 5555, SERVERS[0]), ("laptop2", 5555, SERVERS[0]), ("laptop3", 5555, SERVERS[0])])
    stats = lab.ns("router", "conntrack -S")
    report("N06u UDP: the third flow is silently lost (sendto returns 5)", r[2] is None and r[0] and r[1],
           f"{r}\n{stats}")
    cleanup()

if want("N07"):
    lab = fresh()
    home(lab, nat=MASQ % "", laptops=2, servers=1)
    s1 = SERVERS[0]
    r = udp_flows(lab, [("laptop1", 80, s1), ("laptop2", 80, s1), ("laptop1", 700, s1), ("laptop2", 700, s1),
                        ("laptop1", 511, s1), ("laptop2", 511, s1)])
    ok = (r[0][1] == 80 and 1 <= r[1][1] <= 511 and r[1][1] != 80 and r[2][1] == 700 and
          600 <= r[3][1] <= 1023 and r[3][1] != 700 and 1 <= r[5][1] <= 511)
    report("N07 clashing source ports < 512 map into 1..511, 512..1023 into 600..1023", ok, f"{r}")
    cleanup()

if want("N08"):
    lab = fresh()
    home(lab, nat=MASQ % "" + """
chain pre { type nat hook prerouting priority -100; iifname "wan" tcp dport 8080 dnat to 192.168.1.10:80; iifname "wan" udp dport 5353 dnat to 192.168.1.10:53; }""",
         laptops=1, servers=1)
    hs = lab.spawn("laptop1", tcp_server, 80, 1, 0.5, 5)
    hu = lab.spawn("laptop1", udp_server, 53, 1, 3, True)
    time.sleep(0.2)

    def client():
        s = socket.socket()
        s.connect(("203.0.113.1", 8080))
        return s.getsockname(), s.getpeername()
    c = lab.run("server1", client)
    u = lab.run("server1", udp_send, "203.0.113.1", 5353, 7777, b"q", 2)
    p = hs.result()
    pu = hu.result()
    ct = lab.conntrack("router")
    report("N08 dnat port forward: inside server sees the client's real address; client's peer is the public addr",
           p[0] == c[0] and c[1] == ("203.0.113.1", 8080) and pu[0][1] == ("203.0.113.5", 7777)
           and u["reply"][1] == ("203.0.113.1", 5353),
           f"client {c}; server accepted {p}; udp: server got {pu}, client got reply {u['reply']}\n{ct}")
    cleanup()

if want("N09"):
    lab = fresh()
    dn = """chain pre { type nat hook prerouting priority -100; ip daddr 203.0.113.1 tcp dport 8080 dnat to 192.168.1.10:80; ip daddr 203.0.113.1 udp dport 5353 dnat to 192.168.1.10:53; }"""
    home(lab, nat=MASQ % "" + "\n" + dn, laptops=2, servers=0,
         laptop_sysctls={"net.ipv4.tcp_syn_retries": 2})
    hs = lab.spawn("laptop1", tcp_server, 80, 3, 0.3, 10)
    hu = lab.spawn("laptop1", udp_server, 53, 3, 10, True)
    time.sleep(0.2)
    c = lab.run("laptop2", tcp_connect, "203.0.113.1", 8080)
    u = lab.run("laptop2", udp_send, "203.0.113.1", 5353, 7777, b"q", 2, True)
    u2 = lab.run("laptop2", udp_send, "203.0.113.1", 5353, 7779, b"s", 2, False)
    mib = lab.ns("laptop2", "nstat -az TcpOutRsts TcpInSegs").split("\n", 1)[1].strip()
    mib1 = lab.ns("laptop1", "nstat -az TcpPassiveOpens TcpEstabResets TcpOutSegs").split("\n", 1)[1].strip()
    report("N09 hairpin without SNAT fails: TCP connect ETIMEDOUT (client RSTs the server's direct SYN-ACK)",
           c[0] == "ETIMEDOUT", f"tcp {c}; udp connected {u}; udp unconnected {u2}\nlaptop2: {mib}\nlaptop1: {mib1}\n" + lab.conntrack("router"))
    lab.nft("router", "table ip nat {\n chain post {\n oifname \"lan\" ip saddr 192.168.1.0/24 ip daddr 192.168.1.10 ct status dnat masquerade\n }\n}\n")
    sh("ip netns exec router conntrack -F", check=False)
    time.sleep(0.1)
    c = lab.run("laptop2", tcp_connect, "203.0.113.1", 8080)
    u = lab.run("laptop2", udp_send, "203.0.113.1", 5353, 7778, b"r", 2, True)
    p = hs.result()
    pu = hu.result()
    report("N10 hairpin with masquerade works; the inside server sees the router's lan address",
           c[0] == "ok" and p[-1][0] == "192.168.1.1" and u["reply"][1] == ("203.0.113.1", 5353),
           f"tcp {c}; server accepted {p}; udp {u}; server got {pu}\n" + lab.conntrack("router"))
    cleanup()

if want("N11"):
    lab = fresh()
    home(lab, nat=MASQ % "", laptops=1, servers=2)
    hs = lab.spawn("server1", tcp_server, 80, 1, 3, 5)
    hu = lab.spawn("server1", udp_server, 9000, 1, 3)
    time.sleep(0.2)
    lab.run("laptop1", udp_send, SERVERS[0], 9000, 5555, b"x")
    hold = lab.spawn("laptop1", tcp_connect, SERVERS[0], 80, ("0.0.0.0", 7000))
    time.sleep(0.3)

    def probe(port, sport):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("0.0.0.0", sport))
        u.connect(("203.0.113.1", port))
        u.send(b"unsolicited")
        u.settimeout(1)
        try:
            ur = u.recv(10)
        except OSError as e:
            ur = errname(e.errno) if e.errno else "timeout"
        t = socket.socket()
        try:
            t.connect(("203.0.113.1", 7000)); tr = "ok"
        except OSError as e:
            tr = errname(e.errno)
        return ur, tr
    a = lab.run("server2", probe, 5555, 9000)
    b = lab.run("server1", probe, 5555, 9001)
    hold.result()
    report("N11 unsolicited inbound to a mapped external port is not translated: router answers itself (UDP ICMP -> ECONNREFUSED, TCP RST -> ECONNREFUSED)",
           a == ("ECONNREFUSED", "ECONNREFUSED") and b == ("ECONNREFUSED", "ECONNREFUSED"),
           f"from server2:9000 {a}; from server1:9001 {b}")
    cleanup()

if want("N12"):
    # Unsolicited inbound to a port nothing uses, and a NAT mapping on a port a socket of the
    # router itself is bound to.
    lab = fresh()
    home(lab, nat=MASQ % "", laptops=1, servers=2)
    s1, s2 = SERVERS

    def router_udp(port, first=None, n=2, timeout=3):
        """A UDP socket of the router on `port`; optionally sends to `first` at once; returns
        what it receives."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        if first:
            s.sendto(b"router", first)
        s.settimeout(timeout)
        got = []
        try:
            for _ in range(n):
                d, a = s.recvfrom(100)
                got.append((d.decode(), a))
        except socket.timeout:
            pass
        return got

    def probe(port):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("0.0.0.0", 9100))
        u.connect(("203.0.113.1", port))
        u.send(b"unsolicited")
        u.settimeout(1)
        try:
            ur = u.recv(10)
        except OSError as e:
            ur = errname(e.errno) if e.errno else "timeout"
        t = socket.socket()
        try:
            t.connect(("203.0.113.1", port)); tr = "ok"
        except OSError as e:
            tr = errname(e.errno)
        return ur, tr
    a = lab.run("server2", probe, 4444)
    report("N12a unsolicited inbound to an unused port of the NAT box: UDP -> ECONNREFUSED (ICMP port unreachable), TCP -> ECONNREFUSED (RST)",
           a == ("ECONNREFUSED", "ECONNREFUSED"), f"{a}")

    # (b) the router's socket on 5555, then laptop1:5555 -> server1:9000
    hr = lab.spawn("router", router_udp, 5555, None, 2, 3)
    time.sleep(0.2)

    def inside(sport, dst, wait):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", sport))
        s.sendto(b"inside", (dst, 9000))
        s.settimeout(wait)
        got = []
        try:
            while True:
                d, a = s.recvfrom(100)
                got.append((d.decode(), a))
        except socket.timeout:
            pass
        return got

    def srv(port, n, reply_to=None, timeout=2):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.settimeout(timeout)
        got = []
        try:
            for _ in range(n):
                d, a = s.recvfrom(100)
                got.append((d.decode(), a))
                s.sendto(b"reply", a)
        except socket.timeout:
            pass
        return got

    h1 = lab.spawn("server1", srv, 9000, 1)
    time.sleep(0.2)
    hl = lab.spawn("laptop1", inside, 5555, s1, 1.5)
    seen1 = h1.result()

    def send_to(dst, port, sport, data):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", sport))
        s.sendto(data, (dst, port))
        return True
    lab.run("server2", send_to, "203.0.113.1", 5555, 9000, b"from-server2")
    lab.run("server1", send_to, "203.0.113.1", 5555, 9000, b"again-server1")
    got_l = hl.result()
    got_r = hr.result()
    ct = lab.conntrack("router")
    report("N12b a NAT mapping may take a port a router socket is bound to; its replies go inside, others reach the router's socket",
           seen1 == [("inside", ("203.0.113.1", 5555))] and ("from-server2", (s2, 9000)) in got_r
           and all(x[0] != "again-server1" for x in got_r) and ("again-server1", (s1, 9000)) in got_l,
           f"server1 saw {seen1}; laptop1 got {got_l}; router socket got {got_r}\n{ct}")

    # (c) the router's own flow from 6000 to server1:9000 first, then laptop1:6000 -> server1:9000
    h1 = lab.spawn("server1", srv, 9000, 2)
    time.sleep(0.2)
    hr = lab.spawn("router", router_udp, 6000, (s1, 9000), 2, 1.5)
    time.sleep(0.3)
    hl = lab.spawn("laptop1", inside, 6000, s1, 1)
    seen = h1.result()
    got_l, got_r = hl.result(), hr.result()
    ct = lab.conntrack("router")
    report("N12c the router's own flow holds its tuple: a laptop flow with the same port and destination is remapped",
           len(seen) == 2 and seen[0] == ("router", ("203.0.113.1", 6000)) and seen[1][1][1] != 6000
           and got_r == [("reply", (s1, 9000))] and got_l == [("reply", (s1, 9000))],
           f"server1 saw {seen}; router got {got_r}; laptop1 got {got_l}\n{ct}")
    cleanup()

if want("N13"):
    # ICMP errors about DNAT'ed flows: the inside server's ports are closed.
    lab = fresh()
    home(lab, nat=MASQ % "" + """
chain pre { type nat hook prerouting priority -100; iifname "wan" tcp dport 8080 dnat to 192.168.1.10:80; iifname "wan" udp dport 5353 dnat to 192.168.1.10:53; }""",
         laptops=1, servers=1)

    def client():
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        raw.settimeout(1)
        t = socket.socket()
        try:
            t.connect(("203.0.113.1", 8080)); tr = "ok"
        except OSError as e:
            tr = errname(e.errno)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("0.0.0.0", 7777))
        u.connect(("203.0.113.1", 5353))
        u.send(b"q")
        u.settimeout(1)
        try:
            ur = u.recv(10)
        except OSError as e:
            ur = errname(e.errno) if e.errno else "timeout"
        icmp = None
        try:
            while True:
                pkt = raw.recv(200)
                ihl = (pkt[0] & 15) * 4
                typ, code = pkt[ihl], pkt[ihl + 1]
                inner = pkt[ihl + 8:]
                iihl = (inner[0] & 15) * 4
                if typ == 3:
                    icmp = dict(outer_src=socket.inet_ntoa(pkt[12:16]), outer_dst=socket.inet_ntoa(pkt[16:20]),
                                type=typ, code=code,
                                inner_src=socket.inet_ntoa(inner[12:16]), inner_dst=socket.inet_ntoa(inner[16:20]),
                                inner_sport=int.from_bytes(inner[iihl:iihl + 2], "big"),
                                inner_dport=int.from_bytes(inner[iihl + 2:iihl + 4], "big"))
                    break
        except socket.timeout:
            pass
        return tr, ur, icmp
    tr, ur, icmp = lab.run("server1", client)
    ct = lab.conntrack("router")
    want_icmp = dict(outer_src="203.0.113.1", outer_dst="203.0.113.5", type=3, code=3, inner_src="203.0.113.5",
                     inner_dst="203.0.113.1", inner_sport=7777, inner_dport=5353)
    report("N13 DNAT to a closed inside port: TCP ECONNREFUSED (RST), UDP ECONNREFUSED (ICMP port unreachable translated back, quoted packet too)",
           tr == "ECONNREFUSED" and ur == "ECONNREFUSED" and icmp == want_icmp
           and "dport=5353 [UNREPLIED] src=192.168.1.10" in ct and "tcp " not in ct,
           f"tcp {tr}; udp {ur}; icmp seen by the client {icmp}\n{ct}")
    cleanup()

if want("N14"):
    # DNAT limited to `iifname wan`: a LAN host using the public address is not forwarded
    lab = fresh()
    home(lab, nat=MASQ % "" + """
chain pre { type nat hook prerouting priority -100; iifname "wan" tcp dport 8080 dnat to 192.168.1.10:80; iifname "wan" udp dport 5353 dnat to 192.168.1.10:53; }""",
         laptops=2, servers=0)
    hs = lab.spawn("laptop1", tcp_server, 80, 1, 0.2, 4)
    hu = lab.spawn("laptop1", udp_server, 53, 1, 4, True)
    time.sleep(0.2)

    def client(port_t, port_u):
        t = socket.socket()
        try:
            t.connect(("203.0.113.1", port_t)); tr = "ok"
        except OSError as e:
            tr = errname(e.errno)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("0.0.0.0", 7777))
        u.connect(("203.0.113.1", port_u))
        u.send(b"q")
        u.settimeout(1)
        try:
            ur = u.recv(10)
        except OSError as e:
            ur = errname(e.errno) if e.errno else "timeout"
        return tr, ur
    c = lab.run("laptop2", client, 8080, 5353)
    ct = lab.conntrack("router")
    r = lab.run("router", client, 8080, 5353)
    report("N14 dnat 'iifname wan' does not apply to LAN clients of the public address: the router answers itself (RST, ICMP) -> ECONNREFUSED",
           c == ("ECONNREFUSED", "ECONNREFUSED") and r == c and hs.result() == [] and hu.result() == []
           and "src=192.168.1.11 dst=203.0.113.1 sport=7777 dport=5353 [UNREPLIED] src=203.0.113.1 dst=192.168.1.11 sport=5353 dport=7777" in ct,
           f"laptop2 {c}; router itself {r}\n{ct}")
    cleanup()
