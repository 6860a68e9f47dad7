#!/usr/bin/python3
"""causalkv used as a plain Redis string cache through redis-py (the library
as an application would use it), plus VGET/VPUT through execute_command and
the handful of server/connection commands client libraries depend on."""

import socket
import threading
import time
import unittest

import redis

import harness
from harness import RawConnection, decode


class RedisPyTestCase(unittest.TestCase):
    """One server per class; every test starts from an empty keyspace."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def client(self, **kw):
        kw.setdefault("decode_responses", True)
        c = redis.Redis(host="127.0.0.1", port=self.server.port,
                        socket_timeout=harness.IO_TIMEOUT, socket_connect_timeout=5, **kw)
        self.addCleanup(c.close)
        return c

    def setUp(self):
        self.r = self.client()
        self.r.flushall()


class CacheWorkload(RedisPyTestCase):

    def test_set_get_with_expiry(self):
        self.assertTrue(self.r.set("session:1", "alice", ex=100))
        self.assertTrue(self.r.set("session:2", "bob", px=150))
        self.assertTrue(self.r.set("config", "on"))
        self.assertEqual(self.r.get("session:1"), "alice")
        self.assertTrue(95 <= self.r.ttl("session:1") <= 100)
        self.assertTrue(0 < self.r.pttl("session:2") <= 150)
        self.assertEqual(self.r.ttl("config"), -1)
        self.assertEqual(self.r.ttl("nothing"), -2)
        time.sleep(0.3)
        self.assertIsNone(self.r.get("session:2"), "a key set with px=150 is still there after 300 ms")
        self.assertEqual(self.r.exists("session:1", "session:2", "config"), 2)

    def test_expire_and_persist(self):
        self.r.set("k", "v")
        self.assertTrue(self.r.expire("k", 50))
        self.assertTrue(45 <= self.r.ttl("k") <= 50)
        self.assertFalse(self.r.expire("missing", 50))
        self.assertTrue(self.r.persist("k"))
        self.assertEqual(self.r.ttl("k"), -1)
        self.assertTrue(self.r.pexpire("k", 100))
        time.sleep(0.3)
        self.assertEqual(self.r.exists("k"), 0)

    def test_mset_mget_delete_exists(self):
        data = {"user:%d" % i: "name-%d" % i for i in range(50)}
        self.assertTrue(self.r.mset(data))
        keys = sorted(data)
        self.assertEqual(self.r.mget(keys), [data[k] for k in keys])
        self.assertEqual(self.r.mget(["user:1", "nope", "user:2"]), ["name-1", None, "name-2"])
        self.assertEqual(self.r.exists(*keys), 50)
        self.assertEqual(self.r.delete(*keys[:10], "nope"), 10)
        self.assertEqual(self.r.exists(*keys), 40)
        self.assertEqual(self.r.dbsize(), 40)

    def test_incr_counters(self):
        self.assertEqual(self.r.incr("hits"), 1)
        self.assertEqual(self.r.incr("hits", 10), 11)
        self.assertEqual(self.r.decr("hits", 2), 9)
        self.assertEqual(self.r.incrbyfloat("price", 2.5), 2.5)
        self.assertEqual(self.r.get("hits"), "9")
        self.r.set("text", "abc")
        with self.assertRaises(redis.ResponseError) as cm:
            self.r.incr("text")
        self.assertEqual(str(cm.exception), "value is not an integer or out of range")

    def test_scan_iter_returns_every_key(self):
        n = 10000
        p = self.r.pipeline(transaction=False)
        for i in range(n):
            p.set("item:%05d" % i, i)
        for i in range(500):
            p.set("other:%d" % i, i)
        self.assertEqual(p.execute(), [True] * (n + 500))
        self.assertEqual(self.r.dbsize(), n + 500)

        expected = {"item:%05d" % i for i in range(n)}
        got = list(self.r.scan_iter(match="item:*", count=100))
        self.assertEqual(set(got), expected, "SCAN MATCH item:* missed or invented keys")
        # Duplicates are allowed by the SCAN contract, but a full iteration
        # should not return wildly more than the key count.
        self.assertLessEqual(len(got), 2 * n)
        self.assertEqual(set(self.r.scan_iter(count=1000)), expected | {"other:%d" % i for i in range(500)})
        self.assertEqual(set(self.r.scan_iter(match="item:0000?")), {"item:%05d" % i for i in range(10)})
        self.assertEqual(set(self.r.scan_iter(match="nothing*", count=10)), set())
        self.assertEqual(set(self.r.scan_iter(match="other:*", _type="STRING")),
                         {"other:%d" % i for i in range(500)})

    def test_scan_while_the_keyspace_grows_and_shrinks(self):
        # Keys present for the whole iteration must all be returned, even
        # while other keys are added (forcing rehash) and removed.
        stable = {"stable:%d" % i for i in range(2000)}
        self.r.mset({k: "1" for k in stable})
        self.r.mset({"tmp:%d" % i: "1" for i in range(3000)})
        seen, cursor, calls, added = set(), 0, 0, 0
        while True:
            cursor, page = self.r.scan(cursor, count=50)
            seen.update(page)
            calls += 1
            # Grow by 400 keys per call for a while, and delete the tmp keys.
            if added < 20000:
                self.r.mset({"grow:%d" % (added + i): "1" for i in range(400)})
                added += 400
            self.r.delete(*["tmp:%d" % i for i in range(calls * 60, calls * 60 + 60)])
            if cursor == 0 or calls > 20000:
                break
        self.assertEqual(cursor, 0, "SCAN did not finish in 20000 calls")
        self.assertEqual(stable - seen, set(), "SCAN missed keys present throughout the iteration")

    def test_pipeline_without_transaction(self):
        p = self.r.pipeline(transaction=False)
        expected = []
        for i in range(250):
            p.set("p:%d" % i, "v%d" % i)
            expected.append(True)
            p.get("p:%d" % i)
            expected.append("v%d" % i)
            p.incr("p:counter")
            expected.append(i + 1)
            p.exists("p:%d" % i, "p:missing")
            expected.append(1)
        self.assertEqual(len(p.command_stack), 1000)
        self.assertEqual(p.execute(), expected)
        self.assertEqual(self.r.get("p:counter"), "250")

    def test_pipeline_reports_errors_in_place(self):
        self.r.set("text", "abc")
        p = self.r.pipeline(transaction=False)
        p.set("a", "1").incr("text").get("a")
        results = p.execute(raise_on_error=False)
        self.assertTrue(results[0])
        self.assertIsInstance(results[1], redis.ResponseError)
        self.assertEqual(results[2], "1")

    def test_binary_values(self):
        r = self.client(decode_responses=False)
        blob = bytes(range(256)) * 40
        r.set(b"bin\x00key", blob)
        self.assertEqual(r.get(b"bin\x00key"), blob)
        self.assertEqual(r.strlen(b"bin\x00key"), len(blob))

    def test_concurrent_clients(self):
        # Several connections incrementing one counter: no lost updates.
        errors = []

        def worker():
            try:
                c = redis.Redis(host="127.0.0.1", port=self.server.port, socket_timeout=10)
                try:
                    for _ in range(200):
                        c.incr("shared")
                finally:
                    c.close()
            except Exception as e:  # reported below; a thread cannot fail the test
                errors.append(e)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(self.r.get("shared"), "1600")


class VersionedThroughRedisPy(RedisPyTestCase):

    class CartClient:
        """A client of figure 5-13: remembers the version and values of its
        last reply, merges siblings and sends the union back."""

        def __init__(self, r):
            self.r = r
            self.version = 0
            self.items = set()

        def add(self, item):
            cart = " ".join(sorted(self.items | {item}))
            version, values = self.r.execute_command("VPUT", "cart", self.version, cart)
            self.version = version
            self.items = {i for v in values for i in v.split()}
            return version, values

    def test_two_clients_merge_a_cart(self):
        c1, c2 = self.CartClient(self.client()), self.CartClient(self.client())
        v1, vals = c1.add("milk")
        self.assertEqual(vals, ["milk"])
        v2, vals = c2.add("eggs")
        self.assertEqual(vals, ["milk", "eggs"])
        v3, vals = c1.add("flour")
        self.assertEqual(vals, ["eggs", "flour milk"])
        v4, vals = c2.add("ham")
        self.assertEqual(vals, ["flour milk", "eggs ham milk"])
        v5, vals = c1.add("bacon")
        self.assertEqual(vals, ["eggs ham milk", "bacon eggs flour milk"])
        self.assertTrue(v1 < v2 < v3 < v4 < v5, [v1, v2, v3, v4, v5])
        self.assertEqual(c1.items, {"milk", "eggs", "flour", "ham", "bacon"})
        self.assertEqual(self.r.execute_command("VGET", "cart"),
                         [v5, ["eggs ham milk", "bacon eggs flour milk"]])
        # A final write with the latest version collapses the siblings.
        final = " ".join(sorted(c1.items))
        v6, vals = self.r.execute_command("VPUT", "cart", v5, final)
        self.assertEqual(vals, [final])
        self.assertEqual(self.r.execute_command("VDEL", "cart", v6), [0, []])

    def test_vget_vput_vdel_basics(self):
        self.assertEqual(self.r.execute_command("VGET", "nothing"), [0, []])
        version, values = self.r.execute_command("VPUT", "k", 0, "a", "EX", 100)
        self.assertEqual(values, ["a"])
        self.assertTrue(95 <= self.r.ttl("k") <= 100)
        self.assertEqual(self.r.get("k"), "a")
        self.assertEqual(self.r.execute_command("VDEL", "k", version), [0, []])
        with self.assertRaises(redis.ResponseError):
            self.r.execute_command("VPUT", "k", "not-a-version", "x")
        with self.assertRaises(redis.ResponseError):
            self.r.execute_command("VPUT", "k", -1, "x")

    def test_versioned_commands_in_a_pipeline(self):
        p = self.r.pipeline(transaction=False)
        for i in range(100):
            p.execute_command("VPUT", "pk:%d" % i, 0, "v%d" % i)
            p.execute_command("VGET", "pk:%d" % i)
        out = p.execute()
        for i in range(100):
            put, got = out[2 * i], out[2 * i + 1]
            self.assertEqual(put, got)
            self.assertEqual(put[1], ["v%d" % i])
        versions = [out[2 * i][0] for i in range(100)]
        self.assertEqual(versions, sorted(set(versions)))


class ServerAndConnection(RedisPyTestCase):

    def test_client_setname_getname(self):
        self.assertIsNone(self.r.client_getname())
        self.assertTrue(self.r.client_setname("cache-worker"))
        self.assertEqual(self.r.client_getname(), "cache-worker")
        named = self.client(client_name="from-constructor")
        self.assertEqual(named.client_getname(), "from-constructor")

    def test_info_parsed_by_redis_py(self):
        self.r.mset({"a": "1", "b": "2", "c": "3"})
        self.r.expire("a", 100)
        info = self.r.info()
        self.assertIsInstance(info, dict)
        self.assertTrue(str(info.get("redis_version", "")).startswith("7.2"),
                        "redis_version must be 7.2.x for client feature checks, got %r"
                        % info.get("redis_version"))
        self.assertEqual(info.get("loading"), 0, "loading must be 0 (ioredis ready check)")
        self.assertIn("causalkv_version", info)
        keyspace = self.r.info("keyspace")
        self.assertEqual(keyspace.get("db0", {}).get("keys"), 3, keyspace)
        self.assertEqual(keyspace.get("db0", {}).get("expires"), 1, keyspace)
        for section in ("server", "clients", "memory", "stats"):
            self.assertTrue(self.r.info(section), "INFO %s is empty" % section)
        self.assertIn("connected_clients", self.r.info("clients"))

    def test_config_get_port(self):
        self.assertEqual(self.r.config_get("port"), {"port": str(self.server.port)})

    def test_ping_echo_dbsize(self):
        self.assertTrue(self.r.ping())
        self.assertEqual(self.r.echo("hi"), "hi")
        self.assertEqual(self.r.dbsize(), 0)

    def test_hello_3_switches_to_resp3(self):
        with RawConnection(self.server.port) as c:
            c.send(b"HELLO 3\r\n")
            raw = c.read_reply()
            self.assertTrue(raw.startswith(b"%"), "HELLO 3 must answer a RESP3 map, got %r" % raw[:80])
            hello = decode(raw)
            self.assertEqual(hello.get(b"proto"), 3, hello)
            self.assertEqual(hello.get(b"server"), b"redis", hello)
            self.assertTrue(hello.get(b"version", b"").startswith(b"7.2"), hello)
            for key in (b"id", b"mode", b"role", b"modules"):
                self.assertIn(key, hello)
            # RESP3 nulls, and a RESP3 map from CONFIG GET.
            self.assertEqual(c.call("GET", "missing"), b"_\r\n")
            self.assertEqual(c.call("PING"), b"+PONG\r\n")
            cfg = c.call("CONFIG", "GET", "port")
            self.assertEqual(cfg, b"%%1\r\n$4\r\nport\r\n$%d\r\n%d\r\n"
                             % (len(str(self.server.port)), self.server.port))
            # Back to RESP2.
            self.assertTrue(c.call("HELLO", "2").startswith(b"*14\r\n"))
            self.assertEqual(c.call("GET", "missing"), b"$-1\r\n")

    def test_hello_without_arguments_keeps_resp2(self):
        with RawConnection(self.server.port) as c:
            raw = c.call("HELLO")
            self.assertTrue(raw.startswith(b"*14\r\n"), raw[:80])
            self.assertEqual(c.call("GET", "missing"), b"$-1\r\n")

    def test_many_short_connections(self):
        for _ in range(200):
            with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
                s.sendall(b"PING\r\n")
                self.assertEqual(s.recv(16), b"+PONG\r\n")
        self.assertTrue(self.r.ping())


class PasswordAndDatabase(unittest.TestCase):
    """redis-py with a password and a non-default database, as an application
    configures it: Redis(password=..., db=...) on every pooled connection."""

    PASSWORD = "s3cret pass"

    @classmethod
    def setUpClass(cls):
        # The harness accepts -NOAUTH as "ready".
        cls.server = harness.start_server(None, "--requirepass", cls.PASSWORD)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_auth_is_required_and_accepted(self):
        anonymous = redis.Redis(port=self.server.port)
        with self.assertRaises(redis.AuthenticationError):
            anonymous.get("k")
        anonymous.close()
        wrong = redis.Redis(port=self.server.port, password="nope")
        # redis-py 4.3 surfaces WRONGPASS as a ResponseError (as with Redis).
        with self.assertRaisesRegex(redis.ResponseError, "WRONGPASS"):
            wrong.ping()
        wrong.close()

    def test_cache_workload_and_cart_in_db_5(self):
        r = redis.Redis(port=self.server.port, password=self.PASSWORD, db=5)
        other = redis.Redis(port=self.server.port, password=self.PASSWORD, db=0)
        try:
            r.flushdb()
            self.assertTrue(r.set("session", "data", ex=100))
            self.assertTrue(0 < r.ttl("session") <= 100)
            self.assertIsNone(other.get("session"), "db 0 must not see db 5's keys")
            r.mset({"a": 1, "b": 2})
            self.assertEqual(r.mget("a", "b", "c"), [b"1", b"2", None])
            with r.pipeline(transaction=True) as p:
                p.incr("a").delete("b")
                self.assertEqual(p.execute(), [2, 1])
            self.assertEqual(sorted(r.scan_iter(match="*")), [b"a", b"session"])
            steps = [(0, "milk", 1, [b"milk"]), (0, "eggs", 2, [b"milk", b"eggs"]),
                     (1, "milk flour", 3, [b"eggs", b"milk flour"]),
                     (2, "eggs milk ham", 4, [b"milk flour", b"eggs milk ham"]),
                     (3, "milk flour eggs bacon", 5, [b"eggs milk ham", b"milk flour eggs bacon"])]
            first, _ = r.execute_command("VPUT", "cart", 0, "probe")
            r.delete("cart")
            base = int(first)  # versions are server-wide: earlier writes took some
            for seen, value, version, values in steps:
                seen_abs = 0 if seen == 0 else base + seen
                got_version, got_values = r.execute_command("VPUT", "cart", seen_abs, value)
                self.assertEqual((int(got_version), got_values), (base + version, values))
        finally:
            r.close()
            other.close()


if __name__ == "__main__":
    harness.main()
