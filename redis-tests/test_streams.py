#!/usr/bin/python3
"""The stream commands (XADD XLEN XRANGE XREVRANGE XDEL XTRIM XSETID XREAD
XREADGROUP XACK XPENDING XCLAIM XAUTOCLAIM XGROUP XINFO), TYPE / OBJECT
ENCODING / SCAN TYPE / COPY / RENAME of streams, blocking reads, and
persistence, against a real redis-server (the Debian 7.0.15 package) as the
spec.

Every scenario runs twice, in RESP2 and in RESP3 (HELLO 3), on a fresh
FLUSHALL, and each reply is compared byte for byte, except what differs
by nature:
  * IDs made by `*` (the servers' clocks differ): scenarios use explicit IDs,
    and `*` IDs are checked for shape and monotonicity on each server;
  * idle times, delivery times, seen/active times: ranges;
  * XINFO's radix-tree-keys / radix-tree-nodes (our node index is not a
    radix tree): a sane range.
Redis 7.2 differs from the 7.0 oracle in XINFO CONSUMERS (7.2 adds
"inactive" and "idle" counts from the last attempt) and XINFO STREAM FULL
(7.2 adds each consumer's "active-time"): those fields are checked on
causalkv alone, the rest compared.

CAUSALKV_TEST_SUBJECT=redis-server runs the suite with a second redis-server
in causalkv's place (7.2-only checks are then skipped).
"""

import os
import re
import shutil
import tempfile
import time
import unittest

import harness
from harness import RawConnection, decode, encode_command

WRONGTYPE = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
ID_RE = re.compile(rb"^\d+-\d+$")


def as_pairs(v):
    """A RESP3 map or RESP2 flat array as a list of (key, value)."""
    if isinstance(v, dict):
        return list(v.items())
    assert isinstance(v, list) and len(v) % 2 == 0, v
    return list(zip(v[0::2], v[1::2]))


class StreamCase(harness.OracleCase):
    def connect(self, proto):
        self.proto = proto
        self.o = RawConnection(self.oracle.port)
        self.s = RawConnection(self.server.port)
        self.addCleanup(self.o.close)
        self.addCleanup(self.s.close)
        for c in (self.o, self.s):
            self.assertEqual(c.call("FLUSHALL"), b"+OK\r\n")
            if proto == 3:
                self.assertTrue(c.call("HELLO", "3").startswith(b"%"))

    def protocols(self):
        for proto in (2, 3):
            self.connect(proto)
            yield proto

    def same(self, *args):
        o = self.o.call(*args)
        s = self.s.call(*args)
        self.assertEqual(s, o, "\nRESP%d %r\nredis:    %r\ncausalkv: %r"
                         % (self.proto, args, o[:600], s[:600]))
        return o

    def same_error(self, *args):
        o = self.same(*args)
        self.assertTrue(o.startswith(b"-"), "redis accepted %r: %r" % (args, o[:200]))

    def each(self, *args):
        return decode(self.o.call(*args)), decode(self.s.call(*args))

    def fill(self, key="s", n=10, start_ms=1):
        for i in range(n):
            self.same("XADD", key, "%d-%d" % (start_ms + i // 3, i % 3), "f", "v%d" % i,
                      "n", str(i))


class EntryCommands(StreamCase):
    def test_xadd_ids_and_errors(self):
        for _ in self.protocols():
            self.same("XADD", "s", "1-1", "f", "v")
            self.same("XADD", "s", "1-1", "f", "v")  # equal: refused
            self.same("XADD", "s", "0-5", "f", "v")
            self.same("XADD", "s", "1-*", "f", "v")
            self.same("XADD", "s", "5-*", "f", "v")
            self.same("XADD", "s", "5", "f", "v")
            self.same("XADD", "s", "6", "a", "1", "b", "2", "c", "3")
            self.same_error("XADD", "s", "0-0", "f", "v")
            self.same_error("XADD", "new", "0-0", "f", "v")
            self.same("EXISTS", "new")
            self.same("XADD", "z", "0-*", "f", "v")
            self.same_error("XADD", "s", "x-1", "f", "v")
            self.same_error("XADD", "s", "1-x", "f", "v")
            self.same_error("XADD", "s", "-", "f", "v")
            self.same_error("XADD", "s", "+", "f", "v")
            self.same_error("XADD", "s", "7-1", "f")
            self.same_error("XADD", "s", "7-1", "f", "v", "g")
            self.same_error("XADD", "s", "*")
            self.same_error("XADD", "s", "nomkstream")
            self.same("XADD", "nokey", "NOMKSTREAM", "*", "f", "v")
            self.same("EXISTS", "nokey")
            self.same("XADD", "s", "NOMKSTREAM", "9-9", "f", "v")
            self.same("XADD", "big", "18446744073709551615-18446744073709551614", "f", "v")
            self.same("XADD", "big", "18446744073709551615-*", "f", "v")
            self.same_error("XADD", "big", "*", "f", "v")
            self.same_error("XADD", "big", "18446744073709551615-*", "f", "v")
            self.same_error("XADD", "s", "18446744073709551616-1", "f", "v")
            self.same("XADD", "lead", "007-01", "f", "v")
            self.same("SET", "str", "x")
            self.same("XADD", "str", "1-1", "f", "v")
            self.same("XRANGE", "s", "-", "+")
            self.same("XLEN", "s")
            self.same("XLEN", "nokey")
            self.same("XLEN", "str")
            self.same("TYPE", "s")
            self.same("OBJECT", "ENCODING", "s")

    def test_auto_ids_are_monotonic(self):
        for c in (RawConnection(self.server.port), RawConnection(self.oracle.port)):
            self.addCleanup(c.close)
            c.call("DEL", "auto")
            ids = [c.call_decoded("XADD", "auto", "*", "f", str(i)) for i in range(200)]
            for i in ids:
                self.assertRegex(i, ID_RE)
            parsed = [tuple(int(x) for x in i.split(b"-")) for i in ids]
            self.assertEqual(parsed, sorted(set(parsed)))
            now = int(time.time() * 1000)
            self.assertLess(abs(parsed[-1][0] - now), 10000)
            # Behind the clock: the sequence goes on from the top ID.
            c.call("XADD", "ahead", "%d-5" % (now + 100000), "f", "v")
            self.assertEqual(c.call_decoded("XADD", "ahead", "*", "f", "v"),
                             b"%d-6" % (now + 100000))

    def test_trimming(self):
        for _ in self.protocols():
            for n in range(30):
                self.same("XADD", "s", "%d-0" % (n + 1), "f", str(n))
            self.same("XTRIM", "s", "MAXLEN", "25")
            self.same("XTRIM", "s", "MAXLEN", "=", "20")
            self.same("XTRIM", "s", "MAXLEN", "~", "1")  # one node: nothing
            self.same("XTRIM", "s", "MINID", "15")
            self.same("XTRIM", "s", "MINID", "~", "20")
            self.same("XRANGE", "s", "-", "+")
            self.same("XADD", "s", "MAXLEN", "3", "100-1", "f", "v")
            self.same("XADD", "s", "MAXLEN", "=", "2", "100-2", "f", "v")
            self.same("XADD", "s", "MINID", "100-2", "100-3", "f", "v")
            self.same("XADD", "s", "MAXLEN", "~", "1", "LIMIT", "10", "100-4", "f", "v")
            self.same("XRANGE", "s", "-", "+")
            self.same_error("XTRIM", "s", "MAXLEN", "1", "LIMIT", "10")
            self.same_error("XTRIM", "s", "MAXLEN", "-1")
            self.same_error("XTRIM", "s", "MAXLEN", "x")
            self.same_error("XTRIM", "s", "MAXLEN", "~", "1", "LIMIT", "-1")
            self.same_error("XTRIM", "s", "MAXLEN", "1", "MINID", "0")
            self.same_error("XTRIM", "s", "FOO", "1")
            self.same_error("XTRIM", "s", "MINID", "bad")
            self.same_error("XADD", "s", "MAXLEN", "-1", "*", "f", "v")
            self.same_error("XADD", "s", "LIMIT", "5", "*", "f", "v")
            self.same("XTRIM", "nokey", "MAXLEN", "0")
            self.same("XTRIM", "s", "MAXLEN", "0")
            self.same("EXISTS", "s")  # an empty stream stays
            self.same("XLEN", "s")
            self.same("XADD", "m", "MAXLEN", "0", "1-1", "f", "v")
            self.same("XLEN", "m")
            self.same("SET", "str", "x")
            self.same("XTRIM", "str", "MAXLEN", "0")

    def test_approximate_trim_by_nodes(self):
        for _ in self.protocols():
            for c in (self.o, self.s):
                c.call("CONFIG", "SET", "stream-node-max-entries", "10")
            for n in range(95):
                self.same("XADD", "s", "%d-0" % (n + 1), "f", str(n))
            self.same("XTRIM", "s", "MAXLEN", "~", "50")
            self.same("XLEN", "s")
            self.same("XTRIM", "s", "MAXLEN", "~", "5", "LIMIT", "25")
            self.same("XLEN", "s")
            self.same("XTRIM", "s", "MINID", "~", "75-0")
            self.same("XRANGE", "s", "-", "+", "COUNT", "3")
            for c in (self.o, self.s):
                c.call("CONFIG", "SET", "stream-node-max-entries", "100")
        self.assertEqual(as_pairs(decode(self.s.call("CONFIG", "GET", "stream-node-max-bytes"))),
                         [(b"stream-node-max-bytes", b"4096")])

    def test_ranges(self):
        for _ in self.protocols():
            self.fill(n=12)
            for args in (("-", "+"), ("2", "3"), ("2-1", "3-1"), ("(2-1", "+"), ("-", "(3-1"),
                         ("(1-0", "(4-2"), ("5", "1"), ("2-2", "2-2"), ("(2-2", "2-2"),
                         ("-", "+", "COUNT", "4"), ("-", "+", "COUNT", "0"),
                         ("-", "+", "COUNT", "-3"), ("-", "+", "count", "1", "COUNT", "2")):
                self.same("XRANGE", "s", *args)
                self.same("XREVRANGE", "s", *reversed(args[:2]), *args[2:])
            self.same_error("XRANGE", "s", "(-", "+")
            self.same_error("XRANGE", "s", "-", "(+")
            self.same_error("XRANGE", "s", "(", "+")
            self.same_error("XRANGE", "s", "(18446744073709551615-18446744073709551615", "+")
            self.same_error("XRANGE", "s", "-", "(0-0")
            self.same_error("XRANGE", "s", "-", "+", "COUNT")
            self.same_error("XRANGE", "s", "-", "+", "COUNT", "x")
            self.same_error("XRANGE", "s", "a", "+")
            self.same("XRANGE", "nokey", "-", "+")
            self.same("SET", "str", "x")
            self.same("XRANGE", "str", "-", "+")
            self.same("XREVRANGE", "str", "+", "-")

    def test_xdel(self):
        for _ in self.protocols():
            self.fill(n=8)
            self.same("XDEL", "s", "1-0", "1-0", "2-1", "9-9")
            self.same("XDEL", "s", "1-0")
            self.same_error("XDEL", "s", "1-1", "bad")
            self.same_error("XDEL", "s", "-")
            self.same("XDEL", "nokey", "1-1")
            self.same("XDEL", "nokey", "bad")
            self.same("SET", "str", "x")
            self.same("XDEL", "str", "bad")
            self.same("XRANGE", "s", "-", "+")
            self.same("XREVRANGE", "s", "+", "-")
            for i in range(8):
                self.o.call("XDEL", "s", "%d-%d" % (1 + i // 3, i % 3))
                self.s.call("XDEL", "s", "%d-%d" % (1 + i // 3, i % 3))
            self.same("XLEN", "s")
            self.same("EXISTS", "s")
            self.same("XADD", "s", "2-0", "f", "v")  # below the top: refused
            self.same("XINFO", "STREAM", "s")

    def test_xsetid(self):
        for _ in self.protocols():
            self.fill(n=5)
            self.same("XSETID", "s", "10-0")
            self.same_error("XSETID", "s", "1-0")
            self.same("XSETID", "s", "2-1")
            self.same_error("XSETID", "s", "10-0", "ENTRIESADDED", "2")
            self.same("XSETID", "s", "10-0", "ENTRIESADDED", "100", "MAXDELETEDID", "5-0")
            self.same_error("XSETID", "s", "10-0", "MAXDELETEDID", "11-0")
            self.same_error("XSETID", "s", "10-0", "ENTRIESADDED", "-1")
            self.same_error("XSETID", "s", "10-0", "FOO", "1")
            self.same_error("XSETID", "s", "bad")
            self.same_error("XSETID", "nokey", "1-1")
            self.same("XINFO", "STREAM", "s")
            self.same("XADD", "s", "9-0", "f", "v")

    def test_xread_without_blocking(self):
        for _ in self.protocols():
            self.fill("a", n=6)
            self.fill("b", n=3, start_ms=10)
            self.same("XREAD", "STREAMS", "a", "0")
            self.same("XREAD", "COUNT", "2", "STREAMS", "a", "b", "1-1", "0-0")
            self.same("XREAD", "STREAMS", "a", "b", "$", "$")
            self.same("XREAD", "STREAMS", "a", "nokey", "2", "0")
            self.same("XREAD", "STREAMS", "a", "b", "99", "10-1")
            self.same("XREAD", "COUNT", "0", "STREAMS", "b", "10")
            self.same("XREAD", "COUNT", "-5", "STREAMS", "b", "10")
            o, s = self.each("XREAD", "STREAMS", "a", "b", "0")
            self.assertEqual(o, b"ERR Unbalanced XREAD list of streams: for each stream key an ID "
                                b"or '$' must be specified.")
            if not harness.redis_as_subject():  # 7.2 names the command, quoted
                self.assertEqual(s, b"ERR Unbalanced 'xread' list of streams: for each stream "
                                    b"key an ID or '$' must be specified.")
            if not harness.redis_as_subject():
                self.assertEqual(decode(self.s.call("XREADGROUP", "GROUP", "g", "c", "STREAMS",
                                                    "a", "b", ">")),
                                 b"ERR Unbalanced 'xreadgroup' list of streams: for each stream "
                                 b"key an ID or '>' must be specified.")
            self.same_error("XREAD", "STREAMS", "a", "-")
            self.same_error("XREAD", "STREAMS", "a", ">")
            self.same_error("XREAD", "COUNT", "x", "STREAMS", "a", "0")
            self.same_error("XREAD", "BLOCK", "-1", "STREAMS", "a", "0")
            self.same_error("XREAD", "BLOCK", "x", "STREAMS", "a", "0")
            if not harness.redis_as_subject():  # 7.0 waits ~forever; 7.2 refuses
                self.assertEqual(self.s.call("XREAD", "BLOCK", "9223372036854775807", "STREAMS",
                                             "a", "0"), b"-ERR timeout is out of range\r\n")
            self.same_error("XREAD", "FOO", "STREAMS", "a", "0")
            self.same_error("XREAD", "COUNT", "1", "a", "0")
            self.same("SET", "str", "x")
            self.same("XREAD", "STREAMS", "str", "0")
            # Deleted entries are never served; a stream whose only newer
            # entry is deleted is left out.
            self.same("XDEL", "b", "10-2")
            self.same("XREAD", "STREAMS", "b", "10-1")

    def test_keyspace_commands(self):
        for _ in self.protocols():
            self.fill(n=5)
            self.same("XGROUP", "CREATE", "s", "g", "0")
            self.same("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">")
            self.same("COPY", "s", "t")
            self.same("XRANGE", "t", "-", "+")
            self.same("XPENDING", "t", "g")
            self.same("RENAME", "t", "u")
            self.same("XLEN", "u")
            o, s = self.each("SCAN", "0", "TYPE", "stream")
            self.assertEqual(sorted(s[1]), sorted(o[1]))
            self.same("EXPIRE", "u", "100")
            self.same("TTL", "u")
            self.same("XADD", "u", "9-9", "f", "v")
            self.same("TTL", "u")
            self.same("DEL", "u", "s")
            self.same("EXISTS", "s")
            self.same("XADD", "s", "1-1", "f", "v")
            self.same("XTRIM", "s", "MAXLEN", "0")
            o, s = self.each("SCAN", "0", "TYPE", "stream")
            self.assertEqual(sorted(s[1]), sorted(o[1]))
            self.same("DBSIZE")

    def test_inside_multi(self):
        for _ in self.protocols():
            self.same("MULTI")
            self.same("XADD", "s", "1-1", "f", "v")
            self.same("XREAD", "BLOCK", "0", "STREAMS", "s", "$")  # never blocks in MULTI
            self.same("XREAD", "BLOCK", "0", "STREAMS", "s", "0")
            self.same("XLEN", "s")
            self.same("EXEC")

    def test_from_scripts(self):
        for _ in self.protocols():
            self.same("XADD", "s", "1-1", "f", "v")
            self.same("XGROUP", "CREATE", "s", "g", "0")
            self.same("EVAL", "return redis.pcall('xread', 'STREAMS', KEYS[1], '0')", "1", "s")
            self.same("EVAL", "return redis.pcall('xread', 'STREAMS', KEYS[1], '$')", "1", "s")
            self.same("EVAL", "return redis.pcall('xreadgroup', 'GROUP', 'g', 'c', 'STREAMS', "
                      "KEYS[1], '>')", "1", "s")
            self.same("EVAL", "return redis.pcall('xread', 'BLOCK', 0, 'STREAMS', KEYS[1], '$')",
                      "1", "s")
            self.same("EVAL", "return redis.pcall('XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', 0, "
                      "'STREAMS', KEYS[1], '>')", "1", "s")
            self.same("EVAL", "redis.call('xadd', KEYS[1], '2-1', 'a', 'b') "
                      "return redis.call('xrange', KEYS[1], '-', '+')", "1", "s")


class RandomizedAgainstRedis(StreamCase):
    """Random XADD / XDEL / XTRIM (exact and approximate) / reads over small
    nodes (stream-node-max-entries 5, so node boundaries and whole-node
    trims are exercised), every reply compared with redis-server."""

    def test_random_operations(self):
        import random
        self.connect(2)
        for c in (self.o, self.s):
            c.call("CONFIG", "SET", "stream-node-max-entries", "5")
        self.addCleanup(lambda: [c.call("CONFIG", "SET", "stream-node-max-entries", "100")
                                 for c in (self.o, self.s)])
        for seed in range(int(os.environ.get("STREAM_RANDOM_SEEDS", "4"))):
            rng = random.Random(seed)
            self.same("DEL", "s")
            # The consumers exist from the start: 7.0 (the oracle) creates a
            # reader's consumer only when something is served, 7.2 always.
            self.same("XGROUP", "CREATE", "s", "g", "0", "MKSTREAM")
            for name in ("a", "b", "c"):
                self.same("XGROUP", "CREATECONSUMER", "s", "g", name)
            ms = 1
            for _ in range(700):
                op = rng.random()
                if op < 0.25:
                    g = rng.random()
                    who = rng.choice(["a", "b", "c"])
                    if g < 0.35:
                        self.same("XREADGROUP", "GROUP", "g", who, "COUNT",
                                  str(rng.randint(1, 4)), "STREAMS", "s",
                                  ">" if rng.random() < 0.8 else "0")
                    elif g < 0.5:
                        self.same("XACK", "s", "g", *["%d-%d" % (rng.randint(0, ms + 2),
                                                               rng.randint(0, 3))
                                                      for _ in range(rng.randint(1, 3))])
                    elif g < 0.6:
                        self.same("XCLAIM", "s", "g", who, "0",
                                  "%d-%d" % (rng.randint(0, ms), rng.randint(0, 3)), "JUSTID")
                    elif g < 0.7:
                        self.same("XAUTOCLAIM", "s", "g", who, "0", "0", "COUNT",
                                  str(rng.randint(1, 5)))
                    elif g < 0.8:
                        self.same("XPENDING", "s", "g")
                    elif g < 0.9:
                        self.same("XINFO", "GROUPS", "s")
                    else:
                        self.same("XGROUP", "SETID", "s", "g",
                                  "%d-%d" % (rng.randint(0, ms), rng.randint(0, 3)))
                    continue
                op = rng.random()
                rid = lambda: "%d-%d" % (rng.randint(0, ms + 2), rng.randint(0, 3))
                if op < 0.45:
                    ms += rng.choice([0, 0, 1, 2])
                    args = ["XADD", "s"]
                    if rng.random() < 0.1:
                        args += ["MAXLEN", rng.choice(["=", "~"]), str(rng.randint(0, 40))]
                    args.append("%d-*" % ms if rng.random() < 0.8 else rid())
                    args += ["f", str(rng.randint(0, 9))] * rng.choice([1, 1, 2])
                    self.same(*args)
                elif op < 0.6:
                    self.same("XDEL", "s", *[rid() for _ in range(rng.randint(1, 4))])
                elif op < 0.68:
                    if rng.random() < 0.5:
                        self.same("XTRIM", "s", "MAXLEN", rng.choice(["=", "~"]),
                                  str(rng.randint(0, 60)))
                    else:
                        self.same("XTRIM", "s", "MINID", rng.choice(["=", "~"]), rid())
                elif op < 0.8:
                    cmd = rng.choice(["XRANGE", "XREVRANGE"])
                    a, b = (rid(), rid()) if rng.random() < 0.7 else ("-", "+")
                    extra = ["COUNT", str(rng.randint(1, 7))] if rng.random() < 0.5 else []
                    self.same(cmd, "s", a, b, *extra)
                elif op < 0.9:
                    self.same("XREAD", "COUNT", str(rng.randint(0, 6)), "STREAMS", "s", rid())
                else:
                    o, s = self.each("XINFO", "STREAM", "s")
                    if isinstance(o, list):
                        strip = lambda v: [kv for kv in as_pairs(v)
                                           if not kv[0].startswith(b"radix-tree")]
                        self.assertEqual(strip(s), strip(o))
                    else:
                        self.assertEqual(s, o)
            self.same("XLEN", "s")
            self.same("XRANGE", "s", "-", "+")


class Notifications(StreamCase):
    def test_stream_events_match_redis(self):
        self.connect(2)
        subs = []
        for srv, c in ((self.oracle, self.o), (self.server, self.s)):
            self.assertEqual(c.call("CONFIG", "SET", "notify-keyspace-events", "KEA"), b"+OK\r\n")
            self.addCleanup(c.call, "CONFIG", "SET", "notify-keyspace-events", "")
            sub = RawConnection(srv.port)
            self.addCleanup(sub.close)
            sub.call("PSUBSCRIBE", "__keyevent@0__:*")
            subs.append(sub)
        script = [
            ("XADD", "s", "1-1", "f", "v"), ("XADD", "s", "MAXLEN", "1", "2-1", "f", "v"),
            ("XADD", "s", "3-1", "f", "v"), ("XDEL", "s", "3-1"), ("XDEL", "s", "9-9"),
            ("XTRIM", "s", "MAXLEN", "0"), ("XADD", "s", "4-1", "f", "v"),
            ("XGROUP", "CREATE", "s", "g", "0"), ("XGROUP", "CREATECONSUMER", "s", "g", "a"),
            ("XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", ">"),
            ("XCLAIM", "s", "g", "a", "0", "4-1"), ("XGROUP", "SETID", "s", "g", "0"),
            ("XGROUP", "DELCONSUMER", "s", "g", "b"), ("XSETID", "s", "10-0"),
            ("XGROUP", "DESTROY", "s", "g"), ("XGROUP", "CREATE", "t", "g", "$", "MKSTREAM"),
            ("DEL", "s", "t"), ("SET", "end", "1"),
        ]
        for cmd in script:
            self.same(*cmd)
        events = []
        for sub in subs:
            got = []
            while True:
                msg = decode(sub.read_reply())
                got.append((msg[2], msg[3]))
                if msg[3] == b"end":
                    break
            events.append(got)
        self.assertEqual(events[1], events[0])
        self.assertIn((b"__keyevent@0__:xgroup-createconsumer", b"s"), events[1])


class GroupCommands(StreamCase):
    def test_xgroup(self):
        for _ in self.protocols():
            self.fill(n=6)
            self.same("XGROUP", "CREATE", "s", "g1", "0")
            self.same("XGROUP", "CREATE", "s", "g1", "0")
            self.same("XGROUP", "CREATE", "s", "g2", "$")
            self.same("XGROUP", "CREATE", "s", "g3", "2-1", "ENTRIESREAD", "4")
            self.same_error("XGROUP", "CREATE", "s", "g4", "0", "ENTRIESREAD", "-5")
            self.same_error("XGROUP", "CREATE", "s", "g4", "0", "BOGUS")
            self.same_error("XGROUP", "CREATE", "s", "g4", "bad")
            self.same_error("XGROUP", "CREATE", "nokey", "g", "0")
            self.same("XGROUP", "CREATE", "mk", "g", "$", "MKSTREAM")
            self.same("XLEN", "mk")
            self.same("TYPE", "mk")
            self.same("SET", "str", "x")
            self.same("XGROUP", "CREATE", "str", "g", "0", "MKSTREAM")
            self.same_error("XGROUP", "CREATE", "s")
            self.same_error("XGROUP", "FOO", "s", "g")
            self.same("XGROUP", "HELP")
            self.same("XGROUP", "SETID", "s", "g1", "3-0")
            self.same("XGROUP", "SETID", "s", "g1", "$", "ENTRIESREAD", "6")
            self.same("XGROUP", "SETID", "s", "g1", "-")
            self.same_error("XGROUP", "SETID", "s", "nog", "0")
            self.same_error("XGROUP", "SETID", "s", "g1", "0", "FOO", "1")
            self.same_error("XGROUP", "SETID", "nokey", "g1", "0")
            self.same("XGROUP", "CREATECONSUMER", "s", "g1", "alice")
            self.same("XGROUP", "CREATECONSUMER", "s", "g1", "alice")
            self.same_error("XGROUP", "CREATECONSUMER", "s", "nog", "alice")
            self.same("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "2", "STREAMS", "s", ">")
            self.same("XGROUP", "DELCONSUMER", "s", "g1", "bob")
            self.same("XGROUP", "DELCONSUMER", "s", "g1", "nobody")
            self.same("XPENDING", "s", "g1")
            self.same("XINFO", "GROUPS", "s")
            self.same("XGROUP", "DESTROY", "s", "g2")
            self.same("XGROUP", "DESTROY", "s", "g2")
            self.same("XINFO", "GROUPS", "s")

    def test_xreadgroup_and_xack(self):
        for _ in self.protocols():
            self.fill(n=9)
            self.same("XGROUP", "CREATE", "s", "g", "0")
            self.same("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "s", ">")
            self.same("XREADGROUP", "GROUP", "g", "bob", "COUNT", "2", "STREAMS", "s", ">")
            self.same("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0")
            self.same("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "s", "1-0")
            self.same("XREADGROUP", "GROUP", "g", "carol", "NOACK", "COUNT", "1",
                      "STREAMS", "s", ">")
            self.same("XINFO", "GROUPS", "s")
            self.same("XACK", "s", "g", "1-0", "1-1", "9-9")
            self.same("XACK", "s", "g", "1-0")
            self.same_error("XACK", "s", "g", "bad")
            self.same("XACK", "s", "nog", "1-0")
            self.same("XACK", "nokey", "g", "1-0")
            self.same("XDEL", "s", "1-2")
            self.same("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0")
            self.same("XREADGROUP", "GROUP", "g", "dave", "STREAMS", "s", ">")
            self.same("XREADGROUP", "GROUP", "g", "dave", "STREAMS", "s", ">")
            self.same("XINFO", "GROUPS", "s")
            self.same_error("XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">")
            self.same_error("XREADGROUP", "GROUP", "g", "c", "STREAMS", "nokey", ">")
            self.same_error("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$")
            self.same_error("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s")
            self.same_error("XREADGROUP", "COUNT", "1", "STREAMS", "s", ">")
            self.same("SET", "str", "x")
            self.same("XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">")
            self.same("XPENDING", "s", "g")
            self.same("XPENDING", "s", "g", "-", "+", "10", "nobody")

    def test_xpending_extended(self):
        for _ in self.protocols():
            self.fill(n=6)
            self.same("XGROUP", "CREATE", "s", "g", "0")
            self.same("XPENDING", "s", "g")
            self.same("XREADGROUP", "GROUP", "g", "a", "COUNT", "4", "STREAMS", "s", ">")
            self.same("XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", ">")
            self.same("XPENDING", "s", "g")
            o, s = self.each("XPENDING", "s", "g", "-", "+", "10")
            self.assertEqual([[e[0], e[1], e[3]] for e in s], [[e[0], e[1], e[3]] for e in o])
            for e in s:
                self.assertLess(e[2], 5000)
            o, s = self.each("XPENDING", "s", "g", "(1-0", "2-0", "2", "a")
            self.assertEqual([e[0] for e in s], [e[0] for e in o])
            self.same("XPENDING", "s", "g", "IDLE", "100000", "-", "+", "10")
            self.same("XPENDING", "s", "g", "-", "+", "0")
            self.same_error("XPENDING", "s", "g", "-", "+")
            self.same_error("XPENDING", "s", "g", "IDLE", "10", "-", "+")
            self.same_error("XPENDING", "s", "g", "IDLE", "x", "-", "+", "1")
            self.same_error("XPENDING", "s", "g", "-", "+", "x")
            self.same_error("XPENDING", "s", "nog")
            self.same_error("XPENDING", "nokey", "g")

    def test_xclaim(self):
        for _ in self.protocols():
            self.fill(n=6)
            self.same("XGROUP", "CREATE", "s", "g", "0")
            self.same("XREADGROUP", "GROUP", "g", "a", "COUNT", "4", "STREAMS", "s", ">")
            self.same("XCLAIM", "s", "g", "b", "0", "1-0", "1-1")
            self.same("XCLAIM", "s", "g", "b", "100000", "1-2")  # not idle enough
            self.same("XCLAIM", "s", "g", "c", "0", "1-2", "JUSTID")
            self.same("XCLAIM", "s", "g", "c", "0", "2-0", "RETRYCOUNT", "7", "IDLE", "5000")
            self.same("XCLAIM", "s", "g", "c", "0", "2-1", "FORCE", "JUSTID")
            self.same("XCLAIM", "s", "g", "c", "0", "9-9", "FORCE")
            self.same("XCLAIM", "s", "g", "c", "0", "1-0", "TIME", "1", "LASTID", "5-0")
            self.same("XINFO", "GROUPS", "s")
            self.same("XDEL", "s", "1-1")
            self.same("XCLAIM", "s", "g", "c", "0", "1-1")
            self.same("XPENDING", "s", "g")
            o, s = self.each("XPENDING", "s", "g", "-", "+", "10")
            self.assertEqual([[e[0], e[1], e[3]] for e in s], [[e[0], e[1], e[3]] for e in o])
            self.same_error("XCLAIM", "s", "g", "c", "x", "1-0")
            self.same_error("XCLAIM", "s", "g", "c", "0", "1-0", "IDLE", "x")
            self.same_error("XCLAIM", "s", "g", "c", "0", "1-0", "BOGUS")
            self.same_error("XCLAIM", "s", "nog", "c", "0", "1-0")
            self.same_error("XCLAIM", "nokey", "g", "c", "0", "1-0")

    def test_xautoclaim(self):
        for _ in self.protocols():
            self.fill(n=9)
            self.same("XGROUP", "CREATE", "s", "g", "0")
            self.same("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">")
            self.same("XDEL", "s", "1-2", "2-0")
            self.same("XAUTOCLAIM", "s", "g", "b", "0", "0", "COUNT", "3")
            self.same("XAUTOCLAIM", "s", "g", "b", "0", "(2-1", "COUNT", "2", "JUSTID")
            self.same("XAUTOCLAIM", "s", "g", "c", "100000", "0")
            self.same("XAUTOCLAIM", "s", "g", "c", "0", "-")
            self.same("XPENDING", "s", "g")
            self.same_error("XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", "0")
            self.same_error("XAUTOCLAIM", "s", "g", "c", "0", "bad")
            self.same_error("XAUTOCLAIM", "s", "g", "c", "x", "0")
            self.same_error("XAUTOCLAIM", "s", "g", "c", "0", "0", "FOO")
            self.same_error("XAUTOCLAIM", "s", "nog", "c", "0", "0")

    def test_lag_and_entries_read(self):
        for _ in self.protocols():
            self.fill(n=6)
            self.same("XGROUP", "CREATE", "s", "g", "0")
            self.same("XGROUP", "CREATE", "s", "h", "$")
            self.same("XGROUP", "CREATE", "s", "i", "1-1")
            self.same("XGROUP", "CREATE", "s", "j", "0", "ENTRIESREAD", "0")
            self.same("XINFO", "GROUPS", "s")
            self.same("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">")
            self.same("XREADGROUP", "GROUP", "i", "c", "COUNT", "1", "STREAMS", "s", ">")
            self.same("XDEL", "s", "2-2")
            self.same("XINFO", "GROUPS", "s")
            self.same("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
            self.same("XINFO", "GROUPS", "s")
            self.same("XADD", "s", "10-0", "f", "v")
            self.same("XDEL", "s", "1-0", "1-1")
            self.same("XINFO", "GROUPS", "s")
            self.same("XTRIM", "s", "MAXLEN", "0")
            self.same("XINFO", "GROUPS", "s")


class Info(StreamCase):
    def masked_stream(self, v, full):
        out = []
        for k, val in as_pairs(v):
            if k in (b"radix-tree-keys", b"radix-tree-nodes"):
                self.assertGreaterEqual(val, 0)
                continue
            if k == b"groups" and full:
                groups = []
                for g in val:
                    gp = []
                    for gk, gv in as_pairs(g):
                        if gk == b"pending":
                            gv = [[e[0], e[1], e[3]] for e in gv]
                        if gk == b"consumers":
                            cons = []
                            for c in gv:
                                cons.append([(ck, [[e[0], e[2]] for e in cv] if ck == b"pending"
                                              else cv) for ck, cv in as_pairs(c)
                                             if ck not in (b"seen-time", b"active-time")])
                            gv = cons
                        gp.append((gk, gv))
                    groups.append(gp)
                val = groups
            out.append((k, val))
        return out

    def test_xinfo_stream(self):
        for proto in self.protocols():
            self.same_error("XINFO", "STREAM", "nokey")
            self.same("XINFO", "HELP")
            self.same_error("XINFO", "FOO", "s")
            self.same("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
            self.same("XINFO", "STREAM", "s")
            self.fill(n=15)
            self.same("XDEL", "s", "1-0")
            o, s = self.each("XINFO", "STREAM", "s")
            self.assertEqual(self.masked_stream(s, False), self.masked_stream(o, False))
            if proto == 3:
                self.assertIsInstance(s, dict)
            self.same("XREADGROUP", "GROUP", "g", "c1", "COUNT", "3", "STREAMS", "s", ">")
            self.same("XREADGROUP", "GROUP", "g", "c2", "COUNT", "2", "STREAMS", "s", ">")
            for extra in ((), ("COUNT", "2"), ("COUNT", "0")):
                o, s = self.each("XINFO", "STREAM", "s", "FULL", *extra)
                self.assertEqual(self.masked_stream(s, True), self.masked_stream(o, True))
            self.same_error("XINFO", "STREAM", "s", "FULL", "COUNT")
            self.same_error("XINFO", "STREAM", "s", "FOO")
            self.same("SET", "str", "x")
            self.same("XINFO", "STREAM", "str")
            self.same("XINFO", "STREAM", "str", "FULL", "COUNT", "x")
            self.same("XINFO", "STREAM", "nokey", "FOO")
            self.same("XINFO", "GROUPS", "str")

    def test_xinfo_consumers(self):
        for _ in self.protocols():
            self.fill(n=5)
            self.same("XGROUP", "CREATE", "s", "g", "0")
            self.same("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "s", ">")
            self.same("XGROUP", "CREATECONSUMER", "s", "g", "bob")
            o, s = self.each("XINFO", "CONSUMERS", "s", "g")
            self.assertEqual(len(s), len(o))
            for oc, sc in zip(o, s):
                om, sm = dict(as_pairs(oc)), dict(as_pairs(sc))
                self.assertEqual(sm[b"name"], om[b"name"])
                self.assertEqual(sm[b"pending"], om[b"pending"])
                self.assertLess(sm[b"idle"], 5000)
                if not harness.redis_as_subject():
                    self.assertEqual(list(sm), [b"name", b"pending", b"idle", b"inactive"])
                    if sm[b"name"] == b"bob":
                        self.assertEqual(sm[b"inactive"], -1)  # never read
                    else:
                        self.assertLess(sm[b"inactive"], 5000)
            self.same_error("XINFO", "CONSUMERS", "s", "nog")
            self.same_error("XINFO", "CONSUMERS", "nokey", "g")


class BlockingReads(harness.OracleCase):
    """Blocking XREAD / XREADGROUP across clients, on causalkv and (for the
    replies that do not depend on timing) on the oracle."""

    def servers(self):
        for srv in (self.oracle, self.server):
            with self.subTest(server=srv.name if hasattr(srv, "name") else srv.port):
                c = RawConnection(srv.port)
                self.addCleanup(c.close)
                c.call("FLUSHALL")
                yield srv, c

    def blocked_clients(self, c):
        text = decode(c.call("INFO", "clients")).decode()
        return int(re.search(r"blocked_clients:(\d+)", text).group(1))

    def wait_blocked(self, c, n):
        deadline = time.monotonic() + 5
        while self.blocked_clients(c) != n:
            self.assertLess(time.monotonic(), deadline, "blocked_clients never reached %d" % n)
            time.sleep(0.01)

    def test_xread_block_is_woken_by_xadd(self):
        replies = []
        for srv, c in self.servers():
            c.call("XADD", "s", "1-1", "f", "v")
            w = RawConnection(srv.port)
            self.addCleanup(w.close)
            w.send(encode_command("XREAD", "BLOCK", "0", "STREAMS", "s", "$"))
            self.wait_blocked(c, 1)
            c.call("XADD", "other", "5-5", "f", "v")
            c.call("XADD", "s", "2-2", "f", "new")
            replies.append(w.read_reply())
            self.wait_blocked(c, 0)
        self.assertEqual(replies[1], replies[0])
        self.assertIn(b"2-2", replies[1])

    def test_dollar_is_resolved_when_blocking(self):
        # Two entries arrive one after the other: the waiter gets the first
        # (its `$` was the ID at block time), never an empty read.
        for srv, c in self.servers():
            w = RawConnection(srv.port)
            self.addCleanup(w.close)
            w.send(encode_command("XREAD", "BLOCK", "0", "STREAMS", "s", "$"))
            self.wait_blocked(c, 1)
            c.send(encode_command("XADD", "s", "1-1", "f", "a") +
                   encode_command("XADD", "s", "1-2", "f", "b"))
            c.read_reply()
            c.read_reply()
            got = decode(w.read_reply())
            entries = got[0][1] if isinstance(got, list) else list(got.values())[0]
            self.assertEqual(entries[0][0], b"1-1")

    def test_timeout_and_resp3_null(self):
        for srv, c in self.servers():
            w = RawConnection(srv.port)
            self.addCleanup(w.close)
            start = time.monotonic()
            self.assertEqual(w.call("XREAD", "BLOCK", "150", "STREAMS", "s", "$"), b"*-1\r\n")
            self.assertGreaterEqual(time.monotonic() - start, 0.12)
            w.call("HELLO", "3")
            self.assertEqual(w.call("XREAD", "BLOCK", "100", "STREAMS", "s", "0"), b"_\r\n")
            c.call("XADD", "s", "1-1", "f", "v")
            # Something to serve: no blocking at all.
            self.assertTrue(w.call("XREAD", "BLOCK", "0", "STREAMS", "s", "0").startswith(b"%1"))

    def test_xreadgroup_block_and_fairness(self):
        for srv, c in self.servers():
            c.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
            a = RawConnection(srv.port)
            b = RawConnection(srv.port)
            self.addCleanup(a.close)
            self.addCleanup(b.close)
            a.send(encode_command("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "BLOCK", "0",
                                  "STREAMS", "s", ">"))
            self.wait_blocked(c, 1)
            b.send(encode_command("XREADGROUP", "GROUP", "g", "bob", "COUNT", "1", "BLOCK", "0",
                                  "STREAMS", "s", ">"))
            self.wait_blocked(c, 2)
            if srv is self.server and not harness.redis_as_subject():
                # 7.2: a waiting XREADGROUP has created its consumer.
                names = [dict(as_pairs(x))[b"name"]
                         for x in decode(c.call("XINFO", "CONSUMERS", "s", "g"))]
                self.assertEqual(names, [b"alice", b"bob"])
            c.call("XADD", "s", "1-1", "f", "one")
            self.assertIn(b"one", a.read_reply())
            self.wait_blocked(c, 1)
            c.call("XADD", "s", "1-2", "f", "two")
            self.assertIn(b"two", b.read_reply())
            pending = decode(c.call("XPENDING", "s", "g"))
            self.assertEqual(pending[0], 2)

    def test_xreadgroup_unblocked_by_delete_and_destroy(self):
        for srv, c in self.servers():
            for action in (("DEL", "s"), ("XGROUP", "DESTROY", "s", "g")):
                c.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
                w = RawConnection(srv.port)
                self.addCleanup(w.close)
                w.send(encode_command("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0",
                                      "STREAMS", "s", ">"))
                self.wait_blocked(c, 1)
                c.call(*action)
                reply = w.read_reply()
                self.assertTrue(reply.startswith(b"-") and (b"NOGROUP" in reply or
                                                            b"no longer exists" in reply),
                                reply)
                self.wait_blocked(c, 0)
                c.call("DEL", "s")

    def test_block_inside_multi_returns_null(self):
        for srv, c in self.servers():
            c.call("MULTI")
            c.call("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
            c.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
            reply = c.call("EXEC")
            self.assertTrue(reply.startswith(b"*2\r\n*-1\r\n-NOGROUP"), reply)

    def test_blpop_still_works(self):
        for srv, c in self.servers():
            w = RawConnection(srv.port)
            self.addCleanup(w.close)
            w.send(encode_command("BLPOP", "q", "0"))
            self.wait_blocked(c, 1)
            c.call("XADD", "q2", "1-1", "f", "v")
            c.call("RPUSH", "q", "x")
            self.assertEqual(w.read_reply(), b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n")


class Persistence(unittest.TestCase):
    """Streams and their groups survive kill -9 under appendfsync always, and
    SAVE + restart."""

    def setUp(self):
        if harness.redis_as_subject():
            self.skipTest("causalkv's own data files")
        self.dir = tempfile.mkdtemp(prefix="ckv-streams-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def state(self, c):
        out = []
        for key in (b"s", b"empty"):
            out.append(c.call("XRANGE", key, "-", "+"))
            info = decode(c.call("XINFO", "STREAM", key, "FULL"))
            out.append(repr([kv for kv in as_pairs(info)
                             if kv[0] not in (b"radix-tree-keys", b"radix-tree-nodes")]))
            if key == b"s":
                out.append([[e[0], e[1], e[3]]
                            for e in decode(c.call("XPENDING", key, "g", "-", "+", "100"))])
        return out

    def populate(self, c):
        c.call("CONFIG", "SET", "stream-node-max-entries", "7")
        for i in range(50):
            c.call("XADD", "s", "%d-%d" % (i // 4 + 1, i % 4), "f", "v%d" % i, "k", str(i))
        c.call("XDEL", "s", "2-1", "3-3")
        c.call("XTRIM", "s", "MAXLEN", "45")
        c.call("XGROUP", "CREATE", "s", "g", "0")
        c.call("XGROUP", "CREATE", "s", "h", "$")
        c.call("XREADGROUP", "GROUP", "g", "alice", "COUNT", "5", "STREAMS", "s", ">")
        c.call("XREADGROUP", "GROUP", "g", "bob", "COUNT", "3", "STREAMS", "s", ">")
        c.call("XACK", "s", "g", "3-0")
        c.call("XCLAIM", "s", "g", "carol", "0", "4-0")
        c.call("XSETID", "s", "100-0", "ENTRIESADDED", "80", "MAXDELETEDID", "50-0")
        c.call("XADD", "empty", "1-1", "f", "v")
        c.call("XDEL", "empty", "1-1")
        c.call("XGROUP", "CREATE", "empty", "g", "$")

    def test_kill9_with_aof_always(self):
        srv = harness.start_server(None, "--appendonly", "yes", "--appendfsync", "always",
                                   data_dir=self.dir)
        c = RawConnection(srv.port)
        self.populate(c)
        before = self.state(c)
        c.close()
        srv.kill9()
        srv = harness.start_server(None, "--appendonly", "yes", data_dir=self.dir)
        c = RawConnection(srv.port)
        self.assertEqual(self.state(c), before)
        self.assertEqual(c.call("TYPE", "empty"), b"+stream\r\n")
        c.close()
        srv.stop(remove_dir=False)

    def test_save_and_restart(self):
        srv = harness.start_server(None, data_dir=self.dir)
        c = RawConnection(srv.port)
        self.populate(c)
        before = self.state(c)
        self.assertEqual(c.call("SAVE"), b"+OK\r\n")
        c.close()
        srv.stop(remove_dir=False)
        srv = harness.start_server(None, data_dir=self.dir)
        c = RawConnection(srv.port)
        self.assertEqual(self.state(c), before)
        c.close()
        srv.stop(remove_dir=False)


class InACluster(unittest.TestCase):
    """Three nodes: a stream, its groups included, is written through any
    node and read through any other (the whole value travels with each
    write); a reader blocked on one node is woken by an XADD through
    another."""

    def setUp(self):
        if harness.redis_as_subject():
            self.skipTest("causalkv's cluster")
        import cluster_harness
        self.cluster = cluster_harness.Cluster(
            3, ["--peer-timeout", "400", "--anti-entropy-interval", "300"])
        self.addCleanup(self.cluster.close)
        self.conns = []
        for node in self.cluster.nodes:
            c = RawConnection(node.port, host=node.addr)
            self.addCleanup(c.close)
            self.conns.append(c)

    def test_stream_and_groups_through_three_nodes(self):
        a, b, c = self.conns
        self.assertEqual(a.call("XADD", "s", "1-1", "f", "v"), b"$3\r\n1-1\r\n")
        self.assertEqual(b.call("XADD", "s", "2-1", "f", "w"), b"$3\r\n2-1\r\n")
        self.assertEqual(decode(c.call("XLEN", "s")), 2)
        self.assertEqual(c.call("XGROUP", "CREATE", "s", "g", "0"), b"+OK\r\n")
        got = decode(a.call("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "s", ">"))
        self.assertEqual(got[0][1][0][0], b"1-1")
        pending = decode(b.call("XPENDING", "s", "g"))
        self.assertEqual(pending[:3], [1, b"1-1", b"1-1"])
        self.assertEqual(decode(c.call("XACK", "s", "g", "1-1")), 1)
        self.assertEqual(decode(a.call("XPENDING", "s", "g"))[0], 0)
        self.assertEqual(a.call("TYPE", "s"), b"+stream\r\n")
        # A reader blocked on one node, woken by a write through another.
        b.send(encode_command("XREAD", "BLOCK", "5000", "STREAMS", "s", "$"))
        time.sleep(0.2)
        self.assertEqual(c.call("XADD", "s", "3-1", "f", "x"), b"$3\r\n3-1\r\n")
        got = decode(b.read_reply())
        self.assertEqual(got[0][1][0][0], b"3-1")
        self.cluster.wait_converged()
        views = [conn.call("XINFO", "STREAM", "s", "FULL") for conn in self.conns]
        self.assertEqual(views[1], views[0])
        self.assertEqual(views[2], views[0])


if __name__ == "__main__":
    harness.main()
