#!/usr/bin/env python3
"""Blocking pops, black box: the real binary, real clients on separate
connections. Checks what Redis guarantees: a waiter is served when another
client (or a MULTI/EXEC, or a push through another node of a cluster) makes
its key ready; waiters on one key are served first come, first served; a
timeout replies null and 0 waits forever; CLIENT UNBLOCK; INFO
blocked_clients and CLIENT LIST flags=b; a blocked client does not stop the
loop; a disconnect while blocked leaks nothing; inside MULTI a blocking
command does not block."""

import threading
import time
import unittest

import redis

import cluster_harness
import harness


class Waiter:
    """A blocking command on its own connection, run in a thread."""

    def __init__(self, port, *command, host="127.0.0.1"):
        self.client = redis.Redis(host=host, port=port, socket_timeout=30)
        self.client_id = self.client.client_id()
        self.result = None
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(command,), daemon=True)
        self.thread.start()

    def _run(self, command):
        try:
            self.result = self.client.execute_command(*command)
        except redis.ResponseError as e:
            self.error = e

    def join(self, timeout=10):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the blocking command never returned"
        return self.result


def wait_blocked(r, count, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if r.info("clients")["blocked_clients"] == count:
            return
        time.sleep(0.01)
    raise AssertionError("blocked_clients stayed %s, wanted %s"
                         % (r.info("clients")["blocked_clients"], count))


class Blocking(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.start_server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def setUp(self):
        self.r = redis.Redis(port=self.srv.port, socket_timeout=10)
        self.r.flushall()
        wait_blocked(self.r, 0)

    def test_push_wakes_waiters_first_come_first_served(self):
        first = Waiter(self.srv.port, "BLPOP", "q", "other", 0)
        wait_blocked(self.r, 1)
        second = Waiter(self.srv.port, "BRPOP", "q", 0)
        wait_blocked(self.r, 2)
        listed = [line for line in self.r.execute_command("CLIENT", "LIST").decode().splitlines()
                  if " flags=b " in line]
        self.assertEqual(sorted(line.split(" cmd=")[1].split()[0] for line in listed),
                         ["blpop", "brpop"])
        self.assertEqual(self.r.rpush("q", "a", "b", "c"), 3)
        self.assertEqual(list(first.join()), [b"q", b"a"])
        self.assertEqual(list(second.join()), [b"q", b"c"])
        self.assertEqual(self.r.lrange("q", 0, -1), [b"b"])
        wait_blocked(self.r, 0)

    def test_timeout_replies_null_in_both_protocols(self):
        started = time.monotonic()
        w = Waiter(self.srv.port, "BLPOP", "missing", "0.2")
        self.assertIsNone(w.join())
        self.assertGreaterEqual(time.monotonic() - started, 0.19)
        raw = harness.RawConnection(self.srv.port)
        try:
            # Raw bytes: a timeout is Redis's null array, whatever the command.
            self.assertEqual(raw.call("BLMOVE", "a", "b", "LEFT", "RIGHT", "0.05"), b"*-1\r\n")
            self.assertEqual(raw.call("HELLO", "3")[:1], b"%")
            self.assertEqual(raw.call("BLMPOP", "0.05", "1", "a", "LEFT"), b"_\r\n")
        finally:
            raw.close()

    def test_bad_timeouts_are_errors_not_waits(self):
        for timeout, text in (("-1", "timeout is negative"),
                              ("abc", "timeout is not a float or out of range")):
            with self.assertRaisesRegex(redis.ResponseError, text):
                self.r.execute_command("BLPOP", "k", timeout)

    def test_wrong_type_replies_at_once(self):
        self.r.set("s", "v")
        with self.assertRaisesRegex(redis.ResponseError, "WRONGTYPE"):
            self.r.execute_command("BLPOP", "nothing", "s", 0)

    def test_multi_exec_readies_a_waiter_and_never_blocks_itself(self):
        w = Waiter(self.srv.port, "BLMOVE", "src", "dst", "LEFT", "RIGHT", 0)
        wait_blocked(self.r, 1)
        pipe = self.r.pipeline(transaction=True)
        pipe.rpush("src", "x")
        pipe.execute_command("BLPOP", "empty", 0)  # inside MULTI: null at once
        self.assertEqual(pipe.execute(), [1, None])
        self.assertEqual(w.join(), b"x")
        self.assertEqual(self.r.lrange("dst", 0, -1), [b"x"])

    def test_client_unblock(self):
        w = Waiter(self.srv.port, "BLPOP", "k", 0)
        wait_blocked(self.r, 1)
        self.assertEqual(self.r.execute_command("CLIENT", "UNBLOCK", w.client_id), 1)
        self.assertIsNone(w.join())
        w = Waiter(self.srv.port, "BLPOP", "k", 0)
        wait_blocked(self.r, 1)
        self.assertEqual(self.r.execute_command("CLIENT", "UNBLOCK", w.client_id, "ERROR"), 1)
        w.join()
        self.assertIn("UNBLOCKED", str(w.error))
        self.assertEqual(self.r.execute_command("CLIENT", "UNBLOCK", w.client_id), 0)

    def test_a_blocked_client_does_not_stop_the_loop_and_a_disconnect_leaks_nothing(self):
        waiters = [harness.RawConnection(self.srv.port) for _ in range(50)]
        for i, raw in enumerate(waiters):
            raw.send(harness.encode_command("BLPOP", "k%d" % i, 0))
        wait_blocked(self.r, 50)
        for i in range(200):
            self.r.set("x%d" % i, i)  # everyone else is served meanwhile
        for raw in waiters:
            raw.close()
        wait_blocked(self.r, 0)
        self.r.rpush("k0", "v")  # nobody waits any more: the element stays
        time.sleep(0.05)
        self.assertEqual(self.r.llen("k0"), 1)

    def test_pipelined_commands_after_a_blocking_one_wait_for_it(self):
        raw = harness.RawConnection(self.srv.port)
        try:
            raw.send(harness.encode_command("BLPOP", "p", 0) + harness.encode_command("PING"))
            wait_blocked(self.r, 1)
            self.r.rpush("p", "v")
            self.assertEqual(raw.read_reply(), b"*2\r\n$1\r\np\r\n$1\r\nv\r\n")
            self.assertEqual(raw.read_reply(), b"+PONG\r\n")
        finally:
            raw.close()


class BlockingInACluster(unittest.TestCase):
    def test_a_push_through_another_node_wakes_the_waiter(self):
        cluster = cluster_harness.Cluster(3, ["--peer-timeout", "400"])
        try:
            a, b = cluster.nodes[0], cluster.nodes[1]
            w = Waiter(a.port, "BRPOP", "jobs", 10, host=a.addr)
            wait_blocked(a.client(), 1)
            b.client().lpush("jobs", "job-1")
            self.assertEqual(list(w.join()), [b"jobs", b"job-1"])
            cluster.wait_converged()
            for node in cluster.nodes:
                self.assertEqual(node.client().exists("jobs"), 0)
        finally:
            cluster.close()


if __name__ == "__main__":
    harness.main()
