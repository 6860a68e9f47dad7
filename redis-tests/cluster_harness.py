"""Several causalkv nodes on one machine, each on its own loopback address,
for the multi-node black-box tests (test_cluster*.py).

Addresses are 127.A.B.i with A.B taken from this process's pid, so test
files running in parallel never share an address, and firewall rules
(partitions) made by one never touch another's traffic. Every node is
registered with harness.py's process list (killed at exit, and by the
kernel if Python dies). Every iptables rule added here is removed by
Cluster.close(), by heal(), and at exit.
"""

import atexit
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import redis

import harness

SECRET = "test-peer-secret"
ALL_SLOTS = list(range(16384))
IPTABLES = shutil.which("iptables") or "/usr/sbin/iptables"

_rules = []  # (chain args) of every rule still in place


def _remove_all_rules():
    for rule in list(_rules):
        subprocess.run([IPTABLES, "-D"] + rule, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        _rules.remove(rule)


atexit.register(_remove_all_rules)


def can_partition():
    """True when this process may add iptables rules (root, iptables present)."""
    if os.geteuid() != 0 or not os.path.exists(IPTABLES):
        return False
    return subprocess.run([IPTABLES, "-S", "INPUT"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def _cluster_port(prefix, size):
    """A port free on every node's address, below the kernel's ephemeral
    range: the nodes' outgoing peer links bind their own address with an
    ephemeral port, which could otherwise take the port a node (re)starts
    on (EADDRINUSE)."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, max(10001, low))
        try:
            for i in range(size):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind(("%s.%d" % (prefix, i + 1), port))
            return port
        except OSError:
            continue
    return harness.find_free_port()


def _address_prefix():
    pid = os.getpid()
    return "127.%d.%d" % (20 + (pid >> 8) % 200, pid % 256)


class Node:
    def __init__(self, cluster, index):
        self.cluster = cluster
        self.index = index
        self.addr = "%s.%d" % (cluster.prefix, index + 1)
        self.port = cluster.port
        self.dir = os.path.join(cluster.base, "node%d" % index)
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None

    def argv(self):
        peers = ["%s:%d" % (n.addr, n.port) for n in self.cluster.nodes if n is not self]
        return ([harness.server_binary(), "--port", str(self.port), "--bind", self.addr,
                 "--dir", self.dir, "--peer-secret", SECRET, "--peers"] + peers +
                list(self.cluster.extra_args))

    def start(self):
        log = os.path.join(self.cluster.base, "node%d.log" % self.index)
        self.proc = harness.ServerProcess(self.argv(), self.port, self.dir, False, log,
                                          "node%d(%s)" % (self.index, self.addr))
        deadline = time.monotonic() + harness.READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.proc.poll() is not None:
                raise AssertionError("%r exited at start\n%s" % (self.proc, self.proc.log_text()))
            try:
                if self.client(timeout=1).ping():
                    return self
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise AssertionError("%r not ready\n%s" % (self.proc, self.proc.log_text()))

    def client(self, timeout=harness.IO_TIMEOUT, **kw):
        return redis.Redis(host=self.addr, port=self.port, socket_timeout=timeout,
                           socket_connect_timeout=timeout, **kw)

    def peer_client(self):
        """A connection authenticated as a peer (for full-state checks)."""
        r = self.client()
        r.execute_command("PEER.HELLO", SECRET, "0000000000000000")
        return r

    def full_state(self, db=0):
        """{key: encoded state} for every key, tombstones included."""
        r = self.peer_client()
        states = {}
        try:
            cursor = b"0"
            while True:
                page = r.execute_command("PEER.DUMP", db, cursor, *ALL_SLOTS)
                cursor = page[0]
                states.update({page[i]: page[i + 1] for i in range(1, len(page), 2)})
                if cursor == b"0":
                    break
        finally:
            r.close()
        return states

    def info(self, section="peers"):
        return self.client().info(section)

    def kill9(self):
        self.proc.kill9()

    def stop(self):
        self.proc.stop(expect_exit=None, remove_dir=False)

    def pause(self):
        os.kill(self.proc.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.proc.pid, signal.SIGCONT)

    def alive(self):
        return self.proc is not None and self.proc.proc.poll() is None


class Cluster:
    def __init__(self, size=3, extra_args=()):
        self.prefix = _address_prefix()
        self.port = _cluster_port(self.prefix, size)
        self.base = tempfile.mkdtemp(prefix="causalkv-cluster-")
        self.extra_args = list(extra_args)
        self.nodes = []
        self.nodes = [Node(self, i) for i in range(size)]
        try:
            for n in self.nodes:
                n.start()
            self.wait_links_up()
        except BaseException:
            self.close()
            raise

    def wait_links_up(self, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.links_up(n) for n in self.nodes if n.alive()):
                return
            time.sleep(0.05)
        raise AssertionError("peer links did not come up: %s" %
                             [n.info() for n in self.nodes if n.alive()])

    def links_up(self, node):
        info = node.info()
        peers = [v for k, v in info.items() if k.startswith("peer")]
        wanted = {"%s:%d" % (n.addr, n.port) for n in self.nodes if n is not node and n.alive()}
        up = set()
        for p in peers:
            fields = p if isinstance(p, dict) else dict(
                kv.split("=", 1) for kv in str(p).split(","))
            if fields.get("link") == "up":
                up.add(fields.get("addr"))
        return wanted <= up

    def wait_converged(self, timeout=20, db=0):
        """Until every live node holds exactly the same state of every key."""
        deadline = time.monotonic() + timeout
        states = None
        while time.monotonic() < deadline:
            states = [n.full_state(db) for n in self.nodes if n.alive()]
            if all(s == states[0] for s in states[1:]):
                return states[0]
            time.sleep(0.1)
        diff = {}
        for i, s in enumerate(states):
            for k in s:
                if any(k not in o or o[k] != s[k] for o in states):
                    diff.setdefault(k, []).append(i)
        raise AssertionError("nodes did not converge within %ss; differing keys (sample): %s"
                             % (timeout, list(diff.items())[:10]))

    def reap_expired_states(self, timeout=15):
        """Sets expired-grace 0 on every node and waits until none holds an
        expired state; returns each node's count at the end."""
        for n in self.nodes:
            n.client().config_set("expired-grace", 0)
        deadline = time.monotonic() + timeout
        while True:
            held = [n.info()["expired_states"] for n in self.nodes]
            if held == [0] * len(self.nodes) or time.monotonic() > deadline:
                return held
            time.sleep(0.1)

    def partition(self, side_a, side_b):
        """Drops every packet between the two groups of nodes (both ways)."""
        for a in side_a:
            for b in side_b:
                for src, dst in ((a, b), (b, a)):
                    rule = ["INPUT", "-s", src.addr, "-d", dst.addr, "-p", "tcp", "-j", "DROP"]
                    subprocess.run([IPTABLES, "-I"] + rule, check=True)
                    _rules.append(rule)

    def heal(self):
        _remove_all_rules()

    def close(self):
        self.heal()
        for n in self.nodes:
            if n.proc is not None and n.alive():
                try:
                    n.resume()
                except OSError:
                    pass
                n.kill9()
        shutil.rmtree(self.base, ignore_errors=True)
