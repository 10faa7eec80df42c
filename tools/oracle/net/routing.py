"""Routing facts: longest prefix, equal-length static vs connected, no route, dead gateway,
forwarding off, TTL, source address selection, local delivery on another interface."""
import sys
from netlab import *

only = sys.argv[1:]


def want(n):
    return not only or n in only


def fresh():
    lab = Lab.__new__(Lab)
    Lab.__init__(lab)
    return lab


def cleanup():
    for n in sh("ip netns list").split():
        if n.startswith("(") or n.startswith("id:"):
            continue
        sh(f"ip netns del {n}", check=False)


# R01 longest prefix: default via r1, 203.0.113.0/24 via r2 -> r2 is used
if want("R01"):
    lab = fresh()
    lab.network("lan", "192.168.1.0/24"); lab.network("wan", "203.0.113.0/24")
    lab.host("laptop"); lab.addr("laptop", "192.168.1.10", "lan")
    lab.route("laptop", "default via 192.168.1.1")
    for i in (1, 2):
        r = f"r{i}"
        lab.host(r, forward=True)
        lab.addr(r, f"192.168.1.{i}", "lan"); lab.addr(r, f"203.0.113.{i}", "wan")
        lab.nft(r, "table ip nat {\n" + MASQ % "" + "\n}")
    lab.host("server"); lab.addr("server", "203.0.113.5", "wan")
    lab.settle()
    srv = lab.spawn("server", udp_server, 9000, 2, 3, True)
    time.sleep(0.2)
    a = lab.run("laptop", udp_send, "203.0.113.5", 9000, 5555, b"one", 1)
    lab.route("laptop", "203.0.113.0/24 via 192.168.1.2")
    b = lab.run("laptop", udp_send, "203.0.113.5", 9000, 5556, b"two", 1)
    got = srv.result()
    report("R01 longest-prefix route beats default", [g[1][0] for g in got] == ["203.0.113.1", "203.0.113.2"], f"server saw {got}")
    cleanup()

# R02 static route with the same prefix as a connected route
if want("R02"):
    lab = fresh()
    lab.network("lan", "192.168.1.0/24")
    lab.host("laptop"); lab.addr("laptop", "192.168.1.10", "lan")
    lab.host("router"); lab.addr("router", "192.168.1.1", "lan")  # forwarding OFF
    lab.host("peer"); lab.addr("peer", "192.168.1.20", "lan")
    lab.settle()
    e = lab.ns("laptop", "ip route add 192.168.1.0/24 via 192.168.1.1", check=False).strip()
    lab.ns("laptop", "ip route add 192.168.1.0/24 via 192.168.1.1 metric 100")
    rt = lab.ns("laptop", "ip route get 192.168.1.20").strip()
    srv = lab.spawn("peer", tcp_server, 80, 1, 0.2, 3)
    time.sleep(0.2)
    c = lab.run("laptop", tcp_connect, "192.168.1.20", 80)
    report("R02 same-length static route: EEXIST; with a metric the connected (metric 0) route wins",
           "File exists" in e and c[0] == "ok" and "via" not in rt,
           f"ip route add -> {e!r}; route get -> {rt!r}; connect -> {c}; routes:\n" + lab.ns("laptop", "ip route"))
    cleanup()

# R03 no route: ENETUNREACH for TCP connect and UDP sendto (and UDP connect)
if want("R03"):
    lab = fresh()
    lab.network("lan", "192.168.1.0/24")
    lab.host("laptop"); lab.addr("laptop", "192.168.1.10", "lan")  # no default route
    lab.settle()
    t = lab.run("laptop", tcp_connect, "203.0.113.5", 80)
    u = lab.run("laptop", udp_send, "203.0.113.5", 9000, 0)
    uc = lab.run("laptop", udp_send, "203.0.113.5", 9000, 0, b"x", 0, True)

    def nb():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        try:
            s.connect(("203.0.113.5", 80)); return "ok"
        except OSError as e:
            return errname(e.errno)
    n = lab.run("laptop", nb)

    def uconn():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect(("203.0.113.5", 9000)); return "ok"
        except OSError as e:
            return errname(e.errno)
    uc = lab.run("laptop", uconn)
    report("R03 no route -> ENETUNREACH at once (TCP connect, UDP sendto)",
           t[0] == "ENETUNREACH" and u["send"] == "-1 ENETUNREACH" and n == "ENETUNREACH" and uc == "ENETUNREACH",
           f"tcp connect {t}; udp sendto {u}; udp connect {uc}; nonblocking connect {n}")
    cleanup()

# R04 gateway (or on-link destination) does not answer ARP
if want("R04"):
    lab = fresh()
    lab.network("lan", "192.168.1.0/24")
    lab.host("laptop"); lab.addr("laptop", "192.168.1.10", "lan")
    lab.route("laptop", "default via 192.168.1.1")  # nobody has 192.168.1.1
    lab.settle()
    t = lab.run("laptop", tcp_connect, "203.0.113.5", 80)
    t2 = lab.run("laptop", tcp_connect, "192.168.1.99", 80)

    def udp_dead():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        out = []
        for i in range(3):
            try:
                out.append(s.sendto(b"hello", ("203.0.113.5", 9000)))
            except OSError as e:
                out.append("-1 " + errname(e.errno))
        time.sleep(4)
        try:
            out.append(s.sendto(b"hello", ("203.0.113.5", 9000)))
        except OSError as e:
            out.append("-1 " + errname(e.errno))
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.connect(("203.0.113.5", 9000))
        out.append(c.send(b"hello"))
        time.sleep(4)
        c.setblocking(False)
        try:
            out.append(("recv", c.recv(10)))
        except OSError as e:
            out.append(("recv", errname(e.errno)))
        try:
            out.append(("send", c.send(b"x")))
        except OSError as e:
            out.append(("send", errname(e.errno)))
        out.append(("SO_ERROR", c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)))
        return out
    u = lab.run("laptop", udp_dead)
    neigh = lab.ns("laptop", "ip neigh")
    report("R04 dead gateway (no ARP reply): TCP connect EHOSTUNREACH after ~3 s; UDP sendto succeeds",
           t[0] == "EHOSTUNREACH" and 2.5 < t[1] < 4.5 and t2[0] == "EHOSTUNREACH",
           f"via gw {t}; on-link {t2}; udp {u}; neigh: {neigh.strip()}")
    cleanup()

# R05 forwarding off on the middle box: silent drop
if want("R05"):
    lab = fresh()
    home(lab, nat=MASQ % "", laptops=1, servers=1, forward=False,
         laptop_sysctls={"net.ipv4.tcp_syn_retries": 2})
    lab.spawn("server1", tcp_server, 80, 1, 0.1, 12)
    srv = lab.spawn("server1", udp_server, 9000, 1, 2)
    time.sleep(0.2)
    t = lab.run("laptop1", tcp_connect, "203.0.113.5", 80)
    u = lab.run("laptop1", udp_send, "203.0.113.5", 9000, 0, b"hello", 1, True)
    stats = lab.ns("router", "nstat -az IpInAddrErrors IpForwDatagrams IpOutNoRoutes").strip()
    report("R05 forwarding off: packets dropped silently, TCP connect ETIMEDOUT (syn_retries=2 -> ~7 s)",
           t[0] == "ETIMEDOUT" and u["reply"] == "timeout" and srv.result() == [],
           f"tcp {t}; udp {u}; router stats:\n{stats}")
    cleanup()

# R06 TTL: decremented by the router; TTL 1 -> ICMP time exceeded -> EHOSTUNREACH
if want("R06"):
    lab = fresh()
    home(lab, nat=MASQ % "", laptops=1, servers=1)
    lab.spawn("server1", tcp_server, 80, 2, 0.1, 5)
    time.sleep(0.2)
    t1 = lab.run("laptop1", tcp_connect, "203.0.113.5", 80, None, None, 1)
    t2 = lab.run("laptop1", tcp_connect, "203.0.113.5", 80, None, None, 2)

    def ttl_seen():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", 9000))
        s.setsockopt(socket.IPPROTO_IP, 12, 1)  # IP_RECVTTL
        s.settimeout(3)
        d, anc, fl, a = s.recvmsg(100, 64)
        return [int.from_bytes(x[2], "little") for x in anc]
    h = lab.spawn("server1", ttl_seen)
    time.sleep(0.2)
    lab.run("laptop1", udp_send, "203.0.113.5", 9000)
    ttl = h.result()

    def udp_ttl1():
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1)
        c.connect(("203.0.113.5", 9000))
        r = [c.send(b"hello")]
        time.sleep(0.5)
        c.setblocking(False)
        try:
            r.append(c.recv(10))
        except OSError as e:
            r.append(errname(e.errno))
        return r
    u = lab.run("laptop1", udp_ttl1)
    locked = lab.ns("laptop1", "nstat -az TcpExtLockDroppedIcmps IcmpInTimeExcds").split("\n", 1)[1].strip()
    # On zero-latency veth the first ICMP arrives while connect() still owns the socket lock:
    # tcp_v4_err() only records it as a soft error (TcpExtLockDroppedIcmps); the ICMP for the
    # first retransmission (1 s) kills the connect.  With any real latency: at once.
    report("R06 TTL: router decrements (64 -> 63); IP_TTL=1 TCP connect -> EHOSTUNREACH (ICMP time exceeded)",
           t1[0] == "EHOSTUNREACH" and t2[0] == "ok" and ttl == [63],
           f"ttl1 {t1}; ttl2 {t2}; server saw TTL {ttl}; connected UDP with TTL 1: {u}; {locked}")
    cleanup()

# R07 source address selection of a multi-homed host
if want("R07"):
    lab = fresh()
    lab.network("lan", "192.168.1.0/24"); lab.network("wan", "203.0.113.0/24")
    lab.host("multi"); lab.addr("multi", "192.168.1.10", "lan"); lab.addr("multi", "203.0.113.10", "wan")
    lab.route("multi", "default via 192.168.1.1")
    lab.host("lanpeer"); lab.addr("lanpeer", "192.168.1.20", "lan")
    lab.host("wanpeer"); lab.addr("wanpeer", "203.0.113.5", "wan")
    lab.host("router", forward=True); lab.addr("router", "192.168.1.1", "lan")
    lab.ns("router", "ip addr add 198.51.100.1/24 dev lo")
    lab.settle()
    lab.spawn("lanpeer", tcp_server, 80, 1, 0.1, 5)
    lab.spawn("wanpeer", tcp_server, 80, 1, 0.1, 5)
    lab.spawn("router", tcp_server, 80, 1, 0.1, 5)
    time.sleep(0.2)
    a = lab.run("multi", tcp_connect, "192.168.1.20", 80)
    b = lab.run("multi", tcp_connect, "203.0.113.5", 80)
    c = lab.run("multi", tcp_connect, "198.51.100.1", 80)
    d = lab.run("multi", udp_send, "203.0.113.5", 9999, 0, b"x", 0, True)
    report("R07 source address = address of the outgoing interface (route's prefsrc)",
           a[2][0] == "192.168.1.10" and b[2][0] == "203.0.113.10" and c[2][0] == "192.168.1.10",
           f"lan {a}; wan {b}; via default {c}; udp connect wan {d['name']}")
    cleanup()

# R08 weak host model: a host answers on any of its addresses, forwarding off
if want("R08"):
    lab = fresh()
    home(lab, laptops=1, servers=0, forward=False)
    lab.spawn("router", tcp_server, 22, 1, 0.1, 5)
    time.sleep(0.2)
    a = lab.run("laptop1", tcp_connect, "203.0.113.1", 22)
    report("R08 a router with forwarding off still accepts connections to its wan address from the lan",
           a[0] == "ok", f"{a}")
    cleanup()
