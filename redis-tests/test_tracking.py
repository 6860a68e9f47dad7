#!/usr/bin/python3
"""Client-side caching (CLIENT TRACKING ON/OFF with REDIRECT, PREFIX, BCAST,
OPTIN, OPTOUT, NOLOOP; CLIENT CACHING, GETREDIR, TRACKINGINFO) against a
real redis-server (Debian's 7.0.15) as the spec.

The same steps run on both servers over several raw connections; every
reply and every invalidation (RESP3 push frames, and RESP2 messages on
__redis__:invalidate through REDIRECT) is compared byte for byte, with the
client ids (which differ between servers) replaced by their role.

Then, on causalkv alone: every kind of change invalidates a tracked key:
plain writes, VPUT and VDEL, expiry, eviction, FLUSHALL, and (in
test_cluster.py) a state arriving from a peer; tracking-table-max-keys
bounds the table; INFO's tracking counters and CLIENT LIST's flags.

CAUSALKV_TEST_SUBJECT=redis-server runs the suite with a second
redis-server in causalkv's place (causalkv's own commands are skipped).
"""

import time
import unittest

import harness
from harness import RawConnection


class Session(harness.Session):
    """harness.Session with each connection's client id (which differs between
    servers) shown as the connection's name, in arguments and replies."""

    def __init__(self, port):
        super().__init__(port)
        self.ids = {}

    def connected(self, name, conn):
        self.ids[conn.call("CLIENT", "ID")[1:-2].decode()] = name

    def id_of(self, name):
        self.conn(name)
        return [i for i, n in self.ids.items() if n == name][0]

    def normalize(self, raw):
        for client_id, name in self.ids.items():
            raw = raw.replace(b":%s\r\n" % client_id.encode(), b":<%s>\r\n" % name.encode())
        return raw

    def shown(self, args):
        return tuple("<%s>" % self.ids[a] if a in self.ids else a for a in args)

    def nothing_pending(self, name):
        """No frame arrives for `name` after a round trip through it."""
        self.call(name, "PING")

    def hello3(self, name):
        self.conn(name).call("HELLO", "3")  # its map names the server: not compared


class TrackingOracle(harness.OracleCase):
    def run_both(self, scenario):
        logs = []
        for server in (self.oracle, self.subject):
            with RawConnection(server.port) as admin:
                admin.call("FLUSHALL")
            session = Session(server.port)
            try:
                scenario(session)
            finally:
                session.close()
            logs.append(session.log)
        expected, actual = logs
        for i, (want, got) in enumerate(zip(expected, actual)):
            self.assertEqual(want, got, "step %d differs" % i)
        self.assertEqual(len(expected), len(actual))

    def test_resp2_redirect(self):
        def scenario(s):
            s.call("inv", "SUBSCRIBE", "__redis__:invalidate")
            s.call("app", "CLIENT", "TRACKING", "on", "REDIRECT", s.id_of("inv"))
            s.call("app", "CLIENT", "GETREDIR")
            s.call("app", "CLIENT", "TRACKINGINFO")
            s.call("app", "SET", "k", "1")
            s.call("app", "GET", "k")
            s.call("app", "SET", "k", "2")
            s.read("inv")
            s.call("app", "SET", "k", "3")  # not read again: nothing to send
            s.call("app", "MGET", "k", "j")
            s.call("other", "MSET", "k", "4", "j", "5")
            s.read("inv", 2)
            s.call("app", "HGETALL", "h")
            s.call("other", "HSET", "h", "f", "v")
            s.read("inv")
            s.call("app", "GET", "k")
            s.call("other", "DEL", "k")
            s.read("inv")
            s.call("app", "GET", "k")
            s.call("app", "EXISTS", "j")
            s.call("other", "FLUSHALL")
            s.read("inv")
            s.nothing_pending("inv")
            s.call("app", "CLIENT", "TRACKING", "off")
            s.call("app", "CLIENT", "GETREDIR")
            s.call("app", "GET", "z")
            s.call("other", "SET", "z", "1")
            s.nothing_pending("inv")
        self.run_both(scenario)

    def test_resp3_own_connection_and_noloop(self):
        def scenario(s):
            s.hello3("c")
            s.call("c", "CLIENT", "TRACKING", "on")
            s.call("c", "GET", "q")
            s.call("c", "SET", "q", "1", replies=2)  # reply, then the invalidation
            s.call("c", "MULTI")
            s.call("c", "GET", "r")
            s.call("c", "SET", "r", "1")
            s.call("c", "EXEC", replies=2)  # the whole EXEC reply comes first
            s.call("c", "GET", "n")
            s.call("c", "SET", "n", "1", "NX", replies=2)
            s.call("c", "GET", "n")
            s.call("c", "SET", "n", "2", "NX")  # changes nothing: no invalidation
            s.call("c", "DEL", "missing")
            s.call("c", "CLIENT", "TRACKING", "on", "NOLOOP")
            s.call("c", "GET", "n")
            s.call("c", "SET", "n", "3")  # its own change: not told
            s.call("c", "GET", "n")
            s.call("other", "SET", "n", "4")
            s.read("c")
            s.call("c", "GET", "n")
            s.call("c", "FLUSHDB", replies=2)
            s.call("c", "CLIENT", "TRACKINGINFO")
        self.run_both(scenario)

    def test_optin_optout(self):
        def scenario(s):
            s.hello3("c")
            s.call("c", "CLIENT", "CACHING", "yes")
            s.call("c", "CLIENT", "TRACKING", "on", "OPTIN")
            s.call("c", "CLIENT", "CACHING", "maybe")
            s.call("c", "CLIENT", "CACHING", "no")
            s.call("c", "GET", "a")  # not cached: OPTIN without CACHING YES
            s.call("c", "CLIENT", "CACHING", "yes")
            s.call("c", "CLIENT", "TRACKINGINFO")
            s.call("c", "GET", "b")
            s.call("c", "GET", "c")  # CACHING YES covered only the previous command
            s.call("other", "MSET", "a", "1", "b", "1", "c", "1")
            s.read("c")
            s.call("c", "CLIENT", "TRACKING", "on", "OPTOUT")
            s.call("c", "CLIENT", "TRACKING", "off")
            s.call("c", "CLIENT", "TRACKING", "on", "OPTOUT")
            s.call("c", "CLIENT", "CACHING", "yes")
            s.call("c", "CLIENT", "CACHING", "no")
            s.call("c", "MULTI")
            s.call("c", "GET", "a")
            s.call("c", "GET", "b")
            s.call("c", "EXEC")  # CACHING NO covers the whole transaction
            s.call("c", "GET", "c")
            s.call("other", "MSET", "a", "2", "b", "2", "c", "2")
            s.read("c")
            s.nothing_pending("c")
        self.run_both(scenario)

    def test_bcast_and_prefixes(self):
        def scenario(s):
            s.call("inv", "SUBSCRIBE", "__redis__:invalidate")
            s.call("app", "CLIENT", "TRACKING", "on", "PREFIX", "x")
            s.call("app", "CLIENT", "TRACKING", "on", "BCAST", "OPTIN")
            s.call("app", "CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT")
            s.call("app", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a", "PREFIX", "ab")
            s.call("app", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX")
            s.call("app", "CLIENT", "TRACKING", "maybe")
            s.call("app", "CLIENT", "TRACKING", "on", "REDIRECT", "123456")
            s.call("app", "CLIENT", "TRACKING", "on", "REDIRECT", "abc")
            s.call("app", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:",
                   "PREFIX", "job:", "REDIRECT", s.id_of("inv"))
            s.call("app", "CLIENT", "TRACKING", "on")
            s.call("app", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:1")
            s.call("app", "CLIENT", "TRACKINGINFO")
            s.call("other", "MSET", "user:1", "a", "job:9", "b", "misc", "c", "user:2", "d")
            s.read("inv", 2)
            s.call("other", "SET", "misc", "x")
            s.call("app", "SET", "job:1", "x")  # its own change: told (no NOLOOP)
            s.read("inv")
            s.call("app", "CLIENT", "TRACKING", "off")
            s.call("app", "CLIENT", "TRACKING", "on", "BCAST", "NOLOOP")
            s.call("app", "CLIENT", "TRACKINGINFO")
            s.call("app", "SET", "mine", "1")  # NOLOOP: not told
            s.call("other", "SET", "theirs", "1")
            s.nothing_pending("inv")
        self.run_both(scenario)

    def test_broken_redirect(self):
        def scenario(s):
            s.hello3("c")
            target = s.id_of("gone")
            s.call("c", "CLIENT", "TRACKING", "on", "REDIRECT", target)
            s.conns.pop("gone").close()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                with RawConnection(s.port) as probe:
                    if b"id=%s " % target.encode() not in probe.call("CLIENT", "LIST"):
                        break
                time.sleep(0.01)
            s.call("c", "GET", "m")
            s.call("other", "SET", "m", "1")
            s.read("c")  # tracking-redir-broken
            s.call("c", "CLIENT", "TRACKINGINFO")
            s.call("c", "GET", "m")
            s.call("other", "SET", "m", "2")
            s.read("c")  # again, at each invalidation missed
            s.call("c", "CLIENT", "GETREDIR")
        self.run_both(scenario)


class TrackingBehaviour(unittest.TestCase):
    """Every kind of change invalidates (causalkv alone, or Redis as the
    subject for everything but VPUT/VDEL)."""

    @classmethod
    def setUpClass(cls):
        cls.srv = harness.start_subject()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def tracking_client(self, *options):
        # The key table is shared by every client and forgotten lazily:
        # start each test from an empty one.
        with RawConnection(self.srv.port) as admin:
            admin.call("FLUSHALL")
        c = RawConnection(self.srv.port)
        c.call("HELLO", "3")
        self.assertEqual(c.call("CLIENT", "TRACKING", "on", *options), b"+OK\r\n")
        return c

    def expect_invalidation(self, c, key):
        self.assertEqual(c.read_reply(),
                         b">2\r\n$10\r\ninvalidate\r\n*1\r\n$%d\r\n%s\r\n" % (len(key), key))

    def test_versioned_writes_invalidate(self):
        if harness.redis_as_subject():
            self.skipTest("VPUT and VDEL are causalkv's")
        c = self.tracking_client()
        with RawConnection(self.srv.port) as other:
            c.call("VGET", "cart")
            other.call("VPUT", "cart", "0", "milk")
            self.expect_invalidation(c, b"cart")
            c.call("VGET", "cart")
            other.call("VPUT", "cart", "0", "eggs")  # a concurrent sibling
            self.expect_invalidation(c, b"cart")
            c.call("GET", "cart")
            context = harness.decode(other.call("VGET", "cart"))[0]
            other.call("VDEL", "cart", "0")  # covers no sibling: changes nothing
            other.call("VDEL", "cart", context)
            self.expect_invalidation(c, b"cart")
        c.close()

    def test_expiry_invalidates(self):
        c = self.tracking_client()
        with RawConnection(self.srv.port) as other:
            other.call("SET", "short", "v", "PX", "50")
            c.call("GET", "short")
            self.expect_invalidation(c, b"short")  # active expiry, no client involved
        c.close()

    def test_eviction_invalidates(self):
        c = self.tracking_client()
        with RawConnection(self.srv.port) as other:
            # volatile-lru: the only key with a TTL is the only one that may go.
            other.call("CONFIG", "SET", "maxmemory-policy", "volatile-lru")
            try:
                other.call("SET", "victim", "x" * 1000, "EX", "1000")
                c.call("GET", "victim")
                used = int(dict(line.split(":", 1) for line in other.call(
                    "INFO", "memory").decode().split("\r\n") if ":" in line)["used_memory"])
                other.call("CONFIG", "SET", "maxmemory", str(used + 200000))
                for i in range(400):
                    other.call("SET", "filler:%d" % i, "y" * 1000)
                    if other.call("EXISTS", "victim") == b":0\r\n":
                        break
                self.assertEqual(other.call("EXISTS", "victim"), b":0\r\n")
                self.expect_invalidation(c, b"victim")
            finally:
                other.call("CONFIG", "SET", "maxmemory", "0")
                other.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
                other.call("FLUSHALL")
                c.read_reply()  # the flush's null invalidation
        c.close()

    def test_table_is_bounded(self):
        c = self.tracking_client()
        with RawConnection(self.srv.port) as admin:
            admin.call("CONFIG", "SET", "tracking-table-max-keys", "2")
            try:
                c.call("GET", "t1")
                c.call("GET", "t2")
                c.call("GET", "t3")  # past the bound: one key is forgotten, and invalidated
                frame = c.read_reply()
                self.assertTrue(frame.startswith(b">2\r\n$10\r\ninvalidate\r\n*1\r\n"), frame)
                stats = admin.call("INFO", "stats").decode()
                self.assertIn("tracking_total_keys:2\r\n", stats)
                clients = admin.call("CLIENT", "LIST").decode()
                self.assertRegex(clients, r"flags=t .* redir=0 resp=3")
                c.close()
            finally:
                admin.call("CONFIG", "SET", "tracking-table-max-keys", "1000000")


if __name__ == "__main__":
    harness.main()
