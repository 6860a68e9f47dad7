#!/usr/bin/python3
"""The versioned commands (issue 2, section 3) through redis-py.

Every test runs against its own server on a fresh data directory, so the
version counter starts at 0 and the first write gets version 1: the tests
can then state exact versions. Persistence tests restart a server on the
same data directory and only require versions to be strictly greater than
any seen before (the server may skip ahead by a reserved range).

Reply shape checked everywhere: VGET/VPUT/VDEL answer a 2-element array,
[integer highest version or 0, array of bulk string values oldest first].
"""

import os
import shutil
import tempfile
import time
import unittest

import redis

import harness


class VersionedTestCase(unittest.TestCase):
    """A fresh server per test and helpers that check the reply shape."""

    def setUp(self):
        self.server = harness.start_server()
        self.addCleanup(self.server.stop)
        self.r = self.client()

    def client(self, port=None, **kw):
        c = redis.Redis(host="127.0.0.1", port=port or self.server.port,
                        socket_timeout=harness.IO_TIMEOUT, socket_connect_timeout=5, **kw)
        self.addCleanup(c.close)
        return c

    def check_shape(self, reply, what):
        self.assertIsInstance(reply, list, "%s: reply is not an array: %r" % (what, reply))
        self.assertEqual(len(reply), 2, "%s: reply is not a 2-element array: %r" % (what, reply))
        version, values = reply
        self.assertIsInstance(version, int, "%s: first element is not an integer: %r" % (what, reply))
        self.assertIsInstance(values, list, "%s: second element is not an array: %r" % (what, reply))
        for v in values:
            self.assertIsInstance(v, bytes, "%s: value is not a bulk string: %r" % (what, reply))
        return version, values

    def vget(self, key, r=None):
        return self.check_shape((r or self.r).execute_command("VGET", key), "VGET %r" % key)

    def vput(self, key, version, value, *opts, r=None):
        reply = (r or self.r).execute_command("VPUT", key, version, value, *opts)
        return self.check_shape(reply, "VPUT %r %r %r %r" % (key, version, value, opts))

    def vdel(self, key, version, r=None):
        return self.check_shape((r or self.r).execute_command("VDEL", key, version),
                                "VDEL %r %r" % (key, version))

    def assertVGet(self, key, version, values, msg=None):
        self.assertEqual(self.vget(key), (version, values), msg)

    def next_version(self):
        """The version the next write gets, observed with a blind VPUT on a
        scratch key (which itself consumes that version)."""
        return self.vput("__probe__", 0, "p")[0]


class VgetVputVdel(VersionedTestCase):

    def test_vget_missing_key(self):
        self.assertVGet("cart", 0, [])
        self.vput("other", 0, "x")
        self.assertVGet("cart", 0, [])

    def test_seed_cart_scenario(self):
        self.assertEqual(self.vput("cart", 0, "milk"), (1, [b"milk"]))
        self.assertEqual(self.vput("cart", 0, "eggs"), (2, [b"milk", b"eggs"]))
        self.assertEqual(self.vput("cart", 1, "milk flour"), (3, [b"eggs", b"milk flour"]))
        self.assertEqual(self.vput("cart", 2, "eggs milk ham"), (4, [b"milk flour", b"eggs milk ham"]))
        self.assertEqual(self.vput("cart", 3, "milk flour eggs bacon"),
                         (5, [b"eggs milk ham", b"milk flour eggs bacon"]))
        self.assertVGet("cart", 5, [b"eggs milk ham", b"milk flour eggs bacon"])

    def test_blind_writes_are_concurrent_with_everything(self):
        self.assertEqual(self.vput("k", 0, "a"), (1, [b"a"]))
        self.assertEqual(self.vput("k", 0, "b"), (2, [b"a", b"b"]))
        self.assertEqual(self.vput("k", 0, "c"), (3, [b"a", b"b", b"c"]))

    def test_vput_removes_siblings_up_to_the_given_version(self):
        for v in ("a", "b", "c", "d"):
            self.vput("k", 0, v)  # versions 1..4
        self.assertEqual(self.vput("k", 2, "e"), (5, [b"c", b"d", b"e"]))
        self.assertEqual(self.vput("k", 5, "f"), (6, [b"f"]))

    def test_vput_with_a_version_read_from_another_key(self):
        # Any version up to the counter is legal; it removes this key's
        # siblings at or below it.
        self.vput("a", 0, "a1")  # 1
        self.vput("b", 0, "b1")  # 2
        self.vput("a", 0, "a3")  # 3
        self.assertEqual(self.vput("a", 2, "a4"), (4, [b"a3", b"a4"]))
        self.assertVGet("b", 2, [b"b1"])

    def test_values_are_binary_safe(self):
        blob = b"a\x00b\r\nc\r\n$3\r\n\xff"
        self.assertEqual(self.vput("k", 0, blob), (1, [blob]))
        self.assertEqual(self.vput("k", 0, b""), (2, [blob, b""]))
        self.assertVGet("k", 2, [blob, b""])
        self.assertEqual(self.r.get("k"), b"")

    def test_vdel_semantics(self):
        self.assertEqual(self.vdel("missing", 0), (0, []))
        for v in ("a", "b", "c"):
            self.vput("k", 0, v)  # versions 1..3
        self.assertEqual(self.vdel("k", 0), (3, [b"a", b"b", b"c"]))  # removes nothing
        self.assertEqual(self.vdel("k", 1), (3, [b"b", b"c"]))
        self.assertEqual(self.vdel("k", 1), (3, [b"b", b"c"]))
        self.vput("k", 0, "d")  # 4
        self.assertEqual(self.vdel("k", 3), (4, [b"d"]))  # highest remaining version
        self.assertEqual(self.r.exists("k"), 1)
        self.assertEqual(self.vdel("k", 4), (0, []))  # no sibling left: the key is gone
        self.assertEqual(self.r.exists("k"), 0)
        self.assertIsNone(self.r.get("k"))
        self.assertVGet("k", 0, [])

    def test_vdel_keeps_siblings_newer_than_the_given_version(self):
        self.vput("k", 0, "a")  # 1
        self.vput("k", 0, "b")  # 2
        self.assertEqual(self.vdel("k", 1), (2, [b"b"]))
        self.assertEqual(self.r.get("k"), b"b")

    def test_vdel_stores_nothing_and_takes_no_version(self):
        self.vput("k", 0, "a")  # 1
        self.vput("k", 0, "b")  # 2
        self.vdel("k", 1)
        self.vdel("k", 2)
        self.vdel("missing", 2)
        self.assertEqual(self.next_version(), 3)

    def test_vget_returns_values_oldest_first(self):
        self.vput("k", 0, "z")
        self.vput("k", 0, "a")
        self.vput("k", 0, "m")
        self.assertVGet("k", 3, [b"z", b"a", b"m"])


class VersionErrors(VersionedTestCase):

    BAD_VERSIONS = ["abc", "1.5", "-1", "-0.0", "", " 1", "1 ", "0x1", "1e2",
                    "99999999999999999999", "18446744073709551616"]

    def setUp(self):
        super().setUp()
        self.vput("k", 0, "a")  # 1
        self.vput("k", 0, "b")  # 2: the counter is now 2

    def assertUnchanged(self):
        self.assertVGet("k", 2, [b"a", b"b"], "a rejected command changed the key")

    def test_malformed_versions_are_rejected(self):
        for bad in self.BAD_VERSIONS:
            with self.subTest(version=bad):
                with self.assertRaises(redis.ResponseError, msg="VPUT with version %r" % bad):
                    self.r.execute_command("VPUT", "k", bad, "x")
                with self.assertRaises(redis.ResponseError, msg="VDEL with version %r" % bad):
                    self.r.execute_command("VDEL", "k", bad)
                self.assertUnchanged()
        # Nothing was stored, so no version was taken.
        self.assertEqual(self.next_version(), 3)

    def test_version_above_the_counter_is_rejected(self):
        for bad in ("3", "4", "1000", "9223372036854775807"):
            with self.subTest(version=bad):
                with self.assertRaises(redis.ResponseError, msg="VPUT with version %s > counter 2" % bad):
                    self.r.execute_command("VPUT", "k", bad, "x")
                with self.assertRaises(redis.ResponseError, msg="VDEL with version %s > counter 2" % bad):
                    self.r.execute_command("VDEL", "k", bad)
                with self.assertRaises(redis.ResponseError, msg="VPUT on a new key, version %s" % bad):
                    self.r.execute_command("VPUT", "newkey", bad, "x")
                self.assertUnchanged()
                self.assertVGet("newkey", 0, [])
        self.assertEqual(self.next_version(), 3)

    def test_version_equal_to_the_counter_is_accepted(self):
        self.assertEqual(self.vput("k", 2, "c"), (3, [b"c"]))
        self.assertEqual(self.vput("k", 3, "d"), (4, [b"d"]))
        self.assertEqual(self.vdel("k", 4), (0, []))

    def test_wrong_arity(self):
        for args, name in ((["VGET"], "vget"), (["VPUT", "k", "0"], "vput"), (["VPUT", "k"], "vput"),
                           (["VDEL", "k"], "vdel")):
            with self.subTest(args=args):
                with self.assertRaises(redis.ResponseError) as cm:
                    self.r.execute_command(*args)
                self.assertEqual(str(cm.exception),
                                 "wrong number of arguments for '%s' command" % name)
        # Extra arguments may be options (VDEL key version [W n]), so only an
        # error is required, not the arity text.
        for args in (["VGET", "k", "no-such-option"], ["VDEL", "k", "1", "2"],
                     ["VDEL", "k", "1", "W"], ["VDEL", "k", "1", "X", "1"]):
            with self.subTest(args=args):
                with self.assertRaises(redis.ResponseError):
                    self.r.execute_command(*args)
        self.assertUnchanged()

    def test_quorum_options_on_a_single_node(self):
        # N is 1 on a single node: W 1 and R 1 are the only quorums.
        version, values = self.r.execute_command("VPUT", "q", 0, "x", "W", 1)
        self.assertEqual(values, [b"x"])
        self.assertEqual(self.r.execute_command("VGET", "q", "R", 1), [version, [b"x"]])
        for args in (["VPUT", "q", version, "y", "W", 2], ["VGET", "q", "R", 0],
                     ["VDEL", "q", version, "W", "two"]):
            with self.subTest(args=args):
                with self.assertRaises(redis.ResponseError) as cm:
                    self.r.execute_command(*args)
                self.assertIn("must be between 1 and the number of replicas (1)",
                              str(cm.exception))
        self.assertEqual(self.r.execute_command("VDEL", "q", version, "W", 1), [0, []])

    def test_bad_ttl_options_are_rejected(self):
        for opts in (["EX", "0"], ["EX", "-1"], ["EX", "abc"], ["PX", "0"], ["EX"],
                     ["EX", "10", "PX", "10"], ["EX", "10", "KEEPTTL"], ["FOO"], ["NX"],
                     ["EX", "9999999999999999"]):
            with self.subTest(opts=opts):
                with self.assertRaises(redis.ResponseError, msg="VPUT k 2 x %s" % " ".join(opts)):
                    self.r.execute_command("VPUT", "k", 2, "x", *opts)
                self.assertUnchanged()
                self.assertEqual(self.r.ttl("k"), -1)
        self.assertEqual(self.next_version(), 3)


class VputTtl(VersionedTestCase):

    def test_ex_px_keepttl_and_plain_vput_clears_ttl(self):
        self.vput("k", 0, "a", "EX", 100)  # 1
        self.assertTrue(95 <= self.r.ttl("k") <= 100, self.r.ttl("k"))
        self.vput("k", 1, "b", "KEEPTTL")  # 2
        self.assertTrue(95 <= self.r.ttl("k") <= 100, "KEEPTTL lost the TTL: %s" % self.r.ttl("k"))
        self.vput("k", 0, "c", "keepttl")  # 3, options are case-insensitive
        self.assertTrue(95 <= self.r.ttl("k") <= 100)
        self.assertEqual(self.vput("k", 3, "d"), (4, [b"d"]))
        self.assertEqual(self.r.ttl("k"), -1, "a VPUT without EX/PX/KEEPTTL must clear the TTL")
        self.vput("k", 4, "e", "PX", 200000)  # 5
        self.assertTrue(195000 <= self.r.pttl("k") <= 200000, self.r.pttl("k"))
        self.vput("k", 0, "f")  # a blind write also clears it
        self.assertEqual(self.r.ttl("k"), -1)

    def test_vput_clears_a_ttl_set_by_plain_commands(self):
        self.r.set("k", "v", ex=100)  # version 1
        self.vput("k", 1, "w")
        self.assertEqual(self.r.ttl("k"), -1)
        self.r.expire("k", 100)
        self.vput("k", 0, "x", "KEEPTTL")
        self.assertTrue(95 <= self.r.ttl("k") <= 100)

    def test_px_expires_the_whole_key(self):
        self.vput("k", 0, "a")
        self.vput("k", 0, "b", "PX", 100)  # the TTL belongs to the key, not the sibling
        self.assertVGet("k", 2, [b"a", b"b"])
        time.sleep(0.3)
        self.assertVGet("k", 0, [])
        self.assertEqual(self.r.exists("k"), 0)
        self.assertIsNone(self.r.get("k"))


class PlainCommandsOnSiblings(VersionedTestCase):
    """Plain Redis commands on a key that holds several siblings."""

    def make_siblings(self, key="k", values=("a", "b")):
        for v in values:
            self.vput(key, 0, v)
        return self.vget(key)

    def test_get_returns_the_newest_sibling(self):
        self.make_siblings(values=("older", "newest"))
        self.assertEqual(self.r.get("k"), b"newest")
        self.vput("k", 1, "newer still")  # 3 supersedes 1; 2 stays
        self.assertEqual(self.r.get("k"), b"newer still")
        self.vdel("k", 3)
        self.assertIsNone(self.r.get("k"))

    def test_set_replaces_all_siblings_with_one_new_version(self):
        self.make_siblings(values=("a", "b", "c"))  # 1..3
        self.assertTrue(self.r.set("k", "x"))
        self.assertVGet("k", 4, [b"x"])

    def test_plain_writes_take_versions(self):
        self.r.set("k", "1")
        self.assertVGet("k", 1, [b"1"])
        self.assertTrue(self.r.setnx("n", "v"))
        self.assertVGet("n", 2, [b"v"])
        self.r.setex("k", 100, "2")
        self.assertVGet("k", 3, [b"2"])
        self.r.psetex("k", 100000, "3")
        self.assertVGet("k", 4, [b"3"])
        self.assertEqual(self.r.getset("k", "4"), b"3")
        self.assertVGet("k", 5, [b"4"])
        self.assertEqual(self.r.append("k", "0"), 2)
        self.assertVGet("k", 6, [b"40"])
        self.assertEqual(self.r.incr("k"), 41)
        self.assertVGet("k", 7, [b"41"])
        self.assertEqual(self.r.incrby("k", 9), 50)
        self.assertVGet("k", 8, [b"50"])
        self.assertEqual(self.r.decr("k"), 49)
        self.assertVGet("k", 9, [b"49"])
        self.assertEqual(self.r.decrby("k", 9), 40)
        self.assertVGet("k", 10, [b"40"])
        self.assertEqual(self.r.incrbyfloat("k", 0.5), 40.5)
        self.assertVGet("k", 11, [b"40.5"])
        self.assertEqual(self.r.setrange("k", 0, "5"), 4)
        self.assertVGet("k", 12, [b"50.5"])
        self.assertEqual(self.r.set("k", "x", get=True), b"50.5")
        self.assertVGet("k", 13, [b"x"])
        self.assertEqual(self.r.incr("fresh"), 1)  # INCR on a missing key stores "1"
        self.assertVGet("fresh", 14, [b"1"])

    def test_multi_key_writes_take_one_version_per_key(self):
        self.vput("k", 0, "a")  # 1
        self.assertTrue(self.r.mset({"x": "1", "y": "2"}))
        vx, vy = self.vget("x")[0], self.vget("y")[0]
        self.assertEqual(sorted([vx, vy]), [2, 3], "MSET of two keys must take versions 2 and 3")
        self.assertTrue(self.r.msetnx({"p": "1", "q": "2"}))
        self.assertEqual(sorted([self.vget("p")[0], self.vget("q")[0]]), [4, 5])
        self.assertEqual(self.next_version(), 6)

    def test_append_reads_newest_and_replaces_all(self):
        self.make_siblings(values=("eggs milk ham", "milk flour eggs bacon"))
        self.assertEqual(self.r.append("k", "!"), len("milk flour eggs bacon!"))
        self.assertVGet("k", 3, [b"milk flour eggs bacon!"])

    def test_incr_family_reads_newest_and_replaces_all(self):
        self.make_siblings(values=("10", "20"))
        self.assertEqual(self.r.incr("k"), 21)
        self.assertVGet("k", 3, [b"21"])
        self.make_siblings(values=("100",))  # siblings: 3:"21", 4:"100"
        self.assertEqual(self.r.incrby("k", 5), 105)
        self.assertVGet("k", 5, [b"105"])
        self.make_siblings(values=("7",))
        self.assertEqual(self.r.decrby("k", 2), 5)
        self.assertVGet("k", 7, [b"5"])
        self.make_siblings(values=("1.5",))
        self.assertEqual(self.r.incrbyfloat("k", 1), 2.5)
        self.assertVGet("k", 9, [b"2.5"])

    def test_incr_uses_newest_even_if_an_older_sibling_is_not_a_number(self):
        self.make_siblings(values=("not a number", "5"))
        self.assertEqual(self.r.incr("k"), 6)
        self.assertVGet("k", 3, [b"6"])

    def test_failed_incr_takes_no_version(self):
        self.make_siblings(values=("5", "abc"))  # 1, 2; the newest is not a number
        for call in (lambda: self.r.incr("k"), lambda: self.r.decrby("k", 2),
                     lambda: self.r.incrbyfloat("k", 1.0)):
            with self.assertRaises(redis.ResponseError):
                call()
        self.assertVGet("k", 2, [b"5", b"abc"])
        self.vput("big", 0, "9223372036854775807")  # 3
        with self.assertRaises(redis.ResponseError):
            self.r.incr("big")
        self.assertVGet("big", 3, [b"9223372036854775807"])
        self.assertEqual(self.next_version(), 4)

    def test_writes_that_store_nothing_take_no_version(self):
        self.vput("k", 0, "a")  # 1
        self.assertIsNone(self.r.set("k", "b", nx=True))
        self.assertFalse(self.r.setnx("k", "b"))
        self.assertFalse(self.r.msetnx({"k": "b", "other": "c"}))
        self.assertIsNone(self.r.set("missing", "x", xx=True))
        self.assertEqual(self.r.set("k", "b", nx=True, get=True), b"a")
        with self.assertRaises(redis.ResponseError):
            self.r.execute_command("SET", "k", "b", "EX", "0")
        self.assertVGet("k", 1, [b"a"])
        self.assertVGet("missing", 0, [])
        self.assertVGet("other", 0, [])
        self.assertEqual(self.vput("k2", 0, "z"), (2, [b"z"]))

    def test_del_exists_type_on_a_key_with_siblings(self):
        self.make_siblings(values=("a", "b", "c"))
        self.assertEqual(self.r.exists("k"), 1)  # one key, however many siblings
        self.assertEqual(self.r.exists("k", "k"), 2)
        self.assertEqual(self.r.type("k"), b"string")
        self.assertEqual(self.r.dbsize(), 1)
        self.assertEqual(self.r.delete("k"), 1)
        self.assertVGet("k", 0, [])
        self.assertEqual(self.r.exists("k"), 0)
        self.assertEqual(self.r.type("k"), b"none")
        self.assertEqual(self.r.delete("k"), 0)

    def test_expire_family_acts_on_the_whole_key(self):
        self.make_siblings(values=("a", "b"))
        self.assertTrue(self.r.expire("k", 100))
        self.assertTrue(95 <= self.r.ttl("k") <= 100)
        self.assertVGet("k", 2, [b"a", b"b"], "EXPIRE must not touch the siblings")
        self.assertTrue(self.r.persist("k"))
        self.assertEqual(self.r.ttl("k"), -1)
        self.assertVGet("k", 2, [b"a", b"b"])
        self.assertTrue(self.r.pexpire("k", 100))
        time.sleep(0.3)
        self.assertVGet("k", 0, [])
        self.assertEqual(self.r.exists("k"), 0)

    def test_rename_moves_siblings_with_fresh_versions_in_order(self):
        self.vput("src", 0, "a")  # 1
        self.vput("src", 0, "b")  # 2
        self.vput("dst", 0, "c")  # 3: a client reads dst at version 3
        self.assertTrue(self.r.rename("src", "dst"))
        self.assertVGet("src", 0, [])
        self.assertVGet("dst", 5, [b"a", b"b"], "moved siblings get versions 4 and 5, in order")
        # The client that read dst at version 3 never saw a or b: its write
        # must not remove them.
        self.assertEqual(self.vput("dst", 3, "x"), (6, [b"a", b"b", b"x"]))
        self.assertEqual(self.vdel("dst", 3), (6, [b"a", b"b", b"x"]))
        self.assertEqual(self.vdel("dst", 4), (6, [b"b", b"x"]))
        self.assertEqual(self.vdel("dst", 5), (6, [b"x"]))

    def test_rename_keeps_the_ttl_and_old_versions_of_the_source_are_harmless(self):
        self.vput("src", 0, "a", "EX", 100)  # 1
        self.assertTrue(self.r.rename("src", "dst"))
        self.assertVGet("dst", 2, [b"a"])
        self.assertTrue(95 <= self.r.ttl("dst") <= 100)
        self.assertEqual(self.vput("dst", 1, "b"), (3, [b"a", b"b"]))

    def test_renamenx_moves_siblings_with_fresh_versions(self):
        self.vput("src", 0, "a")  # 1
        self.vput("src", 0, "b")  # 2
        self.vput("taken", 0, "t")  # 3
        self.assertFalse(self.r.renamenx("src", "taken"))
        self.assertVGet("src", 2, [b"a", b"b"], "a failed RENAMENX must not touch the source")
        self.assertTrue(self.r.renamenx("src", "dst"))
        self.assertVGet("dst", 5, [b"a", b"b"])
        self.assertEqual(self.vput("dst", 2, "x"), (6, [b"a", b"b", b"x"]))

    def test_versions_are_global_across_databases(self):
        r1 = self.client(db=1)
        self.assertEqual(self.vput("k", 0, "db0"), (1, [b"db0"]))
        self.assertEqual(self.vget("k", r=r1), (0, []))
        self.assertEqual(self.vput("k", 0, "db1", r=r1), (2, [b"db1"]))
        self.assertVGet("k", 1, [b"db0"])


class VersionsNeverRepeat(VersionedTestCase):

    def test_after_del(self):
        self.vput("k", 0, "a")
        self.vput("k", 0, "b")
        self.r.delete("k")
        self.assertEqual(self.vput("k", 0, "c"), (3, [b"c"]))

    def test_after_flushall_and_flushdb(self):
        self.vput("k", 0, "a")  # 1
        self.r.flushall()
        self.assertEqual(self.vput("k", 0, "b"), (2, [b"b"]))
        self.r.flushdb()
        self.assertEqual(self.vput("k", 0, "c"), (3, [b"c"]))
        self.r.execute_command("FLUSHALL", "ASYNC")
        self.assertEqual(self.vput("k", 0, "d"), (4, [b"d"]))

    def test_after_expiry(self):
        self.vput("k", 0, "a", "PX", 50)  # 1
        self.vput("k", 0, "b")  # 2
        self.r.pexpire("k", 50)
        time.sleep(0.25)
        self.assertVGet("k", 0, [])
        self.assertEqual(self.vput("k", 0, "c"), (3, [b"c"]))


class VersionsSurviveRestart(unittest.TestCase):
    """Restart on the same data directory, clean and after kill -9."""

    def setUp(self):
        base = tempfile.mkdtemp(prefix="causalkv-restart-")
        self.addCleanup(shutil.rmtree, base, True)
        self.data_dir = os.path.join(base, "data")
        os.mkdir(self.data_dir)
        self.server = None
        self.addCleanup(self._stop_quietly)

    def _stop_quietly(self):
        if self.server is not None and self.server.proc.poll() is None:
            self.server.kill9()

    def start(self):
        self.server = harness.start_server(data_dir=self.data_dir)
        return redis.Redis(host="127.0.0.1", port=self.server.port,
                           socket_timeout=harness.IO_TIMEOUT, socket_connect_timeout=5)

    def write(self, r, n):
        """n blind VPUTs, pipelined, each on its own key (one sibling per key
        keeps every reply small); returns the versions, checked increasing."""
        p = r.pipeline(transaction=False)
        for i in range(n):
            p.execute_command("VPUT", "w:%d" % i, 0, "v")
        versions = [reply[0] for reply in p.execute()]
        self.assertEqual(versions, sorted(set(versions)), "versions not strictly increasing")
        return versions

    def assertResumesAbove(self, r, highest, how):
        v = r.execute_command("VPUT", "k", 0, "after")[0]
        self.assertGreater(v, highest, "after %s the first version %d is not above %d, "
                                       "the highest version handed out before" % (how, v, highest))
        return v

    def test_clean_restart(self):
        r = self.start()
        self.assertEqual(r.execute_command("VPUT", "k", 0, "first")[0], 1,
                         "a fresh data directory must start the counter at 0")
        highest = self.write(r, 10)[-1]
        r.close()
        self.server.stop(remove_dir=False)
        r = self.start()
        self.assertResumesAbove(r, highest, "SIGTERM + restart")
        r.close()

    def test_kill9_restart(self):
        r = self.start()
        highest = self.write(r, 10)[-1]
        r.close()
        self.server.kill9()
        r = self.start()
        self.assertResumesAbove(r, highest, "kill -9 + restart")
        r.close()

    def test_many_restarts_and_many_writes(self):
        # Enough writes between crashes to cross any small reserved range.
        highest = 0
        for i, n in enumerate((5000, 3, 20000, 1)):
            r = self.start()
            versions = self.write(r, n)
            self.assertGreater(versions[0], highest, "restart %d reused a version" % i)
            highest = versions[-1]
            r.close()
            if i % 2:
                self.server.stop(remove_dir=False)
            else:
                self.server.kill9()
        r = self.start()
        self.assertResumesAbove(r, highest, "alternating kill -9 and clean restarts")
        r.close()
        self.server.stop(remove_dir=False)


if __name__ == "__main__":
    harness.main()
