"""netlab: a tiny lab of network namespaces, veth pairs and bridges for checking
routing / forwarding / NAT facts on the real kernel.

Safety: every script must be started through `tools/oracle/net/run-all` (or `./lab SCRIPT`),
which re-executes it under `unshare -m -n -p -f --propagation private` and mounts a tmpfs on
/run, so that `ip netns add` bind mounts live only in that private mount namespace and every
namespace, veth, bridge and nft table disappears when the script exits.  `Lab()` refuses to
run if its network namespace is the one of PID 1 of the caller (the real host).

Topology model (mirrors socksim's world):
  network NAME PREFIX   -> namespace "sw-NAME" holding bridge br0 (the L2 segment)
  host NAME             -> namespace NAME (lo up)
  addr IP/LEN on NET    -> veth pair: "NET" inside the host, "pN" enslaved to br0 in sw-NET
"""
import ctypes
import errno
import multiprocessing as mp
import os
import socket
import subprocess
import time

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL("libc.so.6", use_errno=True)


def sh(cmd, check=True):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"command failed: {cmd}\n{r.stdout}{r.stderr}")
    return r.stdout + r.stderr


def setns(name):
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)


def errname(e):
    return errno.errorcode.get(e, str(e))


class Lab:
    def __init__(self):
        if os.environ.get("NETLAB_INSIDE") != "1":
            raise SystemExit("netlab: run me through tools/oracle/net/lab or run-all")
        # `lab` checked that our netns differs from its caller's; check it is still empty
        out = sh("ip -o link")
        if [l for l in out.splitlines() if ": lo:" not in l]:
            raise SystemExit("netlab: refusing: this network namespace has interfaces other than lo")
        self.nets = {}
        self.hosts = []
        self.nport = 0
        os.makedirs("/run/netns", exist_ok=True)

    def ns(self, ns, cmd, check=True):
        return sh(f"ip netns exec {ns} {cmd}", check)

    def network(self, name, prefix):
        ns = f"sw-{name}"
        sh(f"ip netns add {ns}")
        self.ns(ns, "ip link set lo up")
        self.ns(ns, "ip link add br0 type bridge")
        self.ns(ns, "ip link set br0 up")
        self.nets[name] = prefix

    def host(self, name, forward=False, **sysctls):
        sh(f"ip netns add {name}")
        self.ns(name, "ip link set lo up")
        self.hosts.append(name)
        self.sysctl(name, "net.ipv4.ip_forward", 1 if forward else 0)
        for k, v in sysctls.items():
            self.sysctl(name, k, v)

    def sysctl(self, host, key, val):
        self.ns(host, f"sysctl -q -w {key}='{val}'")

    def addr(self, host, ip, net):
        plen = self.nets[net].split("/")[1]
        have = sh(f"ip netns exec {host} ip -o link show dev {net}", check=False)
        if "does not exist" in have or not have.strip():
            self.nport += 1
            p = f"p{self.nport}"
            sh(f"ip link add name {net} type veth peer name {p}")
            sh(f"ip link set {net} netns {host}")
            sh(f"ip link set {p} netns sw-{net}")
            self.ns(f"sw-{net}", f"ip link set {p} master br0")
            self.ns(f"sw-{net}", f"ip link set {p} up")
            self.ns(host, f"ip link set {net} up")
        self.ns(host, f"ip addr add {ip}/{plen} dev {net}")

    def route(self, host, spec):
        self.ns(host, f"ip route add {spec}")

    def nft(self, host, ruleset):
        # ruleset may use ';' or newlines between statements
        r = subprocess.run(f"ip netns exec {host} nft -f -", shell=True, input=ruleset,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"nft failed in {host}:\n{ruleset}\n{r.stderr}")

    def conntrack(self, host):
        return self.ns(host, "conntrack -L", check=False)

    def settle(self):
        # bridges forward immediately (no STP); give veths a moment to come up
        time.sleep(0.3)

    # ---- running code inside a host -------------------------------------------------
    def spawn(self, host, fn, *args):
        ctx = mp.get_context("fork")
        q = ctx.Queue()

        def target():
            setns(host)
            try:
                q.put(("ok", fn(*args)))
            except Exception as e:  # noqa
                q.put(("exc", repr(e)))

        p = ctx.Process(target=target, daemon=True)
        p.start()
        return Handle(p, q)

    def run(self, host, fn, *args, timeout=60):
        return self.spawn(host, fn, *args).result(timeout)


class Handle:
    def __init__(self, p, q):
        self.p, self.q = p, q

    def result(self, timeout=60):
        kind, val = self.q.get(timeout=timeout)
        self.p.join(1)
        if kind == "exc":
            raise RuntimeError(val)
        return val


# ---- socket helpers (run in a child) -----------------------------------------------
def tcp_connect(dst, port, bind=None, timeout=None, ttl=None):
    """Returns (result, elapsed, sockname). result is 'ok' or an errno name."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if ttl:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    if bind:
        s.bind(bind)
    t = time.monotonic()
    try:
        s.connect((dst, port))
        r = "ok"
    except OSError as e:
        r = errname(e.errno)
    el = time.monotonic() - t
    name = s.getsockname()
    if r == "ok":
        time.sleep(0.3)
    return r, round(el, 2), name


def tcp_server(port, n=1, hold=0.5, timeout=10):
    """Accepts n connections, returns the peers."""
    l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("0.0.0.0", port))
    l.listen(16)
    l.settimeout(timeout)
    peers, conns = [], []
    try:
        for _ in range(n):
            c, a = l.accept()
            peers.append(a)
            conns.append(c)
    except socket.timeout:
        pass
    time.sleep(hold)
    return peers


def udp_server(port, n=1, timeout=5, reply=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    s.settimeout(timeout)
    got = []
    try:
        for _ in range(n):
            d, a = s.recvfrom(100)
            got.append((d.decode(), a))
            if reply:
                s.sendto(b"re:" + d, a)
    except socket.timeout:
        pass
    return got


def udp_send(dst, port, sport=0, data=b"hello", wait_reply=0.0, connect=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", sport))
    out = {}
    t = time.monotonic()
    try:
        if connect:
            s.connect((dst, port))
            out["send"] = s.send(data)
        else:
            out["send"] = s.sendto(data, (dst, port))
    except OSError as e:
        out["send"] = "-1 " + errname(e.errno)
    out["send_time"] = round(time.monotonic() - t, 2)
    out["name"] = s.getsockname()
    if wait_reply:
        s.settimeout(wait_reply)
        try:
            d, a = s.recvfrom(100)
            out["reply"] = (d.decode(), a)
        except socket.timeout:
            out["reply"] = "timeout"
        except OSError as e:
            out["reply"] = "-1 " + errname(e.errno)
    return out


def report(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    return ok


# ---- the standard "home" world ------------------------------------------------------
LAPTOPS = ["192.168.1.10", "192.168.1.11", "192.168.1.12"]
SERVERS = ["203.0.113.5", "203.0.113.6"]


def home(lab, nat="", laptops=2, servers=2, forward=True, laptop_sysctls=None):
    """lan 192.168.1.0/24: laptop1.. (.10, .11, .12) with default via router 192.168.1.1
    wan 203.0.113.0/24: router 203.0.113.1, server1 .5, server2 .6 (no routes back to the lan).
    `nat` is the body of the nft `ip nat` table (chains) installed on the router."""
    lab.network("lan", "192.168.1.0/24")
    lab.network("wan", "203.0.113.0/24")
    for i in range(laptops):
        h = f"laptop{i+1}"
        lab.host(h, **(laptop_sysctls or {}))
        lab.addr(h, LAPTOPS[i], "lan")
        lab.route(h, "default via 192.168.1.1")
    lab.host("router", forward=forward)
    lab.addr("router", "192.168.1.1", "lan")
    lab.addr("router", "203.0.113.1", "wan")
    for i in range(servers):
        lab.host(f"server{i+1}")
        lab.addr(f"server{i+1}", SERVERS[i], "wan")
    if nat:
        lab.nft("router", "table ip nat {\n" + nat + "\n}\n")
    lab.settle()


MASQ = """chain post { type nat hook postrouting priority 100; oifname "wan" ip saddr 192.168.1.0/24 masquerade %s; }"""
