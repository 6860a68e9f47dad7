#!/usr/bin/python3
"""Pub/sub against a real redis-server (Debian's 7.0.15) as the spec:
SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE
PUBLISH SPUBLISH and PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARDCHANNELS/
SHARDNUMSUB/HELP.

Each scenario runs the same steps on both servers, over several raw
connections, and compares every reply and every message frame byte for byte,
in RESP2 (subscribed mode: only the subscription commands, PING, QUIT and
RESET run) and in RESP3 (messages are push frames beside normal replies).
What Redis leaves to chance is compared as a set: PUBSUB CHANNELS order.

Also checked on causalkv alone, with Redis's documented behaviour as the
reference: a subscriber that stops reading is cut off by the pubsub class
of client-output-buffer-limit (and the server's memory does not follow the
messages), a disconnect or RESET drops every subscription, CLIENT LIST's
flags=P and sub/psub/ssub, INFO's pubsub_* counters, and redis-py's PubSub
as a real client.

CAUSALKV_TEST_SUBJECT=redis-server runs the suite with a second redis-server
in causalkv's place, which validates the tests themselves.
"""

import socket
import time
import unittest

import redis

import harness
from harness import RawConnection, encode_command, parse_reply


def sorted_array(raw):
    """A RESP array's elements as a sorted list of raw element bytes."""
    elements = []
    head_end = raw.index(b"\r\n") + 2
    pos = head_end
    while pos < len(raw):
        _, end = parse_reply(raw, pos)
        elements.append(bytes(raw[pos:end]))
        pos = end
    return raw[:head_end], sorted(elements)


class PubSubOracle(harness.OracleCase):
    def run_both(self, scenario):
        logs = []
        for server in (self.oracle, self.subject):
            with RawConnection(server.port) as admin:
                admin.call("FLUSHALL")
            session = harness.Session(server.port)
            try:
                scenario(session)
            finally:
                session.close()
            logs.append(session.log)
            self.wait_no_subscribers(server.port)
        expected, actual = logs
        for i, (want, got) in enumerate(zip(expected, actual)):
            self.assertEqual(want, got, "step %d differs" % i)
        self.assertEqual(len(expected), len(actual))

    def wait_no_subscribers(self, port):
        """The sessions' connections are closed: every server forgets them."""
        deadline = time.monotonic() + 5
        with RawConnection(port) as c:
            while time.monotonic() < deadline:
                if c.call("PUBSUB", "NUMPAT") == b":0\r\n" and \
                        c.call("PUBSUB", "CHANNELS") == b"*0\r\n" and \
                        c.call("PUBSUB", "SHARDCHANNELS") == b"*0\r\n":
                    return
                time.sleep(0.01)
        self.fail("subscriptions outlived their connections on port %d" % port)

    def test_resp2_subscribed_mode(self):
        def scenario(s):
            s.call("sub", "SUBSCRIBE", "a", "b", replies=2)
            s.call("sub", "GET", "x")
            s.call("sub", "SET", "x", "1")
            s.call("sub", "PUBLISH", "a", "m")
            s.call("sub", "HELLO", "3")
            s.call("sub", "PING")
            s.call("sub", "PING", "hi")
            s.call("sub", "SUBSCRIBE", "a")  # already: same reply, no second entry
            s.call("sub", "PSUBSCRIBE", "n*", "h?llo", replies=2)
            s.call("pub", "PUBLISH", "a", "hello")
            s.read("sub")
            s.call("pub", "PUBLISH", "news", "")
            s.read("sub")
            s.call("pub", "PUBLISH", "hello", "bin\x00\r\nary")
            s.read("sub")
            s.call("pub", "PUBLISH", "nobody", "x")
            s.call("pub", "PUBSUB", "NUMSUB", "a", "b", "c")
            s.call("pub", "PUBSUB", "NUMSUB")
            s.call("pub", "PUBSUB", "NUMPAT")
            s.call("pub", "PUBSUB", "CHANNELS", transform=sorted_array)
            s.call("pub", "PUBSUB", "CHANNELS", "[a]")
            s.call("pub", "PUBSUB", "CHANNELS", "zzz*")
            s.call("sub", "UNSUBSCRIBE", "a")
            s.call("sub", "UNSUBSCRIBE", "never")
            s.call("sub", "UNSUBSCRIBE")
            s.call("sub", "GET", "x")  # still subscribed to patterns
            s.call("sub", "PUNSUBSCRIBE", "h?llo")
            s.call("sub", "PUNSUBSCRIBE")
            s.call("sub", "PUNSUBSCRIBE")
            s.call("sub", "UNSUBSCRIBE")
            s.call("sub", "SUNSUBSCRIBE")
            s.call("sub", "GET", "x")  # out of subscribed mode
            s.call("sub", "PING")
        self.run_both(scenario)

    def test_channel_and_pattern_both_deliver(self):
        def scenario(s):
            s.call("sub", "SUBSCRIBE", "news.art")
            s.call("sub", "PSUBSCRIBE", "news.*", "*", replies=2)
            s.call("other", "PSUBSCRIBE", "news.[ab]rt")
            s.call("pub", "PUBLISH", "news.art", "picture")
            s.read("sub", 3, sort_frames=True)
            s.read("other")
            s.call("pub", "PUBLISH", "sports", "goal")
            s.read("sub")
        self.run_both(scenario)

    def test_resp3_push_frames(self):
        def scenario(s):
            s.call("sub", "HELLO", "3", replies=1)
            s.log.pop()  # HELLO's map names each server's version and id
            s.call("sub", "SUBSCRIBE", "c")
            s.call("sub", "GET", "c")  # normal commands run in RESP3
            s.call("sub", "SET", "c", "1")
            # Redis 7.2 replies first and then pushes the message; the 7.0
            # oracle pushes first: compared as a pair here, the 7.2 order is
            # checked in PubSubBehaviour.
            s.call("sub", "PUBLISH", "c", "to-self", replies=2, sort_replies=True)
            s.call("pub", "PUBLISH", "c", "from-other")
            s.read("sub")
            s.call("sub", "PING")
            s.call("sub", "UNSUBSCRIBE", "x")
            s.call("sub", "PSUBSCRIBE", "c*")
            s.call("pub", "PUBLISH", "c", "both")
            s.read("sub", 2)
            s.call("sub", "PUNSUBSCRIBE")
            s.call("sub", "UNSUBSCRIBE")
            s.call("sub", "UNSUBSCRIBE")
            s.call("sub", "SSUBSCRIBE", "s1", "s2", replies=2)
            s.call("pub", "SPUBLISH", "s1", "shard")
            s.read("sub")
            s.call("sub", "SUNSUBSCRIBE", "s2")
            s.call("sub", "SUNSUBSCRIBE")
        self.run_both(scenario)

    def test_shard_channels(self):
        def scenario(s):
            s.call("sub", "SSUBSCRIBE", "{u1}feed", "plain", replies=2)
            s.call("sub", "SUBSCRIBE", "plain")  # its own count, apart from shard channels
            s.call("psub", "PSUBSCRIBE", "*")
            s.call("pub", "SPUBLISH", "plain", "shard-msg")
            s.read("sub")
            s.call("pub", "PUBLISH", "plain", "plain-msg")
            s.read("sub")
            s.read("psub")
            s.call("pub", "PUBSUB", "SHARDCHANNELS", transform=sorted_array)
            s.call("pub", "PUBSUB", "SHARDCHANNELS", "{u1}*")
            s.call("pub", "PUBSUB", "SHARDNUMSUB", "plain", "{u1}feed", "none")
            s.call("pub", "PUBSUB", "NUMSUB", "plain")
            s.call("pub", "SPUBLISH", "none", "x")
            s.call("sub", "SUNSUBSCRIBE", "plain")
            s.call("sub", "SUNSUBSCRIBE", replies=1)
            s.call("sub", "SUNSUBSCRIBE")
            s.call("sub", "UNSUBSCRIBE")
        self.run_both(scenario)

    def test_errors_and_help(self):
        def scenario(s):
            s.call("c", "SUBSCRIBE")
            s.call("c", "PSUBSCRIBE")
            s.call("c", "SSUBSCRIBE")
            s.call("c", "PUBLISH", "a")
            s.call("c", "PUBLISH", "a", "b", "c")
            s.call("c", "SPUBLISH", "a")
            s.call("c", "PUBSUB")
            s.call("c", "PUBSUB", "FOO")
            s.call("c", "PUBSUB", "CHANNELS", "a", "b")
            s.call("c", "PUBSUB", "SHARDCHANNELS", "a", "b")
            s.call("c", "PUBSUB", "NUMPAT", "x")
            s.call("c", "PUBSUB", "HELP")
            s.call("c", "PUBSUB", "help", "x")
            s.call("c", "MULTI")
            s.call("c", "PUBLISH", "a", "b")
            s.call("c", "PUBSUB", "NUMSUB", "a")
            s.call("c", "EXEC")
        self.run_both(scenario)

    def test_reset_and_disconnect_drop_subscriptions(self):
        def scenario(s):
            s.call("sub", "SUBSCRIBE", "a")
            s.call("sub", "PSUBSCRIBE", "p*")
            s.call("sub", "SSUBSCRIBE", "s")
            s.call("sub", "RESET")
            s.call("sub", "GET", "k")
            s.call("pub", "PUBSUB", "NUMSUB", "a")
            s.call("pub", "PUBSUB", "NUMPAT")
            s.call("pub", "PUBLISH", "a", "nobody")
            s.call("gone", "SUBSCRIBE", "d")
            s.conns.pop("gone").close()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                with RawConnection(s.port) as c:
                    if c.call("PUBSUB", "NUMSUB", "d") == b"*2\r\n$1\r\nd\r\n:0\r\n":
                        break
                time.sleep(0.01)
            s.call("pub", "PUBSUB", "NUMSUB", "d")
        self.run_both(scenario)


class PubSubBehaviour(unittest.TestCase):
    """causalkv alone (or a second redis-server as the subject)."""

    @classmethod
    def setUpClass(cls):
        cls.srv = harness.start_subject()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_client_list_and_info(self):
        r = redis.Redis(port=self.srv.port)
        with RawConnection(self.srv.port) as sub:
            sub.call("CLIENT", "SETNAME", "listener")
            sub.send(encode_command("SUBSCRIBE", "x", "y"))
            sub.read_reply()
            sub.read_reply()
            sub.call("PSUBSCRIBE", "z*")
            sub.call("SSUBSCRIBE", "s")
            line = [c for c in r.client_list() if c["name"] == "listener"][0]
            self.assertIn("P", line["flags"])
            self.assertEqual((line["sub"], line["psub"], line["ssub"]), ("2", "1", "1"))
            stats = r.info("stats")
            self.assertEqual(stats["pubsub_channels"], 2)
            self.assertEqual(stats["pubsub_patterns"], 1)
            self.assertEqual(stats["pubsubshard_channels"], 1)
            # CLIENT LIST TYPE pubsub lists it.
            listed = r.execute_command("CLIENT", "LIST", "TYPE", "pubsub")
            self.assertIn(b"name=listener", listed if isinstance(listed, bytes)
                          else str(listed).encode())
        deadline = time.monotonic() + 5
        while r.info("stats")["pubsub_channels"] and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(r.info("stats")["pubsub_patterns"], 0)

    def test_slow_subscriber_is_cut_off(self):
        """client-output-buffer-limit pubsub: a subscriber that never reads is
        disconnected once its pending messages pass the hard limit, the
        publisher is not slowed, and memory does not keep the messages."""
        r = redis.Redis(port=self.srv.port)
        r.config_set("client-output-buffer-limit", "pubsub 1mb 512kb 60")
        try:
            # Redis 7.0 has no such counter (7.2 has): then the closed
            # connection alone shows the cut.
            def disconnections():
                return r.info("stats").get("client_output_buffer_limit_disconnections", 0)
            before = disconnections()
            slow = socket.socket()
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.connect(("127.0.0.1", self.srv.port))
            slow.sendall(encode_command("SUBSCRIBE", "flood"))
            time.sleep(0.2)
            payload = b"x" * 10000
            pipe = r.pipeline(transaction=False)
            for _ in range(1000):  # 10 MB, ten times the hard limit
                pipe.publish("flood", payload)
            results = pipe.execute()
            self.assertEqual(results[0], 1)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and r.pubsub_numsub("flood")[0][1] != 0:
                time.sleep(0.05)
            if not harness.redis_as_subject():
                self.assertEqual(disconnections(), before + 1)
            self.assertEqual(r.pubsub_numsub("flood"), [(b"flood", 0)])
            self.assertEqual(r.publish("flood", "after"), 0)
            # The socket is closed by the server: reading drains to EOF.
            slow.settimeout(10)
            total = 0
            while True:
                chunk = slow.recv(1 << 16)
                if not chunk:
                    break
                total += len(chunk)
            self.assertLess(total, 10_000_000)
            slow.close()
            if not harness.redis_as_subject():
                mem = r.info("memory")["used_memory"]
                self.assertLess(mem, 64 << 20, "the messages stayed in memory")
        finally:
            r.config_set("client-output-buffer-limit", "pubsub 32mb 8mb 60")

    def test_redis_py_pubsub(self):
        r = redis.Redis(port=self.srv.port)
        p = r.pubsub()
        p.subscribe("jobs")
        p.psubscribe("events.*")
        for _ in range(2):
            self.assertIn(p.get_message(timeout=5)["type"], ("subscribe", "psubscribe"))
        self.assertEqual(r.publish("jobs", "j1"), 1)
        self.assertEqual(r.publish("events.login", "alice"), 1)
        got = []
        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            m = p.get_message(timeout=1)
            if m is not None:
                got.append((m["type"], m["channel"], m["data"]))
        self.assertEqual(got, [("message", b"jobs", b"j1"),
                               ("pmessage", b"events.login", b"alice")])
        # The thread runner delivers to handlers, as RQ's worker uses it.
        seen = []
        p2 = r.pubsub()
        p2.subscribe(**{"cmd": lambda m: seen.append(m["data"])})
        thread = p2.run_in_thread(sleep_time=0.01, daemon=True)
        try:
            deadline = time.monotonic() + 5
            while r.pubsub_numsub("cmd")[0][1] == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            r.publish("cmd", "stop")
            while not seen and time.monotonic() < deadline:
                time.sleep(0.01)
            self.assertEqual(seen, [b"stop"])
        finally:
            thread.stop()
            thread.join(5)
            p.close()

    def test_publish_to_self_replies_first(self):
        """Redis 7.2: a RESP3 client subscribed to the channel it publishes to
        gets the PUBLISH reply, then the message; inside MULTI the message
        follows EXEC's whole reply, never inside it."""
        if harness.redis_as_subject():
            self.skipTest("the 7.0 redis-server pushes the message first")
        with RawConnection(self.srv.port) as c:
            c.call("HELLO", "3")
            c.call("SUBSCRIBE", "self")
            message = b">3\r\n$7\r\nmessage\r\n$4\r\nself\r\n$2\r\nhi\r\n"
            self.assertEqual(c.call("PUBLISH", "self", "hi"), b":1\r\n")
            self.assertEqual(c.read_reply(), message)
            c.call("MULTI")
            c.call("PUBLISH", "self", "hi")
            c.call("PING")
            self.assertEqual(c.call("EXEC"), b"*2\r\n:1\r\n+PONG\r\n")
            self.assertEqual(c.read_reply(), message)
            self.assertEqual(c.call("PING"), b"+PONG\r\n")

    def test_pipelined_publish_order(self):
        """Messages reach a subscriber in the order they were published."""
        with RawConnection(self.srv.port) as sub, RawConnection(self.srv.port) as pub:
            sub.call("SUBSCRIBE", "seq")
            pub.send(b"".join(encode_command("PUBLISH", "seq", str(i)) for i in range(500)))
            for _ in range(500):
                self.assertEqual(pub.read_reply(), b":1\r\n")
            for i in range(500):
                frame = sub.read_reply()
                self.assertTrue(frame.endswith(b"$%d\r\n%d\r\n" % (len(str(i)), i)), frame)


if __name__ == "__main__":
    harness.main()
