#!/usr/bin/python3
"""MULTI / EXEC / DISCARD / WATCH / UNWATCH, CLIENT REPLY and RESET.

Where Redis is the spec the replies are compared byte for byte with a real
redis-server; the versioned commands' effect on WATCH (VPUT/VDEL are writes
like any other) is checked against causalkv alone, and redis-py's own
transaction helpers (pipeline(transaction=True), Redis.transaction with
WATCH) are exercised through the library.
"""

import threading
import time
import unittest

import redis

import harness
from harness import RawConnection
from test_compat import CompatTestCase


class TransactionCompat(CompatTestCase):
    def test_multi_exec_replies_in_order(self):
        self.same("SET", "n", "1")
        self.same("MULTI")
        self.same("INCR", "n")
        self.same("GET", "n")
        self.same("SET", "s", "v", "GET")
        self.same("EXEC")
        self.same("GET", "n")

    def test_empty_transaction(self):
        self.same("MULTI")
        self.same("EXEC")

    def test_queue_time_errors_abort_exec(self):
        self.same("MULTI")
        self.same("SET", "a", "1")
        self.same("NOSUCHCOMMAND", "x")
        self.same("GET")  # wrong arity
        self.same("EXEC")  # -EXECABORT
        self.same("GET", "a")  # nothing ran
        self.same("PING")  # connection still usable, MULTI state gone

    def test_runtime_errors_are_per_command(self):
        self.same("SET", "s", "abc")
        self.same("MULTI")
        self.same("INCR", "s")
        self.same("SET", "t", "1")
        self.same("EXPIRE", "t", "notanumber")
        self.same("EXEC")
        self.same("GET", "t")

    def test_control_errors(self):
        self.same("EXEC")
        self.same("DISCARD")
        self.same("MULTI")
        self.same("MULTI")  # nested: error, transaction continues
        self.same("WATCH", "k")  # not allowed inside MULTI
        self.same("SET", "k", "1")
        self.same("EXEC")
        self.same("GET", "k")

    def test_discard(self):
        self.same("MULTI")
        self.same("SET", "k", "1")
        self.same("DISCARD")
        self.same("GET", "k")
        self.same("EXEC")

    def test_unwatch_inside_multi_is_queued(self):
        self.same("WATCH", "k")
        self.same("MULTI")
        self.same("UNWATCH")
        self.same("EXEC")

    def _other_connections(self):
        oc2, sc2 = RawConnection(self.oracle.port), RawConnection(self.server.port)
        self.addCleanup(oc2.close)
        self.addCleanup(sc2.close)
        return oc2, sc2

    def test_watch_aborts_when_another_client_writes(self):
        oc2, sc2 = self._other_connections()
        self.same("SET", "k", "1")
        self.same("WATCH", "k")
        for c in (oc2, sc2):
            self.assertEqual(c.call("SET", "k", "2"), b"+OK\r\n")
        self.same("MULTI")
        self.same("SET", "k", "3")
        self.same("EXEC")  # null array: aborted
        self.same("GET", "k")

    def test_watch_aborts_on_delete_expire_and_flushall(self):
        oc2, sc2 = self._other_connections()
        for other in (("DEL", "k"), ("EXPIRE", "k", "100"), ("FLUSHALL",)):
            with self.subTest(other=other):
                self.same("SET", "k", "1")
                self.same("WATCH", "k")
                for c in (oc2, sc2):
                    c.call(*other)
                self.same("MULTI")
                self.same("SET", "x", "1")
                self.same("EXEC")
                self.same("EXISTS", "x")

    def test_watch_aborts_when_a_ttl_is_changed_and_changed_back(self):
        # The key ends as it was watched (same value, no TTL), yet it was
        # modified, so Redis aborts; found by the differential test.
        oc2, sc2 = self._other_connections()
        changes = ((("EXPIRE", "k", "1000"), ("PERSIST", "k")),
                   (("GETEX", "k", "PX", "5000"), ("GETEX", "k", "PERSIST")),
                   (("PEXPIREAT", "k", "99999999999999"), ("PERSIST", "k")))
        for change in changes:
            with self.subTest(change=change):
                self.same("SET", "k", "1")
                self.same("WATCH", "k")
                for c in (oc2, sc2):
                    for command in change:
                        c.call(*command)
                self.same("TTL", "k")
                self.same("MULTI")
                self.same("SET", "x", "1")
                self.same("EXEC")  # null array: aborted
                self.same("EXISTS", "x")
        # Commands that change no TTL do not abort.
        self.same("SET", "k", "1")
        self.same("WATCH", "k")
        for c in (oc2, sc2):
            c.call("PERSIST", "k")
            c.call("EXPIRE", "k", "100", "XX")
            c.call("GETEX", "k")
        self.same("MULTI")
        self.same("SET", "x", "2")
        self.same("EXEC")

    def test_exec_with_arguments_aborts_and_forgets_watches(self):
        oc2, sc2 = self._other_connections()
        self.same("SET", "k", "1")
        self.same("WATCH", "k")
        self.same("MULTI")
        self.same("SET", "x", "1")
        self.same("EXEC", "extra")  # EXECABORT: transaction discarded
        self.same("SET", "y", "1")  # runs at once, not queued
        self.same("EXEC")  # no MULTI any more
        for c in (oc2, sc2):
            c.call("SET", "k", "2")
        self.same("MULTI")
        self.same("SET", "z", "1")
        self.same("EXEC")  # the watch is gone: runs
        self.same("MGET", "x", "y", "z")
        self.same("EXEC", "extra")  # outside MULTI too

    def test_save_and_shutdown_are_refused_inside_multi(self):
        self.same("MULTI")
        self.same("SET", "a", "1")
        self.same("SAVE")
        self.same("SHUTDOWN", "NOSAVE")
        self.same("EXEC")  # EXECABORT
        self.same("GET", "a")

    def test_watch_aborts_when_the_key_expires(self):
        self.same("SET", "k", "1", "PX", "100")
        self.same("WATCH", "k")
        time.sleep(0.3)
        self.same("MULTI")
        self.same("SET", "x", "1")
        self.same("EXEC")

    def test_own_write_before_multi_aborts(self):
        self.same("SET", "k", "1")
        self.same("WATCH", "k")
        self.same("SET", "k", "2")
        self.same("MULTI")
        self.same("GET", "k")
        self.same("EXEC")

    def test_unchanged_watch_and_unwatch_let_exec_run(self):
        oc2, sc2 = self._other_connections()
        self.same("SET", "k", "1")
        self.same("WATCH", "k", "other")
        for c in (oc2, sc2):
            c.call("SET", "unrelated", "x")
            c.call("GET", "k")
        self.same("MULTI")
        self.same("INCR", "k")
        self.same("EXEC")
        self.same("WATCH", "k")
        self.same("UNWATCH")
        for c in (oc2, sc2):
            c.call("SET", "k", "5")
        self.same("MULTI")
        self.same("INCR", "k")
        self.same("EXEC")

    def test_exec_unwatches(self):
        oc2, sc2 = self._other_connections()
        self.same("WATCH", "k")
        self.same("MULTI")
        self.same("EXEC")
        for c in (oc2, sc2):
            c.call("SET", "k", "5")
        self.same("MULTI")
        self.same("GET", "k")
        self.same("EXEC")  # the earlier WATCH is gone

    def test_client_reply(self):
        self.same_raw(b"CLIENT REPLY SKIP\r\nSET a 1\r\nGET a\r\n", replies=1)
        self.same_raw(b"CLIENT REPLY OFF\r\nSET b 2\r\nGET b\r\nCLIENT REPLY ON\r\nGET b\r\n",
                      replies=2)

    def test_reset(self):
        self.same("SELECT", "3")
        self.same("SET", "in3", "x")
        self.same("MULTI")
        self.same("RESET")
        self.same("GET", "in3")  # back in db 0, not queued
        self.same("EXEC")

    def test_cluster_only_commands(self):
        self.same("READONLY")
        self.same("READWRITE")


class VersionedWritesAndWatch(unittest.TestCase):
    """VPUT and VDEL are modifications for WATCH, like any write."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.r = redis.Redis(port=self.server.port)
        self.other = redis.Redis(port=self.server.port)
        self.r.flushall()

    def tearDown(self):
        self.r.close()
        self.other.close()

    def watch_then(self, change):
        with self.r.pipeline() as p:
            p.watch("cart")
            change()
            p.multi()
            p.set("done", "1")
            try:
                p.execute()
                return True
            except redis.WatchError:
                return False

    def test_vput_and_vdel_abort_a_watcher(self):
        self.other.execute_command("VPUT", "cart", 0, "milk")  # 1
        self.assertFalse(self.watch_then(
            lambda: self.other.execute_command("VPUT", "cart", 0, "eggs")))  # 2
        self.other.execute_command("VPUT", "cart", 0, "ham")  # 3
        # VDEL that removes only the older siblings keeps the newest version
        # but changes the key: still a modification.
        self.assertFalse(self.watch_then(
            lambda: self.other.execute_command("VDEL", "cart", 1)))
        self.assertTrue(self.watch_then(lambda: self.other.execute_command("VGET", "cart")))
        self.assertEqual(self.r.get("done"), b"1")


class RedisPyTransactions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.r = redis.Redis(port=self.server.port)
        self.r.flushall()

    def tearDown(self):
        self.r.close()

    def test_pipeline_with_transaction(self):
        with self.r.pipeline(transaction=True) as p:
            p.set("a", 1).incr("a").get("a").mget("a", "missing")
            self.assertEqual(p.execute(), [True, 2, b"2", [b"2", None]])

    def test_transaction_error_inside_is_reported(self):
        self.r.set("s", "abc")
        with self.r.pipeline(transaction=True) as p:
            p.incr("s").set("t", 1)
            results = p.execute(raise_on_error=False)
        self.assertIsInstance(results[0], redis.ResponseError)
        self.assertEqual(results[1], True)

    def test_optimistic_increment_under_contention(self):
        # Four threads each add 1 fifty times with WATCH/MULTI/EXEC retries;
        # no increment may be lost.
        self.r.set("counter", 0)

        def worker():
            client = redis.Redis(port=self.server.port)
            try:
                for _ in range(50):
                    def add(pipe):
                        value = int(pipe.get("counter"))
                        pipe.multi()
                        pipe.set("counter", value + 1)
                    client.transaction(add, "counter")
            finally:
                client.close()

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        self.assertEqual(int(self.r.get("counter")), 200)


if __name__ == "__main__":
    harness.main()
